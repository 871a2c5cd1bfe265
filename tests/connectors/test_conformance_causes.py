"""The seven causes of requests a real API would refuse, found by calling every tool of ten published
specifications against an upstream that validated what it received; one test (or a few) each.

1. deepObject arrays were refused; 2. empty values were sent; 3. ``nullable`` without a type let
``null`` through; 4. unknown arguments were dropped silently; 5. methods no credential can meet were
offered; 6. two schemes in one header overwrote each other; 7. messages lost their meaning.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import pytest

from accesscontrol.selectors import tool_callable_by, tool_list_for
from connections.secrets import call_secrets, credentials_apply
from connections.services import connection_create, credential_create
from connectors.openapi import parse_schema
from connectors.openapi.request import RequestBuildError, build_request
from connectors.services import connector_create_from_openapi
from integrations_platform.errors import ApplicationError
from invocations.services import arguments_validate

OK = {"200": {"description": "OK"}}


def document(paths, version="3.0.3", **extra):
    return {"openapi": version, "info": {"title": "T", "version": "1"}, "servers": [{"url": "https://api.example"}],
            "paths": paths, **extra}


def parsed_op(paths, name, **extra):
    result = parse_schema(json.dumps(document(paths, **extra)))
    return next(op for op in result.operations if op.name == name), result


def build(op, arguments):
    return build_request(
        method=op.method, path=op.path, base_url="https://api.example", arguments=arguments,
        parameters=op.parameters, request_body=op.request_body,
    )


def accepts(op, arguments) -> bool:
    return jsonschema.Draft202012Validator(op.input_schema).is_valid(arguments)


def query(request) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(request.url).query, keep_blank_values=True)


# --- 1. deepObject arrays --------------------------------------------------------------------------

STRIPE_LIKE = {
    "/v1/customers": {
        "get": {
            "operationId": "GetCustomers",
            "parameters": [
                {"name": "expand", "in": "query", "style": "deepObject", "explode": True,
                 "schema": {"type": "array", "items": {"type": "string", "maxLength": 5000}}},
                {"name": "created", "in": "query", "style": "deepObject", "explode": True,
                 "schema": {"anyOf": [{"type": "object", "properties": {"gt": {"type": "integer"}}},
                                      {"type": "integer"}]}},
            ],
            "responses": OK,
        },
        "post": {
            "operationId": "PostCustomers",
            "requestBody": {"content": {"application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {
                    "expand": {"type": "array", "items": {"type": "string"}},
                    "address": {"type": "object", "properties": {
                        "city": {"type": "string"}, "lines": {"type": "array", "items": {"type": "string"}}}},
                    "name": {"type": "string"},
                }},
                "encoding": {"expand": {"style": "deepObject", "explode": True},
                             "address": {"style": "deepObject", "explode": True}},
            }}},
            "responses": OK,
        },
    }
}


def test_1_deep_object_arrays_are_sent_as_the_api_reads_them():
    op, _ = parsed_op(STRIPE_LIKE, "GetCustomers")
    assert accepts(op, {"expand": ["data.default_source", "data.invoice"]})
    request = build(op, {"expand": ["data.default_source", "data.invoice"], "created": {"gt": 5}})
    assert query(request) == [("expand[0]", "data.default_source"), ("expand[1]", "data.invoice"), ("created[gt]", "5")]
    # A value that is either a number or an object: the number goes as form style does.
    assert query(build(op, {"created": 1700000000})) == [("created", "1700000000")]
    # An empty list is an undefined value: left out, never refused.
    assert query(build(op, {"expand": []})) == []


def test_1_deep_object_form_bodies_nest_brackets():
    op, _ = parsed_op(STRIPE_LIKE, "PostCustomers")
    request = build(op, {"body": {"expand": ["a"], "address": {"city": "Oslo", "lines": ["1", "2"]}, "name": "N"}})
    assert parse_qsl(request.body.decode()) == [
        ("expand[0]", "a"), ("address[city]", "Oslo"), ("address[lines][0]", "1"), ("address[lines][1]", "2"),
        ("name", "N"),
    ]
    # A key of a deepObject map is never empty nor holds a bracket ("a[]" would read as a list).
    assert not accepts(op, {"body": {"address": {"": "x"}}})
    assert not accepts(op, {"body": {"address": {"a]b": "x"}}})


# --- 2. empty values -----------------------------------------------------------------------------------

EMPTIES = {
    "/events": {
        "get": {
            "operationId": "listEvents",
            "parameters": [
                {"name": "events", "in": "query", "schema": {"type": "string"}},
                {"name": "cursor", "in": "query", "allowEmptyValue": True, "schema": {"type": "string"}},
                {"name": "fields", "in": "query", "explode": False,
                 "schema": {"type": "array", "items": {"type": "string"}}},
                {"name": "tags", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
                {"name": "words", "in": "query", "style": "spaceDelimited", "explode": False,
                 "schema": {"type": "array", "items": {"type": "string"}}},
                {"name": "ids", "in": "query", "style": "pipeDelimited", "explode": False, "required": True,
                 "schema": {"type": "array", "items": {"type": "integer"}}},
                {"name": "X-Names", "in": "header", "schema": {"type": "array", "items": {"type": "string"}}},
                {"name": "prefs", "in": "cookie", "schema": {"type": "object"}},
            ],
            "responses": OK,
        }
    },
    "/users/{login}": {
        "get": {"operationId": "getUser", "parameters": [{"name": "login", "in": "path", "required": True,
                                                          "schema": {"type": "string"}}], "responses": OK}
    },
}


def test_2_an_empty_string_is_refused_unless_the_parameter_allows_empty_values():
    op, _ = parsed_op(EMPTIES, "listEvents")
    assert not accepts(op, {"ids": [1], "events": ""})
    assert accepts(op, {"ids": [1], "cursor": ""})
    assert ("cursor", "") in query(build(op, {"ids": [1], "cursor": ""}))


def test_2_empty_lists_and_objects_are_left_out_in_every_style():
    op, _ = parsed_op(EMPTIES, "listEvents")
    arguments = {"ids": [1], "fields": [], "tags": [], "words": [], "X-Names": [], "prefs": {}}
    assert accepts(op, arguments)
    request = build(op, arguments)
    assert query(request) == [("ids", "1")]
    assert "X-Names" not in request.headers and not request.cookies
    # A required list is never empty: left out, the required parameter would be missing.
    assert not accepts(op, {"ids": []})
    with pytest.raises(RequestBuildError) as info:
        build(op, {"ids": []})
    assert info.value.errors == {"arguments.ids": ["this argument cannot be empty"]}


def test_2_a_path_value_is_never_empty():
    op, _ = parsed_op(EMPTIES, "getUser")
    assert not accepts(op, {"login": ""})
    assert not accepts(op, {"login": ".."})
    assert not accepts(op, {"login": "a\nb"})
    assert accepts(op, {"login": "octo cat"})


def test_2_swagger_collection_formats_leave_empty_lists_out():
    swagger = {"swagger": "2.0", "info": {"title": "T", "version": "1"}, "host": "api.example", "paths": {
        "/pets": {"get": {"operationId": "find", "parameters": [
            {"name": "multi", "in": "query", "type": "array", "items": {"type": "string"}, "collectionFormat": "multi"},
            {"name": "csv", "in": "query", "type": "array", "items": {"type": "string"}},
            {"name": "status", "in": "query", "required": True, "type": "array", "items": {"type": "string"}},
        ], "responses": OK}}}}
    op = parse_schema(json.dumps(swagger)).operations[0]
    assert query(build(op, {"multi": [], "csv": [], "status": ["a", "b"]})) == [("status", "a,b")]
    assert not accepts(op, {"status": []})


# --- 3. nullable follows the declared version ------------------------------------------------------


def test_3_nullable_widens_only_a_declared_type():
    body = {"type": "object", "properties": {
        "plain": {"type": "string", "nullable": True},
        "composed": {"allOf": [{"type": "string"}], "nullable": True},
        "untyped": {"nullable": True, "enum": ["a"]},
    }}
    paths = {"/a": {"post": {"operationId": "a", "requestBody": {"content": {"application/json": {"schema": body}}},
                             "responses": OK}}}
    for version in ("3.0.0", "3.0.3"):
        op, _ = parsed_op(paths, "a", version=version)
        assert accepts(op, {"body": {"plain": None}})
        assert not accepts(op, {"body": {"composed": None}})
        assert not accepts(op, {"body": {"untyped": None}})
    # OpenAPI 3.1 has no nullable at all: a type list says it.
    op, _ = parsed_op(paths, "a", version="3.1.0")
    assert not accepts(op, {"body": {"plain": None}})


def test_3_a_null_argument_is_left_out_never_sent_as_an_empty_value():
    paths = {"/a": {"get": {"operationId": "a", "parameters": [
        {"name": "q", "in": "query", "schema": {"type": "string", "nullable": True}}], "responses": OK}}}
    op, _ = parsed_op(paths, "a")
    assert accepts(op, {"q": None})
    assert build(op, {"q": None}).url == "https://api.example/a"


# --- 4. unknown arguments are refused by name --------------------------------------------------


def test_4_unknown_arguments_are_refused_naming_each_one():
    paths = {"/a/{id}": {"post": {"operationId": "a", "parameters": [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer"}}],
        "requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"name": {"type": "string"}}, "additionalProperties": False}}}},
        "responses": OK}}}
    op, _ = parsed_op(paths, "a")
    assert op.input_schema["additionalProperties"] is False
    with pytest.raises(ApplicationError) as info:
        arguments_validate(operation=SimpleNamespace(input_schema=op.input_schema),
                           arguments={"id": "1", "limt": 5, "Limit": 6, "body": {"name": "n", "nmae": "x"}})
    errors = info.value.field_errors
    assert set(errors) == {"arguments.limt", "arguments.Limit", "arguments.body.nmae"}
    assert errors["arguments.limt"] == ["This argument is not known. Known: body, id, limit."]


# --- 5. methods no credential can meet -----------------------------------------------------------

PETSTORE_LIKE = document(
    {
        "/pet/findByTags": {"get": {"operationId": "findPetsByTags", "security": [{"petstore_auth": ["read:pets"]}],
                                    "responses": OK}},
        "/pet/{id}": {"get": {"operationId": "getPetById", "security": [{"api_key": []}, {"petstore_auth": []}],
                              "parameters": [{"name": "id", "in": "path", "required": True,
                                              "schema": {"type": "integer"}}], "responses": OK}},
        "/store": {"get": {"operationId": "getInventory", "security": [{"nowhere": []}], "responses": OK}},
    },
    components={"securitySchemes": {
        "petstore_auth": {"type": "oauth2", "flows": {"implicit": {"authorizationUrl": "https://a.example/auth",
                                                                   "scopes": {"read:pets": "r"}}}},
        "api_key": {"type": "apiKey", "in": "header", "name": "api_key"},
    }},
)


def test_5_a_method_no_supported_credential_can_meet_is_marked_at_import():
    result = parse_schema(json.dumps(PETSTORE_LIKE))
    reasons = {op.name: op.unusable_reason for op in result.operations}
    assert "petstore_auth is not supported (OAuth2 flow 'implicit' is not supported)" in reasons["findPetsByTags"]
    assert reasons["getPetById"] == ""  # its API key alternative can be met
    assert "nowhere is not defined in the schema's security schemes" in reasons["getInventory"]
    assert any("1 method can never be called (GET /pet/findByTags)" in w for w in result.warnings)


@pytest.mark.django_db
def test_5_an_unusable_method_is_stored_so_and_never_offered_as_a_tool(org, platform_admin, member):
    connector, version = connector_create_from_openapi(
        organisation=org, name="Pets", base_url="https://pets.example", schema_text=json.dumps(PETSTORE_LIKE),
        acknowledged=True, created_by=platform_admin,
    )
    find = connector.operations.get(name="findPetsByTags")
    assert not find.usable and "implicit" in find.unusable_reason
    assert any("can never be called" in w for w in version.warnings)
    # Every GET is open to the whole company by default: only the usable one is offered.
    connection = connection_create(connector=connector, organisation=org, name="main", created_by=platform_admin)
    assert {tool.operation_name for tool in tool_list_for(user=member)} == {"getPetById"}
    with pytest.raises(ApplicationError) as info:
        tool_callable_by(user=member, connection=connection, operation=find)
    assert info.value.code == "method_unusable" and "implicit" in info.value.message


# --- 6. two schemes in one header ---------------------------------------------------------------

BASIC_AND_BEARER = document(
    {
        "/both": {"get": {"operationId": "both", "security": [{"basic": [], "bearer": []}], "responses": OK}},
        "/either": {"get": {"operationId": "either", "security": [{"basic": [], "bearer": []}, {"key": []}],
                            "responses": OK}},
    },
    components={"securitySchemes": {"basic": {"type": "http", "scheme": "basic"},
                                    "bearer": {"type": "http", "scheme": "bearer"},
                                    "key": {"type": "apiKey", "in": "query", "name": "key"}}},
)


def test_6_basic_and_bearer_together_are_refused_at_import():
    result = parse_schema(json.dumps(BASIC_AND_BEARER))
    reasons = {op.name: op.unusable_reason for op in result.operations}
    assert "basic and bearer both need the Authorization header" in reasons["both"]
    assert reasons["either"] == ""
    assert any(w.startswith("A security requirement can never be met: basic and bearer both need the "
                            "Authorization header") for w in result.warnings)


@pytest.mark.django_db
def test_6_two_credentials_for_one_header_are_refused_never_overwritten(org, platform_admin):
    connector, _ = connector_create_from_openapi(
        organisation=org, name="Both", base_url="https://both.example", schema_text=json.dumps(BASIC_AND_BEARER),
        acknowledged=True, created_by=platform_admin,
    )
    basic = credential_create(organisation=org, name="b", kind="http_basic", config={"username": "u"},
                              secret={"password": "p"}, created_by=platform_admin)
    bearer = credential_create(organisation=org, name="t", kind="http_bearer", secret={"token": "tok"},
                               created_by=platform_admin)
    connection = connection_create(connector=connector, organisation=org, name="main", created_by=platform_admin,
                                   action_credentials=[{"ref": basic.pk}, {"ref": bearer.pk}])
    # The schemes changed by hand after the import (the reason is stored then): the call still refuses.
    call = call_secrets(connection=connection, security=[{"basic": [], "bearer": []}])
    request = build_request(method="GET", path="/x", base_url="https://both.example", arguments={})
    with pytest.raises(ApplicationError) as info:
        credentials_apply(call=call, request=request)
    assert info.value.code == "credentials_conflict"
    assert "both need the Authorization header" in info.value.message
    assert "p" not in info.value.message.split("'")  # no secret in the message


# --- 7. messages keep their meaning -----------------------------------------------------------------


def _errors(schema, arguments) -> dict:
    with pytest.raises(ApplicationError) as info:
        arguments_validate(operation=SimpleNamespace(input_schema=schema), arguments=arguments)
    return info.value.field_errors


def test_7_a_long_value_is_described_not_echoed():
    schema = {"type": "object", "properties": {"note": {"type": "string", "maxLength": 300}}}
    value = "x" * 2790
    (message,) = _errors(schema, {"note": value})["arguments.note"]
    assert message == "Longer than 300 characters (it has 2790)."
    assert "xxxxxxxxxx" not in message


def test_7_an_enum_error_lists_the_allowed_values_and_types_are_named_in_words():
    schema = {"type": "object", "properties": {
        "state": {"type": "string", "enum": ["open", "closed", "all"]},
        "count": {"type": "integer", "minimum": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "blob": {"type": "object"},
    }}
    errors = _errors(schema, {"state": "opne", "count": 0, "tags": [], "blob": ["y" * 500]})
    assert errors["arguments.state"] == ['Must be one of: "open", "closed", "all" (it is "opne").']
    assert errors["arguments.count"] == ["Must be at least 1 (it is 0)."]
    assert errors["arguments.tags"] == ["Must not be an empty list."]
    assert errors["arguments.blob"] == ["Must be an object, not a list."]
    assert all(len(message) < 200 for messages in errors.values() for message in messages)
