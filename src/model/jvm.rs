//! A JVM's memory inside a container: heap plus everything that is not heap.
//!
//! Modelled on the Paketo buildpacks' memory calculator (paketo-buildpacks/libjvm): the process
//! needs heap + metaspace + reserved code cache + thread stacks + direct memory, and we add a
//! native margin for what none of the flags bound (GC structures, symbol tables, malloc arenas):
//! 16 MiB + 2% of the heap. A pool the flags leave unbounded gets the documented estimate of the
//! application ([`JvmApp`]).

use super::MIB;
use crate::units::JvmSize;
use serde::Serialize;
use std::collections::BTreeMap;

/// Memory-relevant JVM flags; the last occurrence of a flag wins, as in the JVM.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct JvmFlags {
    pub xmx: Option<u64>,
    pub xms: Option<u64>,
    pub xss: Option<u64>,
    pub max_ram_percentage: Option<f64>,
    pub max_metaspace: Option<u64>,
    pub reserved_code_cache: Option<u64>,
    pub max_direct: Option<u64>,
}

impl JvmFlags {
    pub fn parse(opts: &str) -> Result<JvmFlags, String> {
        let mut f = JvmFlags::default();
        let size = |flag: &str, v: &str| {
            JvmSize::parse(v)
                .map(|s| s.bytes)
                .map_err(|e| format!("`{flag}`: {e}"))
        };
        for tok in opts.split_whitespace() {
            if let Some(v) = tok.strip_prefix("-Xmx") {
                f.xmx = Some(size(tok, v)?);
            } else if let Some(v) = tok.strip_prefix("-Xms") {
                f.xms = Some(size(tok, v)?);
            } else if let Some(v) = tok.strip_prefix("-Xss") {
                f.xss = Some(size(tok, v)?);
            } else if let Some(v) = tok.strip_prefix("-XX:MaxRAMPercentage=") {
                let p: f64 = v
                    .parse()
                    .map_err(|_| format!("`{tok}`: expected a percentage such as 75.0"))?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(format!("`{tok}`: a percentage is between 0 and 100"));
                }
                f.max_ram_percentage = Some(p);
            } else if let Some(v) = tok.strip_prefix("-XX:MaxMetaspaceSize=") {
                f.max_metaspace = Some(size(tok, v)?);
            } else if let Some(v) = tok.strip_prefix("-XX:ReservedCodeCacheSize=") {
                f.reserved_code_cache = Some(size(tok, v)?);
            } else if let Some(v) = tok.strip_prefix("-XX:MaxDirectMemorySize=") {
                f.max_direct = Some(size(tok, v)?);
            } else if let Some(v) = tok.strip_prefix("-XX:ThreadStackSize=") {
                // In KiB, as the JVM reads it.
                let k: u64 = v
                    .parse()
                    .map_err(|_| format!("`{tok}`: expected a size in KiB"))?;
                f.xss = Some(k * 1024);
            }
        }
        Ok(f)
    }
}

/// What an application does to the pools its flags leave open.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JvmApp {
    /// Threads alive at peak (request threads + the JVM's and framework's own).
    pub threads: u64,
    /// Metaspace when -XX:MaxMetaspaceSize is unset.
    pub metaspace: u64,
    /// Direct memory when -XX:MaxDirectMemorySize is unset.
    pub direct: u64,
}

/// Threads a Spring Boot service runs besides Tomcat's request threads (GC, JIT, Kafka and
/// Hikari housekeeping, schedulers).
pub(crate) const SPRING_BASE_THREADS: u64 = 30;

impl JvmApp {
    /// A Spring Boot service with `tomcat_max_threads` request threads.
    pub(crate) fn spring(tomcat_max_threads: u32) -> JvmApp {
        JvmApp {
            threads: u64::from(tomcat_max_threads) + SPRING_BASE_THREADS,
            metaspace: 128 * MIB,
            direct: 10 * MIB,
        }
    }
    /// A Kafka broker: network, I/O, replica fetcher, log cleaner and controller threads.
    pub fn kafka() -> JvmApp {
        JvmApp {
            threads: 80,
            metaspace: 96 * MIB,
            direct: 64 * MIB,
        }
    }
}

pub(crate) const DEFAULT_CODE_CACHE: u64 = 240 * MIB;
pub(crate) const DEFAULT_STACK: u64 = MIB;
pub(crate) const DEFAULT_MAX_RAM_PERCENTAGE: f64 = 25.0;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JvmBreakdown {
    pub heap: u64,
    pub metaspace: u64,
    pub code_cache: u64,
    pub thread_stacks: u64,
    pub direct: u64,
    pub native: u64,
}

impl JvmBreakdown {
    pub(crate) fn compute(flags: &JvmFlags, limit: u64, app: JvmApp) -> JvmBreakdown {
        let heap = flags.xmx.unwrap_or_else(|| {
            let pct = flags
                .max_ram_percentage
                .unwrap_or(DEFAULT_MAX_RAM_PERCENTAGE);
            (limit as f64 * pct / 100.0) as u64
        });
        JvmBreakdown {
            heap,
            metaspace: flags.max_metaspace.unwrap_or(app.metaspace),
            code_cache: flags.reserved_code_cache.unwrap_or(DEFAULT_CODE_CACHE),
            thread_stacks: app
                .threads
                .saturating_mul(flags.xss.unwrap_or(DEFAULT_STACK)),
            direct: flags.max_direct.unwrap_or(app.direct),
            native: (16 * MIB).saturating_add(heap / 50),
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.heap.saturating_add(self.non_heap())
    }

    pub(crate) fn non_heap(&self) -> u64 {
        [
            self.code_cache,
            self.thread_stacks,
            self.direct,
            self.native,
        ]
        .iter()
        .fold(self.metaspace, |a, b| a.saturating_add(*b))
    }

    pub(crate) fn to_map(&self) -> BTreeMap<String, u64> {
        BTreeMap::from([
            ("heap".into(), self.heap),
            ("metaspace".into(), self.metaspace),
            ("code_cache".into(), self.code_cache),
            ("thread_stacks".into(), self.thread_stacks),
            ("direct".into(), self.direct),
            ("native".into(), self.native),
        ])
    }

    /// `heap 300 MiB + metaspace 96 MiB + ...`
    pub(crate) fn describe(&self) -> String {
        use super::mib;
        format!(
            "heap {} + metaspace {} + code cache {} + thread stacks {} + direct {} + native {} = {}",
            mib(self.heap),
            mib(self.metaspace),
            mib(self.code_cache),
            mib(self.thread_stacks),
            mib(self.direct),
            mib(self.native),
            mib(self.total())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_flags_that_size_memory() {
        let f = JvmFlags::parse(
            "-Xmx300m -Xms300m -XX:+UseSerialGC -XX:MaxMetaspaceSize=96m -Xss512k -XX:ReservedCodeCacheSize=32m -XX:MaxDirectMemorySize=16m",
        )
        .unwrap();
        assert_eq!(f.xmx, Some(300 * MIB));
        assert_eq!(f.xss, Some(512 * 1024));
        assert_eq!(f.max_direct, Some(16 * MIB));
        assert_eq!(
            JvmFlags::parse("-Xmx1g -Xmx2g").unwrap().xmx,
            Some(2048 * MIB)
        );
        assert!(JvmFlags::parse("-Xmxlots").is_err());
        assert_eq!(
            JvmFlags::parse("-XX:MaxRAMPercentage=75.0")
                .unwrap()
                .max_ram_percentage,
            Some(75.0)
        );
    }

    #[test]
    fn heap_equal_to_the_limit_cannot_fit() {
        // The documented OOMKill: -Xmx4g in a 4Gi container.
        let f = JvmFlags::parse("-Xmx4g -Xms4g").unwrap();
        let b = JvmBreakdown::compute(&f, 4096 * MIB, JvmApp::spring(200));
        assert!(b.total() > 4096 * MIB);
        assert_eq!(b.thread_stacks, 230 * MIB);
    }

    #[test]
    fn max_ram_percentage_sizes_heap_from_the_limit() {
        let f = JvmFlags::parse("-XX:MaxRAMPercentage=50").unwrap();
        let b = JvmBreakdown::compute(&f, 2048 * MIB, JvmApp::spring(20));
        assert_eq!(b.heap, 1024 * MIB);
        let default = JvmBreakdown::compute(&JvmFlags::default(), 2048 * MIB, JvmApp::spring(20));
        assert_eq!(default.heap, 512 * MIB);
    }
}
