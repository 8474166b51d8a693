"""`aksmcp sandbox up|down|status|kubeconfig`: the local cluster as a background daemon."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "sandbox",
        help="run the local sandbox cluster",
        description="A local cluster that speaks the Kubernetes API; pods run as local processes.",
    )
    parser.add_argument("--state-dir", type=Path, default=None, help="default: $XDG_STATE_HOME/aksmcp/sandbox")
    actions = parser.add_subparsers(dest="sandbox_action", metavar="ACTION")
    up = actions.add_parser("up", help="start the sandbox (no-op if it runs) and print how to use it")
    up.add_argument(
        "--merge-kubeconfig",
        action="store_true",
        help="also add the aksmcp-sandbox context to ~/.kube/config (or the first $KUBECONFIG file)",
    )
    up.set_defaults(handler=_up)
    actions.add_parser("down", help="stop the sandbox and every pod process").set_defaults(handler=_down)
    actions.add_parser("status", help="is the sandbox running, and where").set_defaults(handler=_status)
    actions.add_parser("kubeconfig", help="print the path of the sandbox kubeconfig").set_defaults(handler=_kubeconfig)
    parser.set_defaults(handler=_status)


def _up(args: argparse.Namespace) -> int:
    from aksmcp_tui.sandbox import daemon

    try:
        was_running = daemon.status(args.state_dir)["running"]
        kubeconfig = daemon.ensure_running(args.state_dir)
        state = daemon.status(args.state_dir)
        if state.get("notice") and not was_running:
            print(f"note: {state['notice']}", file=sys.stderr)
        print(f"sandbox running at {state['https_url']} (pid {state['pid']})")
        print(f"kubeconfig: {kubeconfig}")
        print(f"try: kubectl --kubeconfig {kubeconfig} get pods -A")
        if args.merge_kubeconfig:
            target = daemon.merge_kubeconfig(kubeconfig)
            print(f"added context aksmcp-sandbox to {target} (kubectl --context aksmcp-sandbox ...)")
    except (daemon.SandboxError, OSError) as error:
        print(f"aksmcp sandbox up: {error}", file=sys.stderr)
        return 1
    return 0


def _down(args: argparse.Namespace) -> int:
    from aksmcp_tui.sandbox import daemon

    try:
        stopped = daemon.stop(args.state_dir)
    except OSError as error:
        print(f"aksmcp sandbox down: {error}", file=sys.stderr)
        return 1
    print("sandbox stopped" if stopped else "sandbox was not running")
    return 0


def _status(args: argparse.Namespace) -> int:
    from aksmcp_tui.sandbox import daemon

    state = daemon.status(args.state_dir)
    if not state["running"]:
        print(f"sandbox not running (state in {state['state_dir']}); start it with: aksmcp sandbox up")
        return 3
    print(f"sandbox running at {state['https_url']} (pid {state['pid']})")
    print(f"kubeconfig: {state['kubeconfig']}")
    return 0


def _kubeconfig(args: argparse.Namespace) -> int:
    from aksmcp_tui.sandbox import daemon

    path = daemon.kubeconfig_path(args.state_dir)
    if not path.exists():
        print(f"no sandbox kubeconfig at {path}; start it with: aksmcp sandbox up", file=sys.stderr)
        return 1
    print(path)
    return 0
