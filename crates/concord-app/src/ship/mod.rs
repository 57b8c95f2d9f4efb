//! `concord ship`: a release train across repos. The decisions (order,
//! idempotency, preflight, the abort report) are `concord_ship::plan`'s;
//! this module gathers facts ([`probe`]), runs commands ([`command`]),
//! executes steps ([`step`]) and journals every one of them in the hub
//! ([`run`]). Each use case takes the workspace and [`ShipOptions`] and
//! returns a report; what happens while a train runs (a step starts, a
//! command prints a line) goes to the caller's [`ShipEvents`].

mod command;
mod inspect;
mod prepare;
mod probe;
mod run;
mod step;

pub use inspect::{JournaledStep, PlanReport, PlannedStep, StatusReport, plan, status};
pub use prepare::{PrepareReport, prepare};
pub use run::{Ended, RunReport, ShipConfirm, run};

use crate::hub::{self, Failure};
use crate::{Outcome, Silent};
use concord_ship::model::{Train, TrainRepo};
use concord_store::{ReleaseStep, ReleaseTrain};
use concord_workspace::Workspace;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The version of every ship report's shape.
pub const VERSION: u32 = 1;

/// Which train, configured where.
#[derive(Debug, Clone)]
pub struct ShipOptions {
    /// The train's configuration; `None`: `release.toml` beside
    /// `concord.toml`.
    pub release: Option<PathBuf>,
    /// The train's name (several trains may share one hub).
    pub name: String,
    /// `REPO@VERSION` of library versions already live that the release
    /// manager accepts as this release (`ship run --accept-live`): checked
    /// against the frozen versions and journaled before the train starts.
    pub accept_live: Vec<String>,
}

/// What a running train tells its caller as it goes, in order. Every
/// method does nothing unless the caller says otherwise. Command output
/// arrives from two threads (a command's stdout and stderr) at once.
pub trait ShipEvents: Send + Sync {
    /// `step` was skipped (and journaled so), for `why`.
    fn skipped(&self, step: &str, why: &str) {
        let _ = (step, why);
    }
    /// `step` starts running.
    fn running(&self, step: &str) {
        let _ = step;
    }
    /// A step's command in `repo` printed `line`.
    fn output(&self, repo: &str, line: &str) {
        let _ = (repo, line);
    }
    /// The lock refresh of `repo` failed for the `attempt`th time; it is
    /// tried again after `delay`.
    fn retrying(&self, repo: &str, attempt: u32, delay: Duration) {
        let _ = (repo, attempt, delay);
    }
}

impl ShipEvents for Silent {}

/// The frozen state of one repo, as `prepare` recorded it (and as the hub
/// keeps it in the train's record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Frozen {
    /// The release commit.
    pub commit: String,
    /// The library's version to publish; `None` for an app.
    pub version: Option<String>,
    /// The tag of the previous shipped train the notes start from; `None`:
    /// the notes start at the repo's first commit (at most
    /// [`prepare::NOTES_LIMIT`] commits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes_since: Option<String>,
    /// The release notes: what this train ships of the repo, by heading.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<concord_ship::notes::NoteGroup>,
}

/// The first ten characters of a commit id, as the text shows it.
pub fn short(commit: &str) -> &str {
    commit.get(..10).unwrap_or(commit)
}

/// The train's configuration and where its repos' paths start.
struct Ctx<'a> {
    ws: &'a Workspace,
    train: Train,
    base: PathBuf,
}

impl<'a> Ctx<'a> {
    /// Read the train's configuration (`release.toml`).
    fn load(ws: &'a Workspace, options: &ShipOptions) -> Result<Self, Failure> {
        let path = options
            .release
            .clone()
            .unwrap_or_else(|| ws.root.join("release.toml"));
        let train = concord_ship::config::load(&path).map_err(|e| Failure {
            message: e.to_string(),
            help: e.help.clone(),
            outcome: Outcome::ConfigError,
        })?;
        Ok(Ctx {
            ws,
            train,
            base: path
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        })
    }

    fn dir(&self, repo: &TrainRepo) -> PathBuf {
        self.base.join(&repo.path)
    }
}

/// Library name to frozen version.
fn versions_of(frozen: &BTreeMap<String, Frozen>) -> BTreeMap<String, String> {
    frozen
        .iter()
        .filter_map(|(name, f)| f.version.clone().map(|v| (name.clone(), v)))
        .collect()
}

/// A train as stored: its record, frozen state and journaled steps.
struct Loaded {
    train: ReleaseTrain,
    frozen: BTreeMap<String, Frozen>,
    steps: Vec<ReleaseStep>,
}

/// The latest train of this name, with its frozen state and journaled steps.
fn load_train(ctx: &Ctx<'_>, name: &str) -> Result<Loaded, Failure> {
    let (train, steps) = hub::with_store(ctx.ws, async |store| {
        let Some(train) = store.latest_release_train(name).await? else {
            return Ok((None, Vec::new()));
        };
        let steps = store.release_steps(train.id).await?;
        Ok((Some(train), steps))
    })?;
    let train = train.ok_or_else(|| {
        Failure::usage(
            format!("no train `{name}` yet"),
            Some("freeze one with `concord ship prepare`".into()),
        )
    })?;
    let frozen: BTreeMap<String, Frozen> = serde_json::from_str(&train.frozen)
        .map_err(|e| Failure::usage(format!("train #{} is unreadable: {e}", train.id), None))?;
    Ok(Loaded {
        train,
        frozen,
        steps,
    })
}

/// Publish steps whose live version this train may count as its own (by
/// display text): ones it attempted (started, failed or lost: the version
/// live now is what it sent) and ones the release manager accepted.
fn vouched(steps: &[ReleaseStep]) -> BTreeSet<String> {
    steps
        .iter()
        .filter(|s| s.step.starts_with("publish "))
        .filter(|s| {
            matches!(
                s.outcome.as_str(),
                "started" | "failed" | "unknown" | "accepted"
            )
        })
        .map(|s| s.step.clone())
        .collect()
}

/// Steps journaled as done or skipped (by display text).
fn finished(steps: &[ReleaseStep]) -> BTreeSet<String> {
    steps
        .iter()
        .filter(|s| s.outcome == "done" || s.outcome == "skipped")
        .map(|s| s.step.clone())
        .collect()
}
