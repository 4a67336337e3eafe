//! `monitoring.level = "full"`: exporters where a component has no native Prometheus endpoint
//! (PostgreSQL and Aerospike sidecars, one kafka_exporter), a PodMonitor per component (a
//! ServiceMonitor for the API services, through metrics Services), and a
//! PrometheusRule whose latency thresholds are the profile's `monitoring.latency` (the platform
//! spec's latency table).

use super::crd::{
    Endpoint, PodMonitor, PodMonitorSpec, PrometheusRule, PrometheusRuleSpec, Rule, RuleGroup,
    ServiceMonitor, ServiceMonitorSpec,
};
use super::k8s::{self, PodParts};
use super::{Ctx, image_tag};
use crate::bundle::{Bundle, Object};
use crate::components::{aerospike, api, flink, kafka, postgres};
use crate::profile::{Medium, MonitoringLevel};
use crate::units::Duration;
use k8s_openapi::api::core::v1::Container;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

pub const POSTGRES_EXPORTER_PORT: i32 = 9187;
pub const AEROSPIKE_EXPORTER_PORT: i32 = 9145;
pub const KAFKA_EXPORTER_PORT: i32 = 9308;
pub const KAFKA_EXPORTER: &str = "kafka-exporter";
/// `app.kubernetes.io/component` of the API services' metrics Services (ServiceMonitor).
pub const API_METRICS_COMPONENT: &str = "api-metrics";
/// kafka_exporter's image runs as nobody.
const NOBODY: i64 = 65534;
const SCRAPE_INTERVAL: &str = "30s";
const SCRAPE_TIMEOUT: &str = "10s";

pub fn full(ctx: &Ctx) -> bool {
    ctx.profile.monitoring.level == MonitoringLevel::Full
}

fn exporter(name: &str, image: &str, port: i32) -> Container {
    let mut c = k8s::container(name, image, k8s::helper_resources(), true);
    c.ports = Some(vec![k8s::container_port("metrics", port)]);
    c.readiness_probe = Some(k8s::http_probe("/metrics", "metrics", 5, 15, 3));
    c.liveness_probe = Some(k8s::http_probe("/metrics", "metrics", 30, 30, 6));
    c
}

/// postgres_exporter beside PostgreSQL: loopback, the same password file as the server.
pub fn postgres_exporter(ctx: &Ctx, secrets_mount: &str) -> Container {
    let pg = &ctx.profile.postgres;
    let mut c = exporter(
        "postgres-exporter",
        &ctx.profile.monitoring.exporters.postgres,
        POSTGRES_EXPORTER_PORT,
    );
    c.env = Some(vec![
        k8s::env(
            "DATA_SOURCE_URI",
            format!(
                "127.0.0.1:{}/{}?sslmode=disable",
                postgres::PORT,
                pg.database
            ),
        ),
        k8s::env("DATA_SOURCE_USER", pg.user.as_str()),
        k8s::env("DATA_SOURCE_PASS_FILE", format!("{secrets_mount}/password")),
    ]);
    c.volume_mounts = Some(vec![k8s::mount("secrets", secrets_mount, true)]);
    c
}

/// The exporter's ape.toml: the node on loopback, metrics on its port.
pub fn aerospike_exporter_config() -> String {
    format!(
        "# Aerospike Prometheus exporter, rendered by amctl: this pod's node over loopback.\n\
         [Agent]\nbind = \":{AEROSPIKE_EXPORTER_PORT}\"\ntimeout = 10\nlog_level = \"info\"\n\n\
         [Aerospike]\ndb_host = \"127.0.0.1\"\ndb_port = {}\ntimeout = 5\n",
        aerospike::SERVICE_PORT
    )
}

/// The Aerospike exporter beside each node; config from `config_volume` (key `ape.toml`).
pub fn aerospike_exporter(ctx: &Ctx, config_volume: &str) -> Container {
    let mut c = exporter(
        "aerospike-exporter",
        &ctx.profile.monitoring.exporters.aerospike,
        AEROSPIKE_EXPORTER_PORT,
    );
    // The image's entrypoint writes its config into the image; ours is read-only and rendered.
    c.command = Some(vec![
        "/usr/bin/aerospike-prometheus-exporter".into(),
        "--config".into(),
        "/etc/aerospike-exporter/ape.toml".into(),
    ]);
    c.volume_mounts = Some(vec![k8s::mount(
        config_volume,
        "/etc/aerospike-exporter",
        true,
    )]);
    c
}

/// One kafka_exporter for the cluster: topics, partitions, under-replication, consumer lag.
pub fn kafka_exporter(ctx: &Ctx, bundle: &mut Bundle, tls_ca: Option<(&str, &str)>) {
    let labels = ctx.labels(
        KAFKA_EXPORTER,
        "monitoring",
        image_tag(&ctx.profile.monitoring.exporters.kafka),
    );
    bundle.push(
        kafka::NAME,
        ctx.service_account(KAFKA_EXPORTER, labels.clone(), false),
    );
    let mut c = exporter(
        KAFKA_EXPORTER,
        &ctx.profile.monitoring.exporters.kafka,
        KAFKA_EXPORTER_PORT,
    );
    let mut args = vec![
        format!("--kafka.server={}", kafka::bootstrap(ctx)),
        format!("--web.listen-address=:{KAFKA_EXPORTER_PORT}"),
    ];
    let mut volumes = k8s::volumes([k8s::empty_dir("tmp", Medium::Disk, "16Mi")]);
    let mut mounts = vec![k8s::mount("tmp", "/tmp", false)];
    if let Some((volume, dir)) = tls_ca {
        args.push("--tls.enabled".into());
        args.push(format!("--tls.ca-file={dir}/ca.crt"));
        volumes.push(super::tls::ca_volume(volume, kafka::TLS_SECRET));
        mounts.push(k8s::mount(volume, dir, true));
    }
    c.args = Some(args);
    c.volume_mounts = Some(mounts);
    let template = k8s::pod_template(PodParts {
        labels: labels.clone(),
        annotations: BTreeMap::new(),
        service_account: KAFKA_EXPORTER.into(),
        security: k8s::pod_security(NOBODY, NOBODY),
        init_containers: vec![],
        containers: vec![c],
        volumes,
        termination_grace_seconds: None,
    });
    bundle.push(
        kafka::NAME,
        Object::Deployment(k8s::deployment(
            k8s::meta(KAFKA_EXPORTER, ctx.ns, labels),
            ctx.selector(KAFKA_EXPORTER),
            Some(1),
            template,
        )),
    );
}

/// The pods each PodMonitor scrapes, per component: all on their `metrics` port, `/metrics`
/// (the API services go through a ServiceMonitor instead).
fn pod_targets(ctx: &Ctx) -> [(&'static str, Vec<&'static str>); 4] {
    let mut pg = vec![postgres::NAME];
    if ctx.profile.postgres.replicas > 1 {
        pg.push(postgres::REPLICA);
    }
    [
        (postgres::NAME, pg),
        (aerospike::NAME, vec![aerospike::NAME]),
        (kafka::NAME, vec![KAFKA_EXPORTER]),
        (flink::NAME, vec![flink::JM, flink::TM]),
    ]
}

/// Seconds as PromQL reads them: `0.2` for 200ms.
fn seconds(d: &Duration) -> String {
    let whole = d.millis / 1000;
    let frac = d.millis % 1000;
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{:03}", frac)
            .trim_end_matches('0')
            .to_string()
    }
}

fn rule(alert: &str, expr: String, for_: &str, severity: &str, summary: String) -> Rule {
    Rule {
        alert: alert.to_string(),
        expr,
        for_: for_.to_string(),
        labels: BTreeMap::from([("severity".to_string(), severity.to_string())]),
        annotations: BTreeMap::from([("summary".to_string(), summary)]),
    }
}

/// A latency alert: a warning after 10 minutes, its threshold traced to the profile key.
fn latency_rule(alert: &str, expr: String, summary: String, key: &str) -> Rule {
    let mut r = rule(alert, expr, "10m", "warning", summary);
    r.annotations.insert(
        "description".to_string(),
        format!("Threshold from the amctl profile key {key} (the platform spec's latency table)."),
    );
    r
}

/// The alert rules: one per row of the spec's latency table, plus the failures that precede
/// data loss (PostgreSQL down, a standby falling behind, under-replicated Kafka partitions).
pub fn rules(ctx: &Ctx) -> Vec<RuleGroup> {
    let l = &ctx.profile.monitoring.latency;
    let ns = ctx.ns;
    let latency = vec![
        latency_rule(
            "AudienceManagerApiResponseSlow",
            format!(
                "histogram_quantile(0.99, sum by (container, le) (rate(http_server_requests_seconds_bucket{{namespace=\"{ns}\", uri!~\"/actuator.*\"}}[5m]))) > {}",
                seconds(&l.api_response)
            ),
            format!(
                "p99 API response time of {{{{ $labels.container }}}} is above {}",
                l.api_response
            ),
            "monitoring.latency.api_response",
        ),
        latency_rule(
            "AudienceManagerEventProcessingSlow",
            format!(
                "max by (pod) (flink_taskmanager_job_task_operator_currentEmitEventTimeLag{{namespace=\"{ns}\"}}) > {}",
                l.event_processing.millis
            ),
            format!(
                "events reach the segment job more than {} after they happened",
                l.event_processing
            ),
            "monitoring.latency.event_processing",
        ),
        latency_rule(
            "AudienceManagerRuleEvaluationSlow",
            format!(
                "max by (pod) (flink_taskmanager_job_task_operator_ruleEvaluationLatency{{namespace=\"{ns}\", quantile=\"0.99\"}}) > {}",
                l.rule_evaluation.millis
            ),
            format!("p99 rule evaluation is above {}", l.rule_evaluation),
            "monitoring.latency.rule_evaluation",
        ),
        latency_rule(
            "AudienceManagerCacheAccessSlow",
            format!(
                "histogram_quantile(0.99, sum by (ns, le) (rate(aerospike_latencies_read_ms_bucket{{namespace=\"{ns}\"}}[5m]))) > {}",
                l.cache_access.millis
            ),
            format!(
                "p99 Aerospike read latency of namespace {{{{ $labels.ns }}}} is above {}",
                l.cache_access
            ),
            "monitoring.latency.cache_access",
        ),
        latency_rule(
            "AudienceManagerDatabaseQuerySlow",
            format!(
                "histogram_quantile(0.99, sum by (container, le) (rate(spring_data_repository_invocations_seconds_bucket{{namespace=\"{ns}\"}}[5m]))) > {}",
                seconds(&l.database_query)
            ),
            format!(
                "p99 database query time of {{{{ $labels.container }}}} is above {}",
                l.database_query
            ),
            "monitoring.latency.database_query",
        ),
    ];
    let mut health = vec![
        rule(
            "AudienceManagerPostgresDown",
            format!("pg_up{{namespace=\"{ns}\"}} == 0"),
            "2m",
            "critical",
            "PostgreSQL {{ $labels.pod }} does not answer its exporter".into(),
        ),
        rule(
            "AudienceManagerKafkaUnderReplicated",
            format!(
                "sum by (topic) (kafka_topic_partition_under_replicated_partition{{namespace=\"{ns}\"}}) > 0"
            ),
            "10m",
            "critical",
            "topic {{ $labels.topic }} has under-replicated partitions".into(),
        ),
    ];
    if ctx.profile.postgres.replicas > 1 {
        health.push(rule(
            "AudienceManagerPostgresReplicaLagging",
            format!("pg_replication_lag_seconds{{namespace=\"{ns}\"}} > 60"),
            "5m",
            "warning",
            "standby {{ $labels.pod }} is more than a minute behind the primary".into(),
        ));
    }
    vec![
        RuleGroup {
            name: "audience-manager.latency".into(),
            rules: latency,
        },
        RuleGroup {
            name: "audience-manager.health".into(),
            rules: health,
        },
    ]
}

/// PodMonitors and the PrometheusRule, with `full` monitoring.
pub fn apply(ctx: &Ctx, bundle: &mut Bundle) {
    if !full(ctx) {
        return;
    }
    let extra = &ctx.profile.monitoring.selector_labels;
    for (component, names) in pod_targets(ctx) {
        let mut labels = ctx.labels(component, "monitoring", "");
        labels.extend(extra.clone());
        let selector = ctx.workloads(&names);
        bundle.push(
            component,
            Object::PodMonitor(PodMonitor::new(
                k8s::meta(component, ctx.ns, labels),
                PodMonitorSpec {
                    selector,
                    pod_metrics_endpoints: vec![Endpoint {
                        port: "metrics".into(),
                        path: "/metrics".into(),
                        interval: SCRAPE_INTERVAL.into(),
                        scrape_timeout: SCRAPE_TIMEOUT.into(),
                    }],
                },
            )),
        );
    }
    // The API services through their metrics Services: one ServiceMonitor for all of them.
    if !ctx.profile.api.services.is_empty() {
        let mut labels = ctx.labels(api::COMPONENT, "monitoring", "");
        labels.extend(extra.clone());
        bundle.push(
            api::COMPONENT,
            Object::ServiceMonitor(ServiceMonitor::new(
                k8s::meta(api::COMPONENT, ctx.ns, labels),
                ServiceMonitorSpec {
                    selector: LabelSelector {
                        match_labels: Some(BTreeMap::from([
                            (
                                "app.kubernetes.io/component".to_string(),
                                API_METRICS_COMPONENT.to_string(),
                            ),
                            ("app.kubernetes.io/instance".to_string(), ctx.ns.to_string()),
                        ])),
                        ..Default::default()
                    },
                    endpoints: vec![Endpoint {
                        port: "management".into(),
                        path: "/actuator/prometheus".into(),
                        interval: SCRAPE_INTERVAL.into(),
                        scrape_timeout: SCRAPE_TIMEOUT.into(),
                    }],
                },
            )),
        );
    }
    let mut labels = ctx.labels("audience-manager-alerts", "monitoring", "");
    labels.extend(extra.clone());
    bundle.push(
        "namespace",
        Object::PrometheusRule(PrometheusRule::new(
            k8s::meta("audience-manager-alerts", ctx.ns, labels),
            PrometheusRuleSpec { groups: rules(ctx) },
        )),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_in_seconds() {
        let s = |t: &str| seconds(&Duration::parse(t).unwrap());
        assert_eq!(s("200ms"), "0.2");
        assert_eq!(s("5ms"), "0.005");
        assert_eq!(s("1000ms"), "1");
        assert_eq!(s("1500ms"), "1.5");
        assert_eq!(s("2s"), "2");
    }
}
