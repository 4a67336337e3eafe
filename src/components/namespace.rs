//! The namespace, labelled with the Pod Security Standard the profile asks for, and the
//! StorageClass when the profile defines one.

use crate::error::Error;
use crate::kube::ctx::MANAGED_BY;
use crate::kube::k8s;
use crate::kube::{Bundle, Object};
use crate::kube::{Ctx, PART_OF};
use k8s_openapi::api::core::v1::Namespace as NamespaceObject;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

pub fn render(ctx: &Ctx, bundle: &mut Bundle) -> Result<(), Error> {
    let level = ctx.profile.security.pod_security.as_str();
    // The instance label on the cluster-scoped objects too: a read-back finds the
    // installation's own with `-l app.kubernetes.io/instance=<namespace>`.
    let labels = BTreeMap::from([
        ("app.kubernetes.io/part-of".to_string(), PART_OF.to_string()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            MANAGED_BY.to_string(),
        ),
        ("app.kubernetes.io/instance".to_string(), ctx.ns.to_string()),
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
                            MANAGED_BY.to_string(),
                        ),
                        ("app.kubernetes.io/instance".to_string(), ctx.ns.to_string()),
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
        Object::Namespace(NamespaceObject {
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

/// The namespace: it runs nothing, and owns the policies every pod is under (deny everything,
/// allow DNS).
pub const FACETS: super::Component = super::Component {
    id: super::ComponentId::Namespace,
    render,
    check: super::none_check,
    contracts: super::none_contracts,
    secrets: super::none_secrets,
    clients_of: super::none_clients,
    network,
    monitor: super::none_monitor,
    memory: super::none_memory,
    explain_memory: super::none_explain,
    style: None,
    replicas_key,
    tier: super::service_tier,
    impact: super::none_impact,
    upgrade: super::none_upgrade,
    migrate: super::none_migrate,
};

fn replicas_key(_name: &str) -> String {
    "namespace.resources".into()
}

/// Deny everything in the namespace, then allow DNS to kube-system for every pod.
fn network(ctx: &Ctx, _clients: &[String]) -> Vec<Object> {
    use crate::kube::netpol::NS_LABEL;
    use k8s_openapi::api::networking::v1::{
        NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort,
        NetworkPolicySpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let deny = Object::NetworkPolicy(NetworkPolicy {
        metadata: k8s::meta(
            "default-deny",
            ctx.ns,
            ctx.labels("default-deny", "network-policy", ""),
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ..Default::default()
        }),
    });
    let selector = |key: &str, value: &str| LabelSelector {
        match_labels: Some(BTreeMap::from([(key.to_string(), value.to_string())])),
        ..Default::default()
    };
    let dns = NetworkPolicyPeer {
        namespace_selector: Some(selector(NS_LABEL, "kube-system")),
        pod_selector: Some(selector("k8s-app", "kube-dns")),
        ..Default::default()
    };
    let allow_dns = Object::NetworkPolicy(NetworkPolicy {
        metadata: k8s::meta(
            "allow-dns",
            ctx.ns,
            ctx.labels("allow-dns", "network-policy", ""),
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Egress".into()]),
            egress: Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![dns]),
                ports: Some(
                    ["UDP", "TCP"]
                        .iter()
                        .map(|proto| NetworkPolicyPort {
                            port: Some(IntOrString::Int(53)),
                            protocol: Some(proto.to_string()),
                            ..Default::default()
                        })
                        .collect(),
                ),
            }]),
            ..Default::default()
        }),
    });
    vec![deny, allow_dns]
}
