//! A migration plan from one installation to another: every difference becomes a step in a
//! phase (1 infrastructure, 2 resources, 3 hardening), ordered so config comes before the
//! workloads that mount it and every StatefulSet is waited for. Immutable fields are known up
//! front (orphan-delete and re-create), and steps that lose data are refused unless asked for.

pub mod emit;
pub mod patch;

pub use crate::change::{Action, Command, Impact, ObjectKey, Options, Phase, ServerVerdict, Step};
use crate::diff::{self, ObjectDiff, Status};
use crate::kube::server::Resize;
use crate::profile::Profile;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Serialize)]
pub struct Plan {
    pub from: String,
    pub to: String,
    pub namespace: String,
    pub steps: Vec<Step>,
}

impl Plan {
    /// Steps that `--format apply` cannot carry (imperative, recreate, refused, deletes).
    pub(crate) fn left_out_of_apply(&self) -> Vec<&Step> {
        self.steps
            .iter()
            .filter(|s| !s.in_apply_stream && s.action != Action::Wait)
            .collect()
    }
}

/// Phase of a kind (the platform spec's migration path).
fn phase_of(kind: &str, status: Status, d: &ObjectDiff) -> Phase {
    match kind {
        "Namespace" if status == Status::Added => Phase::Infrastructure,
        // Pod Security labels on the namespace are hardening.
        "Namespace" => Phase::Hardening,
        "StorageClass"
        | "PersistentVolumeClaim"
        | "Service"
        | "Ingress"
        | "ServiceMonitor"
        | "PodMonitor"
        | "PrometheusRule"
        // Issued into the Secrets the workloads of phase 2 mount: before them.
        | "Certificate"
        | "Issuer" => Phase::Infrastructure,
        "PodDisruptionBudget" | "NetworkPolicy" => Phase::Hardening,
        // RBAC the platform's own ServiceAccounts need (Flink HA) must exist before the
        // workloads that use it: it goes with them.
        "Role" | "RoleBinding" => {
            let _ = d;
            Phase::Resources
        }
        _ => Phase::Resources,
    }
}

/// Order inside a phase: what others refer to first. A step's place in the plan by the kind of its object ([`crate::kube::bundle::step_rank`]);
/// Secrets (which amctl does not render, but a live side may hold) go with the ConfigMaps, other
/// kinds last.
fn rank(kind: &str) -> u8 {
    crate::kube::bundle::step_rank(kind).unwrap_or(match kind {
        "Secret" => 6,
        _ => 14,
    })
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
    let storage = Storage::of(&old, &new);
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
                if kind == "PersistentVolumeClaim"
                    && storage.owned.iter().any(|p| owned_by(name, p))
                {
                    // A claim a StatefulSet's template made (read back with the workload): it
                    // stays the workload's, nothing to do.
                    continue;
                }
                if kind == "PersistentVolumeClaim" {
                    s.action = Action::Keep;
                    s.reason = format!(
                        "only in {from_name}; kept: amctl never deletes a claim (its data would go with it); `kubectl delete pvc {name} -n {ns}` once you no longer need it"
                    );
                } else if !opts.prune {
                    s.reason =
                        format!("only in {from_name}; left in place (pass --prune to delete it)");
                    s.refused = true;
                    s.opt_in = Some("--prune");
                } else {
                    s.commands.push(Command::kubectl([
                        "delete",
                        &kind.to_ascii_lowercase(),
                        name,
                        "-n",
                        ns,
                        "--ignore-not-found",
                    ]));
                    if d.impact() == Impact::DataLoss {
                        s.data_risk = Some(
                            "its PersistentVolumeClaims stay, but nothing uses their data any more"
                                .into(),
                        );
                        s.refused = !opts.allow_data_loss;
                    }
                }
                let kept = if kind == "StatefulSet" && opts.prune {
                    kept_template_claims(d, ns, phase, to_name)
                } else {
                    Vec::new()
                };
                steps.push(s);
                steps.extend(kept);
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
                let now = d.old.clone().unwrap_or_default();
                let immutable = has(d, |c| is_immutable(kind, c, &now));
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
                        .filter(|c| is_immutable(kind, c, &now))
                        .map(|c| c.path.as_str())
                        .collect();
                    // Every rule the update breaks, once each; the first one is cited in
                    // the reason.
                    let mut cites: Vec<String> = Vec::new();
                    for c in &d.changes {
                        if let Some(r) = crate::kube::server::forbidding(kind, &c.path, &now) {
                            let cite = r.cite();
                            if !cites.contains(&cite) {
                                cites.push(cite);
                            }
                        }
                    }
                    let rule = cites.first().cloned();
                    let verdict = ServerVerdict::Refuses(cites);
                    let labels_only = fields.iter().all(|f| {
                        f.starts_with("spec.volumeClaimTemplates") && f.contains(".metadata.labels")
                    });
                    let why = if labels_only {
                        format!(
                            "once: the claim templates no longer carry the version label ({}); they are immutable, so the {kind} is deleted without its pods (--cascade=orphan) and re-created. The pods are adopted and the claims reused by name; later upgrades change the template only",
                            fields.join(", ")
                        )
                    } else {
                        format!(
                            "immutable field(s) changed ({}): {}",
                            fields.join(", "),
                            recreate_how(kind)
                        )
                    };
                    let why = match &rule {
                        Some(cite) if !labels_only => format!("{why}; {cite}"),
                        _ => why,
                    };
                    if kind == "PersistentVolumeClaim" {
                        // Re-creating a claim deletes its volume's data with it: never.
                        let mut s = base(
                            Action::Apply,
                            d.impact(),
                            format!("{} cannot change in place", fields.join(", ")),
                        );
                        let cite = rule.unwrap_or_default();
                        s.refuse(
                            None,
                            format!(
                                "{cite}. amctl never deletes a claim: to move the data, create a claim with the new spec under a new name, copy the data over (a Job mounting both), point the workload at it, then delete {name} yourself"
                            ),
                        );
                        s.patch = d
                            .old
                            .as_ref()
                            .zip(d.new.as_ref())
                            .and_then(|(o, n)| patch::strategic(kind, o, n));
                        s.server = Some(verdict);
                        steps.push(s);
                        continue;
                    }
                    let mut s = base(Action::Recreate, d.impact(), why);
                    s.commands.push(recreate_delete(kind, name, ns));
                    s.server = Some(verdict);
                    s
                } else if only_replicas {
                    let (from_r, to_r) = (
                        replicas(d.old.as_ref().unwrap_or(&Value::Null)),
                        replicas(d.new.as_ref().unwrap_or(&Value::Null)),
                    );
                    let mut s = base(
                        Action::Scale { replicas: to_r },
                        d.impact(),
                        format!("replicas {from_r} → {to_r}"),
                    );
                    s.in_apply_stream = true;
                    s
                } else if kind == "PersistentVolumeClaim"
                    && let Some((before, after)) = claim_sizes(d)
                {
                    let claim = storage.claim(name, d.new.as_ref());
                    let mut s = base(Action::Apply, d.impact(), summarize(d));
                    match crate::kube::server::resize(&before, &after, claim) {
                        Resize::Same | Resize::Accepted => s.in_apply_stream = true,
                        // Never bound: no volume, no data. Its spec cannot change, so it is
                        // made anew at the new size (the step checks it is still unbound).
                        Resize::Refused(why)
                            if claim.bound == Some(false) && grows(&before, &after) =>
                        {
                            s.server = Some(ServerVerdict::Refuses(vec![why]));
                            s.reason = format!(
                                "{before} → {after}: the claim was never bound (no volume, no data) and an unbound claim's request cannot change, so it is made anew at the new size"
                            );
                            s.commands = remake_or_grow_claim(ns, name);
                        }
                        Resize::Refused(why) => {
                            s.server = Some(ServerVerdict::Refuses(vec![why.clone()]));
                            s.refuse(
                                None,
                                format!("{why}; amctl never re-creates a claim that holds data to change its size"),
                            );
                        }
                        Resize::Unknown(what) => {
                            s.server = Some(ServerVerdict::AcceptsIf(what.clone()));
                            s.reason = format!(
                                "{before} → {after}: the API server takes it only if {what}; the step checks that first and stops the script if not"
                            );
                            if claim.bound.is_none() {
                                s.reason.push_str(". A claim never bound (no volume, no data, e.g. a CronJob's before its first run) cannot change at all: it is made anew at the new size");
                            }
                            s.commands = remake_or_grow_claim(ns, name);
                        }
                    }
                    s
                } else {
                    let mut s = base(Action::Apply, d.impact(), summarize(d));
                    if kind == "Service" && node_port_dropped(d) {
                        s.reason = "type NodePort → ClusterIP, in place: the API server releases the nodePorts it assigned (pkg/registry/core/service/strategy.go dropTypeDependentFields)".into();
                    }
                    s.in_apply_stream = true;
                    s
                };
                if let (Some(o), Some(n)) = (&d.old, &d.new) {
                    s.patch = patch::strategic(kind, o, n);
                }
                // (A change the API server refuses is refused already, whatever the flags.)
                let server_refused = s.refused && s.opt_in.is_none();
                if !data_loss.is_empty() && !server_refused {
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
                        if !s.reason.starts_with("once:") {
                            s.reason.push_str("; existing claims are reused by name (grown by the resize step; a smaller template never shrinks them)");
                        }
                        if has(d, |c| {
                            c.path.starts_with("spec.volumeClaimTemplates")
                                && c.path.ends_with("storageClassName")
                        }) {
                            s.reason.push_str("; they keep the class they were made with (a claim's class never changes): only claims made from now on get the new one");
                        }
                        // Claims that grow are resized in place, each by the API server's rules.
                        for (claim, size) in &new_claims {
                            let before = old_claims
                                .iter()
                                .find(|(c, _)| c == claim)
                                .and_then(|(_, s)| s.clone());
                            let (Some(before), Some(after)) = (before, size.clone()) else {
                                continue;
                            };
                            let class = d.new.as_ref().and_then(|n| {
                                n["spec"]["volumeClaimTemplates"]
                                        .as_array()?
                                        .iter()
                                        .find(|t| t["metadata"]["name"] == claim.as_str())?["spec"]
                                        ["storageClassName"]
                                        .as_str()
                                        .map(str::to_string)
                            });
                            let body = serde_json::json!({"spec": {"resources": {"requests": {"storage": after}}}});
                            for i in 0..replicas(d.old.as_ref().unwrap_or(&Value::Null)) {
                                let pvc = format!("{claim}-{name}-{i}");
                                let state = storage.claim_of_class(&pvc, class.as_deref());
                                let verdict = crate::kube::server::resize(&before, &after, state);
                                // A smaller template leaves the existing claims as they are.
                                if matches!(verdict, Resize::Same) || !grows(&before, &after) {
                                    continue;
                                }
                                let mut r = Step::new(
                                    phase,
                                    d.key.clone(),
                                    Action::Resize,
                                    Impact::None,
                                    format!(
                                        "grow claim {pvc} {before} → {after} (its template grew)"
                                    ),
                                );
                                match verdict {
                                    Resize::Same => {}
                                    Resize::Accepted => {
                                        r.commands.push(Command::kubectl([
                                            "patch",
                                            "pvc",
                                            &pvc,
                                            "-n",
                                            ns,
                                            "-p",
                                            &body.to_string(),
                                        ]));
                                    }
                                    Resize::Unknown(what) => {
                                        r.reason.push_str(&format!("; the API server takes it only if {what}: the step checks that first"));
                                        r.commands = grow_claim(ns, &pvc, &body);
                                    }
                                    Resize::Refused(why) => r.refuse(None, why),
                                }
                                steps.push(r);
                            }
                        }
                    }
                }
                s.reason = annotate_restart(d, s.reason);
                let adopted = (kind == "StatefulSet" && s.action == Action::Recreate)
                    .then(|| release_adopted_pods(d, ns, phase))
                    .flatten();
                let kept = if kind == "StatefulSet" {
                    kept_template_claims(d, ns, phase, to_name)
                } else {
                    Vec::new()
                };
                steps.push(s);
                steps.extend(adopted);
                steps.extend(kept);
            }
        }
        let wait = match kind {
            _ if d.status == Status::Removed => None,
            // The workloads mount the Secret cert-manager writes: wait until it is issued.
            "Certificate" => Some((
                format!("wait until cert-manager has issued {name} into its Secret"),
                Command::kubectl([
                    "wait",
                    "--for=condition=Ready",
                    &format!("certificate/{name}"),
                    "-n",
                    ns,
                    "--timeout=10m",
                ]),
            )),
            "StatefulSet" | "Deployment" => Some((
                format!("wait until every {name} pod runs the new template"),
                Command::kubectl([
                    "rollout",
                    "status",
                    &format!("{}/{name}", kind.to_ascii_lowercase()),
                    "-n",
                    ns,
                    "--timeout=15m",
                ]),
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
        for component in crate::components::ALL {
            (component.migrate)(from, to, opts, &mut steps);
        }
    }
    hold_back_steps_around_refused_workloads(&mut steps);
    hold_back_config_of_refused_workloads(&mut steps);
    // Stable order: phase, then dependency rank, then the wait right after its workload.
    // The kind of each workload a step may be placed around.
    let workload_kinds: std::collections::BTreeMap<String, String> = steps
        .iter()
        .filter(|s| matches!(s.object.kind.as_str(), "StatefulSet" | "Deployment"))
        .map(|s| (s.object.name.clone(), s.object.kind.clone()))
        .collect();
    let order = |s: &Step| -> (Phase, u8, String, u8, i16) {
        // A step placed around a workload's rollout: the replication role right after the
        // primary's (whose pod mounts the script) and before the standbys, an upgrade's dump
        // right before it, its pod-by-pod releases and health checks right after.
        if let Some(workload) = &s.follows {
            let sub = if s.seq < 0 { 0 } else { 3 };
            let kind = workload_kinds
                .get(workload)
                .map_or("StatefulSet", String::as_str);
            return (s.phase, rank(kind), workload.clone(), sub, s.seq);
        }
        let r = match s.action {
            Action::Reassign { .. } | Action::AlterPartitions => 20,
            _ => rank(&s.object.kind),
        };
        let sub = match s.action {
            Action::Resize => 0,
            Action::Wait => 2,
            _ => 1,
        };
        (s.phase, r, s.object.name.clone(), sub, 0)
    };
    steps.sort_by_key(|s| order(s));
    Plan {
        from: from_name.to_string(),
        to: to_name.to_string(),
        namespace: ns.clone(),
        steps,
    }
}

/// After a StatefulSet is re-created with claim templates its pods lack, the controller adopts
/// the old pods and tries to add the claims to them, which the API server refuses ("pod updates
/// may not change fields other than ...", FailedUpdate, forever): the rollout would never end.
/// Those pods are deleted, so the controller re-creates each with its claims. The data they
/// held was not on a claim (the step that re-creates the StatefulSet says what is lost).
fn release_adopted_pods(d: &ObjectDiff, ns: &str, phase: Phase) -> Option<Step> {
    let templates = |v: &Option<Value>| -> Vec<String> {
        storage_of(v.as_ref().unwrap_or(&Value::Null))
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    };
    let (old, new) = (templates(&d.old), templates(&d.new));
    let added: Vec<&String> = new.iter().filter(|t| !old.contains(t)).collect();
    if added.is_empty() {
        return None;
    }
    let name = &d.key.name;
    let pods: Vec<String> = (0..replicas(d.old.as_ref().unwrap_or(&Value::Null)))
        .map(|i| format!("{name}-{i}"))
        .collect();
    let mut step = Step::new(
        phase,
        d.key.clone(),
        Action::Exec,
        Impact::Recreate,
        format!(
            "the re-created {name} adopts its old pods, which lack the claim(s) {}: the API server refuses to add volumes to a pod, so they are deleted and the controller re-creates each with its claims",
            added
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let mut args: Vec<&str> = vec!["delete", "pod", "-n", ns];
    args.extend(pods.iter().map(String::as_str));
    args.extend(["--ignore-not-found", "--wait=true"]);
    step.commands.push(Command::kubectl(args));
    Some(step)
}

/// The claims a StatefulSet's old templates made, when the new StatefulSet no longer has those
/// templates: they stay (amctl never deletes a claim), each named by a step of its own.
fn kept_template_claims(d: &ObjectDiff, ns: &str, phase: Phase, to_name: &str) -> Vec<Step> {
    let templates = |v: &Option<Value>| -> Vec<String> {
        storage_of(v.as_ref().unwrap_or(&Value::Null))
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    };
    let new = templates(&d.new);
    let name = &d.key.name;
    let mut out = Vec::new();
    for t in templates(&d.old).iter().filter(|t| !new.contains(t)) {
        for i in 0..replicas(d.old.as_ref().unwrap_or(&Value::Null)) {
            let claim = format!("{t}-{name}-{i}");
            out.push(Step::new(
                phase,
                ObjectKey {
                    kind: "PersistentVolumeClaim".into(),
                    namespace: ns.to_string(),
                    name: claim.clone(),
                },
                Action::Keep,
                Impact::None,
                format!(
                    "{name} in {to_name} has no claim template `{t}`: its claim {claim} stays with its data (amctl never deletes a claim); `kubectl delete pvc {claim} -n {ns}` once you no longer need it"
                ),
            ));
        }
    }
    out
}

/// Fields the API server refuses to change in place ([`crate::kube::server::RULES`]), given the
/// object as it is now.
fn is_immutable(kind: &str, c: &diff::Change, now: &Value) -> bool {
    crate::kube::server::forbidding(kind, &c.path, now).is_some()
}

/// How an object whose immutable fields changed is replaced.
fn recreate_how(kind: &str) -> String {
    match kind {
        "StatefulSet" | "Deployment" => format!(
            "delete the {kind} without its pods (--cascade=orphan) and re-create it; the pods are adopted and rolled"
        ),
        "Job" => "delete the Job with its pods (they belong to it alone) and re-create it; --ignore-not-found, since its TTL may have removed it already".into(),
        "Service" => "delete the Service and re-create it: its clients see no endpoints for the moment between the two".into(),
        "StorageClass" => "delete the StorageClass and re-create it: existing volumes keep the parameters they were made with, new ones get the new".into(),
        _ => format!("delete the {kind} and re-create it"),
    }
}

fn node_port_dropped(d: &ObjectDiff) -> bool {
    d.changes.iter().any(|c| {
        c.path == "spec.type"
            && c.old.as_ref().and_then(|v| v.as_str()) == Some("NodePort")
            && c.new.as_ref().and_then(|v| v.as_str()) == Some("ClusterIP")
    })
}

/// `kubectl delete` for a re-create: idempotent (a rerun of the script, a Job its TTL removed),
/// and a workload's pods kept for the new object to adopt.
fn recreate_delete(kind: &str, name: &str, ns: &str) -> Command {
    let mut c = Command::kubectl(["delete", &kind.to_ascii_lowercase(), name]);
    if !crate::kube::server::CLUSTER_SCOPED.contains(&kind) {
        c = c.args(["-n", ns]);
    }
    if matches!(kind, "StatefulSet" | "Deployment") {
        c = c.args(["--cascade=orphan"]);
    }
    c.args(["--ignore-not-found", "--wait=true"])
}

fn grows(before: &str, after: &str) -> bool {
    let q = |s: &str| crate::units::Quantity::parse(s).ok();
    matches!((q(before), q(after)), (Some(b), Some(a)) if a > b)
}

/// A claim's storage request on both sides, when it changes.
fn claim_sizes(d: &ObjectDiff) -> Option<(String, String)> {
    let size = |v: &Option<Value>| {
        v.as_ref()?["spec"]["resources"]["requests"]["storage"]
            .as_str()
            .map(str::to_string)
    };
    let (a, b) = (size(&d.old)?, size(&d.new)?);
    has(d, |c| c.path == "spec.resources.requests.storage").then_some((a, b))
}

/// Grow a claim whose binding or class the plan cannot see: check both in the cluster first
/// (the script stops with the reason if either says no), then patch.
fn grow_claim(ns: &str, claim: &str, body: &Value) -> Vec<Command> {
    let check = format!(
        "phase=$(kubectl get pvc {claim} -n {ns} -o jsonpath='{{.status.phase}}'); \
if [ \"$phase\" != Bound ]; then echo \"pvc {claim} is $phase, not Bound: its size cannot change until a volume is bound to it\" >&2; exit 1; fi; \
class=$(kubectl get pvc {claim} -n {ns} -o jsonpath='{{.spec.storageClassName}}'); \
if [ \"$(kubectl get storageclass \"$class\" -o jsonpath='{{.allowVolumeExpansion}}')\" != true ]; then echo \"StorageClass $class does not allow volume expansion: the API server would refuse to grow pvc {claim}\" >&2; exit 1; fi"
    );
    vec![
        Command::new(["sh", "-c", &check]),
        Command::kubectl(["patch", "pvc", claim, "-n", ns, "-p", &body.to_string()]),
    ]
}

/// Before a standalone claim's manifest is applied with a larger request: a claim that was
/// never bound (no volume, so no data) is deleted, to be made anew by the apply, since the API
/// server refuses any change to an unbound claim's spec; a bound one must be in a class that
/// allows expansion (else the script stops with the reason), and the apply grows it.
fn remake_or_grow_claim(ns: &str, claim: &str) -> Vec<Command> {
    let check = format!(
        "phase=$(kubectl get pvc {claim} -n {ns} -o jsonpath='{{.status.phase}}'); \
volume=$(kubectl get pvc {claim} -n {ns} -o jsonpath='{{.spec.volumeName}}'); \
if [ \"$phase\" != Bound ] && [ -z \"$volume\" ]; then kubectl delete pvc {claim} -n {ns} --wait=true --timeout=60s; exit; fi; \
if [ \"$phase\" != Bound ]; then echo \"pvc {claim} is $phase with volume $volume: its size cannot change until it is Bound\" >&2; exit 1; fi; \
class=$(kubectl get pvc {claim} -n {ns} -o jsonpath='{{.spec.storageClassName}}'); \
if [ \"$(kubectl get storageclass \"$class\" -o jsonpath='{{.allowVolumeExpansion}}')\" != true ]; then echo \"StorageClass $class does not allow volume expansion: the API server would refuse to grow pvc {claim}\" >&2; exit 1; fi"
    );
    vec![Command::new(["sh", "-c", &check])]
}

/// Is `claim` one a StatefulSet's claim template made (`<template>-<statefulset>-<ordinal>`),
/// for the `<template>-<statefulset>-` prefix given?
fn owned_by(claim: &str, prefix: &str) -> bool {
    claim
        .strip_prefix(prefix)
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// What the plan knows of claims and classes: a claim's phase and class as read back from the
/// cluster, the classes either side holds, and the claim prefixes StatefulSets own.
struct Storage {
    bound: std::collections::BTreeMap<String, bool>,
    class_of: std::collections::BTreeMap<String, String>,
    expands: std::collections::BTreeMap<String, bool>,
    owned: Vec<String>,
}

impl Storage {
    fn of(old: &[diff::Obj], new: &[diff::Obj]) -> Storage {
        let mut s = Storage {
            bound: Default::default(),
            class_of: Default::default(),
            expands: Default::default(),
            owned: Vec::new(),
        };
        // TO's classes are applied first (phase 1), so they win over what FROM read back.
        for o in old.iter().chain(new) {
            match o.kind.as_str() {
                "PersistentVolumeClaim" => {
                    if let Some(phase) = o.status.as_ref().and_then(|st| st["phase"].as_str()) {
                        s.bound.insert(o.name.clone(), phase == "Bound");
                    }
                    if o.live
                        && let Some(class) = o.value["spec"]["storageClassName"].as_str()
                    {
                        s.class_of.insert(o.name.clone(), class.to_string());
                    }
                }
                // An unset allowVolumeExpansion is false.
                "StorageClass" => {
                    let expands = o.value["allowVolumeExpansion"].as_bool().unwrap_or(false);
                    s.expands.insert(o.name.clone(), expands);
                }
                "StatefulSet" => {
                    for t in o.value["spec"]["volumeClaimTemplates"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        if let Some(t) = t["metadata"]["name"].as_str() {
                            s.owned.push(format!("{t}-{}-", o.name));
                        }
                    }
                }
                _ => {}
            }
        }
        s
    }

    /// The standalone claim `name` as TO renders it.
    fn claim(&self, name: &str, manifest: Option<&Value>) -> crate::kube::server::Claim {
        let class = manifest.and_then(|m| m["spec"]["storageClassName"].as_str());
        self.claim_of_class(name, class)
    }

    /// Claim `name`, whose class is `class` when amctl names one (else the class the cluster
    /// gave it, if it was read back).
    fn claim_of_class(&self, name: &str, class: Option<&str>) -> crate::kube::server::Claim {
        let class = class.or_else(|| self.class_of.get(name).map(String::as_str));
        crate::kube::server::Claim {
            bound: self.bound.get(name).copied(),
            expands: class.and_then(|c| self.expands.get(c).copied()),
        }
    }
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

/// A workload's procedure goes with the workload: when its step is refused, the steps placed
/// around its rollout (a dump, a node leaving, a pod released, a health check) are held back
/// too, under the same flag.
fn hold_back_steps_around_refused_workloads(steps: &mut [Step]) {
    let refused: Vec<(String, String, Option<&'static str>)> = steps
        .iter()
        .filter(|s| {
            s.refused
                && matches!(s.object.kind.as_str(), "StatefulSet" | "Deployment")
                && !matches!(s.action, Action::Wait | Action::Exec)
        })
        .map(|s| (s.object.name.clone(), s.object.display(), s.opt_in))
        .collect();
    for s in steps.iter_mut().filter(|s| !s.refused) {
        let around = s.follows.as_deref().or(match s.action {
            Action::Exec if matches!(s.object.kind.as_str(), "StatefulSet" | "Deployment") => {
                Some(s.object.name.as_str())
            }
            _ => None,
        });
        if let Some((_, by, opt_in)) = around.and_then(|w| refused.iter().find(|(n, _, _)| n == w))
        {
            let risk = format!("held back with {by}, which is refused");
            s.refuse(*opt_in, risk);
        }
    }
}

/// What changes, in a few words: config keys for ConfigMaps, the top of each path otherwise.
/// A workload's config and the workload go together: if a StatefulSet's step is refused, the
/// ConfigMaps it mounts are held back too (a new config for the old pods could break them at
/// their next restart).
fn hold_back_config_of_refused_workloads(steps: &mut [Step]) {
    let mut held: Vec<(String, String, Option<&'static str>)> = Vec::new();
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
                        s.opt_in,
                    ));
                }
            }
        }
    }
    for s in steps.iter_mut() {
        if s.object.kind == "ConfigMap"
            && !s.refused
            && matches!(s.action, Action::Apply)
            && let Some((_, by, opt_in)) = held.iter().find(|(cm, _, _)| *cm == s.object.name)
        {
            s.refused = true;
            s.opt_in = *opt_in;
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
