"""`python -m aksmcp_tui.sandbox serve --state-dir DIR [--port N]`: run the sandbox in the
foreground until SIGTERM/SIGINT (the daemon helpers start it detached)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

from aksmcp_tui.sandbox.daemon import PID_FILE, default_state_dir


async def serve(state_dir: Path, port: int | None, run_node: bool) -> None:
    from aksmcp_tui.sandbox.cluster import SandboxCluster

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with SandboxCluster(state_dir, port=port, run_node=run_node) as cluster:
        if cluster.notice:
            endpoint = json.loads(cluster.endpoint_path.read_text())
            endpoint["notice"] = cluster.notice
            cluster.endpoint_path.write_text(json.dumps(endpoint) + "\n")
        pid_file = state_dir / PID_FILE
        pid_file.write_text(f"{os.getpid()}\n")
        logging.getLogger("aksmcp.sandbox").info(
            "sandbox API on %s (kubeconfig %s)", cluster.https_url, cluster.kubeconfig_path
        )
        try:
            await stop.wait()
        finally:
            logging.getLogger("aksmcp.sandbox").info("stopping the sandbox")
    with contextlib.suppress(OSError):
        if pid_file.read_text().strip() == str(os.getpid()):
            pid_file.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aksmcp_tui.sandbox")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the sandbox in the foreground")
    serve_parser.add_argument("--state-dir", type=Path, default=None)
    serve_parser.add_argument("--port", type=int, default=None, help="plain-http port (default: previous or free)")
    serve_parser.add_argument("--no-node", action="store_true", help="serve the API without running pods")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state_dir = args.state_dir or default_state_dir()
    try:
        asyncio.run(serve(state_dir, args.port, not args.no_node))
    except OSError as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
