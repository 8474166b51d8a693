"""Watches (resourceVersion, bookmarks, 410 Expired), patches, server-side apply, scale, CRDs,
and persistence, through the official `kubernetes.aio` client."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes.aio import client, watch
from kubernetes.aio.client.exceptions import ApiException

from aksmcp_tui.sandbox.cluster import SandboxCluster
from aksmcp_tui.sandbox.testing import aio_api_client, configmap, deployment, raw, status_of

pytestmark = pytest.mark.timeout(60)


async def test_watch_resumes_from_resource_version_and_sends_bookmarks(sandbox_api: Any) -> None:
    core = client.CoreV1Api(sandbox_api)
    await core.create_namespaced_config_map("default", configmap("before"))
    listing = await core.list_namespaced_config_map("default")
    since = listing.metadata.resource_version
    events: list[tuple[str, str]] = []
    bookmarks = 0

    async def consume() -> None:
        nonlocal bookmarks
        stream = watch.Watch()
        async for event in stream.stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=since,
            allow_watch_bookmarks=True,
            timeout_seconds=20,
        ):
            if event["type"] == "BOOKMARK":
                bookmarks += 1
            else:
                events.append((event["type"], event["object"].metadata.name))
            if len(events) >= 3 and bookmarks >= 1:
                stream.stop()

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    await core.create_namespaced_config_map("default", configmap("after"))
    await core.patch_namespaced_config_map("after", "default", {"data": {"k": "changed"}})
    await core.delete_namespaced_config_map("after", "default")
    await asyncio.wait_for(task, 20)
    assert events == [("ADDED", "after"), ("MODIFIED", "after"), ("DELETED", "after")]
    assert bookmarks >= 1


async def test_watch_from_too_old_version_gets_410_then_relist_works(sandbox: SandboxCluster, sandbox_api: Any) -> None:
    sandbox.store.history_limit = 5
    core = client.CoreV1Api(sandbox_api)
    first = await core.create_namespaced_config_map("default", configmap("churn"))
    for index in range(10):
        await core.patch_namespaced_config_map("churn", "default", {"data": {"k": str(index)}})
    with pytest.raises(ApiException) as gone:
        async for _ in watch.Watch().stream(
            core.list_namespaced_config_map,
            "default",
            resource_version=first.metadata.resource_version,
            timeout_seconds=5,
        ):
            pass
    assert gone.value.status == 410
    # the raw wire shape: HTTP 200 with one ERROR event carrying a 410 Expired Status
    status, _, text = await raw(
        sandbox,
        "GET",
        f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={first.metadata.resource_version}",
    )
    assert status == 200
    event = text if isinstance(text, dict) else json.loads(str(text).splitlines()[0])
    assert event["type"] == "ERROR" and event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
    fresh = await core.list_namespaced_config_map("default")
    seen = []
    async for item in watch.Watch().stream(
        core.list_namespaced_config_map, "default", resource_version=fresh.metadata.resource_version, timeout_seconds=1
    ):
        seen.append(item)
    assert seen == []


async def test_watch_timeout_and_label_selector(sandbox_api: Any) -> None:
    core = client.CoreV1Api(sandbox_api)
    await core.create_namespaced_config_map("default", configmap("picked", {"pick": "yes"}))
    await core.create_namespaced_config_map("default", configmap("ignored", {"pick": "no"}))
    names = [
        event["object"].metadata.name
        async for event in watch.Watch().stream(
            core.list_namespaced_config_map, "default", label_selector="pick=yes", timeout_seconds=1
        )
    ]
    assert names == ["picked"]


async def test_strategic_and_merge_patches(sandbox_api: Any) -> None:
    apps = client.AppsV1Api(sandbox_api)
    body = deployment("patched", replicas=0)
    body["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox:1"})
    await apps.create_namespaced_deployment("default", body)
    # strategic merge: containers are merged by name
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "ghcr.io/aksmcp/aksmcp-server:0.2.0"}]}}}
    }
    patched = await apps.patch_namespaced_deployment("patched", "default", patch)
    containers = {c.name: c.image for c in patched.spec.template.spec.containers}
    assert containers == {"app": "ghcr.io/aksmcp/aksmcp-server:0.2.0", "sidecar": "busybox:1"}
    assert patched.metadata.generation == 2
    # what `kubectl rollout restart` sends
    restart = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}}}
    restarted = await apps.patch_namespaced_deployment("patched", "default", restart)
    assert restarted.spec.template.metadata.annotations == {"kubectl.kubernetes.io/restartedAt": "now"}
    # JSON merge patch replaces lists
    merged = await apps.patch_namespaced_deployment(
        "patched",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "busybox:2"}]}}}},
        _content_type="application/merge-patch+json",
    )
    assert [c.name for c in merged.spec.template.spec.containers] == ["only"]
    # JSON patch
    jsonpatched = await apps.patch_namespaced_deployment(
        "patched",
        "default",
        [
            {"op": "replace", "path": "/spec/replicas", "value": 0},
            {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}},
        ],
        _content_type="application/json-patch+json",
    )
    assert jsonpatched.metadata.labels == {"x": "y"}
    # a no-op patch does not bump the resourceVersion
    again = await apps.patch_namespaced_deployment("patched", "default", {"metadata": {"labels": {"x": "y"}}})
    assert again.metadata.resource_version == jsonpatched.metadata.resource_version


async def test_server_side_apply_is_idempotent_and_field_precise(sandbox_api: Any) -> None:
    apps = client.AppsV1Api(sandbox_api)
    manifest = deployment("applied", replicas=0)
    manifest["metadata"]["labels"] = {"team": "a"}

    async def apply(doc: dict[str, Any], manager: str = "aksmcp", force: bool = False) -> Any:
        return await apps.patch_namespaced_deployment(
            doc["metadata"]["name"], "default", doc, field_manager=manager, force=force,
            _content_type="application/apply-patch+yaml",
        )  # fmt: skip

    first = await apply(manifest)
    assert first.metadata.managed_fields[0].manager == "aksmcp"
    assert first.metadata.managed_fields[0].operation == "Apply"
    second = await apply(manifest)
    # (the deployment controller writes status meanwhile, so compare what apply owns)
    assert second.metadata.generation == first.metadata.generation == 1
    assert second.metadata.managed_fields[0].time == first.metadata.managed_fields[0].time
    changed = json.loads(json.dumps(manifest))
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/aksmcp/aksmcp-server:0.3.0"
    third = await apply(changed)
    assert third.spec.template.spec.containers[0].image == "ghcr.io/aksmcp/aksmcp-server:0.3.0"
    assert third.metadata.labels == {"team": "a"}
    assert third.spec.replicas == 0 and third.metadata.generation == 2
    # a field dropped from the applied manifest is removed (this manager owned it)
    dropped = json.loads(json.dumps(changed))
    del dropped["metadata"]["labels"]
    fourth = await apply(dropped)
    assert not fourth.metadata.labels
    # another manager changing an owned field conflicts, unless forced
    rival = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "applied"}, "spec": {"replicas": 2}}
    with pytest.raises(ApiException) as conflict:
        await apply(rival, manager="rival")
    assert conflict.value.status == 409
    status = status_of(conflict.value)
    assert status["reason"] == "Conflict" and status["details"]["causes"][0]["field"] == ".spec.replicas"
    forced = await apply(rival, manager="rival", force=True)
    assert forced.spec.replicas == 2
    managers = {entry.manager for entry in forced.metadata.managed_fields}
    assert managers == {"aksmcp", "rival"}


async def test_server_side_apply_creates_missing_objects(sandbox_api: Any) -> None:
    core = client.CoreV1Api(sandbox_api)
    created = await core.patch_namespaced_config_map(
        "via-apply",
        "default",
        configmap("via-apply"),
        field_manager="aksmcp",
        _content_type="application/apply-patch+yaml",
    )
    assert created.metadata.uid and created.data == {"k": "v"}
    again = await core.patch_namespaced_config_map(
        "via-apply",
        "default",
        configmap("via-apply"),
        field_manager="aksmcp",
        _content_type="application/apply-patch+yaml",
    )
    assert again.metadata.resource_version == created.metadata.resource_version


async def test_scale_subresource(sandbox_api: Any) -> None:
    apps = client.AppsV1Api(sandbox_api)
    await apps.create_namespaced_deployment("default", deployment("scaled", replicas=0))
    scale = await apps.read_namespaced_deployment_scale("scaled", "default")
    assert scale.spec.replicas == 0 and scale.status.selector == "app=scaled"
    await apps.patch_namespaced_deployment_scale("scaled", "default", {"spec": {"replicas": 0}})
    scale.spec.replicas = 0
    replaced = await apps.replace_namespaced_deployment_scale("scaled", "default", scale)
    assert replaced.spec.replicas == 0
    with pytest.raises(ApiException) as invalid:
        await apps.patch_namespaced_deployment_scale("scaled", "default", {"spec": {"replicas": -3}})
    assert invalid.value.status == 422


async def test_status_subresource_only_changes_status(sandbox_api: Any) -> None:
    apps = client.AppsV1Api(sandbox_api)
    await apps.create_namespaced_deployment("default", deployment("statusy", replicas=0))
    patched = await apps.patch_namespaced_deployment_status(
        "statusy", "default", {"spec": {"replicas": 7}, "status": {"observedGeneration": 1}}
    )
    assert patched.spec.replicas == 0


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


async def test_crd_install_makes_its_kind_servable(sandbox: SandboxCluster, sandbox_api: Any) -> None:
    custom = client.CustomObjectsApi(sandbox_api)
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}}
    with pytest.raises(ApiException) as before:
        await custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget)
    assert before.value.status == 404
    status, _, _ = await raw(sandbox, "GET", "/apis/example.com/v1")
    assert status == 404
    crd = await client.ApiextensionsV1Api(sandbox_api).create_custom_resource_definition(CRD)
    assert {c.type for c in crd.status.conditions} >= {"Established", "NamesAccepted"}
    status, _, resources = await raw(sandbox, "GET", "/apis/example.com/v1")
    assert status == 200 and resources["resources"][0]["kind"] == "Widget"
    created = await custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget)
    assert created["metadata"]["uid"]
    listed = await custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets")
    assert [item["metadata"]["name"] for item in listed["items"]] == ["w1"]
    await client.ApiextensionsV1Api(sandbox_api).delete_custom_resource_definition("widgets.example.com")
    status, _, _ = await raw(sandbox, "GET", "/apis/example.com/v1/namespaces/default/widgets")
    assert status == 404


async def test_namespace_deletion_removes_its_objects(sandbox: SandboxCluster, sandbox_api: Any) -> None:
    core = client.CoreV1Api(sandbox_api)
    await core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}})
    await core.create_namespaced_config_map("doomed", configmap("inside"))
    deleting = await core.delete_namespace("doomed")
    assert deleting is not None

    async def gone() -> bool:
        names = {ns.metadata.name for ns in (await core.list_namespace()).items}
        return "doomed" not in names

    for _ in range(100):
        if await gone():
            break
        await asyncio.sleep(0.1)
    assert await gone()
    assert (await core.list_namespaced_config_map("doomed")).items == []


async def test_state_survives_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with SandboxCluster(state, run_node=False) as first:
        api = await aio_api_client(first.kubeconfig_path)
        try:
            created = await client.CoreV1Api(api).create_namespaced_config_map("default", configmap("durable"))
        finally:
            await api.close()
        token = first.token
    # The state file holds Secrets: owner-only, like the kubeconfig and token beside it.
    for secret_file in ("state.db", "kubeconfig", "token"):
        assert (state / secret_file).stat().st_mode & 0o777 == 0o600, secret_file
    async with SandboxCluster(state, run_node=False) as second:
        assert second.token == token and second.notice is None
        api = await aio_api_client(second.kubeconfig_path)
        try:
            read = await client.CoreV1Api(api).read_namespaced_config_map("durable", "default")
            assert read.metadata.uid == created.metadata.uid
            later = await client.CoreV1Api(api).create_namespaced_config_map("default", configmap("later"))
            assert int(later.metadata.resource_version) > int(created.metadata.resource_version)
        finally:
            await api.close()


async def test_corrupt_state_file_gives_a_fresh_cluster(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "state.db").write_bytes(b"this is not a sqlite database" * 100)
    async with SandboxCluster(state, run_node=False) as cluster:
        assert cluster.notice is not None and "could not be read" in cluster.notice
        api = await aio_api_client(cluster.kubeconfig_path)
        try:
            names = {ns.metadata.name for ns in (await client.CoreV1Api(api).list_namespace()).items}
        finally:
            await api.close()
        assert "default" in names
    assert list(state.glob("state.db.corrupt-*"))


async def test_custom_resources_follow_their_schema(sandbox_api: Any) -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1},
                    "mode": {"type": "string", "enum": ["fast", "safe"]},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }
        },
    }
    crd = json.loads(json.dumps(CRD))
    crd["metadata"]["name"] = "gadgets.example.com"
    crd["spec"]["names"] = {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"}
    crd["spec"]["versions"][0]["schema"] = {"openAPIV3Schema": schema}
    await client.ApiextensionsV1Api(sandbox_api).create_custom_resource_definition(crd)
    custom = client.CustomObjectsApi(sandbox_api)

    def gadget(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": name}, "spec": spec}

    for spec, field in (({"size": "big"}, "spec.size"), ({}, "spec.size"), ({"size": 0}, "spec.size"),
                        ({"size": 1, "mode": "reckless"}, "spec.mode")):  # fmt: skip
        with pytest.raises(ApiException) as invalid:
            await custom.create_namespaced_custom_object("example.com", "v1", "default", "gadgets", gadget("bad", spec))
        assert invalid.value.status == 422
        assert field in [cause["field"] for cause in status_of(invalid.value)["details"]["causes"]]
    created = await custom.create_namespaced_custom_object(
        "example.com",
        "v1",
        "default",
        "gadgets",
        gadget("good", {"size": 2, "mode": "safe", "unknown": 1, "extra": {"anything": {"goes": True}}}),
    )
    assert created["spec"] == {"size": 2, "mode": "safe", "extra": {"anything": {"goes": True}}}
