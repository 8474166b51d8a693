"""Path confinement for the file tool: every path a client names must stay inside the workspace root.

Rules, in order: no NUL bytes; no `..` component anywhere (even one that would stay inside: the intent is
suspicious and refusing it is simpler to reason about); absolute paths only when they already lie inside
the root; and the fully resolved path (all symlinks followed) must still lie inside the root, which is
what stops a symlink planted in the workspace from pointing at /etc. Opening then uses O_NOFOLLOW so the
last component cannot be swapped for a symlink between the check and the open.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath


class PathRefused(ValueError):
    """The path would leave the workspace (or is malformed); the message is safe to show the client."""


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def resolve(self, raw: str) -> Path:
        if not isinstance(raw, str) or raw.strip() == "":
            raise PathRefused("path must be a non-empty string")
        if "\x00" in raw:
            raise PathRefused("path must not contain NUL bytes")
        # Backslashes are ordinary characters on POSIX, but a client sending `..\..\etc` means traversal.
        parts = PurePosixPath(raw.replace("\\", "/")).parts
        if ".." in parts:
            raise PathRefused(f"path {raw!r} contains '..'; paths must stay inside the workspace")
        candidate = Path(raw)
        if candidate.is_absolute():
            if not _is_within(Path(os.path.normpath(candidate)), self.root):
                raise PathRefused(f"absolute path {raw!r} is outside the workspace")
        else:
            candidate = self.root / candidate
        resolved = candidate.resolve(strict=False)
        if not _is_within(resolved, self.root):
            raise PathRefused(f"path {raw!r} resolves outside the workspace (symlink escape)")
        return resolved

    def display(self, path: Path) -> str:
        """The path relative to the root, as clients see it."""
        rel = path.relative_to(self.root)
        return "." if str(rel) == "." else rel.as_posix()


def _is_within(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)
