//! Models of what runs inside the containers and on the nodes: the JVM's memory pools, Flink's
//! memory model, the node's allocatable capacity, and the scheduler's view of each pod.

pub mod flink;
pub mod jvm;
pub mod node;
pub mod placement;
pub mod pods;

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// `1536 MiB`, `8.0 GiB`: sizes in messages.
pub fn mib(bytes: u64) -> String {
    crate::units::human_bytes(bytes as i128)
}
