"""Render a kustomization without the kustomize binary.

Only the subset aksmcp's manifests and generated projects use is supported; anything else is
refused with a clear message rather than rendered wrongly:
- `resources:` (YAML files, multi-document allowed, or directories holding a kustomization),
- `components:` (directories holding a `kind: Component` kustomization: its resources are added to
  the including kustomization's objects and its transformers apply to all of them),
- `patches:` (`path:` or inline `patch:`, strategic-merge or JSON6902, optional `target:`), and the
  older `patchesStrategicMerge:` / `patchesJson6902:`,
- `namespace:`, `labels:` (`pairs`, `includeSelectors`, `includeTemplates`), `replicas:`, `images:`.
Transformers run in kustomize's order (patches, namespace, labels, JSON6902 patches, replicas,
images). The output matches `kubectl kustomize` (tests compare them): same objects, same fields,
and kustomize's default ("legacy") order, which puts Namespaces, ServiceAccounts, ConfigMaps,
Services... before workloads so a top-to-bottom apply works.

`apply_parameters` then turns the rendered objects into one deployment (name, namespace, image,
replicas, key Secret): the deploy parameters live in code as a transformation, never as a second
copy of the YAML.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aksmcp_tui.core.manifest_patch import PatchError, json_patch, strategic_merge

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_SUPPORTED_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "components",
    "labels",
    "namespace",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "replicas",
    "images",
}

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


_REPLICATED = {"Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"}


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


def _load_kustomization(directory: Path, expected_kind: str) -> tuple[Path, dict[str, Any]]:
    kfile = _kustomization_file(directory)
    try:
        kustomization = yaml.safe_load(kfile.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError(f"cannot read {kfile}: {exc}") from None
    if not isinstance(kustomization, dict):
        raise ManifestError(f"{kfile} is not a kustomization")
    kind = str(kustomization.get("kind") or "Kustomization")
    if kind != expected_kind:
        raise ManifestError(f"{kfile} is a {kind}; it is listed where a {expected_kind} belongs")
    unsupported = sorted(set(kustomization) - _SUPPORTED_FIELDS)
    if unsupported:
        raise ManifestError(
            f"{kfile} uses {unsupported[0]!r}; aksmcp renders only resources, components, patches, "
            "namespace, labels, replicas and images (use `kubectl kustomize` for the rest)"
        )
    return kfile, kustomization


def _local_path(directory: Path, entry: Any, kfile: Path, what: str) -> Path:
    if not isinstance(entry, str) or "://" in entry or entry.startswith(("github.com/", "git@")):
        raise ManifestError(f"{kfile}: {what} {entry!r} is not a local file or directory")
    target = (directory / entry).resolve()
    if not target.exists():
        raise ManifestError(f"{kfile}: {what} {entry!r} does not exist")
    return target


def _render_dir(directory: Path, seen: tuple[Path, ...]) -> list[dict[str, Any]]:
    """A Kustomization's objects: its resources, then its components, then its own transformers."""
    directory = directory.resolve()
    if directory in seen:
        raise ManifestError(f"{directory} includes itself through resources:")
    kfile, kustomization = _load_kustomization(directory, "Kustomization")
    objects = _load_resources(directory, kfile, kustomization, (*seen, directory))
    objects = _apply_components(directory, kfile, kustomization, objects, (*seen, directory))
    objects = _transform(directory, kfile, kustomization, objects)
    _check_unique(objects, kfile)
    return objects


def _render_component(directory: Path, objects: list[dict[str, Any]], seen: tuple[Path, ...]) -> list[dict[str, Any]]:
    """kind Component: adds its resources to what the including kustomization has so far, and its
    transformers (patches, images, ...) apply to all of it (kustomize's component semantics)."""
    directory = directory.resolve()
    if directory in seen:
        raise ManifestError(f"{directory} includes itself through components:")
    kfile, kustomization = _load_kustomization(directory, "Component")
    objects = [*objects, *_load_resources(directory, kfile, kustomization, (*seen, directory))]
    objects = _apply_components(directory, kfile, kustomization, objects, (*seen, directory))
    objects = _transform(directory, kfile, kustomization, objects)
    _check_unique(objects, kfile)
    return objects


def _load_resources(
    directory: Path, kfile: Path, kustomization: Mapping[str, Any], seen: tuple[Path, ...]
) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for entry in _as_list(kustomization.get("resources"), kfile, "resources"):
        target = _local_path(directory, entry, kfile, "resource")
        if target.is_dir():
            objects.extend(_render_dir(target, seen))
        else:
            objects.extend(_load_yaml_documents(target))
    return [copy.deepcopy(o) for o in objects]


def _apply_components(
    directory: Path,
    kfile: Path,
    kustomization: Mapping[str, Any],
    objects: list[dict[str, Any]],
    seen: tuple[Path, ...],
) -> list[dict[str, Any]]:
    for entry in _as_list(kustomization.get("components"), kfile, "components"):
        target = _local_path(directory, entry, kfile, "component")
        if not target.is_dir():
            raise ManifestError(f"{kfile}: component {entry!r} is not a directory")
        objects = _render_component(target, objects, seen)
    return objects


def _as_list(value: Any, kfile: Path, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ManifestError(f"{kfile}: {field} must be a list")
    return value


def _transform(
    directory: Path, kfile: Path, kustomization: Mapping[str, Any], objects: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The kustomization's own transformers, in kustomize's order (api/krusty kusttarget.go)."""
    for entry in _as_list(kustomization.get("patchesStrategicMerge"), kfile, "patchesStrategicMerge"):
        if isinstance(entry, str) and "\n" not in entry and (directory / entry).is_file():
            patches = _load_patch_documents((directory / entry).read_text(encoding="utf-8"), kfile)
        else:
            patches = _load_patch_documents(str(entry), kfile)
        for patch in patches:
            objects = _apply_patch(objects, patch, None, kfile)
    for entry in _as_list(kustomization.get("patches"), kfile, "patches"):
        objects = _apply_patch_entry(directory, kfile, entry, objects)
    namespace = kustomization.get("namespace")
    if namespace:
        for obj in objects:
            if obj.get("kind") == "Namespace":
                # kustomize renames the Namespace object itself to the overlay's namespace.
                obj.setdefault("metadata", {})["name"] = str(namespace)
            elif obj.get("kind") not in _CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = str(namespace)
    for entry in _as_list(kustomization.get("labels"), kfile, "labels"):
        _apply_labels(objects, entry, kfile)
    for entry in _as_list(kustomization.get("patchesJson6902"), kfile, "patchesJson6902"):
        objects = _apply_patch_entry(directory, kfile, entry, objects, json6902=True)
    for entry in _as_list(kustomization.get("replicas"), kfile, "replicas"):
        _apply_replicas(objects, entry, kfile)
    for entry in _as_list(kustomization.get("images"), kfile, "images"):
        _apply_image(objects, entry, kfile)
    return objects


def _load_patch_documents(text: str, kfile: Path) -> list[Any]:
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(f"{kfile}: a patch is not valid YAML: {exc}") from None


def _apply_patch_entry(
    directory: Path, kfile: Path, entry: Any, objects: list[dict[str, Any]], *, json6902: bool = False
) -> list[dict[str, Any]]:
    if not isinstance(entry, dict):
        raise ManifestError(f"{kfile}: each patch needs `path:` or `patch:`")
    unknown = set(entry) - {"path", "patch", "target", "options"}
    if unknown:
        raise ManifestError(f"{kfile}: patch option {sorted(unknown)[0]!r} is not supported")
    if ("path" in entry) == ("patch" in entry):
        raise ManifestError(f"{kfile}: a patch needs exactly one of `path:` and `patch:`")
    if "path" in entry:
        source = _local_path(directory, entry["path"], kfile, "patch")
        text = source.read_text(encoding="utf-8")
    else:
        text = str(entry["patch"])
    target = entry.get("target")
    if target is not None and not isinstance(target, dict):
        raise ManifestError(f"{kfile}: a patch target must be a mapping")
    documents = _load_patch_documents(text, kfile)
    # kustomize tells the formats apart by shape: a YAML list is a JSON6902 patch.
    if json6902 or (len(documents) == 1 and isinstance(documents[0], list)):
        if target is None:
            raise ManifestError(f"{kfile}: a JSON6902 patch needs a `target:`")
        operations = documents[0] if documents else []
        if not isinstance(operations, list):
            raise ManifestError(f"{kfile}: a JSON6902 patch must be a list of operations")
        return _apply_patch(objects, operations, target, kfile)
    for document in documents:
        if not isinstance(document, dict):
            raise ManifestError(f"{kfile}: a strategic-merge patch must be a mapping")
        objects = _apply_patch(objects, document, target, kfile)
    return objects


def _matches_selector(labels: Mapping[str, Any], selector: str) -> bool:
    for term in (t.strip() for t in selector.split(",") if t.strip()):
        if "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.split("=", 1))
            if labels.get(key.rstrip("=")) != value.lstrip("="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _matches_target(obj: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
    group, _, version = str(obj.get("apiVersion") or "").rpartition("/")
    metadata = obj.get("metadata") or {}
    checks = {
        "group": group,
        "version": version,
        "kind": str(obj.get("kind") or ""),
        "name": str(metadata.get("name") or ""),
        "namespace": str(metadata.get("namespace") or ""),
    }
    for field, actual in checks.items():
        wanted = target.get(field)
        if wanted is None or wanted == "":
            continue
        if field in ("name", "namespace"):
            if re.fullmatch(str(wanted), actual) is None:
                return False
        elif str(wanted) != actual:
            return False
    if target.get("labelSelector") and not _matches_selector(metadata.get("labels") or {}, target["labelSelector"]):
        return False
    return not (
        target.get("annotationSelector")
        and not _matches_selector(metadata.get("annotations") or {}, target["annotationSelector"])
    )


def _apply_patch(
    objects: list[dict[str, Any]], patch: Any, target: Mapping[str, Any] | None, kfile: Path
) -> list[dict[str, Any]]:
    if target is None:
        # A strategic-merge patch without a target names its object itself.
        if not isinstance(patch, dict):
            raise ManifestError(f"{kfile}: a JSON6902 patch needs a `target:`")
        metadata = patch.get("metadata") or {}
        target = {"kind": patch.get("kind"), "name": re.escape(str(metadata.get("name") or ""))}
        group, _, version = str(patch.get("apiVersion") or "").rpartition("/")
        target = {**target, "group": group, "version": version}
        # As kustomize's ResId: a patch without a namespace means the default namespace (or none).
        namespace = str(metadata.get("namespace") or "")
        target["namespace"] = re.escape(namespace) if namespace not in ("", "default") else "|default"
        if not metadata.get("name") or not patch.get("kind"):
            raise ManifestError(f"{kfile}: a strategic-merge patch without a target needs kind and metadata.name")
    unknown = set(target) - {"group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"}
    if unknown:
        raise ManifestError(f"{kfile}: patch target field {sorted(unknown)[0]!r} is not supported")
    result: list[dict[str, Any]] = []
    matched = False
    for obj in objects:
        if not _matches_target(obj, target):
            result.append(obj)
            continue
        matched = True
        try:
            if isinstance(patch, list):
                result.append(json_patch(obj, patch))
            else:
                # The patch's own name and namespace never rename the target.
                metadata = {**(patch.get("metadata") or {})}
                metadata.pop("name", None)
                metadata.pop("namespace", None)
                body = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind", "metadata")}
                if metadata:
                    body["metadata"] = metadata
                result.append(strategic_merge(obj, body))
        except PatchError as exc:
            raise ManifestError(f"{kfile}: patch on {obj.get('kind')} {obj['metadata'].get('name')}: {exc}") from None
    if not matched:
        described = ", ".join(f"{k}={v}" for k, v in target.items() if v)
        raise ManifestError(f"{kfile}: no object matches the patch target ({described})")
    return result


def _apply_replicas(objects: list[dict[str, Any]], entry: Any, kfile: Path) -> None:
    if not isinstance(entry, dict) or "name" not in entry or "count" not in entry:
        raise ManifestError(f"{kfile}: each replicas entry needs `name` and `count`")
    try:
        count = int(entry["count"])
    except (TypeError, ValueError):
        raise ManifestError(f"{kfile}: replicas count {entry['count']!r} is not a number") from None
    for obj in objects:
        if obj.get("kind") in _REPLICATED and (obj.get("metadata") or {}).get("name") == entry["name"]:
            obj.setdefault("spec", {})["replicas"] = count


def split_image_reference(image: str) -> tuple[str, str | None, str | None]:
    """`repo[:tag][@digest]` -> (repo, tag, digest); a registry port is not a tag."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = name.rsplit(":", 1)
        return repo, tag, digest or None
    return name, None, digest or None


def _containers(node: Any) -> list[dict[str, Any]]:
    """Every container and init container anywhere in an object (pods, templates, job templates)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers", "ephemeralContainers") and isinstance(value, list):
                found.extend(c for c in value if isinstance(c, dict))
            else:
                found.extend(_containers(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_containers(item))
    return found


def _apply_image(objects: list[dict[str, Any]], entry: Any, kfile: Path) -> None:
    if not isinstance(entry, dict) or not entry.get("name"):
        raise ManifestError(f"{kfile}: each images entry needs a `name`")
    unknown = set(entry) - {"name", "newName", "newTag", "digest"}
    if unknown:
        raise ManifestError(f"{kfile}: images option {sorted(unknown)[0]!r} is not supported")
    for obj in objects:
        for container in _containers(obj):
            image = container.get("image")
            if not isinstance(image, str):
                continue
            repo, tag, digest = split_image_reference(image)
            if repo != entry["name"]:
                continue
            repo = str(entry.get("newName") or repo)
            if entry.get("digest"):
                container["image"] = f"{repo}@{entry['digest']}"
            elif entry.get("newTag") is not None:
                container["image"] = f"{repo}:{entry['newTag']}"
            else:
                container["image"] = repo + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


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


# ------------------------------------------------------------------------ deploy parameters --

# What manifests/base calls the server; a deployment replaces these with its own names.
BASE_APP_NAME = "aksmcp-server"
BASE_KEY_SECRET = "aksmcp-server-api-key"
# The Secret with a bridge project's server environment (tokens, URLs): <name>-env once deployed.
BASE_ENV_SECRET = "aksmcp-server-env"
_APP_LABEL = "app.kubernetes.io/name"
_NAME_REFERENCE_KEYS = ("name", "serviceAccountName", "secretName", "claimName")


@dataclass(frozen=True)
class DeployParameters:
    """One deployment of a rendered overlay: applied to the objects by `apply_parameters`."""

    name: str
    namespace: str
    image: str | None = None  # "repo@sha256:..." (pinned) or "repo:tag"; None keeps the overlay's
    replicas: int | None = None  # None keeps the overlay's
    key_secret: str | None = None  # None: f"{name}-api-key"

    @property
    def secret_name(self) -> str:
        return self.key_secret or f"{self.name}-api-key"


def image_pull_policy(image: str) -> str:
    """Explicit pull policy: a digest or a fixed tag never changes, `latest` (or no tag) may."""
    _, tag, digest = split_image_reference(image)
    if digest or (tag and tag != "latest"):
        return "IfNotPresent"
    return "Always"


def _rename_references(node: Any, renames: Mapping[str, str], key: str | None = None) -> Any:
    if isinstance(node, dict):
        return {k: _rename_references(v, renames, str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rename_references(v, renames, key) for v in node]
    if isinstance(node, str) and key in (*_NAME_REFERENCE_KEYS, _APP_LABEL) and node in renames:
        return renames[node]
    return node


def _rename_hosts(value: str, old_ns: str, params: DeployParameters) -> str:
    hosts = []
    for host in value.split(","):
        parts = host.strip().split(".")
        if parts and parts[0] == BASE_APP_NAME:
            parts[0] = params.name
            if len(parts) > 1 and parts[1] == old_ns:
                parts[1] = params.namespace
        hosts.append(".".join(parts))
    return ",".join(hosts)


def main_container(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """The Deployment's server container: the default-container annotation's, else the first."""
    template = (deployment.get("spec") or {}).get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or []
    if not containers:
        raise ManifestError(f"Deployment {deployment['metadata'].get('name')} has no containers")
    wanted = ((template.get("metadata") or {}).get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    return next((c for c in containers if c.get("name") == wanted), containers[0])


def apply_parameters(objects: list[dict[str, Any]], params: DeployParameters) -> list[dict[str, Any]]:
    """The rendered overlay as deployment `params.name` in `params.namespace`: objects named after
    the base server are renamed (with every reference, app label and selector), the key Secret is
    the deployment's own, and the server container gets the image (with an explicit pull policy)
    and the Deployment the replica count."""
    deployments = [o for o in objects if o.get("kind") == "Deployment"]
    target = next((d for d in deployments if d["metadata"].get("name") == BASE_APP_NAME), None)
    if target is None and len(deployments) == 1:
        target = deployments[0]
    if target is None:
        raise ManifestError(f"the manifests have no Deployment {BASE_APP_NAME!r} to deploy")
    old_name = str(target["metadata"]["name"])
    old_ns = str(target["metadata"].get("namespace") or "")
    renames = {
        old_name: params.name,
        BASE_APP_NAME: params.name,
        BASE_KEY_SECRET: params.secret_name,
        BASE_ENV_SECRET: f"{params.name}-env",
    }
    result: list[dict[str, Any]] = []
    for original in objects:
        obj = _rename_references(copy.deepcopy(original), renames)
        metadata = obj.setdefault("metadata", {})
        if obj.get("kind") == "Namespace":
            if metadata.get("name") == old_ns:
                metadata["name"] = params.namespace
        elif obj.get("kind") not in _CLUSTER_SCOPED and metadata.get("namespace") in (old_ns, None, ""):
            metadata["namespace"] = params.namespace
        if obj.get("kind") == "ConfigMap" and metadata.get("name") == params.name:
            data = obj.get("data") or {}
            if data.get("AKSMCP_SERVER_NAME") in (BASE_APP_NAME, old_name):
                data["AKSMCP_SERVER_NAME"] = params.name
            if "AKSMCP_ALLOWED_HOSTS" in data:
                data["AKSMCP_ALLOWED_HOSTS"] = _rename_hosts(str(data["AKSMCP_ALLOWED_HOSTS"]), old_ns, params)
        if obj.get("kind") == "Deployment" and metadata.get("name") == params.name:
            if params.replicas is not None:
                obj.setdefault("spec", {})["replicas"] = params.replicas
            container = main_container(obj)
            if params.image:
                container["image"] = params.image
            container["imagePullPolicy"] = image_pull_policy(str(container.get("image") or ""))
        result.append(obj)
    _check_unique(result, Path(f"deployment {params.name}"))
    return sorted(result, key=_legacy_sort_key)
