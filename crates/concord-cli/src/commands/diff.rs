//! `concord diff`: what a sync would change, grouped by target, with the
//! reason for every change and every item held back. Writes no file.

use crate::Outcome;
use crate::gates::{GateOptions, RepoGate, gate_of, gate_repos};
use crate::hub::{self, Failure};
use crate::output::{self, BAD, DIM, KEY, WARN, paint};
use concord_engine::{Plan, Reason, plan};
use concord_model::Observation;
use concord_model::StatusReading;
use concord_store::{Base, HubValue};
use concord_workspace::{HubStatus, ScanReport, Workspace, engine_inputs, scan_limited};
use serde::Serialize;
use std::collections::BTreeSet;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
    /// Do not fetch: judge staleness against the last fetch.
    #[arg(long)]
    no_fetch: bool,
}

/// The gates of a command that only looks: a short best-effort fetch
/// (none with `no_fetch`), never a pull.
pub fn look_gates(ws: &Workspace, no_fetch: bool) -> BTreeMap<String, RepoGate> {
    gate_repos(
        ws,
        GateOptions {
            fetch: !no_fetch,
            pull: false,
            fetch_timeout: crate::gates::CHECK_FETCH_TIMEOUT,
            all_repos: false,
        },
    )
}

/// The plan for the workspace as it is now, what it was made from.
pub struct Planned {
    pub report: ScanReport,
    pub plan: Plan,
    /// The hub's values as read (their versions guard the writes).
    pub hub_values: Vec<HubValue>,
    pub bases: Vec<Base>,
    /// The journal's newest entry when the hub was read.
    pub journal_at_read: i64,
    /// Each tracker the rules name, as read (with what writing needs).
    pub trackers: Vec<crate::trackers::TrackerRead>,
    /// What this run's replicas last agreed on.
    pub own_bases: crate::replicas::OwnBases,
}

/// Which items to plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every item.
    All,
    /// After a sync that planned with every hub change up to journal entry
    /// `journal`, with every source read incrementally: only the items
    /// that can have changed since (journaled, or in a changed file) and
    /// those it left open. The others are still as that sync left them:
    /// in sync, so planning them would only say so again.
    ChangedSince { journal: i64, open: Vec<String> },
}

/// Scan, record the observations, read the hub's values and bases, decide.
/// Sources in `limits` read only the listed (changed) files; their other
/// items come from the observations the hub recorded last time.
pub fn plan_workspace(
    ws: &Workspace,
    command: &str,
    gates: &BTreeMap<String, RepoGate>,
    limits: &HashMap<usize, BTreeSet<String>>,
    scope: &Scope,
    strict: bool,
) -> Result<Planned, Failure> {
    let mut report = scan_limited(ws, limits);
    crate::timings::phase("scanned");
    let focus = match scope {
        Scope::All => None,
        Scope::ChangedSince { journal, open } => {
            Some(changed_items(ws, &report, limits, *journal, open)?)
        }
    };
    super::scan::record(ws, command, &report, limits)?;
    crate::timings::phase("observations recorded");
    let (journal_at_read, values, bases, recorded, own_bases) = hub::block_on(async {
        let store = hub::open(ws).await?;
        // Before the values: whatever changes after them is journaled later.
        let journal_at_read = store.journal_high_water().await;
        // Three independent reads on three pooled connections: SQLite's
        // worker threads (or the server) run them side by side.
        let (values, bases, recorded) = match &focus {
            None => {
                tokio::join!(store.hub_values(), store.all_bases(), async {
                    if limits.is_empty() {
                        Ok(Vec::new())
                    } else {
                        store.observations(None).await
                    }
                })
            }
            Some(keys) => tokio::join!(
                store.hub_values_for(keys),
                store.bases_for(keys),
                store.observations_for(keys)
            ),
        };
        let bases = bases?;
        let own_bases = crate::replicas::load(ws, &store, gates, &bases, focus.as_deref()).await;
        store.close().await;
        Ok::<_, Failure>((journal_at_read?, values?, bases, recorded?, own_bases?))
    })??;
    crate::timings::phase("hub loaded");
    // Unchanged files of incrementally read sources: as recorded.
    let mut recorded_by_source: HashMap<&str, Vec<&concord_store::ObservationRecord>> =
        HashMap::new();
    for record in &recorded {
        recorded_by_source
            .entry(record.source.as_str())
            .or_default()
            .push(record);
    }
    for scan in &mut report.sources {
        let Some(changed) = limits.get(&scan.source) else {
            continue;
        };
        let source = &ws.sources[scan.source];
        let workflow = ws.workflow(source);
        let (name, repo): (Arc<str>, Arc<str>) = (
            Arc::from(source.name.as_str()),
            Arc::from(ws.repo(source).name.as_str()),
        );
        scan.observations.extend(
            recorded_by_source
                .get(source.name.as_str())
                .into_iter()
                .flatten()
                .filter(|r| !changed.contains(&r.path))
                .map(|r| Observation {
                    source: name.clone(),
                    repo: repo.clone(),
                    key: r.key.clone(),
                    path: Arc::from(r.path.as_str()),
                    line: u32::try_from(r.line).unwrap_or(0),
                    status: r.raw_status.clone().map(|raw| {
                        let known = workflow.resolve_index(&raw);
                        StatusReading {
                            canonical: known.and_then(|i| workflow.shared_name(i)),
                            rank: known.map(|i| workflow.statuses()[i].rank),
                            raw,
                            line: u32::try_from(r.line).unwrap_or(0),
                            span: 0..0,
                            pinned: r.pinned.clone(),
                        }
                    }),
                    owner: r.owner.clone(),
                    fields: Vec::new(),
                }),
        );
    }
    let hub: Vec<HubStatus<'_>> = values
        .iter()
        .filter(|v| v.field == "status")
        .map(|v| HubStatus {
            key: &v.key,
            status: v.value.as_deref(),
        })
        .collect();
    let base_values: HashMap<(String, String), String> = bases
        .iter()
        .filter(|b| b.field == "status")
        .filter_map(|b| {
            b.value
                .clone()
                .map(|value| ((b.rule.clone(), b.key.clone()), value))
        })
        .collect();
    // Trackers last: an OpenProject tracker without a project reads the
    // ids the other sources name.
    let wanted: BTreeSet<String> = report
        .observations()
        .map(|o| o.key.clone())
        .chain(hub.iter().map(|h| h.key.to_string()))
        .collect();
    let trackers = crate::trackers::read_all(ws, &wanted, strict)?;
    crate::timings::phase("trackers read");
    let observations: Vec<_> = report
        .observations()
        .chain(trackers.iter().flat_map(|t| t.observations.iter()))
        .collect();
    let shared: HashMap<(&str, &str), &Base> = bases
        .iter()
        .filter(|b| b.field == "status")
        .map(|b| ((b.rule.as_str(), b.key.as_str()), b))
        .collect();
    let mut own_bases = own_bases;
    crate::replicas::find_copies(ws, gates, &mut own_bases, &observations, &shared);
    let own_base = |rule: &str, obs: &Observation| {
        own_bases.view(
            gates,
            &obs.repo,
            (rule, &obs.source, &obs.key),
            shared.get(&(rule, obs.key.as_str())).copied(),
        )
    };
    let inputs = engine_inputs(
        ws,
        &observations,
        &hub,
        &base_values,
        &gate_of(gates),
        &own_base,
    );
    drop(shared);
    let plan = plan(&inputs);
    crate::timings::phase("engine planned");
    drop(hub);
    Ok(Planned {
        report,
        plan,
        hub_values: values,
        bases,
        journal_at_read,
        trackers,
        own_bases,
    })
}

/// The items to plan after a sync: those it left `open`, those journaled
/// since entry `journal`, those the changed files hold now, and those the
/// hub recorded in them before (an item removed from a file changed too).
fn changed_items(
    ws: &Workspace,
    report: &ScanReport,
    limits: &HashMap<usize, BTreeSet<String>>,
    journal: i64,
    open: &[String],
) -> Result<Vec<String>, Failure> {
    let mut keys: BTreeSet<String> = report.observations().map(|o| o.key.clone()).collect();
    keys.extend(open.iter().cloned());
    hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = async {
            keys.extend(store.journal_keys_since(journal).await?);
            for (index, paths) in limits {
                let source = &ws.sources[*index];
                let paths: Vec<String> = paths
                    .iter()
                    .filter(|p| source.matcher.is_match(p.as_str()))
                    .cloned()
                    .collect();
                if !paths.is_empty() {
                    keys.extend(store.observation_keys_in(&source.name, &paths).await?);
                }
            }
            Ok::<_, concord_store::StoreError>(())
        }
        .await;
        store.close().await;
        Ok::<_, Failure>(result?)
    })??;
    Ok(keys.into_iter().collect())
}

#[derive(Serialize)]
struct JsonChange<'a> {
    key: &'a str,
    rule: &'a str,
    target: &'a str,
    from: Option<&'a str>,
    to: &'a str,
    reason: Reason,
    origin: &'a str,
}

#[derive(Serialize)]
struct JsonHold<'a> {
    key: &'a str,
    rule: &'a str,
    source: &'a str,
    reason: Reason,
    detail: &'a str,
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    changes: Vec<JsonChange<'a>>,
    held: Vec<JsonHold<'a>>,
    conflicts: Vec<(&'a str, &'a str)>,
    decisions: BTreeMap<Reason, usize>,
    /// Repos nothing would be written to: (repo, why, with the fix).
    repos_blocked: Vec<(&'a str, &'a str)>,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    if ws.rules.is_empty() {
        return Err(Failure::usage(
            "no [[sync]] rules in the workspace: nothing to plan",
            Some(
                "add a rule, e.g. [[sync]] mode = \"merge\" between = [\"workplans\", \"hub\"]"
                    .into(),
            ),
        ));
    }
    let gates = look_gates(ws, args.no_fetch);
    let Planned { report, plan, .. } =
        plan_workspace(ws, "diff", &gates, &HashMap::new(), &Scope::All, false)?;
    let mut out = output::stdout();
    let written = if args.json {
        write_json(&plan, &gates, &mut out)
    } else {
        write_text(ws, &report, &plan, &mut out).and_then(|()| write_blocked(&gates, &mut out))
    };
    output::finish(written.and_then(|()| out.flush()));
    // As sync exits: anything to change, held or undecided is 1.
    Ok(if plan.is_empty() && !has_open(&plan) {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

/// Whether the plan holds an item back or leaves one undecided (what makes
/// a sync exit 1).
pub fn has_open(plan: &Plan) -> bool {
    plan.decisions.iter().any(|d| {
        d.holds.iter().any(|h| h.reason != Reason::NotInSource)
            || matches!(
                d.reason,
                Reason::Conflict
                    | Reason::OwnerMissing
                    | Reason::OwnerUnknown
                    | Reason::UnknownStatus
            )
    })
}

/// The repos nothing would be written to, and why (with the fix).
pub fn write_blocked(
    gates: &BTreeMap<String, RepoGate>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let warn = paint(WARN);
    for (name, gate) in gates {
        if let Some(blocker) = &gate.blocker {
            writeln!(out, "{warn}repo {name} not written{warn:#}: {blocker}")?;
        }
    }
    Ok(())
}

/// The plan as JSON: `diff --json`, and `sync --dry-run --json` (a dry
/// run is a diff).
pub fn write_json(
    plan: &Plan,
    gates: &BTreeMap<String, RepoGate>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let json = JsonPlan {
        repos_blocked: gates
            .iter()
            .filter_map(|(name, g)| g.blocker.as_deref().map(|b| (name.as_str(), b)))
            .collect(),
        changes: plan
            .changes()
            .map(|(d, c)| JsonChange {
                key: &d.key,
                rule: &d.rule,
                target: &c.source,
                from: c.from.as_ref().map(|v| v.status.as_str()),
                to: &c.to.status,
                reason: c.reason,
                origin: &c.origin,
            })
            .collect(),
        held: plan
            .decisions
            .iter()
            .flat_map(|d| {
                d.holds.iter().map(move |h| JsonHold {
                    key: &d.key,
                    rule: &d.rule,
                    source: &h.source,
                    reason: h.reason,
                    detail: &h.detail,
                })
            })
            .collect(),
        conflicts: plan
            .decisions
            .iter()
            .filter(|d| d.reason == Reason::Conflict)
            .map(|d| (d.key.as_str(), d.explanation.as_str()))
            .collect(),
        decisions: plan.summary(),
    };
    serde_json::to_writer_pretty(&mut *out, &json)?;
    writeln!(out)
}

pub fn write_text(
    ws: &Workspace,
    report: &ScanReport,
    plan: &Plan,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let (key, dim, warn, bad) = (paint(KEY), paint(DIM), paint(WARN), paint(BAD));
    let mut by_target: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for (d, c) in plan.changes() {
        by_target.entry(c.source.as_str()).or_default().push((d, c));
    }
    for (target, changes) in &by_target {
        writeln!(
            out,
            "{key}{target}{key:#}: {}",
            output::count(changes.len(), "change")
        )?;
        for (d, c) in changes {
            writeln!(
                out,
                "  {}  {} -> {}  {dim}({}, from {}; rule {}){dim:#}",
                d.key,
                c.from.as_ref().map_or("(none)", |v| v.status.as_str()),
                c.to.status,
                c.reason.as_str(),
                c.origin,
                d.rule
            )?;
        }
    }
    let held: Vec<_> = plan
        .decisions
        .iter()
        .flat_map(|d| d.holds.iter().map(move |h| (d, h)))
        .filter(|(_, h)| h.reason != Reason::NotInSource)
        .collect();
    if !held.is_empty() {
        writeln!(
            out,
            "{warn}held back{warn:#}: {}",
            output::count(held.len(), "item")
        )?;
        for (d, h) in &held {
            writeln!(
                out,
                "  {}  {}  {}: {}",
                d.key,
                h.source,
                h.reason.as_str(),
                h.detail
            )?;
        }
    }
    let conflicts: Vec<_> = plan
        .decisions
        .iter()
        .filter(|d| {
            matches!(
                d.reason,
                Reason::Conflict | Reason::OwnerMissing | Reason::OwnerUnknown
            )
        })
        .collect();
    if !conflicts.is_empty() {
        writeln!(
            out,
            "{bad}not decided{bad:#}: {}",
            output::count(conflicts.len(), "item")
        )?;
        for d in conflicts {
            writeln!(out, "  {}  {}: {}", d.key, d.reason.as_str(), d.explanation)?;
        }
    }
    output::write_warnings(out, ws, &report.warnings)?;
    let summary: Vec<String> = plan
        .summary()
        .iter()
        .map(|(reason, n)| format!("{} {n}", reason.as_str()))
        .collect();
    let changes = plan.changes().count();
    let changed_items = plan
        .decisions
        .iter()
        .filter(|d| !d.changes.is_empty())
        .count();
    writeln!(
        out,
        "{} planned in {}, {} held back; {} decided: {}",
        output::count(changes, "change"),
        output::count(changed_items, "item"),
        held.len(),
        output::count(plan.decisions.len(), "item"),
        if summary.is_empty() {
            "none".to_string()
        } else {
            summary.join(", ")
        }
    )
}
