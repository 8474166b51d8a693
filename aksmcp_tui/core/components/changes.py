"""A set of file edits computed first and written last: generators stage text here, the CLI shows
the unified diff (`--dry-run`) or writes every file atomically. Nothing on disk changes until
`write()`, and a file whose staged text equals what is on disk is not a change (idempotence)."""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileChange:
    path: Path  # relative to the project root
    old: str | None  # None: the file does not exist yet
    new: str | None  # None: the file is removed

    @property
    def verb(self) -> str:
        if self.old is None:
            return "created"
        return "removed" if self.new is None else "updated"

    def diff(self) -> str:
        name = self.path.as_posix()
        return "".join(
            difflib.unified_diff(
                (self.old or "").splitlines(keepends=True),
                (self.new or "").splitlines(keepends=True),
                fromfile="/dev/null" if self.old is None else f"a/{name}",
                tofile="/dev/null" if self.new is None else f"b/{name}",
            )
        )


class ChangeSet:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._staged: dict[Path, str | None] = {}

    def read(self, relative: str | Path) -> str | None:
        """The file's text as it will be (staged), else as it is on disk; None when absent."""
        rel = Path(relative)
        if rel in self._staged:
            return self._staged[rel]
        path = self.root / rel
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def write(self, relative: str | Path, text: str) -> None:
        self._staged[Path(relative)] = text

    def remove(self, relative: str | Path) -> None:
        self._staged[Path(relative)] = None

    def changes(self) -> list[FileChange]:
        result = []
        for rel, new in sorted(self._staged.items()):
            path = self.root / rel
            old = path.read_text(encoding="utf-8") if path.is_file() else None
            if old != new:
                result.append(FileChange(rel, old, new))
        return result

    def diff(self) -> str:
        return "".join(change.diff() for change in self.changes())

    def apply(self) -> list[FileChange]:
        """Write every change (each file atomically: temp file + rename); returns what changed."""
        done = self.changes()
        for change in done:
            target = self.root / change.path
            if change.new is None:
                target.unlink(missing_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(change.new)
                if target.exists():
                    os.chmod(tmp, target.stat().st_mode & 0o777)
                else:
                    os.chmod(tmp, 0o644)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return done
