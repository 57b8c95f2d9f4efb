//! Team rules (`[[checks.rule]]`): CEL conditions from concord.toml that
//! produce findings like the built-in checks. The FitTracker2 example
//! (`examples/fittracker2/concord.toml`) runs on the corpus in place; its
//! exact findings are in `team-rules-fittracker2.expected`, each code's set
//! checked against the files with jq/grep when it was written.

mod common;
use common::{TestWorkspace, run_in};

use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/fittracker2");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: no corpus at {}", dir.display());
        None
    }
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).expect("JSON report")
}

#[test]
fn the_fittracker2_example_finds_exactly_the_expected_findings() {
    if corpus().is_none() {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = run_in(
        &root,
        &[
            "--config",
            "examples/fittracker2/concord.toml",
            "check",
            "--no-hub",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out.stdout);
    let got = finding_lines(&report, &["code", "path"]);
    let expected = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/team-rules-fittracker2.expected"),
    )
    .expect("expected findings");
    let expected: Vec<&str> = expected.lines().collect();
    assert_eq!(got, expected);
    // Every finding has a fingerprint, like the built-in checks.
    assert!(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["fingerprint"].as_str().is_some_and(|s| !s.is_empty()))
    );
}

const STATE_RULES: &str = r#"
[[repo]]
name = "app"
path = "."

[[checks.rule]]
code = "PHASE_LIE"
glob = "features/*/state.json"
when = 'doc.current_phase == "complete" && doc.phases.exists(k, doc.phases[k].status != "approved")'
message = "{dir} is complete but {doc.phases.filter(k, doc.phases[k].status != 'approved')} are not approved"

[[checks.rule]]
code = "TASK_OPEN"
glob = "features/*/state.json"
items = "/tasks"
key = 'dir + "/" + item.id'
severity = "warning"
exempt = ["/tags=wontfix"]
when = 'doc.current_phase == "complete" && item.status != "done"'
message = "task {item.id} is {item.status}"

[[checks.rule]]
code = "NEEDS_CS"
glob = "features/*/state.json"
when = 'has(doc.case_study) && !path_exists("/" + doc.case_study)'
message = "{doc.case_study} is missing"
"#;

#[test]
fn rules_flag_documents_and_items_with_their_messages_in_sarif_and_list() {
    let ws = TestWorkspace::new();
    ws.config(STATE_RULES);
    ws.write(
        "features/a/state.json",
        r#"{"current_phase": "complete", "case_study": "docs/a.md",
  "phases": {"prd": {"status": "approved"}, "review": {"status": "pending"}},
  "tasks": [{"id": "T1", "status": "done"}, {"id": "T2", "status": "todo"},
            {"id": "T3", "status": "todo", "tags": ["wontfix"]}]}"#,
    );
    ws.write(
        "features/b/state.json",
        r#"{"current_phase": "complete", "phases": {"prd": {"status": "approved"}}, "tasks": []}"#,
    );
    let out = ws.concord(&["check", "--no-hub", "--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out.stdout);
    let findings: Vec<(String, String, String)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("").to_string(),
                f["message"].as_str().unwrap_or("").to_string(),
                f["severity"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        findings.contains(&(
            "PHASE_LIE".into(),
            "a is complete but [review] are not approved".into(),
            "error".into()
        )),
        "{findings:?}"
    );
    assert!(
        findings.contains(&(
            "TASK_OPEN".into(),
            "task T2 is todo".into(),
            "warning".into()
        )),
        "{findings:?}"
    );
    assert!(
        findings.contains(&(
            "NEEDS_CS".into(),
            "docs/a.md is missing".into(),
            "error".into()
        )),
        "{findings:?}"
    );
    assert_eq!(findings.len(), 3, "{findings:?}");
    // The item finding points at the item and is keyed by it.
    let task = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "TASK_OPEN")
        .expect("task finding");
    assert_eq!(task["key"], "a/T2");
    assert_eq!(task["line"], 3);

    let sarif = ws.concord(&["check", "--no-hub", "--format", "sarif"]);
    let sarif = json(&sarif.stdout);
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    assert!(
        rules
            .iter()
            .any(|r| r["id"] == "TASK_OPEN" && r["defaultConfiguration"]["level"] == "warning"),
        "{rules:?}"
    );

    let list = ws.concord(&["check", "--list"]);
    assert!(list.stdout.contains("PHASE_LIE"), "{}", list.stdout);
    assert!(list.stdout.contains("TASK_OPEN"), "{}", list.stdout);
}

#[test]
fn a_failing_expression_is_a_rule_error_not_clean() {
    let ws = TestWorkspace::new();
    ws.config(STATE_RULES);
    // No `phases`: `doc.phases` fails without `has()`.
    ws.write(
        "features/c/state.json",
        r#"{"current_phase": "complete", "tasks": []}"#,
    );
    let out = ws.concord(&["check", "--no-hub", "--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out.stdout);
    let errors: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "RULE_ERROR")
        .collect();
    assert_eq!(errors.len(), 1, "{}", out.stdout);
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("rule PHASE_LIE: `when` failed"),
        "{}",
        out.stdout
    );
}

#[test]
fn baselines_see_team_findings_as_unchanged() {
    let ws = TestWorkspace::new();
    ws.config(STATE_RULES);
    ws.write(
        "features/b/state.json",
        r#"{"current_phase": "complete", "phases": {"x": {"status": "pending"}}, "tasks": []}"#,
    );
    common::git(ws.dir.path(), &["init", "-q", "-b", "main"]);
    common::git(ws.dir.path(), &["add", "."]);
    common::git(
        ws.dir.path(),
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            "init",
        ],
    );
    let out = ws.concord(&["check", "--no-hub", "--baseline", "HEAD"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("0 new"), "{}", out.stdout);
}

#[test]
fn a_cel_syntax_error_names_the_line_and_column_of_the_expression() {
    let ws = TestWorkspace::new();
    ws.config("[[repo]]\nname = \"app\"\npath = \".\"\n\n[[checks.rule]]\ncode = \"X_RULE\"\nglob = \"*.json\"\nmessage = \"x\"\nwhen = 'doc.a == && 1'\n");
    let out = ws.concord(&["check", "--no-hub"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("concord.toml:9:"), "{}", out.stderr);
    assert!(
        out.stderr.contains("invalid CEL expression"),
        "{}",
        out.stderr
    );
}

/// `git commit` with both dates set, so that first-commit dates are known.
fn commit_at(dir: &std::path::Path, date: &str, message: &str) {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(["commit", "-q", "-m", message])
        .env("GIT_AUTHOR_DATE", format!("{date}T12:00:00Z"))
        .env("GIT_COMMITTER_DATE", format!("{date}T12:00:00Z"))
        .output()
        .expect("git commit");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn forward_only_by_first_commit_date_on_the_corpus_case_studies() {
    let Some(corpus) = corpus() else {
        return;
    };
    // The corpus is no git repo: copy its case studies into one (in a
    // temp dir only), committed before the cut-off.
    let ws = TestWorkspace::new();
    common::init_repo(ws.dir.path());
    common::copy_tree(
        &corpus.join("docs/case-studies"),
        &ws.dir.path().join("docs/case-studies"),
    );
    ws.config(
        r#"[[repo]]
name = "ft2"
path = "."

[[checks.rule]]
code = "CASE_STUDY_MISSING_TIER_TAGS"
glob = "docs/case-studies/*-case-study.md"
since = "2026-05-01"
since_field = "first_commit"
when = '!body.matches("\\bT[123]\\b")'
message = 'no tier tag (first committed {first_commit_date("/" + path)})'
"#,
    );
    common::git(ws.dir.path(), &["add", "."]);
    commit_at(ws.dir.path(), "2026-04-01", "old case studies");
    ws.write(
        "docs/case-studies/new-thing-case-study.md",
        "---\ntitle: New\n---\n\nNo tags here.\n",
    );
    common::git(ws.dir.path(), &["add", "."]);
    commit_at(ws.dir.path(), "2026-06-02", "a new case study");

    let out = ws.concord(&["check", "--no-hub", "--format", "json"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let report = json(&out.stdout);
    let found: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or(""),
                f["message"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // The 29 untagged corpus case studies are older than the cut-off.
    assert_eq!(
        found,
        vec![(
            "docs/case-studies/new-thing-case-study.md",
            "no tier tag (first committed 2026-06-02)"
        )]
    );
}

/// The example's rules that find nothing on the corpus do fire: the same
/// rules (the repo pointed at a temp folder) on documents that break them.
#[test]
fn the_example_rules_fire_on_documents_that_break_them() {
    let example =
        std::fs::read_to_string(common::project_root().join("examples/fittracker2/concord.toml"))
            .expect("example");
    let ws = TestWorkspace::new();
    ws.config(&example.replace(
        "path = \"../../../shared/corpus/fittracker2\"",
        "path = \".\"",
    ));
    ws.write(
        ".claude/features/lie/state.json",
        r#"{"current_phase": "complete", "created_at": "2026-04-01", "case_study_exempt_reason": "internal",
  "phases": {"prd": {"status": "approved"}, "review": {"status": "in_progress"}, "metrics": {"primary": 1}}}"#,
    );
    ws.write(
        ".claude/features/cu/state.json",
        r#"{"current_phase": "implementation", "created_at": "2026-04-01",
  "case_study": "docs/case-studies/gone-case-study.md",
  "cu_v2": {"factors": {"complexity": 0.5, "blast_radius": 1, "novelty": 0.5, "verification_difficulty": 0.5}, "total": 3.0}}"#,
    );
    ws.write(
        ".claude/features/range/state.json",
        r#"{"current_phase": "implementation", "created_at": "2026-04-01",
  "cu_v2": {"factors": {"complexity": 1.5, "blast_radius": 0, "novelty": 0, "verification_difficulty": 0}, "total": 1.5}}"#,
    );
    ws.write(
        ".claude/features/ok/state.json",
        r#"{"current_phase": "implementation", "created_at": "2026-04-01",
  "cu_v2": {"factors": {"complexity": 0.6, "blast_radius": 0.5, "novelty": 0.5, "verification_difficulty": 0.7}, "total": 2.3}}"#,
    );
    let out = ws.concord(&["check", "--no-hub", "--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out.stdout);
    let got = finding_lines(&report, &["code", "path", "message"]);
    assert_eq!(
        got,
        vec![
            "CU_V2_INVALID .claude/features/cu/state.json: cu_v2 of cu is invalid: factors {blast_radius: 1, complexity: 0.5, novelty: 0.5, verification_difficulty: 0.5}, total 3",
            "CU_V2_INVALID .claude/features/range/state.json: cu_v2 of range is invalid: factors {blast_radius: 0, complexity: 1.5, novelty: 0, verification_difficulty: 0}, total 1.5",
            "PHASE_LIE .claude/features/lie/state.json: lie is complete but phase(s) [review] are not",
            "STATE_NO_CASE_STUDY_LINK .claude/features/cu/state.json: case_study `docs/case-studies/gone-case-study.md` does not exist",
        ]
    );
}

/// Per pull request, the helpers of each side read that side's repo: a
/// case study added in the working tree fixes the finding of the commit.
#[test]
fn baseline_helpers_read_the_baseline_commit() {
    let ws = TestWorkspace::new();
    common::init_repo(ws.dir.path());
    ws.config(STATE_RULES);
    ws.write(
        "features/d/state.json",
        r#"{"current_phase": "design", "case_study": "docs/d.md", "phases": {}, "tasks": []}"#,
    );
    common::git(ws.dir.path(), &["add", "."]);
    commit_at(ws.dir.path(), "2026-05-01", "feature d");
    ws.write("docs/d.md", "# D\n");
    let out = ws.concord(&["check", "--no-hub", "--baseline", "HEAD"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("0 new (0 gating), 1 fixed"),
        "{}",
        out.stdout
    );
}

/// Snapshots store team findings and compare them like built-in ones;
/// `[checks] severity` and `disable` name team codes too.
#[test]
fn snapshots_and_severity_overrides_treat_team_codes_like_built_ins() {
    let ws = TestWorkspace::new();
    ws.config(STATE_RULES);
    ws.write(
        "features/e/state.json",
        r#"{"current_phase": "complete", "phases": {"x": {"status": "approved"}}, "tasks": []}"#,
    );
    let first = ws.concord(&["check", "--snapshot"]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("snapshot 1: 0 findings"),
        "{}",
        first.stdout
    );
    ws.write(
        "features/e/state.json",
        r#"{"current_phase": "complete", "phases": {"x": {"status": "pending"}}, "tasks": []}"#,
    );
    let second = ws.concord(&["check", "--snapshot"]);
    assert_eq!(second.code, 1, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.stdout.contains("1 regression(s), 0 resolved"),
        "{}",
        second.stdout
    );
    assert!(second.stdout.contains("PHASE_LIE"), "{}", second.stdout);

    ws.config(&format!(
        "{STATE_RULES}\n[checks]\nseverity = {{ PHASE_LIE = \"advisory\" }}\ndisable = [\"NEEDS_CS\"]\n"
    ));
    let out = ws.concord(&["check", "--no-hub", "--format", "json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = json(&out.stdout);
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{}", out.stdout);
    assert_eq!(findings[0]["code"], "PHASE_LIE");
    assert_eq!(findings[0]["severity"], "advisory");
}

/// A registry read two ways: per entry (`items`) with `path_exists`, and
/// from each state file with `document()`; `date()` compares dates.
#[test]
fn registry_rules_with_items_document_and_dates() {
    let ws = TestWorkspace::new();
    ws.config(
        r#"[[repo]]
name = "app"
path = "."

[[checks.rule]]
code = "NO_STATE"
glob = "registry.json"
items = "/features"
key = "item.name"
when = '!path_exists("features/" + item.name + "/state.json")'
message = "{item.name} is registered but has no state file"

[[checks.rule]]
code = "NOT_REGISTERED"
glob = "features/*/state.json"
when = '!document("/registry.json").features.exists(f, f.name == dir)'
message = "{dir} is not in the registry"

[[checks.rule]]
code = "LATE"
glob = "features/*/state.json"
severity = "warning"
when = 'has(doc.due) && date(doc.due) < date("2026-05-01")'
message = "{dir} was due {date(doc.due)}"
"#,
    );
    ws.write(
        "registry.json",
        r#"{"features": [{"name": "a"}, {"name": "ghost"}]}"#,
    );
    ws.write(
        "features/a/state.json",
        r#"{"due": "2026-04-30T10:00:00Z"}"#,
    );
    ws.write("features/b/state.json", r#"{"due": "2026-05-01"}"#);
    let out = ws.concord(&["check", "--no-hub", "--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out.stdout);
    let got = finding_lines(&report, &["code", "path", "key", "message"]);
    assert_eq!(
        got,
        vec![
            "LATE features/a/state.json -: a was due 2026-04-30",
            "NOT_REGISTERED features/b/state.json -: b is not in the registry",
            "NO_STATE registry.json ghost: ghost is registered but has no state file",
        ]
    );
}

#[test]
fn items_that_are_not_a_list_are_a_rule_error() {
    let ws = TestWorkspace::new();
    ws.config(STATE_RULES);
    ws.write(
        "features/f/state.json",
        r#"{"current_phase": "design", "phases": {}, "tasks": "T1, T2"}"#,
    );
    ws.write(
        "features/g/state.json",
        r#"{"current_phase": "design", "phases": {}}"#,
    );
    let out = ws.concord(&["check", "--no-hub", "--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = json(&out.stdout);
    let findings = report["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{}", out.stdout);
    assert_eq!(findings[0]["code"], "RULE_ERROR");
    assert_eq!(findings[0]["path"], "features/f/state.json");
    assert!(
        findings[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("`items` /tasks is \"T1, T2\", not a list or an object"),
        "{}",
        out.stdout
    );
}

/// Each finding of a JSON report as one line of the named fields, sorted:
/// `CODE path`, then ` key` (`-` when none), then `: message`.
fn finding_lines(report: &serde_json::Value, fields: &[&str]) -> Vec<String> {
    let mut lines: Vec<String> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let mut line = String::new();
            for (i, name) in fields.iter().enumerate() {
                let missing = if *name == "key" { "-" } else { "" };
                let separator = match (i, *name) {
                    (0, _) => "",
                    (_, "message") => ": ",
                    _ => " ",
                };
                line.push_str(separator);
                line.push_str(f[*name].as_str().unwrap_or(missing));
            }
            line
        })
        .collect();
    lines.sort();
    lines
}
