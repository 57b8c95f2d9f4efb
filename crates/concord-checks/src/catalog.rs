//! Every check code: its default severity, what it checks, why, and how to
//! fix a finding. `concord check --list` and `docs/checks.md` show this.

use crate::finding::Severity;

pub struct CheckInfo {
    pub code: &'static str,
    pub severity: Severity,
    pub what: &'static str,
    pub why: &'static str,
    pub example: &'static str,
    pub fix: &'static str,
}

pub const CATALOG: &[CheckInfo] = &[
    CheckInfo {
        code: "SCHEMA",
        severity: Severity::Error,
        what: "A JSON file in a `[[checks.schema]]` glob does not satisfy its JSON Schema.",
        why: "Tools and people read these files by their shape; a missing field breaks them silently.",
        example: "state.json:1:1: error[SCHEMA]: /tasks/3: \"id\" is a required property",
        fix: "Add or correct the value at the pointer the message names.",
    },
    CheckInfo {
        code: "INVALID_JSON",
        severity: Severity::Error,
        what: "A file in a checked JSON glob is not valid JSON.",
        why: "Nothing in it can be read: every other check and every sync skips it.",
        example: "state.json:12:5: error[INVALID_JSON]: expected `,` or `}` after an object member",
        fix: "Repair the syntax at the line and column given.",
    },
    CheckInfo {
        code: "PARSE_ERROR",
        severity: Severity::Error,
        what: "A source file (or a row or block in it) could not be read, or is not UTF-8.",
        why: "Unread rows are items nobody syncs; the scan reports them instead of dropping them.",
        example: "plan.md:14: error[PARSE_ERROR]: row skipped: the key column is empty",
        fix: "Fix the row or block the message names.",
    },
    CheckInfo {
        code: "LEGACY_FIELD",
        severity: Severity::Warning,
        what: "A deprecated key (`[checks.legacy]`) is present.",
        why: "Old and new keys drift apart; readers pick one at random.",
        example: "state.json:4:12: warning[LEGACY_FIELD]: `/phase` is deprecated: use `/current_phase`",
        fix: "Move the value to the replacement key and delete the old one.",
    },
    CheckInfo {
        code: "OWNER_MISSING",
        severity: Severity::Error,
        what: "A file under `[checks.owner]` does not name its owner.",
        why: "Owned sync mirrors each file from its owner; without one nobody may write it.",
        example: "state.json:1:1: error[OWNER_MISSING]: no `/state_owner`",
        fix: "Add the owner field with one of the configured owner values.",
    },
    CheckInfo {
        code: "OWNER_INVALID",
        severity: Severity::Error,
        what: "The owner field holds a value that is not a configured owner.",
        why: "A typo in the owner makes a file nobody's.",
        example: "state.json:3:18: error[OWNER_INVALID]: owner `fitme` is not one of: ft2, fitme-story",
        fix: "Use one of the configured owner values.",
    },
    CheckInfo {
        code: "OWNER_LOCATION_MISMATCH",
        severity: Severity::Error,
        what: "The owner names another repo than the one the file lives in, and the file carries no mirror marker.",
        why: "A copy edited in the wrong repo is overwritten by the owner's next sync.",
        example: "state.json:3:18: error[OWNER_LOCATION_MISMATCH]: owned by `fitme-story` (repo story) but lives in repo app",
        fix: "Move the file to its owner's repo, change the owner, or mark it as a mirror.",
    },
    CheckInfo {
        code: "PHASE_TRANSITION_NO_LOG",
        severity: Severity::Warning,
        what: "A staged lifecycle phase change has no journal or in-repo log event within the window.",
        why: "Phase changes without an event leave no trace of who moved the work and why.",
        example: "state.json:5:20: warning[PHASE_TRANSITION_NO_LOG]: tasks -> implementation without a log event",
        fix: "Log the transition with `concord log`.",
    },
    CheckInfo {
        code: "PHASE_TRANSITION_NO_TIMING",
        severity: Severity::Warning,
        what: "A staged lifecycle phase change lacks the configured timing fields.",
        why: "Cycle-time reports need the start and end of every phase.",
        example: "state.json:5:20: warning[PHASE_TRANSITION_NO_TIMING]: no `/timing/implementation/started_at`",
        fix: "Add the timing fields for the new phase.",
    },
    CheckInfo {
        code: "UNKNOWN_STATUS",
        severity: Severity::Warning,
        what: "A status word no status or alias of the source's workflow names.",
        why: "An unknown status cannot be synced or compared; the item is held.",
        example: "plan.md:9:20: warning[UNKNOWN_STATUS]: `donee` (did you mean `done`?)",
        fix: "Use a known status, or add the word as an alias in the workflow.",
    },
    CheckInfo {
        code: "DUPLICATE_KEY",
        severity: Severity::Error,
        what: "The same item key twice within one source.",
        why: "Two rows for one item disagree sooner or later; sync cannot tell which is right.",
        example: "plan.md:12: error[DUPLICATE_KEY]: wp#42 also on line 9",
        fix: "Remove or renumber one of them.",
    },
    CheckInfo {
        code: "DANGLING_ITEM",
        severity: Severity::Warning,
        what: "An item is in one source of a sync rule but not in another source of the rule that shares other items with it (sources sharing no item, like one plan per repo under a merge rule, are not expected to hold each other's items).",
        why: "Half-linked items are where work gets lost between tools.",
        example: "workplan.md:7: warning[DANGLING_ITEM]: T9 is in workplans but not in feature-tasks (rule tasks)",
        fix: "Add the item to the other source, or remove it from this one.",
    },
    CheckInfo {
        code: "DRIFT",
        severity: Severity::Warning,
        what: "The sources of a sync rule disagree on an item's status.",
        why: "Disagreement after a sync means a sync was skipped, failed or held the item.",
        example: "workplan.md:7: warning[DRIFT]: T1 is done in workplans but todo in hub (rule tasks)",
        fix: "Run `concord sync` (or `concord explain KEY` to see why it holds).",
    },
    CheckInfo {
        code: "BROKEN_CITATION",
        severity: Severity::Error,
        what: "A cited pull request or issue (`PR #N`, `[repo#N]`, `owner/repo#N`, a URL) does not exist.",
        why: "Case studies and state files are evidence; a citation that resolves nowhere proves nothing.",
        example: "case-study.md:40:12: error[BROKEN_CITATION]: Regevba/FitTracker2#9999 does not exist",
        fix: "Correct the number or repository.",
    },
    CheckInfo {
        code: "MIRROR_STALE",
        severity: Severity::Warning,
        what: "A mirror (`[[mirror]]`) whose content differs from its owner's copy.",
        why: "Readers of the mirror see an old state; the owner's copy is the truth.",
        example: "features/x/state.json:1: warning[MIRROR_STALE]: differs from the owner's copy in repo story",
        fix: "Run `concord mirror` (or `--force` if the mirror was edited by hand).",
    },
    CheckInfo {
        code: "SUPPRESSION_WITHOUT_REASON",
        severity: Severity::Warning,
        what: "A `<!-- concord-ignore CODE -->` marker gives no reason.",
        why: "Suppressions without reasons cannot be reviewed or removed later.",
        example: "notes.md:3: warning[SUPPRESSION_WITHOUT_REASON]: concord-ignore needs `CODE: reason`",
        fix: "Write `<!-- concord-ignore CODE: why this is fine -->`.",
    },
    CheckInfo {
        code: "SUPPRESSION_MALFORMED",
        severity: Severity::Warning,
        what: "A `concord-ignore` marker that names no code, or has other words before the `:`.",
        why: "A marker that cannot be read suppresses nothing; it should not look as if it did.",
        example: "notes.md:3: warning[SUPPRESSION_MALFORMED]: expected `concord-ignore CODE[, CODE]: reason`",
        fix: "Write `<!-- concord-ignore CODE: reason -->` with upper-case codes.",
    },
    CheckInfo {
        code: "UNUSED_SUPPRESSION",
        severity: Severity::Advisory,
        what: "A suppression marker that suppressed nothing.",
        why: "Stale suppressions hide the next real problem on that line.",
        example: "notes.md:3: advisory[UNUSED_SUPPRESSION]: nothing to ignore for BROKEN_CITATION",
        fix: "Delete the marker.",
    },
    CheckInfo {
        code: "RULE_ERROR",
        severity: Severity::Error,
        what: "A team rule (`[[checks.rule]]`) could not be evaluated on a document: its file is not valid JSON or YAML front matter, an expression failed (a missing key without `has()`, a wrong type), or `when` gave something else than true or false.",
        why: "A rule that cannot run proves nothing; reporting it keeps a broken rule from passing as clean.",
        example: "state.json:1: error[RULE_ERROR]: rule PHASE_LIE: `when` failed: No such key: phases",
        fix: "Guard the expression with `has(...)` or fix the document; docs/rules.md lists the variables and helpers.",
    },
];

/// The catalog as the markdown page `docs/checks.md`.
pub fn markdown() -> String {
    let mut page = String::from(
        "# Check codes\n\n\
         Every finding of `concord check` carries one of these codes. `error` gates \
         (exit 1, a failed pull request); `warning` and `advisory` never do. \
         `[checks] severity` changes a code's severity, `[checks] disable` turns it off, \
         and `<!-- concord-ignore CODE: reason -->` on the line before silences one \
         finding in a markdown file (the reason is required). A team adds its own \
         codes with `[[checks.rule]]`: see [rules.md](rules.md).\n\n\
         This page is generated from the catalog in `crates/concord-checks/src/catalog.rs` \
         (`UPDATE_SNAPSHOTS=1 cargo test -p concord-checks` rewrites it).\n",
    );
    for info in CATALOG {
        page.push_str(&format!(
            "\n## {}\n\nDefault severity: `{}`.\n\n{}\n\n**Why:** {}\n\n**Example:**\n\n```text\n{}\n```\n\n**Fix:** {}\n",
            info.code,
            info.severity.as_str(),
            info.what,
            info.why,
            info.example,
            info.fix
        ));
    }
    page
}

/// The entry for `code`.
pub fn info(code: &str) -> Option<&'static CheckInfo> {
    CATALOG.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_checks_md_is_the_catalog() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/checks.md");
        let page = markdown();
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &page).expect("write docs/checks.md");
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == page,
            "docs/checks.md is out of date: run UPDATE_SNAPSHOTS=1 cargo test -p concord-checks"
        );
    }

    #[test]
    fn the_catalog_and_the_configurable_codes_are_the_same_set() {
        let mut ours: Vec<&str> = CATALOG.iter().map(|c| c.code).collect();
        let mut config: Vec<&str> = concord_workspace::checks_config::CHECK_CODES.to_vec();
        ours.sort_unstable();
        config.sort_unstable();
        assert_eq!(ours, config);
    }
}
