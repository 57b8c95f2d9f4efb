//! Every invalid workspace file is refused with exit 2 and a message that
//! names the file, line and column. The samples live in
//! `sample-configs/invalid/`, each starting with `# expect: <text>`.
//! Also the tools around the file: `config schema` (published in `docs/`,
//! every example validates), `config check` (reads no source), and the
//! flags every command shares (`-q`, `-v`, `--hub` only where it works,
//! read-only commands leaving no `.concord/` behind).

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

fn schema_file() -> std::path::PathBuf {
    common::project_root().join("docs/concord-toml.schema.json")
}

/// A TOML file as the JSON the schema describes.
fn toml_as_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("read toml");
    let value: toml::Value = toml::from_str(&text).expect("valid toml");
    serde_json::to_value(value).expect("toml as json")
}

#[test]
fn the_config_schema_is_published_and_every_example_validates() {
    let ws = TestWorkspace::new();
    let out = ws.concord(&["config", "schema"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(schema_file(), &out.stdout).expect("write the schema");
    }
    let published = std::fs::read_to_string(schema_file()).expect("docs/concord-toml.schema.json");
    assert_eq!(
        out.stdout, published,
        "docs/concord-toml.schema.json differs from `concord config schema` \
         (UPDATE_SCHEMAS=1 cargo test -p concord-cli --test cli_config_errors)"
    );
    let schema: serde_json::Value = serde_json::from_str(&published).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid draft-7 schema");
    let root = common::project_root();
    let examples = [
        "examples/concord.toml",
        "examples/mirror/concord.toml",
        "examples/plan-to-openproject/concord.toml",
        "examples/fittracker2/concord.toml",
    ];
    for example in examples {
        let instance = toml_as_json(&root.join(example));
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{example}: {errors:?}");
    }
    // A misspelt key is what an editor must underline.
    let typo: serde_json::Value =
        serde_json::json!({"repo": [{"name": "a", "path": ".", "brnach": "main"}]});
    assert!(
        !validator.is_valid(&typo),
        "an unknown key must not validate"
    );
    let format: serde_json::Value = serde_json::json!({"source": [{"name": "s", "repo": "a",
        "format": "yaml", "glob": "*.md", "workflow": "task"}]});
    assert!(
        !validator.is_valid(&format),
        "an unknown format must not validate"
    );
}

#[test]
fn config_check_reads_no_source_and_finds_the_repos() {
    let ws = TestWorkspace::new();
    common::init_repo(&ws.path().join("app"));
    ws.config(&format!(
        "[[repo]]\nname = \"app\"\npath = \"app\"\n{}\n[[source]]\nname = \"state\"\nrepo = \"app\"\nformat = \"json\"\nglob = \"*.json\"\nstatus = \"/status\"\nkey = \"{{stem}}\"\nworkflow = \"task\"\n",
        common::TASK_WORKFLOW
    ));
    // A file no scan could read: config check does not open it.
    ws.write("app/broken.json", "{ not json");
    let out = ws.concord(&["config", "check"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("valid: 1 repo"), "{}", out.stdout);
    let out = ws.concord(&["config", "check", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = out.json();
    common::schema::assert_valid("config-check", &report);
    assert_eq!(report["repos"][0]["git"], true);
    assert!(
        !ws.path().join(".concord").exists(),
        "config check made .concord/"
    );

    std::fs::remove_dir_all(ws.path().join("app")).expect("remove the repo");
    let out = ws.concord(&["config", "check"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("repo `app`"), "{}", out.stdout);

    ws.write("concord.toml", "[[repo]]\nname = \"app\"\npth = \"app\"\n");
    let out = ws.concord(&["config", "check"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("concord.toml:3:1"), "{}", out.stderr);
}

#[test]
fn an_unreachable_postgres_hub_is_refused_at_once() {
    let ws = TestWorkspace::new();
    // Port 9 (discard) is closed on a test machine: the connection is refused.
    ws.config("[hub]\nurl = \"postgres://postgres@127.0.0.1:9/test\"\n");
    let started = std::time::Instant::now();
    let out = ws.concord(&["summary"]);
    let took = started.elapsed();
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr.to_lowercase().contains("connection refused"),
        "{}",
        out.stderr
    );
    // The pool alone would retry for its 10 s acquire timeout.
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
}

/// The example's folders, copied: a workspace only looked at.
fn example_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = common::project_root().join("examples");
    common::copy_tree(&root.join("repos"), &dir.path().join("repos"));
    std::fs::copy(root.join("concord.toml"), dir.path().join("concord.toml")).expect("copy");
    dir
}

#[test]
fn read_only_commands_leave_no_concord_folder_and_recording_ones_make_it() {
    let dir = example_copy();
    for args in [
        &["status"][..],
        &["diff"],
        &["summary"],
        &["history", "T1"],
        &["check"],
        &["check", "--json"],
        &["scan", "--no-hub"],
        &["config", "check"],
    ] {
        let out = run_in(dir.path(), args);
        assert!(out.code <= 1, "{args:?}: {}", out.stderr);
        assert!(
            !dir.path().join(".concord").exists(),
            "`concord {}` created .concord/",
            args.join(" ")
        );
    }
    let out = run_in(dir.path(), &["scan"]);
    assert!(out.code <= 1, "{}", out.stderr);
    assert!(
        dir.path().join(".concord/hub.db").exists(),
        "scan records in the hub"
    );
}

#[test]
fn quiet_and_verbose_mean_the_same_on_every_command() {
    let dir = example_copy();
    // A row the scan warns about, so there is something to keep quiet.
    let plan = dir.path().join("repos/app/docs/plan.md");
    let mut text = std::fs::read_to_string(&plan).expect("plan");
    text.push_str("\n| Track | Phase | GH issue / OP wp | Status |\n|---|---|---|---|\n| x | y | wp#999 | Frobbed |\n");
    std::fs::write(&plan, text).expect("write plan");
    let loud = run_in(dir.path(), &["status"]);
    assert!(loud.stderr.contains("warning"), "{}", loud.stderr);
    for args in [
        &["-q", "status"][..],
        &["status", "--quiet"],
        &["diff", "-q"],
    ] {
        let out = run_in(dir.path(), args);
        assert!(out.stderr.is_empty(), "{args:?}: {}", out.stderr);
        assert!(
            !out.stdout.is_empty(),
            "{args:?}: results still go to stdout"
        );
    }
    assert_eq!(run_in(dir.path(), &["-q", "status"]).code, loud.code);
    for args in [&["-v", "status"][..], &["scan", "--no-hub", "--verbose"]] {
        let out = run_in(dir.path(), args);
        assert!(
            out.stderr.contains("workspace: "),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(run_in(dir.path(), &["-q", "-v", "status"]).code, 2);
}

#[test]
fn hub_is_an_option_only_of_the_commands_a_server_does() {
    let dir = example_copy();
    for command in ["sync", "set", "log", "history", "explain", "summary"] {
        let out = run_in(dir.path(), &[command, "--help"]);
        assert!(
            out.stdout.contains("--hub <URL>"),
            "{command}: {}",
            out.stdout
        );
    }
    for command in ["status", "scan", "diff", "check", "mirror", "config"] {
        let out = run_in(dir.path(), &[command, "--help"]);
        assert!(!out.stdout.contains("--hub"), "{command}: {}", out.stdout);
    }
    let out = run_in(dir.path(), &["status", "--hub", "https://hub.example"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--hub"), "{}", out.stderr);
}

#[test]
fn check_takes_json_like_every_other_command() {
    let dir = example_copy();
    let json = run_in(dir.path(), &["check", "--json"]);
    let format = run_in(dir.path(), &["check", "--format", "json"]);
    assert_eq!(json.code, format.code, "{}", json.stderr);
    let strip = |o: &common::Output| {
        let mut v = o.json();
        v.as_object_mut().map(|m| m.remove("generated_at"));
        v
    };
    assert_eq!(strip(&json), strip(&format));
    assert_eq!(
        run_in(dir.path(), &["check", "--json", "--format", "sarif"]).code,
        2
    );
}

/// What an editor does: taplo (Even Better TOML's engine, from npm in
/// `.ci/config-lint`) accepts every example against the published schema
/// and underlines a misspelt key and an unknown format.
#[test]
fn taplo_checks_concord_toml_against_the_published_schema() {
    let root = common::project_root();
    let taplo = root.join(".ci/config-lint/node_modules/.bin/taplo");
    if !taplo.exists() {
        println!(
            "skipped: taplo is not installed (npm ci in {})",
            root.join(".ci/config-lint").display()
        );
        return;
    }
    let schema = format!("file://{}", schema_file().display());
    let taplo_check = |file: &std::path::Path| {
        std::process::Command::new(&taplo)
            .args(["check", "--schema", &schema])
            .arg(file)
            .env("RUST_LOG", "error")
            .output()
            .expect("run taplo")
    };
    for example in [
        "examples/concord.toml",
        "examples/mirror/concord.toml",
        "examples/plan-to-openproject/concord.toml",
        "examples/fittracker2/concord.toml",
    ] {
        let out = taplo_check(&root.join(example));
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ws = TestWorkspace::new();
    let bad = ws.write(
        "concord.toml",
        "[[repo]]\nname = \"a\"\npath = \".\"\nbrnach = \"main\"\n\n[[source]]\nname = \"s\"\nrepo = \"a\"\nformat = \"yaml\"\nglob = \"*\"\nworkflow = \"t\"\n",
    );
    let out = taplo_check(&bad);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("'brnach' was unexpected"), "{said}");
    assert!(said.contains("\"yaml\" is not one of"), "{said}");
}
