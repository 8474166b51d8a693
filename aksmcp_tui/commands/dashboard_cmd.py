"""Opening the dashboard (default command, `--sandbox`) and `aksmcp web` (owned by the UI work)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_dashboard_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sandbox", action="store_true", help="start the local sandbox and open the dashboard on it")


def register(subcommands: Any) -> None:
    return None


def run_dashboard(args: argparse.Namespace) -> int:
    print("aksmcp: the dashboard arrives with the dashboard issue", file=sys.stderr)
    return 2
