#!/usr/bin/env bash
# Measures `ctrunner log` on an election of N snapshots (default 10,000) in
# a git store and in a zstd store, against, in the same run:
#   - the git store read without its log index (one commit object a
#     snapshot, as before the index), and
#   - plain `git log` printing the same commits' subjects.
#
#   bench/log.sh [N]
#
# The stores are simulated nights of recorded election 94 (small
# documents, so that building them takes under a minute). Uses hyperfine
# if installed, else the mean of 20 runs of each command. Touches nothing
# outside a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/ctrunner" ./cmd/ctrunner
ct="$work/ctrunner"
src=testdata/ct-archive/94/3427/raw.json.gz

echo "building stores of $n snapshots of one election..." >&2
"$ct" simulate --from-file "$src" --store "$work/git" --versions "$n" --election 9994 >/dev/null 2>&1
"$ct" simulate --from-file "$src" --store "$work/zstd" --backend zstd --versions "$n" \
  --election 9994 >/dev/null 2>&1
cp -r "$work/git" "$work/git-noindex"
rm -rf "$work/git-noindex/ctrunner-log"
"$ct" log 9994 --store "$work/git" | tail -n +2 | wc -l | xargs echo "snapshots listed:" >&2

cmds=(
  "$ct log 9994 --store $work/git"
  "$ct log 9994 --store $work/zstd"
  "$ct log 9994 --store $work/git-noindex"
  "git --git-dir $work/git log --format=%h%x09%s refs/heads/elections/9994"
)
if command -v hyperfine >/dev/null; then
  hyperfine -N -w 3 -r 30 --output=pipe "${cmds[@]}"
else
  for c in "${cmds[@]}"; do
    start=$(date +%s%N)
    for _ in $(seq 20); do $c >/dev/null; done
    end=$(date +%s%N)
    printf '%8.1f ms  %s\n' "$(echo "($end - $start) / 20 / 1000000" | bc -l)" "$c"
  done
fi
