//! `amctl show`: the resolved profile (after `extends` and `--set`), as TOML or JSON.

use crate::error::{Error, Exit};
use crate::output;
use crate::pipeline::load;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Toml,
    Json,
}

pub fn run(profile: &str, sets: &[String], format: Format) -> Result<Exit, Error> {
    let loaded = load(profile, crate::kube::DEFAULT_NAMESPACE, sets)?;
    let mut p = loaded.profile;
    // Resolved: nothing is inherited any more.
    p.extends = None;
    let text = match format {
        Format::Toml => toml::to_string_pretty(&p).map_err(|e| Error::Serialize {
            what: "the profile to TOML",
            detail: e.to_string(),
        })?,
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&p).map_err(|e| Error::Serialize {
                what: "the profile to JSON",
                detail: e.to_string(),
            })?;
            s.push('\n');
            s
        }
    };
    output::print(&text)?;
    Ok(Exit::Ok)
}
