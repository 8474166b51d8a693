"""A tool's `inputSchema` as a form model, and validation with JSON Schema 2020-12.

`build_form` turns a schema into a tree of `FormField`s (string, number, integer, boolean, enum,
const, nullable, arrays, nested objects, `$ref`/`$defs`, `oneOf`/`anyOf`/`allOf`, `format`,
defaults, descriptions, required marks). A front end shows one input per leaf and hands the raw
inputs back, keyed by the field's path; `assemble` turns them into the arguments object and
`validate_arguments` checks it with `jsonschema` before anything is sent. Errors carry the path of
the field they belong to, so the form shows them on that field.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Path = tuple[str | int, ...]
Kind = Literal["string", "number", "integer", "boolean", "enum", "const", "object", "array", "union", "json", "null"]
VARIANT = "$variant"  # raw-input key suffix: which oneOf/anyOf branch is chosen
MAX_DEPTH = 12  # recursive $refs (a tree of nodes) end in a raw-JSON field instead of an endless form
_SCALARS = ("string", "number", "integer", "boolean")


@dataclass
class FormField:
    path: Path
    name: str
    kind: Kind
    title: str | None = None
    description: str | None = None
    required: bool = False
    nullable: bool = False
    has_default: bool = False
    default: Any = None
    enum: list[Any] = field(default_factory=list)
    const: Any = None
    format: str | None = None
    children: list[FormField] = field(default_factory=list)  # object properties
    item: FormField | None = None  # array item template
    variants: list[FormField] = field(default_factory=list)  # oneOf/anyOf branches
    variant_titles: list[str] = field(default_factory=list)
    constraints: dict[str, Any] = field(default_factory=dict)
    schema: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        base = self.title or self.name or "(arguments)"
        return base + (" *" if self.required else "")

    @property
    def key(self) -> str:
        """A stable, widget-id-safe key for the path."""
        return path_key(self.path)

    def hint(self) -> str:
        """One line for under the input: type, format, constraints, default."""
        parts = [self.kind if self.kind != "enum" else "one of " + ", ".join(json.dumps(v) for v in self.enum)]
        if self.kind == "array" and self.item is not None:
            parts[0] = f"array of {self.item.kind}" + (
                " (comma separated or a JSON array)" if self.item.kind in _SCALARS else " (JSON array)"
            )
        if self.format:
            parts.append(f"format {self.format}")
        parts += [f"{k} {v}" for k, v in self.constraints.items()]
        if self.nullable:
            parts.append("nullable: type null for null")
        if self.has_default:
            parts.append(f"default {json.dumps(self.default)}")
        return " · ".join(parts)

    def walk(self) -> list[FormField]:
        found = [self]
        for child in self.children:
            found += child.walk()
        return found


def path_key(path: Path) -> str:
    """A widget-id-safe key: readable for plain names, with a digest where a name had other characters."""
    if not path:
        return "f-root"
    joined = "-".join(str(p) for p in path)
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", joined)
    if safe != joined:
        safe += "-" + hashlib.sha1(joined.encode()).hexdigest()[:6]
    return "f-" + safe


@dataclass(frozen=True)
class FieldError:
    path: Path
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"path": "/" + "/".join(str(p) for p in self.path), "message": self.message}


class _Resolver:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root

    def resolve(self, schema: Any) -> dict[str, Any]:
        seen = 0
        while isinstance(schema, Mapping) and "$ref" in schema and seen < 32:
            ref = schema["$ref"]
            target = self._lookup(ref)
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest} if rest else target
            seen += 1
        return dict(schema) if isinstance(schema, Mapping) else {}

    def _lookup(self, ref: str) -> Mapping[str, Any]:
        if not isinstance(ref, str) or not ref.startswith("#"):
            return {}  # remote refs are not fetched: the field falls back to raw JSON
        node: Any = self.root
        for part in ref[1:].lstrip("/").split("/") if ref != "#" else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                return {}
        return node if isinstance(node, Mapping) else {}


def _merge_all_of(schema: dict[str, Any], resolver: _Resolver) -> dict[str, Any]:
    parts = schema.get("allOf")
    if not isinstance(parts, list):
        return schema
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    for part in parts:
        sub = _merge_all_of(resolver.resolve(part), resolver)
        for key, value in sub.items():
            if key == "properties":
                merged.setdefault("properties", {})
                merged["properties"] = {**merged["properties"], **value}
            elif key == "required":
                merged["required"] = sorted(set(merged.get("required", [])) | set(value))
            else:
                merged.setdefault(key, value)
    return merged


def build_form(schema: Mapping[str, Any] | None) -> FormField:
    """The form for a tool's inputSchema (an object schema; a missing one means no arguments)."""
    root_schema: dict[str, Any] = dict(schema or {"type": "object"})
    resolver = _Resolver(root_schema)
    form = _build(root_schema, (), "", True, resolver, 0)
    if form.kind != "object":  # a non-object inputSchema is invalid MCP; still give the user a raw field
        form = FormField((), "", "json", description="the inputSchema is not an object schema", schema=root_schema)
    return form


def _build(raw: Any, path: Path, name: str, required: bool, resolver: _Resolver, depth: int) -> FormField:
    schema = _merge_all_of(resolver.resolve(raw), resolver)
    common: dict[str, Any] = {
        "title": schema.get("title"),
        "description": schema.get("description"),
        "required": required,
        "format": schema.get("format"),
        "schema": schema,
    }
    if "default" in schema:
        common["has_default"] = True
        common["default"] = copy.deepcopy(schema["default"])
    common["constraints"] = {
        k: schema[k]
        for k in (
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "minLength",
            "maxLength",
            "pattern",
            "minItems",
            "maxItems",
            "multipleOf",
        )
        if k in schema
    }
    if depth > MAX_DEPTH:
        return FormField(path, name, "json", **common)
    if "const" in schema:
        return FormField(path, name, "const", const=schema["const"], **common)
    types_ = schema.get("type")
    type_list = list(types_) if isinstance(types_, list) else ([types_] if isinstance(types_, str) else [])
    nullable = "null" in type_list
    type_list = [t for t in type_list if t != "null"]
    if isinstance(schema.get("enum"), list):
        values = list(schema["enum"])
        if None in values:
            nullable = True
            values = [v for v in values if v is not None]
        return FormField(path, name, "enum", enum=values, nullable=nullable, **common)
    branches_key = "oneOf" if isinstance(schema.get("oneOf"), list) else "anyOf"
    branches = schema.get(branches_key)
    if isinstance(branches, list) and branches:
        resolved = [resolver.resolve(b) for b in branches]
        non_null = [b for b in resolved if b.get("type") != "null"]
        if len(non_null) < len(resolved):
            nullable = True
        if len(non_null) == 1:  # Optional[X] as pydantic writes it: a nullable X
            inner = _build(
                {**{k: v for k, v in schema.items() if k != branches_key}, **non_null[0]},
                path,
                name,
                required,
                resolver,
                depth + 1,
            )
            inner.nullable = True
            if common.get("title"):
                inner.title = common["title"]
            if common.get("description"):
                inner.description = common["description"]
            return inner
        variants = [_build(b, path, name, required, resolver, depth + 1) for b in non_null]
        titles = [
            str(b.get("title") or v.title or (v.kind if v.kind != "const" else json.dumps(v.const)))
            for b, v in zip(non_null, variants, strict=True)
        ]
        return FormField(path, name, "union", variants=variants, variant_titles=titles, nullable=nullable, **common)
    kind = type_list[0] if len(type_list) == 1 else None
    if kind is None and len(type_list) == 0 and "properties" in schema:
        kind = "object"
    if kind == "object":
        props = schema.get("properties") or {}
        required_names = set(schema.get("required") or [])
        children = [
            _build(sub, (*path, prop), prop, prop in required_names, resolver, depth + 1)
            for prop, sub in props.items()
            if isinstance(prop, str)
        ]
        return FormField(path, name, "object", children=children, nullable=nullable, **common)
    if kind == "array":
        items = schema.get("items")
        item = _build(items if isinstance(items, Mapping) else {}, (*path, 0), "item", True, resolver, depth + 1)
        return FormField(path, name, "array", item=item, nullable=nullable, **common)
    if kind in _SCALARS:
        return FormField(path, name, kind, nullable=nullable, **common)  # type: ignore[arg-type]
    if kind == "null" or (types_ == "null"):
        return FormField(path, name, "null", **common)
    return FormField(path, name, "json", nullable=nullable, **common)  # any type, or several: raw JSON


# ---------------------------------------------------------------------------- raw inputs -> arguments
class _Missing:
    pass


MISSING: Any = _Missing()


def parse_scalar(f: FormField, raw: Any) -> Any:
    """The JSON value of one input (raising ValueError with a message for the field)."""
    if f.kind == "boolean":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("true", "yes", "1", "on"):
            return True
        if text in ("false", "no", "0", "off"):
            return False
        raise ValueError("expected true or false")
    text = raw if isinstance(raw, str) else json.dumps(raw)
    if f.nullable and text.strip() == "null":
        return None
    if f.kind == "string":
        return raw if isinstance(raw, str) else str(raw)
    if f.kind == "integer":
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError(f"{text.strip()!r} is not an integer") from None
    if f.kind == "number":
        try:
            number = float(text.strip())
        except ValueError:
            raise ValueError(f"{text.strip()!r} is not a number") from None
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if f.kind == "enum":
        if not isinstance(raw, str):
            return raw
        for value in f.enum:
            if raw == value or raw == json.dumps(value):
                return value
        raise ValueError(f"{raw!r} is not one of {', '.join(json.dumps(v) for v in f.enum)}")
    if f.kind == "const":
        return f.const
    if f.kind == "null":
        return None
    if f.kind in ("json", "array", "object"):
        if not isinstance(raw, str):
            return raw
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    raise ValueError(f"cannot read a {f.kind} from {raw!r}")


def _parse_array(f: FormField, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if f.nullable and text == "null":
        return None
    if text.startswith("["):
        return parse_scalar(FormField(f.path, f.name, "json"), text)
    item = f.item
    if item is None or item.kind not in (*_SCALARS, "enum"):
        raise ValueError("expected a JSON array, e.g. [{...}]")
    if not text:
        return []
    return [parse_scalar(item, part.strip()) for part in text.split(",")]


def assemble(form: FormField, raw: Mapping[Path, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """The arguments from the form's raw inputs (path -> text/bool). Empty optional inputs are left out."""
    errors: list[FieldError] = []
    value = _assemble(form, raw, errors)
    if value is MISSING:
        value = {}
    if not isinstance(value, dict):
        errors.append(FieldError((), "the arguments must be a JSON object"))
        value = {}
    return value, errors


def _is_empty(raw: Any) -> bool:
    return raw is None or raw is MISSING or (isinstance(raw, str) and raw.strip() == "")


def _assemble(f: FormField, raw: Mapping[Path, Any], errors: list[FieldError]) -> Any:
    if f.kind == "object":
        if f.path in raw and not _is_empty(raw[f.path]):  # a whole-object raw override (e.g. "null")
            try:
                return parse_scalar(FormField(f.path, f.name, "json", nullable=f.nullable), raw[f.path])
            except ValueError as exc:
                errors.append(FieldError(f.path, str(exc)))
                return MISSING
        out: dict[str, Any] = {}
        for child in f.children:
            value = _assemble(child, raw, errors)
            if value is not MISSING:
                out[child.name] = value
        if not out and not f.required and f.path:
            return MISSING
        return out
    if f.kind == "union":
        chosen = raw.get((*f.path, VARIANT), 0)
        try:
            index = int(chosen)
        except (TypeError, ValueError):
            index = 0
        if not f.variants or not 0 <= index < len(f.variants):
            errors.append(FieldError(f.path, "choose one of the alternatives"))
            return MISSING
        return _assemble(f.variants[index], raw, errors)
    if f.kind == "const":
        return f.const if f.required or raw.get(f.path) not in (None, False, "") else MISSING
    value = raw.get(f.path, MISSING)
    if f.kind == "boolean" and isinstance(value, bool):
        return value if (value or f.required or f.has_default) else MISSING
    if _is_empty(value):
        return MISSING  # left out: `required` is reported by validation, on this field
    try:
        return _parse_array(f, value) if f.kind == "array" else parse_scalar(f, value)
    except ValueError as exc:
        errors.append(FieldError(f.path, str(exc)))
        return MISSING


def initial_raw(form: FormField) -> dict[Path, Any]:
    """Inputs pre-filled from defaults (and from const values)."""
    raw: dict[Path, Any] = {}
    for f in _leaves(form):
        if f.has_default and f.default is not None:  # a null default is the server's: leave the field empty
            default = f.default
            if f.kind == "boolean":
                raw[f.path] = bool(default)
            elif f.kind == "string" and isinstance(default, str):
                raw[f.path] = default
            elif f.kind == "array" and isinstance(default, list) and f.item is not None and f.item.kind == "string":
                raw[f.path] = ", ".join(str(v) for v in default)
            else:
                raw[f.path] = json.dumps(default)
    return raw


def _leaves(f: FormField) -> list[FormField]:
    if f.kind == "object":
        return [leaf for child in f.children for leaf in _leaves(child)]
    if f.kind == "union":
        return [leaf for v in f.variants for leaf in _leaves(v)]
    return [f]


# ---------------------------------------------------------------------------- validation
def validate_arguments(schema: Mapping[str, Any] | None, arguments: Any) -> list[FieldError]:
    """JSON Schema 2020-12 errors, each with the path of the field it belongs to."""
    from jsonschema.exceptions import SchemaError

    if not schema:
        return []
    try:
        validator = _validator(json.dumps(schema, sort_keys=True))
    except SchemaError as exc:
        return [FieldError((), f"the tool's inputSchema is invalid: {exc.message}")]
    found: list[FieldError] = []
    for error in sorted(validator.iter_errors(arguments), key=lambda e: list(map(str, e.absolute_path))):
        path: Path = tuple(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, Mapping):
            for name in error.validator_value:
                if name not in error.instance:
                    found.append(FieldError((*path, name), "required"))
            continue
        if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
            allowed = set((error.schema or {}).get("properties", {}))
            extras = [k for k in error.instance if k not in allowed]
            for name in extras:
                found.append(FieldError((*path, name), f"{name!r} is not a declared argument"))
            if extras:
                continue
        found.append(FieldError(path, error.message))
    return found


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> Any:
    """One checked validator per schema: checking a schema against the meta-schema costs far more than
    validating arguments, and the console validates the same tool's arguments again and again."""
    from jsonschema import Draft202012Validator

    schema = json.loads(schema_json)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check_schema(schema: Any) -> str | None:
    """Why a tool's input/output schema is not a valid 2020-12 schema (None when it is)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, Mapping):
        return "not a JSON object"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return exc.message
    return None
