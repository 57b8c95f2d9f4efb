//! A workplan file and GitHub issues kept in step both ways (`merge`):
//! `concord` against the fake GitHub over real HTTP, a real git repo and
//! a real SQLite hub.

mod common;
use common::Output;
use common::git;
use concord_fakes::github::FakeGitHub;
use std::process::Command;

const TOKEN: &str = "ghp_testtoken0123456789";

struct World {
    dir: tempfile::TempDir,
    gh: FakeGitHub,
}

fn block(key: &str, status: &str) -> String {
    format!("```task\nid: {key}\nstatus: {status}\n```\n\n")
}

impl World {
    fn new() -> World {
        let gh = FakeGitHub::start(TOKEN).expect("fake GitHub");
        gh.add_repo("acme/app");
        let one = gh.add_issue("acme/app", "Export CSV", "open", &[]);
        let two = gh.add_issue("acme/app", "Invoices", "open", &["status: in progress"]);
        let dir = tempfile::tempdir().expect("temp dir");
        let app = dir.path().join("app");
        std::fs::create_dir_all(app.join("docs")).expect("dirs");
        git(&app, &["init", "-q", "-b", "main"]);
        git(&app, &["config", "user.name", "Test"]);
        git(&app, &["config", "user.email", "test@example.com"]);
        std::fs::write(
            app.join("docs/workplan.md"),
            format!(
                "# Workplan\n\n{}{}",
                block(&format!("acme/app#{one}"), "todo"),
                block(&format!("acme/app#{two}"), "in_progress")
            ),
        )
        .expect("workplan");
        git(&app, &["add", "."]);
        git(&app, &["commit", "-q", "-m", "workplan"]);
        std::fs::write(
            dir.path().join("concord.toml"),
            format!(
                r#"
[[repo]]
name = "app"
path = "app"
{}
[[source]]
name = "workplans"
repo = "app"
format = "task-blocks"
glob = "docs/*.md"
workflow = "task"

[[tracker]]
name = "issues"
kind = "github"
url = "{}"
token_env = "TEST_GH_TOKEN"
repos = ["acme/app"]
workflow = "task"
open = "todo"
closed = "done"
not_planned = "cancelled"
labels = {{ "status: in progress" = "in_progress", "status: blocked" = "blocked" }}

[[sync]]
name = "tasks-and-issues"
mode = "merge"
between = ["workplans", "issues"]
"#,
                common::TASK_WORKFLOW,
                gh.url()
            ),
        )
        .expect("config");
        World { dir, gh }
    }

    fn app(&self) -> std::path::PathBuf {
        self.dir.path().join("app")
    }

    fn concord(&self, args: &[&str]) -> Output {
        let output = Command::new(assert_cmd::cargo::cargo_bin("concord"))
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("CONCORD_ACTOR", "tester@ci")
            .env("TEST_GH_TOKEN", TOKEN)
            .env_remove("CONCORD_CONFIG")
            .env_remove("CONCORD_HUB_URL")
            .args(args)
            .output()
            .expect("run concord");
        let out = Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        assert!(!out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN));
        out
    }

    fn workplan(&self) -> String {
        std::fs::read_to_string(self.app().join("docs/workplan.md")).expect("read")
    }
}

#[test]
fn a_closed_issue_marks_the_task_done_and_a_done_task_closes_its_issue() {
    let world = World::new();
    let first = world.concord(&["sync"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("0 applied"),
        "agree: {}",
        first.stdout
    );

    // Someone closes issue 1 on GitHub.
    world.gh.edit_externally("acme/app", 1, "closed");
    let out = world.concord(&["sync"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("acme/app#1  workplans: todo -> done"),
        "{}",
        out.stdout
    );
    assert!(world.workplan().contains("id: acme/app#1\nstatus: done"));
    let log = git(&world.app(), &["log", "-1", "--format=%s%n%b"]);
    assert!(
        log.contains("- acme/app#1: todo -> done (from issues"),
        "{log}"
    );

    // A task marked done in the file closes its issue (labels tidied).
    let text = world.workplan().replace(
        "id: acme/app#2\nstatus: in_progress",
        "id: acme/app#2\nstatus: done",
    );
    std::fs::write(world.app().join("docs/workplan.md"), text).expect("write");
    git(&world.app(), &["commit", "-q", "-am", "finish invoices"]);
    let out = world.concord(&["sync"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let (state, reason, labels) = world.gh.issue("acme/app", 2).expect("issue 2");
    assert_eq!(
        (state.as_str(), reason.as_deref()),
        ("closed", Some("completed"))
    );
    assert!(labels.is_empty(), "{labels:?}");

    // Nothing left: the next run writes nothing (it reads the page our
    // write changed), and after that unchanged pages are free 304s.
    let again = world.concord(&["sync"]);
    assert!(again.stdout.contains("0 applied"), "{}", again.stdout);
    let before = world.gh.rate_limit().used;
    let again = world.concord(&["sync"]);
    assert!(again.stdout.contains("0 applied"), "{}", again.stdout);
    assert!(
        world
            .gh
            .control()
            .requests()
            .iter()
            .rev()
            .take(1)
            .all(|r| r.status == 304),
        "{:?}",
        world.gh.control().requests()
    );
    assert_eq!(world.gh.rate_limit().used, before, "304s are free");
}

#[test]
fn a_label_moves_the_task_and_a_blocked_task_labels_its_issue() {
    let world = World::new();
    world.concord(&["sync"]);
    // In the file, issue 1's task becomes blocked: the issue gets the label.
    let text = world.workplan().replace(
        "id: acme/app#1\nstatus: todo",
        "id: acme/app#1\nstatus: blocked",
    );
    std::fs::write(world.app().join("docs/workplan.md"), text).expect("write");
    git(&world.app(), &["commit", "-q", "-am", "blocked"]);
    let out = world.concord(&["sync"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let (state, _, labels) = world.gh.issue("acme/app", 1).expect("issue 1");
    assert_eq!(state, "open");
    assert_eq!(labels, vec!["status: blocked".to_string()]);
}

/// Issue 18 for GitHub: a refused token leaves every issue's item unknown
/// in `diff` and `status` (never "in sync"), exit 3, and nothing is
/// written to the plan either.
#[test]
fn a_refused_github_token_leaves_the_items_unknown_with_exit_3() {
    let world = World::new();
    assert_eq!(world.concord(&["sync"]).code, 0, "first sync agrees");
    let before = world.workplan();
    let refused = || {
        world.gh.control().inject(
            concord_fakes::Fault::status(401, "/repos/acme/app/issues", 10)
                .body("application/json", r#"{"message":"Bad credentials"}"#),
        );
    };
    refused();
    let diff = world.concord(&["diff", "--json"]);
    assert_eq!(diff.code, 3, "{}{}", diff.stdout, diff.stderr);
    let report: serde_json::Value = serde_json::from_str(&diff.stdout).expect("json");
    assert_eq!(report["decisions"]["SOURCE_UNREAD"], 2, "{report:#}");
    assert!(report["decisions"].get("IN_SYNC").is_none(), "{report:#}");
    assert!(diff.stderr.contains("issues not read"), "{}", diff.stderr);
    refused();
    let status = world.concord(&["status"]);
    assert_eq!(status.code, 3, "{}{}", status.stdout, status.stderr);
    assert!(
        status.stdout.contains("issues: ? (not read)"),
        "{}",
        status.stdout
    );
    refused();
    let sync = world.concord(&["sync"]);
    assert_eq!(sync.code, 3, "{}{}", sync.stdout, sync.stderr);
    assert_eq!(world.workplan(), before, "nothing written");
}
