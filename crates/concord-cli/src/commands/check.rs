//! `concord check`: the integrity checks over the workspace, as text
//! (compiler-like, the offending span underlined), JSON or SARIF 2.1.0.
//! Exit 1 when a finding gates (severity `error`).

use crate::Outcome;
use crate::hub::{self, Failure};
use concord_checks::builtin::{
    At, FileChecks, FileInput, dangling_and_drift, finding, from_warnings,
};
use concord_checks::catalog::CATALOG;
use concord_checks::citations::{
    CitationCache, CitationContext, GitHubResolver, OfflineResolver, Resolution, Resolver,
};
use concord_checks::finding::{
    Finding, Severity, apply_suppressions, assign_fingerprints, parse_suppressions,
};
use concord_checks::render;
use concord_workspace::{Workspace, scan};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

#[derive(Copy, Clone, Debug, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Check every file in scope (the default; `--staged` and `--baseline` come later).
    #[arg(long)]
    all: bool,
    /// How to print the findings.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Resolve citations from the citation cache only (no network).
    #[arg(long)]
    offline: bool,
    /// Do not read the hub (DRIFT then compares the files only).
    #[arg(long)]
    no_hub: bool,
    /// List every check code with its default severity and stop.
    #[arg(long)]
    list: bool,
}

/// One file a check looks at.
struct Checked {
    repo: usize,
    path: String,
    bytes: Vec<u8>,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    if args.list {
        let mut out = crate::output::stdout();
        let written = (|| {
            for info in CATALOG {
                writeln!(
                    out,
                    "{:<28} {:<9} {}",
                    info.code,
                    info.severity.as_str(),
                    info.what
                )?;
            }
            out.flush()
        })();
        crate::output::finish(written);
        return Ok(Outcome::Clean);
    }
    let file_checks = FileChecks::new(ws).map_err(|why| Failure::usage(why, None))?;
    let checks = &ws.checks;
    let mut findings: Vec<Finding> = Vec::new();

    // What the scan sees: unreadable rows, unknown statuses, duplicates,
    // and how the sources of each rule line up.
    let report = scan(ws);
    findings.extend(from_warnings(&report.warnings));
    let hub_values = if args.no_hub || ws.rules.is_empty() {
        None
    } else {
        Some(hub_statuses(ws)?)
    };
    let observations: Vec<_> = report.observations().collect();
    findings.extend(dangling_and_drift(ws, &observations, hub_values.as_ref()));

    // Files the file checks and the citation check look at.
    let files = files_in_scope(ws, &file_checks);
    for file in &files {
        findings.extend(file_checks.check(&FileInput {
            repo: file.repo,
            path: &file.path,
            bytes: &file.bytes,
        }));
    }
    if let Some(citations) = &checks.citations {
        findings.extend(citation_findings(ws, citations, &files, args.offline)?);
    }

    // Inline suppressions in markdown files.
    let mut suppressions = Vec::new();
    for file in files.iter().filter(|f| f.path.ends_with(".md")) {
        if let Ok(text) = std::str::from_utf8(&file.bytes) {
            suppressions.extend(parse_suppressions(&file.path, text));
        }
    }
    let (mut kept, _suppressed, problems) = apply_suppressions(findings, &suppressions);
    kept.extend(problems);

    // Configuration: disabled codes, severity overrides.
    kept.retain(|f| !checks.disabled.contains(&f.code));
    for f in &mut kept {
        if let Some(level) = checks.severity.get(&f.code)
            && let Ok(severity) = level.parse::<Severity>()
        {
            f.severity = severity;
        }
    }
    assign_fingerprints(&mut kept);
    kept.sort_by(|a, b| (&a.path, a.line, &a.code).cmp(&(&b.path, b.line, &b.code)));

    let gating = kept.iter().filter(|f| f.severity.gates()).count();
    let mut out = crate::output::stdout();
    let sources = |path: &str| {
        files
            .iter()
            .find(|f| f.path == path)
            .and_then(|f| String::from_utf8(f.bytes.clone()).ok())
    };
    let written = match args.format {
        Format::Text => render::text(&kept, &sources, crate::output::color_enabled(), &mut out),
        Format::Json => render::json(&kept, &mut out),
        Format::Sarif => render::sarif(&kept, &rule_infos(), "concord/check", None, &mut out),
    };
    crate::output::finish(written.and_then(|()| out.flush()));
    Ok(if gating > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

fn rule_infos() -> Vec<render::RuleInfo> {
    CATALOG
        .iter()
        .map(|c| render::RuleInfo {
            id: c.code.to_string(),
            short: c.what.to_string(),
            full: c.why.to_string(),
            help: c.fix.to_string(),
            default_severity: c.severity,
        })
        .collect()
}

/// The hub's status of every item (canonical word).
fn hub_statuses(ws: &Workspace) -> Result<BTreeMap<String, String>, Failure> {
    let values = hub::block_on(async {
        let store = hub::open(ws).await?;
        let values = store.hub_values().await;
        store.close().await;
        Ok::<_, Failure>(values?)
    })??;
    Ok(values
        .into_iter()
        .filter(|v| v.field == "status")
        .filter_map(|v| v.value.map(|value| (v.key, value)))
        .collect())
}

/// Every file of every repo that a file check or the citation check covers.
fn files_in_scope(ws: &Workspace, file_checks: &FileChecks<'_>) -> Vec<Checked> {
    let citation_scopes = ws
        .checks
        .citations
        .as_ref()
        .map(|c| c.scopes.as_slice())
        .unwrap_or_default();
    let mut files = Vec::new();
    for (index, repo) in ws.repos.iter().enumerate() {
        let walker = walkdir::WalkDir::new(&repo.root)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| e.file_name() != ".git" && e.file_name() != "target");
        for entry in walker.filter_map(Result::ok) {
            if !entry.file_type().is_file() {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(&repo.root) else {
                continue;
            };
            let path = rel.to_string_lossy().replace('\\', "/");
            let wanted = file_checks.covers(index, &path)
                || citation_scopes.iter().any(|s| s.covers(index, &path));
            if !wanted {
                continue;
            }
            if let Ok(bytes) = std::fs::read(entry.path()) {
                files.push(Checked {
                    repo: index,
                    path,
                    bytes,
                });
            }
        }
    }
    files.sort_by(|a, b| (a.repo, &a.path).cmp(&(b.repo, &b.path)));
    files
}

fn citation_findings(
    ws: &Workspace,
    config: &concord_workspace::checks_config::CitationCheck,
    files: &[Checked],
    offline: bool,
) -> Result<Vec<Finding>, Failure> {
    let context = CitationContext {
        default_repo: config.default_repo.clone(),
        owners: config.owners.clone(),
        default_owner: config.default_owner.clone(),
    };
    let mut cited = Vec::new();
    for file in files {
        if !config
            .scopes
            .iter()
            .any(|s| s.covers(file.repo, &file.path))
        {
            continue;
        }
        let Ok(text) = std::str::from_utf8(&file.bytes) else {
            continue;
        };
        for at in concord_checks::citations::extract(text, &context) {
            cited.push((file, at));
        }
    }
    // Each distinct citation is resolved once, however often it is cited.
    let wanted: BTreeSet<_> = cited.iter().map(|(_, at)| at.citation.clone()).collect();
    let cache = CitationCache::load(&config.cache).unwrap_or_default();
    let token = std::env::var(&config.token_env)
        .ok()
        .filter(|t| !t.trim().is_empty());
    let answers = match (offline || config.offline, token) {
        (false, Some(token)) => {
            let client = concord_trackers::github::GitHub::new(&config.url, &token)
                .map_err(|why| Failure::usage(format!("citations: {why}"), None))?;
            let resolver = GitHubResolver::new(client, cache);
            let answers = resolver.resolve(&wanted);
            // Definite answers are kept for the next run (and offline mode).
            let _ = resolver.cache().save(&config.cache);
            answers
        }
        _ => OfflineResolver(cache).resolve(&wanted),
    };
    let mut out = Vec::new();
    for (file, at) in cited {
        let repo = ws.repos[file.repo].name.as_str();
        let position = At {
            line: Some(at.line),
            column: Some(at.column),
            end_column: Some(at.end_column),
        };
        let name = format!("{}#{}", at.citation.repo, at.citation.number);
        match answers.get(&at.citation) {
            Some(Resolution::Missing) => out.push(finding(
                "BROKEN_CITATION",
                Some(repo),
                &file.path,
                position,
                None,
                format!("{name} (cited as `{}`) does not exist", at.text),
                &name,
                &name,
            )),
            Some(Resolution::Unknown(why)) => {
                // Unknown is never "broken": advisory only.
                let mut f = finding(
                    "BROKEN_CITATION",
                    Some(repo),
                    &file.path,
                    position,
                    None,
                    format!("{name} could not be checked: {why}"),
                    &name,
                    &name,
                );
                f.severity = Severity::Advisory;
                out.push(f);
            }
            _ => {}
        }
    }
    Ok(out)
}
