//! The status words a repo actually uses, mapped onto a proposed workflow.
//! Pure: words in, statuses with ranks and aliases out, and for every word
//! how sure the mapping is, so `concord init` can say which ones a person
//! should look at.

use concord_model::normalize_status_word;
use serde::Serialize;
use std::collections::BTreeMap;

/// Which kind of workflow a source's words belong to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowKind {
    /// Status of a unit of work: todo, in_progress, blocked, done, cancelled.
    Task,
    /// Phase of a feature's lifecycle: research, prd, tasks, implementation, review, complete.
    Lifecycle,
}

impl WorkflowKind {
    pub fn name(self) -> &'static str {
        match self {
            WorkflowKind::Task => "task",
            WorkflowKind::Lifecycle => "lifecycle",
        }
    }
}

/// How a word was mapped onto its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mapping {
    /// A well-known word for that status.
    Known,
    /// Guessed from a part of the word (`blocked_on_user` -> blocked).
    Guessed,
    /// Not recognised: it became a status of its own at the lowest rank,
    /// to be checked by a person.
    Unclassified,
}

/// One status word as sources use it and where it was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct WordMapping {
    /// The word as written in the files (its most frequent spelling).
    pub word: String,
    /// The canonical status it reads as.
    pub status: String,
    pub mapping: Mapping,
    /// How many items use it.
    pub count: usize,
}

/// A status of the proposed workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ProposedStatus {
    pub name: String,
    pub rank: u32,
    pub aliases: Vec<String>,
    /// A word init could not classify: its rank is a placeholder.
    pub unclassified: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ProposedWorkflow {
    pub name: String,
    pub kind: WorkflowKind,
    pub statuses: Vec<ProposedStatus>,
    /// Every word the sources use, most used first.
    pub words: Vec<WordMapping>,
}

/// One canonical status and the words known to mean it (normalized).
struct Canon {
    name: &'static str,
    rank: u32,
    words: &'static [&'static str],
    /// Included even when no source uses it, so the usual words resolve later.
    always: bool,
}

const TASK: &[Canon] = &[
    Canon {
        name: "todo",
        rank: 0,
        always: true,
        words: &[
            "todo",
            "to_do",
            "open",
            "new",
            "queued",
            "pending",
            "backlog",
            "planned",
            "not_started",
            "ready",
            "deferred",
            "postponed",
            "proposed",
            "draft",
            "idea",
            "later",
            "scheduled",
            "triage",
            "unstarted",
            "stub",
            "requested",
        ],
    },
    Canon {
        name: "in_progress",
        rank: 1,
        always: true,
        words: &[
            "in_progress",
            "doing",
            "started",
            "wip",
            "active",
            "ongoing",
            "working",
            "implementing",
            "in_development",
            "in_dev",
            "partial",
            "progress",
            "underway",
            "running",
        ],
    },
    Canon {
        name: "blocked",
        rank: 1,
        always: true,
        words: &[
            "blocked",
            "on_hold",
            "hold",
            "paused",
            "stalled",
            "stuck",
            "waiting",
            "parked",
            "suspended",
        ],
    },
    Canon {
        name: "review",
        rank: 2,
        always: false,
        words: &[
            "review",
            "in_review",
            "reviewing",
            "code_review",
            "needs_review",
            "testing",
            "in_testing",
            "qa",
            "verifying",
            "awaiting_review",
        ],
    },
    Canon {
        name: "done",
        rank: 3,
        always: true,
        words: &[
            "done",
            "complete",
            "completed",
            "closed",
            "resolved",
            "shipped",
            "merged",
            "finished",
            "fixed",
            "delivered",
            "released",
            "deployed",
            "live",
            "verified",
            "accepted",
            "landed",
            "implemented",
        ],
    },
    Canon {
        name: "cancelled",
        rank: 3,
        always: true,
        words: &[
            "cancelled",
            "canceled",
            "rejected",
            "wontfix",
            "won't_do",
            "wont_do",
            "won't_fix",
            "abandoned",
            "dropped",
            "obsolete",
            "not_needed",
            "skipped",
            "superseded",
            "duplicate",
            "invalid",
            "declined",
            "removed",
            "killed",
            "not_applicable",
            "n/a",
        ],
    },
];

const LIFECYCLE: &[Canon] = &[
    Canon {
        name: "research",
        rank: 0,
        always: true,
        words: &[
            "research",
            "discovery",
            "ideation",
            "explore",
            "exploration",
            "idea",
        ],
    },
    Canon {
        name: "prd",
        rank: 1,
        always: true,
        words: &[
            "prd",
            "spec",
            "specification",
            "requirements",
            "design",
            "definition",
        ],
    },
    Canon {
        name: "tasks",
        rank: 2,
        always: true,
        words: &[
            "tasks",
            "tasks_phase",
            "task_breakdown",
            "breakdown",
            "planning",
            "plan",
        ],
    },
    Canon {
        name: "implementation",
        rank: 3,
        always: true,
        words: &[
            "implementation",
            "implement",
            "implementing",
            "build",
            "building",
            "development",
            "develop",
            "dev",
            "coding",
        ],
    },
    Canon {
        name: "review",
        rank: 4,
        always: true,
        words: &[
            "review",
            "testing",
            "qa",
            "verification",
            "validation",
            "merge",
        ],
    },
    Canon {
        name: "complete",
        rank: 5,
        always: true,
        words: &[
            "complete",
            "completed",
            "done",
            "shipped",
            "released",
            "launched",
            "closed",
            "live",
            "finished",
        ],
    },
];

/// When parts of a word point at several statuses (`draft_for_review`),
/// the first of these that any part names wins.
const TASK_PRECEDENCE: &[&str] = &[
    "blocked",
    "cancelled",
    "review",
    "in_progress",
    "done",
    "todo",
];

fn table(kind: WorkflowKind) -> &'static [Canon] {
    match kind {
        WorkflowKind::Task => TASK,
        WorkflowKind::Lifecycle => LIFECYCLE,
    }
}

/// The canonical status a word means, and how sure that is; `None` when
/// the word is not recognised.
pub fn classify(kind: WorkflowKind, word: &str) -> Option<(&'static str, Mapping)> {
    let normalized = normalize_status_word(&word.replace('\u{2019}', "'"));
    let canons = table(kind);
    if let Some(c) = canons
        .iter()
        .find(|c| c.words.contains(&normalized.as_str()))
    {
        return Some((c.name, Mapping::Known));
    }
    let parts: Vec<&str> = normalized.split('_').filter(|p| !p.is_empty()).collect();
    // A negation turns any guess from the other parts upside down.
    if parts.len() < 2
        || parts
            .iter()
            .any(|p| matches!(*p, "not" | "no" | "un" | "non"))
    {
        return None;
    }
    let named: Vec<&'static str> = parts
        .iter()
        .filter_map(|p| canons.iter().find(|c| c.words.contains(p)).map(|c| c.name))
        .collect();
    let precedence: Vec<&str> = match kind {
        WorkflowKind::Task => TASK_PRECEDENCE.to_vec(),
        WorkflowKind::Lifecycle => canons.iter().rev().map(|c| c.name).collect(),
    };
    precedence
        .into_iter()
        .find_map(|p| named.iter().find(|n| **n == p).copied())
        .map(|name| (name, Mapping::Guessed))
}

/// Whether a word is a lifecycle phase and nothing a task status would say.
pub fn is_phase_word(word: &str) -> bool {
    let normalized = normalize_status_word(word);
    LIFECYCLE
        .iter()
        .filter(|c| !matches!(c.name, "complete" | "review"))
        .any(|c| c.words.contains(&normalized.as_str()))
        && !TASK.iter().any(|c| c.words.contains(&normalized.as_str()))
}

/// The workflow for `words` (word -> number of items using it). Every
/// non-blank word resolves in it: known and guessed words as aliases,
/// others as statuses of their own at rank 0, marked unclassified. Blank
/// words are left out (a status must have a name); callers report them.
pub fn propose(kind: WorkflowKind, words: &BTreeMap<String, usize>) -> ProposedWorkflow {
    // normalized word -> (spellings with counts)
    let mut by_normal: BTreeMap<String, Vec<(&str, usize)>> = BTreeMap::new();
    for (word, count) in words {
        let normal = normalize_status_word(word);
        if normal.is_empty() {
            continue;
        }
        by_normal.entry(normal).or_default().push((word, *count));
    }
    let canons = table(kind);
    let mut statuses: Vec<ProposedStatus> = canons
        .iter()
        .map(|c| ProposedStatus {
            name: c.name.to_string(),
            rank: c.rank,
            aliases: Vec::new(),
            unclassified: false,
        })
        .collect();
    let mut used = vec![false; canons.len()];
    let mut mappings = Vec::new();
    for (_, mut spellings) in by_normal {
        spellings.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let count = spellings.iter().map(|s| s.1).sum();
        let word = spellings[0].0.to_string();
        let (status, mapping) = match classify(kind, &word) {
            Some((name, mapping)) => {
                let index = canons.iter().position(|c| c.name == name).unwrap_or(0);
                used[index] = true;
                let status = &mut statuses[index];
                for (spelling, _) in &spellings {
                    add_alias(status, spelling);
                }
                (name.to_string(), mapping)
            }
            None => {
                statuses.push(ProposedStatus {
                    name: word.clone(),
                    rank: 0,
                    aliases: spellings
                        .iter()
                        .skip(1)
                        .map(|(s, _)| s.to_string())
                        .filter(|s| *s != word)
                        .collect(),
                    unclassified: true,
                });
                (word.clone(), Mapping::Unclassified)
            }
        };
        mappings.push(WordMapping {
            word,
            status,
            mapping,
            count,
        });
    }
    let mut index = 0;
    statuses.retain(|s| {
        let keep = s.unclassified || canons[index].always || used[index];
        if !s.unclassified {
            index += 1;
        }
        keep
    });
    mappings.sort_by(|a, b| b.count.cmp(&a.count).then(a.word.cmp(&b.word)));
    ProposedWorkflow {
        name: kind.name().to_string(),
        kind,
        statuses,
        words: mappings,
    }
}

/// Add `spelling` as an alias unless the status already reads it exactly
/// (its name, or an alias spelled the same).
fn add_alias(status: &mut ProposedStatus, spelling: &str) {
    if spelling == status.name || status.aliases.iter().any(|a| a == spelling) {
        return;
    }
    status.aliases.push(spelling.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_model::Workflow;
    use proptest::prelude::*;

    fn words(list: &[(&str, usize)]) -> BTreeMap<String, usize> {
        list.iter().map(|(w, c)| (w.to_string(), *c)).collect()
    }

    fn build(proposed: &ProposedWorkflow) -> Workflow {
        crate::init::propose::build(proposed).expect("a valid workflow")
    }

    #[test]
    fn well_known_words_become_aliases_of_their_status() {
        let proposed = propose(
            WorkflowKind::Task,
            &words(&[
                ("done", 5),
                ("complete", 3),
                ("In progress", 1),
                ("queued", 2),
            ]),
        );
        let wf = build(&proposed);
        assert_eq!(
            wf.resolve("complete").map(|s| s.name.as_str()),
            Some("done")
        );
        assert_eq!(
            wf.resolve("In progress").map(|s| s.name.as_str()),
            Some("in_progress")
        );
        assert_eq!(wf.resolve("queued").map(|s| s.name.as_str()), Some("todo"));
        assert!(proposed.words.iter().all(|w| w.mapping == Mapping::Known));
        // The usual statuses are there even when unused; review only when used.
        let names: Vec<&str> = proposed.statuses.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["todo", "in_progress", "blocked", "done", "cancelled"]
        );
    }

    #[test]
    fn parts_of_a_word_guess_its_status_and_negations_do_not() {
        assert_eq!(
            classify(WorkflowKind::Task, "blocked_on_user"),
            Some(("blocked", Mapping::Guessed))
        );
        assert_eq!(
            classify(WorkflowKind::Task, "partial_blocked"),
            Some(("blocked", Mapping::Guessed))
        );
        assert_eq!(
            classify(WorkflowKind::Task, "complete_preexisting"),
            Some(("done", Mapping::Guessed))
        );
        assert_eq!(classify(WorkflowKind::Task, "not_done"), None);
        assert_eq!(classify(WorkflowKind::Task, "baseline"), None);
        assert_eq!(
            classify(WorkflowKind::Lifecycle, "tasks_phase"),
            Some(("tasks", Mapping::Known))
        );
    }

    #[test]
    fn unclassified_words_get_a_status_of_their_own() {
        let proposed = propose(
            WorkflowKind::Task,
            &words(&[("baseline", 1), ("Baseline", 3)]),
        );
        let own = proposed
            .statuses
            .iter()
            .find(|s| s.unclassified)
            .expect("an unclassified status");
        assert_eq!(own.name, "Baseline");
        assert_eq!(own.aliases, ["baseline"]);
        assert_eq!(proposed.words.len(), 1);
        assert_eq!(proposed.words[0].count, 4);
        assert!(build(&proposed).resolve("baseline").is_some());
    }

    #[test]
    fn lifecycle_words_are_phases() {
        assert!(is_phase_word("implementation"));
        assert!(is_phase_word("prd"));
        assert!(!is_phase_word("done"));
        assert!(!is_phase_word("review"));
    }

    proptest! {
        /// Every non-blank word either maps onto a status or is reported
        /// unclassified, and the proposed workflow is valid and reads it.
        #[test]
        fn every_word_is_mapped_or_reported(
            list in proptest::collection::btree_map("[A-Za-z _'-]{0,14}", 1usize..50, 0..12),
            lifecycle in any::<bool>(),
        ) {
            let kind = if lifecycle { WorkflowKind::Lifecycle } else { WorkflowKind::Task };
            let proposed = propose(kind, &list);
            let wf = build(&proposed);
            for word in list.keys() {
                if normalize_status_word(word).is_empty() {
                    continue;
                }
                let status = wf.resolve(word);
                prop_assert!(status.is_some(), "`{word}` does not resolve");
                let normal = normalize_status_word(word);
                let mapped = proposed.words.iter().find(|m| normalize_status_word(&m.word) == normal);
                prop_assert!(mapped.is_some(), "`{word}` is not reported");
                let mapped = mapped.unwrap();
                prop_assert_eq!(&status.unwrap().name, &mapped.status);
            }
        }
    }
}
