"""Benchmark: dashboard start-up and scale. Prints a table and saves bench/results/dashboard.json.

    .venv/bin/python bench/dashboard.py [--deployments 2000] [--runs 5]

Figures (goals on the 2-core box from issue 4):
- `aksmcp --help` wall time, fresh interpreter each run, median (goal < 0.3 s);
- launch → first frame showing deployments: a fresh `python` process builds the app, runs it headless
  (`App.run_test`) against the sandbox and reports once the table holds rows and a frame was drawn;
  measured by this process from spawn to that report, median (goal < 1.5 s);
- with N deployments in the sandbox (node off, so no pod processes; replicas 1, pods stay Pending):
  time from app start until the table holds all N rows, and time for one filter keystroke to apply
  (key press → rows filtered → frame drawn), median over several keystrokes (goal < 100 ms).
The sandbox runs on its own thread (tests/ui/sandbox_support.py) in this process, except for the
first-frame runs, which are separate processes. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "dashboard.json"
sys.path.insert(0, str(ROOT))

GOALS = {"help_s": 0.3, "first_frame_s": 1.5, "filter_keystroke_s": 0.1}

CHILD = r"""
import asyncio, sys, time
from aksmcp_tui.ui.app import make_app
from aksmcp_tui.ui.widgets.fleet_table import FleetTable

async def main() -> None:
    app = make_app(kubeconfig=sys.argv[1], context="aksmcp-sandbox")
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.screen.query_one(FleetTable)
        while table.total == 0:
            await pilot.pause(0.005)
        await pilot.pause()  # one frame with the rows
        print("FIRST-FRAME", table.total, flush=True)

asyncio.run(main())
"""


def bench_help(runs: int) -> dict[str, Any]:
    exe = str(Path(sys.executable).parent / "aksmcp")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([exe, "--help"], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "runs_s": times}


def bench_first_frame(kubeconfig: Path, runs: int) -> dict[str, Any]:
    env = {**os.environ, "TEXTUAL_ANIMATIONS": "none"}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(kubeconfig)], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        elapsed = time.perf_counter() - start
        proc.wait(60)
        if not line.startswith("FIRST-FRAME"):
            raise RuntimeError(f"the child did not report a frame: {line!r}")
        times.append(elapsed)
    return {"median_s": statistics.median(times), "runs_s": times}


def create_deployments(kubeconfig: Path, count: int) -> float:
    from kubernetes import client

    from tests.ui.sandbox_support import api_client, deployment, ensure_namespace

    namespaces = [f"bench-{i:02d}" for i in range(20)]
    api = api_client(kubeconfig)
    for namespace in namespaces:
        ensure_namespace(api, namespace)
    apps = client.AppsV1Api(api)

    def create(i: int) -> None:
        namespace = namespaces[i % len(namespaces)]
        apps.create_namespaced_deployment(namespace, deployment(f"mcp-{i:04d}", namespace))

    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(count)))
    elapsed = time.perf_counter() - start
    api.close()
    return elapsed


async def bench_scale(kubeconfig: Path, count: int) -> dict[str, Any]:
    from aksmcp_tui.ui.app import make_app
    from aksmcp_tui.ui.widgets.fleet_table import FleetTable

    start = time.perf_counter()
    app = make_app(kubeconfig=str(kubeconfig), context="aksmcp-sandbox")
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.screen.query_one(FleetTable)
        deadline = time.perf_counter() + 300
        while table.total < count:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"the table holds {table.total} of {count} rows after 300 s")
            await pilot.pause(0.01)
        await pilot.pause()
        filled = time.perf_counter() - start

        await pilot.press("slash")
        await pilot.pause()
        keystrokes = []
        for key in ("1", "2", "backspace", "backspace", "7", "backspace"):
            before = table.shown
            t0 = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()  # the frame with the filtered rows
            keystrokes.append(
                {"key": key, "seconds": time.perf_counter() - t0, "rows_before": before, "rows_after": table.shown}
            )
        # the filter itself, without Pilot's key delivery
        t0 = time.perf_counter()
        for text in ("mcp-1", "mcp-12", "mcp-123", "bench-07", ""):
            table.set_filter(text)
        direct = (time.perf_counter() - t0) / 5
    return {
        "fill_s": filled,
        "filter_keystroke_median_s": statistics.median(k["seconds"] for k in keystrokes),
        "keystrokes": keystrokes,
        "set_filter_mean_s": direct,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deployments", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

    from tests.ui.sandbox_support import MCP_NAMES, ThreadedSandbox, seed_fleet, wait_ready

    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "goals": GOALS,
    }
    print("aksmcp --help …", flush=True)
    results["help"] = bench_help(args.runs)

    with tempfile.TemporaryDirectory(prefix="bench-dash-") as tmp:
        print("first frame (sandbox with the fixed fleet) …", flush=True)
        with ThreadedSandbox(Path(tmp) / "small") as sandbox:
            seed_fleet(sandbox.kubeconfig_path)
            wait_ready(sandbox.kubeconfig_path, {"alpha-mcp": ("team-a", 1), "beta-mcp": ("team-a", 2)})
            results["first_frame"] = bench_first_frame(sandbox.kubeconfig_path, args.runs)
            results["first_frame"]["rows"] = len(MCP_NAMES)

        print(f"{args.deployments} deployments (node off) …", flush=True)
        with ThreadedSandbox(Path(tmp) / "large", run_node=False) as sandbox:
            created = create_deployments(sandbox.kubeconfig_path, args.deployments)
            scale = asyncio.run(bench_scale(sandbox.kubeconfig_path, args.deployments))
            results["scale"] = {"deployments": args.deployments, "create_s": created, **scale}

    rows = [
        ("aksmcp --help (median)", results["help"]["median_s"], GOALS["help_s"]),
        ("launch → first frame with deployments (median)", results["first_frame"]["median_s"], GOALS["first_frame_s"]),
        (f"table filled with {args.deployments} deployments", results["scale"]["fill_s"], None),
        (
            "filter keystroke → frame (median)",
            results["scale"]["filter_keystroke_median_s"],
            GOALS["filter_keystroke_s"],
        ),
        ("FleetTable.set_filter alone (mean)", results["scale"]["set_filter_mean_s"], None),
    ]
    print()
    print(f"{'measure':<52} {'seconds':>9} {'goal':>7}")
    for name, value, goal in rows:
        goal_text = f"< {goal}" if goal is not None else ""
        print(f"{name:<52} {value:>9.3f} {goal_text:>7}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nsaved {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
