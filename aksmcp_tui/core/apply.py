"""Server-side apply of Kubernetes objects through the kube layer (field manager "aksmcp").

Server-side apply lets the API server merge our fields with everyone else's and remember which
fields are ours, so re-applying after someone scaled the Deployment by hand does not fight them
over fields we never set. Every object yields one event, so the UI and CLI show progress.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aksmcp_tui.core.kube import KubeContext, KubeProblem

FIELD_MANAGER = "aksmcp"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"


@dataclass(frozen=True)
class Applied:
    kind: str
    namespace: str | None
    name: str
    created: bool  # False: it existed and was updated (or left as it was)


@dataclass(frozen=True)
class ApplyFailed:
    kind: str
    namespace: str | None
    name: str
    problem: KubeProblem


ApplyEvent = Applied | ApplyFailed


def describe(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    where = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
    return f"{obj.get('kind')} {where}{metadata.get('name')}"


async def apply_object(
    kube: KubeContext, obj: Mapping[str, Any], *, field_manager: str = FIELD_MANAGER, force: bool = True
) -> tuple[dict[str, Any], bool]:
    """Server-side apply one object; returns (the object as stored, whether it was created)."""
    api_version = str(obj.get("apiVersion") or "")
    kind = str(obj.get("kind") or "")
    metadata = obj.get("metadata") or {}
    name = str(metadata.get("name") or "")
    if not api_version or not kind or not name:
        raise KubeProblem("invalid", "cannot apply an object without apiVersion, kind and metadata.name")
    info = await kube.resource_for(api_version, kind)
    namespace = (metadata.get("namespace") or kube.namespace) if info.namespaced else None
    body = dict(obj)
    if namespace and not metadata.get("namespace"):
        body["metadata"] = {**metadata, "namespace": namespace}
    existed = True
    try:
        await kube.get(info.path(namespace, name))
    except KubeProblem as exc:
        if exc.kind != "not_found":
            raise
        existed = False
    query = {"fieldManager": field_manager, "force": "true" if force else None}
    stored = await kube.request(
        "PATCH", info.path(namespace, name), query=query, body=body, content_type=APPLY_CONTENT_TYPE
    )
    return stored, not existed


async def apply_documents(
    kube: KubeContext,
    docs: Iterable[Mapping[str, Any]],
    *,
    field_manager: str = FIELD_MANAGER,
    force: bool = True,
) -> AsyncIterator[ApplyEvent]:
    """Apply objects in the given order (render them with manifests.render_kustomization, whose order
    puts Namespaces first). Stops after the first failure, which it yields as ApplyFailed."""
    for obj in docs:
        metadata = obj.get("metadata") or {}
        kind = str(obj.get("kind") or "?")
        name = str(metadata.get("name") or "?")
        try:
            stored, created = await apply_object(kube, obj, field_manager=field_manager, force=force)
        except KubeProblem as problem:
            yield ApplyFailed(kind, metadata.get("namespace"), name, problem)
            return
        yield Applied(kind, (stored.get("metadata") or {}).get("namespace"), name, created)
