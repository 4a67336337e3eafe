//! The rendered platform: snapshots of the built-in profiles and properties every object keeps.

use amctl::bundle::{Bundle, Object};
use amctl::profile::load::load_str;
use amctl::profile::{LoadOptions, load};
use amctl::render::{CHECKSUM_ANNOTATION, RenderOptions, render};
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
        .filter_map(|i| match &i.object {
            Object::StatefulSet(s) => Some((i.object.name(), &s.spec.as_ref()?.template)),
            Object::Deployment(d) => Some((i.object.name(), &d.spec.as_ref()?.template)),
            Object::Job(j) => Some((i.object.name(), &j.spec.as_ref()?.template)),
            _ => None,
        })
        .collect()
}

#[test]
fn demo_render_snapshot() {
    insta::assert_snapshot!("demo", bundle("demo", &[]).to_yaml().unwrap());
}

#[test]
fn prod_render_snapshot() {
    insta::assert_snapshot!("prod", bundle("prod", &[]).to_yaml().unwrap());
}

#[test]
fn render_is_deterministic() {
    for p in ["demo", "prod"] {
        assert_eq!(
            bundle(p, &[]).to_yaml().unwrap(),
            bundle(p, &[]).to_yaml().unwrap()
        );
        assert_eq!(
            bundle(p, &[]).to_json().unwrap(),
            bundle(p, &[]).to_json().unwrap()
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
            .find_map(|i| match &i.object {
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
    let yaml = b.to_yaml().unwrap();
    assert!(yaml.contains(
        "controller.quorum.voters=0@kafka-0.kafka-headless.audience-manager.svc:9093,1@kafka-1.kafka-headless.audience-manager.svc:9093,2@kafka-2.kafka-headless.audience-manager.svc:9093"
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
