//! `task-blocks`: fenced ```` ```task ```` blocks of `key: value` lines in
//! markdown. Only lines inside such blocks are items; every other fenced
//! block (```` ```yaml ````, a ```` ```` ```` example around a task block) is
//! skipped whole. The editable span of a value is the value itself, without
//! surrounding whitespace or quotes.

use crate::text::{lines, trim_range};
use crate::{
    EditError, FileContext, FileError, Format, ItemFields, ParsedFile, RawItem, RowWarning,
    SpannedValue, check_single_line,
};
use std::borrow::Cow;
use std::ops::Range;

#[derive(Debug, Clone)]
pub struct TaskBlocks {
    pub item: ItemFields,
    /// Info string that marks a task block (`task`).
    pub info: String,
}

/// An open code fence: its character, length and whether it is a task block.
struct Fence {
    ch: u8,
    len: usize,
    line: u32,
    is_task: bool,
}

/// A file's bytes, and the same as text when all of it is valid UTF-8.
#[derive(Clone, Copy)]
struct File<'b> {
    bytes: &'b [u8],
    whole: Option<&'b str>,
}

/// One `key: value` line of a block.
struct Field {
    name: Range<usize>,
    value: Range<usize>,
    line: u32,
}

impl Format for TaskBlocks {
    fn parse(&self, ctx: FileContext<'_>, bytes: &[u8]) -> Result<ParsedFile, FileError> {
        let mut out = ParsedFile::default();
        let mut fence: Option<Fence> = None;
        let mut fields: Vec<Field> = Vec::new();
        let mut bad_line: Option<(u32, String)> = None;
        // Most files are valid UTF-8 as a whole: then no line needs checking.
        // (simdutf8 checks a whole file several times faster than std.)
        let whole = simdutf8::basic::from_utf8(bytes).ok();
        let all_utf8 = whole.is_some();
        let mut all_lines = lines(bytes);
        loop {
            if fence.is_none() {
                // Outside a fence only a line that opens one matters.
                all_lines.skip_to_line_with(b'`', b'~');
            }
            let Some((number, start, end)) = all_lines.next() else {
                break;
            };
            let (content, content_end) = trim_range(bytes, start, end);
            let line = &bytes[content..content_end];
            match &fence {
                None => {
                    if let Some((ch, len)) = fence_marker(line) {
                        let info = &line[len..];
                        // A backtick fence's info string may not contain backticks.
                        if ch == b'`' && info.contains(&b'`') {
                            continue;
                        }
                        let word = info
                            .split(|b| b.is_ascii_whitespace() || *b == b'{')
                            .find(|w| !w.is_empty())
                            .unwrap_or(b"");
                        fence = Some(Fence {
                            ch,
                            len,
                            line: number,
                            is_task: word == self.info.as_bytes(),
                        });
                        fields.clear();
                        bad_line = None;
                    }
                }
                Some(open) => {
                    if is_closing(line, open.ch, open.len) {
                        if open.is_task {
                            match bad_line.take() {
                                Some((line, message)) => out.warnings.push(RowWarning {
                                    line,
                                    message: format!(
                                        "task block at line {} skipped: {message}",
                                        open.line
                                    ),
                                }),
                                None => {
                                    let file = File { bytes, whole };
                                    self.finish_block(ctx, file, open.line, &fields, &mut out)
                                }
                            }
                        }
                        fence = None;
                        continue;
                    }
                    if !open.is_task || bad_line.is_some() {
                        continue;
                    }
                    if line.is_empty() || line.starts_with(b"#") {
                        continue;
                    }
                    // Indented lines continue the previous value (YAML style); not our concern.
                    if matches!(bytes[start], b' ' | b'\t') && !fields.is_empty() {
                        continue;
                    }
                    if !all_utf8 && std::str::from_utf8(line).is_err() {
                        bad_line = Some((number, format!("line {number} is not valid UTF-8")));
                        continue;
                    }
                    match split_field(bytes, content, content_end) {
                        Some((name, value)) => fields.push(Field {
                            name,
                            value,
                            line: number,
                        }),
                        None => {
                            bad_line = Some((
                                number,
                                format!(
                                    "line {number} is not a `name: value` line: `{}`",
                                    String::from_utf8_lossy(line)
                                ),
                            ))
                        }
                    }
                }
            }
        }
        if let Some(open) = fence
            && open.is_task
        {
            out.warnings.push(RowWarning {
                line: open.line,
                message: format!(
                    "task block at line {} is never closed; it was skipped",
                    open.line
                ),
            });
        }
        Ok(out)
    }

    fn encode_value(&self, old: &[u8], new: &str) -> Result<Vec<u8>, EditError> {
        check_single_line(new)?;
        let _ = old;
        if new.starts_with(['"', '\'', '#']) || new.contains(" #") {
            return Err(EditError::Unrepresentable {
                value: new.into(),
                reason: "it would read back as a quoted value or a comment".into(),
            });
        }
        Ok(new.as_bytes().to_vec())
    }
}

impl TaskBlocks {
    fn finish_block(
        &self,
        ctx: FileContext<'_>,
        file: File<'_>,
        block_line: u32,
        fields: &[Field],
        out: &mut ParsedFile,
    ) {
        let bytes = file.bytes;
        // A value's range starts and ends at ASCII bytes: in a file that is
        // valid UTF-8 as a whole it is text already, with nothing to check.
        let text = |r: &Range<usize>| match file.whole.and_then(|whole| whole.get(r.clone())) {
            Some(text) => Cow::Borrowed(text),
            None => String::from_utf8_lossy(&bytes[r.clone()]),
        };
        let find = |name: &str| -> Result<Option<&Field>, String> {
            let mut found = fields
                .iter()
                .filter(|f| &bytes[f.name.clone()] == name.as_bytes());
            let first = found.next();
            match (first, found.next()) {
                (Some(a), Some(b)) => Err(format!(
                    "`{name}` is given twice (lines {} and {})",
                    a.line, b.line
                )),
                (first, _) => Ok(first),
            }
        };
        let spanned = |field: &Field| SpannedValue {
            text: text(&field.value).into_owned(),
            span: field.value.clone(),
            line: field.line,
            pinned: None,
        };
        let mut problem = None;
        let key = self.item.key.render(ctx.path, |name| match find(name) {
            Ok(Some(f)) => Some(text(&f.value)),
            Ok(None) => None,
            Err(e) => {
                problem.get_or_insert(e);
                None
            }
        });
        let key = match (key, problem) {
            (_, Some(problem)) => Err(problem),
            (Ok(key), None) => Ok(key),
            (Err(missing), None) => Err(format!("it has no `{missing}:` line for its key")),
        };
        let lookup = |name: &str| find(name).map(|f| f.map(spanned));
        let item = key.and_then(|key| {
            let status = lookup(&self.item.status)?;
            let owner = match &self.item.owner {
                Some(owner) => lookup(owner)?,
                None => None,
            };
            let mut extra = Vec::new();
            for (label, name) in &self.item.fields {
                if let Some(value) = lookup(name)? {
                    extra.push((label.clone(), value));
                }
            }
            Ok(RawItem {
                key,
                line: block_line,
                status,
                owner,
                fields: extra,
            })
        });
        match item {
            Ok(item) => out.items.push(item),
            Err(message) => out.warnings.push(RowWarning {
                line: block_line,
                message: format!("task block at line {block_line} skipped: {message}"),
            }),
        }
    }
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

/// Split `name: value` into the name's and the value's ranges; the value
/// range excludes surrounding whitespace and one pair of matching quotes.
fn split_field(bytes: &[u8], start: usize, end: usize) -> Option<(Range<usize>, Range<usize>)> {
    let colon = start + memchr::memchr(b':', &bytes[start..end])?;
    let (name_start, name_end) = trim_range(bytes, start, colon);
    let name = &bytes[name_start..name_end];
    if name.is_empty()
        || !name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return None;
    }
    let (mut value_start, mut value_end) = trim_range(bytes, colon + 1, end);
    if value_end - value_start >= 2 {
        let (first, last) = (bytes[value_start], bytes[value_end - 1]);
        if (first == b'"' || first == b'\'') && first == last {
            value_start += 1;
            value_end -= 1;
        }
    }
    Some((name_start..name_end, value_start..value_end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyTemplate, edit_value};
    use proptest::prelude::*;

    fn format() -> TaskBlocks {
        TaskBlocks {
            item: ItemFields {
                key: KeyTemplate::parse("{id}").unwrap(),
                status: "status".into(),
                owner: None,
                fields: vec![("priority".into(), "priority".into())],
            },
            info: "task".into(),
        }
    }

    fn parse(text: &[u8]) -> ParsedFile {
        format()
            .parse(
                FileContext {
                    path: "docs/workplan.md",
                },
                text,
            )
            .unwrap()
    }

    const WORKPLAN: &str = "# Workplan\n\n```task\nid: CUST-WP-0026-T01\nstatus: done\npriority: high\n```\n\nSome prose with status: nothing.\n\n````markdown\n```task\nid: EXAMPLE\nstatus: todo\n```\n````\n\n```task\nid: CUST-WP-0026-T02\nstatus: \"in_progress\"\nstate_hub_task_id: 17\n```\n";

    #[test]
    fn reads_only_task_blocks() {
        let parsed = parse(WORKPLAN.as_bytes());
        assert_eq!(parsed.warnings, vec![]);
        let got: Vec<_> = parsed
            .items
            .iter()
            .map(|i| {
                (
                    i.key.as_str(),
                    i.line,
                    i.status.as_ref().unwrap().text.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("CUST-WP-0026-T01", 3, "done"),
                ("CUST-WP-0026-T02", 18, "in_progress")
            ]
        );
        let first = &parsed.items[0];
        assert_eq!(first.fields[0].1.text, "high");
        assert_eq!(
            &WORKPLAN[first.status.as_ref().unwrap().span.clone()],
            "done"
        );
        let second = &parsed.items[1];
        assert_eq!(
            &WORKPLAN[second.status.as_ref().unwrap().span.clone()],
            "in_progress"
        );
    }

    #[test]
    fn blocks_without_key_duplicates_or_garbage_are_skipped_with_a_reason() {
        let text = "```task\nstatus: done\n```\n```task\nid: A\nstatus: done\nstatus: todo\n```\n```task\nid: B\nthis is not a field\n```\n```task\nid: C\nstatus: todo\n";
        let parsed = parse(text.as_bytes());
        assert!(parsed.items.is_empty());
        let messages: Vec<_> = parsed
            .warnings
            .iter()
            .map(|w| (w.line, w.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            vec![
                (
                    1,
                    "task block at line 1 skipped: it has no `id:` line for its key"
                ),
                (
                    4,
                    "task block at line 4 skipped: `status` is given twice (lines 6 and 7)"
                ),
                (
                    11,
                    "task block at line 9 skipped: line 11 is not a `name: value` line: `this is not a field`"
                ),
                (13, "task block at line 13 is never closed; it was skipped"),
            ]
        );
    }

    #[test]
    fn crlf_bom_tabs_and_invalid_utf8() {
        let text = b"\xEF\xBB\xBF```task\r\nid:\tT1 \r\nstatus:  done\t\r\n```\r\n```task\nid: T2\nstatus: d\xFFne\n```\n";
        let parsed = parse(text);
        assert_eq!(parsed.items.len(), 1);
        let item = &parsed.items[0];
        assert_eq!(item.key, "T1");
        assert_eq!(&text[item.status.as_ref().unwrap().span.clone()], b"done");
        assert_eq!(parsed.warnings.len(), 1);
        assert!(
            parsed.warnings[0].message.contains("not valid UTF-8"),
            "{:?}",
            parsed.warnings
        );
    }

    #[test]
    fn edit_touches_only_the_value() {
        let parsed = parse(WORKPLAN.as_bytes());
        let status = parsed.items[1].status.clone().unwrap();
        let edited = edit_value(&format(), WORKPLAN.as_bytes(), &status, "done").unwrap();
        assert_eq!(
            String::from_utf8(edited).unwrap(),
            WORKPLAN.replace("status: \"in_progress\"", "status: \"done\"")
        );
        assert!(edit_value(&format(), WORKPLAN.as_bytes(), &status, "two\nlines").is_err());
    }

    fn block_strategy() -> impl Strategy<Value = (String, String, String)> {
        (
            "[A-Z]{2,5}-[0-9]{1,4}",
            "[a-z_]{1,12}",
            prop_oneof![Just("\n"), Just("\r\n")].prop_map(String::from),
        )
    }

    proptest! {
        #[test]
        fn any_edit_changes_only_its_span(
            blocks in proptest::collection::vec(block_strategy(), 1..6),
            prose in "[a-zA-Z :#\t]{0,30}",
            pick in any::<proptest::sample::Index>(),
            new in "[a-z][a-z_]{0,10}[a-z]",
        ) {
            let mut text = String::new();
            for (i, (id, status, nl)) in blocks.iter().enumerate() {
                text.push_str(&format!("{prose}{nl}```task{nl}id: {id}{i}{nl}status:  {status} {nl}```{nl}"));
            }
            let parsed = parse(text.as_bytes());
            prop_assert_eq!(parsed.items.len(), blocks.len());
            let item = &parsed.items[pick.index(blocks.len())];
            let status = item.status.clone().unwrap();
            let edited = edit_value(&format(), text.as_bytes(), &status, &new).unwrap();
            let span = status.span.clone();
            prop_assert_eq!(&edited[..span.start], &text.as_bytes()[..span.start]);
            prop_assert_eq!(&edited[span.start + new.len()..], &text.as_bytes()[span.end..]);
            let reparsed = parse(&edited);
            let again = reparsed.items.iter().find(|i| i.key == item.key).unwrap();
            prop_assert_eq!(&again.status.as_ref().unwrap().text, &new);
            // Writing the value it already has is a byte-identical no-op.
            let same = edit_value(&format(), text.as_bytes(), &status, &status.text).unwrap();
            prop_assert_eq!(same, text.as_bytes());
        }

        /// The parser jumps over prose to the next line that could open a
        /// fence: whatever lies between blocks (blank lines, prose with
        /// inline backticks or tildes, other fences, CRLF, a BOM), every
        /// block is found and every line number is the line its bytes are on.
        #[test]
        fn blocks_between_any_prose_keep_their_line_numbers(
            parts in proptest::collection::vec(
                prop_oneof![
                    "[a-z #:]{0,20}".prop_map(|p| (0u8, p)),
                    "[a-z `~#:]{0,20}".prop_map(|p| (0u8, p)),
                    Just((1u8, String::new())),
                    "[a-z]{0,6}".prop_map(|p| (2u8, p)),
                ],
                0..32,
            ),
            bom in any::<bool>(),
            nl in prop_oneof![Just("\n"), Just("\r\n")],
        ) {
            let mut text = String::from(if bom { "\u{FEFF}" } else { "" });
            let mut expected = Vec::new();
            for (i, (kind, words)) in parts.iter().enumerate() {
                match kind {
                    // Prose: a fence needs three marks at the line's start.
                    0 if !words.trim_start().starts_with("``") && !words.trim_start().starts_with("~~") => {
                        text.push_str(&format!("{words}{nl}"));
                    }
                    0 => text.push_str(&format!("x{words}{nl}")),
                    1 => {
                        let block_line = text.matches('\n').count() as u32 + 1;
                        expected.push((format!("T-{i}"), block_line));
                        text.push_str(&format!("```task{nl}id: T-{i}{nl}status: todo{nl}```{nl}"));
                    }
                    // Another fence, holding what looks like a task block.
                    _ => text.push_str(&format!("~~~{words}{nl}```task{nl}id: X{nl}~~~{nl}")),
                }
            }
            let parsed = parse(text.as_bytes());
            prop_assert_eq!(&parsed.warnings, &vec![]);
            let got: Vec<(String, u32)> = parsed.items.iter().map(|i| (i.key.clone(), i.line)).collect();
            prop_assert_eq!(got, expected);
            for item in &parsed.items {
                let status = item.status.as_ref().unwrap();
                prop_assert_eq!(crate::text::line_of(text.as_bytes(), status.span.start), status.line);
                prop_assert_eq!(status.line, item.line + 2);
            }
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&bytes);
        }
    }
}
