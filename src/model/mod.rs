//! Models of what runs inside the containers and on the nodes: the JVM's memory pools, Flink's
//! memory model, the node's allocatable capacity, and the scheduler's view of each pod.

pub mod flink;
pub mod jvm;
pub mod node;
pub mod placement;
pub mod pods;

pub(crate) const MIB: u64 = 1 << 20;

/// `1536 MiB`, `8.0 GiB`: sizes in messages.
/// A titled table of memory pools, as `explain` prints it.
pub(crate) fn memory_table(title: &str, rows: &std::collections::BTreeMap<String, u64>) -> String {
    use std::fmt::Write as _;
    let mut out = format!("  {title}:\n");
    for (k, v) in rows {
        let _ = writeln!(out, "    {k:<20} {:>12}  ({v} bytes)", mib(*v));
    }
    out
}

/// [`memory_table`] titled "WHAT in `PROFILE` (limit LIMIT, total T)", T the sum of the rows.
pub fn limit_table(
    what: &str,
    profile: &str,
    limit: &dyn std::fmt::Display,
    rows: &std::collections::BTreeMap<String, u64>,
) -> String {
    let total = rows.values().fold(0u64, |a, b| a.saturating_add(*b));
    memory_table(
        &format!(
            "{what} in `{profile}` (limit {limit}, total {})",
            mib(total)
        ),
        rows,
    )
}

/// `a` and `b` are the same profile key, or one is inside the other.
pub(crate) fn related_keys(a: &str, b: &str) -> bool {
    a == b || a.starts_with(&format!("{b}.")) || b.starts_with(&format!("{a}."))
}

pub(crate) fn mib(bytes: u64) -> String {
    crate::units::human_bytes(bytes as i128)
}
