//! `amctl validate`: every rule over one profile, or `--all` over many (CI).

use crate::error::{Error, Exit, Usage};
use crate::output;
use crate::pipeline::load;
use crate::render::{RenderOptions, render};
use crate::report::{self, JsonProfile, JsonReport, Style};
use crate::validate::{Finding, Severity, count, validate_with_budget};
use std::io::IsTerminal;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Github,
}

pub struct ValidateArgs {
    pub profiles: Vec<String>,
    pub all: bool,
    pub namespace: String,
    pub sets: Vec<String>,
    pub format: Format,
    pub strict: bool,
}

/// Profiles named on the command line; with `--all`, directories expand to their `*.toml`.
fn expand(args: &ValidateArgs) -> Result<Vec<String>, Error> {
    if !args.all {
        if args.profiles.len() != 1 {
            return Err(Error::Usage(Usage::ValidateOneProfile));
        }
        return Ok(args.profiles.clone());
    }
    let mut out = Vec::new();
    for p in &args.profiles {
        let path = Path::new(p);
        if path.is_dir() {
            let mut files: Vec<String> = std::fs::read_dir(path)
                .map_err(|e| Error::io("read directory", path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    if out.is_empty() {
        return Err(Error::Usage(Usage::NothingToValidate));
    }
    Ok(out)
}

/// Loads, renders and validates one profile.
pub(crate) fn check_profile(
    profile: &str,
    namespace: &str,
    sets: &[String],
) -> Result<(Vec<Finding>, String), Error> {
    let loaded = load(profile, namespace, sets)?;
    let bundle = render(
        &loaded.profile,
        &RenderOptions {
            namespace: namespace.to_string(),
        },
    )?;
    let (findings, budget) = validate_with_budget(&loaded, &bundle);
    Ok((findings, report::budget_table(&budget)))
}

pub fn run(args: &ValidateArgs) -> Result<Exit, Error> {
    let profiles = expand(args)?;
    let progress = (args.all && profiles.len() > 1 && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(profiles.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut results = Vec::new();
    for p in &profiles {
        if let Some(bar) = &progress {
            bar.set_message(p.clone());
        }
        results.push((p.clone(), check_profile(p, &args.namespace, &args.sets)));
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    // A single profile that cannot be loaded is an input error, reported as such.
    if !args.all
        && let Some((_, Err(_))) = results.first()
        && let Some((_, Err(e))) = results.pop()
    {
        return Err(e);
    }

    let fails = |f: &[Finding]| {
        count(f, Severity::Error) > 0 || (args.strict && count(f, Severity::Warning) > 0)
    };
    let mut any_input_error = false;
    let mut any_invalid = false;
    let mut json_profiles = Vec::new();
    let stdout_style = Style::for_stream(std::io::stdout().is_terminal());
    let stderr_style = Style::for_stream(std::io::stderr().is_terminal());
    let empty: Vec<Finding> = Vec::new();
    for (name, result) in &results {
        match result {
            Err(e) => {
                any_input_error = true;
                match args.format {
                    Format::Json => json_profiles.push(JsonProfile {
                        profile: name.clone(),
                        valid: false,
                        errors: 0,
                        warnings: 0,
                        infos: 0,
                        input_error: Some(e.to_string()),
                        findings: &empty,
                    }),
                    Format::Github => output::print(&format!(
                        "::error title=amctl input error ({name})::{}\n",
                        e.to_string().replace('%', "%25").replace('\n', "%0A")
                    ))?,
                    Format::Human => eprintln!("{name}: error: {e}"),
                }
            }
            Ok((findings, table)) => {
                let invalid = fails(findings);
                any_invalid |= invalid;
                let (e, w, i) = (
                    count(findings, Severity::Error),
                    count(findings, Severity::Warning),
                    count(findings, Severity::Info),
                );
                match args.format {
                    Format::Json => json_profiles.push(JsonProfile {
                        profile: name.clone(),
                        valid: !invalid,
                        errors: e,
                        warnings: w,
                        infos: i,
                        input_error: None,
                        findings,
                    }),
                    Format::Github => output::print(&report::github(name, findings))?,
                    Format::Human => {
                        let verdict = if invalid {
                            stdout_style.paint("1;31", "invalid")
                        } else {
                            stdout_style.paint("1;32", "valid")
                        };
                        output::print(&format!(
                            "{name}: {verdict} ({e} errors, {w} warnings, {i} notes)\n{table}\n"
                        ))?;
                        eprint!("{}", report::human_findings(findings, stderr_style));
                    }
                }
            }
        }
    }
    if args.format == Format::Json {
        let doc = JsonReport {
            schema: "amctl.validate/v1",
            valid: !any_invalid && !any_input_error,
            profiles: json_profiles,
        };
        let mut s = serde_json::to_string_pretty(&doc).map_err(|e| Error::Serialize {
            what: "the report",
            detail: e.to_string(),
        })?;
        s.push('\n');
        output::print(&s)?;
    }
    Ok(if any_input_error {
        Exit::Input
    } else if any_invalid {
        Exit::Invalid
    } else {
        Exit::Ok
    })
}
