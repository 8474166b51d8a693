"""The record of entries aksmcp wrote: what `--list`, `--refresh`, `--remove` and the forward daemon use.

One JSON file in the state directory, mode 0600, replaced atomically under an advisory lock (the CLI
and the forward daemon may both update it). It never holds a key: refresh reads it again from the
deployment's Secret.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aksmcp_tui.core.ide.files import IdeError, atomic_write
from aksmcp_tui.core.paths import state_dir


@dataclass(frozen=True)
class Target:
    """What an entry points at: a deployment (through its managed forward) or a plain URL."""

    kind: str  # "deploy" | "url"
    url: str | None = None
    context: str | None = None
    namespace: str | None = None
    deployment: str | None = None
    kubeconfig: str | None = None

    def describe(self) -> str:
        if self.kind == "url":
            return str(self.url)
        where = f" --context {self.context}" if self.context else ""
        return f"deploy/{self.deployment} -n {self.namespace}{where}"


@dataclass
class RecordedEntry:
    client: str
    scope: str
    file: str
    name: str
    target: Target
    url: str  # the MCP URL written into the entry
    secret: str  # "none" | "input" | "env:VAR" | "inline"
    written_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        digest = hashlib.sha1(f"{self.client}\0{self.file}\0{self.name}".encode()).hexdigest()
        return digest[:8]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["id"] = self.id
        data["target"] = {k: v for k, v in asdict(self.target).items() if v is not None}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecordedEntry:
        target = Target(**{k: v for k, v in (data.get("target") or {}).items() if k in Target.__dataclass_fields__})
        return cls(
            client=str(data["client"]),
            scope=str(data["scope"]),
            file=str(data["file"]),
            name=str(data["name"]),
            target=target,
            url=str(data.get("url") or ""),
            secret=str(data.get("secret") or "none"),
            written_at=str(data.get("written_at") or ""),
            extra=dict(data.get("extra") or {}),
        )


def record_path() -> Path:
    return state_dir() / "ide" / "entries.json"


@contextlib.contextmanager
def locked() -> Iterator[None]:
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load() -> list[RecordedEntry]:
    path = record_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise IdeError(f"the record of written entries {path} is unreadable ({exc}); move it aside") from None
    return [RecordedEntry.from_json(item) for item in data.get("entries") or []]


def save(entries: list[RecordedEntry]) -> None:
    text = json.dumps({"entries": [e.to_json() for e in entries]}, indent=2) + "\n"
    atomic_write(record_path(), text, private=True)


def upsert(entry: RecordedEntry) -> None:
    with locked():
        entries = [e for e in load() if e.id != entry.id]
        entries.append(entry)
        save(entries)


def discard(entry_id: str) -> None:
    with locked():
        save([e for e in load() if e.id != entry_id])


def find(selector: str, entries: list[RecordedEntry] | None = None) -> list[RecordedEntry]:
    """Entries matching an id, a name, or CLIENT:NAME."""
    entries = load() if entries is None else entries
    client, _, name = selector.partition(":") if ":" in selector else ("", "", selector)
    return [e for e in entries if e.id == selector or (e.name == name and (not client or e.client == client))]
