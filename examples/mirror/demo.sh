#!/usr/bin/env bash
# The mirror round trip on two fresh git repos (run from the project root):
#   bash examples/mirror/demo.sh
# 1. a feature created in `story`, which owns it, is mirrored into `ft2`;
# 2. a later change in the owner is mirrored again, even two commits behind;
# 3. `concord check` sees no stale mirror and no misplaced owner.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
cargo build -q --bin concord
concord="$PWD/target/debug/concord --config $here/concord.toml"
rm -rf "$here/demo"
for repo in ft2 story; do
  git init -q -b main "$here/demo/$repo"
  git -C "$here/demo/$repo" config user.name demo
  git -C "$here/demo/$repo" config user.email demo@example.com
  git -C "$here/demo/$repo" commit -q --allow-empty -m start
done
feature="$here/demo/story/.claude/features/universe/state.json"
mkdir -p "$(dirname "$feature")"
printf '{\n  "name": "universe",\n  "state_owner": "fitme-story",\n  "current_phase": "prd"\n}\n' > "$feature"
git -C "$here/demo/story" add -A && git -C "$here/demo/story" commit -q -m "universe: prd"
echo "== 1. mirror a new feature into ft2"
$concord mirror
cat "$here/demo/ft2/.claude/features/universe/state.json"
echo "== 2. the owner moves on; two more commits land after it"
sed -i 's/"prd"/"tasks"/' "$feature"
git -C "$here/demo/story" commit -q -am "universe: tasks"
git -C "$here/demo/story" commit -q --allow-empty -m "later 1"
git -C "$here/demo/story" commit -q --allow-empty -m "later 2"
$concord mirror
grep current_phase "$here/demo/ft2/.claude/features/universe/state.json"
echo "== 3. checks"
$concord check --no-hub
