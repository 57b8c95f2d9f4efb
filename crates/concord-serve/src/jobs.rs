//! Jobs run the `concord` binary as a child process, one at a time per
//! workspace: syncs, mirror runs and check snapshots all touch the work
//! trees, so they never overlap. A request for a job that is already
//! waiting joins it instead of queueing another, which bounds the queue
//! (a webhook flood costs one extra run, not one per request).

use crate::auth::redact;
use serde::Serialize;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, broadcast};

/// What a queued job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
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
    /// `clean`, `drift`, `config-error`, `partial-failure`, `failed`.
    pub outcome: Option<&'static str>,
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

/// Runs a job to its end, in this process (`concord serve` gives one that
/// calls concord-app). It blocks: the queue runs it on a blocking thread.
pub trait Executor: Send + Sync + 'static {
    fn run(&self, job: &JobRequest) -> Finished;
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
}

impl Finished {
    pub fn outcome(&self) -> &'static str {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
                        r.clone()
                    })
            };
            if let Some(done) = done {
                let _ = self.events.send(serde_json::json!({
                    "type": "run-finished",
                    "id": done.id,
                    "kind": done.kind,
                    "outcome": done.outcome,
                }));
            }
        }
    }
}

impl Jobs {
    /// Run one job on a blocking thread. A job cannot be stopped halfway
    /// (it may be between writes), so past its time limit its record says
    /// it overran and the queue still waits for it: jobs never overlap.
    async fn run_one(&self, record: &JobRecord) -> Finished {
        let request = JobRequest {
            kind: record.kind,
            spec: record.spec.clone(),
            run_id: record.id.clone(),
            actor: format!("concord-serve ({})", record.trigger),
        };
        let executor = self.executor.clone();
        let started = Instant::now();
        let mut handle = tokio::task::spawn_blocking(move || executor.run(&request));
        let joined = match tokio::time::timeout(self.timeout, &mut handle).await {
            Ok(joined) => joined,
            Err(_) => {
                if self.log {
                    eprintln!(
                        "{} job {} is past its time limit of {}s; waiting for it to end",
                        now(),
                        record.id,
                        self.timeout.as_secs()
                    );
                }
                let mut late = handle.await;
                if let Ok(finished) = &mut late {
                    finished.errors = format!(
                        "ran past the time limit of {}s{}{}",
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
        })
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
