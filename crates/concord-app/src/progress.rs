//! How a use case says how far along long work is, without knowing who
//! shows it: the CLI draws a bar on stderr, `concord serve` may keep a job
//! event, a test or a library caller shows nothing.

/// One measured stretch of work (writing files, writing the hub, …).
pub trait Bar: Send + Sync {
    /// `n` more steps are done.
    fn inc(&self, n: u64);
    /// The stretch is over; whatever showed it goes away.
    fn finish(&self);
}

/// What a front end gives a use case to report progress through.
pub trait Progress: Send + Sync {
    /// A stretch of `len` steps named `what` begins.
    fn bar(&self, len: usize, what: &str) -> Box<dyn Bar>;

    /// Whether the caller asked the work to stop. A use case looks only
    /// where stopping leaves nothing half-done (before it starts writing,
    /// between whole units of work) and then fails with
    /// [`crate::Failure::cancelled`]; once writing has begun it finishes.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Progress nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Bar for Silent {
    fn inc(&self, _: u64) {}
    fn finish(&self) {}
}

impl Progress for Silent {
    fn bar(&self, _: usize, _: &str) -> Box<dyn Bar> {
        Box::new(Silent)
    }
}
