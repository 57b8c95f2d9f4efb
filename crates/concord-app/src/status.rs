//! `status`: each item's status in every source side by side (the hub's
//! values and the trackers' included), with the repos as this checkout
//! sees them.

use crate::Outcome;
use crate::gates::{CHECK_FETCH_TIMEOUT, GateOptions, RepoGate, gate_repos};
use crate::hub::{self, Failure};
use crate::trackers::SourceNotRead;
use concord_model::{Observation, StatusReading, Warning};
use concord_workspace::status::{Group, Grouped, group};
use concord_workspace::{ScanReport, SourceScan, Workspace, scan_map};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::num::NonZeroI64;
use std::sync::Arc;

/// The shape of [`StatusReport`]; it changes when a field changes meaning.
pub const VERSION: u32 = 1;

/// What `status` is asked for: `concord status`'s arguments, less how its
/// result is shown.
#[derive(Debug, Clone)]
pub struct StatusOptions {
    /// Only these items (all when empty).
    pub keys: Vec<String>,
    /// Read the hub's values and the trackers, and record the scan
    /// (`--no-hub` turns it off: files only).
    pub hub: bool,
    /// Fetch before judging staleness (`--no-fetch` turns it off).
    pub fetch: bool,
    /// A tracker whose token is not set is a configuration error (exit 2)
    /// instead of a note.
    pub strict: bool,
}

impl Default for StatusOptions {
    fn default() -> Self {
        StatusOptions {
            keys: Vec::new(),
            hub: true,
            fetch: true,
            strict: false,
        }
    }
}

/// Every item's readings; serialized, it is `concord status --json`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StatusReport {
    /// [`VERSION`].
    pub version: u32,
    /// By key.
    pub items: Vec<StatusItem>,
    /// Keys asked for that no source holds.
    pub missing: Vec<String>,
    /// Every repo of the workspace, by name.
    pub repos: Vec<RepoView>,
    pub warnings: Vec<Warning>,
    /// Trackers this run could not read: their items are unknown there.
    pub sources_not_read: Vec<SourceNotRead>,
    pub summary: StatusSummary,
}

/// One repo as this checkout sees it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RepoView {
    pub name: String,
    /// This checkout's replica id (git work trees only).
    pub replica: Option<String>,
    pub head: Option<String>,
    /// Why sync would not write it now (a reason code such as
    /// `STALE_REPO`): its values are not edits until that is resolved.
    pub blocked: Option<String>,
    /// What blocks it, with the command that fixes it.
    pub blocker: Option<String>,
}

/// One item and what every source holding it says.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StatusItem {
    pub key: String,
    /// Whether every reading says the same.
    pub agree: bool,
    pub sources: Vec<Reading>,
    /// Sources that should hold the item (a rule joins them to one that
    /// does) but could not be read: what they say is unknown.
    pub unknown: Vec<String>,
}

/// One source's reading of an item.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reading {
    // Shared with the observation it shows: 100k items are 200k readings,
    // and each copied string would be an allocation (and memory touched).
    pub source: Arc<str>,
    /// The canonical status; `None` when the word is unknown or missing.
    pub status: Option<Arc<str>>,
    /// The source's own word.
    pub raw: Option<String>,
    /// Empty for the hub.
    pub repo: Arc<str>,
    pub path: Arc<str>,
    pub line: u32,
    /// The line of the status value, when there is one (the text shows it).
    #[serde(skip)]
    pub status_line: Option<u32>,
    /// The hub's version of the value (hub readings only; the text shows it).
    #[serde(skip)]
    pub hub_version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StatusSummary {
    pub items: usize,
    pub disagree: usize,
    pub missing: usize,
    pub warnings: usize,
    /// Items a source that could not be read should hold.
    pub unknown: usize,
}

impl StatusReport {
    /// A source, file or repo that could not be read: 3. Anything that
    /// differs, or a key asked for that nothing holds: 1. Warnings are
    /// neither.
    pub fn outcome(&self) -> Outcome {
        outcome_of(&self.summary, &self.warnings, &self.sources_not_read)
    }
}

/// A [`StatusReport`] less its items: what `status` says beside them.
#[derive(Debug, Clone)]
pub struct StatusListed {
    pub missing: Vec<String>,
    pub repos: Vec<RepoView>,
    pub warnings: Vec<Warning>,
    pub sources_not_read: Vec<SourceNotRead>,
    pub summary: StatusSummary,
}

impl StatusListed {
    /// As [`StatusReport::outcome`].
    pub fn outcome(&self) -> Outcome {
        outcome_of(&self.summary, &self.warnings, &self.sources_not_read)
    }
}

fn outcome_of(s: &StatusSummary, warnings: &[Warning], not_read: &[SourceNotRead]) -> Outcome {
    if not_read.iter().any(|n| n.failed) || crate::unreadable(warnings) {
        Outcome::PartialFailure
    } else if s.disagree + s.missing == 0 {
        Outcome::Clean
    } else {
        Outcome::Findings
    }
}

/// Items handed out at a time by [`StatusRead::for_each_chunk`].
pub const CHUNK: usize = 4096;

/// Everything read and compared, with each item's lines still to be made:
/// a front end takes them a chunk at a time ([`StatusRead::for_each_chunk`])
/// and lets each go, or all at once ([`StatusRead::into_report`]).
pub struct StatusRead {
    /// A part per source as read, then the hub, then each tracker.
    parts: Vec<Vec<Seen>>,
    grouped: Grouped,
    partners: BTreeMap<String, Vec<String>>,
    listed: StatusListed,
}

impl StatusRead {
    pub fn listed(&self) -> &StatusListed {
        &self.listed
    }

    /// The longest key, in bytes.
    pub fn key_width(&self) -> usize {
        self.grouped
            .groups
            .iter()
            .map(|g| seen_at(&self.parts, self.grouped.members(g)[0]).key.len())
            .max()
            .unwrap_or(0)
    }

    /// Hands out the items by key, [`CHUNK`] at a time, each chunk with its
    /// index: chunks are made in parallel, so they can come in any order.
    pub fn for_each_chunk(&self, each: impl Fn(usize, Vec<StatusItem>) + Sync + Send) {
        self.grouped
            .groups
            .par_chunks(CHUNK)
            .enumerate()
            .for_each(|(index, chunk)| {
                let items = chunk.iter().map(|g| self.item_of(g)).collect();
                each(index, items);
            });
    }

    /// The whole report, every item made at once.
    pub fn into_report(self) -> StatusReport {
        let items = self
            .grouped
            .groups
            .par_iter()
            .map(|g| self.item_of(g))
            .collect();
        let listed = self.listed;
        StatusReport {
            version: VERSION,
            items,
            missing: listed.missing,
            repos: listed.repos,
            warnings: listed.warnings,
            sources_not_read: listed.sources_not_read,
            summary: listed.summary,
        }
    }

    fn item_of(&self, group: &Group) -> StatusItem {
        let readings = || {
            self.grouped
                .members(group)
                .iter()
                .map(|&m| seen_at(&self.parts, m))
        };
        let mut unknown: Vec<String> = readings()
            .filter_map(|s| self.partners.get(&*s.source))
            .flatten()
            .cloned()
            .collect();
        unknown.sort();
        unknown.dedup();
        let first = readings().next().map_or("", |s| &*s.key);
        StatusItem {
            key: first.to_string(),
            agree: group.agree,
            sources: readings().map(Seen::reading).collect(),
            unknown,
        }
    }
}

/// Gate every repo, scan, and (unless `options.hub` is off) record the
/// scan, read the hub's values and the trackers live: what they hold now.
pub fn status(ws: &Workspace, options: &StatusOptions) -> Result<StatusReport, Failure> {
    Ok(status_read(ws, options)?.into_report())
}

/// What [`status`] reads and compares, before any item is made.
pub fn status_read(ws: &Workspace, options: &StatusOptions) -> Result<StatusRead, Failure> {
    let read = read_sources(ws, options)?;
    let mut parts = read.parts;
    let keep = |s: &Seen| wanted(&options.keys, &s.key);
    let trackers = if !options.hub || ws.trackers.is_empty() {
        Vec::new()
    } else {
        // Every key the files and the hub hold, asked for or not: a
        // tracker's keys are matched against all of them (a key template
        // that fits none is a configuration error, not one that fits no
        // item asked for).
        let first = group(&parts, |_| true);
        let wanted: BTreeSet<String> = first
            .groups
            .iter()
            .map(|g| seen_at(&parts, first.members(g)[0]).key.to_string())
            .collect();
        drop(first);
        let read = crate::trackers::read_all(ws, &wanted, options.strict)?;
        crate::timings::phase("trackers read");
        read
    };
    let sources_not_read = crate::trackers::not_read(ws, &trackers);
    parts.extend(
        trackers
            .into_iter()
            .map(|t| t.observations.into_iter().map(Seen::from).collect()),
    );
    let grouped = group(&parts, keep);
    crate::timings::phase("compared");
    let missing: Vec<String> = options
        .keys
        .iter()
        .filter(|k| {
            !grouped
                .groups
                .iter()
                .any(|g| *seen_at(&parts, grouped.members(g)[0]).key == ***k)
        })
        .cloned()
        .collect();
    let unread: Vec<&str> = sources_not_read.iter().map(|n| n.source.as_str()).collect();
    let partners = unread_partners(ws, &unread);
    let summary = StatusSummary {
        items: grouped.groups.len(),
        disagree: grouped.groups.iter().filter(|g| !g.agree).count(),
        missing: missing.len(),
        warnings: read.warnings.len(),
        unknown: if partners.is_empty() {
            0
        } else {
            grouped
                .groups
                .iter()
                .filter(|g| {
                    grouped
                        .members(g)
                        .iter()
                        .any(|&m| partners.contains_key(&*seen_at(&parts, m).source))
                })
                .count()
        },
    };
    let listed = StatusListed {
        missing,
        repos: repos_of(&read.gates),
        warnings: read.warnings,
        sources_not_read,
        summary,
    };
    Ok(StatusRead {
        parts,
        grouped,
        partners,
        listed,
    })
}

fn seen_at(parts: &[Vec<Seen>], (part, index): (u32, u32)) -> &Seen {
    &parts[part as usize][index as usize]
}

/// Whether `key` is one of those asked for (all are when none is).
fn wanted(keys: &[String], key: &str) -> bool {
    keys.is_empty() || keys.iter().any(|k| k == key)
}

/// What the files (a part per source, in workspace order) and the hub (a
/// last part) hold, the repos as gated, the scan's warnings.
struct SourcesRead {
    parts: Vec<Vec<Seen>>,
    gates: BTreeMap<String, RepoGate>,
    warnings: Vec<Warning>,
}

/// Gates the repos, reads the hub and the files, and records what the
/// scan found in files changed since the last sync. The files are read
/// while git and the database are asked (they wait, the scan computes);
/// each source's observations become [`Seen`] as soon as it is read. A
/// look never moves a read position and marks every reading it records to
/// be read again, so the scan and the gates need no order.
fn read_sources(ws: &Workspace, options: &StatusOptions) -> Result<SourcesRead, Failure> {
    let ((gates, hub_seen, limits), (scanned, warnings)) = rayon::join(
        || {
            let gates = gate_repos(
                ws,
                GateOptions {
                    fetch: options.fetch,
                    pull: false,
                    fetch_timeout: CHECK_FETCH_TIMEOUT,
                    all_repos: true,
                },
            );
            if !options.hub {
                return (gates, Ok(Vec::new()), Ok(Limits::new()));
            }
            // Only files changed since the last sync read them can differ
            // from the hub's record: the others are not recorded again.
            let limits = crate::sync::incremental_limits(ws, &gates);
            (gates, hub_seen(ws), limits)
        },
        || {
            scan_map(ws, |scan| {
                scan.observations.into_iter().map(Seen::from).collect()
            })
        },
    );
    crate::timings::phase("repos checked, hub and files read");
    let (limits, hub_seen) = (limits?, hub_seen?);
    let mut parts: Vec<Vec<Seen>> = scanned;
    let mut warnings = warnings;
    if options.hub {
        let report = ScanReport {
            sources: to_record(&parts, &limits),
            warnings,
        };
        crate::plan::record(ws, "status", &report, &limits)?;
        warnings = report.warnings;
        crate::timings::phase("observations recorded");
    }
    parts.push(hub_seen);
    Ok(SourcesRead {
        parts,
        gates,
        warnings,
    })
}

/// Per source index, the files read since the last sync (no entry: all;
/// none at all: every source, every file).
type Limits = HashMap<usize, BTreeSet<String>>;

/// The observations the hub records again: those of files changed since
/// the last sync (every one when `limits` is empty), made back from their
/// readings. A record takes what is shown and where, the owner and why a
/// value is pinned, which a [`Seen`] keeps: holding every observation
/// whole until it is known which files changed would keep the whole scan
/// alive, and after a sync almost none is recorded.
fn to_record(parts: &[Vec<Seen>], limits: &Limits) -> Vec<SourceScan> {
    parts
        .iter()
        .enumerate()
        .filter(|(index, _)| limits.is_empty() || limits.get(index).is_none_or(|p| !p.is_empty()))
        .map(|(index, seen)| {
            let limit = limits.get(&index);
            SourceScan {
                source: index,
                // A record counts items, not files.
                files: 0,
                observations: seen
                    .iter()
                    .filter(|s| limit.is_none_or(|paths| paths.contains(&*s.path)))
                    .map(Seen::observation)
                    .collect(),
            }
        })
        .collect()
}

/// Source -> the unread sources a rule joins it to: an item it holds
/// should be in them too.
fn unread_partners(ws: &Workspace, unread: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut partners: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rule in &ws.rules {
        for gone in unread
            .iter()
            .filter(|u| rule.sources.iter().any(|s| s == *u))
        {
            for source in rule.sources.iter().filter(|s| s.as_str() != *gone) {
                let list = partners.entry(source.clone()).or_default();
                if !list.iter().any(|g| g == gone) {
                    list.push((*gone).to_string());
                }
            }
        }
    }
    partners
}

/// The hub's status values, as readings of a source named `hub`, made a
/// page at a time.
fn hub_seen(ws: &Workspace) -> Result<Vec<Seen>, Failure> {
    let (source, empty): (Arc<str>, Arc<str>) = ("hub".into(), "".into());
    // The hub holds canonical words only, a handful for 100k items: one
    // string each.
    let mut words: Vec<Arc<str>> = Vec::new();
    let mut word = |value: &str| match words.iter().find(|w| &***w == value) {
        Some(w) => w.clone(),
        None => {
            let w: Arc<str> = value.into();
            words.push(w.clone());
            w
        }
    };
    let mut seen = Vec::new();
    hub::with_store(ws, async |store| {
        store
            .hub_statuses_paged(concord_store::STATUS_PAGE, |page| {
                seen.extend(page.into_iter().map(|v| Seen {
                    key: v.key.into_boxed_str(),
                    source: source.clone(),
                    canonical: v.value.as_deref().map(&mut word),
                    raw: None,
                    repo: empty.clone(),
                    path: empty.clone(),
                    line: 0,
                    status_line: 0,
                    hub_version: NonZeroI64::new(v.version),
                    kept: None,
                }));
            })
            .await
    })?;
    Ok(seen)
}

/// One reading, as little of it as `status` shows: 100k items are 200k
/// readings, held from the scan to the last line (an [`Observation`] is
/// twice the size, with more strings of its own).
struct Seen {
    key: Box<str>,
    source: Arc<str>,
    /// The canonical status, when the word is known.
    canonical: Option<Arc<str>>,
    /// The source's own word, when it is not `canonical` (unknown, or an
    /// alias); neither: no status.
    raw: Option<Box<str>>,
    /// Empty for the hub.
    repo: Arc<str>,
    path: Arc<str>,
    line: u32,
    /// The line of the status value, when there is one.
    status_line: u32,
    /// The hub's version of the value (hub readings only).
    hub_version: Option<NonZeroI64>,
    /// What the hub records beside, for the few readings that have it.
    kept: Option<Box<Kept>>,
}

/// The owner an item names, and why its status is pinned.
struct Kept {
    owner: Option<String>,
    pinned: Option<String>,
}

impl Seen {
    fn has_status(&self) -> bool {
        self.canonical.is_some() || self.raw.is_some()
    }

    fn raw(&self) -> Option<&str> {
        self.raw.as_deref().or(self.canonical.as_deref())
    }

    fn reading(&self) -> Reading {
        Reading {
            source: self.source.clone(),
            status: self.canonical.clone(),
            raw: self.raw().map(str::to_string),
            repo: self.repo.clone(),
            path: self.path.clone(),
            line: self.line,
            status_line: self.has_status().then_some(self.status_line),
            hub_version: self.hub_version.map(|v| v.to_string()),
        }
    }

    /// The observation this reading was made from, as much of it as the
    /// hub records: no rank, span or other fields.
    fn observation(&self) -> Observation {
        let (owner, pinned) = self
            .kept
            .as_deref()
            .map_or((None, None), |k| (k.owner.clone(), k.pinned.clone()));
        Observation {
            source: self.source.clone(),
            repo: self.repo.clone(),
            key: self.key.to_string(),
            path: self.path.clone(),
            line: self.line,
            status: self.has_status().then(|| StatusReading {
                raw: self.raw().unwrap_or_default().to_string(),
                canonical: self.canonical.clone(),
                rank: None,
                line: self.status_line,
                span: 0..0,
                pinned,
            }),
            owner,
            fields: Vec::new(),
        }
    }
}

impl concord_workspace::status::Reading for Seen {
    fn key(&self) -> &str {
        &self.key
    }

    fn comparable(&self) -> Option<(bool, &str)> {
        match (&self.canonical, &self.raw) {
            (Some(canonical), _) => Some((true, canonical)),
            (None, Some(raw)) => Some((false, raw)),
            (None, None) => None,
        }
    }
}

impl From<Observation> for Seen {
    fn from(o: Observation) -> Self {
        let (canonical, raw, status_line, pinned) = match o.status {
            Some(s) => {
                let raw = (s.canonical.as_deref() != Some(s.raw.as_str()))
                    .then(|| s.raw.into_boxed_str());
                (s.canonical, raw, s.line, s.pinned)
            }
            None => (None, None, 0, None),
        };
        let kept = (o.owner.is_some() || pinned.is_some()).then(|| {
            Box::new(Kept {
                owner: o.owner,
                pinned,
            })
        });
        Seen {
            key: o.key.into_boxed_str(),
            source: o.source,
            canonical,
            raw,
            repo: o.repo,
            path: o.path,
            line: o.line,
            status_line,
            hub_version: None,
            kept,
        }
    }
}

fn repos_of(gates: &BTreeMap<String, RepoGate>) -> Vec<RepoView> {
    gates
        .iter()
        .map(|(name, g)| RepoView {
            name: name.clone(),
            replica: g.replica.as_deref().map(str::to_string),
            head: g.head_at_read.clone(),
            blocked: g.blocked.map(|r| r.as_str().to_string()),
            blocker: g.blocker.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observation(raw: &str, canonical: Option<&str>, owner: Option<&str>) -> Observation {
        Observation {
            source: "plan".into(),
            repo: "app".into(),
            key: "APP-1".into(),
            path: "docs/plan.md".into(),
            line: 7,
            status: Some(StatusReading {
                raw: raw.into(),
                canonical: canonical.map(Into::into),
                rank: None,
                line: 9,
                span: 0..0,
                pinned: owner.map(|_| "an alias repeats it".to_string()),
            }),
            owner: owner.map(str::to_string),
            fields: Vec::new(),
        }
    }

    /// What the hub records of a reading made back from its [`Seen`] is
    /// what it would record of the observation itself, whatever the word.
    #[test]
    fn a_reading_gives_back_what_the_hub_records_of_its_observation() {
        let mut none = observation("todo", Some("todo"), None);
        none.status = None;
        for o in [
            observation("todo", Some("todo"), None),
            observation("Closed", Some("done"), Some("app")),
            observation("someday", None, None),
            none,
        ] {
            let back = Seen::from(o.clone()).observation();
            assert_eq!(back, o);
            let seen = Seen::from(o.clone());
            let reading = seen.reading();
            assert_eq!(reading.raw, o.status.as_ref().map(|s| s.raw.clone()));
            assert_eq!(
                reading.status,
                o.status.as_ref().and_then(|s| s.canonical.clone())
            );
            assert_eq!(reading.status_line, o.status.as_ref().map(|s| s.line));
        }
    }
}
