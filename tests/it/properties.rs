//! Properties over generated profiles: rendering is deterministic, every object's YAML reads
//! back (serde-saphyr) as the object itself, a render diffs clean against itself read back from
//! YAML, and a migration plan applied to A gives B.

use amctl::diff::{self, Obj};
use amctl::kube::Bundle;
use amctl::migrate::{self, Action, Options};
use amctl::profile::{LoadOptions, Loaded, load};
use amctl::render::{RenderOptions, render};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn overrides() -> impl Strategy<Value = (String, Vec<String>)> {
    let base = prop_oneof![Just("demo".to_string()), Just("prod".to_string())];
    let sets = (
        1u32..6,
        0u32..5,
        5u32..400,
        prop_oneof![Just("64MB"), Just("128MB"), Just("1GB")],
        1u32..8,
        1u32..64,
        prop_oneof![Just("ephemeral"), Just("persistent")],
        1u32..300,
        1u32..50,
        1u32..5,
        1u32..12,
    )
        .prop_map(|(b, r, c, sb, tm, par, mode, th, parts, asr, nodes)| {
            vec![
                format!("kafka.brokers={b}"),
                format!("api.replicas={r}"),
                format!("postgres.max_connections={c}"),
                format!("postgres.shared_buffers={sb}"),
                format!("flink.taskmanager.replicas={tm}"),
                format!("flink.parallelism_default={par}"),
                format!("storage.mode={mode}"),
                format!("api.tomcat_max_threads={th}"),
                format!("kafka.num_partitions={parts}"),
                format!("aerospike.replicas={asr}"),
                format!("cluster.nodes={nodes}"),
            ]
        });
    // The production hardening switches, each on its own or together.
    let hardening = (
        any::<bool>(),
        prop_oneof![Just("none"), Just("essential"), Just("full")],
        1u32..4,
    )
        .prop_map(|(tls, level, pg)| {
            vec![
                format!("security.tls={tls}"),
                format!("monitoring.level={level}"),
                format!("postgres.replicas={pg}"),
            ]
        });
    let sets = (sets, hardening).prop_map(|(mut a, b)| {
        a.extend(b);
        a
    });
    (base, sets, proptest::collection::vec(any::<bool>(), 14)).prop_map(|(base, sets, keep)| {
        // Each override is applied or not, so bases are exercised as well as extremes.
        let chosen = sets
            .into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(s, _)| s)
            .collect();
        (base, chosen)
    })
}

/// Profiles whose storage differs too: the class, and the claims' sizes up and down.
fn storage_overrides() -> impl Strategy<Value = (String, Vec<String>)> {
    (
        overrides(),
        prop_oneof![Just(None), Just(Some("fast-ssd")), Just(Some("standard"))],
        prop_oneof![
            Just(None),
            Just(Some("1Gi")),
            Just(Some("500Gi")),
            Just(Some("1Ti"))
        ],
        prop_oneof![
            Just(None),
            Just(Some("2Gi")),
            Just(Some("1Ti")),
            Just(Some("2Ti"))
        ],
        prop_oneof![
            Just(None),
            Just(Some("1Ti")),
            Just(Some("2Ti")),
            Just(Some("3Ti"))
        ],
    )
        .prop_map(|((base, mut sets), class, kafka, pg, backup)| {
            if let Some(c) = class {
                sets.push(format!("storage.class={c}"));
            }
            if let Some(k) = kafka {
                sets.push(format!("kafka.storage.size={k}"));
            }
            if let Some(p) = pg {
                sets.push(format!("postgres.storage.size={p}"));
            }
            // Only prod has a backup claim.
            if let Some(b) = backup
                && base == "prod"
            {
                sets.push(format!("postgres.backup.volume.size={b}"));
            }
            (base, sets)
        })
}

/// The render as a cluster hands it back (`kubectl get -o json` after it was applied).
fn read_back(bundle: &Bundle) -> Vec<Obj> {
    let items: Vec<serde_json::Value> = objects(bundle)
        .into_iter()
        .map(|o| {
            let mut v = o.value;
            crate::live::read_back(&mut v);
            v
        })
        .collect();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    diff::input::parse_stream("cluster.json", &list.to_string()).unwrap()
}

fn loaded(base: &str, sets: &[String]) -> Loaded {
    load(
        base,
        &LoadOptions {
            sets: sets.to_vec(),
        },
    )
    .expect("generated overrides are well-typed")
}

fn objects(bundle: &Bundle) -> Vec<Obj> {
    bundle
        .items
        .iter()
        .map(|i| Obj {
            kind: i.object.kind().to_string(),
            namespace: i.object.metadata().namespace.clone().unwrap_or_default(),
            name: i.object.name().to_string(),
            value: serde_json::to_value(&i.object).unwrap(),
            live: false,
            status: None,
            applied: None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn render_is_deterministic((base, sets) in overrides()) {
        let l = loaded(&base, &sets);
        let a = render(&l.profile, &RenderOptions::default()).unwrap();
        let b = render(&l.profile, &RenderOptions::default()).unwrap();
        prop_assert_eq!(amctl::output::bundle_yaml(&a).unwrap(), amctl::output::bundle_yaml(&b).unwrap());
        prop_assert_eq!(amctl::output::bundle_json(&a).unwrap(), amctl::output::bundle_json(&b).unwrap());
    }

    #[test]
    fn a_render_diffs_clean_against_itself((base, sets) in overrides()) {
        let l = loaded(&base, &sets);
        let bundle = render(&l.profile, &RenderOptions::default()).unwrap();
        let yaml = amctl::output::bundle_yaml(&bundle).unwrap();
        let read_back = diff::input::parse_stream("render.yaml", &yaml).unwrap();
        let diffs = diff::diff(objects(&bundle), read_back);
        prop_assert!(diffs.is_empty(), "{:?}", diffs.iter().map(|d| d.key.display()).collect::<Vec<_>>());
    }

    #[test]
    fn every_objects_yaml_reads_back_as_itself((base, sets) in overrides()) {
        let l = loaded(&base, &sets);
        let bundle = render(&l.profile, &RenderOptions::default()).unwrap();
        for item in &bundle.items {
            let want = serde_json::to_value(&*item.object).unwrap();
            let yaml = amctl::output::to_yaml(&*item.object).unwrap();
            let got: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
            prop_assert!(got == want, "{} {} reads back differently:\n{yaml}", item.object.kind(), item.object.name());
        }
    }

    #[test]
    fn a_plan_applied_to_a_gives_b((base_a, sets_a) in overrides(), (base_b, sets_b) in overrides()) {
        let (la, lb) = (loaded(&base_a, &sets_a), loaded(&base_b, &sets_b));
        let a = render(&la.profile, &RenderOptions::default()).unwrap();
        let b = render(&lb.profile, &RenderOptions::default()).unwrap();
        let plan = migrate::plan(
            "a",
            "b",
            objects(&a),
            objects(&b),
            Some((&la.profile, &lb.profile)),
            &Options { namespace: "audience-manager".into(), allow_data_loss: true, allow_data_migration: true, prune: true },
        );
        // With every flag given, only what the servers do not support is refused (a Kafka
        // quorum change, a skipped major, a downgrade); such a plan does not reach B.
        if plan.steps.iter().any(|s| s.refused) {
            prop_assert!(
                plan.steps.iter().filter(|s| s.refused).all(|s| s.opt_in.is_none()),
                "{:?}",
                plan.steps.iter().filter(|s| s.refused).map(|s| (s.object.display(), s.opt_in)).collect::<Vec<_>>()
            );
            return Ok(());
        }
        let mut state: BTreeMap<(String, String), Obj> = objects(&a)
            .into_iter()
            .map(|o| ((o.kind.clone(), o.name.clone()), o))
            .collect();
        for s in &plan.steps {
            let key = (s.object.kind.clone(), s.object.name.clone());
            match s.action {
                Action::Create | Action::Apply | Action::Scale { .. } | Action::Recreate => {
                    let Some(manifest) = s.manifest.clone() else { panic!("object steps carry their manifest: {} {}", s.action.as_str(), s.object.display()) };
                    // A renamed Job replaces the old one (which expires by its TTL).
                    if s.object.kind == "Job" {
                        let prefix = s.object.name.rsplit_once('-').map(|(p, _)| p.to_string()).unwrap_or_default();
                        state.retain(|(k, n), _| !(k == "Job" && n.starts_with(&prefix)));
                    }
                    state.insert(key, Obj {
                        kind: s.object.kind.clone(),
                        namespace: s.object.namespace.clone(),
                        name: s.object.name.clone(),
                        value: manifest,
                        live: false,
                        status: None,
                        applied: None,
                    });
                }
                // A kept claim (amctl never deletes data) is left to the operator: B lacks it.
                Action::Delete | Action::Keep => {
                    state.remove(&key);
                }
                _ => {}
            }
            // `kubectl patch KIND NAME --type merge -p BODY` (a held rollout released pod by pod).
            for c in &s.commands {
                if let [k, verb, kind, name, .., ty, merge, p, body] = c.argv.as_slice()
                    && k == "kubectl" && verb == "patch" && ty == "--type" && merge == "merge" && p == "-p"
                {
                    let kind = if kind == "statefulset" { "StatefulSet".to_string() } else { kind.clone() };
                    if let Some(o) = state.get_mut(&(kind, name.clone())) {
                        merge_patch(&mut o.value, &serde_json::from_str(body).unwrap());
                    }
                }
            }
        }
        // A rollout released down to partition 0 is the server's default strategy.
        let released = serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}});
        for o in state.values_mut() {
            if o.value["spec"]["updateStrategy"] == released {
                o.value["spec"].as_object_mut().unwrap().remove("updateStrategy");
            }
        }
        let diffs = diff::diff(state.into_values().collect(), objects(&b));
        prop_assert!(diffs.is_empty(), "{:?}", diffs.iter().map(|d| (d.key.display(), d.changes.iter().map(|c| c.path.clone()).collect::<Vec<_>>())).collect::<Vec<_>>());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// A cluster read back (every field the API server fills in) plans nothing against the
    /// profile it was rendered from.
    #[test]
    fn a_cluster_read_back_plans_nothing_against_its_own_profile((base, sets) in storage_overrides()) {
        let l = loaded(&base, &sets);
        let bundle = render(&l.profile, &RenderOptions::default()).unwrap();
        let plan = migrate::plan("cluster", "profile", read_back(&bundle), objects(&bundle), Some((&l.profile, &l.profile)), &opts(false, false));
        prop_assert!(plan.steps.is_empty(), "{:?}", plan.steps.iter().map(|s| (s.object.display(), s.reason.clone())).collect::<Vec<_>>());
    }

    /// Whatever the two profiles and flags, and whether FROM is a render or a cluster read
    /// back: no step deletes a claim, and every update in the apply stream is one the API
    /// server's update rules (kube::server, restated from its source) accept, as `kubectl
    /// apply` merges it into the live object.
    #[test]
    fn the_apply_stream_holds_only_updates_the_server_accepts(
        (base_a, sets_a) in storage_overrides(),
        (base_b, sets_b) in storage_overrides(),
        live in any::<bool>(),
        allow in any::<bool>(),
    ) {
        let (la, lb) = (loaded(&base_a, &sets_a), loaded(&base_b, &sets_b));
        let a = render(&la.profile, &RenderOptions::default()).unwrap();
        let b = render(&lb.profile, &RenderOptions::default()).unwrap();
        let from = if live { read_back(&a) } else { objects(&a) };
        let plan = migrate::plan("a", "b", from.clone(), objects(&b), Some((&la.profile, &lb.profile)), &opts(allow, allow));
        // TO's classes are applied before any claim (phase 1, StorageClass first).
        let expands: BTreeMap<String, bool> = objects(&b)
            .into_iter()
            .filter(|o| o.kind == "StorageClass")
            .map(|o| (o.name.clone(), o.value["allowVolumeExpansion"] == true))
            .collect();
        let manifests: BTreeMap<(String, String), serde_json::Value> = objects(&a)
            .into_iter()
            .map(|o| ((o.kind.clone(), o.name.clone()), o.value))
            .collect();
        for s in &plan.steps {
            let claim = s.object.kind == "PersistentVolumeClaim";
            prop_assert!(!(claim && matches!(s.action, Action::Delete | Action::Recreate)), "{} {}", s.action.as_str(), s.object.display());
            for c in &s.commands {
                let words: Vec<&str> = c.argv.iter().map(String::as_str).collect();
                prop_assert!(
                    !(words.first() == Some(&"kubectl") && words.contains(&"delete") && words.iter().any(|w| matches!(*w, "pvc" | "persistentvolumeclaim" | "persistentvolumeclaims"))),
                    "{} deletes a claim: {c}", s.object.display()
                );
            }
            if !s.in_apply_stream {
                continue;
            }
            let key = (s.object.kind.clone(), s.object.name.clone());
            let (Some(manifest), Some(last)) = (&s.manifest, manifests.get(&key)) else { continue };
            let now = from.iter().find(|o| o.kind == key.0 && o.name == key.1).unwrap();
            let applied = crate::live::kubectl_apply(&key.0, &now.value, last, manifest);
            let class = applied["spec"]["storageClassName"].as_str().unwrap_or_default();
            let state = amctl::kube::server::Claim {
                bound: now.status.as_ref().map(|st| st["phase"] == "Bound"),
                expands: expands.get(class).copied(),
            };
            let refused = amctl::kube::server::violations(&key.0, &now.value, &applied, state);
            prop_assert!(refused.is_empty(), "{} in the apply stream: {refused:?}", s.object.display());
        }
    }
}

fn opts(allow_data_loss: bool, allow_data_migration: bool) -> Options {
    Options {
        namespace: "audience-manager".into(),
        allow_data_loss,
        allow_data_migration,
        prune: allow_data_loss,
    }
}

/// RFC 7386 JSON merge patch, as `kubectl patch --type merge` applies it.
fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}
