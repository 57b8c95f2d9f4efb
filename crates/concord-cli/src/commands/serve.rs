//! `concord serve`: the hub over HTTP (see the `concord-serve` crate), and
//! `concord serve token create|list|revoke` for its API tokens.

use crate::Outcome;
use crate::hub::{self, Failure};
use concord_serve::Scheduled;
use concord_serve::jobs::JobKind;
use concord_serve::schedule::{Schedule, SystemClock};
use concord_workspace::Workspace;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<TokenCommand>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7700")]
    bind: SocketAddr,
    /// Serve read endpoints and the page without a token (writes still need one).
    #[arg(long)]
    public_read: bool,
    /// Safety-net sync: an interval ("15m", "1h") or a cron expression ("*/10 * * * *"), UTC.
    #[arg(long, default_value = "1h", value_name = "SCHEDULE")]
    sync_every: String,
    /// Mirror runs (when the workspace has [[mirror]] rules).
    #[arg(long, default_value = "1h", value_name = "SCHEDULE")]
    mirror_every: String,
    /// Check snapshots.
    #[arg(long, default_value = "1h", value_name = "SCHEDULE")]
    check_every: String,
    /// A sync of one [[sync]] rule on its own schedule, e.g. `--rule-every
    /// tasks-and-issues=10m` (repeatable; the workspace-wide sync still runs).
    #[arg(long = "rule-every", value_name = "RULE=SCHEDULE")]
    rule_every: Vec<String>,
    /// Run nothing on a schedule (webhooks and the API only).
    #[arg(long)]
    no_schedule: bool,
    /// Syncs fast-forward repos behind their upstream first (`sync --pull`).
    #[arg(long)]
    pull: bool,
    /// Syncs push what they commit (`sync --push`).
    #[arg(long)]
    push: bool,
    /// Largest request body accepted, in bytes (larger: 413).
    #[arg(long, default_value_t = 1 << 20)]
    max_body: usize,
}

#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Manage API tokens: create (shown once, stored as a hash), list, revoke.
    #[command(subcommand)]
    Token(Token),
}

#[derive(clap::Subcommand, Debug)]
pub enum Token {
    /// Create a token and print it once.
    Create {
        #[arg(long)]
        name: String,
        /// The token may read but not write.
        #[arg(long)]
        read_only: bool,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by name.
    Revoke { name: String },
}

pub fn run(ws: Workspace, args: &Args) -> Result<Outcome, Failure> {
    match &args.command {
        Some(TokenCommand::Token(token)) => run_token(&ws, token),
        None => serve(ws, args),
    }
}

fn run_token(ws: &Workspace, command: &Token) -> Result<Outcome, Failure> {
    match command {
        Token::Create { name, read_only } => {
            if name.trim().is_empty() || name.chars().any(char::is_control) {
                return Err(Failure::usage("a token needs a name", None));
            }
            let new = concord_serve::auth::generate_token()
                .map_err(|e| Failure::usage(format!("cannot make a token: {e}"), None))?;
            let token = concord_store::ApiToken {
                name: name.clone(),
                hash: new.hash.clone(),
                read_only: *read_only,
                created_at: concord_store::now_rfc3339(),
                revoked_at: None,
            };
            hub::with_store(ws, async |store| store.create_api_token(&token).await)
                .map_err(|f| Failure::usage(f.message, f.help))?;
            eprintln!(
                "token `{name}` created ({}); it is shown once, keep it now:",
                if *read_only {
                    "read-only"
                } else {
                    "read and write"
                }
            );
            println!("{}", new.secret);
            Ok(Outcome::Clean)
        }
        Token::List { json } => {
            let tokens = hub::with_store(ws, async |store| store.api_tokens().await)?;
            if *json {
                println!("{}", serde_json::json!({ "tokens": tokens }));
            } else if tokens.is_empty() {
                println!("no tokens; create one with `concord serve token create --name NAME`");
            } else {
                for t in &tokens {
                    println!(
                        "{}  {}  created {}{}",
                        t.name,
                        if t.read_only {
                            "read-only "
                        } else {
                            "read-write"
                        },
                        t.created_at,
                        t.revoked_at
                            .as_deref()
                            .map_or(String::new(), |at| format!("  revoked {at}"))
                    );
                }
            }
            Ok(Outcome::Clean)
        }
        Token::Revoke { name } => {
            let at = concord_store::now_rfc3339();
            let revoked =
                hub::with_store(ws, async |store| store.revoke_api_token(name, &at).await)?;
            if revoked {
                println!("token `{name}` revoked");
                Ok(Outcome::Clean)
            } else {
                Err(Failure::usage(
                    format!("no live token named `{name}`"),
                    Some("`concord serve token list` shows them".into()),
                ))
            }
        }
    }
}

fn schedule_of(flag: &str, text: &str) -> Result<Schedule, Failure> {
    Schedule::parse(text).map_err(|e| Failure::usage(format!("--{flag} `{text}`: {e}"), None))
}

fn serve(ws: Workspace, args: &Args) -> Result<Outcome, Failure> {
    let mut schedules = Vec::new();
    if !args.no_schedule {
        schedules.push(Scheduled::new(
            JobKind::Sync,
            schedule_of("sync-every", &args.sync_every)?,
        ));
        if !ws.mirrors.is_empty() {
            schedules.push(Scheduled::new(
                JobKind::Mirror,
                schedule_of("mirror-every", &args.mirror_every)?,
            ));
        }
        schedules.push(Scheduled::new(
            JobKind::Check,
            schedule_of("check-every", &args.check_every)?,
        ));
        for entry in &args.rule_every {
            let Some((rule, text)) = entry.split_once('=') else {
                return Err(Failure::usage(
                    format!("--rule-every `{entry}`: expected RULE=SCHEDULE"),
                    Some("e.g. --rule-every tasks-and-issues=10m".into()),
                ));
            };
            if !ws.rules.iter().any(|r| r.name == rule) {
                let names: Vec<&str> = ws.rules.iter().map(|r| r.name.as_str()).collect();
                return Err(Failure::usage(
                    format!("--rule-every names `{rule}`, which is not a [[sync]] rule"),
                    Some(format!("the rules are: {}", names.join(", "))),
                ));
            }
            schedules.push(Scheduled::rule(rule, schedule_of("rule-every", text)?));
        }
    }
    let repo_remotes = ws
        .repos
        .iter()
        .filter_map(|r| {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(&r.root)
                .args(["remote", "get-url", "origin"])
                .output()
                .ok()?;
            out.status.success().then(|| {
                (
                    r.name.clone(),
                    String::from_utf8_lossy(&out.stdout).trim().to_string(),
                )
            })
        })
        .collect();
    let hook_secrets = std::env::vars()
        .filter_map(|(name, value)| {
            let hook = name.strip_prefix("CONCORD_HOOK_SECRET_")?;
            Some((hook.to_ascii_lowercase().replace('_', "-"), value))
        })
        .filter(|(_, secret)| !secret.is_empty())
        .collect();
    let settings = concord_serve::server::Settings {
        workspace: concord_app::summary::workspace_name(&ws),
        public_read: args.public_read,
        github_secret: std::env::var("CONCORD_WEBHOOK_SECRET")
            .ok()
            .filter(|s| !s.is_empty()),
        hook_secrets,
        repo_remotes,
        sources: ws.sources.iter().map(|s| s.name.clone()).collect(),
        rules: ws.rules.iter().map(|r| r.name.clone()).collect(),
        max_body_bytes: args.max_body,
    };
    let ws = Arc::new(ws);
    let options = concord_serve::Options {
        bind: args.bind,
        settings,
        executor: Arc::new(concord_serve::executor::InProcess {
            ws: ws.clone(),
            pull: args.pull,
            push: args.push,
        }),
        job_timeout: Duration::from_secs(30 * 60),
        schedules,
        clock: Arc::new(SystemClock),
        log: !crate::output::quiet(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the async runtime: {e}"), None))?;
    runtime.block_on(async {
        let store = hub::open(&ws).await?;
        let shown = concord_store::redact_url(&ws.hub.url);
        concord_serve::run(
            store,
            ws.clone(),
            options,
            |addr| {
                println!("concord serve: listening on http://{addr} (hub {shown})");
            },
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        )
        .await
        .map_err(|e| Failure::usage(e.to_string(), None))
    })?;
    Ok(Outcome::Clean)
}
