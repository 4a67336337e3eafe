//! `amctl render`: a profile to every manifest and config file of the platform.

use crate::error::Error;
use crate::output;
use crate::pipeline::load;
use crate::render::{self, RenderOptions};
use crate::report::{Style, human_findings};
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
    /// Compare with a directory rendered before instead of writing (CI drift check).
    pub check: Option<PathBuf>,
}

pub fn run(args: &RenderArgs) -> Result<i32, Error> {
    // A flag conflict is known before any work: no load, no render, no warnings first.
    if args.out_dir.is_some() && args.format == Format::Json {
        return Err(Error::Usage(
            "--out-dir writes YAML files for kustomize; drop `-o json` or --out-dir".into(),
        ));
    }
    let loaded = load(&args.profile, &args.namespace, &args.sets)?;
    let bundle = render::render(
        &loaded.profile,
        &RenderOptions {
            namespace: args.namespace.clone(),
        },
    )?;
    // The same rules as `amctl validate`: a profile with errors is not rendered, and nothing
    // reaches stdout.
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
        // One write: stderr is unbuffered, and `eprintln!` writes each piece separately.
        let line = format!(
            "amctl: {warnings} warning(s); `amctl validate {}` explains them\n",
            args.profile
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    }
    emit(args, &bundle)
}

fn emit(args: &RenderArgs, bundle: &crate::kube::Bundle) -> Result<i32, Error> {
    if let Some(dir) = &args.check {
        return check_dir(dir, &output::bundle_files(bundle)?);
    }
    match (&args.out_dir, args.format) {
        // `run` refused --out-dir with -o json before rendering.
        (Some(dir), _) => output::write_dir(dir, &output::bundle_files(bundle)?)?,
        (None, Format::Yaml) => output::stream(bundle)?,
        (None, Format::Json) => output::print(&output::bundle_json(bundle)?)?,
    }
    Ok(crate::exit::OK)
}

/// `--check DIR`: exit 0 when DIR holds exactly what the profile renders, 1 (with a summary) when
/// files changed, are missing or are extra.
fn check_dir(dir: &std::path::Path, files: &[(String, String)]) -> Result<i32, Error> {
    if !dir.is_dir() {
        return Err(Error::Usage(format!(
            "--check `{}` is not a directory; render it first with --out-dir",
            dir.display()
        )));
    }
    let mut present: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))? {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        let path = entry.path();
        if path.is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
            present.insert(name, text);
        }
    }
    let mut changed = Vec::new();
    let mut missing = Vec::new();
    for (name, text) in files {
        match present.remove(name) {
            None => missing.push(name.clone()),
            Some(old) if old != *text => changed.push((name.clone(), old, text.clone())),
            Some(_) => {}
        }
    }
    let extra: Vec<String> = present.into_keys().collect();
    if changed.is_empty() && missing.is_empty() && extra.is_empty() {
        eprintln!("{}: up to date ({} files)", dir.display(), files.len());
        return Ok(crate::exit::OK);
    }
    let mut out = format!(
        "{}: drifted from the profile: {} changed, {} missing, {} extra\n",
        dir.display(),
        changed.len(),
        missing.len(),
        extra.len()
    );
    for (name, old, new) in &changed {
        out.push_str(&format!("~ {name}\n"));
        let diff = similar::TextDiff::from_lines(old.as_str(), new.as_str());
        let mut udiff = diff.unified_diff();
        udiff
            .context_radius(1)
            .header(&format!("{}/{name}", dir.display()), "rendered");
        out.push_str(&udiff.to_string());
    }
    for name in &missing {
        out.push_str(&format!("+ {name} (rendered, not in the directory)\n"));
    }
    for name in &extra {
        out.push_str(&format!("- {name} (in the directory, not rendered)\n"));
    }
    out.push_str("re-render with --out-dir to update it\n");
    output::print(&out)?;
    Ok(crate::exit::INVALID)
}
