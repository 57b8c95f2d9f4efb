//! `concord sync --rule NAME`: only that rule's decisions are applied; the
//! others wait, whole, for the next sync.

mod common;
use common::{TASK_WORKFLOW, TestWorkspace, git, init_repo};

#[test]
fn one_rule_is_applied_and_the_other_waits_for_the_next_sync() {
    let ws = TestWorkspace::new();
    ws.config(&format!(
        r#"
[[repo]]
name = "app"
path = "app"
{TASK_WORKFLOW}
[[source]]
name = "plans"
repo = "app"
format = "task-blocks"
glob = "docs/plan.md"
workflow = "task"

[[source]]
name = "copy"
repo = "app"
format = "task-blocks"
glob = "copy/*.md"
workflow = "task"

[[source]]
name = "features"
repo = "app"
format = "json"
glob = "features/*/state.json"
key = "{{dir}}"
status = "/status"
workflow = "task"

[[sync]]
name = "plans-to-copy"
mode = "mirror"
from = "plans"
to = ["copy"]

[[sync]]
name = "features-to-hub"
mode = "mirror"
from = "features"
to = ["hub"]
"#
    ));
    ws.write("app/docs/plan.md", "```task\nid: T1\nstatus: done\n```\n");
    ws.write("app/copy/plan.md", "```task\nid: T1\nstatus: todo\n```\n");
    ws.write(
        "app/features/onboarding/state.json",
        "{\"status\": \"done\"}\n",
    );
    let app = ws.path().join("app");
    init_repo(&app);
    git(&app, &["add", "."]);
    git(&app, &["commit", "-q", "-m", "start"]);

    let unknown = ws.concord(&["sync", "--rule", "nope"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("plans-to-copy, features-to-hub"),
        "{}",
        unknown.stderr
    );

    let first = ws.concord(&["sync", "--rule", "features-to-hub", "--json"]);
    assert!(first.code <= 1, "{}{}", first.stdout, first.stderr);
    let history = ws.concord(&["history", "onboarding", "--json"]);
    assert!(
        history.stdout.contains("\"to\": \"done\"") || history.stdout.contains("\"to\":\"done\""),
        "{}",
        history.stdout
    );
    let copy = std::fs::read_to_string(app.join("copy/plan.md")).expect("copy");
    assert!(
        copy.contains("status: todo"),
        "the other rule waits: {copy}"
    );

    let second = ws.concord(&["sync"]);
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    let copy = std::fs::read_to_string(app.join("copy/plan.md")).expect("copy");
    assert!(copy.contains("status: done"), "{copy}");
    let third = ws.concord(&["sync"]);
    assert!(
        third.stdout.contains("0 applied") || third.stdout.contains("nothing to do"),
        "{}",
        third.stdout
    );
}
