//! `[checks]`: which integrity checks run, how severe they are, what they
//! look at. Only configuration; the checks themselves live in
//! `concord-checks` and the CLI.

use crate::config::{Errors, Repo, did_you_mean};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use toml::Spanned;

/// Every check code concord knows. `disable` and `severity` name these.
pub const CHECK_CODES: &[&str] = &[
    "SCHEMA",
    "INVALID_JSON",
    "PARSE_ERROR",
    "LEGACY_FIELD",
    "OWNER_MISSING",
    "OWNER_INVALID",
    "OWNER_LOCATION_MISMATCH",
    "PHASE_TRANSITION_NO_LOG",
    "PHASE_TRANSITION_NO_TIMING",
    "UNKNOWN_STATUS",
    "DUPLICATE_KEY",
    "DANGLING_ITEM",
    "DRIFT",
    "BROKEN_CITATION",
    "MIRROR_STALE",
    "SUPPRESSION_WITHOUT_REASON",
    "SUPPRESSION_MALFORMED",
    "UNUSED_SUPPRESSION",
    "RULE_ERROR",
];

#[derive(Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChecks {
    #[schemars(with = "Option<Vec<String>>")]
    disable: Option<Spanned<Vec<String>>>,
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    severity: Option<Spanned<BTreeMap<String, String>>>,
    #[schemars(with = "Option<String>")]
    since: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    since_field: Option<Spanned<String>>,
    #[schemars(with = "Option<BTreeMap<String, Vec<String>>>")]
    exempt: Option<Spanned<BTreeMap<String, Vec<String>>>>,
    /// Codes that stay advisory until the check snapshots have been clean
    /// of them for this long, then gate: `{ NO_CS_LINK = "7d" }`.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    promote: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    schema: Vec<RawSchema>,
    owner: Option<RawOwner>,
    legacy: Option<RawLegacy>,
    citations: Option<RawCitations>,
    phases: Option<RawPhases>,
    /// Team-defined rules (`[[checks.rule]]`).
    #[serde(default)]
    rule: Vec<RawRule>,
    /// Scheduled: one tracker issue, open while a snapshot's regressions last.
    #[schemars(with = "Option<crate::feedback_config::RawRegressions>")]
    regressions: Option<Spanned<crate::feedback_config::RawRegressions>>,
    /// Per pull request: the sticky comment and the commit status.
    pull_request: Option<crate::feedback_config::RawPullRequest>,
}

/// A team-defined rule: a CEL condition over each document (or each
/// element of `items`) of the files its glob matches.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    /// UPPER_SNAKE code, not one of the built-in codes.
    #[schemars(with = "String")]
    pub(crate) code: Spanned<String>,
    /// `error` (the default), `warning` or `advisory`.
    #[schemars(with = "Option<String>")]
    pub(crate) severity: Option<Spanned<String>>,
    /// The finding's message; `{expr}` is replaced by the value of the CEL
    /// expression `expr`.
    #[schemars(with = "String")]
    pub(crate) message: Spanned<String>,
    /// The documents the rule reads (JSON files, or markdown front matter).
    #[schemars(with = "String")]
    pub(crate) glob: Spanned<String>,
    pub(crate) repos: Option<Vec<String>>,
    /// JSON pointer of an array or object: the rule runs once per element.
    #[schemars(with = "Option<String>")]
    pub(crate) items: Option<Spanned<String>>,
    /// The CEL condition; true means a finding.
    #[schemars(with = "String")]
    pub(crate) when: Spanned<String>,
    /// CEL expression naming the item a finding is about (for fingerprints).
    #[schemars(with = "Option<String>")]
    pub(crate) key: Option<Spanned<String>>,
    /// Forward-only: only documents or items dated on or after (YYYY-MM-DD).
    #[schemars(with = "Option<String>")]
    pub(crate) since: Option<Spanned<String>>,
    /// Where the date is: a JSON pointer (into the item, else the
    /// document), or `first_commit` for the file's first commit date.
    #[schemars(with = "Option<String>")]
    pub(crate) since_field: Option<Spanned<String>>,
    /// Exemption markers: `/pointer` (present and not empty) or
    /// `/pointer=value` (equal to, or a list containing, the value).
    #[schemars(with = "Option<Vec<String>>")]
    pub(crate) exempt: Option<Spanned<Vec<String>>>,
    /// For `check --list` and SARIF: what the rule finds, and how to fix it.
    pub(crate) description: Option<String>,
    pub(crate) fix: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawPhases {
    #[schemars(with = "String")]
    glob: Spanned<String>,
    #[schemars(with = "String")]
    field: Spanned<String>,
    /// The in-repo event log of the file's item: `{dir}` is the state
    /// file's folder name.
    #[schemars(with = "Option<String>")]
    log: Option<Spanned<String>>,
    /// How recent the log event must be, e.g. "24h".
    #[schemars(with = "Option<String>")]
    window: Option<Spanned<String>>,
    /// Pointers that must exist once a phase is entered (`{phase}`).
    #[serde(default)]
    timing: Vec<String>,
    /// The item key whose hub journal events count too (`{dir}`).
    key: Option<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    #[schemars(with = "String")]
    glob: Spanned<String>,
    #[schemars(with = "String")]
    schema: Spanned<String>,
    repos: Option<Vec<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawOwner {
    #[schemars(with = "String")]
    glob: Spanned<String>,
    #[schemars(with = "String")]
    field: Spanned<String>,
    #[schemars(with = "BTreeMap<String, String>")]
    owners: Spanned<BTreeMap<String, String>>,
    #[schemars(with = "Option<String>")]
    mirror_marker: Option<Spanned<String>>,
    /// The marker value that makes a file a mirror, e.g. "{owner}-reverse"
    /// (`{owner}`: the file's owner value); any other value is flagged.
    /// Unset: any value but null, false and "" marks a mirror.
    #[schemars(with = "Option<String>")]
    mirror_value: Option<Spanned<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawLegacy {
    #[schemars(with = "String")]
    glob: Spanned<String>,
    #[schemars(with = "BTreeMap<String, String>")]
    fields: Spanned<BTreeMap<String, String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawCitations {
    #[schemars(with = "Vec<String>")]
    globs: Spanned<Vec<String>>,
    #[schemars(with = "Option<String>")]
    default_repo: Option<Spanned<String>>,
    #[serde(default)]
    owners: BTreeMap<String, String>,
    default_owner: Option<String>,
    cache: Option<String>,
    #[serde(default)]
    offline: bool,
    token_env: Option<String>,
    url: Option<String>,
}

/// A glob matched in every repo (or the listed ones), repo-relative.
#[derive(Debug, Clone)]
pub struct Scope {
    pub glob: String,
    pub matcher: globset::GlobMatcher,
    /// Indexes into `Workspace::repos`; empty: all.
    pub repos: Vec<usize>,
}

impl Scope {
    pub fn covers(&self, repo: usize, path: &str) -> bool {
        (self.repos.is_empty() || self.repos.contains(&repo)) && self.matcher.is_match(path)
    }
}

#[derive(Debug, Clone)]
pub struct SchemaCheck {
    pub scope: Scope,
    /// The schema file, resolved against the config's folder.
    pub schema_path: PathBuf,
    pub schema: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct OwnerCheck {
    pub scope: Scope,
    /// JSON pointer of the owner field.
    pub field: String,
    /// Owner value -> the repo that owns such files.
    pub owners: BTreeMap<String, OwnerRepo>,
    /// A file carrying this pointer is a mirror: it may live elsewhere.
    pub mirror_marker: Option<String>,
    /// The marker value a mirror must carry (`{owner}` template); `None`:
    /// any value but null, false and "".
    pub mirror_value: Option<String>,
}

/// The repo an owner value names, as written in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRepo {
    pub name: String,
    /// Index into `Workspace::repos`; `None`: a repo this workspace does
    /// not check out (files owned by it can only be mirrors here).
    pub index: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct LegacyCheck {
    pub scope: Scope,
    /// Deprecated pointer -> its replacement.
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct CitationCheck {
    pub scopes: Vec<Scope>,
    pub default_repo: Option<String>,
    pub owners: BTreeMap<String, String>,
    pub default_owner: Option<String>,
    /// Where definite answers are kept between runs.
    pub cache: PathBuf,
    /// Answer from the cache only (no network).
    pub offline: bool,
    pub token_env: String,
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct PhaseCheck {
    pub scope: Scope,
    /// JSON pointer of the phase.
    pub field: String,
    /// Repo-relative log path template (`{dir}`: the file's folder name).
    pub log: Option<String>,
    /// Seconds before now a log event may be and still count.
    pub window_seconds: u64,
    /// Pointer templates (`{phase}`) the new phase needs.
    pub timing: Vec<String>,
    /// Item key template (`{dir}`) whose hub journal events also count.
    pub key: Option<String>,
}

/// One piece of a rule's message template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessagePart {
    Text(String),
    /// A CEL expression whose value is written in its place.
    Expr(String),
}

/// An exemption marker of a team rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exemption {
    pub pointer: String,
    /// `None`: any non-empty value exempts.
    pub value: Option<String>,
}

/// A team-defined rule (`[[checks.rule]]`), its expressions checked to
/// compile when the configuration loads.
#[derive(Debug, Clone)]
pub struct TeamRule {
    pub code: String,
    /// `error` | `warning` | `advisory`.
    pub severity: String,
    pub message: Vec<MessagePart>,
    pub scope: Scope,
    pub items: Option<String>,
    pub when: String,
    pub key: Option<String>,
    pub since: Option<String>,
    /// A JSON pointer, or [`FIRST_COMMIT`].
    pub since_field: Option<String>,
    pub exempt: Vec<Exemption>,
    pub description: Option<String>,
    pub fix: Option<String>,
}

/// `since_field` value that dates a document by its file's first commit.
pub const FIRST_COMMIT: &str = "first_commit";

#[derive(Debug, Clone, Default)]
pub struct Checks {
    pub disabled: Vec<String>,
    /// Code -> `error` | `warning` | `advisory`.
    pub severity: BTreeMap<String, String>,
    /// Forward-only: only files or items dated on or after (YYYY-MM-DD).
    pub since: Option<String>,
    /// Where an item's or file's date is (JSON pointer or front-matter key).
    pub since_field: Option<String>,
    /// Exemption marker field -> the codes it exempts from.
    pub exempt: BTreeMap<String, Vec<String>>,
    pub schemas: Vec<SchemaCheck>,
    pub owner: Option<OwnerCheck>,
    pub legacy: Option<LegacyCheck>,
    pub citations: Option<CitationCheck>,
    pub phases: Option<PhaseCheck>,
    pub rules: Vec<TeamRule>,
    /// `[checks] promote`: code -> how long the snapshots must be clean of
    /// it before it gates; advisory until then.
    pub promote: BTreeMap<String, std::time::Duration>,
    /// `[checks.regressions]`: where `check --snapshot` files its issue.
    pub regressions: Option<crate::feedback_config::RegressionReport>,
    /// `[checks.pull_request]`: what `check --pull-request N` reports to.
    pub pull_request: Option<crate::feedback_config::PullRequestReport>,
}

fn check_code(
    code: &str,
    span: std::ops::Range<usize>,
    team: &[TeamRule],
    errors: &Errors<'_>,
) -> Result<(), crate::ConfigError> {
    if CHECK_CODES.contains(&code) || team.iter().any(|r| r.code == code) {
        return Ok(());
    }
    let known = CHECK_CODES
        .iter()
        .copied()
        .chain(team.iter().map(|r| r.code.as_str()));
    Err(errors.with_help(
        span,
        format!("`{code}` is not a check code"),
        did_you_mean(code, known).or_else(|| Some(format!("codes: {}", CHECK_CODES.join(", ")))),
    ))
}

pub(crate) fn scope(
    glob: &Spanned<String>,
    repos: Option<&[String]>,
    all_repos: &[Repo],
    errors: &Errors<'_>,
) -> Result<Scope, crate::ConfigError> {
    let matcher = globset::GlobBuilder::new(glob.get_ref())
        .literal_separator(true)
        .build()
        .map_err(|e| errors.at(glob.span(), format!("invalid glob: {e}")))?
        .compile_matcher();
    let mut indexes = Vec::new();
    for name in repos.unwrap_or_default() {
        let index = all_repos
            .iter()
            .position(|r| &r.name == name)
            .ok_or_else(|| {
                errors.with_help(
                    glob.span(),
                    format!("unknown repo `{name}`"),
                    did_you_mean(name, all_repos.iter().map(|r| r.name.as_str())),
                )
            })?;
        indexes.push(index);
    }
    Ok(Scope {
        glob: glob.get_ref().clone(),
        matcher,
        repos: indexes,
    })
}

fn pointer(text: &Spanned<String>, errors: &Errors<'_>) -> Result<String, crate::ConfigError> {
    let value = text.get_ref();
    if !value.starts_with('/') {
        return Err(errors.with_help(
            text.span(),
            format!("`{value}` is not a JSON pointer"),
            Some(format!("write it as \"/{value}\"")),
        ));
    }
    Ok(value.clone())
}

pub(crate) fn validate_checks(
    mut raw: RawChecks,
    repos: &[Repo],
    trackers: &[crate::trackers::Tracker],
    root: &std::path::Path,
    errors: &Errors<'_>,
) -> Result<Checks, crate::ConfigError> {
    let mut checks = Checks::default();
    if let Some(regressions) = raw.regressions.take() {
        let span = regressions.span();
        checks.regressions = Some(crate::feedback_config::validate_regressions(
            regressions.into_inner(),
            trackers,
            errors,
            span,
        )?);
    }
    if let Some(pull_request) = raw.pull_request.take() {
        checks.pull_request = Some(crate::feedback_config::validate_pull_request(
            pull_request,
            errors,
        )?);
    }
    for rule in &raw.rule {
        let team = crate::team_rules::validate_rule(rule, repos, &checks.rules, errors)?;
        checks.rules.push(team);
    }
    check_codes(&raw, errors, &mut checks)?;
    if let Some(since) = &raw.since {
        checks.since = Some(validated_since(since, errors)?);
    }
    checks.since_field = raw.since_field.clone().map(Spanned::into_inner);
    for entry in &raw.schema {
        checks
            .schemas
            .push(schema_check(entry, repos, root, errors)?);
    }
    if let Some(owner) = &raw.owner {
        checks.owner = Some(owner_check(owner, repos, errors)?);
    }
    if let Some(legacy) = &raw.legacy {
        checks.legacy = Some(legacy_check(legacy, repos, errors)?);
    }
    if let Some(phases) = &raw.phases {
        checks.phases = Some(phase_check(phases, repos, errors)?);
    }
    if let Some(citations) = raw.citations {
        checks.citations = Some(citation_check(citations, repos, root, errors)?);
    }
    Ok(checks)
}

/// Every check code named in `disable`, `severity` and `exempt` exists.
fn check_codes(
    raw: &RawChecks,
    errors: &Errors<'_>,
    checks: &mut Checks,
) -> Result<(), crate::ConfigError> {
    if let Some(disable) = &raw.disable {
        for code in disable.get_ref() {
            check_code(code, disable.span(), &checks.rules, errors)?;
        }
        checks.disabled = disable.get_ref().clone();
    }
    if let Some(severity) = &raw.severity {
        for (code, level) in severity.get_ref() {
            check_code(code, severity.span(), &checks.rules, errors)?;
            if !matches!(level.as_str(), "error" | "warning" | "advisory") {
                return Err(errors.at(
                    severity.span(),
                    format!("severity `{level}` for {code}: expected error, warning or advisory"),
                ));
            }
        }
        checks.severity = severity.get_ref().clone();
    }
    if let Some(exempt) = &raw.exempt {
        for codes in exempt.get_ref().values() {
            for code in codes {
                check_code(code, exempt.span(), &checks.rules, errors)?;
            }
        }
        checks.exempt = exempt.get_ref().clone();
    }
    if let Some(promote) = &raw.promote {
        for (code, wait) in promote.get_ref() {
            check_code(code, promote.span(), &checks.rules, errors)?;
            let parsed = humantime::parse_duration(wait).map_err(|e| {
                errors.at(
                    promote.span(),
                    format!("promote {code} = `{wait}`: {e}; expected a duration such as \"7d\""),
                )
            })?;
            checks.promote.insert(code.clone(), parsed);
        }
    }
    Ok(())
}

pub(crate) fn validated_since(
    since: &Spanned<String>,
    errors: &Errors<'_>,
) -> Result<String, crate::ConfigError> {
    let text = since.get_ref();
    let valid = text.len() == 10
        && text.as_bytes()[4] == b'-'
        && text.as_bytes()[7] == b'-'
        && text
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !valid {
        return Err(errors.at(
            since.span(),
            format!("since = `{text}`: expected a date as YYYY-MM-DD"),
        ));
    }
    Ok(text.clone())
}

fn schema_check(
    entry: &RawSchema,
    repos: &[Repo],
    root: &std::path::Path,
    errors: &Errors<'_>,
) -> Result<SchemaCheck, crate::ConfigError> {
    let path = root.join(entry.schema.get_ref());
    let text = std::fs::read_to_string(&path).map_err(|e| {
        errors.at(
            entry.schema.span(),
            format!("cannot read schema {}: {e}", path.display()),
        )
    })?;
    let schema: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        errors.at(
            entry.schema.span(),
            format!(
                "schema {} is not valid JSON (line {}, column {}): {e}",
                path.display(),
                e.line(),
                e.column()
            ),
        )
    })?;
    Ok(SchemaCheck {
        scope: scope(&entry.glob, entry.repos.as_deref(), repos, errors)?,
        schema_path: path,
        schema,
    })
}

fn owner_check(
    owner: &RawOwner,
    repos: &[Repo],
    errors: &Errors<'_>,
) -> Result<OwnerCheck, crate::ConfigError> {
    let mut owners = BTreeMap::new();
    for (value, repo) in owner.owners.get_ref() {
        let index = repos.iter().position(|r| &r.name == repo);
        // A repo not checked out here is fine (a team checking one repo of
        // several), but one a letter away from a declared repo is a typo.
        if index.is_none()
            && let Some(help) = did_you_mean(repo, repos.iter().map(|r| r.name.as_str()))
        {
            return Err(errors.with_help(
                owner.owners.span(),
                format!(
                    "owner `{value}` names repo `{repo}`, which is not declared and looks like a \
                     typo of a declared one"
                ),
                Some(help),
            ));
        }
        owners.insert(
            value.clone(),
            OwnerRepo {
                name: repo.clone(),
                index,
            },
        );
    }
    if let Some(value) = &owner.mirror_value
        && owner.mirror_marker.is_none()
    {
        return Err(errors.with_help(
            value.span(),
            "mirror_value without mirror_marker".to_string(),
            Some("name the marker field too, e.g. mirror_marker = \"/sync_origin\"".into()),
        ));
    }
    Ok(OwnerCheck {
        scope: scope(&owner.glob, None, repos, errors)?,
        field: pointer(&owner.field, errors)?,
        owners,
        mirror_marker: owner
            .mirror_marker
            .as_ref()
            .map(|m| pointer(m, errors))
            .transpose()?,
        mirror_value: owner.mirror_value.clone().map(Spanned::into_inner),
    })
}

fn legacy_check(
    legacy: &RawLegacy,
    repos: &[Repo],
    errors: &Errors<'_>,
) -> Result<LegacyCheck, crate::ConfigError> {
    for (old, new) in legacy.fields.get_ref() {
        for p in [old, new] {
            if !p.starts_with('/') {
                return Err(errors.at(
                    legacy.fields.span(),
                    format!("`{p}` is not a JSON pointer (write \"/{p}\")"),
                ));
            }
        }
    }
    Ok(LegacyCheck {
        scope: scope(&legacy.glob, None, repos, errors)?,
        fields: legacy.fields.get_ref().clone(),
    })
}

fn phase_check(
    phases: &RawPhases,
    repos: &[Repo],
    errors: &Errors<'_>,
) -> Result<PhaseCheck, crate::ConfigError> {
    let window_seconds = match &phases.window {
        Some(window) => humantime::parse_duration(window.get_ref())
            .map(|d| d.as_secs())
            .map_err(|_| {
                errors.at(
                    window.span(),
                    format!(
                        "window = `{}`: expected a duration like 24h, 90m or 2d",
                        window.get_ref()
                    ),
                )
            })?,
        None => 24 * 3600,
    };
    for template in &phases.timing {
        if !template.starts_with('/') {
            return Err(errors.at(
                phases.field.span(),
                format!("timing `{template}` is not a JSON pointer"),
            ));
        }
    }
    Ok(PhaseCheck {
        scope: scope(&phases.glob, None, repos, errors)?,
        field: pointer(&phases.field, errors)?,
        log: phases.log.as_ref().map(|l| l.get_ref().clone()),
        window_seconds,
        timing: phases.timing.clone(),
        key: phases.key.clone(),
    })
}

fn citation_check(
    citations: RawCitations,
    repos: &[Repo],
    root: &std::path::Path,
    errors: &Errors<'_>,
) -> Result<CitationCheck, crate::ConfigError> {
    let mut scopes = Vec::new();
    for glob in citations.globs.get_ref() {
        let spanned = Spanned::new(citations.globs.span(), glob.clone());
        scopes.push(scope(&spanned, None, repos, errors)?);
    }
    if let Some(repo) = &citations.default_repo {
        let parts: Vec<&str> = repo.get_ref().split('/').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(errors.at(
                repo.span(),
                format!("default_repo `{}` is not `owner/name`", repo.get_ref()),
            ));
        }
    }
    Ok(CitationCheck {
        scopes,
        default_repo: citations.default_repo.map(Spanned::into_inner),
        owners: citations.owners,
        default_owner: citations.default_owner,
        cache: root.join(
            citations
                .cache
                .unwrap_or_else(|| ".concord/citations.json".into()),
        ),
        offline: citations.offline,
        token_env: citations.token_env.unwrap_or_else(|| "GITHUB_TOKEN".into()),
        url: citations
            .url
            .unwrap_or_else(|| "https://api.github.com".into()),
    })
}
