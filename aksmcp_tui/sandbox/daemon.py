"""The sandbox as a background daemon: `python -m aksmcp_tui.sandbox serve --state-dir DIR`,
started detached, with a pid file, and helpers to start, stop and inspect it.

Standard library only at module level: the CLI imports this module."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

PID_FILE = "daemon.pid"
LOG_FILE = "daemon.log"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


class SandboxError(RuntimeError):
    """Something the user should read (no traceback)."""


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "aksmcp" / "sandbox"


def _dir(state_dir: Path | str | None) -> Path:
    return (Path(state_dir) if state_dir is not None else default_state_dir()).expanduser().absolute()


def kubeconfig_path(state_dir: Path | str | None = None) -> Path:
    return _dir(state_dir) / "kubeconfig"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (started by this process, not yet reaped) counts as gone.
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def _read_pid(directory: Path) -> int | None:
    """The daemon's pid from the pid file, if that process is still a sandbox daemon (a stale
    file whose pid now belongs to another process must never get that process signalled)."""
    try:
        pid = int((directory / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return pid if not Path("/proc/self").exists() and _pid_alive(pid) else None
    return pid if b"aksmcp_tui.sandbox" in command and str(directory).encode() in command else None


def _endpoint(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / "endpoint.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def status(state_dir: Path | str | None = None) -> dict[str, Any]:
    """{"running": bool, "pid", "url", "https_url", "kubeconfig", "state_dir", "notice"}."""
    directory = _dir(state_dir)
    pid = _read_pid(directory)
    endpoint = _endpoint(directory) or {}
    running = (
        pid is not None and _pid_alive(pid) and endpoint.get("pid") == pid and _answers(str(endpoint.get("url", "")))
    )
    return {
        "running": running,
        "pid": pid if running else None,
        "url": endpoint.get("url") if running else None,
        "https_url": endpoint.get("https_url") if running else None,
        "kubeconfig": str(kubeconfig_path(directory)),
        "state_dir": str(directory),
        "notice": endpoint.get("notice") if running else None,
    }


def _log_tail(directory: Path, lines: int = 15) -> str:
    try:
        text = (directory / LOG_FILE).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def ensure_running(state_dir: Path | str | None = None, timeout: float = START_TIMEOUT) -> Path:
    """Start the daemon unless it already runs; return the kubeconfig path once the API answers."""
    directory = _dir(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(directory, 0o700)
    import fcntl

    with open(directory / "daemon.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if status(directory)["running"]:
            return kubeconfig_path(directory)
        pid = _read_pid(directory)
        if pid is not None and _pid_alive(pid):
            # A previous daemon that no longer answers: stop it before starting anew.
            _terminate(pid, STOP_TIMEOUT)
        with contextlib.suppress(OSError):
            (directory / "endpoint.json").unlink()
        log = open(directory / LOG_FILE, "ab")  # noqa: SIM115 (handed to the child)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "aksmcp_tui.sandbox", "serve", "--state-dir", str(directory)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SandboxError(
                    f"the sandbox exited while starting (code {process.returncode}); "
                    f"log {directory / LOG_FILE}:\n{_log_tail(directory)}"
                )
            current = status(directory)
            if current["running"] and current["pid"] == process.pid:
                return kubeconfig_path(directory)
            time.sleep(0.1)
        _terminate(process.pid, 5)
        raise SandboxError(f"the sandbox did not answer within {timeout:.0f}s; log {directory / LOG_FILE}")


def _terminate(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.05)


def stop(state_dir: Path | str | None = None, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop the daemon (its pods' processes stop with it); False when it was not running."""
    directory = _dir(state_dir)
    pid = _read_pid(directory)
    if pid is None or not _pid_alive(pid):
        with contextlib.suppress(OSError):
            (directory / PID_FILE).unlink()
        return False
    _terminate(pid, timeout)
    with contextlib.suppress(OSError):
        (directory / PID_FILE).unlink()
    return True


def merge_kubeconfig(source: Path, target: Path | None = None) -> Path:
    """Add (or refresh) the sandbox's cluster, user and context in the user's kubeconfig.

    Only called when the user asks (`--merge-kubeconfig`); the current context is left alone."""
    import yaml

    target = target or Path(os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or Path.home() / ".kube" / "config")
    sandbox = yaml.safe_load(source.read_text())
    try:
        existing = yaml.safe_load(target.read_text()) if target.exists() else None
    except yaml.YAMLError as error:
        raise SandboxError(f"{target} is not valid YAML ({error}); not changing it") from None
    merged: dict[str, Any] = existing if isinstance(existing, dict) else {"apiVersion": "v1", "kind": "Config"}
    for section in ("clusters", "users", "contexts"):
        entries = [e for e in merged.get(section) or [] if e.get("name") != sandbox[section][0]["name"]]
        entries.append(sandbox[section][0])
        merged[section] = entries
    merged.setdefault("current-context", sandbox["current-context"])
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.aksmcp.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        yaml.safe_dump(merged, handle, sort_keys=False)
    os.replace(temporary, target)
    return target
