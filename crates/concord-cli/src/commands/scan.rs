//! `concord scan`: every source's items, and what could not be read. The
//! scan is [`concord_app::scan`]'s; this file parses the flags and renders.

use crate::Outcome;
use crate::hub::Failure;
use crate::output::{self, DIM, KEY, WARN, paint};
use anstyle::Style;
use concord_app::scan::{ScanOptions, ScanReport, ScannedSource, scan};
use concord_model::Observation;
use concord_workspace::Workspace;
use rayon::prelude::*;
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

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let options = ScanOptions {
        record: !args.no_hub,
    };
    let scanned = scan(ws, &options);
    let mut out = output::stdout();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &scanned.report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_text(ws, &scanned.report, &mut out)
    };
    output::finish(written.and_then(|()| out.flush()));
    let outcome = scanned.report.outcome();
    // The process ends next: freeing 100k observations one by one is wasted work.
    std::mem::forget(scanned.report);
    scanned.not_recorded.map_or(Ok(outcome), Err)
}

fn write_text(ws: &Workspace, report: &ScanReport, out: &mut impl Write) -> std::io::Result<()> {
    // Sources render in parallel into buffers a few at a time, then go out
    // in order; the buffers are reused, so a large listing is not held
    // (nor its fresh pages paid for) all at once.
    let wave = rayon::current_num_threads() * 2;
    let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); wave];
    for sources in report.sources.chunks(wave) {
        let rendered: Vec<std::io::Result<()>> = sources
            .par_iter()
            .zip(buffers.par_iter_mut())
            .map(|(s, buffer)| {
                buffer.clear();
                write_source(ws, s, buffer)
            })
            .collect();
        for (written, buffer) in rendered.into_iter().zip(&buffers) {
            written?;
            out.write_all(buffer)?;
        }
    }
    output::write_warnings(out, ws, &report.warnings)?;
    let summary = &report.summary;
    writeln!(
        out,
        "{}, {}, {}, {}",
        output::count(summary.sources, "source"),
        output::count(summary.files, "file"),
        output::count(summary.items, "item"),
        output::count(summary.warnings, "warning"),
    )
}

fn write_source(ws: &Workspace, s: &ScannedSource, out: &mut impl Write) -> std::io::Result<()> {
    let (key, dim, warn, plain) = (paint(KEY), paint(DIM), paint(WARN), paint(Style::new()));
    let mut paths = output::PathDisplay::new(ws);
    let mut status = String::new();
    writeln!(
        out,
        "{key}{}{key:#} {dim}({} in repo {}, {}){dim:#}: {}, {}",
        s.name,
        s.format,
        s.repo,
        s.glob,
        output::count(s.files, "file"),
        output::count(s.items.len(), "item"),
    )?;
    let key_width = s
        .items
        .iter()
        .map(|o| o.key.chars().count())
        .max()
        .unwrap_or(0);
    let status_width = s
        .items
        .iter()
        .map(|o| {
            status.clear();
            push_status_text(&mut status, o);
            status.chars().count()
        })
        .max()
        .unwrap_or(0);
    // Escapes rendered once: `{style}` through the formatter costs more per
    // line than everything else a line needs.
    let escapes = |style: Style| (style.render().to_string(), style.render_reset().to_string());
    let (warn_on, warn_off) = escapes(warn);
    let (plain_on, plain_off) = escapes(plain);
    let (dim_on, dim_off) = escapes(dim);
    let mut line_number = itoa::Buffer::new();
    for obs in &s.items {
        status.clear();
        push_status_text(&mut status, obs);
        let (on, off) = if obs.status.as_ref().is_some_and(|st| st.canonical.is_none()) {
            (&warn_on, &warn_off)
        } else {
            (&plain_on, &plain_off)
        };
        // Hand-padded: `{:width$}` formatting costs more than the scan itself on big workspaces.
        out.write_all(b"  ")?;
        output::write_padded(out, &obs.key, key_width)?;
        out.write_all(b"  ")?;
        out.write_all(on.as_bytes())?;
        output::write_padded(out, &status, status_width)?;
        out.write_all(off.as_bytes())?;
        out.write_all(b"  ")?;
        out.write_all(dim_on.as_bytes())?;
        out.write_all(paths.show(&obs.repo, &obs.path).as_bytes())?;
        out.write_all(b":")?;
        out.write_all(line_number.format(obs.line).as_bytes())?;
        out.write_all(dim_off.as_bytes())?;
        out.write_all(b"\n")?;
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
    let status = obs.status.as_ref();
    push_status_words(
        text,
        status.map(|s| s.raw.as_str()),
        status.and_then(|s| s.canonical.as_deref()),
    );
}

/// [`status_text`] of a reading given as the source's word and its
/// canonical status.
pub fn push_status_words(text: &mut String, raw: Option<&str>, canonical: Option<&str>) {
    match raw {
        None => text.push('-'),
        Some(raw) => match canonical {
            Some(c) if c == raw => text.push_str(c),
            Some(c) => {
                text.push_str(c);
                text.push_str(" (");
                text.push_str(raw);
                text.push(')');
            }
            None => {
                text.push_str("? ");
                text.push_str(raw);
            }
        },
    }
}
