//! `concord config schema | check`: the JSON Schema of `concord.toml` for
//! editors, and a check of a workspace that reads no source.

use crate::Outcome;
use crate::hub::Failure;
use crate::output::{self, BAD, GOOD, WARN, paint};
use concord_app::config_check::{ConfigCheck, config_check};
use concord_workspace::Workspace;
use std::io::Write;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Print the JSON Schema of concord.toml (draft 7), for editors such as
    /// taplo / Even Better TOML; needs no workspace.
    Schema,
    /// Validate the workspace file and find its repos, without reading any
    /// source: exit 0 ready, 1 a repo folder missing, 2 an error in the
    /// file (with its line and column).
    Check {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `config schema`: needs no workspace.
pub fn print_schema() -> Outcome {
    let mut out = output::stdout();
    let written = serde_json::to_writer_pretty(&mut out, &concord_workspace::config_schema())
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush());
    output::finish(written);
    Outcome::Clean
}

/// `config check`.
pub fn check(ws: &Workspace, json: bool) -> Result<Outcome, Failure> {
    let report = config_check(ws);
    let mut out = output::stdout();
    let written = if json {
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_text(&report, &mut out)
    };
    output::finish(written.and_then(|()| out.flush()));
    Ok(if report.problems.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

fn write_text(report: &ConfigCheck, out: &mut impl Write) -> std::io::Result<()> {
    let (good, bad, warn) = (paint(GOOD), paint(BAD), paint(WARN));
    for problem in &report.problems {
        writeln!(out, "{bad}problem{bad:#}: {problem}")?;
    }
    for note in &report.notes {
        writeln!(out, "{warn}note{warn:#}: {note}")?;
    }
    let verdict = if report.problems.is_empty() {
        format!("{good}valid{good:#}")
    } else {
        format!("{bad}not ready{bad:#}")
    };
    writeln!(
        out,
        "{}: {verdict}: {}, {}, {}, {}, {}, {}; hub {}",
        report.config,
        output::count(report.repos.len(), "repo"),
        output::count(report.workflows, "workflow"),
        output::count(report.sources, "source"),
        output::count(report.trackers, "tracker"),
        output::count(report.sync_rules, "sync rule"),
        output::count(report.mirrors, "mirror"),
        report.hub
    )
}
