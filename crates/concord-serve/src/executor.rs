//! The jobs of `concord serve`, run in this process through the same
//! use cases as the command line (`concord_app`): a sync, a mirror run, a
//! check snapshot. Each job's `output` is the JSON the matching command
//! prints with `--json`.

use crate::jobs::{Executor, Finished, JobControl, JobKind, JobRequest};
use concord_app::{Failure, Outcome, Progress};
use concord_workspace::Workspace;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// Runs jobs against one loaded workspace.
pub struct InProcess {
    pub ws: Arc<Workspace>,
    /// `--pull` / `--push` for every sync.
    pub pull: bool,
    pub push: bool,
}

impl Executor for InProcess {
    fn run(&self, job: &JobRequest, control: &JobControl) -> Finished {
        let started = Instant::now();
        let result = match job.kind {
            JobKind::Sync => self.sync(job, control),
            JobKind::Mirror => mirror(&self.ws, control),
            JobKind::Check => check(&self.ws, job, control),
        };
        let cancelled = result.as_ref().is_err_and(Failure::is_cancellation);
        let (exit_code, output, errors) = match result {
            Ok((outcome, output)) => (outcome as i32, output, String::new()),
            Err(failure) => (failure.outcome as i32, None, message(&failure)),
        };
        Finished {
            exit_code: Some(exit_code),
            output,
            errors: crate::auth::redact(&errors),
            duration: started.elapsed(),
            cancelled,
        }
    }

    fn sync_flags(&self) -> Vec<&'static str> {
        let mut flags = Vec::new();
        if self.pull {
            flags.push("--pull");
        }
        if self.push {
            flags.push("--push");
        }
        flags
    }
}

type Ran = Result<(Outcome, Option<Value>), Failure>;

impl InProcess {
    fn sync(&self, job: &JobRequest, progress: &dyn Progress) -> Ran {
        use concord_app::sync::{SyncOptions, SyncRun, sync};
        let options = SyncOptions {
            pull: self.pull,
            push: self.push,
            full: job.spec.full,
            only: job.spec.only.clone(),
            rule: job.spec.rule.clone(),
            run_id: Some(job.run_id.clone()),
            actor: Some(job.actor.clone()),
            ..SyncOptions::default()
        };
        let run = sync(&self.ws, &options, None, progress)?;
        let output = match &run {
            SyncRun::Applied(report) | SyncRun::Unchanged(report) => {
                serde_json::to_value(report).ok()
            }
            SyncRun::DryRun(_) | SyncRun::Declined => None,
        };
        Ok((run.outcome(), output))
    }
}

fn mirror(ws: &Workspace, progress: &dyn Progress) -> Ran {
    use concord_app::mirror::{MirrorOptions, mirror};
    let report = mirror(ws, &MirrorOptions::default(), progress)?;
    Ok((report.outcome(), serde_json::to_value(&report).ok()))
}

/// A check snapshot; its output is `check --snapshot --format json`'s:
/// the regressions since the previous snapshot.
fn check(ws: &Workspace, job: &JobRequest, progress: &dyn Progress) -> Ran {
    if progress.cancelled() {
        return Err(Failure::cancelled("checking the workspace"));
    }
    use concord_app::check::{CheckOptions, check};
    let options = CheckOptions {
        snapshot: true,
        actor: Some(job.actor.clone()),
        ..CheckOptions::default()
    };
    let report = check(ws, &options)?;
    // `[checks.regressions]`: the tracker issue follows the snapshot; a
    // tracker that could not be updated makes the run a partial failure.
    let mut outcome = report.outcome();
    for tracker in concord_app::check_feedback::report_regressions(ws, &report) {
        if let Some(error) = &tracker.error {
            eprintln!("warning: check snapshot: {}: {error}", tracker.tracker);
            outcome = concord_app::Outcome::PartialFailure;
        }
    }
    let mut json = Vec::new();
    let output = concord_checks::render::json(&report.deciding(), &mut json)
        .ok()
        .and_then(|()| serde_json::from_slice(&json).ok());
    Ok((outcome, output))
}

/// A failure as one line, with its help.
fn message(failure: &Failure) -> String {
    match &failure.help {
        Some(help) => format!("{}; help: {help}", failure.message),
        None => failure.message.clone(),
    }
}
