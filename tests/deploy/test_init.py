"""`aksmcp init`: the generated project's layout, manifests, own tests, catalog and bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from aksmcp_tui.cli import main
from aksmcp_tui.core.deploy.catalog import CATALOG
from aksmcp_tui.core.deploy.posture import pod_security_problems
from aksmcp_tui.core.deploy.project import load_project
from aksmcp_tui.core.deploy.scaffold import ScaffoldError, init_project
from aksmcp_tui.core.manifests import DeployParameters, apply_parameters, render_kustomization

REPO = Path(__file__).resolve().parents[2]
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


def kubectl_kustomize(directory: Path) -> list[dict[str, Any]]:
    out = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def validate_all(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        kubernetes_validate.validate(obj, "1.32", strict=True)
    assert pod_security_problems(objects) == []


def test_python_project_layout_is_the_contract(tmp_path: Path) -> None:
    result = init_project("weather-tools", directory=tmp_path / "weather-tools", namespace="tools")
    root = result.path
    for name in ("Dockerfile", ".dockerignore", ".gitignore", "README.md", "pyproject.toml", "aksmcp.yaml"):
        assert (root / name).is_file(), name
    # The runtime and Dockerfile are server/ itself, byte for byte (apart from wiring in the tools).
    assert (root / "Dockerfile").read_bytes() == (REPO / "server" / "Dockerfile").read_bytes()
    for module in (REPO / "server" / "aksmcp_server").glob("*.py"):
        if module.name != "app.py":
            assert (root / "aksmcp_server" / module.name).read_bytes() == module.read_bytes(), module.name
    assert "project_tools()" in (root / "aksmcp_server" / "app.py").read_text()
    assert "async def greet" in (root / "weather_tools" / "tools.py").read_text()
    assert (root / "tests" / "test_tools.py").is_file()
    # manifests/aksmcp/base is an untouched copy of aksmcp's base.
    for file in (REPO / "manifests" / "base").iterdir():
        assert (root / "manifests" / "aksmcp" / "base" / file.name).read_bytes() == file.read_bytes()
    overlay = yaml.safe_load((root / "manifests" / "kustomization.yaml").read_text())
    assert overlay["resources"] == ["aksmcp/base"] and overlay["namespace"] == "tools"
    project = load_project(root)
    assert (project.name, project.namespace, project.template, project.port) == (
        "weather-tools",
        "tools",
        "python",
        8080,
    )
    assert ".env" in (root / ".gitignore").read_text()


@needs_kubectl
@pytest.mark.parametrize("template", ["python", "github", "postgres", "memory"])
def test_generated_manifests_match_kubectl_validate_and_meet_restricted_pss(tmp_path: Path, template: str) -> None:
    root = init_project("proj", template=template, directory=tmp_path / "proj").path
    ours = render_kustomization(root / "manifests")
    assert ours == kubectl_kustomize(root / "manifests")
    validate_all(ours)
    image = "127.0.0.1:5000/proj@sha256:" + "ab" * 32
    deployed = apply_parameters(ours, DeployParameters(name="proj", namespace="team-x", image=image, replicas=1))
    validate_all(deployed)
    kinds = {(o["kind"], o["metadata"]["name"]) for o in deployed}
    assert ("Deployment", "proj") in kinds and ("Namespace", "team-x") in kinds
    assert all(o["metadata"].get("namespace") in (None, "team-x") for o in deployed)
    deployment = next(o for o in deployed if o["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    server = pod["containers"][0]
    assert server["image"] == image and server["imagePullPolicy"] == "IfNotPresent"
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == "proj"
    assert {v["name"]: v for v in pod["volumes"]}["api-key"]["secret"]["secretName"] == "proj-api-key"
    assert pod["serviceAccountName"] == "proj"
    config = next(o for o in deployed if o["kind"] == "ConfigMap")
    assert config["data"]["AKSMCP_SERVER_NAME"] == "proj"
    assert "proj.team-x.svc" in config["data"]["AKSMCP_ALLOWED_HOSTS"].split(",")
    entry = CATALOG.get(template)
    env = {e["name"]: e for e in server.get("env", [])}
    if entry is not None:
        assert env["AKSMCP_BRIDGE_COMMAND"]["value"] == entry.command
        for secret in entry.secrets:
            assert env[secret.name]["valueFrom"]["secretKeyRef"] == {"name": "proj-env", "key": secret.name}
        for key, value in entry.env.items():
            assert config["data"][key] == value
        meta = load_project(root)
        assert meta.build_args == {"MCP_PACKAGE": entry.package, "MCP_COMMAND": entry.command}
        assert meta.secret_env == [s.name for s in entry.secrets]


def test_catalog_pins_every_package_and_says_where_secrets_come_from(tmp_path: Path) -> None:
    assert {"github", "filesystem", "git", "time", "fetch", "memory", "postgres"} <= set(CATALOG)
    for entry in CATALOG.values():
        kind, _, spec = entry.package.partition(":")
        assert (kind == "npm" and "@" in spec.lstrip("@")) or (kind == "pypi" and "==" in spec), entry.package
    readme = init_project("gh", template="github", directory=tmp_path / "gh").path.joinpath("README.md").read_text()
    assert "GITHUB_PERSONAL_ACCESS_TOKEN" in readme and "https://github.com/settings/" in readme
    assert "kubectl -n mcp-system create secret generic gh-env" in readme


def test_bridge_template_from_a_command(tmp_path: Path) -> None:
    uvx = load_project(
        init_project("t", template="bridge", command="uvx mcp-server-time==2026.10.19", directory=tmp_path / "t").path
    )
    assert uvx.build_args == {"MCP_PACKAGE": "pypi:mcp-server-time==2026.10.19", "MCP_COMMAND": "mcp-server-time"}
    npx = load_project(
        init_project(
            "m",
            template="bridge",
            command="npx -y @modelcontextprotocol/server-memory@2026.8.31",
            directory=tmp_path / "m",
        ).path
    )
    assert npx.build_args == {
        "MCP_PACKAGE": "npm:@modelcontextprotocol/server-memory@2026.8.31",
        "MCP_COMMAND": "npm exec --offline --yes --prefix /opt/mcp/node -- @modelcontextprotocol/server-memory",
    }
    readme = (tmp_path / "m" / "README.md").read_text()
    assert "needs node and npm in the image" in readme and "PYTHON_IMAGE" in readme
    assert "apt-get install -y --no-install-recommends nodejs npm" in readme
    assert (
        "npm install --prefix npm --cache npm --no-omit-lockfile-registry-resolved --ignore-scripts "
        "@modelcontextprotocol/server-memory@2026.8.31" in readme
    )


def test_list_and_bad_input_exit_non_zero_and_write_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in ("github", "postgres", "GITHUB_PERSONAL_ACCESS_TOKEN"))
    for argv, message in [
        (["init", "Not_DNS"], "not a valid Kubernetes name"),
        (["init", "ok", "--template", "nope"], "unknown template"),
        (["init", "ok", "--template", "bridge"], "needs --command"),
        (["init", "ok", "--command", "uvx x"], "goes with --template bridge"),
        (["init", "ok", "-n", "Bad NS"], "not a valid Kubernetes name"),
    ]:
        assert main([*argv, "--dir", str(tmp_path / "ok")]) == 2, argv
        assert message in capsys.readouterr().err
    assert not (tmp_path / "ok").exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("mine")
    with pytest.raises(ScaffoldError, match="not empty"):
        init_project("taken", directory=tmp_path / "taken")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_a_failed_copy_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "server"
    shutil.copytree(REPO / "server", broken, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    (broken / "aksmcp_server" / "app.py").write_text("# rewritten upstream\n")
    monkeypatch.setenv("AKSMCP_SERVER_TEMPLATE_DIR", str(broken))
    with pytest.raises(ScaffoldError, match=r"app\.py no longer contains"):
        init_project("x", directory=tmp_path / "out" / "x")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.timeout(300)
def test_generated_project_tests_pass_in_a_fresh_venv(tmp_path: Path) -> None:
    root = init_project("fresh-tools", directory=tmp_path / "fresh-tools").path
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["HOME"] = str(tmp_path / "home")
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-e", ".[test]"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout
