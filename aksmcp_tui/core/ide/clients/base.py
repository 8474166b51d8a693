"""The shape every client writer has, and the three file formats they share (JSONC, TOML, YAML).

A writer knows one client: where its files are per OS and scope, and the entry it expects. The
format classes do the comment-preserving edits; a writer only builds the entry's value.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, ClassVar

from aksmcp_tui.core.ide.files import IdeError
from aksmcp_tui.core.ide.jsonc import JsoncDocument, JsoncError
from aksmcp_tui.core.ide.model import EntrySpec, Rendered, Scope


def home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def app_config_dir() -> Path:
    """Where desktop (Electron) apps keep settings: Application Support, %APPDATA%, XDG config."""
    if sys.platform == "darwin":
        return home() / "Library" / "Application Support"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or home() / "AppData" / "Roaming")
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    return Path(xdg) if xdg and os.path.isabs(xdg) else home() / ".config"


class ClientWriter:
    client: ClassVar[str]
    title: ClassVar[str]
    scopes: ClassVar[tuple[Scope, ...]] = ("user", "project")
    file_format: ClassVar[str]  # "JSONC" | "JSON" | "TOML" | "YAML": what the client parses
    headers_helper: ClassVar[bool] = False  # the client can run a command that prints its headers

    def path(self, scope: Scope, project_dir: Path) -> Path:
        raise NotImplementedError

    def check_scope(self, scope: Scope) -> None:
        if scope not in self.scopes:
            only = " or ".join(self.scopes)
            raise IdeError(f"{self.title} has no {scope}-scope MCP configuration (use --scope {only})")

    # --- the document (format classes implement these) ---
    def parse(self, text: str | None, path: Path) -> Any:
        raise NotImplementedError

    def get_entry(self, text: str | None, path: Path, name: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def put_entry(self, text: str | None, path: Path, name: str, value: dict[str, Any]) -> str:
        raise NotImplementedError

    def drop_entry(self, text: str, path: Path, name: str) -> str:
        raise NotImplementedError

    # --- the entry (client writers implement these) ---
    def entry(self, spec: EntrySpec) -> tuple[dict[str, Any], list[str]]:
        """The entry's value and what the user must know or do."""
        raise NotImplementedError

    def write(self, text: str | None, path: Path, spec: EntrySpec) -> Rendered:
        value, notes = self.entry(spec)
        return Rendered(self.put_entry(text, path, spec.name, value), notes, spec.secret_mode == "inline")

    def remove(self, text: str, path: Path, name: str) -> str:
        return self.drop_entry(text, path, name)

    def entry_url(self, entry: dict[str, Any]) -> str | None:
        for key in ("url", "serverUrl", "httpUrl"):
            if isinstance(entry.get(key), str):
                return str(entry[key])
        return None


def reference_note(spec: EntrySpec, how: str) -> str:
    return (
        f"the key is not in the file: {how} reads it from ${spec.secret_env}; set {spec.secret_env} "
        "to the deployment's API key where the client starts"
    )


def inline_note(path: Path) -> str:
    return f"the API key is written into {path}, so the file is now mode 0600 (owner only)"


def bearer(spec: EntrySpec, reference: str) -> dict[str, str]:
    """The Authorization header: the key inline (user scope) or `reference` (a client-expanded variable)."""
    mode = spec.secret_mode
    if mode == "none":
        return {}
    if mode == "inline":
        assert spec.api_key is not None
        return {"Authorization": f"Bearer {spec.api_key}"}
    return {"Authorization": f"Bearer {reference}"}


class JsonFormat(ClientWriter):
    """Clients whose file is JSON(C) with the entries in an object at `container`."""

    container: ClassVar[tuple[str, ...]] = ("mcpServers",)
    file_format = "JSONC"

    def doc(self, text: str | None, path: Path) -> JsoncDocument:
        """The document, refused when it does not parse or its container is not an object."""
        try:
            document = JsoncDocument(text)
            holder = document.get(self.container[:1])
            if holder is not None and not isinstance(holder, dict):
                raise IdeError(f"{path}: {'.'.join(self.container)} is not an object; not touching it")
            return document
        except JsoncError as exc:
            raise IdeError(f"{path}:{exc.line}:{exc.column}: cannot parse it ({exc}); not touching it") from None

    def parse(self, text: str | None, path: Path) -> Any:
        return self.doc(text, path).data

    def get_entry(self, text: str | None, path: Path, name: str) -> dict[str, Any] | None:
        value = self.doc(text, path).get((*self.container, name))
        return value if isinstance(value, dict) else None

    def put_entry(self, text: str | None, path: Path, name: str, value: dict[str, Any]) -> str:
        document = self.doc(text, path)
        document.set((*self.container, name), value)
        return document.text

    def drop_entry(self, text: str, path: Path, name: str) -> str:
        document = self.doc(text, path)
        document.delete((*self.container, name))
        return document.text
