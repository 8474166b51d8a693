"""TOML (Codex) and YAML (Continue) documents, edited with round-trip libraries that keep comments."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, ClassVar

from aksmcp_tui.core.ide.clients.base import ClientWriter
from aksmcp_tui.core.ide.files import IdeError


class TomlFormat(ClientWriter):
    """Entries are tables under `[mcp_servers.NAME]`; tomlkit keeps comments, order and layout."""

    file_format = "TOML"
    container: ClassVar[str] = "mcp_servers"

    def doc(self, text: str | None, path: Path) -> Any:
        import tomlkit
        from tomlkit.exceptions import ParseError

        try:
            document = tomlkit.parse(text or "")
        except ParseError as exc:
            raise IdeError(f"{path}:{exc.line}:{exc.col}: cannot parse it as TOML ({exc}); not touching it") from None
        holder = document.get(self.container)
        if holder is not None and not isinstance(holder, dict):
            raise IdeError(f"{path}: {self.container} is not a table; not touching it")
        return document

    def parse(self, text: str | None, path: Path) -> Any:
        """Read-only: the standard library's strict TOML 1.0 parser (faster than a round-trip parse)."""
        import tomllib

        try:
            data = tomllib.loads(text or "")
        except tomllib.TOMLDecodeError as exc:
            found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            where = f":{found.group(1)}:{found.group(2)}" if found else ""
            raise IdeError(f"{path}{where}: cannot parse it as TOML ({exc}); not touching it") from None
        holder = data.get(self.container)
        if holder is not None and not isinstance(holder, dict):
            raise IdeError(f"{path}: {self.container} is not a table; not touching it")
        return data

    def get_entry(self, text: str | None, path: Path, name: str) -> dict[str, Any] | None:
        value = (self.parse(text, path).get(self.container) or {}).get(name)
        return value if isinstance(value, dict) else None

    def put_entry(self, text: str | None, path: Path, name: str, value: dict[str, Any]) -> str:
        import tomlkit

        document = self.doc(text, path)
        if self.container not in document:
            document[self.container] = tomlkit.table(is_super_table=True)
        table = tomlkit.table()
        for key, item in value.items():
            if isinstance(item, dict):
                inline = tomlkit.inline_table()
                inline.update(item)
                table[key] = inline
            else:
                table[key] = item
        document[self.container][name] = table
        return str(tomlkit.dumps(document))

    def drop_entry(self, text: str, path: Path, name: str) -> str:
        import tomlkit

        document = self.doc(text, path)
        holder = document.get(self.container)
        if holder is not None and name in holder:
            del holder[name]
            if not holder:
                del document[self.container]
        return str(tomlkit.dumps(document))


class YamlListFormat(ClientWriter):
    """Entries are items of the `mcpServers` list, found by their `name`; ruamel.yaml keeps comments."""

    file_format = "YAML"

    def yaml(self) -> Any:
        from ruamel.yaml import YAML

        yaml = YAML(typ="rt")
        yaml.preserve_quotes = True
        yaml.indent(mapping=2, sequence=4, offset=2)
        yaml.width = 4096
        return yaml

    def new_document(self, name: str) -> dict[str, Any]:
        return {}

    def doc(self, text: str | None, path: Path) -> Any:
        from ruamel.yaml.error import YAMLError

        try:
            data = self.yaml().load(text or "")
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
            raise IdeError(f"{path}{where}: cannot parse it as YAML; not touching it") from None
        if data is not None and not isinstance(data, dict):
            raise IdeError(f"{path}: the top level is not a mapping; not touching it")
        servers = None if data is None else data.get("mcpServers")
        if servers is not None and not isinstance(servers, list):
            raise IdeError(f"{path}: mcpServers is not a list; not touching it")
        return data

    def parse(self, text: str | None, path: Path) -> Any:
        """Read-only: PyYAML's safe loader (C when built with libyaml), much faster than a round trip."""
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            data = yaml.load(text or "", Loader=loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
            raise IdeError(f"{path}{where}: cannot parse it as YAML; not touching it") from None
        if data is not None and not isinstance(data, dict):
            raise IdeError(f"{path}: the top level is not a mapping; not touching it")
        if data is not None and data.get("mcpServers") is not None and not isinstance(data["mcpServers"], list):
            raise IdeError(f"{path}: mcpServers is not a list; not touching it")
        return data

    def _index(self, data: Any, name: str) -> int | None:
        for i, item in enumerate((data or {}).get("mcpServers") or []):
            if isinstance(item, dict) and item.get("name") == name:
                return i
        return None

    def get_entry(self, text: str | None, path: Path, name: str) -> dict[str, Any] | None:
        data = self.parse(text, path)
        index = self._index(data, name)
        return None if index is None else dict(data["mcpServers"][index])

    def dump(self, data: Any) -> str:
        out = io.StringIO()
        self.yaml().dump(data, out)
        return out.getvalue()

    def put_entry(self, text: str | None, path: Path, name: str, value: dict[str, Any]) -> str:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        data = self.doc(text, path)
        if data is None:
            data = CommentedMap(self.new_document(name))
        item = CommentedMap({"name": name, **value})
        if data.get("mcpServers") is None:
            data["mcpServers"] = CommentedSeq()
        index = self._index(data, name)
        if index is None:
            data["mcpServers"].append(item)
        else:
            data["mcpServers"][index] = item
        return self.dump(data)

    def drop_entry(self, text: str, path: Path, name: str) -> str:
        data = self.doc(text, path)
        index = self._index(data, name)
        if index is not None:
            del data["mcpServers"][index]
        return self.dump(data)
