//! `amctl fit`: every fitted profile validates, renders, round-trips through `show`, and uses the
//! platform's share of the nodes; clusters too small are refused with what is missing.

use crate::common::{TempDir, run};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("JSON output")
}

/// `amctl fit` with the shape; (exit, stdout, stderr).
fn fit(base: &str, nodes: u32, memory: &str, cpu: &str, extra: &[&str]) -> (i32, String, String) {
    let n = nodes.to_string();
    let mut args = vec![
        "fit",
        base,
        "--nodes",
        &n,
        "--node-memory",
        memory,
        "--node-cpu",
        cpu,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn a_grid_of_clusters_fits_or_is_refused_with_the_reason() {
    let dir = TempDir::new();
    let distributions = ["k3s", "kind", "managed"];
    let mut fitted = 0;
    let mut i = 0;
    for base in ["demo", "prod"] {
        for nodes in [1u32, 3, 12, 50] {
            for memory in ["4Gi", "16Gi", "64Gi", "256Gi"] {
                let d = distributions[i % 3];
                i += 1;
                let shape = format!("{base} on {nodes} × {memory} ({d})");
                let extra = ["--distribution", d];
                let (code, toml, err) = fit(base, nodes, memory, "16", &extra);
                if code != 0 {
                    assert_eq!(code, 2, "{shape}: {err}");
                    assert!(
                        err.contains("too small for the smallest working platform")
                            || err.contains("does not run on"),
                        "{shape}: a refusal says why: {err}"
                    );
                    // Only shapes that cannot hold the platform: 4 GiB nodes, the demo's
                    // single-node checkpoint volume on several nodes, prod's HA on small ones.
                    assert!(
                        memory == "4Gi" || (base == "demo" && nodes > 1) || memory == "16Gi",
                        "{shape} was refused: {err}"
                    );
                    continue;
                }
                fitted += 1;
                let (_, out, _) = fit(
                    base,
                    nodes,
                    memory,
                    "16",
                    &[&extra[..], &["-o", "json"]].concat(),
                );
                let j = json(&out);
                // The overlay validates with no error and only the warnings fit names.
                let file = dir.path().join(format!("{base}-{nodes}-{memory}.toml"));
                std::fs::write(&file, &toml).unwrap();
                let f = file.to_str().unwrap();
                let (code, _, verr) = run(&["validate", f]);
                assert_eq!(code, 0, "{shape}: the fitted profile validates: {verr}");
                let left: Vec<&str> = j["warnings_left"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|w| w.as_str().unwrap())
                    .collect();
                for w in verr.lines().filter(|l| l.starts_with("warning[")) {
                    let rule = &w["warning[".len()..w.find(']').unwrap()];
                    assert!(
                        left.contains(&rule),
                        "{shape}: warning {rule} is named in the output"
                    );
                    assert!(
                        toml.contains(&format!("validate still warns ({rule})")),
                        "{shape}"
                    );
                }
                // It round-trips: the overlay resolves to the profile fit computed.
                let (_, shown, _) = run(&["show", f, "-o", "json"]);
                assert_eq!(json(&shown), j["profile"], "{shape}: show of the overlay");
                // It renders, and the requests fit the share after headroom.
                let (code, _, rerr) = run(&["render", f, "-o", "json"]);
                assert_eq!(code, 0, "{shape}: renders: {rerr}");
                let (req, target) = (
                    j["requests"]["memory"].as_u64().unwrap(),
                    j["target"]["memory"].as_u64().unwrap(),
                );
                assert!(req <= target, "{shape}: requests {req} within {target}");
                // The share is used: 85% and more of memory and of CPU.
                assert!(
                    req as f64 >= 0.85 * target as f64,
                    "{shape}: memory requests {req} use at least 85% of {target}"
                );
                let (creq, ctarget) = (
                    j["requests"]["cpu"].as_u64().unwrap(),
                    j["target"]["cpu"].as_u64().unwrap(),
                );
                assert!(
                    creq <= ctarget,
                    "{shape}: CPU requests {creq} within {ctarget}"
                );
                assert!(
                    creq as f64 >= 0.85 * ctarget as f64,
                    "{shape}: CPU requests {creq} use at least 85% of {ctarget}"
                );
            }
        }
    }
    assert!(fitted >= 12, "most of the grid fits ({fitted})");
}

#[test]
fn fit_prod_on_prods_nodes_changes_sizes_only() {
    let (code, out, err) = fit("prod", 9, "64Gi", "16", &["-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let j = json(&out);
    let changes = j["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    for c in changes {
        let key = c["key"].as_str().unwrap();
        let sized = [
            ".resources.",
            "heap_opts",
            "java_opts",
            "process_size",
            "shared_buffers",
            "effective_cache_size",
            "work_mem",
            "shm_size",
            "data_size",
        ];
        assert!(
            sized.iter().any(|s| key.contains(s)),
            "fit prod on prod's own nodes changed {key}: {c}"
        );
        assert!(
            !c["rule"].as_str().unwrap().is_empty(),
            "{key} has its rule"
        );
    }
    // prod's own warnings: the heap one fit resolves, the Community Edition one it names.
    assert_eq!(
        j["warnings_left"],
        serde_json::json!(["aerospike.tls.community"])
    );
}

#[test]
fn fit_demo_on_a_16gb_laptop_uses_the_room_the_example_leaves() {
    let (code, out, err) = fit("demo", 1, "16Gi", "8", &["-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let j = json(&out);
    let (_, ex, _) = run(&["show", "examples/laptop-16gb.toml", "-o", "json"]);
    let ex = json(&ex);
    let p = &j["profile"];
    // Same node, same topology: what differs is sizes, and fit's are at least the example's
    // (the example leaves a third of the node free; fit fills it up to the headroom).
    assert_eq!(p["cluster"]["node_memory"], ex["cluster"]["node_memory"]);
    let mib = |v: &Value| {
        let s = v.as_str().unwrap();
        let (n, unit) = s.split_at(s.find(|c: char| c.is_alphabetic()).unwrap_or(s.len()));
        let n: f64 = n.parse().unwrap();
        n * match unit {
            "Gi" => 1024.0,
            "Mi" => 1.0,
            other => panic!("unit {other}"),
        }
    };
    for path in [
        &["postgres", "resources", "requests", "memory"][..],
        &["aerospike", "resources", "requests", "memory"],
        &["kafka", "resources", "requests", "memory"],
    ] {
        let get = |v: &Value| path.iter().fold(v.clone(), |v, k| v[k].clone());
        assert!(
            mib(&get(p)) >= mib(&get(&ex)),
            "{}: fit {} vs the example's {}",
            path.join("."),
            get(p),
            get(&ex)
        );
    }
    // The example's second TaskManager is a replica choice; fit keeps demo's one and sizes it.
    assert_eq!(p["flink"]["taskmanager"]["replicas"], 1);
}

#[test]
fn fit_is_deterministic_and_explains_every_key() {
    let a = fit("prod", 12, "128Gi", "32", &[]);
    let b = fit("prod", 12, "128Gi", "32", &[]);
    assert_eq!(a, b);
    assert!(a.1.starts_with("# amctl fit prod"));
    assert!(a.1.contains("extends = \"prod\""));
    let (code, out, table) = fit("prod", 12, "128Gi", "32", &["--explain"]);
    assert_eq!(code, 0);
    assert_eq!(out, a.1, "--explain adds the table on stderr only");
    assert!(table.starts_with("KEY"), "{table}");
    let (_, j, _) = fit("prod", 12, "128Gi", "32", &["-o", "json"]);
    for c in json(&j)["changes"].as_array().unwrap() {
        let key = c["key"].as_str().unwrap();
        assert!(
            table
                .lines()
                .any(|l| l.split_whitespace().next() == Some(key)),
            "{key} is in the table"
        );
    }
}

#[test]
fn bad_shapes_are_input_errors() {
    for (nodes, memory, cpu, extra, says) in [
        (0, "16Gi", "8", &[][..], "--nodes `0`"),
        (1, "lots", "8", &[][..], "--node-memory `lots`"),
        (1, "0", "8", &[][..], "--node-memory `0`"),
        (1, "16Gi", "-2", &[][..], "--node-cpu `-2`"),
        (
            1,
            "16Gi",
            "8",
            &["--headroom", "95%"][..],
            "--headroom `95%`",
        ),
        (
            1,
            "4Gi",
            "2",
            &[][..],
            "too small for the smallest working platform",
        ),
        // Beyond the cap (and u32::MAX, which once overflowed into a panic).
        (
            5001,
            "64Gi",
            "16",
            &[][..],
            "--nodes `5001`: expected at most 5000",
        ),
        (u32::MAX, "64Gi", "16", &[][..], "--nodes `4294967295`"),
        (1, "16Gi", "8", &["--zones", ","][..], "--zones ``"),
        (1, "16Gi", "8", &["--zones", "a,,b"][..], "--zones ``"),
    ] {
        let (code, out, err) = fit("demo", nodes, memory, cpu, extra);
        assert_eq!(code, 2, "{says}: {err}");
        assert!(out.is_empty());
        assert!(err.contains(says), "{says}: {err}");
    }
    // How much is missing, and that a smaller headroom would do.
    let (_, _, err) = fit("demo", 1, "8Gi", "4", &[]);
    assert!(
        err.contains("missing") && err.contains("--headroom"),
        "{err}"
    );
}

#[test]
fn replicas_follow_the_cluster_single_on_one_node_ha_from_three() {
    let dir = TempDir::new();
    let one = dir.path().join("prod-on-one.toml");
    let (code, toml, err) = fit("prod", 1, "64Gi", "16", &[]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(&one, toml).unwrap();
    let one = one.to_str().unwrap();
    let (_, shown, _) = run(&["show", one, "-o", "json"]);
    let p = json(&shown);
    // One node: a single copy of everything, and replication no wider than the copies.
    for (path, want) in [
        ("/postgres/replicas", 1),
        ("/aerospike/replicas", 1),
        ("/aerospike/namespaces/0/replication_factor", 1),
        ("/kafka/brokers", 1),
        ("/kafka/controllers/replicas", 1),
        ("/kafka/default_replication_factor", 1),
        ("/kafka/min_insync_replicas", 1),
        ("/flink/jobmanager/replicas", 1),
    ] {
        assert_eq!(p.pointer(path), Some(&want.into()), "{path} on one node");
    }
    // Fitted again to three nodes, the single-node profile gets the HA counts back: a standby,
    // three Aerospike nodes at RF 2, three brokers at RF 3 and min ISR 2, two JobManagers (the
    // base has Flink's HA storage).
    let (code, out, err) = fit(one, 3, "64Gi", "16", &["-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let j = json(&out);
    let p = &j["profile"];
    for (path, want) in [
        ("/postgres/replicas", 2),
        ("/aerospike/replicas", 3),
        ("/aerospike/namespaces/0/replication_factor", 2),
        ("/aerospike/namespaces/1/replication_factor", 2),
        ("/kafka/brokers", 3),
        ("/kafka/controllers/replicas", 3),
        ("/kafka/default_replication_factor", 3),
        ("/kafka/offsets_topic_replication_factor", 3),
        ("/kafka/min_insync_replicas", 2),
        ("/flink/jobmanager/replicas", 2),
    ] {
        assert_eq!(p.pointer(path), Some(&want.into()), "{path} on three nodes");
    }
    let rule = j["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "kafka.brokers")
        .expect("the broker count is explained")["rule"]
        .clone();
    assert!(rule.as_str().unwrap().contains("HA"), "{rule}");
    // It validates (only the warnings fit names) and renders.
    let three = dir.path().join("prod-on-three.toml");
    let (_, toml, _) = fit(one, 3, "64Gi", "16", &[]);
    std::fs::write(&three, toml).unwrap();
    let (code, _, verr) = run(&["validate", three.to_str().unwrap()]);
    assert_eq!(code, 0, "{verr}");
    // --keep-replicas keeps the base's single copies.
    let (code, out, err) = fit(one, 3, "64Gi", "16", &["--keep-replicas", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let p = &json(&out)["profile"];
    assert_eq!(p["kafka"]["brokers"], 1);
    assert_eq!(p["postgres"]["replicas"], 1);
}

#[test]
fn ha_counts_the_base_cannot_carry_stay_and_say_why() {
    // The demo spread over three nodes (its checkpoint volume made shareable, which fit does not
    // choose): Aerospike goes to three nodes at RF 2, but PostgreSQL keeps one pod (its storage is
    // ephemeral: a standby cannot follow a primary that restarts empty) and Kafka one broker (it
    // is its own KRaft controller; combined voters cannot change later). Raising those would
    // only trade a fit for validate's warnings postgres.replicas.ephemeral and
    // kafka.controllers.combined.
    let dir = TempDir::new();
    let base = dir.path().join("demo-rwx.toml");
    std::fs::write(
        &base,
        "extends = \"demo\"\n[flink.checkpoint_volume]\nsize = \"2Gi\"\naccess_mode = \"ReadWriteMany\"\n",
    )
    .unwrap();
    let base = base.to_str().unwrap();
    let (code, out, err) = fit(base, 3, "16Gi", "8", &["-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let j = json(&out);
    let p = &j["profile"];
    for (path, want) in [
        ("/aerospike/replicas", 3),
        ("/aerospike/namespaces/0/replication_factor", 2),
        ("/postgres/replicas", 1),
        ("/kafka/brokers", 1),
        ("/kafka/default_replication_factor", 1),
    ] {
        assert_eq!(p.pointer(path), Some(&want.into()), "{path}");
    }
    let kept: Vec<&str> = j["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(
        kept.iter()
            .any(|k| k.starts_with("postgres.replicas stays 1") && k.contains("ephemeral")),
        "{kept:?}"
    );
    assert!(
        kept.iter()
            .any(|k| k.starts_with("kafka.brokers stays 1") && k.contains("[kafka.controllers]")),
        "{kept:?}"
    );
    let warned: Vec<&str> = j["warnings_left"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(
        warned,
        ["placement.n-1-pinned"],
        "only the warning no size avoids"
    );
    // The TOML says the same in its header, and validates.
    let (code, toml, err) = fit(base, 3, "16Gi", "8", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(toml.contains("# postgres.replicas stays 1:"), "{toml}");
    let fitted = dir.path().join("demo-on-three.toml");
    std::fs::write(&fitted, toml).unwrap();
    let (code, _, verr) = run(&["validate", fitted.to_str().unwrap()]);
    assert_eq!(code, 0, "{verr}");
    // The demo as it ships cannot spread: its checkpoint claim is ReadWriteOnce, and the refusal
    // names only that (not warnings of fit's own making).
    let (code, _, err) = fit("demo", 3, "16Gi", "8", &[]);
    assert_eq!(code, 2);
    assert!(err.contains("flink.checkpoint.shared"), "{err}");
    assert!(!err.contains("kafka.controllers.combined"), "{err}");
    assert!(!err.contains("postgres.replicas.ephemeral"), "{err}");
}

#[test]
fn a_service_with_its_own_sizes_is_sized_like_the_shared_ones() {
    let dir = TempDir::new();
    let base = dir.path().join("own-sizes.toml");
    std::fs::write(
        &base,
        r#"extends = "prod"

[[api.services]]
name = "profile-api"
resources = { requests = { memory = "4Gi", cpu = "2" }, limits = { memory = "6Gi", cpu = "4" } }
java_opts = "-Xmx4g -Xms3g -XX:+UseG1GC -XX:MaxMetaspaceSize=256m -XX:ReservedCodeCacheSize=240m -XX:MaxDirectMemorySize=64m"
autoscaling = { min_replicas = 2, max_replicas = 6, target_cpu_percent = 70 }
"#,
    )
    .unwrap();
    let b = base.to_str().unwrap();
    let (code, out, err) = fit(b, 12, "128Gi", "32", &["-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let j = json(&out);
    let svc = j["profile"]["api"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "profile-api")
        .unwrap()
        .clone();
    // Its own pod grew with the memory scale, its heap with its limit, and each is explained.
    let keys: Vec<&str> = j["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    for k in [
        "api.services[profile-api].resources.requests.memory",
        "api.services[profile-api].resources.limits.memory",
        "api.services[profile-api].java_opts",
        "api.resources.requests.memory",
    ] {
        assert!(keys.contains(&k), "{k} in {keys:?}");
    }
    assert_ne!(svc["resources"]["requests"]["memory"], "4Gi");
    assert!(!svc["java_opts"].as_str().unwrap().starts_with("-Xmx4g "));
    // And the result validates clean but for the base's own warning.
    let file = dir.path().join("fitted.toml");
    let (_, toml, _) = fit(b, 12, "128Gi", "32", &[]);
    std::fs::write(&file, toml).unwrap();
    let (code, _, verr) = run(&["validate", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{verr}");
    let warnings: Vec<&str> = verr.lines().filter(|l| l.starts_with("warning[")).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("warning[aerospike.tls.community]"));
}

#[test]
fn a_cluster_the_smallest_sizes_miss_gets_fewer_pods_then_a_refusal_that_says_for_what() {
    // prod on 3 × 32 GiB: its smallest sizes with 60 API pods at the HPA's ceiling and six
    // TaskManagers do not fit; with fewer of both they nearly do.
    let (code, _, err) = fit("prod", 3, "32Gi", "8", &[]);
    assert_eq!(code, 2, "{err}");
    for says in ["missing", "aerospike", "--headroom 8% or less"] {
        assert!(err.contains(says), "{says}: {err}");
    }
    let (code, out, err) = fit("prod", 3, "32Gi", "8", &["--headroom", "8%", "-o", "json"]);
    assert_eq!(code, 0, "the hint is true: {err}");
    let j = json(&out);
    let p = &j["profile"];
    let hpa = p["api"]["autoscaling"]["max_replicas"].as_u64().unwrap();
    assert!(
        hpa >= p["api"]["autoscaling"]["min_replicas"].as_u64().unwrap() && hpa < 9,
        "{hpa}"
    );
    let tms = p["flink"]["taskmanager"]["replicas"].as_u64().unwrap();
    assert!(tms < 6, "{tms}");
    assert_eq!(
        p["flink"]["parallelism_default"].as_u64().unwrap(),
        tms * p["flink"]["taskmanager"]["task_slots"].as_u64().unwrap(),
        "parallelism follows the TaskManagers"
    );
    let rule = j["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "flink.taskmanager.replicas")
        .unwrap()["rule"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(rule.contains("fewer pods"), "{rule}");
}
