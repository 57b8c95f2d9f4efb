//! `concord diff`: what a sync would change, grouped by target, with the
//! reason for every change and every item held back. Writes no file. The
//! plan is [`concord_app::diff`]'s; this file parses the flags and renders
//! a [`DiffReport`] (a sync's dry run renders the same report).

use crate::Outcome;
use crate::hub::Failure;
use crate::output::{self, BAD, DIM, KEY, WARN, paint};
use concord_app::diff::{DiffOptions, DiffReport, diff};
use concord_engine::Reason;
use concord_workspace::Workspace;
use std::collections::BTreeMap;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
    /// Do not fetch: judge staleness against the last fetch.
    #[arg(long)]
    no_fetch: bool,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let report = diff(
        ws,
        &DiffOptions {
            fetch: !args.no_fetch,
        },
    )?;
    let mut out = output::stdout();
    output::finish(write(ws, &report, args.json, &mut out).and_then(|()| out.flush()));
    Ok(report.outcome())
}

/// The report as `diff` prints it, and `sync --dry-run` (a dry run is a
/// diff): JSON, or the text and the repos nothing would be written to.
pub fn write(
    ws: &Workspace,
    report: &DiffReport,
    json: bool,
    out: &mut impl Write,
) -> std::io::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        writeln!(out)
    } else {
        write_text(ws, report, out)?;
        let blocked = report
            .repos_blocked
            .iter()
            .map(|(repo, blocker)| (repo.as_str(), blocker.as_str()));
        write_blocked(blocked, out)
    }
}

/// The repos nothing would be written to, and why (with the fix).
pub fn write_blocked<'a>(
    blocked: impl IntoIterator<Item = (&'a str, &'a str)>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let warn = paint(WARN);
    for (name, blocker) in blocked {
        writeln!(out, "{warn}repo {name} not written{warn:#}: {blocker}")?;
    }
    Ok(())
}

/// The plan as text: changes by target, what is held back, what is not
/// decided, the scan's warnings and a summary line.
pub fn write_text(
    ws: &Workspace,
    report: &DiffReport,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let (key, dim, warn, bad) = (paint(KEY), paint(DIM), paint(WARN), paint(BAD));
    let mut by_target: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for c in &report.changes {
        by_target.entry(c.target.as_str()).or_default().push(c);
    }
    for (target, changes) in &by_target {
        writeln!(
            out,
            "{key}{target}{key:#}: {}",
            output::count(changes.len(), "change")
        )?;
        for c in changes {
            writeln!(
                out,
                "  {}  {} -> {}  {dim}({}, from {}; rule {}){dim:#}",
                c.key,
                c.from.as_deref().unwrap_or("(none)"),
                c.to,
                c.reason.as_str(),
                c.origin,
                c.rule
            )?;
        }
    }
    let held: Vec<_> = report
        .held
        .iter()
        .filter(|h| h.reason != Reason::NotInSource)
        .collect();
    if !held.is_empty() {
        writeln!(
            out,
            "{warn}held back{warn:#}: {}",
            output::count(held.len(), "item")
        )?;
        for h in &held {
            writeln!(
                out,
                "  {}  {}  {}: {}",
                h.key,
                h.source,
                h.reason.as_str(),
                h.detail
            )?;
        }
    }
    if !report.undecided.is_empty() {
        writeln!(
            out,
            "{bad}not decided{bad:#}: {}",
            output::count(report.undecided.len(), "item")
        )?;
        for d in &report.undecided {
            writeln!(out, "  {}  {}: {}", d.key, d.reason.as_str(), d.explanation)?;
        }
    }
    output::write_warnings(out, ws, &report.warnings)?;
    let summary: Vec<String> = report
        .decisions
        .iter()
        .map(|(reason, n)| format!("{} {n}", reason.as_str()))
        .collect();
    writeln!(
        out,
        "{} planned in {}, {} held back; {} decided: {}",
        output::count(report.changes.len(), "change"),
        output::count(report.changed_items, "item"),
        held.len(),
        output::count(report.items(), "item"),
        if summary.is_empty() {
            "none".to_string()
        } else {
            summary.join(", ")
        }
    )
}
