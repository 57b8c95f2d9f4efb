#!/usr/bin/env bash
# Check at scale: the generated 100,000-item workspace (bench/scan.sh's,
# 50 repos x 40 files x 50 items, 100 sources), checked as generated and
# with one merge rule over all 100 sources and the hub (what `concord init`
# proposes), each next to `concord scan --no-hub` in the same run. Peak
# memory and wall time from GNU time (apt-get install time).
# Usage: bash bench/check-scale.sh [concord binary]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/bin/time >/dev/null || { echo "missing GNU time (apt-get install time)"; exit 2; }
cargo build --release -q --bin concord --bin concord-gen-corpus
concord="${1:-$PWD/target/release/concord}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./target/release/concord-gen-corpus "$work/ws" > /dev/null
cd "$work/ws"
cp concord.toml plain.toml
{
  cat plain.toml
  printf '\n[[sync]]\nname = "all"\nmode = "merge"\nbetween = ['
  grep -oE '^name = "r[0-9]+-(workplans|states)"' plain.toml | sed 's/name = //' | paste -sd, -
  printf ', "hub"]\n'
} > merge.toml
measure() {
  local label=$1; shift
  /usr/bin/time -f "$label: %M KB max RSS, %e s" "$@" > "$work/out" 2> "$work/time" || true
  tail -1 "$work/time"
}
for config in plain merge; do
  cp "$config.toml" concord.toml
  echo "== $config ($(grep -c '^\[\[sync\]\]' concord.toml) sync rules)"
  measure "concord scan --no-hub" "$concord" scan --no-hub
  measure "concord check --all --no-hub --format json" "$concord" check --all --no-hub --format json
  echo "   findings: $(grep -c '"code"' "$work/out" || true), JSON bytes: $(wc -c < "$work/out")"
done
