//! The tracker benchmark: a plan of N work packages, all drifted, synced to
//! the fake OpenProject with injected latency per request, next to the
//! naive approach (one GET and one PATCH per item, one after another)
//! measured in the same run.
//!
//! Usage: concord-bench-openproject <path to concord> [--items N] [--latency-ms MS]

use clap::Parser;
use concord_fakes::openproject::FakeOpenProject;
use concord_trackers::openproject::OpenProject;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// The concord binary to time.
    concord: PathBuf,
    #[arg(long, default_value_t = 1000)]
    items: usize,
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
    /// Skip the naive run (quick looks; its figures are then missing).
    #[arg(long)]
    no_naive: bool,
}

const TOKEN: &str = "bench-token";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = Args::parse();
    args.concord = std::fs::canonicalize(&args.concord)?;
    let op = FakeOpenProject::start(TOKEN)?;
    for status in ["New", "In progress", "Closed"] {
        op.add_status(status, status == "Closed");
    }
    op.add_project("bench");
    let ids: Vec<u64> = (0..args.items)
        .map(|i| op.add_work_package("bench", &format!("Item {i}"), "New"))
        .collect();

    let dir = tempfile_dir()?;
    std::fs::create_dir_all(dir.join("plan/docs"))?;
    let mut table = String::from("| Track | Work package | Status |\n|---|---|---|\n");
    for id in &ids {
        table.push_str(&format!("| Bench | wp#{id} | **In progress** |\n"));
    }
    std::fs::write(dir.join("plan/docs/plan.md"), table)?;
    std::fs::write(
        dir.join("concord.toml"),
        format!(
            r#"
[[repo]]
name = "plan"
path = "plan"

[[workflow]]
name = "wp"
statuses = [{{ name = "New", rank = 0 }}, {{ name = "In progress", rank = 1 }}, {{ name = "Closed", rank = 2 }}]

[[source]]
name = "plan"
repo = "plan"
format = "table"
glob = "docs/plan.md"
header = "| Track | Work package | Status |"
key_column = "Work package"
key_regex = 'wp#(\d+)'
key = "wp#{{1}}"
status = "Status"
workflow = "wp"

[[tracker]]
name = "openproject"
kind = "openproject"
url = "{}"
token_env = "BENCH_OP_TOKEN"
workflow = "wp"

[[sync]]
mode = "mirror"
from = "plan"
to = ["openproject"]
"#,
            op.url()
        ),
    )?;
    op.control()
        .set_latency(Duration::from_millis(args.latency_ms));

    let sync = || -> Result<(Duration, bool), Box<dyn std::error::Error>> {
        let started = Instant::now();
        let status = Command::new(&args.concord)
            .current_dir(&dir)
            .env("BENCH_OP_TOKEN", TOKEN)
            .env("NO_COLOR", "1")
            .env_remove("CONCORD_HUB_URL")
            .env_remove("CONCORD_CONFIG")
            .env(
                "CONCORD_TIMINGS",
                std::env::var("CONCORD_TIMINGS").unwrap_or_default(),
            )
            .args(["sync"])
            .stdout(std::process::Stdio::null())
            .status()?;
        Ok((started.elapsed(), status.success()))
    };
    op.control().clear_log();
    let (first, ok) = sync()?;
    let first_patches = op.control().count("PATCH", "/api/v3/work_packages");
    let first_requests = op.control().requests().len();
    let moved = ids
        .iter()
        .filter(|id| op.status_of(**id) == "In progress")
        .count();
    op.control().clear_log();
    let (second, ok2) = sync()?;
    let second_patches = op.control().count("PATCH", "/api/v3/work_packages");
    let second_requests = op.control().requests().len();

    println!(
        "items: {}, latency per request: {} ms",
        args.items, args.latency_ms
    );
    println!(
        "concord sync, all drifted: {:.2} s ({} of {} moved, {} PATCH, {} requests, exit ok: {ok})",
        first.as_secs_f64(),
        moved,
        args.items,
        first_patches,
        first_requests
    );
    println!(
        "concord sync, second run:  {:.2} s ({} PATCH, {} requests, exit ok: {ok2})",
        second.as_secs_f64(),
        second_patches,
        second_requests
    );
    if args.no_naive {
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(());
    }
    // The naive approach, on the same server and latency: put every item
    // back first (without latency), then GET and PATCH each in turn.
    op.control().set_latency(Duration::ZERO);
    for id in &ids {
        op.edit_externally(*id, "New");
    }
    op.control()
        .set_latency(Duration::from_millis(args.latency_ms));
    let client = OpenProject::new(&op.url(), TOKEN)?;
    let href = client
        .statuses()?
        .into_iter()
        .find(|s| s.name == "In progress")
        .map(|s| s.href)
        .ok_or("no In progress status")?;
    let started = Instant::now();
    for id in &ids {
        let wp = client.work_package(*id)?;
        client.set_status(*id, wp.lock_version, &href)?;
    }
    let naive = started.elapsed();
    println!("naive GET+PATCH per item:   {:.2} s", naive.as_secs_f64());
    println!(
        "concord vs naive: {:.3}x the time ({:.1}x faster)",
        first.as_secs_f64() / naive.as_secs_f64(),
        naive.as_secs_f64() / first.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A fresh folder under the system temp dir (no tempfile dependency).
fn tempfile_dir() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "concord-bench-op-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
