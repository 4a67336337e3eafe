//! The command line as a user meets it: exit codes, where errors point, what is (not) printed.

use crate::common::{TempDir, amctl};
use std::path::Path;

/// Writes a profile into a temp dir and returns the dir (kept alive by the caller).
fn profile(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn tmp() -> TempDir {
    TempDir::new()
}

/// Runs `amctl ARGS`, asserts exit 2, nothing on stdout, and returns stderr.
fn input_error(args: &[&str]) -> String {
    let out = amctl().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "args {args:?}\nstderr: {stderr}"
    );
    assert!(out.stdout.is_empty(), "stdout must stay empty on error");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn render_demo_succeeds_from_any_directory() {
    let d = tmp();
    let out = amctl()
        .current_dir(d.path())
        .args(["render", "demo"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("# Source: amctl/namespace/"));
    assert!(text.contains("kind: StatefulSet"));
}

#[test]
fn malformed_toml_points_at_line_and_column() {
    let d = tmp();
    let p = profile(d.path(), "bad.toml", "[kafka\nbrokers = 3\n");
    let err = input_error(&["render", &p]);
    assert!(err.contains("malformed TOML"), "{err}");
    assert!(err.contains("bad.toml:1:7"), "{err}");
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let d = tmp();
    let p = profile(
        d.path(),
        "typo.toml",
        "extends = \"demo\"\n[kafka]\nbrokerz = 3\n",
    );
    let err = input_error(&["render", &p]);
    assert!(err.contains("unknown key `brokerz` in [kafka]"), "{err}");
    assert!(err.contains("typo.toml:3:1"), "{err}");
    assert!(err.contains("did you mean `kafka.brokers`?"), "{err}");
}

#[test]
fn unknown_top_level_table_is_named() {
    let d = tmp();
    let p = profile(
        d.path(),
        "t.toml",
        "extends = \"demo\"\n[kafak]\nbrokers = 3\n",
    );
    let err = input_error(&["render", &p]);
    assert!(
        err.contains("unknown key `kafak` at the top level"),
        "{err}"
    );
    assert!(err.contains("did you mean `kafka`?"), "{err}");
    assert!(err.contains("t.toml:2:2"), "{err}");
}

#[test]
fn wrong_type_names_key_and_expectation() {
    let d = tmp();
    let p = profile(
        d.path(),
        "t.toml",
        "extends = \"demo\"\n[kafka]\nbrokers = \"three\"\n",
    );
    let err = input_error(&["render", &p]);
    assert!(err.contains("`kafka.brokers`"), "{err}");
    assert!(err.contains("expected a whole number"), "{err}");
    assert!(err.contains("t.toml:3:11"), "{err}");
}

#[test]
fn invalid_sizes_are_rejected_with_a_fix() {
    let d = tmp();
    for (value, hint) in [
        ("512 Mb", "512Mi"),
        ("-1Gi", "negative"),
        ("banana", "does not start with a number"),
        ("512Mb", "512Mi"),
        ("800m", "800Mi"),
    ] {
        let p = profile(
            d.path(),
            "size.toml",
            &format!(
                "extends = \"demo\"\n[postgres.resources.limits]\nmemory = \"{value}\"\ncpu = \"1\"\n"
            ),
        );
        let err = input_error(&["render", &p]);
        assert!(err.contains("postgres.resources.limits.memory"), "{err}");
        assert!(err.contains(hint), "{value}: {err}");
        assert!(err.contains("size.toml:3:10"), "{err}");
    }
}

#[test]
fn postgres_units_are_checked_case_sensitively() {
    let err = input_error(&["render", "demo", "--set", "postgres.shared_buffers=128mb"]);
    assert!(err.contains("did you mean \"128MB\"?"), "{err}");
    assert!(err.contains("--set postgres.shared_buffers=128mb"), "{err}");
}

#[test]
fn unknown_profile_name_suggests_a_builtin() {
    let err = input_error(&["render", "dmeo"]);
    assert!(err.contains("no profile `dmeo`"), "{err}");
    assert!(err.contains("did you mean `demo`?"), "{err}");
}

#[test]
fn missing_parent_is_an_error_at_extends() {
    let d = tmp();
    let p = profile(d.path(), "child.toml", "extends = \"prdo\"\n");
    let err = input_error(&["render", &p]);
    assert!(err.contains("child.toml:1:11"), "{err}");
    assert!(err.contains("did you mean `prod`?"), "{err}");
}

#[test]
fn cyclic_extends_is_an_error() {
    let d = tmp();
    profile(d.path(), "a.toml", "extends = \"b.toml\"\n");
    profile(d.path(), "b.toml", "extends = \"a.toml\"\n");
    let a = d.path().join("a.toml");
    let err = input_error(&["render", a.to_str().unwrap()]);
    assert!(err.contains("forms a cycle"), "{err}");
    assert!(err.contains("b.toml:1:11"), "{err}");
}

#[test]
fn missing_key_is_reported_with_its_table() {
    let d = tmp();
    let text = amctl().args(["show", "demo"]).output().unwrap().stdout;
    let full = String::from_utf8(text).unwrap();
    // Drop one required key from a complete profile.
    let without = full.replace("brokers = 1\n", "");
    let p = profile(d.path(), "m.toml", &without);
    let err = input_error(&["render", &p]);
    assert!(err.contains("missing key `brokers` in [kafka]"), "{err}");
    assert!(err.contains("m.toml:"), "{err}");
}

#[test]
fn set_overrides_are_typed_by_the_schema() {
    let out = amctl()
        .args(["render", "prod", "--set", "kafka.brokers=5"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let brokers = text
        .split("\n---\n")
        .find(|doc| doc.contains("kind: StatefulSet") && doc.contains("\n  name: kafka\n"))
        .unwrap();
    assert!(brokers.contains("\n  replicas: 5\n"), "{brokers}");

    // A string-typed key takes a value TOML would read as a number.
    let out = amctl()
        .args(["render", "demo", "--set", "api.version=1.5"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("segment-api:1.5\n")
    );

    // Named list items.
    let out = amctl()
        .args([
            "show",
            "demo",
            "--set",
            "api.services[profile-api].replicas=2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());

    let err = input_error(&["render", "demo", "--set", "kafka.brokers=three"]);
    assert!(err.contains("expected a whole number"), "{err}");
    let err = input_error(&["render", "demo", "--set", "kafka.brokerz=3"]);
    assert!(err.contains("did you mean `kafka.brokers`?"), "{err}");
    let err = input_error(&["render", "demo", "--set", "kafka.brokers"]);
    assert!(err.contains("has no `=`"), "{err}");
    let err = input_error(&["render", "demo", "--set", "api.services[nope].replicas=2"]);
    assert!(err.contains("no item named `nope`"), "{err}");
    let err = input_error(&["render", "demo", "--set", "api.services[7].replicas=2"]);
    assert!(err.contains("out of range"), "{err}");
    let err = input_error(&["render", "demo", "--set", "kafka.brokers.x=2"]);
    assert!(err.contains("not a table"), "{err}");
}

#[test]
fn namespace_is_chosen_at_render_time() {
    let out = amctl()
        .args(["render", "demo", "-n", "team-a"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("namespace: team-a"));
    assert!(!text.contains("namespace: audience-manager"));
    let err = input_error(&["render", "demo", "-n", "Team_A"]);
    assert!(err.contains("not a valid Kubernetes namespace"), "{err}");
}

#[test]
fn structural_errors_point_at_the_key() {
    let d = tmp();
    let p = profile(
        d.path(),
        "dup.toml",
        "extends = \"demo\"\n[[api.services]]\nname = \"Segment_API\"\nuses = []\n",
    );
    let err = input_error(&["render", &p]);
    assert!(err.contains("cannot name Kubernetes objects"), "{err}");
    let p = profile(
        d.path(),
        "latest.toml",
        "extends = \"demo\"\n[kafka]\nimage = \"apache/kafka:latest\"\n",
    );
    let err = input_error(&["render", &p]);
    assert!(err.contains("not pinned"), "{err}");
    assert!(err.contains("latest.toml:3:1"), "{err}");
}

#[test]
fn out_dir_is_written_atomically_and_refuses_foreign_dirs() {
    let d = tmp();
    let out = d.path().join("deploy");
    amctl()
        .args(["render", "demo", "--out-dir", out.to_str().unwrap()])
        .assert()
        .success()
        .stdout("");
    let kustomization = std::fs::read_to_string(out.join("kustomization.yaml")).unwrap();
    assert!(kustomization.contains("resources:"));
    let files = std::fs::read_dir(&out).unwrap().count();
    assert!(files > 30, "{files}");

    // Re-rendering replaces the directory.
    amctl()
        .args(["render", "prod", "--out-dir", out.to_str().unwrap()])
        .assert()
        .success();
    assert!(out.join("kustomization.yaml").exists());

    // A failing render leaves the previous one untouched.
    let before = std::fs::read_to_string(out.join("kustomization.yaml")).unwrap();
    let err = input_error(&[
        "render",
        "demo",
        "--set",
        "kafka.brokers=x",
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("kafka.brokers"));
    assert_eq!(
        before,
        std::fs::read_to_string(out.join("kustomization.yaml")).unwrap()
    );

    // A directory of someone else's files is not ours to replace.
    let foreign = d.path().join("mine");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
    let err = input_error(&["render", "demo", "--out-dir", foreign.to_str().unwrap()]);
    assert!(err.contains("did not write"), "{err}");
    assert!(foreign.join("notes.txt").exists());

    // A file where the directory should be: said, with what to pass instead, and left alone.
    let file = foreign.join("notes.txt");
    let err = input_error(&["render", "demo", "--out-dir", file.to_str().unwrap()]);
    assert!(err.contains("is not a directory; choose"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");

    // Missing parents are created, as `mkdir -p` would.
    let nested = d.path().join("deploy/envs/prod");
    amctl()
        .args(["render", "prod", "--out-dir", nested.to_str().unwrap()])
        .assert()
        .success();
    assert!(nested.join("kustomization.yaml").exists());

    // An unwritable place.
    let err = input_error(&["render", "demo", "--out-dir", "/proc/amctl-cannot-write/x"]);
    assert!(err.contains("/proc/amctl-cannot-write"), "{err}");
}

#[test]
fn json_output_is_a_v1_list() {
    let out = amctl()
        .args(["render", "demo", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["apiVersion"], "v1");
    assert_eq!(v["kind"], "List");
    assert!(v["items"].as_array().unwrap().len() > 30);
}

#[test]
fn usage_errors_exit_2() {
    let out = amctl().args(["render"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = amctl().args(["frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn closed_stdout_is_not_an_error() {
    use std::io::Read;
    use std::process::{Command as StdCommand, Stdio};
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("amctl"))
        .args(["render", "prod"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn schema_completions_and_man() {
    let out = amctl().args(["schema"]).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(v["additionalProperties"], false);
    assert!(
        v["required"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "kafka")
    );
    let out = amctl().args(["schema", "--partial"]).output().unwrap();
    let partial = String::from_utf8(out.stdout).unwrap();
    assert!(!partial.contains("\"required\""));
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = amctl().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("amctl"),
            "{shell}"
        );
    }
    let out = amctl().args(["man"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(".ie"));
    let out = amctl().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_reports_drift() {
    let d = tmp();
    let dir = d.path().join("deploy");
    amctl()
        .args(["render", "demo", "--out-dir", dir.to_str().unwrap()])
        .assert()
        .success();
    amctl()
        .args(["render", "demo", "--check", dir.to_str().unwrap()])
        .assert()
        .code(0);
    let out = amctl()
        .args([
            "render",
            "demo",
            "--check",
            dir.to_str().unwrap(),
            "--set",
            "postgres.max_connections=19",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("2 changed, 0 missing, 0 extra"), "{text}");
    assert!(text.contains("+    max_connections = 19"), "{text}");
    std::fs::write(dir.join("zzz-extra.yaml"), "x").unwrap();
    std::fs::remove_file(dir.join("000-namespace-audience-manager.yaml")).unwrap();
    let out = amctl()
        .args(["render", "demo", "--check", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("0 changed, 1 missing, 1 extra"), "{text}");
    let out = amctl()
        .args(["render", "demo", "--check", "/nonexistent-amctl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn explain_keys() {
    let out = amctl()
        .args(["explain", "flink.taskmanager"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("rules that read it:") && text.contains("flink.taskmanager.memory"),
        "{text}"
    );
    assert!(text.contains("task_heap"), "{text}");
    let out = amctl()
        .args(["explain", "flink.taskmanager", "--profile", "prod"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("3597035049 bytes")
    );
    let out = amctl()
        .args(["explain", "postgres.shared_buffers"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("about 25% of the memory limit"), "{text}");
    let err = input_error(&["explain", "kafka.brokerz"]);
    assert!(err.contains("did you mean `kafka.brokers`?"), "{err}");
}

#[test]
fn a_storage_class_definition_needs_a_name() {
    let d = tmp();
    let p = profile(
        d.path(),
        "sc.toml",
        "extends = \"demo\"\n[storage.define_class]\nprovisioner = \"ebs.csi.aws.com\"\n",
    );
    let err = input_error(&["render", &p]);
    assert!(err.contains("needs a name: set storage.class"), "{err}");
    assert!(err.contains("sc.toml:2:"), "{err}");
}

#[test]
fn absurd_counts_are_input_errors_and_sizes_never_overflow() {
    let err = input_error(&["render", "demo", "--set", "kafka.brokers=4000000000"]);
    assert!(err.contains("at most 10000"), "{err}");
    // Found by the fuzzer: sizes whose products overflow u64 (saturating now).
    let out = amctl()
        .args([
            "validate",
            "demo",
            "--set",
            "aerospike.namespaces[0].data_size=16000000T",
            "--set",
            "kafka.heap_opts=-Xmx9000000000g",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// A malformed size says what would do.
#[test]
fn malformed_values_say_what_is_expected() {
    let out = amctl()
        .args([
            "render",
            "prod",
            "--set",
            "postgres.backup.volume.size=lots",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`lots` does not start with a number; expected a Kubernetes memory quantity such as \"512Mi\""),
        "{err}"
    );
    // Messages that already say what to write are left alone.
    let out = amctl()
        .args([
            "render",
            "prod",
            "--set",
            "kafka.resources.limits.memory=512m",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("write `512Mi`") && !err.contains("; expected"),
        "{err}"
    );
}

#[test]
fn out_dir_with_json_is_refused_before_any_work() {
    let dir = tmp();
    let out = dir.path().join("out");
    let stderr = input_error(&[
        "render",
        "prod",
        "-o",
        "json",
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    assert!(stderr.contains("drop `-o json` or --out-dir"), "{stderr}");
    assert!(
        !stderr.contains("warning"),
        "refused before validation: {stderr}"
    );
    assert!(!out.exists(), "nothing written");
}
