//! `concord serve` in a real browser: the bundled example workspace is synced,
//! a real server is started, and headless Chromium (the Debian package at
//! `/usr/bin/chromium`, driven by `tests/browser/control_room.mjs` through
//! playwright-core) loads the control room, checks its counts against the
//! API and `concord status`, visits every panel (items not yet in the hub,
//! per-repo and per-source pages, mirrors, release trains), clicks through
//! to an item and saves screenshots at 1,280 and 390 px to
//! `target/browser-artifacts/`.
//!
//! The workspace gets what each panel needs, made by concord itself: the
//! release-train demo ships a train whose hub is exported and imported
//! into the example's (the trains panel), a `[[mirror]]` rule is run and
//! then one mirror is edited by hand and one owner copy changed (the
//! mirrors panel), and a task is added to a workplan after the sync (an
//! item not yet in the hub).
//!
//! Without Chromium, Node or `tests/browser/node_modules` the test prints
//! "skipped: …" and passes, unless `CI` is set (`.ci/run` installs them).

mod common;
use common::serve::Server;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const CHROMIUM: &str = "/usr/bin/chromium";

/// What control_room.mjs saves: each page at 1,280 and at 390 px wide.
const SCREENSHOTS: &[&str] = &[
    "control-room.png",
    "control-room-390.png",
    "item.png",
    "item-390.png",
    "repo.png",
    "repo-390.png",
    "source.png",
    "source-390.png",
];

/// The features' state files, owned by `app`, mirrored into `story`.
const MIRROR_RULE: &str = r#"
[[mirror]]
name = "features"
repos = ["app", "story"]
glob = ".claude/features/*/state.json"
owner_field = "/state_owner"
owners = { app = "app" }
marker_field = "state_owner_sync_origin"
marker_value = "{owner}-mirror"
mode = "commit"
"#;

/// Ships the release-train demo's train (in its own workspace under
/// `tmp`) and imports that hub into the example's, still empty.
fn import_a_shipped_train(tmp: &Path, dir: &Path) {
    let demo = tmp.join("train");
    let out = Command::new("bash")
        .arg(common::project_root().join("examples/release-train/demo.sh"))
        .env("CONCORD", assert_cmd::cargo::cargo_bin("concord"))
        .env("DEMO_DIR", &demo)
        .env_remove("CONCORD_CONFIG")
        .env_remove("CONCORD_HUB_URL")
        .output()
        .expect("run the release-train demo");
    assert!(
        out.status.success(),
        "release-train demo: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let export = tmp.join("train-hub.jsonl");
    let export_arg = export.to_str().expect("utf-8 path");
    let out = common::run_in(&demo, &["hub", "export", "--output", export_arg]);
    assert_eq!(out.code, 0, "hub export: {}", out.stderr);
    let out = common::run_in(dir, &["hub", "import", export_arg]);
    assert_eq!(out.code, 0, "hub import: {}{}", out.stdout, out.stderr);
}

/// Makes both repos git repos, runs the mirror rule (story gets copies),
/// then edits one copy in story by hand and changes one owner copy in app:
/// one mirror edited, one stale.
fn mirror_then_edit(dir: &Path) {
    for repo in ["app", "story"] {
        let root = dir.join("repos").join(repo);
        common::init_repo(&root);
        common::git(&root, &["add", "-A"]);
        common::git(&root, &["commit", "-q", "-m", "initial"]);
    }
    let out = common::run_in(dir, &["mirror"]);
    assert!(out.code <= 1, "mirror: {}{}", out.stdout, out.stderr);
    let features = ".claude/features";
    let edited = dir
        .join("repos/story")
        .join(features)
        .join("customer-portal/state.json");
    let text = std::fs::read_to_string(&edited).expect("the mirror in story");
    std::fs::write(
        &edited,
        text.replace("Email receipts", "Email receipts (edited in story)"),
    )
    .expect("edit the mirror");
    let owner = dir
        .join("repos/app")
        .join(features)
        .join("billing-export/state.json");
    let text = std::fs::read_to_string(&owner).expect("the owner copy");
    std::fs::write(
        &owner,
        text.replace(
            "\"state_owner\": \"app\",",
            "\"state_owner\": \"app\",\n  \"note\": \"changed after the mirror\",",
        ),
    )
    .expect("change the owner copy");
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// `$CARGO_TARGET_DIR/browser-artifacts`, or `target/browser-artifacts` in
/// the project root.
fn artifacts_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => common::project_root().join(dir),
        None => common::project_root().join("target"),
    };
    target.join("browser-artifacts")
}

/// What is missing to run the browser test, if anything.
fn missing_tools() -> Vec<String> {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!(
            "{CHROMIUM} (apt-get install chromium chromium-driver)"
        ));
    }
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
        missing.push("node".into());
    }
    if !browser_dir().join("node_modules/playwright-core").is_dir() {
        missing.push(format!(
            "playwright-core (npm ci in {})",
            browser_dir().display()
        ));
    }
    missing
}

#[test]
fn the_control_room_in_headless_chromium_matches_the_api() {
    let missing = missing_tools();
    if !missing.is_empty() {
        let what = missing.join(", ");
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!(
                "CI is set but the browser test cannot run: missing {what} (.ci/run installs them)"
            );
        }
        println!("skipped: browser test did not run, missing {what}");
        return;
    }
    let started = Instant::now();

    // The bundled example, synced into a hub, with one item the hub and its
    // sources disagree on (so the drift table has a row) and whose key needs
    // percent-encoding in the item's URL.
    let tmp = common::TestWorkspace::new();
    let dir = tmp.path().join("example");
    let examples = common::project_root().join("examples");
    common::copy_tree(&examples.join("repos"), &dir.join("repos"));
    let config = std::fs::read_to_string(examples.join("concord.toml")).expect("config");
    std::fs::write(dir.join("concord.toml"), format!("{config}\n{MIRROR_RULE}")).expect("config");
    import_a_shipped_train(tmp.path(), &dir);
    let sync = common::run_in(&dir, &["sync"]);
    assert_eq!(sync.code, 0, "sync: {}{}", sync.stdout, sync.stderr);
    let set = common::run_in(
        &dir,
        &[
            "set",
            "wp#42",
            "done",
            "--note",
            "closed in the browser test",
        ],
    );
    assert_eq!(set.code, 0, "set: {}{}", set.stdout, set.stderr);
    mirror_then_edit(&dir);
    // After the sync: a task the hub has not recorded yet.
    let workplan = dir.join("repos/app/docs/workplan-0026.md");
    let mut text = std::fs::read_to_string(&workplan).expect("workplan");
    text.push_str("\n```task\nid: CUST-WP-0026-T09\ntitle: Not synced yet\nstatus: todo\n```\n");
    std::fs::write(&workplan, text).expect("workplan");
    let status = common::run_in(&dir, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&status.stdout)
        .unwrap_or_else(|e| panic!("status --json: {e}: {}{}", status.stdout, status.stderr));
    let status_items = status["summary"]["items"].as_u64().expect("status items");

    let token = common::run_in(&dir, &["serve", "token", "create", "--name", "browser"]);
    assert_eq!(token.code, 0, "token: {}", token.stderr);
    let token = token.stdout.trim().to_string();
    assert!(!token.is_empty() && !token.contains(char::is_whitespace));

    let server = Server::start(&dir, &[], &["--no-schedule"]);
    let artifacts = artifacts_dir();
    for shot in SCREENSHOTS.iter().chain(&["failure.png"]) {
        let _ = std::fs::remove_file(artifacts.join(shot));
    }

    let script = browser_dir().join("control_room.mjs");
    let out = Command::new("node")
        .arg(&script)
        .current_dir(browser_dir())
        .env("CONCORD_URL", &server.url)
        .env("CONCORD_TOKEN", &token)
        .env("STATUS_ITEMS", status_items.to_string())
        .env("ARTIFACTS_DIR", &artifacts)
        .env("CHROMIUM", CHROMIUM)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "{} failed ({}):\n{stdout}{stderr}\nserver log:\n{}",
        script.display(),
        out.status,
        server.log()
    );
    for shot in SCREENSHOTS {
        let bytes = std::fs::read(artifacts.join(shot)).unwrap_or_default();
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is not a PNG",
            artifacts.join(shot).display()
        );
    }
    drop(server);
    println!(
        "browser test: {:.1} s, screenshots in {}",
        started.elapsed().as_secs_f64(),
        artifacts.display()
    );
}
