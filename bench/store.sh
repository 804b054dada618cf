#!/usr/bin/env bash
# Measures the two stores on a simulated election night: N versions of
# election 80 (default 300), built by `ctrunner simulate` from the recorded
# final results and served by the fake API on 127.0.0.1. Each version is
# fetched and committed as on election night by
#   (a) ctrunner archive into a zstd store,
#   (b) ctrunner archive into a git store, then ctrunner pack,
#   (c) curl + the real git CLI (add, commit), then git gc --aggressive:
#       the anchor, measured in the same run,
# and compared with (d) the raw bytes of the documents. "fetch+commit" runs
# one process per version (as from cron); "commit only" stores the whole
# night in one process (as a long-running watch does: ctrunner simulate
# --store, which includes generating each version) against git add + commit
# of the same documents already on disk.
#
#   bench/store.sh [VERSIONS]
#
# Needs go, git and curl. Touches nothing outside a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300}
work=$(mktemp -d)
fake_pid=
trap '[ -n "$fake_pid" ] && kill $fake_pid 2>/dev/null; rm -rf "$work"' EXIT

go build -o "$work/ctrunner" ./cmd/ctrunner
go build -o "$work/fakect" ./cmd/fakect
ct="$work/ctrunner"

echo "building a night of $n versions of election 80 ..."
"$ct" simulate --from-file testdata/ct-archive/80/13392/raw.json.gz --versions "$n" --seed 1 \
  --legacy-dir "$work/night" >/dev/null 2>&1
versions=$(ls "$work/night/80" | grep -E '^[0-9]+$' | sort -n)

"$work/fakect" -addr 127.0.0.1:0 "$work/night" >"$work/url" 2>/dev/null &
fake_pid=$!
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
api=$(head -1 "$work/url")

now() { date +%s.%N; }
per() { echo "scale=1; ($2 - $1) * 1000 / $n" | bc; }   # ms per version
setv() { curl -sf -X POST "${api}_fake/version?election=80&version=$1" >/dev/null; }

ingest_ctrunner() { # backend store
  for v in $versions; do
    setv "$v"
    "$ct" archive -e 80 --api "$api" --store "$2" --backend "$1" >/dev/null 2>&1
  done
}

ingest_gitcli() { # repo
  git init -q "$1"
  for v in $versions; do
    setv "$v"
    for doc in Version.json; do curl -sf "${api}election/80/$doc" -o "$1/$doc"; done
    for doc in Electiondata.json Lookupdata.json; do
      curl -sf "${api}election/80/$v/$doc" -o "$1/$doc"
    done
    git -C "$1" add -A
    git -C "$1" -c user.name=bench -c user.email=bench@localhost commit -q -m "version $v"
  done
}

raw=0
mkdir -p "$work/docs"
for v in $versions; do
  mkdir -p "$work/docs/$v"
  printf '{"Version":%s}' "$v" >"$work/docs/$v/Version.json"
  for doc in Electiondata.json Lookupdata.json; do
    curl -sf "${api}election/80/$v/$doc" -o "$work/docs/$v/$doc"
    raw=$((raw + $(wc -c <"$work/docs/$v/$doc")))
  done
done

commit_gitcli() { # repo: git add + commit of documents already on disk
  git init -q "$1"
  for v in $versions; do
    cp "$work/docs/$v/"* "$1/"
    git -C "$1" add -A
    git -C "$1" -c user.name=bench -c user.email=bench@localhost commit -q -m "version $v"
  done
}
commit_ctrunner() { # backend store
  "$ct" simulate --from-file testdata/ct-archive/80/13392/raw.json.gz --versions "$n" --seed 1 \
    --store "$2" --backend "$1" >/dev/null 2>&1
}
t0=$(now); commit_ctrunner zstd "$work/zstd1"; t1=$(now); zstd_commit=$(per "$t0" "$t1")
t0=$(now); commit_ctrunner git "$work/git1"; t1=$(now); git_commit=$(per "$t0" "$t1")
t0=$(now); commit_gitcli "$work/gitcli1"; t1=$(now); cli_commit=$(per "$t0" "$t1")

t0=$(now); ingest_ctrunner zstd "$work/zstd"; t1=$(now)
zstd_ingest=$(per "$t0" "$t1")
t0=$(now); ingest_ctrunner git "$work/git"; t1=$(now)
git_ingest=$(per "$t0" "$t1")
git_loose=$(du -sb "$work/git" | cut -f1)
t0=$(now); "$ct" pack --store "$work/git" >/dev/null; t1=$(now)
git_pack_s=$(echo "$t1 - $t0" | bc)
t0=$(now); ingest_gitcli "$work/gitcli"; t1=$(now)
cli_ingest=$(per "$t0" "$t1")
t0=$(now); git -C "$work/gitcli" gc -q --aggressive; t1=$(now)
cli_gc_s=$(echo "$t1 - $t0" | bc)

zstd_bytes=$(du -sb "$work/zstd" | cut -f1)
git_bytes=$(du -sb "$work/git" | cut -f1)
cli_bytes=$(du -sb "$work/gitcli/.git" | cut -f1)

best_ms() { # command... : best of 5 runs, in ms
  local best=999999
  for _ in 1 2 3 4 5; do
    local a b; a=$(now); "$@" >/dev/null 2>&1; b=$(now)
    local ms; ms=$(echo "($b - $a) * 1000 / 1" | bc)
    [ "$ms" -lt "$best" ] && best=$ms
  done
  echo "$best"
}

oldest=80~$((n - 1))
printf '\n%d versions of election 80 (raw documents: %d bytes a version)\n\n' "$n" $((raw / n))
printf '%-28s %12s %9s %14s %13s %12s %12s %10s\n' store bytes/version "x anchor" \
  "fetch+commit" "commit only" "read oldest" "read newest" "verify -r"
row() { # name bytes ingest commit store
  local ratio; ratio=$(echo "scale=2; $2 / $cli_bytes" | bc)
  local o="-" w="-" v="-"
  if [ -n "$5" ]; then
    o=$(best_ms "$ct" show "$oldest" --store "$5" --format raw)ms
    w=$(best_ms "$ct" show 80 --store "$5" --format raw)ms
    v=$(best_ms "$ct" verify --read-data --store "$5")ms
  fi
  printf '%-28s %12d %9s %11s ms %10s ms %12s %12s %10s\n' "$1" $(($2 / n)) "$ratio" "$3" "$4" \
    "$o" "$w" "$v"
}
row "(a) zstd store" "$zstd_bytes" "$zstd_ingest" "$zstd_commit" "$work/zstd"
row "(b) git store, packed" "$git_bytes" "$git_ingest" "$git_commit" "$work/git"
row "(c) git CLI + gc --aggressive" "$cli_bytes" "$cli_ingest" "$cli_commit" ""
row "(d) raw documents" "$raw" "-" "-" ""
echo "(ingest figures are per version)"
printf '\ngit store before packing: %d bytes/version; ctrunner pack took %ss; git gc --aggressive took %ss\n' \
  $((git_loose / n)) "$git_pack_s" "$cli_gc_s"
"$ct" verify --store "$work/git" >/dev/null
"$ct" verify --store "$work/zstd" >/dev/null
[ "$(git --git-dir "$work/git" rev-list --count elections/80)" -eq "$n" ] || {
  echo "git store lost versions" >&2; exit 1; }
git --git-dir "$work/git" fsck --strict --no-progress
