//! `concord sync` end to end: real git repositories (clones of a bare
//! remote in temp folders) and a real hub shared by two "machines".

mod common;
use common::git;
use common::{Output, TASK_WORKFLOW};
use std::path::{Path, PathBuf};
use std::process::Command;

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
    // The sync looked at the repo again once its commit and records were
    // done, so the next run finds the repo's state remembered, with no git
    // process (docs/architecture.md).
    if concord_git::status_memory_off().is_none() {
        let repo = concord_git::Repo::open(&a.app()).expect("a git work tree");
        let (_, from) = repo.snapshot_remembered().expect("git status");
        assert_eq!(from, concord_git::StatusFrom::Remembered);
    }
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
    // The base records what each source was at when they agreed.
    let export = a.concord(&["hub", "export"]).stdout;
    let base = export
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|row| row["table"] == "bases" && row["row"]["key"] == "T1")
        .expect("a base for T1");
    let versions: serde_json::Value =
        serde_json::from_str(base["row"]["versions"].as_str().unwrap_or("{}")).expect("json");
    assert_eq!(versions["hub"], 2, "{versions}");
    // `replica commit`: the checkout and the commit it holds the value at.
    let position = versions["workplans"].as_str().unwrap_or_default();
    let (replica, commit) = position.split_once(' ').unwrap_or_default();
    assert!(replica.starts_with('r'), "{versions}");
    assert_eq!(
        commit,
        git(&a.app(), &["rev-parse", "HEAD"]).trim(),
        "{versions}"
    );
    // The hub was not regressed, and a second sync does nothing.
    let status = a.concord(&["status", "T1", "--json"]).json();
    assert!(
        status["items"][0]["agree"].as_bool().unwrap_or(false),
        "{status}"
    );
    let again = a.sync(&[]);
    assert_eq!(a.commits(), before + 1, "idempotent: {}", again.stdout);
    assert!(
        again
            .stdout
            .contains("nothing changed since the last sync converged"),
        "{}",
        again.stdout
    );
    // --full looks anyway, and still finds nothing to do.
    let full = a.sync(&["--full"]);
    assert!(full.stdout.contains("0 applied"), "{}", full.stdout);
    // A change in the working tree is looked at.
    std::fs::write(a.app().join("docs/notes.md"), NOTES.replace("todo", "done")).expect("write");
    let looked = a.sync(&[]);
    assert!(
        !looked.stdout.contains("nothing changed"),
        "{}",
        looked.stdout
    );
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
    assert!(
        out.stdout.contains("REGRESSION_BLOCKED"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let explain = a.concord(&["explain", "T1"]);
    assert!(
        explain.stdout.contains("base: done (agreed"),
        "{}",
        explain.stdout
    );
    assert!(
        explain
            .stdout
            .contains("held: workplans REGRESSION_BLOCKED"),
        "{}",
        explain.stdout
    );
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
    let last = history["entries"]
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
    // With --json, the plan as `diff --json` prints it.
    let out = a.concord(&["sync", "--dry-run", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let plan = out.json();
    assert_eq!(plan["changes"][0]["key"], "T1", "{plan}");
    assert_eq!(plan["changes"][0]["to"], "done", "{plan}");
    let diff = a.concord(&["diff", "--json"]);
    assert_eq!(diff.json()["changes"], plan["changes"]);
    let out = a.concord(&["sync", "--no-writeback"]);
    assert!(out.code <= 1, "{}", out.stderr);
    assert_eq!(a.read("docs/workplan.md"), WORKPLAN);
    assert_eq!(a.commits(), before);
}

#[test]
fn a_status_without_a_native_word_stops_before_anything_is_written() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    a.sync(&[]);
    let config = std::fs::read_to_string(a.root.join("concord.toml")).expect("config");
    let config = config.replace(
        "glob = \"docs/*.md\"\nworkflow = \"task\"",
        "glob = \"docs/*.md\"\nworkflow = \"task\"\nwrite_names = { todo = \"todo\", in_progress = \"In progress\" }",
    );
    std::fs::write(a.root.join("concord.toml"), config).expect("config");
    assert_eq!(a.concord(&["set", "T1", "done"]).code, 0);
    assert_eq!(a.concord(&["set", "T2", "in_progress"]).code, 0);
    let out = a.concord(&["sync"]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("has no word for `done`"),
        "{}",
        out.stderr
    );
    assert_eq!(
        a.read("docs/workplan.md"),
        WORKPLAN,
        "T2 was not written either"
    );
}

/// Two repos each hold per-feature state files naming their owner.
#[test]
fn owned_documents_follow_their_owner() {
    let dir = tempfile::tempdir().expect("temp");
    for repo in ["ft2", "story"] {
        let path = dir.path().join(repo);
        std::fs::create_dir_all(&path).expect("dir");
        git(&path, &["init", "-q", "-b", "main"]);
        configure(&path);
        for (feature, owner, status) in [
            (
                "onboarding",
                "ft2",
                if repo == "ft2" { "done" } else { "in_progress" },
            ),
            (
                "stories",
                "story",
                if repo == "ft2" { "todo" } else { "in_progress" },
            ),
            ("orphan", "", "todo"),
            ("stranger", "nobody", "todo"),
        ] {
            let owner_field = if owner.is_empty() {
                String::new()
            } else {
                format!("\"state_owner\": \"{owner}\",\n  ")
            };
            let file = path.join(format!("features/{feature}/state.json"));
            std::fs::create_dir_all(file.parent().expect("parent")).expect("dir");
            std::fs::write(
                &file,
                format!("{{\n  {owner_field}\"status\": \"{status}\"\n}}\n"),
            )
            .expect("write");
        }
        git(&path, &["add", "."]);
        git(&path, &["commit", "-q", "-m", "features"]);
    }
    std::fs::write(
        dir.path().join("concord.toml"),
        format!(
            r#"
[[repo]]
name = "ft2"
path = "ft2"
[[repo]]
name = "story"
path = "story"
{TASK_WORKFLOW}
[[source]]
name = "ft2-features"
repo = "ft2"
format = "json"
glob = "features/*/state.json"
key = "{{dir}}"
status = "/status"
owner = "/state_owner"
workflow = "task"
[[source]]
name = "story-features"
repo = "story"
format = "json"
glob = "features/*/state.json"
key = "{{dir}}"
status = "/status"
owner = "/state_owner"
workflow = "task"
[[sync]]
name = "features"
mode = "owned"
between = ["ft2-features", "story-features"]
owners = {{ ft2 = "ft2-features", story = "story-features" }}
"#
        ),
    )
    .expect("config");
    let out = common::run_in(dir.path(), &["sync"]);
    assert_eq!(
        out.code, 1,
        "held and undecided items remain: {}\n{}",
        out.stdout, out.stderr
    );
    let read = |repo: &str, feature: &str| {
        std::fs::read_to_string(
            dir.path()
                .join(format!("{repo}/features/{feature}/state.json")),
        )
        .expect("read")
    };
    assert!(
        read("story", "onboarding").contains("\"status\": \"done\""),
        "ft2 owns onboarding"
    );
    assert!(
        read("ft2", "stories").contains("\"status\": \"in_progress\""),
        "story owns stories"
    );
    assert!(
        out.stdout.contains("orphan: OWNER_MISSING"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("stranger: OWNER_UNKNOWN"),
        "{}",
        out.stdout
    );
    assert!(read("ft2", "orphan").contains("todo") && read("story", "stranger").contains("todo"));
    assert_eq!(
        git(&dir.path().join("story"), &["rev-list", "--count", "HEAD"]).trim(),
        "2"
    );
}

/// Kill `concord sync` at 50 different points; afterwards no file is torn,
/// and one more sync ends exactly where an uninterrupted run ends.
#[cfg(unix)]
#[test]
fn a_killed_sync_never_tears_a_file_and_the_next_sync_converges() {
    const TRIALS: u32 = 50;
    // A prepared world: base agreed, then three hub changes to write back.
    let template = World::new(MERGE);
    {
        let a = template.machine("a");
        a.sync(&[]);
        for (key, status) in [("T1", "done"), ("T2", "in_progress"), ("N1", "done")] {
            assert_eq!(a.concord(&["set", key, status]).code, 0);
        }
    }
    let copy = |n: u32| -> (tempfile::TempDir, PathBuf, String) {
        let dir = tempfile::tempdir().expect("temp");
        let status = Command::new("cp")
            .args([
                "-a",
                &format!("{}/.", template.dir.path().display()),
                &dir.path().display().to_string(),
            ])
            .status()
            .expect("cp");
        assert!(status.success(), "copy {n}");
        let hub = format!("sqlite://{}", dir.path().join("hub.db").display());
        let root = dir.path().join("a");
        (dir, root, hub)
    };
    let run = |root: &Path, hub: &str, args: &[&str]| {
        assert_cmd::Command::cargo_bin("concord")
            .expect("binary")
            .current_dir(root)
            .env("NO_COLOR", "1")
            .env("CONCORD_HUB_URL", hub)
            .args(args)
            .output()
            .expect("run")
    };
    let files = ["docs/workplan.md", "docs/notes.md"];
    let snapshot = |root: &Path, hub: &str| {
        let contents: Vec<String> = files
            .iter()
            .map(|f| std::fs::read_to_string(root.join("app").join(f)).expect("read"))
            .collect();
        let status = run(root, hub, &["status", "--json", "--no-hub"]);
        let hub_values = run(root, hub, &["hub", "export"]);
        let hub_lines: Vec<String> = String::from_utf8_lossy(&hub_values.stdout)
            .lines()
            .filter(|l| l.contains("\"table\":\"hub_values\""))
            .map(|l| l.split("\"updated_at\"").next().unwrap_or("").to_string())
            .collect();
        let clean = git(&root.join("app"), &["status", "--porcelain"]);
        (contents, hub_lines, clean, status.status.code())
    };

    // The reference: an uninterrupted run, and how long it takes at best
    // (the fastest of three: one slowed by a busy machine would put most
    // kills after the end of the run).
    let (_ref_dir, ref_root, ref_hub) = copy(0);
    let mut duration = std::time::Duration::MAX;
    for n in 0..3 {
        let (_dir, root, hub) = copy(100 + n);
        let started = std::time::Instant::now();
        let out = run(&root, &hub, &["sync"]);
        duration = duration.min(started.elapsed());
        assert!(
            out.status.code() == Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let out = run(&ref_root, &ref_hub, &["sync"]);
    assert!(
        out.status.code() == Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let expected = snapshot(&ref_root, &ref_hub);
    let originals: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(template.dir.path().join("a/app").join(f)).expect("read"))
        .collect();

    let mut interrupted = 0;
    for trial in 1..=TRIALS {
        let (_dir, root, hub) = copy(trial);
        let delay = duration.mul_f64(f64::from(trial) / f64::from(TRIALS));
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("concord"))
            .current_dir(&root)
            .env("NO_COLOR", "1")
            .env("CONCORD_HUB_URL", &hub)
            .arg("sync")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(delay);
        if child.try_wait().ok().flatten().is_none() {
            interrupted += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        // No torn file: each is either as it was or as the run leaves it.
        for (i, file) in files.iter().enumerate() {
            let now = std::fs::read_to_string(root.join("app").join(file)).expect("read");
            assert!(
                now == originals[i] || now == expected.0[i],
                "trial {trial}: {file} is torn:\n{now}"
            );
        }
        // One more sync converges (after removing a lock git left behind, as
        // concord's message says, if the kill landed inside `git commit`).
        let mut out = run(&root, &hub, &["sync"]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if stdout.contains("index.lock") {
            let _ = std::fs::remove_file(root.join("app/.git/index.lock"));
            out = run(&root, &hub, &["sync"]);
        }
        assert!(
            out.status.code() == Some(0),
            "trial {trial}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let got = snapshot(&root, &hub);
        assert_eq!(got, expected, "trial {trial} (killed after {delay:?})");
    }
    println!(
        "{interrupted} of {TRIALS} runs were killed mid-way (uninterrupted run: {duration:?})"
    );
    assert!(
        interrupted >= TRIALS / 4,
        "the kills must land inside the run"
    );
}

#[test]
fn the_commit_subject_is_configurable_and_blocked_repos_say_why() {
    let world = World::new(&format!(
        "{MERGE}\n[commit]\nsubject = \"sync: {{count}} from concord\"\n"
    ));
    let a = world.machine("a");
    a.sync(&[]);
    assert_eq!(a.concord(&["set", "T1", "done"]).code, 0);
    a.sync(&[]);
    let subject = git(&a.app(), &["log", "-1", "--format=%s"]);
    assert_eq!(subject.trim(), "sync: 1 from concord");

    // A repo in the middle of a merge is not written, and the output says why.
    assert_eq!(a.concord(&["set", "T2", "done"]).code, 0);
    std::fs::write(
        a.app().join(".git/MERGE_HEAD"),
        git(&a.app(), &["rev-parse", "HEAD"]),
    )
    .expect("merge head");
    let out = a.sync(&[]);
    assert!(
        out.stdout.contains("repo app not written"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("merge"), "{}", out.stdout);
    assert!(a.read("docs/workplan.md").contains("id: T2\nstatus: todo"));
}

#[test]
fn reads_are_incremental_from_the_watermark_and_full_when_history_is_rewritten() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    let first = a.concord(&["sync", "--json"]).json();
    assert_eq!(first["reads"]["workplans"], "full", "no watermark yet");
    // A committed change to one file: only that file is read.
    a.commit_file(
        "docs/notes.md",
        &NOTES.replace("todo", "in_progress"),
        "start N1",
    );
    let second = a.concord(&["sync", "--json"]).json();
    assert_eq!(
        second["reads"]["workplans"], "1 file changed since the watermark",
        "{second}"
    );
    assert_eq!(second["applied"][0]["key"], "N1");
    assert_eq!(second["applied"][0]["target"], "hub");
    // What the hub remembers for unread files still counts: T1 and T2 are known.
    let status = a.concord(&["status", "T2", "--json", "--no-hub"]).json();
    assert_eq!(status["items"][0]["sources"][0]["status"], "todo");
    // The incremental result equals a full read.
    let full = a.concord(&["sync", "--full", "--json"]).json();
    assert_eq!(full["reads"]["workplans"], "full");
    assert_eq!(full["applied"].as_array().map(Vec::len), Some(0), "{full}");
    // Rewritten history: the watermark is no ancestor of HEAD any more.
    a.commit_file(
        "docs/notes.md",
        &NOTES.replace("todo", "blocked"),
        "block N1",
    );
    assert_eq!(a.concord(&["sync"]).code, 0);
    git(&a.app(), &["reset", "-q", "--hard", "HEAD~1"]);
    a.commit_file(
        "docs/workplan.md",
        &WORKPLAN.replacen("status: todo", "status: in_progress", 1),
        "start T1",
    );
    let after = a.concord(&["sync", "--json"]).json();
    assert_eq!(after["reads"]["workplans"], "full", "{after}");
}

impl World {
    /// The whole world (remote, hub, machines) copied to a new temp dir;
    /// the copies' clones still fetch from the original remote.
    fn copy(&self) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", self.dir.path().display()))
            .arg(dir.path())
            .status()
            .expect("cp");
        assert!(status.success());
        World {
            hub_url: format!("sqlite://{}", dir.path().join("hub.db").display()),
            dir,
            rules: self.rules.clone(),
        }
    }

    /// The copy of machine `name` stands for the same checkout (as if it
    /// had been moved, not copied): its replica file names its new place.
    fn same_replica_as(&self, original: &World, name: &str) {
        let file = self.dir.path().join(name).join("app/.git/concord-replica");
        let Ok(text) = std::fs::read_to_string(&file) else {
            return;
        };
        let from = std::fs::canonicalize(original.dir.path().join(name).join("app")).expect("path");
        let to = std::fs::canonicalize(self.dir.path().join(name).join("app")).expect("path");
        let text = text.replace(
            &format!("path {}", from.display()),
            &format!("path {}", to.display()),
        );
        std::fs::write(&file, text).expect("write replica file");
    }

    fn existing_machine(&self, name: &str) -> Machine<'_> {
        Machine {
            world: self,
            root: self.dir.path().join(name),
        }
    }
}

/// A sync report without what differs between two equal runs (ids, times),
/// order-independent.
fn decisions_of(report: &serde_json::Value) -> Vec<String> {
    let mut lines = Vec::new();
    for a in report["applied"].as_array().into_iter().flatten() {
        lines.push(format!(
            "applied {} {} {} -> {} {}",
            a["key"], a["target"], a["from"], a["to"], a["reason"]
        ));
    }
    for (kind, field) in [
        ("held", "held"),
        ("undecided", "undecided"),
        ("not applied", "not_applied"),
        ("blocked", "repos_blocked"),
    ] {
        for entry in report[field].as_array().into_iter().flatten() {
            lines.push(format!("{kind} {entry}"));
        }
    }
    lines.push(format!(
        "commits {}",
        report["commits"].as_array().map_or(0, Vec::len)
    ));
    lines.sort();
    lines
}

/// Rewrites the status line of `key`'s block in `text`.
fn with_status(text: &str, key: &str, status: &str) -> String {
    let marker = format!("id: {key}\nstatus: ");
    let Some(start) = text.find(&marker).map(|i| i + marker.len()) else {
        return text.to_string();
    };
    let end = start + text[start..].find('\n').expect("line end");
    format!("{}{status}{}", &text[..start], &text[end..])
}

/// Removes `key`'s block from `text`.
fn without_item(text: &str, key: &str) -> String {
    let marker = format!("```task\nid: {key}\n");
    let Some(start) = text.find(&marker) else {
        return text.to_string();
    };
    let end = start + marker.len() + text[start + marker.len()..].find("```\n").expect("fence") + 4;
    format!("{}{}", &text[..start], &text[end..])
}

#[test]
fn a_sync_planning_only_changed_items_decides_like_a_full_one() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    a.sync(&[]);
    // A fixed pseudo-random walk: hub changes, committed file edits, items
    // added and removed. After each round, the focused sync must decide
    // exactly what a full sync of an identical copy decides.
    let mut state: u64 = 0x5eed_cafe;
    let mut next = |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let statuses = ["todo", "in_progress", "done", "blocked"];
    let mut items: Vec<String> = vec!["T1".into(), "T2".into(), "N1".into()];
    let (mut focused_rounds, mut changes) = (0, 0);
    let mut done = [0; 4];
    // Scripted first: a hub value written into the file, then lowered in
    // the hub (the file's record must show what sync wrote).
    let script: [(&str, &str, u64); 2] = [("T1", "done", 0), ("T1", "in_progress", 0)];
    for round in 0..18 {
        let actions = if round < script.len() { 1 } else { 1 + next(3) };
        for _ in 0..actions {
            let (key, status, action) = match script.get(round) {
                Some((key, status, action)) => ((*key).to_string(), *status, *action),
                None => (
                    items[next(items.len() as u64) as usize].clone(),
                    statuses[next(statuses.len() as u64) as usize],
                    next(6),
                ),
            };
            match action {
                0 | 1 => {
                    let out = a.concord(&["set", &key, status, "--force"]);
                    // A removed item has no workflow to check the status against.
                    assert!(
                        out.code <= 1 || out.stderr.contains("no source holds"),
                        "{}{}",
                        out.stdout,
                        out.stderr
                    );
                    done[0] += 1;
                }
                2 | 3 => {
                    for file in ["docs/workplan.md", "docs/notes.md"] {
                        let text = a.read(file);
                        let edited = with_status(&text, &key, status);
                        if edited != text {
                            a.commit_file(file, &edited, "edit");
                            done[1] += 1;
                        }
                    }
                }
                4 => {
                    let new_key = format!("N{}", 10 + round);
                    if !items.contains(&new_key) {
                        let text = a.read("docs/notes.md");
                        let block = format!("```task\nid: {new_key}\nstatus: {status}\n```\n");
                        a.commit_file("docs/notes.md", &format!("{text}{block}"), "add");
                        items.push(new_key);
                        done[2] += 1;
                    }
                }
                _ => {
                    let text = a.read("docs/notes.md");
                    let edited = without_item(&text, &key);
                    if edited != text {
                        a.commit_file("docs/notes.md", &edited, "remove");
                        done[3] += 1;
                    }
                }
            }
        }
        let copy = world.copy();
        copy.same_replica_as(&world, "a");
        let focused = a.sync(&["--json"]).json();
        let full = copy
            .existing_machine("a")
            .sync(&["--full", "--json"])
            .json();
        assert_eq!(full["planned"], "all");
        if focused["planned"]
            .as_str()
            .is_some_and(|p| p.starts_with("changed since"))
        {
            focused_rounds += 1;
        }
        changes += focused["applied"].as_array().map_or(0, Vec::len);
        assert_eq!(
            decisions_of(&focused),
            decisions_of(&full),
            "round {round}:\n{focused:#}\n{full:#}"
        );
    }
    assert!(done.iter().all(|&n| n >= 2), "walk too narrow: {done:?}");
    assert!(focused_rounds >= 6, "only {focused_rounds} focused rounds");
    assert!(changes >= 6, "only {changes} changes applied");
}

#[test]
fn a_repo_mid_merge_with_a_locked_index_or_a_detached_head_is_skipped_with_the_fix() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    a.sync(&[]);
    assert_eq!(a.concord(&["set", "T1", "done"]).code, 0);
    let app = a.app();
    let untouched = |out: &Output, why: &str| {
        assert!(out.stdout.contains(why), "{why}:\n{}", out.stdout);
        assert_eq!(out.code, 1, "{}", out.stdout);
        assert!(
            a.read("docs/workplan.md").contains("id: T1\nstatus: todo"),
            "{why}: nothing written"
        );
    };

    // A merge stopped on a conflict.
    git(&app, &["switch", "-q", "-c", "other"]);
    a.commit_file("docs/notes.md", &NOTES.replace("todo", "blocked"), "other");
    git(&app, &["switch", "-q", "main"]);
    a.commit_file(
        "docs/notes.md",
        &NOTES.replace("todo", "in_progress"),
        "main",
    );
    let merge = Command::new("git")
        .current_dir(&app)
        .args(["merge", "-q", "other"])
        .output()
        .expect("git merge");
    assert!(!merge.status.success(), "the merge conflicts");
    let out = a.sync(&[]);
    untouched(&out, "a merge is in progress");
    assert!(out.stdout.contains("merge --abort"), "{}", out.stdout);
    // Each item says why in its own words, not "behind its upstream".
    assert!(
        out.stdout.contains("held T1 workplans: REPO_BUSY"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("STALE_REPO"), "{}", out.stdout);
    git(&app, &["merge", "--abort"]);

    // Another git command holds the index.
    let lock = app.join(".git/index.lock");
    std::fs::write(&lock, "").expect("lock");
    let out = a.sync(&[]);
    untouched(&out, "the git index of");
    assert!(
        out.stdout.contains("held T1 workplans: INDEX_LOCKED"),
        "{}",
        out.stdout
    );
    std::fs::remove_file(&lock).expect("unlock");

    // A detached HEAD: a commit would belong to no branch.
    git(&app, &["switch", "-q", "--detach"]);
    let out = a.sync(&[]);
    untouched(&out, "HEAD is detached");
    assert!(
        out.stdout.contains("held T1 workplans: DETACHED_HEAD"),
        "{}",
        out.stdout
    );
    // diff sees the same and exits alike.
    let diff = a.concord(&["diff"]);
    assert_eq!(diff.code, 1, "{}", diff.stdout);
    assert!(diff.stdout.contains("DETACHED_HEAD"), "{}", diff.stdout);
    assert!(diff.stdout.contains("HEAD is detached"), "{}", diff.stdout);
    git(&app, &["switch", "-q", "main"]);

    // Fixed: the value lands.
    let out = a.sync(&[]);
    assert!(
        out.stdout.contains("T1  workplans: todo -> done"),
        "{}",
        out.stdout
    );
}

#[test]
fn files_changed_between_read_and_write_are_read_and_planned_again() {
    use std::io::{Read, Write};
    let world = World::new(MERGE);
    let a = world.machine("a");
    a.sync(&[]);
    assert_eq!(a.concord(&["set", "T1", "done"]).code, 0);
    assert_eq!(a.concord(&["set", "N1", "done"]).code, 0);

    let mut child = Command::new(assert_cmd::cargo::cargo_bin("concord"))
        .current_dir(&a.root)
        .env("NO_COLOR", "1")
        .env("CONCORD_HUB_URL", &world.hub_url)
        .env("CONCORD_ACTOR", "tester@machine")
        .env_remove("CONCORD_CONFIG")
        .args(["sync", "--confirm"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let prompt = "apply these changes? [y/N] ";
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(prompt) {
        let n = stdout.read(&mut buf).expect("read");
        assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    let first_plan = String::from_utf8_lossy(&seen).into_owned();
    assert!(first_plan.contains("T1"), "{first_plan}");

    // Meanwhile, a teammate starts T1 and drops the notes file.
    a.commit_file(
        "docs/workplan.md",
        &WORKPLAN.replacen("status: todo", "status: in_progress", 1),
        "start T1",
    );
    git(&a.app(), &["rm", "-q", "docs/notes.md"]);
    git(&a.app(), &["commit", "-q", "-m", "drop notes"]);

    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"y\ny\n").expect("answer");
    drop(stdin);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("read");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{first_plan}{rest}");
    assert!(
        rest.contains("files changed while syncing: read and planned again"),
        "{rest}"
    );
    // Re-read: the teammate's in_progress is what done replaces, never
    // their bytes overwritten blindly; the dropped file is not re-created.
    assert!(
        rest.contains("T1  workplans: in_progress -> done"),
        "{rest}"
    );
    assert!(rest.contains("(1 time)"), "{rest}");
    assert!(
        a.read("docs/workplan.md").contains("id: T1\nstatus: done"),
        "{rest}"
    );
    assert!(!a.app().join("docs/notes.md").exists());
    let log = git(&a.app(), &["log", "--format=%s"]);
    assert!(
        log.contains("start T1") && log.contains("drop notes"),
        "{log}"
    );
    // Converged.
    let again = a.sync(&[]);
    assert!(again.stdout.contains("nothing"), "{}", again.stdout);
}

#[test]
fn the_summary_shows_counts_drift_findings_the_last_sync_and_events() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    a.sync(&[]);
    // The hub moves on; the file has not been synced yet: one item drifts.
    assert_eq!(a.concord(&["set", "T1", "done"]).code, 0);
    let snapshot = a.concord(&["check", "--snapshot"]);
    assert!(snapshot.code <= 1, "{}{}", snapshot.stdout, snapshot.stderr);
    let summary = a.concord(&["summary", "--json"]).json();
    assert_eq!(summary["sources"][0]["source"], "workplans");
    assert_eq!(summary["sources"][0]["by_status"]["todo"], 3);
    assert_eq!(summary["items"], 3);
    assert_eq!(summary["drifting"], 1);
    assert_eq!(
        summary["findings"]["by_severity"]["warning"], 1,
        "{summary:#}"
    );
    let commit = summary["last_sync"]["commits"]["app"]
        .as_str()
        .expect("commit");
    assert_eq!(commit, git(&a.app(), &["rev-parse", "HEAD"]).trim());
    assert!(
        summary["events"][0]["what"]
            .as_str()
            .is_some_and(|w| w.contains("todo -> done (SET_BY_USER)")),
        "{summary:#}"
    );
    let text = a.concord(&["summary"]);
    assert!(
        text.stdout.contains("1 drifting between sources"),
        "{}",
        text.stdout
    );
}

// ---------------------------------------------------------------- replicas

/// The hub's journal entries of `key` as (target, from, to, reason).
fn journal_of(m: &Machine<'_>, key: &str) -> Vec<(String, String, String, String)> {
    let history = m.concord(&["history", key, "--json"]).json();
    history["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let text = |f: &str| e[f].as_str().unwrap_or("").to_string();
            (text("target"), text("from"), text("to"), text("reason"))
        })
        .collect()
}

#[test]
fn a_clone_behind_its_upstream_is_stale_in_diff_too_and_diff_exits_like_sync() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    let b = world.machine("b");
    a.sync(&[]);
    b.sync(&[]);
    b.commit_file(
        "docs/workplan.md",
        &WORKPLAN.replacen("status: todo", "status: done", 1),
        "T1 done",
    );
    git(&b.app(), &["push", "-q", "origin", "HEAD:main"]);
    b.sync(&[]);
    // A is behind: its todo is not a reopen, and nothing is planned into it.
    let diff = a.concord(&["diff"]);
    assert!(!diff.stdout.contains("REOPENED"), "{}", diff.stdout);
    assert!(
        !diff.stdout.contains("REGRESSION_BLOCKED"),
        "{}",
        diff.stdout
    );
    assert!(diff.stdout.contains("STALE_REPO"), "{}", diff.stdout);
    assert!(diff.stdout.contains("pull --ff-only"), "{}", diff.stdout);
    let sync = a.sync(&[]);
    assert_eq!(diff.code, sync.code, "{}\n{}", diff.stdout, sync.stdout);
    assert!(
        sync.stdout.contains("held T1 workplans: STALE_REPO"),
        "{}",
        sync.stdout
    );
    // --no-fetch judges against the last fetch (which already saw it).
    let offline = a.concord(&["diff", "--no-fetch", "--json"]).json();
    assert_eq!(offline["held"][0]["reason"], "STALE_REPO", "{offline}");
    // status says the repo is stale and names this checkout.
    let status = a.concord(&["status", "--json"]).json();
    assert_eq!(status["repos"][0]["blocked"], "STALE_REPO", "{status}");
    let other = b.concord(&["status", "--json"]).json();
    assert_ne!(
        status["repos"][0]["replica"], other["repos"][0]["replica"],
        "each clone is its own replica"
    );
    // --pull says what it fast-forwarded, and then all agree.
    let pulled = a.sync(&["--pull"]);
    assert!(
        pulled.stdout.contains("pulled app: fast-forwarded"),
        "{}",
        pulled.stdout
    );
    assert_eq!(
        journal_of(&a, "T1")
            .iter()
            .filter(|e| e.3 == "REOPENED")
            .count(),
        0
    );
    assert_eq!(a.sync(&[]).code, 0);
}

#[test]
fn a_forced_reopen_is_written_to_every_clone_under_block_and_then_all_is_quiet() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    let b = world.machine("b");
    assert_eq!(a.concord(&["set", "T1", "done"]).code, 0);
    a.sync(&[]);
    b.sync(&[]);
    assert!(b.read("docs/workplan.md").contains("id: T1\nstatus: done"));
    // A person reopens it on purpose.
    let refused = a.concord(&["set", "T1", "todo"]);
    assert_eq!(refused.code, 2, "a reopen needs --force");
    assert_eq!(a.concord(&["set", "T1", "todo", "--force"]).code, 0);
    for m in [&a, &b] {
        let out = m.sync(&[]);
        assert_eq!(out.code, 0, "{}", out.stdout);
        assert!(
            out.stdout.contains("T1  workplans: done -> todo"),
            "{}",
            out.stdout
        );
        assert!(m.read("docs/workplan.md").contains("id: T1\nstatus: todo"));
        let again = m.sync(&[]);
        assert_eq!(again.code, 0, "quiet once all agree: {}", again.stdout);
        assert!(
            !again.stdout.contains("REGRESSION_BLOCKED"),
            "{}",
            again.stdout
        );
    }
}

#[test]
fn writes_left_out_by_no_writeback_and_a_dirty_file_are_named() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    a.sync(&[]);
    assert_eq!(a.concord(&["set", "T1", "done"]).code, 0);
    let out = a.sync(&["--no-writeback"]);
    assert!(
        out.stdout
            .contains("not written (--no-writeback) T1 workplans: would get done"),
        "{}",
        out.stdout
    );
    assert!(a.read("docs/workplan.md").contains("id: T1\nstatus: todo"));
    std::fs::write(
        a.app().join("docs/workplan.md"),
        format!("{WORKPLAN}\nlocal note\n"),
    )
    .expect("write");
    let out = a.sync(&[]);
    assert!(out.stdout.contains("DIRTY_FILE"), "{}", out.stdout);
    assert!(
        out.stdout.contains("app:docs/workplan.md"),
        "names the file: {}",
        out.stdout
    );
    // An uncommitted value is not an edit: it proposes once committed.
    std::fs::write(
        a.app().join("docs/notes.md"),
        NOTES.replace("todo", "in_progress"),
    )
    .expect("write");
    a.sync(&[]);
    let status = a.concord(&["status", "N1", "--json"]).json();
    let hub = status["items"][0]["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["source"] == "hub")
        .cloned()
        .unwrap_or_default();
    assert_eq!(hub["status"], "todo", "{status}");
    git(&a.app(), &["commit", "-q", "-am", "work"]);
    let out = a.sync(&[]);
    assert!(
        out.stdout.contains("N1  hub: todo -> in_progress"),
        "{}",
        out.stdout
    );
}

#[test]
fn explain_names_each_replica_and_what_it_last_agreed_on() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    a.sync(&[]);
    let text = a.concord(&["explain", "T1"]);
    assert!(
        text.stdout.contains("is read in replica r"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("it last agreed on todo under tasks"),
        "{}",
        text.stdout
    );
    let json = a.concord(&["explain", "T1", "--json"]).json();
    assert_eq!(json["readings"][0]["own_bases"]["tasks"], "todo", "{json}");
    // A base's versions are a JSON object, not JSON in a string.
    assert!(
        json["bases"][0]["versions"]["hub"].is_i64(),
        "versions as an object: {json}"
    );
    // The journal names the replica of every file write.
    assert_eq!(a.concord(&["set", "T1", "done"]).code, 0);
    a.sync(&[]);
    let replica = json["readings"][0]["replica"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    assert!(
        journal_of(&a, "T1")
            .iter()
            .any(|e| e.0.contains(&format!("(replica {replica})"))),
        "{:?}",
        journal_of(&a, "T1")
    );
}

#[test]
fn a_hub_from_before_replicas_upgrades_without_a_spurious_reopen() {
    let world = World::new(
        "[[sync]]\nname = \"tasks\"\nmode = \"merge\"\nbetween = [\"workplans\", \"hub\"]\nreopen = \"allow\"\n",
    );
    let a = world.machine("a");
    let b = world.machine("b");
    a.sync(&[]);
    b.sync(&[]);
    // A finishes T1 (committed, not pushed) and syncs: the hub says done.
    a.commit_file(
        "docs/workplan.md",
        &WORKPLAN.replacen("status: todo", "status: done", 1),
        "T1 done",
    );
    a.sync(&[]);
    let journal_before = journal_of(&a, "T1").len();
    // Turn the hub into one written before replicas existed: no replica
    // tables, bare commits in bases and read positions, schema 9.
    let db = world.dir.path().join("hub.db");
    let script = format!(
        "import sqlite3, json\n\
         c = sqlite3.connect('{}')\n\
         c.execute('DROP TABLE replica_bases')\n\
         c.execute('DROP TABLE replicas')\n\
         c.execute('DELETE FROM concord_schema WHERE version >= 10')\n\
         c.execute('DROP TRIGGER IF EXISTS journal_no_replace')\n\
         c.execute('DROP TRIGGER IF EXISTS release_steps_no_replace')\n\
         c.execute('DROP TABLE IF EXISTS webhook_deliveries')\n\
         c.execute('DROP TABLE IF EXISTS scan_warnings')\n\
         c.execute('ALTER TABLE observations DROP COLUMN pinned')\n\
         for rule, key, versions in c.execute('SELECT rule, item_key, versions FROM bases').fetchall():\n\
         \x20   v = {{k: (x.split(' ')[-1] if isinstance(x, str) else x) for k, x in json.loads(versions).items()}}\n\
         \x20   c.execute('UPDATE bases SET versions = ? WHERE rule = ? AND item_key = ?', (json.dumps(v), rule, key))\n\
         for source, position in c.execute('SELECT source, position FROM watermarks').fetchall():\n\
         \x20   c.execute('UPDATE watermarks SET position = ? WHERE source = ?', (position.split(' ')[-1], source))\n\
         c.commit()\n",
        db.display()
    );
    let ok = Command::new("python3")
        .args(["-c", &script])
        .status()
        .expect("python3");
    assert!(ok.success());
    for m in [&a, &b] {
        std::fs::remove_file(m.app().join(".git/concord-replica")).expect("forget replica id");
    }
    // B never saw A's commit: its todo is a stale copy, not a reopen.
    let out = b.sync(&[]);
    assert!(!out.stdout.contains("REOPENED"), "{}", out.stdout);
    assert!(
        out.stdout.contains("T1  workplans: todo -> done"),
        "{}",
        out.stdout
    );
    let after = journal_of(&b, "T1");
    assert!(
        after.len() > journal_before,
        "journal kept and extended: {after:?}"
    );
    assert!(after.iter().all(|e| e.3 != "REOPENED"), "{after:?}");
    assert_eq!(b.sync(&[]).code, 0);
    assert_eq!(a.sync(&[]).code, 0);
}

#[test]
fn an_old_write_back_brought_in_by_a_pull_is_a_copy_not_an_edit() {
    let world = World::new(MERGE);
    let a = world.machine("a");
    let b = world.machine("b");
    a.sync(&[]);
    b.sync(&[]);
    assert_eq!(b.concord(&["set", "T1", "done"]).code, 0);
    // B writes done back, commits and pushes.
    b.sync(&["--push"]);
    let message = git(&b.app(), &["log", "-1", "--format=%B"]);
    assert!(message.contains("\nConcord-Run: "), "{message}");
    // A person then reopens T1 on purpose; A agrees (its file says todo).
    assert_eq!(a.concord(&["set", "T1", "todo", "--force"]).code, 0);
    assert_eq!(a.sync(&[]).code, 0);
    // A pulls B's old write-back: done arrives in A's history, but it is a
    // copy of an old agreement, not an edit: it must not undo the reopen.
    git(&a.app(), &["pull", "-q", "--ff-only"]);
    assert!(a.read("docs/workplan.md").contains("id: T1\nstatus: done"));
    let out = a.sync(&[]);
    assert!(
        out.stdout.contains("T1  workplans: done -> todo"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("hub: todo -> done"), "{}", out.stdout);
    let hub = journal_of(&a, "T1");
    assert_eq!(
        hub.iter()
            .rev()
            .find(|e| e.0 == "hub")
            .map(|e| e.2.as_str()),
        Some("todo"),
        "{hub:?}"
    );
}

#[test]
fn a_checkout_that_cannot_keep_a_replica_id_never_reopens_anything() {
    let world = World::new(
        "[[sync]]\nname = \"tasks\"\nmode = \"merge\"\nbetween = [\"workplans\", \"hub\"]\nreopen = \"allow\"\n",
    );
    let a = world.machine("a");
    let b = world.machine("b");
    a.sync(&[]);
    // B's git folder cannot take the id file (here: a folder in its place).
    std::fs::create_dir_all(b.app().join(".git/concord-replica/x")).expect("block the id");
    b.sync(&[]);
    a.commit_file(
        "docs/workplan.md",
        &WORKPLAN.replacen("status: todo", "status: done", 1),
        "T1 done",
    );
    a.sync(&[]);
    // B never saw A's done: it follows, as any stale copy does.
    let out = b.sync(&["--verbose"]);
    assert!(
        out.stdout.contains("cannot keep a replica id"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("T1  workplans: todo -> done"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("REOPENED"), "{}", out.stdout);
    // Even a reopen B commits itself cannot be told from a stale copy: it
    // is not propagated (fail safe), the hub keeps done.
    b.commit_file("docs/workplan.md", WORKPLAN, "reopen T1");
    let out = b.sync(&[]);
    assert!(!out.stdout.contains("REOPENED"), "{}", out.stdout);
    assert_eq!(
        journal_of(&b, "T1")
            .iter()
            .rev()
            .find(|e| e.0 == "hub")
            .map(|e| e.2.clone()),
        Some("done".to_string())
    );
}

/// An anchored status that an alias repeats is held also when its file is
/// not read again (an incremental sync takes it from the hub's record):
/// never a planned write that the file then refuses.
#[test]
fn an_anchored_status_stays_held_when_its_file_is_read_from_the_record() {
    let world = World::new(
        "[[source]]\nname = \"notes\"\nrepo = \"app\"\nformat = \"front-matter\"\nglob = \"notes/*.md\"\nstatus = \"status\"\nworkflow = \"task\"\n\n[[sync]]\nname = \"tasks\"\nmode = \"merge\"\nbetween = [\"workplans\", \"notes\", \"hub\"]\n",
    );
    let a = world.machine("a");
    let note = "---\nid: T1\nstatus: &s todo\nsummary: *s\n---\n";
    std::fs::create_dir_all(a.app().join("notes")).expect("notes");
    std::fs::write(a.app().join("notes/t1.md"), note).expect("note");
    git(&a.app(), &["add", "."]);
    git(&a.app(), &["commit", "-q", "-m", "note"]);
    let first = a.concord(&["sync", "--json"]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    // T1 moves on in the work plan; the note's file is not read again.
    a.commit_file(
        "docs/workplan.md",
        &WORKPLAN.replacen("status: todo", "status: done", 1),
        "T1 done",
    );
    let out = a.concord(&["sync", "--json"]);
    let report = out.json();
    assert_eq!(
        report["reads"]["notes"], "0 files changed since the watermark",
        "{report}"
    );
    assert_eq!(out.code, 1, "held, not failed: {report}");
    assert_eq!(report["not_applied"], serde_json::json!([]), "{report}");
    let held = report["held"].to_string();
    assert!(held.contains("ALIASED_VALUE"), "{report}");
    assert_eq!(a.read("notes/t1.md"), note);
    assert_eq!(
        report["applied"],
        serde_json::json!([]),
        "nothing moves: {report}"
    );
}

/// A look (`status`, `diff`, `scan`) records what it reads, dirty edits
/// included. An edit seen that way and then undone must not stand in for
/// the file at the next incremental read: nothing else says the file
/// changed. Before, the undone `done` below was planned as the work plan's
/// edit and outranked the hub's `in_progress`; only the check before each
/// write (the file no longer said what was read) kept it from being
/// written, and the sync failed (exit 3) instead of converging.
#[test]
fn an_undone_edit_a_look_recorded_is_read_again_not_taken_from_the_record() {
    for look in [&["status"][..], &["diff"], &["scan"], &["status", "T1"]] {
        let world = World::new(MERGE);
        let a = world.machine("a");
        a.sync(&[]);
        std::fs::write(
            a.app().join("docs/workplan.md"),
            with_status(WORKPLAN, "T1", "done"),
        )
        .expect("edit");
        let seen = a.concord(look);
        assert!(seen.code <= 1, "{look:?}: {}{}", seen.stdout, seen.stderr);
        std::fs::write(a.app().join("docs/workplan.md"), WORKPLAN).expect("undo");
        assert_eq!(a.concord(&["set", "T1", "in_progress"]).code, 0);
        let report = a.sync(&["--json"]).json();
        assert_eq!(
            a.read("docs/workplan.md"),
            with_status(WORKPLAN, "T1", "in_progress"),
            "{look:?}: {report:#}"
        );
        let hub = a.concord(&["status", "T1", "--json"]).json();
        assert!(
            !hub.to_string().contains("\"done\""),
            "{look:?}: nobody set done: {hub:#}"
        );
        // Converged: the next sync has nothing to do.
        let again = a.sync(&["--json"]).json();
        assert_eq!(
            again["applied"],
            serde_json::json!([]),
            "{look:?}: {again:#}"
        );
    }
}
