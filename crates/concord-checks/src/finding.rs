//! Findings: what a check reports, with a fingerprint that survives moved
//! lines and reworded messages, baseline comparison as multisets of
//! fingerprints, and inline `<!-- concord-ignore CODE: reason -->`
//! suppressions for markdown.
//!
//! Fingerprint scheme `v1`:
//! `sha256("v1" US code US subject US anchor US evidence)` as lowercase hex,
//! where `US` is the byte 0x1f, subject is the item key or the normalised
//! repo-relative path, anchor a JSON pointer / heading slug / cited number,
//! and evidence the offending value with whitespace collapsed. Line, column,
//! message text, tool version and dates never take part, so a finding keeps
//! its identity when lines move or wording changes. Exact duplicates within
//! one run get `:1`, `:2`, ... suffixes (the first keeps the bare hash, so
//! adding a duplicate shows as one new finding, not a renumbering).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version tag hashed into every fingerprint; bump when the scheme changes.
pub const FINGERPRINT_VERSION: &str = "v1";

/// Separator between hashed fields. Any occurrence inside a field is replaced
/// before hashing, so field boundaries cannot be forged.
const SEP: char = '\u{1f}';

/// A `concord-ignore` marker with codes but no reason (suppresses nothing).
pub const SUPPRESSION_WITHOUT_REASON: &str = "SUPPRESSION_WITHOUT_REASON";
/// A `concord-ignore` marker (or one of its codes) that suppressed nothing.
pub const UNUSED_SUPPRESSION: &str = "UNUSED_SUPPRESSION";
/// A `concord-ignore` marker that could not be read (no codes, or words
/// that are not codes before the `:`); suppresses nothing.
pub const SUPPRESSION_MALFORMED: &str = "SUPPRESSION_MALFORMED";

// ---------------------------------------------------------------------------
// Severity

/// How much a finding matters. Only errors gate (fail a commit or a PR).
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
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Advisory,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Error, Severity::Warning, Severity::Advisory];

    /// True when a finding of this severity fails the check.
    pub fn gates(self) -> bool {
        matches!(self, Severity::Error)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Advisory => "advisory",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is not `error`, `warning` or `advisory`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?}: expected one of error, warning, advisory")]
pub struct ParseSeverityError(pub String);

impl FromStr for Severity {
    type Err = ParseSeverityError;

    /// Case-insensitive, surrounding whitespace ignored; nothing else is
    /// accepted so a typo in configuration is an error, not a silent default.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Severity::ALL
            .into_iter()
            .find(|sev| t.eq_ignore_ascii_case(sev.as_str()))
            .ok_or_else(|| ParseSeverityError(s.to_string()))
    }
}

// ---------------------------------------------------------------------------
// Finding

/// One problem reported by a check.
///
/// `line`, `column` and `end_column` are 1-based and counted in characters
/// (Unicode scalar values); `end_column` is exclusive (the column just after
/// the span), as in SARIF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    /// Stable code such as `OWNER_MISSING`.
    pub code: String,
    pub severity: Severity,
    /// Repo-relative path with `/` separators.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_column: Option<u32>,
    /// Item key the finding is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub message: String,
    /// Identity subject: the item key, else the normalised path. Filled by
    /// the constructors and by [`assign_fingerprints`] when empty.
    #[serde(default)]
    pub subject: String,
    /// Where inside the subject: JSON pointer, heading slug, cited number...
    #[serde(default)]
    pub anchor: String,
    /// The offending value (whitespace is normalised for hashing).
    #[serde(default)]
    pub evidence: String,
    /// Set by [`assign_fingerprints`].
    #[serde(default)]
    pub fingerprint: String,
}

impl Finding {
    /// A finding on a file; the path is normalised and becomes the subject.
    pub fn new(
        code: impl Into<String>,
        severity: Severity,
        path: impl AsRef<str>,
        message: impl Into<String>,
    ) -> Self {
        let path = normalize_path(path.as_ref());
        Finding {
            code: code.into(),
            severity,
            subject: path.clone(),
            path,
            repo: None,
            line: None,
            column: None,
            end_column: None,
            key: None,
            message: message.into(),
            anchor: String::new(),
            evidence: String::new(),
            fingerprint: String::new(),
        }
    }

    pub fn error(
        code: impl Into<String>,
        path: impl AsRef<str>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(code, Severity::Error, path, message)
    }

    pub fn warning(
        code: impl Into<String>,
        path: impl AsRef<str>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(code, Severity::Warning, path, message)
    }

    pub fn advisory(
        code: impl Into<String>,
        path: impl AsRef<str>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(code, Severity::Advisory, path, message)
    }

    /// Sets the 1-based line.
    pub fn at_line(mut self, line: u32) -> Self {
        self.line = Some(line);
        self
    }

    /// Sets the 1-based line and column (a single-character span).
    pub fn at(mut self, line: u32, column: u32) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// Sets line, column and exclusive end column on that line.
    pub fn span(mut self, line: u32, column: u32, end_column: u32) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self.end_column = Some(end_column);
        self
    }

    pub fn in_repo(mut self, repo: impl Into<String>) -> Self {
        self.repo = Some(repo.into());
        self
    }

    /// Sets the item key; it also becomes the fingerprint subject, so the
    /// finding follows the item when it moves to another file.
    pub fn for_key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        self.subject = key.clone();
        self.key = Some(key);
        self
    }

    /// Overrides the subject (rarely needed: key or path is the default).
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    pub fn with_anchor(mut self, anchor: impl Into<String>) -> Self {
        self.anchor = anchor.into();
        self
    }

    pub fn with_evidence(mut self, evidence: impl Into<String>) -> Self {
        self.evidence = evidence.into();
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// The subject used for hashing: the explicit subject, else the key,
    /// else the normalised path.
    pub fn effective_subject(&self) -> Cow<'_, str> {
        if !self.subject.is_empty() {
            Cow::Borrowed(&self.subject)
        } else if let Some(key) = self.key.as_deref().filter(|k| !k.is_empty()) {
            Cow::Borrowed(key)
        } else {
            Cow::Owned(normalize_path(&self.path))
        }
    }

    /// The fingerprint without any duplicate suffix.
    pub fn base_fingerprint(&self) -> String {
        fingerprint_of(
            &self.code,
            &self.effective_subject(),
            &self.anchor,
            &self.evidence,
        )
    }

    /// The assigned fingerprint, or the base fingerprint when none was
    /// assigned yet (so comparisons and output never see an empty identity).
    pub fn identity(&self) -> Cow<'_, str> {
        if self.fingerprint.is_empty() {
            Cow::Owned(self.base_fingerprint())
        } else {
            Cow::Borrowed(&self.fingerprint)
        }
    }
}

/// Normalises a repo-relative path: `\` becomes `/`, empty and `.` segments
/// go (so no leading `./`, no `//`, no leading or trailing `/`). `..` is kept:
/// resolving it needs the file system.
pub fn normalize_path(path: &str) -> String {
    let forward = path.replace('\\', "/");
    let mut out = String::with_capacity(forward.len());
    for seg in forward.split('/').filter(|s| !s.is_empty() && *s != ".") {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(seg);
    }
    out
}

/// Trims and collapses every run of whitespace to one space.
pub fn normalize_evidence(evidence: &str) -> String {
    let mut out = String::with_capacity(evidence.len());
    for word in evidence.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The `v1` fingerprint of the identity parts (evidence is normalised here;
/// the subject is taken as given).
pub fn fingerprint_of(code: &str, subject: &str, anchor: &str, evidence: &str) -> String {
    let evidence = normalize_evidence(evidence);
    let mut hasher = Sha256::new();
    hasher.update(FINGERPRINT_VERSION.as_bytes());
    for part in [code, subject, anchor, evidence.as_str()] {
        hasher.update([SEP as u8]);
        if part.contains(SEP) {
            hasher.update(part.replace(SEP, "\u{fffd}").as_bytes());
        } else {
            hasher.update(part.as_bytes());
        }
    }
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Total order on everything but the fingerprint, used to number duplicates
/// the same way whatever order the checks produced them in.
fn tie_order(a: &Finding, b: &Finding) -> Ordering {
    (
        &a.path,
        a.line,
        a.column,
        a.end_column,
        &a.repo,
        &a.key,
        &a.code,
    )
        .cmp(&(
            &b.path,
            b.line,
            b.column,
            b.end_column,
            &b.repo,
            &b.key,
            &b.code,
        ))
        .then_with(|| a.severity.cmp(&b.severity))
        .then_with(|| a.message.cmp(&b.message))
        .then_with(|| a.subject.cmp(&b.subject))
        .then_with(|| a.anchor.cmp(&b.anchor))
        .then_with(|| a.evidence.cmp(&b.evidence))
}

/// Normalises each finding's path, fills an empty subject, and assigns
/// fingerprints. Findings sharing a base fingerprint are ordered by
/// path, line, column, ... and the second gets `:1`, the third `:2`, and so
/// on. The slice keeps its order. Idempotent.
pub fn assign_fingerprints(findings: &mut [Finding]) {
    for f in findings.iter_mut() {
        let path = normalize_path(&f.path);
        // A subject spelled like the path follows the path's normalisation,
        // so `./a.md` and `a.md` stay one identity.
        if f.subject == f.path {
            f.subject = path.clone();
        }
        f.path = path;
        f.subject = f.effective_subject().into_owned();
        f.fingerprint = f.base_fingerprint();
    }
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by(|&a, &b| {
        findings[a]
            .fingerprint
            .cmp(&findings[b].fingerprint)
            .then_with(|| tie_order(&findings[a], &findings[b]))
    });
    let mut i = 0;
    while i < order.len() {
        let base = findings[order[i]].fingerprint.clone();
        let mut n = 0;
        let mut j = i + 1;
        while j < order.len() && findings[order[j]].fingerprint == base {
            n += 1;
            findings[order[j]].fingerprint = format!("{base}:{n}");
            j += 1;
        }
        i = j;
    }
}

/// Number of findings that fail the check (severity overrides and
/// enable/disable are applied by the caller before this).
pub fn gating(findings: &[Finding]) -> usize {
    findings.iter().filter(|f| f.severity.gates()).count()
}

// ---------------------------------------------------------------------------
// Baseline comparison

/// SARIF `result.baselineState`. `compare` never yields `Updated`: a finding
/// whose identity is unchanged is `Unchanged` whatever else moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineState {
    New,
    Unchanged,
    Updated,
    Absent,
}

impl BaselineState {
    pub fn as_str(self) -> &'static str {
        match self {
            BaselineState::New => "new",
            BaselineState::Unchanged => "unchanged",
            BaselineState::Updated => "updated",
            BaselineState::Absent => "absent",
        }
    }
}

/// Result of comparing two finding sets as multisets of fingerprints.
/// `new` and `unchanged` point into `after`, `fixed` into `before`;
/// `before.len() == fixed + unchanged` and `after.len() == new + unchanged`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta<'a> {
    pub new: Vec<&'a Finding>,
    pub fixed: Vec<&'a Finding>,
    pub unchanged: Vec<&'a Finding>,
}

impl Delta<'_> {
    /// Findings new relative to the baseline that gate.
    pub fn new_gating(&self) -> usize {
        self.new.iter().filter(|f| f.severity.gates()).count()
    }

    /// The baseline state of `finding`: by identity (same object) first,
    /// then by fingerprint; `None` when the finding is in neither run.
    pub fn state_of(&self, finding: &Finding) -> Option<BaselineState> {
        let lists = [
            (&self.new, BaselineState::New),
            (&self.unchanged, BaselineState::Unchanged),
            (&self.fixed, BaselineState::Absent),
        ];
        for (list, state) in lists {
            if list.iter().any(|f| std::ptr::eq(*f, finding)) {
                return Some(state);
            }
        }
        let id = finding.identity();
        for (list, state) in lists {
            if list.iter().any(|f| f.identity() == id) {
                return Some(state);
            }
        }
        None
    }
}

/// Compares `before` (baseline) and `after` (current) by full fingerprint,
/// respecting multiplicity. Findings without an assigned fingerprint are
/// compared by their base fingerprint. Order: `new` and `unchanged` follow
/// `after`, `fixed` follows `before`.
pub fn compare<'a>(before: &'a [Finding], after: &'a [Finding]) -> Delta<'a> {
    // Fingerprint -> indices into `before` not yet matched, in order.
    let mut pending: HashMap<Cow<'a, str>, std::collections::VecDeque<usize>> = HashMap::new();
    for (i, f) in before.iter().enumerate() {
        pending.entry(f.identity()).or_default().push_back(i);
    }
    let mut matched = vec![false; before.len()];
    let mut delta = Delta::default();
    for f in after {
        let hit = pending
            .get_mut(f.identity().as_ref())
            .and_then(|q| q.pop_front());
        match hit {
            Some(i) => {
                matched[i] = true;
                delta.unchanged.push(f);
            }
            None => delta.new.push(f),
        }
    }
    delta.fixed = before
        .iter()
        .zip(&matched)
        .filter(|(_, m)| !**m)
        .map(|(f, _)| f)
        .collect();
    delta
}

// ---------------------------------------------------------------------------
// Inline suppressions

/// One code named in a suppression marker, with its position on the line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressedCode {
    pub code: String,
    pub column: u32,
    pub end_column: u32,
}

/// A `<!-- concord-ignore CODE[, CODE]: reason -->` marker line.
///
/// It applies to the next line that is neither blank nor another marker
/// (so markers can be stacked). Markers inside fenced code blocks are
/// examples, not markers, and are not returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// Normalised repo-relative path of the file holding the marker.
    pub path: String,
    /// When set, only findings of this repo are suppressed (set by the
    /// caller; `parse_suppressions` leaves it empty).
    pub repo: Option<String>,
    /// Line of the marker (1-based).
    pub line: u32,
    /// Character span of the marker on its line (end exclusive).
    pub column: u32,
    pub end_column: u32,
    /// Line the marker applies to; `None` when nothing follows it.
    pub target_line: Option<u32>,
    pub codes: Vec<SuppressedCode>,
    /// Words before the `:` that are not codes (makes the marker malformed).
    pub invalid: Vec<String>,
    pub reason: Option<String>,
    /// The marker text, trimmed.
    pub marker: String,
}

impl Suppression {
    /// Only a well-formed marker with a reason suppresses anything.
    pub fn is_valid(&self) -> bool {
        self.is_well_formed() && self.reason.is_some()
    }

    fn is_well_formed(&self) -> bool {
        !self.codes.is_empty() && self.invalid.is_empty()
    }

    fn applies_to(&self, f: &Finding, path: &str) -> bool {
        self.path == path
            && f.line.is_some()
            && self.target_line == f.line
            && match (&self.repo, &f.repo) {
                (Some(a), Some(b)) => a == b,
                (Some(_), None) => false,
                (None, _) => true,
            }
            && self.codes.iter().any(|c| c.code == f.code)
    }

    fn problem(&self, code: &str, severity: Severity, message: String, anchor: String) -> Finding {
        let mut f = Finding::new(code, severity, &self.path, message)
            .span(self.line, self.column, self.end_column)
            .with_anchor(anchor)
            .with_evidence(&self.marker);
        f.repo = self.repo.clone();
        f
    }
}

static MARKER: LazyLock<Regex> = LazyLock::new(|| {
    // The marker must be alone on its line; the body after `concord-ignore`
    // starts with whitespace or `:` so `concord-ignore-file` is not a marker.
    Regex::new(r"^\s*(<!--\s*concord-ignore(?P<body>(?:[\s:].*?)?)\s*-->)\s*$")
        .expect("static regex")
});
static CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z][A-Z0-9_]*$").expect("static regex"));
static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[^,\s]+").expect("static regex"));

/// 1-based character column of byte offset `byte` in `line`.
fn char_column(line: &str, byte: usize) -> u32 {
    let n = line.get(..byte).map_or(0, |s| s.chars().count());
    u32::try_from(n + 1).unwrap_or(u32::MAX)
}

fn parse_marker(path: &str, line_no: u32, line: &str) -> Option<Suppression> {
    let caps = MARKER.captures(line)?;
    let whole = caps.get(1)?;
    let body = caps.name("body")?;
    let body_text = body.as_str();
    let (codes_part, reason) = match body_text.find(':') {
        Some(i) => {
            let reason = body_text[i + 1..].trim();
            (
                &body_text[..i],
                (!reason.is_empty()).then(|| reason.to_string()),
            )
        }
        None => (body_text, None),
    };
    let mut codes = Vec::new();
    let mut invalid = Vec::new();
    for word in WORD.find_iter(codes_part) {
        if CODE.is_match(word.as_str()) {
            let start = body.start() + word.start();
            let end = body.start() + word.end();
            codes.push(SuppressedCode {
                code: word.as_str().to_string(),
                column: char_column(line, start),
                end_column: char_column(line, end),
            });
        } else {
            invalid.push(word.as_str().to_string());
        }
    }
    Some(Suppression {
        path: path.to_string(),
        repo: None,
        line: line_no,
        column: char_column(line, whole.start()),
        end_column: char_column(line, whole.end()),
        target_line: None,
        codes,
        invalid,
        reason,
        marker: whole.as_str().trim().to_string(),
    })
}

/// Length of a fence opener (``` or ~~~, three or more) at the start of
/// `trimmed`, with its character.
fn fence_of(trimmed: &str) -> Option<(char, usize)> {
    let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = trimmed.chars().take_while(|c| *c == ch).count();
    (n >= 3).then_some((ch, n))
}

/// Finds the suppression markers in a markdown file.
pub fn parse_suppressions(path: &str, text: &str) -> Vec<Suppression> {
    let path = normalize_path(path);
    let mut out: Vec<Suppression> = Vec::new();
    // Markers waiting for their target line.
    let mut waiting: Vec<usize> = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = u32::try_from(idx + 1).unwrap_or(u32::MAX);
        let line = if idx == 0 {
            raw.trim_start_matches('\u{feff}')
        } else {
            raw
        };
        let trimmed = line.trim_start();
        if let Some((ch, n)) = fence {
            // Inside a fence: only its closer matters, and it is content.
            if let Some((c2, n2)) = fence_of(trimmed)
                && c2 == ch
                && n2 >= n
                && trimmed.trim_end().chars().all(|c| c == ch)
            {
                fence = None;
            }
        } else if trimmed.is_empty() {
            continue;
        } else if let Some(s) = parse_marker(&path, line_no, line) {
            waiting.push(out.len());
            out.push(s);
            continue;
        } else if let Some(f) = fence_of(trimmed) {
            fence = Some(f);
        }
        // A content line (including fence lines): it is the target of every
        // marker waiting above it.
        for i in waiting.drain(..) {
            out[i].target_line = Some(line_no);
        }
    }
    out
}

/// Splits findings into kept and suppressed, and reports marker problems:
/// `SUPPRESSION_MALFORMED` and `SUPPRESSION_WITHOUT_REASON` (warnings; such
/// markers suppress nothing) and `UNUSED_SUPPRESSION` (advisory, one per code
/// of a valid marker that matched no finding). Problem findings carry no
/// fingerprint yet: run [`assign_fingerprints`] over the final set.
///
/// Pass only the suppressions of files whose findings are all in `findings`
/// (and with every check that could match enabled), or markers will be
/// reported unused.
pub fn apply_suppressions(
    findings: Vec<Finding>,
    suppressions: &[Suppression],
) -> (Vec<Finding>, Vec<Finding>, Vec<Finding>) {
    // (path, target line) -> indices of valid suppressions.
    let mut by_target: HashMap<(&str, u32), Vec<usize>> = HashMap::new();
    for (i, s) in suppressions.iter().enumerate() {
        if let (true, Some(t)) = (s.is_valid(), s.target_line) {
            by_target.entry((s.path.as_str(), t)).or_default().push(i);
        }
    }
    let mut used: Vec<Vec<bool>> = suppressions
        .iter()
        .map(|s| vec![false; s.codes.len()])
        .collect();
    let mut kept = Vec::new();
    let mut suppressed = Vec::new();
    for f in findings {
        let path = normalize_path(&f.path);
        let mut hit = false;
        if let Some(candidates) = f.line.and_then(|l| by_target.get(&(path.as_str(), l))) {
            for &i in candidates {
                let s = &suppressions[i];
                if s.applies_to(&f, &path) {
                    hit = true;
                    for (k, c) in s.codes.iter().enumerate() {
                        if c.code == f.code {
                            used[i][k] = true;
                        }
                    }
                }
            }
        }
        if hit {
            suppressed.push(f);
        } else {
            kept.push(f);
        }
    }

    let mut problems = Vec::new();
    for (i, s) in suppressions.iter().enumerate() {
        let code_list = s
            .codes
            .iter()
            .map(|c| c.code.as_str())
            .collect::<Vec<_>>()
            .join(",");
        if !s.is_well_formed() {
            let what = if s.invalid.is_empty() {
                "names no code".to_string()
            } else {
                format!("has words that are not codes ({})", s.invalid.join(", "))
            };
            problems.push(s.problem(
                SUPPRESSION_MALFORMED,
                Severity::Warning,
                format!(
                    "suppression marker {what}; expected `<!-- concord-ignore CODE[, CODE]: reason -->`; it suppresses nothing"
                ),
                code_list,
            ));
        } else if s.reason.is_none() {
            problems.push(s.problem(
                SUPPRESSION_WITHOUT_REASON,
                Severity::Warning,
                format!(
                    "suppression of {code_list} gives no reason; write `<!-- concord-ignore {code_list}: reason -->`; it suppresses nothing"
                ),
                code_list,
            ));
        } else {
            for (k, c) in s.codes.iter().enumerate() {
                if used[i][k] {
                    continue;
                }
                let target = match s.target_line {
                    Some(t) => format!("line {t}"),
                    None => "the end of the file".to_string(),
                };
                let mut p = s.problem(
                    UNUSED_SUPPRESSION,
                    Severity::Advisory,
                    format!(
                        "suppression of {} matched no finding on {target}; remove it",
                        c.code
                    ),
                    c.code.clone(),
                );
                p.column = Some(c.column);
                p.end_column = Some(c.end_column);
                problems.push(p);
            }
        }
    }
    (kept, suppressed, problems)
}

// ---------------------------------------------------------------------------
// Tests

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Finding {
        Finding::error("OWNER_MISSING", "plans/q3.md", "item PLAN-1 has no owner")
            .span(3, 5, 11)
            .for_key("PLAN-1")
            .with_anchor("owner")
            .with_evidence("")
    }

    #[test]
    fn severity_parse_and_gates() {
        assert_eq!("error".parse::<Severity>(), Ok(Severity::Error));
        assert_eq!(" Warning ".parse::<Severity>(), Ok(Severity::Warning));
        assert_eq!("ADVISORY".parse::<Severity>(), Ok(Severity::Advisory));
        let err = "warn".parse::<Severity>().unwrap_err();
        assert!(err.to_string().contains("\"warn\""), "{err}");
        assert!(
            err.to_string().contains("error, warning, advisory"),
            "{err}"
        );
        assert!(Severity::Error.gates());
        assert!(!Severity::Warning.gates());
        assert!(!Severity::Advisory.gates());
        assert_eq!(
            serde_json::to_string(&Severity::Advisory).unwrap(),
            "\"advisory\""
        );
        assert_eq!(
            serde_json::from_str::<Severity>("\"warning\"").unwrap(),
            Severity::Warning
        );
    }

    #[test]
    fn builder_sets_fields() {
        let f = sample().in_repo("plans");
        assert_eq!(f.code, "OWNER_MISSING");
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(
            (f.line, f.column, f.end_column),
            (Some(3), Some(5), Some(11))
        );
        assert_eq!(f.key.as_deref(), Some("PLAN-1"));
        assert_eq!(f.subject, "PLAN-1");
        assert_eq!(f.repo.as_deref(), Some("plans"));
        let g = Finding::warning("X", "./a//b\\c.md", "m");
        assert_eq!(g.path, "a/b/c.md");
        assert_eq!(g.subject, "a/b/c.md");
    }

    #[test]
    fn normalize_path_cases() {
        assert_eq!(normalize_path("./a/b.md"), "a/b.md");
        assert_eq!(normalize_path("././a//b/./c.md"), "a/b/c.md");
        assert_eq!(normalize_path("a\\b\\c.md"), "a/b/c.md");
        assert_eq!(normalize_path("/a/b/"), "a/b");
        assert_eq!(normalize_path("../x.md"), "../x.md");
        assert_eq!(normalize_path(""), "");
    }

    #[test]
    fn fingerprint_known_value_and_format() {
        // Pins the v1 scheme: changing it must be a deliberate version bump.
        let fp = fingerprint_of("OWNER_MISSING", "PLAN-1", "owner", "  a \n b ");
        let mut h = Sha256::new();
        h.update(b"v1\x1fOWNER_MISSING\x1fPLAN-1\x1fowner\x1fa b");
        let expected: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(fp, expected);
        assert_eq!(fp.len(), 64);
        assert!(
            fp.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn separator_inside_a_field_cannot_forge_boundaries() {
        let a = fingerprint_of("A", "b\u{1f}c", "", "");
        let b = fingerprint_of("A", "b", "c", "");
        assert_ne!(a, b);
    }

    #[test]
    fn subject_falls_back_to_key_then_path() {
        let mut f = sample();
        f.subject.clear();
        assert_eq!(f.effective_subject(), "PLAN-1");
        f.key = None;
        f.path = "./plans//q3.md".into();
        assert_eq!(f.effective_subject(), "plans/q3.md");
        // Spelling of the path does not matter.
        let mut g = f.clone();
        g.path = "plans/q3.md".into();
        assert_eq!(f.base_fingerprint(), g.base_fingerprint());
        // Also when a struct literal copied the raw path into the subject.
        let mut v = vec![f.clone(), g.clone()];
        v[0].subject = v[0].path.clone();
        assign_fingerprints(&mut v);
        assert_eq!(v[0].subject, "plans/q3.md");
        assert_eq!(v[1].fingerprint, format!("{}:1", v[0].fingerprint));
    }

    #[test]
    fn assign_numbers_duplicates_and_keeps_order() {
        let a = Finding::warning("DUP", "a.md", "one").at_line(9);
        let b = Finding::warning("DUP", "a.md", "two").at_line(2);
        let c = Finding::warning("OTHER", "a.md", "three").at_line(1);
        let mut v = vec![a, b, c];
        assign_fingerprints(&mut v);
        let base = v[0].base_fingerprint();
        // Line 2 sorts first and keeps the bare hash.
        assert_eq!(v[1].fingerprint, base);
        assert_eq!(v[0].fingerprint, format!("{base}:1"));
        assert!(!v[2].fingerprint.contains(':'));
        assert_eq!(v[0].message, "one", "slice order kept");
        // Idempotent.
        let before = v.clone();
        assign_fingerprints(&mut v);
        assert_eq!(v, before);
    }

    #[test]
    fn adding_a_duplicate_is_one_new_finding() {
        let one = vec![Finding::error("DUP", "a.md", "m").at_line(5)];
        let mut before = one.clone();
        assign_fingerprints(&mut before);
        let mut after = vec![
            one[0].clone(),
            Finding::error("DUP", "a.md", "m").at_line(1),
        ];
        assign_fingerprints(&mut after);
        let d = compare(&before, &after);
        assert_eq!((d.new.len(), d.fixed.len(), d.unchanged.len()), (1, 0, 1));
        assert_eq!(d.new_gating(), 1);
    }

    #[test]
    fn moved_and_reworded_finding_is_unchanged() {
        let mut before = vec![sample()];
        let mut after = vec![sample().span(40, 1, 2)];
        after[0].message = "reworded".into();
        assign_fingerprints(&mut before);
        assign_fingerprints(&mut after);
        let d = compare(&before, &after);
        assert!(d.new.is_empty() && d.fixed.is_empty());
        assert_eq!(d.unchanged.len(), 1);
        assert_eq!(
            d.unchanged[0].line,
            Some(40),
            "unchanged points into `after`"
        );
        assert_eq!(d.state_of(&after[0]), Some(BaselineState::Unchanged));
    }

    #[test]
    fn compare_new_fixed_and_states() {
        let mut before = vec![
            Finding::error("A", "x.md", "a"),
            Finding::error("B", "x.md", "b"),
        ];
        let mut after = vec![
            Finding::error("B", "x.md", "b"),
            Finding::warning("C", "x.md", "c"),
        ];
        assign_fingerprints(&mut before);
        assign_fingerprints(&mut after);
        let d = compare(&before, &after);
        assert_eq!(
            d.new.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
            ["C"]
        );
        assert_eq!(
            d.fixed.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
            ["A"]
        );
        assert_eq!(
            d.unchanged
                .iter()
                .map(|f| f.code.as_str())
                .collect::<Vec<_>>(),
            ["B"]
        );
        assert_eq!(d.new_gating(), 0);
        assert_eq!(d.state_of(&after[1]), Some(BaselineState::New));
        assert_eq!(d.state_of(&before[0]), Some(BaselineState::Absent));
        // A clone is found by fingerprint.
        assert_eq!(
            d.state_of(&after[0].clone()),
            Some(BaselineState::Unchanged)
        );
        assert_eq!(d.state_of(&Finding::error("Z", "z", "z")), None);
    }

    #[test]
    fn compare_without_assigned_fingerprints_respects_multiplicity() {
        let f = Finding::error("A", "x.md", "a");
        let before = vec![f.clone(), f.clone(), f.clone()];
        let after = vec![f.clone()];
        let d = compare(&before, &after);
        assert_eq!((d.new.len(), d.fixed.len(), d.unchanged.len()), (0, 2, 1));
    }

    #[test]
    fn gating_counts_errors_only() {
        let v = vec![
            Finding::error("A", "a", "m"),
            Finding::warning("B", "a", "m"),
            Finding::advisory("C", "a", "m"),
            Finding::error("D", "a", "m"),
        ];
        assert_eq!(gating(&v), 2);
    }

    #[test]
    fn serde_round_trip_and_optional_fields() {
        let mut v = vec![sample()];
        assign_fingerprints(&mut v);
        let s = serde_json::to_string(&v[0]).unwrap();
        assert!(!s.contains("\"repo\""), "None fields are left out: {s}");
        let back: Finding = serde_json::from_str(&s).unwrap();
        assert_eq!(back, v[0]);
        let minimal: Finding = serde_json::from_str(
            r#"{"code":"A","severity":"advisory","path":"p.md","message":"m"}"#,
        )
        .unwrap();
        assert_eq!(minimal.severity, Severity::Advisory);
        assert!(minimal.fingerprint.is_empty());
        assert_eq!(minimal.identity(), fingerprint_of("A", "p.md", "", ""));
    }

    // -- suppressions --------------------------------------------------------

    const DOC: &str = "\
# Plan

<!-- concord-ignore OWNER_MISSING: owner is on leave until May -->

- [ ] PLAN-1 ship it
<!-- concord-ignore STATUS_UNKNOWN, OWNER_MISSING: migrating -->
<!-- concord-ignore DATE_STALE -->
- [ ] PLAN-2 review
<!-- concord-ignore owner is away -->
- [ ] PLAN-3
```markdown
<!-- concord-ignore OWNER_MISSING -->
```
<!-- concord-ignore LINK_BROKEN: trailing -->
";

    #[test]
    fn parse_markers_targets_and_fences() {
        let s = parse_suppressions("./docs/plan.md", DOC);
        assert_eq!(s.len(), 5, "{s:#?}");
        assert!(s.iter().all(|m| m.path == "docs/plan.md"));
        // Blank lines are skipped.
        assert_eq!((s[0].line, s[0].target_line), (3, Some(5)));
        assert_eq!(s[0].codes[0].code, "OWNER_MISSING");
        assert_eq!(s[0].reason.as_deref(), Some("owner is on leave until May"));
        assert_eq!((s[0].column, s[0].end_column), (1, 67));
        assert_eq!((s[0].codes[0].column, s[0].codes[0].end_column), (21, 34));
        // Stacked markers share the target.
        assert_eq!(s[1].target_line, Some(8));
        assert_eq!(s[2].target_line, Some(8));
        assert_eq!(
            s[1].codes
                .iter()
                .map(|c| c.code.as_str())
                .collect::<Vec<_>>(),
            ["STATUS_UNKNOWN", "OWNER_MISSING"]
        );
        assert!(s[2].reason.is_none());
        assert_eq!(s[3].invalid, ["owner", "is", "away"]);
        // The marker inside the fence is an example; the last one has no target.
        assert_eq!(s[4].line, 14);
        assert_eq!(s[4].target_line, None);
    }

    #[test]
    fn marker_syntax_variants() {
        let one = |t: &str| parse_suppressions("a.md", t);
        assert_eq!(one("  <!--concord-ignore A:r-->\nx").len(), 1);
        assert_eq!(one("<!-- concord-ignore-file A: r -->\nx").len(), 0);
        assert_eq!(one("text <!-- concord-ignore A: r -->\nx").len(), 0);
        let m = &one("<!-- concord-ignore A,B  C: because -->\nx")[0];
        assert_eq!(m.codes.len(), 3);
        assert!(m.is_valid());
        let m = &one("<!-- concord-ignore: because -->\nx")[0];
        assert!(m.codes.is_empty() && !m.is_valid());
        let m = &one("<!-- concord-ignore A:   -->\nx")[0];
        assert!(m.reason.is_none());
        // Columns count characters, not bytes.
        let m = &one("\u{feff}  <!-- concord-ignore É: r -->\nx")[0];
        assert_eq!(m.invalid, ["É"]);
        let m = &one("\t<!-- concord-ignore A: é -->\r\nx\r\n")[0];
        assert_eq!((m.column, m.target_line), (2, Some(2)));
        assert_eq!(m.reason.as_deref(), Some("é"));
    }

    #[test]
    fn apply_suppresses_and_reports_problems() {
        let s = parse_suppressions("docs/plan.md", DOC);
        let findings = vec![
            Finding::error("OWNER_MISSING", "docs/plan.md", "no owner").at(5, 7),
            Finding::error("OWNER_MISSING", "docs/plan.md", "no owner").at_line(8),
            Finding::warning("DATE_STALE", "docs/plan.md", "stale").at_line(8),
            Finding::error("OWNER_MISSING", "docs/plan.md", "no owner").at_line(10),
            Finding::error("OWNER_MISSING", "docs/other.md", "no owner").at_line(5),
            Finding::error("OWNER_MISSING", "docs/plan.md", "file level"),
        ];
        let (kept, suppressed, problems) = apply_suppressions(findings, &s);
        assert_eq!(suppressed.len(), 2);
        assert!(suppressed.iter().all(|f| f.code == "OWNER_MISSING"));
        assert_eq!(kept.len(), 4);
        // DATE_STALE kept: its marker has no reason.
        assert!(kept.iter().any(|f| f.code == "DATE_STALE"));
        let codes: Vec<(&str, u32, &str)> = problems
            .iter()
            .map(|p| (p.code.as_str(), p.line.unwrap_or(0), p.anchor.as_str()))
            .collect();
        assert_eq!(
            codes,
            [
                (UNUSED_SUPPRESSION, 6, "STATUS_UNKNOWN"),
                (SUPPRESSION_WITHOUT_REASON, 7, "DATE_STALE"),
                (SUPPRESSION_MALFORMED, 9, ""),
                (UNUSED_SUPPRESSION, 14, "LINK_BROKEN"),
            ]
        );
        assert_eq!(problems[0].severity, Severity::Advisory);
        assert_eq!(problems[1].severity, Severity::Warning);
        assert_eq!(problems[2].severity, Severity::Warning);
        assert!(problems[2].message.contains("owner, is, away"));
        // Unused code is pinpointed on the marker line.
        assert_eq!(problems[0].column, Some(21));
        assert!(problems.iter().all(|p| p.path == "docs/plan.md"));
        assert!(problems[1].evidence.contains("concord-ignore DATE_STALE"));
    }

    #[test]
    fn suppression_repo_filter() {
        let mut s = parse_suppressions("a.md", "<!-- concord-ignore A: r -->\nx\n");
        s[0].repo = Some("one".into());
        let f = |repo: &str| Finding::error("A", "a.md", "m").at_line(2).in_repo(repo);
        let (kept, suppressed, problems) = apply_suppressions(vec![f("one"), f("two")], &s);
        assert_eq!(suppressed[0].repo.as_deref(), Some("one"));
        assert_eq!(kept[0].repo.as_deref(), Some("two"));
        assert!(problems.is_empty());
    }

    // -- properties ----------------------------------------------------------

    fn arb_finding() -> impl Strategy<Value = Finding> {
        (
            prop::sample::select(vec!["A", "B", "OWNER_MISSING"]),
            prop::sample::select(vec![Severity::Error, Severity::Warning, Severity::Advisory]),
            prop::sample::select(vec!["a.md", "./a.md", "dir/b.json", "dir//c.md"]),
            prop::option::of(1u32..50),
            prop::option::of(1u32..20),
            prop::option::of(prop::sample::select(vec!["K-1", "K-2"])),
            prop::sample::select(vec!["", "/owner", "#heading"]),
            prop::sample::select(vec!["", "x", "x  y", " x y "]),
            "[a-z ]{0,6}",
        )
            .prop_map(|(code, sev, path, line, col, key, anchor, ev, msg)| {
                let mut f = Finding::new(code, sev, path, msg)
                    .with_anchor(anchor)
                    .with_evidence(ev);
                if let Some(k) = key {
                    f = f.for_key(k);
                }
                f.line = line;
                f.column = col;
                f
            })
    }

    fn fp(f: &Finding) -> String {
        f.base_fingerprint()
    }

    proptest! {
        #[test]
        fn prop_location_and_message_do_not_matter(
            f in arb_finding(), line in prop::option::of(1u32..10_000),
            col in prop::option::of(1u32..500), end in prop::option::of(1u32..500),
            msg in ".{0,40}"
        ) {
            let mut g = f.clone();
            g.line = line;
            g.column = col;
            g.end_column = end;
            g.message = msg;
            prop_assert_eq!(fp(&f), fp(&g));
        }

        #[test]
        fn prop_identity_parts_matter(f in arb_finding(), extra in "[a-zA-Z0-9_]{1,8}") {
            let mut g = f.clone();
            g.code = format!("{}{extra}", f.code);
            prop_assert_ne!(fp(&f), fp(&g));
            let mut g = f.clone();
            g.subject = format!("{}{extra}", f.effective_subject());
            prop_assert_ne!(fp(&f), fp(&g));
            let mut g = f.clone();
            g.anchor = format!("{}{extra}", f.anchor);
            prop_assert_ne!(fp(&f), fp(&g));
            let mut g = f.clone();
            g.evidence = format!("{} {extra}", f.evidence);
            prop_assert_ne!(fp(&f), fp(&g));
        }

        #[test]
        fn prop_evidence_whitespace_does_not_matter(
            words in prop::collection::vec("[a-z0-9é]{1,5}", 0..5),
            seps in prop::collection::vec(prop::sample::select(vec![" ", "  ", "\t", "\n", " \r\n "]), 6),
        ) {
            let tight = words.join(" ");
            let mut loose = seps[0].to_string();
            for (i, w) in words.iter().enumerate() {
                loose.push_str(w);
                loose.push_str(seps[(i + 1) % seps.len()]);
            }
            prop_assert_eq!(
                fingerprint_of("A", "s", "a", &tight),
                fingerprint_of("A", "s", "a", &loose)
            );
        }

        #[test]
        fn prop_duplicate_numbering_ignores_input_order(
            v in prop::collection::vec(arb_finding(), 0..12),
            seed in any::<u64>(),
        ) {
            let mut a = v.clone();
            assign_fingerprints(&mut a);
            // Deterministic shuffle driven by the seed.
            let mut b = v.clone();
            let mut s = seed | 1;
            for i in (1..b.len()).rev() {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                b.swap(i, (s % (i as u64 + 1)) as usize);
            }
            assign_fingerprints(&mut b);
            let mut pa: Vec<String> = a.iter().map(|f| format!("{f:?}")).collect();
            let mut pb: Vec<String> = b.iter().map(|f| format!("{f:?}")).collect();
            pa.sort();
            pb.sort();
            prop_assert_eq!(pa, pb);
            // All assigned fingerprints are distinct.
            let mut fps: Vec<&str> = a.iter().map(|f| f.fingerprint.as_str()).collect();
            fps.sort();
            fps.dedup();
            prop_assert_eq!(fps.len(), a.len());
        }

        #[test]
        fn prop_compare_self_is_clean(v in prop::collection::vec(arb_finding(), 0..12), assign in any::<bool>()) {
            let mut v = v;
            if assign { assign_fingerprints(&mut v); }
            let d = compare(&v, &v);
            prop_assert!(d.new.is_empty());
            prop_assert!(d.fixed.is_empty());
            prop_assert_eq!(d.unchanged.len(), v.len());
        }

        #[test]
        fn prop_compare_counts_consistent(
            before in prop::collection::vec(arb_finding(), 0..10),
            after in prop::collection::vec(arb_finding(), 0..10),
            assign in any::<bool>(),
        ) {
            let (mut before, mut after) = (before, after);
            if assign {
                assign_fingerprints(&mut before);
                assign_fingerprints(&mut after);
            }
            let d = compare(&before, &after);
            prop_assert_eq!(before.len(), d.fixed.len() + d.unchanged.len());
            prop_assert_eq!(after.len(), d.new.len() + d.unchanged.len());
            // Every new finding's identity is absent from the unmatched baseline.
            for n in &d.new {
                prop_assert!(!d.fixed.iter().any(|f| f.identity() == n.identity()));
            }
        }

        #[test]
        fn prop_normalize_path_idempotent(p in "[a-z./\\\\]{0,20}") {
            let once = normalize_path(&p);
            prop_assert_eq!(normalize_path(&once), once.clone());
            prop_assert!(!once.starts_with("./") && !once.contains("//") && !once.contains('\\'));
        }
    }
}
