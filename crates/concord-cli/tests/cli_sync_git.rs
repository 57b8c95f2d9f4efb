//! `concord sync` end to end: real git repositories (clones of a bare
//! remote in temp folders) and a real hub shared by two "machines".

mod common;
use common::{Output, TASK_WORKFLOW};
use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn configure(repo: &Path) {
    git(repo, &["config", "user.name", "Test"]);
    git(repo, &["config", "user.email", "test@example.com"]);
}

const WORKPLAN: &str =
    "# Workplan\n\n```task\nid: T1\nstatus: todo\n```\n\n```task\nid: T2\nstatus: todo\n```\n";
const NOTES: &str = "```task\nid: N1\nstatus: todo\n```\n";

/// A bare remote holding a workplan; machines clone it. Each machine has
/// its own workspace folder; all share one hub.
struct World {
    dir: tempfile::TempDir,
    hub_url: String,
    rules: String,
}

struct Machine<'w> {
    world: &'w World,
    root: PathBuf,
}

impl World {
    fn new(rules: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let remote = dir.path().join("remote.git");
        git(
            dir.path(),
            &["init", "-q", "--bare", "-b", "main", "remote.git"],
        );
        git(
            dir.path(),
            &["clone", "-q", remote.to_str().expect("path"), "seed"],
        );
        let seed = dir.path().join("seed");
        configure(&seed);
        std::fs::create_dir_all(seed.join("docs")).expect("docs");
        std::fs::write(seed.join("docs/workplan.md"), WORKPLAN).expect("write");
        std::fs::write(seed.join("docs/notes.md"), NOTES).expect("write");
        git(&seed, &["add", "."]);
        git(&seed, &["commit", "-q", "-m", "workplan"]);
        git(&seed, &["push", "-q", "origin", "HEAD:main"]);
        let hub_url = format!("sqlite://{}", dir.path().join("hub.db").display());
        Self {
            dir,
            hub_url,
            rules: rules.to_string(),
        }
    }

    fn machine(&self, name: &str) -> Machine<'_> {
        let root = self.dir.path().join(name);
        std::fs::create_dir_all(&root).expect("machine dir");
        git(
            &root,
            &[
                "clone",
                "-q",
                self.dir.path().join("remote.git").to_str().expect("path"),
                "app",
            ],
        );
        configure(&root.join("app"));
        std::fs::write(
            root.join("concord.toml"),
            format!(
                r#"
[[repo]]
name = "app"
path = "app"
branch = "main"
{TASK_WORKFLOW}
[[source]]
name = "workplans"
repo = "app"
format = "task-blocks"
glob = "docs/*.md"
workflow = "task"
{}
"#,
                self.rules
            ),
        )
        .expect("config");
        Machine { world: self, root }
    }
}

impl Machine<'_> {
    fn app(&self) -> PathBuf {
        self.root.join("app")
    }

    fn concord(&self, args: &[&str]) -> Output {
        let output = assert_cmd::Command::cargo_bin("concord")
            .expect("binary")
            .current_dir(&self.root)
            .env("NO_COLOR", "1")
            .env("CONCORD_HUB_URL", &self.world.hub_url)
            .env("CONCORD_ACTOR", "tester@machine")
            .env_remove("CONCORD_CONFIG")
            .args(args)
            .output()
            .expect("run concord");
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn sync(&self, extra: &[&str]) -> Output {
        let mut args = vec!["sync"];
        args.extend_from_slice(extra);
        let out = self.concord(&args);
        assert!(
            out.code == 0 || out.code == 1,
            "sync failed ({}): {}\n{}",
            out.code,
            out.stdout,
            out.stderr
        );
        out
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.app().join(rel)).expect("read")
    }

    fn commit_file(&self, rel: &str, content: &str, message: &str) {
        std::fs::write(self.app().join(rel), content).expect("write");
        git(&self.app(), &["commit", "-q", "-am", message]);
    }

    fn commits(&self) -> usize {
        git(&self.app(), &["rev-list", "--count", "HEAD"])
            .trim()
            .parse()
            .expect("count")
    }
}

const MERGE: &str =
    "[[sync]]\nname = \"tasks\"\nmode = \"merge\"\nbetween = [\"workplans\", \"hub\"]\n";

#[test]
fn stale_copy_gets_the_hub_value_and_the_commit_touches_only_status_lines() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    let b = world.machine("b");
    // First sync agrees on todo for everything (the base).
    a.sync(&[]);
    // Machine B marks T1 done in the hub.
    assert_eq!(b.concord(&["set", "T1", "done"]).code, 0);
    let before = a.commits();
    let out = a.sync(&[]);
    assert!(
        out.stdout.contains("T1  workplans: todo -> done"),
        "{}",
        out.stdout
    );
    assert_eq!(a.commits(), before + 1, "one commit");
    assert_eq!(
        a.read("docs/workplan.md"),
        WORKPLAN.replacen("status: todo", "status: done", 1)
    );
    let diff = git(&a.app(), &["show", "--format=%s%n%b", "-U0", "HEAD"]);
    assert!(
        diff.starts_with("chore(concord): sync 1 item(s) [auto]"),
        "{diff}"
    );
    assert!(
        diff.contains("- T1: todo -> done (from hub, PROPAGATE)"),
        "{diff}"
    );
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
                && !l.starts_with("- T1")
        })
        .collect();
    assert_eq!(changed, ["-status: todo", "+status: done"], "{diff}");
    // The hub was not regressed, and a second sync does nothing.
    let status = a.concord(&["status", "T1", "--json"]).json();
    assert!(
        status["items"][0]["agree"].as_bool().unwrap_or(false),
        "{status}"
    );
    let again = a.sync(&[]);
    assert_eq!(a.commits(), before + 1, "idempotent: {}", again.stdout);
    assert!(again.stdout.contains("0 applied"), "{}", again.stdout);
}

#[test]
fn both_changed_the_higher_rank_wins() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    a.sync(&[]);
    a.commit_file(
        "docs/workplan.md",
        &WORKPLAN.replacen("status: todo", "status: in_progress", 1),
        "start T1",
    );
    assert_eq!(a.concord(&["set", "T1", "done"]).code, 0);
    let out = a.sync(&[]);
    assert!(
        out.stdout
            .contains("T1  workplans: in_progress -> done  (AHEAD_WINS"),
        "{}",
        out.stdout
    );
    assert!(a.read("docs/workplan.md").contains("id: T1\nstatus: done"));
}

#[test]
fn a_reopen_in_a_file_is_held_unless_allowed() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    assert_eq!(a.concord(&["set", "T1", "done"]).code, 0);
    a.sync(&[]);
    assert!(a.read("docs/workplan.md").contains("id: T1\nstatus: done"));
    a.commit_file("docs/workplan.md", WORKPLAN, "reopen T1");
    let out = a.sync(&[]);
    assert!(out.stdout.contains("REGRESSION_BLOCKED"), "{}", out.stdout);
    assert!(
        a.read("docs/workplan.md").contains("id: T1\nstatus: todo"),
        "nothing overwritten"
    );
    let hub = a.concord(&["status", "T1", "--json"]).json();
    assert_eq!(hub["items"][0]["agree"], false);

    let allow = World::new(
        "[[sync]]\nname = \"tasks\"\nmode = \"merge\"\nbetween = [\"workplans\", \"hub\"]\nreopen = \"allow\"\n",
    );
    let a = allow.machine("a");
    assert_eq!(a.concord(&["set", "T1", "done"]).code, 0);
    a.sync(&[]);
    a.commit_file("docs/workplan.md", WORKPLAN, "reopen T1");
    let out = a.sync(&[]);
    assert!(
        out.stdout.contains("T1  hub: done -> todo  (REOPENED"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_clone_behind_its_remote_is_not_written_until_pulled() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    let b = world.machine("b");
    a.sync(&[]);
    // B pushes a change to notes; A has not pulled.
    b.commit_file(
        "docs/notes.md",
        "```task\nid: N1\nstatus: in_progress\n```\n",
        "start N1",
    );
    git(&b.app(), &["push", "-q", "origin", "HEAD:main"]);
    assert_eq!(b.concord(&["set", "T2", "done"]).code, 0);
    let before = a.read("docs/workplan.md");
    let out = a.sync(&[]);
    assert!(
        out.stdout.contains("repo app not written"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("pull --ff-only"),
        "names the fix: {}",
        out.stdout
    );
    assert!(out.stdout.contains("STALE_REPO"), "{}", out.stdout);
    assert_eq!(a.read("docs/workplan.md"), before);
    let out = a.sync(&["--pull"]);
    assert!(
        out.stdout.contains("T2  workplans: todo -> done"),
        "{}",
        out.stdout
    );
    assert!(a.read("docs/notes.md").contains("in_progress"), "pulled");
}

#[test]
fn a_dirty_file_is_skipped_and_other_files_still_sync() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    a.sync(&[]);
    std::fs::write(
        a.app().join("docs/notes.md"),
        "```task\nid: N1\nstatus: todo\n```\n\nlocal edit\n",
    )
    .expect("write");
    // An unrelated staged change of the user must stay staged and uncommitted.
    std::fs::write(a.app().join("README.md"), "mine\n").expect("write");
    git(&a.app(), &["add", "README.md"]);
    assert_eq!(a.concord(&["set", "N1", "done"]).code, 0);
    assert_eq!(a.concord(&["set", "T1", "done"]).code, 0);
    let out = a.sync(&[]);
    assert!(out.stdout.contains("DIRTY_FILE"), "{}", out.stdout);
    assert!(a.read("docs/notes.md").contains("local edit"), "untouched");
    assert!(a.read("docs/notes.md").contains("status: todo"));
    assert!(a.read("docs/workplan.md").contains("id: T1\nstatus: done"));
    let staged = git(&a.app(), &["diff", "--cached", "--name-only"]);
    assert_eq!(staged.trim(), "README.md");
    let last = git(&a.app(), &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(last.trim(), "docs/workplan.md");
}

#[test]
fn mirror_reverts_an_out_of_band_change_in_the_target() {
    let world = World::new(
        "[[sync]]\nname = \"plan-drives-hub\"\nmode = \"mirror\"\nfrom = \"workplans\"\nto = [\"hub\"]\n",
    );
    let a = world.machine("a");
    a.sync(&[]);
    // Someone moves T1 forward in the hub directly: the plan says todo.
    assert_eq!(a.concord(&["set", "T1", "in_progress"]).code, 0);
    let out = a.sync(&[]);
    assert!(
        out.stdout
            .contains("T1  hub: in_progress -> todo  (REVERTED_OUT_OF_BAND"),
        "{}",
        out.stdout
    );
    let history = a.concord(&["history", "T1", "--json"]).json();
    let last = history
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["reason"], "REVERTED_OUT_OF_BAND");
}

#[test]
fn a_change_two_commits_behind_head_is_picked_up() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    a.sync(&[]);
    a.commit_file(
        "docs/workplan.md",
        &WORKPLAN.replacen("status: todo", "status: done", 1),
        "finish T1",
    );
    std::fs::write(a.app().join("hotfix.txt"), "x\n").expect("write");
    git(&a.app(), &["add", "hotfix.txt"]);
    git(&a.app(), &["commit", "-q", "-m", "hotfix 1"]);
    std::fs::write(a.app().join("hotfix.txt"), "y\n").expect("write");
    git(&a.app(), &["commit", "-q", "-am", "hotfix 2"]);
    let out = a.sync(&[]);
    assert!(
        out.stdout.contains("T1  hub: todo -> done"),
        "{}",
        out.stdout
    );
}

#[test]
fn dry_run_and_no_writeback_write_no_file() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    a.sync(&[]);
    assert_eq!(a.concord(&["set", "T1", "done"]).code, 0);
    let before = a.commits();
    let out = a.concord(&["sync", "--dry-run"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("T1  todo -> done"), "{}", out.stdout);
    let out = a.concord(&["sync", "--no-writeback"]);
    assert!(out.code <= 1, "{}", out.stderr);
    assert_eq!(a.read("docs/workplan.md"), WORKPLAN);
    assert_eq!(a.commits(), before);
}
