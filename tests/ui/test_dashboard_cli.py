"""`aksmcp` / `aksmcp web` argument handling: plain messages and exit codes, loopback by default."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from aksmcp_tui.commands.dashboard_cmd import is_loopback, served_command

AKSMCP = str(Path(sys.executable).parent / "aksmcp")


def _run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "XDG_STATE_HOME": str(tmp_path / "state")}
    return subprocess.run([AKSMCP, *args], capture_output=True, text=True, timeout=30, env=env)


def test_web_refuses_a_non_loopback_address_without_allow_remote(tmp_path: Path) -> None:
    result = _run("web", "--host", "0.0.0.0", tmp_path=tmp_path)
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0" in result.stderr and "--allow-remote" in result.stderr
    assert "Traceback" not in result.stderr


def test_web_rejects_a_bad_port(tmp_path: Path) -> None:
    result = _run("web", "--port", "70000", tmp_path=tmp_path)
    assert result.returncode == 2 and "--port" in result.stderr


def test_a_missing_kubeconfig_is_a_plain_error(tmp_path: Path) -> None:
    result = _run("--kubeconfig", str(tmp_path / "nope"), tmp_path=tmp_path)
    assert result.returncode == 1
    assert "no kubeconfig file at" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("example.com", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_served_command_runs_the_same_dashboard_with_quoted_paths(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "my configs" / "kube config"
    args = argparse.Namespace(dashboard_kubeconfig=str(kubeconfig), dashboard_namespace="mcp-system")
    command = served_command(args, None, "aksmcp-sandbox")
    assert command.startswith("exec ")
    assert "-m aksmcp_tui --context aksmcp-sandbox" in command
    assert f"'{kubeconfig}'" in command and "--namespace mcp-system" in command
