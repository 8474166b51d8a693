"""server/Dockerfile: static rules, then a real build and run on a local Docker engine.

Nothing can be pulled on this machine, so the engine tests provide the pinned base image locally
(tests/docker_support/build_python_base.py: debootstrap + docker import, tagged with the exact name
the Dockerfile's ARG default pins) and build host-side wheels into a copy of the context, so the
build needs no network. The Dockerfile itself is never edited for the test.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_DIR = REPO_ROOT / "server"
DOCKERFILE = SERVER_DIR / "Dockerfile"
BASE_IMAGE_SCRIPT = REPO_ROOT / "tests" / "docker_support" / "build_python_base.py"
APP_UID = 10001
COMPILERS = ("gcc", "cc", "c++", "g++", "clang", "make", "ld", "as")
STARTUP_TIMEOUT_S = 60.0


# ------------------------------------------------------------------ static rules (no engine) --


def _stages(text: str) -> list[str]:
    """The Dockerfile split at each FROM line (instructions before the first FROM are dropped)."""
    return re.split(r"^FROM\s", text, flags=re.MULTILINE)[1:]


def _instructions(text: str) -> list[str]:
    """Logical instructions: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [line.strip() for line in joined.splitlines() if line.strip()]


def test_base_image_is_pinned_to_a_precise_slim_tag() -> None:
    match = re.search(r"^ARG\s+PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, "the base must be an ARG PYTHON_IMAGE=<image> with a default"
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", match.group(1)), match.group(1)


def test_dockerfile_is_multi_stage_and_every_stage_uses_the_pinned_base() -> None:
    stages = _stages(DOCKERFILE.read_text())
    assert len(stages) >= 2, "expected a builder stage and a runtime stage"
    for stage in stages:
        assert stage.startswith("${PYTHON_IMAGE}"), stage.splitlines()[0]


def test_runtime_stage_is_non_root_with_healthcheck_and_exec_form_entrypoint() -> None:
    runtime = _instructions("FROM " + _stages(DOCKERFILE.read_text())[-1])
    users = [line.split(None, 1)[1] for line in runtime if line.startswith("USER ")]
    assert users, "the runtime stage must set USER"
    assert users[-1] in {"${APP_UID}:${APP_UID}", f"{APP_UID}:{APP_UID}", str(APP_UID)}, users[-1]
    assert any(line.startswith("HEALTHCHECK ") and "/healthz" in line for line in runtime)
    assert "EXPOSE 8080" in runtime
    # Exec form, so aksmcp-server is PID 1 and receives SIGTERM itself (graceful drain).
    assert 'ENTRYPOINT ["aksmcp-server"]' in runtime
    assert not any(line.startswith("COPY . ") for line in runtime), "the runtime stage copies only the venv"


def test_dockerfile_calls_python3_not_a_path_specific_to_one_base() -> None:
    # python:*-slim has /usr/local/bin/python, Debian only /usr/bin/python3: python3 on PATH is in both.
    text = "\n".join(_instructions(DOCKERFILE.read_text()))
    assert "/usr/local/bin/python" not in text
    assert not re.search(r"(?<![\w/.-])python(?![\w.:-])", text), "use python3, not python"


# ------------------------------------------------------------------------ engine fixtures --


@pytest.fixture(scope="module")
def docker_client() -> Iterator[Any]:
    try:
        import docker
    except ImportError:
        pytest.skip("the docker Python SDK is not installed")
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as error:
        pytest.skip(
            f"no reachable Docker engine ({error.__class__.__name__}: {error}); as root start one with "
            "`dockerd --iptables=false --bridge=none &`"
        )
    yield client
    client.close()


@pytest.fixture(scope="module")
def base_image(docker_client: Any) -> str:
    """The Dockerfile's pinned base, built locally from Debian if the engine lacks it."""
    match = re.search(r"^ARG\s+PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match
    tag = match.group(1)
    result = subprocess.run(
        [sys.executable, str(BASE_IMAGE_SCRIPT), "--tag", tag], capture_output=True, text=True, timeout=1200
    )
    if result.returncode == 2:
        pytest.skip(f"cannot provide base image {tag} here: {result.stderr.strip()}")
    assert result.returncode == 0, f"building base image {tag} failed:\n{result.stdout}\n{result.stderr}"
    return tag


@pytest.fixture(scope="module")
def build_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of server/ plus wheels/ for the package and all its dependencies, built on the host."""
    context = tmp_path_factory.mktemp("image") / "server"
    shutil.copytree(
        SERVER_DIR,
        context,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist", ".venv", "wheels"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", str(context), "--wheel-dir", str(context / "wheels")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"pip wheel failed:\n{result.stderr[-4000:]}"
    assert list((context / "wheels").glob("aksmcp_server-*.whl")), "no aksmcp-server wheel was built"
    return context


STEP_FROM = re.compile(r"^Step \d+/\d+ : FROM ", re.MULTILINE)
STEP_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12})\s*$", re.MULTILINE)


def _build(docker_client: Any, context: Path, tag: str, leftovers: list[str], **options: Any) -> None:
    """Build `context` as `tag`; fail with the end of the build log if any step fails."""
    log, error = _build_log(docker_client, context, tag, leftovers, **options)
    if error:
        pytest.fail(f"docker build failed: {error}\n{log[-6000:]}")


def _build_log(docker_client: Any, context: Path, tag: str, leftovers: list[str], **options: Any) -> tuple[str, str]:
    """Build `context` as `tag`; return (the build log, the error or "").

    Each stage but the last ends in an image that is untagged once the build is done (and a failed
    build leaves the images of its finished steps): their ids go to `leftovers` so the caller removes
    exactly those (a blanket prune could hit a concurrent build)."""
    log: list[str] = []
    stages, stage_first_image, last_image = 0, "", ""
    # pull=False: the base must come from the local engine.
    for chunk in docker_client.api.build(
        path=str(context), tag=tag, rm=True, forcerm=True, pull=False, decode=True, **options
    ):
        text = chunk.get("stream", "")
        log.append(text)
        if STEP_FROM.search(text):
            if stages >= 1 and last_image != stage_first_image and last_image not in leftovers:
                leftovers.append(last_image)
            stages, stage_first_image = stages + 1, ""
        for image_id in STEP_IMAGE.findall(text):
            stage_first_image = stage_first_image or image_id  # the base itself: never removed
            last_image = image_id
        if "error" in chunk:
            if last_image and last_image != stage_first_image and last_image not in leftovers:
                leftovers.append(last_image)
            return "".join(log), str(chunk["error"])
    return "".join(log), ""


def _remove_images(docker_client: Any, tag: str, leftovers: list[str]) -> None:
    # Removing an untagged image also removes its untagged parents that nothing else uses.
    for image in (tag, *leftovers):
        with contextlib.suppress(Exception):
            docker_client.images.remove(image, force=image == tag)


@pytest.fixture(scope="module")
def image(docker_client: Any, base_image: str, build_context: Path) -> Iterator[Any]:
    """The image built offline: wheels/ in the context, RUN steps without network (--bridge=none)."""
    tag, leftovers = f"aksmcp-server-test:{uuid.uuid4().hex[:12]}", list[str]()
    try:
        _build(docker_client, build_context, tag, leftovers)
        yield docker_client.images.get(tag)
    finally:
        _remove_images(docker_client, tag, leftovers)


class _IndexHandler(http.server.SimpleHTTPRequestHandler):
    requested: list[str]

    def log_message(self, format: str, *args: Any) -> None:
        self.requested.append(self.path)


@pytest.fixture(scope="module")
def package_index(build_context: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """A PEP 503 "simple" index on 127.0.0.1 holding the server's dependencies and its build
    backend: stands in for PyPI (whose TLS is intercepted here) for the Dockerfile's online path."""
    root = tmp_path_factory.mktemp("index")
    files = root / "files"
    shutil.copytree(build_context / "wheels", files)
    for wheel in files.glob("aksmcp_server-*.whl"):
        wheel.unlink()  # the online path builds the package itself, from the context
    download = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest", str(files)]
    result = subprocess.run(
        [*download, "setuptools>=69", "wheel"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"pip download failed:\n{result.stderr[-4000:]}"
    projects: dict[str, list[str]] = {}
    for file in sorted(files.iterdir()):
        name = re.sub(r"[-_.]+", "-", file.name.split("-", 1)[0]).lower()
        projects.setdefault(name, []).append(file.name)
    for name, names in projects.items():
        page = root / "simple" / name / "index.html"
        page.parent.mkdir(parents=True)
        links = "".join(f'<a href="../../files/{file}">{file}</a>\n' for file in names)
        page.write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
    requested: list[str] = []
    handler = functools.partial(type("Handler", (_IndexHandler,), {"requested": requested}), directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _http_status(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> int:
    body = b"{}" if method == "POST" else None
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _run_until_healthy(docker_client: Any, image: Any, environment: dict[str, str], **options: Any) -> tuple[Any, str]:
    """Run the image the way Kubernetes runs it (read-only root, tmpfs /tmp and /workspace, uid 10001)
    on a free host port; return once /healthz answers 200, or fail with the container's logs."""
    port = _free_port()
    container = docker_client.containers.run(
        image.id,
        detach=True,
        read_only=True,
        tmpfs={"/tmp": "rw,mode=1777,size=64m", "/workspace": f"rw,mode=0700,uid={APP_UID},gid={APP_UID},size=64m"},
        user=str(APP_UID),
        # The daemon runs with --bridge=none: share the host's loopback and bind a free port there.
        network_mode="host",
        environment={**environment, "AKSMCP_HOST": "127.0.0.1", "AKSMCP_PORT": str(port)},
        **options,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            container.reload()
            if container.status not in {"created", "running"}:
                logs = container.logs().decode(errors="replace")[-4000:]
                pytest.fail(f"the container stopped ({container.status}) before serving /healthz:\n{logs}")
            with contextlib.suppress(OSError):
                if _http_status(f"{base_url}/healthz") == 200:
                    return container, base_url
            if time.monotonic() > deadline:
                logs = container.logs().decode(errors="replace")[-4000:]
                pytest.fail(f"/healthz did not answer 200 within {STARTUP_TIMEOUT_S:.0f} s:\n{logs}")
            time.sleep(0.2)
    except BaseException:
        with contextlib.suppress(Exception):
            container.remove(force=True)
        raise


@pytest.fixture
def running_server(docker_client: Any, image: Any) -> Iterator[tuple[Any, str]]:
    """The image with the API key given as an environment variable."""
    environment = {"AKSMCP_AUTH_MODE": "apikey", "AKSMCP_API_KEY": secrets.token_hex(32)}
    container, base_url = _run_until_healthy(docker_client, image, environment)
    try:
        yield container, base_url
    finally:
        with contextlib.suppress(Exception):
            container.remove(force=True)


@pytest.fixture
def server_as_deployed(docker_client: Any, image: Any, tmp_path: Path) -> Iterator[tuple[Any, str, str]]:
    """The image with manifests/base's ConfigMap as environment and the API key as a read-only file
    at AKSMCP_API_KEY_FILE, as the Deployment mounts Secret aksmcp-server-api-key."""
    import yaml

    config_map = yaml.safe_load((REPO_ROOT / "manifests" / "base" / "configmap.yaml").read_text())
    environment = dict(config_map["data"])
    key_file = PurePosixPath(environment["AKSMCP_API_KEY_FILE"])
    api_key = secrets.token_hex(32)
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    state_key_file = PurePosixPath(environment["AKSMCP_STATE_KEY_FILE"])
    assert state_key_file.parent == key_file.parent, "both keys come from the one Secret volume"
    (secret_dir / key_file.name).write_text(api_key)
    (secret_dir / state_key_file.name).write_text(secrets.token_hex(32))
    # Like the Secret volume (0440 + fsGroup): readable by the pod's user only.
    for name in (key_file.name, state_key_file.name):
        os.chown(secret_dir / name, APP_UID, APP_UID)
        os.chmod(secret_dir / name, 0o400)
    volumes = {str(secret_dir): {"bind": str(key_file.parent), "mode": "ro"}}
    container, base_url = _run_until_healthy(docker_client, image, environment, volumes=volumes)
    try:
        yield container, base_url, api_key
    finally:
        with contextlib.suppress(Exception):
            container.remove(force=True)


# ---------------------------------------------------------------------------- engine tests --


@pytest.mark.docker
@pytest.mark.timeout(1800)
def test_image_metadata_non_root_healthcheck_entrypoint(image: Any) -> None:
    config = image.attrs["Config"]
    user, _, group = config["User"].partition(":")
    assert user.isdigit() and int(user) != 0, f"image user must be a numeric non-root uid, not {config['User']!r}"
    assert not group or (group.isdigit() and int(group) != 0)
    healthcheck = config.get("Healthcheck") or {}
    assert healthcheck.get("Test", [None])[0] == "CMD", healthcheck
    assert any("/healthz" in part for part in healthcheck["Test"]), healthcheck
    assert config["Entrypoint"] == ["aksmcp-server"]
    assert config["Cmd"] == ["--transport", "http"]
    assert "8080/tcp" in config["ExposedPorts"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["AKSMCP_HOST"] == "0.0.0.0"
    assert env["TMPDIR"] == "/tmp"


@pytest.mark.docker
@pytest.mark.timeout(1800)
def test_final_image_has_no_compilers_and_its_venv_no_pip(docker_client: Any, image: Any) -> None:
    probe = (
        "import importlib.util, json, shutil;"
        f"print(json.dumps({{'tools': [t for t in {COMPILERS!r} if shutil.which(t)],"
        "'pip': importlib.util.find_spec('pip') is not None}))"
    )
    output = docker_client.containers.run(
        image.id, entrypoint=["python3", "-c", probe], network_mode="none", read_only=True, remove=True
    )
    assert output.decode().strip() == '{"tools": [], "pip": false}'


@pytest.mark.docker
@pytest.mark.timeout(1800)
def test_container_serves_on_a_read_only_root_as_uid_10001(running_server: tuple[Any, str]) -> None:
    container, base_url = running_server
    assert _http_status(f"{base_url}/readyz") == 200
    # The API key from the environment is enforced: no key, no MCP.
    assert _http_status(f"{base_url}/mcp", method="POST", headers={"Content-Type": "application/json"}) == 401
    code, output = container.exec_run(["python3", "-c", "import os; print(os.getuid(), os.getgid())"])
    assert code == 0 and output.decode().split() == [str(APP_UID), str(APP_UID)]
    code, output = container.exec_run(["python3", "-c", "open('/opt/venv/probe', 'w')"])
    assert code != 0 and b"Read-only file system" in output


@pytest.mark.docker
@pytest.mark.timeout(1800)
def test_healthcheck_command_passes_inside_the_running_container(running_server: tuple[Any, str]) -> None:
    # Docker would first run it only after the 30 s interval: run the very same command now.
    container, _ = running_server
    test = container.image.attrs["Config"]["Healthcheck"]["Test"]
    code, output = container.exec_run(test[1:])
    assert code == 0, output.decode(errors="replace")


@pytest.mark.docker
@pytest.mark.timeout(1800)
def test_sigterm_reaches_the_server_and_it_exits_cleanly(running_server: tuple[Any, str]) -> None:
    container, _ = running_server
    container.stop(timeout=40)
    result = container.wait(timeout=60)
    assert result["StatusCode"] == 0, container.logs().decode(errors="replace")[-4000:]


@pytest.mark.docker
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_official_client_works_with_the_manifests_configuration(
    server_as_deployed: tuple[Any, str, str], mode: str
) -> None:
    # End to end: the base's settings, the key from a mounted file, the SDK client in both protocol
    # eras, and a write into the tmpfs /workspace while the root filesystem is read-only.
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    _, base_url, api_key = server_as_deployed
    assert _http_status(f"{base_url}/mcp", method="POST", headers={"Content-Type": "application/json"}) == 401
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {api_key}"}, timeout=30) as http,
        Client(streamable_http_client(f"{base_url}/mcp", http_client=http), mode=mode) as client,
    ):
        assert client.server_info is not None and client.server_info.name == "aksmcp-server"
        info = await client.call_tool("system_info", {})
        assert not info.is_error, info.content
        assert info.structured_content is not None
        assert info.structured_content["workspace"]["path"] == "/workspace"
        wrote = await client.call_tool("file_operation", {"operation": "write", "path": "note.txt", "content": "hi"})
        assert not wrote.is_error, wrote.content
        read = await client.call_tool("file_operation", {"operation": "read", "path": "note.txt"})
        assert read.structured_content is not None and read.structured_content["content"] == "hi"


@pytest.mark.docker
@pytest.mark.timeout(1800)
def test_build_without_wheels_installs_from_the_package_index(
    docker_client: Any, base_image: str, build_context: Path, package_index: tuple[str, list[str]], tmp_path: Path
) -> None:
    # The default path for users: no wheels/ in the context, pip resolves from PIP_INDEX_URL.
    index_url, requested = package_index
    context = tmp_path / "server"
    shutil.copytree(build_context, context, ignore=shutil.ignore_patterns("wheels", "build", "*.egg-info"))
    tag, leftovers = f"aksmcp-server-test:{uuid.uuid4().hex[:12]}", list[str]()
    try:
        _build(docker_client, context, tag, leftovers, network_mode="host", buildargs={"PIP_INDEX_URL": index_url})
        assert "/simple/mcp/" in requested and "/simple/setuptools/" in requested, requested
        output = docker_client.containers.run(
            tag,
            entrypoint=["python3", "-c", "import aksmcp_server; print(aksmcp_server.__version__)"],
            network_mode="none",
            read_only=True,
            remove=True,
        )
        assert output.decode().strip() == "0.1.0"
    finally:
        _remove_images(docker_client, tag, leftovers)
