"""Benchmark: the MCP console's overhead. Prints a table and saves bench/results/console.json.

    .venv/bin/python bench/console.py [--calls 1000]

Figures (goals from issue 8):
- added latency per tool call of the `aksmcp call` core (McpSession: traffic capture, progress
  callback, error mapping) vs the bare SDK `Client` on the same aksmcp-server subprocess on
  127.0.0.1, same revision, same tool; p50 of each, their difference and the median of the paired
  differences (goal < 0.5 ms). The two clients alternate call by call so drift on a shared machine
  hits both alike; a second run shows the cost of the progress token + log opt-in the console adds;
- form build time for the largest schema of the zoo (tests/mcpclient/schema_zoo.py: 30 properties
  per level, 2 levels, about 130 fields, every construct): the core form model (`build_form` + `initial_raw`), one
  `assemble` + 2020-12 validation, and the console screen mounting the widgets for it
  (headless Textual), median (goal < 50 ms for the form build).
Not a test: nothing here asserts a time.
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
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "console.json"
sys.path.insert(0, str(ROOT))

GOALS = {"added_latency_p50_ms": 0.5, "form_build_ms": 50.0}
TOOL = "file_operation"
ARGS = {"operation": "stat", "path": "hello.txt"}


def start_server(workspace: Path) -> tuple[subprocess.Popen[str], int]:
    (workspace / "hello.txt").write_text("hello\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKSMCP_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aksmcp_server", "--transport", "http", "--port", "0", "--workspace", str(workspace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "listening":
            # keep draining: the server logs a line per request, and a full pipe would stall it
            threading.Thread(target=lambda: [None for _ in proc.stdout or []], daemon=True).start()
            return proc, int(entry["port"])
    raise RuntimeError("server did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def paired(url: str, calls: int, mode: str, protocol: str, *, live: bool) -> tuple[list[float], list[float]]:
    """Both clients connected at once; calls alternate one by one (the order flips every pair) so load
    from other processes on a shared machine hits both alike. live=False: the core sends the same
    request as the bare client; live=True: with the progress token and log opt-in the console sends
    (the server then streams its answer as SSE)."""
    from mcp import Client

    from aksmcp_tui.core.mcpclient import McpSession, parse_target, resolve_endpoint

    endpoint = await resolve_endpoint(parse_target(url))
    level = "debug" if live else None
    bare_times: list[float] = []
    core_times: list[float] = []
    async with (
        Client(url, mode=mode, cache=None) as client,
        McpSession(endpoint, protocol=protocol, progress=live, log_level=level) as session,
    ):

        async def bare() -> None:
            started = time.perf_counter()
            result = await client.call_tool(TOOL, ARGS)
            bare_times.append((time.perf_counter() - started) * 1000)
            assert not result.is_error

        async def core() -> None:
            started = time.perf_counter()
            outcome = await session.call_tool(TOOL, ARGS)
            core_times.append((time.perf_counter() - started) * 1000)
            assert outcome.ok

        for _ in range(20):  # warm both
            await client.call_tool(TOOL, ARGS)
            await session.call_tool(TOOL, ARGS)
        for i in range(calls):
            first, second = (bare, core) if i % 2 == 0 else (core, bare)
            await first()
            await second()
    return bare_times, core_times


async def latency(url: str, calls: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, mode, protocol in (("2026-07-28", "2026-07-28", "2026-07-28"), ("2025-11-25", "legacy", "2025-11-25")):
        bare, core = await paired(url, calls, mode, protocol, live=False)
        bare_live, live = await paired(url, calls, mode, protocol, live=True)
        diffs = sorted(c - b for b, c in zip(bare, core, strict=True))
        out[label] = {
            "calls": len(bare),
            "bare_p50_ms": round(statistics.median(bare), 3),
            "core_p50_ms": round(statistics.median(core), 3),
            "bare_p90_ms": round(pct(bare, 0.9), 3),
            "core_p90_ms": round(pct(core, 0.9), 3),
            "added_p50_ms": round(statistics.median(core) - statistics.median(bare), 3),
            "paired_difference_p50_ms": round(statistics.median(diffs), 3),
            "live_added_p50_ms": round(statistics.median(live) - statistics.median(bare_live), 3),
        }
    return out


def form_figures(repeat: int) -> dict[str, Any]:
    from aksmcp_tui.core.mcpclient.forms import assemble, build_form, initial_raw, validate_arguments
    from tests.mcpclient.schema_zoo import large_schema

    schema = large_schema()
    build, check = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        form = build_form(schema)
        raw = initial_raw(form)
        build.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        arguments, _ = assemble(form, raw)
        validate_arguments(schema, arguments)
        check.append((time.perf_counter() - started) * 1000)
    fields = len(form.walk())
    return {
        "schema_bytes": len(json.dumps(schema)),
        "fields": fields,
        "form_build_ms": round(statistics.median(build), 3),
        "assemble_validate_ms": round(statistics.median(check), 3),
    }


async def mount_figure(repeat: int) -> float:
    """The console screen building the widgets for the largest schema (headless), median ms."""
    from aksmcp_tui.core.mcpclient import parse_target
    from aksmcp_tui.core.mcpclient.forms import build_form
    from aksmcp_tui.ui.console_app import ConsoleApp
    from aksmcp_tui.ui.screens.console import ConsoleScreen
    from tests.mcpclient.schema_zoo import large_schema

    app = ConsoleApp(parse_target("http://127.0.0.1:9/mcp"), label="bench")
    times = []
    async with app.run_test(size=(140, 44)) as pilot:
        screen = app.screen
        assert isinstance(screen, ConsoleScreen)
        while screen.state != "failed":
            await pilot.pause(0.01)
        form = build_form(large_schema())
        for _ in range(repeat):
            started = time.perf_counter()
            await screen.build_form_widgets(form)
            await pilot.pause()
            times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000, help="call pairs per revision")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_server(Path(tmp))
        try:
            url = f"http://127.0.0.1:{port}/mcp"
            calls = asyncio.run(latency(url, args.calls))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    forms = form_figures(20)
    forms["screen_mount_ms"] = asyncio.run(mount_figure(5))
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "goals": GOALS,
        "tool_call": calls,
        "form": forms,
    }
    rows: list[tuple[str, str, str]] = []
    for revision, f in calls.items():
        rows.append((f"tool call {revision}: bare SDK p50 / p90 (ms)", f"{f['bare_p50_ms']} / {f['bare_p90_ms']}", ""))
        rows.append(
            (f"tool call {revision}: aksmcp core p50 / p90 (ms)", f"{f['core_p50_ms']} / {f['core_p90_ms']}", "")
        )
        rows.append((f"tool call {revision}: added latency p50 (ms)", str(f["added_p50_ms"]), "< 0.5"))
        rows.append((f"tool call {revision}: paired difference p50 (ms)", str(f["paired_difference_p50_ms"]), "< 0.5"))
        rows.append((f"tool call {revision}: with progress + logs, added p50 (ms)", str(f["live_added_p50_ms"]), ""))
    rows.append(("largest zoo schema: fields / bytes", f"{forms['fields']} / {forms['schema_bytes']}", ""))
    rows.append(("form build (build_form + defaults) median (ms)", str(forms["form_build_ms"]), "< 50"))
    rows.append(("assemble + 2020-12 validation median (ms)", str(forms["assemble_validate_ms"]), ""))
    rows.append(("console screen mounts the form's widgets, median (ms)", str(forms["screen_mount_ms"]), ""))
    for name, value, goal in rows:
        print(f"{name:60} {value:>18}  {goal}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
