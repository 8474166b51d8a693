"""Server-side apply and managedFields: who owns which field.

Field sets are kept as Python sets of paths in FieldsV1 notation (`("f:spec", "f:replicas")`,
`("f:spec", ..., 'k:{"name":"app"}', "f:image")`) and stored on objects as FieldsV1 trees.
It is a faithful subset: associative lists are keyed by the same merge keys as the strategic
merge patch, other lists are atomic.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from aksmcp_tui.sandbox.apiserver.patch import SET_LISTS, merge_key_for
from aksmcp_tui.sandbox.store import now_rfc3339

Path = tuple[str, ...]
TRACKED_METADATA = ("labels", "annotations", "finalizers", "ownerReferences")


class ApplyConflict(Exception):
    def __init__(self, conflicts: list[tuple[str, str, str]]) -> None:
        # (manager, apiVersion, field) triples
        self.conflicts = conflicts
        lines = [f'conflict with "{manager}" using {api_version}: {field}' for manager, api_version, field in conflicts]
        if len(lines) == 1:
            summary = f"Apply failed with 1 conflict: {lines[0]}"
        else:
            summary = f"Apply failed with {len(lines)} conflicts: " + "\n".join(lines)
        super().__init__(summary)


def _trackable(obj: dict[str, Any], with_status: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "status" and not with_status:
            continue
        if key == "metadata":
            meta = {k: v for k, v in (value or {}).items() if k in TRACKED_METADATA}
            if meta:
                result["metadata"] = meta
            continue
        result[key] = value
    return result


def _item_key(key: str, item: dict[str, Any]) -> str:
    return "k:" + json.dumps({key: item[key]}, separators=(",", ":"), sort_keys=True)


def field_paths(obj: dict[str, Any], with_status: bool = False) -> set[Path]:
    out: set[Path] = set()
    _collect(_trackable(obj, with_status), (), out)
    return out


def _collect(value: dict[str, Any], prefix: Path, out: set[Path]) -> None:
    for key, child in value.items():
        path = (*prefix, f"f:{key}")
        if isinstance(child, dict) and child:
            _collect(child, path, out)
        elif isinstance(child, list) and child and key in SET_LISTS:
            for item in child:
                out.add((*path, "v:" + json.dumps(item, separators=(",", ":"))))
        elif isinstance(child, list) and child and _associative(key, child):
            merge_key = merge_key_for(key, child)
            assert merge_key is not None
            for item in child:
                item_path = (*path, _item_key(merge_key, item))
                out.add(item_path)
                _collect(item, item_path, out)
        else:
            out.add(path)


def _associative(field_name: str, items: list[Any]) -> bool:
    key = merge_key_for(field_name, items)
    return key is not None and all(isinstance(item, dict) and key in item for item in items)


def _step(current: Any, element: str) -> tuple[bool, Any]:
    kind, _, text = element.partition(":")
    if kind == "f":
        if isinstance(current, dict) and text in current:
            return True, current[text]
        return False, None
    if kind == "k" and isinstance(current, list):
        wanted = json.loads(text)
        for item in current:
            if isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items()):
                return True, item
        return False, None
    if kind == "v" and isinstance(current, list):
        wanted = json.loads(text)
        return (wanted in current), wanted
    return False, None


def lookup(obj: Any, path: Path) -> tuple[bool, Any]:
    current = obj
    for element in path:
        found, current = _step(current, element)
        if not found:
            return False, None
    return True, current


def remove_path(obj: Any, path: Path) -> None:
    found, parent = lookup(obj, path[:-1])
    if not found:
        return
    kind, _, text = path[-1].partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(text, None)
    elif kind == "k" and isinstance(parent, list):
        wanted = json.loads(text)
        parent[:] = [
            item for item in parent if not (isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items()))
        ]
    elif kind == "v" and isinstance(parent, list):
        wanted = json.loads(text)
        parent[:] = [item for item in parent if item != wanted]


def readable(path: Path) -> str:
    """`.spec.template.spec.containers[name="app"].image`, as the API server prints paths."""
    parts: list[str] = []
    for element in path:
        kind, _, text = element.partition(":")
        if kind == "f":
            parts.append(f".{text}")
        elif kind == "k":
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(text).items()) + "]")
        else:
            parts.append(f"[={text}]")
    return "".join(parts)


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    # Owned list items that also have owned children carry the "." marker.
    for path in paths:
        if path and path[-1].startswith("k:"):
            node = tree
            for element in path:
                node = node[element]
            if node:
                node["."] = {}
    return tree


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for element, child in tree.items():
        if element == ".":
            out.add(prefix)
            continue
        path = (*prefix, element)
        if isinstance(child, dict) and child:
            if element.startswith("k:"):
                out.add(path)
            out |= from_fields_v1(child, path)
        else:
            out.add(path)
    return out


def _is_leaf(path: Path, paths: set[Path]) -> bool:
    return not path[-1].startswith("k:")


def merge_applied(current: Any, applied: Any, field_name: str = "") -> Any:
    """Merge an applied configuration into the live object (no deletions here)."""
    if isinstance(applied, dict) and isinstance(current, dict):
        result = dict(current)
        for key, value in applied.items():
            result[key] = merge_applied(current.get(key), value, key) if key in current else copy.deepcopy(value)
        return result
    if isinstance(applied, list) and isinstance(current, list) and applied and _associative(field_name, applied):
        key = merge_key_for(field_name, applied)
        assert key is not None
        result_list = [copy.deepcopy(item) for item in current]
        for item in applied:
            index = next(
                (
                    i
                    for i, existing in enumerate(result_list)
                    if isinstance(existing, dict) and existing.get(key) == item[key]
                ),
                None,
            )
            if index is None:
                result_list.append(copy.deepcopy(item))
            else:
                result_list[index] = merge_applied(result_list[index], item, "")
        return result_list
    if isinstance(applied, list) and isinstance(current, list) and field_name in SET_LISTS:
        merged = list(current)
        merged.extend(item for item in applied if item not in merged)
        return merged
    return copy.deepcopy(applied)


def _entries(obj: dict[str, Any] | None) -> list[dict[str, Any]]:
    if obj is None:
        return []
    return [dict(entry) for entry in (obj.get("metadata") or {}).get("managedFields") or []]


def _entry_paths(entry: dict[str, Any]) -> set[Path]:
    return from_fields_v1(entry.get("fieldsV1") or {})


def server_side_apply(
    current: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str,
    api_version: str,
    force: bool,
    subresource: str | None = None,
) -> dict[str, Any]:
    """The object after applying; raises ApplyConflict. Equal to current when nothing changed."""
    with_status = subresource == "status"
    applied = copy.deepcopy(applied)
    applied.get("metadata", {}).pop("managedFields", None)
    entries = _entries(current)
    mine = [e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"]
    others = [e for e in entries if not (e.get("manager") == manager and e.get("operation") == "Apply")]
    previous = _entry_paths(mine[0]) if mine else set()
    wanted = field_paths(applied, with_status)
    base: dict[str, Any] = copy.deepcopy(current) if current is not None else {}
    base.get("metadata", {}).pop("managedFields", None)

    conflicts: list[tuple[str, str, str]] = []
    other_paths = [(entry, _entry_paths(entry)) for entry in others]
    for entry, paths in other_paths:
        for path in sorted(wanted & paths):
            if not _is_leaf(path, paths):
                continue
            if lookup(base, path) != lookup(applied, path):
                conflicts.append((str(entry.get("manager")), str(entry.get("apiVersion", api_version)), readable(path)))
    if conflicts and not force:
        raise ApplyConflict(conflicts)
    if conflicts:
        conflicted = {
            path
            for entry, paths in other_paths
            for path in wanted & paths
            if lookup(base, path) != lookup(applied, path)
        }
        other_paths = [(entry, paths - conflicted) for entry, paths in other_paths]

    result = merge_applied(base, applied)
    still_owned: set[Path] = set()
    for _, paths in other_paths:
        still_owned |= paths
    for path in sorted(previous - wanted - still_owned, key=len, reverse=True):
        remove_path(result, path)

    new_entries: list[dict[str, Any]] = []
    for entry, paths in other_paths:
        if paths:
            entry["fieldsV1"] = to_fields_v1(paths)
            new_entries.append(entry)
    if result == base and previous == wanted and len(new_entries) == len(others) and current is not None:
        return current
    apply_entry: dict[str, Any] = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "time": now_rfc3339(),
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(wanted),
    }
    if subresource:
        apply_entry["subresource"] = subresource
    new_entries.insert(0, apply_entry)
    result.setdefault("metadata", {})["managedFields"] = new_entries
    return result


def track_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    api_version: str,
    subresource: str | None = None,
) -> None:
    """Record, in new's managedFields, that `manager` set the fields it changed (an Update)."""
    with_status = subresource == "status"
    entries = _entries(old) if old is not None else []
    new_paths = field_paths(new, with_status)
    old_paths = field_paths(old, with_status) if old is not None else set()
    changed = {path for path in new_paths if path not in old_paths or lookup(old, path) != lookup(new, path)}
    removed = old_paths - new_paths
    if not changed and not removed:
        new.setdefault("metadata", {})["managedFields"] = entries
        if not entries:
            new["metadata"].pop("managedFields", None)
        return
    result: list[dict[str, Any]] = []
    found = False
    for entry in entries:
        paths = _entry_paths(entry)
        if (
            entry.get("manager") == manager
            and entry.get("operation") == "Update"
            and entry.get("subresource") == subresource
        ):
            paths = (paths | changed) - removed
            entry["time"] = now_rfc3339()
            found = True
        else:
            paths = paths - changed - removed
        if paths:
            entry["fieldsV1"] = to_fields_v1(paths)
            result.append(entry)
    if not found and changed:
        entry = {
            "manager": manager,
            "operation": "Update",
            "apiVersion": api_version,
            "time": now_rfc3339(),
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(changed),
        }
        if subresource:
            entry["subresource"] = subresource
        result.append(entry)
    new.setdefault("metadata", {})["managedFields"] = result
    if not result:
        new["metadata"].pop("managedFields", None)
