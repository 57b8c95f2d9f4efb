//! What a sync did: how it ended, and the report `--json` shows.

use crate::Outcome;
use crate::diff::DiffReport;
use compact_str::CompactString;
use concord_model::Warning;
use serde::Serialize;
use std::collections::BTreeMap;

/// How a sync ended.
pub enum SyncRun {
    /// Nothing can have changed since the last sync converged: a report
    /// with nothing in it but `unchanged_since`.
    Unchanged(Box<SyncReport>),
    /// A dry run: the plan, as `diff` reports it.
    DryRun(Box<DiffReport>),
    /// Declined when asked: nothing applied.
    Declined,
    /// Applied (possibly in several passes).
    Applied(Box<SyncReport>),
}

impl SyncRun {
    pub fn outcome(&self) -> Outcome {
        match self {
            SyncRun::Unchanged(_) => Outcome::Clean,
            SyncRun::DryRun(dry) => dry.outcome(),
            SyncRun::Declined => Outcome::Findings,
            SyncRun::Applied(report) => report.outcome,
        }
    }
}

// A first sync keeps one per item until its report is made (100,000 at
// 100k items), and every word here is short: inline strings hold them
// without an allocation each.
/// One change that landed: the item, the source written, from what to
/// what, and why.
#[derive(Serialize, Debug, Clone, schemars::JsonSchema)]
pub struct Applied {
    #[schemars(with = "String")]
    pub key: CompactString,
    #[schemars(with = "String")]
    pub rule: CompactString,
    #[schemars(with = "String")]
    pub target: CompactString,
    #[schemars(with = "Option<String>")]
    pub from: Option<CompactString>,
    #[schemars(with = "String")]
    pub to: CompactString,
    pub reason: &'static str,
    #[schemars(with = "String")]
    pub origin: CompactString,
    #[schemars(with = "String")]
    pub place: CompactString,
}

#[derive(Serialize, Debug, Clone, schemars::JsonSchema)]
pub struct NotApplied {
    pub key: String,
    pub target: String,
    pub problem: String,
    /// The file changed between read and write: worth reading again.
    #[serde(skip)]
    pub raced: bool,
}

/// The shape of [`SyncReport`]; it changes when a field changes meaning.
pub const VERSION: u32 = 1;

/// What a sync applied and left; serialized, it is `concord sync --json`
/// (and a sync job's output in `concord serve`).
#[derive(Serialize, Debug, Clone, schemars::JsonSchema)]
pub struct SyncReport {
    /// [`VERSION`].
    pub version: u32,
    /// Set when nothing can have changed since the sync that converged at
    /// this time: nothing was read or written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchanged_since: Option<String>,
    pub applied: Vec<Applied>,
    pub not_applied: Vec<NotApplied>,
    /// (key, source, reason, detail)
    pub held: Vec<Held>,
    /// (key, reason, explanation)
    pub undecided: Vec<Undecided>,
    /// (repo, commit id)
    pub commits: Vec<(String, String)>,
    /// (repo, why)
    pub repos_blocked: Vec<(String, String)>,
    pub warnings: usize,
    /// Per source: `full`, or how many changed files were read.
    pub reads: BTreeMap<String, String>,
    /// Which items were planned: `all`, or `changed since journal entry N`.
    pub planned: String,
    /// How many times files changed under the run, so it read and planned again.
    pub replans: usize,
    /// Trackers not read: (name, why, whether that is a failure).
    pub trackers_not_read: Vec<(String, String, bool)>,
    /// Items other sources name that a tracker does not have: (tracker, key).
    pub missing_in_trackers: Vec<(String, String)>,
    /// Writes `--no-writeback` left out: (key, target, to).
    pub skipped_writes: Vec<(String, String, String)>,
    /// What `--pull` fast-forwarded: (repo, what).
    pub pulled: Vec<(String, String)>,
    /// The exit code this report calls for.
    #[serde(skip)]
    pub outcome: Outcome,
    /// The scan's warnings (their number is `warnings`).
    #[serde(skip)]
    pub warning_details: Vec<Warning>,
    /// What the gates noticed per repo (failed fetches, not a git work
    /// tree, …): (repo, note).
    #[serde(skip)]
    pub notes: Vec<(String, String)>,
}

impl SyncReport {
    /// The report of a sync that found nothing new since `since`.
    pub(super) fn unchanged(since: String) -> SyncReport {
        SyncReport {
            version: VERSION,
            unchanged_since: Some(since),
            applied: Vec::new(),
            not_applied: Vec::new(),
            held: Vec::new(),
            undecided: Vec::new(),
            commits: Vec::new(),
            repos_blocked: Vec::new(),
            warnings: 0,
            reads: BTreeMap::new(),
            planned: String::new(),
            replans: 0,
            trackers_not_read: Vec::new(),
            missing_in_trackers: Vec::new(),
            skipped_writes: Vec::new(),
            pulled: Vec::new(),
            outcome: Outcome::Clean,
            warning_details: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// (key, source, reason, detail)
pub(super) type Held = (String, String, &'static str, String);
/// (key, reason, explanation)
pub(super) type Undecided = (String, &'static str, String);
