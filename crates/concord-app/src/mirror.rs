//! `concord mirror`: owned documents copied, byte for byte plus a marker
//! member, from their owner repo into the others (`[[mirror]]` rules). The
//! decisions are `concord_engine::mirror::plan`'s; this file reads the
//! copies and applies the plan: in `commit` mode one commit per repo on its
//! current branch; in `pull-request` mode one commit per repo built beside
//! the work tree, pushed as a `concord/mirror/...` branch and proposed in
//! one pull request, or added to the open one.

use crate::hub::{self, Failure};
use crate::{Outcome, sha256_hex};
use concord_engine::mirror::{self as planner, DocState, MirrorAction, MirrorRule};
use concord_store::Watermark;
use concord_trackers::github::{GitHub, NewPull};
use concord_workspace::Workspace;
use concord_workspace::mirror_config::{Mirror, MirrorMode};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How to run the mirrors.
#[derive(Debug, Clone, Copy, Default)]
pub struct MirrorOptions {
    /// Plan only: write nothing, record nothing.
    pub dry_run: bool,
    /// Overwrite (or delete) mirrors that were edited by hand.
    pub force: bool,
}

/// The shape of [`MirrorReport`]; it changes when a field changes meaning.
pub const VERSION: u32 = 1;

/// What a mirror run did, over every rule. Fields are in the order
/// `concord mirror --json` has always printed them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct MirrorReport {
    /// [`VERSION`]: the shape of this report.
    pub version: u32,
    pub failed: Vec<String>,
    pub pull_requests: Vec<PullOutcome>,
    pub reports: Vec<Reported>,
    pub written: Vec<Written>,
    /// Whether the run was a dry run (the text says "would write").
    #[serde(skip)]
    pub dry_run: bool,
}

/// A document written (or, in a dry run, that would be).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Written {
    pub path: String,
    pub reason: &'static str,
    pub repo: String,
}

/// Something the plan reports instead of writing (a hand edit, a dirty
/// file, an unknown owner, …).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Reported {
    pub code: &'static str,
    pub message: String,
    pub path: String,
    pub repo: Option<String>,
}

impl MirrorReport {
    /// Failures first; findings other than leftover markers next.
    pub fn outcome(&self) -> Outcome {
        if !self.failed.is_empty() {
            Outcome::PartialFailure
        } else if self
            .reports
            .iter()
            .any(|r| r.code != planner::MARKER_LEFTOVER)
        {
            Outcome::Findings
        } else {
            Outcome::Clean
        }
    }
}

/// Hub watermark naming what concord last wrote at (repo, path).
fn written_mark(repo: &str, path: &str) -> String {
    format!("@mirror:{repo}:{path}")
}

/// Run every `[[mirror]]` rule of the workspace.
pub fn mirror(
    ws: &Workspace,
    options: &MirrorOptions,
    progress: &dyn crate::Progress,
) -> Result<MirrorReport, Failure> {
    if ws.mirrors.is_empty() {
        return Err(Failure::usage(
            "no [[mirror]] rules in the workspace: nothing to mirror",
            None,
        ));
    }
    let mut report = MirrorReport {
        version: VERSION,
        failed: Vec::new(),
        pull_requests: Vec::new(),
        reports: Vec::new(),
        written: Vec::new(),
        dry_run: options.dry_run,
    };
    for (index, rule) in ws.mirrors.iter().enumerate() {
        if progress.cancelled() {
            let done = if index == 0 {
                String::new()
            } else {
                format!(" (the {} before it are done)", crate::count(index, "rule"))
            };
            return Err(Failure::cancelled(&format!(
                "mirror rule {} of {}{done}",
                index + 1,
                ws.mirrors.len()
            )));
        }
        let github = github_for(rule, options)?;
        let outcome = mirror_rule(ws, rule, options, github.as_ref())?;
        report.reports.extend(
            outcome
                .reports
                .into_iter()
                .map(|(repo, path, code, message)| Reported {
                    code,
                    message,
                    path,
                    repo,
                }),
        );
        report.written.extend(
            outcome
                .written
                .into_iter()
                .map(|(repo, path, reason)| Written { path, reason, repo }),
        );
        report.failed.extend(outcome.failed);
        report.pull_requests.extend(outcome.pulls);
    }
    Ok(report)
}

/// Pull-request mode (not a dry run) needs a GitHub client with a token.
fn github_for(rule: &Mirror, options: &MirrorOptions) -> Result<Option<GitHub>, Failure> {
    let MirrorMode::PullRequest { token_env, url, .. } = &rule.mode else {
        return Ok(None);
    };
    if options.dry_run {
        return Ok(None);
    }
    let token = std::env::var(token_env)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            Failure::usage(
                format!(
                    "mirror `{}`: pull-request mode needs a GitHub token in ${token_env}",
                    rule.name
                ),
                Some("export it, or use --dry-run to see what would be proposed".into()),
            )
        })?;
    GitHub::new(url, &token)
        .map(Some)
        .map_err(|why| Failure::usage(format!("mirror `{}`: {why}", rule.name), None))
}

type Report = (Option<String>, String, &'static str, String);

struct RuleOutcome {
    reports: Vec<Report>,
    written: Vec<(String, String, &'static str)>,
    failed: Vec<String>,
    pulls: Vec<PullOutcome>,
}

/// What a pull-request mode run did in one repo (fields in the order the
/// JSON report has always had them).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PullOutcome {
    /// `opened`, `updated`, or `unchanged` (the open one already proposes
    /// exactly these mirrors).
    pub action: &'static str,
    pub branch: String,
    pub documents: usize,
    pub github_repo: String,
    pub number: u64,
    pub repo: String,
    pub url: String,
}

/// How many hashes of proposed mirrors a path keeps (pull-request mode):
/// a target still holding an earlier proposal's content, merged or not,
/// is not mistaken for a hand edit.
const PROPOSALS_KEPT: usize = 8;

fn mirror_rule(
    ws: &Workspace,
    rule: &Mirror,
    options: &MirrorOptions,
    github: Option<&GitHub>,
) -> Result<RuleOutcome, Failure> {
    let docs = read_copies(ws, rule);
    let marks = read_marks(ws)?;
    let actions = plan_rule(ws, rule, &docs, &marks, options.force);
    let mut outcome = RuleOutcome {
        reports: Vec::new(),
        written: Vec::new(),
        failed: Vec::new(),
        pulls: Vec::new(),
    };
    let changes = changes_per_repo(ws, rule, actions, &mut outcome.reports);
    let mut applying = Applying {
        marks: Vec::new(),
        commits: BTreeMap::new(),
        now: concord_store::now_rfc3339(),
    };
    for (repo, repo_changes) in changes {
        let context = RepoRun {
            ws,
            rule,
            options,
            github,
            docs: &docs,
            marks: &marks,
        };
        apply_repo(&context, repo, repo_changes, &mut outcome, &mut applying);
    }
    record_run(ws, rule, options, &outcome, applying)?;
    Ok(outcome)
}

/// Every copy of every document the rule covers, read from each repo's
/// working tree, by path.
fn read_copies(ws: &Workspace, rule: &Mirror) -> Vec<DocState> {
    let mut docs: BTreeMap<String, DocState> = BTreeMap::new();
    for &index in &rule.repos {
        let repo = &ws.repos[index];
        for (path, full) in crate::repo_files::walk(&repo.root, &[]) {
            if !rule.matcher.is_match(&path) {
                continue;
            }
            let Ok(bytes) = std::fs::read(full) else {
                continue;
            };
            let doc: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
            let owner = doc
                .as_ref()
                .and_then(|d| d.pointer(&rule.owner_field))
                .and_then(|v| v.as_str())
                .map(str::to_string);
            let marker = doc
                .as_ref()
                .and_then(|d| d.get(&rule.marker_field))
                .filter(|v| !v.is_null());
            let copy = planner::Copy {
                owner,
                has_marker: marker.is_some(),
                marker_value: marker.and_then(|v| v.as_str()).map(str::to_string),
                bytes,
            };
            docs.entry(path.clone())
                .or_insert_with(|| DocState {
                    path,
                    copies: BTreeMap::new(),
                })
                .copies
                .insert(repo.name.clone(), copy);
        }
    }
    docs.into_values().collect()
}

/// What concord last wrote (or proposed), from one read of the hub's marks.
struct Marks {
    /// (repo, path) -> hashes of what was written or proposed, newest first.
    proposed: BTreeMap<(String, String), Vec<String>>,
    /// repo -> `<branch> <tree id>` of its open proposal.
    open_proposals: BTreeMap<String, String>,
}

fn read_marks(ws: &Workspace) -> Result<Marks, Failure> {
    let marks = hub::with_store(ws, async |store| {
        store.watermarks_with_prefix(MARK_PREFIX).await
    })?;
    Ok(marks_of(marks))
}

/// Every hub watermark `mirror` writes starts with this.
pub const MARK_PREFIX: &str = "@mirror";

fn marks_of(marks: Vec<Watermark>) -> Marks {
    let mut read = Marks {
        proposed: BTreeMap::new(),
        open_proposals: BTreeMap::new(),
    };
    for mark in marks {
        if let Some(repo) = mark.source.strip_prefix(PROPOSAL_MARK) {
            read.open_proposals.insert(repo.to_string(), mark.position);
        } else if let Some((repo, path)) = mark
            .source
            .strip_prefix("@mirror:")
            .and_then(|rest| rest.split_once(':'))
            && !mark.position.is_empty()
        {
            let hashes = mark.position.split(' ').map(str::to_string).collect();
            read.proposed
                .insert((repo.to_string(), path.to_string()), hashes);
        }
    }
    read
}

/// The pure plan for one rule (`concord_engine::mirror::plan`).
fn plan_rule(
    ws: &Workspace,
    rule: &Mirror,
    docs: &[DocState],
    marks: &Marks,
    force: bool,
) -> Vec<MirrorAction> {
    // The planner knows one hash per copy: the one matching it, if any.
    let last_written: BTreeMap<(String, String), String> = marks
        .proposed
        .iter()
        .map(|((repo, path), hashes)| {
            let current = doc_at(docs, path)
                .and_then(|d| d.copies.get(repo))
                .map(|c| sha256_hex(&c.bytes));
            let hash = current
                .filter(|h| hashes.contains(h))
                .or_else(|| hashes.first().cloned())
                .unwrap_or_default();
            ((repo.clone(), path.clone()), hash)
        })
        .collect();
    let planner_rule = MirrorRule {
        repos: rule
            .repos
            .iter()
            .map(|i| ws.repos[*i].name.clone())
            .collect(),
        owners: rule
            .owners
            .iter()
            .map(|(value, index)| (value.clone(), ws.repos[*index].name.clone()))
            .collect(),
        marker_field: rule.marker_field.clone(),
        marker_value_template: rule.marker_value.clone(),
        delete: rule.delete,
    };
    let marker_field = rule.marker_field.clone();
    let mirror_bytes = |owner: &[u8], marker: &str| {
        let value = serde_json::Value::from(marker).to_string();
        concord_formats::json::set_member(owner, &marker_field, &value).map_err(|e| e.to_string())
    };
    let same_content = |a: &[u8], b: &[u8], marker: &str| {
        let strip = |bytes: &[u8]| {
            serde_json::from_slice::<serde_json::Value>(bytes)
                .ok()
                .map(|mut v| {
                    if let Some(object) = v.as_object_mut() {
                        object.remove(marker);
                    }
                    v
                })
        };
        matches!((strip(a), strip(b)), (Some(x), Some(y)) if x == y)
    };
    planner::plan(
        &planner_rule,
        docs,
        &last_written,
        force,
        &mirror_bytes,
        &same_content,
        &sha256_hex,
    )
}

/// The writes and deletes of the plan, per repo (one commit or pull
/// request each); reports, and files with uncommitted changes, go to
/// `reports` instead.
fn changes_per_repo(
    ws: &Workspace,
    rule: &Mirror,
    actions: Vec<MirrorAction>,
    reports: &mut Vec<Report>,
) -> BTreeMap<String, Vec<Change>> {
    let pull_request = matches!(rule.mode, MirrorMode::PullRequest { .. });
    // Files with uncommitted changes are the user's (commit mode writes
    // the work tree; pull-request mode does not touch it): one status per repo.
    let dirty: BTreeMap<&str, BTreeSet<String>> = rule
        .repos
        .iter()
        .filter(|_| !pull_request)
        .map(|i| {
            let repo = &ws.repos[*i];
            let paths = concord_git::Repo::open(&repo.root)
                .ok()
                .and_then(|g| g.dirty_paths().ok())
                .unwrap_or_default();
            (repo.name.as_str(), paths)
        })
        .collect();
    let mut changes: BTreeMap<String, Vec<Change>> = BTreeMap::new();
    for action in actions {
        let (repo, path, content, reason) = match action {
            MirrorAction::Report {
                repo,
                path,
                code,
                message,
            } => {
                reports.push((repo, path, code, message));
                continue;
            }
            MirrorAction::Write {
                repo,
                path,
                bytes,
                reason,
            } => (repo, path, Some(bytes), reason.as_str()),
            MirrorAction::Delete { repo, path } => (repo, path, None, "deleted"),
        };
        if dirty.get(repo.as_str()).is_some_and(|d| d.contains(&path)) {
            reports.push((
                Some(repo),
                path,
                "DIRTY_FILE",
                "the file has uncommitted changes: not written".into(),
            ));
            continue;
        }
        changes.entry(repo).or_default().push(Change {
            path,
            content,
            reason,
        });
    }
    changes
}

/// What one rule's run reads while it applies its changes repo by repo.
struct RepoRun<'a> {
    ws: &'a Workspace,
    rule: &'a Mirror,
    options: &'a MirrorOptions,
    github: Option<&'a GitHub>,
    docs: &'a [DocState],
    marks: &'a Marks,
}

/// What applying collects for the hub.
struct Applying {
    marks: Vec<Watermark>,
    /// repo -> the commit this run made there (or pushed for review).
    commits: BTreeMap<String, String>,
    now: String,
}

/// One repo's changes: committed, proposed, or (dry run) only listed.
fn apply_repo(
    run: &RepoRun<'_>,
    repo: String,
    repo_changes: Vec<Change>,
    outcome: &mut RuleOutcome,
    applying: &mut Applying,
) {
    let Some(root) = run
        .ws
        .repos
        .iter()
        .find(|r| r.name == repo)
        .map(|r| r.root.clone())
    else {
        return;
    };
    let pull_request = matches!(run.rule.mode, MirrorMode::PullRequest { .. });
    let (applied, problems, commit_id) = if run.options.dry_run {
        (
            repo_changes.iter().map(|c| c.path.clone()).collect(),
            Vec::new(),
            None,
        )
    } else {
        match (&run.rule.mode, run.github) {
            (
                MirrorMode::PullRequest {
                    github_repos, base, ..
                },
                Some(github),
            ) => {
                let target = ProposalTarget {
                    repo: &repo,
                    root: &root,
                    github,
                    github_repo: github_repos.get(&repo).map_or("", String::as_str),
                    base,
                    open_proposal: run.marks.open_proposals.get(&repo).map(String::as_str),
                };
                let source = source_of(run.ws, run.rule, run.docs, &repo, &repo_changes);
                match propose(&target, &source, &repo_changes) {
                    Ok(Some(proposal)) => {
                        applying.marks.push(Watermark {
                            source: format!("{PROPOSAL_MARK}{repo}"),
                            position: proposal.mark.clone(),
                            updated_at: applying.now.clone(),
                        });
                        let paths = if proposal.pull.action == "unchanged" {
                            BTreeSet::new()
                        } else {
                            repo_changes.iter().map(|c| c.path.clone()).collect()
                        };
                        outcome.pulls.push(proposal.pull);
                        (paths, Vec::new(), Some(proposal.commit))
                    }
                    Ok(None) => (BTreeSet::new(), Vec::new(), None),
                    Err(problem) => (BTreeSet::new(), vec![problem], None),
                }
            }
            (MirrorMode::Commit { push }, _) => commit(&root, &repo, &repo_changes, *push),
            (MirrorMode::PullRequest { .. }, None) => (BTreeSet::new(), Vec::new(), None),
        }
    };
    outcome.failed.extend(problems);
    if let Some(id) = commit_id {
        applying.commits.insert(repo.clone(), id);
    }
    for change in repo_changes {
        if !applied.contains(&change.path) {
            continue;
        }
        if !run.options.dry_run {
            let hash = change
                .content
                .as_deref()
                .map(sha256_hex)
                .unwrap_or_default();
            // Commit mode: the target holds exactly this now. Pull-request
            // mode: earlier proposals may still be what it holds.
            let mut hashes = vec![hash];
            if pull_request {
                let key = (repo.clone(), change.path.clone());
                hashes.extend(run.marks.proposed.get(&key).into_iter().flatten().cloned());
                hashes.dedup();
                hashes.truncate(PROPOSALS_KEPT);
            }
            applying.marks.push(Watermark {
                source: written_mark(&repo, &change.path),
                position: if change.content.is_some() {
                    hashes.join(" ")
                } else {
                    String::new()
                },
                updated_at: applying.now.clone(),
            });
        }
        outcome
            .written
            .push((repo.clone(), change.path, change.reason));
    }
}

/// The hub's marks of what was written, and of the run itself (what
/// `concord summary` shows as the last mirror run); nothing in a dry run.
fn record_run(
    ws: &Workspace,
    rule: &Mirror,
    options: &MirrorOptions,
    outcome: &RuleOutcome,
    mut applying: Applying,
) -> Result<(), Failure> {
    if !options.dry_run {
        applying.marks.push(Watermark {
            source: format!("{RUN_MARK}{}", rule.name),
            position: serde_json::json!({
                "written": outcome.written.len(),
                "reported": outcome.reports.len(),
                "failed": outcome.failed.len(),
                "commits": applying.commits,
            })
            .to_string(),
            updated_at: applying.now.clone(),
        });
    }
    if !applying.marks.is_empty() {
        hub::with_store(ws, async |store| {
            for mark in &applying.marks {
                store.set_watermark(mark).await?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// The document at `path`; `docs` is sorted by path (it comes from a map).
fn doc_at<'d>(docs: &'d [DocState], path: &str) -> Option<&'d DocState> {
    docs.binary_search_by(|d| d.path.as_str().cmp(path))
        .ok()
        .map(|i| &docs[i])
}

/// Hub watermark of a rule's last run (not a dry run): JSON with what it
/// wrote, reported and failed, and the commit it made per repo.
pub const RUN_MARK: &str = "@mirror-run:";

/// Hub watermark naming the open proposal of a repo: `<branch> <tree id>`.
const PROPOSAL_MARK: &str = "@mirror-pr:";

/// One file of a repo's change set: new content, or `None` to delete it.
struct Change {
    path: String,
    content: Option<Vec<u8>>,
    reason: &'static str,
}

/// Commit mode: write the work tree, commit exactly those paths on the
/// current branch, push if asked. The paths committed, and the problems.
fn commit(
    root: &std::path::Path,
    repo: &str,
    changes: &[Change],
    push: bool,
) -> (BTreeSet<String>, Vec<String>, Option<String>) {
    let mut done = BTreeSet::new();
    let mut problems = Vec::new();
    for change in changes {
        let full = root.join(&change.path);
        let applied = match &change.content {
            Some(bytes) => full
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| concord_workspace::write_atomic(&full, bytes)),
            None => std::fs::remove_file(&full),
        };
        match applied {
            Ok(()) => {
                done.insert(change.path.clone());
            }
            Err(e) => problems.push(format!("{repo}:{}: {e}", change.path)),
        }
    }
    if done.is_empty() {
        return (done, problems, None);
    }
    let git = match concord_git::Repo::open(root) {
        Ok(git) => git,
        Err(e) => {
            problems.push(format!("{repo}: {e}"));
            return (BTreeSet::new(), problems, None);
        }
    };
    let paths: Vec<String> = done.iter().cloned().collect();
    let committed = match git.commit_paths(&paths, &commit_message(&paths)) {
        Ok(id) => id,
        Err(e) => {
            problems.push(format!("{repo}: the commit failed: {e}"));
            return (BTreeSet::new(), problems, None);
        }
    };
    if push && let Err(e) = git.push() {
        problems.push(format!("{repo}: committed but the push failed: {e}"));
    }
    (done, problems, committed)
}

fn commit_message(paths: &[String]) -> String {
    let lines: Vec<String> = paths.iter().map(|p| format!("- {p}")).collect();
    format!(
        "chore(concord): mirror {} document(s) [auto]\n\n{}\n",
        paths.len(),
        lines.join("\n")
    )
}

/// Where a repo's proposal goes.
struct ProposalTarget<'a> {
    repo: &'a str,
    root: &'a std::path::Path,
    github: &'a GitHub,
    github_repo: &'a str,
    base: &'a str,
    /// The hub's mark of the last proposal: `<branch> <tree id>`.
    open_proposal: Option<&'a str>,
}

struct Proposal {
    pull: PullOutcome,
    /// The commit the branch points at.
    commit: String,
    /// The new `<branch> <tree id>` mark.
    mark: String,
}

/// The repos the changes come from and the short id of the first one's
/// HEAD, for the branch name `concord/mirror/<source>-<sha>`.
fn source_of(
    ws: &Workspace,
    rule: &Mirror,
    docs: &[DocState],
    target: &str,
    changes: &[Change],
) -> String {
    let mut sources = BTreeSet::new();
    for change in changes {
        let Some(doc) = doc_at(docs, &change.path) else {
            continue;
        };
        // The copy without marker that names its own repo is the owner's.
        for (repo, copy) in &doc.copies {
            let own = copy
                .owner
                .as_ref()
                .and_then(|o| rule.owners.get(o))
                .is_some_and(|i| ws.repos[*i].name == *repo);
            if repo != target && own && !copy.has_marker {
                sources.insert(repo.clone());
            }
        }
    }
    let first = sources
        .iter()
        .next()
        .cloned()
        .unwrap_or_else(|| target.to_string());
    let sha = ws
        .repos
        .iter()
        .find(|r| r.name == first)
        .and_then(|r| concord_git::Repo::open(&r.root).ok())
        .and_then(|g| g.head().ok().flatten())
        .map(|h| h.chars().take(7).collect::<String>())
        .unwrap_or_else(|| "unborn".into());
    let names: Vec<&str> = sources.iter().map(String::as_str).collect();
    let name = if names.is_empty() {
        first.clone()
    } else {
        names.join("+")
    };
    format!("{name}-{sha}")
}

/// Pull-request mode: build the commit beside the work tree on the base
/// branch, then push it and open a pull request, or add it to the open
/// `concord/mirror/*` one (never a second one).
/// `None` when the base branch already holds these mirrors (a proposal
/// was merged and this clone has not caught up).
fn propose(
    target: &ProposalTarget<'_>,
    source: &str,
    changes: &[Change],
) -> Result<Option<Proposal>, String> {
    let ProposalTarget {
        repo,
        github,
        github_repo,
        base,
        ..
    } = *target;
    let fail = |what: &str, e: &dyn std::fmt::Display| format!("{repo}: {what}: {e}");
    let git = concord_git::Repo::open(target.root).map_err(|e| fail("cannot open", &e))?;
    let remote = git
        .default_remote()
        .map_err(|e| fail("cannot read its remotes", &e))?
        .ok_or_else(|| format!("{repo}: no remote to push the mirror branch to"))?;
    // The proposal starts from the base branch as the remote has it.
    let mut base_commit = None;
    for rev in [
        format!("refs/remotes/{remote}/{base}"),
        format!("refs/heads/{base}"),
        "HEAD".into(),
    ] {
        base_commit = git.resolve_commit(&rev).ok().flatten();
        if base_commit.is_some() {
            break;
        }
    }
    let base_commit = base_commit.ok_or_else(|| format!("{repo}: no commit to start from"))?;
    let paths: Vec<String> = changes.iter().map(|c| c.path.clone()).collect();
    let message = commit_message(&paths);
    let files: Vec<(String, Option<Vec<u8>>)> = changes
        .iter()
        .map(|c| (c.path.clone(), c.content.clone()))
        .collect();
    let commit = git
        .commit_beside(&base_commit, &files, &message)
        .map_err(|e| fail("cannot build the mirror commit", &e))?;
    let title = format!(
        "chore(concord): mirror {} document(s) from {source}",
        paths.len()
    );
    let body = format!(
        "Mirrored by `concord mirror` from their owner's copy; do not edit them here.\n\n{}\n",
        paths
            .iter()
            .map(|p| format!("- `{p}`"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let pulls = github
        .pulls(github_repo)
        .map_err(|e| fail("cannot list pull requests", &e))?;
    let open = pulls.iter().find(|p| {
        p.state == "open" && p.head_ref.starts_with("concord/mirror/") && p.base_ref == base
    });
    let Some(commit) = commit else {
        return Ok(None);
    };
    let tree = git
        .tree_of(&commit)
        .map_err(|e| fail("cannot read the commit", &e))?;
    let outcome = |action, pull: &concord_trackers::github::Pull, branch: &str| Proposal {
        pull: PullOutcome {
            repo: repo.to_string(),
            github_repo: github_repo.to_string(),
            action,
            number: pull.number,
            url: pull.html_url.clone(),
            branch: branch.to_string(),
            documents: paths.len(),
        },
        mark: format!("{branch} {tree}"),
        commit: commit.clone(),
    };
    if let Some(open) = open {
        let branch = open.head_ref.clone();
        if target.open_proposal == Some(format!("{branch} {tree}").as_str()) {
            return Ok(Some(outcome("unchanged", open, &branch)));
        }
        git.push_commit(&remote, &commit, &branch, true)
            .map_err(|e| fail("cannot push the mirror branch", &e))?;
        let pull = github
            .update_pull(github_repo, open.number, &title, &body)
            .map_err(|e| {
                fail(
                    &format!(
                        "pushed {branch} but cannot update pull request #{}",
                        open.number
                    ),
                    &e,
                )
            })?;
        return Ok(Some(outcome("updated", &pull, &branch)));
    }
    let branch = format!("concord/mirror/{source}");
    // The branch is concord's by its name: an old one is replaced.
    git.push_commit(&remote, &commit, &branch, true)
        .map_err(|e| fail("cannot push the mirror branch", &e))?;
    let new = NewPull {
        title,
        head: branch.clone(),
        base: base.to_string(),
        body,
    };
    let pull = github.create_pull(github_repo, &new).map_err(|e| {
        fail(
            &format!("pushed {branch} but cannot open a pull request"),
            &e,
        )
    })?;
    Ok(Some(outcome("opened", &pull, &branch)))
}

// ---------------------------------------------------------------------------
// health: how the mirrors stand now, for the control room

/// Documents listed per rule as needing attention (all are counted).
pub const ATTENTION_LISTED: usize = 50;

/// How one rule's documents stand now: what a run would do, without doing
/// it. The control room's mirror panel.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct MirrorHealth {
    pub rule: String,
    /// Documents the rule covers (in any of its repos).
    pub documents: usize,
    /// Copies by state: `owner`, `in_sync`, `stale` (the owner's copy
    /// changed since), `edited` (by hand), `missing`, `orphaned` (the
    /// owner's copy is gone), `owner_moved`, or a reason code in lower case.
    pub by_state: BTreeMap<String, usize>,
    /// Owner repo (`(unknown)` when the owner field names no repo) ->
    /// documents it owns.
    pub owners: BTreeMap<String, usize>,
    /// Documents with a copy neither the owner's nor in sync, by path: the
    /// first [`ATTENTION_LISTED`].
    pub attention: Vec<MirrorDoc>,
    /// How many documents need attention.
    pub attention_total: usize,
}

/// One document of a rule and the state of each repo's copy.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct MirrorDoc {
    pub path: String,
    /// The repo that owns it, if its owner field names one.
    pub owner: Option<String>,
    /// Repo -> the state of its copy (see [`MirrorHealth::by_state`]).
    pub copies: BTreeMap<String, String>,
    /// What concerns the document as a whole (`CODE: message`).
    pub problems: Vec<String>,
}

impl MirrorDoc {
    /// Whether a person should look: a copy is neither the owner's nor in
    /// sync, or the document has a problem.
    pub fn needs_attention(&self) -> bool {
        !self.problems.is_empty()
            || self
                .copies
                .values()
                .any(|state| state != STATE_OWNER && state != STATE_IN_SYNC)
    }
}

const STATE_OWNER: &str = "owner";
const STATE_IN_SYNC: &str = "in_sync";

/// Every rule's health from the working trees and the hub's `@mirror`
/// watermarks (`marks`); reads files, writes nothing.
pub fn health(ws: &Workspace, marks: Vec<Watermark>) -> Vec<MirrorHealth> {
    let marks = marks_of(marks);
    ws.mirrors
        .iter()
        .map(|rule| {
            let docs = read_copies(ws, rule);
            let actions = plan_rule(ws, rule, &docs, &marks, false);
            let owners: BTreeMap<String, String> = rule
                .owners
                .iter()
                .map(|(value, index)| (value.clone(), ws.repos[*index].name.clone()))
                .collect();
            let docs: Vec<MirrorDoc> = docs
                .iter()
                .map(|doc| doc_health(doc, &owners, &actions))
                .collect();
            rule_health(&rule.name, docs)
        })
        .collect()
}

/// One document's copies, judged by the plan's actions on its path.
fn doc_health(
    doc: &DocState,
    owners: &BTreeMap<String, String>,
    actions: &[MirrorAction],
) -> MirrorDoc {
    let owner = doc
        .copies
        .values()
        .find_map(|c| c.owner.as_deref())
        .and_then(|value| owners.get(value).cloned());
    let mut copies: BTreeMap<String, String> = doc
        .copies
        .keys()
        .map(|repo| {
            let state = if owner.as_deref() == Some(repo.as_str()) {
                STATE_OWNER
            } else {
                STATE_IN_SYNC
            };
            (repo.clone(), state.to_string())
        })
        .collect();
    let mut problems = Vec::new();
    for action in actions.iter().filter(|a| a.path() == doc.path) {
        let (repo, state) = match action {
            MirrorAction::Write { repo, reason, .. } => (
                repo.clone(),
                match reason {
                    planner::Reason::Bootstrap => "missing",
                    planner::Reason::Stale => "stale",
                    planner::Reason::Repair => "edited",
                    planner::Reason::OwnerFlip => "owner_moved",
                }
                .to_string(),
            ),
            MirrorAction::Delete { repo, .. } => (repo.clone(), "orphaned".to_string()),
            MirrorAction::Report {
                repo: Some(repo),
                code,
                ..
            } if *code == planner::MIRROR_EDITED => (repo.clone(), "edited".to_string()),
            MirrorAction::Report {
                repo: Some(repo),
                code,
                ..
            } => (repo.clone(), code.to_ascii_lowercase()),
            MirrorAction::Report {
                repo: None,
                code,
                message,
                ..
            } => {
                problems.push(format!("{code}: {message}"));
                continue;
            }
        };
        copies.insert(repo, state);
    }
    MirrorDoc {
        path: doc.path.clone(),
        owner,
        copies,
        problems,
    }
}

/// A rule's counts over its documents, and the ones needing attention.
fn rule_health(rule: &str, docs: Vec<MirrorDoc>) -> MirrorHealth {
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut owners: BTreeMap<String, usize> = BTreeMap::new();
    for doc in &docs {
        for state in doc.copies.values() {
            *by_state.entry(state.clone()).or_default() += 1;
        }
        let owner = doc.owner.clone().unwrap_or_else(|| "(unknown)".into());
        *owners.entry(owner).or_default() += 1;
    }
    let documents = docs.len();
    let attention: Vec<MirrorDoc> = docs
        .into_iter()
        .filter(MirrorDoc::needs_attention)
        .collect();
    MirrorHealth {
        rule: rule.to_string(),
        documents,
        by_state,
        owners,
        attention_total: attention.len(),
        attention: attention.into_iter().take(ATTENTION_LISTED).collect(),
    }
}

#[cfg(test)]
mod health_tests {
    use super::*;

    fn copy(owner: &str) -> planner::Copy {
        planner::Copy {
            bytes: b"{}".to_vec(),
            owner: Some(owner.to_string()),
            has_marker: false,
            marker_value: None,
        }
    }

    fn doc(path: &str, repos: &[&str]) -> DocState {
        DocState {
            path: path.into(),
            copies: repos
                .iter()
                .map(|r| ((*r).to_string(), copy("alice")))
                .collect(),
        }
    }

    #[test]
    fn copies_take_the_state_the_plan_gives_them() {
        let owners = BTreeMap::from([("alice".to_string(), "app".to_string())]);
        let actions = vec![
            MirrorAction::Write {
                repo: "story".into(),
                path: "a.json".into(),
                bytes: Vec::new(),
                reason: planner::Reason::Stale,
            },
            MirrorAction::Report {
                repo: Some("docs".into()),
                path: "a.json".into(),
                code: planner::MIRROR_EDITED,
                message: "edited by hand".into(),
            },
            MirrorAction::Report {
                repo: None,
                path: "b.json".into(),
                code: planner::OWNER_UNKNOWN,
                message: "nobody".into(),
            },
        ];
        let a = doc_health(&doc("a.json", &["app", "story", "docs"]), &owners, &actions);
        assert_eq!(a.owner.as_deref(), Some("app"));
        assert_eq!(a.copies["app"], "owner");
        assert_eq!(a.copies["story"], "stale");
        assert_eq!(a.copies["docs"], "edited");
        assert!(a.needs_attention());
        let b = doc_health(&doc("b.json", &["app", "story"]), &owners, &actions);
        assert_eq!(b.problems, vec!["OWNER_UNKNOWN: nobody".to_string()]);
        let c = doc_health(&doc("c.json", &["app", "story"]), &owners, &actions);
        assert_eq!(c.copies["story"], "in_sync");
        assert!(!c.needs_attention());

        let health = rule_health("features", vec![a, b, c]);
        assert_eq!(health.documents, 3);
        assert_eq!(health.attention_total, 2);
        assert_eq!(health.owners["app"], 3);
        assert_eq!(health.by_state["owner"], 3);
        assert_eq!(health.by_state["in_sync"], 2);
        assert_eq!(health.by_state["stale"], 1);
        assert_eq!(health.by_state["edited"], 1);
    }
}
