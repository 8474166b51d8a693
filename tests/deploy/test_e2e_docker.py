"""End to end with a real Docker engine and registry: `aksmcp init` → `aksmcp deploy` builds the
image (docker SDK), pushes it to a registry on 127.0.0.1, applies it to the sandbox whose node
runs the pushed image as a real container, and the smoke test calls tools/list through a forward.
Also: a push the registry cannot take is an error even though the SDK hides it in the stream, and a
catalog project (mcp-server-time, pinned) answers through the runtime's bridge."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from aksmcp_tui.cli import main
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.deploy.support import REGISTRY_USER, add_patch, offline_wheels

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600), pytest.mark.usefixtures("isolated_home")]

RUN_AS_CONTAINER = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: aksmcp-server, namespace: mcp-system}\n"
    "spec:\n  template:\n    metadata:\n      annotations: {sandbox.aksmcp.dev/runtime: docker}\n"
)


def test_init_build_push_deploy_to_containers_and_smoke_test(
    deploy_sandbox: ThreadedSandbox,
    docker_engine: object,
    registry: str,
    python_base_image: str,
    dependency_wheels: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["init", "boxed-tools", "--dir", str(tmp_path / "boxed-tools"), "-n", "deploy-e2e"]) == 0
    project = tmp_path / "boxed-tools"
    add_patch(project, "boxed-tools-runtime.yaml", RUN_AS_CONTAINER)
    offline_wheels(project, dependency_wheels)
    argv = ["deploy", str(project), "--kubeconfig", str(deploy_sandbox.kubeconfig_path), "--registry", registry]
    assert main([*argv, "--replicas", "1", "--yes"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "Step 1/" in out  # build progress streamed
    assert "layer " in out  # per-layer push progress
    pinned = next(line for line in out.splitlines() if "ok push:" in line).split()[2]
    assert pinned.startswith(f"{registry}/boxed-tools@sha256:")
    # The example tool of the generated project answers through the forward: it is the built image.
    assert "greet" in out and "answered tools/list with 4 tools" in out, out
    pod = json.loads(
        subprocess.run(
            [
                "kubectl",
                "--kubeconfig",
                str(deploy_sandbox.kubeconfig_path),
                "-n",
                "deploy-e2e",
                "get",
                "pods",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )["items"][0]
    status = pod["status"]["containerStatuses"][0]
    assert status["imageID"].startswith("docker-pullable://") and status["image"] == pinned

    # Unchanged source: same tag, same digest, no new ReplicaSet.
    assert main([*argv, "--replicas", "1", "--yes", "--no-smoke-test"]) == 0
    again = capsys.readouterr().out
    assert f"ok push: {pinned}" in again
    sets = json.loads(
        subprocess.run(
            [
                "kubectl",
                "--kubeconfig",
                str(deploy_sandbox.kubeconfig_path),
                "-n",
                "deploy-e2e",
                "get",
                "rs",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )["items"]
    assert len(sets) == 1

    # A registry that cannot take the push: an error (the SDK only reports it inside the stream),
    # and nothing reaches the cluster. The build is the cached one: same source.
    closed = ["deploy", str(project), "--kubeconfig", str(deploy_sandbox.kubeconfig_path), "--registry", "127.0.0.1:1"]
    assert main([*closed, "--yes"]) == 1
    err = capsys.readouterr().err
    assert "FAILED push: the push of 127.0.0.1:1/boxed-tools:" in err
    assert "nothing was applied to the cluster" in err


def test_registry_credentials_denied_then_given_with_registry_login(
    deploy_sandbox: ThreadedSandbox,
    docker_engine: object,
    auth_registry: tuple[str, str],
    python_base_image: str,
    dependency_wheels: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    address, password = auth_registry
    assert main(["init", "locked", "--dir", str(tmp_path / "locked"), "-n", "deploy-auth"]) == 0
    project = tmp_path / "locked"
    add_patch(project, "locked-runtime.yaml", RUN_AS_CONTAINER)
    offline_wheels(project, dependency_wheels)
    argv = ["deploy", str(project), "--kubeconfig", str(deploy_sandbox.kubeconfig_path), "--registry", address]
    assert main([*argv, "--yes", "--no-smoke-test", "--replicas", "1"]) == 1
    err = capsys.readouterr().err
    assert f"FAILED push: the push of {address}/locked:" in err and "no basic auth credentials" in err, err
    assert f"fix: log in to {address}" in err and "--registry-login USER" in err
    monkeypatch.setenv("AKSMCP_REGISTRY_PASSWORD", password)
    login = ["--registry-login", REGISTRY_USER]
    assert main([*argv, "--yes", "--no-smoke-test", "--replicas", "1", *login]) == 0, capsys.readouterr().err
    out, err = capsys.readouterr()
    assert f"ok push: {address}/locked@sha256:" in out
    assert "credentials: --registry-login" in out
    assert password not in out + err


def test_catalog_bridge_project_builds_and_answers_through_the_bridge(
    deploy_sandbox: ThreadedSandbox,
    docker_engine: object,
    registry: str,
    python_base_image: str,
    dependency_wheels: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["init", "clock", "--template", "time", "--dir", str(tmp_path / "clock"), "-n", "deploy-bridge"]) == 0
    project = tmp_path / "clock"
    add_patch(project, "clock-runtime.yaml", RUN_AS_CONTAINER)
    offline_wheels(project, dependency_wheels)
    argv = ["deploy", str(project), "--kubeconfig", str(deploy_sandbox.kubeconfig_path), "--registry", registry]
    assert main([*argv, "--replicas", "1", "--yes"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    # tools/list went through the forward, the runtime's bridge, and the pinned mcp-server-time.
    assert "answered tools/list with 2 tools (get_current_time, convert_time)" in out, out
