#!/usr/bin/env bash
# A release train on fresh repos (run from anywhere):
#   bash examples/release-train/demo.sh
# A library (`lib`) and the app that uses it (`app`), each a clone of a bare
# remote, ship together: the library publishes 1.0.0 to a registry (a
# folder here: `registry/lib-1.0.0`), the app's branch reference is re-pinned
# to that version and tested, and git is told what shipped (both release
# branches pushed, main fast-forwarded, a tag per repo). Set CONCORD to a
# concord binary to skip the build. Everything lands in examples/release-train/demo/
# (or DEMO_DIR).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -z "${CONCORD:-}" ]; then
  (cd "$here/../.." && cargo build -q --bin concord)
  CONCORD="$here/../../target/debug/concord"
fi
demo="${DEMO_DIR:-$here/demo}"
rm -rf "$demo"
mkdir -p "$demo/remotes" "$demo/registry" "$demo/bin"

# The registry's two commands: publish a version, and say whether one is
# live (the probe contract: exit 0 yes, 1 no, anything else unknown).
cat > "$demo/bin/publish" <<'SH'
#!/bin/sh
touch "$REGISTRY/$1-$2" && echo "published $1 $2"
SH
cat > "$demo/bin/is-published" <<'SH'
#!/bin/sh
[ -d "$REGISTRY" ] || exit 3
[ -e "$REGISTRY/$1-$2" ] && exit 0 || exit 1
SH
chmod +x "$demo/bin/publish" "$demo/bin/is-published"
export REGISTRY="$demo/registry"

repo() { # NAME FILE CONTENT...
  git init -q --bare -b main "$demo/remotes/$1.git"
  git clone -q "$demo/remotes/$1.git" "$demo/$1" 2>/dev/null
  git -C "$demo/$1" symbolic-ref HEAD refs/heads/main
  git -C "$demo/$1" config user.name demo
  git -C "$demo/$1" config user.email demo@example.com
  printf '%s\n' "$3" > "$demo/$1/$2"
  git -C "$demo/$1" add -A
  git -C "$demo/$1" commit -q -m "$1: initial"
  git -C "$demo/$1" push -q origin main
  git -C "$demo/$1" checkout -q -b release
  git -C "$demo/$1" push -q -u origin release
}
repo lib VERSION "1.0.0"
repo app deps.txt 'lib = { branch = "release" }'

printf '[[repo]]\nname = "lib"\npath = "lib"\n\n[[repo]]\nname = "app"\npath = "app"\n' > "$demo/concord.toml"
cat > "$demo/release.toml" <<TOML
[train.git]
tag = "{repo}-{train}-{id}"

[[repo]]
name = "lib"
path = "lib"
role = "library"
test = ["sh", "-c", "echo lib tests pass"]
[repo.publish]
command = ["$demo/bin/publish", "lib", "{version}"]
version_file = "VERSION"
version_regex = '([0-9]+\.[0-9]+\.[0-9]+)'
is_published = ["$demo/bin/is-published", "lib", "{version}"]

[[repo]]
name = "app"
path = "app"
role = "hub"
depends_on = ["lib"]
test = ["sh", "-c", "grep -q 'lib = \"1.0.0\"' deps.txt && echo app tests pass against lib 1.0.0"]
[[repo.repin]]
library = "lib"
glob = "deps.txt"
regex = 'lib = \{ branch = "release" \}'
replace = 'lib = "{version}"'
[repo.deploy]
kind = "none"
TOML

concord() { "$CONCORD" --config "$demo/concord.toml" "$@"; }
cd "$demo"
echo "== concord ship prepare"
concord ship prepare
echo "== concord ship plan"
concord ship plan
echo "== concord ship run --yes"
concord ship run --yes
echo "== concord ship status"
concord ship status
echo "== what git says now"
for r in lib app; do
  echo "$r: origin has $(git -C "$demo/remotes/$r.git" for-each-ref --format='%(refname:short)' | tr '\n' ' ')"
done
echo "app's deps.txt on origin/main: $(git -C "$demo/remotes/app.git" show main:deps.txt)"
echo "registry: $(ls "$demo/registry")"
