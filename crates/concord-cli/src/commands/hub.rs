//! `concord hub migrate | export | import`.

use crate::Outcome;
use crate::hub::{self, Failure};
use concord_store::Store;
use concord_workspace::Workspace;
use std::io::Write;
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
    hub::block_on(async {
        match command {
            Command::Migrate { json } => {
                let store = Store::connect(&ws.hub.url, &ws.root).await?;
                let before = store.schema_version().await?;
                let applied = store.migrate().await;
                let after = store.schema_version().await;
                store.close().await;
                let (applied, after) = (applied?, after?);
                if *json {
                    println!(
                        "{}",
                        serde_json::json!({"hub": store.url(), "from": before, "to": after, "applied": applied})
                    );
                } else {
                    println!(
                        "hub {}: schema {before} -> {after} ({applied} migrations applied)",
                        store.url()
                    );
                }
                Ok(Outcome::Clean)
            }
            Command::Export { output } => {
                let store = hub::open(ws).await?;
                let result = export(&store, output.as_deref()).await;
                store.close().await;
                let rows = result?;
                eprintln!("exported {rows} rows from {}", store.url());
                Ok(Outcome::Clean)
            }
            Command::Import { file, unverified } => {
                let reader = std::fs::File::open(file).map_err(|e| {
                    Failure::usage(format!("cannot read {}: {e}", file.display()), None)
                })?;
                let store = hub::open(ws).await?;
                let options = concord_store::ImportOptions {
                    unverified: *unverified,
                };
                let result = store
                    .import_with(std::io::BufReader::new(reader), options)
                    .await;
                store.close().await;
                let summary = result?;
                println!("imported {} rows into {}", summary.rows, store.url());
                Ok(Outcome::Clean)
            }
        }
    })?
}

async fn export(store: &Store, output: Option<&std::path::Path>) -> Result<usize, Failure> {
    let io_failure = |e: std::io::Error| Failure {
        message: format!("cannot write the export: {e}"),
        help: None,
        outcome: Outcome::PartialFailure,
    };
    match output {
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let summary = store.export(&mut out).await?;
            out.flush().map_err(io_failure)?;
            Ok(summary.rows)
        }
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(io_failure)?;
            let summary = {
                let mut out = std::io::BufWriter::new(temp.as_file_mut());
                let summary = store.export(&mut out).await?;
                out.flush().map_err(io_failure)?;
                summary
            };
            temp.persist(path).map_err(|e| io_failure(e.error))?;
            Ok(summary.rows)
        }
    }
}
