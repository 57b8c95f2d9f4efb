//! `concord scan`: every source's items, and what could not be read. The
//! scan is [`concord_app::scan`]'s; this file parses the flags and renders.

use crate::Outcome;
use crate::hub::Failure;
use crate::output::{self, DIM, KEY, WARN, paint};
use anstyle::Style;
use concord_app::scan::{ScanOptions, ScanReport, ScanSummary, ScannedSource, scan, scan_each};
use concord_model::{Observation, Warning};
use concord_workspace::Workspace;
use rayon::prelude::*;
use std::io::Write;
use std::sync::Arc;

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
    if args.no_hub && !args.json {
        return Ok(list(ws));
    }
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

/// `concord scan --no-hub`: each source is shown once it and every source
/// before it are read, and let go; the listing never holds the workspace,
/// and the memory one source held is reused for the next.
fn list(ws: &Workspace) -> Outcome {
    crate::memory::prefer_small_pages();
    // Written from whichever thread finished a source: stdout unlocked
    // (a lock may not cross threads), buffered as `output::stdout` is.
    let in_order = output::InOrder::new(std::io::BufWriter::with_capacity(
        64 * 1024,
        std::io::stdout(),
    ));
    let listed = scan_each(ws, |index, source| {
        // About a line's worth per item, so the buffer rarely grows.
        let mut buffer = Vec::with_capacity(source.items.len() * 96 + 256);
        let written = write_source(ws, &source, &mut buffer);
        drop(source);
        in_order.put(index, written.map(|()| buffer));
    });
    let written = in_order.finish().and_then(|mut out| {
        write_footer(ws, &listed.warnings, &listed.summary, &mut out)?;
        out.flush()
    });
    output::finish(written);
    listed.outcome()
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
    write_footer(ws, &report.warnings, &report.summary, out)
}

/// The warnings, then the counts.
fn write_footer(
    ws: &Workspace,
    warnings: &[Warning],
    summary: &ScanSummary,
    out: &mut impl Write,
) -> std::io::Result<()> {
    output::write_warnings(out, ws, warnings)?;
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
    let end = format!("{dim_off}\n");
    let mut line_number = itoa::Buffer::new();
    // What follows the status up to the line number, made once per file
    // (its items come together and share one path): the status's reset,
    // then the path as shown, for a known status and an unknown one.
    let mut file: Option<(&Arc<str>, &Arc<str>)> = None;
    let (mut known_tail, mut unknown_tail) = (String::new(), String::new());
    for obs in &s.items {
        let same_file = file.is_some_and(|(repo, path)| {
            Arc::ptr_eq(repo, &obs.repo) && Arc::ptr_eq(path, &obs.path)
        });
        if !same_file {
            let shown = paths.show(&obs.repo, &obs.path);
            known_tail = format!("{plain_off}  {dim_on}{shown}:");
            unknown_tail = format!("{warn_off}  {dim_on}{shown}:");
            file = Some((&obs.repo, &obs.path));
        }
        status.clear();
        push_status_text(&mut status, obs);
        let (on, tail) = if obs.status.as_ref().is_some_and(|st| st.canonical.is_none()) {
            (&warn_on, &unknown_tail)
        } else {
            (&plain_on, &known_tail)
        };
        // Hand-padded: `{:width$}` formatting costs more than the scan itself on big workspaces.
        out.write_all(b"  ")?;
        output::write_padded(out, &obs.key, key_width)?;
        out.write_all(b"  ")?;
        out.write_all(on.as_bytes())?;
        output::write_padded(out, &status, status_width)?;
        out.write_all(tail.as_bytes())?;
        out.write_all(line_number.format(obs.line).as_bytes())?;
        out.write_all(end.as_bytes())?;
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
