//! Availability, across components: multi-replica workloads spread over nodes, and a
//! PodDisruptionBudget (maxUnavailable 1) for each of them. A single replica gets no PDB, nor
//! does anything on a single node: a PDB there would block every node drain. And the priorities that decide which pods give way when
//! a node is lost ([`priorities`]).

use crate::components::{Component, Tier};
use crate::kube::placement::{ZONE, merge, term};
use crate::kube::{Bundle, Ctx, Object, k8s};
use k8s_openapi::api::core::v1::{
    PodAntiAffinity, PodSpec, TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// Required anti-affinity for replicas that hold data (two brokers on one node lose two
/// replicas at once); preferred for stateless replicas, which may double up when short of nodes.
fn spread(spec: &mut PodSpec, selector: &k8s::Labels, required: bool, zones: usize) {
    // Across zones too, when the cluster has several: as even as the zones allow, without
    // blocking scheduling when a zone is full or its nodes are not labelled.
    if zones > 1 {
        spec.topology_spread_constraints = Some(vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: ZONE.to_string(),
            when_unsatisfiable: "ScheduleAnyway".to_string(),
            label_selector: Some(k8s::label_selector(selector.clone())),
            ..Default::default()
        }]);
    }
    let anti = if required {
        PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![term(selector)]),
            ..Default::default()
        }
    } else {
        PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: term(selector),
                },
            ]),
            ..Default::default()
        }
    };
    merge(spec, anti);
}

/// Adds anti-affinity, zone spreading (with `zones` > 1) and PDBs to every multi-replica
/// workload of the Bundle.
pub fn apply(bundle: &mut Bundle, zones: usize, nodes: u32) {
    let mut hpa_min: BTreeMap<String, i32> = BTreeMap::new();
    for item in &bundle.items {
        if let Object::HorizontalPodAutoscaler(h) = &*item.object
            && let Some(spec) = &h.spec
        {
            hpa_min.insert(
                spec.scale_target_ref.name.clone(),
                spec.min_replicas.unwrap_or(1),
            );
        }
    }
    // A pod under two PodDisruptionBudgets cannot be evicted at all (the eviction API refuses
    // it), so a workload whose pods a component's own budget covers gets no second one.
    let covered: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector> = bundle
        .items
        .iter()
        .filter_map(|i| match &*i.object {
            Object::PodDisruptionBudget(p) => p.spec.as_ref()?.selector.clone(),
            _ => None,
        })
        .collect();
    let mut pdbs = Vec::new();
    for item in &mut bundle.items {
        let name = item.object.name().to_string();
        let already = item
            .object
            .pod_labels()
            .is_some_and(|labels| covered.iter().any(|s| crate::kube::selects(s, labels)));
        let (replicas, selector, spec, required) = match &mut *item.object {
            Object::StatefulSet(s) => {
                let Some(spec) = s.spec.as_mut() else {
                    continue;
                };
                (
                    spec.replicas.unwrap_or(1),
                    spec.selector.match_labels.clone().unwrap_or_default(),
                    spec.template.spec.as_mut(),
                    true,
                )
            }
            Object::Deployment(d) => {
                let Some(spec) = d.spec.as_mut() else {
                    continue;
                };
                (
                    spec.replicas
                        .or_else(|| hpa_min.get(&name).copied())
                        .unwrap_or(1),
                    spec.selector.match_labels.clone().unwrap_or_default(),
                    spec.template.spec.as_mut(),
                    false,
                )
            }
            _ => continue,
        };
        if replicas <= 1 {
            continue;
        }
        if let Some(spec) = spec {
            spread(spec, &selector, required, zones);
        }
        // On one node a drain has nowhere to move a pod to: a budget there only makes the
        // drain wait forever (the second replica's eviction is refused while the first is
        // Pending), so a single-node cluster gets none.
        if already || nodes <= 1 {
            continue;
        }
        let labels = item.object.metadata().labels.clone().unwrap_or_default();
        let ns = item.object.metadata().namespace.clone().unwrap_or_default();
        pdbs.push((
            item.component,
            Object::PodDisruptionBudget(PodDisruptionBudget {
                metadata: k8s::meta(&name, &ns, labels),
                spec: Some(PodDisruptionBudgetSpec {
                    max_unavailable: Some(IntOrString::Int(1)),
                    selector: Some(k8s::label_selector(selector)),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        ));
    }
    for (component, pdb) in pdbs {
        bundle.push(component, pdb);
    }
}

/// The PriorityClass of a tier in `namespace` and its value; `None` for the stateless services,
/// which keep the cluster's default priority. Values sit far below the system classes (2e9)
/// and above the default 0, in the order of [`Tier`].
pub(crate) fn priority_class(namespace: &str, tier: Tier) -> Option<(String, i32)> {
    match tier {
        Tier::Data => Some((format!("{namespace}-data"), 100_000)),
        Tier::Processing => Some((format!("{namespace}-processing"), 50_000)),
        Tier::Service => None,
    }
}

/// With `cluster.priority_classes`, each workload's pods get the PriorityClass of its tier
/// (its component says which), and the classes in use are rendered. When a node is lost, a
/// data pod that must return to its volume's zone then preempts a stateless pod there (which
/// moves to any other node) instead of staying Pending; under memory pressure the kubelet
/// evicts the stateless pods first.
pub fn priorities(registry: &[&Component], ctx: &Ctx, bundle: &mut Bundle) {
    if !ctx.profile.cluster.priority_classes {
        return;
    }
    let mut used: BTreeMap<String, (i32, Tier)> = BTreeMap::new();
    for item in &mut bundle.items {
        let Some(component) = registry.iter().find(|c| c.id.name() == item.component) else {
            continue;
        };
        let name = item.object.name().to_string();
        let spec = match &mut *item.object {
            Object::StatefulSet(s) => s.spec.as_mut().and_then(|s| s.template.spec.as_mut()),
            Object::Deployment(d) => d.spec.as_mut().and_then(|s| s.template.spec.as_mut()),
            _ => None,
        };
        let Some(spec) = spec else { continue };
        let tier = (component.tier)(&name);
        if let Some((class, value)) = priority_class(ctx.ns, tier) {
            spec.priority_class_name = Some(class.clone());
            used.insert(class, (value, tier));
        }
    }
    for (class, (value, tier)) in used {
        let what = match tier {
            Tier::Data => {
                "the platform's data pods (PostgreSQL, Aerospike, Kafka): pinned to their volumes, they preempt stateless pods when a node is lost"
            }
            Tier::Processing => {
                "the platform's stream processing (Flink): preempts stateless pods, gives way to the data pods"
            }
            Tier::Service => continue,
        };
        let mut meta = k8s::meta(&class, "", ctx.labels(&class, "scheduling", ""));
        meta.namespace = None;
        bundle.push(
            "namespace",
            Object::PriorityClass(PriorityClass {
                metadata: meta,
                value,
                // Unset: false, and read back as no key at all.
                global_default: None,
                preemption_policy: Some("PreemptLowerPriority".to_string()),
                description: Some(format!("amctl, namespace {}: {what}", ctx.ns)),
            }),
        );
    }
}
