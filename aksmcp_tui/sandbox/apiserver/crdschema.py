"""Custom resources checked against their CRD's openAPIV3Schema, as the API server does:
unknown fields are pruned (unless x-kubernetes-preserve-unknown-fields), and wrong types,
missing required fields, enums and bounds give 422 causes."""

from __future__ import annotations

from typing import Any

from aksmcp_tui.sandbox.apiserver.validation import Cause

_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def _type_ok(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES.get(kind, (object,)))


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return '"object"' if isinstance(value, dict) else '"array"'
    return str(value)


def check(value: Any, schema: dict[str, Any], path: str, causes: list[Cause]) -> Any:
    """The pruned value; problems are appended to causes."""
    if value is None:
        if schema.get("nullable"):
            return None
        return value
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, (int, str)) or isinstance(value, bool):
            causes.append(_cause(path, value, f"{path} in body must be of type integer or string"))
        return value
    kind = schema.get("type")
    if kind and not _type_ok(value, str(kind)):
        causes.append(_cause(path, value, f"{path} in body must be of type {kind}: {_shown(value)}"))
        return value
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(_shown(item) for item in schema["enum"])
        causes.append(
            {
                "reason": "FieldValueNotSupported",
                "message": f"Unsupported value: {_shown(value)}: supported values: {allowed}",
                "field": path,
            }
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            causes.append(_cause(path, value, f"{path} in body should be greater than or equal to {schema['minimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            causes.append(_cause(path, value, f"{path} in body should be less than or equal to {schema['maximum']}"))
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        for required in schema.get("required") or []:
            if required not in value:
                causes.append(
                    {"reason": "FieldValueRequired", "message": "Required value", "field": f"{path}.{required}"}
                )
        result: dict[str, Any] = {}
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if key in properties:
                result[key] = check(item, properties[key], child, causes)
            elif isinstance(additional, dict):
                result[key] = check(item, additional, child, causes)
            elif additional is True or preserve or (not properties and kind != "object" and not schema):
                result[key] = item
            # else: pruned, as the API server drops fields its schema does not know
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [check(item, schema["items"], f"{path}[{index}]", causes) for index, item in enumerate(value)]
    return value


def _cause(path: str, value: Any, detail: str) -> Cause:
    return {"reason": "FieldValueInvalid", "message": f"Invalid value: {_shown(value)}: {detail}", "field": path}


def validate_custom_resource(obj: dict[str, Any], schema: dict[str, Any] | None) -> list[Cause]:
    """Prune obj in place and return the causes (metadata, apiVersion and kind are left alone)."""
    if not schema:
        return []
    causes: list[Cause] = []
    properties = schema.get("properties") or {}
    preserve = schema.get("x-kubernetes-preserve-unknown-fields")
    for key in list(obj):
        if key in ("apiVersion", "kind", "metadata"):
            continue
        if key in properties:
            obj[key] = check(obj[key], properties[key], key, causes)
        elif not preserve:
            del obj[key]
    for required in schema.get("required") or []:
        if required not in obj and required not in ("apiVersion", "kind", "metadata"):
            causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": required})
    return causes
