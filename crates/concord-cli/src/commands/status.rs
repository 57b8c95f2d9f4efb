//! `concord status`: each item's status in every source, side by side.
//! The use case is [`concord_app::status`]'s; this file parses the
//! arguments and renders.

use crate::Outcome;
use crate::commands::scan::push_status_words;
use crate::hub::Failure;
use crate::output::{self, BAD, DIM, GOOD, KEY, WARN, paint};
use concord_app::status::{Reading, StatusItem, StatusOptions, StatusReport, status};
use concord_workspace::Workspace;
use rayon::prelude::*;
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
    /// A tracker whose token is not set is a configuration error (exit 2)
    /// instead of a note.
    #[arg(long)]
    strict: bool,
    /// Warnings (skipped rows, unknown words) make the run exit 1; by
    /// default they are printed on standard error and change nothing.
    #[arg(long)]
    fail_on_warnings: bool,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let options = StatusOptions {
        keys: args.keys.clone(),
        hub: !args.no_hub,
        fetch: !args.no_fetch,
        strict: args.strict,
    };
    let report = status(ws, &options)?;
    output::not_read_to_stderr(
        report
            .sources_not_read
            .iter()
            .map(|n| (n.source.as_str(), n.why.as_str(), n.failed)),
    );
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
    concord_app::timings::phase("shown");
    let outcome = output::warnings_to_stderr(
        ws,
        &report.warnings,
        args.fail_on_warnings,
        report.outcome(),
    );
    // The process ends next: freeing 100k items one by one is wasted work.
    std::mem::forget(report);
    Ok(outcome)
}

/// `done`, `done (complete)`, `? deferred` or `-`, as `scan` shows it.
fn status_text(reading: &Reading) -> String {
    let mut text = String::new();
    push_status_words(&mut text, reading.raw.as_deref(), reading.status.as_deref());
    text
}

fn write_text(ws: &Workspace, report: &StatusReport, out: &mut impl Write) -> std::io::Result<()> {
    let items = &report.items;
    let key_width = items.iter().map(|i| i.key.len()).max().unwrap_or(0);
    // Chunks of items render in parallel into their own buffers, then go
    // out in order: 100k lines are most of a status's own work.
    let rendered: Vec<std::io::Result<Vec<u8>>> = items
        .par_chunks(4096)
        .map(|chunk| {
            let mut buffer = Vec::with_capacity(chunk.len() * 96);
            let mut paths = output::PathDisplay::new(ws);
            chunk
                .iter()
                .try_for_each(|item| write_item(item, key_width, &mut paths, &mut buffer))
                .map(|()| buffer)
        })
        .collect();
    for buffer in rendered {
        out.write_all(&buffer?)?;
    }
    let bad = paint(BAD);
    for missing in &report.missing {
        writeln!(out, "{bad}{missing}{bad:#}: no source holds this item")?;
    }
    let summary = &report.summary;
    let unknown = if summary.unknown > 0 {
        format!(", {} unknown", summary.unknown)
    } else {
        String::new()
    };
    writeln!(
        out,
        "{}, {} differ{unknown}, {}",
        output::count(summary.items, "item"),
        summary.disagree,
        output::count(summary.warnings, "warning")
    )
}

fn write_item(
    item: &StatusItem,
    key_width: usize,
    paths: &mut output::PathDisplay<'_>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let (key, dim, good, bad, warn) =
        (paint(KEY), paint(DIM), paint(GOOD), paint(BAD), paint(WARN));
    let mark = if !item.agree {
        format!("{bad} differ{bad:#}")
    } else if !item.unknown.is_empty() {
        format!("{warn}unknown{warn:#}")
    } else if item.sources.len() > 1 {
        format!("{good}   same{good:#}")
    } else {
        "    one".to_string()
    };
    let readings: Vec<String> = item
        .sources
        .iter()
        .map(|o| format!("{dim}{}:{dim:#} {}", o.source, status_text(o)))
        .chain(
            item.unknown
                .iter()
                .map(|s| format!("{dim}{s}:{dim:#} {warn}? (not read){warn:#}")),
        )
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
                "{:key_width$}           {dim}{}: {place}{dim:#}",
                "", o.source
            )?;
        }
    }
    Ok(())
}
