"""Observe tests share one sandbox (tests/conftest.py `sandbox_session`); each test has its own namespace."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.observe.support import opened


@pytest.fixture
async def kube(sandbox_session: ThreadedSandbox) -> AsyncIterator[KubeContext]:
    async with opened(sandbox_session.kubeconfig_path) as context:
        yield context
