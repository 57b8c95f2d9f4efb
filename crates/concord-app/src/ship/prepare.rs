//! `concord ship prepare`: freeze the train, each repo's release commit
//! and each library's version, in a new train record in the hub.

use super::{Ctx, Frozen, ShipOptions, VERSION, short, versions_of};
use crate::hub::{self, Failure};
use concord_ship::model::{Publish, TrainRepo};
use concord_ship::plan as ship_plan;
use concord_store::{ReleaseTrain, now_rfc3339};
use concord_workspace::Workspace;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The train `prepare` froze.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrepareReport {
    /// [`VERSION`].
    pub version: u32,
    /// The train's record in the hub.
    pub id: i64,
    pub name: String,
    /// Per repo, its release commit and (for a library) version.
    pub frozen: BTreeMap<String, Frozen>,
}

/// Freeze the train named in `options` and record it as `prepared`.
pub fn prepare(ws: &Workspace, options: &ShipOptions) -> Result<PrepareReport, Failure> {
    let ctx = Ctx::load(ws, options)?;
    let previous = hub::with_store(ws, async |store| {
        store.latest_release_train(&options.name).await
    })?
    .filter(|train| train.status == "shipped");
    let mut frozen: BTreeMap<String, Frozen> = BTreeMap::new();
    for repo in &ctx.train.repos {
        let mut repo_frozen = freeze(&ctx, repo)?;
        let since = previous_tag(&ctx, repo, &options.name, previous.as_ref());
        repo_frozen.notes = notes(&ctx, repo, &repo_frozen.commit, since.as_deref());
        repo_frozen.notes_since = since;
        frozen.insert(repo.name.clone(), repo_frozen);
    }
    let problems = ship_plan::validate(&ctx.train, &versions_of(&frozen));
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(Failure::usage(
            format!("the train cannot run: {}", list.join("; ")),
            None,
        ));
    }
    let now = now_rfc3339();
    let record = ReleaseTrain {
        id: 0,
        name: options.name.clone(),
        created_at: now.clone(),
        actor: hub::actor(ws),
        status: "prepared".into(),
        frozen: serde_json::to_string(&frozen)
            .map_err(|e| Failure::usage(format!("cannot record the frozen train: {e}"), None))?,
        version: 0,
        updated_at: now,
    };
    let id = hub::with_store(ws, async |store| store.add_release_train(&record).await)?;
    Ok(PrepareReport {
        version: VERSION,
        id,
        name: options.name.clone(),
        frozen,
    })
}

/// One repo's release commit, and the version its publish rule reads there.
fn freeze(ctx: &Ctx<'_>, repo: &TrainRepo) -> Result<Frozen, Failure> {
    let dir = ctx.dir(repo);
    let broken =
        |e: concord_git::GitError| Failure::usage(format!("repo {}: {e}", repo.name), None);
    let git = concord_git::Repo::open(&dir).map_err(broken)?;
    let commit = git
        .resolve_commit(&format!("refs/heads/{}", repo.release_branch))
        .map_err(broken)?
        .ok_or_else(|| {
            Failure::usage(
                format!("repo {} has no branch `{}`", repo.name, repo.release_branch),
                Some(format!(
                    "fetch it: git -C {} fetch origin {b}:{b}",
                    dir.display(),
                    b = repo.release_branch
                )),
            )
        })?;
    let version = match &repo.publish {
        Some(publish) => Some(version_at(&git, &commit, repo, publish)?),
        None => None,
    };
    Ok(Frozen {
        commit,
        version,
        notes_since: None,
        notes: Vec::new(),
    })
}

/// Release notes read at most this many commits.
pub const NOTES_LIMIT: usize = 500;

/// The tag the previous shipped train of this name gave `repo`, when
/// `[train.git]` made one and this checkout has it.
fn previous_tag(
    ctx: &Ctx<'_>,
    repo: &TrainRepo,
    name: &str,
    previous: Option<&concord_store::ReleaseTrain>,
) -> Option<String> {
    let previous = previous?;
    if !ctx.train.git.enabled {
        return None;
    }
    let frozen: BTreeMap<String, Frozen> = serde_json::from_str(&previous.frozen).ok()?;
    let version = frozen.get(&repo.name).and_then(|f| f.version.as_deref());
    let tag = ctx
        .train
        .git
        .tag_name(&repo.name, name, previous.id, version);
    let git = concord_git::Repo::open(&ctx.dir(repo)).ok()?;
    git.resolve_commit(&format!("refs/tags/{tag}"))
        .ok()
        .flatten()
        .map(|_| tag)
}

/// The notes of what `repo` ships: the subjects of the commits after
/// `since` (all, when `None`) up to the frozen commit.
fn notes(
    ctx: &Ctx<'_>,
    repo: &TrainRepo,
    commit: &str,
    since: Option<&str>,
) -> Vec<concord_ship::notes::NoteGroup> {
    let range = match since {
        Some(tag) => format!("refs/tags/{tag}..{commit}"),
        None => commit.to_string(),
    };
    let limit = format!("--max-count={NOTES_LIMIT}");
    let output = std::process::Command::new("git")
        .current_dir(ctx.dir(repo))
        .args(["log", "--format=%s", &limit, &range, "--"])
        .output();
    let subjects: Vec<String> = match output {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    concord_ship::notes::release_notes(&subjects)
}

/// The version `publish.version_regex` finds in `publish.version_file` at
/// `commit`.
fn version_at(
    git: &concord_git::Repo,
    commit: &str,
    repo: &TrainRepo,
    publish: &Publish,
) -> Result<String, Failure> {
    let files = git
        .tree_files(commit, &|p| p == publish.version_file)
        .map_err(|e| Failure::usage(format!("repo {}: {e}", repo.name), None))?;
    let text = files
        .first()
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .ok_or_else(|| {
            Failure::usage(
                format!(
                    "repo {}: {} is not in commit {}",
                    repo.name,
                    publish.version_file,
                    short(commit)
                ),
                None,
            )
        })?;
    let regex = regex::Regex::new(&publish.version_regex)
        .map_err(|e| Failure::usage(e.to_string(), None))?;
    regex
        .captures(&text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
        .ok_or_else(|| {
            Failure::usage(
                format!(
                    "repo {}: version_regex finds no version in {}",
                    repo.name, publish.version_file
                ),
                None,
            )
        })
}
