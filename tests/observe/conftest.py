"""Observe tests share one sandbox (tests/conftest.py `sandbox_session`); each test has its own namespace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.observe.support import opened


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never the real home; steady UI for Pilot and snapshot tests."""
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    monkeypatch.setenv("TEXTUAL_THEME", "textual-dark")
    for var, sub in (("HOME", "home"), ("XDG_STATE_HOME", "state"), ("XDG_CONFIG_HOME", "config")):
        monkeypatch.setenv(var, str(tmp_path / sub))


@pytest.fixture
async def kube(sandbox_session: ThreadedSandbox) -> AsyncIterator[KubeContext]:
    async with opened(sandbox_session.kubeconfig_path) as context:
        yield context
