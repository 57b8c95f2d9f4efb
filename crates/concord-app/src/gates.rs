//! The gates every command that plans runs first, so `sync`, `diff`,
//! `status` and `explain` see a repo the same way: a best-effort fetch,
//! an optional fast-forward, what blocks writing (behind its upstream,
//! detached, mid-rebase or merge, a locked index), the dirty files, and
//! which checkout (replica) this is.

use concord_engine::Reason;
use concord_git::{BlockerKind, FetchOutcome, ReplicaId, Repo as GitRepo};
use concord_model::Observation;
use concord_workspace::{Gate, Workspace};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// The prefix of a replica id made up for one run, for a checkout that
/// cannot keep one (a read-only git folder).
pub const EPHEMERAL: &str = "~";

/// What the gates found for one repo.
pub struct RepoGate {
    pub git: Option<GitRepo>,
    /// Why nothing may be written, with the command that fixes it.
    pub blocker: Option<String>,
    /// The item-level reason for `blocker`.
    pub blocked: Option<Reason>,
    pub dirty: BTreeSet<String>,
    /// Files an interrupted sync wrote and did not commit: ours, not dirty.
    pub carry: Vec<String>,
    /// HEAD when the gates ran, i.e. what this run's scan reads.
    pub head_at_read: Option<String>,
    /// This checkout's replica id (git work trees only).
    pub replica: Option<Arc<str>>,
    /// What `--pull` fast-forwarded: `old..new (N commits)`.
    pub pulled: Option<String>,
    pub notes: Vec<String>,
}

impl RepoGate {
    /// The engine's view of one observation's file.
    pub fn gate_for(&self, path: &str) -> Gate {
        Gate {
            blocked: self.blocked,
            dirty: self.dirty.contains(path),
            replica: self.replica.clone(),
        }
    }

    /// This checkout's id, when it keeps one from run to run.
    pub fn lasting_replica(&self) -> Option<&str> {
        self.replica
            .as_deref()
            .filter(|r| !r.starts_with(EPHEMERAL))
    }

    /// `replica commit`: a position only this checkout may read from.
    pub fn position(&self, commit: &str) -> String {
        match &self.replica {
            Some(replica) => format!("{replica} {commit}"),
            None => commit.to_string(),
        }
    }
}

/// The engine's view of every observation, from the gates.
pub fn gate_of(gates: &BTreeMap<String, RepoGate>) -> impl Fn(&Observation) -> Gate + '_ {
    |obs: &Observation| {
        gates
            .get(&*obs.repo)
            .map_or(Gate::default(), |g| g.gate_for(&obs.path))
    }
}

/// The commit a position names, if it is this replica's (`None`: another
/// checkout's, or written before replicas existed).
pub fn own_position<'p>(position: &'p str, replica: Option<&str>) -> Option<&'p str> {
    match (position.split_once(' '), replica) {
        (Some((owner, commit)), Some(mine)) if owner == mine && !commit.is_empty() => Some(commit),
        (None, None) if !position.is_empty() => Some(position),
        _ => None,
    }
}

/// How the gates run.
#[derive(Clone, Copy, Debug)]
pub struct GateOptions {
    /// Fetch each repo's upstream first (best effort, bounded in time).
    pub fetch: bool,
    /// Fast-forward a repo that is behind its upstream.
    pub pull: bool,
    pub fetch_timeout: Duration,
    /// Every repo of the workspace, not only those a sync rule reads.
    pub all_repos: bool,
}

/// How long `sync`'s best-effort fetch may take.
pub const SYNC_FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a read-only command's fetch may take: it only informs.
pub const CHECK_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

fn reason_of(kind: BlockerKind) -> Reason {
    match kind {
        BlockerKind::Detached => Reason::DetachedHead,
        BlockerKind::Operation => Reason::RepoBusy,
        BlockerKind::IndexLocked => Reason::IndexLocked,
        BlockerKind::Stale => Reason::StaleRepo,
    }
}

/// Fetch (best effort), pull when asked, and find what blocks writing, for
/// every repo a sync rule reads.
pub fn gate_repos(ws: &Workspace, options: GateOptions) -> BTreeMap<String, RepoGate> {
    let used: BTreeSet<usize> = if options.all_repos {
        (0..ws.repos.len()).collect()
    } else {
        ws.rules
            .iter()
            .flat_map(|r| r.sources.iter())
            .filter_map(|name| ws.sources.iter().find(|s| &s.name == name))
            .map(|s| s.repo)
            .collect()
    };
    // Repos are independent and git calls wait on I/O: gate them in parallel.
    used.into_par_iter()
        .map(|index| {
            let repo = &ws.repos[index];
            let mut gate = RepoGate {
                git: None,
                blocker: None,
                blocked: None,
                dirty: BTreeSet::new(),
                carry: Vec::new(),
                head_at_read: None,
                replica: None,
                pulled: None,
                notes: Vec::new(),
            };
            match GitRepo::open(&repo.root) {
                Err(e) => gate.notes.push(format!(
                    "not a git work tree ({e}); changes are written but not committed"
                )),
                Ok(git) => {
                    gate_git(&git, options, &mut gate);
                    gate.git = Some(git);
                }
            }
            (repo.name.clone(), gate)
        })
        .collect()
}

fn gate_git(git: &GitRepo, options: GateOptions, gate: &mut RepoGate) {
    match git.replica_id() {
        Ok(ReplicaId {
            id, copied_from, ..
        }) => {
            if let Some(original) = copied_from {
                gate.notes.push(format!(
                    "this work tree is a copy of replica {original}: it is replica {id} from now on"
                ));
            }
            gate.replica = Some(Arc::from(id.as_str()));
        }
        // Fail safe: a checkout that cannot keep an id is one nobody
        // knows, every run: it never has a base of its own (first-sync
        // rule: it can raise a rank, never reopen), and nothing is recorded
        // for it.
        Err(e) => {
            gate.notes.push(format!(
                "cannot keep a replica id ({e}): its values count only where they rank above the agreed ones"
            ));
            gate.replica = Some(Arc::from(
                format!("{EPHEMERAL}{:016x}", fastrand::u64(..)).as_str(),
            ));
        }
    }
    // One `git status` tells head, branch, upstream, behind and the dirty
    // files; it is read again only when a fetch or a pull may have changed
    // its answer.
    let first = git.snapshot_cached();
    let fetched = match (&first, options.fetch) {
        (_, false) => FetchOutcome::NoUpstream,
        (Ok((state, _)), true) => {
            git.fetch_upstream(state.upstream.as_deref(), options.fetch_timeout)
        }
        (Err(_), true) => git.fetch(options.fetch_timeout),
    };
    let mut snapshot = match fetched {
        // The upstream may have moved: count behind again.
        FetchOutcome::Fetched => git.snapshot_cached(),
        FetchOutcome::NoUpstream => first,
        FetchOutcome::Failed(why) => {
            gate.notes.push(format!(
                "fetch failed, staleness checked against the last fetch: {why}"
            ));
            first
        }
    };
    if options.pull
        && let Ok((state, _)) = &snapshot
        && state.behind > 0
        && state
            .write_blocker()
            .is_none_or(|b| b.kind == BlockerKind::Stale)
    {
        let before = state.head.clone().unwrap_or_default();
        let behind = state.behind;
        match git.pull_ff_only() {
            Ok(()) => {
                snapshot = git.snapshot_cached();
                let after = git.head().ok().flatten().unwrap_or_default();
                gate.pulled = Some(format!(
                    "fast-forwarded {}..{} ({})",
                    short(&before),
                    short(&after),
                    crate::count(behind as usize, "commit")
                ));
            }
            Err(e) => {
                gate.blocker = Some(format!("cannot fast-forward: {e}"));
                gate.blocked = Some(Reason::StaleRepo);
            }
        }
    }
    match snapshot {
        Ok((state, dirty)) => {
            gate.head_at_read = state.head.clone();
            if gate.blocker.is_none()
                && let Some(blocker) = state.write_blocker()
            {
                gate.blocked = Some(reason_of(blocker.kind));
                gate.blocker = Some(blocker.message);
            }
            gate.dirty = dirty;
        }
        Err(e) => {
            gate.blocker = Some(format!("cannot read the repo's state: {e}"));
            gate.blocked = Some(Reason::StaleRepo);
        }
    }
}

pub fn short(id: &str) -> &str {
    &id[..id.len().min(10)]
}
