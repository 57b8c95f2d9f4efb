//! Release trains as the control room shows them: each train's status,
//! frozen commits and versions, journaled steps, and what is live, all
//! from the hub's train records and step journal (what `concord ship
//! status` reads), so the panel needs no probe and no checkout.

use concord_store::{ReleaseStep, ReleaseTrain};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Trains listed, newest first.
pub const TRAINS_LISTED: usize = 5;

/// One train and its journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TrainView {
    pub id: i64,
    pub name: String,
    /// `prepared`, `shipping`, `aborted` or `shipped`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub actor: String,
    /// Per repo, the commit and (for a library) version `prepare` froze.
    pub frozen: BTreeMap<String, FrozenView>,
    /// The journal, oldest first.
    pub steps: Vec<StepView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FrozenView {
    pub commit: String,
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepView {
    pub seq: i64,
    /// What the step does, e.g. `publish lib-a 1.4.2`.
    pub step: String,
    /// `started`, `done`, `skipped`, `failed`, `unknown` or `accepted`.
    pub outcome: String,
    pub at: String,
    pub detail: Option<String>,
}

/// What is live of a repo: the newest publish or deploy a train's journal
/// records as done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Live {
    pub repo: String,
    /// `publish` (a library version) or `deploy` (an app's commit).
    pub kind: String,
    /// The published version, or the deployed commit.
    pub what: String,
    pub train: String,
    pub train_id: i64,
    pub at: String,
}

/// A train record and its steps as the panel shows them. A `frozen` the
/// hub cannot parse shows as no repos rather than failing the summary.
pub fn train_view(train: &ReleaseTrain, steps: &[ReleaseStep]) -> TrainView {
    let frozen: BTreeMap<String, crate::ship::Frozen> =
        serde_json::from_str(&train.frozen).unwrap_or_default();
    TrainView {
        id: train.id,
        name: train.name.clone(),
        status: train.status.clone(),
        created_at: train.created_at.clone(),
        updated_at: train.updated_at.clone(),
        actor: train.actor.clone(),
        frozen: frozen
            .into_iter()
            .map(|(repo, f)| {
                (
                    repo,
                    FrozenView {
                        commit: f.commit,
                        version: f.version,
                    },
                )
            })
            .collect(),
        steps: steps
            .iter()
            .map(|s| StepView {
                seq: s.seq,
                step: s.step.clone(),
                outcome: s.outcome.clone(),
                at: s.at.clone(),
                detail: s.detail.clone(),
            })
            .collect(),
    }
}

/// Per repo, the newest `publish REPO VERSION` or `deploy REPO` step
/// journaled as done by any of `trains` (a deploy is live at the commit its
/// train froze). Sorted by repo.
pub fn live_of(trains: &[TrainView]) -> Vec<Live> {
    let mut live: BTreeMap<String, Live> = BTreeMap::new();
    for train in trains {
        for step in train.steps.iter().filter(|s| s.outcome == "done") {
            let mut words = step.step.split(' ');
            let (kind, repo, what) = match (words.next(), words.next(), words.next()) {
                (Some("publish"), Some(repo), Some(version)) => {
                    ("publish", repo, version.to_string())
                }
                (Some("deploy"), Some(repo), None) => (
                    "deploy",
                    repo,
                    train
                        .frozen
                        .get(repo)
                        .map(|f| f.commit.clone())
                        .unwrap_or_default(),
                ),
                _ => continue,
            };
            let newer = live.get(repo).is_none_or(|known| known.at < step.at);
            if newer {
                live.insert(
                    repo.to_string(),
                    Live {
                        repo: repo.to_string(),
                        kind: kind.to_string(),
                        what,
                        train: train.name.clone(),
                        train_id: train.id,
                        at: step.at.clone(),
                    },
                );
            }
        }
    }
    live.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(seq: i64, step: &str, outcome: &str, at: &str) -> StepView {
        StepView {
            seq,
            step: step.into(),
            outcome: outcome.into(),
            at: at.into(),
            detail: None,
        }
    }

    fn train(id: i64, steps: Vec<StepView>) -> TrainView {
        TrainView {
            id,
            name: "spring".into(),
            status: "shipped".into(),
            created_at: String::new(),
            updated_at: String::new(),
            actor: "ann".into(),
            frozen: BTreeMap::from([(
                "app".to_string(),
                FrozenView {
                    commit: format!("c{id}"),
                    version: None,
                },
            )]),
            steps,
        }
    }

    #[test]
    fn live_is_the_newest_done_publish_or_deploy_per_repo() {
        let old = train(
            1,
            vec![
                step(1, "publish lib 1.0.0", "done", "2026-01-01T00:00:00Z"),
                step(2, "deploy app", "done", "2026-01-01T00:01:00Z"),
            ],
        );
        let new = train(
            2,
            vec![
                step(1, "publish lib 1.1.0", "done", "2026-02-01T00:00:00Z"),
                step(2, "test app", "done", "2026-02-01T00:00:30Z"),
                step(3, "deploy app", "failed", "2026-02-01T00:01:00Z"),
            ],
        );
        // newest first, as the hub lists them
        let live = live_of(&[new, old]);
        assert_eq!(live.len(), 2);
        assert_eq!(
            (live[0].repo.as_str(), live[0].what.as_str()),
            ("app", "c1")
        );
        assert_eq!(live[0].kind, "deploy");
        assert_eq!(
            (
                live[1].repo.as_str(),
                live[1].what.as_str(),
                live[1].train_id
            ),
            ("lib", "1.1.0", 2)
        );
    }

    #[test]
    fn an_unreadable_frozen_record_shows_no_repos() {
        let record = ReleaseTrain {
            id: 3,
            name: "x".into(),
            created_at: "t".into(),
            actor: "a".into(),
            status: "prepared".into(),
            frozen: "not json".into(),
            version: 1,
            updated_at: "t".into(),
        };
        let view = train_view(&record, &[]);
        assert!(view.frozen.is_empty());
        assert_eq!(view.status, "prepared");
    }
}
