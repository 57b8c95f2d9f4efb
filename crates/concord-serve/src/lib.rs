//! `concord serve`: the hub over HTTP. A JSON API under `/api/v1` (with
//! its OpenAPI document), bearer-token auth, signed webhooks that trigger
//! syncs, a scheduler for safety-net runs, and the control-room page.
//!
//! Set, log, explain, history and the summary run in process: the
//! `concord-app` use cases on blocking threads of the server's runtime.
//! Jobs (sync, mirror, check snapshots) still run the `concord` binary
//! itself as a child process: the server never holds a work tree lock
//! longer than a job, and a job's failure cannot take the server down.
#![forbid(unsafe_code)]

pub mod auth;
pub mod bodies;
pub mod executor;
pub mod jobs;
pub mod openapi;
pub mod page;
pub mod schedule;
pub mod server;

use schedule::{Clock, Job, Schedule, Scheduler, Timestamp};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Everything `concord serve` is started with.
pub struct Options {
    pub bind: SocketAddr,
    pub settings: server::Settings,
    /// What runs the jobs (in process: [`executor::InProcess`]).
    pub executor: Arc<dyn jobs::Executor>,
    /// How long a job may run before its record says it overran.
    pub job_timeout: std::time::Duration,
    /// Scheduled safety-net jobs.
    pub schedules: Vec<Scheduled>,
    pub clock: Arc<dyn Clock>,
    /// One line per request and per job on standard error (never a token).
    pub log: bool,
}

/// A job run on a schedule: `sync`, `mirror`, `check`, or `sync:<rule>`
/// (a sync of one rule).
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub name: String,
    pub kind: jobs::JobKind,
    /// What the job is asked to do besides its kind (e.g. one rule).
    pub spec: jobs::JobSpec,
    pub schedule: Schedule,
}

impl Scheduled {
    pub fn new(kind: jobs::JobKind, schedule: Schedule) -> Scheduled {
        Scheduled {
            name: kind.as_str().to_string(),
            kind,
            spec: jobs::JobSpec::default(),
            schedule,
        }
    }

    /// A sync of one `[[sync]]` rule.
    pub fn rule(rule: &str, schedule: Schedule) -> Scheduled {
        Scheduled {
            name: format!("sync:{rule}"),
            kind: jobs::JobKind::Sync,
            spec: jobs::JobSpec::rule(rule),
            schedule,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

/// Hub watermark of a scheduled job's last start, so a restart does not
/// run every job again.
fn last_run_mark(job: &str) -> String {
    format!("@serve:last-run:{job}")
}

/// Serve until `shutdown` resolves. `ready` gets the bound address (the
/// port may have been 0).
pub async fn run(
    store: concord_store::Store,
    workspace: Arc<concord_workspace::Workspace>,
    options: Options,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|source| ServeError::Bind {
            addr: options.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServeError::Serve)?;
    let jobs = jobs::Jobs::new(options.executor, options.job_timeout).logging(options.log);
    tokio::spawn(jobs.clone().work());
    let view: server::ScheduleView = Arc::default();
    tokio::spawn(drive_schedule(
        store.clone(),
        jobs.clone(),
        options.schedules,
        options.clock,
        view.clone(),
    ));
    let app = server::App::new(store, workspace, jobs, options.settings, view);
    ready(addr);
    let mut router = server::router(app);
    if options.log {
        router = router.layer(axum::middleware::from_fn(access_log));
    }
    serve_connections(listener, router, shutdown).await;
    Ok(())
}

/// A client gets this long to send its request head (slow clients lose
/// their connection), and then this long for the whole request.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The accept loop: axum's own does not time out slow request heads.
async fn serve_connections(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let router = router.layer(axum::middleware::from_fn(request_timeout));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => return,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and the like: breathe, then go on.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// 408 for a request (body included) that takes too long; streams that
/// have started answering are not cut.
async fn request_timeout(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (
            axum::http::StatusCode::REQUEST_TIMEOUT,
            axum::Json(serde_json::json!({"error": {"status": 408, "message": "the request took too long"}})),
        )
            .into_response(),
    }
}

/// `<time> <method> <path?query> <status> <ms>` on standard error. Paths
/// and queries carry no secrets (tokens are refused in URLs); the line is
/// redacted all the same.
async fn access_log(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let target = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_string(),
        |p| p.as_str().to_string(),
    );
    let response = next.run(request).await;
    eprintln!(
        "{} {method} {} {} {:.1}ms",
        jobs::now(),
        auth::redact(&target),
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    response
}

/// The scheduler's imperative shell: wake at least every second, submit
/// what is due (a job still waiting is joined, never doubled), remember
/// each start in the hub.
async fn drive_schedule(
    store: concord_store::Store,
    jobs: jobs::Jobs,
    schedules: Vec<Scheduled>,
    clock: Arc<dyn Clock>,
    view: server::ScheduleView,
) {
    let mut scheduler = Scheduler::new();
    for job in &schedules {
        let last = store
            .watermark(&last_run_mark(&job.name))
            .await
            .ok()
            .flatten()
            .and_then(|m| Timestamp::parse_rfc3339(&m.position).ok());
        let _ = scheduler.add(Job::new(&job.name, job.schedule.clone()).with_last_run(last));
    }
    loop {
        let now = clock.now();
        for name in scheduler.due_jobs(now) {
            if let Some(job) = schedules.iter().find(|j| j.name == name) {
                jobs.submit(job.kind, &job.spec, "schedule");
            }
            scheduler.finished(&name, now);
            let _ = store
                .set_watermark(&concord_store::Watermark {
                    source: last_run_mark(&name),
                    position: now.to_rfc3339(),
                    updated_at: now.to_rfc3339(),
                })
                .await;
        }
        if let Ok(mut shown) = view.lock() {
            *shown = scheduler
                .status(now)
                .into_iter()
                .map(|s| {
                    serde_json::json!({
                        "job": s.name,
                        "every": s.schedule,
                        "last_run": s.last_run,
                        "next_run": s.next_run,
                    })
                })
                .collect();
        }
        let wait = scheduler
            .next_wake(now)
            .map_or(Duration::from_secs(1), |t| t.saturating_duration_since(now));
        tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schedule::ManualClock;

    /// A job that ends at once, clean: what is tested is when jobs are
    /// submitted, not what they do.
    struct Done;

    impl jobs::Executor for Done {
        fn run(&self, _: &jobs::JobRequest, _: &jobs::JobControl) -> jobs::Finished {
            jobs::Finished {
                exit_code: Some(0),
                output: None,
                errors: String::new(),
                duration: Duration::ZERO,
                cancelled: false,
            }
        }
    }

    /// The driver with an injected clock: a start-up run, then ten hours of
    /// downtime cost one run, not ten.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn missed_ticks_after_downtime_run_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = concord_store::Store::open("sqlite://hub.db", dir.path())
            .await
            .expect("hub");
        let clock = ManualClock::new(Timestamp::from_unix_seconds(1_790_000_000));
        let jobs = jobs::Jobs::new(Arc::new(Done), Duration::from_secs(10)).logging(false);
        tokio::spawn(jobs.clone().work());
        let view: server::ScheduleView = Arc::default();
        let driver = tokio::spawn(drive_schedule(
            store.clone(),
            jobs.clone(),
            vec![Scheduled::new(jobs::JobKind::Sync, Schedule::hourly())],
            Arc::new(clock.clone()),
            view.clone(),
        ));
        let settled = |count: usize| {
            let jobs = jobs.clone();
            async move {
                for _ in 0..100 {
                    let recent = jobs.recent(100);
                    if recent.len() == count && recent.iter().all(|j| j.state == "finished") {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                panic!("expected {count} finished jobs, got {:?}", jobs.recent(100));
            }
        };
        settled(1).await;
        clock.advance(Duration::from_secs(10 * 3600));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        settled(2).await;
        // Half an hour later: nothing; the next tick is an hour after the catch-up.
        clock.advance(Duration::from_secs(1800));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        settled(2).await;
        let shown = view.lock().map(|v| v.clone()).unwrap_or_default();
        let next = shown[0]["next_run"].as_str().unwrap_or("").to_string();
        let expected = Timestamp::from_unix_seconds(1_790_000_000 + 11 * 3600).to_rfc3339();
        assert_eq!(next, expected, "{shown:?}");
        // The start is kept in the hub for the next server.
        let mark = store
            .watermark(&last_run_mark("sync"))
            .await
            .expect("read")
            .expect("mark");
        assert_eq!(
            mark.position,
            Timestamp::from_unix_seconds(1_790_000_000 + 10 * 3600).to_rfc3339()
        );
        driver.abort();
    }
}
