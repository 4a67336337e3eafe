//! Kafka: a KRaft StatefulSet on the official image (every broker is also a controller), plus a
//! Job that creates the profile's topics.

use crate::change::{Action, Command, Impact, ObjectKey, Options, Phase, Step};
use crate::error::Error;
use crate::kube::k8s::{self, PodParts, StatefulSetParts};
use crate::kube::{Bundle, Object};
use crate::kube::{Ctx, hex, image_tag, tls};
use crate::profile::Profile;
use crate::profile::{Medium, Setting};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub(crate) const NAME: &str = "kafka";
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

pub(crate) fn server_properties(ctx: &Ctx) -> Result<String, Error> {
    let k = &ctx.profile.kafka;
    let headless = format!("kafka-headless.{}.svc", ctx.ns);
    let voters = (0..k.brokers)
        .map(|i| format!("{i}@{NAME}-{i}.{headless}:{CONTROLLER_PORT}"))
        .collect::<Vec<_>>()
        .join(",");
    ctx.template(
        "kafka/server.properties.j2",
        PropsContext {
            namespace: ctx.ns,
            voters,
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

pub fn render(ctx: &Ctx, bundle: &mut Bundle) -> Result<(), Error> {
    let k = &ctx.profile.kafka;
    let ns = ctx.ns;
    let labels = ctx.labels(NAME, "messaging", image_tag(&k.image));
    let selector = ctx.selector(NAME);

    bundle.push(NAME, ctx.service_account(NAME, labels.clone(), false));
    let mut files = BTreeMap::from([
        ("server.properties".to_string(), server_properties(ctx)?),
        (
            "start.sh".to_string(),
            ctx.template(
                "kafka/start.sh.j2",
                serde_json::json!({
                    "config_dir": CONFIG_DIR,
                    "work_dir": WORK_DIR,
                    "tls": tls::enabled(ctx),
                    "tls_dir": TLS_DIR,
                    "data_dir": DATA_DIR,
                    "log_dirs": log_dirs(k).join(","),
                    "log_dir_list": log_dirs(k),
                    "migrate_from_root": !k.settings.contains_key("log.dirs"),
                }),
            )?,
        ),
        (
            "log4j2.yaml".to_string(),
            ctx.template("kafka/log4j2.yaml.j2", serde_json::json!({}))?,
        ),
    ]);
    if tls::enabled(ctx) {
        files.insert("client.properties".into(), client_properties());
    }
    let config = ctx.config_map("kafka-config", labels.clone(), files);
    let annotations = ctx.pod_annotations(&[&config], None);
    bundle.push(NAME, Object::ConfigMap(config));

    for svc in k8s::stateful_services(
        NAME,
        ns,
        &labels,
        &selector,
        vec![
            k8s::service_port("client", CLIENT_PORT),
            k8s::service_port("controller", CONTROLLER_PORT),
        ],
        vec![k8s::service_port("client", CLIENT_PORT)],
    ) {
        bundle.push(NAME, Object::Service(svc));
    }

    let storage = k.storage.effective(&ctx.profile.storage);
    let (data_volume, claim) = k8s::data_volume("data", &storage, &labels);
    let mut container = k8s::container(NAME, &k.image, k8s::resources(&k.resources), true);
    container.command = Some(vec!["/bin/sh".into(), format!("{CONFIG_DIR}/start.sh")]);
    let mut env = vec![
        k8s::env_field("POD_NAME", "metadata.name"),
        k8s::env("KAFKA_HEAP_OPTS", k.heap_opts.as_str()),
        k8s::env("CLUSTER_ID", cluster_id(ctx)),
        k8s::env("LOG_DIR", LOG_DIR),
        // kafka-server-start.sh defaults to config/log4j2.yaml (six files, never deleted).
        k8s::env(
            "KAFKA_LOG4J_OPTS",
            format!("-Dlog4j2.configurationFile={CONFIG_DIR}/log4j2.yaml"),
        ),
        k8s::env("KAFKA_GC_LOG_OPTS", gc_log_opts()),
    ];
    if let Some(opts) = &k.jvm_opts {
        env.push(k8s::env("KAFKA_JVM_PERFORMANCE_OPTS", opts.as_str()));
    }
    container.env = Some(env);
    container.ports = Some(vec![
        k8s::container_port("client", CLIENT_PORT),
        k8s::container_port("controller", CONTROLLER_PORT),
    ]);
    container.readiness_probe = Some(k8s::tcp_probe("client", 10, 10, 3));
    container.liveness_probe = Some(k8s::tcp_probe("controller", 60, 15, 6));
    container.volume_mounts = Some(vec![
        k8s::mount("config", CONFIG_DIR, true),
        k8s::mount("data", DATA_DIR, false),
        k8s::mount("work", WORK_DIR, false),
        k8s::mount("logs", LOG_DIR, false),
        k8s::mount("tmp", "/tmp", false),
    ]);
    let mut volumes = k8s::volumes([
        k8s::config_volume("config", "kafka-config", None),
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
        tls::certificate(
            ctx,
            bundle,
            NAME,
            TLS_SECRET,
            tls::service_names(ctx, NAME, Some("kafka-headless")),
            true,
        );
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
            meta: k8s::meta(NAME, ns, labels.clone()),
            selector,
            replicas: k.brokers,
            service_name: "kafka-headless".into(),
            // Controllers need a quorum before any broker is Ready: start them together.
            parallel: true,
            template,
            claims: claim.into_iter().collect(),
        })),
    );

    if !k.topics.is_empty() {
        bundle.push(NAME, Object::Job(Box::new(topics_job(ctx, &labels)?)));
    }
    if ctx.full_monitoring() {
        let ca = tls::enabled(ctx).then_some(("kafka-ca", TLS_DIR));
        kafka_exporter(ctx, bundle, ca);
    }
    Ok(())
}

/// A Job that creates the topics (idempotent). Its name carries a hash of the script: a Job's pod
/// template is immutable, so a changed topic list is a new Job, never a rejected update.
fn topics_job(ctx: &Ctx, labels: &k8s::Labels) -> Result<Job, Error> {
    let k = &ctx.profile.kafka;
    let script = topics_script(ctx)?;
    let hash = hex(&Sha256::digest(script.as_bytes()))[..8].to_string();
    let name = format!("kafka-topics-{hash}");
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
    use crate::model::jvm::{JvmApp, JvmBreakdown, JvmFlags};
    let mut flags = JvmFlags::parse(k.jvm_opts.as_deref().unwrap_or(""))?;
    let heap = JvmFlags::parse(&k.heap_opts)?;
    flags.xmx = heap.xmx.or(Some(1 << 30));
    flags.xms = heap.xms.or(Some(1 << 30));
    let limit = k.resources.limits.memory.bytes().max(0) as u64;
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
    vec![Contract {
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
        // The controller port (the liveness probe's) opens before the broker loads its logs.
        startup_seconds: 60,
        key: "kafka".into(),
    }]
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
    if brokers > 1 && brokers.is_multiple_of(2) {
        cx.warn(
            "kafka.controllers.odd",
            "kafka.brokers",
            format!("{brokers} KRaft controllers (every broker is one): an even count tolerates no more failures than one fewer ({} of {brokers})", (brokers - 1) / 2),
            format!("use an odd number of brokers: {} or {}", brokers - 1, brokers + 1),
        );
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
                        format!("use -Xmx{}m (min(50% of the limit, 5 GiB), Strimzi's rule)", (limit / 2).min(5 << 30) >> 20),
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
        Command::kubectl(["exec", "-n", ns, "kafka-0", "--", tool])
            .args(admin_args(ns, to.security.tls))
            .args(args.iter().copied())
    };
    let topics = |args: &[&str]| admin("/opt/kafka/bin/kafka-topics.sh", args);
    let reassign = |args: &[&str]| admin("/opt/kafka/bin/kafka-reassign-partitions.sh", args);
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
            shrink_rf.push(format!("{name} {rf0} → {rf}"));
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
        let json = reassignment_json(&topics, brokers);
        let mut s = step(
            Action::reassign(),
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
        if let Action::Reassign { files } = &mut s.action {
            files.push(("reassign.json".into(), json));
        }
        s.commands.push(
            Command::kubectl([
                "exec",
                "-i",
                "-n",
                ns,
                "kafka-0",
                "--",
                "sh",
                "-c",
                "cat > /tmp/reassign.json",
            ])
            .stdin("reassign.json"),
        );
        s.commands.push(reassign(&[
            "--reassignment-json-file",
            "/tmp/reassign.json",
            "--execute",
        ]));
        s.commands.push(reassign(&[
            "--reassignment-json-file",
            "/tmp/reassign.json",
            "--verify",
        ]));
        out.push(s);
    }
    if !shrink_rf.is_empty() {
        let mut s = step(
            Action::reassign(),
            Impact::DataLoss,
            format!("replication factor decrease: {}", shrink_rf.join(", ")),
        );
        s.data_risk =
            Some("fewer replicas: one broker failure can lose acknowledged messages".into());
        s.refused = !opts.allow_data_loss;
        out.push(s);
    }
    if to.kafka.brokers < from.kafka.brokers {
        let gone: Vec<String> = (to.kafka.brokers..from.kafka.brokers)
            .map(|i| format!("kafka-{i}"))
            .collect();
        let mut s = step(
            Action::reassign(),
            Impact::DataLoss,
            format!(
                "brokers {} → {}: {} leave the cluster",
                from.kafka.brokers,
                to.kafka.brokers,
                gone.join(", ")
            ),
        );
        s.data_risk = Some(format!(
            "partition replicas on {} are lost unless reassigned away first, and a controller quorum that loses voters must be re-formed",
            gone.join(", ")
        ));
        s.refused = !opts.allow_data_loss;
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
    impact,
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
    if container == NAME {
        jvm(&p.kafka).map(|b| b.to_map()).unwrap_or_default()
    } else {
        BTreeMap::new()
    }
}

fn explain_memory(key: &str, name: &str, p: &Profile) -> String {
    if key.split('.').next() != Some(NAME) {
        return String::new();
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
    steps.extend(migration_steps(from, to, opts));
}

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
    out.push(policy(
        ctx,
        TOPICS_JOB,
        NAME,
        k8s::name_in(&[TOPICS_JOB]),
        Rules::new().to(vec![pods(&[NAME])], &[CLIENT_PORT]),
    ));
    out
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
