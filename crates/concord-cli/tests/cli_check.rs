//! `concord check` on the real fittracker2 corpus (../shared/corpus): its
//! rules expressed in `[checks]`, zero findings as it is, and exactly the
//! expected finding for each deliberately broken copy.

mod common;
use common::git;
use common::{Output, run_in};
use concord_checks::citations::{CitationCache, CitationContext, Resolution, extract};
use std::path::{Path, PathBuf};

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/fittracker2");
    if dir.join(".claude/features").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: the fittracker2 corpus is not at {}",
            dir.display()
        );
        None
    }
}

/// The state files' shape as the corpus has it: a name under one of its
/// historical keys, the phase, the owner; tasks as an array of id+status
/// objects (or, in two older files, an object of counts).
const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["current_phase", "state_owner"],
  "anyOf": [
    { "required": ["name"] },
    { "required": ["feature"] },
    { "required": ["feature_name"] }
  ],
  "properties": {
    "current_phase": { "type": "string" },
    "state_owner": { "type": "string" },
    "tasks": {
      "anyOf": [
        {
          "type": "array",
          "items": { "type": "object", "required": ["id", "status"] }
        },
        { "type": "object" }
      ]
    }
  }
}"#;

fn config(corpus: &Path) -> String {
    format!(
        r#"
[[repo]]
name = "ft2"
path = "{}"

[[repo]]
name = "fitme-story"
path = "story"

[[checks.schema]]
glob = ".claude/features/*/state.json"
schema = "state.schema.json"

[checks.owner]
glob = ".claude/features/*/state.json"
field = "/state_owner"
owners = {{ ft2 = "ft2", "fitme-story" = "fitme-story" }}
mirror_marker = "/state_owner_sync_origin"

[checks.legacy]
glob = ".claude/features/*/state.json"
fields = {{ "/phase" = "/current_phase" }}

[checks.citations]
globs = ["docs/case-studies/*.md", ".claude/features/*/state.json"]
default_repo = "Regevba/FitTracker2"
owners = {{ "fitme-story" = "Regevba", "FitTracker2" = "Regevba" }}
cache = "citations.json"
offline = true
"#,
        corpus.display()
    )
}

/// A workspace checking `corpus`, with a citation cache in which every
/// citation the corpus makes exists, except `missing`.
fn workspace(corpus: &Path, missing: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("story")).expect("story");
    std::fs::write(dir.path().join("concord.toml"), config(corpus)).expect("config");
    std::fs::write(dir.path().join("state.schema.json"), SCHEMA).expect("schema");
    let context = CitationContext {
        default_repo: Some("Regevba/FitTracker2".into()),
        owners: [
            ("fitme-story".to_string(), "Regevba".to_string()),
            ("FitTracker2".to_string(), "Regevba".to_string()),
        ]
        .into_iter()
        .collect(),
        default_owner: None,
    };
    let mut cache = CitationCache::default();
    let files = walk(corpus);
    for file in files {
        let rel = file
            .strip_prefix(corpus)
            .expect("inside")
            .to_string_lossy()
            .replace('\\', "/");
        let cited = rel.starts_with("docs/case-studies/") && rel.ends_with(".md")
            || rel.starts_with(".claude/features/") && rel.ends_with("/state.json");
        if !cited {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("utf-8");
        for at in extract(&text, &context) {
            let name = format!("{}#{}", at.citation.repo, at.citation.number);
            let answer = if missing.contains(&name.as_str()) {
                Resolution::Missing
            } else {
                Resolution::Exists
            };
            cache.insert(at.citation.clone(), &answer);
        }
    }
    cache
        .save(&dir.path().join("citations.json"))
        .expect("cache");
    dir
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn check(ws: &Path) -> (Output, serde_json::Value) {
    let out = run_in(ws, &["check", "--all", "--no-hub", "--format", "json"]);
    let json = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", out.stdout, out.stderr));
    (out, json)
}

fn codes(json: &serde_json::Value) -> Vec<(String, String)> {
    json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("").to_string(),
                f["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// A copy of the corpus to break.
fn copy(corpus: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for file in walk(corpus) {
        let rel = file.strip_prefix(corpus).expect("inside");
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("dirs");
        std::fs::copy(&file, &to).expect("copy");
    }
    dir
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) {
    let text = std::fs::read_to_string(path).expect("read");
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    edit(doc.as_object_mut().expect("object"));
    std::fs::write(path, serde_json::to_string_pretty(&doc).expect("json")).expect("write");
}

#[test]
fn the_corpus_as_it_is_has_no_findings() {
    let Some(corpus) = corpus() else { return };
    let ws = workspace(&corpus, &[]);
    let (out, json) = check(ws.path());
    assert_eq!(
        codes(&json),
        Vec::<(String, String)>::new(),
        "{}",
        out.stderr
    );
    assert_eq!(out.code, 0);
}

#[test]
fn each_deliberate_break_gives_exactly_its_finding() {
    let Some(corpus) = corpus() else { return };
    let broken = copy(&corpus);
    let features = broken.path().join(".claude/features");
    let state = |name: &str| features.join(name).join("state.json");
    let mut names: Vec<String> = std::fs::read_dir(&features)
        .expect("features")
        .flatten()
        .filter(|e| e.path().join("state.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "3d-interactive-framework-flow-diagram")
        .collect();
    names.sort();
    edit_json(&state(&names[0]), |d| {
        d.remove("state_owner");
    });
    edit_json(&state(&names[1]), |d| {
        d.insert("state_owner".into(), "fitme".into());
    });
    edit_json(&state(&names[2]), |d| {
        d.insert("phase".into(), "implementation".into());
    });
    // One citation the corpus makes is deliberately absent from GitHub.
    let ws = workspace(broken.path(), &["regevba/fittracker2#298"]);
    let (out, json) = check(ws.path());
    let found = codes(&json);
    let at = |name: &str| format!(".claude/features/{name}/state.json");
    let mut expected = vec![
        // The schema requires the owner too; that is the same problem,
        // reported once.
        ("OWNER_MISSING".to_string(), at(&names[0])),
        ("OWNER_INVALID".to_string(), at(&names[1])),
        ("LEGACY_FIELD".to_string(), at(&names[2])),
    ];
    let citations: Vec<&(String, String)> = found
        .iter()
        .filter(|(c, _)| c == "BROKEN_CITATION")
        .collect();
    assert!(!citations.is_empty(), "PR #298 is cited: {found:?}");
    for citation in &citations {
        expected.push((*citation).clone());
    }
    let mut found_sorted = found.clone();
    found_sorted.sort();
    expected.sort();
    assert_eq!(found_sorted, expected, "{}", out.stderr);
    assert_eq!(out.code, 1, "errors gate");
    for f in json["findings"].as_array().expect("findings") {
        if f["code"] == "BROKEN_CITATION" {
            // As the corpus and the configuration spell it, not lowercased.
            let message = f["message"].as_str().unwrap_or("");
            assert!(message.contains("Regevba/FitTracker2#298"), "{f}");
        }
    }
}

/// A copy of the corpus whose first state file names an unknown owner,
/// and a workspace checking it.
fn with_an_invalid_owner(corpus: &Path) -> (tempfile::TempDir, tempfile::TempDir) {
    let broken = copy(corpus);
    let first = std::fs::read_dir(broken.path().join(".claude/features"))
        .expect("features")
        .flatten()
        .map(|e| e.path().join("state.json"))
        .find(|p| p.is_file())
        .expect("a state file");
    edit_json(&first, |d| {
        d.insert("state_owner".into(), "nobody".into());
    });
    let ws = workspace(broken.path(), &[]);
    (broken, ws)
}

#[test]
fn sarif_output_is_what_code_scanning_takes() {
    let Some(corpus) = corpus() else { return };
    let (_broken, ws) = with_an_invalid_owner(&corpus);
    let out = run_in(ws.path(), &["check", "--no-hub", "--format", "sarif"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let sarif: serde_json::Value = serde_json::from_str(&out.stdout).expect("sarif");
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "concord");
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "OWNER_INVALID");
    assert_eq!(result["level"], "error");
    let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .expect("uri");
    assert!(uri.starts_with(".claude/features/"), "{uri}");
    assert!(result["partialFingerprints"].is_object(), "{result}");
}

#[test]
fn text_output_underlines_the_offending_value() {
    let Some(corpus) = corpus() else { return };
    let (_broken, ws) = with_an_invalid_owner(&corpus);
    let out = run_in(ws.path(), &["check", "--no-hub"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.contains("error[OWNER_INVALID]"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("\"nobody\""), "{}", out.stdout);
    assert!(out.stdout.contains("^^^^^^^^"), "{}", out.stdout);
}

#[test]
fn configuration_mistakes_are_refused() {
    let Some(corpus) = corpus() else { return };
    let ws = workspace(&corpus, &[]);
    // A schema that is JSON but not a JSON Schema.
    std::fs::write(ws.path().join("state.schema.json"), r#"{"type": 12}"#).expect("schema");
    let out = run_in(ws.path(), &["check", "--no-hub"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("state.schema.json is not a valid JSON Schema"),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------- layers

/// A git repo of feature state files with owner checks.
fn layered() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "user.name", "Test"]);
    git(root, &["config", "user.email", "test@example.com"]);
    std::fs::write(
        root.join("concord.toml"),
        r#"
[[repo]]
name = "app"
path = "."

[checks.owner]
glob = "features/*/state.json"
field = "/state_owner"
owners = { app = "app" }
"#,
    )
    .expect("config");
    for name in ["a", "b"] {
        state(root, name, r#"{"name": "x", "state_owner": "app"}"#);
    }
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "start"]);
    dir
}

fn state(root: &Path, name: &str, json: &str) {
    let path = root.join(format!("features/{name}/state.json"));
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
    std::fs::write(path, json).expect("write");
}

/// `[checks] promote`: a code stays advisory (exit 0) until the snapshots
/// have been clean of it for the time asked, then gates; `check --list`
/// says where it stands and why.
#[test]
fn a_promoted_code_gates_only_after_the_snapshots_were_clean_long_enough() {
    let ws = layered();
    let root = ws.path();
    let promote = |wait: &str| {
        let config = std::fs::read_to_string(root.join("concord.toml")).expect("config");
        let base = config
            .split("\n[checks]\n")
            .next()
            .unwrap_or(&config)
            .to_string();
        std::fs::write(
            root.join("concord.toml"),
            format!("{base}\n[checks]\npromote = {{ OWNER_MISSING = \"{wait}\" }}\n"),
        )
        .expect("config");
    };
    promote("7d");
    state(root, "b", r#"{"name": "x"}"#);
    let early = run_in(root, &["check", "--json"]);
    assert_eq!(
        early.code, 0,
        "advisory before any snapshot: {}",
        early.stdout
    );
    assert!(
        early.stdout.contains("\"severity\": \"advisory\""),
        "{}",
        early.stdout
    );
    let list = run_in(root, &["check", "--list"]);
    assert!(
        list.stdout.contains(
            "promotion: advisory until the snapshots are clean of it for 7days: no snapshot yet"
        ),
        "{}",
        list.stdout
    );
    // A clean snapshot, then the problem comes back.
    state(root, "b", r#"{"name": "x", "state_owner": "app"}"#);
    assert_eq!(run_in(root, &["check", "--snapshot"]).code, 0);
    state(root, "b", r#"{"name": "x"}"#);
    let waiting = run_in(root, &["check"]);
    assert_eq!(
        waiting.code, 0,
        "clean for less than 7 days: {}",
        waiting.stdout
    );
    let list = run_in(root, &["check", "--list", "--json"]);
    let entry = serde_json::from_str::<serde_json::Value>(&list.stdout).expect("json")["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["code"] == "OWNER_MISSING")
        .cloned()
        .expect("OWNER_MISSING listed");
    assert!(
        entry["promotion"]
            .as_str()
            .is_some_and(|w| w.contains("gates in")),
        "{entry}"
    );
    // Clean for long enough (no wait asked): it gates.
    promote("0s");
    let gating = run_in(root, &["check"]);
    assert_eq!(gating.code, 1, "{}", gating.stdout);
    assert!(gating.stdout.contains("OWNER_MISSING"), "{}", gating.stdout);
    promote("a week");
    let bad = run_in(root, &["check"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("promote OWNER_MISSING = `a week`"),
        "{}",
        bad.stderr
    );
}

#[test]
fn staged_checks_read_the_index_not_the_working_tree() {
    let ws = layered();
    let root = ws.path();
    state(root, "a", r#"{"name": "x", "state_owner": "nobody"}"#);
    git(root, &["add", "features/a/state.json"]);
    // Fixed in the working tree but not staged: the commit would still
    // carry the bad owner.
    state(root, "a", r#"{"name": "x", "state_owner": "app"}"#);
    // Broken but not staged: not this commit's business.
    state(root, "b", r#"{"name": "x"}"#);
    let staged = run_in(root, &["check", "--staged"]);
    assert_eq!(staged.code, 1, "{}{}", staged.stdout, staged.stderr);
    assert!(staged.stdout.contains("OWNER_INVALID"), "{}", staged.stdout);
    assert!(
        !staged.stdout.contains("OWNER_MISSING"),
        "{}",
        staged.stdout
    );
    let all = run_in(root, &["check", "--all", "--no-hub"]);
    assert!(!all.stdout.contains("OWNER_INVALID"), "{}", all.stdout);
    assert!(all.stdout.contains("OWNER_MISSING"), "{}", all.stdout);
    // Nothing staged: nothing to say.
    git(root, &["reset", "-q"]);
    let none = run_in(root, &["check", "--staged"]);
    assert_eq!(none.code, 0, "{}{}", none.stdout, none.stderr);
}

#[test]
fn a_baseline_fails_only_on_new_gating_findings() {
    let ws = layered();
    let root = ws.path();
    // An old problem, committed.
    state(root, "a", r#"{"name": "x", "state_owner": "nobody"}"#);
    git(root, &["commit", "-q", "-am", "old problem"]);
    // The old problem moves lines (reformatted): still the same finding.
    state(
        root,
        "a",
        "{\n  \"name\": \"x\",\n\n  \"state_owner\": \"nobody\"\n}\n",
    );
    let same = run_in(root, &["check", "--baseline", "HEAD", "--no-hub"]);
    assert_eq!(same.code, 0, "{}{}", same.stdout, same.stderr);
    assert!(
        same.stdout
            .contains("0 new (0 gating), 0 fixed, 1 unchanged"),
        "{}",
        same.stdout
    );
    // A new problem fails; its old neighbour does not count.
    state(root, "c", r#"{"name": "x"}"#);
    let new = run_in(root, &["check", "--baseline", "HEAD", "--no-hub"]);
    assert_eq!(new.code, 1, "{}{}", new.stdout, new.stderr);
    assert!(new.stdout.contains("OWNER_MISSING"), "{}", new.stdout);
    assert!(!new.stdout.contains("OWNER_INVALID"), "{}", new.stdout);
    assert!(
        new.stdout.contains("1 new (1 gating), 0 fixed"),
        "{}",
        new.stdout
    );
    // Fixing the old one shows as fixed.
    state(root, "a", r#"{"name": "x", "state_owner": "app"}"#);
    std::fs::remove_file(root.join("features/c/state.json")).expect("rm");
    let fixed = run_in(root, &["check", "--baseline", "HEAD", "--no-hub"]);
    assert_eq!(fixed.code, 0, "{}{}", fixed.stdout, fixed.stderr);
    assert!(
        fixed.stdout.contains("0 new (0 gating), 1 fixed"),
        "{}",
        fixed.stdout
    );
    // The working tree was not touched by reading the baseline.
    assert!(git(root, &["status", "--porcelain"]).contains("features/a/state.json"));
    // A ref that names nothing.
    let bad = run_in(root, &["check", "--baseline", "no-such-branch"]);
    assert_eq!(bad.code, 2, "{}{}", bad.stdout, bad.stderr);
    assert!(
        bad.stderr
            .contains("baseline `no-such-branch` names no commit"),
        "{}",
        bad.stderr
    );
}

#[test]
fn snapshots_report_regressions_and_resolutions_and_are_listed() {
    let ws = layered();
    let root = ws.path();
    state(root, "a", r#"{"name": "x", "state_owner": "nobody"}"#);
    let first = run_in(root, &["check", "--snapshot"]);
    assert_eq!(
        first.code, 0,
        "the first snapshot is the baseline: {}",
        first.stdout
    );
    assert!(
        first.stdout.contains("snapshot 1: 1 findings (1 gating)"),
        "{}",
        first.stdout
    );
    state(root, "b", r#"{"name": "x"}"#);
    let second = run_in(root, &["check", "--snapshot"]);
    assert_eq!(second.code, 1, "{}", second.stdout);
    assert!(
        second.stdout.contains("1 regression(s), 0 resolved"),
        "{}",
        second.stdout
    );
    assert!(second.stdout.contains("OWNER_MISSING"), "{}", second.stdout);
    state(root, "a", r#"{"name": "x", "state_owner": "app"}"#);
    state(root, "b", r#"{"name": "x", "state_owner": "app"}"#);
    let third = run_in(root, &["check", "--snapshot"]);
    assert_eq!(third.code, 0, "{}", third.stdout);
    assert!(
        third.stdout.contains("0 regression(s), 2 resolved"),
        "{}",
        third.stdout
    );
    let history = run_in(root, &["check", "history", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&history.stdout).expect("json");
    let ids: Vec<i64> = list["snapshots"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["id"].as_i64())
        .collect();
    assert_eq!(ids, [3, 2, 1]);
    // The trend over them: per code, oldest first.
    let report = run_in(root, &["check", "history", "--report"]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    assert!(
        report
            .stdout
            .contains("| `OWNER_MISSING` | 0 | 1 | 0 | 0 |"),
        "{}",
        report.stdout
    );
    assert!(
        report
            .stdout
            .contains("| **all** | **1** | **2** | **0** | **-1** |"),
        "{}",
        report.stdout
    );
    let json = run_in(
        root,
        &["check", "history", "--report", "--json", "--last", "2"],
    );
    let trend: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    common::schema::assert_valid("check-trend", &trend);
    let covered: Vec<i64> = trend["snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .filter_map(|s| s["id"].as_i64())
        .collect();
    assert_eq!(covered, [2, 3], "the newest two, oldest first");
}

#[test]
fn the_installed_hook_blocks_a_commit_with_a_gating_finding() {
    let ws = layered();
    let root = ws.path();
    let installed = run_in(root, &["hooks", "install"]);
    assert_eq!(
        installed.code, 0,
        "{}{}",
        installed.stdout, installed.stderr
    );
    let hook = root.join(".git/hooks/pre-commit");
    let script = std::fs::read_to_string(&hook).expect("hook");
    assert!(script.contains("check --staged"), "{script}");
    // Installing again replaces our own hook without --force.
    assert_eq!(run_in(root, &["hooks", "install"]).code, 0);

    state(root, "a", r#"{"name": "x", "state_owner": "nobody"}"#);
    git(root, &["add", "."]);
    let commit = std::process::Command::new("git")
        .current_dir(root)
        .args(["commit", "-q", "-m", "bad owner"])
        .env("NO_COLOR", "1")
        .output()
        .expect("git commit");
    assert!(!commit.status.success(), "the hook refused the commit");
    // git sends a hook's output to stderr.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&commit.stdout),
        String::from_utf8_lossy(&commit.stderr)
    );
    assert!(said.contains("OWNER_INVALID"), "{said}");
    state(root, "a", r#"{"name": "renamed", "state_owner": "app"}"#);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "good owner"]);

    // A hook someone else wrote is kept unless --force.
    std::fs::write(&hook, "#!/bin/sh\necho mine\n").expect("foreign hook");
    let refused = run_in(root, &["hooks", "install"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("is not concord's"),
        "{}",
        refused.stderr
    );
    let forced = run_in(root, &["hooks", "install", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_eq!(
        std::fs::read_to_string(root.join(".git/hooks/pre-commit.concord-backup")).expect("backup"),
        "#!/bin/sh\necho mine\n"
    );
}

#[test]
fn a_file_that_is_not_utf8_is_a_finding_not_a_crash() {
    let ws = layered();
    let root = ws.path();
    let path = root.join("features/a/state.json");
    std::fs::write(&path, b"{\"name\": \"caf\xe9\"}").expect("latin-1");
    let out = run_in(root, &["check", "--no-hub"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("PARSE_ERROR"), "{}", out.stdout);
    assert!(out.stdout.contains("not UTF-8"), "{}", out.stdout);
}

#[test]
fn forward_only_scoping_skips_files_dated_before_the_cut_off() {
    let ws = layered();
    let root = ws.path();
    let config = std::fs::read_to_string(root.join("concord.toml")).expect("config");
    // By a date field in the file.
    std::fs::write(
        root.join("concord.toml"),
        format!("{config}\n[checks]\nsince = \"2026-04-21\"\nsince_field = \"/created_at\"\n"),
    )
    .expect("config");
    state(
        root,
        "a",
        r#"{"name": "x", "created_at": "2026-01-05T10:00:00Z"}"#,
    );
    state(
        root,
        "b",
        r#"{"name": "x", "created_at": "2026-06-01T10:00:00Z"}"#,
    );
    let out = run_in(root, &["check", "--no-hub", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let paths: Vec<&str> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert_eq!(paths, ["features/b/state.json"], "{}", out.stdout);

    // By the date of the commit that first added the file.
    std::fs::write(
        root.join("concord.toml"),
        format!("{config}\n[checks]\nsince = \"2026-04-21\"\n"),
    )
    .expect("config");
    let commit = |date: &str, message: &str| {
        let out = std::process::Command::new("git")
            .current_dir(root)
            .args(["commit", "-q", "-m", message])
            .env("GIT_COMMITTER_DATE", date)
            .env("GIT_AUTHOR_DATE", date)
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    state(root, "old", r#"{"name": "x"}"#);
    git(root, &["add", "features/old"]);
    commit("2026-02-01T12:00:00Z", "old");
    state(root, "new", r#"{"name": "x"}"#);
    git(root, &["add", "features/new"]);
    commit("2026-05-01T12:00:00Z", "new");
    state(root, "a", r#"{"name": "x", "state_owner": "app"}"#);
    state(root, "b", r#"{"name": "x", "state_owner": "app"}"#);
    let out = run_in(root, &["check", "--no-hub", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let paths: Vec<&str> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert_eq!(paths, ["features/new/state.json"], "{}", out.stdout);
}

#[test]
fn a_staged_phase_change_needs_a_recent_log_event_and_its_timing() {
    let ws = layered();
    let root = ws.path();
    let config = std::fs::read_to_string(root.join("concord.toml")).expect("config");
    std::fs::write(
        root.join("concord.toml"),
        format!(
            "{config}\n[checks.phases]\nglob = \"features/*/state.json\"\nfield = \"/current_phase\"\nlog = \"logs/{{dir}}.log.json\"\nwindow = \"24h\"\ntiming = [\"/timing/{{phase}}/started_at\"]\n"
        ),
    )
    .expect("config");
    state(
        root,
        "a",
        r#"{"name": "x", "state_owner": "app", "current_phase": "tasks"}"#,
    );
    git(root, &["commit", "-q", "-am", "tasks phase"]);

    // The phase moves with neither a log event nor timing.
    state(
        root,
        "a",
        r#"{"name": "x", "state_owner": "app", "current_phase": "implementation"}"#,
    );
    git(root, &["add", "."]);
    let out = run_in(root, &["check", "--staged"]);
    assert!(
        out.stdout.contains("PHASE_TRANSITION_NO_LOG"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("PHASE_TRANSITION_NO_TIMING"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("tasks -> implementation"),
        "{}",
        out.stdout
    );

    // With a fresh event for the new phase and the timing, it is clean.
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    std::fs::create_dir_all(root.join("logs")).expect("logs");
    std::fs::write(
        root.join("logs/a.log.json"),
        format!(r#"{{"events": [{{"timestamp": "{now}", "event_type": "phase_started", "phase": "implementation"}}]}}"#),
    )
    .expect("log");
    state(
        root,
        "a",
        &format!(
            r#"{{"name": "x", "state_owner": "app", "current_phase": "implementation", "timing": {{"implementation": {{"started_at": "{now}"}}}}}}"#
        ),
    );
    git(root, &["add", "."]);
    let out = run_in(root, &["check", "--staged"]);
    assert!(!out.stdout.contains("PHASE_TRANSITION"), "{}", out.stdout);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    // An old event does not count.
    std::fs::write(
        root.join("logs/a.log.json"),
        r#"{"events": [{"timestamp": "2020-01-01T00:00:00Z", "phase": "implementation"}]}"#,
    )
    .expect("log");
    git(root, &["add", "."]);
    let out = run_in(root, &["check", "--staged"]);
    assert!(
        out.stdout.contains("PHASE_TRANSITION_NO_LOG"),
        "{}",
        out.stdout
    );
}

#[test]
fn thousands_of_citations_are_resolved_once_each_and_remembered() {
    use concord_fakes::github::FakeGitHub;
    let gh = FakeGitHub::start("ghp_citations").expect("fake GitHub");
    gh.add_repo("acme/app");
    for n in 1..=9 {
        gh.add_issue("acme/app", &format!("issue {n}"), "open", &[]);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::write(
        root.join("concord.toml"),
        format!(
            r#"
[[repo]]
name = "app"
path = "."

[checks.citations]
globs = ["docs/*.md"]
default_repo = "acme/app"
url = "{}"
token_env = "TEST_CITE_TOKEN"
cache = "cache/citations.json"
"#,
            gh.url()
        ),
    )
    .expect("config");
    // 5,000 citations of ten distinct numbers; #10 does not exist.
    let mut text = String::from("# A long case study\n\n");
    for i in 0..5000 {
        text.push_str(&format!(
            "Shipped in PR #{} (see acme/app#{}).\n",
            i % 10 + 1,
            i % 10 + 1
        ));
    }
    std::fs::create_dir_all(root.join("docs")).expect("docs");
    std::fs::write(root.join("docs/case-study.md"), text).expect("case study");
    let run = || {
        let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("concord"))
            .current_dir(root)
            .env("NO_COLOR", "1")
            .env("TEST_CITE_TOKEN", "ghp_citations")
            .env_remove("CONCORD_CONFIG")
            .env_remove("CONCORD_HUB_URL")
            .args(["check", "--format", "json"])
            .output()
            .expect("run");
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        (output.status.code(), json)
    };
    let (code, json) = run();
    assert_eq!(code, Some(1));
    let broken: Vec<&serde_json::Value> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "BROKEN_CITATION")
        .collect();
    // Every place that cites the missing #10 (two forms per line, 500 lines).
    assert_eq!(broken.len(), 1000);
    assert!(broken.iter().all(|f| f["severity"] == "error"));
    let asked = gh.control().count("GET", "/repos/acme/app/issues/");
    assert_eq!(asked, 10, "each distinct citation once");
    // Remembered: the next run asks nothing.
    gh.control().clear_log();
    let (code, _) = run();
    assert_eq!(code, Some(1));
    assert_eq!(gh.control().requests().len(), 0);
    // The hub remembers too (shared by every machine), without the file.
    std::fs::remove_file(root.join("cache/citations.json")).expect("cache file");
    let (code, _) = run();
    assert_eq!(code, Some(1));
    assert_eq!(gh.control().requests().len(), 0, "answered from the hub");
    // Offline mode reads the file the online run wrote again.
    let offline = run_in(root, &["check", "--offline", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&offline.stdout).expect("json");
    let errors = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "BROKEN_CITATION" && f["severity"] == "error")
        .count();
    assert_eq!(errors, 1000, "{}", offline.stderr);
}

#[test]
fn a_journal_event_in_the_hub_counts_as_the_transitions_log() {
    let ws = layered();
    let root = ws.path();
    let config = std::fs::read_to_string(root.join("concord.toml")).expect("config");
    std::fs::write(
        root.join("concord.toml"),
        format!(
            r#"{config}
[[workflow]]
name = "lifecycle"
statuses = [{{ name = "tasks", rank = 0 }}, {{ name = "implementation", rank = 1 }}]

[[source]]
name = "features"
repo = "app"
format = "json"
glob = "features/*/state.json"
key = "{{/name}}"
status = "/current_phase"
workflow = "lifecycle"

[checks.phases]
glob = "features/*/state.json"
field = "/current_phase"
log = "logs/{{dir}}.log.json"
key = "{{dir}}"
"#
        ),
    )
    .expect("config");
    state(
        root,
        "a",
        r#"{"name": "a", "state_owner": "app", "current_phase": "tasks"}"#,
    );
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "tasks phase"]);
    state(
        root,
        "a",
        r#"{"name": "a", "state_owner": "app", "current_phase": "implementation"}"#,
    );
    git(root, &["add", "."]);
    let before = run_in(root, &["check", "--staged"]);
    assert!(
        before.stdout.contains("PHASE_TRANSITION_NO_LOG"),
        "{}",
        before.stdout
    );
    let logged = run_in(
        root,
        &[
            "log",
            "a",
            "--event",
            "phase_started",
            "--phase",
            "implementation",
        ],
    );
    assert_eq!(logged.code, 0, "{}{}", logged.stdout, logged.stderr);
    let after = run_in(root, &["check", "--staged"]);
    assert!(
        !after.stdout.contains("PHASE_TRANSITION_NO_LOG"),
        "{}",
        after.stdout
    );
}

#[test]
fn forward_only_scoping_applies_to_items_by_their_own_date() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::write(
        root.join("concord.toml"),
        format!(
            r#"
[[repo]]
name = "app"
path = "."
{}
[[source]]
name = "feature-tasks"
repo = "app"
format = "json"
glob = "state.json"
items = "/tasks"
key = "{{/id}}"
status = "/status"
workflow = "task"
fields = {{ created = "/created" }}

[[source]]
name = "workplans"
repo = "app"
format = "task-blocks"
glob = "plan.md"
workflow = "task"

[[sync]]
name = "tasks"
mode = "merge"
between = ["feature-tasks", "workplans"]

[checks]
since = "2026-04-21"
since_field = "/created"
"#,
            common::TASK_WORKFLOW
        ),
    )
    .expect("config");
    std::fs::write(
        root.join("state.json"),
        r#"{"tasks": [
  {"id": "T-old", "status": "todo", "created": "2026-01-05"},
  {"id": "T-new", "status": "todo", "created": "2026-06-01"},
  {"id": "T-both", "status": "todo", "created": "2026-06-01"}
]}"#,
    )
    .expect("state");
    std::fs::write(
        root.join("plan.md"),
        "```task\nid: T-both\nstatus: todo\n```\n",
    )
    .expect("plan");
    let out = run_in(root, &["check", "--no-hub", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let keys: Vec<&str> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "DANGLING_ITEM")
        .filter_map(|f| f["key"].as_str())
        .collect();
    assert_eq!(keys, ["T-new"], "{}", out.stdout);
}

// ---------------------------------------------------------------- owners

/// A workspace that checks out only `ft2`: `fitme-story` owns files too
/// but is not here, and mirrors carry `{owner}-reverse`.
fn one_repo_view(mirror_value: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let value = if mirror_value {
        "mirror_value = \"{owner}-reverse\"\n"
    } else {
        ""
    };
    std::fs::write(
        dir.path().join("concord.toml"),
        format!(
            r#"
[[repo]]
name = "ft2"
path = "."

[checks.owner]
glob = "features/*/state.json"
field = "/state_owner"
owners = {{ ft2 = "ft2", "fitme-story" = "fitme-story" }}
mirror_marker = "/state_owner_sync_origin"
{value}"#
        ),
    )
    .expect("config");
    let root = dir.path();
    state(root, "own", r#"{"state_owner": "ft2"}"#);
    state(
        root,
        "mirror",
        r#"{"state_owner": "fitme-story", "state_owner_sync_origin": "fitme-story-reverse"}"#,
    );
    state(
        root,
        "bogus",
        r#"{"state_owner": "fitme-story", "state_owner_sync_origin": "bogus"}"#,
    );
    state(
        root,
        "empty",
        r#"{"state_owner": "fitme-story", "state_owner_sync_origin": ""}"#,
    );
    state(
        root,
        "false",
        r#"{"state_owner": "fitme-story", "state_owner_sync_origin": false}"#,
    );
    state(root, "unmarked", r#"{"state_owner": "fitme-story"}"#);
    dir
}

/// (code, path, message) of every finding.
fn findings_of(json: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (text("code"), text("path"), text("message"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn only_the_configured_marker_value_exempts_and_an_owner_may_live_elsewhere() {
    let ws = one_repo_view(true);
    let out = run_in(ws.path(), &["check", "--no-hub", "--format", "json"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let found = findings_of(&json);
    let at = |name: &str| format!("features/{name}/state.json");
    let wrong = |found: &str| {
        format!(
            "owned by `fitme-story` (repo fitme-story, not checked out here) but lives in repo \
             ft2, and its mirror marker `/state_owner_sync_origin` is {found}, not \
             \"fitme-story-reverse\""
        )
    };
    let mut expected =
        vec![
        ("OWNER_LOCATION_MISMATCH".to_string(), at("bogus"), wrong("\"bogus\"")),
        ("OWNER_LOCATION_MISMATCH".to_string(), at("empty"), wrong("\"\"")),
        ("OWNER_LOCATION_MISMATCH".to_string(), at("false"), wrong("false")),
        (
            "OWNER_LOCATION_MISMATCH".to_string(),
            at("unmarked"),
            "owned by `fitme-story` (repo fitme-story, not checked out here) but lives in repo ft2"
                .to_string(),
        ),
    ];
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn without_a_configured_value_empty_and_false_markers_do_not_exempt() {
    let ws = one_repo_view(false);
    let out = run_in(ws.path(), &["check", "--no-hub", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let flagged: Vec<String> = findings_of(&json).into_iter().map(|(_, p, _)| p).collect();
    assert_eq!(
        flagged,
        [
            "features/empty/state.json",
            "features/false/state.json",
            "features/unmarked/state.json"
        ],
        "{}",
        out.stdout
    );
}

#[test]
fn an_owner_repo_one_letter_from_a_declared_one_is_a_config_error() {
    let ws = one_repo_view(true);
    let config = std::fs::read_to_string(ws.path().join("concord.toml")).expect("config");
    std::fs::write(
        ws.path().join("concord.toml"),
        config.replace("ft2 = \"ft2\"", "ft2 = \"ft-2\""),
    )
    .expect("config");
    let out = run_in(ws.path(), &["check", "--no-hub"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("concord.toml:9:"), "{}", out.stderr);
    assert!(out.stderr.contains("did you mean `ft2`?"), "{}", out.stderr);
}

// ---------------------------------------------------------------- scale

/// A merge rule over many sources whose items each live in one of them
/// (one plan per repo, the hub shared) has nothing dangling; sources that
/// share items still report the ones missing from their partner.
#[test]
fn dangling_items_are_reported_only_between_sources_that_share_items() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let mut config = String::new();
    let mut names = Vec::new();
    for i in 0..12 {
        config.push_str(&format!(
            "[[repo]]\nname = \"r{i}\"\npath = \"r{i}\"\n\n[[source]]\nname = \"plans-{i}\"\n\
             repo = \"r{i}\"\nformat = \"task-blocks\"\nglob = \"plan.md\"\nworkflow = \"task\"\n\n"
        ));
        names.push(format!("\"plans-{i}\""));
        let mut plan = String::new();
        for t in 0..3 {
            plan.push_str(&format!("```task\nid: R{i}-T{t}\nstatus: todo\n```\n\n"));
        }
        // r0 and r1 both list SHARED; r1 lacks R0-ONLY's partner copy.
        if i < 2 {
            plan.push_str("```task\nid: SHARED\nstatus: todo\n```\n\n");
        }
        std::fs::create_dir_all(root.join(format!("r{i}"))).expect("repo");
        std::fs::write(root.join(format!("r{i}/plan.md")), plan).expect("plan");
    }
    config.push_str(common::TASK_WORKFLOW);
    config.push_str(&format!(
        "\n[[sync]]\nname = \"all\"\nmode = \"merge\"\nbetween = [{}, \"hub\"]\n",
        names.join(", ")
    ));
    std::fs::write(root.join("concord.toml"), config).expect("config");
    let out = run_in(root, &["check", "--no-hub", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let dangling: Vec<(String, String, String)> = findings_of(&json)
        .into_iter()
        .filter(|(code, _, _)| code == "DANGLING_ITEM")
        .collect();
    // r0 and r1 share SHARED, so each of their own items is missing from
    // the other; the ten plans that share nothing report nothing.
    let mut expected = Vec::new();
    for (here, there) in [(0, 1), (1, 0)] {
        for t in 0..3 {
            expected.push((
                "DANGLING_ITEM".to_string(),
                "plan.md".to_string(),
                format!("R{here}-T{t} is in plans-{here} but not in plans-{there} (rule all)"),
            ));
        }
    }
    expected.sort();
    assert_eq!(dangling, expected, "{}", out.stderr);
}

// ---------------------------------------------------------------- unchecked citations

/// Citations nobody could check (offline, empty cache) are one note, not
/// one advisory each: one line in text, `notes` in JSON, one tool
/// notification in SARIF; the run says once why (offline).
#[test]
fn unchecked_citations_are_one_note_in_every_format() {
    let Some(corpus) = corpus() else { return };
    let ws = workspace(&corpus, &[]);
    std::fs::remove_file(ws.path().join("citations.json")).expect("empty cache");
    let json_out = run_in(ws.path(), &["check", "--no-hub", "--format", "json"]);
    assert_eq!(json_out.code, 0, "{}{}", json_out.stdout, json_out.stderr);
    let json: serde_json::Value = serde_json::from_str(&json_out.stdout).expect("json");
    assert_eq!(json["findings"].as_array().map(Vec::len), Some(0));
    let notes = json["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["code"], "CITATIONS_UNCHECKED");
    let message = notes[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("could not be checked (")
            && message.contains("not in the citation cache")
            && message.contains("offline (--offline or `offline = true`)")
            && message.contains("`concord check --refresh-citations` with a token fills"),
        "{message}"
    );
    let text = run_in(ws.path(), &["check", "--no-hub"]);
    let note_lines: Vec<&str> = text
        .stdout
        .lines()
        .filter(|l| l.starts_with("note:"))
        .collect();
    assert_eq!(note_lines, [format!("note: {message}")], "{}", text.stdout);
    assert_eq!(text.stdout.matches("could not be checked").count(), 1);
    let sarif = run_in(ws.path(), &["check", "--no-hub", "--format", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_str(&sarif.stdout).expect("sarif");
    let run = &sarif["runs"][0];
    assert_eq!(run["results"].as_array().map(Vec::len), Some(0));
    let notifications = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .expect("notifications");
    assert_eq!(notifications.len(), 1);
    assert_eq!(notifications[0]["level"], "note");
    assert_eq!(notifications[0]["message"]["text"], message);
}

// ---------------------------------------------------------------- refresh

/// A workspace citing #1..=#260 of acme/app (written `Acme/App`) against
/// a fake GitHub holding 240 issues and 10 pull requests.
fn refresh_workspace() -> (concord_fakes::github::FakeGitHub, tempfile::TempDir) {
    use concord_fakes::github::FakeGitHub;
    let gh = FakeGitHub::start("ghp_refresh").expect("fake GitHub");
    gh.add_repo("Acme/App");
    for n in 1..=240 {
        gh.add_issue("Acme/App", &format!("issue {n}"), "closed", &[]);
    }
    gh.add_branch("Acme/App", "main");
    for n in 0..10 {
        let branch = format!("topic-{n}");
        gh.add_branch("Acme/App", &branch);
        gh.add_pull("Acme/App", &branch, "main", n % 2 == 0);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::write(
        root.join("concord.toml"),
        format!(
            r#"
[[repo]]
name = "app"
path = "."

[checks.citations]
globs = ["docs/*.md"]
default_repo = "Acme/App"
url = "{}"
token_env = "TEST_REFRESH_TOKEN"
cache = "cache/citations.json"
"#,
            gh.url()
        ),
    )
    .expect("config");
    let mut text = String::from("# Case study\n\n");
    for n in 1..=260 {
        text.push_str(&format!("Shipped in PR #{n}.\n"));
    }
    std::fs::create_dir_all(root.join("docs")).expect("docs");
    std::fs::write(root.join("docs/case-study.md"), text).expect("case study");
    (gh, dir)
}

fn concord_with_token(root: &Path, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("concord"));
    command
        .current_dir(root)
        .env("NO_COLOR", "1")
        .env_remove("TEST_REFRESH_TOKEN")
        .env_remove("CONCORD_CONFIG")
        .env_remove("CONCORD_HUB_URL")
        .args(args);
    if let Some(token) = token {
        command.env("TEST_REFRESH_TOKEN", token);
    }
    let output = command.output().expect("run");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn refresh_fills_the_cache_in_a_few_paginated_conditional_requests() {
    let (gh, dir) = refresh_workspace();
    let root = dir.path();
    let refresh = |gh: &concord_fakes::github::FakeGitHub| {
        gh.control().clear_log();
        let out = concord_with_token(root, Some("ghp_refresh"), &["check", "--refresh-citations"]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        out
    };
    let out = refresh(&gh);
    assert!(
        out.stdout
            .contains("260 cited in 1 repositories: 250 exist, 10 missing; 3 requests"),
        "{}",
        out.stdout
    );
    // Three pages of 100 along `Link: rel="next"`, never one per citation.
    let requests = gh.control().requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(
        requests
            .iter()
            .all(|r| r.method == "GET" && r.status == 200)
    );
    assert_eq!(gh.control().count("GET", "/repos/Acme/App/issues/"), 0);
    // The cache format (docs/citations.md): lowercased keys, answers.
    let cache: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("cache/citations.json")).expect("cache"),
    )
    .expect("json");
    assert_eq!(cache["version"], 1);
    let answers = cache["citations"].as_object().expect("citations");
    assert_eq!(answers.len(), 260);
    assert_eq!(answers["acme/app#250"], "exists");
    assert_eq!(answers["acme/app#251"], "missing");
    // Again: every page is asked with its ETag and comes back 304.
    let out = refresh(&gh);
    assert!(
        out.stdout.contains("3 requests (3 unchanged pages)"),
        "{}",
        out.stdout
    );
    assert!(gh.control().requests().iter().all(|r| r.status == 304));
    // Offline, the cache decides: the ten missing ones, as written.
    let check = concord_with_token(root, None, &["check", "--format", "json", "--no-hub"]);
    assert_eq!(check.code, 1, "{}", check.stderr);
    let json: serde_json::Value = serde_json::from_str(&check.stdout).expect("json");
    let broken = json["findings"].as_array().expect("findings");
    assert_eq!(broken.len(), 10);
    assert!(
        broken[0]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Acme/App#251 "),
        "{}",
        broken[0]
    );
    assert!(json.get("notes").is_none(), "every citation answered");
}

#[test]
fn refresh_needs_a_token_and_stops_at_a_spent_rate_limit() {
    let (gh, dir) = refresh_workspace();
    let root = dir.path();
    let out = concord_with_token(root, None, &["check", "--refresh-citations"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("$TEST_REFRESH_TOKEN"), "{}", out.stderr);
    assert!(gh.control().requests().is_empty());
    gh.exhaust_rate_limit(std::time::Duration::from_secs(3600));
    let out = concord_with_token(root, Some("ghp_refresh"), &["check", "--refresh-citations"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("Acme/App could not be listed")
            || out.stderr.contains("acme/app could not be listed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.to_lowercase().contains("rate limit"),
        "{}",
        out.stderr
    );
}
