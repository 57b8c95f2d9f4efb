//! `history KEY`: the item's journal, oldest first.

use crate::hub::{self, Failure};
use concord_store::{JournalEntry, Store};

/// The journal of `key` on `store`, oldest first (empty for an unknown key).
pub fn history(store: &Store, key: &str) -> Result<Vec<JournalEntry>, Failure> {
    Ok(hub::block_on(store.history(key))??)
}
