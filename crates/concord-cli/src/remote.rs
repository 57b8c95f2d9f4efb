//! `--hub https://…`: commands through a `concord serve` instead of a
//! database URL, for machines without database credentials. The server
//! does the work (a sync runs where the checkouts and the hub are); this
//! side sends the request with `CONCORD_HUB_TOKEN` and shows the answer.

use crate::Outcome;
use crate::commands;
use crate::hub::Failure;
// Keys go as one path segment (`/` as %2F), as the server links items.
use concord_serve::page::encode_component as segment;
use concord_trackers::http::{Auth, HttpClient, Response};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// `--hub URL`, on the commands a server can do for this machine only.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct HubArg {
    /// Work through a `concord serve` (https://…) instead of the
    /// workspace's hub. The token comes from CONCORD_HUB_TOKEN.
    #[arg(long, value_name = "URL", env = "CONCORD_HUB")]
    pub hub: Option<String>,
}

/// The token `--hub` sends, from the environment only.
pub const TOKEN_ENV: &str = "CONCORD_HUB_TOKEN";

pub struct Remote {
    client: HttpClient,
    base: String,
}

impl Remote {
    pub fn new(base: &str) -> Result<Remote, Failure> {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Failure::usage(
                format!("--hub `{base}`: expected the URL of a concord serve (https://…)"),
                Some("for a database, set [hub] url or CONCORD_HUB_URL instead".into()),
            ));
        }
        let token = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                Failure::usage(
                    format!("--hub needs a token in ${TOKEN_ENV}"),
                    Some("create one on the server: concord serve token create --name NAME".into()),
                )
            })?;
        let base = base.trim_end_matches('/').to_string();
        let client = HttpClient::new(&base, Auth::Bearer(token))
            .map_err(|e| Failure::usage(format!("--hub `{base}`: {e}"), None))?;
        Ok(Remote { client, base })
    }

    /// One call; the server's error message becomes the failure's.
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), Failure> {
        let response = self
            .client
            .send(method, path, &[], body)
            .map_err(|e| partial(format!("{}: {e}", self.base)))?;
        let value = body_of(&response);
        match response.status {
            200..=299 => Ok((response.status, value)),
            401 | 403 => Err(Failure::usage(
                format!("{}: {}", self.base, message(&value)),
                Some(format!(
                    "check ${TOKEN_ENV}; a read-only token cannot write"
                )),
            )),
            400 | 404 | 422 => Err(Failure::usage(message(&value), None)),
            409 => Ok((409, value)),
            _ => Err(partial(format!(
                "{}: {} {}",
                self.base,
                response.status,
                message(&value)
            ))),
        }
    }
}

impl Remote {
    /// The server's answer as the report type a local run returns.
    fn report<T: serde::de::DeserializeOwned>(&self, answer: Value) -> Result<T, Failure> {
        serde_json::from_value(answer).map_err(|e| {
            partial(format!(
                "{}: an answer this concord cannot read: {e}",
                self.base
            ))
        })
    }
}

fn body_of(response: &Response) -> Value {
    serde_json::from_slice(&response.body).unwrap_or(Value::Null)
}

fn message(value: &Value) -> String {
    value["error"]["message"]
        .as_str()
        .unwrap_or("the server gave no reason")
        .to_string()
}

fn partial(message: String) -> Failure {
    Failure {
        message,
        help: None,
        outcome: Outcome::PartialFailure,
    }
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

pub fn sync(remote: &Remote, args: &commands::sync::Args) -> Result<Outcome, Failure> {
    if args.dry_run || args.confirm || args.no_writeback || args.pull || args.push || args.strict {
        return Err(Failure::usage(
            "through --hub, sync takes only --only, --rule, --full and --json",
            Some("the server's own flags (concord serve --pull --push) decide the rest".into()),
        ));
    }
    let mut body = json!({"full": args.full});
    if let Some(only) = &args.only {
        body["source"] = json!(only);
    }
    if let Some(rule) = &args.rule {
        body["rule"] = json!(rule);
    }
    let (_, started) = remote.call("POST", "/api/v1/sync", Some(&body))?;
    let Some(id) = started["run_id"].as_str() else {
        return Err(partial(
            "the server did not say which run it started".into(),
        ));
    };
    if !args.json && !crate::output::quiet() {
        eprintln!(
            "run {id} {} on {}",
            started["state"].as_str().unwrap_or("queued"),
            remote.base
        );
    }
    let deadline = Instant::now() + Duration::from_secs(60 * 60);
    let job = loop {
        let (_, job) = remote.call("GET", &format!("/api/v1/jobs/{}", segment(id)), None)?;
        if job["state"] == "finished" {
            break job;
        }
        if Instant::now() > deadline {
            return Err(partial(format!("run {id} has not finished after an hour")));
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    if args.json {
        print_json(&job["output"]);
    } else {
        let output = &job["output"];
        let applied = output["applied"].as_array().map_or(0, Vec::len);
        println!(
            "run {id}: {} ({applied} applied, {} ms)",
            job["outcome"].as_str().unwrap_or("unknown"),
            job["duration_ms"].as_u64().unwrap_or(0)
        );
        if let Some(errors) = job["errors"].as_str() {
            eprintln!("{errors}");
        }
    }
    Ok(match job["exit_code"].as_i64() {
        Some(0) => Outcome::Clean,
        Some(1) => Outcome::Findings,
        Some(2) => Outcome::ConfigError,
        _ => Outcome::PartialFailure,
    })
}

pub fn set(remote: &Remote, args: &commands::set::Args) -> Result<Outcome, Failure> {
    let mut body = json!({"status": args.status, "force": args.force});
    if let Some(note) = &args.note {
        body["note"] = json!(note);
    }
    let (_, answer) = remote.call(
        "PUT",
        &format!("/api/v1/items/{}/status", segment(&args.key)),
        Some(&body),
    )?;
    commands::set::print(args, &remote.report(answer)?);
    Ok(Outcome::Clean)
}

pub fn log(remote: &Remote, args: &commands::log::Args) -> Result<Outcome, Failure> {
    let mut body = json!({"event_type": args.event_type, "artifacts": args.artifacts});
    if let Some(phase) = &args.phase {
        body["phase"] = json!(phase);
    }
    if let Some(summary) = &args.summary {
        body["summary"] = json!(summary);
    }
    let (_, answer) = remote.call(
        "POST",
        &format!("/api/v1/items/{}/events", segment(&args.key)),
        Some(&body),
    )?;
    commands::log::print(args, &remote.report(answer)?);
    Ok(Outcome::Clean)
}

pub fn history(remote: &Remote, args: &commands::history::Args) -> Result<Outcome, Failure> {
    let (_, answer) = remote.call(
        "GET",
        &format!("/api/v1/items/{}/history", segment(&args.key)),
        None,
    )?;
    commands::history::print(args, &remote.report(answer)?);
    Ok(Outcome::Clean)
}

pub fn explain(remote: &Remote, args: &commands::explain::Args) -> Result<Outcome, Failure> {
    let (_, answer) = remote.call(
        "GET",
        &format!("/api/v1/items/{}/explain", segment(&args.key)),
        None,
    )?;
    commands::explain::print_json(&remote.report(answer)?);
    Ok(Outcome::Clean)
}

/// The same report, and so the same bytes, as `concord summary` on the
/// server's machine.
pub fn summary(remote: &Remote, args: &commands::summary::Args) -> Result<Outcome, Failure> {
    let path = format!("/api/v1/summary?events={}", args.events.max(0));
    let (_, answer) = remote.call("GET", &path, None)?;
    let summary: concord_app::summary::Summary = remote.report(answer)?;
    commands::summary::print(args, &summary);
    Ok(Outcome::Clean)
}
