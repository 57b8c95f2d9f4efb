use clap::Parser;

/// Keep the state of work consistent across plans, state files, the hub and trackers.
#[derive(Parser, Debug)]
#[command(name = "concord", version)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
