//! `release.toml`: the train as the team writes it, checked before
//! anything runs. Every error names the file, line and column.

use crate::model::{
    Command, Deploy, GitRecord, GithubReleases, Publish, Repin, Retry, Role, Train, TrainRepo,
};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub struct ReleaseConfigError {
    /// `path:line:column`, or the path alone.
    pub location: String,
    pub message: String,
    pub help: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    #[serde(default)]
    train: Option<RawTrain>,
    #[serde(default, rename = "repo")]
    repos: Vec<RawRepo>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrain {
    retry: Option<RawRetry>,
    git: Option<RawGit>,
    github: Option<RawGithub>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGithub {
    url: Option<String>,
    token_env: Option<String>,
    repos: Spanned<std::collections::BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGit {
    enabled: Option<bool>,
    remote: Option<String>,
    main_branch: Option<String>,
    tag: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    attempts: Option<u32>,
    first_delay: Option<Spanned<String>>,
    max_delay: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepo {
    name: Spanned<String>,
    path: String,
    role: Spanned<String>,
    release_branch: Option<String>,
    #[serde(default)]
    depends_on: Vec<String>,
    test: Option<RawCommand>,
    publish: Option<RawPublish>,
    #[serde(default, rename = "repin")]
    repins: Vec<RawRepin>,
    lock_refresh: Option<RawCommand>,
    deploy: Option<RawDeploy>,
}

/// `["cmd", "arg"]` or `{ argv = [...], shell = true, timeout = "10m" }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawCommand {
    // Spans do not survive an untagged enum: errors point at the repo.
    Argv(Vec<String>),
    Full {
        argv: Vec<String>,
        #[serde(default)]
        shell: bool,
        timeout: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPublish {
    command: RawCommand,
    version_file: String,
    version_regex: Spanned<String>,
    is_published: RawCommand,
    is_yanked: Option<RawCommand>,
    digest: Option<RawCommand>,
    build_digest: Option<RawCommand>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepin {
    library: Spanned<String>,
    glob: Spanned<String>,
    regex: Spanned<String>,
    replace: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeploy {
    kind: Spanned<String>,
    remote: Option<String>,
    branch: Option<String>,
    smoke: Option<RawCommand>,
    command: Option<RawCommand>,
}

/// Commands without their own timeout get this one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn error(
        &self,
        span: Option<std::ops::Range<usize>>,
        message: String,
        help: Option<String>,
    ) -> ReleaseConfigError {
        let location = match span {
            Some(span) => {
                let before = &self.text[..span.start.min(self.text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("{}:{line}:{column}", self.path.display())
            }
            None => self.path.display().to_string(),
        };
        ReleaseConfigError {
            location,
            message,
            help,
        }
    }
}

/// `90s`, `10m`, `2h`, `1h 30m` as a duration.
fn duration(text: &str) -> Option<Duration> {
    humantime::parse_duration(text.trim()).ok()
}

impl RawCommand {
    /// `at` points at the repo the command belongs to.
    fn resolve(
        &self,
        at: &Locator<'_>,
        span: &std::ops::Range<usize>,
    ) -> Result<Command, ReleaseConfigError> {
        let (argv, shell, timeout) = match self {
            RawCommand::Argv(argv) => (argv, false, None),
            RawCommand::Full {
                argv,
                shell,
                timeout,
            } => (argv, *shell, timeout.as_ref()),
        };
        if argv.first().is_none_or(|program| program.trim().is_empty()) {
            return Err(at.error(
                Some(span.clone()),
                "a command needs at least a program".into(),
                None,
            ));
        }
        let timeout = match timeout {
            Some(t) => duration(t).ok_or_else(|| {
                at.error(
                    Some(span.clone()),
                    format!("timeout `{t}`: expected a duration like 90s, 10m or 2h"),
                    None,
                )
            })?,
            None => DEFAULT_TIMEOUT,
        };
        Ok(Command {
            argv: argv.clone(),
            shell,
            timeout,
        })
    }
}

/// Read and check `release.toml` at `path`.
pub fn load(path: &Path) -> Result<Train, ReleaseConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ReleaseConfigError {
        location: path.display().to_string(),
        message: format!("cannot read: {e}"),
        help: None,
    })?;
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<Train, ReleaseConfigError> {
    let at = Locator { path, text };
    let raw: RawRelease =
        toml::from_str(text).map_err(|e| at.error(e.span(), e.message().to_string(), None))?;
    let retry = train_retry(raw.train.as_ref(), &at)?;
    let mut repos: Vec<TrainRepo> = Vec::new();
    for raw_repo in &raw.repos {
        let name = raw_repo.name.get_ref();
        let here = raw_repo.name.span();
        if repos.iter().any(|r| &r.name == name) {
            return Err(at.error(
                Some(raw_repo.name.span()),
                format!("repo `{name}` is listed twice"),
                None,
            ));
        }
        let role = repo_role(raw_repo, &at)?;
        let publish = repo_publish(raw_repo, role, &at)?;
        let repins = repo_repins(raw_repo, &at)?;
        let deploy = repo_deploy(raw_repo, &at)?;
        repos.push(TrainRepo {
            name: name.clone(),
            path: raw_repo.path.clone(),
            role,
            release_branch: raw_repo
                .release_branch
                .clone()
                .unwrap_or_else(|| "release".into()),
            depends_on: raw_repo.depends_on.clone(),
            test: raw_repo
                .test
                .as_ref()
                .map(|c| c.resolve(&at, &here))
                .transpose()?,
            publish,
            repins,
            lock_refresh: raw_repo
                .lock_refresh
                .as_ref()
                .map(|c| c.resolve(&at, &here))
                .transpose()?,
            deploy,
        });
    }
    check_references(&raw, &repos, &at)?;
    let git = train_git(raw.train.as_ref().and_then(|t| t.git.as_ref()), &at)?;
    let github = train_github(
        raw.train.as_ref().and_then(|t| t.github.as_ref()),
        &repos,
        git.enabled,
        &at,
    )?;
    Ok(Train {
        repos,
        retry,
        git,
        github,
    })
}

/// `[train.git]`: on unless it says `enabled = false`; a tag template may
/// use `{repo}`, `{train}`, `{id}` and `{version}` and must name each repo
/// apart (`{repo}`).
fn train_git(raw: Option<&RawGit>, at: &Locator<'_>) -> Result<GitRecord, ReleaseConfigError> {
    let defaults = GitRecord::default();
    let Some(raw) = raw else {
        return Ok(GitRecord {
            enabled: true,
            ..defaults
        });
    };
    let tag = match &raw.tag {
        Some(tag) => {
            let text = tag.get_ref();
            let unknown = text
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
                .find(|name| !matches!(*name, "repo" | "train" | "id" | "version"));
            if let Some(name) = unknown {
                return Err(at.error(
                    Some(tag.span()),
                    format!("tag template has an unknown placeholder `{{{name}}}`"),
                    Some("placeholders: {repo}, {train}, {id}, {version}".into()),
                ));
            }
            if !text.contains("{repo}") {
                return Err(at.error(
                    Some(tag.span()),
                    "the tag template needs `{repo}`: one tag per repo".into(),
                    None,
                ));
            }
            text.clone()
        }
        None => defaults.tag.clone(),
    };
    Ok(GitRecord {
        enabled: raw.enabled.unwrap_or(true),
        remote: raw.remote.clone().unwrap_or(defaults.remote),
        main_branch: raw.main_branch.clone().unwrap_or(defaults.main_branch),
        tag,
    })
}

/// `[train.github]`: only with `[train.git]` on (a release is of a tag
/// the train pushed); every mapped repo is a repo of the train, every
/// GitHub name `owner/name`.
fn train_github(
    raw: Option<&RawGithub>,
    repos: &[TrainRepo],
    git: bool,
    at: &Locator<'_>,
) -> Result<Option<GithubReleases>, ReleaseConfigError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let span = Some(raw.repos.span());
    if !git {
        return Err(at.error(
            span,
            "GitHub releases are made of the train's tags: [train.git] must be on".into(),
            None,
        ));
    }
    for (repo, name) in raw.repos.get_ref() {
        if !repos.iter().any(|r| &r.name == repo) {
            return Err(at.error(
                span,
                format!("[train.github] repos names `{repo}`, which is not a repo of the train"),
                None,
            ));
        }
        let parts: Vec<&str> = name.split('/').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.is_empty()) {
            return Err(at.error(
                span,
                format!("`{name}` (for {repo}) is not a GitHub repository of the form owner/name"),
                None,
            ));
        }
    }
    Ok(Some(GithubReleases {
        url: raw
            .url
            .clone()
            .unwrap_or_else(|| "https://api.github.com".into()),
        token_env: raw
            .token_env
            .clone()
            .unwrap_or_else(|| "GITHUB_TOKEN".into()),
        repos: raw.repos.get_ref().clone(),
    }))
}

fn train_retry(raw: Option<&RawTrain>, at: &Locator<'_>) -> Result<Retry, ReleaseConfigError> {
    let r = raw.and_then(|t| t.retry.as_ref());
    let delay = |value: Option<&Spanned<String>>, default: Duration| match value {
        Some(v) => duration(v.get_ref()).ok_or_else(|| {
            at.error(
                Some(v.span()),
                format!("`{}`: expected a duration like 2s or 1m", v.get_ref()),
                None,
            )
        }),
        None => Ok(default),
    };
    Ok(Retry {
        attempts: r.as_ref().and_then(|r| r.attempts).unwrap_or(5).max(1),
        first_delay: delay(
            r.as_ref().and_then(|r| r.first_delay.as_ref()),
            Duration::from_secs(2),
        )?,
        max_delay: delay(
            r.as_ref().and_then(|r| r.max_delay.as_ref()),
            Duration::from_secs(60),
        )?,
    })
}

fn repo_role(raw_repo: &RawRepo, at: &Locator<'_>) -> Result<Role, ReleaseConfigError> {
    match raw_repo.role.get_ref().as_str() {
        "library" => Ok(Role::Library),
        "hub" => Ok(Role::Hub),
        "satellite" => Ok(Role::Satellite),
        other => Err(at.error(
            Some(raw_repo.role.span()),
            format!("role `{other}`: expected library, hub or satellite"),
            None,
        )),
    }
}

fn repo_publish(
    raw_repo: &RawRepo,
    role: Role,
    at: &Locator<'_>,
) -> Result<Option<Publish>, ReleaseConfigError> {
    let name = raw_repo.name.get_ref();
    let here = raw_repo.name.span();
    Ok(match &raw_repo.publish {
        Some(_) if role != Role::Library => {
            return Err(at.error(
                Some(raw_repo.role.span()),
                format!("`{name}` is not a library: only libraries publish"),
                None,
            ));
        }
        Some(p) => {
            let compiled = regex::Regex::new(p.version_regex.get_ref()).map_err(|e| {
                at.error(
                    Some(p.version_regex.span()),
                    format!("invalid version_regex: {e}"),
                    None,
                )
            })?;
            if compiled.captures_len() < 2 {
                return Err(at.error(
                    Some(p.version_regex.span()),
                    "version_regex needs a group capturing the version, e.g. 'VERSION = \"([^\"]+)\"'".into(),
                    None,
                ));
            }
            if p.digest.is_some() != p.build_digest.is_some() {
                return Err(at.error(
                    Some(raw_repo.role.span()),
                    format!("library `{name}`: `digest` and `build_digest` go together (the registry's digest and this train's)"),
                    None,
                ));
            }
            Some(Publish {
                command: p.command.resolve(at, &here)?,
                version_file: p.version_file.clone(),
                version_regex: p.version_regex.get_ref().clone(),
                is_published: p.is_published.resolve(at, &here)?,
                is_yanked: p
                    .is_yanked
                    .as_ref()
                    .map(|c| c.resolve(at, &here))
                    .transpose()?,
                digest: p
                    .digest
                    .as_ref()
                    .map(|c| c.resolve(at, &here))
                    .transpose()?,
                build_digest: p
                    .build_digest
                    .as_ref()
                    .map(|c| c.resolve(at, &here))
                    .transpose()?,
            })
        }
        None if role == Role::Library => {
            return Err(at.error(
                Some(raw_repo.role.span()),
                format!("library `{name}` needs a [repo.publish] section"),
                None,
            ));
        }
        None => None,
    })
}

fn repo_repins(raw_repo: &RawRepo, at: &Locator<'_>) -> Result<Vec<Repin>, ReleaseConfigError> {
    let mut repins = Vec::new();
    for r in &raw_repo.repins {
        regex::Regex::new(r.regex.get_ref()).map_err(|e| {
            at.error(
                Some(r.regex.span()),
                format!("invalid re-pin regex: {e}"),
                None,
            )
        })?;
        globset::Glob::new(r.glob.get_ref())
            .map_err(|e| at.error(Some(r.glob.span()), format!("invalid glob: {e}"), None))?;
        if !r.replace.get_ref().contains("{version}") {
            return Err(at.error(
                Some(r.replace.span()),
                "a re-pin's `replace` must contain {version}".into(),
                None,
            ));
        }
        repins.push(Repin {
            library: r.library.get_ref().clone(),
            glob: r.glob.get_ref().clone(),
            regex: r.regex.get_ref().clone(),
            replace: r.replace.get_ref().clone(),
        });
    }
    Ok(repins)
}

fn repo_deploy(raw_repo: &RawRepo, at: &Locator<'_>) -> Result<Deploy, ReleaseConfigError> {
    let here = raw_repo.name.span();
    Ok(match &raw_repo.deploy {
        None => Deploy::None,
        Some(d) => match d.kind.get_ref().as_str() {
            "git-push" => Deploy::GitPush {
                remote: d.remote.clone().ok_or_else(|| {
                    at.error(
                        Some(d.kind.span()),
                        "a git-push deploy needs `remote`".into(),
                        None,
                    )
                })?,
                branch: d.branch.clone().ok_or_else(|| {
                    at.error(
                        Some(d.kind.span()),
                        "a git-push deploy needs `branch`".into(),
                        None,
                    )
                })?,
                smoke: d.smoke.as_ref().map(|c| c.resolve(at, &here)).transpose()?,
            },
            "script" => Deploy::Script {
                command: d
                    .command
                    .as_ref()
                    .ok_or_else(|| {
                        at.error(
                            Some(d.kind.span()),
                            "a script deploy needs `command`".into(),
                            None,
                        )
                    })?
                    .resolve(at, &here)?,
            },
            "none" => Deploy::None,
            other => {
                return Err(at.error(
                    Some(d.kind.span()),
                    format!("deploy kind `{other}`: expected git-push, script or none"),
                    None,
                ));
            }
        },
    })
}

/// Names refer to declared repos; re-pins to libraries.
fn check_references(
    raw: &RawRelease,
    repos: &[TrainRepo],
    at: &Locator<'_>,
) -> Result<(), ReleaseConfigError> {
    for (raw_repo, repo) in raw.repos.iter().zip(repos) {
        for dep in &repo.depends_on {
            if !repos.iter().any(|r| &r.name == dep) {
                return Err(at.error(
                    Some(raw_repo.name.span()),
                    format!(
                        "repo `{}` depends on `{dep}`, which is not in the train",
                        repo.name
                    ),
                    None,
                ));
            }
        }
        for (raw_repin, repin) in raw_repo.repins.iter().zip(&repo.repins) {
            let is_library = repos
                .iter()
                .any(|r| r.name == repin.library && r.role == Role::Library);
            if !is_library {
                return Err(at.error(
                    Some(raw_repin.library.span()),
                    format!("re-pin of `{}`: not a library of the train", repin.library),
                    None,
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[train]
retry = { attempts = 4, first_delay = "1s", max_delay = "8s" }

[[repo]]
name = "lib-a"
path = "lib-a"
role = "library"
[repo.publish]
command = ["./publish", "{version}"]
version_file = "VERSION"
version_regex = '([0-9.]+)'
is_published = ["./probe", "{version}"]

[[repo]]
name = "hub"
path = "hub"
role = "hub"
depends_on = ["lib-a"]
test = { argv = ["make", "test"], timeout = "10m" }
lock_refresh = ["./lock"]
[[repo.repin]]
library = "lib-a"
glob = "Gemfile"
regex = 'branch: "release"'
replace = '"~> {version}"'
[repo.deploy]
kind = "git-push"
remote = "production"
branch = "main"

[[repo]]
name = "docs"
path = "docs"
role = "satellite"
[repo.deploy]
kind = "none"
"#;

    #[test]
    fn a_train_is_read_with_its_commands_and_adapters() {
        let train = parse(Path::new("release.toml"), GOOD).expect("valid");
        assert_eq!(train.repos.len(), 3);
        assert_eq!(train.retry.attempts, 4);
        let hub = train.repo("hub").expect("hub");
        assert_eq!(
            hub.test.as_ref().map(|t| t.timeout),
            Some(Duration::from_secs(600))
        );
        assert!(matches!(hub.deploy, Deploy::GitPush { .. }));
        assert_eq!(train.repo("docs").map(|d| &d.deploy), Some(&Deploy::None));
        assert_eq!(hub.release_branch, "release");
    }

    fn error_of(text: &str) -> String {
        parse(Path::new("release.toml"), text)
            .expect_err("invalid")
            .to_string()
    }

    #[test]
    fn mistakes_are_named_with_their_place() {
        let twice = GOOD.replace("name = \"docs\"", "name = \"hub\"");
        let message = error_of(&twice);
        assert!(message.contains("repo `hub` is listed twice"), "{message}");
        assert!(message.starts_with("release.toml:"), "{message}");
        let unknown = GOOD.replace("depends_on = [\"lib-a\"]", "depends_on = [\"lib-b\"]");
        assert!(error_of(&unknown).contains("depends on `lib-b`, which is not in the train"));
        let bad_regex = GOOD.replace("regex = 'branch: \"release\"'", "regex = 'branch: ('");
        assert!(error_of(&bad_regex).contains("invalid re-pin regex"));
        let no_group = GOOD.replace("version_regex = '([0-9.]+)'", "version_regex = '[0-9.]+'");
        assert!(error_of(&no_group).contains("needs a group"));
        let bad_kind = GOOD.replace("kind = \"none\"", "kind = \"ftp\"");
        assert!(error_of(&bad_kind).contains("deploy kind `ftp`"));
        let empty = GOOD.replace("lock_refresh = [\"./lock\"]", "lock_refresh = []");
        assert!(error_of(&empty).contains("at least a program"));
        let role = GOOD.replace("role = \"satellite\"", "role = \"moon\"");
        assert!(error_of(&role).contains("role `moon`"));
        let app_publish = GOOD.replace("role = \"library\"", "role = \"satellite\"");
        assert!(error_of(&app_publish).contains("only libraries publish"));
    }
}
