"""Everything the details view shows about one MCP workload: pods, conditions, Events, Services.

A custom resource row (`MCPServer (<group>)`) shows the Deployment it owns (found through
ownerReferences, else the Deployment of the same name) plus the resource's own conditions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aksmcp_tui.core.components.annotations import DeployedComponent, deployed_components
from aksmcp_tui.core.fleet import FleetState, McpWorkload, discover_mcp_crds, slim_pod
from aksmcp_tui.core.kube import KubeContext, KubeProblem
from aksmcp_tui.core.mcp_rule import MCP_CRD_KIND, crd_kind_label, parse_time, pod_ready, pod_waiting_reason


@dataclass(frozen=True)
class PodSummary:
    name: str
    phase: str
    ready: bool
    ready_containers: str  # "1/1"
    restarts: int
    created: datetime | None  # age = now - created
    node: str
    reason: str  # waiting reason (CrashLoopBackOff...), "Terminating", or ""


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str


@dataclass(frozen=True)
class EventSummary:
    last_seen: datetime | None
    type: str  # "Normal" | "Warning"
    reason: str
    object: str  # "Pod/aksmcp-server-abc12"
    message: str
    count: int


@dataclass(frozen=True)
class ServiceSummary:
    name: str
    type: str
    ports: str  # "http 80->8080/TCP, ..."


@dataclass(frozen=True)
class WorkloadDetails:
    workload: McpWorkload
    pods: tuple[PodSummary, ...]
    conditions: tuple[Condition, ...]
    events: tuple[EventSummary, ...]  # newest first
    services: tuple[ServiceSummary, ...]
    image: str
    selector: dict[str, str]
    # Production components (auth, TLS, monitoring, autoscaling) read from the Deployment's annotations.
    components: tuple[DeployedComponent, ...] = ()


MAX_EVENTS = 50


def summarize_pod(pod: Mapping[str, Any]) -> PodSummary:
    metadata = pod.get("metadata") or {}
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    containers = (pod.get("spec") or {}).get("containers") or statuses
    ready_count = sum(1 for s in statuses if s.get("ready"))
    reason = "Terminating" if metadata.get("deletionTimestamp") else (pod_waiting_reason(pod) or "")
    if not reason:
        for s in statuses:
            terminated = (s.get("state") or {}).get("terminated") or {}
            if terminated.get("reason"):
                reason = str(terminated["reason"])
                break
    return PodSummary(
        name=str(metadata.get("name") or ""),
        phase=str(status.get("phase") or "Unknown"),
        ready=pod_ready(pod),
        ready_containers=f"{ready_count}/{len(containers)}",
        restarts=sum(int(s.get("restartCount") or 0) for s in statuses),
        created=parse_time(metadata.get("creationTimestamp")),
        node=str((pod.get("spec") or {}).get("nodeName") or ""),
        reason=reason,
    )


def _conditions(obj: Mapping[str, Any], prefix: str = "") -> list[Condition]:
    return [
        Condition(
            type=prefix + str(c.get("type") or ""),
            status=str(c.get("status") or ""),
            reason=str(c.get("reason") or ""),
            message=str(c.get("message") or ""),
        )
        for c in (obj.get("status") or {}).get("conditions") or []
    ]


def selector_string(selector: Mapping[str, Any]) -> str:
    """A LabelSelector (matchLabels + matchExpressions) as a labelSelector query string."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def service_selects(service: Mapping[str, Any], pod_labels: Mapping[str, str]) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    return bool(selector) and all(pod_labels.get(k) == v for k, v in selector.items())


def summarize_service(service: Mapping[str, Any]) -> ServiceSummary:
    spec = service.get("spec") or {}
    ports = []
    for port in spec.get("ports") or []:
        name = f"{port['name']} " if port.get("name") else ""
        target = port.get("targetPort", port.get("port"))
        ports.append(f"{name}{port.get('port')}->{target}/{port.get('protocol') or 'TCP'}")
    return ServiceSummary(
        name=str((service.get("metadata") or {}).get("name") or ""),
        type=str(spec.get("type") or "ClusterIP"),
        ports=", ".join(ports),
    )


def _event_time(event: Mapping[str, Any]) -> datetime | None:
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        found = parse_time(event.get(key))
        if found:
            return found
    return parse_time((event.get("metadata") or {}).get("creationTimestamp"))


def summarize_events(events: list[Mapping[str, Any]], involved: set[tuple[str, str]]) -> tuple[EventSummary, ...]:
    """Events about the (kind, name) objects in `involved`, newest first."""
    picked = []
    for event in events:
        obj = event.get("involvedObject") or event.get("regarding") or {}
        if (str(obj.get("kind")), str(obj.get("name"))) not in involved:
            continue
        picked.append(
            EventSummary(
                last_seen=_event_time(event),
                type=str(event.get("type") or "Normal"),
                reason=str(event.get("reason") or ""),
                object=f"{obj.get('kind')}/{obj.get('name')}",
                message=str(event.get("message") or event.get("note") or ""),
                count=int(event.get("count") or 1),
            )
        )
    oldest = datetime.min.replace(tzinfo=UTC)
    picked.sort(key=lambda e: e.last_seen or oldest, reverse=True)
    return tuple(picked[:MAX_EVENTS])


async def _maybe(coro: Any, default: Any) -> Any:
    """Optional parts (events, services) must not hide the rest when they are forbidden."""
    try:
        return await coro
    except KubeProblem as exc:
        if exc.kind in ("forbidden", "not_found"):
            return default
        raise


async def load_details(kube: KubeContext, namespace: str, kind: str, name: str) -> WorkloadDetails:
    """Details of one fleet row. Raises KubeProblem (not_found when the workload is gone)."""
    conditions: list[Condition] = []
    cr: dict[str, Any] | None = None
    group = ""
    if kind == "Deployment":
        deployment = await kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    elif kind.startswith(MCP_CRD_KIND + " ("):
        group = kind[len(MCP_CRD_KIND) + 2 : -1]
        crds = await discover_mcp_crds(kube)
        if group not in crds:
            raise KubeProblem("not_found", f"the {kind} custom resource definition is not installed")
        prefix, plural = crds[group]
        cr = await kube.get(f"{prefix}/namespaces/{namespace}/{plural}/{name}")
        conditions.extend(_conditions(cr, prefix="MCPServer "))
        deployment = await _owned_deployment(kube, namespace, cr)
    else:
        raise KubeProblem("not_found", f"unknown workload kind {kind!r}")

    spec = (deployment or {}).get("spec") or {}
    selector = dict((spec.get("selector") or {}).get("matchLabels") or {})
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    pods_data, services_data, events_data, rs_data = await asyncio.gather(
        kube.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector_string(spec.get("selector") or {}))
        if deployment
        else _empty(),
        _maybe(kube.get(f"/api/v1/namespaces/{namespace}/services"), {}),
        _maybe(kube.get(f"/api/v1/namespaces/{namespace}/events"), {}),
        _maybe(
            kube.get(
                f"/apis/apps/v1/namespaces/{namespace}/replicasets",
                labelSelector=selector_string(spec.get("selector") or {}),
            ),
            {},
        )
        if deployment
        else _empty(),
    )
    pods = [p for p in pods_data.get("items") or [] if _owned_by_deployment(p, deployment)]
    state = FleetState(kube.name, [group] if group else [])
    if deployment:
        state.replace("deployments", [deployment])
        state.replace("pods", pods)
        conditions = _conditions(deployment) + conditions
    if cr is not None:
        state.replace(group, [cr])
    workload = state.build((namespace, crd_kind_label(group) if cr is not None else "Deployment", name))
    if workload is None:
        if deployment is None:
            raise KubeProblem("not_found", f"{kind} {namespace}/{name} is not an MCP workload")
        # Details of a Deployment that no longer matches the rule: still show it, matched_by "".
        workload = state.from_deployment(deployment, "Deployment", "")
    dep_uid = ((deployment or {}).get("metadata") or {}).get("uid")
    involved = {("Pod", str(p["metadata"]["name"])) for p in pods}
    if deployment:
        involved.add(("Deployment", str(deployment["metadata"]["name"])))
    for rs in (rs_data or {}).get("items") or []:
        if any(ref.get("uid") == dep_uid for ref in rs["metadata"].get("ownerReferences") or []):
            involved.add(("ReplicaSet", str(rs["metadata"]["name"])))
    if cr is not None:
        involved.add((MCP_CRD_KIND, name))
    services = [
        summarize_service(s)
        for s in (services_data or {}).get("items") or []
        if template_labels and service_selects(s, template_labels)
    ]
    pod_summaries = sorted((summarize_pod(p) for p in pods), key=lambda p: p.name)
    return WorkloadDetails(
        workload=workload,
        pods=tuple(pod_summaries),
        conditions=tuple(conditions),
        events=summarize_events((events_data or {}).get("items") or [], involved),
        services=tuple(sorted(services, key=lambda s: s.name)),
        image=workload.image,
        selector=selector,
        components=tuple(deployed_components(deployment or {})),
    )


async def _empty() -> dict[str, Any]:
    return {}


def _owned_by_deployment(pod: Mapping[str, Any], deployment: Mapping[str, Any] | None) -> bool:
    if not deployment:
        return False
    from aksmcp_tui.core.fleet import pod_deployment_name

    owner = pod_deployment_name(slim_pod(pod))
    # Pods without a ReplicaSet owner but matching the selector are shown too (bare pods are rare).
    return owner is None or owner == deployment["metadata"]["name"]


async def _owned_deployment(kube: KubeContext, namespace: str, cr: Mapping[str, Any]) -> dict[str, Any] | None:
    uid = (cr.get("metadata") or {}).get("uid")
    name = (cr.get("metadata") or {}).get("name")
    data = await kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments")
    fallback = None
    for dep in data.get("items") or []:
        refs = dep["metadata"].get("ownerReferences") or []
        if uid and any(ref.get("uid") == uid for ref in refs):
            return dict(dep)
        if dep["metadata"].get("name") == name:
            fallback = dict(dep)
    return fallback
