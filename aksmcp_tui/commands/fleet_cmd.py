"""`aksmcp clusters` and `aksmcp ls`: the dashboard's cluster tree and fleet table, headless.

Module-level imports stay standard-library only (`aksmcp --help` start-up time); the core is
imported inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any


def register(subcommands: Any) -> None:
    clusters = subcommands.add_parser(
        "clusters",
        help="list kubeconfig contexts (and the local sandbox)",
        description="List kubeconfig contexts the way kubectl resolves them ($KUBECONFIG, ~/.kube/config), "
        "plus the local sandbox when its kubeconfig exists.",
    )
    clusters.add_argument("--kubeconfig", help="kubeconfig file(s) to read instead of $KUBECONFIG / ~/.kube/config")
    clusters.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")
    clusters.set_defaults(handler=run_clusters)

    ls = subcommands.add_parser(
        "ls",
        help="list the MCP servers of a cluster",
        description="List the MCP server workloads of a context (see README: which workloads count as MCP servers).",
    )
    ls.add_argument("--context", help="kubeconfig context (default: the current context)")
    ls.add_argument("--kubeconfig", help="kubeconfig file(s) to read instead of $KUBECONFIG / ~/.kube/config")
    scope = ls.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", help="only this namespace")
    scope.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="all namespaces (the default; if that is forbidden, the context's namespace, with a notice)",
    )
    ls.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")
    ls.set_defaults(handler=run_ls)


def _fail(message: str) -> int:
    print(f"aksmcp: {message}", file=sys.stderr)
    return 1


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [headers, *rows]
    return "\n".join("   ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def _age(created: datetime | None, now: datetime | None = None) -> str:
    if created is None:
        return "-"
    seconds = int(((now or datetime.now(UTC)) - created).total_seconds())
    if seconds < 0:
        seconds = 0
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _sandbox_contexts(known: set[str]) -> list[Any]:
    """Contexts of the sandbox's kubeconfig (the file path only: the sandbox package is not imported)."""
    from aksmcp_tui.core.kubeconfig import KubeconfigError, load_contexts
    from aksmcp_tui.core.paths import sandbox_kubeconfig_path

    path = sandbox_kubeconfig_path()
    if not path.is_file():
        return []
    try:
        found = load_contexts(str(path))
    except KubeconfigError:
        return []  # a half-written sandbox file must not break listing the user's clusters
    return [c for c in found if c.name not in known]


def run_clusters(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.kubeconfig import KubeconfigError, load_contexts

    try:
        contexts = load_contexts(args.kubeconfig)
    except KubeconfigError as exc:
        return _fail(str(exc))
    sandbox = _sandbox_contexts({c.name for c in contexts})
    if args.output == "json":
        items = [
            {
                "name": c.name,
                "current": c.is_current,
                "cluster": c.cluster,
                "user": c.user,
                "server": c.server,
                "namespace": c.namespace,
                "auth": c.auth_kind,
                "source": "sandbox" if c in sandbox else "kubeconfig",
                "sourceFile": str(c.source_file),
            }
            for c in [*contexts, *sandbox]
        ]
        print(json.dumps({"contexts": items}, indent=2))
        return 0
    if not contexts and not sandbox:
        print("no kubeconfig contexts found (KUBECONFIG or ~/.kube/config); try `aksmcp sandbox up`", file=sys.stderr)
        return 0
    rows = [
        [
            "*" if c.is_current and c not in sandbox else "",
            c.name + (" (sandbox)" if c in sandbox else ""),
            c.cluster,
            c.server or "-",
            c.namespace or "default",
            c.auth_kind,
        ]
        for c in [*contexts, *sandbox]
    ]
    print(_table(["CURRENT", "NAME", "CLUSTER", "SERVER", "NAMESPACE", "AUTH"], rows))
    return 0


def _resolve_context(name: str | None, kubeconfig: str | None) -> tuple[str, str | None]:
    """(context, kubeconfig to open it from): falls back to the sandbox's kubeconfig for its context."""
    from aksmcp_tui.core.kubeconfig import KubeconfigError, load_kubeconfig
    from aksmcp_tui.core.paths import sandbox_kubeconfig_path

    merged = load_kubeconfig(kubeconfig)
    sandbox = sandbox_kubeconfig_path()
    chosen = name or merged.current_context
    if not chosen and not merged.contexts and kubeconfig is None and sandbox.is_file():
        # No clusters of one's own yet (a newcomer after `aksmcp --sandbox`): the sandbox is the cluster.
        chosen = "aksmcp-sandbox"
    if not chosen:
        raise KubeconfigError("no current context in the kubeconfig; pass --context (see `aksmcp clusters`)")
    if chosen in merged.contexts:
        return chosen, kubeconfig
    if sandbox.is_file():
        try:
            if chosen in load_kubeconfig(str(sandbox)).contexts:
                return chosen, str(sandbox)
        except KubeconfigError:
            pass
    known = ", ".join(sorted(merged.contexts)) or "none"
    raise KubeconfigError(f"context {chosen!r} not found (known contexts: {known})")


async def _list(context: str, kubeconfig: str | None, namespace: str | None) -> Any:
    from aksmcp_tui.core.fleet import list_fleet_scoped
    from aksmcp_tui.core.kube import KubeContext

    kube = await KubeContext.open(context, kubeconfig)
    try:
        # all namespaces forbidden -> the context's namespace, with a notice (as the dashboard does)
        return await list_fleet_scoped(kube, namespace)
    finally:
        await kube.close()


def run_ls(args: argparse.Namespace) -> int:
    import asyncio

    from aksmcp_tui.core.kube import KubeProblem
    from aksmcp_tui.core.kubeconfig import KubeconfigError

    try:
        context, kubeconfig = _resolve_context(args.context, args.kubeconfig)
        listing = asyncio.run(_list(context, kubeconfig, args.namespace))
    except KubeconfigError as exc:
        return _fail(str(exc))
    except KubeProblem as exc:
        hint = ""
        if exc.kind == "forbidden" and not args.namespace and exc.namespace is None:
            hint = (
                "; try one namespace you may read: aksmcp ls -n NAMESPACE "
                "(or give the context one: kubectl config set-context --current --namespace NAMESPACE)"
            )
        return _fail(f"{exc}{hint}")
    for notice in listing.notices:
        print(f"aksmcp: {notice}", file=sys.stderr)
    workloads = listing.workloads
    if args.output == "json":
        document: dict[str, Any] = {"context": context, "items": [w.to_json() for w in workloads]}
        if listing.notices:  # only then: the plain shape stays what scripts already read
            document["namespace"] = listing.namespace
            document["notices"] = list(listing.notices)
        print(json.dumps(document, indent=2))
        return 0
    if not workloads:
        where = f"namespace {listing.namespace}" if listing.namespace else "any namespace"
        print(f"no MCP servers in {where} of context {context}", file=sys.stderr)
        return 0
    now = datetime.now(UTC)
    rows = [
        [w.namespace, w.name, w.kind, f"{w.ready}/{w.desired}", str(w.health), _age(w.created, now), w.image]
        for w in workloads
    ]
    print(_table(["NAMESPACE", "NAME", "KIND", "READY", "HEALTH", "AGE", "IMAGE"], rows))
    return 0
