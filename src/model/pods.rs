//! The scheduler's view of the rendered workloads: one group per workload, with its pod's
//! effective request and limit counted as the scheduler counts them.

use super::node::Res;
use crate::kube::{Bundle, Object};
use crate::units::Quantity;
use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Serialize)]
pub struct ContainerRes {
    pub name: String,
    /// `init`, `sidecar` (restartable init container) or `main`.
    pub role: &'static str,
    pub request: Res,
    pub limit: Res,
}

#[derive(Clone, Debug, Serialize)]
pub struct PodGroup {
    pub component: &'static str,
    pub kind: &'static str,
    pub name: String,
    /// Replicas as rendered (1 for a Job; the HPA's minimum where the Deployment leaves it out).
    pub replicas: u32,
    /// The HPA's maximum, when an HPA scales the workload: the worst case.
    pub max_replicas: Option<u32>,
    pub request: Res,
    pub limit: Res,
    /// Sum of memory-backed emptyDir size limits (tmpfs, charged to the pod's memory).
    pub tmpfs: u64,
    /// Required pod anti-affinity on the hostname against its own pods.
    pub spread_required: bool,
    pub containers: Vec<ContainerRes>,
    /// What the scheduler reads of the pod template besides resources.
    #[serde(skip)]
    pub scheduling: Scheduling,
}

/// The parts of a pod template kube-scheduler acts on, beyond its requests.
#[derive(Clone, Debug, Default)]
pub struct Scheduling {
    /// The pod's labels (what other pods' selectors match).
    pub labels: BTreeMap<String, String>,
    /// Its priority: the value of its PriorityClass (0 without one, or for a class the
    /// render does not hold).
    pub priority: i32,
    /// Required anti-affinity terms (topology key, selector).
    pub anti_required: Vec<(String, LabelSelector)>,
    /// Preferred anti-affinity terms (weight, topology key, selector).
    pub anti_preferred: Vec<(i32, String, LabelSelector)>,
    /// Topology spread constraints (topology key, maxSkew, selector, DoNotSchedule).
    pub spread: Vec<(String, i32, LabelSelector, bool)>,
    /// It has claims of its own from the StatefulSet's templates (each pod its own volume).
    pub template_claims: bool,
    /// Standalone claims it mounts (shared by every pod that mounts them).
    pub shared_claims: Vec<String>,
    /// StatefulSet pods created one at a time (OrderedReady), each after the previous is Ready.
    pub ordered: bool,
    /// A PodDisruptionBudget of the render selects its pods.
    pub budget: bool,
}

fn scheduling(
    spec: &PodSpec,
    labels: Option<&BTreeMap<String, String>>,
    priorities: &BTreeMap<String, i32>,
) -> Scheduling {
    let anti = spec
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref());
    Scheduling {
        labels: labels.cloned().unwrap_or_default(),
        priority: spec
            .priority_class_name
            .as_ref()
            .and_then(|c| priorities.get(c).copied())
            .unwrap_or(0),
        anti_required: anti
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .into_iter()
            .flatten()
            .map(|t| {
                (
                    t.topology_key.clone(),
                    t.label_selector.clone().unwrap_or_default(),
                )
            })
            .collect(),
        anti_preferred: anti
            .and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .into_iter()
            .flatten()
            .map(|w| {
                (
                    w.weight,
                    w.pod_affinity_term.topology_key.clone(),
                    w.pod_affinity_term
                        .label_selector
                        .clone()
                        .unwrap_or_default(),
                )
            })
            .collect(),
        spread: spec
            .topology_spread_constraints
            .iter()
            .flatten()
            .map(|c| {
                (
                    c.topology_key.clone(),
                    c.max_skew,
                    c.label_selector.clone().unwrap_or_default(),
                    c.when_unsatisfiable == "DoNotSchedule",
                )
            })
            .collect(),
        template_claims: false,
        budget: false,
        shared_claims: spec
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| v.persistent_volume_claim.as_ref())
            .map(|c| c.claim_name.clone())
            .collect(),
        ordered: false,
    }
}

impl PodGroup {
    /// Replicas in the worst case (HPA at its maximum).
    pub(crate) fn worst_replicas(&self) -> u32 {
        self.max_replicas
            .unwrap_or(self.replicas)
            .max(self.replicas)
    }
}

fn quantity(q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>, cpu: bool) -> u64 {
    q.and_then(|q| Quantity::parse(&q.0).ok())
        .map(|q| if cpu { q.millis() } else { q.ceil_units() })
        .unwrap_or(0)
        .max(0) as u64
}

fn res_of(r: Option<&ResourceRequirements>) -> (Res, Res) {
    let get =
        |m: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>| {
            Res::new(
                quantity(m.and_then(|m| m.get("memory")), false),
                quantity(m.and_then(|m| m.get("cpu")), true),
            )
        };
    let requests = get(r.and_then(|r| r.requests.as_ref()));
    let limits = get(r.and_then(|r| r.limits.as_ref()));
    // An unset request defaults to the limit, as the API server does.
    let requests = Res::new(
        if requests.memory == 0 {
            limits.memory
        } else {
            requests.memory
        },
        if requests.cpu == 0 {
            limits.cpu
        } else {
            requests.cpu
        },
    );
    (requests, limits)
}

/// The pod's effective request and limit, the scheduler's way: regular containers and
/// sidecars (restartable init containers) add up; each plain init container runs alone beside
/// the sidecars started before it; the pod needs the larger of the two.
pub(crate) fn effective(spec: &PodSpec) -> (Res, Res, Vec<ContainerRes>) {
    let mut list = Vec::new();
    let (mut init_peak_req, mut init_peak_lim) = (Res::default(), Res::default());
    let (mut sidecars_req, mut sidecars_lim) = (Res::default(), Res::default());
    for c in spec.init_containers.iter().flatten() {
        let (req, lim) = res_of(c.resources.as_ref());
        let sidecar = c.restart_policy.as_deref() == Some("Always");
        if sidecar {
            sidecars_req = sidecars_req.plus(req);
            sidecars_lim = sidecars_lim.plus(lim);
        } else {
            init_peak_req = init_peak_req.max(req.plus(sidecars_req));
            init_peak_lim = init_peak_lim.max(lim.plus(sidecars_lim));
        }
        list.push(ContainerRes {
            name: c.name.clone(),
            role: if sidecar { "sidecar" } else { "init" },
            request: req,
            limit: lim,
        });
    }
    let (mut main_req, mut main_lim) = (Res::default(), Res::default());
    for c in &spec.containers {
        let (req, lim) = res_of(c.resources.as_ref());
        main_req = main_req.plus(req);
        main_lim = main_lim.plus(lim);
        list.push(ContainerRes {
            name: c.name.clone(),
            role: "main",
            request: req,
            limit: lim,
        });
    }
    (
        main_req.plus(sidecars_req).max(init_peak_req),
        main_lim.plus(sidecars_lim).max(init_peak_lim),
        list,
    )
}

fn tmpfs(spec: &PodSpec) -> u64 {
    spec.volumes
        .iter()
        .flatten()
        .filter_map(|v| v.empty_dir.as_ref())
        .filter(|e| e.medium.as_deref() == Some("Memory"))
        .map(|e| quantity(e.size_limit.as_ref(), false))
        .fold(0u64, u64::saturating_add)
}

fn spread_required(spec: &PodSpec) -> bool {
    spec.affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|p| {
            p.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .is_some_and(|terms| {
            terms
                .iter()
                .any(|t| t.topology_key == "kubernetes.io/hostname")
        })
}

/// Every workload of the Bundle as a pod group.
pub fn groups(bundle: &Bundle) -> Vec<PodGroup> {
    let mut hpa_max: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut hpa_min: BTreeMap<(String, String), u32> = BTreeMap::new();
    for item in &bundle.items {
        if let Object::HorizontalPodAutoscaler(h) = &*item.object
            && let Some(spec) = &h.spec
        {
            let key = (
                spec.scale_target_ref.kind.clone(),
                spec.scale_target_ref.name.clone(),
            );
            hpa_max.insert(key.clone(), spec.max_replicas.max(0) as u32);
            hpa_min.insert(key, spec.min_replicas.unwrap_or(1).max(0) as u32);
        }
    }
    let priorities: BTreeMap<String, i32> = bundle
        .items
        .iter()
        .filter_map(|i| match &*i.object {
            Object::PriorityClass(c) => Some((c.metadata.name.clone()?, c.value)),
            _ => None,
        })
        .collect();
    let budgets: Vec<&LabelSelector> = bundle
        .items
        .iter()
        .filter_map(|i| match &*i.object {
            Object::PodDisruptionBudget(p) => p.spec.as_ref()?.selector.as_ref(),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for item in &bundle.items {
        let (kind, replicas, spec): (&'static str, Option<i32>, Option<&PodSpec>) =
            match &*item.object {
                Object::StatefulSet(s) => (
                    "StatefulSet",
                    s.spec.as_ref().and_then(|s| s.replicas),
                    s.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
                ),
                Object::Deployment(d) => (
                    "Deployment",
                    d.spec.as_ref().and_then(|s| s.replicas),
                    d.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
                ),
                Object::Job(j) => (
                    "Job",
                    j.spec.as_ref().and_then(|s| s.parallelism).or(Some(1)),
                    j.spec.as_ref().and_then(|s| s.template.spec.as_ref()),
                ),
                // One run at a time (concurrencyPolicy Forbid): its pod while it runs.
                Object::CronJob(c) => (
                    "CronJob",
                    Some(1),
                    c.spec
                        .as_ref()
                        .and_then(|s| s.job_template.spec.as_ref())
                        .and_then(|s| s.template.spec.as_ref()),
                ),
                _ => continue,
            };
        let Some(spec) = spec else { continue };
        let name = item.object.name().to_string();
        let key = (kind.to_string(), name.clone());
        let replicas = replicas
            .map(|r| r.max(0) as u32)
            .or_else(|| hpa_min.get(&key).copied())
            .unwrap_or(1);
        let (request, limit, containers) = effective(spec);
        let mut sched = scheduling(spec, item.object.pod_labels(), &priorities);
        sched.budget = budgets
            .iter()
            .any(|b| crate::kube::selects(b, &sched.labels));
        if let Object::StatefulSet(s) = &*item.object {
            let s = s.spec.as_ref();
            sched.template_claims = s.is_some_and(|s| {
                s.volume_claim_templates
                    .as_ref()
                    .is_some_and(|t| !t.is_empty())
            });
            sched.ordered = s
                .and_then(|s| s.pod_management_policy.as_deref())
                .is_none_or(|p| p == "OrderedReady");
        }
        out.push(PodGroup {
            component: item.component,
            kind,
            name,
            replicas,
            max_replicas: hpa_max.get(&key).copied(),
            request,
            limit,
            tmpfs: tmpfs(spec),
            spread_required: spread_required(spec),
            containers,
            scheduling: sched,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Container;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Q;

    fn c(name: &str, mem: &str, cpu: &str, sidecar: bool) -> Container {
        Container {
            name: name.into(),
            restart_policy: sidecar.then(|| "Always".to_string()),
            resources: Some(ResourceRequirements {
                requests: Some(BTreeMap::from([
                    ("memory".into(), Q(mem.into())),
                    ("cpu".into(), Q(cpu.into())),
                ])),
                limits: Some(BTreeMap::from([
                    ("memory".into(), Q(mem.into())),
                    ("cpu".into(), Q(cpu.into())),
                ])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn init_containers_count_as_the_scheduler_counts_them() {
        let spec = PodSpec {
            init_containers: Some(vec![c("big-init", "1Gi", "1", false)]),
            containers: vec![c("app", "512Mi", "500m", false)],
            ..Default::default()
        };
        let (req, _, _) = effective(&spec);
        assert_eq!(
            req,
            Res::new(1 << 30, 1000),
            "the init container is the peak"
        );

        let spec = PodSpec {
            init_containers: Some(vec![
                c("proxy", "128Mi", "100m", true),
                c("migrate", "256Mi", "200m", false),
            ]),
            containers: vec![c("app", "512Mi", "500m", false)],
            ..Default::default()
        };
        let (req, _, list) = effective(&spec);
        assert_eq!(
            req,
            Res::new(640 << 20, 600),
            "sidecar adds to the main containers"
        );
        assert_eq!(list[0].role, "sidecar");
    }
}
