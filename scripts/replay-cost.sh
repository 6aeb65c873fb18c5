#!/usr/bin/env bash
# Redis CPU of one per-task replay among OTHERS retained entries of other tasks (BENCHMARKS.md).
#
#   bash scripts/replay-cost.sh [OTHERS] [MINE]          # defaults: 1000000 10
#
# A fresh redis-server (no persistence) on a free port. The working tree's Analyze script fills
# the stream with OTHERS entries of 100,000 other tasks (redis-benchmark, stream cap above
# OTHERS so nothing is trimmed), with MINE analyses of task `mine` among them; the call is
# the one Rift makes, printed by `cargo run --example analyze_call` (scripts/analyze-call.sh).
# Then, after
# CONFIG RESETSTAT, `task_history.lua` (what Subscribe(mine, after="0") and `Watch task mine
# from 0` run) replays the task, and `INFO commandstats` tells its Redis CPU and what it read;
# for comparison, the same replay by paging the whole stream (XRANGE COUNT 512, what a
# per-task replay cost before), timed the same way. Last, end to end through a Rift on that Redis
# (RIFT_BIN, default target/release/rift): 21 Subscribe(mine, after="0") calls from the Python
# client, the time to each one's first event, and their Redis CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
others=${1:-1000000}
mine=${2:-10}
maxlen=$((others * 2))
scripts=src/domain/memory/scripts

work=$(mktemp -d)
pid=
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --logfile "$work/redis.log" &
pid=$!
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
cli() { redis-cli -p "$port" "$@"; }

# The Analyze call exactly as Rift makes it (script, KEYS, ARGV), from the crate itself
# (scripts/analyze-call.sh).
source scripts/analyze-call.sh
analyze_call tree "other-__rand_int__" "$maxlen" > "$work/other.json"
analyze_call tree mine "$maxlen" > "$work/mine.json"
analyze=$(analyze_source "$work/other.json" | cli -x script load)
history=$(cli -x script load < $scripts/task_history.lua)
per_part=$((others / mine))
for _ in $(seq 1 "$mine"); do
  xargs -0 redis-benchmark -p "$port" -c 16 -n "$per_part" -r 100000 -q evalsha "$analyze" \
    < <(analyze_argv "$work/other.json") >/dev/null
  xargs -0 redis-cli -p "$port" evalsha "$analyze" < <(analyze_argv "$work/mine.json") >/dev/null
done
echo "stream length $(cli xlen shared:notifications), task mine: $(cli hget shared:task_context:mine rift_analysis_version) analyses"

cli config resetstat >/dev/null
replayed=$(cli evalsha "$history" 3 shared:task_context:mine rift:task_last:mine shared:notifications 0-0 512 \
  | grep -c '^mine$' || true)
stats=$(cli info commandstats | tr -d '\r' | grep -E '^cmdstat_(evalsha|xrange|hget|get):')
echo "per-task replay: $replayed entries of task mine"
echo "$stats"

# The old way, inside one script so only Redis's own time counts: every page of 512 after "0".
cli config resetstat >/dev/null
read_all='local c, n, pages = "-", 0, 0
repeat
  local r = redis.call("XRANGE", KEYS[1], c, "+", "COUNT", 512)
  pages = pages + 1
  n = n + #r
  if #r > 0 then c = "(" .. r[#r][1] end
until #r < 512
return {n, pages}'
echo "paging the whole stream: $(cli eval "$read_all" 1 shared:notifications | tr '\n' ' ')(entries, pages)"
cli info commandstats | tr -d '\r' | grep -E '^cmdstat_(eval|xrange):'

# End to end, through Rift: how long Subscribe(mine, after="0") takes to its first event, and the
# Redis CPU of those subscriptions (RIFT_BIN, default target/release/rift, else target/debug/rift).
rift_bin=${RIFT_BIN:-target/release/rift}
[[ -x "$rift_bin" ]] || rift_bin=target/debug/rift
if [[ ! -x "$rift_bin" ]]; then
  echo "no rift binary: cargo build --release (or set RIFT_BIN) for the end-to-end figure" >&2
  exit 1
fi
"$rift_bin" --log-format json serve --redis-url "redis://127.0.0.1:$port" \
  --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 2> "$work/rift.log" &
rift_pid=$!
trap 'kill $rift_pid 2>/dev/null || true; cleanup' EXIT
until grpc=$(grep -o '"grpc":"[^"]*"' "$work/rift.log" | head -1 | cut -d'"' -f4) && [[ -n "$grpc" ]]; do
  kill -0 $rift_pid 2>/dev/null || { cat "$work/rift.log" >&2; exit 1; }
  sleep 0.05
done
cli config resetstat >/dev/null
python=.venv/bin/python
[[ -x $python ]] || python=python3
RIFT_GRPC=$grpc "$python" - <<'PY'
import os, statistics, sys, time
sys.path.insert(0, "clients/python")
import grpc
from rift_client.v1 import rift_pb2, rift_pb2_grpc

channel = grpc.insecure_channel(os.environ["RIFT_GRPC"])
stub = rift_pb2_grpc.RiftStub(channel)
grpc.channel_ready_future(channel).result(timeout=10)
runs = 21
waits = []
for _ in range(runs):
    started = time.perf_counter()
    stream = stub.Subscribe(rift_pb2.SubscribeRequest(task_id="mine", after="0"))
    first = next(stream)
    waits.append((time.perf_counter() - started) * 1000)
    stream.cancel()
    assert first.task_id == "mine", first
waits.sort()
print(f"Subscribe(mine, after=\"0\") through Rift, {runs} runs: first event min {waits[0]:.2f} ms, "
      f"median {statistics.median(waits):.2f} ms, max {waits[-1]:.2f} ms")
PY
echo "Redis CPU of those 21 subscriptions (replay and live setup, all 21 together):"
cli info commandstats | tr -d '\r' | grep -E '^cmdstat_(evalsha|eval|xrange|xread|hget|get):'
