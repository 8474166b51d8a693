"""The `aksmcp` command line.

Start-up must stay fast (`aksmcp --help` is benchmarked): this module and the
`aksmcp_tui.commands` modules it registers import only the standard library at
module level; each handler imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from aksmcp_tui import __version__
from aksmcp_tui.commands import (
    azure_cmd,
    components_cmd,
    connect_cmd,
    dashboard_cmd,
    deploy_cmd,
    fleet_cmd,
    forward_cmd,
    mcp_cmd,
    observe_cmd,
    sandbox_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aksmcp",
        description="MCP servers on AKS: deploy, forward, observe. Without a subcommand, opens the dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"aksmcp {__version__}")
    dashboard_cmd.add_dashboard_options(parser)
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")
    sandbox_cmd.register(subcommands)
    fleet_cmd.register(subcommands)
    dashboard_cmd.register(subcommands)
    forward_cmd.register(subcommands)
    mcp_cmd.register(subcommands)
    connect_cmd.register(subcommands)
    observe_cmd.register(subcommands)
    deploy_cmd.register(subcommands)
    components_cmd.register(subcommands)
    azure_cmd.register(subcommands)
    parser.set_defaults(handler=dashboard_cmd.run_dashboard)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
