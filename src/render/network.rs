//! NetworkPolicies (`security.network_policies`): the namespace denies everything and allows
//! DNS, then each component allows exactly the flows it uses, at both ends (egress at the
//! client, ingress at the server). A server lets in the pods every component names as its
//! clients (`Component::clients_of`).

use crate::components::{self, Component};
use crate::kube::{Bundle, Ctx};

pub fn apply(registry: &[&Component], ctx: &Ctx, bundle: &mut Bundle) {
    if !ctx.profile.security.network_policies {
        return;
    }
    for c in registry {
        let clients = components::clients(registry, ctx, c.id);
        for policy in (c.network)(ctx, &clients) {
            bundle.push(c.id.name(), policy);
        }
    }
}
