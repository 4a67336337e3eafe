//! Flink's memory model, computed exactly as Flink does before it starts a process
//! (TaskExecutorFlinkMemoryUtils, JobManagerFlinkMemoryUtils, ProcessMemoryUtils).
//!
//! Two details make the numbers exact to the byte: fractions are `Float` options, so `0.1` is
//! really `0.10000000149011612`; and `MemorySize.multiply` takes the double's decimal form
//! (`BigDecimal.valueOf`) and truncates the product to whole bytes.

use super::MIB;
use serde::Serialize;
use std::collections::BTreeMap;

pub(crate) const DEFAULT_METASPACE: u64 = 256 * MIB;
pub(crate) const OVERHEAD_FRACTION: f64 = 0.1;
pub(crate) const OVERHEAD_MIN: u64 = 192 * MIB;
pub(crate) const OVERHEAD_MAX: u64 = 1024 * MIB;
pub(crate) const MANAGED_FRACTION: f64 = 0.4;
pub(crate) const NETWORK_FRACTION: f64 = 0.1;
pub(crate) const NETWORK_MIN: u64 = 64 * MIB;
/// Unbounded since Flink 1.17.
pub(crate) const NETWORK_MAX: u64 = i64::MAX as u64;
pub(crate) const FRAMEWORK_HEAP: u64 = 128 * MIB;
pub(crate) const FRAMEWORK_OFF_HEAP: u64 = 128 * MIB;
pub(crate) const JM_OFF_HEAP: u64 = 128 * MIB;

/// `MemorySize.multiply(fraction)` for a fraction read from a `Float` option.
pub(crate) fn multiply(bytes: u64, fraction: f64) -> u64 {
    let as_read = fraction as f32 as f64;
    // Rust prints the shortest decimal that round-trips, as Java's Double.toString does.
    let text = format!("{as_read}");
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    let digits: u128 = format!("{int_part}{frac_part}").parse().unwrap_or(0);
    let scale = 10u128.pow(frac_part.len() as u32);
    let product = u128::from(bytes).saturating_mul(digits) / scale;
    product.min(u128::from(u64::MAX)) as u64
}

/// A fraction of a base, clamped to [min, max] (ProcessMemoryUtils.deriveWithFraction).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RangeFraction {
    pub fraction: f64,
    pub min: u64,
    pub max: u64,
}

impl RangeFraction {
    fn new(what: &str, fraction: f64, min: u64, max: u64) -> Result<RangeFraction, String> {
        if min > max {
            return Err(format!(
                "{what}: min ({}) is greater than max ({}); Flink refuses to start",
                super::mib(min),
                super::mib(max)
            ));
        }
        if !(0.0..1.0).contains(&fraction) {
            return Err(format!(
                "{what}: fraction {fraction} is not in [0, 1); Flink refuses to start"
            ));
        }
        Ok(RangeFraction { fraction, min, max })
    }
    fn derive(&self, base: u64) -> u64 {
        multiply(base, self.fraction).clamp(self.min, self.max)
    }
}

/// Options the profile can set for a TaskManager; `None` is Flink's default.
#[derive(Clone, Debug, Default)]
pub(crate) struct TmOptions {
    pub process_size: u64,
    pub metaspace: Option<u64>,
    pub overhead_fraction: Option<f64>,
    pub overhead_min: Option<u64>,
    pub overhead_max: Option<u64>,
    pub managed_fraction: Option<f64>,
    pub managed_size: Option<u64>,
    pub network_fraction: Option<f64>,
    pub network_min: Option<u64>,
    pub network_max: Option<u64>,
    pub framework_heap: Option<u64>,
    pub framework_off_heap: Option<u64>,
    pub task_off_heap: Option<u64>,
}

/// A TaskManager's memory as Flink derives it, and the JVM flags it starts with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct TmMemory {
    pub framework_heap: u64,
    pub task_heap: u64,
    pub managed: u64,
    pub network: u64,
    pub framework_off_heap: u64,
    pub task_off_heap: u64,
    pub metaspace: u64,
    pub overhead: u64,
    /// -Xmx = -Xms = framework heap + task heap.
    pub jvm_heap: u64,
    /// -XX:MaxDirectMemorySize = framework off-heap + task off-heap + network.
    pub max_direct: u64,
}

impl TmMemory {
    pub(crate) fn to_map(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([
            ("framework_heap".into(), self.framework_heap),
            ("task_heap".into(), self.task_heap),
            ("managed".into(), self.managed),
            ("network".into(), self.network),
            ("framework_off_heap".into(), self.framework_off_heap),
            ("task_off_heap".into(), self.task_off_heap),
            ("metaspace".into(), self.metaspace),
            ("overhead".into(), self.overhead),
            ("jvm_heap".into(), self.jvm_heap),
        ])
    }
}

/// Metaspace, overhead and total Flink memory from the process size (shared by both processes).
fn split_process(
    what: &str,
    process: u64,
    metaspace: u64,
    overhead: RangeFraction,
) -> Result<(u64, u64), String> {
    let o = overhead.derive(process);
    if metaspace + o > process {
        return Err(format!(
            "{what}: JVM metaspace ({}) and JVM overhead ({}) exceed the process size ({}); Flink refuses to start",
            super::mib(metaspace),
            super::mib(o),
            super::mib(process)
        ));
    }
    Ok((o, process - metaspace - o))
}

pub fn taskmanager(opts: &TmOptions) -> Result<TmMemory, String> {
    let what = "taskmanager.memory";
    let metaspace = opts.metaspace.unwrap_or(DEFAULT_METASPACE);
    let overhead = RangeFraction::new(
        "taskmanager.memory.jvm-overhead",
        opts.overhead_fraction.unwrap_or(OVERHEAD_FRACTION),
        opts.overhead_min.unwrap_or(OVERHEAD_MIN),
        opts.overhead_max.unwrap_or(OVERHEAD_MAX),
    )?;
    let (overhead, total_flink) = split_process(what, opts.process_size, metaspace, overhead)?;
    let framework_heap = opts.framework_heap.unwrap_or(FRAMEWORK_HEAP);
    let framework_off_heap = opts.framework_off_heap.unwrap_or(FRAMEWORK_OFF_HEAP);
    let task_off_heap = opts.task_off_heap.unwrap_or(0);
    let managed = match opts.managed_size {
        Some(m) => m,
        None => RangeFraction::new(
            "taskmanager.memory.managed",
            opts.managed_fraction.unwrap_or(MANAGED_FRACTION),
            0,
            u64::MAX,
        )?
        .derive(total_flink),
    };
    let network = RangeFraction::new(
        "taskmanager.memory.network",
        opts.network_fraction.unwrap_or(NETWORK_FRACTION),
        opts.network_min.unwrap_or(NETWORK_MIN),
        opts.network_max.unwrap_or(NETWORK_MAX),
    )?
    .derive(total_flink);
    let others = framework_heap + framework_off_heap + task_off_heap + managed + network;
    if others > total_flink {
        return Err(format!(
            "framework heap ({}) + framework off-heap ({}) + task off-heap ({}) + managed ({}) + network ({}) = {} exceed the total Flink memory of {} (process {} − metaspace {} − overhead {}): Flink refuses to start (IllegalConfigurationException)",
            super::mib(framework_heap),
            super::mib(framework_off_heap),
            super::mib(task_off_heap),
            super::mib(managed),
            super::mib(network),
            super::mib(others),
            super::mib(total_flink),
            super::mib(opts.process_size),
            super::mib(metaspace),
            super::mib(overhead),
        ));
    }
    let task_heap = total_flink - others;
    Ok(TmMemory {
        framework_heap,
        task_heap,
        managed,
        network,
        framework_off_heap,
        task_off_heap,
        metaspace,
        overhead,
        jvm_heap: framework_heap + task_heap,
        max_direct: framework_off_heap + task_off_heap + network,
    })
}

/// The smallest process size Flink accepts with these options (binary search on `taskmanager`).
pub(crate) fn smallest_taskmanager(opts: &TmOptions) -> Option<u64> {
    smallest_taskmanager_where(opts, |_| true)
}

/// The smallest process size Flink accepts with these options whose split `accept` takes too
/// (`accept` must hold for every larger size once it holds).
pub(crate) fn smallest_taskmanager_where(
    opts: &TmOptions,
    accept: impl Fn(&TmMemory) -> bool,
) -> Option<u64> {
    let ok = |p: u64| {
        taskmanager(&TmOptions {
            process_size: p,
            ..opts.clone()
        })
        .is_ok_and(|m| accept(&m))
    };
    let (mut lo, mut hi) = (0u64, 1u64 << 44);
    if !ok(hi) {
        return None;
    }
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if ok(mid) { hi = mid } else { lo = mid }
    }
    Some(hi)
}

#[derive(Clone, Debug, Default)]
pub(crate) struct JmOptions {
    pub process_size: u64,
    pub metaspace: Option<u64>,
    pub off_heap: Option<u64>,
    pub overhead_fraction: Option<f64>,
    pub overhead_min: Option<u64>,
    pub overhead_max: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct JmMemory {
    pub heap: u64,
    pub off_heap: u64,
    pub metaspace: u64,
    pub overhead: u64,
    /// -Xmx = -Xms = heap.
    pub jvm_heap: u64,
}

impl JmMemory {
    pub(crate) fn to_map(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([
            ("heap".into(), self.heap),
            ("off_heap".into(), self.off_heap),
            ("metaspace".into(), self.metaspace),
            ("overhead".into(), self.overhead),
            ("jvm_heap".into(), self.jvm_heap),
        ])
    }
}

pub fn jobmanager(opts: &JmOptions) -> Result<JmMemory, String> {
    let metaspace = opts.metaspace.unwrap_or(DEFAULT_METASPACE);
    let overhead = RangeFraction::new(
        "jobmanager.memory.jvm-overhead",
        opts.overhead_fraction.unwrap_or(OVERHEAD_FRACTION),
        opts.overhead_min.unwrap_or(OVERHEAD_MIN),
        opts.overhead_max.unwrap_or(OVERHEAD_MAX),
    )?;
    let (overhead, total_flink) =
        split_process("jobmanager.memory", opts.process_size, metaspace, overhead)?;
    let off_heap = opts.off_heap.unwrap_or(JM_OFF_HEAP);
    if off_heap >= total_flink {
        return Err(format!(
            "off-heap memory ({}) leaves no heap in the total Flink memory of {} (process {} − metaspace {} − overhead {}): Flink refuses to start",
            super::mib(off_heap),
            super::mib(total_flink),
            super::mib(opts.process_size),
            super::mib(metaspace),
            super::mib(overhead)
        ));
    }
    let heap = total_flink - off_heap;
    Ok(JmMemory {
        heap,
        off_heap,
        metaspace,
        overhead,
        jvm_heap: heap,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tm(process: u64) -> Result<TmMemory, String> {
        taskmanager(&TmOptions {
            process_size: process,
            ..Default::default()
        })
    }

    // Reference results from Flink 2.3.0's own calculator (domain-facts.md).
    #[test]
    fn flink_rejects_800m_at_defaults() {
        let err = tm(800 * MIB).unwrap_err();
        assert!(err.contains("exceed the total Flink memory"), "{err}");
    }

    #[test]
    fn smallest_accepted_process_size_is_982m() {
        assert!(tm(981 * MIB).is_err());
        assert!(tm(982 * MIB).is_ok());
        assert_eq!(
            smallest_taskmanager(&TmOptions::default()).map(|b| b / MIB),
            Some(981),
            "the boundary lies between 981m and 982m"
        );
    }

    #[test]
    fn small_metaspace_and_managed_fraction_make_800m_work() {
        let m = taskmanager(&TmOptions {
            process_size: 800 * MIB,
            metaspace: Some(128 * MIB),
            managed_fraction: Some(0.1),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(m.jvm_heap / MIB, 240);
        assert_eq!(m.max_direct / MIB, 192);
    }

    #[test]
    fn eight_gigabytes_match_flink_to_the_byte() {
        let m = tm(8 << 30).unwrap();
        assert_eq!(m.jvm_heap, 3_597_035_049);
        assert_eq!(m.max_direct, 880_468_305);
        assert_eq!(m.metaspace, 268_435_456);
        assert_eq!(m.network, 746_250_577);
        assert_eq!(
            (m.managed as f64 / MIB as f64 * 10.0).round() / 10.0,
            2846.7
        );
        assert_eq!(
            m.framework_heap
                + m.task_heap
                + m.managed
                + m.network
                + m.framework_off_heap
                + m.task_off_heap
                + m.metaspace
                + m.overhead,
            8 << 30
        );
    }

    #[test]
    fn jobmanager_model() {
        let m = jobmanager(&JmOptions {
            process_size: 800 * MIB,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(m.jvm_heap / MIB, 224);
        assert!(
            jobmanager(&JmOptions {
                process_size: 576 * MIB,
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            jobmanager(&JmOptions {
                process_size: 577 * MIB,
                ..Default::default()
            })
            .is_ok()
        );
    }

    #[test]
    fn inconsistent_ranges_are_rejected() {
        let err = taskmanager(&TmOptions {
            process_size: 2 << 30,
            network_min: Some(512 * MIB),
            network_max: Some(256 * MIB),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.contains("min"), "{err}");
        assert!(
            taskmanager(&TmOptions {
                process_size: 2 << 30,
                managed_fraction: Some(1.0),
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn multiply_follows_float_options() {
        assert_eq!(multiply(8589934592, 0.1), 858_993_472);
        assert_eq!(multiply(1000, 0.5), 500);
    }
}
