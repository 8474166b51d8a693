"""Object validation: strict decoding (unknown fields, wrong JSON types) against the official
client's models, and the semantic checks behind 422 Invalid answers."""

from __future__ import annotations

import functools
import re
import types
import typing
from datetime import datetime
from typing import Any

from aksmcp_tui.sandbox.apiserver.resources import ResourceType

Cause = dict[str, str]

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_MESSAGE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def invalid(field: str, value: Any, detail: str) -> Cause:
    shown = f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else value
    return {"reason": "FieldValueInvalid", "message": f"Invalid value: {shown}: {detail}", "field": field}


def required(field: str, detail: str = "") -> Cause:
    return {
        "reason": "FieldValueRequired",
        "message": "Required value" + (f": {detail}" if detail else ""),
        "field": field,
    }


def duplicate(field: str, value: Any) -> Cause:
    return {"reason": "FieldValueDuplicate", "message": f'Duplicate value: "{value}"', "field": field}


def not_supported(field: str, value: Any, allowed: list[str]) -> Cause:
    quoted = ", ".join(f'"{item}"' for item in allowed)
    return {
        "reason": "FieldValueNotSupported",
        "message": f'Unsupported value: "{value}": supported values: {quoted}',
        "field": field,
    }


# ---------------------------------------------------------------- strict decoding
@functools.lru_cache(maxsize=256)
def model_for(api_version: str, kind: str) -> Any:
    version = api_version.rpartition("/")[2]
    try:
        from kubernetes.client import models
    except ImportError:  # the sandbox still works without the client installed
        return None
    return getattr(models, f"{version[:1].upper()}{version[1:]}{kind}", None)


@functools.lru_cache(maxsize=2048)
def _json_to_attr(model: Any) -> dict[str, str]:
    return {json_name: attr for attr, json_name in model.attribute_map.items()}


_GO_TYPE = {int: "int32", str: "string", bool: "bool", float: "float64"}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _matches_scalar(value: Any, target: Any) -> bool:
    if target is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if target is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if target is bool:
        return isinstance(value, bool)
    if target in (str, bytes, datetime):
        return isinstance(value, str)
    return True


def _strip(annotation: Any) -> list[Any]:
    """Alternatives of an annotation with Optional/Annotated removed."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _strip(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        result: list[Any] = []
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                result.extend(_strip(arg))
        return result
    return [annotation]


def check_types(
    value: Any,
    annotation: Any,
    path: str,
    owner: str,
    unknown: list[str],
    type_errors: list[str],
    prune: bool = False,
) -> None:
    if value is None:
        return
    alternatives = _strip(annotation)
    models = [alt for alt in alternatives if hasattr(alt, "attribute_map")]
    if models and isinstance(value, dict):
        model = models[0]
        mapping = _json_to_attr(model)
        fields = model.model_fields
        for key, child in list(value.items()):
            attr = mapping.get(key)
            child_path = f"{path}.{key}" if path else key
            if attr is None:
                unknown.append(child_path)
                if prune:
                    del value[key]  # the Go decoder drops fields it does not know
                continue
            field = fields.get(attr)
            if field is not None:  # a few attributes are renamed in the models (e.g. `schema`)
                check_types(child, field.annotation, child_path, model.__name__[2:], unknown, type_errors, prune)
        return
    for alt in alternatives:
        origin = typing.get_origin(alt)
        if origin in (list, typing.List) and isinstance(value, list):  # noqa: UP006
            (item_type,) = typing.get_args(alt) or (Any,)
            for index, item in enumerate(value):
                check_types(item, item_type, f"{path}[{index}]", owner, unknown, type_errors, prune)
            return
        if origin in (dict, typing.Dict) and isinstance(value, dict):  # noqa: UP006
            args = typing.get_args(alt)
            item_type = args[1] if len(args) == 2 else Any
            for key, item in value.items():
                check_types(item, item_type, f"{path}[{key}]", owner, unknown, type_errors, prune)
            return
        if (
            origin is None
            and _matches_scalar(value, alt)
            and not hasattr(alt, "attribute_map")
            and (alt in (int, str, bool, float, bytes, datetime, object) or alt is typing.Any)
        ):
            return
    if any(alt is Any or alt is object for alt in alternatives):
        return
    target = next((alt for alt in alternatives if alt in _GO_TYPE), None)
    if models:
        go_type = models[0].__name__[2:]
    elif target is not None:
        go_type = _GO_TYPE[target]
    elif any(typing.get_origin(alt) in (list, typing.List) for alt in alternatives):  # noqa: UP006
        go_type = "[]" + "interface {}"
    elif any(typing.get_origin(alt) in (dict, typing.Dict) for alt in alternatives):  # noqa: UP006
        go_type = "map[string]string"
    else:
        return
    type_errors.append(
        f"json: cannot unmarshal {_json_type(value)} into Go struct field {owner}.{path} of type {go_type}"
    )


def strict_decode(rt: ResourceType, obj: dict[str, Any], prune: bool = True) -> tuple[list[str], list[str]]:
    """(unknown field paths, JSON type errors) for built-in kinds; nothing for CRDs.

    With prune, unknown fields are removed from obj, as the real decoder drops them."""
    if rt.crd:
        return [], []
    model = model_for(rt.group_version, rt.kind)
    if model is None:
        return [], []
    unknown: list[str] = []
    type_errors: list[str] = []
    check_types(obj, model, "", rt.kind, unknown, type_errors, prune)
    if rt.kind == "Secret" and isinstance(obj.get("data"), dict):
        for key, value in obj["data"].items():
            if isinstance(value, str) and not _is_base64(value):
                type_errors.append(f"illegal base64 data in Secret.data[{key}]")
    return unknown, type_errors


def required_status_defaults(rt: ResourceType) -> dict[str, Any]:
    """Zero values of the status fields the Go types always serialise (non-omitempty), e.g.
    ReplicaSet `replicas`, HPA `desiredReplicas`: typed clients (pydantic models) insist on them."""
    if rt.crd:
        return {}
    model = model_for(rt.group_version, rt.kind)
    field = getattr(model, "model_fields", {}).get("status") if model is not None else None
    if field is None:
        return {}
    status_models = [alt for alt in _strip(field.annotation) if hasattr(alt, "attribute_map")]
    if not status_models:
        return {}
    status_model = status_models[0]
    zero = {int: 0, str: "", bool: False, float: 0.0}
    result: dict[str, Any] = {}
    for attr, info in status_model.model_fields.items():
        if not info.is_required():
            continue
        kinds = _strip(info.annotation)
        value = next((zero[kind] for kind in kinds if kind in zero), None)
        if value is None and any(typing.get_origin(kind) in (list, typing.List) for kind in kinds):  # noqa: UP006
            value = []
        if value is not None:
            result[status_model.attribute_map.get(attr, attr)] = value
    return result


def _is_base64(text: str) -> bool:
    import base64
    import binascii

    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# --------------------------------------------------------------------- semantics
def _name_rule(rt: ResourceType) -> tuple[re.Pattern[str], str, int]:
    if rt.plural in ("namespaces",):
        return DNS1123_LABEL, LABEL_MESSAGE, 63
    if rt.plural == "services":
        return DNS1035_LABEL, DNS1035_MESSAGE, 63
    return DNS1123_SUBDOMAIN, SUBDOMAIN_MESSAGE, 253


def validate_metadata(rt: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not name:
        causes.append(required("metadata.name", "name or generateName is required"))
    else:
        pattern, message, limit = _name_rule(rt)
        if len(str(name)) > limit:
            causes.append(invalid("metadata.name", name, f"must be no more than {limit} characters"))
        elif not pattern.match(str(name)):
            causes.append(invalid("metadata.name", name, message))
    for key, value in (meta.get("labels") or {}).items():
        prefix, _, short = str(key).rpartition("/")
        if (
            not short
            or len(short) > 63
            or not QUALIFIED_NAME.match(short)
            or (prefix and not DNS1123_SUBDOMAIN.match(prefix))
        ):
            causes.append(
                invalid(
                    "metadata.labels",
                    key,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character",
                )
            )
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            causes.append(
                invalid(
                    "metadata.labels",
                    value,
                    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character",
                )
            )
    return causes


def _validate_pod_spec(spec: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(spec, dict):
        return [required(path)]
    containers = spec.get("containers")
    if not containers:
        causes.append(required(f"{path}.containers"))
        return causes
    seen: set[str] = set()
    volume_names = {v.get("name") for v in spec.get("volumes") or [] if isinstance(v, dict)}
    for group in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(group) or []):
            where = f"{path}.{group}[{index}]"
            if not isinstance(container, dict):
                causes.append(required(where))
                continue
            name = container.get("name")
            if not name:
                causes.append(required(f"{where}.name"))
            elif not DNS1123_LABEL.match(str(name)):
                causes.append(invalid(f"{where}.name", name, LABEL_MESSAGE))
            elif name in seen:
                causes.append(duplicate(f"{where}.name", name))
            else:
                seen.add(str(name))
            if not container.get("image"):
                causes.append(required(f"{where}.image"))
            for port_index, port in enumerate(container.get("ports") or []):
                number = port.get("containerPort") if isinstance(port, dict) else None
                if not isinstance(number, int) or not 0 < number < 65536:
                    causes.append(
                        invalid(
                            f"{where}.ports[{port_index}].containerPort",
                            number,
                            "must be between 1 and 65535, inclusive",
                        )
                    )
            for mount_index, mount in enumerate(container.get("volumeMounts") or []):
                if isinstance(mount, dict) and mount.get("name") not in volume_names:
                    causes.append(
                        {
                            "reason": "FieldValueNotFound",
                            "message": f'Not found: "{mount.get("name")}"',
                            "field": f"{where}.volumeMounts[{mount_index}].name",
                        }
                    )
    policy = spec.get("restartPolicy")
    if policy is not None and policy not in ("Always", "OnFailure", "Never"):
        causes.append(not_supported(f"{path}.restartPolicy", policy, ["Always", "OnFailure", "Never"]))
    return causes


def _selector_matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _validate_workload(kind: str, spec: Any) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(spec, dict):
        return [required("spec")]
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        causes.append(invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    selector = spec.get("selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.append(required("spec.selector"))
    elif not _selector_matches(selector, labels):
        shown = "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "message": f"Invalid value: {shown}: `selector` does not match template `labels`",
                "field": "spec.template.metadata.labels",
            }
        )
    causes.extend(_validate_pod_spec(template.get("spec"), "spec.template.spec"))
    policy = (template.get("spec") or {}).get("restartPolicy")
    if policy not in (None, "Always"):
        causes.append(not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
    if kind == "Deployment":
        strategy = spec.get("strategy") or {}
        kind_of = strategy.get("type")
        if kind_of not in (None, "RollingUpdate", "Recreate"):
            causes.append(not_supported("spec.strategy.type", kind_of, ["Recreate", "RollingUpdate"]))
        rolling = strategy.get("rollingUpdate") or {}
        if rolling and _intstr_zero(rolling.get("maxSurge")) and _intstr_zero(rolling.get("maxUnavailable")):
            causes.append(
                invalid(
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    rolling.get("maxUnavailable"),
                    "may not be 0 when `maxSurge` is 0",
                )
            )
    return causes


def _intstr_zero(value: Any) -> bool:
    return value in (0, "0%", "0")


def _validate_service(spec: Any) -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(spec, dict):
        return [required("spec")]
    kind = spec.get("type", "ClusterIP")
    if kind not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        causes.append(not_supported("spec.type", kind, ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]))
    ports = spec.get("ports") or []
    if not ports and kind != "ExternalName" and spec.get("clusterIP") != "None":
        causes.append(required("spec.ports"))
    names: set[str] = set()
    for index, port in enumerate(ports):
        number = port.get("port") if isinstance(port, dict) else None
        if not isinstance(number, int) or not 0 < number < 65536:
            causes.append(invalid(f"spec.ports[{index}].port", number, "must be between 1 and 65535, inclusive"))
        name = port.get("name") if isinstance(port, dict) else None
        if len(ports) > 1 and not name:
            causes.append(required(f"spec.ports[{index}].name"))
        if name:
            if name in names:
                causes.append(duplicate(f"spec.ports[{index}].name", name))
            names.add(name)
    return causes


def _validate_data(obj: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for field in ("data", "stringData", "binaryData"):
        for key in obj.get(field) or {}:
            if not CONFIG_KEY.match(str(key)):
                causes.append(
                    invalid(
                        f"{field}[{key}]",
                        key,
                        "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                        "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
                        "'[-._a-zA-Z0-9]+')",
                    )
                )
    return causes


def validate(rt: ResourceType, obj: dict[str, Any]) -> list[Cause]:
    causes = validate_metadata(rt, obj)
    if rt.crd:
        from aksmcp_tui.sandbox.apiserver.crdschema import validate_custom_resource

        return causes + validate_custom_resource(obj, rt.schema)
    spec = obj.get("spec")
    if rt.kind == "Pod" and not rt.crd:
        causes.extend(_validate_pod_spec(spec, "spec"))
    elif rt.kind in ("Deployment", "ReplicaSet") and not rt.crd:
        causes.extend(_validate_workload(rt.kind, spec))
    elif rt.kind == "Service" and not rt.crd:
        causes.extend(_validate_service(spec))
    elif rt.kind in ("ConfigMap", "Secret"):
        causes.extend(_validate_data(obj))
    elif rt.kind == "CustomResourceDefinition":
        causes.extend(_validate_crd(obj))
    return causes


def _validate_crd(obj: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group")
    if not group:
        causes.append(required("spec.group"))
    if not names.get("plural"):
        causes.append(required("spec.names.plural"))
    if not names.get("kind"):
        causes.append(required("spec.names.kind"))
    if not spec.get("versions"):
        causes.append(required("spec.versions"))
    name = (obj.get("metadata") or {}).get("name")
    if group and names.get("plural") and name != f"{names['plural']}.{group}":
        causes.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(not_supported("spec.scope", spec.get("scope"), ["Cluster", "Namespaced"]))
    return causes
