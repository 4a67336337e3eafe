//! Diff of two sets of Kubernetes objects: matched by kind/namespace/name, compared field by
//! field with quantities by value, named list items by name and config files key by key, each
//! change labelled with its impact.

pub mod config;
pub mod impact;
pub mod input;
pub mod view;

use impact::{Impact, impact};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One object from either side.
#[derive(Clone, Debug)]
pub struct Obj {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub value: Value,
    /// Read back from a cluster (server fields present): server defaults are ignored.
    pub live: bool,
    /// The object's `status` as the server reported it (read-back objects only); never
    /// compared, but a claim's phase decides whether it may grow.
    pub status: Option<Value>,
    /// Its `kubectl.kubernetes.io/last-applied-configuration` (read-back objects only): a field
    /// in it was the user's, never one the server filled in.
    pub applied: Option<Value>,
}

pub use crate::change::ObjectKey;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Changed,
    Added,
    Removed,
}

/// One changed leaf (or added/removed subtree).
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub path: String,
    pub old: Option<Value>,
    pub new: Option<Value>,
    pub impact: Impact,
}

#[derive(Clone, Debug)]
pub struct ObjectDiff {
    pub key: ObjectKey,
    pub status: Status,
    /// Normalized values (server fields and defaults removed) for the unified view.
    pub old: Option<Value>,
    pub new: Option<Value>,
    pub changes: Vec<Change>,
}

impl ObjectDiff {
    /// The most disruptive impact of the object's changes.
    pub fn impact(&self) -> Impact {
        self.changes
            .iter()
            .map(|c| c.impact)
            .max()
            .unwrap_or(Impact::None)
    }
}

/// Fields the API server sets; never part of a comparison.
const SERVER_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionGracePeriodSeconds",
];
const SERVER_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
];
/// Keys the API server defaults when amctl leaves them out; ignored when only the live side has
/// them.
const DEFAULTED: &[&str] = &[
    "terminationMessagePath",
    "terminationMessagePolicy",
    "dnsPolicy",
    "schedulerName",
    "restartPolicy",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "strategy",
    "updateStrategy",
    "clusterIP",
    "clusterIPs",
    "ipFamilies",
    "ipFamilyPolicy",
    "internalTrafficPolicy",
    "sessionAffinity",
    "externalTrafficPolicy",
    "allocateLoadBalancerNodePorts",
    "nodePort",
    "volumeMode",
    "successThreshold",
    "defaultMode",
    "timeoutSeconds",
    "periodSeconds",
    "failureThreshold",
    "protocol",
    "finalizers",
    "apiVersion",
    "kind",
    "status",
    "securityContext",
    "serviceAccount",
    "minReadySeconds",
    "persistentVolumeClaimRetentionPolicy",
    "podManagementPolicy",
    "completionMode",
    "suspend",
    "podReplacementPolicy",
    "manualSelector",
    "parallelism",
    "completions",
    "ordinals",
    "behavior",
    "automountServiceAccountToken",
    "imagePullPolicy",
    "enableServiceLinks",
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-name",
    "controller-uid",
    "job-name",
    "kubernetes.io/metadata.name",
    "type",
];
/// Keys whose values are Kubernetes quantities: compared by value.
const QUANTITY_KEYS: &[&str] = &["cpu", "memory", "storage", "ephemeral-storage", "sizeLimit"];

/// Strips what the server adds to a live object; returns its status and its last applied
/// configuration.
pub(crate) fn strip_server_fields(v: &mut Value) -> (Option<Value>, Option<Value>) {
    let mut status = None;
    let mut applied = None;
    if let Some(obj) = v.as_object_mut() {
        status = obj.remove("status");
        applied = obj["metadata"]["annotations"]
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str(s).ok());
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in SERVER_METADATA {
                meta.remove(*k);
            }
            if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
                for k in SERVER_ANNOTATIONS {
                    a.remove(*k);
                }
                if a.is_empty() {
                    meta.remove("annotations");
                }
            }
        }
    }
    (status, applied)
}

pub(crate) fn is_live(v: &Value) -> bool {
    let meta = &v["metadata"];
    !meta["resourceVersion"].is_null() || !meta["uid"].is_null() || !meta["managedFields"].is_null()
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The key that names list items, if every item of both lists has a unique one.
fn list_key(a: &[Value], b: &[Value]) -> Option<&'static str> {
    ["name", "mountPath", "containerPort", "port", "ip"]
        .into_iter()
        .find(|k| {
            [a, b].iter().all(|items| {
                let keys: Vec<String> = items
                    .iter()
                    .filter_map(|i| i.get(*k).map(|v| v.to_string()))
                    .collect();
                let mut dedup = keys.clone();
                dedup.sort();
                dedup.dedup();
                keys.len() == items.len() && dedup.len() == keys.len()
            }) && (!a.is_empty() || !b.is_empty())
        })
}

fn item_id(item: &Value, key: &str) -> String {
    match item.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Drops from `live` what only the server put there and makes quantities that are equal by value
/// spell the same, so the comparison and the unified view see real differences only.
pub(crate) fn prune_live(kind: &str, live: &mut Value, desired: &Value, applied: Option<&Value>) {
    prune_at(&Ctx { kind, applied }, &mut Vec::new(), live, desired);
}

/// The object being pruned: its kind, and what was last applied to it.
struct Ctx<'a> {
    kind: &'a str,
    applied: Option<&'a Value>,
}

fn prune_at(ctx: &Ctx, path: &mut Vec<String>, live: &mut Value, desired: &Value) {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => {
            // What only the live side has: its server-filled parts go first, then it goes too
            // if nothing else is left (a claim's annotations are all the PV controller's).
            let empty = Value::Object(serde_json::Map::new());
            for (k, lv) in l.iter_mut() {
                if !d.contains_key(k) && lv.is_object() {
                    path.push(k.clone());
                    prune_at(ctx, path, lv, &empty);
                    path.pop();
                }
            }
            l.retain(|k, v| {
                d.contains_key(k)
                    || !(is_empty(v)
                        || DEFAULTED.contains(&k.as_str())
                        || populated_at(ctx, path, k))
            });
            // The server drops empty maps and lists (Go's omitempty): an empty one amctl wrote
            // reads back as no key at all.
            for (k, dv) in d {
                if is_empty(dv) && !dv.is_null() && !l.contains_key(k) {
                    l.insert(k.clone(), dv.clone());
                }
            }
            for (k, lv) in l.iter_mut() {
                if let Some(dv) = d.get(k) {
                    if QUANTITY_KEYS.contains(&k.as_str()) && quantity_eq(lv, dv) {
                        *lv = dv.clone();
                    } else {
                        path.push(k.clone());
                        prune_at(ctx, path, lv, dv);
                        path.pop();
                    }
                }
            }
        }
        (Value::Array(l), Value::Array(d)) => {
            path.push("*".into());
            if let Some(key) = list_key(l, d) {
                for item in l.iter_mut() {
                    let id = item_id(item, key);
                    if let Some(di) = d.iter().find(|x| item_id(x, key) == id) {
                        prune_at(ctx, path, item, di);
                    }
                }
            } else {
                for (li, di) in l.iter_mut().zip(d.iter()) {
                    prune_at(ctx, path, li, di);
                }
            }
            path.pop();
        }
        (l, d) => {
            // kubectl prints some numbers as strings and vice versa (`port: "8080"`).
            if l != d && l.to_string().trim_matches('"') == d.to_string().trim_matches('"') {
                *l = d.clone();
            }
        }
    }
}

/// Is `path.key` a field the API server fills in on `kind` ([`crate::kube::server::POPULATED`])?
/// Unless the last applied configuration set it: then it was the user's.
fn populated_at(ctx: &Ctx, path: &[String], key: &str) -> bool {
    let mut full: Vec<&str> = path.iter().map(String::as_str).collect();
    full.push(key);
    let applied = ctx.applied.is_some_and(|a| {
        full.iter()
            .try_fold(a, |v, k| if *k == "*" { None } else { v.get(*k) })
            .is_some()
    });
    !applied && crate::kube::server::populated(ctx.kind, &full)
}

fn quantity_eq(a: &Value, b: &Value) -> bool {
    let q = |v: &Value| match v {
        Value::String(s) => crate::units::Quantity::parse(s).ok(),
        Value::Number(n) => crate::units::Quantity::parse(&n.to_string()).ok(),
        _ => None,
    };
    matches!((q(a), q(b)), (Some(x), Some(y)) if x == y)
}

fn segment(key: &str) -> String {
    if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !key.is_empty()
    {
        format!(".{key}")
    } else {
        format!("[{}]", serde_json::Value::String(key.to_string()))
    }
}

struct Walker<'a> {
    kind: &'a str,
    name: &'a str,
    out: Vec<Change>,
}

impl Walker<'_> {
    fn push(&mut self, path: &str, old: Option<&Value>, new: Option<&Value>) {
        let path = path.trim_start_matches('.').to_string();
        let impact = impact(self.kind, self.name, &path, old, new);
        self.out.push(Change {
            path,
            old: old.cloned(),
            new: new.cloned(),
            impact,
        });
    }

    fn walk(&mut self, path: &str, key: &str, a: Option<&Value>, b: Option<&Value>) {
        match (a, b) {
            (None, None) => {}
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) if QUANTITY_KEYS.contains(&key) && quantity_eq(x, y) => {}
            (Some(Value::Object(x)), Some(Value::Object(y))) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let p = format!("{path}{}", segment(k));
                    // Config files in ConfigMaps: key by key.
                    if self.kind == "ConfigMap"
                        && (path == ".data" || path == "data")
                        && let (Some(Value::String(old)), Some(Value::String(new))) =
                            (x.get(k), y.get(k))
                        && old != new
                        && let Some(format) = config::format_of(k)
                        && let (Some(om), Some(nm)) =
                            (config::flatten(format, old), config::flatten(format, new))
                    {
                        let mut ks: Vec<&String> = om.keys().chain(nm.keys()).collect();
                        ks.sort();
                        ks.dedup();
                        for ck in ks {
                            let (o, n) = (om.get(ck), nm.get(ck));
                            if o != n {
                                let ov = o.map(|s| Value::String(s.clone()));
                                let nv = n.map(|s| Value::String(s.clone()));
                                self.push(&format!("{p}.{ck}"), ov.as_ref(), nv.as_ref());
                            }
                        }
                        continue;
                    }
                    self.walk(&p, k, x.get(k), y.get(k));
                }
            }
            (Some(Value::Array(x)), Some(Value::Array(y))) => {
                if let Some(lk) = list_key(x, y) {
                    let mut ids: Vec<String> = Vec::new();
                    for item in x.iter().chain(y.iter()) {
                        let id = item_id(item, lk);
                        if !ids.contains(&id) {
                            ids.push(id);
                        }
                    }
                    for id in ids {
                        let xi = x.iter().find(|i| item_id(i, lk) == id);
                        let yi = y.iter().find(|i| item_id(i, lk) == id);
                        self.walk(&format!("{path}[{lk}={id}]"), "", xi, yi);
                    }
                } else if x.iter().all(|v| !v.is_object()) && y.iter().all(|v| !v.is_object()) {
                    if x.len() == y.len() {
                        // Same shape (a command with a changed script): element by element.
                        for i in 0..x.len() {
                            self.walk(&format!("{path}[{i}]"), "", x.get(i), y.get(i));
                        }
                    } else {
                        // A list of scalars that grew or shrank (args): one change.
                        self.push(path, a, b);
                    }
                } else {
                    for i in 0..x.len().max(y.len()) {
                        self.walk(&format!("{path}[{i}]"), "", x.get(i), y.get(i));
                    }
                }
            }
            _ => self.push(path, a, b),
        }
    }
}

/// Compares two objects (already normalized).
pub fn compare(kind: &str, name: &str, old: &Value, new: &Value) -> Vec<Change> {
    let mut w = Walker {
        kind,
        name,
        out: Vec::new(),
    };
    w.walk("", "", Some(old), Some(new));
    w.out
}

/// Jobs amctl names by a hash of their content are the same Job across renders.
fn match_name(kind: &str, name: &str) -> String {
    if kind == "Job"
        && let Some((base, hash)) = name.rsplit_once('-')
        && hash.len() == 8
        && hash.chars().all(|c| c.is_ascii_hexdigit())
    {
        return format!("{base}-*");
    }
    name.to_string()
}

/// The claim name prefixes (`<template>-<statefulset>-`) of the StatefulSets read back from a
/// cluster: the claims their controller made from the templates are the workload's, read back
/// beside it, and no difference of their own.
fn template_claims<'a>(objects: impl Iterator<Item = &'a Obj>) -> Vec<String> {
    objects
        .filter(|o| o.live && o.kind == "StatefulSet")
        .flat_map(|o| {
            o.value["spec"]["volumeClaimTemplates"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["metadata"]["name"].as_str())
                .map(|t| format!("{t}-{}-", o.name))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Is `claim` one of `<prefix><ordinal>` for a prefix of [`template_claims`]?
pub(crate) fn owned(claim: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| {
        claim
            .strip_prefix(p.as_str())
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Diffs two object sets.
pub fn diff(old: Vec<Obj>, new: Vec<Obj>) -> Vec<ObjectDiff> {
    let made = template_claims(old.iter().chain(&new));
    let keep = |o: &Obj| !(o.live && o.kind == "PersistentVolumeClaim" && owned(&o.name, &made));
    let old: Vec<Obj> = old.into_iter().filter(keep).collect();
    let new: Vec<Obj> = new.into_iter().filter(keep).collect();
    let key = |o: &Obj| {
        (
            o.kind.clone(),
            o.namespace.clone(),
            match_name(&o.kind, &o.name),
        )
    };
    // A Job named by its content hash runs again under a new name when its content changes:
    // where a side holds several runs, the one the other side names is compared, and the
    // earlier runs (which expire by their TTL) are not a difference of their own.
    let exact: std::collections::BTreeSet<(String, String)> = new
        .iter()
        .filter(|o| o.kind == "Job")
        .map(|o| (o.namespace.clone(), o.name.clone()))
        .collect();
    let mut olds: BTreeMap<_, Obj> = BTreeMap::new();
    for o in old {
        let k = key(&o);
        let named = exact.contains(&(o.namespace.clone(), o.name.clone()));
        match olds.get(&k) {
            Some(held)
                if !named
                    && (exact.contains(&(held.namespace.clone(), held.name.clone()))
                        || held.name > o.name) => {}
            _ => {
                olds.insert(k, o);
            }
        }
    }
    let mut out = Vec::new();
    let mut news: Vec<Obj> = new;
    news.sort_by_key(|o| key(o));
    for n in news {
        let k = key(&n);
        match olds.remove(&k) {
            Some(o) => {
                let (mut ov, mut nv) = (o.value, n.value);
                if o.live {
                    prune_live(&n.kind, &mut ov, &nv, o.applied.as_ref());
                }
                if n.live {
                    prune_live(&n.kind, &mut nv, &ov, n.applied.as_ref());
                }
                let changes = compare(&n.kind, &n.name, &ov, &nv);
                if !changes.is_empty() {
                    out.push(ObjectDiff {
                        key: ObjectKey {
                            kind: n.kind.clone(),
                            namespace: n.namespace.clone(),
                            name: n.name.clone(),
                        },
                        status: Status::Changed,
                        old: Some(ov),
                        new: Some(nv),
                        changes,
                    });
                }
            }
            None => {
                let change = Change {
                    path: String::new(),
                    old: None,
                    new: Some(n.value.clone()),
                    impact: Impact::None,
                };
                out.push(ObjectDiff {
                    key: ObjectKey {
                        kind: n.kind,
                        namespace: n.namespace,
                        name: n.name,
                    },
                    status: Status::Added,
                    old: None,
                    new: Some(n.value),
                    changes: vec![change],
                });
            }
        }
    }
    for (_, o) in olds {
        // A StatefulSet that goes away strands the data in its claims.
        let strands = o.kind == "StatefulSet" && !o.value["spec"]["volumeClaimTemplates"].is_null();
        let change = Change {
            path: String::new(),
            old: Some(o.value.clone()),
            new: None,
            impact: if strands {
                Impact::DataLoss
            } else {
                Impact::None
            },
        };
        out.push(ObjectDiff {
            key: ObjectKey {
                kind: o.kind,
                namespace: o.namespace,
                name: o.name,
            },
            status: Status::Removed,
            old: Some(o.value),
            new: None,
            changes: vec![change],
        });
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}
