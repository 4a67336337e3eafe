//! Placement helpers components and the availability pass share: anti-affinity terms by
//! hostname, and one PodDisruptionBudget over several workloads.

use super::Ctx;
use super::k8s;
use k8s_openapi::api::core::v1::{Affinity, PodAffinityTerm, PodAntiAffinity, PodSpec};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub(crate) const HOSTNAME: &str = "kubernetes.io/hostname";
pub(crate) const ZONE: &str = "topology.kubernetes.io/zone";

pub(crate) fn term(selector: &k8s::Labels) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(k8s::label_selector(selector.clone())),
        topology_key: HOSTNAME.to_string(),
        ..Default::default()
    }
}

/// Adds anti-affinity terms to what the pod already has (a component may have set its own).
pub fn merge(spec: &mut PodSpec, add: PodAntiAffinity) {
    let anti = spec
        .affinity
        .get_or_insert_with(Affinity::default)
        .pod_anti_affinity
        .get_or_insert_with(PodAntiAffinity::default);
    if let Some(terms) = add.required_during_scheduling_ignored_during_execution {
        anti.required_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .extend(terms);
    }
    if let Some(terms) = add.preferred_during_scheduling_ignored_during_execution {
        anti.preferred_during_scheduling_ignored_during_execution
            .get_or_insert_with(Vec::new)
            .extend(terms);
    }
}

/// Required anti-affinity by hostname against another workload's pods (a primary and its
/// standbys never share a node).
pub(crate) fn avoid(spec: &mut PodSpec, other: &k8s::Labels) {
    merge(
        spec,
        PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![term(other)]),
            ..Default::default()
        },
    );
}

/// One PodDisruptionBudget (maxUnavailable 1) over the pods of several workloads.
pub(crate) fn group_budget(
    ctx: &Ctx,
    name: &str,
    labels: &k8s::Labels,
    workloads: &[&str],
) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: k8s::meta(name, ctx.ns, labels.clone()),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(ctx.workloads(workloads)),
            ..Default::default()
        }),
        ..Default::default()
    }
}
