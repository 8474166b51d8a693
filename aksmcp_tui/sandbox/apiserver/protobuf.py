"""Decoding of the Kubernetes protobuf wire format for the few kinds kubectl's generators send
that way (`kubectl create namespace|configmap|secret|serviceaccount|deployment`).

The body is `k8s\\0` + runtime.Unknown{typeMeta=1{apiVersion=1, kind=2}, raw=2}; raw is the
object's message. The schemas below list the field numbers of k8s.io/api generated.proto for
the fields those generators fill in; other fields are skipped."""

from __future__ import annotations

import base64
from typing import Any

MAGIC = b"k8s\x00"

# field number -> (json name, kind); kinds: "s" string, "b" bytes (base64 in JSON), "i" int
# ("i0": omitted when zero),
# "?" bool, "ms" map<string,string>, "mb" map<string,bytes>, "*s" repeated string,
# "@Name" message, "*@Name" repeated message, "ios" IntOrString.
Schema = dict[int, tuple[str, str]]
SCHEMAS: dict[str, Schema] = {
    "ObjectMeta": {
        1: ("name", "s"),
        2: ("generateName", "s"),
        3: ("namespace", "s"),
        6: ("resourceVersion", "s"),
        11: ("labels", "ms"),
        12: ("annotations", "ms"),
        14: ("finalizers", "*s"),
    },
    "Namespace": {1: ("metadata", "@ObjectMeta"), 2: ("spec", "@NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "*s")},
    "ConfigMap": {1: ("metadata", "@ObjectMeta"), 2: ("data", "ms"), 3: ("binaryData", "mb"), 4: ("immutable", "?")},
    "Secret": {
        1: ("metadata", "@ObjectMeta"),
        2: ("data", "mb"),
        3: ("type", "s"),
        4: ("stringData", "ms"),
        5: ("immutable", "?"),
    },
    "ServiceAccount": {1: ("metadata", "@ObjectMeta"), 4: ("automountServiceAccountToken", "?")},
    "Deployment": {1: ("metadata", "@ObjectMeta"), 2: ("spec", "@DeploymentSpec")},
    "DeploymentSpec": {
        1: ("replicas", "i"),
        2: ("selector", "@LabelSelector"),
        3: ("template", "@PodTemplateSpec"),
        4: ("strategy", "@DeploymentStrategy"),
        5: ("minReadySeconds", "i0"),
        6: ("revisionHistoryLimit", "i"),
        7: ("paused", "?"),
        9: ("progressDeadlineSeconds", "i"),
    },
    "LabelSelector": {1: ("matchLabels", "ms"), 2: ("matchExpressions", "*@LabelSelectorRequirement")},
    "LabelSelectorRequirement": {1: ("key", "s"), 2: ("operator", "s"), 3: ("values", "*s")},
    "DeploymentStrategy": {1: ("type", "s"), 2: ("rollingUpdate", "@RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "ios"), 2: ("maxSurge", "ios")},
    "PodTemplateSpec": {1: ("metadata", "@ObjectMeta"), 2: ("spec", "@PodSpec")},
    "PodSpec": {
        2: ("containers", "*@Container"),
        3: ("restartPolicy", "s"),
        4: ("terminationGracePeriodSeconds", "i"),
        20: ("initContainers", "*@Container"),
    },
    "Container": {
        1: ("name", "s"),
        2: ("image", "s"),
        3: ("command", "*s"),
        4: ("args", "*s"),
        5: ("workingDir", "s"),
        6: ("ports", "*@ContainerPort"),
        7: ("env", "*@EnvVar"),
        8: ("resources", "@Empty"),
        13: ("terminationMessagePath", "s"),
        14: ("imagePullPolicy", "s"),
        20: ("terminationMessagePolicy", "s"),
    },
    "ContainerPort": {1: ("name", "s"), 2: ("hostPort", "i0"), 3: ("containerPort", "i"), 4: ("protocol", "s")},
    "EnvVar": {1: ("name", "s"), 2: ("value", "s")},
    "Empty": {},
}


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if position >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift > 70:
            raise ProtobufError("varint too long")


def fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) in order; values are ints or bytes."""
    result: list[tuple[int, int, Any]] = []
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            length, position = _varint(data, position)
            if position + length > len(data):
                raise ProtobufError("truncated field")
            value = data[position : position + length]
            position += length
        elif wire == 1:
            value, position = data[position : position + 8], position + 8
        elif wire == 5:
            value, position = data[position : position + 4], position + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        result.append((number, wire, value))
    return result


def _int(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _text(value: Any) -> str:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a length-delimited field")
    return value.decode("utf-8")


def _map_entry(value: bytes, binary: bool) -> tuple[str, str]:
    key = ""
    item = ""
    for number, _, part in fields(value):
        if number == 1:
            key = _text(part)
        elif number == 2:
            item = base64.b64encode(part).decode() if binary else _text(part)
    return key, item


def decode_message(data: bytes, schema_name: str) -> dict[str, Any]:
    schema = SCHEMAS[schema_name]
    result: dict[str, Any] = {}
    for number, _, value in fields(data):
        if number not in schema:
            continue
        name, kind = schema[number]
        if kind == "s":
            text = _text(value)
            if text:  # gogo-protobuf always writes strings; JSON omits empty ones
                result[name] = text
        elif kind == "b":
            result[name] = base64.b64encode(value).decode()
        elif kind == "i":
            result[name] = _int(value)
        elif kind == "i0":  # omitempty in Go: a zero is not shown
            if _int(value):
                result[name] = _int(value)
        elif kind == "?":
            result[name] = bool(value)
        elif kind in ("ms", "mb"):
            key, item = _map_entry(value, kind == "mb")
            result.setdefault(name, {})[key] = item
        elif kind == "*s":
            result.setdefault(name, []).append(_text(value))
        elif kind == "ios":
            parts = {n: v for n, _, v in fields(value)}
            result[name] = _text(parts[3]) if parts.get(1) == 1 and 3 in parts else _int(parts.get(2, 0))
        elif kind.startswith("*@"):
            result.setdefault(name, []).append(decode_message(value, kind[2:]))
        elif kind.startswith("@"):
            result[name] = decode_message(value, kind[1:])
    return result


def decode_object(body: bytes) -> dict[str, Any] | None:
    """The JSON form of a protobuf-encoded object, or None for a kind not listed here."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf envelope")
    api_version = kind = ""
    raw = b""
    for number, _, value in fields(body[len(MAGIC) :]):
        if number == 1:
            for part_number, _, part in fields(value):
                if part_number == 1:
                    api_version = _text(part)
                elif part_number == 2:
                    kind = _text(part)
        elif number == 2:
            raw = value
    if kind not in SCHEMAS or kind in ("ObjectMeta", "Empty"):
        return None
    obj = {"apiVersion": api_version, "kind": kind, **decode_message(raw, kind)}
    return obj
