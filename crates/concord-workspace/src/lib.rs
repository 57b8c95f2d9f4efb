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
pub use scan::{
    ScanReport, SourceScan, read_bytes, read_regular_file, scan, scan_each, scan_limited, scan_map,
};
pub use sync_input::{EngineItems, Gate, HubStatus, Known, OwnView};
pub use sync_rules::HUB_SOURCE;
pub use writeback::{EditOutcome, FileEdit, edit_file};

/// Replace `path` with `bytes` atomically: a reader sees the old file or
/// the new one, never a torn mix; a crash leaves the old file in place.
/// To write many files, keep one [`AtomicWriter`]: it lists each
/// directory once instead of once per file.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    AtomicWriter::default().write(path, bytes)
}

/// Writes files atomically, and removes the temp files a killed run left
/// beside them. Each directory is listed once per writer: listing it for
/// every file made writing N files into one directory cost N².
#[derive(Default)]
pub struct AtomicWriter {
    /// Per directory, the leftover temp files seen when it was first listed
    /// (those made later are another writer's, still in flight).
    leftovers:
        std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, Vec<std::ffi::OsString>>>,
}

impl AtomicWriter {
    /// Replace `path` with `bytes` atomically (see [`write_atomic`]).
    pub fn write(&self, path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        std::fs::create_dir_all(dir)?;
        // Named after the target, so a temp file left by a killed run is
        // known as ours and removed by the next write of the same file.
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{name}.concord-");
        for leftover in self.take_leftovers(dir, &prefix) {
            let _ = std::fs::remove_file(dir.join(leftover));
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

    /// The leftover temp files of one target (`prefix`) in `dir`, taken
    /// out of the list; the directory is read on its first use only.
    fn take_leftovers(&self, dir: &std::path::Path, prefix: &str) -> Vec<std::ffi::OsString> {
        let mut by_dir = self
            .leftovers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let listed = by_dir.entry(dir.to_path_buf()).or_insert_with(|| {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.file_name())
                .filter(|name| {
                    let name = name.to_string_lossy();
                    name.starts_with('.') && name.contains(".concord-") && name.ends_with(".tmp")
                })
                .collect()
        });
        let (ours, others): (Vec<_>, Vec<_>) = std::mem::take(listed)
            .into_iter()
            .partition(|name| name.to_string_lossy().starts_with(prefix));
        *listed = others;
        ours
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("lists")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_write_removes_its_own_leftover_temp_files_and_no_one_elses() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        std::fs::write(dir.join(".a.md.concord-XYZ.tmp"), "killed run").expect("writes");
        std::fs::write(dir.join(".b.md.concord-XYZ.tmp"), "killed run").expect("writes");
        let writer = AtomicWriter::default();
        writer.write(&dir.join("a.md"), b"new\n").expect("writes");
        assert_eq!(names(dir), [".b.md.concord-XYZ.tmp", "a.md"]);
        // Made after the directory was listed: another writer's, in flight.
        std::fs::write(dir.join(".a.md.concord-NEW.tmp"), "in flight").expect("writes");
        writer.write(&dir.join("a.md"), b"newer\n").expect("writes");
        writer.write(&dir.join("b.md"), b"b\n").expect("writes");
        assert_eq!(names(dir), [".a.md.concord-NEW.tmp", "a.md", "b.md"]);
        assert_eq!(std::fs::read(dir.join("a.md")).expect("reads"), b"newer\n");
        // A new writer (the next run) lists again.
        write_atomic(&dir.join("a.md"), b"last\n").expect("writes");
        assert_eq!(names(dir), ["a.md", "b.md"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_write_keeps_the_files_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("run.sh");
        std::fs::write(&path, "old").expect("writes");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        write_atomic(&path, b"new").expect("writes");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}
