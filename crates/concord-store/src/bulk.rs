//! Inserting many new rows inside a transaction, the way each backend does
//! it fastest, with the same result: the keys of the rows that landed (an
//! insert is `ON CONFLICT DO NOTHING`, so a row whose key already exists
//! does not come back), or the journal ids in order.
//!
//! SQLite gets multi-row `VALUES` lists ([`crate::batch::ROWS`] rows a
//! statement). PostgreSQL gets one statement per [`PG_ROWS`] rows that
//! reads its rows from arrays (`INSERT .. SELECT FROM unnest($1::text[],
//! ..)`): a `VALUES` list of 400 rows has 2,000 to 5,600 parameters that
//! PostgreSQL parses, plans and binds one by one, which made a first sync
//! on PostgreSQL 1.7x the SQLite one; an array is one parameter.

use crate::Result;
use crate::batch::{ROWS, bind_base, bind_value, tuples};
use crate::records::{Base, JournalEntry, ReplicaBase, ValueChange};
use sqlx::{AssertSqlSafe, Postgres, Sqlite, Transaction};

/// Rows per PostgreSQL statement: large enough that statement overhead
/// vanishes, small enough that the arrays stay a few megabytes.
const PG_ROWS: usize = 10_000;

pub(crate) type ValueKey = (String, String);
pub(crate) type BaseKey = (String, String, String);

/// Inserts of new rows, one implementation per backend.
pub(crate) trait BulkInsert {
    /// New hub values at version 1; the keys that landed.
    async fn insert_values(&mut self, rows: &[&ValueChange]) -> Result<Vec<ValueKey>>;
    /// New bases at version 1; the keys that landed.
    async fn insert_bases(&mut self, rows: &[&(Base, i64)]) -> Result<Vec<BaseKey>>;
    /// Journal entries; their ids, in the entries' order.
    async fn insert_journal(&mut self, entries: &[JournalEntry]) -> Result<Vec<i64>>;
    /// Taken first by every transaction that journals, before it writes
    /// anything: until it commits, no other transaction can take journal
    /// ids. Ids then become visible in their order, so a reader that sees
    /// entry N sees every entry before it. A run plans "with every change up
    /// to entry N" and later looks only past N: an entry that became visible
    /// after a later one was seen would never be planned with.
    async fn lock_journal(&mut self) -> Result<()>;
    /// Replica bases, each replacing the one with its key. A key given
    /// twice ends as the later one, as a run of single upserts would.
    async fn upsert_replica_bases(&mut self, rows: &[ReplicaBase]) -> Result<()>;
    /// Replica bases the caller read none of: as [`Self::upsert_replica_bases`]
    /// (a row that exists after all is replaced), but faster when none does.
    async fn insert_replica_bases(&mut self, rows: &[ReplicaBase]) -> Result<()>;
}

const VALUE_COLUMNS: &str = "item_key, field, value, version, updated_at, updated_by";
const VALUE_CONFLICT: &str = " ON CONFLICT (item_key, field) DO NOTHING RETURNING item_key, field";
/// [`VALUE_CONFLICT`] without reading the keys back.
const VALUE_CONFLICT_QUIET: &str = " ON CONFLICT (item_key, field) DO NOTHING";
const BASE_COLUMNS: &str = "rule, item_key, field, value, versions, version, agreed_at";
const BASE_CONFLICT: &str =
    " ON CONFLICT (rule, item_key, field) DO NOTHING RETURNING rule, item_key, field";
/// [`BASE_CONFLICT`] without reading the keys back.
const BASE_CONFLICT_QUIET: &str = " ON CONFLICT (rule, item_key, field) DO NOTHING";
const JOURNAL_COLUMNS: &str = "at, run_id, actor, item_key, kind, field, from_value, to_value, \
     target, reason, note, event_type, phase, artifacts";
const REPLICA_BASE_COLUMNS: &str =
    "replica, item_key, rule, source, field, value, position, agreed_at";
const REPLICA_BASE_CONFLICT: &str = " ON CONFLICT (replica, item_key, rule, source, field) \
     DO UPDATE SET value = excluded.value, position = excluded.position, \
     agreed_at = excluded.agreed_at";
/// Rows per SQLite replica-base upsert: 8 columns x 400 = 3,200
/// parameters, as many rows as the other inserts take (each statement is a
/// round trip to SQLite's worker thread; it was 100 rows).
const SQLITE_REPLICA_ROWS: usize = 400;

/// A journal entry's artifacts as stored: a JSON array, or nothing.
pub(crate) fn artifacts_json(entry: &JournalEntry) -> Option<String> {
    if entry.artifacts.is_empty() {
        None
    } else {
        serde_json::to_string(&entry.artifacts).ok()
    }
}

/// The later of each key given twice, in the order of their last mention.
fn last_of_each(rows: &[ReplicaBase]) -> Vec<&ReplicaBase> {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<&ReplicaBase> = rows
        .iter()
        .rev()
        .filter(|b| seen.insert((&b.replica, &b.key, &b.rule, &b.source, &b.field)))
        .collect();
    kept.reverse();
    kept
}

impl BulkInsert for Transaction<'_, Sqlite> {
    async fn insert_values(&mut self, rows: &[&ValueChange]) -> Result<Vec<ValueKey>> {
        let mut landed = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(ROWS) {
            let sql = |end: &str| {
                format!(
                    "INSERT INTO hub_values ({VALUE_COLUMNS}) VALUES {}{end}",
                    tuples(chunk.len(), "({}, {}, {}, 1, {}, {})", false)
                )
            };
            let mut quiet = sqlx::query(AssertSqlSafe(sql(VALUE_CONFLICT_QUIET)));
            for c in chunk {
                quiet = bind_value!(quiet, c);
            }
            let returning = || {
                let mut q = sqlx::query_as::<_, ValueKey>(AssertSqlSafe(sql(VALUE_CONFLICT)));
                for c in chunk {
                    q = bind_value!(q, c);
                }
                q
            };
            let all = chunk.iter().map(|c| (c.key.clone(), c.field.clone()));
            landed.extend(sqlite_insert_quietly(self, chunk.len(), quiet, returning, all).await?);
        }
        Ok(landed)
    }

    async fn insert_bases(&mut self, rows: &[&(Base, i64)]) -> Result<Vec<BaseKey>> {
        let mut landed = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(ROWS) {
            let sql = |end: &str| {
                format!(
                    "INSERT INTO bases ({BASE_COLUMNS}) VALUES {}{end}",
                    tuples(chunk.len(), "({}, {}, {}, {}, {}, 1, {})", false)
                )
            };
            let mut quiet = sqlx::query(AssertSqlSafe(sql(BASE_CONFLICT_QUIET)));
            for (b, _) in chunk {
                quiet = bind_base!(quiet, b);
            }
            let returning = || {
                let mut q = sqlx::query_as::<_, BaseKey>(AssertSqlSafe(sql(BASE_CONFLICT)));
                for (b, _) in chunk {
                    q = bind_base!(q, b);
                }
                q
            };
            let all = chunk
                .iter()
                .map(|(b, _)| (b.rule.clone(), b.key.clone(), b.field.clone()));
            landed.extend(sqlite_insert_quietly(self, chunk.len(), quiet, returning, all).await?);
        }
        Ok(landed)
    }

    async fn insert_journal(&mut self, entries: &[JournalEntry]) -> Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(entries.len());
        for chunk in entries.chunks(ROWS) {
            let sql = format!(
                "INSERT INTO journal ({JOURNAL_COLUMNS}) VALUES {}",
                tuples(
                    chunk.len(),
                    "({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                    false
                )
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for e in chunk {
                q = q
                    .bind(&e.at)
                    .bind(&e.run_id)
                    .bind(&e.actor)
                    .bind(&e.key)
                    .bind(e.kind.as_str())
                    .bind(&e.field)
                    .bind(&e.from)
                    .bind(&e.to)
                    .bind(&e.target)
                    .bind(&e.reason)
                    .bind(&e.note)
                    .bind(&e.event_type)
                    .bind(&e.phase)
                    .bind(artifacts_json(e));
            }
            // One statement, inside a write transaction nobody else can
            // write in, numbers its rows one after another (AUTOINCREMENT:
            // each new id is one past the largest ever used), so the ids
            // are the last one's and those before it. Reading them back
            // (RETURNING) cost a row object per entry.
            let done = q.execute(&mut **self).await?;
            let (last, n) = (done.last_insert_rowid(), chunk.len() as i64);
            if done.rows_affected() != chunk.len() as u64 {
                return Err(crate::StoreError::Database(sqlx::Error::Protocol(format!(
                    "{} of {n} journal entries were written",
                    done.rows_affected()
                ))));
            }
            ids.extend(last - n + 1..=last);
        }
        Ok(ids)
    }

    async fn upsert_replica_bases(&mut self, rows: &[ReplicaBase]) -> Result<()> {
        let rows = last_of_each(rows);
        for chunk in rows.chunks(SQLITE_REPLICA_ROWS) {
            let sql = format!(
                "INSERT INTO replica_bases ({REPLICA_BASE_COLUMNS}) VALUES {}{REPLICA_BASE_CONFLICT}",
                tuples(chunk.len(), "({}, {}, {}, {}, {}, {}, {}, {})", false)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for b in chunk {
                q = q
                    .bind(&b.replica)
                    .bind(&b.key)
                    .bind(&b.rule)
                    .bind(&b.source)
                    .bind(&b.field)
                    .bind(&b.value)
                    .bind(&b.position)
                    .bind(&b.agreed_at);
            }
            q.execute(&mut **self).await?;
        }
        Ok(())
    }

    async fn insert_replica_bases(&mut self, rows: &[ReplicaBase]) -> Result<()> {
        // SQLite's upsert of a new row costs what an insert does.
        self.upsert_replica_bases(rows).await
    }

    async fn lock_journal(&mut self) -> Result<()> {
        // SQLite has one writer at a time: a transaction's journal ids are
        // committed before another transaction can write at all.
        Ok(())
    }
}

/// Insert a chunk of `rows` rows on SQLite the cheap way when it can be:
/// first `quiet`, without reading the keys back (a first sync inserts a
/// hundred thousand rows, and each row read back is an object to build and
/// drop), inside a savepoint. When every row landed, the keys are `all`.
/// When some conflicted, the chunk is undone to the savepoint and run again
/// as `returning`, which names the rows that landed. The answer is the
/// same either way, and the transaction holds the write lock from the
/// first try on, so nothing can land in between.
async fn sqlite_insert_quietly<'q, K>(
    tx: &mut Transaction<'_, Sqlite>,
    rows: usize,
    quiet: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>,
    returning: impl FnOnce() -> sqlx::query::QueryAs<'q, Sqlite, K, sqlx::sqlite::SqliteArguments>,
    all: impl Iterator<Item = K>,
) -> Result<Vec<K>>
where
    K: Send + Unpin + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
{
    sqlx::query("SAVEPOINT concord_bulk")
        .execute(&mut **tx)
        .await?;
    let written = quiet.execute(&mut **tx).await?.rows_affected();
    if written != rows as u64 {
        sqlx::query("ROLLBACK TO concord_bulk")
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("RELEASE concord_bulk")
        .execute(&mut **tx)
        .await?;
    if written == rows as u64 {
        Ok(all.collect())
    } else {
        Ok(returning().fetch_all(&mut **tx).await?)
    }
}

/// Insert a chunk of `rows` new rows on PostgreSQL the cheap way when it
/// can be: `plain`, a bare `INSERT`, inside a savepoint. An `ON CONFLICT`
/// clause sends every row down PostgreSQL's speculative insertion path,
/// which cost 40-70% more server time for a first sync's hundred thousand rows
/// whether anything conflicted or not. True when every row landed. When a
/// key exists after all (another run wrote it since this one read: a unique
/// violation), the chunk is undone to the savepoint and the caller runs its
/// `ON CONFLICT` statement instead, in the same row order, so two runs
/// inserting the same keys still wait on each other rather than deadlock.
pub(crate) async fn pg_insert_plainly(
    tx: &mut Transaction<'_, Postgres>,
    rows: usize,
    plain: sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments>,
) -> Result<bool> {
    sqlx::query("SAVEPOINT concord_bulk")
        .execute(&mut **tx)
        .await?;
    let landed = match plain.execute(&mut **tx).await {
        Ok(done) => done.rows_affected() == rows as u64,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => false,
        Err(e) => return Err(e.into()),
    };
    if !landed {
        sqlx::query("ROLLBACK TO concord_bulk")
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("RELEASE concord_bulk")
        .execute(&mut **tx)
        .await?;
    Ok(landed)
}

/// `unnest($1::text[], .., $n::text[]) WITH ORDINALITY AS t(c1, .., cn, n)`.
fn unnest(columns: usize) -> String {
    let arrays: Vec<String> = (1..=columns).map(|i| format!("${i}::text[]")).collect();
    let names: Vec<String> = (1..=columns).map(|i| format!("c{i}")).collect();
    format!(
        "unnest({}) WITH ORDINALITY AS t({}, n)",
        arrays.join(", "),
        names.join(", ")
    )
}

/// Bind each of a chunk's columns, in order, as one array parameter.
macro_rules! bind_columns {
    ($query:expr, $columns:expr) => {{
        let mut query = $query;
        for column in $columns {
            query = query.bind(column);
        }
        query
    }};
}

/// A chunk of new rows, given as its columns: inserted bare when none of
/// them exists ([`pg_insert_plainly`]: then the keys are `all`), or else by
/// `returning`, which skips those that exist and names those that landed.
async fn pg_insert_new<K>(
    tx: &mut Transaction<'_, Postgres>,
    (plain, returning): (&str, &str),
    columns: Vec<Vec<Option<&str>>>,
    all: impl Iterator<Item = K>,
) -> Result<Vec<K>>
where
    K: Send + Unpin + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    let rows = columns.first().map_or(0, Vec::len);
    let bare = bind_columns!(sqlx::query(AssertSqlSafe(plain)), columns.clone());
    if pg_insert_plainly(tx, rows, bare).await? {
        return Ok(all.collect());
    }
    let returning = bind_columns!(sqlx::query_as(AssertSqlSafe(returning)), columns);
    Ok(returning.fetch_all(&mut **tx).await?)
}

/// One text column of a chunk, as an array parameter.
fn column<'r, T>(rows: &'r [T], get: impl Fn(&'r T) -> Option<&'r str>) -> Vec<Option<&'r str>> {
    rows.iter().map(get).collect()
}

impl BulkInsert for Transaction<'_, Postgres> {
    async fn insert_values(&mut self, rows: &[&ValueChange]) -> Result<Vec<ValueKey>> {
        let sql = |end: &str| {
            format!(
                "INSERT INTO hub_values ({VALUE_COLUMNS}) SELECT c1, c2, c3, 1, c4, c5 FROM {} \
                 ORDER BY n{end}",
                unnest(5)
            )
        };
        let (plain, returning) = (sql(""), sql(VALUE_CONFLICT));
        let mut landed = Vec::new();
        for chunk in rows.chunks(PG_ROWS) {
            let columns = vec![
                column(chunk, |c| Some(c.key.as_str())),
                column(chunk, |c| Some(c.field.as_str())),
                column(chunk, |c| c.to.as_deref()),
                column(chunk, |c| Some(c.at.as_str())),
                column(chunk, |c| Some(c.actor.as_str())),
            ];
            let all = chunk.iter().map(|c| (c.key.clone(), c.field.clone()));
            landed.extend(pg_insert_new(self, (&plain, &returning), columns, all).await?);
        }
        Ok(landed)
    }

    async fn insert_bases(&mut self, rows: &[&(Base, i64)]) -> Result<Vec<BaseKey>> {
        let sql = |end: &str| {
            format!(
                "INSERT INTO bases ({BASE_COLUMNS}) SELECT c1, c2, c3, c4, c5, 1, c6 FROM {} \
                 ORDER BY n{end}",
                unnest(6)
            )
        };
        let (plain, returning) = (sql(""), sql(BASE_CONFLICT));
        let mut landed = Vec::new();
        for chunk in rows.chunks(PG_ROWS) {
            let columns = vec![
                column(chunk, |(b, _)| Some(b.rule.as_str())),
                column(chunk, |(b, _)| Some(b.key.as_str())),
                column(chunk, |(b, _)| Some(b.field.as_str())),
                column(chunk, |(b, _)| b.value.as_deref()),
                column(chunk, |(b, _)| Some(b.versions.as_str())),
                column(chunk, |(b, _)| Some(b.agreed_at.as_str())),
            ];
            let all = chunk
                .iter()
                .map(|(b, _)| (b.rule.clone(), b.key.clone(), b.field.clone()));
            landed.extend(pg_insert_new(self, (&plain, &returning), columns, all).await?);
        }
        Ok(landed)
    }

    async fn insert_journal(&mut self, entries: &[JournalEntry]) -> Result<Vec<i64>> {
        let names: Vec<String> = (1..=14).map(|i| format!("c{i}")).collect();
        let sql = format!(
            "INSERT INTO journal ({JOURNAL_COLUMNS}) SELECT {} FROM {} ORDER BY n RETURNING id",
            names.join(", "),
            unnest(14)
        );
        let mut ids = Vec::with_capacity(entries.len());
        for chunk in entries.chunks(PG_ROWS) {
            let artifacts: Vec<Option<String>> = chunk.iter().map(artifacts_json).collect();
            // Rows are numbered in the order the SELECT gives them.
            let mut chunk_ids = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.as_str()))
                .bind(column(chunk, |e| Some(e.at.as_str())))
                .bind(column(chunk, |e| e.run_id.as_deref()))
                .bind(column(chunk, |e| Some(e.actor.as_str())))
                .bind(column(chunk, |e| Some(e.key.as_str())))
                .bind(column(chunk, |e| Some(e.kind.as_str())))
                .bind(column(chunk, |e| e.field.as_deref()))
                .bind(column(chunk, |e| e.from.as_deref()))
                .bind(column(chunk, |e| e.to.as_deref()))
                .bind(column(chunk, |e| e.target.as_deref()))
                .bind(column(chunk, |e| Some(e.reason.as_str())))
                .bind(column(chunk, |e| e.note.as_deref()))
                .bind(column(chunk, |e| e.event_type.as_deref()))
                .bind(column(chunk, |e| e.phase.as_deref()))
                .bind(column(&artifacts, |a| a.as_deref()))
                .fetch_all(&mut **self)
                .await?;
            chunk_ids.sort_unstable();
            ids.extend(chunk_ids);
        }
        Ok(ids)
    }

    async fn upsert_replica_bases(&mut self, rows: &[ReplicaBase]) -> Result<()> {
        pg_replica_bases(self, rows, false).await
    }

    async fn insert_replica_bases(&mut self, rows: &[ReplicaBase]) -> Result<()> {
        pg_replica_bases(self, rows, true).await
    }

    async fn lock_journal(&mut self) -> Result<()> {
        // Without it, a transaction that took ids 1001-3000 could commit
        // after one that took 3001: a reader in between sees 3001 and not
        // the entries before it. Held until commit or rollback.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(JOURNAL_LOCK)
            .execute(&mut **self)
            .await?;
        Ok(())
    }
}

/// The advisory lock every journaling transaction on PostgreSQL holds
/// ([`BulkInsert::lock_journal`]); the migrations take 7212201.
const JOURNAL_LOCK: i64 = 7_212_202;

/// Replica bases on PostgreSQL, each replacing the one with its key; when
/// `new` (the caller read none of them), each chunk is first tried as a
/// bare insert ([`pg_insert_plainly`]).
async fn pg_replica_bases(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[ReplicaBase],
    new: bool,
) -> Result<()> {
    // ON CONFLICT DO UPDATE may not touch a row twice in one statement, nor
    // may a bare insert give a key twice.
    let rows = last_of_each(rows);
    let sql = |end: &str| {
        format!(
            "INSERT INTO replica_bases ({REPLICA_BASE_COLUMNS}) \
             SELECT c1, c2, c3, c4, c5, c6, c7, c8 FROM {} ORDER BY n{end}",
            unnest(8)
        )
    };
    let (plain, upsert) = (sql(""), sql(REPLICA_BASE_CONFLICT));
    for chunk in rows.chunks(PG_ROWS) {
        let columns = vec![
            column(chunk, |b| Some(b.replica.as_str())),
            column(chunk, |b| Some(b.key.as_str())),
            column(chunk, |b| Some(b.rule.as_str())),
            column(chunk, |b| Some(b.source.as_str())),
            column(chunk, |b| Some(b.field.as_str())),
            column(chunk, |b| b.value.as_deref()),
            column(chunk, |b| Some(b.position.as_str())),
            column(chunk, |b| Some(b.agreed_at.as_str())),
        ];
        if new {
            let plain = bind_columns!(sqlx::query(AssertSqlSafe(plain.as_str())), columns.clone());
            if pg_insert_plainly(tx, chunk.len(), plain).await? {
                continue;
            }
        }
        bind_columns!(sqlx::query(AssertSqlSafe(upsert.as_str())), columns)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
