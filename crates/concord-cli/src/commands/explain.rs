//! `concord explain KEY`: every source's value, the base, the rule and the
//! decision with its reason. The use case is `concord_app::explain`; this
//! file parses and renders.

use crate::Outcome;
use crate::hub::Failure;
use crate::output::{self, DIM, KEY, paint};
use concord_app::explain::{ExplainOptions, Explanation, explain};
use concord_engine::{Mode, Reopen};
use concord_workspace::{HUB_SOURCE, Workspace};
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub(crate) remote: crate::remote::HubArg,
    /// The item's key.
    pub(crate) key: String,
    /// Print the decisions as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Do not fetch: judge staleness against the last fetch.
    #[arg(long)]
    pub(crate) no_fetch: bool,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    let explained = explain(
        ws,
        &ExplainOptions {
            key: args.key.clone(),
            no_fetch: args.no_fetch,
        },
    )?;
    if args.json {
        print_json(&explained);
    } else {
        let mut out = output::stdout();
        let written = write_text(ws, &explained, &mut out);
        output::finish(written.and_then(|()| out.flush()));
    }
    Ok(Outcome::Clean)
}

/// The report as `--json` prints it; also for `--hub` (which has no
/// workspace to render text with, so it always prints this).
pub(crate) fn print_json(explained: &Explanation) {
    let mut out = output::stdout();
    let written = serde_json::to_writer_pretty(&mut out, explained)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out));
    output::finish(written.and_then(|()| out.flush()));
}

fn write_text(
    ws: &Workspace,
    explained: &Explanation,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let Explanation {
        key: item,
        decisions,
        bases,
        readings,
        observations,
        note,
        ..
    } = explained;
    let (key, dim) = (paint(KEY), paint(DIM));
    writeln!(out, "{key}{}{key:#}", item)?;
    let mut paths = output::PathDisplay::new(ws);
    for obs in observations.iter() {
        writeln!(
            out,
            "  {}: {}  {dim}{}:{}{dim:#}",
            obs.source,
            super::scan::status_text(obs),
            paths.show(&obs.repo, &obs.path),
            obs.status.as_ref().map_or(obs.line, |s| s.line)
        )?;
    }
    for r in readings.iter() {
        let Some(replica) = &r.replica else { continue };
        let agreed: Vec<String> = r
            .own_bases
            .iter()
            .map(|(rule, own)| format!("{} under {rule}", own.as_deref().unwrap_or("nothing yet")))
            .collect();
        writeln!(
            out,
            "  {} is read in replica {replica} of {}{}; it last agreed on {}",
            r.source,
            r.repo,
            r.blocked
                .as_deref()
                .map_or(String::new(), |b| format!(" ({b}: not written now)")),
            agreed.join(", ")
        )?;
    }
    if let Some((repo, note)) = note {
        writeln!(out, "  {dim}repo {repo}: {note}{dim:#}")?;
    }
    if decisions.is_empty() {
        writeln!(
            out,
            "  no [[sync]] rule covers its sources: nothing is decided"
        )?;
    }
    for d in decisions.iter() {
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
            .find(|b| b.rule == d.rule && b.key == *item && b.field == "status")
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
}
