//! The marks a sync leaves for the next run (config hash, journal
//! position, open items, repo HEADs, read positions) and how the next run
//! reads them: to skip a run where nothing changed, to read only changed
//! files, to plan only changed items.

use crate::gates::{RepoGate, own_position};
use crate::hub::{self, Failure};
use crate::plan::Scope;
use crate::sha256_hex;
use concord_store::{Store, Watermark, now_rfc3339};
use concord_workspace::Workspace;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The config hash the hub's recorded observations were read with: a
/// different config means a full read.
const READ_CONFIG_MARK: &str = "@config-read";

/// What a run that follows a sync reads and plans: per source, only the
/// files changed since that sync read it ([`incremental_limits`]), and,
/// when every source can be read that way and no tracker is in a rule
/// (a tracker changes without anything here knowing), only the items that
/// can have changed since ([`Scope::ChangedSince`]). `full` reads and plans
/// everything.
pub(crate) fn incremental_read(
    ws: &Workspace,
    gates: &BTreeMap<String, RepoGate>,
    full: bool,
) -> Result<(HashMap<usize, BTreeSet<String>>, Scope), Failure> {
    if full {
        return Ok((HashMap::new(), Scope::All));
    }
    let limits = incremental_limits(ws, gates)?;
    crate::timings::phase("changed files");
    let trackers_in_rules = ws
        .trackers
        .iter()
        .any(|t| ws.rules.iter().any(|r| r.sources.contains(&t.name)));
    let scope = match focus_marks(ws)? {
        Some((journal, open)) if limits.len() == ws.sources.len() && !trackers_in_rules => {
            Scope::ChangedSince { journal, open }
        }
        _ => Scope::All,
    };
    Ok((limits, scope))
}

/// Per source, the files to read: those changed between the source's
/// watermark (the HEAD its recorded observations were read at) and HEAD,
/// plus uncommitted ones. A source missing from the map is read in full:
/// no watermark, history rewritten, not a git repo, or the config changed.
pub(crate) fn incremental_limits(
    ws: &Workspace,
    gates: &BTreeMap<String, RepoGate>,
) -> Result<HashMap<usize, BTreeSet<String>>, Failure> {
    let Some(config) = config_hash(ws) else {
        return Ok(HashMap::new());
    };
    // Each source's watermark, if the hub's record was read with this config.
    type Rereads = HashMap<String, Option<BTreeSet<String>>>;
    let (marks, rereads): (Vec<(usize, String)>, Rereads) = hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = async {
            let mut marks = Vec::new();
            let read_with = store.watermark(READ_CONFIG_MARK).await?;
            if read_with.map(|m| m.position) != Some(config) {
                return Ok((marks, HashMap::new()));
            }
            let rereads = rereads(&store).await?;
            // Only this checkout's own watermark: another clone's commit
            // (and the observations it recorded) says nothing about here.
            for (index, source) in ws.sources.iter().enumerate() {
                let replica = gates
                    .get(&ws.repo(source).name)
                    .and_then(|g| g.replica.as_deref());
                if let Some(mark) = store.watermark(&source.name).await?
                    && let Some(commit) = own_position(&mark.position, replica)
                {
                    marks.push((index, commit.to_string()));
                }
            }
            Ok::<_, concord_store::StoreError>((marks, rereads))
        }
        .await;
        store.close().await;
        Ok::<_, Failure>(result?)
    })??;
    // Sources of one repo share its history: ask git once per (repo,
    // watermark), the repos in parallel.
    let asks: BTreeSet<(&str, &str)> = marks
        .iter()
        .map(|(index, position)| {
            (
                ws.repo(&ws.sources[*index]).name.as_str(),
                position.as_str(),
            )
        })
        .collect();
    let changed: HashMap<(&str, &str), Option<BTreeSet<String>>> = asks
        .into_par_iter()
        .map(|(repo, position)| {
            let gate = gates.get(repo);
            // Read at the HEAD the gate just saw: no commit can have
            // changed a file (three git calls saved per repo).
            if let Some(gate) = gate
                && gate.git.is_some()
                && gate.head_at_read.as_deref() == Some(position)
            {
                return ((repo, position), Some(BTreeSet::new()));
            }
            let found = gate
                .and_then(|g| g.git.as_ref())
                .and_then(|git| git.changed_since(position).ok().flatten());
            ((repo, position), found)
        })
        .collect();
    let mut limits = HashMap::new();
    for (index, position) in &marks {
        let repo = ws.repo(&ws.sources[*index]).name.as_str();
        let (Some(gate), Some(Some(files))) =
            (gates.get(repo), changed.get(&(repo, position.as_str())))
        else {
            continue;
        };
        let mut files = files.clone();
        files.extend(gate.dirty.iter().cloned());
        files.extend(gate.carry.iter().cloned());
        match rereads.get(&ws.sources[*index].name) {
            Some(Some(paths)) => files.extend(paths.iter().cloned()),
            Some(None) => continue,
            None => {}
        }
        limits.insert(*index, files);
    }
    Ok(limits)
}

/// After a sync: each git source's watermark becomes the commit whose
/// content the hub recorded: this run's own commit when it sits right on
/// the HEAD this run read (its files were re-read after writing), else that
/// HEAD. Only when that is exact (no dirty file, repo writable); otherwise
/// it is cleared: the next run reads all.
pub(super) async fn record_read_positions(
    ws: &Workspace,
    store: &Store,
    gates: &BTreeMap<String, RepoGate>,
    report: &concord_workspace::ScanReport,
    read_from: &HashMap<String, String>,
) -> Result<(), Failure> {
    // A source with a file it could not read is read in full next time.
    let unread = hub::unread_sources(report);
    let now = now_rfc3339();
    // This run read every file a look recorded a reading of (they were in
    // its limits): the position below describes them again.
    let rereads = rereads(store).await?;
    // Written together, in one transaction: a commit each cost PostgreSQL
    // a WAL flush per source.
    let mut marks = Vec::new();
    for source in &ws.sources {
        let repo = ws.repo(source);
        let Some(gate) = gates.get(&repo.name) else {
            continue;
        };
        if gate.git.is_none() {
            continue;
        }
        let position = match read_from.get(&repo.name).or(gate.head_at_read.as_ref()) {
            Some(head)
                if gate.blocker.is_none()
                    && gate.dirty.is_empty()
                    && !unread.contains(source.name.as_str()) =>
            {
                gate.position(head)
            }
            _ => String::new(),
        };
        marks.push(Watermark {
            source: source.name.clone(),
            position,
            updated_at: now.clone(),
        });
        if rereads.contains_key(&source.name) {
            marks.push(Watermark {
                source: reread_mark(&source.name),
                position: String::new(),
                updated_at: now.clone(),
            });
        }
    }
    if let Some(config) = config_hash(ws) {
        marks.push(Watermark {
            source: READ_CONFIG_MARK.into(),
            position: config,
            updated_at: now,
        });
    }
    store.set_watermarks(&marks).await?;
    Ok(())
}

/// Per source, the files a run that moves no read position (`diff`,
/// `status`, `scan`, a sync that stopped half-way) recorded readings of
/// that differ from those recorded before: the recorded observations of
/// these files may no longer be what the source's read position holds, so
/// the next incremental read re-reads them ([`crate::recorded`]). A sync
/// that records a read position clears the source's mark.
const REREAD_MARK: &str = "@reread:";

fn reread_mark(source: &str) -> String {
    format!("{REREAD_MARK}{source}")
}

/// Every source's files to re-read (sources with none left out); `None`
/// for a mark that cannot be read: that source is read in full.
async fn rereads(
    store: &Store,
) -> Result<HashMap<String, Option<BTreeSet<String>>>, concord_store::StoreError> {
    let mut out = HashMap::new();
    for mark in store.watermarks_with_prefix(REREAD_MARK).await? {
        let Some(source) = mark.source.strip_prefix(REREAD_MARK) else {
            continue;
        };
        if mark.position.is_empty() {
            continue;
        }
        let paths = serde_json::from_str::<BTreeSet<String>>(&mark.position).ok();
        if paths.as_ref().is_none_or(|p| !p.is_empty()) {
            out.insert(source.to_string(), paths);
        }
    }
    Ok(out)
}

/// After a run recorded readings: remember, for each source with a read
/// position, the files whose recorded readings changed. A source without
/// one is read in full next time anyway.
pub(crate) async fn remember_rereads(
    store: &Store,
    changed: &[(String, BTreeSet<String>)],
) -> Result<(), Failure> {
    if changed.is_empty() {
        return Ok(());
    }
    let mut known = rereads(store).await?;
    // Every mark read at once and the changed ones written together: a
    // round trip per source each way cost PostgreSQL a run's worth of
    // latency after a writeback that touched every repo.
    let positioned: BTreeSet<String> = store
        .watermarks_with_prefix("")
        .await?
        .into_iter()
        .filter(|m| !m.position.is_empty())
        .map(|m| m.source)
        .collect();
    let mut marks = Vec::new();
    for (source, paths) in changed {
        if !positioned.contains(source) {
            continue;
        }
        let Some(all) = known
            .entry(source.clone())
            .or_insert_with(|| Some(BTreeSet::new()))
        else {
            // Unreadable: the source is read in full until a sync clears it.
            continue;
        };
        let before = all.len();
        all.extend(paths.iter().cloned());
        if all.len() == before {
            continue;
        }
        let position = serde_json::to_string(all).map_err(|e| Failure {
            message: format!("cannot keep the files to re-read: {e}"),
            help: None,
            outcome: crate::Outcome::PartialFailure,
        })?;
        marks.push(Watermark {
            source: reread_mark(source),
            position,
            updated_at: now_rfc3339(),
        });
    }
    if !marks.is_empty() {
        store.set_watermarks(&marks).await?;
    }
    Ok(())
}

/// Marks a sync leaves for the next: the config's hash, the hub's journal
/// entry up to which it planned with every change, the items it left open
/// (held, undecided, not applied), and, when it converged, every repo's
/// HEAD. When the config is the same and every source can be read
/// incrementally, the next run plans only the open items and those
/// journaled or in a file changed since ([`Scope::ChangedSince`](crate::plan::Scope::ChangedSince)); when
/// the hub and the HEADs did not move either and nothing was open, it has
/// nothing to do at all.
pub const CONFIG_MARK: &str = "@config";
const HUB_MARK: &str = "@hub";
const OPEN_MARK: &str = "@open";

pub fn repo_mark(repo: &str) -> String {
    format!("@repo:{repo}")
}

fn config_hash(ws: &Workspace) -> Option<String> {
    std::fs::read(&ws.config_path)
        .ok()
        .map(|bytes| sha256_hex(&bytes))
}

/// When nothing can have changed since the last converged sync: when it
/// ended, and the warnings the hub recorded (a run that reads nothing
/// reports those). One opening of the hub, every mark read at once: on
/// PostgreSQL each opening is a connection and each mark a round trip.
pub(super) fn unchanged_since_converged(
    ws: &Workspace,
    gates: &BTreeMap<String, RepoGate>,
) -> Result<Option<(String, Vec<concord_model::Warning>)>, Failure> {
    // Only git repos can say what changed; any dirty file or blocker means look.
    let mut heads = Vec::new();
    for (name, gate) in gates {
        if gate.git.is_none()
            || gate.blocker.is_some()
            || !gate.dirty.is_empty()
            || !gate.carry.is_empty()
        {
            return Ok(None);
        }
        match &gate.head_at_read {
            Some(head) => heads.push((repo_mark(name), gate.position(head))),
            None => return Ok(None),
        }
    }
    let Some(config) = config_hash(ws) else {
        return Ok(None);
    };
    hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = async {
            let marks: HashMap<String, Watermark> = store
                .watermarks_with_prefix("")
                .await?
                .into_iter()
                .map(|m| (m.source.clone(), m))
                .collect();
            let mark = |name: &str| marks.get(name).map(|m| m.position.as_str());
            if mark(CONFIG_MARK) != Some(config.as_str()) {
                return Ok(None);
            }
            let high_water = store.journal_high_water().await?.to_string();
            if mark(HUB_MARK) != Some(high_water.as_str()) || mark(OPEN_MARK) != Some("[]") {
                return Ok(None);
            }
            // A look recorded readings this sync has not read: read them.
            if !rereads(&store).await?.is_empty() {
                return Ok(None);
            }
            if heads
                .iter()
                .any(|(name, head)| mark(name) != Some(head.as_str()))
            {
                return Ok(None);
            }
            let since = marks
                .get(CONFIG_MARK)
                .map(|m| m.updated_at.clone())
                .unwrap_or_default();
            let warnings = store.scan_warnings().await?;
            Ok::<_, concord_store::StoreError>(Some((since, warnings)))
        }
        .await;
        store.close().await;
        Ok::<_, Failure>(result?)
    })?
}

/// What the last sync left for a focused plan: the journal entry it
/// planned up to and the items it left open, if it ran with this config.
fn focus_marks(ws: &Workspace) -> Result<Option<(i64, Vec<String>)>, Failure> {
    let Some(config) = config_hash(ws) else {
        return Ok(None);
    };
    hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = async {
            if store.watermark(CONFIG_MARK).await?.map(|m| m.position) != Some(config) {
                return Ok(None);
            }
            let journal = store.watermark(HUB_MARK).await?;
            let open = store.watermark(OPEN_MARK).await?;
            Ok::<_, concord_store::StoreError>(
                journal
                    .and_then(|m| m.position.parse().ok())
                    .zip(open.and_then(|m| serde_json::from_str(&m.position).ok())),
            )
        }
        .await;
        store.close().await;
        Ok::<_, Failure>(result?)
    })?
}

/// After a sync, before its read positions move (a run killed in between
/// then re-reads more, never less): the marks [`CONFIG_MARK`] describes.
pub(super) async fn mark_run(
    ws: &Workspace,
    store: &Store,
    gates: &BTreeMap<String, RepoGate>,
    (journal_at_read, run_id): (i64, &str),
    open: &BTreeSet<String>,
    converged: bool,
) -> Result<(), Failure> {
    let now = now_rfc3339();
    let mut marks = Vec::new();
    // Someone else's change made during this run was not planned with: the
    // next run must look at it.
    let others = store
        .journal_entries_since_not_of_run(journal_at_read, run_id)
        .await?;
    let planned_up_to = if others == 0 {
        store.journal_high_water().await?
    } else {
        journal_at_read
    };
    marks.push((HUB_MARK.to_string(), planned_up_to.to_string()));
    marks.push((OPEN_MARK.to_string(), serde_json::json!(open).to_string()));
    for (name, gate) in gates {
        let head = match gate.git.as_ref() {
            Some(git) if converged => git
                .head()
                .ok()
                .flatten()
                .map(|head| gate.position(&head))
                .unwrap_or_default(),
            _ => String::new(),
        };
        marks.push((repo_mark(name), head));
    }
    // The config mark last: it makes the others count (and all of them
    // land together).
    marks.push((CONFIG_MARK.to_string(), config_hash(ws).unwrap_or_default()));
    let marks: Vec<Watermark> = marks
        .into_iter()
        .map(|(source, position)| Watermark {
            source,
            position,
            updated_at: now.clone(),
        })
        .collect();
    store.set_watermarks(&marks).await?;
    Ok(())
}
