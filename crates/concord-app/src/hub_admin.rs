//! Hub maintenance: `hub migrate`, `hub export` and `hub import`. (Opening
//! the hub for the other use cases is [`crate::hub`]'s.)

use crate::Outcome;
use crate::hub::{self, Failure};
use concord_store::Store;
use concord_workspace::Workspace;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The shape of the reports of this module; it changes when a field
/// changes meaning.
pub const VERSION: u32 = 1;

/// What `hub migrate` did. Fields after `version` are in the order
/// `concord hub migrate --json` has always printed them.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MigrateReport {
    /// [`VERSION`].
    pub version: u32,
    /// Migrations applied by this run.
    pub applied: usize,
    /// The schema version before.
    pub from: i64,
    /// The hub's URL, credentials redacted.
    pub hub: String,
    /// The schema version after.
    pub to: i64,
}

/// Where `hub export` writes.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// This file (replaced atomically); `None`: the writer the caller gives.
    pub output: Option<PathBuf>,
}

/// What `hub export` wrote.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExportReport {
    /// [`VERSION`].
    pub version: u32,
    pub hub: String,
    pub rows: usize,
}

/// What `hub import` reads.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The export file (JSON lines).
    pub file: PathBuf,
    /// Accept an export without a trailer: its completeness cannot be verified.
    pub unverified: bool,
}

/// What `hub import` restored.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImportReport {
    /// [`VERSION`].
    pub version: u32,
    pub hub: String,
    pub rows: usize,
}

/// Bring the hub's schema up to date (every other use does it too).
pub fn migrate(ws: &Workspace) -> Result<MigrateReport, Failure> {
    hub::block_on(async {
        let store = Store::connect(&ws.hub.url, &ws.root).await?;
        let before = store.schema_version().await?;
        let applied = store.migrate().await;
        let after = store.schema_version().await;
        store.close().await;
        let (applied, after) = (applied?, after?);
        Ok::<_, Failure>(MigrateReport {
            version: VERSION,
            applied,
            from: before,
            hub: store.url().to_string(),
            to: after,
        })
    })?
}

/// Write the whole hub as JSON lines (a lossless backup): to
/// `options.output` when set, else to `out`.
pub fn export(
    ws: &Workspace,
    options: &ExportOptions,
    out: &mut impl Write,
) -> Result<ExportReport, Failure> {
    hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = match options.output.as_deref() {
            None => export_to(&store, out).await,
            Some(path) => export_file(&store, path).await,
        };
        store.close().await;
        Ok::<_, Failure>(ExportReport {
            version: VERSION,
            hub: store.url().to_string(),
            rows: result?,
        })
    })?
}

/// Restore an export into an empty hub, all or nothing.
pub fn import(ws: &Workspace, options: &ImportOptions) -> Result<ImportReport, Failure> {
    let file = &options.file;
    let reader = std::fs::File::open(file)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display()), None))?;
    hub::block_on(async {
        let store = hub::open(ws).await?;
        let store_options = concord_store::ImportOptions {
            unverified: options.unverified,
        };
        let result = store
            .import_with(std::io::BufReader::new(reader), store_options)
            .await;
        store.close().await;
        Ok::<_, Failure>(ImportReport {
            version: VERSION,
            hub: store.url().to_string(),
            rows: result?.rows,
        })
    })?
}

fn io_failure(e: std::io::Error) -> Failure {
    Failure {
        message: format!("cannot write the export: {e}"),
        help: None,
        outcome: Outcome::PartialFailure,
    }
}

async fn export_to(store: &Store, out: &mut impl Write) -> Result<usize, Failure> {
    let mut buffered = std::io::BufWriter::new(out);
    let summary = store.export(&mut buffered).await?;
    buffered.flush().map_err(io_failure)?;
    Ok(summary.rows)
}

/// The export into a temporary file beside `path`, renamed over it once whole.
async fn export_file(store: &Store, path: &Path) -> Result<usize, Failure> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(io_failure)?;
    let rows = export_to(store, temp.as_file_mut()).await?;
    temp.persist(path).map_err(|e| io_failure(e.error))?;
    Ok(rows)
}
