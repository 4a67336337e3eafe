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
    bundle.push(
        NAME,
        Object::Service(k8s::service(
            k8s::meta("postgres-headless", ns, labels.clone()),
            selector.clone(),
            ports.clone(),
            true,
            None,
        )),
    );
    bundle.push(
        NAME,
        Object::Service(k8s::service(
            k8s::meta(NAME, ns, labels.clone()),
            selector.clone(),
            ports,
            false,
            Some("ClusterIP"),
        )),
    );

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
        k8s::env_secret("POSTGRES_PASSWORD", &pg.password_secret, "password"),
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
    ]);

    let mut volumes = vec![
        k8s::config_volume("config", "postgres-config", None),
        // Shared memory for parallel query; tmpfs, charged to the memory limit.
        k8s::empty_dir("shm", Medium::Memory, pg.shm_size.0.as_str()),
        k8s::empty_dir("run", Medium::Disk, "16Mi"),
        k8s::empty_dir("tmp", Medium::Disk, "256Mi"),
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
