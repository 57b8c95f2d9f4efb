//! `concord hub migrate | export | import`: the flags and the messages;
//! the work is [`concord_app::hub_admin`]'s.

use crate::Outcome;
use crate::hub::Failure;
use concord_app::hub_admin;
use concord_workspace::Workspace;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Bring the hub's schema up to date (done automatically on every use).
    Migrate {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the whole hub as JSON lines (a lossless backup) to stdout or a file.
    Export {
        /// Write to this file (atomically) instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Restore an export into an empty hub, all or nothing.
    Import {
        /// The export file (JSON lines).
        file: PathBuf,
        /// Accept an export without a trailer (made before exports carried
        /// one): its completeness cannot be verified.
        #[arg(long)]
        unverified: bool,
    },
}

pub fn run(ws: &Workspace, command: &Command) -> Result<Outcome, Failure> {
    match command {
        Command::Migrate { json } => {
            let report = hub_admin::migrate(ws)?;
            if *json {
                match serde_json::to_string(&report) {
                    Ok(json) => println!("{json}"),
                    Err(e) => eprintln!("cannot print the report as JSON: {e}"),
                }
            } else {
                println!(
                    "hub {}: schema {} -> {} ({} migrations applied)",
                    report.hub, report.from, report.to, report.applied
                );
            }
        }
        Command::Export { output } => {
            let options = hub_admin::ExportOptions {
                output: output.clone(),
            };
            let report = hub_admin::export(ws, &options, &mut std::io::stdout().lock())?;
            if !crate::output::quiet() {
                eprintln!("exported {} rows from {}", report.rows, report.hub);
            }
        }
        Command::Import { file, unverified } => {
            let options = hub_admin::ImportOptions {
                file: file.clone(),
                unverified: *unverified,
            };
            let report = hub_admin::import(ws, &options)?;
            println!("imported {} rows into {}", report.rows, report.hub);
        }
    }
    Ok(Outcome::Clean)
}
