//! `summary`: the control room's report. Per repo and source, items by
//! status; the items that drift and why; check findings (the latest
//! snapshot and the series); the last sync and mirror; recent runs; and the
//! newest journal entries. Computed from a scan of the workspace plus the
//! hub, so `concord summary`, `GET /api/v1/summary` and
//! `concord --hub URL summary` show the same report.
//!
//! Why a scan and not only the hub: the control room's item count must be
//! the one `concord status` gives, and an item a source holds that no sync
//! has recorded yet is still an item (listed as not yet in the hub). The
//! scan is what `status` does too, it reads only the working trees, and the
//! server caches the result for a couple of seconds, so it stays cheap.
//! Tracker items are not read here (that needs the network): an item only a
//! tracker holds counts once a sync has recorded it in the hub.

pub mod listing;
pub mod trains;

use crate::hub::{self, Failure};
use crate::mirror::MirrorHealth;
use concord_model::{Observation, StatusReading};
use concord_store::{CheckSnapshot, JournalEntry, RunRecord, Store, Watermark};
use concord_workspace::status::compare;
use concord_workspace::{Workspace, scan};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The shape of [`Summary`]; it changes when a field changes meaning.
pub const VERSION: u32 = 1;
/// Drifting items listed (all are counted).
pub const DRIFT_LISTED: usize = 50;
/// Recent runs listed.
pub const RUNS_LISTED: i64 = 20;
/// Check snapshots in the findings series.
pub const SNAPSHOTS_LISTED: usize = 30;
/// Journal entries listed unless asked otherwise.
pub const EVENTS_LISTED: i64 = 20;
/// Items not yet in the hub listed (all are counted).
pub const NOT_IN_HUB_LISTED: usize = 50;

// The hub watermarks of the last converged sync and of each mirror rule's
// last run, as `sync` and `mirror` write them.
use crate::mirror::RUN_MARK as MIRROR_RUN_MARK;
use crate::sync::{CONFIG_MARK, repo_mark};

#[derive(Debug, Clone)]
pub struct SummaryOptions {
    /// How many journal entries to list.
    pub events: i64,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        SummaryOptions {
            events: EVENTS_LISTED,
        }
    }
}

/// The report. Job-queue state (`concord serve`'s jobs and schedule) is
/// not part of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// [`VERSION`].
    pub version: u32,
    /// The workspace's folder name.
    pub workspace: String,
    /// Items in any source or the hub.
    pub items: usize,
    /// Items whose sources (the hub included) disagree.
    pub drifting: usize,
    /// Per repo and source, as scanned.
    pub sources: Vec<SourceCounts>,
    /// Per source by name, the hub (`hub`) last: the control room's table.
    pub by_source: Vec<StatusCounts>,
    /// The first [`DRIFT_LISTED`] drifting items, by key.
    pub drift: Vec<Drift>,
    /// The latest check snapshot.
    pub findings: Option<Findings>,
    /// The newest [`SNAPSHOTS_LISTED`] check snapshots, oldest first.
    pub findings_series: Vec<SnapshotPoint>,
    pub last_sync: Option<LastRun>,
    /// The newest `concord mirror` run of any rule (not a dry run).
    pub last_mirror: Option<LastMirror>,
    /// The newest [`RUNS_LISTED`] runs, newest first.
    pub runs: Vec<RunView>,
    /// The newest journal entries, newest first.
    pub events: Vec<Event>,
    /// Items some source holds that the hub has not recorded yet (they
    /// are counted in `items`).
    #[serde(default)]
    pub not_in_hub: usize,
    /// The first [`NOT_IN_HUB_LISTED`] of them, by key.
    #[serde(default)]
    pub not_in_hub_items: Vec<NotInHub>,
    /// The workflows in configuration order: the control room groups
    /// status columns under them.
    #[serde(default)]
    pub workflows: Vec<WorkflowView>,
    /// Each `[[mirror]]` rule's documents as they stand now.
    #[serde(default)]
    pub mirrors: Vec<MirrorHealth>,
    /// The newest release trains, newest first.
    #[serde(default)]
    pub trains: Vec<trains::TrainView>,
    /// Per repo, what the trains' journals record as live.
    #[serde(default)]
    pub live: Vec<trains::Live>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NotInHub {
    pub key: String,
    /// Source -> its status (canonical, else its own word).
    pub values: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkflowView {
    pub name: String,
    /// Canonical statuses in rank order, as configured.
    pub statuses: Vec<String>,
    /// The sources that use it.
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SourceCounts {
    pub repo: String,
    pub source: String,
    /// Canonical status (or `word (unknown)`, or `(none)`) -> items.
    pub by_status: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StatusCounts {
    pub source: String,
    pub by_status: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Drift {
    pub key: String,
    /// The hub's value, if it has one.
    pub hub: Option<String>,
    /// Source -> its status (canonical, else its own word).
    pub values: BTreeMap<String, Option<String>>,
    /// The reason of the item's last journal entry.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Findings {
    pub snapshot: i64,
    pub taken_at: String,
    pub commit: Option<String>,
    pub by_severity: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SnapshotPoint {
    pub snapshot: i64,
    pub taken_at: String,
    pub commit: Option<String>,
    pub actor: String,
    pub total: i64,
    pub gating: i64,
    pub by_severity: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LastRun {
    pub at: String,
    /// Each repo's HEAD when the last sync converged.
    pub commits: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LastMirror {
    pub at: String,
    pub rule: String,
    pub written: u64,
    pub reported: u64,
    pub failed: u64,
    /// The commit it made (or proposed) per repo.
    pub commits: BTreeMap<String, String>,
}

/// A recorded run, as the API and the control room show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunView {
    pub id: String,
    pub command: String,
    pub actor: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub outcome: Option<String>,
    pub duration_ms: Option<u64>,
    /// The run's summary: its JSON when it is JSON, else its text.
    pub summary: Option<serde_json::Value>,
}

impl From<&RunRecord> for RunView {
    fn from(run: &RunRecord) -> Self {
        let duration_ms = run.finished_at.as_deref().and_then(|end| {
            let start = humantime::parse_rfc3339_weak(&run.started_at).ok()?;
            let end = humantime::parse_rfc3339_weak(end).ok()?;
            end.duration_since(start)
                .ok()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        });
        RunView {
            id: run.id.clone(),
            command: run.command.clone(),
            actor: run.actor.clone(),
            started_at: run.started_at.clone(),
            finished_at: run.finished_at.clone(),
            outcome: run.outcome.clone(),
            duration_ms,
            summary: run
                .summary
                .as_deref()
                .map(|s| serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::from(s))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Event {
    pub at: String,
    pub key: String,
    /// Where it happened: the journal target, or `hub`.
    pub source: String,
    pub what: String,
    pub actor: String,
}

/// The workspace's name as reports show it: its folder's name.
pub fn workspace_name(ws: &Workspace) -> String {
    ws.root
        .file_name()
        .map_or_else(|| "workspace".into(), |n| n.to_string_lossy().into_owned())
}

/// What the summary reads from the hub.
struct HubState {
    values: Vec<Observation>,
    snapshot: Option<CheckSnapshot>,
    series: Vec<CheckSnapshot>,
    marks: BTreeMap<String, Watermark>,
    config_mark: Option<Watermark>,
    journal: Vec<JournalEntry>,
    mirror_runs: Vec<Watermark>,
    mirror_marks: Vec<Watermark>,
    runs: Vec<RunRecord>,
    trains: Vec<trains::TrainView>,
}

/// Scan the workspace and read the hub (on `store`); records nothing.
pub fn summary(
    ws: &Workspace,
    store: &Store,
    options: &SummaryOptions,
) -> Result<Summary, Failure> {
    let report = scan(ws);
    let hub = hub::block_on(read_hub(ws, store, options.events.max(0)))??;
    let mut sources = Vec::new();
    for scanned in &report.sources {
        let source = &ws.sources[scanned.source];
        sources.push(SourceCounts {
            repo: ws.repo(source).name.clone(),
            source: source.name.clone(),
            by_status: count_statuses(&scanned.observations),
        });
    }
    let mut by_source: Vec<StatusCounts> = Vec::new();
    for counts in &sources {
        match by_source.iter_mut().find(|c| c.source == counts.source) {
            Some(known) => {
                for (status, n) in &counts.by_status {
                    *known.by_status.entry(status.clone()).or_default() += n;
                }
            }
            None => by_source.push(StatusCounts {
                source: counts.source.clone(),
                by_status: counts.by_status.clone(),
            }),
        }
    }
    if !hub.values.is_empty() {
        by_source.push(StatusCounts {
            source: concord_workspace::HUB_SOURCE.to_string(),
            by_status: count_statuses(&hub.values),
        });
    }
    // Drift counts the hub's own values too, as `status` shows them.
    let views = compare(report.observations().chain(hub.values.iter()), &[]);
    let drifting: Vec<_> = views.iter().filter(|v| !v.agree).collect();
    let keys: Vec<String> = drifting
        .iter()
        .take(DRIFT_LISTED)
        .map(|v| v.key.to_string())
        .collect();
    let reasons: BTreeMap<String, String> = hub::block_on(store.last_reasons(&keys))??
        .into_iter()
        .collect();
    let is_hub = |o: &&Observation| &*o.source == concord_workspace::HUB_SOURCE;
    let source_values = |readings: &[&Observation]| -> BTreeMap<String, Option<String>> {
        readings
            .iter()
            .filter(|o| !is_hub(o))
            .map(|o| (o.source.to_string(), word_of(o)))
            .collect()
    };
    let drift = drifting
        .iter()
        .take(DRIFT_LISTED)
        .map(|view| Drift {
            key: view.key.to_string(),
            hub: view
                .readings
                .iter()
                .find(|o| is_hub(o))
                .and_then(|o| word_of(o)),
            values: source_values(&view.readings),
            reason: reasons.get(view.key).cloned(),
        })
        .collect();
    let not_in_hub: Vec<_> = views
        .iter()
        .filter(|v| !v.readings.iter().any(is_hub))
        .collect();
    let live = trains::live_of(&hub.trains);
    let mut events: Vec<Event> = hub.journal.into_iter().map(event_of).collect();
    events.sort_by(|a, b| b.at.cmp(&a.at));
    Ok(Summary {
        version: VERSION,
        workspace: workspace_name(ws),
        items: views.len(),
        drifting: drifting.len(),
        sources,
        by_source,
        drift,
        findings: hub.snapshot.map(|s| Findings {
            by_severity: severities(&s.findings),
            snapshot: s.id,
            taken_at: s.taken_at,
            commit: s.commit_id,
        }),
        findings_series: hub.series.iter().map(snapshot_point).collect(),
        last_sync: last_sync(hub.config_mark, hub.marks),
        last_mirror: last_mirror(hub.mirror_runs),
        runs: hub.runs.iter().map(RunView::from).collect(),
        events,
        not_in_hub: not_in_hub.len(),
        not_in_hub_items: not_in_hub
            .iter()
            .take(NOT_IN_HUB_LISTED)
            .map(|view| NotInHub {
                key: view.key.to_string(),
                values: source_values(&view.readings),
            })
            .collect(),
        workflows: workflows(ws),
        mirrors: crate::mirror::health(ws, hub.mirror_marks),
        trains: hub.trains,
        live,
    })
}

async fn read_hub(
    ws: &Workspace,
    store: &Store,
    events: i64,
) -> Result<HubState, concord_store::StoreError> {
    let snapshot = store.latest_check_snapshot().await?;
    let mut series = Vec::new();
    for cheap in store
        .check_snapshots()
        .await?
        .iter()
        .rev()
        .take(SNAPSHOTS_LISTED)
    {
        if let Some(full) = store.check_snapshot(cheap.id).await? {
            series.push(full);
        }
    }
    series.reverse();
    let mut marks = BTreeMap::new();
    for repo in &ws.repos {
        if let Some(found) = store.watermark(&repo_mark(&repo.name)).await?
            && !found.position.is_empty()
        {
            marks.insert(repo.name.clone(), found);
        }
    }
    Ok(HubState {
        values: hub_readings(store.hub_statuses().await?),
        snapshot,
        series,
        marks,
        config_mark: store.watermark(CONFIG_MARK).await?,
        journal: store.recent_journal(events).await?,
        mirror_runs: store.watermarks_with_prefix(MIRROR_RUN_MARK).await?,
        mirror_marks: if ws.mirrors.is_empty() {
            Vec::new()
        } else {
            store
                .watermarks_with_prefix(crate::mirror::MARK_PREFIX)
                .await?
        },
        runs: store.recent_runs(RUNS_LISTED).await?,
        trains: read_trains(store).await?,
    })
}

/// The newest [`trains::TRAINS_LISTED`] trains with their journals.
async fn read_trains(store: &Store) -> Result<Vec<trains::TrainView>, concord_store::StoreError> {
    let mut views = Vec::new();
    for train in store
        .release_trains()
        .await?
        .iter()
        .take(trains::TRAINS_LISTED)
    {
        let steps = store.release_steps(train.id).await?;
        views.push(trains::train_view(train, &steps));
    }
    Ok(views)
}

/// The workspace's workflows and the sources using each.
fn workflows(ws: &Workspace) -> Vec<WorkflowView> {
    ws.workflows
        .iter()
        .enumerate()
        .map(|(index, workflow)| WorkflowView {
            name: workflow.name().to_string(),
            statuses: workflow
                .statuses()
                .iter()
                .map(|s| s.name.to_string())
                .collect(),
            sources: ws
                .sources
                .iter()
                .filter(|s| s.workflow == index)
                .map(|s| s.name.clone())
                .fold(Vec::new(), |mut names, name| {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                    names
                }),
        })
        .collect()
}

/// A reading's status: canonical, else the source's own word.
fn word_of(o: &Observation) -> Option<String> {
    o.status.as_ref().map(|s| {
        s.canonical
            .as_deref()
            .map_or_else(|| s.raw.clone(), str::to_string)
    })
}

/// The hub's own status values, as readings of a source named `hub`.
pub fn hub_readings(values: Vec<concord_store::HubStatus>) -> Vec<Observation> {
    let mut shared = HubStrings::default();
    values
        .into_iter()
        .enumerate()
        .map(|(index, v)| {
            // Fresh strings every few thousand items: items far apart are
            // often handled on different threads, and one string's count
            // bumped by both at once costs more than the string.
            if index % HUB_STRINGS_SHARED_BY == 0 {
                shared = HubStrings::default();
            }
            Observation {
                source: shared.source.clone(),
                repo: shared.empty.clone(),
                key: v.key,
                path: shared.empty.clone(),
                line: 0,
                status: v.value.map(|value| StatusReading {
                    canonical: Some(shared.word(&value)),
                    raw: value,
                    rank: None,
                    line: 0,
                    span: 0..0,
                    pinned: None,
                }),
                owner: None,
                fields: vec![("version".into(), v.version.to_string())],
            }
        })
        .collect()
}

/// Hub readings that share one [`HubStrings`].
const HUB_STRINGS_SHARED_BY: usize = 4096;

/// The strings a run of hub readings shares: the source's name, the empty
/// repo and path, and one string per status word (a handful name 100k
/// items).
struct HubStrings {
    source: Arc<str>,
    empty: Arc<str>,
    words: HashMap<String, Arc<str>>,
}

impl Default for HubStrings {
    fn default() -> Self {
        HubStrings {
            source: Arc::from(concord_workspace::HUB_SOURCE),
            empty: Arc::from(""),
            words: HashMap::new(),
        }
    }
}

impl HubStrings {
    fn word(&mut self, value: &str) -> Arc<str> {
        if let Some(word) = self.words.get(value) {
            return word.clone();
        }
        let word: Arc<str> = Arc::from(value);
        self.words.insert(value.to_string(), word.clone());
        word
    }
}

fn count_statuses<'a>(
    observations: impl IntoIterator<Item = &'a Observation>,
) -> BTreeMap<String, usize> {
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for obs in observations {
        let word = obs.status.as_ref().map_or("(none)".to_string(), |s| {
            s.canonical
                .as_deref()
                .map_or_else(|| format!("{} (unknown)", s.raw), str::to_string)
        });
        *by_status.entry(word).or_default() += 1;
    }
    by_status
}

/// Findings (JSON lines) by severity.
pub fn severities(findings: &str) -> BTreeMap<String, usize> {
    let mut by_severity: BTreeMap<String, usize> = BTreeMap::new();
    for line in findings.lines() {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(line) {
            let severity = value["severity"].as_str().unwrap_or("unknown").to_string();
            *by_severity.entry(severity).or_default() += 1;
        }
    }
    by_severity
}

/// A snapshot as a point of the findings series.
pub fn snapshot_point(full: &CheckSnapshot) -> SnapshotPoint {
    SnapshotPoint {
        snapshot: full.id,
        taken_at: full.taken_at.clone(),
        commit: full.commit_id.clone(),
        actor: full.actor.clone(),
        total: full.total,
        gating: full.gating,
        by_severity: severities(&full.findings),
    }
}

fn last_sync(
    config_mark: Option<Watermark>,
    marks: BTreeMap<String, Watermark>,
) -> Option<LastRun> {
    config_mark
        .filter(|m| !m.position.is_empty())
        .map(|m| LastRun {
            at: m.updated_at,
            commits: marks
                .into_iter()
                // `replica commit`: the commit is what a person looks for.
                .map(|(repo, mark)| {
                    let commit = mark.position.rsplit(' ').next().unwrap_or_default();
                    (repo, commit.to_string())
                })
                .collect(),
        })
}

fn last_mirror(runs: Vec<Watermark>) -> Option<LastMirror> {
    runs.into_iter()
        .max_by(|a, b| a.updated_at.cmp(&b.updated_at))
        .map(|mark| {
            let run: serde_json::Value = serde_json::from_str(&mark.position).unwrap_or_default();
            let count = |name: &str| run[name].as_u64().unwrap_or(0);
            LastMirror {
                rule: mark
                    .source
                    .strip_prefix(MIRROR_RUN_MARK)
                    .unwrap_or_default()
                    .to_string(),
                written: count("written"),
                reported: count("reported"),
                failed: count("failed"),
                commits: serde_json::from_value(run["commits"].clone()).unwrap_or_default(),
                at: mark.updated_at,
            }
        })
}

fn event_of(entry: JournalEntry) -> Event {
    let what = entry.what();
    Event {
        at: entry.at,
        key: entry.key,
        source: entry.target.unwrap_or_else(|| "hub".into()),
        what,
        actor: entry.actor,
    }
}
