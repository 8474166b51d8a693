"""The bridge image: server/Dockerfile with MCP_PACKAGE=pypi:mcp-server-time and MCP_COMMAND, built offline
and run the way Kubernetes runs it (read-only root, uid 10001, API key), then used with the SDK client.

Same engine rules as test_dockerfile.py (whose helpers and fixtures this reuses): the pinned base is built
locally with debootstrap, wheels for everything (the runtime and the bridged package) are put in the
context, the Dockerfile is never edited.

The npm path (MCP_PACKAGE=npm:...) is built for real too: its base is the same debootstrap image plus
Debian's nodejs and npm (build_python_base.py --with-node, a test-only tag), and the package and its
dependency tree reach the offline build as an npm cache in the context's npm-cache/, filled on the host
with npm, as wheels/ does for pip. A build on the plain base (no node) must stop with a message saying so.
"""

from __future__ import annotations

import importlib.util
import json
import os
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
from test_dockerfile import (
    APP_UID,
    BASE_IMAGE_SCRIPT,
    SERVER_DIR,
    _build,
    _build_log,
    _remove_images,
    _run_until_healthy,
    base_image,
    docker_client,
)

__all__ = ["base_image", "docker_client"]  # fixtures used by this module

TIME_PACKAGE = "mcp-server-time==2026.10.19"
# A real npm stdio MCP server, exact version; its bin is mcp-server-memory.
MEMORY_PACKAGE = "@modelcontextprotocol/server-memory@2026.8.31"
MEMORY_COMMAND = "mcp-server-memory"


def _node_base_tag() -> str:
    """NODE_BASE_TAG from tests/docker_support/build_python_base.py (a script, not a package)."""
    spec = importlib.util.spec_from_file_location("build_python_base", BASE_IMAGE_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.NODE_BASE_TAG)


NODE_BASE_TAG = _node_base_tag()
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
        # Docker's default seccomp profile and a non-root uid allow the bridge's SCHED_BATCH.
        assert '"sched_policy":"batch"' in logs
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
    tag, leftovers = f"aksmcp-bridge-npm-test:{uuid.uuid4().hex[:12]}", list[str]()
    try:
        log, error = _build_log(
            docker_client,
            bridge_context,
            tag,
            leftovers,
            buildargs={"MCP_PACKAGE": f"npm:{MEMORY_PACKAGE}", "MCP_COMMAND": MEMORY_COMMAND},
        )
    finally:
        _remove_images(docker_client, tag, leftovers)
    assert error, "the build should have failed"
    assert "needs node and npm in the base image" in log


# ------------------------------------------------------------------------------ the npm path --


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        message = "npm is not installed on the host: it fills the build's npm-cache/ (apt-get install npm)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return npm


@pytest.fixture(scope="module")
def node_base_image(docker_client: Any) -> str:
    """The pinned base's Debian plus nodejs and npm, built locally once per engine (test-only tag)."""
    result = subprocess.run(
        [sys.executable, str(BASE_IMAGE_SCRIPT), "--with-node"], capture_output=True, text=True, timeout=1800
    )
    if result.returncode == 2:
        pytest.skip(f"cannot provide base image {NODE_BASE_TAG} here: {result.stderr.strip()}")
    assert result.returncode == 0, f"building {NODE_BASE_TAG} failed:\n{result.stdout}\n{result.stderr}"
    return NODE_BASE_TAG


@pytest.fixture(scope="module")
def npm_context(bridge_context: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bridge context (runtime wheels) plus npm/ for MEMORY_PACKAGE, filled with the command
    server/README.md gives a user: package.json, package-lock.json and a cache with every tarball."""
    context = tmp_path_factory.mktemp("npm-image") / "server"
    shutil.copytree(bridge_context, context)
    npm_dir = context / "npm"
    result = subprocess.run(
        [
            _npm(),
            "install",
            "--prefix",
            str(npm_dir),
            "--cache",
            str(npm_dir),
            # Whatever this host's npmrc says: npm ci --offline finds tarballs by these URLs + integrity.
            "--no-omit-lockfile-registry-resolved",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            MEMORY_PACKAGE,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"npm install {MEMORY_PACKAGE} failed:\n{result.stderr[-4000:]}"
    assert (npm_dir / "_cacache").is_dir() and (npm_dir / "package-lock.json").is_file()
    return context


@pytest.fixture(scope="module")
def npm_bridge_image(docker_client: Any, node_base_image: str, npm_context: Path) -> Iterator[Any]:
    # The engine runs with --bridge=none: the build's RUN steps have no network, so the install
    # below can only succeed from npm/.
    tag, leftovers = f"aksmcp-bridge-npm-test:{uuid.uuid4().hex[:12]}", list[str]()
    try:
        _build(
            docker_client,
            npm_context,
            tag,
            leftovers,
            buildargs={
                "MCP_PACKAGE": f"npm:{MEMORY_PACKAGE}",
                "MCP_COMMAND": MEMORY_COMMAND,
                "PYTHON_IMAGE": node_base_image,
            },
        )
        yield docker_client.images.get(tag)
    finally:
        _remove_images(docker_client, tag, leftovers)


# Lists every process in the container as {"argv": [...], "uid": N}; run inside it with python3.
PROCESSES = """
import json, os
out = []
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        argv = open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')
        uid = [line.split()[1] for line in open(f'/proc/{pid}/status') if line.startswith('Uid:')][0]
    except OSError:
        continue
    out.append({'argv': [a.decode() for a in argv if a], 'uid': int(uid)})
print(json.dumps(out))
"""


@pytest.mark.docker
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("launch", ["bin", "aksmcp-init"])
async def test_npm_bridge_image_runs_the_installed_package_read_only_as_uid_10001(
    docker_client: Any, npm_bridge_image: Any, launch: str
) -> None:
    env = dict(item.split("=", 1) for item in npm_bridge_image.attrs["Config"]["Env"])
    assert env["AKSMCP_BRIDGE_COMMAND"] == MEMORY_COMMAND
    assert env["NPM_CONFIG_OFFLINE"] == "true"
    assert npm_bridge_image.attrs["Config"]["User"] == f"{APP_UID}:{APP_UID}"
    # The memory server keeps its graph next to its own code unless told otherwise: on a read-only
    # root it is pointed at the writable workspace, as a Deployment would set it.
    environment = {
        "AKSMCP_AUTH_MODE": "apikey",
        "AKSMCP_API_KEY": API_KEY,
        "MEMORY_FILE_PATH": "/workspace/memory.jsonl",
    }
    if launch == "aksmcp-init":
        # What `aksmcp init --command "npx -y <pkg>@<v>"` puts in the project: npm exec of the installed
        # package (init cannot know its bin's name); the image's NPM_CONFIG_OFFLINE keeps it from fetching.
        from aksmcp_tui.core.deploy.scaffold import bridge_from_command

        package, command = bridge_from_command(f"npx -y {MEMORY_PACKAGE}")
        assert package == f"npm:{MEMORY_PACKAGE}"
        environment["AKSMCP_BRIDGE_COMMAND"] = command
    container, base_url = _run_until_healthy(docker_client, npm_bridge_image, environment)
    try:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as http:
            await _wait_ready(http, base_url, container)
            for mode in ("auto", "legacy"):
                async with Client(streamable_http_client(f"{base_url}/mcp", http_client=http), mode=mode) as client:  # type: ignore[arg-type]
                    assert client.server_info is not None and client.server_info.name == "memory-server"
                    tools = {tool.name for tool in (await client.list_tools()).tools}
                    assert {"create_entities", "read_graph"} <= tools, tools
                    entity = {"name": f"probe-{mode}", "entityType": "test", "observations": [f"written in {mode}"]}
                    created = await client.call_tool("create_entities", {"entities": [entity]})
                    assert not created.is_error, created.content
                    graph = await client.call_tool("read_graph", {})
                    assert not graph.is_error and graph.structured_content is not None, graph.content
                    names = {item["name"] for item in graph.structured_content["entities"]}
                    # The legacy client also sees what the first one wrote: the file is in /workspace.
                    assert names == ({"probe-auto"} if mode == "auto" else {"probe-auto", "probe-legacy"}), names
        # The server is the installed bin run by node, as uid 10001 like every process in there.
        code, output = container.exec_run(["python3", "-c", PROCESSES])
        assert code == 0, output
        processes = json.loads(output)
        assert all(p["uid"] == APP_UID for p in processes), processes
        servers = [p for p in processes if p["argv"][:1] == ["node"] and MEMORY_COMMAND in " ".join(p["argv"])]
        assert len(servers) == 1, processes
        # npm sets its process title ("npm exec ..."), which rewrites its argv into one string.
        npm_processes = [p for p in processes if os.path.basename(" ".join(p["argv"]).split()[0]) in {"npm", "npx"}]
        # With MCP_COMMAND npm never runs at all; init's command runs it once, offline.
        assert len(npm_processes) == (0 if launch == "bin" else 1), json.dumps(processes)
        code, output = container.exec_run(["python3", "-c", "open('/opt/mcp/probe', 'w')"])
        assert code != 0 and b"Read-only file system" in output
        code, output = container.exec_run(["sh", "-c", "test -s /workspace/memory.jsonl && node --version"])
        assert code == 0 and output.decode().startswith("v18."), output
        logs = container.logs().decode(errors="replace")
        assert '"mode":"bridge"' in logs and "ENOTCACHED" not in logs
        container.stop(timeout=40)
        assert container.wait(timeout=60)["StatusCode"] == 0
    finally:
        container.remove(force=True)


async def _wait_ready(http: Any, base_url: str, container: Any) -> None:
    for _ in range(300):  # /readyz turns 200 once the child's handshake is done
        if (await http.get(f"{base_url}/readyz")).status_code == 200:
            return
        await _pause()
    pytest.fail("/readyz never answered 200:\n" + container.logs().decode(errors="replace")[-4000:])


@pytest.mark.docker
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("case", ["another-version", "no-lockfile"])
def test_an_npm_folder_that_cannot_serve_the_package_fails_the_offline_build_clearly(
    docker_client: Any, node_base_image: str, npm_context: Path, tmp_path: Path, case: str
) -> None:
    # npm/ pins server-memory 2026.8.31: asking for another version, or a bare cache without the
    # lockfile, must stop the build with a reason, never fall through to a download.
    package, context = MEMORY_PACKAGE, npm_context
    if case == "another-version":
        package = MEMORY_PACKAGE.rsplit("@", 1)[0] + "@2026.7.4"
        expected = (
            f"npm/package-lock.json has {MEMORY_PACKAGE.replace('@2026', ' 2026')}, MCP_PACKAGE asks for {package}"
        )
    else:
        context = tmp_path / "server"
        shutil.copytree(npm_context, context, ignore=shutil.ignore_patterns("node_modules", "package-lock.json"))
        expected = "npm/ has a cache but no package-lock.json"
    tag, leftovers = f"aksmcp-bridge-npm-test:{uuid.uuid4().hex[:12]}", list[str]()
    try:
        log, error = _build_log(
            docker_client,
            context,
            tag,
            leftovers,
            buildargs={"MCP_PACKAGE": f"npm:{package}", "MCP_COMMAND": MEMORY_COMMAND, "PYTHON_IMAGE": node_base_image},
        )
    finally:
        _remove_images(docker_client, tag, leftovers)
    assert error, "the build should have failed"
    assert expected in log, log[-3000:]
