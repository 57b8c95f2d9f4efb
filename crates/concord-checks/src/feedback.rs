//! What concord says on a tracker about check results, decided without
//! touching one: the sticky pull-request comment and its commit status
//! (per pull request), and the one issue that stays open while a
//! scheduled snapshot's regressions last. The requests are concord-app's.
//!
//! Both are found again by a hidden marker at the start of their body, so
//! a rerun updates instead of adding, and bodies depend on the findings
//! alone (never on a commit or a time), so an unchanged result uploads
//! nothing.

use crate::finding::{Delta, Finding};
use std::collections::BTreeSet;

/// First line of the sticky pull-request comment.
pub const PULL_REQUEST_MARKER: &str = "<!-- concord:check-pull-request -->";
/// First line of the regression issue's body.
pub const REGRESSION_MARKER: &str = "<!-- concord:check-regressions -->";
/// GitHub refuses a commit status description over 140 characters.
pub const STATUS_DESCRIPTION_MAX: usize = 140;
/// Findings listed in a body; the rest are counted. Keeps bodies far below
/// GitHub's 65,536 characters.
pub const LISTED_MAX: usize = 50;
/// Fingerprints a regression issue remembers (about 70 characters each).
pub const TRACKED_MAX: usize = 500;
const FINGERPRINTS_OPEN: &str = "<!-- concord:fingerprints";

/// Whether `body` is one of concord's, by the marker on its first line.
pub fn is_marked(body: &str, marker: &str) -> bool {
    body.lines().next().is_some_and(|l| l.trim() == marker)
}

/// A finding's message as markdown text: on one line, no HTML (so nothing
/// in it can pose as a marker or break the page) and no `@` that would
/// notify someone.
fn inline(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('@', "@&#8203;")
}

/// `repo: `path:line``, the path in backticks (a backtick in it would
/// end the span).
fn location(f: &Finding) -> String {
    let place = match f.line {
        Some(line) => format!("{}:{line}", f.path),
        None => f.path.clone(),
    };
    let place = format!("`{}`", place.replace('`', "'"));
    match &f.repo {
        Some(repo) => format!("{}: {place}", inline(repo)),
        None => place,
    }
}

fn list(findings: &[&Finding], out: &mut String) {
    for f in findings.iter().take(LISTED_MAX) {
        out.push_str(&format!(
            "- **{}** ({}) {}: {}\n",
            f.code,
            f.severity,
            location(f),
            inline(&f.message)
        ));
    }
    if findings.len() > LISTED_MAX {
        out.push_str(&format!(
            "- … and {} more (`concord check` lists them all)\n",
            findings.len() - LISTED_MAX
        ));
    }
}

/// How a pull request's findings compare with its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct PullRequestCounts {
    pub new: usize,
    pub new_gating: usize,
    pub fixed: usize,
    pub unchanged: usize,
}

impl PullRequestCounts {
    pub fn of(delta: &Delta<'_>) -> PullRequestCounts {
        PullRequestCounts {
            new: delta.new.len(),
            new_gating: delta.new_gating(),
            fixed: delta.fixed.len(),
            unchanged: delta.unchanged.len(),
        }
    }

    /// Nothing new and nothing fixed: the pull request changes no finding.
    pub fn nothing_changed(&self) -> bool {
        self.new == 0 && self.fixed == 0
    }
}

/// The sticky comment: the counts, then the new findings (gating first).
pub fn pull_request_comment(delta: &Delta<'_>, against: &str) -> String {
    let counts = PullRequestCounts::of(delta);
    let mut out = format!("{PULL_REQUEST_MARKER}\n### concord check\n\n");
    let verdict = if counts.new_gating > 0 {
        "❌ new gating findings"
    } else if counts.new > 0 {
        "⚠️ new findings, none gating"
    } else {
        "✅ no new findings"
    };
    out.push_str(&format!(
        "{verdict}: **{} new** ({} gating), **{} fixed**, {} unchanged against `{}`.\n",
        counts.new,
        counts.new_gating,
        counts.fixed,
        counts.unchanged,
        against.replace('`', "'")
    ));
    let mut new: Vec<&Finding> = delta.new.clone();
    new.sort_by_key(|f| (!f.severity.gates(), f.path.clone(), f.line, f.code.clone()));
    if !new.is_empty() {
        out.push_str("\n#### New\n\n");
        list(&new, &mut out);
    }
    out.push_str(
        "\n<sub>Updated in place on every run; findings are compared by fingerprint, \
         so moved lines and reworded messages are not new.</sub>\n",
    );
    out
}

/// The commit status: failure when a new finding gates, else success.
pub fn pull_request_status(counts: &PullRequestCounts) -> (&'static str, String) {
    let state = if counts.new_gating > 0 {
        "failure"
    } else {
        "success"
    };
    let description = format!(
        "{} new ({} gating), {} fixed, {} unchanged",
        counts.new, counts.new_gating, counts.fixed, counts.unchanged
    );
    (state, truncate(&description, STATUS_DESCRIPTION_MAX))
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// What to do with the sticky comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StickyAction {
    /// No comment yet and nothing to say: the pull request changes no finding.
    Nothing,
    Create,
    /// The comment says this already.
    Keep(u64),
    Update(u64),
}

/// `marked`: concord's comments on the pull request, oldest first, as
/// `(id, body)`. The oldest is the one kept; the others (two runs that
/// raced) are returned to delete, so there is never more than one.
pub fn sticky_plan(
    marked: &[(u64, String)],
    wanted: &str,
    counts: &PullRequestCounts,
) -> (StickyAction, Vec<u64>) {
    let extra = marked.iter().skip(1).map(|(id, _)| *id).collect();
    let action = match marked.first() {
        None if counts.nothing_changed() => StickyAction::Nothing,
        None => StickyAction::Create,
        Some((id, body)) if body == wanted => StickyAction::Keep(*id),
        Some((id, _)) => StickyAction::Update(*id),
    };
    (action, extra)
}

/// The regression issue as found on the tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedIssue {
    pub open: bool,
    pub body: String,
}

impl TrackedIssue {
    /// The fingerprints the issue was opened for, from its hidden line.
    pub fn fingerprints(&self) -> BTreeSet<String> {
        self.body
            .lines()
            .filter_map(|l| l.trim().strip_prefix(FINGERPRINTS_OPEN))
            .filter_map(|rest| rest.trim().strip_suffix("-->"))
            .flat_map(|list| list.split_whitespace().map(str::to_string))
            .collect()
    }
}

/// What to do with the regression issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IssueAction {
    /// No issue, or one that already says this (or a closed one, and no
    /// new regression: a person closed it, or it was resolved).
    Nothing,
    Create,
    Update,
    Reopen,
    Close,
}

/// The decision and, unless closing, the body to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegressionPlan {
    pub action: IssueAction,
    pub body: String,
    /// Gating findings the issue is (still) about.
    pub open: usize,
    /// Of those, the ones new in this snapshot.
    pub new: usize,
    /// Findings the issue was about that are gone now.
    pub resolved: usize,
}

/// `regressions`: the gating findings new in this snapshot; `current`: all
/// of its findings. An open issue keeps tracking what it was opened for
/// while those findings remain, and adds the new ones; it closes when none
/// remain. A closed issue is reopened only by a new regression (a person
/// may close it on purpose).
pub fn regression_plan(
    existing: Option<&TrackedIssue>,
    regressions: &[Finding],
    current: &[Finding],
) -> RegressionPlan {
    let tracked = existing
        .filter(|i| i.open)
        .map(TrackedIssue::fingerprints)
        .unwrap_or_default();
    let new_ids: BTreeSet<String> = regressions
        .iter()
        .map(|f| f.identity().into_owned())
        .collect();
    let mut open: Vec<&Finding> = current
        .iter()
        .filter(|f| f.severity.gates())
        .filter(|f| {
            let id = f.identity();
            tracked.contains(id.as_ref()) || new_ids.contains(id.as_ref())
        })
        .collect();
    open.sort_by_key(|f| {
        (
            f.path.clone(),
            f.line,
            f.code.clone(),
            f.fingerprint.clone(),
        )
    });
    let still: BTreeSet<String> = open.iter().map(|f| f.identity().into_owned()).collect();
    let resolved = tracked.difference(&still).count();
    let body = regression_body(&open);
    let action = match existing {
        _ if open.is_empty() => match existing {
            Some(issue) if issue.open => IssueAction::Close,
            _ => IssueAction::Nothing,
        },
        None => IssueAction::Create,
        Some(issue) if !issue.open => IssueAction::Reopen,
        Some(issue) if issue.body == body => IssueAction::Nothing,
        Some(_) => IssueAction::Update,
    };
    RegressionPlan {
        action,
        body,
        open: open.len(),
        new: regressions.len(),
        resolved,
    }
}

fn regression_body(open: &[&Finding]) -> String {
    let mut out = format!("{REGRESSION_MARKER}\n");
    let tracked: Vec<String> = open
        .iter()
        .take(TRACKED_MAX)
        .map(|f| f.identity().into_owned())
        .collect();
    out.push_str(&format!("{FINGERPRINTS_OPEN} {} -->\n", tracked.join(" ")));
    out.push_str(&format!(
        "The scheduled `concord check --snapshot` found **{} gating finding(s)** that an \
         earlier snapshot did not have. concord keeps this issue up to date and closes it \
         when they are gone.\n\n",
        open.len()
    ));
    list(open, &mut out);
    if open.len() > TRACKED_MAX {
        out.push_str(&format!(
            "\nOnly the first {TRACKED_MAX} are followed; the issue closes when those are gone.\n"
        ));
    }
    out.push_str(
        "\n`concord check history --report` shows every code's findings over the snapshots.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Severity, assign_fingerprints, compare};
    use proptest::prelude::*;

    fn finding(code: &str, path: &str, severity: Severity) -> Finding {
        let mut f = Finding::new(code, severity, path, format!("{code} in {path}"));
        f.line = Some(3);
        f
    }

    fn fingerprinted(mut list: Vec<Finding>) -> Vec<Finding> {
        assign_fingerprints(&mut list);
        list
    }

    #[test]
    fn the_comment_counts_and_lists_new_findings_gating_first() {
        let before = fingerprinted(vec![finding("A", "a.json", Severity::Error)]);
        let after = fingerprinted(vec![
            finding("B", "b.json", Severity::Warning),
            finding("C", "c.json", Severity::Error),
        ]);
        let delta = compare(&before, &after);
        let body = pull_request_comment(&delta, "origin/main");
        assert!(is_marked(&body, PULL_REQUEST_MARKER));
        assert!(
            body.contains("**2 new** (1 gating), **1 fixed**, 0 unchanged against `origin/main`")
        );
        let c = body.find("**C**").unwrap();
        let b = body.find("**B**").unwrap();
        assert!(c < b, "gating first:\n{body}");
        assert!(body.contains("`c.json:3`"));
        let (state, description) = pull_request_status(&PullRequestCounts::of(&delta));
        assert_eq!(state, "failure");
        assert_eq!(description, "2 new (1 gating), 1 fixed, 0 unchanged");
    }

    #[test]
    fn messages_cannot_pose_as_markers_or_mention_people() {
        let mut f = finding("A", "a.md", Severity::Error);
        f.message = "<!-- concord:check-pull-request --> ping @octocat\nsecond".into();
        let after = fingerprinted(vec![f]);
        let body = pull_request_comment(&compare(&[], &after), "main");
        assert_eq!(body.matches(PULL_REQUEST_MARKER).count(), 1);
        assert!(
            body.contains("&lt;!-- concord:check-pull-request --&gt; ping @&#8203;octocat second")
        );
    }

    #[test]
    fn long_lists_are_cut_and_counted() {
        let after = fingerprinted(
            (0..LISTED_MAX + 7)
                .map(|i| finding("A", &format!("f{i}.json"), Severity::Error))
                .collect(),
        );
        let body = pull_request_comment(&compare(&[], &after), "main");
        assert_eq!(body.matches("- **A**").count(), LISTED_MAX);
        assert!(body.contains("… and 7 more"));
    }

    #[test]
    fn status_descriptions_fit_githubs_limit() {
        let counts = PullRequestCounts {
            new: usize::MAX,
            new_gating: usize::MAX,
            fixed: usize::MAX,
            unchanged: usize::MAX,
        };
        let (_, description) = pull_request_status(&counts);
        assert!(description.chars().count() <= STATUS_DESCRIPTION_MAX);
        assert_eq!(truncate("abcdef", 4), "abc…");
    }

    #[test]
    fn the_sticky_comment_is_created_kept_updated_and_never_doubled() {
        let quiet = PullRequestCounts {
            new: 0,
            new_gating: 0,
            fixed: 0,
            unchanged: 4,
        };
        let busy = PullRequestCounts { new: 1, ..quiet };
        assert_eq!(
            sticky_plan(&[], "b", &quiet),
            (StickyAction::Nothing, vec![])
        );
        assert_eq!(sticky_plan(&[], "b", &busy), (StickyAction::Create, vec![]));
        let marked = vec![(5, "b".to_string()), (9, "x".to_string())];
        assert_eq!(
            sticky_plan(&marked, "b", &quiet),
            (StickyAction::Keep(5), vec![9])
        );
        assert_eq!(
            sticky_plan(&marked, "c", &busy),
            (StickyAction::Update(5), vec![9])
        );
    }

    fn issue_for(open: &[&Finding], is_open: bool) -> TrackedIssue {
        TrackedIssue {
            open: is_open,
            body: regression_body(open),
        }
    }

    #[test]
    fn an_issue_opens_follows_its_findings_and_closes_when_they_are_gone() {
        let a = finding("A", "a.json", Severity::Error);
        let b = finding("B", "b.json", Severity::Error);
        let now = fingerprinted(vec![a.clone()]);
        // Snapshot 2 regresses: A is new.
        let plan = regression_plan(None, &now, &now);
        assert_eq!(
            (plan.action, plan.open, plan.new),
            (IssueAction::Create, 1, 1)
        );
        let issue = TrackedIssue {
            open: true,
            body: plan.body.clone(),
        };
        assert_eq!(issue.fingerprints().len(), 1);
        // Snapshot 3: A remains, nothing new since 2: the issue stays as it is.
        let plan = regression_plan(Some(&issue), &[], &now);
        assert_eq!(plan.action, IssueAction::Nothing);
        // Snapshot 4: B regresses too: the issue now lists both.
        let both = fingerprinted(vec![a.clone(), b.clone()]);
        let new_b: Vec<Finding> = both.iter().filter(|f| f.code == "B").cloned().collect();
        let plan = regression_plan(Some(&issue), &new_b, &both);
        assert_eq!((plan.action, plan.open), (IssueAction::Update, 2));
        let issue = TrackedIssue {
            open: true,
            body: plan.body,
        };
        // Snapshot 5: A is fixed, B remains: still open, one resolved.
        let only_b = fingerprinted(vec![b.clone()]);
        let plan = regression_plan(Some(&issue), &[], &only_b);
        assert_eq!(
            (plan.action, plan.open, plan.resolved),
            (IssueAction::Update, 1, 1)
        );
        // Snapshot 6: clean: close.
        let issue = TrackedIssue {
            open: true,
            body: plan.body,
        };
        let plan = regression_plan(Some(&issue), &[], &[]);
        assert_eq!((plan.action, plan.resolved), (IssueAction::Close, 1));
    }

    #[test]
    fn a_closed_issue_is_reopened_only_by_a_new_regression() {
        let a = fingerprinted(vec![finding("A", "a.json", Severity::Error)]);
        let refs: Vec<&Finding> = a.iter().collect();
        let closed = issue_for(&refs, false);
        // A person closed it while A remains: left closed.
        assert_eq!(
            regression_plan(Some(&closed), &[], &a).action,
            IssueAction::Nothing
        );
        assert_eq!(
            regression_plan(Some(&closed), &a, &a).action,
            IssueAction::Reopen
        );
    }

    #[test]
    fn findings_that_do_not_gate_open_nothing() {
        let w = fingerprinted(vec![finding("W", "w.json", Severity::Warning)]);
        assert_eq!(regression_plan(None, &w, &w).action, IssueAction::Nothing);
    }

    proptest! {
        /// Whatever the history, an open issue is about exactly the gating
        /// findings it tracked that remain plus the new ones, and it never
        /// asks to create when one exists.
        #[test]
        fn the_issue_tracks_what_remains(
            tracked in proptest::collection::btree_set(0u8..12, 0..8),
            current in proptest::collection::btree_set(0u8..12, 0..8),
            new in proptest::collection::btree_set(0u8..12, 0..4),
            open in any::<bool>(),
        ) {
            let make = |ids: &BTreeSet<u8>| fingerprinted(
                ids.iter().map(|i| finding("X", &format!("f{i}.json"), Severity::Error)).collect());
            let current_ids: BTreeSet<u8> = current.union(&new).copied().collect();
            let now = make(&current_ids);
            let regressions = make(&new);
            let old = make(&tracked);
            let old_refs: Vec<&Finding> = old.iter().collect();
            let issue = issue_for(&old_refs, open);
            let plan = regression_plan(Some(&issue), &regressions, &now);
            let kept = if open { tracked.intersection(&current_ids).count() } else { 0 };
            let expected: BTreeSet<u8> = new.iter().copied()
                .chain(tracked.iter().copied().filter(|i| open && current_ids.contains(i)))
                .collect();
            prop_assert_eq!(plan.open, expected.len());
            prop_assert!(plan.open >= kept);
            prop_assert_ne!(plan.action, IssueAction::Create);
            if expected.is_empty() {
                prop_assert!(matches!(plan.action, IssueAction::Close | IssueAction::Nothing));
                prop_assert_eq!(plan.action == IssueAction::Close, open);
            }
        }
    }
}
