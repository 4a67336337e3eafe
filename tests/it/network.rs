//! Network policies: the flows the platform needs are derived from the rendered Bundle itself
//! (the endpoints its configs and commands name, StatefulSet peers on their headless Services,
//! scrape annotations, Flink's ports from its config.yaml, DNS) and each must be allowed by the
//! rendered NetworkPolicies at both ends; flows nobody needs must be denied.

use amctl::kube::{Bundle, Object};
use amctl::profile::{LoadOptions, load};
use amctl::render::{RenderOptions, render};
use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, BTreeSet};

type Labels = BTreeMap<String, String>;

/// One end of a flow.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum End {
    /// A pod of this namespace, by its labels' name.
    Pod(String),
    /// Any pod of another namespace.
    Namespace(String),
    /// kube-dns in kube-system.
    Dns,
    /// Outside the cluster.
    External,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Flow {
    from: End,
    to: End,
    port: i32,
    protocol: &'static str,
}

struct Workload {
    name: String,
    labels: Labels,
    spec: PodSpec,
    annotations: BTreeMap<String, String>,
}

fn bundle(profile: &str, sets: &[&str]) -> Bundle {
    let l = load(
        profile,
        &LoadOptions {
            sets: sets.iter().map(|s| s.to_string()).collect(),
        },
    )
    .unwrap();
    render(&l.profile, &RenderOptions::default()).unwrap()
}

fn workloads(b: &Bundle) -> Vec<Workload> {
    b.items
        .iter()
        .filter_map(|i| {
            let t = match &*i.object {
                Object::StatefulSet(s) => s.spec.as_ref()?.template.clone(),
                Object::Deployment(d) => d.spec.as_ref()?.template.clone(),
                Object::Job(j) => j.spec.as_ref()?.template.clone(),
                _ => return None,
            };
            let meta = t.metadata.unwrap_or_default();
            let labels = meta.labels.unwrap_or_default();
            Some(Workload {
                name: labels["app.kubernetes.io/name"].clone(),
                labels,
                spec: t.spec?,
                annotations: meta.annotations.unwrap_or_default(),
            })
        })
        .collect()
}

/// Everything a workload reads: its ConfigMaps, env values and commands.
fn text_of(b: &Bundle, w: &Workload) -> String {
    let mut text = String::new();
    let cms: BTreeSet<String> = w
        .spec
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.config_map.as_ref().map(|c| c.name.clone()))
        .collect();
    for i in &b.items {
        if let Object::ConfigMap(cm) = &*i.object
            && cms.contains(cm.metadata.name.as_deref().unwrap_or(""))
        {
            for v in cm.data.iter().flatten().map(|(_, v)| v) {
                text.push_str(v);
                text.push('\n');
            }
        }
    }
    for c in w
        .spec
        .containers
        .iter()
        .chain(w.spec.init_containers.iter().flatten())
    {
        for e in c.env.iter().flatten() {
            text.push_str(e.value.as_deref().unwrap_or(""));
            text.push('\n');
        }
        for s in c.command.iter().flatten().chain(c.args.iter().flatten()) {
            text.push_str(s);
            text.push('\n');
        }
    }
    text
}

fn required_flows(b: &Bundle) -> BTreeSet<Flow> {
    let ns = &b.namespace;
    let ws = workloads(b);
    let services: Vec<(String, String, Vec<i32>, bool)> = b
        .items
        .iter()
        .filter_map(|i| match &*i.object {
            Object::Service(s) => {
                let spec = s.spec.as_ref()?;
                Some((
                    s.metadata.name.clone()?,
                    spec.selector
                        .as_ref()?
                        .get("app.kubernetes.io/name")?
                        .clone(),
                    spec.ports.iter().flatten().map(|p| p.port).collect(),
                    spec.cluster_ip.as_deref() == Some("None"),
                ))
            }
            _ => None,
        })
        .collect();
    let mut flows = BTreeSet::new();
    let tcp = |from: End, to: End, port: i32| Flow {
        from,
        to,
        port,
        protocol: "TCP",
    };
    for w in &ws {
        flows.insert(Flow {
            from: End::Pod(w.name.clone()),
            to: End::Dns,
            port: 53,
            protocol: "UDP",
        });
        let text = text_of(b, w);
        for (svc, target, ports, headless) in &services {
            // `svc.ns.svc:port`, `pod-N.svc.ns.svc:port` and `... svc.ns.svc port` (aerospike.conf).
            let host = format!("{svc}.{ns}.svc");
            for (pos, _) in text.match_indices(&host) {
                let before = &text[..pos];
                if !before.is_empty()
                    && !before.ends_with(['.', ' ', '/', '@', '"', '=', '\n', ','])
                {
                    continue;
                }
                let after = &text[pos + host.len()..];
                let port: Option<i32> = after
                    .strip_prefix([':', ' '])
                    .and_then(|a| a.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|d| d.parse().ok())
                    .filter(|p| ports.contains(p));
                if let Some(port) = port {
                    flows.insert(tcp(
                        End::Pod(w.name.clone()),
                        End::Pod(target.clone()),
                        port,
                    ));
                }
            }
            // StatefulSet peers talk on every port of their headless Service.
            if *headless && *target == w.name {
                for p in ports {
                    flows.insert(tcp(End::Pod(w.name.clone()), End::Pod(target.clone()), *p));
                }
            }
        }
        if w.annotations
            .get("prometheus.io/scrape")
            .map(String::as_str)
            == Some("true")
        {
            let port: i32 = w.annotations["prometheus.io/port"].parse().unwrap();
            flows.insert(tcp(
                End::Namespace("monitoring".into()),
                End::Pod(w.name.clone()),
                port,
            ));
        }
    }
    // PodMonitors (monitoring = "full"): the scraper reaches each selected pod's named port.
    for i in &b.items {
        if let Object::PodMonitor(m) = &*i.object {
            let names: Vec<String> = m
                .spec
                .selector
                .match_expressions
                .iter()
                .flatten()
                .filter(|e| e.key == "app.kubernetes.io/name")
                .flat_map(|e| e.values.clone().unwrap_or_default())
                .collect();
            for ep in &m.spec.pod_metrics_endpoints {
                for w in ws.iter().filter(|w| names.contains(&w.name)) {
                    let port = w
                        .spec
                        .containers
                        .iter()
                        .flat_map(|c| c.ports.iter().flatten())
                        .find(|p| p.name.as_deref() == Some(ep.port.as_str()))
                        .unwrap_or_else(|| panic!("{} has no port {}", w.name, ep.port))
                        .container_port;
                    flows.insert(tcp(
                        End::Namespace("monitoring".into()),
                        End::Pod(w.name.clone()),
                        port,
                    ));
                }
            }
        }
    }
    // ServiceMonitors: the scraper reaches the pods behind each selected Service on the port
    // the endpoint names (the Service port's target).
    for i in &b.items {
        if let Object::ServiceMonitor(m) = &*i.object {
            let want = m.spec.selector.match_labels.clone().unwrap_or_default();
            for j in &b.items {
                let Object::Service(svc) = &*j.object else {
                    continue;
                };
                let labels = svc.metadata.labels.clone().unwrap_or_default();
                if !want.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                    continue;
                }
                let spec = svc.spec.as_ref().unwrap();
                let target = &spec.selector.as_ref().unwrap()["app.kubernetes.io/name"];
                for ep in &m.spec.endpoints {
                    let sp = spec
                        .ports
                        .iter()
                        .flatten()
                        .find(|p| p.name.as_deref() == Some(ep.port.as_str()))
                        .unwrap_or_else(|| panic!("Service has no port {}", ep.port));
                    let w = ws.iter().find(|w| &w.name == target).unwrap();
                    let port_name = match &sp.target_port {
                        Some(IntOrString::String(n)) => n.clone(),
                        _ => ep.port.clone(),
                    };
                    let port = w
                        .spec
                        .containers
                        .iter()
                        .flat_map(|c| c.ports.iter().flatten())
                        .find(|p| p.name.as_deref() == Some(port_name.as_str()))
                        .unwrap()
                        .container_port;
                    flows.insert(tcp(
                        End::Namespace("monitoring".into()),
                        End::Pod(w.name.clone()),
                        port,
                    ));
                }
            }
        }
    }
    // Flink's own ports, read from its rendered config.yaml.
    let flink_conf = b.items.iter().find_map(|i| match &*i.object {
        Object::ConfigMap(cm) if cm.metadata.name.as_deref() == Some("flink-config") => {
            cm.data.as_ref()?.get("config.yaml").cloned()
        }
        _ => None,
    });
    if let Some(conf) = flink_conf {
        let get = |k: &str| -> i32 {
            conf.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        let (jm, tm) = (
            End::Pod("flink-jobmanager".into()),
            End::Pod("flink-taskmanager".into()),
        );
        for k in ["jobmanager.rpc.port", "blob.server.port"] {
            flows.insert(tcp(tm.clone(), jm.clone(), get(k)));
        }
        flows.insert(tcp(jm.clone(), tm.clone(), get("taskmanager.rpc.port")));
        flows.insert(tcp(tm.clone(), tm.clone(), get("taskmanager.data.port")));
        // The segment-evaluation job reads Kafka and writes Aerospike (its code, not its config).
        for f in [&jm, &tm] {
            flows.insert(tcp(f.clone(), End::Pod("kafka".into()), 9092));
            flows.insert(tcp(f.clone(), End::Pod("aerospike".into()), 3000));
            if conf.contains("s3://") {
                flows.insert(tcp(f.clone(), End::External, 443));
            }
        }
    }
    // Callers of the API services.
    for i in &b.items {
        if let Object::Deployment(d) = &*i.object
            && i.component == "api"
        {
            let name = d.metadata.name.clone().unwrap();
            let from = if b
                .items
                .iter()
                .any(|x| matches!(*x.object, Object::Ingress(_)))
            {
                End::Namespace("ingress-nginx".into())
            } else {
                End::External
            };
            flows.insert(tcp(from, End::Pod(name), 8080));
        }
    }
    flows
}

fn selector_matches(sel: &LabelSelector, labels: &Labels) -> bool {
    sel.match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v))
        && sel
            .match_expressions
            .iter()
            .flatten()
            .all(|e| match e.operator.as_str() {
                "In" => labels
                    .get(&e.key)
                    .is_some_and(|v| e.values.iter().flatten().any(|x| x == v)),
                "NotIn" => !labels
                    .get(&e.key)
                    .is_some_and(|v| e.values.iter().flatten().any(|x| x == v)),
                "Exists" => labels.contains_key(&e.key),
                "DoesNotExist" => !labels.contains_key(&e.key),
                _ => false,
            })
}

fn peer_matches(peer: &NetworkPolicyPeer, end: &End, pod_labels: &dyn Fn(&str) -> Labels) -> bool {
    match end {
        End::Pod(name) => {
            peer.namespace_selector.is_none()
                && peer.ip_block.is_none()
                && peer
                    .pod_selector
                    .as_ref()
                    .is_some_and(|s| selector_matches(s, &pod_labels(name)))
        }
        End::Namespace(ns) => {
            peer.namespace_selector.as_ref().is_some_and(|s| {
                selector_matches(
                    s,
                    &BTreeMap::from([("kubernetes.io/metadata.name".to_string(), ns.clone())]),
                )
            }) && peer.pod_selector.is_none()
        }
        End::Dns => {
            peer.namespace_selector.as_ref().is_some_and(|s| {
                selector_matches(
                    s,
                    &BTreeMap::from([(
                        "kubernetes.io/metadata.name".to_string(),
                        "kube-system".to_string(),
                    )]),
                )
            }) && peer.pod_selector.as_ref().is_none_or(|s| {
                selector_matches(
                    s,
                    &BTreeMap::from([("k8s-app".to_string(), "kube-dns".to_string())]),
                )
            })
        }
        End::External => peer
            .ip_block
            .as_ref()
            .is_some_and(|b| b.cidr == "0.0.0.0/0"),
    }
}

fn port_matches(ports: &Option<Vec<NetworkPolicyPort>>, port: i32, protocol: &str) -> bool {
    ports.as_ref().is_none_or(|ps| {
        ps.iter().any(|p| {
            p.protocol.as_deref().unwrap_or("TCP") == protocol
                && p.port.as_ref().is_none_or(|x| *x == IntOrString::Int(port))
        })
    })
}

fn allowed(policies: &[NetworkPolicy], flow: &Flow, pod_labels: &dyn Fn(&str) -> Labels) -> bool {
    let selects = |p: &NetworkPolicy, end: &End, kind: &str| match end {
        End::Pod(name) => {
            let spec = p.spec.as_ref().unwrap();
            spec.policy_types.iter().flatten().any(|t| t == kind)
                && selector_matches(spec.pod_selector.as_ref().unwrap(), &pod_labels(name))
        }
        _ => false,
    };
    // Egress at the source (when the source is one of our pods).
    let egress_ok = match &flow.from {
        End::Pod(_) => {
            let ps: Vec<_> = policies
                .iter()
                .filter(|p| selects(p, &flow.from, "Egress"))
                .collect();
            ps.is_empty()
                || ps.iter().any(|p| {
                    p.spec.as_ref().unwrap().egress.iter().flatten().any(|r| {
                        r.to.iter()
                            .flatten()
                            .any(|peer| peer_matches(peer, &flow.to, pod_labels))
                            && port_matches(&r.ports, flow.port, flow.protocol)
                    })
                })
        }
        _ => true,
    };
    let ingress_ok = match &flow.to {
        End::Pod(_) => {
            let ps: Vec<_> = policies
                .iter()
                .filter(|p| selects(p, &flow.to, "Ingress"))
                .collect();
            ps.is_empty()
                || ps.iter().any(|p| {
                    p.spec.as_ref().unwrap().ingress.iter().flatten().any(|r| {
                        r.from
                            .iter()
                            .flatten()
                            .any(|peer| peer_matches(peer, &flow.from, pod_labels))
                            && port_matches(&r.ports, flow.port, flow.protocol)
                    })
                })
        }
        _ => true,
    };
    egress_ok && ingress_ok
}

fn check(profile: &str, sets: &[&str]) -> (BTreeSet<Flow>, Vec<NetworkPolicy>, Bundle) {
    let b = bundle(profile, sets);
    let policies: Vec<NetworkPolicy> = b
        .items
        .iter()
        .filter_map(|i| match &*i.object {
            Object::NetworkPolicy(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    (required_flows(&b), policies, b)
}

fn labels_of(b: &Bundle) -> impl Fn(&str) -> Labels + '_ {
    move |name: &str| {
        workloads(b)
            .into_iter()
            .find(|w| w.name == name)
            .map(|w| w.labels)
            .unwrap_or_default()
    }
}

#[test]
fn every_required_flow_is_allowed_and_others_are_denied() {
    for (profile, sets) in [
        ("prod", vec![]),
        ("demo", vec!["security.network_policies=true"]),
        (
            "prod",
            vec!["security.network_policies=true", "monitoring.level=none"],
        ),
    ] {
        let (flows, policies, b) = check(profile, &sets);
        assert!(policies.len() > 5, "{profile}: policies rendered");
        assert!(
            flows.len() > 20,
            "{profile}: flows derived ({})",
            flows.len()
        );
        let labels = labels_of(&b);
        let blocked: Vec<&Flow> = flows
            .iter()
            .filter(|f| !allowed(&policies, f, &labels))
            .collect();
        assert!(
            blocked.is_empty(),
            "{profile} {sets:?}: blocked flows {blocked:#?}"
        );
        // Flows nobody needs stay denied.
        for (from, to, port) in [
            ("segment-api", "aerospike", 3000),
            ("postgres", "kafka", 9092),
            ("profile-api", "postgres", 5432),
            ("kafka", "postgres", 5432),
            ("flink-taskmanager", "postgres", 5432),
        ] {
            let f = Flow {
                from: End::Pod(from.into()),
                to: End::Pod(to.into()),
                port,
                protocol: "TCP",
            };
            assert!(
                !allowed(&policies, &f, &labels),
                "{profile}: {from} → {to}:{port} should be denied"
            );
        }
        let outside = Flow {
            from: End::External,
            to: End::Pod("postgres".into()),
            port: 5432,
            protocol: "TCP",
        };
        assert!(!allowed(&policies, &outside, &labels));
    }
}

#[test]
fn without_the_switch_no_policy_is_rendered() {
    let (_, policies, _) = check("demo", &[]);
    assert!(policies.is_empty());
    let (_, policies, _) = check("prod", &["security.network_policies=false"]);
    assert!(policies.is_empty());
}
