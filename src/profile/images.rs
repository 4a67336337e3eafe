//! What amctl reads from pinned image references: the Aerospike server's edition and version,
//! which decide its config syntax and limits.

use serde::Serialize;

/// A server's version as its image tag gives it: `17.6` of `postgres:17.6`, `2.1.1` of
/// `flink:2.1.1-scala_2.12-java17`, `8.0.0.10` of `aerospike/aerospike-server:8.0.0.10_1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version(pub Vec<u32>);

impl Version {
    /// The version in an image reference's tag; `None` for an untagged or non-numeric tag
    /// (`latest`), which amctl cannot reason about.
    pub fn of_image(image: &str) -> Option<Version> {
        let image = image.split('@').next().unwrap_or(image);
        let (_, tag) = image.rsplit_once(':').filter(|(_, t)| !t.contains('/'))?;
        let numeric = tag.split(['_', '-']).next().unwrap_or(tag);
        let parts: Option<Vec<u32>> = numeric.split('.').map(|p| p.parse().ok()).collect();
        parts.filter(|p| !p.is_empty()).map(Version)
    }

    pub fn major(&self) -> u32 {
        self.0.first().copied().unwrap_or(0)
    }

    pub fn minor(&self) -> u32 {
        self.0.get(1).copied().unwrap_or(0)
    }

    /// `major.minor`.
    pub fn series(&self) -> (u32, u32) {
        (self.major(), self.minor())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// `17.6` and `17.6.0` are the same version.
impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let n = self.0.len().max(other.0.len());
        let pad = |v: &[u32]| {
            let mut v = v.to_vec();
            v.resize(n, 0);
            v
        };
        pad(&self.0).cmp(&pad(&other.0))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Edition {
    Community,
    Enterprise,
}

/// The server edition and version, read from the image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    pub edition: Edition,
    /// e.g. [8, 0, 0, 10] for `8.0.0.10_1`.
    pub version: Vec<u32>,
}

impl Server {
    pub(crate) fn from_image(image: &str) -> Result<Server, String> {
        let (repo, tag) = image
            .rsplit_once(':')
            .filter(|(r, _)| !r.is_empty())
            .ok_or_else(|| format!("`{image}` has no tag; pin a server version, e.g. `aerospike/aerospike-server:8.0.0.10_1`"))?;
        let repo_name = repo.rsplit('/').next().unwrap_or(repo);
        let edition = match repo_name {
            "aerospike-server" => Edition::Community,
            "aerospike-server-enterprise" | "aerospike-server-federal" => Edition::Enterprise,
            other => {
                return Err(format!(
                    "`{other}` is not an Aerospike server image; use aerospike/aerospike-server (Community) or aerospike/aerospike-server-enterprise"
                ));
            }
        };
        // Tags look like 8.0.0.10, 8.0.0.10_1 (rebuild) or 8.0.0.10-jammy.
        let numeric = tag.split(['_', '-']).next().unwrap_or(tag);
        let version: Option<Vec<u32>> = numeric.split('.').map(|p| p.parse().ok()).collect();
        match version {
            Some(v) if v.len() >= 2 => Ok(Server {
                edition,
                version: v,
            }),
            _ => Err(format!(
                "image tag `{tag}` is not a server version; pin one such as `8.0.0.10_1` (amctl reads the config syntax from it)"
            )),
        }
    }

    pub(crate) fn at_least(&self, want: &[u32]) -> bool {
        let mut v = self.version.clone();
        v.resize(want.len().max(v.len()), 0);
        v.as_slice()[..want.len()] >= *want
    }

    /// Maximum namespaces the edition allows.
    pub(crate) fn max_namespaces(&self) -> usize {
        match self.edition {
            Edition::Community => 2,
            Edition::Enterprise => 32,
        }
    }

    /// Smallest `data-size` the server accepts (as/src/base/cfg.c, per version).
    pub(crate) fn min_data_size(&self) -> u64 {
        const MIB: u64 = 1 << 20;
        if self.at_least(&[8, 1]) {
            512 * MIB
        } else if self.at_least(&[7, 2, 0, 4])
            || (self.at_least(&[7, 1, 0, 10]) && !self.at_least(&[7, 2]))
        {
            256 * MIB
        } else if self.at_least(&[7, 2]) {
            // 7.2.0.0 – 7.2.0.3 kept the 7.1.0.0 minimum.
            128 * MIB
        } else if self.at_least(&[7, 1]) {
            128 * MIB
        } else {
            1024 * MIB
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_image_tags() {
        let v = |i: &str| Version::of_image(i).map(|v| v.to_string());
        assert_eq!(v("postgres:17.6").as_deref(), Some("17.6"));
        assert_eq!(v("flink:2.1.1-scala_2.12-java17").as_deref(), Some("2.1.1"));
        assert_eq!(
            v("aerospike/aerospike-server:8.0.0.10_1").as_deref(),
            Some("8.0.0.10")
        );
        assert_eq!(
            v("registry:5000/apache/kafka:4.1.1").as_deref(),
            Some("4.1.1")
        );
        assert_eq!(v("postgres:18.1@sha256:abc").as_deref(), Some("18.1"));
        assert_eq!(v("registry:5000/postgres"), None);
        assert_eq!(v("postgres:latest"), None);
        assert_eq!(v("postgres"), None);
        let of = |i: &str| Version::of_image(i).unwrap();
        assert!(of("p:17.6") == of("p:17.6.0").max(of("p:17.6")));
        assert!(of("p:17.10") > of("p:17.9"));
        assert!(of("p:18.0") > of("p:17.10"));
    }

    #[test]
    fn reads_edition_and_version_from_the_image() {
        let s = Server::from_image("aerospike/aerospike-server:8.0.0.10_1").unwrap();
        assert_eq!(s.edition, Edition::Community);
        assert_eq!(s.version, vec![8, 0, 0, 10]);
        let e = Server::from_image("aerospike/aerospike-server-enterprise:7.2.0.4").unwrap();
        assert_eq!(e.edition, Edition::Enterprise);
        assert!(Server::from_image("aerospike/aerospike-server:latest").is_err());
        assert!(Server::from_image("aerospike/aerospike-server").is_err());
        assert!(Server::from_image("redis:7.2").is_err());
    }

    #[test]
    fn minimum_data_size_follows_the_server_version() {
        let min = |tag: &str| {
            Server::from_image(&format!("aerospike/aerospike-server:{tag}"))
                .unwrap()
                .min_data_size()
                >> 20
        };
        assert_eq!(min("7.0.0.5"), 1024);
        assert_eq!(min("7.1.0.9"), 128);
        assert_eq!(min("7.1.0.10"), 256);
        assert_eq!(min("7.2.0.4"), 256);
        assert_eq!(min("8.0.0.10_1"), 256);
        assert_eq!(min("8.1.0.0"), 512);
    }
}
