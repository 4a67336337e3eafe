//! `monitoring.level = "full"`: exporters where a component has no native Prometheus endpoint
//! (PostgreSQL and Aerospike sidecars, one kafka_exporter), a PodMonitor per component (a
//! ServiceMonitor for the API services, through metrics Services), and a
//! PrometheusRule whose latency thresholds are the profile's `monitoring.latency` (the platform
//! spec's latency table).

use crate::components::{Component, ComponentId};
use crate::kube::crd::{PrometheusRule, PrometheusRuleSpec, Rule, RuleGroup};
use crate::kube::{Bundle, Ctx, Object, k8s, scrape};

use crate::units::Duration;
use std::collections::BTreeMap;

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

/// Every component's scrape target and the PrometheusRule, with `full` monitoring.
pub fn apply(registry: &[&Component], ctx: &Ctx, bundle: &mut Bundle) {
    if !ctx.full_monitoring() {
        return;
    }
    for c in registry {
        if let Some(target) = (c.monitor)(ctx) {
            bundle.push(c.id.name(), target);
        }
    }
    let name = "audience-manager-alerts";
    bundle.push(
        ComponentId::Namespace.name(),
        Object::PrometheusRule(PrometheusRule::new(
            k8s::meta(name, ctx.ns, scrape::platform_labels(ctx, name)),
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
