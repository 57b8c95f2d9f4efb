//! `CONCORD_TIMINGS=1` prints how long each phase of a command took, on
//! stderr: the first thing to look at when a run is slow.
use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Option<Instant>> = OnceLock::new();

fn start() -> Option<Instant> {
    *START.get_or_init(|| {
        std::env::var_os("CONCORD_TIMINGS")
            .filter(|v| !v.is_empty() && v != "0")
            .map(|_| Instant::now())
    })
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

/// Starts the clock; call first thing in `main`.
pub fn begin() {
    let _ = start();
}
