-- What the last read of each file said was wrong with it (a skipped row, an
-- unknown word): a sync that reads only the changed files still reports the
-- current warnings of the files it did not read again.
CREATE TABLE IF NOT EXISTS scan_warnings (
    source  TEXT NOT NULL,
    path    TEXT NOT NULL,
    line    BIGINT,
    code    TEXT NOT NULL,
    repo    TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS scan_warnings_by_path ON scan_warnings (source, path);
