//! The bases a run moves: shared bases and replica bases, only where
//! every change of a decision landed.

use super::Landed;
use crate::gates::RepoGate;
use crate::plan::Planned;
use concord_engine::Decision;
use concord_model::Observation;
use concord_store::{Base, now_rfc3339};
use concord_workspace::{HUB_SOURCE, Workspace};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the shared bases a run moves are made from, gathered once per run
/// so that [`SharedBases::of`] can make them a chunk of decisions at a
/// time: a first sync moves one base per item, and making them all before
/// writing any held them all at the run's memory peak.
pub(super) struct SharedBases<'r> {
    landed: &'r Landed<'r>,
    gates: &'r BTreeMap<String, RepoGate>,
    versions_after: &'r HashMap<&'r str, i64>,
    /// (rule, key) -> the stored base's version and value.
    known: HashMap<(&'r str, &'r str), (i64, Option<&'r str>)>,
    /// Each item's observations as (key, source, observation), sorted by
    /// key, found once: a rule may join a hundred sources, and looking each
    /// one up per item costs more than the writes. A sorted list, not a map
    /// of lists: one list per item cost 15 MB at 100,000 items.
    by_key: Vec<(&'r str, &'r str, &'r Observation)>,
    /// rule -> source -> its place in the rule.
    order: HashMap<&'r str, HashMap<&'r str, usize>>,
    agreed_at: String,
}

impl<'r> SharedBases<'r> {
    pub(super) fn new(
        ws: &'r Workspace,
        planned: &'r Planned,
        gates: &'r BTreeMap<String, RepoGate>,
        landed: &'r Landed<'r>,
        observed: &'r HashMap<(&'r str, &'r str), &'r Observation>,
        versions_after: &'r HashMap<&'r str, i64>,
    ) -> Self {
        let known = planned
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
        let mut by_key: Vec<(&str, &str, &Observation)> = observed
            .iter()
            .map(|(&(source, key), &obs)| (key, source, obs))
            .collect();
        by_key.sort_unstable_by_key(|&(key, source, _)| (key, source));
        let order = ws
            .rules
            .iter()
            .map(|r| {
                let sources = r.sources.iter().enumerate();
                (
                    r.name.as_str(),
                    sources.map(|(i, s)| (s.as_str(), i)).collect(),
                )
            })
            .collect();
        SharedBases {
            landed,
            gates,
            versions_after,
            known,
            by_key,
            order,
            agreed_at: now_rfc3339(),
        }
    }

    /// The shared bases `decisions` move (each with the version it was
    /// planned from): only where every change of the decision landed.
    /// In parallel: each base is its own small JSON document.
    pub(super) fn of(&self, decisions: &[Decision]) -> Vec<(Base, i64)> {
        use rayon::prelude::*;
        let landed = self.landed;
        decisions
            .par_iter()
            .filter_map(|decision| {
                let new_base = decision.new_base.as_ref()?;
                let incomplete = !landed.incomplete.is_empty()
                    && landed
                        .incomplete
                        .contains(&(decision.rule.clone(), decision.key.clone()));
                let (expected, old) = self
                    .known
                    .get(&(decision.rule.as_str(), decision.key.as_str()))
                    .copied()
                    .unwrap_or((0, None));
                if incomplete || old == Some(new_base.status.as_str()) {
                    return None;
                }
                Some((
                    Base {
                        rule: decision.rule.clone(),
                        key: decision.key.clone(),
                        field: "status".into(),
                        value: Some(new_base.status.clone()),
                        versions: self.source_versions(decision),
                        version: 0,
                        agreed_at: self.agreed_at.clone(),
                    },
                    expected,
                ))
            })
            .collect()
    }

    /// What each source was at when the sources agreed: the commit its
    /// repo was read at; for the hub, the item's value version after this
    /// run. For a git source, `replica commit`, and only when it holds the
    /// winner committed: a replica with no base of its own may start from
    /// this agreement when that commit is in its history.
    fn source_versions(&self, decision: &Decision) -> String {
        let (rule, key) = (decision.rule.as_str(), decision.key.as_str());
        let Some(index) = self.order.get(rule) else {
            return "{}".into();
        };
        // Only the sources of the rule that hold the item, in rule order.
        let mut found: Vec<(usize, &str, serde_json::Value)> = Vec::new();
        if let (Some(&i), Some(version)) = (index.get(HUB_SOURCE), self.versions_after.get(key)) {
            found.push((i, HUB_SOURCE, serde_json::Value::from(*version)));
        }
        let from = self.by_key.partition_point(|&(k, ..)| k < key);
        let of_key = self.by_key[from..].iter().take_while(|&&(k, ..)| k == key);
        for (_, name, obs) in of_key {
            let Some(&i) = index.get(name) else {
                continue;
            };
            let holds = decision.agreeing.iter().any(|a| a == name)
                || self.landed.written.contains(&(rule, key, *name));
            let gate = self.gates.get(&*obs.repo);
            let position = gate
                .filter(|g| holds && !g.dirty.contains(&*obs.path))
                .zip(self.landed.synced_heads.get(&*obs.repo))
                .map(|(g, head)| g.position(head));
            if let Some(position) = position {
                found.push((i, name, serde_json::Value::from(position)));
            }
        }
        found.sort_by_key(|(i, _, _)| *i);
        let versions: serde_json::Map<String, serde_json::Value> = found
            .into_iter()
            .map(|(_, name, version)| (name.to_string(), version))
            .collect();
        serde_json::Value::Object(versions).to_string()
    }
}

/// The replica bases this run moved: for every decision that landed whole,
/// each git source that holds the winner now (it already did, or this run
/// wrote it) agrees on it in this checkout.
pub(super) fn replica_rows(
    ws: &Workspace,
    decisions: &[Decision],
    own_bases: &crate::replicas::OwnBases,
    gates: &BTreeMap<String, RepoGate>,
    landed: &Landed<'_>,
    agreed_at: &str,
) -> crate::replicas::ReplicaRows {
    let mut rows = crate::replicas::ReplicaRows::default();
    for decision in decisions {
        let Some(winner) = &decision.winner else {
            continue;
        };
        if !landed.incomplete.is_empty()
            && landed
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
            let had = own_bases.row(replica, &decision.rule, &source.name, &decision.key);
            if had == Some(&now) {
                continue;
            }
            let rows = if had.is_none() {
                &mut rows.new
            } else {
                &mut rows.moved
            };
            rows.push(concord_store::ReplicaBase {
                replica: replica.to_string(),
                key: decision.key.clone(),
                rule: decision.rule.clone(),
                source: source.name.clone(),
                field: "status".into(),
                value: now,
                position: head.clone(),
                agreed_at: agreed_at.to_string(),
            });
        }
    }
    rows
}
