#!/usr/bin/env bash
# Serve benchmark: 100,000 items in a PostgreSQL hub (a schema of its own,
# dropped at the end), `concord serve --public-read` on loopback, and
# concord-bench-serve in a second process sending requests at a fixed rate
# (open loop, 500 req/s for 10 s by default) to the static stylesheet (the
# reference, served from memory by the same server), `GET /api/v1/items`
# and the item page, then as fast as it can (closed loop).
# Needs psql and a PostgreSQL that trusts the caller (CONCORD_BENCH_DATABASE_URL,
# default postgres://postgres@127.0.0.1:5432/test).
# Usage: bash bench/serve.sh [--items N] [concord-bench-serve flags: --rate R --seconds S ...]
set -euo pipefail
cd "$(dirname "$0")/.."
items=100000
if [ "${1:-}" = "--items" ]; then
  items=$2
  shift 2
fi
base=${CONCORD_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
schema=concord_bench_serve
separator='?'
case "$base" in *\?*) separator='&' ;; esac
url="$base${separator}options=-c%20search_path%3D$schema"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
cargo build --release -q -p concord-cli -p concord-bench --bin concord --bin concord-bench-serve
concord="$PWD/target/release/concord"
loadgen="$PWD/target/release/concord-bench-serve"

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  psql "$base" -q -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$base" -q -v ON_ERROR_STOP=1 -c "DROP SCHEMA IF EXISTS $schema CASCADE" -c "CREATE SCHEMA $schema" >/dev/null
# The smallest workspace `concord serve` runs in: just the hub.
printf '[hub]\nurl = "%s"\n' "$url" > "$work/concord.toml"
cd "$work"
unset CONCORD_HUB_URL CONCORD_CONFIG
"$concord" hub migrate

# Seeding: what a first sync of 50 repos x 2,000 items leaves in the hub,
# written by the database itself. Keys `repoNN/T00000I`; hub statuses 40%
# done, 30% todo, 20% in_progress, 10% blocked; two sources observe every
# item, `tracker` disagrees on 1 in 20 (drift); one journal entry per item
# (the first sync), a second for 1 in 5, an event for 1 in 20.
seed_started=$(date +%s.%N)
psql "$url" -q -v ON_ERROR_STOP=1 -v items="$items" <<'SQL'
BEGIN;
CREATE TEMP TABLE seed AS
SELECT i,
       format('repo%s/T%s', lpad((i / 2000)::text, 2, '0'), lpad(i::text, 6, '0')) AS item_key,
       format('repo%s', lpad((i / 2000)::text, 2, '0')) AS repo,
       CASE WHEN (i * 37) % 10 < 4 THEN 'done'
            WHEN (i * 37) % 10 < 7 THEN 'todo'
            WHEN (i * 37) % 10 < 9 THEN 'in_progress'
            ELSE 'blocked' END AS status
FROM generate_series(0, :items - 1) AS i;
INSERT INTO hub_values (item_key, field, value, version, updated_at, updated_by)
SELECT item_key, 'status', status, 1 + (i % 5 = 0)::int, '2026-11-24T09:00:00Z', 'bench'
FROM seed;
INSERT INTO observations (source, item_key, run_id, status, raw_status, repo, path, line, observed_at, owner)
SELECT 'plans', item_key, 'run-seed', status, status, repo,
       format('docs/plan-%s.md', (i / 50) % 40), 1 + (i % 50) * 6, '2026-11-24T09:00:00Z', NULL
FROM seed;
INSERT INTO observations (source, item_key, run_id, status, raw_status, repo, path, line, observed_at, owner)
SELECT 'tracker', item_key, 'run-seed',
       CASE WHEN i % 20 = 0 THEN (CASE WHEN status = 'done' THEN 'in_progress' ELSE 'done' END) ELSE status END,
       CASE WHEN i % 20 = 0 THEN (CASE WHEN status = 'done' THEN 'In progress' ELSE 'Closed' END) ELSE status END,
       'tracker', format('wp/%s', i), 0, '2026-11-24T09:00:00Z', NULL
FROM seed;
INSERT INTO bases (rule, item_key, field, value, versions, version, agreed_at)
SELECT 'all', item_key, 'status', status, '{"plans":"seed","tracker":"1"}', 1, '2026-11-24T09:00:00Z'
FROM seed WHERE i % 20 <> 0;
INSERT INTO journal (at, run_id, actor, item_key, kind, field, from_value, to_value, target, reason)
SELECT '2026-11-24T09:00:00Z', 'run-seed', 'bench', item_key, 'change', 'status', NULL, status, 'hub', 'PROPAGATE'
FROM seed;
INSERT INTO journal (at, run_id, actor, item_key, kind, field, from_value, to_value, target, reason, note)
SELECT '2026-11-24T09:30:00Z', NULL, 'alice', item_key, 'change', 'status', 'todo', status, 'hub', 'SET_BY_USER', 'moved by hand'
FROM seed WHERE i % 5 = 0;
INSERT INTO journal (at, run_id, actor, item_key, kind, reason, event_type, phase, artifacts)
SELECT '2026-11-24T10:00:00Z', NULL, 'ci', item_key, 'event', 'logged', 'deployed', 'staging', '["https://ci.example.com/1"]'
FROM seed WHERE i % 20 = 7;
INSERT INTO runs (id, command, actor, started_at, finished_at, outcome, summary)
SELECT format('run-%s', n), 'sync', 'bench', format('2026-11-24T0%s:00:00Z', n), format('2026-11-24T0%s:00:10Z', n), 'ok', NULL
FROM generate_series(1, 9) AS n;
COMMIT;
ANALYZE;
SQL
psql "$url" -At -c "SELECT format('seeded in %s s: %s hub values, %s observations, %s journal rows, %s bases', \
  round(($(date +%s.%N) - $seed_started)::numeric, 1), \
  (SELECT count(*) FROM hub_values), (SELECT count(*) FROM observations), \
  (SELECT count(*) FROM journal), (SELECT count(*) FROM bases))"

"$concord" serve --bind 127.0.0.1:0 --no-schedule --public-read --quiet > "$work/serve.log" 2>&1 &
server=$!
address=""
for _ in $(seq 1 100); do
  address=$(grep -o 'listening on http://[0-9.:]*' "$work/serve.log" | sed 's/listening on //' || true)
  [ -n "$address" ] && break
  sleep 0.1
done
if [ -z "$address" ]; then
  echo "concord serve did not start:" >&2
  cat "$work/serve.log" >&2
  exit 1
fi
echo "concord serve at $address (--public-read, no token); $(nproc) cores, $(date -u +%Y-%m-%d)"
# The control room's data is computed at most every two seconds: its cost,
# computed (first) and from the cache (second).
for attempt in computed cached; do
  curl -s -o /dev/null -w "GET /api/v1/summary ($attempt): %{time_total} s\n" "$address/api/v1/summary"
done
"$loadgen" "$address" "$@"
