"""Bad input of many shapes gets a 4xx Status, never a 500 or a dead server, and loses nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from aksmcp_tui.sandbox.cluster import SandboxCluster
from aksmcp_tui.sandbox.daemon import merge_kubeconfig
from aksmcp_tui.sandbox.testing import ThreadedSandbox, configmap, raw, sync_api_client

pytestmark = pytest.mark.timeout(60)

CM = "/api/v1/namespaces/default/configmaps"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments"
JSON = {"Content-Type": "application/json"}
MERGE = {"Content-Type": "application/merge-patch+json"}
JSONPATCH = {"Content-Type": "application/json-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}

BAD_REQUESTS: list[tuple[str, str, Any, dict[str, str]]] = [
    ("POST", CM, b"null", JSON),
    ("POST", CM, b'"a string"', JSON),
    ("POST", CM, b'{"metadata": "not an object"}', JSON),
    ("POST", CM, b'{"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "x"}}', JSON),
    ("POST", CM, b'{"kind": "Secret", "metadata": {"name": "x"}}', JSON),
    ("POST", CM, b'{"metadata": {"name": "x", "namespace": "other"}}', JSON),
    ("POST", CM, b'{"metadata": {"name": "x", "labels": {"bad key!": "v"}}}', JSON),
    ("POST", CM, b'{"metadata": {"name": "x"}, "data": {"k": 5}}', JSON),
    ("POST", CM, b"\xff\xfe\x00garbage", JSON),
    ("POST", CM, b"", JSON),
    ("POST", CM, b'{"metadata": {"name": "x"}}', {"Content-Type": "application/vnd.kubernetes.protobuf"}),
    ("POST", CM, b"k8s\x00\x0a\xff\xff", {"Content-Type": "application/vnd.kubernetes.protobuf"}),
    ("POST", CM, b"k8s\x00\x0a\x04\x0a\x02v1", {"Content-Type": "application/vnd.kubernetes.protobuf"}),
    ("PUT", CM + "/keep", b'{"metadata": {"name": "other"}}', JSON),
    ("PUT", CM + "/keep", b'{"metadata": {"name": "keep", "resourceVersion": "1"}, "data": {}}', JSON),
    ("PATCH", CM + "/keep", b'[{"op": "explode", "path": "/data"}]', JSONPATCH),
    ("PATCH", CM + "/keep", b'[{"op": "add", "path": "no-slash", "value": 1}]', JSONPATCH),
    ("PATCH", CM + "/keep", b'{"op": "add"}', JSONPATCH),
    ("PATCH", CM + "/keep", b"[1, 2, 3]", MERGE),
    ("PATCH", CM + "/keep", b'{"metadata": {"name": "renamed"}}', MERGE),
    ("PATCH", CM + "/keep", b"data: {k: v}\n", APPLY),
    ("PATCH", CM + "/keep", b"- just\n- a list\n", {**APPLY}),
    ("PATCH", DEPLOY + "/absent/scale", b'{"spec": {"replicas": 1}}', MERGE),
    ("GET", CM + "?labelSelector=a%20in%20(b", None, {}),
    ("GET", CM + "?fieldSelector=%3D%3D%3D", None, {}),
    ("GET", CM + "?watch=true&timeoutSeconds=abc", None, {}),
    ("GET", CM + "?continue=!!notbase64", None, {}),
    ("POST", CM + "?fieldValidation=Sometimes", b'{"metadata": {"name": "fv"}}', JSON),
    ("GET", "/api/v1/namespaces/default/configmaps/keep/unknown-sub", None, {}),
    ("GET", "/api/v2/pods", None, {}),
    ("GET", "/apis/nope.example.com/v1/things", None, {}),
    ("GET", "/api/v1/namespaces/default/pods/a/b/c/d", None, {}),
    ("DELETE", "/api", None, {}),
    ("PUT", "/api/v1/namespaces/default/configmaps", b"{}", JSON),
    ("DELETE", CM + "/keep", b"{not json", JSON),
    ("DELETE", CM + "/keep?gracePeriodSeconds=soon", None, {}),
    ("GET", "/api/v1/namespaces/default/pods/none/log", None, {}),
    ("POST", DEPLOY, b'{"metadata": {"name": "d"}, "spec": {"replicas": true}}', JSON),
    ("POST", DEPLOY, b'{"metadata": {"name": "d"}, "spec": {"template": []}}', JSON),
    ("POST", DEPLOY, b'{"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}}}}', JSON),
]


async def test_bad_requests_get_client_errors_and_nothing_is_lost(sandbox: SandboxCluster) -> None:
    status, _, _ = await raw(sandbox, "POST", CM, json=configmap("keep", data={"k": "original"}))
    assert status == 201
    for method, path, body, headers in BAD_REQUESTS:
        status, _, answer = await raw(sandbox, method, path, data=body, headers=headers)
        assert 400 <= status < 500, (method, path, body, status, answer)
        if isinstance(answer, dict):
            assert answer.get("kind") == "Status", (method, path, answer)
    status, _, kept = await raw(sandbox, "GET", CM + "/keep")
    assert status == 200 and kept["data"] == {"k": "original"}


def test_session_sandbox_serves_sync_clients(sandbox_session: ThreadedSandbox) -> None:
    api = sync_api_client(sandbox_session.kubeconfig_path)
    try:
        names = {ns.metadata.name for ns in client.CoreV1Api(api).list_namespace().items}
    finally:
        api.close()
    assert "default" in names


def test_merge_kubeconfig_adds_the_context_and_keeps_the_rest(sandbox_session: ThreadedSandbox, tmp_path: Path) -> None:
    target = tmp_path / "config"
    existing = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "prod", "cluster": {"server": "https://prod.example"}}],
        "users": [{"name": "prod", "user": {"token": "t"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod"}}],
        "current-context": "prod",
    }
    target.write_text(json.dumps(existing))
    merge_kubeconfig(sandbox_session.kubeconfig_path, target)
    merge_kubeconfig(sandbox_session.kubeconfig_path, target)  # twice: still one entry
    import yaml

    merged = yaml.safe_load(target.read_text())
    assert [c["name"] for c in merged["contexts"]] == ["prod", "aksmcp-sandbox"]
    assert merged["current-context"] == "prod"
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"
    from kubernetes import config

    sandbox_api = config.new_client_from_config(config_file=str(target), context="aksmcp-sandbox")
    try:
        assert client.CoreV1Api(sandbox_api).list_namespace().items
    finally:
        sandbox_api.close()
