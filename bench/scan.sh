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
echo "== wall time (warm cache; cold = first run, see hyperfine min/max)"
hyperfine --warmup 2 --runs 15 --export-json "$work/times.json" \
  -n concord "$concord scan > /dev/null || true" \
  -n "rg -c" "rg -c --no-ignore --hidden '^status:' repos > /dev/null"
python3 - "$work/times.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
c, g = r["concord"], r["rg -c"]
print(f"concord scan median {c['median']*1000:.1f} ms, rg -c median {g['median']*1000:.1f} ms, ratio {c['median']/g['median']:.2f}x")
PY
echo "== peak memory"
/usr/bin/time -f "concord scan: %M KB max RSS, %e s" "$concord" scan > /dev/null || true
/usr/bin/time -f "rg -c: %M KB max RSS, %e s" rg -c --no-ignore --hidden '^status:' repos > /dev/null
"$concord" scan --json | python3 -c 'import json,sys; print("items scanned:", json.load(sys.stdin)["summary"])' || true
