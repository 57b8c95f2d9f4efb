//! One module per file format. Each parses a file's bytes into items whose
//! editable values carry the exact byte span that holds them, and encodes a
//! new value for such a span so that an edit touches those bytes only.
//!
//! Formats know nothing about workflows, repos or the file system: the
//! workspace crate feeds them bytes and maps what they return.
#![forbid(unsafe_code)]

pub mod front_matter;
pub mod json;
pub mod key_template;
pub mod table;
pub mod task_blocks;
mod text;

use std::ops::Range;

pub use key_template::{KeyTemplate, TemplateError};

/// One value found in a file: its text as the format reads it (quotes and
/// escapes resolved) and the bytes that hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpannedValue {
    pub text: String,
    /// The bytes an edit of this value replaces, and nothing else.
    pub span: Range<usize>,
    /// 1-based line of the span's start.
    pub line: u32,
    /// Why the value must not be edited in place, if it must not: editing
    /// its bytes would change something besides this value (a YAML anchor
    /// that aliases elsewhere repeat).
    pub pinned: Option<String>,
}

/// One item a file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawItem {
    pub key: String,
    /// 1-based line where the item starts (block fence, table row, file start).
    pub line: u32,
    pub status: Option<SpannedValue>,
    pub owner: Option<SpannedValue>,
    /// Other mapped fields, in the order they were configured; absent fields are left out.
    pub fields: Vec<(String, SpannedValue)>,
}

/// A row or block that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowWarning {
    pub line: u32,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedFile {
    pub items: Vec<RawItem>,
    pub warnings: Vec<RowWarning>,
}

/// The whole file could not be read as this format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", match (line, column) {
    (Some(l), Some(c)) => format!("line {l}, column {c}: "),
    (Some(l), None) => format!("line {l}: "),
    _ => String::new(),
})]
pub struct FileError {
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
}

impl FileError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub fn at(line: u32, column: Option<u32>, message: impl Into<String>) -> Self {
        Self {
            line: Some(line),
            column,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("the value `{value}` cannot be written here: {reason}")]
    Unrepresentable { value: String, reason: String },
    #[error("span {start}..{end} lies outside the file ({len} bytes)")]
    SpanOutOfBounds {
        start: usize,
        end: usize,
        len: usize,
    },
}

/// Which file the bytes came from; formats use it for path parts of keys.
#[derive(Debug, Clone, Copy)]
pub struct FileContext<'a> {
    /// Repo-relative path with `/` separators.
    pub path: &'a str,
}

/// What every format reads for an item besides its key.
#[derive(Debug, Clone)]
pub struct ItemFields {
    pub key: KeyTemplate,
    /// Field that holds the status (a line key, column name, YAML key or JSON pointer).
    pub status: String,
    pub owner: Option<String>,
    /// Other fields to report: (name to show, where to read it).
    pub fields: Vec<(String, String)>,
}

pub trait Format: Send + Sync {
    fn parse(&self, ctx: FileContext<'_>, bytes: &[u8]) -> Result<ParsedFile, FileError>;

    /// The bytes to put in place of `old` (the bytes of a value's span) so
    /// that the value then reads `new`, keeping the value's quoting style.
    fn encode_value(&self, old: &[u8], new: &str) -> Result<Vec<u8>, EditError>;
}

/// Replace one value in `bytes`, touching no byte outside its span.
pub fn edit_value(
    format: &dyn Format,
    bytes: &[u8],
    value: &SpannedValue,
    new: &str,
) -> Result<Vec<u8>, EditError> {
    let Range { start, end } = value.span.clone();
    if start > end || end > bytes.len() {
        return Err(EditError::SpanOutOfBounds {
            start,
            end,
            len: bytes.len(),
        });
    }
    let replacement = format.encode_value(&bytes[start..end], new)?;
    let mut out = Vec::with_capacity(bytes.len() - (end - start) + replacement.len());
    out.extend_from_slice(&bytes[..start]);
    out.extend_from_slice(&replacement);
    out.extend_from_slice(&bytes[end..]);
    Ok(out)
}

/// A plain one-line value: no line breaks or control characters, and no
/// surrounding whitespace that a reader would trim away.
pub(crate) fn check_single_line(new: &str) -> Result<(), EditError> {
    let reason = if new.chars().any(|c| c.is_control()) {
        Some("it contains a line break or control character")
    } else if new.trim() != new {
        Some("it starts or ends with whitespace")
    } else if new.is_empty() {
        Some("it is empty")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(EditError::Unrepresentable {
            value: new.to_string(),
            reason: reason.to_string(),
        }),
        None => Ok(()),
    }
}
