//! What the Kubernetes API server does with the objects amctl renders, in one place: the
//! fields it populates itself (so a read-back object is compared without them), and the updates
//! it refuses (so `migrate` never puts one in its apply stream).
//!
//! Restated from the Kubernetes sources (v1.30; every rule below has held unchanged from v1.27
//! through v1.30). Each rule names the file and the function that enforces it and quotes what
//! the server answers, so a reviewer can find it with one search in any release.

use crate::units::Quantity;
use serde_json::Value;

/// Which fields of an object a rule covers, as `diff` prints paths (`spec.selector`,
/// `spec.template.spec.containers[name=kafka].image`).
#[derive(Debug)]
pub enum Fields {
    /// The field and everything under it.
    Under(&'static str),
    /// Every field under `spec` but these (and what is under them).
    SpecBut(&'static [&'static str]),
}

/// When a rule applies.
#[derive(Debug, PartialEq, Eq)]
pub enum When {
    /// On every update.
    Always,
    /// Only when the old object says `immutable: true` (ConfigMap).
    MarkedImmutable,
}

/// An update the API server refuses.
#[derive(Debug)]
pub struct Rule {
    pub kind: &'static str,
    pub fields: Fields,
    pub when: When,
    /// Where the server enforces it: file and function.
    pub source: &'static str,
    /// What it answers (the start of its message).
    pub says: &'static str,
}

/// Every update the API server refuses of the kinds amctl renders. A kind not listed here takes
/// any update of its spec ([`MUTABLE`] says why for each).
pub const RULES: &[Rule] = &[
    Rule {
        kind: "StatefulSet",
        fields: Fields::SpecBut(&[
            "replicas",
            "ordinals",
            "template",
            "updateStrategy",
            "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds",
        ]),
        when: When::Always,
        source: "pkg/apis/apps/validation/validation.go ValidateStatefulSetUpdate",
        says: "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    },
    Rule {
        kind: "Deployment",
        fields: Fields::Under("spec.selector"),
        when: When::Always,
        source: "pkg/apis/apps/validation/validation.go ValidateDeploymentUpdate (apps/v1: the selector is immutable)",
        says: "spec.selector: field is immutable",
    },
    Rule {
        kind: "Job",
        fields: Fields::Under("spec.selector"),
        when: When::Always,
        source: "pkg/apis/batch/validation/validation.go ValidateJobSpecUpdate",
        says: "spec.selector: field is immutable",
    },
    Rule {
        kind: "Job",
        fields: Fields::Under("spec.template"),
        when: When::Always,
        source: "pkg/apis/batch/validation/validation.go ValidateJobSpecUpdate → validatePodTemplateUpdate (only a suspended Job that never ran may change its scheduling fields)",
        says: "spec.template: field is immutable",
    },
    Rule {
        kind: "Job",
        fields: Fields::Under("spec.completions"),
        when: When::Always,
        source: "pkg/apis/batch/validation/validation.go ValidateJobSpecUpdate (only an Indexed Job scaling with parallelism may change it)",
        says: "spec.completions: field is immutable",
    },
    Rule {
        kind: "Job",
        fields: Fields::Under("spec.completionMode"),
        when: When::Always,
        source: "pkg/apis/batch/validation/validation.go ValidateJobSpecUpdate",
        says: "spec.completionMode: field is immutable",
    },
    Rule {
        kind: "Job",
        fields: Fields::Under("spec.podFailurePolicy"),
        when: When::Always,
        source: "pkg/apis/batch/validation/validation.go ValidateJobSpecUpdate",
        says: "spec.podFailurePolicy: field is immutable",
    },
    Rule {
        kind: "Job",
        fields: Fields::Under("spec.backoffLimitPerIndex"),
        when: When::Always,
        source: "pkg/apis/batch/validation/validation.go ValidateJobSpecUpdate",
        says: "spec.backoffLimitPerIndex: field is immutable",
    },
    Rule {
        kind: "Job",
        fields: Fields::Under("spec.managedBy"),
        when: When::Always,
        source: "pkg/apis/batch/validation/validation.go ValidateJobSpecUpdate",
        says: "spec.managedBy: field is immutable",
    },
    Rule {
        kind: "Job",
        fields: Fields::Under("spec.successPolicy"),
        when: When::Always,
        source: "pkg/apis/batch/validation/validation.go ValidateJobSpecUpdate",
        says: "spec.successPolicy: field is immutable",
    },
    Rule {
        kind: "Service",
        fields: Fields::Under("spec.clusterIP"),
        when: When::Always,
        source: "pkg/apis/core/validation/validation.go ValidateServiceUpdate → validateServiceClusterIPsRelatedFields (\"None\" counts as a value)",
        says: "spec.clusterIPs[0]: Invalid value: may not change once set",
    },
    Rule {
        kind: "Service",
        fields: Fields::Under("spec.clusterIPs"),
        when: When::Always,
        source: "pkg/apis/core/validation/validation.go ValidateServiceUpdate → validateServiceClusterIPsRelatedFields",
        says: "spec.clusterIPs[0]: Invalid value: may not change once set",
    },
    Rule {
        kind: "Service",
        fields: Fields::Under("spec.ipFamilies"),
        when: When::Always,
        source: "pkg/apis/core/validation/validation.go ValidateServiceUpdate → validateServiceClusterIPsRelatedFields (the primary family)",
        says: "spec.ipFamilies[0]: Invalid value: may not change once set",
    },
    Rule {
        kind: "PersistentVolumeClaim",
        fields: Fields::SpecBut(&["resources.requests.storage", "volumeAttributesClassName"]),
        when: When::Always,
        source: "pkg/apis/core/validation/validation.go ValidatePersistentVolumeClaimUpdate",
        says: "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
    },
    Rule {
        kind: "StorageClass",
        fields: Fields::Under("parameters"),
        when: When::Always,
        source: "pkg/apis/storage/validation/validation.go ValidateStorageClassUpdate",
        says: "parameters: updates to parameters are forbidden",
    },
    Rule {
        kind: "StorageClass",
        fields: Fields::Under("provisioner"),
        when: When::Always,
        source: "pkg/apis/storage/validation/validation.go ValidateStorageClassUpdate",
        says: "provisioner: updates to provisioner are forbidden",
    },
    Rule {
        kind: "StorageClass",
        fields: Fields::Under("reclaimPolicy"),
        when: When::Always,
        source: "pkg/apis/storage/validation/validation.go ValidateStorageClassUpdate",
        says: "reclaimPolicy: updates to reclaimPolicy are forbidden",
    },
    Rule {
        kind: "StorageClass",
        fields: Fields::Under("volumeBindingMode"),
        when: When::Always,
        source: "pkg/apis/storage/validation/validation.go ValidateStorageClassUpdate",
        says: "volumeBindingMode: field is immutable",
    },
    Rule {
        kind: "PriorityClass",
        fields: Fields::Under("value"),
        when: When::Always,
        source: "pkg/apis/scheduling/validation/validation.go ValidatePriorityClassUpdate",
        says: "value: Forbidden: may not be changed in an update.",
    },
    Rule {
        kind: "PriorityClass",
        fields: Fields::Under("preemptionPolicy"),
        when: When::Always,
        source: "pkg/apis/scheduling/validation/validation.go ValidatePriorityClassUpdate",
        says: "preemptionPolicy: Invalid value: field is immutable",
    },
    Rule {
        kind: "RoleBinding",
        fields: Fields::Under("roleRef"),
        when: When::Always,
        source: "pkg/apis/rbac/validation/validation.go ValidateRoleBindingUpdate",
        says: "roleRef: cannot change roleRef",
    },
    Rule {
        kind: "ConfigMap",
        fields: Fields::Under("data"),
        when: When::MarkedImmutable,
        source: "pkg/apis/core/validation/validation.go ValidateConfigMapUpdate",
        says: "data: field is immutable when `immutable` is set",
    },
    Rule {
        kind: "ConfigMap",
        fields: Fields::Under("binaryData"),
        when: When::MarkedImmutable,
        source: "pkg/apis/core/validation/validation.go ValidateConfigMapUpdate",
        says: "binaryData: field is immutable when `immutable` is set",
    },
    Rule {
        kind: "ConfigMap",
        fields: Fields::Under("immutable"),
        when: When::MarkedImmutable,
        source: "pkg/apis/core/validation/validation.go ValidateConfigMapUpdate (the mark itself, once set; found by the real server, tests/cluster/rules.py)",
        says: "immutable: field is immutable when `immutable` is set",
    },
];

/// Kinds without a namespace.
pub const CLUSTER_SCOPED: &[&str] = &["Namespace", "StorageClass", "PriorityClass"];

/// The kinds amctl renders whose spec any update may change, and where the server says so.
pub const MUTABLE: &[(&str, &str)] = &[
    (
        "Namespace",
        "ValidateNamespaceUpdate: spec.finalizers change only through the finalize subresource, and amctl sets none",
    ),
    (
        "ServiceAccount",
        "ValidateServiceAccountUpdate: metadata only",
    ),
    (
        "CronJob",
        "pkg/apis/batch/validation ValidateCronJobUpdate: the new spec is validated, nothing is held to the old one",
    ),
    (
        "HorizontalPodAutoscaler",
        "pkg/apis/autoscaling/validation ValidateHorizontalPodAutoscalerUpdate: the new spec is validated only",
    ),
    (
        "Ingress",
        "pkg/apis/networking/validation ValidateIngressUpdate: the new spec is validated only",
    ),
    (
        "NetworkPolicy",
        "pkg/apis/networking/validation ValidateNetworkPolicyUpdate: the new spec is validated only",
    ),
    (
        "PodDisruptionBudget",
        "pkg/apis/policy/validation: policy/v1 budgets are mutable (since v1.15)",
    ),
    (
        "Role",
        "pkg/apis/rbac/validation ValidateRoleUpdate: the new rules are validated only",
    ),
    (
        "Certificate",
        "cert-manager's webhook validates the new spec only",
    ),
    (
        "ServiceMonitor",
        "a CRD with a structural schema: no update rules",
    ),
    (
        "PodMonitor",
        "a CRD with a structural schema: no update rules",
    ),
    (
        "PrometheusRule",
        "a CRD with a structural schema: no update rules",
    ),
];

fn under(path: &str, field: &str) -> bool {
    path == field
        || path
            .strip_prefix(field)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

impl Rule {
    /// Does the rule cover the field at `path` (a `diff` path)?
    pub fn covers(&self, path: &str) -> bool {
        match self.fields {
            Fields::Under(f) => under(path, f),
            Fields::SpecBut(allowed) => {
                under(path, "spec")
                    && path != "spec"
                    && !allowed.iter().any(|a| under(path, &format!("spec.{a}")))
            }
        }
    }

    fn applies(&self, old: &Value) -> bool {
        match self.when {
            When::Always => true,
            When::MarkedImmutable => old["immutable"] == Value::Bool(true),
        }
    }

    /// `source: says`, for a step's reason.
    pub fn cite(&self) -> String {
        format!(
            "the API server refuses it ({}: \"{}\")",
            self.source, self.says
        )
    }
}

/// The rule that forbids changing `path` of `kind` in place, given the object as it is now.
pub fn forbidding(kind: &str, path: &str, old: &Value) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.kind == kind && r.applies(old) && r.covers(path))
}

/// What is known of a claim before its storage request grows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Claim {
    /// `status.phase == Bound` (`None`: not read from the cluster).
    pub bound: Option<bool>,
    /// Its StorageClass's `allowVolumeExpansion` (`None`: a class amctl does not render).
    pub expands: Option<bool>,
}

/// Whether the API server takes a claim's new storage request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resize {
    /// The same size.
    Same,
    /// Accepted: a bound claim growing in a class that expands.
    Accepted,
    /// Refused, and why.
    Refused(String),
    /// Accepted only if the cluster says so: what to check first.
    Unknown(String),
}

/// The three rules for a claim's storage request: it never shrinks, it changes only while the
/// claim is Bound (core/validation.go ValidatePersistentVolumeClaimUpdate: "spec is immutable
/// after creation except resources.requests ... for bound claims", "field can not be less than
/// previous value"), and it grows only in a class with `allowVolumeExpansion: true`
/// (plugin/pkg/admission/storage/persistentvolume/resize/admission.go: "only dynamically
/// provisioned pvc can be resized and the storageclass that provisions the pvc must support
/// resize").
pub fn resize(old: &str, new: &str, claim: Claim) -> Resize {
    let (Ok(a), Ok(b)) = (Quantity::parse(old), Quantity::parse(new)) else {
        return Resize::Refused(format!(
            "the sizes {old} and {new} do not parse as quantities"
        ));
    };
    if a == b {
        return Resize::Same;
    }
    if b < a {
        return Resize::Refused(format!(
            "{old} → {new} shrinks the claim: the API server refuses it (pkg/apis/core/validation/validation.go ValidatePersistentVolumeClaimUpdate: \"field can not be less than previous value\") and no volume shrinks in place"
        ));
    }
    let mut unknown = Vec::new();
    match claim.bound {
        Some(false) => {
            return Resize::Refused(
                "the claim is not Bound: its request cannot change until a volume is bound to it (pkg/apis/core/validation/validation.go ValidatePersistentVolumeClaimUpdate: \"spec is immutable after creation except resources.requests ... for bound claims\")".into(),
            );
        }
        None => unknown.push("the claim is Bound"),
        Some(true) => {}
    }
    match claim.expands {
        Some(false) => {
            return Resize::Refused(
                "its StorageClass has allowVolumeExpansion: false, so the resize admission plugin refuses any growth (plugin/pkg/admission/storage/persistentvolume/resize/admission.go); set storage.define_class.allow_volume_expansion = true first".into(),
            );
        }
        None => unknown.push("its StorageClass has allowVolumeExpansion: true"),
        Some(true) => {}
    }
    if unknown.is_empty() {
        Resize::Accepted
    } else {
        Resize::Unknown(unknown.join(" and "))
    }
}

/// A field the API server fills in itself, which amctl never renders.
#[derive(Debug)]
pub struct Populated {
    /// `*` for every kind.
    pub kind: &'static str,
    /// The path of the field from the object's root, `*` for any one key or list item.
    pub path: &'static [&'static str],
    /// Who sets it.
    pub by: &'static str,
}

/// Fields the API server (and its controllers and admission plugins) set on objects amctl
/// renders, beyond the server metadata every object gets and the defaults `diff` knows by key
/// name: a read-back object is compared without them when amctl's own object lacks them.
pub const POPULATED: &[Populated] = &[
    Populated {
        kind: "PersistentVolumeClaim",
        path: &["spec", "volumeName"],
        by: "the PV controller on binding (ValidatePersistentVolumeClaimUpdate allows it once)",
    },
    Populated {
        kind: "PersistentVolumeClaim",
        path: &["spec", "storageClassName"],
        by: "the DefaultStorageClass admission plugin, when amctl leaves the class to the cluster",
    },
    Populated {
        kind: "PersistentVolumeClaim",
        path: &["metadata", "annotations", "pv.kubernetes.io/bind-completed"],
        by: "the PV controller",
    },
    Populated {
        kind: "PersistentVolumeClaim",
        path: &[
            "metadata",
            "annotations",
            "pv.kubernetes.io/bound-by-controller",
        ],
        by: "the PV controller",
    },
    Populated {
        kind: "PersistentVolumeClaim",
        path: &[
            "metadata",
            "annotations",
            "volume.beta.kubernetes.io/storage-provisioner",
        ],
        by: "the PV controller",
    },
    Populated {
        kind: "PersistentVolumeClaim",
        path: &[
            "metadata",
            "annotations",
            "volume.kubernetes.io/storage-provisioner",
        ],
        by: "the PV controller",
    },
    Populated {
        kind: "PersistentVolumeClaim",
        path: &[
            "metadata",
            "annotations",
            "volume.kubernetes.io/selected-node",
        ],
        by: "the scheduler (WaitForFirstConsumer)",
    },
    Populated {
        kind: "Deployment",
        path: &["spec", "replicas"],
        by: "the HorizontalPodAutoscaler that scales it when amctl leaves replicas out (else pkg/apis/apps/v1/defaults.go SetDefaults_Deployment: 1)",
    },
    Populated {
        kind: "Job",
        path: &["spec", "selector"],
        by: "pkg/registry/batch/job/strategy.go generateSelector (controller-uid)",
    },
    Populated {
        kind: "Job",
        path: &["spec", "backoffLimit"],
        by: "pkg/apis/batch/v1/defaults.go SetDefaults_Job (6)",
    },
    Populated {
        kind: "CronJob",
        path: &["spec", "concurrencyPolicy"],
        by: "pkg/apis/batch/v1/defaults.go SetDefaults_CronJob (Allow)",
    },
    Populated {
        kind: "CronJob",
        path: &["spec", "successfulJobsHistoryLimit"],
        by: "pkg/apis/batch/v1/defaults.go SetDefaults_CronJob (3)",
    },
    Populated {
        kind: "CronJob",
        path: &["spec", "failedJobsHistoryLimit"],
        by: "pkg/apis/batch/v1/defaults.go SetDefaults_CronJob (1)",
    },
    Populated {
        kind: "CronJob",
        path: &["spec", "jobTemplate", "spec", "backoffLimit"],
        by: "pkg/apis/batch/v1/defaults.go SetDefaults_Job (6)",
    },
    Populated {
        kind: "*",
        path: &["spec", "template", "spec", "terminationGracePeriodSeconds"],
        by: "pkg/apis/core/v1/defaults.go SetDefaults_PodSpec (30)",
    },
    Populated {
        kind: "CronJob",
        path: &[
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "spec",
            "terminationGracePeriodSeconds",
        ],
        by: "pkg/apis/core/v1/defaults.go SetDefaults_PodSpec (30)",
    },
    Populated {
        kind: "Service",
        path: &["spec", "ports", "*", "targetPort"],
        by: "pkg/apis/core/v1/defaults.go SetDefaults_Service (the port itself)",
    },
    Populated {
        kind: "NetworkPolicy",
        path: &["spec", "policyTypes"],
        by: "pkg/apis/networking/v1/defaults.go SetDefaults_NetworkPolicy",
    },
];

/// Is the field at `path` (from the object's root, list items as `*`) one the server fills in
/// on an object of `kind`?
pub fn populated(kind: &str, path: &[&str]) -> bool {
    POPULATED.iter().any(|p| {
        (p.kind == "*" || p.kind == kind)
            && p.path.len() == path.len()
            && p.path.iter().zip(path).all(|(a, b)| *a == "*" || a == b)
    })
}

/// The updates of `old` (the object in the cluster) to `new` (what it becomes when applied)
/// the API server refuses, each with the rule's citation. `claim` is what is known of a
/// claim's binding and class.
pub fn violations(kind: &str, old: &Value, new: &Value, claim: Claim) -> Vec<String> {
    let mut out = Vec::new();
    for r in RULES.iter().filter(|r| r.kind == kind && r.applies(old)) {
        let changed = match r.fields {
            Fields::Under(f) => {
                let at = |v: &Value| pointer(v, f).cloned();
                at(old) != at(new)
            }
            Fields::SpecBut(allowed) => {
                // A claim's volumeName may be set once, by the PV controller binding it.
                let unbound =
                    kind == "PersistentVolumeClaim" && old["spec"]["volumeName"].is_null();
                let strip = |v: &Value| {
                    let mut spec = v["spec"].clone();
                    for a in allowed {
                        remove(&mut spec, a);
                    }
                    if unbound {
                        remove(&mut spec, "volumeName");
                    }
                    spec
                };
                strip(old) != strip(new)
            }
        };
        if changed {
            out.push(format!("{kind}: {}", r.cite()));
        }
    }
    if kind == "PersistentVolumeClaim" {
        let size = |v: &Value| {
            v["spec"]["resources"]["requests"]["storage"]
                .as_str()
                .map(str::to_string)
        };
        if let (Some(a), Some(b)) = (size(old), size(new)) {
            match resize(&a, &b, claim) {
                Resize::Same | Resize::Accepted => {}
                Resize::Refused(why) => out.push(format!("{kind}: {why}")),
                Resize::Unknown(what) => {
                    out.push(format!("{kind}: {a} → {b} is accepted only if {what}"))
                }
            }
        }
    }
    out
}

fn pointer<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(v, |v, k| v.get(k))
}

fn remove(v: &mut Value, dotted: &str) {
    match dotted.split_once('.') {
        None => {
            if let Some(m) = v.as_object_mut() {
                m.remove(dotted);
            }
        }
        Some((head, rest)) => {
            if let Some(inner) = v.get_mut(head) {
                remove(inner, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! One test per rule, each restating what the Kubernetes source says (file and function in
    //! the rule's `source`; the messages are the server's own).
    use super::*;
    use serde_json::json;

    fn refused(kind: &str, old: &Value, new: &Value) -> bool {
        !violations(kind, old, new, Claim::default()).is_empty()
    }

    fn with(base: &Value, path: &str, v: Value) -> Value {
        let mut out = base.clone();
        let mut at = &mut out;
        for k in path.split('.') {
            at = &mut at[k];
        }
        *at = v;
        out
    }

    /// apps/validation.go ValidateStatefulSetUpdate: only replicas, ordinals, template,
    /// updateStrategy, persistentVolumeClaimRetentionPolicy and minReadySeconds may change.
    #[test]
    fn statefulset_spec_is_frozen_but_for_six_fields() {
        let sts = json!({"spec": {"replicas": 1, "serviceName": "h", "podManagementPolicy": "OrderedReady",
            "selector": {"matchLabels": {"a": "b"}}, "revisionHistoryLimit": 10,
            "template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}]}});
        for (path, v) in [
            ("spec.serviceName", json!("other")),
            ("spec.podManagementPolicy", json!("Parallel")),
            ("spec.selector", json!({"matchLabels": {"a": "c"}})),
            ("spec.revisionHistoryLimit", json!(3)),
            ("spec.volumeClaimTemplates", json!([])),
        ] {
            assert!(refused("StatefulSet", &sts, &with(&sts, path, v)), "{path}");
        }
        for (path, v) in [
            ("spec.replicas", json!(3)),
            (
                "spec.template",
                json!({"spec": {"containers": [{"name": "c", "image": "x:2"}]}}),
            ),
            ("spec.updateStrategy", json!({"type": "OnDelete"})),
            ("spec.minReadySeconds", json!(5)),
            (
                "spec.persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain"}),
            ),
            ("spec.ordinals", json!({"start": 1})),
        ] {
            assert!(
                !refused("StatefulSet", &sts, &with(&sts, path, v)),
                "{path}"
            );
        }
        let r = forbidding(
            "StatefulSet",
            "spec.volumeClaimTemplates[0].spec.storageClassName",
            &sts,
        );
        assert!(
            r.unwrap()
                .says
                .starts_with("updates to statefulset spec for fields other than")
        );
        assert!(
            forbidding(
                "StatefulSet",
                "spec.template.spec.containers[name=c].image",
                &sts
            )
            .is_none()
        );
        assert!(forbidding("StatefulSet", "spec.replicas", &sts).is_none());
    }

    /// apps/validation.go ValidateDeploymentUpdate (apps/v1): the selector is immutable.
    #[test]
    fn deployment_selector_is_immutable() {
        let d = json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "replicas": 1, "template": {}}});
        assert!(refused(
            "Deployment",
            &d,
            &with(&d, "spec.selector", json!({"matchLabels": {"a": "c"}}))
        ));
        assert!(!refused(
            "Deployment",
            &d,
            &with(&d, "spec.replicas", json!(4))
        ));
        assert!(!refused(
            "Deployment",
            &d,
            &with(&d, "spec.template", json!({"spec": {}}))
        ));
        assert!(!refused(
            "Deployment",
            &d,
            &with(&d, "spec.strategy", json!({"type": "Recreate"}))
        ));
    }

    /// batch/validation.go ValidateJobSpecUpdate: selector, template, completions,
    /// completionMode, podFailurePolicy, backoffLimitPerIndex, managedBy and successPolicy are
    /// immutable; parallelism, deadlines, backoffLimit, TTL and suspend are not.
    #[test]
    fn job_template_and_selector_are_immutable() {
        let job = json!({"spec": {"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}, "backoffLimit": 6}});
        for (path, v) in [
            ("spec.selector", json!({"matchLabels": {"x": "y"}})),
            (
                "spec.template",
                json!({"spec": {"containers": [{"name": "c", "image": "x:2"}]}}),
            ),
            ("spec.completions", json!(2)),
            ("spec.completionMode", json!("Indexed")),
            ("spec.podFailurePolicy", json!({"rules": []})),
            ("spec.backoffLimitPerIndex", json!(1)),
            ("spec.managedBy", json!("example.com/x")),
            ("spec.successPolicy", json!({"rules": []})),
        ] {
            assert!(refused("Job", &job, &with(&job, path, v)), "{path}");
        }
        for (path, v) in [
            ("spec.parallelism", json!(2)),
            ("spec.activeDeadlineSeconds", json!(60)),
            ("spec.backoffLimit", json!(1)),
            ("spec.ttlSecondsAfterFinished", json!(10)),
            ("spec.suspend", json!(true)),
        ] {
            assert!(!refused("Job", &job, &with(&job, path, v)), "{path}");
        }
        assert!(forbidding("Job", "spec.template.spec.containers[name=c].image", &job).is_some());
    }

    /// core/validation.go ValidateServiceUpdate: clusterIP(s) and the primary IP family never
    /// change once set; the type may (the strategy's dropTypeDependentFields releases what the
    /// old type allocated, nodePorts included).
    #[test]
    fn service_cluster_ip_is_immutable_its_type_is_not() {
        let svc = json!({"spec": {"type": "NodePort", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"],
            "ipFamilies": ["IPv4"], "ports": [{"port": 80, "nodePort": 31000}], "selector": {"a": "b"}}});
        assert!(refused(
            "Service",
            &svc,
            &with(&svc, "spec.clusterIP", json!("None"))
        ));
        assert!(refused(
            "Service",
            &svc,
            &with(&svc, "spec.clusterIPs", json!(["10.0.0.2"]))
        ));
        assert!(refused(
            "Service",
            &svc,
            &with(&svc, "spec.ipFamilies", json!(["IPv6"]))
        ));
        let cluster_ip = with(
            &with(&svc, "spec.type", json!("ClusterIP")),
            "spec.ports",
            json!([{"port": 80}]),
        );
        assert!(!refused("Service", &svc, &cluster_ip));
        assert!(!refused(
            "Service",
            &svc,
            &with(&svc, "spec.selector", json!({"a": "c"}))
        ));
    }

    /// core/validation.go ValidatePersistentVolumeClaimUpdate: the spec is immutable but for
    /// resources.requests (and volumeAttributesClassName) of a bound claim; volumeName may be
    /// set once.
    #[test]
    fn claim_spec_is_immutable_but_its_request() {
        let pvc = json!({"spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "fast",
            "resources": {"requests": {"storage": "1Gi"}}}});
        for (path, v) in [
            ("spec.storageClassName", json!("slow")),
            ("spec.accessModes", json!(["ReadWriteMany"])),
            ("spec.volumeMode", json!("Block")),
            ("spec.selector", json!({"matchLabels": {"a": "b"}})),
            ("spec.resources.limits", json!({"storage": "2Gi"})),
        ] {
            assert!(
                refused("PersistentVolumeClaim", &pvc, &with(&pvc, path, v)),
                "{path}"
            );
        }
        // Bound by the PV controller: once.
        let bound = with(&pvc, "spec.volumeName", json!("pv-1"));
        assert!(!refused("PersistentVolumeClaim", &pvc, &bound));
        assert!(refused(
            "PersistentVolumeClaim",
            &bound,
            &with(&pvc, "spec.volumeName", json!("pv-2"))
        ));
        assert!(
            forbidding(
                "PersistentVolumeClaim",
                "spec.resources.requests.storage",
                &pvc
            )
            .is_none()
        );
        assert!(forbidding("PersistentVolumeClaim", "spec.storageClassName", &pvc).is_some());
    }

    /// ValidatePersistentVolumeClaimUpdate ("field can not be less than previous value", the
    /// request frozen unless Bound) and the resize admission plugin (allowVolumeExpansion).
    #[test]
    fn a_claim_grows_only_bound_and_expandable_and_never_shrinks() {
        let ok = Claim {
            bound: Some(true),
            expands: Some(true),
        };
        assert_eq!(resize("1Gi", "2Gi", ok), Resize::Accepted);
        assert_eq!(resize("1Gi", "1024Mi", ok), Resize::Same);
        assert!(
            matches!(resize("2Gi", "1Gi", ok), Resize::Refused(w) if w.contains("can not be less than previous value"))
        );
        assert!(
            matches!(resize("1Gi", "2Gi", Claim { bound: Some(false), ..ok }), Resize::Refused(w) if w.contains("not Bound"))
        );
        assert!(
            matches!(resize("1Gi", "2Gi", Claim { expands: Some(false), ..ok }), Resize::Refused(w) if w.contains("allowVolumeExpansion: false"))
        );
        assert!(
            matches!(resize("1Gi", "2Gi", Claim { bound: None, expands: None }), Resize::Unknown(w) if w.contains("Bound") && w.contains("allowVolumeExpansion"))
        );
        assert!(matches!(resize("1Gi", "lots", ok), Resize::Refused(_)));
        let pvc = json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}});
        let smaller = json!({"spec": {"resources": {"requests": {"storage": "1Gi"}}}});
        assert!(!violations("PersistentVolumeClaim", &pvc, &smaller, ok).is_empty());
        assert!(violations("PersistentVolumeClaim", &smaller, &pvc, ok).is_empty());
        assert!(!violations("PersistentVolumeClaim", &smaller, &pvc, Claim::default()).is_empty());
    }

    /// storage/validation.go ValidateStorageClassUpdate: parameters, provisioner, reclaimPolicy
    /// and volumeBindingMode are frozen; allowVolumeExpansion is not.
    #[test]
    fn storage_class_is_frozen_but_for_expansion() {
        let sc = json!({"provisioner": "ebs.csi.aws.com", "parameters": {"type": "gp3"}, "reclaimPolicy": "Retain",
            "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true});
        for (path, v) in [
            ("parameters", json!({"type": "io2"})),
            ("provisioner", json!("pd.csi.storage.gke.io")),
            ("reclaimPolicy", json!("Delete")),
            ("volumeBindingMode", json!("Immediate")),
        ] {
            assert!(refused("StorageClass", &sc, &with(&sc, path, v)), "{path}");
        }
        assert!(!refused(
            "StorageClass",
            &sc,
            &with(&sc, "allowVolumeExpansion", json!(false))
        ));
    }

    /// rbac/validation.go ValidateRoleBindingUpdate: "cannot change roleRef".
    #[test]
    fn role_binding_role_ref_is_immutable() {
        let rb = json!({"roleRef": {"kind": "Role", "name": "a"}, "subjects": []});
        assert!(refused(
            "RoleBinding",
            &rb,
            &with(&rb, "roleRef", json!({"kind": "Role", "name": "b"}))
        ));
        assert!(!refused(
            "RoleBinding",
            &rb,
            &with(
                &rb,
                "subjects",
                json!([{"kind": "ServiceAccount", "name": "x"}])
            )
        ));
    }

    /// core/validation.go ValidateConfigMapUpdate: data is frozen only on an immutable map.
    #[test]
    fn config_map_data_is_frozen_only_when_marked_immutable() {
        let cm = json!({"data": {"a": "1"}});
        assert!(!refused(
            "ConfigMap",
            &cm,
            &with(&cm, "data", json!({"a": "2"}))
        ));
        let frozen = with(&cm, "immutable", json!(true));
        assert!(refused(
            "ConfigMap",
            &frozen,
            &with(&frozen, "data", json!({"a": "2"}))
        ));
        assert!(forbidding("ConfigMap", "data[\"a\"]", &frozen).is_some());
        assert!(forbidding("ConfigMap", "data[\"a\"]", &cm).is_none());
        // The mark and binaryData are frozen with it.
        assert!(refused(
            "ConfigMap",
            &frozen,
            &with(&frozen, "immutable", json!(false))
        ));
        assert!(refused(
            "ConfigMap",
            &frozen,
            &with(&frozen, "binaryData", json!({"b": "MQ=="}))
        ));
        assert!(!refused(
            "ConfigMap",
            &cm,
            &with(&cm, "immutable", json!(true))
        ));
    }

    #[test]
    fn populated_fields_match_by_kind_and_path() {
        assert!(populated("PersistentVolumeClaim", &["spec", "volumeName"]));
        assert!(!populated("Service", &["spec", "volumeName"]));
        assert!(populated("Job", &["spec", "selector"]));
        assert!(!populated("StatefulSet", &["spec", "selector"]));
        assert!(populated("Service", &["spec", "ports", "*", "targetPort"]));
        assert!(populated(
            "Deployment",
            &["spec", "template", "spec", "terminationGracePeriodSeconds"]
        ));
    }
}
