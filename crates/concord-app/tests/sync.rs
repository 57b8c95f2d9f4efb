//! The sync use case called as a library: a git repo with a bare remote
//! and a SQLite hub in a temporary folder; no `concord` binary involved.

mod common;
use common::{git, write};

use concord_app::Outcome;
use concord_app::Silent;
use concord_app::sync::{SyncOptions, SyncRun, sync};
use concord_workspace::Workspace;
use std::path::Path;

const CONFIG: &str = r#"
[[repo]]
name = "app"
path = "app"

[[workflow]]
name = "task"
statuses = [
  { name = "todo", rank = 0 },
  { name = "in_progress", rank = 1 },
  { name = "done", rank = 2 },
]

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

[[sync]]
name = "tasks"
mode = "merge"
between = ["workplans", "plan", "hub"]
"#;

/// A workspace whose repo `app` tracks a bare remote, both files agreeing
/// that T1 is todo and T2 done.
fn workspace(dir: &Path) -> Workspace {
    let remote = dir.join("remote.git");
    std::fs::create_dir_all(&remote).expect("remote dir");
    git(&remote, &["init", "-q", "--bare", "-b", "main"]);
    let app = dir.join("app");
    write(
        &app.join("docs/w.md"),
        "```task\nid: T1\nstatus: todo\n```\n```task\nid: T2\nstatus: done\n```\n",
    );
    write(
        &app.join("plan.md"),
        "| Item | Status |\n|---|---|\n| T1 | **todo** |\n| T2 | **done** |\n",
    );
    git(&app, &["init", "-q", "-b", "main"]);
    git(&app, &["config", "user.name", "Test"]);
    git(&app, &["config", "user.email", "test@example.com"]);
    git(&app, &["add", "."]);
    git(&app, &["commit", "-q", "-m", "start"]);
    git(
        &app,
        &["remote", "add", "origin", &remote.to_string_lossy()],
    );
    git(&app, &["push", "-q", "-u", "origin", "main"]);
    write(&dir.join("concord.toml"), CONFIG);
    Workspace::load(&dir.join("concord.toml")).expect("the workspace loads")
}

fn applied(run: SyncRun) -> concord_app::sync::SyncReport {
    match run {
        SyncRun::Applied(report) => *report,
        SyncRun::Unchanged(_) => panic!("unchanged, expected applied"),
        SyncRun::DryRun(_) => panic!("a dry run, expected applied"),
        SyncRun::Declined => panic!("declined, expected applied"),
    }
}

#[test]
fn a_status_changed_in_one_file_reaches_the_other_file_the_hub_and_the_remote() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = workspace(dir.path());
    let options = SyncOptions {
        push: true,
        ..SyncOptions::default()
    };

    // First sync: the files agree; the hub learns their values.
    let first = applied(sync(&ws, &options, None, &Silent).expect("first sync"));
    assert_eq!(first.outcome, Outcome::Clean, "{first:?}");
    let mut to_hub: Vec<(&str, &str)> = first
        .applied
        .iter()
        .map(|a| {
            assert_eq!(a.target, "hub");
            (a.key.as_str(), a.to.as_str())
        })
        .collect();
    to_hub.sort();
    assert_eq!(to_hub, [("T1", "todo"), ("T2", "done")]);
    assert!(first.commits.is_empty(), "no file written: {first:?}");

    // The report serializes as `concord sync --json` prints it.
    let json = serde_json::to_value(&first).expect("serializes");
    let keys: Vec<&str> = json
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "applied",
        "not_applied",
        "held",
        "undecided",
        "commits",
        "repos_blocked",
        "warnings",
        "reads",
        "planned",
        "replans",
        "trackers_not_read",
        "missing_in_trackers",
        "skipped_writes",
        "pulled",
        "version",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);

    // Nothing moved since: the next sync has nothing to do.
    let again = sync(&ws, &options, None, &Silent).expect("second sync");
    assert!(matches!(again, SyncRun::Unchanged(_)), "expected unchanged");
    assert_eq!(again.outcome(), Outcome::Clean);

    // T1 done in the workplan: the table and the hub follow, committed
    // and pushed.
    let app = dir.path().join("app");
    write(
        &app.join("docs/w.md"),
        "```task\nid: T1\nstatus: done\n```\n```task\nid: T2\nstatus: done\n```\n",
    );
    git(&app, &["commit", "-q", "-am", "T1 done"]);
    let report = applied(sync(&ws, &options, None, &Silent).expect("third sync"));
    assert_eq!(report.outcome, Outcome::Clean, "{report:?}");
    let mut landed: Vec<(&str, &str, &str)> = report
        .applied
        .iter()
        .map(|a| (a.key.as_str(), a.target.as_str(), a.to.as_str()))
        .collect();
    landed.sort();
    assert_eq!(landed, [("T1", "hub", "done"), ("T1", "plan", "done")]);
    assert_eq!(report.commits.len(), 1, "{report:?}");
    let (repo, commit) = &report.commits[0];
    assert_eq!(repo, "app");
    assert_eq!(
        std::fs::read_to_string(app.join("plan.md")).expect("plan.md"),
        "| Item | Status |\n|---|---|\n| T1 | **done** |\n| T2 | **done** |\n"
    );
    assert_eq!(&git(&app, &["rev-parse", "HEAD"]), commit);
    let remote = dir.path().join("remote.git");
    assert_eq!(&git(&remote, &["rev-parse", "main"]), commit, "pushed");
}

/// A sync that reads every source records the observations while it
/// decides. When the recording fails, nothing is written: not the file
/// the plan would change, not the hub, not the journal.
#[test]
fn a_full_sync_whose_observations_cannot_be_recorded_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = workspace(dir.path());
    applied(sync(&ws, &SyncOptions::default(), None, &Silent).expect("first sync"));
    let app = dir.path().join("app");
    write(
        &app.join("docs/w.md"),
        "```task\nid: T1\nstatus: done\n```\n```task\nid: T2\nstatus: done\n```\n",
    );
    git(&app, &["commit", "-q", "-am", "T1 done"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let store = runtime
        .block_on(concord_store::Store::open(&ws.hub.url, &ws.root))
        .expect("the hub opens");
    for event in ["INSERT", "UPDATE"] {
        let refuse = format!(
            "CREATE TRIGGER refuse_{event} BEFORE {event} ON observations \
             BEGIN SELECT RAISE(ABORT, 'observations refused by this test'); END"
        );
        runtime
            .block_on(store.execute_raw_for_tests(&refuse))
            .expect("trigger");
    }
    let journal_before = runtime
        .block_on(store.journal_high_water())
        .expect("journal");

    let options = SyncOptions {
        full: true,
        ..SyncOptions::default()
    };
    let Err(failure) = sync(&ws, &options, None, &Silent) else {
        panic!("the sync went on without recording what it read");
    };
    assert!(
        failure
            .message
            .contains("observations not recorded in the hub")
            && failure.message.contains("refused by this test"),
        "{}",
        failure.message
    );
    assert_eq!(failure.outcome, Outcome::PartialFailure);
    assert_eq!(
        std::fs::read_to_string(app.join("plan.md")).expect("plan.md"),
        "| Item | Status |\n|---|---|\n| T1 | **todo** |\n| T2 | **done** |\n",
        "the plan file is as it was"
    );
    let t1 = runtime
        .block_on(store.hub_value("T1", "status"))
        .expect("hub value")
        .expect("T1 in the hub");
    assert_eq!(t1.value.as_deref(), Some("todo"), "the hub is as it was");
    assert_eq!(
        runtime
            .block_on(store.journal_high_water())
            .expect("journal"),
        journal_before,
        "nothing journaled"
    );
}

#[test]
fn a_dry_run_returns_the_plan_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = workspace(dir.path());
    let options = SyncOptions {
        dry_run: true,
        ..SyncOptions::default()
    };
    let run = sync(&ws, &options, None, &Silent).expect("dry run");
    assert_eq!(run.outcome(), Outcome::Findings, "the hub lacks both items");
    let SyncRun::DryRun(dry) = run else {
        panic!("expected a dry run");
    };
    let targets: Vec<&str> = dry.changes.iter().map(|c| c.target.as_str()).collect();
    assert_eq!(targets, ["hub", "hub"]);
    assert_eq!(git(&dir.path().join("app"), &["status", "--porcelain"]), "");
}

#[test]
fn a_declined_plan_applies_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = workspace(dir.path());
    let asked = std::cell::Cell::new(0);
    let no = |_: &concord_app::plan::Planned, _: usize| {
        asked.set(asked.get() + 1);
        Ok::<_, concord_app::Failure>(false)
    };
    let run = sync(&ws, &SyncOptions::default(), Some(&no), &Silent).expect("sync");
    assert!(matches!(run, SyncRun::Declined));
    assert_eq!(run.outcome(), Outcome::Findings);
    assert_eq!(asked.get(), 1);
}

#[test]
fn an_unknown_only_source_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = workspace(dir.path());
    let options = SyncOptions {
        only: Some("nowhere".into()),
        ..SyncOptions::default()
    };
    let Err(failure) = sync(&ws, &options, None, &Silent) else {
        panic!("expected a failure");
    };
    assert_eq!(failure.outcome, Outcome::ConfigError);
    assert!(failure.message.contains("nowhere"), "{}", failure.message);
}

/// Progress nobody watches, whose caller asks the work to stop once it
/// has looked `after` times.
struct StopAfter {
    after: usize,
    looked: std::sync::atomic::AtomicUsize,
}

impl concord_app::Progress for StopAfter {
    fn bar(&self, len: usize, what: &str) -> Box<dyn concord_app::Bar> {
        Silent.bar(len, what)
    }

    fn cancelled(&self) -> bool {
        self.looked
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            >= self.after
    }
}

#[test]
fn a_sync_asked_to_stop_before_writing_writes_nothing_and_the_next_one_does() {
    use concord_app::Progress;
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = workspace(dir.path());
    let app = dir.path().join("app");
    let plan_before = std::fs::read_to_string(app.join("plan.md")).expect("plan");
    let head = git(&app, &["rev-parse", "HEAD"]);
    write(
        &app.join("docs/w.md"),
        "```task\nid: T1\nstatus: done\n```\n```task\nid: T2\nstatus: done\n```\n",
    );
    git(&app, &["commit", "-q", "-am", "T1 done"]);
    let head = (head, git(&app, &["rev-parse", "HEAD"]));
    for after in [0, 1] {
        let stop = StopAfter {
            after,
            looked: Default::default(),
        };
        let Err(failure) = sync(&ws, &SyncOptions::default(), None, &stop) else {
            panic!("expected the sync to stop (after {after})");
        };
        assert!(failure.is_cancellation(), "{}", failure.message);
        assert_eq!(failure.outcome, Outcome::PartialFailure);
        assert!(stop.cancelled(), "it looked before stopping");
        assert_eq!(
            std::fs::read_to_string(app.join("plan.md")).expect("plan"),
            plan_before
        );
        assert_eq!(git(&app, &["rev-parse", "HEAD"]), head.1, "no commit");
        assert_eq!(git(&app, &["status", "--porcelain"]), "");
    }
    let report = applied(sync(&ws, &SyncOptions::default(), None, &Silent).expect("sync"));
    assert!(
        report
            .applied
            .iter()
            .any(|a| a.key == "T1" && a.target == "plan"),
        "{:?}",
        report.applied
    );
}

/// Items in the many-item first sync: past two write chunks (2,000
/// decisions each), so PostgreSQL writes two chunks at once.
const MANY: usize = 5_000;

/// A first sync of [`MANY`] items between one plan file and the hub (on
/// `hub_url`, or the embedded one): every item's value, shared base and
/// replica base is recorded.
fn a_first_sync_of_many_items_records_every_base(hub_url: Option<&str>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = dir.path().join("app");
    let tasks: String = (0..MANY)
        .map(|i| format!("```task\nid: T{i}\nstatus: todo\n```\n"))
        .collect();
    write(&app.join("docs/w.md"), &tasks);
    git(&app, &["init", "-q", "-b", "main"]);
    git(&app, &["config", "user.name", "Test"]);
    git(&app, &["config", "user.email", "test@example.com"]);
    git(&app, &["add", "."]);
    git(&app, &["commit", "-q", "-m", "start"]);
    let hub = hub_url.map_or(String::new(), |url| format!("[hub]\nurl = \"{url}\"\n"));
    let config = format!(
        "{hub}[[repo]]\nname = \"app\"\npath = \"app\"\n\
         [[workflow]]\nname = \"task\"\nstatuses = [{{ name = \"todo\", rank = 0 }}, {{ name = \"done\", rank = 1 }}]\n\
         [[source]]\nname = \"workplans\"\nrepo = \"app\"\nformat = \"task-blocks\"\nglob = \"docs/*.md\"\nworkflow = \"task\"\n\
         [[sync]]\nname = \"tasks\"\nmode = \"merge\"\nbetween = [\"workplans\", \"hub\"]\n"
    );
    write(&dir.path().join("concord.toml"), &config);
    let ws = Workspace::load(&dir.path().join("concord.toml")).expect("the workspace loads");

    let report = applied(sync(&ws, &SyncOptions::default(), None, &Silent).expect("first sync"));
    assert_eq!(report.outcome, Outcome::Clean, "{:?}", report.not_applied);
    assert_eq!(report.applied.len(), MANY);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let store = runtime
        .block_on(concord_store::Store::open(&ws.hub.url, &ws.root))
        .expect("the hub opens");
    let expected: std::collections::BTreeSet<String> = (0..MANY).map(|i| format!("T{i}")).collect();
    let bases = runtime.block_on(store.all_bases()).expect("bases");
    let based: std::collections::BTreeSet<String> = bases
        .iter()
        .filter(|b| b.value.as_deref() == Some("todo"))
        .map(|b| b.key.clone())
        .collect();
    assert_eq!(bases.len(), MANY);
    assert_eq!(based, expected, "every item has its shared base");
    let replica_bases = runtime
        .block_on(store.all_replica_bases())
        .expect("replica bases");
    let replica_keys: std::collections::BTreeSet<String> =
        replica_bases.iter().map(|b| b.key.clone()).collect();
    assert_eq!(replica_keys, expected, "every item has its replica base");

    // Nothing is left to do: the next sync changes nothing.
    let again = sync(&ws, &SyncOptions::default(), None, &Silent).expect("second sync");
    if let SyncRun::Applied(report) = again {
        assert!(report.applied.is_empty(), "{:?}", &report.applied[..1]);
    }
}

#[test]
fn a_first_sync_past_several_write_chunks_records_every_base_sqlite() {
    a_first_sync_of_many_items_records_every_base(None);
}

/// The same against PostgreSQL, in a schema of this test's own: there,
/// bases and replica bases are written two chunks at a time.
#[test]
fn a_first_sync_past_several_write_chunks_records_every_base_postgres() {
    let Some(schema) = concord_test_support::PgSchema::create("concord_many") else {
        return;
    };
    a_first_sync_of_many_items_records_every_base(Some(&schema.url()));
}
