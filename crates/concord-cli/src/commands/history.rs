//! `concord history KEY`: the item's journal, oldest first (the use case
//! is `concord_app::history`).

use crate::Outcome;
use crate::hub::{self, Failure};
use crate::output::{self, DIM, KEY, paint};
use concord_app::history::HistoryReport;
use concord_store::{JournalEntry, JournalKind};
use concord_workspace::Workspace;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub(crate) remote: crate::remote::HubArg,
    /// The item's key.
    pub(crate) key: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let report = hub::using_store(ws, |store| concord_app::history::history(store, &args.key))?;
    print(args, &report);
    Ok(Outcome::Clean)
}

/// The journal of `args.key`, as JSON or text; also for `--hub`.
pub(crate) fn print(args: &Args, report: &HistoryReport) {
    let mut out = output::stdout();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_text(&args.key, &report.entries, &mut out)
    };
    output::finish(written.and_then(|()| out.flush()));
}

fn write_text(key: &str, entries: &[JournalEntry], out: &mut impl Write) -> std::io::Result<()> {
    let (bold, dim) = (paint(KEY), paint(DIM));
    if entries.is_empty() {
        return writeln!(out, "{key}: no journal entries");
    }
    writeln!(out, "{bold}{key}{bold:#}")?;
    for e in entries {
        let what = match e.kind {
            JournalKind::Change => format!(
                "{}: {} -> {}",
                e.field.as_deref().unwrap_or("value"),
                e.from.as_deref().unwrap_or("(none)"),
                e.to.as_deref().unwrap_or("(none)")
            ),
            JournalKind::Event => {
                let mut text = format!("event {}", e.event_type.as_deref().unwrap_or("?"));
                if let Some(phase) = &e.phase {
                    text.push_str(&format!(" [phase {phase}]"));
                }
                text
            }
        };
        writeln!(
            out,
            "  {}  {what}  {dim}{} by {}{}{dim:#}",
            e.at,
            e.reason,
            e.actor,
            e.target
                .as_deref()
                .map(|t| format!(", in {t}"))
                .unwrap_or_default()
        )?;
        if let Some(note) = &e.note {
            writeln!(out, "      {note}")?;
        }
        if !e.artifacts.is_empty() {
            writeln!(out, "      artifacts: {}", e.artifacts.join(", "))?;
        }
    }
    Ok(())
}
