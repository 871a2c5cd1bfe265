"""$ref handling: internal ones resolved everywhere, cycles kept, remote and file ones refused unread."""

import http.server
import json
import threading

import jsonschema
import pytest

from connectors.openapi import SchemaError, sendable

from .conftest import op, openapi3, parse, swagger2

COMPONENTS = {
    "schemas": {
        "Pet": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "tag": {"$ref": "#/components/schemas/Tag"}},
        },
        "Tag": {"type": "string", "enum": ["a", "b"]},
        "Cat": {"allOf": [{"$ref": "#/components/schemas/Pet"}, {"properties": {"purrs": {"type": "boolean"}}}]},
        "Dog": {"type": "object", "properties": {"barks": {"type": "boolean"}}},
        "Animal": {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}]},
        "AnyAnimal": {"anyOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}]},
        "Node": {
            "type": "object",
            "properties": {
                "value": {"type": "integer"},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                "parent": {"$ref": "#/components/schemas/Parent"},
            },
        },
        "Parent": {"type": "object", "properties": {"node": {"$ref": "#/components/schemas/Node"}}},
        "Loop": {"$ref": "#/components/schemas/Loop"},
    },
    "parameters": {
        "Limit": {"name": "limit", "in": "query", "schema": {"$ref": "#/components/schemas/Tag"}},
        "Alias": {"$ref": "#/components/parameters/Limit"},
    },
    "requestBodies": {
        "PetBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}
    },
    "responses": {
        "PetResponse": {
            "description": "ok",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
        }
    },
}


def body_op(schema, name="op"):
    return {
        "post": {
            "operationId": name,
            "requestBody": {"content": {"application/json": {"schema": schema}}},
            "responses": {"200": {"$ref": "#/components/responses/PetResponse"}},
        }
    }


def document(**paths):
    return openapi3({f"/{name}": item for name, item in paths.items()}, components=COMPONENTS)


def test_refs_in_parameters_bodies_and_nested_schemas():
    result = parse(
        document(
            pets={
                "parameters": [{"$ref": "#/components/parameters/Alias"}],
                "post": {
                    "operationId": "addPet",
                    "requestBody": {"$ref": "#/components/requestBodies/PetBody"},
                    "responses": {"200": {"$ref": "#/components/responses/PetResponse"}},
                },
            }
        )
    )
    schema = op(result, "addPet").input_schema
    assert schema == {
        "type": "object",
        "properties": {
            "limit": {"type": "string", "enum": ["a", "b"], "minLength": 1},
            "body": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "tag": {"type": "string", "enum": ["a", "b"]}},
            },
        },
        "required": ["body"],
        "additionalProperties": False,
    }
    # The stored document keeps its references (the input schemas stand alone).
    assert result.document["paths"]["/pets"]["parameters"] == [{"$ref": "#/components/parameters/Alias"}]


@pytest.mark.parametrize("keyword", ["allOf", "oneOf", "anyOf"])
def test_refs_inside_combinators(keyword):
    name = {"allOf": "Cat", "oneOf": "Animal", "anyOf": "AnyAnimal"}[keyword]
    result = parse(document(a=body_op({"$ref": f"#/components/schemas/{name}"})))
    body = result.operations[0].input_schema["properties"]["body"]
    text = json.dumps(body)
    assert "$ref" not in text
    assert '"purrs"' in text and '"tag"' in text
    if keyword != "allOf":
        assert '"barks"' in text


def test_circular_refs_are_kept_as_refs_into_defs():
    result = parse(document(tree=body_op({"$ref": "#/components/schemas/Node"})))
    schema = result.operations[0].input_schema
    body = schema["properties"]["body"]
    assert body["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert set(schema["$defs"]) == {"Node", "Parent"}
    assert schema["$defs"]["Parent"]["properties"]["node"] == {"$ref": "#/$defs/Node"}
    # Still valid JSON Schema, and usable: it validates a recursive value.
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    good = {"body": {"value": 1, "children": [{"value": 2, "children": [], "parent": {"node": {"value": 3}}}]}}
    assert not list(validator.iter_errors(good))
    bad = {"body": {"children": [{"value": "two"}]}}
    assert list(validator.iter_errors(bad))


def test_a_schema_that_references_only_itself():
    result = parse(document(loop=body_op({"$ref": "#/components/schemas/Loop"})))
    schema = result.operations[0].input_schema
    jsonschema.Draft202012Validator.check_schema(schema)
    json.dumps(schema)
    assert any("references only itself" in w for w in result.warnings)


def test_many_operations_sharing_a_cycle():
    result = parse(document(**{f"t{n}": body_op({"$ref": "#/components/schemas/Parent"}, f"op{n}") for n in range(50)}))
    assert len(result.operations) == 50
    for operation in result.operations:
        jsonschema.Draft202012Validator.check_schema(operation.input_schema)


def test_a_long_chain_of_references_is_not_nested_without_bound():
    schemas = {
        f"S{n}": {"type": "object", "properties": {"next": {"$ref": f"#/components/schemas/S{n + 1}"}}}
        for n in range(400)
    }
    schemas["S400"] = {"type": "string"}
    doc = openapi3({"/a": body_op({"$ref": "#/components/schemas/S0"})}, components={"schemas": schemas})
    schema = parse(doc).operations[0].input_schema
    json.dumps(schema)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "$defs" in schema


def test_percent_escaped_pointer():
    doc = openapi3(
        {
            "/a/{id}": {
                "get": {
                    "operationId": "a",
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                }
            },
            "/b/{id}": {
                "get": {"operationId": "b", "parameters": [{"$ref": "#/paths/~1a~1%7Bid%7D/get/parameters/0"}]}
            },
        }
    )
    result = parse(doc)
    assert op(result, "b").input_schema["properties"]["id"] == {"type": "integer"}


def test_a_ref_to_nothing_is_repaired_with_a_warning():
    result = parse(document(a=body_op({"$ref": "#/components/schemas/Missing"})))
    assert result.operations[0].input_schema["properties"]["body"] == {}
    assert any("'#/components/schemas/Missing' points to nothing" in w for w in result.warnings)


def test_swagger_definitions_and_parameters():
    doc = swagger2(
        {
            "/pets": {
                "post": {
                    "operationId": "addPet",
                    "parameters": [
                        {"$ref": "#/parameters/Trace"},
                        {"name": "pet", "in": "body", "required": True, "schema": {"$ref": "#/definitions/Pet"}},
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        definitions={"Pet": {"type": "object", "properties": {"name": {"type": "string"}}}},
        parameters={"Trace": {"name": "X-Trace", "in": "header", "type": "string"}},
    )
    schema = parse(doc).operations[0].input_schema
    assert schema["properties"]["body"] == {"type": "object", "properties": {"name": {"type": "string"}}}
    assert schema["properties"]["X-Trace"] == {"type": "string", "not": sendable.HEADER_UNSENDABLE}


@pytest.mark.parametrize(
    "ref",
    [
        "/etc/passwd",
        "file:///etc/passwd",
        "../../etc/passwd#/x",
        "other.yaml#/components/schemas/Pet",
        "http://127.0.0.1:1/schema.json",
        "https://example.com/schema.json#/Pet",
        "ftp://example.com/x",
        "//example.com/x",
    ],
)
@pytest.mark.parametrize("place", ["parameter", "body", "response", "nested", "component", "path item"])
def test_remote_and_file_refs_are_refused(ref, place):
    doc = document(a=body_op({"$ref": "#/components/schemas/Pet"}))
    operation = doc["paths"]["/a"]["post"]
    expected = {
        "parameter": "/paths/~1a/post/parameters/0",
        "body": "/paths/~1a/post/requestBody/content/application~1json/schema",
        "response": "/paths/~1a/post/responses/201",
        "nested": "/components/schemas/Pet/properties/extra/items",
        "component": "/components/schemas/External",
        "path item": "/paths/~1b",
    }[place]
    if place == "parameter":
        operation["parameters"] = [{"$ref": ref}]
    elif place == "body":
        operation["requestBody"]["content"]["application/json"]["schema"] = {"$ref": ref}
    elif place == "response":
        operation["responses"]["201"] = {"$ref": ref}
    elif place == "nested":
        doc["components"] = json.loads(json.dumps(COMPONENTS))
        doc["components"]["schemas"]["Pet"]["properties"]["extra"] = {"type": "array", "items": {"$ref": ref}}
    elif place == "component":
        doc["components"] = {**COMPONENTS, "schemas": {**COMPONENTS["schemas"], "External": {"$ref": ref}}}
    else:
        doc["paths"]["/b"] = {"$ref": ref}
    with pytest.raises(SchemaError, match="points outside the document") as caught:
        parse(doc)
    assert caught.value.pointer == expected
    assert ref in caught.value.message


def test_a_ref_in_an_example_is_data_not_a_reference():
    doc = document(a=body_op({"type": "object", "example": {"$ref": "https://json-schema.org/draft/2020-12/schema"}}))
    result = parse(doc)
    assert result.operations[0].input_schema["properties"]["body"]["example"] == {
        "$ref": "https://json-schema.org/draft/2020-12/schema"
    }


@pytest.fixture
def http_server():
    requests_seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests_seen.append(self.path)
            body = json.dumps({"type": "string"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests_seen
    server.shutdown()
    server.server_close()


def test_a_remote_ref_is_never_fetched(http_server, io_watch):
    url, requests_seen = http_server
    doc = document(a=body_op({"$ref": f"{url}/schema.json"}))
    with pytest.raises(SchemaError, match="points outside the document"):
        parse(doc)
    assert requests_seen == []
    assert not [event for event in io_watch if event[0] in ("socket.connect", "urllib.Request")]


def test_a_file_ref_is_never_read(tmp_path, io_watch):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"type": "string", "description": "SECRET-CONTENT"}))
    io_watch.clear()
    for ref in (str(secret), f"file://{secret}", f"{secret}#/description"):
        with pytest.raises(SchemaError) as caught:
            parse(document(a=body_op({"$ref": ref})))
        assert "SECRET-CONTENT" not in str(caught.value)
    opened = [str(event[1][0]) for event in io_watch if event[0] == "open"]
    assert not [path for path in opened if "secret" in path]


def test_internal_resolution_reads_no_file_and_makes_no_request(io_watch):
    parse(document(a=body_op({"$ref": "#/components/schemas/Node"})))
    opened = [str(event[1][0]) for event in io_watch if event[0] == "open"]
    assert all(
        (path.endswith((".py", ".pyc", ".json")) and "site-packages" in path) or "connectors/openapi" in path
        for path in opened
    ), opened
    assert not [event for event in io_watch if event[0] in ("socket.connect", "urllib.Request")]
