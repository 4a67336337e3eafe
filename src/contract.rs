//! Start-up contracts: what a server needs from its pod before it serves, beyond a config it
//! accepts. Each component states its contract from the image's and the server's own sources
//! (its module cites them); `validate` checks every contract against the rendered pod, so a
//! render that would crash-loop on the cluster is refused before it is applied.

/// The contract of one container of one workload.
#[derive(Clone, Debug)]
pub struct Contract {
    /// The workload (StatefulSet or Deployment) by name.
    pub workload: String,
    /// The container the server runs in.
    pub container: String,
    /// The UID the image's installation belongs to (the pod must run as it).
    pub user: i64,
    /// Files the server (or its start script) reads at start, each from a rendered ConfigMap.
    pub config: Vec<String>,
    /// Directories that must exist before the server starts (the start step creates them, so
    /// each must lie on a writable volume).
    pub directories: Vec<Path>,
    /// Paths the server writes, with the most each may hold.
    pub writes: Vec<Path>,
    /// Open files the server needs: its soft limit is raised to this at start, so the
    /// runtime's hard limit must allow it.
    pub open_files: Option<OpenFilesNeed>,
    /// The longest the server may take, from container start, until its probed port answers:
    /// the startup probe (or, without one, the liveness probe) must wait at least this long.
    pub startup_seconds: u64,
    /// The profile keys a violation points at (`|`-separated, as findings take them).
    pub key: String,
}

/// A path the server needs, and why.
#[derive(Clone, Debug)]
pub struct Path {
    pub path: String,
    /// The most the server writes there (0: a directory that must merely exist).
    pub bytes: u64,
    /// What the server keeps there, for messages.
    pub what: String,
    /// The profile key that moves or sizes it (`|`-separated).
    pub key: String,
}

impl Path {
    pub fn new(
        path: impl Into<String>,
        bytes: u64,
        what: impl Into<String>,
        key: impl Into<String>,
    ) -> Path {
        Path {
            path: path.into(),
            bytes,
            what: what.into(),
            key: key.into(),
        }
    }
}

/// How many open files a server needs, and whether it stops without them.
#[derive(Clone, Debug)]
pub struct OpenFilesNeed {
    pub count: u64,
    /// The server exits below `count` (Aerospike); otherwise it degrades (a broker that runs
    /// out of descriptors under load).
    pub fatal: bool,
    /// Where `count` comes from, for messages.
    pub why: String,
    /// The profile key that sets `count`, if one does.
    pub key: String,
}

/// Whether `path` lies at or below the directory `dir` (both absolute, `/`-separated).
pub(crate) fn is_under(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    dir.is_empty() || path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::is_under;

    #[test]
    fn paths_under_directories() {
        assert!(is_under("/opt/aerospike/work/smd", "/opt/aerospike/work"));
        assert!(is_under("/opt/aerospike/work", "/opt/aerospike/work/"));
        assert!(!is_under("/opt/aerospike/workdir", "/opt/aerospike/work"));
        assert!(is_under("/anything", "/"));
    }
}
