//! Jobs run in this process (see [`crate::executor`]), one at a time per
//! workspace: syncs, mirror runs and check snapshots all touch the work
//! trees, so they never overlap. A request for a job that is already
//! waiting joins it instead of queueing another, which bounds the queue
//! (a webhook flood costs one extra run, not one per request).

use crate::auth::redact;
use serde::Serialize;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, broadcast};

/// What a queued job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Sync,
    Mirror,
    Check,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Sync => "sync",
            JobKind::Mirror => "mirror",
            JobKind::Check => "check",
        }
    }

    pub fn parse(text: &str) -> Option<JobKind> {
        match text {
            "sync" => Some(JobKind::Sync),
            "mirror" => Some(JobKind::Mirror),
            "check" => Some(JobKind::Check),
            _ => None,
        }
    }
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct JobRecord {
    pub id: String,
    pub kind: JobKind,
    /// `queued`, `running` or `finished`.
    pub state: &'static str,
    /// Who asked: `api:<token name>`, `webhook:<name>`, `schedule`.
    pub trigger: String,
    /// The job as `concord` flags, for people.
    pub args: Vec<String>,
    #[serde(skip)]
    pub spec: JobSpec,
    pub queued_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    /// `clean`, `drift`, `config-error`, `partial-failure`, `cancelled`,
    /// `failed`.
    pub outcome: Option<&'static str>,
    /// How far a running job is: the stretch of work it is in.
    pub progress: Option<JobProgress>,
    /// Someone asked it to stop (or it ran past its time limit): it stops
    /// at the next point where nothing is half-written.
    pub cancel_requested: bool,
    pub exit_code: Option<i32>,
    /// The command's `--json` output, when it printed JSON.
    pub output: Option<Value>,
    /// The end of its standard error, tokens redacted.
    pub errors: Option<String>,
}

/// What a job is asked to do besides its kind (a sync's `--only`,
/// `--rule` and `--full`), as typed values: a job never becomes a command
/// line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobSpec {
    pub only: Option<String>,
    pub rule: Option<String>,
    pub full: bool,
}

impl JobSpec {
    /// A sync of one `[[sync]]` rule.
    pub fn rule(rule: &str) -> JobSpec {
        JobSpec {
            rule: Some(rule.to_string()),
            ..JobSpec::default()
        }
    }

    /// How the job reads as `concord` flags, for people (the API's `args`).
    fn describe(&self, kind: JobKind, sync_flags: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = match kind {
            JobKind::Sync => {
                let mut a = vec!["sync".to_string(), "--json".to_string()];
                a.extend(sync_flags.iter().map(|f| f.to_string()));
                a
            }
            JobKind::Mirror => vec!["mirror".into(), "--json".into()],
            JobKind::Check => vec![
                "check".into(),
                "--snapshot".into(),
                "--format".into(),
                "json".into(),
            ],
        };
        if let Some(only) = &self.only {
            args.extend(["--only".to_string(), only.clone()]);
        }
        if let Some(rule) = &self.rule {
            args.extend(["--rule".to_string(), rule.clone()]);
        }
        if self.full {
            args.push("--full".into());
        }
        args
    }
}

/// One job as the executor gets it.
#[derive(Debug, Clone)]
pub struct JobRequest {
    pub kind: JobKind,
    pub spec: JobSpec,
    /// The job's id, which its journal entries and commits carry.
    pub run_id: String,
    /// Who the journal names.
    pub actor: String,
}

/// How far a running job is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct JobProgress {
    /// The stretch of work (`writing files`, `writing the hub`, ...).
    pub stage: String,
    pub done: u64,
    pub total: u64,
}

/// Runs a job to its end, in this process (`concord serve` gives one that
/// calls concord-app). It blocks: the queue runs it on a blocking thread.
/// `control` takes its progress and says whether it was asked to stop.
pub trait Executor: Send + Sync + 'static {
    fn run(&self, job: &JobRequest, control: &JobControl) -> Finished;
    /// The flags every sync gets (`--pull`, `--push`), for `describe`.
    fn sync_flags(&self) -> Vec<&'static str> {
        Vec::new()
    }
}

/// The result of one job.
#[derive(Debug, Clone)]
pub struct Finished {
    pub exit_code: Option<i32>,
    pub output: Option<Value>,
    pub errors: String,
    pub duration: Duration,
    /// It stopped early because it was asked to (nothing half-written).
    pub cancelled: bool,
}

impl Finished {
    pub fn outcome(&self) -> &'static str {
        if self.cancelled {
            return "cancelled";
        }
        match self.exit_code {
            Some(0) => "clean",
            Some(1) => "drift",
            Some(2) => "config-error",
            Some(3) => "partial-failure",
            _ => "failed",
        }
    }
}

const RECORDS_KEPT: usize = 200;

struct State {
    records: VecDeque<JobRecord>,
    /// Ids of queued jobs, oldest first.
    queue: VecDeque<String>,
    /// The running job's id and its stop flag.
    running: Option<(String, Arc<AtomicBool>)>,
}

/// The queue and its worker.
#[derive(Clone)]
pub struct Jobs {
    state: Arc<Mutex<State>>,
    wake: Arc<Notify>,
    executor: Arc<dyn Executor>,
    /// How long a job may run before its record says it overran.
    timeout: Duration,
    /// `run-finished` events for the page's live refresh.
    pub events: broadcast::Sender<Value>,
    /// A line on standard error when a job starts and ends.
    log: bool,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves plain data behind: keep going.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether `submit` started a new job or joined a waiting one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Submitted {
    Queued,
    Joined,
}

impl Jobs {
    pub fn new(executor: Arc<dyn Executor>, timeout: Duration) -> Jobs {
        let (events, _) = broadcast::channel(64);
        Jobs {
            state: Arc::new(Mutex::new(State {
                records: VecDeque::new(),
                queue: VecDeque::new(),
                running: None,
            })),
            wake: Arc::new(Notify::new()),
            executor,
            timeout,
            events,
            log: false,
        }
    }

    /// Say on standard error when each job starts and ends.
    pub fn logging(mut self, log: bool) -> Jobs {
        self.log = log;
        self
    }

    /// Queue a job, or join the waiting one of the same kind and spec.
    pub fn submit(&self, kind: JobKind, spec: &JobSpec, trigger: &str) -> (JobRecord, Submitted) {
        let args = spec.describe(kind, &self.executor.sync_flags());
        let mut state = lock(&self.state);
        let waiting = state
            .queue
            .iter()
            .filter_map(|id| state.records.iter().find(|r| &r.id == id))
            .find(|r| r.kind == kind && r.spec == *spec)
            .cloned();
        if let Some(record) = waiting {
            return (record, Submitted::Joined);
        }
        let id = new_job_id();
        let record = JobRecord {
            id: id.clone(),
            kind,
            state: "queued",
            trigger: trigger.to_string(),
            args,
            spec: spec.clone(),
            queued_at: now(),
            started_at: None,
            finished_at: None,
            duration_ms: None,
            outcome: None,
            progress: None,
            cancel_requested: false,
            exit_code: None,
            output: None,
            errors: None,
        };
        state.records.push_back(record.clone());
        while state.records.len() > RECORDS_KEPT {
            // Drop the oldest finished record; queued and running ones stay.
            match state.records.iter().position(|r| r.state == "finished") {
                Some(i) => {
                    state.records.remove(i);
                }
                None => break,
            }
        }
        state.queue.push_back(id);
        drop(state);
        self.wake.notify_one();
        (record, Submitted::Queued)
    }

    pub fn get(&self, id: &str) -> Option<JobRecord> {
        lock(&self.state)
            .records
            .iter()
            .find(|r| r.id == id)
            .cloned()
    }

    /// Newest first.
    pub fn recent(&self, limit: usize) -> Vec<JobRecord> {
        lock(&self.state)
            .records
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect()
    }

    /// Whether a job of `kind` is queued or running.
    pub fn busy(&self, kind: JobKind) -> bool {
        lock(&self.state)
            .records
            .iter()
            .any(|r| r.kind == kind && r.state != "finished")
    }

    /// Run queued jobs one after another, forever.
    pub async fn work(self) {
        loop {
            let next = {
                let mut state = lock(&self.state);
                let id = state.queue.pop_front();
                if let Some(id) = &id
                    && let Some(record) = state.records.iter_mut().find(|r| &r.id == id)
                {
                    record.state = "running";
                    record.started_at = Some(now());
                    state.running = Some((id.clone(), Arc::new(AtomicBool::new(false))));
                }
                id.and_then(|id| state.records.iter().find(|r| r.id == id).cloned())
            };
            let Some(record) = next else {
                self.wake.notified().await;
                continue;
            };
            if self.log {
                eprintln!(
                    "{} job {} started: concord {} ({})",
                    now(),
                    record.id,
                    record.args.join(" "),
                    record.trigger
                );
            }
            let finished = self.run_one(&record).await;
            if self.log {
                eprintln!(
                    "{} job {} finished: {} in {:.1}s{}",
                    now(),
                    record.id,
                    finished.outcome(),
                    finished.duration.as_secs_f64(),
                    if finished.errors.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", finished.errors.lines().last().unwrap_or(""))
                    }
                );
            }
            let done = {
                let mut state = lock(&self.state);
                state.running = None;
                state
                    .records
                    .iter_mut()
                    .find(|r| r.id == record.id)
                    .map(|r| {
                        r.state = "finished";
                        r.finished_at = Some(now());
                        r.duration_ms = u64::try_from(finished.duration.as_millis()).ok();
                        r.outcome = Some(finished.outcome());
                        r.exit_code = finished.exit_code;
                        r.output = finished.output.clone();
                        r.errors = Some(finished.errors.clone()).filter(|e| !e.is_empty());
                        r.progress = None;
                        r.clone()
                    })
            };
            if let Some(done) = done {
                self.announce_finished(&done);
            }
        }
    }
}

/// What [`Jobs::cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Cancel {
    /// It was still queued: it will not run.
    Dequeued,
    /// It is running: it stops at the next point where nothing is
    /// half-written (or finishes, if it is already writing).
    Stopping,
}

/// Why [`Jobs::cancel`] did nothing.
#[derive(Debug, Clone)]
pub enum CancelRefused {
    Unknown,
    Finished(Box<JobRecord>),
}

impl Jobs {
    /// Ask job `id` to stop: a queued job leaves the queue, a running one
    /// is told to stop at its next safe point.
    pub fn cancel(&self, id: &str) -> Result<(JobRecord, Cancel), CancelRefused> {
        let mut state = lock(&self.state);
        let stop = state
            .running
            .as_ref()
            .filter(|(running, _)| running == id)
            .map(|(_, stop)| stop.clone());
        let queued = state.queue.iter().position(|q| q == id);
        if let Some(at) = queued {
            state.queue.remove(at);
        }
        let record = state
            .records
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or(CancelRefused::Unknown)?;
        if queued.is_some() {
            record.state = "finished";
            record.finished_at = Some(now());
            record.outcome = Some("cancelled");
            record.cancel_requested = true;
            record.errors = Some("cancelled before it started".into());
            let done = record.clone();
            drop(state);
            self.announce_finished(&done);
            return Ok((done, Cancel::Dequeued));
        }
        match stop {
            Some(stop) => {
                stop.store(true, Ordering::SeqCst);
                record.cancel_requested = true;
                Ok((record.clone(), Cancel::Stopping))
            }
            None => Err(CancelRefused::Finished(Box::new(record.clone()))),
        }
    }

    fn announce_finished(&self, done: &JobRecord) {
        let _ = self.events.send(serde_json::json!({
            "type": "run-finished",
            "id": done.id,
            "kind": done.kind,
            "outcome": done.outcome,
        }));
    }

    /// The running job's controls: its stop flag, and its progress going
    /// into its record and out as `job-progress` events.
    fn control(&self, id: &str) -> JobControl {
        let stop = lock(&self.state)
            .running
            .as_ref()
            .filter(|(running, _)| running == id)
            .map(|(_, stop)| stop.clone())
            .unwrap_or_default();
        JobControl {
            id: id.to_string(),
            stop,
            state: self.state.clone(),
            events: self.events.clone(),
        }
    }

    /// Run one job on a blocking thread. Past its time limit it is asked
    /// to stop at its next safe point (a job already writing finishes its
    /// writes first); the queue waits for it either way: jobs never overlap.
    async fn run_one(&self, record: &JobRecord) -> Finished {
        let request = JobRequest {
            kind: record.kind,
            spec: record.spec.clone(),
            run_id: record.id.clone(),
            actor: format!("concord-serve ({})", record.trigger),
        };
        let executor = self.executor.clone();
        let control = self.control(&record.id);
        let stop = control.stop.clone();
        let started = Instant::now();
        let mut handle = tokio::task::spawn_blocking(move || executor.run(&request, &control));
        let joined = match tokio::time::timeout(self.timeout, &mut handle).await {
            Ok(joined) => joined,
            Err(_) => {
                if self.log {
                    eprintln!(
                        "{} job {} is past its time limit of {}s; asked it to stop",
                        now(),
                        record.id,
                        self.timeout.as_secs()
                    );
                }
                stop.store(true, Ordering::SeqCst);
                self.mark_cancel_requested(&record.id);
                let mut late = handle.await;
                if let Ok(finished) = &mut late {
                    let what = if finished.cancelled {
                        "stopped: past"
                    } else {
                        "ran past"
                    };
                    finished.errors = format!(
                        "{what} the time limit of {}s{}{}",
                        self.timeout.as_secs(),
                        if finished.errors.is_empty() { "" } else { "; " },
                        finished.errors
                    );
                }
                late
            }
        };
        joined.unwrap_or_else(|e| Finished {
            exit_code: None,
            output: None,
            errors: redact(&format!("the job stopped: {e}")),
            duration: started.elapsed(),
            cancelled: false,
        })
    }

    fn mark_cancel_requested(&self, id: &str) {
        if let Some(record) = lock(&self.state).records.iter_mut().find(|r| r.id == id) {
            record.cancel_requested = true;
        }
    }
}

/// What a running job reports its progress to and learns from whether to
/// stop: `concord_app`'s [`concord_app::Progress`], kept in the job's
/// record and sent as `job-progress` events (at most a few a second).
#[derive(Clone)]
pub struct JobControl {
    id: String,
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<Value>,
}

impl JobControl {
    fn show(&self, progress: JobProgress, announce: bool) {
        if let Some(record) = lock(&self.state)
            .records
            .iter_mut()
            .find(|r| r.id == self.id)
        {
            record.progress = Some(progress.clone());
        }
        if announce {
            let _ = self.events.send(serde_json::json!({
                "type": "job-progress",
                "id": self.id,
                "stage": progress.stage,
                "done": progress.done,
                "total": progress.total,
            }));
        }
    }
}

impl concord_app::Progress for JobControl {
    fn bar(&self, len: usize, what: &str) -> Box<dyn concord_app::Bar> {
        let total = len as u64;
        let bar = JobBar {
            control: self.clone(),
            stage: what.to_string(),
            done: AtomicU64::new(0),
            total,
            last_sent: Mutex::new(Instant::now()),
        };
        bar.control.show(bar.snapshot(0), true);
        Box::new(bar)
    }

    fn cancelled(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Events about one stretch are sent at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

struct JobBar {
    control: JobControl,
    stage: String,
    done: AtomicU64,
    total: u64,
    last_sent: Mutex<Instant>,
}

impl JobBar {
    fn snapshot(&self, done: u64) -> JobProgress {
        JobProgress {
            stage: self.stage.clone(),
            done: done.min(self.total),
            total: self.total,
        }
    }
}

impl concord_app::Bar for JobBar {
    fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        let announce = {
            let mut last = self.last_sent.lock().unwrap_or_else(|e| e.into_inner());
            let due = last.elapsed() >= PROGRESS_EVERY;
            if due {
                *last = Instant::now();
            }
            due
        };
        self.control.show(self.snapshot(done), announce);
    }

    fn finish(&self) {
        self.control.show(self.snapshot(self.total), true);
    }
}

pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Sortable like the CLI's run ids: time, then randomness.
fn new_job_id() -> String {
    let compact: String = now().chars().filter(char::is_ascii_digit).collect();
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    format!("{compact}-{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_app::Progress;

    /// A job that reports three steps of progress, then waits until it is
    /// asked to stop (or 10 s pass) and says whether it was.
    struct Waits;

    impl Executor for Waits {
        fn run(&self, _: &JobRequest, control: &JobControl) -> Finished {
            let bar = control.bar(3, "writing files");
            bar.inc(1);
            let started = Instant::now();
            while !control.cancelled() && started.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(10));
            }
            Finished {
                exit_code: Some(if control.cancelled() { 3 } else { 0 }),
                output: None,
                errors: String::new(),
                duration: started.elapsed(),
                cancelled: control.cancelled(),
            }
        }
    }

    async fn until(jobs: &Jobs, id: &str, what: impl Fn(&JobRecord) -> bool) -> JobRecord {
        for _ in 0..500 {
            if let Some(record) = jobs.get(id).filter(|r| what(r)) {
                return record;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("job {id} never got there: {:?}", jobs.get(id));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_running_job_shows_its_progress_and_stops_when_cancelled() {
        let jobs = Jobs::new(Arc::new(Waits), Duration::from_secs(60));
        tokio::spawn(jobs.clone().work());
        let (running, _) = jobs.submit(JobKind::Sync, &JobSpec::default(), "test");
        let (queued, _) = jobs.submit(JobKind::Mirror, &JobSpec::default(), "test");
        let shown = until(&jobs, &running.id, |r| {
            r.progress.as_ref().is_some_and(|p| p.done == 1)
        })
        .await;
        let progress = shown.progress.expect("progress");
        assert_eq!(
            (progress.stage.as_str(), progress.done, progress.total),
            ("writing files", 1, 3)
        );

        // The queued one leaves the queue and never runs.
        let (record, done) = jobs.cancel(&queued.id).expect("cancel queued");
        assert_eq!(done, Cancel::Dequeued);
        assert_eq!(
            (record.state, record.outcome),
            ("finished", Some("cancelled"))
        );

        let (_, done) = jobs.cancel(&running.id).expect("cancel running");
        assert_eq!(done, Cancel::Stopping);
        let ended = until(&jobs, &running.id, |r| r.state == "finished").await;
        assert_eq!(ended.outcome, Some("cancelled"));
        assert!(
            ended.cancel_requested && ended.progress.is_none(),
            "{ended:?}"
        );
        assert!(matches!(
            jobs.cancel(&running.id),
            Err(CancelRefused::Finished(_))
        ));
        assert!(matches!(jobs.cancel("nope"), Err(CancelRefused::Unknown)));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            jobs.get(&queued.id).map(|r| r.started_at),
            Some(None),
            "never started"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_past_its_time_limit_is_asked_to_stop() {
        let jobs = Jobs::new(Arc::new(Waits), Duration::from_millis(200));
        tokio::spawn(jobs.clone().work());
        let (record, _) = jobs.submit(JobKind::Sync, &JobSpec::default(), "test");
        let ended = until(&jobs, &record.id, |r| r.state == "finished").await;
        assert_eq!(ended.outcome, Some("cancelled"), "{ended:?}");
        let errors = ended.errors.unwrap_or_default();
        assert!(
            errors.starts_with("stopped: past the time limit"),
            "{errors}"
        );
        assert!(
            ended.duration_ms.is_some_and(|ms| ms < 5_000),
            "it stopped early"
        );
    }
}
