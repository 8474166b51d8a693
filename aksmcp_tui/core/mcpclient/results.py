"""A tool result as typed parts by content type: what the screen renders and the CLI prints."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import mcp_types as types

from aksmcp_tui.core.mcpclient.forms import FieldError, validate_arguments

PartKind = Literal["text", "json", "image", "audio", "resource_link", "resource", "unknown"]


@dataclass
class ResultPart:
    kind: PartKind
    text: str  # what to show (pretty JSON for json parts, a one-line description for binary parts)
    mime_type: str | None = None
    size: int | None = None  # decoded bytes of binary content
    data: bytes | None = field(default=None, repr=False)  # decoded image/audio, for a preview
    uri: str | None = None


@dataclass
class RenderedResult:
    parts: list[ResultPart]
    is_error: bool
    structured: Any = None
    structured_errors: list[FieldError] = field(default_factory=list)
    has_output_schema: bool = False

    def plain_text(self) -> str:
        lines = [p.text for p in self.parts]
        if self.structured is not None and not any(p.kind == "json" for p in self.parts):
            lines.append(json.dumps(self.structured, indent=2, ensure_ascii=False))
        for error in self.structured_errors:
            lines.append(f"structuredContent does not match outputSchema at {error.to_json()['path']}: {error.message}")
        return "\n".join(lines)


def _size_text(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KiB"


def _text_part(text: str) -> ResultPart:
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return ResultPart("json", json.dumps(json.loads(stripped), indent=2, ensure_ascii=False))
        except ValueError:
            pass
    return ResultPart("text", text)


def _decode(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:
        return b""


def render_content(content: list[Any]) -> list[ResultPart]:
    parts: list[ResultPart] = []
    for item in content:
        if isinstance(item, types.TextContent):
            parts.append(_text_part(item.text))
        elif isinstance(item, (types.ImageContent, types.AudioContent)):
            raw = _decode(item.data)
            kind: PartKind = "image" if isinstance(item, types.ImageContent) else "audio"
            parts.append(
                ResultPart(kind, f"[{kind} {item.mime_type}, {_size_text(len(raw))}]", item.mime_type, len(raw), raw)
            )
        elif isinstance(item, types.ResourceLink):
            label = item.title or item.name
            parts.append(ResultPart("resource_link", f"[link {label}: {item.uri}]", item.mime_type, uri=str(item.uri)))
        elif isinstance(item, types.EmbeddedResource):
            res = item.resource
            uri = str(res.uri)
            if isinstance(res, types.TextResourceContents):
                body = _text_part(res.text).text
                parts.append(ResultPart("resource", f"[resource {uri}]\n{body}", res.mime_type, uri=uri))
            else:
                raw = _decode(getattr(res, "blob", ""))
                parts.append(
                    ResultPart(
                        "resource",
                        f"[resource {uri}: {res.mime_type or 'binary'}, {_size_text(len(raw))}]",
                        res.mime_type,
                        len(raw),
                        raw,
                        uri,
                    )
                )
        else:
            dumped = item.model_dump(by_alias=True, exclude_none=True) if hasattr(item, "model_dump") else item
            parts.append(ResultPart("unknown", json.dumps(dumped, indent=2, default=str)))
    return parts


def render_result(result: types.CallToolResult, tool: types.Tool | None = None) -> RenderedResult:
    rendered = RenderedResult(render_content(list(result.content)), bool(result.is_error))
    rendered.structured = result.structured_content
    schema = tool.output_schema if tool is not None else None
    rendered.has_output_schema = schema is not None
    if schema is not None and not result.is_error:
        if result.structured_content is None:
            rendered.structured_errors = [
                FieldError((), "the tool declares an outputSchema but sent no structuredContent")
            ]
        else:
            rendered.structured_errors = validate_arguments(schema, result.structured_content)
    return rendered


def render_resource(result: types.ReadResourceResult) -> list[ResultPart]:
    parts: list[ResultPart] = []
    for res in result.contents:
        if isinstance(res, types.TextResourceContents):
            part = _text_part(res.text)
            part.uri, part.mime_type = str(res.uri), res.mime_type
            parts.append(part)
        else:
            raw = _decode(getattr(res, "blob", ""))
            parts.append(
                ResultPart(
                    "resource",
                    f"[{res.mime_type or 'binary'}, {_size_text(len(raw))}]",
                    res.mime_type,
                    len(raw),
                    raw,
                    str(res.uri),
                )
            )
    return parts


def render_prompt(result: types.GetPromptResult) -> list[ResultPart]:
    parts: list[ResultPart] = []
    if result.description:
        parts.append(ResultPart("text", result.description))
    for message in result.messages:
        for part in render_content([message.content]):
            part.text = f"{message.role}: {part.text}"
            parts.append(part)
    return parts


def result_json(result: types.CallToolResult) -> dict[str, Any]:
    dumped: dict[str, Any] = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    return dumped
