"""The MCP rule and the health rule, on Deployment/Pod JSON as the API server returns it."""

from __future__ import annotations

import copy
from typing import Any

from aksmcp_tui.core.fleet import FleetState, WorkloadChanged, WorkloadRemoved, pod_deployment_name
from aksmcp_tui.core.mcp_rule import Health, deployment_health, is_mcp_deployment


def deployment(
    name: str = "web",
    *,
    labels: dict[str, str] | None = None,
    template_labels: dict[str, str] | None = None,
    ports: list[dict[str, Any]] | None = None,
    replicas: int = 2,
    ready: int = 2,
    updated: int | None = None,
    generation: int = 1,
    observed: int = 1,
    conditions: list[dict[str, Any]] | None = None,
    owner: dict[str, Any] | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "ns", "labels": labels or {}, "generation": generation}
    if owner:
        metadata["ownerReferences"] = [owner]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, **(template_labels or {})}},
                "spec": {"containers": [{"name": "c", "image": "img:1", "ports": ports or []}]},
            },
        },
        "status": {
            "replicas": replicas,
            "readyReplicas": ready,
            "updatedReplicas": replicas if updated is None else updated,
            "observedGeneration": observed,
            "conditions": conditions or [],
        },
    }


def pod(name: str, deployment_name: str, *, ready: bool = True, waiting: str | None = None) -> dict[str, Any]:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "labels": {"pod-template-hash": "7d9f8c6b5"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"{deployment_name}-7d9f8c6b5"}],
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"ready": ready, "restartCount": 3 if waiting else 0, "state": state}],
        },
    }


MCP = {"app.kubernetes.io/component": "mcp-server"}


def test_rule_label_on_deployment_or_template() -> None:
    assert is_mcp_deployment(deployment(labels=MCP)) == "label"
    assert is_mcp_deployment(deployment(template_labels=MCP)) == "label"
    assert is_mcp_deployment(deployment(labels={"app.kubernetes.io/component": "frontend"})) is None


def test_rule_port_named_mcp() -> None:
    assert is_mcp_deployment(deployment(ports=[{"name": "mcp", "containerPort": 8080}])) == "port-name"
    assert is_mcp_deployment(deployment(ports=[{"name": "http", "containerPort": 8080}])) is None
    assert is_mcp_deployment(deployment()) is None


def test_health_healthy_scaled_down_progressing() -> None:
    assert deployment_health(deployment())[0] == Health.HEALTHY
    assert deployment_health(deployment(replicas=0, ready=0))[0] == Health.SCALED_DOWN
    rolling = deployment(ready=1, updated=1, generation=2, observed=2)
    assert deployment_health(rolling)[0] == Health.PROGRESSING
    assert deployment_health(deployment(ready=2, generation=3, observed=2))[0] == Health.PROGRESSING


def test_health_failing_and_degraded() -> None:
    stalled = deployment(
        ready=0,
        conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "x"}],
    )
    health, reason = deployment_health(stalled)
    assert health == Health.FAILING and "ProgressDeadlineExceeded" in reason
    crashing = deployment(ready=0)
    health, reason = deployment_health(crashing, [pod("web-1", "web", ready=False, waiting="CrashLoopBackOff")])
    assert health == Health.FAILING and reason == "pod web-1: CrashLoopBackOff"
    half = deployment(ready=1)
    assert deployment_health(half, [pod("a", "web"), pod("b", "web", ready=False, waiting="CrashLoopBackOff")])[0] == (
        Health.DEGRADED
    )
    assert deployment_health(deployment(ready=0))[0] == Health.FAILING  # nothing rolling, nothing ready
    assert deployment_health(deployment(ready=1))[0] == Health.DEGRADED


def test_pod_owner_name() -> None:
    assert pod_deployment_name(pod("x", "my-app-v2")) == "my-app-v2"
    assert pod_deployment_name({"metadata": {"name": "bare"}}) is None


def test_state_follows_pods_and_the_rule() -> None:
    state = FleetState("ctx")
    state.replace("deployments", [deployment("mcp", labels=MCP, ready=0), deployment("web")])
    state.replace("pods", [pod("mcp-1", "mcp", ready=False, waiting="CrashLoopBackOff"), pod("web-1", "web")])
    [only] = state.rebuild()
    assert only.name == "mcp" and only.health == Health.FAILING and only.matched_by == "label"
    assert only.key == ("ns", "Deployment", "mcp")
    # the pod recovers and the deployment becomes ready: one change each time, nothing for "web"
    healthy_pod = pod("mcp-1", "mcp")
    changes = state.update(state.apply("pods", "MODIFIED", healthy_pod))
    assert len(changes) == 1 and isinstance(changes[0], WorkloadChanged)
    assert changes[0].workload.health == Health.FAILING  # still 0 ready in the Deployment's status
    changes = state.update(state.apply("deployments", "MODIFIED", deployment("mcp", labels=MCP)))
    assert [c.workload.health for c in changes if isinstance(c, WorkloadChanged)] == [Health.HEALTHY]
    assert state.update(state.apply("pods", "MODIFIED", pod("web-1", "web"))) == []
    # labels removed: it leaves the fleet
    changes = state.update(state.apply("deployments", "MODIFIED", deployment("mcp")))
    assert changes == [WorkloadRemoved(("ns", "Deployment", "mcp"))]


def test_custom_resource_folds_its_deployment() -> None:
    cr = {
        "apiVersion": "kagent.dev/v1alpha1",
        "kind": "MCPServer",
        "metadata": {"name": "everything", "namespace": "ns", "uid": "u1"},
        "spec": {"deployment": {"image": "ghcr.io/x/everything:1"}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Ready"}]},
    }
    owner = {"apiVersion": "kagent.dev/v1alpha1", "kind": "MCPServer", "name": "everything", "uid": "u1"}
    owned = deployment("everything", ports=[{"name": "mcp"}], owner=owner, replicas=1, ready=1)
    state = FleetState("ctx", ["kagent.dev"])
    state.replace("deployments", [owned])
    state.replace("kagent.dev", [cr])
    [row] = state.rebuild()
    assert row.kind == "MCPServer (kagent.dev)" and row.matched_by == "crd:kagent.dev"
    assert (row.ready, row.desired, row.health) == (1, 1, Health.HEALTHY)
    # the operator says Unhealthy while the pod is ready: readiness is not MCP health
    unhealthy = copy.deepcopy(cr)
    unhealthy["status"]["conditions"][0].update(status="False", reason="Unhealthy", message="no tools")
    [change] = state.update(state.apply("kagent.dev", "MODIFIED", unhealthy))
    assert isinstance(change, WorkloadChanged) and change.workload.health == Health.DEGRADED
    # without the Deployment, the resource's own status speaks
    state.update(state.apply("deployments", "DELETED", owned))
    row = state.workloads[("ns", "MCPServer (kagent.dev)", "everything")]
    assert row.health == Health.FAILING and row.image == "ghcr.io/x/everything:1"


def test_custom_resource_without_status_is_unknown() -> None:
    state = FleetState("ctx", ["toolhive.stacklok.dev"])
    state.replace(
        "toolhive.stacklok.dev",
        [{"metadata": {"name": "fetch", "namespace": "ns"}, "spec": {"image": "fetch:1"}}],
    )
    [row] = state.rebuild()
    assert row.health == Health.UNKNOWN and row.desired == 1 and row.image == "fetch:1"
    state.replace(
        "toolhive.stacklok.dev",
        [{"metadata": {"name": "fetch", "namespace": "ns"}, "status": {"phase": "Running"}}],
    )
    assert state.rebuild()[0].health == Health.HEALTHY
