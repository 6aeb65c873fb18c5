#!/usr/bin/env bash
# Redis CPU per Analyze write script, for two revisions of the scripts side by side: what the
# per-task chain of events (rift_prev / rift_last_event) costs each write (BENCHMARKS.md).
#
#   bash scripts/script-cost.sh [BASE_REV] [TASKS] [ROUNDS] [REQUESTS]   # main 1000 6 30000
#
# Two fresh redis-servers (no persistence) on free ports, one per revision, each running that
# revision's Analyze call as its `cargo run --example analyze_call` prints it (script, KEYS,
# ARGV: scripts/analyze-call.sh), so the call cannot drift from Rift's. Each stream is filled
# to its cap first (100,000 entries, Rift's default --max-events, so every write trims as in
# steady state). Then ROUNDS rounds, alternating between the two so both see the same load on
# a shared machine: redis-benchmark runs REQUESTS EVALSHA calls with that call's KEYS and ARGV,
# TASKS task ids at random, 16 connections, after CONFIG RESETSTAT; `INFO commandstats` gives
# the script's usec_per_call (the commands it calls included). Prints each round and the
# minimum and median per revision.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-main}
tasks=${2:-1000}
rounds=${3:-6}
requests=${4:-30000}
maxlen=100000

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

# Each revision's call as Rift makes it (scripts/analyze-call.sh): its script, KEYS and ARGV.
source scripts/analyze-call.sh
for rev in base tree; do
  analyze_call "$([[ $rev == base ]] && echo "$base" || echo tree)" __rand_int__ "$maxlen" \
    > "$work/$rev.json"
done
declare -A port sha
for rev in base tree; do
  port[$rev]=$(free_port)
  redis-server --port "${port[$rev]}" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --logfile "$work/$rev.log" &
  pids+=($!)
  until redis-cli -p "${port[$rev]}" ping >/dev/null 2>&1; do sleep 0.05; done
  sha[$rev]=$(analyze_source "$work/$rev.json" | redis-cli -p "${port[$rev]}" -x script load)
done

run() {
  local rev=$1 count=$2
  xargs -0 redis-benchmark -p "${port[$rev]}" -c 16 -n "$count" -r "$tasks" -q \
    evalsha "${sha[$rev]}" < <(analyze_argv "$work/$rev.json") >/dev/null
}

for rev in base tree; do run "$rev" $((maxlen + 20000)); done
declare -A results
for round in $(seq 1 "$rounds"); do
  for rev in base tree; do
    redis-cli -p "${port[$rev]}" config resetstat >/dev/null
    run "$rev" "$requests"
    per_call=$(redis-cli -p "${port[$rev]}" info commandstats | tr -d '\r' \
      | sed -n 's/^cmdstat_evalsha:.*usec_per_call=\([0-9.]*\),.*failed_calls=\([0-9]*\).*/\1 \2/p')
    read -r usec failed <<<"$per_call"
    [[ "$failed" == 0 ]] || { echo "$rev: $failed scripts failed" >&2; exit 1; }
    echo "round $round $rev: $usec µs per call"
    results[$rev]+="$usec "
  done
done
for rev in base tree; do
  label=$([[ $rev == base ]] && echo "$base" || echo "working tree")
  # shellcheck disable=SC2086
  printf '%s\n' ${results[$rev]} | sort -n | awk -v label="$label" -v tasks="$tasks" \
    '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%s: min %.2f, median %.2f µs per call (%d rounds, %d tasks)\n", label, v[1], m, NR, tasks}'
done
