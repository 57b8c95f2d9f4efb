//! `concord sync`: gate, plan, apply. Files get byte-exact single-span
//! edits written atomically, then one commit per repo with only the paths
//! concord wrote; the hub gets compare-and-set writes; every applied
//! change is journaled; bases move forward only where every source agreed.

use crate::Outcome;
use crate::commands::diff::write_text;
use crate::gates::{GateOptions, RepoGate, SYNC_FETCH_TIMEOUT, gate_repos, own_position, short};
use crate::hub::{self, Failure};
use crate::output::{self, BAD, DIM, KEY, WARN, paint};
use concord_app::plan::{Planned, Scope, plan_workspace};
use concord_engine::{Change, Decision, Reason};
use concord_model::Observation;
use concord_store::{
    Base, JournalEntry, JournalKind, PendingWrite, Store, ValueChange, Watermark, WrittenStatus,
    now_rfc3339,
};
use concord_workspace::{
    EditOutcome, FileEdit, HUB_SOURCE, Source, Workspace, edit_file, write_atomic,
};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Plan and print; write nothing anywhere.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Apply to the hub (and journal) but do not write files.
    #[arg(long)]
    pub(crate) no_writeback: bool,
    /// Fast-forward repos that are behind their upstream first.
    #[arg(long)]
    pub(crate) pull: bool,
    /// Push each repo after committing.
    #[arg(long)]
    pub(crate) push: bool,
    /// Read every file and plan every item, whatever the watermarks say.
    #[arg(long)]
    pub(crate) full: bool,
    /// Write only to this source (the plan still considers every source).
    #[arg(long, value_name = "SOURCE")]
    pub(crate) only: Option<String>,
    /// Apply only this [[sync]] rule's decisions (the plan still considers
    /// every rule; the others wait for the next sync).
    #[arg(long, value_name = "RULE")]
    pub(crate) rule: Option<String>,
    /// Say more: fetches that failed, repos that are not git work trees.
    #[arg(long, short)]
    pub(crate) verbose: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Show the plan and ask before applying it (the answer is read from stdin).
    #[arg(long, conflicts_with = "dry_run")]
    pub(crate) confirm: bool,
    /// A tracker whose token is not set is a configuration error (exit 2)
    /// instead of being skipped with a note.
    #[arg(long)]
    pub(crate) strict: bool,
}

#[derive(Serialize, Clone)]
struct Applied {
    key: String,
    rule: String,
    target: String,
    from: Option<String>,
    to: String,
    reason: &'static str,
    origin: String,
    place: String,
}

#[derive(Serialize)]
struct NotApplied {
    key: String,
    target: String,
    problem: String,
    /// The file changed between read and write: worth reading again.
    #[serde(skip)]
    raced: bool,
}

#[derive(Serialize)]
struct Report {
    applied: Vec<Applied>,
    not_applied: Vec<NotApplied>,
    held: Vec<(String, String, &'static str, String)>,
    undecided: Vec<(String, &'static str, String)>,
    commits: Vec<(String, String)>,
    repos_blocked: Vec<(String, String)>,
    warnings: usize,
    /// Per source: `full`, or how many changed files were read.
    reads: BTreeMap<String, String>,
    /// Which items were planned: `all`, or `changed since journal entry N`.
    planned: String,
    /// How many times files changed under the run, so it read and planned again.
    replans: usize,
    /// Trackers not read: (name, why, whether that is a failure).
    trackers_not_read: Vec<(String, String, bool)>,
    /// Items other sources name that a tracker does not have: (tracker, key).
    missing_in_trackers: Vec<(String, String)>,
    /// Writes `--no-writeback` left out: (key, target, to).
    skipped_writes: Vec<(String, String, String)>,
    /// What `--pull` fast-forwarded: (repo, what).
    pulled: Vec<(String, String)>,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    if ws.rules.is_empty() {
        return Err(Failure::usage(
            "no [[sync]] rules in the workspace: nothing to sync",
            Some(
                "add a rule, e.g. [[sync]] mode = \"merge\" between = [\"workplans\", \"hub\"]"
                    .into(),
            ),
        ));
    }
    if let Some(only) = &args.only
        && only != HUB_SOURCE
        && !ws.sources.iter().any(|s| &s.name == only)
    {
        return Err(Failure::usage(
            format!("--only names `{only}`, which is not a source"),
            None,
        ));
    }
    if let Some(rule) = &args.rule
        && !ws.rules.iter().any(|r| &r.name == rule)
    {
        let names: Vec<&str> = ws.rules.iter().map(|r| r.name.as_str()).collect();
        return Err(Failure::usage(
            format!("--rule names `{rule}`, which is not a [[sync]] rule"),
            Some(format!("the rules are: {}", names.join(", "))),
        ));
    }
    let mut earlier: Vec<Report> = Vec::new();
    loop {
        let (mut report, gates, planned) = match pass(ws, args, earlier.len())? {
            Pass::Finished(outcome) => return Ok(outcome),
            Pass::Declined if earlier.is_empty() => return Ok(Outcome::Findings),
            Pass::Declined => {
                // What the earlier passes applied still stands: report it.
                let mut report = earlier.pop().expect("not empty");
                report.not_applied.retain(|n| !n.raced);
                (report, BTreeMap::new(), None)
            }
            Pass::Applied(applied) => {
                let (report, gates, planned) = *applied;
                (report, gates, Some(planned))
            }
        };
        // A file changed between this pass's read and its write: read
        // again and plan again, a bounded number of times.
        if planned.is_some()
            && report.not_applied.iter().any(|n| n.raced)
            && earlier.len() < MAX_REPLANS
        {
            earlier.push(report);
            continue;
        }
        report.replans = earlier.len();
        for before in earlier.drain(..).rev() {
            report.applied.splice(0..0, before.applied);
            report.commits.splice(0..0, before.commits);
        }
        let mut out = output::stdout();
        let written = if args.json {
            serde_json::to_writer_pretty(&mut out, &report)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        } else {
            write_report(
                ws,
                &report,
                &gates,
                args.verbose,
                planned.as_ref(),
                &mut out,
            )
        };
        output::finish(written.and_then(|()| out.flush()));
        return Ok(
            if !report.not_applied.is_empty()
                || report
                    .trackers_not_read
                    .iter()
                    .any(|(_, _, failed)| *failed)
            {
                Outcome::PartialFailure
            } else if report.held.is_empty()
                && report.undecided.is_empty()
                && report.warnings == 0
                && report.missing_in_trackers.is_empty()
            {
                Outcome::Clean
            } else {
                Outcome::Findings
            },
        );
    }
}

/// How many times one run reads and plans again after files changed
/// under it.
const MAX_REPLANS: usize = 2;

/// How one pass (gates, read, plan, apply) ended.
enum Pass {
    /// Nothing to apply (nothing changed, or a dry run): already printed.
    Finished(Outcome),
    /// The user said no at `--confirm`.
    Declined,
    Applied(Box<(Report, BTreeMap<String, RepoGate>, Planned)>),
}

fn pass(ws: &Workspace, args: &Args, replans: usize) -> Result<Pass, Failure> {
    let mut gates = gate_repos(
        ws,
        GateOptions {
            fetch: true,
            pull: args.pull && !args.dry_run,
            fetch_timeout: SYNC_FETCH_TIMEOUT,
            all_repos: false,
        },
    );
    crate::timings::phase("gates");
    if !args.dry_run {
        adopt_interrupted_writes(ws, &mut gates)?;
    }
    crate::timings::phase("adopt interrupted writes");
    // A tracker can change without anything here knowing: always look.
    let trackers_in_rules = ws
        .trackers
        .iter()
        .any(|t| ws.rules.iter().any(|r| r.sources.contains(&t.name)));
    if !args.full
        && !args.dry_run
        && !trackers_in_rules
        && let Some(since) = unchanged_since_converged(ws, &gates)?
    {
        if args.json {
            println!(
                "{}",
                serde_json::json!({ "unchanged_since": since, "applied": [] })
            );
        } else {
            println!("nothing changed since the last sync converged ({since}): nothing to do");
        }
        return Ok(Pass::Finished(Outcome::Clean));
    }
    let limits = if args.full {
        HashMap::new()
    } else {
        incremental_limits(ws, &gates)?
    };
    crate::timings::phase("changed files");
    let scope = match focus_marks(ws)? {
        Some((journal, open)) if limits.len() == ws.sources.len() && !trackers_in_rules => {
            Scope::ChangedSince { journal, open }
        }
        _ => Scope::All,
    };
    let planned = plan_workspace(ws, "sync", &gates, &limits, &scope, args.strict)?;
    crate::timings::phase("planned");
    let reads: BTreeMap<String, String> = ws
        .sources
        .iter()
        .enumerate()
        .map(|(index, source)| {
            let read = match limits.get(&index) {
                Some(paths) => format!(
                    "{} changed since the watermark",
                    output::count(
                        paths
                            .iter()
                            .filter(|p| source.matcher.is_match(p.as_str()))
                            .count(),
                        "file"
                    )
                ),
                None => "full".to_string(),
            };
            (source.name.clone(), read)
        })
        .collect();
    // A target that has no word for a planned status stops the run before
    // anything is written anywhere.
    let unnamed: Vec<String> = planned
        .plan
        .changes()
        .filter_map(|(d, c)| {
            let source = ws.sources.iter().find(|s| s.name == c.source)?;
            native_word(source, &c.to.status)
                .err()
                .map(|why| format!("{}: {why}", d.key))
        })
        .collect();
    if !unnamed.is_empty() {
        return Err(Failure::usage(
            format!("nothing was written: {}", unnamed.join("; ")),
            Some("add the status to the source's write_names".into()),
        ));
    }
    let mut out = output::stdout();
    if args.dry_run {
        let written = if args.json {
            crate::commands::diff::write_json(&planned.plan, &gates, &mut out)
        } else {
            write_text(ws, &planned.report, &planned.plan, &mut out)
                .and_then(|()| crate::commands::diff::write_blocked(&gates, &mut out))
        };
        output::finish(written.and_then(|()| out.flush()));
        return Ok(Pass::Finished(
            if planned.plan.is_empty() && !crate::commands::diff::has_open(&planned.plan) {
                Outcome::Clean
            } else {
                Outcome::Findings
            },
        ));
    }
    if args.confirm && !planned.plan.is_empty() && !confirmed(ws, &planned, replans)? {
        return Ok(Pass::Declined);
    }
    let mut report = hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = apply(ws, args, &store, &planned, &gates).await;
        store.close().await;
        result
    })??;
    report.reads = reads;
    report.planned = match scope {
        Scope::All => "all".into(),
        Scope::ChangedSince { journal, open } => format!(
            "changed since journal entry {journal}, and {} left open",
            output::count(open.len(), "item")
        ),
    };
    Ok(Pass::Applied(Box::new((report, gates, planned))))
}

/// Shows the plan and asks whether to apply it; the answer is read from
/// stdin, a terminal or not.
fn confirmed(ws: &Workspace, planned: &Planned, replans: usize) -> Result<bool, Failure> {
    let mut out = output::stdout();
    let asked = (|| {
        if replans > 0 {
            writeln!(
                out,
                "files changed while syncing: read and planned again; the new plan:"
            )?;
        }
        write_text(ws, &planned.report, &planned.plan, &mut out)?;
        write!(out, "apply these changes? [y/N] ")?;
        out.flush()
    })();
    output::finish(asked);
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Failure::usage(format!("cannot read the answer: {e}"), None))?;
    let yes = matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes");
    if !yes {
        println!("nothing applied");
    }
    Ok(yes)
}

/// A file an interrupted sync wrote (its content still hashes to what that
/// sync recorded before writing) is concord's, not the user's: it is not
/// dirty, and this run commits it. Anything else pending is forgotten.
fn adopt_interrupted_writes(
    ws: &Workspace,
    gates: &mut BTreeMap<String, RepoGate>,
) -> Result<(), Failure> {
    hub::block_on(async {
        let store = hub::open(ws).await?;
        let pending = store.pending_writes().await;
        let mut result = Ok(());
        for write in pending? {
            let Some(gate) = gates.get_mut(&write.repo) else {
                continue;
            };
            let Some(repo) = ws.repos.iter().find(|r| r.name == write.repo) else {
                continue;
            };
            let ours = concord_workspace::read_regular_file(&repo.root.join(&write.path), u64::MAX)
                .is_ok_and(|bytes| sha256_hex(&bytes) == write.sha256);
            if ours && gate.dirty.remove(&write.path) {
                gate.carry.push(write.path.clone());
            } else if let Err(e) = store.clear_pending_write(&write.repo, &write.path).await {
                result = Err(e.into());
                break;
            }
        }
        store.close().await;
        result
    })?
}

/// The config hash the hub's recorded observations were read with: a
/// different config means a full read.
const READ_CONFIG_MARK: &str = "@config-read";

/// Per source, the files to read: those changed between the source's
/// watermark (the HEAD its recorded observations were read at) and HEAD,
/// plus uncommitted ones. A source missing from the map is read in full:
/// no watermark, history rewritten, not a git repo, or the config changed.
fn incremental_limits(
    ws: &Workspace,
    gates: &BTreeMap<String, RepoGate>,
) -> Result<HashMap<usize, BTreeSet<String>>, Failure> {
    let Some(config) = config_hash(ws) else {
        return Ok(HashMap::new());
    };
    // Each source's watermark, if the hub's record was read with this config.
    let marks: Vec<(usize, String)> = hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = async {
            let mut marks = Vec::new();
            let read_with = store.watermark(READ_CONFIG_MARK).await?;
            if read_with.map(|m| m.position) != Some(config) {
                return Ok(marks);
            }
            // Only this checkout's own watermark: another clone's commit
            // (and the observations it recorded) says nothing about here.
            for (index, source) in ws.sources.iter().enumerate() {
                let replica = gates
                    .get(&ws.repo(source).name)
                    .and_then(|g| g.replica.as_deref());
                if let Some(mark) = store.watermark(&source.name).await?
                    && let Some(commit) = own_position(&mark.position, replica)
                {
                    marks.push((index, commit.to_string()));
                }
            }
            Ok::<_, concord_store::StoreError>(marks)
        }
        .await;
        store.close().await;
        Ok::<_, Failure>(result?)
    })??;
    // Sources of one repo share its history: ask git once per (repo,
    // watermark), the repos in parallel.
    let asks: BTreeSet<(&str, &str)> = marks
        .iter()
        .map(|(index, position)| {
            (
                ws.repo(&ws.sources[*index]).name.as_str(),
                position.as_str(),
            )
        })
        .collect();
    let changed: HashMap<(&str, &str), Option<BTreeSet<String>>> = asks
        .into_par_iter()
        .map(|(repo, position)| {
            let found = gates
                .get(repo)
                .and_then(|g| g.git.as_ref())
                .and_then(|git| git.changed_since(position).ok().flatten());
            ((repo, position), found)
        })
        .collect();
    let mut limits = HashMap::new();
    for (index, position) in &marks {
        let repo = ws.repo(&ws.sources[*index]).name.as_str();
        let (Some(gate), Some(Some(files))) =
            (gates.get(repo), changed.get(&(repo, position.as_str())))
        else {
            continue;
        };
        let mut files = files.clone();
        files.extend(gate.dirty.iter().cloned());
        files.extend(gate.carry.iter().cloned());
        limits.insert(*index, files);
    }
    Ok(limits)
}

/// After a sync: each git source's watermark becomes the commit whose
/// content the hub recorded: this run's own commit when it sits right on
/// the HEAD this run read (its files were re-read after writing), else that
/// HEAD. Only when that is exact (no dirty file, repo writable); otherwise
/// it is cleared: the next run reads all.
async fn record_read_positions(
    ws: &Workspace,
    store: &Store,
    gates: &BTreeMap<String, RepoGate>,
    report: &concord_workspace::ScanReport,
    read_from: &HashMap<String, String>,
) -> Result<(), Failure> {
    // A source with a file it could not read is read in full next time.
    let unread = hub::unread_sources(report);
    let now = now_rfc3339();
    for source in &ws.sources {
        let repo = ws.repo(source);
        let Some(gate) = gates.get(&repo.name) else {
            continue;
        };
        if gate.git.is_none() {
            continue;
        }
        let position = match read_from.get(&repo.name).or(gate.head_at_read.as_ref()) {
            Some(head)
                if gate.blocker.is_none()
                    && gate.dirty.is_empty()
                    && !unread.contains(source.name.as_str()) =>
            {
                gate.position(head)
            }
            _ => String::new(),
        };
        store
            .set_watermark(&Watermark {
                source: source.name.clone(),
                position,
                updated_at: now.clone(),
            })
            .await?;
    }
    if let Some(config) = config_hash(ws) {
        store
            .set_watermark(&Watermark {
                source: READ_CONFIG_MARK.into(),
                position: config,
                updated_at: now,
            })
            .await?;
    }
    Ok(())
}

/// Marks a sync leaves for the next: the config's hash, the hub's journal
/// entry up to which it planned with every change, the items it left open
/// (held, undecided, not applied), and, when it converged, every repo's
/// HEAD. When the config is the same and every source can be read
/// incrementally, the next run plans only the open items and those
/// journaled or in a file changed since ([`Scope::ChangedSince`]); when
/// the hub and the HEADs did not move either and nothing was open, it has
/// nothing to do at all.
pub(crate) const CONFIG_MARK: &str = "@config";
const HUB_MARK: &str = "@hub";
const OPEN_MARK: &str = "@open";

pub(crate) fn repo_mark(repo: &str) -> String {
    format!("@repo:{repo}")
}

fn config_hash(ws: &Workspace) -> Option<String> {
    std::fs::read(&ws.config_path)
        .ok()
        .map(|bytes| sha256_hex(&bytes))
}

/// `Some(when)` when nothing can have changed since the last converged sync.
fn unchanged_since_converged(
    ws: &Workspace,
    gates: &BTreeMap<String, RepoGate>,
) -> Result<Option<String>, Failure> {
    // Only git repos can say what changed; any dirty file or blocker means look.
    let mut heads = Vec::new();
    for (name, gate) in gates {
        if gate.git.is_none()
            || gate.blocker.is_some()
            || !gate.dirty.is_empty()
            || !gate.carry.is_empty()
        {
            return Ok(None);
        }
        match &gate.head_at_read {
            Some(head) => heads.push((repo_mark(name), gate.position(head))),
            None => return Ok(None),
        }
    }
    let Some(config) = config_hash(ws) else {
        return Ok(None);
    };
    hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = async {
            let Some(mark) = store.watermark(CONFIG_MARK).await? else {
                return Ok(None);
            };
            if mark.position != config {
                return Ok(None);
            }
            let hub_mark = store.watermark(HUB_MARK).await?;
            let high_water = store.journal_high_water().await?.to_string();
            if hub_mark.as_ref().map(|m| &m.position) != Some(&high_water) {
                return Ok(None);
            }
            if store.watermark(OPEN_MARK).await?.map(|m| m.position) != Some("[]".into()) {
                return Ok(None);
            }
            for (name, head) in &heads {
                let known = store.watermark(name).await?;
                if known.as_ref().map(|m| &m.position) != Some(head) {
                    return Ok(None);
                }
            }
            Ok::<_, concord_store::StoreError>(Some(mark.updated_at))
        }
        .await;
        store.close().await;
        Ok::<_, Failure>(result?)
    })?
}

/// What the last sync left for a focused plan: the journal entry it
/// planned up to and the items it left open, if it ran with this config.
fn focus_marks(ws: &Workspace) -> Result<Option<(i64, Vec<String>)>, Failure> {
    let Some(config) = config_hash(ws) else {
        return Ok(None);
    };
    hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = async {
            if store.watermark(CONFIG_MARK).await?.map(|m| m.position) != Some(config) {
                return Ok(None);
            }
            let journal = store.watermark(HUB_MARK).await?;
            let open = store.watermark(OPEN_MARK).await?;
            Ok::<_, concord_store::StoreError>(
                journal
                    .and_then(|m| m.position.parse().ok())
                    .zip(open.and_then(|m| serde_json::from_str(&m.position).ok())),
            )
        }
        .await;
        store.close().await;
        Ok::<_, Failure>(result?)
    })?
}

/// After a sync, before its read positions move (a run killed in between
/// then re-reads more, never less): the marks [`CONFIG_MARK`] describes.
async fn mark_run(
    ws: &Workspace,
    store: &Store,
    gates: &BTreeMap<String, RepoGate>,
    (journal_at_read, run_id): (i64, &str),
    open: &BTreeSet<String>,
    converged: bool,
) -> Result<(), Failure> {
    let now = now_rfc3339();
    let mut marks = Vec::new();
    // Someone else's change made during this run was not planned with: the
    // next run must look at it.
    let others = store
        .journal_entries_since_not_of_run(journal_at_read, run_id)
        .await?;
    let planned_up_to = if others == 0 {
        store.journal_high_water().await?
    } else {
        journal_at_read
    };
    marks.push((HUB_MARK.to_string(), planned_up_to.to_string()));
    marks.push((OPEN_MARK.to_string(), serde_json::json!(open).to_string()));
    for (name, gate) in gates {
        let head = match gate.git.as_ref() {
            Some(git) if converged => git
                .head()
                .ok()
                .flatten()
                .map(|head| gate.position(&head))
                .unwrap_or_default(),
            _ => String::new(),
        };
        marks.push((repo_mark(name), head));
    }
    // The config mark last: it makes the others count.
    marks.push((CONFIG_MARK.to_string(), config_hash(ws).unwrap_or_default()));
    for (source, position) in marks {
        store
            .set_watermark(&Watermark {
                source,
                position,
                updated_at: now.clone(),
            })
            .await?;
    }
    Ok(())
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn apply(
    ws: &Workspace,
    args: &Args,
    store: &Store,
    planned: &Planned,
    gates: &BTreeMap<String, RepoGate>,
) -> Result<Report, Failure> {
    // `concord serve` names the run it started, so its API can point at it.
    let run_id = std::env::var("CONCORD_RUN_ID")
        .ok()
        .filter(|id| !id.is_empty() && id.len() <= 64)
        .unwrap_or_else(hub::new_run_id);
    let actor = hub::actor(ws);
    let observed: HashMap<(&str, &str), &Observation> = planned
        .report
        .observations()
        .map(|o| ((&*o.source, o.key.as_str()), o))
        .collect();
    let allowed = |target: &str| args.only.as_deref().is_none_or(|only| only == target);
    let rule_allowed = |rule: &str| args.rule.as_deref().is_none_or(|only| only == rule);

    let mut applied: Vec<Applied> = Vec::new();
    let mut not_applied: Vec<NotApplied> = Vec::new();
    let mut skipped_writes: Vec<(String, String, String)> = Vec::new();
    // Decisions with a change that did not land keep their old base.
    let mut incomplete: BTreeSet<(String, String)> = BTreeSet::new();

    // Files: group the edits per file.
    let mut per_file: BTreeMap<(usize, String), Vec<PlannedEdit<'_>>> = BTreeMap::new();
    for (decision, change) in planned.plan.changes() {
        if change.source == HUB_SOURCE {
            continue;
        }
        let skip = |why: &str| NotApplied {
            key: decision.key.clone(),
            target: change.source.clone(),
            problem: why.to_string(),
            raced: false,
        };
        if !allowed(&change.source) || !rule_allowed(&decision.rule) {
            incomplete.insert((decision.rule.clone(), decision.key.clone()));
            continue;
        }
        let Some((index, source)) = ws
            .sources
            .iter()
            .enumerate()
            .find(|(_, s)| s.name == change.source)
        else {
            continue;
        };
        let Some(obs) = observed.get(&(change.source.as_str(), decision.key.as_str())) else {
            not_applied.push(skip("the item was not read from this source"));
            incomplete.insert((decision.rule.clone(), decision.key.clone()));
            continue;
        };
        let new_word = match native_word(source, &change.to.status) {
            Ok(word) => word,
            Err(why) => {
                not_applied.push(skip(&why));
                incomplete.insert((decision.rule.clone(), decision.key.clone()));
                continue;
            }
        };
        let expected = obs
            .status
            .as_ref()
            .map(|s| s.raw.clone())
            .unwrap_or_default();
        per_file
            .entry((index, obs.path.to_string()))
            .or_default()
            .push((
                decision,
                change,
                FileEdit {
                    key: decision.key.clone(),
                    expected,
                    new_word,
                },
            ));
    }

    // repo name -> (paths written, commit body lines)
    let mut written: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    let mut written_statuses: Vec<WrittenStatus> = Vec::new();
    let files_bar = output::progress(per_file.len(), "writing files");
    let per_file: Vec<_> = per_file.into_iter().collect();
    // In chunks: each chunk's files are read and edited in parallel, their
    // intents recorded in one transaction, then written in parallel.
    for chunk in per_file.chunks(256) {
        if args.no_writeback {
            for (_, edits) in chunk {
                for (decision, change, _) in edits {
                    incomplete.insert((decision.rule.clone(), decision.key.clone()));
                    skipped_writes.push((
                        decision.key.clone(),
                        change.source.clone(),
                        change.to.status.clone(),
                    ));
                }
            }
            continue;
        }
        let prepared: Vec<Prepared> = chunk
            .par_iter()
            .map(|((index, path), edits)| {
                let source = &ws.sources[*index];
                let full = ws.repo(source).root.join(path);
                let file_edits: Vec<FileEdit> = edits.iter().map(|(_, _, e)| e.clone()).collect();
                // Never blocks: a FIFO swapped in since the read is refused.
                match concord_workspace::read_regular_file(&full, u64::MAX) {
                    Ok(bytes) => {
                        let (new_bytes, outcomes) = edit_file(source, path, &bytes, &file_edits);
                        let new_bytes = (new_bytes != bytes).then_some(new_bytes);
                        (new_bytes, outcomes)
                    }
                    // Deleted since it was read: its items are gone.
                    Err(_) if std::fs::symlink_metadata(&full).is_err() => {
                        (None, vec![EditOutcome::Missing; edits.len()])
                    }
                    Err(e) => (None, vec![EditOutcome::Refused(e); edits.len()]),
                }
            })
            .collect();
        // Intent first: a run killed after a write but before the commit
        // lets the next run recognise the file as ours.
        let intents: Vec<PendingWrite> = chunk
            .iter()
            .zip(&prepared)
            .filter_map(|(((index, path), _), (new_bytes, _))| {
                Some(PendingWrite {
                    repo: ws.repo(&ws.sources[*index]).name.clone(),
                    path: path.clone(),
                    sha256: sha256_hex(new_bytes.as_ref()?),
                    run_id: run_id.clone(),
                    created_at: now_rfc3339(),
                })
            })
            .collect();
        store.add_pending_writes(&intents).await?;
        let results: Vec<Vec<EditOutcome>> = chunk
            .par_iter()
            .zip(prepared)
            .map(|(((index, path), edits), (new_bytes, outcomes))| {
                let Some(new_bytes) = new_bytes else {
                    return outcomes;
                };
                let full = ws.repo(&ws.sources[*index]).root.join(path);
                match write_atomic(&full, &new_bytes) {
                    Ok(()) => outcomes,
                    Err(e) => vec![EditOutcome::Refused(format!("cannot write: {e}")); edits.len()],
                }
            })
            .collect();
        for (((index, path), edits), outcomes) in chunk.iter().zip(results) {
            files_bar.inc(1);
            let repo = ws.repo(&ws.sources[*index]);
            let place = format!("{}:{path}", repo.name);
            for ((decision, change, edit), outcome) in edits.iter().zip(outcomes) {
                match outcome {
                    EditOutcome::Applied => {
                        let entry = written.entry(repo.name.clone()).or_default();
                        if !entry.0.contains(path) {
                            entry.0.push(path.clone());
                        }
                        entry.1.push(format!(
                            "- {}: {} -> {} (from {}, {})",
                            decision.key,
                            edit.expected,
                            edit.new_word,
                            change.origin,
                            change.reason.as_str()
                        ));
                        applied.push(applied_of(decision, change, &place));
                        written_statuses.push(WrittenStatus {
                            source: change.source.clone(),
                            key: decision.key.clone(),
                            status: Some(change.to.status.clone()),
                            raw_status: edit.new_word.clone(),
                        });
                    }
                    other => {
                        incomplete.insert((decision.rule.clone(), decision.key.clone()));
                        not_applied.push(NotApplied {
                            key: decision.key.clone(),
                            target: change.source.clone(),
                            raced: matches!(
                                other,
                                EditOutcome::Changed { .. } | EditOutcome::Missing
                            ),
                            problem: match other {
                                EditOutcome::Changed { found } => format!(
                                    "{place} changed since it was read (now `{}`); run sync again",
                                    found.unwrap_or_default()
                                ),
                                EditOutcome::Missing => format!("{place} no longer holds the item"),
                                EditOutcome::Refused(why) => format!("{place}: {why}"),
                                EditOutcome::Applied => String::new(),
                            },
                        });
                    }
                }
            }
        }
    }

    files_bar.finish_and_clear();
    crate::timings::phase("files written");

    // Trackers: each with its own locking, a bounded number of requests at
    // a time. A tracker that was not read is not written.
    for read in &planned.trackers {
        let tracker = &ws.trackers[read.index];
        let (mine, later): (Vec<(&Decision, &Change)>, Vec<_>) = planned
            .plan
            .changes()
            .filter(|(_, c)| c.source == tracker.name)
            .partition(|(d, _)| rule_allowed(&d.rule));
        for (decision, _) in &later {
            incomplete.insert((decision.rule.clone(), decision.key.clone()));
        }
        if mine.is_empty() {
            continue;
        }
        if !allowed(&tracker.name) || args.no_writeback {
            for (decision, change) in &mine {
                incomplete.insert((decision.rule.clone(), decision.key.clone()));
                if args.no_writeback {
                    skipped_writes.push((
                        decision.key.clone(),
                        change.source.clone(),
                        change.to.status.clone(),
                    ));
                }
            }
            continue;
        }
        let changes: Vec<crate::trackers::TrackerChange> = mine
            .iter()
            .map(|(decision, change)| crate::trackers::TrackerChange {
                key: decision.key.clone(),
                to: change.to.status.clone(),
                note: format!(
                    "concord: status {} -> {} (from {}, {}; rule {}, run {run_id})",
                    change.from.as_ref().map_or("(none)", |v| v.status.as_str()),
                    change.to.status,
                    change.origin,
                    change.reason.as_str(),
                    decision.rule
                ),
            })
            .collect();
        let bar = output::progress(changes.len(), &format!("writing {}", tracker.name));
        let outcomes = crate::trackers::write(ws, read, &changes);
        bar.finish_and_clear();
        for ((decision, change), outcome) in mine.into_iter().zip(outcomes) {
            let place = read
                .observations
                .iter()
                .find(|o| o.key == decision.key)
                .map_or_else(
                    || tracker.name.clone(),
                    |o| format!("{}:{}", tracker.name, o.path),
                );
            let (problem, raced) = match outcome {
                crate::trackers::WriteOutcome::Applied => {
                    applied.push(applied_of(decision, change, &place));
                    continue;
                }
                crate::trackers::WriteOutcome::Raced(why) => (why, true),
                crate::trackers::WriteOutcome::Failed(why) => (why, false),
            };
            incomplete.insert((decision.rule.clone(), decision.key.clone()));
            not_applied.push(NotApplied {
                key: decision.key.clone(),
                target: tracker.name.clone(),
                problem,
                raced,
            });
        }
    }
    // A rule with a tracker that could not be read keeps its bases: what
    // that tracker holds is unknown, not agreed.
    for read in planned.trackers.iter().filter(|t| t.unread.is_some()) {
        let name = &ws.trackers[read.index].name;
        for decision in &planned.plan.decisions {
            let rule = ws.rules.iter().find(|r| r.name == decision.rule);
            if rule.is_some_and(|r| r.sources.contains(name)) {
                incomplete.insert((decision.rule.clone(), decision.key.clone()));
            }
        }
    }

    // Journal the changes that landed (files, trackers), in one transaction.
    let entries: Vec<JournalEntry> = applied
        .iter()
        .map(|a| JournalEntry {
            id: 0,
            at: now_rfc3339(),
            run_id: Some(run_id.clone()),
            actor: actor.clone(),
            key: a.key.clone(),
            kind: JournalKind::Change,
            field: Some("status".into()),
            from: a.from.clone(),
            to: Some(a.to.clone()),
            target: Some(match replica_of(ws, gates, &a.target) {
                Some(replica) => format!("{} {} (replica {replica})", a.target, a.place),
                None => format!("{} {}", a.target, a.place),
            }),
            reason: a.reason.into(),
            note: Some(origin_note(ws, gates, &a.origin, &a.rule)),
            event_type: None,
            phase: None,
            artifacts: Vec::new(),
        })
        .collect();
    store.append_journal_batch(&entries).await?;
    crate::timings::phase("journaled");

    // The hub: compare-and-set against the version the plan was made from,
    // all in one transaction.
    let versions: HashMap<&str, (i64, Option<&str>)> = planned
        .hub_values
        .iter()
        .filter(|v| v.field == "status")
        .map(|v| (v.key.as_str(), (v.version, v.value.as_deref())))
        .collect();
    let mut hub_planned = Vec::new();
    let mut hub_changes = Vec::new();
    for (decision, change) in planned
        .plan
        .changes()
        .filter(|(_, c)| c.source == HUB_SOURCE)
    {
        if !allowed(HUB_SOURCE) || !rule_allowed(&decision.rule) {
            incomplete.insert((decision.rule.clone(), decision.key.clone()));
            continue;
        }
        let (version, from) = versions
            .get(decision.key.as_str())
            .copied()
            .unwrap_or((0, None));
        hub_planned.push((decision, change));
        hub_changes.push(ValueChange {
            key: decision.key.clone(),
            field: "status".into(),
            expected_version: version,
            from: from.map(str::to_string),
            to: Some(change.to.status.clone()),
            at: now_rfc3339(),
            actor: actor.clone(),
            run_id: Some(run_id.clone()),
            reason: change.reason.as_str().into(),
            note: Some(origin_note(ws, gates, &change.origin, &decision.rule)),
        });
    }
    // In chunks, so a long first sync shows progress; every row still
    // decides its own compare-and-set.
    let hub_bar = output::progress(hub_changes.len(), "writing the hub");
    let mut results = Vec::with_capacity(hub_changes.len());
    for chunk in hub_changes.chunks(2000) {
        results.extend(store.set_hub_values(chunk).await?);
        hub_bar.inc(chunk.len() as u64);
    }
    hub_bar.finish_and_clear();
    crate::timings::phase("hub written");
    let mut versions_after: HashMap<String, i64> = versions
        .iter()
        .map(|(key, (version, _))| (key.to_string(), *version))
        .collect();
    for ((decision, change), result) in hub_planned.into_iter().zip(results) {
        match result {
            Ok(stored) => {
                versions_after.insert(stored.key.clone(), stored.version);
                applied.push(applied_of(decision, change, "the hub"));
            }
            Err(e) if e.is_conflict() => {
                incomplete.insert((decision.rule.clone(), decision.key.clone()));
                not_applied.push(NotApplied {
                    key: decision.key.clone(),
                    target: HUB_SOURCE.into(),
                    problem: "the hub value changed since it was read; run sync again".into(),
                    raced: true,
                });
            }
            Err(e) => return Err(e.into()),
        }
    }

    // One commit per repo, with only the paths concord wrote (this run's,
    // and those an interrupted run left).
    for (repo_name, gate) in gates {
        for path in &gate.carry {
            let entry = written.entry(repo_name.clone()).or_default();
            if !entry.0.contains(path) {
                entry.0.push(path.clone());
                entry
                    .1
                    .push(format!("- {path}: written by an interrupted sync"));
            }
        }
    }
    // The repos commit (and push) in parallel: each is its own git process.
    let outcomes: Vec<(&String, &Vec<String>, Option<CommitOutcome>)> = written
        .par_iter()
        .map(|(repo_name, (paths, lines))| {
            let Some(git) = gates.get(repo_name).and_then(|g| g.git.as_ref()) else {
                // Not a git work tree: the write is final.
                return (repo_name, paths, None);
            };
            let subject = ws
                .commit_subject
                .replace("{count}", &lines.len().to_string())
                .replace("{run_id}", &run_id);
            // The trailer marks the values as copies of an agreement, so
            // a clone that merges this commit never takes them for edits.
            let message = format!(
                "{subject}\n\n{}\n\n{}: {run_id}\n",
                lines.join("\n"),
                crate::replicas::RUN_TRAILER
            );
            let committed = git.commit_paths(paths, &message).map(|id| {
                let pushed = match &id {
                    Some(_) if args.push => git.push().map_err(|e| e.to_string()),
                    _ => Ok(()),
                };
                // Made right on top of what was read: the next run may
                // read from it (nobody else's commit hides in between).
                let on_read = id.as_ref().is_some_and(|id| {
                    let parent = git.first_parent(id).ok().flatten();
                    parent.is_some()
                        && parent == gates.get(repo_name).and_then(|g| g.head_at_read.clone())
                });
                (id, pushed, on_read)
            });
            (repo_name, paths, Some(committed.map_err(|e| e.to_string())))
        })
        .collect();
    let mut commits: Vec<(String, String)> = Vec::new();
    let mut read_from: HashMap<String, String> = HashMap::new();
    for (repo_name, paths, outcome) in outcomes {
        match outcome {
            None | Some(Ok((None, _, _))) => store.clear_pending_writes(repo_name, paths).await?,
            Some(Ok((Some(id), pushed, on_read))) => {
                store.clear_pending_writes(repo_name, paths).await?;
                if on_read {
                    read_from.insert(repo_name.clone(), id.clone());
                }
                if let Err(e) = pushed {
                    not_applied.push(NotApplied {
                        key: String::new(),
                        target: repo_name.clone(),
                        problem: format!("committed {} but the push failed: {e}", short(&id)),
                        raced: false,
                    });
                }
                commits.push((repo_name.clone(), id));
            }
            Some(Err(e)) => not_applied.push(NotApplied {
                key: String::new(),
                target: repo_name.clone(),
                problem: format!("files written but the commit failed: {e}"),
                raced: false,
            }),
        }
    }
    crate::timings::phase("committed");
    // Where each repo's replica stands after this run: its commit, if it
    // made one, else what it read.
    let mut synced_heads: HashMap<String, String> = gates
        .iter()
        .filter_map(|(name, g)| Some((name.clone(), g.head_at_read.clone()?)))
        .collect();
    for (repo, id) in &commits {
        synced_heads.insert(repo.clone(), id.clone());
    }

    let landed = Landed {
        written: applied
            .iter()
            .map(|a| (a.rule.as_str(), a.key.as_str(), a.target.as_str()))
            .collect(),
        incomplete: &incomplete,
        synced_heads: &synced_heads,
    };
    let new_bases = shared_bases(ws, planned, gates, &landed, &observed, &versions_after);
    let bases_bar = output::progress(new_bases.len(), "recording bases");
    let mut stored = Vec::with_capacity(new_bases.len());
    for chunk in new_bases.chunks(2000) {
        stored.extend(store.put_bases(chunk).await?);
        bases_bar.inc(chunk.len() as u64);
    }
    bases_bar.finish_and_clear();
    crate::timings::phase("bases recorded");
    for result in stored {
        match result {
            // Another run moved it: ours is not the latest agreement; the next run re-plans.
            Ok(_) => {}
            Err(e) if e.is_conflict() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let rows = replica_rows(ws, planned, gates, &landed);
    crate::replicas::record(store, gates, &rows, &synced_heads).await?;
    crate::timings::phase("replica bases recorded");

    let held = planned
        .plan
        .decisions
        .iter()
        .flat_map(|d| d.holds.iter().map(move |h| (d, h)))
        .filter(|(_, h)| h.reason != Reason::NotInSource)
        .map(|(d, h)| {
            (
                d.key.clone(),
                h.source.clone(),
                h.reason.as_str(),
                h.detail.clone(),
            )
        })
        .collect();
    let undecided = planned
        .plan
        .decisions
        .iter()
        .filter(|d| {
            matches!(
                d.reason,
                Reason::Conflict
                    | Reason::OwnerMissing
                    | Reason::OwnerUnknown
                    | Reason::UnknownStatus
            )
        })
        .map(|d| (d.key.clone(), d.reason.as_str(), d.explanation.clone()))
        .collect();
    let repos_blocked: Vec<(String, String)> = gates
        .iter()
        .filter_map(|(name, g)| g.blocker.as_ref().map(|b| (name.clone(), b.clone())))
        .collect();
    let held: Vec<_> = held;
    let undecided: Vec<_> = undecided;
    let converged = planned.trackers.iter().all(|t| t.unread.is_none())
        && not_applied.is_empty()
        && held.is_empty()
        && undecided.is_empty()
        && repos_blocked.is_empty()
        && planned.report.warnings.is_empty()
        && args.only.is_none()
        && args.rule.is_none()
        && !args.no_writeback;
    // Items a full plan would show again: the next (focused) plan
    // includes them.
    let open: BTreeSet<String> = held
        .iter()
        .map(|(key, ..)| key.clone())
        .chain(undecided.iter().map(|(key, ..)| key.clone()))
        .chain(
            not_applied
                .iter()
                .filter(|n| !n.key.is_empty())
                .map(|n| n.key.clone()),
        )
        .chain(incomplete.iter().map(|(_, key)| key.clone()))
        .collect();
    mark_run(
        ws,
        store,
        gates,
        (planned.journal_at_read, &run_id),
        &open,
        converged,
    )
    .await?;
    // What this run wrote is recorded as read, so the next run starts from
    // this run's commit instead of re-reading it: a value edit changes
    // nothing else in its file (and the plan read every file an
    // interrupted run left).
    store.record_written_statuses(&written_statuses).await?;
    crate::timings::phase("written files recorded");
    record_read_positions(ws, store, gates, &planned.report, &read_from).await?;
    crate::timings::phase("committed, read positions recorded");

    Ok(Report {
        applied,
        not_applied,
        held,
        undecided,
        commits,
        repos_blocked,
        warnings: planned.report.warnings.len(),
        reads: BTreeMap::new(),
        planned: String::new(),
        replans: 0,
        trackers_not_read: planned
            .trackers
            .iter()
            .filter_map(|t| {
                t.unread.as_ref().map(|u| {
                    (
                        ws.trackers[t.index].name.clone(),
                        u.message.clone(),
                        u.failed,
                    )
                })
            })
            .collect(),
        missing_in_trackers: planned
            .trackers
            .iter()
            .flat_map(|t| {
                t.missing
                    .iter()
                    .map(|key| (ws.trackers[t.index].name.clone(), key.clone()))
            })
            .collect(),
        skipped_writes,
        pulled: gates
            .iter()
            .filter_map(|(name, g)| g.pulled.clone().map(|p| (name.clone(), p)))
            .collect(),
    })
}

/// What landed in this run, as the bases see it.
struct Landed<'a> {
    /// (rule, key, target) of every change applied.
    written: BTreeSet<(&'a str, &'a str, &'a str)>,
    /// Decisions with a change that did not land: they keep their bases.
    incomplete: &'a BTreeSet<(String, String)>,
    /// Where each repo's replica stands after this run.
    synced_heads: &'a HashMap<String, String>,
}

/// The shared bases this run moves (each with the version it was planned
/// from): only where every change of the decision landed.
fn shared_bases(
    ws: &Workspace,
    planned: &Planned,
    gates: &BTreeMap<String, RepoGate>,
    landed: &Landed<'_>,
    observed: &HashMap<(&str, &str), &Observation>,
    versions_after: &HashMap<String, i64>,
) -> Vec<(Base, i64)> {
    let known_bases: HashMap<(&str, &str), (i64, Option<&str>)> = planned
        .bases
        .iter()
        .filter(|b| b.field == "status")
        .map(|b| {
            (
                (b.rule.as_str(), b.key.as_str()),
                (b.version, b.value.as_deref()),
            )
        })
        .collect();
    let agreed_at = now_rfc3339();
    // What each source was at when the sources agreed: the commit its repo
    // was read at; for the hub, the item's value version after this run.
    // For a git source, `replica commit`, and only when it holds the
    // winner committed: a replica with no base of its own may start from
    // this agreement when that commit is in its history.
    let source_versions = |decision: &Decision| -> String {
        let (rule, key) = (decision.rule.as_str(), decision.key.as_str());
        let mut versions = serde_json::Map::new();
        let Some(rule) = ws.rules.iter().find(|r| r.name == rule) else {
            return "{}".into();
        };
        // Only the sources that hold the item: a rule may join a hundred.
        for name in &rule.sources {
            let version = if name == HUB_SOURCE {
                let Some(version) = versions_after.get(key).copied() else {
                    continue;
                };
                serde_json::Value::from(version)
            } else {
                let Some(obs) = observed.get(&(name.as_str(), key)) else {
                    continue;
                };
                let holds = decision.agreeing.contains(name)
                    || landed
                        .written
                        .contains(&(rule.name.as_str(), key, name.as_str()));
                let gate = gates.get(&*obs.repo);
                let position = gate
                    .filter(|g| holds && !g.dirty.contains(&*obs.path))
                    .zip(landed.synced_heads.get(&*obs.repo))
                    .map(|(g, head)| g.position(head));
                match position {
                    Some(position) => serde_json::Value::from(position),
                    None => continue,
                }
            };
            versions.insert(name.clone(), version);
        }
        serde_json::Value::Object(versions).to_string()
    };
    let mut new_bases = Vec::new();
    for decision in &planned.plan.decisions {
        let Some(new_base) = &decision.new_base else {
            continue;
        };
        if landed
            .incomplete
            .contains(&(decision.rule.clone(), decision.key.clone()))
        {
            continue;
        }
        let (expected, old) = known_bases
            .get(&(decision.rule.as_str(), decision.key.as_str()))
            .copied()
            .unwrap_or((0, None));
        if old == Some(new_base.status.as_str()) {
            continue;
        }
        new_bases.push((
            Base {
                rule: decision.rule.clone(),
                key: decision.key.clone(),
                field: "status".into(),
                value: Some(new_base.status.clone()),
                versions: source_versions(decision),
                version: 0,
                agreed_at: agreed_at.clone(),
            },
            expected,
        ));
    }
    new_bases
}

/// The replica a file source is read in this run, if it is a git checkout.
fn replica_of<'g>(
    ws: &Workspace,
    gates: &'g BTreeMap<String, RepoGate>,
    source: &str,
) -> Option<&'g str> {
    let source = ws.sources.iter().find(|s| s.name == source)?;
    gates.get(&ws.repo(source).name)?.replica.as_deref()
}

/// `from ORIGIN (rule R)`, naming the replica of each origin that is a
/// file source read here.
fn origin_note(
    ws: &Workspace,
    gates: &BTreeMap<String, RepoGate>,
    origin: &str,
    rule: &str,
) -> String {
    let replicas: Vec<String> = origin
        .split(", ")
        .filter_map(|o| replica_of(ws, gates, o).map(|r| format!("{o} in replica {r}")))
        .collect();
    if replicas.is_empty() {
        format!("from {origin} (rule {rule})")
    } else {
        format!("from {origin} (rule {rule}; {})", replicas.join(", "))
    }
}

/// The replica bases this run moved: for every decision that landed whole,
/// each git source that holds the winner now (it already did, or this run
/// wrote it) agrees on it in this checkout.
fn replica_rows(
    ws: &Workspace,
    planned: &Planned,
    gates: &BTreeMap<String, RepoGate>,
    landed: &Landed<'_>,
) -> Vec<concord_store::ReplicaBase> {
    let agreed_at = now_rfc3339();
    let mut rows = Vec::new();
    for decision in &planned.plan.decisions {
        let Some(winner) = &decision.winner else {
            continue;
        };
        if landed
            .incomplete
            .contains(&(decision.rule.clone(), decision.key.clone()))
        {
            continue;
        }
        let wrote = decision
            .changes
            .iter()
            .map(|c| c.source.as_str())
            .filter(|s| {
                landed
                    .written
                    .contains(&(decision.rule.as_str(), decision.key.as_str(), *s))
            });
        let holders: BTreeSet<&str> = decision
            .agreeing
            .iter()
            .map(String::as_str)
            .chain(wrote)
            .collect();
        for source in holders {
            let Some(source) = ws.sources.iter().find(|s| s.name == source) else {
                continue;
            };
            let repo = &ws.repo(source).name;
            let (Some(replica), Some(head)) = (
                gates.get(repo).and_then(|g| g.replica.as_deref()),
                landed.synced_heads.get(repo),
            ) else {
                continue;
            };
            let now = Some(winner.status.clone());
            if planned
                .own_bases
                .row(replica, &decision.rule, &source.name, &decision.key)
                == Some(&now)
            {
                continue;
            }
            rows.push(concord_store::ReplicaBase {
                replica: replica.to_string(),
                key: decision.key.clone(),
                rule: decision.rule.clone(),
                source: source.name.clone(),
                field: "status".into(),
                value: now,
                position: head.clone(),
                agreed_at: agreed_at.clone(),
            });
        }
    }
    rows
}

/// A commit's id (`None`: nothing to commit), how its push went, and
/// whether its parent is the commit the run read.
type CommitOutcome = Result<(Option<String>, Result<(), String>, bool), String>;

/// A file's new content (`None`: unchanged or unreadable) and each edit's outcome.
type Prepared = (Option<Vec<u8>>, Vec<EditOutcome>);

/// One planned file edit and the decision it carries out.
type PlannedEdit<'p> = (&'p Decision, &'p Change, FileEdit);

fn applied_of(decision: &Decision, change: &Change, place: &str) -> Applied {
    Applied {
        key: decision.key.clone(),
        rule: decision.rule.clone(),
        target: change.source.clone(),
        from: change.from.as_ref().map(|v| v.status.clone()),
        to: change.to.status.clone(),
        reason: change.reason.as_str(),
        origin: change.origin.clone(),
        place: place.to_string(),
    }
}

/// The word a source uses for a canonical status: its `write_names` entry,
/// else the canonical name. A source that names its words but lacks this
/// one cannot be written.
fn native_word(source: &Source, canonical: &str) -> Result<String, String> {
    if source.write_names.is_empty() {
        return Ok(canonical.to_string());
    }
    source.write_names.get(canonical).cloned().ok_or_else(|| {
        format!(
            "source `{}` has no word for `{canonical}` in write_names",
            source.name
        )
    })
}

fn write_report(
    ws: &Workspace,
    report: &Report,
    gates: &BTreeMap<String, RepoGate>,
    verbose: bool,
    planned: Option<&Planned>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let (key, dim, warn, bad) = (paint(KEY), paint(DIM), paint(WARN), paint(BAD));
    for a in &report.applied {
        writeln!(
            out,
            "{key}{}{key:#}  {}: {} -> {}  {dim}({}, from {}; {}){dim:#}",
            a.key,
            a.target,
            a.from.as_deref().unwrap_or("(none)"),
            a.to,
            a.reason,
            a.origin,
            a.place
        )?;
    }
    for (repo, pulled) in &report.pulled {
        writeln!(out, "pulled {repo}: {pulled}")?;
    }
    for (repo, id) in &report.commits {
        writeln!(out, "committed {repo}: {}", short(id))?;
    }
    for (k, target, to) in &report.skipped_writes {
        writeln!(
            out,
            "{dim}not written (--no-writeback){dim:#} {k} {target}: would get {to}"
        )?;
    }
    for n in &report.not_applied {
        writeln!(
            out,
            "{bad}not applied{bad:#} {} {}: {}",
            n.key, n.target, n.problem
        )?;
    }
    for (k, source, reason, detail) in &report.held {
        writeln!(out, "{warn}held{warn:#} {k} {source}: {reason}: {detail}")?;
    }
    for (k, reason, explanation) in &report.undecided {
        writeln!(out, "{bad}not decided{bad:#} {k}: {reason}: {explanation}")?;
    }
    for (repo, blocker) in &report.repos_blocked {
        writeln!(out, "{warn}repo {repo} not written{warn:#}: {blocker}")?;
    }
    if verbose {
        for (source, read) in &report.reads {
            writeln!(out, "{dim}read {source}: {read}{dim:#}")?;
        }
        writeln!(out, "{dim}planned items: {}{dim:#}", report.planned)?;
        for (repo, gate) in gates {
            for note in &gate.notes {
                writeln!(out, "{dim}repo {repo}: {note}{dim:#}")?;
            }
        }
    }
    if let Some(planned) = planned {
        output::write_warnings(out, ws, &planned.report.warnings)?;
    }
    for (name, key) in &report.missing_in_trackers {
        writeln!(
            out,
            "{warn}not found{warn:#} {key} in {name}: the tracker has no such item"
        )?;
    }
    for (name, why, failed) in &report.trackers_not_read {
        if *failed {
            writeln!(out, "{bad}tracker {name} not read{bad:#}: {why}")?;
        } else {
            writeln!(out, "{warn}note{warn:#}: {why}")?;
        }
    }
    if report.replans > 0 {
        writeln!(
            out,
            "files or hub values changed while syncing: read and planned again ({})",
            output::count(report.replans, "time")
        )?;
    }
    writeln!(
        out,
        "{} applied, {} not applied, {} held back, {} not decided, {}",
        report.applied.len(),
        report.not_applied.len(),
        report.held.len(),
        report.undecided.len(),
        output::count(report.commits.len(), "commit")
    )
}
