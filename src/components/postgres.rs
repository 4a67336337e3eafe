//! PostgreSQL: a StatefulSet on the official image with the profile's postgresql.conf.

use crate::change::{Action, Command, Impact, ObjectKey, Options, Phase, Step, Upgrade};
use crate::error::Error;
use crate::kube::k8s::{self, PodParts, StatefulSetParts};
use crate::kube::placement as availability;
use crate::kube::{Bundle, Object};
use crate::kube::{Ctx, image_tag, tls};
use crate::profile::Profile;
use crate::profile::Version;
use crate::profile::{Medium, Setting};
use k8s_openapi::api::core::v1::Container;
use serde::Serialize;
use std::collections::BTreeMap;

pub(crate) const NAME: &str = "postgres";
/// The streaming standbys' StatefulSet and its read-only Service.
pub(crate) const REPLICA: &str = "postgres-replica";
pub(crate) const READ_ONLY: &str = "postgres-ro";
pub(crate) const BACKUP: &str = "postgres-backup";
pub(crate) const PORT: i32 = 5432;
pub(crate) const TLS_SECRET: &str = "postgres-tls";
pub(crate) const REPLICATION_USER: &str = "replicator";
/// The official image's postgres user.
const UID: i64 = 999;
const DATA_DIR: &str = "/var/lib/postgresql/data";
const CONFIG_DIR: &str = "/etc/postgresql";
/// Not under CONFIG_DIR: a mount inside a read-only ConfigMap mount cannot be created.
pub(crate) const TLS_DIR: &str = "/etc/postgresql-tls";
const SECRETS_DIR: &str = "/run/secrets/postgres";
const BACKUP_DIR: &str = "/backups";

#[derive(Serialize)]
struct ConfContext<'a> {
    namespace: &'a str,
    port: i32,
    hba_file: String,
    max_connections: u32,
    superuser_reserved_connections: u32,
    shared_buffers: &'a str,
    effective_cache_size: &'a str,
    work_mem: &'a str,
    maintenance_work_mem: &'a str,
    hash_mem_multiplier: String,
    autovacuum_max_workers: u32,
    tls: bool,
    tls_dir: &'a str,
    standbys: u32,
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
pub(crate) fn postgresql_conf(ctx: &Ctx) -> Result<String, Error> {
    let pg = &ctx.profile.postgres;
    ctx.template(
        "postgres/postgresql.conf.j2",
        ConfContext {
            namespace: ctx.ns,
            port: PORT,
            hba_file: format!("{CONFIG_DIR}/pg_hba.conf"),
            max_connections: pg.max_connections,
            superuser_reserved_connections: pg.superuser_reserved_connections,
            shared_buffers: pg.shared_buffers.as_str(),
            effective_cache_size: pg.effective_cache_size.as_str(),
            work_mem: pg.work_mem.as_str(),
            maintenance_work_mem: pg.maintenance_work_mem.as_str(),
            hash_mem_multiplier: format!("{:.1}", pg.hash_mem_multiplier),
            autovacuum_max_workers: pg.autovacuum_max_workers,
            tls: tls::enabled(ctx),
            tls_dir: TLS_DIR,
            standbys: pg.replicas.saturating_sub(1),
            settings: pg
                .settings
                .iter()
                .map(|(k, v)| (k.clone(), conf_value(v)))
                .collect(),
        },
    )
}

/// The rendered pg_hba.conf: TLS-only remote access with `security.tls`, and the replication
/// role's line when there are standbys.
pub(crate) fn pg_hba_conf(ctx: &Ctx) -> Result<String, Error> {
    let tls = tls::enabled(ctx);
    ctx.template(
        "postgres/pg_hba.conf.j2",
        serde_json::json!({
            "namespace": ctx.ns,
            "tls": tls,
            "remote": if tls { "hostssl" } else { "host   " },
            "replication": ctx.profile.postgres.replicas > 1,
            "replication_user": REPLICATION_USER,
        }),
    )
}

/// Where the standbys clone from and stream from: the primary's stable pod name.
fn primary_host(ctx: &Ctx) -> String {
    format!("{NAME}-0.{NAME}-headless.{}.svc", ctx.ns)
}

/// The first-start script of the primary's data directory (run by the image's entrypoint via
/// /docker-entrypoint-initdb.d): the replication role, its password read from the Secret file
/// by psql, never written into the config.
const REPLICATION_SQL: &str = "-- Rendered by amctl: the role streaming standbys connect as (idempotent: also run by\n\
-- `amctl migrate` on a primary that predates its standbys).\n\
\\set pw `cat /run/secrets/postgres/replication-password`\n\
SELECT format('CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD %L', :'pw')\n\
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'replicator') \\gexec\n";
/// Where the primary's image runs first-start scripts; the replication script is mounted there.
pub(crate) const REPLICATION_SQL_PATH: &str = "/docker-entrypoint-initdb.d/10-replication.sql";

/// A standby's init step (templates/postgres/clone-primary.sh.j2): clone the primary once,
/// into `$PGDATA.partial`, renamed to `$PGDATA` only when complete and verified.
fn clone_script(ctx: &Ctx) -> Result<String, Error> {
    ctx.template(
        "postgres/clone-primary.sh.j2",
        serde_json::json!({
            "password_file": format!("{SECRETS_DIR}/replication-password"),
            "tls": tls::enabled(ctx),
            "ca_file": format!("{TLS_DIR}/ca.crt"),
            "user": REPLICATION_USER,
            "host": primary_host(ctx),
            "port": PORT,
        }),
    )
}

/// postgres_exporter's port.
pub(crate) const EXPORTER_PORT: i32 = 9187;

/// postgres_exporter beside PostgreSQL: loopback, the same password file as the server.
pub(crate) fn postgres_exporter(ctx: &Ctx, secrets_mount: &str) -> Container {
    let pg = &ctx.profile.postgres;
    let mut c = k8s::exporter(
        "postgres-exporter",
        &ctx.profile.monitoring.exporters.postgres,
        EXPORTER_PORT,
    );
    c.env = Some(vec![
        k8s::env(
            "DATA_SOURCE_URI",
            format!("127.0.0.1:{}/{}?sslmode=disable", PORT, pg.database),
        ),
        k8s::env("DATA_SOURCE_USER", pg.user.as_str()),
        k8s::env("DATA_SOURCE_PASS_FILE", format!("{secrets_mount}/password")),
    ]);
    c.volume_mounts = Some(vec![k8s::mount("secrets", secrets_mount, true)]);
    c
}

pub fn render(ctx: &Ctx, bundle: &mut Bundle) -> Result<(), Error> {
    let pg = &ctx.profile.postgres;
    let ns = ctx.ns;
    let tls = tls::enabled(ctx);
    let standbys = pg.replicas.saturating_sub(1);
    let exporter = ctx.full_monitoring();
    let labels = ctx.labels(NAME, "database", image_tag(&pg.image));
    let selector = ctx.selector(NAME);

    bundle.push(NAME, ctx.service_account(NAME, labels.clone(), false));

    let mut files = BTreeMap::from([
        ("postgresql.conf".to_string(), postgresql_conf(ctx)?),
        ("pg_hba.conf".to_string(), pg_hba_conf(ctx)?),
    ]);
    if standbys > 0 {
        files.insert("10-replication.sql".into(), REPLICATION_SQL.into());
        files.insert("clone-primary.sh".into(), clone_script(ctx)?);
    }
    let config = ctx.config_map("postgres-config", labels.clone(), files);
    let metrics = exporter.then_some((EXPORTER_PORT, "/metrics"));
    let annotations = ctx.pod_annotations(&[&config], metrics);
    bundle.push(NAME, Object::ConfigMap(config));

    let ports = vec![k8s::service_port("postgres", PORT)];
    for svc in k8s::stateful_services(NAME, ns, &labels, &selector, ports.clone(), ports.clone()) {
        bundle.push(NAME, Object::Service(svc));
    }
    if tls {
        let mut names = tls::service_names(ctx, NAME, Some("postgres-headless"));
        if standbys > 0 {
            names.extend(tls::service_names(
                ctx,
                READ_ONLY,
                Some("postgres-replica-headless"),
            ));
        }
        tls::certificate(ctx, bundle, NAME, TLS_SECRET, names, false);
    }

    let mut secret_items = vec![(pg.password_secret.as_str(), "password", "password")];
    if standbys > 0 {
        secret_items.push((
            pg.replication_secret.as_str(),
            "password",
            "replication-password",
        ));
    }
    // The data volume: an emptyDir in each pod template, or a claim template per StatefulSet.
    let storage = pg.storage.effective(&ctx.profile.storage);
    let (data_volume, claim) = k8s::data_volume("data", &storage, &labels);
    let pod = |role: Role| -> k8s_openapi::api::core::v1::PodTemplateSpec {
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
        let env = vec![
            k8s::env("POSTGRES_USER", pg.user.as_str()),
            k8s::env("POSTGRES_DB", pg.database.as_str()),
            // The image reads the password from a file: no secret in the environment.
            k8s::env("POSTGRES_PASSWORD_FILE", format!("{SECRETS_DIR}/password")),
            k8s::env("PGDATA", pgdata_of(&pg.image)),
        ];
        container.env = Some(env.clone());
        container.ports = Some(vec![k8s::container_port("postgres", PORT)]);
        container.readiness_probe = Some(k8s::exec_probe(&ready, 5, 10, 3));
        container.liveness_probe = Some(k8s::exec_probe(&ready, 30, 15, 6));
        // initdb, a standby's catch-up and crash recovery may take minutes.
        container.startup_probe = Some(k8s::exec_probe(&ready, 5, 5, 60));
        let mut mounts = vec![
            k8s::mount("data", DATA_DIR, false),
            k8s::mount("config", CONFIG_DIR, true),
            k8s::mount("shm", "/dev/shm", false),
            k8s::mount("run", "/var/run/postgresql", false),
            k8s::mount("tmp", "/tmp", false),
            k8s::mount("secrets", SECRETS_DIR, true),
        ];
        if tls {
            mounts.push(k8s::mount("tls", TLS_DIR, true));
        }
        if role == Role::Primary && standbys > 0 {
            mounts.push(k8s::mount_sub(
                "config",
                REPLICATION_SQL_PATH,
                "10-replication.sql",
            ));
        }
        container.volume_mounts = Some(mounts);

        let mut init = vec![];
        if role == Role::Standby {
            let mut clone = k8s::container(
                "clone-primary",
                &pg.image,
                k8s::resources(&pg.resources),
                true,
            );
            clone.command = Some(vec![
                "/bin/sh".into(),
                format!("{CONFIG_DIR}/clone-primary.sh"),
            ]);
            clone.env = Some(env);
            let mut m = vec![
                k8s::mount("data", DATA_DIR, false),
                k8s::mount("config", CONFIG_DIR, true),
                k8s::mount("tmp", "/tmp", false),
                k8s::mount("secrets", SECRETS_DIR, true),
            ];
            if tls {
                m.push(k8s::mount("tls", TLS_DIR, true));
            }
            clone.volume_mounts = Some(m);
            init.push(clone);
        }

        let mut volumes = k8s::volumes([
            k8s::config_volume("config", "postgres-config", None),
            // Shared memory for parallel query; tmpfs, charged to the memory limit.
            k8s::empty_dir("shm", Medium::Memory, pg.shm_size.0.as_str()),
            k8s::empty_dir("run", Medium::Disk, "16Mi"),
            k8s::empty_dir("tmp", Medium::Disk, "256Mi"),
            k8s::secret_files("secrets", &secret_items),
        ]);
        if tls {
            volumes.push(tls::volume("tls", TLS_SECRET));
        }
        volumes.extend(data_volume.clone());
        let mut containers = vec![container];
        if exporter {
            containers.push(postgres_exporter(ctx, SECRETS_DIR));
        }
        let (pod_labels, other) = match role {
            Role::Primary => (labels.clone(), ctx.selector(REPLICA)),
            Role::Standby => (replica_labels(ctx, &labels), ctx.selector(NAME)),
        };
        let mut template = k8s::pod_template(PodParts {
            labels: pod_labels,
            annotations: annotations.clone(),
            service_account: NAME.into(),
            security: k8s::pod_security(UID, UID),
            init_containers: init,
            containers,
            volumes,
            // A clean shutdown writes a checkpoint; give it time rather than SIGKILL.
            termination_grace_seconds: Some(60),
        });
        if standbys > 0
            && let Some(spec) = template.spec.as_mut()
        {
            // Primary and standbys never share a node: one node failure keeps a copy.
            availability::avoid(spec, &other);
        }
        template
    };

    bundle.push(
        NAME,
        Object::StatefulSet(k8s::stateful_set(StatefulSetParts {
            meta: k8s::meta(NAME, ns, labels.clone()),
            selector,
            replicas: 1,
            service_name: "postgres-headless".into(),
            parallel: false,
            template: pod(Role::Primary),
            claims: claim.clone().into_iter().collect(),
        })),
    );

    if standbys > 0 {
        let r_labels = replica_labels(ctx, &labels);
        let r_selector = ctx.selector(REPLICA);
        for svc in k8s::stateful_services(
            REPLICA,
            ns,
            &r_labels,
            &r_selector,
            ports.clone(),
            ports.clone(),
        ) {
            // `postgres-replica` (ClusterIP) is published as `postgres-ro`: reads only.
            let mut svc = svc;
            if svc.metadata.name.as_deref() == Some(REPLICA) {
                svc.metadata.name = Some(READ_ONLY.into());
            }
            bundle.push(NAME, Object::Service(svc));
        }
        let claim = claim.map(|mut c| {
            c.metadata.labels = Some(k8s::claim_labels(&r_labels));
            c
        });
        bundle.push(
            NAME,
            Object::StatefulSet(k8s::stateful_set(StatefulSetParts {
                meta: k8s::meta(REPLICA, ns, r_labels.clone()),
                selector: r_selector,
                replicas: standbys,
                service_name: "postgres-replica-headless".into(),
                parallel: false,
                template: pod(Role::Standby),
                claims: claim.into_iter().collect(),
            })),
        );
        // Primary and standbys together: never more than one of them down for maintenance.
        bundle.push(
            NAME,
            Object::PodDisruptionBudget(availability::group_budget(
                ctx,
                "postgres-cluster",
                &labels,
                &[NAME, REPLICA],
            )),
        );
    }

    if let Some(b) = &pg.backup {
        backup(ctx, bundle, b, &labels)?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Primary,
    Standby,
}

fn replica_labels(ctx: &Ctx, labels: &k8s::Labels) -> k8s::Labels {
    let mut l = labels.clone();
    l.extend(ctx.selector(REPLICA));
    l
}

/// The backup CronJob: pg_dump of the primary into a PVC (or an emptyDir handed to an upload
/// step for S3), then retention.
fn backup(
    ctx: &Ctx,
    bundle: &mut Bundle,
    b: &crate::profile::PgBackup,
    labels: &k8s::Labels,
) -> Result<(), Error> {
    use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
    let pg = &ctx.profile.postgres;
    let tls = tls::enabled(ctx);
    let mut b_labels = labels.clone();
    b_labels.extend(ctx.selector(BACKUP));
    bundle.push(NAME, ctx.service_account(BACKUP, b_labels.clone(), false));
    let mut files = BTreeMap::from([(
        "backup.sh".to_string(),
        ctx.template(
            "postgres/backup.sh.j2",
            serde_json::json!({
                "database": pg.database,
                "user": pg.user,
                "host": ctx.dns(NAME),
                "port": PORT,
                "dir": BACKUP_DIR,
                "password_file": format!("{SECRETS_DIR}/password"),
                "tls": tls,
                "ca_file": format!("{TLS_DIR}/ca.crt"),
                "s3": b.s3.is_some(),
                "retention_days": b.retention_days,
                "retention_minutes": u64::from(b.retention_days) * 1440,
            }),
        )?,
    )]);
    if let Some(s3) = &b.s3 {
        files.insert(
            "upload.sh".into(),
            ctx.template(
                "postgres/upload.sh.j2",
                serde_json::json!({
                    "database": pg.database,
                    "dir": BACKUP_DIR,
                    "url": s3.url.trim_end_matches('/'),
                    "endpoint": s3.endpoint,
                    "credentials_dir": "/run/secrets/s3",
                    "retention_days": b.retention_days,
                }),
            )?,
        );
    }
    let config = ctx.config_map(BACKUP, b_labels.clone(), files);
    let annotations = ctx.pod_annotations(&[&config], None);
    bundle.push(NAME, Object::ConfigMap(config));

    let job_resources = match &b.resources {
        Some(r) => k8s::resources(r),
        None => k8s::fixed_resources(("256Mi", "100m"), ("512Mi", "1")),
    };
    let mut dump = k8s::container("pg-dump", &pg.image, job_resources.clone(), true);
    dump.command = Some(vec!["/bin/sh".into(), "/etc/backup/backup.sh".into()]);
    let mut mounts = vec![
        k8s::mount("script", "/etc/backup", true),
        k8s::mount("backups", BACKUP_DIR, false),
        k8s::mount("secrets", SECRETS_DIR, true),
    ];
    if tls {
        mounts.push(k8s::mount("tls", TLS_DIR, true));
    }
    dump.volume_mounts = Some(mounts);
    let mut volumes = k8s::volumes([
        k8s::config_volume("script", BACKUP, None),
        k8s::secret_files(
            "secrets",
            &[(pg.password_secret.as_str(), "password", "password")],
        ),
    ]);
    if tls {
        volumes.push(tls::ca_volume("tls", TLS_SECRET));
    }
    let (init, containers) = match (&b.s3, &b.volume) {
        (Some(s3), _) => {
            // The dump lands in a scratch volume; the upload step runs when it is complete.
            volumes.push(k8s::empty_dir(
                "backups",
                Medium::Disk,
                pg.storage.size.0.as_str(),
            ));
            volumes.push(k8s::empty_dir("home", Medium::Disk, "16Mi"));
            volumes.push(k8s::secret_files(
                "s3",
                &[
                    (
                        s3.credentials_secret.as_str(),
                        "AWS_ACCESS_KEY_ID",
                        "AWS_ACCESS_KEY_ID",
                    ),
                    (
                        s3.credentials_secret.as_str(),
                        "AWS_SECRET_ACCESS_KEY",
                        "AWS_SECRET_ACCESS_KEY",
                    ),
                ],
            ));
            let mut up = k8s::container("upload", &s3.image, job_resources.clone(), true);
            up.command = Some(vec!["/bin/bash".into(), "/etc/backup/upload.sh".into()]);
            up.env = Some(vec![k8s::env("HOME", "/home/backup")]);
            up.volume_mounts = Some(vec![
                k8s::mount("script", "/etc/backup", true),
                k8s::mount("backups", BACKUP_DIR, true),
                k8s::mount("home", "/home/backup", false),
                k8s::mount("s3", "/run/secrets/s3", true),
            ]);
            (vec![dump], vec![up])
        }
        (None, Some(v)) => {
            volumes.push(k8s_openapi::api::core::v1::Volume {
                name: "backups".into(),
                persistent_volume_claim: Some(
                    k8s_openapi::api::core::v1::PersistentVolumeClaimVolumeSource {
                        claim_name: BACKUP.into(),
                        read_only: None,
                    },
                ),
                ..Default::default()
            });
            let storage = crate::profile::EffectiveStorage {
                size: v.size.clone(),
                mode: crate::profile::StorageMode::Persistent,
                class: v
                    .class
                    .clone()
                    .or_else(|| ctx.profile.storage.class.clone()),
                medium: Medium::Disk,
            };
            if let (_, Some(mut claim)) = k8s::data_volume(BACKUP, &storage, &b_labels) {
                claim.metadata.namespace = Some(ctx.ns.to_string());
                // A claim of its own, not a template: its status is the server's.
                claim.status = None;
                bundle.push(NAME, Object::PersistentVolumeClaim(Box::new(claim)));
            }
            (vec![], vec![dump])
        }
        // Validation reports a backup without a target; nothing to render.
        (None, None) => return Ok(()),
    };
    let mut template = k8s::pod_template(PodParts {
        labels: b_labels.clone(),
        annotations,
        service_account: BACKUP.into(),
        security: k8s::pod_security(UID, UID),
        init_containers: init,
        containers,
        volumes,
        termination_grace_seconds: None,
    });
    if let Some(spec) = template.spec.as_mut() {
        spec.restart_policy = Some("OnFailure".into());
    }
    bundle.push(
        NAME,
        Object::CronJob(Box::new(CronJob {
            metadata: k8s::meta(BACKUP, ctx.ns, b_labels),
            spec: Some(CronJobSpec {
                schedule: b.schedule.clone(),
                // A dump still running when the next is due: skip the next, never run two.
                concurrency_policy: Some("Forbid".into()),
                starting_deadline_seconds: Some(3600),
                successful_jobs_history_limit: Some(3),
                failed_jobs_history_limit: Some(3),
                job_template: JobTemplateSpec {
                    spec: Some(JobSpec {
                        backoff_limit: Some(2),
                        template,
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            }),
            ..Default::default()
        })),
    );
    Ok(())
}

/// The Secrets PostgreSQL's pods mount (none is rendered: amctl never holds a password).
pub fn secrets(ctx: &Ctx) -> Vec<crate::secrets::SecretSpec> {
    use crate::secrets::SecretSpec;
    let pg = &ctx.profile.postgres;
    let mut out = vec![SecretSpec::new(
        &pg.password_secret,
        format!(
            "the password of PostgreSQL's `{}` role (the database, its backups, the API services)",
            pg.user
        ),
    )
    .random("password", 24)];
    if pg.replicas > 1 {
        out.push(
            SecretSpec::new(
                &pg.replication_secret,
                format!("the password of the `{REPLICATION_USER}` role the standbys stream as"),
            )
            .random("password", 24),
        );
    }
    if let Some(s3) = pg.backup.as_ref().and_then(|b| b.s3.as_ref()) {
        out.push(
            SecretSpec::new(
                &s3.credentials_secret,
                format!("S3 credentials for the backups in {}", s3.url),
            )
            .env_key("AWS_ACCESS_KEY_ID", "the access key id")
            .env_key("AWS_SECRET_ACCESS_KEY", "the secret access key"),
        );
    }
    if tls::enabled(ctx) && ctx.profile.security.tls_issuer.is_none() {
        out.push(crate::secrets::SecretSpec::certificate(
            TLS_SECRET,
            "PostgreSQL's server certificate",
        ));
    }
    out
}

/// What PostgreSQL needs from its pod (docker-library/postgres `17/trixie/docker-entrypoint.sh`
/// at the 17.6 release, e34fc9d):
///
/// - as a non-root UID the entrypoint only creates and chmods PGDATA (`docker_create_db_directories`,
///   lines 36-45: `mkdir -p "$PGDATA"`, `chmod 00700`, `mkdir -p /var/run/postgresql`), so
///   PGDATA's parent and the socket directory are writable volumes;
/// - `PG_VERSION` in PGDATA means "initialized" (`docker_setup_env`, line 258): initdb is
///   skipped, which is why a standby's clone must never leave a partial PGDATA;
/// - initdb and the first-start scripts run before the server listens (`_main`, 351-376).
pub fn contract(ctx: &Ctx) -> Vec<crate::contract::Contract> {
    use crate::contract::{Contract, Path};
    let pg = &ctx.profile.postgres;
    let storage = pg.storage.effective(&ctx.profile.storage);
    let data = storage.size.bytes().max(0) as u64;
    let server = |workload: &str| Contract {
        workload: workload.into(),
        container: NAME.into(),
        user: UID,
        config: vec![
            format!("{CONFIG_DIR}/postgresql.conf"),
            format!("{CONFIG_DIR}/pg_hba.conf"),
        ],
        directories: vec![],
        writes: vec![
            Path::new(
                pgdata_of(&pg.image),
                data,
                "the database (PGDATA)",
                "postgres.storage.size|postgres.storage",
            ),
            Path::new(
                "/var/run/postgresql",
                1 << 20,
                "the server's socket and lock file",
                "postgres",
            ),
            Path::new(
                "/dev/shm",
                pg.shm_size.bytes().max(0) as u64,
                "shared memory for parallel queries",
                "postgres.shm_size",
            ),
            Path::new(
                "/tmp",
                1 << 20,
                "the entrypoint's scratch files",
                "postgres",
            ),
        ],
        open_files: None,
        startup_seconds: 300,
        key: "postgres".into(),
    };
    let mut all = vec![server(NAME)];
    if pg.replicas > 1 {
        all.push(server(REPLICA));
        all.push(Contract {
            workload: REPLICA.into(),
            container: "clone-primary".into(),
            user: UID,
            config: vec![format!("{CONFIG_DIR}/clone-primary.sh")],
            directories: vec![],
            writes: vec![Path::new(
                DATA_DIR,
                data,
                "the clone ($PGDATA.partial, then PGDATA)",
                "postgres.storage.size|postgres.storage",
            )],
            open_files: None,
            startup_seconds: 0,
            key: "postgres.replicas".into(),
        });
    }
    all
}

/// Memory PostgreSQL can use at worst, term by term (also `budget -o json`'s breakdown).
pub(crate) fn memory_breakdown(pg: &crate::profile::Postgres, tmpfs: u64) -> BTreeMap<String, u64> {
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

/// The pools the API services open to PostgreSQL: (service, pool size, replicas with the HPA at
/// its ceiling) for each service that uses it.
pub(crate) fn pools(api: &crate::profile::Api) -> Vec<(&str, u32, u32)> {
    api.effective()
        .filter(|svc| svc.uses.contains(&crate::profile::Backend::Postgres))
        .map(|svc| {
            let replicas = svc.autoscaling.map_or(svc.replicas, |a| a.max_replicas);
            (svc.name, svc.db_pool_size, replicas)
        })
        .collect()
}

/// What each backend process costs beyond work_mem (catalog caches, stack, buffers).
/// PostgreSQL settings that take effect only at server start (context `postmaster`).
pub(crate) const RESTART_SETTINGS: &[&str] = &[
    "shared_buffers",
    "max_connections",
    "superuser_reserved_connections",
    "reserved_connections",
    "huge_pages",
    "port",
    "listen_addresses",
    "unix_socket_directories",
    "dynamic_shared_memory_type",
    "max_worker_processes",
    "max_prepared_transactions",
    "max_locks_per_transaction",
    "max_wal_senders",
    "max_replication_slots",
    "wal_level",
    "wal_buffers",
    "shared_preload_libraries",
    "autovacuum_max_workers",
    "ssl",
    "logging_collector",
    "data_directory",
    "hba_file",
    "config_file",
    "track_commit_timestamp",
    "hot_standby",
];

/// The keys the worst-case memory (`postgres.memory`) reads.
pub(crate) const MEMORY_KEYS: &[&str] = &[
    "postgres.resources",
    "postgres.max_connections",
    "postgres.work_mem",
    "postgres.maintenance_work_mem",
    "postgres.shared_buffers",
    "postgres.shm_size",
    "postgres.hash_mem_multiplier",
    "postgres.autovacuum_max_workers",
];

pub(crate) const PER_BACKEND: u64 = 10 << 20;

pub fn check(cx: &crate::rules::Check) {
    replication_and_backup(cx);
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
    for (name, pool, replicas) in pools(&cx.profile.api) {
        demand = demand.saturating_add(u64::from(pool) * u64::from(replicas));
        parts.push(format!("{name} {pool} × {replicas}"));
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

/// Whether PostgreSQL's data lives on the pod's own disk: a restarted primary then comes back
/// empty under a new system identifier, which no standby can follow.
pub fn ephemeral(p: &crate::profile::Profile) -> bool {
    p.postgres.storage.effective(&p.storage).mode == crate::profile::StorageMode::Ephemeral
}

fn replication_and_backup(cx: &crate::rules::Check) {
    let pg = &cx.profile.postgres;
    let ephemeral = ephemeral(cx.profile);
    if pg.replicas == 0 {
        cx.error(
            "postgres.replicas",
            "postgres.replicas",
            "postgres.replicas = 0 leaves the platform without a database",
            "use 1 (a primary) or more (a primary and streaming standbys)",
        );
    } else if pg.replicas > 1 && ephemeral {
        cx.warn(
            "postgres.replicas.ephemeral",
            "postgres.replicas|postgres.storage|storage.mode",
            format!(
                "{} standby(s) of an ephemeral primary: a restarted primary comes back empty under a new system identifier and the standbys cannot follow it",
                pg.replicas - 1
            ),
            "use persistent storage for PostgreSQL, or postgres.replicas = 1",
        );
    }
    let Some(b) = &pg.backup else { return };
    match (&b.volume, &b.s3) {
        (None, None) => cx.error(
            "postgres.backup.target",
            "postgres.backup",
            "postgres.backup names no target: the dumps would have nowhere to go",
            "add volume = { size = \"...\" } (a PVC) or s3 = { url = \"s3://bucket/prefix\", credentials_secret = \"...\" }",
        ),
        (Some(_), Some(_)) => cx.error(
            "postgres.backup.target",
            "postgres.backup.s3|postgres.backup.volume",
            "postgres.backup has both a volume and s3: amctl writes dumps to one place",
            "keep one of postgres.backup.volume and postgres.backup.s3",
        ),
        (Some(v), None) => {
            let data = pg.storage.size.bytes().max(0);
            if v.size.bytes() < data {
                cx.warn(
                    "postgres.backup.size",
                    "postgres.backup.volume.size",
                    format!(
                        "the backup volume ({}) is smaller than the database volume ({}): {} days of dumps of a filling database will not fit",
                        v.size, pg.storage.size, b.retention_days
                    ),
                    format!("use at least {} (compressed dumps are usually smaller; size by your data)", pg.storage.size),
                );
            }
        }
        (None, Some(s3)) => {
            if !s3.url.starts_with("s3://") || s3.url.len() <= "s3://".len() {
                cx.error(
                    "postgres.backup.s3-url",
                    "postgres.backup.s3.url",
                    format!("`{}` is not an object store URL", s3.url),
                    "use s3://bucket or s3://bucket/prefix",
                );
            }
        }
    }
    if b.retention_days == 0 {
        cx.error(
            "postgres.backup.retention",
            "postgres.backup.retention_days",
            "retention_days = 0 deletes every dump right after it is written",
            "keep at least 1 day; 7 to 30 is usual",
        );
    }
    if let Err(e) = cron_schedule(&b.schedule) {
        cx.error(
            "postgres.backup.schedule",
            "postgres.backup.schedule",
            format!("schedule `{}` is not a cron schedule: {e}", b.schedule),
            "use five fields: minute hour day-of-month month day-of-week, e.g. \"0 2 * * *\" (daily at 02:00)",
        );
    }
    if ephemeral {
        cx.warn(
            "postgres.backup.ephemeral",
            "postgres.backup|postgres.storage|storage.mode",
            "backups of an ephemeral database: the data they hold is lost on every restart anyway",
            "use persistent storage for PostgreSQL, or drop postgres.backup",
        );
    }
}

/// A five-field cron schedule as Kubernetes reads it (numbers, ranges, lists, steps, `*`,
/// month and weekday names) or one of the @-macros.
pub(crate) fn cron_schedule(s: &str) -> Result<(), String> {
    let s = s.trim();
    if s.starts_with('@') {
        return match s {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight"
            | "@hourly" => Ok(()),
            other => Err(format!("unknown macro {other}")),
        };
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("{} fields, expected 5", fields.len()));
    }
    let limits = [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day of month", 1, 31),
        ("month", 1, 12),
        ("day of week", 0, 7),
    ];
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    for (i, (field, (name, lo, hi))) in fields.iter().zip(limits).enumerate() {
        for part in field.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, st)) => (r, Some(st)),
                None => (part, None),
            };
            if let Some(st) = step
                && st.parse::<u32>().map(|n| n == 0).unwrap_or(true)
            {
                return Err(format!("{name}: step `{st}` is not a positive number"));
            }
            if range == "*" || (range == "?" && (i == 2 || i == 4)) {
                continue;
            }
            let value = |v: &str| -> Result<u32, String> {
                let lower = v.to_ascii_lowercase();
                let named = match i {
                    3 => MONTHS
                        .iter()
                        .position(|m| *m == lower)
                        .map(|p| p as u32 + 1),
                    4 => DAYS.iter().position(|d| *d == lower).map(|p| p as u32),
                    _ => None,
                };
                let n = named.map(Ok).unwrap_or_else(|| {
                    v.parse::<u32>()
                        .map_err(|_| format!("{name}: `{v}` is not a number"))
                })?;
                if n < lo || n > hi {
                    return Err(format!("{name}: {n} is outside {lo}-{hi}"));
                }
                Ok(n)
            };
            match range.split_once('-') {
                Some((a, b)) => {
                    if value(a)? > value(b)? {
                        return Err(format!("{name}: range {range} runs backwards"));
                    }
                }
                None => {
                    value(range)?;
                }
            }
        }
    }
    Ok(())
}

/// Standbys added to a primary that already runs: its first-start scripts never run again, so
/// the replication role is created by hand (the same idempotent script, now mounted). When the
/// primary's own step is refused, the role and the standbys wait with it: they need the new
/// primary, not the old one.
pub(crate) fn migration_steps(from: &Profile, to: &Profile, opts: &Options, steps: &mut Vec<Step>) {
    upgrade_steps(from, to, opts, steps);
    let primary_refused = steps
        .iter()
        .any(|s| s.refused && s.object.kind == "StatefulSet" && s.object.name == NAME);
    let held = "held back with StatefulSet postgres, which is refused";
    if primary_refused {
        let standby = |s: &Step| s.object.kind == "StatefulSet" && s.object.name == REPLICA;
        steps.retain(|s| !(standby(s) && s.action == Action::Wait));
        for s in steps.iter_mut().filter(|s| standby(s)) {
            s.refused = true;
            s.in_apply_stream = false;
            s.data_risk = Some(format!("{held}: standbys clone the new primary"));
        }
    }
    if from.postgres.replicas > 1 || to.postgres.replicas <= 1 {
        return;
    }
    let ns = &opts.namespace;
    let mut s = Step::new(
        Phase::Resources,
        ObjectKey {
            kind: "PostgresRole".into(),
            namespace: ns.clone(),
            name: REPLICATION_USER.into(),
        },
        Action::Exec,
        Impact::None,
        format!(
            "{} standby(s) clone the primary as `{}`: create the role on the running primary (idempotent; until then the standbys' clone step retries)",
            to.postgres.replicas - 1,
            REPLICATION_USER
        ),
    );
    s.commands.push(Command::kubectl([
        "exec",
        "-n",
        ns,
        &format!("{NAME}-0"),
        "-c",
        NAME,
        "--",
        "psql",
        "-v",
        "ON_ERROR_STOP=1",
        "-U",
        &to.postgres.user,
        "-d",
        &to.postgres.database,
        "-f",
        REPLICATION_SQL_PATH,
    ]));
    // Right after the primary's rollout (whose pod mounts the script), before the standbys.
    s.follows = Some(NAME.to_string());
    if primary_refused {
        s.refused = true;
        s.data_risk = Some(held.into());
    }
    steps.push(s);
}

/// PostgreSQL: a primary and streaming standbys, their backup CronJob.
pub const FACETS: super::Component = super::Component {
    id: super::ComponentId::Postgres,
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
        letter: 'P',
        ansi: "44",
        svg: "#4e79a7",
    }),
    replicas_key,
    tier: super::data_tier,
    impact,
    upgrade,
    migrate: migration_steps,
};

fn clients_of(ctx: &Ctx, server: super::ComponentId) -> Vec<String> {
    match server {
        super::ComponentId::Postgres if ctx.profile.postgres.backup.is_some() => {
            vec![BACKUP.to_string()]
        }
        _ => Vec::new(),
    }
}

fn monitor(ctx: &Ctx) -> Option<Object> {
    Some(crate::kube::scrape::pod_monitor(ctx, NAME, &pods(ctx)))
}

fn memory(p: &Profile, _workload: &str, container: &str) -> BTreeMap<String, u64> {
    if container == NAME {
        memory_breakdown(&p.postgres, p.postgres.shm_size.bytes().max(0) as u64)
    } else {
        BTreeMap::new()
    }
}

fn explain_memory(key: &str, name: &str, p: &Profile) -> String {
    use crate::model::{limit_table, related_keys};
    if key != NAME && !MEMORY_KEYS.iter().any(|k| related_keys(key, k)) {
        return String::new();
    }
    let m = memory_breakdown(&p.postgres, p.postgres.shm_size.bytes().max(0) as u64);
    limit_table(
        "PostgreSQL worst case",
        name,
        &p.postgres.resources.limits.memory,
        &m,
    )
}

fn replicas_key(_name: &str) -> String {
    "postgres.resources".into()
}

fn impact(kind: &str, _name: &str, path: &str) -> Option<Impact> {
    match crate::change::config_key(path) {
        Some(("postgresql.conf", key)) if kind == "ConfigMap" => {
            Some(if RESTART_SETTINGS.contains(&key) {
                Impact::Restart
            } else {
                Impact::Reload
            })
        }
        _ => None,
    }
}

/// The pods: the primary, and the standbys with `replicas > 1`.
fn pods(ctx: &Ctx) -> Vec<&'static str> {
    if ctx.profile.postgres.replicas > 1 {
        vec![NAME, REPLICA]
    } else {
        vec![NAME]
    }
}

/// Its clients in; primary and standbys to each other (streaming replication); the backup Job
/// to the primary (and to the object store).
fn network(ctx: &Ctx, clients: &[String]) -> Vec<Object> {
    use crate::kube::netpol::{Rules, anywhere, pods as peers, policy, scraper};
    let pg = &ctx.profile.postgres;
    let pg_pods = pods(ctx);
    let mut rules = Rules::new()
        .from(vec![peers(&pg_pods)], &[PORT])
        .to(vec![peers(&pg_pods)], &[PORT]);
    if !clients.is_empty() {
        rules = rules.from(vec![peers(clients)], &[PORT]);
    }
    if ctx.full_monitoring() {
        rules = rules.from(scraper(ctx), &[EXPORTER_PORT]);
    }
    let mut out = vec![policy(ctx, NAME, NAME, k8s::name_in(&pg_pods), rules)];
    if let Some(b) = &pg.backup {
        let mut rules = Rules::new().to(vec![peers(&[NAME])], &[PORT]);
        if b.s3.is_some() {
            // The object store, outside the cluster.
            rules = rules.to(vec![anywhere()], &[443]);
        }
        out.push(policy(ctx, BACKUP, NAME, k8s::name_in(&[BACKUP]), rules));
    }
    out
}

/// PGDATA for a server version: major 17 keeps `pgdata`, the directory every render before
/// major upgrades used; every other major gets its own (`18/docker`, the layout of the image's
/// 18: 18/trixie/Dockerfile `ENV PGDATA /var/lib/postgresql/18/docker`), so that a new major
/// initializes beside the old one on the same claim and the old directory stays for a rollback.
/// The image's check for an old directory (18/trixie/docker-entrypoint.sh:248, only when PGDATA
/// is its default) does not apply to this path.
pub(crate) fn pgdata(v: &Version) -> String {
    match v.major() {
        17 => format!("{DATA_DIR}/pgdata"),
        major => format!("{DATA_DIR}/{major}/docker"),
    }
}

/// PGDATA for an image (an untagged one as 17).
pub(crate) fn pgdata_of(image: &str) -> String {
    Version::of_image(image)
        .map(|v| pgdata(&v))
        .unwrap_or_else(|| format!("{DATA_DIR}/pgdata"))
}

/// PostgreSQL's upgrade rules (the release notes of every minor: "a dump/restore is not
/// required"; a major version's server refuses another major's data directory, checking
/// PG_VERSION in ValidatePgVersion, src/backend/utils/init/miscinit.c).
pub(crate) fn upgrade_rule(from: &Version, to: &Version) -> Upgrade {
    if from == to {
        Upgrade::Same
    } else if from.major() == to.major() {
        Upgrade::Rolling(format!(
            "PostgreSQL {from} → {to}: minor releases share the data directory format; standbys first, then the primary"
        ))
    } else if to.major() > from.major() {
        Upgrade::DataMigration(format!(
            "PostgreSQL {} refuses a {} data directory: the data moves by pg_dump and pg_restore into a new directory ({}) beside the old one",
            to.major(),
            from.major(),
            pgdata(to)
        ))
    } else {
        Upgrade::Refused(format!(
            "PostgreSQL {to} cannot read a {} data directory. To roll back an upgrade amctl planned, apply FROM's render again (`amctl render PROFILE | kubectl apply -f -`): the {} server starts from its directory ({}), still on the claims",
            from.major(),
            to.major(),
            pgdata(to)
        ))
    }
}

fn upgrade(container: &str, from: &Version, to: &Version) -> Option<Upgrade> {
    (container == NAME).then(|| upgrade_rule(from, to))
}

/// Exact row counts of every table of the database, one `schema.table count` line each, sorted:
/// what the major upgrade compares on both sides.
pub(crate) const ROW_COUNTS_SQL: &str = "SELECT table_schema || '.' || table_name || ' ' || (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1";

/// A command in the primary's `postgres` container.
fn in_primary(ns: &str, stdin: bool) -> Command {
    let mut argv = vec!["exec"];
    if stdin {
        argv.push("-i");
    }
    Command::kubectl(argv).args(["-n", ns, &format!("{NAME}-0"), "-c", NAME, "--"])
}

/// Every standby streams from the primary again (pg_stat_wal_receiver.status = streaming).
fn standbys_stream(ns: &str, to: &Profile) -> Vec<Command> {
    let pg = &to.postgres;
    let check = format!(
        "psql -At -U {} -d {} -c 'SELECT status FROM pg_stat_wal_receiver' | grep -qx streaming",
        crate::change::sh_quote(&pg.user),
        crate::change::sh_quote(&pg.database)
    );
    (0..pg.replicas.saturating_sub(1))
        .map(|i| {
            crate::change::exec_until(
                ns,
                &format!("{REPLICA}-{i}"),
                NAME,
                &check,
                (5, 120),
                "the standby does not stream from the primary after 10 minutes",
            )
        })
        .collect()
}

/// A version change by PostgreSQL's rules: a minor release rolls the standbys first, then the
/// primary, each checked by the server (the standbys streaming again); a major release moves the
/// data by dump and restore into the new major's own directory, only with
/// --allow-data-migration; a downgrade across majors is refused.
fn upgrade_steps(from: &Profile, to: &Profile, opts: &Options, steps: &mut Vec<Step>) {
    let (Some(vf), Some(vt)) = (
        Version::of_image(&from.postgres.image),
        Version::of_image(&to.postgres.image),
    ) else {
        return;
    };
    let ns = &opts.namespace;
    let ours = |s: &Step| {
        s.object.kind == "StatefulSet" && matches!(s.object.name.as_str(), NAME | REPLICA)
    };
    let rule = upgrade_rule(&vf, &vt);
    match &rule {
        Upgrade::Same | Upgrade::Procedure(_) => {}
        Upgrade::Refused(why) => {
            crate::change::refuse_workloads(steps, ours, None, why);
        }
        Upgrade::Rolling(why) => {
            let with_standbys = from.postgres.replicas > 1 && to.postgres.replicas > 1;
            for s in steps.iter_mut().filter(|s| ours(s)) {
                if s.action != Action::Wait {
                    s.reason = format!("{why}; {}", s.reason);
                }
                if with_standbys && s.object.name == NAME {
                    // After the standbys (and out of the apply stream, which cannot order it).
                    let seq = if s.action == Action::Wait { 11 } else { 10 };
                    s.follows = Some(REPLICA.into());
                    s.seq = seq;
                    s.in_apply_stream = false;
                }
            }
            if with_standbys {
                let key = ObjectKey {
                    kind: "StatefulSet".into(),
                    namespace: ns.clone(),
                    name: REPLICA.into(),
                };
                let mut check = Step::new(Phase::Resources, key.clone(), Action::Exec, Impact::None, format!("the standbys run {vt} and stream from the {vf} primary again before the primary restarts")).around(REPLICA, 1);
                check.commands = standbys_stream(ns, to);
                let mut after = Step::new(
                    Phase::Resources,
                    key,
                    Action::Exec,
                    Impact::None,
                    format!("the primary runs {vt}: every standby streams from it again"),
                )
                .around(REPLICA, 12);
                after.commands = standbys_stream(ns, to);
                steps.push(check);
                steps.push(after);
            }
        }
        Upgrade::DataMigration(why) => {
            let pg = &to.postgres;
            let (user, db) = (pg.user.as_str(), pg.database.as_str());
            let (old_dir, new_dir) = (pgdata(&vf), pgdata(&vt));
            let dump = format!("postgres-{vf}.dump");
            let (rows_before, rows_after) = (
                format!("postgres-{vf}-rows.txt"),
                format!("postgres-{vt}-rows.txt"),
            );
            let key = ObjectKey {
                kind: "PostgresUpgrade".into(),
                namespace: ns.clone(),
                name: NAME.into(),
            };
            let step = |seq: i16, impact: Impact, reason: String, commands: Vec<Command>| {
                let mut s = Step::new(Phase::Resources, key.clone(), Action::Exec, impact, reason)
                    .around(NAME, seq);
                s.commands = commands;
                s
            };
            let psql = |c: Command, sql: &str| {
                c.args([
                    "psql",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-At",
                    "-U",
                    user,
                    "-d",
                    db,
                    "-c",
                    sql,
                ])
            };
            let room = format!(
                "need=$(du -sk \"$PGDATA\" | cut -f1); free=$(df -Pk {DATA_DIR} | awk 'NR==2 {{print $4}}'); if [ \"$free\" -le \"$need\" ]; then echo \"the volume has ${{free}}K free, the new directory needs about ${{need}}K: grow postgres.storage.size first\" >&2; exit 1; fi"
            );
            let mut new = vec![
                step(
                    -50,
                    Impact::None,
                    format!(
                        "{why}. First: the volume has room for the {} directory beside the {} one",
                        vt.major(),
                        vf.major()
                    ),
                    vec![in_primary(ns, false).args(["sh", "-c", &room])],
                ),
                step(
                    -40,
                    Impact::Restart,
                    format!(
                        "writes stop here: new transactions on the {vf} primary are read-only until {vt} serves (the dump then holds every committed write)"
                    ),
                    vec![
                        psql(
                            in_primary(ns, false),
                            "ALTER SYSTEM SET default_transaction_read_only = on",
                        ),
                        psql(in_primary(ns, false), "SELECT pg_reload_conf()"),
                    ],
                ),
                step(
                    -30,
                    Impact::None,
                    format!("count every table's rows on {vf} ({rows_before})"),
                    vec![psql(in_primary(ns, false), ROW_COUNTS_SQL).stdout(&rows_before)],
                ),
                step(
                    -20,
                    Impact::DataMigration,
                    format!(
                        "dump the database `{db}` from {vf} into {dump} on this machine (custom format; also the backup of this upgrade)"
                    ),
                    vec![
                        in_primary(ns, false)
                            .args(["pg_dump", "-Fc", "-U", user, "-d", db])
                            .stdout(&dump),
                    ],
                ),
                step(
                    10,
                    Impact::DataMigration,
                    format!(
                        "restore {dump} into {vt}, which initialized an empty {new_dir} beside {old_dir}"
                    ),
                    vec![
                        in_primary(ns, true)
                            .args(["pg_restore", "--exit-on-error", "-U", user, "-d", db])
                            .stdin(&dump),
                    ],
                ),
                step(
                    11,
                    Impact::None,
                    format!("count the rows again on {vt}: the two counts must be the same"),
                    vec![
                        psql(in_primary(ns, false), ROW_COUNTS_SQL).stdout(&rows_after),
                        Command::new(["diff", "-u", &rows_before, &rows_after]),
                    ],
                ),
            ];
            let mut keep = Step::new(
                Phase::Resources,
                key.clone(),
                Action::Keep,
                Impact::None,
                format!(
                    "the {} directory stays on every claim ({old_dir}). Rollback: `amctl render FROM | kubectl apply -f -` starts {vf} on it again, then `ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf();` on it; writes made on {vt} are not carried back. Once {vt} has proven itself, free the space: `kubectl exec -n {ns} {NAME}-0 -c {NAME} -- rm -rf {old_dir}` (and on each standby)",
                    vf.major()
                ),
            )
            .around(NAME, 12);
            keep.opt_in = None;
            new.push(keep);
            for s in steps.iter_mut().filter(|s| ours(s)) {
                s.in_apply_stream = false;
                if s.action != Action::Wait {
                    s.reason = format!("{why}; {}", s.reason);
                }
            }
            if !opts.allow_data_migration {
                let risk = format!(
                    "PostgreSQL {vt} cannot start on the {vf} data: a dump and restore (read-only while it runs)"
                );
                for s in new.iter_mut().filter(|s| s.action != Action::Keep) {
                    s.refuse(Some("--allow-data-migration"), risk.clone());
                }
                crate::change::refuse_workloads(steps, ours, Some("--allow-data-migration"), &risk);
                new.retain(|s| s.action != Action::Keep);
            }
            steps.extend(new);
        }
    }
}

#[cfg(test)]
mod cron_tests {
    use super::cron_schedule;

    #[test]
    fn schedules() {
        for ok in [
            "0 2 * * *",
            "*/15 * * * *",
            "0 0 1 jan,jul *",
            "30 3 * * mon-fri",
            "@daily",
            "0 0-23/2 * * 0,7",
        ] {
            assert!(cron_schedule(ok).is_ok(), "{ok}");
        }
        for bad in [
            "0 2 * *",
            "60 * * * *",
            "0 24 * * *",
            "* * 0 * *",
            "*/0 * * * *",
            "0 2 * * funday",
            "5-1 * * * *",
            "@sometimes",
        ] {
            assert!(cron_schedule(bad).is_err(), "{bad}");
        }
    }
}
