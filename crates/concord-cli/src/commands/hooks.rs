//! `concord hooks install`: a git pre-commit hook that runs
//! `concord check --staged` (staged content, read from the index: no stash).

use crate::Outcome;
use crate::hub::Failure;
use concord_workspace::Workspace;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Install the pre-commit hook in the git repo around the current folder.
    Install {
        /// Replace a pre-commit hook concord did not write (it is kept as
        /// `pre-commit.concord-backup`).
        #[arg(long)]
        force: bool,
    },
}

/// The line that marks a hook as concord's own.
const MARKER: &str = "# concord pre-commit hook";

pub fn run(ws: &Workspace, command: &Command) -> Result<Outcome, Failure> {
    let Command::Install { force } = command;
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::usage(format!("cannot read the current folder: {e}"), None))?;
    let hooks = hooks_dir(&cwd)?;
    let hook = hooks.join("pre-commit");
    if let Ok(existing) = std::fs::read_to_string(&hook)
        && !existing.contains(MARKER)
    {
        if !force {
            return Err(Failure::usage(
                format!("{} exists and is not concord's: not replaced", hook.display()),
                Some("run with --force to replace it (it is kept as pre-commit.concord-backup), or call `concord check --staged` from it".into()),
            ));
        }
        std::fs::rename(&hook, hooks.join("pre-commit.concord-backup"))
            .map_err(|e| Failure::usage(format!("cannot back up {}: {e}", hook.display()), None))?;
    }
    let binary = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "concord".into());
    let script = format!(
        "#!/bin/sh\n{MARKER} (installed by `concord hooks install`)\n\
         # Checks only what is staged, read from the index: nothing is stashed.\n\
         concord_bin=$(command -v concord || echo {})\n\
         exec \"$concord_bin\" --config {} check --staged\n",
        shell_quote(&binary),
        shell_quote(&ws.config_path.display().to_string())
    );
    std::fs::create_dir_all(&hooks)
        .map_err(|e| Failure::usage(format!("cannot create {}: {e}", hooks.display()), None))?;
    concord_workspace::write_atomic(&hook, script.as_bytes())
        .map_err(|e| Failure::usage(format!("cannot write {}: {e}", hook.display()), None))?;
    make_executable(&hook)?;
    println!("installed {}", hook.display());
    Ok(Outcome::Clean)
}

/// Where git looks for hooks (honours `core.hooksPath`).
fn hooks_dir(cwd: &Path) -> Result<PathBuf, Failure> {
    let output = std::process::Command::new("git")
        .current_dir(cwd)
        .args(["rev-parse", "--path-format=absolute", "--git-path", "hooks"])
        .output()
        .map_err(|e| Failure::usage(format!("cannot run git: {e}"), None))?;
    if !output.status.success() {
        return Err(Failure::usage(
            format!(
                "{} is not inside a git repository: {}",
                cwd.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            None,
        ));
    }
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim().to_string(),
    ))
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| {
        Failure::usage(
            format!("cannot make {} executable: {e}", path.display()),
            None,
        )
    })
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> Result<(), Failure> {
    Ok(())
}
