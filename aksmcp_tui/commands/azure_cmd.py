"""`aksmcp aks …` and `aksmcp acr …`: AKS clusters, their credentials and ACR, without the az CLI.

Module-level imports stay standard-library only (`aksmcp --help` start-up time); the core (and the
Azure SDKs through it) is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aksmcp_tui.commands.fleet_cmd import _table  # one table layout for every verb (stdlib-only module)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cloud",
        help="Azure cloud: AzureCloud (default), AzureChinaCloud, AzureUSGovernment (or set AZURE_CLOUD)",
    )


def register(subcommands: Any) -> None:
    aks = subcommands.add_parser(
        "aks",
        help="AKS clusters of your Azure subscriptions, and their credentials",
        description="AKS clusters through Azure Resource Manager, signed in with DefaultAzureCredential "
        "(az login, environment, workload identity or managed identity). No az CLI needed.",
    )
    aks_verbs = aks.add_subparsers(dest="aks_command", metavar="VERB", required=True)
    ls = aks_verbs.add_parser("ls", help="list AKS clusters of every subscription (or one)")
    ls.add_argument("--subscription", help="subscription id or name (default: every subscription)")
    ls.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")
    _common(ls)
    ls.set_defaults(handler=run_aks_ls)

    creds = aks_verbs.add_parser(
        "credentials",
        help="merge a cluster's credentials into a kubeconfig as a new context",
        description="Get the cluster's user credentials from the management API and merge them into the "
        "kubeconfig as a new context: a backup is made first, the file stays 0600, nothing else changes, "
        "and an existing different entry with the same name is never replaced without --overwrite. "
        "Entra ID clusters get kubelogin's exec format, with the login mode of your sign-in.",
    )
    creds.add_argument("name", metavar="NAME", help="cluster name")
    creds.add_argument("-g", "--resource-group", required=True, help="resource group of the cluster")
    creds.add_argument("--subscription", help="subscription id or name (default: the one that has the cluster)")
    creds.add_argument("--admin", action="store_true", help="cluster admin credentials (local accounts only)")
    creds.add_argument("--kubeconfig", help="kubeconfig to merge into (default: first of $KUBECONFIG, ~/.kube/config)")
    creds.add_argument("--overwrite", action="store_true", help="replace existing entries with the same names")
    creds.add_argument("--context-name", help="add the context (and its cluster and user) under this name")
    creds.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    _common(creds)
    creds.set_defaults(handler=run_aks_credentials)

    acr = subcommands.add_parser(
        "acr",
        help="Azure Container Registries: list, and check that a cluster can pull",
        description="Azure Container Registries through Azure Resource Manager (no az CLI needed).",
    )
    acr_verbs = acr.add_subparsers(dest="acr_command", metavar="VERB", required=True)
    acr_ls = acr_verbs.add_parser("ls", help="list container registries of every subscription (or one)")
    acr_ls.add_argument("--subscription", help="subscription id or name (default: every subscription)")
    acr_ls.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")
    _common(acr_ls)
    acr_ls.set_defaults(handler=run_acr_ls)

    login = acr_verbs.add_parser(
        "login",
        help="docker login to an ACR with your Azure sign-in (what `az acr login` does)",
        description="Exchange your Entra ID token for an ACR refresh token (/oauth2/exchange) and log the docker "
        "CLI in with it (user 00000000-0000-0000-0000-000000000000, password on stdin). With --expose-token, "
        "print the token as JSON instead, for other tools (podman, buildah, crane).",
    )
    login.add_argument("registry", metavar="REGISTRY", help="registry name or login server (NAME.azurecr.io)")
    login.add_argument("--expose-token", action="store_true", help="print the token as JSON; do not run docker")
    _common(login)
    login.set_defaults(handler=run_acr_login)

    check = acr_verbs.add_parser(
        "check-pull",
        help="can the cluster's kubelet identity pull from the registry? (exit 0 yes, 1 no, 2 unknown)",
        description="Look for a role assignment that lets the cluster's kubelet identity pull from the "
        "registry (AcrPull, or what `az aks update --attach-acr` creates). When there is none, print the "
        "exact az command that fixes it. Exit 0: can pull; 1: cannot; 2: could not check.",
    )
    check.add_argument("cluster", metavar="CLUSTER", help="AKS cluster name")
    check.add_argument("-g", "--resource-group", required=True, help="resource group of the cluster")
    check.add_argument("--registry", required=True, help="registry name or login server (NAME.azurecr.io)")
    check.add_argument("--subscription", help="subscription id or name of the cluster")
    check.add_argument("-o", "--output", choices=("text", "json"), default="text", help="output format")
    _common(check)
    check.set_defaults(handler=run_acr_check_pull)


def _fail(message: str, code: int = 1) -> int:
    print(f"aksmcp: {message}", file=sys.stderr)
    return code


def _run(args: argparse.Namespace, body: Callable[[Any], Awaitable[int]], *, error_code: int = 1) -> int:
    """Open a session for the chosen cloud, run `body`, and turn the known failures into messages."""
    from aksmcp_tui.core.azure import AzureError, AzureSession, AzureSignInRequired, UnknownCloud, resolve_cloud

    try:
        cloud = resolve_cloud(args.cloud)
    except UnknownCloud as error:
        return _fail(str(error), 2)

    async def main() -> int:
        async with AzureSession(cloud) as session:
            return await body(session)

    try:
        return asyncio.run(main())
    except AzureSignInRequired as error:
        print(f"aksmcp: {error}", file=sys.stderr)
        return error_code
    except AzureError as error:
        return _fail(str(error), error_code)


def _problems(problems: Sequence[Any]) -> None:
    for problem in problems:
        print(f"aksmcp: subscription {problem.subscription_id}: {problem.message}", file=sys.stderr)


def run_aks_ls(args: argparse.Namespace) -> int:
    async def body(session: Any) -> int:
        listing = await session.list_clusters(args.subscription)
        if args.output == "json":
            print(json.dumps(listing.to_json(), indent=2))
        else:
            _problems(listing.problems)
            if not listing.subscriptions:
                print("this sign-in sees no subscriptions", file=sys.stderr)
            elif not listing.clusters:
                print("no AKS clusters in the subscriptions that answered", file=sys.stderr)
            else:
                rows = [
                    [
                        c.name,
                        c.resource_group,
                        c.subscription_name or c.subscription_id,
                        c.location,
                        c.kubernetes_version or "-",
                        c.power_state or "-",
                        c.provisioning_state or "-",
                        ("entra" + ("+azure-rbac" if c.azure_rbac else "")) if c.entra_id else "local",
                        "private" if c.private else "public",
                        ", ".join(f"{p.name}:{p.count}" for p in c.node_pools) or "-",
                    ]
                    for c in listing.clusters
                ]
                headers = [
                    "NAME",
                    "RESOURCE GROUP",
                    "SUBSCRIPTION",
                    "LOCATION",
                    "VERSION",
                    "POWER",
                    "STATE",
                    "AUTH",
                    "API",
                    "NODE POOLS",
                ]
                print(_table(headers, rows))
        # some subscriptions answered (or there were none to ask): the listing is good
        return 0 if listing.answered > 0 or not listing.subscriptions else 1

    return _run(args, body)


def run_aks_credentials(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.azure.credentials import get_credentials

    async def body(session: Any) -> int:
        cluster = await session.find_cluster(args.name, args.resource_group, args.subscription)
        result = await get_credentials(
            session,
            cluster,
            admin=args.admin,
            kubeconfig=args.kubeconfig,
            overwrite=args.overwrite,
            context_name=args.context_name,
        )
        if args.output == "json":
            print(json.dumps(result.to_json(), indent=2))
        else:
            if result.unchanged:
                print(f"context {result.context} is already in {result.kubeconfig} (unchanged)")
            else:
                verb = "replaced" if result.replaced else "merged"
                print(f"{verb} context {result.context} into {result.kubeconfig}")
            if result.backup:
                print(f"backup of the previous file: {result.backup}")
            if result.login_mode:
                print(f"Entra ID cluster: kubelogin --login {result.login_mode}")
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
        return 0

    return _run(args, body)


def run_acr_ls(args: argparse.Namespace) -> int:
    async def body(session: Any) -> int:
        listing = await session.list_registries(args.subscription)
        if args.output == "json":
            print(json.dumps(listing.to_json(), indent=2))
        else:
            _problems(listing.problems)
            if not listing.registries:
                print("no container registries in the subscriptions that answered", file=sys.stderr)
            else:
                rows = [
                    [r.name, r.login_server, r.resource_group, r.subscription_id, r.location or "-", r.sku or "-"]
                    for r in listing.registries
                ]
                print(_table(["NAME", "LOGIN SERVER", "RESOURCE GROUP", "SUBSCRIPTION", "LOCATION", "SKU"], rows))
        return 0 if listing.answered > 0 or not listing.asked else 1

    return _run(args, body)


def run_acr_login(args: argparse.Namespace) -> int:
    import shutil
    import subprocess

    from aksmcp_tui.core.azure.acr import acr_docker_credentials, normalize_registry

    async def body(session: Any) -> int:
        host = normalize_registry(args.registry, session.cloud)
        docker = None if args.expose_token else shutil.which("docker")
        if not args.expose_token and docker is None:
            return _fail("the docker CLI is not on PATH; use --expose-token to get the token for another tool")
        username, password = await acr_docker_credentials(host, session=session)
        if args.expose_token:
            print(json.dumps({"loginServer": host, "username": username, "accessToken": password}, indent=2))
            return 0
        assert docker is not None
        # the token goes through stdin, never the command line (visible in ps) or a log
        done = await asyncio.to_thread(
            subprocess.run,
            [docker, "login", host, "--username", username, "--password-stdin"],
            input=password,
            text=True,
            capture_output=True,
        )
        if done.returncode != 0:
            return _fail(f"docker login {host} failed: {(done.stderr or done.stdout).strip()}")
        print(f"logged in to {host} (docker)")
        return 0

    return _run(args, body)


def run_acr_check_pull(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.azure.acr import check_pull

    async def body(session: Any) -> int:
        result = await check_pull(session, args.cluster, args.resource_group, args.registry, args.subscription)
        if args.output == "json":
            print(json.dumps(result.to_json(), indent=2))
        elif result.can_pull:
            print(result.message)
        else:
            print(result.message)
            print("fix (either command):")
            for command in result.fix:
                print(f"  {command}")
        return 0 if result.can_pull else 1

    return _run(args, body, error_code=2)
