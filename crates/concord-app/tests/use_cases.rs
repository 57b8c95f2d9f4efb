//! `scan`, `status`, `diff` and hub maintenance called as a library, on a
//! temporary copy of the bundled `examples/` workspace with a SQLite hub;
//! no `concord` binary involved.

mod common;
use common::copy_dir;

use concord_app::Outcome;
use concord_app::diff::{DiffOptions, DiffReport, diff};
use concord_app::hub_admin::{self, ExportOptions, ImportOptions};
use concord_app::scan::{ScanOptions, ScanReport, scan};
use concord_app::status::{StatusOptions, StatusReport, status};
use concord_workspace::Workspace;
use std::collections::HashMap;
use std::path::Path;

/// The example workspace (two repos, five sources, two rules) copied into
/// `dir`, its hub a SQLite file there.
fn examples(dir: &Path) -> Workspace {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    copy_dir(&root.join("repos"), &dir.join("repos"));
    std::fs::copy(root.join("concord.toml"), dir.join("concord.toml")).expect("copy config");
    let mut ws = Workspace::load(&dir.join("concord.toml")).expect("the example loads");
    // Whatever the environment says: this test's own hub.
    ws.hub.url = "sqlite://.concord/hub.db".into();
    ws
}

/// The members of the JSON object `value` serializes to, in the order
/// they are written.
fn keys_of(value: &impl serde::Serialize) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl<'de> serde::de::Visitor<'de> for Visitor {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((key, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(key);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(Visitor)
        }
    }
    let json = serde_json::to_string(value).expect("serializes");
    serde_json::from_str::<Keys>(&json).expect("an object").0
}

#[test]
fn scan_reports_every_source_and_records_nothing_when_asked_not_to() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = examples(dir.path());
    let scanned = scan(&ws, &ScanOptions { record: false });
    assert!(scanned.not_recorded.is_none());
    assert!(!dir.path().join(".concord/hub.db").exists(), "no hub made");
    let report = scanned.report;
    assert_eq!(report.version, concord_app::scan::VERSION);
    let names: Vec<&str> = report.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "workplans",
            "feature-tasks",
            "features",
            "plan",
            "story-notes"
        ]
    );
    let plan = &report.sources[3];
    assert_eq!((plan.repo.as_str(), plan.format.as_str()), ("app", "table"));
    let keys: Vec<&str> = plan.items.iter().map(|o| o.key.as_str()).collect();
    assert!(keys.contains(&"wp#41"), "{keys:?}");
    let items: usize = report.sources.iter().map(|s| s.items.len()).sum();
    assert_eq!(report.summary.items, items);
    assert_eq!(report.summary.sources, 5);
    assert_eq!(report.summary.warnings, report.warnings.len());
    assert_eq!(scanned_outcome(&report), report.outcome());

    // The JSON is `concord scan --json`'s shape, `version` first, and reads back.
    let json = serde_json::to_value(&report).expect("serializes");
    assert_eq!(
        keys_of(&report),
        ["version", "sources", "warnings", "summary"]
    );
    assert_eq!(
        keys_of(&report.sources[0]),
        [
            "name", "repo", "format", "glob", "workflow", "files", "items"
        ]
    );
    let back: ScanReport = serde_json::from_value(json.clone()).expect("reads back");
    assert_eq!(serde_json::to_value(&back).expect("serializes"), json);
}

fn scanned_outcome(report: &ScanReport) -> Outcome {
    if report.warnings.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    }
}

#[test]
fn scan_records_its_observations_in_the_hub() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = examples(dir.path());
    let scanned = scan(&ws, &ScanOptions::default());
    assert!(scanned.not_recorded.is_none(), "{:?}", scanned.not_recorded);
    assert_eq!(scanned.outcome(), scanned.report.outcome());
    assert!(
        dir.path().join(".concord/hub.db").exists(),
        "the hub was made"
    );
}

#[test]
fn status_shows_items_side_by_side_and_names_keys_no_source_holds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = examples(dir.path());
    let options = StatusOptions {
        keys: vec!["wp#41".into(), "NOPE-1".into()],
        hub: false,
        fetch: false,
        strict: false,
    };
    let report = status(&ws, &options).expect("status");
    assert_eq!(report.version, concord_app::status::VERSION);
    let keys: Vec<&str> = report.items.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["wp#41"]);
    let sources: Vec<&str> = report.items[0].sources.iter().map(|r| &*r.source).collect();
    assert!(sources.contains(&"plan"), "{sources:?}");
    assert_eq!(report.missing, ["NOPE-1"]);
    assert_eq!(report.summary.missing, 1);
    assert_eq!(
        report.outcome(),
        Outcome::Findings,
        "a missing key is a finding"
    );
    let repos: Vec<&str> = report.repos.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(repos, ["app", "story"]);
    assert!(
        report.sources_not_read.is_empty(),
        "{:?}",
        report.sources_not_read
    );

    let json = serde_json::to_value(&report).expect("serializes");
    assert_eq!(
        keys_of(&report),
        [
            "version",
            "items",
            "missing",
            "repos",
            "warnings",
            "sources_not_read",
            "summary"
        ]
    );
    assert_eq!(
        keys_of(&report.items[0].sources[0]),
        ["source", "status", "raw", "repo", "path", "line"]
    );
    assert_eq!(
        keys_of(&report.repos[0]),
        ["name", "replica", "head", "blocked", "blocker"]
    );
    let back: StatusReport = serde_json::from_value(json.clone()).expect("reads back");
    assert_eq!(back.outcome(), report.outcome());
}

#[test]
fn status_with_the_hub_records_the_scan_and_reads_the_hub() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = examples(dir.path());
    let report = status(
        &ws,
        &StatusOptions {
            fetch: false,
            ..StatusOptions::default()
        },
    )
    .expect("status");
    assert!(
        dir.path().join(".concord/hub.db").exists(),
        "the hub was made"
    );
    assert_eq!(report.summary.items, report.items.len());
    // The hub holds no values before a sync: no reading is the hub's.
    assert!(
        report
            .items
            .iter()
            .flat_map(|i| &i.sources)
            .all(|r| &*r.source != "hub")
    );
}

/// Every source's observations as the hub recorded them, less when.
fn recorded(ws: &Workspace) -> Vec<concord_store::ObservationRecord> {
    let mut all = Vec::new();
    for source in &ws.sources {
        let mut records = concord_app::hub::with_store(ws, async |store| {
            store.observations_of_source(&source.name, None).await
        })
        .expect("observations read");
        all.append(&mut records);
    }
    for record in &mut all {
        record.run_id.clear();
        record.observed_at.clear();
    }
    all
}

/// `status` of one item still records every observation, as `scan` does:
/// what it did not record again would be forgotten, and what it records is
/// made back from its readings (owners included).
#[test]
fn status_of_one_item_records_every_observation_as_a_scan_would() {
    let (scanned, shown) = (
        tempfile::tempdir().expect("temp dir"),
        tempfile::tempdir().expect("temp dir"),
    );
    let (by_scan, by_status) = (examples(scanned.path()), examples(shown.path()));
    scan(&by_scan, &ScanOptions { record: true });
    let report = status(
        &by_status,
        &StatusOptions {
            keys: vec!["wp#42".into()],
            fetch: false,
            ..StatusOptions::default()
        },
    )
    .expect("status");
    assert_eq!(report.items.len(), 1, "only the item asked for is shown");
    let expected = recorded(&by_scan);
    assert!(
        expected.iter().any(|r| r.owner.is_some()),
        "the example names owners"
    );
    assert!(expected.len() > 10, "{expected:?}");
    assert_eq!(recorded(&by_status), expected);
}

#[test]
fn diff_plans_without_writing_and_its_report_says_what_the_plan_says() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = examples(dir.path());
    let plan_file = dir.path().join("repos/app/docs/plan.md");
    let before = std::fs::read(&plan_file).expect("read plan");
    let report = diff(
        &ws,
        &DiffOptions {
            fetch: false,
            strict: false,
            full: false,
        },
    )
    .expect("diff");
    assert_eq!(std::fs::read(&plan_file).expect("read plan"), before);
    assert_eq!(report.version, concord_app::diff::VERSION);
    // An empty hub: the merge rule's values go to it.
    assert!(
        report.changes.iter().any(|c| c.target == "hub"),
        "{:?}",
        report.changes
    );
    assert_eq!(report.outcome(), Outcome::Findings, "changes are findings");
    assert_eq!(report.items(), report.decisions.values().sum::<usize>());

    let json = serde_json::to_value(&report).expect("serializes");
    assert_eq!(
        keys_of(&report),
        [
            "version",
            "changes",
            "held",
            "conflicts",
            "decisions",
            "planned",
            "repos_blocked",
            "sources_not_read",
            "missing_in_trackers",
            "write_problems"
        ]
    );
    assert_eq!(
        keys_of(&report.changes[0]),
        ["key", "rule", "target", "from", "to", "reason", "origin"]
    );
    let back: DiffReport = serde_json::from_value(json.clone()).expect("reads back");
    assert_eq!(back.outcome(), report.outcome());
    assert_eq!(back.has_open(), report.has_open());
    assert_eq!(serde_json::to_value(&back).expect("serializes"), json);
}

#[test]
fn the_report_of_a_plan_is_open_exactly_when_the_plan_is() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = examples(dir.path());
    let gates = concord_app::plan::look_gates(&ws, true);
    let planned = concord_app::plan::plan_workspace(
        &ws,
        "diff",
        &gates,
        &HashMap::new(),
        &concord_app::plan::Scope::All,
        false,
    )
    .expect("plans");
    let report = DiffReport::new(&ws, &planned, &gates);
    assert_eq!(
        report.has_open(),
        concord_app::plan::has_open(&planned.plan)
    );
    assert_eq!(report.changes.len(), planned.plan.changes().count());
    assert_eq!(report.items(), planned.plan.decisions.len());
}

#[test]
fn a_sync_dry_run_reports_what_diff_reports() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = examples(dir.path());
    let diffed = diff(
        &ws,
        &DiffOptions {
            fetch: false,
            strict: false,
            full: false,
        },
    )
    .expect("diff");
    let options = concord_app::sync::SyncOptions {
        dry_run: true,
        ..Default::default()
    };
    let run = concord_app::sync::sync(&ws, &options, None, &concord_app::Silent).expect("sync");
    let concord_app::sync::SyncRun::DryRun(dry) = run else {
        panic!("a dry run");
    };
    assert_eq!(
        serde_json::to_value(&*dry).expect("serializes"),
        serde_json::to_value(&diffed).expect("serializes")
    );
}

#[test]
fn diff_without_sync_rules_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("concord.toml"),
        "[[repo]]\nname = \"app\"\npath = \".\"\n\n[[workflow]]\nname = \"task\"\n\
         statuses = [{ name = \"todo\", rank = 0 }]\n\n[[source]]\nname = \"plan\"\n\
         repo = \"app\"\nformat = \"task-blocks\"\nglob = \"*.md\"\nworkflow = \"task\"\n",
    )
    .expect("write config");
    let ws = Workspace::load(&dir.path().join("concord.toml")).expect("loads");
    let failure = diff(&ws, &DiffOptions::default()).expect_err("no rules");
    assert_eq!(failure.outcome, Outcome::ConfigError);
    assert!(failure.message.contains("no [[sync]] rules"), "{failure}");
}

#[test]
fn hub_migrate_export_and_import_round_trip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ws = examples(&dir.path().join("one"));
    let first = hub_admin::migrate(&ws).expect("migrate");
    assert_eq!(first.version, hub_admin::VERSION);
    assert!(first.applied > 0 && first.to > first.from, "{first:?}");
    let again = hub_admin::migrate(&ws).expect("migrate again");
    assert_eq!(
        (again.applied, again.from, again.to),
        (0, first.to, first.to)
    );
    assert_eq!(keys_of(&again), ["version", "applied", "from", "hub", "to"]);

    // Something to export: the scan's observations.
    let scanned = scan(&ws, &ScanOptions::default());
    assert!(scanned.not_recorded.is_none());
    let mut bytes = Vec::new();
    let exported = hub_admin::export(&ws, &ExportOptions::default(), &mut bytes).expect("export");
    assert!(exported.rows > 0, "{exported:?}");
    assert!(!bytes.is_empty());
    let file = dir.path().join("export.jsonl");
    let to_file = hub_admin::export(
        &ws,
        &ExportOptions {
            output: Some(file.clone()),
        },
        &mut std::io::sink(),
    )
    .expect("export to a file");
    assert_eq!(to_file.rows, exported.rows);

    let other = examples(&dir.path().join("two"));
    let imported = hub_admin::import(
        &other,
        &ImportOptions {
            file,
            unverified: false,
        },
    )
    .expect("import");
    assert_eq!(imported.rows, exported.rows);

    let missing = hub_admin::import(
        &other,
        &ImportOptions {
            file: dir.path().join("no-such-export.jsonl"),
            unverified: false,
        },
    )
    .expect_err("no file");
    assert_eq!(missing.outcome, Outcome::ConfigError);
}
