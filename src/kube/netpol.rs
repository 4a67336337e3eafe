//! The NetworkPolicy kit: peers, ports and a policy with ingress and egress rules. Each
//! component writes its own policies with it (`Component::network`).

use super::{Ctx, Object, k8s};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The label every namespace carries with its own name.
pub(crate) const NS_LABEL: &str = "kubernetes.io/metadata.name";

/// The pods of this namespace with one of these names (`app.kubernetes.io/name`).
pub fn pods<S: AsRef<str>>(names: &[S]) -> NetworkPolicyPeer {
    let names: Vec<&str> = names.iter().map(|n| n.as_ref()).collect();
    NetworkPolicyPeer {
        pod_selector: Some(k8s::name_in(&names)),
        ..Default::default()
    }
}

/// Every pod of another namespace.
pub fn namespace(ns: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(NS_LABEL.to_string(), ns.to_string())])),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The Prometheus namespace (`monitoring.scraper_namespace`).
pub fn scraper(ctx: &Ctx) -> Vec<NetworkPolicyPeer> {
    vec![namespace(&ctx.profile.monitoring.scraper_namespace)]
}

/// Any address, in or outside the cluster.
pub(crate) fn anywhere() -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        ip_block: Some(IPBlock {
            cidr: "0.0.0.0/0".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// TCP ports.
pub fn ports(list: &[i32]) -> Option<Vec<NetworkPolicyPort>> {
    Some(
        list.iter()
            .map(|p| NetworkPolicyPort {
                port: Some(IntOrString::Int(*p)),
                protocol: Some("TCP".into()),
                ..Default::default()
            })
            .collect(),
    )
}

/// The ingress and egress rules of one policy, in the order they are added.
#[derive(Default)]
pub(crate) struct Rules {
    ingress: Vec<NetworkPolicyIngressRule>,
    egress: Vec<NetworkPolicyEgressRule>,
}

impl Rules {
    pub fn new() -> Rules {
        Rules::default()
    }
    /// Allows `peers` in on ports `on`.
    pub fn from(mut self, peers: Vec<NetworkPolicyPeer>, on: &[i32]) -> Rules {
        self.ingress.push(NetworkPolicyIngressRule {
            from: Some(peers),
            ports: ports(on),
        });
        self
    }
    /// Allows connections out to `peers` on ports `on`.
    pub fn to(mut self, peers: Vec<NetworkPolicyPeer>, on: &[i32]) -> Rules {
        self.egress.push(NetworkPolicyEgressRule {
            to: Some(peers),
            ports: ports(on),
        });
        self
    }
}

/// A policy named `name` for the pods `applies_to` selects, labelled for `component`.
pub fn policy(
    ctx: &Ctx,
    name: &str,
    component: &str,
    applies_to: LabelSelector,
    rules: Rules,
) -> Object {
    let mut types = Vec::new();
    if !rules.ingress.is_empty() {
        types.push("Ingress".to_string());
    }
    if !rules.egress.is_empty() {
        types.push("Egress".to_string());
    }
    Object::NetworkPolicy(NetworkPolicy {
        metadata: k8s::meta(name, ctx.ns, ctx.labels(component, "network-policy", "")),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(applies_to),
            policy_types: Some(types),
            ingress: (!rules.ingress.is_empty()).then_some(rules.ingress),
            egress: (!rules.egress.is_empty()).then_some(rules.egress),
        }),
    })
}
