//! `amctl diff`: what differs between two profiles, or a profile and a cluster, explained.

use crate::diff::{self, view};
use crate::error::{Error, Exit, Usage};
use crate::output;
use crate::report::Style;
use std::io::IsTerminal;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Unified,
    Fields,
    Json,
}

pub struct DiffArgs {
    pub from: String,
    pub to: String,
    pub namespace: String,
    /// Overrides for a FROM profile.
    pub from_sets: Vec<String>,
    /// Overrides for a TO profile.
    pub to_sets: Vec<String>,
    pub view: View,
    pub context: usize,
    pub exit_zero: bool,
}

pub fn run(args: &DiffArgs) -> Result<Exit, Error> {
    if args.from == "-" && args.to == "-" {
        return Err(Error::Usage(Usage::BothSidesStdin));
    }
    let what = "nothing was compared (fix them; to compare anyway, render it with --skip-validation into a file and diff that)";
    let old = match super::side(&args.from, &args.namespace, &args.from_sets, what, None)? {
        Ok(side) => side.objects,
        Err(exit) => return Ok(exit),
    };
    let new = match super::side(&args.to, &args.namespace, &args.to_sets, what, None)? {
        Ok(side) => side.objects,
        Err(exit) => return Ok(exit),
    };
    let diffs = diff::diff(old, new);
    let style = Style::for_stream(std::io::stdout().is_terminal());
    let text = match args.view {
        View::Unified => view::unified(&diffs, &args.from, &args.to, args.context, style),
        View::Fields => view::fields(&diffs, style),
        View::Json => view::json(&diffs, &args.from, &args.to),
    };
    output::print(&text)?;
    Ok(if diffs.is_empty() || args.exit_zero {
        Exit::Ok
    } else {
        Exit::Invalid
    })
}
