"""Readiness, liveness and startup probes, run for real against the container's mapped ports."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

_MAX_OUTPUT = 10 * 1024


@dataclass
class ProbeContext:
    """Where a container's probes go: its ports (declared → local) and how to exec in it."""

    mapped_ports: dict[int, int]
    named_ports: dict[str, int]
    env: dict[str, str]
    cwd: str | None
    rewrite: Callable[[str], str]
    # Prepended to exec probe/hook commands: ["docker", "exec", <name>] in the Docker runtime.
    exec_prefix: list[str] = field(default_factory=list)


@dataclass
class ProbeSettings:
    initial_delay: float
    period: float
    timeout: float
    failure_threshold: int
    success_threshold: int

    @classmethod
    def of(cls, probe: dict[str, Any], liveness_like: bool) -> ProbeSettings:
        return cls(
            initial_delay=float(probe.get("initialDelaySeconds") or 0),
            period=float(probe.get("periodSeconds") or 10),
            timeout=float(probe.get("timeoutSeconds") or 1),
            failure_threshold=int(probe.get("failureThreshold") or 3),
            # Liveness and startup probes must have successThreshold 1.
            success_threshold=1 if liveness_like else int(probe.get("successThreshold") or 1),
        )


def local_port(port: Any, ctx: ProbeContext) -> int:
    """A probe/forward port (number or container port name) → the local port that serves it."""
    if isinstance(port, str) and not port.isdigit():
        if port not in ctx.named_ports:
            raise ValueError(f"port {port!r} is not a named container port")
        number = ctx.named_ports[port]
    else:
        number = int(port)
    return ctx.mapped_ports.get(number, number)


async def run_probe(probe: dict[str, Any], ctx: ProbeContext, seconds: float) -> tuple[bool, str]:
    """One probe attempt: (success, message for the Unhealthy event)."""
    try:
        if "httpGet" in probe:
            return await _http_get(probe["httpGet"] or {}, ctx, seconds)
        if "tcpSocket" in probe:
            return await _tcp(probe["tcpSocket"] or {}, ctx, seconds)
        if "exec" in probe:
            return await _exec(probe["exec"] or {}, ctx, seconds)
        if "grpc" in probe:
            port = local_port((probe["grpc"] or {}).get("port"), ctx)
            return await _tcp({"port": port}, ctx, seconds)
    except (ValueError, TypeError) as error:
        return False, str(error)
    return False, "probe has no handler"


async def _http_get(spec: dict[str, Any], ctx: ProbeContext, seconds: float) -> tuple[bool, str]:
    port = local_port(spec.get("port"), ctx)
    # host is the pod IP by default, which is 127.0.0.1 here; a Host *header* is sent as given.
    host = spec.get("host") or "127.0.0.1"
    scheme = str(spec.get("scheme") or "HTTP").lower()
    path = spec.get("path") or "/"
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{host}:{port}{path}"
    headers = {"User-Agent": "kube-probe/1.32", "Accept": "*/*"}
    for header in spec.get("httpHeaders") or []:
        if header.get("name"):
            headers[str(header["name"])] = str(header.get("value", ""))
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=seconds)) as session,
            session.get(url, headers=headers, allow_redirects=False, ssl=False) as resp,
        ):
            body = await resp.content.read(_MAX_OUTPUT)
            if 200 <= resp.status < 400:
                return True, ""
            return (
                False,
                f"HTTP probe failed with statuscode: {resp.status} {body[:200].decode(errors='replace')}".strip(),
            )
    except TimeoutError:
        return False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
    except aiohttp.ClientError as error:
        return False, f'Get "{url}": {error}'


async def _tcp(spec: dict[str, Any], ctx: ProbeContext, seconds: float) -> tuple[bool, str]:
    port = local_port(spec.get("port"), ctx)
    host = spec.get("host") or "127.0.0.1"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), seconds)
    except (OSError, TimeoutError) as error:
        return False, f"dial tcp {host}:{port}: {error or 'i/o seconds'}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, ""


async def _exec(spec: dict[str, Any], ctx: ProbeContext, seconds: float) -> tuple[bool, str]:
    argv = [ctx.rewrite(str(a)) for a in spec.get("command") or []]
    if not argv:
        return False, "exec probe has no command"
    argv = ctx.exec_prefix + argv
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=ctx.env,
            cwd=ctx.cwd,
            start_new_session=True,
        )
    except OSError as error:
        return False, f"exec failed: {error}"
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), seconds)
    except TimeoutError:
        await _reap(proc)
        return False, f"command timed out after {seconds:g}s"
    except asyncio.CancelledError:
        # The container stopped mid-probe: do not leave the probe's process (or its transport) behind.
        await asyncio.shield(_reap(proc))
        raise
    if proc.returncode == 0:
        return True, ""
    text = (out or b"")[:_MAX_OUTPUT].decode(errors="replace").strip()
    return False, f"command {argv!r} exited with {proc.returncode}: {text}".strip()


async def _reap(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, 9)
    with contextlib.suppress(Exception):
        await proc.communicate()
