"""Where the daemon keeps things, and the persisted forward definitions.

- definitions: `state_dir()/forwards/forwards.json` (atomic replace, 0600), each with the local
  port it was given, so a restart brings every forward back on the same port;
- the control socket: `$XDG_RUNTIME_DIR/aksmcp/forward.sock` when that is set (tmpfs, per user),
  else `state_dir()/forwards/daemon.sock`;
- the pid file and log file of a detached daemon: `state_dir()/forwards/daemon.{pid,log}`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from aksmcp_tui.core.forward.spec import ForwardSpec, forward_id
from aksmcp_tui.core.paths import state_dir

VERSION = 1


def forwards_dir() -> Path:
    return state_dir() / "forwards"


def definitions_path() -> Path:
    return forwards_dir() / "forwards.json"


def socket_path() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime):
        return Path(runtime) / "aksmcp" / "forward.sock"
    return forwards_dir() / "daemon.sock"


def pid_path() -> Path:
    return forwards_dir() / "daemon.pid"


def log_path() -> Path:
    return forwards_dir() / "daemon.log"


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write-then-rename in the same directory: a crash leaves the old file or the new one, never half."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def spec_id(spec: ForwardSpec) -> str:
    return forward_id(spec.context, spec.namespace, spec.target)


def load_definitions(path: Path | None = None) -> tuple[list[ForwardSpec], str | None]:
    """(definitions, problem): an unreadable file is reported, never silently replaced by nothing."""
    path = path or definitions_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [], None
    except (OSError, ValueError) as exc:
        return [], f"cannot read {path}: {exc}"
    specs: list[ForwardSpec] = []
    problems: list[str] = []
    for item in data.get("forwards", []) if isinstance(data, dict) else []:
        try:
            specs.append(ForwardSpec.from_json(item))
        except (KeyError, TypeError, ValueError, Exception) as exc:
            problems.append(f"skipped an unreadable forward in {path}: {exc}")
    return specs, "; ".join(problems) or None


def save_definitions(specs: list[ForwardSpec], path: Path | None = None) -> None:
    body: dict[str, Any] = {"version": VERSION, "forwards": [s.to_json() for s in specs]}
    write_atomic(path or definitions_path(), json.dumps(body, indent=2) + "\n")
