//! `concord set KEY STATUS`: change an item's status in the hub. A lower
//! rank than the current one is a reopen and needs `--force`. The use case
//! is `concord_app::set`; this file parses and renders.

use crate::Outcome;
use crate::hub::{self, Failure};
use concord_app::set::{SetOptions, SetReport, set};
use concord_workspace::Workspace;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub(crate) remote: crate::remote::HubArg,
    /// The item's key.
    pub(crate) key: String,
    /// The new status (a status or alias of the item's workflow).
    pub(crate) status: String,
    /// Why, recorded in the journal.
    #[arg(long)]
    pub(crate) note: Option<String>,
    /// Allow a status of lower rank than the current one (a reopen).
    #[arg(long)]
    pub(crate) force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let options = SetOptions {
        key: args.key.clone(),
        status: args.status.clone(),
        note: args.note.clone(),
        force: args.force,
        actor: hub::actor(ws),
    };
    let report = hub::using_store(ws, |store| set(ws, store, &options))?;
    print(args, &report);
    Ok(Outcome::Clean)
}

/// The report as JSON or text; also for `--hub`.
pub(crate) fn print(args: &Args, report: &SetReport) {
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    } else if report.changed {
        println!(
            "{}: {} -> {} ({}, hub version {})",
            report.key,
            report.from.as_deref().unwrap_or("(no hub value)"),
            report.to,
            report.reason,
            report.value_version
        );
    } else {
        println!(
            "{}: already {} (hub version {})",
            report.key, report.to, report.value_version
        );
    }
}
