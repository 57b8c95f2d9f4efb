//! `concord sync`: the flags, the question before applying (`--confirm`)
//! and how the result is shown. The use case itself is
//! [`concord_app::sync`].

use crate::Outcome;
use crate::commands::diff::{self, write_text};
use crate::gates::short;
use crate::hub::Failure;
use crate::output::{self, BAD, DIM, KEY, WARN, paint};
use concord_app::diff::DiffReport;
use concord_app::plan::Planned;
use concord_app::sync::{SyncOptions, SyncReport, SyncRun, sync};
use concord_workspace::Workspace;
use std::collections::BTreeMap;
use std::io::Write;

// Other commands read the marks a sync leaves and hash files as it does.

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub(crate) remote: crate::remote::HubArg,
    /// Plan and print; write nothing anywhere.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Apply to the hub (and journal) but do not write files.
    #[arg(long)]
    pub(crate) no_writeback: bool,
    /// Fast-forward repos that are behind their upstream first.
    #[arg(long)]
    pub(crate) pull: bool,
    /// Push each repo after committing.
    #[arg(long)]
    pub(crate) push: bool,
    /// Read every file and plan every item, whatever the watermarks say.
    #[arg(long)]
    pub(crate) full: bool,
    /// Write only to this source (the plan still considers every source).
    #[arg(long, value_name = "SOURCE")]
    pub(crate) only: Option<String>,
    /// Apply only this [[sync]] rule's decisions (the plan still considers
    /// every rule; the others wait for the next sync).
    #[arg(long, value_name = "RULE")]
    pub(crate) rule: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Show the plan and ask before applying it (the answer is read from stdin).
    #[arg(long, conflicts_with = "dry_run")]
    pub(crate) confirm: bool,
    /// A tracker whose token is not set is a configuration error (exit 2)
    /// instead of being skipped with a note.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Warnings (skipped rows, unknown words) make the run exit 1; by
    /// default they are printed on standard error and change nothing.
    #[arg(long)]
    pub(crate) fail_on_warnings: bool,
}

impl Args {
    fn options(&self) -> SyncOptions {
        SyncOptions {
            dry_run: self.dry_run,
            no_writeback: self.no_writeback,
            pull: self.pull,
            push: self.push,
            full: self.full,
            only: self.only.clone(),
            rule: self.rule.clone(),
            strict: self.strict,
            // A run the CLI starts is named by each pass; `concord serve`
            // names its jobs through `SyncOptions.run_id` directly.
            run_id: None,
            actor: None,
        }
    }
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    crate::memory::prefer_small_pages();
    let ask = |planned: &Planned, replans: usize| confirmed(ws, planned, replans);
    let confirm: Option<concord_app::sync::Confirm<'_>> =
        if args.confirm { Some(&ask) } else { None };
    let result = sync(ws, &args.options(), confirm, &output::Bars)?;
    let mut out = output::stdout();
    let written = match &result {
        SyncRun::Unchanged(report) | SyncRun::Applied(report) if args.json => {
            write_json(report, &mut out)
        }
        SyncRun::Unchanged(unchanged) => writeln!(
            out,
            "nothing changed since the last sync converged ({}): nothing to do",
            unchanged.unchanged_since.as_deref().unwrap_or("?")
        ),
        SyncRun::DryRun(dry) => diff::write(dry, args.json, &mut out),
        SyncRun::Declined => Ok(()),
        SyncRun::Applied(report) => write_report(report, output::verbose(), &mut out),
    };
    output::finish(written.and_then(|()| out.flush()));
    Ok(match &result {
        SyncRun::DryRun(dry) => diff::finish(ws, dry, args.fail_on_warnings),
        SyncRun::Unchanged(report) | SyncRun::Applied(report) => output::warnings_to_stderr(
            ws,
            &report.warning_details,
            args.fail_on_warnings,
            result.outcome(),
        ),
        SyncRun::Declined => result.outcome(),
    })
}

/// A sync's report as `--json` prints it: through `serde_json::Value`, as
/// `concord serve` keeps a job's output, so `--hub` prints the same bytes.
fn write_json(report: &SyncReport, out: &mut impl Write) -> std::io::Result<()> {
    let value = serde_json::to_value(report)?;
    serde_json::to_writer_pretty(&mut *out, &value)?;
    writeln!(out)
}

/// Shows the plan and asks whether to apply it; the answer is read from
/// stdin, a terminal or not.
fn confirmed(ws: &Workspace, planned: &Planned, replans: usize) -> Result<bool, Failure> {
    let mut out = output::stdout();
    let asked = (|| {
        if replans > 0 {
            writeln!(
                out,
                "files changed while syncing: read and planned again; the new plan:"
            )?;
        }
        // The gates' blockers are not shown here: only the plan.
        write_text(&DiffReport::new(ws, planned, &BTreeMap::new()), &mut out)?;
        write!(out, "apply these changes? [y/N] ")?;
        out.flush()
    })();
    output::finish(asked);
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Failure::usage(format!("cannot read the answer: {e}"), None))?;
    let yes = matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes");
    if !yes {
        println!("nothing applied");
    }
    Ok(yes)
}

fn write_report(report: &SyncReport, verbose: bool, out: &mut impl Write) -> std::io::Result<()> {
    let (key, dim, warn, bad) = (paint(KEY), paint(DIM), paint(WARN), paint(BAD));
    for a in &report.applied {
        writeln!(
            out,
            "{key}{}{key:#}  {}: {} -> {}  {dim}({}, from {}; {}){dim:#}",
            a.key,
            a.target,
            a.from.as_deref().unwrap_or("(none)"),
            a.to,
            a.reason,
            a.origin,
            a.place
        )?;
    }
    for (repo, pulled) in &report.pulled {
        writeln!(out, "pulled {repo}: {pulled}")?;
    }
    for (repo, id) in &report.commits {
        writeln!(out, "committed {repo}: {}", short(id))?;
    }
    for (k, target, to) in &report.skipped_writes {
        writeln!(
            out,
            "{dim}not written (--no-writeback){dim:#} {k} {target}: would get {to}"
        )?;
    }
    for n in &report.not_applied {
        writeln!(
            out,
            "{bad}not applied{bad:#} {} {}: {}",
            n.key, n.target, n.problem
        )?;
    }
    for (k, source, reason, detail) in &report.held {
        writeln!(out, "{warn}held{warn:#} {k} {source}: {reason}: {detail}")?;
    }
    for (k, reason, explanation) in &report.undecided {
        writeln!(out, "{bad}not decided{bad:#} {k}: {reason}: {explanation}")?;
    }
    for (repo, blocker) in &report.repos_blocked {
        writeln!(out, "{warn}repo {repo} not written{warn:#}: {blocker}")?;
    }
    if verbose {
        for (source, read) in &report.reads {
            writeln!(out, "{dim}read {source}: {read}{dim:#}")?;
        }
        writeln!(out, "{dim}planned items: {}{dim:#}", report.planned)?;
        for (repo, note) in &report.notes {
            writeln!(out, "{dim}repo {repo}: {note}{dim:#}")?;
        }
    }
    for (name, key) in &report.missing_in_trackers {
        writeln!(
            out,
            "{warn}not found{warn:#} {key} in {name}: the tracker has no such item"
        )?;
    }
    for (name, why, failed) in &report.trackers_not_read {
        if *failed {
            writeln!(out, "{bad}tracker {name} not read{bad:#}: {why}")?;
        } else {
            writeln!(out, "{warn}note{warn:#}: {why}")?;
        }
    }
    if report.replans > 0 {
        writeln!(
            out,
            "files or hub values changed while syncing: read and planned again ({})",
            output::count(report.replans, "time")
        )?;
    }
    writeln!(
        out,
        "{} applied, {} not applied, {} held back, {} not decided, {}",
        report.applied.len(),
        report.not_applied.len(),
        report.held.len(),
        report.undecided.len(),
        output::count(report.commits.len(), "commit")
    )
}
