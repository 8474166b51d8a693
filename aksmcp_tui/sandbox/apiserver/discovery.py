"""Discovery documents: /version, /api, /apis, group and group-version resource lists, and a
minimal OpenAPI v3 index that tells kubectl the server validates fields itself."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aksmcp_tui.sandbox.apiserver.resources import Registry

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4-aksmcp-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-11-24T00:00:00Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def core_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{version}", "version": version} for version in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = [_group(name, versions) for name, versions in registry.group_versions().items() if name]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, name: str) -> dict[str, Any] | None:
    versions = registry.group_versions().get(name)
    if not name or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.in_group_version(group, version)
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for resource_type in sorted(types, key=lambda t: t.plural):
        resources.extend(resource_type.discovery_entries())
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


# ------------------------------------------------------------------- OpenAPI v3
def openapi_path_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_v3_gv(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """One group-version's document: enough for kubectl to see that PATCH accepts
    `fieldValidation` (so it leaves validation to us) and to find each kind."""
    types = registry.in_group_version(group, version)
    if not types:
        return None
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    parameter = {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for resource_type in types:
        gvk = [{"group": group, "version": version, "kind": resource_type.kind}]
        item = (
            f"{prefix}/namespaces/{{namespace}}/{resource_type.plural}/{{name}}"
            if resource_type.namespaced
            else f"{prefix}/{resource_type.plural}/{{name}}"
        )
        ok = {"200": {"description": "OK"}}
        paths[item] = {
            "get": {"x-kubernetes-group-version-kind": gvk[0], "x-kubernetes-action": "get", "responses": ok},
            "patch": {
                "x-kubernetes-group-version-kind": gvk[0],
                "x-kubernetes-action": "patch",
                "parameters": [parameter],
                "responses": ok,
            },
            "put": {
                "x-kubernetes-group-version-kind": gvk[0],
                "x-kubernetes-action": "put",
                "parameters": [parameter],
                "responses": ok,
            },
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def openapi_v3_index(registry: Registry) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for group, versions in registry.group_versions().items():
        for version in versions:
            document = openapi_v3_gv(registry, group, version)
            digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32].upper()
            key = openapi_path_key(group, version)
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


def _proto_string(field: int, text: str) -> bytes:
    data = text.encode()
    assert len(data) < 128  # one-byte varint length is enough here
    return bytes([field << 3 | 2, len(data)]) + data


def openapi_v2_protobuf() -> bytes:
    """An OpenAPI v2 document with no paths, protobuf-encoded (gnostic openapi_v2.Document:
    swagger=1, info=2 {title=1, version=2}) as kubectl asks for it.

    With it kubectl finds no server-side support for the kinds it does not know and falls
    back to its own checks, so an uninstalled kind ends in "no matches for kind" as on a
    real cluster instead of "failed to download openapi"."""
    info = _proto_string(1, "Kubernetes") + _proto_string(2, str(VERSION_INFO["gitVersion"]))
    return _proto_string(1, "2.0") + bytes([2 << 3 | 2, len(info)]) + info
