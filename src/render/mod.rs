//! Profile → Bundle: every component renders its objects, then the cross-cutting passes
//! (availability, monitoring, network policies, checkov waivers) add theirs, and the bundle is
//! put in apply order.

pub(crate) mod availability;
pub mod monitoring;
pub mod network;
pub(crate) mod waivers;

use crate::components::{self, Component};
use crate::error::Error;
pub use crate::kube::RenderOptions;
use crate::kube::{Bundle, Ctx};
use crate::profile::Profile;

/// Renders the whole platform.
pub fn render(profile: &Profile, opts: &RenderOptions) -> Result<Bundle, Error> {
    render_with(components::ALL, profile, opts)
}

/// Renders the platform of the components in `registry`.
pub(crate) fn render_with(
    registry: &[&Component],
    profile: &Profile,
    opts: &RenderOptions,
) -> Result<Bundle, Error> {
    let ctx = Ctx::new(profile, &opts.namespace);
    let mut bundle = Bundle {
        namespace: opts.namespace.clone(),
        items: Vec::new(),
    };
    for component in registry {
        (component.render)(&ctx, &mut bundle)?;
    }
    availability::apply(
        &mut bundle,
        profile.cluster.zones.len(),
        profile.cluster.nodes,
    );
    availability::priorities(registry, &ctx, &mut bundle);
    monitoring::apply(registry, &ctx, &mut bundle);
    network::apply(registry, &ctx, &mut bundle);
    waivers::apply(&mut bundle);
    bundle.sort();
    Ok(bundle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::{self as c, ComponentId, postgres};
    use crate::kube::{Object, k8s};
    use k8s_openapi::api::core::v1::ConfigMap;

    /// A toy cache: one ConfigMap, a client of PostgreSQL, scraped like the others.
    const TOY: Component = Component {
        id: ComponentId::Toy,
        render: |ctx, bundle| {
            bundle.push(
                "toy",
                Object::ConfigMap(ConfigMap {
                    metadata: k8s::meta("toy", ctx.ns, ctx.labels("toy", "cache", "")),
                    ..Default::default()
                }),
            );
            Ok(())
        },
        check: c::none_check,
        contracts: c::none_contracts,
        secrets: c::none_secrets,
        clients_of: |_, server| match server {
            ComponentId::Postgres => vec!["toy".into()],
            _ => Vec::new(),
        },
        network: |ctx, _| {
            use crate::kube::netpol::{Rules, pods, policy};
            vec![policy(
                ctx,
                "toy",
                "toy",
                k8s::name_in(&["toy"]),
                Rules::new().to(vec![pods(&[postgres::NAME])], &[postgres::PORT]),
            )]
        },
        monitor: |ctx| Some(crate::kube::scrape::pod_monitor(ctx, "toy", &["toy"])),
        memory: c::none_memory,
        explain_memory: c::none_explain,
        style: None,
        replicas_key: |_| "toy.replicas".into(),
        tier: c::service_tier,
        impact: c::none_impact,
        upgrade: c::none_upgrade,
        migrate: c::none_migrate,
    };

    fn names(bundle: &Bundle, kind: &str) -> Vec<String> {
        bundle
            .items
            .iter()
            .filter(|i| i.object.kind() == kind)
            .map(|i| i.object.name().to_string())
            .collect()
    }

    #[test]
    fn toy_component_joins_every_pass() {
        let loaded = crate::profile::load("prod", &crate::profile::LoadOptions::default()).unwrap();
        let opts = RenderOptions {
            namespace: "am".into(),
        };
        let mut registry: Vec<&Component> = components::ALL.to_vec();
        let before = render_with(&registry, &loaded.profile, &opts).unwrap();
        registry.push(&TOY);
        let after = render_with(&registry, &loaded.profile, &opts).unwrap();

        // Its objects, its policy and its scrape target are in; nothing else was lost.
        assert!(names(&after, "ConfigMap").contains(&"toy".to_string()));
        assert!(names(&after, "NetworkPolicy").contains(&"toy".to_string()));
        assert!(names(&after, "PodMonitor").contains(&"toy".to_string()));
        assert_eq!(after.items.len(), before.items.len() + 3);

        // PostgreSQL's policy lets the new client in, and only the new one was added.
        let pg_policy = |b: &Bundle| {
            let item = b
                .items
                .iter()
                .find(|i| i.object.kind() == "NetworkPolicy" && i.object.name() == postgres::NAME)
                .unwrap();
            let Object::NetworkPolicy(np) = &*item.object else {
                unreachable!()
            };
            serde_json::to_string(np).unwrap()
        };
        assert!(!pg_policy(&before).contains("\"toy\""));
        assert!(pg_policy(&after).contains("\"toy\""));
    }
}
