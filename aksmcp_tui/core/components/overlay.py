"""Edits of a project's kustomize overlay: copy one of aksmcp's components into it, list it under
`components:`, and write the overlay-local settings patch a generator owns (`<component>-settings.yaml`,
listed under `patches:`). Each edit goes through a ChangeSet, so a second run stages identical text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from aksmcp_tui.core.components.changes import ChangeSet
from aksmcp_tui.core.components.project import OVERLAY_DIR, OVERLAY_FILE, VENDORED_COMPONENTS, ComponentError
from aksmcp_tui.core.components.yamltext import dump, dump_all

COMPONENT_NAMES = ("auth-apikey", "auth-entra", "ingress-tls", "monitoring", "hpa", "keda")


def components_source() -> Path:
    """aksmcp's own manifests/components (the single source the project copies)."""
    from aksmcp_tui.core.manifests import default_manifests_dir

    return default_manifests_dir() / "components"


def _kustomization(changes: ChangeSet) -> dict[str, Any]:
    text = changes.read(OVERLAY_FILE)
    if text is None:
        raise ComponentError(f"{OVERLAY_FILE} is missing")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ComponentError(f"{OVERLAY_FILE} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ComponentError(f"{OVERLAY_FILE} is not a kustomization")
    return data


def _save(changes: ChangeSet, before: dict[str, Any], after: dict[str, Any]) -> None:
    # Rewrite only when the content changed, so hand-written comments survive an idempotent run.
    if before != after:
        changes.write(OVERLAY_FILE, dump(after))


def component_path(name: str) -> str:
    return f"{VENDORED_COMPONENTS}/{name}"


def enabled_components(changes: ChangeSet) -> list[str]:
    entries = _kustomization(changes).get("components") or []
    prefix = VENDORED_COMPONENTS + "/"
    return [str(e)[len(prefix) :] for e in entries if isinstance(e, str) and e.startswith(prefix)]


def add_component(changes: ChangeSet, name: str) -> None:
    """Copy aksmcp's component `name` into the overlay and list it (both only if needed)."""
    source = components_source() / name
    if not source.is_dir():
        raise ComponentError(f"aksmcp's component {name!r} is missing from {source.parent}")
    for path in sorted(source.rglob("*")):
        if path.is_file():
            rel = OVERLAY_DIR / VENDORED_COMPONENTS / name / path.relative_to(source)
            changes.write(rel, path.read_text(encoding="utf-8"))
    data = _kustomization(changes)
    updated = dict(data)
    entries = list(updated.get("components") or [])
    if component_path(name) not in entries:
        entries.append(component_path(name))
    updated["components"] = entries
    _save(changes, data, updated)


def remove_component(changes: ChangeSet, name: str) -> bool:
    """Unlist a component and drop its settings patch; True when it was enabled."""
    data = _kustomization(changes)
    updated = dict(data)
    entries = [e for e in updated.get("components") or [] if e != component_path(name)]
    was_enabled = len(entries) != len(updated.get("components") or [])
    if entries:
        updated["components"] = entries
    else:
        updated.pop("components", None)
    _save(changes, data, updated)
    drop_settings(changes, name)
    return was_enabled


def settings_file(name: str) -> str:
    return f"{name}-settings.yaml"


def write_settings(changes: ChangeSet, name: str, patches: list[dict[str, Any]], header: str) -> None:
    """Write the overlay-local strategic-merge patch file of component `name` and list it."""
    filename = settings_file(name)
    changes.write(OVERLAY_DIR / filename, dump_all(patches, header))
    data = _kustomization(changes)
    updated = dict(data)
    entries = list(updated.get("patches") or [])
    if not any(isinstance(e, dict) and e.get("path") == filename for e in entries):
        entries.append({"path": filename})
    updated["patches"] = entries
    _save(changes, data, updated)


def drop_settings(changes: ChangeSet, name: str) -> None:
    filename = settings_file(name)
    data = _kustomization(changes)
    updated = dict(data)
    entries = [e for e in updated.get("patches") or [] if not (isinstance(e, dict) and e.get("path") == filename)]
    if entries:
        updated["patches"] = entries
    else:
        updated.pop("patches", None)
    _save(changes, data, updated)
    if changes.read(OVERLAY_DIR / filename) is not None:
        changes.remove(OVERLAY_DIR / filename)


def read_component_file(name: str, filename: str) -> list[dict[str, Any]]:
    """The documents of one file of aksmcp's component (to derive a project-specific patch from)."""
    text = (components_source() / name / filename).read_text(encoding="utf-8")
    return [doc for doc in yaml.safe_load_all(text) if doc]
