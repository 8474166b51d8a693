"""Client side of the daemon's control socket: what the CLI and the dashboard call.

`ensure_forward` starts the daemon detached when none runs (unless told not to). Every failure is
a ForwardError in plain words; `DaemonNotRunning` is the one a caller may want to tell apart (the
dashboard offers to start the daemon).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from aksmcp_tui.core.forward.spec import ForwardError, ForwardSpec, ForwardStatus
from aksmcp_tui.core.forward.store import log_path, private_dir, socket_path

START_TIMEOUT = 20.0
BASE = "http://aksmcp-forward/v1"  # the host is ignored on a unix socket


class DaemonNotRunning(ForwardError):
    """No daemon answers on the control socket."""


def _session(timeout: float | None = 30.0) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.UnixConnector(path=str(socket_path())),
        timeout=aiohttp.ClientTimeout(total=timeout),
    )


def _not_running() -> DaemonNotRunning:
    return DaemonNotRunning(
        f"no forward daemon runs (no answer on {socket_path()}); start it with `aksmcp forward daemon --detach`"
    )


async def _call(method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
    try:
        async with (
            _session() as session,
            session.request(method, BASE + path, json=body, params=query) as resp,
        ):
            text = await resp.text()
            try:
                data = json.loads(text) if text else None
            except ValueError:
                data = None
            if resp.status >= 400:
                message = data.get("error") if isinstance(data, dict) else None
                raise ForwardError(message or f"the forward daemon answered HTTP {resp.status}")
            return data
    except aiohttp.ClientConnectorError:
        raise _not_running() from None
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        raise ForwardError(f"the forward daemon dropped the connection: {exc}") from None


async def daemon_status() -> dict[str, Any] | None:
    """{"pid", "socket", "forwards"} of the running daemon, or None."""
    try:
        result: dict[str, Any] = await _call("GET", "/status")
    except DaemonNotRunning:
        return None
    return result


async def start_daemon() -> int:
    """Start `aksmcp forward daemon` detached (own session, log file) and wait until it answers."""
    running = await daemon_status()
    if running:
        return int(running["pid"])
    log = log_path()
    process = _spawn_daemon(log)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while loop.time() < deadline:
        status = await daemon_status()
        if status:
            return int(status["pid"])
        if process.poll() is not None:
            tail = _tail(log, 5)
            raise ForwardError(f"the forward daemon exited at start (status {process.returncode}): {tail}")
        await asyncio.sleep(0.05)
    raise ForwardError(f"the forward daemon did not answer within {START_TIMEOUT:.0f} s; see {log}")


def _spawn_daemon(log: Path) -> subprocess.Popen[bytes]:
    """The daemon in its own session (it outlives the terminal and the dashboard that started it),
    writing to its log file; started without waiting (Popen returns at once)."""
    private_dir(log.parent)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "aksmcp_tui", "forward", "daemon", "--log-to-stderr-only"],
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(fd)


def _tail(path: Path, count: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = [line for line in text.splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    return " | ".join(lines[-count:]) or "(empty log)"


async def ensure_forward(spec: ForwardSpec, *, start_daemon: bool = True) -> ForwardStatus:
    """Create (or return the existing) managed forward for `spec` in the daemon."""
    body = spec.to_json()
    if body.get("kubeconfig") is None and os.environ.get("KUBECONFIG"):
        # the daemon may have been started from another shell: pin this shell's kubeconfig
        body["kubeconfig"] = os.environ["KUBECONFIG"]
    try:
        data = await _call("POST", "/forwards", body)
    except DaemonNotRunning:
        if not start_daemon:
            raise
        await _start_daemon()
        data = await _call("POST", "/forwards", body)
    return ForwardStatus.from_json(data)


_start_daemon = start_daemon


async def list_forwards() -> list[ForwardStatus]:
    data = await _call("GET", "/forwards")
    return [ForwardStatus.from_json(item) for item in data or []]


async def remove_forward(id_or_target: str, *, namespace: str | None = None, context: str | None = None) -> None:
    query = {k: v for k, v in (("namespace", namespace), ("context", context)) if v}
    await _call("DELETE", f"/forwards/{id_or_target}", query=query or None)


async def restart_forward(id_or_target: str) -> ForwardStatus:
    return ForwardStatus.from_json(await _call("POST", f"/restart/{id_or_target}"))


async def stop_daemon() -> bool:
    """Ask the daemon to stop; False when none runs."""
    try:
        await _call("POST", "/shutdown")
    except DaemonNotRunning:
        return False
    return True


async def forward_events() -> AsyncIterator[tuple[ForwardStatus, str]]:
    """State changes as the daemon reports them: (new status, previous state). Ends when it stops."""
    try:
        async with _session(timeout=None) as session, session.get(BASE + "/events") as resp:
            async for line in resp.content:
                if not line.strip():
                    continue
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    event = json.loads(line)
                    yield ForwardStatus.from_json(event["forward"]), str(event.get("previous") or "")
    except aiohttp.ClientConnectorError:
        raise _not_running() from None
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError):
        return


async def daemon_logs(*, follow: bool = False, lines: int = 200) -> AsyncIterator[str]:
    query = {"lines": str(lines), "follow": "1" if follow else "0"}
    try:
        async with _session(timeout=None) as session, session.get(BASE + "/logs", params=query) as resp:
            async for raw in resp.content:
                yield raw.decode("utf-8", "replace").rstrip("\n")
    except aiohttp.ClientConnectorError:
        raise _not_running() from None
    except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError):
        return
