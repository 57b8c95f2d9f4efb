//! `CONCORD_TIMINGS=1` prints how long each phase of a command took, on
//! stderr: the first thing to look at when a run is slow.
use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Option<Instant>> = OnceLock::new();

fn start() -> Option<Instant> {
    *START.get_or_init(|| from_env().then(Instant::now))
}

fn from_env() -> bool {
    std::env::var_os("CONCORD_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Marks the end of a phase: prints the time since the process began.
pub fn phase(name: &str) {
    if let Some(start) = start() {
        eprintln!(
            "timing: {:>8.1} ms  {name}",
            start.elapsed().as_secs_f64() * 1000.0
        );
    }
}

/// Starts the clock (when `on`, or `CONCORD_TIMINGS` asks); call first
/// thing in `main`.
pub fn begin(on: bool) {
    let _ = START.get_or_init(|| (on || from_env()).then(Instant::now));
}
