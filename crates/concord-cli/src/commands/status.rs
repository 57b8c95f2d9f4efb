//! `concord status`: each item's status in every source, side by side.

use crate::Outcome;
use crate::commands::scan::status_text;
use crate::hub::{self, Failure};
use crate::output::{self, BAD, DIM, GOOD, KEY, paint};
use concord_model::Observation;
use concord_model::Warning;
use concord_workspace::status::{ItemView, compare};
use concord_workspace::{Workspace, scan};
use serde::Serialize;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only these items (all when none is given).
    keys: Vec<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Files only: read neither the hub's values nor trackers, record nothing.
    #[arg(long)]
    no_hub: bool,
    /// Do not fetch: judge staleness against the last fetch.
    #[arg(long)]
    no_fetch: bool,
}

/// One repo as this checkout sees it.
#[derive(Serialize)]
struct JsonRepo<'a> {
    name: &'a str,
    /// This checkout's replica id (git work trees only).
    replica: Option<&'a str>,
    head: Option<&'a str>,
    /// Why sync would not write it now (a reason code such as
    /// `STALE_REPO`): its values are not edits until that is resolved.
    blocked: Option<&'static str>,
    /// What blocks it, with the command that fixes it.
    blocker: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    items: Vec<JsonItem<'a>>,
    missing: Vec<&'a str>,
    repos: Vec<JsonRepo<'a>>,
    warnings: &'a [Warning],
    summary: Summary,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    key: &'a str,
    agree: bool,
    sources: Vec<JsonReading<'a>>,
}

#[derive(Serialize)]
struct JsonReading<'a> {
    source: &'a str,
    status: Option<&'a str>,
    raw: Option<&'a str>,
    repo: &'a str,
    path: &'a str,
    line: u32,
}

#[derive(Serialize)]
struct Summary {
    items: usize,
    disagree: usize,
    missing: usize,
    warnings: usize,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let gates = crate::gates::gate_repos(
        ws,
        crate::gates::GateOptions {
            fetch: !args.no_fetch,
            pull: false,
            fetch_timeout: crate::gates::CHECK_FETCH_TIMEOUT,
            all_repos: true,
        },
    );
    let repos: Vec<JsonRepo> = gates
        .iter()
        .map(|(name, g)| JsonRepo {
            name,
            replica: g.replica.as_deref(),
            head: g.head_at_read.as_deref(),
            blocked: g.blocked.map(|r| r.as_str()),
            blocker: g.blocker.as_deref(),
        })
        .collect();
    let report = scan(ws);
    let hub_readings = if args.no_hub {
        Vec::new()
    } else {
        concord_app::plan::record(ws, "status", &report, &Default::default())?;
        hub_readings(ws)?
    };
    // Trackers are read live: status shows what they hold now.
    let trackers = if args.no_hub || ws.trackers.is_empty() {
        Vec::new()
    } else {
        let wanted = report
            .observations()
            .chain(hub_readings.iter())
            .map(|o| o.key.clone())
            .collect();
        crate::trackers::read_all(ws, &wanted, false)?
    };
    for unread in trackers.iter().filter_map(|t| t.unread.as_ref()) {
        eprintln!("note: {}", unread.message);
    }
    let items = compare(
        report
            .observations()
            .chain(hub_readings.iter())
            .chain(trackers.iter().flat_map(|t| t.observations.iter())),
        &args.keys,
    );
    let missing: Vec<&str> = args
        .keys
        .iter()
        .filter(|k| !items.iter().any(|i| i.key == k.as_str()))
        .map(String::as_str)
        .collect();
    let summary = Summary {
        items: items.len(),
        disagree: items.iter().filter(|i| !i.agree).count(),
        missing: missing.len(),
        warnings: report.warnings.len(),
    };
    let mut out = output::stdout();
    let written = if args.json {
        write_json(
            &items,
            &missing,
            repos,
            &report.warnings,
            &summary,
            &mut out,
        )
    } else {
        write_text(ws, &items, &missing, &report.warnings, &summary, &mut out)
            .and_then(|()| super::diff::write_blocked(&gates, &mut out))
    };
    output::finish(written.and_then(|()| out.flush()));
    Ok(
        if summary.disagree + summary.missing + summary.warnings == 0 {
            Outcome::Clean
        } else {
            Outcome::Findings
        },
    )
}

/// The hub's own status values, as readings of a source named `hub`.
pub(crate) fn hub_readings(ws: &Workspace) -> Result<Vec<Observation>, Failure> {
    let values = hub::with_store(ws, async |store| store.hub_values().await)?;
    Ok(concord_app::summary::hub_readings(values))
}

fn write_json(
    items: &[ItemView<'_>],
    missing: &[&str],
    repos: Vec<JsonRepo<'_>>,
    warnings: &[Warning],
    summary: &Summary,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let json = JsonReport {
        repos,
        items: items
            .iter()
            .map(|item| JsonItem {
                key: item.key,
                agree: item.agree,
                sources: item
                    .readings
                    .iter()
                    .map(|o| JsonReading {
                        source: &o.source,
                        status: o.status.as_ref().and_then(|s| s.canonical.as_deref()),
                        raw: o.status.as_ref().map(|s| s.raw.as_str()),
                        repo: &o.repo,
                        path: &o.path,
                        line: o.line,
                    })
                    .collect(),
            })
            .collect(),
        missing: missing.to_vec(),
        warnings,
        summary: Summary {
            items: summary.items,
            disagree: summary.disagree,
            missing: summary.missing,
            warnings: summary.warnings,
        },
    };
    serde_json::to_writer_pretty(&mut *out, &json)?;
    writeln!(out)
}

fn write_text(
    ws: &Workspace,
    items: &[ItemView<'_>],
    missing: &[&str],
    warnings: &[Warning],
    summary: &Summary,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let (key, dim, good, bad) = (paint(KEY), paint(DIM), paint(GOOD), paint(BAD));
    let mut paths = output::PathDisplay::new(ws);
    let key_width = items.iter().map(|i| i.key.len()).max().unwrap_or(0);
    for item in items {
        let mark = if !item.agree {
            format!("{bad}differ{bad:#}")
        } else if item.readings.len() > 1 {
            format!("{good}  same{good:#}")
        } else {
            "   one".to_string()
        };
        let readings: Vec<String> = item
            .readings
            .iter()
            .map(|o| format!("{dim}{}:{dim:#} {}", o.source, status_text(o)))
            .collect();
        writeln!(
            out,
            "{key}{:key_width$}{key:#}  {mark}  {}",
            item.key,
            readings.join("   ")
        )?;
        if !item.agree {
            for o in &item.readings {
                let place = if o.repo.is_empty() {
                    let version = o.fields.iter().find(|(name, _)| name == "version");
                    format!(
                        "the hub, version {}",
                        version.map_or("?", |(_, v)| v.as_str())
                    )
                } else {
                    format!(
                        "{}:{}",
                        paths.show(&o.repo, &o.path),
                        o.status.as_ref().map_or(o.line, |s| s.line)
                    )
                };
                writeln!(
                    out,
                    "{:key_width$}          {dim}{}: {place}{dim:#}",
                    "", o.source
                )?;
            }
        }
    }
    for missing in missing {
        writeln!(out, "{bad}{missing}{bad:#}: no source holds this item")?;
    }
    output::write_warnings(out, ws, warnings)?;
    writeln!(
        out,
        "{}, {} differ, {}",
        output::count(summary.items, "item"),
        summary.disagree,
        output::count(summary.warnings, "warning")
    )
}
