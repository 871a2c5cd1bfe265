"""Output schemas: ``{status_code, headers, body}`` with the body from the 2xx JSON responses, stored
per operation and given in ``tools/`` (``outputSchema`` in ``?format=mcp``)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from accesscontrol.selectors import tool_list_for
from connections.services import connection_create
from connectors.openapi import parse_schema
from connectors.openapi.outputs import MAX_BYTES
from connectors.services import connector_create_from_openapi
from tests.conftest import api_client_for

PET = {"type": "object", "required": ["id", "name"], "properties": {
    "id": {"type": "integer", "readOnly": True}, "name": {"type": "string"},
    "secret": {"type": "string", "writeOnly": True}, "owner": {"$ref": "#/components/schemas/Owner"}}}
OWNER = {"type": "object", "properties": {"name": {"type": "string"}, "pets": {
    "type": "array", "items": {"$ref": "#/components/schemas/Pet"}}}}


def document():
    return {
        "openapi": "3.0.3", "info": {"title": "Pets", "version": "1"}, "servers": [{"url": "https://pets.example"}],
        "paths": {
            "/pets/{id}": {"get": {"operationId": "getPet", "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": {"$ref": "#/components/responses/OnePet"}, "404": {"description": "no"}}}},
            "/pets": {"post": {"operationId": "addPet",
                               "requestBody": {"content": {"application/json": {
                                   "schema": {"$ref": "#/components/schemas/Pet"}}}},
                               "responses": {"201": {"description": "made", "content": {"application/json": {
                                   "schema": {"$ref": "#/components/schemas/Pet"}}}},
                                   "204": {"description": "nothing"}}}},
        },
        "components": {"schemas": {"Pet": PET, "Owner": OWNER}, "responses": {"OnePet": {
            "description": "a pet",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}}}},
    }


def test_the_output_schema_holds_status_headers_and_the_2xx_json_body():
    result = parse_schema(json.dumps(document()))
    get = next(op for op in result.operations if op.name == "getPet").output_schema
    jsonschema.Draft202012Validator.check_schema(get)
    assert get["required"] == ["status_code", "headers", "body"]
    assert get["properties"]["status_code"] == {"type": "integer", "enum": [200]}
    assert get["properties"]["body"] == {"$ref": "#/$defs/Pet"}
    assert set(get["$defs"]) == {"Pet", "Owner"}  # a cycle, each component once
    # writeOnly properties are never in a result; readOnly ones are.
    assert set(get["$defs"]["Pet"]["properties"]) == {"id", "name", "owner"}
    valid = {"status_code": 200, "headers": {"content-type": "application/json"},
             "body": {"id": 1, "name": "Rex", "owner": {"name": "Ann", "pets": [{"id": 2, "name": "Bo"}]}}}
    assert jsonschema.Draft202012Validator(get).is_valid(valid)
    assert not jsonschema.Draft202012Validator(get).is_valid({**valid, "body": {"name": "no id"}})


def test_several_2xx_answers_and_a_body_less_one_are_any_of_them():
    result = parse_schema(json.dumps(document()))
    add = next(op for op in result.operations if op.name == "addPet")
    output = add.output_schema
    assert output["properties"]["status_code"] == {"type": "integer", "enum": [201, 204]}
    assert output["properties"]["body"] == {"anyOf": [{"$ref": "#/$defs/Pet"}, {"type": ["string", "null"]}]}
    # The request body never offers the server's readOnly id, nor needs it.
    body = add.input_schema["properties"]["body"]
    target = add.input_schema["$defs"][body["$ref"].rsplit("/", 1)[-1]] if "$ref" in body else body
    assert "id" not in target["properties"] and target["required"] == ["name"]


def test_a_far_reaching_output_schema_stays_within_its_size_and_says_what_it_left_out():
    components = {f"C{i}": {"type": "object", "properties": {"pad": {"type": "string", "description": "x" * 400},
                                                             "next": {"$ref": f"#/components/schemas/C{i + 1}"}}}
                  for i in range(200)}
    components["C200"] = {"type": "string"}
    doc = document()
    doc["components"]["schemas"].update(components)
    doc["paths"]["/far"] = {"get": {"operationId": "far", "responses": {"200": {"description": "far", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/C0"}}}}}}}
    output = next(op for op in parse_schema(json.dumps(doc)).operations if op.name == "far").output_schema
    text = json.dumps(output, separators=(",", ":"))
    assert len(text) <= MAX_BYTES
    jsonschema.Draft202012Validator.check_schema(output)
    assert "C0" in output["$defs"] and "C199" not in output["$defs"]
    assert "not described here" in text


@pytest.mark.django_db
def test_tools_give_the_output_schema_and_mcp_its_output_schema(org, platform_admin, member):
    connector, _ = connector_create_from_openapi(
        organisation=org, name="Pets", base_url="https://pets.example", schema_text=json.dumps(document()),
        acknowledged=True, created_by=platform_admin,
    )
    operation = connector.operations.get(name="getPet")
    assert operation.output_schema["properties"]["body"] == {"$ref": "#/$defs/Pet"}
    connection_create(connector=connector, organisation=org, name="main", created_by=platform_admin)
    client = api_client_for(member)
    tools = client.get("/api/v1/tools/").json()
    (tool,) = [t for t in tools if t["operation"]["name"] == "getPet"]
    assert tool["output_schema"] == operation.output_schema
    mcp = client.get("/api/v1/tools/?format=mcp").json()["tools"]
    (definition,) = [t for t in mcp if t["name"] == tool["name"]]
    assert definition["outputSchema"] == operation.output_schema
    assert definition["outputSchema"]["type"] == "object"  # MCP wants an object schema
    # From the in-memory cache the second time: the same text.
    assert tool_list_for(user=member)[0].output_schema == tools[0]["output_schema"]
