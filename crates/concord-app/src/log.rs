//! `log KEY --event TYPE`: append an event to the item's journal, and to
//! its in-repo log file when the source configures one
//! (`log_file = ".claude/logs/{key}.log.json"`), keeping every earlier byte.

use crate::Outcome;
use crate::hub::{self, Failure};
use concord_store::{JournalEntry, JournalKind, Store, now_rfc3339};
use concord_workspace::{Workspace, write_atomic};
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};

/// The event to log, and who logs it.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub key: String,
    /// Event type, e.g. `phase_started`.
    pub event_type: String,
    pub phase: Option<String>,
    /// One-line summary.
    pub summary: Option<String>,
    /// Files the event produced.
    pub artifacts: Vec<String>,
    /// Who the journal and the log file name.
    pub actor: String,
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

/// The shape of [`LogReport`]; it changes when a field changes meaning.
pub const VERSION: u32 = 1;

/// What `log` did: the JSON of `concord log --json` and of
/// `POST /api/v1/items/{key}/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LogReport {
    /// [`VERSION`]: the shape of this report.
    pub version: u32,
    pub key: String,
    pub journal_id: i64,
    /// The in-repo log files that took the event, relative to the workspace.
    pub log_files: Vec<String>,
}

/// Journal the event (on `store`) and append it to the item's log files.
pub fn log(ws: &Workspace, store: &Store, options: &LogOptions) -> Result<LogReport, Failure> {
    hub::block_on(log_async(ws, store, options))?
}

async fn log_async(ws: &Workspace, store: &Store, args: &LogOptions) -> Result<LogReport, Failure> {
    let sources = sources_holding(ws, store, &args.key).await?;
    let actor = args.actor.clone();
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
    Ok(LogReport {
        version: VERSION,
        key: args.key.clone(),
        journal_id,
        log_files: shown,
    })
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
