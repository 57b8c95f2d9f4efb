//! `concord sync`: gate, plan, apply. Files get byte-exact single-span
//! edits written atomically, then one commit per repo with only the paths
//! concord wrote; the hub gets compare-and-set writes; every applied
//! change is journaled; bases move forward only where every source agreed.
//!
//! [`sync`] returns what happened as a [`SyncRun`]; showing it (text or
//! JSON) and asking before applying are the caller's.

mod apply;
mod marks;
mod options;
mod pass;
mod report;

pub use crate::sha256_hex;
pub use marks::{CONFIG_MARK, repo_mark};
pub(crate) use marks::{incremental_limits, incremental_read, remember_rereads};
pub use options::{Confirm, SyncOptions};
pub use report::{Applied, NotApplied, SyncReport, SyncRun, VERSION};

use crate::Outcome;
use crate::hub::Failure;
use crate::progress::Progress;
use concord_workspace::{HUB_SOURCE, Workspace};
use pass::{Pass, pass};

/// Gate, plan and apply, reading and planning again (a bounded number of
/// times) when files change under the run. `confirm`, if given, is asked
/// before a plan with changes is applied.
pub fn sync(
    ws: &Workspace,
    options: &SyncOptions,
    confirm: Option<Confirm<'_>>,
    progress: &dyn Progress,
) -> Result<SyncRun, Failure> {
    check_options(ws, options)?;
    let mut earlier: Vec<SyncReport> = Vec::new();
    loop {
        let mut report = match pass(ws, options, confirm, progress, earlier.len())? {
            Pass::Finished(run) => return Ok(run),
            Pass::Declined => match earlier.pop() {
                None => return Ok(SyncRun::Declined),
                // What the earlier passes applied still stands: report it
                // (without what only the declined pass read).
                Some(mut report) => {
                    report.not_applied.retain(|n| !n.raced);
                    report.warning_details.clear();
                    report.notes.clear();
                    report
                }
            },
            // A file changed between this pass's read and its write: read
            // again and plan again, a bounded number of times.
            Pass::Applied(report)
                if report.not_applied.iter().any(|n| n.raced) && earlier.len() < MAX_REPLANS =>
            {
                earlier.push(*report);
                continue;
            }
            Pass::Applied(report) => *report,
        };
        report.replans = earlier.len();
        for before in earlier.drain(..).rev() {
            report.applied.splice(0..0, before.applied);
            report.commits.splice(0..0, before.commits);
        }
        report.outcome = if !report.not_applied.is_empty()
            || report
                .trackers_not_read
                .iter()
                .any(|(_, _, failed)| *failed)
            || crate::unreadable(&report.warning_details)
        {
            Outcome::PartialFailure
        } else if report.held.is_empty()
            && report.undecided.is_empty()
            && report.missing_in_trackers.is_empty()
        {
            Outcome::Clean
        } else {
            Outcome::Findings
        };
        return Ok(SyncRun::Applied(Box::new(report)));
    }
}

/// Options that name what the workspace does not have are a usage error.
fn check_options(ws: &Workspace, options: &SyncOptions) -> Result<(), Failure> {
    if ws.rules.is_empty() {
        return Err(Failure::usage(
            "no [[sync]] rules in the workspace: nothing to sync",
            Some(
                "add a rule, e.g. [[sync]] mode = \"merge\" between = [\"workplans\", \"hub\"]"
                    .into(),
            ),
        ));
    }
    if let Some(only) = &options.only
        && only != HUB_SOURCE
        && !ws.sources.iter().any(|s| &s.name == only)
    {
        return Err(Failure::usage(
            format!("--only names `{only}`, which is not a source"),
            None,
        ));
    }
    if let Some(rule) = &options.rule
        && !ws.rules.iter().any(|r| &r.name == rule)
    {
        let names: Vec<&str> = ws.rules.iter().map(|r| r.name.as_str()).collect();
        return Err(Failure::usage(
            format!("--rule names `{rule}`, which is not a [[sync]] rule"),
            Some(format!("the rules are: {}", names.join(", "))),
        ));
    }
    Ok(())
}

/// How many times one run reads and plans again after files changed
/// under it.
const MAX_REPLANS: usize = 2;
