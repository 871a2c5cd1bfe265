"""Reading the text: formats, syntax errors with line and column, limits and hostile input."""

import json

import pytest

from connectors.openapi import SchemaError, parse_schema

from .conftest import openapi3, parse

PETS = {"/pets": {"get": {"operationId": "listPets", "responses": {"200": {"description": "ok"}}}}}

YAML_30 = """\
openapi: 3.0.3
info:
  title: Pets
  version: "1"
paths:
  /pets:
    get:
      operationId: listPets
      responses:
        200:
          description: ok
"""


def test_json_and_yaml_give_the_same_operations():
    from_json = parse(openapi3(PETS))
    from_yaml = parse_schema(YAML_30)
    assert from_json.source_format == "json"
    assert from_yaml.source_format == "yaml"
    assert [o.name for o in from_json.operations] == [o.name for o in from_yaml.operations] == ["listPets"]
    assert from_yaml.title == "Pets"
    # YAML's integer key 200 is read as the text "200": the document stays JSON.
    assert "200" in from_yaml.document["paths"]["/pets"]["get"]["responses"]
    json.dumps(from_yaml.document)


def test_bytes_with_a_byte_order_mark():
    result = parse_schema(b"\xef\xbb\xbf" + json.dumps(openapi3(PETS)).encode())
    assert result.operations[0].name == "listPets"


def test_text_that_starts_like_json_is_read_as_json():
    # Flow-style YAML would accept this broken JSON (reading info as null); the JSON error is the useful one.
    with pytest.raises(SchemaError, match="Invalid JSON") as caught:
        parse_schema('{"openapi": "3.0.0",\n  "info": }')
    assert (caught.value.line, caught.value.column) == (2, 11)


def test_validation_does_not_change_the_document():
    document = openapi3({"/a": {"get": {"parameters": [{"name": "id", "in": "query", "schema": {"type": "integer"}}]}}})
    result = parse(document)
    assert result.document == document
    assert result.operations[0].input_schema["properties"]["id"] == {"type": "integer"}


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{"openapi": "3.0.0",\n  "info": }', 2, 11),
        ('{"openapi": "3.0.0", "paths": {,}}', 1, 32),
    ],
)
def test_invalid_json_says_line_and_column(text, line, column):
    with pytest.raises(SchemaError) as caught:
        parse_schema(text)
    assert caught.value.line == line
    assert caught.value.column == column
    assert str(caught.value).startswith(f"line {line}, column {column}: Invalid JSON")


def test_invalid_yaml_says_line_and_column():
    text = "openapi: 3.0.0\ninfo:\n  title: [unclosed\npaths: {}\n"
    with pytest.raises(SchemaError) as caught:
        parse_schema(text)
    assert caught.value.line is not None and caught.value.column is not None
    assert "Invalid YAML" in caught.value.message
    assert str(caught.value).startswith(f"line {caught.value.line}, column {caught.value.column}:")


def test_yaml_with_tabs_for_indentation():
    with pytest.raises(SchemaError) as caught:
        parse_schema("openapi: 3.0.0\npaths:\n\t/a: {}\n")
    assert caught.value.line == 3


def test_several_yaml_documents_are_refused():
    with pytest.raises(SchemaError) as caught:
        parse_schema("openapi: 3.0.0\n---\nopenapi: 3.0.0\n")
    assert caught.value.line is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("[1, 2]", "must be an object"),
        ('"just text"', "must be an object"),
        ("42", "must be an object"),
        ("null", "must be an object"),
        ("- a\n- b\n", "must be an object"),
        ("just some words", "must be an object"),
    ],
)
def test_not_an_object(text, expected):
    with pytest.raises(SchemaError, match=expected):
        parse_schema(text)


@pytest.mark.parametrize(
    ("document", "pointer", "expected"),
    [
        ({"info": {"title": "t"}, "paths": PETS}, "", "does not say its version"),
        ({"openapi": "4.0.0", "paths": PETS}, "/openapi", "'4.0.0' is not supported"),
        ({"openapi": "2.0", "paths": PETS}, "/openapi", "not supported"),
        ({"openapi": 3, "paths": PETS}, "/openapi", "not supported"),
        ({"openapi": None, "paths": PETS}, "/openapi", "not supported"),
        ({"swagger": "1.2", "paths": PETS}, "/swagger", "'1.2' is not supported"),
        ({"swagger": True, "paths": PETS}, "/swagger", "not supported"),
    ],
)
def test_unknown_or_missing_version(document, pointer, expected):
    with pytest.raises(SchemaError, match=expected) as caught:
        parse(document)
    assert caught.value.pointer == pointer


def test_yaml_number_versions_are_read_as_text():
    result = parse_schema("swagger: 2.0\ninfo: {title: t, version: '1'}\npaths: {/a: {get: {responses: {}}}}\n")
    assert result.openapi_version == "2.0"
    assert any("at /swagger:" in warning for warning in result.warnings)
    result = parse_schema("openapi: 3.1\ninfo: {title: t, version: '1'}\npaths: {/a: {get: {responses: {}}}}\n")
    assert result.openapi_version == "3.1.0"


@pytest.mark.parametrize(
    "paths",
    [{}, {"/pets": {}}, {"/pets": {"summary": "no methods", "parameters": []}}, {"x-extension": {"get": {}}}],
)
def test_nothing_to_import(paths):
    with pytest.raises(SchemaError, match="nothing to import") as caught:
        parse(openapi3(paths))
    assert caught.value.pointer == "/paths"


def test_no_paths_at_all():
    with pytest.raises(SchemaError, match="nothing to import"):
        parse({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "webhooks": {}})


def test_paths_not_an_object():
    with pytest.raises(SchemaError, match="paths must be an object"):
        parse(openapi3(["/pets"]))


def test_fifty_megabytes_are_refused_before_parsing(guard):
    text = '{"openapi": "3.0.0", "x-padding": "' + "a" * (50 * 1024 * 1024) + '"}'
    with pytest.raises(SchemaError, match="larger than the limit of 10,485,760 bytes"):
        guard(lambda: parse_schema(text))
    with pytest.raises(SchemaError, match="larger than the limit"):
        guard(lambda: parse_schema(text.encode()))


def test_the_byte_limit_counts_bytes_not_characters():
    document = openapi3(PETS)
    document["info"]["description"] = "é" * 600
    text = json.dumps(document, ensure_ascii=False)
    assert len(text) < 1000 < len(text.encode())
    with pytest.raises(SchemaError, match="larger than the limit of 1,000 bytes"):
        parse_schema(text, max_bytes=1000)
    parse_schema(text, max_bytes=2000)


def test_text_that_is_not_utf8():
    with pytest.raises(SchemaError, match="not UTF-8"):
        parse_schema(b'{"openapi": "3.0.0", "info": {"title": "\xff"}}')


def test_nan_is_not_json():
    with pytest.raises(SchemaError, match="Invalid JSON"):
        parse_schema('{"openapi": "3.0.0", "x-n": NaN}')


BILLION_LAUGHS = """\
openapi: 3.0.0
info: {title: t, version: '1'}
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
paths: {/a: {get: {responses: {}, x-i: *i}}}
"""


def test_billion_laughs_is_refused(guard):
    with pytest.raises(SchemaError, match="alias") as caught:
        guard(lambda: parse_schema(BILLION_LAUGHS))
    assert caught.value.line is not None


def test_too_many_aliases():
    text = "openapi: 3.0.0\nx-base: &x {type: string}\n" + "".join(f"x-{n}: *x\n" for n in range(20))
    with pytest.raises(SchemaError, match="more than the limit of 10 aliases"):
        parse_schema(text, max_aliases=10)


def test_a_few_aliases_are_fine():
    text = """\
openapi: 3.0.0
info: {title: t, version: '1'}
x-id: &id {name: id, in: path, required: true, schema: {type: integer}}
paths:
  /a/{id}:
    get: {operationId: getA, parameters: [*id], responses: {}}
  /b/{id}:
    get: {operationId: getB, parameters: [*id], responses: {}}
"""
    result = parse_schema(text)
    assert [o.input_schema["properties"]["id"] for o in result.operations] == [{"type": "integer"}] * 2


def test_recursive_yaml_alias_is_refused():
    with pytest.raises(SchemaError, match="refers to itself"):
        parse_schema("openapi: 3.0.0\nx-loop: &loop [*loop]\n")


@pytest.mark.parametrize("depth", [201, 5000, 100_000])
def test_deep_json_nesting_is_refused(guard, depth):
    text = '{"openapi": "3.0.0", "x": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(SchemaError, match="nested deeper than the limit of 200 levels"):
        guard(lambda: parse_schema(text))


@pytest.mark.parametrize("depth", [201, 5000, 100_000])
def test_deep_yaml_nesting_is_refused(guard, depth):
    block = "openapi: 3.0.0\nx: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(SchemaError, match="nested deeper than the limit of 200 levels"):
        guard(lambda: parse_schema(block))
    indented = "openapi: 3.0.0\nx:\n" + "".join(" " * n + f"k{n}:\n" for n in range(1, min(depth, 1000)))
    with pytest.raises(SchemaError, match="nested deeper"):
        guard(lambda: parse_schema(indented))


def test_nesting_within_the_limit_is_fine():
    document = openapi3(PETS)
    document["x-deep"] = json.loads("[" * 150 + "]" * 150)
    assert parse(document).operations


def test_yaml_dates_are_kept_as_text_with_a_warning():
    text = """\
openapi: 3.0.0
info: {title: t, version: 2021-03-04}
paths:
  /a:
    get:
      parameters:
        - {name: since, in: query, schema: {type: string, default: 2020-01-01, example: 2020-01-01T10:00:00Z}}
      responses: {}
"""
    result = parse_schema(text)
    assert result.document["info"]["version"] == "2021-03-04"
    schema = result.operations[0].input_schema["properties"]["since"]
    assert schema["default"] == "2020-01-01"
    assert schema["example"] == "2020-01-01T10:00:00Z"
    assert any(w.startswith("at /info/version: YAML read a date") for w in result.warnings)
    assert any("/parameters/0/schema/default" in w and "date" in w for w in result.warnings)
    json.dumps(result.document)


def test_yaml_oddities_become_json():
    text = """\
openapi: 3.0.0
info: {title: t, version: '1'}
x-binary: !!binary aGVsbG8=
x-set: !!set {a, b}
x-nan: .nan
x-keys: {true: yes, null: 1, 1.5: 2, 2001-01-01: 3}
paths: {/a: {get: {responses: {}}}}
"""
    result = parse_schema(text)
    document = result.document
    assert document["x-binary"] == "aGVsbG8="
    assert document["x-nan"] is None
    assert set(document["x-keys"]) == {"true", "null", "1.5", "2001-01-01"}
    json.dumps(document, allow_nan=False)
    assert any("x-binary" in w for w in result.warnings)


def test_python_tags_are_not_executed():
    with pytest.raises(SchemaError, match="Invalid YAML"):
        parse_schema("openapi: 3.0.0\nx: !!python/object/apply:os.system ['echo hacked']\n")
