//! `[checks.regressions]` and `[checks.pull_request]`: where the scheduled
//! and the per-pull-request check layers report what they find (a tracker
//! issue while a regression lasts; a sticky comment and a commit status).
//! Only configuration; concord-app talks to the trackers.

use crate::config::{Errors, did_you_mean};
use crate::trackers::{Tracker, TrackerKind};
use serde::Deserialize;
use toml::Spanned;

pub const DEFAULT_LABEL: &str = "concord-check";
pub const DEFAULT_TITLE: &str = "concord check: findings regressed";
pub const DEFAULT_STATUS: &str = "concord/check";
pub const DEFAULT_API_URL: &str = "https://api.github.com";
pub const DEFAULT_TOKEN_ENV: &str = "GITHUB_TOKEN";

/// One tracker issue, open while a snapshot's regressions last.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRegressions {
    /// `owner/name`: the GitHub repository the issue lives in.
    #[schemars(with = "Option<String>")]
    github: Option<Spanned<String>>,
    /// The label concord puts on the issue and finds it by (with the
    /// marker in its body). Default "concord-check".
    label: Option<String>,
    /// The title. Default "concord check: findings regressed".
    #[schemars(with = "Option<String>")]
    title: Option<Spanned<String>>,
    /// The environment variable holding the GitHub token. Default GITHUB_TOKEN.
    token_env: Option<String>,
    /// The GitHub API root. Default https://api.github.com.
    url: Option<String>,
    /// The `[[tracker]]` (kind openproject, with a project) that gets a work
    /// package too.
    #[schemars(with = "Option<String>")]
    openproject: Option<Spanned<String>>,
}

/// The sticky comment and the commit status of `check --pull-request N`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPullRequest {
    /// The commit status context, e.g. "pm-framework/pr-integrity".
    /// Default "concord/check".
    #[schemars(with = "Option<String>")]
    status: Option<Spanned<String>>,
    /// `owner/name`; default: the GITHUB_REPOSITORY environment variable
    /// (set in GitHub Actions).
    #[schemars(with = "Option<String>")]
    repo: Option<Spanned<String>>,
    /// The environment variable holding the token. Default GITHUB_TOKEN.
    token_env: Option<String>,
    /// The GitHub API root. Default: GITHUB_API_URL, else https://api.github.com.
    url: Option<String>,
}

/// Where the scheduled layer files its issue.
#[derive(Debug, Clone)]
pub struct RegressionReport {
    pub github: Option<GitHubTarget>,
    pub label: String,
    pub title: String,
    /// Index into `Workspace::trackers` (an OpenProject tracker with a project).
    pub openproject: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubTarget {
    pub repo: String,
    pub token_env: String,
    pub url: String,
}

/// Where the per-pull-request layer reports.
#[derive(Debug, Clone)]
pub struct PullRequestReport {
    pub status: String,
    /// `None`: GITHUB_REPOSITORY at run time.
    pub repo: Option<String>,
    pub token_env: String,
    /// `None`: GITHUB_API_URL at run time, else the public API.
    pub url: Option<String>,
}

fn owner_name(
    text: &Spanned<String>,
    what: &str,
    errors: &Errors<'_>,
) -> Result<String, crate::ConfigError> {
    let parts: Vec<&str> = text.get_ref().split('/').collect();
    if parts.len() != 2 || parts.iter().any(|p| p.trim().is_empty()) {
        return Err(errors.at(
            text.span(),
            format!("{what} `{}` is not `owner/name`", text.get_ref()),
        ));
    }
    Ok(text.get_ref().clone())
}

pub(crate) fn validate_regressions(
    raw: RawRegressions,
    trackers: &[Tracker],
    errors: &Errors<'_>,
    table: std::ops::Range<usize>,
) -> Result<RegressionReport, crate::ConfigError> {
    let github = match &raw.github {
        Some(repo) => Some(GitHubTarget {
            repo: owner_name(repo, "github", errors)?,
            token_env: raw
                .token_env
                .clone()
                .unwrap_or_else(|| DEFAULT_TOKEN_ENV.into()),
            url: raw.url.clone().unwrap_or_else(|| DEFAULT_API_URL.into()),
        }),
        None => None,
    };
    let openproject = match &raw.openproject {
        Some(name) => Some(openproject_tracker(name, trackers, errors)?),
        None => None,
    };
    if github.is_none() && openproject.is_none() {
        return Err(errors.with_help(
            table,
            "[checks.regressions] names no tracker",
            Some("set github = \"owner/name\", openproject = \"<tracker name>\", or both".into()),
        ));
    }
    if let Some(title) = raw.title.as_ref().filter(|t| t.get_ref().trim().is_empty()) {
        return Err(errors.at(title.span(), "title is empty"));
    }
    Ok(RegressionReport {
        github,
        label: raw.label.unwrap_or_else(|| DEFAULT_LABEL.into()),
        title: raw
            .title
            .map_or_else(|| DEFAULT_TITLE.into(), Spanned::into_inner),
        openproject,
    })
}

fn openproject_tracker(
    name: &Spanned<String>,
    trackers: &[Tracker],
    errors: &Errors<'_>,
) -> Result<usize, crate::ConfigError> {
    let index = trackers
        .iter()
        .position(|t| &t.name == name.get_ref())
        .ok_or_else(|| {
            errors.with_help(
                name.span(),
                format!("unknown tracker `{}`", name.get_ref()),
                did_you_mean(name.get_ref(), trackers.iter().map(|t| t.name.as_str())),
            )
        })?;
    match &trackers[index].kind {
        TrackerKind::OpenProject {
            project: Some(_), ..
        } => Ok(index),
        TrackerKind::OpenProject { project: None, .. } => Err(errors.with_help(
            name.span(),
            format!("tracker `{}` has no project", name.get_ref()),
            Some("set `project` on that [[tracker]]: the work package is created in it".into()),
        )),
        TrackerKind::GitHub { .. } => Err(errors.with_help(
            name.span(),
            format!("tracker `{}` is not an OpenProject tracker", name.get_ref()),
            Some("for GitHub, set github = \"owner/name\"".into()),
        )),
    }
}

pub(crate) fn validate_pull_request(
    raw: RawPullRequest,
    errors: &Errors<'_>,
) -> Result<PullRequestReport, crate::ConfigError> {
    let status = match &raw.status {
        Some(s) if s.get_ref().trim().is_empty() => {
            return Err(errors.at(s.span(), "status is empty"));
        }
        Some(s) => s.get_ref().clone(),
        None => DEFAULT_STATUS.into(),
    };
    let repo = match &raw.repo {
        Some(repo) => Some(owner_name(repo, "repo", errors)?),
        None => None,
    };
    Ok(PullRequestReport {
        status,
        repo,
        token_env: raw.token_env.unwrap_or_else(|| DEFAULT_TOKEN_ENV.into()),
        url: raw.url,
    })
}
