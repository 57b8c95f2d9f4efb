//! The scheduler's pure core: when safety-net syncs, mirror runs and check
//! snapshots are due. No I/O and no sleeping here; the async driver asks
//! [`Scheduler::due_jobs`] what to start, reports [`Scheduler::finished`],
//! and sleeps until [`Scheduler::next_wake`]. Time comes from a [`Clock`] so
//! tests can inject a [`ManualClock`].
//!
//! Rules, in one place:
//! - A job is due when the first tick after its last run is at or before
//!   now. Missed ticks (downtime, a run longer than the interval) coalesce:
//!   the job runs once, not once per tick.
//! - A job that never ran is due at once: a start-up safety-net run. Load
//!   `last_run` from the hub so restarts don't repeat recent runs.
//! - The next tick is counted from when the last run *started*:
//!   `Every(d)` runs at `last_run + d`; `Cron` at the first match after
//!   `last_run`. A clock set back counts from now, so a job waits at most
//!   one period.
//! - A running job is never started again; when it finishes after its tick
//!   passed, it is due once more, at once.
//! - Cron expressions have 5 fields (minute hour day-of-month month
//!   day-of-week) and are read in UTC. Times are whole seconds.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};
use croner::{CivilDate, CivilDateTime, CivilTime, CronDateTime, Resolution, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a schedule text may be, quoted in every parse error.
const EXPECTED: &str = "expected an interval like \"15m\" or \"every 1h\", \
     a 5-field cron expression like \"*/10 * * * *\" (UTC), \"hourly\" or \"daily\"";

const SECONDS_PER_DAY: i64 = 86_400;

/// Why a schedule, timestamp or job could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("empty schedule: {}", EXPECTED)]
    Empty,
    #[error("\"every\" needs an interval, like \"every 15m\" or \"every 1h\"")]
    MissingInterval,
    #[error("interval \"{0}\" is zero: expected a positive interval like \"15m\"")]
    ZeroInterval(String),
    #[error("interval \"{0}\" has a fraction of a second: expected whole seconds, like \"90s\"")]
    FractionalInterval(String),
    #[error("invalid interval \"{text}\" ({reason}): {}", EXPECTED)]
    InvalidInterval { text: String, reason: String },
    #[error(
        "invalid cron expression \"{text}\" ({reason}): expected 5 fields, \
         minute hour day-of-month month day-of-week (UTC), like \"0 3 * * 1-5\""
    )]
    InvalidCron { text: String, reason: String },
    #[error(
        "invalid timestamp \"{text}\" ({reason}): expected RFC 3339 UTC like \"2026-11-25T01:13:07Z\""
    )]
    InvalidTimestamp { text: String, reason: String },
    #[error("a job named \"{0}\" is already scheduled")]
    DuplicateJob(String),
}

// ---------------------------------------------------------------------------
// Time

/// A UTC instant in whole seconds since the Unix epoch. Serialises as an
/// RFC 3339 string like `"2026-11-25T01:13:07Z"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    pub const fn from_unix_seconds(seconds: i64) -> Timestamp {
        Timestamp(seconds)
    }

    pub const fn unix_seconds(self) -> i64 {
        self.0
    }

    /// The system clock, truncated to the second.
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }

    /// Truncates to the whole second at or before `time`.
    pub fn from_system_time(time: SystemTime) -> Timestamp {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Timestamp(i64::try_from(after.as_secs()).unwrap_or(i64::MAX)),
            Err(before) => {
                let d = before.duration();
                let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                // Floor, not toward zero: 0.5 s before the epoch is second -1.
                let extra = i64::from(d.subsec_nanos() > 0);
                Timestamp(whole.saturating_neg().saturating_sub(extra))
            }
        }
    }

    pub fn to_system_time(self) -> Option<SystemTime> {
        let magnitude = Duration::from_secs(self.0.unsigned_abs());
        if self.0 >= 0 {
            UNIX_EPOCH.checked_add(magnitude)
        } else {
            UNIX_EPOCH.checked_sub(magnitude)
        }
    }

    /// `None` on overflow. Sub-second parts of `d` round up, so the result
    /// is never earlier than the exact sum.
    pub fn checked_add(self, d: Duration) -> Option<Timestamp> {
        let seconds = i64::try_from(d.as_secs())
            .ok()?
            .checked_add(i64::from(d.subsec_nanos() > 0))?;
        self.0.checked_add(seconds).map(Timestamp)
    }

    /// How long from `earlier` to `self`; zero when `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        let diff = i128::from(self.0) - i128::from(earlier.0);
        Duration::from_secs(u64::try_from(diff.max(0)).unwrap_or(u64::MAX))
    }

    /// RFC 3339 in UTC, like `2026-11-25T01:13:07Z`. Never panics, unlike
    /// humantime's formatter for times before the epoch.
    pub fn to_rfc3339(self) -> String {
        let days = self.0.div_euclid(SECONDS_PER_DAY);
        let secs = self.0.rem_euclid(SECONDS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }

    /// Reads RFC 3339 UTC (`Z`), as stored in the hub; fractions of a second
    /// are dropped.
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, ScheduleError> {
        humantime::parse_rfc3339(text.trim())
            .map(Timestamp::from_system_time)
            .map_err(|e| ScheduleError::InvalidTimestamp {
                text: text.to_string(),
                reason: e.to_string(),
            })
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Timestamp {
        Timestamp::from_system_time(time)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl FromStr for Timestamp {
    type Err = ScheduleError;
    fn from_str(text: &str) -> Result<Timestamp, ScheduleError> {
        Timestamp::parse_rfc3339(text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's algorithm). Total over i64 seconds / 86400.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // In range by construction: day 1..=31, month 1..=12.
    (year, month as u32, day as u32)
}

/// (year, month, day) to days since 1970-01-01; inverse of
/// [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A [`Timestamp`] croner can search over. Kept within years 1..=9999 so
/// the calendar fields always fit croner's types.
#[derive(Debug, Clone, Copy)]
struct CronTime(i64);

impl CronTime {
    /// 0001-01-01T00:00:00Z.
    const MIN: i64 = -62_135_596_800;
    /// 9999-12-31T23:59:59Z.
    const MAX: i64 = 253_402_300_799;

    fn new(seconds: i64) -> Option<CronTime> {
        (Self::MIN..=Self::MAX)
            .contains(&seconds)
            .then_some(CronTime(seconds))
    }
}

impl CronDateTime for CronTime {
    fn to_civil(&self) -> CivilDateTime {
        let (y, m, d) = civil_from_days(self.0.div_euclid(SECONDS_PER_DAY));
        let secs = self.0.rem_euclid(SECONDS_PER_DAY);
        // The year fits: `new` keeps it within 1..=9999.
        let year = i32::try_from(y).unwrap_or(i32::MAX);
        CivilDateTime::new(
            CivilDate::from_parts_unchecked(year, m, d),
            CivilTime::from_parts_unchecked(
                (secs / 3600) as u32,
                (secs / 60 % 60) as u32,
                (secs % 60) as u32,
            ),
        )
    }

    fn civil_weekday(&self) -> Weekday {
        // 1970-01-01 was a Thursday, four days after Sunday.
        let days = self.0.div_euclid(SECONDS_PER_DAY);
        Weekday::from_days_from_sunday((days + 4).rem_euclid(7) as u32)
    }

    fn resolve_civil(&self, civil: CivilDateTime) -> Result<Resolution<Self>, CronError> {
        let days = days_from_civil(i64::from(civil.year()), civil.month(), civil.day());
        let secs = i64::from(civil.hour()) * 3600
            + i64::from(civil.minute()) * 60
            + i64::from(civil.second());
        // UTC has no gaps or repeats.
        CronTime::new(days * SECONDS_PER_DAY + secs)
            .map(Resolution::Single)
            .ok_or(CronError::InvalidDate)
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        CronTime::new(self.0.checked_add(seconds)?)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

// ---------------------------------------------------------------------------
// Clocks

/// Where "now" comes from; injected so tests control time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that moves only when told. Clones share the same time, so a test
/// keeps one and hands another to the server.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(start)))
    }

    /// Moves forward by `d` (saturating at the end of time).
    pub fn advance(&self, d: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.checked_add(d).unwrap_or(Timestamp(i64::MAX));
    }

    /// Jumps to `t`, also backwards (a clock set back).
    pub fn set(&self, t: Timestamp) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = t;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// ---------------------------------------------------------------------------
// Schedules

/// A parsed 5-field cron expression (UTC), kept with its text for display.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CronExpr {
    text: String,
    // Boxed: a parsed pattern is ~300 bytes, an interval 16.
    cron: Box<croner::Cron>,
}

impl CronExpr {
    pub fn parse(text: &str) -> Result<CronExpr, ScheduleError> {
        // One space between fields, so the display is canonical.
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(&text)
            .map_err(|e| ScheduleError::InvalidCron {
                text: text.clone(),
                reason: e.to_string(),
            })?;
        Ok(CronExpr {
            text,
            cron: Box::new(cron),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first match strictly after `t`; `None` past year 9999 or when
    /// the expression never matches (like February 30th).
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let from = CronTime::new(t.0)?;
        let next = self.cron.find_next_occurrence(&from, false).ok()?;
        Some(Timestamp(next.0)).filter(|n| *n > t)
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// When a job runs: every fixed interval after its last start, or at the
/// matches of a cron expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Schedule {
    /// Counted in whole seconds, rounding up, at least one second. Build
    /// it with [`Schedule::every`] or [`Schedule::parse`] to have zero and
    /// fractions rejected.
    Every(Duration),
    Cron(CronExpr),
}

impl Default for Schedule {
    /// Hourly.
    fn default() -> Schedule {
        Schedule::Every(Duration::from_secs(3600))
    }
}

impl Schedule {
    pub fn hourly() -> Schedule {
        Schedule::default()
    }

    pub fn daily() -> Schedule {
        Schedule::Every(Duration::from_secs(SECONDS_PER_DAY as u64))
    }

    /// An interval schedule; zero and fractions of a second are errors.
    pub fn every(d: Duration) -> Result<Schedule, ScheduleError> {
        let shown = humantime::format_duration(d).to_string();
        if d.is_zero() {
            Err(ScheduleError::ZeroInterval(shown))
        } else if d.subsec_nanos() != 0 {
            Err(ScheduleError::FractionalInterval(shown))
        } else {
            Ok(Schedule::Every(d))
        }
    }

    /// Accepts `"15m"`, `"1h 30m"`, `"every 15m"`, `"hourly"`, `"daily"`,
    /// and 5-field cron expressions like `"*/10 * * * *"` (UTC, also
    /// `@hourly`-style nicknames).
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ScheduleError::Empty);
        }
        if text.eq_ignore_ascii_case("hourly") {
            return Ok(Schedule::hourly());
        }
        if text.eq_ignore_ascii_case("daily") {
            return Ok(Schedule::daily());
        }
        if let Some(rest) = strip_every(text) {
            if rest.is_empty() {
                return Err(ScheduleError::MissingInterval);
            }
            return parse_interval(rest);
        }
        let interval_error = match parse_interval(text) {
            Ok(schedule) => return Ok(schedule),
            // A duration that parsed but is zero or fractional says so.
            Err(e @ (ScheduleError::ZeroInterval(_) | ScheduleError::FractionalInterval(_))) => {
                return Err(e);
            }
            Err(e) => e,
        };
        match CronExpr::parse(text) {
            Ok(cron) => Ok(Schedule::Cron(cron)),
            // Several fields or a nickname: the user meant cron.
            Err(cron_error) if text.contains(char::is_whitespace) || text.starts_with('@') => {
                Err(cron_error)
            }
            Err(_) => Err(interval_error),
        }
    }

    /// The next run strictly after `t`; `None` when there is none (an
    /// overflow, or a cron expression that never matches).
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        match self {
            Schedule::Every(d) => {
                // Whole seconds, at least one, so the tick is after `t`.
                let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
                t.checked_add(Duration::from_secs(secs.max(1)))
            }
            Schedule::Cron(cron) => cron.next_after(t),
        }
    }
}

/// The rest after a leading "every" word, if there is one.
fn strip_every(text: &str) -> Option<&str> {
    let head = text.get(..5)?;
    let rest = &text[5..];
    (head.eq_ignore_ascii_case("every")
        && (rest.is_empty() || rest.starts_with(char::is_whitespace)))
    .then(|| rest.trim_start())
}

fn parse_interval(text: &str) -> Result<Schedule, ScheduleError> {
    let d = humantime::parse_duration(text).map_err(|e| ScheduleError::InvalidInterval {
        text: text.to_string(),
        reason: e.to_string(),
    })?;
    Schedule::every(d).map_err(|e| match e {
        // Quote what the user wrote, not humantime's rendering.
        ScheduleError::ZeroInterval(_) => ScheduleError::ZeroInterval(text.to_string()),
        ScheduleError::FractionalInterval(_) => ScheduleError::FractionalInterval(text.to_string()),
        other => other,
    })
}

impl fmt::Display for Schedule {
    /// Canonical text that [`Schedule::parse`] reads back: `every 1h`,
    /// `every 1h 30m`, `*/10 * * * *`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(d) => write!(f, "every {}", humantime::format_duration(*d)),
            Schedule::Cron(cron) => cron.fmt(f),
        }
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;
    fn from_str(text: &str) -> Result<Schedule, ScheduleError> {
        Schedule::parse(text)
    }
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Schedule, D::Error> {
        let text = String::deserialize(deserializer)?;
        Schedule::parse(&text).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------
// Decisions

/// Whether a job should start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start it now (once, however many ticks were missed).
    Due,
    /// Not before this time.
    WaitUntil(Timestamp),
    /// The schedule has no further tick.
    Never,
}

/// The scheduling rule (see the module docs): due when the first tick after
/// `last_run` is at or before `now`; never ran means due.
pub fn due(schedule: &Schedule, last_run: Option<Timestamp>, now: Timestamp) -> Decision {
    let Some(last) = last_run else {
        return Decision::Due;
    };
    // A clock set back must not push the next run further than one period.
    match schedule.next_after(last.min(now)) {
        None => Decision::Never,
        Some(next) if next <= now => Decision::Due,
        Some(next) => Decision::WaitUntil(next),
    }
}

// ---------------------------------------------------------------------------
// The scheduler state machine

/// A scheduled job, as the driver registers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub name: String,
    pub schedule: Schedule,
    /// When the last run started, as recorded in the hub.
    pub last_run: Option<Timestamp>,
}

impl Job {
    pub fn new(name: impl Into<String>, schedule: Schedule) -> Job {
        Job {
            name: name.into(),
            schedule,
            last_run: None,
        }
    }

    pub fn with_last_run(mut self, last_run: Option<Timestamp>) -> Job {
        self.last_run = last_run;
        self
    }
}

/// A job's state for the API and the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobStatus {
    pub name: String,
    /// Canonical schedule text, like `every 1h` or `0 3 * * 1-5`.
    pub schedule: String,
    pub running: bool,
    pub last_run: Option<Timestamp>,
    pub last_finished: Option<Timestamp>,
    /// Not before now; `None` when the schedule has no further tick.
    pub next_run: Option<Timestamp>,
}

#[derive(Debug, Clone)]
struct Slot {
    job: Job,
    running: bool,
    last_finished: Option<Timestamp>,
}

impl Slot {
    /// When this job will next start, never before `now`.
    fn next_run(&self, now: Timestamp) -> Option<Timestamp> {
        match due(&self.job.schedule, self.job.last_run, now) {
            Decision::Due => Some(now),
            Decision::WaitUntil(t) => Some(t),
            Decision::Never => None,
        }
    }
}

/// Pure scheduler state: which jobs exist, which run, when each last
/// started. Jobs keep the order they were added in.
#[derive(Debug, Clone, Default)]
pub struct Scheduler {
    slots: Vec<Slot>,
}

impl Scheduler {
    pub fn new() -> Scheduler {
        Scheduler::default()
    }

    pub fn add(&mut self, job: Job) -> Result<(), ScheduleError> {
        if self.slot(&job.name).is_some() {
            return Err(ScheduleError::DuplicateJob(job.name));
        }
        self.slots.push(Slot {
            job,
            running: false,
            last_finished: None,
        });
        Ok(())
    }

    /// Forgets a job; a run in flight finishes unnoticed.
    pub fn remove(&mut self, name: &str) -> Option<Job> {
        let index = self.slots.iter().position(|s| s.job.name == name)?;
        Some(self.slots.remove(index).job)
    }

    /// Changes a job's schedule, keeping its run history. False if unknown.
    pub fn set_schedule(&mut self, name: &str, schedule: Schedule) -> bool {
        self.slot_mut(name)
            .map(|slot| slot.job.schedule = schedule)
            .is_some()
    }

    pub fn jobs(&self) -> impl Iterator<Item = &Job> {
        self.slots.iter().map(|s| &s.job)
    }

    pub fn is_running(&self, name: &str) -> bool {
        self.slot(name).is_some_and(|s| s.running)
    }

    /// The jobs to start now, in the order added. Each is marked running
    /// with `last_run = now`, so it is not returned again until
    /// [`Scheduler::finished`].
    pub fn due_jobs(&mut self, now: Timestamp) -> Vec<String> {
        let mut started = Vec::new();
        for slot in &mut self.slots {
            if !slot.running && due(&slot.job.schedule, slot.job.last_run, now) == Decision::Due {
                slot.running = true;
                slot.job.last_run = Some(now);
                started.push(slot.job.name.clone());
            }
        }
        started
    }

    /// Records the end of a run (success or failure alike: a failed
    /// safety-net run waits for its next tick). False if the job was not
    /// running. Call [`Scheduler::due_jobs`] afterwards: a tick may have
    /// passed during the run.
    pub fn finished(&mut self, name: &str, at: Timestamp) -> bool {
        match self.slot_mut(name) {
            Some(slot) if slot.running => {
                slot.running = false;
                slot.last_finished = Some(at);
                true
            }
            _ => false,
        }
    }

    /// When the driver should next call [`Scheduler::due_jobs`]: the
    /// earliest next run among jobs not running (`now` if one is due
    /// already). Running jobs wake it through [`Scheduler::finished`]
    /// instead. `None`: nothing to wake for.
    pub fn next_wake(&self, now: Timestamp) -> Option<Timestamp> {
        self.slots
            .iter()
            .filter(|s| !s.running)
            .filter_map(|s| s.next_run(now))
            .min()
    }

    /// Each job's next run, never before `now`, for the API and the page.
    pub fn next_runs(&self, now: Timestamp) -> Vec<(String, Option<Timestamp>)> {
        self.slots
            .iter()
            .map(|s| (s.job.name.clone(), s.next_run(now)))
            .collect()
    }

    pub fn status(&self, now: Timestamp) -> Vec<JobStatus> {
        self.slots
            .iter()
            .map(|s| JobStatus {
                name: s.job.name.clone(),
                schedule: s.job.schedule.to_string(),
                running: s.running,
                last_run: s.job.last_run,
                last_finished: s.last_finished,
                next_run: s.next_run(now),
            })
            .collect()
    }

    fn slot(&self, name: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.job.name == name)
    }

    fn slot_mut(&mut self, name: &str) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.job.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MINUTE: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).expect("test timestamp")
    }

    fn sched(text: &str) -> Schedule {
        Schedule::parse(text).expect("test schedule")
    }

    // -- parsing ------------------------------------------------------------

    #[test]
    fn parses_intervals() {
        for (text, secs) in [
            ("15m", 900),
            ("1h", 3600),
            ("every 15m", 900),
            ("Every  2h", 7200),
            ("1h 30m", 5400),
            ("every 1h 30m", 5400),
            ("90s", 90),
            ("hourly", 3600),
            ("HOURLY", 3600),
            ("daily", 86_400),
            ("  every 1day ", 86_400),
        ] {
            assert_eq!(
                sched(text),
                Schedule::Every(Duration::from_secs(secs)),
                "{text}"
            );
        }
    }

    #[test]
    fn parses_cron_expressions() {
        for text in [
            "*/10 * * * *",
            "0 3 * * 1-5",
            "0  3 * *   MON-FRI",
            "@daily",
        ] {
            assert!(matches!(sched(text), Schedule::Cron(_)), "{text}");
        }
        assert_eq!(sched(" 0  3 * *   1-5 ").to_string(), "0 3 * * 1-5");
    }

    #[test]
    fn rejects_bad_inputs_saying_what_was_expected() {
        fn kind(e: &ScheduleError) -> &'static str {
            match e {
                ScheduleError::Empty => "empty",
                ScheduleError::MissingInterval => "missing",
                ScheduleError::ZeroInterval(_) => "zero",
                ScheduleError::FractionalInterval(_) => "fraction",
                ScheduleError::InvalidInterval { .. } => "interval",
                ScheduleError::InvalidCron { .. } => "cron",
                _ => "other",
            }
        }
        for (text, expected) in [
            ("", "empty"),
            ("   ", "empty"),
            ("0s", "zero"),
            ("every 0m", "zero"),
            ("every", "missing"),
            ("1500ms", "fraction"),
            ("61 * * * *", "cron"),
            ("* * *", "cron"),
            ("abc", "interval"),
        ] {
            let err = Schedule::parse(text).expect_err(text);
            assert_eq!(kind(&err), expected, "{text:?} gave {err:?}");
            assert!(!err.to_string().is_empty());
        }
        // Six fields (seconds) are not cron as we take it.
        assert!(matches!(
            Schedule::parse("0 0 3 * * *"),
            Err(ScheduleError::InvalidCron { .. })
        ));
        assert!(matches!(
            Schedule::parse("every */5 * * * *"),
            Err(ScheduleError::InvalidInterval { .. })
        ));
        let msg = Schedule::parse("abc").expect_err("abc").to_string();
        assert!(msg.contains("\"15m\"") && msg.contains("cron"), "{msg}");
        let msg = Schedule::parse("61 * * * *").expect_err("61").to_string();
        assert!(msg.contains("5 fields"), "{msg}");
    }

    #[test]
    fn default_is_hourly_and_display_is_canonical() {
        assert_eq!(Schedule::default(), Schedule::Every(HOUR));
        assert_eq!(Schedule::default().to_string(), "every 1h");
        assert_eq!(sched("90m").to_string(), "every 1h 30m");
        assert_eq!(sched("daily").to_string(), "every 1day");
        for text in ["every 1h", "every 1h 30m", "every 1day", "*/10 * * * *"] {
            assert_eq!(sched(text).to_string(), text);
            assert_eq!(sched(&sched(text).to_string()), sched(text));
        }
    }

    #[test]
    fn serde_round_trips_as_strings() {
        let json = serde_json::to_string(&sched("0 3 * * 1-5")).expect("ser");
        assert_eq!(json, "\"0 3 * * 1-5\"");
        let back: Schedule = serde_json::from_str("\"every 15m\"").expect("de");
        assert_eq!(back, Schedule::Every(15 * MINUTE));
        assert!(serde_json::from_str::<Schedule>("\"0s\"").is_err());
        let t = ts("2026-11-25T01:13:07Z");
        assert_eq!(
            serde_json::to_string(&t).expect("ser"),
            "\"2026-11-25T01:13:07Z\""
        );
    }

    // -- time ---------------------------------------------------------------

    #[test]
    fn timestamps_format_as_rfc3339_utc() {
        assert_eq!(Timestamp::UNIX_EPOCH.to_rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_unix_seconds(-1).to_rfc3339(),
            "1969-12-31T23:59:59Z"
        );
        let t = ts("2026-11-25T01:13:07Z");
        assert_eq!(t.to_string(), "2026-11-25T01:13:07Z");
        assert_eq!(ts("2026-11-25T01:13:07.900Z"), t);
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
        assert_eq!(Timestamp::from(t.to_system_time().expect("fits")), t);
    }

    #[test]
    fn manual_clock_advances_and_is_shared_by_clones() {
        let clock = ManualClock::new(ts("2026-01-01T00:00:00Z"));
        let server_side = clock.clone();
        clock.advance(90 * MINUTE);
        assert_eq!(server_side.now(), ts("2026-01-01T01:30:00Z"));
        clock.set(ts("2025-12-31T00:00:00Z"));
        assert_eq!(server_side.now(), ts("2025-12-31T00:00:00Z"));
        let dyn_clock: Arc<dyn Clock> = Arc::new(server_side);
        assert_eq!(dyn_clock.now(), ts("2025-12-31T00:00:00Z"));
        assert!(SystemClock.now() > ts("2020-01-01T00:00:00Z"));
    }

    // -- next ticks ---------------------------------------------------------

    #[test]
    fn intervals_anchor_on_the_last_run() {
        let s = sched("every 15m");
        let last = ts("2026-11-25T01:13:07Z");
        assert_eq!(s.next_after(last), Some(ts("2026-11-25T01:28:07Z")));
        assert_eq!(
            due(&s, Some(last), ts("2026-11-25T01:28:06Z")),
            Decision::WaitUntil(ts("2026-11-25T01:28:07Z"))
        );
        assert_eq!(
            due(&s, Some(last), ts("2026-11-25T01:28:07Z")),
            Decision::Due
        );
        // Never ran: due at once (start-up safety-net run).
        assert_eq!(due(&s, None, last), Decision::Due);
    }

    #[test]
    fn cron_next_tick_is_the_next_utc_match() {
        let every10 = sched("*/10 * * * *");
        assert_eq!(
            every10.next_after(ts("2026-11-25T01:13:07Z")),
            Some(ts("2026-11-25T01:20:00Z"))
        );
        // Strictly after: on a match, the next one.
        assert_eq!(
            every10.next_after(ts("2026-11-25T01:20:00Z")),
            Some(ts("2026-11-25T01:30:00Z"))
        );
        // 2026-11-27 is a Friday: weekdays at 03:00 skip to Monday.
        let weekdays = sched("0 3 * * 1-5");
        assert_eq!(
            weekdays.next_after(ts("2026-11-27T04:00:00Z")),
            Some(ts("2026-11-30T03:00:00Z"))
        );
        assert_eq!(
            weekdays.next_after(ts("2026-11-25T02:59:59Z")),
            Some(ts("2026-11-25T03:00:00Z"))
        );
        assert_eq!(
            sched("0 0 29 2 *").next_after(ts("2025-03-01T00:00:00Z")),
            Some(ts("2028-02-29T00:00:00Z"))
        );
        assert_eq!(
            sched("0 0 30 2 *").next_after(ts("2026-01-01T00:00:00Z")),
            None
        );
    }

    #[test]
    fn clock_set_back_waits_at_most_one_period() {
        let s = sched("1h");
        let last = ts("2026-01-01T12:00:00Z");
        let now = ts("2026-01-01T09:00:00Z");
        assert_eq!(
            due(&s, Some(last), now),
            Decision::WaitUntil(ts("2026-01-01T10:00:00Z"))
        );
    }

    // -- scheduler ----------------------------------------------------------

    #[test]
    fn ten_hours_of_downtime_run_an_hourly_job_once() {
        for schedule in [Schedule::hourly(), sched("0 * * * *")] {
            let clock = ManualClock::new(ts("2026-01-01T00:00:00Z"));
            let mut s = Scheduler::new();
            s.add(Job::new("sync", schedule).with_last_run(Some(clock.now())))
                .expect("add");
            clock.advance(10 * HOUR);
            assert_eq!(s.due_jobs(clock.now()), vec!["sync".to_string()]);
            assert!(s.due_jobs(clock.now()).is_empty());
            clock.advance(MINUTE);
            assert!(s.finished("sync", clock.now()));
            assert!(s.due_jobs(clock.now()).is_empty());
            assert_eq!(s.next_wake(clock.now()), Some(ts("2026-01-01T11:00:00Z")));
            clock.set(ts("2026-01-01T11:00:00Z"));
            assert_eq!(s.due_jobs(clock.now()), vec!["sync".to_string()]);
        }
    }

    #[test]
    fn never_run_jobs_start_at_once_then_follow_the_schedule() {
        let clock = ManualClock::new(ts("2026-01-01T00:10:00Z"));
        let mut s = Scheduler::new();
        s.add(Job::new("mirror", sched("every 30m"))).expect("add");
        assert_eq!(s.next_wake(clock.now()), Some(clock.now()));
        assert_eq!(s.due_jobs(clock.now()), vec!["mirror".to_string()]);
        s.finished("mirror", clock.now());
        assert_eq!(s.next_wake(clock.now()), Some(ts("2026-01-01T00:40:00Z")));
    }

    #[test]
    fn a_running_job_is_not_started_twice_and_reruns_once_after() {
        let clock = ManualClock::new(ts("2026-01-01T00:00:00Z"));
        let mut s = Scheduler::new();
        s.add(Job::new("snapshot", sched("10m"))).expect("add");
        assert_eq!(s.due_jobs(clock.now()).len(), 1);
        assert!(s.is_running("snapshot"));
        // Three ticks pass while it runs.
        for _ in 0..3 {
            clock.advance(10 * MINUTE);
            assert!(s.due_jobs(clock.now()).is_empty());
        }
        assert_eq!(
            s.next_wake(clock.now()),
            None,
            "running jobs wake on finish"
        );
        clock.advance(MINUTE);
        assert!(s.finished("snapshot", clock.now()));
        assert!(!s.finished("snapshot", clock.now()), "only once");
        assert_eq!(s.next_wake(clock.now()), Some(clock.now()));
        assert_eq!(s.due_jobs(clock.now()), vec!["snapshot".to_string()]);
        s.finished("snapshot", clock.now());
        assert!(s.due_jobs(clock.now()).is_empty());
        assert_eq!(s.next_wake(clock.now()), Some(ts("2026-01-01T00:41:00Z")));
    }

    #[test]
    fn next_wake_picks_the_earliest_and_status_reports_next_runs() {
        let start = ts("2026-01-01T00:00:00Z");
        let mut s = Scheduler::new();
        s.add(Job::new("a", sched("1h")).with_last_run(Some(start)))
            .expect("add");
        s.add(Job::new("b", sched("*/10 * * * *")).with_last_run(Some(start)))
            .expect("add");
        s.add(Job::new("c", sched("daily")).with_last_run(Some(start)))
            .expect("add");
        assert_eq!(
            s.add(Job::new("a", sched("1m"))),
            Err(ScheduleError::DuplicateJob("a".into()))
        );
        let now = ts("2026-01-01T00:05:00Z");
        assert_eq!(s.next_wake(now), Some(ts("2026-01-01T00:10:00Z")));
        assert_eq!(
            s.next_runs(now),
            vec![
                ("a".to_string(), Some(ts("2026-01-01T01:00:00Z"))),
                ("b".to_string(), Some(ts("2026-01-01T00:10:00Z"))),
                ("c".to_string(), Some(ts("2026-01-02T00:00:00Z"))),
            ]
        );
        let status = s.status(now);
        assert_eq!(status[1].schedule, "*/10 * * * *");
        assert!(!status[1].running);
        let json = serde_json::to_value(&status[0]).expect("json");
        assert_eq!(json["next_run"], "2026-01-01T01:00:00Z");
        assert_eq!(json["last_finished"], serde_json::Value::Null);

        assert!(s.set_schedule("c", sched("1m")));
        assert_eq!(s.next_wake(now), Some(now));
        assert_eq!(s.remove("c").map(|j| j.name), Some("c".to_string()));
        assert_eq!(s.jobs().count(), 2);
    }

    // -- properties ---------------------------------------------------------

    fn any_schedule() -> impl Strategy<Value = Schedule> {
        prop_oneof![
            (1u64..2_000_000).prop_map(|s| Schedule::Every(Duration::from_secs(s))),
            prop::sample::select(vec![
                "* * * * *",
                "*/10 * * * *",
                "0 3 * * 1-5",
                "30 2 1 * *",
                "0 0 29 2 *",
                "15,45 */6 * 1,7 SUN",
            ])
            .prop_map(sched),
        ]
    }

    /// 1900..2200, wide enough for calendars, fast enough for croner.
    fn any_time() -> impl Strategy<Value = Timestamp> {
        (-2_208_988_800i64..7_258_118_400).prop_map(Timestamp::from_unix_seconds)
    }

    #[derive(Debug, Clone)]
    enum Op {
        Advance(u64),
        Finish(usize),
        Tick,
    }

    fn any_op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u64..200_000).prop_map(Op::Advance),
            (0usize..4).prop_map(Op::Finish),
            Just(Op::Tick),
        ]
    }

    proptest! {
        #[test]
        fn next_after_is_strictly_later(s in any_schedule(), t in any_time()) {
            let next = s.next_after(t);
            prop_assert!(next.is_none_or(|n| n > t), "{s}: {t} -> {next:?}");
        }

        #[test]
        fn interval_display_round_trips(secs in 1u64..100_000_000) {
            let s = Schedule::Every(Duration::from_secs(secs));
            prop_assert_eq!(Schedule::parse(&s.to_string()), Ok(s));
        }

        #[test]
        fn rfc3339_matches_humantime(secs in 0i64..253_402_300_799) {
            let t = Timestamp::from_unix_seconds(secs);
            let system = t.to_system_time().expect("fits");
            prop_assert_eq!(
                t.to_rfc3339(),
                humantime::format_rfc3339_seconds(system).to_string()
            );
            prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Ok(t));
        }

        #[test]
        fn downtime_of_any_length_runs_once(
            s in any_schedule(),
            last in any_time(),
            down in 0i64..10_000_000,
        ) {
            let now = Timestamp::from_unix_seconds(last.unix_seconds() + down);
            let mut sched = Scheduler::new();
            sched.add(Job::new("j", s.clone()).with_last_run(Some(last))).expect("add");
            let started = sched.due_jobs(now);
            let expected = due(&s, Some(last), now) == Decision::Due;
            prop_assert_eq!(started.len(), usize::from(expected));
            sched.finished("j", now);
            prop_assert!(sched.due_jobs(now).is_empty());
            // Counted from this run if it started, else still from `last`.
            let anchor = if expected { now } else { last };
            prop_assert_eq!(sched.next_wake(now), s.next_after(anchor));
        }

        #[test]
        fn no_job_starts_twice_until_finished(
            schedules in prop::collection::vec(any_schedule(), 1..4),
            lasts in prop::collection::vec(prop::option::of(any_time()), 4),
            start in any_time(),
            ops in prop::collection::vec(any_op(), 1..40),
        ) {
            let names: Vec<String> = (0..schedules.len()).map(|i| format!("job{i}")).collect();
            let mut sched = Scheduler::new();
            for (i, s) in schedules.iter().enumerate() {
                sched.add(Job::new(names[i].clone(), s.clone()).with_last_run(lasts[i])).expect("add");
            }
            let clock = ManualClock::new(start);
            let mut running = std::collections::BTreeSet::new();
            for op in ops {
                match op {
                    Op::Advance(secs) => clock.advance(Duration::from_secs(secs)),
                    Op::Finish(i) => {
                        let Some(name) = names.get(i) else { continue };
                        prop_assert_eq!(sched.finished(name, clock.now()), running.remove(name));
                    }
                    Op::Tick => {
                        let now = clock.now();
                        for name in sched.due_jobs(now) {
                            prop_assert!(running.insert(name.clone()), "{} started twice", name);
                        }
                        // Nothing left due, so the driver never spins.
                        prop_assert!(sched.next_wake(now).is_none_or(|w| w > now));
                    }
                }
                for name in &names {
                    prop_assert_eq!(sched.is_running(name), running.contains(name));
                }
            }
        }
    }
}
