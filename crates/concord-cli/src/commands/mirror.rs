//! `concord mirror`: owned documents copied from their owner repo into the
//! others (`[[mirror]]` rules). The run is `concord_app::mirror`'s; this
//! file parses the arguments and prints the report.

use crate::Outcome;
use crate::hub::Failure;
use concord_app::mirror::{MirrorOptions, MirrorReport, mirror};
use concord_workspace::Workspace;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show what would be written; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Read every copy in the whole tree. Every run already does: reading
    /// whole trees is what makes a change any number of commits behind,
    /// or a never-mirrored file, impossible to miss.
    #[arg(long)]
    full: bool,
    /// Overwrite (or delete) mirrors that were edited by hand.
    #[arg(long)]
    force: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let options = MirrorOptions {
        dry_run: args.dry_run,
        force: args.force,
    };
    let report = mirror(ws, &options, &crate::output::Bars)?;
    if args.json {
        match serde_json::to_string(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("cannot print the report as JSON: {e}"),
        }
    } else {
        print_text(&report);
    }
    Ok(report.outcome())
}

fn print_text(report: &MirrorReport) {
    for written in &report.written {
        let verb = if report.dry_run {
            "would write"
        } else {
            "wrote"
        };
        println!(
            "{verb} {}:{} ({})",
            written.repo, written.path, written.reason
        );
    }
    for reported in &report.reports {
        let place = reported.repo.as_deref().map_or_else(
            || reported.path.clone(),
            |r| format!("{r}:{}", reported.path),
        );
        println!("{} {place}: {}", reported.code, reported.message);
    }
    for pull in &report.pull_requests {
        println!(
            "{} pull request #{} in {} ({}): {}",
            pull.action, pull.number, pull.github_repo, pull.branch, pull.url
        );
    }
    for problem in &report.failed {
        println!("failed: {problem}");
    }
    println!(
        "{} written, {} reported, {} failed",
        report.written.len(),
        report.reports.len(),
        report.failed.len()
    );
}
