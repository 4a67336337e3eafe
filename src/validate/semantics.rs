//! The bundle against itself: what the API server accepts one object at a time but the
//! cluster cannot run together. No pod under two PodDisruptionBudgets (the eviction API
//! refuses it, so `kubectl drain` blocks); every selector selects the pods it is meant for;
//! every mount has its volume; every ConfigMap and Secret a pod reads exists or is declared;
//! probes and Services name ports the containers declare.

use super::Check;
use crate::kube::{Item, Object, selects};
use crate::secrets::SecretSpec;
use k8s_openapi::api::core::v1::{Container, PodSpec, Probe};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A pod template of the bundle: the workload it belongs to and its labels and spec.
struct Pod<'b> {
    item: &'b Item,
    labels: &'b BTreeMap<String, String>,
    spec: &'b PodSpec,
}

/// The bundle's pod templates, indexed by label so that a selector is matched against the
/// few pods that carry one of its labels, not against every pod.
struct Pods<'b> {
    all: Vec<Pod<'b>>,
    by_label: HashMap<(&'b str, &'b str), Vec<usize>>,
}

impl<'b> Pods<'b> {
    fn new(cx: &'b Check) -> Pods<'b> {
        let all: Vec<Pod> = cx
            .bundle
            .items
            .iter()
            .filter_map(|item| {
                let template = item.object.pod_template()?;
                Some(Pod {
                    item,
                    labels: template.metadata.as_ref()?.labels.as_ref()?,
                    spec: template.spec.as_ref()?,
                })
            })
            .collect();
        let mut by_label: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        for (i, pod) in all.iter().enumerate() {
            for (k, v) in pod.labels {
                by_label
                    .entry((k.as_str(), v.as_str()))
                    .or_default()
                    .push(i);
            }
        }
        Pods { all, by_label }
    }

    /// The pods `selector` selects, in bundle order.
    fn selected<'s>(&'s self, selector: &'s LabelSelector) -> impl Iterator<Item = &'s Pod<'b>> {
        self.selected_indices(selector).map(|i| &self.all[i])
    }

    /// The pods a Service's selector (plain labels) selects.
    fn selected_by<'s>(
        &'s self,
        labels: &'s BTreeMap<String, String>,
    ) -> impl Iterator<Item = &'s Pod<'b>> {
        let rarest = labels
            .iter()
            .map(|(k, v)| {
                self.by_label
                    .get(&(k.as_str(), v.as_str()))
                    .map_or(&[][..], Vec::as_slice)
            })
            .min_by_key(|c| c.len());
        let indices: Box<dyn Iterator<Item = usize> + 's> = match rarest {
            Some(c) => Box::new(c.iter().copied()),
            None => Box::new(0..self.all.len()),
        };
        indices
            .map(|i| &self.all[i])
            .filter(move |p| labels.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
    }

    /// The indices (in `all`) of the pods `selector` selects, each once. Candidates: the pods
    /// with the rarest of its exact labels, else those with a value of its first `In`
    /// expression (a pod has one value per key, so none comes twice), else every pod.
    fn selected_indices<'s>(
        &'s self,
        selector: &'s LabelSelector,
    ) -> impl Iterator<Item = usize> + 's {
        let by_label = &self.by_label;
        fn of<'m, 'k>(
            by_label: &'m HashMap<(&'k str, &'k str), Vec<usize>>,
            k: &'k str,
            v: &'k str,
        ) -> &'m [usize] {
            by_label.get(&(k, v)).map_or(&[][..], Vec::as_slice)
        }
        let rarest = selector
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| of(by_label, k, v))
            .min_by_key(|c| c.len());
        let candidates: Box<dyn Iterator<Item = usize> + 's> = match rarest {
            Some(c) => Box::new(c.iter().copied()),
            None => match selector
                .match_expressions
                .iter()
                .flatten()
                .find(|e| e.operator == "In")
            {
                Some(e) => Box::new(
                    e.values
                        .iter()
                        .flatten()
                        .flat_map(move |v| of(by_label, &e.key, v).iter().copied()),
                ),
                None => Box::new(0..self.all.len()),
            },
        };
        candidates.filter(move |i| selects(selector, self.all[*i].labels))
    }
}

fn what(item: &Item) -> String {
    format!("{} {}", item.object.kind(), item.object.name())
}

/// The profile section a component's findings point at.
fn section(component: &str) -> String {
    component.to_string()
}

pub fn check(cx: &Check, secrets: &[SecretSpec]) {
    let pods = Pods::new(cx);
    disruption_budgets(cx, &pods);
    selectors(cx, &pods);
    for pod in &pods.all {
        volumes(cx, pod);
        config_maps(cx, pod);
        ports(cx, pod);
    }
    service_ports(cx, &pods);
    secret_references(cx, secrets);
}

fn budgets<'b>(cx: &'b Check) -> Vec<(&'b Item, &'b LabelSelector)> {
    cx.bundle
        .items
        .iter()
        .filter_map(|i| match &*i.object {
            Object::PodDisruptionBudget(p) => Some((i, p.spec.as_ref()?.selector.as_ref()?)),
            _ => None,
        })
        .collect()
}

fn disruption_budgets(cx: &Check, pods: &Pods) {
    let mut under: Vec<Vec<&str>> = vec![Vec::new(); pods.all.len()];
    for (budget, selector) in budgets(cx) {
        for i in pods.selected_indices(selector) {
            under[i].push(budget.object.name());
        }
    }
    for (pod, over) in pods.all.iter().zip(under) {
        if over.len() > 1 {
            cx.error(
                "bundle.pdb-overlap",
                &super::topology::replicas_key(pod.item.component, pod.item.object.name()),
                format!(
                    "the pods of {} are selected by {} PodDisruptionBudgets ({}): the eviction API refuses to evict a pod under more than one, so every `kubectl drain` of their nodes blocks",
                    what(pod.item),
                    over.len(),
                    over.join(", ")
                ),
                "one PodDisruptionBudget per pod: this is an amctl bug, report it with the profile",
            );
        }
    }
}

fn selectors(cx: &Check, pods: &Pods) {
    let meant_for = |item: &Item, selector: &LabelSelector| {
        pods.selected(selector)
            .any(|p| p.item.component == item.component)
    };
    let anywhere = |selector: &LabelSelector| pods.selected(selector).next().is_some();
    let nothing = |item: &Item, which: &str| {
        cx.error(
            "bundle.selector",
            &section(item.component),
            format!(
                "the {which} of {} selects no pod of the platform{}",
                what(item),
                match &*item.object {
                    Object::Service(_) => ": it never gets an endpoint, and its clients time out",
                    Object::PodDisruptionBudget(_) => ": it protects nothing during a drain",
                    _ => ": its rules apply to nothing",
                }
            ),
            "this is an amctl bug: report it with the profile",
        );
    };
    for item in &cx.bundle.items {
        match &*item.object {
            Object::PodDisruptionBudget(p) => {
                if let Some(s) = p.spec.as_ref().and_then(|s| s.selector.as_ref())
                    && !meant_for(item, s)
                {
                    nothing(item, "selector");
                }
            }
            Object::Service(svc) => {
                if let Some(labels) = svc.spec.as_ref().and_then(|s| s.selector.as_ref())
                    && !pods
                        .selected_by(labels)
                        .any(|p| p.item.component == item.component)
                {
                    nothing(item, "selector");
                }
            }
            Object::NetworkPolicy(np) => {
                let Some(spec) = &np.spec else { continue };
                // An empty podSelector (the default deny) selects every pod.
                if let Some(s) = &spec.pod_selector
                    && !anywhere(s)
                {
                    nothing(item, "podSelector");
                }
                let peers = spec
                    .ingress
                    .iter()
                    .flatten()
                    .flat_map(|r| r.from.iter().flatten())
                    .chain(
                        spec.egress
                            .iter()
                            .flatten()
                            .flat_map(|r| r.to.iter().flatten()),
                    );
                for peer in peers {
                    // Peers in other namespaces (the ingress controller, the scraper) are not ours.
                    if peer.namespace_selector.is_some() {
                        continue;
                    }
                    if let Some(s) = &peer.pod_selector
                        && !anywhere(s)
                    {
                        nothing(item, "peer selector");
                    }
                }
            }
            _ => {}
        }
    }
}

fn containers(spec: &PodSpec) -> impl Iterator<Item = &Container> {
    spec.init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
}

fn volumes(cx: &Check, pod: &Pod) {
    let mut names: Vec<&str> = pod
        .spec
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.as_str())
        .collect();
    if let Object::StatefulSet(s) = &*pod.item.object {
        names.extend(
            s.spec
                .iter()
                .flat_map(|s| s.volume_claim_templates.iter().flatten())
                .filter_map(|t| t.metadata.name.as_deref()),
        );
    }
    for c in containers(pod.spec) {
        for m in c.volume_mounts.iter().flatten() {
            if !names.contains(&m.name.as_str()) {
                cx.error(
                    "bundle.volume",
                    &section(pod.item.component),
                    format!(
                        "container {} of {} mounts volume `{}` at {}, which the pod does not have: the pod is rejected",
                        c.name,
                        what(pod.item),
                        m.name,
                        m.mount_path
                    ),
                    "this is an amctl bug: report it with the profile",
                );
            }
        }
    }
}

fn config_map<'b>(cx: &Check<'b>, name: &str) -> Option<&'b BTreeMap<String, String>> {
    match cx.object("ConfigMap", name) {
        Some(Object::ConfigMap(cm)) => cm.data.as_ref(),
        _ => None,
    }
}

fn config_maps(cx: &Check, pod: &Pod) {
    let missing = |message: String| {
        cx.error(
            "bundle.configmap",
            &section(pod.item.component),
            message,
            "this is an amctl bug: report it with the profile",
        )
    };
    for v in pod.spec.volumes.iter().flatten() {
        let mut refs: Vec<(&str, Vec<&str>)> = Vec::new();
        if let Some(cm) = &v.config_map {
            refs.push((
                cm.name.as_str(),
                cm.items.iter().flatten().map(|i| i.key.as_str()).collect(),
            ));
        }
        for source in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(cm) = &source.config_map {
                refs.push((
                    cm.name.as_str(),
                    cm.items.iter().flatten().map(|i| i.key.as_str()).collect(),
                ));
            }
        }
        for (name, keys) in refs {
            match config_map(cx, name) {
                None => missing(format!(
                    "{} mounts ConfigMap `{name}` (volume `{}`), which the render does not contain: the pod never starts",
                    what(pod.item),
                    v.name
                )),
                Some(data) => {
                    for key in keys {
                        if !data.contains_key(key) {
                            missing(format!(
                                "{} mounts key `{key}` of ConfigMap `{name}`, which has no such key",
                                what(pod.item)
                            ));
                        }
                    }
                    // A subPath of a ConfigMap volume is one of its keys.
                    for c in containers(pod.spec) {
                        for m in c.volume_mounts.iter().flatten() {
                            if m.name == v.name
                                && let Some(sub) = &m.sub_path
                                && !data.contains_key(sub)
                            {
                                missing(format!(
                                    "container {} of {} mounts `{sub}` of ConfigMap `{name}` at {}, which has no such key",
                                    c.name,
                                    what(pod.item),
                                    m.mount_path
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
}

fn probes(c: &Container) -> impl Iterator<Item = (&'static str, &Probe)> {
    [
        ("readiness", &c.readiness_probe),
        ("liveness", &c.liveness_probe),
        ("startup", &c.startup_probe),
    ]
    .into_iter()
    .filter_map(|(n, p)| p.as_ref().map(|p| (n, p)))
}

fn declares(c: &Container, port: &str) -> bool {
    c.ports
        .iter()
        .flatten()
        .any(|p| p.name.as_deref() == Some(port))
}

fn ports(cx: &Check, pod: &Pod) {
    for c in containers(pod.spec) {
        for (which, p) in probes(c) {
            let port = p
                .tcp_socket
                .as_ref()
                .map(|t| &t.port)
                .or(p.http_get.as_ref().map(|h| &h.port));
            if let Some(IntOrString::String(name)) = port
                && !declares(c, name)
            {
                cx.error(
                    "bundle.port",
                    &section(pod.item.component),
                    format!(
                        "the {which} probe of container {} of {} names port `{name}`, which the container does not declare: the probe always fails",
                        c.name,
                        what(pod.item)
                    ),
                    "this is an amctl bug: report it with the profile",
                );
            }
        }
    }
}

fn service_ports(cx: &Check, pods: &Pods) {
    for item in &cx.bundle.items {
        let Object::Service(svc) = &*item.object else {
            continue;
        };
        let Some(spec) = &svc.spec else { continue };
        let Some(labels) = &spec.selector else {
            continue;
        };
        let selected: Vec<&Pod> = pods.selected_by(labels).collect();
        for port in spec.ports.iter().flatten() {
            let Some(IntOrString::String(name)) = &port.target_port else {
                continue;
            };
            for pod in &selected {
                let declared = pod.spec.containers.iter().any(|c| declares(c, name));
                if !declared {
                    cx.error(
                        "bundle.port",
                        &section(item.component),
                        format!(
                            "{} forwards to port `{name}`, which no container of {} declares: connections to it are refused",
                            what(item),
                            what(pod.item)
                        ),
                        "this is an amctl bug: report it with the profile",
                    );
                }
            }
        }
    }
}

fn secret_references(cx: &Check, declared: &[SecretSpec]) {
    let issued = cx.bundle.issued_secrets();
    let mut seen = BTreeSet::new();
    for r in cx.bundle.secret_refs() {
        let keys: Option<Vec<&str>> = issued.get(r.name).cloned().or_else(|| {
            declared
                .iter()
                .find(|s| s.name == r.name)
                .map(|s| s.keys.iter().map(|k| k.key.as_str()).collect())
        });
        let problem = match (&keys, r.key) {
            (None, _) => Some(format!(
                "{} refers to Secret `{}`, which no rendered Certificate issues and `amctl secrets` does not create: the pod waits for it forever",
                what(r.by),
                r.name
            )),
            (Some(keys), Some(k)) if !keys.contains(&k) => Some(format!(
                "{} reads key `{k}` of Secret `{}`, which holds only {}: the pod waits for it forever",
                what(r.by),
                r.name,
                keys.join(", ")
            )),
            _ => None,
        };
        if let Some(message) = problem
            && seen.insert(message.clone())
        {
            cx.error(
                "bundle.secret",
                &section(r.by.component),
                message,
                "this is an amctl bug: report it with the profile",
            );
        }
    }
}
