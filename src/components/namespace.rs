//! The namespace, labelled with the Pod Security Standard the profile asks for, and the
//! StorageClass when the profile defines one.

use crate::error::Error;
use crate::kube::{Bundle, Object};
use crate::kube::{Ctx, PART_OF};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

pub fn render(ctx: &Ctx, bundle: &mut Bundle) -> Result<(), Error> {
    let level = ctx.profile.security.pod_security.as_str();
    let labels = BTreeMap::from([
        ("app.kubernetes.io/part-of".to_string(), PART_OF.to_string()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "amctl".to_string(),
        ),
        (
            "kubernetes.io/metadata.name".to_string(),
            ctx.ns.to_string(),
        ),
        (
            "pod-security.kubernetes.io/enforce".to_string(),
            level.to_string(),
        ),
        (
            "pod-security.kubernetes.io/enforce-version".to_string(),
            "latest".to_string(),
        ),
        // Warn and audit against the strictest level so drift towards it is visible.
        (
            "pod-security.kubernetes.io/warn".to_string(),
            "restricted".to_string(),
        ),
        (
            "pod-security.kubernetes.io/audit".to_string(),
            "restricted".to_string(),
        ),
    ]);
    if let Some(def) = &ctx.profile.storage.define_class {
        let name = ctx.profile.storage.class.clone().unwrap_or_default();
        bundle.push(
            "namespace",
            Object::StorageClass(StorageClass {
                metadata: ObjectMeta {
                    name: Some(name),
                    labels: Some(BTreeMap::from([
                        ("app.kubernetes.io/part-of".to_string(), PART_OF.to_string()),
                        (
                            "app.kubernetes.io/managed-by".to_string(),
                            "amctl".to_string(),
                        ),
                    ])),
                    ..Default::default()
                },
                provisioner: def.provisioner.clone(),
                parameters: (!def.parameters.is_empty()).then(|| def.parameters.clone()),
                reclaim_policy: Some(def.reclaim_policy.clone()),
                allow_volume_expansion: Some(def.allow_volume_expansion),
                volume_binding_mode: Some(def.volume_binding_mode.clone()),
                ..Default::default()
            }),
        );
    }
    bundle.push(
        "namespace",
        Object::Namespace(Namespace {
            metadata: ObjectMeta {
                name: Some(ctx.ns.to_string()),
                labels: Some(labels),
                ..Default::default()
            },
            ..Default::default()
        }),
    );
    Ok(())
}
