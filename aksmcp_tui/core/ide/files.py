"""Reading and writing client config files safely: atomic replace, one backup per run, diffs.

Backups go to aksmcp's state directory (mode 0600), never beside the file: a backup of a project
file would otherwise show up in `git status`, and one of a user file may hold a secret.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from aksmcp_tui.core.paths import state_dir


class IdeError(Exception):
    """A connect/refresh/remove problem in plain words (the CLI prints it and exits non-zero)."""


def read_text(path: Path) -> str | None:
    """The file's text, None when it does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise IdeError(f"{path} is a directory, not a config file") from None
    except PermissionError:
        raise IdeError(f"{path} cannot be read (permission denied)") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise IdeError(f"{path} is not UTF-8 text; not touching it") from None


def check_writable(path: Path) -> None:
    """Refuse a file its owner marked read-only (even as root, who could write it anyway)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        parent = path.parent
        while not parent.exists():
            parent = parent.parent
        if not os.access(parent, os.W_OK | os.X_OK):
            raise IdeError(f"cannot create {path}: {parent} is not writable") from None
        return
    if not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK):
        raise IdeError(f"{path} is read-only; not touching it (make it writable, or use --dry-run to see the change)")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise IdeError(f"cannot replace {path}: its folder {path.parent} is not writable")


def atomic_write(path: Path, text: str, *, private: bool) -> None:
    """Write through a temporary file in the same folder and rename it over the target.

    An existing file keeps its mode unless `private` (an inline secret) asks for 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = None
    if private:
        mode = 0o600
    elif mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".aksmcp-tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class Backups:
    """One backup of each file's original per run (a run may write the same file several times)."""

    def __init__(self) -> None:
        self.root = state_dir() / "ide" / "backups"
        self.folder: Path | None = None  # one folder per run, made on the first backup
        self.saved: dict[Path, Path] = {}

    def save(self, path: Path, original: str | None) -> Path | None:
        if original is None or path in self.saved:
            return self.saved.get(path)
        if self.folder is None:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.folder = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%dT%H%M%S-"), dir=self.root))
        name = str(path.resolve()).strip("/").replace("/", "__")
        target = self.folder / name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(original)
        self.saved[path] = target
        return target


# An inline bearer token (not a `${...}` reference), wherever it sits: in our entry or another one.
_BEARER = re.compile(r"(Bearer\s+)(?!\$\{)[^\s\"'\\]+")


def unified_diff(path: Path, before: str | None, after: str | None, secrets: Iterable[str] = ()) -> str:
    """A unified diff of the change; keys are masked (the known ones and any inline bearer token) so a
    diff can be shown or logged."""

    def lines(text: str | None) -> list[str]:
        if text is None:
            return []
        for secret in secrets:
            if secret:
                text = text.replace(secret, "********")
        text = _BEARER.sub(r"\1********", text)
        return text.splitlines(keepends=True)

    diff = difflib.unified_diff(
        lines(before),
        lines(after),
        fromfile="/dev/null" if before is None else str(path),
        tofile="/dev/null" if after is None else str(path),
    )
    out = []
    for line in diff:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
