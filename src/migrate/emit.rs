//! A plan as an apply stream, a bash script, kubectl patch commands, a human summary, or JSON.

use super::{Action, Plan, Step};
use crate::output::to_yaml;
use crate::report::Style;
use serde::Serialize;
use std::fmt::Write as _;

const EOF_MARK: &str = "AMCTL_EOF";

/// `kubectl apply -f - <<'AMCTL_EOF'` with the object inline.
fn apply_heredoc(out: &mut String, manifest: &serde_json::Value) {
    let _ = writeln!(out, "kubectl apply -f - <<'{EOF_MARK}'");
    out.push_str(&to_yaml(manifest).unwrap_or_default());
    let _ = writeln!(out, "{EOF_MARK}");
}

fn label(s: &Step) -> String {
    s.object.display()
}

/// Single-quoted for the shell.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `--format apply`: the objects that can be applied in place, in plan order.
pub(crate) fn apply_stream(plan: &Plan) -> String {
    let mut out = String::new();
    let mut phase = None;
    let mut first = true;
    for s in plan
        .steps
        .iter()
        .filter(|s| s.in_apply_stream && !s.refused)
    {
        let Some(m) = &s.manifest else { continue };
        if !first {
            out.push_str("---\n");
        }
        first = false;
        if phase != Some(s.phase) {
            phase = Some(s.phase);
            let phase = s.phase;
            let _ = writeln!(out, "# ==== Phase {phase}: {} ====", phase.name());
        }
        let _ = writeln!(
            out,
            "# {} {}: {}",
            s.action.as_str(),
            label(s),
            s.reason.replace('\n', " ")
        );
        out.push_str(&to_yaml(m).unwrap_or_default());
    }
    out
}

/// What `--format apply` left out, for stderr.
pub(crate) fn left_out_note(plan: &Plan) -> String {
    let left = plan.left_out_of_apply();
    if left.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "amctl: {} step(s) are not in this apply stream; `amctl migrate {} {} --format script` has them:\n",
        left.len(),
        plan.from,
        plan.to
    );
    for s in left {
        let why = if s.refused {
            match &s.data_risk {
                Some(r) => match s.opt_in {
                    Some(flag) => format!("refused: {r} ({flag} to include it)"),
                    None => format!(
                        "refused: {r} (no flag includes it: the server does not support it)"
                    ),
                },
                None => format!("refused: {}", s.reason),
            }
        } else {
            s.reason.clone()
        };
        let _ = writeln!(
            out,
            "  {} {} {}: {why}",
            s.phase,
            s.action.as_str(),
            label(s)
        );
    }
    out
}

/// `--format script`: every step, with a comment on why.
pub fn script(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "#!/usr/bin/env bash");
    let _ = writeln!(
        out,
        "# Migration {} → {} in namespace {}, planned by amctl.",
        plan.from, plan.to, plan.namespace
    );
    let _ = writeln!(
        out,
        "# Review it before running: every step says why it is there."
    );
    let _ = writeln!(
        out,
        "# Commands run inside pods are single-quoted: their $ expands there, not here."
    );
    let _ = writeln!(out, "# shellcheck disable=SC2016");
    let _ = writeln!(out, "set -euo pipefail");
    let _ = writeln!(out);
    let _ = writeln!(out, "banner() {{ printf '\\n==== %s ====\\n' \"$*\"; }}");
    let mut phase = None;
    for (i, s) in plan.steps.iter().enumerate() {
        if phase != Some(s.phase) {
            phase = Some(s.phase);
            let phase = s.phase;
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "banner {}",
                sq(&format!("Phase {phase}: {}", phase.name()))
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "# Step {}: {} {} [{}]",
            i + 1,
            s.action.as_str(),
            label(s),
            s.impact.as_str()
        );
        for line in s.reason.lines() {
            let _ = writeln!(out, "# {line}");
        }
        if let Some(r) = &s.data_risk {
            let _ = writeln!(out, "# DATA RISK: {r}");
        }
        if s.refused {
            let _ = match s.opt_in {
                Some(flag) => writeln!(
                    out,
                    "# REFUSED: rerun `amctl migrate` with {flag} to include this step."
                ),
                None => writeln!(
                    out,
                    "# REFUSED: the server does not support this change; no flag includes it."
                ),
            };
            let _ = writeln!(out, ": # skipped");
            continue;
        }
        if let Action::Reassign { files } = &s.action {
            for (name, content) in files {
                let _ = writeln!(out, "cat > {} <<'{EOF_MARK}'", sq(name));
                out.push_str(content);
                let _ = writeln!(out, "{EOF_MARK}");
            }
        }
        for c in &s.commands {
            let _ = writeln!(out, "{c}");
        }
        if let Some(m) = &s.manifest
            && matches!(
                s.action,
                Action::Create | Action::Apply | Action::Scale { .. } | Action::Recreate
            )
        {
            apply_heredoc(&mut out, m);
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "banner 'done'");
    out
}

/// `--format patches`: `kubectl patch`/`kubectl scale` for in-place changes, `kubectl apply` for
/// new objects, and a comment for what needs the script.
pub fn patches(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "#!/usr/bin/env bash");
    let _ = writeln!(
        out,
        "# In-place changes {} → {} (namespace {}), as kubectl commands.",
        plan.from, plan.to, plan.namespace
    );
    let _ = writeln!(
        out,
        "# Patch bodies are literal JSON: nothing in single quotes is meant to expand."
    );
    let _ = writeln!(out, "# shellcheck disable=SC2016");
    let _ = writeln!(out, "set -euo pipefail");
    let mut phase = None;
    for s in &plan.steps {
        if phase != Some(s.phase) {
            phase = Some(s.phase);
            let phase = s.phase;
            let _ = writeln!(out, "\n# ---- Phase {phase}: {} ----", phase.name());
        }
        let kind = s.object.kind.to_ascii_lowercase();
        let name = &s.object.name;
        let ns = &plan.namespace;
        if s.refused {
            let _ = writeln!(
                out,
                "# refused ({}): {} {}",
                s.data_risk.as_deref().unwrap_or(&s.reason),
                s.action.as_str(),
                label(s)
            );
            continue;
        }
        match &s.action {
            Action::Scale { replicas } => {
                let _ = writeln!(
                    out,
                    "kubectl scale {kind} {name} -n {ns} --replicas={replicas}"
                );
            }
            Action::Apply if !s.commands.is_empty() => {
                for c in &s.commands {
                    let _ = writeln!(out, "{c}");
                }
            }
            Action::Apply => {
                if let Some(p) = &s.patch {
                    let _ = writeln!(
                        out,
                        "kubectl patch {kind} {name} -n {ns} --type {} -p {}",
                        super::patch::patch_type(&s.object.kind),
                        sq(&p.to_string())
                    );
                }
            }
            Action::Create => {
                if let Some(m) = &s.manifest {
                    apply_heredoc(&mut out, m);
                }
            }
            Action::Wait => {
                for c in &s.commands {
                    let _ = writeln!(out, "{c}");
                }
            }
            _ => {
                let _ = writeln!(
                    out,
                    "# {} {}: not a patch ({}); see --format script",
                    s.action.as_str(),
                    label(s),
                    s.reason
                );
            }
        }
    }
    out
}

/// `--plan`: a human summary.
pub fn human(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    let refused = plan.steps.iter().filter(|s| s.refused).count();
    let scripted = plan.left_out_of_apply().len();
    let _ = writeln!(
        out,
        "{} {} → {} (namespace {}): {} steps; {} outside the apply stream; {} refused",
        style.paint("1", "Migration"),
        plan.from,
        plan.to,
        plan.namespace,
        plan.steps.len(),
        scripted,
        refused
    );
    let mut phase = None;
    for (i, s) in plan.steps.iter().enumerate() {
        if phase != Some(s.phase) {
            phase = Some(s.phase);
            let phase = s.phase;
            let _ = writeln!(
                out,
                "\n{}",
                style.paint("1", &format!("Phase {phase}: {}", phase.name()))
            );
        }
        let action = if s.refused {
            style.paint(
                "1;31",
                &format!("{:<16}", format!("{} ✗", s.action.as_str())),
            )
        } else {
            format!("{:<16}", s.action.as_str())
        };
        let _ = writeln!(
            out,
            "  {:>3}  {action} {:<52} {}",
            i + 1,
            label(s),
            s.impact.as_str()
        );
        if !s.reason.is_empty() {
            let _ = writeln!(out, "       {}", style.paint("2", &s.reason));
        }
        if let Some(r) = &s.data_risk {
            let _ = writeln!(out, "       {} {r}", style.paint("1;31", "data risk:"));
        }
    }
    out
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    schema: &'static str,
    from: &'a str,
    to: &'a str,
    namespace: &'a str,
    steps: Vec<JsonStep<'a>>,
}

#[derive(Serialize)]
struct JsonStep<'a> {
    index: usize,
    #[serde(flatten)]
    step: &'a Step,
    /// The desired object, for create/apply/recreate.
    manifest: Option<&'a serde_json::Value>,
}

pub fn json(plan: &Plan) -> String {
    let doc = JsonPlan {
        schema: "amctl.migrate/v1",
        from: &plan.from,
        to: &plan.to,
        namespace: &plan.namespace,
        steps: plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| JsonStep {
                index: i + 1,
                step: s,
                manifest: s.manifest.as_ref(),
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
