"""Namespace controller: the built-in namespaces exist, each namespace has a default
ServiceAccount, and deleting a namespace deletes everything in it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aksmcp_tui.sandbox.apiserver.defaults import apply_defaults
from aksmcp_tui.sandbox.controllers.base import Controller, Key, own_key
from aksmcp_tui.sandbox.store import AlreadyExistsError, NotFoundError, Store, WatchEvent

BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class NamespaceController(Controller):
    name = "namespace-controller"
    resync_interval = 0.5

    def __init__(self, store: Store) -> None:
        super().__init__(store)

    def bootstrap(self) -> None:
        for name in BUILTIN_NAMESPACES:
            if self.store.peek("namespaces", None, name) is None:
                namespace: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                apply_defaults("Namespace", namespace)
                self.store.create_now("namespaces", namespace)
        if self.store.peek("services", "default", "kubernetes") is None:
            self.store.create_now(
                "services",
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {
                        "name": "kubernetes",
                        "namespace": "default",
                        "labels": {"component": "apiserver", "provider": "kubernetes"},
                    },
                    "spec": {
                        "type": "ClusterIP",
                        "clusterIP": "10.96.0.1",
                        "clusterIPs": ["10.96.0.1"],
                        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                        "sessionAffinity": "None",
                    },
                    "status": {"loadBalancer": {}},
                },
            )

    def watches(self) -> dict[str, Any]:
        return {"namespaces": self._namespace_keys}

    def _namespace_keys(self, event: WatchEvent) -> Iterable[Key]:
        if event.type == "DELETED":
            return []
        return own_key(event)

    def initial_keys(self) -> Iterable[Key]:
        entries, _ = self.store.list_entries("namespaces")
        return [("", entry.name) for entry in entries]

    def resync_keys(self) -> Iterable[Key]:
        entries, _ = self.store.list_entries("namespaces")
        return [("", e.name) for e in entries if e.obj["metadata"].get("deletionTimestamp")]

    def reconcile(self, key: Key) -> None:
        _, name = key
        namespace = self.store.peek("namespaces", None, name)
        if namespace is None:
            return
        if not namespace["metadata"].get("deletionTimestamp"):
            if self.store.peek("serviceaccounts", name, "default") is None:
                try:
                    self.store.create_now(
                        "serviceaccounts",
                        {
                            "apiVersion": "v1",
                            "kind": "ServiceAccount",
                            "metadata": {"name": "default", "namespace": name},
                        },
                    )
                except AlreadyExistsError:
                    pass
            return
        remaining = 0
        for resource in self.store.resources():
            if resource in ("namespaces", "nodes"):
                continue
            entries, _ = self.store.list_entries(resource, name)
            for entry in entries:
                remaining += 1
                if entry.obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.store.delete_now(resource, name, entry.name)
                except NotFoundError:
                    pass
        if remaining == 0 or all(
            self.store.count(resource, name) == 0
            for resource in self.store.resources()
            if resource not in ("namespaces", "nodes")
        ):
            self.store.remove_now("namespaces", None, name)
