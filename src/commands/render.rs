//! `amctl render`: a profile to every manifest and config file of the platform.

use crate::error::{Error, Exit, Usage};
use crate::output;
use crate::pipeline;
use crate::validate::{Severity, count};
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

pub fn run(args: &RenderArgs) -> Result<Exit, Error> {
    // A flag conflict is known before any work: no load, no render, no warnings first.
    if args.out_dir.is_some() && args.format == Format::Json {
        return Err(Error::Usage(Usage::OutDirWithJson));
    }
    let rendered = pipeline::render(&args.profile, &args.namespace, &args.sets)?;
    // The same rules as `amctl validate`: a profile with errors is not rendered, and nothing
    // reaches stdout.
    let findings = match super::gate(
        &rendered,
        &args.profile,
        "nothing was rendered (fix them, or pass --skip-validation to render anyway)",
        args.skip_validation.then_some("--skip-validation"),
    ) {
        Ok(findings) => findings,
        Err(exit) => return Ok(exit),
    };
    let warnings = count(&findings, Severity::Warning);
    if count(&findings, Severity::Error) == 0 && warnings > 0 {
        // One write: stderr is unbuffered, and `eprintln!` writes each piece separately.
        let line = format!(
            "amctl: {warnings} warning(s); `amctl validate {}` explains them\n",
            args.profile
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    }
    emit(args, rendered.bundle)
}

fn emit(args: &RenderArgs, bundle: crate::kube::Bundle) -> Result<Exit, Error> {
    if let Some(dir) = &args.check {
        return check_dir(dir, &output::bundle_files(&bundle)?);
    }
    match (&args.out_dir, args.format) {
        // `run` refused --out-dir with -o json before rendering.
        (Some(dir), _) => output::write_dir(dir, &output::bundle_files(&bundle)?)?,
        (None, Format::Yaml) => output::stream(bundle)?,
        (None, Format::Json) => output::print(&output::bundle_json(&bundle)?)?,
    }
    Ok(Exit::Ok)
}

/// `--check DIR`: exit 0 when DIR holds exactly what the profile renders, 1 (with a summary) when
/// files changed, are missing or are extra.
fn check_dir(dir: &std::path::Path, files: &[(String, String)]) -> Result<Exit, Error> {
    if !dir.is_dir() {
        return Err(Error::Usage(Usage::CheckNotADirectory(dir.to_path_buf())));
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
        return Ok(Exit::Ok);
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
    Ok(Exit::Invalid)
}
