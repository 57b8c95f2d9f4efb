//! One pass of a sync: gate the repos, choose what to read, read and
//! plan, ask, then apply.

use super::apply::{apply, native_word};
use super::marks::{incremental_read, unchanged_since_converged};
use super::{Confirm, SyncOptions, SyncReport, SyncRun};
use crate::diff::DiffReport;
use crate::gates::{GateOptions, RepoGate, SYNC_FETCH_TIMEOUT, gate_repos};
use crate::hub::{self, Failure};
use crate::plan::{Planned, plan_workspace};
use crate::progress::Progress;
use crate::{count, sha256_hex, timings};
use concord_workspace::Workspace;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How one pass (gates, read, plan, apply) ended.
pub(super) enum Pass {
    /// Nothing to apply (nothing changed, or a dry run).
    Finished(SyncRun),
    /// Declined when asked.
    Declined,
    Applied(Box<SyncReport>),
}

pub(super) fn pass(
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
        && let Some((since, warnings)) = unchanged_since_converged(ws, &gates)?
    {
        // Nothing was read: the warnings are those the hub recorded.
        let mut report = SyncReport::unchanged(since);
        report.warning_details = warnings;
        report.warnings = report.warning_details.len();
        return Ok(Pass::Finished(SyncRun::Unchanged(Box::new(report))));
    }
    let (limits, scope) = incremental_read(ws, &gates, options.full)?;
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
            ws, &planned, &gates,
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
    report.planned = scope.describe();
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
