//! `concord status`: each item's status in every source, side by side.
//! The use case is [`concord_app::status`]'s; this file parses the
//! arguments and renders.

use crate::Outcome;
use crate::commands::scan::push_status_words;
use crate::hub::Failure;
use crate::output::{self, BAD, DIM, GOOD, KEY, WARN, paint};
use concord_app::status::{StatusItem, StatusListed, StatusOptions, StatusRead, status_read};
use concord_workspace::Workspace;
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
    /// A tracker whose token is not set is a configuration error (exit 2)
    /// instead of a note.
    #[arg(long)]
    strict: bool,
    /// Warnings (skipped rows, unknown words) make the run exit 1; by
    /// default they are printed on standard error and change nothing.
    #[arg(long)]
    fail_on_warnings: bool,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let options = StatusOptions {
        keys: args.keys.clone(),
        hub: !args.no_hub,
        fetch: !args.no_fetch,
        strict: args.strict,
    };
    // Its readings are held to the end and its lines made and let go a
    // chunk at a time, as a sync's and a listing's are.
    crate::memory::prefer_small_pages();
    let read = status_read(ws, &options)?;
    output::not_read_to_stderr(
        read.listed()
            .sources_not_read
            .iter()
            .map(|n| (n.source.as_str(), n.why.as_str(), n.failed)),
    );
    let listed = if args.json {
        let report = read.into_report();
        let mut out = output::stdout();
        let written = serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out));
        output::finish(written.and_then(|()| out.flush()));
        let listed = StatusListed {
            missing: report.missing,
            repos: report.repos,
            warnings: report.warnings,
            sources_not_read: report.sources_not_read,
            summary: report.summary,
        };
        // The process ends next: freeing 100k items one by one is wasted work.
        std::mem::forget(report.items);
        listed
    } else {
        write_text(ws, &read);
        let listed = read.listed().clone();
        // The process ends next: freeing 200k readings one by one is wasted work.
        std::mem::forget(read);
        listed
    };
    concord_app::timings::phase("shown");
    Ok(output::warnings_to_stderr(
        ws,
        &listed.warnings,
        args.fail_on_warnings,
        listed.outcome(),
    ))
}

/// Items are made and rendered a chunk at a time on every core, and go
/// out in order as soon as those before them have: 100k lines are most of
/// a status's own work, and none is held longer than its chunk.
fn write_text(ws: &Workspace, read: &StatusRead) {
    // Written from whichever thread finished a chunk: stdout unlocked
    // (a lock may not cross threads), buffered as `output::stdout` is.
    let in_order = output::InOrder::new(std::io::BufWriter::with_capacity(
        64 * 1024,
        std::io::stdout(),
    ));
    let key_width = read.key_width();
    read.for_each_chunk(|index, items| {
        let mut buffer = Vec::with_capacity(items.len() * 96);
        let mut line = Line::new(ws, key_width);
        let written = items
            .iter()
            .try_for_each(|item| line.write(item, &mut buffer));
        in_order.put(index, written.map(|()| buffer));
    });
    let listed = read.listed();
    let written = in_order.finish().and_then(|mut out| {
        write_footer(listed, &mut out)?;
        let blocked = listed
            .repos
            .iter()
            .filter_map(|r| r.blocker.as_deref().map(|b| (r.name.as_str(), b)));
        super::diff::write_blocked(blocked, &mut out)?;
        out.flush()
    });
    output::finish(written);
}

/// The keys nothing holds, and the counts.
fn write_footer(listed: &StatusListed, out: &mut impl Write) -> std::io::Result<()> {
    let bad = paint(BAD);
    for missing in &listed.missing {
        writeln!(out, "{bad}{missing}{bad:#}: no source holds this item")?;
    }
    let summary = &listed.summary;
    let unknown = if summary.unknown > 0 {
        format!(", {} unknown", summary.unknown)
    } else {
        String::new()
    };
    writeln!(
        out,
        "{}, {} differ{unknown}, {}",
        output::count(summary.items, "item"),
        summary.disagree,
        output::count(summary.warnings, "warning")
    )
}

/// Writes an item's lines, with what every line shares made once: the
/// escapes (through the formatter they cost more per line than the rest),
/// a buffer for status words, where paths are shown from.
struct Line<'a> {
    key_width: usize,
    paths: output::PathDisplay<'a>,
    status: String,
    key: (String, String),
    dim: (String, String),
    warn: (String, String),
    differ: String,
    unknown: String,
    same: String,
}

impl<'a> Line<'a> {
    fn new(ws: &'a Workspace, key_width: usize) -> Self {
        let escapes = |style: anstyle::Style| {
            let style = paint(style);
            (style.render().to_string(), style.render_reset().to_string())
        };
        let (bad, good) = (escapes(BAD), escapes(GOOD));
        let warn = escapes(WARN);
        Line {
            key_width,
            paths: output::PathDisplay::new(ws),
            status: String::new(),
            key: escapes(KEY),
            dim: escapes(DIM),
            differ: format!("{} differ{}", bad.0, bad.1),
            unknown: format!("{}unknown{}", warn.0, warn.1),
            same: format!("{}   same{}", good.0, good.1),
            warn,
        }
    }

    fn write(&mut self, item: &StatusItem, out: &mut impl Write) -> std::io::Result<()> {
        let mark = if !item.agree {
            self.differ.as_str()
        } else if !item.unknown.is_empty() {
            self.unknown.as_str()
        } else if item.sources.len() > 1 {
            self.same.as_str()
        } else {
            "    one"
        };
        out.write_all(self.key.0.as_bytes())?;
        output::write_padded(out, &item.key, self.key_width)?;
        out.write_all(self.key.1.as_bytes())?;
        out.write_all(b"  ")?;
        out.write_all(mark.as_bytes())?;
        out.write_all(b"  ")?;
        let (dim_on, dim_off) = (self.dim.0.as_bytes(), self.dim.1.as_bytes());
        for (i, reading) in item.sources.iter().enumerate() {
            if i > 0 {
                out.write_all(b"   ")?;
            }
            self.status.clear();
            push_status_words(
                &mut self.status,
                reading.raw.as_deref(),
                reading.status.as_deref(),
            );
            out.write_all(dim_on)?;
            out.write_all(reading.source.as_bytes())?;
            out.write_all(b":")?;
            out.write_all(dim_off)?;
            out.write_all(b" ")?;
            out.write_all(self.status.as_bytes())?;
        }
        for (i, source) in item.unknown.iter().enumerate() {
            if i > 0 || !item.sources.is_empty() {
                out.write_all(b"   ")?;
            }
            out.write_all(dim_on)?;
            out.write_all(source.as_bytes())?;
            out.write_all(b":")?;
            out.write_all(dim_off)?;
            out.write_all(b" ")?;
            out.write_all(self.warn.0.as_bytes())?;
            out.write_all(b"? (not read)")?;
            out.write_all(self.warn.1.as_bytes())?;
        }
        out.write_all(b"\n")?;
        if !item.agree {
            self.write_places(item, out)?;
        }
        Ok(())
    }

    /// Where each reading of an item that differs comes from.
    fn write_places(&mut self, item: &StatusItem, out: &mut impl Write) -> std::io::Result<()> {
        let (dim, dim_off, key_width) = (&self.dim.0, &self.dim.1, self.key_width);
        for o in &item.sources {
            let place = if o.repo.is_empty() {
                format!(
                    "the hub, version {}",
                    o.hub_version.as_deref().unwrap_or("?")
                )
            } else {
                format!(
                    "{}:{}",
                    self.paths.show(&o.repo, &o.path),
                    o.status_line.unwrap_or(o.line)
                )
            };
            writeln!(
                out,
                "{:key_width$}           {dim}{}: {place}{dim_off}",
                "", o.source
            )?;
        }
        Ok(())
    }
}
