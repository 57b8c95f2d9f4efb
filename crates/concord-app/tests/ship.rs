//! The ship use cases called as a library: two real git repos (a library
//! and the app that pins it), a registry made of files, a SQLite hub in a
//! temporary folder; no `concord` binary involved. The end-to-end cases
//! (failures, resume, deploys) are `concord-cli/tests/cli_ship.rs`.
#![cfg(unix)]

mod common;
use common::{git, write};

use concord_app::Outcome;
use concord_app::Silent;
use concord_app::ship::{self, Ended, ShipEvents, ShipOptions};
use concord_ship::plan::Decision;
use concord_workspace::Workspace;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

const CONCORD: &str =
    "[[repo]]\nname = \"lib\"\npath = \"lib\"\n\n[[repo]]\nname = \"app\"\npath = \"app\"\n";

/// `publish` leaves `published-VERSION` beside the repos; `is_published`
/// looks for it (exit 0: live, 1: not). The repos have no remote, so git
/// is not told what shipped (`cli_ship` tests that, with bare remotes).
const RELEASE: &str = r#"
[train.git]
enabled = false

[[repo]]
name = "lib"
path = "lib"
role = "library"
release_branch = "release"
test = ["sh", "-c", "echo tested $0", "lib"]
[repo.publish]
command = ["sh", "-c", "touch ../published-$0", "{version}"]
version_file = "VERSION"
version_regex = '([0-9]+\.[0-9]+\.[0-9]+)'
is_published = ["sh", "-c", "test -e ../published-$0", "{version}"]

[[repo]]
name = "app"
path = "app"
role = "hub"
release_branch = "release"
depends_on = ["lib"]
test = ["sh", "-c", "echo tested $0", "app"]
[[repo.repin]]
library = "lib"
glob = "deps.txt"
regex = 'lib = \{ branch = "release" \}'
replace = 'lib = "{version}"'
[repo.deploy]
kind = "none"
"#;

const PLAN: [&str; 5] = [
    "test lib",
    "publish lib 1.2.3",
    "re-pin app",
    "test app",
    "flip release record",
];

/// A repo on branch `release` holding `files`, committed.
fn repo(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        write(&dir.join(path), text);
    }
    git(dir, &["init", "-q", "-b", "release"]);
    git(dir, &["config", "user.name", "Test"]);
    git(dir, &["config", "user.email", "test@example.com"]);
    git(dir, &["config", "commit.gpgsign", "false"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "start"]);
}

fn workspace(dir: &Path) -> Workspace {
    repo(&dir.join("lib"), &[("VERSION", "1.2.3\n")]);
    repo(
        &dir.join("app"),
        &[("deps.txt", "lib = { branch = \"release\" }\n")],
    );
    write(&dir.join("concord.toml"), CONCORD);
    write(&dir.join("release.toml"), RELEASE);
    Workspace::load(&dir.join("concord.toml")).expect("the workspace loads")
}

fn options() -> ShipOptions {
    ShipOptions {
        release: None,
        name: "release".into(),
        accept_live: Vec::new(),
    }
}

/// Every event, as one line.
#[derive(Default)]
struct Recorded(Mutex<Vec<String>>);

impl Recorded {
    fn push(&self, line: String) {
        self.0.lock().expect("not poisoned").push(line);
    }
    fn lines(&self) -> Vec<String> {
        self.0.lock().expect("not poisoned").clone()
    }
}

impl ShipEvents for Recorded {
    fn skipped(&self, step: &str, why: &str) {
        self.push(format!("skipped {step} ({why})"));
    }
    fn running(&self, step: &str) {
        self.push(format!("running {step}"));
    }
    fn output(&self, repo: &str, line: &str) {
        self.push(format!("[{repo}] {line}"));
    }
    fn retrying(&self, repo: &str, attempt: u32, _: Duration) {
        self.push(format!("retrying {repo} {attempt}"));
    }
}

#[test]
fn a_train_is_prepared_planned_and_shipped_through_the_library() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = workspace(dir.path());

    let prepared = ship::prepare(&ws, &options()).expect("prepare");
    assert_eq!(prepared.version, ship::VERSION);
    let versions: Vec<(&str, Option<&str>)> = prepared
        .frozen
        .iter()
        .map(|(repo, f)| (repo.as_str(), f.version.as_deref()))
        .collect();
    assert_eq!(versions, [("app", None), ("lib", Some("1.2.3"))]);

    let plan = ship::plan(&ws, &options()).expect("plan");
    let steps: Vec<&str> = plan.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps, PLAN);
    assert!(
        plan.steps.iter().all(|s| s.decision == Decision::Run),
        "{plan:?}"
    );
    // `ship plan --json`: the version first, then the steps.
    let json = serde_json::to_value(&plan).expect("serializes");
    assert_eq!(json["version"], 1);
    assert_eq!(json["steps"][1]["step"], "publish lib 1.2.3");
    assert_eq!(json["steps"][1]["decision"], "run");

    // Asked first, with every step still to do: a no moves nothing.
    let asked = std::cell::RefCell::new(Vec::new());
    let decline = |steps: &[String]| {
        asked.borrow_mut().extend(steps.iter().cloned());
        Ok(false)
    };
    let declined = ship::run(&ws, &options(), &Silent, Some(&decline)).expect("declined");
    assert!(matches!(declined.ended, Ended::Declined), "{declined:?}");
    assert_eq!(asked.borrow().as_slice(), PLAN);
    assert!(
        !dir.path().join("published-1.2.3").exists(),
        "nothing published"
    );
    assert_eq!(
        ship::status(&ws, &options()).expect("status").status,
        "prepared",
        "the record is as prepare left it"
    );

    let events = Recorded::default();
    let yes = |_: &[String]| Ok(true);
    let run = ship::run(&ws, &options(), &events, Some(&yes)).expect("run");
    assert!(matches!(run.ended, Ended::Shipped), "{run:?}");
    assert_eq!(run.outcome(), Outcome::Clean);
    let lines = events.lines();
    let expected: Vec<String> = [
        "running test lib",
        "[lib] tested lib",
        "running publish lib 1.2.3",
        "running re-pin app",
        "running test app",
        "[app] tested app",
        "running flip release record",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(lines, expected);
    assert!(dir.path().join("published-1.2.3").exists());
    let deps = std::fs::read_to_string(dir.path().join("app/deps.txt")).expect("deps");
    assert_eq!(deps, "lib = \"1.2.3\"\n");
    assert_eq!(
        git(&dir.path().join("app"), &["log", "-1", "--format=%s"]),
        "chore(release): pin lib 1.2.3"
    );

    let status = ship::status(&ws, &options()).expect("status");
    assert_eq!(status.status, "shipped");
    let journal: Vec<(&str, &str)> = status
        .steps
        .iter()
        .map(|s| (s.step.as_str(), s.outcome.as_str()))
        .filter(|(_, outcome)| *outcome != "started")
        .collect();
    let done: Vec<(&str, &str)> = PLAN.iter().map(|s| (*s, "done")).collect();
    assert_eq!(journal, done);
    let json = serde_json::to_value(&status).expect("serializes");
    assert_eq!(json["version"], 1);
    assert_eq!(json["frozen"]["lib"]["version"], "1.2.3");
    assert!(json["steps"][0].get("seq").is_none(), "{json:#}");

    let again = ship::run(&ws, &options(), &Silent, None).expect("run again");
    assert!(matches!(again.ended, Ended::AlreadyShipped), "{again:?}");
}

#[test]
fn a_missing_release_toml_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = workspace(dir.path());
    let options = ShipOptions {
        release: Some(dir.path().join("nowhere.toml")),
        name: "release".into(),
        accept_live: Vec::new(),
    };
    let failure = ship::plan(&ws, &options).expect_err("no configuration");
    assert_eq!(failure.outcome, Outcome::ConfigError);
}
