"""Path confinement for the file tool: every path a client names must stay inside the workspace root.

Rules, in order: no NUL bytes; no `..` component anywhere (even one that would stay inside: the intent is
suspicious and refusing it is simpler to reason about); absolute paths only when they already lie inside
the root; and the fully resolved path (all symlinks followed) must still lie inside the root, which is
what stops a symlink planted in the workspace from pointing at /etc. Opening then uses O_NOFOLLOW so the
last component cannot be swapped for a symlink between the check and the open.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class PathRefused(ValueError):
    """The path would leave the workspace (or is malformed); the message is safe to show the client."""


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root_str = str(self.root)
        self._prefix = self.root_str.rstrip("/") + "/"

    def resolve(self, raw: str) -> Path:
        return Path(self.resolve_str(raw))

    def resolve_str(self, raw: str) -> str:
        """The real path `raw` names inside the workspace; PathRefused if it is malformed or escapes.

        Walks the components below the (already resolved) root with one lstat each, and only resolves
        fully (realpath) where a component is a symlink: a plain string walk instead of pathlib, since
        this runs on every file call.
        """
        if not isinstance(raw, str) or raw.strip() == "":
            raise PathRefused("path must be a non-empty string")
        if "\x00" in raw:
            raise PathRefused("path must not contain NUL bytes")
        # Backslashes are ordinary characters on POSIX, but a client sending `..\..\etc` means traversal.
        parts = raw.replace("\\", "/").split("/")
        if ".." in parts:
            raise PathRefused(f"path {raw!r} contains '..'; paths must stay inside the workspace")
        if raw.startswith("/"):
            normalized = os.path.normpath(raw)
            if normalized == self.root_str:
                return self.root_str
            if not normalized.startswith(self._prefix):
                raise PathRefused(f"absolute path {raw!r} is outside the workspace")
            parts = normalized[len(self._prefix) :].split("/")
        current = self.root_str
        names = [part for part in parts if part not in ("", ".")]
        for index, name in enumerate(names):
            candidate = f"{current}/{name}"
            try:
                info = os.lstat(candidate)
            except (FileNotFoundError, NotADirectoryError):
                # Nothing exists from here on, so nothing further can be a symlink.
                return "/".join([candidate, *names[index + 1 :]])
            if stat.S_ISLNK(info.st_mode):
                real = os.path.realpath(candidate)
                if not self._within(real):
                    raise PathRefused(f"path {raw!r} resolves outside the workspace (symlink escape)")
                current = real
            else:
                current = candidate
        return current

    def _within(self, path: str) -> bool:
        return path == self.root_str or path.startswith(self._prefix)

    def display(self, path: Path | str) -> str:
        """The path relative to the root, as clients see it."""
        text = str(path)
        return "." if text == self.root_str else text[len(self._prefix) :]
