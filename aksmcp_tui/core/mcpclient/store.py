"""Saved requests (one plain YAML file per request, in a folder one can commit) and the call history.

Saved requests follow Posting's collections: a folder of small YAML files, one per request, named
after the request, readable and diffable. The folder is `./.aksmcp/requests` when the current
directory has a `.aksmcp` folder (a project's), else `$XDG_CONFIG_HOME/aksmcp/requests`;
`AKSMCP_REQUESTS_DIR` overrides both. The history is JSON lines under the state dir, trimmed to the
last MAX_HISTORY entries; it keeps the arguments, never headers or keys.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from aksmcp_tui.core.paths import config_dir, state_dir

MAX_HISTORY = 500
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,80}$")


class StoreError(ValueError):
    pass


@dataclass
class SavedRequest:
    name: str
    method: str  # "tools/call" | "resources/read" | "prompts/get"
    target: str  # the target as typed (URL, deploy/NAME ..., or "stdio: CMD")
    tool: str | None = None  # tool or prompt name
    uri: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    protocol: str = "auto"
    description: str | None = None

    def to_yaml(self) -> str:
        document = {k: v for k, v in asdict(self).items() if v not in (None, {}, "")}
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def requests_dir() -> Path:
    override = os.environ.get("AKSMCP_REQUESTS_DIR")
    if override:
        return Path(override)
    local = Path.cwd() / ".aksmcp"
    if local.is_dir():
        return local / "requests"
    return config_dir() / "requests"


def _atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _file_for(name: str, folder: Path) -> Path:
    if not _NAME.match(name):
        raise StoreError(f"request name {name!r}: use letters, digits, space, '.', '_' or '-' (max 81)")
    return folder / (name.strip().replace(" ", "-") + ".yaml")


def save_request(request: SavedRequest, folder: Path | None = None) -> Path:
    path = _file_for(request.name, folder or requests_dir())
    _atomic_write(path, request.to_yaml())
    return path


def load_requests(folder: Path | None = None) -> list[SavedRequest]:
    folder = folder or requests_dir()
    found: list[SavedRequest] = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            found.append(
                SavedRequest(
                    name=str(data.get("name") or path.stem),
                    method=str(data.get("method") or "tools/call"),
                    target=str(data.get("target") or ""),
                    tool=data.get("tool"),
                    uri=data.get("uri"),
                    arguments=dict(data.get("arguments") or {}),
                    protocol=str(data.get("protocol") or "auto"),
                    description=data.get("description"),
                )
            )
        except (OSError, yaml.YAMLError, TypeError, ValueError):
            continue  # one broken file must not hide the others
    return found


def delete_request(name: str, folder: Path | None = None) -> None:
    _file_for(name, folder or requests_dir()).unlink(missing_ok=True)


@dataclass
class HistoryEntry:
    time: str
    target: str
    method: str
    name: str | None
    arguments: dict[str, Any]
    outcome: str  # "ok" | "isError" | "error" | "cancelled"
    elapsed_ms: float
    protocol: str | None = None
    correlation_id: str | None = None  # the id the server's log lines of this call carry

    @classmethod
    def now(cls, **fields: Any) -> HistoryEntry:
        return cls(time=datetime.now(UTC).isoformat(timespec="seconds"), **fields)


def history_path() -> Path:
    return state_dir() / "console" / "history.jsonl"


def append_history(entry: HistoryEntry) -> None:
    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
    os.chmod(path, 0o600)  # arguments may be private to the user
    if path.stat().st_size > MAX_HISTORY * 2048:
        _trim(path)


def _trim(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()[-MAX_HISTORY:]
    _atomic_write(path, "\n".join(lines) + "\n", 0o600)


def load_history(limit: int = MAX_HISTORY) -> list[HistoryEntry]:
    path = history_path()
    if not path.is_file():
        return []
    entries: list[HistoryEntry] = []
    for line in path.read_text(encoding="utf-8").splitlines()[-limit:]:
        try:
            entries.append(HistoryEntry(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return entries
