//! Edit the status values of several items in one file's bytes: pure, so
//! the shell only reads, calls this, and writes atomically. Each edit
//! touches only its value's span; an item whose value moved on since the
//! plan was made is left alone (re-plan, never overwrite blindly).

use crate::config::Source;
use concord_formats::{FileContext, edit_value};

/// Set item `key`'s status to `new_word`, if it still reads `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    pub key: String,
    pub expected: String,
    pub new_word: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditOutcome {
    Applied,
    /// The value is no longer what the plan saw.
    Changed {
        found: Option<String>,
    },
    /// The item is not in the file any more.
    Missing,
    /// The edit cannot be made safely; nothing of this file was written.
    Refused(String),
}

/// The file's new bytes (unchanged when nothing applies) and one outcome per edit.
pub fn edit_file(
    source: &Source,
    rel_path: &str,
    bytes: &[u8],
    edits: &[FileEdit],
) -> (Vec<u8>, Vec<EditOutcome>) {
    let ctx = FileContext { path: rel_path };
    let parsed = match source.format.parse(ctx, bytes) {
        Ok(parsed) => parsed,
        Err(e) => {
            let refused = EditOutcome::Refused(format!("the file no longer parses: {e}"));
            return (bytes.to_vec(), vec![refused; edits.len()]);
        }
    };
    let mut outcomes = Vec::with_capacity(edits.len());
    let mut planned = Vec::new();
    for (index, edit) in edits.iter().enumerate() {
        let mut matches = parsed.items.iter().filter(|i| i.key == edit.key);
        let outcome = match (matches.next(), matches.next()) {
            (None, _) => EditOutcome::Missing,
            (Some(_), Some(_)) => {
                EditOutcome::Refused(format!("`{}` appears more than once in the file", edit.key))
            }
            (Some(item), None) => match &item.status {
                Some(value) if value.text == edit.expected && value.pinned.is_some() => {
                    EditOutcome::Refused(value.pinned.clone().unwrap_or_default())
                }
                Some(value) if value.text == edit.expected => {
                    planned.push((index, value.clone()));
                    EditOutcome::Applied
                }
                other => EditOutcome::Changed {
                    found: other.as_ref().map(|v| v.text.clone()),
                },
            },
        };
        outcomes.push(outcome);
    }
    // Last span first, so earlier spans keep their offsets.
    planned.sort_by_key(|(_, value)| std::cmp::Reverse(value.span.start));
    let mut out = bytes.to_vec();
    for (index, value) in &planned {
        match edit_value(source.format.as_ref(), &out, value, &edits[*index].new_word) {
            Ok(edited) => out = edited,
            Err(e) => outcomes[*index] = EditOutcome::Refused(e.to_string()),
        }
    }
    // Read back what was written: every applied edit must read its new word.
    let verified = source.format.parse(ctx, &out).map(|reparsed| {
        planned.iter().all(|(index, _)| {
            outcomes[*index] != EditOutcome::Applied
                || reparsed
                    .items
                    .iter()
                    .find(|i| i.key == edits[*index].key)
                    .and_then(|i| i.status.as_ref())
                    .is_some_and(|s| s.text == edits[*index].new_word)
        })
    });
    if !matches!(verified, Ok(true)) {
        let refused = EditOutcome::Refused("the edited file did not read back as planned".into());
        return (
            bytes.to_vec(),
            outcomes
                .into_iter()
                .map(|o| {
                    if o == EditOutcome::Applied {
                        refused.clone()
                    } else {
                        o
                    }
                })
                .collect(),
        );
    }
    (out, outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Workspace;

    fn source() -> Workspace {
        Workspace::from_toml(
            r#"
[[repo]]
name = "app"
path = "."
[[workflow]]
name = "task"
statuses = [{ name = "todo", rank = 0 }, { name = "done", rank = 2 }]
[[source]]
name = "w"
repo = "app"
format = "task-blocks"
glob = "*.md"
workflow = "task"
"#,
            std::path::Path::new("concord.toml"),
            std::path::Path::new("."),
        )
        .expect("config")
    }

    fn edit(key: &str, expected: &str, new_word: &str) -> FileEdit {
        FileEdit {
            key: key.into(),
            expected: expected.into(),
            new_word: new_word.into(),
        }
    }

    const FILE: &str = "# Plan\n\n```task\nid: A\nstatus: todo\n```\n\ntext\n\n```task\nid: B\nstatus: todo\n```\n";

    #[test]
    fn several_edits_touch_only_their_status_lines() {
        let ws = source();
        let (out, outcomes) = edit_file(
            &ws.sources[0],
            "plan.md",
            FILE.as_bytes(),
            &[edit("A", "todo", "done"), edit("B", "todo", "done")],
        );
        assert_eq!(outcomes, [EditOutcome::Applied, EditOutcome::Applied]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            FILE.replace("status: todo", "status: done")
        );
    }

    #[test]
    fn a_value_that_moved_on_is_left_alone() {
        let ws = source();
        let (out, outcomes) = edit_file(
            &ws.sources[0],
            "plan.md",
            FILE.as_bytes(),
            &[
                edit("A", "done", "todo"),
                edit("C", "todo", "done"),
                edit("B", "todo", "done"),
            ],
        );
        assert_eq!(
            outcomes,
            [
                EditOutcome::Changed {
                    found: Some("todo".into())
                },
                EditOutcome::Missing,
                EditOutcome::Applied
            ]
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("id: A\nstatus: todo"));
        assert!(text.contains("id: B\nstatus: done"));
    }

    #[test]
    fn an_unrepresentable_word_refuses_that_edit_only() {
        let ws = source();
        let (out, outcomes) = edit_file(
            &ws.sources[0],
            "plan.md",
            FILE.as_bytes(),
            &[edit("A", "todo", "two\nlines"), edit("B", "todo", "done")],
        );
        assert!(matches!(outcomes[0], EditOutcome::Refused(_)));
        assert_eq!(outcomes[1], EditOutcome::Applied);
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("id: B\nstatus: done")
        );
    }

    /// The last line of defence: even an edit planned without knowing (a
    /// file read incrementally from the hub's record) refuses a value that
    /// an alias repeats.
    #[test]
    fn an_anchored_value_an_alias_repeats_is_refused() {
        let ws = Workspace::from_toml(
            r#"
[[repo]]
name = "app"
path = "."
[[workflow]]
name = "task"
statuses = [{ name = "todo", rank = 0 }, { name = "done", rank = 2 }]
[[source]]
name = "notes"
repo = "app"
format = "front-matter"
glob = "*.md"
status = "status"
workflow = "task"
"#,
            std::path::Path::new("concord.toml"),
            std::path::Path::new("."),
        )
        .expect("config");
        let file = "---\nid: A\nstatus: &s todo\nother: *s\n---\n";
        let (out, outcomes) = edit_file(
            &ws.sources[0],
            "a.md",
            file.as_bytes(),
            &[edit("A", "todo", "done")],
        );
        assert!(
            matches!(&outcomes[0], EditOutcome::Refused(why) if why.contains("`&s`")),
            "{outcomes:?}"
        );
        assert_eq!(out, file.as_bytes());
    }
}
