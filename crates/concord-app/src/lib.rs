//! concord's application layer: what a command does, apart from how it is
//! asked for and how its result is shown. The CLI (`concord-cli`) parses
//! arguments and renders; `concord serve` answers HTTP; both call here.
//!
//! Nothing here prints a result, exits the process or knows about a
//! terminal: functions take the workspace and typed options and return
//! typed reports or a [`Failure`] that carries its exit [`Outcome`].
#![forbid(unsafe_code)]

pub mod check;
pub mod check_feedback;
mod check_feedback_openproject;
mod check_rules;
pub mod check_trend;
pub mod config_check;
pub mod diff;
pub mod explain;
pub mod gates;
pub mod history;
pub mod hub;
pub mod hub_admin;
pub mod init;
pub mod log;
pub mod mirror;
pub mod plan;
pub mod progress;
pub mod promotion;
pub mod recorded;
pub mod replicas;
pub mod repo_files;
pub mod scan;
pub mod schema;
pub mod set;
pub mod ship;
pub mod status;
pub mod summary;
pub mod sync;
pub mod timings;
pub mod trackers;

pub use hub::Failure;
pub use progress::{Bar, Progress, Silent};

/// How a use case ended, which is also the process exit code of the CLI
/// and the `outcome` of a job in `concord serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to report.
    Clean = 0,
    /// Drift or findings (never warnings alone).
    Findings = 1,
    /// Usage or configuration error.
    ConfigError = 2,
    /// Some of the work failed, or part of the workspace could not be read
    /// (a tracker, a file, a repo): what it holds is unknown.
    PartialFailure = 3,
}

/// Whether a scan could not read part of the workspace: a file it could
/// not read or parse, a repo that is not there. Its items are unknown, not
/// in sync, so the run exits 3.
pub fn unreadable(warnings: &[concord_model::Warning]) -> bool {
    warnings.iter().any(|w| {
        matches!(
            w.code,
            concord_model::WarningCode::UnreadableFile | concord_model::WarningCode::MissingRepo
        )
    })
}

/// `n noun` or `n nouns`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The SHA-256 of `bytes` as lowercase hex: how concord recognises content
/// it wrote itself.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
