"""meta.k8s.io/v1 Table responses, what `kubectl get` asks for (Accept: ...;as=Table), so it
prints the usual columns (READY, STATUS, RESTARTS, ...) instead of just NAME and AGE."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aksmcp_tui.sandbox.apiserver.resources import ResourceType

Column = tuple[str, str, int]  # (name, type, priority)
Row = Callable[[dict[str, Any]], list[Any]]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def human_age(stamp: str | None) -> str:
    if not stamp:
        return "<unknown>"
    try:
        created = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<unknown>"
    seconds = int((datetime.now(UTC) - created).total_seconds())
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    hours = minutes // 60
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if days < 8:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    return f"{days}d" if days < 365 * 2 else f"{days // 365}y"


def _age(obj: dict[str, Any]) -> str:
    return human_age((obj.get("metadata") or {}).get("creationTimestamp"))


def _pod_status(pod: dict[str, Any]) -> str:
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif state.get("terminated", {}).get("reason"):
            reason = state["terminated"]["reason"]
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _pod_row(pod: dict[str, Any]) -> list[Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        _pod_status(pod),
        restarts,
        _age(pod),
        (pod.get("status") or {}).get("podIP") or "<none>",
        (pod.get("spec") or {}).get("nodeName") or "<none>",
    ]


def _deployment_row(deploy: dict[str, Any]) -> list[Any]:
    status = deploy.get("status") or {}
    wanted = (deploy.get("spec") or {}).get("replicas", 1)
    containers = ((deploy.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    return [
        deploy["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{wanted}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(deploy),
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
    ]


def _replicaset_row(rs: dict[str, Any]) -> list[Any]:
    status = rs.get("status") or {}
    return [
        rs["metadata"]["name"],
        (rs.get("spec") or {}).get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(rs),
    ]


def _service_row(service: dict[str, Any]) -> list[Any]:
    spec = service.get("spec") or {}
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    return [
        service["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        "<none>",
        ports or "<none>",
        _age(service),
    ]


def _namespace_row(namespace: dict[str, Any]) -> list[Any]:
    return [namespace["metadata"]["name"], (namespace.get("status") or {}).get("phase", "Active"), _age(namespace)]


def _node_row(node: dict[str, Any]) -> list[Any]:
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (node.get("status") or {}).get("conditions") or []
    )
    labels = (node.get("metadata") or {}).get("labels") or {}
    roles = ",".join(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")) or "<none>"
    version = ((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")
    return [node["metadata"]["name"], "Ready" if ready else "NotReady", roles, _age(node), version]


def _event_row(event: dict[str, Any]) -> list[Any]:
    involved = event.get("involvedObject") or {}
    return [
        human_age(event.get("lastTimestamp") or (event.get("metadata") or {}).get("creationTimestamp")),
        event.get("type", ""),
        event.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        event.get("message", ""),
    ]


def _endpoints_row(endpoints: dict[str, Any]) -> list[Any]:
    addresses = [
        f"{a.get('ip')}:{p.get('port')}"
        for subset in endpoints.get("subsets") or []
        for a in subset.get("addresses") or []
        for p in subset.get("ports") or [{}]
    ]
    shown = ",".join(addresses[:3]) + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")
    return [endpoints["metadata"]["name"], shown or "<none>", _age(endpoints)]


def _data_row(obj: dict[str, Any]) -> list[Any]:
    count = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    row: list[Any] = [obj["metadata"]["name"]]
    if obj.get("kind") == "Secret":
        row.append(obj.get("type", "Opaque"))
    return [*row, count, _age(obj)]


def _default_row(obj: dict[str, Any]) -> list[Any]:
    return [obj["metadata"]["name"], _age(obj)]


LAYOUTS: dict[str, tuple[list[Column], Row]] = {
    "Pod": (
        [("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "integer", 0),
         ("Age", "string", 0), ("IP", "string", 1), ("Node", "string", 1)],
        _pod_row,
    ),
    "Deployment": (
        [("Name", "string", 0), ("Ready", "string", 0), ("Up-to-date", "integer", 0), ("Available", "integer", 0),
         ("Age", "string", 0), ("Containers", "string", 1), ("Images", "string", 1)],
        _deployment_row,
    ),
    "ReplicaSet": (
        [("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0), ("Ready", "integer", 0),
         ("Age", "string", 0)],
        _replicaset_row,
    ),
    "Service": (
        [("Name", "string", 0), ("Type", "string", 0), ("Cluster-IP", "string", 0), ("External-IP", "string", 0),
         ("Port(s)", "string", 0), ("Age", "string", 0)],
        _service_row,
    ),
    "Namespace": ([("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)], _namespace_row),
    "Node": (
        [("Name", "string", 0), ("Status", "string", 0), ("Roles", "string", 0), ("Age", "string", 0),
         ("Version", "string", 0)],
        _node_row,
    ),
    "Event": (
        [("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0), ("Object", "string", 0),
         ("Message", "string", 0)],
        _event_row,
    ),
    "Endpoints": ([("Name", "string", 0), ("Endpoints", "string", 0), ("Age", "string", 0)], _endpoints_row),
    "ConfigMap": ([("Name", "string", 0), ("Data", "integer", 0), ("Age", "string", 0)], _data_row),
    "Secret": ([("Name", "string", 0), ("Type", "string", 0), ("Data", "integer", 0), ("Age", "string", 0)], _data_row),
}  # fmt: skip
DEFAULT_LAYOUT: tuple[list[Column], Row] = ([("Name", "string", 0), ("Age", "string", 0)], _default_row)


def _partial(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}


def _json_path(obj: Any, path: str) -> Any:
    """The simple JSONPath forms CRD printer columns use: `.spec.replicas`, `.status.phase`."""
    current = obj
    for part in path.strip().lstrip(".").replace("[", ".").replace("]", "").split("."):
        if not part:
            continue
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def _crd_layout(rt: ResourceType) -> tuple[list[Column], Row]:
    printer = rt.printer_columns
    columns: list[Column] = [("Name", "string", 0)]
    columns += [
        (str(c.get("name", "")), "string" if c.get("type") == "date" else str(c.get("type", "string")),
         int(c.get("priority", 0)))
        for c in printer
    ]  # fmt: skip
    if not any(c.get("jsonPath") == ".metadata.creationTimestamp" for c in printer):
        columns.append(("Age", "string", 0))

    def row(obj: dict[str, Any]) -> list[Any]:
        cells: list[Any] = [obj["metadata"]["name"]]
        for column in printer:
            value = _json_path(obj, str(column.get("jsonPath", "")))
            if column.get("type") == "date":
                value = human_age(value if isinstance(value, str) else None)
            cells.append(value if value is not None else "")
        if not any(c.get("jsonPath") == ".metadata.creationTimestamp" for c in printer):
            cells.append(_age(obj))
        return cells

    return columns, row


def table(
    rt: ResourceType, objects: Iterable[dict[str, Any]], resource_version: str, include_object: str = "Metadata"
) -> dict[str, Any]:
    columns, row = LAYOUTS.get(rt.kind, DEFAULT_LAYOUT) if not rt.crd else _crd_layout(rt)
    rows = []
    for obj in objects:
        entry: dict[str, Any] = {"cells": row(obj)}
        if include_object == "Object":
            entry["object"] = obj
        elif include_object != "None":
            entry["object"] = _partial(obj)
        rows.append(entry)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" else "",
                "description": "",
                "priority": priority,
            }
            for name, kind, priority in columns
        ],
        "rows": rows,
    }
