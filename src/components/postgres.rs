//! PostgreSQL: a StatefulSet on the official image with the profile's postgresql.conf.

use crate::bundle::{Bundle, Object};
use crate::error::Error;
use crate::profile::{Medium, Setting};
use crate::render::k8s::{self, PodParts, StatefulSetParts};
use crate::render::{Ctx, image_tag};
use serde::Serialize;
use std::collections::BTreeMap;

pub const NAME: &str = "postgres";
pub const PORT: i32 = 5432;
/// The official image's postgres user.
const UID: i64 = 999;
const DATA_DIR: &str = "/var/lib/postgresql/data";
const CONFIG_DIR: &str = "/etc/postgresql";

#[derive(Serialize)]
struct ConfContext<'a> {
    namespace: &'a str,
    port: i32,
    max_connections: u32,
    superuser_reserved_connections: u32,
    shared_buffers: &'a str,
    effective_cache_size: &'a str,
    work_mem: &'a str,
    maintenance_work_mem: &'a str,
    hash_mem_multiplier: String,
    autovacuum_max_workers: u32,
    settings: Vec<(String, String)>,
}

/// A postgresql.conf value: numbers and booleans bare, strings single-quoted.
pub fn conf_value(v: &Setting) -> String {
    match v {
        Setting::Bool(b) => if *b { "on" } else { "off" }.to_string(),
        Setting::Int(i) => i.to_string(),
        Setting::Float(f) => f.to_string(),
        Setting::Str(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

/// The rendered postgresql.conf (also used by the conformance test against a real server).
pub fn postgresql_conf(ctx: &Ctx) -> Result<String, Error> {
    let pg = &ctx.profile.postgres;
    ctx.template(
        "postgres/postgresql.conf.j2",
        ConfContext {
            namespace: ctx.ns,
            port: PORT,
            max_connections: pg.max_connections,
            superuser_reserved_connections: pg.superuser_reserved_connections,
            shared_buffers: pg.shared_buffers.as_str(),
            effective_cache_size: pg.effective_cache_size.as_str(),
            work_mem: pg.work_mem.as_str(),
            maintenance_work_mem: pg.maintenance_work_mem.as_str(),
            hash_mem_multiplier: format!("{:.1}", pg.hash_mem_multiplier),
            autovacuum_max_workers: pg.autovacuum_max_workers,
            settings: pg
                .settings
                .iter()
                .map(|(k, v)| (k.clone(), conf_value(v)))
                .collect(),
        },
    )
}

pub fn render(ctx: &Ctx, bundle: &mut Bundle) -> Result<(), Error> {
    let pg = &ctx.profile.postgres;
    let ns = ctx.ns;
    let labels = ctx.labels(NAME, "database", image_tag(&pg.image));
    let selector = ctx.selector(NAME);

    bundle.push(NAME, ctx.service_account(NAME, labels.clone(), false));

    let config = ctx.config_map(
        "postgres-config",
        labels.clone(),
        BTreeMap::from([("postgresql.conf".to_string(), postgresql_conf(ctx)?)]),
    );
    let annotations = ctx.pod_annotations(&[&config], None);
    bundle.push(NAME, Object::ConfigMap(config));

    let ports = vec![k8s::service_port("postgres", PORT)];
    for svc in k8s::stateful_services(NAME, ns, &labels, &selector, ports.clone(), ports) {
        bundle.push(NAME, Object::Service(svc));
    }

    let storage = pg.storage.effective(&ctx.profile.storage);
    let (data_volume, claim) = k8s::data_volume("data", &storage, &labels);

    let ready = [
        "pg_isready",
        "-U",
        pg.user.as_str(),
        "-d",
        pg.database.as_str(),
        "-h",
        "127.0.0.1",
        "-p",
        "5432",
    ];
    let mut container = k8s::container(NAME, &pg.image, k8s::resources(&pg.resources), true);
    container.args = Some(vec![
        "-c".into(),
        format!("config_file={CONFIG_DIR}/postgresql.conf"),
    ]);
    container.env = Some(vec![
        k8s::env("POSTGRES_USER", pg.user.as_str()),
        k8s::env("POSTGRES_DB", pg.database.as_str()),
        // The image reads the password from a file: no secret in the environment.
        k8s::env("POSTGRES_PASSWORD_FILE", "/run/secrets/postgres/password"),
        k8s::env("PGDATA", format!("{DATA_DIR}/pgdata")),
    ]);
    container.ports = Some(vec![k8s::container_port("postgres", PORT)]);
    container.readiness_probe = Some(k8s::exec_probe(&ready, 5, 10, 3));
    container.liveness_probe = Some(k8s::exec_probe(&ready, 30, 15, 6));
    // initdb and crash recovery may take minutes before the server accepts connections.
    container.startup_probe = Some(k8s::exec_probe(&ready, 5, 5, 60));
    container.volume_mounts = Some(vec![
        k8s::mount("data", DATA_DIR, false),
        k8s::mount("config", CONFIG_DIR, true),
        k8s::mount("shm", "/dev/shm", false),
        k8s::mount("run", "/var/run/postgresql", false),
        k8s::mount("tmp", "/tmp", false),
        k8s::mount("secrets", "/run/secrets/postgres", true),
    ]);

    let mut volumes = vec![
        k8s::config_volume("config", "postgres-config", None),
        // Shared memory for parallel query; tmpfs, charged to the memory limit.
        k8s::empty_dir("shm", Medium::Memory, pg.shm_size.0.as_str()),
        k8s::empty_dir("run", Medium::Disk, "16Mi"),
        k8s::empty_dir("tmp", Medium::Disk, "256Mi"),
        k8s::secret_files(
            "secrets",
            &[(pg.password_secret.as_str(), "password", "password")],
        ),
    ];
    volumes.extend(data_volume);

    let template = k8s::pod_template(PodParts {
        labels: labels.clone(),
        annotations,
        service_account: NAME.into(),
        security: k8s::pod_security(UID, UID),
        init_containers: vec![],
        containers: vec![container],
        volumes,
        // A clean shutdown writes a checkpoint; give it time rather than SIGKILL.
        termination_grace_seconds: Some(60),
    });
    bundle.push(
        NAME,
        Object::StatefulSet(k8s::stateful_set(StatefulSetParts {
            meta: k8s::meta(NAME, ns, labels),
            selector,
            replicas: 1,
            service_name: "postgres-headless".into(),
            parallel: false,
            template,
            claims: claim.into_iter().collect(),
        })),
    );
    Ok(())
}

/// Memory PostgreSQL can use at worst, term by term (also `budget -o json`'s breakdown).
pub fn memory_breakdown(pg: &crate::profile::Postgres, tmpfs: u64) -> BTreeMap<String, u64> {
    let conns = u64::from(pg.max_connections);
    BTreeMap::from([
        ("shared_buffers".into(), pg.shared_buffers.bytes),
        (
            "work_mem".into(),
            (conns as f64 * pg.work_mem.bytes as f64 * pg.hash_mem_multiplier) as u64,
        ),
        (
            "maintenance_work_mem".into(),
            u64::from(pg.autovacuum_max_workers).saturating_mul(pg.maintenance_work_mem.bytes),
        ),
        ("backends".into(), conns.saturating_mul(PER_BACKEND)),
        ("tmpfs".into(), tmpfs),
    ])
}

/// What each backend process costs beyond work_mem (catalog caches, stack, buffers).
pub const PER_BACKEND: u64 = 10 << 20;

pub fn check(cx: &crate::validate::Check) {
    use crate::model::mib;
    let pg = &cx.profile.postgres;
    let limit = pg.resources.limits.memory.bytes().max(0) as u64;
    let sb = pg.shared_buffers.bytes;
    if sb < 128 * 1024 {
        cx.error(
            "postgres.shared-buffers.minimum",
            "postgres.shared_buffers",
            format!("shared_buffers = {} is below PostgreSQL's minimum of 128kB: the server refuses to start", pg.shared_buffers),
            "use at least \"128kB\"; about 25% of the memory limit is usual",
        );
    } else if sb >= limit {
        cx.error(
            "postgres.shared-buffers.share",
            "postgres.shared_buffers",
            format!(
                "shared_buffers = {} fills the whole {} memory limit",
                pg.shared_buffers, pg.resources.limits.memory
            ),
            format!("use about 25% of the limit: \"{}MB\"", (limit / 4) >> 20),
        );
    } else if sb.saturating_mul(100) > limit.saturating_mul(40) {
        cx.warn(
            "postgres.shared-buffers.share",
            "postgres.shared_buffers|postgres.resources.limits.memory|postgres.resources",
            format!(
                "shared_buffers = {} is {}% of the {} memory limit; above 40% leaves too little for connections and the OS cache",
                pg.shared_buffers,
                sb.saturating_mul(100) / limit.max(1),
                pg.resources.limits.memory
            ),
            format!("use about 25% of the limit: \"{}MB\"", (limit / 4) >> 20),
        );
    }

    let reserved = pg.superuser_reserved_connections;
    if reserved >= pg.max_connections {
        cx.error(
            "postgres.connections.reserved",
            "postgres.max_connections",
            format!(
                "superuser_reserved_connections ({reserved}) must be less than max_connections ({}): the server refuses to start (FATAL)",
                pg.max_connections
            ),
            format!("raise max_connections above {reserved} or lower superuser_reserved_connections"),
        );
    }

    let tmpfs = cx
        .group("StatefulSet", NAME)
        .map(|g| g.tmpfs)
        .unwrap_or(pg.shm_size.bytes().max(0) as u64);
    let terms = memory_breakdown(pg, tmpfs);
    let worst: u64 = terms.values().fold(0u64, |a, b| a.saturating_add(*b));
    if worst > limit {
        cx.error(
            "postgres.memory",
            "postgres.resources.limits.memory|postgres.max_connections|postgres.work_mem|postgres.maintenance_work_mem|postgres.shared_buffers|postgres.shm_size|postgres.hash_mem_multiplier|postgres.autovacuum_max_workers|postgres.resources|storage.ephemeral_medium|postgres.storage",
            format!(
                "PostgreSQL can use {} at worst, more than its {} limit: shared_buffers {} + {} connections × work_mem {} × hash_mem_multiplier {} ({}) + {} autovacuum workers × maintenance_work_mem {} ({}) + {} per backend ({}) + memory-backed volumes {}",
                mib(worst),
                pg.resources.limits.memory,
                mib(terms["shared_buffers"]),
                pg.max_connections,
                pg.work_mem,
                pg.hash_mem_multiplier,
                mib(terms["work_mem"]),
                pg.autovacuum_max_workers,
                pg.maintenance_work_mem,
                mib(terms["maintenance_work_mem"]),
                mib(PER_BACKEND),
                mib(terms["backends"]),
                mib(tmpfs),
            ),
            format!(
                "raise resources.limits.memory to at least {}Mi, or lower max_connections, work_mem or maintenance_work_mem",
                worst.div_ceil(1 << 20)
            ),
        );
    }

    // Every API replica opens its own pool.
    let mut demand = 0u64;
    let mut parts = Vec::new();
    for svc in cx.profile.api.effective() {
        if svc.uses.contains(&crate::profile::Backend::Postgres) {
            let replicas = svc
                .autoscaling
                .map(|a| a.max_replicas)
                .unwrap_or(svc.replicas);
            demand = demand.saturating_add(u64::from(svc.db_pool_size) * u64::from(replicas));
            parts.push(format!("{} {} × {}", svc.name, svc.db_pool_size, replicas));
        }
    }
    let usable = u64::from(pg.max_connections.saturating_sub(reserved));
    if demand > usable {
        cx.error(
            "postgres.connections.pools",
            "postgres.max_connections|api.db_pool_size|api.replicas|api.autoscaling",
            format!(
                "the API services' connection pools can open {demand} connections ({}; pool size × replicas, HPA at max) but max_connections {} − {reserved} reserved leaves {usable}",
                parts.join(", "),
                pg.max_connections
            ),
            format!("raise max_connections to at least {} or lower api.db_pool_size", demand + u64::from(reserved)),
        );
    }
}
