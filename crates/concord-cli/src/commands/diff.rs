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
    /// A tracker whose token is not set is a configuration error (exit 2)
    /// instead of a note.
    #[arg(long)]
    strict: bool,
    /// Read every file and plan every item. By default, after a sync with
    /// the same config, only the files and items that can have changed
    /// since are read and planned; the others are as that sync left them.
    #[arg(long)]
    full: bool,
    /// Warnings (skipped rows, unknown words) make the run exit 1; by
    /// default they are printed on standard error and change nothing.
    #[arg(long)]
    fail_on_warnings: bool,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let report = diff(
        ws,
        &DiffOptions {
            fetch: !args.no_fetch,
            strict: args.strict,
            full: args.full,
        },
    )?;
    let mut out = output::stdout();
    output::finish(write(&report, args.json, &mut out).and_then(|()| out.flush()));
    Ok(finish(ws, &report, args.fail_on_warnings))
}

/// After the report: the sources not read and the warnings on standard
/// error, and the exit code they all call for (`sync --dry-run` too).
pub fn finish(ws: &Workspace, report: &DiffReport, fail_on_warnings: bool) -> Outcome {
    output::not_read_to_stderr(
        report
            .sources_not_read
            .iter()
            .map(|n| (n.source.as_str(), n.why.as_str(), n.failed)),
    );
    output::warnings_to_stderr(ws, &report.warnings, fail_on_warnings, report.outcome())
}

/// The report as `diff` prints it, and `sync --dry-run` (a dry run is a
/// diff): JSON, or the text and the repos nothing would be written to.
pub fn write(report: &DiffReport, json: bool, out: &mut impl Write) -> std::io::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        writeln!(out)
    } else {
        write_text(report, out)?;
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

/// Items whose value in a source that could not be read is unknown.
fn write_unknown(report: &DiffReport, out: &mut impl Write) -> std::io::Result<()> {
    let warn = paint(WARN);
    let unknown: Vec<_> = report
        .held
        .iter()
        .filter(|h| h.reason == Reason::SourceUnread)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{warn}unknown{warn:#}: {} (a source was not read)",
        output::count(unknown.len(), "item")
    )?;
    for h in &unknown {
        writeln!(out, "  {}  {}: not read", h.key, h.source)?;
    }
    for n in &report.sources_not_read {
        writeln!(out, "  {} not read: {}", n.source, n.why)?;
    }
    Ok(())
}

/// What a sync would find in the trackers: keys they lack, statuses they
/// would refuse.
fn write_tracker_findings(report: &DiffReport, out: &mut impl Write) -> std::io::Result<()> {
    let (warn, bad) = (paint(WARN), paint(BAD));
    for m in &report.missing_in_trackers {
        writeln!(
            out,
            "{warn}not found{warn:#} {} in {}: the tracker has no such item",
            m.key, m.tracker
        )?;
    }
    for p in &report.write_problems {
        writeln!(
            out,
            "{bad}would fail{bad:#} {} {} -> {}: {}",
            p.key, p.target, p.to, p.problem
        )?;
    }
    Ok(())
}

/// The plan as text: changes by target, what is held back, what is not
/// decided, the scan's warnings and a summary line.
pub fn write_text(report: &DiffReport, out: &mut impl Write) -> std::io::Result<()> {
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
        .filter(|h| !matches!(h.reason, Reason::NotInSource | Reason::SourceUnread))
        .collect();
    write_unknown(report, out)?;
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
    write_tracker_findings(report, out)?;
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
    )?;
    if report.planned != "all" && !report.planned.is_empty() {
        writeln!(
            out,
            "{dim}planned only the items {}: the others are as the last sync left them (--full plans all){dim:#}",
            report.planned
        )?;
    }
    Ok(())
}
