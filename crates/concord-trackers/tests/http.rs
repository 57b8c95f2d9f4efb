//! The shared HTTP layer against a real loopback server.

use axum::Router;
use axum::routing::get;
use concord_fakes::{FakeServer, Fault};
use concord_trackers::http::{Auth, HttpClient, HttpError, RetryPolicy};
use std::time::{Duration, Instant};

fn server() -> FakeServer {
    let router = Router::new()
        .route(
            "/json",
            get(|| async { axum::Json(serde_json::json!({"ok": true})) }),
        )
        .route(
            "/html",
            get(|| async {
                (
                    [("content-type", "text/html")],
                    "<html><body>Login required</body></html>",
                )
            }),
        )
        .route(
            "/truncated",
            get(|| async { ([("content-type", "application/json")], "{\"a\": [1, 2") }),
        );
    FakeServer::start(router).expect("server")
}

fn client(server: &FakeServer) -> HttpClient {
    HttpClient::new(&server.url(), Auth::Bearer("t0ken".into()))
        .expect("client")
        .with_retry(RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_secs(5),
        })
}

#[test]
fn rate_limits_and_server_errors_are_retried_honouring_retry_after() {
    let server = server();
    let client = client(&server);
    server
        .control()
        .inject(Fault::status(429, "/json", 1).retry_after(1));
    server.control().inject(Fault::status(503, "/json", 1));
    let started = Instant::now();
    let response = client.request("GET", "/json", &[], None).expect("succeeds");
    assert!(started.elapsed() >= Duration::from_secs(1), "waited");
    let value: serde_json::Value = response.json().expect("json");
    assert_eq!(value["ok"], true);
    assert_eq!(server.control().count("GET", "/json"), 3);
    assert_eq!(
        client
            .stats()
            .retries
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
}

#[test]
fn a_post_is_not_repeated_after_a_server_error() {
    let server = server();
    let client = client(&server);
    server
        .control()
        .inject(Fault::status(500, "/json", 1).method("POST"));
    let err = client
        .request("POST", "/json", &[], Some(&serde_json::json!({})))
        .expect_err("fails");
    assert_eq!(err.status(), Some(500));
    assert_eq!(server.control().count("POST", "/json"), 1);
}

#[test]
fn retries_give_up_with_the_servers_message() {
    let server = server();
    let client = client(&server);
    server.control().inject(
        Fault::status(503, "/json", 10)
            .body("application/json", r#"{"message":"maintenance window"}"#),
    );
    let err = client
        .request("GET", "/json", &[], None)
        .expect_err("fails");
    assert_eq!(err.status(), Some(503));
    assert!(err.to_string().contains("maintenance window"), "{err}");
    assert_eq!(server.control().count("GET", "/json"), 4);
}

#[test]
fn html_and_truncated_json_are_clear_errors() {
    let server = server();
    let client = client(&server);
    let response = client.request("GET", "/html", &[], None).expect("200");
    let err = response.json::<serde_json::Value>().expect_err("not json");
    assert!(matches!(err, HttpError::NotJson { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("text/html") && text.contains("Login required"),
        "{text}"
    );
    assert!(text.contains("/html"), "names the URL: {text}");

    let response = client.request("GET", "/truncated", &[], None).expect("200");
    let err = response.json::<serde_json::Value>().expect_err("truncated");
    assert!(matches!(err, HttpError::BadJson { line: 1, .. }), "{err}");
}

#[test]
fn an_unreachable_server_is_a_transport_error_naming_the_url() {
    let url = {
        let server = server();
        server.url()
    };
    let client = HttpClient::new(&url, Auth::None)
        .expect("client")
        .with_retry(RetryPolicy {
            attempts: 2,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
        });
    let err = client.request("GET", "/json", &[], None).expect_err("down");
    assert!(matches!(err, HttpError::Transport { .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
}
