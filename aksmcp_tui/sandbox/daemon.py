"""The sandbox as a background daemon: `python -m aksmcp_tui.sandbox serve --state-dir DIR`,
started detached, with a pid file, and helpers to start, stop and inspect it.

Standard library only at module level: the CLI imports this module."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

PID_FILE = "daemon.pid"
LOG_FILE = "daemon.log"
# Pod processes this state dir's node started (pid = process group = session), so that a host
# which died without stopping them (SIGKILL, crash) has its leftovers killed on the next start.
PROCESS_RECORD = "pod-processes.json"
# Set by the node on every container process: how a leftover is recognised as ours.
POD_UID_ENV = "AKSMCP_SANDBOX_POD_UID"
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
        # Pod processes of a daemon that died (or was just killed) must not hold their ports.
        reap_leftover_pods(directory)
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
    """Stop the daemon (its pods' processes stop with it); False when it was not running.

    Either way, pod processes a dead daemon left behind (see reap_leftover_pods) are killed."""
    directory = _dir(state_dir)
    pid = _read_pid(directory)
    if pid is None or not _pid_alive(pid):
        with contextlib.suppress(OSError):
            (directory / PID_FILE).unlink()
        reap_leftover_pods(directory)
        return False
    _terminate(pid, timeout)
    with contextlib.suppress(OSError):
        (directory / PID_FILE).unlink()
    # A daemon that had to be SIGKILLed could not stop its pods (grandchildren outlive it).
    reap_leftover_pods(directory)
    return True


# ---------------------------------------------------------------- leftover pod processes
_record_lock = threading.Lock()


def _proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, process group, start time in clock ticks) from /proc, None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return fields[0], int(fields[1]), int(fields[2]), int(fields[19])
    except (IndexError, ValueError):
        return None


def _read_record(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []


def _write_record(path: Path, entries: list[dict[str, Any]]) -> None:
    """Atomic, owner-only (pids and pod uids are nobody else's business)."""
    if not entries:
        with contextlib.suppress(OSError):
            path.unlink()
        return
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(entries, handle)
        handle.write("\n")
    os.replace(temporary, path)


def record_pod_process(state_dir: Path, pid: int, pod_uid: str) -> None:
    """Note a container process (its own session: pid = process group) started by this host."""
    host = _proc_stat(os.getpid())
    entry = {
        "pid": pid,
        "pgid": pid,
        "pod_uid": pod_uid,
        "host_pid": os.getpid(),
        "host_start": host[3] if host else None,
    }
    path = Path(state_dir) / PROCESS_RECORD
    with _record_lock:
        entries = [e for e in _read_record(path) if e.get("pid") != pid]
        _write_record(path, [*entries, entry])


def forget_pod_process(state_dir: Path, pid: int) -> None:
    path = Path(state_dir) / PROCESS_RECORD
    with _record_lock:
        entries = _read_record(path)
        kept = [e for e in entries if e.get("pid") != pid]
        if len(kept) != len(entries):
            _write_record(path, kept)


def _host_alive(entry: dict[str, Any]) -> bool:
    """Whether the host that recorded ``entry`` still runs (then its pods are its own business).

    This process starting a cluster anew counts as dead: its previous node is gone."""
    pid = entry.get("host_pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    stat = _proc_stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return False
    started = entry.get("host_start")
    return started is None or stat[3] == started  # another start time: the pid was reused


def _carries(pid: int, markers: set[bytes]) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, or another user's process: not ours
        return False
    return any(marker in environ for marker in markers)


def reap_leftover_pods(state_dir: Path | str | None = None) -> list[int]:
    """SIGKILL what is left of recorded pod processes whose host died; returns the pids killed.

    A process is killed only if it is in a recorded process group AND its environment carries
    that pod's ``AKSMCP_SANDBOX_POD_UID``: a pid reused by an unrelated process is left alone.
    Entries of a host that still runs are kept; the others are dropped from the record."""
    path = _dir(state_dir) / PROCESS_RECORD
    proc = Path("/proc")
    with _record_lock:
        entries = _read_record(path)
        if not entries:
            return []
        live_hosts = [e for e in entries if _host_alive(e)]
        targets: dict[int, set[bytes]] = {}
        for entry in entries:
            if entry in live_hosts or not isinstance(entry.get("pgid"), int) or not entry.get("pod_uid"):
                continue
            marker = f"{POD_UID_ENV}={entry['pod_uid']}".encode()
            targets.setdefault(int(entry["pgid"]), set()).add(marker)
        killed: list[int] = []
        # Several passes: a group member may fork while we scan.
        for _ in range(5) if targets and proc.is_dir() else ():
            found = False
            for name in os.listdir(proc):
                if not name.isdigit() or int(name) == os.getpid() or int(name) in killed:
                    continue
                pid = int(name)
                stat = _proc_stat(pid)
                if stat is None or stat[0] in ("Z", "X") or stat[2] not in targets:
                    continue
                if _carries(pid, targets[stat[2]]):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                        found = True
            if not found:
                break
        _write_record(path, live_hosts)
    return killed


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
