#!/usr/bin/env bash
# Redis's instructions per Analyze write script call, for two revisions of the scripts: a
# noise-free companion to scripts/script-cost.sh (whose microseconds swing with the machine's
# load), counted by valgrind's callgrind inside EVALSHA only (`--toggle-collect=evalShaCommand`:
# the script and the commands it calls, not the event loop, the network or Redis's timers).
#
#   bash scripts/script-instructions.sh [BASE_REV] [N]      # main 3000
#
# For each revision (the base's Analyze call and the working tree's, each as that revision's
# `cargo run --example analyze_call` prints it: scripts/analyze-call.sh), a fresh redis-server
# under callgrind on a free port; redis-benchmark runs N EVALSHA calls (warm-up), N, then 2N,
# with that call's KEYS and ARGV over 1,000 tasks, Redis's
# counters dumped after each; per call (I(2N) - I(N)) / N. Needs valgrind (apt-get install
# valgrind); the Debian redis-server keeps its symbols.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-main}
n=${2:-3000}

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
total() { python3 scripts/bench_report.py callgrind-total "$1"; }

# Each revision's call as Rift makes it (scripts/analyze-call.sh), 1,000 tasks at random.
source scripts/analyze-call.sh
for rev in base tree; do
  analyze_call "$([[ $rev == base ]] && echo "$base" || echo tree)" __rand_int__ 100000 \
    > "$work/$rev.json"
done
for rev in base tree; do
  port=$(free_port)
  valgrind --tool=callgrind --toggle-collect=evalShaCommand \
    --callgrind-out-file="$work/$rev.callgrind" \
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    >"$work/$rev.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.2; done
  sha=$(analyze_source "$work/$rev.json" | redis-cli -p "$port" -x script load)
  for count in "$n" "$n" $((2 * n)); do
    xargs -0 redis-benchmark -p "$port" -c 4 -n "$count" -r 1000 -q evalsha "$sha" \
      < <(analyze_argv "$work/$rev.json") >/dev/null
    callgrind_control --dump "$pid" >/dev/null
  done
  failed=$(redis-cli -p "$port" info commandstats | tr -d '\r' |
    sed -n 's/^cmdstat_evalsha:.*failed_calls=\([0-9]*\).*/\1/p')
  [[ "$failed" == 0 ]] || { echo "$rev: $failed scripts failed" >&2; exit 1; }
  per_call=$(python3 scripts/bench_report.py per-op "$n" "$(total "$work/$rev.callgrind.2")" \
    "$(total "$work/$rev.callgrind.3")")
  label=$([[ $rev == base ]] && echo "$base" || echo "working tree")
  echo "$label: $per_call instructions per Analyze script call (inside EVALSHA, N=$n)"
done
