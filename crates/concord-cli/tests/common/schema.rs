//! Checking a command's `--json` output against its published schema in
//! `docs/schemas/` (see `tests/json_schemas.rs`).

use serde_json::Value;

/// `schema` with every object that names its properties closed to others,
/// so an undocumented field in the output fails validation.
pub fn closed(schema: &mut Value) {
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

/// The published schema `docs/schemas/{name}.schema.json`.
pub fn published(name: &str) -> Value {
    let path = super::project_root().join(format!("docs/schemas/{name}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Panics unless `instance` is what the schema `name` says, with no
/// field it does not name, and says `version` 1.
pub fn assert_valid(name: &str, instance: &Value) {
    let mut schema = published(name);
    closed(&mut schema);
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(instance)
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
}
