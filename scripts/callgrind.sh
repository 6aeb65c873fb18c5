#!/usr/bin/env bash
# Instructions per operation on Rift's side only, counted by valgrind's callgrind: a cost that a
# busy machine cannot blur, so a regression shows whatever else the machine is doing
# (BENCHMARKS.md, "Instructions per operation").
#
#   bash scripts/callgrind.sh [out-dir]                      # default target/callgrind
#   N=1000 ONLY="grpc-analyze ws-analyze" bash scripts/callgrind.sh
#   RIFT_BIN=/tmp/rift-before bash scripts/callgrind.sh target/callgrind-before   # another server
#
# Rift (release build, one worker thread) runs under callgrind; Redis and the load tool
# (`rift-bench`, one caller, `--count`) run natively beside it, so only Rift's instructions are
# counted. For each operation the load tool runs N operations (warm-up), N, then 2N, and Rift's
# counters are dumped after each run (`callgrind_control --dump`, which also zeroes them):
#
#   per operation = (I(2N) - I(N) - idle * (t(2N) - t(N))) / N
#
# What both runs share (connecting, each caller's first Analyze) cancels; `idle` is what Rift
# spends per second doing nothing (its timers: the notifier's tail, the health probe), measured
# once at the start, taken out for the longer run's extra seconds. Subscribe: S subscribers on a
# task written at E events/s; two runs at each of two subscriber counts give the instructions
# per delivery (scripts/bench_report.py, `delivery`).
#
# Every dump is kept in the output directory (`<run>.callgrind`, read with callgrind_annotate);
# the figures go to stdout and to <out>/summary.txt. Ports: Redis 6393, gRPC 50063, HTTP 8063.
# Needs valgrind (`apt-get install valgrind`) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/callgrind}
n=${N:-1000}
only=${ONLY:-}
report=(python3 scripts/bench_report.py)
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || {
  echo "valgrind not found: apt-get install valgrind" >&2
  exit 1
}
mkdir -p "$out"
rm -f "$out"/rift.callgrind* "$out"/*.callgrind "$out/summary.txt"

cargo build --release --locked --workspace
rift=${RIFT_BIN:-${CARGO_TARGET_DIR:-target}/release/rift}
rift_bench=${CARGO_TARGET_DIR:-target}/release/rift-bench

redis_port=6393
redis-server --save "" --appendonly no --port "$redis_port" --daemonize no >"$out/redis.log" 2>&1 &
redis_pid=$!
# 101 Subscribe streams share one connection: more calls than a connection may have in flight
# by default (64), on a build that has the limit.
extra=()
if "$rift" serve --help | grep -q -- --max-in-flight-per-connection; then
  extra=(--max-in-flight-per-connection 1024)
fi
# Names spelled out in every dump (not compressed against earlier ones), so each dump reads on
# its own with callgrind_annotate.
valgrind --tool=callgrind --compress-strings=no --compress-pos=no \
  --callgrind-out-file="$out/rift.callgrind" \
  "$rift" serve --grpc-addr 127.0.0.1:50063 --http-addr 127.0.0.1:8063 \
  --redis-url "redis://127.0.0.1:$redis_port" --worker-threads 1 "${extra[@]}" 2>"$out/rift.log" &
rift_pid=$!
trap 'kill "$rift_pid" "$redis_pid" 2>/dev/null; wait 2>/dev/null' EXIT

# Under callgrind Rift starts some fifty times slower than natively.
for _ in $(seq 600); do
  curl -sf http://127.0.0.1:8063/healthz >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf http://127.0.0.1:8063/healthz >/dev/null

now() { date +%s.%N; }
calc() { python3 -c "print($1)"; }

# dump LABEL: dumps Rift's counters (zeroing them), keeps the dump as <out>/LABEL.callgrind, and
# sets $last to the instructions since the previous dump and $interval to the seconds between.
dumps=0
last_dump_at=$(now)
dump() {
  callgrind_control --dump="$1" "$rift_pid" >/dev/null
  dumps=$((dumps + 1))
  mv "$out/rift.callgrind.$dumps" "$out/$1.callgrind"
  last=$("${report[@]}" callgrind-total "$out/$1.callgrind")
  local at
  at=$(now)
  interval=$(calc "$at - $last_dump_at")
  last_dump_at=$at
}

summary() { echo "$*" | tee -a "$out/summary.txt"; }

selected() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }

# run LABEL ARGS...: one rift-bench run against Rift, then a dump.
run() {
  local label=$1
  shift
  "$rift_bench" --grpc-addr 127.0.0.1:50063 --ws-url ws://127.0.0.1:8063/ws \
    --redis-url "redis://127.0.0.1:$redis_port" --json-file "$out/$label.json" "$@" \
    >"$out/$label.txt"
  dump "$label"
}

# measure NAME COUNT ARGS...: instructions per operation of `rift-bench ARGS`, COUNT at a time.
measure() {
  local name=$1 count=$2
  shift 2
  selected "$name" || return 0
  local load=(--warmup 0s -c 1)
  run "$name-warmup" "$@" "${load[@]}" --count "$count"
  run "$name-n" "$@" "${load[@]}" --count "$count"
  local b=$last bt=$interval
  run "$name-2n" "$@" "${load[@]}" --count $((2 * count))
  local c=$last ct=$interval
  per_op=$("${report[@]}" per-op "$count" "$b" "$c" "$idle_per_s" "$(calc "$ct - $bt")")
  summary "$name: $per_op instructions per operation (N=$count: I(N) $b in ${bt}s, I(2N) $c in ${ct}s)"
}

dump startup
summary "startup: $last instructions"
sleep 5
dump idle
idle_per_s=$(calc "round($last / $interval)")
summary "idle: $idle_per_s instructions per second"

measure grpc-analyze "$n" grpc --op analyze
measure grpc-narrate "$n" grpc --op narrate
measure grpc-progress "$n" grpc --op progress
measure ws-analyze "$n" ws --op analyze
measure ws-progress "$n" ws --op progress
# 10,000 items an Analyze: some fifty times an ordinary one, so fewer of them.
items_count=$(((n + 49) / 50))
measure grpc-analyze-10k "$items_count" grpc --op analyze --items 10000
if selected grpc-analyze-10k; then
  summary "grpc-analyze-10k: $(calc "round($per_op / 10000)") instructions per item"
fi

# Subscribe: S1 and S2 subscribers, each for two durations at the same rate.
if selected subscribe; then
  s1=1 s2=101 rate=${SUBSCRIBE_RATE:-20}
  sub=()
  for s in $s1 $s2; do
    for secs in 5 10; do
      run "subscribe-$s-${secs}s" subscribe -s "$s" -e "$rate" --duration "${secs}s" \
        --connections 1 --writer-connections 1 --drain 60s
      sub+=("$last" "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['figures']['events_written'])" "$out/subscribe-$s-${secs}s.json")")
    done
  done
  # sub: J(s1,5s) E(s1,5s) J(s1,10s) E(s1,10s) J(s2,5s) E(s2,5s) J(s2,10s) E(s2,10s)
  summary "subscribe: $("${report[@]}" delivery "$s1" "$s2" "${sub[0]}" "${sub[2]}" "${sub[1]}" "${sub[3]}" "${sub[4]}" "${sub[6]}" "${sub[5]}" "${sub[7]}")"
fi
