//! The library's error type. Every variant knows its exit code, and input errors carry where,
//! what was expected and how to fix it.

use crate::source::Loc;
use std::fmt;
use std::path::PathBuf;

/// Exit codes shared by every command (documented in the README and `--help`).
/// Every exit code amctl returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Success; for `diff`, no differences.
    Ok = 0,
    /// The profile is invalid, or (for `diff`/`--check`) there are differences.
    Invalid = 1,
    /// Bad usage or bad input: unreadable files, malformed TOML, unknown keys, bad values.
    Input = 2,
    /// `migrate`: steps left out of the apply stream, or refused (data loss not allowed).
    Partial = 3,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> std::process::ExitCode {
        std::process::ExitCode::from(e.code())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Input(Box<InputError>),
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(Usage),
    /// A rendered value that does not serialize (a bug in amctl, reported as such).
    #[error("cannot serialize {what}: {detail}")]
    Serialize { what: &'static str, detail: String },
    /// A rendered object that does not convert to the diff's JSON tree.
    #[error("cannot convert {object}: {detail}")]
    Convert { object: String, detail: String },
    /// A config template that does not render.
    #[error("template {name}: {detail}")]
    Template { name: String, detail: String },
    /// An image reference the component cannot run (its edition or version).
    #[error("{0}")]
    Image(String),
    /// `amctl fit`: a cluster too small for the platform, or sizes it cannot fit to.
    #[error("{0}")]
    Fit(String),
}

/// Options that do not go together, or a value outside what an option takes.
#[derive(Debug)]
pub enum Usage {
    OutDirWithJson,
    OutDirNotADirectory(PathBuf),
    OutDirNotOurs(PathBuf),
    CheckNotADirectory(PathBuf),
    BothSidesStdin,
    Phase(u8),
    Namespace(String),
    ValidateOneProfile,
    NothingToValidate,
    NoBuiltin(String),
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Usage::OutDirWithJson => f.write_str(
                "--out-dir writes YAML files for kustomize; drop `-o json` or --out-dir",
            ),
            Usage::OutDirNotADirectory(d) => write!(
                f,
                "--out-dir `{}` exists and is not a directory; choose a new or empty directory, or one amctl rendered before",
                d.display()
            ),
            Usage::OutDirNotOurs(d) => write!(
                f,
                "--out-dir `{}` holds files amctl did not write (no amctl kustomization.yaml); choose an empty or new directory, or one amctl rendered before",
                d.display()
            ),
            Usage::CheckNotADirectory(d) => write!(
                f,
                "--check `{}` is not a directory; render it first with --out-dir",
                d.display()
            ),
            Usage::BothSidesStdin => {
                f.write_str("only one side of a diff can be read from stdin (`-`)")
            }
            Usage::Phase(p) => write!(
                f,
                "--phase {p}: phases are 1 (infrastructure), 2 (resources) and 3 (hardening)"
            ),
            Usage::Namespace(ns) => write!(
                f,
                "namespace `{ns}` is not a valid Kubernetes namespace name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
            ),
            Usage::ValidateOneProfile => f.write_str(
                "validate takes one PROFILE; use --all to validate several (files or directories)",
            ),
            Usage::NothingToValidate => f.write_str("--all found no profile (*.toml) to validate"),
            Usage::NoBuiltin(n) => write!(f, "no built-in profile `{n}`"),
        }
    }
}

impl Error {
    pub fn exit_code(&self) -> Exit {
        match self {
            Error::Input(_) | Error::Io { .. } | Error::Usage(_) => Exit::Input,
            // A render failure on a profile that loaded is a bug in amctl or a template; still the
            // user's input triggered it, and nothing was written.
            Error::Serialize { .. }
            | Error::Convert { .. }
            | Error::Template { .. }
            | Error::Image(_)
            | Error::Fit(_) => Exit::Input,
        }
    }

    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Error {
        Error::Input(Box::new(e))
    }
}

/// A problem with what the user gave us, with its position and a way out.
#[derive(Debug)]
pub struct InputError {
    pub message: String,
    pub at: Option<Loc>,
    /// The profile key path (`kafka.brokers`), where there is one.
    pub key_path: Option<String>,
    pub help: Vec<String>,
}

impl InputError {
    pub fn new(message: impl Into<String>) -> InputError {
        InputError {
            message: message.into(),
            at: None,
            key_path: None,
            help: Vec::new(),
        }
    }
    pub fn at(mut self, at: Option<Loc>) -> InputError {
        self.at = at;
        self
    }
    pub fn key(mut self, path: impl Into<String>) -> InputError {
        let p = path.into();
        if !p.is_empty() {
            self.key_path = Some(p);
        }
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> InputError {
        self.help.push(help.into());
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(key) = &self.key_path {
            write!(f, "\n  key: {key}")?;
        }
        if let Some(at) = &self.at {
            write!(f, "\n  --> {}", at.position())?;
            write!(f, "\n{}", indent(&at.snippet()))?;
        }
        for h in &self.help {
            write!(f, "\n  = help: {h}")?;
        }
        Ok(())
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The closest candidate to `word`, if any is close enough to be a plausible typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(&word.to_ascii_lowercase(), &c.to_ascii_lowercase());
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}
