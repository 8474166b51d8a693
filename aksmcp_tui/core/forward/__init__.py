"""Self-healing port-forwards: the in-process engine (`open_tunnel`, `Forwarder`) and, for managed
forwards, the daemon's client functions (`ensure_forward`, `list_forwards`, `remove_forward`).

One engine, two hosts: a short job opens a tunnel in its own process; the forwards IDEs point at
live in the daemon (`aksmcp forward daemon`), reached over a unix socket.
"""

from __future__ import annotations

from aksmcp_tui.core.forward.engine import Forwarder, Tunnel, open_tunnel
from aksmcp_tui.core.forward.spec import ForwardError, ForwardSpec, ForwardStatus

__all__ = [
    "ForwardError",
    "ForwardSpec",
    "ForwardStatus",
    "Forwarder",
    "Tunnel",
    "open_tunnel",
]
