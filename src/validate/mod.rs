//! Validation: every layer checked against the next. Each rule has a stable id, a severity, the
//! profile key it is about (with its file:line:column), a message and a fix.
//!
//! The rules live with what they check: each component module has a `check` function, the
//! budget and placement rules are in [`budget`], topology rules in [`topology`].

pub mod budget;
pub mod contracts;
pub mod report;
pub mod semantics;
pub mod topology;

use crate::bundle::Bundle;
use crate::components;
use crate::model::node::NodeModel;
use crate::model::pods::{self, PodGroup};
use crate::profile::{Loaded, Profile};
use crate::source::Loc;
use serde::Serialize;
use std::cell::RefCell;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// Stable rule id, e.g. `flink.taskmanager.memory`.
    pub rule: &'static str,
    pub severity: Severity,
    /// Profile key path, e.g. `flink.taskmanager.process_size`.
    pub key: String,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub fix: String,
}

/// What every rule gets: the profile, where its keys were written, the rendered Bundle, the
/// scheduler's view of it and the node model.
pub struct Check<'a> {
    pub loaded: &'a Loaded,
    pub profile: &'a Profile,
    pub bundle: &'a Bundle,
    pub groups: Vec<PodGroup>,
    pub nodes: NodeModel,
    findings: RefCell<Vec<Finding>>,
    /// The bundle's objects by kind and name, built on first use.
    by_name: std::cell::OnceCell<
        std::collections::HashMap<(&'static str, &'a str), &'a crate::bundle::Object>,
    >,
}

impl<'a> Check<'a> {
    pub fn new(loaded: &'a Loaded, bundle: &'a Bundle) -> Check<'a> {
        Check {
            loaded,
            profile: &loaded.profile,
            bundle,
            groups: pods::groups(bundle),
            nodes: NodeModel::from_cluster(&loaded.profile.cluster),
            findings: RefCell::new(Vec::new()),
            by_name: std::cell::OnceCell::new(),
        }
    }

    /// The rendered object of `kind` named `name`.
    pub fn object(&self, kind: &str, name: &str) -> Option<&'a crate::bundle::Object> {
        self.by_name
            .get_or_init(|| {
                self.bundle
                    .items
                    .iter()
                    .map(|i| ((i.object.kind(), i.object.name()), &*i.object))
                    .collect()
            })
            .get(&(kind, name))
            .copied()
    }

    /// `key` may list several keys separated by `|` that all bear on the finding (the cause and
    /// the fix); the finding points at the one the user's own profile wrote.
    fn push(
        &self,
        rule: &'static str,
        severity: Severity,
        key: &str,
        message: String,
        fix: String,
    ) {
        let keys: Vec<&str> = key.split('|').collect();
        let (key, at): (&str, Option<Loc>) = self.loaded.best_key(&keys);
        let (file, line, column) = match &at {
            Some(at) if !at.source.is_argument => {
                let (l, c) = at.line_col();
                (Some(at.source.name.clone()), Some(l), Some(c))
            }
            Some(at) => (Some(at.source.name.clone()), None, None),
            None => (None, None, None),
        };
        self.findings.borrow_mut().push(Finding {
            rule,
            severity,
            key: key.to_string(),
            file,
            line,
            column,
            message,
            fix,
        });
    }

    pub fn error(
        &self,
        rule: &'static str,
        key: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(rule, Severity::Error, key, message.into(), fix.into());
    }
    pub fn warn(
        &self,
        rule: &'static str,
        key: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(rule, Severity::Warning, key, message.into(), fix.into());
    }
    pub fn info(
        &self,
        rule: &'static str,
        key: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(rule, Severity::Info, key, message.into(), fix.into());
    }

    pub fn group(&self, kind: &str, name: &str) -> Option<&PodGroup> {
        self.groups
            .iter()
            .find(|g| g.kind == kind && g.name == name)
    }

    pub fn into_findings(self) -> Vec<Finding> {
        let mut f = self.findings.into_inner();
        // Errors first, then by rule and key: stable output.
        f.sort_by(|a, b| {
            (a.severity, a.rule, &a.key, &a.message).cmp(&(b.severity, b.rule, &b.key, &b.message))
        });
        f
    }
}

/// Runs every rule.
pub fn validate(loaded: &Loaded, bundle: &Bundle) -> Vec<Finding> {
    validate_with_budget(loaded, bundle).0
}

/// Runs every rule and returns the budget they were computed on (for the table).
pub fn validate_with_budget(loaded: &Loaded, bundle: &Bundle) -> (Vec<Finding>, budget::Budget) {
    let cx = Check::new(loaded, bundle);
    let b = budget::compute(&cx);
    components::postgres::check(&cx);
    components::aerospike::check(&cx);
    components::kafka::check(&cx);
    components::flink::check(&cx);
    components::api::check(&cx);
    let ctx = crate::render::Ctx::new(&loaded.profile, &bundle.namespace);
    contracts::check(&cx, &components::contracts(&ctx));
    semantics::check(&cx, &components::secrets(&ctx));
    crate::render::tls::check(&cx);
    topology::check(&cx);
    budget::check(&cx, &b);
    (cx.into_findings(), b)
}

pub fn count(findings: &[Finding], severity: Severity) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}
