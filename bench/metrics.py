"""Benchmark: parse + aggregate time of one scrape round. Prints a table and saves bench/results/metrics.json.

    .venv/bin/python bench/metrics.py [--pods 20] [--tools 50] [--rounds 30]

One round = what MetricsWatcher does with the bodies of every pod's /metrics: parse each with
`prometheus_client.parser` (core.observe.metrics_parse), compute each pod's window against its previous
scrape, and sum the pods. The bodies are the real server's exposition (aksmcp_server.metrics.Metrics with
`--tools` tools, every tool called, so every histogram has data), made before timing: the network and the
tunnel are not part of this figure. Goal from issue 10: < 20 ms per round for 20 pods x 50 tools.
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "metrics.json"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "server"))


def bodies(pods: int, tools: int, rounds: int) -> list[list[str]]:
    """bodies[r][p]: pod p's /metrics text at round r (counters growing round by round)."""
    from aksmcp_server.metrics import Metrics

    names = [f"tool_{i:02d}" for i in range(tools)]
    rng = random.Random(7)
    servers = [Metrics(names) for _ in range(pods)]
    out = []
    for _ in range(rounds + 1):
        for metrics in servers:
            for name in names:
                for _ in range(rng.randint(1, 4)):
                    outcome = "ok" if rng.random() > 0.1 else "tool_error"
                    metrics.record_tool_call(name, outcome, rng.expovariate(50))
        out.append([m.render().decode() for m in servers])
    return out


def main() -> None:
    from aksmcp_tui.core.observe.metrics_aggregate import pod_window, sum_windows
    from aksmcp_tui.core.observe.metrics_parse import parse_scrape

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--tools", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    texts = bodies(args.pods, args.tools, args.rounds)
    size = sum(len(t) for t in texts[0])
    lines = sum(t.count("\n") for t in texts[0])
    c0 = time.process_time()
    previous = [parse_scrape(t) for t in texts[0]]  # cold: every distinct series through the reference parser
    cold_cpu_ms = (time.process_time() - c0) * 1000
    parse_ms: list[float] = []
    round_ms: list[float] = []
    cpu_ms: list[float] = []  # this process's CPU time: what the round costs, without the box's other load
    for r in range(1, args.rounds + 1):
        c0 = time.process_time()
        t0 = time.perf_counter()
        scrapes = [parse_scrape(t) for t in texts[r]]
        t1 = time.perf_counter()
        windows = [pod_window(before, after, 2.0) for before, after in zip(previous, scrapes, strict=True)]
        total = sum_windows(windows)
        for rates in total.tools.values():  # what the screen shows per tool
            rates.quantile(0.5), rates.quantile(0.95), rates.quantile(0.99)
        t2 = time.perf_counter()
        cpu_ms.append((time.process_time() - c0) * 1000)
        previous = scrapes
        parse_ms.append((t1 - t0) * 1000)
        round_ms.append((t2 - t0) * 1000)
    result = {
        "benchmark": "metrics",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_1m": os.getloadavg()[0]},
        "pods": args.pods,
        "tools": args.tools,
        "bytes_per_round": size,
        "lines_per_round": lines,
        "parse_ms_median": round(statistics.median(parse_ms), 2),
        "round_ms_median": round(statistics.median(round_ms), 2),
        "round_ms_p90": round(sorted(round_ms)[int(len(round_ms) * 0.9) - 1], 2),
        "cold_first_round_cpu_ms": round(cold_cpu_ms, 1),
        "round_cpu_ms_median": round(statistics.median(cpu_ms), 2),
        "round_cpu_ms_min": round(min(cpu_ms), 2),
        "per_pod_scrape_cpu_ms_median": round(statistics.median(cpu_ms) / args.pods, 3),
        "goal_round_ms": 20,
    }
    print(
        f"{args.pods} pods x {args.tools} tools: {lines:,} exposition lines ({size / 1024:.0f} KiB) per round\n"
        f"  parse (prometheus_client.parser) median {result['parse_ms_median']} ms\n"
        f"  parse + windows + sum + quantiles: median {result['round_ms_median']} ms, "
        f"p90 {result['round_ms_p90']} ms (goal < 20 ms)\n"
        f"  CPU time of a round: median {result['round_cpu_ms_median']} ms, best {result['round_cpu_ms_min']} ms "
        f"(per pod scrape {result['per_pod_scrape_cpu_ms_median']} ms)\n"
        f"  first round (cold cache: each distinct series through the reference parser): {cold_cpu_ms:.0f} ms CPU\n"
        f"  machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
