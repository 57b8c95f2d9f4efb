//! The check layers that act, against the fake GitHub over real HTTP:
//! `check --baseline REF --pull-request N` keeps one sticky comment and a
//! commit status; `check --snapshot` with `[checks.regressions]` keeps one
//! issue open while a regression lasts. Reruns that change nothing write
//! nothing.

mod common;

use common::{Output, git, run_env};
use concord_fakes::Fault;
use concord_fakes::github::FakeGitHub;
use std::path::Path;

const TOKEN: &str = "ghp_feedback_secret";
const REPO: &str = "Acme/App";
const MARKER: &str = "<!-- concord:check-pull-request -->";

/// A git repo whose config checks owners, with `extra` appended; two
/// features with owners, committed on main.
fn workspace(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    common::init_repo(root);
    std::fs::write(
        root.join("concord.toml"),
        format!(
            r#"
[[repo]]
name = "app"
path = "."

[checks.owner]
glob = "features/*/state.json"
field = "/state_owner"
owners = {{ app = "app" }}
{extra}"#
        ),
    )
    .expect("config");
    for name in ["a", "b"] {
        state(root, name, r#"{"name": "x", "state_owner": "app"}"#);
    }
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "start"]);
    dir
}

fn state(root: &Path, name: &str, json: &str) {
    let path = root.join(format!("features/{name}/state.json"));
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
    std::fs::write(path, json).expect("write");
}

fn concord(root: &Path, args: &[&str]) -> Output {
    run_env(root, &[("TEST_GH_TOKEN", TOKEN)], args)
}

/// Requests that changed something on the fake since the log was cleared.
fn writes(gh: &FakeGitHub) -> Vec<String> {
    gh.control()
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {} {}", r.method, r.target, r.status))
        .collect()
}

/// A fake GitHub whose `Acme/App` is the workspace's git repository, and
/// a pull request from `topic` (checked out, at main's commit, or at one
/// more commit giving `a` no owner when `main_has_a_finding`) into main.
fn pull_request_setup(main_has_a_finding: bool) -> (FakeGitHub, tempfile::TempDir, u64, String) {
    let gh = FakeGitHub::start(TOKEN).expect("fake GitHub");
    gh.add_repo(REPO);
    let dir = workspace(&format!(
        r#"
[checks.pull_request]
status = "pm-framework/pr-integrity"
repo = "{REPO}"
url = "{}"
token_env = "TEST_GH_TOKEN"
"#,
        gh.url()
    ));
    let root = dir.path();
    if main_has_a_finding {
        state(root, "a", r#"{"name": "x"}"#);
        git(root, &["commit", "-qam", "main has a finding"]);
    }
    git(root, &["checkout", "-q", "-b", "topic"]);
    gh.attach_git(REPO, &root.join(".git"));
    let number = gh.add_pull(REPO, "topic", "main", false);
    let sha = gh.pull_head_sha(REPO, number).expect("head sha");
    assert_eq!(sha, git(root, &["rev-parse", "HEAD"]).trim());
    (gh, dir, number, sha)
}

fn marked(gh: &FakeGitHub, number: u64) -> Vec<String> {
    gh.comments(REPO, number)
        .into_iter()
        .filter(|c| c.body.starts_with(MARKER))
        .map(|c| c.body)
        .collect()
}

#[test]
fn a_pull_request_gets_one_sticky_comment_and_a_status_and_a_rerun_uploads_nothing() {
    let (gh, dir, number, sha) = pull_request_setup(true);
    let root = dir.path();
    let pr = number.to_string();
    let args = ["check", "--baseline", "main", "--pull-request", pr.as_str()];
    gh.add_comment(REPO, number, "reviewer", "Looks fine to me.");
    // main has a finding (a has no owner), and the pull request drops b's
    // owner: one new gating finding.
    state(root, "b", r#"{"name": "x"}"#);
    let first = concord(root, &args);
    assert_eq!(first.code, 1, "{}{}", first.stdout, first.stderr);
    assert!(
        first
            .stdout
            .contains(&format!("pull request {REPO}#{number}: comment created"))
            && first
                .stdout
                .contains("status `pm-framework/pr-integrity` set to failure"),
        "{}",
        first.stdout
    );
    let bodies = marked(&gh, number);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(
        bodies[0].contains("**1 new** (1 gating), **0 fixed**, 1 unchanged against `main`")
            && bodies[0].contains("**OWNER_MISSING** (error) app: `features/b/state.json"),
        "{}",
        bodies[0]
    );
    let statuses = gh.statuses(REPO, &sha);
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(statuses[0].state, "failure");
    assert_eq!(statuses[0].context, "pm-framework/pr-integrity");
    assert_eq!(
        statuses[0].description.as_deref(),
        Some("1 new (1 gating), 0 fixed, 1 unchanged")
    );

    // The same result again: reads only, nothing uploaded.
    gh.control().clear_log();
    let again = concord(root, &args);
    assert_eq!(again.code, 1, "{}{}", again.stdout, again.stderr);
    assert_eq!(writes(&gh), Vec::<String>::new());
    assert!(
        again.stdout.contains("comment unchanged") && again.stdout.contains("already set"),
        "{}",
        again.stdout
    );

    // Fixed, and main's finding fixed too: the same comment is edited.
    state(root, "b", r#"{"name": "x", "state_owner": "app"}"#);
    state(root, "a", r#"{"name": "x", "state_owner": "app"}"#);
    gh.control().clear_log();
    let fixed = concord(root, &args);
    assert_eq!(fixed.code, 0, "{}{}", fixed.stdout, fixed.stderr);
    let bodies = marked(&gh, number);
    assert_eq!(bodies.len(), 1, "never two comments: {bodies:?}");
    assert!(
        bodies[0].contains("no new findings: **0 new** (0 gating), **1 fixed**"),
        "{}",
        bodies[0]
    );
    let methods: Vec<String> = writes(&gh)
        .iter()
        .map(|w| w.split(' ').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(methods, ["PATCH", "POST"], "{:?}", writes(&gh));
    assert_eq!(gh.statuses(REPO, &sha)[0].state, "success");
    // The reviewer's comment is untouched.
    assert!(
        gh.comments(REPO, number)
            .iter()
            .any(|c| c.body == "Looks fine to me.")
    );
    for out in [&first, &again, &fixed] {
        assert!(!out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN));
    }
}

#[test]
fn a_pull_request_that_changes_no_finding_gets_a_status_and_no_comment() {
    let (gh, dir, number, sha) = pull_request_setup(false);
    let root = dir.path();
    let pr = number.to_string();
    let out = concord(
        root,
        &["check", "--baseline", "main", "--pull-request", &pr],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("no comment (nothing changed)"),
        "{}",
        out.stdout
    );
    assert!(gh.comments(REPO, number).is_empty());
    assert_eq!(gh.statuses(REPO, &sha)[0].state, "success");
    gh.control().clear_log();
    let json = concord(
        root,
        &[
            "check",
            "--baseline",
            "main",
            "--pull-request",
            &pr,
            "--json",
        ],
    );
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert!(writes(&gh).is_empty(), "{:?}", writes(&gh));
    // JSON stays whole on stdout; what was done goes to stderr.
    let _ = json.json();
    assert!(json.stderr.contains("already set"), "{}", json.stderr);
}

#[test]
fn two_racing_comments_become_one() {
    let (gh, dir, number, _) = pull_request_setup(false);
    let root = dir.path();
    let older = gh.add_comment(
        REPO,
        number,
        "github-actions[bot]",
        &format!("{MARKER}\nold"),
    );
    let newer = gh.add_comment(
        REPO,
        number,
        "github-actions[bot]",
        &format!("{MARKER}\nold"),
    );
    state(root, "b", r#"{"name": "x"}"#);
    let pr = number.to_string();
    let out = concord(
        root,
        &["check", "--baseline", "main", "--pull-request", &pr],
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("1 duplicate comment(s) removed"),
        "{}",
        out.stdout
    );
    let left = gh.comments(REPO, number);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].id, older);
    assert_ne!(left[0].id, newer);
    assert!(left[0].body.contains("**1 new**"), "{}", left[0].body);
}

#[test]
fn a_token_that_cannot_comment_exits_3_and_says_why() {
    let (gh, dir, number, sha) = pull_request_setup(false);
    let root = dir.path();
    state(root, "b", r#"{"name": "x"}"#);
    gh.control().inject(
        Fault::status(403, &format!("/repos/{REPO}/issues/{number}/comments"), 1)
            .method("POST")
            .body(
                "application/json",
                r#"{"message":"Resource not accessible by integration","status":"403"}"#,
            ),
    );
    let pr = number.to_string();
    let out = concord(
        root,
        &["check", "--baseline", "main", "--pull-request", &pr],
    );
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("Resource not accessible by integration")
            && out.stderr.contains("pull-requests: write"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(TOKEN));
    // The findings were printed before the write failed.
    assert!(out.stdout.contains("OWNER_MISSING"), "{}", out.stdout);
    assert!(gh.statuses(REPO, &sha).is_empty());
    // Without a token: a usage error, nothing asked.
    gh.control().clear_log();
    let none = run_env(
        root,
        &[],
        &["check", "--baseline", "main", "--pull-request", &pr],
    );
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(none.stderr.contains("TEST_GH_TOKEN"), "{}", none.stderr);
    assert!(gh.control().requests().is_empty());
    // --pull-request needs --baseline.
    let usage = concord(root, &["check", "--pull-request", &pr]);
    assert_eq!(usage.code, 2, "{}", usage.stderr);
}

#[test]
fn a_pull_request_that_moved_on_gets_nothing_from_an_older_checkout() {
    let (gh, dir, number, old_head) = pull_request_setup(false);
    let root = dir.path();
    // A newer push to the pull request; this checkout stays at the old head.
    state(root, "b", r#"{"name": "x"}"#);
    git(root, &["commit", "-qam", "newer push"]);
    git(root, &["checkout", "-q", "--detach", &old_head]);
    let pr = number.to_string();
    gh.control().clear_log();
    let out = concord(
        root,
        &["check", "--baseline", "main", "--pull-request", &pr],
    );
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("its findings are not that commit's, so nothing was reported"),
        "{}",
        out.stderr
    );
    assert!(writes(&gh).is_empty(), "{:?}", writes(&gh));
    // The merge commit actions/checkout makes (HEAD^2 is the head) is fine.
    git(root, &["checkout", "-q", "main"]);
    git(root, &["merge", "-q", "--no-ff", "-m", "merge", "topic"]);
    let merged = concord(
        root,
        &["check", "--baseline", "main~1", "--pull-request", &pr],
    );
    assert_eq!(merged.code, 1, "{}{}", merged.stdout, merged.stderr);
    let head = git(root, &["rev-parse", "topic"]);
    assert_eq!(gh.statuses(REPO, head.trim())[0].state, "failure");
}

// ---------------------------------------------------------------- schedule

fn regression_setup() -> (FakeGitHub, tempfile::TempDir) {
    let gh = FakeGitHub::start(TOKEN).expect("fake GitHub");
    gh.add_repo(REPO);
    gh.add_issue(REPO, "an unrelated issue", "open", &["concord-check"]);
    let dir = workspace(&format!(
        r#"
[checks.regressions]
github = "{REPO}"
url = "{}"
token_env = "TEST_GH_TOKEN"
"#,
        gh.url()
    ));
    (gh, dir)
}

fn regression_issues(gh: &FakeGitHub) -> Vec<u64> {
    gh.issues_with_label(REPO, "concord-check")
        .into_iter()
        .filter(|n| {
            gh.issue_body(REPO, *n)
                .is_some_and(|b| b.starts_with("<!-- concord:check-regressions -->"))
        })
        .collect()
}

#[test]
fn a_regression_opens_one_issue_that_follows_it_closes_and_reopens() {
    let (gh, dir) = regression_setup();
    let root = dir.path();
    let snapshot = || concord(root, &["check", "--snapshot"]);
    let first = snapshot();
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(regression_issues(&gh).is_empty());

    // b loses its owner: a regression, one issue.
    state(root, "b", r#"{"name": "x"}"#);
    let second = snapshot();
    assert_eq!(second.code, 1, "{}{}", second.stdout, second.stderr);
    assert!(
        second
            .stdout
            .contains(&format!("github {REPO}: issue opened")),
        "{}",
        second.stdout
    );
    let issues = regression_issues(&gh);
    assert_eq!(issues.len(), 1);
    let number = issues[0];
    let body = gh.issue_body(REPO, number).expect("body");
    assert!(
        body.contains("**OWNER_MISSING** (error) app: `features/b/state.json"),
        "{body}"
    );

    // Nothing changed: nothing written.
    gh.control().clear_log();
    let third = snapshot();
    assert_eq!(third.code, 0, "{}{}", third.stdout, third.stderr);
    assert!(writes(&gh).is_empty(), "{:?}", writes(&gh));
    assert!(third.stdout.contains("issue unchanged"), "{}", third.stdout);

    // a regresses too: the same issue lists both.
    state(root, "a", r#"{"name": "x"}"#);
    let fourth = snapshot();
    assert_eq!(fourth.code, 1, "{}", fourth.stdout);
    assert!(fourth.stdout.contains("issue updated"), "{}", fourth.stdout);
    assert_eq!(regression_issues(&gh), [number]);
    let body = gh.issue_body(REPO, number).expect("body");
    assert!(
        body.contains("features/a/state.json") && body.contains("features/b/state.json"),
        "{body}"
    );

    // a is fixed: b remains, the issue stays open without a.
    state(root, "a", r#"{"name": "x", "state_owner": "app"}"#);
    let fifth = snapshot();
    assert_eq!(fifth.code, 0, "{}", fifth.stdout);
    let body = gh.issue_body(REPO, number).expect("body");
    assert!(
        !body.contains("features/a/state.json") && body.contains("features/b/state.json"),
        "{body}"
    );
    assert_eq!(gh.issue(REPO, number).expect("issue").0, "open");

    // All fixed: closed as completed, with a comment saying which snapshot.
    state(root, "b", r#"{"name": "x", "state_owner": "app"}"#);
    let sixth = snapshot();
    assert_eq!(sixth.code, 0, "{}", sixth.stdout);
    assert!(sixth.stdout.contains("issue closed"), "{}", sixth.stdout);
    let (state_now, reason, _) = gh.issue(REPO, number).expect("issue");
    assert_eq!(
        (state_now.as_str(), reason.as_deref()),
        ("closed", Some("completed"))
    );
    assert!(
        gh.comments(REPO, number)
            .iter()
            .any(|c| c.body.starts_with("Snapshot 6 no longer has")),
        "{:?}",
        gh.comments(REPO, number)
    );

    // Regressed again: the same issue is reopened, never a second one.
    state(root, "b", r#"{"name": "x"}"#);
    let seventh = snapshot();
    assert_eq!(seventh.code, 1, "{}", seventh.stdout);
    assert!(
        seventh.stdout.contains("issue reopened"),
        "{}",
        seventh.stdout
    );
    assert_eq!(regression_issues(&gh), [number]);
    assert_eq!(gh.issue(REPO, number).expect("issue").0, "open");
    // The unrelated issue with the same label was never touched.
    assert_eq!(gh.issue(REPO, 1).expect("issue").0, "open");
}

#[test]
fn an_unreachable_tracker_exits_3_and_the_snapshot_is_still_stored() {
    let (gh, dir) = regression_setup();
    let root = dir.path();
    assert_eq!(concord(root, &["check", "--snapshot"]).code, 0);
    state(root, "b", r#"{"name": "x"}"#);
    // No token: the snapshot is stored, the tracker named, exit 3.
    let out = run_env(root, &[], &["check", "--snapshot"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains(&format!("github {REPO}: no token in $TEST_GH_TOKEN")),
        "{}",
        out.stderr
    );
    let history = concord(root, &["check", "history", "--json"]);
    assert_eq!(
        history.json()["snapshots"].as_array().map(Vec::len),
        Some(2)
    );
    // Offline: no request at all, and it says so.
    gh.control().clear_log();
    let offline = concord(root, &["check", "--snapshot", "--offline"]);
    assert_eq!(offline.code, 0, "{}{}", offline.stdout, offline.stderr);
    assert!(
        offline
            .stdout
            .contains("offline: the regression issue was not updated")
    );
    assert!(gh.control().requests().is_empty());
    // A server error: exit 3, the reason named, the token never shown.
    state(root, "a", r#"{"name": "x"}"#);
    gh.control()
        .inject(Fault::status(502, &format!("/repos/{REPO}/issues"), 10));
    let down = concord(root, &["check", "--snapshot"]);
    assert_eq!(down.code, 3, "{}{}", down.stdout, down.stderr);
    assert!(down.stderr.contains("502"), "{}", down.stderr);
    assert!(!down.stderr.contains(TOKEN) && !down.stdout.contains(TOKEN));
}

#[test]
fn copies_of_the_issue_are_closed_as_duplicates() {
    let (gh, dir) = regression_setup();
    let root = dir.path();
    assert_eq!(concord(root, &["check", "--snapshot"]).code, 0);
    state(root, "b", r#"{"name": "x"}"#);
    assert_eq!(concord(root, &["check", "--snapshot"]).code, 1);
    let issues = regression_issues(&gh);
    assert_eq!(issues.len(), 1);
    // Someone copies it by hand, marker and all.
    let body = gh.issue_body(REPO, issues[0]).expect("body");
    let copy = gh.add_issue(REPO, "copy", "open", &["concord-check"]);
    gh.set_issue_body(REPO, copy, &body);
    assert_eq!(concord(root, &["check", "--snapshot"]).code, 0);
    let (state_now, reason, _) = gh.issue(REPO, copy).expect("copy");
    assert_eq!(
        (state_now.as_str(), reason.as_deref()),
        ("closed", Some("duplicate"))
    );
    assert_eq!(gh.issue(REPO, issues[0]).expect("issue").0, "open");
}

#[test]
fn the_configuration_is_checked_where_it_is_written() {
    let dir = workspace("\n[checks.regressions]\nlabel = \"x\"\n");
    let out = concord(dir.path(), &["check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("[checks.regressions] names no tracker"),
        "{}",
        out.stderr
    );
    let dir = workspace("\n[checks.regressions]\ngithub = \"acme\"\n");
    let out = concord(dir.path(), &["check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("github `acme` is not `owner/name`"),
        "{}",
        out.stderr
    );
    let dir = workspace("\n[checks.regressions]\nopenproject = \"op\"\n");
    let out = concord(dir.path(), &["check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("unknown tracker `op`"),
        "{}",
        out.stderr
    );
    let dir = workspace("\n[checks.pull_request]\nstatus = \"\"\n");
    let out = concord(dir.path(), &["check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("status is empty"), "{}", out.stderr);
}

// ---------------------------------------------------------------- OpenProject

#[test]
fn a_regression_opens_one_openproject_work_package_and_closes_it() {
    use concord_fakes::openproject::FakeOpenProject;
    const OP_TOKEN: &str = "op_feedback_secret";
    let op = FakeOpenProject::start(OP_TOKEN).expect("fake OpenProject");
    for (status, closed) in [("New", false), ("In progress", false), ("Closed", true)] {
        op.add_status(status, closed);
    }
    op.add_project("demo");
    // Someone else's work package whose subject contains the title.
    let other = op.add_work_package("demo", "concord check: findings regressed (notes)", "New");
    let dir = workspace(&format!(
        r#"
[[workflow]]
name = "wp"
statuses = [
  {{ name = "new", rank = 0 }},
  {{ name = "in_progress", rank = 1 }},
  {{ name = "closed", rank = 2 }},
]

[[tracker]]
name = "op"
kind = "openproject"
url = "{}"
token_env = "TEST_OP_TOKEN"
project = "demo"
workflow = "wp"
status_names = {{ new = "New", in_progress = "In progress", closed = "Closed" }}

[checks.regressions]
openproject = "op"
"#,
        op.url()
    ));
    let root = dir.path();
    let snapshot = || {
        run_env(
            root,
            &[("TEST_OP_TOKEN", OP_TOKEN)],
            &["check", "--snapshot"],
        )
    };
    assert_eq!(snapshot().code, 0);
    state(root, "b", r#"{"name": "x"}"#);
    let regressed = snapshot();
    assert_eq!(
        regressed.code, 1,
        "{}{}",
        regressed.stdout, regressed.stderr
    );
    assert!(
        regressed.stdout.contains("openproject op: issue opened"),
        "{}",
        regressed.stdout
    );
    let ours: Vec<u64> = op
        .work_packages_in("demo")
        .into_iter()
        .filter(|id| *id != other)
        .collect();
    assert_eq!(ours.len(), 1);
    let wp = ours[0];
    assert_eq!(op.subject_of(wp), "concord check: findings regressed");
    assert_eq!(op.status_of(wp), "New");
    let description = op.description_of(wp).expect("description");
    assert!(
        description.starts_with("<!-- concord:check-regressions -->"),
        "{description}"
    );
    assert!(
        description.contains("features/b/state.json"),
        "{description}"
    );
    // Unchanged: nothing written.
    op.control().clear_log();
    assert_eq!(snapshot().code, 0);
    assert_eq!(
        op.control()
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .count(),
        0
    );
    // Fixed: closed with the workflow's highest status, with a comment.
    state(root, "b", r#"{"name": "x", "state_owner": "app"}"#);
    let fixed = snapshot();
    assert_eq!(fixed.code, 0, "{}{}", fixed.stdout, fixed.stderr);
    assert_eq!(op.status_of(wp), "Closed");
    assert!(
        op.comments(wp).iter().any(|c| c.contains("no longer has")),
        "{:?}",
        op.comments(wp)
    );
    // Again: the same work package is reopened.
    state(root, "a", r#"{"name": "x"}"#);
    let again = snapshot();
    assert_eq!(again.code, 1, "{}{}", again.stdout, again.stderr);
    assert_eq!(op.status_of(wp), "New");
    assert_eq!(op.work_packages_in("demo").len(), 2);
    assert_eq!(op.status_of(other), "New");
    assert!(!again.stdout.contains(OP_TOKEN) && !again.stderr.contains(OP_TOKEN));
}

/// The example workflow's command, as the action runs it (split on
/// whitespace, no shell) with what GitHub Actions sets: the token and the
/// repository only from the environment, nothing in the configuration.
#[test]
fn the_example_pull_request_workflow_runs_as_written() {
    let yaml = std::fs::read_to_string(
        common::project_root().join("examples/fittracker2/.github/workflows/pr-integrity.yml"),
    )
    .expect("workflow");
    let command = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("command: "))
        .expect("command input");
    assert!(
        yaml.contains("GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}"),
        "{yaml}"
    );
    assert!(yaml.contains("pull-requests: write") && yaml.contains("statuses: write"));
    let gh = FakeGitHub::start(TOKEN).expect("fake GitHub");
    gh.add_repo(REPO);
    let dir = workspace("\n[checks.pull_request]\nstatus = \"pm-framework/pr-integrity\"\n");
    let root = dir.path();
    // origin/main, as actions/checkout with fetch-depth 0 leaves it.
    let origin = tempfile::tempdir().expect("origin");
    git(origin.path(), &["init", "-q", "--bare"]);
    git(
        root,
        &[
            "remote",
            "add",
            "origin",
            &origin.path().display().to_string(),
        ],
    );
    git(root, &["push", "-q", "origin", "main"]);
    git(root, &["fetch", "-q", "origin"]);
    git(root, &["checkout", "-q", "-b", "topic"]);
    state(root, "b", r#"{"name": "x"}"#);
    git(root, &["commit", "-qam", "drop b's owner"]);
    gh.attach_git(REPO, &root.join(".git"));
    let number = gh.add_pull(REPO, "topic", "main", false);
    let command = command.replace("${{ github.base_ref }}", "main").replace(
        "${{ github.event.pull_request.number }}",
        &number.to_string(),
    );
    assert!(!command.contains("${{"), "{command}");
    let args: Vec<&str> = command.split_whitespace().collect();
    let url = gh.url();
    let env = [
        ("GITHUB_TOKEN", TOKEN),
        ("GITHUB_REPOSITORY", REPO),
        ("GITHUB_API_URL", url.as_str()),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_RUN_ID", "4242"),
    ];
    let out = run_env(root, &env, &args);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let sha = git(root, &["rev-parse", "HEAD"]);
    let statuses = gh.statuses(REPO, sha.trim());
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(statuses[0].context, "pm-framework/pr-integrity");
    assert_eq!(statuses[0].state, "failure");
    assert_eq!(
        statuses[0].target_url.as_deref(),
        Some("https://github.com/Acme/App/actions/runs/4242")
    );
    assert_eq!(marked(&gh, number).len(), 1);
    // The example's own configuration names the framework's status.
    let config =
        std::fs::read_to_string(common::project_root().join("examples/fittracker2/concord.toml"))
            .expect("config");
    assert!(config.contains("[checks.pull_request]\nstatus = \"pm-framework/pr-integrity\""));
}
