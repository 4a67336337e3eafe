//! The bundle against itself: what the API server accepts one object at a time but the
//! cluster cannot run together. No pod under two PodDisruptionBudgets (the eviction API
//! refuses it, so `kubectl drain` blocks); every selector selects the pods it is meant for;
//! every mount has its volume; every ConfigMap and Secret a pod reads exists or is declared;
//! probes and Services name ports the containers declare.

use super::Check;
use crate::bundle::{Item, Object, selects};
use crate::secrets::SecretSpec;
use k8s_openapi::api::core::v1::{Container, PodSpec, Probe};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet};

/// A pod template of the bundle: the workload it belongs to and its labels and spec.
struct Pod<'b> {
    item: &'b Item,
    labels: &'b BTreeMap<String, String>,
    spec: &'b PodSpec,
}

fn pods<'b>(cx: &'b Check) -> Vec<Pod<'b>> {
    cx.bundle
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
        .collect()
}

fn what(item: &Item) -> String {
    format!("{} {}", item.object.kind(), item.object.name())
}

/// The profile section a component's findings point at.
fn section(component: &str) -> String {
    component.to_string()
}

pub fn check(cx: &Check, secrets: &[SecretSpec]) {
    let pods = pods(cx);
    disruption_budgets(cx, &pods);
    selectors(cx, &pods);
    for pod in &pods {
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

fn disruption_budgets(cx: &Check, pods: &[Pod]) {
    let budgets = budgets(cx);
    for pod in pods {
        let over: Vec<String> = budgets
            .iter()
            .filter(|(_, s)| selects(s, pod.labels))
            .map(|(i, _)| i.object.name().to_string())
            .collect();
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

fn selectors(cx: &Check, pods: &[Pod]) {
    let meant_for = |item: &Item, selector: &LabelSelector| {
        pods.iter()
            .any(|p| p.item.component == item.component && selects(selector, p.labels))
    };
    let anywhere = |selector: &LabelSelector| pods.iter().any(|p| selects(selector, p.labels));
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
                if let Some(labels) = svc.spec.as_ref().and_then(|s| s.selector.as_ref()) {
                    let s = crate::render::k8s::label_selector(labels.clone());
                    if !meant_for(item, &s) {
                        nothing(item, "selector");
                    }
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
    let mut names: BTreeSet<&str> = pod
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
            if !names.contains(m.name.as_str()) {
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

fn config_map<'b>(cx: &'b Check<'b>, name: &str) -> Option<&'b BTreeMap<String, String>> {
    cx.bundle.items.iter().find_map(|i| match &*i.object {
        Object::ConfigMap(cm) if i.object.name() == name => cm.data.as_ref(),
        _ => None,
    })
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

fn port_names(c: &Container) -> BTreeSet<&str> {
    c.ports
        .iter()
        .flatten()
        .filter_map(|p| p.name.as_deref())
        .collect()
}

fn ports(cx: &Check, pod: &Pod) {
    for c in containers(pod.spec) {
        let declared = port_names(c);
        for (which, p) in probes(c) {
            let port = p
                .tcp_socket
                .as_ref()
                .map(|t| &t.port)
                .or(p.http_get.as_ref().map(|h| &h.port));
            if let Some(IntOrString::String(name)) = port
                && !declared.contains(name.as_str())
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

fn service_ports(cx: &Check, pods: &[Pod]) {
    for item in &cx.bundle.items {
        let Object::Service(svc) = &*item.object else {
            continue;
        };
        let Some(spec) = &svc.spec else { continue };
        let Some(labels) = &spec.selector else {
            continue;
        };
        let selector = crate::render::k8s::label_selector(labels.clone());
        let selected: Vec<&Pod> = pods
            .iter()
            .filter(|p| selects(&selector, p.labels))
            .collect();
        for port in spec.ports.iter().flatten() {
            let Some(IntOrString::String(name)) = &port.target_port else {
                continue;
            };
            for pod in &selected {
                let declared = pod
                    .spec
                    .containers
                    .iter()
                    .any(|c| port_names(c).contains(name.as_str()));
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
        let keys: Option<Vec<&str>> = issued.get(&r.name).cloned().or_else(|| {
            declared
                .iter()
                .find(|s| s.name == r.name)
                .map(|s| s.keys.iter().map(|k| k.key.as_str()).collect())
        });
        let problem = match (&keys, &r.key) {
            (None, _) => Some(format!(
                "{} refers to Secret `{}`, which no rendered Certificate issues and `amctl secrets` does not create: the pod waits for it forever",
                r.by, r.name
            )),
            (Some(keys), Some(k)) if !keys.contains(&k.as_str()) => Some(format!(
                "{} reads key `{k}` of Secret `{}`, which holds only {}: the pod waits for it forever",
                r.by,
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
                &section(r.component),
                message,
                "this is an amctl bug: report it with the profile",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::bundle::{Bundle, Object};
    use crate::profile::{LoadOptions, Loaded, load};
    use crate::render::{RenderOptions, render};

    fn rendered(profile: &str) -> (Loaded, Bundle) {
        let loaded = load(profile, &LoadOptions::default()).unwrap();
        let bundle = render(&loaded.profile, &RenderOptions::default()).unwrap();
        (loaded, bundle)
    }

    /// The rules a bundle breaks (only the `bundle.*` ones).
    fn broken(loaded: &Loaded, bundle: &Bundle) -> Vec<&'static str> {
        let mut rules: Vec<&str> = crate::validate::validate(loaded, bundle)
            .into_iter()
            .map(|f| f.rule)
            .filter(|r| r.starts_with("bundle."))
            .collect();
        rules.dedup();
        rules
    }

    fn pod_spec_mut<'b>(
        bundle: &'b mut Bundle,
        name: &str,
    ) -> &'b mut k8s_openapi::api::core::v1::PodSpec {
        let item = bundle
            .items
            .iter_mut()
            .find(|i| {
                matches!(&*i.object, Object::StatefulSet(_) | Object::Deployment(_))
                    && i.object.name() == name
            })
            .unwrap();
        let template = match &mut *item.object {
            Object::StatefulSet(s) => &mut s.spec.as_mut().unwrap().template,
            Object::Deployment(d) => &mut d.spec.as_mut().unwrap().template,
            _ => unreachable!(),
        };
        template.spec.as_mut().unwrap()
    }

    #[test]
    fn the_shipped_renders_are_consistent() {
        for p in ["demo", "prod"] {
            let (loaded, bundle) = rendered(p);
            assert_eq!(broken(&loaded, &bundle), Vec::<&str>::new(), "{p}");
        }
    }

    #[test]
    fn a_pod_under_two_budgets() {
        let (loaded, mut bundle) = rendered("prod");
        let pdb = bundle
            .items
            .iter()
            .find(|i| matches!(&*i.object, Object::PodDisruptionBudget(_)))
            .unwrap()
            .clone();
        let mut second = pdb.object.clone();
        if let Object::PodDisruptionBudget(p) = &mut *second {
            p.metadata.name = Some("second".into());
        }
        bundle.push(pdb.component, *second);
        assert_eq!(broken(&loaded, &bundle), ["bundle.pdb-overlap"]);
    }

    #[test]
    fn a_service_that_selects_nothing() {
        let (loaded, mut bundle) = rendered("demo");
        for item in &mut bundle.items {
            let kafka = item.object.name() == "kafka";
            if let Object::Service(s) = &mut *item.object
                && kafka
            {
                s.spec.as_mut().unwrap().selector =
                    Some([("app.kubernetes.io/name".to_string(), "kafak".to_string())].into());
            }
        }
        assert_eq!(broken(&loaded, &bundle), ["bundle.selector"]);
    }

    #[test]
    fn a_mount_without_its_volume() {
        let (loaded, mut bundle) = rendered("demo");
        let spec = pod_spec_mut(&mut bundle, "kafka");
        spec.volumes.as_mut().unwrap().retain(|v| v.name != "logs");
        assert_eq!(broken(&loaded, &bundle), ["bundle.volume"]);
    }

    #[test]
    fn a_config_map_that_is_not_rendered() {
        let (loaded, mut bundle) = rendered("demo");
        bundle
            .items
            .retain(|i| i.object.name() != "aerospike-config");
        assert!(broken(&loaded, &bundle).contains(&"bundle.configmap"));
        let (loaded, mut bundle) = rendered("prod");
        for item in &mut bundle.items {
            if let Object::ConfigMap(cm) = &mut *item.object
                && cm.metadata.name.as_deref() == Some("postgres-config")
            {
                cm.data.as_mut().unwrap().remove("10-replication.sql");
            }
        }
        assert_eq!(broken(&loaded, &bundle), ["bundle.configmap"]);
    }

    #[test]
    fn a_probe_and_a_service_naming_an_undeclared_port() {
        let (loaded, mut bundle) = rendered("demo");
        let spec = pod_spec_mut(&mut bundle, "aerospike");
        for p in spec.containers[0].ports.as_mut().unwrap() {
            if p.name.as_deref() == Some("service") {
                p.name = Some("client".into());
            }
        }
        assert_eq!(broken(&loaded, &bundle), ["bundle.port"]);
    }

    #[test]
    fn a_secret_nothing_creates() {
        let (loaded, mut bundle) = rendered("demo");
        let spec = pod_spec_mut(&mut bundle, "kafka");
        spec.containers[0]
            .env
            .get_or_insert_with(Vec::new)
            .push(crate::render::k8s::env_secret(
                "X",
                "kafka-sasl",
                "password",
            ));
        assert_eq!(broken(&loaded, &bundle), ["bundle.secret"]);
        let (loaded, mut bundle) = rendered("demo");
        let spec = pod_spec_mut(&mut bundle, "kafka");
        spec.containers[0]
            .env
            .get_or_insert_with(Vec::new)
            .push(crate::render::k8s::env_secret(
                "X",
                "postgres-credentials",
                "username",
            ));
        assert_eq!(broken(&loaded, &bundle), ["bundle.secret"]);
    }
}
