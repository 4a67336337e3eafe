//! The Bundle: the one intermediate form every command shares. An ordered list of typed
//! Kubernetes objects, each knowing the component it belongs to.

use super::crd::{Certificate, PodMonitor, PrometheusRule, ServiceMonitor};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, PodTemplateSpec, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Serialize;
use std::collections::BTreeMap;

/// What each rendered type knows of itself: its kind and its metadata. Kubernetes' own types
/// have them from k8s-openapi; amctl's CRD types implement it in [`super::crd`].
pub(crate) trait Typed {
    const KIND: &'static str;
    fn meta(&self) -> &ObjectMeta;
    fn meta_mut(&mut self) -> &mut ObjectMeta;
    fn kind_of(&self) -> &'static str {
        Self::KIND
    }
}

impl<T: k8s_openapi::Resource + k8s_openapi::Metadata<Ty = ObjectMeta>> Typed for T {
    const KIND: &'static str = T::KIND;
    fn meta(&self) -> &ObjectMeta {
        self.metadata()
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.metadata_mut()
    }
}

/// The Object enum from one list of kinds and their apply rank: `kind()` and `metadata()` come
/// from the types ([`Typed`]), so a new kind is one line here.
macro_rules! objects {
    ($($(#[$attr:meta])* $variant:ident($ty:ty) = $rank:literal / $step:literal,)*) => {
        /// Every kind amctl renders. Serializes as the object itself (apiVersion and kind included).
        #[derive(Clone, Debug, Serialize, PartialEq)]
        #[serde(untagged)]
        pub enum Object {
            $($(#[$attr])* $variant($ty),)*
        }

        impl Object {
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Object::$variant(o) => o.kind_of(),)*
                }
            }

            pub fn metadata(&self) -> &ObjectMeta {
                match self {
                    $(Object::$variant(o) => o.meta(),)*
                }
            }

            pub(crate) fn metadata_mut(&mut self) -> &mut ObjectMeta {
                match self {
                    $(Object::$variant(o) => o.meta_mut(),)*
                }
            }

            /// Apply order (lowest first), as listed with the kind.
            pub fn rank(&self) -> u8 {
                match self {
                    $(Object::$variant(_) => $rank,)*
                }
            }
        }

        /// The order of a kind's steps in a migration plan, as listed with the kind.
        pub(crate) fn step_rank(kind: &str) -> Option<u8> {
            match kind {
                $(stringify!($variant) => Some($step),)*
                _ => None,
            }
        }
    };
}

objects! {
    // Each kind with two ranks. Apply order (left): what others refer to comes first
    // (namespace, identities, config, services), then workloads, then what refers to workloads;
    // `kubectl apply -f -` of a render takes the objects in this order. Step order (right): a
    // migration runs one step after another and waits on rollouts, so it is finer: claims before
    // identities, StatefulSets (the servers) before Deployments (their clients), each Job after
    // the workloads it talks to; what nothing waits on comes last.
    Namespace(Namespace) = 0 / 0,
    StorageClass(StorageClass) = 0 / 1,
    PriorityClass(PriorityClass) = 0 / 1,
    ServiceAccount(ServiceAccount) = 1 / 3,
    Role(Role) = 2 / 4,
    RoleBinding(RoleBinding) = 3 / 5,
    // Issued into Secrets the workloads mount: before them, so the Secret is ready first.
    Certificate(Certificate) = 4 / 14,
    ConfigMap(ConfigMap) = 4 / 6,
    // Workloads and claims are boxed: 1-3 KB each inline, they would make every Object (and
    // every move while rendering and sorting thousands of them) that large.
    PersistentVolumeClaim(Box<PersistentVolumeClaim>) = 4 / 2,
    Service(Service) = 5 / 7,
    StatefulSet(Box<StatefulSet>) = 6 / 8,
    Deployment(Box<Deployment>) = 6 / 9,
    Job(Box<Job>) = 7 / 10,
    CronJob(Box<CronJob>) = 7 / 14,
    HorizontalPodAutoscaler(HorizontalPodAutoscaler) = 8 / 11,
    PodDisruptionBudget(PodDisruptionBudget) = 8 / 12,
    // Applied with the workloads' Services in place, so a deny never precedes its allows.
    NetworkPolicy(NetworkPolicy) = 8 / 14,
    Ingress(Ingress) = 9 / 13,
    ServiceMonitor(ServiceMonitor) = 9 / 14,
    PodMonitor(PodMonitor) = 9 / 14,
    PrometheusRule(PrometheusRule) = 9 / 14,
}

impl Object {
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or("")
    }

    /// The pod template of a workload (StatefulSet, Deployment, Job, CronJob).
    pub(crate) fn pod_template(&self) -> Option<&PodTemplateSpec> {
        match self {
            Object::StatefulSet(s) => s.spec.as_ref().map(|s| &s.template),
            Object::Deployment(d) => d.spec.as_ref().map(|s| &s.template),
            Object::Job(j) => j.spec.as_ref().map(|s| &s.template),
            Object::CronJob(c) => c
                .spec
                .as_ref()
                .and_then(|s| s.job_template.spec.as_ref())
                .map(|s| &s.template),
            _ => None,
        }
    }

    /// The pod template's labels, empty where there are none.
    pub fn pod_labels(&self) -> Option<&BTreeMap<String, String>> {
        self.pod_template()
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.as_ref())
    }
}

/// Whether a label selector selects an object with `labels`, as the API server evaluates it
/// (matchLabels and matchExpressions, ANDed). An empty selector selects everything.
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_label = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let by_expression = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or(&[]);
        let value = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    by_label && by_expression
}

/// A Secret (and, where the reference names one, its key) an object of the bundle refers to.
#[derive(Clone, Copy, Debug)]
pub struct SecretRef<'b> {
    pub name: &'b str,
    pub key: Option<&'b str>,
    /// The object that refers to it.
    pub by: &'b Item,
}

/// One rendered object and the platform component it belongs to.
#[derive(Clone, Debug)]
pub struct Item {
    pub component: &'static str,
    /// Boxed: a Bundle of thousands of objects is a Vec of small items, grown and sorted by
    /// moving pointers, not objects.
    pub object: Box<Object>,
}

#[derive(Clone, Debug, Default)]
pub struct Bundle {
    pub namespace: String,
    pub items: Vec<Item>,
}

impl Bundle {
    pub fn push(&mut self, component: &'static str, mut object: Object) {
        // kubectl's client-side apply records `"annotations":{}` in its last-applied
        // configuration of an object without annotations, its server-side apply records none:
        // an explicit empty map makes both record the same, so an installation can move from
        // one field manager to the other without a change.
        object
            .metadata_mut()
            .annotations
            .get_or_insert_with(BTreeMap::new);
        self.items.push(Item {
            component,
            object: Box::new(object),
        });
    }

    /// Every Secret the objects refer to: pod volumes (secret, projected), environment
    /// (secretKeyRef, envFrom), image pull secrets, ingress TLS, certificate key store
    /// passwords.
    pub(crate) fn secret_refs(&self) -> Vec<SecretRef<'_>> {
        fn add<'b>(
            refs: &mut Vec<SecretRef<'b>>,
            by: &'b Item,
            name: &'b str,
            key: Option<&'b str>,
        ) {
            refs.push(SecretRef { name, key, by });
        }
        let mut refs = Vec::new();
        for item in &self.items {
            if let Some(spec) = item.object.pod_template().and_then(|t| t.spec.as_ref()) {
                for v in spec.volumes.iter().flatten() {
                    if let Some(s) = &v.secret {
                        let name = s.secret_name.as_deref().unwrap_or("");
                        match &s.items {
                            Some(items) => items
                                .iter()
                                .for_each(|i| add(&mut refs, item, name, Some(&i.key))),
                            None => add(&mut refs, item, name, None),
                        }
                    }
                    for source in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
                        if let Some(s) = &source.secret {
                            match &s.items {
                                Some(items) => items
                                    .iter()
                                    .for_each(|i| add(&mut refs, item, &s.name, Some(&i.key))),
                                None => add(&mut refs, item, &s.name, None),
                            }
                        }
                    }
                }
                let containers = spec
                    .init_containers
                    .iter()
                    .flatten()
                    .chain(&spec.containers);
                for c in containers {
                    for e in c.env.iter().flatten() {
                        if let Some(k) = e
                            .value_from
                            .as_ref()
                            .and_then(|v| v.secret_key_ref.as_ref())
                        {
                            add(&mut refs, item, &k.name, Some(&k.key));
                        }
                    }
                    for e in c.env_from.iter().flatten() {
                        if let Some(s) = &e.secret_ref {
                            add(&mut refs, item, &s.name, None);
                        }
                    }
                }
                for s in spec.image_pull_secrets.iter().flatten() {
                    add(&mut refs, item, &s.name, None);
                }
            }
            match &*item.object {
                Object::Ingress(ing) => {
                    for t in ing.spec.iter().flat_map(|s| s.tls.iter().flatten()) {
                        if let Some(name) = &t.secret_name {
                            add(&mut refs, item, name, None);
                        }
                    }
                }
                Object::Certificate(cert) => {
                    if let Some(ks) = &cert.spec.keystores {
                        let r = &ks.pkcs12.password_secret_ref;
                        add(&mut refs, item, &r.name, Some(&r.key));
                    }
                }
                _ => {}
            }
        }
        refs
    }

    /// The Secrets rendered Certificates have cert-manager issue, with the keys each holds.
    pub(crate) fn issued_secrets(&self) -> BTreeMap<String, Vec<&'static str>> {
        let mut out = BTreeMap::new();
        for item in &self.items {
            if let Object::Certificate(cert) = &*item.object {
                let mut keys = vec!["tls.crt", "tls.key", "ca.crt"];
                if cert.spec.keystores.is_some() {
                    keys.extend(["keystore.p12", "truststore.p12"]);
                }
                out.insert(cert.spec.secret_name.clone(), keys);
            }
        }
        out
    }

    /// Puts the items in apply order; stable, so components keep their order within a rank.
    pub fn sort(&mut self) {
        // A stable bucket pass over the few ranks: each item moves once.
        let mut buckets: [Vec<Item>; 10] = Default::default();
        for item in self.items.drain(..) {
            let r = usize::from(item.object.rank()).min(9);
            buckets[r].push(item);
        }
        for b in buckets {
            self.items.extend(b);
        }
    }
}
