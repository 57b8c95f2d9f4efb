//! [`Store`]: one interface, two backends. Each operation is written once
//! with `$N` placeholders (both SQLite and PostgreSQL bind them by number)
//! and run on whichever pool the hub URL chose.

use crate::migrations::{MIGRATIONS, latest};
use crate::records::*;
use crate::{Result, StoreError};
pub use concord_model::redact_url;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
// Every dynamic SQL string here is assembled from constants; values are always bound.
use sqlx::{AssertSqlSafe, Connection, Row};
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The hub. Cheap to clone (pools are shared).
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    url: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Run `$body` with `$pool` bound to the concrete pool: the same code,
/// type-checked once per backend.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// The file of an embedded hub's URL, resolved against `base_dir`.
fn sqlite_path(url: &str, base_dir: &Path) -> Option<std::path::PathBuf> {
    let path = url.strip_prefix("sqlite://")?;
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty()).then(|| base_dir.join(path))
}

/// What a bulk read's extra column must be: one value, or one of several.
#[derive(Clone, Copy)]
pub(crate) enum Also<'a> {
    Is(&'a str),
    In(&'a [String]),
    /// One value that most rows have (`field = 'status'`). SQLite, which
    /// keeps no statistics here, would otherwise search an index on the
    /// column, look each row up and sort them: reading every status at
    /// 100,000 items took 88 ms that way, 50 ms scanning in key order.
    IsMostRows(&'a str),
}

/// Whether anything accepts a connection where `options` point: the Unix
/// socket PostgreSQL's client would use (a `socket` option, or a host that
/// is a folder: `{folder}/.s.PGSQL.{port}`, as sqlx and libpq make it), or
/// else the host and port over TCP. Opened and closed, nothing sent; the
/// error names the place tried.
async fn listening(options: &PgConnectOptions) -> std::result::Result<(), String> {
    let folder = options
        .get_socket()
        .map(|socket| socket.display().to_string())
        .or_else(|| {
            let host = options.get_host();
            host.starts_with('/').then(|| host.to_string())
        });
    let port = options.get_port();
    match folder {
        #[cfg(unix)]
        Some(folder) => {
            let path = format!("{folder}/.s.PGSQL.{port}");
            match tokio::net::UnixStream::connect(&path).await {
                Ok(_) => Ok(()),
                Err(e) => Err(format!("cannot connect to the socket {path}: {e}")),
            }
        }
        #[cfg(not(unix))]
        Some(_) => Ok(()),
        None => {
            let host = options.get_host();
            match tokio::net::TcpStream::connect((host, port)).await {
                Ok(_) => Ok(()),
                Err(e) => Err(format!("cannot connect to {host}:{port}: {e}")),
            }
        }
    }
}

/// A status row as a page holds it: key, value, version.
type StatusRow = (String, Option<String>, i64);

/// Rows per page of [`Store::hub_statuses_paged`].
pub const STATUS_PAGE: usize = 8192;

// A page of status values as one JSON array, from the first key or after
// `$1`. The primary key (item_key, field) gives the order and the start;
// SQLite's unary `+` keeps it from choosing the index by field instead.
const STATUS_PAGE_SQLITE: &str = "SELECT COALESCE(json_group_array(json_array(item_key, value, version)), '[]') \
     FROM (SELECT item_key, value, version FROM hub_values WHERE +field = 'status' \
     ORDER BY item_key LIMIT $1)";
const STATUS_PAGE_AFTER_SQLITE: &str = "SELECT COALESCE(json_group_array(json_array(item_key, value, version)), '[]') \
     FROM (SELECT item_key, value, version FROM hub_values WHERE item_key > $1 AND +field = 'status' \
     ORDER BY item_key LIMIT $2)";
const STATUS_PAGE_POSTGRES: &str = "SELECT COALESCE(json_agg(json_build_array(item_key, value, version) ORDER BY item_key), '[]')::text \
     FROM (SELECT item_key, value, version FROM hub_values WHERE field = 'status' \
     ORDER BY item_key LIMIT $1) AS page";
const STATUS_PAGE_AFTER_POSTGRES: &str = "SELECT COALESCE(json_agg(json_build_array(item_key, value, version) ORDER BY item_key), '[]')::text \
     FROM (SELECT item_key, value, version FROM hub_values WHERE item_key > $1 AND field = 'status' \
     ORDER BY item_key LIMIT $2) AS page";

fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    }
}

impl Store {
    /// Open (and create, for SQLite) the hub at `url`, then bring its schema
    /// up to date. Relative SQLite paths are resolved against `base_dir`.
    pub async fn open(url: &str, base_dir: &Path) -> Result<Self> {
        let store = Self::connect(url, base_dir).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Open the hub for a command that only reads: an embedded hub that does
    /// not exist yet is not created (no `.concord/` appears in a checkout
    /// someone only looked at); an empty in-memory hub stands in for it, so
    /// every read answers "nothing recorded". Anything else opens as usual.
    pub async fn open_existing_or_empty(url: &str, base_dir: &Path) -> Result<Self> {
        match sqlite_path(url, base_dir) {
            Some(path) if !path.exists() => {
                // One connection: each in-memory connection is a database
                // of its own, and every read must see the same (empty) one.
                let options = SqliteConnectOptions::from_str("sqlite::memory:")?;
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await?;
                let store = Self {
                    pool: Pool::Sqlite(pool),
                    url: format!("sqlite://{} (not created yet)", path.display()),
                };
                store.migrate().await?;
                Ok(store)
            }
            _ => Self::open(url, base_dir).await,
        }
    }

    /// Connect without migrating (for `concord hub migrate` and checks).
    pub async fn connect(url: &str, base_dir: &Path) -> Result<Self> {
        let shown = redact_url(url);
        let unavailable = |message: String| StoreError::Unavailable {
            url: shown.clone(),
            message,
        };
        if url.starts_with("sqlite://") {
            let Some(path) = sqlite_path(url, base_dir) else {
                return Err(StoreError::UnsupportedUrl(shown));
            };
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| unavailable(format!("cannot create {}: {e}", parent.display())))?;
            }
            // A file the user made read-only is opened read-only, so every
            // write fails with a clear error instead of changing it anyway.
            let read_only = std::fs::metadata(&path).is_ok_and(|m| m.permissions().readonly());
            let options = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(!read_only)
                .read_only(read_only)
                .journal_mode(SqliteJournalMode::Wal)
                // WAL + NORMAL: a crash loses no committed transaction; only
                // a power cut may lose the last ones.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .map_err(|e| unavailable(e.to_string()))?;
            Ok(Self {
                pool: Pool::Sqlite(pool),
                url: format!("sqlite://{}", path.display()),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options =
                PgConnectOptions::from_str(url).map_err(|e| unavailable(e.to_string()))?;
            Self::connect_postgres(options, &shown).await
        } else {
            Err(StoreError::UnsupportedUrl(shown))
        }
    }

    /// Connect to PostgreSQL with explicit options (tests use a schema each).
    pub async fn connect_postgres(options: PgConnectOptions, shown_url: &str) -> Result<Self> {
        // The pool retries a refused connection until its acquire timeout;
        // one direct attempt first says at once that nobody is listening.
        // Only the socket is tried: a whole PostgreSQL connection (a server
        // process, its startup) cost 6-9 ms, once per hub opening, and a
        // no-op sync opens the hub four times. Any other failure (a wrong
        // password, no such database) the pool reports at once itself.
        let probe = tokio::time::timeout(Duration::from_secs(10), listening(&options)).await;
        let unavailable = |message: String| StoreError::Unavailable {
            url: redact_url(shown_url),
            message,
        };
        match probe {
            Ok(Ok(())) => {}
            Ok(Err(message)) => return Err(unavailable(message)),
            Err(_) => return Err(unavailable("no answer within 10 s".into())),
        }
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Unavailable {
                url: redact_url(shown_url),
                message: e.to_string(),
            })?;
        Ok(Self {
            pool: Pool::Postgres(pool),
            url: redact_url(shown_url),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL with any password redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Run raw SQL. For tests that must reach past the interface (simulate
    /// a newer schema, try to edit the journal); never used by concord itself.
    #[doc(hidden)]
    pub async fn execute_raw_for_tests(&self, sql: &str) -> Result<()> {
        on_pool!(self, |pool| {
            sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }

    /// The schema version the hub is at (0 for a new hub).
    pub async fn schema_version(&self) -> Result<i64> {
        const CREATE: &str = "CREATE TABLE IF NOT EXISTS concord_schema \
             (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)";
        const READ: &str = "SELECT COALESCE(MAX(version), 0) FROM concord_schema";
        on_pool!(self, |pool| {
            sqlx::query(CREATE).execute(pool).await?;
            Ok(sqlx::query_scalar::<_, i64>(READ).fetch_one(pool).await?)
        })
    }

    /// Apply the migrations the hub lacks, each in its own transaction.
    /// Returns how many were applied. Refuses a hub newer than this concord.
    pub async fn migrate(&self) -> Result<usize> {
        let known = latest();
        let found = self.schema_version().await?;
        if found > known {
            return Err(StoreError::NewerSchema {
                url: self.url.clone(),
                found,
                known,
            });
        }
        let mut applied = 0;
        for (version, sqlite_sql, postgres_sql) in MIGRATIONS {
            if *version <= found {
                continue;
            }
            let now = crate::transfer::now_rfc3339();
            // Two processes may migrate at once: the lock serialises them and
            // the version re-check inside makes the loser a no-op.
            let done = match &self.pool {
                Pool::Sqlite(pool) => {
                    let mut conn = pool.acquire().await?;
                    let tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                    apply_if_missing(tx, *version, sqlite_sql, &now).await?
                }
                Pool::Postgres(pool) => {
                    let mut tx = pool.begin().await?;
                    sqlx::query("SELECT pg_advisory_xact_lock(7212201)")
                        .execute(&mut *tx)
                        .await?;
                    apply_if_missing(tx, *version, postgres_sql, &now).await?
                }
            };
            applied += usize::from(done);
        }
        Ok(applied)
    }

    // ------------------------------------------------------------ hub values

    pub async fn hub_value(&self, key: &str, field: &str) -> Result<Option<HubValue>> {
        const SQL: &str = "SELECT item_key, field, value, version, updated_at, updated_by \
             FROM hub_values WHERE item_key = $1 AND field = $2";
        on_pool!(self, |pool| {
            let row = sqlx::query(SQL)
                .bind(key)
                .bind(field)
                .fetch_optional(pool)
                .await?;
            row.map(|r| hub_value_from(&r)).transpose()
        })
    }

    pub async fn hub_values(&self) -> Result<Vec<HubValue>> {
        self.hub_values_filtered(None).await
    }

    /// Every item's status and its version, by key: half the columns
    /// of [`Store::hub_values`], for the commands that show every item.
    pub async fn hub_statuses(&self) -> Result<Vec<HubStatus>> {
        let rows: Vec<(String, Option<String>, i64)> = self
            .bulk_rows_where(
                "item_key, value, version",
                "hub_values",
                "item_key",
                None,
                Some(("field", Also::IsMostRows("status"))),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|(key, value, version)| HubStatus {
                key,
                value,
                version,
            })
            .collect())
    }

    /// What [`Store::hub_statuses`] gives, handed to `each` a page of
    /// `rows` ([`STATUS_PAGE`] unless testing) at a time, by key, all from
    /// one snapshot of the hub. A caller that keeps less than the rows
    /// never holds every row, nor the text the database makes of them, at
    /// once.
    pub async fn hub_statuses_paged(
        &self,
        rows: usize,
        mut each: impl FnMut(Vec<HubStatus>),
    ) -> Result<()> {
        let rows_per_page = rows.max(1);
        let mut after: Option<String> = None;
        let page = i64::try_from(rows_per_page).unwrap_or(i64::MAX);
        macro_rules! pages {
            ($tx:expr, $first:expr, $next:expr, $cursor:expr) => {
                loop {
                    let text: String = match &after {
                        None => {
                            sqlx::query_scalar($first)
                                .bind(page)
                                .fetch_one(&mut *$tx)
                                .await?
                        }
                        Some(key) => {
                            sqlx::query_scalar($next)
                                .bind(key)
                                .bind(page)
                                .fetch_one(&mut *$tx)
                                .await?
                        }
                    };
                    let rows: Vec<StatusRow> = serde_json::from_str(&text)
                        .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))?;
                    let full = rows.len() >= rows_per_page;
                    after = $cursor(&rows);
                    each(
                        rows.into_iter()
                            .map(|(key, value, version)| HubStatus {
                                key,
                                value,
                                version,
                            })
                            .collect(),
                    );
                    if !full {
                        break;
                    }
                }
                $tx.commit().await?;
            };
        }
        match &self.pool {
            Pool::Sqlite(pool) => {
                // One read transaction: every page from the same snapshot.
                let mut tx = pool.begin().await?;
                // SQLite's order of keys is the bytes' (Rust's); an
                // aggregate's order is not promised, so the page's largest
                // key is where the next starts.
                let largest = |rows: &[StatusRow]| rows.iter().map(|r| &r.0).max().cloned();
                pages!(tx, STATUS_PAGE_SQLITE, STATUS_PAGE_AFTER_SQLITE, largest);
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                // The column's collation orders the keys, and `json_agg ..
                // ORDER BY` keeps that order: the last is where the next
                // page starts.
                let last = |rows: &[StatusRow]| rows.last().map(|r| r.0.clone());
                pages!(tx, STATUS_PAGE_POSTGRES, STATUS_PAGE_AFTER_POSTGRES, last);
            }
        }
        Ok(())
    }

    /// The hub values of the given items only.
    pub async fn hub_values_for(&self, keys: &[String]) -> Result<Vec<HubValue>> {
        self.hub_values_filtered(Some(keys)).await
    }

    async fn hub_values_filtered(&self, keys: Option<&[String]>) -> Result<Vec<HubValue>> {
        type Row = (String, String, Option<String>, i64, String, String);
        let rows: Vec<Row> = self
            .bulk_rows(
                "item_key, field, value, version, updated_at, updated_by",
                "hub_values",
                "item_key, field",
                keys,
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(key, field, value, version, updated_at, updated_by)| HubValue {
                    key,
                    field,
                    value,
                    version,
                    updated_at,
                    updated_by,
                },
            )
            .collect())
    }

    /// Every row of a table, fetched as one JSON text built by the database
    /// and parsed here: row-by-row fetching through sqlx's SQLite worker
    /// costs a thread hand-off per row (seconds for 100k rows).
    pub(crate) async fn bulk_rows<T: serde::de::DeserializeOwned>(
        &self,
        columns: &str,
        table: &str,
        order: &str,
        keys: Option<&[String]>,
    ) -> Result<Vec<T>> {
        self.bulk_rows_where(columns, table, order, keys, None)
            .await
    }

    /// [`Store::bulk_rows`], also filtered on one column (`also`: column
    /// name, a constant of the caller's; what it must be, bound).
    pub(crate) async fn bulk_rows_where<T: serde::de::DeserializeOwned>(
        &self,
        columns: &str,
        table: &str,
        order: &str,
        keys: Option<&[String]>,
        also: Option<(&str, Also<'_>)>,
    ) -> Result<Vec<T>> {
        // The keys travel as one JSON array: no limit on bound parameters.
        let keys_json = keys.map(|k| serde_json::Value::from(k).to_string());
        let also_bound = also.map(|(_, filter)| match filter {
            Also::Is(value) | Also::IsMostRows(value) => value.to_string(),
            Also::In(values) => serde_json::Value::from(values).to_string(),
        });
        let mut conditions = Vec::new();
        let sqlite = matches!(self.pool, Pool::Sqlite(_));
        let in_json = |n: usize| {
            if sqlite {
                format!("IN (SELECT value FROM json_each(${n}))")
            } else {
                format!("IN (SELECT jsonb_array_elements_text((${n}::text)::jsonb))")
            }
        };
        if keys.is_some() {
            conditions.push(format!("item_key {}", in_json(1)));
        }
        if let Some((column, filter)) = also {
            let n = conditions.len() + 1;
            conditions.push(match filter {
                Also::Is(_) => format!("{column} = ${n}"),
                // A unary `+` keeps SQLite from using an index for the column.
                Also::IsMostRows(_) if sqlite => format!("+{column} = ${n}"),
                Also::IsMostRows(_) => format!("{column} = ${n}"),
                Also::In(_) => format!("{column} {}", in_json(n)),
            });
        }
        let filter = where_clause(&conditions);
        let text: String = match &self.pool {
            Pool::Sqlite(pool) => {
                let sql = format!(
                    "SELECT COALESCE(json_group_array(json_array({columns})), '[]') \
                     FROM (SELECT {columns} FROM {table} {filter} ORDER BY {order})"
                );
                let mut query = sqlx::query_scalar(AssertSqlSafe(sql));
                if keys.is_some() {
                    query = query.bind(keys_json);
                }
                if let Some(bound) = also_bound {
                    query = query.bind(bound);
                }
                query.fetch_one(pool).await?
            }
            Pool::Postgres(pool) => {
                let sql = format!(
                    "SELECT COALESCE(json_agg(json_build_array({columns}) ORDER BY {order}), '[]')::text \
                     FROM {table} {filter}"
                );
                let mut query = sqlx::query_scalar(AssertSqlSafe(sql));
                if keys.is_some() {
                    query = query.bind(keys_json);
                }
                if let Some(bound) = also_bound {
                    query = query.bind(bound);
                }
                query.fetch_one(pool).await?
            }
        };
        serde_json::from_str(&text)
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))
    }

    /// Change a hub value if it is still at `change.expected_version`, and
    /// journal the change in the same transaction.
    pub async fn set_hub_value(&self, change: &ValueChange) -> Result<HubValue> {
        first(self.set_hub_values(std::slice::from_ref(change)).await?)
    }

    // ------------------------------------------------------------ bases, watermarks

    pub async fn base(&self, rule: &str, key: &str, field: &str) -> Result<Option<Base>> {
        const SQL: &str = "SELECT rule, item_key, field, value, versions, version, agreed_at \
             FROM bases WHERE rule = $1 AND item_key = $2 AND field = $3";
        on_pool!(self, |pool| {
            let row = sqlx::query(SQL)
                .bind(rule)
                .bind(key)
                .bind(field)
                .fetch_optional(pool)
                .await?;
            row.map(|r| base_from(&r)).transpose()
        })
    }

    /// Store a new base if the stored one is still at `expected_version`
    /// (0: none yet). Returns the base as stored.
    pub async fn put_base(&self, base: &Base, expected_version: i64) -> Result<Base> {
        first(self.put_bases(&[(base.clone(), expected_version)]).await?)
    }

    /// Every watermark whose name starts with `prefix`.
    pub async fn watermarks_with_prefix(&self, prefix: &str) -> Result<Vec<Watermark>> {
        Ok(self
            .all_watermarks()
            .await?
            .into_iter()
            .filter(|mark| mark.source.starts_with(prefix))
            .collect())
    }

    pub async fn watermark(&self, source: &str) -> Result<Option<Watermark>> {
        const SQL: &str = "SELECT source, position, updated_at FROM watermarks WHERE source = $1";
        on_pool!(self, |pool| {
            let row = sqlx::query(SQL).bind(source).fetch_optional(pool).await?;
            row.map(|r| watermark_from(&r)).transpose()
        })
    }

    pub async fn set_watermark(&self, mark: &Watermark) -> Result<()> {
        self.set_watermarks(std::slice::from_ref(mark)).await
    }

    /// Several marks in one transaction: all of them or none (a sync's
    /// marks, one per repo and one per source, were a commit each: on
    /// PostgreSQL a WAL flush each). A name given twice ends as the later.
    pub async fn set_watermarks(&self, marks: &[Watermark]) -> Result<()> {
        const SQL: &str = "INSERT INTO watermarks (source, position, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (source) DO UPDATE SET position = excluded.position, \
             updated_at = excluded.updated_at";
        // Written in name order, whatever order the caller's workspace
        // lists them in: two runs that lock the same rows in one order
        // cannot deadlock on PostgreSQL.
        let by_name: BTreeMap<&str, &Watermark> =
            marks.iter().map(|m| (m.source.as_str(), m)).collect();
        on_pool!(self, |pool| {
            if let [only] = marks {
                // One mark: one statement, without a transaction's round trips.
                sqlx::query(SQL)
                    .bind(&only.source)
                    .bind(&only.position)
                    .bind(&only.updated_at)
                    .execute(pool)
                    .await?;
                return Ok(());
            }
            let mut tx = pool.begin().await?;
            for mark in by_name.values() {
                sqlx::query(SQL)
                    .bind(&mark.source)
                    .bind(&mark.position)
                    .bind(&mark.updated_at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    // ------------------------------------------------------------ pending writes

    /// Record a file about to be written (before the write).
    pub async fn add_pending_write(&self, write: &PendingWrite) -> Result<()> {
        self.add_pending_writes(std::slice::from_ref(write)).await
    }

    /// Record files about to be written, in one transaction.
    pub async fn add_pending_writes(&self, writes: &[PendingWrite]) -> Result<()> {
        const SQL: &str = "INSERT INTO pending_writes (repo, path, sha256, run_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (repo, path) DO UPDATE SET \
             sha256 = excluded.sha256, run_id = excluded.run_id, created_at = excluded.created_at";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for write in writes {
                sqlx::query(SQL)
                    .bind(&write.repo)
                    .bind(&write.path)
                    .bind(&write.sha256)
                    .bind(&write.run_id)
                    .bind(&write.created_at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Every pending write, ordered by repo and path.
    pub async fn pending_writes(&self) -> Result<Vec<PendingWrite>> {
        const SQL: &str = "SELECT repo, path, sha256, run_id, created_at FROM pending_writes \
             ORDER BY repo, path";
        on_pool!(self, |pool| {
            let rows = sqlx::query(SQL).fetch_all(pool).await?;
            rows.iter()
                .map(|r| -> Result<PendingWrite> {
                    Ok(PendingWrite {
                        repo: r.try_get(0)?,
                        path: r.try_get(1)?,
                        sha256: r.try_get(2)?,
                        run_id: r.try_get(3)?,
                        created_at: r.try_get(4)?,
                    })
                })
                .collect()
        })
    }

    /// Forget a pending write once committed (or found superseded).
    pub async fn clear_pending_write(&self, repo: &str, path: &str) -> Result<()> {
        self.clear_pending_writes(repo, &[path.to_string()]).await
    }

    /// Forget a repo's pending writes once committed, in one transaction.
    pub async fn clear_pending_writes(&self, repo: &str, paths: &[String]) -> Result<()> {
        const SQL: &str = "DELETE FROM pending_writes WHERE repo = $1 AND path = $2";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for path in paths {
                sqlx::query(SQL)
                    .bind(repo)
                    .bind(path)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    // ------------------------------------------------------------ journal

    /// Append one entry; returns its id.
    pub async fn append_journal(&self, entry: &JournalEntry) -> Result<i64> {
        first(
            self.append_journal_batch(std::slice::from_ref(entry))
                .await?
                .into_iter()
                .map(Ok)
                .collect(),
        )
    }

    pub async fn history(&self, key: &str) -> Result<Vec<JournalEntry>> {
        let sql = format!("{JOURNAL_SELECT} WHERE item_key = $1 ORDER BY id");
        on_pool!(self, |pool| {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(key)
                .fetch_all(pool)
                .await?;
            rows.iter().map(journal_from).collect()
        })
    }

    /// The id of the newest journal entry (0 when empty): every change to a
    /// hub value is journaled, so an unchanged mark means unchanged values.
    pub async fn journal_high_water(&self) -> Result<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(
            "SELECT COALESCE(MAX(id), 0) FROM journal"
        )
        .fetch_one(pool)
        .await?))
    }

    /// The items journaled after entry `id`, each once, sorted.
    pub async fn journal_keys_since(&self, id: i64) -> Result<Vec<String>> {
        const SQL: &str = "SELECT DISTINCT item_key FROM journal WHERE id > $1 ORDER BY item_key";
        on_pool!(self, |pool| Ok(sqlx::query_scalar(SQL)
            .bind(id)
            .fetch_all(pool)
            .await?))
    }

    /// How many entries after `id` another run (or a person) made.
    pub async fn journal_entries_since_not_of_run(&self, id: i64, run_id: &str) -> Result<i64> {
        const SQL: &str =
            "SELECT COUNT(*) FROM journal WHERE id > $1 AND (run_id IS NULL OR run_id <> $2)";
        on_pool!(self, |pool| Ok(sqlx::query_scalar(SQL)
            .bind(id)
            .bind(run_id)
            .fetch_one(pool)
            .await?))
    }

    /// The newest `limit` journal entries, newest first.
    pub async fn recent_journal(&self, limit: i64) -> Result<Vec<JournalEntry>> {
        let sql = format!("{JOURNAL_SELECT} ORDER BY id DESC LIMIT $1");
        on_pool!(self, |pool| {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(journal_from).collect()
        })
    }

    pub async fn journal_len(&self) -> Result<i64> {
        on_pool!(self, |pool| Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM journal"
        )
        .fetch_one(pool)
        .await?))
    }

    // ------------------------------------------------------------ runs, observations

    pub async fn start_run(&self, run: &RunRecord) -> Result<()> {
        const SQL: &str = "INSERT INTO runs (id, command, actor, started_at, finished_at, outcome, summary) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(&run.id)
                .bind(&run.command)
                .bind(&run.actor)
                .bind(&run.started_at)
                .bind(&run.finished_at)
                .bind(&run.outcome)
                .bind(&run.summary)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn finish_run(
        &self,
        id: &str,
        finished_at: &str,
        outcome: &str,
        summary: &str,
    ) -> Result<()> {
        const SQL: &str =
            "UPDATE runs SET finished_at = $2, outcome = $3, summary = $4 WHERE id = $1";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(id)
                .bind(finished_at)
                .bind(outcome)
                .bind(summary)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn runs(&self) -> Result<Vec<RunRecord>> {
        const SQL: &str = "SELECT id, command, actor, started_at, finished_at, outcome, summary \
             FROM runs ORDER BY started_at, id";
        on_pool!(self, |pool| {
            let rows = sqlx::query(SQL).fetch_all(pool).await?;
            rows.iter().map(run_from).collect()
        })
    }

    /// Upsert the observations of one run in one transaction: each
    /// (source, key) keeps its latest observation.
    pub async fn record_observations(&self, rows: &[ObservationRecord]) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(pool) => crate::transfer::upsert_observations_sqlite(pool, rows).await,
            Pool::Postgres(pool) => crate::transfer::upsert_observations_postgres(pool, rows).await,
        }
    }

    /// Replace what the hub remembers of a source's warnings: of the files
    /// in `paths` (re-read), or of the whole source (`None`: read in full).
    pub async fn replace_scan_warnings(
        &self,
        source: &str,
        paths: Option<&[String]>,
        warnings: &[&concord_model::Warning],
    ) -> Result<()> {
        const INSERT: &str = "INSERT INTO scan_warnings (source, path, line, code, repo, message) \
             VALUES ($1, $2, $3, $4, $5, $6)";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            match paths {
                None => {
                    sqlx::query("DELETE FROM scan_warnings WHERE source = $1")
                        .bind(source)
                        .execute(&mut *tx)
                        .await?;
                }
                Some(paths) => {
                    for path in paths {
                        sqlx::query("DELETE FROM scan_warnings WHERE source = $1 AND path = $2")
                            .bind(source)
                            .bind(path)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }
            for w in warnings {
                sqlx::query(INSERT)
                    .bind(source)
                    .bind(&w.path)
                    .bind(w.line.map(i64::from))
                    .bind(w.code.as_str())
                    .bind(&w.repo)
                    .bind(&w.message)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Every warning the hub remembers, by source, path and line.
    pub async fn scan_warnings(&self) -> Result<Vec<concord_model::Warning>> {
        const SQL: &str = "SELECT source, path, line, code, repo, message FROM scan_warnings \
             ORDER BY source, path, line";
        on_pool!(self, |pool| {
            let rows = sqlx::query(SQL).fetch_all(pool).await?;
            let mut warnings = Vec::with_capacity(rows.len());
            for r in &rows {
                let code: String = r.try_get(3)?;
                // A code this concord does not know (a newer one wrote it) is left out.
                let Some(code) = concord_model::WarningCode::parse(&code) else {
                    continue;
                };
                let line: Option<i64> = r.try_get(2)?;
                warnings.push(concord_model::Warning {
                    code,
                    source: r.try_get(0)?,
                    repo: r.try_get(4)?,
                    path: r.try_get(1)?,
                    line: line.and_then(|l| u32::try_from(l).ok()),
                    message: r.try_get(5)?,
                });
            }
            Ok(warnings)
        })
    }

    /// Record statuses concord wrote into files, in one transaction: only
    /// the status changes, line and everything else stay as read.
    pub async fn record_written_statuses(&self, written: &[WrittenStatus]) -> Result<()> {
        const SQL: &str = "UPDATE observations SET status = $3, raw_status = $4 \
             WHERE source = $1 AND item_key = $2";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for w in written {
                sqlx::query(SQL)
                    .bind(&w.source)
                    .bind(&w.key)
                    .bind(&w.status)
                    .bind(&w.raw_status)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The items a source's recorded observations place in the given files,
    /// each once, sorted.
    pub async fn observation_keys_in(&self, source: &str, paths: &[String]) -> Result<Vec<String>> {
        let paths = serde_json::Value::from(paths).to_string();
        match &self.pool {
            Pool::Sqlite(pool) => Ok(sqlx::query_scalar(
                "SELECT DISTINCT item_key FROM observations WHERE source = $1 \
                 AND path IN (SELECT value FROM json_each($2)) ORDER BY item_key",
            )
            .bind(source)
            .bind(paths)
            .fetch_all(pool)
            .await?),
            Pool::Postgres(pool) => Ok(sqlx::query_scalar(
                "SELECT DISTINCT item_key FROM observations WHERE source = $1 \
                 AND path IN (SELECT jsonb_array_elements_text(($2::text)::jsonb)) \
                 ORDER BY item_key",
            )
            .bind(source)
            .bind(paths)
            .fetch_all(pool)
            .await?),
        }
    }

    /// Observations, optionally of one item, ordered by key then source.
    pub async fn observations(&self, key: Option<&str>) -> Result<Vec<ObservationRecord>> {
        match key {
            Some(key) => self.observations_of_key(key).await,
            None => self.observations_filtered(None).await,
        }
    }

    /// The observations of the given items only, ordered by key then source.
    pub async fn observations_for(&self, keys: &[String]) -> Result<Vec<ObservationRecord>> {
        self.observations_filtered(Some(keys)).await
    }

    async fn observations_filtered(
        &self,
        keys: Option<&[String]>,
    ) -> Result<Vec<ObservationRecord>> {
        type Row = (
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
            String,
            i64,
            String,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = self
                .bulk_rows(
                    "source, item_key, run_id, status, raw_status, repo, path, line, observed_at, owner, pinned",
                    "observations",
                    "item_key, source",
                    keys,
                )
                .await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    source,
                    key,
                    run_id,
                    status,
                    raw_status,
                    repo,
                    path,
                    line,
                    observed_at,
                    owner,
                    pinned,
                )| {
                    ObservationRecord {
                        source,
                        key,
                        run_id,
                        status,
                        raw_status,
                        repo,
                        path,
                        line,
                        observed_at,
                        owner,
                        pinned,
                    }
                },
            )
            .collect())
    }

    async fn observations_of_key(&self, key: &str) -> Result<Vec<ObservationRecord>> {
        let sql = format!("{OBSERVATION_SELECT} WHERE item_key = $1 ORDER BY item_key, source");
        on_pool!(self, |pool| {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(key)
                .fetch_all(pool)
                .await?;
            rows.iter().map(observation_from).collect()
        })
    }

    /// A source's recorded observations, of the given files only when
    /// `paths` is given (what a run that re-read those files compares
    /// against).
    pub async fn observations_of_source(
        &self,
        source: &str,
        paths: Option<&[String]>,
    ) -> Result<Vec<ObservationRecord>> {
        let in_paths = match (&self.pool, paths) {
            (_, None) => "",
            (Pool::Sqlite(_), Some(_)) => " AND path IN (SELECT value FROM json_each($2))",
            (Pool::Postgres(_), Some(_)) => {
                " AND path IN (SELECT jsonb_array_elements_text(($2::text)::jsonb))"
            }
        };
        let sql = format!("{OBSERVATION_SELECT} WHERE source = $1{in_paths}");
        let paths = paths.map(|p| serde_json::Value::from(p).to_string());
        on_pool!(self, |pool| {
            let mut query = sqlx::query(AssertSqlSafe(sql.as_str())).bind(source);
            if let Some(paths) = &paths {
                query = query.bind(paths);
            }
            let rows = query.fetch_all(pool).await?;
            rows.iter().map(observation_from).collect()
        })
    }

    /// Forget a source's observations of the given items (gone from what
    /// was read), in one transaction.
    pub async fn forget_observations_of(&self, source: &str, keys: &[String]) -> Result<()> {
        const SQL: &str = "DELETE FROM observations WHERE source = $1 AND item_key = $2";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for key in keys {
                sqlx::query(SQL)
                    .bind(source)
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    // ------------------------------------------------------------ check snapshots

    /// Store the result of one `concord check --snapshot`; returns its id
    /// (`snapshot.id` is ignored).
    pub async fn add_check_snapshot(&self, snapshot: &CheckSnapshot) -> Result<i64> {
        const SQL: &str = "INSERT INTO check_snapshots \
             (taken_at, commit_id, actor, findings, gating, total) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
        on_pool!(self, |pool| Ok(sqlx::query_scalar(SQL)
            .bind(&snapshot.taken_at)
            .bind(&snapshot.commit_id)
            .bind(&snapshot.actor)
            .bind(&snapshot.findings)
            .bind(snapshot.gating)
            .bind(snapshot.total)
            .fetch_one(pool)
            .await?))
    }

    /// The newest snapshot (highest id), findings included.
    pub async fn latest_check_snapshot(&self) -> Result<Option<CheckSnapshot>> {
        let sql = format!("{CHECK_SNAPSHOT_SELECT} ORDER BY id DESC LIMIT 1");
        on_pool!(self, |pool| {
            let row = sqlx::query(AssertSqlSafe(sql.as_str()))
                .fetch_optional(pool)
                .await?;
            row.map(|r| check_snapshot_from(&r)).transpose()
        })
    }

    /// One snapshot by id, findings included.
    pub async fn check_snapshot(&self, id: i64) -> Result<Option<CheckSnapshot>> {
        let sql = format!("{CHECK_SNAPSHOT_SELECT} WHERE id = $1");
        on_pool!(self, |pool| {
            let row = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.map(|r| check_snapshot_from(&r)).transpose()
        })
    }

    /// Every snapshot, newest first, WITHOUT its findings (`findings` is
    /// empty): the cheap listing for `concord check history`. Fetch one
    /// with [`Store::check_snapshot`] for its findings.
    pub async fn check_snapshots(&self) -> Result<Vec<CheckSnapshot>> {
        type Row = (i64, String, Option<String>, String, i64, i64);
        let rows: Vec<Row> = self
            .bulk_rows(
                "id, taken_at, commit_id, actor, gating, total",
                "check_snapshots",
                "id DESC",
                None,
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, taken_at, commit_id, actor, gating, total)| CheckSnapshot {
                    id,
                    taken_at,
                    commit_id,
                    actor,
                    findings: String::new(),
                    gating,
                    total,
                },
            )
            .collect())
    }

    // ------------------------------------------------------------ citations

    /// Every remembered citation answer, ordered by repo then number. The
    /// order is byte order on both backends, whatever PostgreSQL's collation.
    pub async fn citation_answers(&self) -> Result<Vec<CitationAnswer>> {
        type Row = (String, i64, JsonBool, String);
        let rows: Vec<Row> = self
            .bulk_rows(
                "repo, number, found, checked_at",
                "citations",
                "repo, number",
                None,
            )
            .await?;
        let mut answers: Vec<CitationAnswer> = rows
            .into_iter()
            .map(|(repo, number, found, checked_at)| CitationAnswer {
                repo,
                number,
                found: found.into(),
                checked_at,
            })
            .collect();
        answers.sort_unstable_by(|a, b| (&a.repo, a.number).cmp(&(&b.repo, b.number)));
        Ok(answers)
    }

    /// Remember citation answers: each replaces the stored answer for its
    /// citation, if any. `repo` is stored lowercase (ASCII, as GitHub names
    /// are); when `answers` names a citation twice, the later one wins. One
    /// statement, so all land or none does.
    pub async fn put_citation_answers(&self, answers: &[CitationAnswer]) -> Result<()> {
        // One row per citation: PostgreSQL refuses to upsert the same row
        // twice in one statement.
        let mut latest: BTreeMap<(String, i64), (bool, &str)> = BTreeMap::new();
        for a in answers {
            latest.insert(
                (a.repo.to_ascii_lowercase(), a.number),
                (a.found, a.checked_at.as_str()),
            );
        }
        if latest.is_empty() {
            return Ok(());
        }
        const UPSERT: &str = " ON CONFLICT (repo, number) DO UPDATE SET \
             found = excluded.found, checked_at = excluded.checked_at";
        match &self.pool {
            Pool::Sqlite(pool) => {
                // The rows travel as one JSON array: no limit on bound
                // parameters, one statement for any number of rows.
                let rows: Vec<serde_json::Value> = latest
                    .iter()
                    .map(|((repo, number), (found, at))| {
                        serde_json::json!([repo, number, i64::from(*found), at])
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO citations (repo, number, found, checked_at) \
                     SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
                     json_extract(value, '$[2]'), json_extract(value, '$[3]') \
                     FROM json_each($1) WHERE true{UPSERT}"
                );
                sqlx::query(AssertSqlSafe(sql))
                    .bind(serde_json::Value::from(rows).to_string())
                    .execute(pool)
                    .await?;
            }
            Pool::Postgres(pool) => {
                let mut repos = Vec::with_capacity(latest.len());
                let mut numbers = Vec::with_capacity(latest.len());
                let mut found = Vec::with_capacity(latest.len());
                let mut checked_at = Vec::with_capacity(latest.len());
                for ((repo, number), (f, at)) in latest {
                    repos.push(repo);
                    numbers.push(number);
                    found.push(f);
                    checked_at.push(at.to_string());
                }
                let sql = format!(
                    "INSERT INTO citations (repo, number, found, checked_at) \
                     SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::boolean[], $4::text[]){UPSERT}"
                );
                sqlx::query(AssertSqlSafe(sql))
                    .bind(repos)
                    .bind(numbers)
                    .bind(found)
                    .bind(checked_at)
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Forget the answers that said a citation does not exist (so the next
    /// check asks again); returns how many were forgotten.
    pub async fn forget_missing_citations(&self) -> Result<u64> {
        const SQL: &str = "DELETE FROM citations WHERE NOT found";
        on_pool!(self, |pool| Ok(sqlx::query(SQL)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    // ------------------------------------------------------------ release trains

    /// Store a new release train (`concord ship prepare`); returns its id.
    /// `train.id` and `train.version` are ignored: the version starts at 1.
    pub async fn add_release_train(&self, train: &ReleaseTrain) -> Result<i64> {
        const SQL: &str = "INSERT INTO release_trains \
             (name, created_at, actor, status, frozen, version, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6) RETURNING id";
        on_pool!(self, |pool| Ok(sqlx::query_scalar(SQL)
            .bind(&train.name)
            .bind(&train.created_at)
            .bind(&train.actor)
            .bind(&train.status)
            .bind(&train.frozen)
            .bind(&train.updated_at)
            .fetch_one(pool)
            .await?))
    }

    /// One release train by id.
    pub async fn release_train(&self, id: i64) -> Result<Option<ReleaseTrain>> {
        let sql = format!("{RELEASE_TRAIN_SELECT} WHERE id = $1");
        on_pool!(self, |pool| {
            let row = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.map(|r| release_train_from(&r)).transpose()
        })
    }

    /// The newest release train (highest id) of that name.
    pub async fn latest_release_train(&self, name: &str) -> Result<Option<ReleaseTrain>> {
        let sql = format!("{RELEASE_TRAIN_SELECT} WHERE name = $1 ORDER BY id DESC LIMIT 1");
        on_pool!(self, |pool| {
            let row = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(name)
                .fetch_optional(pool)
                .await?;
            row.map(|r| release_train_from(&r)).transpose()
        })
    }

    /// Every release train, newest first.
    pub async fn release_trains(&self) -> Result<Vec<ReleaseTrain>> {
        let sql = format!("{RELEASE_TRAIN_SELECT} ORDER BY id DESC");
        on_pool!(self, |pool| {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .fetch_all(pool)
                .await?;
            rows.iter().map(release_train_from).collect()
        })
    }

    /// Change a train's status if it is still at `expected_version`; returns
    /// the train as stored. A train whose version moved (or that does not
    /// exist) comes back as [`StoreError::Conflict`] on key `train:<id>`,
    /// field `status`, and is left unchanged.
    pub async fn set_release_status(
        &self,
        id: i64,
        expected_version: i64,
        status: &str,
        at: &str,
    ) -> Result<ReleaseTrain> {
        const UPDATE: &str = "UPDATE release_trains SET status = $3, version = version + 1, \
             updated_at = $4 WHERE id = $1 AND version = $2 RETURNING id, name, created_at, \
             actor, status, frozen, version, updated_at";
        const VERSION: &str = "SELECT version FROM release_trains WHERE id = $1";
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row = sqlx::query(UPDATE)
                .bind(id)
                .bind(expected_version)
                .bind(status)
                .bind(at)
                .fetch_optional(&mut *tx)
                .await?;
            let result = match row {
                Some(r) => release_train_from(&r),
                // A lost race changes no row: nothing to undo.
                None => {
                    let actual: Option<i64> = sqlx::query_scalar(VERSION)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    Err(StoreError::Conflict {
                        key: format!("train:{id}"),
                        field: "status".into(),
                        expected: expected_version,
                        actual,
                    })
                }
            };
            tx.commit().await?;
            result
        })
    }

    /// Append one step to a train's log; returns its `seq` (`step.seq` is
    /// ignored). Appenders of one train are serialised, so each gets the
    /// next seq: 1, 2, 3, ... with no gap and no repeat. A train that does
    /// not exist is refused by its foreign key.
    pub async fn append_release_step(&self, step: &ReleaseStep) -> Result<i64> {
        match &self.pool {
            Pool::Sqlite(pool) => {
                // IMMEDIATE: the write lock before reading MAX(seq).
                let mut conn = pool.acquire().await?;
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                let seq = insert_release_step(&mut tx, step).await?;
                tx.commit().await?;
                Ok(seq)
            }
            Pool::Postgres(pool) => {
                // The train's row lock serialises its appenders; under READ
                // COMMITTED the INSERT's snapshot, taken after the lock,
                // sees every step committed before it.
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT id FROM release_trains WHERE id = $1 FOR NO KEY UPDATE")
                    .bind(step.train_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let seq = insert_release_step(&mut tx, step).await?;
                tx.commit().await?;
                Ok(seq)
            }
        }
    }

    /// A train's steps, by seq.
    pub async fn release_steps(&self, train_id: i64) -> Result<Vec<ReleaseStep>> {
        let sql = format!("{RELEASE_STEP_SELECT} WHERE train_id = $1 ORDER BY seq");
        on_pool!(self, |pool| {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(train_id)
                .fetch_all(pool)
                .await?;
            rows.iter().map(release_step_from).collect()
        })
    }
}

/// A boolean column as [`Store::bulk_rows`] returns it: `true`/`false`
/// from PostgreSQL, `1`/`0` from SQLite.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum JsonBool {
    Bool(bool),
    Int(i64),
}

impl From<JsonBool> for bool {
    fn from(value: JsonBool) -> bool {
        match value {
            JsonBool::Bool(b) => b,
            JsonBool::Int(n) => n != 0,
        }
    }
}

/// Inside a transaction that holds the migration lock: run `script` and
/// record `version`, unless another process got there first.
async fn apply_if_missing<DB>(
    mut tx: sqlx::Transaction<'_, DB>,
    version: i64,
    script: &'static str,
    now: &str,
) -> Result<bool>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'r> sqlx::Decode<'r, DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let current: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM concord_schema")
        .fetch_one(&mut *tx)
        .await?;
    if current >= version {
        return Ok(false);
    }
    sqlx::raw_sql(AssertSqlSafe(script))
        .execute(&mut *tx)
        .await?;
    insert_version(&mut tx, version, now).await?;
    tx.commit().await?;
    Ok(true)
}

async fn insert_version<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    version: i64,
    now: &str,
) -> Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
{
    sqlx::query("INSERT INTO concord_schema (version, applied_at) VALUES ($1, $2)")
        .bind(version)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The one result of a batch of one.
fn first<T>(results: Vec<Result<T>>) -> Result<T> {
    results.into_iter().next().unwrap_or_else(|| {
        Err(StoreError::Database(sqlx::Error::Protocol(
            "a batch of one gave no result".into(),
        )))
    })
}

/// The journal entry that records a hub value change.
pub(crate) fn journal_of(change: &ValueChange) -> JournalEntry {
    JournalEntry {
        id: 0,
        at: change.at.clone(),
        run_id: change.run_id.clone(),
        actor: change.actor.clone(),
        key: change.key.clone(),
        kind: JournalKind::Change,
        field: Some(change.field.clone()),
        from: change.from.clone(),
        to: change.to.clone(),
        target: Some("hub".into()),
        reason: change.reason.clone(),
        note: change.note.clone(),
        event_type: None,
        phase: None,
        artifacts: Vec::new(),
    }
}

pub(crate) const JOURNAL_SELECT: &str = "SELECT id, at, run_id, actor, item_key, kind, field, \
     from_value, to_value, target, reason, note, event_type, phase, artifacts FROM journal";

pub(crate) const JOURNAL_INSERT: &str = "INSERT INTO journal (at, run_id, actor, item_key, kind, \
     field, from_value, to_value, target, reason, note, event_type, phase, artifacts) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id";

pub(crate) const OBSERVATION_SELECT: &str = "SELECT source, item_key, run_id, status, raw_status, \
     repo, path, line, observed_at, owner, pinned FROM observations";

const CHECK_SNAPSHOT_SELECT: &str =
    "SELECT id, taken_at, commit_id, actor, findings, gating, total FROM check_snapshots";

pub(crate) const RELEASE_TRAIN_SELECT: &str = "SELECT id, name, created_at, actor, status, \
     frozen, version, updated_at FROM release_trains";

pub(crate) const RELEASE_STEP_SELECT: &str =
    "SELECT train_id, seq, step, outcome, at, detail FROM release_steps";

/// Insert a step at the train's next seq, inside a transaction that
/// serialises the train's appenders.
async fn insert_release_step<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    step: &ReleaseStep,
) -> Result<i64>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    const SQL: &str = "INSERT INTO release_steps (train_id, seq, step, outcome, at, detail) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 \
         FROM release_steps WHERE train_id = $1 RETURNING seq";
    let (seq,): (i64,) = sqlx::query_as(SQL)
        .bind(step.train_id)
        .bind(step.step.as_str())
        .bind(step.outcome.as_str())
        .bind(step.at.as_str())
        .bind(step.detail.as_deref())
        .fetch_one(&mut **tx)
        .await?;
    Ok(seq)
}

pub(crate) fn release_train_from<R: Row>(r: &R) -> Result<ReleaseTrain>
where
    usize: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ReleaseTrain {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        created_at: r.try_get(2)?,
        actor: r.try_get(3)?,
        status: r.try_get(4)?,
        frozen: r.try_get(5)?,
        version: r.try_get(6)?,
        updated_at: r.try_get(7)?,
    })
}

pub(crate) fn release_step_from<R: Row>(r: &R) -> Result<ReleaseStep>
where
    usize: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ReleaseStep {
        train_id: r.try_get(0)?,
        seq: r.try_get(1)?,
        step: r.try_get(2)?,
        outcome: r.try_get(3)?,
        at: r.try_get(4)?,
        detail: r.try_get(5)?,
    })
}

pub(crate) async fn insert_journal<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    entry: &JournalEntry,
) -> Result<i64>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let artifacts = if entry.artifacts.is_empty() {
        None
    } else {
        serde_json::to_string(&entry.artifacts).ok()
    };
    let (id,): (i64,) = sqlx::query_as(JOURNAL_INSERT)
        .bind(entry.at.clone())
        .bind(entry.run_id.clone())
        .bind(entry.actor.clone())
        .bind(entry.key.clone())
        .bind(entry.kind.as_str())
        .bind(entry.field.clone())
        .bind(entry.from.clone())
        .bind(entry.to.clone())
        .bind(entry.target.clone())
        .bind(entry.reason.clone())
        .bind(entry.note.clone())
        .bind(entry.event_type.clone())
        .bind(entry.phase.clone())
        .bind(artifacts)
        .fetch_one(&mut **tx)
        .await?;
    Ok(id)
}

pub(crate) fn hub_value_from<R: Row>(r: &R) -> Result<HubValue>
where
    usize: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(HubValue {
        key: r.try_get(0)?,
        field: r.try_get(1)?,
        value: r.try_get(2)?,
        version: r.try_get(3)?,
        updated_at: r.try_get(4)?,
        updated_by: r.try_get(5)?,
    })
}

fn base_from<R: Row>(r: &R) -> Result<Base>
where
    usize: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Base {
        rule: r.try_get(0)?,
        key: r.try_get(1)?,
        field: r.try_get(2)?,
        value: r.try_get(3)?,
        versions: r.try_get(4)?,
        version: r.try_get(5)?,
        agreed_at: r.try_get(6)?,
    })
}

/// A run from `SELECT id, command, actor, started_at, finished_at,
/// outcome, summary`.
pub(crate) fn run_from<R: Row>(r: &R) -> Result<RunRecord>
where
    usize: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(RunRecord {
        id: r.try_get(0)?,
        command: r.try_get(1)?,
        actor: r.try_get(2)?,
        started_at: r.try_get(3)?,
        finished_at: r.try_get(4)?,
        outcome: r.try_get(5)?,
        summary: r.try_get(6)?,
    })
}

pub(crate) fn watermark_from<R: Row>(r: &R) -> Result<Watermark>
where
    usize: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Watermark {
        source: r.try_get(0)?,
        position: r.try_get(1)?,
        updated_at: r.try_get(2)?,
    })
}

pub(crate) fn journal_from<R: Row>(r: &R) -> Result<JournalEntry>
where
    usize: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let kind: String = r.try_get(5)?;
    let artifacts: Option<String> = r.try_get(14)?;
    Ok(JournalEntry {
        id: r.try_get(0)?,
        at: r.try_get(1)?,
        run_id: r.try_get(2)?,
        actor: r.try_get(3)?,
        key: r.try_get(4)?,
        kind: JournalKind::parse(&kind).ok_or_else(|| {
            StoreError::Database(sqlx::Error::Decode(
                format!("unknown journal kind `{kind}`").into(),
            ))
        })?,
        field: r.try_get(6)?,
        from: r.try_get(7)?,
        to: r.try_get(8)?,
        target: r.try_get(9)?,
        reason: r.try_get(10)?,
        note: r.try_get(11)?,
        event_type: r.try_get(12)?,
        phase: r.try_get(13)?,
        artifacts: artifacts
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))?
            .unwrap_or_default(),
    })
}

pub(crate) fn observation_from<R: Row>(r: &R) -> Result<ObservationRecord>
where
    usize: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ObservationRecord {
        source: r.try_get(0)?,
        key: r.try_get(1)?,
        run_id: r.try_get(2)?,
        status: r.try_get(3)?,
        raw_status: r.try_get(4)?,
        repo: r.try_get(5)?,
        path: r.try_get(6)?,
        line: r.try_get(7)?,
        observed_at: r.try_get(8)?,
        owner: r.try_get(9)?,
        pinned: r.try_get(10)?,
    })
}

fn check_snapshot_from<R: Row>(r: &R) -> Result<CheckSnapshot>
where
    usize: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(CheckSnapshot {
        id: r.try_get(0)?,
        taken_at: r.try_get(1)?,
        commit_id: r.try_get(2)?,
        actor: r.try_get(3)?,
        findings: r.try_get(4)?,
        gating: r.try_get(5)?,
        total: r.try_get(6)?,
    })
}
