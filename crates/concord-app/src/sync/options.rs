//! What a sync is asked to do, and the question it asks before applying.

use crate::hub::Failure;
use crate::plan::Planned;

/// What a sync is asked to do: `concord sync`'s flags, less how its
/// result is shown.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Plan only; write nothing anywhere.
    pub dry_run: bool,
    /// Apply to the hub (and journal) but do not write files or trackers.
    pub no_writeback: bool,
    /// Fast-forward repos that are behind their upstream first.
    pub pull: bool,
    /// Push each repo after committing.
    pub push: bool,
    /// Read every file and plan every item, whatever the watermarks say.
    pub full: bool,
    /// Write only to this source (the plan still considers every source).
    pub only: Option<String>,
    /// Apply only this rule's decisions (the plan still considers every rule).
    pub rule: Option<String>,
    /// A tracker whose token is not set is a configuration error instead
    /// of a note.
    pub strict: bool,
    /// The run id to journal and commit under, when the caller named the
    /// run (`concord serve` does, to point at it); else each pass makes one.
    pub run_id: Option<String>,
    /// Who the journal names; `None`: [`hub::actor`](crate::hub::actor) (a person at a terminal).
    pub actor: Option<String>,
}

/// Asked before a plan with changes is applied, with the plan and how
/// many times this run has read and planned again; `Ok(false)` applies
/// nothing.
pub type Confirm<'a> = &'a dyn Fn(&Planned, usize) -> Result<bool, Failure>;
