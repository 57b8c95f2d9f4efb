#!/usr/bin/env bash
# Tracker benchmark: 1,000 plan rows, all drifted from the fake OpenProject,
# 20 ms injected latency per request. Times `concord sync` (and a second,
# in-sync run) next to the naive GET+PATCH per item, sequentially, measured
# in the same run against the same server.
# Usage: bash bench/openproject.sh [--items N] [--latency-ms MS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --bin concord --bin concord-bench-openproject
./target/release/concord-bench-openproject "$PWD/target/release/concord" "$@"
