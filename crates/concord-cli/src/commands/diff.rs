//! `concord diff`: what a sync would change, grouped by target, with the
//! reason for every change and every item held back. Writes no file.

use crate::Outcome;
use crate::gates::RepoGate;
use crate::hub::Failure;
use crate::output::{self, BAD, DIM, KEY, WARN, paint};
use concord_app::plan::{Planned, Scope, look_gates, plan_workspace};
use concord_engine::{Plan, Reason};
use concord_workspace::{ScanReport, Workspace};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
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

#[derive(Serialize)]
struct JsonChange<'a> {
    key: &'a str,
    rule: &'a str,
    target: &'a str,
    from: Option<&'a str>,
    to: &'a str,
    reason: Reason,
    origin: &'a str,
}

#[derive(Serialize)]
struct JsonHold<'a> {
    key: &'a str,
    rule: &'a str,
    source: &'a str,
    reason: Reason,
    detail: &'a str,
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    changes: Vec<JsonChange<'a>>,
    held: Vec<JsonHold<'a>>,
    conflicts: Vec<(&'a str, &'a str)>,
    decisions: BTreeMap<Reason, usize>,
    /// Repos nothing would be written to: (repo, why, with the fix).
    repos_blocked: Vec<(&'a str, &'a str)>,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    if ws.rules.is_empty() {
        return Err(Failure::usage(
            "no [[sync]] rules in the workspace: nothing to plan",
            Some(
                "add a rule, e.g. [[sync]] mode = \"merge\" between = [\"workplans\", \"hub\"]"
                    .into(),
            ),
        ));
    }
    let gates = look_gates(ws, args.no_fetch);
    let Planned { report, plan, .. } =
        plan_workspace(ws, "diff", &gates, &HashMap::new(), &Scope::All, false)?;
    let mut out = output::stdout();
    let written = if args.json {
        write_json(&plan, &gates, &mut out)
    } else {
        write_text(ws, &report, &plan, &mut out).and_then(|()| write_blocked(&gates, &mut out))
    };
    output::finish(written.and_then(|()| out.flush()));
    // As sync exits: anything to change, held or undecided is 1.
    Ok(if plan.is_empty() && !has_open(&plan) {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

pub use concord_app::plan::has_open;

/// The repos nothing would be written to, and why (with the fix).
pub fn write_blocked(
    gates: &BTreeMap<String, RepoGate>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let warn = paint(WARN);
    for (name, gate) in gates {
        if let Some(blocker) = &gate.blocker {
            writeln!(out, "{warn}repo {name} not written{warn:#}: {blocker}")?;
        }
    }
    Ok(())
}

/// The plan as JSON: `diff --json`, and `sync --dry-run --json` (a dry
/// run is a diff).
pub fn write_json(
    plan: &Plan,
    gates: &BTreeMap<String, RepoGate>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let json = JsonPlan {
        repos_blocked: gates
            .iter()
            .filter_map(|(name, g)| g.blocker.as_deref().map(|b| (name.as_str(), b)))
            .collect(),
        changes: plan
            .changes()
            .map(|(d, c)| JsonChange {
                key: &d.key,
                rule: &d.rule,
                target: &c.source,
                from: c.from.as_ref().map(|v| v.status.as_str()),
                to: &c.to.status,
                reason: c.reason,
                origin: &c.origin,
            })
            .collect(),
        held: plan
            .decisions
            .iter()
            .flat_map(|d| {
                d.holds.iter().map(move |h| JsonHold {
                    key: &d.key,
                    rule: &d.rule,
                    source: &h.source,
                    reason: h.reason,
                    detail: &h.detail,
                })
            })
            .collect(),
        conflicts: plan
            .decisions
            .iter()
            .filter(|d| d.reason == Reason::Conflict)
            .map(|d| (d.key.as_str(), d.explanation.as_str()))
            .collect(),
        decisions: plan.summary(),
    };
    serde_json::to_writer_pretty(&mut *out, &json)?;
    writeln!(out)
}

pub fn write_text(
    ws: &Workspace,
    report: &ScanReport,
    plan: &Plan,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let (key, dim, warn, bad) = (paint(KEY), paint(DIM), paint(WARN), paint(BAD));
    let mut by_target: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for (d, c) in plan.changes() {
        by_target.entry(c.source.as_str()).or_default().push((d, c));
    }
    for (target, changes) in &by_target {
        writeln!(
            out,
            "{key}{target}{key:#}: {}",
            output::count(changes.len(), "change")
        )?;
        for (d, c) in changes {
            writeln!(
                out,
                "  {}  {} -> {}  {dim}({}, from {}; rule {}){dim:#}",
                d.key,
                c.from.as_ref().map_or("(none)", |v| v.status.as_str()),
                c.to.status,
                c.reason.as_str(),
                c.origin,
                d.rule
            )?;
        }
    }
    let held: Vec<_> = plan
        .decisions
        .iter()
        .flat_map(|d| d.holds.iter().map(move |h| (d, h)))
        .filter(|(_, h)| h.reason != Reason::NotInSource)
        .collect();
    if !held.is_empty() {
        writeln!(
            out,
            "{warn}held back{warn:#}: {}",
            output::count(held.len(), "item")
        )?;
        for (d, h) in &held {
            writeln!(
                out,
                "  {}  {}  {}: {}",
                d.key,
                h.source,
                h.reason.as_str(),
                h.detail
            )?;
        }
    }
    let conflicts: Vec<_> = plan
        .decisions
        .iter()
        .filter(|d| {
            matches!(
                d.reason,
                Reason::Conflict | Reason::OwnerMissing | Reason::OwnerUnknown
            )
        })
        .collect();
    if !conflicts.is_empty() {
        writeln!(
            out,
            "{bad}not decided{bad:#}: {}",
            output::count(conflicts.len(), "item")
        )?;
        for d in conflicts {
            writeln!(out, "  {}  {}: {}", d.key, d.reason.as_str(), d.explanation)?;
        }
    }
    output::write_warnings(out, ws, &report.warnings)?;
    let summary: Vec<String> = plan
        .summary()
        .iter()
        .map(|(reason, n)| format!("{} {n}", reason.as_str()))
        .collect();
    let changes = plan.changes().count();
    let changed_items = plan
        .decisions
        .iter()
        .filter(|d| !d.changes.is_empty())
        .count();
    writeln!(
        out,
        "{} planned in {}, {} held back; {} decided: {}",
        output::count(changes, "change"),
        output::count(changed_items, "item"),
        held.len(),
        output::count(plan.decisions.len(), "item"),
        if summary.is_empty() {
            "none".to_string()
        } else {
            summary.join(", ")
        }
    )
}
