//! A concord workspace: the `concord.toml` file (repos, workflows, sources,
//! hub) validated into ready-to-use parts, and the scan that reads every
//! source into observations.
#![forbid(unsafe_code)]
// Config errors carry their source text for diagnostics; they are built once, on the cold path.
#![allow(clippy::result_large_err)]

pub mod checks_config;
mod config;
pub mod feedback_config;
pub mod mirror_config;
mod scan;
pub mod status;
mod sync_input;
mod sync_rules;
mod team_rules;
pub mod trackers;
mod writeback;

pub use config::{
    CONFIG_FILE_NAME, ConfigError, FormatName, HUB_URL_ENV, Hub, Repo, Source, UnknownStatus,
    Workspace, config_schema, find_config,
};
pub use scan::{ScanReport, SourceScan, read_bytes, read_regular_file, scan, scan_limited};
pub use sync_input::{Gate, HubStatus, OwnView, engine_inputs};
pub use sync_rules::HUB_SOURCE;
pub use writeback::{EditOutcome, FileEdit, edit_file};

/// Replace `path` with `bytes` atomically: a reader sees the old file or
/// the new one, never a torn mix; a crash leaves the old file in place.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    // Named after the target, so a temp file left by a killed run is known
    // as ours and removed by the next write of the same file.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.concord-");
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let leftover = entry.file_name().to_string_lossy().into_owned();
            if leftover.starts_with(&prefix) && leftover.ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    if let Ok(meta) = std::fs::metadata(path) {
        // Keep the file's permissions, not the temp file's.
        std::fs::set_permissions(temp.path(), meta.permissions())?;
    }
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
