//! The pipeline every command shares: load a profile (parse, `extends`, `--set`), check its
//! structure and the namespace, render it, and validate the render. No command acts on a
//! profile another way.

use crate::error::Error;
use crate::kube::{Bundle, RenderOptions};
use crate::profile::{self, LoadOptions, Loaded};
use crate::rules::{Finding, Severity};

/// Loads a profile and checks the namespace: the shared front half of every command.
pub fn load(profile: &str, namespace: &str, sets: &[String]) -> Result<Loaded, Error> {
    check_namespace(namespace)?;
    let loaded = profile::load(
        profile,
        &LoadOptions {
            sets: sets.to_vec(),
        },
    )?;
    profile::check::structure(&loaded)?;
    Ok(loaded)
}

/// Namespaces are DNS-1123 labels: at most 63 lowercase alphanumerics or '-', alphanumeric at
/// both ends.
pub(crate) fn check_namespace(ns: &str) -> Result<(), Error> {
    if profile::check::is_dns_label(ns, 63) {
        Ok(())
    } else {
        Err(Error::Usage(crate::error::Usage::Namespace(ns.to_string())))
    }
}

/// A loaded profile and its render.
pub struct Rendered {
    pub loaded: Loaded,
    pub bundle: Bundle,
}

/// Loads and renders a profile.
pub fn render(profile: &str, namespace: &str, sets: &[String]) -> Result<Rendered, Error> {
    let loaded = load(profile, namespace, sets)?;
    let bundle = crate::render::render(
        &loaded.profile,
        &RenderOptions {
            namespace: namespace.to_string(),
        },
    )?;
    Ok(Rendered { loaded, bundle })
}

impl Rendered {
    /// Every rule's findings, errors first.
    pub fn validate(&self) -> Vec<Finding> {
        crate::validate::validate(&self.loaded, &self.bundle)
    }

    /// Whether validation finds errors.
    pub fn errors(findings: &[Finding]) -> usize {
        crate::rules::count(findings, Severity::Error)
    }
}
