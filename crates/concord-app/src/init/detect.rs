//! What one file holds, judged from its path and bytes alone: which
//! formats concord could read it as, with which settings, and the status
//! words and item ids it would yield. Pure; the formats' own parsers do the
//! reading wherever a setting has to be proven (task blocks, front matter,
//! tables), so what init proposes is what a scan will read.

use concord_formats::front_matter::FrontMatter;
use concord_formats::table::Table;
use concord_formats::task_blocks::TaskBlocks;
use concord_formats::{FileContext, Format, ItemFields, KeyTemplate};
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// Field names that hold a status, in order of preference.
const STATUS_FIELDS: &[&str] = &["status", "state", "current_phase", "phase", "stage"];
/// Field names that identify an item of a JSON array.
const ID_FIELDS: &[&str] = &["id", "key", "task_id", "uid", "number"];
/// Field names that say which repo owns a document.
const OWNER_FIELDS: &[&str] = &["state_owner", "owner"];

/// The settings a source needs to read a file, as far as one file tells.
/// Files of one repo with equal shapes can share a source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Shape {
    TaskBlocks,
    Table {
        header: String,
        status_column: String,
        key_column: String,
        key_regex: String,
        key: String,
    },
    FrontMatter {
        status: String,
    },
    JsonDocument {
        /// A JSON pointer.
        status: String,
    },
    JsonItems {
        items: String,
        id: String,
        status: String,
    },
}

impl Shape {
    pub fn format(&self) -> &'static str {
        match self {
            Shape::TaskBlocks => "task-blocks",
            Shape::Table { .. } => "table",
            Shape::FrontMatter { .. } => "front-matter",
            Shape::JsonDocument { .. } | Shape::JsonItems { .. } => "json",
        }
    }

    /// The field (column, key, pointer) that holds the status.
    pub fn status_field(&self) -> &str {
        match self {
            Shape::TaskBlocks => "status",
            Shape::Table { status_column, .. } => status_column,
            Shape::FrontMatter { status, .. } | Shape::JsonDocument { status, .. } => status,
            Shape::JsonItems { status, .. } => status,
        }
    }
}

/// One way to read one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    pub shape: Shape,
    /// Status words of its items, one per item.
    pub words: Vec<String>,
    /// Ids of its items as the file states them (`id:` line, `/id`, the
    /// front matter's `id`), for telling whether keys need a prefix.
    pub ids: Vec<String>,
    /// Table only: words that trail the bold status in capitals
    /// (`**Closed ABANDONED**`).
    pub qualifiers: Vec<String>,
    /// Documents only: the field naming the repo that owns the file.
    pub owner: Option<String>,
}

/// What a file is, as far as init can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileVerdict {
    pub detected: Vec<Detected>,
    /// Why a file that looked like it held state could not be classified.
    pub not_classified: Vec<String>,
}

/// Extensions worth opening.
pub fn is_candidate(rel: &str) -> bool {
    let lower = rel.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".markdown") || lower.ends_with(".json")
}

/// Classify one file; `rel` is its repo-relative path with `/`.
pub fn detect(rel: &str, bytes: &[u8]) -> FileVerdict {
    let mut verdict = FileVerdict::default();
    let sniff = &bytes[..bytes.len().min(8 * 1024)];
    if sniff.contains(&0) {
        verdict
            .not_classified
            .push("binary content (a NUL byte): not a text file".into());
        return verdict;
    }
    if rel.to_ascii_lowercase().ends_with(".json") {
        if is_event_log(rel) {
            verdict
                .not_classified
                .push("an event log (events, not the state of items): not read".into());
            return verdict;
        }
        detect_json(bytes, &mut verdict);
    } else {
        detect_markdown(rel, bytes, &mut verdict);
    }
    verdict
}

// ------------------------------------------------------------------ JSON

/// `logs/…` and `*.log.json`: append-only event logs. Their `phase`
/// fields repeat what state files say; they are no source of their own.
fn is_event_log(rel: &str) -> bool {
    let lower = rel.to_ascii_lowercase();
    lower.split('/').any(|part| part == "logs" || part == "log") || lower.contains(".log.")
}

fn detect_json(bytes: &[u8], verdict: &mut FileVerdict) {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: Value = match serde_json::from_slice(text) {
        Ok(value) => value,
        Err(e) => {
            verdict.not_classified.push(format!(
                "not valid JSON: line {}, column {}: {e}",
                e.line(),
                e.column()
            ));
            return;
        }
    };
    if let Value::Object(map) = &value {
        let owner = OWNER_FIELDS
            .iter()
            .find(|f| map.get(**f).is_some_and(Value::is_string))
            .map(|f| format!("/{f}"));
        // Every status-like field: which one the files share is decided
        // over all of them, not per file.
        for field in STATUS_FIELDS {
            let Some(word) = map.get(*field).and_then(Value::as_str) else {
                continue;
            };
            verdict.detected.push(Detected {
                shape: Shape::JsonDocument {
                    status: format!("/{field}"),
                },
                words: vec![word.to_string()],
                ids: Vec::new(),
                qualifiers: Vec::new(),
                owner: owner.clone(),
            });
        }
    }
    for (pointer, array) in arrays(&value) {
        if let Some(found) = items_of(&pointer, array) {
            verdict.detected.push(found);
        }
    }
    if verdict.detected.is_empty() {
        verdict.not_classified.push(
            "JSON with no status field (status, state, current_phase, phase, stage) and no array of items with an id and a status".into(),
        );
    }
}

/// Arrays at the top level, as members of the top object, or one level
/// deeper: `(JSON pointer, elements)`.
fn arrays(value: &Value) -> Vec<(String, &Vec<Value>)> {
    let mut found = Vec::new();
    match value {
        Value::Array(list) => found.push((String::new(), list)),
        Value::Object(map) => {
            for (name, member) in map {
                let pointer = format!("/{}", escape_pointer(name));
                match member {
                    Value::Array(list) => found.push((pointer, list)),
                    Value::Object(inner) => {
                        for (name, member) in inner {
                            if let Value::Array(list) = member {
                                found.push((format!("{pointer}/{}", escape_pointer(name)), list));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    found
}

fn escape_pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// An array whose elements are mostly objects with an id and a status.
fn items_of(pointer: &str, list: &[Value]) -> Option<Detected> {
    let field_of = |element: &Value, fields: &[&str], strings_only: bool| -> Option<String> {
        let map = element.as_object()?;
        fields
            .iter()
            .find(|f| {
                map.get(**f)
                    .is_some_and(|v| v.is_string() || (!strings_only && v.is_number()))
            })
            .map(|f| f.to_string())
    };
    // Items carry a status or state; a `phase` in an array is more often
    // a note on a record (a cache hit, an event) than the item's status.
    let usable: Vec<(String, String)> = list
        .iter()
        .filter_map(|e| {
            Some((
                field_of(e, ID_FIELDS, false)?,
                field_of(e, &STATUS_FIELDS[..2], true)?,
            ))
        })
        .collect();
    if usable.is_empty() || usable.len() * 2 < list.len() {
        return None;
    }
    let id = most_common(usable.iter().map(|(id, _)| id.as_str()))?;
    let status = most_common(usable.iter().map(|(_, s)| s.as_str()))?;
    if !matches!(id.as_str(), "id" | "task_id") && !mostly_statuses(list, &status) {
        // `key` + `status` is also how caches and audit records look:
        // only words that read as statuses make them items.
        return None;
    }
    let mut words = Vec::new();
    let mut ids = Vec::new();
    for element in list {
        let (Some(id_value), Some(word)) = (
            element.get(&id).and_then(scalar_text),
            element.get(&status).and_then(Value::as_str),
        ) else {
            continue;
        };
        ids.push(id_value);
        words.push(word.to_string());
    }
    Some(Detected {
        shape: Shape::JsonItems {
            items: pointer.to_string(),
            id: format!("/{id}"),
            status: format!("/{status}"),
        },
        words,
        ids,
        qualifiers: Vec::new(),
        owner: None,
    })
}

/// Whether at least half of the distinct words at `field` are status or
/// phase words init knows.
fn mostly_statuses(list: &[Value], field: &str) -> bool {
    use super::vocabulary::{WorkflowKind, classify};
    let mut words: Vec<&str> = list
        .iter()
        .filter_map(|e| e.get(field).and_then(Value::as_str))
        .collect();
    words.sort_unstable();
    words.dedup();
    let known = words
        .iter()
        .filter(|w| {
            classify(WorkflowKind::Task, w).is_some()
                || classify(WorkflowKind::Lifecycle, w).is_some()
        })
        .count();
    !words.is_empty() && known * 2 >= words.len()
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn most_common<'a>(values: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(v, _)| v.to_string())
}

// -------------------------------------------------------------- markdown

fn item_fields(key: &str, status: &str) -> Option<ItemFields> {
    Some(ItemFields {
        key: KeyTemplate::parse(key).ok()?,
        status: status.to_string(),
        owner: None,
        fields: Vec::new(),
    })
}

fn detect_markdown(rel: &str, bytes: &[u8], verdict: &mut FileVerdict) {
    let ctx = FileContext { path: rel };
    if let Some(found) = task_blocks(ctx, bytes, verdict) {
        verdict.detected.push(found);
    }
    if let Some(found) = front_matter(ctx, bytes, verdict) {
        verdict.detected.push(found);
    }
    tables(ctx, bytes, verdict);
}

fn task_blocks(ctx: FileContext<'_>, bytes: &[u8], verdict: &mut FileVerdict) -> Option<Detected> {
    let mentions = bytes.windows(7).any(|w| w == b"```task" || w == b"~~~task");
    if !mentions {
        return None;
    }
    let format = TaskBlocks {
        item: item_fields("{id}", "status")?,
        info: "task".into(),
    };
    let parsed = format.parse(ctx, bytes).ok()?;
    if parsed.items.is_empty() {
        if let Some(w) = parsed.warnings.first() {
            verdict.not_classified.push(format!(
                "```task blocks that cannot be read: line {}: {}",
                w.line, w.message
            ));
        }
        return None;
    }
    Some(Detected {
        shape: Shape::TaskBlocks,
        words: parsed
            .items
            .iter()
            .filter_map(|i| i.status.as_ref().map(|s| s.text.clone()))
            .collect(),
        ids: parsed.items.iter().map(|i| i.key.clone()).collect(),
        qualifiers: Vec::new(),
        owner: None,
    })
}

fn front_matter(ctx: FileContext<'_>, bytes: &[u8], verdict: &mut FileVerdict) -> Option<Detected> {
    if !bytes.starts_with(b"---") && !bytes.starts_with(b"\xEF\xBB\xBF---") {
        return None;
    }
    let read = |key: &str, status: &str, owner: Option<&str>| {
        let mut item = item_fields(key, status)?;
        item.owner = owner.map(str::to_string);
        FrontMatter { item }.parse(ctx, bytes).ok()
    };
    let status = STATUS_FIELDS.iter().find_map(|field| {
        let parsed = read("{stem}", field, None)?;
        let item = parsed.items.first()?;
        item.status.as_ref().map(|s| (*field, s.text.clone()))
    });
    let Some((field, word)) = status else {
        let plain = FrontMatter {
            item: item_fields("{stem}", "status")?,
        };
        if let Err(e) = plain.parse(ctx, bytes) {
            verdict
                .not_classified
                .push(format!("front matter that cannot be read: {e}"));
        }
        return None;
    };
    let id = read("{id}", field, None).and_then(|p| p.items.first().map(|i| i.key.clone()));
    let owner = ["owner", "state_owner"].into_iter().find(|o| {
        read("{stem}", field, Some(o))
            .and_then(|p| p.items.first().map(|i| i.owner.is_some()))
            .unwrap_or(false)
    });
    Some(Detected {
        shape: Shape::FrontMatter {
            status: field.to_string(),
        },
        words: vec![word],
        ids: id.into_iter().collect(),
        qualifiers: Vec::new(),
        owner: owner.map(str::to_string),
    })
}

/// A pipe table as found: header line, its cells, and its rows' cells.
struct RawTable {
    line: u32,
    header: String,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// A token that looks like an item key: starts with a letter, holds a
/// digit (`wp#42`, `CUST-WP-0026-T01`, `T3`).
static KEY_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z][A-Za-z0-9_#.-]*[0-9][A-Za-z0-9]*(?:[._-][A-Za-z0-9]+)*")
        .expect("a valid regex")
});

fn tables(ctx: FileContext<'_>, bytes: &[u8], verdict: &mut FileVerdict) {
    let text = String::from_utf8_lossy(bytes);
    for table in raw_tables(&text) {
        let Some(status_column) = table
            .columns
            .iter()
            .position(|c| matches!(c.to_ascii_lowercase().as_str(), "status" | "state"))
        else {
            continue;
        };
        let status_name = table.columns[status_column].clone();
        let cells = |i: usize| -> Vec<&str> {
            table
                .rows
                .iter()
                .filter_map(|r| r.get(i).map(String::as_str))
                .collect()
        };
        let statuses = cells(status_column);
        let bold = statuses.iter().filter(|c| is_bold(c)).count();
        if statuses.is_empty() {
            continue;
        }
        // A plan table bolds (nearly) every status; one that bolds a few
        // cells is prose in table form, and its other rows would not read.
        if bold * 3 < statuses.len() * 2 {
            verdict.not_classified.push(format!(
                "table at line {} has a `{status_name}` column, but its statuses are not bold (concord reads the bold word that starts the cell: `**Done**`)",
                table.line
            ));
            continue;
        }
        let key = table
            .columns
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != status_column)
            .filter_map(|(i, name)| derive_key(&cells(i)).map(|k| (i, name, k)))
            .max_by(|a, b| a.2.2.cmp(&b.2.2).then(b.0.cmp(&a.0)));
        let Some((_, key_column, (key_regex, key, _))) = key else {
            verdict.not_classified.push(format!(
                "table at line {} has a `{status_name}` column, but no column whose cells hold item keys (such as `wp#42` or `T-12`)",
                table.line
            ));
            continue;
        };
        let qualifiers = qualifiers_of(&statuses);
        let Some(found) = read_table(
            ctx,
            bytes,
            &table,
            &status_name,
            key_column,
            &key_regex,
            &key,
            &qualifiers,
        ) else {
            continue;
        };
        verdict.detected.push(found);
    }
}

#[allow(clippy::too_many_arguments)]
fn read_table(
    ctx: FileContext<'_>,
    bytes: &[u8],
    table: &RawTable,
    status: &str,
    key_column: &str,
    key_regex: &str,
    key: &str,
    qualifiers: &[String],
) -> Option<Detected> {
    let format = Table {
        item: item_fields(key, status)?,
        header: table.header.clone(),
        key_column: key_column.to_string(),
        key_regex: Regex::new(key_regex).ok()?,
        qualifiers: qualifiers.to_vec(),
    };
    format.validate().ok()?;
    let parsed = format.parse(ctx, bytes).ok()?;
    if parsed.items.is_empty() {
        return None;
    }
    Some(Detected {
        shape: Shape::Table {
            header: table.header.clone(),
            status_column: status.to_string(),
            key_column: key_column.to_string(),
            key_regex: key_regex.to_string(),
            key: key.to_string(),
        },
        words: parsed
            .items
            .iter()
            .filter_map(|i| i.status.as_ref().map(|s| s.text.clone()))
            .collect(),
        ids: parsed.items.iter().map(|i| i.key.clone()).collect(),
        qualifiers: qualifiers.to_vec(),
        owner: None,
    })
}

fn is_bold(cell: &str) -> bool {
    let cell = cell.trim();
    (cell.starts_with("**") && cell[2..].contains("**"))
        || (cell.starts_with("__") && cell[2..].contains("__"))
}

/// Capitalised words after the first word of a bold status:
/// `**Closed ABANDONED**` -> `ABANDONED`.
fn qualifiers_of(cells: &[&str]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for cell in cells {
        let cell = cell.trim();
        let Some(marker) = ["**", "__"].into_iter().find(|m| cell.starts_with(m)) else {
            continue;
        };
        let Some(inner) = cell[marker.len()..].split(marker).next() else {
            continue;
        };
        let words: Vec<&str> = inner.split_whitespace().collect();
        let is_caps = |w: &str| {
            w.len() >= 3
                && w.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                && w.chars().any(|c| c.is_ascii_uppercase())
        };
        if words.first().is_none_or(|w| is_caps(w)) {
            continue;
        }
        for word in words.iter().skip(1).rev().take_while(|w| is_caps(w)) {
            if !found.iter().any(|f| f == word) {
                found.push(word.to_string());
            }
        }
    }
    found.sort();
    found
}

/// A key regex and template for a column, if most of its cells hold a key
/// token, and how many distinct keys it yields (to choose among columns).
/// Tokens that share a literal prefix before their digits (`wp#41`,
/// `wp#42`) give `wp#(\d+)` -> `wp#{1}`; others the whole token.
pub fn derive_key(cells: &[&str]) -> Option<(String, String, usize)> {
    // A key leads its cell (`wp#42`, `[wp#41](…)`, `**T3** …`): a token
    // further in is a version or a number in prose (`Intelligence v5.2`).
    let tokens: Vec<&str> = cells
        .iter()
        .filter_map(|c| {
            let lead = c.trim_start_matches(|ch: char| {
                matches!(ch, '[' | '*' | '_' | '`' | '(') || ch.is_whitespace()
            });
            KEY_TOKEN
                .find(lead)
                .filter(|m| m.start() == 0)
                .map(|m| m.as_str())
        })
        .collect();
    if tokens.is_empty() || tokens.len() * 5 < cells.len() * 4 {
        return None;
    }
    let mut distinct: Vec<&str> = tokens.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let first = tokens[0];
    // In characters: keys may hold any letter.
    let common = tokens.iter().fold(first.chars().count(), |len, t| {
        first
            .chars()
            .zip(t.chars())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count()
    });
    let prefix = first[..first
        .char_indices()
        .nth(common)
        .map_or(first.len(), |(i, _)| i)]
        .trim_end_matches(|c: char| c.is_ascii_digit());
    let numbered = !prefix.is_empty()
        && prefix.chars().any(|c| c.is_ascii_alphabetic())
        && tokens.iter().all(|t| {
            t.strip_prefix(prefix)
                .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit()) && !rest.is_empty())
        });
    if numbered {
        Some((
            format!(r"{}(\d+)", regex::escape(prefix)),
            format!("{prefix}{{1}}"),
            distinct.len(),
        ))
    } else {
        Some((KEY_TOKEN.as_str().to_string(), "{0}".into(), distinct.len()))
    }
}

/// Pipe tables outside fenced code: a `|` row followed by a delimiter row.
fn raw_tables(text: &str) -> Vec<RawTable> {
    let lines: Vec<&str> = text.lines().collect();
    let mut tables = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if let Some((ch, len)) = fence {
            let run = line.chars().take_while(|c| *c == ch).count();
            if run >= len && line.chars().skip(run).all(char::is_whitespace) {
                fence = None;
            }
            i += 1;
            continue;
        }
        let first = line.chars().next();
        if matches!(first, Some('`' | '~')) {
            let ch = first.unwrap_or('`');
            let run = line.chars().take_while(|c| *c == ch).count();
            if run >= 3 {
                fence = Some((ch, run));
                i += 1;
                continue;
            }
        }
        let delimiter = lines.get(i + 1).map(|l| l.trim());
        if line.starts_with('|') && delimiter.is_some_and(is_delimiter) {
            let columns = split_row(line);
            let mut rows = Vec::new();
            let mut j = i + 2;
            while j < lines.len() && lines[j].trim().starts_with('|') {
                rows.push(split_row(lines[j].trim()));
                j += 1;
            }
            tables.push(RawTable {
                line: i as u32 + 1,
                header: line.to_string(),
                columns,
                rows,
            });
            i = j;
            continue;
        }
        i += 1;
    }
    tables
}

fn is_delimiter(line: &str) -> bool {
    line.starts_with('|')
        && line.contains('-')
        && line
            .chars()
            .all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
}

/// Cells of a row: split on `|` except `\|` and inside backticks.
fn split_row(line: &str) -> Vec<String> {
    let inner = line.strip_prefix('|').unwrap_or(line);
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut in_code = false;
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            _ if escaped => {
                cell.push(c);
                escaped = false;
            }
            '\\' => {
                cell.push(c);
                escaped = true;
            }
            '`' => {
                in_code = !in_code;
                cell.push(c);
            }
            '|' if !in_code => cells.push(std::mem::take(&mut cell).trim().to_string()),
            _ => cell.push(c),
        }
    }
    if !cell.trim().is_empty() {
        cells.push(cell.trim().to_string());
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracking_table_yields_its_key_pattern_and_qualifiers() {
        let md = "# Plan\n\n| Item | Budget |\n|---|---|\n| Hosting | 1200 |\n\n| Track | GH issue / OP wp | Status |\n|---|---|---|\n| Portal | [wp#41](https://x/41) | **Closed** shipped |\n| Portal | wp#42 | **In progress** |\n| Billing | wp#43 / #118 | **Closed ABANDONED** gone |\n";
        let verdict = detect("docs/plan.md", md.as_bytes());
        assert_eq!(verdict.detected.len(), 1, "{verdict:?}");
        let found = &verdict.detected[0];
        let Shape::Table {
            key_regex,
            key,
            key_column,
            ..
        } = &found.shape
        else {
            panic!("not a table: {found:?}");
        };
        assert_eq!(key_regex, r"wp\#(\d+)");
        assert_eq!(key, "wp#{1}");
        assert_eq!(key_column, "GH issue / OP wp");
        assert_eq!(found.qualifiers, ["ABANDONED"]);
        assert_eq!(found.words, ["Closed", "In progress", "Closed"]);
        assert_eq!(found.ids, ["wp#41", "wp#42", "wp#43"]);
    }

    #[test]
    fn a_table_without_bold_statuses_is_reported_not_read() {
        let md = "| Task | Status |\n|---|---|\n| T1 | done |\n| T2 | pending |\n";
        let verdict = detect("notes.md", md.as_bytes());
        assert!(verdict.detected.is_empty());
        assert!(
            verdict.not_classified[0].contains("not bold"),
            "{verdict:?}"
        );
    }

    #[test]
    fn json_state_files_yield_a_document_and_its_items() {
        let json = br#"{"current_phase": "implementation", "state_owner": "app",
            "tasks": [{"id": "T1", "status": "done"}, {"id": "T2", "status": "queued"}, "stray"]}"#;
        let verdict = detect(".claude/features/a/state.json", json);
        assert_eq!(verdict.detected.len(), 2, "{verdict:?}");
        assert_eq!(
            verdict.detected[0].shape,
            Shape::JsonDocument {
                status: "/current_phase".into(),
            }
        );
        assert_eq!(verdict.detected[0].owner.as_deref(), Some("/state_owner"));
        assert_eq!(
            verdict.detected[1].shape,
            Shape::JsonItems {
                items: "/tasks".into(),
                id: "/id".into(),
                status: "/status".into()
            }
        );
        assert_eq!(verdict.detected[1].words, ["done", "queued"]);
    }

    #[test]
    fn bad_input_is_reported_never_a_panic() {
        assert!(detect("a.json", b"{not json").not_classified[0].contains("not valid JSON"));
        assert!(detect("a.md", b"\x00\x01binary").not_classified[0].contains("binary"));
        assert!(detect("a.json", br#"{"events": []}"#).not_classified[0].contains("no status"));
        assert!(
            detect("logs/a.json", br#"{"phase": "x"}"#).not_classified[0].contains("event log")
        );
        let cache = br#"{"hits": [{"key": "a", "status": "HIT"}, {"key": "b", "status": "MISS"}]}"#;
        assert!(detect("c.json", cache).detected.is_empty());
        let unclosed = detect("a.md", b"---\nstatus: done\n");
        assert!(unclosed.detected.is_empty());
        assert_eq!(detect("a.md", b"").detected, []);
        assert_eq!(
            detect("a.md", "\u{feff}| a |\n|---|\n".as_bytes()).detected,
            []
        );
    }

    #[test]
    fn task_blocks_and_front_matter_are_read_by_their_formats() {
        let md =
            "---\ntitle: x\nstatus: done\nowner: app\n---\n\n```task\nid: A-1\nstatus: todo\n```\n";
        let verdict = detect("docs/a.md", md.as_bytes());
        let shapes: Vec<&Shape> = verdict.detected.iter().map(|d| &d.shape).collect();
        assert_eq!(
            shapes,
            [
                &Shape::TaskBlocks,
                &Shape::FrontMatter {
                    status: "status".into(),
                }
            ]
        );
        assert_eq!(verdict.detected[1].owner.as_deref(), Some("owner"));
        assert_eq!(verdict.detected[0].ids, ["A-1"]);
    }

    #[test]
    fn cells_with_any_characters_are_read_without_panicking() {
        let md = "| Task | Status |\n|---|---|\n| T1 | ✅ all pass |\n| T2 | **✅ Done ÄÖ** |\n| Ü3 | **Fertig ÜBER** |\n";
        let _ = detect("a.md", md.as_bytes());
    }

    proptest::proptest! {
        /// Whatever a markdown or JSON file holds, detection returns.
        #[test]
        fn detection_never_panics(
            lines in proptest::collection::vec("(\\|[ *_✅a-zÄ0-9#`:-]{0,8}){0,4}\\|?|---|```task|id: [a-z0-9]{0,3}|status: [a-z✅]{0,5}|```|\\{\"[a-z]{0,3}\": ?[\\[\"{]?", 0..12),
            json in proptest::prelude::any::<bool>(),
        ) {
            let text = lines.join("\n");
            let _ = detect(if json { "x.json" } else { "x.md" }, text.as_bytes());
        }
    }

    #[test]
    fn keys_without_a_shared_prefix_use_the_whole_token() {
        let (regex, key, n) = derive_key(&["AUTH-1 login", "BILL-22", "T3"]).expect("a key");
        assert_eq!(key, "{0}");
        assert_eq!(n, 3);
        assert!(Regex::new(&regex).is_ok());
        assert_eq!(derive_key(&["Build", "Ship"]), None);
        assert_eq!(
            derive_key(&["Dispatch Intelligence v5.2", "Onboarding v2"]),
            None
        );
        let (_, key, n) = derive_key(&["T9.A", "T9.B"]).expect("a key");
        assert_eq!((key.as_str(), n), ("{0}", 2));
    }
}
