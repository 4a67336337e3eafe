//! Apache Flink in session mode: a JobManager Deployment and Service, TaskManagers, and the
//! Flink 2.x config.yaml. With `[flink.high_availability]`, Kubernetes HA services and the RBAC
//! they need.

use crate::change::{Options, Step, Upgrade};
use crate::components::kafka;
use crate::error::Error;
use crate::kube::k8s::{self, PodParts};
use crate::kube::{Bundle, Object};
use crate::kube::{Ctx, image_tag, tls};
use crate::profile::Version;
use crate::profile::{JvmOverhead, Medium, Setting};
use k8s_openapi::api::core::v1::Container;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use serde::Serialize;
use std::collections::BTreeMap;

pub(crate) const NAME: &str = "flink";
pub(crate) const JM: &str = "flink-jobmanager";
pub(crate) const TM: &str = "flink-taskmanager";
pub(crate) const RPC_PORT: i32 = 6123;
pub(crate) const BLOB_PORT: i32 = 6124;
pub(crate) const REST_PORT: i32 = 8081;
pub(crate) const TM_RPC_PORT: i32 = 6122;
pub(crate) const TM_DATA_PORT: i32 = 6121;
pub(crate) const METRICS_PORT: i32 = 9249;
/// The official image's flink user.
const UID: i64 = 9999;
pub(crate) const TLS_SECRET: &str = "flink-tls";
const TLS_DIR: &str = "/etc/flink-tls";
const TLS_PASSWORD_DIR: &str = "/etc/flink-tls-password";
const KAFKA_CA_DIR: &str = "/etc/kafka-ca";
const S3_DIR: &str = "/etc/flink-s3";
pub(crate) const DEFAULT_HA_CLUSTER_ID: &str = "audience-manager-flink";
/// The claim a `file://` checkpoint directory lives on.
pub(crate) const CHECKPOINT_CLAIM: &str = "flink-checkpoints";
/// RocksDB's working directory on each TaskManager's own volume.
pub(crate) const ROCKSDB_DIR: &str = "/flink-rocksdb";
const LOG_DIR: &str = "/opt/flink/log";
const LOG_VOLUME: &str = "512Mi";
/// `env.log.max`: rolled log files kept besides the current one. log4j-console.properties rolls
/// at 100MB and keeps `${env:MAX_LOG_FILE_NUMBER:-10}`, which bin/config.sh sets from this key.
const LOG_FILES_KEPT: u64 = 3;
const LOG_FILE_BYTES: u64 = 100_000_000;

/// The local path of a `file://` URI (`file:///flink-checkpoints` → `/flink-checkpoints`).
pub(crate) fn local_path(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("file://")?;
    Some(if rest.is_empty() { "/" } else { rest })
}

/// RocksDB's working directory as the TaskManager reads it: the profile's setting, else amctl's.
pub(crate) fn rocksdb_dir(f: &crate::profile::Flink) -> String {
    match f.settings.get("state.backend.rocksdb.localdir") {
        Some(v) => v.to_string(),
        None => ROCKSDB_DIR.to_string(),
    }
}

/// Whether a Flink path needs the S3 filesystem plugin.
pub(crate) fn needs_s3(path: &str) -> bool {
    path.starts_with("s3://") || path.starts_with("s3a://") || path.starts_with("s3p://")
}

fn uses_s3(ctx: &Ctx) -> bool {
    let f = &ctx.profile.flink;
    needs_s3(&f.checkpoint_dir)
        || f.high_availability
            .as_ref()
            .is_some_and(|ha| needs_s3(&ha.storage_dir))
}

/// Every config.yaml key amctl writes, in order, as (key, YAML scalar).
pub(crate) fn config_entries(ctx: &Ctx) -> Vec<(String, String)> {
    let f = &ctx.profile.flink;
    let mut e: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| e.push((k.to_string(), v));
    let s = |v: &str| serde_json::Value::String(v.to_string()).to_string();
    put("jobmanager.rpc.address", s(&ctx.dns(JM)));
    put("jobmanager.rpc.port", RPC_PORT.to_string());
    put("jobmanager.bind-host", s("0.0.0.0"));
    put("taskmanager.bind-host", s("0.0.0.0"));
    put("taskmanager.rpc.port", TM_RPC_PORT.to_string());
    // A fixed shuffle port (default: random) so network policies can allow TaskManager peers.
    put("taskmanager.data.port", TM_DATA_PORT.to_string());
    put("blob.server.port", BLOB_PORT.to_string());
    put("rest.port", REST_PORT.to_string());
    put("rest.bind-address", s("0.0.0.0"));

    let jm = &f.jobmanager;
    put(
        "jobmanager.memory.process.size",
        s(jm.process_size.as_str()),
    );
    if let Some(v) = &jm.jvm_metaspace {
        put("jobmanager.memory.jvm-metaspace.size", s(v.as_str()));
    }
    if let Some(v) = &jm.off_heap {
        put("jobmanager.memory.off-heap.size", s(v.as_str()));
    }
    overhead(&mut put, "jobmanager", &jm.jvm_overhead);

    let tm = &f.taskmanager;
    put(
        "taskmanager.memory.process.size",
        s(tm.process_size.as_str()),
    );
    put("taskmanager.numberOfTaskSlots", tm.task_slots.to_string());
    let sizes = [
        ("taskmanager.memory.managed.size", &tm.managed_size),
        ("taskmanager.memory.network.min", &tm.network_min),
        ("taskmanager.memory.network.max", &tm.network_max),
        ("taskmanager.memory.jvm-metaspace.size", &tm.jvm_metaspace),
        ("taskmanager.memory.framework.heap.size", &tm.framework_heap),
        (
            "taskmanager.memory.framework.off-heap.size",
            &tm.framework_off_heap,
        ),
        ("taskmanager.memory.task.off-heap.size", &tm.task_off_heap),
    ];
    if let Some(v) = tm.managed_fraction {
        put("taskmanager.memory.managed.fraction", v.to_string());
    }
    if let Some(v) = tm.network_fraction {
        put("taskmanager.memory.network.fraction", v.to_string());
    }
    for (k, v) in sizes {
        if let Some(v) = v {
            put(k, s(v.as_str()));
        }
    }
    overhead(&mut put, "taskmanager", &tm.jvm_overhead);

    // Rolled log files kept (the image keeps 10 of 100MB, more than the log volume holds).
    put("env.log.max", LOG_FILES_KEPT.to_string());
    put("parallelism.default", f.parallelism_default.to_string());
    put(
        "state.backend.type",
        s(match f.state_backend {
            crate::profile::StateBackend::Rocksdb => "rocksdb",
            crate::profile::StateBackend::Hashmap => "hashmap",
        }),
    );
    if f.state_backend == crate::profile::StateBackend::Rocksdb {
        put(
            "state.backend.rocksdb.memory.managed",
            f.rocksdb_memory_managed.to_string(),
        );
        // Its own volume: by default RocksDB works in io.tmp.dirs, the pod's small /tmp.
        if !f.settings.contains_key("state.backend.rocksdb.localdir") {
            put("state.backend.rocksdb.localdir", s(ROCKSDB_DIR));
        }
        // RocksDB's info logs (4 × 25mb per instance, one instance per slot and keyed operator)
        // beside its files, not in Flink's log directory, whose volume holds Flink's own logs.
        if !f.settings.contains_key("state.backend.rocksdb.log.dir") {
            put("state.backend.rocksdb.log.dir", s(&rocksdb_dir(f)));
        }
    }
    put("execution.checkpointing.dir", s(&f.checkpoint_dir));
    put(
        "execution.checkpointing.interval",
        s(f.checkpoint_interval.as_str()),
    );
    if let Some(ha) = &f.high_availability {
        put("high-availability.type", s("kubernetes"));
        put("high-availability.storageDir", s(&ha.storage_dir));
        put(
            "kubernetes.cluster-id",
            s(ha.cluster_id.as_deref().unwrap_or(DEFAULT_HA_CLUSTER_ID)),
        );
        put("kubernetes.namespace", s(ctx.ns));
    }
    if tls::enabled(ctx) {
        // Internal traffic (RPC, blobs, shuffle) with mutual TLS, and the REST endpoint. The
        // stores come from the certificate Secret (PKCS#12); their password is appended to the
        // writable config copy by prepare.sh from the password Secret, never put in a ConfigMap.
        for scope in ["internal", "rest"] {
            put(&format!("security.ssl.{scope}.enabled"), "true".to_string());
            put(
                &format!("security.ssl.{scope}.keystore"),
                s(&format!("{TLS_DIR}/keystore.p12")),
            );
            put(
                &format!("security.ssl.{scope}.truststore"),
                s(&format!("{TLS_DIR}/truststore.p12")),
            );
        }
    }
    if ctx.profile.monitoring.level.metrics() {
        put(
            "metrics.reporter.prom.factory.class",
            s("org.apache.flink.metrics.prometheus.PrometheusReporterFactory"),
        );
        put("metrics.reporter.prom.port", METRICS_PORT.to_string());
    }
    for (k, v) in &f.settings {
        let value = match v {
            Setting::Str(x) => s(x),
            other => other.to_string(),
        };
        put(k, value);
    }
    e
}

fn overhead(put: &mut impl FnMut(&str, String), process: &str, o: &JvmOverhead) {
    if let Some(v) = o.fraction {
        put(
            &format!("{process}.memory.jvm-overhead.fraction"),
            v.to_string(),
        );
    }
    if let Some(v) = &o.min {
        put(
            &format!("{process}.memory.jvm-overhead.min"),
            serde_json::Value::String(v.as_str().into()).to_string(),
        );
    }
    if let Some(v) = &o.max {
        put(
            &format!("{process}.memory.jvm-overhead.max"),
            serde_json::Value::String(v.as_str().into()).to_string(),
        );
    }
}

#[derive(Serialize)]
struct InitContext {
    s3: bool,
    s3_credentials: bool,
    s3_dir: &'static str,
    tls: bool,
    password_file: String,
}

/// The S3 credentials Secret, when an s3:// path needs one and the profile names it.
fn s3_secret<'a>(ctx: &Ctx<'a>) -> Option<&'a str> {
    uses_s3(ctx)
        .then_some(ctx.profile.flink.s3_credentials_secret.as_deref())
        .flatten()
}

pub fn render(ctx: &Ctx, bundle: &mut Bundle) -> Result<(), Error> {
    let f = &ctx.profile.flink;
    let ns = ctx.ns;
    let version = image_tag(&f.image);
    let labels = ctx.labels(NAME, "stream-processing", version);
    let ha = f.high_availability.is_some();
    let s3 = uses_s3(ctx);

    // Kubernetes HA keeps leader information in ConfigMaps and leases: only then does Flink
    // need an API token.
    bundle.push(NAME, ctx.service_account(NAME, labels.clone(), ha));
    if ha {
        bundle.push(
            NAME,
            Object::Role(Role {
                metadata: k8s::meta("flink-ha", ns, labels.clone()),
                rules: Some(vec![
                    PolicyRule {
                        api_groups: Some(vec![String::new()]),
                        resources: Some(vec!["configmaps".into()]),
                        verbs: [
                            "get", "list", "watch", "create", "update", "patch", "delete",
                        ]
                        .map(String::from)
                        .to_vec(),
                        ..Default::default()
                    },
                    PolicyRule {
                        api_groups: Some(vec!["coordination.k8s.io".into()]),
                        resources: Some(vec!["leases".into()]),
                        verbs: [
                            "get", "list", "watch", "create", "update", "patch", "delete",
                        ]
                        .map(String::from)
                        .to_vec(),
                        ..Default::default()
                    },
                ]),
            }),
        );
        bundle.push(
            NAME,
            Object::RoleBinding(RoleBinding {
                metadata: k8s::meta("flink-ha", ns, labels.clone()),
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "Role".into(),
                    name: "flink-ha".into(),
                },
                subjects: Some(vec![Subject {
                    kind: "ServiceAccount".into(),
                    name: NAME.into(),
                    namespace: Some(ns.into()),
                    ..Default::default()
                }]),
            }),
        );
    }

    let config_yaml = ctx.template(
        "flink/config.yaml.j2",
        serde_json::json!({ "namespace": ns, "entries": config_entries(ctx) }),
    )?;
    let tls = tls::enabled(ctx);
    let init_script = ctx.template(
        "flink/prepare.sh.j2",
        InitContext {
            s3,
            s3_credentials: s3_secret(ctx).is_some(),
            s3_dir: S3_DIR,
            tls,
            password_file: format!("{TLS_PASSWORD_DIR}/password"),
        },
    )?;
    let mut files = BTreeMap::from([
        ("config.yaml".to_string(), config_yaml),
        ("prepare.sh".to_string(), init_script),
    ]);
    if tls {
        // The segment job's Kafka client settings (the job reads KAFKA_CLIENT_CONFIG).
        files.insert(
            "kafka-client.properties".into(),
            format!(
                "# Rendered by amctl: Kafka client settings for the segment job.\n{}",
                kafka::tls_client_properties(&format!("{KAFKA_CA_DIR}/ca.crt"))
            ),
        );
        tls::certificate_with_keystore(
            ctx,
            bundle,
            NAME,
            TLS_SECRET,
            tls::service_names(ctx, JM, None),
            &ctx.profile.flink.tls_password_secret,
        );
    }
    let config = ctx.config_map("flink-config", labels.clone(), files);
    if let (Some(_), Some(v)) = (local_path(&f.checkpoint_dir), &f.checkpoint_volume) {
        bundle.push(
            NAME,
            Object::PersistentVolumeClaim(Box::new(checkpoint_claim(ctx, v, &labels))),
        );
    }
    let metrics = (ctx.profile.monitoring.level.metrics()).then_some((METRICS_PORT, "/metrics"));
    let annotations = ctx.pod_annotations(&[&config], metrics);
    bundle.push(NAME, Object::ConfigMap(config));

    let jm_selector = ctx.selector(JM);
    let mut jm_labels = labels.clone();
    jm_labels.extend(jm_selector.clone());
    bundle.push(
        NAME,
        Object::Service(k8s::service(
            k8s::meta(JM, ns, jm_labels.clone()),
            jm_selector.clone(),
            vec![
                k8s::service_port("rpc", RPC_PORT),
                k8s::service_port("blob", BLOB_PORT),
                k8s::service_port("rest", REST_PORT),
            ],
            false,
            Some("ClusterIP"),
        )),
    );

    // JobManager
    let jm = &f.jobmanager;
    let mut jm_container = flink_container(ctx, "jobmanager", &jm.resources);
    let mut args = vec!["jobmanager".to_string()];
    let mut env = jm_container.env.take().unwrap_or_default();
    if ha {
        // Each JobManager advertises its own address; TaskManagers find the leader via HA.
        env.push(k8s::env_field("POD_IP", "status.podIP"));
        env.push(k8s::env("JOB_MANAGER_RPC_ADDRESS", "$(POD_IP)"));
        args.push("$(POD_IP)".into());
    } else {
        env.push(k8s::env("JOB_MANAGER_RPC_ADDRESS", ctx.dns(JM)));
    }
    jm_container.env = Some(env);
    jm_container.args = Some(args);
    let mut ports = vec![
        k8s::container_port("rpc", RPC_PORT),
        k8s::container_port("blob", BLOB_PORT),
        k8s::container_port("rest", REST_PORT),
    ];
    if metrics.is_some() {
        ports.push(k8s::container_port("metrics", METRICS_PORT));
    }
    jm_container.ports = Some(ports);
    jm_container.readiness_probe = Some(k8s::tcp_probe("rest", 10, 10, 3));
    jm_container.liveness_probe = Some(k8s::tcp_probe("rpc", 30, 15, 6));
    let mut template = k8s::pod_template(PodParts {
        labels: jm_labels.clone(),
        annotations: annotations.clone(),
        service_account: NAME.into(),
        security: k8s::pod_security(UID, UID),
        init_containers: vec![prepare_container(ctx)],
        containers: vec![jm_container],
        volumes: flink_volumes(ctx, false),
        termination_grace_seconds: None,
    });
    with_api_token(&mut template, ha);
    bundle.push(
        NAME,
        Object::Deployment(k8s::deployment(
            k8s::meta(JM, ns, jm_labels),
            jm_selector,
            Some(jm.replicas),
            template,
        )),
    );

    // TaskManagers
    let tm = &f.taskmanager;
    let tm_selector = ctx.selector(TM);
    let mut tm_labels = labels;
    tm_labels.extend(tm_selector.clone());
    let mut tm_container = flink_container(ctx, "taskmanager", &tm.resources);
    if f.state_backend == crate::profile::StateBackend::Rocksdb
        && let Some(m) = tm_container.volume_mounts.as_mut()
    {
        m.push(k8s::mount("rocksdb", ROCKSDB_DIR, false));
    }
    let mut env = tm_container.env.take().unwrap_or_default();
    env.push(k8s::env("JOB_MANAGER_RPC_ADDRESS", ctx.dns(JM)));
    tm_container.env = Some(env);
    tm_container.args = Some(vec!["taskmanager".into()]);
    let mut ports = vec![
        k8s::container_port("rpc", TM_RPC_PORT),
        k8s::container_port("data", TM_DATA_PORT),
    ];
    if metrics.is_some() {
        ports.push(k8s::container_port("metrics", METRICS_PORT));
    }
    tm_container.ports = Some(ports);
    tm_container.readiness_probe = Some(k8s::tcp_probe("rpc", 10, 10, 3));
    tm_container.liveness_probe = Some(k8s::tcp_probe("rpc", 30, 15, 6));
    let mut template = k8s::pod_template(PodParts {
        labels: tm_labels.clone(),
        annotations,
        service_account: NAME.into(),
        security: k8s::pod_security(UID, UID),
        init_containers: vec![prepare_container(ctx)],
        containers: vec![tm_container],
        volumes: flink_volumes(ctx, true),
        termination_grace_seconds: None,
    });
    with_api_token(&mut template, ha);
    bundle.push(
        NAME,
        Object::Deployment(k8s::deployment(
            k8s::meta(TM, ns, tm_labels),
            tm_selector,
            Some(tm.replicas),
            template,
        )),
    );
    Ok(())
}

/// Kubernetes HA elects the leader through the API: only then do Flink's pods get a token.
fn with_api_token(template: &mut k8s_openapi::api::core::v1::PodTemplateSpec, ha: bool) {
    if let Some(spec) = template.spec.as_mut() {
        spec.automount_service_account_token = Some(ha);
    }
}

fn flink_container(ctx: &Ctx, name: &str, res: &crate::profile::Resources) -> Container {
    let f = &ctx.profile.flink;
    let mut c = k8s::container(name, &f.image, k8s::resources(res), true);
    let mut env = Vec::new();
    let mut mounts = vec![
        // The entrypoint edits files in conf/, so conf/ is a writable copy (see prepare.sh).
        k8s::mount("conf", "/opt/flink/conf", false),
        k8s::mount("plugins", "/opt/flink/plugins", false),
        k8s::mount("log", LOG_DIR, false),
        k8s::mount("tmp", "/tmp", false),
    ];
    if let (Some(path), Some(_)) = (local_path(&f.checkpoint_dir), &f.checkpoint_volume) {
        // Every Flink pod writes and reads the same checkpoints.
        mounts.push(k8s::mount("checkpoints", path, false));
    }
    if tls::enabled(ctx) {
        mounts.push(k8s::mount("tls", TLS_DIR, true));
        mounts.push(k8s::mount("kafka-ca", KAFKA_CA_DIR, true));
        env.push(k8s::env(
            "KAFKA_CLIENT_CONFIG",
            "/etc/flink-amctl/kafka-client.properties",
        ));
        mounts.push(k8s::mount("flink-config", "/etc/flink-amctl", true));
    }
    c.env = Some(env);
    c.volume_mounts = Some(mounts);
    c
}

/// The claim behind a `file://` checkpoint directory.
fn checkpoint_claim(
    ctx: &Ctx,
    v: &crate::profile::SharedVolume,
    labels: &k8s::Labels,
) -> k8s_openapi::api::core::v1::PersistentVolumeClaim {
    use k8s_openapi::api::core::v1::{
        PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
    };
    PersistentVolumeClaim {
        metadata: k8s::meta(CHECKPOINT_CLAIM, ctx.ns, labels.clone()),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec![v.access_mode.as_str().to_string()]),
            storage_class_name: v
                .class
                .clone()
                .or_else(|| ctx.profile.storage.class.clone()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    k8s::q(v.size.0.as_str()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Copies the image's conf/ and plugins/ into writable volumes and puts amctl's config.yaml
/// (and the S3 filesystem plugin when a path needs it) in place.
fn prepare_container(ctx: &Ctx) -> Container {
    let f = &ctx.profile.flink;
    let mut c = k8s::container("prepare", &f.image, k8s::helper_resources(), true);
    c.command = Some(vec!["/bin/sh".into(), "/etc/flink-amctl/prepare.sh".into()]);
    let mut mounts = vec![
        k8s::mount("flink-config", "/etc/flink-amctl", true),
        k8s::mount("conf", "/flink-conf", false),
        k8s::mount("plugins", "/flink-plugins", false),
    ];
    if tls::enabled(ctx) {
        mounts.push(k8s::mount("tls-password", TLS_PASSWORD_DIR, true));
    }
    if s3_secret(ctx).is_some() {
        mounts.push(k8s::mount("s3-credentials", S3_DIR, true));
    }
    c.volume_mounts = Some(mounts);
    c
}

fn flink_volumes(ctx: &Ctx, taskmanager: bool) -> Vec<k8s_openapi::api::core::v1::Volume> {
    let f = &ctx.profile.flink;
    let mut v = k8s::volumes([
        k8s::config_volume("flink-config", "flink-config", None),
        k8s::empty_dir("conf", Medium::Disk, "16Mi"),
        k8s::empty_dir("plugins", Medium::Disk, "512Mi"),
        k8s::empty_dir("log", Medium::Disk, LOG_VOLUME),
        // Blobs (job jars) and web uploads.
        k8s::empty_dir("tmp", Medium::Disk, "2Gi"),
    ]);
    if local_path(&f.checkpoint_dir).is_some() && f.checkpoint_volume.is_some() {
        v.push(k8s_openapi::api::core::v1::Volume {
            name: "checkpoints".into(),
            persistent_volume_claim: Some(
                k8s_openapi::api::core::v1::PersistentVolumeClaimVolumeSource {
                    claim_name: CHECKPOINT_CLAIM.into(),
                    read_only: None,
                },
            ),
            ..Default::default()
        });
    }
    if taskmanager && f.state_backend == crate::profile::StateBackend::Rocksdb {
        v.push(local_state_volume(ctx));
    }
    if let Some(secret) = s3_secret(ctx) {
        v.push(k8s::secret_files(
            "s3-credentials",
            &[
                (secret, "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
                (secret, "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
            ],
        ));
    }
    if tls::enabled(ctx) {
        v.push(k8s::secret_files(
            "tls",
            &[
                (TLS_SECRET, "keystore.p12", "keystore.p12"),
                (TLS_SECRET, "truststore.p12", "truststore.p12"),
            ],
        ));
        v.push(k8s::secret_files(
            "tls-password",
            &[(
                ctx.profile.flink.tls_password_secret.as_str(),
                "password",
                "password",
            )],
        ));
        v.push(tls::ca_volume("kafka-ca", kafka::TLS_SECRET));
    }
    v
}

/// RocksDB's volume on a TaskManager: an emptyDir, or with persistent storage a claim that is
/// created and deleted with the pod (a generic ephemeral volume, from the storage class).
fn local_state_volume(ctx: &Ctx) -> k8s_openapi::api::core::v1::Volume {
    use k8s_openapi::api::core::v1::{
        EphemeralVolumeSource, PersistentVolumeClaimSpec, PersistentVolumeClaimTemplate, Volume,
        VolumeResourceRequirements,
    };
    let st = ctx
        .profile
        .flink
        .taskmanager
        .local_state
        .effective(&ctx.profile.storage);
    match st.mode {
        crate::profile::StorageMode::Ephemeral => {
            k8s::empty_dir("rocksdb", st.medium, st.size.0.as_str())
        }
        crate::profile::StorageMode::Persistent => Volume {
            name: "rocksdb".into(),
            ephemeral: Some(EphemeralVolumeSource {
                volume_claim_template: Some(PersistentVolumeClaimTemplate {
                    metadata: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                        labels: Some(ctx.selector(TM)),
                        ..Default::default()
                    }),
                    spec: PersistentVolumeClaimSpec {
                        access_modes: Some(vec!["ReadWriteOnce".into()]),
                        storage_class_name: st.class.clone(),
                        resources: Some(VolumeResourceRequirements {
                            requests: Some(BTreeMap::from([(
                                "storage".to_string(),
                                k8s::q(st.size.0.as_str()),
                            )])),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                }),
            }),
            ..Default::default()
        },
    }
}

pub(crate) fn tm_options(tm: &crate::profile::TaskManager) -> crate::model::flink::TmOptions {
    let b = |s: &Option<crate::units::JvmSize>| s.as_ref().map(|s| s.bytes);
    crate::model::flink::TmOptions {
        process_size: tm.process_size.bytes,
        metaspace: b(&tm.jvm_metaspace),
        overhead_fraction: tm.jvm_overhead.fraction,
        overhead_min: b(&tm.jvm_overhead.min),
        overhead_max: b(&tm.jvm_overhead.max),
        managed_fraction: tm.managed_fraction,
        managed_size: b(&tm.managed_size),
        network_fraction: tm.network_fraction,
        network_min: b(&tm.network_min),
        network_max: b(&tm.network_max),
        framework_heap: b(&tm.framework_heap),
        framework_off_heap: b(&tm.framework_off_heap),
        task_off_heap: b(&tm.task_off_heap),
    }
}

pub(crate) fn jm_options(jm: &crate::profile::JobManager) -> crate::model::flink::JmOptions {
    let b = |s: &Option<crate::units::JvmSize>| s.as_ref().map(|s| s.bytes);
    crate::model::flink::JmOptions {
        process_size: jm.process_size.bytes,
        metaspace: b(&jm.jvm_metaspace),
        off_heap: b(&jm.off_heap),
        overhead_fraction: jm.jvm_overhead.fraction,
        overhead_min: b(&jm.jvm_overhead.min),
        overhead_max: b(&jm.jvm_overhead.max),
    }
}

/// Task heap below this per slot leaves user code no room (`flink.taskmanager.task-heap`).
pub(crate) const MIN_TASK_HEAP_PER_SLOT: u64 = 32 << 20;

pub fn check(cx: &crate::rules::Check) {
    use crate::model::flink::{jobmanager, smallest_taskmanager, taskmanager};
    use crate::model::mib;
    let f = &cx.profile.flink;
    let tm = &f.taskmanager;
    let jm = &f.jobmanager;

    match taskmanager(&tm_options(tm)) {
        Err(e) => {
            let smallest = smallest_taskmanager(&crate::model::flink::TmOptions {
                process_size: 0,
                ..tm_options(tm)
            });
            cx.error(
                "flink.taskmanager.memory",
                "flink.taskmanager.process_size|flink.taskmanager.managed_fraction|flink.taskmanager.managed_size|flink.taskmanager.network_fraction|flink.taskmanager.network_min|flink.taskmanager.network_max|flink.taskmanager.jvm_metaspace|flink.taskmanager.framework_heap|flink.taskmanager.framework_off_heap|flink.taskmanager.task_off_heap|flink.taskmanager.jvm_overhead",
                format!("taskmanager.memory.process.size = {}: {e}", tm.process_size),
                match smallest {
                    Some(s) => format!(
                        "use process_size = \"{}m\" or more (the smallest Flink accepts with these options), or lower jvm_metaspace / managed_fraction",
                        s.div_ceil(1 << 20)
                    ),
                    None => "lower the explicit memory sizes".to_string(),
                },
            );
        }
        Ok(m) if tm.task_slots > 0 && m.task_heap / u64::from(tm.task_slots) < MIN_TASK_HEAP_PER_SLOT => cx.warn(
            "flink.taskmanager.task-heap",
            "flink.taskmanager.process_size|flink.taskmanager.managed_fraction|flink.taskmanager.managed_size|flink.taskmanager.task_slots|flink.taskmanager.jvm_metaspace",
            format!(
                "task heap {} for {} slots leaves {} per slot for user code",
                mib(m.task_heap),
                tm.task_slots,
                mib(m.task_heap / u64::from(tm.task_slots))
            ),
            "raise process_size or lower managed_fraction",
        ),
        Ok(_) => {}
    }
    if let Err(e) = jobmanager(&jm_options(jm)) {
        cx.error(
            "flink.jobmanager.memory",
            "flink.jobmanager.process_size|flink.jobmanager.jvm_metaspace|flink.jobmanager.off_heap|flink.jobmanager.jvm_overhead",
            format!("jobmanager.memory.process.size = {}: {e}", jm.process_size),
            "use process_size = \"768m\" or more",
        );
    }
    for (key, process, res, what) in [
        (
            "flink.taskmanager.resources.limits.memory|flink.taskmanager.process_size|flink.taskmanager.resources",
            &tm.process_size,
            &tm.resources,
            "TaskManager",
        ),
        (
            "flink.jobmanager.resources.limits.memory|flink.jobmanager.process_size|flink.jobmanager.resources",
            &jm.process_size,
            &jm.resources,
            "JobManager",
        ),
    ] {
        let limit = res.limits.memory.bytes().max(0) as u64;
        if limit < process.bytes {
            cx.error(
                "flink.container-limit",
                key,
                format!(
                    "the {what} container limit {} is below its Flink process size {} ({}): the JVM is OOMKilled when it uses what Flink budgeted",
                    res.limits.memory,
                    process,
                    mib(process.bytes)
                ),
                format!("set the limit to at least {}Mi, or lower process_size", process.bytes.div_ceil(1 << 20)),
            );
        }
    }
    if tm.replicas == 0 || tm.task_slots == 0 {
        cx.error(
            "flink.parallelism.slots",
            if tm.replicas == 0 {
                "flink.taskmanager.replicas"
            } else {
                "flink.taskmanager.task_slots"
            },
            "there are no task slots: no job can run",
            "set taskmanager.replicas and task_slots to at least 1",
        );
    } else {
        let slots = tm.replicas * tm.task_slots;
        if f.parallelism_default > slots {
            cx.error(
                "flink.parallelism.slots",
                "flink.parallelism_default|flink.taskmanager.replicas|flink.taskmanager.task_slots",
                format!(
                    "parallelism.default = {} needs {} slots, but {} TaskManagers × {} slots give {slots}: jobs wait for resources forever",
                    f.parallelism_default, f.parallelism_default, tm.replicas, tm.task_slots
                ),
                format!(
                    "lower parallelism_default to {slots} or raise taskmanager.replicas to {}",
                    f.parallelism_default.div_ceil(tm.task_slots)
                ),
            );
        }
    }
    if let Some(topic) = &f.source_topic {
        let k = &cx.profile.kafka;
        match k.topics.iter().find(|t| &t.name == topic) {
            None => cx.warn(
                "flink.source-topic",
                "flink.source_topic",
                format!("source topic `{topic}` is not among kafka.topics; it will be auto-created with {} partitions (if auto-creation is on)", k.num_partitions),
                "add it to [[kafka.topics]]",
            ),
            Some(t) => {
                let partitions = t.partitions.unwrap_or(k.num_partitions);
                if f.parallelism_default > partitions {
                    cx.warn(
                        "flink.parallelism.partitions",
                        "flink.parallelism_default|flink.source_topic|kafka.topics|kafka.num_partitions",
                        format!(
                            "parallelism {} is more than the {partitions} partitions of source topic `{topic}`: {} source subtasks stay idle",
                            f.parallelism_default,
                            f.parallelism_default - partitions
                        ),
                        format!("give `{topic}` at least {} partitions, or lower parallelism_default", f.parallelism_default),
                    );
                }
            }
        }
    }
    match &f.high_availability {
        None if jm.replicas > 1 => cx.error(
            "flink.ha.required",
            "flink.jobmanager.replicas",
            format!("{} JobManagers without high availability: they cannot elect a leader and each runs its own cluster", jm.replicas),
            "set flink.high_availability = { storage_dir = \"s3://.../ha\" } (Kubernetes HA), or use 1 JobManager",
        ),
        Some(ha) if ha.storage_dir.starts_with("file://") => cx.error(
            "flink.ha.storage",
            "flink.high_availability.storage_dir",
            "high-availability.storageDir on a pod-local file:// path: a new leader cannot read what the old one wrote",
            "use shared storage such as s3://bucket/ha",
        ),
        _ => {}
    }
    let s3 = needs_s3(&f.checkpoint_dir)
        || f.high_availability
            .as_ref()
            .is_some_and(|h| needs_s3(&h.storage_dir));
    if s3 && f.s3_credentials_secret.is_none() {
        if cx.profile.security.network_policies {
            cx.error(
                "flink.s3.credentials",
                "flink.s3_credentials_secret|flink.checkpoint_dir|flink.high_availability",
                "s3:// state without s3_credentials_secret: the S3 plugin (flink-s3-fs-presto) then asks the node's instance metadata endpoint for credentials, which the network policies block (Flink may reach only HTTPS and the Kubernetes API): checkpoints and HA metadata fail",
                "set flink.s3_credentials_secret to a Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (amctl hands them to the plugin as s3.access-key / s3.secret-key)",
            );
        } else {
            cx.warn(
                "flink.s3.credentials",
                "flink.s3_credentials_secret|flink.checkpoint_dir|flink.high_availability",
                "s3:// state without s3_credentials_secret: the S3 plugin (flink-s3-fs-presto) falls back to the node's instance credentials; it does not read AWS_* variables or web identity tokens",
                "set flink.s3_credentials_secret, or make sure the nodes' instance role grants the bucket",
            );
        }
    }
    if let Some(path) = local_path(&f.checkpoint_dir) {
        checkpoints_shared(cx, path);
    }
}

/// The Secrets Flink's pods mount.
pub fn secrets(ctx: &Ctx) -> Vec<crate::secrets::SecretSpec> {
    use crate::secrets::SecretSpec;
    let f = &ctx.profile.flink;
    let mut out = Vec::new();
    if let Some(secret) = s3_secret(ctx) {
        out.push(
            SecretSpec::new(
                secret,
                "S3 credentials for Flink's checkpoints and HA metadata",
            )
            .env_key("AWS_ACCESS_KEY_ID", "the access key id")
            .env_key("AWS_SECRET_ACCESS_KEY", "the secret access key"),
        );
    }
    if tls::enabled(ctx) {
        out.push(
            SecretSpec::new(
                &f.tls_password_secret,
                "the password of Flink's PKCS#12 key and trust stores",
            )
            .random("password", 24),
        );
        if ctx.profile.security.tls_issuer.is_none() {
            out.push(
                SecretSpec::new(TLS_SECRET, "Flink's key and trust stores (PKCS#12)")
                    .file_key("keystore.p12", "the PKCS#12 key store")
                    .file_key("truststore.p12", "the PKCS#12 trust store"),
            );
        }
    }
    out
}

/// A `file://` checkpoint directory works only where the JobManager and every TaskManager
/// mount one claim there: the TaskManagers write the state files, the JobManager the metadata
/// that points at them, and a restore on any TaskManager reads both.
fn checkpoints_shared(cx: &crate::rules::Check, path: &str) {
    use crate::kube::Object;
    let f = &cx.profile.flink;
    let claim_at = |workload: &str| -> Option<String> {
        let item =
            cx.bundle.items.iter().find(|i| {
                matches!(&*i.object, Object::Deployment(_)) && i.object.name() == workload
            })?;
        let spec = item.object.pod_template()?.spec.as_ref()?;
        let container = spec.containers.first()?;
        let mount = container
            .volume_mounts
            .iter()
            .flatten()
            .filter(|m| crate::contract::is_under(path, &m.mount_path))
            .max_by_key(|m| m.mount_path.len())?;
        let volume = spec
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == mount.name)?;
        volume
            .persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.clone())
    };
    let (jm, tm) = (claim_at(JM), claim_at(TM));
    if jm.is_none() || jm != tm {
        cx.error(
            "flink.checkpoint.shared",
            "flink.checkpoint_dir|flink.checkpoint_volume",
            format!(
                "checkpoint_dir {} is on each pod's own disk: the TaskManagers' state files and the JobManager's checkpoint metadata end up on different pods, and a restore after a TaskManager restart fails",
                f.checkpoint_dir
            ),
            format!(
                "set flink.checkpoint_volume = {{ size = \"2Gi\" }} (a claim every Flink pod mounts at {path}), or use s3://"
            ),
        );
        return;
    }
    if let Some(v) = &f.checkpoint_volume
        && v.access_mode == crate::profile::AccessMode::ReadWriteOnce
        && cx.profile.cluster.nodes > 1
    {
        cx.error(
            "flink.checkpoint.shared",
            "flink.checkpoint_volume.access_mode|flink.checkpoint_volume|cluster.nodes",
            format!(
                "the checkpoint claim is ReadWriteOnce, which only pods on one node can mount, but the {} Flink pods may land on any of {} nodes: those elsewhere never start (Multi-Attach error)",
                f.jobmanager.replicas + f.taskmanager.replicas,
                cx.profile.cluster.nodes
            ),
            "use access_mode = \"ReadWriteMany\" with a class that serves several nodes (NFS, CephFS, EFS), or s3://",
        );
    }
}

/// What the JobManager and TaskManagers need from their pods (flink 2.1.1, image
/// apache/flink-docker `2.1/scala_2.12-java17-ubuntu`):
///
/// - the entrypoint rewrites `conf/config.yaml` at every start (`docker-entrypoint.sh:62-101`,
///   `set_config_options` through `bin/config-parser-utils.sh`), so conf/ is writable;
/// - `flink-console.sh` logs to the console and to `log/flink-*.log` through
///   log4j-console.properties: a RollingFile of 100MB keeping `${env:MAX_LOG_FILE_NUMBER:-10}`
///   files, which `bin/config.sh` sets from `env.log.max`;
/// - RocksDB works in `state.backend.rocksdb.localdir`, by default `io.tmp.dirs` (/tmp);
/// - `file://` checkpoints need one claim mounted by every pod.
pub fn contract(ctx: &Ctx) -> Vec<crate::contract::Contract> {
    use crate::contract::{Contract, Path};
    let f = &ctx.profile.flink;
    let logs = Path::new(
        LOG_DIR,
        (LOG_FILES_KEPT + 1) * LOG_FILE_BYTES,
        format!("the log files, {} of 100MB", LOG_FILES_KEPT + 1),
        "flink",
    );
    let conf = Path::new(
        "/opt/flink/conf",
        1 << 20,
        "the config the entrypoint rewrites",
        "flink",
    );
    let tmp = Path::new("/tmp", 256 << 20, "blobs and uploaded job jars", "flink");
    let checkpoints = local_path(&f.checkpoint_dir).map(|p| {
        Path::new(
            p,
            0,
            "checkpoints",
            "flink.checkpoint_dir|flink.checkpoint_volume",
        )
    });
    let mut tm_writes = vec![conf.clone(), logs.clone(), tmp.clone()];
    if f.state_backend == crate::profile::StateBackend::Rocksdb {
        let st = f.taskmanager.local_state.effective(&ctx.profile.storage);
        tm_writes.push(Path::new(
            rocksdb_dir(f),
            st.size.bytes().max(0) as u64,
            "RocksDB's working files and info logs",
            "flink.settings.\"state.backend.rocksdb.localdir\"|flink.taskmanager.local_state.size|flink.taskmanager.local_state",
        ));
    }
    let mut jm_writes = vec![conf, logs, tmp];
    jm_writes.extend(checkpoints.clone());
    tm_writes.extend(checkpoints);
    let prepare = |workload: &str| Contract {
        workload: workload.into(),
        container: "prepare".into(),
        user: UID,
        config: vec![
            "/etc/flink-amctl/config.yaml".into(),
            "/etc/flink-amctl/prepare.sh".into(),
        ],
        directories: vec![],
        writes: vec![
            Path::new("/flink-conf", 1 << 20, "the copy of conf/", "flink"),
            Path::new(
                "/flink-plugins",
                256 << 20,
                "the copy of plugins/ and the S3 plugin",
                "flink",
            ),
        ],
        open_files: None,
        startup_seconds: 0,
        key: "flink".into(),
    };
    let main = |workload: &str, container: &str, writes: Vec<Path>| Contract {
        workload: workload.into(),
        container: container.into(),
        user: UID,
        config: vec![],
        directories: vec![],
        writes,
        open_files: None,
        startup_seconds: 60,
        key: "flink".into(),
    };
    vec![
        prepare(JM),
        main(JM, "jobmanager", jm_writes),
        prepare(TM),
        main(TM, "taskmanager", tm_writes),
    ]
}

/// Flink: a session cluster, JobManager(s) and TaskManagers.
pub const FACETS: super::Component = super::Component {
    id: super::ComponentId::Flink,
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
        letter: 'F',
        ansi: "45",
        svg: "#b07aa1",
    }),
    replicas_key,
    tier: |_| super::Tier::Processing,
    impact: super::none_impact,
    upgrade,
    migrate: upgrade_steps,
};

/// Where the upgrade's savepoints go: beside the checkpoints, in the storage every Flink pod
/// already reaches.
pub(crate) fn savepoint_dir(f: &crate::profile::Flink) -> String {
    format!("{}/savepoints", f.checkpoint_dir.trim_end_matches('/'))
}

/// The jobs' savepoints of an upgrade, as `JOB_ID SAVEPOINT_PATH` lines on the operator's
/// machine.
const SAVEPOINTS_FILE: &str = "flink-savepoints.txt";

/// A version change by Flink's rules: before the new JobManager and TaskManagers roll, every
/// running job stops with a savepoint (`flink stop --savepointPath`), which also ends it in the
/// HA store so that the new JobManager does not recover it from its last checkpoint; after the
/// rollout, each job is resubmitted from its savepoint (`flink run -s`), which amctl prints but
/// cannot run (the jobs' jars are not the platform's). A major version needs
/// --allow-data-migration; an older version is refused.
fn upgrade_steps(
    from: &crate::profile::Profile,
    to: &crate::profile::Profile,
    opts: &Options,
    steps: &mut Vec<Step>,
) {
    use crate::change::{Action, Command, Impact, ObjectKey, Phase};
    let (Some(vf), Some(vt)) = (
        Version::of_image(&from.flink.image),
        Version::of_image(&to.flink.image),
    ) else {
        return;
    };
    let ours =
        |s: &Step| s.object.kind == "Deployment" && matches!(s.object.name.as_str(), JM | TM);
    let rule = upgrade_rule(&vf, &vt);
    let ns = &opts.namespace;
    match &rule {
        Upgrade::Same | Upgrade::Rolling(_) => {}
        Upgrade::Refused(why) => {
            crate::change::refuse_workloads(steps, ours, None, why);
        }
        Upgrade::Procedure(why) | Upgrade::DataMigration(why) => {
            let dir = savepoint_dir(&from.flink);
            let key = ObjectKey {
                kind: "FlinkJobs".into(),
                namespace: ns.clone(),
                name: NAME.into(),
            };
            let jm = format!("deployment/{JM}");
            let stop = format!(
                "/opt/flink/bin/flink list -r | sed -n 's/.* : \\([0-9a-f]\\{{32\\}}\\) : .*(RUNNING)$/\\1/p' | while read -r id; do path=$(/opt/flink/bin/flink stop --savepointPath {} \"$id\" | sed -n 's/^Savepoint completed\\. Path: //p'); [ -n \"$path\" ] || {{ echo \"job $id: no savepoint\" >&2; exit 1; }}; echo \"$id $path\"; done",
                crate::change::sh_quote(&dir)
            );
            let mut save = Step::new(
                Phase::Resources,
                key.clone(),
                Action::Exec,
                Impact::Restart,
                format!("{why}. Stop every running job with a savepoint in {dir} (the list of job ids and savepoints goes to {SAVEPOINTS_FILE} on this machine)"),
            )
            .around(JM, -10);
            save.commands.push(
                Command::kubectl([
                    "exec",
                    "-n",
                    ns,
                    &jm,
                    "-c",
                    "jobmanager",
                    "--",
                    "sh",
                    "-c",
                    &stop,
                ])
                .stdout(SAVEPOINTS_FILE),
            );
            let resume_sh = "while read -r id path; do echo \"flink run -d -s $path <the jar of job $id>\"; done";
            let mut resume = Step::new(
                Phase::Resources,
                key,
                Action::Exec,
                Impact::None,
                format!(
                    "resume each job from its savepoint on {vt}: `kubectl exec -n {ns} {jm} -c jobmanager -- /opt/flink/bin/flink run -d -s SAVEPOINT JAR` for each line of {SAVEPOINTS_FILE}; the commands are printed here (the jobs' jars are yours)"
                ),
            )
            .around(TM, 10);
            resume
                .commands
                .push(Command::new(["sh", "-c", resume_sh]).stdin(SAVEPOINTS_FILE));
            let mut new = vec![save, resume];
            for s in steps.iter_mut().filter(|s| ours(s)) {
                // After the savepoints: not in the apply stream.
                s.in_apply_stream = false;
                if s.action != Action::Wait {
                    s.reason = format!("{}; after the savepoints", s.reason);
                }
            }
            if matches!(rule, Upgrade::DataMigration(_)) && !opts.allow_data_migration {
                let risk = format!("the jobs' state may not restore on Flink {vt}: {why}");
                for s in new.iter_mut() {
                    s.refuse(Some("--allow-data-migration"), risk.clone());
                }
                crate::change::refuse_workloads(steps, ours, Some("--allow-data-migration"), &risk);
            }
            steps.extend(new);
        }
    }
}

fn clients_of(_ctx: &Ctx, server: super::ComponentId) -> Vec<String> {
    match server {
        // The jobs read events from Kafka and segments from Aerospike.
        super::ComponentId::Kafka | super::ComponentId::Aerospike => {
            vec![JM.to_string(), TM.to_string()]
        }
        _ => Vec::new(),
    }
}

fn monitor(ctx: &Ctx) -> Option<Object> {
    Some(crate::kube::scrape::pod_monitor(ctx, NAME, &[JM, TM]))
}

fn memory(p: &crate::profile::Profile, _workload: &str, container: &str) -> BTreeMap<String, u64> {
    use crate::model::flink as model;
    match container {
        "taskmanager" => model::taskmanager(&tm_options(&p.flink.taskmanager))
            .map(|m| m.to_map())
            .unwrap_or_default(),
        "jobmanager" => model::jobmanager(&jm_options(&p.flink.jobmanager))
            .map(|m| m.to_map())
            .unwrap_or_default(),
        _ => BTreeMap::new(),
    }
}

fn explain_memory(key: &str, name: &str, p: &crate::profile::Profile) -> String {
    use crate::model::{flink as model, memory_table, related_keys};
    use std::fmt::Write as _;
    let mut out = String::new();
    if related_keys(key, "flink.taskmanager") || key == NAME {
        match model::taskmanager(&tm_options(&p.flink.taskmanager)) {
            Ok(m) => out.push_str(&memory_table(
                &format!(
                    "TaskManager memory in `{name}` (process {}), as Flink derives it",
                    p.flink.taskmanager.process_size
                ),
                &m.to_map(),
            )),
            Err(e) => {
                let _ = writeln!(out, "  TaskManager in `{name}`: {e}");
            }
        }
    }
    if related_keys(key, "flink.jobmanager") || key == NAME {
        match model::jobmanager(&jm_options(&p.flink.jobmanager)) {
            Ok(m) => out.push_str(&memory_table(
                &format!(
                    "JobManager memory in `{name}` (process {})",
                    p.flink.jobmanager.process_size
                ),
                &m.to_map(),
            )),
            Err(e) => {
                let _ = writeln!(out, "  JobManager in `{name}`: {e}");
            }
        }
    }
    out
}

fn replicas_key(name: &str) -> String {
    if name.ends_with("jobmanager") {
        "flink.jobmanager.replicas".into()
    } else {
        "flink.taskmanager.replicas".into()
    }
}

/// JobManager ↔ TaskManagers, TaskManager shuffle, sources and sinks, state store.
fn network(ctx: &Ctx, _clients: &[String]) -> Vec<Object> {
    use crate::components::aerospike;
    use crate::kube::netpol::{Rules, anywhere, pods, policy, scraper};
    let f = &ctx.profile.flink;
    let https_out = needs_s3(&f.checkpoint_dir) || f.high_availability.is_some();
    let mut jm = Rules::new()
        .from(vec![pods(&[TM])], &[RPC_PORT, BLOB_PORT])
        .to(vec![pods(&[TM])], &[TM_RPC_PORT])
        .to(vec![pods(&[kafka::NAME])], &[kafka::CLIENT_PORT])
        .to(vec![pods(&[aerospike::NAME])], &[aerospike::SERVICE_PORT]);
    let mut tm = Rules::new()
        .from(vec![pods(&[JM])], &[TM_RPC_PORT])
        .from(vec![pods(&[TM])], &[TM_DATA_PORT])
        .to(vec![pods(&[JM])], &[RPC_PORT, BLOB_PORT])
        .to(vec![pods(&[TM])], &[TM_DATA_PORT])
        .to(vec![pods(&[kafka::NAME])], &[kafka::CLIENT_PORT])
        .to(vec![pods(&[aerospike::NAME])], &[aerospike::SERVICE_PORT]);
    if f.high_availability.is_some() {
        // Standby JobManagers reach the leader.
        jm = jm
            .from(vec![pods(&[JM])], &[RPC_PORT, BLOB_PORT])
            .to(vec![pods(&[JM])], &[RPC_PORT, BLOB_PORT]);
    }
    if https_out {
        // Object storage (s3://) and the Kubernetes API (HA leader election): HTTPS out.
        jm = jm.to(vec![anywhere()], &[443, 6443]);
        tm = tm.to(vec![anywhere()], &[443, 6443]);
    }
    if ctx.profile.monitoring.level.metrics() {
        jm = jm.from(scraper(ctx), &[METRICS_PORT]);
        tm = tm.from(scraper(ctx), &[METRICS_PORT]);
    }
    vec![
        policy(ctx, JM, NAME, k8s::name_in(&[JM]), jm),
        policy(ctx, TM, NAME, k8s::name_in(&[TM]), tm),
    ]
}

/// Flink's upgrade rules (docs/ops/upgrading.md: jobs are stopped with a savepoint and resumed
/// from it on the new version; savepoints restore on the same or a later version only; 2.0's
/// release notes: state compatibility with 1.x is not guaranteed).
pub(crate) fn upgrade_rule(from: &Version, to: &Version) -> Upgrade {
    if from == to {
        Upgrade::Same
    } else if to.major() != from.major() && to > from {
        Upgrade::DataMigration(format!(
            "Flink {to} does not guarantee restoring {from}'s savepoints (state compatibility across major versions is not guaranteed): test each job's savepoint on {to} first"
        ))
    } else if to < from && to.series() != from.series() {
        Upgrade::Refused(format!(
            "a savepoint taken by Flink {from} cannot be restored by the older {to}"
        ))
    } else {
        Upgrade::Procedure(format!(
            "Flink {from} → {to}: running jobs stop with a savepoint, the cluster is upgraded, the jobs resume from their savepoints"
        ))
    }
}

fn upgrade(container: &str, from: &Version, to: &Version) -> Option<Upgrade> {
    matches!(container, "jobmanager" | "taskmanager").then(|| upgrade_rule(from, to))
}
