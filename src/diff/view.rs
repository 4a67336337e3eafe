//! The three ways a diff is shown: per-object unified diffs, one line per changed field, JSON.

use super::impact::Impact;
use super::{ObjectDiff, Status};
use crate::report::Style;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;

fn yaml(v: Option<&Value>) -> String {
    v.map(|v| crate::output::to_yaml(v).unwrap_or_else(|_| v.to_string()))
        .unwrap_or_default()
}

fn header(d: &ObjectDiff, style: Style) -> String {
    let (mark, code) = match d.status {
        Status::Changed => ("~", "1;33"),
        Status::Added => ("+", "1;32"),
        Status::Removed => ("-", "1;31"),
    };
    let impact = d.impact();
    let tag = if impact == Impact::None {
        String::new()
    } else {
        format!("  [{}]", impact_paint(impact, style))
    };
    format!(
        "{} {}{tag}",
        style.paint(code, mark),
        style.paint("1", &d.key.display())
    )
}

fn impact_paint(i: Impact, style: Style) -> String {
    let code = match i {
        Impact::None | Impact::Reload => "2",
        Impact::RollingRestart | Impact::Restart => "33",
        Impact::Recreate | Impact::DataMigration => "1;35",
        Impact::DataLoss => "1;31",
    };
    style.paint(code, i.as_str())
}

pub fn summary(diffs: &[ObjectDiff]) -> String {
    let count = |s: Status| diffs.iter().filter(|d| d.status == s).count();
    let worst = diffs.iter().map(ObjectDiff::impact).max();
    let mut s = format!(
        "{} changed, {} added, {} removed",
        count(Status::Changed),
        count(Status::Added),
        count(Status::Removed)
    );
    if let Some(w) = worst.filter(|w| *w != Impact::None) {
        let _ = write!(s, "; most disruptive: {}", w.as_str());
    }
    s.push('\n');
    s
}

/// Default view: a header per object and a unified diff of its YAML.
pub fn unified(diffs: &[ObjectDiff], from: &str, to: &str, context: usize, style: Style) -> String {
    let mut out = String::new();
    for d in diffs {
        let _ = writeln!(out, "{}", header(d, style));
        let old = yaml(d.old.as_ref());
        let new = yaml(d.new.as_ref());
        let text = similar::TextDiff::from_lines(&old, &new);
        let mut udiff = text.unified_diff();
        udiff.context_radius(context).header(from, to);
        for line in udiff.to_string().lines() {
            let painted = if line.starts_with("+++") || line.starts_with("---") {
                style.paint("1", line)
            } else if line.starts_with('+') {
                style.paint("32", line)
            } else if line.starts_with('-') {
                style.paint("31", line)
            } else if line.starts_with("@@") {
                style.paint("36", line)
            } else {
                line.to_string()
            };
            let _ = writeln!(out, "{painted}");
        }
        out.push('\n');
    }
    out.push_str(&summary(diffs));
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) if s.contains('\n') => {
            let first = s.lines().next().unwrap_or("");
            format!("{first}… ({} lines)", s.lines().count())
        }
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `--fields`: one line per changed leaf with its impact.
pub fn fields(diffs: &[ObjectDiff], style: Style) -> String {
    let mut out = String::new();
    for d in diffs {
        let _ = writeln!(out, "{}", header(d, style));
        if d.status != Status::Changed {
            continue;
        }
        for c in &d.changes {
            let line = match (&c.old, &c.new) {
                (Some(o), Some(n)) => format!("{}: {} → {}", c.path, scalar(o), scalar(n)),
                (None, Some(n)) => format!("{} {}: {}", style.paint("32", "+"), c.path, scalar(n)),
                (Some(o), None) => format!("{} {}: {}", style.paint("31", "-"), c.path, scalar(o)),
                (None, None) => continue,
            };
            let _ = writeln!(out, "    {line}  [{}]", impact_paint(c.impact, style));
            // Multi-line text (scripts): the lines that changed.
            if let (Some(Value::String(o)), Some(Value::String(n))) = (&c.old, &c.new)
                && (o.contains('\n') || n.contains('\n'))
            {
                let text = similar::TextDiff::from_lines(o.as_str(), n.as_str());
                for change in text.iter_all_changes() {
                    let (sign, code) = match change.tag() {
                        similar::ChangeTag::Delete => ("-", "31"),
                        similar::ChangeTag::Insert => ("+", "32"),
                        similar::ChangeTag::Equal => continue,
                    };
                    let _ = writeln!(
                        out,
                        "        {}",
                        style.paint(code, &format!("{sign} {}", change.value().trim_end()))
                    );
                }
            }
        }
    }
    out.push_str(&summary(diffs));
    out
}

#[derive(Serialize)]
struct JsonDiff<'a> {
    schema: &'static str,
    from: &'a str,
    to: &'a str,
    summary: JsonSummary,
    objects: Vec<JsonObject<'a>>,
}

#[derive(Serialize)]
struct JsonSummary {
    changed: usize,
    added: usize,
    removed: usize,
    impact: Impact,
}

#[derive(Serialize)]
struct JsonObject<'a> {
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
    status: Status,
    impact: Impact,
    changes: &'a [super::Change],
}

/// `-o json`: schema `amctl.diff/v1`.
pub fn json(diffs: &[ObjectDiff], from: &str, to: &str) -> String {
    let count = |s: Status| diffs.iter().filter(|d| d.status == s).count();
    let doc = JsonDiff {
        schema: "amctl.diff/v1",
        from,
        to,
        summary: JsonSummary {
            changed: count(Status::Changed),
            added: count(Status::Added),
            removed: count(Status::Removed),
            impact: diffs
                .iter()
                .map(ObjectDiff::impact)
                .max()
                .unwrap_or(Impact::None),
        },
        objects: diffs
            .iter()
            .map(|d| JsonObject {
                kind: &d.key.kind,
                namespace: &d.key.namespace,
                name: &d.key.name,
                status: d.status,
                impact: d.impact(),
                changes: if d.status == Status::Changed {
                    &d.changes
                } else {
                    &[]
                },
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
