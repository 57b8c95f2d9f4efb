-- Each checkout of a repo that synced (a replica): clones on several
-- machines, CI work trees. Its id lives in the checkout's git folder.
-- `synced_head` is the commit its last sync left it at: its bases hold
-- while that commit is in its history.
CREATE TABLE replicas (
    id          TEXT PRIMARY KEY,
    repo        TEXT NOT NULL,
    location    TEXT NOT NULL,
    synced_head TEXT,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL
);

-- What one replica last agreed on for one item of one source under one
-- rule (the value it last read or wrote) and the commit it was at: a value
-- that differs from this is the replica's own edit; one that does not is
-- a stale copy. Bases of the `bases` table made before replicas existed
-- are each replica's starting point (see concord's docs/replicas.md).
CREATE TABLE replica_bases (
    replica   TEXT NOT NULL,
    item_key  TEXT NOT NULL,
    rule      TEXT NOT NULL,
    source    TEXT NOT NULL,
    field     TEXT NOT NULL,
    value     TEXT,
    position  TEXT NOT NULL,
    agreed_at TEXT NOT NULL,
    PRIMARY KEY (replica, item_key, rule, source, field)
);
