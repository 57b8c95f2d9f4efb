//! `concord init [DIR...]`: propose a `concord.toml` for the git repos
//! under some folders. The looking and proposing is
//! [`concord_app::init`]'s; this file parses the flags and renders. It
//! runs without a workspace: it is how one is made.

use crate::Outcome;
use crate::hub::Failure;
use crate::output::{self, DIM, KEY, WARN, paint};
use concord_app::init::vocabulary::Mapping;
use concord_app::init::{InitOptions, InitReport, check_writable, propose, write};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

/// How many groups of unclassified files the text summary lists.
const NOT_CLASSIFIED_SHOWN: usize = 12;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folders to search for git repos: a repo, or a folder holding repos.
    #[arg(value_name = "DIR", default_value = ".")]
    dirs: Vec<PathBuf>,
    /// The file to write; repo paths in it are relative to its folder.
    #[arg(long, short = 'o', value_name = "PATH", default_value = "concord.toml")]
    output: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    force: bool,
    /// Print the proposed file to stdout and write nothing (the summary goes to stderr).
    #[arg(long)]
    dry_run: bool,
    /// Print what was found and proposed as JSON (the file is in `config`).
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<Outcome, Failure> {
    let options = InitOptions {
        dirs: args.dirs.clone(),
        output: args.output.clone(),
    };
    if !args.dry_run {
        check_writable(&args.output, args.force)?;
    }
    let mut proposal = propose(&options)?;
    if !args.dry_run {
        write(&mut proposal, &args.output, args.force)?;
    }
    let report = &proposal.report;
    if args.json {
        let mut out = output::stdout();
        let written = serde_json::to_writer_pretty(&mut out, report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
            .and_then(|()| out.flush());
        output::finish(written);
    } else if args.dry_run {
        let mut out = output::stdout();
        output::finish(
            out.write_all(proposal.toml.as_bytes())
                .and_then(|()| out.flush()),
        );
        let mut err = std::io::stderr().lock();
        output::finish(summary(report, args, &mut err));
    } else {
        let mut out = output::stdout();
        output::finish(summary(report, args, &mut out).and_then(|()| out.flush()));
    }
    Ok(Outcome::Clean)
}

fn summary(report: &InitReport, args: &Args, out: &mut impl Write) -> std::io::Result<()> {
    let (key, dim, warn) = (paint(KEY), paint(DIM), paint(WARN));
    writeln!(
        out,
        "{key}repos{key:#} {dim}(searched {}){dim:#}",
        report.searched.join(", ")
    )?;
    for repo in &report.repos {
        writeln!(
            out,
            "  {:<16} {}  {dim}{} markdown/JSON files read{dim:#}",
            repo.name, repo.path, repo.files_read
        )?;
    }
    writeln!(out, "{key}sources{key:#}")?;
    if report.sources.is_empty() {
        writeln!(
            out,
            "  {warn}none{warn:#}: no ```task blocks, bold-status tables, front matter with a status or JSON state files were found"
        )?;
    }
    for s in &report.sources {
        writeln!(
            out,
            "  {:<20} {:<12} {}:{}  {} file(s), {} item(s), key {}, workflow {}",
            s.name,
            s.format,
            s.repo,
            short_glob(&s.glob),
            s.files,
            s.items,
            s.key,
            s.workflow
        )?;
    }
    words(report, out)?;
    not_classified(report, out)?;
    unmapped(report, out)?;
    sync(report, out)?;
    if !report.scan_warnings.is_empty() {
        writeln!(
            out,
            "{warn}{} scan warning(s){warn:#} on the proposed workspace (rows that cannot be read, duplicate keys): `concord scan` lists them",
            report.scan_warnings.len()
        )?;
    }
    if report.written {
        writeln!(
            out,
            "wrote {}; next: `concord scan`, then `concord diff` to see what `concord sync` would change",
            report.output
        )?;
    } else if args.dry_run {
        writeln!(
            out,
            "dry run: nothing written ({} was proposed)",
            report.output
        )?;
    }
    Ok(())
}

fn words(report: &InitReport, out: &mut impl Write) -> std::io::Result<()> {
    let (key, warn) = (paint(KEY), paint(WARN));
    for workflow in &report.workflows {
        writeln!(
            out,
            "{key}status words{key:#} of workflow {}",
            workflow.name
        )?;
        let mut by_status: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for w in &workflow.words {
            let mark = match w.mapping {
                Mapping::Known => "",
                Mapping::Guessed => " (guessed)",
                Mapping::Unclassified => {
                    " (not classified: a status of its own at rank 0; check it)"
                }
            };
            by_status
                .entry(w.status.as_str())
                .or_default()
                .push(format!("{} ×{}{mark}", w.word, w.count));
        }
        for status in &workflow.statuses {
            if let Some(list) = by_status.get(status.name.as_str()) {
                let style = if status.unclassified {
                    warn
                } else {
                    paint(anstyle::Style::new())
                };
                writeln!(
                    out,
                    "  {style}{:<16}{style:#} <- {}",
                    status.name,
                    list.join(", ")
                )?;
            }
        }
    }
    Ok(())
}

/// Status values no workflow could take (blank ones: a status needs a
/// name): the scan says where, and sync holds those items until fixed.
fn unmapped(report: &InitReport, out: &mut impl Write) -> std::io::Result<()> {
    let unknown: Vec<_> = report
        .scan_warnings
        .iter()
        .filter(|w| w.code == concord_model::WarningCode::UnknownStatus)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let (key, warn) = (paint(KEY), paint(WARN));
    writeln!(
        out,
        "{key}status values not mapped{key:#} {warn}({}){warn:#}: sync holds these items until they are fixed",
        unknown.len()
    )?;
    for w in unknown.iter().take(NOT_CLASSIFIED_SHOWN) {
        let line = w.line.map(|l| format!(":{l}")).unwrap_or_default();
        writeln!(out, "  {}:{}{line}: {}", w.repo, w.path, w.message)?;
    }
    if unknown.len() > NOT_CLASSIFIED_SHOWN {
        writeln!(
            out,
            "  … and {} more (`concord scan` lists them)",
            unknown.len() - NOT_CLASSIFIED_SHOWN
        )?;
    }
    Ok(())
}

/// Files that looked like state but were not classified, grouped by
/// folder and reason so a hundred log files make one line.
fn not_classified(report: &InitReport, out: &mut impl Write) -> std::io::Result<()> {
    if report.not_classified.is_empty() {
        return Ok(());
    }
    let (key, dim) = (paint(KEY), paint(DIM));
    let mut groups: BTreeMap<(&str, String), Vec<&str>> = BTreeMap::new();
    for n in &report.not_classified {
        groups
            .entry((n.repo.as_str(), without_numbers(&n.reason)))
            .or_default()
            .push(n.path.as_str());
    }
    writeln!(
        out,
        "{key}not classified{key:#} {dim}({} file(s); --json lists each){dim:#}",
        report.not_classified.len()
    )?;
    for ((repo, reason), paths) in groups.iter().take(NOT_CLASSIFIED_SHOWN) {
        let what = if paths.len() == 1 {
            paths[0].to_string()
        } else {
            format!("{} and {} more like it", paths[0], paths.len() - 1)
        };
        writeln!(out, "  {repo}:{what}: {reason}")?;
    }
    if groups.len() > NOT_CLASSIFIED_SHOWN {
        writeln!(
            out,
            "  … and {} more group(s)",
            groups.len() - NOT_CLASSIFIED_SHOWN
        )?;
    }
    Ok(())
}

/// A glob that lists its files (`docs/{a.md,b.md,…}`) shortened to how
/// many it lists once it is long; the file has it whole.
fn short_glob(glob: &str) -> String {
    match (glob.find('{'), glob.rfind('}')) {
        (Some(open), Some(close)) if glob.len() > 60 && open < close => {
            let names = glob[open + 1..close].split(',').count();
            format!("{}{{{names} files}}{}", &glob[..open], &glob[close + 1..])
        }
        _ => glob.to_string(),
    }
}

/// A reason with its line and column numbers blanked, so that one reason
/// at different places groups as one.
fn without_numbers(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut digits = false;
    for c in reason.chars() {
        if c.is_ascii_digit() {
            if !digits {
                out.push('N');
            }
            digits = true;
        } else {
            digits = false;
            out.push(c);
        }
    }
    out
}

fn sync(report: &InitReport, out: &mut impl Write) -> std::io::Result<()> {
    let key = paint(KEY);
    writeln!(out, "{key}sync{key:#}")?;
    for rule in &report.rules {
        let state = if rule.active {
            ""
        } else {
            " (proposed in a comment)"
        };
        writeln!(
            out,
            "  rule {}: merge {}{state}",
            rule.name,
            rule.between.join(", ")
        )?;
    }
    if report.rules.is_empty() {
        writeln!(
            out,
            "  no rule: no source was found for `concord sync` to keep in step"
        )?;
    }
    let shared = &report.shared_keys;
    if shared.count > 0 {
        let first = &shared.examples[0];
        writeln!(
            out,
            "  {} key(s) are held by more than one source (e.g. {} in {}): sync brings them into agreement; `concord diff` shows how first",
            shared.count,
            first.key,
            first.sources.join(", ")
        )?;
    }
    Ok(())
}
