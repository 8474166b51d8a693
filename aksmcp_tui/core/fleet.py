"""The MCP fleet of a cluster kept live: list + watch of the workloads the rule in `mcp_rule.py` picks.

Which workloads count as MCP servers, and their health, is `core/mcp_rule.py`.

Liveness: `watch_fleet` lists Deployments, Pods and the MCPServer kinds once (pages of 500) and
then watches each from the list's resourceVersion. A watch that ends is resumed from the last
version seen; an expired version (410 Gone) relists; a failure is reported as a `FleetProblem`
(never raised) and retried with exponential back-off, after which the source relists. Every
(re)list produces a `FleetSnapshot` (the UI treats one as "the problem has cleared"). Pods are
matched to Deployments through their ReplicaSet owner name (`<deployment>-<pod-template-hash>`),
so the cost is one list of pods, not one API call per Deployment.

Narrow access (RBAC), the way k9s copes with it:
- Listing Deployments in all namespaces is forbidden (403) and the kubeconfig context names a
  namespace (`KubeContext.namespace_explicit`): the watch yields one `FleetScopeNarrowed`
  ("no access to all namespaces; showing namespace team-a") and carries on, live, in that
  namespace; every later event is about that namespace. A context that names no namespace keeps
  the plain `FleetProblem` (the user picks one with `:ns` / `aksmcp ls -n`). `list_fleet_scoped`
  does the same for one-shot listings (`aksmcp ls`); `list_fleet` never narrows.
- Pods cannot be listed (403) but Deployments can: health comes from the Deployment's conditions
  and replica counts only. The watch yields ONE `FleetHealthLimited` (not a `FleetProblem` per
  back-off), keeps retrying the pods quietly, and every `FleetSnapshot` says
  `health_from_pods=False` until pods can be read again.

Events: `FleetSnapshot` (whole fleet), `WorkloadChanged`, `WorkloadRemoved`, `FleetProblem`
(something failed, retrying), `FleetScopeNarrowed` (now showing one namespace only) and
`FleetHealthLimited` (health without pods) — the `FleetEvent` union.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aksmcp_tui.core.kube import WATCH_TIMEOUT_SECONDS, KubeContext, KubeProblem, paused_gc
from aksmcp_tui.core.mcp_rule import (
    MCP_CRD_GROUPS,
    MCP_CRD_KIND,
    Health,
    crd_health,
    crd_image,
    crd_kind_label,
    deployment_health,
    deployment_replicas,
    image_of,
    is_mcp_deployment,
    mcp_crd_owner,
    parse_time,
)

LIST_PAGE_SIZE = 500


@dataclass(frozen=True)
class McpWorkload:
    context: str
    namespace: str
    name: str
    kind: str  # "Deployment" or e.g. "MCPServer (kagent.dev)"
    ready: int
    desired: int
    image: str
    created: datetime | None
    health: Health
    health_reason: str
    matched_by: str  # "label" | "port-name" | "crd:<group>"
    forward: str | None = None  # filled by a later issue

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.namespace, self.kind, self.name)

    def to_json(self) -> dict[str, Any]:
        return {
            "context": self.context,
            "namespace": self.namespace,
            "name": self.name,
            "kind": self.kind,
            "ready": self.ready,
            "desired": self.desired,
            "image": self.image,
            "created": self.created.isoformat() if self.created else None,
            "health": str(self.health),
            "healthReason": self.health_reason,
            "matchedBy": self.matched_by,
            "forward": self.forward,
        }


@dataclass(frozen=True)
class FleetSnapshot:
    """The whole fleet, after a (re)list. Replaces whatever the consumer had.
    `health_from_pods` False: pods cannot be read, health comes from Deployment conditions only."""

    workloads: tuple[McpWorkload, ...]
    health_from_pods: bool = True


@dataclass(frozen=True)
class WorkloadChanged:
    workload: McpWorkload


@dataclass(frozen=True)
class WorkloadRemoved:
    key: tuple[str, str, str]


@dataclass(frozen=True)
class FleetProblem:
    """Something failed; the watch retries by itself after `retrying_in` seconds (None: it will not)."""

    problem: KubeProblem
    retrying_in: float | None


@dataclass(frozen=True)
class FleetScopeNarrowed:
    """All namespaces are forbidden: from now on the watch shows `namespace` only (the context's
    namespace). `reason` is one plain sentence for the user; `problem` is the 403 behind it."""

    namespace: str
    reason: str
    problem: KubeProblem | None = None


@dataclass(frozen=True)
class FleetHealthLimited:
    """Pods cannot be read (403): health comes from Deployment conditions only. Sent once; a later
    `FleetSnapshot` with `health_from_pods=True` says the limit is gone."""

    reason: str
    problem: KubeProblem | None = None


FleetEvent = FleetSnapshot | WorkloadChanged | WorkloadRemoved | FleetProblem | FleetScopeNarrowed | FleetHealthLimited


# --- the fleet state ----------------------------------------------------------------------------


def slim_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only what health needs: thousands of pods stay small in memory."""
    metadata = pod.get("metadata") or {}
    status = pod.get("status") or {}
    return {
        "metadata": {
            "name": metadata.get("name"),
            "namespace": metadata.get("namespace"),
            "labels": metadata.get("labels") or {},
            "ownerReferences": metadata.get("ownerReferences") or [],
            "deletionTimestamp": metadata.get("deletionTimestamp"),
        },
        "status": {
            "phase": status.get("phase"),
            "conditions": [c for c in status.get("conditions") or [] if c.get("type") == "Ready"],
            "containerStatuses": [
                {"ready": c.get("ready"), "restartCount": c.get("restartCount"), "state": c.get("state")}
                for c in status.get("containerStatuses") or []
            ],
        },
    }


def pod_deployment_name(pod: Mapping[str, Any]) -> str | None:
    """The Deployment a pod belongs to, from its ReplicaSet owner `<deployment>-<pod-template-hash>`."""
    metadata = pod.get("metadata") or {}
    pod_hash = (metadata.get("labels") or {}).get("pod-template-hash")
    for ref in metadata.get("ownerReferences") or []:
        if ref.get("kind") == "ReplicaSet":
            rs_name = str(ref.get("name") or "")
            if pod_hash and rs_name.endswith("-" + pod_hash):
                return rs_name[: -len(pod_hash) - 1]
            return rs_name.rpartition("-")[0] or None
    return None


_Key = tuple[str, str, str]


class FleetState:
    """Deployments, pods and MCPServer resources of one context, and the workloads they make."""

    def __init__(self, context: str, crd_groups: Iterable[str] = ()) -> None:
        self.context = context
        self.crd_groups = tuple(crd_groups)
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods_by_deployment: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.crs: dict[tuple[str, str, str], dict[str, Any]] = {}  # (group, ns, name)
        self.crd_owned: dict[tuple[str, str, str], tuple[str, str]] = {}  # (group, ns, cr) -> (ns, deployment)
        self.workloads: dict[_Key, McpWorkload] = {}

    # pods

    def _index_pod(self, key: tuple[str, str], pod: dict[str, Any] | None) -> set[tuple[str, str]]:
        """Store or drop a pod; returns the deployments whose pods changed."""
        touched = set()
        old = self.pods.pop(key, None)
        if old is not None:
            dep = pod_deployment_name(old)
            if dep:
                self.pods_by_deployment[(key[0], dep)].discard(key[1])
                touched.add((key[0], dep))
        if pod is not None:
            self.pods[key] = pod
            dep = pod_deployment_name(pod)
            if dep:
                self.pods_by_deployment[(key[0], dep)].add(key[1])
                touched.add((key[0], dep))
        return touched

    def pods_of(self, namespace: str, deployment: str) -> list[dict[str, Any]]:
        names = self.pods_by_deployment.get((namespace, deployment), ())
        return [self.pods[(namespace, n)] for n in sorted(names) if (namespace, n) in self.pods]

    # mutations (return the workload keys to recompute)

    def replace(self, source: str, items: Iterable[dict[str, Any]]) -> None:
        if source == "deployments":
            self.deployments = {}
            self.crd_owned = {}
            for item in items:
                self._put_deployment(item)
        elif source == "pods":
            self.pods = {}
            self.pods_by_deployment = defaultdict(set)
            for item in items:
                slim = slim_pod(item)
                self._index_pod((slim["metadata"]["namespace"], slim["metadata"]["name"]), slim)
        else:
            group = source
            self.crs = {k: v for k, v in self.crs.items() if k[0] != group}
            for item in items:
                metadata = item.get("metadata") or {}
                self.crs[(group, str(metadata.get("namespace") or ""), str(metadata.get("name")))] = item

    def set_crd_groups(self, groups: Iterable[str]) -> None:
        """A CRD appeared or went away: re-decide which Deployments belong to a custom resource."""
        self.crd_groups = tuple(groups)
        self.crs = {k: v for k, v in self.crs.items() if k[0] in self.crd_groups}
        self.crd_owned = {}
        for key, item in self.deployments.items():
            owner = mcp_crd_owner(item, self.crd_groups)
            if owner:
                self.crd_owned[(owner[0], key[0], owner[1])] = key

    def _put_deployment(self, item: dict[str, Any]) -> None:
        metadata = item.get("metadata") or {}
        key = (str(metadata.get("namespace") or ""), str(metadata.get("name")))
        self.deployments[key] = item
        owner = mcp_crd_owner(item, self.crd_groups)
        if owner:
            self.crd_owned[(owner[0], key[0], owner[1])] = key

    def apply(self, source: str, event_type: str, obj: dict[str, Any]) -> set[_Key]:
        metadata = obj.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "")
        name = str(metadata.get("name") or "")
        deleted = event_type == "DELETED"
        if source == "deployments":
            old = self.deployments.pop((namespace, name), None)
            affected: set[_Key] = {(namespace, "Deployment", name)}
            for item in (old, None if deleted else obj):
                if item is None:
                    continue
                owner = mcp_crd_owner(item, self.crd_groups)
                if owner:
                    self.crd_owned.pop((owner[0], namespace, owner[1]), None)
                    affected.add((namespace, crd_kind_label(owner[0]), owner[1]))
            if not deleted:
                self._put_deployment(obj)
            return affected
        if source == "pods":
            touched = self._index_pod((namespace, name), None if deleted else slim_pod(obj))
            return self._keys_for_deployments(touched)
        group = source
        if deleted:
            self.crs.pop((group, namespace, name), None)
        else:
            self.crs[(group, namespace, name)] = obj
        return {(namespace, crd_kind_label(group), name)}

    def _keys_for_deployments(self, deployments: Iterable[tuple[str, str]]) -> set[_Key]:
        keys: set[_Key] = set()
        for namespace, name in deployments:
            keys.add((namespace, "Deployment", name))
            dep = self.deployments.get((namespace, name))
            owner = mcp_crd_owner(dep, self.crd_groups) if dep else None
            if owner:
                keys.add((namespace, crd_kind_label(owner[0]), owner[1]))
        return keys

    # derivation

    def build(self, key: _Key) -> McpWorkload | None:
        namespace, kind, name = key
        if kind == "Deployment":
            dep = self.deployments.get((namespace, name))
            if dep is None or mcp_crd_owner(dep, self.crd_groups):
                return None
            matched = is_mcp_deployment(dep)
            if matched is None:
                return None
            return self.from_deployment(dep, kind, matched)
        group = kind[len(MCP_CRD_KIND) + 2 : -1]
        cr = self.crs.get((group, namespace, name))
        if cr is None:
            return None
        owned = self.crd_owned.get((group, namespace, name))
        dep = self.deployments.get(owned) if owned else None
        if dep is not None:
            workload = self.from_deployment(dep, kind, f"crd:{group}", name=name)
            cr_health, cr_reason = crd_health(cr)
            if workload.health == Health.HEALTHY and cr_health in (Health.FAILING, Health.PROGRESSING):
                # e.g. kmcp reports "Unhealthy" while the pod is Running: readiness is not MCP health.
                return _replace(workload, health=Health.DEGRADED, health_reason=cr_reason)
            return workload
        status = cr.get("status") or {}
        spec = cr.get("spec") or {}
        desired = spec.get("replicas")
        health, reason = crd_health(cr)
        return McpWorkload(
            context=self.context,
            namespace=namespace,
            name=name,
            kind=kind,
            ready=int(status.get("readyReplicas") or status.get("availableReplicas") or 0),
            desired=int(1 if desired is None else desired),
            image=crd_image(cr),
            created=parse_time((cr.get("metadata") or {}).get("creationTimestamp")),
            health=health,
            health_reason=reason,
            matched_by=f"crd:{group}",
        )

    def from_deployment(self, dep: Mapping[str, Any], kind: str, matched: str, name: str | None = None) -> McpWorkload:
        metadata = dep.get("metadata") or {}
        namespace = str(metadata.get("namespace") or "")
        dep_name = str(metadata.get("name"))
        ready, desired = deployment_replicas(dep)
        health, reason = deployment_health(dep, self.pods_of(namespace, dep_name))
        template_spec = ((dep.get("spec") or {}).get("template") or {}).get("spec") or {}
        return McpWorkload(
            context=self.context,
            namespace=namespace,
            name=name or dep_name,
            kind=kind,
            ready=ready,
            desired=desired,
            image=image_of(template_spec),
            created=parse_time(metadata.get("creationTimestamp")),
            health=health,
            health_reason=reason,
            matched_by=matched,
        )

    def all_keys(self) -> set[_Key]:
        keys: set[_Key] = {(ns, "Deployment", name) for ns, name in self.deployments}
        keys |= {(ns, crd_kind_label(group), name) for group, ns, name in self.crs}
        return keys

    def rebuild(self) -> tuple[McpWorkload, ...]:
        """Recompute every workload (after a relist)."""
        self.workloads = {}
        for key in self.all_keys():
            workload = self.build(key)
            if workload is not None:
                self.workloads[key] = workload
        return tuple(sorted(self.workloads.values(), key=lambda w: (w.namespace, w.name, w.kind)))

    def update(self, keys: Iterable[_Key]) -> list[WorkloadChanged | WorkloadRemoved]:
        """Recompute some workloads; returns only real changes."""
        changes: list[WorkloadChanged | WorkloadRemoved] = []
        for key in sorted(keys):
            new = self.build(key)
            old = self.workloads.get(key)
            if new is None:
                if old is not None:
                    del self.workloads[key]
                    changes.append(WorkloadRemoved(key))
            elif new != old:
                self.workloads[key] = new
                changes.append(WorkloadChanged(new))
        return changes


def _replace(workload: McpWorkload, **changes: Any) -> McpWorkload:
    from dataclasses import replace

    return replace(workload, **changes)


# --- sources: list + watch --------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    name: str  # "deployments", "pods" or a CRD group
    path: str
    required: bool


async def discover_mcp_crds(kube: KubeContext) -> dict[str, tuple[str, str]]:
    """group -> ("/apis/<group>/<version>", plural) for the MCPServer CRDs installed in the cluster."""
    groups = await kube.api_groups(refresh=True)
    found: dict[str, tuple[str, str]] = {}
    for group in MCP_CRD_GROUPS:
        version = groups.get(group)
        if not version:
            continue
        try:
            resources = await kube.resources(f"{group}/{version}", refresh=True)
        except KubeProblem as exc:
            if exc.kind in ("not_found", "forbidden"):
                continue
            raise
        info = resources.get(MCP_CRD_KIND)
        if info is not None:
            found[group] = (f"/apis/{group}/{version}", info.plural)
    return found


def _collection_path(prefix: str, plural: str, namespace: str | None) -> str:
    return f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"


async def _sources(kube: KubeContext, namespace: str | None) -> list[_Source]:
    sources = [
        _Source("deployments", _collection_path("/apis/apps/v1", "deployments", namespace), True),
        _Source("pods", _collection_path("/api/v1", "pods", namespace), False),
    ]
    try:
        crds = await discover_mcp_crds(kube)
    except KubeProblem as exc:
        if exc.kind not in ("forbidden", "not_found"):
            raise
        crds = {}
    for group, (prefix, plural) in crds.items():
        sources.append(_Source(group, _collection_path(prefix, plural, namespace), False))
    return sources


async def list_all(kube: KubeContext, path: str) -> tuple[list[dict[str, Any]], str]:
    """Every item of a collection (in pages) and the resourceVersion to watch from."""
    items: list[dict[str, Any]] = []
    resource_version = ""
    token: str | None = None
    while True:
        data = await kube.get(path, limit=LIST_PAGE_SIZE, **({"continue": token} if token else {}))
        metadata = data.get("metadata") or {}
        if not resource_version:
            resource_version = str(metadata.get("resourceVersion") or "")
        items.extend(data.get("items") or [])
        token = metadata.get("continue") or None
        if not token:
            return items, resource_version


def narrowing_namespace(kube: KubeContext, namespace: str | None, problem: KubeProblem) -> str | None:
    """The namespace to fall back to when `problem` is a 403 for all namespaces and the context names
    a namespace of its own (what k9s does); None: no fallback."""
    if namespace is not None or problem.kind != "forbidden" or problem.namespace is not None:
        return None
    if not kube.namespace_explicit or not kube.namespace:
        return None
    return kube.namespace


def scope_narrowed_reason(namespace: str) -> str:
    return f"no access to all namespaces; showing namespace {namespace}"


def health_limited_reason(problem: KubeProblem) -> str:
    where = f" in namespace {problem.namespace}" if problem.namespace else ""
    return f"no access to pods{where} (403 Forbidden); health comes from Deployment conditions only"


async def _list_scope(kube: KubeContext, namespace: str | None) -> tuple[list[McpWorkload], KubeProblem | None]:
    """The fleet of one scope, and the 403 that kept the pods out (if one did)."""
    sources = await _sources(kube, namespace)
    results = await asyncio.gather(*(list_all(kube, s.path) for s in sources), return_exceptions=True)
    state = FleetState(kube.name, [s.name for s in sources if s.name not in ("deployments", "pods")])
    pods_problem: KubeProblem | None = None
    with paused_gc():
        for source, result in zip(sources, results, strict=True):
            if isinstance(result, BaseException):
                if source.required or not isinstance(result, KubeProblem):
                    raise result
                if source.name == "pods" and result.kind == "forbidden":
                    pods_problem = result
                continue
            state.replace(source.name, result[0])
        return list(state.rebuild()), pods_problem


async def list_fleet(kube: KubeContext, namespace: str | None = None) -> list[McpWorkload]:
    """One-shot fleet listing. Raises KubeProblem when Deployments cannot be listed; pods or
    MCPServer resources that cannot be listed only make health less precise. Never narrows the
    scope (see `list_fleet_scoped`)."""
    return (await _list_scope(kube, namespace))[0]


@dataclass(frozen=True)
class FleetListing:
    """What `list_fleet_scoped` found: the workloads, the namespace actually listed (None: all)
    and plain-words notices about what the listing could not see."""

    workloads: list[McpWorkload]
    namespace: str | None
    notices: tuple[str, ...] = ()


async def list_fleet_scoped(kube: KubeContext, namespace: str | None = None) -> FleetListing:
    """`list_fleet` with the RBAC fallbacks of the live watch (for `aksmcp ls`): all namespaces
    forbidden -> the context's namespace, if it names one; pods forbidden -> a notice."""
    notices: list[str] = []
    try:
        workloads, pods_problem = await _list_scope(kube, namespace)
    except KubeProblem as problem:
        fallback = narrowing_namespace(kube, namespace, problem)
        if fallback is None:
            raise
        namespace = fallback
        notices.append(scope_narrowed_reason(fallback))
        workloads, pods_problem = await _list_scope(kube, fallback)
    if pods_problem is not None:
        notices.append(health_limited_reason(pods_problem))
    return FleetListing(workloads, namespace, tuple(notices))


@dataclass(frozen=True)
class _Relisted:
    source: str
    items: list[dict[str, Any]]


@dataclass(frozen=True)
class _Event:
    source: str
    type: str
    obj: dict[str, Any]


@dataclass(frozen=True)
class _Failed:
    source: str
    problem: KubeProblem
    retrying_in: float


@dataclass(frozen=True)
class _SourceAdded:
    source: _Source


@dataclass(frozen=True)
class _SourceGone:
    source: str


_Message = _Relisted | _Event | _Failed | _SourceAdded | _SourceGone


def _backoff(failures: int, initial: float, maximum: float) -> float:
    base = min(maximum, initial * (2 ** max(failures - 1, 0)))
    return round(base * random.uniform(0.9, 1.1), 2)


async def _run_source(
    kube: KubeContext,
    source: _Source,
    queue: asyncio.Queue[_Message],
    *,
    retry_initial: float,
    retry_max: float,
    watch_timeout: int,
) -> None:
    resource_version = ""
    need_list = True
    failures = 0
    last_list = 0.0
    while True:
        try:
            if need_list:
                if time.monotonic() - last_list < retry_initial:
                    # A server that expires every version at once must not make us hot-loop.
                    await asyncio.sleep(retry_initial)
                last_list = time.monotonic()
                items, resource_version = await list_all(kube, source.path)
                await queue.put(_Relisted(source.name, items))
                need_list = False
            started = time.monotonic()
            seen = 0
            stream = kube.watch(source.path, query={"resourceVersion": resource_version}, timeout_seconds=watch_timeout)
            # aclosing: a cancelled watch closes its connection now, not whenever the GC finds it
            async with contextlib.aclosing(stream):
                async for event in stream:
                    obj = event.get("object") or {}
                    version = (obj.get("metadata") or {}).get("resourceVersion")
                    if version:
                        resource_version = str(version)
                    seen += 1
                    if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        await queue.put(_Event(source.name, str(event["type"]), obj))
            failures = 0
            if seen == 0 and time.monotonic() - started < 1.0:
                await asyncio.sleep(retry_initial)  # the stream closed at once: do not spin
        except KubeProblem as problem:
            if problem.kind == "gone":
                need_list = True
                continue
            if problem.kind == "not_found" and not source.required and source.name != "pods":
                await queue.put(_SourceGone(source.name))  # its CRD was deleted
                return
            failures += 1
            delay = _backoff(failures, retry_initial, retry_max)
            await queue.put(_Failed(source.name, problem, delay))
            await asyncio.sleep(delay)
            need_list = True  # resume with a full picture; the relist also tells the UI it recovered


async def _rediscover_crds(
    kube: KubeContext, namespace: str | None, queue: asyncio.Queue[_Message], active: set[str], interval: float
) -> None:
    """MCPServer CRDs installed while we watch join the fleet (API discovery, cheap and always allowed)."""
    while True:
        await asyncio.sleep(interval)
        try:
            found = await discover_mcp_crds(kube)
        except KubeProblem:
            continue  # the Deployment watch reports cluster problems; nothing to add here
        for group, (prefix, plural) in found.items():
            if group not in active:
                active.add(group)
                await queue.put(_SourceAdded(_Source(group, _collection_path(prefix, plural, namespace), False)))


@dataclass(frozen=True)
class _Narrow:
    """Inside `_watch_scope`: all namespaces are forbidden; the caller restarts in `namespace`."""

    namespace: str
    problem: KubeProblem


async def watch_fleet(
    kube: KubeContext,
    namespace: str | None = None,
    *,
    retry_initial: float = 1.0,
    retry_max: float = 30.0,
    watch_timeout: int = WATCH_TIMEOUT_SECONDS,
    rediscover_interval: float = 60.0,
) -> AsyncIterator[FleetEvent]:
    """Live fleet events (see the module docstring). Never raises for cluster problems; stop it
    with `aclose()` or by cancelling the consuming task. MCPServer CRDs installed later are found
    by API discovery every `rediscover_interval` seconds. With `namespace` None and all namespaces
    forbidden, it narrows to the context's namespace (a `FleetScopeNarrowed` first)."""
    scope = namespace
    while True:
        inner = _watch_scope(
            kube,
            scope,
            retry_initial=retry_initial,
            retry_max=retry_max,
            watch_timeout=watch_timeout,
            rediscover_interval=rediscover_interval,
        )
        narrow: _Narrow | None = None
        async with contextlib.aclosing(inner):
            async for event in inner:
                if isinstance(event, _Narrow):
                    narrow = event
                    break
                yield event
        if narrow is None:
            return
        scope = narrow.namespace  # the old scope's watches are closed: start over in the namespace
        yield FleetScopeNarrowed(narrow.namespace, scope_narrowed_reason(narrow.namespace), narrow.problem)


async def _watch_scope(
    kube: KubeContext,
    namespace: str | None,
    *,
    retry_initial: float,
    retry_max: float,
    watch_timeout: int,
    rediscover_interval: float,
) -> AsyncGenerator[FleetEvent | _Narrow, None]:
    """The live watch of one scope (all namespaces or one); yields `_Narrow` and stops when all
    namespaces turn out to be forbidden and the context names a namespace to fall back to."""
    failures = 0
    while True:
        try:
            sources = await _sources(kube, namespace)
            break
        except KubeProblem as problem:
            failures += 1
            delay = _backoff(failures, retry_initial, retry_max)
            yield FleetProblem(problem, delay)
            await asyncio.sleep(delay)
    crd_groups = {s.name for s in sources if s.name not in ("deployments", "pods")}
    state = FleetState(kube.name, crd_groups)
    queue: asyncio.Queue[_Message] = asyncio.Queue()

    def start(source: _Source) -> asyncio.Task[None]:
        return asyncio.create_task(
            _run_source(
                kube, source, queue, retry_initial=retry_initial, retry_max=retry_max, watch_timeout=watch_timeout
            ),
            name=f"fleet-{kube.name}-{source.name}",
        )

    tasks = [start(s) for s in sources]
    tasks.append(
        asyncio.create_task(
            _rediscover_crds(kube, namespace, queue, crd_groups, rediscover_interval), name=f"fleet-{kube.name}-crds"
        )
    )
    waiting = {s.name for s in sources}  # the first snapshot waits for every source's first answer
    listed: set[str] = set()
    snapshot_sent = False
    # Pods forbidden (403): health from Deployment conditions; one notice, then quiet retries.
    pods_denied: KubeProblem | None = None
    pods_notice_sent = False
    # Until the Deployments answer, a 403 of another source at cluster scope waits: the Deployments
    # may narrow the scope, and then that 403 is moot (it is reported with the first snapshot otherwise).
    narrowable = namespace is None and kube.namespace_explicit
    deferred: list[FleetProblem] = []

    def snapshot() -> FleetSnapshot:
        with paused_gc():
            return FleetSnapshot(state.rebuild(), health_from_pods=pods_denied is None)

    try:
        while True:
            message = await queue.get()
            if isinstance(message, _Failed):
                waiting.discard(message.source)
                failure = message.problem
                if message.source == "deployments":
                    fallback = narrowing_namespace(kube, namespace, failure)
                    if fallback is not None:
                        yield _Narrow(fallback, failure)
                        return
                if message.source == "pods" and failure.kind == "forbidden":
                    first_denial = pods_denied is None
                    pods_denied = failure
                    if first_denial and "pods" in listed:
                        state.replace("pods", [])  # what we knew of the pods is no longer kept up to date
                        listed.discard("pods")
                        if snapshot_sent:
                            yield snapshot()
                    if snapshot_sent and not pods_notice_sent:
                        pods_notice_sent = True
                        yield FleetHealthLimited(health_limited_reason(failure), failure)
                elif narrowable and not snapshot_sent and failure.kind == "forbidden":
                    deferred.append(FleetProblem(failure, message.retrying_in))
                else:
                    yield FleetProblem(failure, message.retrying_in)
            elif isinstance(message, _Relisted):
                waiting.discard(message.source)
                listed.add(message.source)
                if message.source == "pods":
                    pods_denied = None
                    pods_notice_sent = False
                with paused_gc():
                    state.replace(message.source, message.items)
                if snapshot_sent:
                    yield snapshot()
            elif isinstance(message, _Event):
                keys = state.apply(message.source, message.type, message.obj)
                if snapshot_sent:
                    for change in state.update(keys):
                        yield change
            elif isinstance(message, _SourceAdded):
                state.set_crd_groups(crd_groups)
                tasks.append(start(message.source))  # its first list brings a new snapshot
            else:
                crd_groups.discard(message.source)
                waiting.discard(message.source)
                state.set_crd_groups(crd_groups)
                if snapshot_sent:
                    yield snapshot()
            if not snapshot_sent and not waiting and "deployments" in listed:
                snapshot_sent = True
                for held in deferred:
                    yield held
                deferred.clear()
                if pods_denied is not None and not pods_notice_sent:
                    pods_notice_sent = True
                    yield FleetHealthLimited(health_limited_reason(pods_denied), pods_denied)
                yield snapshot()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
