//! Every invalid workspace file is refused with exit 2 and a message that
//! names the file, line and column. The samples live in
//! `sample-configs/invalid/`, each starting with `# expect: <text>`.

mod common;
use common::{TestWorkspace, run_in};

#[test]
fn each_invalid_sample_is_refused_with_its_message() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sample-configs/invalid");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("samples")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("sample");
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} must start with `# expect: `", path.display()));
        let out = run_in(
            &dir,
            &["--config", path.to_str().expect("utf-8 path"), "scan"],
        );
        assert_eq!(out.code, 2, "{}: {}", path.display(), out.stderr);
        assert!(
            out.stderr.contains(expect),
            "{}: expected `{expect}` in:\n{}",
            path.display(),
            out.stderr
        );
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(
            out.stderr.contains(&format!("{name}:")),
            "{name}: message must name the file and line:\n{}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} samples");
}

#[test]
fn unknown_key_points_at_its_line_and_column() {
    let ws = TestWorkspace::new();
    ws.config("[[repo]]\nname = \"app\"\npath = \".\"\nbrnach = \"main\"\n");
    let out = ws.concord(&["scan"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("concord.toml:4:1"), "{}", out.stderr);
    assert!(
        out.stderr.contains("did you mean `branch`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn missing_config_is_a_usage_error() {
    let ws = TestWorkspace::new();
    let out = ws.concord(&["status"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no concord.toml found"),
        "{}",
        out.stderr
    );
    let out = ws.concord(&["--config", "nope.toml", "scan"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("nope.toml"), "{}", out.stderr);
}

#[test]
fn config_is_found_by_walking_up() {
    let ws = TestWorkspace::new();
    ws.config(&format!(
        "[[repo]]\nname = \"app\"\npath = \".\"\n{}\n[[source]]\nname = \"w\"\nrepo = \"app\"\nformat = \"task-blocks\"\nglob = \"docs/*.md\"\nworkflow = \"task\"\n",
        common::TASK_WORKFLOW
    ));
    ws.write("docs/w.md", "```task\nid: T1\nstatus: done\n```\n");
    let out = run_in(&ws.path().join("docs"), &["scan", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["summary"]["items"], 1);
}

#[test]
fn usage_errors_exit_2() {
    let ws = TestWorkspace::new();
    assert_eq!(ws.concord(&["frobnicate"]).code, 2);
    assert_eq!(ws.concord(&["scan", "--jsn"]).code, 2);
}
