"""A generated project (`aksmcp init`) as the generators see it: its metadata from aksmcp.yaml and its
kustomize overlay under manifests/ (see the generated-project contract)."""

from __future__ import annotations

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


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _stateful_in_overlay(root: Path) -> bool:
    """A project runs stateful sessions when an overlay patch sets AKSMCP_STATEFUL=true (the base is
    stateless)."""
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
    """The project at `root`: its aksmcp.yaml read by the deploy core (one reader of that file) and its
    overlay, which must exist for a generator to edit it."""
    from aksmcp_tui.core.deploy.project import ProjectError
    from aksmcp_tui.core.deploy.project import load_project as load_metadata

    root = root.resolve()
    if not (root / OVERLAY_FILE).is_file():
        raise ComponentError(
            f"{root} is not an aksmcp project: {OVERLAY_FILE} is missing "
            "(create one with `aksmcp init NAME`, or pass --project DIR)"
        )
    try:
        meta = load_metadata(root)
    except ProjectError as exc:
        raise ComponentError(str(exc)) from None
    return Project(root, meta.name, meta.namespace, meta.image_repository or None, _stateful_in_overlay(root))
