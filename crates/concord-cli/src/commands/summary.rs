//! `concord summary`: the control room in the terminal. Per repo and
//! source, items by status; how many items drift; the latest check
//! snapshot's findings by severity; the last sync with each repo's commit;
//! and the newest journal entries of every repo, time-sorted and tagged.

use crate::Outcome;
use crate::hub::{self, Failure};
use concord_store::JournalEntry;
use concord_workspace::status::compare;
use concord_workspace::{Workspace, scan};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the summary as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// How many journal entries to show.
    #[arg(long, default_value_t = 20)]
    pub(crate) events: i64,
}

#[derive(Serialize)]
struct Summary {
    sources: Vec<SourceCounts>,
    items: usize,
    drifting: usize,
    findings: Option<Findings>,
    last_sync: Option<LastRun>,
    /// The newest `concord mirror` run of any rule (not a dry run).
    last_mirror: Option<LastMirror>,
    events: Vec<Event>,
}

#[derive(Serialize)]
struct LastMirror {
    at: String,
    rule: String,
    written: u64,
    reported: u64,
    failed: u64,
    /// The commit it made (or proposed) per repo.
    commits: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct SourceCounts {
    repo: String,
    source: String,
    /// Canonical status (or the raw word when unknown) -> items.
    by_status: BTreeMap<String, usize>,
}

#[derive(Serialize)]
struct Findings {
    snapshot: i64,
    taken_at: String,
    commit: Option<String>,
    by_severity: BTreeMap<String, usize>,
}

#[derive(Serialize)]
struct LastRun {
    at: String,
    /// Each repo's HEAD when the last sync converged.
    commits: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Event {
    at: String,
    key: String,
    /// Where it happened: the journal target, or `hub`.
    source: String,
    what: String,
    actor: String,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let report = scan(ws);
    let mut sources = Vec::new();
    for scanned in &report.sources {
        let source = &ws.sources[scanned.source];
        let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
        for obs in &scanned.observations {
            let word = obs.status.as_ref().map_or("(none)".to_string(), |s| {
                s.canonical
                    .as_deref()
                    .map_or_else(|| format!("{} (unknown)", s.raw), str::to_string)
            });
            *by_status.entry(word).or_default() += 1;
        }
        sources.push(SourceCounts {
            repo: ws.repo(source).name.clone(),
            source: source.name.clone(),
            by_status,
        });
    }
    // Drift counts the hub's own values too, as `status` shows them.
    let hub_values = super::status::hub_readings(ws)?;
    let views = compare(report.observations().chain(hub_values.iter()), &[]);
    let drifting = views.iter().filter(|v| !v.agree).count();

    let repo_marks: Vec<String> = ws
        .repos
        .iter()
        .map(|r| super::sync::repo_mark(&r.name))
        .collect();
    let (snapshot, marks, hub_mark, journal, mirror_runs) = hub::with_store(ws, async |store| {
        let snapshot = store.latest_check_snapshot().await?;
        let mut marks = BTreeMap::new();
        for (repo, mark) in ws.repos.iter().zip(&repo_marks) {
            if let Some(found) = store.watermark(mark).await?
                && !found.position.is_empty()
            {
                marks.insert(repo.name.clone(), found);
            }
        }
        let hub_mark = store.watermark(super::sync::CONFIG_MARK).await?;
        let journal = store.recent_journal(args.events.max(0)).await?;
        let mirror_runs = store
            .watermarks_with_prefix(super::mirror::RUN_MARK)
            .await?;
        Ok((snapshot, marks, hub_mark, journal, mirror_runs))
    })?;
    let last_mirror = mirror_runs
        .into_iter()
        .max_by(|a, b| a.updated_at.cmp(&b.updated_at))
        .map(|mark| {
            let run: serde_json::Value = serde_json::from_str(&mark.position).unwrap_or_default();
            let count = |name: &str| run[name].as_u64().unwrap_or(0);
            LastMirror {
                rule: mark
                    .source
                    .strip_prefix(super::mirror::RUN_MARK)
                    .unwrap_or_default()
                    .to_string(),
                written: count("written"),
                reported: count("reported"),
                failed: count("failed"),
                commits: serde_json::from_value(run["commits"].clone()).unwrap_or_default(),
                at: mark.updated_at,
            }
        });
    let findings = snapshot.map(|s| {
        let mut by_severity: BTreeMap<String, usize> = BTreeMap::new();
        for line in s.findings.lines() {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(line) {
                let severity = value["severity"].as_str().unwrap_or("unknown").to_string();
                *by_severity.entry(severity).or_default() += 1;
            }
        }
        Findings {
            snapshot: s.id,
            taken_at: s.taken_at,
            commit: s.commit_id,
            by_severity,
        }
    });
    let last_sync = hub_mark
        .filter(|m| !m.position.is_empty())
        .map(|m| LastRun {
            at: m.updated_at,
            commits: marks
                .into_iter()
                // `replica commit`: the commit is what a person looks for.
                .map(|(repo, mark)| {
                    let commit = mark.position.rsplit(' ').next().unwrap_or_default();
                    (repo, commit.to_string())
                })
                .collect(),
        });
    let mut events: Vec<Event> = journal.into_iter().map(event_of).collect();
    events.sort_by(|a, b| b.at.cmp(&a.at));
    let summary = Summary {
        items: views.len(),
        sources,
        drifting,
        findings,
        last_sync,
        last_mirror,
        events,
    };
    let mut out = crate::output::stdout();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &summary)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_text(&summary, &mut out)
    };
    crate::output::finish(written.and_then(|()| out.flush()));
    Ok(Outcome::Clean)
}

fn event_of(entry: JournalEntry) -> Event {
    let what = entry.what();
    Event {
        at: entry.at,
        key: entry.key,
        source: entry.target.unwrap_or_else(|| "hub".into()),
        what,
        actor: entry.actor,
    }
}

fn write_text(summary: &Summary, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "items")?;
    for s in &summary.sources {
        let counts: Vec<String> = s
            .by_status
            .iter()
            .map(|(status, n)| format!("{status} {n}"))
            .collect();
        writeln!(out, "  {}/{}: {}", s.repo, s.source, counts.join(", "))?;
    }
    writeln!(
        out,
        "  {} items, {} drifting between sources",
        summary.items, summary.drifting
    )?;
    match &summary.findings {
        Some(f) => {
            let counts: Vec<String> = f
                .by_severity
                .iter()
                .map(|(severity, n)| format!("{n} {severity}"))
                .collect();
            writeln!(
                out,
                "findings (snapshot {} of {}{}): {}",
                f.snapshot,
                f.taken_at,
                f.commit
                    .as_deref()
                    .map_or(String::new(), |c| format!(", {}", &c[..c.len().min(10)])),
                if counts.is_empty() {
                    "none".to_string()
                } else {
                    counts.join(", ")
                }
            )?;
        }
        None => writeln!(out, "findings: no snapshot yet (concord check --snapshot)")?,
    }
    match &summary.last_sync {
        Some(sync) => {
            let commits: Vec<String> = sync
                .commits
                .iter()
                .map(|(repo, commit)| format!("{repo} {}", &commit[..commit.len().min(10)]))
                .collect();
            writeln!(out, "last sync: {} ({})", sync.at, commits.join(", "))?;
        }
        None => writeln!(out, "last sync: none yet")?,
    }
    if let Some(mirror) = &summary.last_mirror {
        let commits: Vec<String> = mirror
            .commits
            .iter()
            .map(|(repo, commit)| format!("{repo} {}", &commit[..commit.len().min(10)]))
            .collect();
        writeln!(
            out,
            "last mirror: {} (rule {}: {} written, {} reported, {} failed{}{})",
            mirror.at,
            mirror.rule,
            mirror.written,
            mirror.reported,
            mirror.failed,
            if commits.is_empty() { "" } else { "; " },
            commits.join(", ")
        )?;
    }
    writeln!(out, "recent events")?;
    for e in &summary.events {
        writeln!(
            out,
            "  {}  {}  {}  [{}] by {}",
            e.at, e.key, e.what, e.source, e.actor
        )?;
    }
    Ok(())
}
