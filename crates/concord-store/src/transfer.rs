//! Bulk work: upserting a run's observations, and the lossless JSONL
//! export and import of a whole hub.

use crate::bulk::BulkInsert;
use crate::records::*;
use crate::store::{
    JOURNAL_SELECT, Pool, RELEASE_STEP_SELECT, Store, journal_from, on_pool, release_step_from,
    watermark_from,
};
use crate::{Result, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use std::collections::BTreeSet;
use std::io::{BufRead, Write};

/// The current time as RFC 3339 UTC text with microseconds, as the hub stores times.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

/// Rows per multi-row INSERT: 11 columns x 100 stays far below SQLite's
/// 32,766 bound parameters and amortises statement overhead.
const SQLITE_BATCH: usize = 100;

const OBSERVATION_COLUMNS: &str =
    "(source, item_key, run_id, status, raw_status, repo, path, line, observed_at, owner, pinned)";

const OBSERVATION_UPDATE: &str = " ON CONFLICT (item_key, source) DO UPDATE SET \
     run_id = excluded.run_id, status = excluded.status, raw_status = excluded.raw_status, \
     repo = excluded.repo, path = excluded.path, line = excluded.line, \
     observed_at = excluded.observed_at, owner = excluded.owner, pinned = excluded.pinned";

/// A multi-row upsert with anonymous `?` placeholders: SQLite looks up a
/// numbered or named parameter by scanning a list, which is quadratic in a
/// statement with hundreds of them.
fn observation_insert_sql(rows: usize) -> String {
    let mut sql = format!("INSERT INTO observations {OBSERVATION_COLUMNS} VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    }
    sql.push_str(OBSERVATION_UPDATE);
    sql
}

pub(crate) async fn upsert_observations_sqlite(
    pool: &SqlitePool,
    rows: &[ObservationRecord],
) -> Result<()> {
    let full = observation_insert_sql(SQLITE_BATCH);
    let mut tx = pool.begin().await?;
    for chunk in rows.chunks(SQLITE_BATCH) {
        let partial;
        let sql = if chunk.len() == SQLITE_BATCH {
            &full
        } else {
            partial = observation_insert_sql(chunk.len());
            &partial
        };
        let mut query = sqlx::query(AssertSqlSafe(sql.as_str()));
        for r in chunk {
            query = query
                .bind(&r.source)
                .bind(&r.key)
                .bind(&r.run_id)
                .bind(&r.status)
                .bind(&r.raw_status)
                .bind(&r.repo)
                .bind(&r.path)
                .bind(r.line)
                .bind(&r.observed_at)
                .bind(&r.owner)
                .bind(&r.pinned);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// COPY into a temporary table, then one INSERT .. ON CONFLICT: the bulk
/// path PostgreSQL is built for.
pub(crate) async fn upsert_observations_postgres(
    pool: &PgPool,
    rows: &[ObservationRecord],
) -> Result<()> {
    let mut tx = pool.begin().await?;
    // A batch holds whole sources: when the hub has none of their
    // observations (their first run), every row is new.
    let sources: BTreeSet<&str> = rows.iter().map(|r| r.source.as_str()).collect();
    let any_recorded: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM observations WHERE source = ANY($1))")
            .bind(sources.into_iter().collect::<Vec<_>>())
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(
        "CREATE TEMPORARY TABLE concord_observations_in \
         (LIKE observations INCLUDING DEFAULTS) ON COMMIT DROP",
    )
    .execute(&mut *tx)
    .await?;
    let mut copy = tx
        .copy_in_raw(&format!(
            "COPY concord_observations_in {OBSERVATION_COLUMNS} FROM STDIN"
        ))
        .await?;
    let mut buffer = Vec::with_capacity(1 << 20);
    for r in rows {
        for (i, field) in [
            Some(r.source.as_str()),
            Some(r.key.as_str()),
            Some(r.run_id.as_str()),
            r.status.as_deref(),
            r.raw_status.as_deref(),
            Some(r.repo.as_str()),
            Some(r.path.as_str()),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                buffer.push(b'\t');
            }
            copy_text(&mut buffer, field);
        }
        buffer.push(b'\t');
        buffer.extend_from_slice(r.line.to_string().as_bytes());
        buffer.push(b'\t');
        copy_text(&mut buffer, Some(&r.observed_at));
        buffer.push(b'\t');
        copy_text(&mut buffer, r.owner.as_deref());
        buffer.push(b'\t');
        copy_text(&mut buffer, r.pinned.as_deref());
        buffer.push(b'\n');
        if buffer.len() > (1 << 20) - 4096 {
            copy.send(std::mem::take(&mut buffer)).await?;
            buffer.reserve(1 << 20);
        }
    }
    if !buffer.is_empty() {
        copy.send(buffer).await?;
    }
    copy.finish().await?;
    let insert = format!(
        "INSERT INTO observations {OBSERVATION_COLUMNS} SELECT {cols} FROM concord_observations_in",
        cols = OBSERVATION_COLUMNS.trim_matches(|c| c == '(' || c == ')')
    );
    // New rows go in without ON CONFLICT (see `pg_insert_plainly`); any
    // that exist after all are replaced by the upsert, as always.
    let inserted = !any_recorded
        && crate::bulk::pg_insert_plainly(
            &mut tx,
            rows.len(),
            sqlx::query(AssertSqlSafe(insert.as_str())),
        )
        .await?;
    if !inserted {
        sqlx::query(AssertSqlSafe(format!("{insert}{OBSERVATION_UPDATE}")))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// One field in PostgreSQL's COPY text format.
fn copy_text(out: &mut Vec<u8>, value: Option<&str>) {
    let Some(value) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    for &b in value.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

// ---------------------------------------------------------------- export / import

const EXPORT_FORMAT: &str = "concord-hub-export";
const EXPORT_VERSION: i64 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: i64,
    schema: i64,
}

/// One line of an export after the header.
#[derive(Serialize, Deserialize)]
#[serde(tag = "table", content = "row", rename_all = "snake_case")]
enum Line {
    HubValues(HubValue),
    Bases(Base),
    Watermarks(Watermark),
    Runs(RunRecord),
    Observations(ObservationRecord),
    Journal(JournalEntry),
    PendingWrites(PendingWrite),
    CheckSnapshots(CheckSnapshot),
    Citations(CitationAnswer),
    ReleaseTrains(ReleaseTrain),
    ReleaseSteps(ReleaseStep),
    Replicas(Replica),
    ReplicaBases(ReplicaBase),
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub rows: usize,
}

/// The last line of an export: what proves it whole. `sha256` covers every
/// byte before this line; `tables` counts the rows of each table.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Trailer {
    rows: usize,
    tables: std::collections::BTreeMap<String, usize>,
    sha256: String,
}

#[derive(Serialize, Deserialize)]
struct TrailerLine {
    trailer: Trailer,
}

/// How `import` treats an export without a trailer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportOptions {
    /// Accept an export that carries no trailer (made before exports had
    /// one): its completeness cannot be verified.
    pub unverified: bool,
}

/// Passes bytes through and hashes them.
struct Hashing<'w, W: Write> {
    inner: &'w mut W,
    hasher: sha2::Sha256,
}

impl<W: Write> Write for Hashing<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Line {
    fn table(&self) -> &'static str {
        match self {
            Line::HubValues(_) => "hub_values",
            Line::Bases(_) => "bases",
            Line::Watermarks(_) => "watermarks",
            Line::Runs(_) => "runs",
            Line::Observations(_) => "observations",
            Line::Journal(_) => "journal",
            Line::PendingWrites(_) => "pending_writes",
            Line::CheckSnapshots(_) => "check_snapshots",
            Line::Citations(_) => "citations",
            Line::ReleaseTrains(_) => "release_trains",
            Line::ReleaseSteps(_) => "release_steps",
            Line::Replicas(_) => "replicas",
            Line::ReplicaBases(_) => "replica_bases",
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub rows: usize,
}

impl Store {
    /// Write the whole hub as JSON lines: a header, then every row of every
    /// table in a stable order. Import of the output restores it exactly.
    pub async fn export(&self, out: &mut impl Write) -> Result<ExportSummary> {
        use sha2::Digest;
        let mut hashing = Hashing {
            inner: out,
            hasher: sha2::Sha256::new(),
        };
        let summary = self.export_rows(&mut hashing).await?;
        let Hashing { inner, hasher } = hashing;
        let mut tables = std::collections::BTreeMap::new();
        for (table, count) in summary.1 {
            tables.insert(table.to_string(), count);
        }
        let trailer = TrailerLine {
            trailer: Trailer {
                rows: summary.0.rows,
                tables,
                sha256: hex(&hasher.finalize()),
            },
        };
        write_line(inner, &trailer)?;
        inner.flush()?;
        Ok(summary.0)
    }

    /// The header and every row, counting rows per table.
    async fn export_rows(
        &self,
        out: &mut impl Write,
    ) -> Result<(
        ExportSummary,
        std::collections::BTreeMap<&'static str, usize>,
    )> {
        let header = Header {
            format: EXPORT_FORMAT.into(),
            version: EXPORT_VERSION,
            schema: self.schema_version().await?,
        };
        write_line(out, &header)?;
        let mut summary = ExportSummary::default();
        let mut counts = std::collections::BTreeMap::new();
        let mut write_line = |out: &mut _, line: &Line| {
            *counts.entry(line.table()).or_insert(0) += 1;
            write_line(out, line)
        };
        for value in self.hub_values().await? {
            write_line(out, &Line::HubValues(value))?;
            summary.rows += 1;
        }
        for base in self.all_bases().await? {
            write_line(out, &Line::Bases(base))?;
            summary.rows += 1;
        }
        for mark in self.all_watermarks().await? {
            write_line(out, &Line::Watermarks(mark))?;
            summary.rows += 1;
        }
        for run in self.runs().await? {
            write_line(out, &Line::Runs(run))?;
            summary.rows += 1;
        }
        for obs in self.observations(None).await? {
            write_line(out, &Line::Observations(obs))?;
            summary.rows += 1;
        }
        for entry in self.all_journal().await? {
            write_line(out, &Line::Journal(entry))?;
            summary.rows += 1;
        }
        for write in self.pending_writes().await? {
            write_line(out, &Line::PendingWrites(write))?;
            summary.rows += 1;
        }
        // Oldest first, one at a time: each may carry megabytes of findings.
        for listed in self.check_snapshots().await?.into_iter().rev() {
            if let Some(snapshot) = self.check_snapshot(listed.id).await? {
                write_line(out, &Line::CheckSnapshots(snapshot))?;
                summary.rows += 1;
            }
        }
        for answer in self.citation_answers().await? {
            write_line(out, &Line::Citations(answer))?;
            summary.rows += 1;
        }
        // Trains before their steps (the steps' foreign key), oldest first.
        for train in self.release_trains().await?.into_iter().rev() {
            write_line(out, &Line::ReleaseTrains(train))?;
            summary.rows += 1;
        }
        for step in self.all_release_steps().await? {
            write_line(out, &Line::ReleaseSteps(step))?;
            summary.rows += 1;
        }
        for replica in self.replicas().await? {
            write_line(out, &Line::Replicas(replica))?;
            summary.rows += 1;
        }
        for base in self.all_replica_bases().await? {
            write_line(out, &Line::ReplicaBases(base))?;
            summary.rows += 1;
        }
        Ok((summary, counts))
    }

    /// Restore an export into an empty hub, in one transaction: either every
    /// row lands or none does. The export must end with its trailer.
    pub async fn import(&self, input: impl BufRead) -> Result<ImportSummary> {
        self.import_with(input, ImportOptions::default()).await
    }

    /// [`Store::import`], optionally accepting an export without a trailer.
    /// An export's rows, once its header says it fits this hub and its
    /// trailer (when it has one) proves it whole; nothing is written.
    async fn read_export(&self, input: impl BufRead, options: ImportOptions) -> Result<Vec<Line>> {
        let mut all: Vec<String> = Vec::new();
        for line in input.lines() {
            all.push(line?);
        }
        while all.last().is_some_and(|l| l.trim().is_empty()) {
            all.pop();
        }
        let trailer = take_trailer(&mut all, options)?;
        let mut lines = all.into_iter().map(Ok::<_, std::io::Error>).enumerate();
        let header: Header = match lines.next() {
            Some((_, line)) => serde_json::from_str(&line?)
                .map_err(|e| StoreError::Import(format!("line 1 is not an export header: {e}")))?,
            None => return Err(StoreError::Import("the file is empty".into())),
        };
        if header.format != EXPORT_FORMAT || header.version != EXPORT_VERSION {
            return Err(StoreError::Import(format!(
                "line 1: expected format `{EXPORT_FORMAT}` version {EXPORT_VERSION}, found `{}` version {}",
                header.format, header.version
            )));
        }
        let schema = self.schema_version().await?;
        if header.schema > schema {
            return Err(StoreError::Import(format!(
                "the export is of schema {}, newer than this hub's {schema}",
                header.schema
            )));
        }
        let mut parsed = Vec::new();
        for (index, line) in lines {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let row: Line = serde_json::from_str(&line)
                .map_err(|e| StoreError::Import(format!("line {}: {e}", index + 1)))?;
            parsed.push(row);
        }
        if let Some(TrailerLine { trailer }) = &trailer {
            let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
            for row in &parsed {
                *counts.entry(row.table().to_string()).or_insert(0) += 1;
            }
            if counts != trailer.tables || parsed.len() != trailer.rows {
                let missing: Vec<String> = trailer
                    .tables
                    .iter()
                    .filter(|(t, n)| counts.get(*t) != Some(n))
                    .map(|(t, n)| format!("{t}: {} of {n}", counts.get(t).copied().unwrap_or(0)))
                    .collect();
                return Err(StoreError::Import(format!(
                    "the export is not whole: {} rows of {} ({}); nothing imported",
                    parsed.len(),
                    trailer.rows,
                    missing.join(", ")
                )));
            }
        }
        Ok(parsed)
    }

    pub async fn import_with(
        &self,
        input: impl BufRead,
        options: ImportOptions,
    ) -> Result<ImportSummary> {
        let parsed = self.read_export(input, options).await?;
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            // It replaces the journal: no journaling transaction in between.
            tx.lock_journal().await?;
            for table in [
                "hub_values",
                "bases",
                "watermarks",
                "runs",
                "observations",
                "journal",
                "check_snapshots",
                "citations",
                "release_trains",
                "release_steps",
                "replicas",
                "replica_bases",
            ] {
                let count: i64 =
                    sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                        .fetch_one(&mut *tx)
                        .await?;
                if count > 0 {
                    return Err(StoreError::Import(format!(
                        "the hub is not empty ({table} has {count} rows); import restores into a new hub"
                    )));
                }
            }
            for row in &parsed {
                match row {
                    Line::HubValues(v) => {
                        sqlx::query("INSERT INTO hub_values (item_key, field, value, version, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6)")
                            .bind(&v.key).bind(&v.field).bind(&v.value).bind(v.version).bind(&v.updated_at).bind(&v.updated_by)
                            .execute(&mut *tx).await?;
                    }
                    Line::Bases(b) => {
                        sqlx::query("INSERT INTO bases (rule, item_key, field, value, versions, version, agreed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                            .bind(&b.rule).bind(&b.key).bind(&b.field).bind(&b.value).bind(&b.versions).bind(b.version).bind(&b.agreed_at)
                            .execute(&mut *tx).await?;
                    }
                    Line::Watermarks(w) => {
                        sqlx::query("INSERT INTO watermarks (source, position, updated_at) VALUES ($1, $2, $3)")
                            .bind(&w.source).bind(&w.position).bind(&w.updated_at)
                            .execute(&mut *tx).await?;
                    }
                    Line::Runs(r) => {
                        sqlx::query("INSERT INTO runs (id, command, actor, started_at, finished_at, outcome, summary) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                            .bind(&r.id).bind(&r.command).bind(&r.actor).bind(&r.started_at).bind(&r.finished_at).bind(&r.outcome).bind(&r.summary)
                            .execute(&mut *tx).await?;
                    }
                    Line::Observations(o) => {
                        sqlx::query(AssertSqlSafe(format!("INSERT INTO observations {OBSERVATION_COLUMNS} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")))
                            .bind(&o.source).bind(&o.key).bind(&o.run_id).bind(&o.status).bind(&o.raw_status).bind(&o.repo).bind(&o.path).bind(o.line).bind(&o.observed_at).bind(&o.owner).bind(&o.pinned)
                            .execute(&mut *tx).await?;
                    }
                    Line::PendingWrites(w) => {
                        sqlx::query("INSERT INTO pending_writes (repo, path, sha256, run_id, created_at) VALUES ($1, $2, $3, $4, $5)")
                            .bind(&w.repo).bind(&w.path).bind(&w.sha256).bind(&w.run_id).bind(&w.created_at)
                            .execute(&mut *tx).await?;
                    }
                    Line::CheckSnapshots(c) => {
                        sqlx::query("INSERT INTO check_snapshots (id, taken_at, commit_id, actor, findings, gating, total) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                            .bind(c.id).bind(&c.taken_at).bind(&c.commit_id).bind(&c.actor).bind(&c.findings).bind(c.gating).bind(c.total)
                            .execute(&mut *tx).await?;
                    }
                    Line::Citations(c) => {
                        sqlx::query("INSERT INTO citations (repo, number, found, checked_at) VALUES ($1, $2, $3, $4)")
                            .bind(&c.repo).bind(c.number).bind(c.found).bind(&c.checked_at)
                            .execute(&mut *tx).await?;
                    }
                    Line::ReleaseTrains(t) => {
                        sqlx::query("INSERT INTO release_trains (id, name, created_at, actor, status, frozen, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                            .bind(t.id).bind(&t.name).bind(&t.created_at).bind(&t.actor).bind(&t.status).bind(&t.frozen).bind(t.version).bind(&t.updated_at)
                            .execute(&mut *tx).await?;
                    }
                    Line::ReleaseSteps(s) => {
                        sqlx::query("INSERT INTO release_steps (train_id, seq, step, outcome, at, detail) VALUES ($1, $2, $3, $4, $5, $6)")
                            .bind(s.train_id).bind(s.seq).bind(&s.step).bind(&s.outcome).bind(&s.at).bind(&s.detail)
                            .execute(&mut *tx).await?;
                    }
                    Line::Replicas(r) => {
                        sqlx::query("INSERT INTO replicas (id, repo, location, synced_head, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $6)")
                            .bind(&r.id).bind(&r.repo).bind(&r.location).bind(&r.synced_head).bind(&r.first_seen).bind(&r.last_seen)
                            .execute(&mut *tx).await?;
                    }
                    Line::ReplicaBases(b) => {
                        sqlx::query("INSERT INTO replica_bases (replica, item_key, rule, source, field, value, position, agreed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                            .bind(&b.replica).bind(&b.key).bind(&b.rule).bind(&b.source).bind(&b.field).bind(&b.value).bind(&b.position).bind(&b.agreed_at)
                            .execute(&mut *tx).await?;
                    }
                    Line::Journal(j) => {
                        let artifacts = if j.artifacts.is_empty() {
                            None
                        } else {
                            serde_json::to_string(&j.artifacts).ok()
                        };
                        sqlx::query("INSERT INTO journal (id, at, run_id, actor, item_key, kind, field, from_value, to_value, target, reason, note, event_type, phase, artifacts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)")
                            .bind(j.id).bind(&j.at).bind(&j.run_id).bind(&j.actor).bind(&j.key).bind(j.kind.as_str()).bind(&j.field).bind(&j.from).bind(&j.to).bind(&j.target).bind(&j.reason).bind(&j.note).bind(&j.event_type).bind(&j.phase).bind(artifacts)
                            .execute(&mut *tx).await?;
                    }
                }
            }
            tx.commit().await?;
            Ok::<(), StoreError>(())
        })?;
        if let Pool::Postgres(pool) = &self.pool {
            // Identity and serial columns do not move on explicit ids:
            // continue after the highest.
            for table in ["journal", "check_snapshots", "release_trains"] {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                )))
                .execute(pool)
                .await?;
            }
        }
        Ok(ImportSummary { rows: parsed.len() })
    }

    /// Every base, ordered by rule, key and field.
    pub async fn all_bases(&self) -> Result<Vec<Base>> {
        self.bases_filtered(None).await
    }

    /// The bases of the given items only.
    pub async fn bases_for(&self, keys: &[String]) -> Result<Vec<Base>> {
        self.bases_filtered(Some(keys)).await
    }

    async fn bases_filtered(&self, keys: Option<&[String]>) -> Result<Vec<Base>> {
        type Row = (String, String, String, Option<String>, String, i64, String);
        let rows: Vec<Row> = self
            .bulk_rows(
                "rule, item_key, field, value, versions, version, agreed_at",
                "bases",
                "rule, item_key, field",
                keys,
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(rule, key, field, value, versions, version, agreed_at)| Base {
                    rule,
                    key,
                    field,
                    value,
                    versions,
                    version,
                    agreed_at,
                },
            )
            .collect())
    }

    pub(crate) async fn all_watermarks(&self) -> Result<Vec<Watermark>> {
        const SQL: &str = "SELECT source, position, updated_at FROM watermarks ORDER BY source";
        on_pool!(self, |pool| {
            let rows = sqlx::query(SQL).fetch_all(pool).await?;
            rows.iter().map(watermark_from).collect()
        })
    }

    /// Every release step, by train then seq.
    async fn all_release_steps(&self) -> Result<Vec<ReleaseStep>> {
        let sql = format!("{RELEASE_STEP_SELECT} ORDER BY train_id, seq");
        on_pool!(self, |pool| {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .fetch_all(pool)
                .await?;
            rows.iter().map(release_step_from).collect()
        })
    }

    async fn all_journal(&self) -> Result<Vec<JournalEntry>> {
        let sql = format!("{JOURNAL_SELECT} ORDER BY id");
        on_pool!(self, |pool| {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .fetch_all(pool)
                .await?;
            rows.iter().map(journal_from).collect()
        })
    }
}

/// Take the trailer off `lines` (an export read into memory) and check the
/// checksum of everything before it. No trailer: refused, unless
/// `options.unverified`.
fn take_trailer(lines: &mut Vec<String>, options: ImportOptions) -> Result<Option<TrailerLine>> {
    use sha2::Digest;
    let all = lines;
    let trailer = all
        .last()
        .filter(|l| l.starts_with("{\"trailer\""))
        .map(|l| serde_json::from_str::<TrailerLine>(l))
        .transpose()
        .map_err(|e| StoreError::Import(format!("line {}: not a valid trailer: {e}", all.len())))?;
    match &trailer {
        Some(_) => {
            all.pop();
        }
        None if options.unverified => {}
        None => {
            return Err(StoreError::Import(
                "the export has no trailer, so it cannot be shown to be whole: it was cut \
                     short, or made by a concord from before exports carried one (pass \
                     --unverified to import it anyway, unchecked)"
                    .into(),
            ));
        }
    }
    if let Some(TrailerLine { trailer }) = &trailer {
        let mut hasher = sha2::Sha256::new();
        for line in all.iter() {
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
        }
        if hex(&hasher.finalize()) != trailer.sha256 {
            return Err(StoreError::Import(
                "the export's checksum does not match its trailer: a line was changed, \
                     added or removed; nothing imported"
                    .into(),
            ));
        }
    }
    Ok(trailer)
}

fn write_line(out: &mut impl Write, value: &impl Serialize) -> Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}
