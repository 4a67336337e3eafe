//! The JVM API services: a Deployment, Service and Spring Boot application.yaml each, an
//! optional HorizontalPodAutoscaler each, and one Ingress in front of them.

use crate::components::{aerospike, kafka, postgres};
use crate::error::Error;
use crate::kube::k8s::{self, PodParts};
use crate::kube::{Bundle, Object};
use crate::kube::{Ctx, image_tag, tls};
use crate::profile::{ApiAuth, Backend, EffectiveApi, Medium, ServiceType};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use serde::Serialize;
use std::collections::BTreeMap;

pub(crate) const COMPONENT: &str = "api";
/// `app.kubernetes.io/component` of the API services' metrics Services (ServiceMonitor).
pub(crate) const METRICS_COMPONENT: &str = "api-metrics";
pub(crate) const HTTP_PORT: i32 = 8080;
pub(crate) const MANAGEMENT_PORT: i32 = 8081;
/// Where an API service's secrets are mounted as files (Spring Boot config tree).
const SECRETS_DIR: &str = "/etc/secrets";
const UID: i64 = 1000;
/// Where an API service finds the CA files of its backends, with TLS.
const TLS_DIR: &str = "/etc/tls";
pub(crate) const INGRESS_TLS_SECRET: &str = "api-ingress-tls";

#[derive(Serialize)]
struct AppContext<'a> {
    name: &'a str,
    namespace: &'a str,
    http_port: i32,
    management_port: i32,
    tomcat_max_threads: u32,
    postgres: Option<PgContext>,
    kafka: Option<KafkaContext<'a>>,
    aerospike: Option<AsContext>,
    basic_auth: bool,
    prometheus: bool,
    /// Latency histograms for the `full` monitoring alerts.
    histograms: bool,
}

#[derive(Serialize)]
struct PgContext {
    url: String,
    username: String,
    pool_size: u32,
}

#[derive(Serialize)]
struct KafkaContext<'a> {
    bootstrap: String,
    /// The CA file of the brokers' certificates, with TLS.
    ca_file: Option<String>,
    concurrency: u32,
    group_id: &'a str,
    topics: &'a [String],
}

#[derive(Serialize)]
struct AsContext {
    host: String,
    port: i32,
    tls_name: Option<&'static str>,
    ca_file: Option<String>,
    namespaces: Vec<AsNamespace>,
}

#[derive(Serialize)]
struct AsNamespace {
    name: String,
    sets: Vec<String>,
}

pub(crate) fn application_yaml(ctx: &Ctx, svc: &EffectiveApi) -> Result<String, Error> {
    let p = ctx.profile;
    let uses = |b: Backend| svc.uses.contains(&b);
    let as_tls = aerospike::tls_listener(p);
    ctx.template(
        "api/application.yaml.j2",
        AppContext {
            name: svc.name,
            namespace: ctx.ns,
            http_port: HTTP_PORT,
            management_port: MANAGEMENT_PORT,
            tomcat_max_threads: svc.tomcat_max_threads,
            postgres: uses(Backend::Postgres).then(|| PgContext {
                url: format!(
                    "jdbc:postgresql://{}:{}/{}{}",
                    ctx.dns(postgres::NAME),
                    postgres::PORT,
                    p.postgres.database,
                    if tls::enabled(ctx) {
                        // Verify the server's name against its certificate, not just encrypt.
                        format!("?sslmode=verify-full&sslrootcert={TLS_DIR}/postgres/ca.crt")
                    } else {
                        String::new()
                    }
                ),
                username: p.postgres.user.clone(),
                pool_size: svc.db_pool_size,
            }),
            kafka: uses(Backend::Kafka).then(|| KafkaContext {
                bootstrap: kafka::bootstrap(ctx),
                ca_file: tls::enabled(ctx).then(|| format!("{TLS_DIR}/kafka/ca.crt")),
                concurrency: svc.kafka_consumer_concurrency,
                group_id: svc.name,
                topics: svc.topics,
            }),
            aerospike: uses(Backend::Aerospike).then(|| AsContext {
                host: ctx.dns(aerospike::NAME),
                port: if as_tls {
                    aerospike::TLS_PORT
                } else {
                    aerospike::SERVICE_PORT
                },
                tls_name: as_tls.then_some(aerospike::TLS_NAME),
                ca_file: as_tls.then(|| format!("{TLS_DIR}/aerospike/ca.crt")),
                namespaces: p
                    .aerospike
                    .namespaces
                    .iter()
                    .map(|n| AsNamespace {
                        name: n.name.clone(),
                        sets: n.sets.clone(),
                    })
                    .collect(),
            }),
            basic_auth: p.security.api_auth == ApiAuth::Basic,
            prometheus: p.monitoring.level.metrics(),
            histograms: ctx.full_monitoring(),
        },
    )
}

pub fn render(ctx: &Ctx, bundle: &mut Bundle) -> Result<(), Error> {
    for svc in ctx.profile.api.effective() {
        render_service(ctx, &svc, bundle)?;
    }
    ingress(ctx, bundle);
    Ok(())
}

/// One service: ServiceAccount, ConfigMap, Service, Deployment and, when asked, its HPA.
fn render_service(ctx: &Ctx, svc: &EffectiveApi, bundle: &mut Bundle) -> Result<(), Error> {
    let ns = ctx.ns;
    let api = &ctx.profile.api;
    {
        let name = svc.name;
        let labels = ctx.labels(name, "api", image_tag(&svc.image));
        let selector = ctx.selector(name);
        bundle.push(COMPONENT, ctx.service_account(name, labels.clone(), false));

        let config_name = format!("{name}-config");
        let config = ctx.config_map(
            &config_name,
            labels.clone(),
            BTreeMap::from([("application.yaml".to_string(), application_yaml(ctx, svc)?)]),
        );
        let metrics = (ctx.profile.monitoring.level.metrics())
            .then_some((MANAGEMENT_PORT, "/actuator/prometheus"));
        let annotations = ctx.pod_annotations(&[&config], metrics);
        bundle.push(COMPONENT, Object::ConfigMap(config));

        let service_type = match api.service_type {
            ServiceType::ClusterIP => "ClusterIP",
            ServiceType::NodePort => "NodePort",
        };
        bundle.push(
            COMPONENT,
            Object::Service(k8s::service(
                k8s::meta(name, ns, labels.clone()),
                selector.clone(),
                vec![k8s::service_port("http", HTTP_PORT)],
                false,
                Some(service_type),
            )),
        );
        if ctx.full_monitoring() {
            // The actuator's port for the ServiceMonitor, on its own ClusterIP Service: never
            // on the client Service, which may be a NodePort.
            let mut m_labels = ctx.labels(name, METRICS_COMPONENT, image_tag(&svc.image));
            m_labels.insert("app.kubernetes.io/name".into(), format!("{name}-metrics"));
            bundle.push(
                COMPONENT,
                Object::Service(k8s::service(
                    k8s::meta(&format!("{name}-metrics"), ns, m_labels),
                    selector.clone(),
                    vec![k8s::service_port("management", MANAGEMENT_PORT)],
                    false,
                    Some("ClusterIP"),
                )),
            );
        }

        let mut c = k8s::container(name, &svc.image, k8s::resources(svc.resources), true);
        let mut env = vec![
            k8s::env("JAVA_OPTS", svc.java_opts),
            k8s::env(
                "SPRING_CONFIG_ADDITIONAL_LOCATION",
                format!("file:/etc/{name}/application.yaml"),
            ),
        ];
        // Secrets arrive as files: Spring Boot's config tree turns each file into a property, so
        // `${POSTGRES_PASSWORD}` in application.yaml resolves without an environment variable.
        let mut secret_items: Vec<(&str, &str, &str)> = Vec::new();
        if svc.uses.contains(&Backend::Postgres) {
            secret_items.push((
                &ctx.profile.postgres.password_secret,
                "password",
                "POSTGRES_PASSWORD",
            ));
        }
        if ctx.profile.security.api_auth == ApiAuth::Basic {
            let secret = ctx.profile.security.api_credentials_secret.as_str();
            secret_items.push((secret, "username", "API_USERNAME"));
            secret_items.push((secret, "password", "API_PASSWORD"));
        }
        if !secret_items.is_empty() {
            env.push(k8s::env(
                "SPRING_CONFIG_IMPORT",
                format!("optional:configtree:{SECRETS_DIR}/"),
            ));
        }
        c.env = Some(env);
        c.ports = Some(vec![
            k8s::container_port("http", HTTP_PORT),
            k8s::container_port("management", MANAGEMENT_PORT),
        ]);
        c.readiness_probe = Some(k8s::http_probe(
            "/actuator/health/readiness",
            "management",
            10,
            10,
            3,
        ));
        c.liveness_probe = Some(k8s::http_probe(
            "/actuator/health/liveness",
            "management",
            0,
            15,
            4,
        ));
        // Spring Boot start-up on a small CPU share takes a while; don't kill it meanwhile.
        c.startup_probe = Some(k8s::http_probe(
            "/actuator/health/liveness",
            "management",
            10,
            5,
            36,
        ));
        let mut mounts = vec![
            k8s::mount("config", &format!("/etc/{name}"), true),
            k8s::mount("tmp", "/tmp", false),
        ];
        let mut volumes = k8s::volumes([
            k8s::config_volume("config", &config_name, None),
            k8s::empty_dir("tmp", Medium::Disk, "256Mi"),
        ]);
        if !secret_items.is_empty() {
            mounts.push(k8s::mount("secrets", SECRETS_DIR, true));
            volumes.push(k8s::secret_files("secrets", &secret_items));
        }
        if tls::enabled(ctx) {
            // Only the CAs: the services verify PostgreSQL and Kafka, they hold no server keys.
            for (backend, vol, secret) in [
                (Backend::Postgres, "postgres-ca", postgres::TLS_SECRET),
                (Backend::Kafka, "kafka-ca", kafka::TLS_SECRET),
                (Backend::Aerospike, "aerospike-ca", aerospike::TLS_SECRET),
            ] {
                if backend == Backend::Aerospike && !aerospike::tls_listener(ctx.profile) {
                    continue;
                }
                if svc.uses.contains(&backend) {
                    let dir = format!("{TLS_DIR}/{}", vol.trim_end_matches("-ca"));
                    mounts.push(k8s::mount(vol, &dir, true));
                    volumes.push(tls::ca_volume(vol, secret));
                }
            }
        }
        c.volume_mounts = Some(mounts);
        let template = k8s::pod_template(PodParts {
            labels: labels.clone(),
            annotations,
            service_account: name.into(),
            security: k8s::pod_security(UID, UID),
            init_containers: vec![],
            containers: vec![c],
            volumes,
            termination_grace_seconds: Some(30),
        });
        // With an autoscaler the replica count is the HPA's: leaving it out of the Deployment
        // keeps every `kubectl apply` from resetting it.
        let replicas = svc.autoscaling.is_none().then_some(svc.replicas);
        bundle.push(
            COMPONENT,
            Object::Deployment(k8s::deployment(
                k8s::meta(name, ns, labels.clone()),
                selector,
                replicas,
                template,
            )),
        );

        if let Some(a) = svc.autoscaling {
            bundle.push(
                COMPONENT,
                Object::HorizontalPodAutoscaler(HorizontalPodAutoscaler {
                    metadata: k8s::meta(name, ns, labels),
                    spec: Some(HorizontalPodAutoscalerSpec {
                        scale_target_ref: CrossVersionObjectReference {
                            api_version: Some("apps/v1".into()),
                            kind: "Deployment".into(),
                            name: name.into(),
                        },
                        min_replicas: Some(a.min_replicas as i32),
                        max_replicas: a.max_replicas as i32,
                        metrics: Some(vec![MetricSpec {
                            type_: "Resource".into(),
                            resource: Some(ResourceMetricSource {
                                name: "cpu".into(),
                                target: MetricTarget {
                                    type_: "Utilization".into(),
                                    average_utilization: Some(a.target_cpu_percent as i32),
                                    ..Default::default()
                                },
                            }),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            );
        }
    }
    Ok(())
}

/// One Ingress in front of every service, with TLS when the profile has it.
fn ingress(ctx: &Ctx, bundle: &mut Bundle) {
    let api = &ctx.profile.api;
    let ns = ctx.ns;
    if let Some(ingress) = &api.ingress {
        let paths = api
            .services
            .iter()
            .map(|s| HTTPIngressPath {
                path: Some(format!("/{}", s.name)),
                path_type: "Prefix".into(),
                backend: IngressBackend {
                    service: Some(IngressServiceBackend {
                        name: s.name.clone(),
                        port: Some(ServiceBackendPort {
                            name: Some("http".into()),
                            ..Default::default()
                        }),
                    }),
                    ..Default::default()
                },
            })
            .collect();
        let labels = ctx.labels("api", "api", "");
        let tls_spec = tls::enabled(ctx).then(|| {
            tls::certificate(
                ctx,
                bundle,
                COMPONENT,
                INGRESS_TLS_SECRET,
                vec![ingress.host.clone()],
                false,
            );
            vec![IngressTLS {
                hosts: Some(vec![ingress.host.clone()]),
                secret_name: Some(INGRESS_TLS_SECRET.into()),
            }]
        });
        bundle.push(
            COMPONENT,
            Object::Ingress(Ingress {
                metadata: k8s::meta("api", ns, labels),
                spec: Some(IngressSpec {
                    ingress_class_name: ingress.class_name.clone(),
                    tls: tls_spec,
                    rules: Some(vec![IngressRule {
                        host: Some(ingress.host.clone()),
                        http: Some(HTTPIngressRuleValue { paths }),
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        );
    }
}

/// Key path of a per-service setting: the service's override if it has one, else `[api]`'s.
fn api_key(index: usize, overridden: bool, field: &str) -> String {
    if overridden {
        format!("api.services[{index}].{field}")
    } else {
        format!("api.{field}")
    }
}

/// The Secrets the API services mount: the basic-auth credentials (PostgreSQL's password is
/// PostgreSQL's), and with TLS, an ingress and no issuer the ingress certificate.
pub fn secrets(ctx: &Ctx) -> Vec<crate::secrets::SecretSpec> {
    use crate::secrets::SecretSpec;
    let sec = &ctx.profile.security;
    let mut out = Vec::new();
    if sec.api_auth == ApiAuth::Basic {
        out.push(
            SecretSpec::new(
                &sec.api_credentials_secret,
                "the API services' basic-auth user",
            )
            .fixed("username", "admin")
            .random("password", 24),
        );
    }
    if tls::enabled(ctx) && ctx.profile.api.ingress.is_some() && sec.tls_issuer.is_none() {
        out.push(
            crate::secrets::SecretSpec::new(INGRESS_TLS_SECRET, "the ingress certificate")
                .file_key("tls.crt", "the certificate chain (PEM)")
                .file_key("tls.key", "its private key (PEM)"),
        );
    }
    out
}

/// What each API service needs from its pod (the images are the platform's own Spring Boot
/// services): its application.yaml from the ConfigMap, a writable /tmp (Tomcat's work and
/// upload directories), and a start-up of up to three minutes on a small CPU share.
pub fn contract(ctx: &Ctx) -> Vec<crate::contract::Contract> {
    use crate::contract::{Contract, Path};
    ctx.profile
        .api
        .effective()
        .map(|svc| Contract {
            workload: svc.name.to_string(),
            container: svc.name.to_string(),
            user: UID,
            config: vec![format!("/etc/{}/application.yaml", svc.name)],
            directories: vec![],
            writes: vec![Path::new(
                "/tmp",
                64 << 20,
                "Tomcat's work and upload directories",
                "api",
            )],
            open_files: None,
            startup_seconds: 180,
            key: format!("api.services[{}]", svc.name),
        })
        .collect()
}

pub fn check(cx: &crate::rules::Check) {
    use crate::model::jvm::{JvmApp, JvmBreakdown, JvmFlags};
    use crate::model::mib;
    let api = &cx.profile.api;
    if api.services.is_empty() {
        cx.warn(
            "api.services.none",
            "api.services",
            "no API service is defined",
            "add [[api.services]]",
        );
    }
    for (i, (svc, raw)) in api.effective().zip(&api.services).enumerate() {
        let opts_key = api_key(i, raw.java_opts.is_some(), "java_opts");
        let flags = match JvmFlags::parse(svc.java_opts) {
            Ok(f) => f,
            Err(e) => {
                cx.error(
                    "api.java-opts.syntax",
                    &opts_key,
                    format!("{}: {e}", svc.name),
                    "JVM sizes look like -Xmx300m or -Xmx4g",
                );
                continue;
            }
        };
        let limit = svc.resources.limits.memory.bytes().max(0) as u64;
        let request = svc.resources.requests.memory.bytes().max(0) as u64;
        let b = JvmBreakdown::compute(&flags, limit, JvmApp::spring(svc.tomcat_max_threads));
        if b.total() > limit {
            let room = limit.saturating_sub(b.non_heap());
            cx.error(
                "jvm.memory",
                &opts_key,
                format!(
                    "{}: {} exceeds the {} memory limit{}: the container is OOMKilled (exit 137) before Java reports OutOfMemoryError",
                    svc.name,
                    b.describe(),
                    svc.resources.limits.memory,
                    if b.heap >= limit { " (the heap alone fills it)" } else { "" }
                ),
                if room > 64 << 20 {
                    format!(
                        "lower -Xmx to {}m or less, bound metaspace/code cache/direct memory (-XX:MaxMetaspaceSize, -XX:ReservedCodeCacheSize, -XX:MaxDirectMemorySize), or raise resources.limits.memory to {}Mi",
                        room >> 20,
                        b.total().div_ceil(1 << 20)
                    )
                } else {
                    format!("raise resources.limits.memory to {}Mi or bound the non-heap pools", b.total().div_ceil(1 << 20))
                },
            );
        }
        if let Some(xms) = flags.xms
            && xms > request
        {
            cx.warn(
                "jvm.xms-above-request",
                &opts_key,
                format!(
                    "{}: -Xms {} is above the {} memory request: the JVM commits it at start, so the pod runs above its request and is among the first evicted under memory pressure",
                    svc.name,
                    mib(xms),
                    svc.resources.requests.memory
                ),
                "lower -Xms to the request or raise resources.requests.memory",
            );
        }
        if let Some(a) = svc.autoscaling {
            let key = api_key(i, raw.autoscaling.is_some(), "autoscaling");
            if a.min_replicas == 0 || a.min_replicas > a.max_replicas {
                cx.error(
                    "api.autoscaling.range",
                    &key,
                    format!(
                        "{}: autoscaling from {} to {} replicas is not a range the HPA accepts",
                        svc.name, a.min_replicas, a.max_replicas
                    ),
                    "use 1 ≤ min_replicas ≤ max_replicas",
                );
            }
            if a.target_cpu_percent == 0 {
                cx.error(
                    "api.autoscaling.range",
                    &key,
                    format!("{}: a CPU target of 0%", svc.name),
                    "use a target such as 70",
                );
            }
        } else if svc.replicas == 0 {
            cx.warn(
                "api.replicas",
                &api_key(i, raw.replicas.is_some(), "replicas"),
                format!("{} has 0 replicas: it is deployed but never runs", svc.name),
                "set replicas to at least 1",
            );
        }
        for backend in svc.uses {
            if *backend == crate::profile::Backend::Kafka && svc.topics.is_empty() {
                cx.info(
                    "api.topics",
                    &format!("api.services[{i}].topics"),
                    format!("{} uses Kafka but lists no topics", svc.name),
                    "list the topics it consumes or produces in `topics`",
                );
            }
        }
    }
}

/// The API services: one Deployment (and Services, HPA, PDB) per service.
/// The backend a server component is to the API services.
fn backend(server: super::ComponentId) -> Option<Backend> {
    match server {
        super::ComponentId::Postgres => Some(Backend::Postgres),
        super::ComponentId::Kafka => Some(Backend::Kafka),
        super::ComponentId::Aerospike => Some(Backend::Aerospike),
        _ => None,
    }
}

pub const FACETS: super::Component = super::Component {
    id: super::ComponentId::Api,
    render,
    check,
    contracts: contract,
    secrets,
    clients_of,
    network,
    monitor,
    memory,
    explain_memory,
    style: Some(super::Style {
        letter: 'I',
        ansi: "46",
        svg: "#76b7b2",
    }),
    replicas_key,
    tier: super::service_tier,
    impact: super::none_impact,
    upgrade: super::none_upgrade,
    // Stateless Deployments: the object-level rollout is the whole migration.
    migrate: super::none_migrate,
};

fn clients_of(ctx: &Ctx, server: super::ComponentId) -> Vec<String> {
    let Some(b) = backend(server) else {
        return Vec::new();
    };
    ctx.profile
        .api
        .effective()
        .filter(|s| s.uses.contains(&b))
        .map(|s| s.name.to_string())
        .collect()
}

fn monitor(ctx: &Ctx) -> Option<Object> {
    // Through their metrics Services: one ServiceMonitor for all of them.
    (!ctx.profile.api.services.is_empty()).then(|| {
        crate::kube::scrape::service_monitor(
            ctx,
            COMPONENT,
            METRICS_COMPONENT,
            "management",
            "/actuator/prometheus",
        )
    })
}

/// A service's JVM pools in its memory limit; `None` when its java_opts do not parse
/// (`api.java-opts.syntax` says so).
fn service_jvm(s: &EffectiveApi) -> Option<crate::model::jvm::JvmBreakdown> {
    use crate::model::jvm::{JvmApp, JvmBreakdown, JvmFlags};
    let flags = JvmFlags::parse(s.java_opts).ok()?;
    let limit = s.resources.limits.memory.bytes().max(0) as u64;
    Some(JvmBreakdown::compute(
        &flags,
        limit,
        JvmApp::spring(s.tomcat_max_threads),
    ))
}

fn memory(p: &crate::profile::Profile, workload: &str, container: &str) -> BTreeMap<String, u64> {
    p.api
        .effective()
        .find(|s| workload.ends_with(&format!("/{}", s.name)) && s.name == container)
        .and_then(|s| service_jvm(&s))
        .map(|b| b.to_map())
        .unwrap_or_default()
}

fn explain_memory(key: &str, name: &str, p: &crate::profile::Profile) -> String {
    if key.split('.').next() != Some(COMPONENT) {
        return String::new();
    }
    p.api
        .effective()
        .filter_map(|s| {
            let b = service_jvm(&s)?;
            let what = format!("{} JVM", s.name);
            Some(crate::model::limit_table(
                &what,
                name,
                &s.resources.limits.memory,
                &b.to_map(),
            ))
        })
        .collect()
}

fn replicas_key(_name: &str) -> String {
    "api.replicas".into()
}

/// Per service: callers in (the ingress controller, or node addresses for NodePort), the
/// scraper on the management port, and out to exactly the backends it uses.
fn network(ctx: &Ctx, _clients: &[String]) -> Vec<Object> {
    use crate::kube::netpol::{Rules, anywhere, namespace, pods, policy, scraper};
    let p = ctx.profile;
    let mut out = Vec::new();
    for s in p.api.effective() {
        let callers = if p.api.service_type == ServiceType::NodePort || p.api.ingress.is_none() {
            // NodePort traffic arrives from node addresses.
            vec![anywhere()]
        } else {
            vec![namespace(&p.security.ingress_namespace)]
        };
        let mut rules = Rules::new().from(callers, &[HTTP_PORT]);
        if p.monitoring.level.metrics() {
            rules = rules.from(scraper(ctx), &[MANAGEMENT_PORT]);
        }
        for b in s.uses {
            rules = match b {
                Backend::Postgres => rules.to(vec![pods(&[postgres::NAME])], &[postgres::PORT]),
                Backend::Kafka => rules.to(vec![pods(&[kafka::NAME])], &[kafka::CLIENT_PORT]),
                Backend::Aerospike => {
                    rules.to(vec![pods(&[aerospike::NAME])], &aerospike::client_ports(p))
                }
            };
        }
        out.push(policy(
            ctx,
            s.name,
            COMPONENT,
            k8s::name_in(&[s.name]),
            rules,
        ));
    }
    out
}
