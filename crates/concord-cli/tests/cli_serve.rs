//! `concord serve` over real HTTP: the API on both hub backends, tokens,
//! the OpenAPI document against the routes, bad requests, signed
//! webhooks, and a push webhook that reaches the tracker within seconds.

mod common;
use common::serve::{Server, get, http, send};
use common::{TASK_WORKFLOW, TestWorkspace, git, init_repo};
use concord_fakes::github::FakeGitHub;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

fn concord(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> common::Output {
    common::run_env(dir, env, args)
}

fn start(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Server {
    let mut all = vec!["--no-schedule"];
    all.extend_from_slice(args);
    Server::start(dir, env, &all)
}

fn workspace() -> TestWorkspace {
    let ws = TestWorkspace::new();
    ws.config(&format!(
        r#"
[[repo]]
name = "app"
path = "app"
{TASK_WORKFLOW}
[[source]]
name = "plans"
repo = "app"
format = "task-blocks"
glob = "docs/*.md"
workflow = "task"

[[source]]
name = "features"
repo = "app"
format = "json"
glob = "features/*/state.json"
key = "{{dir}}"
status = "/status"
workflow = "task"

[[sync]]
name = "work"
mode = "merge"
between = ["plans", "features", "hub"]
"#
    ));
    ws.write(
        "app/docs/plan.md",
        "```task\nid: T1\nstatus: todo\n```\n\n```task\nid: T2\nstatus: done\n```\n\n```task\nid: app/T3\nstatus: in_progress\n```\n",
    );
    ws.write(
        "app/features/onboarding/state.json",
        "{\"status\": \"todo\"}\n",
    );
    let app = ws.path().join("app");
    init_repo(&app);
    git(&app, &["add", "."]);
    git(&app, &["commit", "-q", "-m", "start"]);
    git(
        &app,
        &["remote", "add", "origin", "https://github.com/acme/app.git"],
    );
    ws
}

fn token(dir: &Path, env: &[(&str, &str)], name: &str, read_only: bool) -> String {
    let mut args = vec!["serve", "token", "create", "--name", name];
    if read_only {
        args.push("--read-only");
    }
    let out = concord(dir, env, &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let secret = out.stdout.trim().to_string();
    assert!(secret.starts_with("cct_"), "{secret}");
    secret
}

fn wait_for_job(server: &Server, token: &str, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, job) = get(&format!("{}/api/v1/jobs/{id}", server.url), Some(token));
        assert_eq!(status, 200, "{job}");
        if job["state"] == "finished" {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} did not finish: {job}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The whole API on one hub (`env` may point it at PostgreSQL).
fn exercise_api(env: &[(&str, &str)]) {
    let ws = workspace();
    let dir = ws.path();
    let synced = concord(dir, env, &["sync"]);
    assert!(synced.code <= 1, "{}{}", synced.stdout, synced.stderr);
    let writer = token(dir, env, "writer", false);
    let reader = token(dir, env, "reader", true);
    // A small body limit: the too-large body below fits the socket buffers,
    // so the client reads the 413 instead of a reset.
    let server = start(dir, env, &["--max-body", "16384"]);
    let api = format!("{}/api/v1", server.url);
    tokens_are_checked(&api, &reader);
    items_list_filter_and_page(&api, &reader);
    one_item(&api, &reader);
    a_key_is_never_a_flag(&api, &reader);
    writes_are_journaled_as_the_owner(&api, &writer, &reader);
    bad_bodies_are_refused(&api, &writer);
    let id = sync_now(&server, &api, &writer, &reader);
    every_documented_route_exists(&server, &api, &writer, &reader, &id);
    the_pages_render(&server, &reader);
    a_cookie_reads_and_never_writes(&api, &writer);
    the_access_log_has_no_tokens(&server, &writer, &reader);
    revoked_tokens_stop_working(dir, env, &api, &writer, &reader);
}

/// Tokens: none, malformed, unknown, read-only writing.
fn tokens_are_checked(api: &str, reader: &str) {
    let (status, body, challenge) = http("GET", &format!("{api}/items"), None, &[], None);
    assert_eq!(
        (status, challenge.as_deref()),
        (401, Some("Bearer")),
        "{body}"
    );
    assert_eq!(body["error"]["status"], 401);
    let (status, _) = get(&format!("{api}/items"), Some("cct_not-a-real-token"));
    assert_eq!(status, 401);
    let (status, body) = send(
        "PUT",
        &format!("{api}/items/T1/status"),
        Some(reader),
        &json!({"status": "done"}),
    );
    assert_eq!(status, 403, "{body}");
    assert!(!body.to_string().contains(reader), "no token in any answer");
}

/// Items: all, filtered, paged; counts agree with the summary.
fn items_list_filter_and_page(api: &str, reader: &str) {
    let (status, all) = get(&format!("{api}/items?limit=1000"), Some(reader));
    assert_eq!(status, 200, "{all}");
    let keys: Vec<&str> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["key"].as_str())
        .collect();
    assert_eq!(keys, ["T1", "T2", "app/T3", "onboarding"], "{all}");
    let (_, summary) = get(&format!("{api}/summary"), Some(reader));
    assert_eq!(summary["items"], 4, "{summary}");
    let hub_counts = summary["by_source"]
        .as_array()
        .expect("by_source")
        .iter()
        .find(|s| s["source"] == "hub")
        .expect("hub counts")
        .clone();
    assert_eq!(hub_counts["by_status"]["todo"], 2, "{summary}");
    let (_, done) = get(&format!("{api}/items?status=done"), Some(reader));
    assert_eq!(done["items"][0]["key"], "T2", "{done}");
    let (_, first) = get(&format!("{api}/items?limit=2"), Some(reader));
    assert_eq!(first["next"], "T2", "{first}");
    let (_, second) = get(&format!("{api}/items?limit=2&after=T2"), Some(reader));
    assert_eq!(second["items"][0]["key"], "app/T3", "{second}");
    let (status, bad) = get(&format!("{api}/items?limit=0"), Some(reader));
    assert_eq!(status, 400, "{bad}");
    let (status, bad) = get(&format!("{api}/items?drift=maybe"), Some(reader));
    assert_eq!(status, 400, "{bad}");
}

/// One item, with a slash in its key (one encoded path segment).
fn one_item(api: &str, reader: &str) {
    let (status, item) = get(&format!("{api}/items/app%2FT3"), Some(reader));
    assert_eq!(status, 200, "{item}");
    assert_eq!(item["hub"]["status"], "in_progress", "{item}");
    assert_eq!(item["sources"][0]["source"], "plans", "{item}");
    let (status, missing) = get(&format!("{api}/items/..%2F..%2Fetc%2Fpasswd"), Some(reader));
    assert_eq!(status, 404, "{missing}");
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("no item"),
        "{missing}"
    );
    let (status, _) = get(&format!("{api}/items/a%00b"), Some(reader));
    assert_eq!(status, 400);
}

/// A key that looks like an option is a key, never a flag of the command.
fn a_key_is_never_a_flag(api: &str, reader: &str) {
    let (status, explained) = get(&format!("{api}/items/--help/explain"), Some(reader));
    assert_eq!(status, 404, "{explained}");
    assert!(
        explained["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("no source holds an item `--help`"),
        "{explained}"
    );
    let (status, explained) = get(&format!("{api}/items/T1/explain"), Some(reader));
    assert_eq!(status, 200, "{explained}");
    assert_eq!(explained["key"], "T1", "{explained}");
}

/// Writes: set and log through the API, journaled as the token's owner.
fn writes_are_journaled_as_the_owner(api: &str, writer: &str, reader: &str) {
    let (status, set) = send(
        "PUT",
        &format!("{api}/items/T1/status"),
        Some(writer),
        // A value that begins with `-` is a value, not an option.
        &json!({"status": "in_progress", "note": "- via API"}),
    );
    assert_eq!(status, 200, "{set}");
    assert_eq!(
        (set["from"].as_str(), set["to"].as_str()),
        (Some("todo"), Some("in_progress"))
    );
    let (status, regress) = send(
        "PUT",
        &format!("{api}/items/T2/status"),
        Some(writer),
        &json!({"status": "todo"}),
    );
    assert_eq!(status, 422, "a regression is refused: {regress}");
    let message = regress["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("`T2` is at rank 2") && message.contains("help: pass --force"),
        "{message}"
    );
    let (status, logged) = send(
        "POST",
        &format!("{api}/items/T1/events"),
        Some(writer),
        &json!({"event_type": "phase_started", "phase": "review", "summary": "-1 regression, from the API"}),
    );
    assert_eq!(status, 200, "{logged}");
    let (_, history) = get(&format!("{api}/items/T1/history"), Some(reader));
    let entries = history["entries"].as_array().expect("history");
    assert!(
        entries
            .iter()
            .any(|e| e["note"] == "- via API"
                && e["actor"].as_str().unwrap_or("").starts_with("writer")),
        "{history}"
    );
    assert!(
        entries.iter().any(|e| e["event_type"] == "phase_started"),
        "{history}"
    );
    let (_, journal) = get(&format!("{api}/journal?key=T1&limit=1"), Some(reader));
    assert_eq!(
        journal["entries"][0]["event_type"], "phase_started",
        "{journal}"
    );
    assert_eq!(
        journal["entries"][0]["note"], "-1 regression, from the API",
        "{journal}"
    );
}

/// Bad bodies: malformed JSON, unknown fields, too large.
fn bad_bodies_are_refused(api: &str, writer: &str) {
    let (status, bad, _) = http(
        "PUT",
        &format!("{api}/items/T1/status"),
        Some(writer),
        &[],
        Some(b"{\"status\": "),
    );
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("malformed JSON"),
        "{bad}"
    );
    let (status, _) = send(
        "PUT",
        &format!("{api}/items/T1/status"),
        Some(writer),
        &json!({"state": "done"}),
    );
    assert_eq!(status, 400);
    let huge = vec![b' '; 128 << 10];
    let (status, _, _) = http(
        "POST",
        &format!("{api}/sync"),
        Some(writer),
        &[],
        Some(&huge),
    );
    assert_eq!(status, 413);
}

/// Sync now: the run id is the hub's run id; a second request while the
/// first waits joins it.
fn sync_now(server: &Server, api: &str, writer: &str, reader: &str) -> String {
    let (status, started) = send("POST", &format!("{api}/sync"), Some(writer), &json!({}));
    assert_eq!(status, 202, "{started}");
    let id = started["run_id"].as_str().expect("run id").to_string();
    let job = wait_for_job(server, writer, &id);
    assert_eq!(job["outcome"], "clean", "{job}");
    assert_eq!(job["trigger"], "api:writer", "{job}");
    let (_, runs) = get(&format!("{api}/runs"), Some(reader));
    assert!(
        runs["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .any(|r| r["id"] == id.as_str()),
        "{runs}"
    );
    let (status, unknown) = send(
        "POST",
        &format!("{api}/sync"),
        Some(writer),
        &json!({"source": "nope"}),
    );
    assert_eq!(status, 422, "{unknown}");
    let (status, unknown) = send(
        "POST",
        &format!("{api}/sync"),
        Some(writer),
        &json!({"rule": "nope"}),
    );
    assert_eq!(status, 422, "{unknown}");
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("known: work"),
        "{unknown}"
    );
    let (status, one_rule) = send(
        "POST",
        &format!("{api}/sync"),
        Some(writer),
        &json!({"rule": "work"}),
    );
    assert_eq!(status, 202, "{one_rule}");
    let job = wait_for_job(server, writer, one_rule["run_id"].as_str().expect("run id"));
    assert_eq!(
        job["args"],
        json!(["sync", "--json", "--rule", "work"]),
        "{job}"
    );
    id
}

/// Every documented operation exists; unknown routes say so.
fn every_documented_route_exists(server: &Server, api: &str, writer: &str, reader: &str, id: &str) {
    let (status, doc) = get(&format!("{api}/openapi.json"), None);
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 18, "{}", paths.len());
    for (path, methods) in paths {
        for (method, _) in methods.as_object().expect("methods") {
            if path.ends_with("/stream") {
                continue; // never ends; checked below
            }
            let url = format!(
                "{}{}",
                server.url,
                path.replace("{key}", "T1").replace("{id}", id)
            );
            let body = match path.as_str() {
                p if p.ends_with("/status") => json!({"status": "in_progress"}),
                p if p.ends_with("/events") => json!({"event_type": "noted"}),
                _ => json!({}),
            };
            let (status, answer) = send(&method.to_ascii_uppercase(), &url, Some(writer), &body);
            let route_missing = answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("no such route"));
            assert!(
                !route_missing && status != 405,
                "{method} {path}: {status} {answer}"
            );
        }
    }
    let (status, nothing) = get(&format!("{api}/no-such-thing"), Some(reader));
    assert_eq!(status, 404);
    assert!(
        nothing["error"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("no such route")
    );
}

/// The page renders for a reader, and the item page for a key with a slash.
fn the_pages_render(server: &Server, reader: &str) {
    let (status, page) = get(&format!("{}/", server.url), Some(reader));
    assert_eq!(status, 200);
    assert!(
        page.as_str()
            .unwrap_or("")
            .contains("data-count-source=\"hub\""),
        "{page}"
    );
    let (status, page) = get(&format!("{}/items/app%2FT3", server.url), Some(reader));
    assert_eq!(status, 200);
    assert!(page.as_str().unwrap_or("").contains("app/T3"));
    let (status, _) = get(&format!("{}/", server.url), None);
    assert_eq!(status, 401);
}

/// The sign-in cookie reads, and never writes (no cross-site forgery).
fn a_cookie_reads_and_never_writes(api: &str, writer: &str) {
    let cookie = format!("concord_token={writer}");
    let (status, _, _) = http(
        "GET",
        &format!("{api}/items"),
        None,
        &[("Cookie", &cookie)],
        None,
    );
    assert_eq!(status, 200);
    let body = json!({"status": "done"}).to_string();
    let (status, _, _) = http(
        "PUT",
        &format!("{api}/items/T1/status"),
        None,
        &[("Cookie", &cookie), ("Content-Type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(status, 401, "a cookie does not write");
}

/// The access log: a line per request, never a token.
fn the_access_log_has_no_tokens(server: &Server, writer: &str, reader: &str) {
    let log = server.log();
    assert!(log.contains(" GET /api/v1/items?limit=1000 200 "), "{log}");
    assert!(
        log.contains(" job ") && log.contains("finished: clean"),
        "{log}"
    );
    assert!(
        !log.contains(writer) && !log.contains(reader),
        "a token in the log"
    );
}

/// Revoked tokens stop working (within the cache's two seconds).
fn revoked_tokens_stop_working(
    dir: &Path,
    env: &[(&str, &str)],
    api: &str,
    writer: &str,
    reader: &str,
) {
    let out = concord(dir, env, &["serve", "token", "revoke", "reader"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    std::thread::sleep(Duration::from_millis(2100));
    let (status, _) = get(&format!("{api}/items"), Some(reader));
    assert_eq!(status, 401);
    let listed = concord(dir, env, &["serve", "token", "list", "--json"]);
    assert!(
        !listed.stdout.contains(writer) && !listed.stdout.contains("hash"),
        "{}",
        listed.stdout
    );
}

#[test]
fn the_api_over_http_on_sqlite() {
    exercise_api(&[]);
}

#[test]
fn the_api_over_http_on_postgres() {
    let Some(schema) = concord_test_support::PgSchema::create("concord_serve") else {
        return;
    };
    exercise_api(&[("CONCORD_HUB_URL", schema.url().as_str())]);
}

#[test]
fn public_read_opens_reads_but_not_writes() {
    let ws = workspace();
    let dir = ws.path();
    assert!(concord(dir, &[], &["sync"]).code <= 1);
    let server = start(dir, &[], &["--public-read"]);
    let (status, items) = get(&format!("{}/api/v1/items", server.url), None);
    assert_eq!(status, 200, "{items}");
    let (status, _) = get(&format!("{}/", server.url), None);
    assert_eq!(status, 200);
    // Every response says what a browser may do with it.
    for path in [
        "/",
        "/api/v1/health",
        "/static/control-room.js",
        "/no-such-page",
    ] {
        let response = ureq::get(&format!("{}{path}", server.url))
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .expect("HTTP request");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let csp = header("content-security-policy");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
    }
    let (status, _) = send(
        "PUT",
        &format!("{}/api/v1/items/T1/status", server.url),
        None,
        &json!({"status": "done"}),
    );
    assert_eq!(status, 401);
    let (status, _) = send(
        "POST",
        &format!("{}/api/v1/sync", server.url),
        None,
        &json!({}),
    );
    assert_eq!(status, 401);
}

/// GitHub's X-Hub-Signature-256 (HMAC-SHA256), computed here from the
/// definition, independently of the server's code.
fn sign(secret: &str, body: &[u8]) -> String {
    let secret = secret.as_bytes();
    use sha2::{Digest, Sha256};
    const BLOCK: usize = 64;
    let mut key = [0u8; BLOCK];
    if secret.len() > BLOCK {
        key[..32].copy_from_slice(&Sha256::digest(secret));
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    let pad = |byte: u8| key.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(body)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    let hex: String = outer.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[test]
fn github_webhooks_need_a_valid_signature_and_named_hooks_their_secret() {
    let ws = workspace();
    let dir = ws.path();
    let env = [
        ("CONCORD_WEBHOOK_SECRET", "It's a Secret to Everybody"),
        ("CONCORD_HOOK_SECRET_OPEN_PROJECT", "s3cret"),
    ];
    let server = start(dir, &env, &[]);
    let writer = token(dir, &[], "writer", false);
    let hook = format!("{}/hooks/github", server.url);
    let push =
        json!({"ref": "refs/heads/main", "repository": {"full_name": "acme/app"}}).to_string();
    let other =
        json!({"ref": "refs/heads/main", "repository": {"full_name": "acme/other"}}).to_string();
    let jobs = || {
        let (_, list) = get(&format!("{}/api/v1/jobs", server.url), Some(&writer));
        list["jobs"].as_array().map_or(0, Vec::len)
    };
    let headers = |signature: &str| {
        vec![
            ("X-GitHub-Event", "push".to_string()),
            ("X-Hub-Signature-256", signature.to_string()),
        ]
    };
    let post = |body: &str, headers: Vec<(&str, String)>| {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        http("POST", &hook, None, &headers, Some(body.as_bytes()))
    };

    // Known answer from GitHub's documentation.
    assert_eq!(
        sign("It's a Secret to Everybody", b"Hello, World!"),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    // Missing, malformed, wrong, and a replayed body with another body's signature.
    for (headers, what) in [
        (vec![("X-GitHub-Event", "push".to_string())], "missing"),
        (headers("sha256=zz"), "malformed"),
        (
            headers(&sign("wrong secret", push.as_bytes())),
            "wrong secret",
        ),
        (
            headers(&sign("It's a Secret to Everybody", other.as_bytes())),
            "another body's signature",
        ),
    ] {
        let (status, body, _) = post(&push, headers);
        assert_eq!(status, 401, "{what}: {body}");
    }
    assert_eq!(jobs(), 0, "nothing was triggered");

    let (status, ignored, _) = post(
        &other,
        headers(&sign("It's a Secret to Everybody", other.as_bytes())),
    );
    assert_eq!(status, 202, "{ignored}");
    assert!(ignored["ignored"].is_string(), "{ignored}");
    common::schema::assert_valid("api-hook", &ignored);
    assert_eq!(jobs(), 0);
    let (status, started, _) = post(
        &push,
        headers(&sign("It's a Secret to Everybody", push.as_bytes())),
    );
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["repos"], json!(["app"]));
    common::schema::assert_valid("api-hook", &started);
    assert_eq!(jobs(), 1);

    // Named hooks: unknown, wrong secret, right secret.
    let named = |name: &str, secret: Option<&str>| {
        let headers: Vec<(&str, &str)> = secret
            .map(|s| vec![("X-Concord-Secret", s)])
            .unwrap_or_default();
        http(
            "POST",
            &format!("{}/hooks/{name}", server.url),
            None,
            &headers,
            Some(b"{}"),
        )
        .0
    };
    assert_eq!(named("nobody", Some("s3cret")), 404);
    assert_eq!(named("open-project", None), 401);
    assert_eq!(named("open-project", Some("S3cret")), 401);
    assert_eq!(named("open-project", Some("s3cret")), 202);
}

#[test]
fn a_replayed_webhook_delivery_is_ignored_also_after_a_restart() {
    let ws = workspace();
    let dir = ws.path();
    let env = [("CONCORD_WEBHOOK_SECRET", "replay")];
    let push = json!({"repository": {"full_name": "acme/app"}, "after": "a1b2"}).to_string();
    let signature = sign("replay", push.as_bytes());
    let deliver = |server: &Server, delivery: &str| {
        http(
            "POST",
            &format!("{}/hooks/github", server.url),
            None,
            &[
                ("X-GitHub-Event", "push"),
                ("X-GitHub-Delivery", delivery),
                ("X-Hub-Signature-256", &signature),
            ],
            Some(push.as_bytes()),
        )
    };
    let server = start(dir, &env, &[]);
    let (status, body, _) = deliver(&server, "d-1");
    assert_eq!(status, 202, "{body}");
    assert!(body["run_id"].is_string(), "{body}");
    // The same delivery again, and the same signed body under a new id.
    for delivery in ["d-1", "d-2"] {
        let (status, body, _) = deliver(&server, delivery);
        assert_eq!(status, 200, "{delivery}: {body}");
        assert!(
            body["ignored"]
                .as_str()
                .unwrap_or("")
                .contains("already received"),
            "{body}"
        );
    }
    drop(server);
    // A restart remembers.
    let server = start(dir, &env, &[]);
    let (status, body, _) = deliver(&server, "d-1");
    assert_eq!(status, 200, "after a restart: {body}");
}

#[test]
fn a_flood_of_webhooks_queues_one_run_not_hundreds() {
    let ws = workspace();
    let dir = ws.path();
    let env = [("CONCORD_WEBHOOK_SECRET", "flood")];
    let server = start(dir, &env, &[]);
    let writer = token(dir, &[], "writer", false);
    let mut ids = std::collections::BTreeSet::new();
    for i in 0..200 {
        // 200 different pushes: each its own body and delivery.
        let push = json!({"repository": {"full_name": "acme/app"}, "after": format!("{i:040}")})
            .to_string();
        let signature = sign("flood", push.as_bytes());
        let delivery = format!("flood-{i}");
        let (status, body, _) = http(
            "POST",
            &format!("{}/hooks/github", server.url),
            None,
            &[
                ("X-GitHub-Event", "push"),
                ("X-GitHub-Delivery", &delivery),
                ("X-Hub-Signature-256", &signature),
            ],
            Some(push.as_bytes()),
        );
        assert_eq!(status, 202, "{body}");
        ids.insert(body["run_id"].as_str().unwrap_or_default().to_string());
    }
    // At most: one running, one waiting that every later request joined,
    // plus the few that finished meanwhile.
    let (_, jobs) = get(&format!("{}/api/v1/jobs", server.url), Some(&writer));
    let waiting = jobs["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["state"] == "queued")
        .count();
    assert!(waiting <= 1, "{jobs}");
    assert!(ids.len() < 50, "{} distinct runs for 200 pushes", ids.len());
}

#[test]
fn a_push_webhook_reaches_the_tracker_within_five_seconds() {
    const GH_TOKEN: &str = "ghp_servetoken0123456789";
    let gh = FakeGitHub::start(GH_TOKEN).expect("fake GitHub");
    gh.add_repo("acme/app");
    let issue = gh.add_issue("acme/app", "Export CSV", "open", &[]);
    let ws = TestWorkspace::new();
    let app = ws.path().join("app");
    ws.write(
        "app/docs/workplan.md",
        format!("```task\nid: acme/app#{issue}\nstatus: todo\n```\n"),
    );
    init_repo(&app);
    git(&app, &["add", "."]);
    git(&app, &["commit", "-q", "-m", "workplan"]);
    git(
        &app,
        &["remote", "add", "origin", "git@github.com:acme/app.git"],
    );
    ws.config(&format!(
        r#"
[[repo]]
name = "app"
path = "app"
{TASK_WORKFLOW}
[[source]]
name = "workplans"
repo = "app"
format = "task-blocks"
glob = "docs/*.md"
workflow = "task"

[[tracker]]
name = "issues"
kind = "github"
url = "{}"
token_env = "TEST_GH_TOKEN"
repos = ["acme/app"]
workflow = "task"
open = "todo"
closed = "done"

[[sync]]
name = "tasks-and-issues"
mode = "merge"
between = ["workplans", "issues"]
"#,
        gh.url()
    ));
    let env = [
        ("TEST_GH_TOKEN", GH_TOKEN),
        ("CONCORD_WEBHOOK_SECRET", "push-secret"),
    ];
    let first = concord(ws.path(), &env, &["sync"]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let server = start(ws.path(), &env, &[]);

    // The push: the task is done on main.
    ws.write(
        "app/docs/workplan.md",
        format!("```task\nid: acme/app#{issue}\nstatus: done\n```\n"),
    );
    git(&app, &["commit", "-q", "-am", "done"]);
    let push =
        json!({"ref": "refs/heads/main", "repository": {"full_name": "acme/app"}}).to_string();
    let sent = Instant::now();
    let (status, body, _) = http(
        "POST",
        &format!("{}/hooks/github", server.url),
        None,
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &sign("push-secret", push.as_bytes())),
        ],
        Some(push.as_bytes()),
    );
    assert_eq!(status, 202, "{body}");
    loop {
        let (state, _, _) = gh.issue("acme/app", issue).expect("issue");
        if state == "closed" {
            break;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "the issue was not closed within 5 s"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(gh.control().count("PATCH", "/repos/acme/app/issues/") >= 1);
    println!("push webhook to tracker PATCH: {:?}", sent.elapsed());
}

#[test]
fn a_client_that_never_finishes_its_request_head_is_cut_off() {
    use std::io::{Read, Write};
    let ws = workspace();
    let server = start(ws.path(), &[], &[]);
    let addr = server.url.trim_start_matches("http://");
    let mut slow = std::net::TcpStream::connect(addr).expect("connect");
    slow.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let started = Instant::now();
    let mut buffer = Vec::new();
    let read = slow.read_to_end(&mut buffer);
    assert!(read.is_ok(), "the server closed the connection: {read:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(5) && waited < Duration::from_secs(19),
        "cut after {waited:?}"
    );
    // Meanwhile, and after, others are served.
    let (status, _) = get(&format!("{}/api/v1/health", server.url), None);
    assert_eq!(status, 200);
}

/// A TCP forwarder to PostgreSQL that can be cut and restored, standing
/// for the database going away.
struct Forwarder {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Forwarder {
    fn start(port: u16, upstream: &'static str) -> Forwarder {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind forwarder");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let open = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (stop2, open2) = (stop.clone(), open.clone());
        let accept = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = std::net::TcpStream::connect(upstream) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (
                        client.try_clone().expect("clone"),
                        server.try_clone().expect("clone"),
                    ),
                    (
                        server.try_clone().expect("clone"),
                        client.try_clone().expect("clone"),
                    ),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
                if let Ok(mut open) = open2.lock() {
                    open.extend([client, server]);
                }
            }
        });
        Forwarder {
            port,
            stop,
            open,
            accept: Some(accept),
        }
    }

    /// Refuse new connections and break every open one.
    fn cut(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        if let Ok(mut open) = self.open.lock() {
            for stream in open.drain(..) {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.cut();
    }
}

#[test]
fn the_database_going_away_is_503_and_the_server_recovers_without_restart() {
    let Some(schema) = concord_test_support::PgSchema::create("concord_outage") else {
        return;
    };
    if !schema.base().contains("127.0.0.1:5432") {
        println!("skipped: the database-outage test forwards to 127.0.0.1:5432 only");
        return;
    }
    let result = std::panic::catch_unwind(|| {
        let mut forwarder = Forwarder::start(0, "127.0.0.1:5432");
        let port = forwarder.port;
        let url = schema.url_on(
            &schema
                .base()
                .replace("127.0.0.1:5432", &format!("127.0.0.1:{port}")),
        );
        let env = [("CONCORD_HUB_URL", url.as_str())];
        let ws = workspace();
        assert!(concord(ws.path(), &env, &["sync"]).code <= 1);
        let server = start(ws.path(), &env, &["--public-read"]);
        let items = format!("{}/api/v1/items", server.url);
        assert_eq!(get(&items, None).0, 200);

        forwarder.cut();
        let (status, body, _) = http("GET", &items, None, &[], None);
        assert_eq!(status, 503, "{body}");
        assert_eq!(get(&format!("{}/api/v1/health", server.url), None).0, 503);

        let _back = Forwarder::start(port, "127.0.0.1:5432");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = get(&items, None);
            if status == 200 {
                assert_eq!(body["items"].as_array().map(Vec::len), Some(4));
                break;
            }
            assert!(Instant::now() < deadline, "not recovered: {status} {body}");
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn a_machine_without_database_credentials_works_through_the_server() {
    let ws = workspace();
    assert!(concord(ws.path(), &[], &["sync"]).code <= 1);
    let writer = token(ws.path(), &[], "laptop", false);
    let reader = token(ws.path(), &[], "viewer", true);
    let server = start(ws.path(), &[], &[]);
    // Elsewhere: no concord.toml, no database URL; only the server and a token.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let hub = server.url.as_str();
    let remote = |token: Option<&str>, args: &[&str]| {
        let mut env = vec![("CONCORD_HUB", hub)];
        if let Some(token) = token {
            env.push(("CONCORD_HUB_TOKEN", token));
        }
        concord(elsewhere.path(), &env, args)
    };

    let set = remote(
        Some(&writer),
        &["set", "app/T3", "done", "--note", "from the laptop"],
    );
    assert_eq!(set.code, 0, "{}{}", set.stdout, set.stderr);
    assert!(
        set.stdout.contains("app/T3: in_progress -> done"),
        "{}",
        set.stdout
    );
    let logged = remote(
        Some(&writer),
        &["log", "app/T3", "--event", "shipped", "--json"],
    );
    assert_eq!(logged.code, 0, "{}", logged.stderr);
    let history = remote(Some(&reader), &["history", "app/T3", "--json"]);
    assert_eq!(history.code, 0, "{}", history.stderr);
    let entries = history.json();
    let entries = entries["entries"].as_array().expect("entries");
    assert!(
        entries
            .iter()
            .any(|e| e["note"] == "from the laptop" && e["actor"] == "laptop (api)"),
        "{entries:?}"
    );
    assert!(entries.iter().any(|e| e["event_type"] == "shipped"));
    let synced = remote(Some(&writer), &["sync", "--json"]);
    assert_eq!(synced.code, 0, "{}{}", synced.stdout, synced.stderr);
    assert!(synced.json()["applied"].is_array(), "{}", synced.stdout);
    let summary = remote(Some(&reader), &["summary", "--json"]);
    assert_eq!(summary.json()["items"], 4, "{}", summary.stdout);
    // The file took the hub's `done` in that sync, on the server's machine.
    let plan = std::fs::read_to_string(ws.path().join("app/docs/plan.md")).expect("plan");
    assert!(plan.contains("id: app/T3\nstatus: done"), "{plan}");

    // Refusals: no token, a read-only token writing, a command that needs the workspace.
    let no_token = remote(None, &["history", "T1"]);
    assert_eq!(no_token.code, 2);
    assert!(
        no_token.stderr.contains("CONCORD_HUB_TOKEN"),
        "{}",
        no_token.stderr
    );
    let read_only = remote(Some(&reader), &["set", "T1", "done"]);
    assert_eq!(read_only.code, 2, "{}", read_only.stderr);
    assert!(
        read_only.stderr.contains("read-only"),
        "{}",
        read_only.stderr
    );
    let scan = remote(Some(&reader), &["scan"]);
    assert_eq!(scan.code, 2);
    assert!(!format!("{}{}", scan.stdout, scan.stderr).contains(&reader));
}

#[test]
fn scheduled_runs_start_once_and_a_restart_does_not_repeat_them() {
    let ws = workspace();
    let dir = ws.path();
    let reader = token(dir, &[], "reader", true);
    let args = [
        "--sync-every",
        "1h",
        "--check-every",
        "0 3 * * *",
        "--rule-every",
        "work=15m",
    ];
    let server = Server::start(dir, &[], &args);
    let api = format!("{}/api/v1", server.url);
    // Never ran: a safety-net sync and check right at start-up.
    let deadline = Instant::now() + Duration::from_secs(30);
    let jobs = loop {
        let (_, jobs) = get(&format!("{api}/jobs"), Some(&reader));
        let jobs = jobs["jobs"].as_array().cloned().unwrap_or_default();
        if jobs.len() == 3 && jobs.iter().all(|j| j["state"] == "finished") {
            break jobs;
        }
        assert!(Instant::now() < deadline, "{jobs:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(jobs.iter().all(|j| j["trigger"] == "schedule"), "{jobs:?}");
    let (_, schedule) = get(&format!("{api}/schedule"), Some(&reader));
    let entries = schedule["schedule"].as_array().expect("schedule");
    let sync = entries
        .iter()
        .find(|e| e["job"] == "sync")
        .expect("sync entry");
    let (last, next) = (
        sync["last_run"].as_str().expect("last"),
        sync["next_run"].as_str().expect("next"),
    );
    let gap = humantime::parse_rfc3339(next)
        .expect("next")
        .duration_since(humantime::parse_rfc3339(last).expect("last"))
        .expect("later");
    assert_eq!(gap, Duration::from_secs(3600), "{schedule}");
    let check = entries
        .iter()
        .find(|e| e["job"] == "check")
        .expect("check entry");
    assert!(
        check["next_run"]
            .as_str()
            .unwrap_or("")
            .ends_with("T03:00:00Z"),
        "{schedule}"
    );
    drop(server);

    // A restart within the hour: the hub remembers the runs, nothing repeats.
    let again = Server::start(dir, &[], &args);
    std::thread::sleep(Duration::from_millis(2500));
    let (_, jobs) = get(&format!("{}/api/v1/jobs", again.url), Some(&reader));
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(0), "{jobs}");
}

/// Set, log, explain, history and the summary run in the server's process:
/// with its `concord` binary gone from disk they still work, jobs (sync,
/// mirror, check) included, and the summary is the same bytes locally,
/// through the API and through `--hub`.
#[test]
fn use_cases_run_in_process_and_the_summary_is_one_report() {
    let ws = workspace();
    assert!(concord(ws.path(), &[], &["sync"]).code <= 1);
    let writer = token(ws.path(), &[], "writer", false);
    let reader = token(ws.path(), &[], "reader", true);
    let bin = tempfile::tempdir().expect("temp dir");
    let exe = bin.path().join("concord");
    std::fs::copy(env!("CARGO_BIN_EXE_concord"), &exe).expect("copy concord");
    let server = Server::start_exe(&exe, ws.path(), &[], &["--no-schedule"]);
    std::fs::remove_file(&exe).expect("remove the server's binary");
    let api = format!("{}/api/v1", server.url);

    let (status, set) = send(
        "PUT",
        &format!("{api}/items/T1/status"),
        Some(&writer),
        &json!({"status": "in_progress", "note": "-- no child"}),
    );
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["to"], "in_progress", "{set}");
    let (status, refused) = send(
        "PUT",
        &format!("{api}/items/T2/status"),
        Some(&writer),
        &json!({"status": "todo"}),
    );
    assert_eq!(status, 422, "{refused}");
    let (status, logged) = send(
        "POST",
        &format!("{api}/items/T1/events"),
        Some(&writer),
        &json!({"event_type": "--help", "summary": "-x"}),
    );
    assert_eq!(status, 200, "{logged}");
    assert!(logged["journal_id"].as_i64().is_some(), "{logged}");
    let (status, explained) = get(&format!("{api}/items/T1/explain"), Some(&reader));
    assert_eq!(status, 200, "{explained}");
    assert_eq!(explained["key"], "T1", "{explained}");
    let (status, missing) = get(&format!("{api}/items/nope/explain"), Some(&reader));
    assert_eq!(status, 404, "{missing}");
    let (status, history) = get(&format!("{api}/items/T1/history"), Some(&reader));
    assert_eq!(status, 200, "{history}");
    assert!(
        history["entries"]
            .as_array()
            .expect("history")
            .iter()
            .any(|e| e["note"] == "-- no child" && e["actor"] == "writer (api)"),
        "{history}"
    );
    let (status, room) = get(&format!("{api}/control-room"), Some(&reader));
    assert_eq!(status, 200, "{room}");
    assert!(
        room["jobs"].is_array() && room["schedule"].is_array(),
        "{room}"
    );

    // One report: the local command, the API and --hub print the same bytes.
    let local = concord(ws.path(), &[], &["summary", "--json"]);
    assert_eq!(local.code, 0, "{}", local.stderr);
    let summary: Value = serde_json::from_str(&local.stdout).expect("summary JSON");
    assert_eq!(summary["version"], 1, "{summary}");
    assert_eq!(summary["items"], 4, "{summary}");
    assert!(summary["drift"].is_array() && summary["runs"].is_array());
    assert!(summary.get("jobs").is_none() && summary.get("schedule").is_none());
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let remote = concord(
        elsewhere.path(),
        &[
            ("CONCORD_HUB", server.url.as_str()),
            ("CONCORD_HUB_TOKEN", reader.as_str()),
        ],
        &["summary", "--json"],
    );
    assert_eq!(remote.code, 0, "{}", remote.stderr);
    assert_eq!(remote.stdout, local.stdout, "--hub and local differ");
    let (status, through_api) = get(&format!("{api}/summary"), Some(&reader));
    assert_eq!(status, 200, "{through_api}");
    assert_eq!(through_api, summary, "the API and local differ");

    // A sync job runs in process too: no binary, and it applies the
    // API's change to the file, journaled under the job's id.
    let (status, started) = send("POST", &format!("{api}/sync"), Some(&writer), &json!({}));
    assert_eq!(status, 202, "{started}");
    let run_id = started["run_id"].as_str().expect("run id").to_string();
    let job = wait_for_job(&server, &writer, &run_id);
    assert!(
        job["exit_code"] == 0 || job["exit_code"] == 1,
        "the sync ran: {job}"
    );
    assert!(
        job["output"]["applied"].is_array(),
        "sync --json output: {job}"
    );
    let (_, history) = get(&format!("{api}/items/T1/history"), Some(&reader));
    assert!(
        history["entries"]
            .as_array()
            .is_some_and(|all| all.iter().any(|e| e["run_id"] == run_id.as_str())),
        "the job's writes carry its id: {history}"
    );

    // --hub prints what the local command prints: explain, history and a
    // sync (here: one with nothing to do).
    let through_hub = |args: &[&str]| {
        let env = [
            ("CONCORD_HUB", server.url.as_str()),
            ("CONCORD_HUB_TOKEN", writer.as_str()),
        ];
        concord(elsewhere.path(), &env, args)
    };
    assert!(through_hub(&["sync"]).code <= 1, "the server's sync");
    for args in [
        &["sync", "--json"][..],
        &["explain", "T1", "--json", "--no-fetch"],
        &["history", "T1", "--json"],
    ] {
        let remote = through_hub(args);
        let local = concord(ws.path(), &[], args);
        assert_eq!(remote.code, local.code, "{args:?}: {}", remote.stderr);
        assert_eq!(
            remote.stdout, local.stdout,
            "{args:?}: --hub and local differ"
        );
        assert!(local.stdout.contains("\"version\": 1"), "{}", local.stdout);
    }
}

#[test]
fn repo_and_source_pages_list_items_the_hub_has_not_recorded_yet() {
    let ws = workspace();
    assert!(concord(ws.path(), &[], &["sync"]).code <= 1);
    // After the sync: a task only the plan knows.
    let plan = ws.path().join("app/docs/plan.md");
    let mut text = std::fs::read_to_string(&plan).expect("plan");
    text.push_str("\n```task\nid: T4\nstatus: todo\n```\n");
    std::fs::write(&plan, text).expect("plan");
    let status = concord(ws.path(), &[], &["status", "--json"]);
    let status: Value = serde_json::from_str(&status.stdout).expect("status --json");
    let reader = token(ws.path(), &[], "reader", true);
    let server = start(ws.path(), &[], &[]);
    let api = format!("{}/api/v1", server.url);

    // The summary counts what `status` counts and lists the new task.
    let (code, summary) = get(&format!("{api}/summary"), Some(&reader));
    assert_eq!(code, 200, "{summary}");
    assert_eq!(summary["items"], status["summary"]["items"], "{summary}");
    assert_eq!(summary["not_in_hub"], 1, "{summary}");
    assert_eq!(summary["not_in_hub_items"][0]["key"], "T4", "{summary}");
    assert_eq!(summary["not_in_hub_items"][0]["values"]["plans"], "todo");
    assert_eq!(summary["workflows"][0]["name"], "task", "{summary}");
    assert_eq!(
        summary["workflows"][0]["sources"],
        json!(["plans", "features"])
    );
    assert_eq!(summary["mirrors"], json!([]), "no [[mirror]] rule");
    assert_eq!(summary["trains"], json!([]), "no train yet");

    // The per-repo and per-source listings.
    let (code, repo) = get(&format!("{api}/repos/app"), Some(&reader));
    assert_eq!(code, 200, "{repo}");
    assert_eq!(repo["kind"], "repo");
    assert_eq!(repo["covers"], json!(["plans", "features"]));
    assert_eq!(repo["not_in_hub"], 1, "{repo}");
    let items = repo["items"].as_array().expect("items");
    assert_eq!(items.len(), 5, "T1, T2, app/T3, T4 and onboarding: {repo}");
    let item = |key: &str| items.iter().find(|i| i["key"] == key).expect(key);
    assert_eq!(item("T4")["in_hub"], false);
    assert_eq!(item("T4")["hub"], Value::Null);
    assert_eq!(item("T1")["in_hub"], true);
    assert_eq!(item("T1")["hub"], "todo");
    let (code, source) = get(&format!("{api}/sources/features"), Some(&reader));
    assert_eq!(code, 200, "{source}");
    assert_eq!(source["covers"], json!(["app"]));
    assert_eq!(source["items"][0]["key"], "onboarding", "{source}");
    for (path, known) in [
        ("repos/nope", "known: app"),
        ("sources/nope", "known: plans"),
    ] {
        let (code, error) = get(&format!("{api}/{path}"), Some(&reader));
        assert_eq!(code, 404, "{error}");
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(known), "{error}");
    }

    // The pages: linked, marked, and a 404 page for an unknown name.
    let page = |path: &str| {
        let (code, body) = get(&format!("{}{path}", server.url), Some(&reader));
        (code, body.as_str().unwrap_or_default().to_string())
    };
    let (code, room) = page("/");
    assert_eq!(code, 200);
    assert!(
        room.contains(r#"id="not-in-hub-total" data-count="1">1<"#),
        "{room}"
    );
    assert!(room.contains(r#"<tr class="not-in-hub-row" data-key="T4">"#));
    assert!(room.contains(r#"<a class="repo-link" href="/repos/app">app</a>"#));
    assert!(room.contains(r#"<a class="source-link" href="/sources/plans">plans</a>"#));
    assert!(room.contains(r#"class="workflow" data-workflow="task">task</th>"#));
    assert!(room.contains(r#"<section id="mirrors""#) && room.contains(r#"<section id="trains""#));
    let (code, repo_page) = page("/repos/app");
    assert_eq!(code, 200);
    assert!(repo_page.contains(r#"data-key="T4" data-source="plans" data-repo="app" data-status-value="todo" data-in-hub="false">"#), "{repo_page}");
    assert!(repo_page.contains(r#"<span class="marker not-in-hub">not yet in the hub</span>"#));
    let (code, source_page) = page("/sources/plans");
    assert_eq!(code, 200);
    assert!(source_page.contains(r#"data-page="source""#));
    let (code, missing) = page("/repos/nope");
    assert_eq!(code, 404);
    assert!(
        missing.contains("Nothing here for <code>repo nope</code>"),
        "{missing}"
    );

    // An item the hub lacks has a page: its sources, the marker, and the
    // explanation as text.
    let (code, item) = page("/items/T4");
    assert_eq!(code, 200, "{item}");
    assert!(
        item.contains(r#"<p id="hub-missing" class="empty">"#),
        "{item}"
    );
    assert!(
        item.contains(r#"<tr class="source-row" data-source="plans""#),
        "{item}"
    );
    assert!(
        item.contains(r#"<div id="explain-text" class="prose">"#),
        "{item}"
    );
    assert!(
        item.contains(r#"<article class="decision" data-rule="work">"#),
        "{item}"
    );
    let (code, _) = page("/items/nobody-holds-this");
    assert_eq!(code, 404);
}
