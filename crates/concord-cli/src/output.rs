//! Shared output helpers: styles, paths as the user can open them, warnings.

use anstyle::{AnsiColor, Style};
use concord_model::Warning;
use concord_workspace::Workspace;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const KEY: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const WARN: Style = AnsiColor::Yellow.on_default().bold();
pub const BAD: Style = AnsiColor::Red.on_default().bold();
pub const GOOD: Style = AnsiColor::Green.on_default();

/// Buffered, colour-aware stdout (`NO_COLOR`, `--color`, and non-TTY honoured).
pub fn stdout() -> impl Write {
    std::io::BufWriter::with_capacity(64 * 1024, anstream::stdout())
}

/// A repo-relative path as a path the user can open from where they stand.
pub fn display_path(ws: &Workspace, repo: &str, rel: &str) -> String {
    let full = match ws.repos.iter().find(|r| r.name == repo) {
        Some(repo) => repo.root.join(rel),
        None => PathBuf::from(rel),
    };
    let cwd = std::env::current_dir().ok();
    let shown = cwd
        .as_deref()
        .and_then(|cwd| full.strip_prefix(cwd).ok())
        .unwrap_or(&full);
    normalize(shown).display().to_string()
}

/// Drop `.` components so `./examples/./repo/x` reads `examples/repo/x`.
fn normalize(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

pub fn write_warnings(
    out: &mut impl Write,
    ws: &Workspace,
    warnings: &[Warning],
) -> std::io::Result<()> {
    for w in warnings {
        let path = display_path(ws, &w.repo, &w.path);
        let place = match w.line {
            Some(line) => format!("{path}:{line}"),
            None => path,
        };
        writeln!(
            out,
            "{WARN}warning{WARN:#}[{}] {place}: {} {DIM}(source {}){DIM:#}",
            w.code.as_str(),
            w.message,
            w.source
        )?;
    }
    Ok(())
}

/// Write, treating a closed pipe (`concord scan | head`) as a normal end.
pub fn finish(result: std::io::Result<()>) {
    if let Err(e) = result
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("concord: cannot write output: {e}");
    }
}
