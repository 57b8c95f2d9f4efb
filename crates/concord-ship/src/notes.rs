//! Release notes: the subjects of the commits a repo ships since the
//! previous train's tag, grouped by conventional-commit type when they
//! follow it (`feat(ui)!: …`). Pure: git gives the subjects.

use serde::{Deserialize, Serialize};

/// One heading of the notes and its lines, in the order shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NoteGroup {
    pub heading: String,
    pub lines: Vec<String>,
}

/// The headings, in the order notes show them, and the types each takes.
const HEADINGS: [(&str, &[&str]); 9] = [
    ("Breaking changes", &[]),
    ("Features", &["feat", "feature"]),
    ("Fixes", &["fix", "bugfix"]),
    ("Performance", &["perf"]),
    ("Refactoring", &["refactor"]),
    ("Documentation", &["docs", "doc"]),
    ("Tests", &["test", "tests"]),
    ("Build and CI", &["build", "ci"]),
    ("Other changes", &[]),
];

/// `type(scope)!: description` -> (type, scope, breaking, description).
fn conventional(subject: &str) -> Option<(&str, Option<&str>, bool, &str)> {
    let (head, description) = subject.split_once(": ")?;
    let (head, breaking) = match head.strip_suffix('!') {
        Some(head) => (head, true),
        None => (head, false),
    };
    let (kind, scope) = match head.split_once('(') {
        Some((kind, rest)) => (kind, Some(rest.strip_suffix(')')?)),
        None => (head, None),
    };
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    (word(kind) && scope.is_none_or(|s| !s.is_empty()) && !description.trim().is_empty())
        .then_some((kind, scope, breaking, description.trim()))
}

/// The notes of `subjects` (newest first, as `git log` gives them): the
/// train's own `chore(release):` commits and merge commits left out, each
/// conventional subject under its type's heading (`scope: description`),
/// a breaking one (`!`) under "Breaking changes", the rest under "Other
/// changes". Headings without lines are left out.
pub fn release_notes(subjects: &[String]) -> Vec<NoteGroup> {
    let mut groups: Vec<NoteGroup> = HEADINGS
        .iter()
        .map(|(heading, _)| NoteGroup {
            heading: heading.to_string(),
            lines: Vec::new(),
        })
        .collect();
    let other = HEADINGS.len() - 1;
    for subject in subjects {
        let subject = subject.trim();
        if subject.is_empty()
            || subject.starts_with("chore(release):")
            || subject.starts_with("Merge ")
        {
            continue;
        }
        let (at, line) = match conventional(subject) {
            Some((_, scope, true, description)) => (0, shown(scope, description)),
            Some((kind, scope, false, description)) => {
                let kind = kind.to_ascii_lowercase();
                let at = HEADINGS
                    .iter()
                    .position(|(_, kinds)| kinds.contains(&kind.as_str()))
                    .unwrap_or(other);
                let line = if at == other {
                    subject.to_string()
                } else {
                    shown(scope, description)
                };
                (at, line)
            }
            None => (other, subject.to_string()),
        };
        groups[at].lines.push(line);
    }
    groups.retain(|g| !g.lines.is_empty());
    groups
}

fn shown(scope: Option<&str>, description: &str) -> String {
    match scope {
        Some(scope) => format!("{scope}: {description}"),
        None => description.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notes(subjects: &[&str]) -> Vec<(String, Vec<String>)> {
        let subjects: Vec<String> = subjects.iter().map(|s| s.to_string()).collect();
        release_notes(&subjects)
            .into_iter()
            .map(|g| (g.heading, g.lines))
            .collect()
    }

    #[test]
    fn conventional_subjects_are_grouped_in_a_fixed_order() {
        let got = notes(&[
            "fix(parser): a trailing comma no longer drops the row",
            "feat: CSV export",
            "chore(release): pin lib-a 1.4.2",
            "docs: the probe contract",
            "feat(api)!: items are paged",
            "Tidy the README",
            "Merge branch 'main' into release",
            "chore: bump deps",
        ]);
        assert_eq!(
            got,
            vec![
                (
                    "Breaking changes".into(),
                    vec!["api: items are paged".into()]
                ),
                ("Features".into(), vec!["CSV export".into()]),
                (
                    "Fixes".into(),
                    vec!["parser: a trailing comma no longer drops the row".into()]
                ),
                ("Documentation".into(), vec!["the probe contract".into()]),
                (
                    "Other changes".into(),
                    vec!["Tidy the README".into(), "chore: bump deps".into()]
                ),
            ]
        );
    }

    #[test]
    fn subjects_that_only_look_conventional_are_other_changes() {
        let got = notes(&["Note: this is prose", "feat(: broken", "fix:no space"]);
        assert_eq!(
            got,
            vec![(
                "Other changes".into(),
                vec![
                    "Note: this is prose".into(),
                    "feat(: broken".into(),
                    "fix:no space".into()
                ]
            )]
        );
        assert!(notes(&[]).is_empty());
        assert!(notes(&["chore(release): pin a 1"]).is_empty());
    }
}
