//! The regression issue as an OpenProject work package: found by its
//! subject and the hidden marker at the start of its description, created
//! in the tracker's project, closed and reopened through the instance's
//! own closed and open statuses. The decisions are the same as GitHub's
//! (`concord_checks::feedback::regression_plan`).

use crate::check::CheckReport;
use crate::check_feedback::RegressionOutcome;
use concord_checks::feedback::{self, IssueAction, REGRESSION_MARKER, TrackedIssue};
use concord_checks::finding::Finding;
use concord_trackers::openproject::{
    NewWorkPackage, OpenProject, Status, WorkPackage, WorkPackageUpdate,
};
use concord_workspace::Workspace;
use concord_workspace::trackers::TrackerKind;

pub(crate) fn work_package(
    ws: &Workspace,
    index: usize,
    title: &str,
    snapshot: i64,
    regressions: &[Finding],
    report: &CheckReport,
) -> RegressionOutcome {
    let tracker = &ws.trackers[index];
    let mut outcome = RegressionOutcome {
        tracker: format!("openproject {}", tracker.name),
        action: IssueAction::Nothing,
        reference: None,
        open: 0,
        error: None,
    };
    if let Err(e) = steps(
        ws,
        index,
        title,
        snapshot,
        regressions,
        report,
        &mut outcome,
    ) {
        outcome.error = Some(e);
    }
    outcome
}

/// The status a reopened work package gets: the workflow's lowest status
/// (as the tracker names it) if the instance has it open, else its first
/// open status.
fn open_status<'a>(statuses: &'a [Status], first: &str) -> Option<&'a Status> {
    statuses
        .iter()
        .find(|s| !s.is_closed && s.name.eq_ignore_ascii_case(first))
        .or_else(|| statuses.iter().find(|s| !s.is_closed))
}

/// The status a resolved work package gets: the workflow's highest status
/// (as the tracker names it) if the instance has it closed, else its first
/// closed status.
fn closed_status<'a>(statuses: &'a [Status], last: &str) -> Option<&'a Status> {
    statuses
        .iter()
        .find(|s| s.is_closed && s.name.eq_ignore_ascii_case(last))
        .or_else(|| statuses.iter().find(|s| s.is_closed))
}

fn steps(
    ws: &Workspace,
    index: usize,
    title: &str,
    snapshot: i64,
    regressions: &[Finding],
    report: &CheckReport,
    outcome: &mut RegressionOutcome,
) -> Result<(), String> {
    let tracker = &ws.trackers[index];
    let TrackerKind::OpenProject {
        project: Some(project),
        ..
    } = &tracker.kind
    else {
        return Err(format!("tracker `{}` has no project", tracker.name));
    };
    let token = std::env::var(&tracker.token_env)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            format!(
                "no token in ${}: the work package was not updated",
                tracker.token_env
            )
        })?;
    let client = OpenProject::new(&tracker.url, &token)?;
    let statuses = client
        .statuses()
        .map_err(|e| format!("reading the statuses: {e}"))?;
    let closed = |wp: &WorkPackage| {
        statuses
            .iter()
            .any(|s| s.href == wp.status_href && s.is_closed)
    };
    let mut marked: Vec<WorkPackage> = client
        .find_by_subject(project, title)
        .map_err(|e| format!("looking for the work package: {e}"))?
        .into_iter()
        .filter(|wp| {
            feedback::is_marked(wp.description.as_deref().unwrap_or(""), REGRESSION_MARKER)
        })
        .collect();
    // The open one (the oldest), else the newest closed one.
    marked.sort_by_key(|wp| (closed(wp), wp.id));
    if marked.first().is_some_and(&closed) {
        marked.sort_by_key(|wp| std::cmp::Reverse(wp.id));
    }
    let existing = marked.first().map(|wp| TrackedIssue {
        open: !closed(wp),
        body: wp.description.clone().unwrap_or_default(),
    });
    let plan = feedback::regression_plan(existing.as_ref(), regressions, &report.findings);
    outcome.action = plan.action;
    outcome.open = plan.open;
    let reference = |id: u64| format!("{}/work_packages/{id}", tracker.url.trim_end_matches('/'));
    let flow = &ws.workflows[tracker.workflow];
    let names = flow.statuses();
    let first = names
        .iter()
        .min_by_key(|s| s.rank)
        .map_or("", |s| tracker.native_name(&s.name));
    let last = names
        .iter()
        .max_by_key(|s| s.rank)
        .map_or("", |s| tracker.native_name(&s.name));
    let wp = match (plan.action, marked.first()) {
        (IssueAction::Nothing, wp) => {
            outcome.reference = wp.map(|wp| reference(wp.id));
            return Ok(());
        }
        (IssueAction::Create, _) => {
            let new = NewWorkPackage {
                subject: title.into(),
                description: plan.body.clone(),
                type_href: None,
                status_href: None,
            };
            let wp = client
                .create_work_package(project, &new)
                .map_err(|e| format!("creating the work package: {e}"))?;
            outcome.reference = Some(reference(wp.id));
            return Ok(());
        }
        (_, Some(wp)) => wp,
        (_, None) => return Ok(()),
    };
    outcome.reference = Some(reference(wp.id));
    let status_href = match plan.action {
        IssueAction::Close => Some(
            closed_status(&statuses, last)
                .ok_or("OpenProject has no closed status")?
                .href
                .clone(),
        ),
        IssueAction::Reopen => Some(
            open_status(&statuses, first)
                .ok_or("OpenProject has no open status")?
                .href
                .clone(),
        ),
        _ => None,
    };
    let update = WorkPackageUpdate {
        subject: None,
        description: (plan.action != IssueAction::Close).then(|| plan.body.clone()),
        status_href,
    };
    let saved = client
        .update_work_package(wp.id, wp.lock_version, &update)
        .map_err(|e| format!("updating work package #{}: {e}", wp.id))?;
    let note = match plan.action {
        IssueAction::Close => format!(
            "Snapshot {snapshot} no longer has the {} finding(s) this was about: closed.",
            plan.resolved
        ),
        IssueAction::Reopen => format!("Snapshot {snapshot} regressed again: reopened."),
        _ => format!(
            "Snapshot {snapshot}: {} new, {} resolved, {} open.",
            plan.new, plan.resolved, plan.open
        ),
    };
    client
        .comment(saved.id, &note)
        .map_err(|e| format!("commenting on work package #{}: {e}", saved.id))?;
    Ok(())
}
