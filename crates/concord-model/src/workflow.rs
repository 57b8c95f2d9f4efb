use std::collections::HashMap;

/// Status words by name: looked up once per item read, from a handful of
/// configured words, so a fast hash is enough.
type Words = HashMap<String, usize, foldhash::fast::RandomState>;
use std::sync::Arc;

/// One status of a workflow, its rank and the other words sources use for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatusDef {
    pub name: String,
    pub rank: u32,
    pub aliases: Vec<String>,
}

/// An ordered set of statuses with ranks, plus aliases mapping each source's
/// own words onto them.
#[derive(Debug, Clone)]
pub struct Workflow {
    name: String,
    statuses: Vec<StatusDef>,
    /// normalized word -> index into `statuses`
    lookup: Words,
    /// names and aliases exactly as configured: the common case needs no normalizing
    exact: Words,
    /// canonical names, shared by every observation that resolves to them
    shared_names: Vec<Arc<str>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkflowError {
    #[error("workflow `{workflow}` has no statuses")]
    Empty { workflow: String },
    #[error("workflow `{workflow}` declares status `{name}` twice")]
    DuplicateStatus { workflow: String, name: String },
    #[error(
        "workflow `{workflow}`: the word `{word}` maps to both `{first}` and `{second}`; a word may name only one status"
    )]
    AmbiguousAlias {
        workflow: String,
        word: String,
        first: String,
        second: String,
    },
    #[error("workflow `{workflow}`: status name must not be empty")]
    EmptyName { workflow: String },
}

/// Status words are matched case-insensitively, ignoring surrounding
/// whitespace and treating ` `, `-` and `_` alike, so `In progress`,
/// `in-progress` and `IN_PROGRESS` are one word.
pub fn normalize_status_word(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for ch in word.trim().chars() {
        match ch {
            ' ' | '-' | '_' | '\t' => {
                if !out.ends_with('_') {
                    out.push('_');
                }
            }
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

impl Workflow {
    pub fn new(name: impl Into<String>, statuses: Vec<StatusDef>) -> Result<Self, WorkflowError> {
        let name = name.into();
        if statuses.is_empty() {
            return Err(WorkflowError::Empty { workflow: name });
        }
        let mut lookup = Words::default();
        // Canonical names first, so a clash between a name and an alias
        // reports the name as the first owner.
        for (index, status) in statuses.iter().enumerate() {
            let word = normalize_status_word(&status.name);
            if word.is_empty() {
                return Err(WorkflowError::EmptyName { workflow: name });
            }
            if lookup.insert(word, index).is_some() {
                return Err(WorkflowError::DuplicateStatus {
                    workflow: name,
                    name: status.name.clone(),
                });
            }
        }
        for (index, status) in statuses.iter().enumerate() {
            for alias in &status.aliases {
                let word = normalize_status_word(alias);
                match lookup.get(&word) {
                    Some(&existing) if existing != index => {
                        return Err(WorkflowError::AmbiguousAlias {
                            workflow: name,
                            word: alias.clone(),
                            first: statuses[existing].name.clone(),
                            second: status.name.clone(),
                        });
                    }
                    Some(_) => {}
                    None => {
                        lookup.insert(word, index);
                    }
                }
            }
        }
        let mut exact = Words::default();
        for (index, status) in statuses.iter().enumerate() {
            exact.insert(status.name.clone(), index);
            for alias in &status.aliases {
                exact.insert(alias.clone(), index);
            }
        }
        let shared_names = statuses
            .iter()
            .map(|s| Arc::from(s.name.as_str()))
            .collect();
        Ok(Self {
            name,
            statuses,
            lookup,
            exact,
            shared_names,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn statuses(&self) -> &[StatusDef] {
        &self.statuses
    }

    /// The canonical status a source's word stands for, if any.
    pub fn resolve(&self, word: &str) -> Option<&StatusDef> {
        self.resolve_index(word).map(|i| &self.statuses[i])
    }

    /// Index into [`Workflow::statuses`] of the status a word stands for.
    pub fn resolve_index(&self, word: &str) -> Option<usize> {
        match self.exact.get(word) {
            Some(&i) => Some(i),
            None => self.lookup.get(&normalize_status_word(word)).copied(),
        }
    }

    /// The canonical name of status `index`, as a shared string.
    pub fn shared_name(&self, index: usize) -> Option<Arc<str>> {
        self.shared_names.get(index).cloned()
    }

    /// Nearest known word, for "did you mean" hints on unknown statuses.
    pub fn suggest(&self, word: &str) -> Option<&StatusDef> {
        let word = normalize_status_word(word);
        let (best, index) = self
            .lookup
            .iter()
            .map(|(known, &i)| (strsim::jaro_winkler(&word, known), i))
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))?;
        (best >= 0.8).then(|| &self.statuses[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(name: &str, rank: u32, aliases: &[&str]) -> StatusDef {
        StatusDef {
            name: name.into(),
            rank,
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
        }
    }

    fn task_workflow() -> Workflow {
        Workflow::new(
            "task",
            vec![
                status("todo", 0, &["open", "New", "queued"]),
                status("in_progress", 1, &["In progress", "doing"]),
                status("blocked", 1, &[]),
                status("done", 2, &["complete", "completed", "Closed"]),
                status("cancelled", 2, &["abandoned"]),
            ],
        )
        .expect("valid workflow")
    }

    #[test]
    fn aliases_resolve_to_one_canonical_status() {
        let wf = task_workflow();
        for word in ["done", "complete", "completed", "Closed", " DONE "] {
            assert_eq!(
                wf.resolve(word).map(|s| s.name.as_str()),
                Some("done"),
                "{word}"
            );
        }
        assert_eq!(wf.resolve("in-progress").map(|s| s.rank), Some(1));
        assert_eq!(wf.resolve("IN PROGRESS").map(|s| s.rank), Some(1));
        assert!(wf.resolve("deferred").is_none());
    }

    #[test]
    fn duplicate_status_names_are_rejected() {
        let err = Workflow::new("w", vec![status("todo", 0, &[]), status("TODO", 1, &[])]);
        assert!(matches!(err, Err(WorkflowError::DuplicateStatus { .. })));
    }

    #[test]
    fn alias_mapped_to_two_statuses_is_rejected() {
        let err = Workflow::new(
            "w",
            vec![status("todo", 0, &["open"]), status("doing", 1, &["Open"])],
        );
        assert_eq!(
            err.unwrap_err(),
            WorkflowError::AmbiguousAlias {
                workflow: "w".into(),
                word: "Open".into(),
                first: "todo".into(),
                second: "doing".into()
            }
        );
        let err = Workflow::new(
            "w",
            vec![status("todo", 0, &[]), status("doing", 1, &["todo"])],
        );
        assert!(matches!(err, Err(WorkflowError::AmbiguousAlias { .. })));
    }

    #[test]
    fn suggestion_for_near_miss() {
        let wf = task_workflow();
        assert_eq!(
            wf.suggest("compelted").map(|s| s.name.as_str()),
            Some("done")
        );
        assert!(wf.suggest("xyzzy").is_none());
    }

    proptest::proptest! {
        #[test]
        fn normalization_is_idempotent(word in "\\PC{0,20}") {
            let once = normalize_status_word(&word);
            proptest::prop_assert_eq!(normalize_status_word(&once), once);
        }
    }
}
