-- Webhook deliveries already acted on (by GitHub delivery id and by the
-- body's hash), for a bounded window: a replayed delivery is recognised,
-- also after a restart.
CREATE TABLE webhook_deliveries (
    id          TEXT PRIMARY KEY,
    received_at TEXT NOT NULL
);
