//! A node as the platform sees it: capacity, what the kubelet keeps back, what the Kubernetes
//! distribution itself uses, and what is left for the platform's pods.
//!
//! Allocatable = capacity − kube-reserved − system-reserved − hard eviction threshold (the
//! kubelet's formula). The distribution's processes outside pods (the k3s server, containerd)
//! and its own system pods are subtracted too: a budget that ignores them over-promises.

use crate::profile::{Amounts, Cluster, Distribution};
use serde::Serialize;

use super::MIB;

/// Memory in bytes and CPU in millicores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Res {
    pub memory: u64,
    pub cpu: u64,
}

impl Res {
    pub fn new(memory: u64, cpu: u64) -> Res {
        Res { memory, cpu }
    }
    // Saturating throughout: an absurd profile gets absurdly large totals (and the findings
    // that go with them), never a wrapped-around small number or a panic.
    pub fn plus(self, o: Res) -> Res {
        Res::new(
            self.memory.saturating_add(o.memory),
            self.cpu.saturating_add(o.cpu),
        )
    }
    pub fn minus(self, o: Res) -> Res {
        Res::new(
            self.memory.saturating_sub(o.memory),
            self.cpu.saturating_sub(o.cpu),
        )
    }
    pub fn max(self, o: Res) -> Res {
        Res::new(self.memory.max(o.memory), self.cpu.max(o.cpu))
    }
    pub fn scale(self, n: u64) -> Res {
        Res::new(self.memory.saturating_mul(n), self.cpu.saturating_mul(n))
    }
    pub(crate) fn fits_in(self, o: Res) -> bool {
        self.memory <= o.memory && self.cpu <= o.cpu
    }
}

fn amounts(a: &Amounts) -> Res {
    Res::new(a.memory.bytes().max(0) as u64, a.cpu.millis().max(0) as u64)
}

/// Where each default number comes from, for `budget` and docs/validation.md.
#[derive(Clone, Debug, Serialize)]
pub struct NodeModel {
    pub distribution: Distribution,
    pub nodes: u32,
    pub capacity: Res,
    pub kube_reserved: Res,
    pub system_reserved: Res,
    pub eviction_hard: Res,
    /// Capacity minus the kubelet's reservations: what the scheduler hands out.
    pub allocatable: Res,
    /// The distribution's own processes outside pods.
    pub distribution_overhead: Res,
    /// Requests of the distribution's own pods.
    pub system_pods: Res,
    /// What is left for the platform on each node.
    pub available: Res,
}

/// GKE's kube-reserved memory: 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8,
/// 6% of the next 112, 2% above 128 GiB (EKS and AKS reserve comparable amounts).
fn managed_kube_reserved(capacity: Res) -> Res {
    let gib = (1u64 << 30) as f64;
    let mem = capacity.memory as f64;
    let tiers = [
        (4.0, 0.25),
        (4.0, 0.20),
        (8.0, 0.10),
        (112.0, 0.06),
        (f64::MAX, 0.02),
    ];
    let (mut left, mut reserved) = (mem, 0.0);
    for (size, rate) in tiers {
        let part = left.min(size * gib);
        reserved += part * rate;
        left -= part;
        if left <= 0.0 {
            break;
        }
    }
    // CPU: 6% of the first core, 1% of the second, 0.5% of the next two, 0.25% above four.
    let cores = capacity.cpu as f64 / 1000.0;
    let cpu_tiers = [(1.0, 0.06), (1.0, 0.01), (2.0, 0.005), (f64::MAX, 0.0025)];
    let (mut left, mut cpu) = (cores, 0.0);
    for (size, rate) in cpu_tiers {
        let part = left.min(size);
        cpu += part * rate;
        left -= part;
        if left <= 0.0 {
            break;
        }
    }
    Res::new(reserved as u64, (cpu * 1000.0).ceil() as u64)
}

/// The defaults per distribution (documented in docs/validation.md).
pub(crate) struct Defaults {
    pub kube_reserved: Res,
    pub system_reserved: Res,
    pub distribution_overhead: Res,
    pub system_pods: Res,
}

pub fn defaults(distribution: Distribution, capacity: Res) -> Defaults {
    match distribution {
        // k3s reserves nothing, but its server process (with containerd) uses ~0.5 GB idle and
        // up to ~1.6 GB under load; coredns and metrics-server request 70Mi/100m each.
        Distribution::K3s => Defaults {
            kube_reserved: Res::default(),
            system_reserved: Res::default(),
            distribution_overhead: Res::new(1536 * MIB, 500),
            system_pods: Res::new(140 * MIB, 200),
        },
        // kind runs the control plane on the node: static pods request CPU and etcd 100Mi;
        // the API server, kubelet and containerd use ~750 MiB outside any request.
        Distribution::Kind => Defaults {
            kube_reserved: Res::default(),
            system_reserved: Res::default(),
            distribution_overhead: Res::new(768 * MIB, 300),
            system_pods: Res::new(290 * MIB, 950),
        },
        // Managed nodes reserve for the kubelet and runtime; node agents (kube-proxy, CNI,
        // log and metrics agents) run as pods.
        Distribution::Managed => Defaults {
            kube_reserved: managed_kube_reserved(capacity),
            system_reserved: Res::default(),
            distribution_overhead: Res::default(),
            system_pods: Res::new(256 * MIB, 200),
        },
    }
}

impl NodeModel {
    pub(crate) fn from_cluster(c: &Cluster) -> NodeModel {
        let capacity = Res::new(
            c.node_memory.bytes().max(0) as u64,
            c.node_cpu.millis().max(0) as u64,
        );
        let d = defaults(c.distribution, capacity);
        let kube_reserved = c
            .kube_reserved
            .as_ref()
            .map(amounts)
            .unwrap_or(d.kube_reserved);
        let system_reserved = c
            .system_reserved
            .as_ref()
            .map(amounts)
            .unwrap_or(d.system_reserved);
        let eviction_hard = Res::new(
            c.eviction_hard_memory
                .as_ref()
                .map(|m| m.bytes().max(0) as u64)
                .unwrap_or(100 * MIB),
            0,
        );
        let allocatable = capacity
            .minus(kube_reserved)
            .minus(system_reserved)
            .minus(eviction_hard);
        let distribution_overhead = c
            .distribution_overhead
            .as_ref()
            .map(amounts)
            .unwrap_or(d.distribution_overhead);
        let system_pods = c.system_pods.as_ref().map(amounts).unwrap_or(d.system_pods);
        NodeModel {
            distribution: c.distribution,
            nodes: c.nodes,
            capacity,
            kube_reserved,
            system_reserved,
            eviction_hard,
            allocatable,
            distribution_overhead,
            system_pods,
            available: allocatable.minus(distribution_overhead).minus(system_pods),
        }
    }

    /// What the whole cluster has for the platform.
    pub(crate) fn total_available(&self) -> Res {
        self.available.scale(u64::from(self.nodes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gke_reservation_for_a_64_gib_node() {
        let r = managed_kube_reserved(Res::new(64 << 30, 16000));
        // 1 + 0.8 + 0.8 + 0.06 × 48 = 5.48 GiB
        assert_eq!(
            (r.memory as f64 / (1u64 << 30) as f64 * 100.0).round(),
            548.0
        );
        assert_eq!(r.cpu, 110);
    }
}
