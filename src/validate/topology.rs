//! Topology rules: replicas against nodes, disruption budgets against replicas, replicated
//! data against ephemeral storage.

use super::Check;
use crate::kube::Object;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub fn check(cx: &Check) {
    let nodes = cx.profile.cluster.nodes;
    if nodes == 0 {
        cx.error(
            "cluster.nodes",
            "cluster.nodes",
            "cluster.nodes is 0",
            "set the number of worker nodes",
        );
        return;
    }
    for g in &cx.groups {
        if g.spread_required && g.worst_replicas() > nodes {
            cx.error(
                "topology.anti-affinity",
                &replicas_key(g.component, &g.name),
                format!(
                    "{} {} has {} replicas that must each run on a different node, but the cluster has {nodes} nodes: {} stay Pending",
                    g.kind,
                    g.name,
                    g.worst_replicas(),
                    g.worst_replicas() - nodes
                ),
                format!("use at most {nodes} replicas or add nodes"),
            );
        }
    }
    // A PDB that allows no disruption blocks every node drain (kube-score#376).
    for item in &cx.bundle.items {
        let Object::PodDisruptionBudget(pdb) = &*item.object else {
            continue;
        };
        let Some(spec) = &pdb.spec else { continue };
        let name = item.object.name();
        let Some(g) = cx.groups.iter().find(|g| g.name == name) else {
            continue;
        };
        let replicas = g.replicas as i32;
        let allowed = match (&spec.max_unavailable, &spec.min_available) {
            (Some(IntOrString::Int(n)), _) => *n,
            (_, Some(IntOrString::Int(n))) => replicas - n,
            _ => 1,
        };
        if allowed <= 0 || replicas <= 1 {
            cx.error(
                "topology.pdb-blocks-drain",
                &replicas_key(g.component, &g.name),
                format!("the PodDisruptionBudget of {name} allows no pod of its {replicas} replica(s) to be evicted: every node drain blocks"),
                "give the workload at least 2 replicas, or drop the PDB",
            );
        }
    }
}

/// The profile key that sets a workload's replica count.
pub(crate) fn replicas_key(component: &str, name: &str) -> String {
    crate::components::by_name(component)
        .map(|c| (c.replicas_key)(name))
        .unwrap_or_else(|| format!("{component}.resources"))
}
