//! `concord diff` and `concord explain`: the plan, read-only.

mod common;
use common::{TASK_WORKFLOW, TestWorkspace};

fn workspace(rules: &str) -> TestWorkspace {
    let ws = TestWorkspace::new();
    ws.config(&format!(
        r#"
[[repo]]
name = "app"
path = "app"
{TASK_WORKFLOW}
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
{rules}
"#
    ));
    ws.write(
        "app/docs/w.md",
        "```task\nid: T1\nstatus: todo\n```\n```task\nid: T2\nstatus: done\n```\n",
    );
    ws.write(
        "app/plan.md",
        "| Item | Status |\n|---|---|\n| T1 | **In progress** |\n| T2 | **Closed** |\n",
    );
    ws
}

const MERGE_WITH_HUB: &str =
    "[[sync]]\nname = \"tasks\"\nmode = \"merge\"\nbetween = [\"workplans\", \"hub\"]\n";

#[test]
fn diff_plans_the_hub_value_into_the_stale_file_and_writes_nothing() {
    let ws = workspace(MERGE_WITH_HUB);
    let before = std::fs::read(ws.path().join("app/docs/w.md")).expect("file");
    assert_eq!(ws.concord(&["set", "T1", "done"]).code, 0);
    let out = ws.concord(&["diff", "--json"]);
    assert_eq!(out.code, 1, "a non-empty plan exits 1: {}", out.stderr);
    let plan = out.json();
    let changes: Vec<_> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap_or("").to_string(),
                c["target"].as_str().unwrap_or("").to_string(),
                c["to"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        changes.contains(&("T1".into(), "workplans".into(), "done".into())),
        "{changes:?}"
    );
    assert!(
        changes.contains(&("T2".into(), "hub".into(), "done".into())),
        "{changes:?}"
    );
    assert_eq!(
        std::fs::read(ws.path().join("app/docs/w.md")).expect("file"),
        before
    );

    let text = ws.concord(&["diff"]);
    assert!(
        text.stdout.contains("workplans: 1 change"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("T1  todo -> done"), "{}", text.stdout);

    let explain = ws.concord(&["explain", "T1"]);
    assert_eq!(explain.code, 0, "{}", explain.stderr);
    assert!(
        explain
            .stdout
            .contains("rule tasks (merge, reopens held back)"),
        "{}",
        explain.stdout
    );
    assert!(
        explain.stdout.contains("decision: AHEAD_WINS"),
        "{}",
        explain.stdout
    );
    assert!(
        explain.stdout.contains("change: workplans todo -> done"),
        "{}",
        explain.stdout
    );
}

#[test]
fn mirror_plans_the_truth_onto_the_target_even_to_a_lower_rank() {
    let ws = workspace("[[sync]]\nmode = \"mirror\"\nfrom = \"plan\"\nto = [\"workplans\"]\n");
    let out = ws.concord(&["diff", "--json"]);
    assert_eq!(out.code, 1);
    let plan = out.json();
    let changes = plan["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 1, "{plan}");
    assert_eq!(changes[0]["key"], "T1");
    assert_eq!(changes[0]["to"], "in_progress");
    assert_eq!(changes[0]["origin"], "plan");
}

#[test]
fn an_empty_plan_exits_0_and_no_rules_is_a_usage_error() {
    let ws = workspace("[[sync]]\nmode = \"mirror\"\nfrom = \"plan\"\nto = [\"workplans\"]\n");
    ws.write(
        "app/docs/w.md",
        "```task\nid: T1\nstatus: in_progress\n```\n```task\nid: T2\nstatus: done\n```\n",
    );
    let out = ws.concord(&["diff"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.contains("0 changes planned"), "{}", out.stdout);

    let bare = workspace("");
    let out = bare.concord(&["diff"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no [[sync]] rules"), "{}", out.stderr);
}

#[test]
fn explain_an_unknown_key_is_a_usage_error() {
    let ws = workspace(MERGE_WITH_HUB);
    let out = ws.concord(&["explain", "NOPE"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no source holds an item `NOPE`"),
        "{}",
        out.stderr
    );
}
