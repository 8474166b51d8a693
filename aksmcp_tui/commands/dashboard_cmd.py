"""Opening the dashboard (default command, `--sandbox`) and `aksmcp web`.

Module-level imports are standard library only (`aksmcp --help` is benchmarked); Textual, the
kubernetes client and the sandbox are imported inside the handlers.
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import sys
from pathlib import Path
from typing import Any

SANDBOX_CONTEXT = "aksmcp-sandbox"
DEFAULT_WEB_PORT = 8000
_LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def add_dashboard_options(parser: argparse.ArgumentParser) -> None:
    _add_view_options(parser)


def _add_view_options(parser: argparse.ArgumentParser) -> None:
    # dests are prefixed so they never clash with the options of other subcommands (ls --context ...)
    parser.add_argument(
        "--sandbox",
        action="store_true",
        dest="dashboard_sandbox",
        help="start the local sandbox if needed, deploy the reference MCP server there and open the dashboard on it",
    )
    parser.add_argument("--context", dest="dashboard_context", metavar="NAME", help="kubeconfig context to open first")
    parser.add_argument(
        "--kubeconfig", dest="dashboard_kubeconfig", metavar="PATH", help="kubeconfig file (default: $KUBECONFIG)"
    )
    parser.add_argument(
        "-n", "--namespace", dest="dashboard_namespace", metavar="NS", help="show one namespace (default: all)"
    )


def register(subcommands: Any) -> None:
    web: argparse.ArgumentParser = subcommands.add_parser(
        "web",
        help="serve the dashboard in a browser (textual-serve, 127.0.0.1 only by default)",
        description=(
            "Serve the dashboard in a browser. Every browser session runs the dashboard with YOUR kubeconfig "
            "credentials, so it listens on 127.0.0.1 unless you pass --host with --allow-remote."
        ),
    )
    _add_view_options(web)
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    web.add_argument("--port", type=int, default=DEFAULT_WEB_PORT, help=f"port (default {DEFAULT_WEB_PORT})")
    web.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (anyone who can reach it gets your cluster access)",
    )
    web.set_defaults(handler=run_web)


# ---------------------------------------------------------------------------- aksmcp [--sandbox]


def run_dashboard(args: argparse.Namespace) -> int:
    try:
        context, kubeconfig, sandbox_kubeconfig = _prepare(args)
    except _Refused as refused:
        print(f"aksmcp: {refused}", file=sys.stderr)
        return 1
    from aksmcp_tui.ui.app import make_app
    from aksmcp_tui.ui.screens.console_image import prepare

    prepare()  # image previews in the console (`c`): the terminal can be asked only before the app starts

    app = make_app(
        kubeconfig=kubeconfig,
        context=context,
        namespace=getattr(args, "dashboard_namespace", None),
        sandbox_kubeconfig=sandbox_kubeconfig,
    )
    app.run()
    return int(app.return_code or 0)


class _Refused(Exception):
    """A plain-words reason not to open the dashboard."""


def _prepare(args: argparse.Namespace) -> tuple[str | None, str | None, Path | None]:
    """(context to open, kubeconfig, sandbox kubeconfig) — starting the sandbox first if asked."""
    context: str | None = getattr(args, "dashboard_context", None)
    kubeconfig: str | None = getattr(args, "dashboard_kubeconfig", None)
    if kubeconfig is not None and not Path(kubeconfig).is_file():
        raise _Refused(f"no kubeconfig file at {kubeconfig}")
    if getattr(args, "dashboard_sandbox", False):
        sandbox_kubeconfig = start_sandbox_with_reference_server()
        return context or SANDBOX_CONTEXT, kubeconfig, sandbox_kubeconfig
    return context, kubeconfig, running_sandbox_kubeconfig()


def running_sandbox_kubeconfig() -> Path | None:
    """The kubeconfig of a sandbox the daemon is running, if any (shown in the cluster tree).
    A left-over kubeconfig of a stopped sandbox is not offered."""
    from aksmcp_tui.sandbox.daemon import status

    try:
        state = status()
    except Exception:  # a broken state dir must not stop the dashboard from opening
        return None
    kubeconfig = state.get("kubeconfig")
    if state.get("running") and kubeconfig and Path(kubeconfig).is_file():
        return Path(kubeconfig)
    return None


def start_sandbox_with_reference_server() -> Path:
    """`aksmcp --sandbox`: the sandbox daemon (started if needed) with the reference server deployed."""
    import asyncio

    print("aksmcp: starting the local sandbox (or reusing the running one)…", flush=True)
    try:
        from aksmcp_tui.sandbox.daemon import ensure_running

        kubeconfig = ensure_running()
    except Exception as error:  # the daemon explains itself; never a traceback
        raise _Refused(f"the sandbox did not start: {error}") from None
    print(f"aksmcp: sandbox ready ({kubeconfig})", flush=True)
    asyncio.run(_deploy_reference_server(kubeconfig))
    return kubeconfig


async def _deploy_reference_server(kubeconfig: Path) -> None:
    from aksmcp_tui.core.bootstrap import ensure_reference_server
    from aksmcp_tui.core.kube import KubeContext, KubeProblem

    try:
        kube = await KubeContext.open(SANDBOX_CONTEXT, str(kubeconfig))
    except KubeProblem as problem:
        raise _Refused(f"cannot talk to the sandbox: {problem}") from None
    try:
        print("aksmcp: making sure the reference MCP server is deployed in namespace mcp-system", flush=True)
        async for step in ensure_reference_server(kube):
            print(f"  {_step_line(step)}", flush=True)
            if getattr(step, "status", "") == "failed":
                raise _Refused(f"could not deploy the reference MCP server: {getattr(step, 'detail', '')}")
    except KubeProblem as problem:
        raise _Refused(f"could not deploy the reference MCP server: {problem}") from None
    finally:
        await kube.close()


def _step_line(step: object) -> str:
    """core.bootstrap.Step(name, status running|done|skipped|failed, detail) as one line of progress."""
    name = getattr(step, "name", "")
    status = str(getattr(step, "status", ""))
    detail = getattr(step, "detail", "") or ""
    mark = {"done": "✓", "skipped": "✓", "failed": "✗"}.get(status, "…")
    return f"{mark} {name}" + (f": {detail}" if detail else "")


# ---------------------------------------------------------------------------- aksmcp web


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def served_command(args: argparse.Namespace, sandbox_kubeconfig: Path | None, context: str | None) -> str:
    """The shell command textual-serve runs for each browser session (`exec` so no shell stays behind)."""
    parts = [sys.executable, "-m", "aksmcp_tui"]
    if context:
        parts += ["--context", context]
    if getattr(args, "dashboard_kubeconfig", None):
        parts += ["--kubeconfig", str(Path(args.dashboard_kubeconfig).resolve())]
    if getattr(args, "dashboard_namespace", None):
        parts += ["--namespace", args.dashboard_namespace]
    return "exec " + shlex.join(parts)


def run_web(args: argparse.Namespace) -> int:
    host: str = args.host
    if not 0 < args.port < 65536:
        print(f"aksmcp web: --port must be between 1 and 65535, not {args.port}", file=sys.stderr)
        return 2
    if not is_loopback(host):
        if not args.allow_remote:
            print(
                f"aksmcp web: refusing to listen on {host}: every browser session runs with your cluster "
                "credentials. Pass --allow-remote to do it anyway (behind an authenticating proxy).",
                file=sys.stderr,
            )
            return 2
        print(
            f"aksmcp web: WARNING: listening on {host}. Anyone who can reach {host}:{args.port} gets a dashboard "
            "running with your kubeconfig credentials.",
            file=sys.stderr,
            flush=True,
        )
    try:
        context, _kubeconfig, sandbox_kubeconfig = _prepare(args)
    except _Refused as refused:
        print(f"aksmcp web: {refused}", file=sys.stderr)
        return 1
    from aksmcp_tui.ui.serve import serve

    print(f"aksmcp web: http://{host}:{args.port}/ (Ctrl+C stops it)", flush=True)
    serve(served_command(args, sandbox_kubeconfig, context), host=host, port=args.port)
    return 0
