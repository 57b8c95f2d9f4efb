//! Every `--json` report has a JSON Schema generated from its type and
//! published in `docs/schemas/`. The files cannot drift from the types
//! (`UPDATE_SCHEMAS=1 cargo test -p concord-cli --test json_schemas`
//! rewrites them), every report says its `version`, and what the commands
//! print on the example workspace validates against its schema with no
//! field the schema does not name.

mod common;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn schemas_dir() -> PathBuf {
    common::project_root().join("docs/schemas")
}

/// Every documented report: file stem -> schema.
fn generated() -> BTreeMap<String, Value> {
    concord_app::schema::reports()
        .into_iter()
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
const VALIDATED_ELSEWHERE: &[(&str, &str)] =
    &[("ship-plan", "cli_ship.rs"), ("ship-status", "cli_ship.rs")];

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
        "check-list",
        &concord(ws, &["check", "--list", "--format", "json"]),
    );
    checker.check("summary", &concord(ws, &["summary", "--json"]));
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
