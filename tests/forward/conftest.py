"""One sandbox for all forward tests (its own thread), a namespace per test module, and a
KubeContext on the test's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.sandbox.testing import ThreadedSandbox


@pytest.fixture(scope="session")
def forward_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox(tmp_path_factory.mktemp("forward-sandbox"), bookmark_interval=0.5) as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var, sub in (
        ("HOME", "home"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_RUNTIME_DIR", "run"),
    ):
        path = tmp_path / sub
        path.mkdir(mode=0o700, exist_ok=True)
        monkeypatch.setenv(var, str(path))


@pytest.fixture
async def kube(forward_sandbox: ThreadedSandbox) -> AsyncIterator[KubeContext]:
    async with await KubeContext.open(kubeconfig=str(forward_sandbox.kubeconfig_path)) as context:
        yield context
