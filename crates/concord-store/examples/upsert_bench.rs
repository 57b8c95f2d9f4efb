//! Hub benchmark: upsert 100,000 observations (one run) into SQLite and
//! PostgreSQL, against a reference measured in the same run on the same
//! rows: SQLite, a bare INSERT loop in one transaction through the same
//! driver; PostgreSQL, COPY into a table of the same shape.
//!
//! `cargo run --release -p concord-store --example upsert_bench -- [ROWS]`
//! (PostgreSQL when CONCORD_TEST_DATABASE_URL is set).

use concord_store::{ObservationRecord, Store};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgConnectOptions;
use std::str::FromStr;
use std::time::{Duration, Instant};

const RUNS: usize = 3;

fn rows(n: usize, run: &str) -> Vec<ObservationRecord> {
    (0..n)
        .map(|i| ObservationRecord {
            source: format!("r{:03}-workplans", i % 50),
            key: format!("R{:03}-WP-{:03}-T{:03}", i % 50, (i / 50) % 40, i % 997),
            run_id: run.to_string(),
            status: Some(["todo", "in_progress", "done"][i % 3].to_string()),
            raw_status: Some(["todo", "In progress", "complete"][i % 3].to_string()),
            repo: format!("r{:03}", i % 50),
            path: format!("docs/workplan-{:03}.md", (i / 50) % 40),
            line: (i % 5000) as i64,
            observed_at: "2026-11-24T10:00:00.000000Z".to_string(),
            owner: None,
            pinned: None,
        })
        .collect()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn report(backend: &str, reference: &str, n: usize, ours: Duration, theirs: Duration) {
    println!(
        "{backend}: concord upsert {:.0} rows/s ({:.1} ms), {reference} {:.0} rows/s ({:.1} ms), ratio {:.2}x",
        rate(n, ours),
        ours.as_secs_f64() * 1000.0,
        rate(n, theirs),
        theirs.as_secs_f64() * 1000.0,
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    // Unique keys: the generator above repeats some; make them distinct.
    let mut data = rows(n, "run-1");
    for (i, r) in data.iter_mut().enumerate() {
        r.key = format!("{}-{i}", r.key);
    }

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let dir = tempfile::tempdir()?;
        let store = Store::open("sqlite://hub.db", dir.path()).await?;
        let start = Instant::now();
        store.record_observations(&data).await?;
        ours.push(start.elapsed());
        store.close().await;

        let pool = sqlx::SqlitePool::connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(dir.path().join("ref.db"))
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal),
        )
        .await?;
        sqlx::raw_sql(REFERENCE_TABLE).execute(&pool).await?;
        let start = Instant::now();
        let mut tx = pool.begin().await?;
        for r in &data {
            sqlx::query(REFERENCE_INSERT)
                .bind(&r.source)
                .bind(&r.key)
                .bind(&r.run_id)
                .bind(&r.status)
                .bind(&r.raw_status)
                .bind(&r.repo)
                .bind(&r.path)
                .bind(r.line)
                .bind(&r.observed_at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        theirs.push(start.elapsed());
        pool.close().await;
    }
    report(
        "sqlite",
        "bare INSERT loop",
        n,
        median(ours),
        median(theirs),
    );

    let Ok(url) = std::env::var("CONCORD_TEST_DATABASE_URL") else {
        println!("postgres: skipped (CONCORD_TEST_DATABASE_URL not set)");
        return Ok(());
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let schema = format!("concord_bench_{}_{run}", std::process::id());
        let admin = sqlx::PgPool::connect(&url).await?;
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await?;
        let options = PgConnectOptions::from_str(&url)?.options([("search_path", schema.as_str())]);
        let store = Store::connect_postgres(options.clone(), &url).await?;
        store.migrate().await?;
        let start = Instant::now();
        store.record_observations(&data).await?;
        ours.push(start.elapsed());
        store.close().await;

        let pool = sqlx::PgPool::connect_with(options).await?;
        sqlx::raw_sql(REFERENCE_TABLE).execute(&pool).await?;
        let mut text = Vec::with_capacity(n * 120);
        for r in &data {
            use std::io::Write;
            writeln!(
                text,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                r.source,
                r.key,
                r.run_id,
                r.status.as_deref().unwrap_or("\\N"),
                r.raw_status.as_deref().unwrap_or("\\N"),
                r.repo,
                r.path,
                r.line,
                r.observed_at
            )?;
        }
        let start = Instant::now();
        let mut conn = pool.acquire().await?;
        let mut copy = conn.copy_in_raw("COPY observations_ref FROM STDIN").await?;
        copy.send(text).await?;
        copy.finish().await?;
        theirs.push(start.elapsed());
        drop(conn);
        pool.close().await;
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await?;
        admin.close().await;
    }
    report("postgres", "COPY", n, median(ours), median(theirs));
    Ok(())
}

const REFERENCE_TABLE: &str = "CREATE TABLE observations_ref (source TEXT NOT NULL, \
     item_key TEXT NOT NULL, run_id TEXT NOT NULL, status TEXT, raw_status TEXT, \
     repo TEXT NOT NULL, path TEXT NOT NULL, line BIGINT NOT NULL, observed_at TEXT NOT NULL, \
     PRIMARY KEY (source, item_key))";

const REFERENCE_INSERT: &str =
    "INSERT INTO observations_ref VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
