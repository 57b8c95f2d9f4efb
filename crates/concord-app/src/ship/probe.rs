//! What is true now, read-only: the probes of a step (is the version
//! published, is the remote at our commit) and the facts preflight checks
//! (clean repos at their frozen commits, commands that exist, remotes that
//! answer, re-pin rules with something to replace).

use super::command::{run_command, shown};
use super::{Ctx, Frozen};
use concord_ship::model::{Command as Cmd, Deploy, Repin, TrainRepo};
use concord_ship::plan::{
    self as ship_plan, CommandCheck, Facts, GitFacts, Observed, Probe, RepoFacts, Step, TagState,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What the probes say about a step now (read-only).
pub(super) fn observe(
    ctx: &Ctx<'_>,
    step: &Step,
    done: &BTreeSet<String>,
    vouched: &BTreeSet<String>,
) -> Observed {
    let mut observed = Observed::default();
    if done.contains(&step.to_string()) {
        observed.done_in_journal.insert(step.clone());
    }
    if vouched.contains(&step.to_string()) {
        observed.vouched.insert(step.clone());
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
    remote_ref(dir, remote, &format!("refs/heads/{branch}"))
}

/// The commit `reference` (a full ref name) is at on `remote`, if it exists.
fn remote_ref(dir: &Path, remote: &str, reference: &str) -> Result<Option<String>, String> {
    let output = std::process::Command::new("git")
        .current_dir(dir)
        .args(["ls-remote", "--", remote, reference])
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
pub(super) fn probe(command: &Cmd, dir: &Path, version: Option<&str>) -> Probe {
    match run_command(command, dir, version, &|_| {}) {
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
        Err(why) => Probe::Unknown(why.to_string()),
    }
}

/// Everything preflight checks, for every repo of the train.
pub(super) fn gather_facts(
    ctx: &Ctx<'_>,
    (frozen, train): (&BTreeMap<String, Frozen>, (&str, i64)),
    versions: &BTreeMap<String, String>,
    (done, vouched): (&BTreeSet<String>, &BTreeSet<String>),
) -> Facts {
    let github_token_set = ctx
        .train
        .github
        .as_ref()
        .map(|g| std::env::var(&g.token_env).is_ok_and(|t| !t.trim().is_empty()));
    Facts {
        github_token_set,
        versions: versions.clone(),
        repos: ctx
            .train
            .repos
            .iter()
            .map(|repo| {
                let commit = frozen
                    .get(&repo.name)
                    .map(|f| f.commit.clone())
                    .unwrap_or_default();
                let mut facts = repo_facts(ctx, repo, &commit, versions, (done, vouched));
                if ctx.train.git.enabled {
                    let tag = ctx.train.git.tag_name(
                        &repo.name,
                        train.0,
                        train.1,
                        versions.get(&repo.name).map(String::as_str),
                    );
                    facts.git = Some(git_facts(ctx, repo, &commit, tag));
                }
                (repo.name.clone(), facts)
            })
            .collect(),
    }
}

/// What preflight checks of one repo frozen at `commit`.
fn repo_facts(
    ctx: &Ctx<'_>,
    repo: &TrainRepo,
    commit: &str,
    versions: &BTreeMap<String, String>,
    (done, vouched): (&BTreeSet<String>, &BTreeSet<String>),
) -> RepoFacts {
    let dir = ctx.dir(repo);
    let git = concord_git::Repo::open(&dir).ok();
    let head = git.as_ref().and_then(|g| g.head().ok().flatten());
    let clean = git
        .as_ref()
        .and_then(|g| g.dirty_paths().ok())
        .is_some_and(|d| d.is_empty());
    let reachable = head.as_deref().is_some_and(|h| {
        h == commit
            || std::process::Command::new("git")
                .current_dir(&dir)
                .args(["merge-base", "--is-ancestor", commit, h])
                .status()
                .is_ok_and(|s| s.success())
    });
    // Past the frozen commit only by this train's own commits.
    let name = repo.name.clone();
    let moved_by_us = done.contains(&Step::Repin { repo: name.clone() }.to_string())
        || done.contains(&Step::LockRefresh { repo: name }.to_string());
    let moved_by_us = moved_by_us
        && head
            .as_deref()
            .is_some_and(|h| only_release_commits(&dir, commit, h));
    let at_frozen = head.as_deref() == Some(commit) || (reachable && moved_by_us);
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
    // A library version live before this train published it.
    let publish_step = versions.get(&repo.name).map(|v| {
        Step::Publish {
            repo: repo.name.clone(),
            version: v.clone(),
        }
        .to_string()
    });
    let live = match (&repo.publish, &publish_step) {
        (Some(p), Some(step)) if !done.contains(step) => Some(probe(
            &p.is_published,
            &dir,
            versions.get(&repo.name).map(String::as_str),
        )),
        _ => None,
    };
    let live_vouched = publish_step.is_some_and(|step| vouched.contains(&step));
    let commands = ship_plan::command_kinds(repo)
        .into_iter()
        .map(|(kind, command)| CommandCheck {
            kind: kind.to_string(),
            found: command_exists(command, &dir),
        })
        .collect();
    RepoFacts {
        clean,
        at_frozen,
        frozen_reachable: reachable,
        deploy_command_exists,
        remote_reachable,
        repin_matches,
        yanked,
        commands,
        live,
        live_vouched,
        git: None,
    }
}

/// What the repo's remote says about telling git what ships: reachable,
/// its main branch an ancestor of the frozen commit (fetched when this
/// checkout does not have it), where the train's tag stands.
fn git_facts(ctx: &Ctx<'_>, repo: &TrainRepo, frozen: &str, tag_name: String) -> GitFacts {
    let dir = ctx.dir(repo);
    let record = &ctx.train.git;
    let main = match remote_head(&dir, &record.remote, &record.main_branch) {
        Ok(main) => main,
        Err(_) => {
            return GitFacts {
                remote_reachable: false,
                main_fast_forward: None,
                tag_name,
                tag: TagState::Unknown("the remote is not reachable".into()),
            };
        }
    };
    let git = concord_git::Repo::open(&dir).ok();
    let is_ancestor = |commit: &str| {
        git.as_ref()
            .and_then(|g| g.is_ancestor(commit, frozen).ok().flatten())
    };
    let main_fast_forward = match main {
        // No main branch there yet: pushing creates it.
        None => Some(true),
        Some(main) => is_ancestor(&main).or_else(|| {
            let fetched = std::process::Command::new("git")
                .current_dir(&dir)
                .args([
                    "fetch",
                    "--quiet",
                    "--",
                    &record.remote,
                    &record.main_branch,
                ])
                .status()
                .is_ok_and(|s| s.success());
            fetched.then(|| is_ancestor(&main)).flatten()
        }),
    };
    // The commit the train ships is the release branch's head (the frozen
    // commit plus the train's own commits).
    let shipped = git.as_ref().and_then(|g| {
        g.resolve_commit(&format!("refs/heads/{}", repo.release_branch))
            .ok()
            .flatten()
    });
    let tag = match remote_ref(&dir, &record.remote, &format!("refs/tags/{tag_name}")) {
        Ok(None) => TagState::Free,
        Ok(Some(at)) if Some(&at) == shipped.as_ref() => TagState::AtShipped,
        Ok(Some(at)) => TagState::Elsewhere(at),
        Err(why) => TagState::Unknown(why),
    };
    GitFacts {
        remote_reachable: true,
        main_fast_forward,
        tag_name,
        tag,
    }
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
fn repin_target(dir: &Path, rule: &Repin, applied: Option<&str>) -> bool {
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

/// Whether `command` can start: an executable file for a path, one on
/// `PATH` for a name; a shell command is assumed to.
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
