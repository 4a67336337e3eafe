//! The library's error type. Every variant knows its exit code, and input errors carry where,
//! what was expected and how to fix it.

use crate::source::Loc;
use std::fmt;
use std::path::PathBuf;

/// Exit codes shared by every command (documented in the README and `--help`).
pub mod exit {
    /// Success; for `diff`, no differences.
    pub const OK: i32 = 0;
    /// The profile is invalid, or (for `diff`/`--check`) there are differences.
    pub const INVALID: i32 = 1;
    /// Bad usage or bad input: unreadable files, malformed TOML, unknown keys, bad values.
    pub const INPUT: i32 = 2;
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
    Usage(String),
    #[error("{0}")]
    Render(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) | Error::Io { .. } | Error::Usage(_) => exit::INPUT,
            // A render failure on a profile that loaded is a bug in amctl or a template; still the
            // user's input triggered it, and nothing was written.
            Error::Render(_) => exit::INPUT,
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
pub fn did_you_mean<'a>(
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
