//! `CONCORD_TIMINGS=1` prints how long each phase of a command took, and
//! the memory the process holds at its end (Linux), on stderr: the first
//! thing to look at when a run is slow or large.
use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Option<Instant>> = OnceLock::new();

fn start() -> Option<Instant> {
    *START.get_or_init(|| from_env().then(Instant::now))
}

fn from_env() -> bool {
    std::env::var_os("CONCORD_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Marks the end of a phase: prints the time since the process began and
/// the resident memory now.
pub fn phase(name: &str) {
    if let Some(start) = start() {
        eprintln!(
            "timing: {:>8.1} ms {:>7}  {name}",
            start.elapsed().as_secs_f64() * 1000.0,
            resident().map_or(String::new(), |mb| format!("{mb} MB"))
        );
    }
}

/// Resident memory in MB, from `/proc/self/statm` (pages, assumed 4 KiB:
/// a diagnostic, not a measurement).
fn resident() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096 / (1024 * 1024))
}

/// Starts the clock (when `on`, or `CONCORD_TIMINGS` asks); call first
/// thing in `main`.
pub fn begin(on: bool) {
    let _ = START.get_or_init(|| (on || from_env()).then(Instant::now));
}
