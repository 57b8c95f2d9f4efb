//! Rows of the hub, as plain data. Times are RFC 3339 UTC text, so both
//! backends store and export them identically.

use serde::{Deserialize, Serialize};

/// The hub's own value of one item field (what `concord set` changes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HubValue {
    pub key: String,
    pub field: String,
    pub value: Option<String>,
    /// Compare-and-set counter: 1 on first write, +1 on every change.
    pub version: i64,
    pub updated_at: String,
    pub updated_by: String,
}

/// One item's status in the hub and its version: what `status` and the
/// summaries show of every item, without the rest of [`HubValue`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HubStatus {
    pub key: String,
    pub value: Option<String>,
    pub version: i64,
}

/// A conditional change of a hub value, journaled in the same transaction.
#[derive(Debug, Clone)]
pub struct ValueChange {
    pub key: String,
    pub field: String,
    /// The version the change was planned from; 0 when the hub had no value.
    pub expected_version: i64,
    /// The value read at `expected_version` (the journal's `from`).
    pub from: Option<String>,
    pub to: Option<String>,
    pub at: String,
    pub actor: String,
    pub run_id: Option<String>,
    pub reason: String,
    pub note: Option<String>,
}

/// The value all sources of a rule last agreed on for one item field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Base {
    pub rule: String,
    pub key: String,
    pub field: String,
    pub value: Option<String>,
    /// JSON object: source name -> the version it had when agreed.
    pub versions: String,
    pub version: i64,
    pub agreed_at: String,
}

/// One checkout of a repo (a clone on some machine, a CI work tree).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Replica {
    pub id: String,
    pub repo: String,
    /// `host:path` of the checkout when it last synced.
    pub location: String,
    /// The commit its last sync left it at: its bases hold while this
    /// commit is in its history.
    pub synced_head: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
}

/// What one replica last agreed on for one item of one source under one
/// rule: the value it last read or wrote, and the commit it was at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReplicaBase {
    pub replica: String,
    pub key: String,
    pub rule: String,
    pub source: String,
    pub field: String,
    pub value: Option<String>,
    pub position: String,
    pub agreed_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Watermark {
    pub source: String,
    pub position: String,
    pub updated_at: String,
}

/// A status concord wrote into a source's file: its recorded observation
/// changes with it, as a re-read would show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenStatus {
    pub source: String,
    pub key: String,
    /// The shared name, as observations record it.
    pub status: Option<String>,
    /// The word written.
    pub raw_status: String,
}

/// What one source said about one item in the latest run that read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ObservationRecord {
    pub source: String,
    pub key: String,
    pub run_id: String,
    pub status: Option<String>,
    pub raw_status: Option<String>,
    pub repo: String,
    pub path: String,
    pub line: i64,
    pub observed_at: String,
    /// The owner the item names, for `owned` rules.
    #[serde(default)]
    pub owner: Option<String>,
    /// Why the status cannot be edited in place, if so (a YAML anchor that
    /// an alias repeats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunRecord {
    pub id: String,
    pub command: String,
    pub actor: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub outcome: Option<String>,
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JournalKind {
    /// A value concord (or a person through concord) changed.
    Change,
    /// An event a user logged (`concord log`).
    Event,
}

impl JournalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JournalKind::Change => "change",
            JournalKind::Event => "event",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "change" => Some(JournalKind::Change),
            "event" => Some(JournalKind::Event),
            _ => None,
        }
    }
}

/// One append-only journal row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct JournalEntry {
    /// Assigned by the hub; ignored when appending.
    pub id: i64,
    pub at: String,
    pub run_id: Option<String>,
    /// `user@host` or a configured name.
    pub actor: String,
    pub key: String,
    pub kind: JournalKind,
    pub field: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Where it was written: `hub`, a source and path, a tracker id.
    pub target: Option<String>,
    /// Reason code (`SET_BY_USER`, `REOPENED`, `EVENT_LOGGED`, ...).
    pub reason: String,
    pub note: Option<String>,
    pub event_type: Option<String>,
    pub phase: Option<String>,
    #[serde(default)]
    pub artifacts: Vec<String>,
}

impl JournalEntry {
    /// One line saying what happened: `phase_started (review)` for an
    /// event, `status: todo -> done (SET_BY_USER)` for a change.
    pub fn what(&self) -> String {
        match (&self.event_type, &self.field) {
            (Some(event), _) => format!(
                "{event}{}",
                self.phase
                    .as_deref()
                    .map_or(String::new(), |p| format!(" ({p})"))
            ),
            (None, Some(field)) => format!(
                "{field}: {} -> {} ({})",
                self.from.as_deref().unwrap_or("(none)"),
                self.to.as_deref().unwrap_or("(none)"),
                self.reason
            ),
            (None, None) => self.reason.clone(),
        }
    }
}

/// A file a sync wrote and has not committed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PendingWrite {
    pub repo: String,
    pub path: String,
    /// SHA-256 of the bytes written, lowercase hex.
    pub sha256: String,
    pub run_id: String,
    pub created_at: String,
}

/// The stored result of one `concord check --snapshot`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckSnapshot {
    /// Assigned by the hub; ignored when adding.
    pub id: i64,
    pub taken_at: String,
    /// The commit the workspace was at, when known.
    pub commit_id: Option<String>,
    pub actor: String,
    /// JSON lines: one finding object per line, sorted by fingerprint.
    /// Empty in the cheap listing of [`crate::Store::check_snapshots`].
    pub findings: String,
    /// How many findings gate (fail the check).
    pub gating: i64,
    /// How many findings in all.
    pub total: i64,
}

/// The remembered answer to "does GitHub pull request or issue
/// `repo#number` exist?" (the `BROKEN_CITATION` check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CitationAnswer {
    /// `owner/name`, lowercase (the hub lowercases it when storing).
    pub repo: String,
    pub number: i64,
    /// `true`: it exists; `false`: GitHub said it does not.
    pub found: bool,
    pub checked_at: String,
}

/// A release train of `concord ship`: frozen by `prepare`, shipped step by
/// step by `run` and `resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReleaseTrain {
    /// Assigned by the hub; ignored when adding.
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub actor: String,
    /// `prepared`, `shipping`, `aborted` or `shipped`.
    pub status: String,
    /// JSON: per repo the frozen commit and versions.
    pub frozen: String,
    /// Compare-and-set counter of `status`: 1 when added, +1 on every
    /// change. Ignored when adding.
    pub version: i64,
    pub updated_at: String,
}

/// One append-only row of a release train's step log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReleaseStep {
    pub train_id: i64,
    /// 1, 2, 3, ... per train. Assigned by the hub; ignored when appending.
    pub seq: i64,
    /// What the step does, e.g. `publish lib-a 1.4.2`.
    pub step: String,
    /// `started`, `done`, `skipped`, `failed` or `unknown`.
    pub outcome: String,
    pub at: String,
    pub detail: Option<String>,
}
