//! A plan table mirrored to OpenProject, end to end: `concord` against the
//! fake OpenProject over real HTTP, with a real SQLite hub.

mod common;
use common::Output;
use concord_fakes::Fault;
use concord_fakes::openproject::FakeOpenProject;
use std::io::{Read, Write};
use std::process::Command;

const TOKEN: &str = "op-secret-token-1234";

struct World {
    dir: tempfile::TempDir,
    op: FakeOpenProject,
    /// Plan row -> work package id.
    ids: Vec<u64>,
}

const WORKFLOW: &str = r#"
[[workflow]]
name = "wp"
statuses = [
  { name = "New",         rank = 0 },
  { name = "In progress", rank = 1 },
  { name = "In testing",  rank = 2 },
  { name = "Closed",      rank = 3 },
]
"#;

impl World {
    /// OpenProject with the statuses `server_statuses`, and one work
    /// package per `(plan status, OpenProject status)`.
    fn new(server_statuses: &[&str], rows: &[(&str, &str)]) -> World {
        let op = FakeOpenProject::start(TOKEN).expect("fake OpenProject");
        for status in server_statuses {
            op.add_status(status, *status == "Closed");
        }
        op.add_project("demo");
        let ids: Vec<u64> = rows
            .iter()
            .enumerate()
            .map(|(i, (_, now))| op.add_work_package("demo", &format!("Task {i}"), now))
            .collect();
        let mut table = String::from(
            "# Plan\n\n| Track | Work package | Status |\n|-------|--------------|--------|\n",
        );
        for ((plan, _), id) in rows.iter().zip(&ids) {
            table.push_str(&format!("| Core | wp#{id} | **{plan}** |\n"));
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("plan/docs")).expect("dirs");
        std::fs::write(dir.path().join("plan/docs/plan.md"), table).expect("plan");
        std::fs::write(
            dir.path().join("concord.toml"),
            format!(
                r#"
[[repo]]
name = "plan"
path = "plan"
{WORKFLOW}
[[source]]
name = "plan"
repo = "plan"
format = "table"
glob = "docs/plan.md"
header = "| Track | Work package | Status |"
key_column = "Work package"
key_regex = 'wp#(\d+)'
key = "wp#{{1}}"
status = "Status"
workflow = "wp"

[[tracker]]
name = "openproject"
kind = "openproject"
url = "{}"
token_env = "TEST_OP_TOKEN"
key = "wp#{{id}}"
workflow = "wp"
comment = true
concurrency = 4

[[sync]]
name = "plan-drives-openproject"
mode = "mirror"
from = "plan"
to = ["openproject", "hub"]
"#,
                op.url()
            ),
        )
        .expect("config");
        World { dir, op, ids }
    }

    fn command(&self, token: Option<&str>, args: &[&str]) -> Command {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("concord"));
        command
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("CONCORD_ACTOR", "tester@ci")
            .env_remove("CONCORD_CONFIG")
            .env_remove("CONCORD_HUB_URL")
            .env_remove("TEST_OP_TOKEN")
            .args(args);
        if let Some(token) = token {
            command.env("TEST_OP_TOKEN", token);
        }
        command
    }

    fn concord_with(&self, token: Option<&str>, args: &[&str]) -> Output {
        let output = self.command(token, args).output().expect("run concord");
        let out = Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains(TOKEN), "the token was printed:\n{text}");
        }
        out
    }

    fn concord(&self, args: &[&str]) -> Output {
        self.concord_with(Some(TOKEN), args)
    }

    fn patches(&self) -> usize {
        self.op.control().count("PATCH", "/api/v3/work_packages")
    }
}

#[test]
fn the_plan_drives_openproject_and_a_second_run_sends_no_patch() {
    let world = World::new(
        &["New", "In progress", "In testing", "Closed"],
        &[
            ("Closed", "In progress"),
            ("In progress", "New"),
            ("New", "New"),
            ("In testing", "In testing"),
        ],
    );
    let out = world.concord(&["sync"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let [a, b, c, d] = world.ids[..] else {
        panic!("four work packages")
    };
    assert_eq!(world.op.status_of(a), "Closed");
    assert_eq!(world.op.status_of(b), "In progress");
    assert_eq!(world.op.status_of(c), "New");
    assert_eq!(world.op.status_of(d), "In testing");
    // Only the two drifted items were written; reads were in bulk.
    assert_eq!(world.patches(), 2, "{:#?}", world.op.control().requests());
    let gets = world.op.control().count("GET", "/api/v3/work_packages");
    assert!(gets <= 1, "one bulk read, got {gets}");
    assert!(
        world.op.comments(a)[0].contains("In progress -> Closed"),
        "{:?}",
        world.op.comments(a)
    );
    assert!(world.op.comments(c).is_empty(), "in sync: untouched");

    world.op.control().clear_log();
    let again = world.concord(&["sync"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("0 applied"), "{}", again.stdout);
    assert_eq!(world.patches(), 0, "a second run makes no PATCH");

    // diff previews, status shows both sides.
    world.op.edit_externally(d, "Closed");
    let diff = world.concord(&["diff"]);
    assert_eq!(diff.code, 1, "{}", diff.stdout);
    assert!(diff.stdout.contains(&format!("wp#{d}")), "{}", diff.stdout);
    assert_eq!(world.patches(), 0, "diff writes nothing");
    let status = world.concord(&["status", &format!("wp#{d}"), "--json"]);
    let json: serde_json::Value = serde_json::from_str(&status.stdout).expect("json");
    let sources: Vec<(String, String)> = json["items"][0]["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            (
                s["source"].as_str().unwrap_or("").to_string(),
                s["raw"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        sources.contains(&("plan".into(), "In testing".into()))
            && sources.contains(&("openproject".into(), "Closed".into())),
        "{sources:?}"
    );
}

#[test]
fn an_incident_replay_reverts_six_out_of_band_edits_and_journals_each() {
    let rows: Vec<(&str, &str)> = vec![("New", "New"); 6];
    let world = World::new(&["New", "In progress", "In testing", "Closed"], &rows);
    let agreed = world.concord(&["sync"]);
    assert_eq!(agreed.code, 0, "{}{}", agreed.stdout, agreed.stderr);
    // The incident: someone bulk-edits six work packages in the UI.
    for id in &world.ids {
        world.op.edit_externally(*id, "In progress");
    }
    let out = world.concord(&["sync", "--json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let to_openproject: Vec<&serde_json::Value> = report["applied"]
        .as_array()
        .expect("applied")
        .iter()
        .filter(|a| a["target"] == "openproject")
        .collect();
    assert_eq!(to_openproject.len(), 6, "{report:#}");
    assert!(
        to_openproject
            .iter()
            .all(|a| a["reason"] == "REVERTED_OUT_OF_BAND" && a["to"] == "New"),
        "{report:#}"
    );
    for id in &world.ids {
        assert_eq!(world.op.status_of(*id), "New");
        let history = world.concord(&["history", &format!("wp#{id}")]);
        assert!(
            history.stdout.contains("REVERTED_OUT_OF_BAND"),
            "{}",
            history.stdout
        );
    }
}

#[test]
fn a_status_openproject_lacks_fails_that_item_only_naming_what_it_has() {
    let world = World::new(
        &["New", "In progress", "Closed"],
        &[
            ("In testing", "New"),
            ("Closed", "New"),
            ("In progress", "New"),
        ],
    );
    let out = world.concord(&["sync"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("OpenProject has no status `In testing` (it has: New, In progress, Closed)"),
        "{}",
        out.stdout
    );
    assert_eq!(world.op.status_of(world.ids[0]), "New");
    assert_eq!(world.op.status_of(world.ids[1]), "Closed");
    assert_eq!(world.op.status_of(world.ids[2]), "In progress");
}

#[test]
fn an_edit_between_read_and_write_is_read_again_and_converges() {
    let world = World::new(
        &["New", "In progress", "In testing", "Closed"],
        &[("Closed", "New"), ("In progress", "New")],
    );
    let mut child = world
        .command(Some(TOKEN), &["sync", "--confirm"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("[y/N] ") {
        let n = stdout.read(&mut buf).expect("read");
        assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    // Someone moves the first work package on in the UI meanwhile.
    let first = world.ids[0];
    let before = world.op.lock_version(first);
    world.op.edit_externally(first, "In testing");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"y\ny\n").expect("answer");
    drop(stdin);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("read");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("read and planned again"), "{rest}");
    assert!(
        world
            .op
            .control()
            .requests()
            .iter()
            .any(|r| r.method == "PATCH" && r.status == 409),
        "the first write met a conflict"
    );
    assert_eq!(world.op.status_of(first), "Closed");
    assert!(world.op.lock_version(first) > before + 1);
    assert_eq!(world.op.status_of(world.ids[1]), "In progress");
}

#[test]
fn a_refused_token_stops_the_tracker_with_exit_3_and_records_nothing_as_done() {
    let world = World::new(
        &["New", "In progress", "In testing", "Closed"],
        &[("Closed", "New"), ("In progress", "New")],
    );
    let out = world.concord_with(Some("wrong-token"), &["sync"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("tracker openproject not read"),
        "{}",
        out.stdout
    );
    assert_eq!(world.patches(), 0);
    // Nothing agreed: with the right token, everything is still to do.
    let fixed = world.concord(&["sync", "--json"]);
    assert_eq!(fixed.code, 0, "{}{}", fixed.stdout, fixed.stderr);
    let report: serde_json::Value = serde_json::from_str(&fixed.stdout).expect("json");
    let written = report["applied"]
        .as_array()
        .expect("applied")
        .iter()
        .filter(|a| a["target"] == "openproject")
        .count();
    assert_eq!(written, 2, "{report:#}");
}

#[test]
fn a_token_refused_mid_write_stops_the_remaining_writes() {
    let world = World::new(
        &["New", "In progress", "In testing", "Closed"],
        &[("Closed", "New"), ("Closed", "New"), ("Closed", "New")],
    );
    world.op.control().inject(
        Fault::status(401, "/api/v3/work_packages/", 1)
            .method("PATCH")
            .body(
                "application/hal+json",
                r#"{"_type":"Error","errorIdentifier":"urn:openproject-org:api:v3:errors:Unauthenticated","message":"You need to be authenticated to access this resource."}"#,
            ),
    );
    let out = world.concord(&["sync"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("the token was refused"),
        "{}",
        out.stdout
    );
    let closed = world
        .ids
        .iter()
        .filter(|id| world.op.status_of(**id) == "Closed")
        .count();
    assert!(closed < 3, "the writes stopped");
    // The journal holds exactly the writes that landed.
    for id in &world.ids {
        let history = world.concord(&["history", &format!("wp#{id}")]);
        let journaled = history.stdout.matches("in openproject").count();
        let landed = usize::from(world.op.status_of(*id) == "Closed");
        assert_eq!(journaled, landed, "{}", history.stdout);
    }
}

#[test]
fn a_missing_token_skips_the_tracker_with_a_note_unless_strict() {
    let world = World::new(&["New", "Closed"], &[("Closed", "New")]);
    let out = world.concord_with(None, &["sync"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("tracker `openproject` skipped: TEST_OP_TOKEN is not set"),
        "{}",
        out.stdout
    );
    assert_eq!(world.op.control().requests().len(), 0);
    let strict = world.concord_with(None, &["sync", "--strict"]);
    assert_eq!(strict.code, 2, "{}{}", strict.stdout, strict.stderr);
    assert!(strict.stderr.contains("TEST_OP_TOKEN"), "{}", strict.stderr);
}

#[test]
fn a_key_template_that_matches_no_plan_key_is_a_configuration_error() {
    let world = World::new(&["New", "Closed"], &[("Closed", "New")]);
    let config = world.dir.path().join("concord.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replace("key = \"wp#{id}\"", "key = \"OP-{id}\""),
    )
    .expect("write");
    let out = world.concord(&["sync"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("`OP-42`") && out.stderr.contains("`wp#"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_plan_row_naming_a_missing_work_package_is_reported_and_the_rest_proceed() {
    let world = World::new(&["New", "Closed"], &[("Closed", "New")]);
    let plan = world.dir.path().join("plan/docs/plan.md");
    let mut text = std::fs::read_to_string(&plan).expect("plan");
    text.push_str("| Core | wp#999 | **New** |\n");
    std::fs::write(&plan, text).expect("write");
    let out = world.concord(&["sync"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("not found wp#999 in openproject: the tracker has no such item"),
        "{}",
        out.stdout
    );
    assert_eq!(world.op.status_of(world.ids[0]), "Closed");
}

#[test]
fn an_empty_status_list_stops_the_tracker_clearly() {
    let world = World::new(&[], &[]);
    let plan = world.dir.path().join("plan/docs/plan.md");
    let mut text = std::fs::read_to_string(&plan).expect("plan");
    text.push_str("| Core | wp#1 | **New** |\n");
    std::fs::write(&plan, text).expect("write");
    let out = world.concord(&["sync"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("OpenProject listed no statuses"),
        "{}",
        out.stdout
    );
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", out.stdout, out.stderr))
}

/// The ways OpenProject can fail to be read: a refused token, an HTML page
/// where the API's JSON should be, an answer cut short.
fn unreadable_openprojects() -> Vec<(&'static str, Option<Fault>, &'static str)> {
    vec![
        ("refused token", None, "wrong-token"),
        (
            "HTML answer",
            Some(Fault::status(200, "/api/v3/statuses", 10).body(
                "text/html",
                "<!DOCTYPE html><html><body>Sign in to OpenProject</body></html>",
            )),
            TOKEN,
        ),
        (
            "truncated answer",
            Some(Fault::status(200, "/api/v3/statuses", 10).body(
                "application/hal+json",
                r#"{"_type":"Collection","total":4,"_embedded":{"elements":[{"_type":"Status","id":1,"na"#,
            )),
            TOKEN,
        ),
    ]
}

/// Issue 18, 1: an OpenProject that was not read makes its items unknown
/// in `diff` and `status` (never "in sync"), says why, and exits 3.
#[test]
fn diff_and_status_call_items_unknown_when_openproject_was_not_read() {
    for (case, fault, token) in unreadable_openprojects() {
        let world = World::new(
            &["New", "In progress", "In testing", "Closed"],
            &[("Closed", "Closed"), ("New", "New")],
        );
        // The plan and the hub agree: only OpenProject is in question.
        let agreed = world.concord(&["sync"]);
        assert_eq!(
            agreed.code, 0,
            "[{case}] {}{}",
            agreed.stdout, agreed.stderr
        );
        if let Some(fault) = &fault {
            world.op.control().inject(fault.clone());
        }
        let diff = world.concord_with(Some(token), &["diff"]);
        assert_eq!(diff.code, 3, "[{case}] {}{}", diff.stdout, diff.stderr);
        assert!(
            !diff.stdout.contains("IN_SYNC"),
            "[{case}] nothing is in sync: {}",
            diff.stdout
        );
        for id in &world.ids {
            assert!(
                diff.stdout
                    .contains(&format!("wp#{id}  openproject: not read")),
                "[{case}] wp#{id} is unknown: {}",
                diff.stdout
            );
        }
        assert!(
            diff.stderr.contains("openproject not read"),
            "[{case}] why, on stderr: {}",
            diff.stderr
        );
        if let Some(fault) = &fault {
            world.op.control().inject(fault.clone());
        }
        let report = json(&world.concord_with(Some(token), &["diff", "--json"]));
        assert_eq!(
            report["decisions"]["SOURCE_UNREAD"], 2,
            "[{case}] {report:#}"
        );
        assert!(
            report["decisions"].get("IN_SYNC").is_none(),
            "[{case}] {report:#}"
        );
        assert_eq!(
            report["sources_not_read"][0]["failed"], true,
            "[{case}] {report:#}"
        );

        if let Some(fault) = &fault {
            world.op.control().inject(fault.clone());
        }
        let status = world.concord_with(Some(token), &["status", "--json"]);
        assert_eq!(
            status.code, 3,
            "[{case}] {}{}",
            status.stdout, status.stderr
        );
        let report = json(&status);
        assert_eq!(report["summary"]["unknown"], 2, "[{case}] {report:#}");
        for item in report["items"].as_array().expect("items") {
            assert_eq!(item["unknown"][0], "openproject", "[{case}] {item:#}");
        }
        assert!(
            report["sources_not_read"][0]["why"]
                .as_str()
                .is_some_and(|w| !w.is_empty()),
            "[{case}] {report:#}"
        );
        if let Some(fault) = &fault {
            world.op.control().inject(fault.clone());
        }
        let text = world.concord_with(Some(token), &["status"]);
        assert!(
            text.stdout.contains("openproject: ? (not read)") && text.stdout.contains("2 unknown"),
            "[{case}] {}",
            text.stdout
        );
    }
}

/// Issue 18, 1: a token that is not set yet is a choice, not a failure:
/// the items are still unknown, a note says why, and the run exits 0;
/// `--strict` makes it a configuration error (2) everywhere.
#[test]
fn an_unset_token_is_a_note_in_diff_and_status_and_strict_makes_it_an_error() {
    let world = World::new(&["New", "Closed"], &[("Closed", "New")]);
    let first = world.concord_with(None, &["sync"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    for command in ["diff", "status", "sync"] {
        let out = world.concord_with(None, &[command]);
        assert_eq!(out.code, 0, "{command}: {}{}", out.stdout, out.stderr);
        let said = format!("{}{}", out.stdout, out.stderr);
        assert!(
            said.contains("TEST_OP_TOKEN is not set"),
            "{command}: {said}"
        );
        let strict = world.concord_with(None, &[command, "--strict"]);
        assert_eq!(strict.code, 2, "{command} --strict: {}", strict.stderr);
        assert!(strict.stderr.contains("TEST_OP_TOKEN"), "{}", strict.stderr);
    }
    let report = json(&world.concord_with(None, &["diff", "--json"]));
    assert_eq!(report["decisions"]["SOURCE_UNREAD"], 1, "{report:#}");
    assert_eq!(report["sources_not_read"][0]["failed"], false, "{report:#}");
    assert_eq!(world.op.control().requests().len(), 0, "nothing was asked");
}

/// The seed's table: a row without `wp#NN`, a row without a bold state,
/// and a bold word that is not a state.
fn seed_shaped_plan(world: &World) {
    let plan = world.dir.path().join("plan/docs/plan.md");
    let mut text = std::fs::read_to_string(&plan).expect("plan");
    text.push_str("| Core | (no work package yet) | **New** |\n");
    text.push_str(&format!("| Core | wp#{} | not started |\n", world.ids[1]));
    text.push_str(&format!(
        "| Core | wp#{} | **Parked KEEP_AVAILABLE** |\n",
        world.ids[2]
    ));
    std::fs::write(&plan, text).expect("write");
}

fn commit_all(dir: &std::path::Path, message: &str) {
    for args in [
        vec!["add", "-A"],
        vec![
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-qm",
            message,
        ],
    ] {
        let ok = Command::new("git")
            .current_dir(dir)
            .args(&args)
            .status()
            .expect("git")
            .success();
        assert!(ok, "git {args:?}");
    }
}

/// Issue 18, 2 and 3: rows the seed says to skip are warnings on standard
/// error, on every run (also when the file is not read again), and never
/// change the exit code unless `--fail-on-warnings` asks; a bold word that
/// is not a state is skipped with a warning under `unknown_status = "skip"`
/// and holds the item under the default `hold`.
#[test]
fn skipped_rows_warn_on_every_run_and_never_fail_it() {
    let world = World::new(
        &["New", "In progress", "In testing", "Closed"],
        &[("Closed", "New"), ("New", "New"), ("New", "New")],
    );
    // The third row's word is replaced by `**Parked KEEP_AVAILABLE**`.
    let plan = world.dir.path().join("plan/docs/plan.md");
    let text = std::fs::read_to_string(&plan).expect("plan");
    let rows: Vec<&str> = text.lines().collect();
    let kept: Vec<&str> = rows[..rows.len() - 2].to_vec();
    std::fs::write(&plan, kept.join("\n") + "\n").expect("write");
    seed_shaped_plan(&world);
    let config = world.dir.path().join("concord.toml");
    let toml = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        toml.replace(
            "workflow = \"wp\"\n\n[[tracker]]",
            "workflow = \"wp\"\nunknown_status = \"skip\"\n\n[[tracker]]",
        ),
    )
    .expect("config");
    let repo = world.dir.path().join("plan");
    assert!(
        Command::new("git")
            .args(["init", "-q", "-b", "main"])
            .current_dir(&repo)
            .status()
            .expect("git")
            .success()
    );
    commit_all(&repo, "plan");

    for run in 1..=3 {
        let out = world.concord(&["sync", "--strict"]);
        assert_eq!(out.code, 0, "run {run}: {}{}", out.stdout, out.stderr);
        for says in [
            "line 6 skipped: no `wp#",
            "line 7 skipped: no bold status",
            "`Parked KEEP_AVAILABLE`",
        ] {
            assert!(
                out.stderr.contains(says),
                "run {run}: the warning about {says} is on stderr every run:\n{}",
                out.stderr
            );
        }
        assert!(!out.stdout.contains("warning"), "run {run}: {}", out.stdout);
    }
    // The runs after the first read no file again: their warnings are the
    // ones the hub recorded.
    let report = json(&world.concord(&["sync", "--json"]));
    assert_ne!(report["reads"]["plan"], "full", "{report:#}");
    assert_eq!(report["warnings"], 3, "{report:#}");
    assert_eq!(
        world.op.status_of(world.ids[0]),
        "Closed",
        "the good row synced"
    );
    assert_eq!(
        world.op.status_of(world.ids[2]),
        "New",
        "the parked row is left alone"
    );
    let failing = world.concord(&["sync", "--fail-on-warnings"]);
    assert_eq!(failing.code, 1, "{}", failing.stderr);
    for command in ["diff", "status"] {
        let out = world.concord(&[command]);
        assert_eq!(out.code, 0, "{command}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("`Parked KEEP_AVAILABLE`"),
            "{command}: {}",
            out.stderr
        );
        let out = world.concord(&[command, "--fail-on-warnings"]);
        assert_eq!(out.code, 1, "{command} --fail-on-warnings: {}", out.stderr);
    }

    // The default holds an item whose bold word is not a state.
    std::fs::write(&config, &toml).expect("config");
    let held = world.concord(&["sync"]);
    assert_eq!(held.code, 1, "{}{}", held.stdout, held.stderr);
    assert!(
        held.stdout.contains(&format!("wp#{}", world.ids[2]))
            && held.stdout.contains("UNKNOWN_STATUS"),
        "{}",
        held.stdout
    );
}

/// Issue 18, 4: `diff` catches before `sync` what the tracker would refuse:
/// a status it does not have (from the list it already fetched) and keys it
/// does not hold. Both are findings (1), and diff writes nothing.
#[test]
fn diff_catches_a_status_openproject_lacks_and_keys_it_does_not_hold() {
    let world = World::new(
        &["New", "In progress", "Closed"],
        &[("In testing", "New"), ("Closed", "New")],
    );
    let plan = world.dir.path().join("plan/docs/plan.md");
    let mut text = std::fs::read_to_string(&plan).expect("plan");
    text.push_str("| Core | wp#999 | **New** |\n");
    std::fs::write(&plan, text).expect("write");
    let diff = world.concord(&["diff"]);
    assert_eq!(diff.code, 1, "{}{}", diff.stdout, diff.stderr);
    assert!(
        diff.stdout.contains(&format!(
            "would fail wp#{} openproject -> In testing: OpenProject has no status `In testing` (it has: New, In progress, Closed)",
            world.ids[0]
        )),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout
            .contains("not found wp#999 in openproject: the tracker has no such item"),
        "{}",
        diff.stdout
    );
    let report = json(&world.concord(&["diff", "--json"]));
    assert_eq!(
        report["write_problems"][0]["to"], "In testing",
        "{report:#}"
    );
    assert_eq!(
        report["missing_in_trackers"][0]["key"], "wp#999",
        "{report:#}"
    );
    assert_eq!(world.patches(), 0, "diff writes nothing");
}

/// docs/trackers.md, 403: a token that may not read work packages stops the
/// tracker; diff says its items are unknown; both exit 3.
#[test]
fn a_token_without_permission_leaves_the_items_unknown_with_exit_3() {
    let world = World::new(&["New", "Closed"], &[("Closed", "New")]);
    let forbidden = Fault::status(403, "/api/v3/work_packages", 10).body(
        "application/hal+json",
        r#"{"_type":"Error","errorIdentifier":"urn:openproject-org:api:v3:errors:MissingPermission","message":"You are not authorized to access this resource."}"#,
    );
    world.op.control().inject(forbidden.clone());
    let sync = world.concord(&["sync"]);
    assert_eq!(sync.code, 3, "{}{}", sync.stdout, sync.stderr);
    assert!(
        sync.stdout
            .contains("refused the API token or its permissions"),
        "{}",
        sync.stdout
    );
    assert_eq!(world.patches(), 0);
    world.op.control().inject(forbidden);
    let diff = world.concord(&["diff"]);
    assert_eq!(diff.code, 3, "{}{}", diff.stdout, diff.stderr);
    assert!(
        diff.stdout
            .contains(&format!("wp#{}  openproject: not read", world.ids[0])),
        "{}",
        diff.stdout
    );
}

/// docs/trackers.md, 422: OpenProject rejects one write (a workflow rule,
/// say): that item is not applied with the server's message, the others
/// land, the run exits 3 and the next run tries it again.
#[test]
fn a_rejected_write_fails_that_item_with_the_servers_message() {
    let world = World::new(
        &["New", "In progress", "Closed"],
        &[("Closed", "New"), ("In progress", "New")],
    );
    world.op.control().inject(
        Fault::status(422, "/api/v3/work_packages/", 1)
            .method("PATCH")
            .body(
                "application/hal+json",
                r#"{"_type":"Error","errorIdentifier":"urn:openproject-org:api:v3:errors:PropertyConstraintViolation","message":"Status is invalid because no valid transition exists from old to new status for the current user's roles."}"#,
            ),
    );
    let out = world.concord(&["sync"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("no valid transition exists"),
        "the server's message: {}",
        out.stdout
    );
    let landed = world
        .ids
        .iter()
        .filter(|id| world.op.status_of(**id) != "New")
        .count();
    assert_eq!(landed, 1, "the other item landed");
    let again = world.concord(&["sync"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(world.op.status_of(world.ids[0]), "Closed");
    assert_eq!(world.op.status_of(world.ids[1]), "In progress");
}

/// docs/trackers.md, 429: a rate limit is waited out as `Retry-After` says
/// and the run ends clean.
#[test]
fn a_rate_limit_is_waited_out_and_the_run_ends_clean() {
    let world = World::new(&["New", "Closed"], &[("Closed", "New")]);
    world
        .op
        .control()
        .inject(Fault::status(429, "/api/v3/work_packages", 1).retry_after(1));
    let out = world.concord(&["sync"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(world.op.status_of(world.ids[0]), "Closed");
    let limited = world
        .op
        .control()
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(limited, 1, "one 429, then the retry");
}

/// docs/trackers.md, drift after a push: a plan edit shows in `diff` as
/// the change the next sync makes (with its reason), the sync makes it,
/// and `diff` is clean after.
#[test]
fn a_plan_edit_is_drift_until_the_next_sync_moves_the_work_package() {
    let world = World::new(&["New", "In progress", "Closed"], &[("New", "New")]);
    assert_eq!(world.concord(&["sync"]).code, 0);
    let plan = world.dir.path().join("plan/docs/plan.md");
    let text = std::fs::read_to_string(&plan).expect("plan");
    std::fs::write(&plan, text.replace("**New**", "**In progress**")).expect("write");
    let id = world.ids[0];
    let diff = world.concord(&["diff"]);
    assert_eq!(diff.code, 1, "{}{}", diff.stdout, diff.stderr);
    assert!(
        diff.stdout.contains(&format!(
            "wp#{id}  New -> In progress  (PROPAGATE, from plan"
        )),
        "{}",
        diff.stdout
    );
    assert_eq!(world.op.status_of(id), "New", "diff writes nothing");
    let sync = world.concord(&["sync"]);
    assert_eq!(sync.code, 0, "{}{}", sync.stdout, sync.stderr);
    assert_eq!(world.op.status_of(id), "In progress");
    let clean = world.concord(&["diff"]);
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
}
