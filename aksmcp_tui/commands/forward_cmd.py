"""`aksmcp forward add|ls|rm|restart|logs|daemon`: managed port-forwards, run by the forward daemon.

Module-level imports stay standard-library only (`aksmcp --help` start-up time); the core is
imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

LS_COLUMNS = ("ID", "TARGET", "NAMESPACE", "CONTEXT", "LOCAL", "STATE", "POD", "RECONNECTS", "MCP", "ERROR")


def register(subcommands: Any) -> None:
    forward = subcommands.add_parser(
        "forward",
        help="self-healing port-forwards to MCP servers (run by a daemon)",
        description="Managed port-forwards: each keeps its local port for life, follows its pods through "
        "restarts and rollouts, and probes the MCP server behind it. A daemon runs them; `add` starts it "
        "when none runs.",
    )
    verbs = forward.add_subparsers(dest="forward_command", metavar="VERB")
    verbs.required = True

    add = verbs.add_parser(
        "add",
        help="forward a workload and print its local URL",
        description="Forward TARGET (svc/NAME, deploy/NAME or pod/NAME) to a local port and print the local URL. "
        "Without --local-port a deployment gets a port that is stable per (context, namespace, name).",
    )
    add.add_argument("target", metavar="TARGET", help="svc/NAME, deploy/NAME or pod/NAME")
    add.add_argument("-n", "--namespace", help="namespace (default: the context's namespace)")
    add.add_argument("--context", help="kubeconfig context (default: the current context)")
    add.add_argument("--kubeconfig", help="kubeconfig file(s) instead of $KUBECONFIG / ~/.kube/config")
    add.add_argument("--local-port", type=int, metavar="P", help="local port (default: stable per workload)")
    add.add_argument(
        "--remote-port", metavar="R", help="remote port number or name (default: the port named mcp, else the first)"
    )
    add.add_argument("--address", default="127.0.0.1", help="local address to listen on (default 127.0.0.1)")
    add.add_argument("-o", "--output", choices=("url", "json"), default="url", help="print the URL or the status JSON")
    add.set_defaults(handler=run_add)

    ls = verbs.add_parser("ls", help="list forwards and their health", description="List the managed forwards.")
    ls.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")
    ls.set_defaults(handler=run_ls)

    rm = verbs.add_parser("rm", help="remove a forward", description="Stop and forget a forward.")
    rm.add_argument("key", metavar="ID|TARGET", help="a forward ID (from `forward ls`) or its TARGET")
    rm.add_argument("-n", "--namespace", help="with TARGET: only in this namespace")
    rm.add_argument("--context", help="with TARGET: only in this context")
    rm.set_defaults(handler=run_rm)

    restart = verbs.add_parser("restart", help="restart a forward (same local port)")
    restart.add_argument("key", metavar="ID|TARGET")
    restart.set_defaults(handler=run_restart)

    logs = verbs.add_parser("logs", help="show the daemon's log", description="Show the forward daemon's log.")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("--tail", type=int, default=200, metavar="N", help="lines of history (default 200)")
    logs.set_defaults(handler=run_logs)

    daemon = verbs.add_parser(
        "daemon",
        help="run the forward daemon",
        description="Run every managed forward headless (foreground). --detach starts it in the background "
        "(pid file and log file under the XDG state dir).",
    )
    mode = daemon.add_mutually_exclusive_group()
    mode.add_argument("--detach", action="store_true", help="start in the background and return")
    mode.add_argument("--stop", action="store_true", help="stop the running daemon")
    daemon.add_argument("--log-to-stderr-only", action="store_true", help=argparse.SUPPRESS)
    daemon.set_defaults(handler=run_daemon)


def _run(coroutine: Any) -> Any:
    import asyncio  # here, not at module level: `aksmcp --help` stays fast

    return asyncio.run(coroutine)


def _fail(message: str, code: int = 1) -> int:
    print(f"aksmcp: {message}", file=sys.stderr)
    return code


def _resolve_context(context: str | None, kubeconfig: str | None) -> tuple[str, str]:
    """(context, its default namespace) from the kubeconfig, the way kubectl picks them."""
    from aksmcp_tui.core.kubeconfig import KubeconfigError, load_kubeconfig

    merged = load_kubeconfig(kubeconfig)
    name = context or merged.current_context
    if not name:
        raise KubeconfigError("no --context given and the kubeconfig has no current-context")
    config = merged.context_config(name)
    namespace = (config["contexts"][0].get("context") or {}).get("namespace") or "default"
    return name, str(namespace)


def run_add(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.forward import ForwardError, ForwardSpec
    from aksmcp_tui.core.forward.control import ensure_forward
    from aksmcp_tui.core.forward.spec import normalize_target, parse_port
    from aksmcp_tui.core.kubeconfig import KubeconfigError

    try:
        target = normalize_target(args.target)
        remote = parse_port(args.remote_port)
        if args.local_port is not None and not 0 < args.local_port < 65536:
            raise ForwardError(f"--local-port {args.local_port} is out of range (1-65535)")
        context, default_ns = _resolve_context(args.context, args.kubeconfig)
    except (ForwardError, KubeconfigError) as exc:
        return _fail(str(exc), 2)
    spec = ForwardSpec(
        context=context,
        namespace=args.namespace or default_ns,
        target=target,
        remote_port=remote,
        local_port=args.local_port,
        address=args.address,
        kubeconfig=args.kubeconfig,
    )
    try:
        status = _run(ensure_forward(spec))
    except ForwardError as exc:
        return _fail(str(exc))
    if args.output == "json":
        print(json.dumps(status.to_json(), indent=2))
    else:
        print(status.local_url)
        print(
            f"forward {status.id}: {status.namespace}/{status.target} -> {status.local_url} "
            f"({status.state}; MCP endpoint {status.mcp_url})",
            file=sys.stderr,
        )
    if status.state == "waiting" and status.ready_pods == 0 and "has no pods" in (status.last_error or ""):
        # Kept (it serves as soon as a pod is ready), but the user most likely named the wrong thing.
        return _fail(
            f"{status.last_error}: the forward is kept and holds connections until a pod is ready "
            f"(`aksmcp forward rm {status.id}` to drop it)"
        )
    return 0


def _persisted_as_failed(reason: str) -> list[Any]:
    from aksmcp_tui.core.forward.daemon import ManagedForward
    from aksmcp_tui.core.forward.store import load_definitions

    specs, _ = load_definitions()
    statuses = []
    for spec in specs:
        managed = ManagedForward(spec)
        managed.problem = reason
        statuses.append(managed.status())
    return statuses


def _latency(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}ms" if value >= 10 else f"{value:.1f}ms"


def run_ls(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.forward import ForwardError
    from aksmcp_tui.core.forward.control import DaemonNotRunning, list_forwards

    code = 0
    try:
        statuses = _run(list_forwards())
    except DaemonNotRunning as exc:
        print(f"aksmcp: {exc}", file=sys.stderr)
        statuses = _persisted_as_failed("the forward daemon is not running")
        code = 1
    except ForwardError as exc:
        return _fail(str(exc))
    if args.output == "json":
        print(json.dumps([s.to_json() for s in statuses], indent=2))
        return code
    if not statuses:
        print("no forwards (add one with `aksmcp forward add deploy/NAME -n NAMESPACE`)", file=sys.stderr)
        return code
    rows = [
        (
            s.id,
            s.target,
            s.namespace,
            s.context,
            s.local_url,
            s.state,
            s.pod or "-",
            str(s.reconnects),
            _latency(s.mcp_latency_ms),
            (s.last_error or "")[:80],
        )
        for s in statuses
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(LS_COLUMNS)]
    for line in (LS_COLUMNS, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    return code


def run_rm(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.forward import ForwardError
    from aksmcp_tui.core.forward.control import DaemonNotRunning, remove_forward

    try:
        _run(remove_forward(args.key, namespace=args.namespace, context=args.context))
    except DaemonNotRunning:
        return _remove_offline(args)
    except ForwardError as exc:
        return _fail(str(exc))
    print(f"removed {args.key}", file=sys.stderr)
    return 0


def _remove_offline(args: argparse.Namespace) -> int:
    """No daemon: edit the saved definitions, so a forward can be forgotten without starting it."""
    from aksmcp_tui.core.forward.spec import ForwardError, normalize_target
    from aksmcp_tui.core.forward.store import load_definitions, save_definitions, spec_id

    specs, problem = load_definitions()
    if problem:
        return _fail(problem)
    try:
        target = normalize_target(args.key)
    except ForwardError:
        target = None
    keep = [
        s
        for s in specs
        if not (
            spec_id(s) == args.key
            or (
                target == s.target
                and (args.namespace is None or s.namespace == args.namespace)
                and (args.context is None or s.context == args.context)
            )
        )
    ]
    if len(keep) == len(specs):
        return _fail(f"no forward {args.key!r}")
    if len(specs) - len(keep) > 1:
        return _fail(f"{args.key} matches {len(specs) - len(keep)} forwards; give the ID or -n/--context")
    save_definitions(keep)
    print(f"removed {args.key} (the daemon is not running)", file=sys.stderr)
    return 0


def run_restart(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.forward import ForwardError
    from aksmcp_tui.core.forward.control import restart_forward

    try:
        status = _run(restart_forward(args.key))
    except ForwardError as exc:
        return _fail(str(exc))
    print(f"{status.id}: {status.local_url} {status.state}")
    return 0


def run_logs(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.forward.control import DaemonNotRunning, daemon_logs
    from aksmcp_tui.core.forward.store import log_path

    async def show() -> None:
        async for line in daemon_logs(follow=args.follow, lines=args.tail):
            print(line, flush=True)

    try:
        _run(show())
    except DaemonNotRunning as exc:
        path = log_path()
        if args.follow or not path.exists():
            return _fail(str(exc))
        print(f"aksmcp: the daemon is not running; its last log lines ({path}):", file=sys.stderr)
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        for line in lines[-args.tail :] if args.tail > 0 else []:
            print(line)
    return 0


def run_daemon(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.forward import ForwardError
    from aksmcp_tui.core.forward.control import start_daemon, stop_daemon

    if args.stop:
        if not _run(stop_daemon()):
            return _fail("no forward daemon runs")
        print("forward daemon stopping", file=sys.stderr)
        return 0
    if args.detach:
        from aksmcp_tui.core.forward.store import log_path

        try:
            pid = _run(start_daemon())
        except ForwardError as exc:
            return _fail(str(exc))
        print(f"forward daemon running (pid {pid}); log: {log_path()}")
        return 0
    return _run_foreground(to_file=not args.log_to_stderr_only)


def _run_foreground(*, to_file: bool) -> int:
    import logging
    import os

    from aksmcp_tui.core.forward.daemon import DaemonError, ForwardDaemon
    from aksmcp_tui.core.forward.store import log_path, private_dir

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if to_file:
        path = log_path()
        private_dir(path.parent)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        handlers.append(logging.FileHandler(path, encoding="utf-8"))
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    logger = logging.getLogger("aksmcp")
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        _run(ForwardDaemon().run())
    except DaemonError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        pass
    return 0
