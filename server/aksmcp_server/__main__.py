"""Entry point: `aksmcp-server` and `python -m aksmcp_server`."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    # Imports stay inside so `--help` and config errors answer fast and without SDK start-up noise.
    from .config import BridgeSettings, ConfigError, bridge_from_environment, load_bridge_settings, load_settings

    args = list(sys.argv[1:] if argv is None else argv)
    bridge: BridgeSettings | None
    try:
        if args[:1] == ["bridge"]:
            settings, bridge = load_bridge_settings(args[1:])
        else:
            settings = load_settings(args)
            bridge = bridge_from_environment(settings)
    except ConfigError as exc:
        print(f"aksmcp-server: {exc}", file=sys.stderr)
        return 2

    from .logs import configure_logging

    # stdout is the protocol in stdio mode, so logs go to stderr there.
    configure_logging(settings.log_level, sys.stderr if settings.transport == "stdio" else sys.stdout)

    if bridge is not None:
        from .bridge.runner import run_bridge

        try:
            return run_bridge(settings, bridge)
        except KeyboardInterrupt:
            return 0

    from .runner import run_http, run_stdio

    try:
        if settings.transport == "http":
            return run_http(settings)
        return run_stdio(settings)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
