//! OpenProject API v3: statuses, work packages read in bulk (by id, by
//! project or by subject, through every page), work packages created,
//! changes (subject, description, status) under optimistic locking
//! (`lockVersion`), and comments.
//!
//! Errors a caller acts on have their own [`OpError`] variant: a refused
//! token stops the source, a conflict means "read again", an invalid
//! change carries the server's reason. The token is sent only as the
//! Basic password and never appears in an error.

use crate::http::{Auth, HttpClient, HttpError, RetryPolicy, Stats};
use serde::Deserialize;
use std::collections::HashSet;

/// Ids per filtered request, so the query string stays well under the
/// 8 KiB request lines proxies accept.
pub const IDS_PER_REQUEST: usize = 100;
/// Work packages asked for per page unless [`OpenProject::with_page_size`]
/// says otherwise.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// OpenProject's default `apiv3_max_page_size`; larger pages are cut to
/// it by the server anyway.
pub const MAX_PAGE_SIZE: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// 401 or 403: the token is wrong, expired or lacks a permission.
    /// Stop talking to this source until it is fixed.
    #[error("OpenProject refused the API token or its permissions: {message}")]
    Unauthorized { message: String },
    /// 409: someone changed the work package since its `lockVersion` was
    /// read.
    #[error(
        "work package #{id} was changed by someone else since it was read (stale lockVersion): read it again"
    )]
    Conflict { id: u64 },
    /// 422: OpenProject rejected the change; `message` is its reason.
    #[error("work package #{id}: OpenProject rejected the change: {message}")]
    Invalid { id: u64, message: String },
    /// 422 on creation: OpenProject rejected the new work package (blank
    /// subject, unknown type or status...); `message` is its reason.
    #[error("OpenProject rejected the new work package in project `{project}`: {message}")]
    Rejected { project: String, message: String },
    /// 404: no such work package, or the token may not see it.
    #[error("work package #{id} does not exist or this token may not see it")]
    NotFound { id: u64 },
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// A work package status, as listed by `/api/v3/statuses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub id: u64,
    pub name: String,
    /// The link to send back when setting this status.
    pub href: String,
    pub is_closed: bool,
}

/// The parts of a work package concord reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkPackage {
    pub id: u64,
    pub subject: String,
    /// Send this back with a change; it goes up with every change.
    pub lock_version: u64,
    pub status_href: String,
    /// The status link's title (empty if the server sent none).
    pub status_name: String,
    /// The description's raw markdown; `None` when the server sent none.
    pub description: Option<String>,
}

/// A work package to create. What is left `None` OpenProject fills in:
/// the project's default type, the default status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewWorkPackage {
    pub subject: String,
    /// Markdown.
    pub description: String,
    /// A type link (`/api/v3/types/{id}`).
    pub type_href: Option<String>,
    /// A [`Status`]'s `href`.
    pub status_href: Option<String>,
}

/// A change to a work package: only what is `Some` is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkPackageUpdate {
    pub subject: Option<String>,
    /// Markdown; replaces the whole description.
    pub description: Option<String>,
    /// A [`Status`]'s `href`.
    pub status_href: Option<String>,
}

/// A client for one OpenProject instance.
#[derive(Debug, Clone)]
pub struct OpenProject {
    http: HttpClient,
    page_size: usize,
    /// Requests a bulk read sends at once.
    concurrency: usize,
}

impl OpenProject {
    /// `base_url` is the instance's root (`https://op.example.com`, or
    /// with the path it is served under); `token` an API key.
    pub fn new(base_url: &str, token: &str) -> Result<OpenProject, String> {
        if token.trim().is_empty() {
            return Err("the OpenProject API token is empty".into());
        }
        let host = base_url
            .split_once("://")
            .map_or(base_url, |(_, rest)| rest);
        if host.split('/').next().is_some_and(|h| h.contains('@')) {
            // Not echoed: the part before `@` may be the token itself.
            return Err(
                "the OpenProject URL must not contain credentials; give the API token separately"
                    .into(),
            );
        }
        let auth = Auth::Basic {
            user: "apikey".into(),
            password: token.into(),
        };
        Ok(OpenProject {
            http: HttpClient::new(base_url, auth)?,
            page_size: DEFAULT_PAGE_SIZE,
            concurrency: 8,
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.http = self.http.with_retry(retry);
        self
    }

    /// Work packages per page (1 to [`MAX_PAGE_SIZE`]).
    /// How many requests a bulk read may send at once (1 to 64).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.clamp(1, 64);
        self
    }

    pub fn with_page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        self
    }

    pub fn base(&self) -> &str {
        self.http.base()
    }

    pub fn stats(&self) -> &Stats {
        self.http.stats()
    }

    /// Every status (one request; the collection is not paginated).
    pub fn statuses(&self) -> Result<Vec<Status>, OpError> {
        let collection: Collection<StatusJson> = self.get("/api/v3/statuses", None)?;
        Ok(collection
            .embedded
            .elements
            .into_iter()
            .map(|s| Status {
                id: s.id,
                name: s.name,
                href: s.links.this.href.unwrap_or_default(),
                is_closed: s.is_closed,
            })
            .collect())
    }

    /// One work package.
    pub fn work_package(&self, id: u64) -> Result<WorkPackage, OpError> {
        let wp: WorkPackageJson = self.get(&format!("/api/v3/work_packages/{id}"), Some(id))?;
        Ok(wp.into())
    }

    /// The work packages with these ids, sorted by id, each once. Ids that
    /// do not exist or that the token may not see are simply absent.
    /// Closed ones are included.
    pub fn work_packages(&self, ids: &[u64]) -> Result<Vec<WorkPackage>, OpError> {
        let mut seen = HashSet::new();
        let unique: Vec<u64> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        // The chunks are independent: read them `concurrency` at a time.
        let chunks: Vec<&[u64]> = unique.chunks(IDS_PER_REQUEST).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<Result<Vec<WorkPackage>, OpError>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..self.concurrency.clamp(1, chunks.len().max(1)))
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(chunk) = chunks.get(i) else {
                                break;
                            };
                            let values: Vec<String> = chunk.iter().map(u64::to_string).collect();
                            let filters =
                                serde_json::json!([{"id": {"operator": "=", "values": values}}]);
                            let path = self.list_path("/api/v3/work_packages", &filters);
                            let mut found = Vec::new();
                            mine.push(
                                self.read_pages(&path, &mut found, &mut HashSet::new())
                                    .map(|()| found),
                            );
                        }
                        mine
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        });
        let mut found = Vec::with_capacity(unique.len());
        let mut got = HashSet::new();
        for result in results {
            for wp in result? {
                if got.insert(wp.id) {
                    found.push(wp);
                }
            }
        }
        // A server ignoring the filter must not hand back strangers.
        let wanted: HashSet<u64> = unique.into_iter().collect();
        found.retain(|wp| wanted.contains(&wp.id));
        found.sort_by_key(|wp| wp.id);
        Ok(found)
    }

    /// All work packages of a project (id or identifier), open and closed,
    /// sorted by id, read through every page.
    pub fn project_work_packages(&self, project: &str) -> Result<Vec<WorkPackage>, OpError> {
        // `[]` turns off the server's default "open only" filter.
        let filters = serde_json::json!([]);
        let base = format!("/api/v3/projects/{}/work_packages", encode_segment(project));
        let path = self.list_path(&base, &filters);
        let mut found = Vec::new();
        self.read_pages(&path, &mut found, &mut HashSet::new())?;
        found.sort_by_key(|wp| wp.id);
        Ok(found)
    }

    /// Every work package of a project (id or identifier), open and
    /// closed, whose subject contains `text`, ignoring case; sorted by id,
    /// read through every page.
    ///
    /// The server's `~` ("contains") filter matches each whitespace-separated
    /// word of `text` anywhere in the subject; the answer is narrowed here to
    /// subjects containing `text` as a whole. A blank `text` is refused by
    /// the server (400).
    pub fn find_by_subject(&self, project: &str, text: &str) -> Result<Vec<WorkPackage>, OpError> {
        let filters = serde_json::json!([{"subject": {"operator": "~", "values": [text]}}]);
        let base = format!("/api/v3/projects/{}/work_packages", encode_segment(project));
        let path = self.list_path(&base, &filters);
        let mut found = Vec::new();
        self.read_pages(&path, &mut found, &mut HashSet::new())?;
        let needle = text.to_lowercase();
        found.retain(|wp| wp.subject.to_lowercase().contains(&needle));
        found.sort_by_key(|wp| wp.id);
        Ok(found)
    }

    /// Create a work package in a project (id or identifier). Returns it as
    /// saved (`lockVersion` 0). Not retried on a server error, so that a
    /// request that did go through is not made twice.
    pub fn create_work_package(
        &self,
        project: &str,
        new: &NewWorkPackage,
    ) -> Result<WorkPackage, OpError> {
        let mut links = serde_json::Map::new();
        if let Some(href) = &new.type_href {
            links.insert("type".into(), serde_json::json!({"href": href}));
        }
        if let Some(href) = &new.status_href {
            links.insert("status".into(), serde_json::json!({"href": href}));
        }
        let body = serde_json::json!({
            "subject": new.subject,
            "description": {"format": "markdown", "raw": new.description},
            "_links": links,
        });
        let path = format!("/api/v3/projects/{}/work_packages", encode_segment(project));
        let response = self
            .http
            .request("POST", &path, &[], Some(&body))
            .map_err(|e| match e.status() {
                Some(422) => OpError::Rejected {
                    project: project.to_string(),
                    message: e.message(),
                },
                _ => classify(e, None),
            })?;
        let wp: WorkPackageJson = response.json()?;
        Ok(wp.into())
    }

    /// Change what `update` gives of a work package, if it is still at
    /// `lock_version`. Returns it as saved.
    pub fn update_work_package(
        &self,
        id: u64,
        lock_version: u64,
        update: &WorkPackageUpdate,
    ) -> Result<WorkPackage, OpError> {
        let mut body = serde_json::Map::new();
        body.insert("lockVersion".into(), lock_version.into());
        if let Some(subject) = &update.subject {
            body.insert("subject".into(), subject.as_str().into());
        }
        if let Some(description) = &update.description {
            body.insert(
                "description".into(),
                serde_json::json!({"format": "markdown", "raw": description}),
            );
        }
        if let Some(href) = &update.status_href {
            body.insert(
                "_links".into(),
                serde_json::json!({"status": {"href": href}}),
            );
        }
        let path = format!("/api/v3/work_packages/{id}");
        let response = self
            .http
            .request("PATCH", &path, &[], Some(&body.into()))
            .map_err(|e| classify(e, Some(id)))?;
        let wp: WorkPackageJson = response.json()?;
        Ok(wp.into())
    }

    /// Move a work package to the status at `status_href` (a [`Status`]'s
    /// `href`), if it is still at `lock_version`. Returns it as saved.
    pub fn set_status(
        &self,
        id: u64,
        lock_version: u64,
        status_href: &str,
    ) -> Result<WorkPackage, OpError> {
        let update = WorkPackageUpdate {
            status_href: Some(status_href.to_string()),
            ..WorkPackageUpdate::default()
        };
        self.update_work_package(id, lock_version, &update)
    }

    /// Add a comment (markdown) to a work package.
    pub fn comment(&self, id: u64, text: &str) -> Result<(), OpError> {
        let body = serde_json::json!({"comment": {"raw": text}});
        let path = format!("/api/v3/work_packages/{id}/activities");
        self.http
            .request("POST", &path, &[], Some(&body))
            .map_err(|e| classify(e, Some(id)))?;
        Ok(())
    }

    fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        id: Option<u64>,
    ) -> Result<T, OpError> {
        let response = self
            .http
            .request("GET", path, &[], None)
            .map_err(|e| classify(e, id))?;
        Ok(response.json()?)
    }

    /// The first page of a collection, sorted by id so pages do not shift.
    fn list_path(&self, base: &str, filters: &serde_json::Value) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("filters", &filters.to_string())
            .append_pair("sortBy", r#"[["id","asc"]]"#)
            .append_pair("offset", "1")
            .append_pair("pageSize", &self.page_size.to_string())
            .finish();
        format!("{base}?{query}")
    }

    /// Follow `nextByOffset` from `first` to the last page.
    fn read_pages(
        &self,
        first: &str,
        found: &mut Vec<WorkPackage>,
        seen: &mut HashSet<u64>,
    ) -> Result<(), OpError> {
        let mut next = Some(self.http.url(first));
        while let Some(url) = next.take() {
            let page: Collection<WorkPackageJson> = self.get(&url, None)?;
            let empty = page.embedded.elements.is_empty();
            for wp in page.embedded.elements {
                // Offset pages can repeat an element that moved meanwhile.
                if seen.insert(wp.id) {
                    found.push(wp.into());
                }
            }
            // An empty page or a link to itself would loop forever.
            next = page
                .links
                .next_by_offset
                .and_then(|link| link.href)
                .map(|href| self.resolve(&href))
                .filter(|href| !empty && *href != url);
        }
        Ok(())
    }

    /// A link from the server: hrefs are absolute paths on the host, and
    /// already include any path the instance is served under.
    fn resolve(&self, href: &str) -> String {
        if href.starts_with("http://") || href.starts_with("https://") {
            return href.to_string();
        }
        let base = self.http.base();
        let origin_end = base
            .split_once("://")
            .and_then(|(scheme, rest)| rest.find('/').map(|i| scheme.len() + 3 + i))
            .unwrap_or(base.len());
        if href.starts_with('/') {
            format!("{}{href}", &base[..origin_end])
        } else {
            format!("{base}/{href}")
        }
    }
}

/// The variant a caller acts on; everything else stays an HTTP error.
fn classify(error: HttpError, id: Option<u64>) -> OpError {
    match (error.status(), id) {
        (Some(401 | 403), _) => OpError::Unauthorized {
            message: error.message(),
        },
        (Some(409), Some(id)) => OpError::Conflict { id },
        (Some(422), Some(id)) => OpError::Invalid {
            id,
            message: error.message(),
        },
        (Some(404), Some(id)) => OpError::NotFound { id },
        _ => OpError::Http(error),
    }
}

/// Percent-encode one path segment (RFC 3986 unreserved stay).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[derive(Deserialize)]
struct Collection<T> {
    #[serde(rename = "_embedded")]
    embedded: Elements<T>,
    #[serde(rename = "_links", default)]
    links: CollectionLinks,
}

#[derive(Deserialize)]
struct Elements<T> {
    elements: Vec<T>,
}

#[derive(Deserialize, Default)]
struct CollectionLinks {
    #[serde(rename = "nextByOffset")]
    next_by_offset: Option<Link>,
}

#[derive(Deserialize)]
struct Link {
    href: Option<String>,
    title: Option<String>,
}

#[derive(Deserialize)]
struct StatusJson {
    id: u64,
    name: String,
    #[serde(rename = "isClosed")]
    is_closed: bool,
    #[serde(rename = "_links")]
    links: SelfLinks,
}

#[derive(Deserialize)]
struct SelfLinks {
    #[serde(rename = "self")]
    this: Link,
}

#[derive(Deserialize)]
struct WorkPackageJson {
    id: u64,
    subject: String,
    /// Absent, `null`, or a formattable whose `raw` may be `null`.
    #[serde(default)]
    description: Option<Formattable>,
    #[serde(rename = "lockVersion")]
    lock_version: u64,
    #[serde(rename = "_links")]
    links: WorkPackageLinks,
}

#[derive(Deserialize)]
struct Formattable {
    #[serde(default)]
    raw: Option<String>,
}

#[derive(Deserialize)]
struct WorkPackageLinks {
    status: Link,
}

impl From<WorkPackageJson> for WorkPackage {
    fn from(wp: WorkPackageJson) -> Self {
        WorkPackage {
            id: wp.id,
            subject: wp.subject,
            lock_version: wp.lock_version,
            status_href: wp.links.status.href.unwrap_or_default(),
            status_name: wp.links.status.title.unwrap_or_default(),
            description: wp.description.and_then(|d| d.raw),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_links_resolve_against_the_host() {
        let op = OpenProject::new("https://op.example.com/op/", "t").expect("client");
        assert_eq!(
            op.resolve("/op/api/v3/work_packages?offset=2"),
            "https://op.example.com/op/api/v3/work_packages?offset=2"
        );
        let op = OpenProject::new("http://127.0.0.1:8080", "t").expect("client");
        assert_eq!(
            op.resolve("/api/v3/statuses"),
            "http://127.0.0.1:8080/api/v3/statuses"
        );
        assert_eq!(op.resolve("https://x/y"), "https://x/y");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_segment("my-project_1"), "my-project_1");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }
}
