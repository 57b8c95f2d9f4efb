//! Creating, finding and changing OpenProject work packages against the
//! fake OpenProject, over real HTTP: what concord needs to open one work
//! package for a regression, find it again by a marker in its subject,
//! update it, and close it.

use concord_fakes::Fault;
use concord_fakes::openproject::FakeOpenProject;
use concord_trackers::http::{Auth, HttpClient, HttpError, RetryPolicy};
use concord_trackers::openproject::{
    NewWorkPackage, OpError, OpenProject, Status, WorkPackageUpdate,
};
use serde_json::{Value, json};
use std::time::Duration;

const TOKEN: &str = "op-token-51d2e8";

/// A fake with an open default status, one more open and one closed, and
/// an `alpha` project.
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

fn status(op: &OpenProject, name: &str) -> Status {
    op.statuses()
        .expect("statuses")
        .into_iter()
        .find(|s| s.name == name)
        .expect("status exists")
}

fn new(subject: &str, description: &str) -> NewWorkPackage {
    NewWorkPackage {
        subject: subject.into(),
        description: description.into(),
        ..NewWorkPackage::default()
    }
}

/// The body of a raw request's answer, with its status.
fn answer(http: &HttpClient, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = http.send(method, path, &[], Some(body)).expect("answered");
    let json = response.json().unwrap_or(Value::Null);
    (response.status, json)
}

#[test]
fn creating_fills_in_the_default_type_and_status() {
    let fake = fake();
    let op = client(&fake);
    let created = op
        .create_work_package(
            "alpha",
            &new("Check regressed [concord:nightly]", "Two new **errors**"),
        )
        .expect("created");
    assert_eq!(created.subject, "Check regressed [concord:nightly]");
    assert_eq!(created.description.as_deref(), Some("Two new **errors**"));
    assert_eq!(created.lock_version, 0);
    assert_eq!(created.status_name, "New");
    assert_eq!(created.status_href, status(&op, "New").href);
    assert_eq!(fake.work_packages_in("alpha"), [created.id]);
    assert_eq!(fake.subject_of(created.id), created.subject);
    assert_eq!(
        fake.description_of(created.id).as_deref(),
        Some("Two new **errors**")
    );
    assert_eq!(fake.type_of(created.id), "Task");
    assert_eq!(fake.status_of(created.id), "New");
    assert_eq!(
        fake.control()
            .count("POST", "/api/v3/projects/alpha/work_packages"),
        1
    );
    // Read back, it is the same.
    assert_eq!(op.work_package(created.id).expect("read"), created);

    // Another default status is the one a new work package gets.
    fake.set_default_status("In progress");
    let second = op
        .create_work_package("1", &new("Second", ""))
        .expect("created by project id");
    assert_eq!(second.status_name, "In progress");
    assert_eq!(fake.work_packages_in("alpha"), [created.id, second.id]);
}

#[test]
fn creating_with_a_type_and_a_status_uses_them() {
    let fake = fake();
    let bug = fake.add_type("Bug");
    let op = client(&fake);
    let closed = status(&op, "Closed");
    let created = op
        .create_work_package(
            "alpha",
            &NewWorkPackage {
                subject: "Already fixed".into(),
                description: "<b>not</b> html & all".into(),
                type_href: Some(format!("/api/v3/types/{bug}")),
                status_href: Some(closed.href.clone()),
            },
        )
        .expect("created");
    assert_eq!(created.status_href, closed.href);
    assert_eq!(created.status_name, "Closed");
    assert_eq!(fake.type_of(created.id), "Bug");
    // The description comes back as markdown, and escaped in its html.
    let wp: Value = raw(&fake)
        .request(
            "GET",
            &format!("/api/v3/work_packages/{}", created.id),
            &[],
            None,
        )
        .expect("read")
        .json()
        .expect("json");
    assert_eq!(wp["description"]["format"], "markdown");
    assert_eq!(wp["description"]["raw"], "<b>not</b> html & all");
    assert_eq!(
        wp["description"]["html"],
        "<p>&lt;b&gt;not&lt;/b&gt; html &amp; all</p>"
    );
    assert_eq!(wp["_links"]["type"]["href"], format!("/api/v3/types/{bug}"));
    assert_eq!(wp["_links"]["type"]["title"], "Bug");
}

#[test]
fn a_blank_subject_is_rejected_and_nothing_is_created() {
    let fake = fake();
    let op = client(&fake);
    for subject in ["", "   "] {
        let err = op
            .create_work_package("alpha", &new(subject, "text"))
            .expect_err("blank subject");
        let OpError::Rejected { project, message } = &err else {
            panic!("expected Rejected, got {err:?}");
        };
        assert_eq!(project, "alpha");
        assert_eq!(message, "Subject can't be blank.");
        assert!(err.to_string().contains("Subject can't be blank."), "{err}");
    }
    // Unknown status and type links are rejected too.
    for bad in [
        NewWorkPackage {
            status_href: Some("/api/v3/statuses/999".into()),
            ..new("Fine", "")
        },
        NewWorkPackage {
            type_href: Some("/api/v3/types/999".into()),
            ..new("Fine", "")
        },
        NewWorkPackage {
            type_href: Some("/api/v3/statuses/1".into()),
            ..new("Fine", "")
        },
    ] {
        let err = op
            .create_work_package("alpha", &bad)
            .expect_err("unknown link");
        assert!(matches!(err, OpError::Rejected { .. }), "{err:?}");
    }
    assert!(fake.work_packages_in("alpha").is_empty());
    // An unknown project is a 404 naming the URL.
    let err = op
        .create_work_package("nope", &new("Fine", ""))
        .expect_err("no such project");
    let OpError::Http(HttpError::Status { status, url, .. }) = &err else {
        panic!("expected an HTTP status error, got {err:?}");
    };
    assert_eq!(*status, 404);
    assert!(url.contains("/api/v3/projects/nope/work_packages"), "{url}");
}

#[test]
fn a_failed_create_is_not_sent_twice() {
    let fake = fake();
    let op = client(&fake);
    fake.control()
        .inject(Fault::status(500, "/api/v3/projects/alpha/work_packages", 1).method("POST"));
    let err = op
        .create_work_package("alpha", &new("Once", ""))
        .expect_err("server error");
    assert!(matches!(err, OpError::Http(_)), "{err:?}");
    assert_eq!(
        fake.control()
            .count("POST", "/api/v3/projects/alpha/work_packages"),
        1
    );
}

#[test]
fn find_by_subject_finds_open_and_closed_across_pages_ignoring_case() {
    let fake = fake();
    fake.add_project("beta");
    let mut wanted = Vec::new();
    for i in 0..23 {
        let status = if i % 4 == 0 { "Closed" } else { "New" };
        let subject = if i % 2 == 0 {
            format!("Regression {i} [CONCORD:nightly]")
        } else {
            format!("Other work {i}")
        };
        let id = fake.add_work_package("alpha", &subject, status);
        if i % 2 == 0 {
            wanted.push(id);
        }
    }
    // Same marker in another project: not found.
    fake.add_work_package("beta", "Regression [concord:nightly]", "New");
    let op = client(&fake).with_page_size(5);
    let found = op
        .find_by_subject("alpha", "[concord:nightly]")
        .expect("found");
    assert_eq!(found.iter().map(|wp| wp.id).collect::<Vec<_>>(), wanted);
    assert!(found.iter().any(|wp| wp.status_name == "Closed"));
    assert!(found.iter().any(|wp| wp.status_name == "New"));
    // 12 matches at 5 a page.
    assert_eq!(
        fake.control()
            .count("GET", "/api/v3/projects/alpha/work_packages?"),
        3
    );
    // OpenProject matches each word of a text anywhere; the client keeps
    // the subjects that contain the text as a whole.
    let together = fake.add_work_package("alpha", "The NIGHTLY CHECK failed", "New");
    let apart = fake.add_work_package("alpha", "Check the nightly run", "New");
    let found = op.find_by_subject("alpha", "nightly check").expect("found");
    assert_eq!(found.iter().map(|wp| wp.id).collect::<Vec<_>>(), [together]);
    let words: Value = raw(&fake)
        .request(
            "GET",
            "/api/v3/projects/alpha/work_packages?filters=%5B%7B%22subject%22%3A%7B%22operator%22%3A%22~%22%2C%22values%22%3A%5B%22nightly%20check%22%5D%7D%7D%5D",
            &[],
            None,
        )
        .expect("list")
        .json()
        .expect("json");
    assert_eq!(words["total"], 2, "the server matched {apart} too");
    assert!(
        op.find_by_subject("alpha", "no such marker")
            .expect("none")
            .is_empty()
    );
    // By numeric id too.
    assert_eq!(
        op.find_by_subject("2", "[concord:NIGHTLY]")
            .expect("beta")
            .len(),
        1
    );
    // A blank text is refused by the server.
    let err = op.find_by_subject("alpha", " ").expect_err("blank");
    let OpError::Http(HttpError::Status { status, body, .. }) = &err else {
        panic!("expected an HTTP status error, got {err:?}");
    };
    assert_eq!(*status, 400);
    assert!(body.contains("Values can't be blank"), "{body}");
}

#[test]
fn updating_description_and_status_needs_the_current_lock_version() {
    let fake = fake();
    let op = client(&fake);
    let created = op
        .create_work_package("alpha", &new("Check regressed", "first run"))
        .expect("created");
    let closed = status(&op, "Closed");
    let saved = op
        .update_work_package(
            created.id,
            created.lock_version,
            &WorkPackageUpdate {
                description: Some("gone since run 7".into()),
                status_href: Some(closed.href.clone()),
                ..WorkPackageUpdate::default()
            },
        )
        .expect("saved");
    assert_eq!(saved.lock_version, 1);
    assert_eq!(saved.status_href, closed.href);
    assert_eq!(saved.description.as_deref(), Some("gone since run 7"));
    assert_eq!(saved.subject, "Check regressed", "not sent, not changed");
    assert_eq!(fake.status_of(created.id), "Closed");
    assert_eq!(
        fake.description_of(created.id).as_deref(),
        Some("gone since run 7")
    );

    // The subject alone.
    let saved = op
        .update_work_package(
            created.id,
            saved.lock_version,
            &WorkPackageUpdate {
                subject: Some("Check regressed again".into()),
                ..WorkPackageUpdate::default()
            },
        )
        .expect("saved");
    assert_eq!(saved.lock_version, 2);
    assert_eq!(fake.subject_of(created.id), "Check regressed again");
    assert_eq!(
        fake.description_of(created.id).as_deref(),
        Some("gone since run 7")
    );

    // With the lockVersion read before: a conflict, and nothing changes.
    let err = op
        .update_work_package(
            created.id,
            1,
            &WorkPackageUpdate {
                description: Some("stale".into()),
                ..WorkPackageUpdate::default()
            },
        )
        .expect_err("conflict");
    assert!(
        matches!(err, OpError::Conflict { id } if id == created.id),
        "{err:?}"
    );
    assert_eq!(
        fake.description_of(created.id).as_deref(),
        Some("gone since run 7")
    );
    assert_eq!(fake.lock_version(created.id), 2);

    // A blank subject is invalid, with the server's reason.
    let err = op
        .update_work_package(
            created.id,
            2,
            &WorkPackageUpdate {
                subject: Some(" ".into()),
                ..WorkPackageUpdate::default()
            },
        )
        .expect_err("blank");
    let OpError::Invalid { message, .. } = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(message, "Subject can't be blank.");
    assert_eq!(fake.lock_version(created.id), 2);
}

#[test]
fn a_wrong_token_is_never_in_an_error() {
    let fake = fake();
    let id = fake.add_work_package("alpha", "Ship it", "New");
    let wrong = "wrong-token-9e77";
    let op = OpenProject::new(&fake.url(), wrong)
        .expect("client")
        .with_retry(retry());
    let errors = [
        op.find_by_subject("alpha", "Ship").expect_err("refused"),
        op.create_work_package("alpha", &new("New one", ""))
            .expect_err("refused"),
        op.update_work_package(
            id,
            0,
            &WorkPackageUpdate {
                description: Some("x".into()),
                ..WorkPackageUpdate::default()
            },
        )
        .expect_err("refused"),
    ];
    for err in &errors {
        assert!(matches!(err, OpError::Unauthorized { .. }), "{err:?}");
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(wrong), "{text}");
            assert!(!text.contains(TOKEN), "{text}");
        }
    }
    // And the right token is in none of the other errors either.
    let op = client(&fake);
    let errors = [
        op.create_work_package("alpha", &new("", ""))
            .expect_err("blank"),
        op.update_work_package(id, 7, &WorkPackageUpdate::default())
            .expect_err("conflict"),
        op.find_by_subject("nope", "x").expect_err("no project"),
    ];
    for err in &errors {
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(TOKEN), "{text}");
        }
    }
    assert_eq!(fake.work_packages_in("alpha"), [id]);
    assert_eq!(fake.description_of(id), None);
}

#[test]
fn the_fake_validates_creations_as_openproject_does() {
    let fake = fake();
    let http = raw(&fake);
    let path = "/api/v3/projects/alpha/work_packages";
    let detail = |body: &Value| {
        (
            body["errorIdentifier"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches("urn:openproject-org:api:v3:errors:")
                .to_string(),
            body["_embedded"]["details"]["attribute"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        )
    };
    for (body, identifier, attribute) in [
        (json!({}), "PropertyConstraintViolation", "subject"),
        (
            json!({"subject": null}),
            "PropertyConstraintViolation",
            "subject",
        ),
        (json!({"subject": 5}), "PropertyFormatError", "subject"),
        (
            json!({"subject": "x".repeat(256)}),
            "PropertyConstraintViolation",
            "subject",
        ),
        (
            json!({"subject": "A", "description": "plain"}),
            "PropertyFormatError",
            "description",
        ),
        (
            json!({"subject": "A", "description": {"raw": 5}}),
            "PropertyFormatError",
            "description",
        ),
        (
            json!({"subject": "A", "_links": {"status": {"href": "/api/v3/statuses/99"}}}),
            "PropertyConstraintViolation",
            "status",
        ),
        (
            json!({"subject": "A", "_links": {"type": {"href": "/api/v3/types/99"}}}),
            "PropertyConstraintViolation",
            "type",
        ),
        (
            json!({"subject": "A", "_links": {"type": {"href": "/api/v3/users/1"}}}),
            "ResourceTypeMismatch",
            "type",
        ),
        (json!({"subject": "A", "id": 5}), "PropertyIsReadOnly", "id"),
    ] {
        let (status, error) = answer(&http, "POST", path, &body);
        assert_eq!(status, 422, "{body}");
        assert_eq!(error["_type"], "Error");
        assert_eq!(
            detail(&error),
            (identifier.to_string(), attribute.to_string()),
            "{body}: {error}"
        );
    }
    assert!(fake.work_packages_in("alpha").is_empty());
    // Not a JSON object; no content type.
    assert_eq!(answer(&http, "POST", path, &json!(["A"])).0, 400);
    let response = http.send("POST", path, &[], None).expect("answered");
    assert_eq!(response.status, 406);

    // Without a project in the path, `_links.project` is required.
    let (status, error) = answer(
        &http,
        "POST",
        "/api/v3/work_packages",
        &json!({"subject": "A"}),
    );
    assert_eq!(status, 422);
    assert_eq!(error["message"], "Project can't be blank.");
    let (status, error) = answer(
        &http,
        "POST",
        "/api/v3/work_packages",
        &json!({"subject": "A", "_links": {"project": {"href": "/api/v3/projects/99"}}}),
    );
    assert_eq!(status, 422, "{error}");
    let (status, created) = answer(
        &http,
        "POST",
        "/api/v3/work_packages",
        &json!({"subject": "A", "_links": {"project": {"href": "/api/v3/projects/alpha"}}}),
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["lockVersion"], 0);
    assert_eq!(created["description"]["raw"], Value::Null);
    assert_eq!(created["description"]["html"], "");
    assert_eq!(created["_links"]["project"]["href"], "/api/v3/projects/1");
    assert_eq!(created["_links"]["type"]["title"], "Task");
    assert_eq!(fake.work_packages_in("alpha").len(), 1);

    // The status marked default is the one it got.
    let statuses: Value = http
        .request("GET", "/api/v3/statuses", &[], None)
        .expect("statuses")
        .json()
        .expect("json");
    let defaults: Vec<&Value> = statuses["_embedded"]["elements"]
        .as_array()
        .expect("elements")
        .iter()
        .filter(|s| s["isDefault"] == true)
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(
        created["_links"]["status"]["href"],
        defaults[0]["_links"]["self"]["href"]
    );
}

#[test]
fn the_fake_validates_subject_filters_and_description_changes() {
    let fake = fake();
    let id = fake.add_work_package("alpha", "Nightly check regressed", "New");
    fake.add_work_package("alpha", "Something else", "Closed");
    let http = raw(&fake);
    let list = |filters: Value| {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("filters", &filters.to_string())
            .finish();
        http.send("GET", &format!("/api/v3/work_packages?{query}"), &[], None)
            .expect("answered")
    };
    let ids = |response: concord_trackers::http::Response| -> Vec<u64> {
        assert_eq!(response.status, 200);
        let page: Value = response.json().expect("json");
        page["_embedded"]["elements"]
            .as_array()
            .expect("elements")
            .iter()
            .filter_map(|wp| wp["id"].as_u64())
            .collect()
    };
    // Every word, anywhere, any case.
    let found = ids(list(
        json!([{"subject": {"operator": "~", "values": ["REGRESSED nightly"]}}]),
    ));
    assert_eq!(found, [id]);
    let found = ids(list(
        json!([{"subject": {"operator": "!~", "values": ["nightly"]}}]),
    ));
    assert_eq!(found.len(), 1);
    assert_ne!(found[0], id);
    for (filters, message) in [
        (
            json!([{"subject": {"operator": "=", "values": ["x"]}}]),
            "Filters Subject Operator is not set to one of the allowed values.",
        ),
        (
            json!([{"subject": {"operator": "~", "values": []}}]),
            "Filters Subject Values can't be blank.",
        ),
        (
            json!([{"subject": {"operator": "~", "values": [""]}}]),
            "Filters Subject Values can't be blank.",
        ),
        (
            json!([{"subject": {"operator": "~", "values": ["a", "b"]}}]),
            "Filters Subject filter has invalid values.",
        ),
        (
            json!([{"subject": {"operator": "~", "values": [5]}}]),
            "Filters Subject filter has invalid values.",
        ),
    ] {
        let response = list(filters.clone());
        assert_eq!(response.status, 400, "{filters}");
        let error: Value = response.json().expect("json");
        assert_eq!(
            error["errorIdentifier"],
            "urn:openproject-org:api:v3:errors:InvalidQuery"
        );
        assert_eq!(error["message"], message, "{filters}");
    }

    // PATCH: a description that is not an object is refused; one that
    // repeats what is there changes nothing, lockVersion included.
    let path = format!("/api/v3/work_packages/{id}");
    let (status, _) = answer(
        &http,
        "PATCH",
        &path,
        &json!({"lockVersion": 0, "description": "plain"}),
    );
    assert_eq!(status, 422);
    assert_eq!(fake.lock_version(id), 0);
    let (status, wp) = answer(
        &http,
        "PATCH",
        &path,
        &json!({"lockVersion": 0, "description": {"raw": "text"}}),
    );
    assert_eq!((status, wp["lockVersion"].as_u64()), (200, Some(1)));
    let (status, wp) = answer(
        &http,
        "PATCH",
        &path,
        &json!({"lockVersion": 1, "description": {"raw": "text"}, "subject": "Nightly check regressed"}),
    );
    assert_eq!((status, wp["lockVersion"].as_u64()), (200, Some(1)));
    // `raw: null` clears it.
    let (status, wp) = answer(
        &http,
        "PATCH",
        &path,
        &json!({"lockVersion": 1, "description": {"raw": null}}),
    );
    assert_eq!((status, wp["lockVersion"].as_u64()), (200, Some(2)));
    assert_eq!(fake.description_of(id), None);
}
