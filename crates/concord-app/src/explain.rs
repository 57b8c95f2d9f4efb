//! `explain KEY`: every source's value, the base, the rule and the
//! decision with its reason.

use crate::Failure;
use crate::plan::{Planned, Scope, look_gates, plan_workspace};
use concord_engine::Decision;
use concord_model::Observation;
use concord_workspace::Workspace;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What to explain.
#[derive(Debug, Clone, Default)]
pub struct ExplainOptions {
    pub key: String,
    /// Judge staleness against the last fetch instead of fetching.
    pub no_fetch: bool,
}

/// One reading of the item from a checkout: which replica, what blocks it,
/// and what it last agreed on under each rule.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReplicaReading {
    pub source: String,
    pub repo: String,
    /// Where this copy of the item is (a source may hold it more than once:
    /// `DUPLICATE_KEY`).
    pub path: String,
    pub line: u32,
    /// The source's own word, if the copy has a status.
    pub status: Option<String>,
    pub replica: Option<String>,
    /// Why the repo is not written now (a reason code), if it is not.
    pub blocked: Option<String>,
    /// rule -> the value this replica last agreed on (`null`: never).
    pub own_bases: BTreeMap<String, Option<String>>,
}

/// A base as `explain --json` shows it: `versions` as the JSON object it
/// is (the hub stores it as text).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BaseView {
    pub rule: String,
    pub key: String,
    pub field: String,
    pub value: Option<String>,
    /// Source -> the version (or replica position) it had when agreed.
    pub versions: serde_json::Value,
    pub version: i64,
    pub agreed_at: String,
}

impl From<&concord_store::Base> for BaseView {
    fn from(base: &concord_store::Base) -> Self {
        BaseView {
            rule: base.rule.clone(),
            key: base.key.clone(),
            field: base.field.clone(),
            value: base.value.clone(),
            versions: serde_json::from_str(&base.versions)
                .unwrap_or_else(|_| serde_json::Value::String(base.versions.clone())),
            version: base.version,
            agreed_at: base.agreed_at.clone(),
        }
    }
}

/// The shape of [`Explanation`]; it changes when a field changes meaning.
pub const VERSION: u32 = 1;

/// The report of `explain`: its JSON is `{version, key, decisions, bases, readings}`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Explanation {
    /// [`VERSION`]: the shape of this report.
    pub version: u32,
    pub key: String,
    pub decisions: Vec<Decision>,
    /// The item's bases, every rule and field.
    pub bases: Vec<BaseView>,
    pub readings: Vec<ReplicaReading>,
    /// The item's observations, for a text rendering.
    #[serde(skip)]
    pub observations: Vec<Observation>,
    /// The first note on a reading's repo (`repo`, why its own bases are
    /// not relied on), for a text rendering.
    #[serde(skip)]
    pub note: Option<(String, String)>,
}

/// Plan the workspace (recording nothing but the scan) and keep what
/// concerns `options.key`. A key no source holds is a usage failure.
pub fn explain(ws: &Workspace, options: &ExplainOptions) -> Result<Explanation, Failure> {
    let key = options.key.as_str();
    let gates = look_gates(ws, options.no_fetch);
    let Planned {
        report,
        plan,
        bases,
        own_bases,
        ..
    } = plan_workspace(
        ws,
        "explain",
        &gates,
        &Default::default(),
        &Scope::All,
        false,
    )?;
    let decisions: Vec<Decision> = plan
        .decisions
        .iter()
        .filter(|d| d.key == key)
        .cloned()
        .collect();
    let observations: Vec<Observation> = report
        .observations()
        .filter(|o| o.key == key)
        .cloned()
        .collect();
    if decisions.is_empty() && observations.is_empty() {
        return Err(Failure::usage(
            format!("no source holds an item `{key}`"),
            Some("check the key with `concord status`".into()),
        ));
    }
    let readings: Vec<ReplicaReading> = observations
        .iter()
        .map(|obs| {
            let gate = gates.get(&*obs.repo);
            let own_bases = decisions
                .iter()
                .map(|d| {
                    let shared = bases
                        .iter()
                        .find(|b| b.rule == d.rule && b.key == obs.key && b.field == "status");
                    let own = own_bases
                        .view(&gates, &obs.repo, (&d.rule, &obs.source, &obs.key), shared)
                        .base;
                    (d.rule.clone(), own)
                })
                .collect();
            ReplicaReading {
                source: obs.source.to_string(),
                repo: obs.repo.to_string(),
                path: obs.path.to_string(),
                line: obs.status.as_ref().map_or(obs.line, |s| s.line),
                status: obs.status.as_ref().map(|s| s.raw.clone()),
                replica: gate.and_then(|g| g.replica.as_deref().map(str::to_string)),
                blocked: gate.and_then(|g| g.blocked.map(|r| r.as_str().to_string())),
                own_bases,
            }
        })
        .collect();
    let note = readings.iter().find_map(|r| {
        own_bases
            .notes
            .get(&r.repo)
            .map(|n| (r.repo.clone(), n.clone()))
    });
    Ok(Explanation {
        version: VERSION,
        key: key.to_string(),
        decisions,
        bases: bases
            .iter()
            .filter(|b| b.key == key)
            .map(BaseView::from)
            .collect(),
        readings,
        observations,
        note,
    })
}
