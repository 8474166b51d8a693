"""`aksmcp-server bridge`: the bridge app under the same draining uvicorn server as the reference server.

SIGTERM: /readyz turns 503, in-flight calls finish (up to AKSMCP_GRACE_SECONDS), then uvicorn closes the
listener and runs the lifespan shutdown, which closes every child's stdin (then SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge

from ..auth import ApiKeyAuthenticator, Authenticator, EntraAuthenticator
from ..config import BridgeSettings, Settings
from ..fastpath import HostGuard
from ..http_app import ServingState
from ..metrics import Metrics
from ..runner import serve_http
from ..security import allowed_origins, transport_security
from .http import BridgeApp
from .scheduling import SCHEDULING
from .sessions import ChildPool

logger = logging.getLogger("aksmcp_server")


def build_bridge_app(settings: Settings, bridge: BridgeSettings) -> tuple[BridgeApp, ServingState]:
    metrics = Metrics(())
    children = Gauge(
        "mcp_bridge_children",
        "Running stdio server processes, by kind (shared, session, input).",
        ["kind"],
        registry=metrics.registry,
    )
    starts = Counter(
        "mcp_bridge_child_starts", "stdio server processes started, by kind.", ["kind"], registry=metrics.registry
    )
    exits = Counter(
        "mcp_bridge_child_exits", "stdio server processes that ended, by kind.", ["kind"], registry=metrics.registry
    )
    pool = ChildPool(
        bridge.command,
        pool_size=bridge.pool_size,
        idle_seconds=bridge.idle_seconds,
        startup_timeout=bridge.startup_timeout_seconds,
        cwd=str(settings.workspace),
        on_child_started=lambda kind: starts.labels(kind).inc(),
        on_child_exited=lambda kind: exits.labels(kind).inc(),
        on_tools_seen=metrics.learn_tools,
        input_timeout=bridge.input_timeout_seconds,
    )
    for kind in ("shared", "session", "input"):
        children.labels(kind).set_function(lambda kind=kind: pool.child_counts()[kind])  # type: ignore[misc]
    authenticator: Authenticator | None = None
    if settings.auth_mode == "apikey":
        assert settings.api_key is not None
        # The key a rotation is retiring stays valid beside the new one, as in the reference server.
        authenticator = ApiKeyAuthenticator(settings.api_key, *filter(None, [settings.previous_api_key]))
    elif settings.auth_mode == "entra":
        assert settings.entra is not None
        authenticator = EntraAuthenticator(settings.entra)
    state = ServingState()
    app = BridgeApp(
        pool,
        metrics,
        state,
        authenticator,
        HostGuard(transport_security(settings)),
        allowed_origins(settings),
        settings.max_body_bytes,
    )
    return app, state


def run_bridge(settings: Settings, bridge: BridgeSettings) -> int:
    app, state = build_bridge_app(settings, bridge)
    # This thread runs the event loop (uvicorn's server.run), so its policy is the bridge's.
    sched_policy = SCHEDULING.apply(bridge.sched_policy)
    announce = {
        "mode": "bridge",
        "command": list(bridge.command),
        "pool_size": bridge.pool_size,
        "sched_policy": sched_policy,
    }
    return serve_http(app, state, settings, announce, http_protocol())


def http_protocol() -> type | None:
    """uvicorn's httptools protocol with one send() per response (bridge.coalesce), where httptools is."""
    try:
        from .coalesce import CoalescingHttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is a dependency; uvicorn's default is the fallback
        return None
    return CoalescingHttpToolsProtocol
