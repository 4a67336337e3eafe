//! `amctl explain KEY`: what a profile key means, its unit and default, the rules that read it,
//! and for memory keys the breakdown it produces for a profile.

use crate::commands::schema::schema;
use crate::components::{self, postgres};
use crate::error::{Error, Exit, InputError, did_you_mean};
use crate::model::memory_table;
use crate::model::node::NodeModel;
use crate::output;
use crate::pipeline::load;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Which keys each rule reads (prefixes of profile key paths).
pub(crate) const RULE_KEYS: &[(&str, &[&str])] = &[
    ("budget.node", &["cluster"]),
    (
        "budget.memory.requests",
        &[
            "cluster",
            "postgres.resources",
            "aerospike.resources",
            "aerospike.replicas",
            "kafka.resources",
            "kafka.brokers",
            "flink.jobmanager",
            "flink.taskmanager",
            "api.replicas",
            "api.resources",
            "api.autoscaling",
            "api.services",
        ],
    ),
    (
        "budget.memory.limits",
        &[
            "cluster",
            "postgres.resources",
            "aerospike.resources",
            "kafka.resources",
            "flink.jobmanager.resources",
            "flink.taskmanager.resources",
            "api.resources",
            "api.services",
        ],
    ),
    (
        "budget.cpu.requests",
        &[
            "cluster.node_cpu",
            "cluster.nodes",
            "postgres.resources",
            "aerospike.resources",
            "kafka.resources",
            "flink.jobmanager.resources",
            "flink.taskmanager.resources",
            "api.resources",
        ],
    ),
    (
        "budget.cpu.limits",
        &[
            "cluster.node_cpu",
            "postgres.resources",
            "aerospike.resources",
            "kafka.resources",
            "flink",
            "api.resources",
        ],
    ),
    (
        "placement.unschedulable",
        &[
            "cluster",
            "postgres.resources",
            "aerospike",
            "kafka.brokers",
            "kafka.resources",
            "flink",
            "api",
        ],
    ),
    (
        "placement.n-1",
        &["cluster.nodes", "aerospike.replicas", "kafka.brokers"],
    ),
    (
        "pod.memory-emptydir",
        &[
            "storage.ephemeral_medium",
            "postgres.storage",
            "postgres.shm_size",
            "kafka.storage",
            "aerospike.storage",
        ],
    ),
    (
        "jvm.memory",
        &[
            "api.java_opts",
            "api.resources",
            "api.tomcat_max_threads",
            "api.services",
            "kafka.heap_opts",
            "kafka.jvm_opts",
            "kafka.resources",
        ],
    ),
    (
        "jvm.xms-above-request",
        &[
            "api.java_opts",
            "api.resources",
            "kafka.heap_opts",
            "kafka.resources",
        ],
    ),
    ("api.java-opts.syntax", &["api.java_opts", "api.services"]),
    (
        "api.autoscaling.range",
        &["api.autoscaling", "api.services"],
    ),
    ("flink.taskmanager.memory", &["flink.taskmanager"]),
    ("flink.taskmanager.task-heap", &["flink.taskmanager"]),
    ("flink.jobmanager.memory", &["flink.jobmanager"]),
    (
        "flink.container-limit",
        &[
            "flink.taskmanager.process_size",
            "flink.taskmanager.resources",
            "flink.jobmanager.process_size",
            "flink.jobmanager.resources",
        ],
    ),
    (
        "flink.parallelism.slots",
        &[
            "flink.parallelism_default",
            "flink.taskmanager.replicas",
            "flink.taskmanager.task_slots",
        ],
    ),
    (
        "flink.parallelism.partitions",
        &[
            "flink.parallelism_default",
            "flink.source_topic",
            "kafka.topics",
            "kafka.num_partitions",
        ],
    ),
    (
        "flink.ha.required",
        &["flink.jobmanager.replicas", "flink.high_availability"],
    ),
    (
        "flink.s3.credentials",
        &[
            "flink.checkpoint_dir",
            "flink.high_availability",
            "flink.s3_credentials_secret",
            "security.network_policies",
        ],
    ),
    (
        "flink.checkpoint.shared",
        &[
            "flink.checkpoint_dir",
            "flink.checkpoint_volume",
            "cluster.nodes",
        ],
    ),
    ("kafka.log-dirs.root", &["kafka.settings"]),
    ("kafka.log-dirs.volume", &["kafka.settings"]),
    (
        "contract.writable",
        &[
            "aerospike.work_directory",
            "flink.settings",
            "kafka.settings",
            "flink.checkpoint_dir",
        ],
    ),
    (
        "contract.volume-size",
        &[
            "aerospike.storage",
            "aerospike.namespaces",
            "kafka.storage",
            "postgres.storage",
            "postgres.shm_size",
            "flink.taskmanager.local_state",
            "flink.settings",
        ],
    ),
    (
        "contract.open-files",
        &["cluster.open_files", "aerospike.proto_fd_max"],
    ),
    (
        "contract.startup-probe",
        &["aerospike.namespaces", "aerospike.storage"],
    ),
    (
        "kafka.replication-factor",
        &[
            "kafka.brokers",
            "kafka.default_replication_factor",
            "kafka.offsets_topic_replication_factor",
            "kafka.transaction_state_log_replication_factor",
            "kafka.topics",
        ],
    ),
    (
        "kafka.min-isr",
        &[
            "kafka.min_insync_replicas",
            "kafka.transaction_state_log_min_isr",
            "kafka.default_replication_factor",
            "kafka.transaction_state_log_replication_factor",
        ],
    ),
    ("kafka.controllers.odd", &["kafka.brokers"]),
    (
        "kafka.heap-page-cache",
        &["kafka.heap_opts", "kafka.resources"],
    ),
    ("aerospike.config.obsolete", &["aerospike.namespaces"]),
    (
        "aerospike.namespaces.edition",
        &["aerospike.namespaces", "aerospike.image"],
    ),
    (
        "aerospike.data-size.minimum",
        &["aerospike.namespaces", "aerospike.image"],
    ),
    (
        "aerospike.replication-factor",
        &["aerospike.namespaces", "aerospike.replicas"],
    ),
    (
        "aerospike.memory",
        &[
            "aerospike.namespaces",
            "aerospike.resources",
            "aerospike.replicas",
        ],
    ),
    (
        "aerospike.storage.volume",
        &["aerospike.storage", "aerospike.namespaces"],
    ),
    ("postgres.memory", postgres::MEMORY_KEYS),
    ("postgres.replicas", &["postgres.replicas"]),
    (
        "postgres.replicas.ephemeral",
        &["postgres.replicas", "postgres.storage", "storage.mode"],
    ),
    (
        "postgres.backup.target",
        &["postgres.backup.volume", "postgres.backup.s3"],
    ),
    (
        "postgres.backup.size",
        &["postgres.backup.volume", "postgres.storage"],
    ),
    ("postgres.backup.s3-url", &["postgres.backup.s3.url"]),
    (
        "postgres.backup.retention",
        &["postgres.backup.retention_days"],
    ),
    ("postgres.backup.schedule", &["postgres.backup.schedule"]),
    (
        "postgres.backup.ephemeral",
        &["postgres.backup", "postgres.storage", "storage.mode"],
    ),
    (
        "aerospike.tls.community",
        &["security.tls", "aerospike.image"],
    ),
    (
        "security.tls-issuer.unused",
        &["security.tls_issuer", "security.tls"],
    ),
    (
        "security.tls.secrets",
        &["security.tls", "security.tls_issuer"],
    ),
    (
        "postgres.shared-buffers.share",
        &["postgres.shared_buffers", "postgres.resources"],
    ),
    (
        "postgres.connections.reserved",
        &[
            "postgres.max_connections",
            "postgres.superuser_reserved_connections",
        ],
    ),
    (
        "postgres.connections.pools",
        &[
            "postgres.max_connections",
            "api.db_pool_size",
            "api.replicas",
            "api.autoscaling",
            "api.services",
        ],
    ),
    (
        "topology.anti-affinity",
        &["cluster.nodes", "kafka.brokers", "aerospike.replicas"],
    ),
    (
        "topology.ephemeral-replicated",
        &[
            "storage",
            "kafka.storage",
            "postgres.storage",
            "aerospike.storage",
        ],
    ),
];

fn related(a: &str, b: &str) -> bool {
    crate::model::related_keys(a, b)
}

/// Resolves `$ref`s and nullable wrappers to the schema that describes a value.
fn resolve<'a>(root: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..8 {
        if let Some(r) = v.get("$ref").and_then(Value::as_str) {
            let name = r.trim_start_matches("#/definitions/");
            v = &root["definitions"][name];
        } else if let Some([only]) = v.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
            // `#[serde(default)]` on a struct field: `allOf: [$ref]` beside the default.
            v = only;
        } else if let Some(any) = v.get("anyOf").and_then(Value::as_array)
            && any.len() == 2
            && any
                .iter()
                .any(|x| x.get("type") == Some(&Value::String("null".into())))
        {
            v = any
                .iter()
                .find(|x| x.get("type") != Some(&Value::String("null".into())))
                .unwrap_or(v);
        } else {
            break;
        }
    }
    v
}

fn type_name(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        return r.trim_start_matches("#/definitions/").to_string();
    }
    if let Some(any) = v.get("anyOf").and_then(Value::as_array) {
        return any.iter().map(type_name).collect::<Vec<_>>().join(" or ");
    }
    if let Some([only]) = v.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
        return type_name(only);
    }
    if let Some(e) = v.get("enum").and_then(Value::as_array) {
        return format!(
            "one of {}",
            e.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match v.get("type") {
        Some(Value::String(t)) if t == "array" => {
            format!("list of {}", type_name(&v["items"]))
        }
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "value".into(),
    }
}

pub fn run(key: &str, profile: &str) -> Result<Exit, Error> {
    let root = schema(false);
    let mut node = &root;
    let mut walked = Vec::new();
    for seg in key.split('.').filter(|s| !s.is_empty()) {
        let here = resolve(&root, node);
        let here = if here.get("type") == Some(&Value::String("array".into())) {
            resolve(&root, &here["items"])
        } else {
            here
        };
        let props = here.get("properties").and_then(Value::as_object);
        match props.and_then(|p| p.get(seg)) {
            Some(next) => {
                node = next;
                walked.push(seg);
            }
            None => {
                let names: Vec<&str> = props
                    .map(|p| p.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                let parent = if walked.is_empty() {
                    "the top level".to_string()
                } else {
                    format!("`{}`", walked.join("."))
                };
                let mut e = InputError::new(format!("no key `{seg}` under {parent}"));
                if let Some(s) = did_you_mean(seg, names.iter().copied()) {
                    let mut full = walked.clone();
                    full.push(s);
                    e = e.help(format!("did you mean `{}`?", full.join(".")));
                } else if !names.is_empty() {
                    e = e.help(format!("keys there: {}", names.join(", ")));
                }
                return Err(e.into());
            }
        }
    }
    let resolved = resolve(&root, node);
    let mut out = String::new();
    let _ = writeln!(out, "{}", if key.is_empty() { "(profile)" } else { key });
    let description = node
        .get("description")
        .or_else(|| resolved.get("description"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if !description.is_empty() {
        for line in description.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    let _ = writeln!(out, "  type: {}", type_name(node));
    if let Some(d) = node.get("default") {
        let _ = writeln!(
            out,
            "  default: {}",
            if d.is_null() {
                "unset".to_string()
            } else {
                d.to_string()
            }
        );
    } else if !key.is_empty() {
        let required = key.rsplit_once('.').map(|(_, leaf)| leaf).unwrap_or(key);
        let _ = writeln!(
            out,
            "  default: none (`{required}` must be set, directly or through `extends`)"
        );
    }
    let target = if resolved.get("type") == Some(&Value::String("array".into())) {
        resolve(&root, &resolved["items"])
    } else {
        resolved
    };
    if let Some(props) = target.get("properties").and_then(Value::as_object) {
        let _ = writeln!(out, "  keys:");
        for (k, v) in props {
            let d = v
                .get("description")
                .or_else(|| resolve(&root, v).get("description"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let first = d.lines().next().unwrap_or("");
            let _ = writeln!(out, "    {k:<34} {first}");
        }
    }
    let rules: Vec<&str> = RULE_KEYS
        .iter()
        .filter(|(_, keys)| keys.iter().any(|k| related(key, k)))
        .map(|(r, _)| *r)
        .collect();
    if !rules.is_empty() {
        let _ = writeln!(out, "  rules that read it: {}", rules.join(", "));
    }
    if let Some(b) = breakdown(key, profile)? {
        out.push_str(&b);
    }
    output::print(&out)?;
    Ok(Exit::Ok)
}

/// For memory-related keys: what the key produces in `profile`.
fn breakdown(key: &str, profile: &str) -> Result<Option<String>, Error> {
    let top = key.split('.').next().unwrap_or("");
    if top != "cluster" && components::by_name(top).is_none_or(|c| c.style.is_none()) {
        return Ok(None);
    }
    let loaded = load(profile, crate::kube::DEFAULT_NAMESPACE, &[])?;
    let p = &loaded.profile;
    let mut out: String = components::ALL
        .iter()
        .map(|c| (c.explain_memory)(key, profile, p))
        .collect();
    if top == "cluster" {
        let n = NodeModel::from_cluster(&p.cluster);
        let rows = BTreeMap::from([
            ("capacity".to_string(), n.capacity.memory),
            ("kube_reserved".to_string(), n.kube_reserved.memory),
            ("system_reserved".to_string(), n.system_reserved.memory),
            ("eviction_hard".to_string(), n.eviction_hard.memory),
            ("allocatable".to_string(), n.allocatable.memory),
            (
                "distribution_overhead".to_string(),
                n.distribution_overhead.memory,
            ),
            ("system_pods".to_string(), n.system_pods.memory),
            ("available".to_string(), n.available.memory),
        ]);
        out.push_str(&memory_table(
            &format!("node memory in `{profile}` ({})", n.distribution.as_str()),
            &rows,
        ));
    }
    Ok((!out.is_empty()).then_some(out))
}
