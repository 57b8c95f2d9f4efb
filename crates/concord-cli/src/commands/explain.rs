//! `concord explain KEY`: every source's value, the base, the rule and the
//! decision with its reason.

use crate::Outcome;
use crate::commands::diff::{Planned, plan_workspace};
use crate::hub::Failure;
use crate::output::{self, DIM, KEY, paint};
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
}

#[derive(Serialize)]
struct Explained<'a> {
    key: &'a str,
    decisions: Vec<&'a Decision>,
    bases: Vec<&'a concord_store::Base>,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let Planned {
        report,
        plan,
        bases,
        ..
    } = plan_workspace(
        ws,
        "explain",
        &|_| concord_workspace::Gate::default(),
        &Default::default(),
        &crate::commands::diff::Scope::All,
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
    let mut out = output::stdout();
    let written = if args.json {
        serde_json::to_writer_pretty(
            &mut out,
            &Explained {
                key: &args.key,
                decisions,
                bases: bases.iter().filter(|b| b.key == args.key).collect(),
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
                        "    base: {} (agreed {}, version {})",
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
