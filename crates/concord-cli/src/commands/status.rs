//! `concord status`: each item's status in every source, side by side.
//! The use case is [`concord_app::status`]'s; this file parses the
//! arguments and renders.

use crate::Outcome;
use crate::commands::scan::push_status_words;
use crate::hub::Failure;
use crate::output::{self, BAD, DIM, GOOD, KEY, paint};
use concord_app::status::{Reading, StatusOptions, StatusReport, status};
use concord_workspace::Workspace;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only these items (all when none is given).
    keys: Vec<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Files only: read neither the hub's values nor trackers, record nothing.
    #[arg(long)]
    no_hub: bool,
    /// Do not fetch: judge staleness against the last fetch.
    #[arg(long)]
    no_fetch: bool,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let options = StatusOptions {
        keys: args.keys.clone(),
        hub: !args.no_hub,
        fetch: !args.no_fetch,
    };
    let report = status(ws, &options)?;
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    let mut out = output::stdout();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_text(ws, &report, &mut out).and_then(|()| {
            let blocked = report
                .repos
                .iter()
                .filter_map(|r| r.blocker.as_deref().map(|b| (r.name.as_str(), b)));
            super::diff::write_blocked(blocked, &mut out)
        })
    };
    output::finish(written.and_then(|()| out.flush()));
    Ok(report.outcome())
}

/// `done`, `done (complete)`, `? deferred` or `-`, as `scan` shows it.
fn status_text(reading: &Reading) -> String {
    let mut text = String::new();
    push_status_words(&mut text, reading.raw.as_deref(), reading.status.as_deref());
    text
}

fn write_text(ws: &Workspace, report: &StatusReport, out: &mut impl Write) -> std::io::Result<()> {
    let (key, dim, good, bad) = (paint(KEY), paint(DIM), paint(GOOD), paint(BAD));
    let mut paths = output::PathDisplay::new(ws);
    let items = &report.items;
    let key_width = items.iter().map(|i| i.key.len()).max().unwrap_or(0);
    for item in items {
        let mark = if !item.agree {
            format!("{bad}differ{bad:#}")
        } else if item.sources.len() > 1 {
            format!("{good}  same{good:#}")
        } else {
            "   one".to_string()
        };
        let readings: Vec<String> = item
            .sources
            .iter()
            .map(|o| format!("{dim}{}:{dim:#} {}", o.source, status_text(o)))
            .collect();
        writeln!(
            out,
            "{key}{:key_width$}{key:#}  {mark}  {}",
            item.key,
            readings.join("   ")
        )?;
        if !item.agree {
            for o in &item.sources {
                let place = if o.repo.is_empty() {
                    format!(
                        "the hub, version {}",
                        o.hub_version.as_deref().unwrap_or("?")
                    )
                } else {
                    format!(
                        "{}:{}",
                        paths.show(&o.repo, &o.path),
                        o.status_line.unwrap_or(o.line)
                    )
                };
                writeln!(
                    out,
                    "{:key_width$}          {dim}{}: {place}{dim:#}",
                    "", o.source
                )?;
            }
        }
    }
    for missing in &report.missing {
        writeln!(out, "{bad}{missing}{bad:#}: no source holds this item")?;
    }
    output::write_warnings(out, ws, &report.warnings)?;
    let summary = &report.summary;
    writeln!(
        out,
        "{}, {} differ, {}",
        output::count(summary.items, "item"),
        summary.disagree,
        output::count(summary.warnings, "warning")
    )
}
