"""A generated project (`aksmcp init`, issue 12) as the generators see it: its metadata from
aksmcp.yaml and its kustomize overlay under manifests/ (see the generated-project contract)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

METADATA_FILE = "aksmcp.yaml"
OVERLAY_DIR = Path("manifests")
OVERLAY_FILE = OVERLAY_DIR / "kustomization.yaml"
# Inside the overlay: aksmcp's own base and components, copied as files.
VENDORED_BASE = "aksmcp/base"
VENDORED_COMPONENTS = "aksmcp/components"
# The names the base gives its objects; overlay patches target these (the renderer renames at deploy).
BASE_NAME = "aksmcp-server"
BASE_NAMESPACE = "mcp-system"

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class ComponentError(Exception):
    """Bad input or a project the generators cannot edit; the message says what to do."""


@dataclass(frozen=True)
class Project:
    root: Path
    name: str
    namespace: str
    image_repository: str | None
    stateful: bool

    @property
    def service_hosts(self) -> list[str]:
        """The Service's in-cluster names, which the server's Host check must keep accepting."""
        hosts = [self.name, f"{self.name}.{self.namespace}", f"{self.name}.{self.namespace}.svc"]
        hosts.append(f"{self.name}.{self.namespace}.svc.cluster.local")
        if (self.name, self.namespace) != (BASE_NAME, BASE_NAMESPACE):
            hosts += [BASE_NAME, f"{BASE_NAME}.{BASE_NAMESPACE}", f"{BASE_NAME}.{BASE_NAMESPACE}.svc"]
            hosts.append(f"{BASE_NAME}.{BASE_NAMESPACE}.svc.cluster.local")
        return hosts


def _image_repository(meta: dict[str, Any]) -> str | None:
    image = meta.get("image")
    if isinstance(image, dict):
        image = image.get("repository")
    image = image or meta.get("image_repository") or meta.get("repository")
    return str(image) if image else None


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _stateful_in_overlay(root: Path) -> bool:
    """A project runs stateful sessions when its metadata says so or an overlay patch sets
    AKSMCP_STATEFUL=true (the base is stateless)."""
    for path in sorted((root / OVERLAY_DIR).glob("*.yaml")):
        try:
            docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except (OSError, yaml.YAMLError):
            continue
        for doc in docs:
            if isinstance(doc, dict) and doc.get("kind") == "ConfigMap":
                value = (doc.get("data") or {}).get("AKSMCP_STATEFUL")
                if value is not None and _truthy(value):
                    return True
    return False


def load_project(root: Path) -> Project:
    root = root.resolve()
    meta_path = root / METADATA_FILE
    overlay = root / OVERLAY_FILE
    if not overlay.is_file():
        raise ComponentError(
            f"{root} is not an aksmcp project: {OVERLAY_FILE} is missing "
            "(create one with `aksmcp init NAME`, or pass --project DIR)"
        )
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            loaded = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ComponentError(f"{meta_path} is not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ComponentError(f"{meta_path} must be a mapping (name, namespace, image, ...)")
        meta = loaded or {}
    name = str(meta.get("name") or BASE_NAME)
    namespace = str(meta.get("namespace") or BASE_NAMESPACE)
    for label, value in (("name", name), ("namespace", namespace)):
        if not _DNS1123.match(value):
            raise ComponentError(f"{meta_path}: {label} {value!r} is not a DNS-1123 label")
    stateful = _truthy(meta.get("stateful", False)) or _stateful_in_overlay(root)
    return Project(root, name, namespace, _image_repository(meta), stateful)
