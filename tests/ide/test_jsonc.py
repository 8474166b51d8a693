"""The JSONC editor: edits touch only their own span; comments, trailing commas and layout stay."""

from __future__ import annotations

import json

import pytest

from aksmcp_tui.core.ide.jsonc import JsoncDocument, JsoncError, parse

from .clientfiles import strip_jsonc

TEXT = """// header comment
{
  /* block */ "a": "http://x//not-a-comment", // after a
  "servers": {
    "keep": {"command": "x"}, // trailing comma next
  },
  "list": [1, 2,],
}
"""


def test_parse_matches_a_comment_stripping_json_parse() -> None:
    assert parse(TEXT) == json.loads(strip_jsonc(TEXT))
    assert parse("") is None and parse("// only a comment\n") is None


def test_set_insert_replace_delete_round_trip() -> None:
    doc = JsoncDocument(TEXT)
    doc.set(("servers", "new"), {"url": "u"})
    assert doc.text.startswith(TEXT[: TEXT.index('"keep"')])  # everything before the edit is untouched
    assert "// trailing comma next" in doc.text and "// after a" in doc.text
    assert parse(doc.text)["servers"] == {"keep": {"command": "x"}, "new": {"url": "u"}}
    doc.set(("servers", "new", "url"), "v")
    assert parse(doc.text)["servers"]["new"] == {"url": "v"}
    doc.set(("deep", "er", "est"), 1)
    assert parse(doc.text)["deep"] == {"er": {"est": 1}}
    doc.append(("list",), 3)
    assert parse(doc.text)["list"] == [1, 2, 3]
    assert doc.delete(("servers", "new")) and doc.delete(("deep",)) and doc.delete(("list", 2))
    assert parse(doc.text) == parse(TEXT)
    assert "/* block */" in doc.text and "// header comment" in doc.text
    assert not doc.delete(("servers", "absent"))


def test_empty_and_one_line_objects() -> None:
    doc = JsoncDocument(None)
    doc.set(("mcpServers", "a"), {"url": "u"})
    assert json.loads(doc.text) == {"mcpServers": {"a": {"url": "u"}}}
    doc.delete(("mcpServers", "a"))
    assert json.loads(doc.text) == {"mcpServers": {}}
    one = JsoncDocument('{"x": 1}')
    one.set(("y",), [1])
    assert json.loads(one.text) == {"x": 1, "y": [1]}
    with_comment = JsoncDocument('{\n  "s": {\n    // nothing yet\n  }\n}')
    with_comment.set(("s", "a"), 1)
    assert "// nothing yet" in with_comment.text and parse(with_comment.text) == {"s": {"a": 1}}


def test_tabs_are_kept_as_the_indent() -> None:
    doc = JsoncDocument('{\n\t"s": {\n\t\t"a": 1\n\t}\n}\n')
    doc.set(("s", "b"), {"c": 2})
    assert '\t\t"b": {\n\t\t\t"c": 2\n\t\t}' in doc.text


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{\n  "a": 1\n  "b": 2\n}', 3, 3),
        ('{"a": /* open', 1, 7),
        ("[1]", 1, 1),
        ('{"a": "x\n"}', 1, 7),
        ("{'a': 1}", 1, 2),
    ],
)
def test_errors_say_where(text: str, line: int, column: int) -> None:
    with pytest.raises(JsoncError) as caught:
        JsoncDocument(text)
    assert (caught.value.line, caught.value.column) == (line, column)
