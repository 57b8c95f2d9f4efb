//! Jobs run the `concord` binary as a child process, one at a time per
//! workspace: syncs, mirror runs and check snapshots all touch the work
//! trees, so they never overlap. A request for a job that is already
//! waiting joins it instead of queueing another, which bounds the queue
//! (a webhook flood costs one extra run, not one per request).

use crate::auth::redact;
use serde::Serialize;
use serde_json::Value;
use std::collections::VecDeque;
use std::path::PathBuf;
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
    pub args: Vec<String>,
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

/// How to run `concord`.
#[derive(Debug, Clone)]
pub struct Runner {
    pub exe: PathBuf,
    pub config: PathBuf,
    /// Extra arguments for every sync (e.g. `--pull`, `--push`).
    pub sync_args: Vec<String>,
    pub timeout: Duration,
}

/// The result of one child process.
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

const STDERR_KEPT: usize = 4000;
const RECORDS_KEPT: usize = 200;

impl Runner {
    /// `concord --config <file> <args…>` with `env`, to completion or the
    /// time limit (then killed).
    pub async fn run(&self, args: &[String], env: &[(&str, String)]) -> Finished {
        let started = Instant::now();
        let mut command = tokio::process::Command::new(&self.exe);
        command
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let outcome = tokio::time::timeout(self.timeout, command.output()).await;
        let duration = started.elapsed();
        match outcome {
            Ok(Ok(out)) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let tail: String = stderr
                    .chars()
                    .rev()
                    .take(STDERR_KEPT)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                Finished {
                    exit_code: out.status.code(),
                    output: serde_json::from_slice(&out.stdout).ok(),
                    errors: redact(tail.trim()),
                    duration,
                }
            }
            Ok(Err(e)) => Finished {
                exit_code: None,
                output: None,
                errors: format!("cannot run {}: {e}", self.exe.display()),
                duration,
            },
            Err(_) => Finished {
                exit_code: None,
                output: None,
                errors: format!("stopped after {}s", self.timeout.as_secs()),
                duration,
            },
        }
    }

    fn args_for(&self, kind: JobKind, extra: &[String]) -> Vec<String> {
        let mut args: Vec<String> = match kind {
            JobKind::Sync => {
                let mut a = vec!["sync".to_string(), "--json".to_string()];
                a.extend(self.sync_args.iter().cloned());
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
        args.extend(extra.iter().cloned());
        args
    }
}

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
    runner: Arc<Runner>,
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
    pub fn new(runner: Runner) -> Jobs {
        let (events, _) = broadcast::channel(64);
        Jobs {
            state: Arc::new(Mutex::new(State {
                records: VecDeque::new(),
                queue: VecDeque::new(),
            })),
            wake: Arc::new(Notify::new()),
            runner: Arc::new(runner),
            events,
            log: false,
        }
    }

    /// Say on standard error when each job starts and ends.
    pub fn logging(mut self, log: bool) -> Jobs {
        self.log = log;
        self
    }

    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// Queue a job, or join the waiting one of the same kind and arguments.
    pub fn submit(&self, kind: JobKind, extra: &[String], trigger: &str) -> (JobRecord, Submitted) {
        let args = self.runner.args_for(kind, extra);
        let mut state = lock(&self.state);
        let waiting = state
            .queue
            .iter()
            .filter_map(|id| state.records.iter().find(|r| &r.id == id))
            .find(|r| r.kind == kind && r.args == args)
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
            let env = [
                ("CONCORD_RUN_ID", record.id.clone()),
                (
                    "CONCORD_ACTOR",
                    format!("concord-serve ({})", record.trigger),
                ),
            ];
            if self.log {
                eprintln!(
                    "{} job {} started: concord {} ({})",
                    now(),
                    record.id,
                    record.args.join(" "),
                    record.trigger
                );
            }
            let finished = self.runner.run(&record.args, &env).await;
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
