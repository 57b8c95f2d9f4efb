use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A canonical status and its rank in the workflow.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema, Deserialize,
)]
pub struct Value {
    pub status: String,
    pub rank: u32,
}

impl Value {
    pub fn new(status: impl Into<String>, rank: u32) -> Self {
        Self {
            status: status.into(),
            rank,
        }
    }
}

/// Why a decision was made. Stable codes: they appear in output, the
/// journal and `concord explain`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// Every source already holds the agreed value.
    InSync,
    /// One source changed since the base; its value goes to the others.
    Propagate,
    /// Several changed; the highest rank wins.
    AheadWins,
    /// Several changed to values of equal rank; the latest change wins.
    LatestWins,
    /// A change below the base's rank (a reopen) is held back.
    RegressionBlocked,
    /// A reopen the rule allows.
    Reopened,
    /// Changes of equal rank and no way to order them: nothing is written.
    Conflict,
    /// A mirror target moved on its own and is put back.
    RevertedOutOfBand,
    /// The source's repo is behind its upstream: its value is not an edit
    /// and nothing is written to it.
    StaleRepo,
    /// The repo's HEAD is detached: a commit would belong to no branch.
    DetachedHead,
    /// A rebase, merge, cherry-pick, revert or bisect is under way in the repo.
    RepoBusy,
    /// Another git command holds the repo's index lock.
    IndexLocked,
    /// The file has uncommitted changes: not written.
    DirtyFile,
    /// `owned`: no source names the item's owner.
    OwnerMissing,
    /// `owned`: the owner named is not a known source, or sources disagree on it.
    OwnerUnknown,
    /// A source's status word is not in the workflow: the item is skipped.
    UnknownStatus,
    /// The source does not hold the item (files are never given new items).
    NotInSource,
    /// The truth (or owner) holds no value for the item.
    NoTruth,
    /// A source holds the item more than once (two rows, two files): which
    /// copy is the source's value is unknowable, so nothing is written.
    DuplicateKey,
    /// The value cannot be edited without changing something else (a YAML
    /// anchor that an alias repeats): not written.
    AliasedValue,
    /// A source of the rule (a tracker) could not be read this run: what
    /// it holds is unknown, so the item cannot be called in sync.
    SourceUnread,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InSync => "IN_SYNC",
            Reason::Propagate => "PROPAGATE",
            Reason::AheadWins => "AHEAD_WINS",
            Reason::LatestWins => "LATEST_WINS",
            Reason::RegressionBlocked => "REGRESSION_BLOCKED",
            Reason::Reopened => "REOPENED",
            Reason::Conflict => "CONFLICT",
            Reason::RevertedOutOfBand => "REVERTED_OUT_OF_BAND",
            Reason::StaleRepo => "STALE_REPO",
            Reason::DetachedHead => "DETACHED_HEAD",
            Reason::RepoBusy => "REPO_BUSY",
            Reason::IndexLocked => "INDEX_LOCKED",
            Reason::DirtyFile => "DIRTY_FILE",
            Reason::OwnerMissing => "OWNER_MISSING",
            Reason::OwnerUnknown => "OWNER_UNKNOWN",
            Reason::UnknownStatus => "UNKNOWN_STATUS",
            Reason::NotInSource => "NOT_IN_SOURCE",
            Reason::NoTruth => "NO_TRUTH",
            Reason::DuplicateKey => "DUPLICATE_KEY",
            Reason::AliasedValue => "ALIASED_VALUE",
            Reason::SourceUnread => "SOURCE_UNREAD",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Reopen {
    Block,
    Allow,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Mode {
    Mirror {
        truth: String,
    },
    Merge {
        reopen: Reopen,
    },
    /// `owners`: owner value (as the item names it) -> source name.
    Owned {
        owners: BTreeMap<String, String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Rule {
    pub name: String,
    pub mode: Mode,
    /// Every source the rule reads and may write (for mirror: truth and targets).
    pub sources: Vec<String>,
}

/// What one source says about the item, with what the gates found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Reading {
    pub source: String,
    /// `None`: the source does not hold the item.
    pub present: bool,
    /// The canonical value; `None` with `present` means an unknown word.
    pub value: Option<Value>,
    /// The source's own word, for messages.
    pub raw: Option<String>,
    /// Why the source's repo may not be written now (`StaleRepo`,
    /// `DetachedHead`, `RepoBusy`, `IndexLocked`): its value is not an edit
    /// and nothing is written to it.
    pub blocked: Option<Reason>,
    /// Uncommitted changes in the file: not writable.
    pub dirty: bool,
    /// Why the value cannot be edited in place, if so (a YAML anchor that
    /// an alias repeats): it counts like any value, but is never written.
    pub pinned: Option<String>,
    /// Where the value lives (`repo:path`), for messages.
    pub place: Option<String>,
    /// The checkout (replica) this reading comes from, for a git source.
    /// Several replicas of one source exist at once, each at its own
    /// commit, so each has a base of its own: `own_base`.
    pub replica: Option<String>,
    /// With `replica`: the value this replica last agreed on (read or
    /// wrote); `None` when it never did, or when its history can no longer
    /// vouch for it, and then it follows the first-sync rule. Without
    /// `replica` (the hub, a tracker) the item's shared base is its base.
    pub own_base: Option<Value>,
    /// `own_base` predates a rewrite of the replica's history (a rebase, a
    /// reset): a value equal to it still follows, a different one counts
    /// only by the first-sync rule.
    pub own_base_uncertain: bool,
    /// The value was last changed by one of concord's own sync commits: a
    /// copy of some agreement (maybe an old one, brought in by a merge), not
    /// anyone's edit. It never proposes.
    pub copied: bool,
    /// When the value last changed, if the source can tell (seconds since epoch).
    pub changed_at: Option<i64>,
    /// The owner the item names in this source (`owned` mode).
    pub owner: Option<String>,
    /// The source can take an item it does not hold yet (the hub can; a
    /// file cannot be given a new block or row).
    pub creatable: bool,
}

impl Reading {
    pub fn holding(source: impl Into<String>, value: Value) -> Self {
        Self {
            source: source.into(),
            present: true,
            raw: Some(value.status.clone()),
            value: Some(value),
            blocked: None,
            dirty: false,
            pinned: None,
            place: None,
            replica: None,
            own_base: None,
            own_base_uncertain: false,
            copied: false,
            changed_at: None,
            owner: None,
            creatable: false,
        }
    }

    pub fn absent(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            present: false,
            value: None,
            raw: None,
            blocked: None,
            dirty: false,
            pinned: None,
            place: None,
            replica: None,
            own_base: None,
            own_base_uncertain: false,
            copied: false,
            changed_at: None,
            owner: None,
            creatable: false,
        }
    }
}

/// One item under one rule: every reading of the rule's sources, and the base.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ItemInput {
    pub key: String,
    pub readings: Vec<Reading>,
    pub base: Option<Value>,
}

/// A value to write into one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct Change {
    pub source: String,
    pub from: Option<Value>,
    pub to: Value,
    pub reason: Reason,
    /// The source whose value this is.
    pub origin: String,
}

/// A source left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct Hold {
    pub source: String,
    pub reason: Reason,
    pub detail: String,
}

/// The decision for one item under one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct Decision {
    pub rule: String,
    pub key: String,
    /// The decision's own reason: what happened to the item as a whole.
    pub reason: Reason,
    /// The value the sources should agree on, when one was chosen.
    pub winner: Option<Value>,
    pub changes: Vec<Change>,
    pub holds: Vec<Hold>,
    /// The base to record once the changes are applied; `None`: keep the old one.
    pub new_base: Option<Value>,
    /// The sources that already hold the winner: once the changes land,
    /// these and the changed sources agree on it (their replicas' bases
    /// move to it).
    pub agreeing: Vec<String>,
    /// One line a person can read: what was seen and what follows.
    pub explanation: String,
}

/// All decisions of a run, in a stable order (rule, then key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Plan {
    pub decisions: Vec<Decision>,
}

impl Plan {
    pub fn changes(&self) -> impl Iterator<Item = (&Decision, &Change)> {
        self.decisions
            .iter()
            .flat_map(|d| d.changes.iter().map(move |c| (d, c)))
    }

    pub fn is_empty(&self) -> bool {
        self.decisions.iter().all(|d| d.changes.is_empty())
    }

    /// Count of decisions per reason code.
    pub fn summary(&self) -> BTreeMap<Reason, usize> {
        let mut counts = BTreeMap::new();
        for d in &self.decisions {
            *counts.entry(d.reason).or_insert(0) += 1;
        }
        counts
    }
}
