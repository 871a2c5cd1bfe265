"""The "try it" form built from an input JSON Schema, and the parsing of what comes back."""

from django.http import QueryDict

from portal.schema_form import attach_errors, build_fields, field_name_for_path, parse_arguments

SCHEMA = {
    "type": "object",
    "required": ["noteId", "body"],
    "properties": {
        "noteId": {"type": "integer", "description": "The note's number.", "minimum": 1},
        "ratio": {"type": "number"},
        "q": {"type": "string", "maxLength": 200},
        "flag": {"type": "boolean"},
        "mode": {"type": "string", "enum": ["a", "b"]},
        "ids": {"type": "array", "items": {"type": "integer"}},
        "items": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string"}}}},
        "body": {
            "type": "object",
            "required": ["title"],
            "properties": {
                "title": {"type": "string", "description": "A <b>short</b> title."},
                "pinned": {"type": "boolean"},
                "author": {"type": "object", "properties": {"name": {"type": "string"}}},
                "x.y": {"type": "string"},
            },
        },
        "free": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    },
}


def post(**values):
    data = QueryDict(mutable=True)
    for key, value in values.items():
        data[key] = value
    return data


def test_fields_follow_the_schema():
    fields = {f.label: f for f in build_fields(SCHEMA)}
    assert fields["noteId"].widget == "integer" and fields["noteId"].required
    assert fields["noteId"].help == "The note's number."
    assert fields["ratio"].widget == "number"
    assert fields["flag"].widget == "tristate"
    assert fields["mode"].widget == "select" and ("a", "a") in fields["mode"].choices
    assert fields["ids"].widget == "lines"
    assert fields["items"].widget == "json"
    assert fields["free"].widget == "json"
    body = fields["body"]
    assert body.widget == "object" and body.required
    children = {c.label: c for c in body.children}
    assert children["title"].required and children["title"].name == "a.body.title"
    assert children["author"].widget == "object"
    assert children["x.y"].name == "a.body.x%2Ey"


def test_parse_converts_types_and_leaves_out_empty_optional_fields():
    arguments, errors, _ = parse_arguments(
        SCHEMA,
        post(**{
            "a.noteId": "3", "a.ratio": "1.5", "a.flag": "false", "a.mode": "b", "a.ids": "1\n2\n\n3",
            "a.items": '[{"x": "y"}]', "a.body.title": "Hi", "a.body.author.name": "", "a.body.x%2Ey": "dot",
            "a.free": "7", "a.q": "",
        }),
    )
    assert errors == {}
    assert arguments == {
        "noteId": 3, "ratio": 1.5, "flag": False, "mode": "b", "ids": [1, 2, 3], "items": [{"x": "y"}],
        "body": {"title": "Hi", "x.y": "dot"}, "free": 7,
    }


def test_parse_reports_wrong_and_missing_values_by_field():
    _arguments, errors, fields = parse_arguments(
        SCHEMA,
        post(**{
            "a.noteId": "three", "a.ratio": "nan", "a.mode": "zzz", "a.ids": "1\nx", "a.items": "[", "a.flag": "maybe",
        }),
    )
    assert errors == {
        "a.noteId": "Enter a whole number.",
        "a.ratio": "Enter a finite number.",
        "a.mode": "Choose one of the listed values.",
        "a.ids": "Enter a whole number.",
        "a.items": "Enter valid JSON.",
        "a.flag": "Choose true or false.",
        "a.body.title": "This field is required.",
    }
    assert {f.label: f.value for f in fields}["noteId"] == "three"  # shown again to be corrected


def test_oversized_value_is_refused_and_not_echoed():
    _, errors, fields = parse_arguments(SCHEMA, post(**{"a.q": "x" * 70_000, "a.noteId": "1", "a.body.title": "t"}))
    assert "Too long" in errors["a.q"]
    assert {f.label: f.value for f in fields}["q"] == ""


def test_hostile_text_passes_through_as_text():
    arguments, errors, _ = parse_arguments(
        SCHEMA, post(**{"a.noteId": "1", "a.body.title": "<script>alert(1)</script>"})
    )
    assert errors == {} and arguments["body"]["title"] == "<script>alert(1)</script>"


def test_required_boolean_is_a_checkbox():
    schema = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}
    assert build_fields(schema)[0].widget == "checkbox"
    assert parse_arguments(schema, post())[0] == {"ok": False}
    assert parse_arguments(schema, post(**{"a.ok": "true"}))[0] == {"ok": True}


def test_service_error_paths_find_their_fields():
    fields = build_fields(SCHEMA)
    assert field_name_for_path("body.title") == "a.body.title"
    assert field_name_for_path(["ids", 3]) == "a.ids"
    left = attach_errors(fields, {"a.body.title": "Too short.", "a.body.nothing": "Odd.", "zzz": "Other."})
    body = next(f for f in fields if f.label == "body")
    assert next(c for c in body.children if c.label == "title").error == "Too short."
    assert body.error == "Odd."
    assert left == ["Other."]


def test_odd_schemas_do_not_break_the_form():
    assert build_fields(None) == []
    assert build_fields({"type": "object", "properties": {"a": "not a schema"}})[0].widget == "json"
    deep = {"type": "object", "properties": {}}
    node = deep
    for _ in range(20):
        child = {"type": "object", "properties": {}}
        node["properties"]["n"] = child
        node = child
    fields = build_fields(deep)
    assert fields  # bounded depth: the deepest level becomes a JSON field
