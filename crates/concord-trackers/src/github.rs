//! GitHub REST (API version 2022-11-28): repository issues and pull
//! requests, read in bulk (100 a page, following `Link: rel="next"`) and
//! optionally through an [`EtagCache`] so unchanged pages come back as free
//! 304s; issue updates and pull-request creation. What concord writes to
//! report check results (labelled issues, comments, commit statuses) is in
//! [`crate::github_feedback`].
//!
//! Errors say what GitHub said (never the token) and are sorted into what
//! a caller acts on differently: bad token, missing permission, not found,
//! rejected change, rate limit.

use crate::http::{Auth, HttpClient, HttpError, Response, RetryPolicy, Stats, status_error};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

pub const API_VERSION: &str = "2022-11-28";
const MEDIA_TYPE: &str = "application/vnd.github+json";

/// A GitHub release, as far as concord reads it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
}

/// A tag in a URL path (or a value in a query): every byte but unreserved
/// ones escaped, `/` too.
pub(crate) fn encode_path(tag: &str) -> String {
    tag.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum GhError {
    #[error("GitHub did not accept the token ({message}); check that it is valid and not expired")]
    Unauthorized { message: String },
    #[error("GitHub refused the request ({message}); the token may lack a scope or permission")]
    Forbidden { message: String },
    #[error("{what} was not found on GitHub (or the token cannot see it)")]
    NotFound { what: String },
    #[error("GitHub rejected the change: {message}{}", list_errors(errors))]
    Invalid {
        message: String,
        errors: Vec<String>,
    },
    #[error("GitHub's rate limit is used up; {}", describe_reset(*reset))]
    RateLimited {
        /// When the limit resets, in epoch seconds, if GitHub said.
        reset: Option<u64>,
    },
    #[error("`{repo}` is not a GitHub repository of the form owner/name")]
    BadRepo { repo: String },
    #[error("unexpected answer from GitHub: {message}")]
    Protocol { message: String },
    #[error(transparent)]
    Http(#[from] HttpError),
}

fn list_errors(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!(" ({})", errors.join("; "))
    }
}

fn describe_reset(reset: Option<u64>) -> String {
    match reset {
        Some(reset) => {
            let wait = reset.saturating_sub(now_secs());
            format!("it resets in {wait} s (at epoch {reset})")
        }
        None => "try again later".into(),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An issue (pull requests excluded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    /// "open" or "closed".
    pub state: String,
    /// "completed", "not_planned", "duplicate", "reopened" or none.
    pub state_reason: Option<String>,
    pub labels: Vec<String>,
    /// As GitHub sends it, `YYYY-MM-DDTHH:MM:SSZ`.
    pub updated_at: String,
    pub html_url: String,
    /// The issue's text (markdown); `None` when it has none.
    #[serde(default)]
    pub body: Option<String>,
}

/// The fields of an issue to change; `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueUpdate {
    /// "open" or "closed".
    pub state: Option<String>,
    /// With `state: "closed"`: "completed", "not_planned" or "duplicate".
    pub state_reason: Option<String>,
    /// Replaces every label.
    pub labels: Option<Vec<String>>,
    pub title: Option<String>,
    /// Replaces the issue's text.
    pub body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pull {
    pub number: u64,
    /// "open" or "closed" (a merged pull request is closed).
    pub state: String,
    pub merged: bool,
    pub head_ref: String,
    pub base_ref: String,
    pub title: String,
    pub html_url: String,
    /// The sha of the head commit, where commit statuses go.
    #[serde(default)]
    pub head_sha: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewPull {
    pub title: String,
    /// A branch of the repository (or `owner:branch`).
    pub head: String,
    pub base: String,
    pub body: String,
}

/// Validators and bodies of listing pages, keyed by URL, kept between
/// runs (it serializes) so unchanged pages cost a free 304.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EtagCache {
    pages: BTreeMap<String, CachedPage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CachedPage {
    etag: String,
    body: Value,
    /// The page's `rel="next"`: a 304 need not repeat the `Link` header.
    next: Option<String>,
    /// The listing's first page, to drop pages a listing no longer has.
    listing: String,
}

impl EtagCache {
    pub fn new() -> EtagCache {
        EtagCache::default()
    }

    /// Pages held.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    pub fn clear(&mut self) {
        self.pages.clear();
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawLabel {
    Named { name: String },
    Plain(String),
}

#[derive(Deserialize)]
pub(crate) struct RawIssue {
    number: u64,
    title: String,
    state: String,
    #[serde(default)]
    state_reason: Option<String>,
    #[serde(default)]
    labels: Vec<RawLabel>,
    updated_at: String,
    #[serde(default)]
    html_url: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    pull_request: Option<Value>,
}

impl From<RawIssue> for Issue {
    fn from(raw: RawIssue) -> Issue {
        Issue {
            number: raw.number,
            title: raw.title,
            state: raw.state,
            state_reason: raw.state_reason,
            labels: raw
                .labels
                .into_iter()
                .map(|l| match l {
                    RawLabel::Named { name } | RawLabel::Plain(name) => name,
                })
                .collect(),
            updated_at: raw.updated_at,
            html_url: raw.html_url,
            body: raw.body,
        }
    }
}

#[derive(Deserialize)]
struct RawRef {
    #[serde(rename = "ref")]
    name: String,
    #[serde(default)]
    sha: String,
}

#[derive(Deserialize)]
struct RawPull {
    number: u64,
    state: String,
    title: String,
    #[serde(default)]
    html_url: String,
    #[serde(default)]
    merged_at: Option<String>,
    /// Only the single-pull endpoint sends it.
    #[serde(default)]
    merged: Option<bool>,
    head: RawRef,
    base: RawRef,
}

impl From<RawPull> for Pull {
    fn from(raw: RawPull) -> Pull {
        Pull {
            number: raw.number,
            state: raw.state,
            merged: raw.merged.unwrap_or(raw.merged_at.is_some()),
            head_ref: raw.head.name,
            base_ref: raw.base.name,
            title: raw.title,
            html_url: raw.html_url,
            head_sha: raw.head.sha,
        }
    }
}

/// The `rel="next"` target of a `Link` header.
fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>')?;
        let url = &rest[open + 1..close];
        let after = &rest[close + 1..];
        let params_end = after.find('<').unwrap_or(after.len());
        // Parameters run up to the comma before the next link.
        let params = after[..params_end].trim_end().trim_end_matches(',');
        let is_next = params.split(';').any(|p| {
            let Some((key, value)) = p.split_once('=') else {
                return false;
            };
            key.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(url.to_string());
        }
        rest = &after[params_end..];
    }
    None
}

/// `scheme://host[:port]` of a URL, lowercased.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("{scheme}://{host}").to_ascii_lowercase()
}

pub(crate) fn check_repo(repo: &str) -> Result<&str, GhError> {
    let ok = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match repo.split_once('/') {
        Some((owner, name)) if ok(owner) && ok(name) => Ok(repo),
        _ => Err(GhError::BadRepo {
            repo: repo.to_string(),
        }),
    }
}

/// A GitHub REST client for one API root (`https://api.github.com`, or a
/// GitHub Enterprise `https://host/api/v3`).
#[derive(Debug, Clone)]
pub struct GitHub {
    http: HttpClient,
}

impl GitHub {
    /// Bearer authentication with `token`; sends GitHub's media type and
    /// pins the API version.
    pub fn new(api_url: &str, token: &str) -> Result<GitHub, String> {
        // Tokens read from files often end in a newline.
        let token = token.trim();
        if token.is_empty() {
            return Err("the GitHub token is empty".into());
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the GitHub token contains spaces or control characters".into());
        }
        let http = HttpClient::new(api_url, Auth::Bearer(token.to_string()))?
            .with_header("accept", MEDIA_TYPE)
            .with_header("x-github-api-version", API_VERSION);
        Ok(GitHub { http })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    pub fn stats(&self) -> &Stats {
        self.http.stats()
    }

    /// Every issue of `repo` (`owner/name`), open and closed, pull
    /// requests left out.
    pub fn issues(&self, repo: &str) -> Result<Vec<Issue>, GhError> {
        self.list_issues(repo, None)
    }

    /// Like [`issues`](Self::issues), asking with the cached ETags; pages
    /// answered 304 are read from `cache`, and the cache is updated.
    pub fn issues_cached(&self, repo: &str, cache: &mut EtagCache) -> Result<Vec<Issue>, GhError> {
        self.list_issues(repo, Some(cache))
    }

    fn list_issues(
        &self,
        repo: &str,
        cache: Option<&mut EtagCache>,
    ) -> Result<Vec<Issue>, GhError> {
        let repo = check_repo(repo)?;
        let first = format!("/repos/{repo}/issues?state=all&per_page=100");
        self.issues_at(&first, &format!("repository {repo}"), cache)
    }

    /// The issues of an issue listing, every page, pull requests left out.
    pub(crate) fn issues_at(
        &self,
        first: &str,
        what: &str,
        cache: Option<&mut EtagCache>,
    ) -> Result<Vec<Issue>, GhError> {
        let values = self.walk(first, what, cache)?;
        let mut seen = HashSet::new();
        let mut issues = Vec::new();
        for value in values {
            let raw: RawIssue = parse(value, "an issue")?;
            // Listings can shift under a walk; keep the first copy.
            if raw.pull_request.is_none() && seen.insert(raw.number) {
                issues.push(Issue::from(raw));
            }
        }
        Ok(issues)
    }

    /// The number of every issue and pull request of `repo`, open and
    /// closed: the issues listing holds both, 100 a page along
    /// `rel="next"`, each page asked with its cached ETag (an unchanged
    /// page is a free 304). For checking many citations in a few requests.
    pub fn numbers_cached(
        &self,
        repo: &str,
        cache: &mut EtagCache,
    ) -> Result<std::collections::BTreeSet<u64>, GhError> {
        #[derive(Deserialize)]
        struct Numbered {
            number: u64,
        }
        let repo = check_repo(repo)?;
        let first = format!("/repos/{repo}/issues?state=all&per_page=100");
        let values = self.walk(&first, &format!("repository {repo}"), Some(cache))?;
        values
            .into_iter()
            .map(|value| parse::<Numbered>(value, "an issue").map(|n| n.number))
            .collect()
    }

    /// One issue (GitHub also answers for a pull request's number).
    pub fn issue(&self, repo: &str, number: u64) -> Result<Issue, GhError> {
        let repo = check_repo(repo)?;
        let response = self.call(
            "GET",
            &format!("/repos/{repo}/issues/{number}"),
            None,
            &format!("issue {repo}#{number}"),
        )?;
        let raw: RawIssue = parse(response.json()?, "an issue")?;
        Ok(raw.into())
    }

    pub fn update_issue(
        &self,
        repo: &str,
        number: u64,
        update: &IssueUpdate,
    ) -> Result<Issue, GhError> {
        let repo = check_repo(repo)?;
        let mut body = serde_json::Map::new();
        if let Some(state) = &update.state {
            body.insert("state".into(), json!(state));
        }
        if let Some(reason) = &update.state_reason {
            body.insert("state_reason".into(), json!(reason));
        }
        if let Some(labels) = &update.labels {
            body.insert("labels".into(), json!(labels));
        }
        if let Some(title) = &update.title {
            body.insert("title".into(), json!(title));
        }
        if let Some(text) = &update.body {
            body.insert("body".into(), json!(text));
        }
        let response = self.call(
            "PATCH",
            &format!("/repos/{repo}/issues/{number}"),
            Some(&Value::Object(body)),
            &format!("issue {repo}#{number}"),
        )?;
        let raw: RawIssue = parse(response.json()?, "an issue")?;
        Ok(raw.into())
    }

    /// Every pull request of `repo`, open and closed.
    pub fn pulls(&self, repo: &str) -> Result<Vec<Pull>, GhError> {
        self.list_pulls(repo, None)
    }

    /// Like [`pulls`](Self::pulls), through the ETag cache.
    pub fn pulls_cached(&self, repo: &str, cache: &mut EtagCache) -> Result<Vec<Pull>, GhError> {
        self.list_pulls(repo, Some(cache))
    }

    fn list_pulls(&self, repo: &str, cache: Option<&mut EtagCache>) -> Result<Vec<Pull>, GhError> {
        let repo = check_repo(repo)?;
        let first = format!("/repos/{repo}/pulls?state=all&per_page=100");
        let values = self.walk(&first, &format!("repository {repo}"), cache)?;
        let mut seen = HashSet::new();
        let mut pulls = Vec::new();
        for value in values {
            let raw: RawPull = parse(value, "a pull request")?;
            if seen.insert(raw.number) {
                pulls.push(Pull::from(raw));
            }
        }
        Ok(pulls)
    }

    pub fn pull(&self, repo: &str, number: u64) -> Result<Pull, GhError> {
        let repo = check_repo(repo)?;
        let response = self.call(
            "GET",
            &format!("/repos/{repo}/pulls/{number}"),
            None,
            &format!("pull request {repo}#{number}"),
        )?;
        let raw: RawPull = parse(response.json()?, "a pull request")?;
        Ok(raw.into())
    }

    pub fn create_pull(&self, repo: &str, new: &NewPull) -> Result<Pull, GhError> {
        let repo = check_repo(repo)?;
        let body = json!({
            "title": new.title,
            "head": new.head,
            "base": new.base,
            "body": new.body,
        });
        let response = self.call(
            "POST",
            &format!("/repos/{repo}/pulls"),
            Some(&body),
            &format!("repository {repo}"),
        )?;
        let raw: RawPull = parse(response.json()?, "a pull request")?;
        Ok(raw.into())
    }

    /// `PATCH /repos/{repo}/pulls/{number}`: a new title and body (a branch
    /// pushed again needs no call: the pull request follows its head).
    pub fn update_pull(
        &self,
        repo: &str,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<Pull, GhError> {
        let repo = check_repo(repo)?;
        let payload = json!({"title": title, "body": body});
        let response = self.call(
            "PATCH",
            &format!("/repos/{repo}/pulls/{number}"),
            Some(&payload),
            &format!("pull request {repo}#{number}"),
        )?;
        let raw: RawPull = parse(response.json()?, "a pull request")?;
        Ok(raw.into())
    }

    /// `GET /repos/{repo}/releases/tags/{tag}`: the release of a tag, if
    /// there is one.
    pub fn release_by_tag(&self, repo: &str, tag: &str) -> Result<Option<Release>, GhError> {
        let repo = check_repo(repo)?;
        match self.call(
            "GET",
            &format!("/repos/{repo}/releases/tags/{}", encode_path(tag)),
            None,
            &format!("the release of tag {tag} in {repo}"),
        ) {
            Ok(response) => Ok(Some(parse(response.json()?, "a release")?)),
            Err(GhError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /repos/{repo}/releases`: a published release of an existing tag.
    pub fn create_release(
        &self,
        repo: &str,
        tag: &str,
        name: &str,
        body: &str,
    ) -> Result<Release, GhError> {
        let repo = check_repo(repo)?;
        let payload = json!({"tag_name": tag, "name": name, "body": body});
        let response = self.call(
            "POST",
            &format!("/repos/{repo}/releases"),
            Some(&payload),
            &format!("repository {repo}"),
        )?;
        parse(response.json()?, "a release")
    }

    /// One request; anything but 2xx becomes a [`GhError`]. The body is
    /// left unread: a 204 (a deletion) has none.
    pub(crate) fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Response, GhError> {
        let response = self.http.send(method, path, &[], body)?;
        if (200..300).contains(&response.status) {
            Ok(response)
        } else {
            Err(gh_error(&response, what))
        }
    }

    /// Every item of a paginated listing, page by page along `rel="next"`.
    pub(crate) fn walk(
        &self,
        first: &str,
        what: &str,
        mut cache: Option<&mut EtagCache>,
    ) -> Result<Vec<Value>, GhError> {
        let listing = self.http.url(first);
        let home = origin(self.http.base());
        let mut url = listing.clone();
        let mut visited = HashSet::new();
        let mut items = Vec::new();
        loop {
            if !visited.insert(url.clone()) {
                return Err(GhError::Protocol {
                    message: format!("pagination of {what} came back to {url}"),
                });
            }
            let cached = cache.as_deref().and_then(|c| c.pages.get(&url)).cloned();
            let mut headers = Vec::new();
            if let Some(page) = &cached {
                headers.push(("if-none-match", page.etag.as_str()));
            }
            let response = self.http.send("GET", &url, &headers, None)?;
            let (body, next) = match (response.status, cached) {
                (304, Some(page)) => (page.body, page.next),
                (304, None) => {
                    return Err(GhError::Protocol {
                        message: format!(
                            "{url} answered 304 to a request that was not conditional"
                        ),
                    });
                }
                (200..=299, _) => {
                    let body: Value = response.json()?;
                    let next = response.header("link").and_then(next_link);
                    if let (Some(cache), Some(etag)) =
                        (cache.as_deref_mut(), response.header("etag"))
                    {
                        cache.pages.insert(
                            url.clone(),
                            CachedPage {
                                etag: etag.to_string(),
                                body: body.clone(),
                                next: next.clone(),
                                listing: listing.clone(),
                            },
                        );
                    }
                    (body, next)
                }
                _ => return Err(gh_error(&response, what)),
            };
            let Value::Array(page) = body else {
                return Err(GhError::Protocol {
                    message: format!("{url} did not answer with a JSON array"),
                });
            };
            items.extend(page);
            match next {
                // The token goes wherever the link points: only follow it
                // on the API's own origin.
                Some(next) if origin(&next) == home => url = next,
                Some(next) => {
                    return Err(GhError::Protocol {
                        message: format!(
                            "the next page of {what} is on another host ({}); not following it",
                            origin(&next)
                        ),
                    });
                }
                None => break,
            }
        }
        if let Some(cache) = cache {
            // Pages past the new end (the listing shrank) are stale.
            cache
                .pages
                .retain(|page_url, page| page.listing != listing || visited.contains(page_url));
        }
        Ok(items)
    }
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    value: Value,
    what: &str,
) -> Result<T, GhError> {
    serde_json::from_value(value).map_err(|e| GhError::Protocol {
        message: format!("{what} could not be read: {e}"),
    })
}

/// Sorts a failed response into what the caller acts on.
fn gh_error(response: &Response, what: &str) -> GhError {
    let error = status_error(response);
    let message = error.message();
    let header_secs = |name: &str| {
        response
            .header(name)
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let exhausted = response.header("x-ratelimit-remaining").map(str::trim) == Some("0");
    let secondary = response.header("retry-after").is_some()
        || message
            .to_ascii_lowercase()
            .contains("secondary rate limit");
    match response.status {
        401 => GhError::Unauthorized { message },
        403 | 429 if exhausted => GhError::RateLimited {
            reset: header_secs("x-ratelimit-reset"),
        },
        403 | 429 if secondary || response.status == 429 => GhError::RateLimited {
            reset: header_secs("retry-after")
                .map(|s| now_secs() + s)
                .or_else(|| header_secs("x-ratelimit-reset")),
        },
        403 => GhError::Forbidden { message },
        404 | 410 => GhError::NotFound {
            what: what.to_string(),
        },
        422 => GhError::Invalid {
            errors: validation_errors(&response.body),
            message,
        },
        _ => GhError::Http(error),
    }
}

/// GitHub's `errors` array as `field: code` (or the error's own message).
fn validation_errors(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let Some(errors) = value.get("errors").and_then(Value::as_array) else {
        return Vec::new();
    };
    errors
        .iter()
        .map(|e| {
            let text = |k: &str| e.get(k).and_then(Value::as_str);
            match (e.as_str(), text("field"), text("message"), text("code")) {
                (Some(plain), ..) => plain.to_string(),
                (None, Some(field), Some(message), _) => format!("{field}: {message}"),
                (None, None, Some(message), _) => message.to_string(),
                (None, Some(field), None, code) => {
                    format!("{field}: {}", code.unwrap_or("invalid"))
                }
                (None, None, None, code) => code.unwrap_or("invalid").to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_are_found_among_the_others() {
        let header = "<https://api.github.com/repositories/1/issues?per_page=2&page=1>; rel=\"prev\", \
                      <https://api.github.com/repositories/1/issues?per_page=2&page=3>; rel=\"next\", \
                      <https://api.github.com/repositories/1/issues?per_page=2&page=9>; rel=\"last\"";
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://api.github.com/repositories/1/issues?per_page=2&page=3")
        );
        assert_eq!(next_link("<https://x/a?page=1>; rel=\"first\""), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(
            origin("https://API.github.com/repos/a/b?x=1"),
            "https://api.github.com"
        );
        assert_eq!(origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_ne!(
            origin("http://127.0.0.1:8081/x"),
            origin("http://127.0.0.1:8080")
        );
    }

    #[test]
    fn repository_names_are_owner_slash_name() {
        assert!(check_repo("octo/hello-world.rs").is_ok());
        for bad in ["octo", "octo/", "/x", "a/b/c", "a/..", "a b/c", "a/b?x"] {
            assert!(check_repo(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_errors_read_as_field_and_code() {
        let body = br#"{"message":"Validation Failed","errors":[
            {"resource":"Issue","field":"state","code":"invalid"},
            {"resource":"PullRequest","code":"custom","message":"A pull request already exists for o:b."},
            "plain text"]}"#;
        assert_eq!(
            validation_errors(body),
            [
                "state: invalid",
                "A pull request already exists for o:b.",
                "plain text"
            ]
        );
    }

    #[test]
    fn tokens_are_checked_and_never_shown() {
        assert!(GitHub::new("https://api.github.com", " \n").is_err());
        let err = GitHub::new("https://api.github.com", "ghp a").expect_err("space");
        assert!(!err.contains("ghp"));
        let client = GitHub::new("https://api.github.com", "ghp_secret\n").expect("client");
        assert!(!format!("{client:?}").contains("ghp_secret"));
    }
}
