//! Where the scheduler puts every pod of the platform, and what a rolling drain of the nodes
//! does to them: the check behind `placement.unschedulable` and `placement.n-1`.
//!
//! The cluster goes through what `tests/cluster/suite.py` puts a real one through: the render
//! applied (StatefulSet pods one ordinal at a time, Deployments and the topic Job at once), the
//! HPAs at their maximum, a CronJob run, then every node drained in turn and uncordoned before
//! the next. Each pod is placed by a model of kube-scheduler ([`sim`]), with its priority, its
//! spreading, and the zone or node its volumes hold it to once made. The real scheduler breaks
//! ties at random; the model runs six times ([`TIES`]: towards the lowest node, the highest, and
//! four seeded), and a result the runs disagree on is `Marginal`.

mod sim;

use super::node::Res;
use super::pods::PodGroup;
use crate::kube::placement::ZONE;
use crate::profile::VolumeTopology;
use serde::Serialize;
use sim::{Cluster, Group, Pin, Pod, Refusal, Spread};

const HOSTNAME: &str = "kubernetes.io/hostname";

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
    /// The platform's requests on the node (its system pods not counted).
    pub used: Res,
}

#[derive(Clone, Debug, Serialize)]
pub struct Unschedulable {
    pub pod: String,
    pub request: Res,
    /// What the node with the most room lacked, after what was already placed there.
    pub shortfall: Res,
    /// True when no node could hold the pod even empty.
    pub too_big_for_any_node: bool,
    pub reason: String,
}

/// Every pod at the HPAs' maximum, node by node.
#[derive(Clone, Debug, Serialize)]
pub struct Placement {
    pub nodes: Vec<NodeUse>,
    pub unschedulable: Vec<Unschedulable>,
    /// The two tie-breaks disagree on whether every pod is placed.
    pub marginal: bool,
}

impl Placement {
    pub(crate) fn fits(&self) -> bool {
        self.unschedulable.is_empty()
    }
}

/// The result of draining every node in turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every drain completes and every pod is placed again, whichever way ties break.
    Holds,
    /// A drain leaves pods Pending, whichever way ties break.
    Fails,
    /// It depends on how the scheduler breaks ties.
    Marginal,
}

#[derive(Clone, Debug, Serialize)]
pub struct Drains {
    /// Whether every drain leaves room for every pod.
    pub verdict: Verdict,
    /// The first drain that left pods short of room (lowest-node tie-break, else the other).
    pub failure: Option<DrainFailure>,
    /// The first drain whose pods could only wait for their node: their volume stays on it
    /// (or in its zone, which has no other node), or their anti-affinity leaves no other node.
    /// No size avoids it.
    pub pinned: Option<DrainFailure>,
    /// Pods preempted along the way (lowest-node tie-break).
    pub preemptions: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct DrainFailure {
    /// The node drained (0-based, in name order).
    pub node: u32,
    pub pending: Vec<Unschedulable>,
}

/// The cluster the platform runs on, as the scheduler sees it.
#[derive(Clone, Debug)]
pub struct Shape {
    pub nodes: u32,
    /// Zones the nodes are spread over in turn; 0: nodes carry no zone label.
    pub zones: usize,
    /// Each node's allocatable.
    pub allocatable: Res,
    /// What the distribution's own pods request on each node.
    pub system_pods: Res,
    pub volumes: VolumeTopology,
}

/// Beyond this many pods the placement is not simulated (it would take time and memory in
/// proportion to a replica count that is almost certainly a typo).
pub(crate) const MAX_PODS: u64 = 100_000;

/// Places every pod (HPAs at their maximum) and drains every node in turn.
pub fn place(groups: &[PodGroup], shape: &Shape) -> (Placement, Option<Drains>) {
    let total: u64 = groups.iter().map(|g| u64::from(g.worst_replicas())).sum();
    if total > MAX_PODS || shape.nodes > 100_000 {
        let too_many = Unschedulable {
            pod: format!("{total} pods"),
            request: Res::default(),
            shortfall: Res::default(),
            too_big_for_any_node: false,
            reason: format!(
                "more than {MAX_PODS} pods or 100000 nodes: placement is not simulated; check the replica counts"
            ),
        };
        return (
            Placement {
                nodes: Vec::new(),
                unschedulable: vec![too_many],
                marginal: false,
            },
            None,
        );
    }
    let (specs, claims) = resolve(groups, shape);
    let mut runs = TIES
        .iter()
        .map(|&tie| Run::go(groups, &specs, claims, shape, tie));
    let first = runs.next().expect("TIES is not empty");
    let rest: Vec<Run> = runs.collect();
    let fits = first.placement.fits();
    let placement = Placement {
        marginal: rest.iter().any(|r| r.placement.fits() != fits),
        ..first.placement
    };
    // Drains where every run placed every pod; a run that did not leaves the verdict to the
    // others (the placement itself is then marginal).
    let drained: Vec<DrainRun> = std::iter::once(first.drains)
        .chain(rest.into_iter().map(|r| r.drains))
        .flatten()
        .collect();
    let drains = (!drained.is_empty()).then(|| {
        let holds = drained.iter().filter(|d| d.failure.is_none()).count();
        Drains {
            verdict: if holds == drained.len() {
                Verdict::Holds
            } else if holds == 0 {
                Verdict::Fails
            } else {
                Verdict::Marginal
            },
            failure: drained.iter().find_map(|d| d.failure.clone()),
            pinned: drained.iter().find_map(|d| d.pinned.clone()),
            preemptions: drained[0].preemptions,
        }
    });
    (placement, drains)
}

/// The tie-breaks the model runs: towards the lowest node, the highest, and four seeded ones.
/// The real scheduler picks at random among equally scored nodes, so where the runs disagree
/// the outcome is `Marginal` (found by the real scheduler, tests/cluster/placement.py: with only
/// the first two, a drain amctl called safe failed where the random picks packed differently).
const TIES: [Tie; 6] = [
    Tie::Low,
    Tie::High,
    Tie::Mixed(1),
    Tie::Mixed(2),
    Tie::Mixed(3),
    Tie::Mixed(4),
];

/// Which way a tie between equally scored nodes goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tie {
    Low,
    High,
    /// Among equals, the node a seeded hash ranks first.
    Mixed(u64),
}

/// The scheduler's view of each group: selectors resolved to the groups they match.
fn resolve(groups: &[PodGroup], shape: &Shape) -> (Vec<Group>, usize) {
    let n = groups.len();
    let matches =
        |sel: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector| -> Vec<u32> {
            (0..n)
                .filter(|&j| crate::kube::selects(sel, &groups[j].scheduling.labels))
                .map(|j| j as u32)
                .collect()
        };
    let mut conflicts = vec![Vec::new(); n];
    let mut preferred = vec![vec![0i64; n]; n];
    for (i, g) in groups.iter().enumerate() {
        for (key, sel) in &g.scheduling.anti_required {
            if key != HOSTNAME && key != ZONE {
                continue;
            }
            for j in matches(sel) {
                conflicts[i].push(j);
                conflicts[j as usize].push(i as u32);
            }
        }
        for (w, key, sel) in &g.scheduling.anti_preferred {
            if key != HOSTNAME {
                continue;
            }
            for j in matches(sel) {
                preferred[i][j as usize] += i64::from(*w);
                preferred[j as usize][i] += i64::from(*w);
            }
        }
    }
    let mut claim_names: Vec<String> = Vec::new();
    let specs = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let s = &g.scheduling;
            let mut c = std::mem::take(&mut conflicts[i]);
            c.sort_unstable();
            c.dedup();
            let soft: Vec<Spread> = s
                .spread
                .iter()
                .filter(|(key, _, _, hard)| !hard && (key == ZONE || key == HOSTNAME))
                .map(|(key, skew, sel, _)| Spread {
                    zone: key == ZONE,
                    max_skew: *skew,
                    groups: matches(sel),
                })
                .collect();
            let hard: Vec<Spread> = s
                .spread
                .iter()
                .filter(|(key, _, _, hard)| *hard && (key == ZONE || key == HOSTNAME))
                .map(|(key, skew, sel, _)| Spread {
                    zone: key == ZONE,
                    max_skew: *skew,
                    groups: matches(sel),
                })
                .collect();
            let explicit = !s.spread.is_empty();
            // podtopologyspread/plugin.go systemDefaultConstraints, for a pod its controller
            // or a Service selects (a Job's pods: none).
            let spread = if explicit {
                soft
            } else if matches!(g.kind, "StatefulSet" | "Deployment") {
                vec![
                    Spread {
                        zone: false,
                        max_skew: 3,
                        groups: vec![i as u32],
                    },
                    Spread {
                        zone: true,
                        max_skew: 5,
                        groups: vec![i as u32],
                    },
                ]
            } else {
                Vec::new()
            };
            let pin = if shape.volumes == VolumeTopology::Any {
                Pin::Free
            } else if s.template_claims {
                Pin::PerPod
            } else if let Some(claim) = s.shared_claims.first() {
                let at = claim_names
                    .iter()
                    .position(|c| c == claim)
                    .unwrap_or_else(|| {
                        claim_names.push(claim.clone());
                        claim_names.len() - 1
                    });
                Pin::Shared(at as u32)
            } else {
                Pin::Free
            };
            Group {
                request: g.request,
                priority: s.priority,
                conflicts: c,
                preferred: preferred[i]
                    .iter()
                    .enumerate()
                    .filter(|(_, w)| **w != 0)
                    .map(|(j, w)| (j as u32, *w))
                    .collect(),
                spread,
                explicit_spread: explicit,
                hard_spread: hard,
                pin,
                budget: s.budget,
            }
        })
        .collect();
    (specs, claim_names.len())
}

struct Run {
    placement: Placement,
    /// `None` on a single node or when not every pod was placed to begin with.
    drains: Option<DrainRun>,
}

struct DrainRun {
    /// The first drain that left a pod short of room.
    failure: Option<DrainFailure>,
    /// The first drain whose pods could only wait for their node (volume or anti-affinity).
    pinned: Option<DrainFailure>,
    preemptions: u32,
}

impl Run {
    fn go(groups: &[PodGroup], specs: &[Group], claims: usize, shape: &Shape, tie: Tie) -> Run {
        let mut c = Cluster::new(specs, shape, claims, tie);
        let mut pending: Vec<(Pod, Refusal)> = Vec::new();
        let run = |c: &mut Cluster, queue: Vec<Pod>, pending: &mut Vec<(Pod, Refusal)>| {
            let mut q: Vec<Pod> = pending.drain(..).map(|(p, _)| p).collect();
            q.extend(queue);
            *pending = c.run(q);
        };
        // The render applied: each StatefulSet's ordinals in turn (OrderedReady), everything
        // else at once; the topic Job runs and completes.
        let waves = groups
            .iter()
            .filter(|g| g.kind == "StatefulSet" && g.scheduling.ordered)
            .map(|g| g.replicas)
            .max()
            .unwrap_or(1)
            .max(1);
        let mut jobs: Vec<Pod> = Vec::new();
        for wave in 0..waves {
            let mut queue = Vec::new();
            for (i, g) in groups.iter().enumerate() {
                let ordinals: Vec<u32> = match g.kind {
                    "StatefulSet" if g.scheduling.ordered => {
                        if wave < g.replicas {
                            vec![wave]
                        } else {
                            vec![]
                        }
                    }
                    "CronJob" => vec![],
                    _ if wave == 0 => (0..g.replicas).collect(),
                    _ => vec![],
                };
                for o in ordinals {
                    let pod = c.pod(i as u32, o);
                    if g.kind == "Job" {
                        jobs.push(pod);
                    }
                    queue.push(pod);
                }
            }
            run(&mut c, queue, &mut pending);
        }
        complete(&mut c, &jobs);
        // The HPAs at their maximum.
        let mut queue = Vec::new();
        for (i, g) in groups.iter().enumerate() {
            for o in g.replicas..g.worst_replicas() {
                queue.push(c.pod(i as u32, o));
            }
        }
        run(&mut c, queue, &mut pending);
        let snapshot = nodes(&c, groups);
        // A CronJob's run, at the peak: it must find room, then completes.
        let runs: Vec<Pod> = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.kind == "CronJob")
            .map(|(i, _)| c.pod(i as u32, 0))
            .collect();
        run(&mut c, runs.clone(), &mut pending);
        complete(&mut c, &runs);
        let unschedulable: Vec<Unschedulable> = pending
            .iter()
            .map(|(p, why)| pending_pod(&c, groups, specs, *p, why))
            .collect();
        let placement = Placement {
            nodes: snapshot,
            unschedulable,
            marginal: false,
        };
        let drains = (shape.nodes > 1 && placement.fits()).then(|| {
            let mut out = DrainRun {
                failure: None,
                pinned: None,
                preemptions: 0,
            };
            for node in 0..c.nodes() {
                c.cordon(node, true);
                let evicted: Vec<Pod> = c.pods_on(node).to_vec();
                let mut queue = Vec::new();
                for p in evicted {
                    c.unbind(p, node);
                    queue.push(c.pod(p.group, p.ordinal));
                }
                let left = c.run(queue);
                let describe = |c: &Cluster, left: &[(Pod, Refusal)]| DrainFailure {
                    node,
                    pending: left
                        .iter()
                        .map(|(p, why)| pending_pod(c, groups, specs, *p, why))
                        .collect(),
                };
                // A pod no node could take even with room to spare (its volume, or its
                // anti-affinity, keeps it off every other node) waits for its node; one short
                // of room means the cluster is too full to lose a node.
                if left.iter().any(|(_, why)| why.resources > 0) {
                    out.failure = Some(describe(&c, &left));
                    break;
                }
                if !left.is_empty() && out.pinned.is_none() {
                    out.pinned = Some(describe(&c, &left));
                }
                c.cordon(node, false);
                // Back on the node they waited for.
                let back: Vec<Pod> = left.iter().map(|(p, _)| *p).collect();
                if !c.run(back).is_empty() && out.failure.is_none() {
                    out.failure = out.pinned.clone();
                    break;
                }
            }
            out.preemptions = c.preemptions;
            out
        });
        Run { placement, drains }
    }
}

/// Takes finished Job pods off their nodes.
fn complete(c: &mut Cluster, pods: &[Pod]) {
    for p in pods {
        if let Some(node) = (0..c.nodes()).find(|&n| c.pods_on(n).iter().any(|q| q.seq == p.seq)) {
            c.unbind(*p, node);
        }
    }
}

fn pod_name(g: &PodGroup, ordinal: u32) -> String {
    if g.kind == "StatefulSet" {
        format!("{}-{ordinal}", g.name)
    } else if g.worst_replicas() > 1 {
        format!("{}#{}", g.name, ordinal + 1)
    } else {
        g.name.clone()
    }
}

fn nodes(c: &Cluster, groups: &[PodGroup]) -> Vec<NodeUse> {
    (0..c.nodes())
        .map(|n| {
            let mut pods: Vec<&Pod> = c.pods_on(n).iter().collect();
            pods.sort_by_key(|p| p.seq);
            NodeUse {
                pods: pods
                    .into_iter()
                    .map(|p| {
                        let g = &groups[p.group as usize];
                        PlacedPod {
                            name: pod_name(g, p.ordinal),
                            component: g.component,
                            request: g.request,
                            limit: g.limit,
                        }
                    })
                    .collect(),
                used: c.used(n),
            }
        })
        .collect()
}

fn pending_pod(
    c: &Cluster,
    groups: &[PodGroup],
    specs: &[Group],
    pod: Pod,
    why: &Refusal,
) -> Unschedulable {
    let g = &groups[pod.group as usize];
    let cap = c.platform_capacity();
    let too_big = !g.request.fits_in(cap);
    let most_free = (0..c.nodes())
        .map(|n| cap.minus(c.used(n)))
        .max_by_key(|f| (f.memory, f.cpu))
        .unwrap_or(cap);
    let shortfall = if too_big {
        g.request.minus(cap)
    } else {
        g.request.minus(most_free)
    };
    let mut parts = Vec::new();
    if why.resources > 0 {
        parts.push(format!(
            "{} with too little free memory or CPU",
            why.resources
        ));
    }
    if why.conflicts > 0 {
        parts.push(format!(
            "{} already running a pod it must not share a node with (required anti-affinity)",
            why.conflicts
        ));
    }
    if why.volume > 0 {
        parts.push(format!(
            "{} outside the {} its volume is in",
            why.volume,
            if c.volume_node_bound() {
                "node"
            } else {
                "zone"
            }
        ));
    }
    if why.cordoned > 0 {
        parts.push(format!("{} cordoned", why.cordoned));
    }
    if why.spread > 0 {
        parts.push(format!(
            "{} that would break a DoNotSchedule spread",
            why.spread
        ));
    }
    let mut reason = if too_big {
        "larger than a whole node's capacity for the platform".to_string()
    } else {
        format!("no node takes it: {}", parts.join("; "))
    };
    if specs[pod.group as usize].priority == 0 && why.resources > 0 {
        reason.push_str("; nothing of lower priority to preempt");
    }
    Unschedulable {
        pod: pod_name(g, pod.ordinal),
        request: g.request,
        shortfall,
        too_big_for_any_node: too_big,
        reason,
    }
}
