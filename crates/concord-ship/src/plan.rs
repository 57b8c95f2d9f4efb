//! The pure decisions of `concord ship`: which steps a train takes and in
//! what order ([`plan`]), whether a step runs, is skipped or stops the train
//! given what was journaled and probed ([`decide`]), whether the train may
//! start at all ([`preflight`]), what to tell the user after a stop
//! ([`report`]), and how long to wait before a retry ([`next_delay`]).
//!
//! Nothing here touches the disk, the clock, the network or a process: the
//! CLI gathers observations, asks, executes, journals, and asks again.
//!
//! # Order
//!
//! 1. Libraries, layer by layer in dependency order (a layer holds the
//!    libraries whose library dependencies are all in earlier layers). Within
//!    a layer, one step across all its libraries before the next step:
//!    re-pin, lock refresh, test, publish. A library that pins another one
//!    must be re-pinned after that one is published and before its own
//!    publish, and is tested before it is published, because a publish
//!    cannot be taken back.
//! 2. Apps (hub and satellites), once every library is published: all
//!    re-pins, then all lock refreshes, then all tests.
//! 3. Deploys, once every test has passed: the hub, then the satellites
//!    (dependency order, then name), then libraries that have a deploy.
//!    `Deploy::None` is no step.
//! 4. [`Step::Flip`], last.
//!
//! Ties are broken by name, so the plan does not depend on the order of
//! `train.repos`.

use crate::model::{Command, Deploy, GitRecord, Retry, Role, Train, TrainRepo};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

// ---------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------

/// One thing the train does. Serialized as `{"step": "publish", "repo": ..,
/// "version": ..}` so the CLI can journal it as is.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    Publish {
        repo: String,
        version: String,
    },
    Repin {
        repo: String,
    },
    LockRefresh {
        repo: String,
    },
    Test {
        repo: String,
    },
    Deploy {
        repo: String,
    },
    /// Tell git what shipped: push the release branch, fast-forward main
    /// to the shipped commit and push it, tag it and push the tag.
    Record {
        repo: String,
    },
    /// Flip the release record to shipped.
    Flip,
}

impl Step {
    /// The repo the step acts on (`None` for [`Step::Flip`]).
    pub fn repo(&self) -> Option<&str> {
        match self {
            Step::Publish { repo, .. }
            | Step::Repin { repo }
            | Step::LockRefresh { repo }
            | Step::Test { repo }
            | Step::Deploy { repo }
            | Step::Record { repo } => Some(repo),
            Step::Flip => None,
        }
    }

    /// Whether running the step twice has the same effect as running it
    /// once. Re-pins (a regex replace of a branch reference that no longer
    /// matches once applied), lock refreshes, tests and the flip are; a
    /// publish (registries refuse or duplicate) and a deploy (the adapter is
    /// the repo's, with its own side effects) are not assumed to be.
    pub fn is_idempotent(&self) -> bool {
        !matches!(self, Step::Publish { .. } | Step::Deploy { .. })
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Publish { repo, version } => write!(f, "publish {repo} {version}"),
            Step::Repin { repo } => write!(f, "re-pin {repo}"),
            Step::LockRefresh { repo } => write!(f, "refresh lock {repo}"),
            Step::Test { repo } => write!(f, "test {repo}"),
            Step::Deploy { repo } => write!(f, "deploy {repo}"),
            Step::Record { repo } => write!(f, "record {repo} in git"),
            Step::Flip => f.write_str("flip release record"),
        }
    }
}

// ---------------------------------------------------------------------------
// Plan errors and validation
// ---------------------------------------------------------------------------

/// Why a train cannot be planned. Variants are ordered by how fundamental
/// they are; [`plan`] reports the first, [`validate`] all of them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum PlanError {
    #[error("repo `{0}` is listed more than once")]
    DuplicateRepo(String),
    #[error("`{repo}` depends on `{dependency}`, which is not in the train")]
    UnknownDependency { repo: String, dependency: String },
    #[error("`{repo}` re-pins `{library}`, which is not a library of the train")]
    RepinNotLibrary { repo: String, library: String },
    #[error("library `{library}` depends on app `{app}`: libraries publish before any app moves")]
    LibraryDependsOnApp { library: String, app: String },
    #[error(
        "hub `{hub}` depends on satellite `{satellite}`: the hub deploys before its satellites"
    )]
    HubDependsOnSatellite { hub: String, satellite: String },
    #[error("more than one hub: {}", .0.join(", "))]
    SeveralHubs(Vec<String>),
    #[error("library `{0}` has no publish configuration")]
    NoPublish(String),
    #[error("`{0}` is not a library but has a publish configuration")]
    PublishOnApp(String),
    /// The repos of the cycle in dependency order, starting with the
    /// smallest name: `[a, b, c]` is `a -> b -> c -> a` (a depends on b).
    #[error("dependency cycle: {}", cycle_text(.0))]
    Cycle(Vec<String>),
    #[error("no version for library `{0}`")]
    MissingVersion(String),
    #[error("a version is given for `{0}`, which is not a library of the train")]
    UnexpectedVersion(String),
}

fn cycle_text(cycle: &[String]) -> String {
    let mut parts: Vec<&str> = cycle.iter().map(String::as_str).collect();
    if let Some(first) = cycle.first() {
        parts.push(first);
    }
    parts.join(" -> ")
}

fn is_library(repo: &TrainRepo) -> bool {
    repo.role == Role::Library
}

/// Repos by name; with duplicates, one of them (validation reports it).
fn by_name(train: &Train) -> BTreeMap<&str, &TrainRepo> {
    train.repos.iter().map(|r| (r.name.as_str(), r)).collect()
}

/// Dependency edges (dependent -> dependency) between known repos: the
/// declared `depends_on` plus the libraries a repo re-pins, since a re-pin
/// to a version needs that version published first.
fn graph<'a>(repos: &BTreeMap<&'a str, &'a TrainRepo>) -> BTreeMap<&'a str, BTreeSet<&'a str>> {
    repos
        .iter()
        .map(|(&name, repo)| {
            let deps = repo
                .depends_on
                .iter()
                .map(String::as_str)
                .chain(repo.repins.iter().map(|p| p.library.as_str()))
                .filter(|d| repos.contains_key(d))
                .collect();
            (name, deps)
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Active,
    Finished,
}

/// The first cycle met by a depth-first walk in name order, rotated to start
/// at its smallest name so it reads the same however it was found.
fn find_cycle(graph: &BTreeMap<&str, BTreeSet<&str>>) -> Option<Vec<String>> {
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        marks: &mut BTreeMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        marks.insert(node, Mark::Active);
        stack.push(node);
        for &next in graph.get(node).into_iter().flatten() {
            match marks.get(next) {
                Some(Mark::Finished) => {}
                Some(Mark::Active) => {
                    let start = stack.iter().position(|&n| n == next).unwrap_or(0);
                    return Some(stack[start..].iter().map(|s| s.to_string()).collect());
                }
                None => {
                    if let Some(cycle) = visit(next, graph, marks, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        marks.insert(node, Mark::Finished);
        None
    }

    let mut marks = BTreeMap::new();
    for &node in graph.keys() {
        if marks.contains_key(node) {
            continue;
        }
        let mut stack = Vec::new();
        if let Some(mut cycle) = visit(node, graph, &mut marks, &mut stack) {
            let smallest = cycle
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.cmp(b.1))
                .map_or(0, |(i, _)| i);
            cycle.rotate_left(smallest);
            return Some(cycle);
        }
    }
    None
}

/// Every reason the train cannot be planned, sorted (so the result does not
/// depend on the order of `train.repos`) and without repeats.
pub fn validate(train: &Train, versions: &BTreeMap<String, String>) -> Vec<PlanError> {
    let mut errors = Vec::new();
    let repos = by_name(train);

    let mut seen = BTreeSet::new();
    for repo in &train.repos {
        if !seen.insert(repo.name.as_str()) {
            errors.push(PlanError::DuplicateRepo(repo.name.clone()));
        }
    }
    let duplicates = !errors.is_empty();

    let hubs: BTreeSet<&str> = train
        .repos
        .iter()
        .filter(|r| r.role == Role::Hub)
        .map(|r| r.name.as_str())
        .collect();
    if hubs.len() > 1 {
        errors.push(PlanError::SeveralHubs(
            hubs.iter().map(|h| h.to_string()).collect(),
        ));
    }

    for repo in &train.repos {
        let name = &repo.name;
        match (is_library(repo), repo.publish.is_some()) {
            (true, false) => errors.push(PlanError::NoPublish(name.clone())),
            (false, true) => errors.push(PlanError::PublishOnApp(name.clone())),
            _ => {}
        }
        if is_library(repo) && versions.get(name).is_none_or(|v| v.trim().is_empty()) {
            errors.push(PlanError::MissingVersion(name.clone()));
        }
        for dep in &repo.depends_on {
            let Some(target) = repos.get(dep.as_str()) else {
                errors.push(PlanError::UnknownDependency {
                    repo: name.clone(),
                    dependency: dep.clone(),
                });
                continue;
            };
            if is_library(repo) && !is_library(target) {
                errors.push(PlanError::LibraryDependsOnApp {
                    library: name.clone(),
                    app: dep.clone(),
                });
            }
            if repo.role == Role::Hub && target.role == Role::Satellite {
                errors.push(PlanError::HubDependsOnSatellite {
                    hub: name.clone(),
                    satellite: dep.clone(),
                });
            }
        }
        for repin in &repo.repins {
            if !repos
                .get(repin.library.as_str())
                .is_some_and(|t| is_library(t))
            {
                errors.push(PlanError::RepinNotLibrary {
                    repo: name.clone(),
                    library: repin.library.clone(),
                });
            }
        }
    }

    for name in versions.keys() {
        if !repos.get(name.as_str()).is_some_and(|r| is_library(r)) {
            errors.push(PlanError::UnexpectedVersion(name.clone()));
        }
    }

    // With a name listed twice the graph is ambiguous: fix that first.
    if !duplicates && let Some(cycle) = find_cycle(&graph(&repos)) {
        errors.push(PlanError::Cycle(cycle));
    }

    errors.sort();
    errors.dedup();
    errors
}

/// Depth of each repo among repos of its own kind (libraries among
/// libraries, apps among apps): 0 without such dependencies, else one more
/// than its deepest one. Edges from apps to libraries do not count, since
/// every library is published before any app moves. The graph is acyclic.
fn depths<'a>(
    repos: &BTreeMap<&'a str, &'a TrainRepo>,
    graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
) -> BTreeMap<&'a str, usize> {
    fn depth<'a>(
        node: &'a str,
        repos: &BTreeMap<&'a str, &'a TrainRepo>,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        memo: &mut BTreeMap<&'a str, usize>,
    ) -> usize {
        if let Some(&d) = memo.get(node) {
            return d;
        }
        let library = repos.get(node).is_some_and(|r| is_library(r));
        let mut d = 0;
        for &dep in graph.get(node).into_iter().flatten() {
            if repos.get(dep).is_some_and(|r| is_library(r)) == library {
                d = d.max(depth(dep, repos, graph, memo) + 1);
            }
        }
        memo.insert(node, d);
        d
    }
    let mut memo = BTreeMap::new();
    for &node in repos.keys() {
        depth(node, repos, graph, &mut memo);
    }
    memo
}

/// The steps of a train, in the order they run (see the module docs).
/// `versions` holds the version each library publishes.
pub fn plan(train: &Train, versions: &BTreeMap<String, String>) -> Result<Vec<Step>, PlanError> {
    if let Some(error) = validate(train, versions).into_iter().next() {
        return Err(error);
    }
    let repos = by_name(train);
    let graph = graph(&repos);
    let depth = depths(&repos, &graph);
    let key = |r: &&TrainRepo| {
        (
            depth.get(r.name.as_str()).copied().unwrap_or(0),
            r.name.clone(),
        )
    };

    let mut libraries: Vec<&TrainRepo> =
        repos.values().copied().filter(|r| is_library(r)).collect();
    libraries.sort_by_key(key);
    let mut apps: Vec<&TrainRepo> = repos.values().copied().filter(|r| !is_library(r)).collect();
    apps.sort_by_key(key);

    let mut steps = Vec::new();

    // Phase 1: libraries, one layer at a time.
    for layer in libraries.chunk_by(|a, b| key(a).0 == key(b).0) {
        prepare_steps(layer, &mut steps);
        for lib in layer {
            let version = versions
                .get(&lib.name)
                .ok_or_else(|| PlanError::MissingVersion(lib.name.clone()))?;
            steps.push(Step::Publish {
                repo: lib.name.clone(),
                version: version.clone(),
            });
        }
    }

    // Phase 2: apps, once every library is live.
    prepare_steps(&apps, &mut steps);

    // Phase 3: deploys, once every test passed; the hub first.
    let deploys = apps
        .iter()
        .filter(|r| r.role == Role::Hub)
        .chain(apps.iter().filter(|r| r.role == Role::Satellite))
        .chain(libraries.iter());
    for repo in deploys {
        if !matches!(repo.deploy, Deploy::None) {
            steps.push(Step::Deploy {
                repo: repo.name.clone(),
            });
        }
    }

    // Phase 4: git is told what shipped, every repo, once all shipped.
    if train.git.enabled {
        for repo in libraries.iter().chain(apps.iter()) {
            steps.push(Step::Record {
                repo: repo.name.clone(),
            });
        }
    }

    steps.push(Step::Flip);
    Ok(steps)
}

/// Re-pins, then lock refreshes, then tests, each across all `repos` before
/// the next (so a failure leaves every repo at the same stage). A lock is
/// refreshed only after a re-pin: that is what changes it.
fn prepare_steps(repos: &[&TrainRepo], steps: &mut Vec<Step>) {
    let repinned = || repos.iter().filter(|r| !r.repins.is_empty());
    steps.extend(repinned().map(|r| Step::Repin {
        repo: r.name.clone(),
    }));
    steps.extend(
        repinned()
            .filter(|r| r.lock_refresh.is_some())
            .map(|r| Step::LockRefresh {
                repo: r.name.clone(),
            }),
    );
    steps.extend(
        repos
            .iter()
            .filter(|r| r.test.is_some())
            .map(|r| Step::Test {
                repo: r.name.clone(),
            }),
    );
}

// ---------------------------------------------------------------------------
// Probes and idempotency
// ---------------------------------------------------------------------------

/// What a probe answered. A probe that failed to answer (crashed, timed
/// out, exited with an unexpected status) is `Unknown`, never `NotDone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Probe {
    Done,
    NotDone,
    Unknown(String),
}

/// What the CLI observed before deciding a step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Observed {
    /// Steps this train journaled as done.
    pub done_in_journal: BTreeSet<Step>,
    /// Probe answers per step: `is_published` for a publish, "re-pin already
    /// applied", "remote branch already at the frozen commit", ... A step
    /// without an entry had no probe to run.
    pub probes: BTreeMap<Step, Probe>,
    /// Per library, whether the version to publish is yanked; an entry only
    /// where the library has an `is_yanked` probe.
    pub yanked: BTreeMap<String, Probe>,
    /// Publish steps whose live version this train may count as its own:
    /// an earlier attempt of this train's journal, or accepted by the
    /// release manager (`--accept-live`, journaled).
    #[serde(default)]
    pub vouched: BTreeSet<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Do not run it; why.
    Skip(String),
    Run,
    /// Stop the train; why.
    Abort(String),
}

/// The reason a step is skipped when this train journaled it.
pub const DONE_BY_THIS_TRAIN: &str = "done by this train";

/// Whether to run `step`, in this order of rules:
///
/// 1. journaled done by this train: skip ([`DONE_BY_THIS_TRAIN`]);
/// 2. a publish whose version is yanked: abort (bump and re-prepare); yank
///    status unknown: abort (never publish on a guess);
/// 3. probe `Done`: skip, saying it was done outside this train's journal
///    ("already live (not published by this train)") so the two cases stay
///    apart; but a publish only when the live version is vouched for (this
///    train's earlier attempt, or accepted): a version someone else put
///    there may hold other content, so the train stops;
/// 4. probe `NotDone`: run;
/// 5. probe `Unknown`: run if the step is idempotent
///    ([`Step::is_idempotent`]: re-pin, lock refresh, test, flip); abort
///    for a publish (it could publish twice, and skipping could hide a
///    missing release) and a deploy (not assumed safe to repeat);
/// 6. no probe: a publish aborts (`is_published` is mandatory, so a missing
///    answer is a caller bug, not a "no"); any other step runs (its adapter
///    offers no probe, so re-running is its contract).
pub fn decide(step: &Step, observed: &Observed) -> Decision {
    if observed.done_in_journal.contains(step) {
        return Decision::Skip(DONE_BY_THIS_TRAIN.to_string());
    }
    if let Step::Publish { repo, version } = step {
        match observed.yanked.get(repo) {
            Some(Probe::Done) => {
                return Decision::Abort(format!(
                    "version {version} of {repo} is yanked: bump the version and re-run prepare"
                ));
            }
            Some(Probe::Unknown(why)) => {
                return Decision::Abort(format!(
                    "cannot tell whether version {version} of {repo} is yanked ({why}): \
                     not publishing on a guess; re-run `ship resume` once the probe answers"
                ));
            }
            Some(Probe::NotDone) | None => {}
        }
    }
    match observed.probes.get(step) {
        Some(Probe::Done) => match step {
            Step::Publish { repo, version } if !observed.vouched.contains(step) => {
                Decision::Abort(foreign_live(repo, version))
            }
            _ => Decision::Skip(done_elsewhere(step)),
        },
        Some(Probe::NotDone) => Decision::Run,
        Some(Probe::Unknown(why)) => unknown(step, why),
        None if matches!(step, Step::Publish { .. }) => unknown(step, "no is_published answer"),
        None => Decision::Run,
    }
}

/// Why a version live before this train published it stops the train.
pub fn foreign_live(repo: &str, version: &str) -> String {
    format!(
        "version {version} of {repo} is already live, but this train did not publish it \
         (its content may not be this train's): bump the version and re-run prepare, or, \
         once you have checked it is this release, accept it with \
         `ship run --accept-live {repo}@{version}`"
    )
}

fn done_elsewhere(step: &Step) -> String {
    match step {
        Step::Publish { .. } => "already live (not published by this train)".into(),
        Step::Deploy { .. } => "already live (not deployed by this train)".into(),
        Step::Repin { .. } => "re-pin already applied (not journaled by this train)".into(),
        Step::LockRefresh { .. } => "lock already refreshed (not journaled by this train)".into(),
        Step::Test { .. } => {
            "tests already passed on this commit (not journaled by this train)".into()
        }
        Step::Record { .. } => "git already records it (not journaled by this train)".into(),
        Step::Flip => "release record already shipped (not journaled by this train)".into(),
    }
}

fn unknown(step: &Step, why: &str) -> Decision {
    if step.is_idempotent() {
        return Decision::Run;
    }
    Decision::Abort(match step {
        Step::Publish { repo, version } => format!(
            "cannot tell whether version {version} of {repo} is live ({why}): not publishing \
             (it could publish twice) nor skipping (it could hide a missing release); \
             re-run `ship resume` once the probe answers"
        ),
        _ => format!(
            "cannot tell whether `{step}` already took effect ({why}): it is not assumed safe \
             to repeat; check by hand, then re-run `ship resume`"
        ),
    })
}

// ---------------------------------------------------------------------------
// Preflight
// ---------------------------------------------------------------------------

/// What the CLI checked about one repo before anything moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RepoFacts {
    /// No uncommitted changes.
    pub clean: bool,
    /// HEAD of the release branch is the commit frozen at prepare time.
    pub at_frozen: bool,
    /// The frozen commit is still reachable from the release branch.
    pub frozen_reachable: bool,
    /// The deploy script (or the git-push smoke command) exists; `None`:
    /// not checked.
    pub deploy_command_exists: Option<bool>,
    /// The git-push remote answers; `None`: not checked.
    pub remote_reachable: Option<bool>,
    /// Per re-pin glob: whether it matches a branch reference to replace.
    pub repin_matches: Vec<(String, bool)>,
    /// For a library: whether the version to publish is yanked; `None`:
    /// not checked.
    pub yanked: Option<Probe>,
    /// With `[train.git]`: what its remote says; `None`: not checked.
    #[serde(default)]
    pub git: Option<GitFacts>,
    /// Whether each command of the repo's other steps can start (test,
    /// lock refresh, publish and its probes), by [`command_kinds`] kind;
    /// deploy and smoke are `deploy_command_exists`.
    #[serde(default)]
    pub commands: Vec<CommandCheck>,
    /// For a library whose publish this train has not journaled done:
    /// whether its version is live already; `None`: not asked.
    #[serde(default)]
    pub live: Option<Probe>,
    /// That live version is this train's (an earlier attempt of it) or
    /// was accepted by the release manager.
    #[serde(default)]
    pub live_vouched: bool,
}

/// With `[train.git]`: what the repo's remote says about telling git what
/// ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GitFacts {
    pub remote_reachable: bool,
    /// The remote's main branch is an ancestor of what ships (or does not
    /// exist yet); `None`: could not be told.
    pub main_fast_forward: Option<bool>,
    /// The tag this train gives the repo, and where it is now.
    pub tag_name: String,
    pub tag: TagState,
}

/// Where a tag this train would make stands on the remote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TagState {
    Free,
    /// At the commit this train ships (made by an earlier attempt).
    AtShipped,
    /// At another commit: this train would have to move it.
    Elsewhere(String),
    Unknown(String),
}

/// Whether one configured command can start here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CommandCheck {
    /// `test`, `lock refresh`, `publish`, `is-published probe`,
    /// `is-yanked probe`.
    pub kind: String,
    pub found: bool,
}

/// The commands of a repo's steps other than deploy and smoke, by kind,
/// in the order the train runs them: each must be able to start before
/// anything moves.
pub fn command_kinds(repo: &TrainRepo) -> Vec<(&'static str, &Command)> {
    let mut kinds = Vec::new();
    if let Some(test) = &repo.test {
        kinds.push(("test", test));
    }
    if let Some(refresh) = &repo.lock_refresh {
        kinds.push(("lock refresh", refresh));
    }
    if let Some(publish) = &repo.publish {
        kinds.push(("is-published probe", &publish.is_published));
        if let Some(yanked) = &publish.is_yanked {
            kinds.push(("is-yanked probe", yanked));
        }
        kinds.push(("publish", &publish.command));
    }
    kinds
}

/// Everything preflight judges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Facts {
    /// The versions the libraries publish (as given to [`plan`]).
    pub versions: BTreeMap<String, String>,
    pub repos: BTreeMap<String, RepoFacts>,
    /// With `[train.github]`: whether its token variable is set.
    #[serde(default)]
    pub github_token_set: Option<bool>,
}

/// Collects reasons, each about one repo.
struct Preflight {
    problems: Vec<String>,
}

impl Preflight {
    fn add(&mut self, repo: &str, what: impl fmt::Display) {
        self.problems.push(format!("{repo}: {what}"));
    }
}

/// Why git could not be told what a repo ships, if so.
fn git_reasons(pre: &mut Preflight, name: &str, record: &GitRecord, facts: Option<&GitFacts>) {
    let (remote, main) = (&record.remote, &record.main_branch);
    let Some(g) = facts else {
        pre.add(name, "whether git can be told what ships was not checked");
        return;
    };
    if !g.remote_reachable {
        pre.add(
            name,
            format_args!(
                "remote `{remote}` is not reachable: the release branch, `{main}` and the tag could not be pushed ([train.git])"
            ),
        );
        return;
    }
    match g.main_fast_forward {
        Some(true) => {}
        Some(false) => pre.add(
            name,
            format_args!(
                "`{main}` on `{remote}` has commits the release branch does not: it cannot be fast-forwarded to what ships (merge `{main}` into the release branch, then prepare again)"
            ),
        ),
        None => pre.add(
            name,
            format_args!("cannot tell whether `{main}` on `{remote}` can be fast-forwarded"),
        ),
    }
    match &g.tag {
        TagState::Free | TagState::AtShipped => {}
        TagState::Elsewhere(commit) => pre.add(
            name,
            format_args!(
                "tag `{}` exists on `{remote}` at another commit ({}): delete it or change [train.git] tag",
                g.tag_name,
                commit.get(..12).unwrap_or(commit)
            ),
        ),
        TagState::Unknown(why) => pre.add(
            name,
            format_args!("cannot tell where tag `{}` stands: {why}", g.tag_name),
        ),
    }
}

/// The first word of a command, to name it in a reason.
fn command_name(argv: &[String]) -> &str {
    argv.first().map_or("(empty command)", String::as_str)
}

/// The checkout: clean, at its frozen commit, which is still reachable.
fn checkout_reasons(pre: &mut Preflight, repo: &TrainRepo, f: &RepoFacts) {
    let name = repo.name.as_str();
    if !f.clean {
        pre.add(
            name,
            "working tree is not clean (commit or stash the changes)",
        );
    }
    if !f.at_frozen {
        pre.add(
            name,
            format_args!("`{}` is not at the frozen commit", repo.release_branch),
        );
    }
    if !f.frozen_reachable {
        pre.add(
            name,
            format_args!(
                "the frozen commit is not reachable from `{}` (was it rewritten?)",
                repo.release_branch
            ),
        );
    }
}

/// The deploy's own command (or the git-push smoke check), if it has one.
fn deploy_command_reasons(pre: &mut Preflight, repo: &TrainRepo, f: &RepoFacts) {
    let name = repo.name.as_str();
    let command = match &repo.deploy {
        Deploy::Script { command } => Some(("deploy", command)),
        Deploy::GitPush {
            smoke: Some(command),
            ..
        } => Some(("smoke", command)),
        _ => None,
    };
    match (command, f.deploy_command_exists) {
        (Some((kind, c)), Some(false)) => pre.add(
            name,
            format_args!("{kind} command `{}` not found", command_name(&c.argv)),
        ),
        (None, Some(false)) => pre.add(name, "deploy command not found"),
        (Some((kind, c)), None) => pre.add(
            name,
            format_args!(
                "whether {kind} command `{}` exists was not checked",
                command_name(&c.argv)
            ),
        ),
        _ => {}
    }
}

/// Every other step's command ([`command_kinds`]) can start.
fn step_command_reasons(pre: &mut Preflight, repo: &TrainRepo, f: &RepoFacts) {
    let name = repo.name.as_str();
    for (kind, command) in command_kinds(repo) {
        match f.commands.iter().find(|c| c.kind == kind) {
            Some(CommandCheck { found: true, .. }) => {}
            Some(_) => pre.add(
                name,
                format_args!("{kind} command `{}` not found", command_name(&command.argv)),
            ),
            None => pre.add(
                name,
                format_args!(
                    "whether {kind} command `{}` can start was not checked",
                    command_name(&command.argv)
                ),
            ),
        }
    }
}

/// The git-push deploy's remote answers.
fn remote_reasons(pre: &mut Preflight, repo: &TrainRepo, f: &RepoFacts) {
    let name = repo.name.as_str();
    let remote = match &repo.deploy {
        Deploy::GitPush { remote, .. } => Some(remote.as_str()),
        _ => None,
    };
    match (remote, f.remote_reachable) {
        (Some(remote), Some(false)) => {
            pre.add(name, format_args!("remote `{remote}` is not reachable"))
        }
        (None, Some(false)) => pre.add(name, "the remote is not reachable"),
        (Some(remote), None) => pre.add(
            name,
            format_args!("whether remote `{remote}` is reachable was not checked"),
        ),
        _ => {}
    }
}

/// Every re-pin rule was checked and has something to replace.
fn repin_reasons(pre: &mut Preflight, repo: &TrainRepo, f: &RepoFacts) {
    let name = repo.name.as_str();
    for repin in &repo.repins {
        let checked = f.repin_matches.iter().any(|(glob, _)| *glob == repin.glob);
        if !checked {
            pre.add(
                name,
                format_args!(
                    "re-pin of `{}` in `{}` was not checked",
                    repin.library, repin.glob
                ),
            );
        }
    }
    for (glob, matched) in &f.repin_matches {
        if !matched {
            pre.add(
                name,
                format_args!("re-pin glob `{glob}` matches no branch reference to replace"),
            );
        }
    }
}

/// A library's version to publish is not yanked (and that was asked).
fn yank_reasons(pre: &mut Preflight, repo: &TrainRepo, f: &RepoFacts, version: &str) {
    let name = repo.name.as_str();
    let probed = repo.publish.as_ref().is_some_and(|p| p.is_yanked.is_some());
    match &f.yanked {
        Some(Probe::Done) => pre.add(
            name,
            format_args!("version {version} is yanked: bump the version and re-run prepare"),
        ),
        Some(Probe::Unknown(why)) => pre.add(
            name,
            format_args!("cannot tell whether version {version} is yanked ({why})"),
        ),
        None if is_library(repo) && probed => pre.add(
            name,
            format_args!("whether version {version} is yanked was not checked"),
        ),
        _ => {}
    }
}

/// `Ok` when the train may start; else every reason it may not, all at once
/// (train order, one reason per failing fact). A fact that was needed but
/// not gathered is a reason too: nothing is assumed fine.
pub fn preflight(train: &Train, facts: &Facts) -> Result<(), Vec<String>> {
    let mut pre = Preflight {
        problems: validate(train, &facts.versions)
            .iter()
            .map(|e| format!("train: {e}"))
            .collect(),
    };

    if let Some(github) = &train.github
        && facts.github_token_set != Some(true)
    {
        pre.problems.push(format!(
            "train: {} is not set: the GitHub releases ([train.github]) could not be made (it is read from the environment only)",
            github.token_env
        ));
    }
    for repo in &train.repos {
        let name = repo.name.as_str();
        let Some(f) = facts.repos.get(name) else {
            pre.add(name, "no facts were gathered for this repo");
            continue;
        };
        let version = facts.versions.get(name).map_or("?", String::as_str);
        checkout_reasons(&mut pre, repo, f);
        deploy_command_reasons(&mut pre, repo, f);
        if train.git.enabled {
            git_reasons(&mut pre, name, &train.git, f.git.as_ref());
        }
        if f.live == Some(Probe::Done) && !f.live_vouched {
            pre.add(name, foreign_live(name, version));
        }
        step_command_reasons(&mut pre, repo, f);
        remote_reasons(&mut pre, repo, f);
        repin_reasons(&mut pre, repo, f);
        yank_reasons(&mut pre, repo, f, version);
    }

    let known: BTreeSet<&str> = train.repos.iter().map(|r| r.name.as_str()).collect();
    for name in facts.repos.keys() {
        if !known.contains(name.as_str()) {
            pre.add(
                name,
                "facts were gathered for a repo that is not in the train",
            );
        }
    }

    if pre.problems.is_empty() {
        Ok(())
    } else {
        Err(pre.problems)
    }
}

// ---------------------------------------------------------------------------
// Report after a stop
// ---------------------------------------------------------------------------

/// How a step failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Failure {
    /// The command as run (for the user to retry by hand).
    pub command: String,
    /// Exit status; `None` when killed or timed out.
    pub exit: Option<i32>,
    /// The last lines of its output.
    pub tail: Vec<String>,
    /// The outcome could not be observed (the step may or may not have
    /// taken effect).
    pub unobserved: bool,
    /// The command could not be started at all (not found, not
    /// executable): it did nothing; `tail` says why.
    #[serde(default)]
    pub not_started: bool,
}

/// At most this many output lines are kept in a report.
pub const TAIL_LINES: usize = 20;

/// What is live for one repo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RepoLive {
    pub repo: String,
    /// The version this train published.
    pub published: Option<String>,
    pub repinned: bool,
    pub lock_refreshed: bool,
    pub tested: bool,
    pub deployed: bool,
}

impl RepoLive {
    fn anything(&self) -> bool {
        self.published.is_some()
            || self.repinned
            || self.lock_refreshed
            || self.tested
            || self.deployed
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FailedStep {
    pub step: Step,
    pub failure: Failure,
}

/// What the user reads after the train stops (or finishes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    /// Per repo, in train order.
    pub live: Vec<RepoLive>,
    pub failed: Option<FailedStep>,
    /// Planned steps neither done nor failed, in plan order.
    pub remaining: Vec<Step>,
    /// The release record is flipped.
    pub shipped: bool,
    /// The exact command that resumes the train.
    pub resume: String,
}

/// Quotes `s` for a POSIX shell when it needs it.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The command that resumes a train configured in `config_path`.
pub fn resume_command(config_path: &str) -> String {
    format!("concord --config {} ship resume", shell_quote(config_path))
}

/// Builds the report of a train that ran `plan`, completed `done`, and
/// stopped at `failed` (if it failed).
pub fn report(
    train: &Train,
    plan: &[Step],
    done: &BTreeSet<Step>,
    failed: Option<(&Step, Failure)>,
    config_path: &str,
) -> Report {
    let mut seen = BTreeSet::new();
    let live = train
        .repos
        .iter()
        .filter(|r| seen.insert(r.name.as_str()))
        .map(|r| {
            let repo = r.name.clone();
            let has = |step: Step| done.contains(&step);
            RepoLive {
                published: done.iter().find_map(|s| match s {
                    Step::Publish { repo: p, version } if *p == repo => Some(version.clone()),
                    _ => None,
                }),
                repinned: has(Step::Repin { repo: repo.clone() }),
                lock_refreshed: has(Step::LockRefresh { repo: repo.clone() }),
                tested: has(Step::Test { repo: repo.clone() }),
                deployed: has(Step::Deploy { repo: repo.clone() }),
                repo,
            }
        })
        .collect();
    let failed = failed.map(|(step, mut failure)| {
        let extra = failure.tail.len().saturating_sub(TAIL_LINES);
        failure.tail.drain(..extra);
        FailedStep {
            step: step.clone(),
            failure,
        }
    });
    let remaining = plan
        .iter()
        .filter(|s| !done.contains(s) && failed.as_ref().is_none_or(|f| f.step != **s))
        .cloned()
        .collect();
    Report {
        live,
        failed,
        remaining,
        shipped: done.contains(&Step::Flip),
        resume: resume_command(config_path),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(FailedStep { step, failure }) = &self.failed {
            writeln!(f, "release train stopped at: {step}")?;
            writeln!(f, "  command: {}", failure.command)?;
            if failure.unobserved {
                writeln!(
                    f,
                    "  outcome: could not be observed (it may or may not have taken effect; \
                     resuming probes it first)"
                )?;
            } else {
                match failure.exit {
                    Some(code) => writeln!(f, "  exit status: {code}")?,
                    None if failure.not_started => {
                        writeln!(f, "  exit status: none: the command could not be started")?
                    }
                    None => writeln!(f, "  exit status: none (killed or timed out)")?,
                }
            }
            if !failure.tail.is_empty() {
                writeln!(f, "  last lines of output:")?;
                for line in &failure.tail {
                    writeln!(f, "    | {line}")?;
                }
            }
        } else if self.shipped && self.remaining.is_empty() {
            writeln!(f, "release train shipped")?;
        } else {
            writeln!(f, "release train stopped")?;
        }

        let live: Vec<&RepoLive> = self.live.iter().filter(|r| r.anything()).collect();
        if live.is_empty() {
            writeln!(f, "already live: nothing")?;
        } else {
            writeln!(f, "already live:")?;
            for r in live {
                let mut parts = Vec::new();
                if let Some(v) = &r.published {
                    parts.push(format!("published {v}"));
                }
                for (flag, word) in [
                    (r.repinned, "re-pinned"),
                    (r.lock_refreshed, "lock refreshed"),
                    (r.tested, "tested"),
                    (r.deployed, "deployed"),
                ] {
                    if flag {
                        parts.push(word.to_string());
                    }
                }
                writeln!(f, "  {}: {}", r.repo, parts.join(", "))?;
            }
        }
        if self.shipped {
            writeln!(f, "  release record: shipped")?;
        }

        if !self.remaining.is_empty() {
            writeln!(f, "still to do:")?;
            for step in &self.remaining {
                writeln!(f, "  {step}")?;
            }
        }
        if self.failed.is_some() || !self.remaining.is_empty() {
            writeln!(f, "resume with:")?;
            writeln!(f, "  {}", self.resume)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------

/// How long to wait after the `attempt`-th try failed (1 for the first)
/// before trying again, or `None` when the `retry.attempts` tries (the first
/// one included; at least one) are used up. Doubles from `first_delay`,
/// capped at `max_delay`. `attempt` 0 (nothing tried yet) waits nothing.
pub fn next_delay(retry: &Retry, attempt: u32) -> Option<Duration> {
    if attempt >= retry.attempts.max(1) {
        return None;
    }
    if attempt == 0 {
        return Some(Duration::ZERO);
    }
    // Overflow of the factor or of the product means "way past the cap".
    let delay = 1u32
        .checked_shl(attempt - 1)
        .and_then(|factor| retry.first_delay.checked_mul(factor))
        .unwrap_or(retry.max_delay);
    Some(delay.min(retry.max_delay))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Publish, Repin};

    fn cmd(line: &str) -> Command {
        Command {
            argv: line.split_whitespace().map(String::from).collect(),
            shell: false,
            timeout: Duration::from_secs(60),
        }
    }

    fn publish() -> Publish {
        Publish {
            command: cmd("cargo publish"),
            version_file: "Cargo.toml".into(),
            version_regex: r#"version = "(.*)""#.into(),
            is_published: cmd("probe-published {version}"),
            is_yanked: Some(cmd("probe-yanked {version}")),
            digest: None,
            build_digest: None,
        }
    }

    fn repin(library: &str) -> Repin {
        Repin {
            library: library.into(),
            glob: "**/Cargo.toml".into(),
            regex: r#"branch = "main""#.into(),
            replace: r#"version = "{version}""#.into(),
        }
    }

    /// A repo with a test command and no deploy; libraries publish and
    /// re-pin the libraries they depend on.
    fn repo(name: &str, role: Role, deps: &[&str]) -> TrainRepo {
        TrainRepo {
            name: name.into(),
            path: name.into(),
            role,
            release_branch: "release".into(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            test: Some(cmd("make test")),
            publish: (role == Role::Library).then(publish),
            repins: Vec::new(),
            lock_refresh: None,
            deploy: Deploy::None,
        }
    }

    fn script(line: &str) -> Deploy {
        Deploy::Script { command: cmd(line) }
    }

    fn push() -> Deploy {
        Deploy::GitPush {
            remote: "prod".into(),
            branch: "main".into(),
            smoke: Some(cmd("smoke-check")),
        }
    }

    fn train(repos: Vec<TrainRepo>) -> Train {
        Train {
            repos,
            retry: Retry {
                attempts: 5,
                first_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(5),
            },
            git: Default::default(),
            github: None,
        }
    }

    fn versions(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn publish_step(repo: &str, version: &str) -> Step {
        Step::Publish {
            repo: repo.into(),
            version: version.into(),
        }
    }
    fn repin_step(repo: &str) -> Step {
        Step::Repin { repo: repo.into() }
    }
    fn lock_step(repo: &str) -> Step {
        Step::LockRefresh { repo: repo.into() }
    }
    fn test_step(repo: &str) -> Step {
        Step::Test { repo: repo.into() }
    }
    fn deploy_step(repo: &str) -> Step {
        Step::Deploy { repo: repo.into() }
    }

    /// Two libraries (lib-b also deploys its docs), a hub, and two
    /// satellites (sat-w depends on the hub, sat-x only on lib-a).
    fn two_libs_hub_two_sats() -> Train {
        let lib_a = repo("lib-a", Role::Library, &[]);
        let mut lib_b = repo("lib-b", Role::Library, &[]);
        lib_b.deploy = script("./publish-docs.sh");
        let mut hub = repo("hub-app", Role::Hub, &["lib-a", "lib-b"]);
        hub.repins = vec![repin("lib-a"), repin("lib-b")];
        hub.lock_refresh = Some(cmd("cargo update"));
        hub.deploy = push();
        let mut sat_w = repo("sat-w", Role::Satellite, &["lib-b", "hub-app"]);
        sat_w.repins = vec![repin("lib-b")];
        sat_w.test = None;
        sat_w.deploy = script("./deploy.sh");
        let mut sat_x = repo("sat-x", Role::Satellite, &["lib-a"]);
        sat_x.repins = vec![repin("lib-a")];
        sat_x.lock_refresh = Some(cmd("npm install"));
        sat_x.deploy = push();
        train(vec![sat_x, hub, lib_b, sat_w, lib_a])
    }

    fn two_libs_versions() -> BTreeMap<String, String> {
        versions(&[("lib-a", "1.4.2"), ("lib-b", "0.3.0")])
    }

    // ----- plan ----------------------------------------------------------

    #[test]
    fn plan_two_libraries_hub_two_satellites() {
        let steps = plan(&two_libs_hub_two_sats(), &two_libs_versions()).expect("plans");
        assert_eq!(
            steps,
            vec![
                test_step("lib-a"),
                test_step("lib-b"),
                publish_step("lib-a", "1.4.2"),
                publish_step("lib-b", "0.3.0"),
                repin_step("hub-app"),
                repin_step("sat-x"),
                repin_step("sat-w"),
                lock_step("hub-app"),
                lock_step("sat-x"),
                test_step("hub-app"),
                test_step("sat-x"),
                deploy_step("hub-app"),
                deploy_step("sat-x"),
                deploy_step("sat-w"),
                deploy_step("lib-b"),
                Step::Flip,
            ]
        );
    }

    #[test]
    fn plan_chain_of_three_libraries_publishes_in_dependency_order() {
        let lib_a = repo("lib-a", Role::Library, &[]);
        let mut lib_b = repo("lib-b", Role::Library, &["lib-a"]);
        lib_b.repins = vec![repin("lib-a")];
        let mut lib_c = repo("lib-c", Role::Library, &["lib-b"]);
        lib_c.repins = vec![repin("lib-b")];
        lib_c.lock_refresh = Some(cmd("cargo update"));
        let mut app = repo("app", Role::Hub, &["lib-c"]);
        app.repins = vec![repin("lib-c")];
        app.deploy = script("./deploy.sh");
        let t = train(vec![app, lib_c, lib_a, lib_b]);
        let v = versions(&[("lib-a", "1.0.0"), ("lib-b", "2.0.0"), ("lib-c", "3.0.0")]);
        assert_eq!(
            plan(&t, &v).expect("plans"),
            vec![
                test_step("lib-a"),
                publish_step("lib-a", "1.0.0"),
                repin_step("lib-b"),
                test_step("lib-b"),
                publish_step("lib-b", "2.0.0"),
                repin_step("lib-c"),
                lock_step("lib-c"),
                test_step("lib-c"),
                publish_step("lib-c", "3.0.0"),
                repin_step("app"),
                test_step("app"),
                deploy_step("app"),
                Step::Flip,
            ]
        );
    }

    #[test]
    fn plan_repin_implies_a_dependency() {
        // lib-b re-pins lib-a without listing it in depends_on.
        let lib_a = repo("lib-a", Role::Library, &[]);
        let mut lib_b = repo("lib-b", Role::Library, &[]);
        lib_b.repins = vec![repin("lib-a")];
        let t = train(vec![lib_b, lib_a]);
        let v = versions(&[("lib-a", "1"), ("lib-b", "2")]);
        let steps = plan(&t, &v).expect("plans");
        let at = |s: &Step| steps.iter().position(|x| x == s);
        assert!(at(&publish_step("lib-a", "1")) < at(&repin_step("lib-b")));
    }

    #[test]
    fn plan_cycle_of_three_names_the_cycle_in_order() {
        let t = train(vec![
            repo("c", Role::Library, &["a"]),
            repo("b", Role::Library, &["c"]),
            repo("a", Role::Library, &["b"]),
        ]);
        let v = versions(&[("a", "1"), ("b", "1"), ("c", "1")]);
        let err = plan(&t, &v).expect_err("a cycle");
        assert_eq!(
            err,
            PlanError::Cycle(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(err.to_string(), "dependency cycle: a -> b -> c -> a");
    }

    #[test]
    fn plan_cycle_only_reports_the_cycle_members() {
        // d hangs off the cycle; it is not part of it.
        let t = train(vec![
            repo("d", Role::Satellite, &["x"]),
            repo("x", Role::Satellite, &["y"]),
            repo("y", Role::Satellite, &["x"]),
        ]);
        let err = plan(&t, &BTreeMap::new()).expect_err("a cycle");
        assert_eq!(err.to_string(), "dependency cycle: x -> y -> x");
    }

    #[test]
    fn plan_self_dependency_is_a_cycle() {
        let t = train(vec![repo("a", Role::Library, &["a"])]);
        let err = plan(&t, &versions(&[("a", "1")])).expect_err("a cycle");
        assert_eq!(err, PlanError::Cycle(vec!["a".into()]));
        assert_eq!(err.to_string(), "dependency cycle: a -> a");
    }

    #[test]
    fn plan_none_deploy_gets_no_deploy_step() {
        let mut hub = repo("hub", Role::Hub, &[]);
        hub.deploy = Deploy::None;
        let mut sat = repo("sat", Role::Satellite, &[]);
        sat.deploy = script("./deploy.sh");
        let steps = plan(&train(vec![hub, sat]), &BTreeMap::new()).expect("plans");
        assert_eq!(
            steps,
            vec![
                test_step("hub"),
                test_step("sat"),
                deploy_step("sat"),
                Step::Flip
            ]
        );
    }

    #[test]
    fn plan_empty_train_only_flips() {
        assert_eq!(
            plan(&train(Vec::new()), &BTreeMap::new()),
            Ok(vec![Step::Flip])
        );
    }

    #[test]
    fn plan_lock_refresh_only_after_a_repin() {
        let mut app = repo("app", Role::Hub, &[]);
        app.lock_refresh = Some(cmd("cargo update"));
        let steps = plan(&train(vec![app]), &BTreeMap::new()).expect("plans");
        assert_eq!(steps, vec![test_step("app"), Step::Flip]);
    }

    #[test]
    fn plan_unknown_dependency_is_an_error() {
        let t = train(vec![repo("app", Role::Hub, &["ghost"])]);
        assert_eq!(
            plan(&t, &BTreeMap::new()),
            Err(PlanError::UnknownDependency {
                repo: "app".into(),
                dependency: "ghost".into()
            })
        );
    }

    #[test]
    fn plan_repo_listed_twice_is_an_error() {
        let t = train(vec![
            repo("app", Role::Hub, &[]),
            repo("app", Role::Satellite, &[]),
        ]);
        assert_eq!(
            plan(&t, &BTreeMap::new()),
            Err(PlanError::DuplicateRepo("app".into()))
        );
    }

    #[test]
    fn plan_library_without_version_is_an_error() {
        let t = train(vec![
            repo("lib-a", Role::Library, &[]),
            repo("lib-b", Role::Library, &[]),
        ]);
        let err = plan(&t, &versions(&[("lib-a", "1"), ("lib-b", " ")])).expect_err("no version");
        assert_eq!(err, PlanError::MissingVersion("lib-b".into()));
        assert_eq!(err.to_string(), "no version for library `lib-b`");
    }

    #[test]
    fn plan_version_for_a_non_library_is_an_error() {
        let t = train(vec![repo("app", Role::Hub, &[])]);
        assert_eq!(
            plan(&t, &versions(&[("app", "1")])),
            Err(PlanError::UnexpectedVersion("app".into()))
        );
    }

    #[test]
    fn plan_role_errors() {
        let lib = repo("lib", Role::Library, &["sat"]);
        let hub = repo("hub", Role::Hub, &["sat"]);
        let sat = repo("sat", Role::Satellite, &[]);
        let errors = validate(&train(vec![lib, hub, sat]), &versions(&[("lib", "1")]));
        assert_eq!(
            errors,
            vec![
                PlanError::LibraryDependsOnApp {
                    library: "lib".into(),
                    app: "sat".into()
                },
                PlanError::HubDependsOnSatellite {
                    hub: "hub".into(),
                    satellite: "sat".into()
                },
            ]
        );
    }

    #[test]
    fn plan_several_hubs_and_publish_mismatches_are_errors() {
        let mut lib = repo("lib", Role::Library, &[]);
        lib.publish = None;
        let mut h1 = repo("h1", Role::Hub, &[]);
        h1.publish = Some(publish());
        let h2 = repo("h2", Role::Hub, &[]);
        let mut sat = repo("sat", Role::Satellite, &[]);
        sat.repins = vec![repin("h2")];
        let errors = validate(&train(vec![h2, lib, sat, h1]), &versions(&[("lib", "1")]));
        assert_eq!(
            errors,
            vec![
                PlanError::RepinNotLibrary {
                    repo: "sat".into(),
                    library: "h2".into()
                },
                PlanError::SeveralHubs(vec!["h1".into(), "h2".into()]),
                PlanError::NoPublish("lib".into()),
                PlanError::PublishOnApp("h1".into()),
            ]
        );
    }

    #[test]
    fn validate_collects_every_problem_in_a_stable_order() {
        let t = train(vec![
            repo("app", Role::Hub, &["ghost"]),
            repo("lib", Role::Library, &[]),
            repo("app", Role::Hub, &[]),
        ]);
        let errors = validate(&t, &versions(&[("stray", "1")]));
        assert_eq!(
            errors,
            vec![
                PlanError::DuplicateRepo("app".into()),
                PlanError::UnknownDependency {
                    repo: "app".into(),
                    dependency: "ghost".into()
                },
                PlanError::MissingVersion("lib".into()),
                PlanError::UnexpectedVersion("stray".into()),
            ]
        );
    }

    #[test]
    fn step_display() {
        let shown: Vec<String> = [
            publish_step("lib-a", "1.4.2"),
            repin_step("app"),
            lock_step("app"),
            test_step("app"),
            deploy_step("hub-app"),
            Step::Flip,
        ]
        .iter()
        .map(Step::to_string)
        .collect();
        assert_eq!(
            shown,
            [
                "publish lib-a 1.4.2",
                "re-pin app",
                "refresh lock app",
                "test app",
                "deploy hub-app",
                "flip release record"
            ]
        );
    }

    #[test]
    fn step_json_round_trips() {
        let steps = plan(&two_libs_hub_two_sats(), &two_libs_versions()).expect("plans");
        let json = serde_json::to_string(&steps).expect("serializes");
        assert!(json.contains(r#"{"step":"publish","repo":"lib-a","version":"1.4.2"}"#));
        assert!(json.contains(r#"{"step":"lock-refresh","repo":"hub-app"}"#));
        assert!(json.contains(r#"{"step":"flip"}"#));
        let back: Vec<Step> = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, steps);
    }

    // ----- decide --------------------------------------------------------

    fn observed(journal: &[Step], probes: &[(Step, Probe)], yanked: &[(&str, Probe)]) -> Observed {
        Observed {
            done_in_journal: journal.iter().cloned().collect(),
            probes: probes.iter().cloned().collect(),
            yanked: yanked
                .iter()
                .map(|(r, p)| (r.to_string(), p.clone()))
                .collect(),
            vouched: BTreeSet::new(),
        }
    }

    fn unknown_probe() -> Probe {
        Probe::Unknown("registry answered 503".into())
    }

    fn all_step_kinds() -> Vec<Step> {
        vec![
            publish_step("lib", "1.0.0"),
            repin_step("app"),
            lock_step("app"),
            test_step("app"),
            deploy_step("app"),
            Step::Flip,
        ]
    }

    #[test]
    fn decide_journaled_done_skips_whatever_the_probes_say() {
        for step in all_step_kinds() {
            for probe in [Probe::Done, Probe::NotDone, unknown_probe()] {
                let obs = observed(
                    std::slice::from_ref(&step),
                    &[(step.clone(), probe.clone())],
                    &[("lib", probe.clone())],
                );
                assert_eq!(
                    decide(&step, &obs),
                    Decision::Skip(DONE_BY_THIS_TRAIN.into()),
                    "{step} with {probe:?}"
                );
            }
        }
    }

    #[test]
    fn decide_yanked_publish_aborts() {
        let step = publish_step("lib", "1.0.0");
        for probe in [Probe::Done, Probe::NotDone, unknown_probe()] {
            let obs = observed(&[], &[(step.clone(), probe)], &[("lib", Probe::Done)]);
            assert_eq!(
                decide(&step, &obs),
                Decision::Abort(
                    "version 1.0.0 of lib is yanked: bump the version and re-run prepare".into()
                )
            );
        }
    }

    #[test]
    fn decide_unknown_yank_aborts_with_the_probe_message() {
        let step = publish_step("lib", "1.0.0");
        let obs = observed(
            &[],
            &[(step.clone(), Probe::NotDone)],
            &[("lib", unknown_probe())],
        );
        match decide(&step, &obs) {
            Decision::Abort(why) => {
                assert!(why.contains("cannot tell whether version 1.0.0 of lib is yanked"));
                assert!(why.contains("registry answered 503"));
            }
            other => panic!("expected an abort, got {other:?}"),
        }
    }

    #[test]
    fn decide_a_version_published_outside_the_train_stops_it_unless_vouched_for() {
        let step = publish_step("lib", "1.0.0");
        for yank in [None, Some(Probe::NotDone)] {
            let yanked: Vec<(&str, Probe)> = yank.into_iter().map(|p| ("lib", p)).collect();
            let mut obs = observed(&[], &[(step.clone(), Probe::Done)], &yanked);
            match decide(&step, &obs) {
                Decision::Abort(why) => {
                    assert!(why.contains("already live, but this train did not publish it"));
                    assert!(why.contains("--accept-live lib@1.0.0"), "{why}");
                }
                other => panic!("expected an abort, got {other:?}"),
            }
            obs.vouched.insert(step.clone());
            let decision = decide(&step, &obs);
            assert_eq!(
                decision,
                Decision::Skip("already live (not published by this train)".into())
            );
            assert_ne!(decision, Decision::Skip(DONE_BY_THIS_TRAIN.into()));
        }
    }

    #[test]
    fn plan_with_git_records_every_repo_after_the_deploys_before_the_flip() {
        let mut t = two_libs_hub_two_sats();
        t.git.enabled = true;
        let steps = plan(&t, &two_libs_versions()).expect("plans");
        let records: Vec<usize> = steps
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Step::Record { .. }))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(records.len(), t.repos.len(), "{steps:?}");
        let last_deploy = steps
            .iter()
            .rposition(|s| matches!(s, Step::Deploy { .. }))
            .expect("deploys");
        assert!(records.iter().all(|i| *i > last_deploy), "{steps:?}");
        assert_eq!(steps.last(), Some(&Step::Flip));
        assert!(Step::Record { repo: "a".into() }.is_idempotent());
        t.git.enabled = false;
        let without = plan(&t, &two_libs_versions()).expect("plans");
        assert!(!without.iter().any(|s| matches!(s, Step::Record { .. })));
    }

    #[test]
    fn preflight_with_git_checks_the_remote_main_and_the_tag() {
        let mut t = two_libs_hub_two_sats();
        t.git.enabled = true;
        let mut facts = good_facts(&t);
        assert_eq!(preflight(&t, &facts), Ok(()));
        if let Some(g) = &mut facts_of(&mut facts, "lib-a").git {
            g.main_fast_forward = Some(false);
        }
        if let Some(g) = &mut facts_of(&mut facts, "sat-x").git {
            g.tag = TagState::Elsewhere("0123456789abcdef".into());
        }
        if let Some(g) = &mut facts_of(&mut facts, "hub-app").git {
            g.remote_reachable = false;
        }
        facts_of(&mut facts, "sat-w").git = None;
        let reasons = preflight(&t, &facts).expect_err("refused");
        let has = |repo: &str, what: &str| {
            reasons
                .iter()
                .any(|r| r.starts_with(repo) && r.contains(what))
        };
        assert!(has("lib-a:", "cannot be fast-forwarded"), "{reasons:#?}");
        assert!(
            has("sat-x:", "tag `release-1/sat-x` exists"),
            "{reasons:#?}"
        );
        assert!(has("hub-app:", "is not reachable"), "{reasons:#?}");
        assert!(has("sat-w:", "was not checked"), "{reasons:#?}");
        assert_eq!(reasons.len(), 4, "{reasons:#?}");
    }

    #[test]
    fn preflight_refuses_a_foreign_live_version_unless_vouched_for() {
        let t = two_libs_hub_two_sats();
        let mut facts = good_facts(&t);
        facts_of(&mut facts, "lib-a").live = Some(Probe::Done);
        let reasons = preflight(&t, &facts).expect_err("refused");
        assert_eq!(reasons.len(), 1, "{reasons:#?}");
        assert!(
            reasons[0].starts_with("lib-a: version ")
                && reasons[0].contains("already live, but this train did not publish it"),
            "{reasons:#?}"
        );
        facts_of(&mut facts, "lib-a").live_vouched = true;
        assert_eq!(preflight(&t, &facts), Ok(()));
    }

    #[test]
    fn decide_publish_with_unknown_probe_aborts() {
        let step = publish_step("lib", "1.0.0");
        let obs = observed(&[], &[(step.clone(), unknown_probe())], &[]);
        match decide(&step, &obs) {
            Decision::Abort(why) => {
                assert!(why.contains("cannot tell whether version 1.0.0 of lib is live"));
                assert!(why.contains("registry answered 503"));
                assert!(why.contains("ship resume"));
            }
            other => panic!("expected an abort, got {other:?}"),
        }
    }

    #[test]
    fn decide_publish_without_probe_aborts() {
        let step = publish_step("lib", "1.0.0");
        assert!(matches!(
            decide(&step, &Observed::default()),
            Decision::Abort(why) if why.contains("no is_published answer")
        ));
    }

    #[test]
    fn decide_publish_not_live_runs() {
        let step = publish_step("lib", "1.0.0");
        for yank in [None, Some(Probe::NotDone)] {
            let yanked: Vec<(&str, Probe)> = yank.into_iter().map(|p| ("lib", p)).collect();
            let obs = observed(&[], &[(step.clone(), Probe::NotDone)], &yanked);
            assert_eq!(decide(&step, &obs), Decision::Run);
        }
    }

    #[test]
    fn decide_other_steps_follow_their_probe() {
        for step in all_step_kinds().into_iter().skip(1) {
            let done = observed(&[], &[(step.clone(), Probe::Done)], &[]);
            assert!(
                matches!(decide(&step, &done), Decision::Skip(why) if why.contains("not journaled by this train") || why.contains("not deployed by this train")),
                "{step}"
            );
            let not_done = observed(&[], &[(step.clone(), Probe::NotDone)], &[]);
            assert_eq!(decide(&step, &not_done), Decision::Run, "{step}");
            assert_eq!(decide(&step, &Observed::default()), Decision::Run, "{step}");
        }
    }

    #[test]
    fn decide_deploy_done_outside_the_train_says_so() {
        let step = deploy_step("app");
        let obs = observed(&[], &[(step.clone(), Probe::Done)], &[]);
        assert_eq!(
            decide(&step, &obs),
            Decision::Skip("already live (not deployed by this train)".into())
        );
    }

    #[test]
    fn decide_unknown_probe_runs_only_idempotent_steps() {
        for step in all_step_kinds() {
            let obs = observed(&[], &[(step.clone(), unknown_probe())], &[]);
            let decision = decide(&step, &obs);
            if step.is_idempotent() {
                assert_eq!(decision, Decision::Run, "{step}");
            } else {
                assert!(
                    matches!(&decision, Decision::Abort(why) if why.contains("registry answered 503")),
                    "{step}: {decision:?}"
                );
            }
        }
        assert!(!deploy_step("app").is_idempotent());
        assert!(!publish_step("lib", "1").is_idempotent());
        assert!(repin_step("app").is_idempotent());
        assert!(Step::Flip.is_idempotent());
    }

    #[test]
    fn decide_ignores_yank_answers_for_other_steps() {
        let step = repin_step("lib");
        let obs = observed(&[], &[], &[("lib", Probe::Done)]);
        assert_eq!(decide(&step, &obs), Decision::Run);
    }

    // ----- preflight -----------------------------------------------------

    fn good_facts(t: &Train) -> Facts {
        let repos = t
            .repos
            .iter()
            .map(|r| {
                let facts = RepoFacts {
                    clean: true,
                    at_frozen: true,
                    frozen_reachable: true,
                    deploy_command_exists: Some(true),
                    remote_reachable: Some(true),
                    repin_matches: r.repins.iter().map(|p| (p.glob.clone(), true)).collect(),
                    yanked: (r.role == Role::Library).then_some(Probe::NotDone),
                    live: (r.role == Role::Library).then_some(Probe::NotDone),
                    live_vouched: false,
                    git: Some(GitFacts {
                        remote_reachable: true,
                        main_fast_forward: Some(true),
                        tag_name: format!("release-1/{}", r.name),
                        tag: TagState::Free,
                    }),
                    commands: command_kinds(r)
                        .into_iter()
                        .map(|(kind, _)| CommandCheck {
                            kind: kind.into(),
                            found: true,
                        })
                        .collect(),
                };
                (r.name.clone(), facts)
            })
            .collect();
        Facts {
            versions: two_libs_versions(),
            repos,
            github_token_set: None,
        }
    }

    fn facts_of<'a>(facts: &'a mut Facts, repo: &str) -> &'a mut RepoFacts {
        facts.repos.get_mut(repo).expect("repo has facts")
    }

    #[test]
    fn preflight_passes_when_every_fact_holds() {
        let t = two_libs_hub_two_sats();
        assert_eq!(preflight(&t, &good_facts(&t)), Ok(()));
    }

    #[test]
    fn preflight_refuses_a_command_that_cannot_start_and_one_not_checked() {
        let t = two_libs_hub_two_sats();
        let mut facts = good_facts(&t);
        for check in &mut facts_of(&mut facts, "sat-x").commands {
            if check.kind == "test" {
                check.found = false;
            }
        }
        facts_of(&mut facts, "lib-a")
            .commands
            .retain(|c| c.kind != "publish");
        let reasons = preflight(&t, &facts).expect_err("refused");
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with("sat-x: test command `") && r.ends_with("` not found")),
            "{reasons:#?}"
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with("lib-a: whether publish command `")
                    && r.ends_with("can start was not checked")),
            "{reasons:#?}"
        );
        assert_eq!(reasons.len(), 2, "{reasons:#?}");
    }

    #[test]
    fn preflight_reports_every_failing_fact_at_once() {
        let t = two_libs_hub_two_sats();
        let mut facts = good_facts(&t);
        facts_of(&mut facts, "hub-app").clean = false;
        facts_of(&mut facts, "hub-app").remote_reachable = Some(false);
        facts_of(&mut facts, "sat-w").at_frozen = false;
        facts_of(&mut facts, "sat-w").deploy_command_exists = Some(false);
        facts_of(&mut facts, "sat-x").frozen_reachable = false;
        facts_of(&mut facts, "sat-x").repin_matches = vec![("**/Cargo.toml".into(), false)];
        facts_of(&mut facts, "lib-a").yanked = Some(Probe::Done);
        facts_of(&mut facts, "lib-b").yanked = Some(Probe::Unknown("timed out".into()));
        let reasons = preflight(&t, &facts).expect_err("fails");
        assert_eq!(
            reasons,
            vec![
                "sat-x: the frozen commit is not reachable from `release` (was it rewritten?)",
                "sat-x: re-pin glob `**/Cargo.toml` matches no branch reference to replace",
                "hub-app: working tree is not clean (commit or stash the changes)",
                "hub-app: remote `prod` is not reachable",
                "lib-b: cannot tell whether version 0.3.0 is yanked (timed out)",
                "sat-w: `release` is not at the frozen commit",
                "sat-w: deploy command `./deploy.sh` not found",
                "lib-a: version 1.4.2 is yanked: bump the version and re-run prepare",
            ]
        );
    }

    #[test]
    fn preflight_unchecked_facts_are_reasons() {
        let t = two_libs_hub_two_sats();
        let mut facts = good_facts(&t);
        facts.repos.remove("sat-w");
        facts_of(&mut facts, "hub-app").deploy_command_exists = None;
        facts_of(&mut facts, "hub-app").remote_reachable = None;
        facts_of(&mut facts, "hub-app").repin_matches.clear();
        facts_of(&mut facts, "lib-a").yanked = None;
        let reasons = preflight(&t, &facts).expect_err("fails");
        assert_eq!(
            reasons,
            vec![
                "hub-app: whether smoke command `smoke-check` exists was not checked",
                "hub-app: whether remote `prod` is reachable was not checked",
                "hub-app: re-pin of `lib-a` in `**/Cargo.toml` was not checked",
                "hub-app: re-pin of `lib-b` in `**/Cargo.toml` was not checked",
                "sat-w: no facts were gathered for this repo",
                "lib-a: whether version 1.4.2 is yanked was not checked",
            ]
        );
    }

    #[test]
    fn preflight_ignores_unchecked_facts_that_do_not_apply() {
        // No deploy, no re-pins, no yank probe: nothing needed checking.
        let mut lib = repo("lib", Role::Library, &[]);
        if let Some(p) = lib.publish.as_mut() {
            p.is_yanked = None;
        }
        let app = repo("app", Role::Hub, &[]);
        let t = train(vec![lib, app]);
        let mut facts = good_facts(&t);
        facts.versions = versions(&[("lib", "1")]);
        for f in facts.repos.values_mut() {
            f.deploy_command_exists = None;
            f.remote_reachable = None;
            f.yanked = None;
        }
        assert_eq!(preflight(&t, &facts), Ok(()));
    }

    #[test]
    fn preflight_includes_plan_errors_and_stray_facts() {
        let t = train(vec![repo("app", Role::Hub, &["ghost"])]);
        let mut facts = good_facts(&t);
        facts.versions.clear();
        let mut stray = facts.repos["app"].clone();
        stray.clean = false;
        facts.repos.insert("elsewhere".into(), stray);
        assert_eq!(
            preflight(&t, &facts),
            Err(vec![
                "train: `app` depends on `ghost`, which is not in the train".to_string(),
                "elsewhere: facts were gathered for a repo that is not in the train".to_string(),
            ])
        );
    }

    // ----- report --------------------------------------------------------

    fn failure(unobserved: bool) -> Failure {
        Failure {
            command: "./deploy.sh --prod".into(),
            exit: (!unobserved).then_some(3),
            tail: vec![
                "uploading bundle".into(),
                "error: 502 from load balancer".into(),
            ],
            unobserved,
            not_started: false,
        }
    }

    fn stopped_at_sat_w(unobserved: bool) -> Report {
        let t = two_libs_hub_two_sats();
        let steps = plan(&t, &two_libs_versions()).expect("plans");
        let failed_at = steps
            .iter()
            .position(|s| *s == deploy_step("sat-w"))
            .expect("planned");
        let done: BTreeSet<Step> = steps[..failed_at].iter().cloned().collect();
        report(
            &t,
            &steps,
            &done,
            Some((&steps[failed_at], failure(unobserved))),
            "release.toml",
        )
    }

    #[test]
    fn report_text_names_the_failure_what_is_live_and_how_to_resume() {
        let text = stopped_at_sat_w(false).to_string();
        assert_eq!(
            text,
            "\
release train stopped at: deploy sat-w
  command: ./deploy.sh --prod
  exit status: 3
  last lines of output:
    | uploading bundle
    | error: 502 from load balancer
already live:
  sat-x: re-pinned, lock refreshed, tested, deployed
  hub-app: re-pinned, lock refreshed, tested, deployed
  lib-b: published 0.3.0, tested
  sat-w: re-pinned
  lib-a: published 1.4.2, tested
still to do:
  deploy lib-b
  flip release record
resume with:
  concord --config release.toml ship resume
"
        );
    }

    #[test]
    fn report_unobserved_outcome_says_so() {
        let r = stopped_at_sat_w(true);
        let text = r.to_string();
        assert!(text.contains("outcome: could not be observed"));
        assert!(!text.contains("exit status"));
        assert!(text.contains("    | error: 502 from load balancer"));
        assert!(text.contains("concord --config release.toml ship resume"));
    }

    #[test]
    fn report_of_a_command_that_could_not_start_says_so() {
        let mut r = stopped_at_sat_w(false);
        if let Some(failed) = &mut r.failed {
            failed.failure.exit = None;
            failed.failure.not_started = true;
            failed.failure.tail =
                vec!["cannot run ./deploy.sh --prod: No such file or directory".into()];
        }
        let text = r.to_string();
        assert!(
            text.contains("  exit status: none: the command could not be started\n"),
            "{text}"
        );
        assert!(!text.contains("killed or timed out"), "{text}");
        assert!(text.contains("No such file or directory"), "{text}");
    }

    #[test]
    fn report_lists_live_state_per_repo() {
        let r = stopped_at_sat_w(false);
        let lib_a = r.live.iter().find(|l| l.repo == "lib-a").expect("listed");
        assert_eq!(lib_a.published.as_deref(), Some("1.4.2"));
        assert!(lib_a.tested && !lib_a.deployed);
        let sat_w = r.live.iter().find(|l| l.repo == "sat-w").expect("listed");
        assert!(sat_w.repinned && !sat_w.deployed && sat_w.published.is_none());
        assert_eq!(r.remaining, vec![deploy_step("lib-b"), Step::Flip]);
        assert!(!r.shipped);
        assert_eq!(
            r.failed.as_ref().map(|f| &f.step),
            Some(&deploy_step("sat-w"))
        );
    }

    #[test]
    fn report_json_round_trips() {
        let r = stopped_at_sat_w(false);
        let json = serde_json::to_string(&r).expect("serializes");
        assert!(json.contains(r#""resume":"concord --config release.toml ship resume""#));
        let back: Report = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, r);
    }

    #[test]
    fn report_keeps_only_the_last_lines() {
        let t = two_libs_hub_two_sats();
        let mut f = failure(false);
        f.tail = (0..50).map(|i| format!("line {i}")).collect();
        let step = test_step("hub-app");
        let r = report(&t, &[], &BTreeSet::new(), Some((&step, f)), "release.toml");
        let tail = &r.failed.expect("failed").failure.tail;
        assert_eq!(tail.len(), TAIL_LINES);
        assert_eq!(tail.first().map(String::as_str), Some("line 30"));
        assert_eq!(tail.last().map(String::as_str), Some("line 49"));
    }

    #[test]
    fn report_of_a_finished_train() {
        let t = two_libs_hub_two_sats();
        let steps = plan(&t, &two_libs_versions()).expect("plans");
        let done: BTreeSet<Step> = steps.iter().cloned().collect();
        let r = report(&t, &steps, &done, None, "release.toml");
        assert!(r.shipped && r.remaining.is_empty());
        let text = r.to_string();
        assert!(text.starts_with("release train shipped\n"));
        assert!(text.contains("  release record: shipped\n"));
        assert!(!text.contains("resume with"));
    }

    #[test]
    fn report_before_anything_moved() {
        let t = two_libs_hub_two_sats();
        let steps = plan(&t, &two_libs_versions()).expect("plans");
        let step = test_step("lib-a");
        let r = report(
            &t,
            &steps,
            &BTreeSet::new(),
            Some((&step, failure(false))),
            "r.toml",
        );
        let text = r.to_string();
        assert!(text.contains("already live: nothing\n"));
        assert_eq!(r.remaining.len(), steps.len() - 1);
        assert!(text.ends_with("resume with:\n  concord --config r.toml ship resume\n"));
    }

    #[test]
    fn resume_command_quotes_paths_that_need_it() {
        assert_eq!(
            resume_command("conf/release.toml"),
            "concord --config conf/release.toml ship resume"
        );
        assert_eq!(
            resume_command("my releases/it's.toml"),
            r"concord --config 'my releases/it'\''s.toml' ship resume"
        );
        assert_eq!(resume_command(""), "concord --config '' ship resume");
    }

    // ----- retries -------------------------------------------------------

    #[test]
    fn next_delay_doubles_up_to_the_cap_then_stops() {
        let retry = Retry {
            attempts: 6,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
        };
        let delays: Vec<Option<Duration>> = (1..=7).map(|n| next_delay(&retry, n)).collect();
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(
            delays,
            vec![secs(1), secs(2), secs(4), secs(5), secs(5), None, None]
        );
        assert_eq!(next_delay(&retry, 0), Some(Duration::ZERO));
    }

    #[test]
    fn next_delay_with_one_or_zero_attempts_never_retries() {
        for attempts in [0, 1] {
            let retry = Retry {
                attempts,
                first_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(5),
            };
            assert_eq!(next_delay(&retry, 1), None);
        }
    }

    #[test]
    fn next_delay_does_not_overflow() {
        let retry = Retry {
            attempts: u32::MAX,
            first_delay: Duration::from_secs(u64::MAX / 2),
            max_delay: Duration::from_secs(60),
        };
        assert_eq!(next_delay(&retry, 3), Some(Duration::from_secs(60)));
        assert_eq!(next_delay(&retry, 40), Some(Duration::from_secs(60)));
        assert_eq!(
            next_delay(&retry, u32::MAX - 1),
            Some(Duration::from_secs(60))
        );
        assert_eq!(next_delay(&retry, u32::MAX), None);
    }

    #[test]
    fn next_delay_cap_below_first_delay_caps() {
        let retry = Retry {
            attempts: 3,
            first_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(2),
        };
        assert_eq!(next_delay(&retry, 1), Some(Duration::from_secs(2)));
    }
}
