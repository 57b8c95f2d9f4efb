//! What concord writes to GitHub to report check results: the issue it
//! opens, updates and closes when a scheduled check snapshot regresses
//! (found again by its label), the one comment it keeps up to date on a
//! pull request, and the commit status on the pull request's head.
//!
//! Each call is one documented REST request (API version 2022-11-28);
//! listings are read whole, 100 a page along `rel="next"`. A commit status
//! GitHub would refuse (an unknown state, a description over 140
//! characters) is refused here before anything is sent.

use crate::github::{GhError, GitHub, Issue, RawIssue, check_repo, encode_path, parse};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashSet;

/// The states GitHub takes for a commit status.
pub const STATUS_STATES: [&str; 4] = ["error", "failure", "pending", "success"];
/// The longest commit status description GitHub takes, in characters.
pub const MAX_STATUS_DESCRIPTION: usize = 140;

/// An issue to open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewIssue {
    pub title: String,
    /// Markdown.
    pub body: String,
    /// Names; GitHub creates the ones the repository lacks.
    pub labels: Vec<String>,
}

/// A comment on an issue or pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: u64,
    pub body: String,
    pub html_url: String,
    /// The author's login (`ghost` for a deleted account).
    pub user: String,
    /// As GitHub sends it, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created_at: String,
}

/// A commit status, as GitHub lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitStatus {
    pub id: u64,
    /// "error", "failure", "pending" or "success".
    pub state: String,
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    /// As GitHub sends it, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created_at: String,
}

/// A commit status to set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewStatus {
    /// "error", "failure", "pending" or "success".
    pub state: String,
    /// Which check reports (GitHub shows one status per context).
    pub context: String,
    /// At most 140 characters.
    pub description: String,
    pub target_url: Option<String>,
}

#[derive(Deserialize)]
struct RawUser {
    login: String,
}

#[derive(Deserialize)]
struct RawComment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    html_url: String,
    /// Null when the account was deleted.
    #[serde(default)]
    user: Option<RawUser>,
    created_at: String,
}

impl From<RawComment> for Comment {
    fn from(raw: RawComment) -> Comment {
        Comment {
            id: raw.id,
            body: raw.body.unwrap_or_default(),
            html_url: raw.html_url,
            user: raw.user.map_or_else(|| "ghost".to_string(), |u| u.login),
            created_at: raw.created_at,
        }
    }
}

#[derive(Deserialize)]
struct RawStatus {
    id: u64,
    state: String,
    #[serde(default)]
    context: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    target_url: Option<String>,
    created_at: String,
}

impl From<RawStatus> for CommitStatus {
    fn from(raw: RawStatus) -> CommitStatus {
        CommitStatus {
            id: raw.id,
            state: raw.state,
            context: raw.context,
            description: raw.description,
            target_url: raw.target_url,
            created_at: raw.created_at,
        }
    }
}

/// Why GitHub would refuse `new`, asked before sending it.
fn status_problems(new: &NewStatus) -> Vec<String> {
    let mut problems = Vec::new();
    if !STATUS_STATES.contains(&new.state.as_str()) {
        problems.push(format!(
            "state: `{}` is not one of {}",
            new.state,
            STATUS_STATES.join(", ")
        ));
    }
    let length = new.description.chars().count();
    if length > MAX_STATUS_DESCRIPTION {
        problems.push(format!(
            "description: {length} characters, over GitHub's maximum of {MAX_STATUS_DESCRIPTION}"
        ));
    }
    problems
}

/// The items of a listing, each id once (a listing can shift under a walk;
/// the first copy is kept).
fn unique_by_id<T>(items: Vec<T>, id: impl Fn(&T) -> u64) -> Vec<T> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(id(item)))
        .collect()
}

impl GitHub {
    /// Every issue of `repo` (pull requests left out), open and closed,
    /// carrying `label`: `GET /repos/{repo}/issues?state=all&labels=...`,
    /// every page. GitHub matches the name case-insensitively (and reads a
    /// comma as between two names, so `label` should have none).
    pub fn issues_labelled(&self, repo: &str, label: &str) -> Result<Vec<Issue>, GhError> {
        let repo = check_repo(repo)?;
        let first = format!(
            "/repos/{repo}/issues?state=all&labels={}&per_page=100",
            encode_path(label)
        );
        self.issues_at(
            &first,
            &format!("issues labelled `{label}` in {repo}"),
            None,
        )
    }

    /// `POST /repos/{repo}/issues`: an open issue.
    pub fn create_issue(&self, repo: &str, new: &NewIssue) -> Result<Issue, GhError> {
        let repo = check_repo(repo)?;
        let payload = json!({"title": new.title, "body": new.body, "labels": new.labels});
        let response = self.call(
            "POST",
            &format!("/repos/{repo}/issues"),
            Some(&payload),
            &format!("repository {repo}"),
        )?;
        let raw: RawIssue = parse(response.json()?, "an issue")?;
        Ok(raw.into())
    }

    /// The comments on issue (or pull request) `number`, oldest first as
    /// GitHub lists them: `GET /repos/{repo}/issues/{number}/comments`,
    /// every page.
    pub fn comments(&self, repo: &str, number: u64) -> Result<Vec<Comment>, GhError> {
        let repo = check_repo(repo)?;
        let first = format!("/repos/{repo}/issues/{number}/comments?per_page=100");
        let values = self.walk(&first, &format!("issue {repo}#{number}"), None)?;
        let comments = values
            .into_iter()
            .map(|value| parse::<RawComment>(value, "a comment").map(Comment::from))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(unique_by_id(comments, |c| c.id))
    }

    /// `POST /repos/{repo}/issues/{number}/comments`.
    pub fn create_comment(&self, repo: &str, number: u64, body: &str) -> Result<Comment, GhError> {
        let repo = check_repo(repo)?;
        let response = self.call(
            "POST",
            &format!("/repos/{repo}/issues/{number}/comments"),
            Some(&json!({"body": body})),
            &format!("issue {repo}#{number}"),
        )?;
        let raw: RawComment = parse(response.json()?, "a comment")?;
        Ok(raw.into())
    }

    /// `PATCH /repos/{repo}/issues/comments/{id}`: new text for a comment.
    pub fn update_comment(&self, repo: &str, id: u64, body: &str) -> Result<Comment, GhError> {
        let repo = check_repo(repo)?;
        let response = self.call(
            "PATCH",
            &format!("/repos/{repo}/issues/comments/{id}"),
            Some(&json!({"body": body})),
            &format!("comment {id} in {repo}"),
        )?;
        let raw: RawComment = parse(response.json()?, "a comment")?;
        Ok(raw.into())
    }

    /// `DELETE /repos/{repo}/issues/comments/{id}` (GitHub answers 204).
    pub fn delete_comment(&self, repo: &str, id: u64) -> Result<(), GhError> {
        let repo = check_repo(repo)?;
        self.call(
            "DELETE",
            &format!("/repos/{repo}/issues/comments/{id}"),
            None,
            &format!("comment {id} in {repo}"),
        )?;
        Ok(())
    }

    /// The statuses of commit `sha`, newest first as GitHub lists them:
    /// `GET /repos/{repo}/commits/{sha}/statuses`, every page.
    pub fn statuses(&self, repo: &str, sha: &str) -> Result<Vec<CommitStatus>, GhError> {
        let repo = check_repo(repo)?;
        let first = format!(
            "/repos/{repo}/commits/{}/statuses?per_page=100",
            encode_path(sha)
        );
        let values = self.walk(&first, &format!("commit {sha} in {repo}"), None)?;
        let statuses = values
            .into_iter()
            .map(|value| parse::<RawStatus>(value, "a commit status").map(CommitStatus::from))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(unique_by_id(statuses, |s| s.id))
    }

    /// `POST /repos/{repo}/statuses/{sha}`. A state GitHub does not know
    /// or a description over 140 characters is refused here
    /// ([`GhError::Invalid`]) without sending anything.
    pub fn create_status(
        &self,
        repo: &str,
        sha: &str,
        new: &NewStatus,
    ) -> Result<CommitStatus, GhError> {
        let repo = check_repo(repo)?;
        let problems = status_problems(new);
        if !problems.is_empty() {
            return Err(GhError::Invalid {
                message: "the commit status was not sent: GitHub would refuse it".into(),
                errors: problems,
            });
        }
        let mut payload = serde_json::Map::new();
        payload.insert("state".into(), json!(new.state));
        payload.insert("context".into(), json!(new.context));
        payload.insert("description".into(), json!(new.description));
        if let Some(url) = &new.target_url {
            payload.insert("target_url".into(), json!(url));
        }
        let response = self.call(
            "POST",
            &format!("/repos/{repo}/statuses/{}", encode_path(sha)),
            Some(&Value::Object(payload)),
            &format!("repository {repo}"),
        )?;
        let raw: RawStatus = parse(response.json()?, "a commit status")?;
        Ok(raw.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: &str, description: &str) -> NewStatus {
        NewStatus {
            state: state.into(),
            context: "concord/check".into(),
            description: description.into(),
            target_url: None,
        }
    }

    #[test]
    fn statuses_github_would_refuse_are_named() {
        assert!(status_problems(&status("success", &"é".repeat(140))).is_empty());
        let problems = status_problems(&status("passed", &"a".repeat(141)));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("state: `passed`"), "{problems:?}");
        assert!(problems[1].contains("141 characters"), "{problems:?}");
    }

    #[test]
    fn comments_of_deleted_accounts_are_ghosts() {
        let raw: RawComment = serde_json::from_value(json!({
            "id": 7, "body": null, "user": null, "created_at": "2024-01-01T00:00:00Z"
        }))
        .expect("comment");
        let comment = Comment::from(raw);
        assert_eq!(comment.user, "ghost");
        assert_eq!(comment.body, "");
    }

    #[test]
    fn listings_keep_the_first_copy_of_each_id() {
        assert_eq!(unique_by_id(vec![3, 2, 3, 1, 2], |n| *n), [3, 2, 1]);
    }
}
