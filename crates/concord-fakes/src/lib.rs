//! Faithful stand-ins for the trackers concord talks to, served over real
//! HTTP on loopback. They are the contract the clients are tested against,
//! so they reject what the real services reject.
//!
//! [`FakeServer::start`] serves a router on `127.0.0.1:<free port>` from
//! its own thread and runtime; the [`Control`] it returns injects latency
//! and failures and records every request.

pub mod github;
pub mod openproject;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub status: u16,
}

/// A failure to serve instead of the real answer, to the next matching
/// requests.
#[derive(Debug, Clone)]
pub struct Fault {
    /// `None`: any method.
    pub method: Option<String>,
    /// Requests whose path starts with this.
    pub path_prefix: String,
    pub status: u16,
    /// Sent as `Retry-After` (seconds), if set.
    pub retry_after: Option<u64>,
    pub content_type: String,
    pub body: String,
    /// How many matching requests get it.
    pub times: usize,
}

impl Fault {
    /// `status` with a JSON body, for `times` requests under `path_prefix`.
    pub fn status(status: u16, path_prefix: &str, times: usize) -> Self {
        Fault {
            method: None,
            path_prefix: path_prefix.into(),
            status,
            retry_after: None,
            content_type: "application/json".into(),
            body: format!(r#"{{"message":"injected failure {status}"}}"#),
            times,
        }
    }

    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn body(mut self, content_type: &str, body: &str) -> Self {
        self.content_type = content_type.into();
        self.body = body.into();
        self
    }
}

#[derive(Default)]
struct ControlState {
    latency: Duration,
    faults: VecDeque<Fault>,
    log: Vec<Logged>,
}

/// Shared with the running server: what to inject, what was asked.
#[derive(Clone, Default)]
pub struct Control(Arc<Mutex<ControlState>>);

impl Control {
    fn lock(&self) -> MutexGuard<'_, ControlState> {
        // A panicking handler must not wedge every later test assertion.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every response waits this long first (per request, concurrently).
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Logged> {
        self.lock().log.clone()
    }

    /// How many requests had this method and a path starting with `prefix`.
    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|l| l.method.eq_ignore_ascii_case(method) && l.target.starts_with(prefix))
            .count()
    }

    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    fn take_fault(&self, method: &str, path: &str) -> Option<Fault> {
        let mut state = self.lock();
        let index = state.faults.iter().position(|f| {
            f.method.as_deref().is_none_or(|m| m == method) && path.starts_with(&f.path_prefix)
        })?;
        let fault = state.faults[index].clone();
        state.faults[index].times -= 1;
        if state.faults[index].times == 0 {
            state.faults.remove(index);
        }
        Some(fault)
    }
}

async fn control_layer(State(control): State<Control>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_string();
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_string(), |pq| pq.to_string());
    let latency = control.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = match control.take_fault(&method, request.uri().path()) {
        Some(fault) => {
            let mut response = Response::new(Body::from(fault.body));
            *response.status_mut() =
                StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if let Ok(value) = HeaderValue::from_str(&fault.content_type) {
                response.headers_mut().insert("content-type", value);
            }
            if let Some(seconds) = fault.retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(seconds));
            }
            response
        }
        None => next.run(request).await.into_response(),
    };
    control.lock().log.push(Logged {
        method,
        target,
        status: response.status().as_u16(),
    });
    response
}

/// A server running on loopback until dropped.
pub struct FakeServer {
    addr: SocketAddr,
    control: Control,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    /// Serve `router` (with the control layer around it) on a free port.
    pub fn start(router: Router) -> std::io::Result<FakeServer> {
        let control = Control::default();
        let app = router.layer(axum::middleware::from_fn_with_state(
            control.clone(),
            control_layer,
        ));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop.await;
                    })
                    .await;
            });
        });
        Ok(FakeServer {
            addr,
            control,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn control(&self) -> &Control {
        &self.control
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The `Authorization` header's credentials, decoded: `Basic` as
/// `(user, password)`, `Bearer`/`token` as `("", token)`.
pub fn credentials(headers: &axum::http::HeaderMap) -> Option<(String, String)> {
    use base64::Engine;
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let (user, password) = text.split_once(':')?;
            Some((user.to_string(), password.to_string()))
        }
        "bearer" | "token" => Some((String::new(), rest.trim().to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    fn get_status(url: &str) -> (u16, String) {
        // A raw HTTP/1.1 request: the harness is tested without a client crate.
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").expect("http");
        let (host, path) = rest
            .split_once('/')
            .map_or((rest, "/"), |(h, _)| (h, &url[7 + h.len()..]));
        let mut stream = std::net::TcpStream::connect(host).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let mut text = String::new();
        stream.read_to_string(&mut text).expect("read");
        let status = text[9..12].parse().expect("status");
        (status, text)
    }

    #[test]
    fn faults_latency_and_the_log_apply_to_real_requests() {
        let server = FakeServer::start(Router::new().route("/ok", get(|| async { "fine" })))
            .expect("starts");
        server
            .control()
            .inject(Fault::status(429, "/ok", 1).retry_after(2));
        let (status, text) = get_status(&format!("{}/ok?x=1", server.url()));
        assert_eq!(status, 429);
        assert!(
            text.to_ascii_lowercase().contains("retry-after: 2"),
            "{text}"
        );
        let (status, text) = get_status(&format!("{}/ok", server.url()));
        assert_eq!(status, 200);
        assert!(text.ends_with("fine"), "{text}");
        server.control().set_latency(Duration::from_millis(50));
        let started = std::time::Instant::now();
        get_status(&format!("{}/ok", server.url()));
        assert!(started.elapsed() >= Duration::from_millis(50));
        let log = server.control().requests();
        assert_eq!(log.len(), 3);
        assert_eq!(log[0].target, "/ok?x=1");
        assert_eq!(log[0].status, 429);
        assert_eq!(server.control().count("GET", "/ok"), 3);
    }
}
