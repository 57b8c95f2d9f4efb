#!/usr/bin/env bash
# Scan benchmark: a generated workspace (default 50 repos x 40 files x 50
# items, 10% of files as state.json), timed against `rg -c '^status:'` over
# the same files in the same run. Needs hyperfine, ripgrep and GNU time
# (apt-get install hyperfine ripgrep time).
# Usage: bash bench/scan.sh [extra concord-gen-corpus flags]
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine rg /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install hyperfine ripgrep time)"; exit 2; }
done
cargo build --release -q --bin concord --bin concord-gen-corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./target/release/concord-gen-corpus "$work/ws" "$@"
concord="$PWD/target/release/concord"
cd "$work/ws"
sync
rg_cmd="rg -c --no-ignore --hidden ^status: repos"
report() {
  python3 - "$1" "$2" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
c, g = r["concord scan"], r["rg -c"]
print(f"{sys.argv[2]}: concord scan median {c['median']*1000:.1f} ms, rg -c median {g['median']*1000:.1f} ms, ratio {c['median']/g['median']:.2f}x")
PY
}
if [ "$(id -u)" = 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
  echo "== cold cache (page cache dropped before every run)"
  hyperfine -N -i --runs 8 --export-json "$work/cold.json" \
    --prepare 'sh -c "sync; echo 3 > /proc/sys/vm/drop_caches"' \
    -n "concord scan" "$concord scan --no-hub" -n "rg -c" "$rg_cmd"
  cold=1
else
  echo "== cold cache skipped (needs root to drop the page cache)"
  cold=0
fi
echo "== warm cache"
hyperfine -N -i --warmup 3 --runs 20 --export-json "$work/warm.json" \
  -n "concord scan" "$concord scan --no-hub" -n "rg -c" "$rg_cmd"
[ "$cold" = 1 ] && report "$work/cold.json" cold
report "$work/warm.json" warm
echo "== peak memory"
/usr/bin/time -f "concord scan --no-hub: %M KB max RSS, %e s" "$concord" scan --no-hub > /dev/null || true
/usr/bin/time -f "concord scan (recording 100k observations in SQLite): %M KB max RSS, %e s" "$concord" scan > /dev/null || true
/usr/bin/time -f "rg -c: %M KB max RSS, %e s" rg -c --no-ignore --hidden '^status:' repos > /dev/null
"$concord" scan --no-hub --json | python3 -c 'import json,sys; print("items scanned:", json.load(sys.stdin)["summary"])' || true
