//! `concord check`: the integrity checks, at every layer with the same
//! codes: the working tree (`--all`, the default), staged content only
//! (`--staged`, for the pre-commit hook), new findings relative to a
//! commit (`--baseline REF`, per pull request), and snapshots in the hub
//! (`--snapshot`, scheduled). Text (compiler-like, the span underlined),
//! JSON or SARIF 2.1.0. Exit 1 when a finding gates (severity `error`).
//! The checks are `concord_app::check`'s; this file parses and prints.

use crate::Outcome;
use crate::hub::Failure;
use concord_app::check::{CheckOptions, CheckReport, CheckedFile, Layer, check, history};
use concord_checks::finding::{Delta, Finding, Severity, compare};
use concord_checks::render;
use concord_workspace::Workspace;
use std::io::Write;

#[derive(Copy, Clone, Debug, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<CheckCommand>,
    /// Check every file in scope in the working tree (the default).
    #[arg(long, conflicts_with_all = ["staged", "baseline", "snapshot"])]
    all: bool,
    /// Check only staged content, read from the index (for a pre-commit hook).
    #[arg(long, conflicts_with_all = ["baseline", "snapshot"])]
    staged: bool,
    /// Fail only on gating findings that are new relative to this commit
    /// (read from git objects; the working tree is not touched).
    #[arg(long, value_name = "REF", conflicts_with = "snapshot")]
    baseline: Option<String>,
    /// Store all findings in the hub with the commit id; exit 1 when a
    /// gating finding is new since the previous snapshot. With
    /// `[checks.regressions]`, one tracker issue is opened on a regression,
    /// kept up to date and closed when the findings are gone.
    #[arg(long)]
    snapshot: bool,
    /// With `--baseline`: keep one sticky comment on pull request N (new,
    /// fixed and unchanged counts, and the new findings) and set the commit
    /// status named in `[checks.pull_request]` on its head commit. Writes
    /// only what GitHub does not show already; the token comes from the
    /// environment (GITHUB_TOKEN unless configured).
    #[arg(long, value_name = "N", requires = "baseline")]
    pull_request: Option<u64>,
    /// How to print the findings.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Print the findings as JSON (the same as `--format json`).
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// No network: citations from the citation cache only, and no tracker
    /// issue for a snapshot's regressions.
    #[arg(long, conflicts_with = "pull_request")]
    offline: bool,
    /// Do not read the hub (DRIFT then compares the files only).
    #[arg(long)]
    no_hub: bool,
    /// List every check code with its default severity and stop.
    #[arg(long)]
    list: bool,
    /// Fill the citation cache from GitHub in bulk (every issue and pull
    /// request number of each cited repository, paginated and
    /// conditional), then stop; needs the token of `[checks.citations]`.
    #[arg(long, conflicts_with_all = ["staged", "baseline", "snapshot", "list", "offline"])]
    refresh_citations: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum CheckCommand {
    /// List the stored snapshots, newest first; `--report`: findings per
    /// code over them, as a markdown table (or JSON).
    History {
        /// Print the list (or the report) as JSON.
        #[arg(long)]
        json: bool,
        /// Findings per code over the newest snapshots, oldest first, with
        /// the change: markdown for an issue or a wiki page.
        #[arg(long)]
        report: bool,
        /// How many of the newest snapshots the report covers.
        #[arg(long, value_name = "N", default_value_t = concord_app::check_trend::SNAPSHOTS_REPORTED, requires = "report")]
        last: usize,
    },
}

impl Args {
    /// A snapshot records in the hub, and so does an online run that
    /// resolves citations (their answers are shared through the hub); the
    /// rest only read it.
    pub(crate) fn records(&self, ws: &Workspace) -> bool {
        self.snapshot
            || (ws.checks.citations.is_some()
                && !self.offline
                && !self.no_hub
                && !self.refresh_citations)
    }

    fn format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    if let Some(CheckCommand::History { json, report, last }) = &args.command {
        if *report {
            return print_trend(ws, *json, *last);
        }
        return print_history(ws, *json);
    }
    if args.list {
        return print_list(ws, args.format());
    }
    if args.refresh_citations {
        let refresh = concord_app::check::refresh_citations(ws)?;
        println!(
            "citations: {} cited in {} repositories: {} exist, {} missing; {} requests ({} unchanged pages)",
            refresh.cited,
            refresh.repos,
            refresh.exists,
            refresh.missing,
            refresh.requests,
            refresh.not_modified
        );
        for (repo, why) in &refresh.failed {
            eprintln!("warning: {repo} could not be listed: {why}");
        }
        return Ok(refresh.outcome());
    }
    let options = CheckOptions {
        staged: args.staged,
        baseline: args.baseline.clone(),
        snapshot: args.snapshot,
        offline: args.offline,
        no_hub: args.no_hub,
        actor: None,
    };
    let report = check(ws, &options)?;
    print_report(args.format(), &report, &rule_infos(ws));
    let mut outcome = report.outcome();
    if let Some(number) = args.pull_request {
        let done = concord_app::check_feedback::report_pull_request(ws, &report, number)?;
        say(args.format(), &pull_request_line(&done));
    }
    if args.snapshot && ws.checks.regressions.is_some() {
        if args.offline {
            say(
                args.format(),
                "offline: the regression issue was not updated",
            );
        }
        let trackers = if args.offline {
            Vec::new()
        } else {
            concord_app::check_feedback::report_regressions(ws, &report)
        };
        for tracker in &trackers {
            match &tracker.error {
                Some(error) => {
                    eprintln!("error: {}: {error}", tracker.tracker);
                    outcome = Outcome::PartialFailure;
                }
                None => say(args.format(), &regression_line(tracker)),
            }
        }
    }
    Ok(outcome)
}

/// A line about what was done on a tracker: with the results in text,
/// else on stderr so the JSON or SARIF on stdout stays whole.
fn say(format: Format, line: &str) {
    if matches!(format, Format::Text) {
        println!("{line}");
    } else if !crate::output::quiet() {
        eprintln!("{line}");
    }
}

fn pull_request_line(done: &concord_app::check_feedback::PullRequestOutcome) -> String {
    let comment = match done.comment.as_str() {
        "none" => "no comment (nothing changed)".to_string(),
        other => format!(
            "comment {other}{}",
            done.comment_url
                .as_deref()
                .map_or(String::new(), |u| format!(" ({u})"))
        ),
    };
    let removed = match done.removed_duplicates {
        0 => String::new(),
        n => format!(", {n} duplicate comment(s) removed"),
    };
    let posted = if done.status_posted {
        "set"
    } else {
        "already set"
    };
    format!(
        "pull request {}#{}: {comment}{removed}; status `{}` {posted} to {} on {}",
        done.repo,
        done.number,
        done.status,
        done.state,
        done.sha.get(..12).unwrap_or(&done.sha)
    )
}

fn regression_line(tracker: &concord_app::check_feedback::RegressionOutcome) -> String {
    use concord_checks::feedback::IssueAction;
    let what = match tracker.action {
        IssueAction::Nothing if tracker.reference.is_none() => "no issue needed".to_string(),
        IssueAction::Nothing => "issue unchanged".to_string(),
        IssueAction::Create => "issue opened".to_string(),
        IssueAction::Update => "issue updated".to_string(),
        IssueAction::Reopen => "issue reopened".to_string(),
        IssueAction::Close => "issue closed: the regressions are gone".to_string(),
    };
    let reference = tracker
        .reference
        .as_deref()
        .map_or(String::new(), |r| format!(" ({r})"));
    format!(
        "{}: {what}{reference}; {} gating finding(s) open",
        tracker.tracker, tracker.open
    )
}

/// Each layer prints what decides it: every finding, the new ones against
/// the baseline, the regressions since the last snapshot (SARIF: every
/// finding, with the comparison as baseline states).
fn print_report(format: Format, report: &CheckReport, rules: &[render::RuleInfo]) {
    let deciding = report.deciding();
    match (&report.layer, format) {
        (Layer::Plain, _) => print(
            format,
            &report.findings,
            &report.files,
            &report.notes,
            None,
            rules,
        ),
        (Layer::Baseline { before, .. }, Format::Sarif)
        | (Layer::Snapshot { before, .. }, Format::Sarif) => {
            let delta = compare(before, &report.findings);
            print(
                format,
                &report.findings,
                &report.files,
                &report.notes,
                Some(&delta),
                rules,
            );
        }
        (_, Format::Json) => print(format, &deciding, &report.files, &report.notes, None, rules),
        (Layer::Baseline { rev, before }, Format::Text) => {
            print(format, &deciding, &report.files, &report.notes, None, rules);
            let delta = compare(before, &report.findings);
            println!(
                "against {rev}: {} new ({} gating), {} fixed, {} unchanged",
                delta.new.len(),
                delta.new_gating(),
                delta.fixed.len(),
                delta.unchanged.len()
            );
        }
        (
            Layer::Snapshot {
                id,
                previous,
                before,
            },
            Format::Text,
        ) => {
            print(format, &deciding, &report.files, &report.notes, None, rules);
            let delta = compare(before, &report.findings);
            let gating = report
                .findings
                .iter()
                .filter(|f| f.severity.gates())
                .count();
            let since = previous.as_ref().map_or_else(
                || "no earlier snapshot".to_string(),
                |p| format!("snapshot {} of {}", p.id, p.taken_at),
            );
            println!(
                "snapshot {id}: {} findings ({gating} gating); since {since}: {} regression(s), {} resolved",
                report.findings.len(),
                deciding.len(),
                delta.fixed.len()
            );
        }
    }
}

fn print(
    format: Format,
    findings: &[Finding],
    files: &[CheckedFile],
    notes: &[render::RunNote],
    baseline: Option<&Delta<'_>>,
    rules: &[render::RuleInfo],
) {
    let mut out = crate::output::stdout();
    let sources = |path: &str| {
        files
            .iter()
            .find(|f| f.path == path)
            .and_then(|f| String::from_utf8(f.bytes.clone()).ok())
    };
    let written = match format {
        Format::Text => {
            let color = crate::output::color_enabled();
            render::text(findings, &sources, color, &mut out)
                .and_then(|()| render::notes_text(notes, color, &mut out))
        }
        Format::Json => render::json_with_notes(findings, notes, &mut out),
        Format::Sarif => {
            let category = if baseline.is_some() {
                "concord/pull-request"
            } else {
                "concord/check"
            };
            render::sarif_with_notes(findings, rules, category, baseline, notes, &mut out)
        }
    };
    crate::output::finish(written.and_then(|()| out.flush()));
}

/// SARIF rules: the catalog's, then the team rules' (from the config).
fn rule_infos(ws: &Workspace) -> Vec<render::RuleInfo> {
    concord_app::check::list(ws)
        .checks
        .into_iter()
        .map(|c| render::RuleInfo {
            default_severity: c.severity.parse().unwrap_or(Severity::Error),
            id: c.code,
            short: c.what,
            full: c.why,
            help: c.fix,
        })
        .collect()
}

/// `--list`: every check code with its default severity.
fn print_list(ws: &Workspace, format: Format) -> Result<Outcome, Failure> {
    let mut out = crate::output::stdout();
    let list = concord_app::check::list_with_promotion(ws)?;
    let written = if matches!(format, Format::Json) {
        serde_json::to_writer_pretty(&mut out, &list)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        list.checks.iter().try_for_each(|info| {
            writeln!(out, "{:<28} {:<9} {}", info.code, info.severity, info.what)?;
            match &info.promotion {
                Some(why) => writeln!(out, "{:<28} {:<9} promotion: {why}", "", ""),
                None => Ok(()),
            }
        })
    };
    crate::output::finish(written.and_then(|()| out.flush()));
    Ok(Outcome::Clean)
}

fn print_trend(ws: &Workspace, json: bool, last: usize) -> Result<Outcome, Failure> {
    let report = concord_app::check_trend::trend(ws, last)?;
    let mut out = crate::output::stdout();
    let written = if json {
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        out.write_all(concord_app::check_trend::markdown(&report).as_bytes())
    };
    crate::output::finish(written.and_then(|()| out.flush()));
    Ok(Outcome::Clean)
}

fn print_history(ws: &Workspace, json: bool) -> Result<Outcome, Failure> {
    let snapshots = history(ws)?;
    let mut out = crate::output::stdout();
    let written = if json {
        serde_json::to_writer_pretty(&mut out, &snapshots)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        (|| {
            for s in &snapshots.snapshots {
                writeln!(
                    out,
                    "{:>5}  {}  {}  {} findings, {} gating  by {}",
                    s.id,
                    s.taken_at,
                    s.commit_id
                        .as_deref()
                        .map_or("(no commit)", |c| &c[..c.len().min(10)]),
                    s.total,
                    s.gating,
                    s.actor
                )?;
            }
            if snapshots.snapshots.is_empty() {
                writeln!(out, "no snapshots yet: run `concord check --snapshot`")?;
            }
            Ok(())
        })()
    };
    crate::output::finish(written.and_then(|()| out.flush()));
    Ok(Outcome::Clean)
}
