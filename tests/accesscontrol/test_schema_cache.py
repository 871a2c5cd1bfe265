"""tools/ keeps input schema texts in memory by (operation, version): a re-import that changes a
method's schema must show the new schema at once, never the cached old one."""

import json

import pytest

from accesscontrol.selectors import tool_list_for
from connections.services import connection_create
from connectors.services import connector_create_from_openapi, connector_import_schema


def schema(param_type: str) -> str:
    return json.dumps(
        {
            "openapi": "3.0.3",
            "info": {"title": "T", "version": "1"},
            "paths": {
                "/items": {
                    "get": {
                        "operationId": "listItems",
                        "parameters": [{"name": "limit", "in": "query", "schema": {"type": param_type}}],
                        "responses": {"200": {"description": "ok"}},
                    }
                }
            },
        }
    )


@pytest.mark.django_db
def test_a_reimport_that_changes_a_schema_is_seen_at_once(org, platform_admin, member):
    connector, _ = connector_create_from_openapi(
        organisation=org,
        name="Items",
        base_url="https://items.example",
        schema_text=schema("integer"),
        acknowledged=True,
        created_by=platform_admin,
    )
    connection_create(connector=connector, organisation=org, name="items", created_by=platform_admin)
    (tool,) = tool_list_for(user=member)
    assert tool.input_schema["properties"]["limit"]["type"] == "integer"
    assert tool_list_for(user=member)[0].input_schema == tool.input_schema  # from the cache now

    connector_import_schema(connector=connector, schema_text=schema("string"), imported_by=platform_admin)
    (after,) = tool_list_for(user=member)
    assert after.operation_id == tool.operation_id
    assert after.input_schema["properties"]["limit"]["type"] == "string"
