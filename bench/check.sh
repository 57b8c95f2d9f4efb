#!/usr/bin/env bash
# Check benchmark on the real fittracker2 corpus (../shared/corpus): its
# rules in [checks] (schema, owner, legacy key, citations offline), timed
# with hyperfine next to `rg` over the same files in the same run:
#   - concord check --all (warm), every file of the corpus;
#   - concord check --staged with one staged state file (a git copy);
#   - concord check --all with FitTracker2's own rules as team rules
#     (examples/fittracker2/concord.toml: CEL, first-commit dates).
# Citations are resolved offline from an empty cache: all 1,397 are
# unchecked, summed up in one note (before 2026-12-06, one advisory each).
# Usage: bash bench/check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "missing hyperfine (apt-get install hyperfine ripgrep)"; exit 2; }
corpus="$(cd ../shared/corpus/fittracker2 && pwd)"
cargo build --release -q --bin concord
concord="$PWD/target/release/concord"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
schema=$(sed -n '/^const SCHEMA: &str = r#"/,/^}"#;/p' crates/concord-cli/tests/cli_check.rs | sed '1s/.*r#"//; $s/"#;//')
mkdir -p "$work/ws/story" "$work/repo"
printf '%s\n' "$schema" > "$work/ws/state.schema.json"
cat > "$work/ws/concord.toml" <<TOML
[[repo]]
name = "ft2"
path = "$work/repo"

[[repo]]
name = "fitme-story"
path = "story"

[[checks.schema]]
glob = ".claude/features/*/state.json"
schema = "state.schema.json"

[checks.owner]
glob = ".claude/features/*/state.json"
field = "/state_owner"
owners = { ft2 = "ft2", "fitme-story" = "fitme-story" }
mirror_marker = "/state_owner_sync_origin"

[checks.legacy]
glob = ".claude/features/*/state.json"
fields = { "/phase" = "/current_phase" }

[checks.citations]
globs = ["docs/case-studies/*.md", ".claude/features/*/state.json"]
default_repo = "Regevba/FitTracker2"
owners = { "fitme-story" = "Regevba", "FitTracker2" = "Regevba" }
cache = "citations.json"
offline = true
TOML
cp -a "$corpus/." "$work/repo/"
git -C "$work/repo" init -q -b main
git -C "$work/repo" -c user.name=bench -c user.email=bench@example.com add -A
git -C "$work/repo" -c user.name=bench -c user.email=bench@example.com commit -q -m corpus
one=$(ls "$work"/repo/.claude/features/*/state.json | head -1)
sed -i 's/"current_phase"/"current_phase"/' "$one" && echo >> "$one"
git -C "$work/repo" add "$one"
# The team rules of examples/fittracker2, pointed at the git copy.
mkdir -p "$work/team"
sed "s#^path = .*#path = \"$work/repo\"#" examples/fittracker2/concord.toml > "$work/team/concord.toml"
echo "team-rule findings: $("$concord" --config "$work/team/concord.toml" check --no-hub --format json | grep -c '"code"')"
cd "$work/ws"
echo "files: $(find "$work/repo" -type f -not -path '*/.git/*' | wc -l), findings: $("$concord" check --no-hub --format json | grep -c '"code"')"
hyperfine -N -w 3 -r 30 --ignore-failure \
  "$concord check --all --no-hub --format json" \
  "rg -c --no-ignore --hidden PR $work/repo/docs $work/repo/.claude" \
  "$concord check --staged --format json" \
  "$concord --config $work/team/concord.toml check --all --no-hub --format json"
