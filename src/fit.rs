//! `amctl fit`: sizes a profile for the nodes a user has. Every size is a function of one memory
//! scale and one CPU scale applied to the base profile, through each component's own model (JVM
//! heap ratios, Kafka's page-cache rule, Flink's process size, PostgreSQL's buffers as shares of
//! its memory, Aerospike's in-memory data inside its container). Validation is the oracle: the
//! largest scales whose render validates clean and whose requests fit the platform share after
//! headroom win.

use crate::components::{self, aerospike, kafka, postgres};
use crate::error::Error;
use crate::kube::RenderOptions;
use crate::model::flink;
use crate::model::jvm::{JvmApp, JvmBreakdown, JvmFlags};
use crate::model::mib;
use crate::model::node::{NodeModel, Res};
use crate::profile::{AsStorageEngine, Distribution, Profile, Resources};
use crate::rules::{Finding, Severity};
use crate::units::{AsSize, Cpu, JvmSize, Memory, PgSize};
use std::collections::BTreeMap;

use crate::model::MIB;
const GIB: u64 = 1 << 30;

/// The largest replica, node or partition count a profile may hold (`profile::check`).
const MAX_COUNT: u32 = crate::profile::check::MAX_COUNT as u32;

/// The most nodes `amctl fit` sizes for. The searches measure requests only; placement (whose
/// pods grow with the nodes) runs on the scales they find. Release build, prod on 64 GiB × 16
/// CPU nodes: see benches/README.md.
pub const MAX_NODES: u32 = 5000;

/// The HPA's ceiling: at most three pods of a service per node (the budget counts the ceiling;
/// more only competes for the same nodes), within what a profile may say.
fn hpa_ceiling(nodes: u32) -> u32 {
    nodes.saturating_mul(3).min(MAX_COUNT)
}

/// The cluster a profile is fitted to.
#[derive(Clone, Debug)]
pub struct Shape {
    pub nodes: u32,
    pub node_memory: Memory,
    pub node_cpu: Cpu,
    pub distribution: Option<Distribution>,
    pub zones: Option<Vec<String>>,
    /// Fraction of the platform share left free, 0.0..0.9.
    pub headroom: f64,
    /// From three nodes on, raise replica counts to the HA ones (`--keep-replicas` clears it).
    pub raise_ha: bool,
}

/// One key fit set: where, what it was, what it is, and why.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Change {
    pub key: String,
    pub old: String,
    pub new: String,
    pub rule: String,
}

#[derive(Debug)]
pub struct Fitted {
    pub profile: Profile,
    pub changes: Vec<Change>,
    /// Warnings validate still gives that are not about sizes (fit cannot change them).
    pub left: Vec<Finding>,
    /// HA counts fit did not raise because the base profile cannot carry them, and why.
    pub kept: Vec<String>,
    /// Memory and CPU the fit may use (the nodes that must hold the platform, after headroom).
    pub target: Res,
    /// What the fitted profile requests (HPA at max).
    pub requests: Res,
    pub memory_scale: f64,
    pub cpu_scale: f64,
}

/// The largest share of a node's platform memory one pod may request.
const POD_SHARE: f64 = 0.6;

/// The smallest memory scale tried: every size is then at its floor.
const SMALLEST_SCALE: f64 = 0.01;

/// Why no size works: the smallest platform does not fit (how much is missing), or the profile
/// has an error no size changes.
fn unfit(v: &Verdict, allowed: &[&str], shape: &Shape, target: Res, p: &Profile) -> Error {
    let short = v.requests.memory.saturating_sub(target.memory);
    let blocking: Vec<&Finding> = v.blocking(allowed).collect();
    let sized_out = blocking.iter().all(|f| is_size_rule(f.rule));
    let list = |fs: &[&Finding]| {
        fs.iter()
            .take(3)
            .map(|f| format!("{} [{} at {}; fix: {}]", f.message, f.rule, f.key, f.fix))
            .collect::<Vec<_>>()
            .join("; ")
    };
    if sized_out || short > 0 {
        let model = NodeModel::from_cluster(&p.cluster);
        let total = model.available.memory * u64::from(shape.nodes);
        // The share the target is cut from (N−1 nodes from three on), before headroom.
        let share = target.memory as f64 / (1.0 - shape.headroom).max(0.01);
        let headroom = 1.0 - v.requests.memory as f64 / share.max(1.0);
        // Only when the headroom is all that is in the way: validate has nothing against it.
        let lower =
            if short > 0 && blocking.is_empty() && headroom > 0.0 && headroom < shape.headroom {
                format!(
                    "; it fits with --headroom {:.0}% or less",
                    (headroom * 100.0).floor()
                )
            } else {
                String::new()
            };
        // For what: the components that take the most at their smallest (fixed parts such as
        // Aerospike's primary index, PostgreSQL's connections, the HPA's ceiling).
        let parts = v
            .by_component
            .iter()
            .take(3)
            .map(|(c, m)| format!("{c} {}", mib(*m)))
            .collect::<Vec<_>>()
            .join(", ");
        Error::Fit(format!(
            "{} node(s) of {} / {} CPU are too small for the smallest working platform: at its smallest sizes it requests {} of memory ({parts}, …), and {} can go to the platform ({}{} after headroom{}){}{}; fit to more or bigger nodes",
            shape.nodes,
            shape.node_memory,
            shape.node_cpu,
            mib(v.requests.memory),
            mib(total),
            if shape.nodes >= 3 {
                "with a node lost, "
            } else {
                ""
            },
            mib(target.memory),
            if short > 0 {
                format!(", {} missing", mib(short))
            } else {
                String::new()
            },
            lower,
            if blocking.is_empty() {
                String::new()
            } else {
                format!("; validate: {}", list(&blocking))
            },
        ))
    } else {
        let other: Vec<&Finding> = blocking
            .into_iter()
            .filter(|f| !is_size_rule(f.rule))
            .collect();
        Error::Fit(format!(
            "the profile does not run on {} node(s) whatever the sizes (fit sets sizes and replica counts, not these): {}; fix the profile, then fit it",
            shape.nodes,
            list(&other)
        ))
    }
}

/// Why fit leaves a warning: it is not about sizes, or no size avoids it.
pub fn why_left(rule: &str) -> &'static str {
    match rule {
        "placement.n-1" => "no size avoids it: on two nodes the platform cannot fit on one",
        "placement.n-1-pinned" => {
            "no size avoids it: a pod whose volume stays on its node (or in a zone of one node), or a set with a pod on every node, waits for a lost node to come back"
        }
        _ => "not a size: the base profile chose it, fit leaves it",
    }
}

/// The warnings fit resolves by choosing sizes; any other warning is the base profile's choice.
const SIZE_RULES: &[&str] = &[
    "kafka.heap-page-cache",
    "budget.",
    "placement",
    "jvm",
    "memory",
];

fn is_size_rule(rule: &str) -> bool {
    SIZE_RULES.iter().any(|p| rule.contains(p))
}

/// Rounds a size up to a step a person would write: the largest power of two MiB at most a 64th
/// of it (so at most ~1.6% is added), at least 16 MiB. Up, so a floor is never cut into; a size
/// already on its step (every shipped profile's) stays as it is.
fn round(bytes: u64) -> u64 {
    let step = (bytes / 64).max(16 * MIB);
    let step = 1u64 << (63 - step.leading_zeros());
    bytes.div_ceil(step).max(1) * step
}

/// Memory rounded by [`round`], as a Kubernetes quantity (`Gi` when whole).
fn mem(bytes: u64) -> Memory {
    let b = round(bytes);
    let text = if b.is_multiple_of(GIB) {
        format!("{}Gi", b / GIB)
    } else {
        format!("{}Mi", b / MIB)
    };
    Memory::parse(&text).expect("a MiB quantity parses")
}

/// CPU in 10m steps, at least 50m.
fn cpu(millis: u64) -> Cpu {
    let m = (millis / 10 * 10).max(50);
    Cpu::parse(&format!("{m}m")).expect("a millicore quantity parses")
}

fn bytes(m: &Memory) -> u64 {
    m.bytes().max(0) as u64
}

fn millis(c: &Cpu) -> u64 {
    c.millis().max(0) as u64
}

fn scaled(b: u64, s: f64) -> u64 {
    (b as f64 * s) as u64
}

/// A Resources block with memory request `req` and CPU scaled by `sc`, limits never above a
/// node's CPU. The memory limit keeps `lx` of the base's room above the request (1: the base's
/// limit-to-request ratio; 0: limit = request).
fn resources(r: &Resources, req: u64, sc: f64, lx: f64, node: Res, hard: u64) -> Resources {
    let node_cpu = node.cpu;
    // No pod larger than a share of a node (the rest of the platform must still be placed beside
    // it, and on N−1 nodes), unless its own model needs more (`hard`).
    let req = req.min(scaled(node.memory, POD_SHARE)).max(hard);
    let ratio = bytes(&r.limits.memory) as f64 / bytes(&r.requests.memory).max(1) as f64;
    let req = round(req);
    let lim = scaled(req, 1.0 + (ratio.max(1.0) - 1.0) * lx);
    let creq = scaled(millis(&r.requests.cpu), sc).min(scaled(node_cpu, POD_SHARE));
    let clim = scaled(millis(&r.limits.cpu), sc).clamp(creq, node_cpu.max(creq));
    let mut out = r.clone();
    out.requests.memory = mem(req);
    out.limits.memory = mem(lim.max(req));
    out.requests.cpu = cpu(creq);
    out.limits.cpu = cpu(clim.max(creq));
    out
}

/// A JVM container's request: what its flags fix (metaspace, code cache, direct memory, thread
/// stacks, the native margin) stays; heap and the rest of the container scale.
fn jvm_request(r: &Resources, opts: &str, app: JvmApp, sm: f64, floor: u64) -> u64 {
    let limit = bytes(&r.limits.memory);
    let req = bytes(&r.requests.memory);
    let fixed = JvmFlags::parse(opts)
        .map(|f| JvmBreakdown::compute(&f, limit, app).non_heap())
        .unwrap_or(0)
        .min(limit);
    let ratio = req as f64 / limit.max(1) as f64;
    // At least the fixed pools and a 256 MiB heap.
    let new_limit = (fixed + scaled(limit - fixed, sm)).max(fixed + fixed / 8 + 256 * MIB);
    scaled(new_limit, ratio).max(floor)
}

fn set_jvm(opts: &str, xmx: u64, xms: Option<u64>) -> String {
    let mut out: Vec<String> = Vec::new();
    for tok in opts.split_whitespace() {
        if tok.starts_with("-Xmx") {
            out.push(format!("-Xmx{}m", xmx / MIB));
        } else if let Some(v) = tok.strip_prefix("-Xms") {
            let old = JvmSize::parse(v).map(|s| s.bytes).unwrap_or(xmx);
            out.push(format!("-Xms{}m", xms.unwrap_or(old).min(xmx) / MIB));
        } else {
            out.push(tok.to_string());
        }
    }
    if !opts.contains("-Xmx") {
        out.insert(0, format!("-Xmx{}m", xmx / MIB));
    }
    out.join(" ")
}

/// The largest heap (in MiB, at most `want`) whose JVM total stays inside `fill` of `limit`.
fn fit_heap(opts: &str, limit: u64, app: JvmApp, want: u64, fill: f64) -> u64 {
    let Ok(mut f) = JvmFlags::parse(opts) else {
        return want;
    };
    let room = scaled(limit, fill.min(1.0));
    let mut heap = want / MIB * MIB;
    while heap > 64 * MIB {
        f.xmx = Some(heap);
        if JvmBreakdown::compute(&f, limit, app).total() <= room {
            break;
        }
        heap -= (heap / 64).max(MIB) / MIB * MIB;
    }
    heap.max(64 * MIB)
}

/// How full the base's JVM leaves its container (heap and non-heap over the limit).
fn fill(opts: &str, limit: u64, app: JvmApp) -> f64 {
    JvmFlags::parse(opts)
        .map(|f| JvmBreakdown::compute(&f, limit, app).total() as f64 / limit.max(1) as f64)
        .unwrap_or(1.0)
        .clamp(0.5, 0.98)
}

fn xmx(opts: &str) -> Option<u64> {
    JvmFlags::parse(opts).ok()?.xmx
}

fn xms(opts: &str) -> Option<u64> {
    JvmFlags::parse(opts).ok()?.xms
}

/// Kafka's heap: the base profile's share of the container, at most what validate's
/// `kafka.heap-page-cache` leaves the page cache (half, at most 5 GiB), in whole MiB.
fn kafka_heap(base_opts: &str, base_limit: u64, limit: u64) -> u64 {
    let share = xmx(base_opts).map_or(0.5, |h| h as f64 / base_limit.max(1) as f64);
    (scaled(limit, share).min(kafka::page_cache_heap(limit)) / MIB) * MIB
}

/// The smallest working size of each workload: the demo profile's, which the conformance suite
/// starts on the pinned images.
struct Floors;
impl Floors {
    const POSTGRES: u64 = 512 * MIB;
    const AEROSPIKE: u64 = GIB;
    const KAFKA: u64 = 1200 * MIB;
    const CONTROLLER: u64 = 768 * MIB;
    const JOBMANAGER: u64 = 768 * MIB;
    const TASKMANAGER: u64 = GIB;
    const API: u64 = 400 * MIB;
}

/// From three nodes on the platform can survive losing one: the HA counts where the base has
/// fewer. A PostgreSQL standby; three Aerospike nodes with every namespace at RF 2; three
/// brokers (and three controllers beside them) with replication 3 and min ISR 2; two
/// JobManagers where the base configures Flink's HA storage (fit cannot choose one).
/// Raises replica counts to the HA ones, except where the base profile cannot carry them (a
/// standby of an ephemeral primary, brokers that are also the KRaft controllers): those stay, and
/// the returned notes say why and what would allow them.
fn high_availability(p: &mut Profile, rules: &mut BTreeMap<String, String>) -> Vec<String> {
    let why = "the HA count, from three nodes on (--keep-replicas keeps the base's)";
    let mut kept = Vec::new();
    let mut raise = |v: &mut u32, to: u32, key: String| {
        if *v < to {
            *v = to;
            rules.insert(key, why.to_string());
        }
    };
    if postgres::ephemeral(p) {
        if p.postgres.replicas < 2 {
            kept.push(format!(
                "postgres.replicas stays {}: its storage is ephemeral, and a standby cannot follow a primary that restarts empty (persistent postgres.storage allows a standby)",
                p.postgres.replicas
            ));
        }
    } else {
        raise(&mut p.postgres.replicas, 2, "postgres.replicas".into());
    }
    raise(&mut p.aerospike.replicas, 3, "aerospike.replicas".into());
    for ns in &mut p.aerospike.namespaces {
        raise(
            &mut ns.replication_factor,
            2,
            format!("aerospike.namespaces[{}].replication_factor", ns.name),
        );
    }
    let k = &mut p.kafka;
    match &mut k.controllers {
        Some(c) => {
            raise(&mut k.brokers, 3, "kafka.brokers".into());
            raise(&mut c.replicas, 3, "kafka.controllers.replicas".into());
        }
        None if k.brokers < 3 => kept.push(format!(
            "kafka.brokers stays {} (and the replication factors with it): its brokers are the KRaft controllers (combined mode), whose voters cannot change on a running cluster ([kafka.controllers] with replicas = 3 allows HA brokers)",
            k.brokers
        )),
        None => {}
    }
    for (v, to, key) in [
        (
            &mut k.default_replication_factor,
            3,
            "default_replication_factor",
        ),
        (
            &mut k.offsets_topic_replication_factor,
            3,
            "offsets_topic_replication_factor",
        ),
        (
            &mut k.transaction_state_log_replication_factor,
            3,
            "transaction_state_log_replication_factor",
        ),
        (&mut k.min_insync_replicas, 2, "min_insync_replicas"),
        (
            &mut k.transaction_state_log_min_isr,
            2,
            "transaction_state_log_min_isr",
        ),
    ] {
        raise(v, to, format!("kafka.{key}"));
    }
    for t in &mut k.topics {
        if let Some(rf) = &mut t.replication_factor {
            raise(
                rf,
                3,
                format!("kafka.topics[{}].replication_factor", t.name),
            );
        }
    }
    if p.flink.high_availability.is_some() {
        raise(
            &mut p.flink.jobmanager.replicas,
            2,
            "flink.jobmanager.replicas".into(),
        );
    }
    kept
}

/// The replica counts the nodes allow: a workload whose pods must not share a node has at most
/// one pod per node, and a replication factor never exceeds the copies there are.
fn replicas(p: &mut Profile, n: u32, rules: &mut BTreeMap<String, String>) {
    let spread = |what: &str| {
        format!("{what}: at most one pod per node (required anti-affinity), {n} node(s)")
    };
    if p.postgres.replicas > n {
        p.postgres.replicas = n;
        rules.insert("postgres.replicas".into(), spread("primary and standbys"));
    }
    if p.aerospike.replicas > n {
        p.aerospike.replicas = n;
        rules.insert("aerospike.replicas".into(), spread("Aerospike nodes"));
    }
    let asr = p.aerospike.replicas;
    for ns in &mut p.aerospike.namespaces {
        if ns.replication_factor > asr {
            ns.replication_factor = asr;
            rules.insert(
                format!("aerospike.namespaces[{}].replication_factor", ns.name),
                format!("at most the {asr} Aerospike node(s)"),
            );
        }
    }
    let k = &mut p.kafka;
    if k.brokers > n {
        k.brokers = n;
        rules.insert("kafka.brokers".into(), spread("brokers"));
    }
    let b = k.brokers;
    let cap = |v: &mut u32, key: &str, max: u32, rules: &mut BTreeMap<String, String>| {
        if *v > max {
            *v = max;
            rules.insert(key.into(), format!("at most {max} with {b} broker(s)"));
        }
    };
    cap(
        &mut k.default_replication_factor,
        "kafka.default_replication_factor",
        b,
        rules,
    );
    cap(
        &mut k.offsets_topic_replication_factor,
        "kafka.offsets_topic_replication_factor",
        b,
        rules,
    );
    cap(
        &mut k.transaction_state_log_replication_factor,
        "kafka.transaction_state_log_replication_factor",
        b,
        rules,
    );
    let isr = k.default_replication_factor.saturating_sub(1).max(1);
    cap(
        &mut k.min_insync_replicas,
        "kafka.min_insync_replicas",
        isr,
        rules,
    );
    let tisr = k
        .transaction_state_log_replication_factor
        .saturating_sub(1)
        .max(1);
    cap(
        &mut k.transaction_state_log_min_isr,
        "kafka.transaction_state_log_min_isr",
        tisr,
        rules,
    );
    for t in &mut k.topics {
        if t.replication_factor.is_some_and(|rf| rf > b) {
            t.replication_factor = Some(b);
            rules.insert(
                format!("kafka.topics[{}].replication_factor", t.name),
                format!("at most {b} with {b} broker(s)"),
            );
        }
    }
    if let Some(c) = &mut k.controllers {
        let most = if n >= 3 { 3.min(c.replicas) } else { 1 };
        if c.replicas > most {
            c.replicas = most;
            rules.insert(
                "kafka.controllers.replicas".into(),
                format!("an odd quorum of at most one controller per node: {most} on {n} node(s)"),
            );
        }
    }
    // Aerospike's primary index is spread over its nodes: add nodes (up to one per cluster node)
    // until one holds its share within a pod's share of a node.
    let cap = scaled(
        NodeModel::from_cluster(&p.cluster).available.memory,
        POD_SHARE,
    );
    let before = p.aerospike.replicas;
    while p.aerospike.replicas < n && {
        let b = aerospike::memory_breakdown(&p.aerospike);
        b["primary_index"] + b["baseline"] > cap / 2
    } {
        p.aerospike.replicas += 1;
    }
    if p.aerospike.replicas != before {
        rules.insert(
            "aerospike.replicas".into(),
            format!("the primary index (64 B × records × RF ÷ nodes) fits a node's share only over {} nodes", p.aerospike.replicas),
        );
    }
    let most = hpa_ceiling(n);
    let hpa = |a: &mut Option<crate::profile::Autoscaling>,
               key: String,
               rules: &mut BTreeMap<String, String>| {
        if let Some(a) = a {
            if a.min_replicas > n {
                a.min_replicas = n.max(1);
                rules.insert(
                    format!("{key}.min_replicas"),
                    format!("at most one pod per node to start: {n} node(s)"),
                );
            }
            if a.max_replicas > most.max(a.min_replicas) {
                a.max_replicas = most.max(a.min_replicas);
                rules.insert(
                    format!("{key}.max_replicas"),
                    format!("at most three pods per node: {n} node(s)"),
                );
            }
        }
    };
    hpa(&mut p.api.autoscaling, "api.autoscaling".into(), rules);
    for svc in &mut p.api.services {
        hpa(
            &mut svc.autoscaling,
            format!("api.services[{}].autoscaling", svc.name),
            rules,
        );
    }
    if p.api.replicas > n {
        p.api.replicas = n;
        rules.insert(
            "api.replicas".into(),
            format!("at most one pod per node to start: {n} node(s)"),
        );
    }
    if p.flink.jobmanager.replicas > n.max(1) {
        p.flink.jobmanager.replicas = n;
        rules.insert("flink.jobmanager.replicas".into(), spread("JobManagers"));
    }
}

/// The base profile sized by `sm` (memory) and `sc` (CPU), every inner size through its model.
/// The scales a candidate is sized with: memory and CPU against the base, and how much of the
/// base's memory room above each request the limits keep.
#[derive(Clone, Copy, Debug)]
struct Scales {
    memory: f64,
    cpu: f64,
    excess: f64,
}

fn sized(base: &Profile, s: Scales, rules: &mut BTreeMap<String, String>) -> Profile {
    let Scales {
        memory: sm,
        cpu: sc,
        excess: lx,
    } = s;
    let mut p = base.clone();
    let node = NodeModel::from_cluster(&p.cluster).available;
    let n_nodes = p.cluster.nodes;
    // A component whose pod would pass [`POD_SHARE`] of a node stops growing there.
    let cap = scaled(node.memory, POD_SHARE);
    let cpu_cap = scaled(node.cpu, POD_SHARE);
    let pod_cpu = |r: &Resources| (scaled(millis(&r.requests.cpu), sc), cpu_cap);
    let capped = |r: &Resources| sm.min(cap as f64 / bytes(&r.requests.memory).max(1) as f64);
    let squeezed = if lx < 1.0 {
        format!(
            "; memory limit {:.0}% of the base's room above the request, so that limits fit the nodes",
            lx * 100.0
        )
    } else {
        String::new()
    };
    let scale_rule = |what: &str| {
        format!("{what}: the base's size × {sm:.2} (memory scale), CPU × {sc:.2}{squeezed}")
    };

    // PostgreSQL: shared_buffers, effective_cache_size, maintenance_work_mem and the shm keep
    // their share of the container.
    let pg = &mut p.postgres;
    let old = bytes(&pg.resources.limits.memory);
    let pgsize = |b: u64| PgSize::parse(&format!("{}MB", (b / MIB).max(1))).expect("MB parses");
    let share = |b: u64| b as f64 / old.max(1) as f64;
    let (sb, ecs) = (
        share(pg.shared_buffers.bytes),
        share(pg.effective_cache_size.bytes),
    );
    let (mwm, shm) = (
        share(pg.maintenance_work_mem.bytes),
        share(bytes(&pg.shm_size)),
    );
    let s_pg = capped(&pg.resources) / 1.05;
    let req = scaled(bytes(&pg.resources.requests.memory), s_pg).max(Floors::POSTGRES);
    let lim = scaled(
        req,
        old as f64 / bytes(&pg.resources.requests.memory).max(1) as f64,
    );
    // work_mem is per sort or hash, per connection: it scales with the memory it comes from.
    let wm = scaled(pg.work_mem.bytes, lim as f64 / old.max(1) as f64).max(MIB);
    // In MB when whole (as profiles write it), else kB.
    pg.work_mem = if wm.is_multiple_of(MIB) {
        pgsize(wm)
    } else {
        PgSize::parse(&format!("{}kB", wm / 1024)).expect("kB parses")
    };
    rules.insert(
        "postgres.work_mem".into(),
        format!(
            "the base's work_mem × {:.2}, as its container",
            lim as f64 / old.max(1) as f64
        ),
    );
    pg.shared_buffers = pgsize(scaled(lim, sb));
    pg.effective_cache_size = pgsize(scaled(lim, ecs));
    pg.maintenance_work_mem = pgsize(scaled(lim, mwm).max(16 * MIB));
    pg.shm_size = mem(scaled(lim, shm).max(32 * MIB));
    // The container holds the model's worst case (buffers, every connection's work_mem, the
    // autovacuum workers, the backends and /dev/shm), whatever the rounding did.
    let worst: u64 = postgres::memory_breakdown(pg, bytes(&pg.shm_size))
        .values()
        .sum();
    let req = req.max(worst);
    pg.resources = resources(&pg.resources, req, sc, lx, node, worst);
    rules.insert("postgres.resources".into(), scale_rule("PostgreSQL"));
    for (key, what, f) in [
        ("shared_buffers", "", sb),
        ("effective_cache_size", "", ecs),
        ("maintenance_work_mem", "", mwm),
        ("shm_size", " (parallel query's /dev/shm)", shm),
    ] {
        rules.insert(
            format!("postgres.{key}"),
            format!("{:.1}% of the container{what}, as in the base", f * 100.0),
        );
    }

    // Aerospike: in-memory data keeps its share of the container; index stages stay.
    let a = &mut p.aerospike;
    // The primary index (records × RF ÷ nodes, in whole stages) and the baseline are fixed by
    // the data and the node count; in-memory data and the base's slack scale.
    let fixed = |a: &crate::profile::Aerospike| {
        let b = aerospike::memory_breakdown(a);
        b["primary_index"] + b["baseline"]
    };
    let data = aerospike::memory_breakdown(&base.aerospike)["data"];
    let slack = bytes(&base.aerospike.resources.requests.memory)
        .saturating_sub(fixed(&base.aerospike) + data);
    let room = (cap.saturating_sub(fixed(a)) as f64 / (data + slack).max(1) as f64) / 1.05;
    let sm_a = sm.min(room);
    for ns in &mut a.namespaces {
        if ns.storage_engine == AsStorageEngine::Memory
            && let Some(d) = &ns.data_size
        {
            // At least the server's minimum data-size (as/src/base/cfg.c, per version).
            let min = crate::profile::images::Server::from_image(&base.aerospike.image)
                .map_or(512 * MIB, |s| s.min_data_size());
            let b = (scaled(d.bytes, sm_a).max(min) / MIB).max(64);
            ns.data_size = Some(AsSize::parse(&format!("{b}M")).expect("M parses"));
            rules.insert(
                format!("aerospike.namespaces[{}].data_size", ns.name),
                format!("the base's in-memory data × {sm_a:.2}, at least the server's minimum"),
            );
        }
    }
    let need = fixed(a) + aerospike::memory_breakdown(a)["data"] + scaled(slack, sm_a);
    let req = need.max(Floors::AEROSPIKE);
    a.resources = resources(&a.resources, req, sc, lx, node, need);
    rules.insert(
        "aerospike.resources".into(),
        format!("primary index (64 B × records × RF ÷ nodes, whole stages) + 256 MiB baseline, + the base's data and slack × {sm:.2}; CPU × {sc:.2}"),
    );

    // Kafka brokers and controllers: heap at the base's share, at most half the container and
    // 5 GiB; the rest is the page cache.
    let k = &mut p.kafka;
    let old = bytes(&k.resources.limits.memory);
    let app = JvmApp::kafka();
    // Brokers beside dedicated controllers scale out (one per node at most); a combined node
    // is the quorum too, and stays. More pods share the CPU the fewer had.
    let b0 = f64::from(k.brokers);
    let s_k = if k.controllers.is_some() {
        let (r, s_pod) = grow(
            bytes(&k.resources.requests.memory),
            k.brokers,
            sm,
            cap,
            n_nodes,
            pod_cpu(&k.resources),
        );
        if r != k.brokers {
            rules.insert(
                "kafka.brokers".into(),
                format!(
                    "a broker stops at {:.0}% of a node: {r} brokers hold the scaled total",
                    POD_SHARE * 100.0
                ),
            );
            k.brokers = r;
        }
        s_pod.min(capped(&k.resources))
    } else {
        capped(&k.resources)
    };
    let opts = format!(
        "{} {}",
        k.heap_opts,
        k.jvm_opts.as_deref().unwrap_or_default()
    );
    let req = jvm_request(&k.resources, &opts, app, s_k, Floors::KAFKA);
    k.resources = resources(
        &k.resources,
        req,
        sc * b0 / f64::from(k.brokers.max(1)),
        lx,
        node,
        0,
    );
    let new = bytes(&k.resources.limits.memory);
    let h = fit_heap(&opts, new, app, kafka_heap(&k.heap_opts, old, new), 0.98);
    k.heap_opts = format!("-Xmx{}m -Xms{}m", h / MIB, h / MIB);
    rules.insert("kafka.resources".into(), scale_rule("Kafka brokers"));
    rules.insert(
        "kafka.heap_opts".into(),
        "the base's heap share of the container, at most 50% and 5 GiB (the page cache gets the rest)"
            .into(),
    );
    if let Some(c) = &mut k.controllers {
        let old = bytes(&c.resources.limits.memory);
        let opts = format!(
            "{} {}",
            c.heap_opts,
            c.jvm_opts.as_deref().unwrap_or_default()
        );
        let req = jvm_request(
            &c.resources,
            &opts,
            app,
            capped(&c.resources),
            Floors::CONTROLLER,
        );
        c.resources = resources(&c.resources, req, sc, lx, node, 0);
        let new = bytes(&c.resources.limits.memory);
        let h = fit_heap(&opts, new, app, kafka_heap(&c.heap_opts, old, new), 0.98);
        c.heap_opts = format!("-Xmx{}m -Xms{}m", h / MIB, h / MIB);
        rules.insert(
            "kafka.controllers.resources".into(),
            scale_rule("KRaft controllers"),
        );
        rules.insert(
            "kafka.controllers.heap_opts".into(),
            "the base's heap share of the container, at most 50%".into(),
        );
    }

    // Flink: process sizes follow the containers (the memory model splits them); parallelism
    // stays slots × TaskManagers when the base has it so.
    let f = &mut p.flink;
    let jm = &mut f.jobmanager;
    let share = jm.process_size.bytes as f64 / bytes(&jm.resources.limits.memory).max(1) as f64;
    let req =
        scaled(bytes(&jm.resources.requests.memory), capped(&jm.resources)).max(Floors::JOBMANAGER);
    jm.resources = resources(&jm.resources, req, sc, lx, node, 0);
    jm.process_size = jvm(scaled(bytes(&jm.resources.limits.memory), share.min(1.0)));
    rules.insert(
        "flink.jobmanager.resources".into(),
        scale_rule("JobManager"),
    );
    rules.insert(
        "flink.jobmanager.process_size".into(),
        format!(
            "{:.0}% of the container, as in the base",
            share.min(1.0) * 100.0
        ),
    );
    let tm = &mut f.taskmanager;
    let t0 = f64::from(tm.replicas);
    let (r, s_tm) = grow(
        bytes(&tm.resources.requests.memory),
        tm.replicas,
        sm,
        cap,
        // Parallelism follows the TaskManagers: both stay within what a profile may say.
        n_nodes
            .saturating_mul(4)
            .min(MAX_COUNT / tm.task_slots.max(1)),
        pod_cpu(&tm.resources),
    );
    if r != tm.replicas {
        let slots = tm.task_slots;
        // Parallelism stays slots × TaskManagers where the base has it so.
        if f.parallelism_default == tm.replicas * slots {
            f.parallelism_default = r * slots;
            rules.insert(
                "flink.parallelism_default".into(),
                format!("{r} TaskManagers × {slots} slots, as the base has it"),
            );
        }
        rules.insert(
            "flink.taskmanager.replicas".into(),
            format!(
                "a TaskManager stops at {:.0}% of a node: {r} of them hold the scaled total",
                POD_SHARE * 100.0
            ),
        );
        tm.replicas = r;
    }
    let share = tm.process_size.bytes as f64 / bytes(&tm.resources.limits.memory).max(1) as f64;
    let smallest = smallest_taskmanager(tm);
    let floor = (scaled(smallest, 1.0 / share.clamp(0.1, 1.0)) + 64 * MIB).max(Floors::TASKMANAGER);
    let req = scaled(
        bytes(&tm.resources.requests.memory),
        s_tm.min(capped(&tm.resources)),
    )
    .max(floor);
    tm.resources = resources(
        &tm.resources,
        req,
        sc * t0 / f64::from(tm.replicas.max(1)),
        lx,
        node,
        0,
    );
    tm.process_size = jvm(scaled(bytes(&tm.resources.limits.memory), share.min(1.0)));
    rules.insert(
        "flink.taskmanager.resources".into(),
        scale_rule("TaskManagers"),
    );
    rules.insert(
        "flink.taskmanager.process_size".into(),
        format!(
            "{:.0}% of the container, as in the base; Flink's memory model splits it",
            share.min(1.0) * 100.0
        ),
    );

    // Flink's source reads one partition per subtask at most: the topic has at least as many.
    if let Some(src) = p.flink.source_topic.clone() {
        let par = p.flink.parallelism_default;
        let dflt = p.kafka.num_partitions;
        if let Some(t) = p.kafka.topics.iter_mut().find(|t| t.name == src)
            && t.partitions.unwrap_or(dflt) < par
            && par != base.flink.parallelism_default
        {
            t.partitions = Some(par);
            rules.insert(
                format!("kafka.topics[{src}].partitions"),
                format!("at least the source's parallelism {par} (partitions only grow)"),
            );
        }
    }

    // API services: the shared `[api]` pod, then each service that sets its own.
    let pods = ApiPods {
        sm,
        sc,
        lx,
        cap,
        cpu_cap,
        node,
        nodes: n_nodes,
    };
    let api = &mut p.api;
    let shared = pods.size(
        &base.api.resources,
        &base.api.java_opts,
        base.api.tomcat_max_threads,
        base.api.autoscaling.is_some(),
        base.api
            .autoscaling
            .as_ref()
            .map_or(base.api.replicas, |a| a.max_replicas),
    );
    api.resources = shared.resources.clone();
    api.java_opts = shared.java_opts.clone();
    match &mut api.autoscaling {
        Some(a) => a.max_replicas = shared.count,
        None => api.replicas = shared.count,
    }
    shared.explain(
        "api",
        api.autoscaling.is_some(),
        &scale_rule("API services"),
        rules,
    );
    for (svc, b) in api.services.iter_mut().zip(&base.api.services) {
        if b.resources.is_none()
            && b.java_opts.is_none()
            && b.autoscaling.is_none()
            && b.replicas.is_none()
            && b.tomcat_max_threads.is_none()
        {
            continue;
        }
        let hpa = b.autoscaling.as_ref().or(base.api.autoscaling.as_ref());
        let own = pods.size(
            b.resources.as_ref().unwrap_or(&base.api.resources),
            b.java_opts.as_deref().unwrap_or(&base.api.java_opts),
            b.tomcat_max_threads.unwrap_or(base.api.tomcat_max_threads),
            hpa.is_some(),
            hpa.map_or(b.replicas.unwrap_or(base.api.replicas), |a| a.max_replicas),
        );
        let prefix = format!("api.services[{}]", svc.name);
        if b.resources.is_some() || own.resources != shared.resources {
            svc.resources = Some(own.resources.clone());
        }
        if b.java_opts.is_some() || own.java_opts != shared.java_opts {
            svc.java_opts = Some(own.java_opts.clone());
        }
        match (&mut svc.autoscaling, hpa) {
            (Some(a), _) => a.max_replicas = own.count,
            // The shared HPA's ceiling is the service's too: a different one is its own HPA.
            (None, Some(h)) if own.count != shared.count => {
                svc.autoscaling = Some(crate::profile::Autoscaling {
                    max_replicas: own.count,
                    ..h.clone()
                });
            }
            (None, Some(_)) => {}
            (None, None) => {
                if b.replicas.is_some() || own.count != shared.count {
                    svc.replicas = Some(own.count);
                }
            }
        }
        own.explain(
            &prefix,
            svc.autoscaling.is_some(),
            &scale_rule(&format!("API service {}", svc.name)),
            rules,
        );
    }

    // PostgreSQL takes every pool the API services can open (pool × replicas, HPA at its
    // ceiling), and its container the memory those connections can use.
    let demand: u32 = postgres::pools(&p.api)
        .iter()
        .map(|(_, pool, replicas)| pool * replicas)
        .sum();
    let pg = &mut p.postgres;
    let need = demand + pg.superuser_reserved_connections;
    if need > pg.max_connections {
        pg.max_connections = need.div_ceil(10) * 10;
        rules.insert(
            "postgres.max_connections".into(),
            format!(
                "the API services' pools ({demand}, HPA at its ceiling) + {} reserved",
                pg.superuser_reserved_connections
            ),
        );
        let worst = |pg: &crate::profile::Postgres| -> u64 {
            postgres::memory_breakdown(pg, bytes(&pg.shm_size))
                .values()
                .sum()
        };
        // Every connection may use work_mem × hash_mem_multiplier: past a pod's share of a node,
        // work_mem comes down (to 1 MB at least) rather than the pod outgrowing its node.
        let room = cap.max(bytes(&pg.resources.requests.memory));
        let before = pg.work_mem.bytes;
        while worst(pg) > room && pg.work_mem.bytes > MIB {
            let over = worst(pg) - room;
            let per = (f64::from(pg.max_connections) * pg.hash_mem_multiplier).max(1.0);
            let wm = pg
                .work_mem
                .bytes
                .saturating_sub(((over as f64 / per) as u64).max(1024))
                .max(MIB)
                / 1024
                * 1024;
            pg.work_mem = PgSize::parse(&format!("{}kB", wm / 1024)).expect("kB parses");
        }
        if pg.work_mem.bytes < before {
            rules.insert(
                "postgres.work_mem".into(),
                format!(
                    "{} connections × work_mem × hash_mem_multiplier {} stay inside {:.0}% of a node",
                    pg.max_connections,
                    pg.hash_mem_multiplier,
                    POD_SHARE * 100.0
                ),
            );
        }
        let hard = worst(pg);
        if bytes(&pg.resources.requests.memory) < hard {
            pg.resources = resources(&pg.resources, hard, 1.0, 1.0, node, hard);
        }
    }
    p
}

/// What an API pod is sized from: the scales, and the node it must fit.
struct ApiPods {
    sm: f64,
    sc: f64,
    lx: f64,
    cap: u64,
    cpu_cap: u64,
    node: Res,
    nodes: u32,
}

/// One API pod shape sized: its resources and flags, how many there may be, and why.
struct ApiPod {
    resources: Resources,
    java_opts: String,
    count: u32,
    grew: Option<String>,
    heap: Option<String>,
}

impl ApiPods {
    /// Heap keeps its share of the limit, -Xms its share of the request. Past a pod's share of
    /// a node, the count that grows (the HPA's ceiling, three per node, or the replicas, one per
    /// node) takes the rest.
    fn size(&self, r: &Resources, opts: &str, threads: u32, hpa: bool, count: u32) -> ApiPod {
        let app = JvmApp::spring(threads);
        let (l0, base_req) = (bytes(&r.limits.memory), bytes(&r.requests.memory));
        let (most, what) = if hpa {
            (hpa_ceiling(self.nodes), "the HPA may add pods up to")
        } else {
            (self.nodes, "the replicas grow to")
        };
        let cpu = (scaled(millis(&r.requests.cpu), self.sc), self.cpu_cap);
        let (n, s_api) = grow(base_req, count, self.sm, self.cap, most, cpu);
        let grew = (n != count).then(|| {
            format!(
                "a pod stops at {:.0}% of a node: {what} {n}",
                POD_SHARE * 100.0
            )
        });
        let sc = self.sc * f64::from(count.max(1)) / f64::from(n.max(1));
        let capped = s_api.min(self.cap as f64 / base_req.max(1) as f64);
        let req = jvm_request(r, opts, app, capped, Floors::API);
        let resources = resources(r, req, sc, self.lx, self.node, 0);
        let (l1, r1) = (
            bytes(&resources.limits.memory),
            bytes(&resources.requests.memory),
        );
        let (java_opts, heap) = match xmx(opts) {
            Some(h) => {
                // The heap takes what the limit gained or lost; the fixed pools stay.
                let want = (h as i64 + l1 as i64 - l0 as i64).max(64 * MIB as i64) as u64;
                let heap = fit_heap(opts, l1, app, want, fill(opts, l0, app).max(0.9));
                let ms = xms(opts).map(|s| scaled(s, heap as f64 / h.max(1) as f64).min(r1));
                (
                    set_jvm(opts, heap, ms),
                    Some(format!(
                        "heap grows by what the limit grows ({} → {}); metaspace, code cache, direct memory and stacks keep their bounds",
                        mib(l0),
                        mib(l1)
                    )),
                )
            }
            None => (opts.to_string(), None),
        };
        ApiPod {
            resources,
            java_opts,
            count: n,
            grew,
            heap,
        }
    }
}

impl ApiPod {
    fn explain(&self, prefix: &str, hpa: bool, scale: &str, rules: &mut BTreeMap<String, String>) {
        if let Some(g) = &self.grew {
            let key = if hpa {
                format!("{prefix}.autoscaling.max_replicas")
            } else {
                format!("{prefix}.replicas")
            };
            rules.insert(key, g.clone());
        }
        if let Some(h) = &self.heap {
            rules.insert(format!("{prefix}.java_opts"), h.clone());
        }
        rules.insert(format!("{prefix}.resources"), scale.to_string());
    }
}

/// The smallest process size Flink's memory model accepts for this TaskManager that also leaves
/// validate's minimum task heap per slot (`flink.taskmanager.task-heap`).
fn smallest_taskmanager(tm: &crate::profile::TaskManager) -> u64 {
    let slots = u64::from(tm.task_slots.max(1));
    flink::smallest_taskmanager_where(&components::flink::tm_options(tm), |m| {
        m.task_heap / slots >= components::flink::MIN_TASK_HEAP_PER_SLOT
    })
    .unwrap_or(Floors::TASKMANAGER)
}

/// Horizontal growth: a workload whose pod would pass `cap` at scale `sm` gets more pods (at most
/// `most`) that share the same total. Returns the replicas and the scale of each pod.
///
/// CPU counts too: a pod past a third of that share of a node's CPU (`cpu`: its CPU at the scale, and
/// the cap) is as hard to place.
fn grow(base_req: u64, replicas: u32, sm: f64, cap: u64, most: u32, cpu: (u64, u64)) -> (u32, f64) {
    let want = scaled(base_req, sm);
    let over = (want as f64 / cap.max(1) as f64).max(cpu.0 as f64 / (cpu.1 / 3).max(1) as f64);
    if over <= 1.0 || replicas == 0 || most <= replicas {
        return (replicas, sm);
    }
    let total = want as f64 * f64::from(replicas);
    let r = ((f64::from(replicas) * over).ceil() as u32).clamp(replicas, most);
    (r, total / f64::from(r) / base_req.max(1) as f64)
}

fn jvm(b: u64) -> JvmSize {
    JvmSize::parse(&format!("{}m", (b / MIB).max(1))).expect("m parses")
}

/// The largest scale in [`SMALLEST_SCALE`, 1e6] that `fits` (which must be monotone: true below
/// some scale, false above), to within `tolerance`: ×4 steps up, then bisection on the logarithm.
fn largest(tolerance: f64, mut fits: impl FnMut(f64) -> Result<bool, Error>) -> Result<f64, Error> {
    let (mut lo, mut hi) = (SMALLEST_SCALE, 1.0f64);
    while fits(hi)? && hi < 1e6 {
        lo = hi;
        hi *= 4.0;
    }
    while hi / lo > tolerance {
        let mid = (lo * hi).sqrt();
        if fits(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// What validate says of a candidate, and what it requests.
struct Verdict {
    findings: Vec<Finding>,
    requests: Res,
    /// Memory requests per component, largest first.
    by_component: Vec<(&'static str, u64)>,
}

/// A candidate loaded back from its TOML (as a user's file would be) and rendered.
fn rendered(p: &Profile) -> Result<(crate::profile::Loaded, crate::kube::Bundle), Error> {
    let text = toml::to_string(p).map_err(|e| Error::Serialize {
        what: "the fitted profile to TOML",
        detail: e.to_string(),
    })?;
    let loaded = crate::profile::load::load_str("fit", &text)?;
    crate::profile::check::structure(&loaded)?;
    let bundle = crate::render::render(
        &loaded.profile,
        &RenderOptions {
            namespace: crate::kube::DEFAULT_NAMESPACE.to_string(),
        },
    )?;
    Ok((loaded, bundle))
}

/// What a candidate requests and may use at most (every HPA at its maximum), without
/// validating it: all the searches for the largest scales look at. Validation, with its
/// placement and drains (the cost that grows with the cluster), runs only on the scales found.
fn measure(p: &Profile) -> Result<Measured, Error> {
    let (_, bundle) = rendered(p)?;
    let mut m = Measured::default();
    for g in crate::model::pods::groups(&bundle) {
        let n = u64::from(g.worst_replicas());
        m.requests = m.requests.plus(g.request.scale(n));
        m.limits = m.limits.plus(g.limit.scale(n));
        m.largest.memory = m.largest.memory.max(g.request.memory);
        m.largest.cpu = m.largest.cpu.max(g.request.cpu);
    }
    Ok(m)
}

/// A candidate's totals, and its largest pod's request of each resource.
#[derive(Default)]
struct Measured {
    requests: Res,
    limits: Res,
    largest: Res,
}

fn judge(p: &Profile) -> Result<Verdict, Error> {
    let (loaded, bundle) = rendered(p)?;
    let (findings, budget) = crate::validate::validate_with_budget(&loaded, &bundle);
    let mut by_component: Vec<(&'static str, u64)> = Vec::new();
    for l in &budget.lines {
        match by_component.iter_mut().find(|(c, _)| *c == l.component) {
            Some((_, m)) => *m += l.total_request.memory,
            None => by_component.push((l.component, l.total_request.memory)),
        }
    }
    by_component.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    Ok(Verdict {
        findings,
        requests: budget.total_request,
        by_component,
    })
}

impl Verdict {
    fn blocking<'a>(&'a self, allowed: &'a [&str]) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(move |f| match f.severity {
            Severity::Error => true,
            Severity::Warning => !allowed.contains(&f.rule),
            _ => false,
        })
    }
}

/// The largest scales at which `p` fits `target` and validates clean (but for `allowed`), with
/// their verdict; or the verdict at the smallest scales when none does.
fn search(
    p: &Profile,
    shape: &Shape,
    target: Res,
    allowed: &[&str],
) -> Result<Result<(Scales, Verdict), Verdict>, Error> {
    let model = NodeModel::from_cluster(&p.cluster);
    let mut scratch = BTreeMap::new();
    let at = |memory, cpu, excess| Scales {
        memory,
        cpu,
        excess,
    };
    // CPU has no fixed parts and does not depend on memory: the largest scale whose requests fit.
    let mut sc = largest(1.01, |sc| {
        Ok(measure(&sized(p, at(1.0, sc, 1.0), &mut scratch))?
            .requests
            .cpu
            <= target.cpu)
    })?;
    // Memory limits must fit what the nodes have (validate's `budget.memory.limits`). Where the
    // base's limits stand above its requests (the API's burst room), they are brought closer at
    // the scale where they would not: the room `lx` that fits, if any, for a memory scale.
    let all = model.available.memory * u64::from(shape.nodes);
    let mut room = |sm: f64, sc: f64| -> Result<Option<f64>, Error> {
        let m = measure(&sized(p, at(sm, sc, 1.0), &mut scratch))?;
        let (mut requests, mut limits) = (m.requests, m.limits);
        if requests.memory > target.memory {
            return Ok(None);
        }
        if limits.memory <= all {
            return Ok(Some(1.0));
        }
        // The limits' room above the requests is near linear in lx: a few corrections land it.
        let mut lx = 1.0;
        for _ in 0..4 {
            let above = limits.memory.saturating_sub(requests.memory).max(1);
            lx *= (all.saturating_sub(requests.memory) as f64 / above as f64 * 0.995).min(1.0);
            let m = measure(&sized(p, at(sm, sc, lx), &mut scratch))?;
            (requests, limits) = (m.requests, m.limits);
            if requests.memory > target.memory {
                return Ok(None);
            }
            if limits.memory <= all {
                return Ok(Some(lx));
            }
        }
        Ok(None)
    };
    let mut sm = largest(1.005, |sm| Ok(room(sm, sc)?.is_some()))?;
    let lx = room(sm, sc)?.unwrap_or(1.0);
    let good = |v: &Verdict| {
        v.blocking(allowed).next().is_none()
            && v.requests.memory <= target.memory
            && v.requests.cpu <= target.cpu
    };
    // A pod larger than a node's room for the platform is never placed, whatever else holds:
    // on a cluster far larger than the platform the totals allow such pods, and they come down
    // first, measured alone (no placement runs until every pod fits a node).
    // A pod's size may follow the other scale (a TaskManager's memory follows its slots, so
    // its CPU): of the moves that shrink the largest pod, the first of its own resource's
    // scale, the other scale, both.
    let over = |m: &Measured| {
        (
            model.available.memory as f64 / m.largest.memory.max(1) as f64,
            model.available.cpu as f64 / m.largest.cpu.max(1) as f64,
        )
    };
    for _ in 0..100 {
        let m = measure(&sized(p, at(sm, sc, lx), &mut scratch))?;
        let (fm, fc) = over(&m);
        if (fm >= 1.0 && fc >= 1.0) || sm < SMALLEST_SCALE || sc < SMALLEST_SCALE {
            break;
        }
        let f = (fm.min(fc) * 0.99).min(0.95);
        let mut moves = if fm < 1.0 {
            vec![(f, 1.0), (1.0, f)]
        } else {
            vec![(1.0, f), (f, 1.0)]
        };
        moves.push((f, f));
        let mut next = (sm * f, sc * f);
        for (a, b) in moves {
            let (gm, gc) = over(&measure(&sized(p, at(sm * a, sc * b, lx), &mut scratch))?);
            if (fm < 1.0 && gm > fm) || (fc < 1.0 && gc > fc) {
                next = (sm * a, sc * b);
                break;
            }
        }
        (sm, sc) = next;
    }
    // Then down until validate is clean (placement with anti-affinity, N−1, the models). Where
    // only placement fails and one resource is fuller than the other, that one steps down.
    let mut found = None;
    while sm >= SMALLEST_SCALE && sc >= SMALLEST_SCALE {
        let v = judge(&sized(p, at(sm, sc, lx), &mut scratch))?;
        if good(&v) {
            found = Some((sm, sc, v));
            break;
        }
        let um = v.requests.memory as f64 / target.memory.max(1) as f64;
        let uc = v.requests.cpu as f64 / target.cpu.max(1) as f64;
        let placement = v.blocking(allowed).all(|f| f.rule.starts_with("placement"));
        if placement && um > uc + 0.05 {
            sm *= 0.97;
        } else if placement && uc > um + 0.05 {
            sc *= 0.97;
        } else {
            sm *= 0.95;
            sc *= 0.95;
        }
    }
    match found {
        Some((sm, sc, v)) => Ok(Ok((at(sm, sc, lx), v))),
        None => Ok(Err(judge(&sized(
            p,
            at(SMALLEST_SCALE, SMALLEST_SCALE, lx),
            &mut scratch,
        ))?)),
    }
}

/// One step to a leaner platform, for clusters its smallest sizes do not fit: every HPA ceiling
/// halves (not below its minimum) and so do the TaskManagers (not below one; parallelism
/// follows where the base has it as TaskManagers × slots). False when nothing is left to take.
fn leaner(p: &mut Profile, rules: &mut BTreeMap<String, String>) -> bool {
    let why = "fewer pods: the smallest sizes do not fit these nodes with more";
    let mut took = false;
    let mut halve = |a: &mut Option<crate::profile::Autoscaling>, key: String| {
        if let Some(a) = a
            && a.max_replicas > a.min_replicas.max(1)
        {
            a.max_replicas = a.max_replicas.div_ceil(2).max(a.min_replicas.max(1));
            rules.insert(key, why.to_string());
            took = true;
        }
    };
    halve(
        &mut p.api.autoscaling,
        "api.autoscaling.max_replicas".into(),
    );
    for svc in &mut p.api.services {
        halve(
            &mut svc.autoscaling,
            format!("api.services[{}].autoscaling.max_replicas", svc.name),
        );
    }
    let f = &mut p.flink;
    let tm = &mut f.taskmanager;
    if tm.replicas > 1 {
        let r = tm.replicas.div_ceil(2);
        if f.parallelism_default == tm.replicas * tm.task_slots {
            f.parallelism_default = r * tm.task_slots;
            rules.insert(
                "flink.parallelism_default".into(),
                format!(
                    "{r} TaskManagers × {} slots, as the base has it",
                    tm.task_slots
                ),
            );
        }
        tm.replicas = r;
        rules.insert("flink.taskmanager.replicas".into(), why.to_string());
        took = true;
    }
    took
}

/// Fits `base` to `shape`. The warnings the base gives on its own nodes that are not about sizes
/// are the base's choices: fit may leave those (and names them).
pub fn fit(base: &Profile, shape: &Shape) -> Result<Fitted, Error> {
    if shape.nodes == 0 {
        return Err(Error::Fit(
            "--nodes 0: a cluster has at least one node".into(),
        ));
    }
    let allowed: Vec<&str> = judge(base)?
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning && !is_size_rule(f.rule))
        .map(|f| f.rule)
        .collect();
    let mut rules = BTreeMap::new();
    let mut p = base.clone();
    p.extends = None;
    let c = &mut p.cluster;
    c.nodes = shape.nodes;
    c.node_memory = shape.node_memory.clone();
    c.node_cpu = shape.node_cpu.clone();
    if let Some(d) = shape.distribution
        && d != c.distribution
    {
        c.distribution = d;
        // The base's reservations were for its own distribution: the new one's defaults, set
        // where the base set its own (an overlay can change a key, not remove it).
        let capacity = Res::new(bytes(&c.node_memory), millis(&c.node_cpu));
        let dd = crate::model::node::defaults(d, capacity);
        let amounts = |r: Res| crate::profile::Amounts {
            memory: Memory::parse(&format!("{}Mi", r.memory / MIB)).expect("Mi parses"),
            cpu: Cpu::parse(&format!("{}m", r.cpu)).expect("m parses"),
        };
        for (field, value) in [
            (&mut c.kube_reserved, dd.kube_reserved),
            (&mut c.system_reserved, dd.system_reserved),
            (&mut c.distribution_overhead, dd.distribution_overhead),
            (&mut c.system_pods, dd.system_pods),
        ] {
            if field.is_some() {
                *field = Some(amounts(value));
            }
        }
        if c.eviction_hard_memory.is_some() {
            c.eviction_hard_memory = Some(Memory::parse("100Mi").expect("Mi parses"));
        }
        rules.insert(
            "cluster".into(),
            format!("the reservations {} makes by default", d.as_str()),
        );
    }
    if let Some(z) = &shape.zones {
        c.zones = z.clone();
    } else if c.zones.len() > shape.nodes as usize {
        c.zones.truncate(shape.nodes as usize);
        rules.insert(
            "cluster.zones".into(),
            "no more zones than nodes".to_string(),
        );
    }
    for k in ["nodes", "node_memory", "node_cpu", "distribution", "zones"] {
        rules
            .entry(format!("cluster.{k}"))
            .or_insert_with(|| "the cluster fit was asked for".to_string());
    }
    let kept = if shape.raise_ha && shape.nodes >= 3 {
        high_availability(&mut p, &mut rules)
    } else {
        Vec::new()
    };
    replicas(&mut p, shape.nodes, &mut rules);

    let model = NodeModel::from_cluster(&p.cluster);
    if model.available.memory == 0 || model.available.cpu == 0 {
        return Err(Error::Fit(format!(
            "a node of {} / {} CPU has nothing left for the platform after the kubelet's reservations, the eviction threshold and the distribution's own use ({} of memory); use bigger nodes",
            mib(model.capacity.memory),
            model.capacity.cpu as f64 / 1000.0,
            mib(model.capacity.memory.saturating_sub(model.available.memory))
        )));
    }
    // The nodes that must hold the platform: all of them on one or two, N−1 from three on (the
    // platform survives losing a node).
    let holding = if shape.nodes >= 3 {
        shape.nodes - 1
    } else {
        shape.nodes
    };
    let keep = 1.0 - shape.headroom;
    let target = Res::new(
        scaled(model.available.memory * u64::from(holding), keep),
        scaled(model.available.cpu * u64::from(holding), keep),
    );

    let mut allowed = allowed;
    // No size moves a pod whose volume stays on a lost node, or a set with a pod on every node.
    allowed.push("placement.n-1-pinned");
    if shape.nodes == 2 {
        // Two nodes cannot hold the platform on one. Named in the output.
        allowed.push("placement.n-1");
    }
    // Where even the smallest sizes do not fit, fewer pods may: the HPA's ceilings and the
    // TaskManagers come down (never below what the base starts with or one) before fit refuses.
    let (scales, v_ok) = loop {
        match search(&p, shape, target, &allowed)? {
            Ok(found) => break found,
            Err(v) => {
                if !leaner(&mut p, &mut rules) {
                    return Err(unfit(&v, &allowed, shape, target, &p));
                }
            }
        }
    };
    let (sm, sc) = (scales.memory, scales.cpu);
    let profile = sized(&p, scales, &mut rules);
    let left = v_ok
        .findings
        .into_iter()
        .filter(|f| f.severity == Severity::Warning)
        .collect();
    let changes = changes(base, &profile, &rules)?;
    Ok(Fitted {
        profile,
        changes,
        left,
        kept,
        target,
        requests: v_ok.requests,
        memory_scale: sm,
        cpu_scale: sc,
    })
}

fn tree(p: &Profile) -> Result<toml::Value, Error> {
    toml::Value::try_from(p).map_err(|e| Error::Serialize {
        what: "a profile to TOML",
        detail: e.to_string(),
    })
}

fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The keys that differ between two profile trees, as `(key path, old, new)`; lists of tables
/// with a `name` are compared item by item, as `extends` merges them.
fn leaves(
    path: &str,
    old: Option<&toml::Value>,
    new: &toml::Value,
    out: &mut Vec<(String, String, String)>,
) {
    use toml::Value as V;
    match (old, new) {
        (Some(V::Table(a)), V::Table(b)) => {
            for (k, v) in b {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(&p, a.get(k), v, out);
            }
        }
        (Some(V::Array(a)), V::Array(b)) if named(b) && named(a) => {
            for item in b {
                let name = item.get("name").and_then(V::as_str).unwrap_or_default();
                let was = a
                    .iter()
                    .find(|i| i.get("name").and_then(V::as_str) == Some(name));
                leaves(&format!("{path}[{name}]"), was, item, out);
            }
        }
        (Some(a), b) if a == b => {}
        (a, b) => out.push((path.to_string(), a.map_or("-".into(), show), show(b))),
    }
}

fn named(items: &[toml::Value]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|i| i.get("name").is_some_and(toml::Value::is_str))
}

fn changes(
    base: &Profile,
    new: &Profile,
    rules: &BTreeMap<String, String>,
) -> Result<Vec<Change>, Error> {
    let (a, b) = (tree(base)?, tree(new)?);
    let mut out = Vec::new();
    leaves("", Some(&a), &b, &mut out);
    Ok(out
        .into_iter()
        .filter(|(k, _, _)| k != "extends")
        .map(|(key, old, new)| {
            // The rule of the longest key fit recorded that contains this one.
            let rule = rules
                .iter()
                .filter(|(r, _)| key == **r || key.starts_with(&format!("{r}.")))
                .max_by_key(|(r, _)| r.len())
                .map_or_else(
                    || "follows from the keys above".to_string(),
                    |(_, v)| v.clone(),
                );
            Change {
                key,
                old,
                new,
                rule,
            }
        })
        .collect())
}

/// The overlay: `extends` and only the keys that differ from the base, as TOML text.
pub fn overlay(base: &Profile, fitted: &Profile, extends: &str) -> Result<String, Error> {
    let (a, b) = (tree(base)?, tree(fitted)?);
    let mut table = toml::Table::new();
    table.insert("extends".into(), toml::Value::String(extends.to_string()));
    if let (toml::Value::Table(a), toml::Value::Table(b)) = (&a, &b) {
        for (k, v) in b {
            if k == "extends" {
                continue;
            }
            if let Some(d) = delta(a.get(k), v) {
                table.insert(k.clone(), d);
            }
        }
    }
    toml::to_string(&table).map_err(|e| Error::Serialize {
        what: "the fitted profile to TOML",
        detail: e.to_string(),
    })
}

fn delta(old: Option<&toml::Value>, new: &toml::Value) -> Option<toml::Value> {
    use toml::Value as V;
    match (old, new) {
        (Some(a), b) if a == b => None,
        (Some(V::Table(a)), V::Table(b)) => {
            let t: toml::Table = b
                .iter()
                .filter_map(|(k, v)| delta(a.get(k), v).map(|d| (k.clone(), d)))
                .collect();
            (!t.is_empty()).then_some(V::Table(t))
        }
        (Some(V::Array(a)), V::Array(b)) if named(a) && named(b) && a.len() == b.len() => {
            let items: Vec<V> = b
                .iter()
                .filter_map(|item| {
                    let name = item.get("name")?;
                    let was = a.iter().find(|i| i.get("name") == Some(name));
                    let mut d = match delta(was, item)? {
                        V::Table(t) => t,
                        other => return Some(other),
                    };
                    d.insert("name".into(), name.clone());
                    Some(V::Table(d))
                })
                .collect();
            (!items.is_empty()).then_some(V::Array(items))
        }
        (_, b) => Some(b.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jvm_flags_keep_their_order_and_bounds() {
        assert_eq!(
            set_jvm(
                "-Xmx3g -Xms2g -XX:+UseG1GC -XX:MaxMetaspaceSize=256m",
                6 * GIB,
                Some(4 * GIB)
            ),
            "-Xmx6144m -Xms4096m -XX:+UseG1GC -XX:MaxMetaspaceSize=256m"
        );
        // -Xms never above -Xmx.
        assert_eq!(
            set_jvm("-Xmx1g -Xms1g", 512 * MIB, None),
            "-Xmx512m -Xms512m"
        );
    }

    #[test]
    fn kafka_heap_follows_the_page_cache_rule() {
        // prod's 8g of 16Gi is above half: half it is, capped at 5 GiB.
        assert_eq!(kafka_heap("-Xmx8g", 16 * GIB, 16 * GIB), 5 * GIB);
        assert_eq!(kafka_heap("-Xmx8g", 16 * GIB, 4 * GIB), 2 * GIB);
        // demo's 800m of 1200Mi: at most half of the new container.
        assert_eq!(kafka_heap("-Xmx800m", 1200 * MIB, 2 * GIB), GIB);
    }
}
