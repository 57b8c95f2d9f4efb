-- Items the hub knows, and the hub's own value of each item field.
CREATE TABLE hub_values (
    item_key   TEXT NOT NULL,
    field      TEXT NOT NULL,
    value      TEXT,
    version    INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (item_key, field)
);

-- The value all sources of a sync rule last agreed on, with the source versions.
CREATE TABLE bases (
    rule       TEXT NOT NULL,
    item_key   TEXT NOT NULL,
    field      TEXT NOT NULL,
    value      TEXT,
    versions   TEXT NOT NULL,
    version    INTEGER NOT NULL,
    agreed_at  TEXT NOT NULL,
    PRIMARY KEY (rule, item_key, field)
);

-- Per-source read position (a commit id for git sources).
CREATE TABLE watermarks (
    source     TEXT PRIMARY KEY,
    position   TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- What each source said about each item in the latest run that read it.
CREATE TABLE observations (
    source      TEXT NOT NULL,
    item_key    TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    status      TEXT,
    raw_status  TEXT,
    repo        TEXT NOT NULL,
    path        TEXT NOT NULL,
    line        INTEGER NOT NULL,
    observed_at TEXT NOT NULL,
    -- Key first: the primary key also serves lookups by item, so a bulk
    -- upsert maintains one index, not two.
    PRIMARY KEY (item_key, source)
);

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    command     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT,
    summary     TEXT
);

-- Append-only: every applied change and every logged event.
CREATE TABLE journal (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    run_id      TEXT,
    actor       TEXT NOT NULL,
    item_key    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    field       TEXT,
    from_value  TEXT,
    to_value    TEXT,
    target      TEXT,
    reason      TEXT NOT NULL,
    note        TEXT,
    event_type  TEXT,
    phase       TEXT,
    artifacts   TEXT
);
CREATE INDEX journal_by_key ON journal (item_key, id);

CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
