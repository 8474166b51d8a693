"""Minimal, comment-preserving edits of JSON with comments (VS Code's JSONC, also plain JSON).

Why hand-written: no well-kept Python library edits JSONC in place (json-five round-trips but edits
through a low-level token model; jsonc-edit is a young binding). The approach is the one of
Microsoft's `jsonc-parser` `modify()`: parse once into nodes that remember their character spans,
then splice the smallest possible text change (replace one value, insert one member before the
closing brace, remove one member and its comma). Everything outside the changed span, comments and
formatting included, stays byte for byte. The document is re-parsed after every edit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

Path_ = tuple[str | int, ...]


class JsoncError(ValueError):
    """The text is not JSON with comments; `line` and `column` (1-based) say where."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column


@dataclass
class Node:
    kind: str  # "object" | "array" | "string" | "number" | "literal"
    start: int
    end: int  # exclusive
    value: Any = None  # scalars only
    # object members: (key, key_start, value); array items: (None, item_start, value)
    members: list[tuple[str | None, int, Node]] = field(default_factory=list)

    def to_python(self) -> Any:
        if self.kind == "object":
            return {key: child.to_python() for key, _, child in self.members}
        if self.kind == "array":
            return [child.to_python() for _, _, child in self.members]
        return self.value


_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, message: str, pos: int | None = None) -> JsoncError:
        at = self.pos if pos is None else pos
        line = self.text.count("\n", 0, at) + 1
        column = at - (self.text.rfind("\n", 0, at) + 1) + 1
        return JsoncError(message, line, column)

    def skip(self) -> None:
        """Skip whitespace and comments."""
        text, n = self.text, len(self.text)
        while self.pos < n:
            ch = text[self.pos]
            if ch in " \t\r\n\ufeff":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated /* comment")
                self.pos = end + 2
            else:
                return

    def document(self) -> Node | None:
        self.skip()
        if self.pos >= len(self.text):
            return None  # empty (or comments only): treated as a missing document
        node = self.value()
        self.skip()
        if self.pos < len(self.text):
            raise self.fail("unexpected text after the JSON value")
        return node

    def value(self) -> Node:
        self.skip()
        if self.pos >= len(self.text):
            raise self.fail("unexpected end of file")
        ch = self.text[self.pos]
        if ch == "{":
            return self.container("object", "}")
        if ch == "[":
            return self.container("array", "]")
        if ch == '"':
            start = self.pos
            text = self.string()
            return Node("string", start, self.pos, text)
        for word, literal in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                start = self.pos
                self.pos += len(word)
                return Node("literal", start, self.pos, literal)
        match = _NUMBER.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return Node("number", match.start(), match.end(), json.loads(match.group()))
        raise self.fail(f"unexpected character {ch!r}")

    def string(self) -> str:
        start = self.pos
        self.pos += 1
        text, n = self.text, len(self.text)
        while self.pos < n:
            ch = text[self.pos]
            if ch == "\\":
                self.pos += 2
            elif ch == '"':
                self.pos += 1
                try:
                    return str(json.loads(text[start : self.pos]))
                except ValueError:
                    raise self.fail("invalid string escape", start) from None
            elif ch == "\n":
                break
            else:
                self.pos += 1
        raise self.fail("unterminated string", start)

    def container(self, kind: str, close: str) -> Node:
        node = Node(kind, self.pos, self.pos)
        self.pos += 1
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise self.fail(f"missing {close!r}")
            if self.text[self.pos] == close:
                self.pos += 1
                node.end = self.pos
                return node
            item_start = self.pos
            key: str | None = None
            if kind == "object":
                if self.text[self.pos] != '"':
                    raise self.fail("expected a quoted property name")
                key = self.string()
                self.skip()
                if self.pos >= len(self.text) or self.text[self.pos] != ":":
                    raise self.fail("expected ':'")
                self.pos += 1
            child = self.value()
            node.members.append((key, item_start, child))
            self.skip()
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1  # a trailing comma before the close is accepted (JSONC)
            elif self.pos < len(self.text) and self.text[self.pos] != close:
                raise self.fail(f"expected ',' or {close!r}")


def parse(text: str) -> Any:
    """The document's value (None for an empty document); raises JsoncError."""
    node = _Parser(text).document()
    return None if node is None else node.to_python()


class JsoncDocument:
    """A JSONC text and the edits that keep everything else as it was."""

    def __init__(self, text: str | None) -> None:
        self.text = text or ""
        self._reparse()
        if self.root is not None and self.root.kind != "object":
            raise JsoncError("the top level is not an object", 1, 1)
        self.indent = _detect_indent(self.text)

    def _reparse(self) -> None:
        # Lazily: a run of edits ends with one parse, by whoever looks at the nodes next.
        self._root: Node | None = None
        self._parsed = False

    @property
    def root(self) -> Node | None:
        if not self._parsed:
            self._root = _Parser(self.text).document()
            self._parsed = True
        return self._root

    @property
    def data(self) -> dict[str, Any]:
        return {} if self.root is None else dict(self.root.to_python())

    def get(self, path: Path_) -> Any:
        node = self._find(path)
        return None if node is None else node.to_python()

    def _find(self, path: Path_) -> Node | None:
        node = self.root
        for part in path:
            if node is None:
                return None
            node = _child(node, part)
        return node

    def set(self, path: Path_, value: Any) -> None:
        """Set an object member (creating missing parent objects); the path's parts are keys."""
        if self.root is None:
            built: Any = value
            for part in reversed(path):
                built = {part: built}
            self.text = _dumps(built, self.indent, 0) + "\n"
            self._reparse()
            return
        node = self.root
        depth = 0
        for i, part in enumerate(path):
            child = _child(node, part)
            if child is None:
                if node.kind != "object":
                    raise JsoncError(f"{_show(path[:i])} is not an object", *self._where(node.start))
                rest: Any = value
                for later in reversed(path[i + 1 :]):
                    rest = {later: rest}
                self._insert_member(node, str(part), rest, depth + 1)
                return
            node = child
            depth += 1
        self._splice(node.start, node.end, _dumps(value, self.indent, depth))

    def append(self, path: Path_, value: Any) -> None:
        """Append to the array at `path` (created when missing)."""
        node = self._find(path)
        if node is None:
            self.set(path, [value])
            return
        if node.kind != "array":
            raise JsoncError(f"{_show(path)} is not a list", *self._where(node.start))
        self._insert_member(node, None, value, len(path) + 1)

    def delete(self, path: Path_) -> bool:
        """Remove an object member or array item; False when it is not there."""
        if not path:
            return False
        parent = self._find(path[:-1])
        if parent is None or parent.kind not in ("object", "array"):
            return False
        index = _index_of(parent, path[-1])
        if index is None:
            return False
        text = self.text
        _, item_start, child = parent.members[index]
        start = _line_start_if_blank(text, item_start)
        after = _skip_ws_comments(text, child.end)
        if after < len(text) and text[after] == ",":
            end = _end_of_line_if_blank(text, after + 1)
            self._splice(start, end, "")
            return True
        end = _end_of_line_if_blank(text, child.end)
        if index > 0:
            # The last member goes: the comma after the one before it must go too.
            prev = parent.members[index - 1][2]
            comma = _skip_ws_comments(text, prev.end)
            self.text = text[:start] + text[end:]
            if comma < len(text) and text[comma] == ",":
                self.text = self.text[:comma] + self.text[comma + 1 :]
            self._reparse()
            return True
        if parent.kind == "object" and not _has_comments(text[parent.start + 1 : parent.end - 1]):
            self._splice(parent.start, parent.end, "{}")
        elif parent.kind == "array" and not _has_comments(text[parent.start + 1 : parent.end - 1]):
            self._splice(parent.start, parent.end, "[]")
        else:
            self._splice(start, end, "")
        return True

    # --- text splicing ---------------------------------------------------------------------

    def _where(self, pos: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, pos) + 1
        return line, pos - (self.text.rfind("\n", 0, pos) + 1) + 1

    def _splice(self, start: int, end: int, replacement: str) -> None:
        self.text = self.text[:start] + replacement + self.text[end:]
        self._reparse()

    def _insert_member(self, container: Node, key: str | None, value: Any, depth: int) -> None:
        text = self.text
        pad = self.indent * depth
        rendered = _dumps(value, self.indent, depth)
        item = (json.dumps(key) + ": " if key is not None else "") + rendered
        close = container.end - 1
        if not container.members:
            inner_comments = _has_comments(text[container.start + 1 : close])
            closing_pad = self.indent * (depth - 1)
            if not inner_comments:
                self._splice(container.start + 1, close, f"\n{pad}{item}\n{closing_pad}")
            else:
                self._splice(close, close, f"{pad}{item}\n{closing_pad}")
            return
        last = container.members[-1][2]
        after_last = _skip_ws_comments(text, last.end)
        needs_comma = not (after_last < len(text) and text[after_last] == ",")
        line_start = text.rfind("\n", 0, close) + 1
        if text[line_start:close].strip() == "" and line_start > last.end:
            # The closing brace has its own line: the new member goes on the line above it.
            insert_at, new_text = line_start, f"{pad}{item}\n"
        else:
            insert_at, new_text = close, f"\n{pad}{item}\n{self.indent * (depth - 1)}"
        edited = text[:insert_at] + new_text + text[insert_at:]
        if needs_comma:
            edited = edited[: last.end] + "," + edited[last.end :]
        self.text = edited
        self._reparse()


def _child(node: Node, part: str | int) -> Node | None:
    index = _index_of(node, part)
    return None if index is None else node.members[index][2]


def _index_of(node: Node, part: str | int) -> int | None:
    if node.kind == "object" and isinstance(part, str):
        found = None
        for i, (key, _, _) in enumerate(node.members):
            if key == part:
                found = i  # the last duplicate wins, as in JSON.parse
        return found
    if node.kind == "array" and isinstance(part, int) and 0 <= part < len(node.members):
        return part
    return None


def _show(path: Path_) -> str:
    return ".".join(str(p) for p in path) or "the top level"


def _dumps(value: Any, indent: str, depth: int) -> str:
    rendered = json.dumps(value, indent=indent or 2, ensure_ascii=False)
    if depth == 0:
        return rendered
    return rendered.replace("\n", "\n" + indent * depth)


def _detect_indent(text: str) -> str:
    for line in text.splitlines():
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            return line[: len(line) - len(stripped)]
    return "  "


def _has_comments(segment: str) -> bool:
    return "//" in segment or "/*" in segment


def _skip_ws_comments(text: str, pos: int) -> int:
    parser = _Parser(text)
    parser.pos = pos
    parser.skip()
    return parser.pos


def _line_start_if_blank(text: str, pos: int) -> int:
    line_start = text.rfind("\n", 0, pos) + 1
    return line_start if text[line_start:pos].strip() == "" else pos


def _end_of_line_if_blank(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    return end + 1 if text[pos:end].strip() == "" and end < len(text) else pos
