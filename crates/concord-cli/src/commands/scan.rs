//! `concord scan`: every source's items, and what could not be read.

use crate::Outcome;
use crate::hub::Failure;
use crate::output::{self, DIM, KEY, WARN, paint};
use anstyle::Style;
use concord_model::{Observation, Warning};
use concord_workspace::{ScanReport, SourceScan, Workspace, scan};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Read only: do not record the observations in the hub.
    #[arg(long)]
    no_hub: bool,
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

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let report = scan(ws);
    let recorded = if args.no_hub {
        Ok(())
    } else {
        concord_app::plan::record(ws, "scan", &report, &HashMap::new())
    };
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
    let outcome = if report.warnings.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    };
    // The process ends next: freeing 100k observations one by one is wasted work.
    std::mem::forget(report);
    recorded.map(|()| outcome)
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
    // Sources render in parallel into their own buffers, then go out in order.
    let rendered: Vec<std::io::Result<Vec<u8>>> = report
        .sources
        .par_iter()
        .map(|s| {
            let mut buffer = Vec::with_capacity(s.observations.len() * 96);
            write_source(ws, s, &mut buffer).map(|()| buffer)
        })
        .collect();
    for buffer in rendered {
        out.write_all(&buffer?)?;
    }
    output::write_warnings(out, ws, &report.warnings)?;
    writeln!(
        out,
        "{}, {}, {}, {}",
        output::count(summary.sources, "source"),
        output::count(summary.files, "file"),
        output::count(summary.items, "item"),
        output::count(summary.warnings, "warning"),
    )
}

fn write_source(ws: &Workspace, s: &SourceScan, out: &mut impl Write) -> std::io::Result<()> {
    let (key, dim, warn, plain) = (paint(KEY), paint(DIM), paint(WARN), paint(Style::new()));
    let mut paths = output::PathDisplay::new(ws);
    let mut status = String::new();
    let source = &ws.sources[s.source];
    writeln!(
        out,
        "{key}{}{key:#} {dim}({} in repo {}, {}){dim:#}: {}, {}",
        source.name,
        source.format_name.as_str(),
        ws.repo(source).name,
        source.glob,
        output::count(s.files, "file"),
        output::count(s.observations.len(), "item"),
    )?;
    let key_width = s
        .observations
        .iter()
        .map(|o| o.key.chars().count())
        .max()
        .unwrap_or(0);
    let status_width = s
        .observations
        .iter()
        .map(|o| {
            status.clear();
            push_status_text(&mut status, o);
            status.chars().count()
        })
        .max()
        .unwrap_or(0);
    for obs in &s.observations {
        status.clear();
        push_status_text(&mut status, obs);
        let style = if obs.status.as_ref().is_some_and(|st| st.canonical.is_none()) {
            warn
        } else {
            plain
        };
        // Hand-padded: `{:width$}` formatting costs more than the scan itself on big workspaces.
        out.write_all(b"  ")?;
        output::write_padded(out, &obs.key, key_width)?;
        write!(out, "  {style}")?;
        output::write_padded(out, &status, status_width)?;
        writeln!(
            out,
            "{style:#}  {dim}{}:{}{dim:#}",
            paths.show(&obs.repo, &obs.path),
            obs.line
        )?;
    }
    Ok(())
}

/// `done`, `done (complete)` when the source says it in its own words, `? deferred` when unknown.
pub fn status_text(obs: &Observation) -> String {
    let mut text = String::new();
    push_status_text(&mut text, obs);
    text
}

fn push_status_text(text: &mut String, obs: &Observation) {
    match &obs.status {
        None => text.push('-'),
        Some(s) => match &s.canonical {
            Some(c) if **c == *s.raw => text.push_str(c),
            Some(c) => {
                text.push_str(c);
                text.push_str(" (");
                text.push_str(&s.raw);
                text.push(')');
            }
            None => {
                text.push_str("? ");
                text.push_str(&s.raw);
            }
        },
    }
}
