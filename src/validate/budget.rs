//! The node budget: every pod's requests and limits (as the scheduler counts them, HPA at its
//! maximum) against what the nodes have for the platform, and a placement of every pod.

use super::Check;
use super::topology::replicas_key;
use crate::model::mib;
use crate::model::node::Res;
use crate::model::placement::{self, Drains, Placement, Shape, Verdict};
use serde::Serialize;

/// One line of the budget table.
#[derive(Clone, Debug, Serialize)]
pub struct Line {
    pub component: &'static str,
    pub workload: String,
    pub replicas: u32,
    pub request: Res,
    pub limit: Res,
    /// Requests × worst-case replicas.
    pub total_request: Res,
    pub total_limit: Res,
}

#[derive(Clone, Debug, Serialize)]
pub struct Budget {
    pub lines: Vec<Line>,
    pub total_request: Res,
    pub total_limit: Res,
    /// What the cluster has for the platform (all nodes).
    pub available: Res,
    pub placement: Placement,
    /// Every node drained in turn; `None` on a single node, or when not every pod was placed.
    pub drains: Option<Drains>,
}

/// The cluster as the scheduler sees it: the node model's allocatable and system pods, the
/// profile's zones and the topology of its volumes.
pub(crate) fn shape(cx: &Check) -> Shape {
    let p = cx.profile;
    Shape {
        nodes: cx.nodes.nodes,
        zones: p.cluster.zones.len(),
        allocatable: cx.nodes.allocatable,
        system_pods: cx.nodes.system_pods,
        volumes: p.storage.volume_topology(p.cluster.distribution),
    }
}

pub(crate) fn compute(cx: &Check) -> Budget {
    let mut lines = Vec::new();
    let (mut total_request, mut total_limit) = (Res::default(), Res::default());
    for g in &cx.groups {
        let n = u64::from(g.worst_replicas());
        let line = Line {
            component: g.component,
            workload: format!("{}/{}", g.kind, g.name),
            replicas: g.worst_replicas(),
            request: g.request,
            limit: g.limit,
            total_request: g.request.scale(n),
            total_limit: g.limit.scale(n),
        };
        total_request = total_request.plus(line.total_request);
        total_limit = total_limit.plus(line.total_limit);
        lines.push(line);
    }
    let (placement, drains) = placement::place(&cx.groups, &shape(cx));
    Budget {
        lines,
        total_request,
        total_limit,
        available: cx.nodes.total_available(),
        placement,
        drains,
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        f64::INFINITY
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

pub fn check(cx: &Check, b: &Budget) {
    let n = &cx.nodes;
    if n.available.memory == 0 || n.available.cpu == 0 {
        cx.error(
            "budget.node",
            "cluster.node_memory",
            format!(
                "a node of {} / {} cores has nothing left for the platform after the kubelet's reservations ({}), the eviction threshold ({}), the distribution's own use ({}) and its system pods ({})",
                mib(n.capacity.memory),
                n.capacity.cpu as f64 / 1000.0,
                mib(n.kube_reserved.memory + n.system_reserved.memory),
                mib(n.eviction_hard.memory),
                mib(n.distribution_overhead.memory),
                mib(n.system_pods.memory)
            ),
            "use bigger nodes or check [cluster]",
        );
        return;
    }
    let avail = b.available;
    let where_ = if n.nodes == 1 {
        format!("the node's {} for the platform", mib(avail.memory))
    } else {
        format!(
            "the {} nodes' {} for the platform",
            n.nodes,
            mib(avail.memory)
        )
    };
    if b.total_request.memory > avail.memory {
        cx.error(
            "budget.memory.requests",
            "cluster.node_memory|cluster.nodes|cluster.distribution_overhead|cluster.system_pods|cluster.kube_reserved",
            format!(
                "the platform requests {} of memory (HPA at max), more than {where_} (allocatable {} per node, minus {} for the distribution and {} for its system pods): pods stay Pending",
                mib(b.total_request.memory),
                mib(n.allocatable.memory),
                mib(n.distribution_overhead.memory),
                mib(n.system_pods.memory),
            ),
            format!(
                "free {} by lowering requests or replicas, or add capacity",
                mib(b.total_request.memory - avail.memory)
            ),
        );
    } else if b.total_limit.memory > avail.memory {
        cx.warn(
            "budget.memory.limits",
            "cluster.node_memory|cluster.nodes|cluster.distribution_overhead|cluster.system_pods",
            format!(
                "memory limits add up to {} ({:.0}% of {where_}): overcommitted by {}; if every pod reaches its limit the node runs out of memory and evicts pods",
                mib(b.total_limit.memory),
                pct(b.total_limit.memory, avail.memory),
                mib(b.total_limit.memory - avail.memory)
            ),
            "bring limits closer to requests, or add memory",
        );
    }
    if b.total_request.cpu > avail.cpu {
        cx.error(
            "budget.cpu.requests",
            "cluster.node_cpu|cluster.nodes",
            format!(
                "the platform requests {:.2} CPU (HPA at max), more than {:.2} available: pods stay Pending",
                b.total_request.cpu as f64 / 1000.0,
                avail.cpu as f64 / 1000.0
            ),
            "lower CPU requests or replicas, or add cores",
        );
    } else if b.total_limit.cpu > avail.cpu {
        cx.info(
            "budget.cpu.limits",
            "cluster.node_cpu",
            format!(
                "CPU limits add up to {:.2} of {:.2} available ({:.0}%): under load pods are throttled, not killed",
                b.total_limit.cpu as f64 / 1000.0,
                avail.cpu as f64 / 1000.0,
                pct(b.total_limit.cpu, avail.cpu)
            ),
            "nothing to do unless latency matters under full load",
        );
    }
    for g in &cx.groups {
        if g.tmpfs > 0 && g.tmpfs.saturating_mul(2) > g.limit.memory {
            let (rule_sev, text) = if g.tmpfs >= g.limit.memory {
                (true, "fills")
            } else {
                (false, "takes more than half of")
            };
            let msg = format!(
                "{}: memory-backed volumes (tmpfs, sizeLimit {}) {} the pod's {} memory limit; whatever is written there is charged to it",
                g.name,
                mib(g.tmpfs),
                text,
                mib(g.limit.memory)
            );
            let key = format!(
                "{}.storage|storage.ephemeral_medium|{}.resources",
                g.component, g.component
            );
            let fix =
                "put the data on disk (storage.ephemeral_medium = \"disk\") or raise the limit";
            if rule_sev {
                cx.error("pod.memory-emptydir", &key, msg, fix);
            } else {
                cx.warn("pod.memory-emptydir", &key, msg, fix);
            }
        }
    }
    // Placement only matters once the totals fit.
    if b.total_request.fits_in(avail) {
        for u in b.placement.unschedulable.iter() {
            let component = cx
                .groups
                .iter()
                .find(|g| u.pod.starts_with(&g.name))
                .map(|g| (g.component, g.name.clone()))
                .unwrap_or(("cluster", String::new()));
            cx.error(
                "placement.unschedulable",
                &if u.too_big_for_any_node {
                    format!("{}.resources", component.0)
                } else {
                    replicas_key(component.0, &component.1)
                },
                format!(
                    "pod {} ({} memory, {:.2} CPU) cannot be placed: {} (short by {} memory, {:.2} CPU)",
                    u.pod,
                    mib(u.request.memory),
                    u.request.cpu as f64 / 1000.0,
                    u.reason,
                    mib(u.shortfall.memory),
                    u.shortfall.cpu as f64 / 1000.0
                ),
                if u.too_big_for_any_node {
                    "lower its request below a node's capacity, or use bigger nodes".to_string()
                } else {
                    "add a node, or lower requests or replicas".to_string()
                },
            );
        }
        if b.placement.fits()
            && let Some(d) = &b.drains
        {
            let describe = |f: &crate::model::placement::DrainFailure| {
                format!(
                    "draining node {} leaves {} pod(s) Pending: {}",
                    f.node + 1,
                    f.pending.len(),
                    f.pending
                        .iter()
                        .take(3)
                        .map(|u| format!("{} ({})", u.pod, u.reason))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            };
            if d.verdict != Verdict::Holds {
                let failure = d.failure.as_ref().map(describe).unwrap_or_default();
                let what = if d.verdict == Verdict::Marginal {
                    "may not have room for every pod after losing a node: it depends on how the scheduler breaks ties between equally good nodes"
                } else {
                    "has no room for every pod after losing a node"
                };
                cx.warn(
                    "placement.n-1",
                    "cluster.nodes",
                    format!(
                        "everything fits on {} nodes (HPA at max), but the platform {what}: with every node drained in turn (each uncordoned before the next), {failure}",
                        n.nodes
                    ),
                    format!(
                        "add a node ({} in all) or trim requests so a node's loss is survivable",
                        n.nodes + 1
                    ),
                );
            }
            if let Some(f) = &d.pinned {
                cx.warn(
                    "placement.n-1-pinned",
                    "storage.topology|cluster.zones|cluster.nodes",
                    format!(
                        "some pods cannot move off a node that is lost or drained, whatever the room elsewhere: {}; they wait until the node is back",
                        describe(f)
                    ),
                    "volumes that follow their pods across nodes (storage.topology = \"zone\" with at least two nodes per zone, or \"any\"), and more nodes than the largest anti-affine set",
                );
            }
        }
    }
}
