#!/usr/bin/env bash
# Sync benchmark: the scan benchmark's generated workspace, each repo a git
# repository, one merge rule over every source and the hub. Times a first
# sync (fills the hub), a no-op sync, and a sync after 1% of the items
# changed in the hub, next to `concord scan --no-hub` (cold) of the same run.
# Usage: [BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432] bash bench/sync.sh [concord-gen-corpus flags]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
cargo build --release -q --bin concord --bin concord-gen-corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./target/release/concord-gen-corpus "$work/ws" "$@" >/dev/null
concord="$PWD/target/release/concord"
bench_git_workspace "$work/ws"
cd "$work/ws"
# Wall time and peak memory (the largest process: concord, not its git children).
ms() { python3 -c "import time,subprocess,sys,resource; t=time.time(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); kb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; print(f'{(time.time()-t)*1000:.0f} ms, {kb//1024} MB peak')" "$@"; }
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
echo "cold scan --no-hub: $(ms "$concord" scan --no-hub)"
# With BENCH_POSTGRES=postgres://user@host:port (psql needed), the first
# sync also runs on a copy of the workspace into a fresh PostgreSQL
# database, right before the SQLite one.
if [ -n "${BENCH_POSTGRES:-}" ]; then
  db="concord_bench_$$"
  psql "$BENCH_POSTGRES/postgres" -qc "CREATE DATABASE $db" >/dev/null
  cp -a "$work/ws" "$work/ws-pg"
  echo "first sync, PostgreSQL: $(cd "$work/ws-pg" && CONCORD_HUB_URL="$BENCH_POSTGRES/$db" ms "$concord" sync)"
  rm -rf "$work/ws-pg"
  psql "$BENCH_POSTGRES/postgres" -qc "DROP DATABASE $db" >/dev/null
fi
echo "first sync (fills the hub): $(ms "$concord" sync)"
# The read commands over the synced workspace (issue 22: under 3x a scan).
echo "diff after the first sync: $(ms "$concord" diff)"
echo "diff --full (reads and plans every item): $(ms "$concord" diff --full)"
echo "status after the first sync: $(ms "$concord" status)"
echo "warm scan --no-hub: $(ms "$concord" scan --no-hub)"
# Peak memory of the read commands, next to the scan's (GNU time).
echo "check --all --no-hub after the first sync: $(ms "$concord" check --all --no-hub --format json)"
for cmd in "scan --no-hub" diff status "check --all --no-hub --format json"; do
  /usr/bin/time -f "%M" -o "$work/mem" "$concord" $cmd >/dev/null 2>&1 || true
  echo "peak memory, $cmd: $(( $(cat "$work/mem") / 1024 )) MB"
done
# A short command's median of 11 runs, its first run and the peak memory.
median11() { python3 -c "
import time,subprocess,sys,resource
ts=[]
for _ in range(11):
    t=time.time(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); ts.append((time.time()-t)*1000)
print(f'{sorted(ts)[5]:.0f} ms (first {ts[0]:.0f} ms), {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss//1024} MB peak')" "$@"; }
# The no-op is short: the median of 11 runs.
echo "no-op sync (median of 11): $(median11 "$concord" sync)"
# 1% of the items (1,000 of 100,000) changed in the hub, written as
# `concord set` writes them (value, version and a journal entry) but in one go.
keys=$("$concord" scan --no-hub --json | python3 -c 'import json,sys; r=json.load(sys.stdin); n=r["summary"]["items"]//100; ks=[i["key"] for s in r["sources"] for i in s["items"] if (i.get("status") or {}).get("canonical")=="todo"]; step=max(2,len(ks)//n); print("\n".join(ks[::step][:n]))')
keys2=$("$concord" scan --no-hub --json | python3 -c 'import json,sys; r=json.load(sys.stdin); n=r["summary"]["items"]//100; ks=[i["key"] for s in r["sources"] for i in s["items"] if (i.get("status") or {}).get("canonical")=="todo"]; step=max(2,len(ks)//n); print("\n".join(ks[step//2::step][:n]))')
python3 - "$concord" <<PY
import subprocess, sys
keys = """$keys""".split()
import sqlite3
db = sqlite3.connect(".concord/hub.db")
n = db.execute("UPDATE hub_values SET value='done', version=version+1 WHERE field='status' AND item_key IN (%s)" % ",".join("?"*len(keys)), keys).rowcount
# As concord set would: every hub change is journaled.
db.executemany("INSERT INTO journal (at, actor, item_key, kind, field, from_value, to_value, target, reason) VALUES ('2026-11-24T00:00:00Z', 'bench', ?, 'change', 'status', 'todo', 'done', 'hub', 'SET_BY_USER')", [(k,) for k in keys])
db.commit()
print(f"changed {n} items in the hub")
PY
echo "sync writing 1% back: $(ms "$concord" sync)"
# The no-op right after a writeback: the files concord just wrote and
# committed are "racily clean" in git's index until it is refreshed.
echo "no-op sync after the writeback (median of 11): $(median11 "$concord" sync)"
echo "where the time went (CONCORD_TIMINGS=1) in a second 1% run:"
python3 - <<PY
import sqlite3
keys = """$keys2""".split()
db = sqlite3.connect(".concord/hub.db")
db.execute("UPDATE hub_values SET value='in_progress', version=version+1 WHERE field='status' AND item_key IN (%s)" % ",".join("?"*len(keys)), keys)
db.executemany("INSERT INTO journal (at, actor, item_key, kind, field, from_value, to_value, target, reason) VALUES ('2026-11-24T00:00:00Z', 'bench', ?, 'change', 'status', 'todo', 'in_progress', 'hub', 'SET_BY_USER')", [(k,) for k in keys])
db.commit()
PY
CONCORD_TIMINGS=1 "$concord" sync 2>&1 >/dev/null | sed 's/^/  /'
echo "commits: $(for r in repos/*; do git -C "$r" rev-list --count HEAD; done | awk '{s+=$1-1} END {print s}')"
