"""The two patch formats kustomize applies: strategic merge (SMP) and JSON patch (RFC 6902).

Strategic merge follows Kubernetes' rules for the fields our manifests and components touch:
maps merge key by key, `null` deletes a key, lists of objects with a patch merge key (containers
by name, volumeMounts by mountPath, container ports by containerPort, Service ports by port, ...)
merge element by element, every other list is replaced, and the `$patch: delete|replace`
directives work on maps and list elements. Without the API server's OpenAPI schema the merge
keys come from a table of the built-in types (the same keys their Go structs declare).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


class PatchError(Exception):
    """A patch that cannot be applied; the message says which operation and why."""


# Field name -> patch merge key, as declared by the built-in types' `patchMergeKey` tags.
_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "conditions": "type",
}
_DELETE = object()


def _merge_key(path: tuple[str, ...], kind: str) -> str | None:
    field = path[-1] if path else ""
    if field == "ports":
        # Service.spec.ports merge by port; a container's ports by containerPort.
        return "port" if kind == "Service" and path == ("spec", "ports") else "containerPort"
    return _MERGE_KEYS.get(field)


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not str(k).startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def _merge(base: Any, patch: Any, path: tuple[str, ...], kind: str) -> Any:
    if isinstance(patch, dict):
        directive = patch.get("$patch")
        if directive == "delete":
            return _DELETE
        if directive == "replace":
            return _strip_directives(patch)
        if directive is not None:
            raise PatchError(f"unknown $patch directive {directive!r} at {'/'.join(path) or '/'}")
        result = dict(base) if isinstance(base, dict) else {}
        for key, value in patch.items():
            if str(key).startswith("$"):
                continue  # $setElementOrder/..., $retainKeys: ordering hints we need not honour
            if value is None:
                result.pop(key, None)
                continue
            merged = _merge(result.get(key), value, (*path, str(key)), kind)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        return result
    if isinstance(patch, list):
        key = _merge_key(path, kind)
        if key is None or not isinstance(base, list) or not all(isinstance(p, dict) for p in patch):
            return _strip_directives(patch)
        # Kubernetes' order for a merged list: the patch's elements in the patch's order, then the
        # elements only the original has, in their order (apimachinery's normalizeElementOrder).
        if any(item.get("$patch") == "replace" for item in patch):
            return _strip_directives([p for p in patch if p.get("$patch") != "replace"])
        originals = [b for b in base if isinstance(b, dict)]
        patched_keys = {item.get(key) for item in patch}
        result_list: list[Any] = []
        for item in patch:
            if item.get("$patch") == "delete":
                continue
            original = next((b for b in originals if b.get(key) == item.get(key)), None)
            result_list.append(_strip_directives(item) if original is None else _merge(original, item, path, kind))
        result_list.extend(copy.deepcopy(b) for b in base if not (isinstance(b, dict) and b.get(key) in patched_keys))
        return result_list
    return copy.deepcopy(patch)


def strategic_merge(obj: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """`obj` with the strategic-merge `patch` applied (neither argument is changed)."""
    merged = _merge(copy.deepcopy(dict(obj)), dict(patch), (), str(obj.get("kind") or ""))
    if merged is _DELETE:
        raise PatchError("a patch with `$patch: delete` at the top deletes the whole object; remove it instead")
    return dict(merged)


# ------------------------------------------------------------------------------ JSON patch --


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"JSON pointer {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for part in parts:
        if isinstance(node, dict):
            if part not in node:
                raise PatchError(f"path {path!r} does not exist")
            node = node[part]
        elif isinstance(node, list):
            node = node[_index(node, part, path, allow_end=False)]
        else:
            raise PatchError(f"path {path!r} does not exist")
    return node


def _index(node: list[Any], part: str, path: str, *, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return len(node)
    if not part.isdigit():
        raise PatchError(f"{part!r} in {path!r} is not a list index")
    index = int(part)
    if index > len(node) or (index == len(node) and not allow_end):
        raise PatchError(f"index {index} in {path!r} is out of range")
    return index


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return copy.deepcopy(value)
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, allow_end=True), copy.deepcopy(value))
    else:
        raise PatchError(f"cannot add at {path!r}: the parent is not an object or a list")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path {path!r} does not exist")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, path, allow_end=False))
    raise PatchError(f"path {path!r} does not exist")


def json_patch(obj: Mapping[str, Any], operations: list[Any]) -> dict[str, Any]:
    """`obj` with the RFC 6902 `operations` applied (add, remove, replace, move, copy, test)."""
    doc: Any = copy.deepcopy(dict(obj))
    for number, operation in enumerate(operations, 1):
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise PatchError(f"operation {number} needs `op` and `path`")
        op, path = operation["op"], str(operation["path"])
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchError(f"operation {number} ({op} {path}) needs a `value`")
        if op == "add":
            doc = _add(doc, path, operation["value"])
        elif op == "remove":
            doc, _ = _remove(doc, path)
        elif op == "replace":
            doc, _ = _remove(doc, path)
            doc = _add(doc, path, operation["value"])
        elif op in ("move", "copy"):
            source = str(operation.get("from") or "")
            if op == "move":
                doc, value = _remove(doc, source)
            else:
                value = copy.deepcopy(_walk(doc, _pointer(source), source))
            doc = _add(doc, path, value)
        elif op == "test":
            if _walk(doc, _pointer(path), path) != operation["value"]:
                raise PatchError(f"operation {number}: test of {path!r} failed")
        else:
            raise PatchError(f"operation {number}: unknown op {op!r}")
    if not isinstance(doc, dict):
        raise PatchError("the patched document is no longer an object")
    return doc
