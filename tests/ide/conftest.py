"""Fixtures for `aksmcp connect`: an isolated home per test, one real aksmcp-server (API key on), a
KubeContext on the shared sandbox, and the real forward daemon (stopped after the test)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aksmcp_tui.core.forward.store import pid_path
from aksmcp_tui.core.kube import KubeContext
from aksmcp_tui.sandbox.testing import ThreadedSandbox

API_KEY = "ide-test-key-0123456789abcdef"
STARTUP_TIMEOUT_S = 30.0


@dataclass
class Home:
    root: Path
    home: Path
    project: Path
    state: Path


@pytest.fixture
def ide_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """HOME, the XDG dirs and every client's override variable point into tmp_path."""
    home = tmp_path / "home"
    project = tmp_path / "project"
    state = tmp_path / "state"
    for folder in (home, project, state):
        folder.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    for var in ("CODEX_HOME", "CLAUDE_CONFIG_DIR", "CONTINUE_GLOBAL_DIR", "APPDATA", "KUBECONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(project)
    return Home(tmp_path, home, project, state)


@dataclass
class Server:
    proc: subprocess.Popen[str]
    port: int

    @property
    def local_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.local_url}/mcp"


def _start_server(tmp: Path) -> Server:
    key_file = tmp / "api-key"
    key_file.write_text(API_KEY + "\n")
    key_file.chmod(0o600)
    workspace = tmp / "workspace"
    workspace.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKSMCP_")}
    env["AKSMCP_API_KEY_FILE"] = str(key_file)
    proc = subprocess.Popen(
        [sys.executable, "-m", "aksmcp_server", "--transport", "http", "--port", "0", "--workspace", str(workspace)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    port = 0
    while not port and time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if line is None:
            raise RuntimeError(f"aksmcp-server exited early ({proc.poll()})")
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "listening":
            port = int(entry["port"])
    if not port:
        proc.kill()
        raise TimeoutError("aksmcp-server never logged 'listening'")
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return Server(proc, port)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    proc.kill()
    raise TimeoutError("/healthz never answered")


@pytest.fixture(scope="session")
def mcp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real aksmcp-server on 127.0.0.1 that requires API_KEY (Bearer)."""
    server = _start_server(tmp_path_factory.mktemp("ide-server"))
    yield server
    server.proc.terminate()
    try:
        server.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


def aksmcp(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a real process, in this test's environment (isolated HOME and XDG dirs)."""
    return subprocess.run(
        [sys.executable, "-m", "aksmcp_tui", *args], capture_output=True, text=True, timeout=90, env=os.environ
    )


@pytest.fixture
async def kube(sandbox_session: ThreadedSandbox) -> AsyncIterator[KubeContext]:
    async with await KubeContext.open(kubeconfig=str(sandbox_session.kubeconfig_path)) as context:
        yield context


@pytest.fixture
def daemon(ide_home: Home, sandbox_session: ThreadedSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The forward daemon starts on the first managed forward (detached); it is stopped afterwards."""
    monkeypatch.setenv("KUBECONFIG", str(sandbox_session.kubeconfig_path))
    (ide_home.root / "run").mkdir(mode=0o700, exist_ok=True)
    yield
    try:
        pid: int | None = int(pid_path().read_text())
    except (OSError, ValueError):
        pid = None
    aksmcp("forward", "daemon", "--stop")
    deadline = time.monotonic() + 20
    while pid and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            break
        time.sleep(0.1)
