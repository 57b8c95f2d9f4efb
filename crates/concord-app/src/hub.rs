//! Opening the hub from the workspace, and the facts every hub write
//! records: who, when, and in which run.

use crate::Outcome;
use concord_model::{Observation, Warning, WarningCode};
use concord_store::{ObservationRecord, RunRecord, Store, StoreError, now_rfc3339};
use concord_workspace::{ScanReport, SourceScan, Workspace};
use std::collections::{BTreeSet, HashMap};

/// A user-facing failure with its exit code.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
pub struct Failure {
    pub message: String,
    #[help]
    pub help: Option<String>,
    pub outcome: Outcome,
}

impl Failure {
    pub fn usage(message: impl Into<String>, help: Option<String>) -> Self {
        Self {
            message: message.into(),
            help,
            outcome: Outcome::ConfigError,
        }
    }

    /// The caller asked the work to stop (see [`crate::Progress::cancelled`])
    /// and it did, at a point where nothing was half-written: `before`
    /// names the step it did not start.
    pub fn cancelled(before: &str) -> Self {
        Self {
            message: format!("{CANCELLED} before {before}: nothing of it was written"),
            help: Some("run it again when you want it done".into()),
            outcome: Outcome::PartialFailure,
        }
    }

    /// Whether this is the failure of work that stopped because it was asked to.
    pub fn is_cancellation(&self) -> bool {
        self.outcome == Outcome::PartialFailure && self.message.starts_with(CANCELLED)
    }
}

/// How the message of a [`Failure::cancelled`] begins.
const CANCELLED: &str = "cancelled";

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        let (outcome, help) = match &error {
            StoreError::UnsupportedUrl(_) => (
                Outcome::ConfigError,
                Some("set [hub] url in concord.toml or CONCORD_HUB_URL".to_string()),
            ),
            StoreError::Unavailable { .. } => (
                Outcome::ConfigError,
                Some("is the database running and the URL right? Nothing was written.".into()),
            ),
            StoreError::NewerSchema { .. } => (Outcome::ConfigError, None),
            StoreError::Database(e) if e.to_string().contains("readonly") => (
                Outcome::ConfigError,
                Some("the hub file is read-only; nothing was written".into()),
            ),
            StoreError::Import(_) => (Outcome::ConfigError, None),
            e if e.is_disk_full() => (
                Outcome::PartialFailure,
                Some(
                    "the disk that holds the hub is full: the write that failed recorded nothing \
                     (what earlier steps of this run recorded is whole). Free space, then run the \
                     command again; it picks up where this one stopped"
                        .into(),
                ),
            ),
            _ => (Outcome::PartialFailure, None),
        };
        Self {
            message: error.to_string(),
            help,
            outcome,
        }
    }
}

/// Hub calls are async; the use cases are not (git, rayon, files). They
/// run the hub's futures on one runtime per process, made on first use,
/// or on the caller's runtime when called from one of its blocking threads
/// (`concord serve` runs use cases with `spawn_blocking`).
pub fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, Failure> {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        return Ok(handle.block_on(future));
    }
    Ok(runtime()?.block_on(future))
}

fn runtime() -> Result<&'static tokio::runtime::Runtime, Failure> {
    static RUNTIME: std::sync::OnceLock<Result<tokio::runtime::Runtime, String>> =
        std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            // Two workers: the hub's pools do their I/O there while a use
            // case blocks on one of its futures.
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("concord-hub")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Failure {
            message: format!("cannot start the async runtime: {e}"),
            help: None,
            outcome: Outcome::PartialFailure,
        })
}

pub async fn open(ws: &Workspace) -> Result<Store, Failure> {
    if ws.hub.create_if_missing {
        Ok(Store::open(&ws.hub.url, &ws.root).await?)
    } else {
        Ok(Store::open_existing_or_empty(&ws.hub.url, &ws.root).await?)
    }
}

/// Open the hub, run `work` on it, close it: one call for the common case.
pub fn with_store<T>(
    ws: &Workspace,
    work: impl AsyncFnOnce(&Store) -> Result<T, concord_store::StoreError>,
) -> Result<T, Failure> {
    block_on(async {
        let store = open(ws).await?;
        let result = work(&store).await;
        store.close().await;
        Ok::<_, Failure>(result?)
    })?
}

/// Open the hub, hand it to `work` (a use case that takes the store),
/// close it. Not to be called from inside [`block_on`].
pub fn using_store<T>(
    ws: &Workspace,
    work: impl FnOnce(&Store) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let store = block_on(open(ws))??;
    let result = work(&store);
    block_on(store.close())?;
    result
}

/// `[hub] actor`, else `CONCORD_ACTOR`, else `user@host`.
pub fn actor(ws: &Workspace) -> String {
    if let Some(actor) = &ws.hub.actor {
        return actor.clone();
    }
    if let Ok(actor) = std::env::var("CONCORD_ACTOR")
        && !actor.is_empty()
    {
        return actor;
    }
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("{user}@{}", hostname())
}

/// This machine's name, `localhost` when it cannot be read.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Sortable, unique enough across machines: time, then randomness.
pub fn new_run_id() -> String {
    let now = now_rfc3339();
    let compact: String = now.chars().filter(char::is_ascii_digit).take(17).collect();
    format!("{compact}-{:08x}", fastrand::u32(..))
}

/// How a recorded run is named: the command, and the id and actor its
/// caller chose (`concord serve` names its jobs), if any.
#[derive(Debug, Clone, Copy)]
pub struct RunName<'a> {
    pub command: &'a str,
    pub id: Option<&'a str>,
    pub actor: Option<&'a str>,
}

impl<'a> From<&'a str> for RunName<'a> {
    fn from(command: &'a str) -> Self {
        RunName {
            command,
            id: None,
            actor: None,
        }
    }
}

/// Record a run's observations and the run itself. Sources in `limits`
/// were read only at those paths: their other rows stay; every other
/// source was read in full: its rows this run did not see are forgotten
/// (items that are gone must not linger). Only readings that differ from
/// the recorded ones are written, and the files they come from are kept
/// for the next incremental read to re-read ([`crate::recorded`]).
pub async fn record_scan(
    store: &Store,
    ws: &Workspace,
    run: RunName<'_>,
    report: &ScanReport,
    limits: &HashMap<usize, BTreeSet<String>>,
) -> Result<String, Failure> {
    let items = report.observations().count();
    let summary = format!(
        "{} sources, {items} items, {} warnings",
        report.sources.len(),
        report.warnings.len()
    );
    let run_id = run.id.map_or_else(new_run_id, str::to_string);
    let started = now_rfc3339();
    store
        .start_run(&RunRecord {
            id: run_id.clone(),
            command: run.command.into(),
            actor: run.actor.map_or_else(|| actor(ws), str::to_string),
            started_at: started.clone(),
            finished_at: None,
            outcome: None,
            summary: None,
        })
        .await?;
    // A source at a time: its records are made, then written with the
    // next sources' once there are enough of them, and dropped (a first
    // sync records every item; holding every record at once cost 55 MB at
    // the run's peak, and a transaction per source cost PostgreSQL 2 s at
    // 100,000 items). A file that could not be read says nothing about its
    // items: they are unknown, not gone, so their recorded observations
    // stay.
    let unread = unread_sources(report);
    // A source's observations are its scan's: nothing is grouped for the
    // sources nothing was re-read for (a run after a sync skips them all).
    let read: HashMap<usize, &SourceScan> = report.sources.iter().map(|s| (s.source, s)).collect();
    let mut batch = ReadingWrites::default();
    for (index, source) in ws.sources.iter().enumerate() {
        let limit = limits.get(&index);
        if limit.is_some_and(BTreeSet::is_empty) {
            continue;
        }
        let now: Vec<&Observation> = read
            .get(&index)
            .map(|scan| scan.observations.iter().collect())
            .unwrap_or_default();
        let forget_missing = !unread.contains(source.name.as_str());
        let writes = readings_to_write(
            store,
            source,
            limit,
            now,
            forget_missing,
            (&run_id, &started),
        )
        .await?;
        batch.upsert.extend(writes.upsert);
        batch.forget.extend(writes.forget);
        batch.changed.extend(writes.changed);
        if batch.upsert.len() >= RECORD_ROWS {
            std::mem::take(&mut batch).write(store).await?;
        }
    }
    batch.write(store).await?;
    forget_other_replicas_positions(store, ws, report, limits).await?;
    record_warnings(store, ws, report, limits).await?;
    store
        .finish_run(&run_id, &now_rfc3339(), "recorded", &summary)
        .await?;
    Ok(run_id)
}

/// Observations written in one go when recording a scan.
const RECORD_ROWS: usize = 20_000;

/// What a run's readings change in the record, for one source or a batch
/// of them.
#[derive(Default)]
struct ReadingWrites {
    upsert: Vec<ObservationRecord>,
    /// (source, items no longer read)
    forget: Vec<(String, Vec<String>)>,
    /// (source, files whose recorded readings change)
    changed: Vec<(String, BTreeSet<String>)>,
}

impl ReadingWrites {
    /// Into the hub, the files first: a run stopped between the two then
    /// leaves a file to re-read, never a record that silently differs
    /// from it.
    async fn write(self, store: &Store) -> Result<(), Failure> {
        crate::sync::remember_rereads(store, &self.changed).await?;
        for (source, keys) in &self.forget {
            store.forget_observations_of(source, keys).await?;
        }
        if !self.upsert.is_empty() {
            store.record_observations(&self.upsert).await?;
        }
        Ok(())
    }
}

/// Compare a read source's readings (`now`) with the recorded ones (of
/// the re-read files only, for a source read incrementally: `limit`).
async fn readings_to_write(
    store: &Store,
    source: &concord_workspace::Source,
    limit: Option<&BTreeSet<String>>,
    now: Vec<&Observation>,
    forget_missing: bool,
    (run_id, started): (&str, &str),
) -> Result<ReadingWrites, Failure> {
    let now: Vec<ObservationRecord> = now
        .into_iter()
        .filter(|o| limit.is_none_or(|paths| paths.contains(&*o.path)))
        .map(|o| observation_record(o, run_id, started))
        .collect();
    let paths: Option<Vec<String>> = limit.map(|p| p.iter().cloned().collect());
    let recorded = store
        .observations_of_source(&source.name, paths.as_deref())
        .await?;
    let out = crate::recorded::reconcile(recorded, now, forget_missing);
    let mut writes = ReadingWrites::default();
    if !out.forget.is_empty() {
        writes.forget.push((source.name.clone(), out.forget));
    }
    writes.upsert = out.upsert;
    if !out.changed_paths.is_empty() {
        writes
            .changed
            .push((source.name.clone(), out.changed_paths));
    }
    Ok(writes)
}

fn observation_record(o: &Observation, run_id: &str, at: &str) -> ObservationRecord {
    ObservationRecord {
        source: o.source.to_string(),
        key: o.key.clone(),
        run_id: run_id.to_string(),
        status: o
            .status
            .as_ref()
            .and_then(|s| s.canonical.as_ref().map(|c| c.to_string())),
        raw_status: o.status.as_ref().map(|s| s.raw.clone()),
        repo: o.repo.to_string(),
        path: o.path.to_string(),
        line: i64::from(o.line),
        observed_at: at.to_string(),
        owner: o.owner.clone(),
        pinned: o.status.as_ref().and_then(|s| s.pinned.clone()),
    }
}

/// Remember each read file's warnings, so a run that reads only changed
/// files still reports those of the others (`plan::add_recorded`).
async fn record_warnings(
    store: &Store,
    ws: &Workspace,
    report: &ScanReport,
    limits: &HashMap<usize, BTreeSet<String>>,
) -> Result<(), Failure> {
    for (index, source) in ws.sources.iter().enumerate() {
        let of_source = report.warnings.iter().filter(|w| w.source == source.name);
        match limits.get(&index) {
            // Nothing re-read: what the hub remembers stands.
            Some(paths) if paths.is_empty() => {}
            Some(paths) => {
                let paths: Vec<String> = paths.iter().cloned().collect();
                let read: Vec<&Warning> = of_source.filter(|w| paths.contains(&w.path)).collect();
                store
                    .replace_scan_warnings(&source.name, Some(&paths), &read)
                    .await?;
            }
            None => {
                let read: Vec<&Warning> = of_source.collect();
                store
                    .replace_scan_warnings(&source.name, None, &read)
                    .await?;
            }
        }
    }
    Ok(())
}

/// A source read in full here replaced the observations the hub recorded:
/// another checkout's read position no longer describes them, so it is
/// cleared (that checkout's next sync reads in full).
async fn forget_other_replicas_positions(
    store: &Store,
    ws: &Workspace,
    report: &ScanReport,
    limits: &HashMap<usize, BTreeSet<String>>,
) -> Result<(), Failure> {
    let unread = unread_sources(report);
    let mut replicas: HashMap<usize, Option<String>> = HashMap::new();
    for (index, source) in ws.sources.iter().enumerate() {
        if limits.contains_key(&index) || unread.contains(source.name.as_str()) {
            continue;
        }
        let Some(mark) = store.watermark(&source.name).await? else {
            continue;
        };
        if mark.position.is_empty() {
            continue;
        }
        let replica = replicas.entry(source.repo).or_insert_with(|| {
            concord_git::Repo::open(&ws.repo(source).root)
                .and_then(|git| git.replica_id())
                .ok()
                .map(|r| r.id)
        });
        if crate::gates::own_position(&mark.position, replica.as_deref()).is_none() {
            store
                .set_watermark(&concord_store::Watermark {
                    source: source.name.clone(),
                    position: String::new(),
                    updated_at: now_rfc3339(),
                })
                .await?;
        }
    }
    Ok(())
}

/// What the hub last recorded of `key` in every source; when it has
/// never seen the key, the workspace is read (and recorded) first.
pub async fn observations_of(
    store: &Store,
    ws: &Workspace,
    key: &str,
    command: &str,
) -> Result<Vec<ObservationRecord>, Failure> {
    let observed = store.observations(Some(key)).await?;
    if !observed.is_empty() {
        return Ok(observed);
    }
    let report = concord_workspace::scan(ws);
    record_scan(store, ws, command.into(), &report, &HashMap::new()).await?;
    Ok(store.observations(Some(key)).await?)
}

/// Sources with a file (or repo) that could not be read in this scan.
pub fn unread_sources(report: &ScanReport) -> BTreeSet<&str> {
    report
        .warnings
        .iter()
        .filter(|w| {
            matches!(
                w.code,
                WarningCode::UnreadableFile | WarningCode::MissingRepo
            )
        })
        .map(|w| w.source.as_str())
        .collect()
}
