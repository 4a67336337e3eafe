//! `amctl render`: a profile to every manifest and config file of the platform.

use crate::error::Error;
use crate::output;
use crate::profile::{self, LoadOptions, Loaded};
use crate::render::{self, RenderOptions};
use crate::validate::report::{Style, human_findings};
use crate::validate::{Finding, Severity, count, validate};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

#[derive(Clone, Debug)]
pub struct RenderArgs {
    pub profile: String,
    pub namespace: String,
    pub sets: Vec<String>,
    pub format: Format,
    pub out_dir: Option<PathBuf>,
    /// Render even when validation finds errors (loudly).
    pub skip_validation: bool,
}

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

pub fn run(args: &RenderArgs) -> Result<i32, Error> {
    let loaded = load(&args.profile, &args.namespace, &args.sets)?;
    let bundle = render::render(
        &loaded.profile,
        &RenderOptions {
            namespace: args.namespace.clone(),
        },
    )?;
    // The same rules as `amctl validate`: a profile with errors is not rendered.
    let findings = validate(&loaded, &bundle);
    let errors = count(&findings, Severity::Error);
    let warnings = count(&findings, Severity::Warning);
    if errors > 0 {
        let style = Style::for_stream(std::io::stderr().is_terminal());
        let shown: Vec<Finding> = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .cloned()
            .collect();
        if args.skip_validation {
            eprintln!(
                "{}: --skip-validation: rendering `{}` despite {errors} validation error(s); these manifests are expected to fail on the cluster:",
                style.paint("1;31", "WARNING"),
                args.profile
            );
            eprint!("{}", human_findings(&shown, style));
        } else {
            eprint!("{}", human_findings(&shown, style));
            eprintln!(
                "error: `{}` has {errors} validation error(s); nothing was rendered (fix them, or pass --skip-validation to render anyway)",
                args.profile
            );
            return Ok(crate::exit::INVALID);
        }
    } else if warnings > 0 {
        eprintln!(
            "amctl: {warnings} warning(s); `amctl validate {}` explains them",
            args.profile
        );
    }
    match (&args.out_dir, args.format) {
        (Some(dir), Format::Yaml) => output::write_dir(dir, &bundle.to_files()?)?,
        (Some(_), Format::Json) => {
            return Err(Error::Usage(
                "--out-dir writes YAML files for kustomize; drop `-o json` or --out-dir".into(),
            ));
        }
        (None, Format::Yaml) => output::print(&bundle.to_yaml()?)?,
        (None, Format::Json) => output::print(&bundle.to_json()?)?,
    }
    Ok(crate::exit::OK)
}

/// Namespaces are DNS-1123 labels: at most 63 lowercase alphanumerics or '-', alphanumeric at
/// both ends.
pub fn check_namespace(ns: &str) -> Result<(), Error> {
    if profile::check::is_dns_label(ns, 63) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "namespace `{ns}` is not a valid Kubernetes namespace name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
        )))
    }
}
