//! Aerospike: a StatefulSet with aerospike.conf in the syntax of the pinned server version.

use crate::change::{Action, Command, Impact, ObjectKey, Options, Phase, Step, Upgrade};
use crate::error::Error;
use crate::kube::k8s::{self, PodParts, StatefulSetParts};
use crate::kube::{Bundle, Object};
use crate::kube::{Ctx, image_tag, tls};
use crate::profile::Profile;
use crate::profile::Version;
use crate::profile::{AsStorageEngine, Medium, StorageMode};
use k8s_openapi::api::core::v1::Container;
use serde::Serialize;
use std::collections::BTreeMap;

pub(crate) const NAME: &str = "aerospike";
pub(crate) const SERVICE_PORT: i32 = 3000;
pub(crate) const FABRIC_PORT: i32 = 3001;
pub(crate) const HEARTBEAT_PORT: i32 = 3002;
/// The TLS service port (Enterprise Edition) and the name clients verify.
pub(crate) const TLS_PORT: i32 = 4333;
pub(crate) const TLS_NAME: &str = "aerospike";
pub(crate) const TLS_SECRET: &str = "aerospike-tls";
const TLS_DIR: &str = "/etc/aerospike-tls";
/// UID 1000 exists in the image (ubuntu 24.04's first user); asd needs no particular user.
const UID: i64 = 1000;
const DATA_DIR: &str = "/opt/aerospike/data";
const CONFIG_DIR: &str = "/etc/aerospike-config";
/// Descriptors beyond proto-fd-max: device files, fabric and heartbeat sockets, info, logs.
pub(crate) const OPEN_FILES_HEADROOM: u64 = 1024;
/// A cold start before the service port opens: index arenas, system metadata, cluster join.
const COLD_START_BASE_SECONDS: u64 = 120;
/// How fast a cold start reads a node's device files (as/src/base/as.c: `as_storage_load()`,
/// "could block for hours"): a conservative SSD scan rate, records parsed on the way.
const COLD_START_SCAN_BYTES_PER_SECOND: u64 = 100 << 20;

pub use crate::profile::images::{Edition, Server};

#[derive(Serialize)]
struct NsContext {
    name: String,
    replication_factor: u32,
    default_ttl: u64,
    nsup_period: u64,
    index_stage_size: Option<String>,
    engine: &'static str,
    data_size: Option<String>,
    file: Option<String>,
    filesize: Option<String>,
    /// Pre-7 keys the profile insists on (rendered as given; validate flags them).
    legacy_memory_size: Option<String>,
    legacy_data_in_memory: Option<bool>,
    sets: Vec<String>,
}

#[derive(Serialize)]
struct ConfContext {
    namespace: String,
    cluster_name: String,
    edition: Edition,
    version: String,
    seeds: Vec<String>,
    heartbeat_port: i32,
    fabric_port: i32,
    service_port: i32,
    work_dir: String,
    proto_fd_max: u32,
    feature_key_file: Option<String>,
    /// The TLS service listener (Enterprise Edition with `security.tls`).
    tls: bool,
    tls_port: i32,
    tls_name: &'static str,
    tls_dir: &'static str,
    namespaces: Vec<NsContext>,
}

/// Whether this profile gets Aerospike's TLS listener: Enterprise only (CE rejects `tls`).
pub(crate) fn tls_listener(p: &crate::profile::Profile) -> bool {
    p.security.tls
        && Server::from_image(&p.aerospike.image).is_ok_and(|s| s.edition == Edition::Enterprise)
}

pub(crate) fn aerospike_conf(ctx: &Ctx, server: &Server) -> Result<String, Error> {
    let a = &ctx.profile.aerospike;
    let seeds = (0..a.replicas)
        .map(|i| format!("{NAME}-{i}.aerospike-headless.{}.svc", ctx.ns))
        .collect();
    let namespaces = a
        .namespaces
        .iter()
        .map(|n| NsContext {
            name: n.name.clone(),
            replication_factor: n.replication_factor,
            default_ttl: n.default_ttl,
            nsup_period: n.nsup_period,
            index_stage_size: n.index_stage_size.as_ref().map(|s| s.as_str().to_string()),
            engine: match n.storage_engine {
                AsStorageEngine::Memory => "memory",
                AsStorageEngine::Device => "device",
            },
            data_size: n.data_size.as_ref().map(|s| s.as_str().to_string()),
            file: (n.storage_engine == AsStorageEngine::Device)
                .then(|| format!("{DATA_DIR}/{}.dat", n.name)),
            filesize: n.filesize.as_ref().map(|s| s.as_str().to_string()),
            legacy_memory_size: n.memory_size.as_ref().map(|s| s.as_str().to_string()),
            legacy_data_in_memory: n.data_in_memory,
            sets: n.sets.clone(),
        })
        .collect();
    ctx.template(
        "aerospike/aerospike.conf.j2",
        ConfContext {
            namespace: ctx.ns.to_string(),
            cluster_name: ctx.ns.to_string(),
            edition: server.edition,
            version: server
                .version
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join("."),
            seeds,
            heartbeat_port: HEARTBEAT_PORT,
            fabric_port: FABRIC_PORT,
            service_port: SERVICE_PORT,
            work_dir: a.work_directory.clone(),
            proto_fd_max: a.proto_fd_max,
            feature_key_file: a
                .feature_key_secret
                .as_ref()
                .map(|_| "/etc/aerospike-features/features.conf".to_string()),
            tls: tls_listener(ctx.profile),
            tls_port: TLS_PORT,
            tls_name: TLS_NAME,
            tls_dir: TLS_DIR,
            namespaces,
        },
    )
}

/// aerospike-prometheus-exporter's port.
pub(crate) const EXPORTER_PORT: i32 = 9145;

/// The exporter's ape.toml: the node on loopback, metrics on its port.
pub(crate) fn aerospike_exporter_config() -> String {
    format!(
        "# Aerospike Prometheus exporter, rendered by amctl: this pod's node over loopback.\n\
         [Agent]\nbind = \":{EXPORTER_PORT}\"\ntimeout = 10\nlog_level = \"info\"\n\n\
         [Aerospike]\ndb_host = \"127.0.0.1\"\ndb_port = {}\ntimeout = 5\n",
        SERVICE_PORT
    )
}

/// The Aerospike exporter beside each node; config from `config_volume` (key `ape.toml`).
pub(crate) fn aerospike_exporter(ctx: &Ctx, config_volume: &str) -> Container {
    let mut c = k8s::exporter(
        "aerospike-exporter",
        &ctx.profile.monitoring.exporters.aerospike,
        EXPORTER_PORT,
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

pub fn render(ctx: &Ctx, bundle: &mut Bundle) -> Result<(), Error> {
    let a = &ctx.profile.aerospike;
    let ns = ctx.ns;
    let server = Server::from_image(&a.image).map_err(Error::Image)?;
    let tls = tls_listener(ctx.profile);
    let labels = ctx.labels(NAME, "cache", image_tag(&a.image));
    let selector = ctx.selector(NAME);

    bundle.push(NAME, ctx.service_account(NAME, labels.clone(), false));
    let exporter = ctx.full_monitoring();
    let mut files = BTreeMap::from([
        ("aerospike.conf".to_string(), aerospike_conf(ctx, &server)?),
        ("start.sh".to_string(), start_script(ctx, &server)?),
    ]);
    if exporter {
        files.insert("ape.toml".into(), aerospike_exporter_config());
    }
    let config = ctx.config_map("aerospike-config", labels.clone(), files);
    let annotations =
        ctx.pod_annotations(&[&config], exporter.then_some((EXPORTER_PORT, "/metrics")));
    bundle.push(NAME, Object::ConfigMap(config));

    for svc in k8s::stateful_services(
        NAME,
        ns,
        &labels,
        &selector,
        vec![
            k8s::service_port("service", SERVICE_PORT),
            k8s::service_port("fabric", FABRIC_PORT),
            k8s::service_port("heartbeat", HEARTBEAT_PORT),
        ],
        if tls {
            vec![
                k8s::service_port("service", SERVICE_PORT),
                k8s::service_port("tls", TLS_PORT),
            ]
        } else {
            vec![k8s::service_port("service", SERVICE_PORT)]
        },
    ) {
        bundle.push(NAME, Object::Service(svc));
    }
    if tls {
        let mut names = tls::service_names(ctx, NAME, Some("aerospike-headless"));
        // Clients verify the node's TLS name, not its DNS name.
        names.push(TLS_NAME.into());
        tls::certificate(ctx, bundle, NAME, TLS_SECRET, names, false);
    }

    let mut container = k8s::container(NAME, &a.image, k8s::resources(&a.resources), true);
    // The start script, not the image's entrypoint (which would regenerate the config from
    // environment variables): it prepares what asd checks, then execs it.
    // bash: the image's own entrypoint is a bash script; `ulimit -H`/`-S` are not POSIX sh.
    container.command = Some(vec!["/bin/bash".into(), format!("{CONFIG_DIR}/start.sh")]);
    let mut ports = vec![
        k8s::container_port("service", SERVICE_PORT),
        k8s::container_port("fabric", FABRIC_PORT),
        k8s::container_port("heartbeat", HEARTBEAT_PORT),
    ];
    if tls {
        ports.push(k8s::container_port("tls", TLS_PORT));
    }
    container.ports = Some(ports);
    container.readiness_probe = Some(k8s::tcp_probe("service", 5, 10, 3));
    // Port 3000 opens only after a cold start has read every device file: liveness waits for
    // the startup probe, which allows that scan.
    container.startup_probe = Some(k8s::tcp_probe(
        "service",
        5,
        STARTUP_PERIOD_SECONDS,
        startup_seconds(a).div_ceil(STARTUP_PERIOD_SECONDS as u64) as i32,
    ));
    container.liveness_probe = Some(k8s::tcp_probe("service", 30, 15, 6));
    let mut mounts = vec![
        k8s::mount("config", CONFIG_DIR, true),
        k8s::mount("tmp", "/tmp", false),
    ];
    let mut volumes = k8s::volumes([
        k8s::config_volume("config", "aerospike-config", None),
        k8s::empty_dir("tmp", Medium::Disk, "64Mi"),
    ]);
    if tls {
        mounts.push(k8s::mount("tls", TLS_DIR, true));
        volumes.push(tls::volume("tls", TLS_SECRET));
    }
    if let Some(secret) = &a.feature_key_secret {
        mounts.push(k8s::mount("features", "/etc/aerospike-features", true));
        volumes.push(k8s_openapi::api::core::v1::Volume {
            name: "features".into(),
            secret: Some(k8s_openapi::api::core::v1::SecretVolumeSource {
                secret_name: Some(secret.clone()),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    // Namespace files (device storage) and the system metadata (UDFs, index definitions) live
    // on the data volume when there is one.
    let mut claims = Vec::new();
    match &a.storage {
        Some(st) => {
            let storage = st.effective(&ctx.profile.storage);
            let (vol, claim) = k8s::data_volume("data", &storage, &labels);
            volumes.extend(vol);
            claims.extend(claim);
            mounts.push(k8s::mount("data", DATA_DIR, false));
            if !covered(&mounts, &a.work_directory) {
                if storage.mode == StorageMode::Persistent {
                    let mut work = k8s::mount("data", &a.work_directory, false);
                    work.sub_path = Some("work".into());
                    mounts.push(work);
                } else {
                    mounts.push(k8s::mount("work", &a.work_directory, false));
                    volumes.push(k8s::empty_dir("work", Medium::Disk, WORK_VOLUME));
                }
            }
        }
        None if !covered(&mounts, &a.work_directory) => {
            mounts.push(k8s::mount("work", &a.work_directory, false));
            volumes.push(k8s::empty_dir("work", Medium::Disk, WORK_VOLUME));
        }
        None => {}
    }
    container.volume_mounts = Some(mounts);

    let template = k8s::pod_template(PodParts {
        labels: labels.clone(),
        annotations,
        service_account: NAME.into(),
        security: k8s::pod_security(UID, UID),
        init_containers: vec![],
        containers: if exporter {
            vec![container, aerospike_exporter(ctx, "config")]
        } else {
            vec![container]
        },
        volumes,
        termination_grace_seconds: Some(60),
    });
    bundle.push(
        NAME,
        Object::StatefulSet(k8s::stateful_set(StatefulSetParts {
            meta: k8s::meta(NAME, ns, labels),
            selector,
            replicas: a.replicas,
            service_name: "aerospike-headless".into(),
            // Mesh peers find each other through the headless Service; start them together.
            parallel: true,
            template,
            claims,
        })),
    );
    Ok(())
}

const STARTUP_PERIOD_SECONDS: i32 = 10;
/// The work directory's own volume (system metadata and UDFs: kilobytes to megabytes).
const WORK_VOLUME: &str = "256Mi";
const WORK_VOLUME_BYTES: u64 = 256 << 20;

/// Whether a mount already covers `path` (a directory inside another volume gets no mount of
/// its own).
fn covered(mounts: &[k8s_openapi::api::core::v1::VolumeMount], path: &str) -> bool {
    mounts
        .iter()
        .any(|m| crate::contract::is_under(path, &m.mount_path))
}

/// The start script: the directories asd checks, the open-files limit, then asd.
fn start_script(ctx: &Ctx, server: &Server) -> Result<String, Error> {
    let a = &ctx.profile.aerospike;
    ctx.template(
        "aerospike/start.sh.j2",
        serde_json::json!({
            "version": server.version.iter().map(u32::to_string).collect::<Vec<_>>().join("."),
            "service_port": SERVICE_PORT,
            "work_dir": a.work_directory,
            "proto_fd_max": a.proto_fd_max,
            "open_files": open_files(a),
            "config_file": format!("{CONFIG_DIR}/aerospike.conf"),
        }),
    )
}

/// The soft open-files limit the start script sets: proto-fd-max plus the headroom.
pub fn open_files(a: &crate::profile::Aerospike) -> u64 {
    u64::from(a.proto_fd_max) + OPEN_FILES_HEADROOM
}

/// Bytes of device files each node reads on a cold start.
fn device_bytes(a: &crate::profile::Aerospike) -> u64 {
    a.namespaces
        .iter()
        .filter(|n| n.storage_engine == AsStorageEngine::Device)
        .filter_map(|n| n.filesize.as_ref())
        .fold(0u64, |acc, f| acc.saturating_add(f.bytes))
}

/// The longest a node may take to open its service port: a cold start scanning every device
/// file (Community Edition always starts cold).
pub(crate) fn startup_seconds(a: &crate::profile::Aerospike) -> u64 {
    COLD_START_BASE_SECONDS + device_bytes(a).div_ceil(COLD_START_SCAN_BYTES_PER_SECOND)
}

/// The Secrets Aerospike's pods mount: Enterprise Edition's feature key, and with TLS and no
/// issuer the nodes' certificate.
pub fn secrets(ctx: &Ctx) -> Vec<crate::secrets::SecretSpec> {
    use crate::secrets::SecretSpec;
    let a = &ctx.profile.aerospike;
    let mut out = Vec::new();
    if let Some(secret) = &a.feature_key_secret {
        out.push(
            SecretSpec::new(secret, "Aerospike Enterprise Edition's feature key")
                .file_key("features.conf", "the feature-key file Aerospike sent you"),
        );
    }
    if tls_listener(ctx.profile) && ctx.profile.security.tls_issuer.is_none() {
        out.push(crate::secrets::SecretSpec::certificate(
            TLS_SECRET,
            "the Aerospike nodes' certificate",
        ));
    }
    out
}

/// What asd needs from its pod (aerospike-server 8.0.0.10 and the image
/// aerospike/aerospike-server.docker 8.0.0.10_1, community/ubuntu24.04):
///
/// - the work directory, `<work>/smd` and the mod-lua user-path exist
///   (`as/src/base/as.c:331-333`, `validate_directory` at 524, `validate_smd_directory` at 539:
///   `cf_crash_nostack(... "is not set up properly")`);
/// - the soft open-files limit is at least proto-fd-max (`as/src/base/cfg.c:4400-4406`:
///   `cf_crash_nostack(... "system file descriptors not enough")`), default 15000 (cfg.c:168),
///   minimum 1024 (`as/include/base/service.h:61`);
/// - a cold start scans the device files before the service port opens (`as.c:377`,
///   `as_storage_load()`: "This could block for hours");
/// - the command `asd` bypasses the image's entrypoint (`Dockerfile:190`, `entrypoint.sh:60`).
pub fn contract(ctx: &Ctx) -> Vec<crate::contract::Contract> {
    use crate::contract::{Contract, OpenFilesNeed, Path};
    let a = &ctx.profile.aerospike;
    let work = &a.work_directory;
    let key = "aerospike.work_directory";
    let work_bytes = match &a.storage {
        Some(_) => 0,
        None => WORK_VOLUME_BYTES,
    };
    let mut writes = vec![Path::new(
        work.clone(),
        work_bytes,
        "the work directory",
        key,
    )];
    let device = device_bytes(a);
    if device > 0 {
        writes.push(Path::new(
            DATA_DIR,
            device,
            "the device namespaces' files",
            "aerospike.storage.size|aerospike.storage",
        ));
    }
    vec![Contract {
        workload: NAME.into(),
        container: NAME.into(),
        user: UID,
        config: vec![
            format!("{CONFIG_DIR}/aerospike.conf"),
            format!("{CONFIG_DIR}/start.sh"),
        ],
        directories: vec![
            Path::new(format!("{work}/smd"), 0, "system metadata", key),
            Path::new(format!("{work}/udf/lua"), 0, "the mod-lua user-path", key),
        ],
        writes,
        open_files: Some(OpenFilesNeed {
            count: open_files(a),
            fatal: true,
            why: format!(
                "proto-fd-max {} + {OPEN_FILES_HEADROOM} for its files and cluster sockets",
                a.proto_fd_max
            ),
            key: "aerospike.proto_fd_max".into(),
        }),
        startup_seconds: startup_seconds(a),
        key: "aerospike.proto_fd_max|aerospike.namespaces|aerospike.storage".into(),
    }]
}

/// Process memory Aerospike needs besides namespace data and indexes.
pub(crate) const BASELINE: u64 = 256 << 20;
/// Bytes of primary index per record copy.
pub(crate) const INDEX_ENTRY: u64 = 64;
const DEFAULT_INDEX_STAGE: u64 = 1 << 30;

/// Per node: in-memory data, primary index (allocated in whole stages, the first one at start),
/// and the process baseline.
pub(crate) fn memory_breakdown(a: &crate::profile::Aerospike) -> BTreeMap<String, u64> {
    let nodes = u64::from(a.replicas.max(1));
    let mut data = 0u64;
    let mut index = 0u64;
    for n in &a.namespaces {
        if n.storage_engine == AsStorageEngine::Memory {
            // A legacy memory-size stands for the data it was meant to hold.
            data = data.saturating_add(
                n.data_size
                    .as_ref()
                    .or(n.memory_size.as_ref())
                    .map(|s| s.bytes)
                    .unwrap_or(0),
            );
        }
        let stage = n
            .index_stage_size
            .as_ref()
            .map(|s| s.bytes)
            .unwrap_or(DEFAULT_INDEX_STAGE)
            // Below the server's 128M minimum (`aerospike.index-stage-size` flags it) the server
            // would not start; count the minimum.
            .max(128 << 20);
        let copies = n
            .expected_records
            .saturating_mul(u64::from(n.replication_factor.max(1)));
        let bytes = (copies.saturating_mul(INDEX_ENTRY)).div_ceil(nodes);
        index = index.saturating_add(bytes.div_ceil(stage).max(1).saturating_mul(stage));
    }
    BTreeMap::from([
        ("data".into(), data),
        ("primary_index".into(), index),
        ("baseline".into(), BASELINE),
    ])
}

pub fn check(cx: &crate::rules::Check) {
    let p = cx.profile;
    if let Some(st) = &p.aerospike.storage
        && p.aerospike.replicas > 1
        && st.effective(&p.storage).mode == StorageMode::Ephemeral
        && p.aerospike
            .namespaces
            .iter()
            .any(|n| n.storage_engine == AsStorageEngine::Device)
    {
        cx.warn(
            "topology.ephemeral-replicated",
            "aerospike.storage",
            format!("aerospike runs {} nodes with device namespaces on ephemeral storage: a full restart loses the data", p.aerospike.replicas),
            "use storage mode \"persistent\"",
        );
    }
    use crate::model::mib;
    let a = &cx.profile.aerospike;
    let Ok(server) = Server::from_image(&a.image) else {
        return; // the structural check already refused it
    };
    let v = server
        .version
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".");
    if cx.profile.security.tls && server.edition == Edition::Community {
        cx.warn(
            "aerospike.tls.community",
            "security.tls|aerospike.image",
            "Aerospike Community Edition cannot do TLS: with security.tls the other components use TLS, but traffic to and between Aerospike nodes stays plaintext (only the network policies restrict it)",
            "accept it (keep security.network_policies on), or run the Enterprise image (aerospike/aerospike-server-enterprise) with a feature key: amctl then renders a TLS service port (4333) and points the API services at it",
        );
    }
    if !server.at_least(&[7, 0]) {
        cx.error(
            "aerospike.version",
            "aerospike.image",
            format!("Aerospike {v} predates the 7.0 storage model amctl renders (`storage-engine memory {{ data-size }}`)"),
            "pin a 7.x or 8.x server, e.g. aerospike/aerospike-server:8.0.0.10_1",
        );
        return;
    }
    if a.replicas == 0 {
        cx.error(
            "aerospike.replicas",
            "aerospike.replicas",
            "aerospike.replicas is 0",
            "set at least 1",
        );
        return;
    }
    let ce = server.edition == Edition::Community;
    if a.namespaces.is_empty() {
        cx.error(
            "aerospike.namespaces.none",
            "aerospike.namespaces",
            "no Aerospike namespace is defined: the server refuses to start",
            "add one [[aerospike.namespaces]]",
        );
    }
    if a.namespaces.len() > server.max_namespaces() {
        cx.error(
            "aerospike.namespaces.edition",
            "aerospike.namespaces",
            format!(
                "{} namespaces, but Aerospike {} Edition allows at most {}: a third namespace stops the server (\"too many namespaces\")",
                a.namespaces.len(),
                if ce { "Community" } else { "Enterprise" },
                server.max_namespaces()
            ),
            "keep at most 2 namespaces and separate data with sets inside them (list them in `sets`), or use the aerospike-server-enterprise image with a feature key",
        );
    }
    if ce && a.feature_key_secret.is_some() {
        cx.error(
            "aerospike.enterprise-only",
            "aerospike.feature_key_secret",
            "feature-key-file is an Enterprise setting; Community Edition refuses it",
            "remove feature_key_secret, or use the aerospike-server-enterprise image",
        );
    }
    if !ce && a.feature_key_secret.is_none() {
        cx.error(
            "aerospike.feature-key",
            "aerospike.image",
            "Aerospike Enterprise Edition needs a feature-key file to start",
            "set aerospike.feature_key_secret to a Secret holding features.conf",
        );
    }
    let min_data = server.min_data_size();
    let mut device_bytes = 0u64;
    for (i, n) in a.namespaces.iter().enumerate() {
        let key = |field: &str| format!("aerospike.namespaces[{i}].{field}");
        if n.memory_size.is_some() {
            cx.error(
                "aerospike.config.obsolete",
                &key("memory_size"),
                format!("namespace `{}`: `memory-size` is obsolete since Aerospike 7.0; server {v} refuses to start (\"'memory-size' is obsolete\")", n.name),
                match n.storage_engine {
                    AsStorageEngine::Memory => "use storage_engine = \"memory\" with data_size (e.g. data_size = \"512M\")",
                    AsStorageEngine::Device => "drop memory_size: a device namespace keeps only its index in memory (size it with index_stage_size and expected_records)",
                },
            );
        }
        if let (AsStorageEngine::Memory, Some(ms), None) =
            (n.storage_engine, &n.memory_size, &n.data_size)
            && ms.bytes < min_data
        {
            cx.error(
                "aerospike.data-size.minimum",
                &key("memory_size"),
                format!(
                    "namespace `{}`: even rewritten as `data-size {}`, {} is below server {v}'s minimum data-size of {}",
                    n.name,
                    ms,
                    ms,
                    mib(min_data)
                ),
                format!("use data_size = \"{}M\" or more (or pin a server whose minimum is lower: 7.1.0.10+ and 8.0 accept 256M)", min_data >> 20),
            );
        }
        if n.data_in_memory.is_some() {
            cx.error(
                "aerospike.config.obsolete",
                &key("data_in_memory"),
                format!("namespace `{}`: `data-in-memory` is obsolete since Aerospike 7.0; server {v} refuses to start", n.name),
                "for data in RAM backed by a file use storage_engine = \"memory\" with a file; for SSD with the index in RAM drop data_in_memory",
            );
        }
        if n.replication_factor == 0 {
            cx.error(
                "aerospike.replication-factor",
                &key("replication_factor"),
                format!("namespace `{}`: replication-factor 0", n.name),
                "use at least 1",
            );
        } else if n.replication_factor > a.replicas {
            cx.error(
                "aerospike.replication-factor",
                &key("replication_factor"),
                format!(
                    "namespace `{}`: replication-factor {} needs {} nodes, but the cluster has {}",
                    n.name, n.replication_factor, n.replication_factor, a.replicas
                ),
                format!("lower it to {} or raise aerospike.replicas", a.replicas),
            );
        } else if ce && n.replication_factor > 8 {
            cx.error(
                "aerospike.replication-factor",
                &key("replication_factor"),
                "Community Edition caps replication-factor at 8",
                "use 8 or less",
            );
        }
        match n.storage_engine {
            AsStorageEngine::Memory => match &n.data_size {
                None if n.memory_size.is_none() => cx.error(
                    "aerospike.storage.size",
                    &key("data_size"),
                    format!("namespace `{}`: storage-engine memory needs a data-size", n.name),
                    format!("set data_size, at least {}", mib(min_data)),
                ),
                Some(ds) if ds.bytes < min_data => cx.error(
                    "aerospike.data-size.minimum",
                    &key("data_size"),
                    format!("namespace `{}`: data-size {} is below server {v}'s minimum of {}: the server refuses to start", n.name, ds, mib(min_data)),
                    format!("use data_size = \"{}M\" or more", min_data >> 20),
                ),
                _ => {}
            },
            AsStorageEngine::Device => match &n.filesize {
                None => cx.error(
                    "aerospike.storage.size",
                    &key("filesize"),
                    format!("namespace `{}`: a storage file needs a filesize", n.name),
                    "set filesize, e.g. \"100G\"",
                ),
                Some(fs) if fs.bytes < 128 << 20 => cx.error(
                    "aerospike.data-size.minimum",
                    &key("filesize"),
                    format!("namespace `{}`: filesize {} is below the minimum of 128 MiB", n.name, fs),
                    "use filesize = \"128M\" or more",
                ),
                Some(fs) => device_bytes = device_bytes.saturating_add(fs.bytes),
            },
        }
        if let Some(stage) = &n.index_stage_size {
            let ok =
                (128 << 20..=16u64 << 30).contains(&stage.bytes) && stage.bytes.is_power_of_two();
            if !ok {
                cx.error(
                    "aerospike.index-stage-size",
                    &key("index_stage_size"),
                    format!("namespace `{}`: index-stage-size {} must be a power of 2 between 128M and 16G", n.name, stage),
                    "use 128M, 256M, 512M, 1G, ...",
                );
            }
        }
        if n.default_ttl > 0 && n.nsup_period == 0 {
            cx.error(
                "aerospike.ttl.nsup",
                &format!("{}|{}", key("nsup_period"), key("default_ttl")),
                format!("namespace `{}`: default-ttl {} without nsup-period: the server refuses to start (records would never expire)", n.name, n.default_ttl),
                "set nsup_period (e.g. 120 seconds) or default_ttl = 0",
            );
        }
    }
    if device_bytes > 0 {
        match &a.storage {
            None => cx.error(
                "aerospike.storage.volume",
                &std::iter::once("aerospike.storage".to_string())
                    .chain(
                        (0..a.namespaces.len())
                            .map(|i| format!("aerospike.namespaces[{i}].storage_engine")),
                    )
                    .collect::<Vec<_>>()
                    .join("|"),
                "device namespaces store their files on a data volume, but aerospike.storage is not set (the root filesystem is read-only)",
                "set aerospike.storage = { size = ... } at least the sum of the filesizes",
            ),
            Some(st) if (st.size.bytes().max(0) as u64) < device_bytes => cx.error(
                "aerospike.storage.volume",
                "aerospike.storage.size",
                format!("the namespace files need {} but the data volume is {}", mib(device_bytes), st.size),
                format!("raise aerospike.storage.size to at least {}Gi", device_bytes.div_ceil(1 << 30)),
            ),
            _ => {}
        }
    }
    let terms = memory_breakdown(a);
    let need: u64 = terms.values().fold(0u64, |a, b| a.saturating_add(*b));
    let limit = a.resources.limits.memory.bytes().max(0) as u64;
    if need > limit {
        cx.error(
            "aerospike.memory",
            &std::iter::once("aerospike.resources.limits.memory".to_string())
                .chain(a.namespaces.iter().enumerate().flat_map(|(i, _)| {
                    ["data_size", "memory_size", "index_stage_size", "expected_records", "name"]
                        .map(|f| format!("aerospike.namespaces[{i}].{f}"))
                }))
                .chain(std::iter::once("aerospike.resources".to_string()))
                .collect::<Vec<_>>()
                .join("|"),
            format!(
                "each Aerospike node needs {}: in-memory data {} + primary index {} (64 B × expected records × RF ÷ nodes, in whole index stages) + process baseline {}, more than its {} limit{}",
                mib(need),
                mib(terms["data"]),
                mib(terms["primary_index"]),
                mib(BASELINE),
                a.resources.limits.memory,
                if server.at_least(&[8, 1, 2]) { "" } else { "; before 8.1.2 the server does not see the cgroup limit and is OOMKilled instead of refusing writes" }
            ),
            format!("raise resources.limits.memory to {}Mi, or lower data_size, index_stage_size or expected_records", need.div_ceil(1 << 20)),
        );
    }
}

/// The cluster is whole again: `asinfo -v 'cluster-stable:size=N;ignore-migrations=false'`
/// answers the cluster key only when the cluster has N nodes, one key and no migrations left,
/// an `ERROR` otherwise (as/src/base/thr_info.c, cmd_cluster_stable, 8.0.0.9:1271-1384). asinfo
/// ships in the image (releases/8.0/community/ubuntu24.04/Dockerfile:80-82, aerospike-tools).
fn cluster_stable(ns: &str, pod: &str, size: u32) -> Command {
    let check = format!(
        "out=$(asinfo -v 'cluster-stable:size={size};ignore-migrations=false') && ! printf '%s' \"$out\" | grep -q ERROR"
    );
    crate::change::exec_until(
        ns,
        pod,
        NAME,
        &check,
        (10, 360),
        &format!("the cluster is not stable at {size} nodes with no migrations after an hour"),
    )
}

/// Node changes by Aerospike's rules: a version change rolls one node at a time, waiting until
/// the cluster is stable with no migrations left before the next (refused where the server does
/// not support it); added nodes are waited for the same way; nodes leave one at a time, each
/// after the cluster has re-replicated the partitions it held, which keeps every record as long
/// as each namespace has a replication factor of 2 or more. A lower replication factor, or
/// nodes leaving a namespace with a single copy, loses records: only with --allow-data-loss.
pub(crate) fn migration_steps(from: &Profile, to: &Profile, opts: &Options, steps: &mut Vec<Step>) {
    let ns = &opts.namespace;
    let (n0, n1) = (from.aerospike.replicas, to.aerospike.replicas);
    let ours = |s: &Step| s.object.kind == "StatefulSet" && s.object.name == NAME;
    let single_copy: Vec<&str> = from
        .aerospike
        .namespaces
        .iter()
        .filter(|n| n.replication_factor < 2)
        .map(|n| n.name.as_str())
        .collect();
    let rf_down = to.aerospike.namespaces.iter().any(|n| {
        from.aerospike
            .namespaces
            .iter()
            .find(|o| o.name == n.name)
            .is_some_and(|o| n.replication_factor < o.replication_factor)
    });
    if rf_down {
        for s in steps.iter_mut().filter(|s| {
            (ours(s) && s.action != Action::Wait)
                || (s.object.kind == "ConfigMap" && s.object.name == "aerospike-config")
        }) {
            s.data_risk = Some("a lower replication factor: records keep fewer copies, and a node lost before the cluster settles takes the last copy of some".into());
            if !opts.allow_data_loss {
                s.refused = true;
                s.in_apply_stream = false;
            }
        }
    }
    let rule = match (
        Version::of_image(&from.aerospike.image),
        Version::of_image(&to.aerospike.image),
    ) {
        (Some(vf), Some(vt)) => upgrade_rule(&vf, &vt),
        _ => Upgrade::Same,
    };
    if let Upgrade::Refused(why) = &rule {
        crate::change::refuse_workloads(steps, ours, None, why);
        return;
    }
    // Any new pod template (a version, a config file, a size) rolls node by node: the
    // StatefulSet controller would restart the next node while partitions still migrate.
    if let Some(s) = steps
        .iter_mut()
        .find(|s| ours(s) && s.rolls_pods() && s.manifest.is_some())
    {
        let nodes = n0.min(n1);
        let why = match &rule {
            Upgrade::Rolling(why) => why.clone(),
            _ => "a new pod template: one node at a time, waiting until the cluster is stable with no migrations left before the next".into(),
        };
        if let Some(m) = s.manifest.as_mut() {
            crate::change::hold_rollout(m, nodes);
        }
        s.in_apply_stream = false;
        s.reason = format!(
            "{why}; applied with its rollout held (partition {nodes}), released node by node below"
        );
        steps.retain(|s| !(ours(s) && s.action == Action::Wait));
        steps.extend(crate::change::pod_by_pod(
            ns,
            Phase::Resources,
            NAME,
            nodes,
            &format!("the cluster is stable at {n1} nodes with no migrations left"),
            |i| cluster_stable(ns, &format!("{NAME}-{i}"), n1),
            1,
        ));
    }
    if n1 > n0 {
        let mut s = Step::new(
            Phase::Resources,
            ObjectKey { kind: "StatefulSet".into(), namespace: ns.clone(), name: NAME.into() },
            Action::Exec,
            Impact::DataMigration,
            format!("nodes {n0} → {n1}: partitions migrate onto the new nodes; wait until the cluster is stable at {n1} with no migrations left"),
        )
        .around(NAME, 50);
        s.commands
            .push(cluster_stable(ns, &format!("{NAME}-0"), n1));
        steps.push(s);
    } else if n1 < n0 {
        let gone: Vec<String> = (n1..n0).map(|i| format!("{NAME}-{i}")).collect();
        let scale_step = steps
            .iter()
            .position(|s| ours(s) && s.action != Action::Wait);
        let risk = (!single_copy.is_empty()).then(|| {
            format!(
                "namespace(s) {} keep one copy of each record: the records on {} are lost",
                single_copy.join(", "),
                gone.join(", ")
            )
        });
        // One node at a time, each after the cluster has settled without it.
        for (seq, n) in (-40..).zip((n1..n0).rev()) {
            let mut s = Step::new(
                Phase::Resources,
                ObjectKey { kind: "StatefulSet".into(), namespace: ns.clone(), name: NAME.into() },
                Action::Exec,
                Impact::DataMigration,
                format!("{NAME}-{n} leaves: scale to {n}, then wait until the cluster is stable at {n} nodes with no migrations left (its partitions re-replicated)"),
            )
            .around(NAME, seq);
            s.commands.push(Command::kubectl([
                "scale",
                "statefulset",
                NAME,
                "-n",
                ns,
                &format!("--replicas={n}"),
            ]));
            s.commands.push(Command::kubectl([
                "wait",
                "--for=delete",
                &format!("pod/{NAME}-{n}"),
                "-n",
                ns,
                "--timeout=10m",
            ]));
            s.commands.push(cluster_stable(ns, &format!("{NAME}-0"), n));
            if let Some(r) = &risk {
                s.data_risk = Some(r.clone());
                s.refused = !opts.allow_data_loss;
            }
            steps.push(s);
        }
        if let Some(i) = scale_step {
            if matches!(steps[i].action, Action::Scale { .. }) {
                // The steps above are the scale.
                steps.remove(i);
            } else {
                let s = &mut steps[i];
                s.in_apply_stream = false;
                s.reason = format!("{}; after the nodes have left one at a time", s.reason);
                if let Some(r) = risk {
                    s.data_risk = Some(r);
                    s.refused = !opts.allow_data_loss;
                }
            }
        }
    }
}

/// Aerospike: the cache, one StatefulSet, the exporter as a sidecar.
pub const FACETS: super::Component = super::Component {
    id: super::ComponentId::Aerospike,
    render,
    check,
    contracts: contract,
    secrets,
    clients_of: super::none_clients,
    network,
    monitor,
    memory,
    explain_memory,
    style: Some(super::Style {
        letter: 'A',
        ansi: "41",
        svg: "#e15759",
    }),
    replicas_key,
    tier: super::data_tier,
    impact,
    upgrade,
    migrate: migration_steps,
};

fn monitor(ctx: &Ctx) -> Option<Object> {
    Some(crate::kube::scrape::pod_monitor(ctx, NAME, &[NAME]))
}

fn memory(p: &Profile, _workload: &str, container: &str) -> BTreeMap<String, u64> {
    if container == NAME {
        memory_breakdown(&p.aerospike)
    } else {
        BTreeMap::new()
    }
}

fn explain_memory(key: &str, name: &str, p: &Profile) -> String {
    if key.split('.').next() != Some(NAME) {
        return String::new();
    }
    let m = memory_breakdown(&p.aerospike);
    crate::model::limit_table(
        "Aerospike per node",
        name,
        &p.aerospike.resources.limits.memory,
        &m,
    )
}

fn replicas_key(_name: &str) -> String {
    "aerospike.replicas".into()
}

fn impact(kind: &str, name: &str, path: &str) -> Option<Impact> {
    match kind {
        "ConfigMap" => match crate::change::config_key(path) {
            Some(("aerospike.conf", key)) => Some(if key.ends_with("replication-factor") {
                Impact::DataMigration
            } else if key.contains("storage-engine")
                && (key.ends_with("file") || !key.contains('.'))
            {
                Impact::DataLoss
            } else {
                Impact::Restart
            }),
            _ => None,
        },
        // Nodes hold partitions: their count moves data.
        "StatefulSet" if name == NAME && path == "spec.replicas" => Some(Impact::DataMigration),
        _ => None,
    }
}

/// The ports clients use: the service port, and with the Enterprise TLS listener its port (the
/// plain one stays for the exporter on loopback and for clients not yet switched).
pub(crate) fn client_ports(p: &Profile) -> Vec<i32> {
    if tls_listener(p) {
        vec![SERVICE_PORT, TLS_PORT]
    } else {
        vec![SERVICE_PORT]
    }
}

/// Clients in on the client ports; peers in and out on service, fabric and heartbeat.
fn network(ctx: &Ctx, clients: &[String]) -> Vec<Object> {
    use crate::kube::netpol::{Rules, pods, policy, scraper};
    let peer_ports = [SERVICE_PORT, FABRIC_PORT, HEARTBEAT_PORT];
    let mut rules = Rules::new()
        .from(vec![pods(clients)], &client_ports(ctx.profile))
        .from(vec![pods(&[NAME])], &peer_ports)
        .to(vec![pods(&[NAME])], &peer_ports);
    if ctx.full_monitoring() {
        rules = rules.from(scraper(ctx), &[EXPORTER_PORT]);
    }
    vec![policy(ctx, NAME, NAME, k8s::name_in(&[NAME]), rules)]
}

/// Aerospike's upgrade rules (its upgrade guide: rolling upgrades one node at a time, waiting
/// for migrations; one major at a time; going back across a major is not supported once the
/// new version has written its formats).
pub(crate) fn upgrade_rule(from: &Version, to: &Version) -> Upgrade {
    if from == to {
        Upgrade::Same
    } else if to.major() > from.major() + 1 {
        Upgrade::Refused(format!(
            "Aerospike upgrades one major version at a time: {from} → {to} skips {}; upgrade to the latest {}.x first",
            from.major() + 1,
            from.major() + 1
        ))
    } else if to.major() < from.major() {
        Upgrade::Refused(format!(
            "Aerospike {to} does not read what {from} has written (downgrades across a major are not supported)"
        ))
    } else {
        Upgrade::Rolling(format!(
            "Aerospike {from} → {to}: one node at a time, waiting until the cluster is stable with no migrations left before the next"
        ))
    }
}

fn upgrade(container: &str, from: &Version, to: &Version) -> Option<Upgrade> {
    (container == NAME).then(|| upgrade_rule(from, to))
}
