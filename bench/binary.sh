#!/usr/bin/env bash
# The release binary: size and cold build time of the shipped profile
# ([profile.release] in Cargo.toml: strip, thin LTO) next to a reference
# built in the same run from the same sources with the profile it replaced
# (no strip, no LTO, line tables for backtraces). Each build starts from an
# empty target folder, dependencies included, as `cargo install` does.
# Usage: bash bench/binary.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build() {
  local name=$1; shift
  local start end
  start=$(date +%s.%N)
  env "$@" cargo build --release --locked -q --bin concord --target-dir "$work/$name"
  end=$(date +%s.%N)
  local bytes
  bytes=$(stat -c %s "$work/$name/release/concord")
  echo "$name $bytes $(echo "$end - $start" | bc)"
}

reference=$(build reference CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_LTO=false \
  CARGO_PROFILE_RELEASE_DEBUG=line-tables-only)
shipped=$(build shipped)
read -r _ ref_bytes ref_secs <<<"$reference"
read -r _ new_bytes new_secs <<<"$shipped"
"$work/shipped/release/concord" --version
printf '| build | size | cold build |\n| --- | --- | --- |\n'
printf '| reference (no strip, no LTO) | %.1f MB | %.0f s |\n' "$(echo "$ref_bytes/1000000" | bc -l)" "$ref_secs"
printf '| shipped (strip, thin LTO) | %.1f MB (%.2fx) | %.0f s (%.2fx) |\n' \
  "$(echo "$new_bytes/1000000" | bc -l)" "$(echo "$new_bytes/$ref_bytes" | bc -l)" \
  "$new_secs" "$(echo "$new_secs/$ref_secs" | bc -l)"
