"""One sandbox for the deploy tests (own state dir, fast crash back-off), and project helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aksmcp_tui.sandbox.testing import ThreadedSandbox
from tests.deploy.support import REGISTRY_USER


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


# ------------------------------------------------------------------ Docker engine + registry --


@pytest.fixture(scope="package")
def docker_engine() -> Iterator[object]:
    try:
        import docker

        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as error:
        pytest.skip(f"no reachable Docker engine ({error}); as root: `dockerd --iptables=false --bridge=none &`")
    yield client
    client.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_registry(root: Path, auth: str = "") -> Iterator[str]:
    """Debian's docker-registry on a free 127.0.0.1 port, storage under `root`; yields host:port."""
    import shutil
    import subprocess
    import time
    import urllib.error
    import urllib.request

    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.skip("no registry: install Debian's docker-registry (.ci/run does)")
    port = _free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: "
        f"{root / 'data'}}}, delete: {{enabled: true}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n{auth}"
    )
    log = (root / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # 401 from a registry with auth: it is up
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"docker-registry did not start: {(root / 'registry.log').read_text()[-2000:]}")
                time.sleep(0.1)  # polling a starting server's port: there is no event to wait on
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="package")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of a Docker registry on 127.0.0.1: .ci/run's ($AKSMCP_TEST_REGISTRY), else Debian's
    docker-registry started here with storage in a temp dir."""
    given = os.environ.get("AKSMCP_TEST_REGISTRY")
    if given:
        yield given
        return
    yield from _run_registry(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="package")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(host:port, password) of a registry that wants basic auth (htpasswd, bcrypt) for user pusher."""
    import secrets

    bcrypt = pytest.importorskip("bcrypt")
    root = tmp_path_factory.mktemp("auth-registry")
    password = secrets.token_urlsafe(16)
    (root / "htpasswd").write_bytes(REGISTRY_USER.encode() + b":" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)))
    auth = f"auth: {{htpasswd: {{realm: aksmcp-test, path: {root / 'htpasswd'}}}}}\n"
    for address in _run_registry(root, auth):
        yield address, password


@pytest.fixture(scope="package")
def python_base_image(docker_engine: object) -> str:
    """server/Dockerfile's pinned base, provided locally (nothing can be pulled here)."""
    import re
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    dockerfile = (repo / "server" / "Dockerfile").read_text()
    match = re.search(r"^ARG\s+PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert match
    script = repo / "tests" / "docker_support" / "build_python_base.py"
    result = subprocess.run(
        [sys.executable, str(script), "--tag", match.group(1)], capture_output=True, text=True, timeout=1200
    )
    if result.returncode == 2:
        pytest.skip(f"cannot provide the base image here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stdout + result.stderr
    return match.group(1)


@pytest.fixture(scope="package")
def dependency_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of the runtime's dependencies and of mcp-server-time, built once for every image test
    (a real user's pip cache plays this part); each project adds only its own wheel."""
    import subprocess
    import sys

    wheels = tmp_path_factory.mktemp("wheels")
    repo = Path(__file__).resolve().parents[2]
    for target in (str(repo / "server"), "mcp-server-time==2026.10.19"):
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", target, "--wheel-dir", str(wheels)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    for runtime in wheels.glob("aksmcp_server-*.whl"):
        runtime.unlink()  # each project builds its own (same distribution name, the project's code)
    return wheels
