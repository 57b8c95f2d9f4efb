//! The check layers that act: per pull request, one sticky comment and a
//! commit status (`check --baseline REF --pull-request N`); on schedule,
//! one tracker issue while a snapshot's regressions last (`check
//! --snapshot` with `[checks.regressions]`). What to say and whether to
//! write is decided in `concord_checks::feedback`; this file reads the
//! tracker, asks that, and writes only what changed.

use crate::Outcome;
use crate::check::{CheckReport, Layer};
use crate::hub::Failure;
use concord_checks::feedback::{
    self, IssueAction, PULL_REQUEST_MARKER, PullRequestCounts, REGRESSION_MARKER, StickyAction,
    TrackedIssue,
};
use concord_checks::finding::compare;
use concord_trackers::github::{GhError, GitHub, IssueUpdate};
use concord_trackers::github_feedback::{NewIssue, NewStatus};
use concord_workspace::Workspace;
use concord_workspace::feedback_config::{
    DEFAULT_API_URL, DEFAULT_STATUS, DEFAULT_TOKEN_ENV, GitHubTarget,
};

/// What `check --pull-request N` did on GitHub.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct PullRequestOutcome {
    pub repo: String,
    pub number: u64,
    /// The pull request's head commit, which the status is set on.
    pub sha: String,
    pub counts: PullRequestCounts,
    /// `created`, `updated`, `unchanged` or `none` (no comment yet and the
    /// pull request changes no finding).
    pub comment: String,
    pub comment_url: Option<String>,
    /// Extra marked comments removed (two runs that raced).
    pub removed_duplicates: usize,
    /// The commit status context.
    pub status: String,
    /// `failure` or `success`.
    pub state: String,
    /// Whether the status was posted (false: the commit had it already).
    pub status_posted: bool,
}

/// What the scheduled layer did on each tracker.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct RegressionOutcome {
    /// `github owner/name` or `openproject <tracker>`.
    pub tracker: String,
    pub action: IssueAction,
    /// The issue (or work package) it acted on, when there is one.
    pub reference: Option<String>,
    /// Gating findings the issue is about now.
    pub open: usize,
    /// Why the tracker was not updated; the run then exits 3.
    pub error: Option<String>,
}

fn token(env: &str, what: &str) -> Result<String, Failure> {
    std::env::var(env)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            Failure::usage(
                format!("{what} needs a GitHub token in ${env}"),
                Some(format!(
                    "in a workflow: `env: {env}: ${{{{ secrets.GITHUB_TOKEN }}}}` on the step"
                )),
            )
        })
}

fn gh_failure(what: &str, error: &GhError) -> Failure {
    let help = match error {
        GhError::Forbidden { .. } | GhError::NotFound { .. } => Some(
            "the token needs `pull-requests: write` and `statuses: write` (a pull request \
             from a fork gets a read-only token: run on pull_request_target or skip)"
                .to_string(),
        ),
        GhError::RateLimited { .. } => Some("run again once the limit resets".to_string()),
        _ => None,
    };
    Failure {
        message: format!("{what}: {error}"),
        help,
        outcome: Outcome::PartialFailure,
    }
}

/// Post or update the sticky comment and set the commit status for pull
/// request `number`, from a `--baseline` report. Nothing is written that
/// GitHub already shows.
pub fn report_pull_request(
    ws: &Workspace,
    report: &CheckReport,
    number: u64,
) -> Result<PullRequestOutcome, Failure> {
    let Layer::Baseline { rev, before } = &report.layer else {
        return Err(Failure::usage(
            "--pull-request needs --baseline REF (the pull request's base)",
            None,
        ));
    };
    let config = ws.checks.pull_request.as_ref();
    let repo = match config.and_then(|c| c.repo.clone()) {
        Some(repo) => repo,
        None => std::env::var("GITHUB_REPOSITORY")
            .ok()
            .filter(|r| !r.is_empty())
            .ok_or_else(|| {
                Failure::usage(
                    "--pull-request: which repository? none in [checks.pull_request] repo, and GITHUB_REPOSITORY is not set",
                    Some("set repo = \"owner/name\" under [checks.pull_request]".into()),
                )
            })?,
    };
    let token_env = config.map_or(DEFAULT_TOKEN_ENV, |c| c.token_env.as_str());
    let url = config
        .and_then(|c| c.url.clone())
        .or_else(|| {
            std::env::var("GITHUB_API_URL")
                .ok()
                .filter(|u| !u.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_API_URL.into());
    let context = config.map_or(DEFAULT_STATUS, |c| c.status.as_str());
    let client = GitHub::new(&url, &token(token_env, "--pull-request")?)
        .map_err(|why| Failure::usage(format!("--pull-request: {why}"), None))?;
    let pull = client
        .pull(&repo, number)
        .map_err(|e| gh_failure(&format!("reading pull request {repo}#{number}"), &e))?;
    same_commit(ws, &repo, number, &pull.head_sha)?;
    let delta = compare(before, &report.findings);
    let counts = PullRequestCounts::of(&delta);
    let body = feedback::pull_request_comment(&delta, rev);
    let sticky = sticky_comment(&client, &repo, number, &body, &counts)?;
    let (state, description) = feedback::pull_request_status(&counts);
    let target_url = run_url().or_else(|| sticky.url.clone());
    let posted = set_status(
        &client,
        &repo,
        &pull.head_sha,
        &NewStatus {
            state: state.into(),
            context: context.into(),
            description,
            target_url,
        },
    )?;
    Ok(PullRequestOutcome {
        repo,
        number,
        sha: pull.head_sha,
        counts,
        comment: sticky.done.into(),
        comment_url: sticky.url,
        removed_duplicates: sticky.removed,
        status: context.into(),
        state: state.into(),
        status_posted: posted,
    })
}

/// The findings are this checkout's: they may be reported for the pull
/// request only if its head is what is checked out here (HEAD, or the
/// second parent of the merge commit `actions/checkout` makes). A newer
/// push would otherwise get this older commit's verdict.
fn same_commit(ws: &Workspace, repo: &str, number: u64, head: &str) -> Result<(), Failure> {
    let mut here = Vec::new();
    for r in &ws.repos {
        let Ok(git) = concord_git::Repo::open(&r.root) else {
            continue;
        };
        for rev in ["HEAD", "HEAD^2"] {
            if let Ok(Some(commit)) = git.resolve_commit(rev) {
                if commit == head {
                    return Ok(());
                }
                here.push(commit);
            }
        }
    }
    let short = |s: &str| s.get(..12).unwrap_or(s).to_string();
    let seen: Vec<String> = here.iter().map(|c| short(c)).collect();
    Err(Failure {
        message: format!(
            "pull request {repo}#{number} is at {} but this checkout is at {}: its findings are not that commit's, so nothing was reported",
            short(head),
            if seen.is_empty() {
                "no commit".to_string()
            } else {
                seen.join(" / ")
            }
        ),
        help: Some(
            "check out the pull request's head (or its merge commit, as actions/checkout does); \
             after a newer push, that push's run reports"
                .into(),
        ),
        outcome: Outcome::PartialFailure,
    })
}

/// The run's page in GitHub Actions, for the status's link.
fn run_url() -> Option<String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Some(format!(
        "{}/{}/actions/runs/{}",
        var("GITHUB_SERVER_URL")?,
        var("GITHUB_REPOSITORY")?,
        var("GITHUB_RUN_ID")?
    ))
}

struct Sticky {
    done: &'static str,
    url: Option<String>,
    removed: usize,
}

fn marked_comments(
    client: &GitHub,
    repo: &str,
    number: u64,
) -> Result<Vec<concord_trackers::github_feedback::Comment>, Failure> {
    let comments = client
        .comments(repo, number)
        .map_err(|e| gh_failure(&format!("reading the comments of {repo}#{number}"), &e))?;
    Ok(comments
        .into_iter()
        .filter(|c| feedback::is_marked(&c.body, PULL_REQUEST_MARKER))
        .collect())
}

/// One marked comment with `body`, however many runs raced: the oldest is
/// kept, a comment this run created is checked for a twin right after.
fn sticky_comment(
    client: &GitHub,
    repo: &str,
    number: u64,
    body: &str,
    counts: &PullRequestCounts,
) -> Result<Sticky, Failure> {
    let fail = |what: &str, e: &GhError| gh_failure(&format!("{what} on {repo}#{number}"), e);
    let marked = marked_comments(client, repo, number)?;
    let pairs: Vec<(u64, String)> = marked.iter().map(|c| (c.id, c.body.clone())).collect();
    let (action, mut extra) = feedback::sticky_plan(&pairs, body, counts);
    let url_of = |id: u64| {
        marked
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.html_url.clone())
    };
    let (done, url) = match action {
        StickyAction::Nothing => ("none", None),
        StickyAction::Keep(id) => ("unchanged", url_of(id)),
        StickyAction::Update(id) => {
            let c = client
                .update_comment(repo, id, body)
                .map_err(|e| fail("updating the comment", &e))?;
            ("updated", Some(c.html_url))
        }
        StickyAction::Create => {
            let c = client
                .create_comment(repo, number, body)
                .map_err(|e| fail("commenting", &e))?;
            // Another run may have commented meanwhile: keep the oldest.
            let now = marked_comments(client, repo, number)?;
            let keep = now.iter().map(|c| c.id).min().unwrap_or(c.id);
            extra.extend(now.iter().map(|c| c.id).filter(|id| *id != keep));
            if keep != c.id {
                let kept = client
                    .update_comment(repo, keep, body)
                    .map_err(|e| fail("updating the comment", &e))?;
                ("updated", Some(kept.html_url))
            } else {
                ("created", Some(c.html_url))
            }
        }
    };
    extra.sort_unstable();
    extra.dedup();
    for id in &extra {
        match client.delete_comment(repo, *id) {
            // Deleted already by the run it raced with.
            Ok(()) | Err(GhError::NotFound { .. }) => {}
            Err(e) => return Err(fail("removing a duplicate comment", &e)),
        }
    }
    Ok(Sticky {
        done,
        url,
        removed: extra.len(),
    })
}

/// Post the status unless the newest one of its context on the commit
/// says the same already.
fn set_status(client: &GitHub, repo: &str, sha: &str, new: &NewStatus) -> Result<bool, Failure> {
    let statuses = client
        .statuses(repo, sha)
        .map_err(|e| gh_failure(&format!("reading the statuses of {sha}"), &e))?;
    let current = statuses.iter().find(|s| s.context == new.context);
    if current.is_some_and(|s| {
        s.state == new.state && s.description.as_deref() == Some(new.description.as_str())
    }) {
        return Ok(false);
    }
    client
        .create_status(repo, sha, new)
        .map_err(|e| gh_failure(&format!("setting status `{}`", new.context), &e))?;
    Ok(true)
}

/// After `check --snapshot`: open, update, reopen or close the regression
/// issue on every tracker `[checks.regressions]` names. A tracker that
/// cannot be reached is reported in its outcome (the run exits 3); the
/// others are still updated.
pub fn report_regressions(ws: &Workspace, report: &CheckReport) -> Vec<RegressionOutcome> {
    let (Some(config), Layer::Snapshot { id, .. }) = (&ws.checks.regressions, &report.layer) else {
        return Vec::new();
    };
    let regressions = report.deciding();
    let mut outcomes = Vec::new();
    if let Some(target) = &config.github {
        outcomes.push(github_issue(
            target,
            &config.label,
            &config.title,
            *id,
            &regressions,
            report,
        ));
    }
    if let Some(index) = config.openproject {
        outcomes.push(crate::check_feedback_openproject::work_package(
            ws,
            index,
            &config.title,
            *id,
            &regressions,
            report,
        ));
    }
    outcomes
}

fn github_issue(
    target: &GitHubTarget,
    label: &str,
    title: &str,
    snapshot: i64,
    regressions: &[concord_checks::finding::Finding],
    report: &CheckReport,
) -> RegressionOutcome {
    let mut outcome = RegressionOutcome {
        tracker: format!("github {}", target.repo),
        action: IssueAction::Nothing,
        reference: None,
        open: 0,
        error: None,
    };
    if let Err(e) = github_issue_steps(
        target,
        label,
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

fn github_issue_steps(
    target: &GitHubTarget,
    label: &str,
    title: &str,
    snapshot: i64,
    regressions: &[concord_checks::finding::Finding],
    report: &CheckReport,
    outcome: &mut RegressionOutcome,
) -> Result<(), String> {
    let repo = target.repo.as_str();
    let token = std::env::var(&target.token_env)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            format!(
                "no token in ${}: the issue was not updated",
                target.token_env
            )
        })?;
    let client = GitHub::new(&target.url, &token)?;
    let mut marked: Vec<_> = client
        .issues_labelled(repo, label)
        .map_err(|e| format!("reading the issues labelled `{label}`: {e}"))?
        .into_iter()
        .filter(|i| feedback::is_marked(i.body.as_deref().unwrap_or(""), REGRESSION_MARKER))
        .collect();
    // The open one (the oldest, if people made copies), else the newest closed.
    marked.sort_by_key(|i| (i.state != "open", i.number));
    if marked.first().is_some_and(|i| i.state != "open") {
        marked.sort_by_key(|i| std::cmp::Reverse(i.number));
    }
    let existing = marked.first().map(|i| TrackedIssue {
        open: i.state == "open",
        body: i.body.clone().unwrap_or_default(),
    });
    let plan = feedback::regression_plan(existing.as_ref(), regressions, &report.findings);
    outcome.action = plan.action;
    outcome.open = plan.open;
    let fail = |what: &str, e: GhError| format!("{what}: {e}");
    let number = match (plan.action, marked.first()) {
        (IssueAction::Nothing, issue) => {
            outcome.reference = issue.map(|i| i.html_url.clone());
            return close_copies(&client, repo, &marked);
        }
        (IssueAction::Create, _) => {
            let issue = client
                .create_issue(
                    repo,
                    &NewIssue {
                        title: title.into(),
                        body: plan.body.clone(),
                        labels: vec![label.into()],
                    },
                )
                .map_err(|e| fail("opening the issue", e))?;
            outcome.reference = Some(issue.html_url);
            return Ok(());
        }
        (_, Some(issue)) => {
            outcome.reference = Some(issue.html_url.clone());
            issue.number
        }
        (_, None) => return Ok(()),
    };
    let note = match plan.action {
        IssueAction::Close => format!(
            "Snapshot {snapshot} no longer has the {} finding(s) this issue was about: closing.",
            plan.resolved
        ),
        IssueAction::Reopen => format!(
            "Snapshot {snapshot} regressed again: {} new gating finding(s).",
            plan.new
        ),
        _ if plan.new > 0 => format!(
            "Snapshot {snapshot}: {} more gating finding(s); {} open, {} resolved.",
            plan.new, plan.open, plan.resolved
        ),
        _ => format!(
            "Snapshot {snapshot}: {} resolved, {} still open.",
            plan.resolved, plan.open
        ),
    };
    client
        .create_comment(repo, number, &note)
        .map_err(|e| fail("commenting on the issue", e))?;
    let update = match plan.action {
        IssueAction::Close => IssueUpdate {
            state: Some("closed".into()),
            state_reason: Some("completed".into()),
            ..IssueUpdate::default()
        },
        IssueAction::Reopen => IssueUpdate {
            state: Some("open".into()),
            body: Some(plan.body),
            ..IssueUpdate::default()
        },
        _ => IssueUpdate {
            body: Some(plan.body),
            ..IssueUpdate::default()
        },
    };
    client
        .update_issue(repo, number, &update)
        .map_err(|e| fail("updating the issue", e))?;
    close_copies(&client, repo, &marked)
}

/// Copies people made of the issue (marked, open, not the first) are
/// closed as duplicates of it.
fn close_copies(
    client: &GitHub,
    repo: &str,
    marked: &[concord_trackers::github::Issue],
) -> Result<(), String> {
    for copy in marked.iter().skip(1).filter(|i| i.state == "open") {
        let duplicate = IssueUpdate {
            state: Some("closed".into()),
            state_reason: Some("duplicate".into()),
            ..IssueUpdate::default()
        };
        client
            .update_issue(repo, copy.number, &duplicate)
            .map_err(|e| format!("closing the duplicate issue #{}: {e}", copy.number))?;
    }
    Ok(())
}
