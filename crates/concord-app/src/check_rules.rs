//! The imperative shell of team rules: what their helpers read. Files in
//! the checked set are seen as checked (working tree, index or commit);
//! anything else is read at the checked commit (per pull request, so that
//! both sides of a baseline see their own repo), else from the working
//! tree. First-commit dates come from git, once per repo.

use concord_checks::rules::RuleIo;
use concord_workspace::Workspace;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

pub(crate) struct RepoIo {
    roots: Vec<PathBuf>,
    /// The checked content, by (repo, path).
    checked: HashMap<(usize, String), Arc<[u8]>>,
    added: Vec<OnceLock<HashMap<String, String>>>,
    /// The commit other files are read at; `None`: the working tree.
    rev: Option<String>,
    /// Every file path at `rev`, per repo, listed on first use.
    listed: Vec<OnceLock<BTreeSet<String>>>,
    /// Serialises the git calls (one per repo at most).
    git: Mutex<()>,
}

impl RepoIo {
    pub(crate) fn new<'a>(
        ws: &Workspace,
        checked: impl Iterator<Item = (usize, &'a str, &'a [u8])>,
        rev: Option<&str>,
    ) -> RepoIo {
        RepoIo {
            roots: ws.repos.iter().map(|r| r.root.clone()).collect(),
            checked: checked
                .map(|(repo, path, bytes)| ((repo, path.to_string()), Arc::from(bytes)))
                .collect(),
            added: ws.repos.iter().map(|_| OnceLock::new()).collect(),
            rev: rev.map(str::to_string),
            listed: ws.repos.iter().map(|_| OnceLock::new()).collect(),
            git: Mutex::new(()),
        }
    }

    fn git(&self, repo: usize) -> Option<concord_git::Repo> {
        concord_git::Repo::open(self.roots.get(repo)?).ok()
    }

    /// The paths at `rev` in `repo`; `None` when reading the working tree.
    fn at_rev(&self, repo: usize) -> Option<&BTreeSet<String>> {
        let rev = self.rev.as_deref()?;
        Some(self.listed.get(repo)?.get_or_init(|| {
            let _one_at_a_time = self.git.lock();
            let seen = Mutex::new(BTreeSet::new());
            // Listing only: the filter records each path and reads none.
            let _ = self.git(repo).map(|git| {
                git.tree_files(rev, &|p| {
                    if let Ok(mut seen) = seen.lock() {
                        seen.insert(p.to_string());
                    }
                    false
                })
            });
            seen.into_inner().unwrap_or_default()
        }))
    }
}

impl RuleIo for RepoIo {
    fn read(&self, repo: usize, path: &str) -> Option<Vec<u8>> {
        if let Some(bytes) = self.checked.get(&(repo, path.to_string())) {
            return Some(bytes.to_vec());
        }
        if let Some(listed) = self.at_rev(repo) {
            if !listed.contains(path) {
                return None;
            }
            let rev = self.rev.as_deref()?;
            let _one_at_a_time = self.git.lock();
            return self
                .git(repo)?
                .tree_files(rev, &|p| p == path)
                .ok()?
                .pop()
                .map(|(_, bytes)| bytes);
        }
        std::fs::read(self.roots.get(repo)?.join(path)).ok()
    }

    fn exists(&self, repo: usize, path: &str) -> bool {
        if self.checked.contains_key(&(repo, path.to_string())) {
            return true;
        }
        if let Some(listed) = self.at_rev(repo) {
            // A file, or a folder holding one (git has no empty folders).
            let folder = format!("{path}/");
            return listed.contains(path)
                || listed
                    .range(folder.clone()..)
                    .next()
                    .is_some_and(|p| p.starts_with(&folder));
        }
        self.roots
            .get(repo)
            .is_some_and(|root| root.join(path).exists())
    }

    fn first_commit_date(&self, repo: usize, path: &str) -> Option<String> {
        let dates = self.added.get(repo)?.get_or_init(|| {
            let _one_at_a_time = self.git.lock();
            self.git(repo)
                .and_then(|git| git.first_added_dates().ok())
                .unwrap_or_default()
        });
        dates.get(path).cloned()
    }
}
