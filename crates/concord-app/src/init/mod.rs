//! `init`: find the git repos under some folders, tell which files hold
//! work state and in which format, collect the status words they use, and
//! propose a commented `concord.toml` that loads and scans cleanly.
//!
//! The decisions are pure ([`detect`], [`globs`], [`vocabulary`],
//! [`propose`], [`render`]); this module is the shell around them: it
//! walks folders, reads files, proves the proposal by loading and scanning
//! it exactly as `concord scan` would, and writes the file.

pub mod detect;
pub mod globs;
pub mod propose;
pub mod render;
pub mod vocabulary;

use crate::Outcome;
use crate::hub::Failure;
use concord_model::{Warning, WarningCode};
use concord_workspace::Workspace;
use propose::{Plan, RepoFiles, RepoPlan, SourcePlan};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// The shape of [`InitReport`]; it changes when a field changes meaning.
pub const VERSION: u32 = 1;

/// Folders never looked into: build output, dependencies, concord's own hub.
const SKIP_DIRS: &[&str] = &[
    ".git",
    "target",
    "node_modules",
    ".concord",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".mypy_cache",
];
/// How deep under a given folder repos are looked for.
const MAX_REPO_DEPTH: usize = 6;
/// Files larger than this are not opened.
const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// How many shared keys the report lists by name.
const SHARED_KEY_EXAMPLES: usize = 10;

#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Folders to look for repos under (a repo itself, or a folder of repos).
    pub dirs: Vec<PathBuf>,
    /// Where the config will be written; repo paths are relative to its folder.
    pub output: PathBuf,
}

/// What init found and proposes; serialized, it is `concord init --json`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct InitReport {
    /// [`VERSION`].
    pub version: u32,
    /// The config file proposed.
    pub output: String,
    /// Whether it was written (not with `--dry-run`).
    pub written: bool,
    /// The folders searched for repos.
    pub searched: Vec<String>,
    pub repos: Vec<FoundRepo>,
    pub sources: Vec<ProposedSource>,
    /// Each workflow with every status word the sources use and where it went.
    pub workflows: Vec<vocabulary::ProposedWorkflow>,
    pub rules: Vec<ProposedRule>,
    /// Files that looked like they hold state but could not be classified.
    pub not_classified: Vec<NotClassified>,
    /// Keys found in more than one source of the active rule: sync will
    /// bring those sources into agreement on them.
    pub shared_keys: SharedKeys,
    /// What a scan of the proposed workspace warns about.
    pub scan_warnings: Vec<Warning>,
    /// The proposed `concord.toml`, as written or printed.
    pub config: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FoundRepo {
    pub name: String,
    /// As written in the config (relative to it).
    pub path: String,
    /// Files opened to classify (markdown and JSON).
    pub files_read: usize,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProposedSource {
    pub name: String,
    pub repo: String,
    pub format: String,
    pub glob: String,
    pub workflow: String,
    pub key: String,
    /// Files and items a scan of the proposed workspace reads.
    pub files: usize,
    pub items: usize,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProposedRule {
    pub name: String,
    pub between: Vec<String>,
    /// False for a rule proposed in a comment only.
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct NotClassified {
    pub repo: String,
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct SharedKeys {
    pub count: usize,
    /// The first few, each with the sources that hold it.
    pub examples: Vec<SharedKey>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SharedKey {
    pub key: String,
    pub sources: Vec<String>,
}

/// The proposed file and what it rests on.
#[derive(Debug)]
pub struct Proposal {
    pub toml: String,
    pub report: InitReport,
}

/// One repo found: its root and what its files hold.
struct Found {
    name: String,
    root: PathBuf,
    files: RepoFiles,
    /// Repo-relative paths of `*.log.json` event logs.
    logs: Vec<String>,
    files_read: usize,
    not_classified: Vec<(String, String)>,
}

/// Look, classify and propose; nothing is written.
pub fn propose(options: &InitOptions) -> Result<Proposal, Failure> {
    let config_dir = config_dir(&options.output)?;
    let output = config_dir.join(options.output.file_name().unwrap_or_default());
    let (searched, roots) = find_repos(&options.dirs)?;
    let names = repo_names(&roots);
    let found: Vec<Found> = roots
        .par_iter()
        .zip(names.par_iter())
        .map(|(root, name)| read_repo(name, root))
        .collect();
    let mut sources: Vec<SourcePlan> = found
        .iter()
        .flat_map(|f| {
            let mut sources = propose::sources_of(&f.name, &f.files);
            propose::log_files(&mut sources, &f.logs);
            sources
        })
        .collect();
    propose::name_sources(&mut sources, found.len() > 1);
    let workflows = propose::workflows_for(&mut sources);
    let rules = propose::rules_for(&sources);
    let mut plan = Plan {
        repos: found
            .iter()
            .map(|f| RepoPlan {
                name: f.name.clone(),
                path: relative(&config_dir, &f.root),
            })
            .collect(),
        workflows,
        sources,
        rules,
    };
    let (toml, scan, dropped) = prove(&mut plan, &output, &config_dir)?;
    let mut report = report(&plan, &found, &scan, searched, &output);
    report.not_classified.extend(dropped);
    report.config = toml.clone();
    Ok(Proposal { toml, report })
}

/// Write the proposal to `output`: never over an existing file unless
/// `force`; atomically, so a reader never sees half a file.
pub fn write(proposal: &mut Proposal, output: &Path, force: bool) -> Result<(), Failure> {
    check_writable(output, force)?;
    concord_workspace::write_atomic(output, proposal.toml.as_bytes()).map_err(|e| Failure {
        message: format!("cannot write {}: {e}", output.display()),
        help: None,
        outcome: Outcome::PartialFailure,
    })?;
    proposal.report.written = true;
    Ok(())
}

/// Whether `output` may be written: not a folder, and not an existing file
/// unless `force`. Asked before the looking, too, so a refusal comes
/// before the wait.
pub fn check_writable(output: &Path, force: bool) -> Result<(), Failure> {
    if output.is_dir() {
        return Err(Failure::usage(
            format!(
                "{} is a folder; --output names the file to write",
                output.display()
            ),
            Some("e.g. --output concord.toml".into()),
        ));
    }
    if output.exists() && !force {
        return Err(Failure::usage(
            format!("{} already exists; it was left as it is", output.display()),
            Some("pass --force to replace it, or --dry-run to print the proposal instead".into()),
        ));
    }
    Ok(())
}

/// The folder the config goes into, absolute; it must exist.
fn config_dir(output: &Path) -> Result<PathBuf, Failure> {
    let parent = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parent.canonicalize().map_err(|e| {
        Failure::usage(
            format!(
                "the folder of --output ({}) cannot be used: {e}",
                parent.display()
            ),
            Some("create the folder first, or choose another --output".into()),
        )
    })
}

/// Repo roots under `dirs`: folders holding `.git` (a folder, or a file
/// for worktrees and submodules). A folder inside a repo means that repo.
fn find_repos(dirs: &[PathBuf]) -> Result<(Vec<String>, Vec<PathBuf>), Failure> {
    let mut roots: BTreeSet<PathBuf> = BTreeSet::new();
    let mut searched = Vec::new();
    for dir in dirs {
        let canonical = dir.canonicalize().map_err(|e| {
            Failure::usage(
                format!("cannot search {}: {e}", dir.display()),
                Some("name folders that exist: a repo, or a folder holding repos".into()),
            )
        })?;
        if !canonical.is_dir() {
            return Err(Failure::usage(
                format!("{} is not a folder", dir.display()),
                Some("name a repo, or a folder holding repos".into()),
            ));
        }
        searched.push(canonical.display().to_string());
        let before = roots.len();
        let mut walker = walkdir::WalkDir::new(&canonical)
            .max_depth(MAX_REPO_DEPTH)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.file_type().is_dir() && !skipped(e.file_name()));
        while let Some(entry) = walker.next() {
            let Ok(entry) = entry else { continue };
            if entry.path().join(".git").exists() {
                roots.insert(entry.path().to_path_buf());
                walker.skip_current_dir();
            }
        }
        if roots.len() == before
            && let Some(repo) = canonical
                .ancestors()
                .skip(1)
                .find(|a| a.join(".git").exists())
        {
            roots.insert(repo.to_path_buf());
        }
    }
    if roots.is_empty() {
        return Err(Failure::usage(
            format!(
                "no git repo found under {} (a repo is a folder holding .git; searched {MAX_REPO_DEPTH} levels deep)",
                searched.join(", ")
            ),
            Some("name the repos, or the folder holding them: concord init ~/src/repo-a ~/src/repo-b".into()),
        ));
    }
    Ok((searched, roots.into_iter().collect()))
}

fn skipped(name: &std::ffi::OsStr) -> bool {
    SKIP_DIRS.iter().any(|s| name == *s)
}

/// Unique config names for repo roots: the folder name, then with its
/// parent's name, then numbered.
fn repo_names(roots: &[PathBuf]) -> Vec<String> {
    let base = |root: &Path| {
        propose::slug(
            &root
                .file_name()
                .map_or_else(|| "repo".into(), |n| n.to_string_lossy().into_owned()),
        )
    };
    let mut taken: BTreeSet<String> = BTreeSet::new();
    roots
        .iter()
        .map(|root| {
            let mut name = base(root);
            if taken.contains(&name)
                && let Some(parent) = root.parent()
            {
                name = format!("{}-{name}", base(parent));
            }
            let stem = name.clone();
            let mut n = 2;
            while taken.contains(&name) {
                name = format!("{stem}-{n}");
                n += 1;
            }
            taken.insert(name.clone());
            name
        })
        .collect()
}

/// Walk one repo (not into nested repos) and classify its markdown and
/// JSON files.
fn read_repo(name: &str, root: &Path) -> Found {
    let mut paths = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !(e.file_type().is_dir()
                    && (skipped(e.file_name()) || e.path().join(".git").exists()))
        });
    for entry in walker.flatten() {
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(root) else {
            continue;
        };
        let rel = rel_string(rel);
        if detect::is_candidate(&rel) {
            paths.push((rel, entry.into_path()));
        }
    }
    let verdicts: Vec<(String, detect::FileVerdict)> = paths
        .par_iter()
        .map(|(rel, abs)| {
            let verdict = match concord_workspace::read_regular_file(abs, MAX_FILE_BYTES) {
                Ok(bytes) => detect::detect(rel, &bytes),
                Err(message) => detect::FileVerdict {
                    detected: Vec::new(),
                    not_classified: vec![message],
                },
            };
            (rel.clone(), verdict)
        })
        .collect();
    let mut files = RepoFiles::new();
    let mut not_classified = Vec::new();
    for (rel, verdict) in verdicts {
        for reason in verdict.not_classified {
            not_classified.push((rel.clone(), reason));
        }
        if !verdict.detected.is_empty() {
            files.insert(rel, verdict.detected);
        }
    }
    let logs = paths
        .iter()
        .map(|(rel, _)| rel.clone())
        .filter(|rel| rel.ends_with(".log.json"))
        .collect();
    Found {
        logs,
        name: name.to_string(),
        root: root.to_path_buf(),
        files_read: paths.len(),
        files,
        not_classified,
    }
}

fn rel_string(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// `to` relative to the folder `from` (both absolute): `.`, `repos/app`,
/// `../src/app`.
pub fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<Component> = from.components().collect();
    let to_parts: Vec<Component> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(
        to_parts[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// Load and scan the proposal as `concord scan` would, then correct it
/// by what the scan saw: a source whose items mostly have no status there
/// is dropped (the field belongs to a few files only), and a pattern glob
/// that also matches files that read badly is narrowed to its own files.
/// Returns the final text, its scan, and why sources were dropped.
fn prove(
    plan: &mut Plan,
    output: &Path,
    config_dir: &Path,
) -> Result<(String, concord_workspace::ScanReport, Vec<NotClassified>), Failure> {
    let mut dropped = Vec::new();
    if drop_unloadable(plan, output, config_dir, &mut dropped) {
        plan.workflows = propose::workflows_for(&mut plan.sources);
        plan.rules = propose::rules_for(&plan.sources);
    }
    let mut round = 0;
    loop {
        let (toml, ws) = load(plan, output, config_dir)?;
        let scan = concord_workspace::scan(&ws);
        round += 1;
        if round == 3 || !correct(plan, &scan, &mut dropped) {
            return Ok((toml, scan, dropped));
        }
        plan.workflows = propose::workflows_for(&mut plan.sources);
        plan.rules = propose::rules_for(&plan.sources);
    }
}

/// Each source on its own must load: one that does not (a table header
/// whose cells the config cannot name) is dropped and reported rather than
/// failing the whole proposal. Whether any was dropped.
fn drop_unloadable(
    plan: &mut Plan,
    output: &Path,
    config_dir: &Path,
    dropped: &mut Vec<NotClassified>,
) -> bool {
    let before = plan.sources.len();
    for source in std::mem::take(&mut plan.sources) {
        let alone = Plan {
            repos: plan.repos.clone(),
            workflows: plan.workflows.clone(),
            sources: vec![source],
            rules: Vec::new(),
        };
        match Workspace::from_toml(&render::render(&alone), output, config_dir) {
            Ok(_) => plan.sources.extend(alone.sources),
            Err(e) => {
                let source = &alone.sources[0];
                dropped.push(NotClassified {
                    repo: source.repo.clone(),
                    path: source.glob.clone(),
                    reason: format!(
                        "a {} source was found, but its settings do not load ({}): not proposed",
                        source.shape.format(),
                        e.message
                    ),
                });
            }
        }
    }
    plan.sources.len() != before
}

/// One round of corrections; whether anything changed.
fn correct(
    plan: &mut Plan,
    scan: &concord_workspace::ScanReport,
    dropped: &mut Vec<NotClassified>,
) -> bool {
    let mut changed = false;
    let mut keep = Vec::with_capacity(plan.sources.len());
    for (index, mut source) in std::mem::take(&mut plan.sources).into_iter().enumerate() {
        let observations = scan
            .sources
            .iter()
            .find(|s| s.source == index)
            .map_or(&[][..], |s| &s.observations[..]);
        let without = observations.iter().filter(|o| o.status.is_none()).count();
        if without * 2 > observations.len() {
            dropped.push(NotClassified {
                repo: source.repo.clone(),
                path: source.glob.clone(),
                reason: format!(
                    "only {} of {} files matched have `{}`: not proposed as a source",
                    observations.len() - without,
                    observations.len(),
                    source.shape.status_field()
                ),
            });
            changed = true;
            continue;
        }
        let strays = source.glob_kind == globs::GlobKind::Pattern
            && scan.warnings.iter().any(|w| {
                w.source == source.name
                    && w.code != WarningCode::UnknownStatus
                    && !source.members.contains(&w.path)
            });
        if strays {
            let dir = source.members[0].rsplit_once('/').map_or("", |(d, _)| d);
            let names: Vec<&str> = source
                .members
                .iter()
                .map(|m| m.rsplit_once('/').map_or(m.as_str(), |(_, n)| n))
                .collect();
            let exact = globs::exact(dir, &names);
            source.glob = exact.glob;
            source.glob_kind = exact.kind;
            changed = true;
        }
        keep.push(source);
    }
    plan.sources = keep;
    changed
}

fn load(plan: &Plan, output: &Path, config_dir: &Path) -> Result<(String, Workspace), Failure> {
    let toml = render::render(plan);
    let ws = Workspace::from_toml(&toml, output, config_dir).map_err(|e| Failure {
        message: format!(
            "the proposed configuration does not load ({e}); this is a bug in concord init, please report it with the folders you ran it on"
        ),
        help: Some("--dry-run prints the proposal as it stands".into()),
        outcome: Outcome::PartialFailure,
    })?;
    Ok((toml, ws))
}

fn report(
    plan: &Plan,
    found: &[Found],
    scan: &concord_workspace::ScanReport,
    searched: Vec<String>,
    output: &Path,
) -> InitReport {
    let sources: Vec<ProposedSource> = plan
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let scanned = scan.sources.iter().find(|x| x.source == i);
            ProposedSource {
                name: s.name.clone(),
                repo: s.repo.clone(),
                format: s.shape.format().to_string(),
                glob: s.glob.clone(),
                workflow: s.workflow.name().to_string(),
                key: s.key.clone(),
                files: scanned.map_or(0, |x| x.files),
                items: scanned.map_or(0, |x| x.observations.len()),
            }
        })
        .collect();
    InitReport {
        version: VERSION,
        output: output.display().to_string(),
        written: false,
        searched,
        repos: found
            .iter()
            .zip(&plan.repos)
            .map(|(f, r)| FoundRepo {
                name: f.name.clone(),
                path: r.path.clone(),
                files_read: f.files_read,
            })
            .collect(),
        sources,
        workflows: plan.workflows.clone(),
        rules: plan
            .rules
            .iter()
            .map(|r| ProposedRule {
                name: r.name.clone(),
                between: r.between.clone(),
                active: !r.commented,
            })
            .collect(),
        not_classified: found
            .iter()
            .flat_map(|f| {
                f.not_classified.iter().map(|(path, reason)| NotClassified {
                    repo: f.name.clone(),
                    path: path.clone(),
                    reason: reason.clone(),
                })
            })
            .collect(),
        shared_keys: shared_keys(plan, scan),
        scan_warnings: scan.warnings.clone(),
        config: String::new(),
    }
}

/// Keys that more than one source of the active rule holds.
fn shared_keys(plan: &Plan, scan: &concord_workspace::ScanReport) -> SharedKeys {
    let Some(rule) = plan.rules.iter().find(|r| !r.commented) else {
        return SharedKeys::default();
    };
    let mut holders: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for obs in scan.observations() {
        if rule.between.iter().any(|m| **m == *obs.source) {
            holders.entry(&obs.key).or_default().insert(&obs.source);
        }
    }
    let shared: Vec<SharedKey> = holders
        .into_iter()
        .filter(|(_, s)| s.len() > 1)
        .map(|(key, sources)| SharedKey {
            key: key.to_string(),
            sources: sources.into_iter().map(str::to_string).collect(),
        })
        .collect();
    SharedKeys {
        count: shared.len(),
        examples: shared.into_iter().take(SHARED_KEY_EXAMPLES).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_go_up_and_down() {
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/b")), ".");
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/b/c/d")), "c/d");
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/x")), "../x");
    }

    #[test]
    fn repo_names_are_unique() {
        let names = repo_names(&[
            PathBuf::from("/src/one/app"),
            PathBuf::from("/src/two/app"),
            PathBuf::from("/x/hub"),
        ]);
        assert_eq!(names, ["app", "two-app", "hub"]);
    }
}
