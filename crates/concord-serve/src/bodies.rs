//! The bodies `concord serve` answers with, as types. Each says its
//! `version` and has a JSON Schema ([`schemas`]), published in
//! `docs/schemas/` next to the reports of `concord_app::schema`. A body
//! that is a use case's report (summary, explain, history, set, log) is
//! that report, so the API and `--json` have one shape.

use crate::jobs::{Cancel, JobRecord, Submitted};
use concord_app::schema::{Documented, of};
use concord_app::summary::{RunView, SnapshotPoint, Summary};
use concord_store::{Base, HubValue, JournalEntry, ObservationRecord, ReleaseTrain};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The shape of every body here; it changes when a field changes meaning.
pub const VERSION: u32 = 1;

/// `GET /api/v1/health`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    pub version: u32,
    /// `ok`.
    pub status: &'static str,
    /// `ok`: the hub answered.
    pub database: &'static str,
}

/// Every error: `{"version", "error": {"status", "message"}}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    pub version: u32,
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorDetail {
    /// The HTTP status again.
    pub status: u16,
    pub message: String,
}

/// `GET /api/v1/items`: one page of the hub's items.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ItemsPage {
    pub version: u32,
    pub items: Vec<ItemRow>,
    /// Pass as `after` for the next page; `null` on the last.
    pub next: Option<String>,
}

/// One item of [`ItemsPage`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct ItemRow {
    pub key: String,
    /// The hub's status.
    pub status: Option<String>,
    /// The hub value's version (it grows by one per change).
    pub value_version: i64,
    pub updated_at: String,
    pub updated_by: String,
    /// Source -> the status it last read.
    pub sources: BTreeMap<String, Option<String>>,
    /// Whether a source disagrees with the hub.
    pub drift: bool,
}

/// `GET /api/v1/items/{key}`: the item's hub value, every source's
/// reading, its journal and its bases.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ItemView {
    pub version: u32,
    pub key: String,
    /// The hub's status value, if it has one.
    pub hub: Option<HubStatus>,
    /// Every field the hub holds for the item.
    pub fields: Vec<HubValue>,
    /// What each source last read.
    pub sources: Vec<ObservationRecord>,
    /// The journal, oldest first.
    pub history: Vec<JournalEntry>,
    pub explain: ItemExplain,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HubStatus {
    pub status: Option<String>,
    pub value_version: i64,
    pub updated_at: String,
    pub updated_by: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ItemExplain {
    pub bases: Vec<Base>,
    /// The newest status change in the journal.
    pub last_decision: Option<LastDecision>,
    /// Where the full explanation is.
    pub full: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LastDecision {
    pub at: String,
    pub to: Option<String>,
    pub target: Option<String>,
    pub reason: String,
    pub actor: String,
}

/// `GET /api/v1/runs`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Runs {
    pub version: u32,
    /// Newest first.
    pub runs: Vec<RunView>,
}

/// `GET /api/v1/jobs`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Jobs {
    pub version: u32,
    /// Newest first.
    pub jobs: Vec<JobRecord>,
}

/// `GET /api/v1/jobs/{id}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Job {
    pub version: u32,
    #[serde(flatten)]
    pub job: JobRecord,
}

/// `POST /api/v1/sync` (202): the job it queued or joined.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SyncAccepted {
    pub version: u32,
    pub run_id: String,
    pub state: Submitted,
    /// Where to follow it.
    pub job: String,
}

/// `POST /api/v1/jobs/{id}/cancel` (202).
#[derive(Debug, Serialize, JsonSchema)]
pub struct Cancelled {
    pub version: u32,
    pub job: JobRecord,
    pub cancel: Cancel,
}

/// `GET /api/v1/journal`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Journal {
    pub version: u32,
    /// Newest first.
    pub entries: Vec<JournalEntry>,
    /// Pass as `before` for the next page.
    pub next_before: Option<i64>,
}

/// `GET /api/v1/snapshots`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Snapshots {
    pub version: u32,
    /// Oldest first.
    pub snapshots: Vec<SnapshotPoint>,
}

/// `GET /api/v1/snapshots/{id}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Snapshot {
    pub version: u32,
    /// The snapshot's id.
    pub snapshot: i64,
    pub taken_at: String,
    pub commit: Option<String>,
    pub actor: String,
    pub total: i64,
    pub gating: i64,
    pub by_severity: BTreeMap<String, usize>,
    /// The findings as `concord check --format json` lists them.
    pub findings: Vec<Value>,
}

/// `GET /api/v1/mirrors`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Mirrors {
    pub version: u32,
    /// Mirrors concord has written and still tracks.
    pub documents_written: usize,
    pub last_written_at: Option<String>,
    /// Per `[[mirror]]` rule, its last run.
    pub last_runs: Vec<MirrorRun>,
    /// Open pull-request proposals.
    pub proposals: Vec<Proposal>,
    /// This server's mirror jobs, newest first.
    pub runs: Vec<JobRecord>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MirrorRun {
    pub rule: String,
    pub at: String,
    pub written: Value,
    pub reported: Value,
    pub failed: Value,
    pub commits: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Proposal {
    pub repo: String,
    pub branch: String,
    pub tree: String,
    pub at: String,
}

/// `GET /api/v1/trains`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Trains {
    pub version: u32,
    pub trains: Vec<ReleaseTrain>,
}

/// `GET /api/v1/schedule`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Schedule {
    pub version: u32,
    pub schedule: Vec<Value>,
}

/// `GET /api/v1/control-room`: the summary (its `version` is the
/// summary's), plus the job queue the summary leaves out.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ControlRoom {
    #[serde(flatten)]
    pub summary: Summary,
    /// The newest jobs.
    pub jobs: Vec<JobRecord>,
    pub schedule: Vec<Value>,
}

/// What a webhook delivery did.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HookAnswer {
    pub version: u32,
    /// The run it queued or joined, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Submitted>,
    /// The repos the push touched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repos: Option<Vec<String>>,
    /// Why nothing was queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    /// The delivery id that was seen before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
    /// GitHub's `ping`: `ok` and the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

impl HookAnswer {
    pub fn ignored(why: impl Into<String>) -> HookAnswer {
        HookAnswer {
            ignored: Some(why.into()),
            ..HookAnswer::empty()
        }
    }

    pub fn empty() -> HookAnswer {
        HookAnswer {
            version: VERSION,
            run_id: None,
            state: None,
            repos: None,
            ignored: None,
            delivery: None,
            ok: None,
            event: None,
        }
    }
}

/// The schema of every body that is not a `concord_app` report.
pub fn schemas() -> Vec<Documented> {
    vec![
        of::<Health>("api-health", "`GET /api/v1/health`"),
        of::<ErrorBody>("api-error", "every API error (4xx, 5xx)"),
        of::<ItemsPage>("api-items", "`GET /api/v1/items`"),
        of::<ItemView>("api-item", "`GET /api/v1/items/{key}`"),
        of::<Runs>("api-runs", "`GET /api/v1/runs`"),
        of::<Jobs>("api-jobs", "`GET /api/v1/jobs`"),
        of::<Job>("api-job", "`GET /api/v1/jobs/{id}`"),
        of::<SyncAccepted>("api-sync", "`POST /api/v1/sync`"),
        of::<Cancelled>("api-job-cancel", "`POST /api/v1/jobs/{id}/cancel`"),
        of::<Journal>("api-journal", "`GET /api/v1/journal`"),
        of::<Snapshots>("api-snapshots", "`GET /api/v1/snapshots`"),
        of::<Snapshot>("api-snapshot", "`GET /api/v1/snapshots/{id}`"),
        of::<Mirrors>("api-mirrors", "`GET /api/v1/mirrors`"),
        of::<Trains>("api-trains", "`GET /api/v1/trains`"),
        of::<Schedule>("api-schedule", "`GET /api/v1/schedule`"),
        of::<ControlRoom>("api-control-room", "`GET /api/v1/control-room`"),
        of::<HookAnswer>("api-hook", "`POST /hooks/github`, `POST /hooks/{name}`"),
    ]
}
