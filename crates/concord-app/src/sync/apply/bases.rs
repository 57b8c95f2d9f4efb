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

/// The shared bases this run moves (each with the version it was planned
/// from): only where every change of the decision landed.
pub(super) fn shared_bases(
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
    // Each item's observations, found once: a rule may join a hundred
    // sources, and looking each one up per item costs more than the writes.
    let mut by_key: HashMap<&str, Vec<(&str, &Observation)>> = HashMap::new();
    for ((source, key), obs) in observed {
        by_key.entry(key).or_default().push((source, obs));
    }
    let order: HashMap<&str, HashMap<&str, usize>> = ws
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
    // What each source was at when the sources agreed: the commit its repo
    // was read at; for the hub, the item's value version after this run.
    // For a git source, `replica commit`, and only when it holds the
    // winner committed: a replica with no base of its own may start from
    // this agreement when that commit is in its history.
    let source_versions = |decision: &Decision| -> String {
        let (rule, key) = (decision.rule.as_str(), decision.key.as_str());
        let Some(index) = order.get(rule) else {
            return "{}".into();
        };
        // Only the sources of the rule that hold the item, in rule order.
        let mut found: Vec<(usize, &str, serde_json::Value)> = Vec::new();
        if let (Some(&i), Some(version)) = (index.get(HUB_SOURCE), versions_after.get(key)) {
            found.push((i, HUB_SOURCE, serde_json::Value::from(*version)));
        }
        for (name, obs) in by_key.get(key).into_iter().flatten() {
            let Some(&i) = index.get(name) else {
                continue;
            };
            let holds = decision.agreeing.iter().any(|a| a == name)
                || landed.written.contains(&(rule, key, *name));
            let gate = gates.get(&*obs.repo);
            let position = gate
                .filter(|g| holds && !g.dirty.contains(&*obs.path))
                .zip(landed.synced_heads.get(&*obs.repo))
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

/// The replica bases this run moved: for every decision that landed whole,
/// each git source that holds the winner now (it already did, or this run
/// wrote it) agrees on it in this checkout.
pub(super) fn replica_rows(
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
