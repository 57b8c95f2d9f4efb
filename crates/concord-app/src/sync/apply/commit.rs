//! One commit per repo with only the paths concord wrote, pushed if asked.

use super::{Apply, Committed, Ledger};
use crate::gates::short;
use crate::hub::Failure;
use crate::sync::NotApplied;
use rayon::prelude::*;
use std::collections::HashMap;

impl<'a> Apply<'a> {
    /// One commit per repo, with only the paths concord wrote (this run's,
    /// and those an interrupted run left); pushed if asked.
    pub(super) async fn commit(&self, ledger: &mut Ledger) -> Result<Committed, Failure> {
        for (repo_name, gate) in self.gates {
            for path in &gate.carry {
                let entry = ledger.written.entry(repo_name.clone()).or_default();
                if !entry.0.contains(path) {
                    entry.0.push(path.clone());
                    entry
                        .1
                        .push(format!("- {path}: written by an interrupted sync"));
                }
            }
        }
        // The repos commit (and push) in parallel: each is its own git
        // process, which waits on the disk (and the network) as much as it
        // computes.
        let outcomes: Vec<(&String, &Vec<String>, Option<CommitOutcome>)> =
            super::on_io_threads(|| {
                ledger
                    .written
                    .par_iter()
                    .map(|(repo_name, (paths, lines))| {
                        let outcome = self.commit_repo(repo_name, paths, lines);
                        (repo_name, paths, outcome)
                    })
                    .collect()
            });
        let mut committed = Committed {
            commits: Vec::new(),
            read_from: HashMap::new(),
        };
        let mut not_applied = Vec::new();
        for (repo_name, paths, outcome) in outcomes {
            match outcome {
                None | Some(Ok((None, _, _))) => {
                    self.store.clear_pending_writes(repo_name, paths).await?;
                }
                Some(Ok((Some(id), pushed, on_read))) => {
                    self.store.clear_pending_writes(repo_name, paths).await?;
                    if on_read {
                        committed.read_from.insert(repo_name.clone(), id.clone());
                    }
                    if let Err(e) = pushed {
                        not_applied.push(NotApplied {
                            key: String::new(),
                            target: repo_name.clone(),
                            problem: format!("committed {} but the push failed: {e}", short(&id)),
                            raced: false,
                        });
                    }
                    committed.commits.push((repo_name.clone(), id));
                }
                Some(Err(e)) => not_applied.push(NotApplied {
                    key: String::new(),
                    target: repo_name.clone(),
                    problem: format!("files written but the commit failed: {e}"),
                    raced: false,
                }),
            }
        }
        ledger.not_applied.extend(not_applied);
        Ok(committed)
    }

    /// One repo's commit (and push); `None` when it is not a git work
    /// tree, so the write is final.
    fn commit_repo(
        &self,
        repo_name: &str,
        paths: &[String],
        lines: &[String],
    ) -> Option<CommitOutcome> {
        let gate = self.gates.get(repo_name)?;
        let git = gate.git.as_ref()?;
        let subject = self
            .ws
            .commit_subject
            .replace("{count}", &lines.len().to_string())
            .replace("{run_id}", &self.run_id);
        // The trailer marks the values as copies of an agreement, so a
        // clone that merges this commit never takes them for edits.
        let message = format!(
            "{subject}\n\n{}\n\n{}: {}\n",
            lines.join("\n"),
            crate::replicas::RUN_TRAILER,
            self.run_id
        );
        let committed = git.commit_paths(paths, &message).map(|id| {
            let pushed = match &id {
                Some(_) if self.options.push => git.push().map_err(|e| e.to_string()),
                _ => Ok(()),
            };
            // Made right on top of what was read: the next run may read
            // from it (nobody else's commit hides in between).
            let on_read = id.as_ref().is_some_and(|id| {
                let parent = git.first_parent(id).ok().flatten();
                parent.is_some() && parent == gate.head_at_read.clone()
            });
            (id, pushed, on_read)
        });
        Some(committed.map_err(|e| e.to_string()))
    }
}

/// A commit's id (`None`: nothing to commit), how its push went, and
/// whether its parent is the commit the run read.
type CommitOutcome = Result<(Option<String>, Result<(), String>, bool), String>;
