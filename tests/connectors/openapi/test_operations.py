"""Operations: names, parameters of every location, bodies of every kind, security, repairs."""

import jsonschema
import pytest

from connectors.openapi import SchemaError, parse_schema

from .conftest import op, openapi3, parse, swagger2

RESPONSES = {"200": {"description": "ok"}}


def get(operation_id=None, **extra):
    operation = {"responses": RESPONSES, **extra}
    if operation_id is not None:
        operation["operationId"] = operation_id
    return {"get": operation}


def names_of(paths):
    result = parse(openapi3(paths))
    return [o.name for o in result.operations], result.warnings


def test_names_from_operation_ids_and_synthesized():
    names, warnings = names_of(
        {"/pets/{petId}/toys": {**get(), "post": {"operationId": "addToy", "responses": RESPONSES}}}
    )
    assert names == ["get_pets_petId_toys", "addToy"]
    assert warnings == []


def test_duplicate_operation_ids_get_a_suffix_with_a_warning():
    names, warnings = names_of({"/a": get("list"), "/b": get("list"), "/c": get("list")})
    assert names == ["list", "list_2", "list_3"]
    assert sum("used more than once" in w for w in warnings) == 2
    assert "at /paths/~1b/get/operationId: operationId 'list' is used more than once; named 'list_2'" in warnings


def test_non_ascii_and_unsafe_names_are_made_safe():
    names, warnings = names_of(
        {"/a": get("créer_élément"), "/b": get("repos/get-content"), "/c": get("日本語"), "/d": get("list pets!")}
    )
    assert names == ["creer_element", "repos_get-content", "get_c", "list_pets"]
    assert any("'créer_élément' is not a safe name; named 'creer_element'" in w for w in warnings)
    assert len(warnings) == 4


def test_safe_ids_keep_their_name_before_repaired_ones_take_one():
    names, _ = names_of({"/a": get("list pets"), "/b": get("list_pets")})
    assert names == ["list_pets_2", "list_pets"]


def test_long_names_are_cut_to_64_and_stay_unique():
    long_id = "x" * 100
    names, _warnings = names_of({"/a": get(long_id), "/b": get(long_id), "/c": get("y" * 64)})
    assert names[0] == "x" * 64
    assert names[1] == "x" * 62 + "_2"
    assert names[2] == "y" * 64
    assert all(len(name) <= 64 for name in names)
    assert len(set(names)) == 3


def test_synthesized_names_are_safe_for_odd_paths():
    names, _ = names_of({"/": get(), "/ä/{ü}/{id}.json": get(), "/v1/items:batchGet": get(), "/" + "seg/" * 40: get()})
    for name in names:
        assert len(name) <= 64
        assert all(c.isascii() and (c.isalnum() or c in "_-") for c in name)
    assert names[0] == "get"
    assert len(set(names)) == 4


def test_every_parameter_location_and_the_merge_of_path_and_operation_levels():
    paths = {
        "/items/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
                {"name": "X-Tenant", "in": "header", "required": True, "schema": {"type": "string"}},
            ],
            "get": {
                "operationId": "getItem",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
                    {
                        "name": "tags",
                        "in": "query",
                        "style": "pipeDelimited",
                        "schema": {"type": "array", "items": {"type": "string"}},
                    },
                    {"name": "session", "in": "cookie", "schema": {"type": "string"}},
                    {
                        "name": "id",
                        "in": "query",
                        "description": "same name, other place",
                        "schema": {"type": "string"},
                    },
                    {"name": "filter", "in": "query", "content": {"application/json": {"schema": {"type": "object"}}}},
                    {"name": "q", "in": "query", "allowReserved": True, "explode": False, "schema": {"type": "string"}},
                ],
                "responses": RESPONSES,
            },
        }
    }
    operation = parse(openapi3(paths)).operations[0]
    by_name = {(p["name"], p["in"]): p for p in operation.parameters}
    assert [(p["name"], p["in"]) for p in operation.parameters] == [
        ("id", "path"),
        ("verbose", "query"),
        ("X-Tenant", "header"),
        ("tags", "query"),
        ("session", "cookie"),
        ("id", "query"),
        ("filter", "query"),
        ("q", "query"),
    ]
    # The operation's own "id" (integer) replaced the path item's (string).
    assert operation.input_schema["properties"]["id"] == {"type": "integer"}
    assert by_name[("id", "path")] == {
        "name": "id",
        "in": "path",
        "style": "simple",
        "explode": False,
        "required": True,
        "allow_reserved": False,
        "property": "id",
    }
    assert by_name[("verbose", "query")]["style"] == "form" and by_name[("verbose", "query")]["explode"] is True
    assert by_name[("tags", "query")]["style"] == "pipeDelimited"
    assert by_name[("session", "cookie")]["style"] == "form"
    assert by_name[("X-Tenant", "header")]["style"] == "simple"
    assert by_name[("id", "query")]["property"] == "query_id"
    assert operation.input_schema["properties"]["query_id"]["description"] == "same name, other place"
    assert by_name[("filter", "query")]["content_type"] == "application/json"
    assert by_name[("q", "query")]["allow_reserved"] is True and by_name[("q", "query")]["explode"] is False
    assert operation.input_schema["required"] == ["id", "X-Tenant"]
    jsonschema.Draft202012Validator.check_schema(operation.input_schema)


def test_parameters_without_a_schema_default_to_string():
    paths = {
        "/a": {
            "get": {
                "operationId": "a",
                "parameters": [{"name": "q", "in": "query"}, {"name": "n", "in": "query", "schema": None}],
                "responses": RESPONSES,
            }
        }
    }
    result = parse(openapi3(paths))
    # A query string without allowEmptyValue is never empty (see sendable.py).
    assert result.operations[0].input_schema["properties"] == {
        "q": {"type": "string", "minLength": 1},
        "n": {"type": "string", "minLength": 1},
    }
    assert "at /paths/~1a/get/parameters/0: parameter 'q' has no schema; read as a string" in result.warnings
    assert "at /paths/~1a/get/parameters/1/schema: schema is null; removed" in result.warnings


def test_path_parameters_are_always_required():
    paths = {
        "/a/{id}": {
            "get": {
                "operationId": "a",
                "parameters": [{"name": "id", "in": "path", "required": False, "schema": {"type": "string"}}],
                "responses": RESPONSES,
            }
        }
    }
    result = parse(openapi3(paths))
    assert result.operations[0].input_schema["required"] == ["id"]
    assert any("always required" in w for w in result.warnings)


def test_repeated_required_items_are_removed_with_a_warning():
    schema = {
        "type": "object",
        "required": ["a", "a", "b"],
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
    }
    paths = {
        "/a": {
            "post": {
                "operationId": "a",
                "requestBody": {"content": {"application/json": {"schema": schema}}},
                "responses": RESPONSES,
            }
        }
    }
    result = parse(openapi3(paths))
    assert result.operations[0].input_schema["properties"]["body"]["required"] == ["a", "b"]
    assert (
        "at /paths/~1a/post/requestBody/content/application~1json/schema/required: repeated or non-text items removed"
        in result.warnings
    )


@pytest.mark.parametrize(
    ("content", "chosen", "body"),
    [
        (
            {"application/json": {"schema": {"type": "object"}}, "application/xml": {}},
            "application/json",
            {"type": "object"},
        ),
        (
            {"text/plain": {}, "application/vnd.api+json": {"schema": {"type": "array"}}},
            "application/vnd.api+json",
            {"type": "array"},
        ),
        (
            {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": {"a": {"type": "string"}}}
                }
            },
            "application/x-www-form-urlencoded",
            {"type": "object", "properties": {"a": {"type": "string"}}},
        ),
        (
            {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
                    "encoding": {"file": {"contentType": "image/png"}},
                }
            },
            "multipart/form-data",
            {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
        ),
        ({"application/octet-stream": {}}, "application/octet-stream", {"type": "string", "format": "binary"}),
        ({"text/plain": {}}, "text/plain", {"type": "string"}),
    ],
)
def test_request_bodies(content, chosen, body):
    paths = {
        "/a": {
            "post": {"operationId": "a", "requestBody": {"required": True, "content": content}, "responses": RESPONSES}
        }
    }
    operation = parse(openapi3(paths)).operations[0]
    assert operation.request_body["content_type"] == chosen
    assert operation.request_body["required"] is True
    assert operation.request_body["property"] == "body"
    assert operation.input_schema["properties"]["body"] == body
    assert operation.input_schema["required"] == ["body"]
    if chosen == "multipart/form-data":
        assert operation.request_body["encoding"] == {"file": {"contentType": "image/png"}}


def test_a_parameter_named_body_does_not_clash_with_the_body():
    paths = {
        "/a": {
            "post": {
                "operationId": "a",
                "parameters": [{"name": "body", "in": "query", "schema": {"type": "string"}}],
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": RESPONSES,
            }
        }
    }
    operation = parse(openapi3(paths)).operations[0]
    assert operation.parameters[0]["property"] == "query_body"
    assert set(operation.input_schema["properties"]) == {"query_body", "body"}


def test_openapi_30_nullable_and_exclusive_bounds():
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "nullable": True},
            "b": {"type": "integer", "minimum": 1, "exclusiveMinimum": True, "maximum": 9, "exclusiveMaximum": False},
            "c": {"allOf": [{"type": "string"}], "nullable": True},
            "d": {"type": "string", "enum": ["x"], "nullable": True},
        },
    }
    paths = {
        "/a": {
            "post": {
                "operationId": "a",
                "requestBody": {"content": {"application/json": {"schema": schema}}},
                "responses": RESPONSES,
            }
        }
    }
    body = parse(openapi3(paths)).operations[0].input_schema["properties"]["body"]["properties"]
    assert body["a"] == {"type": ["string", "null"]}
    assert body["b"] == {"type": "integer", "exclusiveMinimum": 1, "maximum": 9}
    # Without a type beside it, nullable does nothing (OpenAPI 3.0.3).
    assert body["c"] == {"allOf": [{"type": "string"}]}
    assert body["d"] == {"type": ["string", "null"], "enum": ["x", None]}


def test_openapi_31_schemas_are_kept_as_they_are():
    schema = {"type": ["string", "null"], "examples": ["a"], "const": "a"}
    paths = {
        "/a": {
            "post": {
                "operationId": "a",
                "requestBody": {"content": {"application/json": {"schema": schema}}},
                "responses": RESPONSES,
            }
        }
    }
    result = parse(openapi3(paths, version="3.1.0"))
    assert result.openapi_version == "3.1.0"
    assert result.operations[0].input_schema["properties"]["body"] == schema


def test_swagger_20_parameters_body_and_form():
    paths = {
        "/pets/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "type": "integer", "format": "int64"}],
            "put": {
                "operationId": "updatePet",
                "consumes": ["application/json"],
                "parameters": [
                    {
                        "name": "tags",
                        "in": "query",
                        "type": "array",
                        "items": {"type": "string"},
                        "collectionFormat": "multi",
                    },
                    {"name": "ids", "in": "header", "type": "array", "items": {"type": "integer"}},
                    {"name": "pet", "in": "body", "required": True, "schema": {"type": "object", "x-nullable": True}},
                ],
                "responses": RESPONSES,
            },
            "post": {
                "operationId": "uploadPhoto",
                "consumes": ["multipart/form-data"],
                "parameters": [
                    {"name": "photo", "in": "formData", "type": "file", "required": True},
                    {"name": "caption", "in": "formData", "type": "string"},
                ],
                "responses": RESPONSES,
            },
            "patch": {
                "operationId": "renamePet",
                "parameters": [{"name": "name", "in": "formData", "type": "string"}],
                "responses": RESPONSES,
            },
        }
    }
    result = parse(swagger2(paths, host="api.example.com", basePath="/v2", schemes=["https", "http"]))
    assert result.openapi_version == "2.0"
    assert result.servers == ["https://api.example.com/v2", "http://api.example.com/v2"]
    update = op(result, "updatePet")
    assert update.input_schema["properties"]["id"] == {
        "type": "integer",
        "format": "int64",
        "minimum": -(2**63),
        "maximum": 2**63 - 1,
    }
    assert update.input_schema["properties"]["body"] == {"type": ["object", "null"]}
    assert update.request_body == {
        "content_type": "application/json",
        "required": True,
        "encoding": {},
        "property": "body",
    }
    params = {p["name"]: p for p in update.parameters}
    assert (params["tags"]["style"], params["tags"]["explode"]) == ("form", True)
    assert (params["ids"]["style"], params["ids"]["explode"]) == ("simple", False)
    upload = op(result, "uploadPhoto")
    assert upload.request_body["content_type"] == "multipart/form-data"
    assert upload.input_schema["properties"]["body"] == {
        "type": "object",
        "properties": {"photo": {"type": "string", "format": "binary"}, "caption": {"type": "string"}},
        "required": ["photo"],
        "additionalProperties": False,
    }
    assert upload.input_schema["required"] == ["id", "body"]
    rename = op(result, "renamePet")
    assert rename.request_body["content_type"] == "application/x-www-form-urlencoded"
    for operation in result.operations:
        jsonschema.Draft202012Validator.check_schema(operation.input_schema)


def test_metadata_tags_deprecated_servers():
    paths = {
        "/a": {
            "servers": [{"url": "https://path.example.com"}],
            "get": {
                "operationId": "a",
                "tags": ["pets", 3],
                "summary": "S",
                "description": "D",
                "deprecated": True,
                "responses": RESPONSES,
            },
            "post": {"operationId": "b", "servers": [{"url": "https://op.example.com"}], "responses": RESPONSES},
        }
    }
    result = parse(
        openapi3(
            paths, servers=[{"url": "https://{region}.example.com/v1", "variables": {"region": {"default": "eu"}}}]
        )
    )
    a, b = result.operations
    assert (a.method, a.path, a.tags, a.summary, a.description, a.deprecated) == ("GET", "/a", ["pets"], "S", "D", True)
    assert a.servers == ["https://path.example.com"]
    assert b.servers == ["https://op.example.com"]
    assert result.servers == ["https://eu.example.com/v1"]
    assert (result.title, result.description) == ("Test API", "")


def test_security_schemes_and_requirements():
    components = {
        "securitySchemes": {
            "key": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "the key"},
            "basic": {"type": "http", "scheme": "Basic"},
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "oauth": {
                "type": "oauth2",
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": "https://a/auth",
                        "tokenUrl": "https://a/token",
                        "refreshUrl": "https://a/refresh",
                        "scopes": {"read": "Read"},
                    },
                    "clientCredentials": {"tokenUrl": "https://a/token", "scopes": {}},
                    "implicit": {"authorizationUrl": "https://a/auth", "scopes": {}},
                },
            },
            "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://a/.well-known"},
            "digest": {"type": "http", "scheme": "digest"},
        }
    }
    paths = {
        "/a": {"get": {"operationId": "a", "responses": RESPONSES}},
        "/b": {"get": {"operationId": "b", "security": [], "responses": RESPONSES}},
        "/c": {
            "get": {
                "operationId": "c",
                "security": [{"oauth": ["read"]}, {"key": [], "basic": []}],
                "responses": RESPONSES,
            }
        },
    }
    result = parse(openapi3(paths, components=components, security=[{"key": []}]))
    kinds = [(s["scheme_name"], s["kind"]) for s in result.security_schemes]
    assert kinds == [
        ("key", "api_key"),
        ("basic", "http_basic"),
        ("bearer", "http_bearer"),
        ("oauth", "oauth2_authorization_code"),
        ("oauth", "oauth2_client_credentials"),
    ]
    assert result.security_schemes[0] == {
        "scheme_name": "key",
        "kind": "api_key",
        "config": {"in": "header", "name": "X-API-Key"},
        "description": "the key",
    }
    assert result.security_schemes[3]["config"] == {
        "authorize_url": "https://a/auth",
        "token_url": "https://a/token",
        "refresh_url": "https://a/refresh",
        "scopes": {"read": "Read"},
    }
    assert any("'implicit' is not supported" in w for w in result.warnings)
    assert any("/securitySchemes/oidc" in w and "'openIdConnect' is not supported" in w for w in result.warnings)
    assert any("'digest' is not supported" in w for w in result.warnings)
    assert [o.security for o in result.operations] == [
        [{"key": []}],
        [],
        [{"oauth": ["read"]}, {"key": [], "basic": []}],
    ]


def test_no_security_declared_anywhere():
    result = parse(openapi3({"/a": get("a")}))
    assert result.operations[0].security is None
    assert result.security_schemes == []
    assert result.servers == []


def test_swagger_security_definitions():
    definitions = {
        "basic": {"type": "basic"},
        "key": {"type": "apiKey", "in": "query", "name": "api_key"},
        "code": {
            "type": "oauth2",
            "flow": "accessCode",
            "authorizationUrl": "https://a",
            "tokenUrl": "https://t",
            "scopes": {"x": "X"},
        },
        "app": {"type": "oauth2", "flow": "application", "tokenUrl": "https://t", "scopes": {}},
        "implicit": {"type": "oauth2", "flow": "implicit", "authorizationUrl": "https://a", "scopes": {}},
    }
    result = parse(swagger2({"/a": get("a")}, securityDefinitions=definitions))
    assert [s["kind"] for s in result.security_schemes] == [
        "http_basic",
        "api_key",
        "oauth2_authorization_code",
        "oauth2_client_credentials",
    ]
    assert any("'implicit' is not supported" in w for w in result.warnings)


def test_too_many_operations():
    paths = {f"/p{n}": get() for n in range(11)}
    with pytest.raises(SchemaError, match="more than the limit of 10 operations"):
        parse(openapi3(paths), max_operations=10)


def test_odd_shapes_are_skipped_with_warnings_not_crashes():
    paths = {
        "/a": {
            "get": "not an operation",
            "post": {
                "operationId": "ok",
                "parameters": [None, {"in": "query"}, {"name": "x", "in": "body?", "schema": {}}],
                "responses": RESPONSES,
            },
        },
        "/b": [],
        "/c": {
            "get": {
                "operationId": 5,
                "tags": "t",
                "security": "all",
                "requestBody": {"content": {}},
                "responses": RESPONSES,
            }
        },
    }
    result = parse(openapi3(paths))
    assert [o.name for o in result.operations] == ["ok", "get_c"]
    assert len([w for w in result.warnings if "does not follow the OpenAPI schema" not in w]) >= 6


def test_violations_of_the_official_schema_are_warnings_with_pointers():
    paths = {
        "/a": {
            "get": {
                "operationId": "a",
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}, "bogus": 1}],
            }
        }
    }
    result = parse(openapi3(paths, info={"title": 5, "version": "1"}))
    violations = [w for w in result.warnings if "does not follow the OpenAPI schema" in w]
    assert any(w.startswith("at /info/title:") for w in violations)
    assert any(w.startswith("at /paths/~1a/get") for w in violations)
    assert result.operations[0].name == "a"


def test_violations_are_capped():
    paths = {f"/p{n}": {"get": {"operationId": f"p{n}", "responses": {"200": {}}}} for n in range(300)}
    result = parse(openapi3(paths))
    violations = [w for w in result.warnings if "does not follow the OpenAPI schema" in w]
    assert len(violations) == 200
    assert result.warnings[-1] == "and 100 more violations of the official OpenAPI schema"


def test_swagger_violations():
    result = parse(swagger2({"/a": {"get": {"operationId": "a"}}}, host="bad host/"))
    assert any(w.startswith("at /host:") for w in result.warnings)
    assert any(w.startswith("at /paths/~1a/get:") for w in result.warnings)


def test_openapi_31_violations():
    result = parse(openapi3({"/a": {"get": {"operationId": "a", "parameters": [{"name": "q"}]}}}, version="3.1.0"))
    assert any(w.startswith("at /paths/~1a/get/parameters/0") for w in result.warnings)


def test_yaml_31_with_webhooks():
    text = """\
openapi: 3.1.0
info: {title: t, version: '1'}
webhooks:
  newPet: {post: {requestBody: {content: {application/json: {schema: {type: object}}}}}}
paths:
  /pets:
    get:
      operationId: listPets
      parameters: [{name: limit, in: query, schema: {type: [integer, 'null']}}]
"""
    result = parse_schema(text)
    assert [o.name for o in result.operations] == ["listPets"]
    assert result.operations[0].input_schema["properties"]["limit"] == {"type": ["integer", "null"]}


def test_invalid_schema_keywords_are_removed_with_a_warning():
    # Seen in a published description: a property written as {"type": {...a schema...}}.
    schema = {"type": "object", "properties": {"kind": {"type": {"type": "string"}}, "ok": {"type": "string"}}}
    paths = {"/a": {"post": {"operationId": "a", "requestBody": {"content": {"application/json": {"schema": schema}}}}}}
    result = parse(openapi3(paths, version="3.1.0"))
    body = result.operations[0].input_schema["properties"]["body"]
    assert body["properties"] == {"kind": {}, "ok": {"type": "string"}}
    assert any(w.startswith("at /paths/~1a/post: an input schema had 'type'") for w in result.warnings)
    jsonschema.Draft202012Validator.check_schema(result.operations[0].input_schema)
