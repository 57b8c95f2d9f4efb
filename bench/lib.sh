# Shared by the sync benchmarks; source it, do not run it.

# bench_git_workspace WS: make every generated repo under WS/repos a git
# repository with one commit, and add one merge rule over every source and
# the hub to WS/concord.toml.
bench_git_workspace() {
  local ws=$1 repo sources
  for repo in "$ws"/repos/*; do
    git -C "$repo" init -q -b main
    git -C "$repo" config user.name bench
    git -C "$repo" config user.email bench@example.com
    git -C "$repo" add -A
    git -C "$repo" commit -q -m corpus
  done
  sources=$(grep -o '^name = "r[0-9]*-[a-z]*"' "$ws/concord.toml" | sed 's/name = //' | paste -sd, -)
  printf '\n[[sync]]\nname = "all"\nmode = "merge"\nbetween = [%s, "hub"]\n' "$sources" >> "$ws/concord.toml"
}
