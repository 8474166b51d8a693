"""Image pulls the registry refuses, made to happen for real: the sandbox's Docker runtime pulls from
Debian's docker-registry on 127.0.0.1 that wants credentials the node does not have (no
imagePullSecret), and `aksmcp deploy` says the cluster cannot authenticate, with the fix.

The "registry not attached" case stands the same loopback registry in for NAME.azurecr.io through
the node's registry mirror map (containerd's hosts.toml, here AKSMCP_SANDBOX_REGISTRY_MIRRORS): the
kubelet is refused exactly as an AKS node whose identity has no AcrPull, and nothing leaves the machine.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aksmcp_tui.sandbox.node.docker_runtime import MIRRORS_ENV
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.deploy.support import REFERENCE_IMAGE, add_patch, make_project
from tests.deploy.test_deploy_sandbox import deploy, kubectl

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300), pytest.mark.usefixtures("isolated_home")]

RUN_AS_CONTAINER = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: aksmcp-server, namespace: mcp-system}\n"
    "spec:\n  template:\n    metadata:\n      annotations: {sandbox.aksmcp.dev/runtime: docker}\n"
)


def _first_deploy_then_containers(sb: ThreadedSandbox, tmp_path: Path, name: str, namespace: str) -> Path:
    """Revision 1 runs the reference image as a process (nothing to pull); later revisions run in Docker."""
    project = make_project(tmp_path, name, namespace)
    assert deploy(sb, project, "--image", REFERENCE_IMAGE, "--replicas", "1", "--no-smoke-test") == 0
    add_patch(project, f"{name}-runtime.yaml", RUN_AS_CONTAINER)
    return project


def _pull_waiting_states(sb: ThreadedSandbox, namespace: str, image: str) -> list[dict[str, str]]:
    pods = kubectl(sb, "-n", namespace, "get", "pods")["items"]
    return [
        (status.get("state") or {}).get("waiting") or {}
        for pod in pods
        for status in (pod.get("status") or {}).get("containerStatuses") or []
        if status.get("image") == image
    ]


def _delete_and_wait(sb: ThreadedSandbox, namespace: str) -> None:
    base = ["kubectl", "--kubeconfig", str(sb.kubeconfig_path), "-n", namespace]
    subprocess.run([*base, "delete", "deployment", "--all", "--wait=true"], capture_output=True, timeout=60)
    done = subprocess.run(
        [*base, "wait", "pods", "--all", "--for=delete", "--timeout=60s"], capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr


def test_registry_wanting_credentials_is_diagnosed_as_auth_and_rolled_back(
    deploy_sandbox: ThreadedSandbox,
    docker_engine: object,
    auth_registry: tuple[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    address, _ = auth_registry
    project = _first_deploy_then_containers(deploy_sandbox, tmp_path, "locked-pull", "deploy-pull-auth")
    capsys.readouterr()
    image = f"{address}/team/locked-pull:v1"
    assert deploy(deploy_sandbox, project, "--image", image, "--replicas", "1", "--no-smoke-test") == 1
    out, err = capsys.readouterr()
    assert f"diagnosis: the cluster cannot authenticate to the registry {address} to pull {image}" in err, err
    # The kubelet-like reason reached the user: containerd's words for a 401.
    assert "401 Unauthorized" in err and "no basic auth credentials" in err, err
    assert "imagePullSecrets" in err and f"create secret docker-registry <name> --docker-server={address}" in err
    assert "ErrImagePull" in out or "ImagePullBackOff" in out
    assert "rolled back from revision 2 to revision 1" in err and REFERENCE_IMAGE in err
    deployment = kubectl(deploy_sandbox, "-n", "deploy-pull-auth", "get", "deployment", "locked-pull")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == REFERENCE_IMAGE


def test_acr_not_attached_names_attach_acr_and_check_pull(
    deploy_sandbox: ThreadedSandbox,
    docker_engine: object,
    auth_registry: tuple[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address, _ = auth_registry
    monkeypatch.setenv(MIRRORS_ENV, f"aksmcpteam.azurecr.io={address}")
    project = _first_deploy_then_containers(deploy_sandbox, tmp_path, "acr-pull", "deploy-pull-acr")
    capsys.readouterr()
    image = "aksmcpteam.azurecr.io/tools/acr-pull:v1"
    try:
        assert deploy(deploy_sandbox, project, "--image", image, "--replicas", "1", "--no-rollback") == 1
        err = capsys.readouterr().err
        # What the node reports looks like a kubelet refused by the registry (kept: --no-rollback).
        waiting = _pull_waiting_states(deploy_sandbox, "deploy-pull-acr", image)
    finally:
        # The pods would retry the pull; once the mirror map is gone that would be the real azurecr.io.
        _delete_and_wait(deploy_sandbox, "deploy-pull-acr")
    assert "diagnosis: the cluster cannot authenticate to the registry aksmcpteam.azurecr.io: it is not attached" in err
    assert "az aks update -n <cluster> -g <group> --attach-acr aksmcpteam" in err, err
    assert "aksmcp acr check-pull <cluster> -g <group> --registry aksmcpteam" in err
    assert waiting and all(w.get("reason") in ("ErrImagePull", "ImagePullBackOff") for w in waiting), waiting
    assert all(f'"{image}"' in w["message"] and "401 Unauthorized" in w["message"] for w in waiting), waiting
