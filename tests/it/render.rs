//! The rendered platform: snapshots of the built-in profiles and properties every object keeps.

use amctl::kube::CHECKSUM_ANNOTATION;
use amctl::kube::{Bundle, Object};
use amctl::profile::load::load_str;
use amctl::profile::{LoadOptions, load};
use amctl::render::{RenderOptions, render};
use k8s_openapi::api::core::v1::PodTemplateSpec;

fn bundle(name: &str, sets: &[&str]) -> Bundle {
    let loaded = load(
        name,
        &LoadOptions {
            sets: sets.iter().map(|s| s.to_string()).collect(),
        },
    )
    .unwrap();
    render(&loaded.profile, &RenderOptions::default()).unwrap()
}

fn templates(b: &Bundle) -> Vec<(&str, &PodTemplateSpec)> {
    b.items
        .iter()
        .filter_map(|i| match &*i.object {
            Object::StatefulSet(s) => Some((i.object.name(), &s.spec.as_ref()?.template)),
            Object::Deployment(d) => Some((i.object.name(), &d.spec.as_ref()?.template)),
            Object::Job(j) => Some((i.object.name(), &j.spec.as_ref()?.template)),
            _ => None,
        })
        .collect()
}

#[test]
fn demo_render_snapshot() {
    insta::assert_snapshot!(
        "demo",
        amctl::output::bundle_yaml(&bundle("demo", &[])).unwrap()
    );
}

#[test]
fn prod_render_snapshot() {
    insta::assert_snapshot!(
        "prod",
        amctl::output::bundle_yaml(&bundle("prod", &[])).unwrap()
    );
}

#[test]
fn render_is_deterministic() {
    for p in ["demo", "prod"] {
        assert_eq!(
            amctl::output::bundle_yaml(&bundle(p, &[])).unwrap(),
            amctl::output::bundle_yaml(&bundle(p, &[])).unwrap()
        );
        assert_eq!(
            amctl::output::bundle_json(&bundle(p, &[])).unwrap(),
            amctl::output::bundle_json(&bundle(p, &[])).unwrap()
        );
    }
}

#[test]
fn every_container_is_sized_and_locked_down() {
    for p in ["demo", "prod"] {
        let b = bundle(p, &[]);
        for (name, t) in templates(&b) {
            let spec = t.spec.as_ref().unwrap();
            let pod_sc = spec.security_context.as_ref().unwrap();
            assert_eq!(pod_sc.run_as_non_root, Some(true), "{name}");
            assert_eq!(
                pod_sc.seccomp_profile.as_ref().unwrap().type_,
                "RuntimeDefault",
                "{name}"
            );
            let all = spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten());
            for c in all {
                let r = c.resources.as_ref().unwrap();
                for side in [r.requests.as_ref().unwrap(), r.limits.as_ref().unwrap()] {
                    assert!(
                        side.contains_key("cpu") && side.contains_key("memory"),
                        "{name}/{}",
                        c.name
                    );
                }
                let sc = c.security_context.as_ref().unwrap();
                assert_eq!(
                    sc.allow_privilege_escalation,
                    Some(false),
                    "{name}/{}",
                    c.name
                );
                assert_eq!(
                    sc.capabilities.as_ref().unwrap().drop.as_deref(),
                    Some(&["ALL".to_string()][..]),
                    "{name}/{}",
                    c.name
                );
                assert_eq!(
                    sc.read_only_root_filesystem,
                    Some(true),
                    "{name}/{}",
                    c.name
                );
                let image = c.image.as_deref().unwrap();
                assert!(
                    image.contains(':') && !image.ends_with(":latest"),
                    "{image}"
                );
            }
        }
    }
}

#[test]
fn requests_and_limits_are_exactly_the_profiles() {
    let b = bundle("demo", &["postgres.resources.limits.memory=640Mi"]);
    let (_, t) = templates(&b)
        .into_iter()
        .find(|(n, _)| *n == "postgres")
        .unwrap();
    let c = &t.spec.as_ref().unwrap().containers[0];
    let limits = c.resources.as_ref().unwrap().limits.as_ref().unwrap();
    assert_eq!(limits["memory"].0, "640Mi");
}

#[test]
fn a_config_change_changes_the_checksum_and_nothing_else_does() {
    let checksum = |b: &Bundle, name: &str| {
        templates(b)
            .into_iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, t)| {
                t.metadata
                    .as_ref()?
                    .annotations
                    .as_ref()?
                    .get(CHECKSUM_ANNOTATION)
                    .cloned()
            })
            .unwrap()
    };
    let base = bundle("demo", &[]);
    let more_conns = bundle("demo", &["postgres.max_connections=30"]);
    let more_replicas = bundle("demo", &["api.replicas=2"]);
    assert_ne!(
        checksum(&base, "postgres"),
        checksum(&more_conns, "postgres")
    );
    assert_eq!(checksum(&base, "kafka"), checksum(&more_conns, "kafka"));
    assert_eq!(
        checksum(&base, "segment-api"),
        checksum(&more_replicas, "segment-api")
    );
}

#[test]
fn storage_mode_switches_between_empty_dir_and_claims() {
    let demo = bundle("demo", &[]);
    let prod = bundle("prod", &[]);
    let sts = |b: &Bundle, name: &str| {
        b.items
            .iter()
            .find_map(|i| match &*i.object {
                Object::StatefulSet(s) if i.object.name() == name => Some(s.clone()),
                _ => None,
            })
            .unwrap()
    };
    let d = sts(&demo, "postgres");
    let spec = d.spec.unwrap();
    assert!(spec.volume_claim_templates.is_none());
    let vols = spec.template.spec.unwrap().volumes.unwrap();
    let data = vols.iter().find(|v| v.name == "data").unwrap();
    assert_eq!(
        data.empty_dir
            .as_ref()
            .unwrap()
            .size_limit
            .as_ref()
            .unwrap()
            .0,
        "1Gi"
    );
    let p = sts(&prod, "postgres").spec.unwrap();
    let claim = &p.volume_claim_templates.unwrap()[0];
    let cs = claim.spec.as_ref().unwrap();
    assert_eq!(cs.storage_class_name.as_deref(), Some("fast-ssd"));
    assert_eq!(
        cs.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0,
        "1Ti"
    );
    assert_eq!(
        p.persistent_volume_claim_retention_policy
            .unwrap()
            .when_deleted
            .as_deref(),
        Some("Retain")
    );
}

#[test]
fn kafka_voters_and_aerospike_seeds_list_every_pod() {
    let b = bundle("prod", &[]);
    let yaml = amctl::output::bundle_yaml(&b).unwrap();
    assert!(yaml.contains(
        "controller.quorum.voters=1000@kafka-controller-0.kafka-controller-headless.audience-manager.svc:9093,1001@kafka-controller-1.kafka-controller-headless.audience-manager.svc:9093,1002@kafka-controller-2.kafka-controller-headless.audience-manager.svc:9093"
    ));
    // Brokers only, whatever their count: the quorum is the controllers'.
    assert!(yaml.contains("process.roles=broker\n"));
    assert!(yaml.contains("process.roles=controller\n"));
    let demo = amctl::output::bundle_yaml(&bundle("demo", &[])).unwrap();
    assert!(demo.contains(
        "process.roles=broker,controller\n    node.id=@NODE_ID@\n    controller.quorum.voters=0@kafka-0.kafka-headless.audience-manager.svc:9093\n"
    ));
    for i in 0..3 {
        assert!(yaml.contains(&format!(
            "mesh-seed-address-port aerospike-{i}.aerospike-headless.audience-manager.svc 3002"
        )));
    }
    assert!(
        !yaml
            .lines()
            .any(|l| l.trim_start().starts_with("memory-size"))
    );
}

#[test]
fn extends_merges_tables_and_named_lists() {
    let text = r#"
extends = "prod"
[kafka]
brokers = 5
[[api.services]]
name = "segment-api"
replicas = 7
[[api.services]]
name = "activation-api"
uses = ["kafka"]
"#;
    let loaded = load_str("inline.toml", text).unwrap();
    let p = &loaded.profile;
    assert_eq!(p.kafka.brokers, 5);
    assert_eq!(p.kafka.heap_opts, "-Xmx8g -Xms8g", "inherited");
    let names: Vec<&str> = p.api.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "segment-api",
            "profile-api",
            "ingestion-api",
            "activation-api"
        ]
    );
    assert_eq!(p.api.services[0].replicas, Some(7));
    assert_eq!(p.api.services[0].uses.len(), 2, "inherited from prod");
}

#[test]
fn the_order_is_dependency_order() {
    let b = bundle("prod", &[]);
    let ranks: Vec<u8> = b.items.iter().map(|i| i.object.rank()).collect();
    let mut sorted = ranks.clone();
    sorted.sort();
    assert_eq!(ranks, sorted);
    assert_eq!(b.items[0].object.kind(), "Namespace");
}

#[test]
fn zones_spread_replicas_and_a_storage_class_is_rendered_when_defined() {
    let b = bundle("prod", &[]);
    let (_, t) = templates(&b)
        .into_iter()
        .find(|(n, _)| *n == "kafka")
        .unwrap();
    let tsc = t
        .spec
        .as_ref()
        .unwrap()
        .topology_spread_constraints
        .as_ref()
        .unwrap();
    assert_eq!(tsc[0].topology_key, "topology.kubernetes.io/zone");
    assert!(
        !b.items.iter().any(|i| i.object.kind() == "StorageClass"),
        "prod expects fast-ssd to exist"
    );
    let b = bundle("examples/prod-aws.toml", &[]);
    let sc = b
        .items
        .iter()
        .find(|i| i.object.kind() == "StorageClass")
        .unwrap();
    assert_eq!(sc.object.name(), "fast-ssd");
    assert_eq!(b.items[0].object.kind(), "StorageClass", "applied first");
    let demo = bundle("demo", &[]);
    let (_, t) = templates(&demo)
        .into_iter()
        .find(|(n, _)| *n == "kafka")
        .unwrap();
    assert!(
        t.spec
            .as_ref()
            .unwrap()
            .topology_spread_constraints
            .is_none(),
        "one zone"
    );
}

/// Kinds and names of a bundle, for the switch tests.
fn has(b: &Bundle, kind: &str, name: &str) -> bool {
    b.items
        .iter()
        .any(|i| i.object.kind() == kind && i.object.name() == name)
}

fn config(b: &Bundle, map: &str, key: &str) -> String {
    b.items
        .iter()
        .find_map(|i| match &*i.object {
            Object::ConfigMap(c) if c.metadata.name.as_deref() == Some(map) => {
                c.data.as_ref()?.get(key).cloned()
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {key} in ConfigMap {map}"))
}

/// Each hardening switch works on its own in a custom profile, and the demo has none of them.
#[test]
fn hardening_switches_work_one_at_a_time() {
    let demo = bundle("demo", &[]);
    for kind in ["Certificate", "PodMonitor", "PrometheusRule", "CronJob"] {
        assert!(
            !demo.items.iter().any(|i| i.object.kind() == kind),
            "demo has a {kind}"
        );
    }
    assert!(!has(&demo, "StatefulSet", "postgres-replica"));

    // TLS with user-provided Secrets: wired, but no Certificate.
    let b = bundle("demo", &["security.tls=true"]);
    assert!(!b.items.iter().any(|i| i.object.kind() == "Certificate"));
    let pg = config(&b, "postgres-config", "postgresql.conf");
    assert!(
        pg.contains("ssl = on") && pg.contains("/etc/postgresql-tls/tls.key"),
        "{pg}"
    );
    assert!(config(&b, "postgres-config", "pg_hba.conf").contains("hostssl  all"));
    let kafka = config(&b, "kafka-config", "server.properties");
    assert!(kafka.contains("listeners=SSL://:9092") && kafka.contains("ssl.keystore.type=PEM"));
    let api = config(&b, "segment-api-config", "application.yaml");
    assert!(
        api.contains("sslmode=verify-full") && api.contains("protocol: \"SSL\""),
        "{api}"
    );
    assert!(
        config(&b, "flink-config", "config.yaml").contains("security.ssl.internal.enabled: true")
    );
    assert!(config(&b, "flink-config", "prepare.sh").contains("keystore-password"));

    // TLS with an issuer: one Certificate per endpoint; Aerospike CE gets none.
    let b = bundle(
        "demo",
        &["security.tls=true", "security.tls_issuer={ name = \"ca\" }"],
    );
    for cert in ["postgres-tls", "kafka-tls", "flink-tls"] {
        assert!(has(&b, "Certificate", cert), "{cert}");
    }
    assert!(!has(&b, "Certificate", "aerospike-tls"));

    // Monitoring "full": exporters, monitors, alerts with the demo's latency thresholds.
    let b = bundle("demo", &["monitoring.level=full"]);
    for m in ["postgres", "aerospike", "kafka", "flink"] {
        assert!(has(&b, "PodMonitor", m), "{m}");
    }
    assert!(has(&b, "ServiceMonitor", "api"));
    assert!(has(&b, "Service", "segment-api-metrics"));
    assert!(has(&b, "Deployment", "kafka-exporter"));
    let rules = b
        .items
        .iter()
        .find_map(|i| match &*i.object {
            Object::PrometheusRule(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    let api_rule = &rules.spec.groups[0].rules[0];
    assert!(
        api_rule.expr.ends_with("> 0.5"),
        "demo API threshold 500ms: {}",
        api_rule.expr
    );
    let names: Vec<&str> = templates(&b)
        .iter()
        .flat_map(|(_, t)| {
            t.spec
                .as_ref()
                .unwrap()
                .containers
                .iter()
                .map(|c| c.name.as_str())
        })
        .collect();
    assert!(names.contains(&"postgres-exporter") && names.contains(&"aerospike-exporter"));

    // Backups to a volume, and to S3.
    let b = bundle(
        "demo",
        &["postgres.backup={ retention_days = 7, volume = { size = \"10Gi\" } }"],
    );
    assert!(has(&b, "CronJob", "postgres-backup"));
    assert!(has(&b, "PersistentVolumeClaim", "postgres-backup"));
    assert!(config(&b, "postgres-backup", "backup.sh").contains("-mmin +10080"));
    let b = bundle(
        "demo",
        &[
            "postgres.backup={ retention_days = 3, s3 = { url = \"s3://bkp/pg\", credentials_secret = \"s3\" } }",
        ],
    );
    assert!(has(&b, "CronJob", "postgres-backup"));
    assert!(!has(&b, "PersistentVolumeClaim", "postgres-backup"));
    assert!(config(&b, "postgres-backup", "upload.sh").contains("s3://bkp/pg/"));
}

/// Prod: a primary and a streaming standby, never on one node, a read-only Service for the
/// standby, replication in pg_hba.conf, and the Aerospike TLS listener only for Enterprise.
#[test]
fn prod_replication_and_enterprise_tls() {
    let b = bundle("prod", &[]);
    assert!(has(&b, "StatefulSet", "postgres-replica"));
    assert!(has(&b, "Service", "postgres-ro"));
    let hba = config(&b, "postgres-config", "pg_hba.conf");
    assert!(hba.contains("hostssl  replication  replicator"), "{hba}");
    assert!(config(&b, "postgres-config", "clone-primary.sh").contains("pg_basebackup"));
    let replica = templates(&b)
        .into_iter()
        .find(|(n, _)| *n == "postgres-replica")
        .unwrap()
        .1
        .spec
        .clone()
        .unwrap();
    let anti = replica.affinity.unwrap().pod_anti_affinity.unwrap();
    let terms = anti
        .required_during_scheduling_ignored_during_execution
        .unwrap();
    assert!(terms.iter().any(|t| {
        t.label_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["app.kubernetes.io/name"]
            == "postgres"
    }));
    assert!(
        !has(&b, "Certificate", "aerospike-tls"),
        "Community Edition: no TLS"
    );
    let ee = bundle(
        "prod",
        &[
            "aerospike.image=\"aerospike/aerospike-server-enterprise:8.0.0.10\"",
            "aerospike.feature_key_secret=\"features\"",
        ],
    );
    assert!(has(&ee, "Certificate", "aerospike-tls"));
    assert!(config(&ee, "aerospike-config", "aerospike.conf").contains("tls-port 4333"));
}

/// A large render streams in chunks, yet an invalid profile prints nothing: validation comes
/// before the first byte.
#[test]
fn an_invalid_large_profile_prints_nothing() {
    let mut profile = String::from(
        "extends = \"prod\"\n[cluster]\nnodes = 40\n[api]\nreplicas = 1\nautoscaling = { min_replicas = 1, max_replicas = 2, target_cpu_percent = 70 }\nresources = { requests = { memory = \"512Mi\", cpu = \"100m\" }, limits = { memory = \"1Gi\", cpu = \"1\" } }\njava_opts = \"-Xmx512m -Xms512m -XX:MaxMetaspaceSize=128m -XX:ReservedCodeCacheSize=64m -XX:MaxDirectMemorySize=16m\"\ntomcat_max_threads = 50\n",
    );
    for i in 0..320 {
        profile.push_str(&format!(
            "[[api.services]]\nname = \"svc-{i}\"\nuses = [\"kafka\"]\ntopics = [\"events\"]\n"
        ));
    }
    let dir = std::env::temp_dir().join(format!("amctl-large-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("many.toml");
    std::fs::write(&path, profile).unwrap();
    let out = crate::common::amctl()
        .args(["render", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.len() > 2_000_000,
        "large: {} bytes",
        out.stdout.len()
    );

    // Serialization starts while validation runs: an invalid profile still prints nothing.
    let bad = dir.join("many-invalid.toml");
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "[cluster]\n",
        "[postgres]\nreplicas = 0\n[cluster]\n",
        1,
    );
    std::fs::write(&bad, text).unwrap();
    let out = crate::common::amctl()
        .args(["render", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "{} bytes on stdout",
        out.stdout.len()
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("postgres.replicas"));
}

/// The YAML writer's round trip on every shipped profile and example, prod with every switch on:
/// each object's YAML reads back (serde-saphyr) as the object itself.
#[test]
fn every_shipped_objects_yaml_reads_back_as_itself() {
    let mut profiles: Vec<(String, Vec<String>)> = vec![
        ("demo".into(), vec![]),
        ("prod".into(), vec![]),
        (
            "demo".into(),
            vec!["security.tls=true".into(), "monitoring.level=full".into()],
        ),
    ];
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")).unwrap() {
        let path = entry.unwrap().path();
        profiles.push((path.to_string_lossy().into_owned(), vec![]));
    }
    for (name, sets) in profiles {
        let l = load(&name, &LoadOptions { sets: sets.clone() }).unwrap();
        let b = render(&l.profile, &RenderOptions::default()).unwrap();
        for item in &b.items {
            let want = serde_json::to_value(&*item.object).unwrap();
            let yaml = amctl::output::to_yaml(&*item.object).unwrap();
            let got: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
            assert!(
                got == want,
                "{name} {sets:?}: {} {} reads back differently:\n{yaml}",
                item.object.kind(),
                item.object.name()
            );
        }
    }
}
