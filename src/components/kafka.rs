//! Kafka: a KRaft StatefulSet on the official image (every broker is also a controller), plus a
//! Job that creates the profile's topics.

use crate::change::{Action, Command, Impact, ObjectKey, Options, Phase, Step, Upgrade};
use crate::error::Error;
use crate::kube::k8s::{self, PodParts, StatefulSetParts};
use crate::kube::{Bundle, Object};
use crate::kube::{Ctx, hex, image_tag, tls};
use crate::profile::Profile;
use crate::profile::Version;
use crate::profile::{Medium, Setting};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub(crate) const NAME: &str = "kafka";
pub(crate) const CONTROLLER: &str = "kafka-controller";
pub(crate) const CLIENT_PORT: i32 = 9092;
pub(crate) const CONTROLLER_PORT: i32 = 9093;
pub(crate) const TLS_SECRET: &str = "kafka-tls";
/// Where the brokers and their clients find the certificate files.
pub(crate) const TLS_DIR: &str = "/etc/kafka-tls";
/// The official image's appuser.
const UID: i64 = 1000;
const CONFIG_DIR: &str = "/etc/kafka/amctl";
/// The data volume's mount; the partitions live in a directory inside it ([`LOG_DIRS`]).
const DATA_DIR: &str = "/var/lib/kafka/data";
pub(crate) const LOG_DIRS: &str = "/var/lib/kafka/data/logs";
const WORK_DIR: &str = "/var/run/kafka";
/// LOG_DIR: only the GC log is written there (the broker's own logs go to stdout).
const LOG_DIR: &str = "/opt/kafka/logs";
const LOG_VOLUME: &str = "512Mi";
/// The GC log, bounded: kafka-server-start.sh's `-loggc` would keep 10 × 100M.
const GC_LOG_FILES: u64 = 4;
const GC_LOG_FILE_MIB: u64 = 16;

/// `log.dirs` as the broker reads it: the profile's `kafka.settings` entry, else [`LOG_DIRS`].
pub fn log_dirs(k: &crate::profile::Kafka) -> Vec<String> {
    match k.settings.get("log.dirs") {
        Some(v) => v
            .to_string()
            .split(',')
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .collect(),
        None => vec![LOG_DIRS.to_string()],
    }
}

/// `KAFKA_GC_LOG_OPTS`: set, it replaces the unbounded GC log of `kafka-server-start.sh`.
fn gc_log_opts() -> String {
    format!(
        "-Xlog:gc*:file={LOG_DIR}/kafkaServer-gc.log:time,tags:filecount={GC_LOG_FILES},filesize={GC_LOG_FILE_MIB}M"
    )
}

/// The KRaft cluster id: the profile's, or one derived from the namespace so that every render
/// of the same installation agrees (22 characters of base64url, as `kafka-storage.sh random-uuid`).
pub(crate) fn cluster_id(ctx: &Ctx) -> String {
    if let Some(id) = &ctx.profile.kafka.cluster_id {
        return id.clone();
    }
    let digest = Sha256::digest(format!("amctl-kafka:{}", ctx.ns).as_bytes());
    base64url(&digest[..16])
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// How an admin command run inside a broker pod reaches the cluster. Over TLS it must name a
/// host the broker certificate covers (not localhost) and read the client config amctl renders.
pub(crate) fn admin_args(ns: &str, tls: bool) -> Vec<String> {
    if tls {
        vec![
            "--bootstrap-server".into(),
            format!("{NAME}-0.kafka-headless.{ns}.svc:{CLIENT_PORT}"),
            "--command-config".into(),
            format!("{CONFIG_DIR}/client.properties"),
        ]
    } else {
        vec![
            "--bootstrap-server".into(),
            format!("localhost:{CLIENT_PORT}"),
        ]
    }
}

/// The client config of admin commands inside a broker pod (with TLS).
fn client_properties() -> String {
    format!(
        "# Rendered by amctl: admin tools inside a broker pod (kafka-topics.sh --command-config).\n{}",
        tls_client_properties(&format!("{TLS_DIR}/ca.crt"))
    )
}

/// The client settings every Kafka client of the platform uses over TLS: the brokers' CA file
/// as a PEM trust store (admin tools, the topic Job, the segment job).
pub(crate) fn tls_client_properties(ca_file: &str) -> String {
    format!("security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={ca_file}\n")
}

/// The bootstrap address clients use.
pub(crate) fn bootstrap(ctx: &Ctx) -> String {
    format!("{}:{CLIENT_PORT}", ctx.dns(NAME))
}

#[derive(Serialize)]
struct PropsContext<'a> {
    namespace: &'a str,
    combined: bool,
    voters: String,
    headless: String,
    client_port: i32,
    controller_port: i32,
    log_dirs: String,
    num_partitions: u32,
    default_replication_factor: u32,
    min_insync_replicas: u32,
    offsets_topic_replication_factor: u32,
    transaction_state_log_replication_factor: u32,
    transaction_state_log_min_isr: u32,
    log_retention_hours: u32,
    auto_create_topics: bool,
    protocol: &'static str,
    tls: bool,
    tls_dir: &'static str,
    work_dir: &'static str,
    settings: Vec<(String, String)>,
}

/// Node ids of the dedicated controllers start here (brokers keep their ordinals), so that the
/// two sets never meet however many brokers are added.
pub(crate) const CONTROLLER_ID_BASE: u32 = 1000;

/// `controller.quorum.voters`: the dedicated controllers, or in combined mode every broker.
pub(crate) fn voters(ctx: &Ctx) -> String {
    let k = &ctx.profile.kafka;
    let (pod, headless, base, count) = match &k.controllers {
        Some(c) => (
            CONTROLLER,
            format!("{CONTROLLER}-headless"),
            CONTROLLER_ID_BASE,
            c.replicas,
        ),
        None => (NAME, "kafka-headless".to_string(), 0, k.brokers),
    };
    (0..count)
        .map(|i| {
            format!(
                "{}@{pod}-{i}.{headless}.{}.svc:{CONTROLLER_PORT}",
                base + i,
                ctx.ns
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The dedicated controllers' metadata log directory, inside their volume.
const METADATA_DIR: &str = "/var/lib/kafka/data/metadata";

pub(crate) fn controller_properties(ctx: &Ctx) -> Result<String, Error> {
    let tls = tls::enabled(ctx);
    ctx.template(
        "kafka/controller.properties.j2",
        serde_json::json!({
            "namespace": ctx.ns,
            "node_id_base": CONTROLLER_ID_BASE,
            "voters": voters(ctx),
            "controller_port": CONTROLLER_PORT,
            "protocol": if tls { "SSL" } else { "PLAINTEXT" },
            "tls": tls,
            "tls_dir": TLS_DIR,
            "work_dir": WORK_DIR,
            "log_dirs": METADATA_DIR,
        }),
    )
}

pub(crate) fn server_properties(ctx: &Ctx) -> Result<String, Error> {
    let k = &ctx.profile.kafka;
    let headless = format!("kafka-headless.{}.svc", ctx.ns);
    ctx.template(
        "kafka/server.properties.j2",
        PropsContext {
            namespace: ctx.ns,
            combined: k.controllers.is_none(),
            voters: voters(ctx),
            headless,
            client_port: CLIENT_PORT,
            controller_port: CONTROLLER_PORT,
            log_dirs: log_dirs(k).join(","),
            num_partitions: k.num_partitions,
            default_replication_factor: k.default_replication_factor,
            min_insync_replicas: k.min_insync_replicas,
            offsets_topic_replication_factor: k.offsets_topic_replication_factor,
            transaction_state_log_replication_factor: k.transaction_state_log_replication_factor,
            transaction_state_log_min_isr: k.transaction_state_log_min_isr,
            log_retention_hours: k.log_retention_hours,
            auto_create_topics: k.auto_create_topics,
            protocol: if tls::enabled(ctx) {
                "SSL"
            } else {
                "PLAINTEXT"
            },
            tls: tls::enabled(ctx),
            tls_dir: TLS_DIR,
            work_dir: WORK_DIR,
            settings: k
                .settings
                .iter()
                .filter(|(key, _)| key.as_str() != "log.dirs")
                .map(|(key, v)| {
                    let value = match v {
                        Setting::Str(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (key.clone(), value)
                })
                .collect(),
        },
    )
}

#[derive(Serialize)]
struct TopicContext {
    name: String,
    partitions: u32,
    replication_factor: u32,
    retention_ms: u64,
}

fn topics_script(ctx: &Ctx) -> Result<String, Error> {
    let k = &ctx.profile.kafka;
    let topics: Vec<TopicContext> = k
        .topics
        .iter()
        .map(|t| TopicContext {
            name: t.name.clone(),
            partitions: t.partitions.unwrap_or(k.num_partitions),
            replication_factor: t.replication_factor.unwrap_or(k.default_replication_factor),
            retention_ms: u64::from(t.retention_hours.unwrap_or(k.log_retention_hours)) * 3_600_000,
        })
        .collect();
    ctx.template(
        "kafka/create-topics.sh.j2",
        serde_json::json!({
            "bootstrap": bootstrap(ctx),
            "topics": topics,
            "tls": tls::enabled(ctx),
            "client_properties": tls_client_properties(&format!("{TLS_DIR}/ca.crt")),
            "client_config": if tls::enabled(ctx) { " --command-config /tmp/client.properties" } else { "" },
        }),
    )
}

/// One kafka_exporter for the cluster, and its port.
pub(crate) const EXPORTER: &str = "kafka-exporter";

/// The brokers and controllers hold data; the exporter is a stateless scraper.
fn tier(workload: &str) -> super::Tier {
    if workload == EXPORTER {
        super::Tier::Service
    } else {
        super::Tier::Data
    }
}
pub(crate) const EXPORTER_PORT: i32 = 9308;
/// kafka_exporter's image runs as nobody.
const NOBODY: i64 = 65534;

/// One kafka_exporter for the cluster: topics, partitions, under-replication, consumer lag.
pub(crate) fn kafka_exporter(ctx: &Ctx, bundle: &mut Bundle, tls_ca: Option<(&str, &str)>) {
    let labels = ctx.labels(
        EXPORTER,
        "monitoring",
        image_tag(&ctx.profile.monitoring.exporters.kafka),
    );
    bundle.push(NAME, ctx.service_account(EXPORTER, labels.clone(), false));
    let mut c = k8s::exporter(
        EXPORTER,
        &ctx.profile.monitoring.exporters.kafka,
        EXPORTER_PORT,
    );
    let mut args = vec![
        format!("--kafka.server={}", bootstrap(ctx)),
        format!("--web.listen-address=:{EXPORTER_PORT}"),
    ];
    let mut volumes = k8s::volumes([k8s::empty_dir("tmp", Medium::Disk, "16Mi")]);
    let mut mounts = vec![k8s::mount("tmp", "/tmp", false)];
    if let Some((volume, dir)) = tls_ca {
        args.push("--tls.enabled".into());
        args.push(format!("--tls.ca-file={dir}/ca.crt"));
        volumes.push(tls::ca_volume(volume, TLS_SECRET));
        mounts.push(k8s::mount(volume, dir, true));
    }
    c.args = Some(args);
    c.volume_mounts = Some(mounts);
    let template = k8s::pod_template(PodParts {
        labels: labels.clone(),
        annotations: BTreeMap::new(),
        service_account: EXPORTER.into(),
        security: k8s::pod_security(NOBODY, NOBODY),
        init_containers: vec![],
        containers: vec![c],
        volumes,
        termination_grace_seconds: None,
    });
    bundle.push(
        NAME,
        Object::Deployment(k8s::deployment(
            k8s::meta(EXPORTER, ctx.ns, labels),
            ctx.selector(EXPORTER),
            Some(1),
            template,
        )),
    );
}

/// A StatefulSet of Kafka nodes: the brokers (in combined mode also the controllers), or the
/// dedicated controllers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Broker,
    Controller,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Broker => NAME,
            Role::Controller => CONTROLLER,
        }
    }
}

pub fn render(ctx: &Ctx, bundle: &mut Bundle) -> Result<(), Error> {
    let k = &ctx.profile.kafka;
    let labels = ctx.labels(NAME, "messaging", image_tag(&k.image));
    bundle.push(NAME, ctx.service_account(NAME, labels.clone(), false));
    node_set(ctx, bundle, Role::Broker)?;
    if k.controllers.is_some() {
        node_set(ctx, bundle, Role::Controller)?;
    }
    if !k.topics.is_empty() {
        bundle.push(NAME, Object::Job(Box::new(topics_job(ctx, &labels)?)));
    }
    if ctx.full_monitoring() {
        let ca = tls::enabled(ctx).then_some(("kafka-ca", TLS_DIR));
        kafka_exporter(ctx, bundle, ca);
    }
    Ok(())
}

fn node_set(ctx: &Ctx, bundle: &mut Bundle, role: Role) -> Result<(), Error> {
    let k = &ctx.profile.kafka;
    let ns = ctx.ns;
    let name = role.name();
    let labels = ctx.labels(name, "messaging", image_tag(&k.image));
    let selector = ctx.selector(name);
    let headless = format!("{name}-headless");
    let combined = k.controllers.is_none();
    let controller = k.controllers.as_ref().filter(|_| role == Role::Controller);
    let (config_file, properties, node_id_base, log_dirs_list) = match role {
        Role::Broker => ("server.properties", server_properties(ctx)?, 0, log_dirs(k)),
        Role::Controller => (
            "controller.properties",
            controller_properties(ctx)?,
            CONTROLLER_ID_BASE,
            vec![METADATA_DIR.to_string()],
        ),
    };
    let config_map = format!("{name}-config");
    let mut files = BTreeMap::from([
        (config_file.to_string(), properties),
        (
            "start.sh".to_string(),
            ctx.template(
                "kafka/start.sh.j2",
                serde_json::json!({
                    "role": if role == Role::Broker { "broker" } else { "controller" },
                    "config_dir": CONFIG_DIR,
                    "config_file": config_file,
                    "node_id_base": node_id_base,
                    "work_dir": WORK_DIR,
                    "tls": tls::enabled(ctx),
                    "tls_dir": TLS_DIR,
                    "data_dir": DATA_DIR,
                    "log_dirs": log_dirs_list.join(","),
                    "log_dir_list": log_dirs_list,
                    "migrate_from_root": role == Role::Broker && !k.settings.contains_key("log.dirs"),
                }),
            )?,
        ),
        (
            "log4j2.yaml".to_string(),
            ctx.template("kafka/log4j2.yaml.j2", serde_json::json!({}))?,
        ),
    ]);
    if tls::enabled(ctx) && role == Role::Broker {
        files.insert("client.properties".into(), client_properties());
    }
    let config = ctx.config_map(&config_map, labels.clone(), files);
    let annotations = ctx.pod_annotations(&[&config], None);
    bundle.push(NAME, Object::ConfigMap(config));

    // Brokers: peers on both ports in combined mode; controllers: the controller port only.
    let (peer_ports, container_ports) = match (role, combined) {
        (Role::Broker, true) => (
            vec![
                k8s::service_port("client", CLIENT_PORT),
                k8s::service_port("controller", CONTROLLER_PORT),
            ],
            vec![
                k8s::container_port("client", CLIENT_PORT),
                k8s::container_port("controller", CONTROLLER_PORT),
            ],
        ),
        (Role::Broker, false) => (
            vec![k8s::service_port("client", CLIENT_PORT)],
            vec![k8s::container_port("client", CLIENT_PORT)],
        ),
        (Role::Controller, _) => (
            vec![k8s::service_port("controller", CONTROLLER_PORT)],
            vec![k8s::container_port("controller", CONTROLLER_PORT)],
        ),
    };
    let [headless_svc, client_svc] = k8s::stateful_services(
        name,
        ns,
        &labels,
        &selector,
        peer_ports,
        vec![k8s::service_port("client", CLIENT_PORT)],
    );
    bundle.push(NAME, Object::Service(headless_svc));
    if role == Role::Broker {
        bundle.push(NAME, Object::Service(client_svc));
    }

    let (heap_opts, jvm_opts, resources, storage) = match controller {
        Some(c) => (&c.heap_opts, &c.jvm_opts, &c.resources, &c.storage),
        None => (&k.heap_opts, &k.jvm_opts, &k.resources, &k.storage),
    };
    let storage = storage.effective(&ctx.profile.storage);
    let (data_volume, claim) = k8s::data_volume("data", &storage, &labels);
    let mut container = k8s::container(name, &k.image, k8s::resources(resources), true);
    container.command = Some(vec!["/bin/sh".into(), format!("{CONFIG_DIR}/start.sh")]);
    let mut env = vec![
        k8s::env_field("POD_NAME", "metadata.name"),
        k8s::env("KAFKA_HEAP_OPTS", heap_opts.as_str()),
        k8s::env("CLUSTER_ID", cluster_id(ctx)),
        k8s::env("LOG_DIR", LOG_DIR),
        // kafka-server-start.sh defaults to config/log4j2.yaml (six files, never deleted).
        k8s::env(
            "KAFKA_LOG4J_OPTS",
            format!("-Dlog4j2.configurationFile={CONFIG_DIR}/log4j2.yaml"),
        ),
        k8s::env("KAFKA_GC_LOG_OPTS", gc_log_opts()),
    ];
    if let Some(opts) = jvm_opts {
        env.push(k8s::env("KAFKA_JVM_PERFORMANCE_OPTS", opts.as_str()));
    }
    container.env = Some(env);
    container.ports = Some(container_ports);
    match (role, combined) {
        (Role::Broker, true) => {
            container.readiness_probe = Some(k8s::tcp_probe("client", 10, 10, 3));
            container.liveness_probe = Some(k8s::tcp_probe("controller", 60, 15, 6));
        }
        (Role::Broker, false) => {
            // The client port opens only after the broker has loaded its logs (a recovery
            // after an unclean stop can take minutes): liveness waits for the startup probe.
            container.startup_probe = Some(k8s::tcp_probe("client", 10, 10, BROKER_STARTUP_PROBES));
            container.readiness_probe = Some(k8s::tcp_probe("client", 0, 10, 3));
            container.liveness_probe = Some(k8s::tcp_probe("client", 0, 15, 6));
        }
        (Role::Controller, _) => {
            container.readiness_probe = Some(k8s::tcp_probe("controller", 10, 10, 3));
            container.liveness_probe = Some(k8s::tcp_probe("controller", 60, 15, 6));
        }
    }
    container.volume_mounts = Some(vec![
        k8s::mount("config", CONFIG_DIR, true),
        k8s::mount("data", DATA_DIR, false),
        k8s::mount("work", WORK_DIR, false),
        k8s::mount("logs", LOG_DIR, false),
        k8s::mount("tmp", "/tmp", false),
    ]);
    let mut volumes = k8s::volumes([
        k8s::config_volume("config", &config_map, None),
        k8s::empty_dir("work", Medium::Disk, "16Mi"),
        k8s::empty_dir("logs", Medium::Disk, LOG_VOLUME),
        k8s::empty_dir("tmp", Medium::Disk, "128Mi"),
    ]);
    volumes.extend(data_volume);
    if tls::enabled(ctx) {
        if let Some(m) = container.volume_mounts.as_mut() {
            m.push(k8s::mount("tls", TLS_DIR, true));
        }
        volumes.push(tls::volume("tls", TLS_SECRET));
        if role == Role::Broker {
            let mut names = tls::service_names(ctx, NAME, Some("kafka-headless"));
            if k.controllers.is_some() {
                // The controllers present the same certificate on their headless names.
                names.push(format!("*.{CONTROLLER}-headless.{ns}.svc"));
                names.push(format!("*.{CONTROLLER}-headless.{ns}.svc.cluster.local"));
            }
            tls::certificate(ctx, bundle, NAME, TLS_SECRET, names, true);
        }
    }

    let template = k8s::pod_template(PodParts {
        labels: labels.clone(),
        annotations,
        service_account: NAME.into(),
        security: k8s::pod_security(UID, UID),
        init_containers: vec![],
        containers: vec![container],
        volumes,
        // Controlled shutdown moves partition leadership away before the broker stops.
        termination_grace_seconds: Some(120),
    });
    bundle.push(
        NAME,
        Object::StatefulSet(k8s::stateful_set(StatefulSetParts {
            meta: k8s::meta(name, ns, labels.clone()),
            selector,
            replicas: match controller {
                Some(c) => c.replicas,
                None => k.brokers,
            },
            service_name: headless,
            // Controllers need a quorum before any broker is Ready: start them together.
            parallel: true,
            template,
            claims: claim.into_iter().collect(),
        })),
    );
    Ok(())
}

/// Startup probes (every 10 s) a broker-only pod gets to load its logs: 15 minutes.
const BROKER_STARTUP_PROBES: i32 = 90;

/// A Job that creates the topics (idempotent). Its name carries a hash of its whole pod template
/// (the script, the image, TLS, resources): a Job's template is immutable (batch/validation.go
/// ValidateJobSpecUpdate), so any change is a new Job, never a rejected update or a deletion.
fn topics_job(ctx: &Ctx, labels: &k8s::Labels) -> Result<Job, Error> {
    let k = &ctx.profile.kafka;
    let script = topics_script(ctx)?;
    let mut job_labels = labels.clone();
    job_labels.insert("app.kubernetes.io/name".into(), TOPICS_JOB.into());
    let mut container = k8s::container("create-topics", &k.image, k8s::helper_resources(), true);
    container.resources = Some(k8s_openapi::api::core::v1::ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".into(), k8s::q("100m")),
            ("memory".into(), k8s::q("192Mi")),
        ])),
        limits: Some(BTreeMap::from([
            ("cpu".into(), k8s::q("500m")),
            ("memory".into(), k8s::q("192Mi")),
        ])),
        ..Default::default()
    });
    container.command = Some(vec!["/bin/sh".into(), "-c".into(), script]);
    container.env = Some(vec![
        k8s::env("KAFKA_HEAP_OPTS", "-Xmx96m -Xms32m"),
        k8s::env("LOG_DIR", "/tmp/logs"),
    ]);
    let mut mounts = vec![k8s::mount("tmp", "/tmp", false)];
    let mut volumes = k8s::volumes([k8s::empty_dir("tmp", Medium::Disk, "64Mi")]);
    if tls::enabled(ctx) {
        mounts.push(k8s::mount("kafka-ca", TLS_DIR, true));
        volumes.push(tls::ca_volume("kafka-ca", TLS_SECRET));
    }
    container.volume_mounts = Some(mounts);
    let mut template = k8s::pod_template(PodParts {
        labels: job_labels.clone(),
        annotations: BTreeMap::new(),
        service_account: NAME.into(),
        security: k8s::pod_security(UID, UID),
        init_containers: vec![],
        containers: vec![container],
        volumes,
        termination_grace_seconds: None,
    });
    if let Some(spec) = template.spec.as_mut() {
        spec.restart_policy = Some("OnFailure".into());
    }
    let rendered = serde_json::to_string(&template).map_err(|e| Error::Serialize {
        what: "the topic Job's pod template",
        detail: e.to_string(),
    })?;
    let hash = hex(&Sha256::digest(rendered.as_bytes()))[..8].to_string();
    let name = format!("kafka-topics-{hash}");
    Ok(Job {
        metadata: k8s::meta(&name, ctx.ns, job_labels),
        spec: Some(JobSpec {
            backoff_limit: Some(6),
            active_deadline_seconds: Some(900),
            ttl_seconds_after_finished: Some(3600),
            template,
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The broker JVM: heap from KAFKA_HEAP_OPTS (Kafka's default is 1G), other pools from
/// `jvm_opts` (KAFKA_JVM_PERFORMANCE_OPTS).
pub fn jvm(k: &crate::profile::Kafka) -> Result<crate::model::jvm::JvmBreakdown, String> {
    jvm_of(&k.heap_opts, k.jvm_opts.as_deref(), &k.resources)
}

/// A dedicated controller's JVM, by the same rules as a broker's.
pub fn controller_jvm(
    c: &crate::profile::KafkaControllers,
) -> Result<crate::model::jvm::JvmBreakdown, String> {
    jvm_of(&c.heap_opts, c.jvm_opts.as_deref(), &c.resources)
}

fn jvm_of(
    heap_opts: &str,
    jvm_opts: Option<&str>,
    resources: &crate::profile::Resources,
) -> Result<crate::model::jvm::JvmBreakdown, String> {
    use crate::model::jvm::{JvmApp, JvmBreakdown, JvmFlags};
    let mut flags = JvmFlags::parse(jvm_opts.unwrap_or(""))?;
    let heap = JvmFlags::parse(heap_opts)?;
    flags.xmx = heap.xmx.or(Some(1 << 30));
    flags.xms = heap.xms.or(Some(1 << 30));
    let limit = resources.limits.memory.bytes().max(0) as u64;
    Ok(JvmBreakdown::compute(&flags, limit, JvmApp::kafka()))
}

/// The Secrets Kafka's pods mount: with TLS and no issuer, the brokers' certificate.
pub fn secrets(ctx: &Ctx) -> Vec<crate::secrets::SecretSpec> {
    if tls::enabled(ctx) && ctx.profile.security.tls_issuer.is_none() {
        vec![crate::secrets::SecretSpec::certificate(
            TLS_SECRET,
            "the brokers' certificate",
        )]
    } else {
        vec![]
    }
}

/// What the broker needs from its pod (apache/kafka 4.1.1, image `docker/jvm`; the command
/// runs amctl's start.sh, not the image's `/etc/kafka/docker/run`):
///
/// - every directory under a `log.dirs` entry is parsed as `topic-partition`
///   (`core/src/main/scala/kafka/log/LogManager.scala`, `loadLogs`: `dir.listFiles.filter(...
///   UnifiedLog.parseTopicPartitionName(logDir) ...)`; `LocalLog.parseTopicPartitionName`
///   throws on `lost+found`, strimzi/strimzi-kafka-operator#1307): the log dirs are a directory
///   inside the data volume, never its root;
/// - `bin/kafka-server-start.sh` passes `-loggc` (`EXTRA_ARGS=${EXTRA_ARGS-'-name kafkaServer
///   -loggc'}`), and `bin/kafka-run-class.sh` then writes `-Xlog:gc*:file=$LOG_DIR/...
///   filecount=10,filesize=100M` unless `KAFKA_GC_LOG_OPTS` is set; the default
///   `KAFKA_LOG4J_OPTS` is `config/log4j2.yaml`, six `RollingFile` appenders into
///   `${kafka.logs.dir}` with a `TimeBasedTriggeringPolicy` of one hour and no delete action;
/// - the JVM raises its soft open-files limit to the hard one at start (HotSpot
///   `os_linux.cpp`, `-XX:+MaxFDLimit`, on by default), and a broker keeps three descriptors per
///   log segment; Kafka's operations guide asks for at least 100000.
pub fn contract(ctx: &Ctx) -> Vec<crate::contract::Contract> {
    use crate::contract::{Contract, OpenFilesNeed, Path};
    let k = &ctx.profile.kafka;
    let storage = k.storage.effective(&ctx.profile.storage);
    let data = storage.size.bytes().max(0) as u64;
    let dirs = log_dirs(k);
    let mut writes: Vec<Path> = dirs
        .iter()
        .map(|d| {
            Path::new(
                d.clone(),
                data / dirs.len().max(1) as u64,
                "topic partitions",
                "kafka.settings.\"log.dirs\"|kafka.storage.size",
            )
        })
        .collect();
    writes.push(Path::new(
        LOG_DIR,
        (GC_LOG_FILES + 1) * (GC_LOG_FILE_MIB << 20),
        format!("the GC log, {GC_LOG_FILES} × {GC_LOG_FILE_MIB} MiB and the current file"),
        "kafka.jvm_opts",
    ));
    writes.push(Path::new(
        WORK_DIR,
        1 << 20,
        "server.properties and the PEM key store",
        "kafka",
    ));
    writes.push(Path::new(
        "/tmp",
        1 << 20,
        "the JVM's performance data",
        "kafka",
    ));
    let mut all = Vec::new();
    if let Some(c) = &k.controllers {
        let metadata = c
            .storage
            .effective(&ctx.profile.storage)
            .size
            .bytes()
            .max(0) as u64;
        let mut controller_writes = vec![Path::new(
            METADATA_DIR,
            metadata,
            "the metadata log",
            "kafka.controllers.storage.size|kafka.controllers.storage",
        )];
        controller_writes.extend(writes[writes.len() - 3..].iter().cloned());
        all.push(Contract {
            workload: CONTROLLER.into(),
            container: CONTROLLER.into(),
            user: UID,
            config: ["controller.properties", "start.sh", "log4j2.yaml"]
                .map(|f| format!("{CONFIG_DIR}/{f}"))
                .to_vec(),
            directories: vec![],
            writes: controller_writes,
            open_files: None,
            startup_seconds: 60,
            key: "kafka.controllers".into(),
        });
    }
    all.insert(0, Contract {
        workload: NAME.into(),
        container: NAME.into(),
        user: UID,
        config: ["server.properties", "start.sh", "log4j2.yaml"]
            .map(|f| format!("{CONFIG_DIR}/{f}"))
            .to_vec(),
        directories: vec![],
        writes,
        open_files: Some(OpenFilesNeed {
            count: 100_000,
            fatal: false,
            why: "three per log segment and one per connection; Kafka's operations guide asks for 100000".into(),
            key: String::new(),
        }),
        // The controller port (the liveness probe's) opens before the broker loads its logs; a
        // broker-only pod has a startup probe of its own.
        startup_seconds: 60,
        key: "kafka".into(),
    });
    all
}

/// The largest heap that leaves a broker its page cache: half the container, at most 5 GiB
/// (Strimzi's rule; `kafka.heap-page-cache` suggests it).
pub(crate) fn page_cache_heap(limit: u64) -> u64 {
    (limit / 2).min(5 << 30)
}

pub fn check(cx: &crate::rules::Check) {
    let p = cx.profile;
    if p.kafka.brokers > 1
        && p.kafka.storage.effective(&p.storage).mode == crate::profile::StorageMode::Ephemeral
    {
        cx.warn(
            "topology.ephemeral-replicated",
            "kafka.storage",
            format!(
                "kafka runs {} replicas on ephemeral storage: replication protects against one pod, but a rolling restart of all of them loses the data",
                p.kafka.brokers
            ),
            "use storage mode \"persistent\" for replicated data",
        );
    }
    use crate::model::mib;
    let k = &cx.profile.kafka;
    for dir in log_dirs(k) {
        let trimmed = dir.trim_end_matches('/');
        if trimmed == DATA_DIR {
            cx.error(
                "kafka.log-dirs.root",
                "kafka.settings.\"log.dirs\"",
                format!("log.dirs = {dir} is the root of the data volume: the broker parses every directory there as a topic partition and stops at `lost+found`, which an ext4 volume's root holds"),
                format!("use a directory inside the volume, e.g. {LOG_DIRS} (or drop log.dirs from kafka.settings)"),
            );
        } else if !crate::contract::is_under(trimmed, DATA_DIR) {
            cx.error(
                "kafka.log-dirs.volume",
                "kafka.settings.\"log.dirs\"",
                format!("log.dirs = {dir} is not on the data volume ({DATA_DIR}): the partitions would land on the read-only root filesystem or a pod's scratch space"),
                format!("use a directory inside {DATA_DIR}, e.g. {LOG_DIRS}"),
            );
        }
    }
    let brokers = k.brokers;
    if brokers == 0 {
        cx.error(
            "kafka.brokers",
            "kafka.brokers",
            "kafka.brokers is 0: there is no broker",
            "set at least 1",
        );
        return;
    }
    let mut rf_checks: Vec<(String, &str, u32)> = vec![
        (
            "kafka.default_replication_factor".into(),
            "default.replication.factor",
            k.default_replication_factor,
        ),
        (
            "kafka.offsets_topic_replication_factor".into(),
            "offsets.topic.replication.factor",
            k.offsets_topic_replication_factor,
        ),
        (
            "kafka.transaction_state_log_replication_factor".into(),
            "transaction.state.log.replication.factor",
            k.transaction_state_log_replication_factor,
        ),
    ];
    for (i, t) in k.topics.iter().enumerate() {
        if let Some(rf) = t.replication_factor {
            rf_checks.push((
                format!("kafka.topics[{i}].replication_factor"),
                "topic replication factor",
                rf,
            ));
        }
    }
    for (key, what, rf) in &rf_checks {
        if *rf == 0 {
            cx.error(
                "kafka.replication-factor",
                key,
                format!("{what} is 0"),
                "use at least 1",
            );
        } else if *rf > brokers {
            cx.error(
                "kafka.replication-factor",
                key,
                format!("{what} = {rf} needs {rf} brokers, but there are {brokers}: the topics cannot be created (internal topics never become available)"),
                format!("lower it to at most {brokers} or raise kafka.brokers to {rf}"),
            );
        }
    }
    let isr_pairs = [
        (
            "kafka.min_insync_replicas",
            "min.insync.replicas",
            k.min_insync_replicas,
            k.default_replication_factor,
        ),
        (
            "kafka.transaction_state_log_min_isr",
            "transaction.state.log.min.isr",
            k.transaction_state_log_min_isr,
            k.transaction_state_log_replication_factor,
        ),
    ];
    for (key, what, isr, rf) in isr_pairs {
        if isr > rf {
            cx.error(
                "kafka.min-isr",
                key,
                format!("{what} = {isr} is more than the replication factor {rf}: producers with acks=all can never write"),
                format!("set it to {}", rf.saturating_sub(1).max(1)),
            );
        } else if rf >= 2 && isr != rf - 1 {
            cx.warn(
                "kafka.min-isr",
                key,
                if isr == rf {
                    format!("{what} = {isr} equals the replication factor {rf}: losing any one broker stops acks=all writes")
                } else {
                    format!("{what} = {isr} with replication factor {rf}: a write is acknowledged by fewer replicas than can fail")
                },
                format!("use replication factor − 1 = {}", rf - 1),
            );
        }
    }
    match &k.controllers {
        None if brokers > 1 && brokers.is_multiple_of(2) => cx.warn(
            "kafka.controllers.odd",
            "kafka.brokers",
            format!("{brokers} KRaft controllers (every broker is one): an even count tolerates no more failures than one fewer ({} of {brokers})", (brokers - 1) / 2),
            "add [kafka.controllers] with replicas = 3 (the brokers then scale freely), or use an odd number of brokers",
        ),
        None if brokers > 1 => cx.warn(
            "kafka.controllers.combined",
            "kafka.brokers",
            format!("{brokers} brokers that are also the KRaft controllers (combined mode): Kafka advises dedicated controllers in production, and a static quorum's voters cannot change on a running cluster, so these brokers can never be added or removed"),
            "add [kafka.controllers] with replicas = 3 before the first deploy",
        ),
        None => {}
        Some(c) if c.replicas == 0 => cx.error(
            "kafka.controllers.count",
            "kafka.controllers.replicas",
            "kafka.controllers.replicas is 0: there is no quorum, no broker can start",
            "use 3 (or 1 for a test cluster); remove [kafka.controllers] for combined mode",
        ),
        Some(c) if c.replicas.is_multiple_of(2) => cx.warn(
            "kafka.controllers.odd",
            "kafka.controllers.replicas",
            format!("{} KRaft controllers: an even count tolerates no more failures than one fewer ({} of {})", c.replicas, (c.replicas - 1) / 2, c.replicas),
            format!("use {} or {}", c.replicas - 1, c.replicas + 1),
        ),
        Some(c) => {
            let storage = c.storage.effective(&p.storage);
            if c.replicas > 1 && storage.mode == crate::profile::StorageMode::Ephemeral {
                cx.warn(
                    "topology.ephemeral-replicated",
                    "kafka.controllers.storage",
                    "the KRaft controllers keep the cluster's metadata on ephemeral storage: restarting a majority of them at once loses every topic's metadata",
                    "use storage mode \"persistent\" for the controllers",
                );
            }
            match controller_jvm(c) {
                Err(e) => cx.error(
                    "kafka.jvm.syntax",
                    "kafka.controllers.heap_opts",
                    e,
                    "JVM sizes look like -Xmx1g",
                ),
                Ok(b) => {
                    let limit = c.resources.limits.memory.bytes().max(0) as u64;
                    if b.total() > limit {
                        cx.error(
                            "jvm.memory",
                            "kafka.controllers.heap_opts|kafka.controllers.jvm_opts|kafka.controllers.resources.limits.memory|kafka.controllers.resources",
                            format!("kafka-controller: {} exceeds the {} memory limit: the controller is OOMKilled", b.describe(), c.resources.limits.memory),
                            format!("lower the heap, bound the other pools in kafka.controllers.jvm_opts, or raise the limit to {}Mi", b.total().div_ceil(1 << 20)),
                        );
                    }
                }
            }
        }
    }
    for (i, t) in k.topics.iter().enumerate() {
        if t.partitions == Some(0) {
            cx.error(
                "kafka.partitions",
                &format!("kafka.topics[{i}].partitions"),
                format!("topic `{}` has 0 partitions", t.name),
                "use at least 1",
            );
        }
    }
    if k.num_partitions == 0 {
        cx.error(
            "kafka.partitions",
            "kafka.num_partitions",
            "num.partitions is 0",
            "use at least 1",
        );
    }
    if let Some(id) = &k.cluster_id {
        let ok = id.len() == 22
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            cx.error(
                "kafka.cluster-id",
                "kafka.cluster_id",
                format!("cluster_id `{id}` is not a KRaft cluster id (22 characters of base64url, as `kafka-storage.sh random-uuid` prints)"),
                "remove it to let amctl derive one from the namespace, or paste a random-uuid",
            );
        }
    }

    match jvm(k) {
        Err(e) => cx.error(
            "kafka.jvm.syntax",
            "kafka.heap_opts",
            e,
            "JVM sizes look like -Xmx800m or -Xmx8g",
        ),
        Ok(b) => {
            let limit = k.resources.limits.memory.bytes().max(0) as u64;
            let key =
                "kafka.heap_opts|kafka.jvm_opts|kafka.resources.limits.memory|kafka.resources";
            if b.total() > limit {
                cx.error(
                    "jvm.memory",
                    key,
                    format!("kafka: {} exceeds the {} memory limit: the broker is OOMKilled", b.describe(), k.resources.limits.memory),
                    format!(
                        "lower the heap (about 50% of the limit), bound the other pools in kafka.jvm_opts (e.g. -XX:ReservedCodeCacheSize=64m -XX:MaxMetaspaceSize=96m), or raise the limit to {}Mi",
                        b.total().div_ceil(1 << 20)
                    ),
                );
            } else {
                let page_cache = limit - b.total();
                if b.heap.saturating_mul(2) > limit || b.heap > 6 << 30 {
                    cx.warn(
                        "kafka.heap-page-cache",
                        "kafka.heap_opts|kafka.resources.limits.memory|kafka.resources",
                        format!(
                            "heap {} of a {} limit leaves {} for the page cache Kafka reads and writes through; heaps above ~50% of the container or ~5–6 GiB rarely help a broker",
                            mib(b.heap),
                            k.resources.limits.memory,
                            mib(page_cache)
                        ),
                        format!("use -Xmx{}m (min(50% of the limit, 5 GiB), Strimzi's rule)", page_cache_heap(limit) >> 20),
                    );
                }
            }
            let request = k.resources.requests.memory.bytes().max(0) as u64;
            let xms = crate::model::jvm::JvmFlags::parse(&k.heap_opts)
                .ok()
                .and_then(|f| f.xms)
                .unwrap_or(0);
            if xms > request {
                cx.warn(
                    "jvm.xms-above-request",
                    "kafka.heap_opts",
                    format!("-Xms {} is above the {} memory request: the pod commits more than it asked the scheduler for", mib(xms), k.resources.requests.memory),
                    "raise resources.requests.memory to at least -Xms plus non-heap, or lower -Xms",
                );
            }
        }
    }
}

fn topic_specs(p: &Profile) -> Vec<(String, u32, u32)> {
    let k = &p.kafka;
    let mut v: Vec<(String, u32, u32)> = k
        .topics
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.partitions.unwrap_or(k.num_partitions),
                t.replication_factor.unwrap_or(k.default_replication_factor),
            )
        })
        .collect();
    // Kafka's internal topics (50 partitions each by default).
    v.push((
        "__consumer_offsets".into(),
        50,
        k.offsets_topic_replication_factor,
    ));
    v.push((
        "__transaction_state".into(),
        50,
        k.transaction_state_log_replication_factor,
    ));
    v
}

/// Replica assignment for a topic: partition p on brokers p, p+1, ... (mod brokers).
pub(crate) fn reassignment_json(topics: &[(String, u32, u32)], brokers: u32) -> String {
    let mut parts = Vec::new();
    for (name, partitions, rf) in topics {
        for p in 0..*partitions {
            let replicas: Vec<u32> = (0..*rf).map(|r| (p + r) % brokers.max(1)).collect();
            parts.push(serde_json::json!({"topic": name, "partition": p, "replicas": replicas}));
        }
    }
    let doc = serde_json::json!({"version": 1, "partitions": parts});
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// What a change of brokers, partitions or replication factors takes on a running cluster:
/// partitions only grow, replication factors of existing topics change by reassignment, and
/// brokers that leave take their replicas with them.
pub(crate) fn migration_steps(from: &Profile, to: &Profile, opts: &Options) -> Vec<Step> {
    let ns = &opts.namespace;
    let key = ObjectKey {
        kind: "KafkaTopics".into(),
        namespace: ns.clone(),
        name: "kafka".into(),
    };
    let step = |action: Action, impact: Impact, reason: String| {
        Step::new(Phase::Resources, key.clone(), action, impact, reason)
    };
    let before = topic_specs(from);
    let after = topic_specs(to);
    let brokers = to.kafka.brokers;
    // The brokers as TO runs them (the topic steps follow the broker rollout).
    let admin = |tool: &str, args: &[&str]| {
        Command::kubectl(["exec", "-n", ns, "kafka-0", "-c", NAME, "--", tool])
            .args(admin_args(ns, to.security.tls))
            .args(args.iter().copied())
    };
    let topics = |args: &[&str]| admin("/opt/kafka/bin/kafka-topics.sh", args);
    let mut out = Vec::new();
    let mut grow_rf = Vec::new();
    let mut shrink_rf = Vec::new();
    let mut more_partitions = Vec::new();
    for (name, parts, rf) in &after {
        let Some((_, p0, rf0)) = before.iter().find(|(n, _, _)| n == name) else {
            continue;
        };
        if rf > rf0 {
            grow_rf.push((name.clone(), *parts.max(p0), *rf, *rf0));
        } else if rf < rf0 {
            shrink_rf.push((name.clone(), *parts.max(p0), *rf, *rf0));
        }
        if parts > p0 && !name.starts_with("__") {
            more_partitions.push((name.clone(), *p0, *parts));
        } else if parts < p0 && !name.starts_with("__") {
            let mut s = step(
                Action::AlterPartitions,
                Impact::DataLoss,
                format!(
                    "topic {name}: partitions cannot shrink ({p0} → {parts}); the topic is deleted and re-created"
                ),
            );
            s.data_risk = Some(format!("re-creating {name} deletes its messages"));
            s.refused = !opts.allow_data_loss;
            s.commands.push(topics(&["--delete", "--topic", name]));
            s.commands.push(topics(&[
                "--create",
                "--topic",
                name,
                "--partitions",
                &parts.to_string(),
                "--replication-factor",
                &rf.to_string(),
            ]));
            out.push(s);
        }
    }
    for (name, p0, parts) in more_partitions {
        let mut s = step(
            Action::AlterPartitions,
            Impact::DataMigration,
            format!(
                "topic {name}: {p0} → {parts} partitions; the topic Job only creates missing topics. Keys hash to other partitions afterwards: per-key ordering restarts"
            ),
        );
        s.commands.push(topics(&[
            "--alter",
            "--topic",
            &name,
            "--partitions",
            &parts.to_string(),
        ]));
        out.push(s);
    }
    if !grow_rf.is_empty() {
        let topics: Vec<(String, u32, u32)> = grow_rf
            .iter()
            .map(|(n, p, rf, _)| (n.clone(), *p, *rf))
            .collect();
        let file = "reassign.json";
        let mut s = step(
            Action::Reassign {
                files: vec![(file.into(), reassignment_json(&topics, brokers))],
            },
            Impact::DataMigration,
            format!(
                "raising default.replication.factor does not touch existing topics: reassign {} to {} replicas across {brokers} brokers",
                grow_rf
                    .iter()
                    .map(|(n, _, rf, rf0)| format!("{n} ({rf0} → {rf})"))
                    .collect::<Vec<_>>()
                    .join(", "),
                grow_rf.iter().map(|(_, _, rf, _)| *rf).max().unwrap_or(1)
            ),
        );
        s.commands = reassign_commands(ns, to.security.tls, file);
        out.push(s);
    }
    if !shrink_rf.is_empty() {
        let topics: Vec<(String, u32, u32)> = shrink_rf
            .iter()
            .map(|(n, p, rf, _)| (n.clone(), *p, *rf))
            .collect();
        let file = "shrink-rf.json";
        let mut s = step(
            Action::Reassign {
                files: vec![(file.into(), reassignment_json(&topics, brokers))],
            },
            Impact::DataLoss,
            format!(
                "replication factor decrease: {}",
                shrink_rf
                    .iter()
                    .map(|(n, _, rf, rf0)| format!("{n} {rf0} → {rf}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        s.data_risk =
            Some("fewer replicas: one broker failure can lose acknowledged messages".into());
        s.refused = !opts.allow_data_loss;
        s.commands = reassign_commands(ns, to.security.tls, file);
        out.push(s);
    }
    out
}

/// Broker settings whose change moves replicas.
const REPLICATION_SETTINGS: &[&str] = &[
    "default.replication.factor",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
];

/// Kafka: KRaft brokers, the topic Job, and kafka_exporter with full monitoring.
/// The Job that creates the profile's topics.
pub(crate) const TOPICS_JOB: &str = "kafka-topics";

pub const FACETS: super::Component = super::Component {
    id: super::ComponentId::Kafka,
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
        letter: 'K',
        ansi: "42",
        svg: "#59a14f",
    }),
    replicas_key,
    tier,
    impact,
    upgrade,
    migrate,
};

fn clients_of(ctx: &Ctx, server: super::ComponentId) -> Vec<String> {
    match server {
        super::ComponentId::Kafka if ctx.full_monitoring() => {
            vec![TOPICS_JOB.to_string(), EXPORTER.to_string()]
        }
        super::ComponentId::Kafka => vec![TOPICS_JOB.to_string()],
        _ => Vec::new(),
    }
}

fn monitor(ctx: &Ctx) -> Option<Object> {
    Some(crate::kube::scrape::pod_monitor(ctx, NAME, &[EXPORTER]))
}

fn memory(p: &Profile, _workload: &str, container: &str) -> BTreeMap<String, u64> {
    match (container, &p.kafka.controllers) {
        (NAME, _) => jvm(&p.kafka).map(|b| b.to_map()).unwrap_or_default(),
        (CONTROLLER, Some(c)) => controller_jvm(c).map(|b| b.to_map()).unwrap_or_default(),
        _ => BTreeMap::new(),
    }
}

fn explain_memory(key: &str, name: &str, p: &Profile) -> String {
    if key.split('.').next() != Some(NAME) {
        return String::new();
    }
    if key == "kafka.controllers" || key.starts_with("kafka.controllers.") {
        let Some(c) = &p.kafka.controllers else {
            return String::new();
        };
        let Ok(b) = controller_jvm(c) else {
            return String::new();
        };
        return crate::model::limit_table(
            "Kafka controller JVM",
            name,
            &c.resources.limits.memory,
            &b.to_map(),
        );
    }
    let Ok(b) = jvm(&p.kafka) else {
        return String::new();
    };
    crate::model::limit_table(
        "Kafka broker JVM",
        name,
        &p.kafka.resources.limits.memory,
        &b.to_map(),
    )
}

fn replicas_key(_name: &str) -> String {
    "kafka.brokers".into()
}

fn impact(kind: &str, name: &str, path: &str) -> Option<Impact> {
    match kind {
        "ConfigMap" => match crate::change::config_key(path) {
            Some(("server.properties", key)) => Some(if REPLICATION_SETTINGS.contains(&key) {
                Impact::DataMigration
            } else {
                Impact::Restart
            }),
            _ => None,
        },
        // Brokers hold partitions: their count moves data.
        "StatefulSet" if name == NAME && path == "spec.replicas" => Some(Impact::DataMigration),
        // Partitions or replication factors of existing topics.
        "Job" if path.contains("command") && name.starts_with(TOPICS_JOB) => {
            Some(Impact::DataMigration)
        }
        _ => None,
    }
}

fn migrate(from: &Profile, to: &Profile, opts: &Options, steps: &mut Vec<Step>) {
    if quorum_steps(from, to, opts, steps) {
        // A new cluster: nothing of the old one is upgraded, drained or reassigned.
        return;
    }
    upgrade_steps(from, to, opts, steps);
    steps.extend(migration_steps(from, to, opts));
    broker_count_steps(from, to, opts, steps);
}

/// The quorum's voters as a profile sets them: dedicated controllers, or every broker.
fn quorum(p: &Profile) -> (bool, u32) {
    match &p.kafka.controllers {
        Some(c) => (true, c.replicas),
        None => (false, p.kafka.brokers),
    }
}

/// A change of the controller quorum (combined ↔ dedicated, or another voter count). Kafka
/// reads `controller.quorum.voters` at start, and every node's metadata log records the voter
/// set it was formatted with: a running static quorum cannot change its voters (KIP-853's
/// dynamic quorum, `controller.quorum.bootstrap.servers`, is what could; amctl renders a static
/// one). Rewriting the config would split the cluster, so the change is refused; only an
/// installation whose Kafka data is ephemeral (a demo) may start over, with --allow-data-loss.
/// Returns whether the quorum changes.
fn quorum_steps(from: &Profile, to: &Profile, opts: &Options, steps: &mut Vec<Step>) -> bool {
    let (before, after) = (quorum(from), quorum(to));
    if before == after {
        return false;
    }
    let describe = |(dedicated, n): (bool, u32)| {
        if dedicated {
            format!("{n} dedicated controller(s)")
        } else {
            format!("{n} combined broker-controller(s)")
        }
    };
    let ephemeral = |p: &Profile| {
        let brokers =
            p.kafka.storage.effective(&p.storage).mode == crate::profile::StorageMode::Ephemeral;
        let controllers = p.kafka.controllers.as_ref().is_none_or(|c| {
            c.storage.effective(&p.storage).mode == crate::profile::StorageMode::Ephemeral
        });
        brokers && controllers
    };
    let what = format!(
        "the KRaft quorum changes from {} to {}: a static quorum's voters cannot change on a running cluster (every node's metadata log holds the voter set it was formatted with)",
        describe(before),
        describe(after)
    );
    let ns = &opts.namespace;
    let mut recreated = false;
    for s in steps.iter_mut() {
        let ours = matches!(s.object.name.as_str(), NAME | CONTROLLER)
            && s.object.kind == "StatefulSet"
            && !matches!(s.action, Action::Wait | Action::Exec);
        if !ours {
            continue;
        }
        if ephemeral(from) && matches!(s.action, Action::Delete | Action::Keep) {
            // The old controllers go (with --prune) as the new cluster forms without them.
            s.reason = format!("{what}; {}", s.reason);
        } else if ephemeral(from) && s.action == Action::Create {
            s.reason = format!("{what}; part of the new cluster");
            s.data_risk = Some("every topic and message of the current Kafka cluster is lost (its volumes are ephemeral)".into());
            s.refused = !opts.allow_data_loss;
            s.in_apply_stream = false;
        } else if ephemeral(from) {
            s.reason = format!(
                "{what}; Kafka's data is ephemeral here, so it starts over as a new cluster: every pod is deleted and re-created with the new quorum"
            );
            s.action = Action::Recreate;
            s.in_apply_stream = false;
            s.commands = vec![Command::kubectl([
                "delete",
                "statefulset",
                &s.object.name,
                "-n",
                ns,
                "--ignore-not-found",
                "--wait=true",
            ])];
            s.data_risk = Some("every topic and message of the current Kafka cluster is lost (its volumes are ephemeral)".into());
            s.refused = !opts.allow_data_loss;
            recreated = true;
        } else {
            s.refuse(
                None,
                format!("{what}. Keep FROM's quorum ([kafka.controllers] as it is; brokers scale freely with dedicated controllers), or build the new topology as a new cluster in another namespace and mirror the topics into it (MirrorMaker 2)"),
            );
        }
    }
    if recreated {
        // Deleted with its pods: no adopted pod is left to release.
        steps.retain(|s| {
            !(s.object.kind == "StatefulSet"
                && matches!(s.object.name.as_str(), NAME | CONTROLLER)
                && s.action == Action::Exec
                && s.commands
                    .iter()
                    .any(|c| c.to_string().starts_with("kubectl delete pod ")))
        });
    }
    if !recreated {
        // Nothing of the brokers changes while the quorum step is refused: no rollout to wait for.
        steps.retain(|s| {
            !(s.object.kind == "StatefulSet"
                && matches!(s.object.name.as_str(), NAME | CONTROLLER)
                && s.action == Action::Wait)
        });
    }
    true
}

/// The server's own check between two pods of a rolling change: no partition under-replicated
/// (kafka-topics.sh --describe --under-replicated-partitions prints nothing), asked of `pod`.
fn no_under_replicated(ns: &str, tls: bool, pod: &str) -> Command {
    let admin = admin_args(ns, tls).join(" ");
    let check = format!(
        "out=$(/opt/kafka/bin/kafka-topics.sh {admin} --describe --under-replicated-partitions) && [ -z \"$out\" ]"
    );
    crate::change::exec_until(
        ns,
        pod,
        NAME,
        &check,
        (10, 180),
        "partitions are still under-replicated after 30 minutes",
    )
}

/// A restarted controller has caught up: every voter's lag is 0 (kafka-metadata-quorum.sh
/// describe --replication, column `Lag`), asked through a broker.
fn quorum_caught_up(ns: &str, tls: bool) -> Command {
    let admin = admin_args(ns, tls).join(" ");
    let check = format!(
        "out=$(/opt/kafka/bin/kafka-metadata-quorum.sh {admin} describe --replication) && printf '%s\\n' \"$out\" | awk 'NR==1{{for(i=1;i<=NF;i++) if($i==\"Lag\") c=i; next}} !c || $c+0 > 0 {{bad=1}} END{{exit bad}}'"
    );
    crate::change::exec_until(
        ns,
        &format!("{NAME}-0"),
        NAME,
        &check,
        (5, 120),
        "the controller quorum has not caught up after 10 minutes",
    )
}

/// A version change: refused where Kafka does not support it; otherwise the controllers, then
/// the brokers, one pod at a time with Kafka's own health check between pods, then the
/// metadata version raised as its own step (kafka-features.sh upgrade --release-version; it
/// cannot be lowered again, so it needs --allow-data-migration).
fn upgrade_steps(from: &Profile, to: &Profile, opts: &Options, steps: &mut Vec<Step>) {
    let (Some(vf), Some(vt)) = (
        Version::of_image(&from.kafka.image),
        Version::of_image(&to.kafka.image),
    ) else {
        return;
    };
    let rule = upgrade_rule(&vf, &vt);
    let ns = &opts.namespace;
    let tls = to.security.tls;
    match &rule {
        Upgrade::Refused(why) => {
            let ours = |s: &Step| {
                s.object.kind == "StatefulSet"
                    && matches!(s.object.name.as_str(), NAME | CONTROLLER)
            };
            crate::change::refuse_workloads(steps, ours, None, why);
        }
        _ => {
            let mut seq = 1;
            let sets: Vec<(&str, u32)> = match (&from.kafka.controllers, &to.kafka.controllers) {
                (Some(_), Some(c)) => vec![
                    (CONTROLLER, c.replicas),
                    (NAME, to.kafka.brokers.min(from.kafka.brokers)),
                ],
                _ => vec![(NAME, to.kafka.brokers.min(from.kafka.brokers))],
            };
            // Everything hangs off the first StatefulSet rolled: the controllers when they roll.
            let mut after: Option<&str> = None;
            for (sts, replicas) in sets {
                // Any new pod template (a version, a setting, a size) rolls pod by pod.
                let Some(i) = steps.iter().position(|s| {
                    s.changes("StatefulSet", sts) && s.rolls_pods() && s.manifest.is_some()
                }) else {
                    continue;
                };
                steps.retain(|s| {
                    !(s.object.kind == "StatefulSet"
                        && s.object.name == sts
                        && s.action == Action::Wait)
                });
                let i = steps
                    .iter()
                    .position(|s| s.changes("StatefulSet", sts))
                    .unwrap_or(i);
                let s = &mut steps[i];
                if let Some(m) = s.manifest.as_mut() {
                    crate::change::hold_rollout(m, replicas);
                }
                s.in_apply_stream = false;
                let why = match &rule {
                    Upgrade::Same => "a new pod template: one pod at a time, with no under-replicated partition left before the next".to_string(),
                    other => other.why().to_string(),
                };
                s.reason = format!(
                    "{why}; applied with its rollout held (partition {replicas}), released pod by pod below"
                );
                if let Some(first) = after {
                    s.follows = Some(first.into());
                    s.seq = seq;
                    seq += 1;
                }
                let anchor = *after.get_or_insert(sts);
                let pods = if sts == CONTROLLER {
                    crate::change::pod_by_pod(
                        ns,
                        Phase::Resources,
                        sts,
                        replicas,
                        "every voter has caught up",
                        |_| quorum_caught_up(ns, tls),
                        seq,
                    )
                } else {
                    crate::change::pod_by_pod(
                        ns,
                        Phase::Resources,
                        sts,
                        replicas,
                        "no partition is under-replicated",
                        |i| no_under_replicated(ns, tls, &format!("{NAME}-{i}")),
                        seq,
                    )
                };
                seq += pods.len() as i16;
                steps.extend(pods.into_iter().map(|p| {
                    let seq = p.seq;
                    p.around(anchor, seq)
                }));
            }
            if vt.series() > vf.series() {
                let mut s = Step::new(
                    Phase::Resources,
                    ObjectKey { kind: "KafkaFeatures".into(), namespace: ns.clone(), name: NAME.into() },
                    Action::Exec,
                    Impact::DataMigration,
                    format!(
                        "raise the metadata version to {}.{} once every node runs {vt} (kafka-features.sh upgrade --release-version); until then the cluster runs the new binaries with the old metadata version and can still go back to {vf}",
                        vt.major(),
                        vt.minor()
                    ),
                )
                .around(after.unwrap_or(NAME), 200);
                s.commands.push(
                    Command::kubectl([
                        "exec",
                        "-n",
                        ns,
                        &format!("{NAME}-0"),
                        "-c",
                        NAME,
                        "--",
                        "/opt/kafka/bin/kafka-features.sh",
                    ])
                    .args(admin_args(ns, tls))
                    .args([
                        "upgrade",
                        "--release-version",
                        &format!("{}.{}", vt.major(), vt.minor()),
                    ]),
                );
                if !opts.allow_data_migration {
                    s.refuse(
                        Some("--allow-data-migration"),
                        format!("irreversible: the metadata version cannot be lowered again, and Kafka {vf} no longer starts on this cluster afterwards"),
                    );
                } else {
                    s.data_risk = Some(format!(
                        "irreversible: Kafka {vf} no longer starts on this cluster afterwards"
                    ));
                }
                steps.push(s);
            }
        }
    }
}

/// Brokers added or removed (dedicated controllers only; in combined mode that is a quorum
/// change). New brokers get partitions by a reassignment of every topic over all brokers; a
/// broker leaves only after a reassignment has moved its replicas away, and is then
/// unregistered (kafka-cluster.sh unregister). Refused while a topic's replication factor is
/// more than the brokers left.
fn broker_count_steps(from: &Profile, to: &Profile, opts: &Options, steps: &mut Vec<Step>) {
    let (b0, b1) = (from.kafka.brokers, to.kafka.brokers);
    if b0 == b1 || to.kafka.controllers.is_none() {
        return;
    }
    let ns = &opts.namespace;
    let tls = to.security.tls;
    let key = ObjectKey {
        kind: "KafkaTopics".into(),
        namespace: ns.clone(),
        name: NAME.into(),
    };
    let (before, after) = (topic_specs(from), topic_specs(to));
    let find = |specs: &[(String, u32, u32)], name: &str| {
        specs
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, p, rf)| (*p, *rf))
    };
    // Every topic as TO has it, with no fewer partitions than it has now.
    let topics: Vec<(String, u32, u32)> = after
        .iter()
        .map(|(name, parts, rf)| {
            let p0 = find(&before, name).map_or(*parts, |(p, _)| p);
            (name.clone(), (*parts).max(p0), *rf)
        })
        .collect();
    if b1 > b0 {
        let file = "scale-out.json";
        let mut s = Step::new(
            Phase::Resources,
            key,
            Action::Reassign { files: vec![(file.into(), reassignment_json(&topics, b1))] },
            Impact::DataMigration,
            format!("brokers {b0} → {b1}: new brokers start empty; every topic's partitions are reassigned over all {b1} brokers (throttled to {REASSIGN_THROTTLE} B/s), leaders move with them"),
        )
        .around(NAME, 150);
        s.commands = reassign_commands(ns, tls, file);
        steps.push(s);
        return;
    }
    // Scale-in: drain first.
    // The drain places every partition with TO's replication factor: a lower one only with
    // --allow-data-loss (then the drain is also the decrease, and the decrease step goes).
    let short: Vec<String> = before
        .iter()
        .filter_map(|(n, _, rf0)| {
            let rf = if opts.allow_data_loss {
                find(&after, n).map_or(*rf0, |(_, rf)| rf)
            } else {
                *rf0
            };
            (rf > b1).then(|| format!("{n} (replication factor {rf})"))
        })
        .collect();
    if short.is_empty() && opts.allow_data_loss {
        steps.retain(|s| {
            !(s.object.kind == "KafkaTopics"
                && s.impact == Impact::DataLoss
                && matches!(s.action, Action::Reassign { .. }))
        });
    }
    let gone: Vec<String> = (b1..b0).map(|i| format!("{NAME}-{i}")).collect();
    let file = "drain.json";
    let mut drain = Step::new(
        Phase::Resources,
        key.clone(),
        Action::Reassign { files: vec![(file.into(), reassignment_json(&topics, b1))] },
        Impact::DataMigration,
        format!("brokers {b0} → {b1}: move every replica off {} before they stop (the brokers {} keep every partition)", gone.join(", "), (0..b1).map(|i| i.to_string()).collect::<Vec<_>>().join(", ")),
    )
    .around(NAME, -20);
    drain.commands = reassign_commands(ns, tls, file);
    let mut unregister = Step::new(
        Phase::Resources,
        key,
        Action::Exec,
        Impact::None,
        format!(
            "{} left: remove their registrations from the cluster metadata",
            gone.join(", ")
        ),
    )
    .around(NAME, 150);
    for i in b1..b0 {
        unregister.commands.push(
            Command::kubectl([
                "exec",
                "-n",
                ns,
                "kafka-0",
                "-c",
                NAME,
                "--",
                "/opt/kafka/bin/kafka-cluster.sh",
                "unregister",
            ])
            .args(admin_args(ns, tls))
            .args(["--id", &i.to_string()]),
        );
    }
    if !short.is_empty() {
        let why = format!(
            "{} would lose a replica on {b1} broker(s); lower their replication factor first (a data-loss step of its own) or keep {} brokers",
            short.join(", "),
            b0
        );
        drain.refuse(None, why.clone());
        unregister.refuse(None, why.clone());
        for s in steps.iter_mut().filter(|s| s.changes("StatefulSet", NAME)) {
            s.refuse(None, why.clone());
        }
    } else {
        for s in steps.iter_mut().filter(|s| s.changes("StatefulSet", NAME)) {
            // The scale-down waits for the drain: not in the apply stream.
            s.in_apply_stream = false;
            s.reason = format!("{}; after the drain above", s.reason);
        }
    }
    steps.push(drain);
    steps.push(unregister);
}

/// A reassignment on the running cluster: the JSON `file` (from this machine) into `kafka-0`,
/// `kafka-reassign-partitions.sh --execute` throttled, then `--verify` until no move is in
/// progress (the verify also lifts the throttle once every move is done).
fn reassign_commands(ns: &str, tls: bool, file: &str) -> Vec<Command> {
    let tool = "/opt/kafka/bin/kafka-reassign-partitions.sh";
    let admin = admin_args(ns, tls).join(" ");
    let verify = format!(
        "out=$({tool} {admin} --reassignment-json-file /tmp/{file} --verify) && ! printf '%s' \"$out\" | grep -q 'in progress'"
    );
    let pod = format!("{NAME}-0");
    vec![
        Command::kubectl(["exec", "-i", "-n", ns, &pod, "-c", NAME, "--", "sh", "-c"])
            .args([format!("cat > /tmp/{file}")])
            .stdin(file),
        Command::kubectl(["exec", "-n", ns, &pod, "-c", NAME, "--", tool])
            .args(admin_args(ns, tls))
            .args([
                "--reassignment-json-file",
                &format!("/tmp/{file}"),
                "--execute",
                "--throttle",
                REASSIGN_THROTTLE,
            ]),
        crate::change::exec_until(
            ns,
            &pod,
            NAME,
            &verify,
            (30, 2880),
            "the reassignment has not finished after 24 hours",
        ),
    ]
}

/// Replication traffic of a reassignment, bytes per second per broker.
const REASSIGN_THROTTLE: &str = "50000000";

/// Clients in on the client port; brokers and controllers peer; the exporter (scraped) and the
/// topic Job out to the brokers.
fn network(ctx: &Ctx, clients: &[String]) -> Vec<Object> {
    use crate::kube::netpol::{Rules, pods, policy, scraper};
    let mut out = Vec::new();
    if ctx.full_monitoring() {
        out.push(policy(
            ctx,
            EXPORTER,
            NAME,
            k8s::name_in(&[EXPORTER]),
            Rules::new()
                .from(scraper(ctx), &[EXPORTER_PORT])
                .to(vec![pods(&[NAME])], &[CLIENT_PORT]),
        ));
    }
    if ctx.profile.kafka.controllers.is_some() {
        // Brokers fetch the metadata from the controllers; the controllers talk among
        // themselves and never to the brokers.
        out.push(policy(
            ctx,
            NAME,
            NAME,
            k8s::name_in(&[NAME]),
            Rules::new()
                .from(vec![pods(clients)], &[CLIENT_PORT])
                .from(vec![pods(&[NAME])], &[CLIENT_PORT])
                .to(vec![pods(&[NAME])], &[CLIENT_PORT])
                .to(vec![pods(&[CONTROLLER])], &[CONTROLLER_PORT]),
        ));
        out.push(policy(
            ctx,
            CONTROLLER,
            NAME,
            k8s::name_in(&[CONTROLLER]),
            Rules::new()
                .from(vec![pods(&[NAME, CONTROLLER])], &[CONTROLLER_PORT])
                .to(vec![pods(&[CONTROLLER])], &[CONTROLLER_PORT]),
        ));
    } else {
        let peer_ports = [CLIENT_PORT, CONTROLLER_PORT];
        out.push(policy(
            ctx,
            NAME,
            NAME,
            k8s::name_in(&[NAME]),
            Rules::new()
                .from(vec![pods(clients)], &[CLIENT_PORT])
                .from(vec![pods(&[NAME])], &peer_ports)
                .to(vec![pods(&[NAME])], &peer_ports),
        ));
    }
    out.push(policy(
        ctx,
        TOPICS_JOB,
        NAME,
        k8s::name_in(&[TOPICS_JOB]),
        Rules::new().to(vec![pods(&[NAME])], &[CLIENT_PORT]),
    ));
    out
}

/// Kafka's upgrade rules (docs/upgrade.html of 4.1: brokers are upgraded one at a time, then
/// `kafka-features.sh upgrade` raises the metadata version, which cannot be lowered again
/// without losing metadata; 4.0 runs KRaft only and upgrades from 3.3 or later).
pub(crate) fn upgrade_rule(from: &Version, to: &Version) -> Upgrade {
    if from == to {
        return Upgrade::Same;
    }
    if to < from {
        return if from.series() == to.series() {
            Upgrade::Rolling(format!(
                "Kafka {from} → {to}: a patch release of the same metadata versions; brokers one at a time"
            ))
        } else {
            Upgrade::Refused(format!(
                "Kafka {to} cannot run a metadata version {from} may have finalized (kafka-features.sh cannot lower it); stay on {}.{} or later",
                from.major(),
                from.minor()
            ))
        };
    }
    let skips =
        to.major() > from.major() + 1 || (to.major() == 4 && from.major() == 3 && from.minor() < 3);
    if skips {
        Upgrade::Refused(format!(
            "Kafka {to} does not upgrade from {from}: 4.x upgrades from KRaft clusters on 3.3 or later; upgrade to 3.9 first"
        ))
    } else {
        Upgrade::Rolling(format!(
            "Kafka {from} → {to}: controllers, then brokers, one at a time with no under-replicated partition left before the next; the metadata version is raised afterwards as its own step"
        ))
    }
}

fn upgrade(container: &str, from: &Version, to: &Version) -> Option<Upgrade> {
    matches!(container, NAME | CONTROLLER).then(|| upgrade_rule(from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_kafka_cluster_id_shape() {
        let id = base64url(&[0u8; 16]);
        assert_eq!(id, "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(base64url(&[0xff; 16]).len(), 22);
        assert_eq!(base64url(b"Man"), "TWFu");
    }
}
