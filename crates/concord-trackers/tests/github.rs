//! The GitHub client against the fake GitHub, over real HTTP on loopback.

use concord_fakes::Fault;
use concord_fakes::github::FakeGitHub;
use concord_trackers::github::{EtagCache, GhError, GitHub, IssueUpdate, NewPull};
use concord_trackers::http::RetryPolicy;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const TOKEN: &str = "ghp_fakeTokenForTests123";
const REPO: &str = "octo/widgets";

fn fake() -> FakeGitHub {
    let fake = FakeGitHub::start(TOKEN).expect("fake github");
    fake.add_repo(REPO);
    fake
}

fn client(fake: &FakeGitHub) -> GitHub {
    client_with(fake, TOKEN, 4)
}

fn client_with(fake: &FakeGitHub, token: &str, attempts: u32) -> GitHub {
    GitHub::new(&fake.url(), token)
        .expect("client")
        .with_retry(RetryPolicy {
            attempts,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_secs(5),
        })
}

fn seed_issues(fake: &FakeGitHub, n: usize) {
    for i in 1..=n {
        let state = if i % 3 == 0 { "closed" } else { "open" };
        fake.add_issue(REPO, &format!("Issue {i}"), state, &["kind/task"]);
    }
}

fn statuses(fake: &FakeGitHub) -> Vec<u16> {
    fake.control().requests().iter().map(|r| r.status).collect()
}

#[test]
fn two_hundred_fifty_issues_take_three_requests_following_link() {
    let fake = fake();
    seed_issues(&fake, 250);
    let gh = client(&fake);
    let issues = gh.issues(REPO).expect("issues");
    assert_eq!(issues.len(), 250);
    let mut numbers: Vec<u64> = issues.iter().map(|i| i.number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=250).collect::<Vec<u64>>());
    let log = fake.control().requests();
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(
        log[0].target,
        format!("/repos/{REPO}/issues?state=all&per_page=100")
    );
    // GitHub's next links go through /repositories/{id}.
    assert!(log[1].target.starts_with("/repositories/"), "{log:?}");
    assert!(log[2].target.ends_with("page=3"), "{log:?}");
    let closed = issues.iter().find(|i| i.number == 3).expect("#3");
    assert_eq!(closed.state, "closed");
    assert_eq!(closed.state_reason.as_deref(), Some("completed"));
    assert_eq!(closed.labels, ["kind/task"]);
    assert!(closed.updated_at.ends_with('Z'), "{}", closed.updated_at);
    assert_eq!(
        closed.html_url,
        format!("https://github.com/{REPO}/issues/3")
    );
    assert_eq!(fake.header_problems(), Vec::<String>::new());
}

#[test]
fn pull_requests_in_the_issue_list_are_skipped() {
    let fake = fake();
    seed_issues(&fake, 3);
    fake.add_pull(REPO, "feature-a", "main", false);
    fake.add_pull(REPO, "feature-b", "main", true);
    let issues = client(&fake).issues(REPO).expect("issues");
    let mut numbers: Vec<u64> = issues.iter().map(|i| i.number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2, 3]);
}

#[test]
fn a_second_cached_run_gets_304s_and_costs_no_rate_limit() {
    let fake = fake();
    seed_issues(&fake, 250);
    let gh = client(&fake);
    let mut cache = EtagCache::new();
    let first = gh.issues_cached(REPO, &mut cache).expect("first run");
    assert_eq!(cache.len(), 3);
    let used = fake.rate_limit().used;
    assert_eq!(used, 3);

    // The cache survives being persisted between runs.
    let saved = serde_json::to_string(&cache).expect("serialize");
    let mut cache: EtagCache = serde_json::from_str(&saved).expect("deserialize");
    fake.control().clear_log();
    let second = gh.issues_cached(REPO, &mut cache).expect("second run");
    assert_eq!(second, first);
    assert_eq!(statuses(&fake), [304, 304, 304]);
    assert_eq!(gh.stats().not_modified.load(Ordering::Relaxed), 3);
    assert_eq!(fake.rate_limit().used, used, "304s are free");
}

#[test]
fn an_external_edit_refetches_only_the_page_that_changed() {
    let fake = fake();
    seed_issues(&fake, 250);
    let gh = client(&fake);
    let mut cache = EtagCache::new();
    gh.issues_cached(REPO, &mut cache).expect("first run");
    // Newest first: page 2 holds #150 down to #51.
    fake.edit_externally(REPO, 120, "closed");
    fake.control().clear_log();
    let issues = gh.issues_cached(REPO, &mut cache).expect("second run");
    assert_eq!(statuses(&fake), [304, 200, 304]);
    let edited = issues.iter().find(|i| i.number == 120).expect("#120");
    assert_eq!(edited.state, "closed");
    assert_eq!(fake.rate_limit().used, 4);

    // The refreshed page is cached too.
    fake.control().clear_log();
    gh.issues_cached(REPO, &mut cache).expect("third run");
    assert_eq!(statuses(&fake), [304, 304, 304]);
}

#[test]
fn closing_as_not_planned_and_reopening() {
    let fake = fake();
    let number = fake.add_issue(REPO, "Drop IE support", "open", &["a"]);
    let gh = client(&fake);
    let before = gh.issue(REPO, number).expect("issue");
    let closed = gh
        .update_issue(
            REPO,
            number,
            &IssueUpdate {
                state: Some("closed".into()),
                state_reason: Some("not_planned".into()),
                labels: Some(vec!["wontfix".into(), "b".into()]),
                ..IssueUpdate::default()
            },
        )
        .expect("closed");
    assert_eq!(closed.state, "closed");
    assert_eq!(closed.state_reason.as_deref(), Some("not_planned"));
    assert_eq!(closed.labels, ["wontfix", "b"]);
    assert!(closed.updated_at > before.updated_at);
    assert_eq!(
        fake.issue(REPO, number),
        Some((
            "closed".into(),
            Some("not_planned".into()),
            vec!["wontfix".into(), "b".into()]
        ))
    );

    let reopened = gh
        .update_issue(
            REPO,
            number,
            &IssueUpdate {
                state: Some("open".into()),
                ..IssueUpdate::default()
            },
        )
        .expect("reopened");
    assert_eq!(reopened.state, "open");
    assert_eq!(reopened.state_reason.as_deref(), Some("reopened"));

    let closed = gh
        .update_issue(
            REPO,
            number,
            &IssueUpdate {
                state: Some("closed".into()),
                ..IssueUpdate::default()
            },
        )
        .expect("closed again");
    assert_eq!(closed.state_reason.as_deref(), Some("completed"));
}

#[test]
fn an_invalid_state_is_rejected_naming_the_field() {
    let fake = fake();
    let number = fake.add_issue(REPO, "x", "open", &[]);
    let gh = client(&fake);
    let err = gh
        .update_issue(
            REPO,
            number,
            &IssueUpdate {
                state: Some("done".into()),
                ..IssueUpdate::default()
            },
        )
        .expect_err("invalid");
    match &err {
        GhError::Invalid { message, errors } => {
            assert_eq!(message, "Validation Failed");
            assert_eq!(errors, &["state: invalid"]);
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(err.to_string().contains("state: invalid"), "{err}");
    let err = gh
        .update_issue(
            REPO,
            number,
            &IssueUpdate {
                state: Some("closed".into()),
                state_reason: Some("because".into()),
                ..IssueUpdate::default()
            },
        )
        .expect_err("invalid reason");
    assert!(
        matches!(&err, GhError::Invalid { errors, .. } if errors == &["state_reason: invalid"]),
        "{err:?}"
    );
    assert_eq!(
        fake.issue(REPO, number),
        Some(("open".into(), None, vec![]))
    );
}

#[test]
fn a_bad_token_is_unauthorized_and_never_printed() {
    let fake = fake();
    let secret = "ghp_wrongSecretValue987";
    let err = client_with(&fake, secret, 4)
        .issues(REPO)
        .expect_err("rejected");
    match &err {
        GhError::Unauthorized { message } => assert_eq!(message, "Bad credentials"),
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    assert!(!err.to_string().contains(secret), "{err}");
    assert!(!format!("{err:?}").contains(secret), "{err:?}");
    // Not retried, and not charged to the rate limit.
    assert_eq!(fake.control().requests().len(), 1);
    assert_eq!(fake.rate_limit().used, 0);
}

#[test]
fn unknown_repositories_and_bad_names() {
    let fake = fake();
    let gh = client(&fake);
    match gh.issues("octo/nothing-here") {
        Err(GhError::NotFound { what }) => assert!(what.contains("octo/nothing-here"), "{what}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(matches!(
        gh.issues("not a repo"),
        Err(GhError::BadRepo { .. })
    ));
    assert_eq!(fake.control().requests().len(), 1);
}

#[test]
fn an_exhausted_rate_limit_is_waited_out() {
    let fake = fake();
    seed_issues(&fake, 5);
    fake.set_rate_limit(100);
    fake.exhaust_rate_limit(Duration::from_secs(2));
    let gh = client(&fake);
    let started = Instant::now();
    let issues = gh.issues(REPO).expect("after the reset");
    assert_eq!(issues.len(), 5);
    assert!(started.elapsed() >= Duration::from_millis(900), "waited");
    assert_eq!(statuses(&fake), [403, 200]);
    assert_eq!(fake.rate_limit().used, 1, "a fresh window");
}

#[test]
fn a_rate_limit_that_outlasts_the_retries_is_reported_with_its_reset() {
    let fake = fake();
    fake.set_rate_limited_status(429);
    fake.exhaust_rate_limit(Duration::from_secs(600));
    let reset = fake.rate_limit().reset;
    let err = client_with(&fake, TOKEN, 1)
        .issues(REPO)
        .expect_err("limited");
    match &err {
        GhError::RateLimited { reset: got } => assert_eq!(*got, Some(reset)),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err.to_string().contains("rate limit"), "{err}");
}

#[test]
fn a_429_with_retry_after_is_retried() {
    let fake = fake();
    seed_issues(&fake, 2);
    fake.control().inject(
        Fault::status(429, &format!("/repos/{REPO}/issues"), 1)
            .retry_after(1)
            .body(
                "application/json",
                r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#,
            ),
    );
    let gh = client(&fake);
    let started = Instant::now();
    assert_eq!(gh.issues(REPO).expect("retried").len(), 2);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(statuses(&fake), [429, 200]);
    assert_eq!(gh.stats().retries.load(Ordering::Relaxed), 1);
}

#[test]
fn pulls_are_listed_with_merged_flags() {
    let fake = fake();
    fake.add_issue(REPO, "not a pull", "open", &[]);
    let open = fake.add_pull(REPO, "feature-a", "main", false);
    let merged = fake.add_pull(REPO, "feature-b", "main", true);
    let gh = client(&fake);
    let pulls = gh.pulls(REPO).expect("pulls");
    assert_eq!(pulls.len(), 2);
    let a = pulls.iter().find(|p| p.number == open).expect("open pull");
    assert_eq!(
        (
            a.state.as_str(),
            a.merged,
            a.head_ref.as_str(),
            a.base_ref.as_str()
        ),
        ("open", false, "feature-a", "main")
    );
    let b = pulls.iter().find(|p| p.number == merged).expect("merged");
    assert_eq!((b.state.as_str(), b.merged), ("closed", true));
    assert_eq!(
        b.html_url,
        format!("https://github.com/{REPO}/pull/{merged}")
    );
    // The single-pull endpoint says `merged` outright.
    assert!(gh.pull(REPO, merged).expect("pull").merged);
    assert!(matches!(gh.pull(REPO, 1), Err(GhError::NotFound { .. })));
}

#[test]
fn create_pull_opens_one_and_refuses_a_duplicate() {
    let fake = fake();
    fake.add_branch(REPO, "concord/sync");
    let gh = client(&fake);
    let new = NewPull {
        title: "Sync work status".into(),
        head: "concord/sync".into(),
        base: "main".into(),
        body: "Opened by concord.".into(),
    };
    let pull = gh.create_pull(REPO, &new).expect("created");
    assert_eq!(pull.state, "open");
    assert!(!pull.merged);
    assert_eq!(pull.head_ref, "concord/sync");
    assert_eq!(pull.base_ref, "main");
    assert_eq!(pull.title, "Sync work status");
    let held = fake.pulls(REPO);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].number, pull.number);
    assert_eq!(held[0].body.as_deref(), Some("Opened by concord."));
    assert_eq!(fake.control().count("POST", "/repos/"), 1);

    match gh.create_pull(REPO, &new) {
        Err(GhError::Invalid { message, errors }) => {
            assert_eq!(message, "Validation Failed");
            assert_eq!(
                errors,
                ["A pull request already exists for octo:concord/sync."]
            );
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn update_pull_changes_title_and_body_and_rejects_a_blank_title() {
    let fake = fake();
    let number = fake.add_pull(REPO, "concord/mirror/a-1234567", "main", false);
    let gh = client(&fake);
    let pull = gh
        .update_pull(REPO, number, "Mirror 3 documents", "- a.json")
        .expect("updated");
    assert_eq!(
        (pull.number, pull.title.as_str()),
        (number, "Mirror 3 documents")
    );
    let held = fake.pulls(REPO);
    assert_eq!(held[0].body.as_deref(), Some("- a.json"));
    assert_eq!(held[0].state, "open");
    match gh.update_pull(REPO, number, "  ", "x") {
        Err(GhError::Invalid { errors, .. }) => assert_eq!(errors, ["title: missing_field"]),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(matches!(
        gh.update_pull(REPO, number + 1, "t", "b"),
        Err(GhError::NotFound { .. })
    ));
}

#[test]
fn create_pull_for_a_missing_head_branch_carries_the_server_message() {
    let fake = fake();
    let gh = client(&fake);
    let err = gh
        .create_pull(
            REPO,
            &NewPull {
                title: "t".into(),
                head: "no-such-branch".into(),
                base: "main".into(),
                body: String::new(),
            },
        )
        .expect_err("missing head");
    match &err {
        GhError::Invalid { message, errors } => {
            assert_eq!(message, "Validation Failed");
            assert_eq!(errors, &["head: invalid"]);
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(err.to_string().contains("Validation Failed"), "{err}");
    assert!(fake.pulls(REPO).is_empty());
}

#[test]
fn the_fake_speaks_githubs_wire_protocol() {
    use concord_trackers::http::{Auth, HttpClient};
    let fake = fake();
    seed_issues(&fake, 250);
    fake.add_pull(REPO, "feature", "main", false);
    let http = HttpClient::new(&fake.url(), Auth::Bearer(TOKEN.into()))
        .expect("client")
        .with_header("accept", "application/vnd.github+json")
        .with_header("x-github-api-version", "2022-11-28");

    // A middle page links every way, absolutely; per_page is capped at 100.
    let page = http
        .request(
            "GET",
            &format!("/repos/{REPO}/issues?state=all&per_page=500&page=2"),
            &[],
            None,
        )
        .expect("page 2");
    let link = page.header("link").expect("link");
    for rel in ["prev", "next", "last", "first"] {
        assert!(link.contains(&format!("rel=\"{rel}\"")), "{link}");
    }
    assert!(
        link.contains(&format!("<{}/repositories/", fake.url())),
        "{link}"
    );
    assert!(link.contains("page=3>; rel=\"last\""), "{link}");
    let items: Vec<serde_json::Value> = page.json().expect("json");
    assert_eq!(items.len(), 100);
    let etag = page.header("etag").expect("etag").to_string();
    assert!(etag.starts_with('"'), "strong: {etag}");
    assert_eq!(page.header("x-ratelimit-resource"), Some("core"));
    assert_eq!(page.header("x-ratelimit-used"), Some("1"));

    // The newest item is the pull request, flagged as one.
    let first: Vec<serde_json::Value> = http
        .request(
            "GET",
            &format!("/repos/{REPO}/issues?per_page=1"),
            &[],
            None,
        )
        .expect("first")
        .json()
        .expect("json");
    assert!(first[0]["pull_request"]["url"].is_string(), "{}", first[0]);

    // 304: empty, same ETag, free.
    let again = http
        .send(
            "GET",
            &format!("/repos/{REPO}/issues?state=all&per_page=500&page=2"),
            &[("if-none-match", &etag)],
            None,
        )
        .expect("304");
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    assert_eq!(
        again.header("x-ratelimit-used"),
        Some("2"),
        "only the 2nd GET counted"
    );

    // GitHub's error bodies.
    let missing = http
        .send("GET", &format!("/repos/{REPO}/issues/9999"), &[], None)
        .expect("404");
    assert_eq!(missing.status, 404);
    let body: serde_json::Value = missing.json().expect("json");
    assert_eq!(body["message"], "Not Found");
    assert!(body["documentation_url"].is_string());
    let anonymous = HttpClient::new(&fake.url(), Auth::None)
        .expect("client")
        .send("GET", &format!("/repos/{REPO}/issues"), &[], None)
        .expect("401");
    assert_eq!(anonymous.status, 401);
    let old_version = HttpClient::new(&fake.url(), Auth::Bearer(TOKEN.into()))
        .expect("client")
        .send(
            "GET",
            &format!("/repos/{REPO}/issues"),
            &[("x-github-api-version", "2020-01-01")],
            None,
        )
        .expect("400");
    assert_eq!(old_version.status, 400);
    let bad_json = http
        .send(
            "PATCH",
            &format!("/repos/{REPO}/issues/1"),
            &[],
            Some(&serde_json::json!(["not", "an", "object"])),
        )
        .expect("422");
    assert_eq!(bad_json.status, 422);
    assert_eq!(fake.issue(REPO, 1).expect("#1").0, "open");
}
