"""Render a kustomize base without the kustomize binary.

Only the subset our own `manifests/` use is supported, and anything else is refused with a
clear message rather than rendered wrongly:
- `resources:` (YAML files, multi-document allowed, or directories holding a kustomization),
- `labels:` (`pairs`, `includeSelectors`, `includeTemplates`),
- `namespace:`.
The output matches `kubectl kustomize` (a test compares them): same objects, same fields, and
kustomize's default ("legacy") order, which puts Namespaces, ServiceAccounts, ConfigMaps,
Services... before workloads so a top-to-bottom apply works.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "labels", "namespace"}

# kustomize api/resid/gvk.go: orderFirst / orderLast
_ORDER_FIRST = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
]
_ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]
_TYPE_ORDER = {kind: i - len(_ORDER_FIRST) for i, kind in enumerate(_ORDER_FIRST)}
_TYPE_ORDER.update({kind: i + 1 for i, kind in enumerate(_ORDER_LAST)})

_CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "StorageClass",
    "PersistentVolume",
    "PriorityClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "APIService",
    "IngressClass",
    "RuntimeClass",
    "PodSecurityPolicy",
}
# Where pod-template labels live, per kind (kustomize's commonLabels field specs, templates part).
_TEMPLATE_LABEL_PATHS: dict[str, list[tuple[str, ...]]] = {
    "Deployment": [("spec", "template", "metadata", "labels")],
    "ReplicaSet": [("spec", "template", "metadata", "labels")],
    "DaemonSet": [("spec", "template", "metadata", "labels")],
    "StatefulSet": [("spec", "template", "metadata", "labels")],
    "Job": [("spec", "template", "metadata", "labels")],
    "ReplicationController": [("spec", "template", "metadata", "labels")],
    "CronJob": [
        ("spec", "jobTemplate", "metadata", "labels"),
        ("spec", "jobTemplate", "spec", "template", "metadata", "labels"),
    ],
}
# Selectors (only touched when includeSelectors is true).
_SELECTOR_PATHS: dict[str, list[tuple[str, ...]]] = {
    "Deployment": [("spec", "selector", "matchLabels")],
    "ReplicaSet": [("spec", "selector", "matchLabels")],
    "DaemonSet": [("spec", "selector", "matchLabels")],
    "StatefulSet": [("spec", "selector", "matchLabels")],
    "Job": [("spec", "selector", "matchLabels")],
    "Service": [("spec", "selector")],
    "ReplicationController": [("spec", "selector")],
    "PodDisruptionBudget": [("spec", "selector", "matchLabels")],
    "NetworkPolicy": [("spec", "podSelector", "matchLabels")],
}


class ManifestError(Exception):
    """A kustomization we cannot render; the message says why, in plain words."""


def _load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ManifestError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{path} is not valid YAML: {exc}") from None
    result = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict) or "kind" not in doc:
            raise ManifestError(f"{path} contains a document that is not a Kubernetes object")
        if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
            result.extend(doc["items"])
        else:
            result.append(doc)
    return result


def _kustomization_file(directory: Path) -> Path:
    for name in KUSTOMIZATION_FILES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise ManifestError(f"{directory} has no kustomization.yaml")


def _set_labels(obj: dict[str, Any], path: tuple[str, ...], pairs: Mapping[str, str], create: bool) -> None:
    node = obj
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            if not create:
                return
            child = node[part] = {}
        node = child
    labels = node.get(path[-1])
    if not isinstance(labels, dict):
        if not create:
            return
        labels = node[path[-1]] = {}
    labels.update(pairs)


def _apply_labels(objects: list[dict[str, Any]], entry: Mapping[str, Any], where: Path) -> None:
    unknown = set(entry) - {"pairs", "includeSelectors", "includeTemplates"}
    if unknown:
        raise ManifestError(f"{where}: labels option {sorted(unknown)[0]!r} is not supported")
    pairs = {str(k): str(v) for k, v in (entry.get("pairs") or {}).items()}
    selectors = bool(entry.get("includeSelectors", False))
    templates = bool(entry.get("includeTemplates", False)) or selectors
    for obj in objects:
        _set_labels(obj, ("metadata", "labels"), pairs, create=True)
        kind = str(obj.get("kind"))
        if templates:
            for path in _TEMPLATE_LABEL_PATHS.get(kind, []):
                _set_labels(obj, path, pairs, create=True)
        if selectors:
            for path in _SELECTOR_PATHS.get(kind, []):
                _set_labels(obj, path, pairs, create=True)


def _render_dir(directory: Path, seen: tuple[Path, ...]) -> list[dict[str, Any]]:
    directory = directory.resolve()
    if directory in seen:
        raise ManifestError(f"{directory} includes itself through resources:")
    kfile = _kustomization_file(directory)
    try:
        kustomization = yaml.safe_load(kfile.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError(f"cannot read {kfile}: {exc}") from None
    if not isinstance(kustomization, dict):
        raise ManifestError(f"{kfile} is not a kustomization")
    unsupported = sorted(set(kustomization) - _SUPPORTED_FIELDS)
    if unsupported:
        raise ManifestError(
            f"{kfile} uses {unsupported[0]!r}; aksmcp renders only resources, labels and namespace "
            "(use `kubectl kustomize` for the rest)"
        )
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources") or []:
        if not isinstance(entry, str) or "://" in entry or entry.startswith(("github.com/", "git@")):
            raise ManifestError(f"{kfile}: resource {entry!r} is not a local file or directory")
        target = (directory / entry).resolve()
        if target.is_dir():
            objects.extend(_render_dir(target, (*seen, directory)))
        elif target.is_file():
            objects.extend(_load_yaml_documents(target))
        else:
            raise ManifestError(f"{kfile}: resource {entry!r} does not exist")
    objects = [copy.deepcopy(o) for o in objects]
    namespace = kustomization.get("namespace")
    if namespace:
        for obj in objects:
            if obj.get("kind") not in _CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = str(namespace)
    for entry in kustomization.get("labels") or []:
        _apply_labels(objects, entry, kfile)
    _check_unique(objects, kfile)
    return objects


def _resource_id(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    metadata = obj.get("metadata") or {}
    return (
        str(obj.get("apiVersion")),
        str(obj.get("kind")),
        str(metadata.get("namespace") or ""),
        str(metadata.get("name")),
    )


def _check_unique(objects: Iterable[Mapping[str, Any]], where: Path) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    for obj in objects:
        rid = _resource_id(obj)
        if rid in seen:
            raise ManifestError(f"{where}: {rid[1]} {rid[3]!r} is defined twice")
        seen.add(rid)


def _gvk_string(obj: Mapping[str, Any]) -> str:
    group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
    # kustomize's Gvk.String(): "<group>_<version>_<kind>" with "~G" for the empty group.
    return f"{group or '~G'}_{version or '~V'}_{obj.get('kind') or '~K'}"


def _legacy_sort_key(obj: Mapping[str, Any]) -> tuple[int, str, str, str]:
    metadata = obj.get("metadata") or {}
    return (
        _TYPE_ORDER.get(str(obj.get("kind")), 0),
        _gvk_string(obj),
        str(metadata.get("namespace") or "~X"),
        str(metadata.get("name") or "~N"),
    )


def render_kustomization(directory: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize <directory>` would print, in the same order."""
    return sorted(_render_dir(Path(directory), ()), key=_legacy_sort_key)


def default_manifests_dir() -> Path:
    """The repository's manifests/ (aksmcp runs from a source checkout or an editable install)."""
    import os

    override = os.environ.get("AKSMCP_MANIFESTS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "manifests"
