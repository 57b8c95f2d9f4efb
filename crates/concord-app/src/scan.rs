//! `scan`: every source's items, and what could not be read. The
//! observations are recorded in the hub unless asked not to.

use crate::Outcome;
use crate::gates::{CHECK_FETCH_TIMEOUT, GateOptions, gate_repos};
use crate::hub::Failure;
use concord_model::{Observation, Warning};
use concord_workspace::Workspace;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The shape of [`ScanReport`]; it changes when a field changes meaning.
pub const VERSION: u32 = 1;

/// What a scan is asked to do: `concord scan`'s flags, less how its
/// result is shown.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    /// Record the observations in the hub (`--no-hub` turns it off).
    pub record: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { record: true }
    }
}

/// Every source as read; serialized, it is `concord scan --json`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScanReport {
    /// [`VERSION`].
    pub version: u32,
    /// In the order of the workspace's `[[source]]`s.
    pub sources: Vec<ScannedSource>,
    pub warnings: Vec<Warning>,
    pub summary: ScanSummary,
}

/// One source and the items read from it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScannedSource {
    pub name: String,
    pub repo: String,
    pub format: String,
    pub glob: String,
    pub workflow: String,
    /// Files the glob matched and that were read.
    pub files: usize,
    pub items: Vec<Observation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScanSummary {
    pub sources: usize,
    pub files: usize,
    pub items: usize,
    pub warnings: usize,
}

impl ScanReport {
    /// Clean, or findings when something could not be read.
    pub fn outcome(&self) -> Outcome {
        outcome_of(&self.warnings)
    }
}

/// A scan's outcome: clean, or findings when something could not be read.
fn outcome_of(warnings: &[Warning]) -> Outcome {
    if warnings.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    }
}

/// A scan, and whether its observations reached the hub.
#[derive(Debug)]
pub struct Scanned {
    pub report: ScanReport,
    /// Why the observations were not recorded, when they were asked to be
    /// and could not be: the report still stands, but the run is a
    /// failure ([`Failure::outcome`]).
    pub not_recorded: Option<Failure>,
}

impl Scanned {
    /// The report's outcome, unless recording failed.
    pub fn outcome(&self) -> Outcome {
        self.not_recorded
            .as_ref()
            .map_or_else(|| self.report.outcome(), |failure| failure.outcome)
    }
}

/// Read every source of the workspace; record what was read in the hub
/// when `options.record`. The observations move into the report: none is
/// copied.
pub fn scan(ws: &Workspace, options: &ScanOptions) -> Scanned {
    if !options.record {
        return Scanned {
            report: report_of(ws, concord_workspace::scan(ws)),
            not_recorded: None,
        };
    }
    // Only files changed since the last sync's read can differ from the
    // hub's record: the repos are checked (no fetch) while the files are
    // read, as `status` does, and only those files are compared again.
    let (gates, read) = rayon::join(
        || {
            gate_repos(
                ws,
                GateOptions {
                    fetch: false,
                    pull: false,
                    fetch_timeout: CHECK_FETCH_TIMEOUT,
                    all_repos: true,
                },
            )
        },
        || concord_workspace::scan(ws),
    );
    let not_recorded = crate::sync::incremental_limits(ws, &gates)
        .and_then(|limits| crate::plan::record(ws, "scan", &read, &limits))
        .err();
    Scanned {
        report: report_of(ws, read),
        not_recorded,
    }
}

/// What [`scan_each`] read, less the sources it handed out.
#[derive(Debug)]
pub struct ScanListed {
    pub warnings: Vec<Warning>,
    pub summary: ScanSummary,
}

/// A scan that records nothing and keeps no report: each source goes to
/// `each`, with its index among the workspace's sources, as soon as it is
/// read (on the thread that read it, sources taken in order). A listing
/// that shows each source and lets it go never holds the whole workspace.
pub fn scan_each(ws: &Workspace, each: impl Fn(usize, ScannedSource) + Sync) -> ScanListed {
    let (files, items) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let warnings = concord_workspace::scan_each(ws, |scan| {
        files.fetch_add(scan.files, Ordering::Relaxed);
        items.fetch_add(scan.observations.len(), Ordering::Relaxed);
        each(scan.source, scanned_source(ws, scan));
    });
    let summary = ScanSummary {
        sources: ws.sources.len(),
        files: files.into_inner(),
        items: items.into_inner(),
        warnings: warnings.len(),
    };
    ScanListed { warnings, summary }
}

impl ScanListed {
    /// Clean, or findings when something could not be read.
    pub fn outcome(&self) -> Outcome {
        outcome_of(&self.warnings)
    }
}

/// The report of a scan, taking its observations.
fn report_of(ws: &Workspace, read: concord_workspace::ScanReport) -> ScanReport {
    let summary = ScanSummary {
        sources: read.sources.len(),
        files: read.sources.iter().map(|s| s.files).sum(),
        items: read.sources.iter().map(|s| s.observations.len()).sum(),
        warnings: read.warnings.len(),
    };
    let sources = read
        .sources
        .into_iter()
        .map(|s| scanned_source(ws, s))
        .collect();
    ScanReport {
        version: VERSION,
        sources,
        warnings: read.warnings,
        summary,
    }
}

/// One source as a report shows it, taking its observations.
fn scanned_source(ws: &Workspace, scan: concord_workspace::SourceScan) -> ScannedSource {
    let source = &ws.sources[scan.source];
    ScannedSource {
        name: source.name.clone(),
        repo: ws.repo(source).name.clone(),
        format: source.format_name.as_str().to_string(),
        glob: source.glob.clone(),
        workflow: ws.workflow(source).name().to_string(),
        files: scan.files,
        items: scan.observations,
    }
}
