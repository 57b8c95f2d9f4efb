//! `concord scan`: every source's items, and what could not be read.

use crate::Outcome;
use crate::output::{self, DIM, KEY, WARN};
use concord_model::{Observation, Warning};
use concord_workspace::{ScanReport, Workspace, scan};
use serde::Serialize;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    sources: Vec<JsonSource<'a>>,
    warnings: &'a [Warning],
    summary: Summary,
}

#[derive(Serialize)]
struct JsonSource<'a> {
    name: &'a str,
    repo: &'a str,
    format: &'a str,
    glob: &'a str,
    workflow: &'a str,
    files: usize,
    items: &'a [Observation],
}

#[derive(Serialize)]
struct Summary {
    sources: usize,
    files: usize,
    items: usize,
    warnings: usize,
}

pub fn run(ws: &Workspace, args: &Args) -> Outcome {
    let report = scan(ws);
    let summary = Summary {
        sources: report.sources.len(),
        files: report.sources.iter().map(|s| s.files).sum(),
        items: report.sources.iter().map(|s| s.observations.len()).sum(),
        warnings: report.warnings.len(),
    };
    let mut out = output::stdout();
    let written = if args.json {
        write_json(ws, &report, summary, &mut out)
    } else {
        write_text(ws, &report, &summary, &mut out)
    };
    output::finish(written.and_then(|()| out.flush()));
    if report.warnings.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    }
}

fn write_json(
    ws: &Workspace,
    report: &ScanReport,
    summary: Summary,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let json = JsonReport {
        sources: report
            .sources
            .iter()
            .map(|s| {
                let source = &ws.sources[s.source];
                JsonSource {
                    name: &source.name,
                    repo: &ws.repo(source).name,
                    format: source.format_name.as_str(),
                    glob: &source.glob,
                    workflow: ws.workflow(source).name(),
                    files: s.files,
                    items: &s.observations,
                }
            })
            .collect(),
        warnings: &report.warnings,
        summary,
    };
    serde_json::to_writer_pretty(&mut *out, &json)?;
    writeln!(out)
}

fn write_text(
    ws: &Workspace,
    report: &ScanReport,
    summary: &Summary,
    out: &mut impl Write,
) -> std::io::Result<()> {
    for s in &report.sources {
        let source = &ws.sources[s.source];
        writeln!(
            out,
            "{KEY}{}{KEY:#} {DIM}({} in repo {}, {}){DIM:#}: {} files, {} items",
            source.name,
            source.format_name.as_str(),
            ws.repo(source).name,
            source.glob,
            s.files,
            s.observations.len()
        )?;
        let key_width = s
            .observations
            .iter()
            .map(|o| o.key.len())
            .max()
            .unwrap_or(0);
        let status_width = s
            .observations
            .iter()
            .map(|o| status_text(o).len())
            .max()
            .unwrap_or(0);
        for obs in &s.observations {
            let status = status_text(obs);
            let style = if obs.status.as_ref().is_some_and(|st| st.canonical.is_none()) {
                WARN
            } else {
                anstyle::Style::new()
            };
            writeln!(
                out,
                "  {:key_width$}  {style}{status:status_width$}{style:#}  {DIM}{}:{}{DIM:#}",
                obs.key,
                output::display_path(ws, &obs.repo, &obs.path),
                obs.line
            )?;
        }
    }
    output::write_warnings(out, ws, &report.warnings)?;
    writeln!(
        out,
        "{} sources, {} files, {} items, {} warnings",
        summary.sources, summary.files, summary.items, summary.warnings
    )
}

/// `done`, `done (complete)` when the source says it in its own words, `? deferred` when unknown.
pub fn status_text(obs: &Observation) -> String {
    match &obs.status {
        None => "-".to_string(),
        Some(s) => match &s.canonical {
            Some(c) if *c == s.raw => c.clone(),
            Some(c) => format!("{c} ({})", s.raw),
            None => format!("? {}", s.raw),
        },
    }
}
