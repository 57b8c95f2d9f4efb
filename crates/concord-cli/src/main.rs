//! `concord`: argument parsing and wiring. Each command lives in
//! `commands/<name>.rs`; the work itself is done by the library crates.
#![forbid(unsafe_code)]

mod commands;

// A scan makes many small allocations across threads; mimalloc halves their cost.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
mod memory;
mod output;
mod remote;

// The application layer, under the names the commands have always used.
pub use concord_app::Outcome;
use concord_app::{gates, hub, timings};

use clap::{Parser, Subcommand, ValueEnum};
use concord_workspace::{ConfigError, Workspace, find_config};
use std::path::PathBuf;
use std::process::ExitCode;

/// `0.1.0 (3f2c1a9e0b4d 2026-12-06)`: the commit and the day of the build.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("CONCORD_BUILD_COMMIT"),
    " ",
    env!("CONCORD_BUILD_DATE"),
    ")"
);

/// Keep the state of work consistent across plans, state files, the hub and trackers.
#[derive(Parser, Debug)]
#[command(name = "concord", version = VERSION, max_term_width = 100)]
struct Cli {
    /// Workspace file to use instead of the nearest concord.toml above the current folder.
    #[arg(
        long,
        short = 'c',
        global = true,
        value_name = "PATH",
        env = "CONCORD_CONFIG"
    )]
    config: Option<PathBuf>,

    /// When to use colours (NO_COLOR is honoured in `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto)]
    color: ColorWhen,

    /// Print only results and errors: no progress bars, warnings or notes
    /// on standard error (the exit code still tells).
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    quiet: bool,

    /// Say more on standard error: the workspace file used and how long
    /// each phase took (sync also: what each source read, why items were
    /// planned).
    #[arg(long, short, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Find the git repos under some folders, detect their plans and state
    /// files, and write a commented concord.toml for them; needs no workspace.
    Init(commands::init::Args),
    /// Read every source and list its items, with warnings for what could not be read.
    Scan(commands::scan::Args),
    /// Show each item's status in every source side by side, marking disagreements.
    ///
    /// Read-only: it never creates the hub (in a checkout nobody synced yet it
    /// reads an empty one and leaves no `.concord/` behind).
    Status(commands::status::Args),
    /// Change an item's status in the hub, as a person or a remote machine would.
    Set(commands::set::Args),
    /// Show an item's journal: every change and logged event, oldest first.
    ///
    /// Read-only: it never creates the hub (in a checkout nobody synced yet it
    /// reads an empty one and leaves no `.concord/` behind).
    History(commands::history::Args),
    /// Log an event for an item in the journal (and its in-repo log file, if configured).
    Log(commands::log::Args),
    /// Show what a sync would change, and why, without writing anything.
    ///
    /// Read-only: it never creates the hub (in a checkout nobody synced yet it
    /// reads an empty one and leaves no `.concord/` behind).
    Diff(commands::diff::Args),
    /// Apply the plan: write files (one commit per repo), the hub and the journal.
    Sync(commands::sync::Args),
    /// Explain the decision for one item: every source's value, the base, the rule.
    ///
    /// Read-only: it never creates the hub (in a checkout nobody synced yet it
    /// reads an empty one and leaves no `.concord/` behind).
    Explain(commands::explain::Args),
    /// Run the integrity checks: text, JSON or SARIF; exit 1 on a gating finding.
    ///
    /// Only `--snapshot` and an online resolution of citations record in the
    /// hub; otherwise it never creates one.
    Check(commands::check::Args),
    /// Install git hooks that run the checks.
    #[command(subcommand)]
    Hooks(commands::hooks::Command),
    /// Ship a release train across repos: prepare, plan, run, resume, status.
    Ship(commands::ship::Args),
    /// The control room: items by status, drift, findings, last sync, recent events.
    ///
    /// Read-only: it never creates the hub (in a checkout nobody synced yet it
    /// reads an empty one and leaves no `.concord/` behind).
    Summary(commands::summary::Args),
    /// Mirror owned documents from their owner repo into the others.
    Mirror(commands::mirror::Args),
    /// Serve the hub over HTTP: JSON API, webhooks, scheduled syncs, the control room.
    Serve(commands::serve::Args),
    /// Manage the hub: migrate, export, import.
    #[command(subcommand)]
    Hub(commands::hub::Command),
    /// The workspace file: its JSON Schema (for editors) and a check that
    /// reads no source.
    #[command(subcommand)]
    Config(commands::config::Command),
    /// Write man pages (concord.1 and one per command) into a folder,
    /// generated from these same definitions; needs no workspace.
    Manpages {
        /// The folder, e.g. `concord manpages ~/.local/share/man/man1`.
        dir: PathBuf,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish),
    /// generated from these same definitions; needs no workspace.
    Completions {
        /// The shell, e.g. `concord completions bash > ~/.local/share/bash-completion/completions/concord`.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    timings::begin(cli.verbose);
    output::init_verbosity(cli.quiet, cli.verbose);
    let color = match cli.color {
        ColorWhen::Auto => None,
        ColorWhen::Always => Some(true),
        ColorWhen::Never => Some(false),
    };
    output::init_color(color);
    // Unwrapped messages keep `file:line:column` greppable on one line.
    let _ = miette::set_hook(Box::new(move |_| {
        let mut opts = miette::MietteHandlerOpts::new().wrap_lines(false);
        if let Some(color) = color {
            opts = opts.color(color);
        }
        Box::new(opts.build())
    }));
    let outcome = match run(cli) {
        Ok(outcome) => outcome,
        Err(CliError::Config(error)) => {
            eprintln!("{:?}", miette::Report::new(*error));
            Outcome::ConfigError
        }
        Err(CliError::Failure(failure)) => {
            let outcome = failure.outcome;
            eprintln!("{:?}", miette::Report::new(failure));
            outcome
        }
    };
    ExitCode::from(outcome as u8)
}

enum CliError {
    Config(Box<ConfigError>),
    Failure(hub::Failure),
}

impl From<Box<ConfigError>> for CliError {
    fn from(error: Box<ConfigError>) -> Self {
        CliError::Config(error)
    }
}

impl From<hub::Failure> for CliError {
    fn from(failure: hub::Failure) -> Self {
        CliError::Failure(failure)
    }
}

fn run(cli: Cli) -> Result<Outcome, CliError> {
    if let Command::Completions { shell } = cli.command {
        let mut command = <Cli as clap::CommandFactory>::command();
        let mut out = output::stdout();
        clap_complete::generate(shell, &mut command, "concord", &mut out);
        output::finish(std::io::Write::flush(&mut out));
        return Ok(Outcome::Clean);
    }
    if let Command::Init(args) = &cli.command {
        return Ok(commands::init::run(args)?);
    }
    if let Command::Manpages { dir } = &cli.command {
        return Ok(commands::manpages::write(
            <Cli as clap::CommandFactory>::command(),
            dir,
        )?);
    }
    if let Command::Config(commands::config::Command::Schema) = cli.command {
        return Ok(commands::config::print_schema());
    }
    if let Some(url) = cli.command.hub_url() {
        return Ok(run_remote(url, &cli.command)?);
    }
    if let Some(url) = std::env::var("CONCORD_HUB").ok().filter(|u| !u.is_empty())
        && cli.command.uses_hub()
    {
        return Ok(run_remote(&url, &cli.command)?);
    }
    let mut workspace = load_workspace(cli.config)?;
    workspace.hub.create_if_missing = cli.command.records(&workspace);
    if output::verbose() {
        eprintln!("workspace: {}", workspace.config_path.display());
    }
    let outcome = match cli.command {
        Command::Scan(args) => commands::scan::run(&workspace, &args)?,
        Command::Status(args) => commands::status::run(&workspace, &args)?,
        Command::Set(args) => commands::set::run(&workspace, &args)?,
        Command::History(args) => commands::history::run(&workspace, &args)?,
        Command::Log(args) => commands::log::run(&workspace, &args)?,
        Command::Hub(command) => commands::hub::run(&workspace, &command)?,
        Command::Diff(args) => commands::diff::run(&workspace, &args)?,
        Command::Sync(args) => commands::sync::run(&workspace, &args)?,
        Command::Explain(args) => commands::explain::run(&workspace, &args)?,
        Command::Check(args) => commands::check::run(&workspace, &args)?,
        Command::Hooks(command) => commands::hooks::run(&workspace, &command)?,
        Command::Ship(args) => commands::ship::run(&workspace, &args)?,
        Command::Summary(args) => commands::summary::run(&workspace, &args)?,
        Command::Mirror(args) => commands::mirror::run(&workspace, &args)?,
        Command::Serve(args) => commands::serve::run(workspace, &args)?,
        Command::Config(commands::config::Command::Check { json }) => {
            commands::config::check(&workspace, json)?
        }
        Command::Config(commands::config::Command::Schema)
        | Command::Completions { .. }
        | Command::Manpages { .. }
        | Command::Init(_) => Outcome::Clean,
    };
    Ok(outcome)
}

impl Command {
    /// `--hub URL` (or CONCORD_HUB) of a command that can work through a server.
    fn hub_url(&self) -> Option<&str> {
        let remote = match self {
            Command::Sync(args) => &args.remote,
            Command::Set(args) => &args.remote,
            Command::Log(args) => &args.remote,
            Command::History(args) => &args.remote,
            Command::Explain(args) => &args.remote,
            Command::Summary(args) => &args.remote,
            _ => return None,
        };
        remote.hub.as_deref()
    }

    /// Whether this command reads or writes the hub at all.
    fn uses_hub(&self) -> bool {
        !matches!(
            self,
            Command::Config(_)
                | Command::Hooks(_)
                | Command::Completions { .. }
                | Command::Manpages { .. }
                | Command::Init(_)
        )
    }

    /// Whether this command records in the hub, so it may create an
    /// embedded hub that does not exist yet. The read-only ones read an
    /// empty hub instead and leave no `.concord/` behind.
    fn records(&self, ws: &Workspace) -> bool {
        match self {
            Command::Status(_)
            | Command::Diff(_)
            | Command::Explain(_)
            | Command::History(_)
            | Command::Summary(_)
            | Command::Config(_) => false,
            Command::Check(args) => args.records(ws),
            _ => true,
        }
    }
}

/// `--hub URL`: the commands a server can do for this machine.
fn run_remote(url: &str, command: &Command) -> Result<Outcome, hub::Failure> {
    let server = remote::Remote::new(url)?;
    match command {
        Command::Sync(args) => remote::sync(&server, args),
        Command::Set(args) => remote::set(&server, args),
        Command::Log(args) => remote::log(&server, args),
        Command::History(args) => remote::history(&server, args),
        Command::Explain(args) => remote::explain(&server, args),
        Command::Summary(args) => remote::summary(&server, args),
        _ => Err(hub::Failure::usage(
            "CONCORD_HUB is set, but this command needs the workspace and its hub; a server serves sync, set, log, history, explain and summary",
            Some("unset CONCORD_HUB to run it here".into()),
        )),
    }
}

fn load_workspace(config: Option<PathBuf>) -> Result<Workspace, Box<ConfigError>> {
    let path = match config {
        Some(path) => path,
        None => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            find_config(&cwd)?
        }
    };
    Ok(Workspace::load(&path)?)
}
