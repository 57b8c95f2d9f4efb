//! `concord ship` end to end: five real git repos (each a clone of its own
//! bare remote), a fake registry made of files and small shell scripts, a
//! second bare remote standing for production, and the default SQLite hub.
//!
//! Every script appends its invocation to `calls.log` (and a post-commit
//! hook in every repo appends `commit <repo> <subject>`, the pre-receive
//! hook of production appends `push hub-app`), so the tests can tell what
//! ran, in what order, and that nothing ran twice. Probes (`is-published`,
//! `is-yanked`) are logged too but are not "actions": they may run again on
//! a resume.
//!
//! Failures are injected with marker files in the fixture root:
//! `fail-publish[-NAME]` (exit 5), `fail-lock-REPO` (exit 4),
//! `fail-test-REPO` (exit 6), `fail-deploy-REPO` (exit 7; the deploy script,
//! which is also hub-app's smoke check), `fail-push-hub-app` (production
//! refuses the push), `registry-down` (`is-published` answers 3: unknown),
//! `slow-registry` holding N (each repo's lock refresh fails until its Nth
//! call: registry propagation).
#![cfg(unix)]

mod common;
use common::{Output, run_in};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const REPOS: [&str; 5] = ["lib-a", "lib-b", "hub-app", "sat-one", "sat-two"];
const APPS: [&str; 3] = ["hub-app", "sat-one", "sat-two"];

/// The steps of the fixture's train, in the order `plan.rs` gives them.
const PLAN: [&str; 23] = [
    "test lib-a",
    "publish lib-a 1.4.2",
    "re-pin lib-b",
    "refresh lock lib-b",
    "test lib-b",
    "publish lib-b 0.3.0",
    "re-pin hub-app",
    "re-pin sat-one",
    "re-pin sat-two",
    "refresh lock hub-app",
    "refresh lock sat-one",
    "refresh lock sat-two",
    "test hub-app",
    "test sat-one",
    "test sat-two",
    "deploy hub-app",
    "deploy sat-one",
    "record lib-a in git",
    "record lib-b in git",
    "record hub-app in git",
    "record sat-one in git",
    "record sat-two in git",
    "flip release record",
];

/// What a clean run executes (commits left out), in order: the commands
/// of the steps above, the push then the smoke check for the hub.
const CLEAN_ACTIONS: [&str; 14] = [
    "test lib-a",
    "publish lib-a 1.4.2",
    "lock-refresh lib-b",
    "test lib-b",
    "publish lib-b 0.3.0",
    "lock-refresh hub-app",
    "lock-refresh sat-one",
    "lock-refresh sat-two",
    "test hub-app",
    "test sat-one",
    "test sat-two",
    "push hub-app",
    "deploy hub-app",
    "deploy sat-one",
];

// ---------------------------------------------------------------------------
// git
// ---------------------------------------------------------------------------

/// `git ARGS` in `dir`, its stdout trimmed.
fn git(dir: &Path, args: &[&str]) -> String {
    common::git(dir, args).trim().to_string()
}

fn write(path: &Path, content: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create dirs");
    }
    std::fs::write(path, content).expect("write file");
}

fn write_executable(path: &Path, content: &str) {
    use std::os::unix::fs::PermissionsExt;
    write(path, content);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

// ---------------------------------------------------------------------------
// The fake registry and tools
// ---------------------------------------------------------------------------

/// Shared by every script: where the fixture is, log the call, and check
/// the command runs in the folder of the repo named by its first argument.
const PRELUDE: &str = r#"#!/bin/sh
root='@ROOT@'
echo "@NAME@ $*" >> "$root/calls.log"
here=$(basename "$(pwd -P)")
if [ "$here" != "$1" ]; then
  echo "@NAME@: run in $(pwd), expected the folder of $1" >&2
  exit 97
fi
"#;

/// `publish NAME VERSION`: uploads (creates `registry/NAME-VERSION`);
/// refuses a version already there, like real registries.
const PUBLISH: &str = r#"
if [ -e "$root/fail-publish" ] || [ -e "$root/fail-publish-$1" ]; then
  echo "uploading $1 $2"
  echo "error: registry rejected the upload (HTTP 500)" >&2
  exit 5
fi
if [ -e "$root/registry/$1-$2" ]; then
  echo "error: $1 $2 already exists in the registry" >&2
  exit 1
fi
touch "$root/registry/$1-$2"
echo "published $1 $2"
"#;

/// `is-published NAME VERSION`: 0 live, 1 not.
const IS_PUBLISHED: &str = r#"
if [ -e "$root/registry-down" ]; then
  echo "error: registry answered 503" >&2
  exit 3
fi
[ -e "$root/registry/$1-$2" ] && exit 0
exit 1
"#;

/// `is-yanked NAME VERSION`: 0 yanked, 1 not.
const IS_YANKED: &str = r#"
[ -e "$root/registry/yanked/$1-$2" ] && exit 0
exit 1
"#;

/// `lock-refresh REPO`: every version pinned in `deps.txt` must be in the
/// registry (and visible: `slow-registry`); writes `deps.lock`.
const LOCK_REFRESH: &str = r#"
if [ -e "$root/fail-lock-$1" ]; then
  echo "error: cannot reach the registry index" >&2
  exit 4
fi
if [ -e "$root/slow-registry" ]; then
  needed=$(cat "$root/slow-registry")
  count=$(cat "$root/lock-count-$1" 2>/dev/null || echo 0)
  count=$((count + 1))
  echo "$count" > "$root/lock-count-$1"
  if [ "$count" -lt "$needed" ]; then
    echo "error: the index does not list the new versions yet (call $count)" >&2
    exit 1
  fi
fi
pins=$(sed -n -E 's/^([a-z0-9-]+) = "([^"]+)"$/\1 \2/p' deps.txt)
echo "$pins" | while read -r name version; do
  [ -z "$name" ] && continue
  if [ ! -e "$root/registry/$name-$version" ]; then
    echo "error: $name $version is not in the registry" >&2
    exit 1
  fi
done || exit 1
echo "$pins" > deps.lock
"#;

/// `run-tests REPO`: records the commit it tested.
const RUN_TESTS: &str = r#"
echo "$1 $(git rev-parse HEAD)" >> "$root/tested.log"
if [ -e "$root/fail-test-$1" ]; then
  echo "running 12 tests"
  echo "test checkout::totals ... FAILED" >&2
  exit 6
fi
echo "12 passed"
"#;

/// `deploy REPO`: appends `deployed REPO <sequence>` to `deploys.log`.
const DEPLOY: &str = r#"
if [ -e "$root/fail-deploy-$1" ]; then
  echo "error: load balancer answered 502" >&2
  exit 7
fi
n=$(( $(cat "$root/deploys.log" 2>/dev/null | wc -l) + 1 ))
echo "deployed $1 $n" >> "$root/deploys.log"
"#;

/// Production refuses pushes while `fail-push-hub-app` exists.
const PRE_RECEIVE: &str = r#"#!/bin/sh
echo "push hub-app" >> '@ROOT@/calls.log'
if [ -e '@ROOT@/fail-push-hub-app' ]; then
  echo "production is frozen: deploys refused" >&2
  exit 1
fi
"#;

const POST_COMMIT: &str = r#"#!/bin/sh
echo "commit @NAME@ $(git log -1 --format=%s)" >> '@ROOT@/calls.log'
"#;

const RELEASE_TOML: &str = r#"[train]
retry = { attempts = 4, first_delay = "10ms", max_delay = "50ms" }

[[repo]]
name = "lib-a"
path = "lib-a"
role = "library"
release_branch = "release"
test = ["@BIN@/run-tests", "lib-a"]
[repo.publish]
command = ["@BIN@/publish", "lib-a", "{version}"]
version_file = "VERSION"
version_regex = '([0-9]+\.[0-9]+\.[0-9]+)'
is_published = ["@BIN@/is-published", "lib-a", "{version}"]
is_yanked = ["@BIN@/is-yanked", "lib-a", "{version}"]

[[repo]]
name = "lib-b"
path = "lib-b"
role = "library"
release_branch = "release"
depends_on = ["lib-a"]
test = ["@BIN@/run-tests", "lib-b"]
lock_refresh = ["@BIN@/lock-refresh", "lib-b"]
[repo.publish]
command = ["@BIN@/publish", "lib-b", "{version}"]
version_file = "VERSION"
version_regex = '([0-9]+\.[0-9]+\.[0-9]+)'
is_published = ["@BIN@/is-published", "lib-b", "{version}"]
is_yanked = ["@BIN@/is-yanked", "lib-b", "{version}"]
[[repo.repin]]
library = "lib-a"
glob = "deps.txt"
regex = 'lib-a = \{ branch = "release" \}'
replace = 'lib-a = "{version}"'

[[repo]]
name = "hub-app"
path = "hub-app"
role = "hub"
release_branch = "release"
depends_on = ["lib-a", "lib-b"]
test = ["@BIN@/run-tests", "hub-app"]
lock_refresh = ["@BIN@/lock-refresh", "hub-app"]
[[repo.repin]]
library = "lib-a"
glob = "deps.txt"
regex = 'lib-a = \{ branch = "release" \}'
replace = 'lib-a = "{version}"'
[[repo.repin]]
library = "lib-b"
glob = "deps.txt"
regex = 'lib-b = \{ branch = "release" \}'
replace = 'lib-b = "{version}"'
[repo.deploy]
kind = "git-push"
remote = "production"
branch = "main"
smoke = ["@BIN@/deploy", "hub-app"]

[[repo]]
name = "sat-one"
path = "sat-one"
role = "satellite"
release_branch = "release"
depends_on = ["lib-a", "lib-b"]
test = ["@BIN@/run-tests", "sat-one"]
lock_refresh = ["@BIN@/lock-refresh", "sat-one"]
[[repo.repin]]
library = "lib-a"
glob = "deps.txt"
regex = 'lib-a = \{ branch = "release" \}'
replace = 'lib-a = "{version}"'
[[repo.repin]]
library = "lib-b"
glob = "deps.txt"
regex = 'lib-b = \{ branch = "release" \}'
replace = 'lib-b = "{version}"'
[repo.deploy]
kind = "script"
command = ["@BIN@/deploy", "sat-one"]

[[repo]]
name = "sat-two"
path = "sat-two"
role = "satellite"
release_branch = "release"
depends_on = ["lib-a", "lib-b"]
test = ["@BIN@/run-tests", "sat-two"]
lock_refresh = ["@BIN@/lock-refresh", "sat-two"]
[[repo.repin]]
library = "lib-a"
glob = "deps.txt"
regex = 'lib-a = \{ branch = "release" \}'
replace = 'lib-a = "{version}"'
[[repo.repin]]
library = "lib-b"
glob = "deps.txt"
regex = 'lib-b = \{ branch = "release" \}'
replace = 'lib-b = "{version}"'
[repo.deploy]
kind = "none"
"#;

const APP_DEPS: &str =
    "# dependencies\nlib-a = { branch = \"release\" }\nlib-b = { branch = \"release\" }\n";
const APP_PINNED: &str = "# dependencies\nlib-a = \"1.4.2\"\nlib-b = \"0.3.0\"\n";

// ---------------------------------------------------------------------------
// The fixture
// ---------------------------------------------------------------------------

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let fx = Fixture {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        fx.write_scripts();
        std::fs::create_dir_all(fx.root().join("registry/yanked")).expect("registry");
        for name in REPOS {
            fx.create_repo(name);
        }
        fx.create_production();
        for name in REPOS {
            let hook = fx.repo(name).join(".git/hooks/post-commit");
            write_executable(&hook, &fx.fill(POST_COMMIT).replace("@NAME@", name));
        }
        let mut concord = String::new();
        for name in REPOS {
            concord.push_str(&format!(
                "[[repo]]\nname = \"{name}\"\npath = \"{name}\"\n\n"
            ));
        }
        write(&fx.root().join("concord.toml"), &concord);
        fx.write_release(&fx.release_toml());
        fx
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn repo(&self, name: &str) -> PathBuf {
        self.root().join(name)
    }

    fn bin(&self, script: &str) -> PathBuf {
        self.root().join("bin").join(script)
    }

    fn fill(&self, text: &str) -> String {
        text.replace("@ROOT@", &self.root().display().to_string())
            .replace("@BIN@", &self.root().join("bin").display().to_string())
    }

    fn write_scripts(&self) {
        // (file, how calls.log names the call, what it does)
        for (name, verb, body) in [
            ("publish", "publish", PUBLISH),
            ("is-published", "is-published", IS_PUBLISHED),
            ("is-yanked", "is-yanked", IS_YANKED),
            ("lock-refresh", "lock-refresh", LOCK_REFRESH),
            ("run-tests", "test", RUN_TESTS),
            ("deploy", "deploy", DEPLOY),
        ] {
            let text = self.fill(PRELUDE).replace("@NAME@", verb) + body;
            write_executable(&self.bin(name), &text);
        }
    }

    /// `remotes/NAME.git` (bare) and its clone `NAME`, on a `release`
    /// branch that is also pushed; `main` and `release` start equal.
    fn create_repo(&self, name: &str) {
        let remotes = self.root().join("remotes");
        std::fs::create_dir_all(&remotes).expect("remotes");
        let bare = format!("{name}.git");
        git(&remotes, &["init", "-q", "--bare", "-b", "main", &bare]);
        let url = remotes.join(&bare).display().to_string();
        git(self.root(), &["clone", "-q", &url, name]);
        let repo = self.repo(name);
        git(&repo, &["symbolic-ref", "HEAD", "refs/heads/main"]);
        git(&repo, &["config", "user.name", "Test"]);
        git(&repo, &["config", "user.email", "test@example.com"]);
        git(&repo, &["config", "commit.gpgsign", "false"]);
        write(&repo.join("README.md"), &format!("# {name}\n"));
        match name {
            "lib-a" => write(&repo.join("VERSION"), "1.4.2\n"),
            "lib-b" => {
                write(&repo.join("VERSION"), "0.3.0\n");
                write(
                    &repo.join("deps.txt"),
                    "# dependencies\nlib-a = { branch = \"release\" }\n",
                );
                write(&repo.join("deps.lock"), "unlocked\n");
            }
            _ => {
                write(&repo.join("deps.txt"), APP_DEPS);
                write(&repo.join("deps.lock"), "unlocked\n");
            }
        }
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", &format!("{name}: initial")]);
        git(&repo, &["push", "-q", "origin", "main"]);
        git(&repo, &["checkout", "-q", "-b", "release"]);
        git(&repo, &["push", "-q", "-u", "origin", "release"]);
    }

    /// `production.git`, a bare remote of hub-app whose `main` is what is
    /// live; it starts at hub-app's initial commit.
    fn create_production(&self) {
        git(
            self.root(),
            &["init", "-q", "--bare", "-b", "main", "production.git"],
        );
        let hub = self.repo("hub-app");
        let url = self.root().join("production.git").display().to_string();
        git(&hub, &["remote", "add", "production", &url]);
        git(&hub, &["push", "-q", "production", "HEAD:main"]);
        write_executable(
            &self.root().join("production.git/hooks/pre-receive"),
            &self.fill(PRE_RECEIVE),
        );
    }

    fn release_toml(&self) -> String {
        self.fill(RELEASE_TOML)
    }

    fn write_release(&self, text: &str) {
        write(&self.root().join("release.toml"), text);
    }

    /// Replaces the one occurrence of `from` in `release.toml`.
    fn edit_release(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.root().join("release.toml")).expect("read");
        assert_eq!(text.matches(from).count(), 1, "`{from}` in release.toml");
        self.write_release(&text.replace(from, to));
    }

    fn concord(&self, args: &[&str]) -> Output {
        run_in(self.root(), args)
    }

    /// `concord ship ARGS`; `run` and `resume` get `--yes` (the tests'
    /// standard input is no terminal: without it they refuse, see
    /// `a_train_asks_before_it_ships_and_refuses_without_a_terminal`).
    fn ship(&self, args: &[&str]) -> Output {
        let mut all = vec!["ship"];
        all.extend_from_slice(args);
        if matches!(args.first(), Some(&"run" | &"resume")) && !args.contains(&"--no-yes") {
            all.push("--yes");
        }
        all.retain(|a| *a != "--no-yes");
        self.concord(&all)
    }

    fn prepare(&self) -> Output {
        let out = self.ship(&["prepare"]);
        assert_eq!(out.code, 0, "prepare:\n{}\n{}", out.stdout, out.stderr);
        out
    }

    fn mark(&self, marker: &str) {
        write(&self.root().join(marker), "");
    }

    fn unmark(&self, marker: &str) {
        std::fs::remove_file(self.root().join(marker)).expect("remove marker");
    }

    fn lines(&self, file: &str) -> Vec<String> {
        std::fs::read_to_string(self.root().join(file))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn calls(&self) -> Vec<String> {
        self.lines("calls.log")
    }

    /// Calls that change something (probes left out).
    fn actions(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| !c.starts_with("is-published ") && !c.starts_with("is-yanked "))
            .collect()
    }

    /// The commit `release` points at in each repo.
    fn heads(&self) -> BTreeMap<String, String> {
        REPOS
            .iter()
            .map(|name| (name.to_string(), self.head(name)))
            .collect()
    }

    fn head(&self, name: &str) -> String {
        git(&self.repo(name), &["rev-parse", "refs/heads/release"])
    }

    fn production_main(&self) -> String {
        git(
            &self.root().join("production.git"),
            &["rev-parse", "refs/heads/main"],
        )
    }

    /// Published versions (`NAME-VERSION`), sorted.
    fn registry(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root().join("registry"))
            .expect("registry")
            .map(|e| e.expect("entry"))
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn read(&self, repo: &str, file: &str) -> String {
        std::fs::read_to_string(self.repo(repo).join(file)).expect("read")
    }

    fn is_clean(&self, repo: &str) -> bool {
        git(&self.repo(repo), &["status", "--porcelain"]).is_empty()
    }

    fn journal(&self) -> Journal {
        let out = self.ship(&["status", "--json"]);
        assert_eq!(
            out.code, 0,
            "status --json:\n{}\n{}",
            out.stdout, out.stderr
        );
        let json = out.json();
        common::schema::assert_valid("ship-status", &json);
        Journal::of(&json)
    }

    /// Runs the resume command exactly as the failure report printed it.
    fn resume_as_printed(&self, report: &str) -> Output {
        let line = report
            .lines()
            .rev()
            .filter(|l| l.contains("ship resume"))
            .find(|l| l.split_whitespace().any(|w| w == "concord"))
            .unwrap_or_else(|| panic!("no resume command in:\n{report}"));
        let words: Vec<&str> = line
            .trim()
            .trim_start_matches("$ ")
            .split_whitespace()
            .collect();
        let start = words
            .iter()
            .position(|w| *w == "concord")
            .unwrap_or_else(|| panic!("resume line does not start with concord: {line}"));
        // As printed, plus `--yes`: the tests' standard input is no terminal.
        let mut args = words[start + 1..].to_vec();
        args.push("--yes");
        self.concord(&args)
    }

    /// Nothing moved since `before`: no action, same commits, production
    /// untouched, registry empty.
    fn assert_nothing_moved(&self, before: &Snapshot) {
        let after = self.snapshot();
        assert_eq!(
            after.actions,
            before.actions,
            "something ran:\n{:?}",
            &after.actions[before.actions.len().min(after.actions.len())..]
        );
        assert_eq!(after.heads, before.heads, "commits were added");
        assert_eq!(after.production, before.production, "production moved");
        assert!(
            self.registry().is_empty(),
            "published: {:?}",
            self.registry()
        );
        for repo in REPOS {
            assert!(self.is_clean(repo), "{repo} is not clean");
        }
    }

    /// After shipping: no new action, no new commit, production unchanged.
    fn assert_nothing_moved_since_shipping(&self, shipped: &Snapshot) {
        let now = self.snapshot();
        assert_eq!(
            now.actions,
            shipped.actions,
            "ran again:\n{:?}",
            &now.actions[shipped.actions.len().min(now.actions.len())..]
        );
        assert_eq!(now.heads, shipped.heads);
        assert_eq!(now.production, shipped.production);
    }

    /// The train's status, or `None` when `status --json` says there is no
    /// train (a non-zero exit or no status).
    fn journal_status_if_any(&self) -> Option<String> {
        let out = self.ship(&["status", "--json"]);
        if out.code != 0 {
            return None;
        }
        let json: Value = serde_json::from_str(&out.stdout).ok()?;
        json.get("status")
            .or_else(|| json.pointer("/train/status"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            actions: self.actions(),
            heads: self.heads(),
            production: self.production_main(),
        }
    }
}

struct Snapshot {
    actions: Vec<String>,
    heads: BTreeMap<String, String>,
    production: String,
}

/// `ship status --json`: the train's status and its step log.
struct Journal {
    status: String,
    /// `(step, outcome)` in journal order.
    entries: Vec<(String, String)>,
    json: Value,
}

impl Journal {
    fn of(json: &Value) -> Self {
        let status = json
            .get("status")
            .and_then(Value::as_str)
            .or_else(|| json.pointer("/train/status").and_then(Value::as_str))
            .unwrap_or_else(|| panic!("no train status in {json:#}"))
            .to_string();
        let steps = json
            .get("steps")
            .or_else(|| json.pointer("/train/steps"))
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("no steps in {json:#}"));
        let entries = steps
            .iter()
            .map(|s| {
                let field = |key: &str| {
                    s.get(key)
                        .and_then(Value::as_str)
                        .unwrap_or_else(|| panic!("step without a string `{key}`: {s:#}"))
                        .to_string()
                };
                (field("step"), field("outcome"))
            })
            .collect();
        Journal {
            status,
            entries,
            json: json.clone(),
        }
    }

    /// Distinct steps in the order they first appear.
    fn order(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for (step, _) in &self.entries {
            if !seen.contains(step) {
                seen.push(step.clone());
            }
        }
        seen
    }

    fn count(&self, step: &str, outcome: &str) -> usize {
        self.entries
            .iter()
            .filter(|(s, o)| s == step && o == outcome)
            .count()
    }

    fn last_outcome(&self, step: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(s, _)| s == step)
            .map(|(_, o)| o.as_str())
    }

    /// Shipped, every planned step done exactly once, nothing else.
    fn assert_shipped_once(&self) {
        assert_eq!(self.status, "shipped", "{:#}", self.json);
        let mut planned: Vec<String> = PLAN.iter().map(|s| s.to_string()).collect();
        let mut journaled = self.order();
        planned.sort();
        journaled.sort();
        assert_eq!(journaled, planned, "steps journaled: {:#}", self.json);
        for step in PLAN {
            assert_eq!(
                self.count(step, "done"),
                1,
                "`{step}` done once: {:#}",
                self.json
            );
        }
    }
}

fn count(lines: &[String], line: &str) -> usize {
    lines.iter().filter(|l| *l == line).count()
}

fn position(lines: &[String], pred: impl Fn(&str) -> bool, what: &str) -> usize {
    lines
        .iter()
        .position(|l| pred(l))
        .unwrap_or_else(|| panic!("no {what} in {lines:#?}"))
}

/// Actions other than commits.
fn commands(actions: &[String]) -> Vec<String> {
    actions
        .iter()
        .filter(|a| !a.starts_with("commit "))
        .cloned()
        .collect()
}

/// The final state every shipped train must be in.
fn assert_final_state(fx: &Fixture) {
    assert_eq!(
        fx.registry(),
        vec!["lib-a-1.4.2".to_string(), "lib-b-0.3.0".to_string()]
    );
    assert_eq!(
        fx.production_main(),
        fx.head("hub-app"),
        "production runs hub-app's release HEAD"
    );
    for app in APPS {
        assert_eq!(fx.read(app, "deps.txt"), APP_PINNED, "{app} deps.txt");
        assert_eq!(
            git(&fx.repo(app), &["show", "release:deps.txt"]) + "\n",
            APP_PINNED,
            "{app}: the pin is committed on release"
        );
        assert_eq!(
            git(&fx.repo(app), &["show", "release:deps.lock"]),
            "lib-a 1.4.2\nlib-b 0.3.0",
            "{app}: the refreshed lock is committed"
        );
    }
    for repo in ["lib-b", "hub-app", "sat-one", "sat-two"] {
        let subjects = git(&fx.repo(repo), &["log", "--format=%s", "release"]);
        let pins = subjects
            .lines()
            .filter(|s| s.starts_with("chore(release): pin"))
            .count();
        assert_eq!(pins, 1, "{repo} has one pin commit:\n{subjects}");
    }
    assert_eq!(
        git(&fx.repo("lib-a"), &["rev-list", "--count", "release"]),
        "1",
        "lib-a pins nothing: no commit"
    );
    assert_eq!(
        fx.read("lib-b", "deps.txt"),
        "# dependencies\nlib-a = \"1.4.2\"\n"
    );
    for repo in REPOS {
        assert!(fx.is_clean(repo), "{repo} is left clean");
    }
    // Each repo was tested on the commit that ships.
    let tested = fx.lines("tested.log");
    for repo in REPOS {
        let last = tested
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix(&format!("{repo} ")))
            .unwrap_or_else(|| panic!("{repo} never tested: {tested:?}"));
        assert_eq!(last, fx.head(repo), "{repo} tested on the shipped commit");
    }
    // The hub went live before any satellite.
    let deploys = fx.lines("deploys.log");
    assert_eq!(
        deploys,
        vec![
            "deployed hub-app 1".to_string(),
            "deployed sat-one 2".into()
        ]
    );
}

// ---------------------------------------------------------------------------
// The harness itself
// ---------------------------------------------------------------------------

fn script(fx: &Fixture, name: &str, repo: &str, args: &[&str]) -> i32 {
    Command::new(fx.bin(name))
        .current_dir(fx.repo(repo))
        .args(args)
        .output()
        .expect("run script")
        .status
        .code()
        .unwrap_or(-1)
}

/// The fake registry behaves as the other tests assume (runs without
/// `concord ship`).
#[test]
fn the_fake_registry_models_publishing_and_propagation() {
    let fx = Fixture::new();
    assert_eq!(fx.head("hub-app"), fx.production_main());
    for repo in REPOS {
        assert!(fx.is_clean(repo), "{repo}");
        assert_eq!(
            git(&fx.repo(repo), &["branch", "--show-current"]),
            "release"
        );
    }
    assert_eq!(script(&fx, "is-published", "lib-a", &["lib-a", "1.4.2"]), 1);
    assert_eq!(script(&fx, "is-yanked", "lib-a", &["lib-a", "1.4.2"]), 1);
    assert_eq!(script(&fx, "publish", "lib-a", &["lib-a", "1.4.2"]), 0);
    assert_eq!(script(&fx, "is-published", "lib-a", &["lib-a", "1.4.2"]), 0);
    assert_eq!(
        script(&fx, "publish", "lib-a", &["lib-a", "1.4.2"]),
        1,
        "a version is published once"
    );
    // Wrong folder.
    assert_eq!(script(&fx, "publish", "lib-b", &["lib-a", "9.9.9"]), 97);

    write(&fx.repo("sat-one").join("deps.txt"), APP_PINNED);
    assert_eq!(
        script(&fx, "lock-refresh", "sat-one", &["sat-one"]),
        1,
        "lib-b 0.3.0 is not published yet"
    );
    assert_eq!(fx.read("sat-one", "deps.lock"), "unlocked\n");
    assert_eq!(script(&fx, "publish", "lib-b", &["lib-b", "0.3.0"]), 0);
    assert_eq!(script(&fx, "lock-refresh", "sat-one", &["sat-one"]), 0);
    assert_eq!(
        fx.read("sat-one", "deps.lock"),
        "lib-a 1.4.2\nlib-b 0.3.0\n"
    );

    write(&fx.root().join("slow-registry"), "3");
    let tries: Vec<i32> = (0..3)
        .map(|_| script(&fx, "lock-refresh", "sat-one", &["sat-one"]))
        .collect();
    assert_eq!(tries, vec![1, 1, 0]);

    fx.mark("fail-test-sat-two");
    assert_eq!(script(&fx, "run-tests", "sat-two", &["sat-two"]), 6);
    assert_eq!(script(&fx, "deploy", "sat-one", &["sat-one"]), 0);
    fx.mark("fail-deploy-sat-one");
    assert_eq!(script(&fx, "deploy", "sat-one", &["sat-one"]), 7);
    assert_eq!(fx.lines("deploys.log"), vec!["deployed sat-one 1"]);

    fx.mark("fail-push-hub-app");
    let refused = Command::new("git")
        .current_dir(fx.repo("hub-app"))
        .args(["push", "-q", "production", "HEAD:refs/heads/other"])
        .output()
        .expect("git");
    assert!(!refused.status.success(), "production refuses the push");
    assert!(fx.calls().contains(&"push hub-app".to_string()));

    git(
        &fx.repo("hub-app"),
        &[
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "chore(release): pin x",
        ],
    );
    assert!(
        fx.calls()
            .contains(&"commit hub-app chore(release): pin x".to_string())
    );
}

// ---------------------------------------------------------------------------
// 1. A clean run
// ---------------------------------------------------------------------------

#[test]
fn a_clean_run_ships_everything_in_order() {
    let fx = Fixture::new();
    let prepared = fx.prepare();
    for repo in REPOS {
        assert!(
            prepared.stdout.lines().any(|l| l.contains(repo)),
            "prepare names {repo}:\n{}",
            prepared.stdout
        );
    }
    for version in ["1.4.2", "0.3.0"] {
        assert!(prepared.stdout.contains(version), "{}", prepared.stdout);
    }
    let journal = fx.journal();
    assert_eq!(journal.status, "prepared", "{:#}", journal.json);
    assert!(journal.entries.is_empty(), "{:#}", journal.json);

    // `plan` lists the steps in order and changes nothing.
    let before = fx.snapshot();
    let plan = fx.ship(&["plan"]);
    assert_eq!(plan.code, 0, "plan:\n{}\n{}", plan.stdout, plan.stderr);
    let mut at = 0;
    for step in PLAN {
        let found = plan.stdout[at..]
            .find(step)
            .unwrap_or_else(|| panic!("plan lists `{step}` after byte {at}:\n{}", plan.stdout));
        at += found + step.len();
    }
    assert!(!plan.stdout.contains("deploy sat-two"), "{}", plan.stdout);
    let plan_json = fx.ship(&["plan", "--json"]);
    assert_eq!(plan_json.code, 0, "{}", plan_json.stderr);
    common::schema::assert_valid("ship-plan", &plan_json.json());
    fx.assert_nothing_moved(&before);
    assert_eq!(fx.journal().status, "prepared");

    let run = fx.ship(&["run"]);
    assert_eq!(run.code, 0, "run:\n{}\n{}", run.stdout, run.stderr);

    let journal = fx.journal();
    assert_eq!(journal.order(), PLAN.to_vec(), "{:#}", journal.json);
    for step in PLAN {
        assert_eq!(
            journal.last_outcome(step),
            Some("done"),
            "{step}: {:#}",
            journal.json
        );
    }
    journal.assert_shipped_once();

    let actions = fx.actions();
    assert_eq!(commands(&actions), CLEAN_ACTIONS.to_vec(), "{actions:#?}");
    // lib-b is re-pinned once lib-a is live, and before its lock refresh;
    // apps are re-pinned once every library is live.
    let published_a = position(&actions, |a| a == "publish lib-a 1.4.2", "publish lib-a");
    let published_b = position(&actions, |a| a == "publish lib-b 0.3.0", "publish lib-b");
    let pin_b = position(
        &actions,
        |a| a.starts_with("commit lib-b chore(release): pin"),
        "lib-b pin commit",
    );
    assert!(published_a < pin_b, "{actions:#?}");
    assert!(pin_b < position(&actions, |a| a == "lock-refresh lib-b", "lock lib-b"));
    for app in APPS {
        let pin = position(
            &actions,
            |a| a.starts_with(&format!("commit {app} chore(release): pin")),
            "app pin commit",
        );
        assert!(
            published_b < pin,
            "{app} pinned after publishing: {actions:#?}"
        );
    }
    let first_app_call = position(
        &actions,
        |a| APPS.iter().any(|app| a.contains(app)),
        "app call",
    );
    assert!(published_b < first_app_call, "{actions:#?}");
    let push = position(&actions, |a| a == "push hub-app", "push");
    let smoke = position(&actions, |a| a == "deploy hub-app", "smoke");
    let sat_one = position(&actions, |a| a == "deploy sat-one", "sat-one deploy");
    assert!(push < smoke && smoke < sat_one, "{actions:#?}");
    assert_final_state(&fx);

    let status = fx.ship(&["status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(status.stdout.contains("shipped"), "{}", status.stdout);

    // Again: nothing new happens.
    let shipped = fx.snapshot();
    let resume = fx.ship(&["resume"]);
    assert_eq!(
        resume.code, 0,
        "resume:\n{}\n{}",
        resume.stdout, resume.stderr
    );
    fx.assert_nothing_moved_since_shipping(&shipped);
    let again = fx.ship(&["run"]);
    assert!(
        matches!(again.code, 0 | 1),
        "a second run of a shipped train ({}):\n{}\n{}",
        again.code,
        again.stdout,
        again.stderr
    );
    fx.assert_nothing_moved_since_shipping(&shipped);
    fx.journal().assert_shipped_once();
    assert_final_state(&fx);
}

// ---------------------------------------------------------------------------
// 2. A failure at each step, then resume
// ---------------------------------------------------------------------------

struct Injection {
    marker: &'static str,
    /// The step as `Display` shows it.
    step: &'static str,
    /// The call in `calls.log` that fails.
    call: &'static str,
    /// How many times it is called before the train stops.
    calls_before_stop: usize,
    exit: &'static str,
    /// Something the report must show from the command or its output.
    evidence: &'static [&'static str],
}

const INJECTIONS: [Injection; 6] = [
    Injection {
        marker: "fail-publish-lib-b",
        step: "publish lib-b 0.3.0",
        call: "publish lib-b 0.3.0",
        calls_before_stop: 1,
        exit: "5",
        evidence: &["publish", "registry rejected the upload"],
    },
    Injection {
        // Fails on every attempt: beyond the retry budget (4).
        marker: "fail-lock-hub-app",
        step: "refresh lock hub-app",
        call: "lock-refresh hub-app",
        calls_before_stop: 4,
        exit: "4",
        evidence: &["lock-refresh", "cannot reach the registry index"],
    },
    Injection {
        marker: "fail-test-sat-one",
        step: "test sat-one",
        call: "test sat-one",
        calls_before_stop: 1,
        exit: "6",
        evidence: &["run-tests", "FAILED"],
    },
    Injection {
        // Production refuses the push (pre-receive hook).
        marker: "fail-push-hub-app",
        step: "deploy hub-app",
        call: "push hub-app",
        calls_before_stop: 1,
        exit: "1",
        evidence: &["production is frozen"],
    },
    Injection {
        // The push goes through, the smoke check fails: on resume the push
        // is skipped (production is already there) but the smoke check
        // must run again, or a failed check would be forgotten.
        marker: "fail-deploy-hub-app",
        step: "deploy hub-app",
        call: "deploy hub-app",
        calls_before_stop: 1,
        exit: "7",
        evidence: &["deploy", "load balancer answered 502"],
    },
    Injection {
        marker: "fail-deploy-sat-one",
        step: "deploy sat-one",
        call: "deploy sat-one",
        calls_before_stop: 1,
        exit: "7",
        evidence: &["deploy", "load balancer answered 502"],
    },
];

// The last step, `flip release record`, writes the hub only: no command of
// the fixture can make it fail, so it has no injection point here.
#[test]
fn a_failure_at_each_step_stops_the_train_and_resume_finishes_it() {
    // Every injection point is tried, then the ones that failed are named.
    let failed: Vec<&str> = INJECTIONS
        .iter()
        .filter(|injection| std::panic::catch_unwind(|| stop_and_resume(injection)).is_err())
        .map(|injection| injection.marker)
        .collect();
    assert!(failed.is_empty(), "failed injection points: {failed:?}");
}

/// Inject one failure, run, check the stop; fix it, resume, check the end.
fn stop_and_resume(injection: &Injection) {
    let fx = Fixture::new();
    fx.prepare();
    fx.mark(injection.marker);
    let run = fx.ship(&["run"]);
    let context = format!(
        "[{}] run ({}):\n{}\n{}",
        injection.marker, run.code, run.stdout, run.stderr
    );
    assert_eq!(run.code, 3, "{context}");
    let report = report_of(&run.stdout, injection.step, &context);
    assert!(report.contains("ship resume"), "{context}");
    let exit_line = report
        .lines()
        .find(|l| l.contains("exit status"))
        .unwrap_or_else(|| panic!("no exit status: {context}"));
    assert!(exit_line.contains(injection.exit), "{exit_line}\n{context}");
    for evidence in injection.evidence {
        assert!(report.contains(evidence), "`{evidence}`: {context}");
    }
    // What is live is reported: lib-a is published by then.
    assert!(report.contains("lib-a"), "{context}");

    // The train stopped at the failure, each earlier step ran once.
    let first = fx.actions();
    assert_eq!(
        first.last().map(String::as_str),
        Some(injection.call),
        "nothing runs after the failure: {first:#?}"
    );
    assert_eq!(
        count(&first, injection.call),
        injection.calls_before_stop,
        "{first:#?}"
    );
    // (Commits are checked through the repos' histories: their
    // subjects are the implementation's.)
    let first_commands = commands(&first);
    for action in &first_commands {
        if action != injection.call {
            assert_eq!(
                count(&first_commands, action),
                1,
                "`{action}` ran twice: {first:#?}"
            );
        }
    }
    let journal = fx.journal();
    assert_ne!(journal.status, "shipped", "{:#}", journal.json);
    assert!(
        journal.count(injection.step, "failed") >= 1,
        "the failure is journaled: {:#}",
        journal.json
    );
    let failed_at = PLAN
        .iter()
        .position(|s| *s == injection.step)
        .expect("planned");
    for later in &PLAN[failed_at + 1..] {
        assert_eq!(
            journal.count(later, "done"),
            0,
            "{later}: {:#}",
            journal.json
        );
    }

    // Fixed: resume with the printed command finishes the train.
    fx.unmark(injection.marker);
    let resume = fx.resume_as_printed(&run.stdout);
    assert_eq!(
        resume.code, 0,
        "[{}] resume:\n{}\n{}",
        injection.marker, resume.stdout, resume.stderr
    );
    let all = fx.actions();
    let second = &all[first.len()..];
    assert_eq!(
        second.first().map(String::as_str),
        Some(injection.call),
        "resume starts with the failed step: {second:#?}"
    );
    assert_eq!(count(second, injection.call), 1, "{second:#?}");
    for action in &commands(second) {
        assert!(
            action == injection.call || !first_commands.contains(action),
            "[{}] `{action}` ran again on resume:\n{all:#?}",
            injection.marker
        );
    }
    // Together: the clean run's commands, in order, each once (the
    // failed one apart).
    let without_failed: Vec<String> = commands(&all)
        .into_iter()
        .filter(|a| a != injection.call)
        .collect();
    let expected: Vec<String> = CLEAN_ACTIONS
        .iter()
        .filter(|a| **a != injection.call)
        .map(|a| a.to_string())
        .collect();
    assert_eq!(without_failed, expected, "[{}] {all:#?}", injection.marker);
    if injection.call == "publish lib-b 0.3.0" {
        assert_eq!(count(&all, "publish lib-a 1.4.2"), 1);
    }

    fx.journal().assert_shipped_once();
    assert_final_state(&fx);
}

// ---------------------------------------------------------------------------
// 3. Preflight: a missing deploy command
// ---------------------------------------------------------------------------

#[test]
fn a_missing_deploy_command_is_caught_by_preflight_with_nothing_moved() {
    for (script, make) in [("no-such-deploy", false), ("not-executable-deploy", true)] {
        let fx = Fixture::new();
        if make {
            // Exists, but cannot be run.
            write(&fx.bin(script), "#!/bin/sh\nexit 0\n");
        }
        let path = fx.bin(script).display().to_string();
        fx.edit_release(
            &format!(
                "command = [\"{}\", \"sat-one\"]",
                fx.bin("deploy").display()
            ),
            &format!("command = [\"{path}\", \"sat-one\"]"),
        );
        fx.prepare();
        let before = fx.snapshot();
        let run = fx.ship(&["run"]);
        let context = format!(
            "[{script}] run ({}):\n{}\n{}",
            run.code, run.stdout, run.stderr
        );
        assert_eq!(run.code, 1, "{context}");
        let reasons = preflight_reasons(&run.stdout, &context);
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("sat-one") && r.contains(script)),
            "{context}"
        );
        fx.assert_nothing_moved(&before);
        assert!(
            !fx.calls().iter().any(|c| c.starts_with("publish ")),
            "{context}"
        );
        assert_ne!(fx.journal().status, "shipped");
    }
}

/// Issue 19, point 2: every command of every step is resolved before
/// anything moves. A `test` command that cannot start on the last
/// satellite used to let both libraries be published first; now preflight
/// refuses, naming it, with every other missing command at once.
#[test]
fn a_missing_test_command_is_caught_by_preflight_before_anything_is_published() {
    let fx = Fixture::new();
    let missing = fx.bin("no-such-tests").display().to_string();
    fx.edit_release(
        &format!(
            "test = [\"{}\", \"sat-two\"]",
            fx.bin("run-tests").display()
        ),
        &format!("test = [\"{missing}\", \"sat-two\"]"),
    );
    fx.edit_release(
        &format!("test = [\"{}\", \"lib-b\"]", fx.bin("run-tests").display()),
        "test = [\"no-such-program-on-path\", \"lib-b\"]",
    );
    fx.prepare();
    let before = fx.snapshot();
    let run = fx.ship(&["run"]);
    let context = format!("run ({}):\n{}\n{}", run.code, run.stdout, run.stderr);
    assert_eq!(run.code, 1, "{context}");
    let reasons = preflight_reasons(&run.stdout, &context);
    for (repo, program) in [
        ("sat-two", missing.as_str()),
        ("lib-b", "no-such-program-on-path"),
    ] {
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with(repo) && r.contains("test command") && r.contains(program)),
            "{repo}: {context}"
        );
    }
    fx.assert_nothing_moved(&before);
    assert!(
        !fx.calls().iter().any(|c| c.starts_with("publish ")),
        "nothing published: {context}"
    );
}

/// Issue 19, point 4: without a terminal and without `--yes`, `ship run`
/// and `ship resume` refuse (exit 2) before anything moves.
#[test]
fn a_train_asks_before_it_ships_and_refuses_without_a_terminal() {
    let fx = Fixture::new();
    fx.prepare();
    let before = fx.snapshot();
    for command in ["run", "resume"] {
        let out = fx.ship(&[command, "--no-yes"]);
        let context = format!("{command} ({}):\n{}\n{}", out.code, out.stdout, out.stderr);
        assert_eq!(out.code, 2, "{context}");
        assert!(out.stderr.contains("--yes"), "{context}");
    }
    fx.assert_nothing_moved(&before);
    assert!(fx.calls().is_empty(), "nothing ran: {:?}", fx.calls());
}

/// `git rev-parse REF` in the bare remote of `repo` (`None`: no such ref).
fn remote_rev(fx: &Fixture, repo: &str, reference: &str) -> Option<String> {
    let out = Command::new("git")
        .current_dir(fx.root().join("remotes").join(format!("{repo}.git")))
        .args(["rev-parse", "--verify", "--quiet", reference])
        .output()
        .expect("git");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Issue 19, point 3: after a shipped train, git tells the truth: every
/// repo's release branch is pushed, its main fast-forwarded to the shipped
/// commit (here and on origin) and a tag per repo per train points at it.
/// A second run changes nothing; a main someone moved, or a tag already at
/// another commit, stops the next train at preflight.
#[test]
fn a_shipped_train_leaves_git_telling_what_shipped() {
    let fx = Fixture::new();
    fx.prepare();
    let run = fx.ship(&["run"]);
    assert_eq!(run.code, 0, "run:\n{}\n{}", run.stdout, run.stderr);
    for repo in REPOS {
        let shipped = git(&fx.repo(repo), &["rev-parse", "refs/heads/release"]);
        let tag = format!("refs/tags/release-1/{repo}");
        for (what, reference) in [
            ("release branch", "refs/heads/release"),
            ("main", "refs/heads/main"),
            ("tag", tag.as_str()),
        ] {
            assert_eq!(
                remote_rev(&fx, repo, reference).as_deref(),
                Some(shipped.as_str()),
                "{repo}: origin's {what} is the shipped commit"
            );
        }
        assert_eq!(
            git(&fx.repo(repo), &["rev-parse", "refs/heads/main"]),
            shipped,
            "{repo}: the local main is fast-forwarded too"
        );
    }
    let again = fx.ship(&["run"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("is shipped: nothing to do"),
        "{}",
        again.stdout
    );

    // The next train: someone pushed to lib-b's main meanwhile, and a tag
    // the train would make already exists elsewhere on sat-one.
    let other = fx.root().join("someone");
    git(
        fx.root(),
        &[
            "clone",
            "-q",
            &fx.root().join("remotes/lib-b.git").display().to_string(),
            "someone",
        ],
    );
    git(&other, &["config", "user.name", "Someone"]);
    git(&other, &["config", "user.email", "someone@example.com"]);
    git(&other, &["checkout", "-q", "main"]);
    write(&other.join("HOTFIX"), "on main only\n");
    git(&other, &["add", "."]);
    git(&other, &["commit", "-q", "-m", "hotfix on main"]);
    git(&other, &["push", "-q", "origin", "main"]);
    let initial = git(
        &fx.repo("sat-one"),
        &["rev-list", "--max-parents=0", "HEAD"],
    );
    git(&fx.repo("sat-one"), &["tag", "release-2/sat-one", &initial]);
    git(
        &fx.repo("sat-one"),
        &["push", "-q", "origin", "refs/tags/release-2/sat-one"],
    );
    git(&fx.repo("sat-one"), &["tag", "-d", "release-2/sat-one"]);
    fx.prepare();
    let before = fx.snapshot();
    let refused = fx.ship(&["run"]);
    let context = format!(
        "run ({}):\n{}\n{}",
        refused.code, refused.stdout, refused.stderr
    );
    assert_eq!(refused.code, 1, "{context}");
    let reasons = preflight_reasons(&refused.stdout, &context);
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("lib-b:") && r.contains("cannot be fast-forwarded")),
        "{context}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("sat-one:") && r.contains("tag `release-2/sat-one` exists")),
        "{context}"
    );
    let after = fx.snapshot();
    assert_eq!(after.actions, before.actions, "nothing ran: {context}");
    assert_eq!(after.heads, before.heads, "{context}");
}

/// Issue 19, point 5: each repo's release notes are the commits since the
/// previous train's tag, grouped by conventional-commit type, kept with the
/// train in the hub and printed by `ship status` (and in its JSON).
#[test]
fn the_next_train_carries_release_notes_since_the_previous_tag() {
    let fx = Fixture::new();
    fx.prepare();
    let run = fx.ship(&["run"]);
    assert_eq!(run.code, 0, "run:\n{}\n{}", run.stdout, run.stderr);
    let first = fx.ship(&["status"]);
    assert!(
        first
            .stdout
            .contains("release notes of lib-a:\n  Other changes:\n    - lib-a: initial"),
        "the first train's notes start at the first commit:\n{}",
        first.stdout
    );

    let lib = fx.repo("lib-a");
    for (file, text, subject) in [
        ("INDEX", "fast\n", "feat(index): twice as fast"),
        ("IO", "closed\n", "fix: files are closed on error"),
        ("VERSION", "1.5.0\n", "chore: version 1.5.0"),
    ] {
        write(&lib.join(file), text);
        git(&lib, &["add", "."]);
        git(&lib, &["commit", "-q", "-m", subject]);
    }
    fx.prepare();
    let status = fx.ship(&["status"]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    let expected = "release notes of lib-a (since release-1/lib-a):\n  \
                    Features:\n    - index: twice as fast\n  \
                    Fixes:\n    - files are closed on error\n  \
                    Other changes:\n    - chore: version 1.5.0\n";
    assert!(status.stdout.contains(expected), "{}", status.stdout);
    assert!(
        !status.stdout.contains("release notes of lib-b"),
        "nothing new in lib-b since its tag (its re-pin is the train's own): {}",
        status.stdout
    );
    let json = fx.ship(&["status", "--json"]).json();
    common::schema::assert_valid("ship-status", &json);
    assert_eq!(
        json["frozen"]["lib-a"]["notes"][0]["heading"], "Features",
        "{json:#}"
    );
    assert_eq!(
        json["frozen"]["lib-a"]["notes_since"], "release-1/lib-a",
        "{json:#}"
    );
}

/// Issue 19, point 5: with `[train.github]`, each mapped repo's tag
/// becomes a GitHub release (the fake GitHub over HTTP) whose text is its
/// release notes; a token that is not set stops the train at preflight; a
/// release already there is kept on resume.
#[test]
fn a_shipped_train_publishes_its_release_notes_as_github_releases() {
    use concord_fakes::github::FakeGitHub;
    let github = FakeGitHub::start("gh-token").expect("fake GitHub");
    for repo in ["acme/lib-a", "acme/hub-app"] {
        github.add_repo(repo);
    }
    let fx = Fixture::new();
    let retry = "retry = { attempts = 4, first_delay = \"10ms\", max_delay = \"50ms\" }";
    fx.edit_release(
        retry,
        &format!(
            "{retry}\ngithub = {{ url = \"{}\", token_env = \"TEST_GH_TOKEN\", repos = {{ \"lib-a\" = \"acme/lib-a\", \"hub-app\" = \"acme/hub-app\" }} }}",
            github.url()
        ),
    );
    fx.prepare();
    let before = fx.snapshot();
    let refused = common::run_env(fx.root(), &[], &["ship", "run", "--yes"]);
    let context = format!(
        "run ({}):\n{}\n{}",
        refused.code, refused.stdout, refused.stderr
    );
    assert_eq!(refused.code, 1, "{context}");
    assert!(
        refused.stdout.contains("TEST_GH_TOKEN is not set"),
        "{context}"
    );
    assert_eq!(fx.snapshot().actions, before.actions, "{context}");

    let env = [("TEST_GH_TOKEN", "gh-token")];
    let run = common::run_env(fx.root(), &env, &["ship", "run", "--yes"]);
    let context = format!("run ({}):\n{}\n{}", run.code, run.stdout, run.stderr);
    assert_eq!(run.code, 0, "{context}");
    assert!(!run.stdout.contains("gh-token") && !run.stderr.contains("gh-token"));
    let releases = github.releases("acme/lib-a");
    assert_eq!(releases.len(), 1, "{context}");
    assert_eq!(releases[0].tag_name, "release-1/lib-a");
    assert!(
        releases[0]
            .body
            .contains("### Other changes\n\n- lib-a: initial"),
        "{:?}",
        releases[0].body
    );
    assert_eq!(github.releases("acme/hub-app").len(), 1);
    assert!(github.releases("acme/sat-one").is_empty(), "not mapped");
    let again = common::run_env(fx.root(), &env, &["ship", "resume", "--yes"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(
        github.releases("acme/lib-a").len(),
        1,
        "kept, not made twice"
    );
}

/// The failure report: from the line naming the failed step as failed
/// (`failed: <step>`, or `stopped at: <step>`) to the end, leaving out the
/// progress lines and the commands' streamed output printed before it.
fn report_of<'a>(stdout: &'a str, step: &str, context: &str) -> &'a str {
    let mut at = 0;
    for line in stdout.split_inclusive('\n') {
        if line.contains(step) && (line.contains("failed") || line.contains("stopped")) {
            return &stdout[at..];
        }
        at += line.len();
    }
    panic!("no report naming `{step}` as failed: {context}")
}

/// The lines after `preflight refused:`.
fn preflight_reasons(stdout: &str, context: &str) -> Vec<String> {
    let (_, after) = stdout
        .split_once("preflight refused:")
        .unwrap_or_else(|| panic!("no `preflight refused:` in {context}"));
    let reasons: Vec<String> = after
        .lines()
        .map(|l| l.trim().trim_start_matches(['-', '*']).trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    assert!(!reasons.is_empty(), "no reasons: {context}");
    reasons
}

#[test]
fn a_yanked_version_is_refused_at_preflight() {
    let fx = Fixture::new();
    fx.prepare();
    fx.mark("registry/yanked/lib-a-1.4.2");
    let before = fx.snapshot();
    let run = fx.ship(&["run"]);
    let context = format!("run ({}):\n{}\n{}", run.code, run.stdout, run.stderr);
    assert_eq!(run.code, 1, "{context}");
    let reasons = preflight_reasons(&run.stdout, &context);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("lib-a") && r.contains("yanked")),
        "{context}"
    );
    fx.assert_nothing_moved(&before);
}

// ---------------------------------------------------------------------------
// 4. Registry propagation
// ---------------------------------------------------------------------------

#[test]
fn a_registry_that_is_slow_to_show_a_version() {
    // Within the budget: each lock refresh succeeds on its 3rd call of 4.
    let fx = Fixture::new();
    write(&fx.root().join("slow-registry"), "3");
    fx.prepare();
    let run = fx.ship(&["run"]);
    assert_eq!(run.code, 0, "run:\n{}\n{}", run.stdout, run.stderr);
    let actions = fx.actions();
    for repo in ["lib-b", "hub-app", "sat-one", "sat-two"] {
        assert_eq!(
            count(&actions, &format!("lock-refresh {repo}")),
            3,
            "{repo}: {actions:#?}"
        );
    }
    fx.journal().assert_shipped_once();
    assert_final_state(&fx);

    // Beyond it: two attempts are not enough; the train stops cleanly.
    let fx = Fixture::new();
    write(&fx.root().join("slow-registry"), "3");
    fx.edit_release("attempts = 4", "attempts = 2");
    fx.prepare();
    let run = fx.ship(&["run"]);
    let context = format!("run ({}):\n{}\n{}", run.code, run.stdout, run.stderr);
    assert_eq!(run.code, 3, "{context}");
    let report = report_of(&run.stdout, "refresh lock lib-b", &context);
    assert!(report.contains("ship resume"), "{context}");
    let actions = fx.actions();
    assert_eq!(count(&actions, "lock-refresh lib-b"), 2, "{actions:#?}");
    assert_eq!(
        actions.last().map(String::as_str),
        Some("lock-refresh lib-b"),
        "{actions:#?}"
    );
    assert_eq!(fx.registry(), vec!["lib-a-1.4.2".to_string()]);
    let journal = fx.journal();
    assert_ne!(journal.status, "shipped");
    assert!(
        journal.count("refresh lock lib-b", "failed") >= 1,
        "{:#}",
        journal.json
    );
    assert_eq!(journal.count("publish lib-b 0.3.0", "done"), 0);
}

// ---------------------------------------------------------------------------
// 5. No production target
// ---------------------------------------------------------------------------

#[test]
fn a_repo_without_a_production_target_ships() {
    let fx = Fixture::new();
    fx.prepare();
    let run = fx.ship(&["run"]);
    assert_eq!(run.code, 0, "run:\n{}\n{}", run.stdout, run.stderr);
    let journal = fx.journal();
    assert_eq!(journal.status, "shipped");
    assert!(
        !journal.order().iter().any(|s| s == "deploy sat-two"),
        "{:#}",
        journal.json
    );
    for step in ["re-pin sat-two", "refresh lock sat-two", "test sat-two"] {
        assert_eq!(journal.count(step, "done"), 1, "{step}: {:#}", journal.json);
    }
    assert!(!fx.calls().iter().any(|c| c == "deploy sat-two"));
    assert!(
        !fx.lines("deploys.log")
            .iter()
            .any(|l| l.contains("sat-two"))
    );
    assert_eq!(fx.read("sat-two", "deps.txt"), APP_PINNED);
    assert!(fx.is_clean("sat-two"));
}

// ---------------------------------------------------------------------------
// 6. A rewritten release branch
// ---------------------------------------------------------------------------

#[test]
fn an_unreachable_frozen_commit_is_refused_at_preflight() {
    let fx = Fixture::new();
    fx.prepare();
    let frozen = fx.head("sat-one");
    git(
        &fx.repo("sat-one"),
        &["commit", "-q", "--amend", "-m", "sat-one: rewritten"],
    );
    let ancestors = git(&fx.repo("sat-one"), &["rev-list", "release"]);
    assert!(!ancestors.lines().any(|c| c == frozen), "rewritten");
    let before = fx.snapshot();
    let run = fx.ship(&["run"]);
    let context = format!("run ({}):\n{}\n{}", run.code, run.stdout, run.stderr);
    assert_eq!(run.code, 1, "{context}");
    let reasons = preflight_reasons(&run.stdout, &context);
    assert!(reasons.iter().any(|r| r.contains("sat-one")), "{context}");
    assert!(
        !reasons
            .iter()
            .any(|r| ["lib-a", "lib-b", "hub-app", "sat-two"]
                .iter()
                .any(|other| r.starts_with(other))),
        "only sat-one is at fault: {context}"
    );
    fx.assert_nothing_moved(&before);
}

// ---------------------------------------------------------------------------
// 7. Bad input
// ---------------------------------------------------------------------------

#[test]
fn configuration_problems_stop_prepare_with_exit_2() {
    // A dependency cycle: lib-a depends on lib-b, which re-pins lib-a.
    let fx = Fixture::new();
    fx.edit_release(
        "name = \"lib-a\"\npath = \"lib-a\"\nrole = \"library\"\n",
        "name = \"lib-a\"\npath = \"lib-a\"\nrole = \"library\"\ndepends_on = [\"lib-b\"]\n",
    );
    let out = fx.ship(&["prepare"]);
    let text = format!("{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, 2, "cycle: {text}");
    assert!(text.contains("cycle"), "{text}");
    assert!(text.contains("lib-a") && text.contains("lib-b"), "{text}");
    assert_ne!(
        fx.journal_status_if_any().as_deref(),
        Some("prepared"),
        "no train is prepared: {text}"
    );

    // A repo listed twice.
    let fx = Fixture::new();
    fx.edit_release("name = \"sat-one\"", "name = \"sat-two\"");
    let out = fx.ship(&["prepare"]);
    let text = format!("{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, 2, "twice: {text}");
    assert!(text.contains("sat-two"), "{text}");

    // A release branch that does not exist: nothing to freeze.
    let fx = Fixture::new();
    fx.edit_release(
        "name = \"sat-two\"\npath = \"sat-two\"\nrole = \"satellite\"\nrelease_branch = \"release\"",
        "name = \"sat-two\"\npath = \"sat-two\"\nrole = \"satellite\"\nrelease_branch = \"release-2099\"",
    );
    let out = fx.ship(&["prepare"]);
    let text = format!("{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.code, 2, "missing branch: {text}");
    assert!(text.contains("sat-two"), "{text}");
    assert!(text.contains("release-2099"), "{text}");
}

#[test]
fn a_repin_rule_matching_nothing_is_refused_at_preflight() {
    let fx = Fixture::new();
    // sat-two takes lib-b from git: its lib-b rule has nothing to replace.
    write(
        &fx.repo("sat-two").join("deps.txt"),
        "# dependencies\nlib-a = { branch = \"release\" }\nlib-b = { git = \"https://example.com/lib-b\" }\n",
    );
    git(
        &fx.repo("sat-two"),
        &["commit", "-q", "-am", "take lib-b from git"],
    );
    fx.prepare();
    let before = fx.snapshot();
    let run = fx.ship(&["run"]);
    let context = format!("run ({}):\n{}\n{}", run.code, run.stdout, run.stderr);
    assert_eq!(run.code, 1, "{context}");
    let reasons = preflight_reasons(&run.stdout, &context);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("sat-two") && r.contains("deps.txt")),
        "{context}"
    );
    fx.assert_nothing_moved(&before);
}

// ---------------------------------------------------------------------------
// Probes: what is already live is not done again; what cannot be told stops
// ---------------------------------------------------------------------------

/// Issue 19, point 1: a version someone else published before the train
/// (perhaps with other content) stops it at preflight, nothing moved; the
/// release manager, having checked it, accepts it for that package and
/// version (journaled), and the train then ships without publishing it.
#[test]
fn a_version_already_live_stops_the_train_until_it_is_accepted() {
    let fx = Fixture::new();
    // Published by someone else before the train.
    fx.mark("registry/lib-a-1.4.2");
    fx.prepare();
    let before = fx.snapshot();
    let refused = fx.ship(&["run"]);
    let context = format!(
        "run ({}):\n{}\n{}",
        refused.code, refused.stdout, refused.stderr
    );
    assert_eq!(refused.code, 1, "{context}");
    let reasons = preflight_reasons(&refused.stdout, &context);
    assert!(
        reasons.iter().any(
            |r| r.starts_with("lib-a: version 1.4.2 of lib-a is already live")
                && r.contains("--accept-live lib-a@1.4.2")
        ),
        "{context}"
    );
    let after = fx.snapshot();
    assert_eq!(after.actions, before.actions, "{context}");
    assert_eq!(after.heads, before.heads, "{context}");
    assert_eq!(
        fx.registry(),
        ["lib-a-1.4.2"],
        "only the foreign version: {context}"
    );
    let wrong = fx.ship(&["run", "--accept-live", "lib-a@9.9.9"]);
    assert_eq!(wrong.code, 2, "{}{}", wrong.stdout, wrong.stderr);
    assert!(wrong.stderr.contains("lib-a@1.4.2"), "{}", wrong.stderr);
    let after = fx.snapshot();
    assert_eq!(after.actions, before.actions, "{context}");
    assert_eq!(after.heads, before.heads, "{context}");
    assert_eq!(
        fx.registry(),
        ["lib-a-1.4.2"],
        "only the foreign version: {context}"
    );

    let run = fx.ship(&["run", "--accept-live", "lib-a@1.4.2"]);
    assert_eq!(run.code, 0, "run:\n{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        fx.journal().count("publish lib-a 1.4.2", "accepted"),
        1,
        "the acceptance is journaled"
    );
    let calls = fx.calls();
    assert!(
        !calls.iter().any(|c| c.starts_with("publish lib-a")),
        "{calls:#?}"
    );
    assert_eq!(count(&calls, "publish lib-b 0.3.0"), 1);
    let journal = fx.journal();
    assert_eq!(journal.status, "shipped", "{:#}", journal.json);
    assert_eq!(
        journal.last_outcome("publish lib-a 1.4.2"),
        Some("skipped"),
        "{:#}",
        journal.json
    );
    assert_eq!(journal.count("publish lib-a 1.4.2", "done"), 0);
    for step in PLAN.iter().filter(|s| **s != "publish lib-a 1.4.2") {
        assert_eq!(journal.count(step, "done"), 1, "{step}: {:#}", journal.json);
    }
    assert_final_state(&fx);
}

#[test]
fn a_registry_that_cannot_answer_stops_before_publishing() {
    let fx = Fixture::new();
    fx.prepare();
    fx.mark("registry-down");
    let run = fx.ship(&["run"]);
    let context = format!("run ({}):\n{}\n{}", run.code, run.stdout, run.stderr);
    assert_eq!(run.code, 3, "{context}");
    let report = report_of(&run.stdout, "publish lib-a 1.4.2", &context);
    assert!(report.contains("ship resume"), "{context}");
    // The report says what was asked and what it answered...
    assert!(report.contains("is-published"), "{context}");
    // ...and does not pretend a command was killed.
    assert!(!report.contains("killed or timed out"), "{context}");
    // Neither published on a guess nor skipped.
    assert!(
        !fx.calls().iter().any(|c| c.starts_with("publish ")),
        "{context}"
    );
    assert!(fx.registry().is_empty());
    assert_eq!(fx.actions(), vec!["test lib-a".to_string()]);

    fx.unmark("registry-down");
    let resume = fx.resume_as_printed(&run.stdout);
    assert_eq!(
        resume.code, 0,
        "resume:\n{}\n{}",
        resume.stdout, resume.stderr
    );
    assert_eq!(commands(&fx.actions()), CLEAN_ACTIONS.to_vec());
    fx.journal().assert_shipped_once();
    assert_final_state(&fx);
}

#[test]
fn a_consumer_already_pinned_is_left_as_it_is() {
    let fx = Fixture::new();
    write(&fx.repo("sat-two").join("deps.txt"), APP_PINNED);
    git(&fx.repo("sat-two"), &["commit", "-q", "-am", "pin by hand"]);
    let pinned_by_hand = fx.head("sat-two");
    fx.prepare();
    let run = fx.ship(&["run"]);
    assert_eq!(run.code, 0, "run:\n{}\n{}", run.stdout, run.stderr);
    let journal = fx.journal();
    assert_eq!(journal.status, "shipped", "{:#}", journal.json);
    assert!(
        matches!(
            journal.last_outcome("re-pin sat-two"),
            Some("done" | "skipped")
        ),
        "{:#}",
        journal.json
    );
    assert_eq!(fx.read("sat-two", "deps.txt"), APP_PINNED);
    let subjects = git(
        &fx.repo("sat-two"),
        &["log", "--format=%s", &format!("{pinned_by_hand}..release")],
    );
    assert!(
        !subjects.contains("chore(release): pin"),
        "nothing to pin, no pin commit:\n{subjects}"
    );
    assert_eq!(
        git(&fx.repo("sat-two"), &["show", "release:deps.lock"]),
        "lib-a 1.4.2\nlib-b 0.3.0"
    );
    assert!(fx.is_clean("sat-two"));
}

#[test]
fn a_checkout_without_the_release_branch_is_told_what_to_fetch() {
    let fx = Fixture::new();
    fx.prepare();
    // Another machine: the checkout is on a detached HEAD, no release branch.
    let sat = fx.repo("sat-two");
    git(&sat, &["checkout", "-q", "--detach"]);
    git(&sat, &["branch", "-q", "-D", "release"]);
    let run = fx.ship(&["run"]);
    let context = format!("run ({}):\n{}\n{}", run.code, run.stdout, run.stderr);
    assert_eq!(run.code, 1, "{context}");
    assert!(run.stdout.contains("preflight refused"), "{context}");
    assert!(
        run.stdout.contains("no branch `release`")
            && run.stdout.contains("fetch origin release:release"),
        "{context}"
    );
    assert!(fx.registry().is_empty(), "{context}");
    assert!(fx.actions().is_empty(), "{context}");
}
