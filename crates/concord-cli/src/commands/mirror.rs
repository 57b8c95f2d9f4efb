//! `concord mirror`: owned documents copied, byte for byte plus a marker
//! member, from their owner repo into the others (`[[mirror]]` rules). The
//! decisions are `concord_engine::mirror::plan`'s; this file reads the
//! copies, writes, and commits one commit per repo. Commit mode only for
//! now; pull-request mode is refused with a clear message.

use crate::Outcome;
use crate::hub::{self, Failure};
use concord_engine::mirror::{self as planner, DocState, MirrorAction, MirrorRule};
use concord_store::Watermark;
use concord_workspace::Workspace;
use concord_workspace::mirror_config::{Mirror, MirrorMode};
use std::collections::{BTreeMap, BTreeSet};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show what would be written; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Overwrite (or delete) mirrors that were edited by hand.
    #[arg(long)]
    force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Hub watermark naming what concord last wrote at (repo, path).
fn written_mark(repo: &str, path: &str) -> String {
    format!("@mirror:{repo}:{path}")
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    if ws.mirrors.is_empty() {
        return Err(Failure::usage(
            "no [[mirror]] rules in the workspace: nothing to mirror",
            None,
        ));
    }
    let mut reports = Vec::new();
    let mut written = Vec::new();
    let mut failed = Vec::new();
    for rule in &ws.mirrors {
        if let MirrorMode::PullRequest { .. } = rule.mode {
            return Err(Failure::usage(
                format!(
                    "mirror `{}`: pull-request mode is not available yet",
                    rule.name
                ),
                Some("use mode = \"commit\" for now".into()),
            ));
        }
        let outcome = mirror_rule(ws, rule, args)?;
        reports.extend(outcome.reports);
        written.extend(outcome.written);
        failed.extend(outcome.failed);
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "written": written.iter().map(|(repo, path, reason)| serde_json::json!({"repo": repo, "path": path, "reason": reason})).collect::<Vec<_>>(),
                "reports": reports.iter().map(|(repo, path, code, message)| serde_json::json!({"repo": repo, "path": path, "code": code, "message": message})).collect::<Vec<_>>(),
                "failed": failed,
            })
        );
    } else {
        for (repo, path, reason) in &written {
            let verb = if args.dry_run { "would write" } else { "wrote" };
            println!("{verb} {repo}:{path} ({reason})");
        }
        for (repo, path, code, message) in &reports {
            let place = repo
                .as_deref()
                .map_or_else(|| path.clone(), |r| format!("{r}:{path}"));
            println!("{code} {place}: {message}");
        }
        for problem in &failed {
            println!("failed: {problem}");
        }
        println!(
            "{} written, {} reported, {} failed",
            written.len(),
            reports.len(),
            failed.len()
        );
    }
    Ok(if !failed.is_empty() {
        Outcome::PartialFailure
    } else if reports
        .iter()
        .any(|(_, _, code, _)| *code != planner::MARKER_LEFTOVER)
    {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

type Report = (Option<String>, String, &'static str, String);

struct RuleOutcome {
    reports: Vec<Report>,
    written: Vec<(String, String, &'static str)>,
    failed: Vec<String>,
}

fn mirror_rule(ws: &Workspace, rule: &Mirror, args: &Args) -> Result<RuleOutcome, Failure> {
    let names: Vec<String> = rule
        .repos
        .iter()
        .map(|i| ws.repos[*i].name.clone())
        .collect();
    // Every copy of every document, read from each repo's working tree.
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
    let docs: Vec<DocState> = docs.into_values().collect();
    // What concord last wrote, from one read of the hub's marks.
    let last_written: BTreeMap<(String, String), String> = hub::with_store(ws, async |store| {
        store.watermarks_with_prefix("@mirror:").await
    })?
    .into_iter()
    .filter(|mark| !mark.position.is_empty())
    .filter_map(|mark| {
        let (repo, path) = mark.source.strip_prefix("@mirror:")?.split_once(':')?;
        Some(((repo.to_string(), path.to_string()), mark.position))
    })
    .collect();
    let planner_rule = MirrorRule {
        repos: names.clone(),
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
    let hash = |bytes: &[u8]| super::sync::sha256_hex(bytes);
    let actions = planner::plan(
        &planner_rule,
        &docs,
        &last_written,
        args.force,
        &mirror_bytes,
        &same_content,
        &hash,
    );

    let mut outcome = RuleOutcome {
        reports: Vec::new(),
        written: Vec::new(),
        failed: Vec::new(),
    };
    // repo -> paths changed, for one commit per repo.
    let mut changed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Files with uncommitted changes are the user's: one status per repo.
    let dirty: BTreeMap<&str, BTreeSet<String>> = rule
        .repos
        .iter()
        .map(|i| {
            let repo = &ws.repos[*i];
            let paths = concord_git::Repo::open(&repo.root)
                .ok()
                .and_then(|g| g.dirty_paths().ok())
                .unwrap_or_default();
            (repo.name.as_str(), paths)
        })
        .collect();
    let mut new_marks: Vec<(String, String, String)> = Vec::new();
    for action in actions {
        match action {
            MirrorAction::Report {
                repo,
                path,
                code,
                message,
            } => outcome.reports.push((repo, path, code, message)),
            MirrorAction::Write {
                repo,
                path,
                bytes,
                reason,
            } => {
                let Some(root) = ws
                    .repos
                    .iter()
                    .find(|r| r.name == repo)
                    .map(|r| r.root.clone())
                else {
                    continue;
                };
                if dirty.get(repo.as_str()).is_some_and(|d| d.contains(&path)) {
                    outcome.reports.push((
                        Some(repo),
                        path,
                        "DIRTY_FILE",
                        "the file has uncommitted changes: not written".into(),
                    ));
                    continue;
                }
                if !args.dry_run {
                    let full = root.join(&path);
                    let made = full
                        .parent()
                        .map_or(Ok(()), std::fs::create_dir_all)
                        .and_then(|()| concord_workspace::write_atomic(&full, &bytes));
                    if let Err(e) = made {
                        outcome.failed.push(format!("{repo}:{path}: {e}"));
                        continue;
                    }
                    new_marks.push((repo.clone(), path.clone(), super::sync::sha256_hex(&bytes)));
                    changed
                        .entry(repo.clone())
                        .or_default()
                        .insert(path.clone());
                }
                outcome.written.push((repo, path, reason.as_str()));
            }
            MirrorAction::Delete { repo, path } => {
                let Some(root) = ws
                    .repos
                    .iter()
                    .find(|r| r.name == repo)
                    .map(|r| r.root.clone())
                else {
                    continue;
                };
                if !args.dry_run {
                    if let Err(e) = std::fs::remove_file(root.join(&path)) {
                        outcome
                            .failed
                            .push(format!("{repo}:{path}: cannot delete: {e}"));
                        continue;
                    }
                    new_marks.push((repo.clone(), path.clone(), String::new()));
                    changed
                        .entry(repo.clone())
                        .or_default()
                        .insert(path.clone());
                }
                outcome.written.push((repo, path, "deleted"));
            }
        }
    }
    if args.dry_run {
        return Ok(outcome);
    }
    for (repo, paths) in &changed {
        let Some(root) = ws
            .repos
            .iter()
            .find(|r| &r.name == repo)
            .map(|r| r.root.clone())
        else {
            continue;
        };
        let Ok(git) = concord_git::Repo::open(&root) else {
            continue;
        };
        let paths: Vec<String> = paths.iter().cloned().collect();
        let lines: Vec<String> = paths.iter().map(|p| format!("- {p}")).collect();
        let message = format!(
            "chore(concord): mirror {} document(s) [auto]\n\n{}\n",
            paths.len(),
            lines.join("\n")
        );
        match git.commit_paths(&paths, &message) {
            Ok(_) => {
                if let MirrorMode::Commit { push: true } = rule.mode
                    && let Err(e) = git.push()
                {
                    outcome
                        .failed
                        .push(format!("{repo}: committed but the push failed: {e}"));
                }
            }
            Err(e) => outcome
                .failed
                .push(format!("{repo}: the commit failed: {e}")),
        }
    }
    let now = concord_store::now_rfc3339();
    hub::with_store(ws, async |store| {
        for (repo, path, sha) in &new_marks {
            store
                .set_watermark(&Watermark {
                    source: written_mark(repo, path),
                    position: sha.clone(),
                    updated_at: now.clone(),
                })
                .await?;
        }
        Ok(())
    })?;
    Ok(outcome)
}
