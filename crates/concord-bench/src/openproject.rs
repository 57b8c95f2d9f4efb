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
    let ci = simulate_ci_after_a_push(&args, &op, &ids, &dir)?;
    println!(
        "CI after a push ({} rows changed): concord sync {:.2} s of its own (checkout {:.2} s, hub restore {:.3} s; {} of {} moved, exit ok: {})",
        ci.changed,
        ci.sync.as_secs_f64(),
        ci.checkout.as_secs_f64(),
        ci.restore.as_secs_f64(),
        ci.moved,
        ci.changed,
        ci.ok
    );
    if args.no_naive {
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(());
    }
    let naive = naive_loop(&args, &op, &ids)?;
    println!("naive GET+PATCH per item:   {:.2} s", naive.as_secs_f64());
    println!(
        "concord vs naive: {:.3}x the time ({:.1}x faster)",
        first.as_secs_f64() / naive.as_secs_f64(),
        naive.as_secs_f64() / first.as_secs_f64()
    );
    println!(
        "CI after a push vs naive: {:.3}x the time",
        ci.sync.as_secs_f64() / naive.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The naive approach, on the same server and latency: put every item
/// back first (without latency), then GET and PATCH each in turn.
fn naive_loop(
    args: &Args,
    op: &FakeOpenProject,
    ids: &[u64],
) -> Result<Duration, Box<dyn std::error::Error>> {
    op.control().set_latency(Duration::ZERO);
    for id in ids {
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
    for id in ids {
        let wp = client.work_package(*id)?;
        client.set_status(*id, wp.lock_version, &href)?;
    }
    Ok(started.elapsed())
}

/// What one simulated CI run after a push measured.
struct CiRun {
    changed: usize,
    moved: usize,
    checkout: Duration,
    restore: Duration,
    sync: Duration,
    ok: bool,
}

/// The example workflow, run locally: the plan lives in a git remote; a
/// runner starts from a fresh checkout, restores the hub its previous run
/// saved (the Actions cache), runs `concord sync --strict` with the binary
/// already installed, and saves the hub again. One run settles the hub on
/// the runner; then a push changes `CI_CHANGED_ROWS` rows and the next run
/// is timed: concord's own time, apart from the checkout and the restore.
fn simulate_ci_after_a_push(
    args: &Args,
    op: &FakeOpenProject,
    ids: &[u64],
    dir: &std::path::Path,
) -> Result<CiRun, Box<dyn std::error::Error>> {
    const CI_CHANGED_ROWS: usize = 10;
    let git =
        |cwd: &std::path::Path, git_args: &[&str]| -> Result<(), Box<dyn std::error::Error>> {
            let ok = Command::new("git")
                .current_dir(cwd)
                .args([
                    "-c",
                    "user.name=Bench",
                    "-c",
                    "user.email=bench@example.com",
                ])
                .args(git_args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()?
                .success();
            if ok {
                Ok(())
            } else {
                Err(format!("git {git_args:?} failed").into())
            }
        };
    let remote = dir.join("remote.git");
    let developer = dir.join("developer");
    git(
        dir,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            &remote.display().to_string(),
        ],
    )?;
    git(
        dir,
        &[
            "clone",
            "-q",
            &remote.display().to_string(),
            &developer.display().to_string(),
        ],
    )?;
    std::fs::create_dir_all(developer.join("docs"))?;
    std::fs::copy(
        dir.join("plan/docs/plan.md"),
        developer.join("docs/plan.md"),
    )?;
    git(&developer, &["add", "-A"])?;
    git(&developer, &["commit", "-qm", "plan"])?;
    git(&developer, &["push", "-q", "origin", "HEAD:main"])?;
    let cache = dir.join("actions-cache");
    std::fs::create_dir_all(&cache)?;
    // The hub the earlier runs left: the runner's cache starts from it.
    copy_dir(&dir.join(".concord"), &cache.join(".concord"))?;
    let run =
        |n: usize| -> Result<(Duration, Duration, Duration, bool), Box<dyn std::error::Error>> {
            let runner = dir.join(format!("runner-{n}"));
            std::fs::create_dir_all(&runner)?;
            std::fs::copy(dir.join("concord.toml"), runner.join("concord.toml"))?;
            let started = Instant::now();
            git(
                &runner,
                &["clone", "-q", &remote.display().to_string(), "plan"],
            )?;
            let checkout = started.elapsed();
            let started = Instant::now();
            copy_dir(&cache.join(".concord"), &runner.join(".concord"))?;
            let restore = started.elapsed();
            let started = Instant::now();
            let ok = Command::new(&args.concord)
                .current_dir(&runner)
                .env("BENCH_OP_TOKEN", TOKEN)
                .env("NO_COLOR", "1")
                .env_remove("CONCORD_HUB_URL")
                .env_remove("CONCORD_CONFIG")
                .args(["sync", "--strict"])
                .stdout(std::process::Stdio::null())
                .status()?
                .success();
            let sync = started.elapsed();
            let _ = std::fs::remove_dir_all(cache.join(".concord"));
            copy_dir(&runner.join(".concord"), &cache.join(".concord"))?;
            Ok((checkout, restore, sync, ok))
        };
    run(1)?;
    let plan = developer.join("docs/plan.md");
    let text = std::fs::read_to_string(&plan)?;
    let changed: Vec<u64> = ids.iter().take(CI_CHANGED_ROWS).copied().collect();
    let mut edited = text.clone();
    for id in &changed {
        edited = edited.replace(
            &format!("| wp#{id} | **In progress** |"),
            &format!("| wp#{id} | **Closed** |"),
        );
    }
    std::fs::write(&plan, edited)?;
    git(&developer, &["commit", "-qam", "close ten"])?;
    git(&developer, &["push", "-q", "origin", "HEAD:main"])?;
    let (checkout, restore, sync, ok) = run(2)?;
    let moved = changed
        .iter()
        .filter(|id| op.status_of(**id) == "Closed")
        .count();
    Ok(CiRun {
        changed: changed.len(),
        moved,
        checkout,
        restore,
        sync,
        ok,
    })
}

/// `cp -r` of a folder (the hub folder: a few files).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
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
