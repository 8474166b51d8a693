"""Shared fixtures: a real sandbox cluster (API server, controllers, node) per test or per session.

- `sandbox`: a started SandboxCluster in a temp state dir, on the test's own event loop
  (use `sandbox.store` directly if needed). Teardown stops the node: no pod process survives.
- `sandbox_session`: one ThreadedSandbox for the whole session (own thread and loop), for
  read-mostly tests; use it over HTTP via `.kubeconfig_path` (works from sync or async tests).
- `sandbox_api`: a `kubernetes.aio` ApiClient for `sandbox`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from aksmcp_tui.sandbox.cluster import SandboxCluster
from aksmcp_tui.sandbox.testing import ThreadedSandbox, aio_api_client


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[SandboxCluster]:
    async with SandboxCluster(tmp_path / "sandbox", bookmark_interval=0.5) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def sandbox_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedSandbox]:
    with ThreadedSandbox(tmp_path_factory.mktemp("sandbox-session"), bookmark_interval=0.5) as cluster:
        yield cluster


@pytest.fixture
async def sandbox_api(sandbox: SandboxCluster) -> AsyncIterator[Any]:
    client = await aio_api_client(sandbox.kubeconfig_path)
    try:
        yield client
    finally:
        await client.close()
