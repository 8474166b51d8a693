"""A schema zoo: every construct the console's form must handle, plus a large realistic schema."""

from __future__ import annotations

from typing import Any

SCALARS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "Name", "description": "Who", "minLength": 2},
        "count": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3},
        "ratio": {"type": "number", "exclusiveMaximum": 1},
        "enabled": {"type": "boolean", "default": True},
        "level": {"enum": ["debug", "info", "warning"]},
        "kind": {"const": "fixed"},
        "when": {"type": "string", "format": "date-time"},
        "mail": {"type": "string", "format": "email"},
        "maybe": {"type": ["string", "null"]},
        "optional_num": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": None},
    },
    "required": ["name", "kind"],
    "additionalProperties": False,
}

NESTED: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "Point": {
            "type": "object",
            "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
            "required": ["x", "y"],
        },
        "Circle": {
            "type": "object",
            "title": "Circle",
            "properties": {"shape": {"const": "circle"}, "center": {"$ref": "#/$defs/Point"}, "r": {"type": "number"}},
            "required": ["shape", "center", "r"],
        },
        "Square": {
            "type": "object",
            "title": "Square",
            "properties": {
                "shape": {"const": "square"},
                "corner": {"$ref": "#/$defs/Point"},
                "side": {"type": "number"},
            },
            "required": ["shape", "corner", "side"],
        },
    },
    "properties": {
        "origin": {"$ref": "#/$defs/Point"},
        "figure": {"oneOf": [{"$ref": "#/$defs/Circle"}, {"$ref": "#/$defs/Square"}]},
        "label": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "points": {"type": "array", "items": {"$ref": "#/$defs/Point"}},
        "meta": {
            "allOf": [
                {"type": "object", "properties": {"owner": {"type": "string"}}, "required": ["owner"]},
                {"properties": {"team": {"type": "string", "default": "platform"}}},
            ]
        },
        "anything": {},
    },
    "required": ["origin", "figure"],
}

RECURSIVE: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {
                "value": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                "next": {"$ref": "#/$defs/Node"},
            },
        }
    },
    "properties": {"root": {"$ref": "#/$defs/Node"}},
}


def large_schema(width: int = 30, depth: int = 2) -> dict[str, Any]:
    """The largest schema of the zoo: `width` properties per level, nested `depth` levels, all constructs."""
    defs: dict[str, Any] = {"Point": NESTED["$defs"]["Point"]}

    def level(d: int) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for i in range(width):
            kind = i % 8
            if kind == 0:
                props[f"s{i}"] = {"type": "string", "description": f"string {i}", "maxLength": 64}
            elif kind == 1:
                props[f"n{i}"] = {"type": "integer", "minimum": 0, "default": i}
            elif kind == 2:
                props[f"e{i}"] = {"enum": ["a", "b", "c"]}
            elif kind == 3:
                props[f"b{i}"] = {"type": "boolean"}
            elif kind == 4:
                props[f"p{i}"] = {"$ref": "#/$defs/Point"}
            elif kind == 5:
                props[f"u{i}"] = {"oneOf": [{"type": "string"}, {"type": "number"}]}
            elif kind == 6:
                props[f"a{i}"] = {"type": "array", "items": {"type": "string"}}
            else:
                props[f"o{i}"] = level(d + 1) if d < depth else {"type": ["string", "null"]}
        return {"type": "object", "properties": props, "required": list(props)[:3]}

    return {**level(1), "$defs": defs}


ZOO: dict[str, dict[str, Any]] = {"scalars": SCALARS, "nested": NESTED, "recursive": RECURSIVE, "large": large_schema()}
