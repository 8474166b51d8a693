"""The bridge image: server/Dockerfile with MCP_PACKAGE=pypi:mcp-server-time and MCP_COMMAND, built offline
and run the way Kubernetes runs it (read-only root, uid 10001, API key), then used with the SDK client.

Same engine rules as test_dockerfile.py (whose helpers and fixtures this reuses): the pinned base is built
locally with debootstrap, wheels for everything (the runtime and the bridged package) are put in the
context, the Dockerfile is never edited. The npm path needs node and npm in the base image, which cannot be
provided offline here: the test checks that a build without them stops with a message saying so.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from test_dockerfile import SERVER_DIR, _build, _remove_images, _run_until_healthy, base_image, docker_client

__all__ = ["base_image", "docker_client"]  # fixtures used by this module

TIME_PACKAGE = "mcp-server-time==2026.10.19"
API_KEY = "bridge-image-key-0123456789abcdef"


@pytest.fixture(scope="module")
def bridge_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """server/ plus wheels/ for the runtime and for mcp-server-time (each with its dependencies)."""
    context = tmp_path_factory.mktemp("bridge-image") / "server"
    shutil.copytree(
        SERVER_DIR,
        context,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist", ".venv", "wheels"),
    )
    wheels = context / "wheels"
    for target in (str(context), TIME_PACKAGE):
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", target, "--wheel-dir", str(wheels)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert result.returncode == 0, f"pip wheel {target} failed:\n{result.stderr[-4000:]}"
    return context


@pytest.fixture(scope="module")
def bridge_image(docker_client: Any, base_image: str, bridge_context: Path) -> Iterator[Any]:
    tag, leftovers = f"aksmcp-bridge-test:{uuid.uuid4().hex[:12]}", list[str]()
    try:
        _build(
            docker_client,
            bridge_context,
            tag,
            leftovers,
            buildargs={"MCP_PACKAGE": f"pypi:{TIME_PACKAGE}", "MCP_COMMAND": "mcp-server-time"},
        )
        yield docker_client.images.get(tag)
    finally:
        _remove_images(docker_client, tag, leftovers)


@pytest.mark.docker
@pytest.mark.timeout(1800)
async def test_pypi_bridge_image_serves_the_package_read_only_as_uid_10001(
    docker_client: Any, bridge_image: Any
) -> None:
    env = dict(item.split("=", 1) for item in bridge_image.attrs["Config"]["Env"])
    assert env["AKSMCP_BRIDGE_COMMAND"] == "mcp-server-time"
    assert bridge_image.attrs["Config"]["Entrypoint"] == ["aksmcp-server"]
    container, base_url = _run_until_healthy(
        docker_client, bridge_image, {"AKSMCP_AUTH_MODE": "apikey", "AKSMCP_API_KEY": API_KEY}
    )
    try:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as http:
            deadline_ok = False
            for _ in range(300):  # /readyz turns 200 once the child's handshake is done
                if (await http.get(f"{base_url}/readyz")).status_code == 200:
                    deadline_ok = True
                    break
                await _pause()
            assert deadline_ok, container.logs().decode(errors="replace")[-4000:]
            for mode in ("auto", "legacy"):
                async with Client(streamable_http_client(f"{base_url}/mcp", http_client=http), mode=mode) as client:  # type: ignore[arg-type]
                    assert client.server_info is not None and client.server_info.name == "mcp-time"
                    result = await client.call_tool("get_current_time", {"timezone": "UTC"})
                    assert not result.is_error and '"timezone": "UTC"' in result.content[0].text  # type: ignore[union-attr]
        # Nothing was installed at start-up: the package is in the image, the root is read-only.
        code, output = container.exec_run(["python3", "-c", "open('/opt/mcp/probe', 'w')"])
        assert code != 0 and b"Read-only file system" in output
        logs = container.logs().decode(errors="replace")
        assert '"mode":"bridge"' in logs and "Downloading" not in logs
        container.stop(timeout=40)
        assert container.wait(timeout=60)["StatusCode"] == 0
    finally:
        container.remove(force=True)


async def _pause() -> None:
    import anyio

    await anyio.sleep(0.1)


@pytest.mark.docker
@pytest.mark.timeout(1800)
def test_npm_package_without_node_in_the_base_fails_the_build_clearly(
    docker_client: Any, base_image: str, bridge_context: Path
) -> None:
    tag = f"aksmcp-bridge-npm-test:{uuid.uuid4().hex[:12]}"
    log: list[str] = []
    error = ""
    try:
        for chunk in docker_client.api.build(
            path=str(bridge_context),
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            buildargs={
                "MCP_PACKAGE": "npm:@modelcontextprotocol/server-memory@2026.1.1",
                "MCP_COMMAND": "mcp-server-memory",
            },
        ):
            log.append(chunk.get("stream", ""))
            error = error or chunk.get("error", "")
    finally:
        _remove_images(docker_client, tag, [])
    assert error, "the build should have failed"
    assert "needs node and npm in the base image" in "".join(log)
