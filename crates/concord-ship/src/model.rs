//! A release train as configured: repos, their roles and dependencies, and
//! what publishing, re-pinning, testing and deploying each one means.

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Published to a registry; others pin it.
    Library,
    /// The main app: deploys before its satellites.
    Hub,
    /// An app that deploys after the hub.
    Satellite,
}

/// A command run as an argument vector (never through a shell unless
/// `shell` says so), in the repo, with a timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Command {
    pub argv: Vec<String>,
    /// Run `argv.join(" ")` through `sh -c` (only when configured).
    pub shell: bool,
    pub timeout: Duration,
}

/// How a library publishes and how the train tells whether it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Publish {
    pub command: Command,
    /// The file holding the version, and the regex whose first group is it.
    pub version_file: String,
    pub version_regex: String,
    /// Exit 0: the version is live; 1: it is not; anything else: unknown.
    /// `{version}` in its arguments is replaced.
    pub is_published: Command,
    /// Exit 0: the version is yanked; 1: it is not; else unknown.
    pub is_yanked: Option<Command>,
    /// The digest proof (both or neither): `digest` prints the registry's
    /// digest of the version, `build_digest` the digest of what this train
    /// builds from the frozen commit (last line of standard output each).
    /// When a version is live that this train did not publish, equal
    /// digests prove it is this release.
    #[serde(default)]
    pub digest: Option<Command>,
    #[serde(default)]
    pub build_digest: Option<Command>,
}

/// How a consumer turns a branch reference to a library into a version pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Repin {
    /// The library it pins.
    pub library: String,
    /// Repo-relative glob of the files to edit.
    pub glob: String,
    /// What to replace (a branch reference); `{version}` in `replace`.
    pub regex: String,
    pub replace: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Deploy {
    /// Push the frozen (tested) commit to a remote's branch, then an
    /// optional smoke check.
    GitPush {
        remote: String,
        branch: String,
        smoke: Option<Command>,
    },
    /// The repo's own command; the repo owns smoke tests and rollback.
    Script { command: Command },
    /// No production target: nothing to deploy (not an error).
    None,
}

/// Bounded retry with backoff (registry propagation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Retry {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TrainRepo {
    pub name: String,
    /// Folder, relative to the config.
    pub path: String,
    pub role: Role,
    pub release_branch: String,
    /// Repos this one depends on (libraries it pins), by name.
    pub depends_on: Vec<String>,
    pub test: Option<Command>,
    pub publish: Option<Publish>,
    pub repins: Vec<Repin>,
    /// Refreshes the lock file after re-pinning; retried for propagation.
    pub lock_refresh: Option<Command>,
    pub deploy: Deploy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Train {
    pub repos: Vec<TrainRepo>,
    pub retry: Retry,
    /// What git is told once the repos shipped (`[train.git]`).
    #[serde(default)]
    pub git: GitRecord,
    /// GitHub releases made of the tags, with the notes (`[train.github]`).
    #[serde(default)]
    pub github: Option<GithubReleases>,
}

/// Each mapped repo's tag becomes a GitHub release whose text is the
/// repo's release notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GithubReleases {
    /// The API (`https://api.github.com`, or a GitHub Enterprise one).
    pub url: String,
    /// The environment variable holding the token (never the token).
    pub token_env: String,
    /// Train repo -> `owner/name` on GitHub.
    pub repos: std::collections::BTreeMap<String, String>,
}

/// After the repos shipped, git is told: each repo's release branch is
/// pushed, its main branch fast-forwarded to the shipped commit and
/// pushed, and a tag made and pushed, so the next clone sees what shipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GitRecord {
    /// Off: the train leaves git as its commits left it (`[train.git]
    /// enabled = false`); a train built in code starts off.
    pub enabled: bool,
    /// The remote to push to.
    pub remote: String,
    /// The branch fast-forwarded to the shipped commit.
    pub main_branch: String,
    /// The tag's name: `{repo}`, `{train}` (the train's name), `{id}` (its
    /// number) and `{version}` (a library's version; empty for an app).
    pub tag: String,
}

/// The tag template when `release.toml` gives none.
pub const DEFAULT_TAG: &str = "{train}-{id}/{repo}";

impl Default for GitRecord {
    fn default() -> Self {
        GitRecord {
            enabled: false,
            remote: "origin".into(),
            main_branch: "main".into(),
            tag: DEFAULT_TAG.into(),
        }
    }
}

impl GitRecord {
    /// The tag of `repo` in train `train` #`id`.
    pub fn tag_name(&self, repo: &str, train: &str, id: i64, version: Option<&str>) -> String {
        self.tag
            .replace("{repo}", repo)
            .replace("{train}", train)
            .replace("{id}", &id.to_string())
            .replace("{version}", version.unwrap_or(""))
    }
}

impl Train {
    pub fn repo(&self, name: &str) -> Option<&TrainRepo> {
        self.repos.iter().find(|r| r.name == name)
    }
}
