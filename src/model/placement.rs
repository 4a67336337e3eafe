//! Placement of every pod on the cluster's nodes, largest first, as a sanity check of what the
//! scheduler will face: required anti-affinity honoured, replicas spread, and the same again
//! after losing a node (N−1).

use super::node::Res;
use super::pods::PodGroup;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct PlacedPod {
    pub name: String,
    pub component: &'static str,
    pub request: Res,
    pub limit: Res,
}

#[derive(Clone, Debug, Serialize)]
pub struct NodeUse {
    pub pods: Vec<PlacedPod>,
    pub used: Res,
}

#[derive(Clone, Debug, Serialize)]
pub struct Unschedulable {
    pub pod: String,
    pub request: Res,
    /// What the best node lacked, after what was already placed there.
    pub shortfall: Res,
    /// True when no node could hold the pod even empty.
    pub too_big_for_any_node: bool,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Placement {
    pub nodes: Vec<NodeUse>,
    pub unschedulable: Vec<Unschedulable>,
}

impl Placement {
    pub(crate) fn fits(&self) -> bool {
        self.unschedulable.is_empty()
    }
}

/// Beyond this many pods the placement is not simulated (it would take time and memory in
/// proportion to a replica count that is almost certainly a typo).
pub(crate) const MAX_PODS: u64 = 100_000;

/// Places the worst case (HPA at max) of every group on `n` identical nodes of `available`.
pub fn place(groups: &[PodGroup], n: u32, available: Res) -> Placement {
    let total: u64 = groups.iter().map(|g| u64::from(g.worst_replicas())).sum();
    if total > MAX_PODS || n > 100_000 {
        return Placement {
            nodes: Vec::new(),
            unschedulable: vec![Unschedulable {
                pod: format!("{total} pods"),
                request: Res::default(),
                shortfall: Res::default(),
                too_big_for_any_node: false,
                reason: format!(
                    "more than {MAX_PODS} pods or nodes: placement is not simulated; check the replica counts"
                ),
            }],
        };
    }
    struct Pod<'a> {
        name: String,
        group: usize,
        g: &'a PodGroup,
    }
    let mut pods: Vec<Pod> = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        // `name-0` (a StatefulSet's ordinal) or `name#1`; built without `format!`, which cost
        // ~740 instructions per pod here (2% of a render of prod).
        let numbered = |sep: char, n: u32| {
            let n = n.to_string();
            let mut name = String::with_capacity(g.name.len() + 1 + n.len());
            name.push_str(&g.name);
            name.push(sep);
            name.push_str(&n);
            name
        };
        for r in 0..g.worst_replicas() {
            let name = if g.kind == "StatefulSet" {
                numbered('-', r)
            } else if g.worst_replicas() > 1 {
                numbered('#', r + 1)
            } else {
                g.name.clone()
            };
            pods.push(Pod { name, group: gi, g });
        }
    }
    pods.sort_by(|a, b| {
        (b.g.request.memory, b.g.request.cpu)
            .cmp(&(a.g.request.memory, a.g.request.cpu))
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut nodes: Vec<NodeUse> = (0..n)
        .map(|_| NodeUse {
            pods: Vec::new(),
            used: Res::default(),
        })
        .collect();
    let mut members: Vec<Vec<usize>> = vec![vec![0; groups.len()]; n as usize];
    let mut unschedulable = Vec::new();
    for pod in pods {
        let req = pod.g.request;
        let mut best: Option<(usize, (usize, u64))> = None;
        let mut blocked_by_spread = false;
        for (i, node) in nodes.iter().enumerate() {
            let free = available.minus(node.used);
            if !req.fits_in(free) {
                continue;
            }
            let same = members[i][pod.group];
            if pod.g.spread_required && same > 0 {
                blocked_by_spread = true;
                continue;
            }
            // Spread replicas first, then prefer the emptiest node.
            let score = (same, u64::MAX - free.memory);
            if best.is_none_or(|(_, s)| score < s) {
                best = Some((i, score));
            }
        }
        match best {
            Some((i, _)) => {
                nodes[i].used = nodes[i].used.plus(req);
                members[i][pod.group] += 1;
                nodes[i].pods.push(PlacedPod {
                    name: pod.name,
                    component: pod.g.component,
                    request: req,
                    limit: pod.g.limit,
                });
            }
            None => {
                let too_big = !req.fits_in(available);
                let most_free = nodes
                    .iter()
                    .map(|n| available.minus(n.used))
                    .max_by_key(|f| (f.memory, f.cpu))
                    .unwrap_or(available);
                let shortfall = if too_big {
                    req.minus(available)
                } else {
                    req.minus(most_free)
                };
                let reason = if too_big {
                    "larger than a whole node's capacity for the platform".to_string()
                } else if blocked_by_spread {
                    "every node with room already runs a replica (required anti-affinity)"
                        .to_string()
                } else {
                    "no node has enough free capacity left".to_string()
                };
                unschedulable.push(Unschedulable {
                    pod: pod.name,
                    request: req,
                    shortfall,
                    too_big_for_any_node: too_big,
                    reason,
                });
            }
        }
    }
    Placement {
        nodes,
        unschedulable,
    }
}
