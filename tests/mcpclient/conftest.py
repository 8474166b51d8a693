"""Real servers for the console tests, shared per session: aksmcp-server (open and with an API key), the
SDK zoo server, and the deliberately non-compliant server. All on 127.0.0.1, all real subprocesses."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
API_KEY = "console-test-key-0123456789"
START_TIMEOUT_S = 60.0


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    output: list[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKSMCP_")}
    env.update(extra or {})
    return env


def start(argv: list[str], port_of: object, env: dict[str, str] | None = None) -> Served:
    """Start a server and wait (on its output, with a timeout) until it says its port."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(env))
    lines: list[str] = []
    found: queue.Queue[int | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        reported = False
        for line in proc.stdout:
            lines.append(line)
            port = port_of(line)  # type: ignore[operator]
            if port and not reported:
                reported = True
                found.put(port)
        found.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        port = found.get(timeout=START_TIMEOUT_S)
    except queue.Empty:
        proc.kill()
        raise TimeoutError("server did not start:\n" + "".join(lines)) from None
    if port is None:
        raise RuntimeError("server exited:\n" + "".join(lines))
    return Served(proc, port, lines)


def _json_port(line: str) -> int | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return int(entry["port"]) if isinstance(entry, dict) and entry.get("msg") == "listening" else None


def _port_line(line: str) -> int | None:
    return int(line.split()[1]) if line.startswith("PORT ") else None


def start_aksmcp_server(workspace: Path, env: dict[str, str] | None = None) -> Served:
    workspace.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "aksmcp_server", "--transport", "http", "--port", "0", "--workspace", str(workspace)]
    return start(argv, _json_port, {"AKSMCP_ENABLE_TEST_TOOLS": "true", **(env or {})})


def start_zoo() -> Served:
    return start([sys.executable, str(HERE / "zoo_server.py")], _port_line)


@pytest.fixture(scope="session")
def aksmcp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start_aksmcp_server(tmp_path_factory.mktemp("ws"))
    yield served
    served.stop()


@pytest.fixture(scope="session")
def api_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("key") / "api-key"
    path.write_text(API_KEY + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def apikey_server(tmp_path_factory: pytest.TempPathFactory, api_key_file: Path) -> Iterator[Served]:
    served = start_aksmcp_server(tmp_path_factory.mktemp("ws-key"), {"AKSMCP_API_KEY_FILE": str(api_key_file)})
    yield served
    served.stop()


@pytest.fixture(scope="session")
def zoo() -> Iterator[Served]:
    served = start_zoo()
    yield served
    served.stop()


ZOO_AUDIENCE = "api://aksmcp-zoo"  # the scope clients ask for is ZOO_AUDIENCE + "/.default"


@pytest.fixture(scope="session")
def entra_zoo() -> Iterator[Served]:
    """The zoo behind a bearer check that serves only tokens issued for ZOO_AUDIENCE."""
    served = start([sys.executable, str(HERE / "zoo_server.py"), "--require-audience", ZOO_AUDIENCE], _port_line)
    yield served
    served.stop()


@pytest.fixture(scope="session")
def noncompliant() -> Iterator[Served]:
    served = start([sys.executable, str(HERE / "noncompliant_server.py")], _port_line)
    yield served
    served.stop()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """History, saved requests and forward state go to tmp dirs, never the real home."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("AKSMCP_REQUESTS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    return home
