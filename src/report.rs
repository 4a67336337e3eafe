//! How findings are shown: a human report (colour on a TTY, NO_COLOR respected), JSON with a
//! stable schema, or GitHub workflow annotations.

use crate::model::mib;
use crate::rules::{Finding, Severity};
use crate::validate::budget::Budget;
use serde::Serialize;
use std::fmt::Write as _;

/// ANSI styling, only when asked for.
#[derive(Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour when `stream` is a terminal and NO_COLOR is unset (no-color.org).
    pub(crate) fn for_stream(is_tty: bool) -> Style {
        Style {
            color: is_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
    pub(crate) fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub fn severity(&self, s: Severity) -> String {
        match s {
            Severity::Error => self.paint("1;31", "error"),
            Severity::Warning => self.paint("1;33", "warning"),
            Severity::Info => self.paint("1;36", "info"),
        }
    }
}

/// `error[rule] key  file:line:col` + message + fix.
pub(crate) fn human_findings(findings: &[Finding], style: Style) -> String {
    let mut out = String::new();
    for f in findings {
        let pos = match (&f.file, f.line, f.column) {
            (Some(file), Some(l), Some(c)) => format!("{file}:{l}:{c}"),
            (Some(file), _, _) => file.clone(),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{}[{}] {}  {}",
            style.severity(f.severity),
            style.paint("1", f.rule),
            f.key,
            style.paint("2", &pos)
        );
        let _ = writeln!(out, "  {}", f.message);
        let _ = writeln!(out, "  {} {}", style.paint("32", "fix:"), f.fix);
    }
    out
}

fn cpu(m: u64) -> String {
    if m.is_multiple_of(1000) {
        format!("{}", m / 1000)
    } else {
        format!("{m}m")
    }
}

/// The compact budget table: per workload replicas, request, limit, totals, share.
pub(crate) fn budget_table(b: &Budget) -> String {
    let mut rows: Vec<[String; 8]> = vec![[
        "COMPONENT".into(),
        "WORKLOAD".into(),
        "PODS".into(),
        "MEM REQ".into(),
        "MEM LIMIT".into(),
        "CPU REQ/LIM".into(),
        "TOTAL REQ".into(),
        "SHARE".into(),
    ]];
    for l in &b.lines {
        rows.push([
            l.component.to_string(),
            l.workload.clone(),
            l.replicas.to_string(),
            mib(l.request.memory),
            mib(l.limit.memory),
            format!("{}/{}", cpu(l.request.cpu), cpu(l.limit.cpu)),
            mib(l.total_request.memory),
            format!(
                "{:.0}%",
                l.total_request.memory as f64 * 100.0 / b.available.memory.max(1) as f64
            ),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    let _ = writeln!(
        out,
        "requests {} of {} ({:.0}%), limits {} ({:.0}%); CPU requests {} of {}; headroom {}",
        mib(b.total_request.memory),
        mib(b.available.memory),
        b.total_request.memory as f64 * 100.0 / b.available.memory.max(1) as f64,
        mib(b.total_limit.memory),
        b.total_limit.memory as f64 * 100.0 / b.available.memory.max(1) as f64,
        cpu(b.total_request.cpu),
        cpu(b.available.cpu),
        mib(b.available.memory.saturating_sub(b.total_request.memory)),
    );
    out
}

/// The JSON document of `validate -o json` (schema `amctl.validate/v1`, documented in docs/validation.md).
#[derive(Serialize)]
pub(crate) struct JsonReport<'a> {
    pub schema: &'static str,
    pub valid: bool,
    pub profiles: Vec<JsonProfile<'a>>,
}

#[derive(Serialize)]
pub(crate) struct JsonProfile<'a> {
    pub profile: String,
    pub valid: bool,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    /// Set when the profile could not be loaded at all (exit code 2).
    pub input_error: Option<String>,
    pub findings: &'a [Finding],
}

/// `::error file=F,line=L,col=C,title=RULE::message (fix: ...)`, one per finding.
pub fn github(profile: &str, findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut props = Vec::new();
        // Built-in profiles have no file in the user's repository.
        if let Some(file) = f
            .file
            .as_deref()
            .filter(|f| !f.starts_with("builtin:") && !f.starts_with("--set"))
        {
            props.push(format!("file={}", escape_property(file)));
            if let Some(l) = f.line {
                props.push(format!("line={l}"));
            }
            if let Some(c) = f.column {
                props.push(format!("col={c}"));
            }
        }
        props.push(format!(
            "title={}",
            escape_property(&format!("{} ({profile})", f.rule))
        ));
        let _ = writeln!(
            out,
            "::{level} {}::{}",
            props.join(","),
            escape_data(&format!("{}: {} Fix: {}", f.key, f.message, f.fix))
        );
    }
    out
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
