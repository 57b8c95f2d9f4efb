//! Replicas (checkouts of a repo) and what each last agreed on: the
//! per-replica bases that tell a stale copy from a real edit when several
//! clones sync into one hub.

use crate::bulk::BulkInsert;
use crate::records::{Replica, ReplicaBase};
use crate::store::{Also, Pool, Store, on_pool};
use crate::{Result, StoreError};

const BASE_COLUMNS: &str = "replica, item_key, rule, source, field, value, position, agreed_at";

/// A `replicas` row as the bulk reader returns it.
type ReplicaRow = (String, String, String, Option<String>, String, String);

impl Store {
    pub async fn replica(&self, id: &str) -> Result<Option<Replica>> {
        Ok(self.replicas_where(Some(id)).await?.pop())
    }

    /// Every replica the hub has seen, oldest first.
    pub async fn replicas(&self) -> Result<Vec<Replica>> {
        self.replicas_where(None).await
    }

    async fn replicas_where(&self, id: Option<&str>) -> Result<Vec<Replica>> {
        let rows: Vec<ReplicaRow> = self
            .bulk_rows_where(
                "id, repo, location, synced_head, first_seen, last_seen",
                "replicas",
                "first_seen, id",
                None,
                id.map(|id| ("id", Also::Is(id))),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, repo, location, synced_head, first_seen, last_seen)| Replica {
                    id,
                    repo,
                    location,
                    synced_head,
                    first_seen,
                    last_seen,
                },
            )
            .collect())
    }

    /// Record a replica (first sight keeps its `first_seen`).
    pub async fn put_replica(&self, replica: &Replica) -> Result<()> {
        const SQL: &str = "INSERT INTO replicas \
             (id, repo, location, synced_head, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET repo = excluded.repo, location = excluded.location, \
             synced_head = excluded.synced_head, last_seen = excluded.last_seen";
        on_pool!(self, |pool| {
            sqlx::query(SQL)
                .bind(&replica.id)
                .bind(&replica.repo)
                .bind(&replica.location)
                .bind(&replica.synced_head)
                .bind(&replica.first_seen)
                .bind(&replica.last_seen)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// The bases of one replica, of the given items only when `keys` is set.
    pub async fn replica_bases(
        &self,
        replica: &str,
        keys: Option<&[String]>,
    ) -> Result<Vec<ReplicaBase>> {
        self.replica_bases_where(keys, Also::Is(replica)).await
    }

    /// The bases of several replicas in one read (a sync reads every
    /// replica it checks: one query each cost a round trip per repo), of
    /// the given items only when `keys` is set.
    pub async fn replica_bases_of(
        &self,
        replicas: &[String],
        keys: Option<&[String]>,
    ) -> Result<Vec<ReplicaBase>> {
        if replicas.is_empty() {
            return Ok(Vec::new());
        }
        self.replica_bases_where(keys, Also::In(replicas)).await
    }

    async fn replica_bases_where(
        &self,
        keys: Option<&[String]>,
        replicas: Also<'_>,
    ) -> Result<Vec<ReplicaBase>> {
        type Row = (
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            String,
            String,
        );
        let rows: Vec<Row> = self
            .bulk_rows_where(
                BASE_COLUMNS,
                "replica_bases",
                "replica, item_key, rule, source",
                keys,
                Some(("replica", replicas)),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(replica, key, rule, source, field, value, position, agreed_at)| ReplicaBase {
                    replica,
                    key,
                    rule,
                    source,
                    field,
                    value,
                    position,
                    agreed_at,
                },
            )
            .collect())
    }

    /// Every replica base (for export), ordered by replica, key, rule, source.
    pub async fn all_replica_bases(&self) -> Result<Vec<ReplicaBase>> {
        let mut all = Vec::new();
        for replica in self.replicas().await? {
            all.extend(self.replica_bases(&replica.id, None).await?);
        }
        Ok(all)
    }

    /// Upsert replica bases in one transaction.
    pub async fn put_replica_bases(&self, bases: &[ReplicaBase]) -> Result<()> {
        self.write_replica_bases(bases, false).await
    }

    /// Replica bases the caller read none of, in one transaction: the same
    /// end as [`Store::put_replica_bases`] (one that exists after all is
    /// replaced), faster on PostgreSQL when none does (a first sync).
    pub async fn put_new_replica_bases(&self, bases: &[ReplicaBase]) -> Result<()> {
        self.write_replica_bases(bases, true).await
    }

    async fn write_replica_bases(&self, bases: &[ReplicaBase], new: bool) -> Result<()> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            if new {
                tx.insert_replica_bases(bases).await?;
            } else {
                tx.upsert_replica_bases(bases).await?;
            }
            tx.commit().await?;
            Ok::<(), StoreError>(())
        })
    }
}
