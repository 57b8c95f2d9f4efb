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

/// `schema` with every object that names its properties closed to others,
/// so an undocumented field in the output fails validation.
fn closed(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(closed);
        }
        Value::Array(items) => items.iter_mut().for_each(closed),
        _ => {}
    }
}

struct Checker {
    schemas: BTreeMap<String, Value>,
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
        let mut schema = self.schemas[name].clone();
        closed(&mut schema);
        let validator = jsonschema::validator_for(&schema).expect("a valid schema");
        let instance = out.json();
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{name}:\n{}\n{instance:#}",
            errors.join("\n")
        );
        assert_eq!(instance["version"], 1, "{name}");
        let mut extra = instance.clone();
        extra["undocumented"] = Value::from(1);
        assert!(
            !validator.is_valid(&extra),
            "{name}: an unknown field passes"
        );
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
        schemas: generated(),
        checked: Vec::new(),
    };
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
    let unchecked: Vec<&String> = checker
        .schemas
        .keys()
        .filter(|name| !checker.checked.contains(name))
        .collect();
    assert!(
        unchecked.is_empty(),
        "no command output was validated against {unchecked:?}"
    );
}
