//! kube-scheduler's default profile on a model cluster: one pod at a time, highest priority
//! first, on the feasible node with the highest score, and preemption of lower-priority pods
//! when no node is feasible. Restated from Kubernetes v1.37 (pkg/scheduler/...):
//!
//! - filters: NodeUnschedulable, NodeResourcesFit, InterPodAffinity (required anti-affinity, both
//!   ways), VolumeBinding and VolumeZone (a bound volume's node or zone affinity);
//! - scores (default weights): NodeResourcesFit LeastAllocated ×1
//!   (framework/plugins/noderesources/least_allocated.go), NodeResourcesBalancedAllocation ×1
//!   (balanced_allocation.go, the v1.37 "improvement" form), PodTopologySpread ×2
//!   (podtopologyspread/scoring.go, with the system default constraints for a pod without its
//!   own), InterPodAffinity ×2 (interpodaffinity/scoring.go). TaintToleration, NodeAffinity and
//!   ImageLocality score every node of a uniform kwok cluster alike and are left out;
//! - DefaultPreemption (defaultpreemption/default_preemption.go, preemption/preemption.go):
//!   victims are the fewest lower-priority pods whose removal makes the pod fit, reprieved in
//!   order of importance, budget-violating ones first; the node with the fewest budget
//!   violations, then the lowest highest-victim priority, the lowest priority sum, the fewest
//!   victims.
//!
//! Where the scheduler picks at random among equal scores (schedule_one.go selectHost), the
//! model takes the lowest or the highest node, as told ([`Tie`]): the two runs bracket what the
//! real scheduler may do. Nodes in the same state (zone, pods, cordon) score alike, so they are
//! evaluated once per state ([`Class`]): a cluster of thousands of identical nodes costs little
//! more than one of a few.

use super::{Shape, Tie};
use crate::model::node::Res;
use crate::profile::VolumeTopology;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

/// Where a volume holds the pods that mount it, once made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loc {
    Zone(u16),
    Node(u32),
}

/// How a workload's pods are held by their volumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pin {
    /// No volume that follows the pod.
    Free,
    /// Each pod its own claim (a StatefulSet's templates): where its first placement put it.
    PerPod,
    /// A standalone claim, by index: where the first pod that mounted it was put.
    Shared(u32),
}

/// A soft (or hard) topology spread constraint, resolved to the groups its selector matches.
#[derive(Clone, Debug)]
pub(crate) struct Spread {
    pub zone: bool,
    pub max_skew: i32,
    pub groups: Vec<u32>,
}

/// A workload, as the scheduler sees each of its pods.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub request: Res,
    pub priority: i32,
    /// Groups whose pods it may not share a node with (its required anti-affinity and theirs).
    pub conflicts: Vec<u32>,
    /// Groups whose pods on a node lower its score there, with the summed weights of the
    /// preferred anti-affinity terms (its own and theirs).
    pub preferred: Vec<(u32, i64)>,
    /// Soft spread constraints; `explicit` false: the system defaults.
    pub spread: Vec<Spread>,
    pub explicit_spread: bool,
    /// DoNotSchedule constraints.
    pub hard_spread: Vec<Spread>,
    pub pin: Pin,
    /// A maxUnavailable-1 budget covers it.
    pub budget: bool,
}

/// One pod: its workload, its ordinal (a StatefulSet's identity, else a counter) and when it
/// was created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pod {
    pub group: u32,
    pub ordinal: u32,
    pub seq: u64,
}

/// The scheduling queue's order: higher priority first, then the older pod.
struct Queued(i32, Pod);

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        self.0 == o.0 && self.1.seq == o.1.seq
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.cmp(&o.0).then(o.1.seq.cmp(&self.1.seq))
    }
}

/// The state nodes share when they score alike.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    zone: u16,
    cordoned: bool,
    used: (u64, u64),
    /// (group, pods of it), sorted, no zeros.
    counts: Vec<(u32, u32)>,
}

struct Class {
    key: Key,
    nodes: BTreeSet<u32>,
}

/// A node preemption could free: (violations, highest victim priority, priority sum, victim
/// count), the node, the victims (group, pods).
type Candidate = ((u32, i64, i64, usize), u32, Vec<(u32, u32)>);

/// Why a pod found no node, as the scheduler would say it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Refusal {
    pub resources: u32,
    pub conflicts: u32,
    pub volume: u32,
    pub cordoned: u32,
    pub spread: u32,
}

pub(crate) struct Cluster<'a> {
    groups: &'a [Group],
    /// Zone per node; `u16::MAX`: no zone label.
    zone: Vec<u16>,
    zones: usize,
    cap: Res,
    base: Res,
    used: Vec<Res>,
    cordoned: Vec<bool>,
    pods: Vec<Vec<Pod>>,
    /// Pods per (node, group): `node * groups + group`.
    count: Vec<u32>,
    /// Pods per (group, zone).
    zone_count: Vec<u32>,
    pins: HashMap<(u32, u32), Loc>,
    claim_pins: Vec<Option<Loc>>,
    volume_topology: Option<bool>,
    /// Pods of each group not running (evicted or Pending): what their budget has used.
    pending: Vec<u32>,
    tie: Tie,
    seq: u64,
    classes: Vec<Option<Class>>,
    free_classes: Vec<usize>,
    index: HashMap<Key, usize>,
    class_of: Vec<usize>,
    pub preemptions: u32,
}

impl<'a> Cluster<'a> {
    /// The nodes of `shape`, empty but for their system pods, in its zones in turn; `claims`
    /// standalone claims.
    pub(crate) fn new(groups: &'a [Group], shape: &Shape, claims: usize, tie: Tie) -> Cluster<'a> {
        let (nodes, zones, cap, base) = (
            shape.nodes,
            shape.zones,
            shape.allocatable,
            shape.system_pods,
        );
        let volume_topology = match shape.volumes {
            VolumeTopology::Zone => Some(true),
            VolumeTopology::Node => Some(false),
            VolumeTopology::Any => None,
        };
        let n = nodes as usize;
        let zone: Vec<u16> = (0..n)
            .map(|i| {
                if zones == 0 {
                    u16::MAX
                } else {
                    (i % zones) as u16
                }
            })
            .collect();
        let mut c = Cluster {
            groups,
            zone,
            zones,
            cap,
            base,
            used: vec![base; n],
            cordoned: vec![false; n],
            pods: vec![Vec::new(); n],
            count: vec![0; n * groups.len()],
            zone_count: vec![0; groups.len() * zones.max(1)],
            pins: HashMap::new(),
            claim_pins: vec![None; claims],
            volume_topology,
            pending: vec![0; groups.len()],
            tie,
            seq: 0,
            classes: Vec::new(),
            free_classes: Vec::new(),
            index: HashMap::new(),
            class_of: vec![usize::MAX; n],
            preemptions: 0,
        };
        for node in 0..nodes {
            c.reclass(node);
        }
        c
    }

    pub(crate) fn nodes(&self) -> u32 {
        self.used.len() as u32
    }

    pub(crate) fn pods_on(&self, node: u32) -> &[Pod] {
        &self.pods[node as usize]
    }

    /// A node's allocatable less its system pods: what the platform may request there.
    pub(crate) fn platform_capacity(&self) -> Res {
        self.cap.minus(self.base)
    }

    /// Volumes hold their pods to a node (not a zone).
    pub(crate) fn volume_node_bound(&self) -> bool {
        self.volume_topology == Some(false)
    }

    pub(crate) fn used(&self, node: u32) -> Res {
        self.used[node as usize].minus(self.base)
    }

    /// A new pod of `group` (a new object: a new creation time).
    pub(crate) fn pod(&mut self, group: u32, ordinal: u32) -> Pod {
        self.seq += 1;
        self.pending[group as usize] += 1;
        Pod {
            group,
            ordinal,
            seq: self.seq,
        }
    }

    fn key(&self, node: u32) -> Key {
        let n = node as usize;
        let g = self.groups.len();
        let counts = (0..g)
            .filter(|&j| self.count[n * g + j] > 0)
            .map(|j| (j as u32, self.count[n * g + j]))
            .collect();
        Key {
            zone: self.zone[n],
            cordoned: self.cordoned[n],
            used: (self.used[n].memory, self.used[n].cpu),
            counts,
        }
    }

    /// Moves `node` to the class of its current state.
    fn reclass(&mut self, node: u32) {
        let n = node as usize;
        let old = self.class_of[n];
        if old != usize::MAX {
            let class = self.classes[old].as_mut().expect("a node's class exists");
            class.nodes.remove(&node);
            if class.nodes.is_empty() {
                let key = self.classes[old].take().expect("just used").key;
                self.index.remove(&key);
                self.free_classes.push(old);
            }
        }
        let key = self.key(node);
        let id = match self.index.get(&key) {
            Some(&id) => id,
            None => {
                let class = Class {
                    key: key.clone(),
                    nodes: BTreeSet::new(),
                };
                let id = match self.free_classes.pop() {
                    Some(id) => {
                        self.classes[id] = Some(class);
                        id
                    }
                    None => {
                        self.classes.push(Some(class));
                        self.classes.len() - 1
                    }
                };
                self.index.insert(key, id);
                id
            }
        };
        self.classes[id]
            .as_mut()
            .expect("inserted above")
            .nodes
            .insert(node);
        self.class_of[n] = id;
    }

    fn cnt(&self, node: usize, group: u32) -> u32 {
        self.count[node * self.groups.len() + group as usize]
    }

    fn zone_cnt(&self, group: u32, zone: u16) -> u32 {
        if zone == u16::MAX {
            return 0;
        }
        self.zone_count[group as usize * self.zones.max(1) + zone as usize]
    }

    /// Where `pod`'s volumes hold it, if anywhere yet.
    fn loc(&self, pod: Pod) -> Option<Loc> {
        match self.groups[pod.group as usize].pin {
            Pin::Free => None,
            Pin::PerPod => self.pins.get(&(pod.group, pod.ordinal)).copied(),
            Pin::Shared(c) => self.claim_pins[c as usize],
        }
    }

    fn allowed(&self, node: usize, loc: Option<Loc>) -> bool {
        match loc {
            None => true,
            Some(Loc::Zone(z)) => self.zone[node] == z,
            Some(Loc::Node(n)) => n as usize == node,
        }
    }

    /// Whether `pod` fits on a node of state `key` (a representative `node`), given pods
    /// `removed` (group, count) taken off it; the reason when not.
    fn fits(&self, node: usize, pod: Pod, used: Res, removed: &[(u32, u32)]) -> Result<(), Why> {
        let g = &self.groups[pod.group as usize];
        if self.cordoned[node] {
            return Err(Why::Cordoned);
        }
        if !self.allowed(node, self.loc(pod)) {
            return Err(Why::Volume);
        }
        if !used.plus(g.request).fits_in(self.cap) {
            return Err(Why::Resources);
        }
        let left = |h: u32| {
            let gone = removed.iter().find(|(r, _)| *r == h).map_or(0, |(_, n)| *n);
            self.cnt(node, h).saturating_sub(gone)
        };
        if g.conflicts.iter().any(|&h| left(h) > 0) {
            return Err(Why::Conflict);
        }
        for s in &g.hard_spread {
            if !self.skew_ok(node, s, pod.group) {
                return Err(Why::Spread);
            }
        }
        Ok(())
    }

    /// A DoNotSchedule constraint: the node's domain stays within maxSkew of the emptiest
    /// domain among schedulable nodes.
    fn skew_ok(&self, node: usize, s: &Spread, group: u32) -> bool {
        let _ = group;
        let count_in = |n: usize| -> u32 {
            if s.zone {
                s.groups
                    .iter()
                    .map(|&h| self.zone_cnt(h, self.zone[n]))
                    .sum()
            } else {
                s.groups.iter().map(|&h| self.cnt(n, h)).sum()
            }
        };
        let min = (0..self.used.len())
            .filter(|&n| !self.cordoned[n])
            .map(count_in)
            .min()
            .unwrap_or(0);
        (count_in(node) + 1) as i64 - min as i64 <= s.max_skew as i64
    }

    fn live_classes(&self) -> impl Iterator<Item = &Class> {
        self.classes.iter().flatten()
    }

    fn representative(&self, class: &Class) -> u32 {
        match self.tie {
            Tie::Low => *class.nodes.first().expect("classes are never empty"),
            Tie::High => *class.nodes.last().expect("classes are never empty"),
            Tie::Mixed(seed) if seed % 2 == 0 => {
                *class.nodes.first().expect("classes are never empty")
            }
            Tie::Mixed(_) => *class.nodes.last().expect("classes are never empty"),
        }
    }

    /// Places `pod` on the best feasible node, or says why no node is feasible.
    pub(crate) fn schedule(&mut self, pod: Pod) -> Result<u32, Refusal> {
        let loc = self.loc(pod);
        let mut refusal = Refusal::default();
        let mut feasible: Vec<(u32, usize)> = Vec::new(); // (representative, class size)
        let pinned_node = match loc {
            Some(Loc::Node(n)) => Some(n),
            _ => None,
        };
        for class in self.live_classes() {
            let rep = match pinned_node {
                Some(n) if class.nodes.contains(&n) => n,
                Some(_) => {
                    refusal.volume += class.nodes.len() as u32;
                    continue;
                }
                None => self.representative(class),
            };
            match self.fits(rep as usize, pod, self.used[rep as usize], &[]) {
                Ok(()) => feasible.push((
                    rep,
                    if pinned_node.is_some() {
                        1
                    } else {
                        class.nodes.len()
                    },
                )),
                Err(w) => w.count(&mut refusal, class.nodes.len() as u32),
            }
        }
        if feasible.is_empty() {
            return Err(refusal);
        }
        let node = self.best(pod, &feasible);
        self.bind(pod, node);
        Ok(node)
    }

    /// The feasible node with the highest total score.
    fn best(&self, pod: Pod, feasible: &[(u32, usize)]) -> u32 {
        let g = &self.groups[pod.group as usize];
        let total_nodes: usize = feasible.iter().map(|(_, n)| n).sum();
        let mut zones_seen: Vec<u16> = feasible
            .iter()
            .map(|(n, _)| self.zone[*n as usize])
            .collect();
        zones_seen.sort_unstable();
        zones_seen.dedup();
        // PodTopologySpread: an explicit zone constraint ignores nodes without the label.
        let labelled = self.zones > 0;
        let weight = |s: &Spread| -> f64 {
            let size = if s.zone {
                zones_seen.len()
            } else {
                total_nodes
            };
            ((size + 2) as f64).ln()
        };
        let spread_raw = |n: usize| -> Option<i64> {
            if g.spread.is_empty()
                || (g.explicit_spread && !labelled && g.spread.iter().any(|s| s.zone))
            {
                return None;
            }
            let mut score = 0.0;
            for s in &g.spread {
                if s.zone && !labelled {
                    continue;
                }
                let cnt: u32 = if s.zone {
                    s.groups
                        .iter()
                        .map(|&h| self.zone_cnt(h, self.zone[n]))
                        .sum()
                } else {
                    s.groups.iter().map(|&h| self.cnt(n, h)).sum()
                };
                score += cnt as f64 * weight(s) + (s.max_skew - 1) as f64;
            }
            Some(score.round() as i64)
        };
        let affinity_raw = |n: usize| -> i64 {
            -g.preferred
                .iter()
                .map(|&(h, w)| w * self.cnt(n, h) as i64)
                .sum::<i64>()
        };
        let spread: Vec<Option<i64>> = feasible
            .iter()
            .map(|(n, _)| spread_raw(*n as usize))
            .collect();
        let affinity: Vec<i64> = feasible
            .iter()
            .map(|(n, _)| affinity_raw(*n as usize))
            .collect();
        let (smax, smin) = spread
            .iter()
            .flatten()
            .fold((0i64, i64::MAX), |(mx, mn), &s| (mx.max(s), mn.min(s)));
        let (amax, amin) = affinity
            .iter()
            .fold((i64::MIN, i64::MAX), |(mx, mn), &s| (mx.max(s), mn.min(s)));
        let mut best: Option<(i64, u32)> = None;
        for (i, (n, _)) in feasible.iter().enumerate() {
            let node = *n as usize;
            let used = self.used[node];
            let with = used.plus(g.request);
            let la = least_allocated(with, self.cap);
            let ba = balanced(with, used, self.cap);
            let pts = match spread[i] {
                None => 0,
                Some(_) if smax == 0 => 100,
                Some(s) => 100 * (smax + smin - s) / smax,
            };
            let ipa = if amax > amin {
                (100.0 * ((affinity[i] - amin) as f64 / (amax - amin) as f64)) as i64
            } else {
                0
            };
            let total = la + ba + 2 * pts + 2 * ipa;
            let better = match best {
                None => true,
                Some((t, b)) => {
                    total > t
                        || (total == t
                            && match self.tie {
                                Tie::Low => *n < b,
                                Tie::High => *n > b,
                                Tie::Mixed(seed) => mix(seed, *n) < mix(seed, b),
                            })
                }
            };
            if better {
                best = Some((total, *n));
            }
        }
        best.expect("feasible is not empty").1
    }

    /// Puts `pod` on `node`; a first placement pins its volumes there.
    pub(crate) fn bind(&mut self, pod: Pod, node: u32) {
        let n = node as usize;
        let g = &self.groups[pod.group as usize];
        let here = match self.volume_topology {
            Some(true) if self.zone[n] != u16::MAX => Some(Loc::Zone(self.zone[n])),
            Some(true) | None => None,
            Some(false) => Some(Loc::Node(node)),
        };
        match g.pin {
            Pin::Free => {}
            Pin::PerPod => {
                if let Some(l) = here {
                    self.pins.entry((pod.group, pod.ordinal)).or_insert(l);
                }
            }
            Pin::Shared(c) => {
                if self.claim_pins[c as usize].is_none() {
                    self.claim_pins[c as usize] = here;
                }
            }
        }
        self.used[n] = self.used[n].plus(g.request);
        let groups = self.groups.len();
        self.count[n * groups + pod.group as usize] += 1;
        if self.zone[n] != u16::MAX {
            self.zone_count[pod.group as usize * self.zones.max(1) + self.zone[n] as usize] += 1;
        }
        self.pending[pod.group as usize] = self.pending[pod.group as usize].saturating_sub(1);
        self.pods[n].push(pod);
        self.reclass(node);
    }

    /// Takes `pod` off `node` (evicted, preempted or completed). Its controller makes a new
    /// pod in its place ([`Cluster::pod`]), if any.
    pub(crate) fn unbind(&mut self, pod: Pod, node: u32) {
        let n = node as usize;
        let g = &self.groups[pod.group as usize];
        if let Some(i) = self.pods[n].iter().position(|p| p.seq == pod.seq) {
            self.pods[n].swap_remove(i);
        }
        self.used[n] = self.used[n].minus(g.request);
        let groups = self.groups.len();
        self.count[n * groups + pod.group as usize] -= 1;
        if self.zone[n] != u16::MAX {
            self.zone_count[pod.group as usize * self.zones.max(1) + self.zone[n] as usize] -= 1;
        }
        self.reclass(node);
    }

    pub(crate) fn cordon(&mut self, node: u32, on: bool) {
        self.cordoned[node as usize] = on;
        self.reclass(node);
    }

    /// DefaultPreemption for `pod`, which no node takes: victims on the best candidate node
    /// are taken off (and returned, to come back as new pods), `pod` is bound there.
    pub(crate) fn preempt(&mut self, pod: Pod) -> Option<Vec<Pod>> {
        let g = &self.groups[pod.group as usize];
        let loc = self.loc(pod);
        // The best candidate so far: its rank (budget violations, highest victim priority,
        // priority sum, victims), its node and its victims (group, pods).
        let mut best: Option<Candidate> = None;
        let pinned_node = match loc {
            Some(Loc::Node(n)) => Some(n),
            _ => None,
        };
        for class in self.live_classes() {
            let rep = match pinned_node {
                Some(n) if class.nodes.contains(&n) => n,
                Some(_) => continue,
                None => self.representative(class),
            };
            let node = rep as usize;
            if self.cordoned[node] || !self.allowed(node, loc) {
                continue;
            }
            // Lower-priority pods on the node, most important first.
            let mut lower: Vec<(i32, u32, u32)> = class
                .key
                .counts
                .iter()
                .filter(|(h, _)| self.groups[*h as usize].priority < g.priority)
                .map(|&(h, n)| (self.groups[h as usize].priority, h, n))
                .collect();
            if lower.is_empty() {
                continue;
            }
            lower.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let all: Vec<(u32, u32)> = lower.iter().map(|&(_, h, n)| (h, n)).collect();
            let freed = all.iter().fold(Res::default(), |r, &(h, n)| {
                r.plus(self.groups[h as usize].request.scale(u64::from(n)))
            });
            let base_used = self.used[node].minus(freed);
            if self.fits(node, pod, base_used, &all).is_err() {
                continue;
            }
            // Reprieve: budget-violating pods first, then the others, most important first.
            let mut victims: Vec<(u32, u32)> = all.clone();
            let mut used = base_used;
            let mut violations = 0u32;
            let order: Vec<(bool, i32, u32)> = {
                let mut o: Vec<(bool, i32, u32)> = Vec::new();
                for &(p, h, n) in &lower {
                    let violating = self.groups[h as usize].budget && self.pending[h as usize] >= 1;
                    for _ in 0..n {
                        o.push((violating, p, h));
                    }
                }
                o.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
                o
            };
            for (violating, _, h) in order {
                let r = self.groups[h as usize].request;
                // Put one pod of `h` back: does the preemptor still fit?
                let mut trial = victims.clone();
                if let Some(v) = trial.iter_mut().find(|(x, _)| *x == h) {
                    v.1 -= 1;
                }
                trial.retain(|(_, n)| *n > 0);
                let trial_used = used.plus(r);
                if self.fits(node, pod, trial_used, &trial).is_ok() {
                    victims = trial;
                    used = trial_used;
                } else if violating {
                    violations += 1;
                }
            }
            let highest = victims
                .iter()
                .map(|(h, _)| i64::from(self.groups[*h as usize].priority))
                .max()
                .unwrap_or(i64::MIN);
            let sum: i64 = victims
                .iter()
                .map(|(h, n)| {
                    (i64::from(self.groups[*h as usize].priority) + (1i64 << 31)) * i64::from(*n)
                })
                .sum();
            let count: usize = victims.iter().map(|(_, n)| *n as usize).sum();
            let score = (violations, highest, sum, count);
            let better = match &best {
                None => true,
                Some((s, b, _)) => {
                    score < *s
                        || (score == *s
                            && match self.tie {
                                Tie::Low => rep < *b,
                                Tie::High => rep > *b,
                                Tie::Mixed(seed) => mix(seed, rep) < mix(seed, *b),
                            })
                }
            };
            if better {
                best = Some((score, rep, victims));
            }
        }
        let (_, node, victims) = best?;
        // The victims: of each group, its newest pods on the node (the least important).
        let mut taken = Vec::new();
        for (h, n) in victims {
            let mut of_h: Vec<Pod> = self.pods[node as usize]
                .iter()
                .filter(|p| p.group == h)
                .copied()
                .collect();
            of_h.sort_by_key(|p| std::cmp::Reverse(p.seq));
            for p in of_h.into_iter().take(n as usize) {
                self.unbind(p, node);
                taken.push(p);
            }
        }
        self.preemptions += 1;
        self.bind(pod, node);
        Some(taken)
    }

    /// Schedules every pod of `queue` (and every pod preemption displaces, re-created by its
    /// controller) until nothing more can be placed; returns what stays Pending, with why.
    pub(crate) fn run(&mut self, queue: Vec<Pod>) -> Vec<(Pod, Refusal)> {
        let mut heap: BinaryHeap<Queued> = queue
            .into_iter()
            .map(|p| Queued(self.groups[p.group as usize].priority, p))
            .collect();
        let mut waiting: Vec<(Pod, Refusal)> = Vec::new();
        loop {
            let mut changed = false;
            while let Some(Queued(_, pod)) = heap.pop() {
                match self.schedule(pod) {
                    Ok(_) => {}
                    Err(why) => match self.preempt(pod) {
                        Some(victims) => {
                            changed = true;
                            for v in victims {
                                let again = self.pod(v.group, v.ordinal);
                                heap.push(Queued(self.groups[v.group as usize].priority, again));
                            }
                        }
                        None => waiting.push((pod, why)),
                    },
                }
            }
            // Room freed by a preemption may take a pod that found none before.
            if !changed || waiting.is_empty() {
                break;
            }
            for (p, _) in waiting.drain(..) {
                heap.push(Queued(self.groups[p.group as usize].priority, p));
            }
        }
        waiting
    }
}

#[derive(Clone, Copy, Debug)]
enum Why {
    Cordoned,
    Volume,
    Resources,
    Conflict,
    Spread,
}

impl Why {
    fn count(self, r: &mut Refusal, n: u32) {
        match self {
            Why::Cordoned => r.cordoned += n,
            Why::Volume => r.volume += n,
            Why::Resources => r.resources += n,
            Why::Conflict => r.conflicts += n,
            Why::Spread => r.spread += n,
        }
    }
}

/// A node's rank among equals for one seeded tie-break (splitmix64): the scheduler picks at
/// random among equally scored nodes (schedule_one.go selectHost).
fn mix(seed: u64, node: u32) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(u64::from(node));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// NodeResourcesFit's LeastAllocated score of a node requesting `with` (the pod included).
fn least_allocated(with: Res, cap: Res) -> i64 {
    let one = |req: u64, cap: u64| -> Option<i64> {
        if cap == 0 {
            return None;
        }
        Some(if req > cap {
            0
        } else {
            ((cap - req) as i128 * 100 / cap as i128) as i64
        })
    };
    let scores: Vec<i64> = [one(with.cpu, cap.cpu), one(with.memory, cap.memory)]
        .into_iter()
        .flatten()
        .collect();
    if scores.is_empty() {
        0
    } else {
        scores.iter().sum::<i64>() / scores.len() as i64
    }
}

/// NodeResourcesBalancedAllocation (v1.37): 50 + (50 + balance with the pod − without) / 2.
fn balanced(with: Res, without: Res, cap: Res) -> i64 {
    let score = |r: Res| -> i64 {
        let frac = |a: u64, c: u64| (a as f64 / c as f64).min(1.0);
        if cap.cpu == 0 || cap.memory == 0 {
            return 100;
        }
        let std = ((frac(r.cpu, cap.cpu) - frac(r.memory, cap.memory)) / 2.0).abs();
        ((1.0 - std) * 100.0) as i64
    };
    50 + (50 + score(with) - score(without)) / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    /// least_allocated.go leastRequestedScore: ((capacity - requested) * 100) / capacity per
    /// resource, averaged with equal weights.
    #[test]
    fn least_allocated_is_the_free_share() {
        let cap = Res::new(100, 1000);
        assert_eq!(least_allocated(Res::new(0, 0), cap), 100);
        assert_eq!(least_allocated(Res::new(50, 250), cap), (50 + 75) / 2);
        assert_eq!(least_allocated(Res::new(150, 0), cap), 50);
    }

    /// balanced_allocation.go (v1.37): a pod that evens the node out scores above 75.
    #[test]
    fn balanced_allocation_rewards_an_even_node() {
        let cap = Res::new(100, 100);
        assert_eq!(balanced(Res::new(50, 50), Res::new(50, 50), cap), 75);
        assert!(balanced(Res::new(50, 50), Res::new(50, 0), cap) > 75);
        assert!(balanced(Res::new(90, 10), Res::new(50, 10), cap) < 75);
    }
}
