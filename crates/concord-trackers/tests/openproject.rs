//! The OpenProject client against the fake OpenProject, over real HTTP.

use concord_fakes::Fault;
use concord_fakes::openproject::FakeOpenProject;
use concord_trackers::http::{Auth, HttpClient, HttpError, RetryPolicy};
use concord_trackers::openproject::{OpError, OpenProject};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const TOKEN: &str = "op-token-7f3a9c";

/// A fake with the three usual statuses and an `alpha` project.
fn fake() -> FakeOpenProject {
    let fake = FakeOpenProject::start(TOKEN).expect("fake starts");
    fake.add_status("New", false);
    fake.add_status("In progress", false);
    fake.add_status("Closed", true);
    fake.add_project("alpha");
    fake
}

fn retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(5),
    }
}

fn client(fake: &FakeOpenProject) -> OpenProject {
    OpenProject::new(&fake.url(), TOKEN)
        .expect("client")
        .with_retry(retry())
}

fn raw(fake: &FakeOpenProject) -> HttpClient {
    HttpClient::new(
        &fake.url(),
        Auth::Basic {
            user: "apikey".into(),
            password: TOKEN.into(),
        },
    )
    .expect("http client")
    .with_retry(retry())
}

fn href_of(op: &OpenProject, name: &str) -> String {
    op.statuses()
        .expect("statuses")
        .into_iter()
        .find(|s| s.name == name)
        .expect("status exists")
        .href
}

#[test]
fn statuses_are_listed_in_one_request() {
    let fake = fake();
    let op = client(&fake);
    let statuses = op.statuses().expect("statuses");
    let names: Vec<_> = statuses.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["New", "In progress", "Closed"]);
    let closed = &statuses[2];
    assert!(closed.is_closed);
    assert!(!statuses[0].is_closed);
    assert_eq!(closed.href, format!("/api/v3/statuses/{}", closed.id));
    assert_eq!(fake.control().count("GET", "/api/v3/statuses"), 1);
}

#[test]
fn bulk_read_by_id_is_chunked_and_paginated() {
    let fake = fake();
    let ids: Vec<u64> = (0..260)
        .map(|i| {
            let status = if i % 5 == 0 { "Closed" } else { "New" };
            fake.add_work_package("alpha", &format!("Task {i}"), status)
        })
        .collect();
    let op = client(&fake).with_page_size(40);
    let mut wanted: Vec<u64> = ids[..250].to_vec();
    wanted.push(99_999); // unknown: simply absent
    wanted.push(ids[3]); // asked twice: returned once
    assert!(op.work_packages(&[]).expect("nothing asked").is_empty());
    let found = op.work_packages(&wanted).expect("bulk read");
    assert_eq!(found.len(), 250);
    assert_eq!(
        found.iter().map(|wp| wp.id).collect::<Vec<_>>(),
        ids[..250].to_vec()
    );
    // Closed ones are there: the default "open only" filter is off.
    assert_eq!(found[0].status_name, "Closed");
    assert_eq!(found[1].status_name, "New");
    assert_eq!(found[1].subject, "Task 1");
    // 251 distinct ids: chunks of 100, 100, 51, at 40 a page: 3 + 3 + 2.
    assert_eq!(fake.control().count("GET", "/api/v3/work_packages?"), 8);
    assert_eq!(op.stats().requests.load(Ordering::Relaxed), 8);
}

#[test]
fn project_read_paginates_through_the_whole_collection() {
    let fake = fake();
    fake.add_project("beta");
    let mut alpha = Vec::new();
    for i in 0..45 {
        let status = if i % 3 == 0 { "Closed" } else { "In progress" };
        alpha.push(fake.add_work_package("alpha", &format!("A{i}"), status));
        if i % 9 == 0 {
            fake.add_work_package("beta", &format!("B{i}"), "New");
        }
    }
    let op = client(&fake).with_page_size(20);
    let found = op.project_work_packages("alpha").expect("project read");
    assert_eq!(found.iter().map(|wp| wp.id).collect::<Vec<_>>(), alpha);
    assert_eq!(
        fake.control()
            .count("GET", "/api/v3/projects/alpha/work_packages?"),
        3
    );
    // By numeric id too.
    assert_eq!(op.project_work_packages("2").expect("beta").len(), 5);
}

#[test]
fn an_unknown_project_is_an_error_naming_the_url() {
    let fake = fake();
    let err = client(&fake)
        .project_work_packages("nope")
        .expect_err("no such project");
    let OpError::Http(HttpError::Status { status, url, .. }) = &err else {
        panic!("expected an HTTP status error, got {err:?}");
    };
    assert_eq!(*status, 404);
    assert!(url.contains("/api/v3/projects/nope/work_packages"), "{url}");
}

#[test]
fn setting_a_status_with_the_current_lock_version_bumps_it() {
    let fake = fake();
    let id = fake.add_work_package("alpha", "Ship it", "New");
    let op = client(&fake);
    let closed = href_of(&op, "Closed");
    let wp = op.work_package(id).expect("read");
    assert_eq!((wp.lock_version, wp.status_name.as_str()), (0, "New"));
    let saved = op.set_status(id, wp.lock_version, &closed).expect("saved");
    assert_eq!(saved.lock_version, 1);
    assert_eq!(saved.status_href, closed);
    assert_eq!(saved.status_name, "Closed");
    assert_eq!(fake.status_of(id), "Closed");
    assert_eq!(fake.lock_version(id), 1);
}

#[test]
fn a_stale_lock_version_is_a_conflict() {
    let fake = fake();
    let id = fake.add_work_package("alpha", "Ship it", "New");
    let op = client(&fake);
    let closed = href_of(&op, "Closed");
    let wp = op.work_package(id).expect("read");
    fake.edit_externally(id, "In progress");
    let err = op
        .set_status(id, wp.lock_version, &closed)
        .expect_err("conflict");
    assert!(
        matches!(err, OpError::Conflict { id: got } if got == id),
        "{err:?}"
    );
    assert!(err.to_string().contains("read it again"), "{err}");
    assert_eq!(fake.status_of(id), "In progress");
    assert_eq!(fake.lock_version(id), 1);
    // Read again, then it goes through.
    let fresh = op.work_package(id).expect("reread");
    op.set_status(id, fresh.lock_version, &closed)
        .expect("saved");
    assert_eq!(fake.status_of(id), "Closed");
}

#[test]
fn an_unknown_status_is_invalid_with_the_servers_message() {
    let fake = fake();
    let id = fake.add_work_package("alpha", "Ship it", "New");
    let op = client(&fake);
    let err = op
        .set_status(id, 0, "/api/v3/statuses/999")
        .expect_err("invalid");
    let OpError::Invalid { id: got, message } = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(*got, id);
    assert!(message.contains("/api/v3/statuses/999"), "{message}");
    assert!(err.to_string().contains(message.as_str()));
    assert_eq!(fake.lock_version(id), 0);
    // Not a status link at all.
    let err = op
        .set_status(id, 0, "/api/v3/users/1")
        .expect_err("invalid");
    assert!(matches!(err, OpError::Invalid { .. }), "{err:?}");
}

#[test]
fn an_unknown_work_package_is_not_found() {
    let fake = fake();
    let op = client(&fake);
    let closed = href_of(&op, "Closed");
    for err in [
        op.set_status(4242, 0, &closed).expect_err("missing"),
        op.work_package(4242).expect_err("missing"),
        op.comment(4242, "hello").expect_err("missing"),
    ] {
        assert!(matches!(err, OpError::NotFound { id: 4242 }), "{err:?}");
    }
}

#[test]
fn a_wrong_token_is_unauthorized_and_never_printed() {
    let fake = fake();
    let id = fake.add_work_package("alpha", "Ship it", "New");
    let wrong = "wrong-token-b41c";
    let op = OpenProject::new(&fake.url(), wrong)
        .expect("client")
        .with_retry(retry());
    let errors = [
        op.statuses().expect_err("refused"),
        op.work_packages(&[id]).expect_err("refused"),
        op.set_status(id, 0, "/api/v3/statuses/3")
            .expect_err("refused"),
        op.comment(id, "hi").expect_err("refused"),
    ];
    for err in &errors {
        let OpError::Unauthorized { message } = err else {
            panic!("expected Unauthorized, got {err:?}");
        };
        assert!(message.contains("authenticated"), "{message}");
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(wrong), "{text}");
            assert!(!text.contains(TOKEN), "{text}");
        }
    }
    assert!(!format!("{op:?}").contains(wrong));
    // 401 is not retried.
    assert_eq!(fake.control().count("GET", "/api/v3/statuses"), 1);
    assert_eq!(fake.status_of(id), "New");
    assert!(fake.comments(id).is_empty());
}

#[test]
fn bad_settings_are_refused_without_echoing_the_token() {
    assert!(OpenProject::new("op.example.com", TOKEN).is_err());
    assert!(OpenProject::new("https://op.example.com", " ").is_err());
    let err = OpenProject::new("https://apikey:leaked-secret@op.example.com", TOKEN)
        .expect_err("credentials in the URL");
    assert!(!err.contains("leaked-secret"), "{err}");
}

#[test]
fn a_rate_limit_is_retried_honouring_retry_after() {
    let fake = fake();
    let id = fake.add_work_package("alpha", "Ship it", "New");
    let op = client(&fake);
    fake.control()
        .inject(Fault::status(429, "/api/v3/work_packages", 1).retry_after(1));
    let started = Instant::now();
    let found = op.work_packages(&[id]).expect("read after a retry");
    assert!(started.elapsed() >= Duration::from_secs(1), "waited");
    assert_eq!(found.len(), 1);
    assert_eq!(fake.control().count("GET", "/api/v3/work_packages?"), 2);
    assert_eq!(op.stats().retries.load(Ordering::Relaxed), 1);
}

#[test]
fn an_html_page_instead_of_json_names_the_url() {
    let fake = fake();
    let op = client(&fake);
    fake.control()
        .inject(Fault::status(200, "/api/v3/statuses", 1).body(
            "text/html; charset=utf-8",
            "<html><body>Please sign in</body></html>",
        ));
    let err = op.statuses().expect_err("not JSON");
    assert!(
        matches!(err, OpError::Http(HttpError::NotJson { .. })),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("{}/api/v3/statuses", fake.url())),
        "{text}"
    );
    assert!(text.contains("text/html"), "{text}");
    assert!(text.contains("Please sign in"), "{text}");
}

#[test]
fn comments_are_recorded() {
    let fake = fake();
    let id = fake.add_work_package("alpha", "Ship it", "New");
    let op = client(&fake);
    op.comment(id, "Closed by concord: PR #12 merged")
        .expect("comment");
    op.comment(id, "Second <note> & more").expect("comment");
    assert_eq!(
        fake.comments(id),
        ["Closed by concord: PR #12 merged", "Second <note> & more"]
    );
    // A comment is not an edit of the work package.
    assert_eq!(fake.lock_version(id), 0);
    let err = op.comment(id, "  ").expect_err("blank");
    assert!(matches!(err, OpError::Invalid { .. }), "{err:?}");
}

#[test]
fn the_fake_rejects_a_patch_without_lock_version() {
    let fake = fake();
    let id = fake.add_work_package("alpha", "Ship it", "New");
    let http = raw(&fake);
    let path = format!("/api/v3/work_packages/{id}");
    let body = serde_json::json!({"_links": {"status": {"href": "/api/v3/statuses/3"}}});
    let response = http
        .send("PATCH", &path, &[], Some(&body))
        .expect("answered");
    assert_eq!(response.status, 422);
    let error: serde_json::Value = response.json().expect("error body");
    assert_eq!(error["_type"], "Error");
    assert_eq!(
        error["errorIdentifier"],
        "urn:openproject-org:api:v3:errors:PropertyConstraintViolation"
    );
    assert_eq!(error["_embedded"]["details"]["attribute"], "lockVersion");
    assert_eq!(fake.status_of(id), "New");
    // No body and so no content type: 406, as documented.
    let response = http.send("PATCH", &path, &[], None).expect("answered");
    assert_eq!(response.status, 406);
    // Not a JSON object.
    let response = http
        .send("PATCH", &path, &[], Some(&serde_json::json!([1])))
        .expect("answered");
    assert_eq!(response.status, 400);
}

#[test]
fn the_fake_applies_the_default_filter_and_rejects_bad_filters() {
    let fake = fake();
    let open = fake.add_work_package("alpha", "Open", "New");
    fake.add_work_package("alpha", "Done", "Closed");
    let http = raw(&fake);
    let page: serde_json::Value = http
        .request("GET", "/api/v3/work_packages", &[], None)
        .expect("list")
        .json()
        .expect("json");
    assert_eq!(page["_type"], "WorkPackageCollection");
    assert_eq!(page["total"], 1, "closed ones are filtered out by default");
    assert_eq!(page["_embedded"]["elements"][0]["id"], open);
    assert_eq!(page["pageSize"], 20);
    assert_eq!(page["offset"], 1);

    let page: serde_json::Value = http
        .request(
            "GET",
            "/api/v3/work_packages?filters=%5B%5D&pageSize=5000",
            &[],
            None,
        )
        .expect("list")
        .json()
        .expect("json");
    assert_eq!(page["total"], 2);
    assert_eq!(page["pageSize"], 1000, "capped at the server maximum");

    // All ids in one filter would not fit a request line; chunks do.
    let ids: Vec<String> = (1..=1000).map(|i| i.to_string()).collect();
    let filters = serde_json::json!([{"id": {"operator": "=", "values": ids}}]);
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("filters", &filters.to_string())
        .finish();
    let response = http
        .send("GET", &format!("/api/v3/work_packages?{query}"), &[], None)
        .expect("answered");
    assert_eq!(response.status, 414);

    for bad in [
        "%5B%7B",
        "%5B%7B%22nope%22%3A%7B%22operator%22%3A%22%3D%22%7D%7D%5D",
    ] {
        let err = http
            .request(
                "GET",
                &format!("/api/v3/work_packages?filters={bad}"),
                &[],
                None,
            )
            .expect_err("bad filters");
        let HttpError::Status { status, body, .. } = &err else {
            panic!("expected a status error, got {err:?}");
        };
        assert_eq!(*status, 400);
        assert!(body.contains("errors:InvalidQuery"), "{body}");
    }
}
