-- Files a sync wrote but has not committed yet. A sync killed between the
-- write and the commit leaves its files uncommitted; the next sync knows
-- them by their content hash and commits them instead of calling them dirty.
CREATE TABLE pending_writes (
    repo       TEXT NOT NULL,
    path       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (repo, path)
);
