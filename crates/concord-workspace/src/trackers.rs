//! `[[tracker]]` entries: OpenProject projects and GitHub repositories as
//! sync sources. Only configuration lives here; the clients are in
//! `concord-trackers` and the CLI joins the two.

use crate::config::{Errors, did_you_mean};
use concord_model::Workflow;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTracker {
    /// The name rules use for this tracker.
    #[schemars(with = "String")]
    name: Spanned<String>,
    /// The tracker.
    #[schemars(with = "String")]
    #[schemars(extend("enum" = ["openproject", "github"]))]
    kind: Spanned<String>,
    /// The `[[workflow]]` its statuses map onto.
    #[schemars(with = "String")]
    workflow: Spanned<String>,
    /// The server (GitHub Enterprise or OpenProject base URL).
    #[schemars(with = "Option<String>")]
    url: Option<Spanned<String>>,
    /// The environment variable holding the token (never the token itself).
    #[schemars(with = "Option<String>")]
    token_env: Option<Spanned<String>>,
    // openproject
    #[schemars(with = "Option<String>")]
    project: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    key: Option<Spanned<String>>,
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    status_names: Option<Spanned<BTreeMap<String, String>>>,
    comment: Option<bool>,
    // github
    #[schemars(with = "Option<Vec<String>>")]
    repos: Option<Spanned<Vec<String>>>,
    #[schemars(with = "Option<String>")]
    open: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    closed: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    not_planned: Option<Spanned<String>>,
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    labels: Option<Spanned<BTreeMap<String, String>>>,
    // both
    #[schemars(with = "Option<usize>")]
    concurrency: Option<Spanned<usize>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackerKind {
    OpenProject {
        /// Read this project's work packages; without it, the ids other
        /// sources name through the key template are read.
        project: Option<String>,
        /// `wp#{id}`: how a work package id becomes an item key.
        key_template: String,
        /// Post a comment saying what concord changed and why.
        comment: bool,
    },
    GitHub {
        /// `owner/name` of each repository whose issues are items
        /// (`owner/name#number`).
        repos: Vec<String>,
        /// Canonical statuses: open issue, closed as completed, closed as
        /// not planned.
        open: String,
        closed: String,
        not_planned: String,
        /// Label name -> canonical status, for statuses between open and
        /// closed (`status: in progress` -> `in_progress`).
        labels: BTreeMap<String, String>,
    },
}

#[derive(Debug, Clone)]
pub struct Tracker {
    pub name: String,
    pub kind: TrackerKind,
    /// Base URL (API root for GitHub).
    pub url: String,
    pub token_env: String,
    /// Index into `Workspace::workflows`.
    pub workflow: usize,
    /// Canonical status -> the tracker's own name for it, where they differ.
    pub status_names: BTreeMap<String, String>,
    /// Requests in flight at once.
    pub concurrency: usize,
}

impl Tracker {
    /// The tracker's word for a canonical status.
    pub fn native_name<'a>(&'a self, canonical: &'a str) -> &'a str {
        self.status_names
            .get(canonical)
            .map_or(canonical, String::as_str)
    }
}

impl RawTracker {
    pub(crate) fn name(&self) -> &Spanned<String> {
        &self.name
    }
}

const KINDS: [&str; 2] = ["openproject", "github"];
pub const DEFAULT_CONCURRENCY: usize = 8;

pub(crate) fn validate_tracker(
    raw: RawTracker,
    workflows: &[Workflow],
    errors: &Errors<'_>,
) -> Result<Tracker, crate::ConfigError> {
    let name = raw.name.get_ref().clone();
    let workflow = workflows
        .iter()
        .position(|w| w.name() == raw.workflow.get_ref())
        .ok_or_else(|| {
            errors.with_help(
                raw.workflow.span(),
                format!("unknown workflow `{}`", raw.workflow.get_ref()),
                did_you_mean(raw.workflow.get_ref(), workflows.iter().map(|w| w.name())),
            )
        })?;
    let flow = &workflows[workflow];
    let mut status_names = BTreeMap::new();
    if let Some(names) = &raw.status_names {
        for (canonical, native) in names.get_ref() {
            let status = check_status(flow, errors, canonical, names.span())?;
            status_names.insert(status, native.clone());
        }
    }
    let concurrency = match &raw.concurrency {
        Some(c) if *c.get_ref() == 0 || *c.get_ref() > 64 => {
            return Err(errors.at(c.span(), "concurrency must be between 1 and 64"));
        }
        Some(c) => *c.get_ref(),
        None => DEFAULT_CONCURRENCY,
    };
    let (kind, url, token_env) = match raw.kind.get_ref().as_str() {
        "openproject" => openproject_kind(&raw, errors)?,
        "github" => github_kind(&raw, flow, errors)?,
        other => {
            return Err(errors.with_help(
                raw.kind.span(),
                format!("unknown tracker kind `{other}`"),
                did_you_mean(other, KINDS).or(Some("kinds: openproject, github".into())),
            ));
        }
    };
    let token_env = match &raw.token_env {
        Some(var) => checked_token_env(var, errors)?,
        None => token_env,
    };
    Ok(Tracker {
        name,
        kind,
        url,
        token_env,
        workflow,
        status_names,
        concurrency,
    })
}

/// A tracker's kind, its URL and the variable its token is read from.
type KindParts = (TrackerKind, String, String);

/// A canonical status named in a tracker's mapping must exist.
fn check_status(
    flow: &Workflow,
    errors: &Errors<'_>,
    word: &str,
    span: std::ops::Range<usize>,
) -> Result<String, crate::ConfigError> {
    flow.resolve(word).map(|s| s.name.clone()).ok_or_else(|| {
        errors.with_help(
            span,
            format!("`{word}` is not a status of workflow `{}`", flow.name()),
            did_you_mean(word, flow.statuses().iter().map(|s| s.name.as_str())),
        )
    })
}

/// An option of the other kind of tracker is an error, not ignored.
fn not_for(
    errors: &Errors<'_>,
    option: &str,
    span: Option<std::ops::Range<usize>>,
    kind: &str,
) -> Result<(), crate::ConfigError> {
    match span {
        Some(at) => Err(errors.at(at, format!("`{option}` is for {kind} trackers"))),
        None => Ok(()),
    }
}

fn tracker_url(
    raw: &RawTracker,
    errors: &Errors<'_>,
    default: Option<&str>,
) -> Result<String, crate::ConfigError> {
    match (&raw.url, default) {
        (Some(url), _) => check_url(url.get_ref()).map_err(|why| errors.at(url.span(), why)),
        (None, Some(default)) => Ok(default.to_string()),
        (None, None) => Err(errors.at(
            raw.kind.span(),
            format!(
                "tracker `{}` needs `url` (e.g. url = \"https://openproject.example.com\")",
                raw.name.get_ref()
            ),
        )),
    }
}

fn openproject_kind(
    raw: &RawTracker,
    errors: &Errors<'_>,
) -> Result<KindParts, crate::ConfigError> {
    not_for(
        errors,
        "repos",
        raw.repos.as_ref().map(Spanned::span),
        "github",
    )?;
    not_for(
        errors,
        "open",
        raw.open.as_ref().map(Spanned::span),
        "github",
    )?;
    not_for(
        errors,
        "closed",
        raw.closed.as_ref().map(Spanned::span),
        "github",
    )?;
    not_for(
        errors,
        "not_planned",
        raw.not_planned.as_ref().map(Spanned::span),
        "github",
    )?;
    not_for(
        errors,
        "labels",
        raw.labels.as_ref().map(Spanned::span),
        "github",
    )?;
    let key_template = match &raw.key {
        Some(key) => {
            let text = key.get_ref();
            if text.matches("{id}").count() != 1 {
                return Err(errors.with_help(
                    key.span(),
                    format!("key template `{text}` must contain `{{id}}` once"),
                    Some("e.g. key = \"wp#{id}\"".into()),
                ));
            }
            text.clone()
        }
        None => "wp#{id}".to_string(),
    };
    Ok((
        TrackerKind::OpenProject {
            project: raw.project.as_ref().map(|p| p.get_ref().clone()),
            key_template,
            comment: raw.comment.unwrap_or(false),
        },
        tracker_url(raw, errors, None)?,
        "OPENPROJECT_API_KEY".to_string(),
    ))
}

fn github_kind(
    raw: &RawTracker,
    flow: &Workflow,
    errors: &Errors<'_>,
) -> Result<KindParts, crate::ConfigError> {
    not_for(
        errors,
        "project",
        raw.project.as_ref().map(Spanned::span),
        "openproject",
    )?;
    not_for(
        errors,
        "key",
        raw.key.as_ref().map(Spanned::span),
        "openproject",
    )?;
    let repos = raw
        .repos
        .as_ref()
        .filter(|r| !r.get_ref().is_empty())
        .ok_or_else(|| {
            errors.at(
                raw.kind.span(),
                format!(
                    "tracker `{}` needs `repos` (e.g. repos = [\"acme/app\"])",
                    raw.name.get_ref()
                ),
            )
        })?;
    for repo in repos.get_ref() {
        let parts: Vec<&str> = repo.split('/').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(errors.at(repos.span(), format!("`{repo}` is not `owner/name`")));
        }
    }
    let status = |field: &Option<Spanned<String>>, default: &str| match field {
        Some(s) => check_status(flow, errors, s.get_ref(), s.span()),
        None => check_status(flow, errors, default, raw.kind.span()),
    };
    let mut labels = BTreeMap::new();
    if let Some(map) = &raw.labels {
        for (label, canonical) in map.get_ref() {
            labels.insert(
                label.clone(),
                check_status(flow, errors, canonical, map.span())?,
            );
        }
    }
    Ok((
        TrackerKind::GitHub {
            repos: repos.get_ref().clone(),
            open: status(&raw.open, first_status(flow))?,
            closed: status(&raw.closed, "done")?,
            not_planned: status(&raw.not_planned, "cancelled")?,
            labels,
        },
        tracker_url(raw, errors, Some("https://api.github.com"))?,
        "GITHUB_TOKEN".to_string(),
    ))
}

/// `token_env` names a variable; a value that looks like anything else is
/// probably the token itself, which must never be in the config.
fn checked_token_env(
    var: &Spanned<String>,
    errors: &Errors<'_>,
) -> Result<String, crate::ConfigError> {
    let text = var.get_ref();
    let valid = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !text.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(errors.with_help(
            var.span(),
            "token_env names an environment variable, not the token itself",
            Some("e.g. token_env = \"OPENPROJECT_API_KEY\"; set the token in that variable".into()),
        ));
    }
    Ok(text.clone())
}

fn first_status(flow: &Workflow) -> &str {
    flow.statuses().first().map_or("todo", |s| s.name.as_str())
}

fn check_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim().trim_end_matches('/');
    match trimmed.split_once("://") {
        None => Err(format!(
            "url `{url}` has no scheme: write it as https://{trimmed}"
        )),
        Some((scheme, _)) if !matches!(scheme, "http" | "https") => Err(format!(
            "url `{url}`: only http:// and https:// are supported"
        )),
        Some((_, "")) => Err(format!("url `{url}` names no host")),
        Some(_) => Ok(trimmed.to_string()),
    }
}
