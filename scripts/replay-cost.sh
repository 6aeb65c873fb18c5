#!/usr/bin/env bash
# Redis CPU of one per-task replay among OTHERS retained entries of other tasks (BENCHMARKS.md).
#
#   bash scripts/replay-cost.sh [OTHERS] [MINE]          # defaults: 1000000 10
#
# A fresh redis-server (no persistence) on a free port. The working tree's Analyze script fills
# the stream with OTHERS entries of 100,000 other tasks (redis-benchmark, stream cap above
# OTHERS so nothing is trimmed), with MINE analyses of task `mine` among them. Then, after
# CONFIG RESETSTAT, `task_history.lua` (what Subscribe(mine, after="0") and `Watch task mine
# from 0` run) replays the task, and `INFO commandstats` tells its Redis CPU and what it read;
# for comparison, the same replay by paging the whole stream (XRANGE COUNT 512, what a
# per-task replay cost before), timed the same way.
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

analyze=$(printf '%s\n%s' "$(cat $scripts/prelude.lua)" "$(cat $scripts/analyze.lua)" | cli -x script load)
history=$(cli -x script load < $scripts/task_history.lua)
keys_of() {
  echo 7 "TechAgent:analysis:$1" "shared:task_context:$1" "TaskAgent:progress:$1" \
    shared:notifications "task_updates:$1" "rift:task_last:$1" rift:meta
}
args_of() {
  printf '%s\0' "$1" "{\"task_id\": \"$1\", \"summary\": \"Analyzed 3 items\"}" "Analyzed 3 items" \
    "$maxlen" "" 0 bench "" "" "" ""
}
per_part=$((others / mine))
for _ in $(seq 1 "$mine"); do
  # shellcheck disable=SC2046
  redis-benchmark -p "$port" -c 16 -n "$per_part" -r 100000 -q \
    evalsha "$analyze" $(keys_of "other-__rand_int__") "other-__rand_int__" \
    '{"task_id": "x", "summary": "Analyzed 3 items"}' "Analyzed 3 items" "$maxlen" "" 0 bench "" "" "" "" >/dev/null
  # shellcheck disable=SC2046
  xargs -0 redis-cli -p "$port" evalsha "$analyze" $(keys_of mine) < <(args_of mine) >/dev/null
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
