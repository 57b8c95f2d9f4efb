//! `[[mirror]]`: documents owned by one repo and mirrored, byte for byte
//! plus a marker member, into the others. Only configuration lives here.

use crate::config::{Errors, Repo, did_you_mean};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMirror {
    name: Option<String>,
    /// The repos that hold the documents, owners and mirrors alike.
    #[schemars(with = "Vec<String>")]
    repos: Spanned<Vec<String>>,
    /// The documents, relative to each repo.
    #[schemars(with = "String")]
    glob: Spanned<String>,
    /// The JSON pointer to the document's owner.
    #[schemars(with = "String")]
    owner_field: Spanned<String>,
    /// Owner value -> the repo that owns such documents.
    #[schemars(with = "BTreeMap<String, String>")]
    owners: Spanned<BTreeMap<String, String>>,
    /// The member a mirror carries to say it is a copy.
    #[schemars(with = "String")]
    marker_field: Spanned<String>,
    #[schemars(with = "Option<String>")]
    marker_value: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    #[schemars(extend("enum" = ["commit", "pull-request"]))]
    mode: Option<Spanned<String>>,
    #[serde(default)]
    push: bool,
    #[serde(default)]
    delete: bool,
    /// pull-request mode: concord repo name -> GitHub `owner/name`.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    github_repos: Option<Spanned<BTreeMap<String, String>>>,
    base: Option<String>,
    token_env: Option<String>,
    url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorMode {
    /// Commit on the target repo's current branch (and push if asked).
    Commit { push: bool },
    /// Push a branch `concord/mirror/<source>-<sha>` and open (or update)
    /// one pull request per run.
    PullRequest {
        github_repos: BTreeMap<String, String>,
        base: String,
        token_env: String,
        url: String,
    },
}

#[derive(Debug, Clone)]
pub struct Mirror {
    pub name: String,
    /// Indexes into `Workspace::repos`.
    pub repos: Vec<usize>,
    pub glob: String,
    pub matcher: globset::GlobMatcher,
    /// JSON pointer of the owner field.
    pub owner_field: String,
    /// Owner value -> index of the owning repo.
    pub owners: BTreeMap<String, usize>,
    /// Top-level member written into mirrors.
    pub marker_field: String,
    /// Its value; `{owner}` is the owner value.
    pub marker_value: String,
    pub mode: MirrorMode,
    /// Remove a mirror whose owner copy was deleted.
    pub delete: bool,
}

pub(crate) fn validate_mirror(
    raw: RawMirror,
    repos: &[Repo],
    errors: &Errors<'_>,
) -> Result<Mirror, crate::ConfigError> {
    let index_of = |name: &str, span: std::ops::Range<usize>| {
        repos.iter().position(|r| r.name == name).ok_or_else(|| {
            errors.with_help(
                span,
                format!("unknown repo `{name}`"),
                did_you_mean(name, repos.iter().map(|r| r.name.as_str())),
            )
        })
    };
    let mut members = Vec::new();
    for name in raw.repos.get_ref() {
        let index = index_of(name, raw.repos.span())?;
        if members.contains(&index) {
            return Err(errors.at(raw.repos.span(), format!("repo `{name}` is listed twice")));
        }
        members.push(index);
    }
    if members.len() < 2 {
        return Err(errors.at(raw.repos.span(), "a mirror rule needs two or more repos"));
    }
    // The glob stays inside each repo.
    let glob = raw.glob.get_ref();
    if glob.starts_with('/') || glob.split('/').any(|part| part == "..") {
        return Err(errors.at(
            raw.glob.span(),
            format!("glob `{glob}` escapes the repository root: write it relative to the repo, without `..`"),
        ));
    }
    let matcher = globset::GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .map_err(|e| errors.at(raw.glob.span(), format!("invalid glob: {e}")))?
        .compile_matcher();
    let owner_field = raw.owner_field.get_ref();
    if !owner_field.starts_with('/') {
        return Err(errors.with_help(
            raw.owner_field.span(),
            format!("`{owner_field}` is not a JSON pointer"),
            Some(format!("write it as \"/{owner_field}\"")),
        ));
    }
    let mut owners = BTreeMap::new();
    for (value, repo) in raw.owners.get_ref() {
        let index = index_of(repo, raw.owners.span())?;
        if !members.contains(&index) {
            return Err(errors.at(
                raw.owners.span(),
                format!("owner `{value}` names repo `{repo}`, which is not in this rule's repos"),
            ));
        }
        owners.insert(value.clone(), index);
    }
    let marker = raw.marker_field.get_ref();
    if marker.is_empty() || marker.contains('/') || marker.contains('"') {
        return Err(errors.at(
            raw.marker_field.span(),
            format!("marker_field `{marker}` must be a plain top-level member name"),
        ));
    }
    if owner_field.trim_start_matches('/') == marker {
        return Err(errors.at(
            raw.marker_field.span(),
            "marker_field must differ from the owner field",
        ));
    }
    let mode = match raw.mode.as_ref().map(|m| (m.get_ref().as_str(), m.span())) {
        None | Some(("commit", _)) => MirrorMode::Commit { push: raw.push },
        Some(("pull-request", span)) => {
            let github = raw.github_repos.as_ref().ok_or_else(|| {
                errors.with_help(
                    span.clone(),
                    "pull-request mode needs `github_repos`",
                    Some(
                        "map each repo to its GitHub name: github_repos = { app = \"acme/app\" }"
                            .into(),
                    ),
                )
            })?;
            for index in &members {
                let name = &repos[*index].name;
                if !github.get_ref().contains_key(name) {
                    return Err(errors.at(
                        github.span(),
                        format!("github_repos has no entry for repo `{name}`"),
                    ));
                }
            }
            MirrorMode::PullRequest {
                github_repos: github.get_ref().clone(),
                base: raw.base.clone().unwrap_or_else(|| "main".into()),
                token_env: raw
                    .token_env
                    .clone()
                    .unwrap_or_else(|| "GITHUB_TOKEN".into()),
                url: raw
                    .url
                    .clone()
                    .unwrap_or_else(|| "https://api.github.com".into()),
            }
        }
        Some((other, span)) => {
            return Err(errors.at(
                span,
                format!("mode `{other}`: expected commit or pull-request"),
            ));
        }
    };
    Ok(Mirror {
        name: raw.name.unwrap_or_else(|| glob.clone()),
        repos: members,
        glob: glob.clone(),
        matcher,
        owner_field: owner_field.clone(),
        owners,
        marker_field: marker.clone(),
        marker_value: raw
            .marker_value
            .map_or_else(|| "{owner}-reverse".to_string(), Spanned::into_inner),
        mode,
        delete: raw.delete,
    })
}
