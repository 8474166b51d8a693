"""`aksmcp init` and `aksmcp deploy`: print the events of core.deploy (the dashboard renders the same)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subcommands: Any) -> None:
    init: argparse.ArgumentParser = subcommands.add_parser(
        "init",
        help="create an MCP server project (Dockerfile, manifests overlay, tests)",
        description="Create a new MCP server project from aksmcp's server runtime: a Python project with an "
        "example tool, a bridge around any stdio server, or a well-known server from the catalog.",
    )
    init.add_argument("name", nargs="?", help="project name (a DNS-1123 label: lowercase letters, digits, '-')")
    init.add_argument("--template", default="python", help="python (default), bridge, or a catalog name (see --list)")
    init.add_argument("--command", help='the stdio server for --template bridge, e.g. "npx -y pkg" or "uvx pkg"')
    init.add_argument("--dir", type=Path, help="where to create it (default: ./NAME)")
    init.add_argument("-n", "--namespace", default="mcp-system", help="namespace to deploy to (default mcp-system)")
    init.add_argument("--registry", help="registry to push images to, e.g. myacr.azurecr.io (can be given to deploy)")
    init.add_argument("--list", action="store_true", help="list the catalog of well-known servers")
    init.set_defaults(handler=_init)


def _init(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.deploy.project import ProjectError
    from aksmcp_tui.core.deploy.scaffold import catalog_rows, init_project

    if args.list:
        rows = [("NAME", "PACKAGE", "SECRETS", "DESCRIPTION"), *catalog_rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for row in rows:
            print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
        print("\nalso: --template python (default) and --template bridge --command '...'")
        return 0
    if not args.name:
        print("aksmcp init: give a project NAME (or --list for the catalog)", file=sys.stderr)
        return 2
    try:
        result = init_project(
            args.name,
            template=args.template,
            command=args.command,
            directory=args.dir,
            namespace=args.namespace,
            registry=args.registry,
        )
    except ProjectError as exc:
        print(f"aksmcp init: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"aksmcp init: cannot write the project: {exc}", file=sys.stderr)
        return 1
    print(f"created {result.path} ({result.project.template} template, {len(result.files)} files)")
    print("next:")
    for step in result.next_steps:
        print(f"  {step}")
    return 0
