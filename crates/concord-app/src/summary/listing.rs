//! The items of one repo or one source, each with its status there and
//! the hub's: the control room's per-repo and per-source pages
//! (`/repos/{name}`, `/sources/{name}` and their API twins). Like the
//! summary, it scans the workspace and reads the hub, so an item a source
//! holds that no sync has recorded yet is listed, marked `in_hub: false`.

use super::{count_statuses, hub_readings, word_of, workspace_name};
use crate::hub::{self, Failure};
use concord_model::Observation;
use concord_workspace::{Workspace, scan};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The shape of [`Listing`]; it changes when a field changes meaning.
pub const VERSION: u32 = 1;

/// Which items to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every source of the repo of this name.
    Repo(String),
    /// Every repo's copy of the source of this name.
    Source(String),
}

impl Scope {
    fn kind(&self) -> &'static str {
        match self {
            Scope::Repo(_) => "repo",
            Scope::Source(_) => "source",
        }
    }

    fn name(&self) -> &str {
        match self {
            Scope::Repo(name) | Scope::Source(name) => name,
        }
    }

    fn holds(&self, obs: &Observation) -> bool {
        match self {
            Scope::Repo(name) => &*obs.repo == name,
            Scope::Source(name) => &*obs.source == name,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Listing {
    /// [`VERSION`].
    pub version: u32,
    pub workspace: String,
    /// `repo` or `source`.
    pub kind: String,
    pub name: String,
    /// The sources (for a repo) or repos (for a source) it covers.
    pub covers: Vec<String>,
    /// Status (as the summary counts them) -> items.
    pub by_status: BTreeMap<String, usize>,
    /// How many of `items` the hub has not recorded yet.
    pub not_in_hub: usize,
    /// Every copy, by key, then source and repo.
    pub items: Vec<ListedItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListedItem {
    pub key: String,
    pub source: String,
    pub repo: String,
    /// Canonical status, or the source's own word when it is not one.
    pub status: Option<String>,
    /// The word as written, when it differs from `status`.
    pub raw: Option<String>,
    pub path: String,
    pub line: u32,
    /// The hub's status (`None`: the hub has none, or no record).
    pub hub: Option<String>,
    /// Whether the hub has recorded the item at all.
    pub in_hub: bool,
}

/// Scan the workspace and read the hub's values; records nothing. An
/// unknown repo or source is a usage failure naming the known ones.
pub fn listing(
    ws: &Workspace,
    store: &concord_store::Store,
    scope: &Scope,
) -> Result<Listing, Failure> {
    let covers = covered(ws, scope)?;
    let report = scan(ws);
    let hub = hub_readings(hub::block_on(store.hub_statuses())??);
    let observations: Vec<&Observation> =
        report.observations().filter(|o| scope.holds(o)).collect();
    Ok(list(
        &workspace_name(ws),
        scope,
        covers,
        &observations,
        &hub,
    ))
}

/// The other side of the scope (sources of a repo, repos of a source), or
/// the failure for a name the workspace does not have.
fn covered(ws: &Workspace, scope: &Scope) -> Result<Vec<String>, Failure> {
    let pairs = ws
        .sources
        .iter()
        .map(|s| (ws.repo(s).name.as_str(), s.name.as_str()));
    let (names, covers): (Vec<&str>, Vec<String>) = match scope {
        Scope::Repo(name) => (
            ws.repos.iter().map(|r| r.name.as_str()).collect(),
            pairs
                .filter(|(r, _)| r == name)
                .map(|(_, s)| s.to_string())
                .collect(),
        ),
        Scope::Source(name) => (
            ws.sources.iter().map(|s| s.name.as_str()).collect(),
            pairs
                .filter(|(_, s)| s == name)
                .map(|(r, _)| r.to_string())
                .collect(),
        ),
    };
    if !names.contains(&scope.name()) {
        let mut known: Vec<&str> = names;
        known.dedup();
        return Err(Failure::usage(
            format!("no {} `{}` in the workspace", scope.kind(), scope.name()),
            Some(format!("known: {}", known.join(", "))),
        ));
    }
    let mut covers = covers;
    covers.dedup();
    Ok(covers)
}

/// The listing of `observations` (already in scope) against the hub.
fn list(
    workspace: &str,
    scope: &Scope,
    covers: Vec<String>,
    observations: &[&Observation],
    hub: &[Observation],
) -> Listing {
    let hub_by_key: BTreeMap<&str, Option<String>> =
        hub.iter().map(|o| (o.key.as_str(), word_of(o))).collect();
    let mut items: Vec<ListedItem> = observations
        .iter()
        .map(|o| {
            let status = word_of(o);
            let raw = o
                .status
                .as_ref()
                .map(|s| s.raw.clone())
                .filter(|raw| Some(raw) != status.as_ref());
            ListedItem {
                key: o.key.clone(),
                source: o.source.to_string(),
                repo: o.repo.to_string(),
                status,
                raw,
                path: o.path.to_string(),
                line: o.status.as_ref().map_or(o.line, |s| s.line),
                hub: hub_by_key.get(o.key.as_str()).cloned().flatten(),
                in_hub: hub_by_key.contains_key(o.key.as_str()),
            }
        })
        .collect();
    items.sort_by(|a, b| (&a.key, &a.source, &a.repo).cmp(&(&b.key, &b.source, &b.repo)));
    Listing {
        version: VERSION,
        workspace: workspace.to_string(),
        kind: scope.kind().to_string(),
        name: scope.name().to_string(),
        covers,
        by_status: count_statuses(observations.iter().copied()),
        not_in_hub: items.iter().filter(|i| !i.in_hub).count(),
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_model::StatusReading;
    use std::sync::Arc;

    fn reading(
        source: &str,
        repo: &str,
        key: &str,
        raw: &str,
        canonical: Option<&str>,
    ) -> Observation {
        Observation {
            source: Arc::from(source),
            repo: Arc::from(repo),
            key: key.into(),
            path: Arc::from("docs/plan.md"),
            line: 1,
            status: Some(StatusReading {
                canonical: canonical.map(Arc::from),
                raw: raw.into(),
                rank: None,
                line: 7,
                span: 0..0,
                pinned: None,
            }),
            owner: None,
            fields: Vec::new(),
        }
    }

    #[test]
    fn items_the_hub_lacks_are_marked_and_counted() {
        let plan = reading("plan", "app", "wp#2", "Closed", Some("done"));
        let new = reading("plan", "app", "wp#1", "later", None);
        let hub = hub_readings(vec![concord_store::HubStatus {
            key: "wp#2".into(),
            value: Some("todo".into()),
            version: 3,
        }]);
        let scope = Scope::Source("plan".into());
        let listing = list("ws", &scope, vec!["app".into()], &[&plan, &new], &hub);
        assert_eq!(listing.kind, "source");
        assert_eq!(listing.not_in_hub, 1);
        // by key
        assert_eq!(listing.items[0].key, "wp#1");
        assert!(!listing.items[0].in_hub);
        assert_eq!(listing.items[0].status.as_deref(), Some("later"));
        assert_eq!(listing.items[0].raw, None, "the word is its own status");
        assert_eq!(listing.items[1].hub.as_deref(), Some("todo"));
        assert!(listing.items[1].in_hub);
        assert_eq!(listing.items[1].raw.as_deref(), Some("Closed"));
        assert_eq!(listing.items[1].line, 7, "the status line");
        assert_eq!(listing.by_status["done"], 1);
        assert_eq!(listing.by_status["later (unknown)"], 1);
    }
}
