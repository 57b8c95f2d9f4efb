//! `concord log KEY --event TYPE`: append an event to the item's journal,
//! and to its in-repo log file when the source configures one
//! (`log_file = ".claude/logs/{key}.log.json"`), keeping every earlier byte.
//! The use case is `concord_app::log`; this file parses and renders.

use crate::Outcome;
use crate::hub::{self, Failure};
use concord_app::log::{LogOptions, LogReport, log};
use concord_workspace::Workspace;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub(crate) remote: crate::remote::HubArg,
    /// The item's key.
    pub(crate) key: String,
    /// Event type, e.g. `phase_started`, `phase_approved`.
    #[arg(long = "event", value_name = "TYPE")]
    pub(crate) event_type: String,
    /// Lifecycle phase the event belongs to.
    #[arg(long)]
    pub(crate) phase: Option<String>,
    /// One-line summary.
    #[arg(long)]
    pub(crate) summary: Option<String>,
    /// A file the event produced (repeatable).
    #[arg(long = "artifact", value_name = "PATH")]
    pub(crate) artifacts: Vec<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let options = LogOptions {
        key: args.key.clone(),
        event_type: args.event_type.clone(),
        phase: args.phase.clone(),
        summary: args.summary.clone(),
        artifacts: args.artifacts.clone(),
        actor: hub::actor(ws),
    };
    let report = hub::using_store(ws, |store| log(ws, store, &options))?;
    print(args, &report);
    Ok(Outcome::Clean)
}

/// The report as JSON or text; also for `--hub`.
pub(crate) fn print(args: &Args, report: &LogReport) {
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    } else {
        let also = if report.log_files.is_empty() {
            String::new()
        } else {
            format!(", and in {}", report.log_files.join(", "))
        };
        println!(
            "{}: logged {} (journal #{}){also}",
            report.key, args.event_type, report.journal_id
        );
    }
}
