//! Planning: read every source (and the hub, and the trackers the rules
//! name), decide every item, and keep what the plan was made from. `diff`
//! shows a plan, `sync` applies one, `explain` and `status` look into one.

use crate::Outcome;
use crate::gates::{GateOptions, RepoGate, gate_of, gate_repos};
use crate::hub::{self, Failure};
use concord_engine::{Plan, Planner, Reason};
use concord_model::{Observation, StatusReading};
use concord_store::{Base, HubValue};
use concord_workspace::{EngineItems, HubStatus, Known, ScanReport, Workspace, scan_limited};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

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
    /// Which items were planned.
    pub scope: Scope,
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

impl Scope {
    /// What was planned, as the reports say it: `all`, or `changed since
    /// journal entry N, and M items left open`.
    pub fn describe(&self) -> String {
        match self {
            Scope::All => "all".into(),
            Scope::ChangedSince { journal, open } => format!(
                "changed since journal entry {journal}, and {} left open",
                crate::count(open.len(), "item")
            ),
        }
    }
}

/// Items decided at once: enough to keep both cores busy, few enough that
/// their readings stay a few megabytes.
const PLAN_CHUNK: usize = 4096;

/// Scan, record the observations, read the hub's values and bases, decide.
/// Sources in `limits` read only the listed (changed) files; their other
/// items come from the observations the hub recorded last time.
pub fn plan_workspace<'a>(
    ws: &Workspace,
    run: impl Into<hub::RunName<'a>>,
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
    let run = run.into();
    let decided = if limits.is_empty() {
        // Every source read in full: the hub read below (values, bases,
        // replica bases, the journal's newest id) takes nothing the
        // recording writes (observations, warnings, the run, read marks;
        // no journal entry), and deciding is pure. So the two
        // run side by side, the recording on a thread of its own (a first
        // sync of 100,000 items spent 0.5 s recording, then 0.3 s deciding,
        // one core idle). Nothing is written anywhere before both end, and
        // a recording that failed fails the run as before.
        // The hub made and migrated first, once: two first openings at
        // once would race to create it (SQLite: "database is locked").
        hub::block_on(async {
            let store = hub::open(ws).await?;
            store.close().await;
            Ok::<_, Failure>(())
        })??;
        let (recorded, decided) = std::thread::scope(|threads| {
            let recording = threads.spawn(|| record(ws, run, &report, limits));
            let decided = read_hub(ws, gates, limits, focus.as_deref())
                .and_then(|hub| decide(ws, gates, &report, hub, strict));
            let recorded = recording
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (recorded, decided)
        });
        recorded?;
        crate::timings::phase("observations recorded (while deciding)");
        decided?
    } else {
        record(ws, run, &report, limits)?;
        crate::timings::phase("observations recorded");
        let mut hub = read_hub(ws, gates, limits, focus.as_deref())?;
        let (observations, warnings) = std::mem::take(&mut hub.recorded);
        add_recorded(ws, &mut report, limits, &observations);
        add_recorded_warnings(ws, &mut report, limits, warnings);
        decide(ws, gates, &report, hub, strict)?
    };
    Ok(Planned {
        report,
        plan: decided.plan,
        hub_values: decided.hub.values,
        bases: decided.hub.bases,
        journal_at_read: decided.hub.journal_at_read,
        trackers: decided.trackers,
        own_bases: decided.hub.own_bases,
        scope: scope.clone(),
    })
}

/// What a run reads of the hub before it decides.
struct HubRead {
    /// The journal's newest entry, read before the values.
    journal_at_read: i64,
    values: Vec<HubValue>,
    bases: Vec<Base>,
    /// The recorded observations and warnings of the files an incremental
    /// read did not read again (none when every source was read in full).
    recorded: (
        Vec<concord_store::ObservationRecord>,
        Vec<concord_model::Warning>,
    ),
    own_bases: crate::replicas::OwnBases,
}

/// The hub's values, bases and replica bases (of the `focus` items only,
/// when given), and what it recorded of the files `limits` did not re-read.
fn read_hub(
    ws: &Workspace,
    gates: &BTreeMap<String, RepoGate>,
    limits: &HashMap<usize, BTreeSet<String>>,
    focus: Option<&[String]>,
) -> Result<HubRead, Failure> {
    let hub = hub::block_on(async {
        let store = hub::open(ws).await?;
        // Before the values: whatever changes after them is journaled later.
        let journal_at_read = store.journal_high_water().await;
        // Three independent reads on three pooled connections: SQLite's
        // worker threads (or the server) run them side by side.
        let (values, bases, recorded) = match focus {
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
        let own_bases = crate::replicas::load(ws, &store, gates, &bases, focus).await;
        let warnings = if limits.is_empty() {
            Ok(Vec::new())
        } else {
            store.scan_warnings().await
        };
        store.close().await;
        Ok::<_, Failure>(HubRead {
            journal_at_read: journal_at_read?,
            values: values?,
            bases,
            recorded: (recorded?, warnings?),
            own_bases: own_bases?,
        })
    })??;
    crate::timings::phase("hub loaded");
    Ok(hub)
}

/// A plan and what it was made from, but the scan.
struct Decided {
    plan: Plan,
    hub: HubRead,
    trackers: Vec<crate::trackers::TrackerRead>,
}

/// Read the trackers the rules name and decide every item from the scan
/// `report`, the hub as read and the trackers.
fn decide(
    ws: &Workspace,
    gates: &BTreeMap<String, RepoGate>,
    report: &ScanReport,
    mut read: HubRead,
    strict: bool,
) -> Result<Decided, Failure> {
    let hub: Vec<HubStatus<'_>> = read
        .values
        .iter()
        .filter(|v| v.field == "status")
        .map(|v| HubStatus {
            key: &v.key,
            status: v.value.as_deref(),
        })
        .collect();
    let base_values: HashMap<(String, String), String> = read
        .bases
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
    let shared: HashMap<(&str, &str), &Base> = read
        .bases
        .iter()
        .filter(|b| b.field == "status")
        .map(|b| ((b.rule.as_str(), b.key.as_str()), b))
        .collect();
    crate::replicas::find_copies(ws, gates, &mut read.own_bases, &observations, &shared);
    let own_bases = &read.own_bases;
    let own_base = |rule: &str, obs: &Observation| {
        own_bases.view(
            gates,
            &obs.repo,
            (rule, &obs.source, &obs.key),
            shared.get(&(rule, obs.key.as_str())).copied(),
        )
    };
    // A chunk of items at a time: their readings are made, decided and
    // dropped before the next chunk's are made.
    let items = EngineItems::gather(ws, &observations, &hub);
    let mut planner = Planner::with_capacity(items.len());
    let gate = gate_of(gates);
    let known = Known {
        bases: &base_values,
        gate: &gate,
        own_base: &own_base,
    };
    items.for_each_chunk(ws, known, PLAN_CHUNK, |rule, inputs| {
        planner.decide(rule, inputs)
    });
    drop(shared);
    let mut plan = planner.finish();
    mark_unread(ws, &mut plan, &trackers);
    crate::timings::phase("engine planned");
    drop(hub);
    Ok(Decided {
        plan,
        hub: read,
        trackers,
    })
}

/// A tracker this run could not read holds unknown values: every item of
/// a rule that names it says so (a `SOURCE_UNREAD` hold, and in place of
/// `IN_SYNC`, which nobody can vouch for). Nothing is written to it, and
/// nothing else about the decision changes (a sync still writes the other
/// sources; the bases do not move, see `write_trackers`).
fn mark_unread(ws: &Workspace, plan: &mut Plan, trackers: &[crate::trackers::TrackerRead]) {
    for read in trackers {
        let Some(unread) = &read.unread else {
            continue;
        };
        let name = &ws.trackers[read.index].name;
        let rules: BTreeSet<&str> = ws
            .rules
            .iter()
            .filter(|r| r.sources.contains(name))
            .map(|r| r.name.as_str())
            .collect();
        for decision in &mut plan.decisions {
            if !rules.contains(decision.rule.as_str()) {
                continue;
            }
            decision.changes.retain(|c| &c.source != name);
            decision.holds.retain(|h| &h.source != name);
            decision.holds.push(concord_engine::Hold {
                source: name.clone(),
                reason: Reason::SourceUnread,
                detail: format!("its value is unknown: {}", unread.message),
            });
            if decision.reason == Reason::InSync {
                decision.reason = Reason::SourceUnread;
                decision.explanation = format!(
                    "unknown: {name} was not read, so whether it agrees cannot be told ({})",
                    unread.message
                );
            }
        }
    }
}

/// The warnings of the files an incremental read did not read again, as
/// the hub recorded them when it last did: every run reports the current
/// warnings of every source.
fn add_recorded_warnings(
    ws: &Workspace,
    report: &mut ScanReport,
    limits: &HashMap<usize, BTreeSet<String>>,
    recorded: Vec<concord_model::Warning>,
) {
    let unchanged = |w: &concord_model::Warning| {
        ws.sources
            .iter()
            .position(|s| s.name == w.source)
            .and_then(|index| limits.get(&index))
            .is_some_and(|changed| {
                // "No file matched" no longer holds once a file changed.
                let stale = w.code == concord_model::WarningCode::NoFiles && !changed.is_empty();
                !stale && !changed.contains(&w.path)
            })
    };
    report
        .warnings
        .extend(recorded.into_iter().filter(unchanged));
    report.warnings.sort_by(|a, b| {
        (&a.source, &a.path, a.line, a.code).cmp(&(&b.source, &b.path, b.line, b.code))
    });
}

/// The unchanged files of incrementally read sources, as the hub
/// recorded them last time, join what was read.
fn add_recorded(
    ws: &Workspace,
    report: &mut ScanReport,
    limits: &HashMap<usize, BTreeSet<String>>,
    recorded: &[concord_store::ObservationRecord],
) {
    let mut recorded_by_source: HashMap<&str, Vec<&concord_store::ObservationRecord>> =
        HashMap::new();
    for record in recorded {
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

/// Record a scan's observations in the hub. A hub that cannot be written
/// turns the run into a partial failure; the scan output still stands.
pub fn record<'a>(
    ws: &Workspace,
    run: impl Into<hub::RunName<'a>>,
    report: &ScanReport,
    limits: &HashMap<usize, BTreeSet<String>>,
) -> Result<(), Failure> {
    hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = hub::record_scan(&store, ws, run.into(), report, limits).await;
        store.close().await;
        result
    })?
    .map(|_| ())
    .map_err(|mut failure| {
        failure.message = format!("observations not recorded in the hub: {}", failure.message);
        if failure.outcome == Outcome::Findings {
            failure.outcome = Outcome::PartialFailure;
        }
        failure
    })
}

/// Whether the plan holds an item back or leaves one undecided (what makes
/// a sync exit 1).
pub fn has_open(plan: &Plan) -> bool {
    plan.decisions.iter().any(|d| {
        d.holds
            .iter()
            .any(|h| !matches!(h.reason, Reason::NotInSource | Reason::SourceUnread))
            || matches!(
                d.reason,
                Reason::Conflict
                    | Reason::OwnerMissing
                    | Reason::OwnerUnknown
                    | Reason::UnknownStatus
            )
    })
}
