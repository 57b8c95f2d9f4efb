//! Applying a plan, phase by phase: [`Apply::write_files`],
//! [`Apply::write_trackers`], [`Apply::journal`], [`Apply::write_hub`],
//! [`Apply::commit`], then [`Apply::record`] (bases, marks, read
//! positions). Each phase adds what it did to the [`Ledger`].

mod bases;
mod commit;
mod record;
mod write_files;
mod write_hub;
mod write_trackers;

use super::{Applied, NotApplied, SyncOptions, SyncReport};
use crate::gates::RepoGate;
use crate::hub::{self, Failure};
use crate::plan::Planned;
use crate::progress::Progress;
use crate::timings;
use concord_engine::{Change, Decision};
use concord_model::Observation;
use concord_store::{Store, WrittenStatus};
use concord_workspace::{Source, Workspace};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Apply a plan: files, trackers, journal, hub, commits, then the record
/// of what landed (bases, replica bases, marks, read positions). The order
/// matters: a write that did not land must not move a base, and a run
/// killed anywhere must leave the next run reading more, never less.
pub(super) async fn apply(
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
    let committed_repos: Vec<String> = committed.commits.iter().map(|(r, _)| r.clone()).collect();
    let report = run.record(ledger, committed, &versions_after).await;
    remember_repo_states(gates, &committed_repos);
    timings::phase("repo states remembered");
    report
}

/// Look at each committed repo once more, now that the commits and the
/// records are done, so the next run finds its state remembered instead
/// of running git there (a no-op right after a writeback). Best effort:
/// a failure here only means the next run asks git.
fn remember_repo_states(gates: &BTreeMap<String, RepoGate>, repos: &[String]) {
    use rayon::prelude::*;
    on_io_threads(|| {
        repos.par_iter().for_each(|repo| {
            if let Some(git) = gates.get(repo).and_then(|g| g.git.as_ref()) {
                let _ = git.snapshot_cached();
            }
        });
    });
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

fn applied_of(decision: &Decision, change: &Change, place: &str) -> Applied {
    Applied {
        key: decision.key.as_str().into(),
        rule: decision.rule.as_str().into(),
        target: change.source.as_str().into(),
        from: change.from.as_ref().map(|v| v.status.as_str().into()),
        to: change.to.status.as_str().into(),
        reason: change.reason.as_str(),
        origin: change.origin.as_str().into(),
        place: place.into(),
    }
}

/// Run `work` (parallel iterators over files or repos) on threads kept
/// for waiting: a file write waits on its fsync and a commit on git's
/// disk writes far longer than either computes, so more of them than cores
/// keep the disk busy without loading the CPU. On the global pool when no
/// thread could start.
fn on_io_threads<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(IO_THREADS)
            .thread_name(|i| format!("concord-io-{i}"))
            .build()
            .ok()
    });
    match pool {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// Decisions whose hub values, bases or replica bases are made, written
/// (one transaction) and dropped at once. 10,000 was no faster on either
/// backend at 100,000 items and cost 15-35 MB more at the peak.
const WRITE_CHUNK: usize = 2_000;

/// How many files are written (or repos committed) at once.
const IO_THREADS: usize = 8;

/// The word a source uses for a canonical status: its `write_names` entry,
/// else the canonical name. A source that names its words but lacks this
/// one cannot be written.
pub(super) fn native_word(source: &Source, canonical: &str) -> Result<String, String> {
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
