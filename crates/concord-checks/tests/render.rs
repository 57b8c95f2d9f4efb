//! The finding pipeline end to end through the public API: suppress,
//! fingerprint, compare with a baseline, render.

use concord_checks::finding::{
    Finding, Severity, UNUSED_SUPPRESSION, apply_suppressions, assign_fingerprints, compare,
    gating, parse_suppressions,
};
use concord_checks::render::{self, RuleInfo};
use serde_json::Value;

const PLAN_BEFORE: &str = "\
# Q3

- [ ] PLAN-1 ship the importer
- [ ] PLAN-2 write the docs
";

// PLAN-1 moved down two lines and got a suppression for PLAN-2's finding.
const PLAN_AFTER: &str = "\
# Q3

Intro paragraph.

- [ ] PLAN-1 ship the importer
<!-- concord-ignore OWNER_MISSING: docs owner joins in May -->
- [ ] PLAN-2 write the docs
<!-- concord-ignore STATUS_UNKNOWN: stale marker -->
- [ ] PLAN-3 Ünïcode títle
";

fn owner_missing(key: &str, line: u32) -> Finding {
    Finding::error(
        "OWNER_MISSING",
        "plans/q3.md",
        format!("{key} has no owner"),
    )
    .span(line, 7, 13)
    .for_key(key)
    .with_anchor("owner")
}

fn run(text: &str, findings: Vec<Finding>) -> Vec<Finding> {
    let suppressions = parse_suppressions("plans/q3.md", text);
    let (mut kept, _suppressed, problems) = apply_suppressions(findings, &suppressions);
    kept.extend(problems);
    assign_fingerprints(&mut kept);
    kept
}

#[test]
fn pipeline_baseline_and_outputs() {
    let before = run(
        PLAN_BEFORE,
        vec![owner_missing("PLAN-1", 3), owner_missing("PLAN-2", 4)],
    );
    let after = run(
        PLAN_AFTER,
        vec![
            owner_missing("PLAN-1", 5),
            owner_missing("PLAN-2", 7),
            owner_missing("PLAN-3", 9).span(9, 7, 13),
        ],
    );
    // PLAN-2 suppressed, PLAN-3 new, plus the unused STATUS_UNKNOWN marker.
    let codes: Vec<(&str, Option<&str>)> = after
        .iter()
        .map(|f| (f.code.as_str(), f.key.as_deref()))
        .collect();
    assert_eq!(
        codes,
        [
            ("OWNER_MISSING", Some("PLAN-1")),
            ("OWNER_MISSING", Some("PLAN-3")),
            (UNUSED_SUPPRESSION, None),
        ]
    );
    assert_eq!(gating(&after), 2);

    let delta = compare(&before, &after);
    let keys = |v: &[&Finding]| {
        v.iter()
            .map(|f| f.key.clone().unwrap_or_else(|| f.code.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&delta.unchanged), ["PLAN-1"], "moved line is not new");
    assert_eq!(keys(&delta.new), ["PLAN-3", UNUSED_SUPPRESSION]);
    assert_eq!(keys(&delta.fixed), ["PLAN-2"], "suppressed counts as gone");
    assert_eq!(delta.new_gating(), 1);

    // Text: the span under the non-ASCII title lines up by characters.
    let sources = |p: &str| (p == "plans/q3.md").then(|| PLAN_AFTER.to_string());
    let mut out = Vec::new();
    render::text(&after, &sources, false, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(
            "plans/q3.md:9:7: error[OWNER_MISSING]: PLAN-3 has no owner\n \
             9 | - [ ] PLAN-3 Ünïcode títle\n   |       ^^^^^^\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("2 errors, 0 warnings, 1 advisory\n"),
        "{text}"
    );

    // SARIF with baseline states.
    let mut rules = render::suppression_rules();
    rules.push(RuleInfo::new(
        "OWNER_MISSING",
        Severity::Error,
        "Item has no owner",
        "Open items name an owner.",
        "Add an owner.",
    ));
    let mut out = Vec::new();
    render::sarif(&after, &rules, "concord/pr", Some(&delta), &mut out).unwrap();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    let run = &doc["runs"][0];
    assert_eq!(run["automationDetails"]["id"], "concord/pr/");
    let states: Vec<(&str, &str, &str)> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ruleId"].as_str().unwrap(),
                r["level"].as_str().unwrap(),
                r["baselineState"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("OWNER_MISSING", "error", "unchanged"),
            (UNUSED_SUPPRESSION, "note", "new"),
            ("OWNER_MISSING", "error", "new"),
        ]
    );

    // JSON round-trips into the same findings.
    let mut out = Vec::new();
    render::json(&after, &mut out).unwrap();
    let doc: Value = serde_json::from_slice(&out).unwrap();
    let back: Vec<Finding> = serde_json::from_value(doc["findings"].clone()).unwrap();
    let mut expected = after.clone();
    expected.sort_by(render::output_order);
    assert_eq!(back, expected);
}
