//! Validation: every layer checked against the next. Each rule has a stable id, a severity, the
//! profile key it is about (with its file:line:column), a message and a fix.
//!
//! The rules live with what they check: each component module has a `check` function, the
//! budget and placement rules are in [`budget`], topology rules in [`topology`].

pub mod budget;
pub mod contracts;
pub(crate) mod semantics;
pub mod tls;
pub mod topology;

use crate::components;
use crate::kube::Bundle;
use crate::profile::Loaded;
pub use crate::rules::{Check, Finding, Severity, count};

/// Runs every rule.
pub fn validate(loaded: &Loaded, bundle: &Bundle) -> Vec<Finding> {
    validate_with_budget(loaded, bundle).0
}

/// Runs every rule and returns the budget they were computed on (for the table).
pub(crate) fn validate_with_budget(
    loaded: &Loaded,
    bundle: &Bundle,
) -> (Vec<Finding>, budget::Budget) {
    let cx = Check::new(loaded, bundle);
    let b = budget::compute(&cx);
    for c in components::ALL {
        (c.check)(&cx);
    }
    let ctx = crate::kube::Ctx::new(&loaded.profile, &bundle.namespace);
    contracts::check(&cx, &components::contracts(&ctx));
    semantics::check(&cx, &components::secrets(&ctx));
    tls::check(&cx);
    topology::check(&cx);
    budget::check(&cx, &b);
    (cx.into_findings(), b)
}
