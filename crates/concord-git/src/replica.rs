//! The identity of one checkout (a replica): a stable id kept in the
//! checkout's own git folder, never in tracked files. A fresh clone gets a
//! new id (git does not copy the file); a work tree copied elsewhere is
//! told apart from one that was moved by whether the original is still
//! there with the same id.

use crate::{GitError, Repo};
use std::path::{Path, PathBuf};

/// The file, inside the work tree's own git directory.
const FILE: &str = "concord-replica";

/// Who this checkout is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaId {
    pub id: String,
    /// Made by this call: the checkout had no id yet.
    pub new: bool,
    /// The id the file held when it turned out to be a copy of another
    /// checkout that still exists (a copy gets an id of its own).
    pub copied_from: Option<String>,
}

impl Repo {
    /// This checkout's replica id, made (and kept in the git folder) on
    /// first use.
    pub fn replica_id(&self) -> Result<ReplicaId, GitError> {
        let file = self.git_dir.join(FILE);
        let here = self.root.clone();
        let recorded = std::fs::read_to_string(&file).ok().and_then(|t| parse(&t));
        match recorded {
            Some((id, path)) if path == here => Ok(ReplicaId {
                id,
                new: false,
                copied_from: None,
            }),
            Some((id, path)) if still_there(&path, &id) => {
                let fresh = new_id();
                write(&file, &fresh, &here)?;
                Ok(ReplicaId {
                    id: fresh,
                    new: true,
                    copied_from: Some(id),
                })
            }
            // Moved (the old place no longer has it): the same checkout.
            Some((id, _)) => {
                write(&file, &id, &here)?;
                Ok(ReplicaId {
                    id,
                    new: false,
                    copied_from: None,
                })
            }
            None => {
                let fresh = new_id();
                write(&file, &fresh, &here)?;
                Ok(ReplicaId {
                    id: fresh,
                    new: true,
                    copied_from: None,
                })
            }
        }
    }
}

fn parse(text: &str) -> Option<(String, PathBuf)> {
    let mut id = None;
    let mut path = None;
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("id", value)) if !value.is_empty() => id = Some(value.to_string()),
            Some(("path", value)) if !value.is_empty() => path = Some(PathBuf::from(value)),
            _ => {}
        }
    }
    id.zip(path)
}

/// Whether the checkout at `path` still carries `id` (then this one is a copy).
fn still_there(path: &Path, id: &str) -> bool {
    let Ok(other) = Repo::open(path) else {
        return false;
    };
    std::fs::read_to_string(other.git_dir.join(FILE))
        .ok()
        .and_then(|t| parse(&t))
        .is_some_and(|(other_id, other_path)| other_id == id && other_path == other.root)
}

/// 128 random bits: ids must not collide across machines.
fn new_id() -> String {
    format!("r{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

fn write(file: &Path, id: &str, path: &Path) -> Result<(), GitError> {
    let text = format!(
        "# concord: this checkout's replica id (see concord's docs/replicas.md)\nid {id}\npath {}\n",
        path.display()
    );
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, file))
        .map_err(|source| GitError::Io {
            context: format!("cannot record the replica id in {}", file.display()),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn init(dir: &Path) {
        let ok = Command::new("git")
            .args(["init", "-q", "-b", "main"])
            .arg(dir)
            .status()
            .expect("git")
            .success();
        assert!(ok);
    }

    #[test]
    fn an_id_is_stable_a_copy_gets_its_own_and_a_move_keeps_it() {
        let tmp = tempfile::tempdir().expect("tmp");
        let a = tmp.path().join("a");
        init(&a);
        let first = Repo::open(&a).expect("open").replica_id().expect("id");
        assert!(first.new);
        let again = Repo::open(&a).expect("open").replica_id().expect("id");
        assert_eq!(again.id, first.id);
        assert!(!again.new);
        // A copy of the whole work tree, the original still in place.
        let b = tmp.path().join("b");
        let ok = Command::new("cp")
            .args(["-r"])
            .arg(&a)
            .arg(&b)
            .status()
            .expect("cp")
            .success();
        assert!(ok);
        let copy = Repo::open(&b).expect("open").replica_id().expect("id");
        assert_ne!(copy.id, first.id);
        assert_eq!(copy.copied_from.as_deref(), Some(first.id.as_str()));
        // The original keeps its id.
        let original = Repo::open(&a).expect("open").replica_id().expect("id");
        assert_eq!(original.id, first.id);
        // A move keeps the id.
        let c = tmp.path().join("c");
        std::fs::rename(&a, &c).expect("move");
        let moved = Repo::open(&c).expect("open").replica_id().expect("id");
        assert_eq!(moved.id, first.id);
        assert!(!moved.new);
    }
}
