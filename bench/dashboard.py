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
import re
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


ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>78]|\x1b\][^\x07]*\x07")


class PtyDashboard:
    """`aksmcp` in a pseudo-terminal: the real Linux driver, timed by what it writes to the terminal."""

    def __init__(self, kubeconfig: Path, size: tuple[int, int] = (160, 45)) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "TEXTUAL"))}
        env.update(TERM="xterm-256color", TEXTUAL_ANIMATIONS="none", COLUMNS=str(size[0]), LINES=str(size[1]))
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "aksmcp"),
                "--kubeconfig",
                str(kubeconfig),
                "--context",
                "aksmcp-sandbox",
            ],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.raw = b""

    def text_since(self, offset: int) -> str:
        return ANSI.sub("", self.raw[offset:].decode("utf-8", "replace"))

    def wait(self, pattern: str, since: int, within: float = 120.0) -> float:
        """Seconds (perf_counter) at which `pattern` showed up in the output written after byte `since`."""
        import select

        regex = re.compile(pattern)
        deadline = time.perf_counter() + within
        while not regex.search(self.text_since(since)):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise RuntimeError(f"no {pattern!r} on the terminal within {within:.0f} s")
            ready, _, _ = select.select([self.master], [], [], min(remaining, 0.5))
            if ready:
                try:
                    self.raw += os.read(self.master, 1 << 16)
                except OSError:
                    raise RuntimeError("the dashboard exited") from None
        return time.perf_counter()

    def send(self, data: bytes) -> tuple[int, float]:
        self.drain()
        offset = len(self.raw)
        sent = time.perf_counter()
        os.write(self.master, data)
        return offset, sent

    def drain(self) -> None:
        import select

        while select.select([self.master], [], [], 0.05)[0]:
            try:
                self.raw += os.read(self.master, 1 << 16)
            except OSError:
                return

    def close(self) -> None:
        try:
            os.write(self.master, b"\x11")  # ctrl+q
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(10)
        os.close(self.master)


def bench_pty_first_frame(kubeconfig: Path, runs: int) -> dict[str, Any]:
    times = []
    paints = []
    for _ in range(runs):
        dash = PtyDashboard(kubeconfig)
        try:
            paints.append(dash.wait(r"Kubeconfig", 0) - dash.started)  # the cluster tree: first paint
            times.append(dash.wait(r"alpha-mcp", 0) - dash.started)
        finally:
            dash.close()
    return {
        "median_s": statistics.median(times),
        "runs_s": times,
        "first_paint_median_s": statistics.median(paints),
        "first_paint_runs_s": paints,
    }


def bench_pty_scale(kubeconfig: Path, count: int) -> dict[str, Any]:
    """Fill time and keystroke → frame latency in a real terminal (the top bar shows the filter result)."""
    dash = PtyDashboard(kubeconfig)
    try:
        filled = dash.wait(rf"\b{count} MCP deployments", 0, within=300) - dash.started
        dash.wait(r"● live", 0)
        offset, _ = dash.send(b"/")
        dash.wait(r"filter: name", offset)
        keystrokes = []
        typed = ""
        for key in ("1", "2", "\x7f", "\x7f", "7", "\x7f", "3", "4"):
            typed = typed[:-1] if key == "\x7f" else typed + key
            marker = (
                rf"of {count} MCP deployments\s+/{re.escape(typed)}\s" if typed else rf"\s{count} MCP deployments\s+·"
            )
            offset, sent = dash.send(key.encode())
            keystrokes.append(
                {
                    "key": "backspace" if key == "\x7f" else key,
                    "filter": typed,
                    "seconds": dash.wait(marker, offset, within=30) - sent,
                }
            )
        return {
            "fill_s": filled,
            "filter_keystroke_median_s": statistics.median(k["seconds"] for k in keystrokes),
            "keystrokes": keystrokes,
        }
    finally:
        dash.close()


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
            results["first_frame_terminal"] = bench_pty_first_frame(sandbox.kubeconfig_path, args.runs)

        print(f"{args.deployments} deployments (node off) …", flush=True)
        with ThreadedSandbox(Path(tmp) / "large", run_node=False) as sandbox:
            created = create_deployments(sandbox.kubeconfig_path, args.deployments)
            scale = asyncio.run(bench_scale(sandbox.kubeconfig_path, args.deployments))
            results["scale"] = {"deployments": args.deployments, "create_s": created, **scale}
            results["scale_terminal"] = bench_pty_scale(sandbox.kubeconfig_path, args.deployments)

    n = args.deployments
    rows = [
        ("aksmcp --help (median)", results["help"]["median_s"], GOALS["help_s"]),
        (
            "launch → first frame, headless run_test (median)",
            results["first_frame"]["median_s"],
            GOALS["first_frame_s"],
        ),
        (
            "launch → first paint (no data yet), real pty (median)",
            results["first_frame_terminal"]["first_paint_median_s"],
            None,
        ),
        (
            "launch → first frame, real pty (median)",
            results["first_frame_terminal"]["median_s"],
            GOALS["first_frame_s"],
        ),
        (f"launch → table filled, {n} deployments, headless", results["scale"]["fill_s"], None),
        (f"launch → table filled, {n} deployments, real pty", results["scale_terminal"]["fill_s"], None),
        (
            "filter keystroke → frame, real pty (median)",
            results["scale_terminal"]["filter_keystroke_median_s"],
            GOALS["filter_keystroke_s"],
        ),
        ("filter keystroke, Pilot press+pause (median)*", results["scale"]["filter_keystroke_median_s"], None),
        (f"FleetTable.set_filter over {n} rows (mean)", results["scale"]["set_filter_mean_s"], None),
    ]
    print()
    print(f"{'measure':<56} {'seconds':>9} {'goal':>7}")
    for name, value, goal in rows:
        goal_text = f"< {goal}" if goal is not None else ""
        print(f"{name:<56} {value:>9.3f} {goal_text:>7}")
    print("* Pilot's press() and pause() each wait for the process to look idle, so this overstates the latency.")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nsaved {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
