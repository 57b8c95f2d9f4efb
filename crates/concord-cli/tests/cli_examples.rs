//! The bundled examples stay valid: their configs load and read, and the
//! CI workflow of the OpenProject example and the repository's action
//! (`action.yml`) keep secrets and inputs out of shell code.

mod common;
use std::path::PathBuf;

fn example(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(rel)
}

#[test]
fn the_plan_to_openproject_example_reads_its_plan() {
    let config = example("plan-to-openproject/concord.toml");
    let out = common::run_in(
        &std::env::temp_dir(),
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "scan",
            "--no-hub",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let items = json["sources"][0]["items"].as_array().expect("items");
    let keys: Vec<&str> = items.iter().filter_map(|i| i["key"].as_str()).collect();
    assert_eq!(keys, ["wp#41", "wp#42", "wp#43", "wp#44"]);
}

/// `(indentation, text)` of every `run:` value, block scalars included.
fn run_blocks(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start().trim_start_matches("- ");
        if let Some(value) = trimmed.strip_prefix("run:") {
            let indent = line.len() - line.trim_start().len();
            let mut text = value.trim().to_string();
            if text.starts_with('|') || text.starts_with('>') {
                text.clear();
                i += 1;
                while i < lines.len() {
                    let next = lines[i];
                    let next_indent = next.len() - next.trim_start().len();
                    if !next.trim().is_empty() && next_indent <= indent {
                        break;
                    }
                    text.push_str(next);
                    text.push('\n');
                    i += 1;
                }
                blocks.push(text);
                continue;
            }
            blocks.push(text);
        }
        i += 1;
    }
    blocks
}

#[test]
fn the_example_workflow_passes_secrets_through_env_only() {
    let yaml = std::fs::read_to_string(example(
        "plan-to-openproject/.github/workflows/plan-sync.yml",
    ))
    .expect("workflow");
    // Triggers: pushes to main that change the plan, hourly, and by hand.
    assert!(
        yaml.contains(
            "push:\n    branches: [main]\n    paths:\n      - plan/docs/plan.md\n      - concord.toml\n"
        ),
        "{yaml}"
    );
    assert!(
        yaml.contains("schedule:\n    - cron: \"17 * * * *\""),
        "{yaml}"
    );
    assert!(
        yaml.contains("workflow_dispatch:\n    inputs:\n      mode:")
            && yaml.contains("options: [diff, sync]"),
        "{yaml}"
    );
    let runs = run_blocks(&yaml);
    assert!(!runs.is_empty(), "{yaml}");
    for run in &runs {
        assert!(!run.contains("${{"), "expression inside run: {run}");
    }
    assert!(
        runs.iter()
            .any(|r| r.contains("-z \"$OPENPROJECT_API_KEY\"")),
        "the token is checked in a step: {runs:?}"
    );
    // concord runs through the repository's action, which keeps the hub.
    assert!(
        yaml.contains("uses: your-org/concord@REPLACE_WITH_A_COMMIT_SHA"),
        "{yaml}"
    );
    assert!(yaml.contains("'sync --strict'"), "{yaml}");
    // No job-level `if:` (a job cannot see secrets there).
    let job_level_if = yaml
        .lines()
        .any(|l| l.starts_with("    if:") || l.starts_with("  if:"));
    assert!(!job_level_if, "{yaml}");
    assert!(yaml.contains("${{ secrets.OPENPROJECT_API_KEY }}"));
}

#[test]
fn the_action_passes_inputs_through_env_only_and_keeps_the_hub() {
    let yaml =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../action.yml"))
            .expect("action.yml");
    assert!(yaml.contains("  using: composite\n"), "{yaml}");
    let runs = run_blocks(&yaml);
    assert!(runs.len() >= 3, "{runs:?}");
    for run in &runs {
        assert!(!run.contains("${{"), "expression inside run: {run}");
    }
    assert!(
        runs.iter().any(|r| r.contains("/bin/concord\"")),
        "{runs:?}"
    );
    // The hub: restored by prefix, saved under a key of each run's own.
    for needed in [
        "uses: actions/cache/restore@v4",
        "uses: actions/cache/save@v4",
        "restore-keys: ${{ steps.plan.outputs.hub-prefix }}",
        "$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT",
        "/.concord\"",
    ] {
        assert!(yaml.contains(needed), "{needed}: {yaml}");
    }
    // No input takes a secret.
    assert!(!yaml.contains("secrets."), "{yaml}");
}

#[test]
fn the_mirror_example_config_loads() {
    let config = example("mirror/concord.toml");
    let out = common::run_in(
        &std::env::temp_dir(),
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "check",
            "--list",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("MIRROR_STALE"), "{}", out.stdout);
    // The same list as JSON.
    let out = common::run_in(
        &std::env::temp_dir(),
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "check",
            "--list",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let list = out.json();
    let stale = list["checks"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["code"] == "MIRROR_STALE"))
        .unwrap_or_else(|| panic!("MIRROR_STALE listed: {list}"));
    assert!(
        stale["severity"].is_string() && stale["fix"].is_string(),
        "{stale}"
    );
}

/// `examples/release-train/demo.sh` runs as documented: a library and the
/// app that uses it ship together, and git is told what shipped.
#[test]
fn the_release_train_demo_ships_and_tags() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new("bash")
        .arg(example("release-train/demo.sh"))
        .env("CONCORD", assert_cmd::cargo::cargo_bin("concord"))
        .env("DEMO_DIR", dir.path().join("demo"))
        .env_remove("CONCORD_CONFIG")
        .env_remove("CONCORD_HUB_URL")
        .output()
        .expect("run the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for line in [
        "train release #1 shipped",
        "app tests pass against lib 1.0.0",
        "lib: origin has main release lib-release-1",
        "app's deps.txt on origin/main: lib = \"1.0.0\"",
        "registry: lib-1.0.0",
    ] {
        assert!(
            stdout.contains(line),
            "missing `{line}` in:\n{stdout}\n{stderr}"
        );
    }
}
