"""Endpoints controller: a Service's Endpoints (and its EndpointSlice, which kubectl 1.32's
`describe service` reads) list its selected pods, ready or not."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aksmcp_tui.sandbox.controllers.base import Controller, Key, own_key
from aksmcp_tui.sandbox.controllers.replicaset import pod_ready
from aksmcp_tui.sandbox.store import AlreadyExistsError, NotFoundError, Store, WatchEvent


def _selector_text(selector: dict[str, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))


def _target_port(service_port: dict[str, Any], pods: list[dict[str, Any]]) -> int | None:
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for pod in pods:
        for container in (pod.get("spec") or {}).get("containers") or []:
            for port in container.get("ports") or []:
                if port.get("name") == target:
                    return int(port.get("containerPort", 0))
    return None


class EndpointsController(Controller):
    name = "endpoints-controller"

    def __init__(self, store: Store) -> None:
        super().__init__(store)

    def watches(self) -> dict[str, Any]:
        return {"services": own_key, "pods": self._pod_keys}

    def _pod_keys(self, event: WatchEvent) -> Iterable[Key]:
        namespace = event.entry.namespace
        entries, _ = self.store.list_entries("services", namespace)
        labels = (event.entry.obj.get("metadata") or {}).get("labels") or {}
        old_labels = ((event.old.obj.get("metadata") or {}).get("labels") or {}) if event.old else {}
        keys = []
        for entry in entries:
            selector = (entry.obj.get("spec") or {}).get("selector") or {}
            if not selector:
                continue
            if all(labels.get(k) == v for k, v in selector.items()) or all(
                old_labels.get(k) == v for k, v in selector.items()
            ):
                keys.append((namespace, entry.name))
        return keys

    def initial_keys(self) -> Iterable[Key]:
        entries, _ = self.store.list_entries("services")
        keys = [(entry.namespace, entry.name) for entry in entries]
        endpoints, _ = self.store.list_entries("endpoints")
        keys += [(entry.namespace, entry.name) for entry in endpoints]
        return keys

    def reconcile(self, key: Key) -> None:
        namespace, name = key
        self._reconcile_endpoints(namespace, name)
        self._reconcile_slice(namespace, name)

    def _selected_pods(self, namespace: str, service: dict[str, Any]) -> list[dict[str, Any]]:
        selector = (service.get("spec") or {}).get("selector") or {}
        return [
            e.obj
            for e in self.store.list_entries("pods", namespace, label_selector=_selector_text(selector))[0]
            if not e.obj["metadata"].get("deletionTimestamp")
            and (e.obj.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and (e.obj.get("status") or {}).get("podIP")
        ]

    def _reconcile_slice(self, namespace: str, name: str) -> None:
        slice_name = f"{name}-sandbox"
        service = self.store.peek("services", namespace, name)
        if service is None or not (service.get("spec") or {}).get("selector"):
            if self.store.peek("endpointslices", namespace, slice_name) is not None:
                self.store.remove_now("endpointslices", namespace, slice_name)
            return
        pods = sorted(self._selected_pods(namespace, service), key=lambda p: p["metadata"]["name"])
        endpoints = [
            {
                "addresses": [pod["status"]["podIP"]],
                "conditions": {"ready": pod_ready(pod), "serving": pod_ready(pod), "terminating": False},
                "nodeName": (pod.get("spec") or {}).get("nodeName", ""),
                "targetRef": {
                    "kind": "Pod",
                    "namespace": namespace,
                    "name": pod["metadata"]["name"],
                    "uid": pod["metadata"].get("uid", ""),
                },
            }
            for pod in pods
        ]
        ports = []
        for service_port in (service.get("spec") or {}).get("ports") or []:
            number = _target_port(service_port, pods)
            if number is None:
                continue
            port: dict[str, Any] = {"port": number, "protocol": service_port.get("protocol", "TCP")}
            port["name"] = service_port.get("name", "")
            ports.append(port)
        labels = {
            "kubernetes.io/service-name": name,
            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        }
        body: dict[str, Any] = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": slice_name,
                "namespace": namespace,
                "labels": labels,
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "name": name,
                        "uid": service["metadata"].get("uid", ""),
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports,
        }
        if self.store.peek("endpointslices", namespace, slice_name) is None:
            try:
                self.store.create_now("endpointslices", body)
            except AlreadyExistsError:
                pass
            return

        def write(obj: dict[str, Any]) -> bool | None:
            if obj.get("endpoints") == endpoints and obj.get("ports") == ports:
                return False
            obj["endpoints"], obj["ports"] = endpoints, ports
            return None

        self.store.mutate_now("endpointslices", namespace, slice_name, write)

    def _reconcile_endpoints(self, namespace: str, name: str) -> None:
        service = self.store.peek("services", namespace, name)
        if service is None or service["metadata"].get("deletionTimestamp"):
            existing = self.store.peek("endpoints", namespace, name)
            if (
                existing is not None
                and (existing["metadata"].get("labels") or {}).get("endpoints.kubernetes.io/managed-by")
                == "endpoint-controller"
            ):
                try:
                    self.store.delete_now("endpoints", namespace, name)
                except NotFoundError:
                    pass
            return
        selector = (service.get("spec") or {}).get("selector") or {}
        if not selector:
            return  # manually managed endpoints
        pods = [
            e.obj
            for e in self.store.list_entries("pods", namespace, label_selector=_selector_text(selector))[0]
            if not e.obj["metadata"].get("deletionTimestamp")
        ]
        ready: list[dict[str, Any]] = []
        not_ready: list[dict[str, Any]] = []
        for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
            status = pod.get("status") or {}
            if status.get("phase") in ("Succeeded", "Failed"):
                continue
            ip = status.get("podIP")
            if not ip:
                continue
            address = {
                "ip": ip,
                "nodeName": (pod.get("spec") or {}).get("nodeName", ""),
                "targetRef": {
                    "kind": "Pod",
                    "namespace": namespace,
                    "name": pod["metadata"]["name"],
                    "uid": pod["metadata"].get("uid", ""),
                },
            }
            (ready if pod_ready(pod) else not_ready).append(address)
        ports = []
        for service_port in (service.get("spec") or {}).get("ports") or []:
            number = _target_port(service_port, pods)
            if number is None:
                continue
            port: dict[str, Any] = {"port": number, "protocol": service_port.get("protocol", "TCP")}
            if service_port.get("name"):
                port["name"] = service_port["name"]
            ports.append(port)
        subsets: list[dict[str, Any]] = []
        if ready or not_ready:
            subset: dict[str, Any] = {"ports": ports}
            if ready:
                subset["addresses"] = ready
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            subsets.append(subset)
        labels = dict(service["metadata"].get("labels") or {})
        labels["endpoints.kubernetes.io/managed-by"] = "endpoint-controller"
        existing = self.store.peek("endpoints", namespace, name)
        if existing is None:
            obj: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "subsets": subsets,
            }
            try:
                self.store.create_now("endpoints", obj)
            except AlreadyExistsError:
                pass
            return

        def write(obj: dict[str, Any]) -> bool | None:
            if obj.get("subsets", []) == subsets and obj["metadata"].get("labels") == labels:
                return False
            obj["subsets"] = subsets
            obj["metadata"]["labels"] = labels
            return None

        self.store.mutate_now("endpoints", namespace, name, write)
