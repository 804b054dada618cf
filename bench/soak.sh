#!/usr/bin/env bash
# Soak test of ctrunner watch: a simulated election night of election 80
# (the largest recorded one) served with the 14 other recorded elections by
# cmd/fakect on 127.0.0.1, its version stepped every STEP seconds, while
# `ctrunner watch --election ALL --interval 5s --publish-dir …` follows it.
# Every 30 s it samples the watcher's resident memory (/proc/PID/status),
# open file descriptors (/proc/PID/fd) and goroutines (from the heartbeat
# log line), prints a table, and at the end says whether every version the
# fake published was captured and published.
#
#   bench/soak.sh [MINUTES]          (default 10; STEP=8 seconds per version)
#
# Memory, descriptors and goroutines should stay flat after the first few
# samples. Touches nothing outside a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
step=${STEP:-8}
versions=$(( minutes * 60 / step ))
work=$(mktemp -d)
fake_pid= watch_pid= stepper_pid=
cleanup() {
  for p in $stepper_pid $watch_pid $fake_pid; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/ctrunner" ./cmd/ctrunner
go build -o "$work/fakect" ./cmd/fakect

# The recorded elections, with election 80 replaced by a simulated night.
cp -r testdata/ct-archive "$work/night"
rm -rf "$work/night/80"
"$work/ctrunner" simulate --from-file testdata/ct-archive/80/13392/raw.json.gz \
  --legacy-dir "$work/night80" --versions "$versions" --first-version 20000 \
  >"$work/simulated" 2>/dev/null
mv "$work/night80/80" "$work/night/80"
mapfile -t steps < <(ls "$work/night/80" | grep -E '^[0-9]+$' | sort -n)

"$work/fakect" -addr 127.0.0.1:0 "$work/night" >"$work/url" 2>"$work/fake.log" &
fake_pid=$!
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
api=$(head -1 "$work/url")
curl -sf -X POST "${api}_fake/version?election=80&version=${steps[0]}" >/dev/null
echo "fake API at $api; election 80: ${#steps[@]} versions, one every ${step}s;" \
  "soak of ${minutes} min"

"$work/ctrunner" watch --api "$api" --store "$work/store" --election ALL --interval 5s \
  --publish-dir "$work/pub" --heartbeat 30s --log-format json 2>"$work/watch.log" &
watch_pid=$!

# Step the fake's version; the list of versions published goes to a file.
(
  for v in "${steps[@]}"; do
    curl -sf -X POST "${api}_fake/version?election=80&version=$v" >/dev/null
    echo "$v" >>"$work/published"
    sleep "$step"
  done
) &
stepper_pid=$!

printf '%8s %10s %8s %11s %9s %9s\n' ELAPSED RSS_MIB FDS GOROUTINES VERSIONS HEAP_MIB
start=$(date +%s)
end=$(( start + minutes * 60 ))
sample() {
  local rss fds hb gor heap stored
  rss=$(awk '/^VmRSS:/ {printf "%.1f", $2/1024}' "/proc/$watch_pid/status")
  fds=$(ls "/proc/$watch_pid/fd" | wc -l)
  hb=$(grep '"msg":"heartbeat"' "$work/watch.log" | tail -1 || true)
  gor=$(echo "${hb:-{\}}" | jq -r '.goroutines // "-"')
  heap=$(echo "${hb:-{\}}" | jq -r 'if .heap_bytes then (.heap_bytes/1048576*10|floor/10) else "-" end')
  stored=$(grep -c '"msg":"new version"' "$work/watch.log" || true)
  printf '%7ss %10s %8s %11s %9s %9s\n' "$(( $(date +%s) - start ))" "$rss" "$fds" "$gor" \
    "$stored" "$heap"
}
while [ "$(date +%s)" -lt "$end" ]; do
  sleep 30
  kill -0 "$watch_pid" 2>/dev/null || { echo "watch died:"; tail "$work/watch.log"; exit 1; }
  sample
done
sleep 12 # the last version's poll
kill "$stepper_pid" 2>/dev/null || true; stepper_pid=
kill -INT "$watch_pid"
status=0; wait "$watch_pid" || status=$?
watch_pid=
echo "watch exited $status after SIGINT"

# Every version the fake published must be stored and, being clean,
# published.
"$work/ctrunner" log 80 --json --store "$work/store" | jq -r .version | sort -n >"$work/stored"
sort -n "$work/published" >"$work/sent"
missing=$(comm -23 "$work/sent" "$work/stored" | wc -l)
suspect=$(grep -c '"msg":"suspect version"' "$work/watch.log" || true)
failures=$(grep -c '"msg":"poll failed"' "$work/watch.log" || true)
shown=$(jq -r .version "$work/pub/80/published.json")
echo "versions published by the fake: $(wc -l <"$work/sent"), stored: $(wc -l <"$work/stored")," \
  "missing: $missing; suspect: $suspect; failed polls: $failures"
echo "publish folder shows version $shown (last sent $(tail -1 "$work/sent"));" \
  "version folders kept: $(ls "$work/pub/.versions" | wc -l)"
echo "poll journal: $(wc -l <"$work/store/ctrunner-polls.jsonl") lines," \
  "store: $(du -sh "$work/store" | cut -f1)"
if [ "$missing" -eq 0 ] && [ "$status" -eq 0 ]; then
  echo "PASS: every published version was captured"
else
  echo "FAIL"; comm -23 "$work/sent" "$work/stored" | head; exit 1
fi
