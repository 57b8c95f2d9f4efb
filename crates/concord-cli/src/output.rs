//! Shared output helpers: styles, paths as the user can open them, warnings.

use anstyle::{AnsiColor, Style};
use concord_model::Warning;
use concord_workspace::Workspace;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

pub const KEY: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const WARN: Style = AnsiColor::Yellow.on_default().bold();
pub const BAD: Style = AnsiColor::Red.on_default().bold();
pub const GOOD: Style = AnsiColor::Green.on_default();

static COLOR: OnceLock<bool> = OnceLock::new();
/// `-q` / `-v`, the same for every command.
static VERBOSITY: OnceLock<Verbosity> = OnceLock::new();

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Decide once how much goes to standard error (`-q`, `-v`).
pub fn init_verbosity(quiet: bool, verbose: bool) {
    let level = match (quiet, verbose) {
        (true, _) => Verbosity::Quiet,
        (false, true) => Verbosity::Verbose,
        (false, false) => Verbosity::Normal,
    };
    let _ = VERBOSITY.set(level);
}

/// `-q`: only results and errors.
pub fn quiet() -> bool {
    VERBOSITY.get() == Some(&Verbosity::Quiet)
}

/// `-v`: say more.
pub fn verbose() -> bool {
    VERBOSITY.get() == Some(&Verbosity::Verbose)
}

/// Decide once whether stdout gets colours: `--color`, then `NO_COLOR`, then a TTY check.
pub fn init_color(forced: Option<bool>) {
    let on = forced.unwrap_or_else(|| {
        std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
            && std::io::stdout().is_terminal()
    });
    let _ = COLOR.set(on);
}

/// Whether stdout gets colours (for renderers that colour on their own).
pub fn color_enabled() -> bool {
    COLOR.get().copied().unwrap_or(false)
}

/// `style` when colours are on, else a style that renders as nothing, so
/// plain output costs no escape-stripping pass.
pub fn paint(style: Style) -> Style {
    if COLOR.get().copied().unwrap_or(false) {
        style
    } else {
        Style::new()
    }
}

/// Buffered stdout.
pub fn stdout() -> impl Write {
    std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock())
}

/// Shows repo-relative paths as paths the user can open from where they
/// stand; remembers the last one since items of one file come together.
pub struct PathDisplay<'a> {
    ws: &'a Workspace,
    cwd: Option<PathBuf>,
    last: Option<(String, String, String)>,
}

impl<'a> PathDisplay<'a> {
    pub fn new(ws: &'a Workspace) -> Self {
        Self {
            ws,
            cwd: std::env::current_dir().ok(),
            last: None,
        }
    }

    pub fn show(&mut self, repo: &str, rel: &str) -> &str {
        let hit = matches!(&self.last, Some((r, p, _)) if r == repo && p == rel);
        if !hit {
            let full = match self.ws.repos.iter().find(|r| r.name == repo) {
                Some(repo) => repo.root.join(rel),
                None => PathBuf::from(rel),
            };
            let shown = self
                .cwd
                .as_deref()
                .and_then(|cwd| full.strip_prefix(cwd).ok())
                .unwrap_or(&full);
            let shown = normalize(shown).display().to_string();
            self.last = Some((repo.to_string(), rel.to_string(), shown));
        }
        self.last
            .as_ref()
            .map_or("", |(_, _, shown)| shown.as_str())
    }
}

/// Drop `.` components so `./examples/./repo/x` reads `examples/repo/x`.
fn normalize(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// `text` left-aligned in `width` columns (counted in chars, like `{:width$}`).
pub fn write_padded(out: &mut impl Write, text: &str, width: usize) -> std::io::Result<()> {
    const SPACES: &[u8; 64] = &[b' '; 64];
    out.write_all(text.as_bytes())?;
    let mut missing = width.saturating_sub(text.chars().count());
    while missing > 0 {
        let n = missing.min(SPACES.len());
        out.write_all(&SPACES[..n])?;
        missing -= n;
    }
    Ok(())
}

/// `1 file`, `3 files`.
pub use concord_app::count;

pub fn write_warnings(
    out: &mut impl Write,
    ws: &Workspace,
    warnings: &[Warning],
) -> std::io::Result<()> {
    let (warn, dim) = (paint(WARN), paint(DIM));
    let mut paths = PathDisplay::new(ws);
    for w in warnings {
        let path = paths.show(&w.repo, &w.path).to_string();
        let place = match w.line {
            Some(line) => format!("{path}:{line}"),
            None => path,
        };
        writeln!(
            out,
            "{warn}warning{warn:#}[{}] {place}: {} {dim}(source {}){dim:#}",
            w.code.as_str(),
            w.message,
            w.source
        )?;
    }
    Ok(())
}

/// The scan's warnings go to standard error (they are not results and
/// never drift): every run prints the current ones. They change the exit
/// code only when `fail_on_warnings` asks: a clean run becomes findings.
pub fn warnings_to_stderr(
    ws: &Workspace,
    warnings: &[Warning],
    fail_on_warnings: bool,
    outcome: crate::Outcome,
) -> crate::Outcome {
    if !quiet() {
        let mut err = std::io::stderr().lock();
        finish(write_warnings(&mut err, ws, warnings));
    }
    if fail_on_warnings && !warnings.is_empty() && outcome == crate::Outcome::Clean {
        crate::Outcome::Findings
    } else {
        outcome
    }
}

/// Sources that could not be read, on standard error: a failure says why
/// (the run exits 3), a choice (no token yet) is a note.
pub fn not_read_to_stderr<'a>(not_read: impl IntoIterator<Item = (&'a str, &'a str, bool)>) {
    let (warn, bad) = (paint(WARN), paint(BAD));
    for (source, why, failed) in not_read {
        if failed {
            eprintln!("{bad}{source} not read{bad:#}: {why}; its items are unknown");
        } else if !quiet() {
            eprintln!("{warn}note{warn:#}: {why}");
        }
    }
}

/// Write, treating a closed pipe (`concord scan | head`) as a normal end.
pub fn finish(result: std::io::Result<()>) {
    if let Err(e) = result
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("concord: cannot write output: {e}");
    }
}

/// A progress bar on stderr for long work; indicatif hides it when stderr
/// is not a terminal, so pipes and CI logs stay clean.
pub fn progress(len: usize, what: &str) -> indicatif::ProgressBar {
    if quiet() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg:>16} [{bar:30}] {pos}/{len} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// Progress bars on stderr for the application layer's long work.
pub struct Bars;

struct IndicatifBar(indicatif::ProgressBar);

impl concord_app::Bar for IndicatifBar {
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl concord_app::Progress for Bars {
    fn bar(&self, len: usize, what: &str) -> Box<dyn concord_app::Bar> {
        Box::new(IndicatifBar(progress(len, what)))
    }
}

/// Buffers written in the order of their index, whatever the order they
/// come in from the threads: one that comes early waits for those before
/// it. After a failed write nothing more is written and the error is kept.
pub struct InOrder<W> {
    state: Mutex<InOrderState<W>>,
}

struct InOrderState<W> {
    out: W,
    next: usize,
    waiting: BTreeMap<usize, Vec<u8>>,
    failed: Option<std::io::Error>,
}

impl<W: Write> InOrder<W> {
    pub fn new(out: W) -> Self {
        let state = InOrderState {
            out,
            next: 0,
            waiting: BTreeMap::new(),
            failed: None,
        };
        InOrder {
            state: Mutex::new(state),
        }
    }

    pub fn put(&self, index: usize, buffer: std::io::Result<Vec<u8>>) {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *guard;
        if state.failed.is_some() {
            return;
        }
        match buffer {
            Ok(buffer) => state.waiting.insert(index, buffer),
            Err(e) => {
                state.failed = Some(e);
                return;
            }
        };
        while let Some(buffer) = state.waiting.remove(&state.next) {
            if let Err(e) = state.out.write_all(&buffer) {
                state.failed = Some(e);
                state.waiting.clear();
                return;
            }
            state.next += 1;
        }
    }

    /// The writer, or the first error; buffers still waiting for one
    /// before them that never came are written in order.
    pub fn finish(self) -> std::io::Result<W> {
        let mut state = self
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = state.failed {
            return Err(e);
        }
        for buffer in state.waiting.values() {
            state.out.write_all(buffer)?;
        }
        Ok(state.out)
    }
}

#[cfg(test)]
mod tests {
    use super::InOrder;

    #[test]
    fn buffers_go_out_in_index_order_whatever_order_they_come_in() {
        let in_order = InOrder::new(Vec::new());
        for index in [2, 0, 3, 1, 5, 4] {
            in_order.put(index, Ok(format!("{index}").into_bytes()));
        }
        let out = in_order.finish().expect("written");
        assert_eq!(out, b"012345");
    }

    #[test]
    fn after_a_failed_buffer_nothing_more_is_written() {
        let in_order = InOrder::new(Vec::new());
        in_order.put(0, Ok(b"a".to_vec()));
        in_order.put(2, Ok(b"c".to_vec()));
        in_order.put(1, Err(std::io::Error::other("full")));
        in_order.put(3, Ok(b"d".to_vec()));
        let failed = in_order.finish().expect_err("the error is kept");
        assert_eq!(failed.to_string(), "full");
    }

    #[test]
    fn a_write_that_fails_stops_the_listing() {
        struct Broken;
        impl std::io::Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let in_order = InOrder::new(Broken);
        in_order.put(1, Ok(b"b".to_vec()));
        in_order.put(0, Ok(b"a".to_vec()));
        let failed = in_order.finish().err().expect("the error is kept");
        assert_eq!(failed.kind(), std::io::ErrorKind::BrokenPipe);
    }
}
