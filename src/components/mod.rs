//! One module per platform component, and the registry [`ALL`]. Each module owns everything
//! about its component: its objects and config files, its rules, its start-up contract, the
//! Secrets it mounts, its network flows and scrape targets, its memory breakdown, how `budget`
//! draws it and what `diff` and `migrate` must know about it. The passes iterate [`ALL`].
//!
//! # Adding a component
//!
//! Write one module whose `FACETS` fills in a [`Component`] (a function per facet), add it to
//! [`ALL`] and a variant to [`ComponentId`]. `Component` has no `Default`, so a component that
//! leaves a facet out does not compile:
//!
//! ```compile_fail,E0063
//! use amctl::components::{Component, ComponentId};
//! const CACHE: Component = Component {
//!     id: ComponentId::Api,
//!     render: |_, _| Ok(()),
//!     style: None,
//!     // check, network, ... left out: error[E0063]: missing fields
//! };
//! ```
//!
//! The test `render::tests::toy_component_joins_every_pass` adds such a component (a variant, a
//! table, a registry entry) and checks that render, the network policies and monitoring pick it
//! up without a line changed in any pass.

pub mod aerospike;
pub mod api;
pub mod flink;
pub mod kafka;
pub mod namespace;
pub mod postgres;

use crate::change::{Impact, Options, Step, Upgrade};
use crate::contract::Contract;
use crate::error::Error;
use crate::kube::{Bundle, Ctx, Object};
use crate::profile::{Profile, Version};
use crate::rules::Check;
use crate::secrets::SecretSpec;
use std::collections::BTreeMap;

/// The components, in registry order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComponentId {
    Namespace,
    Postgres,
    Aerospike,
    Kafka,
    Flink,
    Api,
    /// The component the registry test adds (see the module docs).
    #[cfg(test)]
    Toy,
}

impl ComponentId {
    /// The name in labels (`app.kubernetes.io/part-of` siblings), findings and budgets.
    pub const fn name(self) -> &'static str {
        match self {
            ComponentId::Namespace => "namespace",
            ComponentId::Postgres => postgres::NAME,
            ComponentId::Aerospike => aerospike::NAME,
            ComponentId::Kafka => kafka::NAME,
            ComponentId::Flink => flink::NAME,
            ComponentId::Api => api::COMPONENT,
            #[cfg(test)]
            ComponentId::Toy => "toy",
        }
    }
}

/// A workload's place when pods compete for room (a lost node, memory pressure): data first,
/// then stream processing, then the stateless services, which can run anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// Pods that hold data on their volumes (the StatefulSets): pinned where their volumes are.
    Data,
    /// Stream processing (Flink): large pods, restarted from checkpoints.
    Processing,
    /// Stateless services and exporters: small, any node does.
    Service,
}

/// For a component whose workloads are all of one tier.
pub(crate) fn data_tier(_: &str) -> Tier {
    Tier::Data
}

pub(crate) fn service_tier(_: &str) -> Tier {
    Tier::Service
}

/// How `budget` draws a component: a letter for the text picture, an ANSI background colour
/// and an SVG fill.
pub struct Style {
    pub letter: char,
    pub ansi: &'static str,
    pub svg: &'static str,
}

/// Everything the passes ask of a component: a table of its functions, one per facet. The
/// struct has no `Default`, so a new component fills in every field, even if the answer is
/// "nothing" (the `none_*` functions below).
pub struct Component {
    pub id: ComponentId,
    /// Pushes its objects (workloads, Services, ConfigMaps, PDBs, Jobs...).
    pub render: fn(&Ctx, &mut Bundle) -> Result<(), Error>,
    /// Its validation rules, against the profile and the render.
    pub check: fn(&Check),
    /// The start-up contract of each of its containers.
    pub contracts: fn(&Ctx) -> Vec<Contract>,
    /// The Secrets it mounts and no object renders (what `amctl secrets` creates).
    pub secrets: fn(&Ctx) -> Vec<SecretSpec>,
    /// Its pods that connect to the component `server` as clients (for the server's ingress).
    pub clients_of: fn(&Ctx, ComponentId) -> Vec<String>,
    /// Its NetworkPolicies under the namespace's default-deny, given the pods of every
    /// component that connect to it as clients.
    pub network: fn(&Ctx, &[String]) -> Vec<Object>,
    /// Its scrape target with `monitoring.level = "full"` (a PodMonitor or ServiceMonitor).
    pub monitor: fn(&Ctx) -> Option<Object>,
    /// What runs inside one of its main containers (profile, workload, container), pool by
    /// pool, in bytes.
    pub memory: fn(&Profile, &str, &str) -> BTreeMap<String, u64>,
    /// For `explain KEY` (key, profile name, profile): the memory the key produces, as tables of
    /// pools, or nothing when the key is not about its memory.
    pub explain_memory: fn(&str, &str, &Profile) -> String,
    /// How `budget` draws it, if it runs pods.
    pub style: Option<Style>,
    /// The profile key that sets the replica count of its workload (by name).
    pub replicas_key: fn(&str) -> String,
    /// Which of its workloads (by name) outrank which when pods compete for a node.
    pub tier: fn(&str) -> Tier,
    /// What a change at a path (kind, name, path) of its object takes, where the component knows
    /// better than the Kubernetes rules (which settings need a restart, which counts move
    /// data); `None` leaves it to them.
    pub impact: fn(&str, &str, &str) -> Option<Impact>,
    /// What a version change of its server takes (container name, from, to), by the server's
    /// own upgrade rules; `None` for a container that is not its server's.
    pub upgrade: fn(&str, &Version, &Version) -> Option<Upgrade>,
    /// Its steps of a migration from one profile to another (upgrade and scaling rules, data
    /// risks), added to the object-level steps.
    pub migrate: fn(&Profile, &Profile, &Options, &mut Vec<Step>),
}

/// The registry, in render order: servers before their clients (the Bundle is sorted by kind
/// afterwards, stably, so this is also the order of objects of one kind).
pub static ALL: &[&Component] = &[
    &namespace::FACETS,
    &postgres::FACETS,
    &aerospike::FACETS,
    &kafka::FACETS,
    &flink::FACETS,
    &api::FACETS,
];

/// No rules.
pub(crate) fn none_check(_: &Check) {}

/// No containers, so no start-up contract.
pub(crate) fn none_contracts(_: &Ctx) -> Vec<Contract> {
    Vec::new()
}

/// No Secret of its own.
pub(crate) fn none_secrets(_: &Ctx) -> Vec<SecretSpec> {
    Vec::new()
}

/// A client of no other component.
pub(crate) fn none_clients(_: &Ctx, _: ComponentId) -> Vec<String> {
    Vec::new()
}

/// Nothing to scrape.
pub(crate) fn none_monitor(_: &Ctx) -> Option<Object> {
    None
}

/// No memory model.
pub(crate) fn none_memory(_: &Profile, _: &str, _: &str) -> BTreeMap<String, u64> {
    BTreeMap::new()
}

/// Nothing for `explain`.
pub(crate) fn none_explain(_: &str, _: &str, _: &Profile) -> String {
    String::new()
}

/// The Kubernetes rules decide.
pub(crate) fn none_impact(_: &str, _: &str, _: &str) -> Option<Impact> {
    None
}

/// No server with upgrade rules (the API services roll like any Deployment).
pub(crate) fn none_upgrade(_: &str, _: &Version, _: &Version) -> Option<Upgrade> {
    None
}

/// The upgrade rules of the component whose container `container` is.
pub(crate) fn upgrade(container: &str, from: &Version, to: &Version) -> Option<Upgrade> {
    ALL.iter().find_map(|c| (c.upgrade)(container, from, to))
}

/// The object-level steps are the whole migration.
pub(crate) fn none_migrate(_: &Profile, _: &Profile, _: &Options, _: &mut Vec<Step>) {}

/// The component named `name` (as in findings and budgets).
pub(crate) fn by_name(name: &str) -> Option<&'static Component> {
    ALL.iter().copied().find(|c| c.id.name() == name)
}

/// The pods that connect to `server`: outermost callers first (the registry in reverse), the
/// server's own helpers last.
pub(crate) fn clients(registry: &[&Component], ctx: &Ctx, server: ComponentId) -> Vec<String> {
    registry
        .iter()
        .rev()
        .flat_map(|c| (c.clients_of)(ctx, server))
        .collect()
}

/// Every component's start-up contracts, for this profile.
pub fn contracts(ctx: &Ctx) -> Vec<Contract> {
    ALL.iter().flat_map(|c| (c.contracts)(ctx)).collect()
}

/// Every Secret the render refers to and no object renders, merged by name.
pub fn secrets(ctx: &Ctx) -> Vec<SecretSpec> {
    crate::secrets::merge(ALL.iter().flat_map(|c| (c.secrets)(ctx)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each server's upgrade rules, by the kind of change they decide.
    #[test]
    fn upgrade_rules_per_server() {
        let v = |s: &str| Version(s.split('.').map(|p| p.parse().unwrap()).collect());
        let kind = |u: Upgrade| match u {
            Upgrade::Same => "same",
            Upgrade::Rolling(_) => "rolling",
            Upgrade::Procedure(_) => "procedure",
            Upgrade::DataMigration(_) => "data-migration",
            Upgrade::Refused(_) => "refused",
        };
        type Rule = fn(&Version, &Version) -> Upgrade;
        let cases: &[(Rule, &str, &str, &str)] = &[
            (postgres::upgrade_rule, "17.6", "17.6", "same"),
            (postgres::upgrade_rule, "17.6", "17.7", "rolling"),
            (postgres::upgrade_rule, "17.7", "17.6", "rolling"),
            (postgres::upgrade_rule, "17.6", "18.1", "data-migration"),
            (postgres::upgrade_rule, "16.4", "18.1", "data-migration"),
            (postgres::upgrade_rule, "18.1", "17.6", "refused"),
            (kafka::upgrade_rule, "4.1.1", "4.2.0", "rolling"),
            (kafka::upgrade_rule, "3.9.1", "4.1.1", "rolling"),
            (kafka::upgrade_rule, "3.2.3", "4.1.1", "refused"),
            (kafka::upgrade_rule, "2.8.2", "4.1.1", "refused"),
            (kafka::upgrade_rule, "4.1.2", "4.1.1", "rolling"),
            (kafka::upgrade_rule, "4.1.1", "4.0.0", "refused"),
            (aerospike::upgrade_rule, "8.0.0.10", "8.1.0.0", "rolling"),
            (aerospike::upgrade_rule, "7.2.0.4", "8.0.0.10", "rolling"),
            (aerospike::upgrade_rule, "6.4.0.0", "8.0.0.10", "refused"),
            (aerospike::upgrade_rule, "8.0.0.10", "7.2.0.4", "refused"),
            (flink::upgrade_rule, "2.1.1", "2.2.0", "procedure"),
            (flink::upgrade_rule, "2.1.1", "2.1.0", "procedure"),
            (flink::upgrade_rule, "1.20.1", "2.1.1", "data-migration"),
            (flink::upgrade_rule, "2.2.0", "2.1.1", "refused"),
        ];
        for (rule, from, to, want) in cases {
            assert_eq!(kind(rule(&v(from), &v(to))), *want, "{from} → {to}");
        }
        // The container decides whose rules apply.
        assert!(upgrade("postgres", &v("17.6"), &v("18.1")).is_some());
        assert!(upgrade("kafka-controller", &v("4.1.1"), &v("4.2.0")).is_some());
        assert!(upgrade("segment-api", &v("1.0"), &v("2.0")).is_none());
    }

    #[test]
    fn registry_ids_are_unique_and_in_enum_order() {
        let ids: Vec<ComponentId> = ALL.iter().map(|c| c.id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted);
    }
}
