//! A concord workspace: the `concord.toml` file (repos, workflows, sources,
//! hub) validated into ready-to-use parts, and the scan that reads every
//! source into observations.
#![forbid(unsafe_code)]
// Config errors carry their source text for diagnostics; they are built once, on the cold path.
#![allow(clippy::result_large_err)]

mod config;
mod scan;
pub mod status;

pub use config::{
    CONFIG_FILE_NAME, ConfigError, FormatName, Hub, Repo, Source, Workspace, find_config,
};
pub use scan::{ScanReport, SourceScan, scan};
