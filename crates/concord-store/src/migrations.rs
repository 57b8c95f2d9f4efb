//! Versioned schema migrations, embedded in the binary. A hub whose schema
//! is newer than this concord knows is refused, never written.

/// (version, SQLite script, PostgreSQL script), in order.
pub(crate) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        include_str!("../migrations/sqlite/0001_init.sql"),
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        include_str!("../migrations/sqlite/0002_pending_writes.sql"),
        include_str!("../migrations/postgres/0002_pending_writes.sql"),
    ),
    (
        3,
        include_str!("../migrations/sqlite/0003_observation_owner.sql"),
        include_str!("../migrations/postgres/0003_observation_owner.sql"),
    ),
    (
        4,
        include_str!("../migrations/sqlite/0004_observations_by_path.sql"),
        include_str!("../migrations/postgres/0004_observations_by_path.sql"),
    ),
    (
        5,
        include_str!("../migrations/sqlite/0005_check_snapshots.sql"),
        include_str!("../migrations/postgres/0005_check_snapshots.sql"),
    ),
    (
        6,
        include_str!("../migrations/sqlite/0006_citations.sql"),
        include_str!("../migrations/postgres/0006_citations.sql"),
    ),
    (
        7,
        include_str!("../migrations/sqlite/0007_release_trains.sql"),
        include_str!("../migrations/postgres/0007_release_trains.sql"),
    ),
    (
        8,
        include_str!("../migrations/sqlite/0008_serve.sql"),
        include_str!("../migrations/postgres/0008_serve.sql"),
    ),
    (
        9,
        include_str!("../migrations/sqlite/0009_bases_by_key.sql"),
        include_str!("../migrations/postgres/0009_bases_by_key.sql"),
    ),
    (
        10,
        include_str!("../migrations/sqlite/0010_replicas.sql"),
        include_str!("../migrations/postgres/0010_replicas.sql"),
    ),
    (
        11,
        include_str!("../migrations/sqlite/0011_no_replace.sql"),
        include_str!("../migrations/postgres/0011_no_replace.sql"),
    ),
    (
        12,
        include_str!("../migrations/sqlite/0012_webhook_deliveries.sql"),
        include_str!("../migrations/postgres/0012_webhook_deliveries.sql"),
    ),
    (
        13,
        include_str!("../migrations/sqlite/0013_observation_pinned.sql"),
        include_str!("../migrations/postgres/0013_observation_pinned.sql"),
    ),
    (
        14,
        include_str!("../migrations/sqlite/0014_scan_warnings.sql"),
        include_str!("../migrations/postgres/0014_scan_warnings.sql"),
    ),
];

pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}
