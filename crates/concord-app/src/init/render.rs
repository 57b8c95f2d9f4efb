//! The proposed workspace as a commented `concord.toml`. Pure; written by
//! hand rather than through a serializer because the comments are the
//! point: they say what was found and what a person should check.

use super::detect::Shape;
use super::propose::{Plan, SourcePlan};
use super::vocabulary::{Mapping, ProposedWorkflow, WorkflowKind};
use std::fmt::Write;

/// A TOML string: a literal `'…'` string when that reads better (regexes,
/// backslashes), a basic string with escapes otherwise.
pub fn quote(text: &str) -> String {
    let literal_ok =
        text.contains('\\') && !text.contains('\'') && !text.chars().any(|c| c.is_control());
    if literal_ok {
        format!("'{text}'")
    } else {
        toml::Value::String(text.to_string()).to_string()
    }
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| quote(i)).collect();
    format!("[{}]", quoted.join(", "))
}

pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    header(plan, &mut out);
    for repo in &plan.repos {
        let _ = writeln!(
            out,
            "[[repo]]\nname = {}\npath = {}\n",
            quote(&repo.name),
            quote(&repo.path)
        );
    }
    for workflow in &plan.workflows {
        render_workflow(workflow, &mut out);
    }
    for source in &plan.sources {
        render_source(source, &mut out);
    }
    render_rules(plan, &mut out);
    out
}

fn header(plan: &Plan, out: &mut String) {
    let words: Vec<_> = plan.workflows.iter().flat_map(|w| w.words.iter()).collect();
    let guessed = words
        .iter()
        .filter(|w| w.mapping == Mapping::Guessed)
        .count();
    let unclassified = words
        .iter()
        .filter(|w| w.mapping == Mapping::Unclassified)
        .count();
    let check = if guessed + unclassified == 0 {
        "# Every status word is a well-known one.".to_string()
    } else {
        format!(
            "# {guessed} word(s) guessed from a part of the word, {unclassified} not classified:\n\
             # look for \"check\" below and move them where they belong."
        )
    };
    let _ = writeln!(
        out,
        "# concord workspace, proposed by `concord init`: {} repo(s), {} source(s), {} status word(s).\n\
         {check}\n\
         # Every path is relative to this file.\n\
         #\n\
         # Next: `concord scan` lists what each source reads; `concord diff` shows\n\
         # what `concord sync` would change, and why, before anything is written.\n\
         #\n\
         # The hub is an SQLite file under .concord/ beside this file. To share it\n\
         # between machines, set [hub] url = \"postgres://…\" (or CONCORD_HUB_URL).\n",
        plan.repos.len(),
        plan.sources.len(),
        words.len(),
    );
}

fn render_workflow(workflow: &ProposedWorkflow, out: &mut String) {
    let what = match workflow.kind {
        WorkflowKind::Task => {
            "# Status of work items. A higher rank is further along: sync never lets a\n\
             # lower rank overwrite a higher one unless a rule allows reopening."
        }
        WorkflowKind::Lifecycle => {
            "# Lifecycle phases of a feature, in order. A higher rank is further along."
        }
    };
    let _ = writeln!(
        out,
        "{what}\n[[workflow]]\nname = {}\nstatuses = [",
        quote(&workflow.name)
    );
    for status in &workflow.statuses {
        let guessed: Vec<&str> = workflow
            .words
            .iter()
            .filter(|w| w.status == status.name && w.mapping == Mapping::Guessed)
            .map(|w| w.word.as_str())
            .collect();
        if !guessed.is_empty() {
            let _ = writeln!(
                out,
                "  # guessed from part of the word, check: {}",
                guessed.join(", ")
            );
        }
        if status.unclassified {
            let used = workflow
                .words
                .iter()
                .find(|w| w.status == status.name)
                .map_or(0, |w| w.count);
            let _ = writeln!(
                out,
                "  # not classified: check its rank ({used} item(s) say `{}`)",
                status.name
            );
        }
        let aliases = if status.aliases.is_empty() {
            String::new()
        } else {
            format!(", aliases = {}", list(&status.aliases))
        };
        let _ = writeln!(
            out,
            "  {{ name = {}, rank = {}{aliases} }},",
            quote(&status.name),
            status.rank
        );
    }
    out.push_str("]\n\n");
}

fn describe(source: &SourcePlan) -> String {
    let files = if source.members.len() == 1 {
        "1 file".to_string()
    } else {
        format!("{} files", source.members.len())
    };
    let what = match &source.shape {
        Shape::TaskBlocks => "```task blocks of `id:`/`status:` lines".to_string(),
        Shape::Table { status_column, .. } => {
            format!("a pipe table whose `{status_column}` column starts with a bold status")
        }
        Shape::FrontMatter { status } => format!("YAML front matter with `{status}`"),
        Shape::JsonDocument { status } => format!("JSON documents, status at `{status}`"),
        Shape::JsonItems { items, .. } => format!("JSON, one item per element of `{items}`"),
    };
    format!("# {what}: {files}, {} item(s) found.", source.items)
}

fn render_source(source: &SourcePlan, out: &mut String) {
    let _ = writeln!(out, "{}\n[[source]]", describe(source));
    let mut field = |name: &str, value: String| {
        let _ = writeln!(out, "{name} = {value}");
    };
    field("name", quote(&source.name));
    field("repo", quote(&source.repo));
    field("format", quote(source.shape.format()));
    field("glob", quote(&source.glob));
    field("workflow", quote(source.workflow.name()));
    match &source.shape {
        Shape::TaskBlocks => {}
        Shape::Table {
            header,
            status_column,
            key_column,
            key_regex,
            ..
        } => {
            field("header", quote(header));
            field("key_column", quote(key_column));
            field("key_regex", quote(key_regex));
            field("status", quote(status_column));
            if !source.qualifiers.is_empty() {
                field("qualifiers", list(&source.qualifiers));
            }
        }
        Shape::FrontMatter { status } | Shape::JsonDocument { status } => {
            field("status", quote(status));
            if let Some(owner) = &source.owner {
                field("owner", quote(owner));
            }
        }
        Shape::JsonItems { items, status, .. } => {
            field("items", quote(items));
            field("status", quote(status));
        }
    }
    field("key", quote(&source.key));
    if let Some(log_file) = &source.log_file {
        let _ = writeln!(
            out,
            "log_file = {}   # `concord log KEY` appends events here",
            quote(log_file)
        );
    }
    if !source.write_names.is_empty() {
        let pairs: Vec<String> = source
            .write_names
            .iter()
            .map(|(status, word)| format!("{} = {}", bare_or_quoted(status), quote(word)))
            .collect();
        let _ = writeln!(
            out,
            "# sync writes this source's own words back\nwrite_names = {{ {} }}",
            pairs.join(", ")
        );
    }
    out.push('\n');
}

/// A TOML key: bare when it may be, quoted otherwise.
fn bare_or_quoted(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_string()
    } else {
        quote(key)
    }
}

fn render_rules(plan: &Plan, out: &mut String) {
    out.push_str(
        "# Sync rules: which sources agree on each item (items are matched by key).\n\
         # `merge`: a change in any of them goes to the others; with no agreed value\n\
         # yet, the highest rank wins. Only one rule may write the hub.\n",
    );
    for rule in &plan.rules {
        let prefix = if rule.commented { "# " } else { "" };
        if rule.commented {
            let _ = writeln!(
                out,
                "# These sources share a workflow; to keep them in step, uncomment:"
            );
        }
        let _ = writeln!(
            out,
            "{prefix}[[sync]]\n{prefix}name = {}\n{prefix}mode = \"merge\"\n{prefix}between = {}\n{prefix}reopen = \"block\"\n",
            quote(&rule.name),
            list(&rule.between)
        );
    }
    if plan.rules.iter().all(|r| r.commented) {
        out.push_str(
            "# No rule is active: add one so that `concord sync` has work, e.g.\n\
             # [[sync]]\n# mode = \"merge\"\n# between = [\"SOURCE\", \"hub\"]\n",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_valid_toml_whatever_they_hold() {
        for text in [
            r"wp\#(\d+)",
            "it's",
            "a\"b",
            "tab\there",
            "line\nbreak",
            "plain",
        ] {
            let doc = format!("v = {}", quote(text));
            let value: toml::Table = toml::from_str(&doc).expect("valid TOML");
            assert_eq!(value["v"].as_str(), Some(text), "{doc}");
        }
        assert_eq!(quote(r"wp\#(\d+)"), r"'wp\#(\d+)'");
    }
}
