//! `front-matter`: one item per file, read from the YAML front matter at the
//! top of a markdown file: a first line `---` (after an optional UTF-8 BOM)
//! up to the next line that is `---` or `...`. Everything after it (the body)
//! is never read.
//!
//! Fields are top-level mapping keys (`status`), or a dotted path into nested
//! mappings (`meta.status`) when no top-level key has the dotted name itself.
//! A value must be a one-line scalar. The editable span of a plain scalar is
//! its text (no trailing comment or spaces); that of a quoted scalar is the
//! whole token with its quotes, so that an edit keeps the quoting style.
//!
//! The YAML is read with `saphyr-parser`, a YAML 1.2 event parser whose events
//! carry the position where each node starts.

use crate::text::{line_of, lines};
use crate::{
    EditError, FileContext, FileError, Format, ItemFields, ParsedFile, RawItem, RowWarning,
    SpannedValue, check_single_line,
};
use regex::Regex;
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::LazyLock;

#[derive(Debug, Clone)]
pub struct FrontMatter {
    pub item: ItemFields,
}

/// One YAML node of the front matter, as far as this format needs it.
/// Positions are byte offsets in the file; lines are counted only for a
/// message, so that a long front matter is not scanned once per node.
enum Node {
    Scalar(Scalar),
    Sequence { at: usize },
    Mapping(Mapping),
    Alias { at: usize },
}

struct Scalar {
    value: String,
    style: ScalarStyle,
    tagged: bool,
    /// Byte offset in the file where the node starts (its anchor or tag, if any).
    start: usize,
    /// The parser's id of the node's anchor (`&x`); 0 when it has none.
    anchor: usize,
    /// Why editing the scalar would change more than itself (see `pin_aliased`).
    pinned: Option<String>,
}

struct Mapping {
    at: usize,
    /// The parser's id of the mapping's anchor; 0 when it has none.
    anchor: usize,
    entries: Vec<Entry>,
}

struct Entry {
    /// The key's text when it is a scalar; `None` for a collection used as a key.
    key: Option<String>,
    /// Where the key starts.
    at: usize,
    value: Node,
}

/// A node being read: collections stay open until their end event.
enum Frame {
    /// Children of a sequence are never looked at, so they are dropped.
    Sequence { at: usize },
    Mapping {
        mapping: Mapping,
        key: Option<(Option<String>, usize)>,
    },
}

/// Why the item was skipped: the line to report and the reason.
type Skip = (u32, String);

impl Format for FrontMatter {
    fn parse(&self, ctx: FileContext<'_>, bytes: &[u8]) -> Result<ParsedFile, FileError> {
        let mut out = ParsedFile::default();
        let Some(region) = locate(bytes)? else {
            out.warnings.push(RowWarning {
                line: 1,
                message: "no YAML front matter (the file must start with a `---` line)".into(),
            });
            return Ok(out);
        };
        let text = std::str::from_utf8(&bytes[region.clone()]).map_err(|e| {
            FileError::at(
                line_of(bytes, region.start + e.valid_up_to()),
                None,
                "the YAML front matter is not valid UTF-8",
            )
        })?;
        let root = read_yaml(bytes, region.start, text)?;
        match self.item(ctx, bytes, &root) {
            Ok(item) => out.items.push(item),
            Err((line, message)) => out.warnings.push(RowWarning {
                line,
                message: format!("front matter skipped: {message}"),
            }),
        }
        Ok(out)
    }

    fn encode_value(&self, old: &[u8], new: &str) -> Result<Vec<u8>, EditError> {
        check_single_line(new)?;
        // A tab separator kept in the span (see `with_tab_separator`) stays,
        // and a plain spelling must parse after it.
        let separator_len = old.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
        if separator_len > 0 {
            let (separator, old) = old.split_at(separator_len);
            let separator = String::from_utf8_lossy(separator);
            let unchanged = old == new.as_bytes();
            let encoded = if unchanged
                || (plain_keeps(old, new)
                    && reads_back_plain(&format!("k:{separator}{new}\n"), new))
            {
                new.to_string()
            } else {
                double_quoted(new)
            };
            return Ok(format!("{separator}{encoded}").into_bytes());
        }
        let encoded = match old.first() {
            Some(b'\'') if new.chars().all(is_printable) => single_quoted(new),
            Some(b'\'' | b'"') => double_quoted(new),
            // The old bytes read as this very value where they stand.
            _ if old == new.as_bytes() => return Ok(old.to_vec()),
            _ if plain_keeps(old, new) => new.to_string(),
            _ => double_quoted(new),
        };
        Ok(encoded.into_bytes())
    }
}

impl FrontMatter {
    fn item(&self, ctx: FileContext<'_>, bytes: &[u8], root: &Mapping) -> Result<RawItem, Skip> {
        if let Some(problem) = duplicate(bytes, root) {
            return Err(problem);
        }
        let mut problem = None;
        let key = self.item.key.render(ctx.path, |name| {
            match find(bytes, root, name).and_then(|node| value_of(bytes, node, name)) {
                Ok(value) => value.map(|v| Cow::Owned(v.text)),
                Err(e) => {
                    problem.get_or_insert(e);
                    None
                }
            }
        });
        let key = match (key, problem) {
            (_, Some(problem)) => return Err(problem),
            (Ok(key), None) => key,
            (Err(missing), None) => return Err((1, format!("it has no `{missing}` for its key"))),
        };
        let lookup =
            |name: &str| find(bytes, root, name).and_then(|node| value_of(bytes, node, name));
        let status = lookup(&self.item.status)?;
        let owner = match &self.item.owner {
            Some(owner) => lookup(owner)?,
            None => None,
        };
        let mut fields = Vec::new();
        for (label, name) in &self.item.fields {
            if let Some(value) = lookup(name)? {
                fields.push((label.clone(), value));
            }
        }
        Ok(RawItem {
            key,
            line: 1,
            status,
            owner,
            fields,
        })
    }
}

/// The bytes between the opening `---` line and the closing `---`/`...`
/// line; `None` when the file does not start with front matter.
fn locate(bytes: &[u8]) -> Result<Option<Range<usize>>, FileError> {
    let is_marker = |start: usize, end: usize, marker: &[u8]| {
        let line = &bytes[start..end];
        line.starts_with(marker)
            && line[marker.len()..]
                .iter()
                .all(|b| matches!(b, b' ' | b'\t' | b'\r'))
    };
    let mut all = lines(bytes);
    match all.next() {
        Some((_, start, end)) if is_marker(start, end, b"---") => {}
        _ => return Ok(None),
    }
    let mut content_start = None;
    for (_, start, end) in all {
        let content = *content_start.get_or_insert(start);
        if is_marker(start, end, b"---") || is_marker(start, end, b"...") {
            return Ok(Some(content..start));
        }
    }
    Err(FileError::at(
        1,
        None,
        "the YAML front matter is never closed (no `---` or `...` line after the first line)",
    ))
}

/// Read the front matter's YAML (`text`, found at byte `base` of `bytes`)
/// into its top-level mapping.
fn read_yaml(bytes: &[u8], base: usize, text: &str) -> Result<Mapping, FileError> {
    // saphyr's markers count characters, not bytes: map them to byte offsets.
    let char_starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let offset = |index: usize| base + char_starts.get(index).copied().unwrap_or(text.len());
    let yaml_error = |e: ScanError| {
        let at = offset(e.marker().index()).min(bytes.len());
        let line_start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&bytes[line_start..at])
            .chars()
            .count()
            + 1;
        FileError::at(
            line_of(bytes, at),
            Some(column as u32),
            format!("invalid YAML in the front matter: {}", e.info()),
        )
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    let mut aliased = HashSet::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(yaml_error)?;
        let start = offset(span.start.index());
        let node = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(FileError::at(
                        line_of(bytes, start),
                        None,
                        "the YAML front matter holds more than one YAML document",
                    ));
                }
                continue;
            }
            Event::SequenceStart(..) => {
                stack.push(Frame::Sequence { at: start });
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Mapping {
                    mapping: Mapping {
                        at: start,
                        anchor,
                        entries: Vec::new(),
                    },
                    key: None,
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Sequence { at }) => Node::Sequence { at },
                Some(Frame::Mapping { mapping, .. }) => Node::Mapping(mapping),
                None => continue,
            },
            Event::Scalar(value, style, anchor, tag) => Node::Scalar(Scalar {
                value: value.into_owned(),
                style,
                tagged: tag.is_some(),
                start,
                anchor,
                pinned: None,
            }),
            Event::Alias(id) => {
                aliased.insert(id);
                Node::Alias { at: start }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => continue,
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Sequence { .. }) => {}
            Some(Frame::Mapping { mapping, key }) => match key.take() {
                None => {
                    let name = match &node {
                        Node::Scalar(s) => Some(s.value.clone()),
                        _ => None,
                    };
                    *key = Some((name, node_start(&node)));
                }
                Some((key, at)) => mapping.entries.push(Entry {
                    key,
                    at,
                    value: node,
                }),
            },
        }
    }
    let empty = |at| Mapping {
        at,
        anchor: 0,
        entries: Vec::new(),
    };
    match root {
        // Empty front matter (nothing, or only comments) has no fields.
        None => Ok(empty(base)),
        Some(Node::Mapping(mut mapping)) => {
            if !aliased.is_empty() {
                pin_aliased(bytes, &mut mapping, &aliased, None);
            }
            Ok(mapping)
        }
        Some(Node::Scalar(s)) if is_null(&s) => Ok(empty(s.start)),
        Some(other) => Err(FileError::at(
            line_of(bytes, node_start(&other)),
            None,
            format!(
                "the YAML front matter is {}, not a mapping of fields",
                describe(&other)
            ),
        )),
    }
}

/// Mark the scalars that an alias elsewhere repeats: one with an anchor
/// (`status: &s todo`) that some `*s` names, or one inside a mapping that
/// an alias (or a merge key `<<: *m`) names. Editing such a scalar's bytes
/// would change every alias with it, so it is read but never edited.
fn pin_aliased(
    bytes: &[u8],
    mapping: &mut Mapping,
    aliased: &HashSet<usize>,
    inherited: Option<&str>,
) {
    let own;
    let inherited = if mapping.anchor != 0 && aliased.contains(&mapping.anchor) {
        own = format!(
            "it lies in a mapping with a YAML anchor (line {}) that an alias repeats elsewhere; editing it would change the alias too",
            line_of(bytes, mapping.at)
        );
        Some(own.as_str())
    } else {
        inherited
    };
    for entry in &mut mapping.entries {
        match &mut entry.value {
            Node::Scalar(scalar) => {
                scalar.pinned = if scalar.anchor != 0 && aliased.contains(&scalar.anchor) {
                    Some(format!(
                        "the value carries the YAML anchor `{}` that an alias repeats elsewhere; editing it would change the alias too",
                        anchor_name(bytes, scalar.start)
                    ))
                } else {
                    inherited.map(str::to_string)
                };
            }
            Node::Mapping(inner) => pin_aliased(bytes, inner, aliased, inherited),
            Node::Sequence { .. } | Node::Alias { .. } => {}
        }
    }
}

/// The `&name` among the node properties (`&name`, `!tag`, either order)
/// that start at `start`, as written.
fn anchor_name(bytes: &[u8], start: usize) -> String {
    let rest = &bytes[start.min(bytes.len())..];
    rest.split(|b| b.is_ascii_whitespace())
        .filter(|word| !word.is_empty())
        .take_while(|word| matches!(word.first(), Some(b'&' | b'!')))
        .find(|word| word.first() == Some(&b'&'))
        .map_or_else(
            || "&".to_string(),
            |word| String::from_utf8_lossy(word).into_owned(),
        )
}

fn node_start(node: &Node) -> usize {
    match node {
        Node::Scalar(s) => s.start,
        Node::Sequence { at } | Node::Alias { at } => *at,
        Node::Mapping(m) => m.at,
    }
}

fn describe(node: &Node) -> &'static str {
    match node {
        Node::Scalar(s) if matches!(s.style, ScalarStyle::Literal | ScalarStyle::Folded) => {
            "a block scalar (`|` or `>`)"
        }
        Node::Scalar(_) => "a scalar",
        Node::Sequence { .. } => "a sequence",
        Node::Mapping(_) => "a mapping",
        Node::Alias { .. } => "an alias",
    }
}

/// A plain `~`, `null` or empty scalar: the field is absent.
fn is_null(s: &Scalar) -> bool {
    s.style == ScalarStyle::Plain
        && (s.value.is_empty()
            || (!s.tagged && matches!(s.value.as_str(), "~" | "null" | "Null" | "NULL")))
}

/// The first key that `mapping` gives twice, reported at its second occurrence.
fn duplicate(bytes: &[u8], mapping: &Mapping) -> Option<Skip> {
    let mut seen = HashMap::new();
    for entry in &mapping.entries {
        let Some(key) = entry.key.as_deref() else {
            continue;
        };
        if let Some(first) = seen.insert(key, entry) {
            return Some(given_twice(bytes, key, first, entry));
        }
    }
    None
}

fn given_twice(bytes: &[u8], name: &str, first: &Entry, second: &Entry) -> Skip {
    let (a, b) = (line_of(bytes, first.at), line_of(bytes, second.at));
    (b, format!("`{name}` is given twice (lines {a} and {b})"))
}

/// The entry for `key` in `mapping`; a key given twice is an error.
fn get<'a>(bytes: &[u8], mapping: &'a Mapping, key: &str) -> Result<Option<&'a Entry>, Skip> {
    let mut found = mapping
        .entries
        .iter()
        .filter(|e| e.key.as_deref() == Some(key));
    match (found.next(), found.next()) {
        (Some(first), Some(second)) => Err(given_twice(bytes, key, first, second)),
        (first, _) => Ok(first),
    }
}

/// The entry a field name points at: a top-level key of that name, or else
/// a dotted path `a.b` through nested mappings.
fn find<'a>(bytes: &[u8], root: &'a Mapping, name: &str) -> Result<Option<&'a Entry>, Skip> {
    if let Some(entry) = get(bytes, root, name)? {
        return Ok(Some(entry));
    }
    if !name.contains('.') {
        return Ok(None);
    }
    let mut mapping = root;
    let mut segments = name.split('.').peekable();
    let mut walked = 0;
    while let Some(segment) = segments.next() {
        walked += segment.len() + usize::from(walked > 0);
        let Some(entry) = get(bytes, mapping, segment)? else {
            return Ok(None);
        };
        if segments.peek().is_none() {
            return Ok(Some(entry));
        }
        mapping = match &entry.value {
            Node::Mapping(m) => m,
            Node::Scalar(s) if is_null(s) => return Ok(None),
            other => {
                return Err((
                    line_of(bytes, entry.at),
                    format!(
                        "expected a mapping at `{}`, found {}",
                        &name[..walked],
                        describe(other)
                    ),
                ));
            }
        };
    }
    Ok(None)
}

/// The value of field `name` at `entry`: absent for null, skipped (at the
/// key's line) unless a one-line scalar.
fn value_of(bytes: &[u8], entry: Option<&Entry>, name: &str) -> Result<Option<SpannedValue>, Skip> {
    let Some(entry) = entry else {
        return Ok(None);
    };
    let expected = |found: &str| {
        Err((
            line_of(bytes, entry.at),
            format!("expected a single-line scalar at `{name}`, found {found}"),
        ))
    };
    let scalar = match &entry.value {
        Node::Scalar(s) if is_null(s) => return Ok(None),
        Node::Scalar(s) if !matches!(s.style, ScalarStyle::Literal | ScalarStyle::Folded) => s,
        other => return expected(describe(other)),
    };
    match token(bytes, scalar) {
        Some(span) => Ok(Some(SpannedValue {
            text: scalar.value.clone(),
            line: line_of(bytes, span.start),
            span: with_tab_separator(bytes, scalar, span),
            pinned: scalar.pinned.clone(),
        })),
        None => expected("a multi-line scalar"),
    }
}

/// A plain value separated from its `:` by whitespace holding a tab keeps
/// that whitespace in its span: saphyr-parser rejects a tab before some
/// plain values (`status:\tdone`) but not others (`status:\t;x`), so
/// `encode_value` must see the separator to choose a safe spelling.
fn with_tab_separator(bytes: &[u8], scalar: &Scalar, span: Range<usize>) -> Range<usize> {
    if scalar.style != ScalarStyle::Plain {
        return span;
    }
    let mut start = span.start;
    while start > 0 && matches!(bytes[start - 1], b' ' | b'\t') {
        start -= 1;
    }
    let separator = &bytes[start..span.start];
    if start > 0 && bytes[start - 1] == b':' && separator.contains(&b'\t') {
        start..span.end
    } else {
        span
    }
}

/// The bytes of a scalar's token: without its anchor and tag; for a plain
/// scalar its text only, for a quoted one the text with its quotes. `None`
/// when the token spans more than one line.
///
/// The parser's end markers are not used: saphyr-parser 0.3's end marker of
/// a double-quoted scalar with escapes is past the closing quote (`"x\"y" `
/// ends after the space), and the start marker of a scalar with an anchor
/// or tag is that of the anchor or tag. Start markers are exact, so the
/// token is read from there by hand.
fn token(bytes: &[u8], scalar: &Scalar) -> Option<Range<usize>> {
    let at = |i: usize| bytes.get(i).copied();
    let mut pos = scalar.start;
    // Skip node properties (`&anchor`, `!tag`) and what separates them from the value.
    while matches!(at(pos), Some(b'&' | b'!')) {
        while !matches!(
            at(pos),
            None | Some(b' ' | b'\t' | b'\r' | b'\n' | b',' | b'[' | b']' | b'{' | b'}')
        ) {
            pos += 1;
        }
        loop {
            match at(pos) {
                Some(b' ' | b'\t' | b'\r' | b'\n') => pos += 1,
                Some(b'#') => {
                    while !matches!(at(pos), None | Some(b'\r' | b'\n')) {
                        pos += 1;
                    }
                }
                _ => break,
            }
        }
    }
    let end = match scalar.style {
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            let quote = at(pos)?;
            let mut i = pos + 1;
            loop {
                match at(i)? {
                    b'\r' | b'\n' => return None,
                    // An escaped line break continues the scalar on the next line.
                    b'\\' if quote == b'"' && matches!(at(i + 1), Some(b'\r' | b'\n')) => {
                        return None;
                    }
                    b'\\' if quote == b'"' => i += 2,
                    b'\'' if quote == b'\'' && at(i + 1) == Some(b'\'') => i += 2,
                    b if b == quote => break i + 1,
                    _ => i += 1,
                }
            }
        }
        _ => {
            // A one-line plain scalar's text is its bytes; a folded
            // multi-line one has a space or line break where the source breaks the line.
            let value = scalar.value.as_bytes();
            if value.contains(&b'\n') || !bytes[pos.min(bytes.len())..].starts_with(value) {
                return None;
            }
            pos + value.len()
        }
    };
    Some(pos..end)
}

/// Characters YAML allows as they are in a scalar (and not a BOM).
fn is_printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        && c != '\u{FEFF}'
}

fn single_quoted(new: &str) -> String {
    format!("'{}'", new.replace('\'', "''"))
}

fn double_quoted(new: &str) -> String {
    let mut out = String::with_capacity(new.len() + 2);
    out.push('"');
    for c in new.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if !is_printable(c) || c.is_control() => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What a plain scalar reads as, under YAML 1.2's core schema or (so that
/// older readers agree) YAML 1.1's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlainType {
    Null,
    Bool,
    Number,
    Timestamp,
    Text,
}

fn plain_type(s: &str) -> PlainType {
    static BOOL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"^(?:true|True|TRUE|false|False|FALSE|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$",
        )
        .unwrap()
    });
    static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(concat!(
            r"^[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+",
            r"|[0-9][0-9_]*(?::[0-5]?[0-9])*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?",
            r"|\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?",
            r"|\.(?:inf|Inf|INF))$|^\.(?:nan|NaN|NAN)$",
        ))
        .unwrap()
    });
    static TIMESTAMP: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:$|[Tt ])").unwrap());
    if s.is_empty() || matches!(s, "~" | "null" | "Null" | "NULL") {
        PlainType::Null
    } else if BOOL.is_match(s) {
        PlainType::Bool
    } else if NUMBER.is_match(s) {
        PlainType::Number
    } else if TIMESTAMP.is_match(s) {
        PlainType::Timestamp
    } else {
        PlainType::Text
    }
}

/// Whether `new` can replace the plain scalar `old` unquoted: it reads back
/// as the same string (in block and in flow context, since the caller's
/// context is unknown) and as the same kind of value as `old` (text stays
/// text: `yes`, `null` or `1.5` replacing `todo` get quotes).
fn plain_keeps(old: &[u8], new: &str) -> bool {
    const INDICATORS: &[char] = &[
        '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@',
        '`',
    ];
    let kind = plain_type(new);
    let old_kind = std::str::from_utf8(old).map_or(PlainType::Text, plain_type);
    if kind != PlainType::Text && kind != old_kind {
        return false;
    }
    // A negative number replacing a number may start with `-`.
    let indicator_first =
        new.starts_with(INDICATORS) && !(kind == PlainType::Number && new.starts_with('-'));
    if indicator_first
        || new.ends_with(':')
        || new.starts_with("...") // the document end marker, should the value start a line
        || new.contains(": ")
        || new.contains(" #")
        || !new.chars().all(is_printable)
    {
        return false;
    }
    reads_back_plain(&format!("k: {new}\n"), new)
        && reads_back_plain(&format!("{{k: {new}}}\n"), new)
}

/// Whether `doc` parses to a mapping whose one value is the plain scalar `new`.
fn reads_back_plain(doc: &str, new: &str) -> bool {
    let mut scalars = Vec::new();
    for event in Parser::new_from_str(doc) {
        match event {
            Ok((Event::Scalar(value, style, _, _), _)) => scalars.push((value, style)),
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    matches!(scalars.as_slice(), [_, (value, ScalarStyle::Plain)] if value == new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyTemplate, edit_value};
    use proptest::prelude::*;

    fn format_with_key(key: &str) -> FrontMatter {
        FrontMatter {
            item: ItemFields {
                key: KeyTemplate::parse(key).unwrap(),
                status: "status".into(),
                owner: Some("owner".into()),
                fields: vec![
                    ("priority".into(), "priority".into()),
                    ("phase".into(), "meta.phase".into()),
                ],
            },
        }
    }

    fn format() -> FrontMatter {
        format_with_key("{id}")
    }

    fn parse_with(format: &FrontMatter, text: &[u8]) -> Result<ParsedFile, FileError> {
        format.parse(
            FileContext {
                path: "docs/features/feat-7.md",
            },
            text,
        )
    }

    fn parse(text: &[u8]) -> ParsedFile {
        parse_with(&format(), text).unwrap()
    }

    const DOC: &str = "---\n\
id: FEAT-7\n\
title: Überblick — “naïve” café ✓\n\
status: in_progress   # was: todo\n\
owner: \"ft2\"\n\
tags:\n  - a\n  - b\n\
meta:\n  phase: 'β two'  # quoted\n  size: 3\n\
---\n\
# Body\n\n---\n\nstatus: fake\n\n---\n";

    /// Edits the fuzzer found to break the file; each must now read back.
    #[test]
    fn fuzz_regressions_read_back_after_edit() {
        for (input, new) in [
            // `...` at the start of a line would end the front matter.
            (&b"---\n{id: A, status:\nx\n}\n---\n"[..], "..."),
            // saphyr-parser rejects `:\t` before a plain `done` but not before `;x`.
            (&b"---\nid: A\nstatus:\t;x\n---\n"[..], "done"),
            (&b"---\nid: A\nstatus: \t(blocked)\n---\n"[..], "-1"),
        ] {
            let parsed = parse(input);
            let status = parsed.items[0].status.clone().unwrap();
            let edited = edit_value(&format(), input, &status, new).unwrap();
            let again = parse(&edited);
            assert_eq!(
                again.items[0].status.as_ref().map(|s| s.text.as_str()),
                Some(new),
                "{}",
                String::from_utf8_lossy(&edited)
            );
            assert_eq!(&edited[..status.span.start], &input[..status.span.start]);
        }
    }

    #[test]
    fn reads_the_front_matter_and_ignores_the_body() {
        let parsed = parse(DOC.as_bytes());
        assert_eq!(parsed.warnings, vec![]);
        assert_eq!(parsed.items.len(), 1);
        let item = &parsed.items[0];
        assert_eq!(item.key, "FEAT-7");
        assert_eq!(item.line, 1);
        let status = item.status.as_ref().unwrap();
        assert_eq!(status.text, "in_progress");
        assert_eq!(&DOC[status.span.clone()], "in_progress");
        assert_eq!(status.line, 4);
        let owner = item.owner.as_ref().unwrap();
        assert_eq!(owner.text, "ft2");
        assert_eq!(&DOC[owner.span.clone()], "\"ft2\"");
        assert_eq!(owner.line, 5);
        let phase = &item.fields[0];
        assert_eq!(phase.0, "phase");
        assert_eq!(phase.1.text, "β two");
        assert_eq!(&DOC[phase.1.span.clone()], "'β two'");
        assert_eq!(phase.1.line, 10);
    }

    #[test]
    fn comments_after_a_value_are_not_part_of_it() {
        let text = "---\nid: A\nstatus: done # note\npriority: 'high' # p\n---\n";
        let item = &parse(text.as_bytes()).items[0];
        let status = item.status.as_ref().unwrap();
        assert_eq!(&text[status.span.clone()], "done");
        assert_eq!(&text[item.fields[0].1.span.clone()], "'high'");
        assert_eq!(item.owner, None);
    }

    #[test]
    fn crlf_bom_and_dot_closing_line() {
        let text = "\u{FEFF}---\r\nid: \"X-1\"\r\nstatus: 'done' \r\nowner: é\r\n...  \r\nbody\r\n";
        let parsed = parse(text.as_bytes());
        assert_eq!(parsed.warnings, vec![]);
        let item = &parsed.items[0];
        assert_eq!(item.key, "X-1");
        let status = item.status.as_ref().unwrap();
        assert_eq!(&text[status.span.clone()], "'done'");
        assert_eq!(status.line, 3);
        let owner = item.owner.as_ref().unwrap();
        assert_eq!((&text[owner.span.clone()], owner.line), ("é", 4));
    }

    #[test]
    fn a_file_without_front_matter_gets_a_warning() {
        for text in ["# Title\n\nstatus: done\n", "", " ---\nid: A\n---\n"] {
            let parsed = parse(text.as_bytes());
            assert!(parsed.items.is_empty());
            assert_eq!(
                parsed.warnings,
                vec![RowWarning {
                    line: 1,
                    message: "no YAML front matter (the file must start with a `---` line)".into()
                }]
            );
        }
    }

    #[test]
    fn unclosed_front_matter_is_a_file_error() {
        for text in ["---\nid: A\nstatus: done\n", "---", "---\n"] {
            let err = parse_with(&format(), text.as_bytes()).unwrap_err();
            assert_eq!(err.line, Some(1), "{text:?}: {err}");
        }
    }

    #[test]
    fn yaml_errors_point_into_the_file() {
        let text = "---\nid: A\nstatus: [done\nowner: x\n---\n";
        let err = parse_with(&format(), text.as_bytes()).unwrap_err();
        assert_eq!(err.line, Some(4), "{err}");
        assert!(err.message.starts_with("invalid YAML"), "{err}");
        let text = "\u{FEFF}---\nid: A\ntitle: é\nstatus: \"x\" y\n---\n";
        let err = parse_with(&format(), text.as_bytes()).unwrap_err();
        assert_eq!((err.line, err.column), (Some(4), Some(13)), "{err}");
    }

    #[test]
    fn other_file_errors() {
        let err = parse_with(&format(), b"---\n- a\n- b\n---\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("a sequence, not a mapping"), "{err}");
        let err = parse_with(&format(), b"---\nid: A\nstatus: d\xFFne\n---\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.message.contains("not valid UTF-8"), "{err}");
        // Invalid UTF-8 in the body is no concern.
        let parsed = parse(b"---\nid: A\n---\n\xFF\n");
        assert_eq!(parsed.items.len(), 1);
    }

    #[test]
    fn values_that_are_not_one_line_scalars_skip_the_item() {
        let cases = [
            (
                "---\nid: A\nstatus: |\n  done\n---\n",
                3,
                "expected a single-line scalar at `status`, found a block scalar (`|` or `>`)",
            ),
            (
                "---\nid: A\nstatus:\n  - done\n---\n",
                3,
                "expected a single-line scalar at `status`, found a sequence",
            ),
            (
                "---\nid: A\nowner: {name: x}\n---\n",
                3,
                "expected a single-line scalar at `owner`, found a mapping",
            ),
            (
                "---\nid: A\nstatus: in\n  progress\n---\n",
                3,
                "expected a single-line scalar at `status`, found a multi-line scalar",
            ),
            (
                "---\nid: A\nstatus: \"in\\\n  progress\"\n---\n",
                3,
                "expected a single-line scalar at `status`, found a multi-line scalar",
            ),
            (
                "---\nid: A\nstatus: 'in\r\n  progress'\n---\n",
                3,
                "expected a single-line scalar at `status`, found a multi-line scalar",
            ),
            (
                "---\nid: A\nx: &s done\nstatus: *s\n---\n",
                4,
                "expected a single-line scalar at `status`, found an alias",
            ),
            (
                "---\nid: A\nstatus: done\nmeta: 3\n---\n",
                4,
                "expected a mapping at `meta`, found a scalar",
            ),
            (
                "---\nid: A\nstatus: done\nowner: x\nstatus: todo\n---\n",
                5,
                "`status` is given twice (lines 3 and 5)",
            ),
            ("---\nstatus: done\n---\n", 1, "it has no `id` for its key"),
            ("---\nid: ~\n---\n", 1, "it has no `id` for its key"),
        ];
        for (text, line, message) in cases {
            let parsed = parse(text.as_bytes());
            assert!(parsed.items.is_empty(), "{text:?}");
            assert_eq!(
                parsed.warnings,
                vec![RowWarning {
                    line,
                    message: format!("front matter skipped: {message}")
                }],
                "{text:?}"
            );
        }
    }

    #[test]
    fn null_and_empty_values_are_absent() {
        let text = "---\nid: A\nstatus:\nowner: ~\npriority: null\nmeta:\n---\n";
        let item = &parse(text.as_bytes()).items[0];
        assert_eq!((&item.status, &item.owner), (&None, &None));
        assert!(item.fields.is_empty());
        // Empty front matter has no fields at all.
        let parsed = parse_with(&format_with_key("{stem}"), b"---\n---\n").unwrap();
        assert_eq!(parsed.items[0].key, "feat-7");
        assert_eq!(parsed.items[0].status, None);
    }

    #[test]
    fn values_that_an_alias_repeats_are_pinned() {
        let pinned = |text: &str| {
            let parsed = parse(text.as_bytes());
            let item = &parsed.items[0];
            (
                item.status.as_ref().and_then(|s| s.pinned.clone()),
                item.fields
                    .iter()
                    .find(|(name, _)| name == "phase")
                    .and_then(|(_, v)| v.pinned.clone()),
            )
        };
        // An anchored status that an alias repeats: editing it edits both.
        let (status, _) = pinned("---\nid: A\nstatus: &s todo\nmirror: *s\n---\n");
        assert!(
            status.as_deref().unwrap_or("").contains("`&s`"),
            "{status:?}"
        );
        // Tag and anchor in either order.
        let (status, _) = pinned("---\nid: A\nstatus: !!str &s todo\nmirror: [*s]\n---\n");
        assert!(
            status.as_deref().unwrap_or("").contains("`&s`"),
            "{status:?}"
        );
        // An anchor no alias names changes nothing else: still editable.
        assert_eq!(pinned("---\nid: A\nstatus: &s todo\n---\n"), (None, None));
        // Another anchor's alias does not pin it.
        assert_eq!(
            pinned("---\nid: A\nstatus: &s todo\nowner: &o me\nbackup: *o\n---\n").0,
            None
        );
        // A value inside an aliased mapping (or one a merge key repeats).
        let (_, phase) = pinned("---\nid: A\nmeta: &m\n  phase: one\nother: *m\n---\n");
        assert!(
            phase.as_deref().unwrap_or("").contains("mapping"),
            "{phase:?}"
        );
        let (_, phase) = pinned("---\nid: A\nmeta: &m {phase: one}\nother:\n  <<: *m\n---\n");
        assert!(phase.is_some());
        // The anchored value is read as its plain value, span without the anchor.
        let text = "---\nid: A\nstatus: &s todo\nmirror: *s\n---\n";
        let status = parse(text.as_bytes()).items[0].status.clone().unwrap();
        assert_eq!(
            (&text[status.span.clone()], status.text.as_str()),
            ("todo", "todo")
        );
    }

    #[test]
    fn key_from_the_path_and_tagged_values() {
        let text = "---\nstatus: !!str yes\nowner: &o 'me'\n---\n";
        let parsed = parse_with(&format_with_key("{dir}/{stem}"), text.as_bytes()).unwrap();
        let item = &parsed.items[0];
        assert_eq!(item.key, "features/feat-7");
        let status = item.status.as_ref().unwrap();
        assert_eq!(
            (&text[status.span.clone()], status.text.as_str()),
            ("yes", "yes")
        );
        assert_eq!(&text[item.owner.as_ref().unwrap().span.clone()], "'me'");
    }

    #[test]
    fn dotted_names_and_flow_mappings() {
        let text = "---\nid: A\nmeta: {phase: two, x: 1}\n\"meta.phase\": top\nstatus: done\n---\n";
        let item = &parse(text.as_bytes()).items[0];
        // A top-level key with the dotted name wins over the path.
        assert_eq!(item.fields[0].1.text, "top");
        let text = "---\nid: A\nmeta: {phase: two, x: 1}\nstatus: done\n---\n";
        let item = &parse(text.as_bytes()).items[0];
        let phase = &item.fields[0].1;
        assert_eq!(
            (phase.text.as_str(), &text[phase.span.clone()]),
            ("two", "two")
        );
        let edited = edit_value(&format(), text.as_bytes(), phase, "a, b").unwrap();
        let again = parse(&edited);
        assert_eq!(again.items[0].fields[0].1.text, "a, b");
    }

    fn encode(old: &str, new: &str) -> String {
        String::from_utf8(format().encode_value(old.as_bytes(), new).unwrap()).unwrap()
    }

    #[test]
    fn encoding_keeps_the_quoting_style() {
        assert_eq!(encode("todo", "done"), "done");
        assert_eq!(encode("todo", "in progress"), "in progress");
        assert_eq!(encode("todo", "it's 50%"), "it's 50%");
        assert_eq!(encode("'todo'", "it's"), "'it''s'");
        assert_eq!(encode("'todo'", "yes"), "'yes'");
        assert_eq!(
            encode("\"todo\"", "say \"hi\" \\o/"),
            "\"say \\\"hi\\\" \\\\o/\""
        );
        assert_eq!(encode("\"todo\"", "é"), "\"é\"");
        assert_eq!(encode("'todo'", "a\u{FEFF}b"), "\"a\\uFEFFb\"");
        assert!(format().encode_value(b"todo", "two\nlines").is_err());
        assert!(format().encode_value(b"'todo'", " padded").is_err());
    }

    #[test]
    fn plain_values_that_would_read_differently_get_quotes() {
        for new in [
            "yes",
            "No",
            "true",
            "null",
            "~",
            "1.5",
            "42",
            "0x1F",
            ".inf",
            "2024-01-31",
            "a: b",
            "#x",
            "x #y",
            "- x",
            "[x]",
            "{x}",
            "*x",
            "&x",
            "!x",
            "|x",
            ">x",
            "'x",
            "\"x",
            "%x",
            "@x",
            "`x",
            "x:",
            "a, b",
            "?x",
        ] {
            let encoded = encode("todo", new);
            assert!(encoded.starts_with('"'), "{new} -> {encoded}");
            let text = format!("---\nid: A\nstatus: {encoded}\n---\n");
            assert_eq!(
                parse(text.as_bytes()).items[0]
                    .status
                    .as_ref()
                    .unwrap()
                    .text,
                new
            );
        }
        // The same kind of value stays plain.
        assert_eq!(encode("3", "4.5"), "4.5");
        assert_eq!(encode("3", "-4"), "-4");
        assert_eq!(encode("todo", "-4"), "\"-4\"");
        assert_eq!(encode("yes", "no"), "no");
        assert_eq!(encode("2024-01-01", "2024-02-01"), "2024-02-01");
        assert_eq!(encode("a:b", "x:y"), "x:y");
    }

    /// A value as written in YAML and the text it reads as.
    fn value_strategy() -> impl Strategy<Value = (String, String)> {
        let plain = "[a-z][a-z0-9_]{0,6}( [a-z0-9.]{1,5})?"
            .prop_filter("a string", |s| plain_type(s) == PlainType::Text)
            .prop_map(|s| (s.clone(), s));
        let single = "[a-zA-Z0-9 :#'\"\\\\é✓,-]{0,10}".prop_map(|s| (single_quoted(&s), s));
        let double = "[a-zA-Z0-9 :#'\"\\\\é✓,-]{0,10}".prop_map(|s| (double_quoted(&s), s));
        (
            prop_oneof![plain, single, double],
            prop_oneof![
                Just(String::new()),
                Just("  ".to_string()),
                Just(" # note: it's \"x\"".to_string()),
                Just("\t#é".to_string()),
            ],
        )
            .prop_map(|((written, text), after)| (format!("{written}{after}"), text))
    }

    fn new_value_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 :#'\"\\\\é✓,\\[\\]{}.&*!|>%@`?-]{1,12}",
            Just("yes".to_string()),
            Just("null".to_string()),
            Just("~".to_string()),
            Just("1.5".to_string()),
            Just("a: b".to_string()),
            Just("#x".to_string()),
            Just("done".to_string()),
        ]
        .prop_filter("one line", |s| check_single_line(s).is_ok())
    }

    /// YAML text for a value, valid or not.
    fn yaml_value_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z é✓.-]{0,10}( #[a-z ]{0,4})?",
            "'[a-z :#\"é]{0,8}'",
            "\"[a-z :#'é\\\\]{0,8}\"",
            "(&a|!!str|!x) [a-z]{1,4}",
            "[a-z:#'\"\\\\&*!|>\\-\\[\\]{},.~ \té✓]{0,16}",
        ]
    }

    proptest! {
        #[test]
        fn any_edit_changes_only_its_span(
            id in "[A-Z]{2,5}-[0-9]{1,4}",
            status in value_strategy(),
            owner in value_strategy(),
            priority in value_strategy(),
            phase in value_strategy(),
            extra in "[a-zA-Zé ]{0,12}",
            nl in prop_oneof![Just("\n"), Just("\r\n")],
            new in new_value_strategy(),
        ) {
            let text = format!(
                "---{nl}# head{nl}title: {extra}é{nl}id: {id}{nl}status: {}{nl}tags: [a, b]{nl}owner: {}{nl}\
                 meta:{nl}  phase: {}{nl}  n: 1{nl}priority: {}{nl}---{nl}body{nl}---{nl}status: fake{nl}",
                status.0, owner.0, phase.0, priority.0,
            );
            let parsed = parse(text.as_bytes());
            prop_assert_eq!(&parsed.warnings, &vec![]);
            let item = &parsed.items[0];
            prop_assert_eq!(&item.key, &id);
            let value = item.status.clone().unwrap();
            prop_assert_eq!(&value.text, &status.1);
            prop_assert_eq!(&item.owner.as_ref().unwrap().text, &owner.1);
            prop_assert_eq!(&item.fields[0].1.text, &priority.1);
            prop_assert_eq!(&item.fields[1].1.text, &phase.1);

            let edited = edit_value(&format(), text.as_bytes(), &value, &new).unwrap();
            let span = value.span.clone();
            let tail = text.len() - span.end;
            prop_assert_eq!(&edited[..span.start], &text.as_bytes()[..span.start]);
            prop_assert_eq!(&edited[edited.len() - tail..], &text.as_bytes()[span.end..]);
            let reparsed = parse(&edited);
            prop_assert_eq!(&reparsed.warnings, &vec![]);
            let again = &reparsed.items[0];
            prop_assert_eq!(&again.key, &item.key);
            prop_assert_eq!(&again.status.as_ref().unwrap().text, &new);
            prop_assert_eq!(&again.owner.as_ref().unwrap().text, &owner.1);
            let texts = |i: &RawItem| i.fields.iter().map(|(l, v)| (l.clone(), v.text.clone())).collect::<Vec<_>>();
            prop_assert_eq!(texts(again), texts(item));

            // Writing the value it already has is a byte-identical no-op.
            let same = edit_value(&format(), text.as_bytes(), &value, &value.text);
            if check_single_line(&value.text).is_ok() {
                prop_assert_eq!(same.unwrap(), text.as_bytes());
            }
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_with(&format(), &bytes);
        }

        #[test]
        fn never_panics_on_arbitrary_front_matter(
            yaml in "[a-z:#'\"\\\\&*!|>\\-\\[\\]{},.~ \t\r\né]{0,120}",
        ) {
            let text = format!("---\n{yaml}\n---\n");
            let _ = parse_with(&format(), text.as_bytes());
        }

        #[test]
        fn any_status_found_can_be_edited(
            lines in proptest::collection::vec(
                (
                    prop_oneof![
                        Just("owner"),
                        Just("  "),
                        Just("- "),
                        Just("meta"),
                        Just("? "),
                        Just("  status"),
                    ],
                    prop_oneof![4 => Just(": "), 1 => Just(":"), 1 => Just(" "), 1 => Just(":\t")],
                    yaml_value_strategy(),
                ),
                0..6,
            ),
            at in any::<proptest::sample::Index>(),
            status in yaml_value_strategy(),
            nl in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        ) {
            let mut lines: Vec<String> = lines.iter().map(|(k, sep, v)| format!("{k}{sep}{v}{nl}")).collect();
            lines.insert(at.index(lines.len() + 1), format!("status: {status}{nl}"));
            let text = format!("---\n{}---\n", lines.concat());
            let format = format_with_key("{stem}");
            let Ok(parsed) = parse_with(&format, text.as_bytes()) else { return Ok(()) };
            for item in &parsed.items {
                let Some(status) = &item.status else { continue };
                prop_assert!(text.get(status.span.clone()).is_some());
                let edited = edit_value(&format, text.as_bytes(), status, "x: \"y\" #z").unwrap();
                let again = parse_with(&format, &edited).unwrap();
                prop_assert_eq!(&again.items[0].status.as_ref().unwrap().text, "x: \"y\" #z");
            }
        }
    }
}
