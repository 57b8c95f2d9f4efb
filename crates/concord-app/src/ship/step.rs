//! Doing one step of the train: publish, re-pin, refresh the lock, test,
//! deploy. A step that fails says how (`concord_ship::plan::Failure`): the
//! command, its exit and its last lines.

use super::command::{RunError, run_command, shown};
use super::{Ctx, Frozen, ShipEvents};
use concord_ship::model::{Command as Cmd, Deploy, GitRecord, TrainRepo};
use concord_ship::plan::{self as ship_plan, Failure as StepFailure, Step};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Where a step runs and who hears about it.
struct Here<'a> {
    dir: &'a Path,
    /// The repo's name: how its command output is labelled.
    prefix: &'a str,
    events: &'a dyn ShipEvents,
}

/// What a step needs besides the train's configuration.
pub(super) struct StepInputs<'a> {
    pub versions: &'a BTreeMap<String, String>,
    /// The train's name and number (its tags carry them).
    pub train: (&'a str, i64),
    /// What `prepare` froze, release notes included.
    pub frozen: &'a BTreeMap<String, Frozen>,
}

/// Do one step (other than the flip); `Ok(detail)` when it succeeded.
pub(super) fn execute(
    ctx: &Ctx<'_>,
    step: &Step,
    inputs: &StepInputs<'_>,
    events: &dyn ShipEvents,
) -> Result<Option<String>, StepFailure> {
    let (versions, train) = (inputs.versions, inputs.train);
    let repo = step.repo().and_then(|r| ctx.train.repo(r)).ok_or_else(|| {
        failure(
            "(no repo)",
            None,
            vec!["the step names no repo of the train".into()],
        )
    })?;
    let dir = ctx.dir(repo);
    let here = Here {
        dir: &dir,
        prefix: &repo.name,
        events,
    };
    match step {
        Step::Publish { version, .. } => {
            let publish = repo
                .publish
                .as_ref()
                .ok_or_else(|| failure("(publish)", None, vec!["no publish command".into()]))?;
            checked(&publish.command, Some(version), &here)?;
            Ok(None)
        }
        Step::Repin { .. } => repin(repo, &dir, versions),
        Step::LockRefresh { .. } => lock_refresh(ctx, repo, &here),
        Step::Test { .. } => {
            let test = repo
                .test
                .as_ref()
                .ok_or_else(|| failure("(test)", None, vec!["no test command".into()]))?;
            checked(test, None, &here)?;
            Ok(None)
        }
        Step::Deploy { .. } => deploy(&repo.deploy, &here),
        Step::Record { .. } => {
            let tag = ctx.train.git.tag_name(
                &repo.name,
                train.0,
                train.1,
                versions.get(&repo.name).map(String::as_str),
            );
            let recorded = record_in_git(repo, &ctx.train.git, &tag, &here)?;
            let notes = inputs
                .frozen
                .get(&repo.name)
                .map_or(&[][..], |f| &f.notes[..]);
            let released = github_release(ctx, repo, &tag, notes)?;
            Ok(match (recorded, released) {
                (Some(a), Some(b)) => Some(format!("{a}; {b}")),
                (a, b) => a.or(b),
            })
        }
        Step::Flip => Ok(None),
    }
}

/// With `[train.github]` and the repo mapped: the tag's GitHub release,
/// its text the repo's release notes. One that exists already is kept (a
/// resumed train repeats the step safely).
fn github_release(
    ctx: &Ctx<'_>,
    repo: &TrainRepo,
    tag: &str,
    notes: &[concord_ship::notes::NoteGroup],
) -> Result<Option<String>, StepFailure> {
    let Some(github) = &ctx.train.github else {
        return Ok(None);
    };
    let Some(full_name) = github.repos.get(&repo.name) else {
        return Ok(None);
    };
    let what = format!("(GitHub release {tag} of {full_name})");
    let refused = |why: String| failure(&what, None, vec![why]);
    let token = std::env::var(&github.token_env)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| refused(format!("{} is not set", github.token_env)))?;
    let client = concord_trackers::github::GitHub::new(&github.url, &token).map_err(refused)?;
    if client
        .release_by_tag(full_name, tag)
        .map_err(|e| refused(e.to_string()))?
        .is_some()
    {
        return Ok(Some(format!(
            "GitHub release {tag} of {full_name} was there"
        )));
    }
    client
        .create_release(full_name, tag, tag, &notes_markdown(notes))
        .map_err(|e| refused(e.to_string()))?;
    Ok(Some(format!("GitHub release {tag} of {full_name} made")))
}

/// Release notes as Markdown: a heading per group, a line per commit.
fn notes_markdown(notes: &[concord_ship::notes::NoteGroup]) -> String {
    if notes.is_empty() {
        return "No changes since the previous release.\n".into();
    }
    let mut text = String::new();
    for group in notes {
        text.push_str(&format!("### {}\n\n", group.heading));
        for line in &group.lines {
            text.push_str(&format!("- {line}\n"));
        }
        text.push('\n');
    }
    text
}

/// Tell git what shipped: push the release branch, fast-forward the main
/// branch to it on the remote (a push the remote refuses unless it is a
/// fast-forward) and here, tag the shipped commit and push the tag. Each
/// part is a no-op when already done, so a resumed train repeats it safely;
/// a tag at another commit is never moved.
fn record_in_git(
    repo: &TrainRepo,
    record: &GitRecord,
    tag: &str,
    here: &Here<'_>,
) -> Result<Option<String>, StepFailure> {
    let git = |args: &[&str]| Cmd {
        argv: std::iter::once("git")
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect(),
        shell: false,
        timeout: Duration::from_secs(600),
    };
    let (remote, main) = (record.remote.as_str(), record.main_branch.as_str());
    let release = format!("refs/heads/{}", repo.release_branch);
    let shipped = concord_git::Repo::open(here.dir)
        .ok()
        .and_then(|g| g.resolve_commit(&release).ok().flatten())
        .ok_or_else(|| {
            failure(
                "(record in git)",
                None,
                vec![format!("no branch `{}` here", repo.release_branch)],
            )
        })?;
    checked(
        &git(&["push", "--quiet", remote, &format!("{release}:{release}")]),
        None,
        here,
    )?;
    checked(
        &git(&[
            "push",
            "--quiet",
            remote,
            &format!("{release}:refs/heads/{main}"),
        ]),
        None,
        here,
    )?;
    // `fetch .` moves a local branch only by fast-forward.
    checked(
        &git(&[
            "fetch",
            "--quiet",
            ".",
            &format!("{release}:refs/heads/{main}"),
        ]),
        None,
        here,
    )?;
    let existing = concord_git::Repo::open(here.dir)
        .ok()
        .and_then(|g| g.resolve_commit(&format!("refs/tags/{tag}")).ok().flatten());
    match existing {
        Some(at) if at == shipped => {}
        Some(at) => {
            return Err(failure(
                &format!("git tag {tag}"),
                None,
                vec![format!(
                    "tag `{tag}` exists here at another commit ({at}): not moved"
                )],
            ));
        }
        None => checked(&git(&["tag", tag, &shipped]), None, here)?,
    }
    checked(
        &git(&["push", "--quiet", remote, &format!("refs/tags/{tag}")]),
        None,
        here,
    )?;
    Ok(Some(format!(
        "{remote}: {} and {main} at {}, tag {tag}",
        repo.release_branch,
        shipped.get(..12).unwrap_or(&shipped)
    )))
}

/// Refresh the lock file, retrying as `[retry]` says (a registry may be
/// slow to show a version just published), and commit it.
fn lock_refresh(
    ctx: &Ctx<'_>,
    repo: &TrainRepo,
    here: &Here<'_>,
) -> Result<Option<String>, StepFailure> {
    let command = repo.lock_refresh.as_ref().ok_or_else(|| {
        failure(
            "(lock refresh)",
            None,
            vec!["no lock_refresh command".into()],
        )
    })?;
    let mut attempt = 1;
    loop {
        match checked(command, None, here) {
            Ok(()) => break,
            Err(e) => match ship_plan::next_delay(&ctx.train.retry, attempt) {
                Some(delay) => {
                    here.events.retrying(here.prefix, attempt, delay);
                    std::thread::sleep(delay);
                    attempt += 1;
                }
                None => return Err(e),
            },
        }
    }
    commit_changes(here.dir, "chore(release): refresh the lock file")
}

fn deploy(deploy: &Deploy, here: &Here<'_>) -> Result<Option<String>, StepFailure> {
    match deploy {
        Deploy::GitPush {
            remote,
            branch,
            smoke,
        } => {
            let push = Cmd {
                argv: vec![
                    "git".into(),
                    "push".into(),
                    "--quiet".into(),
                    remote.clone(),
                    format!("HEAD:refs/heads/{branch}"),
                ],
                shell: false,
                timeout: Duration::from_secs(600),
            };
            checked(&push, None, here)?;
            if let Some(smoke) = smoke {
                checked(smoke, None, here)?;
            }
        }
        Deploy::Script { command } => checked(command, None, here)?,
        Deploy::None => {}
    }
    Ok(None)
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

/// Commit whatever the step changed in the repo, if anything.
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

/// A step that failed before or outside a command of the train.
pub(super) fn failure(command: &str, exit: Option<i32>, tail: Vec<String>) -> StepFailure {
    StepFailure {
        command: command.to_string(),
        exit,
        tail,
        unobserved: false,
        not_started: false,
    }
}

/// Run a step's command; a non-zero exit is the step failing.
fn checked(command: &Cmd, version: Option<&str>, here: &Here<'_>) -> Result<(), StepFailure> {
    let on_line = |line: &str| here.events.output(here.prefix, line);
    match run_command(command, here.dir, version, &on_line) {
        Ok(result) if result.exit == Some(0) => Ok(()),
        Ok(result) => Err(StepFailure {
            command: shown(command, version),
            exit: result.exit,
            tail: result.tail,
            // Killed by the timeout: we cannot tell what it did.
            unobserved: result.timed_out,
            not_started: false,
        }),
        Err(RunError::NotStarted(why)) => Err(StepFailure {
            not_started: true,
            ..failure(&shown(command, version), None, vec![why])
        }),
        // Started, then lost: what it did is unknown.
        Err(RunError::Lost(why)) => Err(StepFailure {
            unobserved: true,
            ..failure(&shown(command, version), None, vec![why])
        }),
    }
}
