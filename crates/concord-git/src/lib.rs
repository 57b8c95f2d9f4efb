//! The imperative shell's git adapter for sync: how a repository stands
//! (its head, branch, upstream, how far behind or ahead, an operation in
//! progress, a locked index), which files are dirty, which files changed
//! since a watermark commit, committing only the paths concord wrote, and
//! fetch / pull / push.
//!
//! # Why the `git` binary
//!
//! Every operation runs the user's `git` as a subprocess
//! ([`std::process::Command`]) rather than linking a git library:
//!
//! - it is portable: wherever the user works with git, the `git` binary is
//!   there, with no native library to build or version to match;
//! - it supports every operation needed here, with git's own semantics —
//!   `commit --only` (commit some paths, keep the rest of the index),
//!   hooks, `pull --ff-only`, and `fetch` / `push` with the user's
//!   credentials, credential helpers, ssh setup, proxies, `insteadOf`
//!   rewrites and every other piece of their configuration; the libraries
//!   lack some of these (partial commits, hooks, transports or credential
//!   helpers) or implement them with subtly different behaviour;
//! - the repository format and its extensions are whatever the user's git
//!   understands, so concord never writes something their git cannot read.
//!
//! # How git is run
//!
//! Always as `git -C <root> …` with `GIT_TERMINAL_PROMPT=0` (never ask for
//! a password on the terminal), `LC_ALL=C` (stable messages) and, for
//! read-only commands, `GIT_OPTIONAL_LOCKS=0` (do not take the index lock
//! just to refresh it, so reads never collide with the user's own git
//! commands). Standard input is closed; standard output and standard error
//! are captured, never printed: a failure carries git's message in its
//! [`GitError`]. The repository is addressed by its root alone:
//! repository-locating variables such as `GIT_DIR` or `GIT_INDEX_FILE`
//! inherited from a parent git (a hook running concord) are removed.
//!
//! Paths are repository-relative, with `/` separators, as `String`s; they
//! are always passed to git as literal pathspecs (`:(literal)<path>`, so a
//! `*` or `?` in a file name matches only that file).
#![forbid(unsafe_code)]

mod replica;
mod status_cache;
pub use replica::ReplicaId;
pub use status_cache::{StatusFrom, status_memory_off};

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Variables that would point git at another repository, index or object
/// store than the one at [`Repo::root`]; set by git for its hooks.
const REPO_LOCATION_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
];

/// A failure to run git or a git command that failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The folder is not inside a git work tree (or does not exist).
    #[error("{} is not inside a git work tree: {stderr}", root.display())]
    NotAWorkTree {
        /// The folder that was opened.
        root: PathBuf,
        /// What git said.
        stderr: String,
    },
    /// The `git` binary could not be started (not installed, not on `PATH`).
    #[error("could not run `{command}` (is git installed and on PATH?): {source}")]
    Spawn {
        /// The command line, for the message.
        command: String,
        /// Why it could not be started.
        source: io::Error,
    },
    /// Git ran and exited with a failure.
    #[error("`{command}` failed ({}): {stderr}", exit_text(*code))]
    Failed {
        /// The command line, for the message.
        command: String,
        /// The exit code, `None` when git was killed by a signal.
        code: Option<i32>,
        /// Git's message: its standard error, or its standard output when
        /// the error stream was empty (`commit` reports "nothing to commit"
        /// there).
        stderr: String,
    },
    /// Git succeeded but printed something this adapter cannot read.
    #[error("unexpected output from `{command}`: {detail}")]
    UnexpectedOutput {
        /// The command line, for the message.
        command: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The current branch has no upstream to push to.
    #[error(
        "{} has no upstream branch to push to (detached HEAD or no tracking branch): set one with `git -C {} push -u <remote> <branch>`",
        root.display(), shell_quote(&root.to_string_lossy())
    )]
    NoUpstream {
        /// The repository root.
        root: PathBuf,
    },
    /// A local file operation around git (the commit message file) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exit code {code}"),
        None => "killed by a signal".to_owned(),
    }
}

/// How a best-effort [`Repo::fetch`] or [`Repo::fetch_upstream`] went. Never an error: being offline
/// must not stop a sync that can proceed on what is known locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The upstream remote was fetched (or the upstream is a local branch,
    /// which is always current).
    Fetched,
    /// The current branch has no upstream (or HEAD is detached): nothing
    /// to fetch.
    NoUpstream,
    /// The fetch failed or timed out; git's message (or the timeout).
    Failed(String),
}

/// How a repository stands, from [`Repo::state`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoState {
    /// The repository root (the top of the work tree), used in the fix-it
    /// commands of [`RepoState::write_blocker`].
    pub root: PathBuf,
    /// Commit id of HEAD; `None` on an unborn branch.
    pub head: Option<String>,
    /// The current branch (`main`), `None` when HEAD is detached.
    pub branch: Option<String>,
    /// The current branch's upstream, e.g. `origin/main`; `None` without one.
    pub upstream: Option<String>,
    /// Commits on the upstream that HEAD lacks (0 without an upstream).
    /// Only as fresh as the last fetch.
    pub behind: u32,
    /// Commits on HEAD that the upstream lacks (0 without an upstream).
    pub ahead: u32,
    /// An operation in progress: `"rebase"`, `"am"`, `"merge"`,
    /// `"cherry-pick"`, `"revert"` or `"bisect"`.
    pub operation: Option<&'static str>,
    /// The index is locked (`index.lock` exists): another git command is
    /// running, or one crashed and left its lock behind.
    pub index_locked: bool,
}

/// What kind of thing prevents writing to a repository now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockerKind {
    /// The branch is behind its upstream: writing now would build on stale
    /// files and make a later pull conflict.
    Stale,
    /// HEAD is detached: a commit would belong to no branch.
    Detached,
    /// A rebase, merge, cherry-pick, revert, am or bisect is in progress.
    Operation,
    /// The index is locked by another git command (or a stale lock).
    IndexLocked,
}

/// Why nothing may be written to a repository now, from
/// [`RepoState::write_blocker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// The kind of blocker.
    pub kind: BlockerKind,
    /// A sentence saying what is wrong, with the command that fixes it.
    pub message: String,
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl RepoState {
    /// Why nothing may be written to this repository now, if anything.
    ///
    /// When several apply, the one to fix first is reported: an operation
    /// in progress (a rebase also detaches HEAD), then a locked index, then
    /// a detached HEAD, then being behind the upstream (stale). Being ahead
    /// does not block; an unborn branch does not block.
    pub fn write_blocker(&self) -> Option<Blocker> {
        let root = self.root.to_string_lossy();
        let git = format!("git -C {}", shell_quote(&root));
        if let Some(operation) = self.operation {
            let fix = match operation {
                "bisect" => format!("end it with `{git} bisect reset`"),
                "merge" => format!(
                    "resolve the conflicts and commit (`{git} commit`), or abandon it with `{git} merge --abort`"
                ),
                other => format!(
                    "finish it with `{git} {other} --continue` or abandon it with `{git} {other} --abort`"
                ),
            };
            return Some(Blocker {
                kind: BlockerKind::Operation,
                message: format!(
                    "a {operation} is in progress in {root}: {fix}, then run concord sync again"
                ),
            });
        }
        if self.index_locked {
            return Some(Blocker {
                kind: BlockerKind::IndexLocked,
                message: format!(
                    "the git index of {root} is locked: another git command is running there; wait for it to finish \
                     and retry, or if no git command is running, remove the stale lock with \
                     `rm \"$({git} rev-parse --path-format=absolute --git-path index.lock)\"`"
                ),
            });
        }
        if self.branch.is_none() {
            return Some(Blocker {
                kind: BlockerKind::Detached,
                message: format!(
                    "HEAD is detached in {root} (not on a branch), so a commit would belong to no branch: \
                     check out a branch with `{git} switch <branch>`, then run concord sync again"
                ),
            });
        }
        if self.behind > 0 {
            let upstream = self.upstream.as_deref().unwrap_or("its upstream");
            let commits = plural(self.behind, "commit");
            let message = if self.ahead > 0 {
                format!(
                    "{root} has diverged from {upstream} (behind by {commits}, ahead by {}): \
                     integrate with `{git} pull --rebase` (or merge), then run concord sync again",
                    plural(self.ahead, "commit")
                )
            } else {
                format!(
                    "{root} is behind {upstream} by {commits}: run `{git} pull --ff-only` or `concord sync --pull`"
                )
            };
            return Some(Blocker {
                kind: BlockerKind::Stale,
                message,
            });
        }
        None
    }
}

fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Quote `s` for a POSIX shell when it needs it, for fix-it commands.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:,@%=".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Whether a git command only reads (and may skip optional locks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// The current branch's upstream, from `git for-each-ref`.
#[derive(Debug, Default)]
struct Tracking {
    /// Full ref of the remote-tracking branch (`refs/remotes/origin/main`).
    full: String,
    /// Short name (`origin/main`).
    short: String,
    /// The upstream ref no longer exists.
    gone: bool,
    /// The remote (`origin`, or `.` for a local branch).
    remote: String,
    /// The branch on the remote (`refs/heads/main`).
    remote_ref: String,
}

/// `branch.oid` of `git status --porcelain=v2 --branch`.
#[derive(Debug, PartialEq, Eq)]
enum Oid {
    /// `(initial)`: an unborn branch.
    Initial,
    Commit(String),
}

/// What `git status --porcelain=v2 --branch -z` says.
#[derive(Debug, PartialEq, Eq)]
struct StatusV2 {
    oid: Oid,
    /// `branch.head`: `Some(None)` when detached. `None` when the headers
    /// cannot be read as they are: a head other than a branch or
    /// `(detached)` (`(unknown)`), ahead / behind not counted (`+? -?`), no
    /// `branch.oid` or `branch.head`; then read the state another way.
    branch: Option<Option<String>>,
    /// `branch.upstream` and `branch.ab` (ahead, behind), `None` when the
    /// upstream is gone.
    upstream: Option<(String, Option<(u32, u32)>)>,
    /// Changed, unmerged and untracked files; both sides of a rename.
    dirty: BTreeSet<String>,
}

impl StatusV2 {
    fn parse(out: &[u8]) -> Result<StatusV2, String> {
        let lossy = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let mut oid = None;
        let mut head = None;
        let mut upstream = None;
        let mut ab = None;
        let mut unreadable = false;
        let mut dirty = BTreeSet::new();
        let mut records = out.split(|&b| b == 0).filter(|r| !r.is_empty());
        while let Some(record) = records.next() {
            let bad = || format!("bad status entry {:?}", String::from_utf8_lossy(record));
            // Every field before the path is free of spaces: the path is
            // what is left after the fixed number of fields.
            let path_after = |fields: usize| {
                record
                    .splitn(fields + 1, |&b| b == b' ')
                    .nth(fields)
                    .filter(|p| !p.is_empty())
                    .ok_or_else(bad)
            };
            match record[0] {
                b'#' => {
                    let text = lossy(record);
                    let (key, value) = text
                        .strip_prefix("# ")
                        .and_then(|h| h.split_once(' '))
                        .ok_or_else(bad)?;
                    match key {
                        "branch.oid" => {
                            oid = Some(match value {
                                "(initial)" => Oid::Initial,
                                commit => Oid::Commit(commit.to_owned()),
                            });
                        }
                        "branch.head" => head = Some(value.to_owned()),
                        "branch.upstream" => upstream = Some(value.to_owned()),
                        "branch.ab" => {
                            let counts = value
                                .split_once(' ')
                                .and_then(|(a, b)| {
                                    Some((a.strip_prefix('+')?, b.strip_prefix('-')?))
                                })
                                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
                            match counts {
                                Some(counts) => ab = Some(counts),
                                // `+? -?`: not counted.
                                None => unreadable = true,
                            }
                        }
                        _ => {} // `# stash <n>`, and whatever git adds later.
                    }
                }
                // Changed: `1 XY sub mH mI mW hH hI path`.
                b'1' => {
                    dirty.insert(lossy(path_after(8)?));
                }
                // Renamed or copied: `2 XY sub mH mI mW hH hI Xscore path`,
                // then the source path as the next record.
                b'2' => {
                    dirty.insert(lossy(path_after(9)?));
                    let source = records
                        .next()
                        .ok_or_else(|| "rename without its source path".to_owned())?;
                    // As `dirty_paths`: a copy's source is not changed.
                    if record.get(2..4).is_some_and(|xy| xy.contains(&b'R')) {
                        dirty.insert(lossy(source));
                    }
                }
                // Unmerged: `u XY sub m1 m2 m3 mW h1 h2 h3 path`.
                b'u' => {
                    dirty.insert(lossy(path_after(10)?));
                }
                // Untracked: `? path`.
                b'?' => {
                    dirty.insert(lossy(path_after(1)?));
                }
                // Ignored (only with `--ignored`).
                b'!' => {}
                _ => return Err(bad()),
            }
        }
        let branch = match head.as_deref() {
            _ if unreadable => None,
            Some("(detached)") => Some(None),
            // `(unknown)`, or `(null)` for a HEAD outside `refs/heads/`.
            Some(name) if name.starts_with('(') => None,
            Some(name) => Some(Some(name.to_owned())),
            None => None,
        };
        Ok(StatusV2 {
            branch: oid.as_ref().and(branch),
            oid: oid.unwrap_or(Oid::Initial),
            upstream: upstream.map(|u| (u, ab)),
            dirty,
        })
    }
}

/// A git work tree, addressed by the top of its work tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    root: PathBuf,
    /// The work tree's own git directory (`.git`, or
    /// `.git/worktrees/<name>` for a linked worktree), absolute: where the
    /// per-worktree state files (`MERGE_HEAD`, `rebase-merge`,
    /// `index.lock`…) live.
    git_dir: PathBuf,
}

impl Repo {
    /// Open the git work tree containing `root` (it may be a subfolder; the
    /// repository's root and git directory are found with
    /// `git rev-parse --show-toplevel --absolute-git-dir`).
    /// Fails with [`GitError::NotAWorkTree`] when `root` is not inside a
    /// work tree (or does not exist, or is a bare repository).
    pub fn open(root: &Path) -> Result<Repo, GitError> {
        // The common case needs no git process: `root` is the top of a work
        // tree with its own `.git` directory (and no environment says
        // otherwise). Worktrees, submodules and the rest ask git.
        let overridden = ["GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR"]
            .iter()
            .any(|var| std::env::var_os(var).is_some());
        if !overridden
            && root.join(".git").is_dir()
            && let Ok(root) = std::fs::canonicalize(root)
        {
            return Ok(Repo {
                git_dir: root.join(".git"),
                root,
            });
        }
        let probe = Repo {
            root: root.to_path_buf(),
            git_dir: PathBuf::new(),
        };
        let not_a_work_tree = |output: &Output| GitError::NotAWorkTree {
            root: root.to_path_buf(),
            stderr: message_of(output),
        };
        let output = probe.output(
            Access::Read,
            &["rev-parse", "--show-toplevel", "--absolute-git-dir"],
        )?;
        if !output.status.success() {
            return Err(not_a_work_tree(&output));
        }
        let lines: Vec<&[u8]> = trim_newline(&output.stdout)
            .split(|&b| b == b'\n')
            .collect();
        if let [top, git_dir] = lines[..]
            && !top.is_empty()
            && !git_dir.is_empty()
        {
            return Ok(Repo {
                root: path_from_bytes(top),
                git_dir: path_from_bytes(git_dir),
            });
        }
        // Not two lines: a newline in a path, or an older git printing no
        // top level for a bare repository. Ask one at a time.
        let ask = |flag: &str| {
            let output = probe.output(Access::Read, &["rev-parse", flag])?;
            let answer = trim_newline(&output.stdout);
            if !output.status.success() || answer.is_empty() {
                return Err(not_a_work_tree(&output));
            }
            Ok(path_from_bytes(answer))
        };
        let root = ask("--show-toplevel")?;
        let git_dir = ask("--absolute-git-dir")?;
        Ok(Repo { root, git_dir })
    }

    /// The root of the work tree; every path is relative to it.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The commit id of HEAD, `None` on an unborn branch (no commit yet).
    pub fn head(&self) -> Result<Option<String>, GitError> {
        self.commit_id("HEAD^{commit}")
    }

    /// The first parent of `commit`, `None` for a root commit.
    pub fn first_parent(&self, commit: &str) -> Result<Option<String>, GitError> {
        if commit.starts_with('-') {
            return Ok(None);
        }
        self.commit_id(&format!("{commit}^1"))
    }

    /// The id `spec` names, `None` when it names nothing.
    fn commit_id(&self, spec: &str) -> Result<Option<String>, GitError> {
        let args = ["rev-parse", "--verify", "--quiet", spec];
        let output = self.output(Access::Read, &args)?;
        if output.status.success() {
            return Ok(Some(self.single_line(&args, &output.stdout)?));
        }
        // `--verify --quiet` fails silently for a missing ref, loudly otherwise.
        if output.status.code() == Some(1) && output.stderr.is_empty() {
            return Ok(None);
        }
        Err(self.failed(&args, &output))
    }

    /// How the repository stands: head, branch, upstream, behind / ahead
    /// (as of the last fetch), an operation in progress, a locked index.
    pub fn state(&self) -> Result<RepoState, GitError> {
        let head = self.head()?;
        let branch = self.branch()?;
        let tracking = match &branch {
            Some(branch) => self.tracking(branch)?,
            None => None,
        };
        let (mut behind, mut ahead) = (0, 0);
        if let Some(tracking) = tracking.as_ref().filter(|t| !t.gone) {
            if head.is_some() {
                let range = format!("HEAD...{}", tracking.full);
                let args = ["rev-list", "--left-right", "--count", range.as_str()];
                let out = self.run(Access::Read, &args)?;
                let text = String::from_utf8_lossy(&out);
                let mut counts = text.split_whitespace().map(str::parse::<u32>);
                match (counts.next(), counts.next(), counts.next()) {
                    (Some(Ok(left)), Some(Ok(right)), None) => (ahead, behind) = (left, right),
                    _ => {
                        return Err(
                            self.unexpected(&args, format!("expected two counts, got {text:?}"))
                        );
                    }
                }
            } else {
                let args = ["rev-list", "--count", tracking.full.as_str()];
                let out = self.run(Access::Read, &args)?;
                let text = String::from_utf8_lossy(&out);
                behind = text.trim().parse().map_err(|_| {
                    self.unexpected(&args, format!("expected a count, got {text:?}"))
                })?;
            }
        }
        let (operation, index_locked) = self.in_progress();
        Ok(RepoState {
            root: self.root.clone(),
            head,
            branch,
            upstream: tracking.map(|t| t.short),
            behind,
            ahead,
            operation,
            index_locked,
        })
    }

    /// How the repository stands and which files are dirty, as
    /// [`Repo::state`] and [`Repo::dirty_paths`] would say, from a single
    /// `git status --porcelain=v2 --branch -z --untracked-files=all` (its
    /// branch headers give HEAD, branch, upstream and ahead / behind; its
    /// entries the dirty files); the operation in progress and the index
    /// lock are files looked up in the git directory, without a process.
    ///
    /// As with [`Repo::state`], an unborn or detached HEAD has no upstream
    /// (0 behind, 0 ahead), and so does a branch whose upstream is gone
    /// (the upstream is still named). Should git print branch headers this
    /// adapter does not know how to read (an unreadable HEAD, ahead / behind
    /// not counted), the state comes from [`Repo::state`] instead.
    pub fn snapshot(&self) -> Result<(RepoState, BTreeSet<String>), GitError> {
        let (_, status) = self.status_v2(&[])?;
        self.state_of(status)
    }

    /// Run `git status --porcelain=v2 --branch -z --untracked-files=all
    /// --ahead-behind` with `extra` arguments: what it printed, and that read.
    fn status_v2(&self, extra: &[&str]) -> Result<(Vec<u8>, StatusV2), GitError> {
        let mut args = vec![
            "status",
            "--porcelain=v2",
            "--branch",
            "-z",
            "--untracked-files=all",
            "--ahead-behind",
        ];
        args.extend_from_slice(extra);
        let out = self.run(Access::Read, &args)?;
        let status = StatusV2::parse(&out).map_err(|detail| self.unexpected(&args, detail))?;
        Ok((out, status))
    }

    /// The repository's state and dirty files from what `git status` said;
    /// the operation in progress and the index lock are looked up now.
    fn state_of(&self, status: StatusV2) -> Result<(RepoState, BTreeSet<String>), GitError> {
        let state = match status.branch {
            Some(branch) => {
                let head = match status.oid {
                    Oid::Initial => None,
                    Oid::Commit(head) => Some(head),
                };
                // Like `state`: no upstream without a commit or a branch.
                let tracking = status
                    .upstream
                    .filter(|_| head.is_some() && branch.is_some());
                let (upstream, (ahead, behind)) = match tracking {
                    Some((upstream, counts)) => (Some(upstream), counts.unwrap_or((0, 0))),
                    None => (None, (0, 0)),
                };
                let (operation, index_locked) = self.in_progress();
                RepoState {
                    root: self.root.clone(),
                    head,
                    branch,
                    upstream,
                    behind,
                    ahead,
                    operation,
                    index_locked,
                }
            }
            None => self.state()?,
        };
        Ok((state, status.dirty))
    }

    /// Best effort `git fetch --quiet <remote>` of the current branch's
    /// upstream remote, killed after `timeout` (20 s is a good default).
    /// An unreachable or slow remote is not an error: it is
    /// [`FetchOutcome::Failed`] with git's message, and the caller goes on
    /// with what it knows locally.
    ///
    /// Git runs in its own process group (on Unix), so on timeout the whole
    /// group (git and its transport helper, ssh…) is killed, and an ssh
    /// password prompt cannot read from the terminal.
    pub fn fetch(&self, timeout: Duration) -> FetchOutcome {
        let branch = match self.branch() {
            Ok(Some(branch)) => branch,
            Ok(None) => return FetchOutcome::NoUpstream,
            Err(err) => return FetchOutcome::Failed(err.to_string()),
        };
        let remote = match self.tracking(&branch) {
            Ok(Some(tracking)) if !tracking.remote.is_empty() => tracking.remote,
            Ok(_) => return FetchOutcome::NoUpstream,
            Err(err) => return FetchOutcome::Failed(err.to_string()),
        };
        if remote == "." {
            // The upstream is a local branch: nothing to fetch, always current.
            return FetchOutcome::Fetched;
        }
        match self.run_with_timeout(&["fetch", "--quiet", remote.as_str()], timeout) {
            Ok(()) => FetchOutcome::Fetched,
            Err(message) => FetchOutcome::Failed(message),
        }
    }

    /// [`Repo::fetch`] for a caller that already knows the current branch's
    /// upstream (from [`Repo::state`] or [`Repo::snapshot`]): `None` is
    /// [`FetchOutcome::NoUpstream`] at once, without running anything;
    /// otherwise `git fetch --quiet --no-all` fetches the current branch's
    /// remote (`branch.<name>.remote`, the one [`Repo::fetch`] names),
    /// killed after `timeout`. A local upstream (remote `.`) fetches from
    /// the repository itself: nothing new, [`FetchOutcome::Fetched`].
    pub fn fetch_upstream(&self, upstream: Option<&str>, timeout: Duration) -> FetchOutcome {
        if upstream.is_none() {
            return FetchOutcome::NoUpstream;
        }
        // No remote named: git takes the branch's own. `--no-all` so that a
        // `fetch.all` setting cannot turn this into a fetch of every remote.
        match self.run_with_timeout(&["fetch", "--quiet", "--no-all"], timeout) {
            Ok(()) => FetchOutcome::Fetched,
            Err(message) => FetchOutcome::Failed(message),
        }
    }

    /// `git pull --ff-only --quiet` from the current branch's upstream;
    /// fails with git's message when it cannot fast-forward (diverged, or
    /// local changes in the way) or there is no upstream.
    pub fn pull_ff_only(&self) -> Result<(), GitError> {
        // `--no-rebase` so a `pull.rebase` setting cannot turn this into a rebase.
        self.run(
            Access::Write,
            &["pull", "--ff-only", "--no-rebase", "--quiet"],
        )
        .map(drop)
    }

    /// Files with uncommitted changes — staged or unstaged, untracked
    /// (every file, not just their folder), both sides of a rename — from
    /// `git status --porcelain=v1 -z --untracked-files=all`. Ignored files
    /// are not included.
    pub fn dirty_paths(&self) -> Result<BTreeSet<String>, GitError> {
        let args = ["status", "--porcelain=v1", "-z", "--untracked-files=all"];
        let out = self.run(Access::Read, &args)?;
        let mut paths = BTreeSet::new();
        let mut fields = out.split(|&b| b == 0).filter(|f| !f.is_empty());
        while let Some(entry) = fields.next() {
            if entry.len() < 4 || entry[2] != b' ' {
                return Err(self.unexpected(
                    &args,
                    format!("bad status entry {:?}", String::from_utf8_lossy(entry)),
                ));
            }
            let (x, y) = (entry[0], entry[1]);
            paths.insert(String::from_utf8_lossy(&entry[3..]).into_owned());
            // A rename or copy is followed by its source path.
            if matches!(x, b'R' | b'C') || matches!(y, b'R' | b'C') {
                let Some(source) = fields.next() else {
                    return Err(self.unexpected(&args, "rename without its source path".into()));
                };
                if x == b'R' || y == b'R' {
                    paths.insert(String::from_utf8_lossy(source).into_owned());
                }
            }
        }
        Ok(paths)
    }

    /// The commit that last changed each of `lines` (1-based) of `path`
    /// at HEAD, from one `git blame --porcelain` with a `-L` per line. A
    /// line git cannot place (past the end) is left out.
    pub fn line_commits(
        &self,
        path: &str,
        lines: &[u32],
    ) -> Result<HashMap<u32, String>, GitError> {
        if lines.is_empty() || path.starts_with('-') {
            return Ok(HashMap::new());
        }
        let mut args: Vec<String> = vec!["blame".into(), "--porcelain".into()];
        for line in lines {
            args.push(format!("-L{line},{line}"));
        }
        args.extend(["HEAD".into(), "--".into(), path.into()]);
        let out = self.run(Access::Read, &args)?;
        let mut found = HashMap::new();
        for header in String::from_utf8_lossy(&out).lines() {
            // `<sha> <original line> <final line> [<count>]`; content lines
            // start with a tab, metadata lines with a word.
            let mut parts = header.split(' ');
            let (Some(sha), Some(_), Some(final_line)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if sha.len() >= 40
                && sha.bytes().all(|b| b.is_ascii_hexdigit())
                && let Ok(line) = final_line.parse::<u32>()
            {
                found.insert(line, sha.to_string());
            }
        }
        Ok(found)
    }

    /// The full message of each of `commits` (`git show -s`).
    pub fn commit_messages(&self, commits: &[String]) -> Result<HashMap<String, String>, GitError> {
        let commits: Vec<&str> = commits
            .iter()
            .map(String::as_str)
            .filter(|c| !c.starts_with('-') && !c.bytes().all(|b| b == b'0'))
            .collect();
        if commits.is_empty() {
            return Ok(HashMap::new());
        }
        let mut args = vec!["show", "-s", "--format=%H%x00%B%x1e"];
        args.extend(commits.iter().copied());
        let out = self.run(Access::Read, &args)?;
        Ok(String::from_utf8_lossy(&out)
            .split('\x1e')
            .filter_map(|record| {
                let (sha, body) = record.trim_start_matches('\n').split_once('\0')?;
                Some((sha.to_string(), body.to_string()))
            })
            .collect())
    }

    /// Every commit in the history of `head` (`git rev-list`).
    pub fn history(&self, head: &str) -> Result<std::collections::HashSet<String>, GitError> {
        if head.starts_with('-') {
            return Ok(Default::default());
        }
        let out = self.run(Access::Read, &["rev-list", head, "--"])?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .map(str::to_string)
            .collect())
    }

    /// Whether commit `ancestor` is in the history of commit `of` (or is
    /// it): `None` when `ancestor` is not a commit this repository knows
    /// (another clone's commit it never fetched).
    pub fn is_ancestor(&self, ancestor: &str, of: &str) -> Result<Option<bool>, GitError> {
        if ancestor.is_empty() || ancestor.starts_with('-') || of.starts_with('-') {
            return Ok(None);
        }
        let spec = format!("{ancestor}^{{commit}}");
        let args = ["rev-parse", "--verify", "--quiet", spec.as_str()];
        if !self.output(Access::Read, &args)?.status.success() {
            return Ok(None);
        }
        let args = ["merge-base", "--is-ancestor", ancestor, of];
        let output = self.output(Access::Read, &args)?;
        match output.status.code() {
            Some(0) => Ok(Some(true)),
            Some(1) => Ok(Some(false)),
            _ => Err(self.failed(&args, &output)),
        }
    }

    /// Files changed between the commit `since` and HEAD, from
    /// `git diff --name-only -z --no-renames <since> HEAD` (a rename is its
    /// two sides).
    ///
    /// `Ok(None)` when the answer cannot be trusted and the caller should
    /// fall back to a full read: `since` is not a known commit, HEAD is
    /// unborn, or `since` is not an ancestor of HEAD (history was
    /// rewritten, checked with `git merge-base --is-ancestor`).
    pub fn changed_since(&self, since: &str) -> Result<Option<BTreeSet<String>>, GitError> {
        if since.is_empty() || since.starts_with('-') {
            return Ok(None);
        }
        let spec = format!("{since}^{{commit}}");
        let args = ["rev-parse", "--verify", "--quiet", spec.as_str()];
        let output = self.output(Access::Read, &args)?;
        if !output.status.success() {
            return Ok(None);
        }
        let since = self.single_line(&args, &output.stdout)?;
        let Some(head) = self.head()? else {
            return Ok(None);
        };
        let args = ["merge-base", "--is-ancestor", since.as_str(), head.as_str()];
        let output = self.output(Access::Read, &args)?;
        match output.status.code() {
            Some(0) => {}
            Some(1) => return Ok(None),
            _ => return Err(self.failed(&args, &output)),
        }
        let args = [
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            "--no-color",
            "--no-ext-diff",
            since.as_str(),
            head.as_str(),
            "--",
        ];
        let out = self.run(Access::Read, &args)?;
        Ok(Some(split_paths(&out).collect()))
    }

    /// Commit exactly `paths` (already written in the work tree; deleted
    /// ones are committed as deletions) with `message` kept verbatim, and
    /// return the new commit id. Every other staged or unstaged change of
    /// the user stays exactly as it was, index included.
    ///
    /// Uses `git commit --quiet --only --cleanup=verbatim -F <file> --
    /// <paths>`; hooks run as usual (a failing hook fails the commit).
    /// Untracked paths are added first, and un-added again if the commit
    /// fails. `Ok(None)`, committing nothing, when `paths` is empty or none
    /// of them differs from HEAD.
    pub fn commit_paths(
        &self,
        paths: &[String],
        message: &str,
    ) -> Result<Option<String>, GitError> {
        let paths: Vec<&str> = paths
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if paths.is_empty() {
            return Ok(None);
        }
        let mut args = vec!["ls-files", "-z", "--"];
        let specs: Vec<String> = paths.iter().map(|p| literal(p)).collect();
        args.extend(specs.iter().map(String::as_str));
        let tracked: BTreeSet<String> = split_paths(&self.run(Access::Read, &args)?).collect();
        let untracked: Vec<&str> = paths
            .iter()
            .copied()
            .filter(|p| !tracked.contains(*p))
            .collect();
        let tracked: Vec<&str> = paths
            .iter()
            .copied()
            .filter(|p| tracked.contains(*p))
            .collect();

        let any_tracked_change = if tracked.is_empty() {
            false
        } else if self.head()?.is_some() {
            let mut args = vec![
                "diff".to_owned(),
                "--quiet".to_owned(),
                "--no-ext-diff".to_owned(),
                "--no-renames".to_owned(),
                "HEAD".to_owned(),
                "--".to_owned(),
            ];
            args.extend(tracked.iter().map(|p| literal(p)));
            let output = self.output(Access::Read, &args)?;
            match output.status.code() {
                Some(0) => false,
                Some(1) => true,
                _ => return Err(self.failed(&args, &output)),
            }
        } else {
            true
        };
        if untracked.is_empty() && !any_tracked_change {
            return Ok(None);
        }

        // `commit --only` only takes paths the index knows.
        if !untracked.is_empty() {
            let mut args = vec!["add".to_owned(), "--".to_owned()];
            args.extend(untracked.iter().map(|p| literal(p)));
            self.run(Access::Write, &args)?;
        }
        let committed = self.commit_only(&paths, message);
        if committed.is_err() && !untracked.is_empty() {
            // Best effort: put the index back as it was; the commit error matters more.
            let mut args = ["rm", "--cached", "--quiet", "--ignore-unmatch", "--"]
                .map(String::from)
                .to_vec();
            args.extend(untracked.iter().map(|p| literal(p)));
            let _ = self.run(Access::Write, &args);
        }
        committed?;
        self.head()
    }

    fn commit_only(&self, paths: &[&str], message: &str) -> Result<(), GitError> {
        let io_error = |context: &str, source| GitError::Io {
            context: context.to_owned(),
            source,
        };
        let mut file = tempfile::NamedTempFile::new()
            .map_err(|e| io_error("could not create the commit message file", e))?;
        file.write_all(message.as_bytes())
            .and_then(|()| file.flush())
            .map_err(|e| io_error("could not write the commit message file", e))?;
        let mut args: Vec<&OsStr> = [
            "commit",
            "--quiet",
            "--only",
            "--cleanup=verbatim",
            "--file",
        ]
        .iter()
        .map(OsStr::new)
        .collect();
        args.push(file.path().as_os_str());
        args.push(OsStr::new("--"));
        let specs: Vec<String> = paths.iter().map(|p| literal(p)).collect();
        args.extend(specs.iter().map(OsStr::new));
        self.run(Access::Write, &args).map(drop)
    }

    /// `git push --quiet <remote> refs/heads/<branch>:<upstream branch>`:
    /// push the current branch to its upstream (whatever `push.default`
    /// says). Fails with [`GitError::NoUpstream`] without one, and with
    /// git's message when the push is rejected or the remote unreachable.
    pub fn push(&self) -> Result<(), GitError> {
        let no_upstream = || GitError::NoUpstream {
            root: self.root.clone(),
        };
        let branch = self.branch()?.ok_or_else(no_upstream)?;
        let tracking = self.tracking(&branch)?.ok_or_else(no_upstream)?;
        if tracking.remote.is_empty() || tracking.remote_ref.is_empty() {
            return Err(no_upstream());
        }
        let refspec = format!("refs/heads/{branch}:{}", tracking.remote_ref);
        self.run(
            Access::Write,
            &[
                "push",
                "--quiet",
                tracking.remote.as_str(),
                refspec.as_str(),
            ],
        )
        .map(drop)
    }

    // ----- commits built beside the work tree, for pull-request mode -----

    /// A commit on top of `base` (a commit id) whose tree is `base`'s with
    /// `changes` applied — `Some(bytes)` writes a regular file, `None`
    /// removes the path — made with `message` kept verbatim, and its id;
    /// `Ok(None)` when the changes leave `base`'s tree as it is.
    ///
    /// Nothing the user sees moves: the work tree, the index and every ref
    /// stay as they were (a temporary index file is used, git's objects
    /// gain the new blobs, tree and commit). Hooks do not run: this is
    /// plumbing (`hash-object`, `update-index`, `write-tree`,
    /// `commit-tree`).
    pub fn commit_beside(
        &self,
        base: &str,
        changes: &[(String, Option<Vec<u8>>)],
        message: &str,
    ) -> Result<Option<String>, GitError> {
        let io_error = |context: &str, source| GitError::Io {
            context: context.to_owned(),
            source,
        };
        let index = tempfile::Builder::new()
            .prefix("concord-index")
            .tempfile()
            .map_err(|e| io_error("could not create a temporary index", e))?;
        // git wants to create the index itself: an empty file is no index.
        let index_path = index.path().to_path_buf();
        drop(index);
        let env = [(OsStr::new("GIT_INDEX_FILE"), index_path.as_os_str())];
        let base_tree = format!("{base}^{{tree}}");
        let result = (|| {
            self.run_piped(&["read-tree", base_tree.as_str()], &env, &[])?;
            let mut info = Vec::new();
            for (path, content) in changes {
                if path.is_empty() || path.contains(['\n', '\0']) {
                    return Err(self.unexpected(
                        &["update-index"],
                        format!("path {path:?} cannot be committed"),
                    ));
                }
                match content {
                    Some(bytes) => {
                        let oid = self.run_piped(&["hash-object", "-w", "--stdin"], &[], bytes)?;
                        let oid = self.single_line(&["hash-object"], &oid)?;
                        info.extend_from_slice(format!("100644 {oid}\t{path}\n").as_bytes());
                    }
                    None => info.extend_from_slice(
                        format!("0 0000000000000000000000000000000000000000\t{path}\n").as_bytes(),
                    ),
                }
            }
            self.run_piped(&["update-index", "--index-info"], &env, &info)?;
            let tree = self.run_piped(&["write-tree"], &env, &[])?;
            let tree = self.single_line(&["write-tree"], &tree)?;
            let old = self.run(Access::Read, &["rev-parse", base_tree.as_str()])?;
            if self.single_line(&["rev-parse"], &old)? == tree {
                return Ok(None);
            }
            let commit = self.run_piped(
                &["commit-tree", tree.as_str(), "-p", base, "-F", "-"],
                &[],
                message.as_bytes(),
            )?;
            self.single_line(&["commit-tree"], &commit).map(Some)
        })();
        let _ = std::fs::remove_file(&index_path);
        result
    }

    /// The tree id of `commit`.
    pub fn tree_of(&self, commit: &str) -> Result<String, GitError> {
        let spec = format!("{commit}^{{tree}}");
        let args = ["rev-parse", "--verify", spec.as_str()];
        let out = self.run(Access::Read, &args)?;
        self.single_line(&args, &out)
    }

    /// The remote pushes go to: the current branch's upstream remote,
    /// else `origin` when there is one, else `None`.
    pub fn default_remote(&self) -> Result<Option<String>, GitError> {
        if let Some(branch) = self.branch()?
            && let Some(tracking) = self.tracking(&branch)?
            && !tracking.remote.is_empty()
            && tracking.remote != "."
        {
            return Ok(Some(tracking.remote));
        }
        let out = self.run(Access::Read, &["remote"])?;
        let remotes = String::from_utf8_lossy(&out);
        Ok(remotes
            .lines()
            .any(|r| r == "origin")
            .then(|| "origin".to_owned()))
    }

    /// `git push --quiet [--force] <remote> <commit>:refs/heads/<branch>`:
    /// set a branch of the remote to `commit` without any local branch.
    pub fn push_commit(
        &self,
        remote: &str,
        commit: &str,
        branch: &str,
        force: bool,
    ) -> Result<(), GitError> {
        if remote.starts_with('-') || commit.starts_with('-') || branch.starts_with('-') {
            return Err(self.unexpected(
                &["push"],
                "a remote, commit or branch starts with `-`".into(),
            ));
        }
        let refspec = format!(
            "{}{commit}:refs/heads/{branch}",
            if force { "+" } else { "" }
        );
        self.run(
            Access::Write,
            &["push", "--quiet", remote, refspec.as_str()],
        )
        .map(drop)
    }

    /// Run git with `env` set and `input` on its standard input; its
    /// standard output, or an error when it fails.
    fn run_piped(
        &self,
        args: &[&str],
        env: &[(&OsStr, &OsStr)],
        input: &[u8],
    ) -> Result<Vec<u8>, GitError> {
        let mut command = self.command(Access::Write, args);
        command
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|source| GitError::Spawn {
            command: self.display(args),
            source,
        })?;
        let writer = child.stdin.take().map(|mut stdin| {
            let input = input.to_vec();
            std::thread::spawn(move || stdin.write_all(&input))
        });
        let output = child.wait_with_output().map_err(|source| GitError::Io {
            context: format!("could not wait for `{}`", self.display(args)),
            source,
        })?;
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(self.failed(args, &output))
        }
    }

    // ----- content for `concord check`: the index and commits, never the work tree -----

    /// Paths whose staged content differs from HEAD — added, copied,
    /// modified, renamed (the new path) or changed in type, not deleted —
    /// sorted, from `git diff --cached --name-only -z --no-renames
    /// --diff-filter=ACMRT`. On an unborn branch git compares the index
    /// with the empty tree: every staged path. Unmerged paths (a conflict
    /// in progress) are not listed; unstaged and untracked files are not
    /// either.
    pub fn staged_paths(&self) -> Result<Vec<String>, GitError> {
        let args = [
            "diff",
            "--cached",
            "--name-only",
            "-z",
            "--no-renames",
            "--no-color",
            "--no-ext-diff",
            "--diff-filter=ACMRT",
            "--",
        ];
        let out = self.run(Access::Read, &args)?;
        let mut paths: Vec<String> = split_paths(&out).collect();
        paths.sort();
        paths.dedup();
        Ok(paths)
    }

    /// The staged (index, stage 0) content of each of `paths`, as
    /// `(path, bytes)` sorted by path, each path once; binary-safe.
    ///
    /// One `git cat-file --batch` process reads them all, fed `:0:<path>`
    /// on its standard input (`:0:` rather than `:`, so that a path like
    /// `2:x.md` is not read as stage 2 of `x.md`). Nothing is written: not
    /// the work tree, not the index.
    ///
    /// Left out: paths the index does not hold (never added, removed,
    /// or only unmerged stages during a conflict), entries that are not
    /// blobs (submodules), and paths a `cat-file --batch` line cannot name —
    /// empty, with a newline, ending with a carriage return (git strips
    /// it), or with an empty, `.` or `..` component (git would resolve
    /// `./` and `../` against the root, or stop at one leading outside),
    /// none of which the index can hold as given. A staged symbolic link
    /// is read as its target, as git stores it.
    pub fn read_staged(&self, paths: &[String]) -> Result<Vec<(String, Vec<u8>)>, GitError> {
        let paths: BTreeSet<&str> = paths
            .iter()
            .map(String::as_str)
            .filter(|p| batch_nameable(p))
            .collect();
        let specs: Vec<String> = paths.iter().map(|p| format!(":0:{p}")).collect();
        let blobs = self.cat_file_blobs(&specs)?;
        Ok(paths
            .into_iter()
            .zip(blobs)
            .filter_map(|(path, blob)| blob.map(|bytes| (path.to_owned(), bytes)))
            .collect())
    }

    /// The commit id `rev` names (`git rev-parse --verify --quiet
    /// <rev>^{commit}`: a branch, a tag — an annotated one is peeled — a
    /// full or short id, `HEAD~2`…), `None` when it names nothing (an
    /// unknown ref or id, an unborn HEAD). A `rev` that is empty or starts
    /// with `-` is refused: `None`, never read as an option. A `rev` naming
    /// an object that is not a commit (`HEAD^{tree}`, a blob's id) or an
    /// ambiguous short id is an error with git's message (`expected commit
    /// type…`, `short object ID … is ambiguous`).
    pub fn resolve_commit(&self, rev: &str) -> Result<Option<String>, GitError> {
        if rev.is_empty() || rev.starts_with('-') {
            return Ok(None);
        }
        self.commit_id(&format!("{rev}^{{commit}}"))
    }

    /// Every file of `commit`'s tree (`git ls-tree -r -z --full-tree --
    /// <commit>`) for which `wanted(path)` is true, with its content, as
    /// `(path, bytes)` sorted by path. Only regular and executable files
    /// (modes `100644` and `100755`): symbolic links (`120000`) and
    /// submodules (`160000`) are skipped. The contents are read from git's
    /// objects by one `git cat-file --batch` process fed the blob ids; the
    /// work tree and the index are not looked at.
    ///
    /// `commit` is any tree-ish (a commit id from [`Repo::resolve_commit`]);
    /// one git does not know, or one starting with `-`, is an error with
    /// git's message (it follows `--`, so it is never read as an option).
    /// A blob missing from the object store is an error too.
    pub fn tree_files(
        &self,
        commit: &str,
        wanted: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<(String, Vec<u8>)>, GitError> {
        let args = ["ls-tree", "-r", "-z", "--full-tree", "--", commit];
        let out = self.run(Access::Read, &args)?;
        let mut files: Vec<(String, String)> = Vec::new();
        for entry in out.split(|&b| b == 0).filter(|e| !e.is_empty()) {
            let bad = || {
                self.unexpected(
                    &args,
                    format!("bad tree entry {:?}", String::from_utf8_lossy(entry)),
                )
            };
            // `<mode> SP <type> SP <object> TAB <path>`
            let tab = entry.iter().position(|&b| b == b'\t').ok_or_else(bad)?;
            let (meta, path) = (&entry[..tab], &entry[tab + 1..]);
            let meta = std::str::from_utf8(meta).map_err(|_| bad())?;
            let [mode, kind, oid] = meta.split(' ').collect::<Vec<_>>()[..] else {
                return Err(bad());
            };
            if path.is_empty() || oid.is_empty() || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            if kind != "blob" || !matches!(mode, "100644" | "100755") {
                continue; // A symbolic link, a submodule.
            }
            let path = String::from_utf8_lossy(path).into_owned();
            if wanted(&path) {
                files.push((path, oid.to_owned()));
            }
        }
        files.sort();
        let oids: Vec<String> = files.iter().map(|(_, oid)| oid.clone()).collect();
        let blobs = self.cat_file_blobs(&oids)?;
        files
            .into_iter()
            .zip(blobs)
            .map(|((path, oid), blob)| {
                blob.map(|bytes| (path.clone(), bytes)).ok_or_else(|| {
                    self.unexpected(
                        &CAT_FILE_BATCH,
                        format!("blob {oid} of {path:?} in {commit} is missing"),
                    )
                })
            })
            .collect()
    }

    /// For each path ever added in HEAD's history, the date
    /// (`YYYY-MM-DD`, the **committer** date in the commit's own time
    /// zone: when the addition landed on the branch, which a rebase or
    /// cherry-pick moves, unlike the author date) of the commit that first
    /// added it, from one walk: `git log --diff-filter=A --no-renames
    /// --root --format=%x00%cd --date=short --name-only -z HEAD --`.
    ///
    /// - Added, deleted and added again: the **oldest** addition wins (the
    ///   earliest date among its additions), so deleting and restoring a
    ///   file does not make it new.
    /// - Renames are not followed: a renamed file counts as added, at its
    ///   new path, by the commit that renamed it.
    /// - Merge commits show no changes of their own: a file added on a
    ///   branch has the date of the branch's commit; a file that only a
    ///   merge's conflict resolution introduced is not in the map.
    /// - Paths added and later deleted are in the map too.
    /// - In a shallow clone, files older than the shallow boundary have the
    ///   boundary commit's date.
    ///
    /// Empty on an unborn branch.
    pub fn first_added_dates(&self) -> Result<HashMap<String, String>, GitError> {
        if self.head()?.is_none() {
            return Ok(HashMap::new());
        }
        let args = [
            "log",
            "--diff-filter=A",
            "--no-renames",
            "--root",
            "--no-show-signature",
            "--no-color",
            "--format=%x00%cd",
            "--date=short",
            "--name-only",
            "-z",
            "HEAD",
            "--",
        ];
        let out = self.run(Access::Read, &args)?;
        parse_added_dates(&out).map_err(|detail| self.unexpected(&args, detail))
    }

    // ----- queries shared by the operations above -----

    /// The current branch name, `None` when HEAD is detached.
    fn branch(&self) -> Result<Option<String>, GitError> {
        let args = ["symbolic-ref", "--quiet", "HEAD"];
        let output = self.output(Access::Read, &args)?;
        if output.status.code() == Some(1) {
            return Ok(None);
        }
        if !output.status.success() {
            return Err(self.failed(&args, &output));
        }
        let full = self.single_line(&args, &output.stdout)?;
        Ok(Some(match full.strip_prefix("refs/heads/") {
            Some(short) => short.to_owned(),
            None => full,
        }))
    }

    /// The upstream of `branch`, `None` when it has none.
    fn tracking(&self, branch: &str) -> Result<Option<Tracking>, GitError> {
        let pattern = format!("refs/heads/{branch}");
        let args = [
            "for-each-ref",
            "--format=%(refname)%00%(upstream)%00%(upstream:short)%00%(upstream:track)%00%(upstream:remotename)%00%(upstream:remoteref)",
            pattern.as_str(),
        ];
        let out = self.run(Access::Read, &args)?;
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let fields: Vec<String> = line
                .split(|&b| b == 0)
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            let [refname, full, short, track, remote, remote_ref] = fields.as_slice() else {
                return Err(self.unexpected(
                    &args,
                    format!(
                        "expected six fields, got {:?}",
                        String::from_utf8_lossy(line)
                    ),
                ));
            };
            if *refname != pattern {
                continue; // `refs/heads/<branch>/…` also matches the pattern.
            }
            if full.is_empty() {
                return Ok(None);
            }
            return Ok(Some(Tracking {
                full: full.clone(),
                short: short.clone(),
                gone: track == "[gone]",
                remote: remote.clone(),
                remote_ref: remote_ref.clone(),
            }));
        }
        // An unborn branch has no ref yet, so no upstream to read.
        Ok(None)
    }

    /// The operation in progress, and whether the index is locked: which of
    /// git's state files exist in the work tree's own git directory.
    ///
    /// All of them are per-worktree (`git rev-parse --git-path <name>` is
    /// `<git dir>/<name>` for each, as none lives in the common directory
    /// and the variables that redirect the index are removed), so a linked
    /// worktree reports its own operation and lock, not the main one's.
    fn in_progress(&self) -> (Option<&'static str>, bool) {
        let exists = |name: &str| self.git_dir.join(name).exists();
        let operation = if exists("rebase-merge")
            || (exists("rebase-apply") && !exists("rebase-apply/applying"))
        {
            Some("rebase")
        } else if exists("rebase-apply") {
            Some("am")
        } else if exists("MERGE_HEAD") {
            Some("merge")
        } else if exists("CHERRY_PICK_HEAD") {
            Some("cherry-pick")
        } else if exists("REVERT_HEAD") {
            Some("revert")
        } else if exists("BISECT_LOG") {
            Some("bisect")
        } else {
            None
        };
        (operation, exists("index.lock"))
    }

    // ----- running git -----

    fn command<S: AsRef<OsStr>>(&self, access: Access, args: &[S]) -> Command {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(&self.root)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        for name in REPO_LOCATION_ENV {
            command.env_remove(name);
        }
        if access == Access::Read {
            command.env("GIT_OPTIONAL_LOCKS", "0");
        }
        command
    }

    /// Run git to completion, whatever its exit status.
    fn output<S: AsRef<OsStr>>(&self, access: Access, args: &[S]) -> Result<Output, GitError> {
        self.command(access, args)
            .output()
            .map_err(|source| GitError::Spawn {
                command: self.display(args),
                source,
            })
    }

    /// Run git and return its standard output; an exit failure is an error.
    fn run<S: AsRef<OsStr>>(&self, access: Access, args: &[S]) -> Result<Vec<u8>, GitError> {
        let output = self.output(access, args)?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(self.failed(args, &output))
        }
    }

    /// Run a (network) git command with a time limit; `Err` is the message.
    fn run_with_timeout(&self, args: &[&str], timeout: Duration) -> Result<(), String> {
        let command_line = self.display(args);
        // Standard error goes to a file, not a pipe: a transport helper
        // outliving a killed git could hold a pipe open and block the read.
        let mut stderr = tempfile::tempfile()
            .map_err(|e| format!("could not create a file for git's messages: {e}"))?;
        let stderr_handle = stderr
            .try_clone()
            .map_err(|e| format!("could not create a file for git's messages: {e}"))?;
        let mut command = self.command(Access::Write, args);
        command.stdout(Stdio::null()).stderr(stderr_handle);
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("could not run `{command_line}`: {e}"))?;
        let status = wait_with_timeout(&mut child, timeout)
            .map_err(|e| format!("could not wait for `{command_line}`: {e}"))?;
        let Some(status) = status else {
            return Err(format!(
                "`{command_line}` timed out after {:.0?} and was stopped",
                timeout
            ));
        };
        if status.success() {
            return Ok(());
        }
        let mut message = Vec::new();
        let _ = stderr
            .rewind()
            .and_then(|()| stderr.read_to_end(&mut message));
        let message = String::from_utf8_lossy(&message).trim().to_owned();
        Err(format!(
            "`{command_line}` failed ({}): {message}",
            exit_text(status.code())
        ))
    }

    /// Read objects with one `git cat-file --batch --buffer` process: for
    /// each of `specs` (one line each, no newline inside), its content when
    /// it names a blob, `None` when it names nothing (`<spec> missing`) or
    /// something other than a blob.
    ///
    /// The requests are written by a thread while this one reads the
    /// answers as they come, so neither side waits on a full pipe; git's
    /// standard error goes to a file. Should the output be unreadable, git
    /// is killed before waiting for it.
    fn cat_file_blobs(&self, specs: &[String]) -> Result<Vec<Option<Vec<u8>>>, GitError> {
        if specs.is_empty() {
            return Ok(Vec::new());
        }
        let args = CAT_FILE_BATCH;
        let command_line = self.display(&args);
        let io_error = |what: &str, source| GitError::Io {
            context: format!("{what} `{command_line}`"),
            source,
        };
        let mut input = Vec::with_capacity(specs.iter().map(|s| s.len() + 1).sum());
        for spec in specs {
            input.extend_from_slice(spec.as_bytes());
            input.push(b'\n');
        }
        let mut stderr = tempfile::tempfile()
            .map_err(|e| io_error("could not create a file for the messages of", e))?;
        let stderr_handle = stderr
            .try_clone()
            .map_err(|e| io_error("could not create a file for the messages of", e))?;
        let mut child = self
            .command(Access::Read, &args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr_handle)
            .spawn()
            .map_err(|source| GitError::Spawn {
                command: command_line.clone(),
                source,
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io_error(
                "could not connect to",
                io::Error::other("no pipe to the process"),
            ));
        };
        let (read, written, status) = std::thread::scope(|scope| {
            let writer = scope.spawn(move || {
                let mut stdin = stdin;
                stdin.write_all(&input)
                // Dropping `stdin` closes it: git answers the rest and exits.
            });
            let mut reader = io::BufReader::with_capacity(1 << 16, stdout);
            let read = read_batch(&mut reader, specs);
            drop(reader);
            if read.is_err() {
                // It may still be writing (or waiting to read): stop it.
                let _ = child.kill();
            }
            let status = child.wait();
            let written = writer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the writing thread panicked")));
            (read, written, status)
        });
        let status = status.map_err(|e| io_error("could not wait for", e))?;
        let mut message = || {
            let mut message = Vec::new();
            let _ = stderr
                .rewind()
                .and_then(|()| stderr.read_to_end(&mut message));
            String::from_utf8_lossy(&message).trim().to_owned()
        };
        let failed = |message: String| GitError::Failed {
            command: command_line.clone(),
            code: status.code(),
            stderr: message,
        };
        match read {
            Ok(blobs) => {
                if !status.success() {
                    return Err(failed(message()));
                }
                written.map_err(|e| io_error("could not write the requests to", e))?;
                Ok(blobs)
            }
            Err(detail) => {
                // Git stopping on its own (with its message) explains the
                // output better than where the reading broke off.
                let message = message();
                if status.code().is_some_and(|code| code != 0) && !message.is_empty() {
                    Err(failed(message))
                } else {
                    Err(GitError::UnexpectedOutput {
                        command: command_line.clone(),
                        detail,
                    })
                }
            }
        }
    }

    fn display<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        let mut words: Vec<String> = vec![
            "git".into(),
            "-C".into(),
            shell_quote(&self.root.to_string_lossy()),
        ];
        words.extend(
            args.iter()
                .map(|a| shell_quote(&a.as_ref().to_string_lossy())),
        );
        words.join(" ")
    }

    fn failed<S: AsRef<OsStr>>(&self, args: &[S], output: &Output) -> GitError {
        GitError::Failed {
            command: self.display(args),
            code: output.status.code(),
            stderr: message_of(output),
        }
    }

    fn unexpected<S: AsRef<OsStr>>(&self, args: &[S], detail: String) -> GitError {
        GitError::UnexpectedOutput {
            command: self.display(args),
            detail,
        }
    }

    /// The one non-empty line `stdout` must hold.
    fn single_line<S: AsRef<OsStr>>(&self, args: &[S], stdout: &[u8]) -> Result<String, GitError> {
        let line = trim_newline(stdout);
        if line.is_empty() || line.contains(&b'\n') {
            return Err(self.unexpected(
                args,
                format!(
                    "expected one line, got {:?}",
                    String::from_utf8_lossy(stdout)
                ),
            ));
        }
        Ok(String::from_utf8_lossy(line).into_owned())
    }
}

/// Wait for `child` at most `timeout`; on timeout kill it (with its process
/// group on Unix), reap it and return `None`.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            kill_tree(child);
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Kill `child` and, on Unix, the process group it leads (its transport
/// helpers), without `unsafe`: through the `kill` utility.
fn kill_tree(child: &mut Child) {
    #[cfg(unix)]
    {
        let group = format!("-{}", child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", group.as_str()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
}

/// Git's message from a failed command: standard error, or standard
/// output when that is empty.
fn message_of(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if stderr.is_empty() {
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    } else {
        stderr
    }
}

fn trim_newline(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

/// `path` as a pathspec matching exactly that path (or folder).
fn literal(path: &str) -> String {
    format!(":(literal){path}")
}

/// The command reading objects for [`Repo::read_staged`] and
/// [`Repo::tree_files`]: `--buffer` as every request is written at once.
const CAT_FILE_BATCH: [&str; 3] = ["cat-file", "--batch", "--buffer"];

/// Whether `path` can be named on a `git cat-file --batch` line as
/// `:0:<path>` and mean that index entry: not empty, no newline, no
/// carriage return at the end (git strips it from the line), no empty,
/// `.` or `..` component (git resolves `./` and `../`, and dies on a path
/// leading outside the repository). The index holds no such path anyway.
fn batch_nameable(path: &str) -> bool {
    !path.is_empty()
        && !path.contains(['\n', '\0'])
        && !path.ends_with('\r')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// The answers of `git cat-file --batch` to `specs`, in order, read from
/// `reader` as they come: `<oid> <type> <size>\n<content>\n` (the content
/// when the type is `blob`, `None` otherwise) or `<spec> missing\n` (and
/// `<spec> ambiguous\n`): `None`.
fn read_batch(
    reader: &mut impl io::BufRead,
    specs: &[String],
) -> Result<Vec<Option<Vec<u8>>>, String> {
    let mut blobs = Vec::with_capacity(specs.len());
    let mut line = Vec::new();
    for spec in specs {
        line.clear();
        reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("could not read the answer for {spec:?}: {e}"))?;
        if line.pop() != Some(b'\n') {
            return Err(format!("the output ended before the answer for {spec:?}"));
        }
        if let Some((kind, size)) = batch_header(&line) {
            // Grow as the bytes come rather than trust a huge size at once.
            let mut content = Vec::with_capacity(size.min(1 << 24));
            reader
                .by_ref()
                .take(size as u64)
                .read_to_end(&mut content)
                .map_err(|e| format!("could not read the content of {spec:?}: {e}"))?;
            let mut end = [0u8; 1];
            let ended = reader.read_exact(&mut end).is_ok() && end == *b"\n";
            if content.len() != size || !ended {
                return Err(format!(
                    "the content of {spec:?} ({size} bytes) ended early or without its newline"
                ));
            }
            blobs.push((kind == "blob").then_some(content));
            continue;
        }
        let answer = line
            .strip_prefix(spec.as_bytes())
            .and_then(|rest| rest.strip_prefix(b" "));
        match answer {
            Some(b"missing" | b"ambiguous") => blobs.push(None),
            _ => {
                return Err(format!(
                    "expected `<id> <type> <size>` or `{spec} missing`, got {:?}",
                    String::from_utf8_lossy(&line)
                ));
            }
        }
    }
    Ok(blobs)
}

/// The type and size of a `cat-file --batch` header `<oid> <type> <size>`.
fn batch_header(line: &[u8]) -> Option<(&str, usize)> {
    let line = std::str::from_utf8(line).ok()?;
    let [oid, kind, size] = line.split(' ').collect::<Vec<_>>()[..] else {
        return None;
    };
    let hex = !oid.is_empty() && oid.bytes().all(|b| b.is_ascii_hexdigit());
    let word = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase());
    let digits = !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit());
    if !(hex && word && digits) {
        return None;
    }
    Some((kind, size.parse().ok()?))
}

/// Each path's earliest date in `git log --format=%x00%cd --name-only -z`
/// output. Each commit is an empty field (the `%x00`), its date, then the
/// paths it added, the first one after the newline git puts between a
/// commit's header and its changes.
fn parse_added_dates(out: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut dates: HashMap<String, String> = HashMap::new();
    let mut fields = out.split(|&b| b == 0);
    let mut date: Option<String> = None;
    let mut first = false;
    while let Some(field) = fields.next() {
        if field.is_empty() {
            // A commit starts; or the end of the output.
            let Some(next) = fields.next() else { break };
            let text = String::from_utf8_lossy(next);
            let valid = text.len() >= 10
                && text.bytes().all(|b| b.is_ascii_digit() || b == b'-')
                && text.split('-').count() == 3;
            if !valid {
                return Err(format!("expected a date, got {text:?}"));
            }
            date = Some(text.into_owned());
            first = true;
            continue;
        }
        let Some(date) = &date else {
            return Err(format!(
                "a path before any commit: {:?}",
                String::from_utf8_lossy(field)
            ));
        };
        let path = if first {
            first = false;
            field.strip_prefix(b"\n").unwrap_or(field)
        } else {
            field
        };
        if path.is_empty() {
            continue;
        }
        let path = String::from_utf8_lossy(path).into_owned();
        // `YYYY-MM-DD` strings order as the dates do: keep the earliest.
        match dates.get_mut(&path) {
            Some(known) if *known <= *date => {}
            Some(known) => known.clone_from(date),
            None => {
                dates.insert(path, date.clone());
            }
        }
    }
    Ok(dates)
}

/// The paths of NUL-separated `-z` output.
fn split_paths(out: &[u8]) -> impl Iterator<Item = String> + '_ {
    out.split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_quotes_only_when_needed() {
        assert_eq!(shell_quote("/tmp/repo-1"), "/tmp/repo-1");
        assert_eq!(shell_quote("/tmp/my repo"), "'/tmp/my repo'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    fn parse(records: &[&str]) -> StatusV2 {
        let mut out = records.join("\0").into_bytes();
        out.push(0);
        StatusV2::parse(&out).expect("parses")
    }

    const OID: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn status_v2_branch_headers() {
        let status = parse(&[
            &format!("# branch.oid {OID}"),
            "# branch.head main",
            "# branch.upstream origin/main",
            "# branch.ab +3 -12",
            "# stash 2",
        ]);
        assert_eq!(status.oid, Oid::Commit(OID.into()));
        assert_eq!(status.branch, Some(Some("main".into())));
        assert_eq!(status.upstream, Some(("origin/main".into(), Some((3, 12)))));
        assert!(status.dirty.is_empty());

        let gone = parse(&[
            &format!("# branch.oid {OID}"),
            "# branch.head a b",
            "# branch.upstream origin/gone",
        ]);
        assert_eq!(gone.branch, Some(Some("a b".into())));
        assert_eq!(gone.upstream, Some(("origin/gone".into(), None)));

        let unborn = parse(&["# branch.oid (initial)", "# branch.head main"]);
        assert_eq!(
            (unborn.oid, unborn.branch, unborn.upstream),
            (Oid::Initial, Some(Some("main".into())), None)
        );
        let detached = parse(&[&format!("# branch.oid {OID}"), "# branch.head (detached)"]);
        assert_eq!(detached.branch, Some(None));
    }

    #[test]
    fn status_v2_headers_it_cannot_read_ask_for_another_way() {
        let oid = format!("# branch.oid {OID}");
        for records in [
            vec![oid.as_str(), "# branch.head (unknown)"],
            vec![oid.as_str(), "# branch.head (null)"],
            vec![oid.as_str()],
            vec!["# branch.head main"],
            vec![],
            vec![
                oid.as_str(),
                "# branch.head main",
                "# branch.upstream origin/main",
                "# branch.ab +? -?",
            ],
        ] {
            assert_eq!(parse(&records).branch, None, "{records:?}");
        }
    }

    #[test]
    fn status_v2_entries() {
        let status = parse(&[
            "1 .M N... 100644 100644 100644 a b with  two spaces.md",
            "2 R. N... 100644 100644 100644 a b R100 new name.md",
            "old name.md",
            "2 C. N... 100644 100644 100644 a b C75 copy.md",
            "copy source.md",
            "2 .R N... 100644 100644 100644 a b R90 moved.md",
            "unmoved.md",
            "u UU N... 100644 100644 100644 100644 a b c con flict.md",
            "? dir/ünï 名前.md",
            "! ignored.log",
        ]);
        let dirty: Vec<&str> = status.dirty.iter().map(String::as_str).collect();
        assert_eq!(
            dirty,
            [
                "con flict.md",
                "copy.md",
                "dir/ünï 名前.md",
                "moved.md",
                "new name.md",
                "old name.md",
                "unmoved.md",
                "with  two spaces.md",
            ]
        );
    }

    #[test]
    fn status_v2_bad_entries_are_errors() {
        for out in [
            &b"1 .M N... 100644 100644 100644 a b\0"[..],
            b"2 R. N... 100644 100644 100644 a b R100 new.md\0",
            b"? \0",
            b"X what\0",
            b"#\0",
        ] {
            assert!(
                StatusV2::parse(out).is_err(),
                "{:?}",
                String::from_utf8_lossy(out)
            );
        }
    }

    fn state() -> RepoState {
        RepoState {
            root: PathBuf::from("/r"),
            head: Some("abc".into()),
            branch: Some("main".into()),
            upstream: Some("origin/main".into()),
            behind: 0,
            ahead: 0,
            operation: None,
            index_locked: false,
        }
    }

    #[test]
    fn blockers_in_priority_order() {
        assert_eq!(state().write_blocker(), None);
        let ahead = RepoState {
            ahead: 3,
            ..state()
        };
        assert_eq!(ahead.write_blocker(), None);
        let stale = RepoState {
            behind: 2,
            ..state()
        };
        let blocker = stale.write_blocker().expect("stale blocks");
        assert_eq!(blocker.kind, BlockerKind::Stale);
        assert_eq!(
            blocker.message,
            "/r is behind origin/main by 2 commits: run `git -C /r pull --ff-only` or `concord sync --pull`"
        );
        let diverged = RepoState {
            ahead: 1,
            ..stale.clone()
        };
        assert!(
            diverged
                .write_blocker()
                .expect("blocks")
                .message
                .contains("diverged")
        );
        let detached = RepoState {
            branch: None,
            ..stale
        };
        assert_eq!(
            detached.write_blocker().map(|b| b.kind),
            Some(BlockerKind::Detached)
        );
        let locked = RepoState {
            index_locked: true,
            ..detached
        };
        assert_eq!(
            locked.write_blocker().map(|b| b.kind),
            Some(BlockerKind::IndexLocked)
        );
        let rebasing = RepoState {
            operation: Some("rebase"),
            ..locked
        };
        let blocker = rebasing.write_blocker().expect("blocks");
        assert_eq!(blocker.kind, BlockerKind::Operation);
        assert!(
            blocker.message.contains("git -C /r rebase --abort"),
            "{}",
            blocker.message
        );
    }

    #[test]
    fn batch_answers_are_read_in_order_and_bad_ones_are_errors() {
        let specs: Vec<String> = [":0:a b", ":0:gone", "tree"].map(String::from).to_vec();
        let out = b"0123abcd blob 5\na\0\nb\n\n:0:gone missing\nabcd tree 3\nxyz\n";
        let blobs = read_batch(&mut &out[..], &specs).expect("reads");
        assert_eq!(blobs, vec![Some(b"a\0\nb\n".to_vec()), None, None]);

        for bad in [
            &b"0123abcd blob 5\na\0\nb"[..], // ends inside the content
            b"0123abcd blob 2\nabc\n",       // no newline after the content
            b":0:other missing\n",           // not the spec asked for
            b"0123abcd blob\n",              // no size
            b"",                             // nothing
        ] {
            assert!(
                read_batch(&mut &bad[..], &specs[..1]).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn added_dates_keep_the_earliest_and_strip_the_header_newline() {
        let out = b"\x002024-02-03\x00\nb.md\x00\nlines\x00\x002022-05-06\x00\na.md\x00b.md\x00";
        let dates = parse_added_dates(out).expect("parses");
        let mut dates: Vec<(String, String)> = dates.into_iter().collect();
        dates.sort();
        let expected = [
            ("\nlines", "2024-02-03"),
            ("a.md", "2022-05-06"),
            ("b.md", "2022-05-06"),
        ]
        .map(|(p, d)| (p.to_owned(), d.to_owned()));
        assert_eq!(dates, expected);
        assert_eq!(parse_added_dates(b"").expect("parses"), HashMap::new());
        assert!(parse_added_dates(b"a.md\x00").is_err());
        assert!(parse_added_dates(b"\x00not a date\x00\na.md\x00").is_err());
    }

    #[test]
    fn batch_nameable_paths() {
        for ok in ["a.md", "dir/ünï name.md", "2:x.md", ".hidden/x", "a..b"] {
            assert!(batch_nameable(ok), "{ok:?}");
        }
        for bad in [
            "", "a\nb", "a\r", "./a", "../a", "a/../b", "a//b", "/a", "a/", ".",
        ] {
            assert!(!batch_nameable(bad), "{bad:?}");
        }
    }

    #[test]
    fn cat_file_dying_midway_is_an_error_with_its_message_not_a_hang() {
        let tmp = tempfile::TempDir::new().expect("temp dir");
        let init = Command::new("git")
            .arg("-C")
            .arg(tmp.path())
            .args(["init", "--quiet"])
            .env("LC_ALL", "C")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .output()
            .expect("git runs");
        assert!(init.status.success());
        let repo = Repo::open(tmp.path()).expect("opens");
        // Far more requests than a pipe holds, and git stops at the first
        // (a path outside the repository): the writer must not block.
        let mut specs = vec![":0:../outside".to_owned()];
        specs.extend((0..100_000).map(|i| format!(":0:missing/file number {i}.md")));
        let err = repo.cat_file_blobs(&specs).expect_err("git dies");
        let GitError::Failed {
            command, stderr, ..
        } = &err
        else {
            panic!("expected Failed, got {err:?}");
        };
        assert!(command.contains("cat-file --batch"), "{command}");
        assert!(stderr.contains("outside repository"), "{stderr}");
        // Every spec missing: all `None`.
        let answers = repo.cat_file_blobs(&specs[1..]).expect("reads");
        assert_eq!(answers.len(), 100_000);
        assert!(answers.iter().all(Option::is_none));
    }
}
