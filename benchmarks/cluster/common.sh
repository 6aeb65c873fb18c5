# Sourced by the cluster benchmarks (cost.sh, replay-cost.sh): a work directory removed at exit
# together with every process put in `pids`, and free ports for cluster nodes.
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# free_cluster_ports N: N distinct free ports on one line, each with its cluster bus port (+10000)
# free too.
free_cluster_ports() {
  python3 - "$1" <<'PY'
import socket, sys
count = int(sys.argv[1])
ports, held = [], []
while len(ports) < count:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]
    if p + 10000 > 65535 or p in ports or p + 10000 in ports:
        continue
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 10000))
    except OSError:
        continue
    ports.append(p); held += [s, b]
print(" ".join(map(str, ports)))
PY
}
