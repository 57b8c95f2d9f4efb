//! What concord writes to GitHub to report check results (labelled
//! issues, pull request comments, commit statuses), against the fake
//! GitHub over real HTTP on loopback.

use concord_fakes::github::{FakeComment, FakeGitHub, FakeStatus};
use concord_trackers::github::{GhError, GitHub, IssueUpdate};
use concord_trackers::github_feedback::{NewIssue, NewStatus};
use concord_trackers::http::RetryPolicy;
use std::path::{Path, PathBuf};
use std::time::Duration;

const TOKEN: &str = "ghp_feedbackTokenForTests456";
const REPO: &str = "octo/widgets";
const LABEL: &str = "concord/regression";

fn fake() -> FakeGitHub {
    let fake = FakeGitHub::start(TOKEN).expect("fake github");
    fake.add_repo(REPO);
    fake
}

fn client(fake: &FakeGitHub) -> GitHub {
    GitHub::new(&fake.url(), TOKEN)
        .expect("client")
        .with_retry(RetryPolicy {
            attempts: 2,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_secs(1),
        })
}

fn new_issue(title: &str, labels: &[&str]) -> NewIssue {
    NewIssue {
        title: title.into(),
        body: format!("{title}: what regressed"),
        labels: labels.iter().map(|l| (*l).to_string()).collect(),
    }
}

fn status(state: &str, context: &str, description: &str) -> NewStatus {
    NewStatus {
        state: state.into(),
        context: context.into(),
        description: description.into(),
        target_url: Some("https://ci.example.com/run/1".into()),
    }
}

/// Neither the message nor the debug form of an error shows the token.
fn assert_no_token(err: &GhError) {
    assert!(!err.to_string().contains(TOKEN), "{err}");
    assert!(!format!("{err:?}").contains(TOKEN), "{err:?}");
}

#[test]
fn a_labelled_issue_is_created_found_by_its_label_and_updated() {
    let fake = fake();
    let gh = client(&fake);
    // Closed issues count too; the label's case is the repository's.
    let old = fake.add_issue(REPO, "An old regression", "closed", &["Concord/Regression"]);
    let unlabelled = gh
        .create_issue(REPO, &new_issue("Something else", &[]))
        .expect("unlabelled");
    let created = gh
        .create_issue(REPO, &new_issue("Checks regressed", &[LABEL, "checks"]))
        .expect("created");
    assert_eq!(created.state, "open");
    assert_eq!(created.title, "Checks regressed");
    assert_eq!(created.labels, ["Concord/Regression", "checks"]);
    assert_eq!(
        created.body.as_deref(),
        Some("Checks regressed: what regressed")
    );
    assert_eq!(
        created.html_url,
        format!("https://github.com/{REPO}/issues/{}", created.number)
    );
    // A pull request carrying the label is not an issue.
    let pull = fake.add_pull(REPO, "feature", "main", false);
    gh.update_issue(
        REPO,
        pull,
        &IssueUpdate {
            labels: Some(vec![LABEL.into()]),
            ..IssueUpdate::default()
        },
    )
    .expect("label the pull request");

    fake.control().clear_log();
    let mut found: Vec<u64> = gh
        .issues_labelled(REPO, LABEL)
        .expect("labelled")
        .iter()
        .map(|i| i.number)
        .collect();
    found.sort_unstable();
    assert_eq!(found, [old, created.number]);
    assert!(!found.contains(&unlabelled.number));
    let log = fake.control().requests();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(
        log[0].target,
        format!("/repos/{REPO}/issues?state=all&labels=concord%2Fregression&per_page=100")
    );
    let mut seen = fake.issues_with_label(REPO, LABEL);
    seen.sort_unstable();
    assert_eq!(seen, [old, created.number]);
    assert!(
        gh.issues_labelled(REPO, "nobody-uses-this")
            .expect("none")
            .is_empty()
    );

    let updated = gh
        .update_issue(
            REPO,
            created.number,
            &IssueUpdate {
                body: Some("Fixed by the latest snapshot.".into()),
                state: Some("closed".into()),
                ..IssueUpdate::default()
            },
        )
        .expect("updated");
    assert_eq!(updated.state, "closed");
    assert_eq!(updated.state_reason.as_deref(), Some("completed"));
    assert_eq!(
        updated.body.as_deref(),
        Some("Fixed by the latest snapshot.")
    );
    assert_eq!(
        fake.issue_body(REPO, created.number).as_deref(),
        Some("Fixed by the latest snapshot.")
    );
    let again = gh.issues_labelled(REPO, LABEL).expect("labelled");
    let closed = again
        .iter()
        .find(|i| i.number == created.number)
        .expect("still found when closed");
    assert_eq!(closed.state, "closed");
    assert_eq!(
        closed.body.as_deref(),
        Some("Fixed by the latest snapshot.")
    );
}

#[test]
fn issues_and_pull_requests_share_numbers() {
    let fake = fake();
    let gh = client(&fake);
    let pull = fake.add_pull(REPO, "feature", "main", false);
    let issue = gh
        .create_issue(REPO, &new_issue("After the pull", &[]))
        .expect("issue");
    assert_eq!(issue.number, pull + 1);
}

#[test]
fn a_blank_title_is_rejected() {
    let fake = fake();
    let err = client(&fake)
        .create_issue(REPO, &new_issue("  ", &[]))
        .expect_err("blank title");
    assert!(
        matches!(&err, GhError::Invalid { errors, .. } if errors == &["title: missing_field"]),
        "{err:?}"
    );
    assert!(fake.issues_with_label(REPO, LABEL).is_empty());
}

#[test]
fn comments_page_past_one_hundred_oldest_first() {
    let fake = fake();
    let number = fake.add_issue(REPO, "Busy", "open", &[]);
    for i in 1..=104 {
        fake.add_comment(REPO, number, "alice", &format!("comment {i}"));
    }
    let gh = client(&fake);
    let mine = gh
        .create_comment(REPO, number, "concord's report")
        .expect("created");
    assert_eq!(mine.user, "octocat");
    assert_eq!(mine.body, "concord's report");
    assert_eq!(
        mine.html_url,
        format!(
            "https://github.com/{REPO}/issues/{number}#issuecomment-{}",
            mine.id
        )
    );
    assert!(mine.created_at.ends_with('Z'), "{}", mine.created_at);

    fake.control().clear_log();
    let comments = gh.comments(REPO, number).expect("comments");
    assert_eq!(comments.len(), 105);
    assert_eq!(comments[0].body, "comment 1");
    assert_eq!(comments[0].user, "alice");
    assert_eq!(comments[103].body, "comment 104");
    assert_eq!(comments[104], mine);
    let log = fake.control().requests();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(
        log[0].target,
        format!("/repos/{REPO}/issues/{number}/comments?per_page=100")
    );
    assert!(log[1].target.starts_with("/repositories/"), "{log:?}");
    assert!(log[1].target.ends_with("page=2"), "{log:?}");
}

#[test]
fn a_sticky_comment_on_a_pull_request_is_updated_then_deleted() {
    let fake = fake();
    let pull = fake.add_pull(REPO, "feature", "main", false);
    let human = fake.add_comment(REPO, pull, "bob", "LGTM");
    let gh = client(&fake);
    let sticky = gh
        .create_comment(REPO, pull, "checks: 2 findings")
        .expect("created");
    assert_eq!(
        sticky.html_url,
        format!(
            "https://github.com/{REPO}/pull/{pull}#issuecomment-{}",
            sticky.id
        )
    );
    let edited = gh
        .update_comment(REPO, sticky.id, "checks: clean")
        .expect("updated");
    assert_eq!(edited.id, sticky.id);
    assert_eq!(edited.body, "checks: clean");
    assert_eq!(
        fake.comments(REPO, pull),
        [
            FakeComment {
                id: human,
                body: "LGTM".into(),
                user: "bob".into()
            },
            FakeComment {
                id: sticky.id,
                body: "checks: clean".into(),
                user: "octocat".into()
            },
        ]
    );
    let listed = gh.comments(REPO, pull).expect("comments");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1], edited);

    gh.delete_comment(REPO, sticky.id).expect("deleted");
    assert_eq!(fake.comments(REPO, pull).len(), 1);
    assert_eq!(
        fake.control().requests().last().map(|r| r.status),
        Some(204)
    );
    let gone = gh
        .delete_comment(REPO, sticky.id)
        .expect_err("already gone");
    assert!(matches!(gone, GhError::NotFound { .. }), "{gone:?}");
    let gone = gh
        .update_comment(REPO, sticky.id, "again")
        .expect_err("already gone");
    assert!(matches!(gone, GhError::NotFound { .. }), "{gone:?}");
    assert_no_token(&gone);
}

#[test]
fn comment_bodies_github_refuses() {
    let fake = fake();
    let number = fake.add_issue(REPO, "Target", "open", &[]);
    let gh = client(&fake);
    for blank in ["", "  \n"] {
        let err = gh.create_comment(REPO, number, blank).expect_err("blank");
        assert!(
            matches!(&err, GhError::Invalid { errors, .. } if errors == &["body: missing_field"]),
            "{err:?}"
        );
        assert_no_token(&err);
    }
    let longest = "x".repeat(65_536);
    let ok = gh
        .create_comment(REPO, number, &longest)
        .expect("at the limit");
    let too_long = format!("{longest}y");
    let err = gh
        .create_comment(REPO, number, &too_long)
        .expect_err("too long");
    match &err {
        GhError::Invalid { message, errors } => {
            assert_eq!(message, "Validation Failed");
            assert_eq!(
                errors,
                &["body: body is too long (maximum is 65536 characters)"]
            );
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_no_token(&err);
    let err = gh
        .update_comment(REPO, ok.id, &too_long)
        .expect_err("too long an edit");
    assert!(matches!(err, GhError::Invalid { .. }), "{err:?}");
    let err = gh.update_comment(REPO, ok.id, "").expect_err("blank edit");
    assert!(matches!(err, GhError::Invalid { .. }), "{err:?}");
    assert_eq!(fake.comments(REPO, number).len(), 1);
    assert_eq!(fake.comments(REPO, number)[0].body, longest);
}

#[test]
fn comments_on_a_missing_issue_are_not_found() {
    let fake = fake();
    let gh = client(&fake);
    let err = gh.comments(REPO, 999).expect_err("no issue");
    assert!(
        matches!(&err, GhError::NotFound { what } if what.contains("#999")),
        "{err:?}"
    );
    assert_no_token(&err);
    let err = gh.create_comment(REPO, 999, "hello").expect_err("no issue");
    assert!(matches!(err, GhError::NotFound { .. }), "{err:?}");
    let err = gh.comments("octo/missing", 1).expect_err("no repo");
    assert!(matches!(err, GhError::NotFound { .. }), "{err:?}");
}

#[test]
fn statuses_go_on_the_pull_requests_head_newest_first() {
    let fake = fake();
    let number = fake.add_pull(REPO, "feature", "main", false);
    let gh = client(&fake);
    let pull = gh.pull(REPO, number).expect("pull");
    assert_eq!(pull.head_sha.len(), 40, "{}", pull.head_sha);
    assert_eq!(
        Some(pull.head_sha.clone()),
        fake.pull_head_sha(REPO, number)
    );
    let sha = pull.head_sha;

    let pending = gh
        .create_status(REPO, &sha, &status("pending", "concord/check", "Checking"))
        .expect("pending");
    assert_eq!(pending.state, "pending");
    assert_eq!(pending.context, "concord/check");
    assert_eq!(pending.description.as_deref(), Some("Checking"));
    assert_eq!(
        pending.target_url.as_deref(),
        Some("https://ci.example.com/run/1")
    );
    assert!(pending.created_at.ends_with('Z'));
    let other = gh
        .create_status(
            REPO,
            &sha,
            &NewStatus {
                target_url: None,
                ..status("success", "ci/build", "Built")
            },
        )
        .expect("another context");
    let done = gh
        .create_status(
            REPO,
            &sha,
            &status("failure", "concord/check", "2 findings"),
        )
        .expect("failure");

    let listed = gh.statuses(REPO, &sha).expect("statuses");
    let ids: Vec<u64> = listed.iter().map(|s| s.id).collect();
    assert_eq!(ids, [done.id, other.id, pending.id]);
    assert_eq!(listed[0], done);
    assert_eq!(listed[1].target_url, None);
    assert_eq!(
        fake.statuses(REPO, &sha),
        [
            FakeStatus {
                state: "failure".into(),
                context: "concord/check".into(),
                description: Some("2 findings".into()),
                target_url: Some("https://ci.example.com/run/1".into()),
            },
            FakeStatus {
                state: "success".into(),
                context: "ci/build".into(),
                description: Some("Built".into()),
                target_url: None,
            },
            FakeStatus {
                state: "pending".into(),
                context: "concord/check".into(),
                description: Some("Checking".into()),
                target_url: Some("https://ci.example.com/run/1".into()),
            },
        ]
    );
    // A branch name is a ref too.
    assert_eq!(gh.statuses(REPO, "feature").expect("by branch"), listed);
    // Another commit has none.
    let second = fake.add_pull(REPO, "other", "main", false);
    let other_sha = gh.pull(REPO, second).expect("pull").head_sha;
    assert_ne!(other_sha, sha);
    assert!(gh.statuses(REPO, &other_sha).expect("none").is_empty());
}

#[test]
fn statuses_page_past_one_hundred() {
    let fake = fake();
    let number = fake.add_pull(REPO, "feature", "main", false);
    let sha = fake.pull_head_sha(REPO, number).expect("sha");
    let gh = client(&fake);
    for i in 0..103 {
        gh.create_status(REPO, &sha, &status("pending", &format!("ctx/{i}"), "…"))
            .expect("created");
    }
    fake.control().clear_log();
    let listed = gh.statuses(REPO, &sha).expect("statuses");
    assert_eq!(listed.len(), 103);
    assert_eq!(listed[0].context, "ctx/102");
    assert_eq!(listed[102].context, "ctx/0");
    assert_eq!(fake.control().requests().len(), 2);
}

#[test]
fn statuses_github_would_refuse_are_not_sent() {
    let fake = fake();
    let number = fake.add_pull(REPO, "feature", "main", false);
    let sha = fake.pull_head_sha(REPO, number).expect("sha");
    let gh = client(&fake);
    let long = "d".repeat(141);
    let err = gh
        .create_status(REPO, &sha, &status("success", "concord/check", &long))
        .expect_err("too long");
    match &err {
        GhError::Invalid { errors, .. } => {
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].starts_with("description:"), "{errors:?}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    let err = gh
        .create_status(REPO, &sha, &status("passed", "concord/check", "ok"))
        .expect_err("unknown state");
    assert!(matches!(err, GhError::Invalid { .. }), "{err:?}");
    assert_eq!(fake.control().count("POST", "/repos/"), 0);
    assert!(fake.statuses(REPO, &sha).is_empty());
    // 140 characters (not bytes) is fine.
    gh.create_status(
        REPO,
        &sha,
        &status("success", "concord/check", &"é".repeat(140)),
    )
    .expect("at the limit");
    assert_eq!(fake.control().count("POST", "/repos/"), 1);
}

#[test]
fn a_status_for_an_unknown_commit_is_rejected() {
    let fake = fake();
    let gh = client(&fake);
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    let err = gh
        .create_status(REPO, unknown, &status("success", "concord/check", "ok"))
        .expect_err("unknown sha");
    match &err {
        GhError::Invalid { message, .. } => {
            assert_eq!(message, &format!("No commit found for SHA: {unknown}"));
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_no_token(&err);
    assert_eq!(fake.control().count("POST", "/repos/"), 1, "it was sent");
    let err = gh
        .create_status(REPO, "main", &status("success", "concord/check", "ok"))
        .expect_err("a branch is not a sha");
    assert!(matches!(err, GhError::Invalid { .. }), "{err:?}");
}

/// A git repository in a fresh temporary directory, with two commits on
/// `main`; returns its path and both shas, oldest first.
fn git_repo(name: &str) -> (PathBuf, String, String) {
    let dir = std::env::temp_dir().join(format!(
        "concord-feedback-{name}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let git = |args: &[&str]| {
        let output = std::process::Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        assert!(output.status.success(), "git {args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["commit", "-q", "--allow-empty", "-m", "one"]);
    let first = git(&["rev-parse", "HEAD"]);
    git(&["commit", "-q", "--allow-empty", "-m", "two"]);
    let second = git(&["rev-parse", "HEAD"]);
    (dir, first, second)
}

fn remove(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_git_backed_repository_knows_every_commit_it_has() {
    let fake = fake();
    let (dir, first, second) = git_repo("statuses");
    fake.attach_git(REPO, &dir);
    let gh = client(&fake);
    // Not a branch head, but a commit of the repository.
    let old = gh
        .create_status(REPO, &first, &status("success", "concord/check", "ok"))
        .expect("an older commit");
    assert_eq!(old.state, "success");
    gh.create_status(REPO, &second, &status("pending", "concord/check", "…"))
        .expect("the head");
    assert_eq!(gh.statuses(REPO, "main").expect("by branch").len(), 1);
    assert_eq!(fake.statuses(REPO, &first).len(), 1);
    let missing = "f".repeat(40);
    let err = gh
        .create_status(REPO, &missing, &status("success", "concord/check", "ok"))
        .expect_err("not in git");
    assert!(matches!(err, GhError::Invalid { .. }), "{err:?}");
    remove(&dir);
}

#[test]
fn every_write_counts_against_the_rate_limit() {
    let fake = fake();
    let number = fake.add_pull(REPO, "feature", "main", false);
    let sha = fake.pull_head_sha(REPO, number).expect("sha");
    let gh = client(&fake);
    let before = fake.rate_limit().used;
    let comment = gh.create_comment(REPO, number, "hi").expect("comment");
    gh.update_comment(REPO, comment.id, "hello").expect("edit");
    gh.delete_comment(REPO, comment.id).expect("delete");
    gh.create_issue(REPO, &new_issue("Regressed", &[LABEL]))
        .expect("issue");
    gh.create_status(REPO, &sha, &status("success", "concord/check", "ok"))
        .expect("status");
    assert_eq!(fake.rate_limit().used, before + 5);
}

#[test]
fn a_bad_token_is_unauthorized_and_never_shown() {
    let fake = fake();
    let number = fake.add_issue(REPO, "x", "open", &[]);
    let wrong = "ghp_wrongTokenWrongToken99";
    let gh = GitHub::new(&fake.url(), wrong).expect("client");
    let errors = [
        gh.create_comment(REPO, number, "hi").expect_err("401"),
        gh.comments(REPO, number).expect_err("401"),
        gh.issues_labelled(REPO, LABEL).expect_err("401"),
        gh.delete_comment(REPO, 1).expect_err("401"),
    ];
    for err in &errors {
        assert!(matches!(err, GhError::Unauthorized { .. }), "{err:?}");
        assert!(!err.to_string().contains(wrong), "{err}");
        assert!(!format!("{err:?}").contains(wrong), "{err:?}");
    }
    assert!(fake.comments(REPO, number).is_empty());
}

#[test]
fn the_fake_answers_feedback_routes_as_github_does() {
    use concord_trackers::http::{Auth, HttpClient};
    use serde_json::{Value, json};
    let fake = fake();
    let number = fake.add_issue(REPO, "Target", "open", &[]);
    let pull = fake.add_pull(REPO, "feature", "main", false);
    let sha = fake.pull_head_sha(REPO, pull).expect("sha");
    let http = HttpClient::new(&fake.url(), Auth::Bearer(TOKEN.into()))
        .expect("client")
        .with_header("accept", "application/vnd.github+json")
        .with_header("x-github-api-version", "2022-11-28");
    let send = |method: &str, path: &str, body: Option<Value>| {
        http.send(method, path, &[], body.as_ref()).expect("sent")
    };

    // Creating an issue: 201 with a Location; a missing title is a schema error.
    let created = send(
        "POST",
        &format!("/repos/{REPO}/issues"),
        Some(json!({"title": "T", "labels": [{"name": "bug"}]})),
    );
    assert_eq!(created.status, 201);
    let issue: Value = created.json().expect("json");
    assert_eq!(
        created.header("location"),
        Some(format!("{}/repos/{REPO}/issues/{}", fake.url(), issue["number"]).as_str())
    );
    assert_eq!(issue["labels"][0]["name"], "bug");
    let untitled = send(
        "POST",
        &format!("/repos/{REPO}/issues"),
        Some(json!({"body": "b"})),
    );
    assert_eq!(untitled.status, 422);
    let body: Value = untitled.json().expect("json");
    assert_eq!(
        body["message"],
        "Invalid request.\n\n\"title\" wasn't supplied."
    );

    // Comments: GitHub's JSON, the issue's count, 204 with no body on delete.
    let posted = send(
        "POST",
        &format!("/repos/{REPO}/issues/{number}/comments"),
        Some(json!({"body": "hello"})),
    );
    assert_eq!(posted.status, 201);
    let comment: Value = posted.json().expect("json");
    let id = comment["id"].as_u64().expect("id");
    assert_eq!(
        posted.header("location"),
        Some(format!("{}/repos/{REPO}/issues/comments/{id}", fake.url()).as_str())
    );
    for field in [
        "node_id",
        "url",
        "html_url",
        "created_at",
        "updated_at",
        "issue_url",
    ] {
        assert!(comment[field].is_string(), "{field}: {comment}");
    }
    assert_eq!(comment["user"]["login"], "octocat");
    assert_eq!(comment["author_association"], "OWNER");
    let issue: Value = send("GET", &format!("/repos/{REPO}/issues/{number}"), None)
        .json()
        .expect("json");
    assert_eq!(issue["comments"], 1);
    let single: Value = send("GET", &format!("/repos/{REPO}/issues/comments/{id}"), None)
        .json()
        .expect("json");
    assert_eq!(single, comment);
    let unsupplied = send(
        "POST",
        &format!("/repos/{REPO}/issues/{number}/comments"),
        Some(json!({})),
    );
    assert_eq!(unsupplied.status, 422);
    let body: Value = unsupplied.json().expect("json");
    assert_eq!(
        body["message"],
        "Invalid request.\n\n\"body\" wasn't supplied."
    );
    let deleted = send(
        "DELETE",
        &format!("/repos/{REPO}/issues/comments/{id}"),
        None,
    );
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    assert_eq!(deleted.header("content-type"), None);
    let issue: Value = send("GET", &format!("/repos/{REPO}/issues/{number}"), None)
        .json()
        .expect("json");
    assert_eq!(issue["comments"], 0);

    // Statuses: validation bodies, a default context, the combined state.
    let bad = send(
        "POST",
        &format!("/repos/{REPO}/statuses/{sha}"),
        Some(json!({"state": "passed", "description": "d".repeat(141)})),
    );
    assert_eq!(bad.status, 422);
    let body: Value = bad.json().expect("json");
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(
        body["errors"][0],
        json!({"resource": "Status", "code": "custom", "field": "state",
            "message": "state is not included in the list"})
    );
    assert_eq!(
        body["errors"][1],
        json!({"resource": "Status", "code": "custom", "field": "description",
            "message": "description is too long (maximum is 140 characters)"})
    );
    let made = send(
        "POST",
        &format!("/repos/{REPO}/statuses/{sha}"),
        Some(json!({"state": "success"})),
    );
    assert_eq!(made.status, 201);
    let made: Value = made.json().expect("json");
    assert_eq!(made["context"], "default");
    assert_eq!(made["description"], Value::Null);
    assert_eq!(made["creator"]["login"], "octocat");
    send(
        "POST",
        &format!("/repos/{REPO}/statuses/{sha}"),
        Some(json!({"state": "pending", "context": "ci"})),
    );
    let combined: Value = send("GET", &format!("/repos/{REPO}/commits/{sha}/status"), None)
        .json()
        .expect("json");
    assert_eq!(combined["state"], "pending");
    assert_eq!(combined["total_count"], 2);
    assert_eq!(combined["sha"], sha.as_str());
    send(
        "POST",
        &format!("/repos/{REPO}/statuses/{sha}"),
        Some(json!({"state": "success", "context": "ci"})),
    );
    let combined: Value = send(
        "GET",
        &format!("/repos/{REPO}/commits/feature/status"),
        None,
    )
    .json()
    .expect("json");
    assert_eq!(combined["state"], "success");
    assert_eq!(combined["total_count"], 2);
    let unknown = send(
        "GET",
        &format!("/repos/{REPO}/commits/no-such-ref/statuses"),
        None,
    );
    assert_eq!(unknown.status, 404);
}
