//! `amctl budget`: how each node is spent, as a picture in the terminal, an SVG, or JSON with
//! every container's memory breakdown.

use crate::error::{Error, Exit};
use crate::model::mib;
use crate::model::node::{NodeModel, Res};
use crate::model::placement::{Drains, NodeUse, Placement, Verdict};
use crate::output;
use crate::pipeline::load;
use crate::profile::Profile;
use crate::render::{RenderOptions, render};
use crate::report::{self, Style};
use crate::rules::Check;
use crate::validate::budget::{self, Budget};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

pub struct BudgetArgs {
    pub profile: String,
    pub namespace: String,
    pub sets: Vec<String>,
    pub format: Format,
    pub svg: Option<PathBuf>,
}

/// Components in picture order, with a letter and an ANSI background for each.
/// The components `budget` draws, in registry order: name, letter, ANSI and SVG colour.
fn drawn() -> impl Iterator<Item = (&'static str, char, &'static str, &'static str)> {
    crate::components::ALL.iter().filter_map(|c| {
        c.style
            .as_ref()
            .map(|s| (c.id.name(), s.letter, s.ansi, s.svg))
    })
}
const RESERVED: (char, &str, &str) = ('R', "100", "#9c9c9c");
const DISTRO: (char, &str, &str) = ('D', "47", "#bab0ac");
const SYSTEM: (char, &str, &str) = ('S', "43", "#edc948");

/// A node's memory as stacked segments: (letter, ansi, svg colour, label, bytes).
fn segments(
    m: &NodeModel,
    node: &NodeUse,
    limits: bool,
) -> Vec<(char, &'static str, &'static str, String, u64)> {
    let reserved = m.kube_reserved.memory + m.system_reserved.memory + m.eviction_hard.memory;
    let mut segs = vec![
        (
            RESERVED.0,
            RESERVED.1,
            RESERVED.2,
            "kubelet reserved + eviction".to_string(),
            reserved,
        ),
        (
            DISTRO.0,
            DISTRO.1,
            DISTRO.2,
            format!("{} outside pods", m.distribution.as_str()),
            m.distribution_overhead.memory,
        ),
        (
            SYSTEM.0,
            SYSTEM.1,
            SYSTEM.2,
            "system pods".to_string(),
            m.system_pods.memory,
        ),
    ];
    for (name, letter, ansi, svg) in drawn() {
        let bytes: u64 = node
            .pods
            .iter()
            .filter(|p| p.component == name)
            .map(|p| {
                if limits {
                    p.limit.memory
                } else {
                    p.request.memory
                }
            })
            .fold(0u64, u64::saturating_add);
        segs.push((letter, ansi, svg, name.to_string(), bytes));
    }
    segs
}

fn bar(m: &NodeModel, node: &NodeUse, limits: bool, width: usize, style: Style) -> (String, u64) {
    let cap = m.capacity.memory.max(1);
    let segs = segments(m, node, limits);
    let used: u64 = segs.iter().map(|s| s.4).fold(0u64, u64::saturating_add);
    let mut out = String::new();
    let mut drawn = 0usize;
    let mut acc = 0u64;
    for (letter, ansi, _, _, bytes) in &segs {
        acc = acc.saturating_add(*bytes);
        let end = ((acc as f64 / cap as f64) * width as f64).round() as usize;
        let end = end.min(width);
        if end > drawn {
            let text: String = std::iter::repeat_n(*letter, end - drawn).collect();
            out.push_str(&style.paint(&format!("30;{ansi}"), &text));
            drawn = end;
        }
    }
    if used > cap {
        out.push_str(&style.paint("1;31", "!"));
    } else {
        out.push_str(&"·".repeat(width - drawn));
    }
    (out, used)
}

pub fn picture(name: &str, m: &NodeModel, b: &Budget, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — {} node(s) × {} memory, {} CPU ({})",
        style.paint("1", name),
        m.nodes,
        mib(m.capacity.memory),
        m.capacity.cpu as f64 / 1000.0,
        m.distribution.as_str()
    );
    let _ = writeln!(
        out,
        "  per node: capacity {} − kube-reserved {} − system-reserved {} − eviction {} = allocatable {}",
        mib(m.capacity.memory),
        mib(m.kube_reserved.memory),
        mib(m.system_reserved.memory),
        mib(m.eviction_hard.memory),
        mib(m.allocatable.memory)
    );
    let _ = writeln!(
        out,
        "            − distribution outside pods {} − system pods {} = {} for the platform",
        mib(m.distribution_overhead.memory),
        mib(m.system_pods.memory),
        mib(m.available.memory)
    );
    let _ = writeln!(out);
    let width = 60;
    let draw = |out: &mut String, p: &Placement, title: &str| {
        let _ = writeln!(out, "{title}");
        for (i, node) in p.nodes.iter().enumerate() {
            let (req_bar, req_used) = bar(m, node, false, width, style);
            let (lim_bar, lim_used) = bar(m, node, true, width, style);
            let platform_req = node.used.memory;
            let _ = writeln!(
                out,
                "  node-{:<2} requests |{req_bar}| {} of {}  headroom {}",
                i + 1,
                mib(req_used),
                mib(m.capacity.memory),
                mib(m.available.memory.saturating_sub(platform_req))
            );
            // The bar already holds the reservations and the eviction threshold.
            let over = lim_used.saturating_sub(m.capacity.memory);
            let _ = writeln!(
                out,
                "          limits   |{lim_bar}| {}{}",
                mib(lim_used),
                if over > 0 {
                    style.paint("1;31", &format!("  overcommitted by {}", mib(over)))
                } else {
                    String::new()
                }
            );
        }
        for u in &p.unschedulable {
            let _ = writeln!(
                out,
                "  {} {} ({}): {}",
                style.paint("1;31", "unplaced"),
                u.pod,
                mib(u.request.memory),
                u.reason
            );
        }
    };
    draw(
        &mut out,
        &b.placement,
        "memory per node (as the scheduler places it, HPA at max):",
    );
    if let Some(d) = &b.drains {
        let _ = writeln!(out);
        let verdict = match (d.verdict, &d.failure) {
            (Verdict::Holds, _) => style.paint(
                "32",
                "every pod is placed again after each drain (each node uncordoned before the next)",
            ),
            (v, Some(f)) => style.paint(
                "1;31",
                &format!(
                    "{}draining node-{} leaves {} pod(s) Pending ({})",
                    if v == Verdict::Marginal {
                        "depends on the scheduler's tie-breaks: "
                    } else {
                        ""
                    },
                    f.node + 1,
                    f.pending.len(),
                    f.pending
                        .iter()
                        .take(3)
                        .map(|u| u.pod.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            (_, None) => style.paint("1;31", "a drain leaves pods Pending"),
        };
        let _ = writeln!(out, "every node drained in turn (N−1): {verdict}");
    }
    let _ = write!(out, "  legend: ");
    let mut legend = vec![
        format!("{} kubelet reserved", RESERVED.0),
        format!("{} distribution", DISTRO.0),
        format!("{} system pods", SYSTEM.0),
    ];
    legend.extend(drawn().map(|(n, l, _, _)| format!("{l} {n}")));
    legend.push("· free".into());
    let _ = writeln!(out, "{}\n", legend.join("  "));
    out.push_str(&report::budget_table(b));
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The same picture as an SVG chart: a requests bar and a limits bar per node.
pub fn svg(name: &str, m: &NodeModel, b: &Budget) -> String {
    let (left, bar_w, row_h, top) = (110.0, 640.0, 22.0, 70.0);
    let nodes = &b.placement.nodes;
    let height = top + nodes.len() as f64 * (2.0 * row_h + 14.0) + 70.0;
    let width = left + bar_w + 170.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="10" y="22" font-size="16" font-weight="bold">{} — memory per node ({} × {}, {})</text>"#,
        xml(name),
        m.nodes,
        xml(&mib(m.capacity.memory)),
        m.distribution.as_str()
    );
    let _ = writeln!(
        out,
        r#"<text x="10" y="42">allocatable {} per node; {} for the platform after the distribution ({}) and system pods ({}); requests {} of {}</text>"#,
        xml(&mib(m.allocatable.memory)),
        xml(&mib(m.available.memory)),
        xml(&mib(m.distribution_overhead.memory)),
        xml(&mib(m.system_pods.memory)),
        xml(&mib(b.total_request.memory)),
        xml(&mib(b.available.memory)),
    );
    let cap = m.capacity.memory.max(1) as f64;
    let mut y = top;
    for (i, node) in nodes.iter().enumerate() {
        for limits in [false, true] {
            let label = format!(
                "node-{} {}",
                i + 1,
                if limits { "limits" } else { "requests" }
            );
            let _ = writeln!(
                out,
                r#"<text x="10" y="{:.1}">{}</text>"#,
                y + 15.0,
                xml(&label)
            );
            let _ = writeln!(
                out,
                "<rect x=\"{left}\" y=\"{y:.1}\" width=\"{bar_w}\" height=\"{:.1}\" fill=\"#f2f2f2\" stroke=\"#999\"/>",
                row_h - 4.0
            );
            let mut x = left;
            let mut used = 0u64;
            for (_, _, color, seg_name, bytes) in segments(m, node, limits) {
                if bytes == 0 {
                    continue;
                }
                used = used.saturating_add(bytes);
                let w = (bytes as f64 / cap * bar_w).min(left + bar_w - x).max(0.0);
                let _ = writeln!(
                    out,
                    r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{color}"><title>{}: {}</title></rect>"#,
                    row_h - 4.0,
                    xml(&seg_name),
                    xml(&mib(bytes))
                );
                x += w;
            }
            let over = used as f64 > cap;
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}"{}>{}{}</text>"#,
                left + bar_w + 8.0,
                y + 15.0,
                if over { " fill=\"#c00\"" } else { "" },
                xml(&mib(used)),
                if over { " (over capacity)" } else { "" }
            );
            y += row_h;
        }
        y += 14.0;
    }
    // Legend
    let mut x = 10.0;
    let mut legend: Vec<(&str, String)> = vec![
        (RESERVED.2, "kubelet reserved".into()),
        (DISTRO.2, "distribution".into()),
        (SYSTEM.2, "system pods".into()),
    ];
    legend.extend(drawn().map(|(n, _, _, c)| (c, n.to_string())));
    for (color, label) in legend {
        let _ = writeln!(
            out,
            r#"<rect x="{x:.1}" y="{:.1}" width="12" height="12" fill="{color}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            y + 10.0,
            x + 16.0,
            y + 20.0,
            xml(&label)
        );
        x += 16.0 + 8.0 * label.len() as f64 + 18.0;
    }
    out.push_str("</svg>\n");
    out
}

#[derive(Serialize)]
struct ContainerJson {
    component: &'static str,
    workload: String,
    container: String,
    role: &'static str,
    replicas: u32,
    memory_request: u64,
    memory_limit: u64,
    cpu_request_millis: u64,
    cpu_limit_millis: u64,
    /// Bytes per memory pool of what runs inside (empty for helper containers).
    breakdown: BTreeMap<String, u64>,
}

#[derive(Serialize)]
struct BudgetJson<'a> {
    schema: &'static str,
    profile: &'a str,
    node: &'a NodeModel,
    total_request: Res,
    total_limit: Res,
    available: Res,
    components: &'a [budget::Line],
    containers: Vec<ContainerJson>,
    placement: &'a Placement,
    drains: Option<&'a Drains>,
}

/// What runs inside a container, pool by pool.
fn breakdown(
    p: &Profile,
    component: &str,
    workload: &str,
    container: &str,
) -> BTreeMap<String, u64> {
    crate::components::by_name(component)
        .map(|c| (c.memory)(p, workload, container))
        .unwrap_or_default()
}

pub fn run(args: &BudgetArgs) -> Result<Exit, Error> {
    let loaded = load(&args.profile, &args.namespace, &args.sets)?;
    let bundle = render(
        &loaded.profile,
        &RenderOptions {
            namespace: args.namespace.clone(),
        },
    )?;
    let cx = Check::new(&loaded, &bundle);
    let b = budget::compute(&cx);
    if let Some(path) = &args.svg {
        std::fs::write(path, svg(&args.profile, &cx.nodes, &b))
            .map_err(|e| Error::io("write", path, e))?;
    }
    match args.format {
        Format::Text => output::print(&picture(
            &args.profile,
            &cx.nodes,
            &b,
            Style::for_stream(std::io::stdout().is_terminal()),
        ))?,
        Format::Json => {
            let containers = cx
                .groups
                .iter()
                .flat_map(|g| {
                    let workload = format!("{}/{}", g.kind, g.name);
                    g.containers.iter().map(move |c| ContainerJson {
                        component: g.component,
                        workload: workload.clone(),
                        container: c.name.clone(),
                        role: c.role,
                        replicas: g.worst_replicas(),
                        memory_request: c.request.memory,
                        memory_limit: c.limit.memory,
                        cpu_request_millis: c.request.cpu,
                        cpu_limit_millis: c.limit.cpu,
                        breakdown: if c.role == "main" {
                            breakdown(cx.profile, g.component, &workload, &c.name)
                        } else {
                            BTreeMap::new()
                        },
                    })
                })
                .collect();
            let doc = BudgetJson {
                schema: "amctl.budget/v1",
                profile: &args.profile,
                node: &cx.nodes,
                total_request: b.total_request,
                total_limit: b.total_limit,
                available: b.available,
                components: &b.lines,
                containers,
                placement: &b.placement,
                drains: b.drains.as_ref(),
            };
            let mut s = serde_json::to_string_pretty(&doc).map_err(|e| Error::Serialize {
                what: "the budget",
                detail: e.to_string(),
            })?;
            s.push('\n');
            output::print(&s)?;
        }
    }
    Ok(Exit::Ok)
}
