-- Release trains for `concord ship`: `prepare` freezes one (per repo the
-- commit and the versions it ships), `run` and `resume` journal each step.
-- `status` is prepared | shipping | aborted | shipped; it changes only by
-- compare-and-set on `version` (1 when prepared, +1 on every change).
-- `frozen` is JSON: per repo the frozen commit and versions.
CREATE TABLE release_trains (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    actor      TEXT NOT NULL,
    status     TEXT NOT NULL,
    frozen     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
-- The latest train of a name.
CREATE INDEX release_trains_by_name ON release_trains (name, id);

-- Append-only, like the journal: what each step of a train did, in order.
-- `seq` counts from 1 per train; `outcome` is
-- started | done | skipped | failed | unknown.
CREATE TABLE release_steps (
    train_id INTEGER NOT NULL REFERENCES release_trains (id),
    seq      INTEGER NOT NULL,
    step     TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    at       TEXT NOT NULL,
    detail   TEXT,
    PRIMARY KEY (train_id, seq)
);

CREATE TRIGGER release_steps_no_update BEFORE UPDATE ON release_steps
BEGIN SELECT RAISE(ABORT, 'release steps are append-only'); END;
CREATE TRIGGER release_steps_no_delete BEFORE DELETE ON release_steps
BEGIN SELECT RAISE(ABORT, 'release steps are append-only'); END;
