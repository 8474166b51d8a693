"""Schema zoo → form model → arguments → JSON Schema 2020-12 validation, errors on the right field."""

from __future__ import annotations

from aksmcp_tui.core.mcpclient.forms import (
    VARIANT,
    assemble,
    build_form,
    check_schema,
    initial_raw,
    validate_arguments,
)
from tests.mcpclient.schema_zoo import NESTED, RECURSIVE, SCALARS, ZOO


def _by_path(form):  # type: ignore[no-untyped-def]
    return {f.path: f for f in form.walk()}


def test_scalar_constructs() -> None:
    form = build_form(SCALARS)
    fields = _by_path(form)
    assert fields[("name",)].kind == "string" and fields[("name",)].required and fields[("name",)].label == "Name *"
    assert fields[("name",)].description == "Who" and "minLength 2" in fields[("name",)].hint()
    assert fields[("count",)].kind == "integer" and fields[("count",)].default == 3
    assert fields[("ratio",)].kind == "number"
    assert fields[("enabled",)].kind == "boolean"
    assert fields[("level",)].kind == "enum" and fields[("level",)].enum == ["debug", "info", "warning"]
    assert fields[("kind",)].kind == "const" and fields[("kind",)].const == "fixed"
    assert fields[("when",)].format == "date-time" and fields[("mail",)].format == "email"
    assert fields[("maybe",)].kind == "string" and fields[("maybe",)].nullable
    assert fields[("optional_num",)].kind == "number" and fields[("optional_num",)].nullable
    raw = initial_raw(form)
    assert raw[("count",)] == "3" and raw[("enabled",)] is True
    raw.update({("name",): "Al", ("ratio",): "0.5", ("level",): "info", ("maybe",): "null", ("optional_num",): "2.5"})
    args, errors = assemble(form, raw)
    assert errors == []
    assert args == {
        "name": "Al",
        "count": 3,
        "ratio": 0.5,
        "enabled": True,
        "level": "info",
        "kind": "fixed",
        "maybe": None,
        "optional_num": 2.5,
    }
    assert validate_arguments(SCALARS, args) == []


def test_field_errors_land_on_their_fields() -> None:
    form = build_form(SCALARS)
    _args, errors = assemble(form, {("count",): "three", ("level",): "verbose"})
    assert {e.path: e.message for e in errors} == {
        ("count",): "'three' is not an integer",
        ("level",): '\'verbose\' is not one of "debug", "info", "warning"',
    }
    bad = {"name": "A", "kind": "fixed", "count": 11, "ratio": 1, "mail": "not-an-email", "when": "yesterday", "x": 1}
    found = {e.path: e.message for e in validate_arguments(SCALARS, bad)}
    assert "is too short" in found[("name",)]
    assert "greater than the maximum" in found[("count",)]
    assert "greater than or equal to the maximum" in found[("ratio",)]
    assert "is not a 'email'" in found[("mail",)]
    assert "is not a 'date-time'" in found[("when",)]
    assert found[("x",)] == "'x' is not a declared argument"
    missing = validate_arguments(SCALARS, {})
    assert {e.path for e in missing} == {("name",), ("kind",)} and all(e.message == "required" for e in missing)


def test_nested_refs_unions_allof_arrays() -> None:
    form = build_form(NESTED)
    fields = _by_path(form)
    origin = fields[("origin",)]
    assert origin.kind == "object" and [c.name for c in origin.children] == ["x", "y"] and origin.required
    figure = fields[("figure",)]
    assert figure.kind == "union" and figure.variant_titles == ["Circle", "Square"]
    circle = figure.variants[0]
    assert [c.name for c in circle.children] == ["shape", "center", "r"]
    assert circle.children[1].kind == "object"  # $ref inside a branch
    label = fields[("label",)]
    assert label.kind == "union" and [v.kind for v in label.variants] == ["string", "integer"]
    meta = fields[("meta",)]
    assert meta.kind == "object" and [c.name for c in meta.children] == ["owner", "team"]
    assert meta.children[0].required and meta.children[1].default == "platform"
    assert fields[("tags",)].kind == "array" and fields[("tags",)].item.kind == "string"  # type: ignore[union-attr]
    assert fields[("points",)].item.kind == "object"  # type: ignore[union-attr]
    assert fields[("anything",)].kind == "json"
    raw = {
        ("origin", "x"): "1",
        ("origin", "y"): "2.5",
        ("figure", VARIANT): 1,
        ("figure", "corner", "x"): "0",
        ("figure", "corner", "y"): "0",
        ("figure", "side"): "4",
        ("label", VARIANT): 1,
        ("label",): "7",
        ("tags",): "a, b",
        ("points",): '[{"x": 1, "y": 2}]',
        ("meta", "owner"): "me",
        ("anything",): '{"free": [1, 2]}',
    }
    args, errors = assemble(form, raw)
    assert errors == []
    assert args == {
        "origin": {"x": 1, "y": 2.5},
        "figure": {"shape": "square", "corner": {"x": 0, "y": 0}, "side": 4},
        "label": 7,
        "tags": ["a", "b"],
        "points": [{"x": 1, "y": 2}],
        "meta": {"owner": "me"},
        "anything": {"free": [1, 2]},
    }
    assert validate_arguments(NESTED, args) == []
    wrong = {**args, "figure": {"shape": "square", "corner": {"x": "zero", "y": 0}, "side": 4}, "tags": []}
    paths = {e.path for e in validate_arguments(NESTED, wrong)}
    assert ("tags",) in paths and ("figure",) in paths  # oneOf reports on the union field
    nested_error = validate_arguments(NESTED, {**args, "origin": {"x": 1}})
    assert [(e.path, e.message) for e in nested_error] == [(("origin", "y"), "required")]


def test_bad_json_in_a_raw_field() -> None:
    form = build_form(NESTED)
    _args, errors = assemble(form, {("points",): "[{x: 1}]"})
    assert errors and errors[0].path == ("points",) and "not valid JSON" in errors[0].message


def test_recursive_schema_ends_in_a_raw_field() -> None:
    form = build_form(RECURSIVE)
    deepest = max(form.walk(), key=lambda f: len(f.path))
    assert deepest.kind == "json"
    assert len(deepest.path) < 20


def test_every_zoo_schema_is_valid_and_builds() -> None:
    for name, schema in ZOO.items():
        assert check_schema(schema) is None, name
        assert build_form(schema).kind == "object", name
    assert check_schema({"type": "object", "properties": {"a": {"type": "strin"}}}) is not None
    assert check_schema("nope") == "not a JSON object"
