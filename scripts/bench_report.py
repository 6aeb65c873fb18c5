#!/usr/bin/env python3
"""What the benchmark scripts read and compute, in one place: scripts/bench.sh,
scripts/callgrind.sh and scripts/k6/run.py call it, and tests/bench_smoke.rs checks it on real
output (a callgrind dump, rift-bench reports of Rift and of the prototype).

  bench_report.py callgrind-total FILE         total instructions (Ir) of one callgrind dump
  bench_report.py per-op N B C [IDLE_PER_S DT] (C - B) / N, less IDLE_PER_S * DT: instructions
                                                per operation from a run of N and one of 2N
  bench_report.py delivery S1 S2 J11 J12 E11 E12 J21 J22 E21 E22
                                                instructions per Subscribe delivery (see below)
  bench_report.py compare RIFT.json PROTOTYPE.json
                                                both rift-bench reports side by side, and Rift's
                                                throughput over the prototype's
  bench_report.py line REPORT.json             one line of a rift-bench report: throughput,
                                                latency, CPU seconds of each process, load
  bench_report.py per-item REPORT.json         Rift's CPU nanoseconds per Analyze item of a
                                                `grpc --op analyze --warmup 0s` report

Only the standard library: it runs under any python3.
"""

import json
import sys


def callgrind_total(path):
    """The `totals:` (or, failing that, `summary:`) line of a callgrind dump: every
    instruction the process executed since the previous dump (a dump zeroes the counters)."""
    summary = None
    with open(path, encoding="utf-8", errors="replace") as dump:
        for line in dump:
            if line.startswith("totals:"):
                return int(line.split()[1])
            if line.startswith("summary:"):
                summary = int(line.split()[1])
    if summary is None:
        raise ValueError(f"{path}: no totals or summary line: not a callgrind dump")
    return summary


def per_op(n, b, c, idle_per_s=0.0, extra_seconds=0.0):
    """Instructions per operation from B (a run of N operations) and C (a run of 2N): what
    both runs share (connecting, a caller's first call) cancels, and the idle work of the
    server (timers) during the longer run's extra seconds is taken out."""
    if n <= 0:
        raise ValueError("N must be positive")
    return (c - b - idle_per_s * extra_seconds) / n


def delivery(s1, s2, j1, e1, j2, e2):
    """Instructions per Subscribe delivery. For S subscribers, a run that writes E events costs
    a(S) + E * (w + S * d): setup, the write and S deliveries per event. Two runs at each of
    two subscriber counts give the slope per event m(S) = w + S * d at each, and
    d = (m(S2) - m(S1)) / (S2 - S1). j and e are pairs: instructions and events of two runs."""
    m1 = (j1[1] - j1[0]) / (e1[1] - e1[0])
    m2 = (j2[1] - j2[0]) / (e2[1] - e2[0])
    return (m2 - m1) / (s2 - s1), m1, m2


def load(path):
    with open(path, encoding="utf-8") as report:
        return json.load(report)


def operation(report, name=None):
    """The named operation of a report, or its only (first) one."""
    ops = report.get("operations", [])
    for op in ops:
        if name is None or op["name"] == name:
            return op
    raise ValueError(f"no operation {name!r} in report of scenario {report.get('scenario')}")


def line(report):
    op = operation(report)
    figures = report.get("figures", {})
    cpu = figures.get("cpu_seconds", {})
    lat = op["latency"]
    return (
        f"{op['name']}: {op['throughput_per_s']:.0f}/s ok {op['ok']} errors {op['errors']} "
        f"p50 {lat['p50_ms']:.2f} p99 {lat['p99_ms']:.2f} ms; "
        f"cpu s {' '.join(f'{k} {v}' for k, v in sorted(cpu.items()))}; "
        f"loadavg {figures.get('loadavg', '?')}"
    )


def compare(rift, prototype):
    """Rift's throughput over the prototype's, both measured by the same tool; fails unless
    both ran clean (no error, every reply checked)."""
    r, p = operation(rift), operation(prototype)
    for name, report, op in (("rift", rift, r), ("prototype", prototype, p)):
        if report.get("failures") or op["errors"] or op["ok"] == 0:
            raise ValueError(f"the {name} run did not run clean: {report.get('failures')}")
    if prototype.get("params", {}).get("server") != "prototype":
        raise ValueError("the second report is not of a `--server prototype` run")
    return r["throughput_per_s"] / p["throughput_per_s"]


def per_item_ns(report):
    """Rift's CPU time per Analyze item: its CPU seconds over the run (setup included, so
    `--warmup 0s` keeps the unmeasured calls to each caller's one preparing Analyze) over every
    call it served (measured, failed, and one preparing call per caller) times the items."""
    params = report["params"]
    if params.get("op") != "analyze" or params.get("timing", {}).get("warmup") != 0:
        raise ValueError("per-item needs a report of `grpc --op analyze --warmup 0s`")
    op = operation(report, "analyze")
    calls = op["ok"] + op["errors"] + params["concurrency"]
    return report["figures"]["cpu_seconds"]["rift"] / calls / params["items"] * 1e9


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    command, args = argv[1], argv[2:]
    if command == "callgrind-total" and len(args) == 1:
        print(callgrind_total(args[0]))
    elif command == "per-op" and len(args) in (3, 5):
        n, b, c = int(args[0]), int(args[1]), int(args[2])
        idle, dt = (float(args[3]), float(args[4])) if len(args) == 5 else (0.0, 0.0)
        print(f"{per_op(n, b, c, idle, dt):.0f}")
    elif command == "delivery" and len(args) == 10:
        s1, s2 = int(args[0]), int(args[1])
        j1, e1 = (int(args[2]), int(args[3])), (int(args[4]), int(args[5]))
        j2, e2 = (int(args[6]), int(args[7])), (int(args[8]), int(args[9]))
        d, m1, m2 = delivery(s1, s2, j1, e1, j2, e2)
        print(f"{d:.0f} per delivery (per event: {m1:.0f} at {s1} subscribers, {m2:.0f} at {s2})")
    elif command == "compare" and len(args) == 2:
        rift, prototype = load(args[0]), load(args[1])
        ratio = compare(rift, prototype)
        print(f"rift      {line(rift)}")
        print(f"prototype {line(prototype)}")
        print(f"ratio rift/prototype: {ratio:.1f}")
    elif command == "per-item" and len(args) == 1:
        print(f"{per_item_ns(load(args[0])):.1f}")
    elif command == "line" and len(args) == 1:
        print(line(load(args[0])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
