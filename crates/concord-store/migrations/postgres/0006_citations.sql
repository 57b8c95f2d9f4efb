-- The BROKEN_CITATION check's answers: whether GitHub pull request or issue
-- `repo#number` exists. `repo` is `owner/name`, lowercase; `found` is true
-- when it exists, false when GitHub said it does not.
CREATE TABLE citations (
    repo       TEXT NOT NULL,
    number     BIGINT NOT NULL,
    found      BOOLEAN NOT NULL,
    checked_at TEXT NOT NULL,
    PRIMARY KEY (repo, number)
);
