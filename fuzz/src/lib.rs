//! The check every fuzz target runs: parse arbitrary bytes with one format
//! (which must never panic), then edit the status of each item found and
//! check that the edit keeps its promise.
//!
//! For each item with a status and each replacement value that
//! `edit_value` accepts:
//! - the bytes before the status span are unchanged;
//! - the bytes after it are unchanged (shifted by the length difference);
//! - the edited file parses again without a file error;
//! - the first item with the edited item's key now has that status text.
//!
//! A span that lies outside the file is a bug too: `parse` made it.

use concord_formats::{EditError, FileContext, Format, ParsedFile, edit_value};
use std::fmt::Write;

/// Items checked per input; the rest only have to parse.
const MAX_ITEMS: usize = 16;
/// Longest value taken from the input as a replacement.
const MAX_VALUE_LEN: usize = 40;
/// Values taken from the input's parsed fields, at most.
const MAX_INPUT_VALUES: usize = 4;

/// Replacement values every item is tried with. Beyond plain statuses,
/// a few that need quoting or escaping in some format.
const FIXED_VALUES: &[&str] = &[
    "done",
    "In progress",
    "...",
    "yes",
    "-1",
    "it's a \"b\": c #d",
];

pub fn check_edits(name: &str, format: &dyn Format, path: &str, data: &[u8]) {
    let ctx = FileContext { path };
    let Ok(parsed) = format.parse(ctx, data) else {
        return;
    };
    let values = replacement_values(data, &parsed);
    for (index, item) in parsed.items.iter().enumerate().take(MAX_ITEMS) {
        let Some(status) = &item.status else {
            continue;
        };
        let first_with_key = parsed.items.iter().position(|i| i.key == item.key) == Some(index);
        for new in &values {
            let edited = match edit_value(format, data, status, new) {
                Ok(edited) => edited,
                Err(EditError::Unrepresentable { .. }) => continue,
                Err(e) => fail(name, data, &item.key, status, new, None, &e.to_string()),
            };
            let span = status.span.clone();
            let tail = data.len() - span.end;
            let what = if edited.len() < span.start + tail {
                Some("the edited file is shorter than the bytes outside the span")
            } else if edited[..span.start] != data[..span.start] {
                Some("bytes before the span changed")
            } else if edited[edited.len() - tail..] != data[span.end..] {
                Some("bytes after the span changed")
            } else {
                None
            };
            if let Some(what) = what {
                fail(name, data, &item.key, status, new, Some(&edited), what);
            }
            let reparsed = match format.parse(ctx, &edited) {
                Ok(reparsed) => reparsed,
                Err(e) => fail(
                    name,
                    data,
                    &item.key,
                    status,
                    new,
                    Some(&edited),
                    &format!("the edited file no longer parses: {e}"),
                ),
            };
            if !first_with_key {
                // An earlier item has the same key; only that one can be found by key.
                continue;
            }
            let again = reparsed.items.iter().find(|i| i.key == item.key);
            let text = again
                .and_then(|i| i.status.as_ref())
                .map(|s| s.text.as_str());
            if text != Some(new.as_str()) {
                let found = match again {
                    None => "no item with this key".to_string(),
                    Some(i) => format!("status {:?}", i.status.as_ref().map(|s| &s.text)),
                };
                fail(
                    name,
                    data,
                    &item.key,
                    status,
                    new,
                    Some(&edited),
                    &format!("after the edit the item has {found}, not the new value"),
                );
            }
        }
    }
}

/// The fixed values, then values taken from the input: its last line and
/// the texts of the values it holds (statuses, owners, fields).
fn replacement_values(data: &[u8], parsed: &ParsedFile) -> Vec<String> {
    let mut values: Vec<String> = FIXED_VALUES.iter().map(|v| v.to_string()).collect();
    let last_line = match data.iter().rposition(|&b| b == b'\n') {
        Some(i) => &data[i + 1..],
        None => data,
    };
    let mut from_input = Vec::new();
    if let Ok(line) = std::str::from_utf8(last_line) {
        from_input.push(line.to_string());
    }
    for item in &parsed.items {
        let fields = item.fields.iter().map(|(_, v)| v);
        for value in item.status.iter().chain(&item.owner).chain(fields) {
            from_input.push(value.text.clone());
        }
    }
    let mut taken = 0;
    for value in from_input {
        if taken == MAX_INPUT_VALUES {
            break;
        }
        if value.is_empty() || value.len() > MAX_VALUE_LEN || values.contains(&value) {
            continue;
        }
        values.push(value);
        taken += 1;
    }
    values
}

fn fail(
    name: &str,
    data: &[u8],
    key: &str,
    status: &concord_formats::SpannedValue,
    new: &str,
    edited: Option<&[u8]>,
    what: &str,
) -> ! {
    let mut message = format!(
        "\n{name}: editing the status of item {key:?} (text {:?}, span {:?}) to {new:?}: {what}\n  input:  {}\n",
        status.text,
        status.span,
        byte_string(data)
    );
    if let Some(edited) = edited {
        let _ = writeln!(message, "  edited: {}", byte_string(edited));
    }
    panic!("{message}");
}

/// `bytes` as a Rust byte string literal.
pub fn byte_string(bytes: &[u8]) -> String {
    let mut out = String::from("b\"");
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7E => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02X}");
            }
        }
    }
    out.push('"');
    out
}
