//! `amctl fit`: prints a profile that extends PROFILE with every size chosen for the given nodes.

use crate::error::{Error, Exit};
use crate::fit::{self, Shape};
use crate::model::mib;
use crate::output;
use crate::pipeline::load;
use crate::profile::Distribution;
use crate::units::{Cpu, Memory};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Toml,
    Json,
}

/// The command line as given; sizes are parsed here, so a bad one is an input error (exit 2).
pub struct FitArgs {
    pub profile: String,
    pub nodes: u32,
    pub node_memory: String,
    pub node_cpu: String,
    pub distribution: Option<Distribution>,
    pub zones: Option<Vec<String>>,
    pub headroom: String,
    pub keep_replicas: bool,
    pub format: Format,
    pub explain: bool,
}

fn bad(flag: &str, value: &str, expected: &str) -> Error {
    Error::Fit(format!("{flag} `{value}`: expected {expected}"))
}

/// `10%`, `10` or `0.1` of the platform share left free.
fn headroom(text: &str) -> Result<f64, Error> {
    let expected = "a percentage from 0% to 90% such as `10%`";
    let t = text.trim();
    let v: f64 = match t.strip_suffix('%') {
        Some(p) => {
            p.trim()
                .parse::<f64>()
                .map_err(|_| bad("--headroom", text, expected))?
                / 100.0
        }
        None => {
            let v: f64 = t.parse().map_err(|_| bad("--headroom", text, expected))?;
            if v > 1.0 { v / 100.0 } else { v }
        }
    };
    if !(0.0..=0.9).contains(&v) || !v.is_finite() {
        return Err(bad("--headroom", text, expected));
    }
    Ok(v)
}

/// A quantity flag: parsed by `parse`, and above zero.
fn positive<T>(
    flag: &str,
    text: &str,
    parse: fn(&str) -> Result<T, String>,
    above_zero: fn(&T) -> bool,
    expected: &str,
) -> Result<T, Error> {
    match parse(text) {
        Ok(v) if above_zero(&v) => Ok(v),
        Ok(_) => Err(bad(flag, text, expected)),
        Err(e) => Err(bad(flag, text, &format!("{expected} ({e})"))),
    }
}

/// The cluster shape the arguments describe, each size parsed (a bad one is an input error).
pub fn shape(a: &FitArgs) -> Result<Shape, Error> {
    if a.nodes == 0 {
        return Err(bad("--nodes", "0", "at least one node"));
    }
    let most = fit::MAX_NODES;
    if a.nodes > most {
        return Err(bad(
            "--nodes",
            &a.nodes.to_string(),
            &format!("at most {most} nodes; fit a {most}-node slice and repeat it per node pool"),
        ));
    }
    let node_memory = positive(
        "--node-memory",
        &a.node_memory,
        Memory::parse,
        |m| m.bytes() > 0,
        "a memory quantity above zero such as `16Gi`",
    )?;
    let node_cpu = positive(
        "--node-cpu",
        &a.node_cpu,
        Cpu::parse,
        |c| c.millis() > 0,
        "a CPU quantity above zero such as `8` or `3500m`",
    )?;
    if let Some(zones) = &a.zones
        && let Some(z) = zones.iter().find(|z| z.trim().is_empty())
    {
        return Err(bad(
            "--zones",
            z,
            "zone names separated by commas, none empty, such as `eu-west-1a,eu-west-1b`",
        ));
    }
    Ok(Shape {
        nodes: a.nodes,
        node_memory,
        node_cpu,
        distribution: a.distribution,
        zones: a.zones.clone(),
        headroom: headroom(&a.headroom)?,
        raise_ha: !a.keep_replicas,
    })
}

/// What the output's `extends` names: a built-in by name, a file by its absolute path (the
/// output may be saved anywhere).
fn extends_of(profile: &str) -> String {
    if crate::profile::load::builtin(profile).is_some() {
        return profile.to_string();
    }
    std::fs::canonicalize(profile)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| profile.to_string())
}

pub fn run(args: &FitArgs) -> Result<Exit, Error> {
    let loaded = load(&args.profile, crate::kube::DEFAULT_NAMESPACE, &[])?;
    let mut base = loaded.profile;
    base.extends = None;
    let s = &shape(args)?;
    let fitted = fit::fit(&base, s)?;
    let extends = extends_of(&args.profile);
    let text = match args.format {
        Format::Toml => {
            let mut out = format!(
                "# amctl fit {} --nodes {} --node-memory {} --node-cpu {} --headroom {:.0}%\n# requests {} of the {} the platform may use ({:.0}%); memory × {:.2}, CPU × {:.2}\n",
                args.profile,
                s.nodes,
                s.node_memory,
                s.node_cpu,
                s.headroom * 100.0,
                mib(fitted.requests.memory),
                mib(fitted.target.memory),
                fitted.requests.memory as f64 * 100.0 / fitted.target.memory.max(1) as f64,
                fitted.memory_scale,
                fitted.cpu_scale,
            );
            for f in &fitted.left {
                out.push_str(&format!(
                    "# validate still warns ({}): {}\n#   ({})\n",
                    f.rule,
                    f.message,
                    fit::why_left(f.rule)
                ));
            }
            for k in &fitted.kept {
                out.push_str(&format!("# {k}\n"));
            }
            out.push('\n');
            out.push_str(&fit::overlay(&base, &fitted.profile, &extends)?);
            out
        }
        Format::Json => {
            let v = serde_json::json!({
                "extends": extends,
                "target": fitted.target,
                "requests": fitted.requests,
                "memory_scale": fitted.memory_scale,
                "cpu_scale": fitted.cpu_scale,
                "changes": fitted.changes,
                "warnings_left": fitted.left.iter().map(|f| f.rule).collect::<Vec<_>>(),
                "kept": fitted.kept,
                "profile": fitted.profile,
            });
            let mut s = serde_json::to_string_pretty(&v).map_err(|e| Error::Serialize {
                what: "the fit to JSON",
                detail: e.to_string(),
            })?;
            s.push('\n');
            s
        }
    };
    if args.explain {
        let w = |f: fn(&fit::Change) -> usize| fitted.changes.iter().map(f).max().unwrap_or(3);
        let (kw, ow, nw) = (
            w(|c| c.key.len()).max(3),
            w(|c| c.old.len().min(40)).max(3),
            w(|c| c.new.len().min(40)).max(3),
        );
        let mut t = format!("{:kw$}  {:ow$}  {:nw$}  RULE\n", "KEY", "OLD", "NEW");
        for c in &fitted.changes {
            t.push_str(&format!(
                "{:kw$}  {:ow$}  {:nw$}  {}\n",
                c.key, c.old, c.new, c.rule
            ));
        }
        for k in &fitted.kept {
            t.push_str(&format!("not raised: {k}\n"));
        }
        eprint!("{t}");
    }
    output::print(&text)?;
    Ok(Exit::Ok)
}
