//! A fake OpenProject speaking the part of API v3 concord uses, shaped
//! after the published spec (`docs/api/apiv3` in opf/openproject):
//!
//! - HTTP Basic auth, user `apikey`, password the token; anything else is
//!   `401 Unauthenticated`.
//! - `GET /api/v3/statuses` (and `/api/v3/statuses/{id}`).
//! - `GET /api/v3/work_packages` and `/api/v3/projects/{id|identifier}/work_packages`
//!   with `filters` (JSON: `id`, `status`/`status_id`, `project`), `sortBy`
//!   (`id` only), `offset` (a 1-based *page number*) and `pageSize`
//!   (default [`DEFAULT_PAGE_SIZE`], capped at [`MAX_PAGE_SIZE`] like
//!   `apiv3_max_page_size`, `-1` meaning the maximum). Without `filters`
//!   the server applies its default filter, open statuses only, as
//!   OpenProject does.
//! - `GET`/`PATCH /api/v3/work_packages/{id}`: PATCH needs
//!   `Content-Type: application/json` (406 without one, 415 for another),
//!   a JSON object (400), `lockVersion` (422), the current `lockVersion`
//!   (409 `UpdateConflict`), a known status link (422); a change bumps
//!   `lockVersion`.
//! - `GET`/`POST /api/v3/work_packages/{id}/activities`: comments.
//! - Request targets longer than [`MAX_TARGET`] bytes get 414, as the
//!   proxy in front of a real instance would answer.
//!
//! Errors are `application/hal+json` bodies with `_type: Error`,
//! `errorIdentifier` and `message`.

use crate::{Control, FakeServer, credentials};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// Page size when the request names none (OpenProject's first
/// `per_page_options` value).
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Larger `pageSize` values are cut to this (`apiv3_max_page_size`).
pub const MAX_PAGE_SIZE: usize = 1000;
/// Longest request target (path and query) served; nginx's default
/// header buffer is 8 KiB.
pub const MAX_TARGET: usize = 8192;

const ERROR_URN: &str = "urn:openproject-org:api:v3:errors:";
const HAL_JSON: &str = "application/hal+json; charset=utf-8";

struct StatusRow {
    id: u64,
    name: String,
    is_closed: bool,
}

struct ProjectRow {
    id: u64,
    identifier: String,
}

struct WorkPackageRow {
    id: u64,
    project: u64,
    subject: String,
    status: u64,
    lock_version: u64,
    comments: Vec<(u64, String)>,
}

struct Db {
    token: String,
    statuses: Vec<StatusRow>,
    projects: Vec<ProjectRow>,
    work_packages: BTreeMap<u64, WorkPackageRow>,
    next_activity: u64,
}

impl Db {
    fn status(&self, id: u64) -> Option<&StatusRow> {
        self.statuses.iter().find(|s| s.id == id)
    }

    fn status_named(&self, name: &str) -> Option<u64> {
        self.statuses.iter().find(|s| s.name == name).map(|s| s.id)
    }

    fn project(&self, id_or_identifier: &str) -> Option<&ProjectRow> {
        match id_or_identifier.parse::<u64>() {
            Ok(id) => self.projects.iter().find(|p| p.id == id),
            Err(_) => self
                .projects
                .iter()
                .find(|p| p.identifier == id_or_identifier),
        }
    }

    fn render(&self, wp: &WorkPackageRow) -> Value {
        let status = self.status(wp.status);
        let project = self.projects.iter().find(|p| p.id == wp.project);
        let href = format!("/api/v3/work_packages/{}", wp.id);
        json!({
            "_type": "WorkPackage",
            "id": wp.id,
            "subject": wp.subject,
            "lockVersion": wp.lock_version,
            "_links": {
                "self": {"href": href, "title": wp.subject},
                "update": {"href": href, "method": "patch", "title": format!("Update {}", wp.subject)},
                "addComment": {"href": format!("{href}/activities"), "method": "post", "title": "Add comment"},
                "status": {
                    "href": format!("/api/v3/statuses/{}", wp.status),
                    "title": status.map_or("", |s| s.name.as_str()),
                },
                "project": {
                    "href": format!("/api/v3/projects/{}", wp.project),
                    "title": project.map_or("", |p| p.identifier.as_str()),
                },
            },
        })
    }
}

#[derive(Clone)]
struct Shared(Arc<Mutex<Db>>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Db> {
        // A panicking handler must not wedge the inspection methods.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake OpenProject; seed it, point a client at [`url`](Self::url).
pub struct FakeOpenProject {
    server: FakeServer,
    db: Shared,
}

impl FakeOpenProject {
    /// Serve on a free loopback port, accepting `token` as the API key.
    pub fn start(token: &str) -> std::io::Result<FakeOpenProject> {
        let db = Shared(Arc::new(Mutex::new(Db {
            token: token.to_string(),
            statuses: Vec::new(),
            projects: Vec::new(),
            work_packages: BTreeMap::new(),
            next_activity: 1,
        })));
        let router = Router::new()
            .route("/api/v3/statuses", get(list_statuses))
            .route("/api/v3/statuses/{id}", get(show_status))
            .route("/api/v3/work_packages", get(list_all))
            .route(
                "/api/v3/projects/{project}/work_packages",
                get(list_in_project),
            )
            .route(
                "/api/v3/work_packages/{id}",
                get(show_work_package).patch(update_work_package),
            )
            .route(
                "/api/v3/work_packages/{id}/activities",
                get(list_activities).post(add_comment),
            )
            .fallback(|| async { not_found("The requested resource could not be found.") })
            .layer(axum::middleware::from_fn_with_state(
                db.clone(),
                authenticate,
            ))
            .layer(axum::middleware::from_fn(limit_target))
            .with_state(db.clone());
        Ok(FakeOpenProject {
            server: FakeServer::start(router)?,
            db,
        })
    }

    /// `http://127.0.0.1:<port>`: the instance's base URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn control(&self) -> &Control {
        self.server.control()
    }

    /// A new status; its id.
    ///
    /// # Panics
    /// If a status of that name exists already.
    pub fn add_status(&self, name: &str, is_closed: bool) -> u64 {
        let mut db = self.db.lock();
        assert!(db.status_named(name).is_none(), "status `{name}` exists");
        let id = db.statuses.iter().map(|s| s.id).max().unwrap_or(0) + 1;
        db.statuses.push(StatusRow {
            id,
            name: name.into(),
            is_closed,
        });
        id
    }

    /// A new project; its id.
    ///
    /// # Panics
    /// If a project with that identifier exists already.
    pub fn add_project(&self, identifier: &str) -> u64 {
        let mut db = self.db.lock();
        assert!(
            db.project(identifier).is_none(),
            "project `{identifier}` exists"
        );
        let id = db.projects.iter().map(|p| p.id).max().unwrap_or(0) + 1;
        db.projects.push(ProjectRow {
            id,
            identifier: identifier.into(),
        });
        id
    }

    /// A new work package (lockVersion 0); its id.
    ///
    /// # Panics
    /// If the project (id or identifier) or the status is unknown.
    pub fn add_work_package(&self, project: &str, subject: &str, status: &str) -> u64 {
        let mut db = self.db.lock();
        let project = db
            .project(project)
            .unwrap_or_else(|| panic!("no project `{project}`"))
            .id;
        let status = db
            .status_named(status)
            .unwrap_or_else(|| panic!("no status `{status}`"));
        let id = db.work_packages.keys().next_back().copied().unwrap_or(0) + 1;
        db.work_packages.insert(
            id,
            WorkPackageRow {
                id,
                project,
                subject: subject.into(),
                status,
                lock_version: 0,
                comments: Vec::new(),
            },
        );
        id
    }

    /// The work package's status name.
    ///
    /// # Panics
    /// If there is no such work package.
    pub fn status_of(&self, id: u64) -> String {
        let db = self.db.lock();
        let status = self.row(&db, id).status;
        db.status(status)
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }

    /// # Panics
    /// If there is no such work package.
    pub fn lock_version(&self, id: u64) -> u64 {
        let db = self.db.lock();
        self.row(&db, id).lock_version
    }

    /// The raw text of every comment on the work package, oldest first.
    ///
    /// # Panics
    /// If there is no such work package.
    pub fn comments(&self, id: u64) -> Vec<String> {
        let db = self.db.lock();
        self.row(&db, id)
            .comments
            .iter()
            .map(|(_, text)| text.clone())
            .collect()
    }

    /// Someone else changes the status in the web UI: the status moves and
    /// `lockVersion` goes up, so a client holding the old one conflicts.
    ///
    /// # Panics
    /// If the work package or the status is unknown.
    pub fn edit_externally(&self, id: u64, status: &str) {
        let mut db = self.db.lock();
        let status = db
            .status_named(status)
            .unwrap_or_else(|| panic!("no status `{status}`"));
        let wp = db
            .work_packages
            .get_mut(&id)
            .unwrap_or_else(|| panic!("no work package #{id}"));
        wp.status = status;
        wp.lock_version += 1;
    }

    fn row<'a>(&self, db: &'a Db, id: u64) -> &'a WorkPackageRow {
        db.work_packages
            .get(&id)
            .unwrap_or_else(|| panic!("no work package #{id}"))
    }
}

// ---- responses ----------------------------------------------------------

fn hal(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, HAL_JSON)], body.to_string()).into_response()
}

fn error(status: StatusCode, identifier: &str, message: &str) -> Response {
    hal(
        status,
        &json!({
            "_type": "Error",
            "errorIdentifier": format!("{ERROR_URN}{identifier}"),
            "message": message,
        }),
    )
}

/// A 422 about one attribute, with the spec's `_embedded.details`.
fn invalid_property(identifier: &str, attribute: &str, message: &str) -> Response {
    hal(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({
            "_type": "Error",
            "errorIdentifier": format!("{ERROR_URN}{identifier}"),
            "message": message,
            "_embedded": {"details": {"attribute": attribute}},
        }),
    )
}

fn not_found(message: &str) -> Response {
    error(StatusCode::NOT_FOUND, "NotFound", message)
}

fn work_package_not_found() -> Response {
    not_found("The specified work package does not exist.")
}

fn invalid_query(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "InvalidQuery", message)
}

async fn authenticate(State(db): State<Shared>, request: Request, next: Next) -> Response {
    let token = db.lock().token.clone();
    match credentials(request.headers()) {
        Some((user, password)) if user == "apikey" && password == token => next.run(request).await,
        _ => {
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "Unauthenticated",
                "You need to be authenticated to access this resource.",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"OpenProject API\""),
            );
            response
        }
    }
}

async fn limit_target(request: Request, next: Next) -> Response {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if length > MAX_TARGET {
        return (
            StatusCode::URI_TOO_LONG,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h1>414 Request-URI Too Large</h1></body></html>",
        )
            .into_response();
    }
    next.run(request).await
}

/// The body of a write: JSON declared as such, and a single object.
fn json_object(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, Box<Response>> {
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    else {
        return Err(Box::new(
            (
                StatusCode::NOT_ACCEPTABLE,
                [(header::CONTENT_TYPE, "text/plain")],
                "Missing content-type header",
            )
                .into_response(),
        ));
    };
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media != "application/json" {
        return Err(Box::new(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "TypeNotSupported",
            &format!("Expected CONTENT-TYPE to be application/json but got {content_type}."),
        )));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestBody",
            "The request body was not a single JSON object.",
        ))),
    }
}

// ---- statuses -------------------------------------------------------------

fn render_status(status: &StatusRow) -> Value {
    json!({
        "_type": "Status",
        "id": status.id,
        "name": status.name,
        "isClosed": status.is_closed,
        "isDefault": status.id == 1,
        "isReadonly": false,
        "position": status.id,
        "_links": {"self": {"href": format!("/api/v3/statuses/{}", status.id)}},
    })
}

async fn list_statuses(State(db): State<Shared>) -> Response {
    let db = db.lock();
    let elements: Vec<Value> = db.statuses.iter().map(render_status).collect();
    hal(
        StatusCode::OK,
        &json!({
            "_type": "Collection",
            "total": elements.len(),
            "count": elements.len(),
            "_embedded": {"elements": elements},
            "_links": {"self": {"href": "/api/v3/statuses"}},
        }),
    )
}

async fn show_status(State(db): State<Shared>, Path(id): Path<String>) -> Response {
    let db = db.lock();
    match id.parse::<u64>().ok().and_then(|id| db.status(id)) {
        Some(status) => hal(StatusCode::OK, &render_status(status)),
        None => not_found("The requested resource could not be found."),
    }
}

// ---- work package collections --------------------------------------------

enum Filter {
    Id { negate: bool, ids: Vec<u64> },
    Project { negate: bool, ids: Vec<u64> },
    Open,
    Closed,
    StatusIs { negate: bool, ids: Vec<u64> },
}

impl Filter {
    fn matches(&self, db: &Db, wp: &WorkPackageRow) -> bool {
        let closed = db.status(wp.status).is_some_and(|s| s.is_closed);
        match self {
            Filter::Id { negate, ids } => ids.contains(&wp.id) != *negate,
            Filter::Project { negate, ids } => ids.contains(&wp.project) != *negate,
            Filter::Open => !closed,
            Filter::Closed => closed,
            Filter::StatusIs { negate, ids } => ids.contains(&wp.status) != *negate,
        }
    }
}

/// What the server applies when the client sends no `filters`.
const DEFAULT_FILTERS: &str = r#"[{"status":{"operator":"o","values":[]}}]"#;

fn parse_filters(db: &Db, raw: &str) -> Result<Vec<Filter>, String> {
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| format!("Filters could not be parsed as JSON: {e}."))?;
    let Value::Array(items) = value else {
        return Err("Filters must be a JSON array of filter objects.".into());
    };
    let mut filters = Vec::new();
    for item in items {
        let Value::Object(map) = item else {
            return Err("Filters must be a JSON array of filter objects.".into());
        };
        for (name, spec) in map {
            let (label, allowed): (&str, &[&str]) = match name.as_str() {
                "id" => ("ID", &["=", "!"]),
                "project" | "project_id" => ("Project", &["=", "!"]),
                "status" | "status_id" => ("Status", &["o", "c", "*", "=", "!"]),
                other => return Err(format!("Filters {other} filter does not exist.")),
            };
            let operator = spec
                .get("operator")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("Filters {label} Operator can't be blank."))?;
            if !allowed.contains(&operator) {
                return Err(format!(
                    "Filters {label} Operator is not set to one of the allowed values."
                ));
            }
            let values = match spec.get("values") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(values)) => values
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| format!("Filters {label} filter has invalid values."))?,
                Some(_) => return Err(format!("Filters {label} filter has invalid values.")),
            };
            let negate = operator == "!";
            let ids = || -> Result<Vec<u64>, String> {
                if values.is_empty() {
                    return Err(format!("Filters {label} Values can't be blank."));
                }
                values
                    .iter()
                    .map(|v| v.trim().parse::<u64>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| format!("Filters {label} filter has invalid values."))
            };
            filters.push(match (label, operator) {
                ("ID", _) => Filter::Id {
                    negate,
                    ids: ids()?,
                },
                ("Project", _) => Filter::Project {
                    negate,
                    ids: ids()?,
                },
                (_, "o") => Filter::Open,
                (_, "c") => Filter::Closed,
                (_, "*") => continue,
                _ => {
                    let ids = ids()?;
                    if ids.iter().any(|id| db.status(*id).is_none()) {
                        return Err(format!("Filters {label} filter has invalid values."));
                    }
                    Filter::StatusIs { negate, ids }
                }
            });
        }
    }
    Ok(filters)
}

/// `true` for ascending. Only `id` is sortable here.
fn parse_sort(raw: &str) -> Result<bool, String> {
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| format!("Sort by could not be parsed as JSON: {e}."))?;
    let Some(criteria) = value.as_array() else {
        return Err("Sort by must be a JSON array of [column, direction] pairs.".into());
    };
    let mut ascending = true;
    for (index, criterion) in criteria.iter().enumerate() {
        let pair = criterion.as_array().map(Vec::as_slice);
        let (column, direction) = match pair {
            Some([c, d]) => (c.as_str(), d.as_str()),
            _ => return Err("Sort by must be a JSON array of [column, direction] pairs.".into()),
        };
        match (column, direction) {
            (Some("id"), Some(d @ ("asc" | "desc"))) if index == 0 => ascending = d == "asc",
            (Some("id"), _) => return Err("Sort by direction is not valid.".into()),
            (Some(other), _) => {
                return Err(format!("Sort by {other} is not supported by this server."));
            }
            (None, _) => return Err("Sort by column is not valid.".into()),
        }
    }
    Ok(ascending)
}

/// Percent-encode a query value (everything but RFC 3986 unreserved).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

async fn list_all(
    State(db): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let db = db.lock();
    list(&db, "/api/v3/work_packages", None, &query)
}

async fn list_in_project(
    State(db): State<Shared>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let db = db.lock();
    let Some(id) = db.project(&project).map(|p| p.id) else {
        return not_found("The requested resource could not be found.");
    };
    let path = format!("/api/v3/projects/{project}/work_packages");
    list(&db, &path, Some(id), &query)
}

fn list(db: &Db, path: &str, project: Option<u64>, query: &HashMap<String, String>) -> Response {
    let raw_filters = query.get("filters").map_or(DEFAULT_FILTERS, String::as_str);
    let filters = match parse_filters(db, raw_filters) {
        Ok(filters) => filters,
        Err(message) => return invalid_query(&message),
    };
    let raw_sort = query.get("sortBy").map(String::as_str);
    let ascending = match raw_sort.map(parse_sort).transpose() {
        Ok(ascending) => ascending.unwrap_or(true),
        Err(message) => return invalid_query(&message),
    };
    let page_size = match query.get("pageSize").map(|v| v.trim().parse::<i64>()) {
        None | Some(Err(_)) => DEFAULT_PAGE_SIZE,
        Some(Ok(-1)) => MAX_PAGE_SIZE,
        Some(Ok(n)) if n < 0 => DEFAULT_PAGE_SIZE,
        Some(Ok(n)) => usize::try_from(n).map_or(MAX_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE)),
    };
    // A bad or zero page number is page one, as OpenProject treats it.
    let offset = query
        .get("offset")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1);

    let mut matching: Vec<&WorkPackageRow> = db
        .work_packages
        .values()
        .filter(|wp| project.is_none_or(|p| wp.project == p))
        .filter(|wp| filters.iter().all(|f| f.matches(db, wp)))
        .collect();
    if !ascending {
        matching.reverse();
    }
    let total = matching.len();
    let elements: Vec<Value> = matching
        .iter()
        .skip((offset - 1).saturating_mul(page_size))
        .take(page_size)
        .map(|wp| db.render(wp))
        .collect();

    let link = |offset: &str, size: &str| {
        let mut href = format!("{path}?filters={}", encode(raw_filters));
        if let Some(sort) = raw_sort {
            href.push_str(&format!("&sortBy={}", encode(sort)));
        }
        href.push_str(&format!("&offset={offset}&pageSize={size}"));
        href
    };
    let size = page_size.to_string();
    let mut links = json!({
        "self": {"href": link(&offset.to_string(), &size)},
        "jumpTo": {"href": link("%7Boffset%7D", &size), "templated": true},
        "changeSize": {"href": link(&offset.to_string(), "%7Bsize%7D"), "templated": true},
    });
    if offset.saturating_mul(page_size) < total {
        links["nextByOffset"] = json!({"href": link(&(offset + 1).to_string(), &size)});
    }
    if offset > 1 {
        links["previousByOffset"] = json!({"href": link(&(offset - 1).to_string(), &size)});
    }
    hal(
        StatusCode::OK,
        &json!({
            "_type": "WorkPackageCollection",
            "total": total,
            "count": elements.len(),
            "pageSize": page_size,
            "offset": offset,
            "_embedded": {"elements": elements},
            "_links": links,
        }),
    )
}

// ---- one work package ------------------------------------------------------

async fn show_work_package(State(db): State<Shared>, Path(id): Path<String>) -> Response {
    let db = db.lock();
    match id
        .parse::<u64>()
        .ok()
        .and_then(|id| db.work_packages.get(&id))
    {
        Some(wp) => hal(StatusCode::OK, &db.render(wp)),
        None => work_package_not_found(),
    }
}

/// The status id a link points at, or the 422 to answer.
fn status_link(db: &Db, link: &Value) -> Result<u64, Box<Response>> {
    let href = match link.get("href") {
        None | Some(Value::Null) => {
            return Err(Box::new(invalid_property(
                "PropertyConstraintViolation",
                "status",
                "Status can't be blank.",
            )));
        }
        Some(Value::String(href)) => href.as_str(),
        Some(other) => {
            return Err(Box::new(invalid_property(
                "PropertyFormatError",
                "status",
                &format!("The link for status must be a string, got {other}."),
            )));
        }
    };
    // Absolute links are accepted when they point into this API.
    let path = match href.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => href,
    };
    let Some(id) = path
        .strip_prefix("/api/v3/statuses/")
        .and_then(|id| id.parse::<u64>().ok())
    else {
        return Err(Box::new(invalid_property(
            "ResourceTypeMismatch",
            "status",
            &format!(
                "For property 'status' a link like '/api/v3/statuses/:id' is expected, but got '{href}'."
            ),
        )));
    };
    if db.status(id).is_none() {
        return Err(Box::new(invalid_property(
            "PropertyConstraintViolation",
            "status",
            &format!("Status '{href}' does not exist."),
        )));
    }
    Ok(id)
}

async fn update_work_package(
    State(db): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match json_object(&headers, &body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let mut db = db.lock();
    let Some(id) = id
        .parse::<u64>()
        .ok()
        .filter(|id| db.work_packages.contains_key(id))
    else {
        return work_package_not_found();
    };
    for read_only in ["id", "createdAt", "updatedAt"] {
        if body.contains_key(read_only) {
            return invalid_property(
                "PropertyIsReadOnly",
                read_only,
                &format!("The attribute {read_only} is read-only and cannot be changed."),
            );
        }
    }
    let lock_version = match body.get("lockVersion") {
        None | Some(Value::Null) => {
            return invalid_property(
                "PropertyConstraintViolation",
                "lockVersion",
                "Lock version can't be blank.",
            );
        }
        Some(value) => match value.as_u64() {
            Some(n) => n,
            None => {
                return invalid_property(
                    "PropertyFormatError",
                    "lockVersion",
                    &format!("Lock version must be an integer, got {value}."),
                );
            }
        },
    };
    let current = db.work_packages.get(&id).map_or(0, |wp| wp.lock_version);
    if lock_version != current {
        return error(
            StatusCode::CONFLICT,
            "UpdateConflict",
            "Your changes could not be saved, because the work package was changed by someone else in the meantime.",
        );
    }
    let subject = match body.get("subject") {
        None => None,
        Some(Value::String(s)) if s.trim().is_empty() => {
            return invalid_property(
                "PropertyConstraintViolation",
                "subject",
                "Subject can't be blank.",
            );
        }
        Some(Value::String(s)) if s.chars().count() > 255 => {
            return invalid_property(
                "PropertyConstraintViolation",
                "subject",
                "Subject is too long (maximum is 255 characters).",
            );
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return invalid_property(
                "PropertyFormatError",
                "subject",
                "Subject must be a string.",
            );
        }
    };
    let status = match body.get("_links") {
        None => None,
        Some(Value::Object(links)) => match links.get("status") {
            None => None,
            Some(link) => match status_link(&db, link) {
                Ok(status) => Some(status),
                Err(response) => return *response,
            },
        },
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestBody",
                "_links must be a JSON object.",
            );
        }
    };
    let Some(wp) = db.work_packages.get_mut(&id) else {
        return work_package_not_found();
    };
    let mut changed = false;
    if let Some(subject) = subject.filter(|s| *s != wp.subject) {
        wp.subject = subject;
        changed = true;
    }
    if let Some(status) = status.filter(|s| *s != wp.status) {
        wp.status = status;
        changed = true;
    }
    // Like ActiveRecord: saving nothing new leaves lockVersion alone.
    if changed {
        wp.lock_version += 1;
    }
    let Some(wp) = db.work_packages.get(&id) else {
        return work_package_not_found();
    };
    hal(StatusCode::OK, &db.render(wp))
}

// ---- activities -----------------------------------------------------------

fn render_comment(wp: u64, activity: u64, version: usize, text: &str) -> Value {
    let html = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    json!({
        "_type": "Activity::Comment",
        "id": activity,
        "version": version,
        "comment": {"format": "markdown", "raw": text, "html": format!("<p>{html}</p>")},
        "details": [],
        "_links": {
            "self": {"href": format!("/api/v3/activities/{activity}")},
            "workPackage": {"href": format!("/api/v3/work_packages/{wp}")},
            "user": {"href": "/api/v3/users/1", "title": "API user"},
        },
    })
}

async fn list_activities(State(db): State<Shared>, Path(id): Path<String>) -> Response {
    let db = db.lock();
    let Some(wp) = id
        .parse::<u64>()
        .ok()
        .and_then(|id| db.work_packages.get(&id))
    else {
        return work_package_not_found();
    };
    let elements: Vec<Value> = wp
        .comments
        .iter()
        .enumerate()
        .map(|(i, (activity, text))| render_comment(wp.id, *activity, i + 1, text))
        .collect();
    hal(
        StatusCode::OK,
        &json!({
            "_type": "Collection",
            "total": elements.len(),
            "count": elements.len(),
            "_embedded": {"elements": elements},
            "_links": {"self": {"href": format!("/api/v3/work_packages/{}/activities", wp.id)}},
        }),
    )
}

async fn add_comment(
    State(db): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match json_object(&headers, &body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let mut db = db.lock();
    let Some(id) = id
        .parse::<u64>()
        .ok()
        .filter(|id| db.work_packages.contains_key(id))
    else {
        return work_package_not_found();
    };
    let text = body
        .get("comment")
        .and_then(|c| c.get("raw"))
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .map(str::to_string);
    let Some(text) = text else {
        return invalid_property(
            "PropertyConstraintViolation",
            "comment",
            "Comment can't be blank.",
        );
    };
    let activity = db.next_activity;
    db.next_activity += 1;
    let Some(wp) = db.work_packages.get_mut(&id) else {
        return work_package_not_found();
    };
    wp.comments.push((activity, text.clone()));
    let version = wp.comments.len();
    hal(
        StatusCode::CREATED,
        &render_comment(id, activity, version, &text),
    )
}
