//! `concord init`: on the bundled examples and the fittracker2 corpus
//! turned into real git repos, the proposed file loads, scans without a
//! configuration error and finds what a hand-written config finds; an
//! existing file is never overwritten without `--force`; init then sync
//! works on a fresh repo; bad input is reported, never a panic.

mod common;
use common::{copy_tree, git, init_repo, project_root, run_in};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `dir` as a repo with everything in it committed.
fn commit_all(dir: &Path) {
    init_repo(dir);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", "initial"]);
}

/// examples/repos copied into `root/repos`, each a git repo.
fn example_repos(root: &Path) {
    copy_tree(&project_root().join("examples/repos"), &root.join("repos"));
    for repo in ["app", "story"] {
        commit_all(&root.join("repos").join(repo));
    }
}

/// (glob, format, sorted keys) of every source a `scan --json` read.
fn sources_read(scan: &Value) -> Vec<(String, String, Vec<String>)> {
    let mut found: Vec<(String, String, Vec<String>)> = scan["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            let mut keys: Vec<String> = s["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["key"].as_str().expect("key").to_string())
                .collect();
            keys.sort();
            (
                s["glob"].as_str().expect("glob").to_string(),
                s["format"].as_str().expect("format").to_string(),
                keys,
            )
        })
        .collect();
    found.sort();
    found
}

#[test]
fn init_on_the_examples_reads_what_the_hand_written_config_reads() {
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path();
    example_repos(root);
    let out = run_in(root, &["init", "repos"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("wrote"), "{}", out.stdout);
    // As by hand: the features' event logs are where `concord log` appends.
    let text = std::fs::read_to_string(root.join("concord.toml")).expect("read");
    assert!(
        text.contains("log_file = \".claude/logs/{key}.log.json\""),
        "{text}"
    );
    let scan = run_in(root, &["scan", "--no-hub", "--json"]);
    assert_eq!(scan.code, 0, "{}{}", scan.stdout, scan.stderr);
    let proposed = sources_read(&scan.json());
    assert!(
        scan.json()["warnings"]
            .as_array()
            .expect("warnings")
            .is_empty()
    );

    std::fs::copy(
        project_root().join("examples/concord.toml"),
        root.join("example.toml"),
    )
    .expect("copy the example config");
    let by_hand = run_in(
        root,
        &["--config", "example.toml", "scan", "--no-hub", "--json"],
    );
    assert_eq!(by_hand.code, 0, "{}", by_hand.stderr);
    let by_hand = sources_read(&by_hand.json());
    assert_eq!(proposed.len(), by_hand.len(), "{proposed:#?}\n{by_hand:#?}");
    for (glob, format, keys) in &by_hand {
        let same = proposed
            .iter()
            .find(|(g, f, k)| g == glob && f == format && k.len() == keys.len())
            .unwrap_or_else(|| panic!("no proposed {format} source on {glob}: {proposed:#?}"));
        // The story notes are keyed `wp#{op_wp}` by hand; init cannot know
        // that `op_wp` is the work package, so it keys them by file name.
        if format != "front-matter" {
            assert_eq!(&same.2, keys, "{glob}");
        }
    }
}

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/fittracker2");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: the fittracker2 corpus is not at {}",
            dir.display()
        );
        None
    }
}

/// Make a read-only copy writable, so the temp dir can be removed.
fn writable(dir: &Path) {
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if let Ok(meta) = entry.metadata() {
            let mut permissions = meta.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            permissions.set_readonly(false);
            let _ = std::fs::set_permissions(entry.path(), permissions);
        }
    }
}

#[test]
fn init_on_the_corpus_finds_every_feature_and_task_and_maps_every_word() {
    let Some(corpus) = corpus() else { return };
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = temp.path().join("fittracker2");
    copy_tree(&corpus, &repo);
    writable(&repo);
    commit_all(&repo);

    let out = run_in(temp.path(), &["init", "fittracker2", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    common::schema::assert_valid("init", &report);
    assert_eq!(report["written"], true);

    let scan = run_in(temp.path(), &["scan", "--no-hub", "--json"]);
    // Rows that cannot be read are warnings (exit 1), never a config error.
    assert!(scan.code == 0 || scan.code == 1, "{}", scan.stderr);
    let scan = scan.json();
    // The state files as documents (`{dir}`, the lifecycle phase) and as
    // arrays of tasks whose ids repeat across features (`{dir}/{/id}`).
    let source = |glob: &str, key: &str| {
        let name = report["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .find(|s| s["glob"] == glob && s["key"] == key)
            .and_then(|s| s["name"].as_str())
            .unwrap_or_else(|| panic!("no source on {glob} keyed {key}: {report:#}"));
        scan["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("source {name} was not scanned"))
    };
    let features = source(".claude/features/*/state.json", "{dir}");
    assert_eq!(features["workflow"], "lifecycle");
    assert_eq!(features["items"].as_array().expect("items").len(), 132);
    let tasks = source(".claude/features/*/state.json", "{dir}/{/id}");
    assert_eq!(tasks["workflow"], "task");
    let tasks = tasks["items"].as_array().expect("items");
    assert_eq!(tasks.len(), 828);
    let keys: BTreeSet<&str> = tasks.iter().filter_map(|i| i["key"].as_str()).collect();
    assert_eq!(keys.len(), 828, "task keys are unique");

    // Every status word read is mapped by the workflow, and reported.
    let reported: BTreeSet<String> = report["workflows"]
        .as_array()
        .expect("workflows")
        .iter()
        .flat_map(|w| w["words"].as_array().expect("words").iter())
        .map(|w| w["word"].as_str().expect("word").to_lowercase())
        .collect();
    let warnings = scan["warnings"].as_array().expect("warnings");
    assert!(
        !warnings.iter().any(|w| w["code"] == "UNKNOWN_STATUS"),
        "{warnings:#?}"
    );
    for source in scan["sources"].as_array().expect("sources") {
        for item in source["items"].as_array().expect("items") {
            let Some(raw) = item["status"]["raw"].as_str() else {
                continue;
            };
            assert!(!item["status"]["canonical"].is_null(), "{item}");
            assert!(
                reported.contains(&raw.to_lowercase()),
                "`{raw}` not reported"
            );
        }
    }
    let words: Vec<&Value> = report["workflows"]
        .as_array()
        .expect("workflows")
        .iter()
        .flat_map(|w| w["words"].as_array().expect("words").iter())
        .collect();
    let of = |word: &str| {
        words.iter().find(|w| w["word"] == word).map(|w| {
            (
                w["status"].as_str().unwrap_or(""),
                w["mapping"].as_str().unwrap_or(""),
            )
        })
    };
    assert_eq!(of("completed"), Some(("done", "known")));
    assert_eq!(of("blocked_on_user"), Some(("blocked", "guessed")));
    assert_eq!(of("tasks_phase"), Some(("tasks", "known")));
    // Event logs and JSON without a status are reported, not read.
    let not_classified = report["not_classified"].as_array().expect("list");
    assert!(not_classified.iter().any(|n| {
        n["path"]
            .as_str()
            .is_some_and(|p| p.starts_with(".claude/logs/"))
    }));
}

#[test]
fn an_existing_file_is_kept_unless_forced_and_a_dry_run_writes_nothing() {
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path();
    example_repos(root);
    let config = root.join("concord.toml");

    let dry = run_in(root, &["init", "repos", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(dry.stdout.contains("[[repo]]"), "{}", dry.stdout);
    assert!(
        dry.stderr.contains("dry run: nothing written"),
        "{}",
        dry.stderr
    );
    assert!(!config.exists(), "a dry run wrote the file");

    let old = b"# mine\n[[repo]]\nname = \"x\"\npath = \".\"\n";
    std::fs::write(&config, old).expect("write");
    let refused = run_in(root, &["init", "repos"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("already exists"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--dry-run"), "{}", refused.stderr);
    assert_eq!(std::fs::read(&config).expect("read"), old);

    let dry = run_in(root, &["init", "repos", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(std::fs::read(&config).expect("read"), old);
    let dry = run_in(root, &["init", "repos", "--dry-run", "--json"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    common::schema::assert_valid("init", &dry.json());
    assert_eq!(dry.json()["written"], false);
    assert_eq!(std::fs::read(&config).expect("read"), old);

    let forced = run_in(root, &["init", "repos", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    let written = std::fs::read_to_string(&config).expect("read");
    assert!(written.contains("[[source]]"), "{written}");
    // No temp file is left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(root)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // --output elsewhere: repo paths are relative to that file.
    std::fs::create_dir(root.join("ws")).expect("mkdir");
    let out = run_in(root, &["init", "repos", "--output", "ws/concord.toml"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(root.join("ws/concord.toml")).expect("read");
    assert!(text.contains("path = \"../repos/app\""), "{text}");
    let scan = run_in(&root.join("ws"), &["scan", "--no-hub"]);
    assert_eq!(scan.code, 0, "{}{}", scan.stdout, scan.stderr);
}

#[test]
fn init_then_sync_works_on_a_fresh_repo_and_the_second_sync_is_a_no_op() {
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = temp.path().join("work");
    std::fs::create_dir_all(repo.join("docs")).expect("mkdir");
    std::fs::create_dir_all(repo.join("state/login")).expect("mkdir");
    std::fs::write(
        repo.join("docs/workplan-01.md"),
        "# Plan\n\n```task\nid: LOGIN-1\nstatus: In progress\n```\n\n```task\nid: LOGIN-2\nstatus: open\n```\n",
    )
    .expect("write");
    std::fs::write(
        repo.join("state/login/state.json"),
        r#"{"phase": "implementation", "tasks": [{"id": "LOGIN-1", "status": "done"}, {"id": "LOGIN-2", "status": "open"}]}"#,
    )
    .expect("write");
    commit_all(&repo);

    let out = run_in(temp.path(), &["init", "work"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("LOGIN-1"),
        "shared keys are named: {}",
        out.stdout
    );

    let first = run_in(temp.path(), &["sync"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    // The workplan catches up with the state file, in its own word.
    let plan = std::fs::read_to_string(repo.join("docs/workplan-01.md")).expect("read");
    assert!(plan.contains("id: LOGIN-1\nstatus: done"), "{plan}");
    let log = git(&repo, &["log", "--oneline"]);
    assert_eq!(log.lines().count(), 2, "{log}");

    let second = run_in(temp.path(), &["sync"]);
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    assert!(second.stdout.contains("nothing to do"), "{}", second.stdout);
    assert_eq!(git(&repo, &["log", "--oneline"]).lines().count(), 2);
}

#[test]
fn bad_input_is_reported_and_never_a_panic() {
    let temp = tempfile::tempdir().expect("temp dir");
    let root = temp.path();

    // No repo under the folder: a usage error naming it.
    std::fs::create_dir(root.join("plain")).expect("mkdir");
    let out = run_in(root, &["init", "plain"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("no git repo found under"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("plain"), "{}", out.stderr);
    assert!(!root.join("concord.toml").exists());

    let out = run_in(root, &["init", "missing"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("missing"), "{}", out.stderr);
    std::fs::write(root.join("a-file"), "x").expect("write");
    let out = run_in(root, &["init", "a-file"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("is not a folder"), "{}", out.stderr);
    let out = run_in(root, &["init", "plain", "--output", "nowhere/concord.toml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("nowhere"), "{}", out.stderr);

    // An empty repo: nothing to propose, said plainly; the file loads.
    commit_all(&root.join("empty"));
    let out = run_in(root, &["init", "empty", "--output", "empty.toml"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("none"), "{}", out.stdout);
    let scan = run_in(root, &["--config", "empty.toml", "scan", "--no-hub"]);
    assert_eq!(scan.code, 0, "{}", scan.stderr);

    // Broken files beside good ones: the good ones are read, the broken
    // ones reported.
    let repo = root.join("messy");
    std::fs::create_dir_all(repo.join("docs")).expect("mkdir");
    std::fs::write(repo.join("broken.json"), "{\"status\": ").expect("write");
    std::fs::write(repo.join("docs/binary.md"), b"\x00\x01\x02```task\n").expect("write");
    std::fs::write(repo.join("docs/notes.md"), "---\nstatus: [unclosed\n---\n").expect("write");
    std::fs::write(
        repo.join("docs/blank.md"),
        "```task\nid: B-1\nstatus:\n```\n\n```task\nid: B-2\nstatus: frobnicated\n```\n",
    )
    .expect("write");
    // A header cell with a `|` in code: the table reader splits it right,
    // the config's header check does not, so the source is left out.
    std::fs::write(
        repo.join("docs/odd-table.md"),
        "| `id|key` | Status |\n|---|---|\n| wp#1 | **Done** |\n",
    )
    .expect("write");
    std::fs::write(
        repo.join("items.json"),
        r#"[{"id": 1, "status": "done"}, {"id": 2, "status": "todo"}, 7]"#,
    )
    .expect("write");
    commit_all(&repo);
    let out = run_in(root, &["init", "messy", "--output", "messy.toml", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    common::schema::assert_valid("init", &report);
    let reasons: Vec<String> = report["not_classified"]
        .as_array()
        .expect("list")
        .iter()
        .map(|n| format!("{}: {}", n["path"], n["reason"]))
        .collect();
    let says = |path: &str, what: &str| {
        assert!(
            reasons.iter().any(|r| r.contains(path) && r.contains(what)),
            "{path}: {what}\n{reasons:#?}"
        );
    };
    says("broken.json", "not valid JSON");
    says("binary.md", "binary");
    says("notes.md", "front matter");
    says("odd-table.md", "do not load");
    let unclassified: Vec<&Value> = report["workflows"][0]["words"]
        .as_array()
        .expect("words")
        .iter()
        .filter(|w| w["mapping"] == "unclassified")
        .collect();
    assert_eq!(unclassified.len(), 1, "{unclassified:?}");
    assert_eq!(unclassified[0]["word"], "frobnicated");
    let text = std::fs::read_to_string(root.join("messy.toml")).expect("read");
    assert!(text.contains("# not classified: check its rank"), "{text}");
    // The blank status cannot be a status: it is reported, with its place.
    let blank: Vec<&Value> = report["scan_warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter(|w| w["code"] == "UNKNOWN_STATUS")
        .collect();
    assert_eq!(blank.len(), 1, "{blank:?}");
    assert_eq!(blank[0]["path"], "docs/blank.md");
    let text_out = run_in(root, &["init", "messy", "--dry-run"]);
    assert!(
        text_out.stderr.contains("status values not mapped"),
        "{}",
        text_out.stderr
    );
    let scan = run_in(
        root,
        &["--config", "messy.toml", "scan", "--no-hub", "--json"],
    );
    assert!(scan.code == 0 || scan.code == 1, "{}", scan.stderr);
    let items: usize = scan.json()["summary"]["items"].as_u64().expect("items") as usize;
    assert_eq!(items, 4, "{}", scan.stdout);
}
