//! `status`: each item's status in every source side by side (the hub's
//! values and the trackers' included), with the repos as this checkout
//! sees them.

use crate::Outcome;
use crate::gates::{CHECK_FETCH_TIMEOUT, GateOptions, RepoGate, gate_repos};
use crate::hub::{self, Failure};
use crate::trackers::SourceNotRead;
use concord_model::{Observation, Warning};
use concord_workspace::status::{ItemView, compare};
use concord_workspace::{Workspace, scan};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
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
        let s = &self.summary;
        if self.sources_not_read.iter().any(|n| n.failed) || crate::unreadable(&self.warnings) {
            Outcome::PartialFailure
        } else if s.disagree + s.missing == 0 {
            Outcome::Clean
        } else {
            Outcome::Findings
        }
    }
}

/// Gate every repo, scan, and (unless `options.hub` is off) record the
/// scan, read the hub's values and the trackers live: what they hold now.
pub fn status(ws: &Workspace, options: &StatusOptions) -> Result<StatusReport, Failure> {
    // The repos are checked and the hub's values read while the files are
    // read (git and the database wait, the scan computes). A look never
    // moves a read position and marks every reading it records to be read
    // again, so the scan and the gates need no order.
    let ((gates, hub_values), report) = rayon::join(
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
            (gates, options.hub.then(|| hub_readings(ws)))
        },
        || scan(ws),
    );
    crate::timings::phase("repos checked, hub and files read");
    let hub_readings = hub_values.transpose()?.unwrap_or_default();
    if options.hub {
        // Only files changed since the last sync read them can differ from
        // the hub's record: the others are not compared again.
        let limits = crate::sync::incremental_limits(ws, &gates)?;
        crate::plan::record(ws, "status", &report, &limits)?;
        crate::timings::phase("observations recorded");
    }
    let trackers = if !options.hub || ws.trackers.is_empty() {
        Vec::new()
    } else {
        let wanted: BTreeSet<String> = report
            .observations()
            .chain(hub_readings.iter())
            .map(|o| o.key.clone())
            .collect();
        let read = crate::trackers::read_all(ws, &wanted, options.strict)?;
        crate::timings::phase("trackers read");
        read
    };
    let sources_not_read = crate::trackers::not_read(ws, &trackers);
    let unread: Vec<&str> = sources_not_read.iter().map(|n| n.source.as_str()).collect();
    let items = compare(
        report
            .observations()
            .chain(hub_readings.iter())
            .chain(trackers.iter().flat_map(|t| t.observations.iter())),
        &options.keys,
    );
    crate::timings::phase("compared");
    let missing: Vec<String> = options
        .keys
        .iter()
        .filter(|k| !items.iter().any(|i| i.key == k.as_str()))
        .cloned()
        .collect();
    let partners = unread_partners(ws, &unread);
    let items: Vec<StatusItem> = items.par_iter().map(|i| item_of(i, &partners)).collect();
    crate::timings::phase("items built");
    let summary = StatusSummary {
        items: items.len(),
        disagree: items.iter().filter(|i| !i.agree).count(),
        missing: missing.len(),
        warnings: report.warnings.len(),
        unknown: items.iter().filter(|i| !i.unknown.is_empty()).count(),
    };
    Ok(StatusReport {
        version: VERSION,
        items,
        missing,
        repos: repos_of(&gates),
        warnings: report.warnings,
        sources_not_read,
        summary,
    })
}

/// Source -> the unread sources a rule joins it to: an item it holds
/// should be in them too.
fn unread_partners<'a>(ws: &'a Workspace, unread: &[&'a str]) -> BTreeMap<&'a str, Vec<&'a str>> {
    let mut partners: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for rule in &ws.rules {
        for gone in unread
            .iter()
            .filter(|u| rule.sources.iter().any(|s| s == *u))
        {
            for source in rule.sources.iter().filter(|s| s.as_str() != *gone) {
                let list = partners.entry(source.as_str()).or_default();
                if !list.contains(gone) {
                    list.push(gone);
                }
            }
        }
    }
    partners
}

/// The hub's own status values, as readings of a source named `hub`.
pub fn hub_readings(ws: &Workspace) -> Result<Vec<Observation>, Failure> {
    let values = hub::with_store(ws, async |store| store.hub_statuses().await)?;
    Ok(crate::summary::hub_readings(values))
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

fn item_of(item: &ItemView<'_>, unread_partners: &BTreeMap<&str, Vec<&str>>) -> StatusItem {
    let mut unknown: Vec<String> = item
        .readings
        .iter()
        .filter_map(|o| unread_partners.get(&*o.source))
        .flatten()
        .map(|s| s.to_string())
        .collect();
    unknown.sort();
    unknown.dedup();
    StatusItem {
        key: item.key.to_string(),
        agree: item.agree,
        sources: item.readings.iter().map(|o| reading_of(o)).collect(),
        unknown,
    }
}

fn reading_of(o: &Observation) -> Reading {
    Reading {
        source: o.source.clone(),
        status: o.status.as_ref().and_then(|s| s.canonical.clone()),
        raw: o.status.as_ref().map(|s| s.raw.clone()),
        repo: o.repo.clone(),
        path: o.path.clone(),
        line: o.line,
        status_line: o.status.as_ref().map(|s| s.line),
        hub_version: if o.repo.is_empty() {
            o.fields
                .iter()
                .find(|(name, _)| name == "version")
                .map(|(_, v)| v.clone())
        } else {
            None
        },
    }
}
