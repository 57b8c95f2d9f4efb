-- The BROKEN_CITATION check's answers: whether GitHub pull request or issue
-- `repo#number` exists. `repo` is `owner/name`, lowercase; `found` is 1 when
-- it exists, 0 when GitHub said it does not.
CREATE TABLE citations (
    repo       TEXT NOT NULL,
    number     INTEGER NOT NULL,
    found      INTEGER NOT NULL CHECK (found IN (0, 1)),
    checked_at TEXT NOT NULL,
    PRIMARY KEY (repo, number)
);
