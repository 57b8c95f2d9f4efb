//! `concord diff` and `concord explain`: the plan, read-only.

mod common;
use common::{TASK_WORKFLOW, TestWorkspace};

fn workspace(rules: &str) -> TestWorkspace {
    let ws = TestWorkspace::new();
    ws.config(&format!(
        r#"
[[repo]]
name = "app"
path = "app"
{TASK_WORKFLOW}
[[source]]
name = "workplans"
repo = "app"
format = "task-blocks"
glob = "docs/*.md"
workflow = "task"

[[source]]
name = "plan"
repo = "app"
format = "table"
glob = "plan.md"
header = "| Item | Status |"
key_column = "Item"
key_regex = 'T\d+'
status = "Status"
workflow = "task"
{rules}
"#
    ));
    ws.write(
        "app/docs/w.md",
        "```task\nid: T1\nstatus: todo\n```\n```task\nid: T2\nstatus: done\n```\n",
    );
    ws.write(
        "app/plan.md",
        "| Item | Status |\n|---|---|\n| T1 | **In progress** |\n| T2 | **Closed** |\n",
    );
    ws
}

const MERGE_WITH_HUB: &str =
    "[[sync]]\nname = \"tasks\"\nmode = \"merge\"\nbetween = [\"workplans\", \"hub\"]\n";

#[test]
fn diff_plans_the_hub_value_into_the_stale_file_and_writes_nothing() {
    let ws = workspace(MERGE_WITH_HUB);
    let before = std::fs::read(ws.path().join("app/docs/w.md")).expect("file");
    assert_eq!(ws.concord(&["set", "T1", "done"]).code, 0);
    let out = ws.concord(&["diff", "--json"]);
    assert_eq!(out.code, 1, "a non-empty plan exits 1: {}", out.stderr);
    let plan = out.json();
    let changes: Vec<_> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap_or("").to_string(),
                c["target"].as_str().unwrap_or("").to_string(),
                c["to"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        changes.contains(&("T1".into(), "workplans".into(), "done".into())),
        "{changes:?}"
    );
    assert!(
        changes.contains(&("T2".into(), "hub".into(), "done".into())),
        "{changes:?}"
    );
    assert_eq!(
        std::fs::read(ws.path().join("app/docs/w.md")).expect("file"),
        before
    );

    let text = ws.concord(&["diff"]);
    assert!(
        text.stdout.contains("workplans: 1 change"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("T1  todo -> done"), "{}", text.stdout);

    let explain = ws.concord(&["explain", "T1"]);
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    assert!(
        explain
            .stdout
            .contains("rule tasks (merge, reopens held back)"),
        "{}",
        explain.stdout
    );
    assert!(
        explain.stdout.contains("decision: AHEAD_WINS"),
        "{}",
        explain.stdout
    );
    assert!(
        explain.stdout.contains("change: workplans todo -> done"),
        "{}",
        explain.stdout
    );
}

#[test]
fn mirror_plans_the_truth_onto_the_target_even_to_a_lower_rank() {
    let ws = workspace("[[sync]]\nmode = \"mirror\"\nfrom = \"plan\"\nto = [\"workplans\"]\n");
    let out = ws.concord(&["diff", "--json"]);
    assert_eq!(out.code, 1);
    let plan = out.json();
    let changes = plan["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{plan}");
    assert_eq!(changes[0]["key"], "T1");
    assert_eq!(changes[0]["to"], "in_progress");
    assert_eq!(changes[0]["origin"], "plan");
}

#[test]
fn an_empty_plan_exits_0_and_no_rules_is_a_usage_error() {
    let ws = workspace("[[sync]]\nmode = \"mirror\"\nfrom = \"plan\"\nto = [\"workplans\"]\n");
    ws.write(
        "app/docs/w.md",
        "```task\nid: T1\nstatus: in_progress\n```\n```task\nid: T2\nstatus: done\n```\n",
    );
    let out = ws.concord(&["diff"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.contains("0 changes planned"), "{}", out.stdout);

    let bare = workspace("");
    let out = bare.concord(&["diff"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no [[sync]] rules"), "{}", out.stderr);
}

#[test]
fn explain_an_unknown_key_is_a_usage_error() {
    let ws = workspace(MERGE_WITH_HUB);
    let out = ws.concord(&["explain", "NOPE"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no source holds an item `NOPE`"),
        "{}",
        out.stderr
    );
}

/// A key in two files of one source, saying different things: which is the
/// source's value cannot be known, so the item is held whole, both copies
/// named, nothing written to either (or to the hub), until one is removed.
#[test]
fn a_key_held_twice_by_one_source_is_held_and_nothing_is_written() {
    let ws = workspace(MERGE_WITH_HUB);
    ws.write(
        "app/docs/x.md",
        "# Copy\n\n```task\nid: T1\nstatus: done\n```\n",
    );
    let files = ["app/docs/w.md", "app/docs/x.md"];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(ws.path().join(f)).expect("file"))
        .collect();

    let sync = ws.concord(&["sync", "--json"]);
    assert_eq!(sync.code, 1, "a held item exits 1: {}", sync.stderr);
    for (file, bytes) in files.iter().zip(&before) {
        assert_eq!(
            &std::fs::read(ws.path().join(file)).expect("file"),
            bytes,
            "{file} untouched"
        );
    }
    let report = sync.json().to_string();
    assert!(report.contains("DUPLICATE_KEY"), "{report}");

    let explain = ws.concord(&["explain", "T1", "--json"]);
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    let explained = explain.json();
    let decision = &explained["decisions"][0];
    assert_eq!(decision["reason"], "DUPLICATE_KEY", "{explained}");
    let why = decision["explanation"].as_str().unwrap_or("");
    assert!(why.contains("app:docs/w.md:3 (todo)"), "{why}");
    assert!(why.contains("app:docs/x.md:5 (done)"), "{why}");
    let copies: Vec<(String, u64, String)> = explained["readings"]
        .as_array()
        .expect("readings")
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap_or("").to_string(),
                r["line"].as_u64().unwrap_or(0),
                r["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .filter(|(path, ..)| path.starts_with("docs/"))
        .collect();
    assert_eq!(
        copies,
        [
            ("docs/w.md".to_string(), 3, "todo".to_string()),
            ("docs/x.md".to_string(), 5, "done".to_string())
        ],
        "every copy is shown"
    );
    let text = ws.concord(&["explain", "T1"]);
    assert!(
        text.stdout.contains("decision: DUPLICATE_KEY"),
        "{}",
        text.stdout
    );
    assert_eq!(ws.concord(&["diff"]).code, 1, "the plan is not clean");

    // Removing one copy frees the item: the next sync propagates.
    ws.write("app/docs/x.md", "# Copy\n");
    let sync = ws.concord(&["sync"]);
    assert_eq!(sync.code, 0, "{}\n{}", sync.stdout, sync.stderr);
}

/// A status carrying a YAML anchor that an alias repeats cannot be edited
/// without changing the alias too: it is read (and may win), never
/// written; when it would have to change, the item is held with a reason.
#[test]
fn an_anchored_yaml_status_that_an_alias_repeats_is_never_edited() {
    let ws = workspace(
        "[[source]]\nname = \"notes\"\nrepo = \"app\"\nformat = \"front-matter\"\nglob = \"notes/*.md\"\nstatus = \"status\"\nworkflow = \"task\"\n\n[[sync]]\nname = \"tasks\"\nmode = \"merge\"\nbetween = [\"workplans\", \"notes\", \"hub\"]\n",
    );
    // T1: the note says todo, the work plan done: the note would have to change.
    let note = "---\nid: T1\nstatus: &s todo\nsummary: *s\n---\nBody.\n";
    ws.write("app/notes/t1.md", note);
    // T2: the anchored note is the one ahead: it wins, and is not touched.
    let ahead = "---\nid: T2\nstatus: &s2 done\nshown: *s2\n---\n";
    ws.write("app/notes/t2.md", ahead);
    ws.write(
        "app/docs/w.md",
        "```task\nid: T1\nstatus: done\n```\n```task\nid: T2\nstatus: todo\n```\n",
    );

    let sync = ws.concord(&["sync"]);
    assert_eq!(sync.code, 1, "a held item exits 1: {}", sync.stdout);
    assert!(sync.stdout.contains("ALIASED_VALUE"), "{}", sync.stdout);
    assert_eq!(
        std::fs::read_to_string(ws.path().join("app/notes/t1.md")).expect("note"),
        note,
        "the anchored value is not edited"
    );
    assert_eq!(
        std::fs::read_to_string(ws.path().join("app/notes/t2.md")).expect("note"),
        ahead
    );
    assert!(
        std::fs::read_to_string(ws.path().join("app/docs/w.md"))
            .expect("plan")
            .contains("id: T2\nstatus: done"),
        "the anchored value still wins where it need not change"
    );

    let explain = ws.concord(&["explain", "T1", "--json"]);
    let decision = &explain.json()["decisions"][0];
    assert_eq!(decision["reason"], "ALIASED_VALUE", "{decision}");
    assert!(decision["changes"].as_array().is_some_and(Vec::is_empty));
    let hold = decision["holds"].to_string();
    assert!(hold.contains("`&s`"), "the hold says why: {hold}");
    assert!(
        hold.contains("notes/t1.md:3"),
        "the hold names the place: {hold}"
    );
    let text = ws.concord(&["explain", "T1"]);
    assert!(text.stdout.contains("cannot be edited"), "{}", text.stdout);

    // Without the alias the value is an ordinary one again.
    ws.write(
        "app/notes/t1.md",
        "---\nid: T1\nstatus: &s todo\n---\nBody.\n",
    );
    let sync = ws.concord(&["sync"]);
    assert_eq!(sync.code, 0, "{}\n{}", sync.stdout, sync.stderr);
    assert_eq!(
        std::fs::read_to_string(ws.path().join("app/notes/t1.md")).expect("note"),
        "---\nid: T1\nstatus: &s done\n---\nBody.\n"
    );
}

/// Hostile files among good ones: a directory named like a source file, a
/// file over `max_file_bytes`, a file that is gone when read (a dangling
/// link). Each is a warning naming it; the good files sync; nothing else is
/// written; what the hub knew of the unreadable file's items stays.
#[test]
fn hostile_files_among_good_ones_are_named_and_the_rest_syncs() {
    let ws = workspace(&format!("[scan]\nmax_file_bytes = 4096\n{MERGE_WITH_HUB}"));
    ws.write("app/docs/big.md", "```task\nid: T9\nstatus: done\n```\n");
    assert_eq!(ws.concord(&["sync"]).code, 0, "first sync records T9");
    // Now the file grows over the limit, and other hostile entries appear.
    let mut big = String::from("```task\nid: T9\nstatus: todo\n```\n");
    while big.len() <= 4096 {
        big.push_str("padding line\n");
    }
    ws.write("app/docs/big.md", &big);
    std::fs::create_dir_all(ws.path().join("app/docs/folder.md")).expect("dir");
    #[cfg(unix)]
    std::os::unix::fs::symlink("nowhere.md", ws.path().join("app/docs/gone.md")).expect("symlink");
    ws.write(
        "app/docs/w.md",
        "```task\nid: T1\nstatus: in_progress\n```\n```task\nid: T2\nstatus: done\n```\n",
    );

    let out = ws.concord(&["sync"]);
    assert_eq!(
        out.code, 3,
        "files it could not read make the run partial: {}",
        out.stderr
    );
    for (path, says) in [
        ("app/docs/big.md", "max_file_bytes"),
        ("app/docs/folder.md", "directory"),
        #[cfg(unix)]
        ("app/docs/gone.md", "symlink"),
    ] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains("UNREADABLE_FILE") && l.contains(path) && l.contains(says)),
            "{path} is named on standard error ({says}): {}",
            out.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(ws.path().join("app/docs/big.md")).expect("big"),
        big,
        "the oversized file is not touched"
    );
    // The good file synced; what the hub knew of T9 stays, not regressed.
    let export = ws.concord(&["hub", "export"]).stdout;
    let value = |key: &str| {
        export
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|row| row["table"] == "hub_values" && row["row"]["key"] == key)
            .map(|row| row["row"]["value"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(value("T1").as_deref(), Some("in_progress"), "{export}");
    assert_eq!(value("T9").as_deref(), Some("done"), "{export}");
}
