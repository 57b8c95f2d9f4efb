//! Set-based conditional writes: hub values and bases are compared and set
//! one statement per chunk of rows, not one per row. A first sync writes a
//! hundred thousand values; one statement each cost a round trip to
//! SQLite's worker thread (or to PostgreSQL) apiece.
//!
//! The guarantee is the per-row one: a row lands only if the stored
//! version is still the one it was planned from (or, for a new row, if
//! none exists), and every row lands or conflicts on its own. An insert is
//! `INSERT .. ON CONFLICT DO NOTHING RETURNING` its key; an update is
//! `UPDATE .. FROM (VALUES ..) WHERE version = expected RETURNING` its
//! key; a row whose key does not come back conflicted. A key asked twice in
//! one call is decided by the first; the later ones then run one by one,
//! in order, as before.

use crate::bulk::BulkInsert;
use crate::records::{Base, HubValue, JournalEntry, ValueChange};
use crate::store::{Pool, Store, journal_of, on_pool};
use crate::{Result, StoreError};
use sqlx::AssertSqlSafe;
use std::collections::HashSet;

/// Rows per statement: 14 journal columns x 400 = 5,600 parameters, far
/// under SQLite's 32,766 and PostgreSQL's 65,535.
pub(crate) const ROWS: usize = 400;

/// `rows` copies of `template` (a tuple whose `{}` are parameters),
/// comma-separated. PostgreSQL numbers parameters; SQLite gets anonymous
/// `?`, since it looks numbered ones up by scanning a list (quadratic in a
/// statement with thousands of them).
pub(crate) fn tuples(rows: usize, template: &str, numbered: bool) -> String {
    let mut out = String::with_capacity(rows * (template.len() + 8));
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        let mut parts = template.split("{}");
        if let Some(head) = parts.next() {
            out.push_str(head);
        }
        for part in parts {
            n += 1;
            if numbered {
                out.push_str(&format!("${n}"));
            } else {
                out.push('?');
            }
            out.push_str(part);
        }
    }
    out
}

/// Indexes of the first change of each key, and of the repeats.
fn firsts_and_repeats<K: Eq + std::hash::Hash>(
    keys: impl Iterator<Item = K>,
) -> (Vec<usize>, Vec<usize>) {
    let mut seen = HashSet::new();
    let (mut firsts, mut repeats) = (Vec::new(), Vec::new());
    for (i, key) in keys.enumerate() {
        if seen.insert(key) {
            firsts.push(i);
        } else {
            repeats.push(i);
        }
    }
    (firsts, repeats)
}

const VALUE_INSERT: &str = "INSERT INTO hub_values \
     (item_key, field, value, version, updated_at, updated_by) VALUES ";
const VALUE_INSERT_ROW: &str = "({}, {}, {}, 1, {}, {})";
const VALUE_INSERT_END: &str =
    " ON CONFLICT (item_key, field) DO NOTHING RETURNING item_key, field";
const VALUE_UPDATE: &str = "UPDATE hub_values SET value = v.column3, version = hub_values.version + 1, \
     updated_at = v.column4, updated_by = v.column5 FROM (VALUES ";
const VALUE_UPDATE_ROW: &str = "({}, {}, CAST({} AS TEXT), {}, {}, CAST({} AS BIGINT))";
const VALUE_UPDATE_END: &str = ") AS v WHERE hub_values.item_key = v.column1 \
     AND hub_values.field = v.column2 AND hub_values.version = v.column6 \
     RETURNING hub_values.item_key, hub_values.field";
const VALUE_VERSION: &str = "SELECT version FROM hub_values WHERE item_key = $1 AND field = $2";

const BASE_INSERT: &str = "INSERT INTO bases \
     (rule, item_key, field, value, versions, version, agreed_at) VALUES ";
const BASE_INSERT_ROW: &str = "({}, {}, {}, {}, {}, 1, {})";
const BASE_INSERT_END: &str =
    " ON CONFLICT (rule, item_key, field) DO NOTHING RETURNING rule, item_key, field";
const BASE_UPDATE: &str = "UPDATE bases SET value = v.column4, versions = v.column5, \
     version = bases.version + 1, agreed_at = v.column6 FROM (VALUES ";
const BASE_UPDATE_ROW: &str = "({}, {}, {}, CAST({} AS TEXT), {}, {}, CAST({} AS BIGINT))";
const BASE_UPDATE_END: &str = ") AS v WHERE bases.rule = v.column1 AND bases.item_key = v.column2 \
     AND bases.field = v.column3 AND bases.version = v.column7 \
     RETURNING bases.rule, bases.item_key, bases.field";
const BASE_VERSION: &str =
    "SELECT version FROM bases WHERE rule = $1 AND item_key = $2 AND field = $3";

/// A value change's five row parameters (key, field, value, time, actor),
/// in the order of the inserts and updates here and in `bulk`.
macro_rules! bind_value {
    ($query:expr, $c:expr) => {
        $query
            .bind(&$c.key)
            .bind(&$c.field)
            .bind(&$c.to)
            .bind(&$c.at)
            .bind(&$c.actor)
    };
}
pub(crate) use bind_value;

/// A base's six row parameters (rule, key, field, value, versions, time).
macro_rules! bind_base {
    ($query:expr, $b:expr) => {
        $query
            .bind(&$b.rule)
            .bind(&$b.key)
            .bind(&$b.field)
            .bind(&$b.value)
            .bind(&$b.versions)
            .bind(&$b.agreed_at)
    };
}
pub(crate) use bind_base;

/// A base with the version it was planned from.
type Planned<'a> = &'a (Base, i64);

impl Store {
    fn numbered(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// How many batches of independent rows (bases, replica bases) are
    /// worth writing at once, each in its own transaction: two on
    /// PostgreSQL, whose server works on each connection while the other
    /// waits on its commit; one on SQLite, which has a single writer.
    pub fn concurrent_batches(&self) -> usize {
        if self.numbered() { 2 } else { 1 }
    }

    /// Rows per conditional UPDATE. The bundled SQLite scanned the whole
    /// table for `UPDATE .. FROM (VALUES ..)` with a chunk of rows (1,000
    /// base updates took 6 s); with one row it searches the primary key,
    /// so SQLite gets one row a statement. PostgreSQL joins the chunk on
    /// its key.
    fn update_rows(&self) -> usize {
        if self.numbered() { ROWS } else { 1 }
    }

    /// Many conditional value changes in one transaction, set-based; each
    /// lands or comes back as [`StoreError::Conflict`] on its own, and each
    /// one that lands is journaled.
    pub async fn set_hub_values(&self, changes: &[ValueChange]) -> Result<Vec<Result<HubValue>>> {
        let (firsts, repeats) =
            firsts_and_repeats(changes.iter().map(|c| (c.key.as_str(), c.field.as_str())));
        let numbered = self.numbered();
        let update_rows = self.update_rows();
        let (inserts, updates): (Vec<&ValueChange>, Vec<&ValueChange>) = firsts
            .iter()
            .map(|&i| &changes[i])
            .partition(|c| c.expected_version == 0);
        let insert_sql = |n: usize| {
            format!(
                "{VALUE_INSERT}{}{VALUE_INSERT_END}",
                tuples(n, VALUE_INSERT_ROW, numbered)
            )
        };
        let update_sql = |n: usize| {
            format!(
                "{VALUE_UPDATE}{}{VALUE_UPDATE_END}",
                tuples(n, VALUE_UPDATE_ROW, numbered)
            )
        };
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            // Before the values: every value that lands is journaled.
            tx.lock_journal().await?;
            let mut landed: HashSet<(String, String)> =
                tx.insert_values(&inserts).await?.into_iter().collect();
            for chunk in updates.chunks(update_rows) {
                let mut q =
                    sqlx::query_as::<_, (String, String)>(AssertSqlSafe(update_sql(chunk.len())));
                for c in chunk {
                    q = bind_value!(q, c).bind(c.expected_version);
                }
                landed.extend(q.fetch_all(&mut *tx).await?);
            }
            let mut results: Vec<Option<Result<HubValue>>> =
                (0..changes.len()).map(|_| None).collect();
            let mut journal = Vec::new();
            // The landed keys are some of the firsts' (each once): as many
            // means all of them, and nothing needs looking up.
            let all_landed = landed.len() == firsts.len();
            for &i in &firsts {
                let change = &changes[i];
                if all_landed || landed.contains(&(change.key.clone(), change.field.clone())) {
                    journal.push(journal_of(change));
                    results[i] = Some(Ok(value_after(change)));
                } else {
                    let actual: Option<i64> = sqlx::query_scalar(VALUE_VERSION)
                        .bind(&change.key)
                        .bind(&change.field)
                        .fetch_optional(&mut *tx)
                        .await?;
                    results[i] = Some(Err(value_conflict(change, actual)));
                }
            }
            tx.insert_journal(&journal).await?;
            // A key asked again: decided one by one, after its first.
            for &i in &repeats {
                let change = &changes[i];
                let (sql, one) = if change.expected_version == 0 {
                    (insert_sql(1), false)
                } else {
                    (update_sql(1), true)
                };
                let mut q = bind_value!(
                    sqlx::query_as::<_, (String, String)>(AssertSqlSafe(sql)),
                    change
                );
                if one {
                    q = q.bind(change.expected_version);
                }
                if q.fetch_optional(&mut *tx).await?.is_some() {
                    crate::store::insert_journal(&mut tx, &journal_of(change)).await?;
                    results[i] = Some(Ok(value_after(change)));
                } else {
                    let actual: Option<i64> = sqlx::query_scalar(VALUE_VERSION)
                        .bind(&change.key)
                        .bind(&change.field)
                        .fetch_optional(&mut *tx)
                        .await?;
                    results[i] = Some(Err(value_conflict(change, actual)));
                }
            }
            tx.commit().await?;
            Ok(results
                .into_iter()
                .map(|r| r.unwrap_or_else(|| Err(lost())))
                .collect())
        })
    }

    /// Many conditional base updates in one transaction, set-based, each
    /// landing or conflicting on its own.
    pub async fn put_bases(&self, bases: &[(Base, i64)]) -> Result<Vec<Result<Base>>> {
        let (firsts, repeats) = firsts_and_repeats(
            bases
                .iter()
                .map(|(b, _)| (b.rule.as_str(), b.key.as_str(), b.field.as_str())),
        );
        let numbered = self.numbered();
        let update_rows = self.update_rows();
        let (inserts, updates): (Vec<Planned<'_>>, Vec<Planned<'_>>) = firsts
            .iter()
            .map(|&i| &bases[i])
            .partition(|(_, v)| *v == 0);
        let insert_sql = |n: usize| {
            format!(
                "{BASE_INSERT}{}{BASE_INSERT_END}",
                tuples(n, BASE_INSERT_ROW, numbered)
            )
        };
        let update_sql = |n: usize| {
            format!(
                "{BASE_UPDATE}{}{BASE_UPDATE_END}",
                tuples(n, BASE_UPDATE_ROW, numbered)
            )
        };
        type Key = (String, String, String);
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut landed: HashSet<Key> = tx.insert_bases(&inserts).await?.into_iter().collect();
            for chunk in updates.chunks(update_rows) {
                let mut q = sqlx::query_as::<_, Key>(AssertSqlSafe(update_sql(chunk.len())));
                for (b, expected) in chunk {
                    q = bind_base!(q, b).bind(*expected);
                }
                landed.extend(q.fetch_all(&mut *tx).await?);
            }
            let mut results: Vec<Option<Result<Base>>> = (0..bases.len()).map(|_| None).collect();
            let mut decide = Vec::with_capacity(firsts.len() + repeats.len());
            // As for values: as many landed as asked means all of them.
            let all_landed = landed.len() == firsts.len();
            for &i in &firsts {
                let (b, _) = &bases[i];
                let ok = all_landed
                    || landed.contains(&(b.rule.clone(), b.key.clone(), b.field.clone()));
                decide.push((i, ok));
            }
            for &i in &repeats {
                let (b, expected) = &bases[i];
                let sql = if *expected == 0 {
                    insert_sql(1)
                } else {
                    update_sql(1)
                };
                let mut q = bind_base!(sqlx::query_as::<_, Key>(AssertSqlSafe(sql)), b);
                if *expected != 0 {
                    q = q.bind(*expected);
                }
                decide.push((i, q.fetch_optional(&mut *tx).await?.is_some()));
            }
            for (i, ok) in decide {
                let (b, expected) = &bases[i];
                results[i] = Some(if ok {
                    Ok(Base {
                        version: expected + 1,
                        ..b.clone()
                    })
                } else {
                    let actual: Option<i64> = sqlx::query_scalar(BASE_VERSION)
                        .bind(&b.rule)
                        .bind(&b.key)
                        .bind(&b.field)
                        .fetch_optional(&mut *tx)
                        .await?;
                    Err(StoreError::Conflict {
                        key: b.key.clone(),
                        field: b.field.clone(),
                        expected: *expected,
                        actual,
                    })
                });
            }
            tx.commit().await?;
            Ok(results
                .into_iter()
                .map(|r| r.unwrap_or_else(|| Err(lost())))
                .collect())
        })
    }

    /// Append entries in one transaction, set-based; returns their ids in
    /// order (one statement numbers its rows in order, and the ids of a
    /// chunk are read back sorted).
    pub async fn append_journal_batch(&self, entries: &[JournalEntry]) -> Result<Vec<i64>> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            tx.lock_journal().await?;
            let ids = tx.insert_journal(entries).await?;
            tx.commit().await?;
            Ok(ids)
        })
    }
}

fn value_after(change: &ValueChange) -> HubValue {
    HubValue {
        key: change.key.clone(),
        field: change.field.clone(),
        value: change.to.clone(),
        version: change.expected_version + 1,
        updated_at: change.at.clone(),
        updated_by: change.actor.clone(),
    }
}

fn value_conflict(change: &ValueChange, actual: Option<i64>) -> StoreError {
    StoreError::Conflict {
        key: change.key.clone(),
        field: change.field.clone(),
        expected: change.expected_version,
        actual,
    }
}

fn lost() -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(
        "a change of the batch was not decided".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_number_parameters_for_postgres_and_not_for_sqlite() {
        assert_eq!(tuples(2, "({}, 1, {})", true), "($1, 1, $2), ($3, 1, $4)");
        assert_eq!(
            tuples(2, "({}, CAST({} AS BIGINT))", false),
            "(?, CAST(? AS BIGINT)), (?, CAST(? AS BIGINT))"
        );
        assert_eq!(tuples(0, "({})", true), "");
    }

    #[test]
    fn repeats_are_told_apart_from_first_asks() {
        let (firsts, repeats) = firsts_and_repeats(["a", "b", "a", "c", "b"].into_iter());
        assert_eq!(firsts, [0, 1, 3]);
        assert_eq!(repeats, [2, 4]);
    }
}
