//! One module per platform component, and the registry [`ALL`]. Each module owns everything
//! about its component: its objects and config files, its rules, its start-up contract, the
//! Secrets it mounts, its network flows and scrape targets, its memory breakdown, how `budget`
//! draws it and what `migrate` must know about it. The passes (render, validate, budget,
//! migrate) iterate [`ALL`] and never name a component.
//!
//! # Adding a component
//!
//! Write one module with a unit struct implementing [`Component`] and add it to [`ALL`] and
//! [`ComponentId`]. Every facet is a required method, so a component that leaves one out does
//! not compile:
//!
//! ```compile_fail,E0046
//! use amctl::components::{Component, ComponentId};
//! struct Cache;
//! impl Component for Cache {
//!     fn id(&self) -> ComponentId { ComponentId::Api }
//!     // render, check, network, ... left out: error[E0046]: not all trait items implemented
//! }
//! ```
//!
//! The test `render::tests::toy_component_joins_every_pass` adds such a component (a variant, a unit
//! struct, a registry entry) and checks that render, the network policies and monitoring pick
//! it up without a line changed in any pass.

pub mod aerospike;
pub mod api;
pub mod flink;
pub mod kafka;
pub mod namespace;
pub mod postgres;

use crate::change::{Impact, Options, Step};
use crate::contract::Contract;
use crate::error::Error;
use crate::kube::{Bundle, Ctx, Object};
use crate::profile::Profile;
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

/// How `budget` draws a component: a letter for the text picture, an ANSI background colour
/// and an SVG fill.
pub struct Style {
    pub letter: char,
    pub ansi: &'static str,
    pub svg: &'static str,
}

/// Everything the passes ask of a component. No method has a default: a new component answers
/// each question, even if the answer is "nothing".
pub trait Component: Sync {
    fn id(&self) -> ComponentId;

    /// Pushes its objects (workloads, Services, ConfigMaps, PDBs, Jobs...).
    fn render(&self, ctx: &Ctx, bundle: &mut Bundle) -> Result<(), Error>;

    /// Its validation rules, against the profile and the render.
    fn check(&self, cx: &Check);

    /// The start-up contract of each of its containers.
    fn contracts(&self, ctx: &Ctx) -> Vec<Contract>;

    /// The Secrets it mounts and no object renders (what `amctl secrets` creates).
    fn secrets(&self, ctx: &Ctx) -> Vec<SecretSpec>;

    /// Its pods that connect to `server` as clients (for the server's ingress rules).
    fn clients_of(&self, ctx: &Ctx, server: ComponentId) -> Vec<String>;

    /// Its NetworkPolicies, under the namespace's default-deny. `clients` gives, for each
    /// server, the pods of every component that connect to it.
    fn network(&self, ctx: &Ctx, clients: &dyn Fn(ComponentId) -> Vec<String>) -> Vec<Object>;

    /// Its scrape target with `monitoring.level = "full"` (a PodMonitor or ServiceMonitor).
    fn monitor(&self, ctx: &Ctx) -> Option<Object>;

    /// What runs inside one of its main containers, pool by pool (bytes).
    fn memory(&self, p: &Profile, workload: &str, container: &str) -> BTreeMap<String, u64>;

    /// For `explain KEY`: the memory `key` produces in profile `name` (tables of pools), or
    /// nothing when `key` is not about its memory.
    fn explain_memory(&self, key: &str, name: &str, p: &Profile) -> String;

    /// How `budget` draws it, if it runs pods.
    fn style(&self) -> Option<Style>;

    /// The profile key that sets the replica count of its workload `name`.
    fn replicas_key(&self, name: &str) -> String;

    /// What a change at `path` of its object `kind`/`name` takes, where the component knows
    /// better than the Kubernetes rules (which settings need a restart, which counts move
    /// data); `None` leaves it to them.
    fn impact(&self, kind: &str, name: &str, path: &str) -> Option<Impact>;

    /// Its steps of a migration from `from` to `to` (upgrade and scaling rules, data risks),
    /// added to the object-level steps in `steps`.
    fn migrate(&self, from: &Profile, to: &Profile, opts: &Options, steps: &mut Vec<Step>);
}

/// The registry, in render order: servers before their clients (the Bundle is sorted by kind
/// afterwards, stably, so this is also the order of objects of one kind).
pub static ALL: &[&dyn Component] = &[
    &namespace::Namespace,
    &postgres::Postgres,
    &aerospike::Aerospike,
    &kafka::Kafka,
    &flink::Flink,
    &api::Api,
];

/// The component named `name` (as in findings and budgets).
pub(crate) fn by_name(name: &str) -> Option<&'static dyn Component> {
    ALL.iter().copied().find(|c| c.id().name() == name)
}

/// The pods that connect to `server`: outermost callers first (the registry in reverse), the
/// server's own helpers last.
pub(crate) fn clients(registry: &[&dyn Component], ctx: &Ctx, server: ComponentId) -> Vec<String> {
    registry
        .iter()
        .rev()
        .flat_map(|c| c.clients_of(ctx, server))
        .collect()
}

/// Every component's start-up contracts, for this profile.
pub fn contracts(ctx: &Ctx) -> Vec<Contract> {
    ALL.iter().flat_map(|c| c.contracts(ctx)).collect()
}

/// Every Secret the render refers to and no object renders, merged by name.
pub fn secrets(ctx: &Ctx) -> Vec<SecretSpec> {
    crate::secrets::merge(ALL.iter().flat_map(|c| c.secrets(ctx)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_ids_are_unique_and_in_enum_order() {
        let ids: Vec<ComponentId> = ALL.iter().map(|c| c.id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted);
    }
}
