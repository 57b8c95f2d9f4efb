//! `concord serve` in a real browser: the bundled example workspace is synced,
//! a real server is started, and headless Chromium (the Debian package at
//! `/usr/bin/chromium`, driven by `tests/browser/control_room.mjs` through
//! playwright-core) loads the control room, checks its counts against the
//! API, clicks through to an item and saves screenshots to
//! `target/browser-artifacts/`.
//!
//! Without Chromium, Node or `tests/browser/node_modules` the test prints
//! "skipped: …" and passes, unless `CI` is set (`.ci/run` installs them).

mod common;
use common::serve::Server;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const CHROMIUM: &str = "/usr/bin/chromium";

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
    std::fs::copy(examples.join("concord.toml"), dir.join("concord.toml")).expect("config");
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
    let token = common::run_in(&dir, &["serve", "token", "create", "--name", "browser"]);
    assert_eq!(token.code, 0, "token: {}", token.stderr);
    let token = token.stdout.trim().to_string();
    assert!(!token.is_empty() && !token.contains(char::is_whitespace));

    let server = Server::start(&dir, &[], &["--no-schedule"]);
    let artifacts = artifacts_dir();
    for shot in ["control-room.png", "item.png", "failure.png"] {
        let _ = std::fs::remove_file(artifacts.join(shot));
    }

    let script = browser_dir().join("control_room.mjs");
    let out = Command::new("node")
        .arg(&script)
        .current_dir(browser_dir())
        .env("CONCORD_URL", &server.url)
        .env("CONCORD_TOKEN", &token)
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
    for shot in ["control-room.png", "item.png"] {
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
