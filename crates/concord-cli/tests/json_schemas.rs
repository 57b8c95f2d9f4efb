//! Every `--json` report has a JSON Schema generated from its type and
//! published in `docs/schemas/`. The files cannot drift from the types
//! (`UPDATE_SCHEMAS=1 cargo test -p concord-cli --test json_schemas`
//! rewrites them), every report says its `version`, and what the commands
//! print on the example workspace validates against its schema with no
//! field the schema does not name.

mod common;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn schemas_dir() -> PathBuf {
    common::project_root().join("docs/schemas")
}

/// Every documented report and API body: file stem -> schema.
fn generated() -> BTreeMap<String, Value> {
    concord_app::schema::reports()
        .into_iter()
        .chain(concord_serve::bodies::schemas())
        .map(|d| (d.name.to_string(), d.schema.to_value()))
        .collect()
}

fn file_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("schema as JSON");
    text.push('\n');
    text
}

#[test]
fn the_published_schemas_are_the_generated_ones() {
    let dir = schemas_dir();
    let schemas = generated();
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::create_dir_all(&dir).expect("create docs/schemas");
        for (name, schema) in &schemas {
            let path = dir.join(format!("{name}.schema.json"));
            std::fs::write(path, file_text(schema)).expect("write schema");
        }
    }
    let mut problems = Vec::new();
    for (name, schema) in &schemas {
        let path = dir.join(format!("{name}.schema.json"));
        match std::fs::read_to_string(&path) {
            Ok(text) if text == file_text(schema) => {}
            Ok(_) => problems.push(format!("{} differs from its type", path.display())),
            Err(e) => problems.push(format!("{} cannot be read: {e}", path.display())),
        }
        let required = schema["required"].as_array().cloned().unwrap_or_default();
        if schema["properties"]["version"]["type"] != "integer"
            || !required.contains(&Value::from("version"))
        {
            problems.push(format!("report `{name}` has no required integer `version`"));
        }
    }
    for entry in std::fs::read_dir(&dir).expect("docs/schemas") {
        let file = entry.expect("entry").file_name();
        let file = file.to_string_lossy();
        let stem = file.trim_end_matches(".schema.json");
        if !schemas.contains_key(stem) {
            problems.push(format!("docs/schemas/{file} documents no report"));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\nrun `UPDATE_SCHEMAS=1 cargo test -p concord-cli --test json_schemas` and review the diff",
        problems.join("\n")
    );
}

/// Reports whose output other test files validate (they need a release
/// train set up): name -> where.
const VALIDATED_ELSEWHERE: &[(&str, &str)] = &[
    ("ship-plan", "cli_ship.rs"),
    ("ship-status", "cli_ship.rs"),
    ("api-hook", "cli_serve.rs: signed GitHub deliveries"),
    ("init", "cli_init.rs: it needs repos to look at"),
];

struct Checker {
    checked: Vec<String>,
}

impl Checker {
    /// Validate `stdout` of a run against the schema `name`.
    fn check(&mut self, name: &str, out: &common::Output) {
        assert!(
            out.code == 0 || out.code == 1,
            "{name}: exit {}\n{}{}",
            out.code,
            out.stdout,
            out.stderr
        );
        common::schema::assert_valid(name, &out.json());
        self.checked.push(name.to_string());
    }
}

fn concord(dir: &Path, args: &[&str]) -> common::Output {
    common::run_in(dir, args)
}

#[test]
fn what_the_commands_print_is_what_the_schemas_say() {
    let temp = tempfile::tempdir().expect("temp dir");
    let ws = temp.path();
    common::copy_tree(&common::project_root().join("examples"), ws);
    let mut checker = Checker {
        checked: Vec::new(),
    };
    checker.check("config-check", &concord(ws, &["config", "check", "--json"]));
    checker.check("scan", &concord(ws, &["scan", "--json"]));
    checker.check("status", &concord(ws, &["status", "--json"]));
    checker.check("diff", &concord(ws, &["diff", "--json"]));
    checker.check("diff", &concord(ws, &["sync", "--dry-run", "--json"]));
    checker.check("hub-migrate", &concord(ws, &["hub", "migrate", "--json"]));
    checker.check("sync", &concord(ws, &["sync", "--json"]));
    checker.check("sync", &concord(ws, &["sync", "--json"]));
    checker.check("explain", &concord(ws, &["explain", "wp#42", "--json"]));
    checker.check(
        "set",
        &concord(ws, &["set", "wp#44", "in_progress", "--json"]),
    );
    checker.check(
        "log",
        &concord(ws, &["log", "wp#44", "--event", "note", "--json"]),
    );
    checker.check("history", &concord(ws, &["history", "wp#44", "--json"]));
    checker.check("check", &concord(ws, &["check", "--format", "json"]));
    let snapshot = concord(ws, &["check", "--snapshot", "--format", "json"]);
    checker.check("check", &snapshot);
    checker.check(
        "check-history",
        &concord(ws, &["check", "history", "--json"]),
    );
    checker.check(
        "check-trend",
        &concord(ws, &["check", "history", "--report", "--json"]),
    );
    checker.check(
        "check-list",
        &concord(ws, &["check", "--list", "--format", "json"]),
    );
    checker.check("summary", &concord(ws, &["summary", "--json"]));
    api_bodies(ws, &mut checker);
    let mirror = ws.join("mirror/concord.toml");
    let mirror = mirror.to_str().expect("utf-8");
    checker.check(
        "mirror",
        &concord(ws, &["--config", mirror, "mirror", "--dry-run", "--json"]),
    );
    let unchecked: Vec<String> = generated()
        .into_keys()
        .filter(|name| !checker.checked.contains(name))
        .filter(|name| !VALIDATED_ELSEWHERE.iter().any(|(n, _)| n == name))
        .collect();
    assert!(
        unchecked.is_empty(),
        "no command output was validated against {unchecked:?}"
    );
}

/// Every route's body on a running `concord serve` over the same
/// workspace, against its schema (a use case's report where it is one).
fn api_bodies(ws: &Path, checker: &mut Checker) {
    use common::serve::{Server, get, send};
    let out = concord(ws, &["serve", "token", "create", "--name", "writer"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let writer = out.stdout.trim().to_string();
    let server = Server::start(ws, &[], &["--no-schedule"]);
    let api = format!("{}/api/v1", server.url);
    let seen = std::cell::RefCell::new(Vec::new());
    let body = |name: &str, method: &str, path: &str, json: Value, status: u16| {
        let url = format!("{api}{path}");
        let (got, answer) = match method {
            "GET" => get(&url, Some(&writer)),
            _ => send(method, &url, Some(&writer), &json),
        };
        assert_eq!(got, status, "{method} {path}: {answer}");
        common::schema::assert_valid(name, &answer);
        seen.borrow_mut().push(name.to_string());
        answer
    };
    // A sync, cancelled as soon as it is queued (it may already be done:
    // then the refusal is an error body, and another try follows).
    let mut cancelled = false;
    for _ in 0..10 {
        let accepted = body("api-sync", "POST", "/sync", json!({}), 202);
        let id = accepted["run_id"].as_str().expect("a run id").to_string();
        let (status, answer) = send(
            "POST",
            &format!("{api}/jobs/{id}/cancel"),
            Some(&writer),
            &json!({}),
        );
        let name = if status == 202 {
            "api-job-cancel"
        } else {
            "api-error"
        };
        assert!(status == 202 || status == 409, "{status} {answer}");
        common::schema::assert_valid(name, &answer);
        seen.borrow_mut().push(name.to_string());
        for _ in 0..600 {
            let job = body("api-job", "GET", &format!("/jobs/{id}"), Value::Null, 200);
            if job["state"] == "finished" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if status == 202 {
            cancelled = true;
            break;
        }
    }
    assert!(cancelled, "no sync could be cancelled in ten tries");
    body("api-health", "GET", "/health", Value::Null, 200);
    body("api-items", "GET", "/items?limit=2", Value::Null, 200);
    body("api-item", "GET", "/items/wp%2342", Value::Null, 200);
    body("explain", "GET", "/items/wp%2342/explain", Value::Null, 200);
    body("history", "GET", "/items/wp%2342/history", Value::Null, 200);
    let set = json!({"status": "in_progress", "force": true});
    body("set", "PUT", "/items/wp%2341/status", set, 200);
    let event = json!({"event_type": "note"});
    body("log", "POST", "/items/wp%2341/events", event, 200);
    body("api-runs", "GET", "/runs", Value::Null, 200);
    body("api-jobs", "GET", "/jobs", Value::Null, 200);
    body("api-journal", "GET", "/journal?limit=3", Value::Null, 200);
    let snapshots = body("api-snapshots", "GET", "/snapshots", Value::Null, 200);
    let snapshot = snapshots["snapshots"][0]["snapshot"]
        .as_i64()
        .expect("a snapshot");
    body(
        "api-snapshot",
        "GET",
        &format!("/snapshots/{snapshot}"),
        Value::Null,
        200,
    );
    body("api-mirrors", "GET", "/mirrors", Value::Null, 200);
    body("api-trains", "GET", "/trains", Value::Null, 200);
    body("listing", "GET", "/repos/app", Value::Null, 200);
    body("listing", "GET", "/sources/workplans", Value::Null, 200);
    body("api-schedule", "GET", "/schedule", Value::Null, 200);
    body("summary", "GET", "/summary", Value::Null, 200);
    body("api-control-room", "GET", "/control-room", Value::Null, 200);
    let hook = format!("{}/hooks/nobody", server.url);
    let (status, answer) = send("POST", &hook, None, &json!({}));
    assert_eq!(status, 404, "{answer}");
    common::schema::assert_valid("api-error", &answer);
    checker.checked.extend(seen.into_inner());
    checker.checked.push("api-error".into());
}
