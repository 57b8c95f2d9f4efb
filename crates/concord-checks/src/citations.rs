//! Pull-request and issue citations for the `BROKEN_CITATION` check:
//! finding them in project-state text, and asking (or remembering) whether
//! GitHub has them.
//!
//! # What is recognised
//!
//! - `PR #301`, `PR#301`, `PRs #126 + #127`, `PR (#129)`, `**PR:** #61`,
//!   `pull request #301`, `issue #140` (keywords case-insensitive): in the
//!   default repository.
//!   After a keyword, further `#N` joined by `,` `+` `&` `/` `-` `–` `—`
//!   `and` `or` (or just spaces) are part of the same list (`PRs #96 – #116`
//!   cites both ends, not the range).
//! - `[fitme-story#88]`: a repository name whose owner comes from
//!   [`CitationContext::owners`], else [`CitationContext::default_owner`].
//!   An owners value containing `/` is a whole repository, so an alias like
//!   `FT2 = "Regevba/FitTracker2"` works too.
//! - A *configured* name without brackets: `fitme-story#88`,
//!   `fitme-story #88`, `fitme-story PR #88` (a known name before a keyword
//!   picks the repository; an unknown word before it is just prose).
//! - `owner/repo#N`.
//! - `https://github.com/owner/repo/pull/N` (also `/pulls/`, `/issues/`,
//!   `www.`, `http:`); `/files`, `#anchors` and `?queries` after the
//!   number are ignored.
//!
//! A markdown link `[PR #3](https://github.com/o/r/pull/3)` is one
//! citation: the URL decides the repository, label citations with the same
//! number are folded into it, and the span is the whole link.
//!
//! # What is not
//!
//! - `#123` without a keyword or repository (table cells, `Fix #1`,
//!   `Audit #1`), `C#`, headings (`# Title`), footnotes (`[^1]`),
//!   HTML entities (`&#123;`).
//! - Colours and versions: the number must start with 1-9 and not run on
//!   into letters, digits, `_` or `.digit` (`#007AFF`, `#000`, `#1.2`).
//! - `path/file.md#12`: anchors of paths (`owner/repo` must not continue a
//!   path, and a "repository" with a file extension is a file).
//! - Fenced code blocks (```` ``` ```` and `~~~`, also in lists and quotes):
//!   they hold examples, logs and regexes, not claims. Inline code spans
//!   are read: prose often quotes a citation as `` `issue #69` ``.
//!   Indented code blocks are read (they cannot be told from list
//!   continuations without a full markdown parser).
//!
//! JSON (and any other text) is read as raw text, so line and column point
//! into the file as it is; citations inside JSON strings are found, bare
//! numbers (`"related_prs": [606]`) are not, as only a schema says which
//! repository they are in.
//!
//! Citations that cannot be given an `owner/name` (`PR #3` with no default
//! repository, `[name#3]` with no owner for `name`) come back separately
//! from [`extract_all`] as [`Unqualified`], for an "unqualified citation"
//! finding; [`extract`] drops them.
//!
//! Repositories are lowercased (GitHub names are case-insensitive), so the
//! same citation written two ways is asked about once.
//!
//! # Resolution
//!
//! [`GitHubResolver`] asks GitHub's issues endpoint, which answers for pull
//! requests too, so a `PR #N` that is really an issue exists. A 404 or 410
//! is `Missing` (a repository the token cannot see looks the same);
//! anything else (bad token, rate limit, network) is `Unknown`, never
//! `Missing`, and after a bad token, a spent rate limit or a network
//! failure the remaining citations are not asked about. [`CitationCache`]
//! keeps definite answers between runs; [`OfflineResolver`] answers from it
//! alone.

use concord_trackers::github::{GhError, GitHub};
use concord_trackers::http::HttpError;
use regex::Regex;
use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};

/// A pull request or issue: `repo` is `owner/name`, lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Citation {
    pub repo: String,
    pub number: u64,
}

impl Citation {
    /// `repo` is lowercased.
    pub fn new(repo: &str, number: u64) -> Citation {
        Citation {
            repo: repo.to_ascii_lowercase(),
            number,
        }
    }
}

impl fmt::Display for Citation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.repo, self.number)
    }
}

impl FromStr for Citation {
    type Err = String;

    /// `owner/name#N`, as in the cache file.
    fn from_str(s: &str) -> Result<Citation, String> {
        let bad = || format!("`{s}` is not a citation of the form owner/name#N");
        let (repo, number) = s.rsplit_once('#').ok_or_else(bad)?;
        let (owner, name) = repo.split_once('/').ok_or_else(bad)?;
        if !valid_owner(owner) || !valid_name(name) {
            return Err(bad());
        }
        let number = parse_number(number).ok_or_else(bad)?;
        Ok(Citation::new(repo, number))
    }
}

/// One place a citation is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitedAt {
    pub citation: Citation,
    /// 1-based.
    pub line: u32,
    /// 1-based, in characters (Unicode scalar values).
    pub column: u32,
    /// The column just past the citation (exclusive, as SARIF's
    /// `endColumn`).
    pub end_column: u32,
    /// As written: `PR #3`, `#4` (in a list), `[name#5]`, a whole markdown
    /// link.
    pub text: String,
}

/// A citation with no repository to look it up in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unqualified {
    pub number: u64,
    /// The repository name of `[name#N]` that has no owner; `None` for a
    /// bare `PR #N` with no default repository.
    pub name: Option<String>,
    pub line: u32,
    pub column: u32,
    pub end_column: u32,
    pub text: String,
}

impl Unqualified {
    /// Why it cannot be looked up, for a finding's message.
    pub fn reason(&self) -> String {
        match &self.name {
            Some(name) => format!(
                "`{}` names repository `{name}` but no owner is configured for it",
                self.text
            ),
            None => format!(
                "`{}` names no repository and there is no default repository",
                self.text
            ),
        }
    }
}

/// Every citation of a text, qualified or not, in order of position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub cited: Vec<CitedAt>,
    pub unqualified: Vec<Unqualified>,
}

/// How to qualify short citations (mirrors the `[checks.citations]`
/// configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitationContext {
    /// `owner/name` for bare `PR #N` / `issue #N`.
    pub default_repo: Option<String>,
    /// Repository name -> owner, for `[name#N]`; a value with a `/` is the
    /// whole `owner/name` (an alias).
    pub owners: BTreeMap<String, String>,
    /// The owner of any other `[name#N]`.
    pub default_owner: Option<String>,
}

/// Qualified citations of `text`, in order of position; see
/// [`extract_all`] for the unqualified ones too.
pub fn extract(text: &str, ctx: &CitationContext) -> Vec<CitedAt> {
    extract_all(text, ctx).cited
}

/// Every citation of `text`: see the module documentation for the forms.
pub fn extract_all(text: &str, ctx: &CitationContext) -> Extracted {
    let known = Known::new(ctx);
    let mut out = Extracted::default();
    let mut fence: Option<Fence> = None;
    for (index, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if let Some(open) = fence {
            if open.closed_by(line) {
                fence = None;
            }
            continue;
        }
        if let Some(open) = Fence::opened_by(line) {
            fence = Some(open);
            continue;
        }
        // Most lines cite nothing: skip them before any real work.
        if !line.contains('#') && !contains_ignore_case(line, "github.com") {
            continue;
        }
        let hits = scan_line(line, &known);
        emit(line, line_no, hits, &mut out);
    }
    out
}

/// The citation's `owner/name#N` for a message, with the repository
/// spelled as the text wrote it (`Regevba/FitTracker2#78` from
/// `Regevba/FitTracker2#78` or a URL), else as the configuration spells it
/// (`default_repo`, an owners entry), else lowercased. Citations are
/// compared lowercased; people read them as written.
pub fn shown(at: &CitedAt, ctx: &CitationContext) -> String {
    let repo = &at.citation.repo;
    let number = at.citation.number;
    let in_text = find_ignore_case(&at.text, repo).map(|start| &at.text[start..start + repo.len()]);
    let configured = || {
        let default = ctx
            .default_repo
            .as_deref()
            .map(str::trim)
            .filter(|r| r.eq_ignore_ascii_case(repo));
        default.map(str::to_string).or_else(|| {
            ctx.owners.iter().find_map(|(name, owner)| {
                let owner = owner.trim();
                let full = if owner.contains('/') {
                    owner.to_string()
                } else {
                    format!("{owner}/{name}")
                };
                full.eq_ignore_ascii_case(repo).then_some(full)
            })
        })
    };
    let name = in_text
        .map(str::to_string)
        .or_else(configured)
        .unwrap_or_else(|| repo.clone());
    format!("{name}#{number}")
}

/// Byte offset of `needle` in `haystack`, ASCII case-insensitively.
fn find_ignore_case(haystack: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
        .filter(|&start| {
            haystack.is_char_boundary(start) && haystack.is_char_boundary(start + needle.len())
        })
}

/// Each cited pull request or issue once.
pub fn distinct(cites: &[CitedAt]) -> BTreeSet<Citation> {
    cites.iter().map(|c| c.citation.clone()).collect()
}

// ---------------------------------------------------------------- scanning

/// Repository names a short citation may use, lowercased -> `owner/name`.
struct Known<'a> {
    names: BTreeMap<String, String>,
    default_repo: Option<String>,
    default_owner: Option<&'a str>,
}

impl<'a> Known<'a> {
    fn new(ctx: &'a CitationContext) -> Known<'a> {
        let mut names = BTreeMap::new();
        let default_repo = ctx
            .default_repo
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_ascii_lowercase);
        if let Some(repo) = &default_repo
            && let Some((_, name)) = repo.split_once('/')
        {
            names.insert(name.to_string(), repo.clone());
        }
        // Explicit owners win over the default repository's own name.
        for (name, owner) in &ctx.owners {
            let owner = owner.trim();
            let full = if owner.contains('/') {
                owner.to_ascii_lowercase()
            } else {
                format!("{owner}/{name}").to_ascii_lowercase()
            };
            names.insert(name.to_ascii_lowercase(), full);
        }
        Known {
            names,
            default_repo,
            default_owner: ctx
                .default_owner
                .as_deref()
                .map(str::trim)
                .filter(|o| !o.is_empty()),
        }
    }

    fn repo_of(&self, name: &str) -> Option<&str> {
        self.names
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// A fenced code block's opening: its character and length.
#[derive(Debug, Clone, Copy)]
struct Fence {
    marker: u8,
    len: usize,
}

impl Fence {
    /// Leading indentation and blockquote markers are ignored, so fences
    /// inside list items and quotes count too.
    fn strip(line: &str) -> &str {
        line.trim_start_matches([' ', '\t', '>'])
    }

    fn opened_by(line: &str) -> Option<Fence> {
        let t = Fence::strip(line);
        let marker = *t.as_bytes().first()?;
        if marker != b'`' && marker != b'~' {
            return None;
        }
        let len = t.bytes().take_while(|&b| b == marker).count();
        // A backtick "info string" with a backtick is inline code instead.
        if len < 3 || (marker == b'`' && t[len..].contains('`')) {
            return None;
        }
        Some(Fence { marker, len })
    }

    fn closed_by(self, line: &str) -> bool {
        let t = Fence::strip(line);
        let len = t.bytes().take_while(|&b| b == self.marker).count();
        len >= self.len && t[len..].trim().is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Cited(Citation),
    Unqualified { number: u64, name: Option<String> },
}

impl Target {
    fn number(&self) -> u64 {
        match self {
            Target::Cited(c) => c.number,
            Target::Unqualified { number, .. } => *number,
        }
    }
}

/// A citation on one line, by byte offsets.
#[derive(Debug, Clone)]
struct Hit {
    start: usize,
    end: usize,
    target: Target,
    /// Markdown link around a URL citation: `[` .. past `)`.
    link: Option<(usize, usize)>,
}

/// What later `#N` in a list (`PRs #1, #2`) belong to.
struct List {
    end: usize,
    target: Target,
}

static URL: LazyLock<Regex> = LazyLock::new(|| {
    // Owners are alphanumerics and dashes; names add `_` and `.`.
    Regex::new(
        r"(?i)\bhttps?://(?:www\.)?github\.com/([a-z0-9][a-z0-9-]*)/([a-z0-9_.-]+)/(?:pulls?|issues)/([0-9]+)",
    )
    .expect("the URL pattern is valid")
});

fn scan_line(line: &str, known: &Known<'_>) -> Vec<Hit> {
    let bytes = line.as_bytes();
    let mut hits = Vec::new();
    // Whole URLs (anchors included), where a `#` is not a citation.
    let mut url_spans = Vec::new();
    for caps in URL.captures_iter(line) {
        let (Some(whole), Some(owner), Some(name), Some(digits)) =
            (caps.get(0), caps.get(1), caps.get(2), caps.get(3))
        else {
            continue;
        };
        let url_end = url_end(line, whole.end());
        url_spans.push((whole.start(), url_end));
        if !number_ends(bytes, digits.end()) || !valid_name(name.as_str()) {
            continue;
        }
        let Some(number) = parse_number(digits.as_str()) else {
            continue;
        };
        let repo = format!("{}/{}", owner.as_str(), name.as_str());
        hits.push(Hit {
            start: whole.start(),
            end: digits.end(),
            target: Target::Cited(Citation::new(&repo, number)),
            link: markdown_link(line, whole.start(), url_end),
        });
    }

    let mut list: Option<List> = None;
    let mut next_url = 0;
    for (pos, _) in line.match_indices('#') {
        // URLs come in order: drop those behind, skip a `#` inside one.
        while url_spans.get(next_url).is_some_and(|&(_, end)| end <= pos) {
            next_url += 1;
        }
        if url_spans
            .get(next_url)
            .is_some_and(|&(start, _)| start <= pos)
        {
            continue;
        }
        let digits_end = pos
            + 1
            + bytes[pos + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        if !number_ends(bytes, digits_end) {
            continue;
        }
        let Some(number) = parse_number(&line[pos + 1..digits_end]) else {
            continue;
        };
        let found = classify(line, pos, digits_end, number, known).or_else(|| {
            // A list item takes the list's repository with its own number.
            let list = list.as_ref()?;
            let target = match &list.target {
                Target::Cited(c) => Target::Cited(Citation::new(&c.repo, number)),
                Target::Unqualified { name, .. } => Target::Unqualified {
                    number,
                    name: name.clone(),
                },
            };
            list_gap(&line[list.end..pos]).then_some((pos, digits_end, target))
        });
        let Some((start, end, target)) = found else {
            continue;
        };
        list = Some(List {
            end,
            target: target.clone(),
        });
        hits.push(Hit {
            start,
            end,
            target,
            link: None,
        });
    }
    hits
}

/// The citation a `#N` at `pos` belongs to, as (start, end, target), if
/// it is written in one of the forms that name it on their own.
fn classify(
    line: &str,
    pos: usize,
    digits_end: usize,
    number: u64,
    known: &Known<'_>,
) -> Option<(usize, usize, Target)> {
    let bytes = line.as_bytes();
    if let Some(found) = keyword_form(line, pos, digits_end, number, known) {
        return Some(found);
    }
    let name_start = run_start(bytes, pos, is_name_byte);
    if name_start < pos {
        let name = &line[name_start..pos];
        let before = name_start.checked_sub(1).map(|i| bytes[i]);
        // `owner/repo#N`
        if before == Some(b'/') {
            let owner_start = run_start(bytes, name_start - 1, is_owner_byte);
            let owner = &line[owner_start..name_start - 1];
            let boundary = owner_start.checked_sub(1).map(|i| bytes[i]);
            if !valid_owner(owner)
                || !valid_name(name)
                || looks_like_file(name)
                || !is_boundary(boundary)
            {
                return None;
            }
            let repo = format!("{owner}/{name}");
            return Some((
                owner_start,
                digits_end,
                Target::Cited(Citation::new(&repo, number)),
            ));
        }
        if !valid_name(name) {
            return None;
        }
        // `[name#N]`
        if before == Some(b'[') && bytes.get(digits_end) == Some(&b']') {
            let target = match known.repo_of(name) {
                Some(repo) => Target::Cited(Citation::new(repo, number)),
                None => match known.default_owner {
                    Some(owner) => Target::Cited(Citation::new(&format!("{owner}/{name}"), number)),
                    None => Target::Unqualified {
                        number,
                        name: Some(name.to_string()),
                    },
                },
            };
            return Some((name_start - 1, digits_end + 1, target));
        }
        // `name#N`, only for names the configuration knows.
        let repo = known.repo_of(name)?;
        if !is_boundary(before) {
            return None;
        }
        return Some((
            name_start,
            digits_end,
            Target::Cited(Citation::new(repo, number)),
        ));
    }
    // `name #N`, only for names the configuration knows.
    let gap_start = run_start(bytes, pos, |b| b == b' ' || b == b'\t');
    if gap_start == pos {
        return None;
    }
    let name_start = run_start(bytes, gap_start, is_name_byte);
    let repo = known.repo_of(&line[name_start..gap_start])?;
    if !is_boundary(name_start.checked_sub(1).map(|i| bytes[i])) {
        return None;
    }
    Some((
        name_start,
        digits_end,
        Target::Cited(Citation::new(repo, number)),
    ))
}

/// `PR #N`, `PR#N`, `PRs (#N)`, `pull request #N`, `issue: #N`,
/// `**PR:** #N`, optionally after a known repository name
/// (`fitme-story PR #N`).
fn keyword_form(
    line: &str,
    pos: usize,
    digits_end: usize,
    number: u64,
    known: &Known<'_>,
) -> Option<(usize, usize, Target)> {
    let bytes = line.as_bytes();
    let is_blank = |b: u8| b == b' ' || b == b'\t';
    // Between keyword and number: blanks, one `(` or `:`, and emphasis
    // (`**PR:** #61`).
    let gap = |b: u8| matches!(b, b' ' | b'\t' | b'*' | b'_' | b'(' | b':');
    let i = run_start(bytes, pos, gap);
    let between = &bytes[i..pos];
    let paren = between.contains(&b'(');
    if between.len() > 8 || between.iter().filter(|&&b| b == b'(' || b == b':').count() > 1 {
        return None;
    }
    let word_start = run_start(bytes, i, |b| b.is_ascii_alphabetic());
    let word = line[word_start..i].to_ascii_lowercase();
    let keyword_start = match word.as_str() {
        "pr" | "prs" | "issue" | "issues" => word_start,
        "request" | "requests" => {
            let gap = run_start(bytes, word_start, is_blank);
            let pull = run_start(bytes, gap, |b| b.is_ascii_alphabetic());
            if gap == word_start || !line[pull..gap].eq_ignore_ascii_case("pull") {
                return None;
            }
            pull
        }
        _ => return None,
    };
    let before = keyword_start.checked_sub(1).map(|k| bytes[k]);
    if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    // Close a `PR (#129)` so the text reads as written.
    let end = if paren && bytes.get(digits_end) == Some(&b')') {
        digits_end + 1
    } else {
        digits_end
    };
    // A configured repository name just before the keyword names its repo.
    let gap = run_start(bytes, keyword_start, is_blank);
    if gap < keyword_start {
        let name_start = run_start(bytes, gap, is_name_byte);
        if name_start < gap
            && is_boundary(name_start.checked_sub(1).map(|k| bytes[k]))
            && let Some(repo) = known.repo_of(&line[name_start..gap])
        {
            return Some((name_start, end, Target::Cited(Citation::new(repo, number))));
        }
    }
    let target = match &known.default_repo {
        Some(repo) => Target::Cited(Citation::new(repo, number)),
        None => Target::Unqualified { number, name: None },
    };
    Some((keyword_start, end, target))
}

/// Whether the text between two `#N` only joins them into a list.
fn list_gap(gap: &str) -> bool {
    let mut rest = gap;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',', '+', '&', '/', '-', '–', '—', '(']);
        if rest.is_empty() {
            return true;
        }
        let word_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let word = &rest[..word_len];
        if word.eq_ignore_ascii_case("and") || word.eq_ignore_ascii_case("or") {
            rest = &rest[word_len..];
        } else {
            return false;
        }
    }
}

/// Where the URL starting at `from` ends (anchors and queries included).
fn url_end(line: &str, from: usize) -> usize {
    line[from..]
        .find(|c: char| c.is_whitespace() || matches!(c, ')' | '>' | '"' | '\'' | ']' | '<' | '`'))
        .map_or(line.len(), |n| from + n)
}

/// The `[label](url "title")` around a URL at `start..end`, as `[` ..
/// past `)`.
fn markdown_link(line: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let bytes = line.as_bytes();
    let mut open = start;
    if open > 0 && bytes[open - 1] == b'<' {
        open -= 1;
    }
    let paren = run_start(bytes, open, |b| b == b' ' || b == b'\t').checked_sub(1)?;
    if bytes[paren] != b'(' || paren == 0 || bytes[paren - 1] != b']' {
        return None;
    }
    // The label's `[`, minding nested brackets.
    let mut depth = 0usize;
    let mut label_start = None;
    for i in (0..paren - 1).rev() {
        match bytes[i] {
            b']' => depth += 1,
            b'[' if depth == 0 => {
                label_start = Some(i);
                break;
            }
            b'[' => depth -= 1,
            _ => {}
        }
    }
    let label_start = label_start?;
    let after = &line[end..];
    let after = after.strip_prefix('>').unwrap_or(after).trim_start();
    let close = if let Some(title) = after.strip_prefix('"') {
        let t = title.find('"')?;
        let rest = title[t + 1..].trim_start();
        rest.starts_with(')').then(|| line.len() - rest.len() + 1)?
    } else {
        after
            .starts_with(')')
            .then(|| line.len() - after.len() + 1)?
    };
    Some((label_start, close))
}

/// Turn a line's hits into located citations: fold markdown link labels
/// into their URL, then count columns in characters.
fn emit(line: &str, line_no: u32, mut hits: Vec<Hit>, out: &mut Extracted) {
    hits.sort_by_key(|h| (h.start, h.end));
    if hits.iter().any(|h| h.link.is_some()) {
        // A link's label lies between its `[` and its URL.
        let mut absorbed = vec![false; hits.len()];
        for (k, h) in hits.iter().enumerate() {
            let Some((label_start, _)) = h.link else {
                continue;
            };
            let first = hits.partition_point(|o| o.start < label_start);
            for j in first..k {
                if hits[j].link.is_none() && hits[j].target.number() == h.target.number() {
                    absorbed[j] = true;
                }
            }
        }
        let mut absorbed = absorbed.into_iter();
        hits.retain(|_| !absorbed.next().unwrap_or(false));
        for h in &mut hits {
            if let Some((s, e)) = h.link {
                (h.start, h.end) = (s, e);
            }
        }
    }
    hits.sort_by_key(|h| (h.start, h.end));
    // Byte offsets to 1-based character columns in one pass over the line.
    let mut offsets: Vec<usize> = hits.iter().flat_map(|h| [h.start, h.end]).collect();
    offsets.sort_unstable();
    offsets.dedup();
    let mut columns = BTreeMap::new();
    let (mut byte, mut column) = (0usize, 1u32);
    let mut chars = line.char_indices().peekable();
    for &offset in &offsets {
        while byte < offset {
            match chars.next() {
                Some((_, c)) => {
                    byte += c.len_utf8();
                    column = column.saturating_add(1);
                }
                None => break,
            }
        }
        columns.insert(offset, column);
    }
    let column_of = |offset: usize| columns.get(&offset).copied().unwrap_or(column);
    for h in hits {
        let text = line[h.start..h.end].to_string();
        let (column, end_column) = (column_of(h.start), column_of(h.end));
        match h.target {
            Target::Cited(citation) => out.cited.push(CitedAt {
                citation,
                line: line_no,
                column,
                end_column,
                text,
            }),
            Target::Unqualified { number, name } => out.unqualified.push(Unqualified {
                number,
                name,
                line: line_no,
                column,
                end_column,
                text,
            }),
        }
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

fn is_owner_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// Whether a name-based citation may start after this byte: not in the
/// middle of a word, a path, an address or a `host:path`.
fn is_boundary(before: Option<u8>) -> bool {
    before
        .is_none_or(|b| !is_name_byte(b) && !matches!(b, b'/' | b'@' | b'\\' | b'#' | b'&' | b':'))
}

/// The start of the run of `pred` bytes ending just before `end`.
fn run_start(bytes: &[u8], end: usize, pred: impl Fn(u8) -> bool) -> usize {
    let mut i = end;
    while i > 0 && pred(bytes[i - 1]) {
        i -= 1;
    }
    i
}

/// A number ends at `end` unless it runs on into a word (`#7AFF`, `#12px`)
/// or a version (`#1.2`).
fn number_ends(bytes: &[u8], end: usize) -> bool {
    match bytes.get(end) {
        Some(b) if b.is_ascii_alphanumeric() || *b == b'_' => false,
        Some(b'.') => !bytes.get(end + 1).is_some_and(u8::is_ascii_digit),
        _ => true,
    }
}

/// Issue numbers start at 1 and have no leading zeros (`#007` is not one).
fn parse_number(digits: &str) -> Option<u64> {
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn valid_owner(owner: &str) -> bool {
    !owner.is_empty() && !owner.starts_with('-') && owner.bytes().all(is_owner_byte)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && name.bytes().all(is_name_byte)
}

/// `docs/notes.md#3` is a path with an anchor, not a repository.
fn looks_like_file(name: &str) -> bool {
    const EXTENSIONS: &[&str] = &[
        "md", "mdx", "markdown", "txt", "json", "jsonl", "yaml", "yml", "toml", "html", "htm",
        "csv", "py", "sh", "swift", "kt", "ts", "tsx", "js", "jsx", "css", "scss", "png", "svg",
    ];
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e)))
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

// -------------------------------------------------------------- resolution

/// Whether a cited pull request or issue exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Exists,
    Missing,
    /// No definite answer (no token, rate limit, network): a check must
    /// stay advisory rather than call the citation broken.
    Unknown(String),
}

impl Resolution {
    pub fn is_definite(&self) -> bool {
        !matches!(self, Resolution::Unknown(_))
    }
}

/// Looks citations up.
pub trait Resolver {
    /// An answer for every wanted citation.
    fn resolve(&self, wanted: &BTreeSet<Citation>) -> BTreeMap<Citation, Resolution>;
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("could not {action} the citation cache {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the citation cache {} is not valid: {message}", path.display())]
    Format { path: PathBuf, message: String },
}

/// Definite answers kept between runs. As JSON:
/// `{ "version": 1, "citations": { "owner/repo#N": "exists" | "missing" } }`,
/// keys in citation order (repository, then number as a number), so the
/// file is the same for the same answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CitationCache {
    /// `true`: exists.
    answers: BTreeMap<Citation, bool>,
}

const CACHE_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Answer {
    Exists,
    Missing,
}

impl CitationCache {
    pub fn new() -> CitationCache {
        CitationCache::default()
    }

    /// Reads a cache file; a file that does not exist yet is an empty
    /// cache.
    pub fn load(path: &Path) -> Result<CitationCache, CacheError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(CitationCache::default());
            }
            Err(source) => {
                return Err(CacheError::Io {
                    action: "read",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        serde_json::from_str(&text).map_err(|e| CacheError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Writes the cache atomically (a temporary file in the same
    /// directory, then a rename), creating the directory if need be.
    pub fn save(&self, path: &Path) -> Result<(), CacheError> {
        let io = |action: &'static str, p: &Path| {
            let p = p.to_path_buf();
            move |source| CacheError::Io {
                action,
                path: p,
                source,
            }
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(io("create the directory of", path))?;
        let mut text = serde_json::to_string_pretty(self).map_err(|e| CacheError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        text.push('\n');
        let file_name = path
            .file_name()
            .map_or_else(|| "citations".into(), |n| n.to_string_lossy().into_owned());
        // Unique per process and call, so concurrent writers never share one.
        static SERIAL: AtomicUsize = AtomicUsize::new(0);
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".{file_name}.{}.{serial}.tmp", std::process::id()));
        let written = (|| {
            use std::io::Write;
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temp, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written.map_err(io("write", path))
    }

    /// `Exists` or `Missing`, if known.
    pub fn get(&self, citation: &Citation) -> Option<Resolution> {
        self.answers.get(citation).map(|&exists| {
            if exists {
                Resolution::Exists
            } else {
                Resolution::Missing
            }
        })
    }

    /// Records a definite answer; `Unknown` is not kept (returns false).
    pub fn insert(&mut self, citation: Citation, resolution: &Resolution) -> bool {
        match resolution {
            Resolution::Exists => self.answers.insert(citation, true),
            Resolution::Missing => self.answers.insert(citation, false),
            Resolution::Unknown(_) => return false,
        };
        true
    }

    pub fn remove(&mut self, citation: &Citation) -> Option<Resolution> {
        let answer = self.get(citation);
        self.answers.remove(citation);
        answer
    }

    /// Forgets every `Missing` answer (a number cited before GitHub gave it
    /// out will exist later).
    pub fn forget_missing(&mut self) {
        self.answers.retain(|_, exists| *exists);
    }

    pub fn len(&self) -> usize {
        self.answers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }
}

impl Serialize for CitationCache {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Answers<'a>(&'a BTreeMap<Citation, bool>);
        impl Serialize for Answers<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.0.len()))?;
                for (citation, &exists) in self.0 {
                    let answer = if exists {
                        Answer::Exists
                    } else {
                        Answer::Missing
                    };
                    map.serialize_entry(&citation.to_string(), &answer)?;
                }
                map.end()
            }
        }
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("version", &CACHE_VERSION)?;
        map.serialize_entry("citations", &Answers(&self.answers))?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for CitationCache {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            version: u32,
            #[serde(default)]
            citations: BTreeMap<String, Answer>,
        }
        let raw = Raw::deserialize(deserializer)?;
        if raw.version != CACHE_VERSION {
            return Err(D::Error::custom(format!(
                "version {} is not the supported version {CACHE_VERSION}",
                raw.version
            )));
        }
        let mut answers = BTreeMap::new();
        for (key, answer) in raw.citations {
            let citation: Citation = key.parse().map_err(D::Error::custom)?;
            answers.insert(citation, answer == Answer::Exists);
        }
        Ok(CitationCache { answers })
    }
}

/// Answers from a cache alone (`offline = true`, or no token).
#[derive(Debug, Clone, Default)]
pub struct OfflineResolver(pub CitationCache);

impl Resolver for OfflineResolver {
    fn resolve(&self, wanted: &BTreeSet<Citation>) -> BTreeMap<Citation, Resolution> {
        wanted
            .iter()
            .map(|c| {
                let answer = self
                    .0
                    .get(c)
                    .unwrap_or_else(|| Resolution::Unknown("not in the citation cache".into()));
                (c.clone(), answer)
            })
            .collect()
    }
}

/// Asks GitHub about what the cache does not know, a few requests at a
/// time, and records definite answers in the cache (take it back with
/// [`cache`](Self::cache) or [`into_cache`](Self::into_cache) to save it).
pub struct GitHubResolver {
    client: GitHub,
    cache: Mutex<CitationCache>,
    concurrency: usize,
    recheck_missing: bool,
}

impl GitHubResolver {
    pub const DEFAULT_CONCURRENCY: usize = 8;

    pub fn new(client: GitHub, cache: CitationCache) -> GitHubResolver {
        GitHubResolver {
            client,
            cache: Mutex::new(cache),
            concurrency: GitHubResolver::DEFAULT_CONCURRENCY,
            recheck_missing: false,
        }
    }

    /// Requests in flight at once (at least 1).
    pub fn with_concurrency(mut self, threads: usize) -> GitHubResolver {
        self.concurrency = threads.max(1);
        self
    }

    /// Ask again about citations the cache holds as missing.
    pub fn recheck_missing(mut self, recheck: bool) -> GitHubResolver {
        self.recheck_missing = recheck;
        self
    }

    pub fn client(&self) -> &GitHub {
        &self.client
    }

    /// The cache with every definite answer so far.
    pub fn cache(&self) -> CitationCache {
        self.lock_cache().clone()
    }

    pub fn into_cache(self) -> CitationCache {
        self.cache.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_cache(&self) -> MutexGuard<'_, CitationCache> {
        // A panicked lookup thread must not lose the answers already had.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One lookup; the second value is set when no later request can do
    /// better (bad token, rate limit, network down).
    fn ask(&self, citation: &Citation) -> (Resolution, bool) {
        match self.client.issue(&citation.repo, citation.number) {
            Ok(_) => (Resolution::Exists, false),
            Err(GhError::NotFound { .. }) => (Resolution::Missing, false),
            Err(
                e @ (GhError::Unauthorized { .. }
                | GhError::RateLimited { .. }
                | GhError::Http(HttpError::Transport { .. })),
            ) => (Resolution::Unknown(e.to_string()), true),
            Err(e) => (Resolution::Unknown(e.to_string()), false),
        }
    }

    fn ask_all(&self, asked: &[Citation]) -> BTreeMap<Citation, Resolution> {
        let next = AtomicUsize::new(0);
        let stop: Mutex<Option<String>> = Mutex::new(None);
        let threads = self.concurrency.min(asked.len());
        let worker = || {
            let mut answers = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(citation) = asked.get(index) else {
                    break;
                };
                let stopped = stop.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if let Some(reason) = stopped {
                    answers.push((citation.clone(), Resolution::Unknown(reason)));
                    continue;
                }
                let (answer, fatal) = self.ask(citation);
                if fatal && let Resolution::Unknown(reason) = &answer {
                    let mut stop = stop.lock().unwrap_or_else(|p| p.into_inner());
                    stop.get_or_insert_with(|| format!("not asked: {reason}"));
                }
                answers.push((citation.clone(), answer));
            }
            answers
        };
        let mut answers: BTreeMap<Citation, Resolution> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for citation in asked {
            answers
                .entry(citation.clone())
                .or_insert_with(|| Resolution::Unknown("the lookup did not finish".into()));
        }
        answers
    }
}

impl Resolver for GitHubResolver {
    fn resolve(&self, wanted: &BTreeSet<Citation>) -> BTreeMap<Citation, Resolution> {
        let mut out = BTreeMap::new();
        let mut asked = Vec::new();
        {
            let cache = self.lock_cache();
            for citation in wanted {
                match cache.get(citation) {
                    Some(Resolution::Missing) if self.recheck_missing => {
                        asked.push(citation.clone());
                    }
                    Some(answer) => {
                        out.insert(citation.clone(), answer);
                    }
                    None => asked.push(citation.clone()),
                }
            }
        }
        if asked.is_empty() {
            return out;
        }
        let answers = self.ask_all(&asked);
        let mut cache = self.lock_cache();
        for (citation, answer) in answers {
            cache.insert(citation.clone(), &answer);
            out.insert(citation, answer);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> CitationContext {
        CitationContext {
            default_repo: Some("Regevba/FitTracker2".into()),
            owners: BTreeMap::from([
                ("fitme-story".to_string(), "Regevba".to_string()),
                ("FT2".to_string(), "Regevba/FitTracker2".to_string()),
            ]),
            default_owner: Some("someone".into()),
        }
    }

    /// `(repo#N, text)` of each citation.
    fn found(text: &str) -> Vec<(String, String)> {
        extract(text, &ctx())
            .into_iter()
            .map(|c| (c.citation.to_string(), c.text))
            .collect()
    }

    fn one(repo: &str, text: &str) -> Vec<(String, String)> {
        vec![(repo.to_string(), text.to_string())]
    }

    #[test]
    fn messages_spell_repositories_as_written_or_configured() {
        let shown_all = |text: &str| -> Vec<String> {
            extract(text, &ctx())
                .iter()
                .map(|at| shown(at, &ctx()))
                .collect()
        };
        assert_eq!(shown_all("PR #78"), ["Regevba/FitTracker2#78"]);
        assert_eq!(
            shown_all("see Regevba/FitTracker2#78"),
            ["Regevba/FitTracker2#78"]
        );
        assert_eq!(
            shown_all("https://github.com/Regevba/FitTracker2/pull/78"),
            ["Regevba/FitTracker2#78"]
        );
        assert_eq!(shown_all("[fitme-story#5]"), ["Regevba/fitme-story#5"]);
        assert_eq!(shown_all("[FT2#6]"), ["Regevba/FitTracker2#6"]);
        assert_eq!(shown_all("Octo/Hello#7"), ["Octo/Hello#7"]);
    }

    #[test]
    fn pr_keyword_forms_use_the_default_repository() {
        let repo = "regevba/fittracker2#301";
        assert_eq!(found("Shipped via PR #301."), one(repo, "PR #301"));
        assert_eq!(found("(PR#301)"), one(repo, "PR#301"));
        assert_eq!(
            found("a pull request #301 b"),
            one(repo, "pull request #301")
        );
        assert_eq!(
            found("Pull  Requests #301"),
            one(repo, "Pull  Requests #301")
        );
        assert_eq!(found("GitHub issue #301 closed"), one(repo, "issue #301"));
        assert_eq!(
            found("opened a fresh PR (#301) today"),
            one(repo, "PR (#301)")
        );
        assert_eq!(found("PRs: #301"), one(repo, "PRs: #301"));
        assert_eq!(found("- \"PR #301\","), one(repo, "PR #301"));
    }

    #[test]
    fn lists_after_a_keyword_are_each_cited() {
        let cites = found("PRs #126 + #127, #128 and #129 – #130 / #131 & #132 #133 or #134.");
        let numbers: Vec<_> = cites.iter().map(|(c, _)| c.clone()).collect();
        let expected: Vec<_> = (126..=134)
            .map(|n| format!("regevba/fittracker2#{n}"))
            .collect();
        assert_eq!(numbers, expected);
        assert_eq!(cites[1].1, "#127");
        // A word between ends the list.
        assert_eq!(found("PRs #126 M-2a, #127 M-2c").len(), 1);
        assert_eq!(
            found("fitme-story PRs #1, #2")[1].0,
            "regevba/fitme-story#2"
        );
    }

    #[test]
    fn short_forms_take_their_owner_from_the_configuration() {
        assert_eq!(
            found("see [fitme-story#88]."),
            one("regevba/fitme-story#88", "[fitme-story#88]")
        );
        // An alias names the whole repository.
        assert_eq!(
            found("[FT2#266]"),
            one("regevba/fittracker2#266", "[FT2#266]")
        );
        // Any other name in brackets: the default owner.
        assert_eq!(found("[other#5]"), one("someone/other#5", "[other#5]"));
        // Configured names also work without brackets, with or without PR.
        assert_eq!(
            found("\"fitme-story#256\""),
            one("regevba/fitme-story#256", "fitme-story#256")
        );
        assert_eq!(
            found("(fitme-story #207)"),
            one("regevba/fitme-story#207", "fitme-story #207")
        );
        assert_eq!(
            found("fitme-story PR #213 and FT2 PR #635"),
            vec![
                (
                    "regevba/fitme-story#213".into(),
                    "fitme-story PR #213".into()
                ),
                ("regevba/fittracker2#635".into(), "FT2 PR #635".into()),
            ]
        );
        // The default repository's own name is known too.
        assert_eq!(
            found("FitTracker2 #9"),
            one("regevba/fittracker2#9", "FitTracker2 #9")
        );
        // Unknown names without brackets are prose.
        assert!(found("other#5 other #6 Fix#1").is_empty());
    }

    #[test]
    fn owner_repo_and_urls() {
        assert_eq!(
            found("fixed in Octo-Org/hello.rs#12, see"),
            one("octo-org/hello.rs#12", "Octo-Org/hello.rs#12")
        );
        let url = "https://github.com/Regevba/fitme-story/pull/28";
        assert_eq!(found(url), one("regevba/fitme-story#28", url));
        assert_eq!(
            found("<http://www.github.com/o/r/issues/7#issuecomment-1?x=1>"),
            one("o/r#7", "http://www.github.com/o/r/issues/7")
        );
        assert_eq!(
            found("https://github.com/o/r/pull/7/files?diff=split#diff-12"),
            one("o/r#7", "https://github.com/o/r/pull/7")
        );
        assert_eq!(found("https://github.com/o/r/pulls/8")[0].0, "o/r#8");
        // Not a pull request or issue, or not on GitHub.
        assert!(
            found("https://github.com/o/r/commit/7 https://gitlab.com/o/r/issues/7").is_empty()
        );
        assert!(found("https://github.com/o/r/pull/7abc").is_empty());
    }

    #[test]
    fn a_markdown_link_is_one_citation_spanning_the_link() {
        let text = "x [PR #3](https://github.com/o/r/pull/3) y";
        let cites = extract(text, &ctx());
        assert_eq!(cites.len(), 1, "{cites:?}");
        assert_eq!(cites[0].citation, Citation::new("o/r", 3));
        assert_eq!(cites[0].text, "[PR #3](https://github.com/o/r/pull/3)");
        assert_eq!((cites[0].column, cites[0].end_column), (3, 41));
        // With a title, angle brackets, and a short-form label.
        let cites = found(
            "[fitme-story#95](<https://github.com/Regevba/fitme-story/pull/95> \"t\") and [#413](https://github.com/Regevba/FitTracker2/pull/413)",
        );
        assert_eq!(cites.len(), 2, "{cites:?}");
        assert_eq!(cites[0].0, "regevba/fitme-story#95");
        assert!(cites[0].1.ends_with("\"t\")"));
        assert_eq!(
            cites[1].1,
            "[#413](https://github.com/Regevba/FitTracker2/pull/413)"
        );
        // A label citing something else is kept too.
        let cites = found("[PR #3](https://github.com/o/r/pull/4)");
        assert_eq!(
            cites.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
            ["o/r#4", "regevba/fittracker2#3"]
        );
        // The same citation in two links is reported at both.
        let cites = extract(
            "[PR #3](https://github.com/o/r/pull/3), again [PR #3](https://github.com/o/r/pull/3)",
            &ctx(),
        );
        assert_eq!(cites.len(), 2);
        assert_eq!(distinct(&cites).len(), 1);
    }

    #[test]
    fn positions_count_characters_from_one() {
        let text =
            "intro\n\u{e9}t\u{e9} — 🚀 PR #12 then [x#1]\r\nlast https://github.com/o/r/issues/5";
        let cites = extract(text, &ctx());
        let at: Vec<_> = cites
            .iter()
            .map(|c| (c.line, c.column, c.end_column, c.text.as_str()))
            .collect();
        assert_eq!(
            at,
            [
                (2, 9, 15, "PR #12"),
                (2, 21, 26, "[x#1]"),
                (3, 6, 37, "https://github.com/o/r/issues/5"),
            ]
        );
    }

    #[test]
    fn fenced_code_blocks_are_skipped() {
        let text = "PR #1\n```sh\ngh pr view PR #2\n```\nPR #3\n  ~~~~\nissue #4\n  ~~~\n~~~~~\nPR #5\n\
                    > ```\n> PR #6\n> ```\n```inline``` PR #7\n````\nPR #8 (unclosed runs to the end)";
        let numbers: Vec<u64> = extract(text, &ctx())
            .iter()
            .map(|c| c.citation.number)
            .collect();
        assert_eq!(numbers, [1, 3, 5, 7]);
    }

    #[test]
    fn no_false_positives_on_the_usual_traps() {
        let traps = [
            "#123 alone, | #126 | table, Fix #1, Audit #1, kill criterion #1",
            "# Title\n## 2. Heading #2",
            "color: #007AFF; background #000; border #123456px; PR #007",
            "C# and F#, C#7, [^1] footnote, [1], &#123; entity",
            "version v1.2#3, release #1.2, PR #1.2.3",
            "docs/notes.md#12, see skills/evolution.md#25 and a/b/c#4",
            "https://example.com/docs/page#12 and git@host:o/r#3 user@o/r#3",
            "PRO #3, SPR #4, prefix_PR #5, issues#a, PR #",
            "[other#88 ] [ other#88] [a b#3] [other #3]",
            "PR #99999999999999999999999 is too big",
        ];
        for trap in traps {
            assert!(found(trap).is_empty(), "{trap}: {:?}", found(trap));
        }
        assert!(
            extract_all(traps.join("\n").as_str(), &CitationContext::default())
                .unqualified
                .is_empty()
        );
    }

    #[test]
    fn citations_without_a_repository_are_listed_apart() {
        let all = extract_all(
            "PR #3, #4 and [lonely#5] but o/r#6",
            &CitationContext::default(),
        );
        assert_eq!(all.cited.len(), 1);
        assert_eq!(all.cited[0].citation, Citation::new("o/r", 6));
        let un: Vec<_> = all
            .unqualified
            .iter()
            .map(|u| (u.number, u.name.clone(), u.text.as_str()))
            .collect();
        assert_eq!(
            un,
            [
                (3, None, "PR #3"),
                (4, None, "#4"),
                (5, Some("lonely".to_string()), "[lonely#5]"),
            ]
        );
        assert!(all.unqualified[2].reason().contains("no owner"));
        assert!(
            all.unqualified[0]
                .reason()
                .contains("no default repository")
        );
        // A link qualifies its label.
        let all = extract_all(
            "[PR #3](https://github.com/o/r/pull/3)",
            &CitationContext::default(),
        );
        assert_eq!((all.cited.len(), all.unqualified.len()), (1, 0));
    }

    #[test]
    fn json_is_read_as_text() {
        let json = "{\n  \"related_prs\": [\n    606,\n    \"PR #311\",\n    \"[fitme-story#97]\"\n  ],\n  \"pr_ref\": \"https://github.com/Regevba/fitme-story/pull/28\"\n}";
        let cites = extract(json, &ctx());
        let at: Vec<_> = cites
            .iter()
            .map(|c| (c.citation.to_string(), c.line, c.column))
            .collect();
        assert_eq!(
            at,
            [
                ("regevba/fittracker2#311".to_string(), 4, 6),
                ("regevba/fitme-story#97".to_string(), 5, 6),
                ("regevba/fitme-story#28".to_string(), 7, 14),
            ]
        );
    }

    #[test]
    fn repositories_are_compared_without_case() {
        let cites = extract(
            "Regevba/FitTracker2#51 regevba/fittracker2#51 PR #51",
            &ctx(),
        );
        assert_eq!(cites.len(), 3);
        assert_eq!(distinct(&cites).len(), 1);
    }

    #[test]
    fn citations_parse_and_print() {
        let c: Citation = "Octo/Hello.rs#42".parse().expect("parses");
        assert_eq!(c, Citation::new("octo/hello.rs", 42));
        assert_eq!(c.to_string(), "octo/hello.rs#42");
        for bad in [
            "o/r", "o#1", "o/r#0", "o/r#x", "/r#1", "o/#1", "a/b/c#1", "o/r#-1",
        ] {
            assert!(bad.parse::<Citation>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_cache_keeps_only_definite_answers() {
        let mut cache = CitationCache::new();
        let c = Citation::new("o/r", 1);
        assert!(!cache.insert(c.clone(), &Resolution::Unknown("x".into())));
        assert!(cache.is_empty());
        assert!(cache.insert(c.clone(), &Resolution::Missing));
        assert_eq!(cache.get(&c), Some(Resolution::Missing));
        cache.forget_missing();
        assert_eq!(cache.get(&c), None);
    }

    #[test]
    fn the_offline_resolver_never_guesses() {
        let mut cache = CitationCache::new();
        cache.insert(Citation::new("o/r", 1), &Resolution::Exists);
        cache.insert(Citation::new("o/r", 2), &Resolution::Missing);
        let wanted: BTreeSet<_> = (1..=3).map(|n| Citation::new("o/r", n)).collect();
        let answers = OfflineResolver(cache).resolve(&wanted);
        assert_eq!(answers[&Citation::new("o/r", 1)], Resolution::Exists);
        assert_eq!(answers[&Citation::new("o/r", 2)], Resolution::Missing);
        assert!(
            matches!(&answers[&Citation::new("o/r", 3)], Resolution::Unknown(m) if m.contains("cache"))
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn positions_and_texts_agree_with_the_input(
                text in r"([a-zA-Z0-9 #\[\]()/:.\-_é🚀\n`]|PR #|https://github.com/o/r/pull/|fitme-story#|\]\(){0,80}"
            ) {
                let all = extract_all(&text, &ctx());
                let lines: Vec<&str> = text.split('\n').collect();
                let spans = all.cited.iter().map(|c| (c.line, c.column, c.end_column, &c.text))
                    .chain(all.unqualified.iter().map(|u| (u.line, u.column, u.end_column, &u.text)));
                for (line, column, end, written) in spans {
                    let chars: Vec<char> = lines[line as usize - 1].chars().collect();
                    prop_assert!(column >= 1 && column < end);
                    let slice: String = chars[column as usize - 1..end as usize - 1].iter().collect();
                    prop_assert_eq!(&slice, written);
                }
            }
        }
    }
}
