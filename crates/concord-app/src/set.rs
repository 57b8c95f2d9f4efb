//! `set KEY STATUS`: change an item's status in the hub. A lower rank
//! than the current one is a reopen and needs `force`.

use crate::Outcome;
use crate::hub::{self, Failure};
use concord_model::Workflow;
use concord_store::{Base, Store, ValueChange, now_rfc3339};
use concord_workspace::{HUB_SOURCE, Workspace};
use serde::{Deserialize, Serialize};

/// What to set, and who sets it.
#[derive(Debug, Clone, Default)]
pub struct SetOptions {
    pub key: String,
    /// A status or alias of the item's workflow.
    pub status: String,
    /// Why, recorded in the journal.
    pub note: Option<String>,
    /// Allow a status of lower rank than the current one (a reopen).
    pub force: bool,
    /// Who the journal names ([`hub::actor`] for a person at a terminal).
    pub actor: String,
}

/// The shape of [`SetReport`]; it changes when a field changes meaning.
pub const VERSION: u32 = 1;

/// Attempts before giving up when other writers keep winning the race.
const MAX_ATTEMPTS: usize = 8;

/// What `set` did: the JSON of `concord set --json` and of
/// `PUT /api/v1/items/{key}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SetReport {
    /// [`VERSION`]: the shape of this report.
    pub version: u32,
    pub key: String,
    pub from: Option<String>,
    pub to: String,
    /// The hub value's version after the set (it grows by one per change).
    pub value_version: i64,
    /// `SET_BY_USER`, `REOPENED` or `UNCHANGED`.
    pub reason: String,
    pub changed: bool,
}

/// Set the item's status in the hub (on `store`), by `options.actor`.
pub fn set(ws: &Workspace, store: &Store, options: &SetOptions) -> Result<SetReport, Failure> {
    hub::block_on(set_async(ws, store, options))?
}

async fn set_async(ws: &Workspace, store: &Store, args: &SetOptions) -> Result<SetReport, Failure> {
    let (workflow, observed_rank) = item_workflow(ws, store, &args.key).await?;
    let Some(target) = workflow.resolve(&args.status) else {
        let hint = workflow
            .suggest(&args.status)
            .map(|s| format!("did you mean `{}`?", s.name))
            .unwrap_or_else(|| {
                let names: Vec<_> = workflow
                    .statuses()
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect();
                format!(
                    "statuses of workflow `{}`: {}",
                    workflow.name(),
                    names.join(", ")
                )
            });
        return Err(Failure::usage(
            format!(
                "`{}` is no status or alias of workflow `{}`",
                args.status,
                workflow.name()
            ),
            Some(hint),
        ));
    };
    let actor = args.actor.clone();
    for _ in 0..MAX_ATTEMPTS {
        let current = store.hub_value(&args.key, "status").await?;
        let (version, from) = match &current {
            Some(v) => (v.version, v.value.clone()),
            None => (0, None),
        };
        if from.as_deref() == Some(target.name.as_str()) {
            return Ok(report(
                args,
                from,
                &target.name,
                version,
                "UNCHANGED",
                false,
            ));
        }
        // The current rank: the hub's value, or what the sources say when the hub has none.
        let current_rank = match &from {
            Some(value) => workflow.resolve(value).map(|s| s.rank),
            None => observed_rank,
        };
        let reopen = current_rank.is_some_and(|rank| target.rank < rank);
        if reopen && !args.force {
            return Err(Failure::usage(
                format!(
                    "`{}` is at rank {} ({}); `{}` has rank {}: that is a reopen",
                    args.key,
                    current_rank.unwrap_or_default(),
                    from.as_deref().unwrap_or("as the sources say"),
                    target.name,
                    target.rank
                ),
                Some("pass --force to reopen it; the journal records it as REOPENED".into()),
            ));
        }
        let reason = if reopen { "REOPENED" } else { "SET_BY_USER" };
        let change = ValueChange {
            key: args.key.clone(),
            field: "status".into(),
            expected_version: version,
            from: from.clone(),
            to: Some(target.name.clone()),
            at: now_rfc3339(),
            actor: actor.clone(),
            run_id: Some(hub::new_run_id()),
            reason: reason.into(),
            note: args.note.clone(),
        };
        match store.set_hub_value(&change).await {
            Ok(stored) => {
                if reopen {
                    agree_on_reopen(ws, store, &args.key, &target.name, stored.version).await?;
                }
                return Ok(report(
                    args,
                    from,
                    &target.name,
                    stored.version,
                    reason,
                    true,
                ));
            }
            // Someone else wrote first: re-read, re-check the rank rule, try again.
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure {
        message: format!(
            "`{}` kept changing under us; gave up after {MAX_ATTEMPTS} attempts",
            args.key
        ),
        help: Some("run the command again".into()),
        outcome: Outcome::PartialFailure,
    })
}

/// A forced reopen is a person's decision: it becomes the agreed value of
/// every merge rule the hub takes part in, so sync writes it back to every
/// replica (also under `reopen = "block"`, which guards against reopens
/// nobody asked for) instead of holding it as a regression.
async fn agree_on_reopen(
    ws: &Workspace,
    store: &Store,
    key: &str,
    status: &str,
    hub_version: i64,
) -> Result<(), Failure> {
    let rules = ws.rules.iter().filter(|r| {
        matches!(r.mode, concord_engine::Mode::Merge { .. })
            && r.sources.iter().any(|s| s == HUB_SOURCE)
    });
    for rule in rules {
        for _ in 0..MAX_ATTEMPTS {
            let current = store.base(&rule.name, key, "status").await?;
            let base = Base {
                rule: rule.name.clone(),
                key: key.to_string(),
                field: "status".into(),
                value: Some(status.to_string()),
                versions: serde_json::json!({ HUB_SOURCE: hub_version }).to_string(),
                version: 0,
                agreed_at: now_rfc3339(),
            };
            match store
                .put_base(&base, current.map_or(0, |b| b.version))
                .await
            {
                Ok(_) => break,
                Err(e) if e.is_conflict() => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

fn report(
    args: &SetOptions,
    from: Option<String>,
    to: &str,
    version: i64,
    reason: &str,
    changed: bool,
) -> SetReport {
    SetReport {
        version: VERSION,
        key: args.key.clone(),
        from,
        to: to.to_string(),
        value_version: version,
        reason: reason.to_string(),
        changed,
    }
}

/// The workflow an item follows, from the sources that hold it (as last
/// recorded in the hub, or read now), and the highest rank they report.
async fn item_workflow<'w>(
    ws: &'w Workspace,
    store: &Store,
    key: &str,
) -> Result<(&'w Workflow, Option<u32>), Failure> {
    let observed = hub::observations_of(store, ws, key, "set").await?;
    let mut workflows: Vec<&Workflow> = Vec::new();
    let mut rank = None;
    for obs in &observed {
        let Some(source) = ws.sources.iter().find(|s| s.name == obs.source) else {
            continue;
        };
        let workflow = ws.workflow(source);
        if !workflows.iter().any(|w| w.name() == workflow.name()) {
            workflows.push(workflow);
        }
        let seen = obs
            .status
            .as_deref()
            .and_then(|s| workflow.resolve(s))
            .map(|s| s.rank);
        rank = rank.max(seen);
    }
    match workflows.as_slice() {
        [] => Err(Failure::usage(
            format!("no source holds an item `{key}`"),
            Some("check the key with `concord status`".into()),
        )),
        [one] => Ok((one, rank)),
        several => Err(Failure::usage(
            format!(
                "`{key}` is held by sources of different workflows ({})",
                several
                    .iter()
                    .map(|w| w.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
        )),
    }
}
