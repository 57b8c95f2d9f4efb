//! `concord log KEY --event TYPE`: append an event to the item's journal,
//! and to its in-repo log file when the source configures one
//! (`log_file = ".claude/logs/{key}.log.json"`), keeping every earlier byte.

use crate::Outcome;
use crate::hub::{self, Failure};
use concord_store::{JournalEntry, JournalKind, Store, now_rfc3339};
use concord_workspace::{Workspace, write_atomic};
use serde::Serialize;
use std::path::{Component, Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The item's key.
    pub(crate) key: String,
    /// Event type, e.g. `phase_started`, `phase_approved`.
    #[arg(long = "event", value_name = "TYPE")]
    pub(crate) event_type: String,
    /// Lifecycle phase the event belongs to.
    #[arg(long)]
    pub(crate) phase: Option<String>,
    /// One-line summary.
    #[arg(long)]
    pub(crate) summary: Option<String>,
    /// A file the event produced (repeatable).
    #[arg(long = "artifact", value_name = "PATH")]
    pub(crate) artifacts: Vec<String>,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The event as it is written into an in-repo log file.
#[derive(Serialize)]
struct LogEvent<'a> {
    timestamp: String,
    event_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    artifacts: &'a [String],
    actor: &'a str,
}

#[derive(Serialize)]
struct Logged<'a> {
    key: &'a str,
    journal_id: i64,
    log_files: Vec<String>,
}

pub fn run(ws: &Workspace, args: &Args) -> Result<Outcome, Failure> {
    hub::block_on(async {
        let store = hub::open(ws).await?;
        let result = log(ws, &store, args).await;
        store.close().await;
        result
    })?
}

async fn log(ws: &Workspace, store: &Store, args: &Args) -> Result<Outcome, Failure> {
    let sources = sources_holding(ws, store, &args.key).await?;
    let actor = hub::actor(ws);
    let at = now_rfc3339();
    let event = LogEvent {
        timestamp: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        event_type: &args.event_type,
        phase: args.phase.as_deref(),
        summary: args.summary.as_deref(),
        artifacts: &args.artifacts,
        actor: &actor,
    };
    let element = serde_json::to_string(&event).map_err(|e| Failure::usage(e.to_string(), None))?;

    // Prepare every file first: one that cannot take the event stops
    // everything before anything (hub or file) is written.
    let mut writes: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for source in &sources {
        let Some(template) = &source.log_file else {
            continue;
        };
        let path = log_path(ws, source, template, &args.key)?;
        let bytes = match std::fs::read(&path) {
            Ok(existing) => concord_formats::json::append_to_array(&existing, "/events", &element)
                .map_err(|e| {
                    Failure::usage(
                        format!("refused to log into {}: {e}", path.display()),
                        Some("the file was left untouched and nothing was journaled".into()),
                    )
                })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_log(&element)?,
            Err(e) => {
                return Err(Failure::usage(
                    format!("cannot read {}: {e}", path.display()),
                    None,
                ));
            }
        };
        if !writes.iter().any(|(p, _)| p == &path) {
            writes.push((path, bytes));
        }
    }

    let shown: Vec<String> = writes
        .iter()
        .map(|(p, _)| p.strip_prefix(&ws.root).unwrap_or(p).display().to_string())
        .collect();
    let entry = JournalEntry {
        id: 0,
        at,
        run_id: Some(hub::new_run_id()),
        actor: actor.clone(),
        key: args.key.clone(),
        kind: JournalKind::Event,
        field: None,
        from: None,
        to: None,
        target: Some(if shown.is_empty() {
            "hub".to_string()
        } else {
            format!("hub, {}", shown.join(", "))
        }),
        reason: "EVENT_LOGGED".into(),
        note: args.summary.clone(),
        event_type: Some(args.event_type.clone()),
        phase: args.phase.clone(),
        artifacts: args.artifacts.clone(),
    };
    let journal_id = store.append_journal(&entry).await?;
    for (path, bytes) in &writes {
        write_atomic(path, bytes).map_err(|e| Failure {
            message: format!(
                "event journaled (#{journal_id}) but {} could not be written: {e}",
                path.display()
            ),
            help: Some("fix the file's folder or permissions; the hub has the event".into()),
            outcome: Outcome::PartialFailure,
        })?;
    }
    if args.json {
        let logged = Logged {
            key: &args.key,
            journal_id,
            log_files: shown,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&logged).unwrap_or_default()
        );
    } else {
        let also = if shown.is_empty() {
            String::new()
        } else {
            format!(", and in {}", shown.join(", "))
        };
        println!(
            "{}: logged {} (journal #{journal_id}){also}",
            args.key, args.event_type
        );
    }
    Ok(Outcome::Clean)
}

/// A new log file holding just this event.
fn new_log(element: &str) -> Result<Vec<u8>, Failure> {
    let value: serde_json::Value =
        serde_json::from_str(element).map_err(|e| Failure::usage(e.to_string(), None))?;
    let mut text = serde_json::to_string_pretty(&serde_json::json!({ "events": [value] }))
        .map_err(|e| Failure::usage(e.to_string(), None))?;
    text.push('\n');
    Ok(text.into_bytes())
}

/// The log file of `key`, refused if the key would lead outside the repo.
fn log_path(
    ws: &Workspace,
    source: &concord_workspace::Source,
    template: &str,
    key: &str,
) -> Result<PathBuf, Failure> {
    let rel = template.replace("{key}", key);
    let escapes = Path::new(&rel)
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes || key.contains(['\\', '\0']) {
        return Err(Failure::usage(
            format!("refused: the key `{key}` makes the log path `{rel}` leave the repo"),
            None,
        ));
    }
    Ok(ws.repo(source).root.join(rel))
}

/// The sources that hold `key`, as last recorded in the hub (read now if
/// the hub has never seen it).
async fn sources_holding<'w>(
    ws: &'w Workspace,
    store: &Store,
    key: &str,
) -> Result<Vec<&'w concord_workspace::Source>, Failure> {
    let observed = hub::observations_of(store, ws, key, "log").await?;
    let sources: Vec<_> = ws
        .sources
        .iter()
        .filter(|s| observed.iter().any(|o| o.source == s.name))
        .collect();
    if sources.is_empty() {
        return Err(Failure::usage(
            format!("no source holds an item `{key}`"),
            Some("check the key with `concord status`".into()),
        ));
    }
    Ok(sources)
}
