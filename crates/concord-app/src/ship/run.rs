//! `concord ship run` and `resume`: check everything, then run the train's
//! steps in order, journaling each; stop at the first failure. What was
//! journaled done is not done again.

use super::command::{run_command, shown};
use super::probe::{gather_facts, observe, probe};
use super::step::{StepInputs, execute, failure};
use super::{
    Ctx, Frozen, Loaded, ShipEvents, ShipOptions, VERSION, finished, load_train, versions_of,
    vouched,
};
use crate::Outcome;
use crate::hub::{self, Failure};
use concord_ship::model::Command as Cmd;
use concord_ship::plan::{
    self as ship_plan, Decision, Failure as StepFailure, Observed, Probe, Step,
};
use concord_store::{ReleaseStep, now_rfc3339};
use concord_workspace::Workspace;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How a run of the train ended.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunReport {
    /// [`VERSION`].
    pub version: u32,
    /// The train's name and record.
    pub name: String,
    pub id: i64,
    pub ended: Ended,
}

/// Where a run stopped.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Ended {
    /// The train was shipped before this run: nothing was done.
    AlreadyShipped,
    /// Preflight refused: nothing was moved.
    Refused { reasons: Vec<String> },
    /// A step failed (or was refused) part-way: what is live, what
    /// failed, what remains and how to resume.
    Stopped { report: ship_plan::Report },
    /// Every step is done and the record says shipped.
    Shipped,
    /// Asked before anything moved, the release manager said no.
    Declined,
}

/// Asked once, after preflight passed and before anything moves, with the
/// steps still to do; `Ok(false)` moves nothing.
pub type ShipConfirm<'a> = &'a dyn Fn(&[String]) -> Result<bool, Failure>;

impl RunReport {
    /// Shipped (now or before): clean; refused at preflight: findings;
    /// stopped part-way: partial failure.
    pub fn outcome(&self) -> Outcome {
        match self.ended {
            Ended::AlreadyShipped | Ended::Shipped | Ended::Declined => Outcome::Clean,
            Ended::Refused { .. } => Outcome::Findings,
            Ended::Stopped { .. } => Outcome::PartialFailure,
        }
    }
}

/// Run (or resume) the latest train named in `options`. What happens as
/// it goes is told to `events`; a hub that cannot journal a step is a
/// [`Failure`] (the train stops there).
pub fn run(
    ws: &Workspace,
    options: &ShipOptions,
    events: &dyn ShipEvents,
    confirm: Option<ShipConfirm<'_>>,
) -> Result<RunReport, Failure> {
    let ctx = Ctx::load(ws, options)?;
    let Loaded {
        train,
        frozen,
        steps: journaled,
    } = load_train(&ctx, &options.name)?;
    let report = |ended| RunReport {
        version: VERSION,
        name: options.name.clone(),
        id: train.id,
        ended,
    };
    if train.status == "shipped" {
        return Ok(report(Ended::AlreadyShipped));
    }
    let versions = versions_of(&frozen);
    let steps =
        ship_plan::plan(&ctx.train, &versions).map_err(|e| Failure::usage(e.to_string(), None))?;
    let done = finished(&journaled);
    accept_live(&ctx, train.id, &options.accept_live, &versions, &journaled)?;
    let journaled = load_train(&ctx, &options.name)?.steps;
    let mismatches = prove_live(&ctx, train.id, &versions, &done, &journaled)?;
    let journaled = load_train(&ctx, &options.name)?.steps;
    let vouched = vouched(&journaled);
    let mut reasons = mismatches;
    reasons.extend(preflight(
        &ctx,
        (&frozen, (&options.name, train.id)),
        &versions,
        (&done, &vouched),
    ));
    if !reasons.is_empty() {
        return Ok(report(Ended::Refused { reasons }));
    }
    if let Some(confirm) = confirm {
        let remaining: Vec<String> = steps
            .iter()
            .map(ToString::to_string)
            .filter(|text| !done.contains(text))
            .collect();
        if !confirm(&remaining)? {
            return Ok(report(Ended::Declined));
        }
    }
    let mut runner = Runner {
        ctx: &ctx,
        events,
        steps: &steps,
        versions: &versions,
        name: &options.name,
        frozen: &frozen,
        done,
        vouched,
        id: train.id,
        version: train.version,
    };
    if train.status != "shipping" {
        runner.set_status("shipping")?;
    }
    Ok(report(runner.run_steps()?))
}

/// A library version live already that this train did not publish, with
/// a digest proof configured: its content is this release's when the
/// registry's digest equals the digest of what this train builds from the
/// frozen commit; then it is journaled as accepted (with both digests).
/// Returns a reason per version whose digests differ.
fn prove_live(
    ctx: &Ctx<'_>,
    train_id: i64,
    versions: &BTreeMap<String, String>,
    done: &BTreeSet<String>,
    journaled: &[ReleaseStep],
) -> Result<Vec<String>, Failure> {
    let mut mismatches = Vec::new();
    let vouched = vouched(journaled);
    for repo in &ctx.train.repos {
        let (Some(publish), Some(version)) = (&repo.publish, versions.get(&repo.name)) else {
            continue;
        };
        let (Some(digest), Some(build_digest)) = (&publish.digest, &publish.build_digest) else {
            continue;
        };
        let step = Step::Publish {
            repo: repo.name.clone(),
            version: version.clone(),
        }
        .to_string();
        if done.contains(&step) || vouched.contains(&step) {
            continue;
        }
        let dir = ctx.dir(repo);
        if probe(&publish.is_published, &dir, Some(version)) != Probe::Done {
            continue;
        }
        let (theirs, ours) = (
            digest_of(digest, &dir, version),
            digest_of(build_digest, &dir, version),
        );
        match (theirs, ours) {
            (Some(theirs), Some(ours)) if theirs == ours => {
                let why = format!(
                    "content proven: the registry's digest {theirs} is the digest of what this train builds"
                );
                journal_acceptance(ctx, train_id, step, why)?;
            }
            (theirs, ours) => mismatches.push(format!(
                "{}: the registry's digest of {version} ({}) is not the digest of what this train builds ({})",
                repo.name,
                theirs.as_deref().unwrap_or("no answer"),
                ours.as_deref().unwrap_or("no answer")
            )),
        }
    }
    Ok(mismatches)
}

/// Journal that this train counts the live version of publish `step` as
/// its own, and why.
fn journal_acceptance(
    ctx: &Ctx<'_>,
    train_id: i64,
    step: String,
    why: String,
) -> Result<(), Failure> {
    let record = ReleaseStep {
        train_id,
        seq: 0,
        step,
        outcome: "accepted".into(),
        at: now_rfc3339(),
        detail: Some(why),
    };
    hub::with_store(ctx.ws, async |store| {
        store.append_release_step(&record).await
    })?;
    Ok(())
}

/// The last line a digest command printed, when it exited 0.
fn digest_of(command: &Cmd, dir: &std::path::Path, version: &str) -> Option<String> {
    let result = run_command(command, dir, Some(version), &|_| {}).ok()?;
    (result.exit == Some(0))
        .then(|| {
            result
                .tail
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_string())
        })
        .flatten()
}

/// Journal the release manager's acceptance of library versions already
/// live (`REPO@VERSION`, the frozen version of a library of this train),
/// once each: from then on this train counts them as its own.
fn accept_live(
    ctx: &Ctx<'_>,
    train_id: i64,
    accepted: &[String],
    versions: &BTreeMap<String, String>,
    journaled: &[ReleaseStep],
) -> Result<(), Failure> {
    for given in accepted {
        let (repo, version) = given.split_once('@').unwrap_or((given, ""));
        if versions.get(repo).map(String::as_str) != Some(version) {
            let frozen: Vec<String> = versions.iter().map(|(r, v)| format!("{r}@{v}")).collect();
            return Err(Failure::usage(
                format!("--accept-live {given} names no library version of this train"),
                Some(format!(
                    "the frozen library versions are: {}",
                    frozen.join(", ")
                )),
            ));
        }
        let step = Step::Publish {
            repo: repo.to_string(),
            version: version.to_string(),
        }
        .to_string();
        if journaled
            .iter()
            .any(|s| s.step == step && s.outcome == "accepted")
        {
            continue;
        }
        let why = format!(
            "the version already live was accepted as this release by {} (--accept-live); \
             this train does not publish it",
            hub::actor(ctx.ws)
        );
        journal_acceptance(ctx, train_id, step, why)?;
    }
    Ok(())
}

/// Why the train may not start: everything checkable, before anything
/// moves. A checkout without the release branch (another machine) says
/// what to fetch.
fn preflight(
    ctx: &Ctx<'_>,
    (frozen, train): (&BTreeMap<String, Frozen>, (&str, i64)),
    versions: &BTreeMap<String, String>,
    journal: (&BTreeSet<String>, &BTreeSet<String>),
) -> Vec<String> {
    let mut reasons: Vec<String> = ctx
        .train
        .repos
        .iter()
        .filter_map(|repo| {
            let dir = ctx.dir(repo);
            let branch = format!("refs/heads/{}", repo.release_branch);
            let found = concord_git::Repo::open(&dir)
                .ok()
                .and_then(|git| git.resolve_commit(&branch).ok().flatten());
            found.is_none().then(|| {
                format!(
                    "{}: this checkout has no branch `{b}`: fetch it with `git -C {} fetch origin {b}:{b}`",
                    repo.name,
                    dir.display(),
                    b = repo.release_branch
                )
            })
        })
        .collect();
    let facts = gather_facts(ctx, (frozen, train), versions, journal);
    if let Err(more) = ship_plan::preflight(&ctx.train, &facts) {
        reasons.extend(more);
    }
    reasons
}

/// A train under way: its plan, what is done, and its record's version.
struct Runner<'a> {
    ctx: &'a Ctx<'a>,
    events: &'a dyn ShipEvents,
    steps: &'a [Step],
    versions: &'a BTreeMap<String, String>,
    /// The train's name (its tags carry it).
    name: &'a str,
    /// What `prepare` froze (release notes included).
    frozen: &'a BTreeMap<String, Frozen>,
    /// Steps done or skipped, by display text.
    done: BTreeSet<String>,
    /// Publish steps whose live version is this train's (attempted or
    /// accepted), by display text.
    vouched: BTreeSet<String>,
    /// The train's record and its compare-and-set counter.
    id: i64,
    version: i64,
}

impl Runner<'_> {
    /// Every step not done yet, in plan order, until one fails.
    fn run_steps(&mut self) -> Result<Ended, Failure> {
        let steps = self.steps;
        for step in steps {
            let text = step.to_string();
            if self.done.contains(&text) {
                continue;
            }
            let observed = observe(self.ctx, step, &self.done, &self.vouched);
            match ship_plan::decide(step, &observed) {
                Decision::Skip(why) => {
                    self.journal(&text, "skipped", Some(why.clone()))?;
                    self.events.skipped(&text, &why);
                    self.done.insert(text);
                    continue;
                }
                Decision::Abort(why) => {
                    self.journal(&text, "failed", Some(why.clone()))?;
                    let failure = refusal(self.ctx, step, &observed, why);
                    return Ok(self.abort(step, failure));
                }
                Decision::Run => {}
            }
            self.events.running(&text);
            self.journal(&text, "started", None)?;
            let result = if let Step::Flip = step {
                self.flip()
            } else {
                let inputs = StepInputs {
                    versions: self.versions,
                    train: (self.name, self.id),
                    frozen: self.frozen,
                };
                execute(self.ctx, step, &inputs, self.events)
            };
            match result {
                Ok(detail) => {
                    self.journal(&text, "done", detail)?;
                    self.done.insert(text);
                }
                Err(failure) => {
                    let outcome = if failure.unobserved {
                        "unknown"
                    } else {
                        "failed"
                    };
                    let detail = format!("{} (exit {:?})", failure.command, failure.exit);
                    self.journal(&text, outcome, Some(detail))?;
                    return Ok(self.abort(step, failure));
                }
            }
        }
        Ok(Ended::Shipped)
    }

    /// Last: the record says shipped only when everything is.
    fn flip(&mut self) -> Result<Option<String>, StepFailure> {
        self.set_status("shipped")
            .map(|()| Some("shipped".to_string()))
            .map_err(|e| failure("(flip the release record)", None, vec![e.message]))
    }

    fn set_status(&mut self, status: &str) -> Result<(), Failure> {
        let (id, version) = (self.id, self.version);
        let moved = hub::with_store(self.ctx.ws, async |store| {
            store
                .set_release_status(id, version, status, &now_rfc3339())
                .await
        })?;
        self.version = moved.version;
        Ok(())
    }

    /// The train stops at `failed`: what the user reads, and the record
    /// says aborted.
    fn abort(&self, failed: &Step, failure: StepFailure) -> Ended {
        let done_steps: BTreeSet<Step> = self
            .steps
            .iter()
            .filter(|s| self.done.contains(&s.to_string()))
            .cloned()
            .collect();
        let config_path = self.ctx.ws.config_path.display().to_string();
        let report = ship_plan::report(
            &self.ctx.train,
            self.steps,
            &done_steps,
            Some((failed, failure)),
            &config_path,
        );
        // The record says the train stopped; a failure to say so is not fatal.
        let (id, version) = (self.id, self.version);
        let _ = hub::with_store(self.ctx.ws, async |store| {
            store
                .set_release_status(id, version, "aborted", &now_rfc3339())
                .await
        });
        Ended::Stopped { report }
    }

    fn journal(&self, step: &str, outcome: &str, detail: Option<String>) -> Result<(), Failure> {
        let record = ReleaseStep {
            train_id: self.id,
            seq: 0,
            step: step.to_string(),
            outcome: outcome.to_string(),
            at: now_rfc3339(),
            detail,
        };
        hub::with_store(self.ctx.ws, async |store| {
            store.append_release_step(&record).await
        })?;
        Ok(())
    }
}

/// Why the plan refused to run a step, as a failure the report can show:
/// the probe that was asked, and whether its answer was known.
fn refusal(ctx: &Ctx<'_>, step: &Step, observed: &Observed, why: String) -> StepFailure {
    let repo = step.repo().and_then(|r| ctx.train.repo(r));
    let publish = repo.and_then(|r| r.publish.as_ref());
    let version = match step {
        Step::Publish { version, .. } => Some(version.as_str()),
        _ => None,
    };
    let yanked = repo.and_then(|r| observed.yanked.get(&r.name));
    let (command, exit, unobserved) = match (publish, yanked) {
        (Some(p), Some(Probe::Done)) => (
            p.is_yanked.as_ref().map(|c| shown(c, version)),
            Some(0),
            false,
        ),
        (Some(p), Some(Probe::Unknown(_))) => {
            (p.is_yanked.as_ref().map(|c| shown(c, version)), None, true)
        }
        (Some(p), _) => (Some(shown(&p.is_published, version)), None, true),
        (None, _) => (None, None, true),
    };
    StepFailure {
        command: command.unwrap_or_else(|| format!("(the probe of {step})")),
        exit,
        tail: vec![why],
        unobserved,
        not_started: false,
    }
}
