//! A fake GitHub REST API (version 2022-11-28): repository issues, issue
//! comments, pull requests and commit statuses, with GitHub's authentication, primary rate limit, conditional
//! requests (strong `ETag`, `If-None-Match` -> 304 that costs nothing),
//! `Link` pagination through `/repositories/{id}/...` URLs, and its error
//! bodies (401 Bad credentials, 404 Not Found, 422 Validation Failed).
//!
//! [`FakeGitHub`] seeds and inspects the data; its [`Control`] injects
//! latency and faults (e.g. a secondary-limit 429 with `Retry-After`).

use crate::{Control, FakeServer, credentials};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The only API version the fake serves; others get GitHub's 400.
pub const API_VERSION: &str = "2022-11-28";
const WEB: &str = "https://github.com";
const DOCS_ISSUES: &str = "https://docs.github.com/rest/issues/issues";
const DOCS_PULLS: &str = "https://docs.github.com/rest/pulls/pulls";
const DOCS_RELEASES: &str = "https://docs.github.com/rest/releases/releases";
const DOCS_COMMENTS: &str = "https://docs.github.com/rest/issues/comments";
const DOCS_STATUSES: &str = "https://docs.github.com/rest/commits/statuses";
/// The longest issue or comment body GitHub takes, in characters.
const MAX_BODY_CHARS: usize = 65_536;
/// The longest commit status description GitHub takes, in characters.
const MAX_DESCRIPTION_CHARS: usize = 140;
/// Statuses GitHub keeps per commit and context before refusing more.
const MAX_STATUSES_PER_CONTEXT: usize = 1000;
const STATUS_STATES: [&str; 4] = ["error", "failure", "pending", "success"];
/// The login the token belongs to.
const TOKEN_USER: &str = "octocat";

/// An issue or pull request comment, as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeComment {
    pub id: u64,
    pub body: String,
    /// The author's login.
    pub user: String,
}

/// A commit status, as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeStatus {
    /// "error", "failure", "pending" or "success".
    pub state: String,
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
}

/// A release, as the fake keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeRelease {
    pub id: u64,
    pub tag_name: String,
    pub name: String,
    pub body: String,
}
const DOCS_RATE: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";
const DOCS_AUTH: &str = "https://docs.github.com/rest";
const STATE_REASONS: [&str; 4] = ["completed", "not_planned", "duplicate", "reopened"];

/// A pull request as the fake holds it, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePull {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub head: String,
    pub base: String,
    /// "open" or "closed".
    pub state: String,
    pub merged: bool,
}

/// The primary rate limit as the fake counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u64,
    pub used: u64,
    pub remaining: u64,
    /// Epoch seconds when the window restarts.
    pub reset: u64,
}

struct Rate {
    limit: u64,
    used: u64,
    reset: u64,
    window: u64,
    /// 403 (GitHub's usual answer) or 429.
    status: u16,
}

struct PullPart {
    head: String,
    base: String,
    head_sha: String,
    base_sha: String,
    merged_at: Option<u64>,
    draft: bool,
}

struct Item {
    id: u64,
    number: u64,
    title: String,
    body: Option<String>,
    open: bool,
    state_reason: Option<String>,
    labels: Vec<String>,
    created_at: u64,
    updated_at: u64,
    closed_at: Option<u64>,
    pull: Option<PullPart>,
}

struct CommentRec {
    id: u64,
    /// The issue or pull request it is on.
    number: u64,
    body: String,
    user: String,
    created_at: u64,
    updated_at: u64,
}

struct StatusRec {
    id: u64,
    /// Full, lowercase.
    sha: String,
    state: String,
    context: String,
    description: Option<String>,
    target_url: Option<String>,
    created_at: u64,
}

struct Repo {
    id: u64,
    owner: String,
    name: String,
    /// Branch name -> head commit sha.
    branches: BTreeMap<String, String>,
    /// A git repository standing for this one's git side: its branches are
    /// GitHub's, as pushes to GitHub would make them.
    git_dir: Option<std::path::PathBuf>,
    /// Known labels (id, name), created on first use as GitHub does.
    labels: Vec<(u64, String)>,
    items: BTreeMap<u64, Item>,
    next_number: u64,
    releases: Vec<FakeRelease>,
    /// Issue and pull request comments, oldest first.
    comments: Vec<CommentRec>,
    /// Commit statuses, oldest first.
    statuses: Vec<StatusRec>,
}

impl Repo {
    fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    fn comment_count(&self, number: u64) -> usize {
        self.comments.iter().filter(|c| c.number == number).count()
    }

    /// The sha a pull request's `head` shows: its branch while open, the
    /// sha it had when closed.
    fn pull_head_sha<'a>(&'a self, item: &'a Item, pull: &'a PullPart) -> &'a str {
        self.branches
            .get(&pull.head)
            .filter(|_| item.open)
            .unwrap_or(&pull.head_sha)
    }

    /// The commit `sha` names, lowercased, if this repository has it: a
    /// branch head, a pull request's head or base, or (backed by git) any
    /// commit of the git repository. Only full shas name a commit here.
    fn commit(&self, sha: &str) -> Option<String> {
        if !is_full_sha(sha) {
            return None;
        }
        let sha = sha.to_ascii_lowercase();
        let pulls = self
            .items
            .values()
            .filter_map(|i| i.pull.as_ref().map(|p| (i, p)))
            .flat_map(|(i, p)| [self.pull_head_sha(i, p), &p.head_sha, &p.base_sha]);
        let mut known = self.branches.values().map(String::as_str).chain(pulls);
        if known.any(|k| k.eq_ignore_ascii_case(&sha)) {
            return Some(sha);
        }
        let dir = self.git_dir.as_ref()?;
        let found = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["cat-file", "-e", &format!("{sha}^{{commit}}")])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        found.then_some(sha)
    }

    /// The commit a `ref` names (a sha, a branch, or with git a tag).
    fn resolve(&self, reference: &str) -> Option<String> {
        if let Some(sha) = self.branches.get(reference) {
            return Some(sha.to_ascii_lowercase());
        }
        if is_full_sha(reference) {
            return Some(reference.to_ascii_lowercase());
        }
        let dir = self.git_dir.as_ref()?;
        let output = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &format!("{reference}^{{commit}}"),
            ])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        let sha = String::from_utf8_lossy(&output.stdout).trim().to_string();
        (output.status.success() && is_full_sha(&sha)).then_some(sha)
    }
}

/// 40 (SHA-1) or 64 (SHA-256) hex digits.
fn is_full_sha(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether an issue's labels hold every name of a `labels` filter
/// (comma-separated, compared case-insensitively, as GitHub does).
fn has_labels(labels: &[String], filter: &str) -> bool {
    filter
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .all(|wanted| labels.iter().any(|l| l.eq_ignore_ascii_case(wanted)))
}

/// GitHub's validation error for a text over `max` characters.
fn length_error(resource: &str, field: &str, text: &str, max: usize) -> Option<Value> {
    (text.chars().count() > max).then(|| {
        json!({"resource": resource, "code": "custom", "field": field,
            "message": format!("{field} is too long (maximum is {max} characters)")})
    })
}

/// A combined status: `failure` if any context's latest is an error or a
/// failure, else `pending` if there are none or one is pending, else
/// `success`.
fn combined_state<'a>(latest: impl IntoIterator<Item = &'a str>) -> &'static str {
    let mut any = false;
    let mut pending = false;
    for state in latest {
        any = true;
        match state {
            "error" | "failure" => return "failure",
            "pending" => pending = true,
            _ => {}
        }
    }
    if pending || !any {
        "pending"
    } else {
        "success"
    }
}

struct Hub {
    token: String,
    /// The server's own URL, for absolute links.
    base: String,
    /// Keyed by lowercased `owner/name`: GitHub names are case-insensitive.
    repos: BTreeMap<String, Repo>,
    next_id: u64,
    /// Last timestamp handed out (epoch seconds); strictly increasing.
    clock: u64,
    rate: Rate,
    header_problems: Vec<String>,
}

type Shared = Arc<Mutex<Hub>>;

fn lock(hub: &Shared) -> MutexGuard<'_, Hub> {
    // A panicking test must not wedge the server for later assertions.
    hub.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DDTHH:MM:SSZ`, GitHub's timestamp format.
fn iso(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn fnv(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(seed, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A strong validator derived from the exact body bytes.
fn etag_of(bytes: &[u8]) -> String {
    format!(
        "\"{:016x}{:016x}\"",
        fnv(0xcbf2_9ce4_8422_2325, bytes),
        fnv(0x8422_2325_cbf2_9ce4, bytes)
    )
}

/// `If-None-Match` uses the weak comparison (RFC 9110 13.1.2): `W/` is
/// ignored, a list or `*` may be sent.
fn none_match(header: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    header
        .split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

fn sha_of(text: &str) -> String {
    format!(
        "{:016x}{:016x}{:08x}",
        fnv(1, text.as_bytes()),
        fnv(2, text.as_bytes()),
        fnv(3, text.as_bytes()) as u32
    )
}

fn percent_decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query as sent (raw pairs, for re-emitting in links) and decoded.
struct Query {
    raw: Vec<(String, String)>,
}

impl Query {
    fn parse(query: Option<&str>) -> Query {
        let raw = query
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (p.to_string(), String::new()),
            })
            .collect();
        Query { raw }
    }

    /// The last value given for `name`, decoded.
    fn get(&self, name: &str) -> Option<String> {
        self.raw
            .iter()
            .rev()
            .find(|(k, _)| percent_decode(k) == name)
            .map(|(_, v)| percent_decode(v))
    }

    /// The same query with `page` set to `page`.
    fn with_page(&self, page: u64) -> String {
        let mut parts: Vec<String> = self
            .raw
            .iter()
            .filter(|(k, _)| percent_decode(k) != "page")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.push(format!("page={page}"));
        parts.join("&")
    }
}

/// What a route answers, before the shared headers go on.
struct Reply {
    status: u16,
    body: Value,
    link: Option<String>,
    location: Option<String>,
}

fn release_json(release: &FakeRelease) -> Value {
    json!({
        "id": release.id,
        "tag_name": release.tag_name,
        "name": release.name,
        "body": release.body,
        "draft": false,
        "prerelease": false,
    })
}

impl Reply {
    fn ok(body: Value) -> Reply {
        Reply::with(200, body)
    }

    fn with(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body,
            link: None,
            location: None,
        }
    }

    fn error(status: u16, message: &str, docs: &str) -> Reply {
        Reply::with(
            status,
            json!({"message": message, "documentation_url": docs, "status": status.to_string()}),
        )
    }

    fn not_found(docs: &str) -> Reply {
        Reply::error(404, "Not Found", docs)
    }

    /// 422 Validation Failed with GitHub's `errors` array.
    fn validation(errors: Vec<Value>, docs: &str) -> Reply {
        Reply::with(
            422,
            json!({
                "message": "Validation Failed",
                "errors": errors,
                "documentation_url": docs,
                "status": "422",
            }),
        )
    }

    fn invalid_field(resource: &str, field: &str, value: &Value, docs: &str) -> Reply {
        Reply::validation(
            vec![json!({"resource": resource, "field": field, "code": "invalid", "value": value})],
            docs,
        )
    }

    /// GitHub's answer to a body that does not match the schema.
    fn invalid_request(detail: &str, docs: &str) -> Reply {
        Reply::error(422, &format!("Invalid request.\n\n{detail}"), docs)
    }
}

fn parse_body(body: &[u8], docs: &str) -> Result<serde_json::Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Reply::invalid_request(
            &format!("For 'links/0/schema', {other} is not an object."),
            docs,
        )),
        Err(_) => Err(Reply::error(400, "Problems parsing JSON", docs)),
    }
}

/// A string (or absent/null) property; anything else is a schema error.
fn opt_str(
    map: &serde_json::Map<String, Value>,
    name: &str,
    docs: &str,
) -> Result<Option<String>, Reply> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Reply::invalid_request(
            &format!("For 'properties/{name}', {other} is not a string or null."),
            docs,
        )),
    }
}

/// A required string property: absent is GitHub's "wasn't supplied".
fn req_str(map: &serde_json::Map<String, Value>, name: &str, docs: &str) -> Result<String, Reply> {
    match map.get(name) {
        None => Err(Reply::invalid_request(
            &format!("\"{name}\" wasn't supplied."),
            docs,
        )),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(Reply::invalid_request(
            &format!(
                "For 'properties/{name}', {} is not a string.",
                if other.is_null() {
                    "nil".to_string()
                } else {
                    other.to_string()
                }
            ),
            docs,
        )),
    }
}

/// The `labels` of an issue body: names (or `{"name": ...}` objects),
/// deduplicated case-insensitively; `null` clears. Blank names are
/// validation errors added to `errors`.
fn label_names(
    value: Option<&Value>,
    docs: &str,
    errors: &mut Vec<Value>,
) -> Result<Option<Vec<String>>, Reply> {
    match value {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Vec::new())),
        Some(Value::Array(list)) => {
            let mut names: Vec<String> = Vec::new();
            for entry in list {
                let name = match entry {
                    Value::String(s) => s.clone(),
                    Value::Object(o) => match o.get("name") {
                        Some(Value::String(s)) => s.clone(),
                        _ => {
                            return Err(Reply::invalid_request(
                                "For 'items', a label object needs a \"name\".",
                                docs,
                            ));
                        }
                    },
                    other => {
                        return Err(Reply::invalid_request(
                            &format!("For 'items', {other} is not a string or object."),
                            docs,
                        ));
                    }
                };
                if name.trim().is_empty() {
                    errors.push(
                        json!({"resource": "Label", "field": "name", "code": "missing_field"}),
                    );
                } else if !names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
                    names.push(name);
                }
            }
            Ok(Some(names))
        }
        Some(other) => Err(Reply::invalid_request(
            &format!("For 'properties/labels', {other} is not an array or null."),
            docs,
        )),
    }
}

/// The `body` of a comment being created or edited: required, not blank,
/// at most 65536 characters.
fn comment_body(body: &[u8], docs: &str) -> Result<String, Reply> {
    let map = parse_body(body, docs)?;
    let text = req_str(&map, "body", docs)?;
    let mut errors = Vec::new();
    if text.trim().is_empty() {
        errors.push(json!({"resource": "IssueComment", "code": "missing_field", "field": "body"}));
    }
    errors.extend(length_error("IssueComment", "body", &text, MAX_BODY_CHARS));
    if errors.is_empty() {
        Ok(text)
    } else {
        Err(Reply::validation(errors, docs))
    }
}

impl Hub {
    fn tick(&mut self) -> u64 {
        self.clock = now_secs().max(self.clock + 1);
        self.clock
    }

    /// Seeded data is dated in the past, a minute apart.
    fn seed_tick(&mut self) -> u64 {
        self.clock += 60;
        self.clock
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Label names as the repository spells them, creating the ones it
    /// lacks (GitHub creates labels on first use, keeping an existing
    /// label's case).
    fn intern_labels(&mut self, key: &str, names: Vec<String>) -> Vec<String> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let existing = self.repos.get(key).and_then(|r| {
                r.labels
                    .iter()
                    .find(|(_, n)| n.eq_ignore_ascii_case(&name))
                    .map(|(_, n)| n.clone())
            });
            match existing {
                Some(existing) => out.push(existing),
                None => {
                    let id = self.id();
                    if let Some(repo) = self.repos.get_mut(key) {
                        repo.labels.push((id, name.clone()));
                    }
                    out.push(name);
                }
            }
        }
        out
    }

    fn repo_mut(&mut self, full_name: &str) -> &mut Repo {
        match self.repos.get_mut(&full_name.to_ascii_lowercase()) {
            Some(repo) => repo,
            None => panic!("FakeGitHub: no repository `{full_name}`; call add_repo first"),
        }
    }

    fn find(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos
            .get(&format!("{owner}/{name}").to_ascii_lowercase())
    }

    fn find_by_id(&self, id: &str) -> Option<&Repo> {
        let id: u64 = id.parse().ok()?;
        self.repos.values().find(|r| r.id == id)
    }

    fn user(&self) -> Value {
        json!({"login": "octocat", "id": 1, "node_id": "MDQ6VXNlcjE=", "type": "User", "site_admin": false})
    }

    /// A user by login; the token's own user is octocat (id 1).
    fn user_named(&self, login: &str) -> Value {
        if login == TOKEN_USER {
            return self.user();
        }
        let id = 2 + fnv(7, login.as_bytes()) % 100_000_000;
        json!({"login": login, "id": id, "node_id": format!("U_{id}"), "type": "User", "site_admin": false})
    }

    fn comment_json(&self, repo: &Repo, comment: &CommentRec) -> Value {
        let full = repo.full_name();
        let kind = match repo.items.get(&comment.number) {
            Some(item) if item.pull.is_some() => "pull",
            _ => "issues",
        };
        json!({
            "id": comment.id,
            "node_id": format!("IC_{}", comment.id),
            "url": format!("{}/repos/{full}/issues/comments/{}", self.base, comment.id),
            "html_url": format!("{WEB}/{full}/{kind}/{}#issuecomment-{}", comment.number, comment.id),
            "body": comment.body,
            "user": self.user_named(&comment.user),
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "issue_url": format!("{}/repos/{full}/issues/{}", self.base, comment.number),
            "author_association": if comment.user == TOKEN_USER { "OWNER" } else { "NONE" },
            "performed_via_github_app": null,
        })
    }

    fn status_json(&self, repo: &Repo, status: &StatusRec) -> Value {
        json!({
            "url": format!("{}/repos/{}/statuses/{}", self.base, repo.full_name(), status.sha),
            "avatar_url": null,
            "id": status.id,
            "node_id": format!("SC_{}", status.id),
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": iso(status.created_at),
            "updated_at": iso(status.created_at),
            "creator": self.user(),
        })
    }

    fn repo_json(&self, repo: &Repo) -> Value {
        json!({
            "id": repo.id,
            "node_id": format!("R_{}", repo.id),
            "name": repo.name,
            "full_name": repo.full_name(),
            "owner": {"login": repo.owner, "id": 1, "type": "User"},
            "private": true,
            "html_url": format!("{WEB}/{}", repo.full_name()),
            "url": format!("{}/repos/{}", self.base, repo.full_name()),
            "default_branch": "main",
        })
    }

    fn label_json(&self, repo: &Repo, name: &str) -> Value {
        let id = repo
            .labels
            .iter()
            .find(|(_, n)| n == name)
            .map_or(0, |(id, _)| *id);
        json!({
            "id": id,
            "node_id": format!("LA_{id}"),
            "url": format!("{}/repos/{}/labels/{name}", self.base, repo.full_name()),
            "name": name,
            "color": "ededed",
            "default": false,
            "description": null,
        })
    }

    fn issue_json(&self, repo: &Repo, item: &Item) -> Value {
        let full = repo.full_name();
        let api = format!("{}/repos/{full}/issues/{}", self.base, item.number);
        let kind = if item.pull.is_some() {
            "pull"
        } else {
            "issues"
        };
        let mut value = json!({
            "id": item.id,
            "node_id": format!("I_{}", item.id),
            "url": api,
            "repository_url": format!("{}/repos/{full}", self.base),
            "labels_url": format!("{api}/labels{{/name}}"),
            "comments_url": format!("{api}/comments"),
            "events_url": format!("{api}/events"),
            "html_url": format!("{WEB}/{full}/{kind}/{}", item.number),
            "number": item.number,
            "state": if item.open { "open" } else { "closed" },
            "state_reason": item.state_reason,
            "title": item.title,
            "body": item.body,
            "user": self.user(),
            "labels": item.labels.iter().map(|l| self.label_json(repo, l)).collect::<Vec<_>>(),
            "assignee": null,
            "assignees": [],
            "milestone": null,
            "locked": false,
            "active_lock_reason": null,
            "comments": repo.comment_count(item.number),
            "created_at": iso(item.created_at),
            "updated_at": iso(item.updated_at),
            "closed_at": item.closed_at.map(iso),
            "author_association": "OWNER",
        });
        if let (Some(pull), Value::Object(map)) = (&item.pull, &mut value) {
            let pulls = format!("{}/repos/{full}/pulls/{}", self.base, item.number);
            let html = format!("{WEB}/{full}/pull/{}", item.number);
            map.insert(
                "pull_request".into(),
                json!({
                    "url": pulls,
                    "html_url": html,
                    "diff_url": format!("{html}.diff"),
                    "patch_url": format!("{html}.patch"),
                    "merged_at": pull.merged_at.map(iso),
                }),
            );
            map.insert("draft".into(), json!(pull.draft));
        }
        value
    }

    fn branch_json(&self, repo: &Repo, branch: &str, sha: &str) -> Value {
        json!({
            "label": format!("{}:{branch}", repo.owner),
            "ref": branch,
            "sha": sha,
            "user": {"login": repo.owner, "id": 1, "type": "User"},
            "repo": self.repo_json(repo),
        })
    }

    /// A pull request; the single-PR endpoint adds `merged` and friends.
    fn pull_json(&self, repo: &Repo, item: &Item, pull: &PullPart, single: bool) -> Value {
        let full = repo.full_name();
        let api = format!("{}/repos/{full}/pulls/{}", self.base, item.number);
        let html = format!("{WEB}/{full}/pull/{}", item.number);
        let mut value = json!({
            "id": item.id,
            "node_id": format!("PR_{}", item.id),
            "url": api,
            "html_url": html,
            "diff_url": format!("{html}.diff"),
            "patch_url": format!("{html}.patch"),
            "issue_url": format!("{}/repos/{full}/issues/{}", self.base, item.number),
            "number": item.number,
            "state": if item.open { "open" } else { "closed" },
            "locked": false,
            "title": item.title,
            "user": self.user(),
            "body": item.body,
            "labels": item.labels.iter().map(|l| self.label_json(repo, l)).collect::<Vec<_>>(),
            "milestone": null,
            "created_at": iso(item.created_at),
            "updated_at": iso(item.updated_at),
            "closed_at": item.closed_at.map(iso),
            "merged_at": pull.merged_at.map(iso),
            "merge_commit_sha": pull.merged_at.map(|_| sha_of(&format!("merge {}", item.id))),
            "assignee": null,
            "assignees": [],
            "requested_reviewers": [],
            "draft": pull.draft,
            "head": self.branch_json(repo, &pull.head, repo.pull_head_sha(item, pull)),
            "base": self.branch_json(repo, &pull.base, &pull.base_sha),
            "author_association": "OWNER",
        });
        if let (true, Value::Object(map)) = (single, &mut value) {
            let merged = pull.merged_at.is_some();
            map.insert("merged".into(), json!(merged));
            map.insert(
                "mergeable".into(),
                json!(if item.open { Some(true) } else { None }),
            );
            map.insert(
                "merged_by".into(),
                if merged { self.user() } else { Value::Null },
            );
            map.insert("comments".into(), json!(repo.comment_count(item.number)));
            map.insert("commits".into(), json!(1));
            map.insert("additions".into(), json!(1));
            map.insert("deletions".into(), json!(0));
            map.insert("changed_files".into(), json!(1));
        }
        value
    }

    /// One page of `items` with GitHub's `Link` header: `prev`, `next`,
    /// `last`, `first`, absolute, through `/repositories/{id}/{kind}`.
    fn page(&self, items: Vec<Value>, query: &Query, repo_id: u64, kind: &str) -> Reply {
        let per_page = query
            .get("per_page")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .map_or(30, |n| n.min(100));
        let page = query
            .get("page")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(1);
        let total = items.len() as u64;
        let last = total.div_ceil(per_page).max(1);
        let start = ((page - 1).saturating_mul(per_page)).min(total) as usize;
        let end = (start as u64 + per_page).min(total) as usize;
        let slice: Vec<Value> = items[start..end].to_vec();
        let url = |n: u64| {
            format!(
                "<{}/repositories/{repo_id}/{kind}?{}>",
                self.base,
                query.with_page(n)
            )
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(format!("{}; rel=\"prev\"", url((page - 1).min(last))));
        }
        if page < last {
            links.push(format!("{}; rel=\"next\"", url(page + 1)));
            links.push(format!("{}; rel=\"last\"", url(last)));
        }
        if page > 1 {
            links.push(format!("{}; rel=\"first\"", url(1)));
        }
        let mut reply = Reply::ok(Value::Array(slice));
        if !links.is_empty() {
            reply.link = Some(links.join(", "));
        }
        reply
    }

    fn list_issues(&self, repo: &Repo, query: &Query) -> Reply {
        let docs = format!("{DOCS_ISSUES}#list-repository-issues");
        let state = query.get("state").unwrap_or_else(|| "open".into());
        if !matches!(state.as_str(), "open" | "closed" | "all") {
            return Reply::invalid_field("Issue", "state", &json!(state), &docs);
        }
        let sort = query.get("sort").unwrap_or_else(|| "created".into());
        if !matches!(sort.as_str(), "created" | "updated" | "comments") {
            return Reply::invalid_field("Issue", "sort", &json!(sort), &docs);
        }
        let ascending = query.get("direction").as_deref() == Some("asc");
        let since = query.get("since");
        let labels = query.get("labels");
        let mut items: Vec<&Item> = repo
            .items
            .values()
            .filter(|i| match state.as_str() {
                "open" => i.open,
                "closed" => !i.open,
                _ => true,
            })
            .filter(|i| {
                since
                    .as_deref()
                    .is_none_or(|s| iso(i.updated_at).as_str() >= s)
            })
            .filter(|i| labels.as_deref().is_none_or(|l| has_labels(&i.labels, l)))
            .collect();
        items.sort_by_key(|i| match sort.as_str() {
            "updated" => (i.updated_at, i.number),
            "comments" => (repo.comment_count(i.number) as u64, i.number),
            _ => (i.created_at, i.number),
        });
        if !ascending {
            items.reverse();
        }
        let values = items.iter().map(|i| self.issue_json(repo, i)).collect();
        self.page(values, query, repo.id, "issues")
    }

    fn list_pulls(&self, repo: &Repo, query: &Query) -> Reply {
        let docs = format!("{DOCS_PULLS}#list-pull-requests");
        let state = query.get("state").unwrap_or_else(|| "open".into());
        if !matches!(state.as_str(), "open" | "closed" | "all") {
            return Reply::invalid_field("PullRequest", "state", &json!(state), &docs);
        }
        let sort = query.get("sort").unwrap_or_else(|| "created".into());
        // GitHub: desc by default only when sorting by creation.
        let ascending = match query.get("direction").as_deref() {
            Some("asc") => true,
            Some("desc") => false,
            _ => sort != "created",
        };
        let mut items: Vec<(&Item, &PullPart)> = repo
            .items
            .values()
            .filter_map(|i| i.pull.as_ref().map(|p| (i, p)))
            .filter(|(i, _)| match state.as_str() {
                "open" => i.open,
                "closed" => !i.open,
                _ => true,
            })
            .collect();
        items.sort_by_key(|(i, _)| {
            if sort == "updated" {
                (i.updated_at, i.number)
            } else {
                (i.created_at, i.number)
            }
        });
        if !ascending {
            items.reverse();
        }
        let values = items
            .iter()
            .map(|(i, p)| self.pull_json(repo, i, p, false))
            .collect();
        self.page(values, query, repo.id, "pulls")
    }

    fn update_issue(&mut self, key: &str, number: u64, body: &[u8]) -> Reply {
        let docs = format!("{DOCS_ISSUES}#update-an-issue");
        if !self
            .repos
            .get(key)
            .is_some_and(|r| r.items.contains_key(&number))
        {
            return Reply::not_found(&docs);
        }
        let map = match parse_body(body, &docs) {
            Ok(map) => map,
            Err(reply) => return reply,
        };
        let fields = (|| -> Result<_, Reply> {
            Ok((
                opt_str(&map, "state", &docs)?,
                opt_str(&map, "state_reason", &docs)?,
                opt_str(&map, "title", &docs)?,
                opt_str(&map, "body", &docs)?,
            ))
        })();
        let (state, reason, title, text) = match fields {
            Ok(fields) => fields,
            Err(reply) => return reply,
        };
        let mut errors = Vec::new();
        if let Some(s) = state
            .as_deref()
            .filter(|s| !matches!(*s, "open" | "closed"))
        {
            errors.push(
                json!({"resource": "Issue", "field": "state", "code": "invalid", "value": s}),
            );
        }
        if let Some(r) = &reason {
            let closing = state.as_deref() == Some("closed");
            if !STATE_REASONS.contains(&r.as_str()) || (closing && r == "reopened") {
                errors.push(json!({"resource": "Issue", "field": "state_reason", "code": "invalid", "value": r}));
            }
        }
        let labels = match label_names(map.get("labels"), &docs, &mut errors) {
            Ok(labels) => labels,
            Err(reply) => return reply,
        };
        if title.as_deref().is_some_and(|t| t.trim().is_empty()) {
            errors.push(json!({"resource": "Issue", "field": "title", "code": "missing_field"}));
        }
        if let Some(error) = text
            .as_deref()
            .and_then(|t| length_error("Issue", "body", t, MAX_BODY_CHARS))
        {
            errors.push(error);
        }
        if !errors.is_empty() {
            return Reply::validation(errors, &docs);
        }
        let now = self.tick();
        let labels = labels.map(|names| self.intern_labels(key, names));
        let Some(repo) = self.repos.get_mut(key) else {
            return Reply::not_found(&docs);
        };
        let Some(item) = repo.items.get_mut(&number) else {
            return Reply::not_found(&docs);
        };
        let mut changed = false;
        if let Some(t) = title {
            changed |= item.title != t;
            item.title = t;
        }
        if map.contains_key("body") {
            changed |= item.body != text;
            item.body = text;
        }
        if let Some(l) = labels {
            changed |= item.labels != l;
            item.labels = l;
        }
        changed |= apply_state(item, state.as_deref(), reason.as_deref(), now);
        if changed {
            item.updated_at = now;
        }
        let Some(repo) = self.repos.get(key) else {
            return Reply::not_found(&docs);
        };
        match repo.items.get(&number) {
            Some(item) => Reply::ok(self.issue_json(repo, item)),
            None => Reply::not_found(&docs),
        }
    }

    /// Branches of repositories backed by git, read as they are now.
    fn refresh_branches_from_git(&mut self) {
        for repo in self.repos.values_mut() {
            let Some(dir) = &repo.git_dir else { continue };
            let Ok(output) = std::process::Command::new("git")
                .arg("-C")
                .arg(dir)
                .args([
                    "for-each-ref",
                    "--format=%(refname:strip=2) %(objectname)",
                    "refs/heads",
                ])
                .output()
            else {
                continue;
            };
            if !output.status.success() {
                continue;
            }
            repo.branches = String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|line| line.rsplit_once(' '))
                .map(|(name, sha)| (name.to_string(), sha.to_string()))
                .collect();
        }
    }

    /// `PATCH /repos/{owner}/{repo}/pulls/{number}`: title, body, state
    /// (open or closed) and base.
    fn update_pull(&mut self, key: &str, number: u64, body: &[u8]) -> Reply {
        let docs = format!("{DOCS_PULLS}#update-a-pull-request");
        let Some(repo) = self.repos.get(key) else {
            return Reply::not_found(&docs);
        };
        let Some(current) = repo.items.get(&number).filter(|i| i.pull.is_some()) else {
            return Reply::not_found(&docs);
        };
        let map = match parse_body(body, &docs) {
            Ok(map) => map,
            Err(reply) => return reply,
        };
        let fields = (|| -> Result<_, Reply> {
            Ok((
                opt_str(&map, "title", &docs)?,
                opt_str(&map, "body", &docs)?,
                opt_str(&map, "state", &docs)?,
                opt_str(&map, "base", &docs)?,
            ))
        })();
        let (title, text, state, base) = match fields {
            Ok(fields) => fields,
            Err(reply) => return reply,
        };
        let mut errors = Vec::new();
        if let Some(s) = state
            .as_deref()
            .filter(|s| !matches!(*s, "open" | "closed"))
        {
            errors.push(
                json!({"resource": "PullRequest", "field": "state", "code": "invalid", "value": s}),
            );
        }
        if let Some(b) = base.as_deref().filter(|b| !repo.branches.contains_key(*b)) {
            errors.push(
                json!({"resource": "PullRequest", "field": "base", "code": "invalid", "value": b}),
            );
        }
        if title.as_deref().is_some_and(|t| t.trim().is_empty()) {
            errors.push(
                json!({"resource": "PullRequest", "field": "title", "code": "missing_field"}),
            );
        }
        let merged = current.pull.as_ref().is_some_and(|p| p.merged_at.is_some());
        if merged && state.as_deref() == Some("open") {
            errors.push(json!({"resource": "PullRequest", "code": "custom",
                "message": "state cannot be changed. The pull request has been merged."}));
        }
        if !errors.is_empty() {
            return Reply::validation(errors, &docs);
        }
        let now = self.tick();
        let Some(repo) = self.repos.get_mut(key) else {
            return Reply::not_found(&docs);
        };
        let Some(item) = repo.items.get_mut(&number) else {
            return Reply::not_found(&docs);
        };
        let mut changed = false;
        if let Some(t) = title {
            changed |= item.title != t;
            item.title = t;
        }
        if map.contains_key("body") {
            changed |= item.body != text;
            item.body = text;
        }
        if let (Some(b), Some(pull)) = (base, item.pull.as_mut()) {
            changed |= pull.base != b;
            pull.base = b;
        }
        changed |= apply_state(item, state.as_deref(), None, now);
        if changed {
            item.updated_at = now;
        }
        let Some(repo) = self.repos.get(key) else {
            return Reply::not_found(&docs);
        };
        match repo
            .items
            .get(&number)
            .and_then(|i| i.pull.as_ref().map(|p| (i, p)))
        {
            Some((item, pull)) => Reply::ok(self.pull_json(repo, item, pull, true)),
            None => Reply::not_found(&docs),
        }
    }

    /// `POST /repos/{owner}/{repo}/releases`: `tag_name` is required; a
    /// second release of one tag is a validation error (`already_exists`), as
    /// GitHub answers.
    fn create_release(&mut self, key: &str, body: &[u8]) -> Reply {
        let docs = format!("{DOCS_RELEASES}#create-a-release");
        let map = match parse_body(body, &docs) {
            Ok(map) => map,
            Err(reply) => return reply,
        };
        let fields = (|| -> Result<_, Reply> {
            Ok((
                opt_str(&map, "tag_name", &docs)?,
                opt_str(&map, "name", &docs)?,
                opt_str(&map, "body", &docs)?,
            ))
        })();
        let (tag, name, text) = match fields {
            Ok(fields) => fields,
            Err(reply) => return reply,
        };
        let Some(tag) = tag else {
            return Reply::invalid_request("\"tag_name\" wasn't supplied.", &docs);
        };
        let id = self.id();
        let Some(repo) = self.repos.get_mut(key) else {
            return Reply::not_found(&docs);
        };
        if repo.releases.iter().any(|r| r.tag_name == tag) {
            return Reply::validation(
                vec![json!({"resource": "Release", "code": "already_exists", "field": "tag_name"})],
                &docs,
            );
        }
        let release = FakeRelease {
            id,
            name: name.unwrap_or_else(|| tag.clone()),
            tag_name: tag,
            body: text.unwrap_or_default(),
        };
        let reply = Reply::with(201, release_json(&release));
        repo.releases.push(release);
        reply
    }

    fn create_pull(&mut self, key: &str, body: &[u8]) -> Reply {
        let docs = format!("{DOCS_PULLS}#create-a-pull-request");
        let map = match parse_body(body, &docs) {
            Ok(map) => map,
            Err(reply) => return reply,
        };
        let fields = (|| -> Result<_, Reply> {
            Ok((
                opt_str(&map, "title", &docs)?,
                opt_str(&map, "head", &docs)?,
                opt_str(&map, "base", &docs)?,
                opt_str(&map, "body", &docs)?,
            ))
        })();
        let (title, head, base, text) = match fields {
            Ok(fields) => fields,
            Err(reply) => return reply,
        };
        for (name, value) in [("head", &head), ("base", &base), ("title", &title)] {
            if value.is_none() {
                return Reply::invalid_request(&format!("\"{name}\" wasn't supplied."), &docs);
            }
        }
        let (Some(title), Some(head), Some(base)) = (title, head, base) else {
            return Reply::invalid_request("\"head\" wasn't supplied.", &docs);
        };
        let draft = matches!(map.get("draft"), Some(Value::Bool(true)));
        let Some(repo) = self.repos.get(key) else {
            return Reply::not_found(&docs);
        };
        // `owner:branch` names a branch of this repository when the owner
        // is this repository's; forks are not modelled, so others fail.
        let head_branch = match head.split_once(':') {
            Some((owner, branch)) if owner.eq_ignore_ascii_case(&repo.owner) => branch.to_string(),
            Some(_) => String::new(),
            None => head.clone(),
        };
        let mut errors = Vec::new();
        if !repo.branches.contains_key(&head_branch) {
            errors.push(json!({"resource": "PullRequest", "field": "head", "code": "invalid"}));
        }
        if !repo.branches.contains_key(&base) {
            errors.push(json!({"resource": "PullRequest", "field": "base", "code": "invalid"}));
        }
        if errors.is_empty() && head_branch == base {
            errors.push(json!({"resource": "PullRequest", "code": "custom",
                "message": format!("No commits between {base} and {head_branch}")}));
        }
        let duplicate = repo.items.values().any(|i| {
            i.open
                && i.pull
                    .as_ref()
                    .is_some_and(|p| p.head == head_branch && p.base == base)
        });
        if errors.is_empty() && duplicate {
            errors.push(json!({"resource": "PullRequest", "code": "custom",
                "message": format!("A pull request already exists for {}:{head_branch}.", repo.owner)}));
        }
        if title.trim().is_empty() {
            errors.push(
                json!({"resource": "PullRequest", "field": "title", "code": "missing_field"}),
            );
        }
        if !errors.is_empty() {
            return Reply::validation(errors, &docs);
        }
        let now = self.tick();
        let id = self.id();
        let Some(repo) = self.repos.get_mut(key) else {
            return Reply::not_found(&docs);
        };
        let number = repo.next_number;
        repo.next_number += 1;
        let pull = PullPart {
            head_sha: repo.branches.get(&head_branch).cloned().unwrap_or_default(),
            base_sha: repo.branches.get(&base).cloned().unwrap_or_default(),
            head: head_branch,
            base,
            merged_at: None,
            draft,
        };
        repo.items.insert(
            number,
            Item {
                id,
                number,
                title,
                body: text,
                open: true,
                state_reason: None,
                labels: Vec::new(),
                created_at: now,
                updated_at: now,
                closed_at: None,
                pull: Some(pull),
            },
        );
        let Some(repo) = self.repos.get(key) else {
            return Reply::not_found(&docs);
        };
        let Some((item, pull)) = repo
            .items
            .get(&number)
            .and_then(|i| i.pull.as_ref().map(|p| (i, p)))
        else {
            return Reply::not_found(&docs);
        };
        let mut reply = Reply::with(201, self.pull_json(repo, item, pull, true));
        reply.location = Some(format!(
            "{}/repos/{}/pulls/{number}",
            self.base,
            repo.full_name()
        ));
        reply
    }

    /// `POST /repos/{owner}/{repo}/issues`: `title` (a string or a number)
    /// is required; `body` and `labels` are optional, labels created on
    /// first use. Issues and pull requests share one number sequence.
    fn create_issue(&mut self, key: &str, body: &[u8]) -> Reply {
        let docs = format!("{DOCS_ISSUES}#create-an-issue");
        let map = match parse_body(body, &docs) {
            Ok(map) => map,
            Err(reply) => return reply,
        };
        let title = match map.get("title") {
            None => return Reply::invalid_request("\"title\" wasn't supplied.", &docs),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Reply::invalid_request(
                    &format!("For 'properties/title', {other} is not a string or integer."),
                    &docs,
                );
            }
        };
        let text = match opt_str(&map, "body", &docs) {
            Ok(text) => text,
            Err(reply) => return reply,
        };
        let mut errors = Vec::new();
        let labels = match label_names(map.get("labels"), &docs, &mut errors) {
            Ok(labels) => labels.unwrap_or_default(),
            Err(reply) => return reply,
        };
        if title.trim().is_empty() {
            errors.push(json!({"resource": "Issue", "field": "title", "code": "missing_field"}));
        }
        if let Some(error) = text
            .as_deref()
            .and_then(|t| length_error("Issue", "body", t, MAX_BODY_CHARS))
        {
            errors.push(error);
        }
        if !errors.is_empty() {
            return Reply::validation(errors, &docs);
        }
        if !self.repos.contains_key(key) {
            return Reply::not_found(&docs);
        }
        let now = self.tick();
        let id = self.id();
        let labels = self.intern_labels(key, labels);
        let Some(repo) = self.repos.get_mut(key) else {
            return Reply::not_found(&docs);
        };
        let number = repo.next_number;
        repo.next_number += 1;
        repo.items.insert(
            number,
            Item {
                id,
                number,
                title,
                body: text,
                open: true,
                state_reason: None,
                labels,
                created_at: now,
                updated_at: now,
                closed_at: None,
                pull: None,
            },
        );
        let Some(repo) = self.repos.get(key) else {
            return Reply::not_found(&docs);
        };
        let Some(item) = repo.items.get(&number) else {
            return Reply::not_found(&docs);
        };
        let mut reply = Reply::with(201, self.issue_json(repo, item));
        reply.location = Some(format!(
            "{}/repos/{}/issues/{number}",
            self.base,
            repo.full_name()
        ));
        reply
    }

    /// `GET .../issues/{number}/comments`: oldest first, for issues and
    /// pull requests alike; 404 for a number that is neither.
    fn list_comments(&self, repo: &Repo, number: &str, query: &Query) -> Reply {
        let docs = format!("{DOCS_COMMENTS}#list-issue-comments");
        let Some(number) = number
            .parse::<u64>()
            .ok()
            .filter(|n| repo.items.contains_key(n))
        else {
            return Reply::not_found(&docs);
        };
        let since = query.get("since");
        let values = repo
            .comments
            .iter()
            .filter(|c| c.number == number)
            .filter(|c| {
                since
                    .as_deref()
                    .is_none_or(|s| iso(c.updated_at).as_str() >= s)
            })
            .map(|c| self.comment_json(repo, c))
            .collect();
        self.page(values, query, repo.id, &format!("issues/{number}/comments"))
    }

    /// `POST /repos/{owner}/{repo}/issues/{number}/comments`.
    fn create_comment(&mut self, key: &str, number: &str, body: &[u8]) -> Reply {
        let docs = format!("{DOCS_COMMENTS}#create-an-issue-comment");
        let Some(number) = number
            .parse::<u64>()
            .ok()
            .filter(|n| self.repos.get(key).is_some_and(|r| r.items.contains_key(n)))
        else {
            return Reply::not_found(&docs);
        };
        let text = match comment_body(body, &docs) {
            Ok(text) => text,
            Err(reply) => return reply,
        };
        let now = self.tick();
        let id = self.id();
        let Some(repo) = self.repos.get_mut(key) else {
            return Reply::not_found(&docs);
        };
        repo.comments.push(CommentRec {
            id,
            number,
            body: text,
            user: TOKEN_USER.to_string(),
            created_at: now,
            updated_at: now,
        });
        // A new comment updates its issue, as on GitHub.
        if let Some(item) = repo.items.get_mut(&number) {
            item.updated_at = now;
        }
        let Some(repo) = self.repos.get(key) else {
            return Reply::not_found(&docs);
        };
        let Some(comment) = repo.comments.last() else {
            return Reply::not_found(&docs);
        };
        let mut reply = Reply::with(201, self.comment_json(repo, comment));
        reply.location = Some(format!(
            "{}/repos/{}/issues/comments/{id}",
            self.base,
            repo.full_name()
        ));
        reply
    }

    /// `GET`, `PATCH` and `DELETE /repos/{owner}/{repo}/issues/comments/{id}`.
    fn comment(&mut self, method: &Method, key: &str, id: &str, body: &[u8]) -> Reply {
        let docs = match method.as_str() {
            "PATCH" => format!("{DOCS_COMMENTS}#update-an-issue-comment"),
            "DELETE" => format!("{DOCS_COMMENTS}#delete-an-issue-comment"),
            _ => format!("{DOCS_COMMENTS}#get-an-issue-comment"),
        };
        let Some(id) = id.parse::<u64>().ok().filter(|id| {
            self.repos
                .get(key)
                .is_some_and(|r| r.comments.iter().any(|c| c.id == *id))
        }) else {
            return Reply::not_found(&docs);
        };
        match method.as_str() {
            "GET" => {}
            "PATCH" => {
                let text = match comment_body(body, &docs) {
                    Ok(text) => text,
                    Err(reply) => return reply,
                };
                let now = self.tick();
                let Some(comment) = self
                    .repos
                    .get_mut(key)
                    .and_then(|r| r.comments.iter_mut().find(|c| c.id == id))
                else {
                    return Reply::not_found(&docs);
                };
                if comment.body != text {
                    comment.body = text;
                    comment.updated_at = now;
                }
            }
            "DELETE" => {
                if let Some(repo) = self.repos.get_mut(key) {
                    repo.comments.retain(|c| c.id != id);
                }
                return Reply::with(204, Value::Null);
            }
            _ => return Reply::not_found(&docs),
        }
        match self
            .repos
            .get(key)
            .and_then(|r| r.comments.iter().find(|c| c.id == id).map(|c| (r, c)))
        {
            Some((repo, comment)) => Reply::ok(self.comment_json(repo, comment)),
            None => Reply::not_found(&docs),
        }
    }

    /// `POST /repos/{owner}/{repo}/statuses/{sha}`: `state` is required and
    /// one of GitHub's four; `context` defaults to "default"; the sha must
    /// name a commit the repository has.
    fn create_status(&mut self, key: &str, sha: &str, body: &[u8]) -> Reply {
        let docs = format!("{DOCS_STATUSES}#create-a-commit-status");
        let map = match parse_body(body, &docs) {
            Ok(map) => map,
            Err(reply) => return reply,
        };
        let fields = (|| -> Result<_, Reply> {
            Ok((
                req_str(&map, "state", &docs)?,
                opt_str(&map, "target_url", &docs)?,
                opt_str(&map, "description", &docs)?,
                opt_str(&map, "context", &docs)?,
            ))
        })();
        let (state, target_url, description, context) = match fields {
            Ok(fields) => fields,
            Err(reply) => return reply,
        };
        let Some(repo) = self.repos.get(key) else {
            return Reply::not_found(&docs);
        };
        let sha = percent_decode(sha);
        let Some(sha) = repo.commit(&sha) else {
            return Reply::error(422, &format!("No commit found for SHA: {sha}"), &docs);
        };
        let context = context.unwrap_or_else(|| "default".to_string());
        let mut errors = Vec::new();
        if !STATUS_STATES.contains(&state.as_str()) {
            errors.push(
                json!({"resource": "Status", "code": "custom", "field": "state",
                "message": "state is not included in the list"}),
            );
        }
        if let Some(error) = description
            .as_deref()
            .and_then(|d| length_error("Status", "description", d, MAX_DESCRIPTION_CHARS))
        {
            errors.push(error);
        }
        let earlier = repo
            .statuses
            .iter()
            .filter(|s| s.sha == sha && s.context == context)
            .count();
        if earlier >= MAX_STATUSES_PER_CONTEXT {
            errors.push(json!({"resource": "Status", "code": "custom",
                "message": "This SHA and context has reached the maximum number of statuses."}));
        }
        if !errors.is_empty() {
            return Reply::validation(errors, &docs);
        }
        let now = self.tick();
        let id = self.id();
        let Some(repo) = self.repos.get_mut(key) else {
            return Reply::not_found(&docs);
        };
        repo.statuses.push(StatusRec {
            id,
            sha,
            state,
            context,
            description,
            target_url,
            created_at: now,
        });
        let Some(repo) = self.repos.get(key) else {
            return Reply::not_found(&docs);
        };
        let Some(status) = repo.statuses.last() else {
            return Reply::not_found(&docs);
        };
        let mut reply = Reply::with(201, self.status_json(repo, status));
        reply.location = Some(format!(
            "{}/repos/{}/statuses/{}",
            self.base,
            repo.full_name(),
            status.sha
        ));
        reply
    }

    /// `GET .../commits/{ref}/statuses`: newest first; `ref` is a sha, a
    /// branch name or (backed by git) a tag, percent-encoded as a segment.
    fn list_statuses(&self, repo: &Repo, reference: &str, query: &Query) -> Reply {
        let docs = format!("{DOCS_STATUSES}#list-commit-statuses-for-a-reference");
        let Some(sha) = repo.resolve(&percent_decode(reference)) else {
            return Reply::not_found(&docs);
        };
        let values = repo
            .statuses
            .iter()
            .rev()
            .filter(|s| s.sha == sha)
            .map(|s| self.status_json(repo, s))
            .collect();
        self.page(
            values,
            query,
            repo.id,
            &format!("commits/{reference}/statuses"),
        )
    }

    /// `GET .../commits/{ref}/status`: the latest status of each context and
    /// their combined state.
    fn combined_status(&self, repo: &Repo, reference: &str) -> Reply {
        let docs = format!("{DOCS_STATUSES}#get-the-combined-status-for-a-specific-reference");
        let Some(sha) = repo.resolve(&percent_decode(reference)) else {
            return Reply::not_found(&docs);
        };
        let mut latest: Vec<&StatusRec> = Vec::new();
        for status in repo.statuses.iter().rev().filter(|s| s.sha == sha) {
            if !latest.iter().any(|l| l.context == status.context) {
                latest.push(status);
            }
        }
        let full = repo.full_name();
        Reply::ok(json!({
            "state": combined_state(latest.iter().map(|s| s.state.as_str())),
            "statuses": latest.iter().map(|s| self.status_json(repo, s)).collect::<Vec<_>>(),
            "sha": sha,
            "total_count": latest.len(),
            "repository": self.repo_json(repo),
            "commit_url": format!("{}/repos/{full}/commits/{sha}", self.base),
            "url": format!("{}/repos/{full}/commits/{sha}/status", self.base),
        }))
    }

    /// Dispatch on method and path; GitHub answers 404 for any route or
    /// method it does not have.
    fn route(&mut self, method: &Method, path: &str, query: &Query, body: &[u8]) -> Reply {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let get = *method == Method::GET;
        match segments.as_slice() {
            ["rate_limit"] if get => {
                let r = &self.rate;
                let core = json!({"limit": r.limit, "used": r.used,
                    "remaining": r.limit.saturating_sub(r.used), "reset": r.reset});
                Reply::ok(json!({"resources": {"core": core}, "rate": core}))
            }
            ["repos", owner, name] if get => match self.find(owner, name) {
                Some(repo) => Reply::ok(self.repo_json(repo)),
                None => {
                    Reply::not_found("https://docs.github.com/rest/repos/repos#get-a-repository")
                }
            },
            ["repos", owner, name, "issues"] if get => match self.find(owner, name) {
                Some(repo) => self.list_issues(repo, query),
                None => Reply::not_found(&format!("{DOCS_ISSUES}#list-repository-issues")),
            },
            ["repos", owner, name, "issues"] if *method == Method::POST => {
                let key = format!("{owner}/{name}").to_ascii_lowercase();
                self.create_issue(&key, body)
            }
            ["repositories", id, "issues"] if get => match self.find_by_id(id) {
                Some(repo) => self.list_issues(repo, query),
                None => Reply::not_found(&format!("{DOCS_ISSUES}#list-repository-issues")),
            },
            ["repos", owner, name, "issues", "comments", id] => {
                let key = format!("{owner}/{name}").to_ascii_lowercase();
                self.comment(method, &key, id, body)
            }
            ["repos", owner, name, "issues", number, "comments"] => {
                let key = format!("{owner}/{name}").to_ascii_lowercase();
                match (method.as_str(), self.repos.get(&key)) {
                    ("GET", Some(repo)) => self.list_comments(repo, number, query),
                    ("POST", Some(_)) => self.create_comment(&key, number, body),
                    _ => Reply::not_found(&format!("{DOCS_COMMENTS}#list-issue-comments")),
                }
            }
            ["repositories", id, "issues", number, "comments"] if get => {
                match self.find_by_id(id) {
                    Some(repo) => self.list_comments(repo, number, query),
                    None => Reply::not_found(&format!("{DOCS_COMMENTS}#list-issue-comments")),
                }
            }
            ["repos", owner, name, "statuses", sha] if *method == Method::POST => {
                let key = format!("{owner}/{name}").to_ascii_lowercase();
                self.create_status(&key, sha, body)
            }
            ["repos", owner, name, "commits", reference, "statuses"] if get => {
                match self.find(owner, name) {
                    Some(repo) => self.list_statuses(repo, reference, query),
                    None => Reply::not_found(&format!(
                        "{DOCS_STATUSES}#list-commit-statuses-for-a-reference"
                    )),
                }
            }
            ["repositories", id, "commits", reference, "statuses"] if get => {
                match self.find_by_id(id) {
                    Some(repo) => self.list_statuses(repo, reference, query),
                    None => Reply::not_found(&format!(
                        "{DOCS_STATUSES}#list-commit-statuses-for-a-reference"
                    )),
                }
            }
            ["repos", owner, name, "commits", reference, "status"] if get => {
                match self.find(owner, name) {
                    Some(repo) => self.combined_status(repo, reference),
                    None => Reply::not_found(&format!(
                        "{DOCS_STATUSES}#get-the-combined-status-for-a-specific-reference"
                    )),
                }
            }
            ["repos", owner, name, "issues", number] => {
                let docs = format!("{DOCS_ISSUES}#get-an-issue");
                let key = format!("{owner}/{name}").to_ascii_lowercase();
                let Ok(number) = number.parse::<u64>() else {
                    return Reply::not_found(&docs);
                };
                match method.as_str() {
                    "GET" => match self
                        .repos
                        .get(&key)
                        .and_then(|r| r.items.get(&number).map(|i| (r, i)))
                    {
                        Some((repo, item)) => Reply::ok(self.issue_json(repo, item)),
                        None => Reply::not_found(&docs),
                    },
                    "PATCH" if self.repos.contains_key(&key) => {
                        self.update_issue(&key, number, body)
                    }
                    _ => Reply::not_found(&docs),
                }
            }
            ["repos", owner, name, "pulls"] => {
                let docs = format!("{DOCS_PULLS}#list-pull-requests");
                let key = format!("{owner}/{name}").to_ascii_lowercase();
                match (method.as_str(), self.repos.get(&key)) {
                    ("GET", Some(repo)) => self.list_pulls(repo, query),
                    ("POST", Some(_)) => self.create_pull(&key, body),
                    _ => Reply::not_found(&docs),
                }
            }
            ["repos", owner, name, "releases"] if *method == Method::POST => {
                let key = format!("{owner}/{name}").to_ascii_lowercase();
                self.create_release(&key, body)
            }
            ["repos", owner, name, "releases", "tags", tag] if get => {
                let docs = format!("{DOCS_RELEASES}#get-a-release-by-tag-name");
                let tag = percent_decode(tag);
                match self
                    .find(owner, name)
                    .and_then(|r| r.releases.iter().find(|rel| rel.tag_name == tag))
                {
                    Some(release) => Reply::ok(release_json(release)),
                    None => Reply::not_found(&docs),
                }
            }
            ["repositories", id, "pulls"] if get => match self.find_by_id(id) {
                Some(repo) => self.list_pulls(repo, query),
                None => Reply::not_found(&format!("{DOCS_PULLS}#list-pull-requests")),
            },
            ["repos", owner, name, "pulls", number] if *method == Method::PATCH => {
                let key = format!("{owner}/{name}").to_ascii_lowercase();
                match number.parse::<u64>() {
                    Ok(number) => self.update_pull(&key, number, body),
                    Err(_) => Reply::not_found(&format!("{DOCS_PULLS}#update-a-pull-request")),
                }
            }
            ["repos", owner, name, "pulls", number] if get => {
                let docs = format!("{DOCS_PULLS}#get-a-pull-request");
                let found = self.find(owner, name).and_then(|repo| {
                    let item = repo.items.get(&number.parse::<u64>().ok()?)?;
                    Some((repo, item, item.pull.as_ref()?))
                });
                match found {
                    Some((repo, item, pull)) => Reply::ok(self.pull_json(repo, item, pull, true)),
                    None => Reply::not_found(&docs),
                }
            }
            _ => Reply::not_found(DOCS_AUTH),
        }
    }

    fn rate_headers(&self, response: &mut Response) {
        let r = &self.rate;
        let headers = response.headers_mut();
        for (name, value) in [
            ("x-ratelimit-limit", r.limit),
            ("x-ratelimit-remaining", r.limit.saturating_sub(r.used)),
            ("x-ratelimit-reset", r.reset),
            ("x-ratelimit-used", r.used),
        ] {
            headers.insert(name, HeaderValue::from(value));
        }
        headers.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
    }

    /// Notes requests that lack the headers GitHub asks clients to send.
    fn check_headers(&mut self, method: &Method, target: &str, headers: &HeaderMap) {
        if headers.get("x-github-api-version").is_none() {
            self.header_problems
                .push(format!("{method} {target}: no X-GitHub-Api-Version"));
        }
        let github_accept = headers
            .get_all("accept")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("application/vnd.github"));
        if !github_accept {
            self.header_problems.push(format!(
                "{method} {target}: Accept lacks application/vnd.github+json"
            ));
        }
    }

    fn serve(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
        let target = uri
            .path_and_query()
            .map_or_else(|| uri.path().to_string(), |pq| pq.to_string());
        if headers.get("user-agent").is_none() {
            // GitHub's edge refuses these before the API sees them.
            let mut response = Response::new(Body::from(
                "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).",
            ));
            *response.status_mut() = StatusCode::FORBIDDEN;
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("text/plain"));
            return response;
        }
        self.check_headers(method, &target, headers);
        if let Some(version) = headers.get("x-github-api-version") {
            let version = version.to_str().unwrap_or("");
            if version != API_VERSION {
                let reply = Reply::error(
                    400,
                    &format!("API version {version} is not supported."),
                    "https://docs.github.com/rest/overview/api-versions",
                );
                return self.finish(reply, None);
            }
        }
        match credentials(headers) {
            Some((_, token)) if token == self.token => {}
            Some(_) => {
                return self.finish(Reply::error(401, "Bad credentials", DOCS_AUTH), None);
            }
            None => {
                return self.finish(
                    Reply::error(401, "Requires authentication", DOCS_AUTH),
                    None,
                );
            }
        }
        let now = now_secs();
        if now >= self.rate.reset {
            self.rate.used = 0;
            self.rate.reset = now + self.rate.window;
        }
        let free = uri.path() == "/rate_limit";
        if !free && self.rate.used >= self.rate.limit {
            let reply = Reply::error(
                self.rate.status,
                "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.",
                DOCS_RATE,
            );
            return self.finish(reply, None);
        }
        self.refresh_branches_from_git();
        let reply = self.route(method, uri.path(), &Query::parse(uri.query()), body);
        // Only a GET is conditional here.
        let if_none_match = headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .filter(|_| *method == Method::GET);
        if !free {
            // A 304 is decided before counting: it costs nothing.
            let bytes = serde_json::to_vec(&reply.body).unwrap_or_default();
            let unchanged = *method == Method::GET
                && reply.status == 200
                && if_none_match.is_some_and(|h| none_match(h, &etag_of(&bytes)));
            if !unchanged {
                self.rate.used += 1;
            }
        }
        self.finish(reply, if_none_match)
    }

    fn finish(&self, reply: Reply, if_none_match: Option<&str>) -> Response {
        let bytes = serde_json::to_vec(&reply.body).unwrap_or_default();
        let etag = (reply.status == 200).then(|| etag_of(&bytes));
        let unchanged = match (&etag, if_none_match) {
            (Some(etag), Some(header)) => none_match(header, etag),
            _ => false,
        };
        let mut response = if unchanged || reply.status == 204 {
            // 304 and 204 carry no body.
            let mut response = Response::new(Body::empty());
            *response.status_mut() = if unchanged {
                StatusCode::NOT_MODIFIED
            } else {
                StatusCode::NO_CONTENT
            };
            response
        } else {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() =
                StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            response.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            if let Some(link) = reply.link.and_then(|l| HeaderValue::from_str(&l).ok()) {
                response.headers_mut().insert("link", link);
            }
            if let Some(location) = reply.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                response.headers_mut().insert("location", location);
            }
            response
        };
        let headers = response.headers_mut();
        if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
            headers.insert("etag", etag);
        }
        headers.insert(
            "x-github-api-version-selected",
            HeaderValue::from_static(API_VERSION),
        );
        headers.insert(
            "x-github-media-type",
            HeaderValue::from_static("github.v3; format=json"),
        );
        headers.insert(
            "cache-control",
            HeaderValue::from_static("private, max-age=60, s-maxage=60"),
        );
        headers.insert(
            "vary",
            HeaderValue::from_static("Accept, Authorization, Cookie, X-GitHub-OTP"),
        );
        self.rate_headers(&mut response);
        response
    }
}

/// Applies a state change the way GitHub does; true when anything changed.
fn apply_state(item: &mut Item, state: Option<&str>, reason: Option<&str>, now: u64) -> bool {
    let before = (item.open, item.state_reason.clone(), item.closed_at);
    match state {
        Some("closed") if item.open => {
            item.open = false;
            item.closed_at = Some(now);
            item.state_reason = Some(reason.unwrap_or("completed").to_string());
        }
        Some("open") if !item.open => {
            item.open = true;
            item.closed_at = None;
            item.state_reason = Some("reopened".into());
        }
        // A new reason for an issue that stays closed; an open issue keeps
        // its reason whatever is sent.
        _ => match reason {
            Some(reason) if !item.open && reason != "reopened" => {
                item.state_reason = Some(reason.to_string());
            }
            _ => {}
        },
    }
    before != (item.open, item.state_reason.clone(), item.closed_at)
}

async fn handle(
    State(hub): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    lock(&hub).serve(&method, &uri, &headers, &body)
}

/// A fake GitHub on loopback until dropped.
pub struct FakeGitHub {
    server: FakeServer,
    hub: Shared,
}

impl FakeGitHub {
    /// Serves on a free port, accepting `token` (as `Bearer` or `token`).
    pub fn start(token: &str) -> std::io::Result<FakeGitHub> {
        let now = now_secs();
        let hub: Shared = Arc::new(Mutex::new(Hub {
            token: token.to_string(),
            base: String::new(),
            repos: BTreeMap::new(),
            next_id: 1000,
            // Seeded data starts thirty days back.
            clock: now.saturating_sub(30 * 86_400),
            rate: Rate {
                limit: 5000,
                used: 0,
                reset: now + 3600,
                window: 3600,
                status: 403,
            },
            header_problems: Vec::new(),
        }));
        let router = Router::new().fallback(handle).with_state(hub.clone());
        let server = FakeServer::start(router)?;
        lock(&hub).base = server.url();
        Ok(FakeGitHub { server, hub })
    }

    /// The API root, `http://127.0.0.1:<port>` (like `https://api.github.com`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn control(&self) -> &Control {
        self.server.control()
    }

    /// A fresh window of `limit` requests, resetting in an hour.
    pub fn set_rate_limit(&self, limit: u64) {
        let mut hub = lock(&self.hub);
        hub.rate.limit = limit;
        hub.rate.used = 0;
        hub.rate.reset = now_secs() + hub.rate.window;
    }

    /// Uses up the window; it restarts `reset_in` from now (whole seconds,
    /// rounded up, as `x-ratelimit-reset` is in seconds).
    pub fn exhaust_rate_limit(&self, reset_in: Duration) {
        let mut hub = lock(&self.hub);
        hub.rate.used = hub.rate.limit;
        let secs = reset_in.as_secs() + u64::from(reset_in.subsec_nanos() > 0);
        hub.rate.reset = now_secs() + secs;
    }

    /// GitHub answers an exhausted primary limit with 403 or 429.
    pub fn set_rate_limited_status(&self, status: u16) {
        lock(&self.hub).rate.status = status;
    }

    pub fn rate_limit(&self) -> RateLimit {
        let hub = lock(&self.hub);
        let r = &hub.rate;
        RateLimit {
            limit: r.limit,
            used: r.used,
            remaining: r.limit.saturating_sub(r.used),
            reset: r.reset,
        }
    }

    /// Requests that lacked `X-GitHub-Api-Version` or GitHub's `Accept`.
    pub fn header_problems(&self) -> Vec<String> {
        lock(&self.hub).header_problems.clone()
    }

    /// A repository `owner/name` with a `main` branch.
    ///
    /// # Panics
    /// If `full_name` is not `owner/name`.
    pub fn add_repo(&self, full_name: &str) {
        let Some((owner, name)) = full_name.split_once('/') else {
            panic!("FakeGitHub::add_repo: `{full_name}` is not owner/name");
        };
        let mut hub = lock(&self.hub);
        let id = hub.id();
        let mut branches = BTreeMap::new();
        branches.insert("main".to_string(), sha_of(&format!("{full_name} main")));
        hub.repos.insert(
            full_name.to_ascii_lowercase(),
            Repo {
                id,
                owner: owner.to_string(),
                name: name.to_string(),
                branches,
                git_dir: None,
                labels: Vec::new(),
                items: BTreeMap::new(),
                next_number: 1,
                releases: Vec::new(),
                comments: Vec::new(),
                statuses: Vec::new(),
            },
        );
    }

    /// The releases of `repo`, oldest first.
    pub fn releases(&self, repo: &str) -> Vec<FakeRelease> {
        lock(&self.hub)
            .repos
            .get(&repo.to_ascii_lowercase())
            .map(|r| r.releases.clone())
            .unwrap_or_default()
    }

    /// An issue, "open" or "closed" (as completed); returns its number.
    ///
    /// # Panics
    /// On an unknown repository or state.
    pub fn add_issue(&self, repo: &str, title: &str, state: &str, labels: &[&str]) -> u64 {
        let open = match state {
            "open" => true,
            "closed" => false,
            other => panic!("FakeGitHub::add_issue: state `{other}` is not open or closed"),
        };
        let mut hub = lock(&self.hub);
        let at = hub.seed_tick();
        let id = hub.id();
        let mut label_ids = Vec::new();
        for _ in labels {
            label_ids.push(hub.id());
        }
        let repo = hub.repo_mut(repo);
        for (name, label_id) in labels.iter().zip(label_ids) {
            if !repo.labels.iter().any(|(_, n)| n == name) {
                repo.labels.push((label_id, (*name).to_string()));
            }
        }
        let number = repo.next_number;
        repo.next_number += 1;
        repo.items.insert(
            number,
            Item {
                id,
                number,
                title: title.to_string(),
                body: None,
                open,
                state_reason: (!open).then(|| "completed".to_string()),
                labels: labels.iter().map(|l| (*l).to_string()).collect(),
                created_at: at,
                updated_at: at,
                closed_at: (!open).then_some(at),
                pull: None,
            },
        );
        number
    }

    /// Back `repo`'s branches by the git repository at `git_dir` (a bare
    /// remote the tests push to): what is pushed there is what this GitHub
    /// knows, as on GitHub.
    ///
    /// # Panics
    /// On an unknown repository.
    pub fn attach_git(&self, repo: &str, git_dir: &std::path::Path) {
        let mut hub = lock(&self.hub);
        hub.repo_mut(repo).git_dir = Some(git_dir.to_path_buf());
    }

    /// # Panics
    /// On an unknown repository.
    pub fn add_branch(&self, repo: &str, name: &str) {
        let mut hub = lock(&self.hub);
        let sha = sha_of(&format!("{repo} {name}"));
        hub.repo_mut(repo).branches.insert(name.to_string(), sha);
    }

    /// A pull request from `head` into `base` (branches are created as
    /// needed): open, or closed and merged. Returns its number.
    ///
    /// # Panics
    /// On an unknown repository.
    pub fn add_pull(&self, repo: &str, head: &str, base: &str, merged: bool) -> u64 {
        let mut hub = lock(&self.hub);
        let at = hub.seed_tick();
        let id = hub.id();
        let full = repo.to_string();
        let repo = hub.repo_mut(repo);
        let mut sha = |branch: &str| {
            repo.branches
                .entry(branch.to_string())
                .or_insert_with(|| sha_of(&format!("{full} {branch}")))
                .clone()
        };
        let (head_sha, base_sha) = (sha(head), sha(base));
        let number = repo.next_number;
        repo.next_number += 1;
        repo.items.insert(
            number,
            Item {
                id,
                number,
                title: format!("Merge {head} into {base}"),
                body: None,
                open: !merged,
                state_reason: None,
                labels: Vec::new(),
                created_at: at,
                updated_at: at,
                closed_at: merged.then_some(at),
                pull: Some(PullPart {
                    head: head.to_string(),
                    base: base.to_string(),
                    head_sha,
                    base_sha,
                    merged_at: merged.then_some(at),
                    draft: false,
                }),
            },
        );
        number
    }

    /// `(state, state_reason, labels)` of an issue (or pull request).
    pub fn issue(&self, repo: &str, number: u64) -> Option<(String, Option<String>, Vec<String>)> {
        let hub = lock(&self.hub);
        let item = hub
            .repos
            .get(&repo.to_ascii_lowercase())?
            .items
            .get(&number)?;
        let state = if item.open { "open" } else { "closed" };
        Some((
            state.to_string(),
            item.state_reason.clone(),
            item.labels.clone(),
        ))
    }

    /// Every pull request of `repo`, by number.
    pub fn pulls(&self, repo: &str) -> Vec<FakePull> {
        let hub = lock(&self.hub);
        let Some(repo) = hub.repos.get(&repo.to_ascii_lowercase()) else {
            return Vec::new();
        };
        repo.items
            .values()
            .filter_map(|i| {
                let pull = i.pull.as_ref()?;
                Some(FakePull {
                    number: i.number,
                    title: i.title.clone(),
                    body: i.body.clone(),
                    head: pull.head.clone(),
                    base: pull.base.clone(),
                    state: if i.open { "open" } else { "closed" }.into(),
                    merged: pull.merged_at.is_some(),
                })
            })
            .collect()
    }

    /// Someone else sets the issue's state ("open" or "closed"), as in the
    /// web UI: `updated_at` moves, so the pages holding it get new ETags.
    ///
    /// # Panics
    /// On an unknown repository or issue.
    pub fn edit_externally(&self, repo: &str, number: u64, state: &str) {
        let mut hub = lock(&self.hub);
        let now = hub.tick();
        let Some(item) = hub.repo_mut(repo).items.get_mut(&number) else {
            panic!("FakeGitHub::edit_externally: no issue {repo}#{number}");
        };
        apply_state(item, Some(state), None, now);
        item.updated_at = now;
    }

    /// The comments on an issue or pull request, oldest first.
    pub fn comments(&self, repo: &str, number: u64) -> Vec<FakeComment> {
        let hub = lock(&self.hub);
        let Some(repo) = hub.repos.get(&repo.to_ascii_lowercase()) else {
            return Vec::new();
        };
        repo.comments
            .iter()
            .filter(|c| c.number == number)
            .map(|c| FakeComment {
                id: c.id,
                body: c.body.clone(),
                user: c.user.clone(),
            })
            .collect()
    }

    /// Someone (`user`, a login) comments on an issue or pull request now,
    /// as in the web UI; returns the comment's id.
    ///
    /// # Panics
    /// On an unknown repository or issue.
    pub fn add_comment(&self, repo: &str, number: u64, user: &str, body: &str) -> u64 {
        let mut hub = lock(&self.hub);
        let now = hub.tick();
        let id = hub.id();
        let repo_ref = hub.repo_mut(repo);
        let Some(item) = repo_ref.items.get_mut(&number) else {
            panic!("FakeGitHub::add_comment: no issue {repo}#{number}");
        };
        item.updated_at = now;
        repo_ref.comments.push(CommentRec {
            id,
            number,
            body: body.to_string(),
            user: user.to_string(),
            created_at: now,
            updated_at: now,
        });
        id
    }

    /// The statuses of commit `sha`, newest first.
    pub fn statuses(&self, repo: &str, sha: &str) -> Vec<FakeStatus> {
        let hub = lock(&self.hub);
        let Some(repo) = hub.repos.get(&repo.to_ascii_lowercase()) else {
            return Vec::new();
        };
        repo.statuses
            .iter()
            .rev()
            .filter(|s| s.sha.eq_ignore_ascii_case(sha))
            .map(|s| FakeStatus {
                state: s.state.clone(),
                context: s.context.clone(),
                description: s.description.clone(),
                target_url: s.target_url.clone(),
            })
            .collect()
    }

    /// The body of an issue or pull request (`None` when it has none).
    pub fn issue_body(&self, repo: &str, number: u64) -> Option<String> {
        let hub = lock(&self.hub);
        hub.repos
            .get(&repo.to_ascii_lowercase())?
            .items
            .get(&number)?
            .body
            .clone()
    }

    /// Someone edits an issue's body in the web UI: `updated_at` moves.
    ///
    /// # Panics
    /// On an unknown repository or issue.
    pub fn set_issue_body(&self, repo: &str, number: u64, body: &str) {
        let mut hub = lock(&self.hub);
        let now = hub.tick();
        let Some(item) = hub.repo_mut(repo).items.get_mut(&number) else {
            panic!("FakeGitHub::set_issue_body: no issue {repo}#{number}");
        };
        item.body = Some(body.to_string());
        item.updated_at = now;
    }

    /// The numbers of the issues (pull requests left out), open and
    /// closed, carrying `label` (compared case-insensitively).
    pub fn issues_with_label(&self, repo: &str, label: &str) -> Vec<u64> {
        let hub = lock(&self.hub);
        let Some(repo) = hub.repos.get(&repo.to_ascii_lowercase()) else {
            return Vec::new();
        };
        repo.items
            .values()
            .filter(|i| i.pull.is_none())
            .filter(|i| i.labels.iter().any(|l| l.eq_ignore_ascii_case(label)))
            .map(|i| i.number)
            .collect()
    }

    /// The sha a pull request's `head` shows (its branch's head while open).
    pub fn pull_head_sha(&self, repo: &str, number: u64) -> Option<String> {
        let mut hub = lock(&self.hub);
        hub.refresh_branches_from_git();
        let repo = hub.repos.get(&repo.to_ascii_lowercase())?;
        let item = repo.items.get(&number)?;
        let pull = item.pull.as_ref()?;
        Some(repo.pull_head_sha(item, pull).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_github_iso_8601() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn if_none_match_uses_weak_comparison_and_lists() {
        let etag = "\"abc\"";
        assert!(none_match("\"abc\"", etag));
        assert!(none_match("W/\"abc\"", etag));
        assert!(none_match("\"x\", \"abc\"", etag));
        assert!(none_match("*", etag));
        assert!(!none_match("\"abcd\"", etag));
    }

    #[test]
    fn queries_keep_their_order_and_replace_the_page() {
        let q = Query::parse(Some("state=all&page=2&per_page=100&labels=a%20b"));
        assert_eq!(q.get("labels").as_deref(), Some("a b"));
        assert_eq!(q.with_page(3), "state=all&per_page=100&labels=a%20b&page=3");
    }

    #[test]
    fn label_filters_need_every_name_in_any_case() {
        let labels = ["Bug".to_string(), "concord/regression".to_string()];
        assert!(has_labels(&labels, "bug"));
        assert!(has_labels(&labels, "concord/regression, BUG"));
        assert!(has_labels(&labels, ""));
        assert!(!has_labels(&labels, "bug,ui"));
        assert!(!has_labels(&[], "bug"));
    }

    #[test]
    fn lengths_are_counted_in_characters() {
        assert!(length_error("Status", "description", &"é".repeat(140), 140).is_none());
        let error = length_error("Status", "description", &"a".repeat(141), 140).expect("long");
        assert_eq!(
            error,
            json!({"resource": "Status", "code": "custom", "field": "description",
                "message": "description is too long (maximum is 140 characters)"})
        );
    }

    #[test]
    fn combined_states_follow_githubs_rules() {
        assert_eq!(combined_state([]), "pending");
        assert_eq!(combined_state(["success", "success"]), "success");
        assert_eq!(combined_state(["success", "pending"]), "pending");
        assert_eq!(combined_state(["pending", "error"]), "failure");
        assert_eq!(combined_state(["failure", "success"]), "failure");
    }

    #[test]
    fn only_full_hex_shas_name_commits() {
        assert!(is_full_sha(&"a1".repeat(20)));
        assert!(is_full_sha(&"F".repeat(64)));
        assert!(!is_full_sha("a1b2c3d"));
        assert!(!is_full_sha(&"g".repeat(40)));
        assert!(!is_full_sha("main"));
    }
}
