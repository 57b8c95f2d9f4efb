//! `concord ship`: run a release train across repos. The use cases are
//! `concord_app::ship`'s; this file parses the arguments, prints what the
//! train does as it runs, and renders the reports.

use crate::Outcome;
use crate::hub::Failure;
use concord_app::ship::{self, Ended, PlanReport, ShipEvents, ShipOptions, StatusReport};
use concord_ship::plan::Decision;
use concord_workspace::Workspace;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The train's configuration (default: release.toml beside concord.toml).
    #[arg(long, value_name = "PATH", global = true)]
    release: Option<PathBuf>,
    /// The train's name (several trains may share one hub).
    #[arg(long, default_value = "release", global = true)]
    name: String,
    #[command(subcommand)]
    command: ShipCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum ShipCommand {
    /// Freeze the train: each repo's release commit and each library's version.
    Prepare,
    /// Print the ordered steps and what each probe says now; change nothing.
    Plan {
        #[arg(long)]
        json: bool,
    },
    /// Check everything, show the steps and ask once, then run the train;
    /// stop at the first failure.
    Run {
        /// Do not ask (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
        /// A library version already live that this train did not publish
        /// is this release (you checked its content): do not stop for it.
        /// Journaled with your name.
        #[arg(long, value_name = "REPO@VERSION")]
        accept_live: Vec<String>,
    },
    /// Continue a stopped train (asking once, like run): what was done is
    /// not done again.
    Resume {
        /// Do not ask (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
        /// As for run.
        #[arg(long, value_name = "REPO@VERSION")]
        accept_live: Vec<String>,
    },
    /// Show the train and its steps.
    Status {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let accept_live = match &args.command {
        ShipCommand::Run { accept_live, .. } | ShipCommand::Resume { accept_live, .. } => {
            accept_live.clone()
        }
        _ => Vec::new(),
    };
    let options = ShipOptions {
        release: args.release.clone(),
        name: args.name.clone(),
        accept_live,
    };
    match &args.command {
        ShipCommand::Prepare => {
            let report = ship::prepare(ws, &options)?;
            println!("train {} #{} frozen:", report.name, report.id);
            for (repo, f) in &report.frozen {
                match &f.version {
                    Some(v) => println!("  {repo}  {}  version {v}", ship::short(&f.commit)),
                    None => println!("  {repo}  {}", ship::short(&f.commit)),
                }
            }
        }
        ShipCommand::Plan { json } => {
            let report = ship::plan(ws, &options)?;
            if *json {
                print_json(&report);
            } else {
                print_plan(&report);
            }
        }
        ShipCommand::Run { yes, .. } | ShipCommand::Resume { yes, .. } => {
            let ask = |steps: &[String]| confirmed(steps);
            let confirm: Option<ship::ShipConfirm<'_>> = if *yes {
                None
            } else if std::io::stdin().is_terminal() {
                Some(&ask)
            } else {
                return Err(Failure::usage(
                    "a release train asks before it ships, and standard input is not a terminal",
                    Some("run it at a terminal to see the steps and answer, or pass --yes".into()),
                ));
            };
            let report = ship::run(ws, &options, &Printed, confirm)?;
            let (name, id) = (&report.name, report.id);
            match &report.ended {
                Ended::AlreadyShipped => println!("train {name} #{id} is shipped: nothing to do"),
                Ended::Declined => println!("train {name} #{id}: not shipped; nothing was moved"),
                Ended::Refused { reasons } => {
                    println!("preflight refused: nothing was moved");
                    for reason in reasons {
                        println!("  - {reason}");
                    }
                }
                Ended::Stopped { report } => println!("{report}"),
                Ended::Shipped => println!("train {name} #{id} shipped"),
            }
            return Ok(report.outcome());
        }
        ShipCommand::Status { json } => {
            let report = ship::status(ws, &options)?;
            if *json {
                print_json(&report);
            } else {
                print_status(&report);
            }
        }
    }
    Ok(Outcome::Clean)
}

/// The steps still to do, and one question for the whole train.
fn confirmed(steps: &[String]) -> Result<bool, Failure> {
    println!("preflight passed; the train will now:");
    for step in steps {
        println!("  {step}");
    }
    print!(
        "ship these {}? [y/N] ",
        concord_app::count(steps.len(), "step")
    );
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Failure::usage(format!("cannot read the answer: {e}"), None))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// A running train, told on stdout as it goes.
struct Printed;

impl ShipEvents for Printed {
    fn skipped(&self, step: &str, why: &str) {
        println!("{step}: skipped ({why})");
    }
    fn running(&self, step: &str) {
        println!("{step}: running");
    }
    fn output(&self, repo: &str, line: &str) {
        println!("[{repo}] {line}");
    }
    fn retrying(&self, repo: &str, attempt: u32, delay: Duration) {
        println!("[{repo}] lock refresh failed (attempt {attempt}); retrying in {delay:?}");
    }
}

fn print_json(report: &impl serde::Serialize) {
    match serde_json::to_string(report) {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("cannot print the report as JSON: {e}"),
    }
}

fn print_plan(report: &PlanReport) {
    for planned in &report.steps {
        let said = match &planned.decision {
            Decision::Run => "to do".to_string(),
            Decision::Skip(why) => format!("skip: {why}"),
            Decision::Abort(why) => format!("would stop: {why}"),
        };
        println!("{:<40} {said}", planned.step);
    }
}

fn print_status(report: &StatusReport) {
    println!("train {} #{}: {}", report.name, report.id, report.status);
    for s in &report.steps {
        println!("  {:>3}  {:<8} {}", s.seq, s.outcome, s.step);
    }
    for (repo, frozen) in &report.frozen {
        if frozen.notes.is_empty() {
            continue;
        }
        match &frozen.notes_since {
            Some(tag) => println!("release notes of {repo} (since {tag}):"),
            None => println!("release notes of {repo}:"),
        }
        for group in &frozen.notes {
            println!("  {}:", group.heading);
            for line in &group.lines {
                println!("    - {line}");
            }
        }
    }
}
