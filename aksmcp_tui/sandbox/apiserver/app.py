"""The HTTP API: routing, auth, discovery and the REST verbs over the Store."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import yaml
from aiohttp import web

from aksmcp_tui.sandbox.apiserver import discovery
from aksmcp_tui.sandbox.apiserver.apply import ApplyConflict, server_side_apply, track_update
from aksmcp_tui.sandbox.apiserver.defaults import apply_defaults, cluster_ip_for
from aksmcp_tui.sandbox.apiserver.patch import PatchError, json_merge_patch, json_patch, strategic_merge_patch
from aksmcp_tui.sandbox.apiserver.protobuf import ProtobufError
from aksmcp_tui.sandbox.apiserver.protobuf import decode_object as decode_protobuf
from aksmcp_tui.sandbox.apiserver.resources import Registry, ResourceType
from aksmcp_tui.sandbox.apiserver.status import ApiError, status_body, status_response
from aksmcp_tui.sandbox.apiserver.tables import table, wants_table
from aksmcp_tui.sandbox.apiserver.validation import required_status_defaults, strict_decode, validate
from aksmcp_tui.sandbox.quota import quota_denial
from aksmcp_tui.sandbox.selectors import SelectorError, combine, parse_field_selector, parse_label_selector
from aksmcp_tui.sandbox.store import (
    AlreadyExistsError,
    ConflictError,
    Entry,
    GoneError,
    NotFoundError,
    Store,
    WatchEvent,
    dump_json,
    filter_event,
    now_rfc3339,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 3 * 1024 * 1024  # the real API server's limit
DEFAULT_WATCH_TIMEOUT = 1800.0
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "unsupported",
}
UNKNOWN_PATCH_MESSAGE = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
)


def _json_response(text: str, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    response = web.Response(text=text, status=status, content_type="application/json")
    for warning in warnings or []:
        escaped = warning.replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{escaped}"')
    return response


def _obj_response(obj: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    return _json_response(dump_json(obj), status, warnings)


def _not_found_status(rt: ResourceType, name: str) -> ApiError:
    label = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
    return ApiError(
        404, "NotFound", f'{label} "{name}" not found', {"name": name, "group": rt.group, "kind": rt.plural}
    )


def _no_resource() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def _resource_label(rt: ResourceType) -> str:
    return f"{rt.plural}.{rt.group}" if rt.group else rt.plural


class ApiServer:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        token: str,
        node: Callable[[], Any],
        bookmark_interval: float = 1.0,
    ) -> None:
        self.store = store
        self.registry = registry
        self.token = token
        self._node = node
        self.bookmark_interval = bookmark_interval
        self.server_address = "127.0.0.1:0"
        self.closing = asyncio.Event()
        self.on_crd_change: Callable[[], None] | None = None

    # ------------------------------------------------------------- app setup
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[self._middleware])
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        # Like a real cluster's system:public-info-viewer: health and version need no token.
        if request.path.rstrip("/") not in ("/healthz", "/livez", "/readyz", "/version"):
            header = request.headers.get("Authorization", "")
            if not hmac.compare_digest(header.encode(), f"Bearer {self.token}".encode()):
                return status_response(401, "Unauthorized", "Unauthorized")
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except ApiError as error:
            return error.response()
        except web.HTTPRequestEntityTooLarge:
            return status_response(413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_BODY_BYTES}")
        except web.HTTPException:
            raise
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as error:  # never let a bad request take the server down
            log.exception("internal error serving %s %s", request.method, request.path)
            return status_response(500, "InternalError", f"Internal error occurred: {error}")

    # -------------------------------------------------------------- routing
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [part for part in request.path.split("/") if part]
        if not parts:
            return _obj_response({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/openapi/v3", "/version"]})
        head = parts[0]
        is_resource = (head == "api" and len(parts) > 2) or (head == "apis" and len(parts) > 3)
        if not is_resource and request.method not in ("GET", "HEAD"):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if head in ("healthz", "livez", "readyz"):
            return web.Response(text="ok", content_type="text/plain")
        if head == "version" and len(parts) == 1:
            return _obj_response(discovery.VERSION_INFO)
        if head == "openapi":
            return self._openapi(parts[1:])
        if head == "api":
            if len(parts) == 1:
                return _obj_response(discovery.core_versions(self.server_address))
            if parts[1] != "v1":
                raise _no_resource()
            if len(parts) == 2:
                return _obj_response(discovery.resource_list(self.registry, "", "v1"))
            return await self._resource_request(request, "", "v1", parts[2:])
        if head == "apis":
            if len(parts) == 1:
                return _obj_response(discovery.api_group_list(self.registry))
            group = parts[1]
            if len(parts) == 2:
                document = discovery.api_group(self.registry, group)
                if document is None:
                    raise _no_resource()
                return _obj_response(document)
            version = parts[2]
            if len(parts) == 3:
                listing = discovery.resource_list(self.registry, group, version)
                if listing is None:
                    raise _no_resource()
                return _obj_response(listing)
            return await self._resource_request(request, group, version, parts[3:])
        raise _no_resource()

    def _openapi(self, parts: list[str]) -> web.Response:
        if parts == ["v2"]:
            return web.Response(
                body=discovery.openapi_v2_protobuf(),
                content_type="application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            )
        if parts == ["v3"]:
            return _obj_response(discovery.openapi_v3_index(self.registry))
        if len(parts) >= 3 and parts[0] == "v3":
            rest = parts[1:]
            document = None
            if rest[0] == "api" and len(rest) == 2:
                document = discovery.openapi_v3_gv(self.registry, "", rest[1])
            elif rest[0] == "apis" and len(rest) == 3:
                document = discovery.openapi_v3_gv(self.registry, rest[1], rest[2])
            if document is not None:
                return _obj_response(document)
        raise _no_resource()

    async def _resource_request(
        self, request: web.Request, group: str, version: str, rest: list[str]
    ) -> web.StreamResponse:
        if not self.registry.has_group_version(group, version):
            raise _no_resource()
        watch_path = False
        if rest and rest[0] == "watch":
            watch_path, rest = True, rest[1:]
        namespace: str | None = None
        if (
            len(rest) >= 3
            and rest[0] == "namespaces"
            and (found := self.registry.lookup(group, version, rest[2])) is not None
            and found.namespaced
        ):
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise _no_resource()
        rt = self.registry.lookup(group, version, rest[0])
        if rt is None:
            raise _no_resource()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if namespace is not None and not rt.namespaced:
            raise _no_resource()
        if rt.namespaced and name is not None and namespace is None:
            raise _no_resource()
        method = request.method
        query = request.query
        if rt.review:
            if name is not None or method != "POST":
                raise ApiError(
                    405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                )
            return await self._review(request, rt)
        if name is None:
            if method == "GET":
                if watch_path or _truthy(query.get("watch")):
                    return await self._watch(request, rt, namespace)
                return self._list(request, rt, namespace)
            if method == "POST":
                return await self._create(request, rt, namespace)
            if method == "DELETE":
                return await self._delete_collection(request, rt, namespace)
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if watch_path:
            return await self._watch(request, rt, namespace, name)
        if sub is None:
            if method == "GET":
                return self._get(request, rt, namespace, name)
            if method == "PUT":
                return await self._update(request, rt, namespace, name)
            if method == "PATCH":
                return await self._patch(request, rt, namespace, name)
            if method == "DELETE":
                return await self._delete(request, rt, namespace, name)
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        return await self._subresource(request, rt, namespace, name, sub)

    # ------------------------------------------------------------- helpers
    def _entry(self, rt: ResourceType, namespace: str | None, name: str) -> Entry:
        try:
            return self.store.entry(rt.store_key, namespace, name)
        except NotFoundError:
            raise _not_found_status(rt, name) from None

    async def _read_body(self, request: web.Request, rt: ResourceType, *, yaml_ok: bool = True) -> Any:
        raw = await request.read()
        if len(raw) > MAX_BODY_BYTES:
            raise ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_BODY_BYTES}")
        content_type = request.content_type
        if content_type == "application/vnd.kubernetes.protobuf":
            # kubectl's `create namespace|configmap|secret|serviceaccount|deployment` send protobuf
            try:
                decoded = decode_protobuf(raw)
            except (ProtobufError, UnicodeDecodeError, KeyError) as error:
                raise ApiError(400, "BadRequest", f"unable to decode the protobuf body: {error}") from None
            if decoded is not None:
                return decoded
        if "protobuf" in content_type or "cbor" in content_type:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json, application/yaml",
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ApiError(400, "BadRequest", f"the body is not valid UTF-8: {error}") from None
        if not text.strip():
            raise ApiError(400, "BadRequest", "the request body is empty")
        try:
            if "yaml" in content_type and yaml_ok:
                return yaml.safe_load(text)
            return json.loads(text)
        except (ValueError, yaml.YAMLError) as error:
            summary = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ApiError(
                400,
                "BadRequest",
                f"the object provided is unrecognized (must be of type {rt.kind}): "
                f"couldn't get version/kind; json parse error: {summary}",
            ) from None

    def _manager(self, request: web.Request, default_suffix: str = "") -> str:
        manager = request.query.get("fieldManager")
        if manager:
            if len(manager) > 128:
                raise ApiError(422, "Invalid", "fieldManager: Too long: may not be longer than 128")
            return manager
        agent = request.headers.get("User-Agent", "unknown")
        return agent.split("/", 1)[0] + default_suffix

    def _prepare(
        self, rt: ResourceType, body: Any, namespace: str | None, name: str | None, request: web.Request
    ) -> tuple[dict[str, Any], list[str]]:
        """Check identity fields and decode strictly; returns (object, warnings)."""
        if not isinstance(body, dict):
            raise ApiError(
                400, "BadRequest", f"the object provided is unrecognized (must be of type {rt.kind}): not an object"
            )
        api_version = body.get("apiVersion")
        kind = body.get("kind")
        if api_version and api_version != rt.group_version:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rt.group_version})",
            )
        if kind and kind != rt.kind:
            raise ApiError(
                400, "BadRequest", f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
            )
        body["apiVersion"], body["kind"] = rt.group_version, rt.kind
        meta = body.get("metadata")
        if meta is None:
            meta = body["metadata"] = {}
        if not isinstance(meta, dict):
            raise ApiError(
                400, "BadRequest", f'{rt.kind} in version "{rt.version}" cannot be handled: metadata must be an object'
            )
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            meta["namespace"] = namespace or body_ns or "default"
        else:
            meta.pop("namespace", None)
        if name is not None:
            if meta.get("name") and meta["name"] != name:
                raise ApiError(
                    400,
                    "BadRequest",
                    f"the name of the object ({meta['name']}) does not match the name on the URL ({name})",
                )
            meta["name"] = name
        directive = request.query.get("fieldValidation", "Warn")
        if directive not in ("Strict", "Warn", "Ignore"):
            raise ApiError(
                400, "BadRequest", f'fieldValidation must be one of "Ignore", "Warn", or "Strict", got {directive!r}'
            )
        unknown, type_errors = strict_decode(rt, body, prune=True)
        prefix = f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
        if type_errors:
            raise ApiError(400, "BadRequest", prefix + type_errors[0])
        warnings: list[str] = []
        if unknown and directive == "Strict":
            text = ", ".join(f'unknown field "{path}"' for path in unknown)
            causes = [
                {"reason": "FieldValueInvalid", "message": f'unknown field "{path}"', "field": path} for path in unknown
            ]
            raise ApiError(400, "BadRequest", prefix + "strict decoding error: " + text, {"causes": causes})
        if unknown and directive == "Warn":
            warnings = [f'unknown field "{path}"' for path in unknown]
        return body, warnings

    def _validate(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None = None) -> None:
        causes = validate(rt, obj)
        if old is not None and rt.kind in ("Deployment", "ReplicaSet") and not rt.crd:
            old_selector = (old.get("spec") or {}).get("selector")
            new_selector = (obj.get("spec") or {}).get("selector")
            if old_selector != new_selector:
                causes.append(
                    {
                        "reason": "FieldValueInvalid",
                        "message": f"Invalid value: {dump_json(new_selector)}: field is immutable",
                        "field": "spec.selector",
                    }
                )
        if not causes:
            return
        name = (obj.get("metadata") or {}).get("name") or (obj.get("metadata") or {}).get("generateName", "")
        described = [f"{cause['field']}: {cause['message']}" for cause in causes]
        summary = described[0] if len(described) == 1 else "[" + ", ".join(described) + "]"
        raise ApiError(
            422,
            "Invalid",
            f'{rt.qualified} "{name}" is invalid: {summary}',
            {"name": name, "group": rt.group, "kind": rt.kind, "causes": causes},
        )

    def _check_namespace(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        if not rt.namespaced or namespace is None:
            return
        ns = self.store.peek("namespaces", None, namespace)
        if ns is None:
            raise ApiError(
                404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"}
            )
        if ns.get("metadata", {}).get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f'{_resource_label(rt)} "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                {"name": name, "group": rt.group, "kind": rt.plural},
            )

    def _on_create(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        """Type-specific fields the API server fills in on create."""
        if rt.status and not rt.crd:
            obj["status"] = required_status_defaults(rt)
        elif rt.crd and rt.status:
            obj.pop("status", None)
        apply_defaults(rt.kind if not rt.crd else "", obj)
        if rt.kind == "Service" and not rt.crd:
            spec = obj.setdefault("spec", {})
            if spec.get("type") != "ExternalName" and not spec.get("clusterIP"):
                meta = obj["metadata"]
                spec["clusterIP"] = cluster_ip_for(meta.get("namespace", ""), meta.get("name", ""))
            if spec.get("clusterIP") and "clusterIPs" not in spec:
                spec["clusterIPs"] = [spec["clusterIP"]]
            obj["status"] = {"loadBalancer": {}}
        if rt.kind == "CustomResourceDefinition" and not rt.crd:
            obj["status"] = _crd_status(obj)

    def _after_write(self, rt: ResourceType, obj: dict[str, Any] | None, deleted: bool = False) -> None:
        if rt.kind != "CustomResourceDefinition" or rt.crd:
            return
        name = "" if obj is None else str(obj.get("metadata", {}).get("name", ""))
        if deleted:
            for removed in self.registry.remove_crd(name):
                if not any(
                    t.store_key == removed.store_key
                    for t in self.registry.in_group_version(removed.group, removed.version)
                ):
                    self.store.drop_resource(removed.store_key)
        elif obj is not None:
            self.registry.install_crd(obj)
        if self.on_crd_change is not None:
            self.on_crd_change()

    async def _review(self, request: web.Request, rt: ResourceType) -> web.Response:
        """The one sandbox token may do everything (no RBAC), as `kubectl auth can-i` will say."""
        if "protobuf" in request.content_type:
            body: Any = {}  # kubectl sends these as protobuf; the answer does not depend on the spec
        else:
            body = await self._read_body(request, rt)
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", f"the object provided is unrecognized (must be of type {rt.kind})")
        body["apiVersion"], body["kind"] = rt.group_version, rt.kind
        body.setdefault("metadata", {})["creationTimestamp"] = None
        user = {"username": "aksmcp-sandbox-admin", "groups": ["system:masters", "system:authenticated"]}
        if rt.kind == "SelfSubjectAccessReview":
            body["status"] = {"allowed": True, "reason": "the aksmcp sandbox grants every request made with its token"}
        elif rt.kind == "SelfSubjectRulesReview":
            body["status"] = {
                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                "incomplete": False,
            }
        else:
            body["status"] = {"userInfo": user}
        return _obj_response(body, 201)

    # ---------------------------------------------------------------- verbs
    def _get(self, request: web.Request, rt: ResourceType, namespace: str | None, name: str) -> web.Response:
        entry = self._entry(rt, namespace, name)
        if wants_table(request.headers.get("Accept", "")):
            include = request.query.get("includeObject", "Metadata")
            return _obj_response(table(rt, [entry.obj], entry.obj["metadata"]["resourceVersion"], include))
        return _json_response(entry.json)

    def _list(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.Response:
        query = request.query
        try:
            entries, rv = self.store.list_entries(
                rt.store_key, namespace, query.get("labelSelector"), query.get("fieldSelector")
            )
        except SelectorError as error:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {error}") from None
        start = 0
        token = query.get("continue")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
                start = int(state["start"])
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, "BadRequest", "continue key is not valid") from None
        limit = query.get("limit")
        metadata: dict[str, Any] = {"resourceVersion": rv}
        if limit and limit.isdigit() and int(limit) > 0:
            end = start + int(limit)
            if end < len(entries):
                metadata["continue"] = base64.urlsafe_b64encode(json.dumps({"start": end, "rv": rv}).encode()).decode()
                metadata["remainingItemCount"] = len(entries) - end
            entries = entries[start:end]
        elif start:
            entries = entries[start:]
        if wants_table(request.headers.get("Accept", "")):
            document = table(rt, [entry.obj for entry in entries], rv, query.get("includeObject", "Metadata"))
            document["metadata"] = metadata
            return _obj_response(document)
        head = dump_json({"kind": rt.list_kind, "apiVersion": rt.group_version, "metadata": metadata})
        text = head[:-1] + ',"items":[' + ",".join(entry.json for entry in entries) + "]}"
        return _json_response(text)

    async def _create(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.Response:
        body = await self._read_body(request, rt)
        obj, warnings = self._prepare(rt, body, namespace, None, request)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = self.store.generated_name(rt.store_key, meta.get("namespace"), meta["generateName"])
        self._check_namespace(rt, meta.get("namespace"), str(meta.get("name", "")))
        self._on_create(rt, obj)
        self._validate(rt, obj)
        if rt.kind == "Pod" and not rt.crd:
            denial = quota_denial(self.store, str(meta.get("namespace")), str(meta.get("name")), obj.get("spec") or {})
            if denial:
                raise ApiError(403, "Forbidden", denial, {"name": meta.get("name"), "kind": "pods"})
        meta.pop("resourceVersion", None)
        meta.pop("uid", None)
        meta.pop("managedFields", None)
        track_update(None, obj, self._manager(request), rt.group_version)
        if request.query.get("dryRun") == "All":
            # what would be stored, with the fields the server fills in (nothing is kept)
            meta.update({"uid": str(uuid.uuid4()), "creationTimestamp": now_rfc3339()})
            if "spec" in obj:
                meta["generation"] = 1
            return _obj_response(obj, 201, warnings)
        try:
            entry = self.store.create_now(rt.store_key, obj, owned=True)
        except AlreadyExistsError:
            name = meta["name"]
            raise ApiError(
                409,
                "AlreadyExists",
                f'{_resource_label(rt)} "{name}" already exists',
                {"name": name, "group": rt.group, "kind": rt.plural},
            ) from None
        self._after_write(rt, entry.obj)
        return _json_response(entry.json, 201, warnings)

    def _conflict(self, rt: ResourceType, name: str) -> ApiError:
        return ApiError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {_resource_label(rt)} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again",
            {"name": name, "group": rt.group, "kind": rt.plural},
        )

    def _store_update(
        self, rt: ResourceType, old: Entry, obj: dict[str, Any], request: web.Request, subresource: str | None = None
    ) -> Entry:
        track_update(old.obj, obj, self._manager(request), rt.group_version, subresource)
        if request.query.get("dryRun") == "All":
            return Entry(obj)
        try:
            entry = self.store.update_now(rt.store_key, obj, owned=True)
        except ConflictError:
            raise self._conflict(rt, old.name) from None
        except NotFoundError:
            raise _not_found_status(rt, old.name) from None
        if entry is not old:
            self._after_write(rt, entry.obj)
        return entry

    async def _update(self, request: web.Request, rt: ResourceType, namespace: str | None, name: str) -> web.Response:
        body = await self._read_body(request, rt)
        obj, warnings = self._prepare(rt, body, namespace, name, request)
        old = self._entry(rt, namespace, name)
        sent_rv = obj["metadata"].get("resourceVersion")
        if sent_rv and str(sent_rv) != old.obj["metadata"]["resourceVersion"]:
            raise self._conflict(rt, name)
        obj = self._keep_server_fields(rt, old.obj, obj)
        self._validate(rt, obj, old.obj)
        entry = self._store_update(rt, old, obj, request)
        return _json_response(entry.json, 200, warnings)

    def _keep_server_fields(self, rt: ResourceType, old: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
        if rt.status and "status" in old:
            obj["status"] = copy.deepcopy(old["status"])
        elif rt.status:
            obj.pop("status", None)
        apply_defaults(rt.kind if not rt.crd else "", obj)
        if rt.kind == "Service" and not rt.crd:
            spec = obj.setdefault("spec", {})
            old_spec = old.get("spec") or {}
            for field in ("clusterIP", "clusterIPs"):
                if field in old_spec and not spec.get(field):
                    spec[field] = copy.deepcopy(old_spec[field])
        if rt.kind == "Namespace":
            obj["status"] = copy.deepcopy(old.get("status", {}))
        return obj

    async def _patch_document(self, request: web.Request, rt: ResourceType) -> tuple[str, Any]:
        kind = PATCH_TYPES.get(request.content_type)
        if kind is None or kind == "unsupported":
            raise ApiError(415, "UnsupportedMediaType", UNKNOWN_PATCH_MESSAGE)
        document = await self._read_body(request, rt, yaml_ok=True)
        if kind == "json" and not isinstance(document, list):
            raise ApiError(400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        if kind in ("merge", "strategic", "apply") and not isinstance(document, dict):
            raise ApiError(400, "BadRequest", f"the body of the patch must be an object, got {type(document).__name__}")
        return kind, document

    @staticmethod
    def _patched(kind: str, current: dict[str, Any], document: Any) -> Any:
        try:
            if kind == "merge":
                return json_merge_patch(current, document)
            if kind == "strategic":
                return strategic_merge_patch(current, document)
            return json_patch(current, document)
        except PatchError as error:
            raise ApiError(422, "Invalid", str(error)) from None

    async def _patch(self, request: web.Request, rt: ResourceType, namespace: str | None, name: str) -> web.Response:
        kind, document = await self._patch_document(request, rt)
        if kind == "apply":
            return await self._apply(request, rt, namespace, name, document)
        old = self._entry(rt, namespace, name)
        patched = self._patched(kind, old.copy(), document)
        obj, warnings = self._prepare(rt, patched, namespace, name, request)
        sent_rv = obj["metadata"].get("resourceVersion")
        if sent_rv and str(sent_rv) != old.obj["metadata"]["resourceVersion"]:
            raise self._conflict(rt, name)
        obj = self._keep_server_fields(rt, old.obj, obj)
        self._validate(rt, obj, old.obj)
        entry = self._store_update(rt, old, obj, request)
        return _json_response(entry.json, 200, warnings)

    async def _apply(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str, document: dict[str, Any]
    ) -> web.Response:
        manager = request.query.get("fieldManager")
        if not manager:
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
                {
                    "causes": [
                        {
                            "reason": "FieldValueRequired",
                            "message": "Required value: is required for apply patch",
                            "field": "fieldManager",
                        }
                    ]
                },
            )
        obj, warnings = self._prepare(rt, document, namespace, name, request)
        force = _truthy(request.query.get("force"))
        existing = self.store.peek(rt.store_key, namespace, name)
        current = self.store.entry(rt.store_key, namespace, name).copy() if existing is not None else None
        if current is None:
            self._check_namespace(rt, namespace, name)
        try:
            result = server_side_apply(current, obj, manager, rt.group_version, force)
        except ApplyConflict as conflict:
            causes = [
                {"reason": "FieldManagerConflict", "message": f'conflict with "{m}" using {v}', "field": f}
                for m, v, f in conflict.conflicts
            ]
            raise ApiError(409, "Conflict", str(conflict), {"causes": causes}) from None
        if current is not None and result is current:
            return _json_response(self.store.entry(rt.store_key, namespace, name).json, 200, warnings)
        result["apiVersion"], result["kind"] = rt.group_version, rt.kind
        if current is None:
            managed = result.get("metadata", {}).get("managedFields")
            self._on_create(rt, result)
            result["metadata"]["managedFields"] = managed
            self._validate(rt, result)
            if request.query.get("dryRun") == "All":
                return _obj_response(result, 201, warnings)
            try:
                entry = self.store.create_now(rt.store_key, result, owned=True)
            except AlreadyExistsError:
                raise self._conflict(rt, name) from None
            self._after_write(rt, entry.obj)
            return _json_response(entry.json, 201, warnings)
        old = self.store.entry(rt.store_key, namespace, name)
        result = self._keep_server_fields(rt, old.obj, result)
        result["metadata"]["resourceVersion"] = old.obj["metadata"]["resourceVersion"]
        self._validate(rt, result, old.obj)
        if request.query.get("dryRun") == "All":
            return _obj_response(result, 200, warnings)
        entry = self.store.update_now(rt.store_key, result, owned=True)
        if entry is not old:
            self._after_write(rt, entry.obj)
        return _json_response(entry.json, 200, warnings)

    async def _delete_options(self, request: web.Request) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if request.can_read_body:
            raw = await request.read()
            if raw.strip():
                try:
                    parsed = json.loads(raw)
                except ValueError as error:
                    raise ApiError(400, "BadRequest", f"invalid DeleteOptions: {error}") from None
                if isinstance(parsed, dict):
                    options = parsed
        for key in ("gracePeriodSeconds", "propagationPolicy", "dryRun"):
            if key in request.query:
                options[key] = request.query[key]
        return options

    async def _delete(self, request: web.Request, rt: ResourceType, namespace: str | None, name: str) -> web.Response:
        options = await self._delete_options(request)
        return _obj_response(self._delete_one(rt, namespace, name, options))

    def _delete_one(
        self, rt: ResourceType, namespace: str | None, name: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        old = self._entry(rt, namespace, name)
        preconditions = options.get("preconditions") or {}
        meta = old.obj["metadata"]
        if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {_resource_label(rt)} "{name}": Precondition failed: '
                f"UID in precondition: {preconditions['uid']}, UID in object meta: {meta.get('uid')}",
            )
        if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != meta.get("resourceVersion"):
            raise self._conflict(rt, name)
        if options.get("dryRun") in ("All", ["All"]):
            return old.copy()
        grace: int | None = None
        if options.get("gracePeriodSeconds") is not None:
            try:
                grace = max(0, int(options["gracePeriodSeconds"]))
            except (TypeError, ValueError):
                raise ApiError(400, "BadRequest", "gracePeriodSeconds must be an integer") from None
        if options.get("propagationPolicy") == "Orphan":
            self._orphan_dependents(meta.get("uid", ""), namespace)
        if options.get("propagationPolicy") == "Foreground" and rt.kind not in ("Pod", "Namespace"):
            # The garbage collector deletes the dependents first, then drops this finalizer.
            def add_finalizer(obj: dict[str, Any]) -> bool | None:
                finalizers = obj["metadata"].setdefault("finalizers", [])
                if "foregroundDeletion" in finalizers:
                    return False
                finalizers.append("foregroundDeletion")
                return None

            self.store.mutate_now(rt.store_key, namespace, name, add_finalizer)
        entry = self.store.delete_now(rt.store_key, namespace, name, grace)
        if self.store.peek(rt.store_key, namespace, name) is None:
            self._after_write(rt, old.obj, deleted=True)
            if rt.kind in ("Pod", "Namespace") and not rt.crd:
                return entry.copy()
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": meta.get("uid", "")},
            }
        return entry.copy()

    def _orphan_dependents(self, uid: str, namespace: str | None) -> None:
        for resource in ("replicasets", "pods"):
            entries, _ = self.store.list_entries(resource, namespace)
            for entry in entries:
                refs = entry.obj.get("metadata", {}).get("ownerReferences") or []
                if any(ref.get("uid") == uid for ref in refs):

                    def strip(obj: dict[str, Any]) -> None:
                        obj["metadata"]["ownerReferences"] = [
                            ref for ref in obj["metadata"].get("ownerReferences", []) if ref.get("uid") != uid
                        ]

                    self.store.mutate_now(resource, entry.namespace, entry.name, strip)

    async def _delete_collection(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.Response:
        options = await self._delete_options(request)
        try:
            entries, rv = self.store.list_entries(
                rt.store_key, namespace, request.query.get("labelSelector"), request.query.get("fieldSelector")
            )
        except SelectorError as error:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {error}") from None
        deleted = []
        for entry in list(entries):
            with contextlib.suppress(ApiError):
                deleted.append(self._delete_one(rt, entry.namespace or None, entry.name, options))
        return _obj_response(
            {
                "kind": rt.list_kind,
                "apiVersion": rt.group_version,
                "metadata": {"resourceVersion": rv},
                "items": deleted,
            }
        )

    # --------------------------------------------------------- subresources
    async def _subresource(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str, sub: str
    ) -> web.StreamResponse:
        if rt.kind == "Pod" and not rt.crd and sub in ("log", "portforward"):
            pod = self._entry(rt, namespace, name).copy()
            node = self._node()
            if node is None:
                raise ApiError(
                    503, "ServiceUnavailable", "the sandbox node is not running (started with run_node=False)"
                )
            if sub == "log":
                if request.method != "GET":
                    raise ApiError(
                        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
                    )
                response: web.StreamResponse = await node.serve_log(request, pod)
                return response
            response = await node.serve_portforward(request, pod)
            return response
        if sub == "status" and rt.status:
            return await self._status(request, rt, namespace, name)
        if sub == "scale" and rt.scale:
            return await self._scale(request, rt, namespace, name)
        raise _no_resource()

    async def _status(self, request: web.Request, rt: ResourceType, namespace: str | None, name: str) -> web.Response:
        old = self._entry(rt, namespace, name)
        if request.method == "GET":
            return _json_response(old.json)
        if request.method == "PUT":
            body = await self._read_body(request, rt)
            obj, warnings = self._prepare(rt, body, namespace, name, request)
        elif request.method == "PATCH":
            kind, document = await self._patch_document(request, rt)
            if kind == "apply":
                current = old.copy()
                try:
                    obj = server_side_apply(current, document, self._manager(request), rt.group_version, True, "status")
                except ApplyConflict as conflict:
                    raise ApiError(409, "Conflict", str(conflict)) from None
                warnings = []
            else:
                obj, warnings = self._prepare(rt, self._patched(kind, old.copy(), document), namespace, name, request)
        else:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        sent_rv = obj.get("metadata", {}).get("resourceVersion")
        if sent_rv and str(sent_rv) != old.obj["metadata"]["resourceVersion"]:
            raise self._conflict(rt, name)
        # Only the status changes through /status.
        result = old.copy()
        result["status"] = obj.get("status", {})
        if "managedFields" in obj.get("metadata", {}):
            result["metadata"]["managedFields"] = obj["metadata"]["managedFields"]
        try:
            entry = self.store.update_now(rt.store_key, result, bump_generation=False)
        except ConflictError:
            raise self._conflict(rt, name) from None
        return _json_response(entry.json, 200, warnings)

    def _scale_object(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        spec_path, status_path, selector_path = rt.scale_paths
        spec_replicas = _path_get(obj, spec_path)
        status_replicas = _path_get(obj, status_path)
        status: dict[str, Any] = {"replicas": int(status_replicas or 0)}
        selector: str | None = None
        if selector_path:
            found = _path_get(obj, selector_path)
            selector = str(found) if found else None
        elif not rt.crd:
            match = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            selector = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
        if selector:
            status["selector"] = selector
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
                "creationTimestamp": meta.get("creationTimestamp"),
            },
            "spec": {"replicas": int(spec_replicas or 0)},
            "status": status,
        }

    async def _scale(self, request: web.Request, rt: ResourceType, namespace: str | None, name: str) -> web.Response:
        old = self._entry(rt, namespace, name)
        scale = self._scale_object(rt, old.obj)
        if request.method == "GET":
            return _obj_response(scale)
        if request.method == "PUT":
            wanted = await self._read_body(request, rt)
        elif request.method == "PATCH":
            kind, document = await self._patch_document(request, rt)
            if kind == "apply":
                wanted = json_merge_patch(scale, document)
            else:
                wanted = self._patched(kind, copy.deepcopy(scale), document)
        else:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if not isinstance(wanted, dict):
            raise ApiError(400, "BadRequest", "the body must be a Scale object")
        sent_rv = (wanted.get("metadata") or {}).get("resourceVersion")
        if sent_rv and str(sent_rv) != old.obj["metadata"]["resourceVersion"]:
            raise self._conflict(rt, name)
        replicas = (wanted.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(
                422,
                "Invalid",
                f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: {replicas}: '
                "must be greater than or equal to 0",
                {
                    "name": name,
                    "group": "autoscaling",
                    "kind": "Scale",
                    "causes": [
                        {
                            "reason": "FieldValueInvalid",
                            "message": f"Invalid value: {replicas}: must be greater than or equal to 0",
                            "field": "spec.replicas",
                        }
                    ],
                },
            )
        updated = old.copy()
        _path_set(updated, rt.scale_paths[0], replicas)
        entry = self._store_update(rt, old, updated, request, "scale")
        return _obj_response(self._scale_object(rt, entry.obj))

    # ----------------------------------------------------------------- watch
    async def _watch(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str | None = None
    ) -> web.StreamResponse:
        query = request.query
        field_selector = query.get("fieldSelector")
        if name is not None:
            field_selector = f"metadata.name={name}" + (f",{field_selector}" if field_selector else "")
        try:
            matcher = combine(parse_label_selector(query.get("labelSelector")), parse_field_selector(field_selector))
        except SelectorError as error:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {error}") from None
        try:
            timeout = float(query.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        except ValueError:
            raise ApiError(400, "BadRequest", "timeoutSeconds must be a number") from None
        bookmarks = _truthy(query.get("allowWatchBookmarks"))
        initial_events = _truthy(query.get("sendInitialEvents"))
        resource_version = query.get("resourceVersion")
        as_table = rt if wants_table(request.headers.get("Accept", "")) else None
        include = query.get("includeObject", "Metadata")
        if initial_events:
            resource_version = None
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            replay, watcher = self.store.subscribe(rt.store_key, namespace, resource_version, matcher)
        except GoneError as error:
            gone = status_body(410, "Expired", str(error))
            await response.write((dump_json({"type": "ERROR", "object": gone}) + "\n").encode())
            return response
        deadline = time.monotonic() + timeout
        try:
            lines = [self._event_line(event, matcher, as_table, include) for event in replay]
            text = "".join(line for line in lines if line)
            if initial_events:
                text += self._bookmark_line(rt, initial_end=True)
            if text:
                await response.write(text.encode())
            next_bookmark = time.monotonic() + self.bookmark_interval
            closing = asyncio.ensure_future(self.closing.wait())
            try:
                while True:
                    now = time.monotonic()
                    if now >= deadline or self.closing.is_set():
                        break
                    wait = deadline - now
                    if bookmarks:
                        wait = min(wait, max(0.0, next_bookmark - now))
                    getter = asyncio.ensure_future(watcher.queue.get())
                    done, _ = await asyncio.wait({getter, closing}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                    if getter not in done:
                        getter.cancel()
                        if bookmarks and time.monotonic() >= next_bookmark:
                            await response.write(self._bookmark_line(rt).encode())
                            next_bookmark = time.monotonic() + self.bookmark_interval
                        continue
                    batch = [getter.result()]
                    while not watcher.queue.empty():
                        batch.append(watcher.queue.get_nowait())
                    chunks: list[str] = []
                    for event in batch:
                        if event is None:  # fell too far behind: end the watch; the client relists
                            await response.write("".join(chunks).encode())
                            return response
                        line = self._event_line(event, matcher, as_table, include)
                        if line:
                            chunks.append(line)
                    if chunks:
                        await response.write("".join(chunks).encode())
            finally:
                closing.cancel()
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            self.store.unsubscribe(rt.store_key, watcher)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    @staticmethod
    def _event_line(
        event: WatchEvent, matcher: Any, as_table: ResourceType | None = None, include: str = "Metadata"
    ) -> str:
        filtered = filter_event(event, matcher)
        if filtered is None:
            return ""
        type_, entry = filtered
        if as_table is not None:
            one_row = table(as_table, [entry.obj], entry.obj["metadata"]["resourceVersion"], include)
            return dump_json({"type": type_, "object": one_row}) + "\n"
        return '{"type":"' + type_ + '","object":' + entry.json + "}\n"

    def _bookmark_line(self, rt: ResourceType, initial_end: bool = False) -> str:
        meta: dict[str, Any] = {"resourceVersion": self.store.resource_version}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return (
            dump_json(
                {"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.group_version, "metadata": meta}}
            )
            + "\n"
        )


def _path_get(obj: Any, dotted: str) -> Any:
    current = obj
    for part in dotted.strip(".").split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _path_set(obj: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.strip(".").split(".")
    current = obj
    for part in parts[:-1]:
        current = current.setdefault(part, {})
    current[parts[-1]] = value


def _crd_status(crd: dict[str, Any]) -> dict[str, Any]:
    spec = crd.get("spec") or {}
    now = now_rfc3339()
    return {
        "acceptedNames": spec.get("names") or {},
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": now,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": now,
            },
        ],
        "storedVersions": [v.get("name") for v in spec.get("versions") or [] if v.get("storage")],
    }
