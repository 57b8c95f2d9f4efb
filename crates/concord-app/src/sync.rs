//! `concord sync`: gate, plan, apply. Files get byte-exact single-span
//! edits written atomically, then one commit per repo with only the paths
//! concord wrote; the hub gets compare-and-set writes; every applied
//! change is journaled; bases move forward only where every source agreed.
//!
//! [`sync`] returns what happened as a [`SyncRun`]; showing it (text or
//! JSON) and asking before applying are the caller's.

use crate::diff::DiffReport;
use crate::gates::{GateOptions, RepoGate, SYNC_FETCH_TIMEOUT, gate_repos, own_position, short};
use crate::hub::{self, Failure};
use crate::plan::{Planned, Scope, plan_workspace};
use crate::progress::Progress;
use crate::trackers::{TrackerChange, WriteOutcome};
use crate::{Outcome, count, timings};
use concord_engine::{Change, Decision, Reason};
use concord_model::{Observation, Warning};
use concord_store::{
    Base, JournalEntry, JournalKind, PendingWrite, Store, ValueChange, Watermark, WrittenStatus,
    now_rfc3339,
};
use concord_workspace::{
    EditOutcome, FileEdit, HUB_SOURCE, Source, Workspace, edit_file, write_atomic,
};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    /// Who the journal names; `None`: [`hub::actor`] (a person at a terminal).
    pub actor: Option<String>,
}

/// Asked before a plan with changes is applied, with the plan and how
/// many times this run has read and planned again; `Ok(false)` applies
/// nothing.
pub type Confirm<'a> = &'a dyn Fn(&Planned, usize) -> Result<bool, Failure>;

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

#[derive(Serialize, Debug, Clone, schemars::JsonSchema)]
pub struct Applied {
    pub key: String,
    pub rule: String,
    pub target: String,
    pub from: Option<String>,
    pub to: String,
    pub reason: &'static str,
    pub origin: String,
    pub place: String,
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
    fn unchanged(since: String) -> SyncReport {
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

/// Gate, plan and apply, reading and planning again (a bounded number of
/// times) when files change under the run. `confirm`, if given, is asked
/// before a plan with changes is applied.
pub fn sync(
    ws: &Workspace,
    options: &SyncOptions,
    confirm: Option<Confirm<'_>>,
    progress: &dyn Progress,
) -> Result<SyncRun, Failure> {
    check_options(ws, options)?;
    let mut earlier: Vec<SyncReport> = Vec::new();
    loop {
        let mut report = match pass(ws, options, confirm, progress, earlier.len())? {
            Pass::Finished(run) => return Ok(run),
            Pass::Declined => match earlier.pop() {
                None => return Ok(SyncRun::Declined),
                // What the earlier passes applied still stands: report it
                // (without what only the declined pass read).
                Some(mut report) => {
                    report.not_applied.retain(|n| !n.raced);
                    report.warning_details.clear();
                    report.notes.clear();
                    report
                }
            },
            // A file changed between this pass's read and its write: read
            // again and plan again, a bounded number of times.
            Pass::Applied(report)
                if report.not_applied.iter().any(|n| n.raced) && earlier.len() < MAX_REPLANS =>
            {
                earlier.push(*report);
                continue;
            }
            Pass::Applied(report) => *report,
        };
        report.replans = earlier.len();
        for before in earlier.drain(..).rev() {
            report.applied.splice(0..0, before.applied);
            report.commits.splice(0..0, before.commits);
        }
        report.outcome = if !report.not_applied.is_empty()
            || report
                .trackers_not_read
                .iter()
                .any(|(_, _, failed)| *failed)
        {
            Outcome::PartialFailure
        } else if report.held.is_empty()
            && report.undecided.is_empty()
            && report.warnings == 0
            && report.missing_in_trackers.is_empty()
        {
            Outcome::Clean
        } else {
            Outcome::Findings
        };
        return Ok(SyncRun::Applied(Box::new(report)));
    }
}

/// Options that name what the workspace does not have are a usage error.
fn check_options(ws: &Workspace, options: &SyncOptions) -> Result<(), Failure> {
    if ws.rules.is_empty() {
        return Err(Failure::usage(
            "no [[sync]] rules in the workspace: nothing to sync",
            Some(
                "add a rule, e.g. [[sync]] mode = \"merge\" between = [\"workplans\", \"hub\"]"
                    .into(),
            ),
        ));
    }
    if let Some(only) = &options.only
        && only != HUB_SOURCE
        && !ws.sources.iter().any(|s| &s.name == only)
    {
        return Err(Failure::usage(
            format!("--only names `{only}`, which is not a source"),
            None,
        ));
    }
    if let Some(rule) = &options.rule
        && !ws.rules.iter().any(|r| &r.name == rule)
    {
        let names: Vec<&str> = ws.rules.iter().map(|r| r.name.as_str()).collect();
        return Err(Failure::usage(
            format!("--rule names `{rule}`, which is not a [[sync]] rule"),
            Some(format!("the rules are: {}", names.join(", "))),
        ));
    }
    Ok(())
}

/// How many times one run reads and plans again after files changed
/// under it.
const MAX_REPLANS: usize = 2;

/// How one pass (gates, read, plan, apply) ended.
enum Pass {
    /// Nothing to apply (nothing changed, or a dry run).
    Finished(SyncRun),
    /// Declined when asked.
    Declined,
    Applied(Box<SyncReport>),
}

fn pass(
    ws: &Workspace,
    options: &SyncOptions,
    confirm: Option<Confirm<'_>>,
    progress: &dyn Progress,
    replans: usize,
) -> Result<Pass, Failure> {
    let gates = gate(ws, options)?;
    // A tracker can change without anything here knowing: always look.
    let trackers_in_rules = ws
        .trackers
        .iter()
        .any(|t| ws.rules.iter().any(|r| r.sources.contains(&t.name)));
    if !options.full
        && !options.dry_run
        && !trackers_in_rules
        && let Some(since) = unchanged_since_converged(ws, &gates)?
    {
        return Ok(Pass::Finished(SyncRun::Unchanged(Box::new(
            SyncReport::unchanged(since),
        ))));
    }
    let limits = if options.full {
        HashMap::new()
    } else {
        incremental_limits(ws, &gates)?
    };
    timings::phase("changed files");
    let scope = match focus_marks(ws)? {
        Some((journal, open)) if limits.len() == ws.sources.len() && !trackers_in_rules => {
            Scope::ChangedSince { journal, open }
        }
        _ => Scope::All,
    };
    // The caller's run id names the first pass's read; a re-plan is a run
    // of its own.
    let run = hub::RunName {
        command: "sync",
        id: options.run_id.as_deref().filter(|_| replans == 0),
        actor: options.actor.as_deref(),
    };
    if progress.cancelled() {
        return Err(Failure::cancelled("reading the workspace"));
    }
    let planned = plan_workspace(ws, run, &gates, &limits, &scope, options.strict)?;
    timings::phase("planned");
    check_words(ws, &planned)?;
    if options.dry_run {
        return Ok(Pass::Finished(SyncRun::DryRun(Box::new(DiffReport::new(
            &planned, &gates,
        )))));
    }
    if let Some(confirm) = confirm
        && !planned.plan.is_empty()
        && !confirm(&planned, replans)?
    {
        return Ok(Pass::Declined);
    }
    if progress.cancelled() {
        return Err(Failure::cancelled("writing what was planned"));
    }
    let mut report = hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = apply(ws, options, &store, &planned, &gates, progress).await;
        store.close().await;
        result
    })??;
    report.reads = reads_of(ws, &limits);
    report.planned = match scope {
        Scope::All => "all".into(),
        Scope::ChangedSince { journal, open } => format!(
            "changed since journal entry {journal}, and {} left open",
            count(open.len(), "item")
        ),
    };
    report.notes = gates
        .iter()
        .flat_map(|(repo, gate)| gate.notes.iter().map(|note| (repo.clone(), note.clone())))
        .collect();
    report.warning_details = planned.report.warnings;
    Ok(Pass::Applied(Box::new(report)))
}

/// Whether each repo can be written now (fetching, and pulling if asked),
/// with the files an interrupted sync left counted as this run's.
fn gate(ws: &Workspace, options: &SyncOptions) -> Result<BTreeMap<String, RepoGate>, Failure> {
    let mut gates = gate_repos(
        ws,
        GateOptions {
            fetch: true,
            pull: options.pull && !options.dry_run,
            fetch_timeout: SYNC_FETCH_TIMEOUT,
            all_repos: false,
        },
    );
    timings::phase("gates");
    if !options.dry_run {
        adopt_interrupted_writes(ws, &mut gates)?;
    }
    timings::phase("adopt interrupted writes");
    Ok(gates)
}

/// Per source: `full`, or how many of its files changed since the watermark.
fn reads_of(ws: &Workspace, limits: &HashMap<usize, BTreeSet<String>>) -> BTreeMap<String, String> {
    ws.sources
        .iter()
        .enumerate()
        .map(|(index, source)| {
            let read = match limits.get(&index) {
                Some(paths) => format!(
                    "{} changed since the watermark",
                    count(
                        paths
                            .iter()
                            .filter(|p| source.matcher.is_match(p.as_str()))
                            .count(),
                        "file"
                    )
                ),
                None => "full".to_string(),
            };
            (source.name.clone(), read)
        })
        .collect()
}

/// A target that has no word for a planned status stops the run before
/// anything is written anywhere.
fn check_words(ws: &Workspace, planned: &Planned) -> Result<(), Failure> {
    let unnamed: Vec<String> = planned
        .plan
        .changes()
        .filter_map(|(d, c)| {
            let source = ws.sources.iter().find(|s| s.name == c.source)?;
            native_word(source, &c.to.status)
                .err()
                .map(|why| format!("{}: {why}", d.key))
        })
        .collect();
    if unnamed.is_empty() {
        Ok(())
    } else {
        Err(Failure::usage(
            format!("nothing was written: {}", unnamed.join("; ")),
            Some("add the status to the source's write_names".into()),
        ))
    }
}

/// A file an interrupted sync wrote (its content still hashes to what that
/// sync recorded before writing) is concord's, not the user's: it is not
/// dirty, and this run commits it. Anything else pending is forgotten.
fn adopt_interrupted_writes(
    ws: &Workspace,
    gates: &mut BTreeMap<String, RepoGate>,
) -> Result<(), Failure> {
    hub::block_on(async {
        let store = hub::open(ws).await?;
        let pending = store.pending_writes().await;
        let mut result = Ok(());
        for write in pending? {
            let Some(gate) = gates.get_mut(&write.repo) else {
                continue;
            };
            let Some(repo) = ws.repos.iter().find(|r| r.name == write.repo) else {
                continue;
            };
            let ours = concord_workspace::read_regular_file(&repo.root.join(&write.path), u64::MAX)
                .is_ok_and(|bytes| sha256_hex(&bytes) == write.sha256);
            if ours && gate.dirty.remove(&write.path) {
                gate.carry.push(write.path.clone());
            } else if let Err(e) = store.clear_pending_write(&write.repo, &write.path).await {
                result = Err(e.into());
                break;
            }
        }
        store.close().await;
        result
    })?
}

/// The config hash the hub's recorded observations were read with: a
/// different config means a full read.
const READ_CONFIG_MARK: &str = "@config-read";

/// Per source, the files to read: those changed between the source's
/// watermark (the HEAD its recorded observations were read at) and HEAD,
/// plus uncommitted ones. A source missing from the map is read in full:
/// no watermark, history rewritten, not a git repo, or the config changed.
fn incremental_limits(
    ws: &Workspace,
    gates: &BTreeMap<String, RepoGate>,
) -> Result<HashMap<usize, BTreeSet<String>>, Failure> {
    let Some(config) = config_hash(ws) else {
        return Ok(HashMap::new());
    };
    // Each source's watermark, if the hub's record was read with this config.
    let marks: Vec<(usize, String)> = hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = async {
            let mut marks = Vec::new();
            let read_with = store.watermark(READ_CONFIG_MARK).await?;
            if read_with.map(|m| m.position) != Some(config) {
                return Ok(marks);
            }
            // Only this checkout's own watermark: another clone's commit
            // (and the observations it recorded) says nothing about here.
            for (index, source) in ws.sources.iter().enumerate() {
                let replica = gates
                    .get(&ws.repo(source).name)
                    .and_then(|g| g.replica.as_deref());
                if let Some(mark) = store.watermark(&source.name).await?
                    && let Some(commit) = own_position(&mark.position, replica)
                {
                    marks.push((index, commit.to_string()));
                }
            }
            Ok::<_, concord_store::StoreError>(marks)
        }
        .await;
        store.close().await;
        Ok::<_, Failure>(result?)
    })??;
    // Sources of one repo share its history: ask git once per (repo,
    // watermark), the repos in parallel.
    let asks: BTreeSet<(&str, &str)> = marks
        .iter()
        .map(|(index, position)| {
            (
                ws.repo(&ws.sources[*index]).name.as_str(),
                position.as_str(),
            )
        })
        .collect();
    let changed: HashMap<(&str, &str), Option<BTreeSet<String>>> = asks
        .into_par_iter()
        .map(|(repo, position)| {
            let found = gates
                .get(repo)
                .and_then(|g| g.git.as_ref())
                .and_then(|git| git.changed_since(position).ok().flatten());
            ((repo, position), found)
        })
        .collect();
    let mut limits = HashMap::new();
    for (index, position) in &marks {
        let repo = ws.repo(&ws.sources[*index]).name.as_str();
        let (Some(gate), Some(Some(files))) =
            (gates.get(repo), changed.get(&(repo, position.as_str())))
        else {
            continue;
        };
        let mut files = files.clone();
        files.extend(gate.dirty.iter().cloned());
        files.extend(gate.carry.iter().cloned());
        limits.insert(*index, files);
    }
    Ok(limits)
}

/// After a sync: each git source's watermark becomes the commit whose
/// content the hub recorded: this run's own commit when it sits right on
/// the HEAD this run read (its files were re-read after writing), else that
/// HEAD. Only when that is exact (no dirty file, repo writable); otherwise
/// it is cleared: the next run reads all.
async fn record_read_positions(
    ws: &Workspace,
    store: &Store,
    gates: &BTreeMap<String, RepoGate>,
    report: &concord_workspace::ScanReport,
    read_from: &HashMap<String, String>,
) -> Result<(), Failure> {
    // A source with a file it could not read is read in full next time.
    let unread = hub::unread_sources(report);
    let now = now_rfc3339();
    for source in &ws.sources {
        let repo = ws.repo(source);
        let Some(gate) = gates.get(&repo.name) else {
            continue;
        };
        if gate.git.is_none() {
            continue;
        }
        let position = match read_from.get(&repo.name).or(gate.head_at_read.as_ref()) {
            Some(head)
                if gate.blocker.is_none()
                    && gate.dirty.is_empty()
                    && !unread.contains(source.name.as_str()) =>
            {
                gate.position(head)
            }
            _ => String::new(),
        };
        store
            .set_watermark(&Watermark {
                source: source.name.clone(),
                position,
                updated_at: now.clone(),
            })
            .await?;
    }
    if let Some(config) = config_hash(ws) {
        store
            .set_watermark(&Watermark {
                source: READ_CONFIG_MARK.into(),
                position: config,
                updated_at: now,
            })
            .await?;
    }
    Ok(())
}

/// Marks a sync leaves for the next: the config's hash, the hub's journal
/// entry up to which it planned with every change, the items it left open
/// (held, undecided, not applied), and, when it converged, every repo's
/// HEAD. When the config is the same and every source can be read
/// incrementally, the next run plans only the open items and those
/// journaled or in a file changed since ([`Scope::ChangedSince`]); when
/// the hub and the HEADs did not move either and nothing was open, it has
/// nothing to do at all.
pub const CONFIG_MARK: &str = "@config";
const HUB_MARK: &str = "@hub";
const OPEN_MARK: &str = "@open";

pub fn repo_mark(repo: &str) -> String {
    format!("@repo:{repo}")
}

fn config_hash(ws: &Workspace) -> Option<String> {
    std::fs::read(&ws.config_path)
        .ok()
        .map(|bytes| sha256_hex(&bytes))
}

/// `Some(when)` when nothing can have changed since the last converged sync.
fn unchanged_since_converged(
    ws: &Workspace,
    gates: &BTreeMap<String, RepoGate>,
) -> Result<Option<String>, Failure> {
    // Only git repos can say what changed; any dirty file or blocker means look.
    let mut heads = Vec::new();
    for (name, gate) in gates {
        if gate.git.is_none()
            || gate.blocker.is_some()
            || !gate.dirty.is_empty()
            || !gate.carry.is_empty()
        {
            return Ok(None);
        }
        match &gate.head_at_read {
            Some(head) => heads.push((repo_mark(name), gate.position(head))),
            None => return Ok(None),
        }
    }
    let Some(config) = config_hash(ws) else {
        return Ok(None);
    };
    hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = async {
            let Some(mark) = store.watermark(CONFIG_MARK).await? else {
                return Ok(None);
            };
            if mark.position != config {
                return Ok(None);
            }
            let hub_mark = store.watermark(HUB_MARK).await?;
            let high_water = store.journal_high_water().await?.to_string();
            if hub_mark.as_ref().map(|m| &m.position) != Some(&high_water) {
                return Ok(None);
            }
            if store.watermark(OPEN_MARK).await?.map(|m| m.position) != Some("[]".into()) {
                return Ok(None);
            }
            for (name, head) in &heads {
                let known = store.watermark(name).await?;
                if known.as_ref().map(|m| &m.position) != Some(head) {
                    return Ok(None);
                }
            }
            Ok::<_, concord_store::StoreError>(Some(mark.updated_at))
        }
        .await;
        store.close().await;
        Ok::<_, Failure>(result?)
    })?
}

/// What the last sync left for a focused plan: the journal entry it
/// planned up to and the items it left open, if it ran with this config.
fn focus_marks(ws: &Workspace) -> Result<Option<(i64, Vec<String>)>, Failure> {
    let Some(config) = config_hash(ws) else {
        return Ok(None);
    };
    hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = async {
            if store.watermark(CONFIG_MARK).await?.map(|m| m.position) != Some(config) {
                return Ok(None);
            }
            let journal = store.watermark(HUB_MARK).await?;
            let open = store.watermark(OPEN_MARK).await?;
            Ok::<_, concord_store::StoreError>(
                journal
                    .and_then(|m| m.position.parse().ok())
                    .zip(open.and_then(|m| serde_json::from_str(&m.position).ok())),
            )
        }
        .await;
        store.close().await;
        Ok::<_, Failure>(result?)
    })?
}

/// After a sync, before its read positions move (a run killed in between
/// then re-reads more, never less): the marks [`CONFIG_MARK`] describes.
async fn mark_run(
    ws: &Workspace,
    store: &Store,
    gates: &BTreeMap<String, RepoGate>,
    (journal_at_read, run_id): (i64, &str),
    open: &BTreeSet<String>,
    converged: bool,
) -> Result<(), Failure> {
    let now = now_rfc3339();
    let mut marks = Vec::new();
    // Someone else's change made during this run was not planned with: the
    // next run must look at it.
    let others = store
        .journal_entries_since_not_of_run(journal_at_read, run_id)
        .await?;
    let planned_up_to = if others == 0 {
        store.journal_high_water().await?
    } else {
        journal_at_read
    };
    marks.push((HUB_MARK.to_string(), planned_up_to.to_string()));
    marks.push((OPEN_MARK.to_string(), serde_json::json!(open).to_string()));
    for (name, gate) in gates {
        let head = match gate.git.as_ref() {
            Some(git) if converged => git
                .head()
                .ok()
                .flatten()
                .map(|head| gate.position(&head))
                .unwrap_or_default(),
            _ => String::new(),
        };
        marks.push((repo_mark(name), head));
    }
    // The config mark last: it makes the others count.
    marks.push((CONFIG_MARK.to_string(), config_hash(ws).unwrap_or_default()));
    for (source, position) in marks {
        store
            .set_watermark(&Watermark {
                source,
                position,
                updated_at: now.clone(),
            })
            .await?;
    }
    Ok(())
}

pub use crate::sha256_hex;

/// Apply a plan: files, trackers, journal, hub, commits, then the record
/// of what landed (bases, replica bases, marks, read positions). The order
/// matters: a write that did not land must not move a base, and a run
/// killed anywhere must leave the next run reading more, never less.
async fn apply(
    ws: &Workspace,
    options: &SyncOptions,
    store: &Store,
    planned: &Planned,
    gates: &BTreeMap<String, RepoGate>,
    progress: &dyn Progress,
) -> Result<SyncReport, Failure> {
    let run = Apply {
        ws,
        options,
        store,
        planned,
        gates,
        progress,
        run_id: options.run_id.clone().unwrap_or_else(hub::new_run_id),
        actor: options.actor.clone().unwrap_or_else(|| hub::actor(ws)),
        observed: planned
            .report
            .observations()
            .map(|o| ((&*o.source, o.key.as_str()), o))
            .collect(),
    };
    let mut ledger = Ledger::default();
    let per_file = run.file_edits(&mut ledger);
    run.write_files(per_file, &mut ledger).await?;
    timings::phase("files written");
    run.write_trackers(&mut ledger);
    run.journal(&ledger).await?;
    timings::phase("journaled");
    let versions_after = run.write_hub(&mut ledger).await?;
    let committed = run.commit(&mut ledger).await?;
    timings::phase("committed");
    run.record(ledger, committed, &versions_after).await
}

/// What one pass applies with.
struct Apply<'a> {
    ws: &'a Workspace,
    options: &'a SyncOptions,
    store: &'a Store,
    planned: &'a Planned,
    gates: &'a BTreeMap<String, RepoGate>,
    progress: &'a dyn Progress,
    run_id: String,
    actor: String,
    /// What each file source held when read: (source, key).
    observed: HashMap<(&'a str, &'a str), &'a Observation>,
}

/// What a pass has done so far; each phase adds to it.
#[derive(Default)]
struct Ledger {
    applied: Vec<Applied>,
    not_applied: Vec<NotApplied>,
    skipped_writes: Vec<(String, String, String)>,
    /// Decisions with a change that did not land: they keep their old base.
    incomplete: BTreeSet<(String, String)>,
    /// Per repo: the paths written and the commit message's lines.
    written: BTreeMap<String, (Vec<String>, Vec<String>)>,
    /// What the files hold now, recorded as read once committed.
    written_statuses: Vec<WrittenStatus>,
}

impl Ledger {
    fn keep_base(&mut self, decision: &Decision) {
        self.incomplete
            .insert((decision.rule.clone(), decision.key.clone()));
    }

    fn skip_write(&mut self, decision: &Decision, change: &Change) {
        self.keep_base(decision);
        self.skipped_writes.push((
            decision.key.clone(),
            change.source.clone(),
            change.to.status.clone(),
        ));
    }
}

/// The planned edits, per (source index, path).
type FileEdits<'p> = BTreeMap<(usize, String), Vec<PlannedEdit<'p>>>;

/// What the commits made: (repo, commit id), and per repo the commit the
/// next run may read from.
struct Committed {
    commits: Vec<(String, String)>,
    read_from: HashMap<String, String>,
}

impl<'a> Apply<'a> {
    fn allowed(&self, target: &str) -> bool {
        self.options
            .only
            .as_deref()
            .is_none_or(|only| only == target)
    }

    fn rule_allowed(&self, rule: &str) -> bool {
        self.options.rule.as_deref().is_none_or(|only| only == rule)
    }

    /// The file edits to make, grouped per file: a file is read, edited
    /// and written once however many of its items change.
    fn file_edits(&self, ledger: &mut Ledger) -> FileEdits<'a> {
        let mut per_file: FileEdits<'a> = BTreeMap::new();
        for (decision, change) in self.planned.plan.changes() {
            if change.source == HUB_SOURCE {
                continue;
            }
            if !self.allowed(&change.source) || !self.rule_allowed(&decision.rule) {
                ledger.keep_base(decision);
                continue;
            }
            let Some((index, source)) = self
                .ws
                .sources
                .iter()
                .enumerate()
                .find(|(_, s)| s.name == change.source)
            else {
                continue;
            };
            let skip = |why: &str| NotApplied {
                key: decision.key.clone(),
                target: change.source.clone(),
                problem: why.to_string(),
                raced: false,
            };
            let Some(obs) = self
                .observed
                .get(&(change.source.as_str(), decision.key.as_str()))
            else {
                ledger
                    .not_applied
                    .push(skip("the item was not read from this source"));
                ledger.keep_base(decision);
                continue;
            };
            let new_word = match native_word(source, &change.to.status) {
                Ok(word) => word,
                Err(why) => {
                    ledger.not_applied.push(skip(&why));
                    ledger.keep_base(decision);
                    continue;
                }
            };
            let expected = obs
                .status
                .as_ref()
                .map(|s| s.raw.clone())
                .unwrap_or_default();
            per_file
                .entry((index, obs.path.to_string()))
                .or_default()
                .push((
                    decision,
                    change,
                    FileEdit {
                        key: decision.key.clone(),
                        expected,
                        new_word,
                    },
                ));
        }
        per_file
    }

    /// In chunks: each chunk's files are read and edited in parallel, their
    /// intents recorded in one transaction, then written in parallel.
    async fn write_files(
        &self,
        per_file: FileEdits<'a>,
        ledger: &mut Ledger,
    ) -> Result<(), Failure> {
        let bar = self.progress.bar(per_file.len(), "writing files");
        let per_file: Vec<_> = per_file.into_iter().collect();
        for chunk in per_file.chunks(256) {
            if self.options.no_writeback {
                for (_, edits) in chunk {
                    for (decision, change, _) in edits {
                        ledger.skip_write(decision, change);
                    }
                }
                continue;
            }
            let prepared = self.prepare(chunk);
            // Intent first: a run killed after a write but before the
            // commit lets the next run recognise the file as ours.
            let intents: Vec<PendingWrite> = chunk
                .iter()
                .zip(&prepared)
                .filter_map(|(((index, path), _), (new_bytes, _))| {
                    Some(PendingWrite {
                        repo: self.ws.repo(&self.ws.sources[*index]).name.clone(),
                        path: path.clone(),
                        sha256: sha256_hex(new_bytes.as_ref()?),
                        run_id: self.run_id.clone(),
                        created_at: now_rfc3339(),
                    })
                })
                .collect();
            self.store.add_pending_writes(&intents).await?;
            let results: Vec<Vec<EditOutcome>> = chunk
                .par_iter()
                .zip(prepared)
                .map(|(((index, path), edits), (new_bytes, outcomes))| {
                    let Some(new_bytes) = new_bytes else {
                        return outcomes;
                    };
                    let full = self.ws.repo(&self.ws.sources[*index]).root.join(path);
                    match write_atomic(&full, &new_bytes) {
                        Ok(()) => outcomes,
                        Err(e) => {
                            vec![EditOutcome::Refused(format!("cannot write: {e}")); edits.len()]
                        }
                    }
                })
                .collect();
            for (file, outcomes) in chunk.iter().zip(results) {
                bar.inc(1);
                self.file_written(file, outcomes, ledger);
            }
        }
        bar.finish();
        Ok(())
    }

    /// Each file of a chunk read again and edited, in parallel: its new
    /// content, if any, and how each edit went.
    fn prepare(&self, chunk: &[((usize, String), Vec<PlannedEdit<'a>>)]) -> Vec<Prepared> {
        chunk
            .par_iter()
            .map(|((index, path), edits)| {
                let source = &self.ws.sources[*index];
                let full = self.ws.repo(source).root.join(path);
                let file_edits: Vec<FileEdit> = edits.iter().map(|(_, _, e)| e.clone()).collect();
                // Never blocks: a FIFO swapped in since the read is refused.
                match concord_workspace::read_regular_file(&full, u64::MAX) {
                    Ok(bytes) => {
                        let (new_bytes, outcomes) = edit_file(source, path, &bytes, &file_edits);
                        let new_bytes = (new_bytes != bytes).then_some(new_bytes);
                        (new_bytes, outcomes)
                    }
                    // Deleted since it was read: its items are gone.
                    Err(_) if std::fs::symlink_metadata(&full).is_err() => {
                        (None, vec![EditOutcome::Missing; edits.len()])
                    }
                    Err(e) => (None, vec![EditOutcome::Refused(e); edits.len()]),
                }
            })
            .collect()
    }

    /// One file's edits as they went: applied ones join the commit,
    /// the others are reported (a file changed under the run is a race).
    fn file_written(
        &self,
        ((index, path), edits): &((usize, String), Vec<PlannedEdit<'a>>),
        outcomes: Vec<EditOutcome>,
        ledger: &mut Ledger,
    ) {
        let repo = self.ws.repo(&self.ws.sources[*index]);
        let place = format!("{}:{path}", repo.name);
        for ((decision, change, edit), outcome) in edits.iter().zip(outcomes) {
            let problem = match outcome {
                EditOutcome::Applied => {
                    let entry = ledger.written.entry(repo.name.clone()).or_default();
                    if !entry.0.contains(path) {
                        entry.0.push(path.clone());
                    }
                    entry.1.push(format!(
                        "- {}: {} -> {} (from {}, {})",
                        decision.key,
                        edit.expected,
                        edit.new_word,
                        change.origin,
                        change.reason.as_str()
                    ));
                    ledger.applied.push(applied_of(decision, change, &place));
                    ledger.written_statuses.push(WrittenStatus {
                        source: change.source.clone(),
                        key: decision.key.clone(),
                        status: Some(change.to.status.clone()),
                        raw_status: edit.new_word.clone(),
                    });
                    continue;
                }
                EditOutcome::Changed { found } => (
                    format!(
                        "{place} changed since it was read (now `{}`); run sync again",
                        found.unwrap_or_default()
                    ),
                    true,
                ),
                EditOutcome::Missing => (format!("{place} no longer holds the item"), true),
                EditOutcome::Refused(why) => (format!("{place}: {why}"), false),
            };
            ledger.keep_base(decision);
            ledger.not_applied.push(NotApplied {
                key: decision.key.clone(),
                target: change.source.clone(),
                problem: problem.0,
                raced: problem.1,
            });
        }
    }

    /// Trackers: each with its own locking, a bounded number of requests
    /// at a time. A tracker that was not read is not written.
    fn write_trackers(&self, ledger: &mut Ledger) {
        for read in &self.planned.trackers {
            let tracker = &self.ws.trackers[read.index];
            let (mine, later): (Vec<(&Decision, &Change)>, Vec<_>) = self
                .planned
                .plan
                .changes()
                .filter(|(_, c)| c.source == tracker.name)
                .partition(|(d, _)| self.rule_allowed(&d.rule));
            for (decision, _) in &later {
                ledger.keep_base(decision);
            }
            if mine.is_empty() {
                continue;
            }
            if !self.allowed(&tracker.name) || self.options.no_writeback {
                for (decision, change) in &mine {
                    if self.options.no_writeback {
                        ledger.skip_write(decision, change);
                    } else {
                        ledger.keep_base(decision);
                    }
                }
                continue;
            }
            let changes: Vec<TrackerChange> = mine
                .iter()
                .map(|(decision, change)| TrackerChange {
                    key: decision.key.clone(),
                    to: change.to.status.clone(),
                    note: format!(
                        "concord: status {} -> {} (from {}, {}; rule {}, run {})",
                        change.from.as_ref().map_or("(none)", |v| v.status.as_str()),
                        change.to.status,
                        change.origin,
                        change.reason.as_str(),
                        decision.rule,
                        self.run_id
                    ),
                })
                .collect();
            let bar = self
                .progress
                .bar(changes.len(), &format!("writing {}", tracker.name));
            let outcomes = crate::trackers::write(self.ws, read, &changes);
            bar.finish();
            for ((decision, change), outcome) in mine.into_iter().zip(outcomes) {
                let place = read
                    .observations
                    .iter()
                    .find(|o| o.key == decision.key)
                    .map_or_else(
                        || tracker.name.clone(),
                        |o| format!("{}:{}", tracker.name, o.path),
                    );
                let (problem, raced) = match outcome {
                    WriteOutcome::Applied => {
                        ledger.applied.push(applied_of(decision, change, &place));
                        continue;
                    }
                    WriteOutcome::Raced(why) => (why, true),
                    WriteOutcome::Failed(why) => (why, false),
                };
                ledger.keep_base(decision);
                ledger.not_applied.push(NotApplied {
                    key: decision.key.clone(),
                    target: tracker.name.clone(),
                    problem,
                    raced,
                });
            }
        }
        // A rule with a tracker that could not be read keeps its bases:
        // what that tracker holds is unknown, not agreed.
        for read in self.planned.trackers.iter().filter(|t| t.unread.is_some()) {
            let name = &self.ws.trackers[read.index].name;
            for decision in &self.planned.plan.decisions {
                let rule = self.ws.rules.iter().find(|r| r.name == decision.rule);
                if rule.is_some_and(|r| r.sources.contains(name)) {
                    ledger.keep_base(decision);
                }
            }
        }
    }

    /// The changes that landed (files, trackers), in one transaction.
    async fn journal(&self, ledger: &Ledger) -> Result<(), Failure> {
        let entries: Vec<JournalEntry> = ledger
            .applied
            .iter()
            .map(|a| JournalEntry {
                id: 0,
                at: now_rfc3339(),
                run_id: Some(self.run_id.clone()),
                actor: self.actor.clone(),
                key: a.key.clone(),
                kind: JournalKind::Change,
                field: Some("status".into()),
                from: a.from.clone(),
                to: Some(a.to.clone()),
                target: Some(match replica_of(self.ws, self.gates, &a.target) {
                    Some(replica) => format!("{} {} (replica {replica})", a.target, a.place),
                    None => format!("{} {}", a.target, a.place),
                }),
                reason: a.reason.into(),
                note: Some(origin_note(self.ws, self.gates, &a.origin, &a.rule)),
                event_type: None,
                phase: None,
                artifacts: Vec::new(),
            })
            .collect();
        self.store.append_journal_batch(&entries).await?;
        Ok(())
    }

    /// The hub: compare-and-set against the version the plan was made
    /// from, all in one transaction. Returns each item's value version
    /// after the run.
    async fn write_hub(&self, ledger: &mut Ledger) -> Result<HashMap<String, i64>, Failure> {
        let versions: HashMap<&str, (i64, Option<&str>)> = self
            .planned
            .hub_values
            .iter()
            .filter(|v| v.field == "status")
            .map(|v| (v.key.as_str(), (v.version, v.value.as_deref())))
            .collect();
        let mut hub_planned = Vec::new();
        let mut hub_changes = Vec::new();
        for (decision, change) in self
            .planned
            .plan
            .changes()
            .filter(|(_, c)| c.source == HUB_SOURCE)
        {
            if !self.allowed(HUB_SOURCE) || !self.rule_allowed(&decision.rule) {
                ledger.keep_base(decision);
                continue;
            }
            let (version, from) = versions
                .get(decision.key.as_str())
                .copied()
                .unwrap_or((0, None));
            hub_planned.push((decision, change));
            hub_changes.push(ValueChange {
                key: decision.key.clone(),
                field: "status".into(),
                expected_version: version,
                from: from.map(str::to_string),
                to: Some(change.to.status.clone()),
                at: now_rfc3339(),
                actor: self.actor.clone(),
                run_id: Some(self.run_id.clone()),
                reason: change.reason.as_str().into(),
                note: Some(origin_note(
                    self.ws,
                    self.gates,
                    &change.origin,
                    &decision.rule,
                )),
            });
        }
        // In chunks, so a long first sync shows progress; every row still
        // decides its own compare-and-set.
        let bar = self.progress.bar(hub_changes.len(), "writing the hub");
        let mut results = Vec::with_capacity(hub_changes.len());
        for chunk in hub_changes.chunks(2000) {
            results.extend(self.store.set_hub_values(chunk).await?);
            bar.inc(chunk.len() as u64);
        }
        bar.finish();
        timings::phase("hub written");
        let mut versions_after: HashMap<String, i64> = versions
            .iter()
            .map(|(key, (version, _))| (key.to_string(), *version))
            .collect();
        for ((decision, change), result) in hub_planned.into_iter().zip(results) {
            match result {
                Ok(stored) => {
                    versions_after.insert(stored.key.clone(), stored.version);
                    ledger.applied.push(applied_of(decision, change, "the hub"));
                }
                Err(e) if e.is_conflict() => {
                    ledger.keep_base(decision);
                    ledger.not_applied.push(NotApplied {
                        key: decision.key.clone(),
                        target: HUB_SOURCE.into(),
                        problem: "the hub value changed since it was read; run sync again".into(),
                        raced: true,
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(versions_after)
    }

    /// One commit per repo, with only the paths concord wrote (this run's,
    /// and those an interrupted run left); pushed if asked.
    async fn commit(&self, ledger: &mut Ledger) -> Result<Committed, Failure> {
        for (repo_name, gate) in self.gates {
            for path in &gate.carry {
                let entry = ledger.written.entry(repo_name.clone()).or_default();
                if !entry.0.contains(path) {
                    entry.0.push(path.clone());
                    entry
                        .1
                        .push(format!("- {path}: written by an interrupted sync"));
                }
            }
        }
        // The repos commit (and push) in parallel: each is its own git process.
        let outcomes: Vec<(&String, &Vec<String>, Option<CommitOutcome>)> = ledger
            .written
            .par_iter()
            .map(|(repo_name, (paths, lines))| {
                let outcome = self.commit_repo(repo_name, paths, lines);
                (repo_name, paths, outcome)
            })
            .collect();
        let mut committed = Committed {
            commits: Vec::new(),
            read_from: HashMap::new(),
        };
        let mut not_applied = Vec::new();
        for (repo_name, paths, outcome) in outcomes {
            match outcome {
                None | Some(Ok((None, _, _))) => {
                    self.store.clear_pending_writes(repo_name, paths).await?;
                }
                Some(Ok((Some(id), pushed, on_read))) => {
                    self.store.clear_pending_writes(repo_name, paths).await?;
                    if on_read {
                        committed.read_from.insert(repo_name.clone(), id.clone());
                    }
                    if let Err(e) = pushed {
                        not_applied.push(NotApplied {
                            key: String::new(),
                            target: repo_name.clone(),
                            problem: format!("committed {} but the push failed: {e}", short(&id)),
                            raced: false,
                        });
                    }
                    committed.commits.push((repo_name.clone(), id));
                }
                Some(Err(e)) => not_applied.push(NotApplied {
                    key: String::new(),
                    target: repo_name.clone(),
                    problem: format!("files written but the commit failed: {e}"),
                    raced: false,
                }),
            }
        }
        ledger.not_applied.extend(not_applied);
        Ok(committed)
    }

    /// One repo's commit (and push); `None` when it is not a git work
    /// tree, so the write is final.
    fn commit_repo(
        &self,
        repo_name: &str,
        paths: &[String],
        lines: &[String],
    ) -> Option<CommitOutcome> {
        let gate = self.gates.get(repo_name)?;
        let git = gate.git.as_ref()?;
        let subject = self
            .ws
            .commit_subject
            .replace("{count}", &lines.len().to_string())
            .replace("{run_id}", &self.run_id);
        // The trailer marks the values as copies of an agreement, so a
        // clone that merges this commit never takes them for edits.
        let message = format!(
            "{subject}\n\n{}\n\n{}: {}\n",
            lines.join("\n"),
            crate::replicas::RUN_TRAILER,
            self.run_id
        );
        let committed = git.commit_paths(paths, &message).map(|id| {
            let pushed = match &id {
                Some(_) if self.options.push => git.push().map_err(|e| e.to_string()),
                _ => Ok(()),
            };
            // Made right on top of what was read: the next run may read
            // from it (nobody else's commit hides in between).
            let on_read = id.as_ref().is_some_and(|id| {
                let parent = git.first_parent(id).ok().flatten();
                parent.is_some() && parent == gate.head_at_read.clone()
            });
            (id, pushed, on_read)
        });
        Some(committed.map_err(|e| e.to_string()))
    }

    /// What landed, recorded for the next run: bases, replica bases, the
    /// run's marks, the written statuses and the read positions, in that
    /// order.
    async fn record(
        &self,
        ledger: Ledger,
        committed: Committed,
        versions_after: &HashMap<String, i64>,
    ) -> Result<SyncReport, Failure> {
        // Where each repo's replica stands after this run: its commit, if
        // it made one, else what it read.
        let mut synced_heads: HashMap<String, String> = self
            .gates
            .iter()
            .filter_map(|(name, g)| Some((name.clone(), g.head_at_read.clone()?)))
            .collect();
        for (repo, id) in &committed.commits {
            synced_heads.insert(repo.clone(), id.clone());
        }
        let landed = Landed {
            written: ledger
                .applied
                .iter()
                .map(|a| (a.rule.as_str(), a.key.as_str(), a.target.as_str()))
                .collect(),
            incomplete: &ledger.incomplete,
            synced_heads: &synced_heads,
        };
        self.record_bases(&landed, versions_after).await?;
        let (held, undecided) = open_decisions(self.planned);
        let repos_blocked: Vec<(String, String)> = self
            .gates
            .iter()
            .filter_map(|(name, g)| g.blocker.as_ref().map(|b| (name.clone(), b.clone())))
            .collect();
        let converged = self.planned.trackers.iter().all(|t| t.unread.is_none())
            && ledger.not_applied.is_empty()
            && held.is_empty()
            && undecided.is_empty()
            && repos_blocked.is_empty()
            && self.planned.report.warnings.is_empty()
            && self.options.only.is_none()
            && self.options.rule.is_none()
            && !self.options.no_writeback;
        // Items a full plan would show again: the next (focused) plan
        // includes them.
        let open: BTreeSet<String> = held
            .iter()
            .map(|(key, ..)| key.clone())
            .chain(undecided.iter().map(|(key, ..)| key.clone()))
            .chain(
                ledger
                    .not_applied
                    .iter()
                    .filter(|n| !n.key.is_empty())
                    .map(|n| n.key.clone()),
            )
            .chain(ledger.incomplete.iter().map(|(_, key)| key.clone()))
            .collect();
        mark_run(
            self.ws,
            self.store,
            self.gates,
            (self.planned.journal_at_read, &self.run_id),
            &open,
            converged,
        )
        .await?;
        // What this run wrote is recorded as read, so the next run starts
        // from this run's commit instead of re-reading it: a value edit
        // changes nothing else in its file (and the plan read every file
        // an interrupted run left).
        self.store
            .record_written_statuses(&ledger.written_statuses)
            .await?;
        timings::phase("written files recorded");
        record_read_positions(
            self.ws,
            self.store,
            self.gates,
            &self.planned.report,
            &committed.read_from,
        )
        .await?;
        timings::phase("committed, read positions recorded");
        Ok(self.report(ledger, committed.commits, held, undecided, repos_blocked))
    }

    /// The shared bases and the replica bases this run moved, each only
    /// where every change of its decision landed.
    async fn record_bases(
        &self,
        landed: &Landed<'_>,
        versions_after: &HashMap<String, i64>,
    ) -> Result<(), Failure> {
        let new_bases = shared_bases(
            self.ws,
            self.planned,
            self.gates,
            landed,
            &self.observed,
            versions_after,
        );
        let bar = self.progress.bar(new_bases.len(), "recording bases");
        let mut stored = Vec::with_capacity(new_bases.len());
        for chunk in new_bases.chunks(2000) {
            stored.extend(self.store.put_bases(chunk).await?);
            bar.inc(chunk.len() as u64);
        }
        bar.finish();
        timings::phase("bases recorded");
        for result in stored {
            match result {
                // Another run moved it: ours is not the latest agreement;
                // the next run re-plans.
                Ok(_) => {}
                Err(e) if e.is_conflict() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let rows = replica_rows(self.ws, self.planned, self.gates, landed);
        crate::replicas::record(self.store, self.gates, &rows, landed.synced_heads).await?;
        timings::phase("replica bases recorded");
        Ok(())
    }

    fn report(
        &self,
        ledger: Ledger,
        commits: Vec<(String, String)>,
        held: Vec<Held>,
        undecided: Vec<Undecided>,
        repos_blocked: Vec<(String, String)>,
    ) -> SyncReport {
        let trackers = &self.planned.trackers;
        let tracker_name = |index: usize| self.ws.trackers[index].name.clone();
        SyncReport {
            version: VERSION,
            unchanged_since: None,
            applied: ledger.applied,
            not_applied: ledger.not_applied,
            held,
            undecided,
            commits,
            repos_blocked,
            warnings: self.planned.report.warnings.len(),
            reads: BTreeMap::new(),
            planned: String::new(),
            replans: 0,
            trackers_not_read: trackers
                .iter()
                .filter_map(|t| {
                    let unread = t.unread.as_ref()?;
                    Some((tracker_name(t.index), unread.message.clone(), unread.failed))
                })
                .collect(),
            missing_in_trackers: trackers
                .iter()
                .flat_map(|t| {
                    t.missing
                        .iter()
                        .map(move |key| (tracker_name(t.index), key.clone()))
                })
                .collect(),
            skipped_writes: ledger.skipped_writes,
            pulled: self
                .gates
                .iter()
                .filter_map(|(name, g)| g.pulled.clone().map(|p| (name.clone(), p)))
                .collect(),
            outcome: Outcome::Clean,
            warning_details: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// (key, source, reason, detail)
type Held = (String, String, &'static str, String);
/// (key, reason, explanation)
type Undecided = (String, &'static str, String);

/// What the plan held back and what it could not decide.
fn open_decisions(planned: &Planned) -> (Vec<Held>, Vec<Undecided>) {
    let held = planned
        .plan
        .decisions
        .iter()
        .flat_map(|d| d.holds.iter().map(move |h| (d, h)))
        .filter(|(_, h)| h.reason != Reason::NotInSource)
        .map(|(d, h)| {
            (
                d.key.clone(),
                h.source.clone(),
                h.reason.as_str(),
                h.detail.clone(),
            )
        })
        .collect();
    let undecided = planned
        .plan
        .decisions
        .iter()
        .filter(|d| {
            matches!(
                d.reason,
                Reason::Conflict
                    | Reason::OwnerMissing
                    | Reason::OwnerUnknown
                    | Reason::UnknownStatus
            )
        })
        .map(|d| (d.key.clone(), d.reason.as_str(), d.explanation.clone()))
        .collect();
    (held, undecided)
}

/// What landed in this run, as the bases see it.
struct Landed<'a> {
    /// (rule, key, target) of every change applied.
    written: BTreeSet<(&'a str, &'a str, &'a str)>,
    /// Decisions with a change that did not land: they keep their bases.
    incomplete: &'a BTreeSet<(String, String)>,
    /// Where each repo's replica stands after this run.
    synced_heads: &'a HashMap<String, String>,
}

/// The shared bases this run moves (each with the version it was planned
/// from): only where every change of the decision landed.
fn shared_bases(
    ws: &Workspace,
    planned: &Planned,
    gates: &BTreeMap<String, RepoGate>,
    landed: &Landed<'_>,
    observed: &HashMap<(&str, &str), &Observation>,
    versions_after: &HashMap<String, i64>,
) -> Vec<(Base, i64)> {
    let known_bases: HashMap<(&str, &str), (i64, Option<&str>)> = planned
        .bases
        .iter()
        .filter(|b| b.field == "status")
        .map(|b| {
            (
                (b.rule.as_str(), b.key.as_str()),
                (b.version, b.value.as_deref()),
            )
        })
        .collect();
    let agreed_at = now_rfc3339();
    // What each source was at when the sources agreed: the commit its repo
    // was read at; for the hub, the item's value version after this run.
    // For a git source, `replica commit`, and only when it holds the
    // winner committed: a replica with no base of its own may start from
    // this agreement when that commit is in its history.
    let source_versions = |decision: &Decision| -> String {
        let (rule, key) = (decision.rule.as_str(), decision.key.as_str());
        let mut versions = serde_json::Map::new();
        let Some(rule) = ws.rules.iter().find(|r| r.name == rule) else {
            return "{}".into();
        };
        // Only the sources that hold the item: a rule may join a hundred.
        for name in &rule.sources {
            let version = if name == HUB_SOURCE {
                let Some(version) = versions_after.get(key).copied() else {
                    continue;
                };
                serde_json::Value::from(version)
            } else {
                let Some(obs) = observed.get(&(name.as_str(), key)) else {
                    continue;
                };
                let holds = decision.agreeing.contains(name)
                    || landed
                        .written
                        .contains(&(rule.name.as_str(), key, name.as_str()));
                let gate = gates.get(&*obs.repo);
                let position = gate
                    .filter(|g| holds && !g.dirty.contains(&*obs.path))
                    .zip(landed.synced_heads.get(&*obs.repo))
                    .map(|(g, head)| g.position(head));
                match position {
                    Some(position) => serde_json::Value::from(position),
                    None => continue,
                }
            };
            versions.insert(name.clone(), version);
        }
        serde_json::Value::Object(versions).to_string()
    };
    let mut new_bases = Vec::new();
    for decision in &planned.plan.decisions {
        let Some(new_base) = &decision.new_base else {
            continue;
        };
        if landed
            .incomplete
            .contains(&(decision.rule.clone(), decision.key.clone()))
        {
            continue;
        }
        let (expected, old) = known_bases
            .get(&(decision.rule.as_str(), decision.key.as_str()))
            .copied()
            .unwrap_or((0, None));
        if old == Some(new_base.status.as_str()) {
            continue;
        }
        new_bases.push((
            Base {
                rule: decision.rule.clone(),
                key: decision.key.clone(),
                field: "status".into(),
                value: Some(new_base.status.clone()),
                versions: source_versions(decision),
                version: 0,
                agreed_at: agreed_at.clone(),
            },
            expected,
        ));
    }
    new_bases
}

/// The replica a file source is read in this run, if it is a git checkout.
fn replica_of<'g>(
    ws: &Workspace,
    gates: &'g BTreeMap<String, RepoGate>,
    source: &str,
) -> Option<&'g str> {
    let source = ws.sources.iter().find(|s| s.name == source)?;
    gates.get(&ws.repo(source).name)?.replica.as_deref()
}

/// `from ORIGIN (rule R)`, naming the replica of each origin that is a
/// file source read here.
fn origin_note(
    ws: &Workspace,
    gates: &BTreeMap<String, RepoGate>,
    origin: &str,
    rule: &str,
) -> String {
    let replicas: Vec<String> = origin
        .split(", ")
        .filter_map(|o| replica_of(ws, gates, o).map(|r| format!("{o} in replica {r}")))
        .collect();
    if replicas.is_empty() {
        format!("from {origin} (rule {rule})")
    } else {
        format!("from {origin} (rule {rule}; {})", replicas.join(", "))
    }
}

/// The replica bases this run moved: for every decision that landed whole,
/// each git source that holds the winner now (it already did, or this run
/// wrote it) agrees on it in this checkout.
fn replica_rows(
    ws: &Workspace,
    planned: &Planned,
    gates: &BTreeMap<String, RepoGate>,
    landed: &Landed<'_>,
) -> Vec<concord_store::ReplicaBase> {
    let agreed_at = now_rfc3339();
    let mut rows = Vec::new();
    for decision in &planned.plan.decisions {
        let Some(winner) = &decision.winner else {
            continue;
        };
        if landed
            .incomplete
            .contains(&(decision.rule.clone(), decision.key.clone()))
        {
            continue;
        }
        let wrote = decision
            .changes
            .iter()
            .map(|c| c.source.as_str())
            .filter(|s| {
                landed
                    .written
                    .contains(&(decision.rule.as_str(), decision.key.as_str(), *s))
            });
        let holders: BTreeSet<&str> = decision
            .agreeing
            .iter()
            .map(String::as_str)
            .chain(wrote)
            .collect();
        for source in holders {
            let Some(source) = ws.sources.iter().find(|s| s.name == source) else {
                continue;
            };
            let repo = &ws.repo(source).name;
            let (Some(replica), Some(head)) = (
                gates.get(repo).and_then(|g| g.replica.as_deref()),
                landed.synced_heads.get(repo),
            ) else {
                continue;
            };
            let now = Some(winner.status.clone());
            if planned
                .own_bases
                .row(replica, &decision.rule, &source.name, &decision.key)
                == Some(&now)
            {
                continue;
            }
            rows.push(concord_store::ReplicaBase {
                replica: replica.to_string(),
                key: decision.key.clone(),
                rule: decision.rule.clone(),
                source: source.name.clone(),
                field: "status".into(),
                value: now,
                position: head.clone(),
                agreed_at: agreed_at.clone(),
            });
        }
    }
    rows
}

/// A commit's id (`None`: nothing to commit), how its push went, and
/// whether its parent is the commit the run read.
type CommitOutcome = Result<(Option<String>, Result<(), String>, bool), String>;

/// A file's new content (`None`: unchanged or unreadable) and each edit's outcome.
type Prepared = (Option<Vec<u8>>, Vec<EditOutcome>);

/// One planned file edit and the decision it carries out.
type PlannedEdit<'p> = (&'p Decision, &'p Change, FileEdit);

fn applied_of(decision: &Decision, change: &Change, place: &str) -> Applied {
    Applied {
        key: decision.key.clone(),
        rule: decision.rule.clone(),
        target: change.source.clone(),
        from: change.from.as_ref().map(|v| v.status.clone()),
        to: change.to.status.clone(),
        reason: change.reason.as_str(),
        origin: change.origin.clone(),
        place: place.to_string(),
    }
}

/// The word a source uses for a canonical status: its `write_names` entry,
/// else the canonical name. A source that names its words but lacks this
/// one cannot be written.
fn native_word(source: &Source, canonical: &str) -> Result<String, String> {
    if source.write_names.is_empty() {
        return Ok(canonical.to_string());
    }
    source.write_names.get(canonical).cloned().ok_or_else(|| {
        format!(
            "source `{}` has no word for `{canonical}` in write_names",
            source.name
        )
    })
}
