//! `table`: rows of markdown pipe tables. A table is found by its header row,
//! whose cells must equal the configured header's cells (padding and
//! alignment do not matter, the names do) and which must be followed by a
//! delimiter row; its rows run until a blank line or a line that does not
//! start with `|`. Tables inside fenced code blocks and tables with other
//! headers are ignored.
//!
//! Cells split on `|` except an escaped `\|` and a `|` inside an inline code
//! span. A row's key comes from a regex run on its key column; its status is
//! the leading bold span (`**…**` or `__…__`) of the status column with
//! qualifier words (`ABANDONED`, `LOCKED`) stripped from its end. The
//! editable span of the status is the remaining words inside the bold, so
//! an edit keeps the asterisks, the qualifiers and any text after the bold.
//! Other columns read as their trimmed cell. Text is read as written except
//! that `\|` reads as `|`.

use crate::text::{lines, trim_range};
use crate::{
    EditError, FileContext, FileError, Format, ItemFields, ParsedFile, RawItem, RowWarning,
    SpannedValue, check_single_line,
};
use std::borrow::Cow;
use std::ops::Range;

#[derive(Debug, Clone)]
pub struct Table {
    /// `item.status`, `item.owner` and the `item.fields` sources are column
    /// names. Key template lookups are capture group numbers of `key_regex`
    /// (`{0}` the whole match, `{1}` the first group) or column names.
    pub item: ItemFields,
    /// The exact header row, e.g. `| Track | Phase | GH issue / OP wp | Status |`.
    pub header: String,
    /// Column whose cell `key_regex` runs on.
    pub key_column: String,
    pub key_regex: regex::Regex,
    /// Words stripped from the end of the bold status (whole words, any case).
    pub qualifiers: Vec<String>,
}

/// Where each configured column sits in the header.
struct Layout {
    /// Trimmed raw bytes of the header's cells, to recognise header rows.
    header_cells: Vec<Vec<u8>>,
    names: Vec<String>,
    key: usize,
    status: usize,
    owner: Option<usize>,
    fields: Vec<(String, usize)>,
    qualifiers: Vec<String>,
}

enum State {
    Prose,
    /// A header row was seen on this line; a delimiter row must follow.
    Header(u32),
    Rows,
}

/// What the status column's cell holds.
enum Bold {
    /// No leading bold span.
    Missing,
    /// A bold span with nothing but qualifiers; its trimmed inner text.
    OnlyQualifiers(String),
    /// The status words, relative to the trimmed cell.
    Words(Range<usize>),
}

/// Separator words dropped along with a qualifier (`Closed — LOCKED`).
const SEPARATORS: &[char] = &['-', '–', '—', '/', '+', '&', '·', ':'];

impl Format for Table {
    fn parse(&self, ctx: FileContext<'_>, bytes: &[u8]) -> Result<ParsedFile, FileError> {
        let layout = self.layout().map_err(FileError::new)?;
        let mut out = ParsedFile::default();
        let mut fence: Option<(u8, usize)> = None;
        let mut state = State::Prose;
        for (number, start, end) in lines(bytes) {
            let (content, content_end) = trim_range(bytes, start, end);
            let line = &bytes[content..content_end];
            if let Some((ch, len)) = fence {
                if is_closing(line, ch, len) {
                    fence = None;
                }
                continue;
            }
            match state {
                State::Header(header_line) => {
                    state = State::Prose;
                    if is_delimiter_row(bytes, content, content_end, layout.header_cells.len()) {
                        state = State::Rows;
                        continue;
                    }
                    out.warnings.push(RowWarning {
                        line: header_line,
                        message: format!(
                            "table at line {header_line} skipped: line {number} is not a delimiter row: `{}`",
                            String::from_utf8_lossy(line)
                        ),
                    });
                }
                State::Rows => {
                    if line.first() == Some(&b'|') {
                        match self.row(ctx, bytes, &layout, number, content, content_end) {
                            Ok(item) => out.items.push(item),
                            Err(reason) => out.warnings.push(RowWarning {
                                line: number,
                                message: format!("row at line {number} skipped: {reason}"),
                            }),
                        }
                        continue;
                    }
                    state = State::Prose;
                }
                State::Prose => {}
            }
            if let Some((ch, len)) = fence_marker(line) {
                // A backtick fence's info string may not contain backticks.
                if !(ch == b'`' && line[len..].contains(&b'`')) {
                    fence = Some((ch, len));
                    continue;
                }
            }
            if layout.is_header(bytes, content, content_end) {
                state = State::Header(number);
            }
        }
        if let State::Header(line) = state {
            out.warnings.push(RowWarning {
                line,
                message: format!(
                    "table at line {line} skipped: the file ends before its delimiter row"
                ),
            });
        }
        Ok(out)
    }

    fn encode_value(&self, old: &[u8], new: &str) -> Result<Vec<u8>, EditError> {
        // Writing the value a span already reads as leaves it byte for byte.
        if std::str::from_utf8(old).is_ok_and(|old| unescape_pipes(old) == new) {
            return Ok(old.to_vec());
        }
        check_single_line(new)?;
        let last = new.rsplit(char::is_whitespace).next().unwrap_or(new);
        let reason = if new.contains('|') {
            Some("it contains `|`, which would split the table cell".to_string())
        } else if new.contains(['*', '`', '\\']) || new.contains("__") {
            Some(
                "it contains `*`, `__`, a backtick or a backslash, which would change the bold status"
                    .to_string(),
            )
        } else if new.starts_with('_') || new.ends_with('_') {
            Some("it starts or ends with `_`, which would change the bold status".to_string())
        } else if strip_trailing_separator(new) != new {
            Some("it ends with a separator, which is dropped before a qualifier".to_string())
        } else if is_qualifier(&self.qualifiers, last) {
            Some(format!("it ends with `{last}`, which reads as a qualifier"))
        } else {
            None
        };
        match reason {
            Some(reason) => Err(EditError::Unrepresentable {
                value: new.into(),
                reason,
            }),
            None => Ok(new.as_bytes().to_vec()),
        }
    }
}

impl Table {
    /// Names of the header's columns, trimmed, with `\|` read as `|`.
    pub fn columns(&self) -> Vec<String> {
        let header = self.header.as_str();
        split_cells(header.as_bytes(), 0, header.len())
            .0
            .into_iter()
            .map(|cell| {
                let (s, e) = trim_range(header.as_bytes(), cell.start, cell.end);
                unescape_pipes(&header[s..e])
            })
            .collect()
    }

    /// Check that the key column, the status column and every column or
    /// capture group the key template uses exist. `parse` fails with this
    /// message otherwise; owner and field columns may be missing.
    pub fn validate(&self) -> Result<(), String> {
        self.layout().map(|_| ())
    }

    fn layout(&self) -> Result<Layout, String> {
        let header = self.header.as_bytes();
        let (cells, _) = split_cells(header, 0, header.len());
        let header_cells: Vec<Vec<u8>> = cells
            .iter()
            .map(|c| {
                let (s, e) = trim_range(header, c.start, c.end);
                header[s..e].to_vec()
            })
            .collect();
        let names = self.columns();
        let find = |name: &str| names.iter().position(|n| n == name);
        let need = |name: &str, what: &str| {
            find(name).ok_or_else(|| {
                format!(
                    "the {what} column `{name}` is not in the table header `{}`",
                    self.header
                )
            })
        };
        let key = need(&self.key_column, "key")?;
        let status = need(&self.item.status, "status")?;
        let groups = self.key_regex.captures_len();
        for name in self.item.key.lookups() {
            if is_group(name) {
                if name.parse::<usize>().map_or(true, |n| n >= groups) {
                    return Err(format!(
                        "key `{}` uses group {{{name}}}, but `{}` has only groups 0 to {}",
                        self.item.key.as_str(),
                        self.key_regex.as_str(),
                        groups - 1
                    ));
                }
            } else if find(name).is_none() {
                return Err(format!(
                    "key `{}` uses column `{name}`, which is not in the table header `{}`",
                    self.item.key.as_str(),
                    self.header
                ));
            }
        }
        for q in &self.qualifiers {
            if q.trim().contains(char::is_whitespace) {
                return Err(format!("qualifier `{q}` is not a single word"));
            }
        }
        Ok(Layout {
            header_cells,
            key,
            status,
            owner: self.item.owner.as_deref().and_then(find),
            fields: self
                .item
                .fields
                .iter()
                .filter_map(|(label, column)| find(column).map(|i| (label.clone(), i)))
                .collect(),
            qualifiers: self
                .qualifiers
                .iter()
                .map(|q| q.trim().to_lowercase())
                .filter(|q| !q.is_empty())
                .collect(),
            names,
        })
    }

    /// Read one data row, `bytes[start..end]` (trimmed, starting with `|`).
    fn row(
        &self,
        ctx: FileContext<'_>,
        bytes: &[u8],
        layout: &Layout,
        number: u32,
        start: usize,
        end: usize,
    ) -> Result<RawItem, String> {
        let row = std::str::from_utf8(&bytes[start..end])
            .map_err(|_| "it is not valid UTF-8".to_string())?;
        let (cells, _) = split_cells(row.as_bytes(), 0, row.len());
        if cells.len() < layout.names.len() {
            return Err(format!(
                "it has {} cells, the header has {}",
                cells.len(),
                layout.names.len()
            ));
        }
        let trimmed: Vec<Range<usize>> = cells
            .iter()
            .map(|c| {
                let (s, e) = trim_range(row.as_bytes(), c.start, c.end);
                s..e
            })
            .collect();
        let texts: Vec<String> = trimmed
            .iter()
            .map(|r| unescape_pipes(&row[r.clone()]))
            .collect();
        let spanned = |i: usize| SpannedValue {
            text: texts[i].clone(),
            span: start + trimmed[i].start..start + trimmed[i].end,
            line: number,
            pinned: None,
        };

        let regex = &self.key_regex;
        let Some(caps) = regex.captures(&texts[layout.key]) else {
            return Err(format!(
                "no `{}` in column `{}`",
                regex.as_str(),
                layout.names[layout.key]
            ));
        };
        let template = self.item.key.as_str();
        let key = self
            .item
            .key
            .render(ctx.path, |name| {
                if is_group(name) {
                    let group = caps.get(name.parse().ok()?)?;
                    Some(Cow::Borrowed(group.as_str()))
                } else {
                    let i = layout.names.iter().position(|n| n == name)?;
                    Some(Cow::Borrowed(texts[i].as_str()))
                }
            })
            .map_err(|missing| {
                if missing.starts_with('{') {
                    format!(
                        "key `{template}` needs {missing}, which the path `{}` lacks",
                        ctx.path
                    )
                } else if is_group(&missing) {
                    format!(
                        "key `{template}` needs group {missing} of `{}`, which matched nothing",
                        regex.as_str()
                    )
                } else {
                    format!("key `{template}` needs column `{missing}`, which is empty")
                }
            })?;

        let status_column = &layout.names[layout.status];
        let cell_range = trimmed[layout.status].clone();
        let cell = &row[cell_range.clone()];
        let words = match bold_status(cell, &layout.qualifiers) {
            Bold::Words(words) => words,
            Bold::Missing if cell.is_empty() => {
                return Err(format!(
                    "no bold status in column `{status_column}` (the cell is empty)"
                ));
            }
            Bold::Missing => {
                return Err(format!(
                    "no bold status in column `{status_column}` (found `{cell}`)"
                ));
            }
            Bold::OnlyQualifiers(inner) => {
                return Err(format!(
                    "the bold status `{inner}` in column `{status_column}` holds only qualifiers"
                ));
            }
        };
        let status = SpannedValue {
            text: unescape_pipes(&cell[words.clone()]),
            span: start + cell_range.start + words.start..start + cell_range.start + words.end,
            line: number,
            pinned: None,
        };

        Ok(RawItem {
            key,
            line: number,
            status: Some(status),
            owner: layout.owner.map(spanned),
            fields: layout
                .fields
                .iter()
                .map(|(label, i)| (label.clone(), spanned(*i)))
                .collect(),
        })
    }
}

impl Layout {
    fn is_header(&self, bytes: &[u8], start: usize, end: usize) -> bool {
        let (cells, piped) = split_cells(bytes, start, end);
        piped
            && cells.len() == self.header_cells.len()
            && cells.iter().zip(&self.header_cells).all(|(c, want)| {
                let (s, e) = trim_range(bytes, c.start, c.end);
                bytes[s..e] == want[..]
            })
    }
}

/// A key template name that is a capture group number.
fn is_group(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

fn is_qualifier(qualifiers: &[String], word: &str) -> bool {
    let word = word.to_lowercase();
    qualifiers
        .iter()
        .any(|q| !q.trim().is_empty() && q.trim().to_lowercase() == word)
}

/// `text` without a trailing separator word (`-`, `—`, `/`) or a trailing
/// `,` or `;`, and without trailing whitespace.
fn strip_trailing_separator(text: &str) -> &str {
    let text = text.trim_end();
    let (before, last) = text.rsplit_once(char::is_whitespace).unwrap_or(("", text));
    if !last.is_empty() && last.chars().all(|c| SEPARATORS.contains(&c)) {
        return before.trim_end();
    }
    text.strip_suffix([',', ';'])
        .map(str::trim_end)
        .unwrap_or(text)
}

/// The status words of a trimmed cell: the inside of its leading bold span,
/// trimmed, with qualifier words (and the separators before them) removed
/// from its end.
fn bold_status(cell: &str, qualifiers: &[String]) -> Bold {
    let b = cell.as_bytes();
    let delim: &[u8] = if b.starts_with(b"**") {
        b"**"
    } else if b.starts_with(b"__") {
        b"__"
    } else {
        return Bold::Missing;
    };
    let mut j = 2;
    let close = loop {
        if j + 2 > b.len() {
            return Bold::Missing;
        }
        if b[j] == b'\\' && b[j + 1].is_ascii_punctuation() {
            j += 2;
        } else if &b[j..j + 2] == delim {
            break j;
        } else {
            j += 1;
        }
    };
    let inner = &cell[2..close];
    let words_start = 2 + (inner.len() - inner.trim_start().len());
    let mut words_end = 2 + inner.trim_end().len();
    if words_start >= words_end {
        return Bold::Missing;
    }
    loop {
        let head = &cell[words_start..words_end];
        let (before, last) = head.rsplit_once(char::is_whitespace).unwrap_or(("", head));
        if !is_qualifier(qualifiers, last) {
            return Bold::Words(words_start..words_end);
        }
        let kept = strip_trailing_separator(before);
        if kept.is_empty() {
            return Bold::OnlyQualifiers(inner.trim().to_string());
        }
        words_end = words_start + kept.len();
    }
}

fn unescape_pipes(text: &str) -> String {
    text.replace("\\|", "|")
}

/// Cells of the table line `bytes[start..end]` as untrimmed ranges, and
/// whether the line holds a pipe that splits cells. A pipe escaped as `\|`
/// or inside a code span does not; a leading and a trailing pipe are
/// optional.
fn split_cells(bytes: &[u8], start: usize, end: usize) -> (Vec<Range<usize>>, bool) {
    let (start, end) = trim_range(bytes, start, end);
    let mut pipes = Vec::new();
    let mut i = start;
    while i < end {
        match bytes[i] {
            b'\\' if i + 1 < end && bytes[i + 1].is_ascii_punctuation() => i += 2,
            b'`' => {
                let run = run_len(bytes, i, end);
                i = match closing_run(bytes, i + run, end, run) {
                    Some(close) => close + run,
                    None => i + run,
                };
            }
            b'|' => {
                pipes.push(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    let (Some(&first), Some(&last)) = (pipes.first(), pipes.last()) else {
        return (std::iter::once(start..end).collect(), false);
    };
    let mut cells = Vec::with_capacity(pipes.len() + 1);
    let mut cell_start = start;
    for &pipe in &pipes {
        cells.push(cell_start..pipe);
        cell_start = pipe + 1;
    }
    cells.push(cell_start..end);
    if last == end - 1 {
        cells.pop();
    }
    if first == start {
        cells.remove(0);
    }
    (cells, true)
}

/// Length of the run of backticks at `bytes[at]`.
fn run_len(bytes: &[u8], at: usize, end: usize) -> usize {
    bytes[at..end].iter().take_while(|&&b| b == b'`').count()
}

/// Start of the next run of exactly `len` backticks in `bytes[from..end]`.
fn closing_run(bytes: &[u8], from: usize, end: usize, len: usize) -> Option<usize> {
    let mut j = from;
    while j < end {
        if bytes[j] == b'`' {
            let run = run_len(bytes, j, end);
            if run == len {
                return Some(j);
            }
            j += run;
        } else {
            j += 1;
        }
    }
    None
}

/// A delimiter row with `columns` cells: `|---|:---:|--:|`.
fn is_delimiter_row(bytes: &[u8], start: usize, end: usize, columns: usize) -> bool {
    let (cells, piped) = split_cells(bytes, start, end);
    piped
        && cells.len() == columns
        && cells.iter().all(|c| {
            let (s, e) = trim_range(bytes, c.start, c.end);
            let cell = &bytes[s..e];
            let cell = cell.strip_prefix(b":").unwrap_or(cell);
            let cell = cell.strip_suffix(b":").unwrap_or(cell);
            !cell.is_empty() && cell.iter().all(|&b| b == b'-')
        })
}

/// A line opening a fence: three or more backticks or tildes.
fn fence_marker(line: &[u8]) -> Option<(u8, usize)> {
    let ch = *line.first()?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let len = line.iter().take_while(|&&b| b == ch).count();
    (len >= 3).then_some((ch, len))
}

fn is_closing(line: &[u8], ch: u8, len: usize) -> bool {
    match fence_marker(line) {
        Some((c, l)) => c == ch && l >= len && line[l..].iter().all(|b| b.is_ascii_whitespace()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyTemplate, edit_value};
    use proptest::prelude::*;

    const HEADER: &str = "| Track | Phase | GH issue / OP wp | Status |";
    const QUALIFIERS: [&str; 3] = ["ABANDONED", "LOCKED", "KEEP_AVAILABLE"];

    fn format_with_key(template: &str) -> Table {
        Table {
            item: ItemFields {
                key: KeyTemplate::parse(template).unwrap(),
                status: "Status".into(),
                owner: Some("Owner".into()),
                fields: vec![("phase".into(), "Phase".into())],
            },
            header: HEADER.into(),
            key_column: "GH issue / OP wp".into(),
            key_regex: regex::Regex::new(r"wp#(\d+)").unwrap(),
            qualifiers: QUALIFIERS.iter().map(|q| q.to_string()).collect(),
        }
    }

    fn format() -> Table {
        format_with_key("wp#{1}")
    }

    fn parse(text: &[u8]) -> ParsedFile {
        format()
            .parse(
                FileContext {
                    path: "docs/plan.md",
                },
                text,
            )
            .unwrap()
    }

    fn statuses(parsed: &ParsedFile) -> Vec<(&str, u32, &str)> {
        parsed
            .items
            .iter()
            .map(|i| {
                (
                    i.key.as_str(),
                    i.line,
                    i.status.as_ref().unwrap().text.as_str(),
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

    const PLAN: &str = "# Release plan

Prose mentioning | Track | Phase | and **Done** outside any table.

| Name | Role |
|------|------|
| Ana  | **Lead** |

```markdown
| Track | Phase | GH issue / OP wp | Status |
|---|---|---|---|
| T0 | Fake | wp#1 | **Done** |
```

## Tracking

|Track|  Phase |GH issue / OP wp| Status |
|:------|:------:|------------------|-------:|
| T1 | Build | [wp#42](https://op.example/wp/42) | **In progress** since May |
| T2 | Ship | wp#43 | **Closed ABANDONED** superseded |
| T3 | a \\| b `a|b` | wp#44 | **Blocked** |
| T4 | Docs | none yet | **Open** |
| T5 | QA | wp#45 | In progress |
| T6 | Ops | wp#46 | **LOCKED** |
| T7 | Short | wp#47 |
| T8 | Wrap | wp#48 | **Closed** ABANDONED — see note |

Later, a second tracking table:

~~~
| Track | Phase | GH issue / OP wp | Status |
~~~

| Track | Phase | GH issue / OP wp | Status |
| --- | --- | --- | --- |
| T9 | Last | wp#49 | __Done__ |
Trailing prose ends the table.
| T10 | After | wp#50 | **Done** |
";

    #[test]
    fn reads_the_tracking_tables_of_a_plan() {
        let parsed = parse(PLAN.as_bytes());
        assert_eq!(
            statuses(&parsed),
            vec![
                ("wp#42", 19, "In progress"),
                ("wp#43", 20, "Closed"),
                ("wp#44", 21, "Blocked"),
                ("wp#48", 26, "Closed"),
                ("wp#49", 36, "Done"),
            ]
        );
        assert_eq!(
            warnings(&parsed),
            vec![
                (
                    22,
                    "row at line 22 skipped: no `wp#(\\d+)` in column `GH issue / OP wp`"
                ),
                (
                    23,
                    "row at line 23 skipped: no bold status in column `Status` (found `In progress`)"
                ),
                (
                    24,
                    "row at line 24 skipped: the bold status `LOCKED` in column `Status` holds only qualifiers"
                ),
                (
                    25,
                    "row at line 25 skipped: it has 3 cells, the header has 4"
                ),
            ]
        );
        for item in &parsed.items {
            let status = item.status.as_ref().unwrap();
            assert_eq!(&PLAN[status.span.clone()], status.text);
            assert_eq!(status.line, item.line);
            assert_eq!(item.owner, None);
        }
        let first = parsed.items[0].status.as_ref().unwrap();
        assert_eq!(&PLAN[first.span.clone()], "In progress");
        let third = &parsed.items[2];
        assert_eq!(third.fields.len(), 1);
        let (label, phase) = &third.fields[0];
        assert_eq!(label, "phase");
        assert_eq!(phase.text, "a | b `a|b`");
        assert_eq!(&PLAN[phase.span.clone()], "a \\| b `a|b`");
    }

    #[test]
    fn edit_keeps_bold_qualifiers_and_tail() {
        let parsed = parse(PLAN.as_bytes());
        let closed = parsed.items[1].status.clone().unwrap();
        let edited = edit_value(&format(), PLAN.as_bytes(), &closed, "Reopened").unwrap();
        assert_eq!(
            String::from_utf8(edited).unwrap(),
            PLAN.replace(
                "| **Closed ABANDONED** superseded |",
                "| **Reopened ABANDONED** superseded |"
            )
        );
        let progress = parsed.items[0].status.clone().unwrap();
        let edited = edit_value(&format(), PLAN.as_bytes(), &progress, "Done").unwrap();
        let edited = String::from_utf8(edited).unwrap();
        assert_eq!(
            edited,
            PLAN.replace("**In progress** since May", "**Done** since May")
        );
        assert_eq!(
            statuses(&parse(edited.as_bytes()))[0],
            ("wp#42", 19, "Done")
        );
    }

    #[test]
    fn encode_rejects_values_that_break_the_cell_or_the_bold() {
        let table = format();
        for bad in [
            "a|b",
            "**x",
            "x*",
            "_x",
            "x_",
            "in__progress",
            "a`b",
            "a\\b",
            "Closed abandoned",
            "LOCKED",
            "Done -",
            "Done,",
            "",
            " x",
            "two\nlines",
        ] {
            assert!(
                table.encode_value(b"Open", bad).is_err(),
                "`{bad}` was accepted"
            );
        }
        for good in ["in_progress", "Done (see note)", "LOCKED by ops", "C++"] {
            assert_eq!(table.encode_value(b"Open", good).unwrap(), good.as_bytes());
        }
        // The value a span already holds is written back unchanged.
        assert_eq!(table.encode_value(b"a \\| b", "a | b").unwrap(), b"a \\| b");
    }

    #[test]
    fn crlf_bom_tabs_and_invalid_utf8() {
        let text: &[u8] = b"\xEF\xBB\xBF| Track | Phase | GH issue / OP wp | Status |\r\n|---|---|---|---|\r\n|\tT1\t| Build |  wp#7 \t|  **Done**   \r\n| T2 | x | wp#8 | **D\xFFne** |\r\n| T3 | y | wp#9 |\t__In review__\t|\r\n";
        let parsed = parse(text);
        assert_eq!(
            statuses(&parsed),
            vec![("wp#7", 3, "Done"), ("wp#9", 5, "In review")]
        );
        let status = parsed.items[0].status.as_ref().unwrap();
        assert_eq!(&text[status.span.clone()], b"Done");
        assert_eq!(&text[parsed.items[0].fields[0].1.span.clone()], b"Build");
        assert_eq!(
            warnings(&parsed),
            vec![(4, "row at line 4 skipped: it is not valid UTF-8")]
        );
    }

    #[test]
    fn header_matches_by_cells_not_spacing() {
        for header in [
            "|Track|Phase|GH issue / OP wp|Status|",
            "Track | Phase | GH issue / OP wp | Status",
            "  |  Track\t| Phase | GH issue / OP wp |Status   |  ",
        ] {
            let text = format!("{header}\n|-|-|-|-\n| T1 | Build | wp#1 | **Done** |\n");
            assert_eq!(
                statuses(&parse(text.as_bytes())),
                vec![("wp#1", 3, "Done")],
                "{header}"
            );
        }
        for header in [
            "| Track | Phase | GH Issue / OP wp | Status |",
            "| Track | Phase | GH issue / OP wp | Status | Notes |",
            "| Track | Phase | GH issue / OP wp |",
        ] {
            let text = format!("{header}\n|-|-|-|-|\n| T1 | Build | wp#1 | **Done** |\n");
            let parsed = parse(text.as_bytes());
            assert_eq!(parsed, ParsedFile::default(), "{header}");
        }
    }

    #[test]
    fn missing_header_or_delimiter_row() {
        assert_eq!(parse(b""), ParsedFile::default());
        assert_eq!(
            parse(b"# Plan\n\nNo table here | at all |\n\n| a | b |\n|---|---|\n| 1 | **2** |\n"),
            ParsedFile::default()
        );
        let parsed = parse(
            format!(
                "{HEADER}\n| T1 | Build | wp#1 | **Done** |\n\n{HEADER}\n|---|---|\n\n{HEADER}"
            )
            .as_bytes(),
        );
        assert!(parsed.items.is_empty());
        assert_eq!(
            warnings(&parsed),
            vec![
                (
                    1,
                    "table at line 1 skipped: line 2 is not a delimiter row: `| T1 | Build | wp#1 | **Done** |`"
                ),
                (
                    4,
                    "table at line 4 skipped: line 5 is not a delimiter row: `|---|---|`"
                ),
                (
                    7,
                    "table at line 7 skipped: the file ends before its delimiter row"
                ),
            ]
        );
    }

    #[test]
    fn bold_forms_and_qualifiers() {
        let rows = [
            ("**Closed, KEEP_AVAILABLE**", Some("Closed")),
            ("**In progress — locked**", Some("In progress")),
            ("** Spaced  words **", Some("Spaced  words")),
            ("**C++ LOCKED ABANDONED**", Some("C++")),
            ("**Closed** ABANDONED — see note", Some("Closed")),
            ("__Done__", Some("Done")),
            ("**a\\*\\*b** x", Some("a\\*\\*b")),
            ("**unclosed", None),
            ("****", None),
            ("*Done*", None),
            ("Done **Closed**", None),
            ("", None),
        ];
        let mut text = format!("{HEADER}\n|---|---|---|---|\n");
        for (i, (cell, _)) in rows.iter().enumerate() {
            text.push_str(&format!("| T | P | wp#{i} | {cell} |\n"));
        }
        let parsed = parse(text.as_bytes());
        let got: Vec<_> = parsed
            .items
            .iter()
            .map(|i| {
                let status = i.status.as_ref().unwrap();
                assert_eq!(&text[status.span.clone()], status.text);
                (i.key.clone(), status.text.clone())
            })
            .collect();
        let want: Vec<_> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, (_, s))| s.map(|s| (format!("wp#{i}"), s.to_string())))
            .collect();
        assert_eq!(got, want);
        let skipped: Vec<_> = parsed.warnings.iter().map(|w| w.line).collect();
        assert_eq!(skipped, vec![10, 11, 12, 13, 14]);
        assert!(parsed.warnings[4].message.ends_with("(the cell is empty)"));
    }

    #[test]
    fn key_template_reads_groups_and_columns() {
        let text = format!("{HEADER}\n|---|---|---|---|\n| T1 | Build | see wp#42 | **Done** |\n");
        let key = |template: &str| {
            format_with_key(template)
                .parse(
                    FileContext {
                        path: "docs/plan.md",
                    },
                    text.as_bytes(),
                )
                .unwrap()
                .items[0]
                .key
                .clone()
        };
        assert_eq!(key("{Track}/{1}"), "T1/42");
        assert_eq!(key("{0}"), "wp#42");
        assert_eq!(key("{stem}-{Phase}-{1}"), "plan-Build-42");

        let empty = format!("{HEADER}\n|---|---|---|---|\n|  | Build | wp#42 | **Done** |\n");
        let parsed = format_with_key("{Track}/{1}")
            .parse(FileContext { path: "plan.md" }, empty.as_bytes())
            .unwrap();
        assert_eq!(
            warnings(&parsed),
            vec![(
                3,
                "row at line 3 skipped: key `{Track}/{1}` needs column `Track`, which is empty"
            )]
        );
    }

    #[test]
    fn misconfigured_columns_are_a_file_error() {
        let ctx = FileContext { path: "plan.md" };
        let mut table = format();
        table.key_column = "Issue".into();
        assert!(table.validate().unwrap_err().contains("`Issue`"));
        assert!(table.parse(ctx, b"").is_err());
        let mut table = format();
        table.item.status = "State".into();
        assert!(table.parse(ctx, b"").is_err());
        assert!(format_with_key("wp#{2}").parse(ctx, b"").is_err());
        assert!(format_with_key("{Owner}").parse(ctx, b"").is_err());
        assert_eq!(format().validate(), Ok(()));
        assert_eq!(
            format().columns(),
            vec!["Track", "Phase", "GH issue / OP wp", "Status"]
        );
    }

    #[test]
    fn cells_split_on_unescaped_pipes_outside_code_spans() {
        let line = "| a \\| b | `x|y` | ``p`|`q`` | `open | c \\\\| d";
        let (cells, piped) = split_cells(line.as_bytes(), 0, line.len());
        assert!(piped);
        let texts: Vec<_> = cells.iter().map(|c| line[c.clone()].trim()).collect();
        assert_eq!(
            texts,
            vec!["a \\| b", "`x|y`", "``p`|`q``", "`open", "c \\\\", "d"]
        );
        let (cells, piped) = split_cells(b" no pipes ", 0, 10);
        assert!(!piped);
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0], 1..9);
        assert_eq!(split_cells(b" | ", 0, 3), (vec![], true));
    }

    fn ends_with_qualifier(text: &str) -> bool {
        let last = text.rsplit(char::is_whitespace).next().unwrap_or(text);
        QUALIFIERS.iter().any(|q| q.eq_ignore_ascii_case(last))
    }

    fn status_strategy() -> impl Strategy<Value = String> {
        "[A-Za-z][A-Za-z_ ]{0,10}[A-Za-z]".prop_filter("not readable as a status", |s| {
            !s.contains("__") && !ends_with_qualifier(s)
        })
    }

    /// (phase, linked key, status, bold delimiter, padded bold, qualifiers,
    /// tail, trailing pipe, line ending, cell padding)
    type Row = (
        &'static str,
        bool,
        String,
        &'static str,
        bool,
        Vec<&'static str>,
        &'static str,
        bool,
        &'static str,
        String,
    );

    fn row_strategy() -> impl Strategy<Value = Row> {
        (
            prop_oneof![
                Just("Build"),
                Just("a \\| b"),
                Just("`a|b`"),
                Just("``x`|`y``"),
                Just(""),
            ],
            any::<bool>(),
            status_strategy(),
            prop_oneof![Just("**"), Just("__")],
            any::<bool>(),
            proptest::sample::subsequence(
                vec![" ABANDONED", " locked", ", KEEP_AVAILABLE", " — LOCKED"],
                0..=2,
            ),
            prop_oneof![
                Just(""),
                Just(" since May"),
                Just(" LOCKED"),
                Just(" — see `a|b` note"),
                Just(" \\| x"),
            ],
            any::<bool>(),
            prop_oneof![Just("\n"), Just("\r\n")],
            "[ \t]{0,2}",
        )
    }

    fn header_strategy() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            Just(HEADER),
            Just("|Track|Phase|GH issue / OP wp|Status|"),
            Just("Track | Phase | GH issue / OP wp | Status"),
            Just("|  Track\t| Phase | GH issue / OP wp |Status   |"),
        ]
    }

    fn build_file(header: &str, rows: &[Row], prose: &str) -> (String, u32) {
        let mut text = format!(
            "{prose}\n\n| Name | Role |\n|---|---|\n| Ana | **Lead** |\n\n```\n{HEADER}\n|---|---|---|---|\n| T0 | Fake | wp#1 | **Done** |\n```\n\n{header}\r\n|:---|---|:-:|--:|\n"
        );
        let first_row = 15;
        for (i, row) in rows.iter().enumerate() {
            let (phase, linked, status, delim, padded, quals, tail, closed, nl, pad) = row;
            let n = 100 + i;
            let key = if *linked {
                format!("[wp#{n}](https://op.example/wp/{n})")
            } else {
                format!("wp#{n}")
            };
            let inner = if *padded { " " } else { "" };
            let quals = quals.concat();
            let close = if *closed { "|" } else { "" };
            text.push_str(&format!(
                "|{pad}T{i}{pad}| {phase} |{pad}{key}{pad}|{pad}{delim}{inner}{status}{quals}{inner}{delim}{tail}{pad}{close}{nl}"
            ));
        }
        text.push_str("\nAfter the table.\n");
        (text, first_row)
    }

    proptest! {
        #[test]
        fn any_status_edit_changes_only_its_span(
            header in header_strategy(),
            rows in proptest::collection::vec(row_strategy(), 1..8),
            prose in "[a-zA-Z][a-zA-Z |*`#]{0,30}",
            pick in any::<proptest::sample::Index>(),
            new in status_strategy(),
        ) {
            let (text, first_row) = build_file(header, &rows, &prose);
            let parsed = parse(text.as_bytes());
            prop_assert_eq!(&parsed.warnings, &vec![]);
            prop_assert_eq!(parsed.items.len(), rows.len());
            for (i, (item, row)) in parsed.items.iter().zip(&rows).enumerate() {
                let status = item.status.as_ref().unwrap();
                prop_assert_eq!(&item.key, &format!("wp#{}", 100 + i));
                prop_assert_eq!(item.line, first_row + i as u32);
                prop_assert_eq!(&status.text, &row.2);
                prop_assert_eq!(&text[status.span.clone()], row.2.as_str());
                prop_assert_eq!(item.fields[0].1.text.as_str(), row.0.replace("\\|", "|"));
            }

            let pick = pick.index(rows.len());
            let status = parsed.items[pick].status.clone().unwrap();
            let edited = edit_value(&format(), text.as_bytes(), &status, &new).unwrap();
            let span = status.span.clone();
            prop_assert_eq!(&edited[..span.start], &text.as_bytes()[..span.start]);
            prop_assert_eq!(&edited[span.start + new.len()..], &text.as_bytes()[span.end..]);
            let reparsed = parse(&edited);
            prop_assert_eq!(&reparsed.warnings, &vec![]);
            prop_assert_eq!(reparsed.items.len(), rows.len());
            for (i, (item, row)) in reparsed.items.iter().zip(&rows).enumerate() {
                let want = if i == pick { &new } else { &row.2 };
                prop_assert_eq!(&item.key, &format!("wp#{}", 100 + i));
                prop_assert_eq!(&item.status.as_ref().unwrap().text, want);
            }
            // Writing the value it already has is a byte-identical no-op.
            let same = edit_value(&format(), text.as_bytes(), &status, &status.text).unwrap();
            prop_assert_eq!(same, text.as_bytes());
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn spans_hold_their_text_in_table_soup(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(&b"| Track | Phase | GH issue / OP wp | Status |"[..]),
                    Just(&b"|---|---|---|---|"[..]),
                    Just(&b"| T | P | wp#1 | "[..]),
                    Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b"|"[..]),
                    Just(&b"**"[..]), Just(&b"__"[..]), Just(&b"`"[..]),
                    Just(&b"\\"[..]), Just(&b" "[..]), Just(&b"\t"[..]),
                    Just(&b"LOCKED"[..]), Just(&b"Done"[..]), Just(&b"\xFF"[..]),
                    Just(&b"```"[..]), Just(&b"~~~"[..]), Just(&b"\xEF\xBB\xBF"[..]),
                    Just(&b"\xE2\x80\x94"[..]), Just(&b","[..]),
                ],
                0..80,
            ),
        ) {
            let bytes = parts.concat();
            let parsed = parse(&bytes);
            for item in &parsed.items {
                let status = item.status.as_ref().unwrap();
                let raw = std::str::from_utf8(&bytes[status.span.clone()]).unwrap();
                prop_assert_eq!(unescape_pipes(raw), status.text.clone());
                prop_assert!(!status.text.is_empty());
                let same = edit_value(&format(), &bytes, status, &status.text).unwrap();
                prop_assert_eq!(same, bytes.clone());
            }
        }
    }
}
