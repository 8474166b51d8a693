"""Fixtures of the dashboard tests: a sandbox served from its own thread, seeded with a fixed fleet."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from .sandbox_support import ThreadedSandbox, seed_fleet, wait_ready


@dataclass(frozen=True)
class SeededSandbox:
    sandbox: ThreadedSandbox
    kubeconfig: Path
    seeded_at: datetime


@pytest.fixture(scope="module")
def seeded_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededSandbox]:
    """One sandbox per test module, with alpha/beta/gamma MCP workloads and a non-MCP one, all ready."""
    state = tmp_path_factory.mktemp("ui-sandbox")
    with ThreadedSandbox(state) as sandbox:
        seeded_at = seed_fleet(sandbox.kubeconfig_path)
        wait_ready(sandbox.kubeconfig_path, {"alpha-mcp": ("team-a", 1), "beta-mcp": ("team-a", 2)})
        yield SeededSandbox(sandbox, sandbox.kubeconfig_path, seeded_at)


@pytest.fixture(autouse=True)
def _textual_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    monkeypatch.setenv("TEXTUAL_THEME", "textual-dark")
