//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`. Written by
//! hand from [`OPERATIONS`]; a test requests every operation against the
//! running server, so a route missing from either side fails it.

use serde_json::{Map, Value, json};

/// One documented operation.
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// Needs a token that may write (else: a read, public with `--public-read`).
    pub write: bool,
    /// Query parameters (all optional strings unless named `limit`/`before`).
    pub query: &'static [&'static str],
    /// A JSON request body schema, if any.
    pub body: Option<fn() -> Value>,
    /// Success status.
    pub status: u16,
}

const fn read(
    path: &'static str,
    summary: &'static str,
    query: &'static [&'static str],
) -> Operation {
    Operation {
        method: "get",
        path,
        summary,
        write: false,
        query,
        body: None,
        status: 200,
    }
}

fn sync_body() -> Value {
    json!({"type": "object", "additionalProperties": false, "properties": {
        "source": {"type": "string", "description": "write only to this source (`concord sync --only`)"},
        "rule": {"type": "string", "description": "apply only this [[sync]] rule's decisions (`concord sync --rule`)"},
        "full": {"type": "boolean", "description": "read every file, whatever the watermarks say"}
    }})
}

fn status_body() -> Value {
    json!({"type": "object", "required": ["status"], "additionalProperties": false, "properties": {
        "status": {"type": "string"},
        "note": {"type": "string"},
        "force": {"type": "boolean", "description": "allow a lower-ranked status (a reopen)"}
    }})
}

fn event_body() -> Value {
    json!({"type": "object", "required": ["event_type"], "additionalProperties": false, "properties": {
        "event_type": {"type": "string"},
        "phase": {"type": "string"},
        "summary": {"type": "string"},
        "artifacts": {"type": "array", "items": {"type": "string"}}
    }})
}

pub const OPERATIONS: &[Operation] = &[
    read(
        "/api/v1/health",
        "Liveness: the server and its database answer (503 when the database is away)",
        &[],
    ),
    read("/api/v1/openapi.json", "This document", &[]),
    read(
        "/api/v1/summary",
        "The workspace's summary, the same report as `concord summary --json` (version 1): counts per source, drift, findings and their series, last sync and mirror, runs, events",
        &["events"],
    ),
    read(
        "/api/v1/control-room",
        "What the control room shows: the summary plus the job queue (`jobs`, `schedule`)",
        &[],
    ),
    read(
        "/api/v1/items",
        "Items the hub knows, by key; `next` is the cursor for `after`",
        &["status", "source", "drift", "after", "limit"],
    ),
    read(
        "/api/v1/items/{key}",
        "One item: the hub's value, every source's, the bases and its journal",
        &[],
    ),
    read(
        "/api/v1/items/{key}/history",
        "The item's journal, oldest first (`concord history`)",
        &[],
    ),
    read(
        "/api/v1/items/{key}/explain",
        "Every decision for the item, with its reason (`concord explain`)",
        &[],
    ),
    Operation {
        method: "post",
        path: "/api/v1/items/{key}/events",
        summary: "Log an event for the item (`concord log`)",
        write: true,
        query: &[],
        body: Some(event_body),
        status: 200,
    },
    Operation {
        method: "put",
        path: "/api/v1/items/{key}/status",
        summary: "Set the item's status in the hub (`concord set`); 422 when refused (a lower-ranked status without `force`, an unknown status)",
        write: true,
        query: &[],
        body: Some(status_body),
        status: 200,
    },
    read(
        "/api/v1/runs",
        "Recent runs recorded in the hub, newest first, with outcome and duration",
        &["limit"],
    ),
    read(
        "/api/v1/jobs",
        "Jobs this server queued or ran (syncs, mirror runs, check snapshots), newest first",
        &[],
    ),
    read(
        "/api/v1/jobs/{id}",
        "One job: its progress while it runs, the command's JSON output when it finished",
        &[],
    ),
    Operation {
        method: "post",
        path: "/api/v1/jobs/{id}/cancel",
        summary: "Cancel a job: a queued one will not run (`dequeued`); a running one stops at its next point where nothing is half-written (`stopping`), or finishes if it is already writing. 409 when it has finished",
        write: true,
        query: &[],
        body: None,
        status: 202,
    },
    Operation {
        method: "post",
        path: "/api/v1/sync",
        summary: "Sync now; returns the run id. Runs never overlap: a request while one waits joins it",
        write: true,
        query: &[],
        body: Some(sync_body),
        status: 202,
    },
    read(
        "/api/v1/journal",
        "The journal across repositories, newest first; `next_before` pages",
        &["key", "source", "actor", "before", "limit"],
    ),
    read(
        "/api/v1/snapshots",
        "Check snapshots with findings by severity, oldest first",
        &[],
    ),
    read(
        "/api/v1/snapshots/{id}",
        "One check snapshot with its findings",
        &[],
    ),
    read(
        "/api/v1/mirrors",
        "Mirror runs and open mirror proposals",
        &[],
    ),
    read("/api/v1/trains", "Release trains", &[]),
    read(
        "/api/v1/repos/{name}",
        "The items of one repository, with the hub's status and whether the hub has them",
        &[],
    ),
    read(
        "/api/v1/sources/{name}",
        "The items of one source in every repository, with the hub's status and whether the hub has them",
        &[],
    ),
    read(
        "/api/v1/schedule",
        "Scheduled jobs with their last and next run",
        &[],
    ),
    read(
        "/api/v1/stream",
        "Server-sent events: `job-progress` while a job runs, `run-finished` when it ends",
        &[],
    ),
];

/// The published schema (`docs/schemas/{name}.schema.json`) of a
/// successful answer; `None` where the answer is not JSON (this document
/// itself, the event stream).
pub fn answer_schema(method: &str, path: &str) -> Option<&'static str> {
    let name = match (method, path.trim_start_matches("/api/v1")) {
        ("get", "/health") => "api-health",
        ("get", "/summary") => "summary",
        ("get", "/control-room") => "api-control-room",
        ("get", "/items") => "api-items",
        ("get", "/items/{key}") => "api-item",
        ("get", "/items/{key}/history") => "history",
        ("get", "/items/{key}/explain") => "explain",
        ("post", "/items/{key}/events") => "log",
        ("put", "/items/{key}/status") => "set",
        ("get", "/runs") => "api-runs",
        ("get", "/jobs") => "api-jobs",
        ("get", "/jobs/{id}") => "api-job",
        ("post", "/jobs/{id}/cancel") => "api-job-cancel",
        ("post", "/sync") => "api-sync",
        ("get", "/journal") => "api-journal",
        ("get", "/snapshots") => "api-snapshots",
        ("get", "/snapshots/{id}") => "api-snapshot",
        ("get", "/mirrors") => "api-mirrors",
        ("get", "/trains") => "api-trains",
        ("get", "/repos/{name}") | ("get", "/sources/{name}") => "listing",
        ("get", "/schedule") => "api-schedule",
        _ => return None,
    };
    Some(name)
}

/// Every published schema by name: the use cases' reports and the bodies.
fn all_schemas() -> Map<String, Value> {
    concord_app::schema::reports()
        .into_iter()
        .chain(crate::bodies::schemas())
        .map(|d| (d.name.to_string(), d.schema.to_value()))
        .collect()
}

/// The document, as served.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for op in OPERATIONS {
        let mut parameters: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"},
                       "description": if name == "key" { "the item key, percent-encoded as one segment (`/` as %2F)" } else { "" }})
            })
            .collect();
        for name in op.query {
            let schema = match *name {
                "limit" | "before" => json!({"type": "integer"}),
                "drift" => json!({"type": "boolean"}),
                _ => json!({"type": "string"}),
            };
            parameters
                .push(json!({"name": name, "in": "query", "required": false, "schema": schema}));
        }
        let content = match answer_schema(op.method, op.path) {
            Some(name) => json!({"schema": {"$ref": format!("#/components/schemas/{name}")}}),
            None => json!({}),
        };
        let mut operation = json!({
            "summary": op.summary,
            "parameters": parameters,
            "responses": {
                op.status.to_string(): {"description": "success", "content": {"application/json": content}},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "503": {"$ref": "#/components/responses/Error"},
            },
            "security": if op.write || op.path.ends_with("/health") || op.path.ends_with("/openapi.json") {
                if op.write { json!([{"bearer": []}]) } else { json!([]) }
            } else {
                json!([{"bearer": []}, {}])
            },
        });
        if let Some(body) = op.body {
            operation["requestBody"] = json!({"required": !op.path.ends_with("/sync"), "content": {"application/json": {"schema": body()}}});
        }
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[op.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "concord serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The concord hub over HTTP. Reads need a bearer token unless the server runs with --public-read; writes need a token that is not read-only. Webhooks (/hooks/github, /hooks/{name}) authenticate by signature or shared secret instead.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "an error", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/api-error"}}}}},
            // The schemas of docs/schemas/, each its own resource (`$id`),
            // so their `$defs` references resolve inside them.
            "schemas": all_schemas(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::{OPERATIONS, answer_schema};

    /// Every JSON answer names its published schema.
    #[test]
    fn every_json_answer_has_a_schema() {
        for op in OPERATIONS {
            let streams = op.path.ends_with("/stream") || op.path.ends_with("/openapi.json");
            assert_eq!(
                answer_schema(op.method, op.path).is_some(),
                !streams,
                "{} {}",
                op.method,
                op.path
            );
        }
        let document = super::document();
        for name in ["api-error", "api-items", "summary", "sync"] {
            assert!(
                document["components"]["schemas"][name].is_object(),
                "{name}"
            );
        }
    }

    /// The other direction of the server test (every documented operation
    /// answers): every `/api/v1` route of the router is documented.
    #[test]
    fn every_api_route_of_the_router_is_documented() {
        let source = include_str!("server.rs");
        let routes: Vec<&str> = source
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with(".route(\"/api/v1"))
            .collect();
        assert!(routes.len() >= 20, "{routes:?}");
        for line in routes {
            let path = line.split('"').nth(1).unwrap_or_default();
            for method in ["get", "post", "put", "patch", "delete"] {
                if line.contains(&format!("{method}(")) {
                    assert!(
                        OPERATIONS
                            .iter()
                            .any(|op| op.path == path && op.method == method),
                        "{method} {path} is routed but not in the OpenAPI document"
                    );
                }
            }
        }
    }
}
