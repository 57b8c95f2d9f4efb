//! What each checkout (replica) of a git source last agreed on, read from
//! the hub for a plan, and recorded again after a sync. See
//! `docs/replicas.md` for the rules this implements.

use crate::gates::RepoGate;
use concord_store::{Base, Replica, ReplicaBase, Store, StoreError, now_rfc3339};
use concord_workspace::Workspace;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The own bases this run's replicas may rely on.
#[derive(Default)]
pub struct OwnBases {
    /// (replica, rule, source, key) -> the value it last agreed on.
    rows: HashMap<(String, String, String, String), Option<String>>,
    /// Per repo: the commits of shared bases that are in its replica's
    /// history (a replica with no row of its own starts from such a base).
    adoptable: HashMap<String, HashSet<String>>,
    /// Per repo: why its replica's own bases are not relied on this time.
    pub notes: BTreeMap<String, String>,
}

impl OwnBases {
    /// The value the replica of `repo` last agreed on for `key` of
    /// `source` under `rule`: its own row, else the shared base when that
    /// was agreed at a commit in its history, else `None` (first-sync rule).
    pub fn own(
        &self,
        gates: &BTreeMap<String, RepoGate>,
        repo: &str,
        (rule, source, key): (&str, &str, &str),
        shared: Option<&Base>,
    ) -> Option<String> {
        let replica = gates.get(repo)?.replica.as_deref()?;
        let row = (
            replica.to_string(),
            rule.to_string(),
            source.to_string(),
            key.to_string(),
        );
        if let Some(value) = self.rows.get(&row) {
            return value.clone();
        }
        let shared = shared?;
        let commit = agreed_commit(shared, source)?;
        self.adoptable
            .get(repo)
            .is_some_and(|commits| commits.contains(&commit))
            .then(|| shared.value.clone())
            .flatten()
    }

    /// The row the replica has now, to skip rewriting an unchanged one.
    pub fn row(
        &self,
        replica: &str,
        rule: &str,
        source: &str,
        key: &str,
    ) -> Option<&Option<String>> {
        self.rows.get(&(
            replica.to_string(),
            rule.to_string(),
            source.to_string(),
            key.to_string(),
        ))
    }
}

/// The commit `source` was at, holding the agreed value committed, when
/// the shared base was agreed. Only positions recorded since replicas exist
/// (`replica commit`) count: a base agreed before then recorded the commit
/// a sync read, before its own write-back commit, so a checkout at that
/// commit may still hold the old value; such a checkout takes the
/// first-sync rule instead, which never reopens anything.
fn agreed_commit(base: &Base, source: &str) -> Option<String> {
    let versions: serde_json::Value = serde_json::from_str(&base.versions).ok()?;
    let position = versions.get(source)?.as_str()?;
    let (_replica, commit) = position.split_once(' ')?;
    (!commit.is_empty()).then(|| commit.to_string())
}

/// Read the own bases of this run's replicas. A replica's rows count only
/// while the commit its last sync left it at is still in its history
/// (a rewritten or rewound branch makes them unknown: first-sync rule).
pub async fn load(
    ws: &Workspace,
    store: &Store,
    gates: &BTreeMap<String, RepoGate>,
    shared: &[Base],
    keys: Option<&[String]>,
) -> Result<OwnBases, StoreError> {
    let mut own = OwnBases::default();
    for (repo, gate) in gates {
        let (Some(replica), Some(git), Some(head)) = (
            gate.replica.as_deref(),
            gate.git.as_ref(),
            gate.head_at_read.as_deref(),
        ) else {
            continue;
        };
        let trusted = match store.replica(replica).await? {
            Some(Replica {
                synced_head: Some(synced),
                ..
            }) => {
                let kept =
                    synced == head || git.is_ancestor(&synced, head).ok().flatten() == Some(true);
                if !kept {
                    own.notes.insert(
                        repo.clone(),
                        format!(
                            "the commit its last sync left it at ({}) is no longer in its history: \
                             its values count as edits only where they rank above the agreed ones",
                            crate::gates::short(&synced)
                        ),
                    );
                }
                kept
            }
            _ => false,
        };
        if trusted {
            for row in store.replica_bases(replica, keys).await? {
                own.rows
                    .insert((row.replica, row.rule, row.source, row.key), row.value);
            }
        }
        let sources: HashSet<&str> = ws
            .sources
            .iter()
            .filter(|s| &ws.repo(s).name == repo)
            .map(|s| s.name.as_str())
            .collect();
        // Only the shared bases an item of this replica may start from.
        let wanted: HashSet<String> = shared
            .iter()
            .flat_map(|b| {
                sources
                    .iter()
                    .filter(|s| {
                        !own.rows.contains_key(&(
                            replica.to_string(),
                            b.rule.clone(),
                            s.to_string(),
                            b.key.clone(),
                        ))
                    })
                    .filter_map(|s| agreed_commit(b, s))
            })
            .collect();
        own.adoptable
            .insert(repo.clone(), in_history(git, head, wanted));
    }
    Ok(own)
}

/// Which of `commits` are in the history of `head`: a few are asked one by
/// one, many with one walk of the history.
fn in_history(git: &concord_git::Repo, head: &str, commits: HashSet<String>) -> HashSet<String> {
    if commits.len() <= 8 {
        return commits
            .into_iter()
            .filter(|c| c == head || git.is_ancestor(c, head).ok().flatten() == Some(true))
            .collect();
    }
    match git.history(head) {
        Ok(history) => commits
            .into_iter()
            .filter(|c| history.contains(c))
            .collect(),
        Err(_) => HashSet::new(),
    }
}

/// After a sync: the replica bases that moved, and each replica's new
/// synced head.
pub async fn record(
    store: &Store,
    gates: &BTreeMap<String, RepoGate>,
    rows: &[ReplicaBase],
    synced_heads: &HashMap<String, String>,
) -> Result<(), StoreError> {
    store.put_replica_bases(rows).await?;
    let now = now_rfc3339();
    let host = crate::hub::hostname();
    for (repo, gate) in gates {
        let (Some(replica), Some(git)) = (gate.replica.as_deref(), gate.git.as_ref()) else {
            continue;
        };
        let existing = store.replica(replica).await?;
        store
            .put_replica(&Replica {
                id: replica.to_string(),
                repo: repo.clone(),
                location: format!("{host}:{}", git.root().display()),
                synced_head: synced_heads
                    .get(repo)
                    .cloned()
                    .or_else(|| gate.head_at_read.clone()),
                first_seen: existing.map_or_else(|| now.clone(), |r| r.first_seen),
                last_seen: now.clone(),
            })
            .await?;
    }
    Ok(())
}
