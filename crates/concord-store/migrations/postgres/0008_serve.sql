-- `concord serve`: API tokens, stored only as sha256 hashes; a revoked
-- token keeps its row so `token list` can say when.
CREATE TABLE api_tokens (
    name       TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    read_only  BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- Items by status, for `GET /api/v1/items?status=...` over many items.
CREATE INDEX hub_values_by_field_value ON hub_values (field, value, item_key);
