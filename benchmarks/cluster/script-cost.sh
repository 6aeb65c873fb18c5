#!/usr/bin/env bash
# The Analyze script's own Redis time per call (INFO commandstats, evalsha usec_per_call), on a
# plain redis-server and on a one-node Redis Cluster owning every slot, each as single mode runs
# it and as cluster mode does (`#!lua` shebang, SPUBLISH), all with the same hash-tagged keys:
# whether cluster mode or the cluster scripts cost more per write, apart from everything else
# (BENCHMARKS.md, "Cluster mode: cost and balance").
#
#   bash benchmarks/cluster/script-cost.sh            # 3 rounds of 20,000 calls each, 8 clients
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts=src/domain/memory/scripts
work=$(mktemp -d); pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null||true; done; wait 2>/dev/null; rm -rf $work' EXIT
read -r p1 p2 < <(python3 -c '
import socket
out=[]
while len(out)<2:
  s=socket.socket(); s.bind(("127.0.0.1",0)); p=s.getsockname()[1]
  if p+10000<65535: out.append(p)
print(*out)')
redis-server --port $p1 --save '' --appendonly no --daemonize no --logfile $work/a.log & pids+=($!)
mkdir $work/c; redis-server --port $p2 --cluster-enabled yes --cluster-config-file $work/c/nodes.conf --save '' --appendonly no --dir $work/c --daemonize no --logfile $work/c.log & pids+=($!)
for p in $p1 $p2; do until redis-cli -p $p ping >/dev/null 2>&1; do sleep 0.05; done; done
redis-cli -p $p2 cluster addslotsrange 0 16383 >/dev/null
until redis-cli -p $p2 cluster info | grep -q cluster_state:ok; do sleep 0.1; done
# The Analyze call as Rift makes it (scripts/analyze-call.sh), its keys hash-tagged into one slot.
source scripts/analyze-call.sh
analyze_call tree __rand_int__ 100000 > $work/call.json
python3 -c 'import json, sys
c = json.load(open(sys.argv[1])); c["keys"] = ["{t}" + k for k in c["keys"]]
json.dump(c, open(sys.argv[1], "w"))' $work/call.json
plain=$(analyze_source $work/call.json)
sharded=${plain//"redis.call('PUBLISH',"/"redis.call('SPUBLISH',"}
shebang=$(printf '#!lua\n%s' "$sharded")
measure() { # port script-text label
  local port=$1 text=$2 label=$3
  local sha; sha=$(printf '%s' "$text" | redis-cli -p $port -x script load)
  redis-cli -p $port flushall >/dev/null; redis-cli -p $port config resetstat >/dev/null
  xargs -0 redis-benchmark -p $port -c 8 -n 20000 -r 1000 -q evalsha $sha \
    < <(analyze_argv $work/call.json) >/dev/null
  redis-cli -p $port info commandstats | tr -d '\r' | grep '^cmdstat_evalsha' | sed "s/^/$label /"
}
for round in 1 2 3; do
  measure $p1 "$plain" "plain-server:no-shebang"
  measure $p1 "$shebang" "plain-server:shebang+spublish"
  measure $p2 "$plain" "cluster-node:no-shebang"
  measure $p2 "$shebang" "cluster-node:shebang+spublish"
done
