//! What a cluster hands back: an object as `kubectl get -o yaml` returns it after amctl's
//! manifest was applied (the API server's defaults, the fields its controllers and admission
//! plugins fill in, server metadata), and what `kubectl apply` makes of a live object. Restated
//! from the Kubernetes sources (v1.37, the newest version proven) independently of amctl's own
//! pruning, so the tests that use it check amctl against the server, not against itself; and
//! held to a real API server's read-back (`restated_read_back_is_the_real_one`, run by
//! tests/conformance.sh (j)), which found the fields marked "found on a real read-back".

use serde_json::{Value, json};

/// Sets `v[key]` when it is absent.
fn default(v: &mut Value, key: &str, value: Value) {
    if let Some(m) = v.as_object_mut() {
        m.entry(key.to_string()).or_insert(value);
    }
}

/// pkg/apis/core/v1/defaults.go SetDefaults_PodSpec, SetDefaults_Container, SetDefaults_Probe,
/// SetDefaults_ConfigMapVolumeSource / SecretVolumeSource (0644), SetDefaults_ObjectFieldSelector.
fn pod_template(t: &mut Value, restart: &str) {
    t["metadata"]["creationTimestamp"] = Value::Null;
    let spec = &mut t["spec"];
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "restartPolicy", json!(restart));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "securityContext", json!({}));
    for list in ["containers", "initContainers"] {
        for c in spec[list].as_array_mut().into_iter().flatten() {
            default(c, "terminationMessagePath", json!("/dev/termination-log"));
            default(c, "terminationMessagePolicy", json!("File"));
            default(c, "imagePullPolicy", json!("IfNotPresent"));
            for p in c["ports"].as_array_mut().into_iter().flatten() {
                default(p, "protocol", json!("TCP"));
            }
            for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                if c[probe].is_object() {
                    let p = &mut c[probe];
                    default(p, "timeoutSeconds", json!(1));
                    default(p, "periodSeconds", json!(10));
                    default(p, "successThreshold", json!(1));
                    default(p, "failureThreshold", json!(3));
                }
            }
            for e in c["env"].as_array_mut().into_iter().flatten() {
                if e["valueFrom"]["fieldRef"].is_object() {
                    default(&mut e["valueFrom"]["fieldRef"], "apiVersion", json!("v1"));
                }
            }
        }
    }
    // pkg/apis/core/v1/conversion.go: the deprecated serviceAccount mirrors serviceAccountName
    // (found on a real read-back).
    if let Some(sa) = spec["serviceAccountName"].as_str().map(str::to_string) {
        default(spec, "serviceAccount", json!(sa));
    }
    for vol in spec["volumes"].as_array_mut().into_iter().flatten() {
        for source in ["configMap", "secret"] {
            if vol[source].is_object() {
                default(&mut vol[source], "defaultMode", json!(420));
            }
        }
        // SetDefaults_PersistentVolumeClaimSpec, for a generic ephemeral volume's template too
        // (found on a real read-back).
        if vol["ephemeral"]["volumeClaimTemplate"]["spec"].is_object() {
            default(
                &mut vol["ephemeral"]["volumeClaimTemplate"]["spec"],
                "volumeMode",
                json!("Filesystem"),
            );
        }
    }
}

/// `kubectl get -o yaml` of the object amctl's manifest `v` became (in place). A claim comes
/// back Bound to a volume of the default class when amctl names none.
pub fn read_back(v: &mut Value) {
    let applied = v.to_string();
    let kind = v["kind"].as_str().unwrap_or_default().to_string();
    let name = v["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let uid = format!("0c5e{:0>8}-1111-2222-3333-444455556666", name.len());
    {
        let meta = &mut v["metadata"];
        meta["uid"] = json!(uid);
        meta["resourceVersion"] = json!("4711");
        meta["generation"] = json!(1);
        meta["creationTimestamp"] = json!("2026-11-27T10:00:00Z");
        meta["managedFields"] =
            json!([{"manager": "kubectl-client-side-apply", "operation": "Update"}]);
        meta["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = json!(applied);
    }
    match kind.as_str() {
        // pkg/registry/core/namespace/strategy.go PrepareForCreate: the name label and the
        // kubernetes finalizer.
        "Namespace" => {
            v["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            v["spec"] = json!({"finalizers": ["kubernetes"]});
            v["status"] = json!({"phase": "Active"});
        }
        // pkg/apis/core/v1/defaults.go SetDefaults_Service; the IP allocator; the NodePort
        // allocator.
        "Service" => {
            let spec = &mut v["spec"];
            default(spec, "type", json!("ClusterIP"));
            if spec["clusterIP"].is_null() {
                spec["clusterIP"] = json!("10.43.12.7");
            }
            let ip = spec["clusterIP"].clone();
            spec["clusterIPs"] = json!([ip]);
            spec["ipFamilies"] = json!(["IPv4"]);
            spec["ipFamilyPolicy"] = json!("SingleStack");
            default(spec, "sessionAffinity", json!("None"));
            default(spec, "internalTrafficPolicy", json!("Cluster"));
            let node_port = spec["type"] == "NodePort";
            if node_port {
                default(spec, "externalTrafficPolicy", json!("Cluster"));
            }
            for (i, p) in spec["ports"]
                .as_array_mut()
                .into_iter()
                .flatten()
                .enumerate()
            {
                default(p, "protocol", json!("TCP"));
                let port = p["port"].clone();
                default(p, "targetPort", port);
                if node_port {
                    default(p, "nodePort", json!(30080 + i));
                }
            }
            v["status"] = json!({"loadBalancer": {}});
        }
        // The DefaultStorageClass admission plugin, the PV controller binding it, the
        // pvc-protection finalizer, the scheduler's selected node (WaitForFirstConsumer).
        "PersistentVolumeClaim" => {
            let spec = &mut v["spec"];
            default(spec, "storageClassName", json!("standard"));
            default(spec, "volumeMode", json!("Filesystem"));
            spec["volumeName"] = json!(format!("pvc-{uid}"));
            let size = spec["resources"]["requests"]["storage"].clone();
            let modes = spec["accessModes"].clone();
            let a = &mut v["metadata"]["annotations"];
            a["pv.kubernetes.io/bind-completed"] = json!("yes");
            a["pv.kubernetes.io/bound-by-controller"] = json!("yes");
            a["volume.beta.kubernetes.io/storage-provisioner"] = json!("rancher.io/local-path");
            a["volume.kubernetes.io/storage-provisioner"] = json!("rancher.io/local-path");
            a["volume.kubernetes.io/selected-node"] = json!("node-1");
            v["metadata"]["finalizers"] = json!(["kubernetes.io/pvc-protection"]);
            v["status"] =
                json!({"phase": "Bound", "accessModes": modes, "capacity": {"storage": size}});
        }
        // pkg/apis/apps/v1/defaults.go SetDefaults_StatefulSet.
        "StatefulSet" => {
            let spec = &mut v["spec"];
            default(spec, "podManagementPolicy", json!("OrderedReady"));
            default(spec, "revisionHistoryLimit", json!(10));
            // maxUnavailable: 1 since the MaxUnavailableStatefulSet gate is on by default
            // (v1.35; found on a real read-back of v1.37).
            default(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 1}}),
            );
            default(
                spec,
                "persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
            for vct in spec["volumeClaimTemplates"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                vct["apiVersion"] = json!("v1");
                vct["kind"] = json!("PersistentVolumeClaim");
                // Before v1.33 the server returns a zero creationTimestamp (null) here that no
                // manifest has; v1.37 leaves it out, and amctl's diff takes either.
                default(&mut vct["spec"], "volumeMode", json!("Filesystem"));
                vct["status"] = json!({"phase": "Pending"});
            }
            pod_template(&mut spec["template"], "Always");
            v["status"] = json!({"replicas": 1, "availableReplicas": 1});
        }
        // pkg/apis/apps/v1/defaults.go SetDefaults_Deployment; the deployment controller's
        // revision annotation.
        "Deployment" => {
            let spec = &mut v["spec"];
            // replicas: 1 where amctl leaves them to an HPA (found on a real read-back).
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "progressDeadlineSeconds", json!(600));
            default(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
            );
            pod_template(&mut spec["template"], "Always");
            v["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!("1");
            v["status"] = json!({"replicas": 1});
        }
        // pkg/apis/batch/v1/defaults.go SetDefaults_Job; pkg/registry/batch/job/strategy.go
        // generateSelector (the controller-uid selector and the labels it selects).
        "Job" => {
            let spec = &mut v["spec"];
            default(spec, "backoffLimit", json!(6));
            default(spec, "completions", json!(1));
            default(spec, "parallelism", json!(1));
            default(spec, "completionMode", json!("NonIndexed"));
            default(spec, "suspend", json!(false));
            default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
            // job/strategy.go: a generated selector is not a manual one (found on a real
            // read-back).
            default(spec, "manualSelector", json!(false));
            spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
            let labels = &mut spec["template"]["metadata"]["labels"];
            for (k, val) in [
                ("batch.kubernetes.io/controller-uid", uid.as_str()),
                ("batch.kubernetes.io/job-name", name.as_str()),
                ("controller-uid", uid.as_str()),
                ("job-name", name.as_str()),
            ] {
                labels[k] = json!(val);
            }
            pod_template(&mut spec["template"], "Never");
            v["status"] = json!({"succeeded": 1});
        }
        // pkg/apis/batch/v1/defaults.go SetDefaults_CronJob.
        "CronJob" => {
            let spec = &mut v["spec"];
            default(spec, "concurrencyPolicy", json!("Allow"));
            default(spec, "suspend", json!(false));
            default(spec, "successfulJobsHistoryLimit", json!(3));
            default(spec, "failedJobsHistoryLimit", json!(1));
            let job = &mut spec["jobTemplate"]["spec"];
            default(job, "backoffLimit", json!(6));
            pod_template(&mut job["template"], "Never");
        }
        // pkg/apis/networking/v1/defaults.go SetDefaults_NetworkPolicy, SetDefaults_NetworkPolicyPort.
        "NetworkPolicy" => {
            let spec = &mut v["spec"];
            if spec["policyTypes"].is_null() {
                let mut types = vec![json!("Ingress")];
                if spec["egress"].is_array() {
                    types.push(json!("Egress"));
                }
                spec["policyTypes"] = Value::Array(types);
            }
            for dir in ["ingress", "egress"] {
                for rule in spec[dir].as_array_mut().into_iter().flatten() {
                    for p in rule["ports"].as_array_mut().into_iter().flatten() {
                        default(p, "protocol", json!("TCP"));
                    }
                }
            }
        }
        // pkg/apis/autoscaling/v2/defaults.go SetDefaults_HorizontalPodAutoscaler.
        "HorizontalPodAutoscaler" => {
            default(&mut v["spec"], "minReplicas", json!(1));
            v["status"] = json!({"currentReplicas": 1, "desiredReplicas": 1});
        }
        "PodDisruptionBudget" => {
            v["status"] = json!({"currentHealthy": 1, "desiredHealthy": 1, "disruptionsAllowed": 0, "expectedPods": 1});
        }
        _ => {}
    }
}

/// The merge key Kubernetes declares for a list (`patchMergeKey` in k8s.io/api), at the list's
/// field name and the path above it.
fn merge_key(kind: &str, path: &[String], field: &str) -> Option<&'static str> {
    if matches!(
        kind,
        "Certificate" | "ServiceMonitor" | "PodMonitor" | "PrometheusRule"
    ) {
        return None;
    }
    match field {
        "containers" | "initContainers" | "env" | "volumes" | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "ports" if kind == "Service" && path.len() == 1 => Some("port"),
        "ports"
            if path
                .iter()
                .any(|p| p == "containers" || p == "initContainers") =>
        {
            Some("containerPort")
        }
        _ => None,
    }
}

/// A strategic merge patch applied to `target` (apimachinery's strategicpatch, the parts
/// amctl's patches use: null deletes, `$patch: delete` items, merge-keyed lists merged item by
/// item, other lists replaced; `$setElementOrder` only orders, which no rule looks at).
pub fn apply_strategic(kind: &str, target: &mut Value, patch: &Value) {
    apply_at(kind, &mut Vec::new(), target, patch);
}

fn apply_at(kind: &str, path: &mut Vec<String>, target: &mut Value, patch: &Value) {
    let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) else {
        *target = patch.clone();
        return;
    };
    for (k, pv) in p {
        if k.starts_with("$setElementOrder/") {
            continue;
        }
        if pv.is_null() {
            t.remove(k);
            continue;
        }
        let key = merge_key(kind, path, k);
        match (t.get_mut(k), pv, key) {
            (Some(Value::Array(items)), Value::Array(patch_items), Some(key)) => {
                for pi in patch_items {
                    let id = pi.get(key).cloned();
                    let at = items.iter().position(|i| i.get(key).cloned() == id);
                    if pi["$patch"] == "delete" {
                        if let Some(at) = at {
                            items.remove(at);
                        }
                    } else if let Some(at) = at {
                        path.push(k.clone());
                        apply_at(kind, path, &mut items[at], pi);
                        path.pop();
                    } else {
                        items.push(pi.clone());
                    }
                }
            }
            (Some(tv @ Value::Object(_)), Value::Object(_), _) => {
                path.push(k.clone());
                apply_at(kind, path, tv, pv);
                path.pop();
            }
            _ => {
                t.insert(k.clone(), pv.clone());
            }
        }
    }
}

/// What `kubectl apply` (client-side) makes of `live`, whose last applied configuration was
/// `last`, when `new` is applied: the three-way patch from `last` to `new` onto `live`, so the
/// fields only the server set stay.
pub fn kubectl_apply(kind: &str, live: &Value, last: &Value, new: &Value) -> Value {
    let mut out = live.clone();
    if let Some(p) = amctl::migrate::patch::strategic(kind, last, new) {
        apply_strategic(kind, &mut out, &p);
    }
    out
}

/// Values the cluster makes up (addresses, uids, volume and node names, the provisioner and
/// default class of this cluster): the restatement and the real read-back agree on their
/// presence, not their value.
const MADE_UP: &[&str] = &[
    "spec.clusterIP",
    "spec.clusterIPs",
    "spec.volumeName",
    "spec.storageClassName",
    "nodePort",
    "volume.kubernetes.io/selected-node",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
    "controller-uid",
    "kubectl.kubernetes.io/last-applied-configuration",
];

/// The server's bookkeeping and the controllers' status: whatever a run leaves there.
fn bookkeeping(path: &str) -> bool {
    path.starts_with("status")
        || [
            "metadata.uid",
            "metadata.resourceVersion",
            "metadata.generation",
            "metadata.creationTimestamp",
            "metadata.managedFields",
            "metadata.finalizers",
        ]
        .iter()
        .any(|p| {
            path == *p || path.starts_with(&format!("{p}.")) || path.starts_with(&format!("{p}["))
        })
        || path.contains(".status")
        || path.contains("deployment.kubernetes.io/revision")
}

/// Every leaf of `v` as (path, value); a path is its keys and `[i]` indexes.
fn leaves(v: &Value, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                path.push(k.clone());
                leaves(x, path, out);
                path.pop();
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                path.push(format!("[{i}]"));
                leaves(x, path, out);
                path.pop();
            }
        }
        // A null, an empty map or list is an absent field (how amctl's diff sees it).
        Value::Null => {}
        Value::Object(_) | Value::Array(_) => {}
        _ => out.push((path.clone(), v.clone())),
    }
}

fn at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |v, seg| match seg.strip_prefix('[') {
            Some(i) => v.get(i.trim_end_matches(']').parse::<usize>().ok()?),
            None => v.get(seg.as_str()),
        })
}

fn shown(path: &[String]) -> String {
    path.join(".").replace(".[", "[")
}

/// `read_back` against what a real API server handed back. tests/conformance.sh (j) runs it
/// after tests/cluster/suite.py applied each built-in profile client-side (as amctl's scripts
/// do) on a real control plane and wrote `kubectl get -o yaml` of the namespace:
/// `AMCTL_REAL_READBACK=demo:FILE,prod:FILE`. Every field the restatement sets must be the
/// server's (made-up values by presence), and every field the server set must be restated.
#[test]
#[ignore = "needs a real read-back: tests/conformance.sh (j) runs it with AMCTL_REAL_READBACK"]
fn restated_read_back_is_the_real_one() {
    let spec = std::env::var("AMCTL_REAL_READBACK").expect("AMCTL_REAL_READBACK=PROFILE:FILE,...");
    let mut problems = Vec::new();
    let mut compared = 0;
    for pair in spec.split(',') {
        let (profile, file) = pair.split_once(':').expect("PROFILE:FILE");
        // As kubectl wrote it (amctl's reader would take the server's fields off).
        let text = std::fs::read_to_string(file).expect("the read-back is readable");
        let docs: Vec<Value> =
            serde_saphyr::from_multiple_with_options(&text, serde_saphyr::options! {})
                .expect("the read-back parses");
        let real: Vec<Value> = docs
            .into_iter()
            .filter(|d| !d.is_null())
            .flat_map(|d| match d["items"].as_array() {
                Some(items) => items.clone(),
                None => vec![d],
            })
            .collect();
        let ns = real
            .iter()
            .find(|o| o["kind"] == "Namespace")
            .and_then(|o| o["metadata"]["name"].as_str().map(str::to_string))
            .expect("the read-back holds its Namespace");
        let rendered = amctl::pipeline::render(profile, &ns, &[]).expect("renders");
        for ours in amctl::diff::input::objects(&rendered.bundle).expect("objects") {
            let name = ours.value["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let Some(theirs) = real.iter().find(|o| {
                o["kind"] == ours.kind.as_str() && o["metadata"]["name"] == name.as_str()
            }) else {
                problems.push(format!(
                    "{profile}: {}/{name} is not in the read-back",
                    ours.kind
                ));
                continue;
            };
            compared += 1;
            let mut restated = ours.value.clone();
            read_back(&mut restated);
            // A claim only a CronJob mounts waits for its first run (WaitForFirstConsumer):
            // Pending, with nothing of a binding yet.
            if ours.kind == "PersistentVolumeClaim" && theirs["status"]["phase"] == "Pending" {
                restated["spec"]
                    .as_object_mut()
                    .map(|m| m.remove("volumeName"));
                let a = &mut restated["metadata"]["annotations"];
                for k in [
                    "pv.kubernetes.io/bind-completed",
                    "pv.kubernetes.io/bound-by-controller",
                    "volume.beta.kubernetes.io/storage-provisioner",
                    "volume.kubernetes.io/storage-provisioner",
                    "volume.kubernetes.io/selected-node",
                ] {
                    a.as_object_mut().map(|m| m.remove(k));
                }
            }
            let (mut a, mut b) = (Vec::new(), Vec::new());
            leaves(&restated, &mut Vec::new(), &mut a);
            leaves(theirs, &mut Vec::new(), &mut b);
            let made_up = |p: &str| MADE_UP.iter().any(|m| p.contains(m));
            for (segs, value) in &a {
                let path = &shown(segs);
                if bookkeeping(path) {
                    continue;
                }
                match at(theirs, segs) {
                    Some(v) if v == value || made_up(path) => {}
                    Some(v) => problems.push(format!(
                        "{profile}: {}/{name} {path}: restated {value}, the server has {v}",
                        ours.kind
                    )),
                    None => problems.push(format!(
                        "{profile}: {}/{name} {path}: restated {value}, the server has nothing",
                        ours.kind
                    )),
                }
            }
            for (segs, value) in &b {
                let path = &shown(segs);
                if bookkeeping(path) || made_up(path) {
                    continue;
                }
                if at(&restated, segs).is_none() {
                    problems.push(format!(
                        "{profile}: {}/{name} {path}: the server set {value}, not restated",
                        ours.kind
                    ));
                }
            }
        }
    }
    assert!(compared > 0, "nothing compared");
    assert!(
        problems.is_empty(),
        "{} difference(s) between live.rs and the real read-back:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
