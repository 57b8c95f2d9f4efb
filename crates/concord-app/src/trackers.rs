//! Trackers as sync sources: each is read in bulk into observations like a
//! file source's, and planned changes are written back with the tracker's
//! own optimistic locking, a bounded number of requests at a time.

use crate::hub::Failure;
use concord_model::{Observation, StatusReading, Workflow};
use concord_trackers::github::{EtagCache, GhError, GitHub, Issue, IssueUpdate};
use concord_trackers::openproject::{OpError, OpenProject};
use concord_workspace::Workspace;
use concord_workspace::trackers::{Tracker, TrackerKind};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// What writing an item back needs, as read.
#[derive(Debug, Clone)]
pub enum Handle {
    WorkPackage {
        id: u64,
        lock_version: u64,
    },
    Issue {
        repo: String,
        number: u64,
        labels: Vec<String>,
    },
}

pub enum Client {
    OpenProject(OpenProject),
    GitHub(GitHub),
}

/// One tracker as this run read it.
pub struct TrackerRead {
    /// Index into `Workspace::trackers`.
    pub index: usize,
    pub observations: Vec<Observation>,
    pub handles: HashMap<String, Handle>,
    /// Why it was not read; nothing is written to it then.
    pub unread: Option<Unread>,
    /// OpenProject: each status's name and resource link.
    pub statuses: Vec<(String, String)>,
    /// Keys other sources name that the tracker does not have.
    pub missing: Vec<String>,
    pub client: Option<Client>,
}

#[derive(Debug, Clone)]
pub struct Unread {
    pub message: String,
    /// A failure (refused token, server down), not a choice (no token set).
    pub failed: bool,
}

/// Read every tracker a sync rule names. `wanted` are the keys other
/// sources hold: an OpenProject tracker without a project reads those ids.
pub fn read_all(
    ws: &Workspace,
    wanted: &BTreeSet<String>,
    strict: bool,
) -> Result<Vec<TrackerRead>, Failure> {
    let used: Vec<usize> = ws
        .trackers
        .iter()
        .enumerate()
        .filter(|(_, t)| ws.rules.iter().any(|r| r.sources.contains(&t.name)))
        .map(|(i, _)| i)
        .collect();
    let mut reads = Vec::with_capacity(used.len());
    for index in used {
        let tracker = &ws.trackers[index];
        let token = std::env::var(&tracker.token_env)
            .ok()
            .filter(|t| !t.trim().is_empty());
        let Some(token) = token else {
            let message = format!(
                "tracker `{}` skipped: {} is not set",
                tracker.name, tracker.token_env
            );
            if strict {
                return Err(Failure::usage(
                    message,
                    Some(format!(
                        "set {} to the tracker's API token (it is read from the environment only)",
                        tracker.token_env
                    )),
                ));
            }
            reads.push(TrackerRead::unread(index, message, false));
            continue;
        };
        let workflow = &ws.workflows[tracker.workflow];
        let read = match &tracker.kind {
            TrackerKind::OpenProject {
                project,
                key_template,
                ..
            } => read_openproject(
                index,
                tracker,
                workflow,
                &token,
                project.as_deref(),
                key_template,
                wanted,
            )?,
            TrackerKind::GitHub { .. } => read_github(
                index,
                tracker,
                workflow,
                &token,
                &etag_cache_path(ws, tracker),
                ws.hub.create_if_missing,
            ),
        };
        reads.push(read);
    }
    Ok(reads)
}

impl TrackerRead {
    fn unread(index: usize, message: String, failed: bool) -> TrackerRead {
        TrackerRead {
            index,
            observations: Vec::new(),
            handles: HashMap::new(),
            unread: Some(Unread { message, failed }),
            statuses: Vec::new(),
            missing: Vec::new(),
            client: None,
        }
    }
}

/// `wp#{id}` -> the id in a key, if the key has that shape.
pub fn id_in_key(template: &str, key: &str) -> Option<u64> {
    let (prefix, suffix) = template.split_once("{id}")?;
    let id = key.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

/// The canonical status of a tracker's word: its own mapping first, then
/// the workflow's names and aliases.
fn canonical(tracker: &Tracker, workflow: &Workflow, word: &str) -> StatusReading {
    let mapped = tracker
        .status_names
        .iter()
        .find(|(_, native)| native.eq_ignore_ascii_case(word))
        .map(|(canonical, _)| canonical.as_str());
    let known = workflow.resolve_index(mapped.unwrap_or(word));
    StatusReading {
        canonical: known.and_then(|i| workflow.shared_name(i)),
        rank: known.map(|i| workflow.statuses()[i].rank),
        raw: word.to_string(),
        line: 0,
        span: 0..0,
        pinned: None,
    }
}

fn observation(tracker: &Tracker, key: String, path: String, status: StatusReading) -> Observation {
    let name: Arc<str> = Arc::from(tracker.name.as_str());
    Observation {
        source: name.clone(),
        repo: name,
        key,
        path: Arc::from(path.as_str()),
        line: 0,
        status: Some(status),
        owner: None,
        fields: Vec::new(),
    }
}

fn read_openproject(
    index: usize,
    tracker: &Tracker,
    workflow: &Workflow,
    token: &str,
    project: Option<&str>,
    template: &str,
    wanted: &BTreeSet<String>,
) -> Result<TrackerRead, Failure> {
    let client = match OpenProject::new(&tracker.url, token) {
        Ok(client) => client.with_concurrency(tracker.concurrency),
        Err(why) => {
            return Err(Failure::usage(
                format!("tracker `{}`: {why}", tracker.name),
                None,
            ));
        }
    };
    let failed = |e: OpError| {
        TrackerRead::unread(
            index,
            format!("tracker `{}` not read: {e}", tracker.name),
            true,
        )
    };
    let statuses = match client.statuses() {
        Ok(statuses) if statuses.is_empty() => {
            return Ok(TrackerRead::unread(
                index,
                format!(
                    "tracker `{}` not read: OpenProject listed no statuses (may the token's user see them?)",
                    tracker.name
                ),
                true,
            ));
        }
        Ok(statuses) => statuses,
        Err(e) => return Ok(failed(e)),
    };
    let ids: Vec<u64> = wanted
        .iter()
        .filter_map(|k| id_in_key(template, k))
        .collect();
    let packages = match project {
        Some(project) => client.project_work_packages(project),
        None => {
            if ids.is_empty() && !wanted.is_empty() {
                let example = wanted.iter().next().map_or("", String::as_str);
                return Err(Failure::usage(
                    format!(
                        "tracker `{}`: its key template `{template}` makes keys like `{}`, but the other sources' keys look like `{example}`: no item can match",
                        tracker.name,
                        template.replace("{id}", "42")
                    ),
                    Some(format!(
                        "set `key` of tracker `{}` so a work package id gives the keys the plan uses",
                        tracker.name
                    )),
                ));
            }
            client.work_packages(&ids)
        }
    };
    let packages = match packages {
        Ok(packages) => packages,
        Err(e) => return Ok(failed(e)),
    };
    let found: BTreeSet<u64> = packages.iter().map(|wp| wp.id).collect();
    let mut read = TrackerRead {
        index,
        observations: Vec::with_capacity(packages.len()),
        handles: HashMap::with_capacity(packages.len()),
        unread: None,
        statuses: statuses
            .iter()
            .map(|s| (s.name.clone(), s.href.clone()))
            .collect(),
        missing: ids
            .iter()
            .filter(|id| !found.contains(id))
            .map(|id| template.replace("{id}", &id.to_string()))
            .collect(),
        client: None,
    };
    for wp in packages {
        let key = template.replace("{id}", &wp.id.to_string());
        read.observations.push(observation(
            tracker,
            key.clone(),
            format!("work_packages/{}", wp.id),
            canonical(tracker, workflow, &wp.status_name),
        ));
        read.handles.insert(
            key,
            Handle::WorkPackage {
                id: wp.id,
                lock_version: wp.lock_version,
            },
        );
    }
    read.client = Some(Client::OpenProject(client));
    Ok(read)
}

/// An issue's status: closed as not planned, closed, a mapped label, open.
fn issue_status(tracker: &Tracker, issue: &Issue) -> String {
    let TrackerKind::GitHub {
        open,
        closed,
        not_planned,
        labels,
        ..
    } = &tracker.kind
    else {
        return String::new();
    };
    if issue.state == "closed" {
        if issue.state_reason.as_deref() == Some("not_planned") {
            return not_planned.clone();
        }
        return closed.clone();
    }
    issue
        .labels
        .iter()
        .find_map(|l| labels.get(l).cloned())
        .unwrap_or_else(|| open.clone())
}

/// Where a GitHub tracker keeps its ETags between runs (per machine: a
/// 304 costs no rate limit).
fn etag_cache_path(ws: &Workspace, tracker: &Tracker) -> std::path::PathBuf {
    let safe: String = tracker
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    ws.root.join(".concord").join(format!("etags-{safe}.json"))
}

fn read_github(
    index: usize,
    tracker: &Tracker,
    workflow: &Workflow,
    token: &str,
    cache_path: &std::path::Path,
    create_dir: bool,
) -> TrackerRead {
    let TrackerKind::GitHub { repos, .. } = &tracker.kind else {
        return TrackerRead::unread(index, "not a GitHub tracker".into(), true);
    };
    let client = match GitHub::new(&tracker.url, token) {
        Ok(client) => client,
        Err(why) => {
            return TrackerRead::unread(index, format!("tracker `{}`: {why}", tracker.name), true);
        }
    };
    let mut read = TrackerRead {
        index,
        observations: Vec::new(),
        handles: HashMap::new(),
        unread: None,
        statuses: Vec::new(),
        missing: Vec::new(),
        client: None,
    };
    // A missing or unreadable cache only costs full reads.
    let mut cache: EtagCache = std::fs::read(cache_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    for repo in repos {
        let issues = match client.issues_cached(repo, &mut cache) {
            Ok(issues) => issues,
            Err(e) => {
                return TrackerRead::unread(
                    index,
                    format!("tracker `{}` not read ({repo}): {e}", tracker.name),
                    true,
                );
            }
        };
        for issue in issues {
            let key = format!("{repo}#{}", issue.number);
            let status = issue_status(tracker, &issue);
            let mut reading = canonical(tracker, workflow, &status);
            reading.raw = if issue.state == "closed" {
                format!(
                    "closed ({})",
                    issue.state_reason.as_deref().unwrap_or("completed")
                )
            } else {
                status
            };
            read.observations.push(observation(
                tracker,
                key.clone(),
                format!("{repo}/issues/{}", issue.number),
                reading,
            ));
            read.handles.insert(
                key,
                Handle::Issue {
                    repo: repo.clone(),
                    number: issue.number,
                    labels: issue.labels.clone(),
                },
            );
        }
    }
    if let Ok(bytes) = serde_json::to_vec(&cache)
        && let Some(parent) = cache_path.parent()
        && (create_dir || parent.is_dir())
        && std::fs::create_dir_all(parent).is_ok()
    {
        let _ = concord_workspace::write_atomic(cache_path, &bytes);
    }
    read.client = Some(Client::GitHub(client));
    read
}

/// The resource link of OpenProject status `native`, as the read listed it.
fn status_href<'r>(read: &'r TrackerRead, native: &str) -> Option<&'r str> {
    read.statuses
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(native))
        .map(|(_, href)| href.as_str())
}

fn no_such_status(read: &TrackerRead, native: &str) -> String {
    let names: Vec<&str> = read.statuses.iter().map(|(n, _)| n.as_str()).collect();
    format!(
        "OpenProject has no status `{native}` (it has: {})",
        names.join(", ")
    )
}

/// A source (tracker) a run could not read: its items are unknown.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SourceNotRead {
    pub source: String,
    /// Why, with what to do.
    pub why: String,
    /// A failure (token refused, server down, an answer that is not the
    /// API's), not a choice (the token is not set yet): exit 3.
    pub failed: bool,
}

/// The trackers this run could not read, and why.
pub fn not_read(ws: &Workspace, reads: &[TrackerRead]) -> Vec<SourceNotRead> {
    reads
        .iter()
        .filter_map(|t| {
            let unread = t.unread.as_ref()?;
            Some(SourceNotRead {
                source: ws.trackers[t.index].name.clone(),
                why: unread.message.clone(),
                failed: unread.failed,
            })
        })
        .collect()
}

/// Keys other sources name that a tracker does not hold: (tracker, key).
pub fn missing(ws: &Workspace, reads: &[TrackerRead]) -> Vec<(String, String)> {
    reads
        .iter()
        .flat_map(|t| {
            let name = &ws.trackers[t.index].name;
            t.missing.iter().map(move |key| (name.clone(), key.clone()))
        })
        .collect()
}

/// The planned tracker writes the tracker would refuse, known from what
/// was read (the status list OpenProject gave): caught by `diff` before a
/// sync tries them.
pub fn write_problems(
    ws: &Workspace,
    planned: &crate::plan::Planned,
) -> Vec<crate::diff::WriteProblem> {
    let mut problems = Vec::new();
    for read in planned.trackers.iter().filter(|t| t.unread.is_none()) {
        let tracker = &ws.trackers[read.index];
        if !matches!(tracker.kind, TrackerKind::OpenProject { .. }) {
            continue;
        }
        for (decision, change) in planned.plan.changes() {
            if change.source != tracker.name {
                continue;
            }
            let native = tracker.native_name(&change.to.status);
            if status_href(read, native).is_none() {
                problems.push(crate::diff::WriteProblem {
                    key: decision.key.clone(),
                    target: tracker.name.clone(),
                    to: change.to.status.to_string(),
                    problem: no_such_status(read, native),
                });
            }
        }
    }
    problems
}

/// One planned change to a tracker item.
pub struct TrackerChange {
    pub key: String,
    /// Canonical status to set.
    pub to: String,
    /// What the tracker's activity log is told (OpenProject comments).
    pub note: String,
}

/// How writing one change went.
#[derive(Debug, Clone)]
pub enum WriteOutcome {
    Applied,
    /// Someone changed the item since it was read: read and plan again.
    Raced(String),
    Failed(String),
}

/// Write `changes` to one tracker, `concurrency` at a time. A refused
/// token stops the tracker: the changes not yet sent fail with that reason.
pub fn write(ws: &Workspace, read: &TrackerRead, changes: &[TrackerChange]) -> Vec<WriteOutcome> {
    let tracker = &ws.trackers[read.index];
    let Some(client) = &read.client else {
        let why = read
            .unread
            .as_ref()
            .map_or("the tracker was not read".to_string(), |u| {
                u.message.clone()
            });
        return vec![WriteOutcome::Failed(why); changes.len()];
    };
    let next = AtomicUsize::new(0);
    let stopped = AtomicBool::new(false);
    let stop_reason = std::sync::Mutex::new(String::new());
    let results: Vec<std::sync::Mutex<Option<WriteOutcome>>> = changes
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    let workers = tracker.concurrency.clamp(1, changes.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(change) = changes.get(i) else {
                        break;
                    };
                    let outcome = if stopped.load(Ordering::Relaxed) {
                        let why = stop_reason.lock().map(|s| s.clone()).unwrap_or_default();
                        WriteOutcome::Failed(format!("not sent: {why}"))
                    } else {
                        let (outcome, stop) = write_one(tracker, read, client, change);
                        if let Some(why) = stop {
                            if let Ok(mut reason) = stop_reason.lock() {
                                *reason = why;
                            }
                            stopped.store(true, Ordering::Relaxed);
                        }
                        outcome
                    };
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(outcome);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| WriteOutcome::Failed("not attempted".into()))
        })
        .collect()
}

/// One change; the second value, when set, stops the tracker.
fn write_one(
    tracker: &Tracker,
    read: &TrackerRead,
    client: &Client,
    change: &TrackerChange,
) -> (WriteOutcome, Option<String>) {
    let native = tracker.native_name(&change.to);
    match (client, read.handles.get(&change.key)) {
        (Client::OpenProject(op), Some(Handle::WorkPackage { id, lock_version })) => {
            let Some(href) = status_href(read, native) else {
                return (WriteOutcome::Failed(no_such_status(read, native)), None);
            };
            match op.set_status(*id, *lock_version, href) {
                Ok(_) => {
                    if let TrackerKind::OpenProject { comment: true, .. } = tracker.kind {
                        // The status landed; a failed comment is only noted.
                        let _ = op.comment(*id, &change.note);
                    }
                    (WriteOutcome::Applied, None)
                }
                Err(OpError::Conflict { .. }) => (
                    WriteOutcome::Raced(format!(
                        "work package {id} was changed by someone else since it was read"
                    )),
                    None,
                ),
                Err(OpError::Unauthorized { message }) => {
                    let why = format!("the token was refused: {message}");
                    (WriteOutcome::Failed(why.clone()), Some(why))
                }
                Err(e) => (WriteOutcome::Failed(e.to_string()), None),
            }
        }
        (
            Client::GitHub(gh),
            Some(Handle::Issue {
                repo,
                number,
                labels,
            }),
        ) => {
            let update = issue_update(tracker, &change.to, labels);
            match gh.update_issue(repo, *number, &update) {
                Ok(_) => (WriteOutcome::Applied, None),
                Err(GhError::Unauthorized { message }) => {
                    let why = format!("the token was refused: {message}");
                    (WriteOutcome::Failed(why.clone()), Some(why))
                }
                Err(e) => (WriteOutcome::Failed(e.to_string()), None),
            }
        }
        _ => (
            WriteOutcome::Failed(format!("`{}` is not an item of this tracker", change.key)),
            None,
        ),
    }
}

/// How an issue shows a canonical status: closed (with its reason), or
/// open with exactly the one status label that names it.
fn issue_update(tracker: &Tracker, to: &str, current: &[String]) -> IssueUpdate {
    let TrackerKind::GitHub {
        closed,
        not_planned,
        labels,
        ..
    } = &tracker.kind
    else {
        return IssueUpdate::default();
    };
    let mut kept: Vec<String> = current
        .iter()
        .filter(|l| !labels.contains_key(*l))
        .cloned()
        .collect();
    if to == not_planned {
        return IssueUpdate {
            state: Some("closed".into()),
            state_reason: Some("not_planned".into()),
            labels: Some(kept),
            ..IssueUpdate::default()
        };
    }
    if to == closed {
        return IssueUpdate {
            state: Some("closed".into()),
            state_reason: Some("completed".into()),
            labels: Some(kept),
            ..IssueUpdate::default()
        };
    }
    if let Some((label, _)) = labels.iter().find(|(_, status)| status.as_str() == to) {
        kept.push(label.clone());
    }
    IssueUpdate {
        state: Some("open".into()),
        state_reason: None,
        labels: Some(kept),
        ..IssueUpdate::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_out_of_keys_with_the_template_shape_only() {
        assert_eq!(id_in_key("wp#{id}", "wp#42"), Some(42));
        assert_eq!(id_in_key("wp#{id}", "wp#"), None);
        assert_eq!(id_in_key("wp#{id}", "WP-42"), None);
        assert_eq!(id_in_key("OP-{id}-x", "OP-7-x"), Some(7));
        assert_eq!(id_in_key("wp#{id}", "wp#4a"), None);
    }
}
