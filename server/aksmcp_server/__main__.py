"""Entry point: `aksmcp-server` and `python -m aksmcp_server`."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    # Imports stay inside so `--help` and config errors answer fast and without SDK start-up noise.
    from .config import ConfigError, load_settings

    try:
        settings = load_settings(argv)
    except ConfigError as exc:
        print(f"aksmcp-server: {exc}", file=sys.stderr)
        return 2

    from .logs import configure_logging

    # stdout is the protocol in stdio mode, so logs go to stderr there.
    configure_logging(settings.log_level, sys.stderr if settings.transport == "stdio" else sys.stdout)

    from .runner import run_http, run_stdio

    try:
        if settings.transport == "http":
            return run_http(settings)
        return run_stdio(settings)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
