//! `concord explain KEY`: every source's value, the base, the rule and the
//! decision with its reason.

use crate::Outcome;
use crate::hub::Failure;
use crate::output::{self, DIM, KEY, paint};
use concord_app::plan::{Planned, Scope, look_gates, plan_workspace};
use concord_engine::{Decision, Mode, Reopen};
use concord_workspace::{HUB_SOURCE, Workspace};
use serde::Serialize;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The item's key.
    pub(crate) key: String,
    /// Print the decisions as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Do not fetch: judge staleness against the last fetch.
    #[arg(long)]
    pub(crate) no_fetch: bool,
}

/// One reading of the item from a checkout: which replica, what blocks it,
/// and what it last agreed on under each rule.
#[derive(Serialize)]
struct ReplicaReading {
    source: String,
    repo: String,
    /// Where this copy of the item is (a source may hold it more than once:
    /// `DUPLICATE_KEY`).
    path: String,
    line: u32,
    /// The source's own word, if the copy has a status.
    status: Option<String>,
    replica: Option<String>,
    /// Why the repo is not written now (a reason code), if it is not.
    blocked: Option<&'static str>,
    /// rule -> the value this replica last agreed on (`null`: never).
    own_bases: std::collections::BTreeMap<String, Option<String>>,
}

#[derive(Serialize)]
struct Explained<'a> {
    key: &'a str,
    decisions: Vec<&'a Decision>,
    bases: Vec<BaseView<'a>>,
    readings: Vec<ReplicaReading>,
}

/// A base as `explain --json` shows it: `versions` as the JSON object it
/// is (the hub stores it as text).
#[derive(Serialize)]
struct BaseView<'a> {
    rule: &'a str,
    key: &'a str,
    field: &'a str,
    value: Option<&'a str>,
    /// Source -> the version (or replica position) it had when agreed.
    versions: serde_json::Value,
    version: i64,
    agreed_at: &'a str,
}

impl<'a> From<&'a concord_store::Base> for BaseView<'a> {
    fn from(base: &'a concord_store::Base) -> Self {
        BaseView {
            rule: &base.rule,
            key: &base.key,
            field: &base.field,
            value: base.value.as_deref(),
            versions: serde_json::from_str(&base.versions)
                .unwrap_or_else(|_| serde_json::Value::String(base.versions.clone())),
            version: base.version,
            agreed_at: &base.agreed_at,
        }
    }
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let gates = look_gates(ws, args.no_fetch);
    let Planned {
        report,
        plan,
        bases,
        own_bases,
        ..
    } = plan_workspace(
        ws,
        "explain",
        &gates,
        &Default::default(),
        &Scope::All,
        false,
    )?;
    let decisions: Vec<&Decision> = plan
        .decisions
        .iter()
        .filter(|d| d.key == args.key)
        .collect();
    let observations: Vec<_> = report
        .observations()
        .filter(|o| o.key == args.key)
        .collect();
    if decisions.is_empty() && observations.is_empty() {
        return Err(Failure::usage(
            format!("no source holds an item `{}`", args.key),
            Some("check the key with `concord status`".into()),
        ));
    }
    let readings: Vec<ReplicaReading> = observations
        .iter()
        .map(|obs| {
            let gate = gates.get(&*obs.repo);
            let own_bases = decisions
                .iter()
                .map(|d| {
                    let shared = bases
                        .iter()
                        .find(|b| b.rule == d.rule && b.key == obs.key && b.field == "status");
                    let own = own_bases
                        .view(&gates, &obs.repo, (&d.rule, &obs.source, &obs.key), shared)
                        .base;
                    (d.rule.clone(), own)
                })
                .collect();
            ReplicaReading {
                source: obs.source.to_string(),
                repo: obs.repo.to_string(),
                path: obs.path.to_string(),
                line: obs.status.as_ref().map_or(obs.line, |s| s.line),
                status: obs.status.as_ref().map(|s| s.raw.clone()),
                replica: gate.and_then(|g| g.replica.as_deref().map(str::to_string)),
                blocked: gate.and_then(|g| g.blocked.map(|r| r.as_str())),
                own_bases,
            }
        })
        .collect();
    let mut out = output::stdout();
    let written = if args.json {
        serde_json::to_writer_pretty(
            &mut out,
            &Explained {
                key: &args.key,
                decisions,
                bases: bases
                    .iter()
                    .filter(|b| b.key == args.key)
                    .map(BaseView::from)
                    .collect(),
                readings,
            },
        )
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
    } else {
        (|| -> std::io::Result<()> {
            let (key, dim) = (paint(KEY), paint(DIM));
            writeln!(out, "{key}{}{key:#}", args.key)?;
            let mut paths = output::PathDisplay::new(ws);
            for obs in &observations {
                writeln!(
                    out,
                    "  {}: {}  {dim}{}:{}{dim:#}",
                    obs.source,
                    super::scan::status_text(obs),
                    paths.show(&obs.repo, &obs.path),
                    obs.status.as_ref().map_or(obs.line, |s| s.line)
                )?;
            }
            for r in &readings {
                let Some(replica) = &r.replica else { continue };
                let agreed: Vec<String> = r
                    .own_bases
                    .iter()
                    .map(|(rule, own)| {
                        format!("{} under {rule}", own.as_deref().unwrap_or("nothing yet"))
                    })
                    .collect();
                writeln!(
                    out,
                    "  {} is read in replica {replica} of {}{}; it last agreed on {}",
                    r.source,
                    r.repo,
                    r.blocked
                        .map_or(String::new(), |b| format!(" ({b}: not written now)")),
                    agreed.join(", ")
                )?;
            }
            if let Some(note) = readings
                .iter()
                .find_map(|r| own_bases.notes.get(&r.repo).map(|n| (r, n)))
            {
                writeln!(out, "  {dim}repo {}: {}{dim:#}", note.0.repo, note.1)?;
            }
            if decisions.is_empty() {
                writeln!(
                    out,
                    "  no [[sync]] rule covers its sources: nothing is decided"
                )?;
            }
            for d in &decisions {
                let rule = ws.rules.iter().find(|r| r.name == d.rule);
                let mode = match rule.map(|r| &r.mode) {
                    Some(Mode::Mirror { truth }) => format!("mirror from {truth}"),
                    Some(Mode::Merge {
                        reopen: Reopen::Block,
                    }) => "merge, reopens held back".into(),
                    Some(Mode::Merge {
                        reopen: Reopen::Allow,
                    }) => "merge, reopens allowed".into(),
                    Some(Mode::Owned { .. }) => "owned".into(),
                    None => "?".into(),
                };
                writeln!(out, "  rule {} ({mode})", d.rule)?;
                match bases
                    .iter()
                    .find(|b| b.rule == d.rule && b.key == args.key && b.field == "status")
                {
                    Some(base) => writeln!(
                        out,
                        "    base: {} (agreed {}, version {}; each replica also keeps what it last agreed on)",
                        base.value.as_deref().unwrap_or("(none)"),
                        base.agreed_at,
                        base.version
                    )?,
                    None => writeln!(
                        out,
                        "    base: none yet (first sync: the highest rank wins)"
                    )?,
                }
                if rule.is_some_and(|r| r.sources.iter().any(|s| s == HUB_SOURCE)) {
                    writeln!(out, "    the hub is a source of this rule")?;
                }
                writeln!(
                    out,
                    "    decision: {} — {}",
                    d.reason.as_str(),
                    d.explanation
                )?;
                for c in &d.changes {
                    writeln!(
                        out,
                        "    change: {} {} -> {} ({})",
                        c.source,
                        c.from.as_ref().map_or("(none)", |v| v.status.as_str()),
                        c.to.status,
                        c.reason.as_str()
                    )?;
                }
                for h in &d.holds {
                    writeln!(
                        out,
                        "    held: {} {}: {}",
                        h.source,
                        h.reason.as_str(),
                        h.detail
                    )?;
                }
            }
            Ok(())
        })()
    };
    output::finish(written.and_then(|()| out.flush()));
    Ok(Outcome::Clean)
}
