//! What amctl reads from pinned image references: the Aerospike server's edition and version,
//! which decide its config syntax and limits.

use serde::Serialize;

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
