"""`aksmcp web`: the dashboard in a browser through textual-serve, one app process per browser session."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from aiohttp import web
from textual_serve.server import Server


def _child_pids(parent: int) -> list[int]:
    """Direct children of `parent` (Linux /proc; elsewhere nothing, and sessions end with their sockets)."""
    children: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return children
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name in field 2 may hold spaces: the parent pid follows the closing parenthesis
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(parent):
            children.append(int(entry.name))
    return children


def stop_sessions(timeout: float = 3.0) -> None:
    """Session processes can outlive the server (textual-serve sends 'quit' only to sessions whose
    websocket closes), so stop every child we started: SIGTERM, then SIGKILL after `timeout`."""
    pids = _child_pids(os.getpid())
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if _alive(pid)]
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _alive(pid: int) -> bool:
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return waited == 0


class DashboardServer(Server):
    async def on_shutdown(self, app: web.Application) -> None:
        stop_sessions()


def serve(command: str, *, host: str, port: int) -> None:
    server = DashboardServer(command, host=host, port=port, title="aksmcp")
    try:
        server.serve()
    finally:
        stop_sessions()
