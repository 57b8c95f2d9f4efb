//! The hub: where concord remembers. One [`Store`] over two backends,
//! SQLite (embedded, the default) and PostgreSQL (shared by a team), with
//! the same schema intent, versioned migrations and the same behaviour.
//!
//! Writes that depend on something read earlier are compare-and-set on a
//! version counter inside a transaction: a writer that lost a race gets
//! [`StoreError::Conflict`] and must re-read, never overwrite unseen.
#![forbid(unsafe_code)]

mod batch;
mod bulk;
mod migrations;
mod records;
mod replicas;
mod serve;
mod store;
mod transfer;

pub use records::{
    Base, CheckSnapshot, CitationAnswer, HubStatus, HubValue, JournalEntry, JournalKind,
    ObservationRecord, PendingWrite, ReleaseStep, ReleaseTrain, Replica, ReplicaBase, RunRecord,
    ValueChange, Watermark, WrittenStatus,
};
pub use serve::{ApiToken, ItemFilter, JournalFilter};
pub use store::{Backend, STATUS_PAGE, Store, redact_url};
pub use transfer::{ExportSummary, ImportOptions, ImportSummary, now_rfc3339};

/// Everything a hub operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported hub URL `{0}`: expected sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
    #[error("cannot open the hub at {url}: {message}")]
    Unavailable { url: String, message: String },
    #[error(
        "the hub at {url} has schema version {found}, newer than this concord knows ({known}); \
         upgrade concord instead of writing to it"
    )]
    NewerSchema { url: String, found: i64, known: i64 },
    #[error(
        "conflict on `{key}` {field}: planned from version {expected}, the hub now has {}",
        actual.map_or("no value".to_string(), |v| format!("version {v}"))
    )]
    Conflict {
        key: String,
        field: String,
        expected: i64,
        actual: Option<i64>,
    },
    #[error("cannot import: {0}")]
    Import(String),
    #[error("hub error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot read or write the export: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Conflicts are expected under concurrency; the caller re-reads and retries.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }

    /// The hub's disk (or quota) is full: SQLite's `SQLITE_FULL` (13),
    /// PostgreSQL's `disk_full` (53100). The failed transaction wrote nothing.
    pub fn is_disk_full(&self) -> bool {
        let StoreError::Database(sqlx::Error::Database(e)) = self else {
            return matches!(self, StoreError::Io(io) if io.kind() == std::io::ErrorKind::StorageFull);
        };
        matches!(e.code().as_deref(), Some("13" | "53100"))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
