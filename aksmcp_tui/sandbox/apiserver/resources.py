"""The resource types the sandbox serves: built-in kinds plus installed CRDs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SUB_VERBS = ["get", "patch", "update"]


@dataclass
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    status: bool = False  # has a /status subresource
    scale: bool = False  # has a /scale subresource
    extra_subresources: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # name -> (kind, verbs)
    crd: bool = False
    # create-only review kinds answered at once and never stored (SelfSubjectAccessReview, ...)
    review: bool = False
    printer_columns: list[dict[str, Any]] = field(default_factory=list)  # CRD additionalPrinterColumns
    schema: dict[str, Any] | None = None  # CRD openAPIV3Schema of this version
    scale_paths: tuple[str, str, str | None] = (".spec.replicas", ".status.replicas", None)

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def store_key(self) -> str:
        """Key in the Store: the plural for built-ins, "<plural>.<group>" for CRDs."""
        return f"{self.plural}.{self.group}" if self.crd else self.plural

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """`Deployment.apps` as used in Status messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def discovery_entries(self) -> list[dict[str, Any]]:
        main: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": ["create"] if self.review else ALL_VERBS,
        }
        if self.short_names:
            main["shortNames"] = self.short_names
        if self.categories:
            main["categories"] = self.categories
        entries = [main]
        if self.status:
            entries.append(self._sub("status", self.kind, SUB_VERBS))
        if self.scale:
            entries.append(
                {**self._sub("scale", "Scale", SUB_VERBS), "group": "autoscaling", "version": "v1"},
            )
        for name, (kind, verbs) in self.extra_subresources.items():
            entries.append(self._sub(name, kind, verbs))
        return entries

    def _sub(self, name: str, kind: str, verbs: list[str]) -> dict[str, Any]:
        # No shortNames on subresources: kubectl treats duplicates as ambiguous.
        return {
            "name": f"{self.plural}/{name}",
            "singularName": "",
            "namespaced": self.namespaced,
            "kind": kind,
            "verbs": verbs,
        }


def builtin_types() -> list[ResourceType]:
    return [
        ResourceType("", "v1", "namespaces", "Namespace", False, ["ns"], status=True,
                     extra_subresources={"finalize": ("Namespace", ["update"])}),
        ResourceType("", "v1", "nodes", "Node", False, ["no"], status=True),
        ResourceType("", "v1", "pods", "Pod", True, ["po"], ["all"], status=True,
                     extra_subresources={"log": ("Pod", ["get"]),
                                         "portforward": ("PodPortForwardOptions", ["create", "get"])}),
        ResourceType("", "v1", "services", "Service", True, ["svc"], ["all"], status=True),
        ResourceType("", "v1", "endpoints", "Endpoints", True, ["ep"]),
        ResourceType("", "v1", "configmaps", "ConfigMap", True, ["cm"]),
        ResourceType("", "v1", "secrets", "Secret", True),
        ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, ["sa"]),
        ResourceType("", "v1", "events", "Event", True, ["ev"]),
        ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ["pvc"], status=True),
        ResourceType("", "v1", "resourcequotas", "ResourceQuota", True, ["quota"], status=True),
        ResourceType("apps", "v1", "deployments", "Deployment", True, ["deploy"], ["all"], status=True, scale=True),
        ResourceType("apps", "v1", "replicasets", "ReplicaSet", True, ["rs"], ["all"], status=True, scale=True),
        ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
        ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress", True, ["ing"], status=True),
        ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ["netpol"]),
        ResourceType("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
        ResourceType("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ["pdb"], status=True),
        ResourceType("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ["hpa"],
                     ["all"], status=True),
        ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
        ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
        ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
        ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
        ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
                     ["crd", "crds"], status=True),
        ResourceType("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False,
                     review=True),
        ResourceType("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False,
                     review=True),
        ResourceType("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, review=True),
    ]  # fmt: skip


def types_from_crd(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    result: list[ResourceType] = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        scale = subresources.get("scale")
        scale_paths: tuple[str, str, str | None] = (".spec.replicas", ".status.replicas", None)
        if isinstance(scale, dict):
            scale_paths = (
                scale.get("specReplicasPath", ".spec.replicas"),
                scale.get("statusReplicasPath", ".status.replicas"),
                scale.get("labelSelectorPath"),
            )
        result.append(
            ResourceType(
                group=str(spec.get("group", "")),
                version=str(version.get("name", "")),
                plural=str(names.get("plural", "")),
                kind=str(names.get("kind", "")),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=list(names.get("shortNames") or []),
                categories=list(names.get("categories") or []),
                status="status" in subresources,
                scale=scale is not None,
                crd=True,
                scale_paths=scale_paths,
                printer_columns=[c for c in version.get("additionalPrinterColumns") or [] if isinstance(c, dict)],
                schema=((version.get("schema") or {}).get("openAPIV3Schema") or None),
            )
        )
    return result


class Registry:
    """Lookup of served resource types by group/version/plural and by kind."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._crd_types: dict[str, list[ResourceType]] = {}  # CRD name -> types
        for resource_type in builtin_types():
            self._add(resource_type)

    def _add(self, resource_type: ResourceType) -> None:
        self._types[(resource_type.group, resource_type.version, resource_type.plural)] = resource_type

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_store_key(self, store_key: str) -> ResourceType | None:
        for resource_type in self._types.values():
            if resource_type.store_key == store_key:
                return resource_type
        return None

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for resource_type in self._types.values():
            if resource_type.group == group and resource_type.version == version and resource_type.kind == kind:
                return resource_type
        return None

    def group_versions(self) -> dict[str, list[str]]:
        """group -> versions, in a stable order (core group "" included)."""
        result: dict[str, list[str]] = {}
        for resource_type in self._types.values():
            versions = result.setdefault(resource_type.group, [])
            if resource_type.version not in versions:
                versions.append(resource_type.version)
        return result

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self._types.values() if t.group == group and t.version == version]

    def has_group_version(self, group: str, version: str) -> bool:
        return any(t.group == group and t.version == version for t in self._types.values())

    def install_crd(self, crd: dict[str, Any]) -> list[ResourceType]:
        name = str((crd.get("metadata") or {}).get("name", ""))
        self.remove_crd(name)
        types = types_from_crd(crd)
        for resource_type in types:
            if (resource_type.group, resource_type.version, resource_type.plural) in self._types and not (
                self._types[(resource_type.group, resource_type.version, resource_type.plural)].crd
            ):
                continue  # a CRD may not shadow a built-in
            self._add(resource_type)
        self._crd_types[name] = types
        return types

    def remove_crd(self, name: str) -> list[ResourceType]:
        types = self._crd_types.pop(name, [])
        for resource_type in types:
            key = (resource_type.group, resource_type.version, resource_type.plural)
            if self._types.get(key) is resource_type:
                del self._types[key]
        return types
