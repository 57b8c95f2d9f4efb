//! The hub through the command line: scan records, set, history, log,
//! export/import, and the faults a user can run into.

mod common;
use common::{TASK_WORKFLOW, TestWorkspace};

fn workspace() -> TestWorkspace {
    let ws = TestWorkspace::new();
    ws.config(&format!(
        r#"
[[repo]]
name = "app"
path = "app"
{TASK_WORKFLOW}
[[source]]
name = "plans"
repo = "app"
format = "task-blocks"
glob = "docs/*.md"
workflow = "task"

[[source]]
name = "features"
repo = "app"
format = "json"
glob = "features/*/state.json"
key = "{{dir}}"
status = "/status"
workflow = "task"
log_file = "logs/{{key}}.log.json"
"#
    ));
    ws.write(
        "app/docs/plan.md",
        "```task\nid: T1\nstatus: todo\n```\n\n```task\nid: T2\nstatus: done\n```\n",
    );
    ws.write(
        "app/features/onboarding/state.json",
        "{\n  \"status\": \"in_progress\"\n}\n",
    );
    ws
}

#[test]
fn set_then_history_and_status_show_the_hub_value() {
    let ws = workspace();
    let out = ws.concord(&["set", "T1", "In progress", "--note", "picked up"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("T1: (no hub value) -> in_progress (SET_BY_USER"),
        "{}",
        out.stdout
    );
    let again = ws.concord(&["set", "T1", "in_progress"]);
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.contains("already in_progress"),
        "{}",
        again.stdout
    );

    let status = ws.concord(&["status", "T1", "--json"]);
    let report = status.json();
    let sources: Vec<_> = report["items"][0]["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            (
                s["source"].as_str().unwrap_or("").to_string(),
                s["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        sources,
        [
            ("plans".to_string(), "todo".to_string()),
            ("hub".to_string(), "in_progress".to_string())
        ]
    );
    assert_eq!(status.code, 1, "plans and hub disagree");

    let history = ws.concord(&["history", "T1", "--json"]);
    assert_eq!(history.code, 0);
    let entries = history.json()["entries"].clone();
    assert_eq!(entries.as_array().map(Vec::len), Some(1));
    assert_eq!(entries[0]["to"], "in_progress");
    assert_eq!(entries[0]["note"], "picked up");
    assert_eq!(entries[0]["reason"], "SET_BY_USER");
    let text = ws.concord(&["history", "T1"]);
    assert!(
        text.stdout.contains("status: (none) -> in_progress"),
        "{}",
        text.stdout
    );
}

#[test]
fn set_refuses_unknown_statuses_and_unforced_reopens() {
    let ws = workspace();
    let out = ws.concord(&["set", "T1", "dnoe"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("did you mean `done`?"),
        "{}",
        out.stderr
    );
    let out = ws.concord(&["set", "NOPE", "done"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no source holds an item `NOPE`"),
        "{}",
        out.stderr
    );

    // T2 is done in its plan: todo is a reopen.
    let out = ws.concord(&["set", "T2", "todo"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.contains("reopen"), "{}", out.stderr);
    let history = ws.concord(&["history", "T2", "--json"]).json()["entries"].clone();
    assert_eq!(
        history.as_array().map(Vec::len),
        Some(0),
        "nothing journaled"
    );
    let out = ws.concord(&["set", "T2", "todo", "--force", "--note", "regressed in QA"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let history = ws.concord(&["history", "T2", "--json"]).json()["entries"].clone();
    assert_eq!(history[0]["reason"], "REOPENED");
}

#[test]
fn log_appends_to_journal_and_in_repo_log_keeping_bytes() {
    let ws = workspace();
    let original = "{\n  \"feature\": \"onboarding\",\n  \"events\": [\n    {\n      \"timestamp\": \"2026-01-01T00:00:00Z\",\n      \"event_type\": \"phase_started\",\n      \"summary\": \"caf\\u00e9 \\\"quoted\\\"\"\n    }\n  ]\n}\n";
    let log = ws.write("app/logs/onboarding.log.json", original);
    let out = ws.concord(&[
        "log",
        "onboarding",
        "--event",
        "phase_approved",
        "--phase",
        "implementation",
        "--summary",
        "ready to build",
        "--artifact",
        "docs/prd.md",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let after = std::fs::read_to_string(&log).expect("log file");
    let inserted_at = original.rfind("\n  ]").expect("end of events");
    assert!(
        after.starts_with(&original[..inserted_at]),
        "earlier bytes kept:\n{after}"
    );
    assert!(
        after.ends_with(&original[inserted_at..]),
        "closing bytes kept:\n{after}"
    );
    let parsed: serde_json::Value = serde_json::from_str(&after).expect("still JSON");
    let events = parsed["events"].as_array().expect("events");
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["event_type"], "phase_approved");
    assert_eq!(events[1]["phase"], "implementation");
    assert_eq!(events[1]["artifacts"][0], "docs/prd.md");

    let history = ws.concord(&["history", "onboarding", "--json"]).json()["entries"].clone();
    assert_eq!(history[0]["kind"], "event");
    assert_eq!(history[0]["event_type"], "phase_approved");
    assert_eq!(history[0]["artifacts"][0], "docs/prd.md");

    // A key without a log file yet gets a new one.
    std::fs::remove_file(&log).expect("remove");
    let out = ws.concord(&["log", "onboarding", "--event", "note"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let created: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&log).expect("created")).expect("json");
    assert_eq!(created["events"][0]["event_type"], "note");
}

#[test]
fn log_into_invalid_json_is_refused_and_nothing_changes() {
    let ws = workspace();
    let broken = "{\n  \"events\": [\n    {\"event_type\": \"x\"},\n  ]\n}\n";
    let log = ws.write("app/logs/onboarding.log.json", broken);
    let out = ws.concord(&["log", "onboarding", "--event", "phase_started"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.contains("refused to log into"), "{}", out.stderr);
    assert!(out.stderr.contains("line 4"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&log).expect("log"), broken);
    let history = ws.concord(&["history", "onboarding", "--json"]).json()["entries"].clone();
    assert_eq!(history.as_array().map(Vec::len), Some(0));
}

#[test]
fn export_then_import_into_a_new_hub_is_lossless() {
    let ws = workspace();
    assert_eq!(ws.concord(&["set", "T1", "done"]).code, 0);
    assert_eq!(
        ws.concord(&["log", "onboarding", "--event", "shipped"])
            .code,
        0
    );
    let first = ws.concord(&["hub", "export"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let backup = ws.write("backup.jsonl", &first.stdout);

    // A second workspace with its own (empty) hub.
    let other = workspace();
    let out = other.concord(&["hub", "import", backup.to_str().expect("path")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let second = other.concord(&["hub", "export"]);
    assert_eq!(first.stdout, second.stdout);
    let out = other.concord(&["hub", "import", backup.to_str().expect("path")]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("not empty"), "{}", out.stderr);

    let to_file = ws.concord(&["hub", "export", "--output", "again.jsonl"]);
    assert_eq!(to_file.code, 0);
    assert_eq!(
        std::fs::read_to_string(ws.path().join("again.jsonl")).expect("file"),
        first.stdout
    );
}

#[test]
fn scan_records_observations_and_no_hub_does_not() {
    let ws = workspace();
    assert_eq!(ws.concord(&["scan", "--no-hub"]).code, 0);
    assert!(
        !ws.path().join(".concord/hub.db").exists(),
        "--no-hub must not create the hub"
    );
    assert_eq!(ws.concord(&["scan"]).code, 0);
    let export = ws.concord(&["hub", "export"]).stdout;
    assert_eq!(export.matches("\"table\":\"observations\"").count(), 3);
    assert_eq!(export.matches("\"table\":\"runs\"").count(), 1);
}

#[test]
fn a_hub_file_that_is_not_sqlite_is_refused_and_left_as_it_is() {
    let ws = workspace();
    let garbage = "not a database, someone's notes\n";
    ws.write(".concord/hub.db", garbage);
    for args in [&["status"][..], &["set", "T1", "done"], &["history", "T1"]] {
        let out = ws.concord(args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("not a database"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(ws.path().join(".concord/hub.db")).expect("hub file"),
        garbage,
        "the file is not touched"
    );
}

#[test]
fn bad_hub_urls_and_unreachable_servers_exit_2() {
    let ws = workspace();
    let out = run_with_hub(&ws, "mysql://localhost/db", &["scan"]);
    assert_eq!(out.code, 2, "a configuration error: {}", out.stderr);
    assert!(
        out.stderr
            .contains("$CONCORD_HUB_URL: hub url `mysql://localhost/db` is neither"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.is_empty(),
        "refused before reading: {}",
        out.stdout
    );
    let out = run_with_hub(&ws, "mysql://localhost/db", &["set", "T1", "done"]);
    assert_eq!(out.code, 2);
    let out = run_with_hub(
        &ws,
        "postgres://concord:s3cret@127.0.0.1:1/none",
        &["history", "T1"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("cannot open the hub"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("s3cret"),
        "password leaked: {}",
        out.stderr
    );
}

#[test]
fn a_hub_from_a_newer_concord_is_refused() {
    let ws = workspace();
    assert_eq!(ws.concord(&["scan"]).code, 0);
    let db = ws.path().join(".concord/hub.db");
    let conn = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3; c = sqlite3.connect('{}'); c.execute(\"INSERT INTO concord_schema VALUES (42, 'future')\"); c.commit()",
            db.display()
        ))
        .status()
        .expect("python3");
    assert!(conn.success());
    let before = std::fs::read(&db).expect("db");
    let out = ws.concord(&["set", "T1", "done"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("newer than this concord knows"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&db).expect("db"), before, "untouched");
}

#[cfg(unix)]
#[test]
fn a_read_only_hub_file_is_not_written() {
    use std::os::unix::fs::PermissionsExt;
    let ws = workspace();
    assert_eq!(ws.concord(&["scan"]).code, 0);
    // Fold the WAL into the main file so the read-only copy is complete.
    assert_eq!(ws.concord(&["hub", "migrate"]).code, 0);
    let db = ws.path().join(".concord/hub.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let out = ws.concord(&["set", "T1", "done"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr.contains("read-only") || out.stderr.contains("readonly"),
        "{}",
        out.stderr
    );
}

#[cfg(unix)]
#[test]
fn a_killed_import_leaves_all_or_nothing() {
    let ws = workspace();
    // A big export: many journal rows.
    let mut text = String::from("{\"format\":\"concord-hub-export\",\"version\":1,\"schema\":1}\n");
    for i in 1..=60_000 {
        text.push_str(&format!(
            "{{\"table\":\"journal\",\"row\":{{\"id\":{i},\"at\":\"2026-11-24T10:00:00Z\",\"run_id\":null,\"actor\":\"a@b\",\"key\":\"K{i}\",\"kind\":\"event\",\"field\":null,\"from\":null,\"to\":null,\"target\":null,\"reason\":\"EVENT_LOGGED\",\"note\":\"n\",\"event_type\":\"e\",\"phase\":null,\"artifacts\":[]}}}}\n"
        ));
    }
    let file = ws.write("big.jsonl", &text);
    assert_eq!(ws.concord(&["hub", "migrate"]).code, 0);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("concord"))
        .current_dir(ws.path())
        .args([
            "hub",
            "import",
            "--unverified",
            file.to_str().expect("path"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Kill it mid-write: once its transaction has started filling the WAL.
    let wal = ws.path().join(".concord/hub.db-wal");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::metadata(&wal).map_or(0, |m| m.len()) < 512 * 1024
        && std::time::Instant::now() < deadline
        && child.try_wait().ok().flatten().is_none()
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    let export = ws.concord(&["hub", "export"]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    // Less the header and the trailer.
    let rows = export.stdout.lines().count() - 2;
    println!("the killed import left {rows} rows");
    assert!(rows == 0 || rows == 60_000, "torn import: {rows} rows");
    if rows == 0 {
        // The hub is intact: the same import now completes.
        let out = ws.concord(&[
            "hub",
            "import",
            "--unverified",
            file.to_str().expect("path"),
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
}

fn run_with_hub(ws: &TestWorkspace, url: &str, args: &[&str]) -> common::Output {
    let output = assert_cmd::Command::cargo_bin("concord")
        .expect("binary")
        .current_dir(ws.path())
        .env("NO_COLOR", "1")
        .env("CONCORD_HUB_URL", url)
        .args(args)
        .output()
        .expect("run");
    common::Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The same commands against PostgreSQL, in a schema of this test's own.
#[test]
fn the_commands_work_the_same_on_postgres() {
    let Some(schema) = concord_test_support::PgSchema::create("concord_cli") else {
        return;
    };
    let url = schema.url();
    let ws = workspace();
    let out = run_with_hub(&ws, &url, &["set", "T1", "done", "--note", "on postgres"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run_with_hub(&ws, &url, &["log", "onboarding", "--event", "shipped"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let history = run_with_hub(&ws, &url, &["history", "T1", "--json"]);
    let entries: serde_json::Value = serde_json::from_str(&history.stdout).expect("json");
    assert_eq!(entries["entries"][0]["note"], "on postgres");
    let export = run_with_hub(&ws, &url, &["hub", "export"]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    assert!(
        export.stdout.contains("\"table\":\"journal\""),
        "{}",
        export.stdout
    );
    assert!(
        !ws.path().join(".concord/hub.db").exists(),
        "nothing went to SQLite"
    );
}

/// A file that cannot be read says nothing about its items: the hub keeps
/// what it recorded of them (unknown is not absent).
#[test]
fn an_unreadable_file_does_not_erase_what_the_hub_knows() {
    let ws = workspace();
    assert_eq!(ws.concord(&["scan"]).code, 0);
    let before = ws.concord(&["hub", "export"]).stdout;
    assert!(before.contains("\"key\":\"onboarding\""), "{before}");
    ws.write("app/features/onboarding/state.json", "{ not json");
    assert_eq!(ws.concord(&["scan"]).code, 1);
    let after = ws.concord(&["hub", "export"]).stdout;
    assert!(
        after.contains("\"key\":\"onboarding\""),
        "still known: {after}"
    );
    // Gone for real: the file is deleted and the next full read forgets it.
    std::fs::remove_file(ws.path().join("app/features/onboarding/state.json")).expect("rm");
    ws.concord(&["scan"]);
    let gone = ws.concord(&["hub", "export"]).stdout;
    assert!(
        !gone.contains("\"source\":\"features\",\"key\":\"onboarding\""),
        "{gone}"
    );
}

/// The hub's disk fills up in the middle of a sync (a tiny tmpfs under the
/// hub, in a private mount namespace so nothing outside the test sees it).
/// The sync fails cleanly: exit 3 with what to do, no value recorded
/// without its journal entry, no file torn; once there is room, the next
/// sync picks up and converges.
#[test]
fn a_full_disk_under_the_hub_fails_cleanly_and_the_next_sync_converges() {
    let ws = TestWorkspace::new();
    ws.config(&format!(
        "[[repo]]\nname = \"app\"\npath = \"app\"\n{TASK_WORKFLOW}\n[[source]]\nname = \"plans\"\nrepo = \"app\"\nformat = \"task-blocks\"\nglob = \"docs/*.md\"\nworkflow = \"task\"\n\n[[sync]]\nname = \"tasks\"\nmode = \"merge\"\nbetween = [\"plans\", \"hub\"]\n"
    ));
    ws.write("app/docs/plan.md", "```task\nid: T1\nstatus: todo\n```\n");
    let many: String = (0..20_000)
        .map(|i| format!("```task\nid: M{i}\nstatus: in_progress\n```\n"))
        .collect();
    ws.write("many.md", &many);
    let hub_dir = ws.path().join("hubdisk");
    std::fs::create_dir_all(&hub_dir).expect("hub dir");
    let concord = assert_cmd::cargo::cargo_bin("concord");
    let script = r#"
set -u
mount -t tmpfs -o size=1m tmpfs "$HUB_DIR" 2>/dev/null || exit 97
export CONCORD_HUB_URL="sqlite://$HUB_DIR/hub.db" NO_COLOR=1
step() { name=$1; shift; "$CONCORD" "$@" >"out/$name.out" 2>"out/$name.err"; echo $? >"out/$name.rc"; }
mkdir -p out
step first sync
step set set T1 done
mv many.md app/docs/many.md
step full sync
step midexport hub export
mount -o remount,size=64m "$HUB_DIR"
step again sync
step last sync
step endexport hub export
"#;
    let status = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "bash", "-c", script])
        .current_dir(ws.path())
        .env("HUB_DIR", &hub_dir)
        .env("CONCORD", &concord)
        .env_remove("CONCORD_HUB_URL")
        .env_remove("CONCORD_CONFIG")
        .status();
    match status.map(|s| s.code()) {
        Ok(Some(0)) => {}
        other => {
            println!(
                "skipped: no private tmpfs here (unshare --user --mount: {other:?}), so a full disk cannot be simulated"
            );
            return;
        }
    }
    let read =
        |name: &str| std::fs::read_to_string(ws.path().join("out").join(name)).unwrap_or_default();
    let rc = |name: &str| read(&format!("{name}.rc")).trim().to_string();
    assert_eq!(rc("first"), "0", "{}", read("first.err"));
    assert_eq!(rc("set"), "0", "{}", read("set.err"));
    assert_eq!(
        rc("full"),
        "3",
        "a full disk is a partial failure: {}",
        read("full.out")
    );
    let err = read("full.err");
    assert!(err.contains("full"), "{err}");
    assert!(err.contains("Free space"), "says what to do: {err}");
    // Nothing half-recorded: every hub value the failed run recorded has
    // its journal entry.
    let rows: Vec<serde_json::Value> = read("midexport.out")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let journaled: std::collections::HashSet<&str> = rows
        .iter()
        .filter(|r| r["table"] == "journal")
        .filter_map(|r| r["row"]["key"].as_str())
        .collect();
    for value in rows.iter().filter(|r| r["table"] == "hub_values") {
        let key = value["row"]["key"].as_str().unwrap_or("");
        assert!(
            journaled.contains(key),
            "{key} recorded without a journal entry"
        );
    }
    // The plan file is whole: T1 reads todo or done, never a torn mix.
    let plan = std::fs::read_to_string(ws.path().join("app/docs/plan.md")).expect("plan");
    assert!(
        plan == "```task\nid: T1\nstatus: todo\n```\n"
            || plan == "```task\nid: T1\nstatus: done\n```\n",
        "{plan}"
    );
    // With room again, one sync converges and the next has nothing to do.
    assert_eq!(
        rc("again"),
        "0",
        "{}\n{}",
        read("again.out"),
        read("again.err")
    );
    assert_eq!(rc("last"), "0", "{}", read("last.out"));
    assert_eq!(
        std::fs::read_to_string(ws.path().join("app/docs/plan.md")).expect("plan"),
        "```task\nid: T1\nstatus: done\n```\n"
    );
    let end = read("endexport.out");
    let values = end
        .lines()
        .filter(|l| l.starts_with("{\"table\":\"hub_values\""))
        .count();
    assert_eq!(values, 20_001, "every item reached the hub");
}
