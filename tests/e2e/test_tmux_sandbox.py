"""End to end: the real `aksmcp --sandbox` in a real terminal (tmux), driven with keys, read with capture-pane.

Isolated: HOME, XDG_STATE_HOME and XDG_CONFIG_HOME point into a temp dir, KUBECONFIG at a missing file,
and tmux runs its own server on a private socket. The sandbox daemon is stopped at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

AKSMCP = str(Path(sys.executable).parent / "aksmcp")


class Terminal:
    def __init__(self, socket: Path, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env
        self.session = "aksmcp-e2e"

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, check=check, env=self.env
        )

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-s", self.session, "-x", "140", "-y", "40", command)
        self.tmux("set-option", "-t", self.session, "remain-on-exit", "on")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session).stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", self.session, *(["-l"] if literal else []), *keys)

    def wait(self, condition: Callable[[str], bool], what: str, within: float = 60.0) -> str:
        deadline = time.monotonic() + within
        while True:
            text = self.screen()
            if condition(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {within:.0f} s waiting for {what}; the screen:\n{text}")
            time.sleep(0.2)

    def pane_dead(self) -> bool:
        result = self.tmux("display-message", "-p", "-t", self.session, "#{pane_dead}", check=False)
        return result.returncode != 0 or result.stdout.strip() == "1"


@pytest.fixture
def isolated_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KUBE", "XDG_", "TMUX", "TEXTUAL")) and key not in ("HOME",)
    }
    env.update(
        HOME=str(home),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        KUBECONFIG=str(tmp_path / "no-kubeconfig"),
        TERM="xterm-256color",
        TEXTUAL_ANIMATIONS="none",
    )
    return env


@pytest.fixture
def terminal(tmp_path: Path, isolated_env: dict[str, str]) -> Iterator[Terminal]:
    term = Terminal(tmp_path / "tmux.sock", isolated_env)
    try:
        yield term
    finally:
        term.tmux("kill-server", check=False)
        subprocess.run([AKSMCP, "sandbox", "down"], env=isolated_env, capture_output=True, timeout=60)


def test_aksmcp_sandbox_shows_the_reference_server_live(terminal: Terminal, isolated_env: dict[str, str]) -> None:
    terminal.start(f"{AKSMCP} --sandbox")

    # the reference MCP server appears, then its pod becomes ready (the watch updates the row)
    terminal.wait(lambda s: "aksmcp-server" in s and "mcp-system" in s, "the reference server row", within=120)
    screen = terminal.wait(
        lambda s: re.search(r"aksmcp-server\s+mcp-system\s+([1-9])/\1\s", s) is not None and "Healthy" in s,
        "every replica of the server ready",
        within=90,
    )
    assert "context aksmcp-sandbox" in screen
    assert "ghcr.io/aksmcp/aksmcp-server" in screen
    assert "● live" in screen

    # / filters as you type; esc clears
    terminal.keys("/")
    terminal.keys("zzz", literal=True)
    terminal.wait(lambda s: "No MCP deployment matches" in s, "an empty filter result")
    terminal.keys("Escape")
    terminal.wait(lambda s: "aksmcp-server" in s and "matches" not in s, "the row back")

    # ? shows the keys
    terminal.keys("?")
    terminal.wait(lambda s: "Fleet keys" in s and "Port-forward" in s, "the help screen")
    terminal.keys("Escape")
    terminal.wait(lambda s: "Fleet keys" not in s, "help closed")

    # enter: details with the pod, its conditions and the service
    terminal.keys("Enter")
    details = terminal.wait(
        lambda s: "Pods" in s and "Running" in s and "Services" in s, "the details screen", within=30
    )
    assert "Deployment" in details and "namespace mcp-system" in details
    terminal.keys("Escape")
    terminal.wait(lambda s: "NAMESPACE" in s and "HEALTH" in s, "the fleet table again")

    # : jumps to a namespace
    terminal.keys(":")
    terminal.keys("ns default", literal=True)
    terminal.keys("Enter")
    terminal.wait(lambda s: "namespace default" in s and "No MCP deployments in namespace default" in s, "ns default")
    terminal.keys(":")
    terminal.keys("ns all", literal=True)
    terminal.keys("Enter")
    terminal.wait(lambda s: "aksmcp-server" in s, "all namespaces")

    # q quits
    terminal.keys("q")
    deadline = time.monotonic() + 20
    while not terminal.pane_dead():
        assert time.monotonic() < deadline, "aksmcp did not exit on q"
        time.sleep(0.2)

    status = subprocess.run([AKSMCP, "sandbox", "down"], env=isolated_env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
