//! What the tests of several crates share. Tests that need PostgreSQL get
//! a schema of their own in the database `CONCORD_TEST_DATABASE_URL`
//! names, so they run side by side and leave nothing behind.

use std::process::Command;

/// A schema of one test's own, dropped (with everything in it) when this
/// value is, a failing test's included.
pub struct PgSchema {
    base: String,
    name: String,
}

impl PgSchema {
    /// A new schema named `{prefix}_{random}`; `None`, with a note that the
    /// test was skipped, when `CONCORD_TEST_DATABASE_URL` is not set.
    pub fn create(prefix: &str) -> Option<PgSchema> {
        let Ok(base) = std::env::var("CONCORD_TEST_DATABASE_URL") else {
            println!("skipped: CONCORD_TEST_DATABASE_URL is not set, PostgreSQL test did not run");
            return None;
        };
        let name = format!("{prefix}_{:016x}", fastrand::u64(..));
        assert!(
            psql(&base, &format!("CREATE SCHEMA {name}")),
            "CREATE SCHEMA {name} failed"
        );
        Some(PgSchema { base, name })
    }

    /// The database's URL, as `CONCORD_TEST_DATABASE_URL` gives it.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A hub URL whose connections work in this schema.
    pub fn url(&self) -> String {
        self.url_on(&self.base)
    }

    /// [`PgSchema::url`] on another URL of the same database (a forwarded
    /// port, say).
    pub fn url_on(&self, base: &str) -> String {
        let separator = if base.contains('?') { '&' } else { '?' };
        format!("{base}{separator}options=-c%20search_path%3D{}", self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let dropped = psql(&self.base, &format!("DROP SCHEMA {} CASCADE", self.name));
        // A failing test is already unwinding: its own failure says more.
        if !std::thread::panicking() {
            assert!(dropped, "DROP SCHEMA {} failed", self.name);
        }
    }
}

/// Run one statement with `psql`; whether it succeeded.
fn psql(base: &str, sql: &str) -> bool {
    Command::new("psql")
        .args([base, "-q", "-c", sql])
        .status()
        .is_ok_and(|status| status.success())
}
