//! `concord scan` and `concord status` on the bundled example, on bad input
//! files, and on the real-world corpus.

mod common;
use common::{TASK_WORKFLOW, TestWorkspace, project_root, run_in};
use serde_json::Value;

fn source<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no source {name}"))
}

fn keys(source: &Value) -> Vec<String> {
    source["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["key"].as_str().expect("key").to_string())
        .collect()
}

#[test]
fn example_workspace_scans_all_four_formats() {
    let out = run_in(
        &project_root(),
        &[
            "--config",
            "examples/concord.toml",
            "scan",
            "--json",
            "--no-hub",
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(report["warnings"], Value::Array(vec![]));
    assert_eq!(
        keys(source(&report, "workplans")),
        ["CUST-WP-0026-T01", "CUST-WP-0026-T02", "CUST-WP-0026-T03"]
    );
    assert_eq!(
        keys(source(&report, "plan")),
        ["wp#41", "wp#42", "wp#43", "wp#44"]
    );
    assert_eq!(
        keys(source(&report, "features")),
        ["billing-export", "customer-portal"]
    );
    assert_eq!(keys(source(&report, "story-notes")), ["wp#42", "wp#41"]);
    assert_eq!(
        source(&report, "feature-tasks")["items"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
    let abandoned = &source(&report, "plan")["items"][2];
    assert_eq!(abandoned["status"]["raw"], "Closed");
    assert_eq!(abandoned["status"]["canonical"], "done");
    let feature = &source(&report, "features")["items"][1];
    assert_eq!(feature["owner"], "app");
    assert_eq!(feature["status"]["canonical"], "implementation");
}

#[test]
fn example_status_marks_disagreements_and_exits_1() {
    let out = run_in(
        &project_root(),
        &["--config", "examples/concord.toml", "status", "--no-hub"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let line = |key: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no line for {key}:\n{}", out.stdout))
            .to_string()
    };
    assert!(
        line("CUST-WP-0026-T02").contains("differ"),
        "{}",
        out.stdout
    );
    assert!(line("CUST-WP-0026-T01").contains("same"), "{}", out.stdout);
    assert!(line("wp#42").contains("differ"), "{}", out.stdout);
    assert!(
        line("wp#41").contains("plan: done (Closed)"),
        "{}",
        out.stdout
    );

    let out = run_in(
        &project_root(),
        &[
            "--config",
            "examples/concord.toml",
            "status",
            "CUST-WP-0026-T01",
            "--json",
            "--no-hub",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    let report = out.json();
    assert_eq!(report["items"].as_array().map(Vec::len), Some(1));
    let item = &report["items"][0];
    assert_eq!(item["agree"], true);
    let sources: Vec<_> = item["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            (
                s["source"].as_str().unwrap_or(""),
                s["status"].as_str().unwrap_or(""),
                s["raw"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        sources,
        [
            ("workplans", "done", "done"),
            ("feature-tasks", "done", "complete")
        ]
    );

    let out = run_in(
        &project_root(),
        &[
            "--config",
            "examples/concord.toml",
            "status",
            "NOPE-1",
            "--no-hub",
        ],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("NOPE-1: no source holds this item"),
        "{}",
        out.stdout
    );
}

fn json_workspace() -> TestWorkspace {
    let ws = TestWorkspace::new();
    ws.config(&format!(
        r#"
[[repo]]
name = "app"
path = "app"
{TASK_WORKFLOW}
[[source]]
name = "states"
repo = "app"
format = "json"
glob = "features/*/state.json"
items = "/tasks"
key = "{{dir}}/{{id}}"
status = "/status"
workflow = "task"

[[source]]
name = "plans"
repo = "app"
format = "task-blocks"
glob = "docs/*.md"
workflow = "task"
"#
    ));
    ws
}

#[test]
fn unreadable_files_are_warnings_that_name_the_file() {
    let ws = json_workspace();
    ws.write(
        "app/features/ok/state.json",
        r#"{"tasks": [{"id": "T1", "status": "done"}]}"#,
    );
    ws.write(
        "app/features/syntax/state.json",
        "{\n  \"tasks\": [\n    {\"id\": \"T1\" \"status\": \"done\"}\n  ]\n}\n",
    );
    ws.write(
        "app/features/binary/state.json",
        b"{\"tasks\": []}\0\0\x01\x02",
    );
    ws.write(
        "app/features/latin1/state.json",
        b"{\"tasks\": [{\"id\": \"T\xe9\", \"status\": \"done\"}]}",
    );
    ws.write(
        "app/features/object/state.json",
        r#"{"tasks": {"id": "T1"}}"#,
    );
    std::fs::create_dir_all(ws.path().join("app/features/dir/state.json")).expect("dir");
    ws.write("app/docs/plan.md", "```task\nid: P1\nstatus: deferred\n```\n```task\nstatus: done\n```\n```task\nid: P1\nstatus: done\n```\n");
    let out = ws.concord(&["scan", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = out.json();
    let warnings: Vec<(String, String, Option<u64>)> = report["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| {
            (
                w["code"].as_str().unwrap_or("").to_string(),
                w["path"].as_str().unwrap_or("").to_string(),
                w["line"].as_u64(),
            )
        })
        .collect();
    let has = |code: &str, path: &str| warnings.iter().any(|(c, p, _)| c == code && p == path);
    assert!(
        has("UNREADABLE_FILE", "features/syntax/state.json"),
        "{warnings:?}"
    );
    assert!(
        has("UNREADABLE_FILE", "features/binary/state.json"),
        "{warnings:?}"
    );
    assert!(
        has("UNREADABLE_FILE", "features/latin1/state.json"),
        "{warnings:?}"
    );
    assert!(
        has("UNREADABLE_FILE", "features/dir/state.json"),
        "{warnings:?}"
    );
    assert!(
        has("UNPARSEABLE_ROW", "features/object/state.json"),
        "{warnings:?}"
    );
    assert!(has("UNKNOWN_STATUS", "docs/plan.md"), "{warnings:?}");
    assert!(has("UNPARSEABLE_ROW", "docs/plan.md"), "{warnings:?}");
    assert!(has("DUPLICATE_KEY", "docs/plan.md"), "{warnings:?}");
    let syntax = warnings
        .iter()
        .find(|(_, p, _)| p == "features/syntax/state.json");
    assert_eq!(syntax.and_then(|w| w.2), Some(3), "syntax error line");
    // The good file is still read in full.
    assert_eq!(keys(source(&report, "states")), ["ok/T1"]);

    let text = ws.concord(&["scan"]);
    assert!(
        text.stdout.contains("app/features/syntax/state.json:3"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("`P1` has status `deferred`"),
        "{}",
        text.stdout
    );
}

#[test]
fn glob_matching_nothing_is_a_warning() {
    let ws = json_workspace();
    ws.write("app/docs/plan.md", "```task\nid: P1\nstatus: done\n```\n");
    let out = ws.concord(&["scan"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("warning[NO_FILES]"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("glob `features/*/state.json` matched no file"),
        "{}",
        out.stdout
    );
}

#[test]
fn missing_repo_folder_is_a_warning_not_a_crash() {
    let ws = json_workspace();
    let out = ws.concord(&["scan"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("warning[MISSING_REPO]"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_repo_path_that_is_a_file_is_named_as_such() {
    let ws = json_workspace();
    ws.write("app", "a file where the repo should be\n");
    let out = ws.concord(&["scan"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("is a file there, not a folder"),
        "{}",
        out.stdout
    );
}

#[cfg(unix)]
#[test]
fn symlink_outside_the_repo_is_refused() {
    let ws = json_workspace();
    let outside = ws.write(
        "elsewhere/state.json",
        r#"{"tasks": [{"id": "X", "status": "done"}]}"#,
    );
    std::fs::create_dir_all(ws.path().join("app/features/evil")).expect("dir");
    std::os::unix::fs::symlink(&outside, ws.path().join("app/features/evil/state.json"))
        .expect("symlink");
    let inside = ws.write(
        "app/real.json",
        r#"{"tasks": [{"id": "Y", "status": "done"}]}"#,
    );
    std::fs::create_dir_all(ws.path().join("app/features/fine")).expect("dir");
    std::os::unix::fs::symlink(&inside, ws.path().join("app/features/fine/state.json"))
        .expect("symlink");
    ws.write("app/docs/plan.md", "");
    let out = ws.concord(&["scan", "--json"]);
    let report = out.json();
    assert_eq!(keys(source(&report, "states")), ["fine/Y"]);
    let refused = report["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .any(|w| {
            w["path"] == "features/evil/state.json"
                && w["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("outside the repo")
        });
    assert!(refused, "{}", out.stdout);
}

#[test]
fn a_fifo_matched_by_a_glob_is_a_warning_and_never_blocks() {
    let ws = json_workspace();
    ws.write("app/docs/plan.md", "");
    ws.write(
        "app/features/good/state.json",
        r#"{"tasks": [{"id": "G", "status": "done"}]}"#,
    );
    std::fs::create_dir_all(ws.path().join("app/features/pipe")).expect("dir");
    let fifo = ws.path().join("app/features/pipe/state.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    // A link to the FIFO is opened through the link: refused as well.
    std::fs::create_dir_all(ws.path().join("app/features/link")).expect("dir");
    std::os::unix::fs::symlink(&fifo, ws.path().join("app/features/link/state.json"))
        .expect("symlink");
    for command in ["scan", "status"] {
        let out = assert_cmd::Command::cargo_bin("concord")
            .expect("binary")
            .current_dir(ws.path())
            .env("NO_COLOR", "1")
            .env_remove("CONCORD_CONFIG")
            .env_remove("CONCORD_HUB_URL")
            .args([command, "--json"])
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .expect("run concord");
        // scan reports warnings (1); status could not read part of the
        // workspace, so what those files hold is unknown (3).
        let expected = if command == "scan" { 1 } else { 3 };
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{command} finished, with warnings"
        );
        let report: Value = serde_json::from_slice(&out.stdout).expect("json");
        let warnings = report["warnings"].as_array().cloned().unwrap_or_default();
        for path in ["features/pipe/state.json", "features/link/state.json"] {
            assert!(
                warnings
                    .iter()
                    .any(|w| w["path"] == path
                        && w["message"].as_str().unwrap_or("").contains("FIFO")),
                "{command}: {path} named as a FIFO: {warnings:?}"
            );
        }
        if command == "scan" {
            assert_eq!(keys(source(&report, "states")), ["good/G"]);
        }
    }
}

#[test]
fn oversized_file_is_refused_with_the_setting_to_raise() {
    let ws = json_workspace();
    ws.write("app/docs/plan.md", "");
    let mut big = String::from("{\"tasks\": [");
    let entry = r#"{"id": "T", "status": "done", "pad": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},"#;
    while big.len() < 50 * 1024 * 1024 {
        big.push_str(entry);
    }
    big.push_str(r#"{"id": "LAST", "status": "done"}]}"#);
    ws.write("app/features/big/state.json", &big);
    let out = ws.concord(&["scan"]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("over the limit"), "{}", out.stdout);
    assert!(out.stdout.contains("max_file_bytes"), "{}", out.stdout);
}

#[test]
fn empty_and_crlf_files_read_cleanly() {
    let ws = json_workspace();
    ws.write(
        "app/features/a/state.json",
        "\u{feff}{\r\n\t\"tasks\": [ {\"id\": \"T1\", \"status\": \"In progress\"} ]  \r\n}\r\n",
    );
    ws.write("app/docs/empty.md", "");
    ws.write(
        "app/docs/crlf.md",
        "```task\r\nid: C1  \r\nstatus:\tdone \r\n```\r\n",
    );
    let out = ws.concord(&["scan", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let report = out.json();
    assert_eq!(
        source(&report, "states")["items"][0]["status"]["canonical"],
        "in_progress"
    );
    assert_eq!(keys(source(&report, "plans")), ["C1"]);
}

/// The fittracker2 corpus: 132 state.json documents and 828 tasks.
#[test]
fn real_corpus_fittracker2() {
    let corpus = project_root().join("../shared/corpus/fittracker2");
    if !corpus.is_dir() {
        println!("skipped: {} not present", corpus.display());
        return;
    }
    let ws = TestWorkspace::new();
    ws.config(&format!(
        r#"
[[repo]]
name = "ft2"
path = "{corpus}"
{TASK_WORKFLOW}
[[workflow]]
name = "lifecycle"
statuses = [
  {{ name = "research", rank = 0 }},
  {{ name = "prd", rank = 1 }},
  {{ name = "tasks", rank = 2, aliases = ["tasks_phase"] }},
  {{ name = "implementation", rank = 3, aliases = ["implement"] }},
  {{ name = "complete", rank = 5 }},
]

[[source]]
name = "ft2-features"
repo = "ft2"
format = "json"
glob = ".claude/features/*/state.json"
key = "{{dir}}"
status = "/current_phase"
owner = "/state_owner"
workflow = "lifecycle"

[[source]]
name = "ft2-tasks"
repo = "ft2"
format = "json"
glob = ".claude/features/*/state.json"
items = "/tasks"
key = "{{dir}}/{{id}}"
status = "/status"
workflow = "task"
"#,
        corpus = corpus.display()
    ));
    let out = ws.concord(&["scan", "--json"]);
    assert_eq!(out.code, 1, "unknown statuses must be reported");
    let report = out.json();
    let features = source(&report, "ft2-features");
    let tasks = source(&report, "ft2-tasks");
    assert_eq!(features["files"], 132);
    assert_eq!(features["items"].as_array().map(Vec::len), Some(132));
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(828));
    let owners: Vec<_> = features["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["owner"] == "fitme-story")
        .collect();
    assert_eq!(owners.len(), 1);

    // done, complete and completed are one canonical status.
    let mut done_words = std::collections::BTreeSet::new();
    for item in tasks["items"].as_array().expect("items") {
        if item["status"]["canonical"] == "done" {
            done_words.insert(item["status"]["raw"].as_str().unwrap_or("").to_string());
        }
    }
    assert_eq!(
        done_words.into_iter().collect::<Vec<_>>(),
        ["complete", "completed", "done"]
    );

    // Every other word is reported once per occurrence, with where it is.
    let unknown: Vec<&Value> = report["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter(|w| w["code"] == "UNKNOWN_STATUS" && w["source"] == "ft2-tasks")
        .collect();
    let unknown_items = tasks["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["status"]["canonical"].is_null())
        .count();
    assert_eq!(unknown.len(), unknown_items);
    assert_eq!(
        unknown.len(),
        31,
        "deferred 17, complete_preexisting 4, not_needed 3, skipped 2, blocked_on_user 2, blocked_on_external 2, partial_blocked 1, queued is an alias"
    );
    for w in &unknown {
        assert!(
            w["path"].as_str().unwrap_or("").ends_with("state.json"),
            "{w}"
        );
        assert!(w["line"].as_u64().unwrap_or(0) > 1, "{w}");
        assert!(
            w["message"].as_str().unwrap_or("").contains("has status `"),
            "{w}"
        );
    }
    // tasks given as an object in two documents are reported, not dropped.
    let object_tasks = report["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter(|w| w["code"] == "UNPARSEABLE_ROW" && w["source"] == "ft2-tasks")
        .count();
    assert_eq!(object_tasks, 2);
}

/// `scan --no-hub` lists each source as soon as it and those before it are
/// read, and lets it go; `scan` lists from the whole report it records.
/// Over many sources of uneven size (so they finish out of order), with
/// warnings and colours, both listings are the same bytes, in the order of
/// the workspace's sources.
#[test]
fn the_streamed_listing_is_the_listing_of_the_whole_report() {
    let ws = TestWorkspace::new();
    let mut toml = format!("[[repo]]\nname = \"app\"\npath = \"app\"\n{TASK_WORKFLOW}");
    for s in 0..24 {
        toml.push_str(&format!(
            "[[source]]\nname = \"s{s:02}\"\nrepo = \"app\"\nformat = \"task-blocks\"\nglob = \"d{s:02}/*.md\"\nworkflow = \"task\"\n"
        ));
        // Early sources are the largest: later ones finish first.
        let files = if s % 5 == 0 { 30 } else { 1 + s % 3 };
        for f in 0..files {
            let tasks: String = (0..(24 - s))
                .map(|t| format!("```task\nid: S{s}-F{f}-T{t}\nstatus: todo\n```\n"))
                .collect();
            ws.write(&format!("app/d{s:02}/f{f:02}.md"), tasks);
        }
    }
    ws.write(
        "app/d07/zz.md",
        "```task\nid: S7-F0-T0\nstatus: deferred\n```\n",
    );
    ws.config(&toml);
    for color in ["never", "always"] {
        let streamed = ws.concord(&["--color", color, "scan", "--no-hub"]);
        let whole = ws.concord(&["--color", color, "scan"]);
        assert_eq!(streamed.code, 1, "{}", streamed.stderr);
        assert_eq!(whole.code, 1, "{}", whole.stderr);
        assert_eq!(streamed.stdout, whole.stdout);
        assert!(
            streamed.stdout.contains("DUPLICATE_KEY"),
            "{}",
            streamed.stdout
        );
        assert!(streamed.stdout.contains("`S7-F0-T0` has status `deferred`"));
        let headers: Vec<usize> = (0..24)
            .map(|s| {
                streamed
                    .stdout
                    .find(&format!("s{s:02}"))
                    .unwrap_or_else(|| panic!("no source s{s:02}"))
            })
            .collect();
        assert!(headers.windows(2).all(|w| w[0] < w[1]), "{headers:?}");
    }
}
