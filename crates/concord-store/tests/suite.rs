//! One suite, two backends: every test runs against SQLite and, when
//! `CONCORD_TEST_DATABASE_URL` is set, against PostgreSQL in a schema of
//! its own (so tests run in parallel).

use concord_store::{
    ApiToken, Base, CheckSnapshot, CitationAnswer, ItemFilter, JournalEntry, JournalFilter,
    JournalKind, ObservationRecord, ReleaseStep, ReleaseTrain, RunRecord, Store, StoreError,
    ValueChange, Watermark,
};
use sqlx::postgres::PgConnectOptions;
use std::str::FromStr;

/// A hub for one test, and what must be cleaned up after it.
struct TestHub {
    store: Store,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
    /// Opens another handle on the same hub (another "process").
    reopen: Reopen,
}

#[derive(Clone)]
enum Reopen {
    Sqlite(String, std::path::PathBuf),
    Postgres(String, String),
}

impl Reopen {
    async fn open(&self) -> Store {
        match self {
            Reopen::Sqlite(url, dir) => Store::open(url, dir).await.expect("reopen sqlite"),
            Reopen::Postgres(url, schema) => {
                let store = Store::connect_postgres(pg_options(url, schema), url)
                    .await
                    .expect("reopen postgres");
                store.migrate().await.expect("migrate");
                store
            }
        }
    }
}

fn pg_options(url: &str, schema: &str) -> PgConnectOptions {
    PgConnectOptions::from_str(url)
        .expect("postgres url")
        .options([("search_path", schema)])
}

async fn sqlite_hub() -> TestHub {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = "sqlite://.concord/hub.db".to_string();
    let store = Store::open(&url, dir.path())
        .await
        .expect("open sqlite hub");
    let reopen = Reopen::Sqlite(url, dir.path().to_path_buf());
    TestHub {
        store,
        _dir: Some(dir),
        pg: None,
        reopen,
    }
}

async fn postgres_hub() -> Option<TestHub> {
    let Ok(url) = std::env::var("CONCORD_TEST_DATABASE_URL") else {
        println!("skipped: CONCORD_TEST_DATABASE_URL is not set, PostgreSQL tests did not run");
        return None;
    };
    let schema = format!("concord_test_{:016x}", fastrand::u64(..));
    let admin = sqlx::PgPool::connect(&url)
        .await
        .expect("connect to test PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("create schema");
    admin.close().await;
    let store = Store::connect_postgres(pg_options(&url, &schema), &url)
        .await
        .expect("open postgres hub");
    store.migrate().await.expect("migrate");
    let reopen = Reopen::Postgres(url.clone(), schema.clone());
    Some(TestHub {
        store,
        _dir: None,
        pg: Some((url, schema)),
        reopen,
    })
}

impl TestHub {
    async fn cleanup(self) {
        self.store.close().await;
        if let Some((url, schema)) = self.pg
            && let Ok(admin) = sqlx::PgPool::connect(&url).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await;
            admin.close().await;
        }
    }
}

/// Generate `sqlite` and `postgres` tests from one async body.
macro_rules! both {
    ($name:ident, |$hub:ident| $body:block) => {
        mod $name {
            use super::*;

            async fn run($hub: &TestHub) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let hub = sqlite_hub().await;
                run(&hub).await;
                hub.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(hub) = postgres_hub().await {
                    run(&hub).await;
                    hub.cleanup().await;
                }
            }
        }
    };
}

fn change(key: &str, expected: i64, from: Option<&str>, to: &str) -> ValueChange {
    ValueChange {
        key: key.into(),
        field: "status".into(),
        expected_version: expected,
        from: from.map(Into::into),
        to: Some(to.into()),
        at: "2026-11-24T10:00:00Z".into(),
        actor: "tester@host".into(),
        run_id: None,
        reason: "SET_BY_USER".into(),
        note: None,
    }
}

fn event(key: &str, event_type: &str) -> JournalEntry {
    JournalEntry {
        id: 0,
        at: "2026-11-24T11:00:00Z".into(),
        run_id: Some("run-1".into()),
        actor: "tester@host".into(),
        key: key.into(),
        kind: JournalKind::Event,
        field: None,
        from: None,
        to: None,
        target: None,
        reason: "EVENT_LOGGED".into(),
        note: Some("summary text".into()),
        event_type: Some(event_type.into()),
        phase: Some("implementation".into()),
        artifacts: vec!["docs/a.md".into(), "tab\there".into()],
    }
}

/// A checkout of repo `app` that last synced at `head`.
fn replica(id: &str, head: Option<&str>) -> concord_store::Replica {
    concord_store::Replica {
        id: id.into(),
        repo: "app".into(),
        location: format!("host:/{id}"),
        synced_head: head.map(Into::into),
        first_seen: "2026-12-01T00:00:00Z".into(),
        last_seen: "2026-12-01T00:00:00Z".into(),
    }
}

/// What `replica` last agreed on for `key` under rule `tasks`.
fn replica_base(replica: &str, key: &str, value: &str) -> concord_store::ReplicaBase {
    concord_store::ReplicaBase {
        replica: replica.into(),
        key: key.into(),
        rule: "tasks".into(),
        source: "workplans".into(),
        field: "status".into(),
        value: Some(value.into()),
        position: "c1".into(),
        agreed_at: "2026-12-01T00:00:00Z".into(),
    }
}

fn observation(i: usize, status: &str) -> ObservationRecord {
    ObservationRecord {
        source: format!("src{}", i % 3),
        key: format!("K-{i:05}"),
        run_id: "run-1".into(),
        status: Some(status.into()),
        raw_status: Some(format!("{status}\twith\\odd\nbytes")),
        repo: "app".into(),
        path: format!("docs/plan-{}.md", i % 7),
        line: i as i64,
        observed_at: "2026-11-24T10:00:00Z".into(),
        owner: Some("ft2".into()),
        // Odd bytes here too: the COPY path must escape them.
        pinned: i
            .is_multiple_of(5)
            .then(|| "anchor `&s`\tan alias\\repeats\n".into()),
    }
}

/// A check snapshot with `findings_count` findings, sorted by fingerprint;
/// `id` is left at 0 (the hub assigns it).
fn snapshot(commit_id: Option<&str>, findings_count: usize) -> CheckSnapshot {
    let findings: String = (0..findings_count)
        .map(|i| {
            format!(
                "{{\"fingerprint\":\"fp-{i:08}\",\"rule\":\"status-known\",\
                 \"message\":\"tab\\there, quote \\\" and ünïcödé\",\"gating\":{}}}\n",
                i % 2 == 0
            )
        })
        .collect();
    CheckSnapshot {
        id: 0,
        taken_at: "2026-11-24T12:00:00.123456Z".into(),
        commit_id: commit_id.map(Into::into),
        actor: "tester@host".into(),
        findings,
        gating: findings_count.div_ceil(2) as i64,
        total: findings_count as i64,
    }
}

fn answer(repo: &str, number: i64, found: bool) -> CitationAnswer {
    CitationAnswer {
        repo: repo.into(),
        number,
        found,
        checked_at: "2026-11-24T10:00:00.000001Z".into(),
    }
}

fn train(name: &str) -> ReleaseTrain {
    ReleaseTrain {
        id: 0,
        name: name.into(),
        created_at: "2026-11-24T10:00:00.000001Z".into(),
        actor: "tester@host".into(),
        status: "prepared".into(),
        frozen: r#"{"lib-a":{"commit":"abc123","versions":{"lib-a":"1.4.2"}},"app":{"commit":"def456","versions":{}}}"#.into(),
        version: 0,
        updated_at: "2026-11-24T10:00:00.000001Z".into(),
    }
}

fn step(train_id: i64, text: &str, outcome: &str, detail: Option<&str>) -> ReleaseStep {
    ReleaseStep {
        train_id,
        seq: 0,
        step: text.into(),
        outcome: outcome.into(),
        at: "2026-11-24T10:05:00Z".into(),
        detail: detail.map(Into::into),
    }
}

/// A new, empty hub of the same backend as `hub`.
async fn fresh_like(hub: &TestHub) -> TestHub {
    match &hub.reopen {
        Reopen::Sqlite(..) => sqlite_hub().await,
        Reopen::Postgres(..) => postgres_hub().await.expect("postgres"),
    }
}

both!(migrations_are_idempotent, |hub| {
    assert_eq!(hub.store.schema_version().await.unwrap(), 14);
    assert_eq!(hub.store.migrate().await.unwrap(), 0);
    let again = hub.reopen.open().await;
    assert_eq!(again.schema_version().await.unwrap(), 14);
    again.close().await;
});

/// `marks` set together, 60 times over.
async fn set_marks_repeatedly(store: &Store, marks: &[Watermark]) {
    for _ in 0..60 {
        store.set_watermarks(marks).await.unwrap();
    }
}

both!(
    watermarks_set_together_all_land_and_a_name_given_twice_ends_as_the_later,
    |hub| {
        let store = &hub.store;
        let mark = |source: &str, position: &str| Watermark {
            source: source.into(),
            position: position.into(),
            updated_at: "2026-11-24T10:00:00Z".into(),
        };
        store.set_watermark(&mark("repo:a", "old")).await.unwrap();
        store
            .set_watermarks(&[
                mark("repo:a", "first"),
                mark("repo:b", "b1"),
                mark("repo:a", "last"),
            ])
            .await
            .unwrap();
        let marks = store.watermarks_with_prefix("repo:").await.unwrap();
        let positions: Vec<(&str, &str)> = marks
            .iter()
            .map(|m| (m.source.as_str(), m.position.as_str()))
            .collect();
        assert_eq!(positions, [("repo:a", "last"), ("repo:b", "b1")]);
        store.set_watermarks(&[]).await.unwrap();
        assert_eq!(
            store.watermarks_with_prefix("repo:").await.unwrap().len(),
            2
        );
    }
);

both!(
    watermarks_set_at_once_in_opposite_orders_never_deadlock,
    |hub| {
        // Two clones whose configs list the same sources in opposite orders,
        // leaving their read positions at the same moment.
        let names: Vec<String> = (0..40).map(|i| format!("source-{i:02}")).collect();
        let marks = |position: &str| -> Vec<Watermark> {
            names
                .iter()
                .map(|name| Watermark {
                    source: name.clone(),
                    position: position.into(),
                    updated_at: "2026-11-24T10:00:00Z".into(),
                })
                .collect()
        };
        let forward = marks("forward");
        let mut backward = marks("backward");
        backward.reverse();
        let (store, other) = (&hub.store, hub.reopen.open().await);
        tokio::join!(
            set_marks_repeatedly(store, &forward),
            set_marks_repeatedly(&other, &backward)
        );
        let left = store.watermarks_with_prefix("source-").await.unwrap();
        assert_eq!(left.len(), names.len());
        other.close().await;
    }
);

both!(a_newer_hub_is_refused, |hub| {
    // Simulate a future concord: schema version 99 recorded.
    let other = hub.reopen.open().await;
    sqlx_exec(
        &other,
        "INSERT INTO concord_schema (version, applied_at) VALUES (99, 'later')",
    )
    .await;
    let err = other.migrate().await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NewerSchema {
                found: 99,
                known: 14,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade concord"), "{err}");
    other.close().await;
});

both!(set_is_compare_and_set_and_journaled, |hub| {
    let store = &hub.store;
    assert!(store.hub_value("K1", "status").await.unwrap().is_none());
    let v1 = store
        .set_hub_value(&change("K1", 0, None, "todo"))
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    let v2 = store
        .set_hub_value(&change("K1", 1, Some("todo"), "done"))
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    // A writer that planned from version 1 lost the race.
    let err = store
        .set_hub_value(&change("K1", 1, Some("todo"), "blocked"))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(matches!(
        err,
        StoreError::Conflict {
            expected: 1,
            actual: Some(2),
            ..
        }
    ));
    // Creating what already exists is a conflict too.
    let err = store
        .set_hub_value(&change("K1", 0, None, "todo"))
        .await
        .unwrap_err();
    assert!(err.is_conflict());
    let stored = store.hub_value("K1", "status").await.unwrap().unwrap();
    assert_eq!(stored.value.as_deref(), Some("done"));
    let history = store.history("K1").await.unwrap();
    let moves: Vec<_> = history
        .iter()
        .map(|e| (e.from.clone(), e.to.clone()))
        .collect();
    assert_eq!(
        moves,
        vec![
            (None, Some("todo".to_string())),
            (Some("todo".into()), Some("done".into()))
        ]
    );
    assert!(
        history
            .iter()
            .all(|e| e.kind == JournalKind::Change && e.target.as_deref() == Some("hub"))
    );
});

both!(journal_is_append_only, |hub| {
    let store = &hub.store;
    let id = store
        .append_journal(&event("K2", "phase_started"))
        .await
        .unwrap();
    assert!(id > 0);
    for sql in ["UPDATE journal SET note = 'x'", "DELETE FROM journal"] {
        let result = sqlx_try(store, sql).await;
        let err = result.expect_err(sql);
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    // Replacing a row is a delete and an insert in SQLite (no delete
    // trigger fires) and an update in PostgreSQL: both refused.
    let replace = match store.backend() {
        concord_store::Backend::Sqlite => format!(
            "INSERT OR REPLACE INTO journal (id, at, actor, item_key, kind, reason) \
             VALUES ({id}, 'then', 'forger', 'K2', 'change', 'FORGED')"
        ),
        concord_store::Backend::Postgres => format!(
            "INSERT INTO journal (id, at, actor, item_key, kind, reason) \
             VALUES ({id}, 'then', 'forger', 'K2', 'change', 'FORGED') \
             ON CONFLICT (id) DO UPDATE SET reason = 'FORGED'"
        ),
    };
    let err = sqlx_try(store, &replace)
        .await
        .expect_err("replace refused");
    assert!(err.contains("append-only"), "{err}");
    let history = store.history("K2").await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        history[0].artifacts,
        vec!["docs/a.md".to_string(), "tab\there".to_string()]
    );
    assert_eq!(history[0].event_type.as_deref(), Some("phase_started"));
});

both!(history_is_oldest_first_and_per_item, |hub| {
    let store = &hub.store;
    store.append_journal(&event("A", "first")).await.unwrap();
    store.append_journal(&event("B", "other")).await.unwrap();
    store
        .set_hub_value(&change("A", 0, None, "todo"))
        .await
        .unwrap();
    store.append_journal(&event("A", "third")).await.unwrap();
    let history = store.history("A").await.unwrap();
    let kinds: Vec<_> = history
        .iter()
        .map(|e| e.event_type.clone().unwrap_or_else(|| "change".into()))
        .collect();
    assert_eq!(kinds, ["first", "change", "third"]);
    assert!(history.windows(2).all(|w| w[0].id < w[1].id));
});

both!(observations_upsert_keeps_the_latest, |hub| {
    let store = &hub.store;
    let first: Vec<_> = (0..1234).map(|i| observation(i, "todo")).collect();
    store.record_observations(&first).await.unwrap();
    let mut second: Vec<_> = (0..1234).map(|i| observation(i, "done")).collect();
    for o in &mut second {
        o.run_id = "run-2".into();
    }
    store.record_observations(&second).await.unwrap();
    let all = store.observations(None).await.unwrap();
    assert_eq!(all.len(), 1234);
    assert!(
        all.iter()
            .all(|o| o.status.as_deref() == Some("done") && o.run_id == "run-2")
    );
    let one = store.observations(Some("K-00007")).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].raw_status.as_deref(), Some("done\twith\\odd\nbytes"));
});

both!(replica_bases_are_per_replica_and_survive_export, |hub| {
    let store = &hub.store;
    let base = replica_base;
    store.put_replica(&replica("ra", Some("c1"))).await.unwrap();
    store.put_replica(&replica("rb", Some("c2"))).await.unwrap();
    // More rows than one multi-row statement holds.
    let many: Vec<_> = (0..250)
        .map(|i| base("ra", &format!("K{i:03}"), "todo"))
        .chain([base("rb", "K000", "done")])
        .collect();
    store.put_replica_bases(&many).await.unwrap();
    // An upsert moves one row and leaves the other replica's alone.
    store
        .put_replica_bases(&[base("ra", "K000", "in_progress")])
        .await
        .unwrap();
    let a = store.replica_bases("ra", None).await.unwrap();
    assert_eq!(a.len(), 250);
    assert_eq!(a[0].value.as_deref(), Some("in_progress"));
    let b = store
        .replica_bases("rb", Some(&["K000".to_string(), "K001".to_string()]))
        .await
        .unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].value.as_deref(), Some("done"));
    // Several replicas in one read: the rows of each, of the keys asked.
    let keys = ["K000".to_string(), "K249".to_string(), "K999".to_string()];
    let both = store
        .replica_bases_of(&["rb".to_string(), "ra".to_string()], Some(&keys))
        .await
        .unwrap();
    let got: Vec<(&str, &str, Option<&str>)> = both
        .iter()
        .map(|b| (b.replica.as_str(), b.key.as_str(), b.value.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("ra", "K000", Some("in_progress")),
            ("ra", "K249", Some("todo")),
            ("rb", "K000", Some("done")),
        ]
    );
    let all = store
        .replica_bases_of(&["ra".to_string(), "nobody".to_string()], None)
        .await
        .unwrap();
    assert_eq!(all.len(), 250);
    assert!(store.replica_bases_of(&[], None).await.unwrap().is_empty());
    let got = store.replica("rb").await.unwrap().unwrap();
    assert_eq!(got.synced_head.as_deref(), Some("c2"));
    let mut export = Vec::new();
    store.export(&mut export).await.unwrap();
    let text = String::from_utf8(export).unwrap();
    assert_eq!(text.matches("\"table\":\"replica_bases\"").count(), 251);
    assert_eq!(text.matches("\"table\":\"replicas\"").count(), 2);
});

both!(export_import_round_trip_is_lossless, |hub| {
    let store = &hub.store;
    store
        .set_hub_value(&change("K1", 0, None, "todo"))
        .await
        .unwrap();
    store
        .set_hub_value(&change("K1", 1, Some("todo"), "done"))
        .await
        .unwrap();
    store.append_journal(&event("K1", "shipped")).await.unwrap();
    store
        .put_base(
            &Base {
                rule: "r1".into(),
                key: "K1".into(),
                field: "status".into(),
                value: Some("done".into()),
                versions: r#"{"plan":"abc123"}"#.into(),
                version: 0,
                agreed_at: "2026-11-24T10:00:00Z".into(),
            },
            0,
        )
        .await
        .unwrap();
    store
        .set_watermark(&Watermark {
            source: "plan".into(),
            position: "abc123".into(),
            updated_at: "2026-11-24T10:00:00Z".into(),
        })
        .await
        .unwrap();
    store
        .start_run(&RunRecord {
            id: "run-1".into(),
            command: "scan".into(),
            actor: "tester@host".into(),
            started_at: "2026-11-24T10:00:00Z".into(),
            finished_at: None,
            outcome: None,
            summary: None,
        })
        .await
        .unwrap();
    store
        .finish_run("run-1", "2026-11-24T10:00:01Z", "clean", "3 items")
        .await
        .unwrap();
    store
        .record_observations(&(0..10).map(|i| observation(i, "done")).collect::<Vec<_>>())
        .await
        .unwrap();
    store
        .add_pending_write(&concord_store::PendingWrite {
            repo: "app".into(),
            path: "docs/plan.md".into(),
            sha256: "ab".repeat(32),
            run_id: "run-1".into(),
            created_at: "2026-11-24T10:00:00Z".into(),
        })
        .await
        .unwrap();
    let snapshot_id = store
        .add_check_snapshot(&snapshot(Some("abc123"), 2))
        .await
        .unwrap();
    store
        .put_citation_answers(&[answer("owner/app", 12, false)])
        .await
        .unwrap();
    let train_id = store.add_release_train(&train("2026.11")).await.unwrap();
    store
        .append_release_step(&step(train_id, "publish lib-a 1.4.2", "started", None))
        .await
        .unwrap();
    store
        .append_release_step(&step(
            train_id,
            "publish lib-a 1.4.2",
            "failed",
            Some("registry said:\n\t503"),
        ))
        .await
        .unwrap();
    let mut first = Vec::new();
    let exported = store.export(&mut first).await.unwrap();
    assert_eq!(exported.rows, 1 + 1 + 1 + 1 + 10 + 3 + 1 + 1 + 1 + 1 + 2);

    // Restore into a fresh hub of the same backend, then export again.
    let fresh = fresh_like(hub).await;
    let imported = fresh
        .store
        .import(std::io::Cursor::new(&first))
        .await
        .unwrap();
    assert_eq!(imported.rows, exported.rows);
    let mut second = Vec::new();
    fresh.store.export(&mut second).await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second)
    );
    // The journal keeps counting after the restored ids.
    let next = fresh
        .store
        .append_journal(&event("K1", "after"))
        .await
        .unwrap();
    assert_eq!(next, 4);
    // So do the check snapshots.
    let next = fresh
        .store
        .add_check_snapshot(&snapshot(None, 0))
        .await
        .unwrap();
    assert_eq!(next, snapshot_id + 1);
    // So do the release trains.
    let next = fresh
        .store
        .add_release_train(&train("2026.12"))
        .await
        .unwrap();
    assert_eq!(next, train_id + 1);
    // A second import into a non-empty hub is refused and changes nothing.
    let err = fresh
        .store
        .import(std::io::Cursor::new(&first))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(fresh.store.journal_len().await.unwrap(), 4);
    fresh.cleanup().await;
});

both!(an_export_cut_short_or_changed_is_refused_whole, |hub| {
    let store = &hub.store;
    for i in 0..40 {
        store
            .append_journal(&event(&format!("K{i}"), "shipped"))
            .await
            .unwrap();
    }
    let mut export = Vec::new();
    store.export(&mut export).await.unwrap();
    let text = String::from_utf8(export).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.last().unwrap().starts_with("{\"trailer\""), "{text}");
    let fresh = fresh_like(hub).await;
    // Cut at a line boundary, trailer gone: refused.
    let cut = format!("{}\n", lines[..30].join("\n"));
    let err = fresh
        .store
        .import(std::io::Cursor::new(cut))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no trailer"), "{err}");
    // Rows dropped but the trailer kept: refused, naming the table.
    let dropped = format!("{}\n{}\n", lines[..30].join("\n"), lines.last().unwrap());
    let err = fresh
        .store
        .import(std::io::Cursor::new(dropped))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    // One row changed: refused.
    let changed = text.replacen("shipped", "shipper", 1);
    let err = fresh
        .store
        .import(std::io::Cursor::new(changed))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    assert_eq!(
        fresh.store.journal_len().await.unwrap(),
        0,
        "nothing written"
    );
    // Whole: imported.
    let summary = fresh
        .store
        .import(std::io::Cursor::new(text))
        .await
        .unwrap();
    assert_eq!(summary.rows, 40);
    fresh.cleanup().await;
});

both!(import_rejects_garbage_without_writing, |hub| {
    let store = &hub.store;
    let unverified = concord_store::ImportOptions { unverified: true };
    let bad = "{\"format\":\"concord-hub-export\",\"version\":1,\"schema\":1}\n{\"table\":\"journal\",\"row\":{\"id\":1}}\n";
    let err = store
        .import_with(std::io::Cursor::new(bad), unverified)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = store
        .import_with(std::io::Cursor::new("not json\n"), unverified)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    // Without a trailer an export cannot be shown whole: refused by default.
    let err = store.import(std::io::Cursor::new(bad)).await.unwrap_err();
    assert!(err.to_string().contains("no trailer"), "{err}");
    assert_eq!(store.journal_len().await.unwrap(), 0);
});

both!(concurrent_writers_lose_no_update, |hub| {
    const WRITERS: usize = 8;
    const UPDATES: usize = 500;
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let reopen = hub.reopen.clone();
        tasks.push(tokio::spawn(async move {
            // Each writer has its own connection pool, like a separate process.
            let store = reopen.open().await;
            let mut accepted = 0;
            let mut conflicts = 0;
            while accepted < UPDATES {
                let current = store.hub_value("COUNTER", "status").await.unwrap();
                let (version, value) = match &current {
                    Some(v) => (v.version, v.value.clone()),
                    None => (0, None),
                };
                let next = value.as_deref().map_or(0, |v| v.parse::<u64>().unwrap()) + 1;
                let mut c = change("COUNTER", version, value.as_deref(), &next.to_string());
                c.actor = format!("writer-{writer}");
                match store.set_hub_value(&c).await {
                    Ok(_) => accepted += 1,
                    Err(e) if e.is_conflict() => conflicts += 1,
                    Err(e) => panic!("writer {writer}: {e}"),
                }
            }
            store.close().await;
            conflicts
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    let total = (WRITERS * UPDATES) as i64;
    let stored = hub
        .store
        .hub_value("COUNTER", "status")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, total);
    assert_eq!(stored.value, Some(total.to_string()));
    let journal = hub.store.history("COUNTER").await.unwrap();
    assert_eq!(
        journal.len() as i64,
        total,
        "every accepted update journaled exactly once"
    );
    // Each change starts from the value the previous one wrote: nothing was overwritten unseen.
    let mut previous: Option<String> = None;
    for entry in &journal {
        assert_eq!(entry.from, previous, "entry {}", entry.id);
        previous = entry.to.clone();
    }
    println!("{total} updates accepted, {conflicts} conflicts retried");
});

async fn sqlx_try(store: &Store, sql: &str) -> Result<(), String> {
    store
        .execute_raw_for_tests(sql)
        .await
        .map_err(|e| e.to_string())
}

async fn sqlx_exec(store: &Store, sql: &str) {
    sqlx_try(store, sql).await.expect(sql);
}

both!(focused_reads_return_only_the_given_items, |hub| {
    let store = &hub.store;
    let changes: Vec<_> = (0..20)
        .map(|i| change(&format!("K-{i:05}"), 0, None, "todo"))
        .collect();
    store.set_hub_values(&changes).await.unwrap();
    let mark = store.journal_high_water().await.unwrap();
    store
        .set_hub_value(&change("K-00003", 1, Some("todo"), "done"))
        .await
        .unwrap();
    store
        .append_journal(&event("K-00007", "note"))
        .await
        .unwrap();
    store
        .append_journal(&event("K-00003", "note"))
        .await
        .unwrap();
    assert_eq!(
        store.journal_keys_since(mark).await.unwrap(),
        ["K-00003", "K-00007"]
    );
    for i in [2, 3, 9] {
        let base = Base {
            rule: "tasks".into(),
            key: format!("K-{i:05}"),
            field: "status".into(),
            value: Some("todo".into()),
            versions: "{}".into(),
            version: 0,
            agreed_at: "2026-11-24T10:00:00Z".into(),
        };
        store.put_base(&base, 0).await.unwrap();
    }
    store
        .record_observations(&(0..20).map(|i| observation(i, "todo")).collect::<Vec<_>>())
        .await
        .unwrap();

    let wanted = ["K-00003".to_string(), "K-00009".into(), "nope".into()];
    let values = store.hub_values_for(&wanted).await.unwrap();
    let keys: Vec<_> = values.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(keys, ["K-00003", "K-00009"]);
    assert_eq!(values[0].value.as_deref(), Some("done"));
    let bases = store.bases_for(&wanted).await.unwrap();
    let keys: Vec<_> = bases.iter().map(|b| b.key.as_str()).collect();
    assert_eq!(keys, ["K-00003", "K-00009"]);
    let observed = store.observations_for(&wanted).await.unwrap();
    let keys: Vec<_> = observed.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["K-00003", "K-00009"]);
    assert!(store.hub_values_for(&[]).await.unwrap().is_empty());

    // observation(i) puts item i of source src{i%3} in docs/plan-{i%7}.md.
    let paths = ["docs/plan-1.md".to_string(), "docs/plan-2.md".into()];
    let mut expected: Vec<String> = (0..20)
        .filter(|i| i % 3 == 0 && (i % 7 == 1 || i % 7 == 2))
        .map(|i| format!("K-{i:05}"))
        .collect();
    expected.sort();
    assert_eq!(
        store.observation_keys_in("src0", &paths).await.unwrap(),
        expected
    );
});

both!(pending_writes_are_added_and_cleared_in_batches, |hub| {
    let store = &hub.store;
    let writes: Vec<_> = ["a.md", "b.md", "c.md"]
        .iter()
        .map(|path| concord_store::PendingWrite {
            repo: "app".into(),
            path: (*path).into(),
            sha256: "ab".repeat(32),
            run_id: "run-1".into(),
            created_at: "2026-11-24T10:00:00Z".into(),
        })
        .collect();
    store.add_pending_writes(&writes).await.unwrap();
    store
        .clear_pending_writes("app", &["a.md".into(), "c.md".into(), "gone.md".into()])
        .await
        .unwrap();
    let left: Vec<_> = store
        .pending_writes()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.path)
        .collect();
    assert_eq!(left, ["b.md"]);
});

both!(check_snapshots_add_latest_list_and_get, |hub| {
    let store = &hub.store;
    assert!(store.latest_check_snapshot().await.unwrap().is_none());
    assert!(store.check_snapshots().await.unwrap().is_empty());
    assert!(store.check_snapshot(1).await.unwrap().is_none());

    let mut older = snapshot(Some("abc123"), 3);
    older.id = 999; // ignored: the hub assigns ids
    let older_id = store.add_check_snapshot(&older).await.unwrap();
    let mut newer = snapshot(None, 5);
    newer.taken_at = "2026-11-25T08:00:00Z".into();
    newer.actor = "other@host".into();
    let newer_id = store.add_check_snapshot(&newer).await.unwrap();
    assert!(newer_id > older_id);
    assert_ne!(older_id, 999);

    let latest = store.latest_check_snapshot().await.unwrap().unwrap();
    assert_eq!(
        latest,
        CheckSnapshot {
            id: newer_id,
            ..newer.clone()
        }
    );

    // The listing is newest first and leaves the findings out.
    let listed = store.check_snapshots().await.unwrap();
    assert_eq!(
        listed,
        vec![
            CheckSnapshot {
                id: newer_id,
                findings: String::new(),
                ..newer.clone()
            },
            CheckSnapshot {
                id: older_id,
                findings: String::new(),
                ..older.clone()
            },
        ]
    );

    let got = store.check_snapshot(older_id).await.unwrap().unwrap();
    assert_eq!(
        got,
        CheckSnapshot {
            id: older_id,
            ..older.clone()
        }
    );
    assert_eq!(got.findings.lines().count(), 3);
    assert_eq!(got.commit_id.as_deref(), Some("abc123"));
    assert!(store.check_snapshot(newer_id + 1).await.unwrap().is_none());
});

both!(check_snapshot_of_5_mb_findings_round_trips, |hub| {
    let store = &hub.store;
    let mut big = snapshot(Some("abc123"), 0);
    let mut i = 0usize;
    while big.findings.len() < 5 * 1024 * 1024 {
        big.findings.push_str(&format!(
            "{{\"fingerprint\":\"{i:016x}\",\"message\":\"line\\twith \\\\ and ünïcödé {}\"}}\n",
            "x".repeat(i % 200)
        ));
        i += 1;
    }
    big.total = i as i64;
    big.gating = (i / 3) as i64;
    let id = store.add_check_snapshot(&big).await.unwrap();
    let got = store.check_snapshot(id).await.unwrap().unwrap();
    assert_eq!(got.findings.len(), big.findings.len());
    assert!(got.findings == big.findings, "the findings text changed");
    assert_eq!(got, CheckSnapshot { id, ..big.clone() });
    let latest = store.latest_check_snapshot().await.unwrap().unwrap();
    assert!(latest == got, "latest differs from the snapshot by id");
    let listed = store.check_snapshots().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].findings.is_empty());
    assert_eq!(listed[0].total, big.total);
});

both!(export_import_keeps_check_snapshots, |hub| {
    let store = &hub.store;
    let mut big = snapshot(Some("abc123"), 20_000);
    big.taken_at = "2026-11-24T09:00:00Z".into();
    let ids = [
        store.add_check_snapshot(&big).await.unwrap(),
        store.add_check_snapshot(&snapshot(None, 0)).await.unwrap(),
        store
            .add_check_snapshot(&snapshot(Some("def456"), 7))
            .await
            .unwrap(),
    ];
    let mut first = Vec::new();
    let exported = store.export(&mut first).await.unwrap();
    assert_eq!(exported.rows, 3);

    let fresh = fresh_like(hub).await;
    let imported = fresh
        .store
        .import(std::io::Cursor::new(&first))
        .await
        .unwrap();
    assert_eq!(imported.rows, 3);
    assert_eq!(
        fresh.store.check_snapshots().await.unwrap(),
        store.check_snapshots().await.unwrap()
    );
    for id in ids {
        let restored = fresh.store.check_snapshot(id).await.unwrap();
        assert!(
            restored == store.check_snapshot(id).await.unwrap(),
            "snapshot {id} differs after import"
        );
    }
    let mut second = Vec::new();
    fresh.store.export(&mut second).await.unwrap();
    assert!(first == second, "the re-export differs");
    // New snapshots continue after the restored ids.
    let next = fresh
        .store
        .add_check_snapshot(&snapshot(None, 1))
        .await
        .unwrap();
    assert_eq!(next, ids[2] + 1);
    // An import into a hub that has snapshots is refused.
    let err = fresh
        .store
        .import(std::io::Cursor::new(&first))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    fresh.cleanup().await;
});

both!(citations_put_and_list_round_trip, |hub| {
    let store = &hub.store;
    assert!(store.citation_answers().await.unwrap().is_empty());
    store.put_citation_answers(&[]).await.unwrap();
    assert!(store.citation_answers().await.unwrap().is_empty());
    // Given out of order; `a-b/x` sorts before `ab/a` in byte order,
    // after it in most locales' collations.
    let given = vec![
        answer("ab/a", 1, true),
        answer("Owner/App", 3_000_000_000, false),
        answer("a-b/x", 7, false),
        answer("owner/app", 20, true),
        answer("owner/app", 3, true),
    ];
    store.put_citation_answers(&given).await.unwrap();
    let listed = store.citation_answers().await.unwrap();
    assert_eq!(
        listed,
        vec![
            answer("a-b/x", 7, false),
            answer("ab/a", 1, true),
            answer("owner/app", 3, true),
            answer("owner/app", 20, true),
            // The repo is stored lowercase; numbers beyond 32 bits survive.
            answer("owner/app", 3_000_000_000, false),
        ]
    );
    // Another handle (another process) sees the same answers.
    let other = hub.reopen.open().await;
    assert_eq!(other.citation_answers().await.unwrap(), listed);
    other.close().await;
});

both!(citations_upsert_replaces_the_stored_answer, |hub| {
    let store = &hub.store;
    store
        .put_citation_answers(&[answer("owner/app", 1, false), answer("owner/app", 2, true)])
        .await
        .unwrap();
    let mut newer = answer("Owner/APP", 1, true);
    newer.checked_at = "2026-11-25T08:00:00.000000Z".into();
    store
        .put_citation_answers(std::slice::from_ref(&newer))
        .await
        .unwrap();
    let listed = store.citation_answers().await.unwrap();
    assert_eq!(
        listed,
        vec![
            CitationAnswer {
                repo: "owner/app".into(),
                ..newer.clone()
            },
            answer("owner/app", 2, true),
        ]
    );
    // One call naming a citation twice (in any case): the later answer wins.
    let mut last = answer("owner/app", 2, false);
    last.checked_at = "2026-11-26T08:00:00.000000Z".into();
    store
        .put_citation_answers(&[
            answer("owner/app", 2, true),
            answer("OWNER/app", 2, true),
            last.clone(),
        ])
        .await
        .unwrap();
    let listed = store.citation_answers().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1], last);
});

both!(forget_missing_citations_keeps_the_found, |hub| {
    let store = &hub.store;
    assert_eq!(store.forget_missing_citations().await.unwrap(), 0);
    store
        .put_citation_answers(&[
            answer("owner/app", 1, true),
            answer("owner/app", 2, false),
            answer("owner/lib", 3, false),
            answer("owner/lib", 4, true),
        ])
        .await
        .unwrap();
    assert_eq!(store.forget_missing_citations().await.unwrap(), 2);
    assert_eq!(
        store.citation_answers().await.unwrap(),
        vec![answer("owner/app", 1, true), answer("owner/lib", 4, true)]
    );
    assert_eq!(store.forget_missing_citations().await.unwrap(), 0);
    assert_eq!(store.citation_answers().await.unwrap().len(), 2);
});

both!(citations_10_000_in_one_call, |hub| {
    let store = &hub.store;
    // Given newest number first, across 10 repos.
    let many: Vec<_> = (0..10_000i64)
        .rev()
        .map(|i| answer(&format!("owner/repo-{}", i % 10), i, i % 3 != 0))
        .collect();
    let started = std::time::Instant::now();
    store.put_citation_answers(&many).await.unwrap();
    let put = started.elapsed();
    let listed = store.citation_answers().await.unwrap();
    assert_eq!(listed.len(), 10_000);
    let mut expected = many.clone();
    expected.sort_by(|a, b| (&a.repo, a.number).cmp(&(&b.repo, b.number)));
    assert!(listed == expected, "the 10,000 answers differ");
    // Upserting them all again, answers flipped, replaces every one.
    let flipped: Vec<_> = many
        .iter()
        .map(|a| CitationAnswer {
            found: !a.found,
            ..a.clone()
        })
        .collect();
    store.put_citation_answers(&flipped).await.unwrap();
    let listed = store.citation_answers().await.unwrap();
    assert_eq!(listed.len(), 10_000);
    assert!(listed.iter().all(|a| a.found == (a.number % 3 == 0)));
    // i % 3 == 0 for 3,334 of 0..10,000: those are found now, the rest missing.
    assert_eq!(store.forget_missing_citations().await.unwrap(), 6_666);
    assert_eq!(store.citation_answers().await.unwrap().len(), 3_334);
    println!("10,000 citation answers put in {put:?}");
});

both!(export_import_keeps_citations, |hub| {
    let store = &hub.store;
    let answers: Vec<_> = (1..=500i64)
        .map(|i| answer(&format!("owner/repo-{}", i % 4), i, i % 5 != 0))
        .collect();
    store.put_citation_answers(&answers).await.unwrap();
    let mut first = Vec::new();
    let exported = store.export(&mut first).await.unwrap();
    assert_eq!(exported.rows, 500);
    let text = String::from_utf8_lossy(&first);
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("{\"table\":\"citations\"")),
        "{text:.300}"
    );

    let fresh = fresh_like(hub).await;
    let imported = fresh
        .store
        .import(std::io::Cursor::new(&first))
        .await
        .unwrap();
    assert_eq!(imported.rows, 500);
    assert_eq!(
        fresh.store.citation_answers().await.unwrap(),
        store.citation_answers().await.unwrap()
    );
    let mut second = Vec::new();
    fresh.store.export(&mut second).await.unwrap();
    assert!(first == second, "the re-export differs");
    // A hub that has only citation answers is not empty: import is refused.
    let err = fresh
        .store
        .import(std::io::Cursor::new(&first))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("citations has 500 rows"), "{err}");
    fresh.cleanup().await;
});

both!(release_trains_add_get_latest_list, |hub| {
    let store = &hub.store;
    assert!(store.release_trains().await.unwrap().is_empty());
    assert!(store.release_train(1).await.unwrap().is_none());
    assert!(
        store
            .latest_release_train("2026.11")
            .await
            .unwrap()
            .is_none()
    );
    // id and version are the hub's to assign.
    let mut given = train("2026.11");
    given.id = 99;
    given.version = 42;
    let a = store.add_release_train(&given).await.unwrap();
    let b = store.add_release_train(&train("2026.12")).await.unwrap();
    let mut again = train("2026.11");
    again.actor = "other@host".into();
    let c = store.add_release_train(&again).await.unwrap();
    assert!(a < b && b < c, "{a} {b} {c}");
    let got = store.release_train(a).await.unwrap().unwrap();
    assert_eq!(
        got,
        ReleaseTrain {
            id: a,
            version: 1,
            ..train("2026.11")
        }
    );
    assert!(store.release_train(c + 1).await.unwrap().is_none());
    let latest = store
        .latest_release_train("2026.11")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((latest.id, latest.actor.as_str()), (c, "other@host"));
    assert_eq!(
        store
            .latest_release_train("2026.12")
            .await
            .unwrap()
            .unwrap()
            .id,
        b
    );
    assert!(store.latest_release_train("2026").await.unwrap().is_none());
    let listed: Vec<i64> = store
        .release_trains()
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, [c, b, a]);
});

both!(release_status_is_compare_and_set, |hub| {
    let store = &hub.store;
    let id = store.add_release_train(&train("2026.11")).await.unwrap();
    let shipping = store
        .set_release_status(id, 1, "shipping", "2026-11-24T11:00:00Z")
        .await
        .unwrap();
    assert_eq!(shipping.status, "shipping");
    assert_eq!(shipping.version, 2);
    assert_eq!(shipping.updated_at, "2026-11-24T11:00:00Z");
    assert_eq!(shipping.created_at, train("2026.11").created_at);
    assert_eq!(store.release_train(id).await.unwrap().unwrap(), shipping);
    // A second `run` that read version 1 lost the race.
    let err = store
        .set_release_status(id, 1, "aborted", "2026-11-24T11:00:01Z")
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let expected_key = format!("train:{id}");
    assert!(
        matches!(
            &err,
            StoreError::Conflict { key, field, expected: 1, actual: Some(2) }
                if *key == expected_key && field == "status"
        ),
        "{err:?}"
    );
    assert_eq!(store.release_train(id).await.unwrap().unwrap(), shipping);
    // A train that does not exist has no version to match.
    let err = store
        .set_release_status(id + 1, 1, "aborted", "2026-11-24T11:00:01Z")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { actual: None, .. }),
        "{err:?}"
    );
    let shipped = store
        .set_release_status(id, 2, "shipped", "2026-11-24T12:00:00Z")
        .await
        .unwrap();
    assert_eq!((shipped.status.as_str(), shipped.version), ("shipped", 3));
    assert_eq!(store.release_train(id).await.unwrap().unwrap(), shipped);
});

both!(release_steps_cannot_be_replaced, |hub| {
    let store = &hub.store;
    let a = store.add_release_train(&train("a")).await.unwrap();
    store
        .append_release_step(&step(a, "publish lib-a 1.4.2", "failed", None))
        .await
        .unwrap();
    let replace = match store.backend() {
        concord_store::Backend::Sqlite => format!(
            "INSERT OR REPLACE INTO release_steps (train_id, seq, step, outcome, at) \
             VALUES ({a}, 1, 'publish lib-a 1.4.2', 'done', 'then')"
        ),
        concord_store::Backend::Postgres => format!(
            "INSERT INTO release_steps (train_id, seq, step, outcome, at) \
             VALUES ({a}, 1, 'publish lib-a 1.4.2', 'done', 'then') \
             ON CONFLICT (train_id, seq) DO UPDATE SET outcome = 'done'"
        ),
    };
    let err = sqlx_try(store, &replace)
        .await
        .expect_err("replace refused");
    assert!(err.contains("append-only"), "{err}");
    let steps = store.release_steps(a).await.unwrap();
    assert_eq!(steps[0].outcome, "failed");
});

both!(release_steps_get_consecutive_seqs, |hub| {
    let store = &hub.store;
    let a = store.add_release_train(&train("a")).await.unwrap();
    let b = store.add_release_train(&train("b")).await.unwrap();
    assert!(store.release_steps(a).await.unwrap().is_empty());
    let mut given = step(a, "publish lib-a 1.4.2", "started", None);
    given.seq = 77;
    assert_eq!(store.append_release_step(&given).await.unwrap(), 1);
    assert_eq!(
        store
            .append_release_step(&step(a, "publish lib-a 1.4.2", "done", Some("ünïcödé\tok")))
            .await
            .unwrap(),
        2
    );
    // Each train counts on its own.
    assert_eq!(
        store
            .append_release_step(&step(b, "deploy app", "unknown", None))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .append_release_step(&step(a, "re-pin app", "skipped", None))
            .await
            .unwrap(),
        3
    );
    let steps = store.release_steps(a).await.unwrap();
    assert_eq!(
        steps,
        vec![
            ReleaseStep {
                seq: 1,
                ..step(a, "publish lib-a 1.4.2", "started", None)
            },
            ReleaseStep {
                seq: 2,
                ..step(a, "publish lib-a 1.4.2", "done", Some("ünïcödé\tok"))
            },
            ReleaseStep {
                seq: 3,
                ..step(a, "re-pin app", "skipped", None)
            },
        ]
    );
    assert_eq!(store.release_steps(b).await.unwrap().len(), 1);
    // A step of a train that does not exist is refused.
    let err = store
        .append_release_step(&step(b + 1, "publish x", "started", None))
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("foreign key"),
        "{err}"
    );
    assert!(store.release_steps(b + 1).await.unwrap().is_empty());
});

both!(
    release_steps_concurrent_appenders_get_distinct_seqs,
    |hub| {
        const APPENDERS: usize = 8;
        const STEPS: usize = 50;
        let id = hub
            .store
            .add_release_train(&train("2026.11"))
            .await
            .unwrap();
        // A second train, appended to at the same time, must not disturb the count.
        let other = hub.store.add_release_train(&train("other")).await.unwrap();
        let mut tasks = Vec::new();
        for appender in 0..APPENDERS {
            let reopen = hub.reopen.clone();
            tasks.push(tokio::spawn(async move {
                // Each appender has its own connection pool, like a separate process.
                let store = reopen.open().await;
                let mut seqs = Vec::with_capacity(STEPS);
                for i in 0..STEPS {
                    let text = format!("appender {appender} step {i}");
                    seqs.push(
                        store
                            .append_release_step(&step(id, &text, "done", None))
                            .await
                            .unwrap(),
                    );
                    if i % 10 == 0 {
                        store
                            .append_release_step(&step(other, &text, "done", None))
                            .await
                            .unwrap();
                    }
                }
                store.close().await;
                seqs
            }));
        }
        let mut seqs = Vec::new();
        for task in tasks {
            let mine = task.await.unwrap();
            // One appender's steps are in its own order.
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "{mine:?}");
            seqs.extend(mine);
        }
        seqs.sort_unstable();
        let total = (APPENDERS * STEPS) as i64;
        assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
        let stored = hub.store.release_steps(id).await.unwrap();
        assert_eq!(
            stored.iter().map(|s| s.seq).collect::<Vec<_>>(),
            (1..=total).collect::<Vec<_>>()
        );
        let other_seqs: Vec<i64> = hub
            .store
            .release_steps(other)
            .await
            .unwrap()
            .iter()
            .map(|s| s.seq)
            .collect();
        assert_eq!(
            other_seqs,
            (1..=(APPENDERS * STEPS / 10) as i64).collect::<Vec<_>>()
        );
    }
);

both!(release_steps_are_append_only, |hub| {
    let store = &hub.store;
    let id = store.add_release_train(&train("2026.11")).await.unwrap();
    store
        .append_release_step(&step(id, "publish lib-a 1.4.2", "started", None))
        .await
        .unwrap();
    for sql in [
        "UPDATE release_steps SET outcome = 'done'",
        "DELETE FROM release_steps",
    ] {
        let err = sqlx_try(store, sql).await.expect_err(sql);
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    if hub.store.backend() == concord_store::Backend::Postgres {
        let sql = "TRUNCATE release_steps";
        let err = sqlx_try(store, sql).await.expect_err(sql);
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    // Nor can the train go from under its steps.
    sqlx_try(store, "DELETE FROM release_trains")
        .await
        .expect_err("a train with steps deleted");
    let steps = store.release_steps(id).await.unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].outcome, "started");
    assert!(store.release_train(id).await.unwrap().is_some());
});

both!(export_import_keeps_release_trains, |hub| {
    let store = &hub.store;
    let a = store.add_release_train(&train("2026.11")).await.unwrap();
    let b = store.add_release_train(&train("2026.12")).await.unwrap();
    store
        .set_release_status(a, 1, "shipping", "2026-11-24T11:00:00Z")
        .await
        .unwrap();
    for (id, text, outcome, detail) in [
        (a, "publish lib-a 1.4.2", "started", None),
        (b, "publish lib-b 2.0.0", "started", None),
        (
            a,
            "publish lib-a 1.4.2",
            "done",
            Some("tab\there \"quoted\"\nnewline"),
        ),
    ] {
        store
            .append_release_step(&step(id, text, outcome, detail))
            .await
            .unwrap();
    }
    let mut first = Vec::new();
    let exported = store.export(&mut first).await.unwrap();
    assert_eq!(exported.rows, 2 + 3);
    let text = String::from_utf8_lossy(&first);
    let tables: Vec<&str> = text
        .lines()
        .skip(1)
        .filter(|l| !l.starts_with("{\"trailer\""))
        .map(|l| {
            l.split('"')
                .nth(3)
                .unwrap_or_else(|| panic!("no table in {l}"))
        })
        .collect();
    assert_eq!(
        tables,
        [
            "release_trains",
            "release_trains",
            "release_steps",
            "release_steps",
            "release_steps"
        ]
    );

    let fresh = fresh_like(hub).await;
    let imported = fresh
        .store
        .import(std::io::Cursor::new(&first))
        .await
        .unwrap();
    assert_eq!(imported.rows, 5);
    assert_eq!(
        fresh.store.release_trains().await.unwrap(),
        store.release_trains().await.unwrap()
    );
    for id in [a, b] {
        assert_eq!(
            fresh.store.release_steps(id).await.unwrap(),
            store.release_steps(id).await.unwrap()
        );
    }
    let mut second = Vec::new();
    fresh.store.export(&mut second).await.unwrap();
    assert!(first == second, "the re-export differs");
    // The restored train keeps its version for compare-and-set, its steps
    // keep counting, and new trains continue after the restored ids.
    let restored = fresh.store.release_train(a).await.unwrap().unwrap();
    assert_eq!(restored.version, 2);
    assert!(
        fresh
            .store
            .set_release_status(a, 1, "aborted", "2026-11-24T12:00:00Z")
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert_eq!(
        fresh
            .store
            .append_release_step(&step(a, "re-pin app", "started", None))
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        fresh
            .store
            .add_release_train(&train("2027.01"))
            .await
            .unwrap(),
        b + 1
    );
    // A hub that has only release trains is not empty: import is refused.
    let only_trains = fresh_like(hub).await;
    only_trains
        .store
        .add_release_train(&train("2026.11"))
        .await
        .unwrap();
    let err = only_trains
        .store
        .import(std::io::Cursor::new(&first))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("release_trains has 1 rows"),
        "{err}"
    );
    assert_eq!(only_trains.store.release_trains().await.unwrap().len(), 1);
    only_trains.cleanup().await;
    fresh.cleanup().await;
});

both!(recent_journal_is_newest_first_and_limited, |hub| {
    let store = &hub.store;
    for i in 0..5 {
        store
            .append_journal(&event(&format!("K{i}"), "note"))
            .await
            .unwrap();
    }
    let recent = store.recent_journal(3).await.unwrap();
    let keys: Vec<&str> = recent.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["K4", "K3", "K2"]);
    assert!(store.recent_journal(0).await.unwrap().is_empty());
});

both!(serve_reads_page_filter_and_count_items, |hub| {
    let store = &hub.store;
    // Hub: K-00000..K-00005; K-00001 and K-00004 are done, the rest todo.
    for i in 0..6 {
        let to = if i % 3 == 1 { "done" } else { "todo" };
        store
            .set_hub_value(&change(&format!("K-{i:05}"), 0, None, to))
            .await
            .unwrap();
    }
    // Sources agree with the hub except K-00002 (src2 says done).
    let rows: Vec<ObservationRecord> = (0..6)
        .map(|i| observation(i, if i % 3 == 1 || i == 2 { "done" } else { "todo" }))
        .collect();
    store.record_observations(&rows).await.unwrap();

    let page = |status: Option<&str>, drift: Option<bool>, after: Option<&str>, limit| {
        let filter = ItemFilter {
            status: status.map(Into::into),
            source: None,
            drift,
            after: after.map(Into::into),
            limit,
        };
        async move {
            store
                .item_page(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|v| v.key)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        page(Some("done"), None, None, 10).await,
        ["K-00001", "K-00004"]
    );
    assert_eq!(page(None, Some(true), None, 10).await, ["K-00002"]);
    assert_eq!(page(None, None, None, 2).await, ["K-00000", "K-00001"]);
    assert_eq!(
        page(None, None, Some("K-00001"), 2).await,
        ["K-00002", "K-00003"]
    );
    assert_eq!(
        page(None, Some(false), Some("K-00003"), 10).await,
        ["K-00004", "K-00005"]
    );
    let by_source = store
        .item_page(&ItemFilter {
            source: Some("src1".into()),
            limit: 10,
            ..ItemFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(by_source.len(), 2, "K-00001 and K-00004 are src1's");
    // A filter value is bound, never spliced into the SQL.
    assert!(page(Some("x' OR '1'='1"), None, None, 10).await.is_empty());

    assert_eq!(store.item_totals().await.unwrap(), (6, 1));
    let counts = store.status_counts().await.unwrap();
    assert!(
        counts.contains(&("hub".into(), Some("done".into()), 2)),
        "{counts:?}"
    );
    assert!(
        counts.contains(&("hub".into(), Some("todo".into()), 4)),
        "{counts:?}"
    );
    assert!(
        counts.contains(&("src2".into(), Some("done".into()), 1)),
        "{counts:?}"
    );

    // The journal, newest first, filtered and paged by id.
    let all = store
        .journal_page(&JournalFilter {
            limit: 100,
            ..JournalFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    let one = store
        .journal_page(&JournalFilter {
            key: Some("K-00003".into()),
            source: Some("hub".into()),
            actor: Some("tester@host".into()),
            limit: 10,
            ..JournalFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    let older = store
        .journal_page(&JournalFilter {
            before: Some(all[1].id),
            limit: 2,
            ..JournalFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        older.iter().map(|e| e.id).collect::<Vec<_>>(),
        [all[2].id, all[3].id]
    );
    store.ping().await.unwrap();
    let reasons = store
        .last_reasons(&["K-00003".into(), "K-00001".into(), "nobody".into()])
        .await
        .unwrap();
    assert_eq!(
        reasons,
        [
            ("K-00001".to_string(), "SET_BY_USER".to_string()),
            ("K-00003".to_string(), "SET_BY_USER".to_string())
        ]
    );
});

both!(api_tokens_keep_only_hashes_and_revoke_by_name, |hub| {
    let store = &hub.store;
    let token = ApiToken {
        name: "ci".into(),
        hash: "ab".repeat(32),
        read_only: true,
        created_at: "2026-11-25T00:00:00Z".into(),
        revoked_at: None,
    };
    store.create_api_token(&token).await.unwrap();
    assert!(
        store.create_api_token(&token).await.is_err(),
        "names are unique"
    );
    assert_eq!(
        store.api_tokens().await.unwrap(),
        std::slice::from_ref(&token)
    );
    assert!(
        store
            .revoke_api_token("ci", "2026-11-25T01:00:00Z")
            .await
            .unwrap()
    );
    assert!(
        !store.revoke_api_token("ci", "later").await.unwrap(),
        "once"
    );
    assert!(!store.revoke_api_token("nobody", "later").await.unwrap());
    let listed = store.api_tokens().await.unwrap();
    assert_eq!(
        listed[0].revoked_at.as_deref(),
        Some("2026-11-25T01:00:00Z")
    );
});

// A batch is decided set-based, but exactly as one-by-one would: new keys,
// updates at the right version, stale versions, keys created meanwhile,
// a key asked twice, values set to nothing, across chunk boundaries.
both!(a_batch_decides_every_change_as_one_by_one_would, |hub| {
    let store = &hub.store;
    // 0..900 exist at version 1 (more than one statement's worth of rows).
    let seed: Vec<ValueChange> = (0..900)
        .map(|i| change(&format!("k{i}"), 0, None, "todo"))
        .collect();
    assert!(
        store
            .set_hub_values(&seed)
            .await
            .unwrap()
            .iter()
            .all(Result::is_ok)
    );
    let mut batch = Vec::new();
    for i in 0..900 {
        // Even: updated at the right version; odd: a stale version.
        let expected = if i % 2 == 0 { 1 } else { 7 };
        batch.push(change(&format!("k{i}"), expected, Some("todo"), "done"));
    }
    // New keys, one of which exists already (a conflict), one asked twice
    // (the second one conflicts: the first created it), one updated after
    // its creation in the same batch (lands at version 2).
    batch.push(change("new-a", 0, None, "todo"));
    batch.push(change("k3", 0, None, "todo"));
    batch.push(change("new-b", 0, None, "todo"));
    batch.push(change("new-b", 0, None, "done"));
    batch.push(change("new-a", 1, Some("todo"), "done"));
    let mut nothing = change("k4", 2, Some("done"), "x");
    nothing.to = None;
    batch.push(nothing);
    let results = store.set_hub_values(&batch).await.unwrap();
    assert_eq!(results.len(), batch.len());
    for (i, result) in results.iter().take(900).enumerate() {
        if i % 2 == 0 {
            assert_eq!(result.as_ref().expect("lands").version, 2, "k{i}");
        } else {
            let err = result.as_ref().expect_err("stale");
            assert!(
                matches!(
                    err,
                    StoreError::Conflict {
                        expected: 7,
                        actual: Some(1),
                        ..
                    }
                ),
                "{err}"
            );
        }
    }
    let tail: Vec<Result<i64, Option<i64>>> = results[900..]
        .iter()
        .map(|r| match r {
            Ok(v) => Ok(v.version),
            Err(StoreError::Conflict { actual, .. }) => Err(*actual),
            Err(e) => panic!("{e}"),
        })
        .collect();
    assert_eq!(
        tail,
        [Ok(1), Err(Some(1)), Ok(1), Err(Some(1)), Ok(2), Ok(3)]
    );
    // The stored values and the journal say the same.
    let values = store.hub_values().await.unwrap();
    let value = |k: &str| {
        values
            .iter()
            .find(|v| v.key == k)
            .map(|v| (v.value.clone(), v.version))
    };
    assert_eq!(value("k0"), Some((Some("done".into()), 2)));
    assert_eq!(value("k1"), Some((Some("todo".into()), 1)));
    assert_eq!(value("new-a"), Some((Some("done".into()), 2)));
    assert_eq!(value("new-b"), Some((Some("todo".into()), 1)));
    assert_eq!(value("k4"), Some((None, 3)));
    // 900 seeded + 450 updates + new-a twice + new-b once + k4.
    assert_eq!(store.journal_len().await.unwrap(), 900 + 450 + 2 + 1 + 1);
    let history = store.history("new-a").await.unwrap();
    let tos: Vec<Option<String>> = history.iter().map(|e| e.to.clone()).collect();
    assert_eq!(tos, [Some("todo".into()), Some("done".into())]);
});

both!(
    a_batch_of_bases_decides_every_base_as_one_by_one_would,
    |hub| {
        let store = &hub.store;
        let base = |key: &str, value: &str| Base {
            rule: "r".into(),
            key: key.into(),
            field: "status".into(),
            value: Some(value.into()),
            versions: "{}".into(),
            version: 0,
            agreed_at: "2026-12-06T00:00:00Z".into(),
        };
        let seed: Vec<(Base, i64)> = (0..500)
            .map(|i| (base(&format!("b{i}"), "todo"), 0))
            .collect();
        assert!(
            store
                .put_bases(&seed)
                .await
                .unwrap()
                .iter()
                .all(Result::is_ok)
        );
        let batch = vec![
            (base("b0", "done"), 1),
            (base("b1", "done"), 5),
            (base("b2", "done"), 0),
            (base("fresh", "todo"), 0),
            (base("fresh", "done"), 1),
            (base("fresh", "x"), 1),
        ];
        let results = store.put_bases(&batch).await.unwrap();
        let got: Vec<Result<i64, Option<i64>>> = results
            .iter()
            .map(|r| match r {
                Ok(b) => Ok(b.version),
                Err(StoreError::Conflict { actual, .. }) => Err(*actual),
                Err(e) => panic!("{e}"),
            })
            .collect();
        assert_eq!(
            got,
            [
                Ok(2),
                Err(Some(1)),
                Err(Some(1)),
                Ok(1),
                Ok(2),
                Err(Some(2))
            ]
        );
        let fresh = store
            .base("r", "fresh", "status")
            .await
            .unwrap()
            .expect("fresh");
        assert_eq!((fresh.value.as_deref(), fresh.version), (Some("done"), 2));
        let b1 = store.base("r", "b1", "status").await.unwrap().expect("b1");
        assert_eq!((b1.value.as_deref(), b1.version), (Some("todo"), 1));
    }
);

both!(
    bulk_writes_past_one_statement_decide_each_row_and_keep_order,
    |hub| {
        let store = &hub.store;
        // More rows than one PostgreSQL statement takes (10,000), with keys
        // that exist already spread through them: those conflict, the rest land.
        let seed: Vec<ValueChange> = (0..10_050)
            .filter(|i| i % 1000 == 7)
            .map(|i| change(&format!("v{i:05}"), 0, None, "todo"))
            .collect();
        store.set_hub_values(&seed).await.unwrap();
        let batch: Vec<ValueChange> = (0..10_050)
            .map(|i| change(&format!("v{i:05}"), 0, None, "done"))
            .collect();
        let results = store.set_hub_values(&batch).await.unwrap();
        for (i, result) in results.iter().enumerate() {
            match result {
                Ok(v) => assert!(i % 1000 != 7 && v.version == 1, "v{i:05}"),
                Err(StoreError::Conflict { actual, .. }) => {
                    assert!(i % 1000 == 7 && *actual == Some(1), "v{i:05}")
                }
                Err(e) => panic!("{e}"),
            }
        }
        // The seeded values and the new ones, each journaled once.
        assert_eq!(store.journal_len().await.unwrap(), 10_050);

        // Journal ids come back in the entries' order, across statements, and
        // every field survives (nulls, tabs, a JSON list of artifacts).
        let entries: Vec<JournalEntry> = (0..10_020)
            .map(|i| event(&format!("j{i:05}"), "logged"))
            .collect();
        let ids = store.append_journal_batch(&entries).await.unwrap();
        assert_eq!(ids.len(), entries.len());
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        for i in [0, 9_999, 10_000, 10_019] {
            let history = store.history(&format!("j{i:05}")).await.unwrap();
            assert_eq!(history.len(), 1);
            assert_eq!(history[0].id, ids[i]);
            assert_eq!(history[0].artifacts, ["docs/a.md", "tab\there"]);
            assert_eq!(history[0].note.as_deref(), Some("summary text"));
            assert_eq!(history[0].field, None);
        }

        // A replica base given twice in one call ends as the later one.
        let base = |key: &str, value: &str| replica_base("ra", key, value);
        store.put_replica(&replica("ra", None)).await.unwrap();
        let mut many: Vec<_> = (0..10_010)
            .map(|i| base(&format!("r{i:05}"), "todo"))
            .collect();
        many.push(base("r00003", "done"));
        store.put_replica_bases(&many).await.unwrap();
        let stored = store.replica_bases("ra", None).await.unwrap();
        assert_eq!(stored.len(), 10_010);
        let three = stored.iter().find(|b| b.key == "r00003").expect("r00003");
        assert_eq!(three.value.as_deref(), Some("done"));
    }
);

both!(
    two_runs_inserting_the_same_new_rows_at_once_each_row_lands_once,
    |hub| {
        // Two "processes" insert the same new keys at once (PostgreSQL tries a
        // bare INSERT first and falls back to ON CONFLICT when a key exists
        // after all): every value and base lands exactly once, the loser of
        // each key gets a conflict, nothing deadlocks, and every landed value
        // is journaled once.
        const KEYS: usize = 3_000;
        let base = |key: String, value: &str| {
            let base = Base {
                rule: "r".into(),
                key,
                field: "status".into(),
                value: Some(value.into()),
                versions: "{}".into(),
                version: 0,
                agreed_at: "2026-12-07T00:00:00Z".into(),
            };
            (base, 0)
        };
        let mut tasks = Vec::new();
        for writer in ["a", "b"] {
            let reopen = hub.reopen.clone();
            tasks.push(tokio::spawn(async move {
                let store = reopen.open().await;
                let values: Vec<ValueChange> = (0..KEYS)
                    .map(|i| change(&format!("n{i:05}"), 0, None, writer))
                    .collect();
                let bases: Vec<(Base, i64)> = (0..KEYS)
                    .map(|i| base(format!("n{i:05}"), writer))
                    .collect();
                let observations: Vec<ObservationRecord> = (0..KEYS)
                    .map(|i| ObservationRecord {
                        run_id: format!("run-{writer}"),
                        ..observation(i, writer)
                    })
                    .collect();
                let rows: Vec<_> = (0..KEYS)
                    .map(|i| replica_base("ra", &format!("n{i:05}"), writer))
                    .collect();
                let (values, bases, recorded, replicas) = tokio::join!(
                    store.set_hub_values(&values),
                    store.put_bases(&bases),
                    store.record_observations(&observations),
                    store.put_new_replica_bases(&rows),
                );
                recorded.unwrap();
                replicas.unwrap();
                let landed = |results: Vec<Result<i64, StoreError>>| -> Vec<bool> {
                    results
                        .into_iter()
                        .map(|r| match r {
                            Ok(version) => {
                                assert_eq!(version, 1);
                                true
                            }
                            Err(e) if e.is_conflict() => false,
                            Err(e) => panic!("writer {writer}: {e}"),
                        })
                        .collect()
                };
                let values = landed(
                    values
                        .unwrap()
                        .into_iter()
                        .map(|r| r.map(|v| v.version))
                        .collect(),
                );
                let bases = landed(
                    bases
                        .unwrap()
                        .into_iter()
                        .map(|r| r.map(|b| b.version))
                        .collect(),
                );
                store.close().await;
                (values, bases)
            }));
        }
        let mut won = Vec::new();
        for task in tasks {
            won.push(task.await.unwrap());
        }
        for i in 0..KEYS {
            assert!(won[0].0[i] ^ won[1].0[i], "value n{i:05} landed once");
            assert!(won[0].1[i] ^ won[1].1[i], "base n{i:05} landed once");
        }
        let store = &hub.store;
        assert_eq!(store.journal_len().await.unwrap(), KEYS as i64);
        let values = store.hub_values().await.unwrap();
        assert_eq!(values.len(), KEYS);
        for v in &values {
            let i: usize = v.key[1..].parse().unwrap();
            let winner = if won[0].0[i] { "a" } else { "b" };
            assert_eq!(v.value.as_deref(), Some(winner), "{}", v.key);
        }
        assert_eq!(store.all_bases().await.unwrap().len(), KEYS);
        // Observations and replica bases are replaced, not compared: one row
        // per key, from one of the two.
        let observed = store.observations(None).await.unwrap();
        assert_eq!(observed.len(), KEYS);
        assert!(
            observed
                .iter()
                .all(|o| o.run_id == "run-a" || o.run_id == "run-b")
        );
        assert_eq!(store.replica_bases("ra", None).await.unwrap().len(), KEYS);
    }
);

both!(new_replica_bases_that_exist_after_all_are_replaced, |hub| {
    let store = &hub.store;
    let base = |key: &str, value: &str| replica_base("ra", key, value);
    store.put_replica(&replica("ra", None)).await.unwrap();
    let seed: Vec<_> = (0..10).map(|i| base(&format!("K{i:03}"), "todo")).collect();
    store.put_new_replica_bases(&seed).await.unwrap();
    // Believed new, but K005 exists (another run recorded it since), and
    // K100 is given twice: the later one stays.
    let rows = vec![
        base("K100", "todo"),
        base("K005", "done"),
        base("K101", "todo"),
        base("K100", "in_progress"),
    ];
    store.put_new_replica_bases(&rows).await.unwrap();
    let stored = store.replica_bases("ra", None).await.unwrap();
    let value = |key: &str| {
        stored
            .iter()
            .find(|b| b.key == key)
            .and_then(|b| b.value.clone())
    };
    assert_eq!(stored.len(), 12);
    assert_eq!(value("K005").as_deref(), Some("done"));
    assert_eq!(value("K004").as_deref(), Some("todo"));
    assert_eq!(value("K100").as_deref(), Some("in_progress"));
    assert_eq!(value("K101").as_deref(), Some("todo"));
});

both!(
    a_reader_never_sees_a_journal_entry_without_those_before_it,
    |hub| {
        // A run plans "with every change up to entry N" and later looks only
        // past N, so ids must become visible in their order: a reader that
        // sees entry N sees every entry before it. One writer journals
        // thousands of entries a transaction while another journals one at
        // a time; a reader counts the entries and takes the highest id in one
        // snapshot, over and over. Nothing is rolled back, so the two agree
        // whenever the ids before the highest are all there. (SQLite has one
        // writer at a time; the reader runs on PostgreSQL only.)
        const BATCHES: usize = 12;
        const SINGLES: usize = 300;
        let bulk = {
            let reopen = hub.reopen.clone();
            tokio::spawn(async move {
                let store = reopen.open().await;
                for b in 0..BATCHES {
                    let batch: Vec<ValueChange> = (0..2_000)
                        .map(|i| change(&format!("bulk-{b}-{i}"), 0, None, "todo"))
                        .collect();
                    let results = store.set_hub_values(&batch).await.unwrap();
                    assert!(results.iter().all(Result::is_ok));
                }
                store.close().await;
            })
        };
        let singles = {
            let reopen = hub.reopen.clone();
            tokio::spawn(async move {
                let store = reopen.open().await;
                for i in 0..SINGLES {
                    let entry = event(&format!("single-{i}"), "logged");
                    store.append_journal(&entry).await.unwrap();
                }
                store.close().await;
            })
        };
        let mut reads = 0;
        if let Some((url, schema)) = &hub.pg {
            let reader = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_with(pg_options(url, schema))
                .await
                .expect("reader");
            while !(bulk.is_finished() && singles.is_finished()) {
                let (count, highest): (i64, i64) =
                    sqlx::query_as("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM journal")
                        .fetch_one(&reader)
                        .await
                        .unwrap();
                assert_eq!(count, highest, "entries before the highest are missing");
                reads += 1;
            }
            reader.close().await;
        }
        bulk.await.unwrap();
        singles.await.unwrap();
        let total = (BATCHES * 2_000 + SINGLES) as i64;
        assert_eq!(hub.store.journal_len().await.unwrap(), total);
        assert_eq!(hub.store.journal_high_water().await.unwrap(), total);
        println!("{reads} reads, every one without a hole");
    }
);

both!(
    statuses_read_a_page_at_a_time_are_every_status_once,
    |hub| {
        // Keys the two backends order differently (bytes against a
        // collation), the empty key, and pages smaller than the values.
        let keys = ["", "B", "a", "b", "Z-1", "z", "é", "a-10", "a-2", "a b"];
        let changes: Vec<ValueChange> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| change(key, 0, None, if i % 2 == 0 { "todo" } else { "done" }))
            .collect();
        hub.store
            .set_hub_values(&changes)
            .await
            .expect("values set");
        // Another field of the same items is not a status.
        let mut owner = change("a", 0, None, "someone");
        owner.field = "owner".into();
        hub.store.set_hub_value(&owner).await.expect("owner set");
        let mut expected = hub.store.hub_statuses().await.expect("statuses");
        expected.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(expected.len(), keys.len());
        for rows in [1, 3, keys.len(), keys.len() + 1] {
            let mut pages = Vec::new();
            hub.store
                .hub_statuses_paged(rows, |page| pages.push(page))
                .await
                .expect("paged");
            assert!(pages.iter().all(|p| p.len() <= rows), "{rows} rows a page");
            let mut got: Vec<_> = pages.into_iter().flatten().collect();
            got.sort_by(|a, b| a.key.cmp(&b.key));
            assert_eq!(got, expected, "{rows} rows a page");
        }
    }
);
