//! `concord config check`: the workspace file is valid and its repos are
//! where it says, without reading a single source. Loading the workspace
//! already validated every key; this adds what only the disk can tell.

use concord_workspace::Workspace;
use schemars::JsonSchema;
use serde::Serialize;

/// What `concord config check --json` prints.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfigCheck {
    pub version: u32,
    /// The workspace file checked.
    pub config: String,
    pub repos: Vec<RepoCheck>,
    pub workflows: usize,
    pub sources: usize,
    pub trackers: usize,
    pub sync_rules: usize,
    pub mirrors: usize,
    /// The hub's URL, any password redacted.
    pub hub: String,
    /// Problems found; empty when the workspace is ready to scan.
    pub problems: Vec<String>,
    /// Worth knowing, not wrong (a repo that is a plain folder).
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RepoCheck {
    pub name: String,
    pub path: String,
    /// The folder exists.
    pub exists: bool,
    /// The folder is a git work tree (a sync can commit there).
    pub git: bool,
}

/// Check `ws` without reading any source.
pub fn config_check(ws: &Workspace) -> ConfigCheck {
    let (mut problems, mut notes) = (Vec::new(), Vec::new());
    let repos: Vec<RepoCheck> = ws
        .repos
        .iter()
        .map(|repo| {
            let exists = repo.root.is_dir();
            let git = repo.root.join(".git").exists();
            if !exists {
                problems.push(format!(
                    "repo `{}`: {} does not exist (path = \"{}\")",
                    repo.name,
                    repo.root.display(),
                    repo.path
                ));
            } else if !git {
                notes.push(format!(
                    "repo `{}`: {} is not a git work tree: a sync writes its files but commits nothing",
                    repo.name,
                    repo.root.display()
                ));
            }
            RepoCheck {
                name: repo.name.clone(),
                path: repo.path.clone(),
                exists,
                git,
            }
        })
        .collect();
    ConfigCheck {
        version: 1,
        config: ws.config_path.display().to_string(),
        repos,
        workflows: ws.workflows.len(),
        sources: ws.sources.len(),
        trackers: ws.trackers.len(),
        sync_rules: ws.rules.len(),
        mirrors: ws.mirrors.len(),
        hub: concord_model::redact_url(&ws.hub.url),
        problems,
        notes,
    }
}
