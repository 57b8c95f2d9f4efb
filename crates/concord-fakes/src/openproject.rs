//! A fake OpenProject speaking the part of API v3 concord uses, shaped
//! after the published spec (`docs/api/apiv3` in opf/openproject):
//!
//! - HTTP Basic auth, user `apikey`, password the token; anything else is
//!   `401 Unauthenticated`.
//! - `GET /api/v3/statuses` (and `/api/v3/statuses/{id}`); exactly one is
//!   `isDefault`: the first added unless
//!   [`set_default_status`](FakeOpenProject::set_default_status) says
//!   otherwise.
//! - `GET /api/v3/work_packages` and `/api/v3/projects/{id|identifier}/work_packages`
//!   with `filters` (JSON: `id`, `status`/`status_id`, `project`, and
//!   `subject` with `~` "contains" / `!~` "does not contain": the value is
//!   split on whitespace and every word must occur, case-insensitively, as
//!   OpenProject's `ILIKE` per word does; one non-blank text is required,
//!   where OpenProject would quietly use the first of several), `sortBy`
//!   (`id` only), `offset` (a 1-based *page number*) and `pageSize`
//!   (default [`DEFAULT_PAGE_SIZE`], capped at [`MAX_PAGE_SIZE`] like
//!   `apiv3_max_page_size`, `-1` meaning the maximum). Without `filters`
//!   the server applies its default filter, open statuses only, as
//!   OpenProject does.
//! - `POST /api/v3/projects/{id|identifier}/work_packages` (404 for an
//!   unknown project) and `POST /api/v3/work_packages` (with a
//!   `_links.project`, 422 without): a `subject` (422 if missing, blank or
//!   longer than 255 characters), an optional `description`
//!   (`{"raw": "markdown"}`, 422 if not an object), optional `_links.type`
//!   and `_links.status` (422 if unknown; there is no workflow, so any
//!   known status may be given). What is not sent is filled in as
//!   OpenProject does: the default type (`Task`) and the default status.
//!   201 with the work package at `lockVersion` 0.
//! - `GET`/`PATCH /api/v3/work_packages/{id}`: PATCH needs
//!   `Content-Type: application/json` (406 without one, 415 for another),
//!   a JSON object (400), `lockVersion` (422), the current `lockVersion`
//!   (409 `UpdateConflict`); `subject`, `description`, `_links.status` and
//!   `_links.type` are validated as on creation (422); a change bumps
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

/// The type every instance starts with, `Task`, and the default one.
const DEFAULT_TYPE: u64 = 1;
const ERROR_URN: &str = "urn:openproject-org:api:v3:errors:";
const HAL_JSON: &str = "application/hal+json; charset=utf-8";

struct StatusRow {
    id: u64,
    name: String,
    is_closed: bool,
}

struct TypeRow {
    id: u64,
    name: String,
}

struct ProjectRow {
    id: u64,
    identifier: String,
}

struct WorkPackageRow {
    id: u64,
    project: u64,
    subject: String,
    /// Markdown, `None` when never given (rendered as `raw: null`).
    description: Option<String>,
    type_id: u64,
    status: u64,
    lock_version: u64,
    comments: Vec<(u64, String)>,
}

struct Db {
    token: String,
    statuses: Vec<StatusRow>,
    /// Set by [`FakeOpenProject::set_default_status`]; otherwise the first
    /// status is the default.
    default_status: Option<u64>,
    /// [`DEFAULT_TYPE`] (`Task`) first, then those [`FakeOpenProject::add_type`] adds.
    types: Vec<TypeRow>,
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

    /// The status a new work package gets when none is sent.
    fn default_status(&self) -> Option<u64> {
        self.default_status
            .or_else(|| self.statuses.first().map(|s| s.id))
    }

    fn type_row(&self, id: u64) -> Option<&TypeRow> {
        self.types.iter().find(|t| t.id == id)
    }

    fn type_named(&self, name: &str) -> Option<u64> {
        self.types.iter().find(|t| t.name == name).map(|t| t.id)
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
        let type_row = self.type_row(wp.type_id);
        let project = self.projects.iter().find(|p| p.id == wp.project);
        let href = format!("/api/v3/work_packages/{}", wp.id);
        json!({
            "_type": "WorkPackage",
            "id": wp.id,
            "subject": wp.subject,
            "description": formattable(wp.description.as_deref()),
            "lockVersion": wp.lock_version,
            "_links": {
                "self": {"href": href, "title": wp.subject},
                "update": {"href": href, "method": "patch", "title": format!("Update {}", wp.subject)},
                "addComment": {"href": format!("{href}/activities"), "method": "post", "title": "Add comment"},
                "status": {
                    "href": format!("/api/v3/statuses/{}", wp.status),
                    "title": status.map_or("", |s| s.name.as_str()),
                },
                "type": {
                    "href": format!("/api/v3/types/{}", wp.type_id),
                    "title": type_row.map_or("", |t| t.name.as_str()),
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
            default_status: None,
            types: vec![TypeRow {
                id: 1,
                name: "Task".into(),
            }],
            projects: Vec::new(),
            work_packages: BTreeMap::new(),
            next_activity: 1,
        })));
        let router = Router::new()
            .route("/api/v3/statuses", get(list_statuses))
            .route("/api/v3/statuses/{id}", get(show_status))
            .route("/api/v3/work_packages", get(list_all).post(create_anywhere))
            .route(
                "/api/v3/projects/{project}/work_packages",
                get(list_in_project).post(create_in_project),
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

    /// Make the named status the one new work packages get when none is
    /// sent (OpenProject has exactly one default status; until this is
    /// called it is the first status added).
    ///
    /// # Panics
    /// If there is no such status.
    pub fn set_default_status(&self, name: &str) {
        let mut db = self.db.lock();
        let id = db
            .status_named(name)
            .unwrap_or_else(|| panic!("no status `{name}`"));
        db.default_status = Some(id);
    }

    /// A new work package type; its id. Every instance starts with the
    /// default type `Task` (id 1), which stays the default.
    ///
    /// # Panics
    /// If a type of that name exists already.
    pub fn add_type(&self, name: &str) -> u64 {
        let mut db = self.db.lock();
        assert!(db.type_named(name).is_none(), "type `{name}` exists");
        let id = db.types.iter().map(|t| t.id).max().unwrap_or(0) + 1;
        db.types.push(TypeRow {
            id,
            name: name.into(),
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
                description: None,
                type_id: DEFAULT_TYPE,
                status,
                lock_version: 0,
                comments: Vec::new(),
            },
        );
        id
    }

    /// The ids of the project's work packages (id or identifier), open and
    /// closed, ascending.
    ///
    /// # Panics
    /// If there is no such project.
    pub fn work_packages_in(&self, project: &str) -> Vec<u64> {
        let db = self.db.lock();
        let project = db
            .project(project)
            .unwrap_or_else(|| panic!("no project `{project}`"))
            .id;
        db.work_packages
            .values()
            .filter(|wp| wp.project == project)
            .map(|wp| wp.id)
            .collect()
    }

    /// # Panics
    /// If there is no such work package.
    pub fn subject_of(&self, id: u64) -> String {
        let db = self.db.lock();
        self.row(&db, id).subject.clone()
    }

    /// The description's raw markdown; `None` if it was never given (or
    /// was cleared with `raw: null`).
    ///
    /// # Panics
    /// If there is no such work package.
    pub fn description_of(&self, id: u64) -> Option<String> {
        let db = self.db.lock();
        self.row(&db, id).description.clone()
    }

    /// The name of the work package's type.
    ///
    /// # Panics
    /// If there is no such work package.
    pub fn type_of(&self, id: u64) -> String {
        let db = self.db.lock();
        let type_id = self.row(&db, id).type_id;
        db.type_row(type_id)
            .map(|t| t.name.clone())
            .unwrap_or_default()
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

/// A `Formattable` (markdown): `raw` is `null` when there is no text, as
/// OpenProject renders it; the html is the raw text escaped, in a paragraph.
fn formattable(raw: Option<&str>) -> Value {
    let html = match raw {
        None | Some("") => String::new(),
        Some(text) => {
            let escaped = text
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;");
            format!("<p>{escaped}</p>")
        }
    };
    json!({"format": "markdown", "raw": raw, "html": html})
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

fn render_status(db: &Db, status: &StatusRow) -> Value {
    json!({
        "_type": "Status",
        "id": status.id,
        "name": status.name,
        "isClosed": status.is_closed,
        "isDefault": db.default_status() == Some(status.id),
        "isReadonly": false,
        "position": status.id,
        "_links": {"self": {"href": format!("/api/v3/statuses/{}", status.id)}},
    })
}

async fn list_statuses(State(db): State<Shared>) -> Response {
    let db = db.lock();
    let elements: Vec<Value> = db.statuses.iter().map(|s| render_status(&db, s)).collect();
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
        Some(status) => hal(StatusCode::OK, &render_status(&db, status)),
        None => not_found("The requested resource could not be found."),
    }
}

// ---- work package collections --------------------------------------------

enum Filter {
    Id {
        negate: bool,
        ids: Vec<u64>,
    },
    Project {
        negate: bool,
        ids: Vec<u64>,
    },
    Open,
    Closed,
    StatusIs {
        negate: bool,
        ids: Vec<u64>,
    },
    /// `~`: every word occurs in the subject, ignoring case (one `ILIKE
    /// '%word%'` per word in OpenProject); `!~`: not so.
    Subject {
        negate: bool,
        words: Vec<String>,
    },
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
            Filter::Subject { negate, words } => {
                let subject = wp.subject.to_lowercase();
                words.iter().all(|w| subject.contains(w.as_str())) != *negate
            }
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
                "subject" => ("Subject", &["~", "!~"]),
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
            if label == "Subject" {
                // A text filter takes one text; OpenProject splits it into
                // words itself.
                if values.iter().all(|v| v.trim().is_empty()) {
                    return Err(format!("Filters {label} Values can't be blank."));
                }
                if values.len() != 1 {
                    return Err(format!("Filters {label} filter has invalid values."));
                }
                filters.push(Filter::Subject {
                    negate: operator == "!~",
                    words: values[0]
                        .split_whitespace()
                        .map(str::to_lowercase)
                        .collect(),
                });
                continue;
            }
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

// ---- writing work packages --------------------------------------------------

/// A 422 for a link that points at the wrong kind of resource.
fn link_mismatch(attribute: &str, collection: &str, href: &str) -> Box<Response> {
    Box::new(invalid_property(
        "ResourceTypeMismatch",
        attribute,
        &format!(
            "For property '{attribute}' a link like '/api/v3/{collection}/:id' is expected, but got '{href}'."
        ),
    ))
}

/// A 422 for a link to a resource that is not there.
fn link_missing(attribute: &str, label: &str, href: &str) -> Box<Response> {
    Box::new(invalid_property(
        "PropertyConstraintViolation",
        attribute,
        &format!("{label} '{href}' does not exist."),
    ))
}

/// The href of a link to `/api/v3/{collection}/{segment}` and its last
/// segment, or the 422 to answer. `label` is the attribute as OpenProject
/// words it in messages.
fn link_segment<'a>(
    link: &'a Value,
    attribute: &str,
    label: &str,
    collection: &str,
) -> Result<(&'a str, &'a str), Box<Response>> {
    let href = match link.get("href") {
        None | Some(Value::Null) => {
            return Err(Box::new(invalid_property(
                "PropertyConstraintViolation",
                attribute,
                &format!("{label} can't be blank."),
            )));
        }
        Some(Value::String(href)) => href.as_str(),
        Some(other) => {
            return Err(Box::new(invalid_property(
                "PropertyFormatError",
                attribute,
                &format!("The link for {attribute} must be a string, got {other}."),
            )));
        }
    };
    // Absolute links are accepted when they point into this API.
    let path = match href.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => href,
    };
    path.strip_prefix("/api/v3/")
        .and_then(|rest| rest.strip_prefix(collection))
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|segment| !segment.is_empty() && !segment.contains('/'))
        .map(|segment| (href, segment))
        .ok_or_else(|| link_mismatch(attribute, collection, href))
}

/// The status id a link points at, or the 422 to answer.
fn status_link(db: &Db, link: &Value) -> Result<u64, Box<Response>> {
    let (href, segment) = link_segment(link, "status", "Status", "statuses")?;
    let id = segment
        .parse::<u64>()
        .map_err(|_| link_mismatch("status", "statuses", href))?;
    match db.status(id) {
        Some(_) => Ok(id),
        None => Err(link_missing("status", "Status", href)),
    }
}

/// The type id a link points at, or the 422 to answer.
fn type_link(db: &Db, link: &Value) -> Result<u64, Box<Response>> {
    let (href, segment) = link_segment(link, "type", "Type", "types")?;
    let id = segment
        .parse::<u64>()
        .map_err(|_| link_mismatch("type", "types", href))?;
    match db.type_row(id) {
        Some(_) => Ok(id),
        None => Err(link_missing("type", "Type", href)),
    }
}

/// The project id a link points at (by id or identifier), or the 422.
fn project_link(db: &Db, link: &Value) -> Result<u64, Box<Response>> {
    let (href, segment) = link_segment(link, "project", "Project", "projects")?;
    db.project(segment)
        .map(|p| p.id)
        .ok_or_else(|| link_missing("project", "Project", href))
}

/// Attributes no write may set.
fn reject_read_only(body: &Map<String, Value>) -> Result<(), Box<Response>> {
    for read_only in ["id", "createdAt", "updatedAt"] {
        if body.contains_key(read_only) {
            return Err(Box::new(invalid_property(
                "PropertyIsReadOnly",
                read_only,
                &format!("The attribute {read_only} is read-only and cannot be changed."),
            )));
        }
    }
    Ok(())
}

/// The body's `_links`, if it has any.
fn links_of(body: &Map<String, Value>) -> Result<Option<&Map<String, Value>>, Box<Response>> {
    match body.get("_links") {
        None => Ok(None),
        Some(Value::Object(links)) => Ok(Some(links)),
        Some(_) => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestBody",
            "_links must be a JSON object.",
        ))),
    }
}

fn blank_subject() -> Box<Response> {
    Box::new(invalid_property(
        "PropertyConstraintViolation",
        "subject",
        "Subject can't be blank.",
    ))
}

/// The `subject` sent, if any, or the 422 to answer.
fn parse_subject(body: &Map<String, Value>) -> Result<Option<String>, Box<Response>> {
    match body.get("subject") {
        None => Ok(None),
        Some(Value::Null) => Err(blank_subject()),
        Some(Value::String(s)) if s.trim().is_empty() => Err(blank_subject()),
        Some(Value::String(s)) if s.chars().count() > 255 => Err(Box::new(invalid_property(
            "PropertyConstraintViolation",
            "subject",
            "Subject is too long (maximum is 255 characters).",
        ))),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Box::new(invalid_property(
            "PropertyFormatError",
            "subject",
            "Subject must be a string.",
        ))),
    }
}

/// The `description` sent, if any: its `raw` text, `None` when `raw` is
/// absent or `null` (which clears it). `format` is read-only and ignored,
/// as OpenProject ignores it.
fn parse_description(body: &Map<String, Value>) -> Result<Option<Option<String>>, Box<Response>> {
    let not_formattable = || {
        Box::new(invalid_property(
            "PropertyFormatError",
            "description",
            "Description must be an object with the text in `raw`.",
        ))
    };
    match body.get("description") {
        None => Ok(None),
        Some(Value::Object(description)) => match description.get("raw") {
            None | Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(raw)) => Ok(Some(Some(raw.clone()))),
            Some(_) => Err(not_formattable()),
        },
        Some(_) => Err(not_formattable()),
    }
}

async fn create_in_project(
    State(db): State<Shared>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match json_object(&headers, &body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let mut db = db.lock();
    let Some(project) = db.project(&project).map(|p| p.id) else {
        return not_found("The requested resource could not be found.");
    };
    create(&mut db, Some(project), &body)
}

async fn create_anywhere(State(db): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let body = match json_object(&headers, &body) {
        Ok(body) => body,
        Err(response) => return *response,
    };
    let mut db = db.lock();
    create(&mut db, None, &body)
}

/// Create a work package in `project`, or in the one `_links.project`
/// names when the route gives none. Nothing is saved unless all is valid.
fn create(db: &mut Db, project: Option<u64>, body: &Map<String, Value>) -> Response {
    if let Err(response) = reject_read_only(body) {
        return *response;
    }
    let links = match links_of(body) {
        Ok(links) => links,
        Err(response) => return *response,
    };
    let link = |name: &str| links.and_then(|l| l.get(name));
    let project = match (project, link("project")) {
        (Some(project), _) => project,
        (None, Some(link)) => match project_link(db, link) {
            Ok(project) => project,
            Err(response) => return *response,
        },
        (None, None) => {
            return invalid_property(
                "PropertyConstraintViolation",
                "project",
                "Project can't be blank.",
            );
        }
    };
    let subject = match parse_subject(body) {
        Ok(Some(subject)) => subject,
        Ok(None) => return *blank_subject(),
        Err(response) => return *response,
    };
    let description = match parse_description(body) {
        Ok(description) => description.flatten(),
        Err(response) => return *response,
    };
    let type_id = match link("type").map(|link| type_link(db, link)) {
        None => DEFAULT_TYPE,
        Some(Ok(type_id)) => type_id,
        Some(Err(response)) => return *response,
    };
    let status = match link("status").map(|link| status_link(db, link)) {
        None => match db.default_status() {
            Some(status) => status,
            None => {
                return invalid_property(
                    "PropertyConstraintViolation",
                    "status",
                    "Status can't be blank.",
                );
            }
        },
        Some(Ok(status)) => status,
        Some(Err(response)) => return *response,
    };
    let id = db.work_packages.keys().next_back().copied().unwrap_or(0) + 1;
    let wp = WorkPackageRow {
        id,
        project,
        subject,
        description,
        type_id,
        status,
        lock_version: 0,
        comments: Vec::new(),
    };
    let rendered = db.render(&wp);
    db.work_packages.insert(id, wp);
    hal(StatusCode::CREATED, &rendered)
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
    if let Err(response) = reject_read_only(&body) {
        return *response;
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
    let subject = match parse_subject(&body) {
        Ok(subject) => subject,
        Err(response) => return *response,
    };
    let description = match parse_description(&body) {
        Ok(description) => description,
        Err(response) => return *response,
    };
    let links = match links_of(&body) {
        Ok(links) => links,
        Err(response) => return *response,
    };
    let link = |name: &str| links.and_then(|l| l.get(name));
    let status = match link("status").map(|link| status_link(&db, link)) {
        None => None,
        Some(Ok(status)) => Some(status),
        Some(Err(response)) => return *response,
    };
    let type_id = match link("type").map(|link| type_link(&db, link)) {
        None => None,
        Some(Ok(type_id)) => Some(type_id),
        Some(Err(response)) => return *response,
    };
    let Some(wp) = db.work_packages.get_mut(&id) else {
        return work_package_not_found();
    };
    let mut changed = false;
    if let Some(subject) = subject.filter(|s| *s != wp.subject) {
        wp.subject = subject;
        changed = true;
    }
    if let Some(description) = description.filter(|d| *d != wp.description) {
        wp.description = description;
        changed = true;
    }
    if let Some(status) = status.filter(|s| *s != wp.status) {
        wp.status = status;
        changed = true;
    }
    if let Some(type_id) = type_id.filter(|t| *t != wp.type_id) {
        wp.type_id = type_id;
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
    json!({
        "_type": "Activity::Comment",
        "id": activity,
        "version": version,
        "comment": formattable(Some(text)),
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
