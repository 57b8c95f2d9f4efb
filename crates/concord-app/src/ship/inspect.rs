//! `concord ship plan` and `concord ship status`: what the train would do
//! now, and what it did; neither changes anything.

use super::{
    Ctx, Frozen, Loaded, ShipOptions, VERSION, finished, load_train, probe, versions_of, vouched,
};
use crate::hub::Failure;
use concord_ship::plan::{self as ship_plan, Decision};
use concord_workspace::Workspace;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The ordered steps of the latest train and what each probe says now.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanReport {
    /// [`VERSION`].
    pub version: u32,
    /// In plan order.
    pub steps: Vec<PlannedStep>,
}

/// One step of the plan and whether it would run.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlannedStep {
    pub decision: Decision,
    /// What the step does, e.g. `publish lib-a 1.4.2`.
    pub step: String,
}

/// Plan the latest train named in `options`: its steps in order, each
/// decided on what the journal and the probes say now. Runs probes
/// (read-only commands); changes nothing.
pub fn plan(ws: &Workspace, options: &ShipOptions) -> Result<PlanReport, Failure> {
    let ctx = Ctx::load(ws, options)?;
    let loaded = load_train(&ctx, &options.name)?;
    let versions = versions_of(&loaded.frozen);
    let steps =
        ship_plan::plan(&ctx.train, &versions).map_err(|e| Failure::usage(e.to_string(), None))?;
    let done = finished(&loaded.steps);
    let vouched = vouched(&loaded.steps);
    let steps = steps
        .iter()
        .map(|step| {
            let observed = probe::observe(&ctx, step, &done, &vouched);
            PlannedStep {
                decision: ship_plan::decide(step, &observed),
                step: step.to_string(),
            }
        })
        .collect();
    Ok(PlanReport {
        version: VERSION,
        steps,
    })
}

/// The latest train of a name as the hub records it. Fields after
/// `version` are in the order `ship status --json` has always printed.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StatusReport {
    /// [`VERSION`].
    pub version: u32,
    pub created_at: String,
    /// Per repo, what `prepare` froze.
    pub frozen: BTreeMap<String, Frozen>,
    pub id: i64,
    pub name: String,
    /// `prepared`, `shipping`, `aborted` or `shipped`.
    pub status: String,
    /// The journal, oldest first.
    pub steps: Vec<JournaledStep>,
}

/// One journal entry of a train.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct JournaledStep {
    pub at: String,
    pub detail: Option<String>,
    /// `started`, `done`, `skipped`, `failed` or `unknown`.
    pub outcome: String,
    pub step: String,
    /// 1, 2, 3, ... per train (shown in the text; not in the JSON).
    #[serde(skip)]
    pub seq: i64,
}

/// The latest train named in `options` and its journal.
pub fn status(ws: &Workspace, options: &ShipOptions) -> Result<StatusReport, Failure> {
    let ctx = Ctx::load(ws, options)?;
    let Loaded {
        train,
        frozen,
        steps,
    } = load_train(&ctx, &options.name)?;
    Ok(StatusReport {
        version: VERSION,
        created_at: train.created_at,
        frozen,
        id: train.id,
        name: train.name,
        status: train.status,
        steps: steps
            .into_iter()
            .map(|s| JournaledStep {
                at: s.at,
                detail: s.detail,
                outcome: s.outcome,
                step: s.step,
                seq: s.seq,
            })
            .collect(),
    })
}
