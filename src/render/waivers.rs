//! checkov waivers: the few checks amctl's manifests knowingly do not follow, each justified on
//! the object itself (`checkov.io/skipN: CHECK=reason`) and in docs/rendered.md.

use crate::kube::{Bundle, Object};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

const PULL_POLICY: &str = "CKV_K8S_15=Images are pinned to a release: IfNotPresent avoids a registry pull on every restart and keeps nodes working when the registry is unreachable";
const DIGEST: &str = "CKV_K8S_43=Images are pinned by release tag; put a digest in the profile's image (name@sha256:...) to pin by content";
const UID: &str = "CKV_K8S_40=Runs as the image's own unprivileged user (postgres 999, flink 9999, appuser 1000), which owns the installation; other UIDs break initdb and the entrypoints";
const API_TOKEN: &str = "CKV_K8S_38=Flink's Kubernetes HA elects its leader through the API (ConfigMaps and leases of the flink-ha Role): the token is needed";
const NO_POLICIES: &str = "CKV2_K8S_6=This profile runs without network policies (security.network_policies is off), as the platform spec's demo column has it";
const SECRET_ENV: &str = "CKV_K8S_35=Flink's S3 filesystem reads credentials only from the environment; prefer pod identity (IRSA, workload identity) and leave flink.s3_credentials_secret unset";

/// The waivers that apply to a pod template.
/// checkov reads `CHECK=reason` and splits on `=`: reasons must not contain one.
fn reasons(template: &PodTemplateSpec, policies: bool) -> Vec<&'static str> {
    let Some(spec) = &template.spec else {
        return Vec::new();
    };
    let containers: Vec<_> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .collect();
    let mut reasons = vec![PULL_POLICY, UID];
    if containers
        .iter()
        .any(|c| !c.image.as_deref().unwrap_or("").contains('@'))
    {
        reasons.push(DIGEST);
    }
    if containers.iter().any(|c| {
        c.env.iter().flatten().any(|e| {
            e.value_from
                .as_ref()
                .is_some_and(|v| v.secret_key_ref.is_some())
        })
    }) {
        reasons.push(SECRET_ENV);
    }
    if spec.automount_service_account_token == Some(true) {
        reasons.push(API_TOKEN);
    }
    if !policies {
        reasons.push(NO_POLICIES);
    }
    reasons
}

fn waive(meta: &mut ObjectMeta, reasons: &[&str]) {
    let annotations = meta.annotations.get_or_insert_with(Default::default);
    for (i, r) in reasons.iter().enumerate() {
        annotations.insert(format!("checkov.io/skip{}", i + 1), r.to_string());
    }
}

pub fn apply(bundle: &mut Bundle) {
    let policies = bundle
        .items
        .iter()
        .any(|i| matches!(*i.object, Object::NetworkPolicy(_)));
    for item in &mut bundle.items {
        match &mut *item.object {
            Object::StatefulSet(s) => {
                if let Some(spec) = &s.spec {
                    let r = reasons(&spec.template, policies);
                    waive(&mut s.metadata, &r);
                }
            }
            Object::Deployment(d) => {
                if let Some(spec) = &d.spec {
                    let r = reasons(&spec.template, policies);
                    waive(&mut d.metadata, &r);
                }
            }
            Object::Job(j) => {
                if let Some(spec) = &j.spec {
                    let r = reasons(&spec.template, policies);
                    waive(&mut j.metadata, &r);
                }
            }
            Object::CronJob(c) => {
                if let Some(t) = c.spec.as_ref().and_then(|s| s.job_template.spec.as_ref()) {
                    let r = reasons(&t.template, policies);
                    waive(&mut c.metadata, &r);
                }
            }
            _ => {}
        }
    }
}
