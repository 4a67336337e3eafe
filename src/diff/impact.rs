//! What a change takes to roll out, from harmless to destructive.

pub use crate::change::Impact;

/// PostgreSQL settings that take effect only at server start (context `postmaster`).
const PG_RESTART: &[&str] = &[
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

const KAFKA_REPLICATION: &[&str] = &[
    "default.replication.factor",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
];

/// Impact of a change at `path` (as printed: `spec.replicas`,
/// `data["postgresql.conf"].shared_buffers`) of an object of `kind` named `name`, given the old
/// and new values (`None` when absent on that side).
pub fn impact(
    kind: &str,
    name: &str,
    path: &str,
    old: Option<&serde_json::Value>,
    new: Option<&serde_json::Value>,
) -> Impact {
    if path.starts_with("metadata.") || path == "metadata" {
        return Impact::None;
    }
    match kind {
        "ConfigMap" => config_impact(path),
        "StatefulSet" => {
            if path.starts_with("spec.selector")
                || path.starts_with("spec.serviceName")
                || path.starts_with("spec.podManagementPolicy")
            {
                Impact::Recreate
            } else if path.starts_with("spec.volumeClaimTemplates") {
                // A smaller template does not shrink existing claims (they are reused by
                // name); removing the templates leaves the data behind.
                if new.is_none() {
                    Impact::DataLoss
                } else {
                    Impact::Recreate
                }
            } else if path == "spec.replicas" {
                if is_replicated_store(name) {
                    Impact::DataMigration
                } else {
                    Impact::None
                }
            } else if path.starts_with("spec.template") {
                template_impact(path, old, new)
            } else {
                Impact::None
            }
        }
        "Deployment" => {
            if path.starts_with("spec.selector") {
                Impact::Recreate
            } else if path.starts_with("spec.template") {
                template_impact(path, old, new)
            } else {
                Impact::None
            }
        }
        "Job" => {
            if path.contains("command") && name.starts_with("kafka-topics") {
                // Partitions or replication factors of existing topics.
                Impact::DataMigration
            } else if path.starts_with("spec.template") || path.starts_with("spec.selector") {
                Impact::Recreate
            } else {
                Impact::None
            }
        }
        "Service" => {
            let external =
                |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()) == Some("ExternalName");
            if path.starts_with("spec.clusterIP")
                || (path == "spec.type" && (external(old) || external(new)))
            {
                Impact::Recreate
            } else {
                Impact::None
            }
        }
        "PersistentVolumeClaim" => {
            if path.ends_with("resources.requests.storage") {
                if shrinks(old, new) {
                    Impact::DataLoss
                } else {
                    Impact::None
                }
            } else if path.starts_with("spec") {
                Impact::Recreate
            } else {
                Impact::None
            }
        }
        "RoleBinding" if path.starts_with("roleRef") => Impact::Recreate,
        // A StorageClass is immutable but for allowVolumeExpansion; existing volumes keep theirs.
        "StorageClass" if path != "allowVolumeExpansion" => Impact::Recreate,
        _ => Impact::None,
    }
}

/// Kafka brokers and Aerospike nodes hold partitions: their count moves data.
fn is_replicated_store(name: &str) -> bool {
    name == "kafka" || name == "aerospike"
}

fn template_impact(
    path: &str,
    old: Option<&serde_json::Value>,
    new: Option<&serde_json::Value>,
) -> Impact {
    // The data volume as an emptyDir: removing it (or swapping it for a claim) drops its content.
    if path.starts_with("spec.template.spec.volumes[name=data]") {
        let was_empty_dir =
            old.is_some_and(|v| v.get("emptyDir").is_some() || path.contains("emptyDir"));
        if was_empty_dir && new.is_none() {
            return Impact::DataLoss;
        }
        if path.ends_with("medium") {
            return Impact::DataLoss;
        }
    }
    Impact::RollingRestart
}

fn config_impact(path: &str) -> Impact {
    let Some(rest) = path.strip_prefix("data[\"") else {
        return Impact::None;
    };
    let Some((file, key)) = rest.split_once("\"]") else {
        return Impact::None;
    };
    let key = key.strip_prefix('.').unwrap_or(key);
    match file {
        "postgresql.conf" => {
            if PG_RESTART.contains(&key) {
                Impact::Restart
            } else {
                Impact::Reload
            }
        }
        "server.properties" => {
            if KAFKA_REPLICATION.contains(&key) {
                Impact::DataMigration
            } else {
                Impact::Restart
            }
        }
        "aerospike.conf" => {
            if key.ends_with("replication-factor") {
                Impact::DataMigration
            } else if key.contains("storage-engine")
                && (key.ends_with("file") || !key.contains('.'))
            {
                Impact::DataLoss
            } else {
                Impact::Restart
            }
        }
        _ => Impact::Restart,
    }
}

/// True when a storage request gets smaller.
fn shrinks(old: Option<&serde_json::Value>, new: Option<&serde_json::Value>) -> bool {
    let q = |v: Option<&serde_json::Value>| {
        v.and_then(|v| v.as_str())
            .and_then(|s| crate::units::Quantity::parse(s).ok())
    };
    matches!((q(old), q(new)), (Some(a), Some(b)) if b < a)
}
