//! The rules kit: what every rule gets ([`Check`]: the profile, where its keys were written,
//! the rendered bundle, the scheduler's view of it and the node model) and what it produces
//! ([`Finding`]: a stable rule id, a severity, the key and its position, a message and a fix).

use crate::kube::Bundle;
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
        std::collections::HashMap<(&'static str, &'a str), &'a crate::kube::Object>,
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
    pub fn object(&self, kind: &str, name: &str) -> Option<&'a crate::kube::Object> {
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
    pub(crate) fn warn(
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

    pub(crate) fn group(&self, kind: &str, name: &str) -> Option<&PodGroup> {
        self.groups
            .iter()
            .find(|g| g.kind == kind && g.name == name)
    }

    pub(crate) fn into_findings(self) -> Vec<Finding> {
        let mut f = self.findings.into_inner();
        // Errors first, then by rule and key: stable output.
        f.sort_by(|a, b| {
            (a.severity, a.rule, &a.key, &a.message).cmp(&(b.severity, b.rule, &b.key, &b.message))
        });
        f
    }
}

pub fn count(findings: &[Finding], severity: Severity) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}
