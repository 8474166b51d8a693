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

    deploy: argparse.ArgumentParser = subcommands.add_parser(
        "deploy",
        help="build, push, apply, roll out and smoke-test a project",
        description="Deploy an aksmcp project: build and push its image (docker), render manifests/ with this "
        "deployment's parameters, server-side apply, watch the rollout (diagnosis and rollback on failure), "
        "smoke-test it through a forward, and print the IDE connect command.",
    )
    deploy.add_argument("path", nargs="?", type=Path, default=Path("."), help="the project (default: .)")
    deploy.add_argument("--context", help="kubeconfig context (default: the current one)")
    deploy.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    deploy.add_argument("-n", "--namespace", help="namespace (default: aksmcp.yaml's, else the context's)")
    deploy.add_argument("--registry", help="registry to push to, e.g. myacr.azurecr.io or 127.0.0.1:5000")
    deploy.add_argument("--tag", help="image tag (default: the git commit, +-dirty, or a content digest)")
    deploy.add_argument("--image", help="deploy this existing image; skips build and push")
    deploy.add_argument("--replicas", type=int, help="replica count (default: the manifests')")
    deploy.add_argument("--no-rollback", action="store_true", help="on failure, leave the new revision in place")
    deploy.add_argument("--yes", "-y", action="store_true", help="do not ask before changing the cluster")
    deploy.add_argument("--dry-run", action="store_true", help="print the rendered objects and the server-side diff")
    deploy.add_argument(
        "--registry-login",
        metavar="USER",
        help="push as USER; the password comes from $AKSMCP_REGISTRY_PASSWORD (or a prompt), never from argv",
    )
    deploy.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the rollout (300)")
    deploy.add_argument("--no-smoke-test", action="store_true", help="skip the MCP round trip after the rollout")
    deploy.set_defaults(handler=_deploy)


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


def _deploy(args: argparse.Namespace) -> int:
    import asyncio
    import os

    from aksmcp_tui.core.deploy.flow import DeployFlow, DeployOptions

    login = None
    if args.registry_login:
        password = os.environ.get("AKSMCP_REGISTRY_PASSWORD")
        if password is None and sys.stdin.isatty():
            import getpass

            password = getpass.getpass(f"registry password for {args.registry_login}: ")
        if not password:
            print("aksmcp deploy: --registry-login needs $AKSMCP_REGISTRY_PASSWORD (or a terminal)", file=sys.stderr)
            return 2
        login = (args.registry_login, password)
    if args.image and (args.tag or args.registry):
        print("aksmcp deploy: --image deploys an existing image; --tag and --registry go with a build", file=sys.stderr)
        return 2
    options = DeployOptions(
        path=args.path,
        context=args.context,
        kubeconfig=args.kubeconfig,
        namespace=args.namespace,
        registry=args.registry,
        tag=args.tag,
        image=args.image,
        replicas=args.replicas,
        rollback=not args.no_rollback,
        dry_run=args.dry_run,
        registry_login=login,
        timeout=args.timeout,
        smoke_test=not args.no_smoke_test,
    )
    if not args.yes and not args.dry_run and sys.stdin.isatty():
        options.confirm = _ask
    flow = DeployFlow(options)
    try:
        ok = asyncio.run(_print_events(flow))
    except KeyboardInterrupt:
        print("\naksmcp deploy: cancelled", file=sys.stderr)
        for line in flow.leftovers():
            print(f"  {line}", file=sys.stderr)
        return 130
    return 0 if ok else 1


async def _ask(question: str) -> bool:
    import asyncio

    answer = await asyncio.to_thread(input, f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")


async def _print_events(flow: Any) -> bool:
    import yaml

    from aksmcp_tui.core.deploy import events as ev

    printed: set[str] = set()
    ok = False
    async for event in flow.run():
        if isinstance(event, ev.StepStarted):
            print(f"==> {event.step}: {event.detail}", flush=True)
        elif isinstance(event, ev.StepProgress):
            # Layer progress repeats the same status many times: print when the words change.
            if event.step + event.detail not in printed:
                printed.add(event.step + event.detail)
                print(f"    {event.detail}", flush=True)
        elif isinstance(event, ev.StepDone):
            print(f"  ok {event.step}: {event.detail}", flush=True)
        elif isinstance(event, ev.StepSkipped):
            print(f"  -- {event.step} skipped: {event.detail}", flush=True)
        elif isinstance(event, ev.StepFailed):
            print(f"FAILED {event.step}: {event.problem}", file=sys.stderr, flush=True)
            if event.fix:
                print(f"  fix: {event.fix}", file=sys.stderr, flush=True)
        elif isinstance(event, ev.PodUpdate):
            print(f"    pod {event.pod}: {event.phase} ({event.containers})", flush=True)
        elif isinstance(event, ev.ClusterEvent):
            mark = "warning" if event.warning else "event"
            print(f"    {mark} {event.involved}: {event.reason}: {event.message}", flush=True)
        elif isinstance(event, ev.Diagnosis):
            print(f"diagnosis: {event.summary}", file=sys.stderr)
            for line in event.details:
                print(f"  {line}", file=sys.stderr)
            if event.fix:
                print(f"  fix: {event.fix}", file=sys.stderr, flush=True)
        elif isinstance(event, ev.RolledBack):
            print(f"rollback: {event.detail}", file=sys.stderr, flush=True)
        elif isinstance(event, ev.Rendered):
            print(yaml.safe_dump_all(event.objects, sort_keys=False), end="")
            print("--- server-side diff ---")
            for line in event.diff:
                print(line)
        elif isinstance(event, ev.Finished):
            ok = event.ok
            stream = sys.stdout if event.ok else sys.stderr
            print(("done: " if event.ok else "deploy failed: ") + event.summary, file=stream)
            if event.connect:
                print(f"connect your IDE: {event.connect}")
            if not event.ok:
                for line in event.leftovers:
                    print(f"  {line}", file=sys.stderr)
    return ok
