//! Migrations that know the servers: version upgrades and scaling, each plan as a snapshot of
//! its steps and commands, and the rules that refuse what a server does not support.

use crate::common::{TempDir, run as amctl};
use serde_json::Value;

/// The plan as JSON, and the exit code of its apply stream (`--format apply`): 3 when a step is
/// refused or cannot be applied in place (a procedure, a re-create).
fn plan(args: &[&str]) -> (i32, Value) {
    let mut a = vec!["migrate"];
    a.extend_from_slice(args);
    let (code, _, err) = amctl(&a);
    assert!(code == 0 || code == 3, "exit {code}: {err}");
    a.extend_from_slice(&["-o", "json"]);
    let (_, out, err) = amctl(&a);
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}")),
    )
}

/// The steps that are not a label-only apply (every prod → prod plan with a new image relabels
/// the component's objects), one per line, with their commands: what a reviewer reads.
fn procedure(p: &Value) -> String {
    let mut out = String::new();
    for (i, s) in p["steps"].as_array().unwrap().iter().enumerate() {
        let reason = s["reason"].as_str().unwrap();
        let relabel = reason.starts_with("metadata.labels[\"app.kubernetes.io/version\"]")
            || reason.starts_with("labels[\"app.kubernetes.io/version\"]");
        if relabel && s["action"] == "apply" && s["refused"] == false {
            continue;
        }
        out.push_str(&format!(
            "{:>2} {}{} {}/{} [{}]\n   {reason}\n",
            i + 1,
            s["action"].as_str().unwrap(),
            if s["refused"] == true { " REFUSED" } else { "" },
            s["object"]["kind"].as_str().unwrap(),
            s["object"]["name"].as_str().unwrap(),
            s["impact"].as_str().unwrap(),
        ));
        if let Some(r) = s["data_risk"].as_str() {
            out.push_str(&format!("   risk: {r}\n"));
        }
        for c in s["commands"].as_array().unwrap() {
            out.push_str(&format!("   $ {}\n", c.as_str().unwrap()));
        }
        if s["in_apply_stream"] == false
            && let Some(m) = s.get("patch")
            && !m["spec"]["updateStrategy"].is_null()
        {
            out.push_str(&format!(
                "   patch.spec.updateStrategy: {}\n",
                m["spec"]["updateStrategy"]
            ));
        }
    }
    out
}

fn step<'a>(p: &'a Value, kind: &str, name: &str, action: &str) -> Option<&'a Value> {
    p["steps"].as_array().unwrap().iter().find(|s| {
        s["object"]["kind"] == kind && s["object"]["name"] == name && s["action"] == action
    })
}

fn index(p: &Value, pred: impl Fn(&Value) -> bool) -> usize {
    p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .position(pred)
        .expect("the step is in the plan")
}

#[test]
fn postgres_minor_upgrade_rolls_the_standbys_first() {
    let (code, p) = plan(&["prod", "prod", "--set", "postgres.image=\"postgres:17.7\""]);
    assert_eq!(
        code, 3,
        "the primary's rollout waits for the standbys': not in the apply stream"
    );
    let standby = index(&p, |s| {
        s["object"]["name"] == "postgres-replica" && s["action"] == "apply"
    });
    let primary = index(&p, |s| {
        s["object"]["name"] == "postgres"
            && s["action"] == "apply"
            && s["object"]["kind"] == "StatefulSet"
    });
    assert!(standby < primary);
    insta::assert_snapshot!("upgrade_postgres_minor", procedure(&p));
}

#[test]
fn postgres_major_upgrade_is_a_data_migration_only_with_the_flag() {
    let (code, p) = plan(&["prod", "prod", "--set", "postgres.image=\"postgres:18.1\""]);
    assert_eq!(code, 3);
    let sts = step(&p, "StatefulSet", "postgres", "apply").unwrap();
    assert_eq!(sts["refused"], true);
    assert_eq!(sts["impact"], "data-migration");
    let (_, out, _) = amctl(&[
        "migrate",
        "prod",
        "prod",
        "--set",
        "postgres.image=\"postgres:18.1\"",
        "--format",
        "script",
    ]);
    assert!(
        out.contains("# REFUSED: rerun `amctl migrate` with --allow-data-migration"),
        "{out}"
    );

    let (code, p) = plan(&[
        "prod",
        "prod",
        "--set",
        "postgres.image=\"postgres:18.1\"",
        "--allow-data-migration",
    ]);
    assert_eq!(code, 3, "a procedure, not an apply stream");
    let refused: Vec<&Value> = p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["refused"] == true)
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    // Dump before the new server, restore after its rollout, standbys after the restore.
    let dump = index(&p, |s| {
        s["commands"][0]
            .as_str()
            .is_some_and(|c| c.contains("pg_dump -Fc"))
    });
    let apply = index(&p, |s| {
        s["object"]["kind"] == "StatefulSet"
            && s["object"]["name"] == "postgres"
            && s["action"] == "apply"
    });
    let wait = index(&p, |s| {
        s["object"]["kind"] == "StatefulSet"
            && s["object"]["name"] == "postgres"
            && s["action"] == "wait"
    });
    let restore = index(&p, |s| {
        s["commands"][0]
            .as_str()
            .is_some_and(|c| c.contains("pg_restore"))
    });
    let standbys = index(&p, |s| {
        s["object"]["name"] == "postgres-replica" && s["action"] != "wait"
    });
    assert!(dump < apply && apply < wait && wait < restore && restore < standbys);
    insta::assert_snapshot!("upgrade_postgres_major", procedure(&p));
}

#[test]
fn the_new_major_gets_a_data_directory_of_its_own() {
    // The image's 18 checks for old data only when PGDATA is its default
    // (docker-library/postgres 18/trixie/docker-entrypoint.sh:248); amctl's is beside the 17 one.
    let (_, out, _) = amctl(&[
        "render",
        "prod",
        "--set",
        "postgres.image=\"postgres:18.1\"",
    ]);
    assert!(out.contains("value: /var/lib/postgresql/data/18/docker"));
    assert!(!out.contains("/var/lib/postgresql/18/docker"));
    let (_, out, _) = amctl(&["render", "prod"]);
    assert!(
        out.contains("value: /var/lib/postgresql/data/pgdata"),
        "17 keeps its directory"
    );
}

#[test]
fn a_postgres_downgrade_across_majors_is_refused_by_every_flag() {
    let (code, p) = plan(&[
        "prod",
        "prod",
        "--from-set",
        "postgres.image=\"postgres:18.1\"",
        "--allow-data-loss",
        "--allow-data-migration",
    ]);
    assert_eq!(code, 3);
    let sts = step(&p, "StatefulSet", "postgres", "apply").unwrap();
    assert_eq!(sts["refused"], true);
    assert!(
        sts["data_risk"]
            .as_str()
            .unwrap()
            .contains("cannot read a 18 data directory")
    );
    let (_, _, err) = amctl(&[
        "migrate",
        "prod",
        "prod",
        "--from-set",
        "postgres.image=\"postgres:18.1\"",
        "--allow-data-loss",
    ]);
    assert!(err.contains("no flag includes it"), "{err}");
}

#[test]
fn kafka_upgrade_rolls_controllers_then_brokers_then_raises_the_metadata_version() {
    let (code, p) = plan(&[
        "prod",
        "prod",
        "--set",
        "kafka.image=\"apache/kafka:4.2.0\"",
    ]);
    assert_eq!(code, 3);
    let features = step(&p, "KafkaFeatures", "kafka", "exec").unwrap();
    assert_eq!(
        features["refused"], true,
        "irreversible: only with --allow-data-migration"
    );
    let (_, p) = plan(&[
        "prod",
        "prod",
        "--set",
        "kafka.image=\"apache/kafka:4.2.0\"",
        "--allow-data-migration",
    ]);
    let controllers = index(&p, |s| {
        s["object"]["name"] == "kafka-controller" && s["action"] == "apply"
    });
    let last_controller = index(&p, |s| {
        s["reason"]
            .as_str()
            .unwrap()
            .starts_with("kafka-controller-0 onto")
    });
    let brokers = index(&p, |s| {
        s["object"]["name"] == "kafka"
            && s["object"]["kind"] == "StatefulSet"
            && s["action"] == "apply"
    });
    let last_broker = index(&p, |s| {
        s["reason"].as_str().unwrap().starts_with("kafka-0 onto")
    });
    let features = index(&p, |s| s["object"]["kind"] == "KafkaFeatures");
    assert!(
        controllers < last_controller
            && last_controller < brokers
            && brokers < last_broker
            && last_broker < features
    );
    // Applied held: no pod changes until the plan releases it.
    let sts = &p["steps"][brokers];
    assert!(sts["commands"].as_array().unwrap().is_empty());
    let (_, script, _) = amctl(&[
        "migrate",
        "prod",
        "prod",
        "--set",
        "kafka.image=\"apache/kafka:4.2.0\"",
        "--allow-data-migration",
        "--format",
        "script",
    ]);
    assert!(script.contains(
        "  updateStrategy:\n    rollingUpdate:\n      partition: 3\n    type: RollingUpdate\n"
    ));
    assert!(script.contains("kafka-features.sh --bootstrap-server kafka-0.kafka-headless.audience-manager.svc:9092 --command-config /etc/kafka/amctl/client.properties upgrade --release-version 4.2"));
    insta::assert_snapshot!("upgrade_kafka", procedure(&p));
}

#[test]
fn kafka_versions_kafka_does_not_support_are_refused() {
    for (from, to, why) in [
        (
            "apache/kafka:4.1.1",
            "apache/kafka:4.0.0",
            "cannot run a metadata version",
        ),
        (
            "apache/kafka:3.2.3",
            "apache/kafka:4.1.1",
            "upgrade to 3.9 first",
        ),
    ] {
        let (code, p) = plan(&[
            "prod",
            "prod",
            "--from-set",
            &format!("kafka.image=\"{from}\""),
            "--set",
            &format!("kafka.image=\"{to}\""),
            "--allow-data-loss",
            "--allow-data-migration",
        ]);
        assert_eq!(code, 3);
        let sts = step(&p, "StatefulSet", "kafka", "apply").unwrap();
        assert_eq!(sts["refused"], true, "{from} → {to}");
        assert!(sts["data_risk"].as_str().unwrap().contains(why), "{sts}");
    }
    // A patch release back within the same metadata versions rolls.
    let (_, p) = plan(&[
        "prod",
        "prod",
        "--from-set",
        "kafka.image=\"apache/kafka:4.1.2\"",
    ]);
    assert_eq!(
        step(&p, "StatefulSet", "kafka", "apply").unwrap()["refused"],
        false
    );
}

#[test]
fn kafka_scale_out_reassigns_onto_the_new_brokers() {
    let (code, p) = plan(&[
        "prod",
        "prod",
        "--set",
        "kafka.brokers=5",
        "--set",
        "cluster.nodes=12",
    ]);
    assert_eq!(code, 3, "the reassignment is not an apply");
    // The quorum stays: no controller object changes.
    assert!(
        p["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["object"]["name"] != "kafka-controller-config")
    );
    let r = step(&p, "KafkaTopics", "kafka", "reassign").unwrap();
    let json: Value = serde_json::from_str(r["files"][0][1].as_str().unwrap()).unwrap();
    assert_partitions_placed(
        &json,
        5,
        &[
            ("events", 48, 3),
            ("segment-updates", 12, 3),
            ("profile-updates", 24, 3),
            ("__consumer_offsets", 50, 3),
            ("__transaction_state", 50, 3),
        ],
    );
    // The new brokers get partitions.
    let on = |b: u64| {
        json["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["replicas"].as_array().unwrap().contains(&Value::from(b)))
            .count()
    };
    assert!(on(3) > 0 && on(4) > 0);
    insta::assert_snapshot!("upgrade_kafka_scale_out", procedure(&p));
}

#[test]
fn kafka_scale_in_drains_first_and_is_refused_while_a_replica_would_go() {
    let (code, p) = plan(&[
        "prod",
        "prod",
        "--from-set",
        "kafka.brokers=5",
        "--from-set",
        "cluster.nodes=12",
    ]);
    assert_eq!(code, 3);
    let drain = index(&p, |s| {
        s["object"]["kind"] == "KafkaTopics" && s["action"] == "reassign"
    });
    let scale = index(&p, |s| {
        s["object"]["name"] == "kafka"
            && s["object"]["kind"] == "StatefulSet"
            && s["action"] != "wait"
            && s["action"] != "exec"
    });
    let unregister = index(&p, |s| {
        s["commands"][0]
            .as_str()
            .is_some_and(|c| c.contains("kafka-cluster.sh unregister"))
    });
    assert!(drain < scale && scale < unregister);
    let json: Value =
        serde_json::from_str(p["steps"][drain]["files"][0][1].as_str().unwrap()).unwrap();
    assert_partitions_placed(
        &json,
        3,
        &[
            ("events", 48, 3),
            ("segment-updates", 12, 3),
            ("profile-updates", 24, 3),
            ("__consumer_offsets", 50, 3),
            ("__transaction_state", 50, 3),
        ],
    );
    assert_eq!(
        p["steps"][scale]["in_apply_stream"], false,
        "only after the drain"
    );
    insta::assert_snapshot!("upgrade_kafka_scale_in", procedure(&p));

    // 3 → 2 brokers with topics of replication factor 3: a replica would go.
    let (code, p) = plan(&[
        "prod",
        "prod",
        "--set",
        "kafka.brokers=2",
        "--set",
        "kafka.default_replication_factor=2",
        "--set",
        "kafka.min_insync_replicas=1",
        "--set",
        "kafka.offsets_topic_replication_factor=2",
        "--set",
        "kafka.transaction_state_log_replication_factor=2",
        "--set",
        "kafka.transaction_state_log_min_isr=1",
    ]);
    assert_eq!(code, 3);
    let drain = step(&p, "KafkaTopics", "kafka", "reassign").unwrap();
    assert_eq!(drain["refused"], true);
    assert!(
        drain["data_risk"]
            .as_str()
            .unwrap()
            .contains("would lose a replica on 2 broker(s)")
    );
    assert_eq!(
        step(&p, "StatefulSet", "kafka", "apply").unwrap()["refused"],
        true
    );
}

/// Every partition of every topic is placed once, on existing brokers (ids below `brokers`),
/// with `rf` distinct replicas.
fn assert_partitions_placed(json: &Value, brokers: u64, topics: &[(&str, u64, usize)]) {
    let parts = json["partitions"].as_array().unwrap();
    for (topic, partitions, rf) in topics {
        let mine: Vec<&Value> = parts.iter().filter(|p| p["topic"] == *topic).collect();
        assert_eq!(mine.len() as u64, *partitions, "{topic}");
        for (i, p) in mine.iter().enumerate() {
            assert_eq!(p["partition"], i as u64);
            let r: Vec<u64> = p["replicas"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap())
                .collect();
            assert_eq!(r.len(), *rf, "{topic}-{i}");
            assert!(r.iter().all(|b| *b < brokers), "{topic}-{i}: {r:?}");
            let mut d = r.clone();
            d.sort();
            d.dedup();
            assert_eq!(d.len(), r.len(), "{topic}-{i}: a broker twice");
        }
    }
}

#[test]
fn the_controller_quorum_never_changes_by_a_config_rewrite() {
    let (code, p) = plan(&[
        "prod",
        "prod",
        "--set",
        "kafka.controllers.replicas=5",
        "--allow-data-loss",
        "--allow-data-migration",
    ]);
    assert_eq!(code, 3);
    for name in ["kafka-controller", "kafka"] {
        let s = p["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["object"]["name"] == name && s["object"]["kind"] == "StatefulSet")
            .unwrap();
        assert_eq!(s["refused"], true, "{name}");
    }
    let cm = step(&p, "ConfigMap", "kafka-controller-config", "apply").unwrap();
    assert_eq!(
        cm["refused"], true,
        "the new voters stay out of the config too"
    );
    assert_eq!(cm["in_apply_stream"], false);
}

#[test]
fn aerospike_scale_and_upgrade_wait_for_migrations_node_by_node() {
    let (_, p) = plan(&[
        "prod",
        "prod",
        "--set",
        "aerospike.replicas=4",
        "--set",
        "cluster.nodes=12",
    ]);
    let out = procedure(&p);
    assert!(out.contains("cluster-stable:size=4;ignore-migrations=false"));
    insta::assert_snapshot!("upgrade_aerospike_scale_out", out);
    let (_, p) = plan(&[
        "prod",
        "prod",
        "--from-set",
        "aerospike.replicas=4",
        "--from-set",
        "cluster.nodes=12",
    ]);
    let leave = index(&p, |s| {
        s["reason"]
            .as_str()
            .unwrap()
            .starts_with("aerospike-3 leaves")
    });
    let apply = index(&p, |s| {
        s["object"]["name"] == "aerospike" && s["action"] == "apply"
    });
    assert!(leave < apply);
    insta::assert_snapshot!("upgrade_aerospike_scale_in", procedure(&p));
    let (_, p) = plan(&[
        "prod",
        "prod",
        "--set",
        "aerospike.image=\"aerospike/aerospike-server:8.1.0.0\"",
    ]);
    insta::assert_snapshot!("upgrade_aerospike", procedure(&p));
    let (code, p) = plan(&[
        "prod",
        "prod",
        "--from-set",
        "aerospike.image=\"aerospike/aerospike-server:7.2.0.4\"",
        "--allow-data-loss",
        "--allow-data-migration",
    ]);
    assert_eq!(
        code, 3,
        "one major up rolls node by node: not an apply stream"
    );
    assert_eq!(
        step(&p, "StatefulSet", "aerospike", "apply").unwrap()["refused"],
        false
    );
    // A single-copy namespace loses the records of a node that leaves.
    let one = "aerospike.namespaces[0].replication_factor=1";
    let (code, p) = plan(&[
        "prod",
        "prod",
        "--from-set",
        "aerospike.replicas=4",
        "--from-set",
        "cluster.nodes=12",
        "--from-set",
        one,
        "--set",
        one,
    ]);
    assert_eq!(code, 3);
    assert!(p["steps"].as_array().unwrap().iter().any(|s| {
        s["refused"] == true
            && s["data_risk"]
                .as_str()
                .is_some_and(|r| r.contains("one copy"))
    }));
}

#[test]
fn flink_upgrade_stops_the_jobs_with_a_savepoint_and_resumes_them() {
    let (code, p) = plan(&[
        "prod",
        "prod",
        "--set",
        "flink.image=\"flink:2.2.0-scala_2.12-java17\"",
    ]);
    assert_eq!(code, 3);
    let save = index(&p, |s| {
        s["commands"][0]
            .as_str()
            .is_some_and(|c| c.contains("flink stop --savepointPath"))
    });
    let jm = index(&p, |s| {
        s["object"]["name"] == "flink-jobmanager"
            && s["object"]["kind"] == "Deployment"
            && s["action"] == "apply"
    });
    let resume = index(&p, |s| {
        s["reason"].as_str().unwrap().starts_with("resume each job")
    });
    assert!(save < jm && jm < resume);
    assert!(
        p["steps"][save]["commands"][0]
            .as_str()
            .unwrap()
            .contains("s3://prod-checkpoints/savepoints")
    );
    insta::assert_snapshot!("upgrade_flink", procedure(&p));
    let (code, p) = plan(&[
        "prod",
        "prod",
        "--from-set",
        "flink.image=\"flink:2.2.0-scala_2.12-java17\"",
        "--allow-data-loss",
        "--allow-data-migration",
    ]);
    assert_eq!(code, 3);
    assert!(
        step(&p, "Deployment", "flink-jobmanager", "apply").unwrap()["data_risk"]
            .as_str()
            .unwrap()
            .contains("cannot be restored by the older")
    );
}

#[test]
fn diff_labels_a_version_change_with_its_true_impact() {
    for (set, impact) in [
        ("postgres.image=\"postgres:17.7\"", "rolling-restart"),
        ("postgres.image=\"postgres:18.1\"", "data-migration"),
        ("kafka.image=\"apache/kafka:4.0.0\"", "data-loss"),
        ("flink.image=\"flink:2.2.0-scala_2.12-java17\"", "restart"),
    ] {
        let (code, out, _) = amctl(&["diff", "prod", "prod", "--set", set, "--fields"]);
        assert_eq!(code, 1);
        let line = out
            .lines()
            .find(|l| {
                l.contains("containers[name=")
                    && l.contains("].image:")
                    && !l.contains("create-topics")
                    && !l.contains("pg-dump")
            })
            .unwrap();
        assert!(line.ends_with(&format!("[{impact}]")), "{set}: {line}");
    }
}

#[test]
fn claims_rendered_with_the_version_label_are_recreated_once() {
    // An installation rendered before the claim templates lost their version label.
    let (_, json, _) = amctl(&["render", "prod", "-o", "json"]);
    let mut old: Value = serde_json::from_str(&json).unwrap();
    for o in old["items"].as_array_mut().unwrap() {
        if o["kind"] == "StatefulSet" {
            let version = o["metadata"]["labels"]["app.kubernetes.io/version"].clone();
            for t in o["spec"]["volumeClaimTemplates"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                t["metadata"]["labels"]["app.kubernetes.io/version"] = version.clone();
            }
        }
    }
    let dir = TempDir::new();
    let file = dir.path().join("live.json");
    std::fs::write(&file, serde_json::to_string(&old).unwrap()).unwrap();
    let (code, p) = plan(&[file.to_str().unwrap(), "prod"]);
    assert_eq!(code, 3);
    let out = procedure(&p);
    assert!(out.contains("once: the claim templates no longer carry the version label"));
    insta::assert_snapshot!(
        "upgrade_old_claim_labels",
        out.replace(file.to_str().unwrap(), "live.json")
    );
    // After it, an image bump changes the template only.
    let (_, p) = plan(&["prod", "prod", "--set", "postgres.image=\"postgres:17.7\""]);
    assert!(step(&p, "StatefulSet", "postgres", "recreate").is_none());
}

#[test]
fn migrate_refuses_an_invalid_target_unless_told_to_skip_validation() {
    let (code, out, err) = amctl(&["migrate", "demo", "examples/spec-literal-prod.toml"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    assert!(
        err.contains("validation error(s); no step was planned"),
        "{err}"
    );
    let (code, out, err) = amctl(&[
        "migrate",
        "demo",
        "examples/spec-literal-prod.toml",
        "--skip-validation",
    ]);
    assert!(code == 0 || code == 3, "{err}");
    assert!(out.contains("kind: Deployment"), "{out}");
    assert!(err.contains("WARNING"), "{err}");
    // diff reports an invalid side as such.
    let (code, _, err) = amctl(&["diff", "demo", "examples/spec-literal-prod.toml"]);
    assert_eq!(code, 1);
    assert!(err.contains("nothing was compared"), "{err}");
}

#[test]
fn explain_shows_the_controllers_own_jvm() {
    let (code, out, _) = amctl(&[
        "explain",
        "kafka.controllers.heap_opts",
        "--profile",
        "prod",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Kafka controller JVM in `prod` (limit 2Gi"),
        "{out}"
    );
    assert!(!out.contains("Kafka broker JVM"), "{out}");
}
