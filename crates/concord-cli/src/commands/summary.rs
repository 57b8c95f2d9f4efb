//! `concord summary`: the control room in the terminal. Per repo and
//! source, items by status; how many items drift; the latest check
//! snapshot's findings by severity; the last sync with each repo's commit;
//! and the newest journal entries of every repo, time-sorted and tagged.
//! The report is `concord_app::summary::Summary`; this file renders it.

use crate::Outcome;
use crate::hub::{self, Failure};
use concord_app::summary::{Summary, SummaryOptions};
use concord_workspace::Workspace;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub(crate) remote: crate::remote::HubArg,
    /// Print the summary as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// How many journal entries to show.
    #[arg(long, default_value_t = concord_app::summary::EVENTS_LISTED)]
    pub(crate) events: i64,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let options = SummaryOptions {
        events: args.events,
    };
    let summary = hub::using_store(ws, |store| {
        concord_app::summary::summary(ws, store, &options)
    })?;
    print(args, &summary);
    Ok(Outcome::Clean)
}

/// The summary as JSON (the same bytes locally and through `--hub`) or text.
pub(crate) fn print(args: &Args, summary: &Summary) {
    let mut out = crate::output::stdout();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, summary)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_text(summary, &mut out)
    };
    crate::output::finish(written.and_then(|()| out.flush()));
}

/// Items not yet in the hub named on the text's line (all are counted).
const NOT_IN_HUB_NAMED: usize = 10;

/// One line per mirror rule (copies by state) and per train (status, and
/// what is live).
fn write_mirrors_and_trains(summary: &Summary, out: &mut impl Write) -> std::io::Result<()> {
    for rule in &summary.mirrors {
        let states: Vec<String> = rule
            .by_state
            .iter()
            .map(|(state, n)| format!("{n} {state}"))
            .collect();
        writeln!(
            out,
            "mirror rule {}: {} documents; copies {}",
            rule.rule,
            rule.documents,
            states.join(", ")
        )?;
    }
    for train in &summary.trains {
        writeln!(
            out,
            "train {} #{}: {} ({} steps journaled)",
            train.name,
            train.id,
            train.status,
            train.steps.len()
        )?;
    }
    if !summary.live.is_empty() {
        let live: Vec<String> = summary
            .live
            .iter()
            // A commit shortened as elsewhere; a version is short anyway.
            .map(|l| format!("{} {}", l.repo, l.what.chars().take(10).collect::<String>()))
            .collect();
        writeln!(out, "live: {}", live.join(", "))?;
    }
    Ok(())
}

fn write_text(summary: &Summary, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "items")?;
    for s in &summary.sources {
        let counts: Vec<String> = s
            .by_status
            .iter()
            .map(|(status, n)| format!("{status} {n}"))
            .collect();
        writeln!(out, "  {}/{}: {}", s.repo, s.source, counts.join(", "))?;
    }
    writeln!(
        out,
        "  {} items, {} drifting between sources",
        summary.items, summary.drifting
    )?;
    if summary.not_in_hub > 0 {
        let keys: Vec<&str> = summary
            .not_in_hub_items
            .iter()
            .take(NOT_IN_HUB_NAMED)
            .map(|i| i.key.as_str())
            .collect();
        let more = summary.not_in_hub.saturating_sub(keys.len());
        writeln!(
            out,
            "  {} not yet in the hub: {}{}",
            summary.not_in_hub,
            keys.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )?;
    }
    match &summary.findings {
        Some(f) => {
            let counts: Vec<String> = f
                .by_severity
                .iter()
                .map(|(severity, n)| format!("{n} {severity}"))
                .collect();
            writeln!(
                out,
                "findings (snapshot {} of {}{}): {}",
                f.snapshot,
                f.taken_at,
                f.commit
                    .as_deref()
                    .map_or(String::new(), |c| format!(", {}", &c[..c.len().min(10)])),
                if counts.is_empty() {
                    "none".to_string()
                } else {
                    counts.join(", ")
                }
            )?;
        }
        None => writeln!(out, "findings: no snapshot yet (concord check --snapshot)")?,
    }
    match &summary.last_sync {
        Some(sync) => {
            let commits: Vec<String> = sync
                .commits
                .iter()
                .map(|(repo, commit)| format!("{repo} {}", &commit[..commit.len().min(10)]))
                .collect();
            writeln!(out, "last sync: {} ({})", sync.at, commits.join(", "))?;
        }
        None => writeln!(out, "last sync: none yet")?,
    }
    if let Some(mirror) = &summary.last_mirror {
        let commits: Vec<String> = mirror
            .commits
            .iter()
            .map(|(repo, commit)| format!("{repo} {}", &commit[..commit.len().min(10)]))
            .collect();
        writeln!(
            out,
            "last mirror: {} (rule {}: {} written, {} reported, {} failed{}{})",
            mirror.at,
            mirror.rule,
            mirror.written,
            mirror.reported,
            mirror.failed,
            if commits.is_empty() { "" } else { "; " },
            commits.join(", ")
        )?;
    }
    write_mirrors_and_trains(summary, out)?;
    writeln!(out, "recent events")?;
    for e in &summary.events {
        writeln!(
            out,
            "  {}  {}  {}  [{}] by {}",
            e.at, e.key, e.what, e.source, e.actor
        )?;
    }
    Ok(())
}
