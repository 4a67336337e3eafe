//! `amctl render`: a profile to every manifest and config file of the platform.

use crate::error::Error;
use crate::output;
use crate::profile::{self, LoadOptions, Loaded};
use crate::render::{self, RenderOptions};
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
