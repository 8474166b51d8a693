"""Make sure the reference MCP server runs in a cluster (used by `aksmcp --sandbox`).

Steps: render manifests/base (core/manifests.py, no kustomize binary), apply its Namespace,
create the Secret the base expects but does not contain (random API and request-state keys, created
only when absent so a running server keeps its key), server-side apply the rest, and optionally wait for the
Deployment to be ready. Each step is reported as a `Step` event; a failure is the last event
(status "failed"), never an exception.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aksmcp_tui.core.apply import Applied, apply_documents
from aksmcp_tui.core.kube import KubeContext, KubeProblem
from aksmcp_tui.core.manifests import ManifestError, default_manifests_dir, render_kustomization
from aksmcp_tui.core.mcp_rule import Health, deployment_health

API_KEY_SECRET = "aksmcp-server-api-key"
API_KEY_FIELD = "api-key"
# Seals multi-round-trip request state; the same on every replica (see manifests/README.md).
STATE_KEY_FIELD = "state-key"
SECRET_FIELDS = (API_KEY_FIELD, STATE_KEY_FIELD)
SERVER_DEPLOYMENT = "aksmcp-server"


@dataclass(frozen=True)
class Step:
    name: str
    status: str  # "running" | "done" | "skipped" | "failed"
    detail: str = ""


BootstrapEvent = Step


def _secret_value() -> str:
    return base64.b64encode(secrets.token_urlsafe(32).encode()).decode()


async def ensure_api_key_secret(kube: KubeContext, namespace: str, *, name: str = API_KEY_SECRET) -> bool:
    """Create the server's Secret (API key + request-state key) if it does not exist, or add a key
    it lacks (a Secret from an older release has no state key); True when anything was written.
    Existing keys are never replaced, so a running server keeps its key."""
    path = f"/api/v1/namespaces/{namespace}/secrets"
    try:
        existing = await kube.get(f"{path}/{name}")
    except KubeProblem as exc:
        if exc.kind != "not_found":
            raise
    else:
        missing = [f for f in SECRET_FIELDS if f not in (existing.get("data") or {})]
        if not missing:
            return False
        patch = {"data": {field: _secret_value() for field in missing}}
        await kube.request("PATCH", f"{path}/{name}", body=patch, content_type="application/merge-patch+json")
        return True
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "aksmcp-server", "app.kubernetes.io/part-of": "aksmcp"},
        },
        "type": "Opaque",
        "data": {field: _secret_value() for field in SECRET_FIELDS},
    }
    try:
        await kube.request("POST", path, body=body)
    except KubeProblem as exc:
        if exc.kind == "conflict":  # created meanwhile by someone else: theirs is as good as ours
            return False
        raise
    return True


async def wait_until_ready(kube: KubeContext, namespace: str, name: str, within: float) -> tuple[Health, str]:
    """Watch one Deployment until it is healthy or `within` seconds pass; returns the last health."""
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    deadline = time.monotonic() + within
    health, reason = Health.UNKNOWN, "not found yet"
    while time.monotonic() < deadline:
        current = await kube.get(f"{path}/{name}")
        health, reason = deployment_health(current)
        if health == Health.HEALTHY:
            return health, reason
        version = str(current["metadata"].get("resourceVersion") or "")
        remaining = max(1, int(deadline - time.monotonic()))
        try:
            stream = kube.watch(path, query={"resourceVersion": version}, timeout_seconds=remaining)
            async with asyncio.timeout(remaining), contextlib.aclosing(stream):
                async for event in stream:
                    obj = event.get("object") or {}
                    if (obj.get("metadata") or {}).get("name") != name:
                        continue
                    health, reason = deployment_health(obj)
                    if health == Health.HEALTHY:
                        return health, reason
        except TimeoutError:
            break
        except KubeProblem as exc:
            if exc.kind not in ("gone", "unreachable"):
                raise
    return health, reason


async def ensure_reference_server(
    kube: KubeContext,
    *,
    manifests_dir: Path | None = None,
    wait_ready: float | None = None,
) -> AsyncIterator[BootstrapEvent]:
    """Deploy (or re-apply) manifests/base to `kube`; see the module docstring."""
    base = (manifests_dir or default_manifests_dir()) / "base"
    yield Step("render manifests", "running", str(base))
    try:
        docs = await asyncio.to_thread(render_kustomization, base)
    except ManifestError as exc:
        yield Step("render manifests", "failed", str(exc))
        return
    yield Step("render manifests", "done", f"{len(docs)} objects")

    namespaces = [d for d in docs if d.get("kind") == "Namespace"]
    others = [d for d in docs if d.get("kind") != "Namespace"]
    deployment = next(
        (d for d in docs if d.get("kind") == "Deployment" and d["metadata"].get("name") == SERVER_DEPLOYMENT), None
    )
    namespace = str((deployment or {}).get("metadata", {}).get("namespace") or kube.namespace)

    async for event in apply_documents(kube, namespaces):
        if isinstance(event, Applied):
            yield Step(f"apply Namespace {event.name}", "done", "created" if event.created else "unchanged")
        else:
            yield Step(f"apply Namespace {event.name}", "failed", event.problem.message)
            return

    try:
        created = await ensure_api_key_secret(kube, namespace)
    except KubeProblem as exc:
        yield Step(f"Secret {namespace}/{API_KEY_SECRET}", "failed", exc.message)
        return
    yield Step(
        f"Secret {namespace}/{API_KEY_SECRET}",
        "done" if created else "skipped",
        "random API and request-state keys written" if created else "exists",
    )

    async for event in apply_documents(kube, others):
        label = f"apply {event.kind} {event.namespace + '/' if event.namespace else ''}{event.name}"
        if isinstance(event, Applied):
            yield Step(label, "done", "created" if event.created else "configured")
        else:
            yield Step(label, "failed", event.problem.message)
            return

    if wait_ready and deployment is not None:
        step = f"rollout {namespace}/{SERVER_DEPLOYMENT}"
        yield Step(step, "running", "waiting for ready pods")
        try:
            health, reason = await wait_until_ready(kube, namespace, SERVER_DEPLOYMENT, wait_ready)
        except KubeProblem as exc:
            yield Step(step, "failed", exc.message)
            return
        yield Step(step, "done" if health == Health.HEALTHY else "failed", reason)
