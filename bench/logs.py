"""Benchmark: the log screen under a flood. Prints a table and saves bench/results/logs.json.

    .venv/bin/python bench/logs.py [--lines 1000000] [--pods 10] [--capacity 100000]

What is measured (goal from issue 10: >= 50,000 lines/s, memory flat once the ring buffer is full):
- 10 pods flood the headless dashboard's log screen (LogsScreen, the real one) with kubelet-format
  chunks ("<RFC3339Nano> <text>\\n", a third of them JSON lines); every chunk goes through the core's
  parser (logs_stream.split_lines, as a live stream does) and into the screen as LogBatch events.
  Lines/s = lines / time from the first chunk until the view has taken in every line and drawn a frame.
- resident memory (VmRSS) before the flood, when the ring buffer first fills, and at the end.
- the same flood into Textual's own `Log` widget (write_lines per chunk), for comparison.
Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "logs.json"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

CHUNK_LINES = 200  # lines per chunk and pod (a busy pod's read() returns a few hundred lines)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_chunks(pods: int, lines: int) -> list[tuple[str, bytes]]:
    """Kubelet wire chunks, pod by pod in turn; made before timing (the cluster's work, not ours)."""
    base = 1_796_000_000
    chunks = []
    n = 0
    while n < lines:
        for p in range(pods):
            rows = []
            for i in range(CHUNK_LINES):
                k = n + i
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + k // 5000)) + f".{k % 1_000_000_000:09d}Z"
                if k % 3 == 0:
                    text = json.dumps(
                        {"ts": stamp, "level": "info", "msg": f"request {k}", "tool": "system_info", "rpc_id": k}
                    )
                else:
                    text = f"GET /mcp 200 {k} served in {k % 97} ms by worker {k % 7} of pod {p}"
                rows.append(f"{stamp} {text}")
            chunks.append((f"server-7d9f8-{p:05d}", ("\n".join(rows)).encode()))
            n += CHUNK_LINES
    return chunks


async def run_screen(chunks: list[tuple[str, bytes]], total: int, capacity: int) -> dict[str, Any]:
    from aksmcp_tui.core.fleet import McpWorkload
    from aksmcp_tui.core.mcp_rule import Health
    from aksmcp_tui.core.observe import LogBatch, LogEvent, PodJoined
    from aksmcp_tui.core.observe.logs_stream import split_lines
    from aksmcp_tui.ui.app import AksmcpApp
    from aksmcp_tui.ui.screens.logs import LogsScreen
    from aksmcp_tui.ui.targets import ClusterTarget, TargetList

    figures: dict[str, Any] = {}
    started = asyncio.Event()

    async def flood(_: Any) -> AsyncIterator[LogEvent]:
        for pod in sorted({pod for pod, _ in chunks}):
            yield PodJoined(pod, ("server",))
        started.set()
        figures["t0"] = time.perf_counter()
        for i, (pod, data) in enumerate(chunks):
            yield LogBatch(split_lines(pod, "server", data))
            if i % 10 == 9:
                await asyncio.sleep(0)  # the stream reader yields between network reads

    workload = McpWorkload("bench", "bench", "server", "Deployment", 10, 10, "img", None, Health.HEALTHY, "", "label")
    app = AksmcpApp(TargetList((), None, None))
    async with app.run_test(size=(160, 48)) as pilot:
        figures["rss_before_mib"] = rss_mib()
        screen = LogsScreen(workload, ClusterTarget("bench"), source=flood, capacity=capacity)
        await app.push_screen(screen)
        await started.wait()
        view = screen.view
        full_at = None
        samples: list[tuple[int, float]] = []  # (lines taken in, RSS) after the buffer is full
        next_sample = capacity
        while view.ingested < total:
            await asyncio.sleep(0.01)
            if full_at is None and view.ingested >= capacity:
                full_at = rss_mib()
            if view.ingested >= next_sample:
                samples.append((view.ingested, round(rss_mib(), 1)))
                next_sample += max(capacity, total // 10)
        await pilot.pause()  # the last frame drawn
        elapsed = time.perf_counter() - figures["t0"]
        figures.update(
            lines=view.ingested,
            seconds=round(elapsed, 3),
            lines_per_s=round(view.ingested / elapsed),
            frames=view.frames,
            rows_rendered=view.rendered_rows,
            dropped_from_buffer=view.buffer.dropped,
            rss_buffer_full_mib=round(full_at or rss_mib(), 1),
            rss_end_mib=round(rss_mib(), 1),
            newest_line_shown=(view.row_line(view.row_count - 1) or None) is not None,
            rss_samples_after_full=samples,
        )
    figures.pop("t0")
    figures["rss_before_mib"] = round(figures["rss_before_mib"], 1)
    return figures


async def run_textual_log(chunks: list[tuple[str, bytes]], total: int) -> dict[str, Any]:
    from textual.app import App, ComposeResult
    from textual.widgets import Log

    from aksmcp_tui.core.observe.logs_stream import split_lines

    class LogApp(App[None]):
        def compose(self) -> ComposeResult:
            yield Log(max_lines=100_000)

    app = LogApp()
    async with app.run_test(size=(160, 48)) as pilot:
        log = app.query_one(Log)
        t0 = time.perf_counter()
        for i, (pod, data) in enumerate(chunks):
            log.write_lines(f"{line.pod} {line.text}" for line in split_lines(pod, "server", data))
            if i % 10 == 9:
                await asyncio.sleep(0)
        await pilot.pause()
        elapsed = time.perf_counter() - t0
    return {"lines": total, "seconds": round(elapsed, 3), "lines_per_s": round(total / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--pods", type=int, default=10)
    parser.add_argument("--capacity", type=int, default=100_000)
    parser.add_argument("--log-lines", type=int, default=200_000, help="lines for the Textual Log comparison")
    args = parser.parse_args()
    chunks = make_chunks(args.pods, args.lines)
    total = len(chunks) * CHUNK_LINES
    screen = asyncio.run(run_screen(chunks, total, args.capacity))
    log_chunks = chunks[: max(1, args.log_lines // CHUNK_LINES)]
    textual_log = asyncio.run(run_textual_log(log_chunks, len(log_chunks) * CHUNK_LINES))
    result = {
        "benchmark": "logs",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_1m": os.getloadavg()[0]},
        "pods": args.pods,
        "capacity": args.capacity,
        "log_screen": screen,
        "textual_log_widget": textual_log,
        "goal_lines_per_s": 50_000,
    }
    print(
        f"log screen: {screen['lines']:,} lines from {args.pods} pods in {screen['seconds']} s = "
        f"{screen['lines_per_s']:,} lines/s (goal >= 50,000)"
    )
    print(
        f"  frames {screen['frames']:,}, rows rendered {screen['rows_rendered']:,}, "
        f"dropped from the {args.capacity:,}-line buffer {screen['dropped_from_buffer']:,}"
    )
    print(
        f"  RSS before {screen['rss_before_mib']} MiB, buffer full {screen['rss_buffer_full_mib']} MiB, "
        f"end {screen['rss_end_mib']} MiB"
    )
    samples = ", ".join(f"{n:,}: {m}" for n, m in screen["rss_samples_after_full"])
    print(f"  RSS while flooding after the buffer filled (lines: MiB): {samples}")
    print(
        f"Textual Log widget (write_lines per chunk): {textual_log['lines']:,} lines in "
        f"{textual_log['seconds']} s = {textual_log['lines_per_s']:,} lines/s"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"saved {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
