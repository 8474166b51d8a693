"""Local ports: a stable default per forward, and "who holds this port?" for a clear message."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from pathlib import Path

# Outside the Linux (32768-60999) and Windows (49152-65535) ephemeral ranges, so an outgoing
# connection does not take a forward's port while its daemon is down.
STABLE_PORT_BASE = 20000
STABLE_PORT_SPAN = 10000


def stable_port(context: str, namespace: str, target: str) -> int:
    """The same port for the same (context, namespace, workload) on every machine and every run:
    IDE configs that point at it survive daemon restarts and reinstalls."""
    digest = hashlib.sha256(f"{context}\0{namespace}\0{target}".encode()).digest()
    return STABLE_PORT_BASE + int.from_bytes(digest[:4], "big") % STABLE_PORT_SPAN


def port_free(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def next_free_port(address: str, start: int, *, avoid: set[int] | None = None, tries: int = 200) -> int | None:
    """The first free port from `start` on (wrapping inside the stable range)."""
    avoid = avoid or set()
    port = start
    for _ in range(tries):
        if port not in avoid and port_free(address, port):
            return port
        port += 1
        if port >= STABLE_PORT_BASE + STABLE_PORT_SPAN or port > 65535:
            port = STABLE_PORT_BASE
    return None


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) < 10:
                    continue
                local, state = fields[1], fields[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                    inodes.add(fields[9])
    return inodes


def port_holder(port: int) -> str | None:
    """'python3 (pid 1234)' for the process listening on `port`, when this user may see it (Linux)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    with contextlib.suppress(OSError):
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            fd_dir = f"/proc/{pid}/fd"
            try:
                fds = os.listdir(fd_dir)
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(f"{fd_dir}/{fd}") in targets:
                        return f"{_process_name(pid)} (pid {pid})"
                except OSError:
                    continue
    return "another process"


def _process_name(pid: str) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        words = [w.decode(errors="replace") for w in cmdline if w]
        if words:
            name = os.path.basename(words[0])
            if name.startswith("python") and len(words) > 1:
                rest = words[2] if words[1] == "-m" and len(words) > 2 else os.path.basename(words[1])
                return f"{name} {rest}"
            return name
    except OSError:
        pass
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/comm").read_text().strip()
    return "a process"


def port_taken_message(address: str, port: int) -> str:
    holder = port_holder(port)
    by = f" by {holder}" if holder else ""
    alternative = next_free_port(address, port + 1)
    offer = f"; port {alternative} is free (--local-port {alternative})" if alternative else ""
    return f"local port {port} on {address} is taken{by}{offer}"
