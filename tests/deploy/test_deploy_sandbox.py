"""`aksmcp deploy` against the sandbox: apply, rollout, smoke test through a forward, idempotent
re-deploy, dry run, and each failure made to happen for real, diagnosed and rolled back."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aksmcp_tui.cli import main
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.deploy.support import REFERENCE_IMAGE, add_patch, make_project

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("isolated_home")]


def kubectl(sb: ThreadedSandbox, *args: str) -> Any:
    out = subprocess.run(
        ["kubectl", "--kubeconfig", str(sb.kubeconfig_path), *args, "-o", "json", "--show-managed-fields"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return json.loads(out.stdout)


def deploy(sb: ThreadedSandbox, project: Path, *extra: str) -> int:
    return main(["deploy", str(project), "--kubeconfig", str(sb.kubeconfig_path), "--yes", *extra])


def test_deploy_smoke_test_and_idempotent_redeploy(
    deploy_sandbox: ThreadedSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, "hello-mcp", "deploy-ok")
    assert deploy(deploy_sandbox, project, "--image", REFERENCE_IMAGE, "--replicas", "1") == 0
    out, err = capsys.readouterr()
    assert "apply Namespace" not in err
    assert "smoke test: aksmcp-server answered tools/list with" in out or "answered tools/list with" in out, out
    assert "tools (" in out and "system_info" in out
    assert "connect your IDE: aksmcp connect vscode deploy/hello-mcp -n deploy-ok" in out
    deployment = kubectl(deploy_sandbox, "-n", "deploy-ok", "get", "deployment", "hello-mcp")
    server = deployment["spec"]["template"]["spec"]["containers"][0]
    assert server["image"] == REFERENCE_IMAGE and server["imagePullPolicy"] == "IfNotPresent"
    managers = {m["manager"] for m in deployment["metadata"]["managedFields"]}
    assert "aksmcp" in managers
    secret = kubectl(deploy_sandbox, "-n", "deploy-ok", "get", "secret", "hello-mcp-api-key")
    key = base64.b64decode(secret["data"]["api-key"]).decode()
    assert key not in out + err, "the API key must never be printed"
    sets_before = kubectl(deploy_sandbox, "-n", "deploy-ok", "get", "replicasets")["items"]
    assert len(sets_before) == 1

    # Unchanged input: nothing changes in the cluster (same ReplicaSet, same revision, same key).
    assert deploy(deploy_sandbox, project, "--image", REFERENCE_IMAGE, "--replicas", "1") == 0
    out, _ = capsys.readouterr()
    assert "1/1 available" in out
    sets_after = kubectl(deploy_sandbox, "-n", "deploy-ok", "get", "replicasets")["items"]
    assert [s["metadata"]["uid"] for s in sets_after] == [s["metadata"]["uid"] for s in sets_before]
    again = kubectl(deploy_sandbox, "-n", "deploy-ok", "get", "deployment", "hello-mcp")
    assert again["metadata"]["generation"] == deployment["metadata"]["generation"]
    assert kubectl(deploy_sandbox, "-n", "deploy-ok", "get", "secret", "hello-mcp-api-key")["data"] == secret["data"]


def test_dry_run_prints_objects_and_diff_and_changes_nothing(
    deploy_sandbox: ThreadedSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, "dry", "deploy-dry")
    assert deploy(deploy_sandbox, project, "--image", REFERENCE_IMAGE, "--dry-run") == 0
    out, _ = capsys.readouterr()
    assert "kind: Deployment" in out and "name: dry" in out
    assert "--- server-side diff ---" in out and "+++ Deployment deploy-dry/dry (after apply)" in out
    namespaces = [n["metadata"]["name"] for n in kubectl(deploy_sandbox, "get", "namespaces")["items"]]
    assert "deploy-dry" not in namespaces
    # Without --image a dry run builds and pushes nothing either (no Docker needed): it shows the tag.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    assert deploy(deploy_sandbox, project, "--dry-run", "--registry", "registry.example:5000") == 0
    out, _ = capsys.readouterr()
    assert "build skipped: dry run: would build registry.example:5000/dry:sha-" in out
    assert "image: registry.example:5000/dry:sha-" in out


def test_image_pull_failure_is_diagnosed_and_rolled_back(
    deploy_sandbox: ThreadedSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, "pull", "deploy-pull")
    assert deploy(deploy_sandbox, project, "--image", REFERENCE_IMAGE, "--replicas", "1", "--no-smoke-test") == 0
    capsys.readouterr()
    bad = "127.0.0.1:5999/team/pull:v9"
    assert deploy(deploy_sandbox, project, "--image", bad, "--replicas", "1") == 1
    out, err = capsys.readouterr()
    assert f"diagnosis: image {bad} does not exist" in err, err
    assert "check the tag" in err
    assert "rolled back from revision 2 to revision 1" in err and REFERENCE_IMAGE in err
    assert "ImagePullBackOff" in out or "ErrImagePull" in out  # pod states were streamed
    deployment = kubectl(deploy_sandbox, "-n", "deploy-pull", "get", "deployment", "pull")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == REFERENCE_IMAGE


def test_no_rollback_keeps_the_failed_revision(
    deploy_sandbox: ThreadedSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, "keep", "deploy-keep")
    assert deploy(deploy_sandbox, project, "--image", REFERENCE_IMAGE, "--replicas", "1", "--no-smoke-test") == 0
    bad = "127.0.0.1:5999/keep:nope"
    assert deploy(deploy_sandbox, project, "--image", bad, "--replicas", "1", "--no-rollback") == 1
    err = capsys.readouterr().err
    assert "--no-rollback" in err and "rollout undo deployment/keep --to-revision=1" in err
    deployment = kubectl(deploy_sandbox, "-n", "deploy-keep", "get", "deployment", "keep")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == bad


def test_crash_loop_shows_the_previous_containers_last_lines(
    deploy_sandbox: ThreadedSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, "crashy", "deploy-crash")
    add_patch(
        project,
        "crashy-bad-setting.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: aksmcp-server, namespace: mcp-system}\n"
        "data: {AKSMCP_LOG_LEVEL: chatty}\n",
    )
    assert deploy(deploy_sandbox, project, "--image", REFERENCE_IMAGE, "--replicas", "1") == 1
    err = capsys.readouterr().err
    assert "diagnosis: container server keeps crashing (exit code 2" in err, err
    assert "AKSMCP_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not 'CHATTY'" in err
    assert "first deploy of crashy: there is no previous revision" in err
    assert "remove with: kubectl -n deploy-crash delete" in err and "deployment/crashy" in err


def test_readiness_failure_names_the_probe_and_its_last_answer(
    deploy_sandbox: ThreadedSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, "unready", "deploy-ready")
    add_patch(
        project,
        "unready-probe.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: aksmcp-server, namespace: mcp-system}\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - name: server\n          readinessProbe:\n"
        "            httpGet: {path: /not-here, port: mcp}\n            periodSeconds: 1\n"
        "            failureThreshold: 2\n",
    )
    assert deploy(deploy_sandbox, project, "--image", REFERENCE_IMAGE, "--replicas", "1") == 1
    err = capsys.readouterr().err
    assert "never becomes ready: the readiness probe (GET /not-here on port mcp) keeps failing" in err, err
    assert "last answer: Readiness probe failed: HTTP probe failed with statuscode: 404" in err


def test_missing_crd_says_what_to_install_and_what_was_applied(
    deploy_sandbox: ThreadedSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, "watched", "deploy-crd")
    (project / "manifests" / "watched-monitor.yaml").write_text(
        "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\n"
        "metadata: {name: aksmcp-server, namespace: mcp-system}\n"
        "spec:\n  selector: {matchLabels: {app.kubernetes.io/name: aksmcp-server}}\n  endpoints: [{port: mcp}]\n"
    )
    import yaml

    kfile = project / "manifests" / "kustomization.yaml"
    kustomization = yaml.safe_load(kfile.read_text())
    kustomization["resources"].append("watched-monitor.yaml")
    kfile.write_text(yaml.safe_dump(kustomization))
    assert deploy(deploy_sandbox, project, "--image", REFERENCE_IMAGE, "--replicas", "1") == 1
    err = capsys.readouterr().err
    assert "the cluster does not know kind ServiceMonitor: its CustomResourceDefinition is not installed" in err, err
    assert "install the Prometheus Operator" in err
    assert "applied: Namespace deploy-crd" in err


def test_bridge_project_without_its_secret_stops_before_the_deployment(
    deploy_sandbox: ThreadedSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_PERSONAL_ACCESS_TOKEN", raising=False)
    project = make_project(tmp_path, "gh", "deploy-gh", template="github")
    assert deploy(deploy_sandbox, project, "--image", REFERENCE_IMAGE) == 1
    err = capsys.readouterr().err
    assert "Secret deploy-gh/gh-env does not exist and GITHUB_PERSONAL_ACCESS_TOKEN is not set here" in err
    assert "export GITHUB_PERSONAL_ACCESS_TOKEN=..." in err
    deployments = kubectl(deploy_sandbox, "-n", "deploy-gh", "get", "deployments")["items"]
    assert deployments == []


def test_bad_input_is_refused_with_a_clear_message(
    deploy_sandbox: ThreadedSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert deploy(deploy_sandbox, tmp_path) == 1
    assert "has no aksmcp.yaml: create a project with `aksmcp init NAME`" in capsys.readouterr().err
    project = make_project(tmp_path, "nodocker", "deploy-bad")
    (project / "Dockerfile").unlink()
    assert deploy(deploy_sandbox, project) == 1
    assert "has no Dockerfile" in capsys.readouterr().err
    project = make_project(tmp_path, "dockerless", "deploy-bad")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    assert deploy(deploy_sandbox, project, "--registry", "127.0.0.1:5999") == 1
    assert "Docker is not reachable" in capsys.readouterr().err
    unreachable = tmp_path / "kubeconfig"
    unreachable.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\nclusters: [{name: gone, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: gone, context: {cluster: gone, user: u}}]\n"
    )
    assert main(["deploy", str(project), "--kubeconfig", str(unreachable), "--image", REFERENCE_IMAGE]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the cluster" in err and "nothing was applied to the cluster" in err
    assert main(["deploy", str(project), "--image", REFERENCE_IMAGE, "--tag", "x"]) == 2


def test_unschedulable_pod_says_why_and_what_to_change(
    deploy_sandbox: ThreadedSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, "greedy", "deploy-sched")
    add_patch(
        project,
        "greedy-size.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: aksmcp-server, namespace: mcp-system}\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - name: server\n          resources:\n"
        "            requests: {memory: 512Gi}\n            limits: {memory: 512Gi}\n",
    )
    assert deploy(deploy_sandbox, project, "--image", REFERENCE_IMAGE, "--replicas", "1") == 1
    err = capsys.readouterr().err
    assert "cannot be scheduled: 0/1 nodes are available: 1 Insufficient memory." in err, err
    assert "lower the CPU/memory requests" in err
    pod = kubectl(deploy_sandbox, "-n", "deploy-sched", "get", "pods")["items"][0]
    assert pod["status"]["phase"] == "Pending" and "nodeName" not in pod["spec"]


def test_quota_denial_is_diagnosed(
    deploy_sandbox: ThreadedSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, "capped", "deploy-quota")
    assert deploy(deploy_sandbox, project, "--image", REFERENCE_IMAGE, "--replicas", "1", "--no-smoke-test") == 0
    quota = tmp_path / "quota.yaml"
    quota.write_text("apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: two-pods}\nspec: {hard: {pods: '1'}}\n")
    kubectl(deploy_sandbox, "-n", "deploy-quota", "apply", "-f", str(quota))
    capsys.readouterr()
    assert deploy(deploy_sandbox, project, "--image", REFERENCE_IMAGE, "--replicas", "2", "--no-smoke-test") == 1
    err = capsys.readouterr().err
    assert "the namespace's ResourceQuota is exhausted" in err, err
    assert "exceeded quota: two-pods, requested: pods=1, used: pods=1, limited: pods=1" in err


def test_a_patch_that_breaks_the_restricted_standard_is_refused_before_apply(
    deploy_sandbox: ThreadedSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project(tmp_path, "rooty", "deploy-pss")
    add_patch(
        project,
        "rooty-root.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: aksmcp-server, namespace: mcp-system}\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - name: server\n          securityContext:\n"
        "            privileged: true\n            allowPrivilegeEscalation: true\n",
    )
    assert deploy(deploy_sandbox, project, "--image", REFERENCE_IMAGE) == 1
    err = capsys.readouterr().err
    assert "break the restricted Pod Security Standard: Deployment rooty: server: privileged" in err, err
    assert "nothing was applied to the cluster" in err
    namespaces = [n["metadata"]["name"] for n in kubectl(deploy_sandbox, "get", "namespaces")["items"]]
    assert "deploy-pss" not in namespaces


async def test_a_declined_confirmation_applies_nothing(deploy_sandbox: ThreadedSandbox, tmp_path: Path) -> None:
    from aksmcp_tui.core.deploy.events import Finished
    from aksmcp_tui.core.deploy.flow import DeployFlow, DeployOptions

    project = make_project(tmp_path, "asked", "deploy-asked")
    questions: list[str] = []

    async def decline(question: str) -> bool:
        questions.append(question)
        return False

    options = DeployOptions(
        path=project, kubeconfig=str(deploy_sandbox.kubeconfig_path), image=REFERENCE_IMAGE, confirm=decline
    )
    events = [event async for event in DeployFlow(options).run()]
    assert questions == [
        f"apply 7 objects of asked ({REFERENCE_IMAGE}) to context aksmcp-sandbox, namespace deploy-asked?"
    ]
    finished = events[-1]
    assert isinstance(finished, Finished) and not finished.ok
    assert finished.leftovers == ("nothing was applied to the cluster",)


def test_ctrl_c_says_what_was_applied_and_how_to_clean_it(deploy_sandbox: ThreadedSandbox, tmp_path: Path) -> None:
    import signal
    import sys

    project = make_project(tmp_path, "interrupted", "deploy-sigint")
    add_patch(
        project,
        "interrupted-probe.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: aksmcp-server, namespace: mcp-system}\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - name: server\n          readinessProbe:\n"
        "            httpGet: {path: /never, port: mcp}\n            failureThreshold: 100\n",
    )
    command = [sys.executable, "-m", "aksmcp_tui.cli", "deploy", str(project), "--yes", "--replicas", "1"]
    command += ["--kubeconfig", str(deploy_sandbox.kubeconfig_path), "--image", REFERENCE_IMAGE]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            if line.startswith("==> rollout"):
                break
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read()
        assert proc.wait(timeout=30) == 130, err
    assert "aksmcp deploy: cancelled" in err
    assert "applied: Namespace deploy-sigint" in err and "Deployment deploy-sigint/interrupted" in err
    assert "remove with: kubectl -n deploy-sigint delete" in err and "deployment/interrupted" in err
