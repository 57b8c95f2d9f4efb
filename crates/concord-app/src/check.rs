//! `concord check`: the integrity checks, at every layer with the same
//! codes: the working tree (the default), staged content only (for the
//! pre-commit hook), new findings relative to a commit (per pull request),
//! and snapshots in the hub (scheduled). Rendering (text, JSON, SARIF) is
//! the front end's, from the report.

use crate::Outcome;
use crate::hub::{self, Failure};
use concord_checks::builtin::{
    At, FileChecks, FileInput, dangling_and_drift, finding, from_warnings,
};
use concord_checks::citations::{
    CitationCache, CitationContext, GitHubResolver, OfflineResolver, Resolution, Resolver,
};
use concord_checks::finding::{
    Finding, Severity, apply_suppressions, assign_fingerprints, compare, parse_suppressions,
};
use concord_checks::render::RunNote;
use concord_checks::rules::{RuleIo, TeamRules};
use concord_workspace::{Workspace, read_bytes};
use std::collections::{BTreeMap, BTreeSet};

/// What to check, and how.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Only staged content, read from the index (the pre-commit hook).
    pub staged: bool,
    /// Compare with the findings at this commit (per pull request).
    pub baseline: Option<String>,
    /// Store the findings in the hub and compare with the previous snapshot.
    pub snapshot: bool,
    /// Resolve citations from the citation cache only (no network).
    pub offline: bool,
    /// Do not read the hub (DRIFT then compares the files only).
    pub no_hub: bool,
    /// Who a snapshot names; `None`: [`hub::actor`].
    pub actor: Option<String>,
}

/// A file the findings point into, for showing their lines.
#[derive(Debug, Clone)]
pub struct CheckedFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// What a check run found, and what it was compared with.
#[derive(Debug)]
pub struct CheckReport {
    /// Every finding of the checked content.
    pub findings: Vec<Finding>,
    /// The checked files (working tree, index).
    pub files: Vec<CheckedFile>,
    pub layer: Layer,
    /// What the run says once about itself (citations it could not check).
    pub notes: Vec<RunNote>,
}

/// Which layer ran, with what it compared against.
#[derive(Debug)]
pub enum Layer {
    /// The working tree or the index, on their own.
    Plain,
    /// Against the findings of commit `rev`.
    Baseline { rev: String, before: Vec<Finding> },
    /// Stored as snapshot `id`; `previous` is the one before it, if any.
    Snapshot {
        id: i64,
        previous: Option<PreviousSnapshot>,
        before: Vec<Finding>,
    },
}

/// The snapshot a new one is compared with.
#[derive(Debug, Clone)]
pub struct PreviousSnapshot {
    pub id: i64,
    pub taken_at: String,
}

impl CheckReport {
    /// The findings that decide the exit code: all of them, the new ones
    /// against the baseline, or the regressions since the last snapshot.
    pub fn deciding(&self) -> Vec<Finding> {
        match &self.layer {
            Layer::Plain => self.findings.clone(),
            Layer::Baseline { before, .. } => compare(before, &self.findings)
                .new
                .iter()
                .map(|f| (*f).clone())
                .collect(),
            Layer::Snapshot {
                previous, before, ..
            } => compare(before, &self.findings)
                .new
                .iter()
                // The first snapshot is the baseline: nothing to regress from.
                .filter(|f| previous.is_some() && f.severity.gates())
                .map(|f| (*f).clone())
                .collect(),
        }
    }

    /// 1 when a deciding finding gates, else 0.
    pub fn outcome(&self) -> Outcome {
        if self.deciding().iter().any(|f| f.severity.gates()) {
            Outcome::Findings
        } else {
            Outcome::Clean
        }
    }
}

/// Run the checks the options ask for.
pub fn check(ws: &Workspace, options: &CheckOptions) -> Result<CheckReport, Failure> {
    let file_checks = FileChecks::new(ws).map_err(|why| Failure::usage(why, None))?;
    let how = Citations {
        offline: options.offline,
        hub: !options.no_hub,
    };
    // Promoted codes stay advisory until the snapshots are clean of them
    // long enough; decided once, from the snapshots before this run.
    let promotion = crate::promotion::states(ws, !options.no_hub)?;
    if let Some(rev) = &options.baseline {
        return baseline(ws, &file_checks, how, rev, &promotion);
    }
    let side = if options.staged {
        Side::Staged
    } else {
        Side::WorkTree
    };
    let files = gather(ws, &file_checks, &side)?;
    // Cross-file checks need every file: not in the commit hook.
    let hub_values = if options.no_hub || options.staged || ws.rules.is_empty() {
        None
    } else {
        Some(hub_statuses(ws)?)
    };
    let mut transitions = if options.staged {
        staged_transitions(ws, &files)
    } else {
        Vec::new()
    };
    transitions.extend(team_findings(ws, &files, None));
    let (findings, notes) = evaluate(
        ws,
        &file_checks,
        &files,
        !options.staged,
        hub_values.as_ref(),
        how,
        transitions,
    )?;
    let mut findings = findings;
    crate::promotion::demote(&mut findings, &promotion);
    if options.snapshot {
        let actor = options.actor.clone().unwrap_or_else(|| hub::actor(ws));
        let mut report = snapshot(ws, files, findings, actor)?;
        report.notes = notes;
        return Ok(report);
    }
    Ok(CheckReport {
        findings,
        files: checked_files(files),
        layer: Layer::Plain,
        notes,
    })
}

/// The shape of [`SnapshotHistory`] and [`CheckList`]; it changes when a
/// field changes meaning.
pub const VERSION: u32 = 1;

/// `concord check history --json`: the stored snapshots, newest first.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct SnapshotHistory {
    /// [`VERSION`].
    pub version: u32,
    pub snapshots: Vec<SnapshotView>,
}

/// One stored snapshot, without its findings.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct SnapshotView {
    pub id: i64,
    pub taken_at: String,
    /// The commit the workspace was at, when known.
    pub commit_id: Option<String>,
    pub actor: String,
    /// How many findings gate (fail the check).
    pub gating: i64,
    /// How many findings in all.
    pub total: i64,
}

/// The stored snapshots, newest first.
pub fn history(ws: &Workspace) -> Result<SnapshotHistory, Failure> {
    let snapshots = hub::with_store(ws, async |store| store.check_snapshots().await)?;
    let snapshots = snapshots
        .into_iter()
        .map(|s| SnapshotView {
            id: s.id,
            taken_at: s.taken_at,
            commit_id: s.commit_id,
            actor: s.actor,
            gating: s.gating,
            total: s.total,
        })
        .collect();
    Ok(SnapshotHistory {
        version: VERSION,
        snapshots,
    })
}

/// `concord check --list --format json`: every built-in check.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct CheckList {
    /// [`VERSION`].
    pub version: u32,
    pub checks: Vec<CheckEntry>,
}

/// One check of the catalog, or a team rule.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct CheckEntry {
    /// Stable code such as `OWNER_MISSING`.
    pub code: String,
    /// `[checks] promote`: whether the code gates yet, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion: Option<String>,
    /// Its default severity.
    pub severity: String,
    pub what: String,
    pub why: String,
    pub example: String,
    pub fix: String,
}

/// [`list`], with each promoted code's state read from the snapshots
/// (`check --list`).
pub fn list_with_promotion(ws: &Workspace) -> Result<CheckList, Failure> {
    let mut list = list(ws);
    let states = crate::promotion::states(ws, true)?;
    for entry in &mut list.checks {
        entry.promotion = states.get(&entry.code).map(|s| s.why.clone());
    }
    Ok(list)
}

/// Every check code with its default severity and what it is for: the
/// built-in catalog, then the workspace's team rules.
pub fn list(ws: &Workspace) -> CheckList {
    let mut checks: Vec<CheckEntry> = concord_checks::catalog::CATALOG
        .iter()
        .map(|info| CheckEntry {
            promotion: None,
            code: info.code.into(),
            severity: info.severity.as_str().into(),
            what: info.what.into(),
            why: info.why.into(),
            example: info.example.into(),
            fix: info.fix.into(),
        })
        .collect();
    checks.extend(ws.checks.rules.iter().map(|rule| {
        CheckEntry {
            promotion: None,
            code: rule.code.clone(),
            severity: rule.severity.clone(),
            what: rule
                .description
                .clone()
                .unwrap_or_else(|| format!("Team rule: {}", rule.when)),
            why: "A team rule of this workspace ([[checks.rule]] in concord.toml).".into(),
            example: String::new(),
            fix: rule.fix.clone().unwrap_or_default(),
        }
    }));
    CheckList {
        version: VERSION,
        checks,
    }
}

fn checked_files(files: Vec<Checked>) -> Vec<CheckedFile> {
    files
        .into_iter()
        .map(|f| CheckedFile {
            path: f.path,
            bytes: f.bytes,
        })
        .collect()
}

/// Per pull request: the findings of `rev` and of the working tree,
/// compared by fingerprint as multisets; only new gating findings fail.
fn baseline(
    ws: &Workspace,
    file_checks: &FileChecks<'_>,
    how: Citations,
    rev: &str,
    promotion: &BTreeMap<String, crate::promotion::PromotionState>,
) -> Result<CheckReport, Failure> {
    let before_files = gather(ws, file_checks, &Side::Commit(rev))?;
    let after_files = gather(ws, file_checks, &Side::WorkTree)?;
    // Both sides without the hub: it has no history to compare with.
    let team_before = team_findings(ws, &before_files, Some(rev));
    let team_after = team_findings(ws, &after_files, None);
    let (mut before, _) = evaluate(ws, file_checks, &before_files, true, None, how, team_before)?;
    let (mut after, notes) = evaluate(ws, file_checks, &after_files, true, None, how, team_after)?;
    crate::promotion::demote(&mut before, promotion);
    crate::promotion::demote(&mut after, promotion);
    Ok(CheckReport {
        findings: after,
        files: checked_files(after_files),
        layer: Layer::Baseline {
            rev: rev.to_string(),
            before,
        },
        notes,
    })
}

/// Scheduled: store every finding with the commit id; the report compares
/// with the previous snapshot.
fn snapshot(
    ws: &Workspace,
    files: Vec<Checked>,
    findings: Vec<Finding>,
    actor: String,
) -> Result<CheckReport, Failure> {
    let commit = ws
        .repos
        .first()
        .and_then(|r| concord_git::Repo::open(&r.root).ok())
        .and_then(|git| git.head().ok().flatten());
    let mut sorted = findings.clone();
    sorted.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    let mut lines = String::new();
    for f in &sorted {
        lines.push_str(&serde_json::to_string(f).unwrap_or_default());
        lines.push('\n');
    }
    let gating = findings.iter().filter(|f| f.severity.gates()).count();
    let snapshot = concord_store::CheckSnapshot {
        id: 0,
        taken_at: concord_store::now_rfc3339(),
        commit_id: commit,
        actor,
        findings: lines,
        gating: i64::try_from(gating).unwrap_or(i64::MAX),
        total: i64::try_from(findings.len()).unwrap_or(i64::MAX),
    };
    let (previous, id) = hub::with_store(ws, async |store| {
        let previous = store.latest_check_snapshot().await?;
        let id = store.add_check_snapshot(&snapshot).await?;
        Ok((previous, id))
    })?;
    let before: Vec<Finding> = previous
        .as_ref()
        .map(|p| {
            p.findings
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default();
    Ok(CheckReport {
        findings,
        files: checked_files(files),
        layer: Layer::Snapshot {
            id,
            previous: previous.map(|p| PreviousSnapshot {
                id: p.id,
                taken_at: p.taken_at,
            }),
            before,
        },
        notes: Vec::new(),
    })
}

/// One file a check looks at, from the working tree, the index or a commit.
struct Checked {
    repo: usize,
    path: String,
    bytes: Vec<u8>,
}

/// Where the checked content comes from.
enum Side<'a> {
    WorkTree,
    Staged,
    Commit(&'a str),
}

/// The team rules' findings for `files`; their helpers read other files
/// at commit `rev` when given, else from the working tree.
fn team_findings(ws: &Workspace, files: &[Checked], rev: Option<&str>) -> Vec<Finding> {
    if ws.checks.rules.is_empty() {
        return Vec::new();
    }
    let team = TeamRules::new(ws);
    let mut findings = team.broken_findings();
    let checked = files
        .iter()
        .map(|f| (f.repo, f.path.as_str(), f.bytes.as_slice()));
    let io: std::sync::Arc<dyn RuleIo> =
        std::sync::Arc::new(crate::check_rules::RepoIo::new(ws, checked, rev));
    for file in files {
        findings.extend(team.check(ws, file.repo, &file.path, &file.bytes, &io));
    }
    findings
}

/// Every finding for `files`: file checks, what each source's format says
/// of them, cross-file checks when asked, citations, then suppressions,
/// configuration and fingerprints.
fn evaluate(
    ws: &Workspace,
    file_checks: &FileChecks<'_>,
    files: &[Checked],
    cross_file: bool,
    hub_values: Option<&BTreeMap<String, String>>,
    citations: Citations,
    extra: Vec<Finding>,
) -> Result<(Vec<Finding>, Vec<RunNote>), Failure> {
    let checks = &ws.checks;
    let mut findings: Vec<Finding> = extra;
    let mut notes = Vec::new();
    let mut observations = Vec::new();
    for file in files {
        findings.extend(file_checks.check(&FileInput {
            repo: file.repo,
            path: &file.path,
            bytes: &file.bytes,
        }));
        for (index, source) in ws.sources.iter().enumerate() {
            if source.repo == file.repo && source.matcher.is_match(&file.path) {
                let (seen, warnings) = read_bytes(ws, index, &file.path, &file.bytes);
                findings.extend(from_warnings(&warnings));
                observations.extend(seen);
            }
        }
    }
    if cross_file {
        let refs: Vec<_> = observations.iter().collect();
        findings.extend(dangling_and_drift(ws, &refs, hub_values));
        findings.extend(stale_mirrors(ws, files));
    }
    if let Some(config) = &checks.citations {
        let (found, note) = citation_findings(ws, config, files, citations)?;
        findings.extend(found);
        notes.extend(note);
    }
    let mut suppressions = Vec::new();
    for file in files.iter().filter(|f| f.path.ends_with(".md")) {
        if let Ok(text) = std::str::from_utf8(&file.bytes) {
            suppressions.extend(parse_suppressions(&file.path, text));
        }
    }
    let (mut kept, _suppressed, problems) = apply_suppressions(findings, &suppressions);
    kept.extend(problems);
    kept.retain(|f| !checks.disabled.contains(&f.code));
    if let Some(since) = &checks.since {
        let older = files_dated_before(ws, files, since);
        kept.retain(|f| !older.contains(&(f.repo.clone().unwrap_or_default(), f.path.clone())));
        // Items: a finding about an item dated before the cut-off (by the
        // source field named like `since_field`) goes too.
        if let Some(field) = checks.since_field.as_deref() {
            let label = field.trim_start_matches('/');
            let older_items: BTreeSet<&str> = observations
                .iter()
                .filter(|o| {
                    o.fields.iter().any(|(name, value)| {
                        name == label && value.get(..10).is_some_and(|d| d < since.as_str())
                    })
                })
                .map(|o| o.key.as_str())
                .collect();
            kept.retain(|f| f.key.as_deref().is_none_or(|k| !older_items.contains(k)));
        }
    }
    for f in &mut kept {
        if let Some(level) = checks.severity.get(&f.code)
            && let Ok(severity) = level.parse::<Severity>()
        {
            f.severity = severity;
        }
    }
    assign_fingerprints(&mut kept);
    kept.sort_by(|a, b| (&a.path, a.line, &a.code).cmp(&(&b.path, b.line, &b.code)));
    Ok((kept, notes))
}

/// Mirrors whose content (ignoring the marker member) differs from the
/// owner's copy: the owner is the copy without the marker whose owner
/// field names its own repo.
fn stale_mirrors(ws: &Workspace, files: &[Checked]) -> Vec<Finding> {
    let mut out = Vec::new();
    for rule in &ws.mirrors {
        let mut by_path: BTreeMap<&str, Vec<(&Checked, serde_json::Value)>> = BTreeMap::new();
        for file in files {
            if rule.repos.contains(&file.repo)
                && rule.matcher.is_match(&file.path)
                && let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&file.bytes)
            {
                by_path.entry(&file.path).or_default().push((file, doc));
            }
        }
        for (path, copies) in by_path {
            let owner = copies.iter().find(|(file, doc)| {
                doc.get(&rule.marker_field)
                    .is_none_or(serde_json::Value::is_null)
                    && doc
                        .pointer(&rule.owner_field)
                        .and_then(|v| v.as_str())
                        .and_then(|value| rule.owners.get(value))
                        == Some(&file.repo)
            });
            let Some((owner_file, owner_doc)) = owner else {
                continue;
            };
            let strip = |doc: &serde_json::Value| {
                let mut doc = doc.clone();
                if let Some(object) = doc.as_object_mut() {
                    object.remove(&rule.marker_field);
                }
                doc
            };
            let truth = strip(owner_doc);
            for (file, doc) in &copies {
                if file.repo == owner_file.repo || strip(doc) == truth {
                    continue;
                }
                let owner_repo = &ws.repos[owner_file.repo].name;
                out.push(finding(
                    "MIRROR_STALE",
                    Some(&ws.repos[file.repo].name),
                    path,
                    At {
                        line: Some(1),
                        ..At::default()
                    },
                    None,
                    format!("differs from the owner's copy in repo {owner_repo}"),
                    &rule.name,
                    owner_repo,
                ));
            }
        }
    }
    out
}

/// Staged lifecycle transitions (the phase differs from HEAD's) without a
/// recent log event for the new phase, or without its timing fields.
fn staged_transitions(ws: &Workspace, files: &[Checked]) -> Vec<Finding> {
    let Some(config) = &ws.checks.phases else {
        return Vec::new();
    };
    let now = std::time::SystemTime::now();
    let mut out = Vec::new();
    for (index, repo) in ws.repos.iter().enumerate() {
        let mine: Vec<&Checked> = files
            .iter()
            .filter(|f| f.repo == index && config.scope.covers(index, &f.path))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let Ok(git) = concord_git::Repo::open(&repo.root) else {
            continue;
        };
        let paths: BTreeSet<&str> = mine.iter().map(|f| f.path.as_str()).collect();
        let before: BTreeMap<String, Vec<u8>> = git
            .tree_files("HEAD", &|p| paths.contains(p))
            .map(|files| files.into_iter().collect())
            .unwrap_or_default();
        for file in mine {
            let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&file.bytes) else {
                continue;
            };
            let Some(phase) = doc.pointer(&config.field).and_then(|v| v.as_str()) else {
                continue;
            };
            let old = before
                .get(&file.path)
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                .and_then(|d| {
                    d.pointer(&config.field)
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                });
            if old.as_deref() == Some(phase) {
                continue;
            }
            let moved = format!("{} -> {phase}", old.as_deref().unwrap_or("(none)"));
            let at = concord_formats::json::position_of(&file.bytes, &config.field).map_or_else(
                At::default,
                |p| At {
                    line: Some(p.line),
                    column: Some(p.column),
                    end_column: Some(p.end_column),
                },
            );
            let repo_name = repo.name.as_str();
            if let Some(template) = &config.log {
                let dir = file.path.rsplit('/').nth(1).unwrap_or_default();
                let log_path = template.replace("{dir}", dir);
                // The log as it will be committed: staged, else as in HEAD.
                let log = git
                    .read_staged(std::slice::from_ref(&log_path))
                    .ok()
                    .and_then(|mut l| l.pop())
                    .map(|(_, bytes)| bytes);
                let journaled = config.key.as_ref().is_some_and(|template| {
                    journaled_recently(
                        ws,
                        &template.replace("{dir}", dir),
                        phase,
                        now,
                        config.window_seconds,
                    )
                });
                if !journaled && !logged_recently(log.as_deref(), phase, now, config.window_seconds)
                {
                    out.push(finding(
                        "PHASE_TRANSITION_NO_LOG",
                        Some(repo_name),
                        &file.path,
                        at,
                        None,
                        format!(
                            "{moved} without an event for `{phase}` in {log_path} within {}",
                            humantime::format_duration(std::time::Duration::from_secs(
                                config.window_seconds
                            ))
                        ),
                        &config.field,
                        phase,
                    ));
                }
            }
            let missing: Vec<String> = config
                .timing
                .iter()
                .map(|t| t.replace("{phase}", phase))
                .filter(|p| doc.pointer(p).is_none_or(serde_json::Value::is_null))
                .collect();
            if !missing.is_empty() {
                out.push(finding(
                    "PHASE_TRANSITION_NO_TIMING",
                    Some(repo_name),
                    &file.path,
                    at,
                    None,
                    format!("{moved} without {}", missing.join(", ")),
                    &config.field,
                    phase,
                ));
            }
        }
    }
    out
}

/// Whether the hub's journal has an event for `key` in `phase` no older
/// than `window` seconds (an unreachable hub counts as no).
fn journaled_recently(
    ws: &Workspace,
    key: &str,
    phase: &str,
    now: std::time::SystemTime,
    window: u64,
) -> bool {
    let Ok(history) = hub::with_store(ws, async |store| store.history(key).await) else {
        return false;
    };
    let oldest = now - std::time::Duration::from_secs(window);
    history.iter().any(|entry| {
        entry.kind == concord_store::JournalKind::Event
            && entry.phase.as_deref() == Some(phase)
            && entry
                .at
                .get(..19)
                .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
                .is_some_and(|at| at >= oldest)
    })
}

/// Whether a log (`{"events": [{"timestamp", "phase"}]}`) has an event for
/// `phase` no older than `window` seconds.
fn logged_recently(
    log: Option<&[u8]>,
    phase: &str,
    now: std::time::SystemTime,
    window: u64,
) -> bool {
    let Some(doc) = log.and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok()) else {
        return false;
    };
    let oldest = now - std::time::Duration::from_secs(window);
    doc.pointer("/events")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
        .any(|event| {
            event.get("phase").and_then(|p| p.as_str()) == Some(phase)
                && event
                    .get("timestamp")
                    .and_then(|t| t.as_str())
                    .and_then(|t| t.get(..19))
                    .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
                    .is_some_and(|at| at >= oldest)
        })
}

/// Forward-only scoping: the files dated before `since` (YYYY-MM-DD), as
/// (repo name, path). A file's date is its `since_field` (a JSON pointer,
/// or a front-matter key in markdown) when it has one, else the date of
/// the commit that first added it; a file git has never seen is new.
fn files_dated_before(
    ws: &Workspace,
    files: &[Checked],
    since: &str,
) -> BTreeSet<(String, String)> {
    let mut added: BTreeMap<usize, std::collections::HashMap<String, String>> = BTreeMap::new();
    let mut older = BTreeSet::new();
    for file in files {
        let own = ws
            .checks
            .since_field
            .as_deref()
            .and_then(|field| date_in(&file.path, &file.bytes, field));
        let date = own.or_else(|| {
            added
                .entry(file.repo)
                .or_insert_with(|| {
                    concord_git::Repo::open(&ws.repos[file.repo].root)
                        .and_then(|git| git.first_added_dates())
                        .unwrap_or_default()
                })
                .get(&file.path)
                .cloned()
        });
        if date.is_some_and(|d| d.as_str() < since) {
            older.insert((ws.repos[file.repo].name.clone(), file.path.clone()));
        }
    }
    older
}

/// The `YYYY-MM-DD` a file names in `field`.
fn date_in(path: &str, bytes: &[u8], field: &str) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let value = if path.ends_with(".json") {
        let doc: serde_json::Value = serde_json::from_str(text).ok()?;
        let pointer = if field.starts_with('/') {
            field.to_string()
        } else {
            format!("/{field}")
        };
        doc.pointer(&pointer)?.as_str()?.to_string()
    } else {
        // Markdown front matter: `field: value` between the `---` lines.
        let body = text.strip_prefix("---\n")?;
        let (front, _) = body.split_once("\n---")?;
        let key = field.trim_start_matches('/');
        front.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            (name.trim() == key).then(|| value.trim().trim_matches(['"', '\'']).to_string())
        })?
    };
    let date = value.get(..10)?;
    let valid = date.bytes().enumerate().all(|(i, b)| {
        if i == 4 || i == 7 {
            b == b'-'
        } else {
            b.is_ascii_digit()
        }
    });
    valid.then(|| date.to_string())
}

/// The hub's status of every item (canonical word).
fn hub_statuses(ws: &Workspace) -> Result<BTreeMap<String, String>, Failure> {
    let values = hub::with_store(ws, async |store| store.hub_values().await)?;
    Ok(values
        .into_iter()
        .filter(|v| v.field == "status")
        .filter_map(|v| v.value.map(|value| (v.key, value)))
        .collect())
}

/// Whether any check reads this file: a file check, the citation check,
/// or a source's format.
fn wanted(ws: &Workspace, file_checks: &FileChecks<'_>, repo: usize, path: &str) -> bool {
    file_checks.covers(repo, path)
        || ws.checks.rules.iter().any(|r| r.scope.covers(repo, path))
        || ws
            .mirrors
            .iter()
            .any(|m| m.repos.contains(&repo) && m.matcher.is_match(path))
        || ws
            .checks
            .phases
            .as_ref()
            .is_some_and(|p| p.scope.covers(repo, path))
        || ws
            .checks
            .citations
            .as_ref()
            .is_some_and(|c| c.scopes.iter().any(|s| s.covers(repo, path)))
        || ws
            .sources
            .iter()
            .any(|s| s.repo == repo && s.matcher.is_match(path))
}

/// The files every check reads, from the given side.
fn gather(
    ws: &Workspace,
    file_checks: &FileChecks<'_>,
    side: &Side<'_>,
) -> Result<Vec<Checked>, Failure> {
    let mut files = Vec::new();
    for (index, repo) in ws.repos.iter().enumerate() {
        match side {
            Side::WorkTree => files.extend(worktree_files(ws, file_checks, index)),
            Side::Staged | Side::Commit(_) => {
                let Ok(git) = concord_git::Repo::open(&repo.root) else {
                    // Not a git work tree: nothing is staged, no history.
                    continue;
                };
                let read = match side {
                    Side::Staged => git.staged_paths().and_then(|paths| {
                        let paths: Vec<String> = paths
                            .into_iter()
                            .filter(|p| wanted(ws, file_checks, index, p))
                            .collect();
                        git.read_staged(&paths)
                    }),
                    Side::Commit(rev) => {
                        let commit = git.resolve_commit(rev).map_err(|e| {
                            Failure::usage(format!("repo {}: {e}", repo.name), None)
                        })?;
                        let Some(commit) = commit else {
                            return Err(Failure::usage(
                                format!("baseline `{rev}` names no commit in repo {}", repo.name),
                                Some(
                                    "use a branch, tag or commit id, e.g. --baseline origin/main"
                                        .into(),
                                ),
                            ));
                        };
                        git.tree_files(&commit, &|p| wanted(ws, file_checks, index, p))
                    }
                    Side::WorkTree => Ok(Vec::new()),
                };
                let read =
                    read.map_err(|e| Failure::usage(format!("repo {}: {e}", repo.name), None))?;
                files.extend(read.into_iter().map(|(path, bytes)| Checked {
                    repo: index,
                    path,
                    bytes,
                }));
            }
        }
    }
    files.sort_by(|a, b| (a.repo, &a.path).cmp(&(b.repo, &b.path)));
    Ok(files)
}

/// The working tree's files that a check reads.
fn worktree_files(ws: &Workspace, file_checks: &FileChecks<'_>, index: usize) -> Vec<Checked> {
    let repo = &ws.repos[index];
    let mut files = Vec::new();
    for (path, full) in crate::repo_files::walk(&repo.root, &["target"]) {
        if !wanted(ws, file_checks, index, &path) {
            continue;
        }
        if let Ok(bytes) = std::fs::read(full) {
            files.push(Checked {
                repo: index,
                path,
                bytes,
            });
        }
    }
    files
}

/// How citations are resolved in this run.
#[derive(Clone, Copy)]
struct Citations {
    /// From the cache file only.
    offline: bool,
    /// Answers are also kept in the hub (shared by every machine).
    hub: bool,
}

fn citation_findings(
    ws: &Workspace,
    config: &concord_workspace::checks_config::CitationCheck,
    files: &[Checked],
    how: Citations,
) -> Result<(Vec<Finding>, Option<RunNote>), Failure> {
    let context = CitationContext {
        default_repo: config.default_repo.clone(),
        owners: config.owners.clone(),
        default_owner: config.default_owner.clone(),
    };
    let mut cited = Vec::new();
    for file in files {
        if !config
            .scopes
            .iter()
            .any(|s| s.covers(file.repo, &file.path))
        {
            continue;
        }
        let Ok(text) = std::str::from_utf8(&file.bytes) else {
            continue;
        };
        for at in concord_checks::citations::extract(text, &context) {
            cited.push((file, at));
        }
    }
    if cited.is_empty() {
        return Ok((Vec::new(), None));
    }
    // Each distinct citation is resolved once, however often it is cited.
    let wanted: BTreeSet<_> = cited.iter().map(|(_, at)| at.citation.clone()).collect();
    let mut cache = CitationCache::load(&config.cache).unwrap_or_default();
    let token = std::env::var(&config.token_env)
        .ok()
        .filter(|t| !t.trim().is_empty());
    let online = !(how.offline || config.offline) && token.is_some();
    let offline_because = if how.offline || config.offline {
        "offline (--offline or `offline = true`)".to_string()
    } else {
        format!("offline (no token in ${})", config.token_env)
    };
    let answers = match (how.offline || config.offline, token) {
        (false, Some(token)) => {
            // What any machine learned before, from the hub.
            let known = if how.hub {
                hub::with_store(ws, async |store| store.citation_answers().await)?
            } else {
                Vec::new()
            };
            for answer in known {
                let citation = concord_checks::citations::Citation::new(
                    &answer.repo,
                    u64::try_from(answer.number).unwrap_or(0),
                );
                let resolution = if answer.found {
                    Resolution::Exists
                } else {
                    Resolution::Missing
                };
                cache.insert(citation, &resolution);
            }
            let client = concord_trackers::github::GitHub::new(&config.url, &token)
                .map_err(|why| Failure::usage(format!("citations: {why}"), None))?;
            let resolver = GitHubResolver::new(client, cache);
            let answers = resolver.resolve(&wanted);
            // Definite answers are kept: in the cache file (offline mode
            // reads it) and in the hub.
            let _ = resolver.cache().save(&config.cache);
            if how.hub {
                let now = concord_store::now_rfc3339();
                let definite: Vec<concord_store::CitationAnswer> = answers
                    .iter()
                    .filter_map(|(citation, resolution)| {
                        let found = match resolution {
                            Resolution::Exists => true,
                            Resolution::Missing => false,
                            Resolution::Unknown(_) => return None,
                        };
                        Some(concord_store::CitationAnswer {
                            repo: citation.repo.clone(),
                            number: i64::try_from(citation.number).unwrap_or(i64::MAX),
                            found,
                            checked_at: now.clone(),
                        })
                    })
                    .collect();
                hub::with_store(ws, async |store| {
                    store.put_citation_answers(&definite).await
                })?;
            }
            answers
        }
        _ => OfflineResolver(cache).resolve(&wanted),
    };
    let mut out = Vec::new();
    for (file, at) in cited {
        // Unknown is never "broken", and one advisory per place would flood
        // code scanning: those are summed up in one note below.
        if answers.get(&at.citation) != Some(&Resolution::Missing) {
            continue;
        }
        let repo = ws.repos[file.repo].name.as_str();
        let position = At {
            line: Some(at.line),
            column: Some(at.column),
            end_column: Some(at.end_column),
        };
        // The fingerprint keeps the lowercased name: the same citation
        // written two ways is one finding.
        let name = format!("{}#{}", at.citation.repo, at.citation.number);
        let written = concord_checks::citations::shown(&at, &context);
        out.push(finding(
            "BROKEN_CITATION",
            Some(repo),
            &file.path,
            position,
            None,
            format!("{written} (cited as `{}`) does not exist", at.text),
            &name,
            &name,
        ));
    }
    let offline_note = if online { "" } else { offline_because.as_str() };
    let note = unchecked_note(&answers, offline_note);
    Ok((out, note))
}

/// One note for every citation without a definite answer: how many, why
/// (the most common reasons first), and how to fill the cache. `offline`
/// is empty when the run asked GitHub.
fn unchecked_note(
    answers: &BTreeMap<concord_checks::citations::Citation, Resolution>,
    offline: &str,
) -> Option<RunNote> {
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for answer in answers.values() {
        if let Resolution::Unknown(why) = answer {
            *reasons.entry(why.as_str()).or_default() += 1;
        }
    }
    let unchecked: usize = reasons.values().sum();
    if unchecked == 0 {
        return None;
    }
    let mut by_count: Vec<(&str, usize)> = reasons.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let why: Vec<String> = by_count
        .iter()
        .take(3)
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect();
    let mut message = format!(
        "{unchecked} of {} cited pull requests and issues could not be checked ({})",
        answers.len(),
        why.join("; ")
    );
    if !offline.is_empty() {
        message.push_str(&format!(
            "; {offline}: `concord check --refresh-citations` with a token fills the citation cache"
        ));
    }
    Some(RunNote {
        code: "CITATIONS_UNCHECKED".into(),
        message,
    })
}

/// What `concord check --refresh-citations` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CitationRefresh {
    /// Distinct citations in the checked files.
    pub cited: usize,
    /// Repositories listed (or tried).
    pub repos: usize,
    pub exists: usize,
    pub missing: usize,
    /// Requests sent, and how many of them were free 304s.
    pub requests: u64,
    pub not_modified: u64,
    /// `(owner/name, why)` of each repository that could not be listed;
    /// its citations keep what the cache knew.
    pub failed: Vec<(String, String)>,
}

impl CitationRefresh {
    /// 3 when some repository could not be listed, else 0.
    pub fn outcome(&self) -> Outcome {
        if self.failed.is_empty() {
            Outcome::Clean
        } else {
            Outcome::PartialFailure
        }
    }
}

/// Where the listing pages' ETags are kept, beside the citation cache.
pub fn pages_path(cache: &std::path::Path) -> std::path::PathBuf {
    let mut name = cache.file_name().unwrap_or_default().to_os_string();
    name.push(".pages");
    cache.with_file_name(name)
}

/// Fills the citation cache from GitHub in bulk: per cited repository,
/// the numbers of all its issues and pull requests (a few paginated list
/// requests, each conditional on the page's ETag) instead of one request
/// per citation. A citation whose number is not listed is missing. After
/// a bad token or a spent rate limit the other repositories are not asked.
pub fn refresh_citations(ws: &Workspace) -> Result<CitationRefresh, Failure> {
    let Some(config) = &ws.checks.citations else {
        return Err(Failure::usage(
            "--refresh-citations: no [checks.citations] in the configuration",
            None,
        ));
    };
    let token = std::env::var(&config.token_env)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            Failure::usage(
                format!(
                    "--refresh-citations asks GitHub: set a token in ${}",
                    config.token_env
                ),
                Some("a token with read access to the cited repositories".into()),
            )
        })?;
    let file_checks = FileChecks::new(ws).map_err(|why| Failure::usage(why, None))?;
    let files = gather(ws, &file_checks, &Side::WorkTree)?;
    let wanted = cited_in(config, &files);
    let mut cache =
        CitationCache::load(&config.cache).map_err(|e| Failure::usage(e.to_string(), None))?;
    let pages_file = pages_path(&config.cache);
    let mut pages: concord_trackers::github::EtagCache = std::fs::read(&pages_file)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    // A spent rate limit stops the refresh (saying when it resets) rather
    // than retrying for minutes into a limit that stays spent; the next
    // refresh asks only what changed.
    let retry = concord_trackers::http::RetryPolicy {
        attempts: 2,
        base_delay: std::time::Duration::from_millis(250),
        max_delay: std::time::Duration::from_secs(2),
    };
    let client = concord_trackers::github::GitHub::new(&config.url, &token)
        .map_err(|why| Failure::usage(format!("citations: {why}"), None))?
        .with_retry(retry);
    let mut by_repo: BTreeMap<&str, Vec<&concord_checks::citations::Citation>> = BTreeMap::new();
    for citation in &wanted {
        by_repo.entry(&citation.repo).or_default().push(citation);
    }
    let mut report = CitationRefresh {
        cited: wanted.len(),
        repos: by_repo.len(),
        ..CitationRefresh::default()
    };
    let mut stopped: Option<String> = None;
    for (repo, citations) in by_repo {
        if let Some(why) = &stopped {
            report.failed.push((repo.to_string(), why.clone()));
            continue;
        }
        let numbers = match client.numbers_cached(repo, &mut pages) {
            Ok(numbers) => numbers,
            // A repository the token cannot see looks missing, as for one
            // citation at a time.
            Err(concord_trackers::github::GhError::NotFound { .. }) => BTreeSet::new(),
            Err(e) => {
                use concord_trackers::github::GhError;
                if matches!(
                    e,
                    GhError::Unauthorized { .. } | GhError::RateLimited { .. }
                ) {
                    stopped = Some(format!("not asked: {e}"));
                }
                report.failed.push((repo.to_string(), e.to_string()));
                continue;
            }
        };
        for citation in citations {
            let resolution = if numbers.contains(&citation.number) {
                report.exists += 1;
                Resolution::Exists
            } else {
                report.missing += 1;
                Resolution::Missing
            };
            cache.insert(citation.clone(), &resolution);
        }
    }
    let stats = client.stats();
    report.requests = stats.requests.load(std::sync::atomic::Ordering::Relaxed);
    report.not_modified = stats
        .not_modified
        .load(std::sync::atomic::Ordering::Relaxed);
    cache
        .save(&config.cache)
        .map_err(|e| Failure::usage(e.to_string(), None))?;
    let pages_json = serde_json::to_vec(&pages).unwrap_or_default();
    std::fs::write(&pages_file, pages_json).map_err(|e| {
        Failure::usage(
            format!("could not write {}: {e}", pages_file.display()),
            None,
        )
    })?;
    Ok(report)
}

/// Every distinct qualified citation in the files in the citation scopes.
fn cited_in(
    config: &concord_workspace::checks_config::CitationCheck,
    files: &[Checked],
) -> BTreeSet<concord_checks::citations::Citation> {
    let context = CitationContext {
        default_repo: config.default_repo.clone(),
        owners: config.owners.clone(),
        default_owner: config.default_owner.clone(),
    };
    files
        .iter()
        .filter(|f| config.scopes.iter().any(|s| s.covers(f.repo, &f.path)))
        .filter_map(|f| std::str::from_utf8(&f.bytes).ok())
        .flat_map(|text| concord_checks::citations::extract(text, &context))
        .map(|at| at.citation)
        .collect()
}
