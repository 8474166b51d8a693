"""Benchmark: `aksmcp connect`. Prints a table and saves bench/results/ide_connect.json.

    .venv/bin/python bench/ide_connect.py [--entries 500] [--runs 5]

Figures (no numeric goal in issue 9; the house rule is that CLI start-up stays fast, < 0.3 s for
`--help`):
- `aksmcp connect --help` wall time, fresh interpreter each run, median;
- `aksmcp connect CLIENT URL` wall time (fresh process: parse, merge, atomic write, record), median,
  per client, into a file that already holds N other entries (with comments where the format has them);
- in-process merge of one entry into that file (`plan`: parse + edit + re-parse check), median per client;
- `refresh_entries_for_forward` rewriting 8 entries (one per client) after a port change.
Everything runs in a temporary HOME. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "ide_connect.json"
sys.path.insert(0, str(ROOT))
AKSMCP = [sys.executable, "-m", "aksmcp_tui.cli"]
KEY = "bench-key-0123456789abcdef"


def big_file(client: str, n: int) -> str:
    """A config file with n other entries (comments where the client's format allows them)."""
    if client == "codex":
        return "# codex settings\nmodel = 'o5'\n" + "".join(
            f'\n# server {i}\n[mcp_servers.s{i}]\ncommand = "npx"\nargs = ["-y", "s{i}"]\n' for i in range(n)
        )
    if client == "continue":
        items = "".join(f"  - name: s{i}  # server {i}\n    command: uvx\n    args: [s{i}]\n" for i in range(n))
        return f"name: Local\nversion: 1.0.0\nschema: v1\nmcpServers:\n{items}"
    key = "servers" if client == "vscode" else "mcpServers"
    comment = client in ("vscode", "gemini-cli")
    body = ",\n".join(
        (f"    // server {i}\n" if comment else "") + f'    "s{i}": {{"command": "npx", "args": ["-y", "s{i}"]}}'
        for i in range(n)
    )
    return f'{{\n  "{key}": {{\n{body}\n  }}\n}}\n'


def median_s(samples: list[float]) -> float:
    return round(statistics.median(samples), 4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    opts = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="aksmcp-bench-ide-"))
    env = {**os.environ, "HOME": str(tmp / "home"), "XDG_CONFIG_HOME": str(tmp / "home" / ".config")}
    env.update({"XDG_STATE_HOME": str(tmp / "state"), "BENCH_KEY": KEY})
    for var in ("CODEX_HOME", "CLAUDE_CONFIG_DIR", "CONTINUE_GLOBAL_DIR"):
        env.pop(var, None)
    os.environ.update({k: env[k] for k in ("HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME")})

    from aksmcp_tui.core.ide import CLIENTS, WRITERS, Resolved, Target, commit, plan, refresh_entries_for_forward

    results: dict[str, Any] = {"entries": opts.entries, "runs": opts.runs, "python": platform.python_version()}
    samples = []
    for _ in range(opts.runs):
        start = time.perf_counter()
        subprocess.run([*AKSMCP, "connect", "--help"], env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    results["help_s"] = median_s(samples)

    url = "http://127.0.0.1:8080/mcp"
    resolved = Resolved(Target("url", url=url), url, KEY)
    per_client: dict[str, dict[str, float]] = {}
    for client in CLIENTS:
        path = WRITERS[client].path("user", tmp)
        path.parent.mkdir(parents=True, exist_ok=True)
        seed = big_file(client, opts.entries)
        cli, merge = [], []
        for run in range(opts.runs):
            path.write_text(seed)
            start = time.perf_counter()
            subprocess.run(
                [*AKSMCP, "connect", client, url, "--name", f"bench{run}", "--api-key-env", "BENCH_KEY"],
                env=env,
                check=True,
                capture_output=True,
            )
            cli.append(time.perf_counter() - start)
            path.write_text(seed)
            start = time.perf_counter()
            plan(client, resolved, name=f"inproc{run}")
            merge.append(time.perf_counter() - start)
        per_client[client] = {"cli_write_s": median_s(cli), "merge_s": median_s(merge)}
    results["clients"] = per_client

    # One entry per client on an old forward port, then the daemon's hook.
    old = "http://127.0.0.1:9"
    for client in CLIENTS:
        WRITERS[client].path("user", tmp).write_text(big_file(client, opts.entries))
        commit(plan(client, Resolved(Target("url", url=old + "/mcp"), old + "/mcp", KEY), name="moved"))
    start = time.perf_counter()
    changed = refresh_entries_for_forward(old, "http://127.0.0.1:10")
    results["refresh_for_forward_s"] = round(time.perf_counter() - start, 4)
    results["refresh_for_forward_entries"] = len(changed)

    print(f"aksmcp connect --help (median of {opts.runs}): {results['help_s']:.3f} s   (goal < 0.3 s)")
    print(f"{'client':<16}{'CLI write, s':>14}{'merge, s':>12}   (file with {opts.entries} other entries)")
    for client, figures in per_client.items():
        print(f"{client:<16}{figures['cli_write_s']:>14.3f}{figures['merge_s']:>12.4f}")
    print(
        f"refresh_entries_for_forward: {results['refresh_for_forward_entries']} entries in "
        f"{results['refresh_for_forward_s']:.3f} s"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
