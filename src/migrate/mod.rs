//! A migration plan from one installation to another: every difference becomes a step in a
//! phase (1 infrastructure, 2 resources, 3 hardening), ordered so config comes before the
//! workloads that mount it and every StatefulSet is waited for. Immutable fields are known up
//! front (orphan-delete and re-create), and steps that lose data are refused unless asked for.

pub mod emit;
pub mod patch;

use crate::diff::impact::Impact;
use crate::diff::{self, ObjectDiff, ObjectKey, Status};
use crate::profile::Profile;
use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A new object: `kubectl apply`.
    Create,
    /// An in-place change: `kubectl apply` (or a strategic merge patch).
    Apply,
    /// Only the replica count changes: `kubectl scale`.
    Scale,
    /// An immutable field changed: `kubectl delete --cascade=orphan`, then apply.
    Recreate,
    /// Grow existing PersistentVolumeClaims.
    Resize,
    /// Wait for a rollout.
    Wait,
    /// Kafka partition reassignment (replication factor of existing topics).
    Reassign,
    /// Kafka partition increase of existing topics.
    AlterPartitions,
    /// An object only FROM has (only with --prune).
    Delete,
    /// An object only FROM has that amctl never deletes: a claim and the data on it.
    Keep,
    /// A command inside a running pod (a database role).
    Exec,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Apply => "apply",
            Action::Scale => "scale",
            Action::Recreate => "recreate",
            Action::Resize => "resize",
            Action::Wait => "wait",
            Action::Reassign => "reassign",
            Action::AlterPartitions => "alter-partitions",
            Action::Delete => "delete",
            Action::Keep => "keep",
            Action::Exec => "exec",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub phase: u8,
    pub object: ObjectKey,
    pub action: Action,
    pub impact: Impact,
    /// Why the step is there, in a sentence.
    pub reason: String,
    /// What may be lost or stranded.
    pub data_risk: Option<String>,
    /// Left out because it loses data and --allow-data-loss was not given.
    pub refused: bool,
    /// Part of the default `kubectl apply` stream.
    pub in_apply_stream: bool,
    /// The desired object (create, apply, recreate).
    #[serde(skip)]
    pub manifest: Option<Value>,
    /// Strategic merge patch from FROM's object (apply).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    /// Imperative commands (delete, resize, reassign, wait).
    pub commands: Vec<String>,
    /// Files the commands read (reassignment JSON), by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<(String, String)>,
}

impl Step {
    /// A step with nothing to apply, run or refuse yet.
    pub fn new(
        phase: u8,
        object: ObjectKey,
        action: Action,
        impact: Impact,
        reason: String,
    ) -> Step {
        Step {
            phase,
            object,
            action,
            impact,
            reason,
            data_risk: None,
            refused: false,
            in_apply_stream: false,
            manifest: None,
            patch: None,
            replicas: None,
            commands: Vec::new(),
            files: Vec::new(),
        }
    }
}

pub struct Options {
    pub namespace: String,
    pub allow_data_loss: bool,
    pub prune: bool,
}

#[derive(Debug, Serialize)]
pub struct Plan {
    pub from: String,
    pub to: String,
    pub namespace: String,
    pub steps: Vec<Step>,
}

impl Plan {
    /// Steps that `--format apply` cannot carry (imperative, recreate, refused, deletes).
    pub fn left_out_of_apply(&self) -> Vec<&Step> {
        self.steps
            .iter()
            .filter(|s| !s.in_apply_stream && s.action != Action::Wait)
            .collect()
    }
}

pub fn phase_name(p: u8) -> &'static str {
    match p {
        1 => "infrastructure",
        2 => "resources",
        _ => "hardening",
    }
}

/// Phase of a kind (the platform spec's migration path).
fn phase_of(kind: &str, status: Status, d: &ObjectDiff) -> u8 {
    match kind {
        "Namespace" if status == Status::Added => 1,
        // Pod Security labels on the namespace are hardening.
        "Namespace" => 3,
        "StorageClass"
        | "PersistentVolumeClaim"
        | "Service"
        | "Ingress"
        | "ServiceMonitor"
        | "PodMonitor"
        | "PrometheusRule"
        // Issued into the Secrets the workloads of phase 2 mount: before them.
        | "Certificate"
        | "Issuer" => 1,
        "PodDisruptionBudget" | "NetworkPolicy" => 3,
        // RBAC the platform's own ServiceAccounts need (Flink HA) must exist before the
        // workloads that use it: it goes with them.
        "Role" | "RoleBinding" => {
            let _ = d;
            2
        }
        _ => 2,
    }
}

/// Order inside a phase: what others refer to first.
fn rank(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "StorageClass" => 1,
        "PersistentVolumeClaim" => 2,
        "ServiceAccount" => 3,
        "Role" => 4,
        "RoleBinding" => 5,
        "ConfigMap" | "Secret" => 6,
        "Service" => 7,
        "StatefulSet" => 8,
        "Deployment" => 9,
        "Job" => 10,
        "HorizontalPodAutoscaler" => 11,
        "PodDisruptionBudget" => 12,
        "Ingress" => 13,
        _ => 14,
    }
}

fn has(d: &ObjectDiff, f: impl Fn(&diff::Change) -> bool) -> bool {
    d.changes.iter().any(f)
}

fn storage_of(v: &Value) -> Vec<(String, Option<String>)> {
    v["spec"]["volumeClaimTemplates"]
        .as_array()
        .map(|vcts| {
            vcts.iter()
                .map(|t| {
                    (
                        t["metadata"]["name"].as_str().unwrap_or("").to_string(),
                        t["spec"]["resources"]["requests"]["storage"]
                            .as_str()
                            .map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn replicas(v: &Value) -> i64 {
    v["spec"]["replicas"].as_i64().unwrap_or(1)
}

/// Builds the plan. `profiles` are the two sides' profiles when both are profiles (Kafka topic
/// steps need them).
pub fn plan(
    from_name: &str,
    to_name: &str,
    old: Vec<diff::Obj>,
    new: Vec<diff::Obj>,
    profiles: Option<(&Profile, &Profile)>,
    opts: &Options,
) -> Plan {
    let ns = &opts.namespace;
    let diffs = diff::diff(old, new);
    let mut steps: Vec<Step> = Vec::new();
    for d in &diffs {
        let kind = d.key.kind.as_str();
        let name = d.key.name.as_str();
        let phase = phase_of(kind, d.status, d);
        let base = |action: Action, impact: Impact, reason: String| Step {
            manifest: d.new.clone(),
            ..Step::new(phase, d.key.clone(), action, impact, reason)
        };
        match d.status {
            Status::Added => {
                let mut s = base(Action::Create, Impact::None, format!("new in {to_name}"));
                s.in_apply_stream = true;
                steps.push(s);
            }
            Status::Removed => {
                let mut s = base(Action::Delete, d.impact(), format!("only in {from_name}"));
                s.manifest = None;
                if kind == "PersistentVolumeClaim" {
                    s.action = Action::Keep;
                    s.reason = format!(
                        "only in {from_name}; kept: amctl never deletes a claim (its data would go with it); `kubectl delete pvc {name} -n {ns}` once you no longer need it"
                    );
                } else if !opts.prune {
                    s.reason =
                        format!("only in {from_name}; left in place (pass --prune to delete it)");
                    s.refused = true;
                } else {
                    s.commands.push(format!(
                        "kubectl delete {} {name} -n {ns} --ignore-not-found",
                        kind.to_ascii_lowercase()
                    ));
                    if d.impact() == Impact::DataLoss {
                        s.data_risk = Some(
                            "its PersistentVolumeClaims stay, but nothing uses their data any more"
                                .into(),
                        );
                        s.refused = !opts.allow_data_loss;
                    }
                }
                steps.push(s);
            }
            Status::Changed => {
                // A Job renamed by its content hash: a new Job (the old one expires by TTL).
                if kind == "Job" && has(d, |c| c.path == "metadata.name") {
                    let mut s = base(
                        Action::Create,
                        d.impact(),
                        format!(
                            "the Job's content changed (new name {name}); the previous one expires by its TTL"
                        ),
                    );
                    s.in_apply_stream = true;
                    steps.push(s);
                    continue;
                }
                let immutable = has(d, |c| is_immutable(kind, c));
                let data_loss: Vec<&diff::Change> = d
                    .changes
                    .iter()
                    .filter(|c| c.impact == Impact::DataLoss)
                    .collect();
                let only_replicas = d.changes.iter().all(|c| c.path == "spec.replicas")
                    && d.new
                        .as_ref()
                        .is_some_and(|n| !n["spec"]["replicas"].is_null());
                let mut s = if immutable {
                    let fields: Vec<&str> = d
                        .changes
                        .iter()
                        .filter(|c| is_immutable(kind, c))
                        .map(|c| c.path.as_str())
                        .collect();
                    let mut s = base(
                        Action::Recreate,
                        d.impact(),
                        format!(
                            "immutable field(s) changed ({}): delete the {kind} without its pods (--cascade=orphan) and re-create it; the pods are adopted and rolled",
                            fields.join(", ")
                        ),
                    );
                    s.commands.push(format!(
                        "kubectl delete {} {name} -n {ns} --cascade=orphan --wait=true",
                        kind.to_ascii_lowercase()
                    ));
                    s
                } else if only_replicas {
                    let mut s = base(Action::Scale, d.impact(), String::new());
                    let (from_r, to_r) = (
                        replicas(d.old.as_ref().unwrap_or(&Value::Null)),
                        replicas(d.new.as_ref().unwrap_or(&Value::Null)),
                    );
                    s.reason = format!("replicas {from_r} → {to_r}");
                    s.replicas = Some(to_r);
                    s.in_apply_stream = true;
                    s
                } else if kind == "Service" && node_port_dropped(d) {
                    // The server keeps the nodePorts it assigned (they are not in the applied
                    // manifest), and a ClusterIP Service may not have them: `kubectl apply` is
                    // rejected. A merge patch replaces the ports without them.
                    let mut s = base(
                        Action::Apply,
                        d.impact(),
                        "type NodePort → ClusterIP: the assigned nodePorts must go in the same change, which `kubectl apply` cannot express".into(),
                    );
                    let ports = d
                        .new
                        .as_ref()
                        .map(|n| n["spec"]["ports"].clone())
                        .unwrap_or_default();
                    let body = serde_json::json!({"spec": {"type": "ClusterIP", "ports": ports}});
                    s.commands.push(format!(
                        "kubectl patch service {name} -n {ns} --type merge -p '{}'",
                        body.to_string().replace('\'', "'\\''")
                    ));
                    s
                } else {
                    let mut s = base(Action::Apply, d.impact(), summarize(d));
                    s.in_apply_stream = true;
                    s
                };
                if let (Some(o), Some(n)) = (&d.old, &d.new) {
                    s.patch = patch::strategic(kind, o, n);
                }
                if !data_loss.is_empty() {
                    s.data_risk = Some(data_risk(kind, name, &data_loss, d));
                    if !opts.allow_data_loss {
                        s.refused = true;
                        s.in_apply_stream = false;
                    }
                }
                // A StatefulSet that gains volumes starts empty: what an emptyDir held is not copied.
                if kind == "StatefulSet" && s.action == Action::Recreate && s.data_risk.is_none() {
                    let old_claims = storage_of(d.old.as_ref().unwrap_or(&Value::Null));
                    let new_claims = storage_of(d.new.as_ref().unwrap_or(&Value::Null));
                    if old_claims.is_empty() && !new_claims.is_empty() {
                        s.data_risk = Some(format!(
                            "{name}'s data lives in an emptyDir today; the new PersistentVolumeClaims start empty (nothing is copied over)"
                        ));
                        s.refused = !opts.allow_data_loss;
                    } else if !old_claims.is_empty() && !new_claims.is_empty() {
                        s.reason.push_str("; existing claims are reused by name (grown by the resize step; a smaller template never shrinks them)");
                        // Claims that grow are resized in place.
                        let mut resize = Vec::new();
                        for (claim, size) in &new_claims {
                            let before = old_claims
                                .iter()
                                .find(|(c, _)| c == claim)
                                .and_then(|(_, s)| s.clone());
                            let q = |s: &str| crate::units::Quantity::parse(s).ok();
                            if let (Some(before), Some(after)) = (before, size)
                                && let (Some(b), Some(a)) = (q(&before), q(after))
                                && a > b
                            {
                                for i in 0..replicas(d.old.as_ref().unwrap_or(&Value::Null)) {
                                    resize.push(format!(
                                        "kubectl patch pvc {claim}-{name}-{i} -n {ns} -p '{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"{after}\"}}}}}}}}'"
                                    ));
                                }
                            }
                        }
                        if !resize.is_empty() {
                            let mut r = base(Action::Resize, Impact::None, "grow the existing claims to the new size (the StorageClass must allow volume expansion)".into());
                            r.manifest = None;
                            r.commands = resize;
                            steps.push(r);
                        }
                    }
                }
                s.reason = annotate_restart(d, s.reason);
                steps.push(s);
            }
        }
        let wait = match kind {
            _ if d.status == Status::Removed => None,
            // The workloads mount the Secret cert-manager writes: wait until it is issued.
            "Certificate" => Some((
                format!("wait until cert-manager has issued {name} into its Secret"),
                format!(
                    "kubectl wait --for=condition=Ready certificate/{name} -n {ns} --timeout=10m"
                ),
            )),
            "StatefulSet" | "Deployment" => Some((
                format!("wait until every {name} pod runs the new template"),
                format!(
                    "kubectl rollout status {}/{name} -n {ns} --timeout=15m",
                    kind.to_ascii_lowercase()
                ),
            )),
            _ => None,
        };
        if let Some((reason, command)) = wait {
            let mut w = base(Action::Wait, Impact::None, reason);
            w.manifest = None;
            w.commands.push(command);
            steps.push(w);
        }
    }
    if let Some((from, to)) = profiles {
        steps.extend(kafka_steps(from, to, opts));
        postgres_steps(from, to, opts, &mut steps);
        aerospike_risks(from, to, opts, &mut steps);
    }
    hold_back_config_of_refused_workloads(&mut steps);
    // Stable order: phase, then dependency rank, then the wait right after its workload.
    let order = |s: &Step| -> (u8, u8, String, u8) {
        // The replication role goes right after the primary's rollout (whose pod mounts the
        // script) and before the standbys, whose rollout waits for their clone.
        if s.action == Action::Exec {
            return (
                s.phase,
                rank("StatefulSet"),
                crate::components::postgres::NAME.to_string(),
                3,
            );
        }
        let r = match s.action {
            Action::Reassign | Action::AlterPartitions => 20,
            _ => rank(&s.object.kind),
        };
        let sub = match s.action {
            Action::Resize => 0,
            Action::Wait => 2,
            _ => 1,
        };
        (s.phase, r, s.object.name.clone(), sub)
    };
    steps.sort_by_key(|s| order(s));
    Plan {
        from: from_name.to_string(),
        to: to_name.to_string(),
        namespace: ns.clone(),
        steps,
    }
}

/// Fields the API server refuses to change in place.
fn is_immutable(kind: &str, c: &diff::Change) -> bool {
    c.impact == Impact::Recreate
        || (kind == "StatefulSet" && c.path.starts_with("spec.volumeClaimTemplates"))
}

fn node_port_dropped(d: &ObjectDiff) -> bool {
    d.changes.iter().any(|c| {
        c.path == "spec.type"
            && c.old.as_ref().and_then(|v| v.as_str()) == Some("NodePort")
            && c.new.as_ref().and_then(|v| v.as_str()) == Some("ClusterIP")
    })
}

/// Splits a change path into segments, keeping `[...]` with the segment it belongs to.
fn segments(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, ch) in path.char_indices() {
        match ch {
            '[' => depth += 1,
            ']' => depth -= 1,
            '.' if depth == 0 => {
                out.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&path[start..]);
    out
}

/// What changes, in a few words: config keys for ConfigMaps, the top of each path otherwise.
/// A workload's config and the workload go together: if a StatefulSet's step is refused, the
/// ConfigMaps it mounts are held back too (a new config for the old pods could break them at
/// their next restart).
fn hold_back_config_of_refused_workloads(steps: &mut [Step]) {
    let mut held: Vec<(String, String)> = Vec::new();
    for s in steps.iter() {
        if !s.refused || !matches!(s.object.kind.as_str(), "StatefulSet" | "Deployment") {
            continue;
        }
        if let Some(m) = &s.manifest {
            for v in m["spec"]["template"]["spec"]["volumes"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if let Some(cm) = v["configMap"]["name"].as_str() {
                    held.push((
                        cm.to_string(),
                        format!("{} {}", s.object.kind, s.object.name),
                    ));
                }
            }
        }
    }
    for s in steps.iter_mut() {
        if s.object.kind == "ConfigMap"
            && !s.refused
            && matches!(s.action, Action::Apply)
            && let Some((_, by)) = held.iter().find(|(cm, _)| *cm == s.object.name)
        {
            s.refused = true;
            s.in_apply_stream = false;
            s.data_risk = Some(format!(
                "held back with {by}, which mounts it and is refused"
            ));
        }
    }
}

fn summarize(d: &ObjectDiff) -> String {
    let mut paths: Vec<String> = d
        .changes
        .iter()
        .map(|c| {
            let segs = segments(&c.path);
            if d.key.kind == "ConfigMap" && segs.len() > 1 {
                segs[1..].join(".").chars().take(60).collect()
            } else {
                segs.into_iter().take(4).collect::<Vec<_>>().join(".")
            }
        })
        .collect();
    paths.dedup();
    let n = paths.len();
    let shown: Vec<String> = paths.into_iter().take(3).collect();
    if n > 3 {
        format!("{} and {} more", shown.join(", "), n - 3)
    } else {
        shown.join(", ")
    }
}

fn annotate_restart(d: &ObjectDiff, reason: String) -> String {
    let restarts: Vec<&str> = d
        .changes
        .iter()
        .filter(|c| c.impact == Impact::Restart && c.path.starts_with("data[\"postgresql.conf\"]"))
        .filter_map(|c| c.path.rsplit('.').next())
        .collect();
    if restarts.is_empty() {
        reason
    } else {
        format!(
            "{reason}; PostgreSQL reads {} only at start: the postgres pod restarts with the rollout (brief downtime with one replica)",
            restarts.join(", ")
        )
    }
}

fn data_risk(kind: &str, name: &str, changes: &[&diff::Change], d: &ObjectDiff) -> String {
    let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
    let claims_removed = paths
        .iter()
        .any(|p| p.starts_with("spec.volumeClaimTemplates"))
        && d.new
            .as_ref()
            .is_some_and(|n| n["spec"]["volumeClaimTemplates"].is_null());
    if kind == "StatefulSet" && claims_removed {
        format!(
            "{name} moves off its PersistentVolumeClaims: the claims are kept, but the new pods start on empty ephemeral storage"
        )
    } else if kind == "StatefulSet"
        && paths
            .iter()
            .any(|p| p.starts_with("spec.template.spec.volumes[name=data]"))
    {
        format!(
            "{name}'s data lives in an emptyDir today; the new PersistentVolumeClaims start empty (nothing is copied over)"
        )
    } else if kind == "ConfigMap" && paths.iter().any(|p| p.contains("storage-engine")) {
        "an Aerospike namespace changes storage engine: its records are not carried over"
            .to_string()
    } else if paths.iter().any(|p| p.ends_with("storage")) {
        format!("a claim of {kind} {name} shrinks: volumes cannot shrink without losing data")
    } else {
        format!(
            "{} of {kind} {name} change in a way that loses or strands data",
            paths.join(", ")
        )
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
pub fn reassignment_json(topics: &[(String, u32, u32)], brokers: u32) -> String {
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

fn kafka_steps(from: &Profile, to: &Profile, opts: &Options) -> Vec<Step> {
    let ns = &opts.namespace;
    let key = ObjectKey {
        kind: "KafkaTopics".into(),
        namespace: ns.clone(),
        name: "kafka".into(),
    };
    let step = |action: Action, impact: Impact, reason: String| {
        Step::new(2, key.clone(), action, impact, reason)
    };
    let before = topic_specs(from);
    let after = topic_specs(to);
    let brokers = to.kafka.brokers;
    let exec = format!("kubectl exec -n {ns} kafka-0 --");
    // The brokers as TO runs them (the topic steps follow the broker rollout).
    let conn = crate::components::kafka::admin_connection(ns, to.security.tls);
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
            s.commands.push(format!(
                "{exec} /opt/kafka/bin/kafka-topics.sh {conn} --delete --topic {name}"
            ));
            s.commands.push(format!(
                "{exec} /opt/kafka/bin/kafka-topics.sh {conn} --create --topic {name} --partitions {parts} --replication-factor {rf}"
            ));
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
        s.commands.push(format!("{exec} /opt/kafka/bin/kafka-topics.sh {conn} --alter --topic {name} --partitions {parts}"));
        out.push(s);
    }
    if !grow_rf.is_empty() {
        let topics: Vec<(String, u32, u32)> = grow_rf
            .iter()
            .map(|(n, p, rf, _)| (n.clone(), *p, *rf))
            .collect();
        let json = reassignment_json(&topics, brokers);
        let mut s = step(
            Action::Reassign,
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
        s.files.push(("reassign.json".into(), json));
        s.commands.push(format!(
            "kubectl exec -i -n {ns} kafka-0 -- sh -c 'cat > /tmp/reassign.json' < reassign.json"
        ));
        s.commands.push(format!("{exec} /opt/kafka/bin/kafka-reassign-partitions.sh {conn} --reassignment-json-file /tmp/reassign.json --execute"));
        s.commands.push(format!("{exec} /opt/kafka/bin/kafka-reassign-partitions.sh {conn} --reassignment-json-file /tmp/reassign.json --verify"));
        out.push(s);
    }
    if !shrink_rf.is_empty() {
        let mut s = step(
            Action::Reassign,
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
            Action::Reassign,
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

/// Standbys added to a primary that already runs: its first-start scripts never run again, so
/// the replication role is created by hand (the same idempotent script, now mounted). When the
/// primary's own step is refused, the role and the standbys wait with it: they need the new
/// primary, not the old one.
fn postgres_steps(from: &Profile, to: &Profile, opts: &Options, steps: &mut Vec<Step>) {
    use crate::components::postgres;
    let primary_refused = steps
        .iter()
        .any(|s| s.refused && s.object.kind == "StatefulSet" && s.object.name == postgres::NAME);
    let held = "held back with StatefulSet postgres, which is refused";
    if primary_refused {
        let standby =
            |s: &Step| s.object.kind == "StatefulSet" && s.object.name == postgres::REPLICA;
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
        2,
        ObjectKey {
            kind: "PostgresRole".into(),
            namespace: ns.clone(),
            name: postgres::REPLICATION_USER.into(),
        },
        Action::Exec,
        Impact::None,
        format!(
            "{} standby(s) clone the primary as `{}`: create the role on the running primary (idempotent; until then the standbys' clone step retries)",
            to.postgres.replicas - 1,
            postgres::REPLICATION_USER
        ),
    );
    s.commands.push(format!(
        "kubectl exec -n {ns} {}-0 -c {} -- psql -v ON_ERROR_STOP=1 -U {} -d {} -f {}",
        postgres::NAME,
        postgres::NAME,
        to.postgres.user,
        to.postgres.database,
        postgres::REPLICATION_SQL_PATH
    ));
    if primary_refused {
        s.refused = true;
        s.data_risk = Some(held.into());
    }
    steps.push(s);
}

fn aerospike_risks(from: &Profile, to: &Profile, opts: &Options, steps: &mut [Step]) {
    let shrinks = to.aerospike.namespaces.iter().any(|n| {
        from.aerospike
            .namespaces
            .iter()
            .find(|o| o.name == n.name)
            .is_some_and(|o| n.replication_factor < o.replication_factor)
    }) || to.aerospike.replicas < from.aerospike.replicas;
    if !shrinks {
        return;
    }
    for s in steps.iter_mut() {
        if (s.object.kind == "StatefulSet" && s.object.name == "aerospike")
            || (s.object.kind == "ConfigMap" && s.object.name == "aerospike-config")
        {
            s.data_risk = Some("fewer Aerospike nodes or replicas: records whose copies lived on the removed nodes are lost".into());
            if !opts.allow_data_loss {
                s.refused = true;
                s.in_apply_stream = false;
            }
        }
    }
}
