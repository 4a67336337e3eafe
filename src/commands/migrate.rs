//! `amctl migrate`: move a running installation from one profile to another.

use crate::error::{Error, Exit, Usage};
use crate::migrate::{self, Options, emit};
use crate::output;
use crate::report::Style;
use std::io::IsTerminal;

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
    pub allow_data_migration: bool,
    pub prune: bool,
    pub skip_validation: bool,
}

pub fn run(args: &MigrateArgs) -> Result<Exit, Error> {
    let what = "no step was planned (fix them, then migrate)";
    let old = match super::side(&args.from, &args.namespace, &args.from_sets, what, None)? {
        Ok(side) => side,
        Err(exit) => return Ok(exit),
    };
    let despite = args.skip_validation.then_some("--skip-validation");
    let new = match super::side(&args.to, &args.namespace, &args.to_sets, what, despite)? {
        Ok(side) => side,
        Err(exit) => return Ok(exit),
    };
    let profiles = match (&old.profile, &new.profile) {
        (Some(a), Some(b)) => Some((a, b)),
        _ => None,
    };
    let mut plan = migrate::plan(
        &args.from,
        &args.to,
        old.objects,
        new.objects,
        profiles,
        &Options {
            namespace: args.namespace.clone(),
            allow_data_loss: args.allow_data_loss,
            allow_data_migration: args.allow_data_migration,
            prune: args.prune,
        },
    );
    if let Some(p) = args.phase {
        let Some(p) = crate::change::Phase::from_number(p) else {
            return Err(Error::Usage(Usage::Phase(p)));
        };
        plan.steps.retain(|s| s.phase == p);
    }
    let left_out = plan.left_out_of_apply().len();
    match args.format {
        Format::Apply => {
            output::print(&emit::apply_stream(&plan))?;
            eprint!("{}", emit::left_out_note(&plan));
            return Ok(if left_out > 0 {
                Exit::Partial
            } else {
                Exit::Ok
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
        Exit::Partial
    } else {
        Exit::Ok
    })
}
