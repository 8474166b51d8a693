"""The sandbox API server driven by the official `kubernetes.aio` client: discovery, CRUD,
selectors, Status codes, malformed input."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from kubernetes.aio import client
from kubernetes.aio.client.exceptions import ApiException

from aksmcp_tui.sandbox.cluster import SandboxCluster
from aksmcp_tui.sandbox.testing import configmap, deployment, raw, status_of

pytestmark = pytest.mark.timeout(60)


async def test_discovery_lists_groups_and_resources(sandbox: SandboxCluster, sandbox_api: Any) -> None:
    version = await client.VersionApi(sandbox_api).get_code()
    assert version.major == "1" and version.minor == "32"
    groups = await client.ApisApi(sandbox_api).get_api_versions()
    names = {group.name for group in groups.groups}
    assert {"apps", "networking.k8s.io", "policy", "autoscaling", "apiextensions.k8s.io"} <= names
    apps = await client.AppsV1Api(sandbox_api).get_api_resources()
    by_name = {resource.name: resource for resource in apps.resources}
    assert by_name["deployments"].short_names == ["deploy"]
    assert by_name["deployments"].namespaced is True
    assert by_name["deployments/scale"].kind == "Scale" and not by_name["deployments/scale"].short_names
    core = await client.CoreV1Api(sandbox_api).get_api_resources()
    assert core.group_version == "v1"
    core_names = {resource.name for resource in core.resources}
    assert {"pods", "pods/log", "pods/portforward", "pods/status", "services", "endpoints", "events"} <= core_names
    # trailing slashes and the aggregated-discovery Accept header get plain documents
    aggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    status, headers, body = await raw(sandbox, "GET", "/apis/", headers={"Accept": aggregated})
    assert status == 200 and body["kind"] == "APIGroupList" and headers["Content-Type"].startswith("application/json")
    status, _, body = await raw(sandbox, "GET", "/api/")
    assert status == 200 and body["versions"] == ["v1"]


async def test_builtin_namespaces_and_node_exist(sandbox_api: Any) -> None:
    core = client.CoreV1Api(sandbox_api)
    names = {ns.metadata.name for ns in (await core.list_namespace()).items}
    assert {"default", "kube-system", "kube-public"} <= names
    nodes = (await core.list_node()).items
    assert [node.metadata.name for node in nodes] == ["sandbox-node"]


async def test_crud_round_trip(sandbox_api: Any) -> None:
    core = client.CoreV1Api(sandbox_api)
    created = await core.create_namespaced_config_map("default", configmap("settings", {"app": "a"}))
    assert created.metadata.uid and created.metadata.resource_version and created.metadata.creation_timestamp
    read = await core.read_namespaced_config_map("settings", "default")
    assert read.data == {"k": "v"}
    read.data = {"k": "v2"}
    replaced = await core.replace_namespaced_config_map("settings", "default", read)
    assert replaced.data == {"k": "v2"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    listing = await core.list_namespaced_config_map("default")
    assert listing.metadata.resource_version
    assert [item.metadata.name for item in listing.items] == ["settings"]
    await core.delete_namespaced_config_map("settings", "default")
    with pytest.raises(ApiException) as missing:
        await core.read_namespaced_config_map("settings", "default")
    assert missing.value.status == 404
    body = status_of(missing.value)
    assert body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'configmaps "settings" not found'


async def test_label_and_field_selectors(sandbox_api: Any) -> None:
    core = client.CoreV1Api(sandbox_api)
    await core.create_namespaced_config_map("default", configmap("a", {"tier": "web", "env": "prod"}))
    await core.create_namespaced_config_map("default", configmap("b", {"tier": "db", "env": "prod"}))
    await core.create_namespaced_config_map("default", configmap("c", {"tier": "web"}))

    async def names(**kwargs: Any) -> list[str]:
        result = await core.list_config_map_for_all_namespaces(**kwargs)
        return sorted(item.metadata.name for item in result.items if item.metadata.name in "abc")

    assert await names(label_selector="tier=web") == ["a", "c"]
    assert await names(label_selector="tier!=web") == ["b"]
    assert await names(label_selector="tier in (web,db),env") == ["a", "b"]
    assert await names(label_selector="tier notin (db)") == ["a", "c"]
    assert await names(label_selector="!env") == ["c"]
    assert await names(field_selector="metadata.name=b") == ["b"]
    assert await names(field_selector="metadata.namespace=default,metadata.name!=b") == ["a", "c"]
    with pytest.raises(ApiException) as bad:
        await core.list_config_map_for_all_namespaces(label_selector="tier in (web")
    assert bad.value.status == 400


async def test_conflicts_already_exists_and_stale_update(sandbox_api: Any) -> None:
    core = client.CoreV1Api(sandbox_api)
    first = await core.create_namespaced_config_map("default", configmap("dup"))
    with pytest.raises(ApiException) as exists:
        await core.create_namespaced_config_map("default", configmap("dup"))
    assert exists.value.status == 409 and status_of(exists.value)["reason"] == "AlreadyExists"
    await core.patch_namespaced_config_map("dup", "default", {"data": {"k": "newer"}})
    first.data = {"k": "stale"}
    with pytest.raises(ApiException) as stale:
        await core.replace_namespaced_config_map("dup", "default", first)
    assert stale.value.status == 409 and status_of(stale.value)["reason"] == "Conflict"
    assert (await core.read_namespaced_config_map("dup", "default")).data == {"k": "newer"}


async def test_invalid_objects_get_422_with_causes(sandbox_api: Any) -> None:
    apps = client.AppsV1Api(sandbox_api)
    core = client.CoreV1Api(sandbox_api)
    cases = [
        (deployment("Bad_Name"), "metadata.name"),
        (deployment("no-image", image=None), "spec.template.spec.containers[0].image"),
        (deployment("negative", replicas=-1), "spec.replicas"),
    ]
    for body, field in cases:
        with pytest.raises(ApiException) as invalid:
            await apps.create_namespaced_deployment("default", body)
        assert invalid.value.status == 422
        status = status_of(invalid.value)
        assert status["reason"] == "Invalid"
        assert field in [cause["field"] for cause in status["details"]["causes"]]
    mismatched = deployment("mismatch")
    mismatched["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(ApiException) as selector:
        await apps.create_namespaced_deployment("default", mismatched)
    assert selector.value.status == 422
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "empty"}, "spec": {"containers": []}}
    with pytest.raises(ApiException) as no_containers:
        await core.create_namespaced_pod("default", pod)
    assert no_containers.value.status == 422
    assert status_of(no_containers.value)["details"]["causes"][0]["field"] == "spec.containers"
    assert (await apps.list_namespaced_deployment("default")).items == []


async def test_missing_namespace_is_404(sandbox_api: Any) -> None:
    with pytest.raises(ApiException) as missing:
        await client.CoreV1Api(sandbox_api).create_namespaced_config_map("nowhere", configmap("x"))
    assert missing.value.status == 404
    assert status_of(missing.value)["message"] == 'namespaces "nowhere" not found'


async def test_requests_without_the_token_get_401(sandbox: SandboxCluster) -> None:
    for url in (sandbox.url, sandbox.https_url):
        async with (
            aiohttp.ClientSession() as session,
            session.get(url + "/api/v1/pods", ssl=False) as response,
        ):
            assert response.status == 401
            body = await response.json()
            assert body["kind"] == "Status" and body["reason"] == "Unauthorized"
        async with (
            aiohttp.ClientSession() as session,
            session.get(url + "/api/v1/pods", headers={"Authorization": "Bearer wrong"}, ssl=False) as response,
        ):
            assert response.status == 401


async def test_malformed_bodies_never_lose_data(sandbox: SandboxCluster, sandbox_api: Any) -> None:
    core = client.CoreV1Api(sandbox_api)
    await core.create_namespaced_config_map("default", configmap("keep", data={"k": "original"}))
    path = "/api/v1/namespaces/default/configmaps"
    json_header = {"Content-Type": "application/json"}
    status, _, body = await raw(sandbox, "POST", path, data=b'{"apiVersion": "v1", "kind": ', headers=json_header)
    assert status == 400 and body["reason"] == "BadRequest"
    status, _, body = await raw(
        sandbox,
        "POST",
        path,
        data=b"kind: ConfigMap\nmetadata: [unclosed",
        headers={"Content-Type": "application/yaml"},
    )
    assert status == 400
    status, _, body = await raw(sandbox, "PUT", path + "/keep", data=b"[1, 2]", headers=json_header)
    assert status == 400
    huge = json.dumps(configmap("huge", data={"k": "x" * (4 * 1024 * 1024)})).encode()
    status, _, body = await raw(sandbox, "POST", path, data=huge, headers=json_header)
    assert status == 413 and body["code"] == 413
    status, _, body = await raw(
        sandbox, "PATCH", path + "/keep", data=b'{"data": {}}', headers={"Content-Type": "text/plain"}
    )
    assert status == 415 and body["reason"] == "UnsupportedMediaType"
    status, _, body = await raw(
        sandbox, "PATCH", path + "/keep", data=b"{not json", headers={"Content-Type": "application/merge-patch+json"}
    )
    assert status == 400
    status, _, body = await raw(
        sandbox,
        "PATCH",
        path + "/keep",
        data=b'[{"op": "remove", "path": "/data/absent"}]',
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert status == 422
    assert (await core.read_namespaced_config_map("keep", "default")).data == {"k": "original"}
    # yaml bodies are accepted
    manifest = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n"
    status, _, body = await raw(sandbox, "POST", path, data=manifest, headers={"Content-Type": "application/yaml"})
    assert status == 201 and body["data"] == {"a": "b"}


async def test_unknown_fields_strict_rejects_and_warn_warns(sandbox: SandboxCluster) -> None:
    path = "/apis/apps/v1/namespaces/default/deployments"
    body = deployment("typo")
    body["spec"]["replicaz"] = 2
    status, _, answer = await raw(sandbox, "POST", path + "?fieldValidation=Strict", json=body)
    assert status == 400
    assert 'strict decoding error: unknown field "spec.replicaz"' in answer["message"]
    status, headers, answer = await raw(sandbox, "POST", path + "?fieldValidation=Warn", json=body)
    assert status == 201
    assert "spec.replicaz" in headers.get("Warning", "")
    assert "replicaz" not in answer["spec"]
    wrong_type = deployment("wrong-type", replicas="two")
    status, _, answer = await raw(sandbox, "POST", path, json=wrong_type)
    assert status == 400 and "cannot unmarshal string" in answer["message"]


async def test_generate_name_and_delete_collection(sandbox_api: Any) -> None:
    core = client.CoreV1Api(sandbox_api)
    body = configmap("")
    body["metadata"] = {"generateName": "gen-", "labels": {"batch": "1"}}
    created = await core.create_namespaced_config_map("default", body)
    assert created.metadata.name.startswith("gen-") and len(created.metadata.name) > 4
    await core.create_namespaced_config_map("default", configmap("other", {"batch": "1"}))
    await core.delete_collection_namespaced_config_map("default", label_selector="batch=1")
    remaining = await core.list_namespaced_config_map("default", label_selector="batch=1")
    assert remaining.items == []


async def test_list_pagination_with_limit_and_continue(sandbox_api: Any) -> None:
    core = client.CoreV1Api(sandbox_api)
    for index in range(5):
        await core.create_namespaced_config_map("default", configmap(f"page-{index}", {"paged": "yes"}))
    seen: list[str] = []
    token = None
    while True:
        page = await core.list_namespaced_config_map("default", label_selector="paged=yes", limit=2, _continue=token)
        seen += [item.metadata.name for item in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert seen == [f"page-{index}" for index in range(5)]


async def test_typed_clients_read_back_every_kind_they_create(sandbox_api: Any) -> None:
    """Objects must satisfy the official client's pydantic models (required fields included)."""
    meta = {"name": "typed", "labels": {"app": "typed"}}
    autoscaling = client.AutoscalingV2Api(sandbox_api)
    policy = client.PolicyV1Api(sandbox_api)
    networking = client.NetworkingV1Api(sandbox_api)
    rbac = client.RbacAuthorizationV1Api(sandbox_api)
    core = client.CoreV1Api(sandbox_api)
    await autoscaling.create_namespaced_horizontal_pod_autoscaler(
        "default",
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta,
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"}, "maxReplicas": 3},
        },
    )
    hpa = await autoscaling.read_namespaced_horizontal_pod_autoscaler("typed", "default")
    assert hpa.status.desired_replicas == 0
    await policy.create_namespaced_pod_disruption_budget(
        "default",
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": meta,
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "typed"}}},
        },
    )
    assert (await policy.read_namespaced_pod_disruption_budget("typed", "default")).spec.min_available == 1
    await networking.create_namespaced_network_policy(
        "default",
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": {"podSelector": {}}},
    )
    assert (await networking.list_namespaced_network_policy("default")).items[0].metadata.name == "typed"
    await networking.create_namespaced_ingress(
        "default", {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": {}}
    )
    assert (await networking.read_namespaced_ingress("typed", "default")).metadata.uid
    await rbac.create_namespaced_role(
        "default",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        },
    )
    assert (await rbac.read_namespaced_role("typed", "default")).rules[0].verbs == ["get"]
    secret = await core.create_namespaced_secret(
        "default", {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": {"key": "value"}}
    )
    assert secret.data == {"key": "dmFsdWU="} and not secret.string_data
    rs = await client.AppsV1Api(sandbox_api).create_namespaced_replica_set(
        "default",
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": meta,
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "typed"}},
                "template": {
                    "metadata": {"labels": {"app": "typed"}},
                    "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
                },
            },
        },
    )
    assert rs.status.replicas == 0
