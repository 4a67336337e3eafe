//! `amctl migrate`: move a running installation from one profile to another.

use crate::diff::input;
use crate::error::Error;
use crate::migrate::{self, Options, emit};
use crate::output;
use crate::pipeline::load;
use crate::report::Style;
use std::io::IsTerminal;

/// Exit code when the apply stream is not the whole migration.
pub const PARTIAL: i32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Apply,
    Script,
    Patches,
    Plan,
    Json,
}

pub struct MigrateArgs {
    pub from: String,
    pub to: String,
    pub namespace: String,
    pub from_sets: Vec<String>,
    pub to_sets: Vec<String>,
    pub format: Format,
    pub phase: Option<u8>,
    pub allow_data_loss: bool,
    pub prune: bool,
}

pub fn run(args: &MigrateArgs) -> Result<i32, Error> {
    let old = input::read(&args.from, &args.namespace, &args.from_sets)?;
    let new = input::read(&args.to, &args.namespace, &args.to_sets)?;
    let profiles = if input::is_profile(&args.from) && input::is_profile(&args.to) {
        Some((
            load(&args.from, &args.namespace, &args.from_sets)?.profile,
            load(&args.to, &args.namespace, &args.to_sets)?.profile,
        ))
    } else {
        None
    };
    let mut plan = migrate::plan(
        &args.from,
        &args.to,
        old,
        new,
        profiles.as_ref().map(|(a, b)| (a, b)),
        &Options {
            namespace: args.namespace.clone(),
            allow_data_loss: args.allow_data_loss,
            prune: args.prune,
        },
    );
    if let Some(p) = args.phase {
        let Some(p) = crate::change::Phase::from_number(p) else {
            return Err(Error::Usage(format!(
                "--phase {p}: phases are 1 (infrastructure), 2 (resources) and 3 (hardening)"
            )));
        };
        plan.steps.retain(|s| s.phase == p);
    }
    let left_out = plan.left_out_of_apply().len();
    match args.format {
        Format::Apply => {
            output::print(&emit::apply_stream(&plan))?;
            eprint!("{}", emit::left_out_note(&plan));
            return Ok(if left_out > 0 {
                PARTIAL
            } else {
                crate::exit::OK
            });
        }
        Format::Script => output::print(&emit::script(&plan))?,
        Format::Patches => output::print(&emit::patches(&plan))?,
        Format::Plan => output::print(&emit::human(
            &plan,
            Style::for_stream(std::io::stdout().is_terminal()),
        ))?,
        Format::Json => output::print(&emit::json(&plan))?,
    }
    Ok(if plan.steps.iter().any(|s| s.refused) {
        PARTIAL
    } else {
        crate::exit::OK
    })
}
