//! `json`: a JSON document (RFC 8259) whose items are either the whole
//! document or the elements of an array that a JSON pointer (RFC 6901) names.
//! Every item field is a JSON pointer relative to the item. The editable span
//! of a string value is the whole string token, quotes included, so an edit
//! can re-escape freely; a number or boolean's span is its literal.
//!
//! The parser is our own rather than serde_json: an edit needs the byte span
//! and line of every value, member names in document order and duplicate
//! names kept, and serde_json gives none of these. It parses bytes into one
//! flat arena of nodes (no allocation per node) and unescapes strings only
//! when their text is asked for.

use crate::{
    EditError, FileContext, FileError, Format, ItemFields, ParsedFile, RawItem, RowWarning,
    SpannedValue,
};
use std::borrow::Cow;

/// Reads items from JSON. The key template's lookups and the item fields
/// are JSON pointers relative to the item (`/status`, `/meta/owner`); a
/// name without a leading `/` is read as one (`id` is `/id`).
#[derive(Debug, Clone)]
pub struct Json {
    pub item: ItemFields,
    /// JSON pointer to an array whose elements are the items; `None` = the
    /// whole document is one item.
    pub items: Option<String>,
}

/// Deepest nesting of arrays and objects accepted. The parser recurses once
/// per level, so this also bounds its stack use.
const MAX_DEPTH: usize = 256;
const BOM: &[u8] = b"\xEF\xBB\xBF";
/// No node: the end of a sibling list.
const NIL: u32 = u32::MAX;
/// The document's top-level value is always the first node.
const ROOT: usize = 0;

impl Format for Json {
    fn parse(&self, ctx: FileContext<'_>, bytes: &[u8]) -> Result<ParsedFile, FileError> {
        let tree = read_tree(bytes)?;
        let mut out = ParsedFile::default();
        let Some(items) = &self.items else {
            self.push_item(ctx, &tree, ROOT, &|| "document".to_string(), &mut out);
            return Ok(out);
        };
        let pointer = pointer_of(items);
        let found = match tree.resolve(ROOT, &pointer, "the document") {
            Ok(Some(id)) => id,
            Ok(None) => return Ok(out),
            Err(problem) => {
                out.warnings.push(problem.warning(""));
                return Ok(out);
            }
        };
        let Some(list) = tree.nodes.get(found) else {
            return Ok(out);
        };
        match list.kind {
            Kind::Array => {}
            Kind::Null => return Ok(out),
            other => {
                out.warnings.push(RowWarning {
                    line: list.line,
                    message: format!(
                        "expected an array at {}, found {} (line {})",
                        if pointer.is_empty() {
                            "the top level"
                        } else {
                            &pointer
                        },
                        other.describe(),
                        list.line
                    ),
                });
                return Ok(out);
            }
        }
        for (index, (id, element)) in tree.children(found).enumerate() {
            let what = || format!("element {pointer}/{index} at line {}", element.line);
            if element.kind != Kind::Object {
                out.warnings.push(RowWarning {
                    line: element.line,
                    message: format!(
                        "{} skipped: expected an object, found {}",
                        what(),
                        element.kind.describe()
                    ),
                });
                continue;
            }
            self.push_item(ctx, &tree, id, &what, &mut out);
        }
        Ok(out)
    }

    fn encode_value(&self, old: &[u8], new: &str) -> Result<Vec<u8>, EditError> {
        // Writing back the text a string already holds keeps its escapes.
        if old.first() == Some(&b'"')
            && let Ok(old_text) = std::str::from_utf8(old)
            && string_token_text(old_text).as_deref() == Some(new)
        {
            return Ok(old.to_vec());
        }
        // Numbers and booleans become strings too: statuses are text.
        Ok(quote(new))
    }
}

impl Json {
    /// Read the item at node `id` into `out`, or a warning saying why it
    /// was skipped. `what` names the item for that warning.
    fn push_item(
        &self,
        ctx: FileContext<'_>,
        tree: &Tree<'_>,
        id: usize,
        what: &dyn Fn() -> String,
        out: &mut ParsedFile,
    ) {
        let Some(node) = tree.nodes.get(id) else {
            return;
        };
        let mut problem = None;
        let key = self.item.key.render(ctx.path, |name| {
            let found = tree
                .resolve(id, name, "the item")
                .and_then(|found| found.map_or(Ok(None), |v| tree.scalar(v, name)));
            match found {
                Ok(value) => value.map(|(text, _)| text),
                Err(e) => {
                    problem.get_or_insert(e);
                    None
                }
            }
        });
        let key = match (key, problem) {
            (_, Some(problem)) => Err(problem),
            (Ok(key), None) => Ok(key),
            (Err(missing), None) => Err(Problem {
                line: node.line,
                message: if missing.starts_with('{') {
                    format!("its path has no {missing} for its key")
                } else {
                    format!("it has no value at {} for its key", pointer_of(&missing))
                },
            }),
        };
        let lookup = |name: &str| tree.value(id, name);
        let item = key.and_then(|key| {
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
                line: node.line,
                status,
                owner,
                fields,
            })
        });
        match item {
            Ok(item) => out.items.push(item),
            Err(problem) => out
                .warnings
                .push(problem.warning(&format!("{} skipped: ", what()))),
        }
    }
}

/// Where the value at a JSON pointer sits in a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line of the value's first byte.
    pub line: u32,
    /// 1-based columns, in characters, of the value's first character and
    /// one past its last on that line (the whole first line for values that
    /// span lines).
    pub column: u32,
    pub end_column: u32,
}

/// The position of the value at `pointer` (`""` is the whole document), or
/// `None` when the document does not parse or holds nothing there. For
/// findings that point at a value, never for edits.
pub fn position_of(bytes: &[u8], pointer: &str) -> Option<Position> {
    let tree = read_tree(bytes).ok()?;
    let id = tree.resolve(0, pointer, "the document").ok()??;
    let node = tree.nodes.get(id)?;
    let (start, end) = (node.start as usize, node.end as usize);
    let line_start = bytes[..start.min(bytes.len())]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line_end = bytes[start.min(bytes.len())..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| start + i);
    Some(Position {
        line: node.line,
        column: column(bytes, line_start, start),
        end_column: column(bytes, line_start, end.min(line_end)),
    })
}

/// Parse a whole file: UTF-8, at most 4 GiB, one JSON document.
fn read_tree(bytes: &[u8]) -> Result<Tree<'_>, FileError> {
    // Nodes keep offsets as u32 to stay small.
    if u32::try_from(bytes.len()).is_err() {
        return Err(FileError::new(format!(
            "the file is {} bytes long; JSON files over 4 GiB are not supported",
            bytes.len()
        )));
    }
    // simdutf8 checks valid text fast; std's check says where it fails.
    let src = simdutf8::basic::from_utf8(bytes)
        .or_else(|_| std::str::from_utf8(bytes))
        .map_err(|e| utf8_error(bytes, e.valid_up_to()))?;
    Parser::new(src).document()
}

/// Why a lookup failed, and the line it failed at.
#[derive(Debug)]
struct Problem {
    line: u32,
    message: String,
}

impl Problem {
    fn warning(self, prefix: &str) -> RowWarning {
        RowWarning {
            line: self.line,
            message: format!("{prefix}{}", self.message),
        }
    }
}

/// A configured name as a JSON pointer: `status` means `/status`.
fn pointer_of(name: &str) -> Cow<'_, str> {
    if name.is_empty() || name.starts_with('/') {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!("/{name}"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Number,
    /// `escaped`: the token holds a backslash, so its text must be unescaped.
    String {
        escaped: bool,
    },
    Array,
    Object,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String { .. } => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// An object member's name token (quotes included).
#[derive(Debug, Clone, Copy)]
struct Name {
    start: u32,
    end: u32,
    escaped: bool,
    line: u32,
}

impl Name {
    const NONE: Name = Name {
        start: 0,
        end: 0,
        escaped: false,
        line: 0,
    };
}

/// One value of the document. Children of an array or object are a linked
/// list (`first_child`, then `next`) in document order. Offsets and node
/// indexes are u32 (files are at most 4 GiB) to keep nodes small.
#[derive(Debug, Clone, Copy)]
struct Node {
    kind: Kind,
    start: u32,
    end: u32,
    /// Line of the value's first byte.
    line: u32,
    first_child: u32,
    next: u32,
    /// Set when the value is an object member.
    name: Name,
}

struct Tree<'a> {
    src: &'a str,
    nodes: Vec<Node>,
}

impl<'a> Tree<'a> {
    fn children(&self, id: usize) -> impl Iterator<Item = (usize, &Node)> + '_ {
        let mut next = self.nodes.get(id).map_or(NIL, |n| n.first_child);
        std::iter::from_fn(move || {
            let id = next as usize;
            let node = self.nodes.get(id)?;
            next = node.next;
            Some((id, node))
        })
    }

    /// Text between a string token's quotes, escapes unresolved.
    fn inner(&self, start: u32, end: u32) -> &'a str {
        self.src
            .get(start as usize + 1..(end as usize).saturating_sub(1))
            .unwrap_or("")
    }

    fn name_is(&self, node: &Node, token: &str) -> bool {
        let raw = self.inner(node.name.start, node.name.end);
        if node.name.escaped {
            unescape(raw) == token
        } else {
            raw == token
        }
    }

    /// Follow the pointer `name` (`id` meaning `/id`) from node `from`.
    /// `Ok(None)`: nothing there (a missing member or index, or null on the
    /// way). `top` names `from` in messages.
    fn resolve(&self, from: usize, name: &str, top: &str) -> Result<Option<usize>, Problem> {
        let tokens = match name.strip_prefix('/') {
            Some(tokens) => tokens,
            None if name.is_empty() => return Ok(Some(from)),
            None => name,
        };
        // The pointer up to byte `end` of `tokens`, for messages.
        let prefix = |end: usize| format!("/{}", tokens.get(..end).unwrap_or(tokens));
        let mut cur = from;
        let mut parent_end = None;
        for raw in tokens.split('/') {
            let end = parent_end.map_or(0, |p| p + 1) + raw.len();
            let Some(node) = self.nodes.get(cur) else {
                return Ok(None);
            };
            let here = || parent_end.map_or_else(|| top.to_string(), prefix);
            match node.kind {
                Kind::Object => {
                    let token = unescape_token(raw);
                    let mut found = self
                        .children(cur)
                        .filter(|(_, child)| self.name_is(child, &token));
                    match (found.next(), found.next()) {
                        (Some((_, a)), Some((_, b))) => {
                            return Err(Problem {
                                line: b.name.line,
                                message: format!(
                                    "`{}` is given twice (lines {} and {})",
                                    prefix(end),
                                    a.name.line,
                                    b.name.line
                                ),
                            });
                        }
                        (Some((id, _)), None) => cur = id,
                        (None, _) => return Ok(None),
                    }
                }
                Kind::Array => match array_index(raw) {
                    Some(index) => match self.children(cur).nth(index) {
                        Some((id, _)) => cur = id,
                        None => return Ok(None),
                    },
                    None if raw == "-" => return Ok(None),
                    None => {
                        return Err(Problem {
                            line: node.line,
                            message: format!(
                                "cannot follow {}: expected an object at {}, found an array (line {})",
                                pointer_of(name),
                                here(),
                                node.line
                            ),
                        });
                    }
                },
                Kind::Null => return Ok(None),
                other => {
                    return Err(Problem {
                        line: node.line,
                        message: format!(
                            "cannot follow {}: expected an object or array at {}, found {} (line {})",
                            pointer_of(name),
                            here(),
                            other.describe(),
                            node.line
                        ),
                    });
                }
            }
            parent_end = Some(end);
        }
        Ok(Some(cur))
    }

    /// The text of a scalar node; `None` for null. `name` (a pointer) names
    /// it in the error for an array or object.
    fn scalar(&self, id: usize, name: &str) -> Result<Option<(Cow<'a, str>, Node)>, Problem> {
        let Some(&node) = self.nodes.get(id) else {
            return Ok(None);
        };
        let text = match node.kind {
            Kind::Null => return Ok(None),
            Kind::String { escaped: false } => Cow::Borrowed(self.inner(node.start, node.end)),
            Kind::String { escaped: true } => unescape(self.inner(node.start, node.end)),
            Kind::Bool | Kind::Number => Cow::Borrowed(
                self.src
                    .get(node.start as usize..node.end as usize)
                    .unwrap_or(""),
            ),
            Kind::Array | Kind::Object => {
                return Err(Problem {
                    line: node.line,
                    message: format!(
                        "expected a scalar at {}, found {} (line {})",
                        pointer_of(name),
                        node.kind.describe(),
                        node.line
                    ),
                });
            }
        };
        Ok(Some((text, node)))
    }

    /// The value the pointer `name` names relative to node `item`; `None`
    /// if absent or null.
    fn value(&self, item: usize, name: &str) -> Result<Option<SpannedValue>, Problem> {
        let Some(id) = self.resolve(item, name, "the item")? else {
            return Ok(None);
        };
        Ok(self.scalar(id, name)?.map(|(text, node)| SpannedValue {
            text: text.into_owned(),
            span: node.start as usize..node.end as usize,
            line: node.line,
            pinned: None,
        }))
    }
}

/// A pointer's reference token with `~1` and `~0` resolved.
fn unescape_token(raw: &str) -> Cow<'_, str> {
    if !raw.contains('~') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('~', Some('0')) => {
                chars.next();
                out.push('~');
            }
            ('~', Some('1')) => {
                chars.next();
                out.push('/');
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A reference token as an array index: `0` or digits without a leading zero.
fn array_index(raw: &str) -> Option<usize> {
    let valid = raw == "0"
        || (raw.starts_with(|c: char| matches!(c, '1'..='9'))
            && raw.bytes().all(|b| b.is_ascii_digit()));
    if valid { raw.parse().ok() } else { None }
}

/// Resolve the escapes between a string token's quotes. The parser has
/// checked them; anything it would not accept is kept or replaced, never a
/// panic.
fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        out.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + 1..).unwrap_or("");
        let mut used = 1;
        match after.as_bytes().first() {
            Some(b'"') => out.push('"'),
            Some(b'\\') => out.push('\\'),
            Some(b'/') => out.push('/'),
            Some(b'b') => out.push('\u{8}'),
            Some(b'f') => out.push('\u{c}'),
            Some(b'n') => out.push('\n'),
            Some(b'r') => out.push('\r'),
            Some(b't') => out.push('\t'),
            Some(b'u') => {
                let high = hex4(after.get(1..5));
                let low = match after.get(5..7) {
                    Some("\\u") => hex4(after.get(7..11)),
                    _ => None,
                };
                match (high, low) {
                    (Some(h @ 0xD800..=0xDBFF), Some(l @ 0xDC00..=0xDFFF)) => {
                        let c = 0x10000 + ((h - 0xD800) << 10) + (l - 0xDC00);
                        out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                        used = 11;
                    }
                    (Some(h), _) => {
                        out.push(char::from_u32(h).unwrap_or('\u{FFFD}'));
                        used = 5;
                    }
                    (None, _) => {
                        out.push('\\');
                        used = 0;
                    }
                }
            }
            _ => {
                out.push('\\');
                used = 0;
            }
        }
        rest = after.get(used..).unwrap_or("");
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn hex4(digits: Option<&str>) -> Option<u32> {
    let digits = digits?;
    if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        u32::from_str_radix(digits, 16).ok()
    } else {
        None
    }
}

/// The text of `token` if it is exactly one JSON string token.
fn string_token_text(token: &str) -> Option<Cow<'_, str>> {
    let mut parser = Parser::new(token);
    parser.pos = 0;
    let escaped = parser.string().ok()?;
    if parser.pos != token.len() {
        return None;
    }
    let inner = token.get(1..token.len() - 1)?;
    Some(if escaped {
        unescape(inner)
    } else {
        Cow::Borrowed(inner)
    })
}

/// `text` as a JSON string: only `"`, `\` and control characters escaped;
/// everything else, non-ASCII included, written as is.
fn quote(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    out.push(b'"');
    for &b in text.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            0..=0x1F => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
    out
}

/// The error for bytes that are not UTF-8, at the first bad byte.
fn utf8_error(bytes: &[u8], at: usize) -> FileError {
    let before = bytes.get(..at).unwrap_or(bytes);
    let line = memchr::memchr_iter(b'\n', before).count().saturating_add(1);
    let line_start = match memchr::memrchr(b'\n', before) {
        Some(i) => i + 1,
        None if before.starts_with(BOM) => BOM.len(),
        None => 0,
    };
    let found = match bytes.get(at) {
        Some(b) => format!("the byte 0x{b:02X}"),
        None => "a truncated character at the end of the file".to_string(),
    };
    FileError::at(
        u32::try_from(line).unwrap_or(u32::MAX),
        Some(column(bytes, line_start, at)),
        format!("expected UTF-8 text, found {found}"),
    )
}

/// 1-based column of `at` in characters from `line_start`.
fn column(bytes: &[u8], line_start: usize, at: usize) -> u32 {
    let chars = bytes
        .get(line_start..at)
        .map_or(0, |s| s.iter().filter(|&&b| b & 0xC0 != 0x80).count());
    u32::try_from(chars.saturating_add(1)).unwrap_or(u32::MAX)
}

/// What the text at `at` is, for an error message.
fn describe(src: &str, at: usize) -> String {
    let rest = src.get(at..).unwrap_or("");
    match rest.chars().next() {
        None => "the end of the file".to_string(),
        Some('\n' | '\r') => "a line break".to_string(),
        Some(c) if c.is_control() => format!("the control character U+{:04X}", c as u32),
        Some(c) if c.is_alphanumeric() => {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'))
                .take(20)
                .collect();
            format!("`{word}`")
        }
        Some(c) => format!("`{c}`"),
    }
}

/// Bytes that end a run of plain string content: `"`, `\\` and control
/// characters (which must be escaped).
const STRING_STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stops[b] = true;
        b += 1;
    }
    stops[b'"' as usize] = true;
    stops[b'\\' as usize] = true;
    stops
};

/// A recursive-descent parser over the bytes of already-validated UTF-8.
struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
    nodes: Vec<Node>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        let bytes = src.as_bytes();
        let start = if bytes.starts_with(BOM) { BOM.len() } else { 0 };
        Self {
            src,
            bytes,
            pos: start,
            line: 1,
            line_start: start,
            nodes: Vec::new(),
        }
    }

    fn document(mut self) -> Result<Tree<'a>, FileError> {
        self.skip_ws();
        if self.pos >= self.bytes.len() {
            return Err(FileError::new("empty file, expected a JSON document"));
        }
        // A rough guess that saves most regrowing on typical documents.
        self.nodes.reserve(self.bytes.len() / 24 + 1);
        self.value(1, "a value")?;
        self.skip_ws();
        if self.pos < self.bytes.len() {
            return Err(self.error(self.pos, "the end of the document"));
        }
        Ok(Tree {
            src: self.src,
            nodes: self.nodes,
        })
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'\n' => {
                    self.pos += 1;
                    self.line = self.line.saturating_add(1);
                    self.line_start = self.pos;
                }
                _ => break,
            }
        }
    }

    /// `expected ..., found ...` at byte `at` of the current line.
    fn error(&self, at: usize, expected: &str) -> FileError {
        FileError::at(
            self.line,
            Some(column(self.bytes, self.line_start, at)),
            format!("expected {expected}, found {}", describe(self.src, at)),
        )
    }

    /// Offsets fit in u32: `Json::parse` refuses files of 4 GiB and more,
    /// and there are fewer nodes than bytes.
    fn push(&mut self, kind: Kind, start: usize) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node {
            kind,
            start: start as u32,
            end: self.pos as u32,
            line: self.line,
            first_child: NIL,
            next: NIL,
            name: Name::NONE,
        });
        id
    }

    fn value(&mut self, depth: usize, expected: &str) -> Result<usize, FileError> {
        self.skip_ws();
        let start = self.pos;
        let rest = self.bytes.get(start..).unwrap_or(&[]);
        let kind = match rest.first() {
            Some(b'{') => return self.container(depth, Kind::Object),
            Some(b'[') => return self.container(depth, Kind::Array),
            Some(b'"') => Kind::String {
                escaped: self.string()?,
            },
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                Kind::Number
            }
            _ if rest.starts_with(b"true") => {
                self.pos += 4;
                Kind::Bool
            }
            _ if rest.starts_with(b"false") => {
                self.pos += 5;
                Kind::Bool
            }
            _ if rest.starts_with(b"null") => {
                self.pos += 4;
                Kind::Null
            }
            _ => return Err(self.error(start, expected)),
        };
        Ok(self.push(kind, start))
    }

    fn container(&mut self, depth: usize, kind: Kind) -> Result<usize, FileError> {
        let start = self.pos;
        if depth > MAX_DEPTH {
            return Err(FileError::at(
                self.line,
                Some(column(self.bytes, self.line_start, start)),
                format!("expected at most {MAX_DEPTH} levels of nesting, found more"),
            ));
        }
        let object = kind == Kind::Object;
        let close = if object { b'}' } else { b']' };
        let id = self.push(kind, start);
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            self.nodes[id].end = self.pos as u32;
            return Ok(id);
        }
        let mut expected = if object {
            "a member name in double quotes or `}`"
        } else {
            "a value or `]`"
        };
        let mut prev = NIL;
        loop {
            let child = if object {
                self.skip_ws();
                let name_start = self.pos;
                let name_line = self.line;
                if self.peek() != Some(b'"') {
                    return Err(self.error(self.pos, expected));
                }
                let escaped = self.string()?;
                let name = Name {
                    start: name_start as u32,
                    end: self.pos as u32,
                    escaped,
                    line: name_line,
                };
                self.skip_ws();
                if self.peek() != Some(b':') {
                    return Err(self.error(self.pos, "`:` after the member name"));
                }
                self.pos += 1;
                let child = self.value(depth + 1, "a value")?;
                self.nodes[child].name = name;
                child
            } else {
                self.value(depth + 1, expected)?
            };
            if prev == NIL {
                self.nodes[id].first_child = child as u32;
            } else {
                self.nodes[prev as usize].next = child as u32;
            }
            prev = child as u32;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    expected = if object {
                        "a member name in double quotes"
                    } else {
                        "a value"
                    };
                }
                Some(b) if b == close => {
                    self.pos += 1;
                    break;
                }
                _ => {
                    let expected = if object {
                        "`,` or `}` after an object member"
                    } else {
                        "`,` or `]` after an array element"
                    };
                    return Err(self.error(self.pos, expected));
                }
            }
        }
        self.nodes[id].end = self.pos as u32;
        Ok(id)
    }

    /// Scan the string token whose opening quote is at `pos`; tell whether
    /// it holds escapes.
    fn string(&mut self) -> Result<bool, FileError> {
        let mut escaped = false;
        let mut pos = self.pos + 1;
        loop {
            let rest = self.bytes.get(pos..).unwrap_or(&[]);
            pos += rest
                .iter()
                .position(|&b| STRING_STOPS[b as usize])
                .unwrap_or(rest.len());
            match self.bytes.get(pos) {
                Some(b'"') => {
                    self.pos = pos + 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    match self.bytes.get(pos + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => pos += 2,
                        Some(b'u') => {
                            let digits = self
                                .bytes
                                .get(pos + 2..)
                                .unwrap_or(&[])
                                .iter()
                                .take(4)
                                .take_while(|b| b.is_ascii_hexdigit())
                                .count();
                            if digits < 4 {
                                return Err(
                                    self.error(pos + 2 + digits, "four hex digits after `\\u`")
                                );
                            }
                            pos += 6;
                        }
                        _ => {
                            return Err(
                                self.error(pos + 1, "one of `\"\\/bfnrtu` after `\\` in a string")
                            );
                        }
                    }
                }
                Some(_) => {
                    return Err(self.error(
                        pos,
                        "`\"` to close the string (line breaks and control characters in strings must be escaped)",
                    ));
                }
                None => return Err(self.error(pos, "`\"` to close the string")),
            }
        }
    }

    fn digits(&self, mut pos: usize) -> usize {
        while self.bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        pos
    }

    fn number(&mut self) -> Result<(), FileError> {
        let mut pos = self.pos;
        let at = |pos: usize| self.bytes.get(pos).copied();
        if at(pos) == Some(b'-') {
            pos += 1;
        }
        match at(pos) {
            Some(b'0') => {
                pos += 1;
                if at(pos).is_some_and(|b| b.is_ascii_digit()) {
                    return Err(
                        self.error(pos, "`.`, `e` or the end of the number after a leading `0`")
                    );
                }
            }
            Some(b'1'..=b'9') => pos = self.digits(pos),
            _ => return Err(self.error(pos, "a digit after `-`")),
        }
        if at(pos) == Some(b'.') {
            pos += 1;
            if !at(pos).is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.error(pos, "a digit after `.` in a number"));
            }
            pos = self.digits(pos);
        }
        if matches!(at(pos), Some(b'e' | b'E')) {
            pos += 1;
            if matches!(at(pos), Some(b'+' | b'-')) {
                pos += 1;
            }
            if !at(pos).is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.error(pos, "a digit in the number's exponent"));
            }
            pos = self.digits(pos);
        }
        self.pos = pos;
        Ok(())
    }
}

/// Append `element` (a complete JSON value, already serialized compactly,
/// e.g. by serde_json) to the array at `pointer` (RFC 6901, e.g. "/events")
/// in `bytes`, keeping every existing byte: only bytes are inserted, never
/// changed or removed. Returns the new file bytes.
///
/// The new text follows the array's style: in an array whose elements each
/// start a line, it goes on a line of its own with the last element's
/// indentation, pretty-printed like that element if it spans several lines
/// (same indent unit, same `:` spacing); in a one-line array it is appended
/// after `, `; an empty array is opened onto lines. A missing `pointer`
/// whose parent is an object becomes a new last member `"name": [element]`.
/// Line breaks follow the file (CRLF or LF); scalar tokens of `element` are
/// kept byte for byte.
pub fn append_to_array(bytes: &[u8], pointer: &str, element: &str) -> Result<Vec<u8>, FileError> {
    let tree = read_tree(bytes)?;
    let new = read_element(element)?;
    let (at, text) = plan_append(&tree, &pointer_of(pointer), &new)?;
    let (before, after) = bytes.split_at(at.min(bytes.len()));
    let mut out = Vec::with_capacity(bytes.len() + text.len());
    out.extend_from_slice(before);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(after);
    Ok(out)
}

/// Parse the element [`append_to_array`] is given.
fn read_element(element: &str) -> Result<Tree<'_>, FileError> {
    let problem = |why: &dyn std::fmt::Display| {
        FileError::new(format!("the new element is not valid JSON: {why}"))
    };
    if element
        .trim_matches(['\u{FEFF}', ' ', '\t', '\r', '\n'])
        .is_empty()
    {
        return Err(problem(&"it is empty"));
    }
    read_tree(element.as_bytes()).map_err(|e| problem(&e))
}

/// How a file lays out its text, for what is inserted into it.
struct Style<'s> {
    /// `\r\n` or `\n`.
    newline: &'static str,
    /// One level of indentation.
    unit: &'s str,
    /// Between a member's name and its value, `:` included.
    colon: &'s str,
    /// Between two values on one line, `,` included.
    comma: &'s str,
}

/// Where and what to insert: the text goes in before byte `.0`.
fn plan_append(
    tree: &Tree<'_>,
    pointer: &str,
    new: &Tree<'_>,
) -> Result<(usize, String), FileError> {
    let problem = |p: Problem| FileError::at(p.line, None, p.message);
    let name = |pointer: &str| {
        if pointer.is_empty() {
            "the top level".to_string()
        } else {
            pointer.to_string()
        }
    };
    if let Some(id) = tree
        .resolve(ROOT, pointer, "the document")
        .map_err(problem)?
    {
        let node = tree.nodes.get(id).copied().unwrap_or(EMPTY_NODE);
        if node.kind != Kind::Array {
            return Err(FileError::at(
                node.line,
                None,
                format!(
                    "expected an array at {}, found {}",
                    name(pointer),
                    node.kind.describe()
                ),
            ));
        }
        return Ok(tree.append_element(id, new));
    }
    // Nothing there: add the member to the parent object.
    let cut = pointer.rfind('/').unwrap_or(0);
    let (parent, token) = (
        pointer.get(..cut).unwrap_or(""),
        pointer.get(cut + 1..).unwrap_or(""),
    );
    let Some(parent_id) = tree
        .resolve(ROOT, parent, "the document")
        .map_err(problem)?
    else {
        return Err(FileError::new(format!(
            "expected an array at {pointer}, found nothing, and no object at {} to add it to",
            name(parent)
        )));
    };
    let node = tree.nodes.get(parent_id).copied().unwrap_or(EMPTY_NODE);
    if node.kind != Kind::Object {
        return Err(FileError::at(
            node.line,
            None,
            format!(
                "expected an array at {pointer}, found nothing; cannot add it to {}: expected an object there, found {}",
                name(parent),
                node.kind.describe()
            ),
        ));
    }
    let member = String::from_utf8_lossy(&quote(&unescape_token(token))).into_owned();
    Ok(tree.append_member(parent_id, &member, new))
}

/// Stands in for a node that is not there (never, for ids the tree gave).
const EMPTY_NODE: Node = Node {
    kind: Kind::Null,
    start: 0,
    end: 0,
    line: 0,
    first_child: NIL,
    next: NIL,
    name: Name::NONE,
};

impl<'a> Tree<'a> {
    fn text(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or("")
    }

    fn node(&self, id: usize) -> Node {
        self.nodes.get(id).copied().unwrap_or(EMPTY_NODE)
    }

    /// Where a node's text begins: its member name, if it has one.
    fn first_byte(node: &Node) -> usize {
        if node.name.end > node.name.start {
            node.name.start as usize
        } else {
            node.start as usize
        }
    }

    /// Start of the line holding byte `at` (after a BOM on line 1).
    fn line_start(&self, at: usize) -> usize {
        let before = self.src.as_bytes().get(..at).unwrap_or(&[]);
        match memchr::memrchr(b'\n', before) {
            Some(i) => i + 1,
            None if before.starts_with(BOM) => BOM.len(),
            None => 0,
        }
    }

    /// The spaces and tabs that begin the line holding byte `at`.
    fn indent(&self, at: usize) -> &'a str {
        let start = self.line_start(at);
        let line = self.text(start, at.max(start));
        let len = line.len() - line.trim_start_matches([' ', '\t']).len();
        self.text(start, start + len)
    }

    /// Whether only spaces and tabs come before byte `at` on its line.
    fn starts_line(&self, at: usize) -> bool {
        self.indent(at).len() == at - self.line_start(at)
    }

    /// Node `id` and everything inside it (nodes are in document order).
    fn within(&self, id: usize) -> impl Iterator<Item = (usize, Node)> + '_ {
        let end = self.node(id).end;
        self.nodes
            .iter()
            .copied()
            .enumerate()
            .skip(id)
            .take_while(move |(i, n)| *i == id || n.start < end)
    }

    /// The file's indent unit: how much deeper than its container's line
    /// the first child that starts a line is indented, for the first
    /// container inside `id` that has one.
    fn indent_unit(&self, id: usize) -> Option<&'a str> {
        self.within(id).find_map(|(cid, container)| {
            let (_, child) = self.children(cid).next()?;
            let at = Self::first_byte(child);
            if !self.starts_line(at) || self.line_start(at) <= container.start as usize {
                return None;
            }
            let unit = self
                .indent(at)
                .strip_prefix(self.indent(container.start as usize))?;
            (!unit.is_empty()).then_some(unit)
        })
    }

    /// The text between the first member name and its value inside `id`
    /// that are on one line.
    fn colon_style(&self, id: usize) -> Option<&'a str> {
        self.within(id).find_map(|(_, n)| {
            let gap = self.text(n.name.end as usize, n.start as usize);
            (n.name.end > n.name.start && !gap.contains(['\n', '\r'])).then_some(gap)
        })
    }

    /// The text between the first two siblings inside `id` that are on
    /// one line.
    fn comma_style(&self, id: usize) -> Option<&'a str> {
        self.within(id).find_map(|(cid, _)| {
            let mut prev: Option<&Node> = None;
            self.children(cid).find_map(|(_, child)| {
                let gap = prev.map(|p| self.text(p.end as usize, Self::first_byte(child)));
                prev = Some(child);
                gap.filter(|gap| !gap.contains(['\n', '\r']))
            })
        })
    }

    fn style(&self, near: usize) -> Style<'a> {
        let bytes = self.src.as_bytes();
        let crlf = memchr::memchr(b'\n', bytes).is_some_and(|i| i > 0 && bytes[i - 1] == b'\r');
        Style {
            newline: if crlf { "\r\n" } else { "\n" },
            unit: self
                .indent_unit(near)
                .or_else(|| self.indent_unit(ROOT))
                .unwrap_or("  "),
            colon: self
                .colon_style(near)
                .or_else(|| self.colon_style(ROOT))
                .unwrap_or(": "),
            comma: self
                .comma_style(near)
                .or_else(|| self.comma_style(ROOT))
                .unwrap_or(", "),
        }
    }

    /// The last child of container `id` and where the text before it
    /// begins (just after the `[`/`{` or the previous child).
    fn last_child(&self, id: usize) -> Option<(usize, Node, usize)> {
        let mut gap_start = self.node(id).start as usize + 1;
        let mut last: Option<(usize, Node, usize)> = None;
        for (cid, child) in self.children(id) {
            if let Some((_, prev, _)) = last {
                gap_start = prev.end as usize;
            }
            last = Some((cid, *child, gap_start));
        }
        last
    }

    /// Text that opens the empty container `id` onto lines holding `body`
    /// (already indented for one level deeper than the container's line).
    fn fill_empty(&self, id: usize, body: &str, style: &Style<'_>) -> (usize, String) {
        let node = self.node(id);
        let indent = self.indent(Self::first_byte(&node));
        let (open, close) = (
            node.start as usize + 1,
            (node.end as usize).saturating_sub(1),
        );
        let line = format!("{}{indent}{}{body}", style.newline, style.unit);
        if self.text(open, close).contains('\n') {
            // `[` + line break + indentation `]`: the break is there already.
            (open, line)
        } else {
            (close, format!("{line}{}{indent}", style.newline))
        }
    }

    /// Insert `new`'s value as the last element of the array `id`.
    fn append_element(&self, id: usize, new: &Tree<'_>) -> (usize, String) {
        let Some((last_id, last, gap_start)) = self.last_child(id) else {
            let style = self.style(id);
            let indent = format!(
                "{}{}",
                self.indent(self.node(id).start as usize),
                style.unit
            );
            let body = new.pretty(ROOT, &indent, &style);
            return self.fill_empty(id, &body, &style);
        };
        let style = self.style(last_id);
        let end = last.end as usize;
        if self.text(gap_start, last.start as usize).contains('\n') {
            let indent = self.indent(last.start as usize);
            let multiline = matches!(last.kind, Kind::Array | Kind::Object)
                && self.text(last.start as usize, end).contains('\n');
            let body = if multiline {
                new.pretty(ROOT, indent, &style)
            } else {
                new.one_line(ROOT)
            };
            (end, format!(",{}{indent}{body}", style.newline))
        } else {
            let comma = if gap_start > self.node(id).start as usize + 1 {
                self.text(gap_start, last.start as usize)
            } else {
                style.comma
            };
            (end, format!("{comma}{}", new.one_line(ROOT)))
        }
    }

    /// Insert `"name": [new]` as the last member of the object `id`;
    /// `member` is the name token, quotes included.
    fn append_member(&self, id: usize, member: &str, new: &Tree<'_>) -> (usize, String) {
        let Some((_, last, gap_start)) = self.last_child(id) else {
            let style = self.style(id);
            let indent = format!(
                "{}{}",
                self.indent(self.node(id).start as usize),
                style.unit
            );
            let body = format!("{member}{}{}", style.colon, new.array_of(&indent, &style));
            return self.fill_empty(id, &body, &style);
        };
        let style = self.style(id);
        let first = Self::first_byte(&last);
        let end = last.end as usize;
        if self.text(gap_start, first).contains('\n') {
            let indent = self.indent(first);
            let array = new.array_of(indent, &style);
            let text = format!(",{}{indent}{member}{}{array}", style.newline, style.colon);
            (end, text)
        } else {
            let comma = if gap_start > self.node(id).start as usize + 1 {
                self.text(gap_start, first)
            } else {
                style.comma
            };
            let text = format!("{comma}{member}{}[{}]", style.colon, new.one_line(ROOT));
            (end, text)
        }
    }

    /// `[`, the value pretty-printed one level deeper than `indent` on a
    /// line of its own, and `]` on a line at `indent`.
    fn array_of(&self, indent: &str, style: &Style<'_>) -> String {
        let inner = format!("{indent}{}", style.unit);
        format!(
            "[{nl}{inner}{}{nl}{indent}]",
            self.pretty(ROOT, &inner, style),
            nl = style.newline
        )
    }

    /// Node `id` with one member or element per line, nested ones one
    /// `style.unit` deeper than `indent` (the indentation of its first
    /// line); empty arrays and objects as `[]` and `{}`; scalar tokens and
    /// member names as they are.
    fn pretty(&self, id: usize, indent: &str, style: &Style<'_>) -> String {
        let mut out = String::new();
        self.write_pretty(id, indent, style, &mut out);
        out
    }

    fn write_pretty(&self, id: usize, indent: &str, style: &Style<'_>, out: &mut String) {
        let node = self.node(id);
        let (open, close) = match node.kind {
            Kind::Array => ('[', ']'),
            Kind::Object => ('{', '}'),
            _ => {
                out.push_str(self.text(node.start as usize, node.end as usize));
                return;
            }
        };
        out.push(open);
        let inner = format!("{indent}{}", style.unit);
        for (i, (cid, child)) in self.children(id).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(style.newline);
            out.push_str(&inner);
            if node.kind == Kind::Object {
                out.push_str(self.text(child.name.start as usize, child.name.end as usize));
                out.push_str(style.colon);
            }
            self.write_pretty(cid, &inner, style, out);
        }
        if node.first_child != NIL {
            out.push_str(style.newline);
            out.push_str(indent);
        }
        out.push(close);
    }

    /// Node `id` on one line: its text as given if that has no line
    /// break, else rebuilt with `, ` and `: `.
    fn one_line(&self, id: usize) -> String {
        let node = self.node(id);
        let text = self.text(node.start as usize, node.end as usize);
        if !text.contains(['\n', '\r']) {
            return text.to_string();
        }
        let mut out = String::new();
        self.write_one_line(id, &mut out);
        out
    }

    fn write_one_line(&self, id: usize, out: &mut String) {
        let node = self.node(id);
        let (open, close) = match node.kind {
            Kind::Array => ('[', ']'),
            Kind::Object => ('{', '}'),
            _ => {
                out.push_str(self.text(node.start as usize, node.end as usize));
                return;
            }
        };
        out.push(open);
        for (i, (cid, child)) in self.children(id).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if node.kind == Kind::Object {
                out.push_str(self.text(child.name.start as usize, child.name.end as usize));
                out.push_str(": ");
            }
            self.write_one_line(cid, out);
        }
        out.push(close);
    }
}

/// Set the member `name` of the document's top-level object to
/// `value_json` (one complete JSON value) and return the new file bytes.
///
/// A member that is there has only its value's bytes replaced; every other
/// byte is kept. A value that already equals `value_json` (same tokens,
/// strings compared unescaped) keeps its bytes: the file comes back as it
/// was. A missing member becomes the new last member, laid out like the
/// others: on a line of its own with the last member's indentation, a `,`
/// added after that member, its `:` spacing (or the file's), the file's
/// line breaks; the closing brace's line and everything after it are kept.
/// In a one-line object it follows the last member after the separator
/// between the last two members (`, ` when there is only one, or `,` when
/// its `:` has no space). An empty object stays on one line (`{}` becomes
/// `{"name": value}`) unless its braces are on different lines (`{`, line
/// break, `}`), then the member goes on a line of its own.
///
/// The value is written as given when it goes on one line; when it goes
/// on a member's own line or replaces a value that spans lines, a
/// non-empty array or object is pretty-printed with the file's indent
/// unit. A one-line array or object is replaced on one line.
///
/// Errors: the file is not valid JSON or its top level is not an object,
/// the member is given twice, `value_json` is not one JSON value.
pub fn set_member(bytes: &[u8], name: &str, value_json: &str) -> Result<Vec<u8>, FileError> {
    let tree = read_tree(bytes)?;
    let new = read_member_value(value_json)?;
    let root = tree.node(ROOT);
    if root.kind != Kind::Object {
        return Err(FileError::at(
            root.line,
            None,
            format!(
                "expected an object at the top level, found {}",
                root.kind.describe()
            ),
        ));
    }
    let mut found = tree
        .children(ROOT)
        .filter(|(_, child)| tree.name_is(child, name));
    let (start, end, text) = match (found.next(), found.next()) {
        (Some((_, a)), Some((_, b))) => {
            return Err(FileError::at(
                b.name.line,
                None,
                format!(
                    "the member `{name}` is given twice (lines {} and {})",
                    a.name.line, b.name.line
                ),
            ));
        }
        (Some((id, _)), None) => {
            if same_value(&tree, id, &new, ROOT) {
                return Ok(bytes.to_vec());
            }
            tree.replace_value(id, &new)
        }
        (None, _) => {
            let member = String::from_utf8_lossy(&quote(name)).into_owned();
            let (at, text) = tree.insert_member(ROOT, &member, &new);
            (at, at, text)
        }
    };
    let (start, end) = (start.min(bytes.len()), end.min(bytes.len()));
    let mut out = Vec::with_capacity(bytes.len() - (end - start) + text.len());
    out.extend_from_slice(&bytes[..start]);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&bytes[end..]);
    Ok(out)
}

/// Parse the value [`set_member`] is given.
fn read_member_value(value: &str) -> Result<Tree<'_>, FileError> {
    let problem = |why: &dyn std::fmt::Display| {
        FileError::new(format!("the new value is not valid JSON: {why}"))
    };
    if value
        .trim_matches(['\u{FEFF}', ' ', '\t', '\r', '\n'])
        .is_empty()
    {
        return Err(problem(&"it is empty"));
    }
    read_tree(value.as_bytes()).map_err(|e| problem(&e))
}

/// Whether node `a` of `x` and node `b` of `y` hold the same value:
/// strings and member names compared unescaped, other scalars by their
/// tokens, members in order.
fn same_value(x: &Tree<'_>, a: usize, y: &Tree<'_>, b: usize) -> bool {
    let (na, nb) = (x.node(a), y.node(b));
    match (na.kind, nb.kind) {
        (Kind::String { .. }, Kind::String { .. }) => {
            unescape(x.inner(na.start, na.end)) == unescape(y.inner(nb.start, nb.end))
        }
        (Kind::Array, Kind::Array) | (Kind::Object, Kind::Object) => {
            let (mut xs, mut ys) = (x.children(a), y.children(b));
            loop {
                match (xs.next(), ys.next()) {
                    (None, None) => return true,
                    (Some((ca, child_a)), Some((cb, child_b))) => {
                        let names_match = na.kind == Kind::Array
                            || unescape(x.inner(child_a.name.start, child_a.name.end))
                                == unescape(y.inner(child_b.name.start, child_b.name.end));
                        if !names_match || !same_value(x, ca, y, cb) {
                            return false;
                        }
                    }
                    _ => return false,
                }
            }
        }
        (ka, kb) if ka == kb => {
            x.text(na.start as usize, na.end as usize) == y.text(nb.start as usize, nb.end as usize)
        }
        _ => false,
    }
}

impl Tree<'_> {
    /// The bytes `start..end` to replace and the text to put there, for
    /// member value `id` set to `new`'s value.
    fn replace_value(&self, id: usize, new: &Tree<'_>) -> (usize, usize, String) {
        let old = self.node(id);
        let (start, end) = (old.start as usize, old.end as usize);
        let multiline = match old.kind {
            Kind::Array | Kind::Object if old.first_child != NIL => {
                self.text(start, end).contains('\n')
            }
            _ => self.starts_line(Self::first_byte(&old)),
        };
        let text = if multiline {
            let indent = self.indent(Self::first_byte(&old));
            new.pretty(ROOT, indent, &self.style(id))
        } else {
            new.one_line(ROOT)
        };
        (start, end, text)
    }

    /// Where to insert `"name": new` as the last member of the object
    /// `id`, and the text; `member` is the name token, quotes included.
    fn insert_member(&self, id: usize, member: &str, new: &Tree<'_>) -> (usize, String) {
        let node = self.node(id);
        let style = self.style(id);
        let Some((_, last, gap_start)) = self.last_child(id) else {
            let open = node.start as usize + 1;
            let close = (node.end as usize).saturating_sub(1);
            if self.text(open, close).contains('\n') {
                let indent = format!("{}{}", self.indent(Self::first_byte(&node)), style.unit);
                let value = new.pretty(ROOT, &indent, &style);
                let body = format!("{member}{}{value}", style.colon);
                return self.fill_empty(id, &body, &style);
            }
            return (
                open,
                format!("{member}{}{}", style.colon, new.one_line(ROOT)),
            );
        };
        let first = Self::first_byte(&last);
        let end = last.end as usize;
        let own = self.text(last.name.end as usize, last.start as usize);
        let colon = if own.contains(['\n', '\r']) {
            style.colon
        } else {
            own
        };
        if self.text(gap_start, first).contains('\n') {
            let indent = self.indent(first);
            let value = new.pretty(ROOT, indent, &style);
            let text = format!(",{}{indent}{member}{colon}{value}", style.newline);
            (end, text)
        } else {
            let comma = if gap_start > node.start as usize + 1 {
                self.text(gap_start, first)
            } else {
                self.comma_style(id)
                    .unwrap_or(if colon.contains([' ', '\t']) {
                        ", "
                    } else {
                        ","
                    })
            };
            (end, format!("{comma}{member}{colon}{}", new.one_line(ROOT)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::line_of;
    use crate::{KeyTemplate, edit_value};
    use proptest::prelude::*;

    const PATH: &str = ".claude/features/onboarding/state.json";

    fn item_fields(
        key: &str,
        status: &str,
        owner: Option<&str>,
        fields: &[(&str, &str)],
    ) -> ItemFields {
        ItemFields {
            key: KeyTemplate::parse(key).unwrap(),
            status: status.into(),
            owner: owner.map(String::from),
            fields: fields
                .iter()
                .map(|(label, at)| (label.to_string(), at.to_string()))
                .collect(),
        }
    }

    /// The whole document is the item: a feature's state.
    fn document_format() -> Json {
        Json {
            item: item_fields(
                "{dir}",
                "/current_phase",
                Some("/state_owner"),
                &[("paused", "/paused")],
            ),
            items: None,
        }
    }

    /// Each element of `/tasks` is an item.
    fn tasks_format() -> Json {
        Json {
            item: item_fields(
                "{dir}/{id}",
                "/status",
                Some("/owner"),
                &[("title", "title")],
            ),
            items: Some("/tasks".into()),
        }
    }

    fn try_parse(format: &Json, text: impl AsRef<[u8]>) -> Result<ParsedFile, FileError> {
        format.parse(FileContext { path: PATH }, text.as_ref())
    }

    fn parse(format: &Json, text: impl AsRef<[u8]>) -> ParsedFile {
        try_parse(format, text).unwrap()
    }

    fn error(text: impl AsRef<[u8]>) -> FileError {
        try_parse(&tasks_format(), text).unwrap_err()
    }

    /// (key, item line, status text) of every item.
    fn summary(parsed: &ParsedFile) -> Vec<(String, u32, Option<String>)> {
        parsed
            .items
            .iter()
            .map(|i| {
                (
                    i.key.clone(),
                    i.line,
                    i.status.as_ref().map(|s| s.text.clone()),
                )
            })
            .collect()
    }

    fn warnings(parsed: &ParsedFile) -> Vec<(u32, &str)> {
        parsed
            .warnings
            .iter()
            .map(|w| (w.line, w.message.as_str()))
            .collect()
    }

    fn at<'t>(text: &'t str, value: &SpannedValue) -> &'t str {
        &text[value.span.clone()]
    }

    const STATE: &str = r#"{
  "name": "onboarding",
  "state_owner": "fitme-story",
  "current_phase": "tasks_phase",
  "paused": false,
  "tasks": [
    {"id": "T1", "title": "Write \"spec\"", "status": "done"},
    {
      "id": "T2",
      "status": "in_progress",
      "owner": null
    },
    {"id": "T3", "status": "todo", "deps": ["T1", "T2"], "owner": "ana"}
  ],
  "metrics": {"tasks": 3}
}
"#;

    #[test]
    fn reads_state_json_as_one_document_item() {
        let parsed = parse(&document_format(), STATE);
        assert_eq!(parsed.warnings, vec![]);
        assert_eq!(
            summary(&parsed),
            vec![("onboarding".into(), 1, Some("tasks_phase".into()))]
        );
        let item = &parsed.items[0];
        let status = item.status.as_ref().unwrap();
        assert_eq!(at(STATE, status), "\"tasks_phase\"");
        assert_eq!(status.line, 4);
        let owner = item.owner.as_ref().unwrap();
        assert_eq!((owner.text.as_str(), owner.line), ("fitme-story", 3));
        assert_eq!(at(STATE, owner), "\"fitme-story\"");
        let (label, paused) = &item.fields[0];
        assert_eq!((label.as_str(), paused.text.as_str()), ("paused", "false"));
        assert_eq!((at(STATE, paused), paused.line), ("false", 5));
    }

    #[test]
    fn reads_tasks_as_items_with_lines_and_spans() {
        let parsed = parse(&tasks_format(), STATE);
        assert_eq!(parsed.warnings, vec![]);
        assert_eq!(
            summary(&parsed),
            vec![
                ("onboarding/T1".into(), 7, Some("done".into())),
                ("onboarding/T2".into(), 8, Some("in_progress".into())),
                ("onboarding/T3".into(), 13, Some("todo".into())),
            ]
        );
        let [t1, t2, t3] = &parsed.items[..] else {
            panic!("three items")
        };
        let status = t1.status.as_ref().unwrap();
        assert_eq!((at(STATE, status), status.line), ("\"done\"", 7));
        assert_eq!(t1.fields[0].1.text, "Write \"spec\"");
        assert_eq!(at(STATE, &t1.fields[0].1), r#""Write \"spec\"""#);
        assert_eq!(t1.owner, None);
        let status = t2.status.as_ref().unwrap();
        assert_eq!((at(STATE, status), status.line), ("\"in_progress\"", 10));
        assert_eq!(t2.owner, None, "null reads as absent");
        assert_eq!(t3.owner.as_ref().unwrap().text, "ana");
        assert_eq!(
            at(STATE, t3.status.as_ref().unwrap()),
            "\"done\"".replace("done", "todo")
        );
    }

    #[test]
    fn escapes_in_strings_names_and_pointers() {
        let text = r#"{"tasks": [
  {"id": "T\u0031", "status": "in\u0020progress"},
  {"id": "T2", "status": "\"q\""},
  {"id": "T3", "st\u0061tus": "a\\b\/c\u00e9\ud83d\ude00\n"},
  {"id": "T4", "status": "héllo wörld"}
], "a/b": {"m~n": ["x", "y"]}}"#;
        let parsed = parse(&tasks_format(), text);
        assert_eq!(parsed.warnings, vec![]);
        assert_eq!(
            summary(&parsed),
            vec![
                ("onboarding/T1".into(), 2, Some("in progress".into())),
                ("onboarding/T2".into(), 3, Some("\"q\"".into())),
                ("onboarding/T3".into(), 4, Some("a\\b/cé😀\n".into())),
                ("onboarding/T4".into(), 5, Some("héllo wörld".into())),
            ]
        );
        let spans: Vec<_> = parsed
            .items
            .iter()
            .map(|i| at(text, i.status.as_ref().unwrap()))
            .collect();
        assert_eq!(
            spans,
            vec![
                r#""in\u0020progress""#,
                r#""\"q\"""#,
                r#""a\\b\/c\u00e9\ud83d\ude00\n""#,
                "\"héllo wörld\"",
            ]
        );
        // `~1` is `/` and `~0` is `~`; numbers index arrays.
        let format = Json {
            item: item_fields("{dir}", "/a~1b/m~0n/1", None, &[]),
            items: None,
        };
        let item = &parse(&format, text).items[0];
        assert_eq!(item.status.as_ref().unwrap().text, "y");
        // A key may use a pointer, too.
        let format = Json {
            item: item_fields("{/a~1b/m~0n/0}-{dir}", "/none", None, &[]),
            items: None,
        };
        assert_eq!(parse(&format, text).items[0].key, "x-onboarding");
    }

    #[test]
    fn crlf_bom_tabs_pretty_and_minified() {
        let text = "\u{FEFF}{\r\n\t\"tasks\":\t[\r\n\t\t{\"id\":\"A\",\t\"status\":\t\"done\"},\r\n\t\t{ \"status\" : \"todo\" , \"id\" : \"B\" }\r\n\t]\r\n}\r\n";
        let parsed = parse(&tasks_format(), text);
        assert_eq!(parsed.warnings, vec![]);
        assert_eq!(
            summary(&parsed),
            vec![
                ("onboarding/A".into(), 3, Some("done".into())),
                ("onboarding/B".into(), 4, Some("todo".into())),
            ]
        );
        let b = parsed.items[1].status.clone().unwrap();
        assert_eq!((at(text, &b), b.line), ("\"todo\"", 4));
        let edited = edit_value(&tasks_format(), text.as_bytes(), &b, "in progress").unwrap();
        assert_eq!(
            String::from_utf8(edited).unwrap(),
            text.replace("\"todo\"", "\"in progress\"")
        );
        let document = parse(&document_format(), text);
        assert_eq!(document.items[0].line, 1, "the BOM is not a line");

        let minified = r#"{"current_phase":"build","tasks":[{"id":"A","status":"done"},{"id":"B","status":7}]}"#;
        let parsed = parse(&tasks_format(), minified);
        assert_eq!(
            summary(&parsed),
            vec![
                ("onboarding/A".into(), 1, Some("done".into())),
                ("onboarding/B".into(), 1, Some("7".into())),
            ]
        );
        assert_eq!(at(minified, parsed.items[1].status.as_ref().unwrap()), "7");
        let document = parse(&document_format(), minified);
        assert_eq!(document.items[0].status.as_ref().unwrap().text, "build");
    }

    #[test]
    fn edit_keeps_member_order_and_every_other_byte() {
        let parsed = parse(&tasks_format(), STATE);
        let status = parsed.items[1].status.clone().unwrap();
        let edited = edit_value(
            &tasks_format(),
            STATE.as_bytes(),
            &status,
            "blocked \"now\"",
        )
        .unwrap();
        let edited = String::from_utf8(edited).unwrap();
        assert_eq!(
            edited,
            STATE.replace("\"in_progress\"", r#""blocked \"now\"""#)
        );
        let reparsed = parse(&tasks_format(), &edited);
        assert_eq!(
            summary(&reparsed),
            vec![
                ("onboarding/T1".into(), 7, Some("done".into())),
                ("onboarding/T2".into(), 8, Some("blocked \"now\"".into())),
                ("onboarding/T3".into(), 13, Some("todo".into())),
            ]
        );
        // The document item's values are untouched as well.
        let before = parse(&document_format(), STATE);
        let after = parse(&document_format(), &edited);
        assert_eq!(before, after);
    }

    #[test]
    fn encode_value_writes_minimally_escaped_strings() {
        let format = tasks_format();
        let encode = |old: &str, new: &str| {
            String::from_utf8(format.encode_value(old.as_bytes(), new).unwrap()).unwrap()
        };
        assert_eq!(encode("\"todo\"", "done"), "\"done\"");
        assert_eq!(
            encode("\"todo\"", "a\"b\\c/\n\t\r\u{8}\u{c}\u{1}\u{7f}é😀"),
            r#""a\"b\\c/\n\t\r\b\f\u0001"#.to_string() + "\u{7f}é😀\""
        );
        // Numbers and booleans become strings: statuses are text.
        assert_eq!(encode("3", "done"), "\"done\"");
        assert_eq!(encode("true", "3"), "\"3\"");
        // Writing back the text a value has keeps its bytes, escapes and all.
        assert_eq!(
            encode(r#""in\u0020progress""#, "in progress"),
            r#""in\u0020progress""#
        );
        assert_eq!(encode(r#""in\u0020progress""#, "done"), "\"done\"");

        let text = "{\"id\": \"x\", \"status\": 3, \"owner\": true}";
        let format = Json {
            item: item_fields("{id}", "/status", Some("/owner"), &[]),
            items: None,
        };
        let item = &parse(&format, text).items[0];
        let edited = edit_value(
            &format,
            text.as_bytes(),
            item.status.as_ref().unwrap(),
            "4 \"x\"",
        )
        .unwrap();
        assert_eq!(
            edited,
            b"{\"id\": \"x\", \"status\": \"4 \\\"x\\\"\", \"owner\": true}"
        );
        let again = &parse(&format, &edited).items[0];
        assert_eq!(again.status.as_ref().unwrap().text, "4 \"x\"");
        assert_eq!(again.owner.as_ref().unwrap().text, "true");
    }

    #[test]
    fn items_that_are_not_arrays_or_objects_warn() {
        let format = tasks_format();
        let object = parse(&format, "{\n\"tasks\": {\"T1\": {\"status\": \"done\"}}}");
        assert!(object.items.is_empty());
        assert_eq!(
            warnings(&object),
            vec![(2, "expected an array at /tasks, found an object (line 2)")]
        );
        let string = parse(&format, r#"{"tasks": "none"}"#);
        assert_eq!(
            warnings(&string),
            vec![(1, "expected an array at /tasks, found a string (line 1)")]
        );
        let top = Json {
            items: Some(String::new()),
            ..tasks_format()
        };
        assert_eq!(
            warnings(&parse(&top, r#"{"id": "A"}"#)),
            vec![(
                1,
                "expected an array at the top level, found an object (line 1)"
            )]
        );
        assert_eq!(parse(&top, r#"[{"id": "A"}]"#).items.len(), 1);
        for quiet in [
            r#"{"tasks": null}"#,
            r#"{"other": []}"#,
            "{}",
            r#"{"tasks": []}"#,
        ] {
            assert_eq!(parse(&format, quiet), ParsedFile::default(), "{quiet}");
        }
        assert_eq!(
            warnings(&parse(&format, "[]")),
            vec![(
                1,
                "cannot follow /tasks: expected an object at the document, found an array (line 1)"
            )]
        );
        let elements = "{\"tasks\": [\n  1,\n  \"x\",\n  null,\n  {\"id\": \"A\", \"status\": \"done\"},\n  []\n]}";
        let parsed = parse(&format, elements);
        assert_eq!(
            summary(&parsed),
            vec![("onboarding/A".into(), 5, Some("done".into()))]
        );
        assert_eq!(
            warnings(&parsed),
            vec![
                (
                    2,
                    "element /tasks/0 at line 2 skipped: expected an object, found a number"
                ),
                (
                    3,
                    "element /tasks/1 at line 3 skipped: expected an object, found a string"
                ),
                (
                    4,
                    "element /tasks/2 at line 4 skipped: expected an object, found null"
                ),
                (
                    6,
                    "element /tasks/4 at line 6 skipped: expected an object, found an array"
                ),
            ]
        );
    }

    #[test]
    fn pointers_through_scalars_warn_and_through_null_are_absent() {
        let deep = |items: &str| Json {
            items: Some(items.into()),
            ..tasks_format()
        };
        let text = "{\n  \"tasks\": \"s\",\n  \"list\": [[{\"id\": \"A\", \"status\": \"done\"}]],\n  \"gone\": null\n}";
        assert_eq!(
            warnings(&parse(&deep("/tasks/x/y"), text)),
            vec![(
                2,
                "cannot follow /tasks/x/y: expected an object or array at /tasks, found a string (line 2)"
            )]
        );
        assert_eq!(
            warnings(&parse(&deep("/list/x"), text)),
            vec![(
                3,
                "cannot follow /list/x: expected an object at /list, found an array (line 3)"
            )]
        );
        let nested = parse(&deep("/list/0"), text);
        assert_eq!(
            summary(&nested),
            vec![("onboarding/A".into(), 3, Some("done".into()))]
        );
        for quiet in ["/gone/x", "/list/1", "/list/-", "/missing/x"] {
            assert_eq!(parse(&deep(quiet), text), ParsedFile::default(), "{quiet}");
        }
        // A whole-document pointer relative to the element goes the same way.
        let format = Json {
            item: item_fields("{id}", "/status/label", None, &[]),
            ..tasks_format()
        };
        let parsed = parse(
            &format,
            r#"{"tasks": [{"id": "A", "status": "done"}, {"id": "B", "status": null}]}"#,
        );
        assert_eq!(summary(&parsed), vec![("B".into(), 1, None)]);
        assert_eq!(
            warnings(&parsed),
            vec![(
                1,
                "element /tasks/0 at line 1 skipped: cannot follow /status/label: expected an object or array at /status, found a string (line 1)"
            )]
        );
    }

    #[test]
    fn missing_keys_and_non_scalar_values_skip_the_item() {
        let text = "{\"tasks\": [\n  {\"status\": \"done\"},\n  {\"id\": null, \"status\": \"done\"},\n  {\"id\": \"  \", \"status\": \"done\"},\n  {\"id\": \"C\",\n   \"status\": {\"phase\": \"x\"}},\n  {\"id\": [\"D\"], \"status\": \"done\"},\n  {\"id\": 7, \"status\": null, \"owner\": \"bo\"}\n]}";
        let parsed = parse(&tasks_format(), text);
        assert_eq!(summary(&parsed), vec![("onboarding/7".into(), 8, None)]);
        assert_eq!(parsed.items[0].owner.as_ref().unwrap().text, "bo");
        assert_eq!(
            warnings(&parsed),
            vec![
                (
                    2,
                    "element /tasks/0 at line 2 skipped: it has no value at /id for its key"
                ),
                (
                    3,
                    "element /tasks/1 at line 3 skipped: it has no value at /id for its key"
                ),
                (
                    4,
                    "element /tasks/2 at line 4 skipped: it has no value at /id for its key"
                ),
                (
                    6,
                    "element /tasks/3 at line 5 skipped: expected a scalar at /status, found an object (line 6)"
                ),
                (
                    7,
                    "element /tasks/4 at line 7 skipped: expected a scalar at /id, found an array (line 7)"
                ),
            ]
        );
        let format = document_format();
        let nameless = format
            .parse(FileContext { path: "state.json" }, STATE.as_bytes())
            .unwrap();
        assert_eq!(
            warnings(&nameless),
            vec![(1, "document skipped: its path has no {dir} for its key")]
        );
    }

    #[test]
    fn duplicate_member_names_are_not_silently_picked() {
        let text = "{\"tasks\": [\n  {\"id\": \"A\",\n   \"status\": \"done\",\n   \"status\": \"todo\"},\n  {\"id\": \"B\", \"status\": \"done\", \"note\": 1, \"note\": 2}\n]}";
        let parsed = parse(&tasks_format(), text);
        assert_eq!(
            summary(&parsed),
            vec![("onboarding/B".into(), 5, Some("done".into()))]
        );
        assert_eq!(
            warnings(&parsed),
            vec![(
                4,
                "element /tasks/0 at line 2 skipped: `/status` is given twice (lines 3 and 4)"
            )]
        );
        let twice = parse(
            &tasks_format(),
            "{\"tasks\": [],\n \"tasks\": [{\"id\": \"A\"}]}",
        );
        assert!(twice.items.is_empty());
        assert_eq!(
            warnings(&twice),
            vec![(2, "`/tasks` is given twice (lines 1 and 2)")]
        );
        // Escaped and plain spellings of one name are the same name.
        let spelled = parse(
            &document_format(),
            r#"{"current_phase": "a", "current\u005fphase": "b"}"#,
        );
        assert_eq!(
            warnings(&spelled),
            vec![(
                1,
                "document skipped: `/current_phase` is given twice (lines 1 and 1)"
            )]
        );
    }

    #[test]
    fn invalid_json_reports_line_and_column() {
        let cases: &[(&str, u32, u32, &str)] = &[
            (
                "{\n  \"a\": 1,\n  \"b\" 2\n}",
                3,
                7,
                "expected `:` after the member name, found `2`",
            ),
            ("[1, 2,]", 1, 7, "expected a value, found `]`"),
            ("{\"a\": tru}", 1, 7, "expected a value, found `tru`"),
            ("[1] x", 1, 5, "expected the end of the document, found `x`"),
            (
                "[1",
                1,
                3,
                "expected `,` or `]` after an array element, found the end of the file",
            ),
            (
                "{\"a\": 1 \"b\": 2}",
                1,
                9,
                "expected `,` or `}` after an object member, found `\"`",
            ),
            (
                "{\"a\": 1,}",
                1,
                9,
                "expected a member name in double quotes, found `}`",
            ),
            (
                "{a: 1}",
                1,
                2,
                "expected a member name in double quotes or `}`, found `a`",
            ),
            (
                "{\"é\": \"ü\", x}",
                1,
                12,
                "expected a member name in double quotes, found `x`",
            ),
            (
                "\u{FEFF}[01]",
                1,
                3,
                "expected `.`, `e` or the end of the number after a leading `0`, found `1`",
            ),
            ("[-]", 1, 3, "expected a digit after `-`, found `]`"),
            (
                "[1.]",
                1,
                4,
                "expected a digit after `.` in a number, found `]`",
            ),
            (
                "[1e+]",
                1,
                5,
                "expected a digit in the number's exponent, found `]`",
            ),
            (
                "[\"a\\x\"]",
                1,
                5,
                "expected one of `\"\\/bfnrtu` after `\\` in a string, found `x`",
            ),
            (
                "[\"\\u12g4\"]",
                1,
                7,
                "expected four hex digits after `\\u`, found `g4`",
            ),
            (
                "[\"abc",
                1,
                6,
                "expected `\"` to close the string, found the end of the file",
            ),
            (
                "{\"a\": \"x\ny\"}",
                1,
                9,
                "expected `\"` to close the string (line breaks and control characters in strings must be escaped), found a line break",
            ),
            ("\r\n\r\n  nope", 3, 3, "expected a value, found `nope`"),
        ];
        for &(text, line, column, message) in cases {
            let e = error(text);
            assert_eq!(
                (e.line, e.column, e.message.as_str()),
                (Some(line), Some(column), message),
                "{text:?}"
            );
        }
        assert_eq!(
            error("[1,\n 2,]").to_string(),
            "line 2, column 4: expected a value, found `]`"
        );
        for empty in ["", "  \r\n\t", "\u{FEFF}"] {
            assert_eq!(
                error(empty),
                FileError::new("empty file, expected a JSON document")
            );
        }
    }

    #[test]
    fn invalid_utf8_is_a_file_error() {
        let e = error(b"{\n  \"status\": \"d\xFFne\"\n}");
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (
                Some(2),
                Some(15),
                "expected UTF-8 text, found the byte 0xFF"
            )
        );
        let e = error(b"\xEF\xBB\xBF[\"\xC3\xA9\xE2\x82");
        assert_eq!((e.line, e.column), (Some(1), Some(4)));
        // A UTF-16 document is not UTF-8 either.
        assert!(
            error(b"\xFF\xFE{\x00}\x00")
                .message
                .starts_with("expected UTF-8 text")
        );
    }

    #[test]
    fn deep_nesting_is_a_file_error_not_a_stack_overflow() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(try_parse(&tasks_format(), ok).is_ok());
        let e = error("[".repeat(100_000));
        assert_eq!(
            (e.line, e.column, e.message.as_str()),
            (
                Some(1),
                Some(257),
                "expected at most 256 levels of nesting, found more"
            )
        );
        let e = error("{\"a\":".repeat(100_000));
        assert!(e.message.contains("levels of nesting"), "{e}");
    }

    #[test]
    fn fittracker_state_files() {
        let dir = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpus/fittracker2/.claude/features"
        ));
        if !dir.is_dir() {
            eprintln!("skipped: {} is not here", dir.display());
            return;
        }
        let whole = Json {
            item: item_fields("{dir}", "/current_phase", Some("/state_owner"), &[]),
            items: None,
        };
        let each = Json {
            item: item_fields("{dir}/{id}", "/status", None, &[]),
            items: Some("/tasks".into()),
        };
        let (mut files, mut document_items, mut task_items) = (0, 0, 0);
        let mut task_warnings = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let feature = entry.unwrap().path();
            let Ok(bytes) = std::fs::read(feature.join("state.json")) else {
                continue;
            };
            let name = feature.file_name().unwrap().to_string_lossy().into_owned();
            let path = format!(".claude/features/{name}/state.json");
            let ctx = FileContext { path: &path };
            files += 1;
            let document = whole
                .parse(ctx, &bytes)
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(document.warnings, vec![], "{path}");
            assert_eq!(document.items.len(), 1, "{path}");
            assert_eq!(document.items[0].key, name);
            assert!(document.items[0].status.is_some(), "{path}");
            document_items += document.items.len();
            let tasks = each.parse(ctx, &bytes).unwrap();
            for item in &tasks.items {
                assert!(item.key.starts_with(&format!("{name}/")), "{}", item.key);
                let status = item.status.as_ref().unwrap();
                let old = &bytes[status.span.clone()];
                assert_eq!(old.first(), Some(&b'"'));
                // Writing back the value a status has changes nothing.
                assert_eq!(each.encode_value(old, &status.text).unwrap(), old);
            }
            task_items += tasks.items.len();
            task_warnings.extend(tasks.warnings.into_iter().map(|w| (path.clone(), w)));
        }
        assert_eq!(files, 132);
        assert_eq!(document_items, 132);
        assert_eq!(task_items, 828);
        assert_eq!(task_warnings.len(), 2, "{task_warnings:?}");
        for (path, warning) in &task_warnings {
            assert!(
                warning
                    .message
                    .starts_with("expected an array at /tasks, found an object"),
                "{path}: {warning:?}"
            );
        }
    }

    /// A JSON value for generated documents; strings carry how to escape them.
    #[derive(Debug, Clone)]
    enum J {
        Null,
        Bool(bool),
        Num(String),
        Str(String, u8),
        Arr(Vec<J>),
        Obj(Vec<(String, u8, J)>),
    }

    /// `text` as a JSON string; `style` picks optional escapes (`\/`,
    /// `\uXXXX` for everything not alphanumeric) on top of the required ones.
    fn encode(text: &str, style: u8) -> String {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '/' if style % 3 == 1 => out.push_str("\\/"),
                '\n' if style % 3 == 1 => out.push_str("\\n"),
                c if (c as u32) < 0x20 || (style % 3 == 2 && !c.is_ascii_alphanumeric()) => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04X}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// Writes a `J`, putting whitespace from `ws` (in turn) between tokens.
    struct Writer<'w> {
        out: String,
        ws: &'w [String],
        turn: usize,
    }

    impl Writer<'_> {
        fn ws(&mut self) {
            if let Some(ws) = self.ws.get(self.turn % self.ws.len().max(1)) {
                self.out.push_str(ws);
            }
            self.turn += 1;
        }

        fn value(&mut self, value: &J) {
            match value {
                J::Null => self.out.push_str("null"),
                J::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
                J::Num(n) => self.out.push_str(n),
                J::Str(s, style) => self.out.push_str(&encode(s, *style)),
                J::Arr(items) => {
                    self.out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            self.out.push(',');
                        }
                        self.ws();
                        self.value(item);
                    }
                    self.ws();
                    self.out.push(']');
                }
                J::Obj(members) => {
                    self.out.push('{');
                    for (i, (name, style, item)) in members.iter().enumerate() {
                        if i > 0 {
                            self.out.push(',');
                        }
                        self.ws();
                        self.out.push_str(&encode(name, *style));
                        self.ws();
                        self.out.push(':');
                        self.ws();
                        self.value(item);
                    }
                    self.ws();
                    self.out.push('}');
                }
            }
        }
    }

    fn render(value: &J, ws: &[String], bom: bool) -> String {
        let mut writer = Writer {
            out: String::new(),
            ws,
            turn: 0,
        };
        if bom {
            writer.out.push('\u{FEFF}');
        }
        writer.ws();
        writer.value(value);
        writer.ws();
        writer.out
    }

    fn text_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z_]{1,12}",
            "[a-z \"\\\\/\t\n\u{1}\u{7f}é€😀]{0,10}",
            any::<String>(),
        ]
    }

    fn ws_strategy() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec(
            prop_oneof![
                Just(""),
                Just(" "),
                Just("\n"),
                Just("\r\n"),
                Just("\n    "),
                Just("\t"),
                Just("\r\n\t\t"),
            ]
            .prop_map(String::from),
            1..8,
        )
    }

    fn json_strategy() -> impl Strategy<Value = J> {
        let leaf = prop_oneof![
            Just(J::Null),
            any::<bool>().prop_map(J::Bool),
            "-?(0|[1-9][0-9]{0,5})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?".prop_map(J::Num),
            (text_strategy(), any::<u8>()).prop_map(|(s, style)| J::Str(s, style)),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(J::Arr),
                proptest::collection::vec(("x_[a-z\"\\\\/~]{0,5}", any::<u8>(), inner), 0..5)
                    .prop_map(J::Obj),
            ]
        })
    }

    fn members_strategy() -> impl Strategy<Value = Vec<(String, u8, J)>> {
        proptest::collection::vec(("x_[a-z\"\\\\/~]{0,5}", any::<u8>(), json_strategy()), 0..3)
    }

    /// (id suffix, status, escape style, status before id, extra members)
    type Task = (String, String, u8, bool, Vec<(String, u8, J)>);

    fn task_strategy() -> impl Strategy<Value = Task> {
        (
            "[A-Za-z0-9-]{0,4}",
            text_strategy(),
            any::<u8>(),
            any::<bool>(),
            members_strategy(),
        )
    }

    /// A state document with the given tasks between random other members.
    fn state_document(tasks: &[Task], before: &[(String, u8, J)], after: &[(String, u8, J)]) -> J {
        let tasks = tasks
            .iter()
            .enumerate()
            .map(|(i, (suffix, status, style, status_first, extra))| {
                let id = (
                    "id".to_string(),
                    *style,
                    J::Str(format!("T{i}{suffix}"), *style),
                );
                let status = ("status".to_string(), *style, J::Str(status.clone(), *style));
                let mut members = extra.clone();
                let (first, second) = if *status_first {
                    (status, id)
                } else {
                    (id, status)
                };
                members.insert(members.len() / 2, first);
                members.push(second);
                J::Obj(members)
            })
            .collect();
        let mut members = before.to_vec();
        members.push(("tasks".into(), 0, J::Arr(tasks)));
        members.extend_from_slice(after);
        J::Obj(members)
    }

    proptest! {
        #[test]
        fn any_edit_changes_only_its_span(
            tasks in proptest::collection::vec(task_strategy(), 1..6),
            before in members_strategy(),
            after in members_strategy(),
            ws in ws_strategy(),
            bom in any::<bool>(),
            pick in any::<proptest::sample::Index>(),
            new in text_strategy(),
        ) {
            let text = render(&state_document(&tasks, &before, &after), &ws, bom);
            let format = tasks_format();
            let parsed = parse(&format, &text);
            prop_assert_eq!(&parsed.warnings, &vec![]);
            prop_assert_eq!(parsed.items.len(), tasks.len());
            for (i, (item, task)) in parsed.items.iter().zip(&tasks).enumerate() {
                prop_assert_eq!(&item.key, &format!("onboarding/T{i}{}", task.0));
                let status = item.status.as_ref().unwrap();
                prop_assert_eq!(&status.text, &task.1);
                prop_assert_eq!(at(&text, status), encode(&task.1, task.2));
                prop_assert_eq!(status.line, line_of(text.as_bytes(), status.span.start));
            }
            // The same value through a whole-document pointer.
            let whole = Json {
                item: item_fields("{dir}", "/tasks/0/status", None, &[]),
                items: None,
            };
            let document = parse(&whole, &text);
            prop_assert_eq!(&document.items[0].status, &parsed.items[0].status);

            let index = pick.index(tasks.len());
            let status = parsed.items[index].status.clone().unwrap();
            let edited = edit_value(&format, text.as_bytes(), &status, &new).unwrap();
            let span = status.span.clone();
            let written = edited.len() + span.len() - text.len();
            prop_assert_eq!(&edited[..span.start], &text.as_bytes()[..span.start]);
            prop_assert_eq!(&edited[span.start + written..], &text.as_bytes()[span.end..]);
            let reparsed = parse(&format, &edited);
            prop_assert_eq!(&reparsed.warnings, &vec![]);
            prop_assert_eq!(reparsed.items.len(), tasks.len());
            for (i, (again, was)) in reparsed.items.iter().zip(&parsed.items).enumerate() {
                prop_assert_eq!(&again.key, &was.key);
                let expected = if i == index { &new } else { &was.status.as_ref().unwrap().text };
                prop_assert_eq!(&again.status.as_ref().unwrap().text, expected);
            }
            // Writing the value it already has is a byte-identical no-op.
            let same = edit_value(&format, text.as_bytes(), &status, &status.text).unwrap();
            prop_assert_eq!(same, text.as_bytes());
        }

        #[test]
        fn generated_json_parses_and_mutations_never_panic(
            value in json_strategy(),
            ws in ws_strategy(),
            bom in any::<bool>(),
            at in any::<proptest::sample::Index>(),
            op in 0u8..3,
            byte in proptest::sample::select(b"{}[],:\"\\ 0e-.tnx\n\xC3".to_vec()),
        ) {
            let text = render(&value, &ws, bom);
            prop_assert!(try_parse(&document_format(), &text).is_ok(), "{:?}", text);
            let _ = try_parse(&tasks_format(), &text);
            let mut bytes = text.into_bytes();
            let i = at.index(bytes.len() + 1);
            match op {
                0 if i < bytes.len() => { bytes.remove(i); }
                1 if i < bytes.len() => bytes[i] = byte,
                _ => bytes.insert(i, byte),
            }
            for format in [document_format(), tasks_format()] {
                if let Err(e) = try_parse(&format, &bytes) {
                    let lines = memchr::memchr_iter(b'\n', &bytes).count() as u32 + 1;
                    if e.message != "empty file, expected a JSON document" {
                        prop_assert!(e.line.is_some_and(|l| l <= lines) && e.column.is_some(), "{:?}", e);
                    }
                }
            }
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = try_parse(&tasks_format(), &bytes);
            let _ = try_parse(&document_format(), &bytes);
        }

        #[test]
        fn never_panics_on_json_like_text(text in "[\\[\\]{}:,\"\\\\ a0-9.eE+\\-tfnul\n/u]{0,200}") {
            let _ = try_parse(&tasks_format(), &text);
            let _ = try_parse(&document_format(), &text);
        }
    }

    /// A parsed value for comparing documents: strings and names
    /// unescaped, other scalars as their tokens, members in order.
    #[derive(Debug, Clone, PartialEq)]
    enum V {
        Token(String),
        Str(String),
        Arr(Vec<V>),
        Obj(Vec<(String, V)>),
    }

    fn value_of(tree: &Tree<'_>, id: usize) -> V {
        let node = tree.nodes[id];
        match node.kind {
            Kind::Array => V::Arr(tree.children(id).map(|(c, _)| value_of(tree, c)).collect()),
            Kind::Object => V::Obj(
                tree.children(id)
                    .map(|(c, child)| {
                        let name = unescape(tree.inner(child.name.start, child.name.end));
                        (name.into_owned(), value_of(tree, c))
                    })
                    .collect(),
            ),
            Kind::String { .. } => V::Str(unescape(tree.inner(node.start, node.end)).into_owned()),
            _ => V::Token(tree.src[node.start as usize..node.end as usize].to_string()),
        }
    }

    fn document_value(bytes: &[u8]) -> V {
        let tree = read_tree(bytes)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(bytes)));
        value_of(&tree, ROOT)
    }

    /// `value` with `element` appended to the array at `pointer`, or with a
    /// new last member `[element]` if the pointer's last token is missing.
    fn appended(mut value: V, pointer: &str, element: V) -> V {
        let tokens: Vec<String> = pointer
            .split('/')
            .skip(1)
            .map(|t| unescape_token(t).into_owned())
            .collect();
        let mut cur = &mut value;
        for (i, token) in tokens.iter().enumerate() {
            cur = match cur {
                V::Obj(members) => match members.iter().position(|(n, _)| n == token) {
                    Some(at) => &mut members[at].1,
                    None => {
                        assert_eq!(i + 1, tokens.len(), "{pointer}");
                        members.push((token.clone(), V::Arr(vec![element])));
                        return value;
                    }
                },
                V::Arr(items) => &mut items[token.parse::<usize>().unwrap()],
                other => panic!("{pointer} goes through {other:?}"),
            };
        }
        match cur {
            V::Arr(items) => items.push(element),
            other => panic!("{pointer} is {other:?}"),
        }
        value
    }

    /// The range of `output` that was inserted into `input`, if `output`
    /// is `input` with one run of bytes inserted.
    fn inserted_range(input: &[u8], output: &[u8]) -> Option<std::ops::Range<usize>> {
        let added = output.len().checked_sub(input.len())?;
        let prefix = input.iter().zip(output).take_while(|(a, b)| a == b).count();
        let range = prefix..prefix + added;
        let mut rest = output[..range.start].to_vec();
        rest.extend_from_slice(&output[range.end..]);
        (rest == input).then_some(range)
    }

    /// Append and check what every append guarantees: only bytes inserted,
    /// the result parses, and its value is the input's with the element
    /// added at `pointer`.
    fn check_append(input: &[u8], pointer: &str, element: &str) -> Vec<u8> {
        let out = append_to_array(input, pointer, element)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(input)));
        assert!(
            inserted_range(input, &out).is_some(),
            "not an insertion:\n{:?}\n{:?}",
            String::from_utf8_lossy(input),
            String::from_utf8_lossy(&out)
        );
        let expected = appended(
            document_value(input),
            pointer,
            document_value(element.as_bytes()),
        );
        assert_eq!(document_value(&out), expected);
        out
    }

    fn appended_text(input: &str, pointer: &str, element: &str) -> String {
        String::from_utf8(check_append(input.as_bytes(), pointer, element)).unwrap()
    }

    fn append_error(input: impl AsRef<[u8]>, pointer: &str, element: &str) -> FileError {
        append_to_array(input.as_ref(), pointer, element).unwrap_err()
    }

    const LOG: &str = r#"{
  "version": "1.0",
  "feature": "x",
  "events": [
    {
      "timestamp": "2026-05-12T16:03:23Z",
      "event_type": "phase_started",
      "phase": "research",
      "summary": "Opened.",
      "artifacts": []
    }
  ]
}
"#;

    const EVENT: &str = r#"{"timestamp":"2026-05-13T09:00:00Z","event_type":"phase_approved","phase":"research","summary":"Done \"x\" \u00e9.","artifacts":["a.md","b.md"],"metrics":{"n":5,"ok":true,"none":{}}}"#;

    const EVENT_PRETTY: &str = r#"{
  "timestamp": "2026-05-13T09:00:00Z",
  "event_type": "phase_approved",
  "phase": "research",
  "summary": "Done \"x\" \u00e9.",
  "artifacts": [
    "a.md",
    "b.md"
  ],
  "metrics": {
    "n": 5,
    "ok": true,
    "none": {}
  }
}"#;

    /// `EVENT_PRETTY` with each line after the first indented by `indent`.
    fn event_at(indent: &str, newline: &str) -> String {
        EVENT_PRETTY.replace('\n', &format!("{newline}{indent}"))
    }

    #[test]
    fn append_to_array_pretty_log_file() {
        let out = appended_text(LOG, "/events", EVENT);
        let expected = r#"{
  "version": "1.0",
  "feature": "x",
  "events": [
    {
      "timestamp": "2026-05-12T16:03:23Z",
      "event_type": "phase_started",
      "phase": "research",
      "summary": "Opened.",
      "artifacts": []
    },
    {
      "timestamp": "2026-05-13T09:00:00Z",
      "event_type": "phase_approved",
      "phase": "research",
      "summary": "Done \"x\" \u00e9.",
      "artifacts": [
        "a.md",
        "b.md"
      ],
      "metrics": {
        "n": 5,
        "ok": true,
        "none": {}
      }
    }
  ]
}
"#;
        assert_eq!(out, expected);
        // Appending again follows the same style; a pointer without `/` works too.
        let twice = appended_text(&out, "/events", r#"{"a":1}"#);
        assert_eq!(
            twice,
            expected.replace(
                "      }\n    }\n  ]",
                "      }\n    },\n    {\n      \"a\": 1\n    }\n  ]"
            )
        );
        assert_eq!(
            append_to_array(out.as_bytes(), "events", r#"{"a":1}"#).unwrap(),
            twice.as_bytes()
        );
        // Scalars and one-line elements stay on one line.
        let scalars = "{\n  \"events\": [\n    1,\n    \"two\"\n  ]\n}";
        assert_eq!(
            appended_text(scalars, "/events", r#"{"a": [1, 2]}"#),
            "{\n  \"events\": [\n    1,\n    \"two\",\n    {\"a\": [1, 2]}\n  ]\n}"
        );
        // Nested arrays are found through indexes.
        let nested = "{\"x\": [\n  [\n    {\n      \"a\": 1\n    }\n  ]\n]}";
        assert_eq!(
            appended_text(nested, "/x/0", "[true,false]"),
            "{\"x\": [\n  [\n    {\n      \"a\": 1\n    },\n    [\n      true,\n      false\n    ]\n  ]\n]}"
        );
    }

    #[test]
    fn append_to_array_opens_an_empty_array() {
        let empty = LOG
            .split_once("\"events\": [")
            .map(|(head, _)| format!("{head}\"events\": []\n}}\n"))
            .unwrap();
        let expected = format!(
            "{{\n  \"version\": \"1.0\",\n  \"feature\": \"x\",\n  \"events\": [\n    {}\n  ]\n}}\n",
            event_at("    ", "\n")
        );
        assert_eq!(appended_text(&empty, "/events", EVENT), expected);
        let spaced = empty.replace("[]", "[ ]");
        assert_eq!(
            appended_text(&spaced, "/events", EVENT),
            expected.replace("\"events\": [", "\"events\": [ ")
        );
        let broken = empty.replace("[]", "[\n  ]");
        assert_eq!(appended_text(&broken, "/events", EVENT), expected);
        // The unit comes from the file, 2 spaces if it has none.
        assert_eq!(
            appended_text("{\"e\": []}", "/e", "[1]"),
            "{\"e\": [\n  [\n    1\n  ]\n]}"
        );
        assert_eq!(appended_text("[]", "", "7"), "[\n  7\n]");
        assert_eq!(
            appended_text(
                "{\n    \"a\": {\n        \"e\": []\n    }\n}",
                "/a/e",
                "{\"k\":0}"
            ),
            "{\n    \"a\": {\n        \"e\": [\n            {\n                \"k\": 0\n            }\n        ]\n    }\n}"
        );
    }

    #[test]
    fn append_to_array_adds_a_missing_member() {
        let missing = "{\n  \"version\": \"1.0\",\n  \"feature\": \"x\"\n}\n";
        assert_eq!(
            appended_text(missing, "/events", EVENT),
            format!(
                "{{\n  \"version\": \"1.0\",\n  \"feature\": \"x\",\n  \"events\": [\n    {}\n  ]\n}}\n",
                event_at("    ", "\n")
            )
        );
        assert_eq!(
            appended_text("{}", "/events", "1"),
            "{\n  \"events\": [\n    1\n  ]\n}"
        );
        assert_eq!(
            appended_text("{\n\t\"a\": {}\n}", "/a/e~1f", "1"),
            "{\n\t\"a\": {\n\t\t\"e/f\": [\n\t\t\t1\n\t\t]\n\t}\n}"
        );
        assert_eq!(
            appended_text(r#"{"a":1,"b":2}"#, "/events", r#"{"x":"y"}"#),
            r#"{"a":1,"b":2,"events":[{"x":"y"}]}"#
        );
        assert_eq!(
            appended_text(r#"{"a": 1}"#, "/ev\"", "2"),
            r#"{"a": 1, "ev\"": [2]}"#
        );
        let e = append_error(missing, "/log/events", EVENT);
        assert_eq!(
            e,
            FileError::new(
                "expected an array at /log/events, found nothing, and no object at /log to add it to"
            )
        );
        let e = append_error("{\"log\": [1]}", "/log/3", "1");
        assert_eq!(
            e.to_string(),
            "line 1: expected an array at /log/3, found nothing; cannot add it to /log: expected an object there, found an array"
        );
        let e = append_error("{\"log\": null}", "/log/events", "1");
        assert_eq!(
            e.message,
            "expected an array at /log/events, found nothing; cannot add it to /log: expected an object there, found null"
        );
    }

    #[test]
    fn append_to_array_needs_an_array() {
        let object = "{\n  \"events\": {\n    \"a\": []\n  }\n}";
        assert_eq!(
            append_error(object, "/events", "1"),
            FileError::at(2, None, "expected an array at /events, found an object")
        );
        assert_eq!(
            append_error(r#"{"events": "x"}"#, "/events", "1").message,
            "expected an array at /events, found a string"
        );
        assert_eq!(
            append_error(r#"{"events": null}"#, "/events", "1").message,
            "expected an array at /events, found null"
        );
        assert_eq!(
            append_error("{}", "", "1").message,
            "expected an array at the top level, found an object"
        );
        assert_eq!(
            append_error(r#"{"events": 3}"#, "/events/x", "1").message,
            "cannot follow /events/x: expected an object or array at /events, found a number (line 1)"
        );
        assert_eq!(
            append_error("{\"e\": [],\n\"e\": []}", "/e", "1").message,
            "`/e` is given twice (lines 1 and 2)"
        );
    }

    #[test]
    fn append_to_array_rejects_invalid_json() {
        let e = append_error(
            "{\n  \"events\": [\n    {\"a\": 1,}\n  ]\n}",
            "/events",
            "1",
        );
        assert_eq!(
            e.to_string(),
            "line 3, column 13: expected a member name in double quotes, found `}`"
        );
        assert_eq!(
            append_error(b"[\"\xFF\"]", "", "1").to_string(),
            "line 1, column 3: expected UTF-8 text, found the byte 0xFF"
        );
        assert_eq!(
            append_error("", "/events", "1"),
            FileError::new("empty file, expected a JSON document")
        );
        // A bad file is reported before a bad element.
        assert_eq!(append_error("[1", "", "{").line, Some(1));
        assert_eq!(
            append_error("[1]", "", "{\"a\" 1}"),
            FileError::new(
                "the new element is not valid JSON: line 1, column 6: expected `:` after the member name, found `1`"
            )
        );
        assert_eq!(
            append_error("[1]", "", "1 2").message,
            "the new element is not valid JSON: line 1, column 3: expected the end of the document, found `2`"
        );
        assert_eq!(
            append_error("[1]", "", " \n"),
            FileError::new("the new element is not valid JSON: it is empty")
        );
    }

    #[test]
    fn append_to_array_keeps_crlf_and_bom() {
        let crlf = format!("\u{FEFF}{}", LOG.replace('\n', "\r\n"));
        let out = appended_text(&crlf, "/events", EVENT);
        let lf = appended_text(LOG, "/events", EVENT);
        assert_eq!(out, format!("\u{FEFF}{}", lf.replace('\n', "\r\n")));
        let empty = "{\r\n  \"events\": []\r\n}\r\n";
        assert_eq!(
            appended_text(empty, "/events", "[1]"),
            "{\r\n  \"events\": [\r\n    [\r\n      1\r\n    ]\r\n  ]\r\n}\r\n"
        );
        assert_eq!(
            appended_text("\u{FEFF}{\"a\": 1}", "/b", "2"),
            "\u{FEFF}{\"a\": 1, \"b\": [2]}"
        );
    }

    #[test]
    fn append_to_array_follows_tab_indentation() {
        let tabs = LOG.replace("  ", "\t");
        assert!(tabs.contains("\n\t\t\t\"phase\""));
        let out = appended_text(&tabs, "/events", EVENT);
        assert_eq!(
            out,
            appended_text(LOG, "/events", EVENT).replace("  ", "\t")
        );
        // Four spaces, and a `:` without a space, are followed too.
        let wide = LOG.replace("  ", "    ").replace("\": ", "\":");
        let out = appended_text(&wide, "/events", EVENT);
        assert_eq!(
            out,
            appended_text(LOG, "/events", EVENT)
                .replace("  ", "    ")
                .replace("\": ", "\":")
        );
    }

    #[test]
    fn append_to_array_single_line_arrays_stay_compact() {
        assert_eq!(appended_text("[1, 2]", "", "3"), "[1, 2, 3]");
        assert_eq!(appended_text("[1,2]", "", "3"), "[1,2,3]");
        assert_eq!(appended_text("[1]", "", "\"x\""), "[1, \"x\"]");
        assert_eq!(
            appended_text(r#"{"events":[{"a":1,"b":2}]}"#, "/events", r#"{"c":3}"#),
            r#"{"events":[{"a":1,"b":2},{"c":3}]}"#
        );
        assert_eq!(
            appended_text(
                "{\n  \"e\": [1, 2]\n}",
                "/e",
                "{\n  \"k\": [\n    1\n  ]\n}"
            ),
            "{\n  \"e\": [1, 2, {\"k\": [1]}]\n}"
        );
    }

    #[test]
    fn append_to_array_on_fittracker_logs() {
        let dir = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpus/fittracker2/.claude/logs"
        ));
        if !dir.is_dir() {
            eprintln!("skipped: {} is not here", dir.display());
            return;
        }
        let event = r#"{"timestamp":"2026-06-06T10:00:00Z","event_type":"note","phase":"implementation","summary":"Appended by concord \"test\".","artifacts":[],"metrics":{"count":1},"actor":"concord","status":"recorded","recording_mode":"contemporaneous"}"#;
        let mut appended_to = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with(".log.json") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let tree = read_tree(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let is_array = tree
                .resolve(ROOT, "/events", "the document")
                .ok()
                .flatten()
                .is_some_and(|id| tree.nodes[id].kind == Kind::Array);
            if !is_array {
                assert!(append_to_array(&bytes, "/events", event).is_err());
                continue;
            }
            let out = check_append(&bytes, "/events", event);
            let range = inserted_range(&bytes, &out).unwrap();
            let inserted = std::str::from_utf8(&out[range]).unwrap();
            assert!(
                inserted.starts_with(",\n    {\n      \"timestamp\": "),
                "{}: {inserted:?}",
                path.display()
            );
            assert!(
                inserted.ends_with("\n    }"),
                "{}: {inserted:?}",
                path.display()
            );
            appended_to += 1;
        }
        assert!(appended_to > 0);
        eprintln!("appended to {appended_to} log files");
    }

    /// `value` with one member or element per line (the layout
    /// `append_to_array` is expected to follow), written independently.
    fn pretty_json(value: &J, unit: &str, newline: &str, indent: &str, out: &mut String) {
        let inner = format!("{indent}{unit}");
        match value {
            J::Arr(items) if !items.is_empty() => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    out.push_str(if i > 0 { "," } else { "" });
                    out.push_str(newline);
                    out.push_str(&inner);
                    pretty_json(item, unit, newline, &inner, out);
                }
                out.push_str(&format!("{newline}{indent}]"));
            }
            J::Obj(members) if !members.is_empty() => {
                out.push('{');
                for (i, (name, style, item)) in members.iter().enumerate() {
                    out.push_str(if i > 0 { "," } else { "" });
                    out.push_str(newline);
                    out.push_str(&inner);
                    out.push_str(&encode(name, *style));
                    out.push_str(": ");
                    pretty_json(item, unit, newline, &inner, out);
                }
                out.push_str(&format!("{newline}{indent}}}"));
            }
            other => out.push_str(&render(other, &[String::new()], false)),
        }
    }

    fn is_nonempty_container(value: &J) -> bool {
        matches!(value, J::Arr(v) if !v.is_empty()) || matches!(value, J::Obj(m) if !m.is_empty())
    }

    proptest! {
        #[test]
        fn append_to_array_only_inserts(
            events in proptest::collection::vec(json_strategy(), 0..5),
            element in json_strategy(),
            before in members_strategy(),
            after in members_strategy(),
            present in proptest::bool::weighted(0.8),
            pretty in any::<bool>(),
            unit in proptest::sample::select(vec!["  ", "    ", "\t", " "]),
            crlf in any::<bool>(),
            ws in ws_strategy(),
            bom in any::<bool>(),
        ) {
            let document = |events: Option<J>| {
                let mut members = before.clone();
                members.extend(after.iter().cloned());
                if let Some(events) = events {
                    members.insert(before.len(), ("events".to_string(), 0, events));
                }
                J::Obj(members)
            };
            let newline = if crlf { "\r\n" } else { "\n" };
            let write = |value: &J| {
                let mut text = String::from(if bom { "\u{FEFF}" } else { "" });
                if pretty {
                    pretty_json(value, unit, newline, "", &mut text);
                    text.push_str(newline);
                } else {
                    text = render(value, &ws, bom);
                }
                text
            };
            let text = write(&document(present.then(|| J::Arr(events.clone()))));
            let new = render(&element, &[String::new()], false);
            let out = check_append(text.as_bytes(), "/events", &new);
            // Pretty documents get exactly the pretty text of the result,
            // when the layout to follow is there to see.
            let whole_is_pretty = !before.is_empty() || !after.is_empty() || present;
            let element_follows = match events.last() {
                _ if !present => true,
                None => true,
                Some(last) => is_nonempty_container(last) || !is_nonempty_container(&element),
            };
            if pretty && whole_is_pretty && element_follows {
                let mut events = if present { events.clone() } else { Vec::new() };
                events.push(element.clone());
                let expected = if present {
                    document(Some(J::Arr(events)))
                } else {
                    let J::Obj(mut members) = document(None) else { unreachable!() };
                    members.push(("events".to_string(), 0, J::Arr(events)));
                    J::Obj(members)
                };
                prop_assert_eq!(String::from_utf8(out).unwrap(), write(&expected));
            }
        }
    }

    // ------------------------------------------------------------ set_member

    fn set_text(input: &str, name: &str, value: &str) -> String {
        let out =
            set_member(input.as_bytes(), name, value).unwrap_or_else(|e| panic!("{e}: {input:?}"));
        String::from_utf8(out).unwrap()
    }

    fn set_error(input: impl AsRef<[u8]>, name: &str, value: &str) -> FileError {
        set_member(input.as_ref(), name, value).unwrap_err()
    }

    const FEATURE: &str = r#"{
  "name": "onboarding",
  "state_owner": "ft2",
  "current_phase": "tasks_phase",
  "tasks": [
    {
      "id": "T1",
      "status": "done"
    }
  ],
  "updated": "2026-05-12T16:03:23Z"
}
"#;

    const FEATURE_MARKED: &str = r#"{
  "name": "onboarding",
  "state_owner": "ft2",
  "current_phase": "tasks_phase",
  "tasks": [
    {
      "id": "T1",
      "status": "done"
    }
  ],
  "updated": "2026-05-12T16:03:23Z",
  "state_owner_sync_origin": "ft2-reverse"
}
"#;

    #[test]
    fn set_member_adds_a_last_member_to_a_pretty_file() {
        let marker = "state_owner_sync_origin";
        assert_eq!(set_text(FEATURE, marker, "\"ft2-reverse\""), FEATURE_MARKED);
        // Four spaces, tabs, CRLF and a BOM are followed.
        for (from, to) in [("  ", "    "), ("  ", "\t"), ("\n", "\r\n")] {
            let file = FEATURE.replace(from, to);
            assert_eq!(
                set_text(&file, marker, "\"ft2-reverse\""),
                FEATURE_MARKED.replace(from, to),
                "{from:?} -> {to:?}"
            );
        }
        let crlf_bom = format!(
            "\u{FEFF}{}",
            FEATURE.replace("  ", "\t").replace('\n', "\r\n")
        );
        assert_eq!(
            set_text(&crlf_bom, marker, "\"ft2-reverse\""),
            format!(
                "\u{FEFF}{}",
                FEATURE_MARKED.replace("  ", "\t").replace('\n', "\r\n")
            )
        );
        // `":"` without a space, and no line break at the end of the file.
        let tight = FEATURE.replace("\": ", "\":");
        assert_eq!(
            set_text(tight.trim_end(), marker, "\"ft2-reverse\""),
            FEATURE_MARKED.replace("\": ", "\":").trim_end()
        );
        // An array or object value is pretty-printed like the file.
        assert_eq!(
            set_text(FEATURE, "deps", r#"{"a":[1,"x"],"b":{},"c":[]}"#),
            FEATURE.replace(
                "\"\n}",
                "\",\n  \"deps\": {\n    \"a\": [\n      1,\n      \"x\"\n    ],\n    \"b\": {},\n    \"c\": []\n  }\n}"
            )
        );
        assert_eq!(
            set_text(&FEATURE.replace("  ", "    "), "deps", "[1]"),
            FEATURE
                .replace("\"\n}", "\",\n  \"deps\": [\n    1\n  ]\n}")
                .replace("  ", "    ")
        );
        // A name that needs escapes is quoted.
        assert_eq!(
            set_text("{\n  \"a\": 1\n}", "q\"\\\n", "null"),
            "{\n  \"a\": 1,\n  \"q\\\"\\\\\\n\": null\n}"
        );
    }

    #[test]
    fn set_member_replaces_only_the_value() {
        let marker = "state_owner_sync_origin";
        let other = FEATURE_MARKED.replace("\"ft2-reverse\"", "\"fitme-story-reverse\"");
        assert_eq!(
            set_text(FEATURE_MARKED, marker, "\"fitme-story-reverse\""),
            other
        );
        assert_eq!(
            set_text(FEATURE, "current_phase", " \"review\" \n"),
            FEATURE.replace("\"tasks_phase\"", "\"review\"")
        );
        // A multi-line value is replaced by a pretty-printed one.
        assert_eq!(
            set_text(FEATURE, "tasks", r#"[{"id":"T2"}]"#),
            FEATURE.replace(
                "{\n      \"id\": \"T1\",\n      \"status\": \"done\"\n    }",
                "{\n      \"id\": \"T2\"\n    }"
            )
        );
        // A one-line array or object stays on one line.
        let one_line = "{\n  \"deps\": [\"a\", \"b\"],\n  \"n\": 1\n}\n";
        assert_eq!(
            set_text(one_line, "deps", "[\n  \"c\",\n  {\"d\": 1}\n]"),
            "{\n  \"deps\": [\"c\", {\"d\": 1}],\n  \"n\": 1\n}\n"
        );
        assert_eq!(
            set_text(r#"{"a":{"b":1},"c":2}"#, "a", "[1,2]"),
            r#"{"a":[1,2],"c":2}"#
        );
        // Escaped and plain spellings of the name are the same member.
        assert_eq!(
            set_text(r#"{"st\u0061te": 1}"#, "state", "2"),
            r#"{"st\u0061te": 2}"#
        );
    }

    #[test]
    fn set_member_to_the_value_it_has_changes_nothing() {
        for (name, value) in [
            ("state_owner_sync_origin", "\"ft2-reverse\""),
            ("state_owner_sync_origin", "\"ft2\\u002dreverse\""),
            ("tasks", r#"[{"id":"T1","status":"done"}]"#),
            ("tasks", "[ {\"status\": \"done\", \"id\": \"T1\"} ]"),
            ("updated", "\"2026-05-12T16:03:23Z\""),
        ] {
            let out = set_member(FEATURE_MARKED.as_bytes(), name, value).unwrap();
            let changed = out != FEATURE_MARKED.as_bytes();
            // Members in another order are another value.
            assert_eq!(changed, value.starts_with("[ "), "{name} {value}");
        }
        assert_eq!(set_text(r#"{"n": 1.0}"#, "n", "1"), r#"{"n": 1}"#);
        assert_eq!(
            set_text(r#"{"s": "\u00e9"}"#, "s", "\"é\""),
            r#"{"s": "\u00e9"}"#
        );
    }

    #[test]
    fn set_member_in_one_line_and_empty_objects() {
        assert_eq!(
            set_text(r#"{"a":1,"b":2}"#, "n", "\"v\""),
            r#"{"a":1,"b":2,"n":"v"}"#
        );
        assert_eq!(set_text(r#"{"a":1}"#, "n", "\"v\""), r#"{"a":1,"n":"v"}"#);
        assert_eq!(
            set_text(r#"{"a": 1}"#, "n", "\"v\""),
            r#"{"a": 1, "n": "v"}"#
        );
        assert_eq!(
            set_text(r#"{ "a" : 1 ,  "b" : 2 }"#, "n", "{\n\"x\": [1]\n}"),
            r#"{ "a" : 1 ,  "b" : 2 ,  "n" : {"x": [1]} }"#
        );
        assert_eq!(set_text("{}", "n", "\"v\""), r#"{"n": "v"}"#);
        assert_eq!(set_text("{}\n", "n", "[1, 2]"), "{\"n\": [1, 2]}\n");
        assert_eq!(set_text("{ }", "n", "true"), r#"{"n": true }"#);
        // Braces on different lines: the member gets a line of its own.
        assert_eq!(set_text("{\n}\n", "n", "\"v\""), "{\n  \"n\": \"v\"\n}\n");
        assert_eq!(
            set_text("{\r\n}\r\n", "n", "{\"a\":1}"),
            "{\r\n  \"n\": {\r\n    \"a\": 1\r\n  }\r\n}\r\n"
        );
    }

    #[test]
    fn set_member_errors() {
        assert_eq!(
            set_error("[1]", "n", "1"),
            FileError::at(
                1,
                None,
                "expected an object at the top level, found an array"
            )
        );
        assert_eq!(
            set_error("\n\"x\"", "n", "1").message,
            "expected an object at the top level, found a string"
        );
        assert_eq!(
            set_error("{\n  \"n\": 1,\n  \"n\": 2\n}", "n", "3"),
            FileError::at(3, None, "the member `n` is given twice (lines 2 and 3)")
        );
        // Other names given twice are left to the readers.
        assert_eq!(
            set_text("{\"a\": 1, \"a\": 2}", "n", "3"),
            "{\"a\": 1, \"a\": 2, \"n\": 3}"
        );
        assert_eq!(
            set_error("{}", "n", "{\"a\" 1}"),
            FileError::new(
                "the new value is not valid JSON: line 1, column 6: expected `:` after the member name, found `1`"
            )
        );
        assert_eq!(
            set_error("{}", "n", "ft2-reverse").message,
            "the new value is not valid JSON: line 1, column 1: expected a value, found `ft2-reverse`"
        );
        assert_eq!(
            set_error("{}", "n", "\n "),
            FileError::new("the new value is not valid JSON: it is empty")
        );
        assert_eq!(
            set_error("{\"a\": 1,}", "n", "1").to_string(),
            "line 1, column 9: expected a member name in double quotes, found `}`"
        );
        // A bad file is reported before a bad value.
        assert_eq!(
            set_error("", "n", "{"),
            FileError::new("empty file, expected a JSON document")
        );
    }

    #[test]
    fn set_member_on_fittracker_state_files() {
        let dir = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpus/fittracker2/.claude/features"
        ));
        if !dir.is_dir() {
            eprintln!("skipped: {} is not here", dir.display());
            return;
        }
        let marker = "state_owner_sync_origin";
        let (mut added, mut replaced) = (0, 0);
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path().join("state.json");
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            let out = set_member(&bytes, marker, "\"ft2-reverse\"")
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let tree = read_tree(&bytes).unwrap();
            let existing = tree
                .children(ROOT)
                .find(|(_, child)| tree.name_is(child, marker))
                .map(|(_, node)| node.start as usize..node.end as usize);
            let mut expected = document_value(&bytes);
            let V::Obj(members) = &mut expected else {
                panic!("{}: not an object", path.display())
            };
            let value = V::Str("ft2-reverse".into());
            match members.iter_mut().find(|(name, _)| name == marker) {
                Some(member) => member.1 = value,
                None => members.push((marker.to_string(), value)),
            }
            assert_eq!(document_value(&out), expected, "{}", path.display());
            match existing {
                Some(span) => {
                    let mut again = bytes[..span.start].to_vec();
                    again.extend_from_slice(b"\"ft2-reverse\"");
                    again.extend_from_slice(&bytes[span.end..]);
                    assert_eq!(out, again, "{}", path.display());
                    replaced += 1;
                }
                None => {
                    let range = inserted_range(&bytes, &out).unwrap();
                    let inserted = std::str::from_utf8(&out[range]).unwrap();
                    assert_eq!(
                        inserted,
                        format!(",\n  \"{marker}\": \"ft2-reverse\""),
                        "{}",
                        path.display()
                    );
                    added += 1;
                }
            }
        }
        assert!(added > 100 && replaced >= 1, "{added} {replaced}");
    }

    /// Generated members with distinct names.
    fn distinct_members() -> impl Strategy<Value = Vec<(String, u8, J)>> {
        proptest::collection::vec(("x_[a-z\"\\\\/~]{0,5}", any::<u8>(), json_strategy()), 0..6)
            .prop_map(|mut members| {
                let mut seen = std::collections::BTreeSet::new();
                members.retain(|(name, _, _)| seen.insert(name.clone()));
                members
            })
    }

    /// A document's text: pretty (`unit`, `newline`) or with `ws` between tokens.
    fn write_document(
        value: &J,
        pretty: bool,
        unit: &str,
        crlf: bool,
        ws: &[String],
        bom: bool,
    ) -> String {
        if pretty {
            let newline = if crlf { "\r\n" } else { "\n" };
            let mut text = String::from(if bom { "\u{FEFF}" } else { "" });
            pretty_json(value, unit, newline, "", &mut text);
            text.push_str(newline);
            text
        } else {
            render(value, ws, bom)
        }
    }

    /// The span of the top-level member `name`'s value in `text`.
    fn member_span(text: &[u8], name: &str) -> Option<std::ops::Range<usize>> {
        let tree = read_tree(text).unwrap();
        tree.children(ROOT)
            .find(|(_, child)| tree.name_is(child, name))
            .map(|(_, node)| node.start as usize..node.end as usize)
    }

    proptest! {
        #[test]
        fn set_member_sets_one_member_and_keeps_every_other(
            members in distinct_members(),
            new_name in "n_[a-z\"\\\\/~]{0,5}",
            pick in proptest::option::weighted(0.6, any::<proptest::sample::Index>()),
            value in json_strategy(),
            value_pretty in any::<bool>(),
            pretty in any::<bool>(),
            unit in proptest::sample::select(vec!["  ", "    ", "\t"]),
            crlf in any::<bool>(),
            ws in ws_strategy(),
            bom in any::<bool>(),
        ) {
            let write = |value: &J| write_document(value, pretty, unit, crlf, &ws, bom);
            let name = match &pick {
                Some(index) if !members.is_empty() => members[index.index(members.len())].0.clone(),
                _ => new_name,
            };
            let text = write(&J::Obj(members.clone()));
            let value_text = if value_pretty {
                let mut out = String::new();
                pretty_json(&value, "  ", "\n", "", &mut out);
                out
            } else {
                render(&value, &[String::new()], false)
            };
            let out = set_member(text.as_bytes(), &name, &value_text)
                .unwrap_or_else(|e| panic!("{e}: {text:?}"));
            let new = document_value(value_text.as_bytes());
            let mut expected = members.clone();
            let existing = expected.iter().position(|(n, _, _)| *n == name);
            match existing {
                Some(i) => {
                    let old = document_value(render(&expected[i].2, &[String::new()], false).as_bytes());
                    if old != new {
                        expected[i].2 = value.clone();
                    }
                }
                None => expected.push((name.clone(), 0, value.clone())),
            }
            let expected_text = write(&J::Obj(expected));
            prop_assert_eq!(document_value(&out), document_value(expected_text.as_bytes()));
            match member_span(text.as_bytes(), &name) {
                Some(span) => {
                    // Only the value's bytes changed.
                    let kept = text.len() - span.end;
                    prop_assert!(out.len() >= span.start + kept);
                    prop_assert_eq!(&out[..span.start], &text.as_bytes()[..span.start]);
                    prop_assert_eq!(&out[out.len() - kept..], &text.as_bytes()[span.end..]);
                }
                None => prop_assert!(inserted_range(text.as_bytes(), &out).is_some()),
            }
            // Pretty files get exactly the pretty text of the result.
            if pretty && !members.is_empty() {
                prop_assert_eq!(String::from_utf8(out.clone()).unwrap(), expected_text);
            }
            // Setting it again changes nothing.
            prop_assert_eq!(set_member(&out, &name, &value_text).unwrap(), out);
        }

        #[test]
        fn set_member_to_its_current_value_is_byte_identical(
            members in distinct_members(),
            pick in any::<proptest::sample::Index>(),
            pretty in any::<bool>(),
            unit in proptest::sample::select(vec!["  ", "    ", "\t"]),
            crlf in any::<bool>(),
            ws in ws_strategy(),
            bom in any::<bool>(),
        ) {
            prop_assume!(!members.is_empty());
            let text = write_document(&J::Obj(members.clone()), pretty, unit, crlf, &ws, bom);
            let (name, _, value) = &members[pick.index(members.len())];
            let span = member_span(text.as_bytes(), name).unwrap();
            let as_written = &text[span];
            let compact = render(value, &[String::new()], false);
            let mut pretty_value = String::new();
            pretty_json(value, "\t", "\r\n", "", &mut pretty_value);
            for same in [as_written, compact.as_str(), pretty_value.as_str()] {
                prop_assert_eq!(set_member(text.as_bytes(), name, same).unwrap(), text.as_bytes());
            }
        }

        #[test]
        fn set_member_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            text in "[\\[\\]{}:,\"\\\\ a0-9.eE+\\-tfnul\n/u]{0,120}",
            value in "[\\[\\]{}:,\"\\\\ a0-9\n]{0,20}",
        ) {
            let _ = set_member(&bytes, "n", &value);
            let _ = set_member(text.as_bytes(), "n", &value);
            let _ = set_member(text.as_bytes(), "a", "1");
        }
    }
}

#[cfg(test)]
mod position_tests {
    use super::*;

    #[test]
    fn values_are_located_by_pointer() {
        let doc = b"{\n  \"name\": \"caf\xc3\xa9 \xe2\x9c\x93\",\n  \"tasks\": [{\"id\": \"T1\", \"status\": \"done\"}]\n}\n";
        let name = position_of(doc, "/name").expect("name");
        assert_eq!((name.line, name.column, name.end_column), (2, 11, 19));
        let status = position_of(doc, "/tasks/0/status").expect("status");
        assert_eq!(status.line, 3);
        assert_eq!(status.end_column - status.column, 6);
        assert_eq!(position_of(doc, "/missing"), None);
        assert_eq!(position_of(b"{", "/x"), None);
        assert_eq!(position_of(doc, "").map(|p| p.line), Some(1));
    }
}
