//! `amctl show`: the resolved profile (after `extends` and `--set`), as TOML or JSON.

use crate::error::Error;
use crate::output;
use crate::pipeline::load;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Toml,
    Json,
}

pub fn run(profile: &str, sets: &[String], format: Format) -> Result<i32, Error> {
    let loaded = load(profile, crate::kube::DEFAULT_NAMESPACE, sets)?;
    let mut p = loaded.profile;
    // Resolved: nothing is inherited any more.
    p.extends = None;
    let text = match format {
        Format::Toml => toml::to_string_pretty(&p)
            .map_err(|e| Error::Render(format!("cannot serialize the profile to TOML: {e}")))?,
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&p)
                .map_err(|e| Error::Render(format!("cannot serialize the profile to JSON: {e}")))?;
            s.push('\n');
            s
        }
    };
    output::print(&text)?;
    Ok(crate::exit::OK)
}
