use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::sync::Arc;

/// A status as a source wrote it, and what the workflow makes of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StatusReading {
    /// The source's own word, qualifiers stripped.
    pub raw: String,
    /// The canonical status, or `None` when the word is unknown.
    pub canonical: Option<Arc<str>>,
    pub rank: Option<u32>,
    /// 1-based line of the status value.
    pub line: u32,
    /// The bytes that hold the value: the only bytes an edit may touch.
    #[serde(skip)]
    pub span: Range<usize>,
    /// Why the value must not be edited in place, if so (a YAML anchor
    /// that an alias repeats): it is read, never written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<String>,
}

/// What one source says about one item at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Observation {
    // Shared strings: a scan makes one per source, repo and file, not per item.
    pub source: Arc<str>,
    pub repo: Arc<str>,
    pub key: String,
    /// Repo-relative path with `/` separators.
    pub path: Arc<str>,
    pub line: u32,
    pub status: Option<StatusReading>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<(String, String)>,
}

/// Stable codes for everything a read can warn about.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WarningCode {
    /// A row or block that could not be read as an item.
    UnparseableRow,
    /// A status word that no status or alias of the workflow names.
    UnknownStatus,
    /// The same key twice within one source.
    DuplicateKey,
    /// A source glob that matched no file.
    NoFiles,
    /// A whole file that could not be read or parsed.
    UnreadableFile,
    /// A repo whose folder does not exist on this machine.
    MissingRepo,
}

impl WarningCode {
    const ALL: [WarningCode; 6] = [
        WarningCode::UnparseableRow,
        WarningCode::UnknownStatus,
        WarningCode::DuplicateKey,
        WarningCode::NoFiles,
        WarningCode::UnreadableFile,
        WarningCode::MissingRepo,
    ];

    /// The code `as_str` gives, back (as the hub stores it).
    pub fn parse(code: &str) -> Option<WarningCode> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::UnparseableRow => "UNPARSEABLE_ROW",
            WarningCode::UnknownStatus => "UNKNOWN_STATUS",
            WarningCode::DuplicateKey => "DUPLICATE_KEY",
            WarningCode::NoFiles => "NO_FILES",
            WarningCode::UnreadableFile => "UNREADABLE_FILE",
            WarningCode::MissingRepo => "MISSING_REPO",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Warning {
    pub code: WarningCode,
    pub source: String,
    pub repo: String,
    /// Repo-relative path, or the source glob when no file is involved.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub message: String,
}
