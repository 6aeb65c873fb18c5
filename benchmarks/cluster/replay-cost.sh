#!/usr/bin/env bash
# Per-task replay in cluster mode among OTHERS retained entries of other tasks in the task's own
# partition (BENCHMARKS.md, "Per-task replay and its cost per write"), the cluster counterpart of
# scripts/replay-cost.sh.
#
#   bash benchmarks/cluster/replay-cost.sh [OTHERS] [MINE]        # defaults: 1000000 10
#
# A fresh one-node Redis Cluster (`--cluster-enabled yes`, every slot on it, free ports with
# their bus ports free): the per-task replay reads one partition's stream on its master, so one
# master shows its whole cost, and a task's partition holds the most entries it can when every
# other write lands there too. A Rift in cluster mode (RIFT_BIN, default target/release/rift)
# stores task `mine`'s first analysis through gRPC, which tells which stream is its partition's;
# that stream then gets OTHERS entries of other tasks (XADD by redis-benchmark, entries shaped
# like Rift's) and `mine` gets MINE-1 more analyses through Rift among them (`--max-events`
# twice OTHERS, so nothing is trimmed). Then, after
# CONFIG RESETSTAT, 21 Subscribe(mine, after="0") from the Python client: the time to each one's
# first event and the Redis CPU of all 21 together (INFO commandstats).
set -euo pipefail
cd "$(dirname "$0")/../.."
others=${1:-1000000}
mine=${2:-10}
rift_bin=${RIFT_BIN:-target/release/rift}
[[ -x "$rift_bin" ]] || { echo "no $rift_bin: cargo build --release (or set RIFT_BIN)" >&2; exit 1; }
python=.venv/bin/python
[[ -x $python ]] || python=python3

source benchmarks/cluster/common.sh
port=$(free_cluster_ports 1)
(cd "$work" && exec redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
  --cluster-config-file "$work/nodes.conf" --save '' --appendonly no --daemonize no \
  --logfile "$work/redis.log") &
pids+=($!)
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
cli() { redis-cli -p "$port" "$@"; }
cli cluster addslotsrange 0 16383 >/dev/null
until cli cluster info | grep -q 'cluster_state:ok'; do sleep 0.05; done

RUST_LOG=${RUST_LOG:-info} "$rift_bin" --log-format json serve --redis-mode cluster --redis-url "redis://127.0.0.1:$port" \
  --max-events $((others * 2)) --grpc-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 2> "$work/rift.log" &
pids+=($!)
until grpc=$(grep -o '"grpc":"[^"]*"' "$work/rift.log" | head -1 | cut -d'"' -f4) && [[ -n "$grpc" ]]; do
  kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/rift.log" >&2; exit 1; }
  sleep 0.05
done

analyze_mine() {
  RIFT_GRPC=$grpc "$python" - <<'PY'
import os, sys
sys.path.insert(0, "clients/python")
import grpc
from google.protobuf import struct_pb2
from rift_client.v1 import rift_pb2, rift_pb2_grpc
channel = grpc.insecure_channel(os.environ["RIFT_GRPC"])
grpc.channel_ready_future(channel).result(timeout=10)
data = [struct_pb2.Value(string_value=f"data{i}") for i in range(1, 4)]
rift_pb2_grpc.RiftStub(channel).Analyze(rift_pb2.AnalyzeRequest(task_id="mine", data=data), timeout=10)
PY
}

analyze_mine || { tail -20 "$work/rift.log" >&2; exit 1; }
# The one stream Rift has written so far is `mine`'s partition's.
stream=
for key in $(cli --scan); do
  if [[ $(cli type "$key") == stream ]]; then stream=$key; break; fi
done
[[ -n "$stream" ]] || { echo "no stream after mine's first analysis" >&2; exit 1; }
tag=${stream#*\{}; tag=${tag%%\}*}
echo "task mine's partition stream: $stream"

per_part=$((others / mine))
for round in $(seq 1 "$mine"); do
  redis-benchmark -p "$port" -c 16 -n "$per_part" -r 100000 -q \
    xadd "$stream" '*' task_id "other-__rand_int__" agent TechAgent action analysis_stored \
    payload '{"task_id":"other","summary":"Analyzed 3 items","version":1}' >/dev/null
  if [[ $round -lt $mine ]]; then analyze_mine; fi
done
echo "stream length $(cli xlen "$stream"), partition tag {$tag}"

cli config resetstat >/dev/null
RIFT_GRPC=$grpc MINE=$mine "$python" - <<'PY'
import os, statistics, sys, time
sys.path.insert(0, "clients/python")
import grpc
from rift_client.v1 import rift_pb2, rift_pb2_grpc

channel = grpc.insecure_channel(os.environ["RIFT_GRPC"])
stub = rift_pb2_grpc.RiftStub(channel)
grpc.channel_ready_future(channel).result(timeout=10)
mine = int(os.environ["MINE"])
runs = 21
waits = []
for run in range(runs):
    started = time.perf_counter()
    stream = stub.Subscribe(rift_pb2.SubscribeRequest(task_id="mine", after="0"), timeout=60)
    first = next(stream)
    waits.append((time.perf_counter() - started) * 1000)
    assert first.task_id == "mine", first
    if run == 0:
        # The whole history once: exactly mine's analyses, in order.
        seen = [first] + [next(stream) for _ in range(mine - 1)]
        versions = [int(event.payload["version"]) for event in seen]
        assert all(event.task_id == "mine" for event in seen), seen
        print(f"replayed {len(seen)} events of task mine, versions {versions}")
    stream.cancel()
waits.sort()
print(f"Subscribe(mine, after=\"0\") through Rift in cluster mode, {runs} runs: first event "
      f"min {waits[0]:.2f} ms, median {statistics.median(waits):.2f} ms, max {waits[-1]:.2f} ms")
PY
echo "Redis CPU of those 21 subscriptions (replay and live setup, all 21 together):"
cli info commandstats | tr -d '\r' | grep -E '^cmdstat_(evalsha|eval|xrange|xread|xrevrange|hget|get):'
