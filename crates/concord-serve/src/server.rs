//! The HTTP shell: routes, auth, error bodies. Reads go straight to the
//! hub; set, log, explain, history and the summary call the `concord-app`
//! use cases in process (the CLI calls the same ones, so the two never
//! disagree on what a command does); syncs, mirrors and check snapshots go
//! through [`crate::jobs`] (the `concord` binary).

use crate::auth::{self, Access, Denied, StoredToken};
use crate::bodies;
use crate::jobs::{JobKind, JobSpec, Jobs};
use crate::page;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, put};
use concord_app::summary::{Summary, SummaryOptions};
use concord_app::{Failure, Outcome};
use concord_store::{ItemFilter, JournalFilter, Store, StoreError};
use concord_workspace::Workspace;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the server needs to know beyond the hub.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub workspace: String,
    /// Read endpoints and the page without a token.
    pub public_read: bool,
    /// `X-Hub-Signature-256` secret for `POST /hooks/github`.
    pub github_secret: Option<String>,
    /// Hook name -> shared secret for `POST /hooks/{name}`.
    pub hook_secrets: BTreeMap<String, String>,
    /// Workspace repo -> its remote URL, to tell which pushes concern us.
    pub repo_remotes: Vec<(String, String)>,
    /// Source names `POST /api/v1/sync` accepts.
    pub sources: Vec<String>,
    /// `[[sync]]` rule names `POST /api/v1/sync` accepts.
    pub rules: Vec<String>,
    pub max_body_bytes: usize,
}

/// The next run of each scheduled job, for the API and the page.
pub type ScheduleView = Arc<Mutex<Vec<Value>>>;

#[derive(Clone)]
pub struct App {
    pub store: Store,
    /// The workspace the use cases run on.
    pub workspace: Arc<Workspace>,
    pub jobs: Jobs,
    pub settings: Arc<Settings>,
    pub schedule: ScheduleView,
    tokens: Arc<Mutex<Option<TokenCache>>>,
    summary: Arc<Mutex<Option<SummaryCache>>>,
    /// Use cases (explain, set, log, history, summary) running on blocking
    /// threads, at most a few at once, whoever sends them.
    blocking: Arc<tokio::sync::Semaphore>,
}

const BLOCKING_AT_ONCE: usize = 4;

/// The summary, what it was computed after (the newest job and its state,
/// and how many events), and when: it scans the workspace.
type SummaryCache = (Instant, String, Arc<Summary>);
const SUMMARY_CACHE: Duration = Duration::from_secs(2);

/// When the tokens were read, and what they were.
type TokenCache = (Instant, Vec<StoredToken>);

/// Tokens are read from the hub at most this often (revocations apply
/// within it).
const TOKEN_CACHE: Duration = Duration::from_secs(2);
/// An unknown token re-reads the tokens if the cache is older than this.
const TOKEN_RECHECK: Duration = Duration::from_millis(250);

impl App {
    pub fn new(
        store: Store,
        workspace: Arc<Workspace>,
        jobs: Jobs,
        settings: Settings,
        schedule: ScheduleView,
    ) -> App {
        App {
            store,
            workspace,
            jobs,
            settings: Arc::new(settings),
            schedule,
            tokens: Arc::new(Mutex::new(None)),
            summary: Arc::new(Mutex::new(None)),
            blocking: Arc::new(tokio::sync::Semaphore::new(BLOCKING_AT_ONCE)),
        }
    }

    /// The tokens, from a cache younger than `max_age`.
    async fn tokens(&self, max_age: Duration) -> Result<Vec<StoredToken>, ApiError> {
        if let Ok(cache) = self.tokens.lock()
            && let Some((at, tokens)) = cache.as_ref()
            && at.elapsed() < max_age
        {
            return Ok(tokens.clone());
        }
        let tokens: Vec<StoredToken> = self
            .store
            .api_tokens()
            .await?
            .into_iter()
            .map(|t| StoredToken {
                name: t.name,
                hash: t.hash,
                read_only: t.read_only,
                revoked: t.revoked_at.is_some(),
            })
            .collect();
        if let Ok(mut cache) = self.tokens.lock() {
            *cache = Some((Instant::now(), tokens.clone()));
        }
        Ok(tokens)
    }
}

/// An error body: `{"error": {"status", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        // The database being away is the server's state, not the request's fault.
        let message = auth::redact(&error.to_string());
        let status = match &error {
            StoreError::Database(_) | StoreError::Unavailable { .. } | StoreError::Io(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            StoreError::Conflict { .. } => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError { status, message }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = bodies::ErrorBody {
            version: bodies::VERSION,
            error: bodies::ErrorDetail {
                status: self.status.as_u16(),
                message: self.message,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok(body: impl Serialize) -> ApiResult {
    Ok(axum::Json(body).into_response())
}

/// Every route, in one place: the OpenAPI document is checked against it.
pub fn router(app: App) -> Router {
    let limit = app.settings.max_body_bytes.max(1024);
    let api = Router::new()
        .route("/api/v1/summary", get(summary))
        .route("/api/v1/control-room", get(control_room_data))
        .route("/api/v1/items", get(items))
        .route("/api/v1/items/{key}", get(item))
        .route("/api/v1/items/{key}/history", get(item_history))
        .route("/api/v1/items/{key}/explain", get(item_explain))
        .route("/api/v1/items/{key}/events", post(item_event))
        .route("/api/v1/items/{key}/status", put(item_status))
        .route("/api/v1/runs", get(runs))
        .route("/api/v1/jobs", get(jobs_list))
        .route("/api/v1/jobs/{id}", get(job))
        .route("/api/v1/jobs/{id}/cancel", post(job_cancel))
        .route("/api/v1/sync", post(sync_now))
        .route("/api/v1/journal", get(journal))
        .route("/api/v1/snapshots", get(snapshots))
        .route("/api/v1/snapshots/{id}", get(snapshot))
        .route("/api/v1/mirrors", get(mirrors))
        .route("/api/v1/trains", get(trains))
        .route("/api/v1/schedule", get(schedule))
        .route("/api/v1/repos/{name}", get(repo_listing))
        .route("/api/v1/sources/{name}", get(source_listing))
        .route("/api/v1/stream", get(stream))
        .route("/", get(control_room))
        .route("/items/{key}", get(item_page))
        .route("/repos/{name}", get(repo_page))
        .route("/sources/{name}", get(source_page))
        .route_layer(middleware::from_fn_with_state(app.clone(), require_token));
    Router::new()
        .merge(api)
        .route("/api/v1/health", get(health))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/hooks/github", post(github_hook))
        .route("/hooks/{name}", post(named_hook))
        .route("/static/control-room.js", get(script))
        .route("/static/control-room.css", get(style))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::map_response(security_headers))
        .with_state(app)
}

/// What a browser may load for the control room: its own script, style,
/// event stream and forms, nothing inline, nothing from elsewhere, never
/// in a frame.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// Every response carries the content security policy, forbids MIME
/// sniffing and sends no referrer (item keys are in URLs).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Reads need a token unless `--public-read`; writes always need one that
/// is not read-only.
async fn require_token(State(app): State<App>, request: Request, next: Next) -> Response {
    let write = !matches!(*request.method(), Method::GET | Method::HEAD);
    if !write && app.settings.public_read {
        return next.run(request).await;
    }
    // The sign-in cookie counts for reads only: a write from a browser
    // cannot be forged by another site, it needs the header.
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            (!write)
                .then(|| cookie_token(request.headers()))
                .flatten()
                .map(|t| format!("Bearer {t}"))
        });
    let need = if write { Access::Write } else { Access::Read };
    let mut verdict = match app.tokens(TOKEN_CACHE).await {
        Ok(tokens) => auth::authorize(header.as_deref(), &tokens, need),
        Err(e) => return e.into_response(),
    };
    // A token created a moment ago: look again, at most a few times a second.
    if verdict == Err(Denied::Unknown) {
        verdict = match app.tokens(TOKEN_RECHECK).await {
            Ok(tokens) => auth::authorize(header.as_deref(), &tokens, need),
            Err(e) => return e.into_response(),
        };
    }
    match verdict {
        Ok(identity) => {
            let mut request = request;
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(denied) => {
            let page = request.uri().path() == "/" || request.uri().path().starts_with("/items/");
            denied_response(denied, page && header.is_none())
        }
    }
}

fn denied_response(denied: Denied, html: bool) -> Response {
    let status = StatusCode::from_u16(denied.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    if html {
        let mut response = (status, Html(page::login_hint_page())).into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    ApiError::new(status, denied.message()).into_response()
}

const COOKIE: &str = "concord_token";

/// The token of the sign-in cookie, if the request carries one.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

async fn login_form() -> Response {
    Html(page::login_hint_page()).into_response()
}

/// `token=…` from the sign-in form: a valid token becomes an `HttpOnly`,
/// `SameSite=Strict` cookie, and the browser goes to the control room.
async fn login(State(app): State<App>, body: Bytes) -> Response {
    let token = form_value(&body, "token").unwrap_or_default();
    let tokens = match app.tokens(TOKEN_RECHECK).await {
        Ok(tokens) => tokens,
        Err(e) => return e.into_response(),
    };
    match auth::authorize(Some(&format!("Bearer {token}")), &tokens, Access::Read) {
        Ok(_) => {
            let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(denied) => (
            StatusCode::UNAUTHORIZED,
            Html(page::login_page(Some(&denied.message()))),
        )
            .into_response(),
    }
}

async fn logout() -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("concord_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

/// One field of an `application/x-www-form-urlencoded` body.
fn form_value(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| percent_decode(&value.replace('+', " ")))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(Some(hi)), Some(Some(lo))) = (
                bytes.get(i + 1).map(|b| hex(*b)),
                bytes.get(i + 2).map(|b| hex(*b)),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn caller(request_identity: Option<&auth::TokenIdentity>) -> String {
    request_identity.map_or_else(|| "public".into(), |i| format!("api:{}", i.name))
}

/// Keys come from the URL: refuse what no item key can be.
fn checked_key(key: &str) -> Result<&str, ApiError> {
    if key.is_empty() || key.len() > 512 || key.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "an item key is 1 to 512 characters without control characters",
        ));
    }
    Ok(key)
}

/// A JSON body, or a 400 that says what is wrong with it.
fn json_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
}

async fn health(State(app): State<App>) -> ApiResult {
    match app.store.ping().await {
        Ok(()) => ok(bodies::Health {
            version: bodies::VERSION,
            status: "ok",
            database: "ok",
        }),
        Err(e) => Err(ApiError::from(e)),
    }
}

async fn openapi() -> Response {
    axum::Json(crate::openapi::document()).into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see /api/v1/openapi.json")
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        page::SCRIPT,
    )
        .into_response()
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        page::STYLE,
    )
        .into_response()
}

// ------------------------------------------------------------------ reads

#[derive(Debug, Deserialize)]
struct ItemsQuery {
    status: Option<String>,
    source: Option<String>,
    drift: Option<bool>,
    after: Option<String>,
    limit: Option<i64>,
}

async fn items(
    State(app): State<App>,
    query: Result<Query<ItemsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit is between 1 and 1000"));
    }
    let filter = ItemFilter {
        status: query.status,
        source: query.source,
        drift: query.drift,
        after: query.after,
        limit,
    };
    let page = app.store.item_page(&filter).await?;
    let keys: Vec<String> = page.iter().map(|v| v.key.clone()).collect();
    let observations = app.store.observations_for(&keys).await?;
    let mut by_key: BTreeMap<&str, BTreeMap<String, Option<String>>> = BTreeMap::new();
    for o in &observations {
        by_key
            .entry(o.key.as_str())
            .or_default()
            .insert(o.source.clone(), o.status.clone());
    }
    let next = (page.len() as i64 == limit)
        .then(|| page.last().map(|v| v.key.clone()))
        .flatten();
    let items = page
        .into_iter()
        .map(|v| {
            let sources = by_key.remove(v.key.as_str()).unwrap_or_default();
            let drift = sources.values().any(|s| s.as_deref() != v.value.as_deref());
            bodies::ItemRow {
                key: v.key,
                status: v.value,
                value_version: v.version,
                updated_at: v.updated_at,
                updated_by: v.updated_by,
                sources,
                drift,
            }
        })
        .collect();
    ok(bodies::ItemsPage {
        version: bodies::VERSION,
        items,
        next,
    })
}

async fn item_view(app: &App, key: &str) -> Result<bodies::ItemView, ApiError> {
    let keys = [key.to_string()];
    // Four independent reads: at once, on the pool's connections.
    let (hub, sources, history, bases) = tokio::try_join!(
        app.store.hub_values_for(&keys),
        app.store.observations_for(&keys),
        app.store.history(key),
        app.store.bases_for(&keys),
    )?;
    if hub.is_empty() && sources.is_empty() && history.is_empty() {
        return Err(ApiError::not_found(format!("no item `{key}` in the hub")));
    }
    let status = hub
        .iter()
        .find(|v| v.field == "status")
        .map(|v| bodies::HubStatus {
            status: v.value.clone(),
            value_version: v.version,
            updated_at: v.updated_at.clone(),
            updated_by: v.updated_by.clone(),
        });
    let last_decision = history
        .iter()
        .rev()
        .find(|e| e.field.as_deref() == Some("status"))
        .map(|e| bodies::LastDecision {
            at: e.at.clone(),
            to: e.to.clone(),
            target: e.target.clone(),
            reason: e.reason.clone(),
            actor: e.actor.clone(),
        });
    Ok(bodies::ItemView {
        version: bodies::VERSION,
        key: key.to_string(),
        hub: status,
        fields: hub,
        sources,
        history,
        explain: bodies::ItemExplain {
            bases,
            last_decision,
            full: format!("/api/v1/items/{}/explain", page::encode_component(key)),
        },
    })
}

async fn item(State(app): State<App>, Path(key): Path<String>) -> ApiResult {
    let key = checked_key(&key)?;
    ok(item_view(&app, key).await?)
}

async fn item_history(State(app): State<App>, Path(key): Path<String>) -> ApiResult {
    let key = checked_key(&key)?.to_string();
    let history = in_process(&app, move |_, store| {
        concord_app::history::history(store, &key)
    })
    .await?
    .map_err(|f| failure(f, StatusCode::UNPROCESSABLE_ENTITY))?;
    Ok(axum::Json(history).into_response())
}

async fn item_explain(State(app): State<App>, Path(key): Path<String>) -> ApiResult {
    let options = concord_app::explain::ExplainOptions {
        key: checked_key(&key)?.to_string(),
        // No fetch per request: the server's own syncs keep its checkouts fresh.
        no_fetch: true,
    };
    let explained = in_process(&app, move |ws, _| {
        concord_app::explain::explain(ws, &options)
    })
    .await?
    .map_err(|f| failure(f, StatusCode::NOT_FOUND))?;
    Ok(axum::Json(explained).into_response())
}

#[derive(Debug, Deserialize)]
struct LimitQuery {
    limit: Option<i64>,
}

async fn runs(State(app): State<App>, Query(query): Query<LimitQuery>) -> ApiResult {
    let runs = app
        .store
        .recent_runs(query.limit.unwrap_or(50).clamp(1, 500))
        .await?;
    ok(bodies::Runs {
        version: bodies::VERSION,
        runs: runs
            .iter()
            .map(concord_app::summary::RunView::from)
            .collect(),
    })
}

async fn jobs_list(State(app): State<App>) -> ApiResult {
    ok(bodies::Jobs {
        version: bodies::VERSION,
        jobs: app.jobs.recent(50),
    })
}

async fn job(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    match app.jobs.get(&id) {
        Some(job) => ok(bodies::Job {
            version: bodies::VERSION,
            job,
        }),
        None => Err(ApiError::not_found(format!(
            "no job `{id}` (jobs are kept in memory, the newest 200)"
        ))),
    }
}

#[derive(Debug, Deserialize)]
struct JournalQuery {
    key: Option<String>,
    source: Option<String>,
    actor: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

async fn journal(
    State(app): State<App>,
    query: Result<Query<JournalQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let entries = app
        .store
        .journal_page(&JournalFilter {
            key: query.key,
            source: query.source,
            actor: query.actor,
            before: query.before,
            limit: query.limit.unwrap_or(100).clamp(1, 1000),
        })
        .await?;
    let next = entries.last().map(|e| e.id);
    ok(bodies::Journal {
        version: bodies::VERSION,
        entries,
        next_before: next,
    })
}

/// The newest `limit` snapshots with their findings by severity, oldest first.
async fn snapshot_series(
    app: &App,
    limit: usize,
) -> Result<Vec<concord_app::summary::SnapshotPoint>, ApiError> {
    let listed = app.store.check_snapshots().await?;
    let mut series = Vec::new();
    for cheap in listed.iter().rev().take(limit) {
        if let Some(full) = app.store.check_snapshot(cheap.id).await? {
            series.push(concord_app::summary::snapshot_point(&full));
        }
    }
    series.reverse();
    Ok(series)
}

async fn snapshots(State(app): State<App>) -> ApiResult {
    ok(bodies::Snapshots {
        version: bodies::VERSION,
        snapshots: snapshot_series(&app, 100).await?,
    })
}

async fn snapshot(State(app): State<App>, Path(id): Path<i64>) -> ApiResult {
    let Some(full) = app.store.check_snapshot(id).await? else {
        return Err(ApiError::not_found(format!("no snapshot {id}")));
    };
    let findings: Vec<Value> = full
        .findings
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    ok(bodies::Snapshot {
        version: bodies::VERSION,
        snapshot: full.id,
        by_severity: concord_app::summary::severities(&full.findings),
        taken_at: full.taken_at,
        commit: full.commit_id,
        actor: full.actor,
        total: full.total,
        gating: full.gating,
        findings,
    })
}

async fn mirrors(State(app): State<App>) -> ApiResult {
    let marks = app.store.watermarks_with_prefix("@mirror").await?;
    let mut proposals = Vec::new();
    let mut written = 0usize;
    let mut last_written: Option<String> = None;
    let mut last_runs = Vec::new();
    for mark in &marks {
        if let Some(repo) = mark.source.strip_prefix("@mirror-pr:") {
            let (branch, tree) = mark
                .position
                .split_once(' ')
                .unwrap_or((&mark.position, ""));
            proposals.push(bodies::Proposal {
                repo: repo.to_string(),
                branch: branch.to_string(),
                tree: tree.to_string(),
                at: mark.updated_at.clone(),
            });
        } else if let Some(rule) = mark.source.strip_prefix("@mirror-run:") {
            let run: Value = serde_json::from_str(&mark.position).unwrap_or_default();
            last_runs.push(bodies::MirrorRun {
                rule: rule.to_string(),
                at: mark.updated_at.clone(),
                written: run["written"].clone(),
                reported: run["reported"].clone(),
                failed: run["failed"].clone(),
                commits: run["commits"].clone(),
            });
        } else if mark.source.starts_with("@mirror:") {
            written += 1;
            if last_written
                .as_deref()
                .is_none_or(|l| l < mark.updated_at.as_str())
            {
                last_written = Some(mark.updated_at.clone());
            }
        }
    }
    let runs: Vec<_> = app
        .jobs
        .recent(200)
        .into_iter()
        .filter(|j| j.kind == JobKind::Mirror)
        .take(20)
        .collect();
    ok(bodies::Mirrors {
        version: bodies::VERSION,
        documents_written: written,
        last_written_at: last_written,
        last_runs,
        proposals,
        runs,
    })
}

async fn trains(State(app): State<App>) -> ApiResult {
    let trains = app.store.release_trains().await?;
    ok(bodies::Trains {
        version: bodies::VERSION,
        trains,
    })
}

async fn schedule(State(app): State<App>) -> ApiResult {
    let view = app.schedule.lock().map(|v| v.clone()).unwrap_or_default();
    ok(bodies::Schedule {
        version: bodies::VERSION,
        schedule: view,
    })
}

/// The summary (as `concord summary` computes it), from a cache younger
/// than two seconds unless a job started or finished since.
async fn summary_report(app: &App, events: i64) -> Result<Arc<Summary>, ApiError> {
    let marker = app.jobs.recent(1).first().map_or_else(
        || format!("events={events}"),
        |j| format!("{}:{} events={events}", j.id, j.state),
    );
    if let Ok(cache) = app.summary.lock()
        && let Some((at, seen, summary)) = cache.as_ref()
        && at.elapsed() < SUMMARY_CACHE
        && *seen == marker
    {
        return Ok(summary.clone());
    }
    let options = SummaryOptions { events };
    let summary = in_process(app, move |ws, store| {
        concord_app::summary::summary(ws, store, &options)
    })
    .await?
    .map_err(|f| failure(f, StatusCode::UNPROCESSABLE_ENTITY))?;
    let summary = Arc::new(summary);
    if let Ok(mut cache) = app.summary.lock() {
        *cache = Some((Instant::now(), marker, summary.clone()));
    }
    Ok(summary)
}

#[derive(Debug, Deserialize)]
struct SummaryQuery {
    events: Option<i64>,
}

async fn summary(
    State(app): State<App>,
    query: Result<Query<SummaryQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let events = query
        .events
        .unwrap_or(concord_app::summary::EVENTS_LISTED)
        .clamp(0, 1000);
    let summary = summary_report(&app, events).await?;
    Ok(axum::Json(&*summary).into_response())
}

/// What the control room shows: the summary, plus the job queue's state
/// (the newest jobs and the schedule), which the summary leaves out.
async fn control_room_body(app: &App) -> Result<bodies::ControlRoom, ApiError> {
    let summary = summary_report(app, concord_app::summary::EVENTS_LISTED).await?;
    Ok(bodies::ControlRoom {
        summary: (*summary).clone(),
        jobs: app.jobs.recent(10),
        schedule: app.schedule.lock().map(|v| v.clone()).unwrap_or_default(),
    })
}

/// A body as the page reads it.
fn as_value(body: &impl Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(body)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

async fn control_room_data(State(app): State<App>) -> ApiResult {
    ok(control_room_body(&app).await?)
}

async fn control_room(State(app): State<App>) -> ApiResult {
    let data = as_value(&control_room_body(&app).await?)?;
    Ok(Html(page::control_room(&data, &app.settings.workspace)).into_response())
}

/// The item page: the item view plus the full explanation (which reads
/// the working trees, so an item no sync has recorded yet has a page too).
async fn item_page(State(app): State<App>, Path(key): Path<String>) -> ApiResult {
    let key = checked_key(&key)?.to_string();
    let options = concord_app::explain::ExplainOptions {
        key: key.clone(),
        // No fetch per page view: the server's own syncs keep checkouts fresh.
        no_fetch: true,
    };
    let (view, explained) = tokio::join!(
        item_view(&app, &key),
        in_process(&app, move |ws, _| concord_app::explain::explain(
            ws, &options
        )),
    );
    // An item nobody holds has no explanation: that is not an error here.
    let explanation = match explained? {
        Ok(e) => Some(as_value(&e)?),
        Err(_) => None,
    };
    let mut item = match view {
        Ok(item) => as_value(&item)?,
        Err(e) if e.status == StatusCode::NOT_FOUND => match &explanation {
            Some(found) => not_yet_recorded(&key, found),
            None => {
                return Ok((
                    StatusCode::NOT_FOUND,
                    Html(page::not_found_page(&format!("item {key}"))),
                )
                    .into_response());
            }
        },
        Err(e) => return Err(e),
    };
    if let (Some(object), Some(explanation)) = (item.as_object_mut(), explanation) {
        object.insert("explanation".into(), explanation);
    }
    Ok(Html(page::item_page(&item, &app.settings.workspace)).into_response())
}

/// The item view of an item the sources hold but the hub has not
/// recorded: no hub value, no history, its readings as sources.
fn not_yet_recorded(key: &str, explanation: &Value) -> Value {
    let sources: Vec<Value> = explanation
        .get("readings")
        .and_then(Value::as_array)
        .map(|readings| {
            readings
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "source": r.get("source"),
                        "repo": r.get("repo"),
                        "path": r.get("path"),
                        "line": r.get("line"),
                        "raw_status": r.get("status"),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({"key": key, "hub": null, "sources": sources, "history": []})
}

/// The items of a repo or source, as `/repos/…` and `/sources/…` show them.
async fn listing(
    app: &App,
    scope: concord_app::summary::listing::Scope,
) -> Result<concord_app::summary::listing::Listing, ApiError> {
    in_process(app, move |ws, store| {
        concord_app::summary::listing::listing(ws, store, &scope)
    })
    .await?
    .map_err(|f| failure(f, StatusCode::NOT_FOUND))
}

async fn repo_listing(State(app): State<App>, Path(name): Path<String>) -> ApiResult {
    let scope = concord_app::summary::listing::Scope::Repo(name);
    ok(listing(&app, scope).await?)
}

async fn source_listing(State(app): State<App>, Path(name): Path<String>) -> ApiResult {
    let scope = concord_app::summary::listing::Scope::Source(name);
    ok(listing(&app, scope).await?)
}

/// A listing as a page; an unknown name is the 404 page.
async fn listing_page(app: &App, scope: concord_app::summary::listing::Scope) -> ApiResult {
    let what = match &scope {
        concord_app::summary::listing::Scope::Repo(name) => format!("repo {name}"),
        concord_app::summary::listing::Scope::Source(name) => format!("source {name}"),
    };
    match listing(app, scope).await {
        Ok(found) => {
            let found = as_value(&found)?;
            Ok(Html(page::listing_page(&found, &app.settings.workspace)).into_response())
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            Ok((StatusCode::NOT_FOUND, Html(page::not_found_page(&what))).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn repo_page(State(app): State<App>, Path(name): Path<String>) -> ApiResult {
    listing_page(&app, concord_app::summary::listing::Scope::Repo(name)).await
}

async fn source_page(State(app): State<App>, Path(name): Path<String>) -> ApiResult {
    listing_page(&app, concord_app::summary::listing::Scope::Source(name)).await
}

async fn stream(
    State(app): State<App>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let receiver = app.jobs.events.subscribe();
    // A lagging client skips what it missed; the page reloads anyway.
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(message) => {
                    let kind = message["type"].as_str().unwrap_or("message").to_string();
                    let event = Event::default().event(kind).data(message.to_string());
                    return Some((Ok(event), receiver));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

// ------------------------------------------------------------------ writes

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncRequest {
    source: Option<String>,
    rule: Option<String>,
    #[serde(default)]
    full: bool,
}

async fn sync_now(
    State(app): State<App>,
    identity: Option<axum::Extension<auth::TokenIdentity>>,
    body: Bytes,
) -> ApiResult {
    let request: SyncRequest = if body.is_empty() {
        SyncRequest {
            source: None,
            rule: None,
            full: false,
        }
    } else {
        json_body(&body)?
    };
    if let Some(source) = &request.source {
        one_of("source", source, &app.settings.sources)?;
    }
    if let Some(rule) = &request.rule {
        one_of("rule", rule, &app.settings.rules)?;
    }
    let spec = JobSpec {
        only: request.source,
        rule: request.rule,
        full: request.full,
    };
    let trigger = caller(identity.as_ref().map(|e| &e.0));
    let (record, submitted) = app.jobs.submit(JobKind::Sync, &spec, &trigger);
    let body = bodies::SyncAccepted {
        version: bodies::VERSION,
        job: format!("/api/v1/jobs/{}", record.id),
        run_id: record.id,
        state: submitted,
    };
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

async fn job_cancel(State(app): State<App>, Path(id): Path<String>) -> ApiResult {
    match app.jobs.cancel(&id) {
        Ok((job, cancel)) => Ok((
            StatusCode::ACCEPTED,
            axum::Json(bodies::Cancelled {
                version: bodies::VERSION,
                job,
                cancel,
            }),
        )
            .into_response()),
        Err(crate::jobs::CancelRefused::Unknown) => Err(ApiError::not_found(format!(
            "no job `{id}` (jobs are kept in memory, the newest 200)"
        ))),
        Err(crate::jobs::CancelRefused::Finished(record)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "job `{id}` has finished ({}): nothing to cancel",
                record.outcome.unwrap_or("unknown")
            ),
        )),
    }
}

/// 422 unless `name` is one of `known` (the workspace's sources or rules).
fn one_of(what: &str, name: &str, known: &[String]) -> Result<(), ApiError> {
    if known.iter().any(|k| k == name) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("unknown {what} `{name}`; known: {}", known.join(", ")),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusRequest {
    status: String,
    note: Option<String>,
    #[serde(default)]
    force: bool,
}

async fn item_status(
    State(app): State<App>,
    identity: Option<axum::Extension<auth::TokenIdentity>>,
    Path(key): Path<String>,
    body: Bytes,
) -> ApiResult {
    let key = checked_key(&key)?;
    let request: StatusRequest = json_body(&body)?;
    if request.status.trim().is_empty() || request.status.starts_with('-') {
        return Err(ApiError::bad_request(
            "`status` names a status of the item's workflow",
        ));
    }
    let options = concord_app::set::SetOptions {
        key: key.to_string(),
        status: request.status,
        note: request.note,
        force: request.force,
        actor: actor_of(identity.as_ref().map(|e| &e.0)),
    };
    let report = in_process(&app, move |ws, store| {
        concord_app::set::set(ws, store, &options)
    })
    .await?
    .map_err(write_failure)?;
    Ok(axum::Json(report).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventRequest {
    event_type: String,
    phase: Option<String>,
    summary: Option<String>,
    #[serde(default)]
    artifacts: Vec<String>,
}

async fn item_event(
    State(app): State<App>,
    identity: Option<axum::Extension<auth::TokenIdentity>>,
    Path(key): Path<String>,
    body: Bytes,
) -> ApiResult {
    let key = checked_key(&key)?;
    let request: EventRequest = json_body(&body)?;
    if request.event_type.trim().is_empty() {
        return Err(ApiError::bad_request("`event_type` is required"));
    }
    let options = concord_app::log::LogOptions {
        key: key.to_string(),
        event_type: request.event_type,
        phase: request.phase,
        summary: request.summary,
        artifacts: request.artifacts,
        actor: actor_of(identity.as_ref().map(|e| &e.0)),
    };
    let report = in_process(&app, move |ws, store| {
        concord_app::log::log(ws, store, &options)
    })
    .await?
    .map_err(write_failure)?;
    Ok(axum::Json(report).into_response())
}

/// Who a write through the API is journaled as: the token's owner.
fn actor_of(identity: Option<&auth::TokenIdentity>) -> String {
    identity.map_or_else(
        || "concord-serve".to_string(),
        |i| format!("{} (api)", i.name),
    )
}

/// A use case on one of the runtime's blocking threads (its hub calls run
/// on the server's runtime), waiting for one of the few slots.
async fn in_process<T: Send + 'static>(
    app: &App,
    work: impl FnOnce(&Workspace, &Store) -> Result<T, Failure> + Send + 'static,
) -> Result<Result<T, Failure>, ApiError> {
    let _slot = app.blocking.acquire().await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )
    })?;
    let (workspace, store) = (app.workspace.clone(), app.store.clone());
    tokio::task::spawn_blocking(move || work(&workspace, &store))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// A failure of a use case as an error body: a usage or configuration
/// failure gets `usage` (422, or 404 for a key nobody holds), findings 409,
/// the rest 500. The message carries the help, as the terminal shows it.
fn failure(f: Failure, usage: StatusCode) -> ApiError {
    let status = match f.outcome {
        Outcome::ConfigError => usage,
        Outcome::Findings => StatusCode::CONFLICT,
        Outcome::Clean | Outcome::PartialFailure => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let message = match &f.help {
        Some(help) => format!("{}; help: {help}", f.message),
        None => f.message.clone(),
    };
    ApiError::new(status, auth::redact(&message))
}

fn write_failure(f: Failure) -> ApiError {
    failure(f, StatusCode::UNPROCESSABLE_ENTITY)
}

// ------------------------------------------------------------------ webhooks

async fn github_hook(State(app): State<App>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let Some(secret) = app.settings.github_secret.as_deref() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "GitHub webhooks are off: start the server with CONCORD_WEBHOOK_SECRET set",
        ));
    };
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if let Err(e) = auth::verify_github_signature(secret.as_bytes(), &body, signature) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()));
    }
    if let Some(duplicate) = replayed(&app, &headers, &body).await? {
        return Ok((
            StatusCode::OK,
            axum::Json(bodies::HookAnswer {
                delivery: Some(duplicate),
                ..bodies::HookAnswer::ignored("this delivery was already received")
            }),
        )
            .into_response());
    }
    let event = headers
        .get("x-github-event")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match event {
        "ping" => {
            return ok(bodies::HookAnswer {
                ok: Some(true),
                event: Some("ping".into()),
                ..bodies::HookAnswer::empty()
            });
        }
        "push" => {}
        other => {
            return Ok((
                StatusCode::ACCEPTED,
                axum::Json(bodies::HookAnswer::ignored(format!(
                    "event `{other}` does not trigger a sync"
                ))),
            )
                .into_response());
        }
    }
    let payload: Value = json_body(&body)?;
    let full_name = payload["repository"]["full_name"].as_str().unwrap_or("");
    let touched: Vec<&str> = app
        .settings
        .repo_remotes
        .iter()
        .filter(|(_, url)| remote_names(url, full_name))
        .map(|(repo, _)| repo.as_str())
        .collect();
    if touched.is_empty() {
        return Ok((
            StatusCode::ACCEPTED,
            axum::Json(bodies::HookAnswer::ignored(format!(
                "`{full_name}` is not a repository of this workspace"
            ))),
        )
            .into_response());
    }
    let (record, submitted) = app
        .jobs
        .submit(JobKind::Sync, &JobSpec::default(), "webhook:github");
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(bodies::HookAnswer {
            run_id: Some(record.id),
            state: Some(submitted),
            repos: Some(touched.iter().map(|r| r.to_string()).collect()),
            ..bodies::HookAnswer::empty()
        }),
    )
        .into_response())
}

/// How long a webhook delivery is remembered (GitHub redelivers for days).
const DELIVERY_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// `Some(delivery id)` when this signed delivery was already received: the
/// same `X-GitHub-Delivery`, or the same body (a replay under a new id; two
/// real pushes never have identical bodies). Kept in the hub, so a restart
/// does not forget. Asked only after the signature checked out, so nobody
/// without the secret can fill the table.
async fn replayed(app: &App, headers: &HeaderMap, body: &[u8]) -> Result<Option<String>, ApiError> {
    use sha2::Digest;
    let delivery = headers
        .get("x-github-delivery")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut ids = vec![format!("body:{}", hex::encode(sha2::Sha256::digest(body)))];
    if !delivery.is_empty() {
        ids.push(format!("delivery:{delivery}"));
    }
    let now = std::time::SystemTime::now();
    let at = humantime::format_rfc3339_micros(now).to_string();
    let forget = humantime::format_rfc3339_micros(now - DELIVERY_WINDOW).to_string();
    let new = app.store.note_delivery(&ids, &at, &forget).await?;
    Ok((!new).then_some(delivery))
}

/// Whether a remote URL (https, ssh or scp-like) names `owner/name`.
pub fn remote_names(url: &str, full_name: &str) -> bool {
    if full_name.is_empty() || !full_name.contains('/') {
        return false;
    }
    let url = url.trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url).to_ascii_lowercase();
    let wanted = full_name.to_ascii_lowercase();
    url.ends_with(&format!("/{wanted}")) || url.ends_with(&format!(":{wanted}"))
}

async fn named_hook(
    State(app): State<App>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let Some(expected) = app.settings.hook_secrets.get(&name) else {
        return Err(ApiError::not_found(format!("no hook `{name}`")));
    };
    let presented = headers
        .get("x-concord-secret")
        .and_then(|v| v.to_str().ok());
    if !auth::verify_shared_secret(expected, presented) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing or wrong X-Concord-Secret",
        ));
    }
    let (record, submitted) = app.jobs.submit(
        JobKind::Sync,
        &JobSpec::default(),
        &format!("webhook:{name}"),
    );
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(bodies::HookAnswer {
            run_id: Some(record.id),
            state: Some(submitted),
            ..bodies::HookAnswer::empty()
        }),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_match_owner_and_name_in_every_url_form() {
        for url in [
            "https://github.com/acme/app.git",
            "https://github.com/Acme/App",
            "git@github.com:acme/app.git",
            "ssh://git@github.com/acme/app/",
        ] {
            assert!(remote_names(url, "acme/app"), "{url}");
        }
        assert!(!remote_names(
            "https://github.com/acme/app-old.git",
            "acme/app"
        ));
        assert!(!remote_names(
            "https://github.com/other/acme/app2",
            "acme/app"
        ));
        assert!(!remote_names("/tmp/app.git", ""));
    }

    #[test]
    fn the_sign_in_cookie_and_form_are_read_exactly() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; concord_token=cct_abc; b=2"),
        );
        assert_eq!(cookie_token(&headers).as_deref(), Some("cct_abc"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("xconcord_token=no"),
        );
        assert_eq!(cookie_token(&headers), None);
        assert_eq!(
            form_value(b"x=1&token=cct_a%2Bb+c", "token").as_deref(),
            Some("cct_a+b c")
        );
        assert_eq!(form_value(b"token=%zz", "token").as_deref(), Some("%zz"));
        assert_eq!(form_value(b"other=1", "token"), None);
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(checked_key("").is_err());
        assert!(checked_key("a\nb").is_err());
        assert!(checked_key(&"k".repeat(513)).is_err());
        assert!(
            checked_key("../../etc/passwd").is_ok(),
            "a key, never a path"
        );
    }
}
