#!/usr/bin/env bash
# Measures archiving every election from a local fake CT API: wall time and
# peak memory of a first run (everything new) and a second run (nothing
# new), against the baseline of simply downloading the same documents with
# curl in the same run.
#
#   bench/archive.sh [LEGACY-DIR]     (default: testdata/ct-archive)
#
# Serves LEGACY-DIR with cmd/fakect on 127.0.0.1; touches nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-testdata/ct-archive}
work=$(mktemp -d)
trap 'kill $fake_pid 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/ctrunner" ./cmd/ctrunner
go build -o "$work/fakect" ./cmd/fakect
"$work/fakect" -addr 127.0.0.1:0 "$src" >"$work/url" &
fake_pid=$!
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
api=$(head -1 "$work/url")
echo "fake API at $api serving $src"

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
  read -r secs kib <"$work/time"
  printf '%-34s %7.2f s %8.1f MiB peak\n' "$label" "$secs" "$(echo "$kib/1024" | bc -l)"
}

# Baseline: fetch the same documents with curl, one after another.
baseline() {
  curl -sf "${api}Elections.json" -o /dev/null
  for id in $(curl -sf "${api}Elections.json" | grep -o '"ID": *"[0-9]*"' | grep -o '[0-9]*'); do
    v=$(curl -sf "${api}election/$id/Version.json" | grep -o '[0-9]*')
    curl -sf "${api}election/$id/$v/Electiondata.json" -o /dev/null
    curl -sf "${api}election/$id/$v/Lookupdata.json" -o /dev/null
  done
}
export -f baseline; export api
measure "baseline: curl, sequential" bash -c baseline
measure "ctrunner archive (all new)" "$work/ctrunner" archive --api "$api" --store "$work/store"
measure "ctrunner archive (unchanged)" "$work/ctrunner" archive --api "$api" --store "$work/store"
echo "store size: $(du -sh "$work/store" | cut -f1), snapshots: $("$work/ctrunner" log --json --store "$work/store" | wc -l)"
