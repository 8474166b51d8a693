"""One sandbox for the deploy tests (own state dir, fast crash back-off), and project helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aksmcp_tui.core.deploy.scaffold import init_project
from aksmcp_tui.sandbox.testing import ThreadedSandbox

REFERENCE_IMAGE = "ghcr.io/aksmcp/aksmcp-server:0.1.0"


@pytest.fixture(scope="package")
def deploy_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedSandbox]:
    # Crash back-off of 1 s instead of the kubelet's 10 s: a crash loop shows within seconds.
    old = os.environ.get("AKSMCP_SANDBOX_BACKOFF_BASE")
    os.environ["AKSMCP_SANDBOX_BACKOFF_BASE"] = "1"
    try:
        with ThreadedSandbox(tmp_path_factory.mktemp("deploy-sandbox"), bookmark_interval=0.5) as cluster:
            yield cluster
    finally:
        if old is None:
            os.environ.pop("AKSMCP_SANDBOX_BACKOFF_BASE", None)
        else:
            os.environ["AKSMCP_SANDBOX_BACKOFF_BASE"] = old


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var, sub in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"), ("XDG_STATE_HOME", "state")):
        (tmp_path / sub).mkdir()
        monkeypatch.setenv(var, str(tmp_path / sub))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    return tmp_path


def make_project(root: Path, name: str, namespace: str, **kwargs: object) -> Path:
    return init_project(name, directory=root / name, namespace=namespace, **kwargs).path  # type: ignore[arg-type]


def add_patch(project: Path, filename: str, text: str) -> None:
    """Add an overlay patch to the project's manifests/kustomization.yaml (as a user would)."""
    import yaml

    manifests = project / "manifests"
    (manifests / filename).write_text(text)
    kustomization = yaml.safe_load((manifests / "kustomization.yaml").read_text())
    kustomization.setdefault("patches", []).append({"path": filename})
    (manifests / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
