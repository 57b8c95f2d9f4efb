-- The results of `concord check --snapshot`, one row per snapshot.
-- `findings` is JSON lines: one finding object per line, sorted by fingerprint.
CREATE TABLE check_snapshots (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    taken_at  TEXT NOT NULL,
    commit_id TEXT,
    actor     TEXT NOT NULL,
    findings  TEXT NOT NULL,
    gating    INTEGER NOT NULL,
    total     INTEGER NOT NULL
);
