//! The imperative shell of team rules: what their helpers read. Files in
//! the checked set are seen as checked (working tree, index or commit);
//! anything else is read from the repo's working tree, and first-commit
//! dates come from git, once per repo.

use concord_checks::rules::RuleIo;
use concord_workspace::Workspace;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

pub(crate) struct RepoIo {
    roots: Vec<PathBuf>,
    /// The checked content, by (repo, path).
    checked: HashMap<(usize, String), Arc<[u8]>>,
    added: Vec<OnceLock<HashMap<String, String>>>,
    /// Serialises the git calls (one per repo at most).
    git: Mutex<()>,
}

impl RepoIo {
    pub(crate) fn new<'a>(
        ws: &Workspace,
        checked: impl Iterator<Item = (usize, &'a str, &'a [u8])>,
    ) -> RepoIo {
        RepoIo {
            roots: ws.repos.iter().map(|r| r.root.clone()).collect(),
            checked: checked
                .map(|(repo, path, bytes)| ((repo, path.to_string()), Arc::from(bytes)))
                .collect(),
            added: ws.repos.iter().map(|_| OnceLock::new()).collect(),
            git: Mutex::new(()),
        }
    }
}

impl RuleIo for RepoIo {
    fn read(&self, repo: usize, path: &str) -> Option<Vec<u8>> {
        if let Some(bytes) = self.checked.get(&(repo, path.to_string())) {
            return Some(bytes.to_vec());
        }
        std::fs::read(self.roots.get(repo)?.join(path)).ok()
    }

    fn exists(&self, repo: usize, path: &str) -> bool {
        self.checked.contains_key(&(repo, path.to_string()))
            || self
                .roots
                .get(repo)
                .is_some_and(|root| root.join(path).exists())
    }

    fn first_commit_date(&self, repo: usize, path: &str) -> Option<String> {
        let dates = self.added.get(repo)?.get_or_init(|| {
            let _one_at_a_time = self.git.lock();
            self.roots
                .get(repo)
                .and_then(|root| concord_git::Repo::open(root).ok())
                .and_then(|git| git.first_added_dates().ok())
                .unwrap_or_default()
        });
        dates.get(path).cloned()
    }
}
