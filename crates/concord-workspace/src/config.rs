//! `concord.toml`: parsed with spans so that every error names the file,
//! line and column, then validated into a [`Workspace`].

use concord_formats::{
    Format, ItemFields, KeyTemplate, front_matter::FrontMatter, json::Json, table::Table,
    task_blocks::TaskBlocks,
};
use concord_model::{StatusDef, Workflow};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;

pub const CONFIG_FILE_NAME: &str = "concord.toml";

/// Files larger than this are refused unless `[scan] max_file_bytes` says otherwise.
const DEFAULT_MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

// ---------------------------------------------------------------- raw file

/// A concord workspace: repos, workflows, sources, sync rules, trackers,
/// checks, mirrors and the hub. Every path is relative to this file.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "concord.toml")]
struct RawConfig {
    /// The git repositories of the workspace, `[[repo]]` each.
    #[serde(default, rename = "repo")]
    repos: Vec<RawRepo>,
    /// Workflows: the statuses an item can have, ranked, with the aliases each source uses.
    #[serde(default, rename = "workflow")]
    workflows: Vec<RawWorkflow>,
    /// Where items are read and written: a glob of files of one format in one repo.
    #[serde(default, rename = "source")]
    sources: Vec<RawSource>,
    /// Trackers (OpenProject, GitHub issues) that take part in sync rules like sources.
    #[serde(default, rename = "tracker")]
    trackers: Vec<crate::trackers::RawTracker>,
    /// The state hub: an embedded SQLite file (the default) or PostgreSQL.
    #[serde(default)]
    hub: Option<RawHub>,
    /// Limits of the scan.
    #[serde(default)]
    scan: Option<RawScan>,
    /// Sync rules: which sources agree and who wins (`merge`, `mirror`, `owned`).
    #[serde(default, rename = "sync")]
    syncs: Vec<crate::sync_rules::RawSync>,
    /// The commits a sync makes.
    #[serde(default)]
    commit: Option<RawCommit>,
    /// Integrity checks (`concord check`).
    #[serde(default)]
    checks: Option<crate::checks_config::RawChecks>,
    /// Documents owned by one repo, mirrored byte for byte into the others.
    #[serde(default, rename = "mirror")]
    mirrors: Vec<crate::mirror_config::RawMirror>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawCommit {
    /// Subject of sync commits; `{count}` and `{run_id}` are filled in.
    #[schemars(with = "Option<String>")]
    subject: Option<Spanned<String>>,
}

/// The subject of sync commits unless `[commit] subject` says otherwise.
pub const DEFAULT_COMMIT_SUBJECT: &str = "chore(concord): sync {count} item(s) [auto]";

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawRepo {
    /// The name sources and rules use for this repo.
    #[schemars(with = "String")]
    name: Spanned<String>,
    /// The checkout, relative to concord.toml.
    #[schemars(with = "String")]
    path: Spanned<String>,
    /// The git remote to fetch and push (default `origin`).
    remote: Option<String>,
    /// The branch concord reads and commits to.
    branch: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    /// The name sources refer to.
    #[schemars(with = "String")]
    name: Spanned<String>,
    /// Every status with its rank (higher = further along) and the words sources use for it.
    #[schemars(with = "Vec<RawStatus>")]
    statuses: Spanned<Vec<RawStatus>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawStatus {
    /// The canonical status name.
    name: String,
    /// How far along: a merge never moves an item to a lower rank unless `reopen = "allow"`.
    rank: u32,
    /// Other words sources use for this status (matched case-insensitively).
    #[serde(default)]
    aliases: Vec<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSource {
    /// The name rules and reports use for this source.
    #[schemars(with = "String")]
    name: Spanned<String>,
    /// The `[[repo]]` the files are in.
    #[schemars(with = "String")]
    repo: Spanned<String>,
    /// How the files are read.
    #[schemars(with = "String")]
    #[schemars(extend("enum" = ["task-blocks", "table", "front-matter", "json"]))]
    format: Spanned<String>,
    /// The files, relative to the repo (e.g. `docs/workplan-*.md`).
    #[schemars(with = "String")]
    glob: Spanned<String>,
    /// The `[[workflow]]` of its statuses.
    #[schemars(with = "String")]
    workflow: Spanned<String>,
    /// How an item's key is made, e.g. `{/id}` (JSON pointer), `{dir}`, `wp#{op_wp}`, `wp#{1}`.
    #[schemars(with = "Option<String>")]
    key: Option<Spanned<String>>,
    /// Where the status is: a front-matter key, a JSON pointer, a table column.
    #[schemars(with = "Option<String>")]
    status: Option<Spanned<String>>,
    /// Where the item's owner is, for `owned` sync rules.
    #[schemars(with = "Option<String>")]
    owner: Option<Spanned<String>>,
    /// Extra fields to read: name -> front-matter key or JSON pointer.
    #[serde(default)]
    fields: BTreeMap<String, String>,
    /// canonical status -> the word this source uses for it when written back
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    write_names: Option<Spanned<BTreeMap<String, String>>>,
    // task-blocks
    /// task-blocks: the code-fence info string (default `task`).
    #[schemars(with = "Option<String>")]
    info: Option<Spanned<String>>,
    // table
    /// table: the header row that marks the table, e.g. `| Track | Phase | Status |`.
    #[schemars(with = "Option<String>")]
    header: Option<Spanned<String>>,
    /// table: the column holding the key.
    #[schemars(with = "Option<String>")]
    key_column: Option<Spanned<String>>,
    /// table: a regex the key cell must match; `{1}` in `key` is its first group.
    #[schemars(with = "Option<String>")]
    key_regex: Option<Spanned<String>>,
    /// table: words after the status that are kept as they are (e.g. `LOCKED`).
    #[schemars(with = "Option<Vec<String>>")]
    qualifiers: Option<Spanned<Vec<String>>>,
    // json
    /// json: a JSON pointer to an array whose objects are the items (e.g. `/tasks`).
    #[schemars(with = "Option<String>")]
    items: Option<Spanned<String>>,
    /// In-repo event log per item, e.g. `.claude/logs/{key}.log.json`.
    #[schemars(with = "Option<String>")]
    log_file: Option<Spanned<String>>,
    /// A status word the workflow does not know: `hold` the item (the
    /// default) or `skip` it with a warning.
    #[schemars(with = "Option<String>")]
    #[schemars(extend("enum" = ["hold", "skip"]))]
    unknown_status: Option<Spanned<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawHub {
    /// `sqlite://PATH` (relative to concord.toml; default `sqlite://.concord/hub.db`) or `postgres://USER@HOST:PORT/DB`. CONCORD_HUB_URL overrides it; keep passwords there.
    #[schemars(with = "Option<String>")]
    url: Option<Spanned<String>>,
    /// The name recorded in the journal (default CONCORD_ACTOR, else user@host).
    actor: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawScan {
    /// Files larger than this are refused with a warning (default 32 MiB).
    max_file_bytes: Option<u64>,
}

/// The JSON Schema of `concord.toml` (`concord config schema`), generated
/// from the very types the file is read into, so the two cannot drift.
/// Editors use it through taplo / Even Better TOML.
pub fn config_schema() -> serde_json::Value {
    // Draft 7: the newest draft taplo (Even Better TOML) validates.
    let generator = schemars::generate::SchemaSettings::draft07()
        .for_deserialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<RawConfig>();
    schema.insert(
        "$id".into(),
        "https://concord.invalid/schemas/concord-toml.schema.json".into(),
    );
    schema.to_value()
}

// ---------------------------------------------------------------- validated

#[derive(Debug, Clone)]
pub struct Repo {
    pub name: String,
    /// Absolute (config dir joined with the configured path).
    pub root: PathBuf,
    /// The path as written in the config, for display.
    pub path: String,
    pub remote: Option<String>,
    pub branch: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FormatName {
    TaskBlocks,
    Table,
    FrontMatter,
    Json,
}

impl FormatName {
    const ALL: [(&'static str, FormatName); 4] = [
        ("task-blocks", FormatName::TaskBlocks),
        ("table", FormatName::Table),
        ("front-matter", FormatName::FrontMatter),
        ("json", FormatName::Json),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

pub struct Source {
    pub name: String,
    /// Index into [`Workspace::repos`].
    pub repo: usize,
    pub format_name: FormatName,
    pub glob: String,
    pub matcher: globset::GlobMatcher,
    /// Index into [`Workspace::workflows`].
    pub workflow: usize,
    pub format: Arc<dyn Format>,
    pub write_names: BTreeMap<String, String>,
    /// Repo-relative template (`{key}`) of the item's in-repo event log.
    pub log_file: Option<String>,
    /// Where the item names its owner, if the source says (`owned` rules).
    pub owner_field: Option<String>,
    /// What an item whose status word the workflow does not know becomes.
    pub unknown_status: UnknownStatus,
}

/// What an item whose status word is not in the workflow becomes
/// (`unknown_status` of a `[[source]]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownStatus {
    /// It is read with an unknown status: every rule holds the item
    /// (`UNKNOWN_STATUS`) until the word is fixed, and says so each run.
    #[default]
    Hold,
    /// The row is skipped with a warning, as if it held no item (a plan
    /// whose bold words are sometimes notes, e.g. `**Parked**`).
    Skip,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .field("repo", &self.repo)
            .field("format", &self.format_name)
            .field("glob", &self.glob)
            .finish_non_exhaustive()
    }
}

/// Where the hub lives. `Debug` never shows credentials in the URL.
#[derive(Clone)]
pub struct Hub {
    pub url: String,
    /// Name recorded in the journal; `user@host` when not configured.
    pub actor: Option<String>,
    /// Whether opening an embedded hub that does not exist yet creates it.
    /// Read-only commands turn this off so that looking at a checkout never
    /// leaves a `.concord/` behind; they then read an empty hub.
    pub create_if_missing: bool,
}

/// Environment variable that overrides `[hub] url`, so a URL with a
/// password never has to be written into concord.toml.
pub const HUB_URL_ENV: &str = "CONCORD_HUB_URL";

impl fmt::Debug for Hub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("url", &concord_model::redact_url(&self.url))
            .finish()
    }
}

#[derive(Debug)]
pub struct Workspace {
    pub config_path: PathBuf,
    /// The folder holding the config; every path in it is relative to this.
    pub root: PathBuf,
    pub repos: Vec<Repo>,
    pub workflows: Vec<Workflow>,
    pub sources: Vec<Source>,
    /// OpenProject projects and GitHub repositories synced like sources.
    pub trackers: Vec<crate::trackers::Tracker>,
    pub hub: Hub,
    pub max_file_bytes: u64,
    /// The `[[sync]]` rules, ready for the engine.
    pub rules: Vec<concord_engine::Rule>,
    /// Subject template of sync commits (`{count}`, `{run_id}`).
    pub commit_subject: String,
    /// `[checks]`: what `concord check` runs and how.
    pub checks: crate::checks_config::Checks,
    /// `[[mirror]]`: owned documents mirrored across repos.
    pub mirrors: Vec<crate::mirror_config::Mirror>,
}

// ---------------------------------------------------------------- errors

/// A configuration problem, located in the config file where possible.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{location}: {message}")]
pub struct ConfigError {
    /// `path:line:column`, or just the path.
    pub location: String,
    pub message: String,
    #[help]
    pub help: Option<String>,
    #[source_code]
    source_code: Option<miette::NamedSource<String>>,
    #[label("here")]
    span: Option<miette::SourceSpan>,
}

impl ConfigError {
    fn plain(path: &Path, message: impl Into<String>, help: Option<String>) -> Self {
        Self {
            location: path.display().to_string(),
            message: message.into(),
            help,
            source_code: None,
            span: None,
        }
    }
}

/// Builds located errors for one config file.
pub(crate) struct Errors<'a> {
    path: &'a Path,
    pub(crate) text: &'a str,
}

impl Errors<'_> {
    pub(crate) fn at(
        &self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> ConfigError {
        self.with_help(span, message, None)
    }

    pub(crate) fn with_help(
        &self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> ConfigError {
        let start = span.start.min(self.text.len());
        let before = &self.text[..floor_char_boundary(self.text, start)];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ConfigError {
            location: format!("{}:{line}:{column}", self.path.display()),
            message: message.into(),
            help,
            source_code: Some(miette::NamedSource::new(
                self.path.display().to_string(),
                self.text.to_string(),
            )),
            span: Some((start, span.end.saturating_sub(start)).into()),
        }
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// The closest candidate, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

/// serde reports unknown keys as "unknown field `x`, expected one of `a`, `b`":
/// turn that into a "did you mean" hint.
fn unknown_field_help(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    did_you_mean(field, expected.iter().copied()).or_else(|| {
        (!expected.is_empty()).then(|| {
            format!(
                "known keys here: {}",
                expected
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    })
}

// ---------------------------------------------------------------- loading

/// Walk up from `start` to the first folder holding a `concord.toml`.
pub fn find_config(start: &Path) -> Result<PathBuf, ConfigError> {
    start
        .ancestors()
        .map(|dir| dir.join(CONFIG_FILE_NAME))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            ConfigError::plain(
                start,
                format!("no {CONFIG_FILE_NAME} found here or in any parent folder"),
                Some("run concord inside a workspace, or pass --config PATH".into()),
            )
        })
}

impl Workspace {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::plain(path, format!("cannot read the workspace file: {e}"), None)
        })?;
        let config_path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let root = config_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Self::from_toml(&text, &config_path, &root)
    }

    /// Parse and validate config text; `path` is only used in messages.
    pub fn from_toml(text: &str, path: &Path, root: &Path) -> Result<Self, ConfigError> {
        let errors = Errors { path, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().to_string();
            let help = unknown_field_help(&message);
            match e.span() {
                Some(span) => errors.with_help(span, message, help),
                None => ConfigError::plain(path, message, help),
            }
        })?;
        validate(raw, &errors, root)
    }

    pub fn repo(&self, source: &Source) -> &Repo {
        &self.repos[source.repo]
    }

    pub fn workflow(&self, source: &Source) -> &Workflow {
        &self.workflows[source.workflow]
    }
}

fn validate(raw: RawConfig, errors: &Errors<'_>, root: &Path) -> Result<Workspace, ConfigError> {
    let repos = validate_repos(raw.repos, errors, root)?;
    let workflows = validate_workflows(raw.workflows, errors)?;
    let mut sources: Vec<Source> = Vec::new();
    for src in raw.sources {
        if sources.iter().any(|s| s.name == *src.name.get_ref()) {
            return Err(errors.at(
                src.name.span(),
                format!("source `{}` is declared twice", src.name.get_ref()),
            ));
        }
        sources.push(validate_source(src, &repos, &workflows, errors)?);
    }

    let mut trackers: Vec<crate::trackers::Tracker> = Vec::new();
    for tracker in raw.trackers {
        let name = tracker.name();
        let taken = sources.iter().any(|s| s.name == *name.get_ref())
            || trackers.iter().any(|t| t.name == *name.get_ref())
            || name.get_ref() == crate::sync_rules::HUB_SOURCE;
        if taken {
            return Err(errors.at(
                name.span(),
                format!(
                    "`{}` is already the name of a source (or the hub)",
                    name.get_ref()
                ),
            ));
        }
        trackers.push(crate::trackers::validate_tracker(
            tracker, &workflows, errors,
        )?);
    }

    let hub = validate_hub(raw.hub, errors)?;
    let max_file_bytes = raw
        .scan
        .and_then(|s| s.max_file_bytes)
        .unwrap_or(DEFAULT_MAX_FILE_BYTES);
    let members: Vec<crate::sync_rules::Member<'_>> = sources
        .iter()
        .map(|s| crate::sync_rules::Member {
            name: &s.name,
            workflow: s.workflow,
            has_owner: s.owner_field.is_some(),
        })
        .chain(trackers.iter().map(|t| crate::sync_rules::Member {
            name: &t.name,
            workflow: t.workflow,
            has_owner: false,
        }))
        .collect();
    let rules =
        crate::sync_rules::validate(&raw.syncs, &members, &workflows, errors).map_err(|e| *e)?;
    drop(members);
    let mut mirrors = Vec::new();
    for mirror in raw.mirrors {
        mirrors.push(crate::mirror_config::validate_mirror(
            mirror, &repos, errors,
        )?);
    }
    let checks = crate::checks_config::validate_checks(
        raw.checks.unwrap_or_default(),
        &repos,
        &trackers,
        root,
        errors,
    )?;
    let commit_subject = validate_commit_subject(raw.commit.and_then(|c| c.subject), errors)?;
    Ok(Workspace {
        commit_subject,
        rules,
        config_path: errors.path.to_path_buf(),
        root: root.to_path_buf(),
        repos,
        workflows,
        sources,
        trackers,
        checks,
        mirrors,
        hub,
        max_file_bytes,
    })
}

/// `[hub]`: the URL is checked here, so a typo is a configuration error at
/// its line and column rather than a failure on first use.
fn validate_hub(raw: Option<RawHub>, errors: &Errors<'_>) -> Result<Hub, ConfigError> {
    let (url, actor) = match raw {
        Some(hub) => (hub.url, hub.actor),
        None => (None, None),
    };
    let from_env = std::env::var(HUB_URL_ENV).ok().filter(|u| !u.is_empty());
    let url = match (from_env, url) {
        (Some(env), _) => {
            hub_url_problem(&env).map_or(Ok(()), |(message, help)| {
                Err(ConfigError::plain(
                    Path::new(&format!("${HUB_URL_ENV}")),
                    format!("hub url {message}"),
                    Some(help),
                ))
            })?;
            env
        }
        (None, Some(url)) => {
            if let Some((message, help)) = hub_url_problem(url.get_ref()) {
                return Err(errors.with_help(
                    url.span(),
                    format!("[hub] url {message}"),
                    Some(help),
                ));
            }
            url.into_inner()
        }
        (None, None) => "sqlite://.concord/hub.db".to_string(),
    };
    Ok(Hub {
        url,
        actor,
        create_if_missing: true,
    })
}

/// What is wrong with a hub URL, if anything, and what is expected.
fn hub_url_problem(url: &str) -> Option<(String, String)> {
    let expected = "expected sqlite://PATH (relative to concord.toml) or \
                    postgres://USER@HOST:PORT/DATABASE"
        .to_string();
    let shown = concord_model::redact_url(url);
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        return path
            .is_empty()
            .then(|| (format!("`{shown}` names no file"), expected));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        // No host is valid: `postgres:///db?host=/run/postgresql` is a socket.
        return url::Url::parse(url)
            .err()
            .map(|e| (format!("`{shown}` is not a valid URL: {e}"), expected));
    }
    Some((
        format!("`{shown}` is neither a SQLite nor a PostgreSQL URL"),
        expected,
    ))
}

fn validate_repos(
    raw: Vec<RawRepo>,
    errors: &Errors<'_>,
    root: &Path,
) -> Result<Vec<Repo>, ConfigError> {
    let mut repos: Vec<Repo> = Vec::new();
    for repo in raw {
        if repos.iter().any(|r| r.name == *repo.name.get_ref()) {
            return Err(errors.at(
                repo.name.span(),
                format!("repo `{}` is declared twice", repo.name.get_ref()),
            ));
        }
        let configured = repo.path.get_ref();
        repos.push(Repo {
            name: repo.name.into_inner(),
            root: root.join(configured),
            path: configured.clone(),
            remote: repo.remote,
            branch: repo.branch,
        });
    }

    Ok(repos)
}

fn validate_workflows(
    raw: Vec<RawWorkflow>,
    errors: &Errors<'_>,
) -> Result<Vec<Workflow>, ConfigError> {
    let mut workflows: Vec<Workflow> = Vec::new();
    for wf in raw {
        let name = wf.name.get_ref().clone();
        if workflows.iter().any(|w| w.name() == name) {
            return Err(errors.at(
                wf.name.span(),
                format!("workflow `{name}` is declared twice"),
            ));
        }
        let span = wf.statuses.span();
        let statuses = wf
            .statuses
            .into_inner()
            .into_iter()
            .map(|s| StatusDef {
                name: s.name,
                rank: s.rank,
                aliases: s.aliases,
            })
            .collect();
        workflows.push(Workflow::new(name, statuses).map_err(|e| errors.at(span, e.to_string()))?);
    }

    Ok(workflows)
}

/// `[commit] subject`: one line, placeholders `{count}` and `{run_id}` only.
fn validate_commit_subject(
    subject: Option<Spanned<String>>,
    errors: &Errors<'_>,
) -> Result<String, ConfigError> {
    Ok(match subject {
        Some(subject) => {
            let text = subject.get_ref();
            let unknown = text
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
                .find(|name| !matches!(*name, "count" | "run_id"));
            if let Some(name) = unknown {
                return Err(errors.with_help(
                    subject.span(),
                    format!("commit subject has an unknown placeholder `{{{name}}}`"),
                    Some("placeholders: {count}, {run_id}".into()),
                ));
            }
            if text.trim().is_empty() || text.contains('\n') {
                return Err(errors.at(subject.span(), "commit subject must be one non-empty line"));
            }
            subject.into_inner()
        }
        None => DEFAULT_COMMIT_SUBJECT.to_string(),
    })
}

fn validate_source(
    src: RawSource,
    repos: &[Repo],
    workflows: &[Workflow],
    errors: &Errors<'_>,
) -> Result<Source, ConfigError> {
    let name = src.name.get_ref().clone();
    let repo = declared(
        &src.repo,
        repos.iter().map(|r| r.name.as_str()),
        errors,
        |repo| format!("source `{name}` names repo `{repo}`, which is not declared"),
        "declare it in a [[repo]] table",
    )?;
    let workflow = declared(
        &src.workflow,
        workflows.iter().map(|w| w.name()),
        errors,
        |wf| format!("source `{name}` follows workflow `{wf}`, which is not declared"),
        "declare it in a [[workflow]] table",
    )?;
    let format_name = source_format_name(&src, errors)?;
    let matcher = globset::GlobBuilder::new(src.glob.get_ref())
        .literal_separator(true)
        .build()
        .map_err(|e| errors.at(src.glob.span(), format!("invalid glob: {e}")))?
        .compile_matcher();
    check_format_options(&src, &name, format_name, errors)?;
    let key = source_key(&src, format_name, errors)?;
    let status = src
        .status
        .as_ref()
        .map(|s| s.get_ref().clone())
        .unwrap_or_else(|| match format_name {
            FormatName::Json => "/status".into(),
            FormatName::Table => "Status".into(),
            _ => "status".into(),
        });
    if format_name == FormatName::Json {
        check_pointers(&src, &status, errors)?;
    }
    let format = build_format(&src, &name, format_name, key, status, errors)?;
    let write_names = validated_write_names(&src, &workflows[workflow], errors)?;
    let log_file = validated_log_file(&src, errors)?;
    let unknown_status = validated_unknown_status(&src, errors)?;
    Ok(Source {
        unknown_status,
        owner_field: src.owner.map(Spanned::into_inner),
        log_file,
        name,
        repo,
        format_name,
        glob: src.glob.into_inner(),
        matcher,
        workflow,
        format,
        write_names,
    })
}

/// The index of the declared name `wanted` names, or an error at it with
/// the closest declared name (or `declare`) as help.
fn declared<'n>(
    wanted: &Spanned<String>,
    names: impl Iterator<Item = &'n str> + Clone,
    errors: &Errors<'_>,
    message: impl Fn(&str) -> String,
    declare: &str,
) -> Result<usize, ConfigError> {
    names
        .clone()
        .position(|n| n == wanted.get_ref())
        .ok_or_else(|| {
            errors.with_help(
                wanted.span(),
                message(wanted.get_ref()),
                did_you_mean(wanted.get_ref(), names).or_else(|| Some(declare.into())),
            )
        })
}

fn source_format_name(src: &RawSource, errors: &Errors<'_>) -> Result<FormatName, ConfigError> {
    FormatName::ALL
        .iter()
        .find(|(n, _)| n == src.format.get_ref())
        .map(|(_, f)| *f)
        .ok_or_else(|| {
            errors.with_help(
                src.format.span(),
                format!("unknown format `{}`", src.format.get_ref()),
                Some(
                    did_you_mean(
                        src.format.get_ref(),
                        FormatName::ALL.iter().map(|(n, _)| *n),
                    )
                    .unwrap_or_else(|| {
                        "formats: task-blocks, table, front-matter, json".to_string()
                    }),
                ),
            )
        })
}

/// Options that only one format understands must not be silently ignored.
fn check_format_options(
    src: &RawSource,
    name: &str,
    format_name: FormatName,
    errors: &Errors<'_>,
) -> Result<(), ConfigError> {
    let options = [
        (
            "info",
            src.info.as_ref().map(Spanned::span),
            FormatName::TaskBlocks,
        ),
        (
            "header",
            src.header.as_ref().map(Spanned::span),
            FormatName::Table,
        ),
        (
            "key_column",
            src.key_column.as_ref().map(Spanned::span),
            FormatName::Table,
        ),
        (
            "key_regex",
            src.key_regex.as_ref().map(Spanned::span),
            FormatName::Table,
        ),
        (
            "qualifiers",
            src.qualifiers.as_ref().map(Spanned::span),
            FormatName::Table,
        ),
        (
            "items",
            src.items.as_ref().map(Spanned::span),
            FormatName::Json,
        ),
    ];
    for (option, span, allowed) in options {
        if let Some(span) = span
            && format_name != allowed
        {
            return Err(errors.at(
                span,
                format!(
                    "`{option}` applies to format `{}` only, but source `{name}` is `{}`",
                    allowed.as_str(),
                    format_name.as_str()
                ),
            ));
        }
    }
    Ok(())
}

fn source_key(
    src: &RawSource,
    format_name: FormatName,
    errors: &Errors<'_>,
) -> Result<KeyTemplate, ConfigError> {
    let default_key = match format_name {
        FormatName::TaskBlocks => "{id}",
        FormatName::Table => "{0}",
        FormatName::FrontMatter => "{id}",
        FormatName::Json => "{/id}",
    };
    match &src.key {
        Some(k) => KeyTemplate::parse(k.get_ref()).map_err(|e| errors.at(k.span(), e.to_string())),
        None => {
            KeyTemplate::parse(default_key).map_err(|e| errors.at(src.name.span(), e.to_string()))
        }
    }
}

/// Every field of a JSON source is a JSON pointer.
fn check_pointers(src: &RawSource, status: &str, errors: &Errors<'_>) -> Result<(), ConfigError> {
    let fallback = src.name.span();
    let mut pointers: Vec<(&str, std::ops::Range<usize>)> = vec![(
        status,
        src.status.as_ref().map_or(fallback.clone(), Spanned::span),
    )];
    if let Some(owner) = &src.owner {
        pointers.push((owner.get_ref(), owner.span()));
    }
    if let Some(items) = &src.items {
        pointers.push((items.get_ref(), items.span()));
    }
    for pointer in src.fields.values() {
        pointers.push((pointer, fallback.clone()));
    }
    for (pointer, span) in pointers {
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return Err(errors.with_help(
                span,
                format!("`{pointer}` is not a JSON pointer"),
                Some(format!("JSON pointers start with `/`: `/{pointer}`")),
            ));
        }
    }
    Ok(())
}

fn build_format(
    src: &RawSource,
    name: &str,
    format_name: FormatName,
    key: KeyTemplate,
    status: String,
    errors: &Errors<'_>,
) -> Result<Arc<dyn Format>, ConfigError> {
    let item = ItemFields {
        key,
        status,
        owner: src.owner.as_ref().map(|o| o.get_ref().clone()),
        fields: src.fields.clone().into_iter().collect(),
    };
    Ok(match format_name {
        FormatName::TaskBlocks => Arc::new(TaskBlocks {
            item,
            info: src
                .info
                .as_ref()
                .map_or_else(|| "task".into(), |i| i.get_ref().clone()),
        }),
        FormatName::FrontMatter => Arc::new(FrontMatter { item }),
        FormatName::Json => Arc::new(Json {
            item,
            items: src.items.as_ref().map(|i| i.get_ref().clone()),
        }),
        FormatName::Table => Arc::new(build_table(src, name, item, errors)?),
    })
}

fn build_table(
    src: &RawSource,
    name: &str,
    item: ItemFields,
    errors: &Errors<'_>,
) -> Result<Table, ConfigError> {
    let missing = |option: &str| {
        errors.with_help(
            src.name.span(),
            format!("table source `{name}` needs `{option}`"),
            Some(
                "a table source names its `header` row, its `key_column` and a `key_regex`".into(),
            ),
        )
    };
    let header = src.header.clone().ok_or_else(|| missing("header"))?;
    let key_column = src
        .key_column
        .clone()
        .ok_or_else(|| missing("key_column"))?;
    let key_regex = src.key_regex.clone().ok_or_else(|| missing("key_regex"))?;
    let regex = regex::Regex::new(key_regex.get_ref())
        .map_err(|e| errors.at(key_regex.span(), format!("invalid key_regex: {e}")))?;
    let header_cells = split_header(header.get_ref());
    for (option, column, span) in [
        (
            "key_column",
            Some(key_column.get_ref().as_str()),
            key_column.span(),
        ),
        (
            "status",
            Some(item.status.as_str()),
            src.status.as_ref().map_or(header.span(), Spanned::span),
        ),
        (
            "owner",
            item.owner.as_deref(),
            src.owner.as_ref().map_or(header.span(), Spanned::span),
        ),
    ] {
        if let Some(column) = column
            && !header_cells.iter().any(|c| c == column)
        {
            return Err(errors.with_help(
                span,
                format!("{option} column `{column}` is not in the header"),
                did_you_mean(column, header_cells.iter().map(String::as_str)),
            ));
        }
    }
    let table = Table {
        item,
        header: header.into_inner(),
        key_column: key_column.into_inner(),
        key_regex: regex,
        qualifiers: src
            .qualifiers
            .as_ref()
            .map(|q| q.get_ref().clone())
            .unwrap_or_default(),
    };
    table
        .validate()
        .map_err(|e| errors.at(src.name.span(), format!("table source `{name}`: {e}")))?;
    Ok(table)
}

/// `write_names`: each maps a status of the workflow to a word that reads
/// back as that same status (else sync would write a word that the next
/// read reports as unknown, or as another status).
fn validated_write_names(
    src: &RawSource,
    wf: &Workflow,
    errors: &Errors<'_>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let write_span = src
        .write_names
        .as_ref()
        .map_or(src.name.span(), Spanned::span);
    let write_names = src
        .write_names
        .as_ref()
        .map(|w| w.get_ref().clone())
        .unwrap_or_default();
    for canonical in write_names.keys() {
        if !wf.statuses().iter().any(|s| s.name == *canonical) {
            return Err(errors.with_help(
                write_span,
                format!(
                    "write_names maps `{canonical}`, which is not a status of workflow `{}`",
                    wf.name()
                ),
                did_you_mean(canonical, wf.statuses().iter().map(|s| s.name.as_str())),
            ));
        }
    }
    for (canonical, word) in &write_names {
        let reads_as = wf.resolve(word).map(|s| s.name.as_str());
        if reads_as != Some(canonical.as_str()) {
            let read = match reads_as {
                Some(other) => format!("reads back as `{other}`"),
                None => "is not a status or alias of the workflow, so it would read back as an unknown status".into(),
            };
            return Err(errors.with_help(
                write_span,
                format!(
                    "write_names writes `{word}` for `{canonical}`, but `{word}` {read}"
                ),
                Some(format!(
                    "add `{word}` to the aliases of `{canonical}` in workflow `{}`, or write a word it already knows",
                    wf.name()
                )),
            ));
        }
    }
    Ok(write_names)
}

fn validated_log_file(src: &RawSource, errors: &Errors<'_>) -> Result<Option<String>, ConfigError> {
    match &src.log_file {
        Some(template) if !template.get_ref().contains("{key}") => Err(errors.with_help(
            template.span(),
            format!(
                "log_file `{}` has no `{{key}}` placeholder",
                template.get_ref()
            ),
            Some("one log file per item, e.g. `.claude/logs/{key}.log.json`".into()),
        )),
        other => Ok(other.as_ref().map(|t| t.get_ref().clone())),
    }
}

fn validated_unknown_status(
    src: &RawSource,
    errors: &Errors<'_>,
) -> Result<UnknownStatus, ConfigError> {
    match src.unknown_status.as_ref() {
        None => Ok(UnknownStatus::Hold),
        Some(word) => match word.get_ref().as_str() {
            "hold" => Ok(UnknownStatus::Hold),
            "skip" => Ok(UnknownStatus::Skip),
            other => Err(errors.with_help(
                word.span(),
                format!("unknown_status `{other}` is neither `hold` nor `skip`"),
                Some(
                    "`hold` keeps the item and holds it until its word is fixed; `skip` leaves the row out with a warning"
                        .into(),
                ),
            )),
        },
    }
}

fn split_header(header: &str) -> Vec<String> {
    header
        .trim()
        .trim_start_matches('|')
        .trim_end_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}
