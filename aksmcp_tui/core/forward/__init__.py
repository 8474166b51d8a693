"""Self-healing port-forwards: the in-process engine (`open_tunnel`, `Forwarder`) and, for managed
forwards, the daemon's client functions (`ensure_forward`, `list_forwards`, `remove_forward`).

One engine, two hosts: a short job opens a tunnel in its own process; the forwards IDEs point at
live in the daemon (`aksmcp forward daemon`), reached over a unix socket. Every failure is a
`ForwardError` in plain words (`DaemonNotRunning` when no daemon answers).
"""

from __future__ import annotations

from aksmcp_tui.core.forward.control import (
    DaemonNotRunning,
    daemon_status,
    ensure_forward,
    forward_events,
    list_forwards,
    remove_forward,
    restart_forward,
    start_daemon,
    stop_daemon,
)
from aksmcp_tui.core.forward.engine import Forwarder, Tunnel, open_tunnel
from aksmcp_tui.core.forward.spec import ForwardError, ForwardSpec, ForwardStatus

__all__ = [
    "DaemonNotRunning",
    "ForwardError",
    "ForwardSpec",
    "ForwardStatus",
    "Forwarder",
    "Tunnel",
    "daemon_status",
    "ensure_forward",
    "forward_events",
    "list_forwards",
    "open_tunnel",
    "remove_forward",
    "restart_forward",
    "start_daemon",
    "stop_daemon",
]
