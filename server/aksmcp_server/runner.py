"""Run the server: Streamable HTTP under uvicorn with a draining shutdown, or stdio.

Shutdown over HTTP: the first SIGTERM (or SIGINT) marks the server draining, so /readyz answers 503 while
the socket stays open; once no MCP POST is in flight (or the grace period is over) uvicorn closes the
listener, finishes open responses and runs the lifespan shutdown; the process exits 0. A second signal
forces the exit. uvicorn's own handler re-raises the signal after shutdown (exit status -15), which a
Deployment would count as a crash, hence the override.
"""

from __future__ import annotations

import gc
import importlib.util
import logging
import os
import signal
import socket
import sys
import time
from types import FrameType
from typing import Any

import anyio
import uvicorn
from mcp.server import MCPServer

from .app import build_mcp_server
from .auth import ApiKeyAuthenticator, Authenticator, EntraAuthenticator
from .config import Settings
from .fastpath import HostGuard, ToolCallFastPath
from .http_app import AksmcpApp, ServingState
from .security import allowed_origins, transport_security

logger = logging.getLogger("aksmcp_server")


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state: ServingState, grace_seconds: float) -> None:
        super().__init__(config)
        self.state = state
        self.grace_seconds = grace_seconds
        self.drain_deadline = float("inf")

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.state.draining:
            self.force_exit = True
            self.should_exit = True
            return
        self.state.draining = True
        self.drain_deadline = time.monotonic() + self.grace_seconds
        logger.info(
            "draining",
            extra={"signal": signal.Signals(sig).name, "in_flight": self.state.in_flight_calls},
        )

    async def on_tick(self, counter: int) -> bool:
        if await super().on_tick(counter):
            return True
        if not self.state.draining:
            return False
        remaining = self.drain_deadline - time.monotonic()
        if self.state.in_flight_calls > 0 and remaining > 0:
            return False
        if self.state.in_flight_calls > 0:
            logger.warning("grace period over", extra={"in_flight": self.state.in_flight_calls})
        # uvicorn's own wait for open connections (e.g. legacy GET streams) gets only what is left of the
        # grace period, so the whole shutdown stays within AKSMCP_GRACE_SECONDS (+1 s).
        self.config.timeout_graceful_shutdown = max(1, int(remaining))
        return True


def build_http_app(settings: Settings) -> tuple[AksmcpApp, MCPServer[Any], ServingState]:
    server, metrics, tools = build_mcp_server(settings)
    security = transport_security(settings)
    # Called for its side effect: it builds the SDK's StreamableHTTPSessionManager, which we mount
    # ourselves (the returned Starlette app, with its extra routing layer, is not used).
    server.streamable_http_app(
        streamable_http_path="/mcp",
        json_response=settings.json_response,
        stateless_http=not settings.stateful,
        max_request_body_size=settings.max_body_bytes,
        transport_security=security,
        host=settings.host,
    )
    authenticator: Authenticator | None = None
    if settings.auth_mode == "apikey":
        assert settings.api_key is not None
        authenticator = ApiKeyAuthenticator(settings.api_key, *filter(None, [settings.previous_api_key]))
    elif settings.auth_mode == "entra":
        assert settings.entra is not None
        authenticator = EntraAuthenticator(settings.entra)
    state = ServingState()
    fast_path = None
    if settings.fast_path and settings.json_response:
        fast_path = ToolCallFastPath(
            tools,
            server._lowlevel_server.server_info_stamp,
            metrics,
            HostGuard(security),
            serve_legacy=not settings.stateful,
        )
    app = AksmcpApp(
        server.session_manager,
        metrics,
        state,
        authenticator,
        allowed_origins(settings),
        check_origin=not security.enable_dns_rebinding_protection,
        max_body_bytes=settings.max_body_bytes,
        fast_path=fast_path,
    )
    return app, server, state


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_http(settings: Settings) -> int:
    app, _server, state = build_http_app(settings)
    return serve_http(
        app,
        state,
        settings,
        {
            "stateful": settings.stateful,
            "workspace": str(settings.workspace),
            "allowed_commands": list(settings.allowed_commands),
        },
    )


def serve_http(
    app: Any, state: ServingState, settings: Settings, announce: dict[str, Any], http_protocol: type | None = None
) -> int:
    """Bind, run uvicorn with the SIGTERM drain until stopped, and log "listening" with `announce` (the
    reference server and the bridge share this; `http_protocol` replaces uvicorn's HTTP protocol class)."""
    try:
        sock = _bind(settings.host, settings.port)
    except OSError as exc:
        print(f"aksmcp-server: cannot listen on {settings.host}:{settings.port}: {exc.strerror}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http=http_protocol or ("httptools" if importlib.util.find_spec("httptools") else "h11"),
        timeout_graceful_shutdown=max(int(settings.grace_seconds), 1),
        server_header=False,
        proxy_headers=False,
    )
    server = DrainingServer(config, state, settings.grace_seconds)
    # Everything built so far (SDK, pydantic schemas, tools) lives as long as the process: moving it out
    # of the collector's generations keeps full collections, triggered by per-request garbage, short.
    gc.collect()
    gc.freeze()
    host_for_url = f"[{settings.host}]" if ":" in settings.host else settings.host
    logger.info(
        "listening",
        extra={"url": f"http://{host_for_url}:{port}/mcp", "port": port, "auth": settings.auth_mode, **announce},
    )
    server.run(sockets=[sock])
    logger.info("stopped")
    return 0


def run_stdio(settings: Settings) -> int:
    server, _metrics, _tools = build_mcp_server(settings)

    async def serve() -> None:
        async with anyio.create_task_group() as tg:

            async def exit_on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for signum in signals:
                        # The SDK reads stdin in a worker thread that a cancellation cannot interrupt, so
                        # a clean unwind would wait for the client's next line. Over stdio the client owns
                        # the lifecycle (it closes stdin first, then signals), so exit now, status 0.
                        logger.info("stopping", extra={"signal": signal.Signals(signum).name})
                        sys.stdout.flush()
                        sys.stderr.flush()
                        os._exit(0)

            tg.start_soon(exit_on_signal)
            await server.run_stdio_async()
            tg.cancel_scope.cancel()

    anyio.run(serve)
    return 0
