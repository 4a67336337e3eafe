//! Start-up contracts: each test restates what a server or its image does at start, from the
//! source at the version the profiles pin (file and line in the test's comment), and runs the
//! rendered scripts against that restatement where no real server can run here (Aerospike,
//! Kafka). PostgreSQL and Flink also run for real in tests/conformance.sh.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn render(profile: &str, sets: &[&str]) -> Vec<Value> {
    let mut args = vec!["render", profile, "-o", "json"];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    let out = crate::common::amctl().args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "render {profile}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list["items"].as_array().unwrap().clone()
}

fn object<'a>(items: &'a [Value], kind: &str, name: &str) -> &'a Value {
    items
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the render"))
}

fn config_file(items: &[Value], map: &str, key: &str) -> String {
    object(items, "ConfigMap", map)["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("ConfigMap {map} has no {key}"))
        .to_string()
}

fn pod_spec<'a>(items: &'a [Value], kind: &str, name: &str) -> &'a Value {
    &object(items, kind, name)["spec"]["template"]["spec"]
}

fn container<'a>(spec: &'a Value, name: &str) -> &'a Value {
    spec["containers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(spec["initContainers"].as_array().into_iter().flatten())
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn env<'a>(c: &'a Value, name: &str) -> Option<&'a str> {
    c["env"].as_array()?.iter().find(|e| e["name"] == name)?["value"].as_str()
}

/// The volume behind the deepest mount holding `path` in container `c` of `spec`.
fn volume_at<'a>(spec: &'a Value, c: &Value, path: &str) -> (&'a Value, String) {
    let m = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            let at = m["mountPath"].as_str().unwrap().trim_end_matches('/');
            path == at || path.starts_with(&format!("{at}/"))
        })
        .max_by_key(|m| m["mountPath"].as_str().unwrap().len())
        .unwrap_or_else(|| panic!("nothing is mounted at {path}"));
    let name = m["name"].as_str().unwrap();
    let v = spec["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or(&Value::Null);
    (v, m["mountPath"].as_str().unwrap().to_string())
}

/// Bytes of a Kubernetes quantity (binary and decimal suffixes).
fn bytes(q: &str) -> u64 {
    let (n, unit) = q
        .find(|c: char| !c.is_ascii_digit())
        .map_or((q, ""), |i| q.split_at(i));
    let n: u64 = n.parse().unwrap();
    n * match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        other => panic!("unit {other}"),
    }
}

struct Sandbox(PathBuf);

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("amctl-startup-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        Sandbox(dir)
    }
    fn path(&self, p: &str) -> PathBuf {
        self.0.join(p.trim_start_matches('/'))
    }
    /// `text` with each absolute path under one of `roots` moved into the sandbox: a root
    /// matches where a path starts and ends (`/opt/flink` in `/opt/flink/conf`, not in
    /// `/opt/flink-s3.jar`).
    fn relocate(&self, text: &str, roots: &[&str]) -> String {
        let path_char = |c: u8| c.is_ascii_alphanumeric() || b"._-/".contains(&c);
        let name_char = |c: u8| c.is_ascii_alphanumeric() || b"._-".contains(&c);
        let bytes = text.as_bytes();
        let mut out = String::new();
        let mut i = 0;
        while i < text.len() {
            let starts = i == 0 || !path_char(bytes[i - 1]);
            let root = roots.iter().find(|r| {
                starts
                    && text[i..].starts_with(**r)
                    && bytes.get(i + r.len()).is_none_or(|c| !name_char(*c))
            });
            match root {
                Some(r) => {
                    out.push_str(&format!("{}{r}", self.0.display()));
                    i += r.len();
                }
                None => {
                    let c = text[i..].chars().next().unwrap();
                    out.push(c);
                    i += c.len_utf8();
                }
            }
        }
        out
    }
    fn write(&self, p: &str, text: &str) -> PathBuf {
        let path = self.path(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
    /// A stub command on the sandbox's PATH.
    fn stub(&self, name: &str, script: &str) {
        let path = self.0.join("bin").join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{script}")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    /// Runs `script` with the shell its first line names (sh unless bash), after `prelude`,
    /// the stubs first on PATH; returns (success, stdout + stderr).
    fn sh(&self, script: &Path, prelude: &str, envs: &[(&str, &str)]) -> (bool, String) {
        let text = std::fs::read_to_string(script).unwrap();
        let shell = if text.lines().next().is_some_and(|l| l.contains("bash")) {
            "bash"
        } else {
            "sh"
        };
        let path = format!(
            "{}:{}",
            self.0.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("set -e\n{prelude}\nexec {shell} \"$0\""))
            .arg(script)
            .env("PATH", path)
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A key's value in aerospike.conf (`work-directory /opt/...`).
fn conf_value(conf: &str, key: &str) -> String {
    conf.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix(key).filter(|r| r.starts_with(' ')))
        .unwrap_or_else(|| panic!("aerospike.conf sets no {key}"))
        .trim()
        .to_string()
}

/// asd 8.0.0.10 before it opens port 3000, restated as a stub that replaces `asd` in the
/// sandbox:
/// - as/src/base/as.c:331-333 calls validate_directory(work-directory),
///   validate_directory(mod-lua user-path) and validate_smd_directory(); validate_directory
///   (as.c:524-536) stat()s the path and cf_crash_nostack()s "... directory '%s' is not set up
///   properly" unless it is a directory; validate_smd_directory (as.c:539-547) checks
///   `<work-directory>/smd` (SMD_DIR_NAME "/smd", as.c:171);
/// - as/src/base/cfg.c:4400-4406: getrlimit(RLIMIT_NOFILE), and proto-fd-max above rlim_cur is
///   cf_crash_nostack "system file descriptors not enough".
fn asd_stub(work: &str, user_path: &str, proto_fd_max: &str) -> String {
    format!(
        "for d in '{work}' '{user_path}' '{work}/smd'; do\n\
         \x20 [ -d \"$d\" ] || {{ echo \"FAILED directory '$d' is not set up properly\"; exit 1; }}\n\
         done\n\
         soft=$(ulimit -S -n)\n\
         if [ \"$soft\" != unlimited ] && [ \"$soft\" -lt {proto_fd_max} ]; then\n\
         \x20 echo \"FAILED $soft system file descriptors not enough, config specified {proto_fd_max}\"; exit 1\n\
         fi\n\
         echo \"asd started: soft open-files limit $soft\"\n"
    )
}

/// Rows 1 and 2 of issue 15: asd exits at start (no smd/ and user-path on the empty work
/// volume), and where containerd 2.x starts containers with a soft open-files limit of 1024.
#[test]
fn aerospike_start_script_prepares_what_asd_checks() {
    for profile in ["demo", "prod"] {
        let items = render(profile, &[]);
        let sts = pod_spec(&items, "StatefulSet", "aerospike");
        let c = container(sts, "aerospike");
        let command: Vec<&str> = c["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            command,
            ["/bin/bash", "/etc/aerospike-config/start.sh"],
            "{profile}: the start script runs first"
        );
        let conf = config_file(&items, "aerospike-config", "aerospike.conf");
        let start = config_file(&items, "aerospike-config", "start.sh");
        let work = conf_value(&conf, "work-directory");
        let user_path = conf_value(&conf, "user-path");
        let proto = conf_value(&conf, "proto-fd-max");
        // The work directory is on a writable volume of the container.
        let (volume, _) = volume_at(sts, c, &work);
        assert!(
            volume.is_null() /* a claim template */ || volume["emptyDir"].is_object(),
            "{profile}: work directory on {volume}"
        );

        let sb = Sandbox::new(&format!("asd-{profile}"));
        let roots = [work.as_str(), "/etc/aerospike-config"];
        let script = sb.write(
            "start.sh",
            &sb.relocate(&start, &roots)
                .replace("exec asd", "exec asd-stub"),
        );
        sb.stub(
            "asd-stub",
            &asd_stub(
                &sb.path(&work).display().to_string(),
                &sb.relocate(&user_path, &roots),
                &proto,
            ),
        );
        // containerd 2.x: soft 1024, hard 524288 (systemd's default); a process may lower its
        // hard limit, so the test can always set it.
        let hard = "h=$(ulimit -H -n); if [ \"$h\" = unlimited ] || [ \"$h\" -gt 524288 ]; then ulimit -H -n 524288; fi; ulimit -S -n 1024";
        let (ok, log) = sb.sh(&script, hard, &[]);
        assert!(ok && log.contains("asd started"), "{profile}: {log}");
        // A hard limit below proto-fd-max: the script says so instead of letting asd crash.
        let (ok, log) = sb.sh(&script, "ulimit -S -n 1024; ulimit -H -n 8192", &[]);
        assert!(
            !ok && log.contains("lower aerospike.proto_fd_max"),
            "{profile}: {log}"
        );
    }
}

/// Row 3: Community Edition cold-starts by reading every device file before port 3000 opens
/// (as/src/base/as.c:376-378, `as_storage_load()`: "This could block for hours"); a liveness
/// probe alone (30 s + 6 × 15 s) kills it mid-scan. The startup probe waits for the scan of
/// the node's files at 100 MiB/s plus two minutes.
#[test]
fn aerospike_startup_probe_waits_for_a_cold_start() {
    let items = render("prod", &[]);
    let c = container(pod_spec(&items, "StatefulSet", "aerospike"), "aerospike");
    let patience = |p: &Value| {
        p["initialDelaySeconds"].as_u64().unwrap_or(0)
            + p["periodSeconds"].as_u64().unwrap() * p["failureThreshold"].as_u64().unwrap()
    };
    let conf = config_file(&items, "aerospike-config", "aerospike.conf");
    let device: u64 = conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("filesize "))
        .map(|s| s.trim().trim_end_matches('G').parse::<u64>().unwrap() << 30)
        .sum();
    assert!(device >= 100 << 30, "prod's device namespace is 100G");
    let scan = 120 + device / (100 << 20);
    assert!(
        patience(&c["livenessProbe"]) < scan,
        "liveness alone would kill it"
    );
    assert_eq!(c["startupProbe"]["tcpSocket"]["port"], "service");
    assert!(
        patience(&c["startupProbe"]) >= scan,
        "startup probe waits {} s for a {} s scan",
        patience(&c["startupProbe"]),
        scan
    );
}

/// `log.dirs` of a rendered server.properties (after start.sh fills in the node id).
fn log_dirs(props: &str) -> Vec<String> {
    props
        .lines()
        .filter_map(|l| l.strip_prefix("log.dirs="))
        .next_back()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect()
}

/// The broker's log loading, restated (apache/kafka 4.1,
/// core/src/main/scala/kafka/log/LogManager.scala `loadLogs`: every directory under a log dir
/// is `UnifiedLog.parseTopicPartitionName(dir)`, and `LocalLog.parseTopicPartitionName` throws
/// for a name that is not `<topic>-<partition>`: `lost+found` stops the broker,
/// strimzi/strimzi-kafka-operator#1307). Topic names are [a-zA-Z0-9._-] (Topic.java).
const KAFKA_STUB: &str = r#"props="$1"
dirs=$(sed -n 's/^log\.dirs=//p' "$props" | tail -n 1 | tr ',' ' ')
for d in $dirs; do
  for entry in "$d"/*; do
    [ -d "$entry" ] || continue
    name=${entry##*/}
    case "$name" in
      *[!a-zA-Z0-9._-]*|*-|-*) echo "FAILED Found directory $entry, '$name' is not in the form of topic-partition"; exit 1 ;;
    esac
    partition=${name##*-}
    case "$partition" in ''|*[!0-9]*) echo "FAILED $name is not topic-partition"; exit 1 ;; esac
  done
done
echo "broker started with log.dirs $dirs"
"#;

/// Row 4: on an ext4 volume the broker exits (`lost+found` at the volume's root, where the
/// render put log.dirs). The start script also moves the logs of a broker rendered by an
/// earlier amctl (at the root) into the new directory, so an upgrade keeps its data.
#[test]
fn kafka_log_dirs_are_a_directory_inside_the_volume() {
    for profile in ["demo", "prod"] {
        let items = render(profile, &[]);
        let spec = pod_spec(&items, "StatefulSet", "kafka");
        let c = container(spec, "kafka");
        let props = config_file(&items, "kafka-config", "server.properties");
        for dir in log_dirs(&props) {
            let (_, mount) = volume_at(spec, c, &dir);
            assert!(
                dir.trim_end_matches('/') != mount.trim_end_matches('/'),
                "{profile}: log.dirs {dir} is the volume's root"
            );
        }

        let start = config_file(&items, "kafka-config", "start.sh");
        let sb = Sandbox::new(&format!("kafka-{profile}"));
        let roots = [
            "/var/lib/kafka/data",
            "/var/run/kafka",
            "/etc/kafka/amctl",
            "/etc/kafka-tls",
        ];
        sb.write(
            "/etc/kafka/amctl/server.properties",
            &sb.relocate(&props, &roots),
        );
        let script = sb.write(
            "start.sh",
            &sb.relocate(&start, &roots)
                .replace("/opt/kafka/bin/kafka-storage.sh", "kafka-storage-stub")
                .replace(
                    "/opt/kafka/bin/kafka-server-start.sh",
                    "kafka-server-start-stub",
                ),
        );
        sb.stub("kafka-storage-stub", "exit 0\n");
        sb.stub("kafka-server-start-stub", KAFKA_STUB);
        std::fs::create_dir_all(sb.path("/etc/kafka-tls")).unwrap();
        std::fs::write(sb.path("/etc/kafka-tls/tls.key"), "k").unwrap();
        std::fs::write(sb.path("/etc/kafka-tls/tls.crt"), "c").unwrap();
        std::fs::create_dir_all(sb.path("/var/run/kafka")).unwrap();
        // An ext4 volume, holding the logs of a broker an earlier amctl started at its root.
        let data = sb.path("/var/lib/kafka/data");
        for d in ["lost+found", "events-0", "__cluster_metadata-0"] {
            std::fs::create_dir_all(data.join(d)).unwrap();
        }
        std::fs::write(data.join("meta.properties"), "node.id=0\n").unwrap();
        std::fs::write(data.join(".kafka_cleanshutdown"), "").unwrap();
        std::fs::write(data.join("events-0/00000000000000000000.log"), "records").unwrap();
        let (ok, log) = sb.sh(&script, "", &[("POD_NAME", "kafka-0"), ("CLUSTER_ID", "x")]);
        assert!(ok && log.contains("broker started"), "{profile}: {log}");
        let logs = sb.path("/var/lib/kafka/data/logs");
        for moved in [
            "meta.properties",
            ".kafka_cleanshutdown",
            "events-0/00000000000000000000.log",
            "__cluster_metadata-0",
        ] {
            assert!(
                logs.join(moved).exists(),
                "{profile}: {moved} moved into logs/: {log}"
            );
        }
        assert!(
            data.join("lost+found").is_dir(),
            "lost+found stays where mkfs put it"
        );
        // A second start moves nothing and starts again.
        let (ok, log) = sb.sh(&script, "", &[("POD_NAME", "kafka-0"), ("CLUSTER_ID", "x")]);
        assert!(ok && !log.contains("moving"), "{profile}: {log}");
    }
}

/// Row 5: GC logs (bin/kafka-server-start.sh: `EXTRA_ARGS=${EXTRA_ARGS-'-name kafkaServer
/// -loggc'}`; bin/kafka-run-class.sh: `-loggc` without KAFKA_GC_LOG_OPTS writes
/// `-Xlog:gc*:file=$LOG_DIR/...:filecount=10,filesize=100M`) and the default log4j2 config
/// (kafka-server-start.sh: KAFKA_LOG4J_OPTS defaults to config/log4j2.yaml, six RollingFile
/// appenders with an hourly TimeBasedTriggeringPolicy and no delete action) fill the logs
/// volume until the pod is evicted.
#[test]
fn kafka_writes_bounded_logs() {
    for profile in ["demo", "prod"] {
        let items = render(profile, &[]);
        let spec = pod_spec(&items, "StatefulSet", "kafka");
        let c = container(spec, "kafka");
        let log_dir = env(c, "LOG_DIR").unwrap();
        let gc = env(c, "KAFKA_GC_LOG_OPTS").expect("KAFKA_GC_LOG_OPTS replaces -loggc's GC log");
        let field = |k: &str| -> u64 {
            let v = gc
                .split([',', ':'])
                .find_map(|p| p.strip_prefix(k))
                .unwrap();
            v.trim_end_matches('M').parse::<u64>().unwrap()
                * if v.ends_with('M') { 1 << 20 } else { 1 }
        };
        assert!(gc.contains(&format!("file={log_dir}/")), "{gc}");
        let gc_bytes = (field("filecount=") + 1) * field("filesize=");
        let (volume, _) = volume_at(spec, c, log_dir);
        let size = bytes(volume["emptyDir"]["sizeLimit"].as_str().unwrap());
        assert!(
            gc_bytes < size,
            "{profile}: GC logs {gc_bytes} on a {size} volume"
        );

        let log4j =
            env(c, "KAFKA_LOG4J_OPTS").expect("KAFKA_LOG4J_OPTS replaces config/log4j2.yaml");
        let file = log4j
            .strip_prefix("-Dlog4j2.configurationFile=/etc/kafka/amctl/")
            .unwrap();
        let config = config_file(&items, "kafka-config", file);
        assert!(config.contains("Console:"), "{config}");
        assert!(
            !config.contains("RollingFile") && !config.contains("fileName"),
            "{profile}: the broker's log4j2 config writes no files"
        );
    }
}

/// The distribution's conf/config.yaml of flink-dist 2.1.1, the part this test needs:
/// `env.java.opts.all` with the JDK 17 module flags ("required for Java 17 support"), nested
/// as the file has it; the image changes only its localhost addresses (flink-docker
/// 2.1/scala_2.12-java17-ubuntu/Dockerfile: config-parser-utils.sh -repKV ...).
const FLINK_DIST_CONFIG: &str = "env:\n  java:\n    opts:\n      all: --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED\njobmanager:\n  bind-host: 0.0.0.0\n  memory:\n    process:\n      size: 1600m\ntaskmanager:\n  numberOfTaskSlots: 1\nparallelism:\n  default: 1\n";

/// Runs the rendered prepare.sh of `profile` over an image conf/ holding FLINK_DIST_CONFIG;
/// returns the config.yaml the JobManager then reads.
fn prepared_flink_config(profile: &str, sets: &[&str], secrets: &[(&str, &str)]) -> String {
    let items = render(profile, sets);
    let sb = Sandbox::new(&format!("flink-{profile}"));
    let roots = [
        "/opt/flink",
        "/flink-conf",
        "/flink-plugins",
        "/etc/flink-amctl",
        "/etc/flink-s3",
        "/etc/flink-tls-password",
    ];
    for key in ["config.yaml", "prepare.sh"] {
        sb.write(
            &format!("/etc/flink-amctl/{key}"),
            &sb.relocate(&config_file(&items, "flink-config", key), &roots),
        );
    }
    sb.write("/opt/flink/conf/config.yaml", FLINK_DIST_CONFIG);
    sb.write(
        "/opt/flink/conf/log4j-console.properties",
        "rootLogger.level = INFO\n",
    );
    sb.write("/opt/flink/plugins/README.txt", "plugins\n");
    sb.write("/opt/flink/opt/flink-s3-fs-presto-2.1.1.jar", "jar");
    for d in ["/flink-conf", "/flink-plugins"] {
        std::fs::create_dir_all(sb.path(d)).unwrap();
    }
    for (file, value) in secrets {
        sb.write(file, value);
    }
    let (ok, log) = sb.sh(&sb.path("/etc/flink-amctl/prepare.sh"), "", &[]);
    assert!(ok, "{profile}: prepare.sh: {log}");
    std::fs::read_to_string(sb.path("/flink-conf/config.yaml")).unwrap()
}

/// Row 6: prepare.sh replaced the image's config.yaml, dropping `env.java.opts.all`; a
/// DataStream job then fails with `InaccessibleObjectException ... does not "opens
/// java.util"` (seen with a real Flink 2.1.1; tests/conformance.sh runs one).
#[test]
fn flink_keeps_the_images_config_and_applies_amctls_keys_on_top() {
    for profile in ["demo", "prod"] {
        let config = prepared_flink_config(
            profile,
            &["security.tls=false"],
            &[
                ("/etc/flink-s3/AWS_ACCESS_KEY_ID", "a"),
                ("/etc/flink-s3/AWS_SECRET_ACCESS_KEY", "s"),
            ],
        );
        assert!(
            config.contains("--add-opens=java.base/java.util=ALL-UNNAMED"),
            "{profile}: the image's env.java.opts.all stays:\n{config}"
        );
        // amctl's keys come after the image's, and Flink reads a later key over an earlier one.
        let image = config.find("process:\n      size: 1600m").unwrap();
        let ours = config.find("jobmanager.memory.process.size:").unwrap();
        assert!(ours > image, "{profile}: amctl's keys come last");
    }
}

/// Row 7: flink-s3-fs-presto reads `s3.access-key`/`s3.secret-key` (mirrored to presto.s3.*,
/// flink-filesystems/flink-s3-fs-presto: S3FileSystemFactory; PrestoS3FileSystemTest
/// `testConfigPropagation`), never AWS_ACCESS_KEY_ID: the credentials go into the config.
#[test]
fn flink_hands_s3_credentials_to_the_plugin_in_its_config() {
    let items = render("prod", &[]);
    for (kind, name, c) in [
        ("Deployment", "flink-jobmanager", "jobmanager"),
        ("Deployment", "flink-taskmanager", "taskmanager"),
    ] {
        let c = container(pod_spec(&items, kind, name), c);
        for e in c["env"].as_array().into_iter().flatten() {
            assert!(
                !e["name"].as_str().unwrap().starts_with("AWS_"),
                "{name}: {e}"
            );
        }
    }
    let config = prepared_flink_config(
        "prod",
        &["security.tls=false"],
        &[
            ("/etc/flink-s3/AWS_ACCESS_KEY_ID", "AKIAEXAMPLE\n"),
            ("/etc/flink-s3/AWS_SECRET_ACCESS_KEY", "it's secret\n"),
        ],
    );
    assert!(config.contains("s3.access-key: 'AKIAEXAMPLE'"), "{config}");
    assert!(config.contains("s3.secret-key: 'it''s secret'"), "{config}");
}

/// Row 8: `file://` checkpoints on each pod's own disk: the TaskManagers write state files,
/// the JobManager the metadata, and a restore needs both in one place. Every Flink pod mounts
/// one claim at the checkpoint directory.
#[test]
fn flink_file_checkpoints_are_on_one_claim_every_pod_mounts() {
    let items = render("demo", &[]);
    let config = config_file(&items, "flink-config", "config.yaml");
    let dir = config
        .lines()
        .find_map(|l| l.strip_prefix("execution.checkpointing.dir: "))
        .unwrap()
        .trim_matches('"');
    let path = dir
        .strip_prefix("file://")
        .expect("demo checkpoints to file://");
    let mut claims = Vec::new();
    for (name, c) in [
        ("flink-jobmanager", "jobmanager"),
        ("flink-taskmanager", "taskmanager"),
    ] {
        let spec = pod_spec(&items, "Deployment", name);
        let (volume, _) = volume_at(spec, container(spec, c), path);
        claims.push(
            volume["persistentVolumeClaim"]["claimName"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
    }
    assert!(
        !claims[0].is_empty() && claims[0] == claims[1],
        "{claims:?}"
    );
    object(&items, "PersistentVolumeClaim", &claims[0]);
}

/// Row 9: RocksDB works in `io.tmp.dirs` unless `state.backend.rocksdb.localdir` is set
/// (flink-statebackend-rocksdb: EmbeddedRocksDBStateBackend, "if no local directories are
/// configured, the TaskManager's temporary directories are used"), which was the 2Gi /tmp.
#[test]
fn flink_rocksdb_works_on_its_own_volume() {
    for (profile, want) in [("demo", "2Gi"), ("prod", "100Gi")] {
        let items = render(profile, &[]);
        let config = config_file(&items, "flink-config", "config.yaml");
        let dir = config
            .lines()
            .find_map(|l| l.strip_prefix("state.backend.rocksdb.localdir: "))
            .expect("state.backend.rocksdb.localdir is set")
            .trim_matches('"')
            .to_string();
        let spec = pod_spec(&items, "Deployment", "flink-taskmanager");
        let (volume, mount) = volume_at(spec, container(spec, "taskmanager"), &dir);
        assert_ne!(mount, "/tmp", "{profile}");
        let size = volume["emptyDir"]["sizeLimit"]
            .as_str()
            .or(volume["ephemeral"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"].as_str())
            .unwrap();
        assert_eq!(size, want, "{profile}: {volume}");
    }
}

/// Row 10: `pg_basebackup` writes PG_VERSION among its first files and standby.signal (-R) at
/// the very end (src/bin/pg_basebackup/pg_basebackup.c: the tar stream of the data directory,
/// then WriteRecoveryConfig), and the image skips initdb for any PGDATA with PG_VERSION
/// (docker-entrypoint.sh:258). The stub below dies the first time after PG_VERSION, as an
/// evicted init container would; the script must neither call that PGDATA complete nor keep
/// it.
#[test]
fn postgres_standby_clone_interrupted_halfway_is_redone() {
    let items = render("prod", &[]);
    let script = config_file(&items, "postgres-config", "clone-primary.sh");
    let sb = Sandbox::new("pg-clone");
    let script = sb.write(
        "clone.sh",
        &sb.relocate(&script, &["/run/secrets/postgres", "/etc/postgresql-tls"]),
    );
    sb.write("/run/secrets/postgres/replication-password", "pw");
    sb.stub("pg_isready", "exit 0\n");
    sb.stub(
        "pg_verifybackup",
        "[ -f \"$1/backup_manifest\" ] || { echo \"no manifest in $1\"; exit 1; }\n",
    );
    let attempts = sb.path("attempts");
    sb.stub(
        "pg_basebackup",
        &format!(
            "while [ \"$1\" != -D ]; do shift; done; d=$2\n\
             mkdir -p \"$d\" && echo 17 > \"$d/PG_VERSION\"\n\
             if [ ! -e '{a}' ]; then : > '{a}'; echo 'killed halfway'; exit 137; fi\n\
             mkdir -p \"$d/base\" && : > \"$d/backup_manifest\" && : > \"$d/standby.signal\"\n",
            a = attempts.display()
        ),
    );
    let pgdata = sb.path("/var/lib/postgresql/data/pgdata");
    std::fs::create_dir_all(pgdata.parent().unwrap()).unwrap();
    let pgdata_env = pgdata.display().to_string();
    let env = [("PGDATA", pgdata_env.as_str())];
    let (ok, log) = sb.sh(&script, "", &env);
    assert!(!ok, "the interrupted clone fails the init container: {log}");
    assert!(
        !pgdata.join("PG_VERSION").exists(),
        "no PGDATA that looks initialized: {log}"
    );
    let (ok, log) = sb.sh(&script, "", &env);
    assert!(ok && log.contains("removing the partial copy"), "{log}");
    assert!(pgdata.join("standby.signal").exists() && pgdata.join("PG_VERSION").exists());
    let (ok, log) = sb.sh(&script, "", &env);
    assert!(ok && log.contains("standby data present"), "{log}");
    // A PGDATA without standby.signal (a half-copy of an earlier amctl's clone) is refused,
    // not started and not deleted.
    std::fs::remove_file(pgdata.join("standby.signal")).unwrap();
    let (ok, log) = sb.sh(&script, "", &env);
    assert!(!ok && log.contains("Nothing was changed"), "{log}");
    assert!(pgdata.join("PG_VERSION").exists());
}

/// Row 11: the eviction API refuses a pod that more than one PodDisruptionBudget selects
/// (pkg/registry/core/pod/storage/eviction.go: "This pod has more than one
/// PodDisruptionBudget, which the eviction subresource does not support"), so `kubectl drain`
/// blocks: with 3 PostgreSQL replicas `postgres-cluster` and `postgres-replica` both selected
/// the standbys.
#[test]
fn no_pod_is_under_two_disruption_budgets() {
    fn selects(sel: &Value, labels: &serde_json::Map<String, Value>) -> bool {
        sel["matchLabels"]
            .as_object()
            .into_iter()
            .flatten()
            .all(|(k, v)| labels.get(k) == Some(v))
            && sel["matchExpressions"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|e| {
                    let values = e["values"].as_array().cloned().unwrap_or_default();
                    let v = labels.get(e["key"].as_str().unwrap());
                    match e["operator"].as_str().unwrap() {
                        "In" => v.is_some_and(|v| values.contains(v)),
                        "NotIn" => v.is_none_or(|v| !values.contains(v)),
                        "Exists" => v.is_some(),
                        _ => v.is_none(),
                    }
                })
    }
    for (profile, sets) in [
        ("prod", vec!["postgres.replicas=3"]),
        ("prod", vec![]),
        ("demo", vec![]),
    ] {
        let items = render(profile, &sets);
        let pdbs: Vec<&Value> = items
            .iter()
            .filter(|o| o["kind"] == "PodDisruptionBudget")
            .collect();
        for o in &items {
            let Some(labels) = o["spec"]["template"]["metadata"]["labels"].as_object() else {
                continue;
            };
            let over: Vec<&str> = pdbs
                .iter()
                .filter(|p| selects(&p["spec"]["selector"], labels))
                .map(|p| p["metadata"]["name"].as_str().unwrap())
                .collect();
            assert!(
                over.len() <= 1,
                "{profile} {sets:?}: {} under {over:?}",
                o["metadata"]["name"]
            );
        }
    }
}

/// The same class as row 5, for Flink: `flink-console.sh` logs through log4j-console.properties,
/// whose RollingFile rolls at 100MB and keeps `${env:MAX_LOG_FILE_NUMBER:-10}` files
/// (bin/config.sh sets it from `env.log.max`): 11 × 100MB on a 512Mi log volume. RocksDB's info
/// logs (`state.backend.rocksdb.log.dir`, by default Flink's log directory, 4 × 25mb per
/// instance) go beside its files instead.
#[test]
fn flink_log_files_fit_their_volume() {
    for profile in ["demo", "prod"] {
        let items = render(profile, &[]);
        let config = config_file(&items, "flink-config", "config.yaml");
        let key = |k: &str| {
            config
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .map(|v| v.trim_matches('"').to_string())
        };
        let kept: u64 = key("env.log.max").expect("env.log.max").parse().unwrap();
        for (name, c) in [
            ("flink-jobmanager", "jobmanager"),
            ("flink-taskmanager", "taskmanager"),
        ] {
            let spec = pod_spec(&items, "Deployment", name);
            let (volume, _) = volume_at(spec, container(spec, c), "/opt/flink/log");
            let size = bytes(volume["emptyDir"]["sizeLimit"].as_str().unwrap());
            assert!(
                (kept + 1) * 100_000_000 < size,
                "{profile} {name}: {} log files on {size}",
                kept + 1
            );
        }
        assert_eq!(
            key("state.backend.rocksdb.log.dir"),
            key("state.backend.rocksdb.localdir"),
            "{profile}: RocksDB's info logs beside its files"
        );
    }
}

/// The properties a Kafka node starts with: its role's rendered start.sh run in a sandbox (its
/// node id from the pod's ordinal), with the file it hands kafka-server-start.sh printed.
fn kafka_node_properties(
    items: &[Value],
    map: &str,
    file: &str,
    pod: &str,
) -> BTreeMap<String, String> {
    let sb = Sandbox::new(&format!("kafka-role-{pod}"));
    let roots = [
        "/var/lib/kafka/data",
        "/var/run/kafka",
        "/etc/kafka/amctl",
        "/etc/kafka-tls",
    ];
    let props = config_file(items, map, file);
    sb.write(
        &format!("/etc/kafka/amctl/{file}"),
        &sb.relocate(&props, &roots),
    );
    let start = config_file(items, map, "start.sh");
    let script = sb.write(
        "start.sh",
        &sb.relocate(&start, &roots)
            .replace("/opt/kafka/bin/kafka-storage.sh", "kafka-storage-stub")
            .replace("/opt/kafka/bin/kafka-server-start.sh", "cat"),
    );
    sb.stub("kafka-storage-stub", "exit 0\n");
    for d in ["/etc/kafka-tls", "/var/run/kafka", "/var/lib/kafka/data"] {
        std::fs::create_dir_all(sb.path(d)).unwrap();
    }
    std::fs::write(sb.path("/etc/kafka-tls/tls.key"), "k").unwrap();
    std::fs::write(sb.path("/etc/kafka-tls/tls.crt"), "c").unwrap();
    let (ok, out) = sb.sh(&script, "", &[("POD_NAME", pod), ("CLUSTER_ID", "x")]);
    assert!(ok, "{pod}: {out}");
    out.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Dedicated controllers and broker-only nodes start: KafkaConfig's role checks, restated
/// (apache/kafka core/src/main/scala/kafka/server/KafkaConfig.scala, `validateValues`, lines
/// 910-946 of trunk at 1eb7644, unchanged in 4.1): a broker-only node's id is not a voter, its
/// `controller.listener.names` are set, absent from `listeners` and mapped in
/// `listener.security.protocol.map`; a controller-only node listens on controller listeners only,
/// is a voter itself, and its controller listener names appear in `listeners`; every broker
/// advertises `inter.broker.listener.name` among its listeners (lines 977-987).
#[test]
fn kafka_brokers_and_dedicated_controllers_pass_kafkas_role_checks() {
    let items = render("prod", &["kafka.brokers=5", "cluster.nodes=12"]);
    let names = |v: &str| -> Vec<String> {
        v.split(',')
            .filter(|l| !l.is_empty())
            .map(|l| l.split_once("://").map_or(l, |(n, _)| n).to_string())
            .collect()
    };
    let voters = |p: &BTreeMap<String, String>| -> Vec<String> {
        p["controller.quorum.voters"]
            .split(',')
            .map(|v| v.split_once('@').unwrap().0.to_string())
            .collect()
    };
    let mut ids = Vec::new();
    for i in 0..5 {
        let p = kafka_node_properties(
            &items,
            "kafka-config",
            "server.properties",
            &format!("kafka-{i}"),
        );
        assert_eq!(p["process.roles"], "broker");
        let id = &p["node.id"];
        assert_eq!(id, &i.to_string());
        assert!(
            !voters(&p).contains(id),
            "a broker-only node is not a voter"
        );
        let controller = names(&p["controller.listener.names"]);
        assert!(!controller.is_empty());
        assert!(
            controller
                .iter()
                .all(|c| !names(&p["listeners"]).contains(c))
        );
        let map: Vec<String> = p["listener.security.protocol.map"]
            .split(',')
            .map(|m| m.split(':').next().unwrap().to_string())
            .collect();
        assert!(controller.iter().all(|c| map.contains(c)), "{map:?}");
        let advertised = names(&p["advertised.listeners"]);
        assert!(advertised.contains(&p["inter.broker.listener.name"]));
        assert!(
            advertised
                .iter()
                .all(|a| names(&p["listeners"]).contains(a))
        );
        ids.push(id.clone());
    }
    for i in 0..3 {
        let p = kafka_node_properties(
            &items,
            "kafka-controller-config",
            "controller.properties",
            &format!("kafka-controller-{i}"),
        );
        assert_eq!(p["process.roles"], "controller");
        let id = &p["node.id"];
        assert_eq!(id, &(1000 + i).to_string());
        assert!(voters(&p).contains(id), "a controller is one of the voters");
        let controller = names(&p["controller.listener.names"]);
        assert!(
            names(&p["listeners"])
                .iter()
                .all(|l| controller.contains(l)),
            "only controller listeners"
        );
        assert!(
            controller
                .iter()
                .all(|c| names(&p["listeners"]).contains(c))
        );
        assert!(!ids.contains(id), "node ids never collide");
        ids.push(id.clone());
    }
    // The brokers know the same voters as the controllers.
    let b = kafka_node_properties(&items, "kafka-config", "server.properties", "kafka-0");
    let c = kafka_node_properties(
        &items,
        "kafka-controller-config",
        "controller.properties",
        "kafka-controller-0",
    );
    assert_eq!(b["controller.quorum.voters"], c["controller.quorum.voters"]);
}
