//! Team-defined rules (`[[checks.rule]]`): a CEL condition evaluated over
//! each document (a JSON file, or a markdown file's front matter) or each
//! element of its `items`, with helpers that read the document, the repo
//! and git. The configuration compiled every expression already; the
//! evaluation here is pure apart from [`RuleIo`], which the caller gives.
//!
//! Variables an expression sees: `doc` (the document; `{}` for markdown
//! without front matter), `body` (a markdown file's text after the front
//! matter; `""` for JSON), `path` (repo-relative), `dir` (the name of the
//! file's folder), `repo`, and with `items` also `item` and `item_key` (the
//! element and its index or member name).
//!
//! Helpers: `pointer(value, "/a/b")` (null when absent),
//! `path_exists("x")` and `document("x")` (relative to the document's
//! folder; a leading `/` means the repo root; `document` gives null for a
//! missing file), `first_commit_date("x")` (`YYYY-MM-DD` or null),
//! `date("2026-05-01")` (a timestamp from a date or RFC 3339 text, so that
//! dates compare with `<`), and CEL's own `size`, `all`, `exists`,
//! `exists_one`, `filter`, `map`, `has`, `matches`.

use crate::builtin::{At, finding};
use crate::finding::{Finding, Severity};
use cel::objects::{Key, Map};
use cel::{Context, ExecutionError, FunctionContext, Program, Value};
use concord_workspace::Workspace;
use concord_workspace::checks_config::{FIRST_COMMIT, MessagePart, TeamRule};
use std::collections::HashMap;
use std::sync::Arc;

/// What the helpers may read besides the document: the caller's view of
/// the repos (working tree, index or a commit) and their history.
pub trait RuleIo: Send + Sync {
    /// A repo-relative file's content, `None` when there is none.
    fn read(&self, repo: usize, path: &str) -> Option<Vec<u8>>;
    /// Whether a repo-relative file or folder exists.
    fn exists(&self, repo: usize, path: &str) -> bool;
    /// The `YYYY-MM-DD` of the commit that first added the file.
    fn first_commit_date(&self, repo: usize, path: &str) -> Option<String>;
}

/// The code of a rule that could not be evaluated.
pub const RULE_ERROR: &str = "RULE_ERROR";

struct Compiled {
    rule: TeamRule,
    when: Program,
    key: Option<Program>,
    /// The message's parts, expressions compiled.
    message: Vec<Part>,
}

enum Part {
    Text(String),
    Expr(Program, String),
}

/// Every team rule of the workspace, compiled.
pub struct TeamRules {
    rules: Vec<Compiled>,
    /// Rules whose expressions did not compile (the configuration checks
    /// them first, so only a CEL version change could bring one here).
    broken: Vec<(String, String)>,
}

impl TeamRules {
    pub fn new(ws: &Workspace) -> TeamRules {
        let mut rules = Vec::new();
        let mut broken = Vec::new();
        for rule in &ws.checks.rules {
            match compile_rule(rule) {
                Ok(compiled) => rules.push(compiled),
                Err(e) => broken.push((rule.code.clone(), e)),
            }
        }
        TeamRules { rules, broken }
    }

    /// Whether any rule reads this file.
    pub fn covers(&self, repo: usize, path: &str) -> bool {
        self.rules.iter().any(|r| r.rule.scope.covers(repo, path))
    }

    /// Findings of rules that could not be compiled at all.
    pub fn broken_findings(&self) -> Vec<Finding> {
        self.broken
            .iter()
            .map(|(code, why)| {
                finding(
                    RULE_ERROR,
                    None,
                    "concord.toml",
                    At::default(),
                    None,
                    format!("rule {code}: {why}"),
                    code,
                    why,
                )
            })
            .collect()
    }

    /// The findings of every rule whose glob matches the file.
    pub fn check(
        &self,
        ws: &Workspace,
        repo: usize,
        path: &str,
        bytes: &[u8],
        io: &Arc<dyn RuleIo>,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        let applicable: Vec<&Compiled> = self
            .rules
            .iter()
            .filter(|r| r.rule.scope.covers(repo, path))
            // Dated by the file's history: out of scope before it is read,
            // so that an old unreadable file is not reported either.
            .filter(|r| !older_by_history(&r.rule, io.as_ref(), repo, path))
            .collect();
        if applicable.is_empty() {
            return out;
        }
        let repo_name = ws.repos[repo].name.as_str();
        let place = Arc::new(Place {
            repo,
            dir: parent_of(path).to_string(),
            io: Arc::clone(io),
        });
        let document = match parse_document(path, bytes) {
            Ok(document) => document,
            Err(why) => {
                for rule in applicable {
                    out.push(rule_error(&rule.rule, repo_name, path, &why));
                }
                return out;
            }
        };
        let context = root_context(&place, repo_name, path, &document);
        for rule in applicable {
            let input = Input {
                repo_name,
                path,
                bytes,
                document: &document,
                place: &place,
            };
            out.extend(rule.evaluate(&context, &input));
        }
        out
    }
}

fn older_by_history(rule: &TeamRule, io: &dyn RuleIo, repo: usize, path: &str) -> bool {
    match (&rule.since, rule.since_field.as_deref()) {
        (Some(since), Some(FIRST_COMMIT)) => io
            .first_commit_date(repo, path)
            .is_some_and(|d| d.as_str() < since.as_str()),
        _ => false,
    }
}

/// The file a rule runs over, parsed.
struct Input<'a> {
    repo_name: &'a str,
    path: &'a str,
    bytes: &'a [u8],
    document: &'a Document,
    place: &'a Arc<Place>,
}

/// Where the document is, for the helpers that read around it.
struct Place {
    repo: usize,
    dir: String,
    io: Arc<dyn RuleIo>,
}

impl Place {
    /// A path as a rule writes it, repo-relative: relative to the
    /// document's folder, or to the repo root with a leading `/`.
    fn resolve(&self, written: &str) -> String {
        let joined = match written.strip_prefix('/') {
            Some(rooted) => rooted.to_string(),
            None if self.dir.is_empty() => written.to_string(),
            None => format!("{}/{written}", self.dir),
        };
        let mut parts: Vec<&str> = Vec::new();
        for part in joined.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        parts.join("/")
    }
}

/// A document as rules see it.
struct Document {
    json: serde_json::Value,
    doc: Value,
    body: String,
}

fn parse_document(path: &str, bytes: &[u8]) -> Result<Document, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    let (json, body) = if path.ends_with(".md") || path.ends_with(".markdown") {
        let (front, body) = split_front_matter(text);
        let json = match front {
            Some(front) => crate::yaml::to_json(front)
                .map_err(|e| format!("front matter is not valid YAML: {e}"))?,
            None => serde_json::Value::Object(serde_json::Map::new()),
        };
        (json, body.to_string())
    } else {
        let json = serde_json::from_str(text).map_err(|e| {
            format!(
                "not valid JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            )
        })?;
        (json, String::new())
    };
    Ok(Document {
        doc: to_cel(&json),
        json,
        body,
    })
}

/// The front matter (between the first `---` line and the next `---` or
/// `...` line) and the body after it.
fn split_front_matter(text: &str) -> (Option<&str>, &str) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return (None, text);
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\r', '\n']);
        if bare == "---" || bare == "..." {
            return (Some(&rest[..offset]), &rest[offset + line.len()..]);
        }
        offset += line.len();
    }
    (None, text)
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// A JSON value as a CEL value: whole numbers become `int`, so that rules
/// compare them with integer literals.
pub fn to_cel(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(to_cel).collect()))
        }
        serde_json::Value::Object(members) => {
            let map: HashMap<Key, Value> = members
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
                .collect();
            Value::Map(Map::from(map))
        }
    }
}

/// The context every rule over one document shares: the helpers and the
/// document's variables.
fn root_context(
    place: &Arc<Place>,
    repo_name: &str,
    path: &str,
    document: &Document,
) -> Context<'static, 'static> {
    let mut context = Context::default();
    // Names no standard function uses: registering cannot fail.
    let _ = context.add_function("pointer", pointer_helper);
    let _ = context.add_function("date", date_helper);
    let here = Arc::clone(place);
    let _ = context.add_function("path_exists", move |p: Arc<String>| {
        here.io.exists(here.repo, &here.resolve(&p))
    });
    let here = Arc::clone(place);
    let _ = context.add_function(
        "document",
        move |ftx: &FunctionContext, p: Arc<String>| -> Result<Value, ExecutionError> {
            let resolved = here.resolve(&p);
            let Some(bytes) = here.io.read(here.repo, &resolved) else {
                return Ok(Value::Null);
            };
            parse_document(&resolved, &bytes)
                .map(|d| d.doc)
                .map_err(|why| ftx.error(format!("{resolved}: {why}")))
        },
    );
    let here = Arc::clone(place);
    let _ = context.add_function("first_commit_date", move |p: Arc<String>| {
        here.io
            .first_commit_date(here.repo, &here.resolve(&p))
            .map_or(Value::Null, |d| Value::String(Arc::new(d)))
    });
    context.add_variable_from_value("doc", document.doc.clone());
    context.add_variable_from_value("body", document.body.clone());
    context.add_variable_from_value("path", path.to_string());
    context.add_variable_from_value(
        "dir",
        place.dir.rsplit('/').next().unwrap_or("").to_string(),
    );
    context.add_variable_from_value("repo", repo_name.to_string());
    context
}

/// `pointer(value, "/a/0/b")`: the value at a JSON pointer, null if absent.
fn pointer_helper(value: Value, pointer: Arc<String>) -> Value {
    let mut current = value;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        current = match &current {
            Value::Map(map) => map
                .map
                .get(&Key::String(Arc::new(token)))
                .cloned()
                .unwrap_or(Value::Null),
            Value::List(items) => token
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i).cloned())
                .unwrap_or(Value::Null),
            _ => Value::Null,
        };
    }
    current
}

/// `date("2026-05-01")` or `date("2026-05-01T10:00:00Z")`: a timestamp.
fn date_helper(ftx: &FunctionContext, text: Arc<String>) -> Result<Value, ExecutionError> {
    let parsed = chrono::DateTime::parse_from_rfc3339(&text).or_else(|_| {
        let day = text.get(..10).unwrap_or(&text);
        chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc().fixed_offset())
    });
    parsed
        .map(Value::Timestamp)
        .map_err(|_| ftx.error(format!("`{text}` is not a date (YYYY-MM-DD)")))
}

fn compile_rule(rule: &TeamRule) -> Result<Compiled, String> {
    let compile = |expr: &str| {
        Program::compile(expr).map_err(|e| format!("invalid CEL expression `{expr}`: {e}"))
    };
    let mut message = Vec::new();
    for part in &rule.message {
        message.push(match part {
            MessagePart::Text(text) => Part::Text(text.clone()),
            MessagePart::Expr(expr) => Part::Expr(compile(expr)?, expr.clone()),
        });
    }
    Ok(Compiled {
        when: compile(&rule.when)?,
        key: rule.key.as_deref().map(compile).transpose()?,
        message,
        rule: rule.clone(),
    })
}

impl Compiled {
    /// The rule over one document: over the document itself, or over each
    /// element of `items`.
    fn evaluate(&self, context: &Context<'static, 'static>, input: &Input<'_>) -> Vec<Finding> {
        let rule = &self.rule;
        if exempted(rule, &input.document.json) || self.too_old(input, &input.document.json) {
            return Vec::new();
        }
        let Some(items_pointer) = &rule.items else {
            return self.one(context, input, None).into_iter().collect();
        };
        let elements: Vec<(String, &serde_json::Value)> =
            match input.document.json.pointer(items_pointer) {
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (i.to_string(), v))
                    .collect(),
                Some(serde_json::Value::Object(members)) => {
                    members.iter().map(|(k, v)| (k.clone(), v)).collect()
                }
                // No elements: nothing to check.
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(other) => {
                    let why =
                        format!("`items` {items_pointer} is {other}, not a list or an object");
                    return vec![rule_error(rule, input.repo_name, input.path, &why)];
                }
            };
        let mut out = Vec::new();
        for (item_key, item) in elements {
            if exempted(rule, item) || self.too_old(input, item) {
                continue;
            }
            let mut scope = context.new_inner_scope();
            scope.add_variable_from_value("item", to_cel(item));
            scope.add_variable_from_value("item_key", item_key.clone());
            out.extend(self.one(&scope, input, Some(&item_key)));
        }
        out
    }

    /// Forward-only scoping: the document or item is dated before `since`.
    fn too_old(&self, input: &Input<'_>, value: &serde_json::Value) -> bool {
        let (Some(since), Some(field)) = (&self.rule.since, &self.rule.since_field) else {
            return false;
        };
        let date = if field == FIRST_COMMIT {
            input
                .place
                .io
                .first_commit_date(input.place.repo, input.path)
        } else {
            value
                .pointer(field)
                .or_else(|| input.document.json.pointer(field))
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        // Undated documents are checked: forward-only must not mean "never".
        date.is_some_and(|d| d.get(..10).unwrap_or(&d) < since.as_str())
    }

    /// One evaluation: a finding when `when` is true, a RULE_ERROR when it
    /// cannot be evaluated or is not a bool.
    fn one(
        &self,
        context: &Context<'_, '_>,
        input: &Input<'_>,
        item: Option<&str>,
    ) -> Option<Finding> {
        let rule = &self.rule;
        let failed = |why: String| {
            let why = match item {
                Some(key) => format!("{why} (item {key})"),
                None => why,
            };
            Some(rule_error(rule, input.repo_name, input.path, &why))
        };
        match self.when.execute(context) {
            Ok(Value::Bool(false)) => return None,
            Ok(Value::Bool(true)) => {}
            Ok(other) => {
                return failed(format!(
                    "`when` gave {}, not true or false",
                    display(&other)
                ));
            }
            Err(e) => return failed(format!("`when` failed: {e}")),
        }
        let key = match &self.key {
            Some(program) => match program.execute(context) {
                Ok(value) => Some(display(&value)),
                Err(e) => return failed(format!("`key` failed: {e}")),
            },
            None => None,
        };
        let mut message = String::new();
        for part in &self.message {
            match part {
                Part::Text(text) => message.push_str(text),
                Part::Expr(program, expr) => match program.execute(context) {
                    Ok(value) => message.push_str(&display(&value)),
                    Err(e) => return failed(format!("message `{{{expr}}}` failed: {e}")),
                },
            }
        }
        let anchor = match (&rule.items, item) {
            (Some(items), Some(index)) => format!("{items}/{index}"),
            _ => String::new(),
        };
        let at = if anchor.is_empty() || !input.path.ends_with(".json") {
            At {
                line: Some(1),
                ..At::default()
            }
        } else {
            concord_formats::json::position_of(input.bytes, &anchor).map_or_else(At::default, |p| {
                At {
                    line: Some(p.line),
                    column: Some(p.column),
                    end_column: Some(p.end_column),
                }
            })
        };
        let mut out = finding(
            &rule.code,
            Some(input.repo_name),
            input.path,
            at,
            key.as_deref(),
            message,
            &anchor,
            "",
        );
        out.severity = rule.severity.parse().unwrap_or(Severity::Error);
        Some(out)
    }
}

fn rule_error(rule: &TeamRule, repo: &str, path: &str, why: &str) -> Finding {
    finding(
        RULE_ERROR,
        Some(repo),
        path,
        At {
            line: Some(1),
            ..At::default()
        },
        None,
        format!("rule {}: {why}", rule.code),
        &rule.code,
        why,
    )
}

/// Whether an exemption marker of the rule is on the value.
fn exempted(rule: &TeamRule, value: &serde_json::Value) -> bool {
    rule.exempt.iter().any(|marker| {
        let Some(found) = value.pointer(&marker.pointer) else {
            return false;
        };
        match &marker.value {
            None => {
                !matches!(
                    found,
                    serde_json::Value::Null | serde_json::Value::Bool(false)
                ) && found != &serde_json::Value::String(String::new())
                    && found.as_array().is_none_or(|a| !a.is_empty())
            }
            Some(wanted) => match found {
                serde_json::Value::Array(items) => items.iter().any(|i| scalar_is(i, wanted)),
                other => scalar_is(other, wanted),
            },
        }
    })
}

fn scalar_is(value: &serde_json::Value, wanted: &str) -> bool {
    match value {
        serde_json::Value::String(s) => s == wanted,
        serde_json::Value::Null => false,
        other => wanted == other.to_string().as_str(),
    }
}

/// A CEL value as message text: strings bare, everything else as JSON.
pub fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Timestamp(t) => t.format("%Y-%m-%d").to_string(),
        Value::Duration(d) => format!("{}s", d.num_seconds()),
        Value::List(items) => {
            let parts: Vec<String> = items.iter().map(display).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Map(map) => {
            let mut parts: Vec<String> = map
                .map
                .iter()
                .map(|(k, v)| format!("{}: {}", key_text(k), display(v)))
                .collect();
            parts.sort();
            format!("{{{}}}", parts.join(", "))
        }
        other => format!("{other:?}"),
    }
}

fn key_text(key: &Key) -> String {
    match key {
        Key::String(s) => s.to_string(),
        Key::Int(i) => i.to_string(),
        Key::Uint(u) => u.to_string(),
        Key::Bool(b) => b.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_workspace::checks_config::Exemption;
    use proptest::prelude::*;
    use serde_json::json;

    struct NoFiles;
    impl RuleIo for NoFiles {
        fn read(&self, _: usize, _: &str) -> Option<Vec<u8>> {
            None
        }
        fn exists(&self, _: usize, _: &str) -> bool {
            false
        }
        fn first_commit_date(&self, _: usize, _: &str) -> Option<String> {
            None
        }
    }

    fn place(dir: &str) -> Place {
        Place {
            repo: 0,
            dir: dir.into(),
            io: Arc::new(NoFiles),
        }
    }

    #[test]
    fn paths_resolve_against_the_document_folder_or_the_root() {
        let here = place(".claude/features/x");
        assert_eq!(here.resolve("state.json"), ".claude/features/x/state.json");
        assert_eq!(
            here.resolve("../y/state.json"),
            ".claude/features/y/state.json"
        );
        assert_eq!(here.resolve("/docs/a.md"), "docs/a.md");
        assert_eq!(place("").resolve("./a/../b"), "b");
    }

    #[test]
    fn front_matter_and_body_split_at_the_closing_line() {
        assert_eq!(
            split_front_matter("---\na: 1\n---\nbody\n"),
            (Some("a: 1\n"), "body\n")
        );
        assert_eq!(split_front_matter("no front\n"), (None, "no front\n"));
        assert_eq!(
            split_front_matter("---\nunclosed\n"),
            (None, "---\nunclosed\n")
        );
    }

    #[test]
    fn pointer_helper_walks_maps_and_lists() {
        let value = to_cel(&json!({"a": [{"b": "x"}], "c/d": 1}));
        assert_eq!(
            display(&pointer_helper(value.clone(), Arc::new("/a/0/b".into()))),
            "x"
        );
        assert_eq!(
            display(&pointer_helper(value.clone(), Arc::new("/c~1d".into()))),
            "1"
        );
        assert_eq!(pointer_helper(value, Arc::new("/a/5".into())), Value::Null);
    }

    fn rule_with(exempt: Vec<Exemption>) -> TeamRule {
        TeamRule {
            code: "X".into(),
            severity: "error".into(),
            message: Vec::new(),
            scope: concord_workspace::checks_config::Scope {
                glob: "*".into(),
                matcher: globset::Glob::new("*").expect("glob").compile_matcher(),
                repos: Vec::new(),
            },
            items: None,
            when: "true".into(),
            key: None,
            since: None,
            since_field: None,
            exempt,
            description: None,
            fix: None,
        }
    }

    #[test]
    fn exemption_markers_by_presence_and_by_value() {
        let present = rule_with(vec![Exemption {
            pointer: "/reason".into(),
            value: None,
        }]);
        assert!(exempted(&present, &json!({"reason": "internal"})));
        assert!(!exempted(&present, &json!({"reason": ""})));
        assert!(!exempted(&present, &json!({"reason": null})));
        assert!(!exempted(&present, &json!({})));
        let tagged = rule_with(vec![Exemption {
            pointer: "/tags".into(),
            value: Some("no-cs".into()),
        }]);
        assert!(exempted(&tagged, &json!({"tags": ["a", "no-cs"]})));
        assert!(exempted(&tagged, &json!({"tags": "no-cs"})));
        assert!(!exempted(&tagged, &json!({"tags": ["a"]})));
    }

    proptest! {
        /// Whole JSON numbers stay integers through the conversion, so
        /// that rules compare them with integer literals.
        #[test]
        fn whole_numbers_become_ints(n in any::<i64>()) {
            prop_assert_eq!(to_cel(&json!(n)), Value::Int(n));
        }

        /// Any JSON string survives to_cel and display unchanged.
        #[test]
        fn strings_display_as_themselves(s in ".*") {
            prop_assert_eq!(display(&to_cel(&json!(s.clone()))), s);
        }
    }
}
