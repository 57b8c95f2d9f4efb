//! `concord manpages DIR`: `concord.1` and `concord-<command>.1` for every
//! command and subcommand, rendered by clap_mangen from the definitions
//! `--help` prints, so the man pages cannot drift from the binary.

use crate::Outcome;
use crate::hub::Failure;
use std::path::Path;

/// Write every page into `dir` (created if missing); prints each path.
pub fn write(command: clap::Command, dir: &Path) -> Result<Outcome, Failure> {
    std::fs::create_dir_all(dir).map_err(|e| cannot(dir, &e))?;
    let mut command = command;
    command.build();
    let mut written = Vec::new();
    write_tree(&command, "concord", dir, &mut written)?;
    for path in &written {
        println!("{}", path.display());
    }
    Ok(Outcome::Clean)
}

/// The page of `command` (named `name`), then its subcommands' pages.
fn write_tree(
    command: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<std::path::PathBuf>,
) -> Result<(), Failure> {
    let page = command.clone().name(name.to_string());
    let mut text = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut text)
        .map_err(|e| cannot(dir, &e))?;
    let path = dir.join(format!("{name}.1"));
    concord_workspace::write_atomic(&path, &text).map_err(|e| cannot(&path, &e))?;
    written.push(path);
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        write_tree(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

fn cannot(path: &Path, error: &dyn std::fmt::Display) -> Failure {
    Failure {
        message: format!("cannot write man pages to {}: {error}", path.display()),
        help: None,
        outcome: Outcome::PartialFailure,
    }
}
