"""`aksmcp auth|tls|monitor|scale|ci`: production components for a project's overlay.

Each generator prints what it changed (or, with --dry-run, the unified diff it would apply) and then
what the user must do next; running it twice changes nothing. `aksmcp auth rotate` is the one verb
that talks to the cluster. Imports only the standard library at module level (start-up time)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

EXIT_BAD_INPUT = 2


def _project_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--project", type=Path, default=Path("."), metavar="DIR", help="the project (default: .)")
    common.add_argument("--dry-run", action="store_true", help="print the unified diff, change nothing")
    return common


def _cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("-n", "--namespace", help="namespace (default: the project's, else the context's)")


def register(subcommands: Any) -> None:
    common = _project_options()

    auth = subcommands.add_parser("auth", help="API-key or Entra ID auth for a project; rotate the API key")
    auth_actions = auth.add_subparsers(dest="auth_action", metavar="ACTION", required=True)
    enable = auth_actions.add_parser(
        "enable",
        parents=[common],
        help="API key (with rotation) or Entra ID tokens",
        description="Add auth-apikey or auth-entra to the project's overlay (one mode at a time).",
    )
    mode = enable.add_mutually_exclusive_group(required=True)
    mode.add_argument("--api-key", action="store_true", help="a random key in a Secret, rotated with `auth rotate`")
    mode.add_argument("--entra", action="store_true", help="Microsoft Entra ID access tokens")
    enable.add_argument("--tenant", help="Entra tenant ID or domain (with --entra)")
    enable.add_argument("--client-id", help="the API's app registration (application) ID (with --entra)")
    enable.add_argument("--audience", help="token audience (default: api://CLIENT_ID and CLIENT_ID)")
    _cluster_options(enable)
    enable.set_defaults(handler=run_auth_enable, build=_build_auth)
    rotate = auth_actions.add_parser(
        "rotate",
        help="new API key, zero failed calls (old and new accepted until the pods roll)",
        description="Write a new API key, keep the old one accepted, roll the pods and wait. "
        "--finish retires the old key once clients use the new one.",
    )
    rotate.add_argument("target", nargs="?", help="deploy/NAME (default: the project's deployment)")
    rotate.add_argument("--project", type=Path, default=Path("."), metavar="DIR", help="project for the defaults")
    rotate.add_argument("--finish", action="store_true", help="retire the previous key (second step)")
    rotate.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the roll (default 600)")
    _cluster_options(rotate)
    rotate.set_defaults(handler=run_auth_rotate)

    tls = subcommands.add_parser("tls", help="HTTPS ingress with a cert-manager certificate")
    tls_actions = tls.add_subparsers(dest="tls_action", metavar="ACTION", required=True)
    tls_enable = tls_actions.add_parser(
        "enable",
        parents=[common],
        help="Ingress + Let's Encrypt ClusterIssuer, streaming-safe annotations",
        description="Add ingress-tls to the project's overlay for HOST.",
    )
    tls_enable.add_argument("--host", required=True, help="public DNS name, e.g. mcp.contoso.com")
    tls_enable.add_argument("--issuer", required=True, choices=["letsencrypt-staging", "letsencrypt-prod"])
    tls_enable.add_argument("--email", help="ACME account e-mail (expiry warnings)")
    tls_enable.add_argument(
        "--ingress-class",
        choices=["webapprouting", "nginx"],
        default="webapprouting",
        help="webapprouting = AKS application routing add-on (default), nginx = ingress-nginx",
    )
    tls_enable.set_defaults(handler=_run_generator, build=_build_tls)

    monitor = subcommands.add_parser("monitor", help="ServiceMonitor, alerts and a Grafana dashboard")
    monitor_actions = monitor.add_subparsers(dest="monitor_action", metavar="ACTION", required=True)
    setup = monitor_actions.add_parser(
        "setup", parents=[common], help="add the monitoring component", description="Add monitoring to the overlay."
    )
    setup.add_argument(
        "--release", default="kube-prometheus-stack", help="`release` label Prometheus selects (%(default)s)"
    )
    setup.set_defaults(handler=_run_generator, build=_build_monitor)

    scale = subcommands.add_parser("scale", help="autoscaling: HPA on CPU or KEDA on request rate")
    scale_actions = scale.add_subparsers(dest="scale_action", metavar="ACTION", required=True)
    configure = scale_actions.add_parser(
        "configure",
        parents=[common],
        help="HPA (--cpu) or KEDA ScaledObject (--rps-per-pod)",
        description="Add hpa or keda to the overlay (one autoscaler). Default: --cpu 70.",
    )
    configure.add_argument("--min", type=int, required=True, dest="minimum", help="fewest replicas")
    configure.add_argument("--max", type=int, required=True, dest="maximum", help="most replicas")
    metric = configure.add_mutually_exclusive_group()
    metric.add_argument("--cpu", type=int, metavar="P", help="target CPU utilisation in percent of the request")
    metric.add_argument("--rps-per-pod", type=float, metavar="N", help="target MCP requests per second per pod (KEDA)")
    configure.add_argument("--prometheus-url", help="Prometheus KEDA queries (default: prometheus-operated.monitoring)")
    configure.set_defaults(handler=_run_generator, build=_build_scale)

    ci = subcommands.add_parser("ci", help="CI workflow: build, push to ACR, deploy, test")
    ci_actions = ci.add_subparsers(dest="ci_action", metavar="ACTION", required=True)
    generate = ci_actions.add_parser("generate", help="write a CI workflow")
    systems = generate.add_subparsers(dest="ci_system", metavar="SYSTEM", required=True)
    github = systems.add_parser(
        "github",
        parents=[common],
        help="GitHub Actions with OIDC login to Azure",
        description="Write .github/workflows/aksmcp-deploy.yml and print the az commands for its federated credential.",
    )
    github.add_argument("--registry", help="ACR login server, e.g. myregistry.azurecr.io (default: from aksmcp.yaml)")
    github.add_argument("--repo", help="GitHub OWNER/REPO for the federated credential (default: git remote origin)")
    github.set_defaults(handler=_run_generator, build=_build_ci)


def _fail(command: str, message: str, code: int = EXIT_BAD_INPUT) -> int:
    print(f"{command}: {message}", file=sys.stderr)
    return code


def _report(result: Any, dry_run: bool) -> int:
    changes = result.changes
    if dry_run:
        diff = changes.diff()
        print(diff if diff else "no changes: the project already has this configuration", end="" if diff else "\n")
    else:
        applied = changes.apply()
        if not applied:
            print("no changes: the project already has this configuration")
        for change in applied:
            print(f"{change.verb} {(changes.root / change.path)}")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.notes:
        print()
        for note in result.notes:
            print(note)
    return 0


def generator_result(args: argparse.Namespace) -> Any:
    """The GeneratorResult of a parsed generator command line (nothing written yet). Raises
    ComponentError on bad input. The dashboard calls this too, so both run the same code."""
    from aksmcp_tui.core.components import load_project

    return args.build(args, load_project(args.project))


_ACTION_KEYS = ("command", "auth_action", "tls_action", "monitor_action", "scale_action", "ci_action", "ci_system")


def _command_name(args: argparse.Namespace) -> str:
    return "aksmcp " + " ".join(str(getattr(args, key)) for key in _ACTION_KEYS if getattr(args, key, None))


def _run_generator(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.components import ComponentError

    try:
        return _report(generator_result(args), args.dry_run)
    except ComponentError as exc:
        return _fail(_command_name(args), str(exc))
    except OSError as exc:
        return _fail(_command_name(args), f"cannot write the project: {exc}", 1)


def _build_auth(args: argparse.Namespace, project: Any) -> Any:
    from aksmcp_tui.core import components

    if args.entra:
        missing = [flag for flag, value in (("--tenant", args.tenant), ("--client-id", args.client_id)) if not value]
        if missing:
            raise components.ComponentError(f"--entra needs {' and '.join(missing)}")
        return components.enable_entra(project, args.tenant, args.client_id, args.audience)
    if args.tenant or args.client_id or args.audience:
        raise components.ComponentError("--tenant, --client-id and --audience go with --entra")
    return components.enable_api_key(project)


def run_auth_enable(args: argparse.Namespace) -> int:
    code = _run_generator(args)
    if code == 0 and args.api_key and not args.dry_run and (args.context or args.kubeconfig):
        return _ensure_key_secret(args)
    return code


def _ensure_key_secret(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.bootstrap import ensure_api_key_secret
    from aksmcp_tui.core.components import load_project
    from aksmcp_tui.core.kube import KubeContext, KubeProblem

    project = load_project(args.project)
    namespace = args.namespace or project.namespace

    # The Secret `aksmcp deploy` gives this deployment (it creates it the same way, once).
    secret = f"{project.name}-api-key"

    async def run() -> bool:
        async with await KubeContext.open(args.context, args.kubeconfig) as kube:
            return await ensure_api_key_secret(kube, namespace, name=secret)

    try:
        created = asyncio.run(run())
    except KubeProblem as exc:
        return _fail("aksmcp auth enable", f"the overlay is updated, but the key Secret is not: {exc.message}", 1)
    state = "created with a random key" if created else "exists (its key is kept)"
    print(f"Secret {namespace}/{secret}: {state}")
    return 0


def _rotation_target(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(deployment, namespace) from the arguments, else from the project (None: use the context's)."""
    name, namespace = None, args.namespace
    if args.target:
        kind, _, rest = args.target.partition("/")
        if kind not in ("deploy", "deployment", "deployments") or not rest:
            raise ValueError(f"target {args.target!r} must be deploy/NAME")
        name = rest
    try:
        from aksmcp_tui.core.components import ComponentError, load_project

        project = load_project(args.project)
    except ComponentError:
        project = None
    if project is not None:
        name = name or project.name
        namespace = namespace or project.namespace
    return name, namespace


def run_auth_rotate(args: argparse.Namespace) -> int:
    from aksmcp_tui.core.components import rotate_api_key
    from aksmcp_tui.core.kube import KubeContext, KubeProblem

    try:
        name, namespace = _rotation_target(args)
    except ValueError as exc:
        return _fail("aksmcp auth rotate", str(exc))
    if name is None:
        return _fail("aksmcp auth rotate", "which deployment? pass deploy/NAME (or run it in the project's directory)")
    if args.timeout <= 0:
        return _fail("aksmcp auth rotate", "--timeout must be positive")

    async def run() -> int:
        async with await KubeContext.open(args.context, args.kubeconfig) as kube:
            failed = False
            async for step in rotate_api_key(
                kube, namespace or kube.namespace, name, finish=args.finish, within=args.timeout
            ):
                mark = {"done": "✓", "failed": "✗", "running": "…", "skipped": "-"}.get(step.status, "?")
                print(f"{mark} {step.name}: {step.detail}", flush=True)
                failed = failed or step.status == "failed"
            return 1 if failed else 0

    try:
        return asyncio.run(run())
    except KubeProblem as exc:
        return _fail("aksmcp auth rotate", exc.message, 1)


def _build_tls(args: argparse.Namespace, project: Any) -> Any:
    from aksmcp_tui.core.components import enable_tls

    return enable_tls(project, args.host, args.issuer, args.email, args.ingress_class)


def _build_monitor(args: argparse.Namespace, project: Any) -> Any:
    from aksmcp_tui.core.components import setup_monitoring

    return setup_monitoring(project, args.release)


def _build_scale(args: argparse.Namespace, project: Any) -> Any:
    from aksmcp_tui.core.components import configure_scale

    return configure_scale(project, args.minimum, args.maximum, args.cpu, args.rps_per_pod, args.prometheus_url)


def _build_ci(args: argparse.Namespace, project: Any) -> Any:
    from aksmcp_tui.core.components import generate_github

    return generate_github(project, args.registry, args.repo)
