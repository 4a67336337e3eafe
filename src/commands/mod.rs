//! One module per user action, over the shared pipeline.

pub mod budget;
pub mod diff;
pub mod explain;
pub mod fit;
pub mod migrate;
pub mod render;
pub mod schema;
pub mod secrets;
pub mod show;
pub mod validate;

use crate::diff::{Obj, input};
use crate::error::{Error, Exit};
use crate::pipeline::{self, Rendered};
use crate::profile::Profile;
use crate::report::{Style, human_findings};
use crate::validate::{Finding, Severity, count};
use std::io::IsTerminal;

/// The validation gate every command that acts on a render goes through: a profile whose render
/// has validation errors goes no further (its errors on stderr, exit 1). `despite` lets it pass,
/// loudly (`render --skip-validation`). Returns the findings of a profile that passed.
pub(crate) fn gate(
    rendered: &Rendered,
    profile: &str,
    what: &str,
    despite: Option<&str>,
) -> Result<Vec<Finding>, Exit> {
    let findings = rendered.validate();
    let errors = count(&findings, Severity::Error);
    if errors == 0 {
        return Ok(findings);
    }
    let style = Style::for_stream(std::io::stderr().is_terminal());
    let shown: Vec<Finding> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .cloned()
        .collect();
    match despite {
        Some(flag) => {
            eprintln!(
                "{}: {flag}: rendering `{profile}` despite {errors} validation error(s); these manifests are expected to fail on the cluster:",
                style.paint("1;31", "WARNING"),
            );
            eprint!("{}", human_findings(&shown, style));
            Ok(findings)
        }
        None => {
            eprint!("{}", human_findings(&shown, style));
            eprintln!("error: `{profile}` has {errors} validation error(s); {what}");
            Err(Exit::Invalid)
        }
    }
}

/// One side of a diff or a migration: a profile (loaded, rendered and validated once) or
/// Kubernetes YAML.
pub(crate) struct Side {
    pub objects: Vec<Obj>,
    pub profile: Option<Profile>,
}

/// Reads one side; a profile with validation errors is refused (exit 1) and `what` says what
/// was not done.
pub(crate) fn side(
    arg: &str,
    namespace: &str,
    sets: &[String],
    what: &str,
    despite: Option<&str>,
) -> Result<Result<Side, Exit>, Error> {
    if !input::is_profile(arg) {
        let (objects, foreign) = input::split_foreign(input::read(arg)?);
        if !foreign.is_empty() {
            let mut kinds: Vec<&str> = foreign.iter().map(|o| o.kind.as_str()).collect();
            kinds.sort_unstable();
            kinds.dedup();
            eprintln!(
                "amctl: {arg}: {} object(s) that are not amctl's left out ({}): amctl compares and prunes only what it renders",
                foreign.len(),
                kinds.join(", ")
            );
        }
        return Ok(Ok(Side {
            objects,
            profile: None,
        }));
    }
    let rendered = pipeline::render(arg, namespace, sets)?;
    if let Err(exit) = gate(&rendered, arg, what, despite) {
        return Ok(Err(exit));
    }
    Ok(Ok(Side {
        objects: input::objects(&rendered.bundle)?,
        profile: Some(rendered.loaded.profile),
    }))
}
