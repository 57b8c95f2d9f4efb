//! `diff`: what a sync would change, with the reason for every change and
//! every item held back. Writes no file. A sync's dry run gives the same
//! [`DiffReport`].

use crate::Outcome;
use crate::gates::RepoGate;
use crate::hub::Failure;
use crate::plan::{Planned, look_gates, plan_workspace};
pub use crate::trackers::SourceNotRead;
use concord_engine::Reason;
use concord_model::Warning;
use concord_workspace::Workspace;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The shape of [`DiffReport`]; it changes when a field changes meaning.
pub const VERSION: u32 = 1;

/// What `diff` is asked to do: `concord diff`'s flags, less how its
/// result is shown.
#[derive(Debug, Clone, Copy)]
pub struct DiffOptions {
    /// Fetch before judging staleness (`--no-fetch` turns it off).
    pub fetch: bool,
    /// A tracker whose token is not set is a configuration error (exit 2)
    /// instead of a note.
    pub strict: bool,
    /// Read every file and plan every item, not only what can have changed
    /// since the last sync (`--full`).
    pub full: bool,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            fetch: true,
            strict: false,
            full: false,
        }
    }
}

/// A plan as a report; serialized, it is `concord diff --json` and
/// `concord sync --dry-run --json`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DiffReport {
    /// [`VERSION`].
    pub version: u32,
    /// Every value the plan writes, in plan order (rule, then key).
    pub changes: Vec<PlannedChange>,
    /// Every source left alone, and why (`NOT_IN_SOURCE` included).
    pub held: Vec<Hold>,
    /// (key, explanation) of every item in conflict.
    pub conflicts: Vec<(String, String)>,
    /// How many items were decided for each reason (of those planned).
    pub decisions: BTreeMap<Reason, usize>,
    /// Which items were planned: `all`, or, after a sync with the same
    /// config and no tracker in a rule, only those that can have changed
    /// since (`changed since journal entry N, and M items left open`); the
    /// others are as that sync left them.
    pub planned: String,
    /// Repos nothing would be written to: (repo, why, with the fix).
    pub repos_blocked: Vec<(String, String)>,
    /// Sources (trackers) this run could not read: their items are
    /// unknown (`SOURCE_UNREAD` holds), and a failed read exits 3.
    pub sources_not_read: Vec<SourceNotRead>,
    /// Items other sources name that a tracker does not hold.
    pub missing_in_trackers: Vec<MissingInTracker>,
    /// Planned tracker writes that would fail (a status the tracker does
    /// not have), caught before a sync tries them.
    pub write_problems: Vec<WriteProblem>,
    /// Items the plan cannot decide (conflict, owner missing or unknown),
    /// for the text; not part of the JSON.
    #[serde(skip)]
    pub undecided: Vec<Undecided>,
    /// Items with at least one change, for the text; not part of the JSON.
    #[serde(skip)]
    pub changed_items: usize,
    /// What the scan could not read, for the text; not part of the JSON.
    #[serde(skip)]
    pub warnings: Vec<Warning>,
}

/// A value to write into one source.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlannedChange {
    pub key: String,
    pub rule: String,
    /// The source written to.
    pub target: String,
    pub from: Option<String>,
    pub to: String,
    pub reason: Reason,
    /// The source whose value this is.
    pub origin: String,
}

/// A source the plan leaves alone for an item.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hold {
    pub key: String,
    pub rule: String,
    pub source: String,
    pub reason: Reason,
    pub detail: String,
}

/// A key other sources name that a tracker does not hold.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MissingInTracker {
    pub tracker: String,
    pub key: String,
}

/// A planned write a sync would try and the tracker would refuse.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WriteProblem {
    pub key: String,
    pub target: String,
    pub to: String,
    pub problem: String,
}

/// An item the plan cannot decide.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Undecided {
    pub key: String,
    pub reason: Reason,
    pub explanation: String,
}

impl DiffReport {
    /// The report of a plan and the gates it was made with.
    pub fn new(
        ws: &Workspace,
        planned: &Planned,
        gates: &BTreeMap<String, RepoGate>,
    ) -> DiffReport {
        let plan = &planned.plan;
        DiffReport {
            version: VERSION,
            changes: plan
                .changes()
                .map(|(d, c)| PlannedChange {
                    key: d.key.clone(),
                    rule: d.rule.clone(),
                    target: c.source.clone(),
                    from: c.from.as_ref().map(|v| v.status.to_string()),
                    to: c.to.status.to_string(),
                    reason: c.reason,
                    origin: c.origin.clone(),
                })
                .collect(),
            held: plan
                .decisions
                .iter()
                .flat_map(|d| {
                    d.holds.iter().map(move |h| Hold {
                        key: d.key.clone(),
                        rule: d.rule.clone(),
                        source: h.source.clone(),
                        reason: h.reason,
                        detail: h.detail.clone(),
                    })
                })
                .collect(),
            conflicts: plan
                .decisions
                .iter()
                .filter(|d| d.reason == Reason::Conflict)
                .map(|d| (d.key.clone(), d.explanation.clone()))
                .collect(),
            decisions: plan.summary(),
            planned: planned.scope.describe(),
            repos_blocked: gates
                .iter()
                .filter_map(|(name, g)| g.blocker.as_ref().map(|b| (name.clone(), b.clone())))
                .collect(),
            sources_not_read: crate::trackers::not_read(ws, &planned.trackers),
            missing_in_trackers: crate::trackers::missing(ws, &planned.trackers)
                .into_iter()
                .map(|(tracker, key)| MissingInTracker { tracker, key })
                .collect(),
            write_problems: crate::trackers::write_problems(ws, planned),
            undecided: plan
                .decisions
                .iter()
                .filter(|d| {
                    matches!(
                        d.reason,
                        Reason::Conflict | Reason::OwnerMissing | Reason::OwnerUnknown
                    )
                })
                .map(|d| Undecided {
                    key: d.key.clone(),
                    reason: d.reason,
                    explanation: d.explanation.clone(),
                })
                .collect(),
            changed_items: plan
                .decisions
                .iter()
                .filter(|d| !d.changes.is_empty())
                .count(),
            warnings: planned.report.warnings.clone(),
        }
    }

    /// How many items were decided.
    pub fn items(&self) -> usize {
        self.decisions.values().sum()
    }

    /// Whether the plan holds an item back or leaves one undecided
    /// ([`crate::plan::has_open`], from the report).
    pub fn has_open(&self) -> bool {
        self.held
            .iter()
            .any(|h| !matches!(h.reason, Reason::NotInSource | Reason::SourceUnread))
            || !self.missing_in_trackers.is_empty()
            || !self.write_problems.is_empty()
            || [
                Reason::Conflict,
                Reason::OwnerMissing,
                Reason::OwnerUnknown,
                Reason::UnknownStatus,
            ]
            .iter()
            .any(|r| self.decisions.get(r).is_some_and(|n| *n > 0))
    }

    /// As sync exits: a source that failed to read is a partial failure
    /// (3); anything to change, held, undecided, missing from a tracker or
    /// refused by one is findings (1). Warnings are neither.
    pub fn outcome(&self) -> Outcome {
        if self.sources_not_read.iter().any(|s| s.failed) || crate::unreadable(&self.warnings) {
            Outcome::PartialFailure
        } else if self.changes.is_empty() && !self.has_open() {
            Outcome::Clean
        } else {
            Outcome::Findings
        }
    }
}

/// Plan the workspace (a short fetch first, unless asked not to) and
/// report what a sync would do.
pub fn diff(ws: &Workspace, options: &DiffOptions) -> Result<DiffReport, Failure> {
    if ws.rules.is_empty() {
        return Err(Failure::usage(
            "no [[sync]] rules in the workspace: nothing to plan",
            Some(
                "add a rule, e.g. [[sync]] mode = \"merge\" between = [\"workplans\", \"hub\"]"
                    .into(),
            ),
        ));
    }
    let gates = look_gates(ws, !options.fetch);
    crate::timings::phase("gates");
    // As a sync would read and plan: a diff right after one costs what
    // changed since, not the whole workspace.
    let (limits, scope) = crate::sync::incremental_read(ws, &gates, options.full)?;
    let planned = plan_workspace(ws, "diff", &gates, &limits, &scope, options.strict)?;
    Ok(DiffReport::new(ws, &planned, &gates))
}
