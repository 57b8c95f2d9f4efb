//! Recording what landed for the next run, and the pass's report.

use super::bases::{SharedBases, replica_rows};
use super::{Apply, Committed, Landed, Ledger};
use crate::Outcome;
use crate::hub::Failure;
use crate::plan::Planned;
use crate::sync::marks::{mark_run, record_read_positions};
use crate::sync::report::{Held, Undecided};
use crate::sync::{SyncReport, VERSION};
use crate::timings;
use concord_engine::Reason;
use futures_util::StreamExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};

impl<'a> Apply<'a> {
    /// What landed, recorded for the next run: bases, replica bases, the
    /// run's marks, the written statuses and the read positions, in that
    /// order.
    pub(super) async fn record(
        &self,
        ledger: Ledger,
        committed: Committed,
        versions_after: &HashMap<&str, i64>,
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
        versions_after: &HashMap<&str, i64>,
    ) -> Result<(), Failure> {
        let bases = SharedBases::new(
            self.ws,
            self.planned,
            self.gates,
            landed,
            &self.observed,
            versions_after,
        );
        let decisions = &self.planned.plan.decisions;
        let bar = self.progress.bar(decisions.len(), "recording bases");
        // A chunk's bases are made, written, and their answers checked and
        // dropped before the next chunks' are made: holding every base (one
        // per item on a first sync) cost memory at the run's peak. Each
        // chunk is its own transaction over rows no other chunk touches,
        // so PostgreSQL takes two at once.
        let at_once = self.store.concurrent_batches();
        let mut writes = futures_util::stream::iter(decisions.chunks(super::WRITE_CHUNK))
            .map(|chunk| {
                let new_bases = bases.of(chunk);
                async move {
                    let results = if new_bases.is_empty() {
                        Vec::new()
                    } else {
                        self.store.put_bases(&new_bases).await?
                    };
                    Ok::<_, Failure>((chunk.len(), results))
                }
            })
            .buffered(at_once);
        while let Some(written) = writes.next().await {
            let (decided, results) = written?;
            for result in results {
                match result {
                    // Another run moved it: ours is not the latest agreement;
                    // the next run re-plans.
                    Ok(_) => {}
                    Err(e) if e.is_conflict() => {}
                    Err(e) => return Err(e.into()),
                }
            }
            bar.inc(decided as u64);
        }
        drop(writes);
        bar.finish();
        drop(bases);
        timings::phase("bases recorded");
        // A chunk at a time, as the shared bases.
        let agreed_at = concord_store::now_rfc3339();
        let own = &self.planned.own_bases;
        let mut writes = futures_util::stream::iter(decisions.chunks(super::WRITE_CHUNK))
            .map(|chunk| {
                let rows = replica_rows(self.ws, chunk, own, self.gates, landed, &agreed_at);
                crate::replicas::record_bases(self.store, rows)
            })
            .buffered(at_once);
        while let Some(written) = writes.next().await {
            written?;
        }
        drop(writes);
        crate::replicas::record(self.store, self.gates, landed.synced_heads).await?;
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
            trackers_not_read: crate::trackers::not_read(self.ws, trackers)
                .into_iter()
                .map(|n| (n.source, n.why, n.failed))
                .collect(),
            missing_in_trackers: crate::trackers::missing(self.ws, trackers),
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

/// What the plan held back and what it could not decide.
fn open_decisions(planned: &Planned) -> (Vec<Held>, Vec<Undecided>) {
    let held = planned
        .plan
        .decisions
        .iter()
        .flat_map(|d| d.holds.iter().map(move |h| (d, h)))
        // A tracker not read is reported as such (`trackers_not_read`).
        .filter(|(_, h)| !matches!(h.reason, Reason::NotInSource | Reason::SourceUnread))
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
