//! amctl diff: views, matching, live input, impact labels, exit codes and bad input.

use crate::common::run_stdin as amctl;
use serde_json::{Value, json};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("amctl-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn demo_to_prod_unified_snapshot() {
    let (code, out, _) = amctl(&["diff", "demo", "prod"], None);
    assert_eq!(code, 1);
    insta::assert_snapshot!("diff_demo_prod_unified", out);
}

#[test]
fn demo_to_prod_fields_snapshot() {
    let (code, out, _) = amctl(&["diff", "demo", "prod", "--fields"], None);
    assert_eq!(code, 1);
    assert!(out.contains(
        "spec.template.spec.containers[name=kafka].resources.limits.memory: 1200Mi → 16Gi  [rolling-restart]"
    ));
    assert!(out.contains("spec.replicas: 1 → 3  [data-migration]"));
    assert!(out.contains("data[\"postgresql.conf\"].shared_buffers: 128MB → 4GB  [restart]"));
    insta::assert_snapshot!("diff_demo_prod_fields", out);
}

#[test]
fn a_render_diffs_clean_against_itself_read_back() {
    let file = tmp("demo.yaml");
    let (_, yaml, _) = amctl(&["render", "demo"], None);
    std::fs::write(&file, &yaml).unwrap();
    let (code, out, _) = amctl(&["diff", "demo", file.to_str().unwrap()], None);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "0 changed, 0 added, 0 removed\n");
    // stdin, and a --out-dir directory, and JSON List input.
    let (code, _, _) = amctl(&["diff", "demo", "-"], Some(&yaml));
    assert_eq!(code, 0);
    let dir = tmp("out-prod");
    let (code, _, _) = amctl(
        &["render", "prod", "--out-dir", dir.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0);
    let (code, out, _) = amctl(&["diff", dir.to_str().unwrap(), "prod"], None);
    assert_eq!(code, 0, "{out}");
    let (_, list, _) = amctl(&["render", "prod", "-o", "json"], None);
    let (code, _, _) = amctl(&["diff", "prod", "-"], Some(&list));
    assert_eq!(code, 0);
}

/// What `kubectl get -o yaml` returns for applied objects: server fields, defaults, and
/// quantities spelled differently.
fn liven(v: &mut Value) {
    let meta = v["metadata"].as_object_mut().unwrap();
    meta.insert("uid".into(), json!("6f1c0a4e-1111-2222-3333-444455556666"));
    meta.insert("resourceVersion".into(), json!("123456"));
    meta.insert("generation".into(), json!(3));
    meta.insert("creationTimestamp".into(), json!("2026-11-27T10:00:00Z"));
    meta.insert(
        "managedFields".into(),
        json!([{"manager": "kubectl-client-side-apply"}]),
    );
    let annotations = meta.entry("annotations").or_insert(json!({}));
    annotations["kubectl.kubernetes.io/last-applied-configuration"] = json!("{...}");
    v["status"] = json!({"observedGeneration": 3});
    let kind = v["kind"].as_str().unwrap().to_string();
    match kind.as_str() {
        "Service" => {
            let spec = &mut v["spec"];
            if spec["clusterIP"].is_null() {
                spec["clusterIP"] = json!("10.43.12.7");
                spec["clusterIPs"] = json!(["10.43.12.7"]);
            }
            spec["ipFamilies"] = json!(["IPv4"]);
            spec["ipFamilyPolicy"] = json!("SingleStack");
            spec["sessionAffinity"] = json!("None");
            spec["internalTrafficPolicy"] = json!("Cluster");
            if spec["type"] == "NodePort" {
                for p in spec["ports"].as_array_mut().unwrap() {
                    p["nodePort"] = json!(31234);
                }
                spec["externalTrafficPolicy"] = json!("Cluster");
            }
        }
        "StatefulSet" | "Deployment" => {
            let spec = &mut v["spec"];
            if spec["revisionHistoryLimit"].is_null() {
                spec["revisionHistoryLimit"] = json!(10);
            }
            if kind == "Deployment" {
                spec["progressDeadlineSeconds"] = json!(600);
                spec["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
            } else {
                spec["updateStrategy"] =
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}});
                if let Some(vcts) = spec["volumeClaimTemplates"].as_array_mut() {
                    for vct in vcts {
                        vct["spec"]["volumeMode"] = json!("Filesystem");
                        vct["status"] = json!({"phase": "Pending"});
                    }
                }
            }
            let tspec = &mut spec["template"]["spec"];
            tspec["dnsPolicy"] = json!("ClusterFirst");
            tspec["restartPolicy"] = json!("Always");
            tspec["schedulerName"] = json!("default-scheduler");
            spec["template"]["metadata"]["creationTimestamp"] = Value::Null;
            let tspec = &mut spec["template"]["spec"];
            let mut containers = tspec["containers"].as_array().cloned().unwrap();
            for c in containers.iter_mut() {
                c["terminationMessagePath"] = json!("/dev/termination-log");
                c["terminationMessagePolicy"] = json!("File");
                // The server spells quantities its own way.
                if c["resources"]["limits"]["memory"] == "1Gi" {
                    c["resources"]["limits"]["memory"] = json!("1024Mi");
                }
                if c["resources"]["limits"]["cpu"] == "1" {
                    c["resources"]["limits"]["cpu"] = json!("1000m");
                }
                if let Some(env) = c["env"].as_array_mut() {
                    env.reverse();
                }
            }
            // And lists of named items come back in another order.
            containers.reverse();
            tspec["containers"] = Value::Array(containers);
            if let Some(vols) = tspec["volumes"].as_array_mut() {
                vols.reverse();
                for vol in vols {
                    if let Some(cm) = vol.get_mut("configMap") {
                        cm["defaultMode"] = json!(420);
                    }
                }
            }
        }
        _ => {}
    }
}

#[test]
fn live_objects_diff_clean_against_their_profile() {
    let (_, list, _) = amctl(&["render", "demo", "-o", "json"], None);
    let mut v: Value = serde_json::from_str(&list).unwrap();
    for item in v["items"].as_array_mut().unwrap() {
        liven(item);
    }
    let (code, out, _) = amctl(&["diff", "demo", "-", "--fields"], Some(&v.to_string()));
    assert_eq!(code, 0, "{out}");

    // A real drift still shows: someone scaled PostgreSQL's memory by hand.
    let items = v["items"].as_array_mut().unwrap();
    let pg = items
        .iter_mut()
        .find(|i| i["kind"] == "StatefulSet" && i["metadata"]["name"] == "postgres")
        .unwrap();
    pg["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] =
        json!("768Mi");
    let (code, out, _) = amctl(&["diff", "-", "demo", "--fields"], Some(&v.to_string()));
    assert_eq!(code, 1);
    assert!(
        out.contains("spec.template.spec.containers[name=postgres].resources.limits.memory: 768Mi → 512Mi  [rolling-restart]"),
        "{out}"
    );
    assert!(
        out.ends_with("1 changed, 0 added, 0 removed; most disruptive: rolling-restart\n"),
        "{out}"
    );
}

fn impacts(from: &str, to: &str, sets: &[&str]) -> Value {
    let mut args = vec!["diff", from, to, "-o", "json"];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    let (code, out, err) = amctl(&args, None);
    assert!(code <= 1, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn has(v: &Value, kind: &str, path: &str, impact: &str) -> bool {
    v["objects"].as_array().unwrap().iter().any(|o| {
        o["kind"] == kind
            && o["changes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["path"] == path && c["impact"] == impact)
    })
}

#[test]
fn every_impact_label() {
    let v = impacts("prod", "prod", &["api.autoscaling.max_replicas=10"]);
    assert!(has(
        &v,
        "HorizontalPodAutoscaler",
        "spec.maxReplicas",
        "none"
    ));
    let v = impacts("demo", "demo", &["postgres.work_mem=1MB"]);
    assert!(has(
        &v,
        "ConfigMap",
        "data[\"postgresql.conf\"].work_mem",
        "reload"
    ));
    let v = impacts("demo", "demo", &["postgres.max_connections=18"]);
    assert!(has(
        &v,
        "ConfigMap",
        "data[\"postgresql.conf\"].max_connections",
        "restart"
    ));
    assert!(has(
        &v,
        "StatefulSet",
        "spec.template.metadata.annotations[\"amctl.io/config-checksum\"]",
        "rolling-restart"
    ));
    let v = impacts("demo", "prod", &[]);
    assert!(has(
        &v,
        "StatefulSet",
        "spec.volumeClaimTemplates",
        "recreate"
    ));
    assert!(has(
        &v,
        "ConfigMap",
        "data[\"server.properties\"].default.replication.factor",
        "data-migration"
    ));
    assert!(has(
        &v,
        "ConfigMap",
        "data[\"aerospike.conf\"].namespace[audience].replication-factor",
        "data-migration"
    ));
    let v = impacts("prod", "demo", &[]);
    assert!(has(
        &v,
        "StatefulSet",
        "spec.volumeClaimTemplates",
        "data-loss"
    ));
    assert_eq!(v["summary"]["impact"], "data-loss");
    let v = impacts("prod", "prod", &["postgres.storage.size=500Gi"]);
    assert!(
        v["objects"][0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"].as_str().unwrap().ends_with("storage") && c["impact"] == "recreate"),
        "{v}"
    );
}

#[test]
fn quantities_compare_by_value_and_lists_by_name() {
    let a = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[
      {"name":"a","image":"x:1","resources":{"limits":{"memory":"1Gi","cpu":"1"}}},
      {"name":"b","image":"y:1","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}}"#;
    let b = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[
      {"name":"b","image":"y:1","env":[{"name":"B","value":"2"},{"name":"A","value":"1"}]},
      {"name":"a","image":"x:1","resources":{"limits":{"memory":"1024Mi","cpu":"1000m"}}}]}}"#;
    let fa = tmp("a.json");
    std::fs::write(&fa, a).unwrap();
    let (code, out, _) = amctl(&["diff", fa.to_str().unwrap(), "-"], Some(b));
    assert_eq!(code, 0, "{out}");
    let c = b.replace("\"value\":\"2\"", "\"value\":\"3\"");
    let (code, out, _) = amctl(&["diff", fa.to_str().unwrap(), "-", "--fields"], Some(&c));
    assert_eq!(code, 1);
    assert!(
        out.contains("spec.containers[name=b].env[name=B].value: 2 → 3"),
        "{out}"
    );
}

#[test]
fn exit_codes() {
    let (code, _, _) = amctl(&["diff", "demo", "demo"], None);
    assert_eq!(code, 0);
    let (code, _, _) = amctl(&["diff", "demo", "prod"], None);
    assert_eq!(code, 1);
    let (code, out, _) = amctl(&["diff", "demo", "prod", "--exit-zero"], None);
    assert_eq!(code, 0);
    assert!(!out.is_empty());
    let (code, _, _) = amctl(&["diff", "demo", "nope"], None);
    assert_eq!(code, 2);
}

#[test]
fn bad_input_is_reported_with_file_document_and_line() {
    let f = tmp("broken.yaml");
    std::fs::write(&f, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: [unclosed\n").unwrap();
    let (code, out, err) = amctl(&["diff", "demo", f.to_str().unwrap()], None);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("broken.yaml:7:") && err.contains("document 2"),
        "{err}"
    );

    let f = tmp("nokind.yaml");
    std::fs::write(&f, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nmetadata:\n  name: b\n").unwrap();
    let (code, out, err) = amctl(&["diff", "demo", f.to_str().unwrap()], None);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("nokind.yaml:6: document 2 has no kind"),
        "{err}"
    );

    let (code, out, err) = amctl(&["diff", "demo", "dmeo"], None);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("did you mean `demo`?"), "{err}");

    // Nothing close to a built-in: the message names the built-ins and every accepted input.
    let (code, out, err) = amctl(&["diff", "demo", "/no/such/manifests"], None);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("built-in profile (demo, prod)"), "{err}");
    assert!(err.contains("= help: pass a built-in profile"), "{err}");
}

#[test]
fn json_schema_is_stable() {
    let v = impacts("demo", "prod", &[]);
    assert_eq!(v["schema"], "amctl.diff/v1");
    assert_eq!(v["from"], "demo");
    for o in v["objects"].as_array().unwrap() {
        for k in ["kind", "namespace", "name", "status", "impact", "changes"] {
            assert!(!o[k].is_null(), "{k} in {o}");
        }
    }
}

/// diff goes through render's validation gate: a side with validation errors is not compared.
#[test]
fn an_invalid_profile_is_not_compared() {
    // work_mem 4MB × 20 connections puts demo's PostgreSQL over its 512Mi limit.
    let (code, out, err) = amctl(
        &[
            "diff",
            "demo",
            "prod",
            "--from-set",
            "postgres.work_mem=4MB",
        ],
        None,
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("error[postgres.memory]"), "{err}");
    assert!(
        err.contains("error: `demo` has 1 validation error(s); nothing was compared"),
        "{err}"
    );
    // The same profile, valid, is compared.
    let (code, out, _) = amctl(
        &[
            "diff",
            "demo",
            "prod",
            "--from-set",
            "postgres.work_mem=1MB",
        ],
        None,
    );
    assert_eq!(code, 1);
    assert!(out.contains("most disruptive"), "{out}");
}
