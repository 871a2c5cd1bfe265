"""Tool names: stable, at most 64 characters, unique, and resolvable back to the method."""

from __future__ import annotations

import json
import re

import pytest

from accesscontrol.selectors import tool_resolve
from accesscontrol.services import connection_access_define
from accesscontrol.tools import Tool, parse_tool_name, tool_name
from integrations_platform.errors import ApplicationError
from tests.accesscontrol.factories import make_connection, make_connector, make_operation

SAFE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def test_short_names_are_plain():
    assert tool_name(12, "listContacts") == "c12__listContacts"
    assert parse_tool_name("c12__listContacts") == (12, "listContacts")


@pytest.mark.parametrize("connection_id", [1, 123456789, 10**17])
def test_long_names_are_truncated_with_a_digest(connection_id):
    a, b = "x" * 63 + "a", "x" * 63 + "b"
    name_a, name_b = tool_name(connection_id, a), tool_name(connection_id, b)
    assert len(name_a) == len(name_b) == 64
    assert SAFE.match(name_a) and SAFE.match(name_b)
    assert name_a != name_b
    assert parse_tool_name(name_a)[0] == connection_id


@pytest.mark.parametrize("bad", ["", "c__x", "x1__y", "c1_y", "c1__", "c1__a b", "c1__" + "a" * 80, None, 12, "c1__ä"])
def test_bad_names_do_not_parse(bad):
    assert parse_tool_name(bad) is None


def _tool(**overrides) -> Tool:
    values = {
        "connection_id": 3, "connection_name": 'Main "CRM"', "connector_id": 4, "connector_name": "CRM</script>",
        "operation_id": 5, "operation_name": "getThing", "method": "GET", "path": "/things/{id}",
        "summary": "Get a thing", "operation_description": "Line one\nline two \u2028 ünïcode",
        "deprecated_flag": 0, "confirmation_flag": 1, "method_right_id": 6, "tags_json": '["a", "b"]',
        "input_schema_json": '{"type": "object", "properties": {"id": {"type": "string"}}}',
    }
    return Tool(**{**values, **overrides})


def test_hand_written_json_is_valid_and_equals_the_dict_shape():
    tool = _tool()
    assert json.loads(tool.to_json()) == tool.as_dict()
    openai = json.loads(tool.to_openai_json())
    assert openai["function"]["parameters"] == tool.input_schema
    assert openai["function"]["description"] == tool.description
    mcp = json.loads(tool.to_mcp_json())
    assert mcp["annotations"] == tool.mcp_annotations()
    assert mcp["inputSchema"] == tool.input_schema


@pytest.mark.parametrize("schema", ["", "{}", "null", "[1]", '"text"', " {} "])
def test_missing_or_odd_schemas_become_an_empty_object_schema(schema):
    tool = _tool(input_schema_json=schema)
    assert json.loads(tool.to_json())["input_schema"] == {"type": "object", "properties": {}}


def test_description_is_bounded():
    tool = _tool(operation_description="word " * 1000)
    assert len(tool.description) <= 1024
    assert tool.description.endswith("The user must confirm each call before it runs.")


@pytest.mark.django_db
def test_resolve_finds_long_and_short_names(org, designer, member):
    connector = make_connector(org)
    long_a = make_operation(connector, name="L" * 63 + "a")
    long_b = make_operation(connector, name="L" * 63 + "b")
    short = make_operation(connector, name="short")
    post = make_operation(connector, method="POST", name="create")
    connection = make_connection(connector, designer)
    connection_access_define(connection=connection, level="company", actor=designer)
    for op in (long_a, long_b, short):
        assert tool_resolve(user=member, name=tool_name(connection.pk, op.name)).operation_id == op.pk
    with pytest.raises(ApplicationError) as err:
        tool_resolve(user=member, name=tool_name(connection.pk, post.name))
    assert err.value.code == "method_not_allowed"
    for bad in ("nonsense", f"c{connection.pk}__nothing", "c999999__short", tool_name(connection.pk, "L" * 63 + "c")):
        with pytest.raises(ApplicationError) as err:
            tool_resolve(user=member, name=bad)
        assert err.value.code in {"unknown_tool"} and err.value.status_code == 404
