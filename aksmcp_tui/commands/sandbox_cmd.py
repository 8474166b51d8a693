"""`aksmcp sandbox up|down|status|kubeconfig` (owned by the sandbox work)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser("sandbox", help="run the local sandbox cluster")
    parser.set_defaults(handler=_not_yet)


def _not_yet(args: argparse.Namespace) -> int:
    print("aksmcp sandbox: arriving with the sandbox issue", file=sys.stderr)
    return 2
