//! What each checkout (replica) of a git source last agreed on, read from
//! the hub for a plan, and recorded again after a sync. See
//! `docs/replicas.md` for the rules this implements.

use crate::gates::RepoGate;
use concord_model::Observation;
use concord_store::{Base, Replica, ReplicaBase, Store, StoreError, now_rfc3339};
use concord_workspace::{OwnView, Workspace};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The trailer every sync commit carries: a value a commit with it wrote
/// is a copy of an agreement, not anyone's edit.
pub const RUN_TRAILER: &str = "Concord-Run";

/// (replica, rule, source, key).
type RowKey = (String, String, String, String);

/// The own bases this run's replicas may rely on.
#[derive(Default)]
pub struct OwnBases {
    /// (replica, rule, source, key) -> the value it last agreed on, and
    /// the commit it held that value committed at.
    rows: HashMap<RowKey, (Option<String>, String)>,
    /// Per repo: the commits of shared bases that are in its replica's
    /// history (a replica with no row of its own starts from such a base).
    adoptable: HashMap<String, HashSet<String>>,
    /// Per repo: why its replica's own bases are not relied on this time.
    pub notes: BTreeMap<String, String>,
    /// Repos whose replica's history was rewritten since its last sync.
    uncertain: HashSet<String>,
    /// (source, key) whose value is a copy, not an edit: a sync commit
    /// wrote it last, or history the replica had already synced past did.
    copied: HashSet<(String, String)>,
}

impl OwnBases {
    /// Everything the engine needs to know of the value of `key` of
    /// `source` under `rule` in the replica of `repo`: what it last agreed
    /// on, whether its history was rewritten since, whether a sync commit
    /// wrote the value.
    pub fn view(
        &self,
        gates: &BTreeMap<String, RepoGate>,
        repo: &str,
        (rule, source, key): (&str, &str, &str),
        shared: Option<&Base>,
    ) -> OwnView {
        OwnView {
            base: self.base(gates, repo, (rule, source, key), shared),
            uncertain: self.uncertain.contains(repo),
            copied: self.copied.contains(&(source.to_string(), key.to_string())),
        }
    }

    /// What the replica last agreed on: its own row, else the shared base
    /// when some replica held it committed at a commit in this one's
    /// history, else `None` (first-sync rule).
    fn base(
        &self,
        gates: &BTreeMap<String, RepoGate>,
        repo: &str,
        item: (&str, &str, &str),
        shared: Option<&Base>,
    ) -> Option<String> {
        self.base_at(gates, repo, item, shared)
            .and_then(|(value, _commit)| value)
    }

    /// `base`, with the commit the replica held it committed at: its own
    /// row's position, or the agreed commit of an adopted shared base.
    fn base_at(
        &self,
        gates: &BTreeMap<String, RepoGate>,
        repo: &str,
        (rule, source, key): (&str, &str, &str),
        shared: Option<&Base>,
    ) -> Option<(Option<String>, Option<String>)> {
        let replica = gates.get(repo)?.replica.as_deref()?;
        let row = (
            replica.to_string(),
            rule.to_string(),
            source.to_string(),
            key.to_string(),
        );
        if let Some((value, position)) = self.rows.get(&row) {
            let at = (!position.is_empty()).then(|| position.clone());
            return Some((value.clone(), at));
        }
        let shared = shared?;
        let commit = agreed_commit(shared, source)?;
        self.adoptable
            .get(repo)
            .is_some_and(|commits| commits.contains(&commit))
            .then(|| (shared.value.clone(), Some(commit)))
    }

    /// The row the replica has now, to skip rewriting an unchanged one.
    pub fn row(
        &self,
        replica: &str,
        rule: &str,
        source: &str,
        key: &str,
    ) -> Option<&Option<String>> {
        self.rows
            .get(&(
                replica.to_string(),
                rule.to_string(),
                source.to_string(),
                key.to_string(),
            ))
            .map(|(value, _position)| value)
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

/// Every (source, commit) a shared base was agreed at (sources read in a
/// replica: `replica commit`).
fn agreed_commits(base: &Base) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(versions)) = serde_json::from_str(&base.versions) else {
        return Vec::new();
    };
    versions
        .into_iter()
        .filter_map(|(source, position)| {
            let (_replica, commit) = position.as_str()?.split_once(' ')?;
            (!commit.is_empty()).then(|| (source, commit.to_string()))
        })
        .collect()
}

/// Read the own bases of this run's replicas. While the commit a
/// replica's last sync left it at is in its history its rows are certain;
/// after a rewrite (rebase, reset) they are marked uncertain: a value equal
/// to its row still follows, a changed one counts only by the first-sync
/// rule.
pub async fn load(
    ws: &Workspace,
    store: &Store,
    gates: &BTreeMap<String, RepoGate>,
    shared: &[Base],
    keys: Option<&[String]>,
) -> Result<OwnBases, StoreError> {
    let mut own = OwnBases::default();
    // Each shared base's agreed commit per source, read once: with one
    // replica per repo and a rule over many sources, reading each base's
    // versions per replica and source cost seconds on 100,000 items.
    let mut agreed: HashMap<String, Vec<(&Base, String)>> = HashMap::new();
    for base in shared {
        for (source, commit) in agreed_commits(base) {
            agreed.entry(source).or_default().push((base, commit));
        }
    }
    // The hub's replicas and the rows of those that synced before, each in
    // one read: a query per repo cost a round trip and a pass over the keys
    // each (50 repos, 16,000 keys, a million items: reading the hub took
    // 1.5-2.1 s, and 0.7-1 s in three runs of four with one read).
    let synced: HashMap<String, String> = store
        .replicas()
        .await?
        .into_iter()
        .filter_map(|r| Some((r.id, r.synced_head?)))
        .collect();
    let known: Vec<String> = gates
        .values()
        .filter(|gate| gate.git.is_some() && gate.head_at_read.is_some())
        .filter_map(|gate| gate.lasting_replica())
        .filter(|replica| synced.contains_key(*replica))
        .map(str::to_string)
        .collect();
    for row in store.replica_bases_of(&known, keys).await? {
        own.rows.insert(
            (row.replica, row.rule, row.source, row.key),
            (row.value, row.position),
        );
    }
    for (repo, gate) in gates {
        let (Some(replica), Some(git), Some(head)) = (
            gate.lasting_replica(),
            gate.git.as_ref(),
            gate.head_at_read.as_deref(),
        ) else {
            continue;
        };
        // A replica the hub knows (it synced before): its rows are certain
        // while the commit it synced at is still in its history.
        if let Some(synced) = synced.get(replica) {
            let kept = synced == head || git.is_ancestor(synced, head).ok().flatten() == Some(true);
            if !kept {
                own.uncertain.insert(repo.clone());
                own.notes.insert(
                    repo.clone(),
                    format!(
                        "the commit its last sync left it at ({}) is no longer in its history: \
                         a value it still holds follows, a changed one counts only where it \
                         ranks above the agreed one",
                        crate::gates::short(synced)
                    ),
                );
            }
        }
        let sources: HashSet<&str> = ws
            .sources
            .iter()
            .filter(|s| &ws.repo(s).name == repo)
            .map(|s| s.name.as_str())
            .collect();
        // Only the shared bases an item of this replica may start from.
        let mut wanted: HashSet<String> = HashSet::new();
        for source in &sources {
            for (b, commit) in agreed.get(*source).into_iter().flatten() {
                let row = (
                    replica.to_string(),
                    b.rule.clone(),
                    source.to_string(),
                    b.key.clone(),
                );
                if !own.rows.contains_key(&row) {
                    wanted.insert(commit.clone());
                }
            }
        }
        own.adoptable
            .insert(repo.clone(), in_history(git, head, wanted));
    }
    Ok(own)
}

/// A value whose provenance is asked: (the commit that last changed its
/// line, source, key, the commit its replica's base was agreed at).
type Blamed<'o> = (String, &'o str, &'o str, Option<String>);

/// (repo, path) -> [(line, source, key, the commit its base was agreed at)].
type Candidates<'o> = BTreeMap<(&'o str, &'o str), Vec<(u32, &'o str, &'o str, Option<String>)>>;

/// Find the values, among those that would count as a replica's change,
/// whose status line (`git blame`) was last changed by
/// - one of concord's own sync commits: a copy of some agreement, perhaps
///   an old one another clone wrote back and a merge brought in; or
/// - a commit already in the history of the commit the replica's base was
///   agreed at: an older line that a merge brought back (a conflict
///   resolved with one side wholesale keeps that side's stale values). The
///   replica had already synced past it, so it is no one's new edit; a
///   person's edit, revert or hand-resolved merge is a new commit.
///
/// Such values never propose: they follow.
pub fn find_copies(
    ws: &Workspace,
    gates: &BTreeMap<String, RepoGate>,
    own: &mut OwnBases,
    observations: &[&Observation],
    shared: &HashMap<(&str, &str), &Base>,
) {
    let wanted = copy_candidates(ws, gates, own, observations, shared);
    // One blame per file (in parallel), then one message read per repo.
    let blamed: Vec<(&str, Vec<Blamed>)> = wanted
        .par_iter()
        .filter_map(|((repo, path), lines)| {
            let git = gates.get(*repo)?.git.as_ref()?;
            let numbers: Vec<u32> = lines.iter().map(|(line, ..)| *line).collect();
            let commits = git.line_commits(path, &numbers).ok()?;
            let found = lines
                .iter()
                .filter_map(|(line, source, key, agreed_at)| {
                    Some((commits.get(line)?.clone(), *source, *key, agreed_at.clone()))
                })
                .collect();
            Some((*repo, found))
        })
        .collect();
    let mut by_repo: BTreeMap<&str, Vec<Blamed>> = BTreeMap::new();
    for (repo, found) in blamed {
        by_repo.entry(repo).or_default().extend(found);
    }
    let legacy_subject = legacy_subject_prefix(&ws.commit_subject);
    for (repo, found) in by_repo {
        let Some(git) = gates.get(repo).and_then(|g| g.git.as_ref()) else {
            continue;
        };
        let by_sync = written_by_sync(git, &found, legacy_subject.as_deref());
        let seen = already_synced_past(git, &found);
        for (commit, source, key, agreed_at) in found {
            let older = agreed_at.is_some_and(|at| seen.contains(&(commit.clone(), at)));
            if older || by_sync.contains(&commit) {
                own.copied.insert((source.to_string(), key.to_string()));
            }
        }
    }
}

/// Which of the blamed commits are concord's own sync commits.
fn written_by_sync(
    git: &concord_git::Repo,
    found: &[Blamed],
    legacy_subject: Option<&str>,
) -> HashSet<String> {
    let commits: Vec<String> = found
        .iter()
        .map(|(c, ..)| c.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let Ok(messages) = git.commit_messages(&commits) else {
        return HashSet::new();
    };
    messages
        .into_iter()
        .filter(|(_, message)| is_sync_commit(message, legacy_subject))
        .map(|(commit, _)| commit)
        .collect()
}

/// (blamed commit, agreed-at commit) pairs where the blamed commit is in
/// the history of the one the base was agreed at. Most candidates share one
/// agreed-at commit (the replica's last sync), so this is one question per
/// such commit.
fn already_synced_past(git: &concord_git::Repo, found: &[Blamed]) -> HashSet<(String, String)> {
    let mut by_agreed: HashMap<&str, HashSet<String>> = HashMap::new();
    for (commit, _, _, agreed_at) in found {
        if let Some(at) = agreed_at {
            by_agreed.entry(at).or_default().insert(commit.clone());
        }
    }
    by_agreed
        .into_iter()
        .flat_map(|(at, commits)| {
            in_history(git, at, commits)
                .into_iter()
                .map(move |c| (c, at.to_string()))
        })
        .collect()
}

/// (repo, path) -> [(line, source, key, agreed at)] of the committed values
/// of this run's replicas that differ from both the agreement and their own
/// base: the only ones whose provenance decides anything.
fn copy_candidates<'o>(
    ws: &Workspace,
    gates: &BTreeMap<String, RepoGate>,
    own: &OwnBases,
    observations: &[&'o Observation],
    shared: &HashMap<(&str, &str), &Base>,
) -> Candidates<'o> {
    let mut wanted: Candidates = BTreeMap::new();
    for obs in observations {
        let Some(gate) = gates.get(&*obs.repo) else {
            continue;
        };
        let Some(status) = obs.status.as_ref() else {
            continue;
        };
        let Some(value) = status.canonical.as_deref() else {
            continue;
        };
        if gate.replica.is_none() || gate.blocked.is_some() || gate.dirty.contains(&*obs.path) {
            continue;
        }
        let differs = ws
            .rules
            .iter()
            .filter(|r| r.sources.iter().any(|s| **s == *obs.source))
            .find_map(|rule| {
                let base = shared.get(&(rule.name.as_str(), obs.key.as_str()))?;
                let key = (rule.name.as_str(), &*obs.source, obs.key.as_str());
                let (own_value, agreed_at) = own
                    .base_at(gates, &obs.repo, key, Some(base))
                    .unwrap_or((None, None));
                if base.value.as_deref() == Some(value) || own_value.as_deref() == Some(value) {
                    return None;
                }
                // Without a base it can vouch for, only a value above the
                // agreed rank could count (first-sync rule): ask only then.
                let certain = own_value.is_some() && !own.uncertain.contains(&*obs.repo);
                (certain || above(ws, obs, status.rank, base.value.as_deref())).then_some(agreed_at)
            });
        if let Some(agreed_at) = differs {
            wanted.entry((&obs.repo, &obs.path)).or_default().push((
                status.line,
                &obs.source,
                &obs.key,
                agreed_at,
            ));
        }
    }
    wanted
}

/// Whether a value of rank `rank` ranks above the agreed status `agreed`
/// in the observation's workflow (unknown ranks: ask, to be safe).
fn above(ws: &Workspace, obs: &Observation, rank: Option<u32>, agreed: Option<&str>) -> bool {
    let Some(source) = ws.sources.iter().find(|s| *s.name == *obs.source) else {
        return true;
    };
    let agreed = agreed
        .and_then(|a| ws.workflow(source).resolve(a))
        .map(|s| s.rank);
    match (rank, agreed) {
        (Some(rank), Some(agreed)) => rank > agreed,
        _ => true,
    }
}

/// Whether a commit message is one of concord's sync commits: it carries
/// the run trailer, or (commits made before the trailer existed) starts
/// with the literal part of the configured subject.
fn is_sync_commit(message: &str, legacy_subject: Option<&str>) -> bool {
    let trailer = format!("{RUN_TRAILER}: ");
    message.lines().any(|line| line.starts_with(&trailer))
        || legacy_subject.is_some_and(|prefix| message.starts_with(prefix))
}

/// The subject's text before its first placeholder, when long enough to
/// tell concord's commits from a person's.
fn legacy_subject_prefix(subject: &str) -> Option<String> {
    let prefix = subject.split('{').next().unwrap_or_default().trim_end();
    (prefix.len() >= 8).then(|| prefix.to_string())
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

/// After a sync: replica bases that moved (each row stands on its own, so
/// a sync records them a chunk at a time).
pub async fn record_bases(store: &Store, rows: ReplicaRows) -> Result<(), StoreError> {
    let lasting = |mut rows: Vec<ReplicaBase>| {
        rows.retain(|r| !r.replica.starts_with(crate::gates::EPHEMERAL));
        rows
    };
    let (new, moved) = (lasting(rows.new), lasting(rows.moved));
    if !new.is_empty() {
        store.put_new_replica_bases(&new).await?;
    }
    if !moved.is_empty() {
        store.put_replica_bases(&moved).await?;
    }
    Ok(())
}

/// Replica bases a run moved, split by whether the replica had a row for
/// the key when the run read them: the hub inserts new rows faster than it
/// replaces rows.
#[derive(Debug, Default)]
pub struct ReplicaRows {
    /// Rows of keys the run read no row of (a first sync's every row).
    pub new: Vec<ReplicaBase>,
    /// Rows that replace one the run read.
    pub moved: Vec<ReplicaBase>,
}

/// After a sync, once its replica bases are recorded: each replica's new
/// synced head.
pub async fn record(
    store: &Store,
    gates: &BTreeMap<String, RepoGate>,
    synced_heads: &HashMap<String, String>,
) -> Result<(), StoreError> {
    let now = now_rfc3339();
    let host = crate::hub::hostname();
    for (repo, gate) in gates {
        let (Some(replica), Some(git)) = (gate.lasting_replica(), gate.git.as_ref()) else {
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
