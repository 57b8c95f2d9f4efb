//! `concord ship`: run a release train across repos. The decisions (order,
//! idempotency, preflight, the abort report) are `concord_ship::plan`'s;
//! this file gathers facts, runs commands and journals every step.

use crate::Outcome;
use crate::hub::{self, Failure};
use concord_ship::model::{Command as Cmd, Deploy, Train, TrainRepo};
use concord_ship::plan::{
    self as ship_plan, Decision, Facts, Failure as StepFailure, Observed, Probe, RepoFacts, Step,
};
use concord_store::{ReleaseStep, ReleaseTrain, now_rfc3339};
use concord_workspace::Workspace;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The train's configuration (default: release.toml beside concord.toml).
    #[arg(long, value_name = "PATH", global = true)]
    release: Option<PathBuf>,
    /// The train's name (several trains may share one hub).
    #[arg(long, default_value = "release", global = true)]
    name: String,
    #[command(subcommand)]
    command: ShipCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ShipCommand {
    /// Freeze the train: each repo's release commit and each library's version.
    Prepare,
    /// Print the ordered steps and what each probe says now; change nothing.
    Plan {
        #[arg(long)]
        json: bool,
    },
    /// Check everything, then run the train; stop at the first failure.
    Run,
    /// Continue a stopped train: what was done is not done again.
    Resume,
    /// Show the train and its steps.
    Status {
        #[arg(long)]
        json: bool,
    },
}

/// The frozen state of one repo, as `prepare` recorded it.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
struct Frozen {
    commit: String,
    version: Option<String>,
}

struct Ctx<'a> {
    ws: &'a Workspace,
    train: Train,
    base: PathBuf,
}

impl Ctx<'_> {
    fn dir(&self, repo: &TrainRepo) -> PathBuf {
        self.base.join(&repo.path)
    }
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let path = args
        .release
        .clone()
        .unwrap_or_else(|| ws.root.join("release.toml"));
    let train = concord_ship::config::load(&path).map_err(|e| Failure {
        message: e.to_string(),
        help: e.help.clone(),
        outcome: Outcome::ConfigError,
    })?;
    let ctx = Ctx {
        ws,
        train,
        base: path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    match &args.command {
        ShipCommand::Prepare => prepare(&ctx, &args.name),
        ShipCommand::Plan { json } => show_plan(&ctx, &args.name, *json),
        ShipCommand::Run | ShipCommand::Resume => go(&ctx, &args.name),
        ShipCommand::Status { json } => status(&ctx, &args.name, *json),
    }
}

fn prepare(ctx: &Ctx<'_>, name: &str) -> Result<Outcome, Failure> {
    let mut frozen: BTreeMap<String, Frozen> = BTreeMap::new();
    for repo in &ctx.train.repos {
        let dir = ctx.dir(repo);
        let git = concord_git::Repo::open(&dir)
            .map_err(|e| Failure::usage(format!("repo {}: {e}", repo.name), None))?;
        let commit = git
            .resolve_commit(&format!("refs/heads/{}", repo.release_branch))
            .map_err(|e| Failure::usage(format!("repo {}: {e}", repo.name), None))?
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
            Some(publish) => {
                let files = git
                    .tree_files(&commit, &|p| p == publish.version_file)
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
                                &commit[..commit.len().min(10)]
                            ),
                            None,
                        )
                    })?;
                let regex = regex::Regex::new(&publish.version_regex)
                    .map_err(|e| Failure::usage(e.to_string(), None))?;
                let version = regex
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
                    })?;
                Some(version)
            }
            None => None,
        };
        frozen.insert(repo.name.clone(), Frozen { commit, version });
    }
    let versions = versions_of(&frozen);
    let problems = ship_plan::validate(&ctx.train, &versions);
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
        name: name.to_string(),
        created_at: now.clone(),
        actor: hub::actor(ctx.ws),
        status: "prepared".into(),
        frozen: serde_json::to_string(&frozen).unwrap_or_default(),
        version: 0,
        updated_at: now,
    };
    let id = hub::with_store(ctx.ws, async |store| store.add_release_train(&record).await)?;
    println!("train {name} #{id} frozen:");
    for (repo, f) in &frozen {
        match &f.version {
            Some(v) => println!(
                "  {repo}  {}  version {v}",
                &f.commit[..f.commit.len().min(10)]
            ),
            None => println!("  {repo}  {}", &f.commit[..f.commit.len().min(10)]),
        }
    }
    Ok(Outcome::Clean)
}

fn versions_of(frozen: &BTreeMap<String, Frozen>) -> BTreeMap<String, String> {
    frozen
        .iter()
        .filter_map(|(name, f)| f.version.clone().map(|v| (name.clone(), v)))
        .collect()
}

/// A train as stored: its record, frozen state and journaled steps.
type Loaded = (ReleaseTrain, BTreeMap<String, Frozen>, Vec<ReleaseStep>);

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
    Ok((train, frozen, steps))
}

/// Steps journaled as done or skipped (by display text).
fn finished(steps: &[ReleaseStep]) -> BTreeSet<String> {
    steps
        .iter()
        .filter(|s| s.outcome == "done" || s.outcome == "skipped")
        .map(|s| s.step.clone())
        .collect()
}

fn show_plan(ctx: &Ctx<'_>, name: &str, json: bool) -> Result<Outcome, Failure> {
    let (_, frozen, journaled) = load_train(ctx, name)?;
    let versions = versions_of(&frozen);
    let steps =
        ship_plan::plan(&ctx.train, &versions).map_err(|e| Failure::usage(e.to_string(), None))?;
    let done = finished(&journaled);
    let mut rows = Vec::new();
    for step in &steps {
        let observed = observe(ctx, step, &done);
        let decision = ship_plan::decide(step, &observed);
        rows.push((step.to_string(), decision));
    }
    if json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(step, decision)| serde_json::json!({ "step": step, "decision": decision }))
            .collect();
        println!("{}", serde_json::Value::from(list));
    } else {
        for (step, decision) in rows {
            let said = match decision {
                Decision::Run => "to do".to_string(),
                Decision::Skip(why) => format!("skip: {why}"),
                Decision::Abort(why) => format!("would stop: {why}"),
            };
            println!("{step:<40} {said}");
        }
    }
    Ok(Outcome::Clean)
}

fn status(ctx: &Ctx<'_>, name: &str, json: bool) -> Result<Outcome, Failure> {
    let (train, frozen, steps) = load_train(ctx, name)?;
    if json {
        let value = serde_json::json!({
            "id": train.id,
            "name": train.name,
            "status": train.status,
            "created_at": train.created_at,
            "frozen": frozen.iter().map(|(k, f)| (k.clone(), serde_json::json!({"commit": f.commit, "version": f.version}))).collect::<serde_json::Map<_, _>>(),
            "steps": steps.iter().map(|s| serde_json::json!({"step": s.step, "outcome": s.outcome, "at": s.at, "detail": s.detail})).collect::<Vec<_>>(),
        });
        println!("{value}");
    } else {
        println!("train {} #{}: {}", train.name, train.id, train.status);
        for s in &steps {
            println!("  {:>3}  {:<8} {}", s.seq, s.outcome, s.step);
        }
    }
    Ok(Outcome::Clean)
}

/// Run (or resume) the latest train.
fn go(ctx: &Ctx<'_>, name: &str) -> Result<Outcome, Failure> {
    let (train, frozen, journaled) = load_train(ctx, name)?;
    if train.status == "shipped" {
        println!("train {name} #{} is shipped: nothing to do", train.id);
        return Ok(Outcome::Clean);
    }
    let versions = versions_of(&frozen);
    let steps =
        ship_plan::plan(&ctx.train, &versions).map_err(|e| Failure::usage(e.to_string(), None))?;
    let mut done = finished(&journaled);

    // Preflight: everything checkable, before anything moves. A checkout
    // without the release branch (another machine) says what to fetch.
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
    let facts = gather_facts(ctx, &frozen, &versions, &done);
    if let Err(more) = ship_plan::preflight(&ctx.train, &facts) {
        reasons.extend(more);
    }
    if !reasons.is_empty() {
        println!("preflight refused: nothing was moved");
        for reason in reasons {
            println!("  - {reason}");
        }
        return Ok(Outcome::Findings);
    }
    let mut version = train.version;
    if train.status != "shipping" {
        let moved = hub::with_store(ctx.ws, async |store| {
            store
                .set_release_status(train.id, version, "shipping", &now_rfc3339())
                .await
        })?;
        version = moved.version;
    }

    let config_path = ctx.ws.config_path.display().to_string();
    for step in &steps {
        let text = step.to_string();
        if done.contains(&text) {
            continue;
        }
        let observed = observe(ctx, step, &done);
        match ship_plan::decide(step, &observed) {
            Decision::Skip(why) => {
                journal(ctx, train.id, &text, "skipped", Some(why.clone()))?;
                println!("{text}: skipped ({why})");
                done.insert(text);
                continue;
            }
            Decision::Abort(why) => {
                journal(ctx, train.id, &text, "failed", Some(why.clone()))?;
                let failure = refusal(ctx, step, &observed, why);
                return abort(
                    ctx,
                    &steps,
                    &done,
                    step,
                    failure,
                    &config_path,
                    train.id,
                    version,
                );
            }
            Decision::Run => {}
        }
        println!("{text}: running");
        journal(ctx, train.id, &text, "started", None)?;
        let result = if let Step::Flip = step {
            // Last: the record says shipped only when everything is.
            hub::with_store(ctx.ws, async |store| {
                store
                    .set_release_status(train.id, version, "shipped", &now_rfc3339())
                    .await
            })
            .map(|moved| {
                version = moved.version;
                Some("shipped".to_string())
            })
            .map_err(|e| failure("(flip the release record)", None, vec![e.message]))
        } else {
            execute(ctx, step, &versions)
        };
        match result {
            Ok(detail) => {
                journal(ctx, train.id, &text, "done", detail)?;
                done.insert(text);
            }
            Err(failure) => {
                let outcome = if failure.unobserved {
                    "unknown"
                } else {
                    "failed"
                };
                journal(
                    ctx,
                    train.id,
                    &text,
                    outcome,
                    Some(format!("{} (exit {:?})", failure.command, failure.exit)),
                )?;
                return abort(
                    ctx,
                    &steps,
                    &done,
                    step,
                    failure,
                    &config_path,
                    train.id,
                    version,
                );
            }
        }
    }
    println!("train {name} #{} shipped", train.id);
    Ok(Outcome::Clean)
}

#[allow(clippy::too_many_arguments)]
fn abort(
    ctx: &Ctx<'_>,
    steps: &[Step],
    done: &BTreeSet<String>,
    failed: &Step,
    failure: StepFailure,
    config_path: &str,
    id: i64,
    version: i64,
) -> Result<Outcome, Failure> {
    let done_steps: BTreeSet<Step> = steps
        .iter()
        .filter(|s| done.contains(&s.to_string()))
        .cloned()
        .collect();
    let report = ship_plan::report(
        &ctx.train,
        steps,
        &done_steps,
        Some((failed, failure)),
        config_path,
    );
    println!("{report}");
    // The record says the train stopped; a failure to say so is not fatal.
    let _ = hub::with_store(ctx.ws, async |store| {
        store
            .set_release_status(id, version, "aborted", &now_rfc3339())
            .await
    });
    Ok(Outcome::PartialFailure)
}

fn journal(
    ctx: &Ctx<'_>,
    train_id: i64,
    step: &str,
    outcome: &str,
    detail: Option<String>,
) -> Result<(), Failure> {
    let record = ReleaseStep {
        train_id,
        seq: 0,
        step: step.to_string(),
        outcome: outcome.to_string(),
        at: now_rfc3339(),
        detail,
    };
    hub::with_store(ctx.ws, async |store| {
        store.append_release_step(&record).await
    })?;
    Ok(())
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
    }
}

/// What the probes say about a step now (read-only).
fn observe(ctx: &Ctx<'_>, step: &Step, done: &BTreeSet<String>) -> Observed {
    let mut observed = Observed::default();
    if done.contains(&step.to_string()) {
        observed.done_in_journal.insert(step.clone());
    }
    let Some(repo) = step.repo().and_then(|r| ctx.train.repo(r)) else {
        return observed;
    };
    let dir = ctx.dir(repo);
    match step {
        Step::Publish { version, .. } => {
            if let Some(publish) = &repo.publish {
                observed.probes.insert(
                    step.clone(),
                    probe(&publish.is_published, &dir, Some(version)),
                );
                if let Some(yanked) = &publish.is_yanked {
                    observed
                        .yanked
                        .insert(repo.name.clone(), probe(yanked, &dir, Some(version)));
                }
            }
        }
        Step::Deploy { .. } => {
            // With a smoke check the step always runs (the push of a commit
            // already there is a no-op, the smoke check is not).
            if let Deploy::GitPush {
                remote,
                branch,
                smoke: None,
            } = &repo.deploy
            {
                let head = concord_git::Repo::open(&dir)
                    .ok()
                    .and_then(|g| g.head().ok().flatten());
                let there = remote_head(&dir, remote, branch);
                let answer = match (head, there) {
                    (Some(head), Ok(Some(there))) if head == there => Probe::Done,
                    (_, Err(why)) => Probe::Unknown(why),
                    _ => Probe::NotDone,
                };
                observed.probes.insert(step.clone(), answer);
            }
        }
        _ => {}
    }
    observed
}

/// The commit a remote's branch points at (`git ls-remote`).
fn remote_head(dir: &Path, remote: &str, branch: &str) -> Result<Option<String>, String> {
    let output = std::process::Command::new("git")
        .current_dir(dir)
        .args(["ls-remote", "--", remote, &format!("refs/heads/{branch}")])
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "git ls-remote {remote}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .map(str::to_string))
}

/// Exit 0: yes; 1: no; anything else (or not starting): unknown.
fn probe(command: &Cmd, dir: &Path, version: Option<&str>) -> Probe {
    match run_command(command, dir, version, None) {
        Ok(result) => match result.exit {
            Some(0) => Probe::Done,
            Some(1) => Probe::NotDone,
            other => Probe::Unknown(format!(
                "{} answered {}",
                shown(command, version),
                other.map_or("nothing (killed or timed out)".to_string(), |c| format!(
                    "exit {c}"
                ))
            )),
        },
        Err(why) => Probe::Unknown(why),
    }
}

fn gather_facts(
    ctx: &Ctx<'_>,
    frozen: &BTreeMap<String, Frozen>,
    versions: &BTreeMap<String, String>,
    done: &BTreeSet<String>,
) -> Facts {
    let mut facts = Facts {
        versions: versions.clone(),
        repos: BTreeMap::new(),
    };
    for repo in &ctx.train.repos {
        let dir = ctx.dir(repo);
        let git = concord_git::Repo::open(&dir).ok();
        let head = git.as_ref().and_then(|g| g.head().ok().flatten());
        let commit = frozen
            .get(&repo.name)
            .map(|f| f.commit.clone())
            .unwrap_or_default();
        let clean = git
            .as_ref()
            .and_then(|g| g.dirty_paths().ok())
            .is_some_and(|d| d.is_empty());
        let reachable = head.as_deref().is_some_and(|h| {
            h == commit
                || std::process::Command::new("git")
                    .current_dir(&dir)
                    .args(["merge-base", "--is-ancestor", &commit, h])
                    .status()
                    .is_ok_and(|s| s.success())
        });
        // Past the frozen commit only by this train's own commits.
        let moved_by_us = done.contains(
            &Step::Repin {
                repo: repo.name.clone(),
            }
            .to_string(),
        ) || done.contains(
            &Step::LockRefresh {
                repo: repo.name.clone(),
            }
            .to_string(),
        );
        let moved_by_us = moved_by_us
            && head
                .as_deref()
                .is_some_and(|h| only_release_commits(&dir, &commit, h));
        let at_frozen = head.as_deref() == Some(commit.as_str()) || (reachable && moved_by_us);
        let (deploy_command_exists, remote_reachable) = match &repo.deploy {
            Deploy::Script { command } => (Some(command_exists(command, &dir)), None),
            Deploy::GitPush { remote, smoke, .. } => (
                smoke.as_ref().map(|s| command_exists(s, &dir)),
                Some(remote_head(&dir, remote, "HEAD").is_ok()),
            ),
            Deploy::None => (None, None),
        };
        let repin_matches = repo
            .repins
            .iter()
            .map(|rule| {
                let applied = versions
                    .get(&rule.library)
                    .map(|v| rule.replace.replace("{version}", v));
                (
                    rule.glob.clone(),
                    repin_target(&dir, rule, applied.as_deref()),
                )
            })
            .collect();
        let yanked = repo.publish.as_ref().and_then(|p| {
            p.is_yanked
                .as_ref()
                .map(|cmd| probe(cmd, &dir, versions.get(&repo.name).map(String::as_str)))
        });
        facts.repos.insert(
            repo.name.clone(),
            RepoFacts {
                clean,
                at_frozen,
                frozen_reachable: reachable,
                deploy_command_exists,
                remote_reachable,
                repin_matches,
                yanked,
            },
        );
    }
    facts
}

/// Whether every commit in `from..to` is one the train made (its subject
/// starts `chore(release):`).
fn only_release_commits(dir: &Path, from: &str, to: &str) -> bool {
    std::process::Command::new("git")
        .current_dir(dir)
        .args(["log", "--format=%s", &format!("{from}..{to}")])
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .all(|subject| subject.starts_with("chore(release):"))
        })
}

/// Whether a re-pin rule has something to replace (or was applied already).
fn repin_target(dir: &Path, rule: &concord_ship::model::Repin, applied: Option<&str>) -> bool {
    let Ok(glob) = globset::Glob::new(&rule.glob) else {
        return false;
    };
    let matcher = glob.compile_matcher();
    let Ok(regex) = regex::Regex::new(&rule.regex) else {
        return false;
    };
    crate::repo_files::walk(dir, &[]).any(|(rel, path)| {
        matcher.is_match(&rel)
            && std::fs::read_to_string(&path).is_ok_and(|text| {
                regex.is_match(&text) || applied.is_some_and(|a| text.contains(a))
            })
    })
}

fn command_exists(command: &Cmd, dir: &Path) -> bool {
    if command.shell {
        return true;
    }
    let Some(program) = command.argv.first() else {
        return false;
    };
    let executable = |path: &Path| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            path.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        }
        #[cfg(not(unix))]
        {
            path.is_file()
        }
    };
    if program.contains('/') {
        let path = Path::new(program);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            dir.join(path)
        };
        return executable(&path);
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| executable(&p.join(program))))
}

/// Do one step; `Ok(detail)` when it succeeded.
fn execute(
    ctx: &Ctx<'_>,
    step: &Step,
    versions: &BTreeMap<String, String>,
) -> Result<Option<String>, StepFailure> {
    let repo = step.repo().and_then(|r| ctx.train.repo(r)).ok_or_else(|| {
        failure(
            "(no repo)",
            None,
            vec!["the step names no repo of the train".into()],
        )
    })?;
    let dir = ctx.dir(repo);
    let prefix = repo.name.as_str();
    match step {
        Step::Publish { version, .. } => {
            let publish = repo
                .publish
                .as_ref()
                .ok_or_else(|| failure("(publish)", None, vec!["no publish command".into()]))?;
            checked(&publish.command, &dir, Some(version), prefix)?;
            Ok(None)
        }
        Step::Repin { .. } => repin(repo, &dir, versions),
        Step::LockRefresh { .. } => {
            let command = repo.lock_refresh.as_ref().ok_or_else(|| {
                failure(
                    "(lock refresh)",
                    None,
                    vec!["no lock_refresh command".into()],
                )
            })?;
            let mut attempt = 1;
            loop {
                match checked(command, &dir, None, prefix) {
                    Ok(()) => break,
                    Err(e) => match ship_plan::next_delay(&ctx.train.retry, attempt) {
                        Some(delay) => {
                            println!(
                                "[{prefix}] lock refresh failed (attempt {attempt}); retrying in {delay:?}"
                            );
                            std::thread::sleep(delay);
                            attempt += 1;
                        }
                        None => return Err(e),
                    },
                }
            }
            commit_changes(&dir, "chore(release): refresh the lock file")
        }
        Step::Test { .. } => {
            let test = repo
                .test
                .as_ref()
                .ok_or_else(|| failure("(test)", None, vec!["no test command".into()]))?;
            checked(test, &dir, None, prefix)?;
            Ok(None)
        }
        Step::Deploy { .. } => match &repo.deploy {
            Deploy::GitPush {
                remote,
                branch,
                smoke,
            } => {
                let refspec = format!("HEAD:refs/heads/{branch}");
                let push = Cmd {
                    argv: vec![
                        "git".into(),
                        "push".into(),
                        "--quiet".into(),
                        remote.clone(),
                        refspec,
                    ],
                    shell: false,
                    timeout: Duration::from_secs(600),
                };
                checked(&push, &dir, None, prefix)?;
                if let Some(smoke) = smoke {
                    checked(smoke, &dir, None, prefix)?;
                }
                Ok(None)
            }
            Deploy::Script { command } => {
                checked(command, &dir, None, prefix)?;
                Ok(None)
            }
            Deploy::None => Ok(None),
        },
        Step::Flip => Ok(None),
    }
}

/// Replace branch references by versions in the rule's files and commit.
fn repin(
    repo: &TrainRepo,
    dir: &Path,
    versions: &BTreeMap<String, String>,
) -> Result<Option<String>, StepFailure> {
    let mut changed = Vec::new();
    for rule in &repo.repins {
        let version = versions.get(&rule.library).ok_or_else(|| {
            failure(
                "(re-pin)",
                None,
                vec![format!("no version for {}", rule.library)],
            )
        })?;
        let regex = regex::Regex::new(&rule.regex)
            .map_err(|e| failure("(re-pin)", None, vec![e.to_string()]))?;
        let matcher = globset::Glob::new(&rule.glob)
            .map_err(|e| failure("(re-pin)", None, vec![e.to_string()]))?
            .compile_matcher();
        let replacement = rule.replace.replace("{version}", version);
        for (rel, path) in crate::repo_files::walk(dir, &[]) {
            if !matcher.is_match(&rel) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let new = regex.replace_all(&text, regex::NoExpand(&replacement));
            if new != text {
                concord_workspace::write_atomic(&path, new.as_bytes())
                    .map_err(|e| failure("(re-pin)", None, vec![format!("{rel}: {e}")]))?;
                changed.push(rel);
            }
        }
    }
    if changed.is_empty() {
        return Ok(Some("already pinned".into()));
    }
    let git =
        concord_git::Repo::open(dir).map_err(|e| failure("git", None, vec![e.to_string()]))?;
    let pins: Vec<String> = repo
        .repins
        .iter()
        .filter_map(|r| {
            versions
                .get(&r.library)
                .map(|v| format!("{} {v}", r.library))
        })
        .collect();
    git.commit_paths(
        &changed,
        &format!("chore(release): pin {}\n", pins.join(", ")),
    )
    .map_err(|e| failure("git commit", None, vec![e.to_string()]))?;
    Ok(Some(format!("pinned in {}", changed.join(", "))))
}

fn commit_changes(dir: &Path, message: &str) -> Result<Option<String>, StepFailure> {
    let git =
        concord_git::Repo::open(dir).map_err(|e| failure("git", None, vec![e.to_string()]))?;
    let dirty: Vec<String> = git
        .dirty_paths()
        .map_err(|e| failure("git status", None, vec![e.to_string()]))?
        .into_iter()
        .collect();
    if dirty.is_empty() {
        return Ok(None);
    }
    git.commit_paths(&dirty, &format!("{message}\n"))
        .map_err(|e| failure("git commit", None, vec![e.to_string()]))?;
    Ok(Some(format!("committed {}", dirty.join(", "))))
}

fn failure(command: &str, exit: Option<i32>, tail: Vec<String>) -> StepFailure {
    StepFailure {
        command: command.to_string(),
        exit,
        tail,
        unobserved: false,
    }
}

/// Run a step's command; a non-zero exit is the step failing.
fn checked(
    command: &Cmd,
    dir: &Path,
    version: Option<&str>,
    prefix: &str,
) -> Result<(), StepFailure> {
    match run_command(command, dir, version, Some(prefix)) {
        Ok(result) if result.exit == Some(0) => Ok(()),
        Ok(result) => Err(StepFailure {
            command: shown(command, version),
            exit: result.exit,
            tail: result.tail,
            // Killed by the timeout: we cannot tell what it did.
            unobserved: result.timed_out,
        }),
        Err(why) => Err(failure(&shown(command, version), None, vec![why])),
    }
}

fn shown(command: &Cmd, version: Option<&str>) -> String {
    argv_of(command, version).join(" ")
}

fn argv_of(command: &Cmd, version: Option<&str>) -> Vec<String> {
    command
        .argv
        .iter()
        .map(|a| match version {
            Some(v) => a.replace("{version}", v),
            None => a.clone(),
        })
        .collect()
}

struct RunResult {
    exit: Option<i32>,
    tail: Vec<String>,
    timed_out: bool,
}

/// Run `command` in `dir`: an argument vector (`sh -c` only when the
/// config says `shell = true`), output streamed with `[prefix]` when
/// given, the last lines kept, killed after its timeout.
fn run_command(
    command: &Cmd,
    dir: &Path,
    version: Option<&str>,
    prefix: Option<&str>,
) -> Result<RunResult, String> {
    let argv = argv_of(command, version);
    let mut process = if command.shell {
        let mut p = std::process::Command::new("sh");
        p.arg("-c").arg(argv.join(" "));
        p
    } else {
        let Some((program, args)) = argv.split_first() else {
            return Err("empty command".into());
        };
        let program = if program.contains('/') && !Path::new(program).is_absolute() {
            dir.join(program).display().to_string()
        } else {
            program.clone()
        };
        let mut p = std::process::Command::new(program);
        p.args(args);
        p
    };
    let mut child = process
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", argv.join(" ")))?;
    let tail = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
    let mut readers = Vec::new();
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tail = tail.clone();
        let prefix = prefix.map(str::to_string);
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Some(prefix) = &prefix {
                    println!("[{prefix}] {line}");
                }
                if let Ok(mut tail) = tail.lock() {
                    tail.push_back(line);
                    if tail.len() > ship_plan::TAIL_LINES {
                        tail.pop_front();
                    }
                }
            }
        }));
    }
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= command.timeout => {
                let _ = child.kill();
                timed_out = true;
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for {}: {e}", argv.join(" "))),
        }
    };
    for reader in readers {
        let _ = reader.join();
    }
    let tail = tail
        .lock()
        .map(|t| t.iter().cloned().collect())
        .unwrap_or_default();
    Ok(RunResult {
        exit: if timed_out {
            None
        } else {
            status.and_then(|s| s.code())
        },
        tail,
        timed_out,
    })
}
