#!/usr/bin/env bash
# Growth benchmark (issue 22): the sync benchmark's workspace at several
# sizes (50 repos, N files per repo, 50 items per file, one merge rule over
# every source and the hub). For each size: a warm `concord scan --no-hub`
# (the same-run reference), the first sync into a new SQLite hub and the
# no-op after it, each with wall time and peak memory (GNU time), and the
# time per item.
# Usage: bash bench/growth.sh [files-per-repo ...]   (default: 4 40 400,
# i.e. 10,000, 100,000 and 1,000,000 items)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
cargo build --release -q --bin concord --bin concord-gen-corpus
concord="$PWD/target/release/concord"
gen="$PWD/target/release/concord-gen-corpus"
sizes=("$@")
[ "${#sizes[@]}" -gt 0 ] || sizes=(4 40 400)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
measure() { # label command...: "time s, peak MB"
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>&1 || true
  read -r secs kb < "$work/time"
  echo "$secs $((kb / 1024))"
}
printf '| items | files | scan --no-hub (warm) | first sync | first sync / scan | per 1,000 items | no-op |\n'
printf '| --- | --- | --- | --- | --- | --- | --- |\n'
for files in "${sizes[@]}"; do
  ws="$work/ws-$files"
  "$gen" "$ws" --files-per-repo "$files" >/dev/null
  bench_git_workspace "$ws"
  cd "$ws"
  "$concord" scan --no-hub >/dev/null 2>&1 || true
  read -r scan_s scan_mb < <(measure "$concord" scan --no-hub)
  read -r sync_s sync_mb < <(measure "$concord" sync)
  read -r noop_s noop_mb < <(measure "$concord" sync)
  items=$((50 * files * 50))
  python3 - "$items" "$((50 * files))" "$scan_s" "$scan_mb" "$sync_s" "$sync_mb" "$noop_s" "$noop_mb" <<'PY'
import sys
items, files, scan_s, scan_mb, sync_s, sync_mb, noop_s, noop_mb = sys.argv[1:]
items, files = int(items), int(files)
scan_s, sync_s, noop_s = float(scan_s), float(sync_s), float(noop_s)
print(f"| {items:,} | {files:,} | {scan_s*1000:,.0f} ms, {scan_mb} MB | {sync_s*1000:,.0f} ms, {sync_mb} MB "
      f"| {sync_s/scan_s:.0f}x | {sync_s*1000/(items/1000):.1f} ms | {noop_s*1000:,.0f} ms, {noop_mb} MB |")
PY
  cd - >/dev/null
  rm -rf "$ws"
done
