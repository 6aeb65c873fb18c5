#!/usr/bin/env bash
# Redis CPU per write on each master in cluster mode, beside single mode, and the capacity
# model that follows (BENCHMARKS.md, "Cluster mode: cost and balance").
#
#   bash benchmarks/cluster/cost.sh [DURATION] [CALLERS]        # defaults: 10s 192
#
# Two shared cores cannot show scaling by wall clock (Rift, the load tool and six Redis
# processes share them), so this measures cost and balance instead: a fresh 3-master,
# 3-replica cluster (free ports, each with its bus port free) and a fresh single redis-server;
# against each, a Rift (RIFT_BIN, default target/debug/rift: Redis's cost per write does not
# depend on Rift's build) driven by `rift-bench grpc` (RIFT_BENCH_BIN) with CALLERS callers,
# one task each. Before the load every Redis gets CONFIG RESETSTAT; after it, per master:
# the Analyze script's calls and Redis's own time in it (INFO commandstats, evalsha), every
# other command's time, and the process's CPU (INFO cpu, user+sys), which includes
# replication and the notifier tails. The capacity model: a master saturates at one core
# divided by its CPU per write; with uniform task ids each master takes its share of writes,
# so the whole takes min over masters of (capacity / share).
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10s}
callers=${2:-192}
rift=${RIFT_BIN:-target/debug/rift}
bench=${RIFT_BENCH_BIN:-target/debug/rift-bench}
if [[ ! -x $rift || ! -x $bench ]]; then cargo build --workspace --bins; fi

source benchmarks/cluster/common.sh

# Nine ports: six cluster nodes, one single server, then two for Rift.
read -r -a ports < <(free_cluster_ports 9)
cluster_ports=("${ports[@]:0:6}")
single_port=${ports[6]}
grpc_port=${ports[7]}
http_port=${ports[8]}

for port in "${cluster_ports[@]}"; do
  mkdir -p "$work/$port"
  redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file "$work/$port/nodes.conf" --cluster-node-timeout 2000 \
    --save '' --appendonly no --dir "$work/$port" --logfile "$work/$port/log" --daemonize no &
  pids+=($!)
done
redis-server --port "$single_port" --bind 127.0.0.1 --save '' --appendonly no \
  --logfile "$work/single.log" --daemonize no &
pids+=($!)
for port in "${cluster_ports[@]}" "$single_port"; do
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
done
addresses=()
for port in "${cluster_ports[@]}"; do addresses+=("127.0.0.1:$port"); done
redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"$work/create.log"
settled() {
  for port in "${cluster_ports[@]}"; do
    redis-cli -p "$port" cluster info | grep -q 'cluster_state:ok' || return 1
  done
  for port in $(masters); do
    redis-cli -p "$port" info replication | grep -q 'state=online' || return 1
  done
}
masters() {
  redis-cli -p "${cluster_ports[0]}" cluster nodes | awk '$3 ~ /master/ { split($2, a, "[:@]"); print a[2] }' | sort -n
}
until settled; do sleep 0.1; done

# INFO of one server as "evalsha_calls evalsha_usec other_usec cpu_usec".
snapshot() {
  redis-cli -p "$1" info all | tr -d '\r' | awk -F'[:,=]' '
    /^cmdstat_evalsha:/ { calls = $3; usec = $5 }
    /^cmdstat_/ && !/^cmdstat_evalsha:/ { for (i = 2; i <= NF; i++) if ($i == "usec") other += $(i + 1) }
    /^used_cpu_sys:/ { cpu += $2 * 1e6 } /^used_cpu_user:/ { cpu += $2 * 1e6 }
    END { printf "%d %d %d %d\n", calls, usec, other, cpu }'
}

run() {
  local mode=$1 url=$2; shift 2
  local servers=("$@")
  "$rift" serve --redis-mode "$mode" --redis-url "$url" \
    --grpc-addr "127.0.0.1:$grpc_port" --http-addr "127.0.0.1:$http_port" 2>"$work/rift-$mode.log" &
  local rift_pid=$!
  pids+=("$rift_pid")
  until (exec 3<>"/dev/tcp/127.0.0.1/$grpc_port") 2>/dev/null; do sleep 0.05; done
  declare -A before
  for port in "${servers[@]}"; do
    redis-cli -p "$port" config resetstat >/dev/null
    before[$port]=$(snapshot "$port")
  done
  "$bench" --grpc-addr "127.0.0.1:$grpc_port" grpc -c "$callers" --duration "$duration" --warmup 1s \
    >"$work/bench-$mode.txt"
  local throughput
  throughput=$(awk '$1 == "analyze" { print $2 " Analyze ok, " $4 "/s, p50 " $6 " ms" }' "$work/bench-$mode.txt")
  echo "== $mode: $callers callers for $duration: ${throughput:-see rift-bench output}"
  local total=0
  for port in "${servers[@]}"; do
    read -r c1 u1 o1 p1 <<<"${before[$port]}"
    read -r c2 u2 o2 p2 <<<"$(snapshot "$port")"
    total=$((total + c2 - c1))
  done
  printf '%-7s %8s %6s %14s %14s %14s %16s\n' master writes share "script us/w" "other us/w" "CPU us/w" "capacity w/s"
  local model=""
  for port in "${servers[@]}"; do
    read -r c1 u1 o1 p1 <<<"${before[$port]}"
    read -r c2 u2 o2 p2 <<<"$(snapshot "$port")"
    awk -v port="$port" -v c=$((c2 - c1)) -v u=$((u2 - u1)) -v o=$((o2 - o1)) -v p=$((p2 - p1)) -v t="$total" '
      BEGIN { if (c == 0) { printf "%-7s %8d (no writes)\n", port, 0; exit }
              printf "%-7s %8d %5.1f%% %14.1f %14.1f %14.1f %16.0f\n", port, c, 100 * c / t, u / c, o / c, p / c, 1e6 / (p / c) }'
    model+="$((c2 - c1)) $((p2 - p1))"$'\n'
  done
  awk -v t="$total" 'NF == 2 && $1 > 0 { cap = 1e6 / ($2 / $1); whole = cap / ($1 / t); if (min == "" || whole < min) min = whole }
    END { printf "capacity model: the busiest master saturates the whole at %.0f writes/s (one core per master)\n", min }' <<<"$model"
  kill "$rift_pid"; wait "$rift_pid" 2>/dev/null || true
}

cluster_url=$(printf 'redis://127.0.0.1:%s,' "${cluster_ports[@]}"); cluster_url=${cluster_url%,}
mapfile -t master_ports < <(masters)
run cluster "$cluster_url" "${master_ports[@]}"
run single "redis://127.0.0.1:$single_port" "$single_port"
