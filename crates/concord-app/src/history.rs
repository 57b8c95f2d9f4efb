//! `history KEY`: the item's journal, oldest first.

use crate::hub::{self, Failure};
use concord_store::{JournalEntry, Store};
use serde::{Deserialize, Serialize};

/// The shape of [`HistoryReport`]; it changes when a field changes meaning.
pub const VERSION: u32 = 1;

/// The JSON of `concord history KEY --json` and of
/// `GET /api/v1/items/{key}/history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HistoryReport {
    /// [`VERSION`]: the shape of this report.
    pub version: u32,
    pub key: String,
    /// Oldest first; empty for a key the hub has never journaled.
    pub entries: Vec<JournalEntry>,
}

/// The journal of `key` on `store`, oldest first (empty for an unknown key).
pub fn history(store: &Store, key: &str) -> Result<HistoryReport, Failure> {
    Ok(HistoryReport {
        version: VERSION,
        key: key.to_string(),
        entries: hub::block_on(store.history(key))??,
    })
}
