"""Fixtures for the server tests: a real `aksmcp-server` subprocess on 127.0.0.1 (port 0)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

STARTUP_TIMEOUT_S = 30.0
API_KEY = "test-key-0123456789abcdef"


class RunningServer:
    """One server process; its JSON log lines are collected in the background (stdout must be drained)."""

    def __init__(self, proc: subprocess.Popen[str], workspace: Path) -> None:
        self.proc = proc
        self.workspace = workspace
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.port = 0
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def wait_listening(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"server exited early ({self.proc.poll()}):\n{''.join(self.lines)}")
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msg") == "listening":
                self.port = int(entry["port"])
                break
        else:
            raise TimeoutError("server never logged 'listening'")
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
        raise TimeoutError("/healthz never answered")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    def log_entries(self) -> list[dict[str, Any]]:
        out = []
        for line in list(self.lines):
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"raw": line})
        return out

    def wait_for_log(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.log_entries():
                if predicate(entry):
                    return entry
            time.sleep(0.05)
        raise AssertionError("no matching log line:\n" + "".join(self.lines[-20:]))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKSMCP_")}
    env.update(extra or {})
    return env


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "hello.txt").write_text("hello, workspace\n")
    (root / "sub").mkdir()
    (root / "sub" / "nested.txt").write_text("nested\n")
    return root


StartServer = Callable[..., RunningServer]


@pytest.fixture
def start_server(workspace: Path) -> Iterator[StartServer]:
    started: list[RunningServer] = []

    def start(env: dict[str, str] | None = None, args: list[str] | None = None, wait: bool = True) -> RunningServer:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aksmcp_server",
                "--transport",
                "http",
                "--port",
                "0",
                "--workspace",
                str(workspace),
                *(args or []),
            ],
            env=server_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        server = RunningServer(proc, workspace)
        started.append(server)
        if wait:
            server.wait_listening()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server: StartServer) -> RunningServer:
    return start_server()


@pytest.fixture
def apikey_server(start_server: StartServer, tmp_path: Path) -> RunningServer:
    key_file = tmp_path / "api-key"
    key_file.write_text(API_KEY + "\n")
    key_file.chmod(0o600)
    return start_server({"AKSMCP_API_KEY_FILE": str(key_file)})
