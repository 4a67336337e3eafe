//! amctl migrate: plans, the apply stream's safety, immutable fields, data-loss refusals.

use crate::common::run as amctl;
use serde_json::Value;

fn plan(args: &[&str]) -> Value {
    let mut a = vec!["migrate"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    let (code, out, err) = amctl(&a);
    assert!(code == 0 || code == 3, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn steps<'a>(p: &'a Value, kind: &str, name: &str) -> Vec<&'a Value> {
    p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["object"]["kind"] == kind && s["object"]["name"] == name)
        .collect()
}

#[test]
fn demo_to_prod_plan_snapshot() {
    let (code, out, _) = amctl(&["migrate", "demo", "prod", "--plan"]);
    assert_eq!(code, 3, "data-loss steps are refused without the flag");
    insta::assert_snapshot!("migrate_demo_prod_plan", out);
}

#[test]
fn prod_to_demo_plan_snapshot() {
    let (code, out, _) = amctl(&["migrate", "prod", "demo", "--plan"]);
    assert_eq!(code, 3);
    insta::assert_snapshot!("migrate_prod_demo_plan", out);
}

#[test]
fn the_apply_stream_never_carries_an_immutable_change() {
    let (code, out, err) = amctl(&["migrate", "demo", "prod"]);
    assert_eq!(code, 3);
    for doc in out.split("---\n") {
        // A new StatefulSet is created; an existing one whose claims change never rides along.
        if doc.contains("kind: StatefulSet") && !doc.contains("# create StatefulSet") {
            panic!("a StatefulSet whose claims change cannot be applied in place:\n{doc}");
        }
    }
    assert!(out.contains("# ==== Phase 1: infrastructure ===="));
    assert!(out.contains("# ==== Phase 2: resources ===="));
    assert!(out.contains("# ==== Phase 3: hardening ===="));
    assert!(err.contains("--format script"), "{err}");
    assert!(
        err.contains("recreate StatefulSet audience-manager/kafka"),
        "{err}"
    );
    // The phases come in order.
    let p1 = out.find("Phase 1").unwrap();
    let p2 = out.find("Phase 2").unwrap();
    let p3 = out.find("Phase 3").unwrap();
    assert!(p1 < p2 && p2 < p3);
}

#[test]
fn a_whole_in_place_migration_exits_0() {
    let (code, out, err) = amctl(&[
        "migrate",
        "prod",
        "prod",
        "--set",
        "api.tomcat_max_threads=150",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kind: ConfigMap"));
    assert!(err.is_empty(), "{err}");
}

#[test]
fn config_comes_before_workloads_and_each_statefulset_is_waited_for() {
    let p = plan(&["demo", "prod", "--allow-data-loss"]);
    let all = p["steps"].as_array().unwrap();
    let index = |kind: &str, name: &str, action: &str| {
        all.iter()
            .position(|s| {
                s["object"]["kind"] == kind && s["object"]["name"] == name && s["action"] == action
            })
            .unwrap_or_else(|| panic!("{kind}/{name} {action}"))
    };
    assert!(
        index("ConfigMap", "kafka-config", "apply") < index("StatefulSet", "kafka", "recreate")
    );
    assert_eq!(
        index("StatefulSet", "kafka", "wait"),
        index("StatefulSet", "kafka", "recreate") + 1
    );
    // The demo's one combined node becomes three dedicated controllers: a new quorum, so a new
    // cluster (its data was ephemeral), every pod deleted with its StatefulSet.
    let recreate = &all[index("StatefulSet", "kafka", "recreate")];
    assert_eq!(
        recreate["commands"][0],
        "kubectl delete statefulset kafka -n audience-manager --ignore-not-found --wait=true"
    );
    assert!(recreate["reason"].as_str().unwrap().contains("quorum"));
    let wait = &all[index("StatefulSet", "kafka", "wait")];
    assert_eq!(
        wait["commands"][0],
        "kubectl rollout status statefulset/kafka -n audience-manager --timeout=15m"
    );
}

#[test]
fn storage_mode_switch_is_an_orphan_delete_and_recreate() {
    let p = plan(&["demo", "prod", "--allow-data-loss"]);
    let s = steps(&p, "StatefulSet", "postgres");
    let recreate = s.iter().find(|s| s["action"] == "recreate").unwrap();
    assert_eq!(
        recreate["commands"][0],
        "kubectl delete statefulset postgres -n audience-manager --cascade=orphan --ignore-not-found --wait=true"
    );
    assert!(
        recreate["data_risk"]
            .as_str()
            .unwrap()
            .contains("start empty")
    );
    assert_eq!(recreate["refused"], false, "--allow-data-loss includes it");
    let p = plan(&["demo", "prod"]);
    let s = steps(&p, "StatefulSet", "postgres");
    assert_eq!(
        s.iter().find(|s| s["action"] == "recreate").unwrap()["refused"],
        true
    );
}

#[test]
fn kafka_replication_increase_emits_a_reassignment() {
    let p = plan(&[
        "prod",
        "prod",
        "--from-set",
        "kafka.default_replication_factor=2",
        "--from-set",
        "kafka.min_insync_replicas=1",
        "--from-set",
        "kafka.num_partitions=6",
    ]);
    let r = steps(&p, "KafkaTopics", "kafka");
    let reassign = r.iter().find(|s| s["action"] == "reassign").unwrap();
    let files = reassign["files"].as_array().unwrap();
    let json: Value = serde_json::from_str(files[0][1].as_str().unwrap()).unwrap();
    let parts = json["partitions"].as_array().unwrap();
    let events0 = parts
        .iter()
        .find(|p| p["topic"] == "events" && p["partition"] == 0)
        .unwrap();
    assert_eq!(events0["replicas"], serde_json::json!([0, 1, 2]));
    // 48 partitions of events, 12 of segment-updates (from 6), 24 of profile-updates.
    assert_eq!(parts.len(), 48 + 12 + 24);
    assert!(
        reassign["commands"][1]
            .as_str()
            .unwrap()
            .contains("kafka-reassign-partitions.sh")
    );
    assert!(r.iter().any(|s| {
        s["action"] == "alter-partitions"
            && s["reason"]
                .as_str()
                .unwrap()
                .contains("Keys hash to other partitions")
    }));
}

#[test]
fn data_loss_is_refused_unless_asked() {
    let p = plan(&["prod", "demo"]);
    let refused: Vec<&Value> = p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["refused"] == true)
        .collect();
    // Three dedicated controllers to the demo's one combined node: Kafka cannot change a
    // running static quorum, and prod's data is persistent: no flag includes it.
    assert!(refused.iter().any(|s| {
        s["object"]["name"] == "kafka"
            && s["data_risk"]
                .as_str()
                .is_some_and(|r| r.contains("quorum"))
    }));
    let (code, script, _) = amctl(&["migrate", "prod", "demo", "--format", "script"]);
    assert_eq!(code, 3);
    assert!(script.contains("# REFUSED"));
    let (code, script, _) = amctl(&[
        "migrate",
        "prod",
        "demo",
        "--format",
        "script",
        "--allow-data-loss",
        "--prune",
    ]);
    // What the flags include is in; Kafka's quorum change is not a flag's to include.
    assert_eq!(code, 3);
    assert!(
        !script.contains("# REFUSED: rerun `amctl migrate` with --allow-data-loss"),
        "{script}"
    );
    assert!(script.contains("# REFUSED: the server does not support this change"));
    assert!(
        script.contains("kubectl delete statefulset postgres -n audience-manager --cascade=orphan")
    );
}

#[test]
fn prune_deletes_only_when_asked_and_never_claims() {
    let dir = std::env::temp_dir().join(format!("amctl-migrate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let extra = dir.join("extra.yaml");
    let (_, demo, _) = amctl(&["render", "demo"]);
    std::fs::write(
        &extra,
        format!("{demo}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old-config\n  namespace: audience-manager\ndata:\n  a: b\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data-old-0\n  namespace: audience-manager\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n"),
    )
    .unwrap();
    let from = extra.to_str().unwrap();
    let p = plan(&[from, "demo"]);
    let cm = steps(&p, "ConfigMap", "old-config");
    assert_eq!(cm[0]["action"], "delete");
    assert_eq!(cm[0]["refused"], true);
    let p = plan(&[from, "demo", "--prune"]);
    let cm = steps(&p, "ConfigMap", "old-config");
    assert_eq!(cm[0]["refused"], false);
    assert_eq!(
        cm[0]["commands"][0],
        "kubectl delete configmap old-config -n audience-manager --ignore-not-found"
    );
    let pvc = steps(&p, "PersistentVolumeClaim", "data-old-0");
    assert_eq!(pvc[0]["action"], "keep", "claims are never deleted");
    assert!(pvc[0]["commands"].as_array().is_none_or(|c| c.is_empty()));
}

/// Each immutable field, on hand-made objects.
#[test]
fn immutable_fields_are_known() {
    let dir = std::env::temp_dir().join(format!("amctl-imm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sts = |selector: &str, service: &str, policy: &str, storage: &str| {
        format!(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: s\n  namespace: n\nspec:\n  serviceName: {service}\n  podManagementPolicy: {policy}\n  selector:\n    matchLabels:\n      app: {selector}\n  template:\n    metadata:\n      labels:\n        app: {selector}\n    spec:\n      containers:\n      - name: c\n        image: x:1\n  volumeClaimTemplates:\n  - metadata:\n      name: data\n    spec:\n      accessModes: [ReadWriteOnce]\n      resources:\n        requests:\n          storage: {storage}\n"
        )
    };
    let base = dir.join("base.yaml");
    std::fs::write(&base, sts("a", "h", "OrderedReady", "1Gi")).unwrap();
    for (name, text, path) in [
        (
            "selector",
            sts("b", "h", "OrderedReady", "1Gi"),
            "spec.selector",
        ),
        (
            "service",
            sts("a", "h2", "OrderedReady", "1Gi"),
            "spec.serviceName",
        ),
        (
            "policy",
            sts("a", "h", "Parallel", "1Gi"),
            "spec.podManagementPolicy",
        ),
        (
            "claims",
            sts("a", "h", "OrderedReady", "2Gi"),
            "spec.volumeClaimTemplates",
        ),
    ] {
        let f = dir.join(format!("{name}.yaml"));
        std::fs::write(&f, text).unwrap();
        let p = plan(&[base.to_str().unwrap(), f.to_str().unwrap(), "-n", "n"]);
        let s = steps(&p, "StatefulSet", "s");
        let r = s
            .iter()
            .find(|s| s["action"] == "recreate")
            .unwrap_or_else(|| panic!("{name}: {p}"));
        assert!(r["reason"].as_str().unwrap().contains(path), "{name}: {r}");
    }
    let dep = |sel: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: n\nspec:\n  selector:\n    matchLabels:\n      app: {sel}\n  template:\n    metadata:\n      labels:\n        app: {sel}\n    spec:\n      containers:\n      - name: c\n        image: x:1\n"
        )
    };
    let svc = |ip: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: v\n  namespace: n\nspec:\n  clusterIP: {ip}\n  ports:\n  - port: 80\n"
        )
    };
    let pvc = |size: &str, mode: &str| {
        format!(
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: p\n  namespace: n\nspec:\n  accessModes: [{mode}]\n  resources:\n    requests:\n      storage: {size}\n"
        )
    };
    for (kind, name, a, b, action) in [
        ("Deployment", "d", dep("a"), dep("b"), "recreate"),
        ("Service", "v", svc("10.0.0.1"), svc("10.0.0.2"), "recreate"),
        // A file says nothing of the claim's binding or class: the grow checks both first
        // (and makes a never-bound claim anew), then applies it.
        (
            "PersistentVolumeClaim",
            "p",
            pvc("1Gi", "ReadWriteOnce"),
            pvc("2Gi", "ReadWriteOnce"),
            "apply",
        ),
        // Never a re-create: the claim's data would go with it.
        (
            "PersistentVolumeClaim",
            "p",
            pvc("1Gi", "ReadWriteOnce"),
            pvc("1Gi", "ReadWriteMany"),
            "apply",
        ),
    ] {
        let (fa, fb) = (dir.join("a.yaml"), dir.join("b.yaml"));
        std::fs::write(&fa, a).unwrap();
        std::fs::write(&fb, &b).unwrap();
        let p = plan(&[fa.to_str().unwrap(), fb.to_str().unwrap(), "-n", "n"]);
        let s = steps(&p, kind, name);
        assert_eq!(s[0]["action"], action, "{kind}: {p}");
        if kind == "PersistentVolumeClaim" && action == "apply" {
            let grows = b.contains("2Gi");
            assert_eq!(s[0]["refused"], !grows, "{p}");
            assert_eq!(
                s[0]["commands"].as_array().unwrap().is_empty(),
                !grows,
                "{p}"
            );
        }
    }
    // A shrinking claim is refused whatever the flags: the server would reject it.
    let (fa, fb) = (dir.join("a.yaml"), dir.join("b.yaml"));
    std::fs::write(&fa, pvc("2Gi", "ReadWriteOnce")).unwrap();
    std::fs::write(&fb, pvc("1Gi", "ReadWriteOnce")).unwrap();
    let p = plan(&[
        fa.to_str().unwrap(),
        fb.to_str().unwrap(),
        "-n",
        "n",
        "--allow-data-loss",
    ]);
    let s = steps(&p, "PersistentVolumeClaim", "p");
    assert_eq!(s[0]["refused"], true);
    assert_eq!(s[0]["in_apply_stream"], false);
}

#[test]
fn phase_filter_and_patches() {
    let p = plan(&["demo", "prod", "--phase", "3"]);
    assert!(
        p["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["phase"] == 3)
    );
    let (code, _, err) = amctl(&["migrate", "demo", "prod", "--phase", "4"]);
    assert_eq!(code, 2, "{err}");
    let (_, patches, _) = amctl(&["migrate", "demo", "prod", "--format", "patches"]);
    assert!(patches.contains(
        "kubectl patch deployment segment-api -n audience-manager --type strategic -p '"
    ));
    // NodePort → ClusterIP applies in place: the API server drops the nodePorts it assigned
    // (pkg/registry/core/service/strategy.go dropTypeDependentFields).
    assert!(patches.contains("kubectl patch service segment-api -n audience-manager --type strategic -p '{\"spec\":{\"type\":\"ClusterIP\"}}'"), "{patches}");
    let (_, patches, _) = amctl(&[
        "migrate",
        "prod",
        "prod",
        "--set",
        "flink.taskmanager.replicas=8",
        "--format",
        "patches",
    ]);
    assert!(
        patches.contains(
            "kubectl scale deployment flink-taskmanager -n audience-manager --replicas=8"
        ),
        "{patches}"
    );
}

/// Hardening order: certificates are issued (and waited for) before the workloads that mount
/// them; the replication role is created after the primary's rollout and before the standbys;
/// standbys are held back with a refused primary.
#[test]
fn certificates_and_replication_come_in_a_working_order() {
    let p = plan(&["demo", "prod", "--allow-data-loss"]);
    let all = p["steps"].as_array().unwrap();
    let index = |kind: &str, name: &str, action: &str| -> usize {
        all.iter()
            .position(|s| {
                s["object"]["kind"] == kind && s["object"]["name"] == name && s["action"] == action
            })
            .unwrap_or_else(|| panic!("no {action} {kind}/{name}"))
    };
    for cert in ["postgres-tls", "kafka-tls", "flink-tls", "api-ingress-tls"] {
        let create = index("Certificate", cert, "create");
        let wait = index("Certificate", cert, "wait");
        assert_eq!(all[create]["phase"], 1, "{cert}");
        assert_eq!(
            wait,
            create + 1,
            "{cert} is waited for right after it is created"
        );
        assert!(
            all[wait]["commands"][0]
                .as_str()
                .unwrap()
                .contains("--for=condition=Ready certificate/")
        );
        assert!(create < index("StatefulSet", "postgres", "recreate"));
    }
    let primary_wait = index("StatefulSet", "postgres", "wait");
    let role = index("PostgresRole", "replicator", "exec");
    let standby = index("StatefulSet", "postgres-replica", "create");
    assert!(
        primary_wait < role && role < standby,
        "{primary_wait} {role} {standby}"
    );
    assert!(
        all[role]["commands"][0]
            .as_str()
            .unwrap()
            .contains("-f /docker-entrypoint-initdb.d/10-replication.sql")
    );

    let held = plan(&["demo", "prod"]);
    let standby = steps(&held, "StatefulSet", "postgres-replica");
    assert_eq!(standby.len(), 1, "no wait for a held-back standby");
    assert_eq!(standby[0]["refused"], true);
    assert_eq!(
        steps(&held, "PostgresRole", "replicator")[0]["refused"],
        true
    );
}

/// migrate goes through render's validation gate: no plan toward a profile that would not run.
#[test]
fn no_plan_toward_an_invalid_profile() {
    let (code, out, err) = amctl(&[
        "migrate",
        "demo",
        "prod",
        "--set",
        "kafka.resources.limits.memory=300Mi",
    ]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("error[jvm.memory]"), "{err}");
    assert!(
        err.contains("error: `prod` has 1 validation error(s); no step was planned"),
        "{err}"
    );
}

// What the API server accepts (kube::server restates its update rules): a claim is never
// deleted, never shrunk, grown only where the server takes it; a cluster read back plans
// nothing it should not.

/// `amctl render PROFILE -o json`, as the cluster hands it back after it was applied, in a file.
fn cluster(dir: &crate::common::TempDir, profile: &str) -> String {
    let (code, list, err) = amctl(&["render", profile, "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let mut v: Value = serde_json::from_str(&list).unwrap();
    for item in v["items"].as_array_mut().unwrap() {
        crate::live::read_back(item);
    }
    let file = dir
        .path()
        .join(format!("{}.json", profile.replace('/', "_")));
    std::fs::write(&file, v.to_string()).unwrap();
    file.to_str().unwrap().to_string()
}

fn deletes_a_claim(script: &str) -> bool {
    script.lines().any(|l| {
        l.starts_with("kubectl delete")
            && (l.contains(" pvc ") || l.contains(" persistentvolumeclaim"))
    })
}

#[test]
fn a_class_change_never_deletes_a_claim() {
    for flags in [&[][..], &["--allow-data-loss", "--prune"][..]] {
        let mut args = vec![
            "migrate",
            "prod",
            "prod",
            "--set",
            "storage.class=standard",
            "--format",
            "script",
        ];
        args.extend_from_slice(flags);
        let (code, script, _) = amctl(&args);
        assert_eq!(code, 3, "the claim's step is refused: {script}");
        assert!(!deletes_a_claim(&script), "{script}");
        assert!(
            script
                .contains("# Step 1: apply PersistentVolumeClaim audience-manager/postgres-backup")
        );
        assert!(
            script.contains("ValidatePersistentVolumeClaimUpdate"),
            "{script}"
        );
        assert!(script.contains("amctl never deletes a claim"), "{script}");
        assert!(
            script
                .contains("REFUSED: the server does not support this change; no flag includes it")
        );
    }
}

#[test]
fn a_cluster_read_back_plans_nothing_against_its_profile() {
    let dir = crate::common::TempDir::new();
    for profile in ["demo", "prod", "examples/prod-aws.toml"] {
        let live = cluster(&dir, profile);
        let p = plan(&[&live, profile]);
        assert!(p["steps"].as_array().unwrap().is_empty(), "{profile}: {p}");
        let (code, out, _) = amctl(&["diff", &live, profile]);
        assert_eq!(code, 0, "{profile}: {out}");
    }
}

#[test]
fn a_claim_never_shrinks_whatever_the_flags() {
    let (code, stream, err) = amctl(&[
        "migrate",
        "prod",
        "prod",
        "--set",
        "postgres.backup.volume.size=1Ti",
        "--allow-data-loss",
        "--format",
        "apply",
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(!stream.contains("kind: PersistentVolumeClaim"), "{stream}");
    assert!(
        err.contains("PersistentVolumeClaim audience-manager/postgres-backup"),
        "{err}"
    );
    let p = plan(&[
        "prod",
        "prod",
        "--set",
        "postgres.backup.volume.size=1Ti",
        "--allow-data-loss",
    ]);
    let s = steps(&p, "PersistentVolumeClaim", "postgres-backup");
    assert_eq!(s[0]["refused"], true);
    assert!(
        s[0]["data_risk"]
            .as_str()
            .unwrap()
            .contains("field can not be less than previous value"),
        "{p}"
    );
}

#[test]
fn a_claim_grows_only_where_the_server_takes_it() {
    let dir = crate::common::TempDir::new();
    let grow = ["--set", "postgres.backup.volume.size=3Ti"];
    // amctl renders the class without expansion: refused, with the fix.
    let mut args = vec!["examples/prod-aws.toml", "examples/prod-aws.toml"];
    args.extend_from_slice(&grow);
    args.extend_from_slice(&["--set", "storage.define_class.allow_volume_expansion=false"]);
    let p = plan(&args);
    let s = steps(&p, "PersistentVolumeClaim", "postgres-backup");
    assert_eq!(s[0]["refused"], true, "{p}");
    assert!(
        s[0]["data_risk"]
            .as_str()
            .unwrap()
            .contains("storage.define_class.allow_volume_expansion = true")
    );
    // Read back Bound, in a class amctl renders with expansion: in the apply stream.
    let live = cluster(&dir, "examples/prod-aws.toml");
    let (code, stream, err) = amctl(&[
        "migrate",
        &live,
        "examples/prod-aws.toml",
        grow[0],
        grow[1],
        "--format",
        "apply",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stream.contains("kind: PersistentVolumeClaim"), "{stream}");
    assert!(stream.contains("storage: 3Ti"), "{stream}");
    // A class the cluster owns (prod names fast-ssd, renders none): the step checks the claim
    // and its class in the cluster first, and stays out of the apply stream.
    let live = cluster(&dir, "prod");
    let (code, script, _) = amctl(&[
        "migrate", &live, "prod", grow[0], grow[1], "--format", "script",
    ]);
    assert_eq!(code, 0, "{script}");
    assert!(
        script.contains("# Step 1: apply PersistentVolumeClaim audience-manager/postgres-backup"),
        "{script}"
    );
    // A claim never bound (the backup's, before the CronJob's first run) is made anew.
    assert!(
        script.contains("kubectl delete pvc postgres-backup -n audience-manager --wait=true"),
        "{script}"
    );
    assert!(
        script.contains("its StorageClass has allowVolumeExpansion: true"),
        "{script}"
    );
    assert!(
        script.contains("jsonpath='\\''{.allowVolumeExpansion}'\\''"),
        "{script}"
    );
    let (code, _, err) = amctl(&[
        "migrate", &live, "prod", grow[0], grow[1], "--format", "apply",
    ]);
    assert_eq!(code, 3, "left out of the apply stream: {err}");
    assert!(
        err.contains("apply PersistentVolumeClaim audience-manager/postgres-backup"),
        "{err}"
    );
}

#[test]
fn jobs_are_replaced_by_name_and_deleted_idempotently() {
    // Any change of the topic Job's template is a new Job (its name hashes the template).
    let dir = crate::common::TempDir::new();
    let live = cluster(&dir, "prod");
    let p = plan(&[&live, "prod", "--set", "kafka.image=apache/kafka:4.1.2"]);
    let jobs: Vec<&Value> = p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["object"]["kind"] == "Job")
        .collect();
    assert_eq!(jobs.len(), 1, "{p}");
    assert_eq!(jobs[0]["action"], "create");
    // A Job whose template changes under the same name: deleted with its pods, idempotently.
    let job = |image: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n  namespace: n\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: {image}\n"
        )
    };
    let (fa, fb) = (dir.path().join("ja.yaml"), dir.path().join("jb.yaml"));
    std::fs::write(&fa, job("x:1")).unwrap();
    std::fs::write(&fb, job("x:2")).unwrap();
    let p = plan(&[fa.to_str().unwrap(), fb.to_str().unwrap(), "-n", "n"]);
    let s = steps(&p, "Job", "j");
    assert_eq!(s[0]["action"], "recreate");
    assert_eq!(
        s[0]["commands"][0],
        "kubectl delete job j -n n --ignore-not-found --wait=true"
    );
}

#[test]
fn node_port_to_cluster_ip_applies_in_place() {
    let p = plan(&["demo", "prod"]);
    let s = steps(&p, "Service", "segment-api");
    assert_eq!(s[0]["action"], "apply");
    assert_eq!(s[0]["in_apply_stream"], true, "{}", s[0]);
    assert!(
        s[0]["reason"]
            .as_str()
            .unwrap()
            .contains("dropTypeDependentFields")
    );
}

#[test]
fn every_kind_amctl_renders_has_its_update_rules_stated() {
    use amctl::kube::server::{MUTABLE, RULES};
    for profile in ["demo", "prod", "examples/prod-aws.toml"] {
        let (_, list, _) = amctl(&["render", profile, "-o", "json"]);
        let v: Value = serde_json::from_str(&list).unwrap();
        for item in v["items"].as_array().unwrap() {
            let kind = item["kind"].as_str().unwrap();
            let stated =
                RULES.iter().any(|r| r.kind == kind) || MUTABLE.iter().any(|(k, _)| *k == kind);
            assert!(
                stated,
                "{profile}: {kind} has no update rules in kube::server"
            );
        }
    }
}
