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

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// Copies a folder tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// A running `concord serve`, killed when dropped (also on a panic).
struct Server {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Server {
    /// `concord serve --bind 127.0.0.1:0 --no-schedule` in `dir`; waits for
    /// its "listening on http://ADDR" line.
    fn start(dir: &Path) -> Server {
        let log = dir.join("serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_concord"))
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env_remove("CONCORD_CONFIG")
            .env_remove("CONCORD_HUB_URL")
            .args(["serve", "--bind", "127.0.0.1:0", "--no-schedule"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start concord serve");
        let mut server = Server {
            child,
            url: String::new(),
            log,
        };
        let stdout = server.child.stdout.take().expect("stdout");
        let (lines, received) = mpsc::channel();
        // Reads stdout to its end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Once the address is read nobody listens; keep draining.
                let _ = lines.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("concord serve: listening on ") {
                        let url = rest.split_whitespace().next().unwrap_or_default();
                        assert!(url.starts_with("http://"), "odd line: {line}");
                        server.url = url.to_string();
                        return server;
                    }
                }
                Err(e) => panic!(
                    "concord serve did not say where it listens ({e}); its log:\n{}",
                    server.log()
                ),
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    copy_tree(&examples.join("repos"), &dir.join("repos"));
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

    let server = Server::start(&dir);
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
