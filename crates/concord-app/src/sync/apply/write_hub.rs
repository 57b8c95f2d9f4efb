//! Journaling what landed and writing the hub.

use super::{Apply, Ledger, applied_of};
use crate::gates::RepoGate;
use crate::hub::Failure;
use crate::sync::NotApplied;
use crate::timings;
use concord_store::{JournalEntry, JournalKind, ValueChange, now_rfc3339};
use concord_workspace::{HUB_SOURCE, Workspace};
use std::collections::{BTreeMap, HashMap};

impl<'a> Apply<'a> {
    /// The changes that landed (files, trackers), in one transaction.
    pub(super) async fn journal(&self, ledger: &Ledger) -> Result<(), Failure> {
        let replicas = Replicas::of(self.ws, self.gates);
        let entries: Vec<JournalEntry> = ledger
            .applied
            .iter()
            .map(|a| JournalEntry {
                id: 0,
                at: now_rfc3339(),
                run_id: Some(self.run_id.clone()),
                actor: self.actor.clone(),
                key: a.key.to_string(),
                kind: JournalKind::Change,
                field: Some("status".into()),
                from: a.from.as_ref().map(|f| f.to_string()),
                to: Some(a.to.to_string()),
                target: Some(match replicas.of_source(&a.target) {
                    Some(replica) => format!("{} {} (replica {replica})", a.target, a.place),
                    None => format!("{} {}", a.target, a.place),
                }),
                reason: a.reason.into(),
                note: Some(replicas.origin_note(&a.origin, &a.rule)),
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
    pub(super) async fn write_hub(
        &self,
        ledger: &mut Ledger,
    ) -> Result<HashMap<&'a str, i64>, Failure> {
        // Borrowed for the whole run: the versions after it name their
        // items with the plan's own keys, not a copy of each.
        let planned: &'a crate::plan::Planned = self.planned;
        let versions: HashMap<&str, (i64, Option<&str>)> = planned
            .hub_values
            .iter()
            .filter(|v| v.field == "status")
            .map(|v| (v.key.as_str(), (v.version, v.value.as_deref())))
            .collect();
        let replicas = Replicas::of(self.ws, self.gates);
        let mut hub_planned = Vec::new();
        for (decision, change) in planned
            .plan
            .changes()
            .filter(|(_, c)| c.source == HUB_SOURCE)
        {
            if !self.allowed(HUB_SOURCE) || !self.rule_allowed(&decision.rule) {
                ledger.keep_base(decision);
                continue;
            }
            hub_planned.push((decision, change));
        }
        let mut versions_after: HashMap<&'a str, i64> = versions
            .iter()
            .map(|(&key, &(version, _))| (key, version))
            .collect();
        // In chunks, so a long first sync shows progress, and each chunk's
        // writes are made and dropped as it goes (a first sync writes every
        // item: holding them all cost 70 MB at its peak). Every row still
        // decides its own compare-and-set.
        let bar = self.progress.bar(hub_planned.len(), "writing the hub");
        for chunk in hub_planned.chunks(super::WRITE_CHUNK) {
            let changes: Vec<ValueChange> = chunk
                .iter()
                .map(|(decision, change)| {
                    let (version, from) = versions
                        .get(decision.key.as_str())
                        .copied()
                        .unwrap_or((0, None));
                    ValueChange {
                        key: decision.key.clone(),
                        field: "status".into(),
                        expected_version: version,
                        from: from.map(str::to_string),
                        to: Some(change.to.status.clone()),
                        at: now_rfc3339(),
                        actor: self.actor.clone(),
                        run_id: Some(self.run_id.clone()),
                        reason: change.reason.as_str().into(),
                        note: Some(replicas.origin_note(&change.origin, &decision.rule)),
                    }
                })
                .collect();
            let results = self.store.set_hub_values(&changes).await?;
            drop(changes);
            for (&(decision, change), result) in chunk.iter().zip(results) {
                match result {
                    Ok(stored) => {
                        versions_after.insert(decision.key.as_str(), stored.version);
                        ledger.applied.push(applied_of(decision, change, "the hub"));
                    }
                    Err(e) if e.is_conflict() => {
                        ledger.keep_base(decision);
                        ledger.not_applied.push(NotApplied {
                            key: decision.key.clone(),
                            target: HUB_SOURCE.into(),
                            problem: "the hub value changed since it was read; run sync again"
                                .into(),
                            raced: true,
                        });
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            bar.inc(chunk.len() as u64);
        }
        bar.finish();
        timings::phase("hub written");
        Ok(versions_after)
    }
}

/// The replica each file source is read in this run (those that are git
/// checkouts), found once per run: a journal entry names them for every
/// change, and a rule may join a hundred sources.
struct Replicas<'g> {
    by_source: HashMap<&'g str, &'g str>,
}

impl<'g> Replicas<'g> {
    fn of(ws: &'g Workspace, gates: &'g BTreeMap<String, RepoGate>) -> Replicas<'g> {
        let by_source = ws
            .sources
            .iter()
            .filter_map(|s| {
                let replica = gates.get(&ws.repo(s).name)?.replica.as_deref()?;
                Some((s.name.as_str(), replica))
            })
            .collect();
        Replicas { by_source }
    }

    fn of_source(&self, source: &str) -> Option<&'g str> {
        self.by_source.get(source).copied()
    }

    /// `from ORIGIN (rule R)`, naming the replica of each origin that is a
    /// file source read here.
    fn origin_note(&self, origin: &str, rule: &str) -> String {
        let replicas: Vec<String> = origin
            .split(", ")
            .filter_map(|o| self.of_source(o).map(|r| format!("{o} in replica {r}")))
            .collect();
        if replicas.is_empty() {
            format!("from {origin} (rule {rule})")
        } else {
            format!("from {origin} (rule {rule}; {})", replicas.join(", "))
        }
    }
}
