"""``tools/`` and ``connections/{id}/operations/``: shapes, filters, formats, permission matrix,
query counts and bad input."""

from __future__ import annotations

import json

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from accesscontrol.models import MethodRight, MethodRightGroupObjectPermission, MethodRightUserObjectPermission
from accesscontrol.services import connection_access_define, method_rights_update
from tests.accesscontrol.factories import make_connection, make_connector, make_operation
from tests.factories import make_user

pytestmark = pytest.mark.django_db

TOOLS = "/api/v1/tools/"


def rights_url(connection_id):
    return f"/api/v1/connections/{connection_id}/operations/"


@pytest.fixture
def setup(org, designer, member):
    connector = make_connector(org, name="CRM")
    get = make_operation(
        connector, method="GET", name="listContacts", tags=["contacts"], summary="List contacts",
        input_schema={"type": "object", "properties": {"limit": {"type": "integer"}}},
    )
    post = make_operation(connector, method="POST", name="createContact", tags=["contacts"])
    delete = make_operation(connector, method="DELETE", name="deleteNote", tags=["notes"], input_schema={})
    connection = make_connection(connector, designer, name="Main CRM")
    connection_access_define(connection=connection, level="company", actor=designer)
    method_rights_update(
        connection=connection,
        actor=designer,
        changes=[{"operation": delete.pk, "principals": [f"group:{org.members_group_id}"]}],
    )
    return connection, get, post, delete


def test_tools_lists_what_the_caller_may_call(setup, member, api_client):
    connection, _get, _post, _delete = setup
    response = api_client(member).get(TOOLS)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    tools = response.json()
    assert [t["name"] for t in tools] == [f"c{connection.pk}__deleteNote", f"c{connection.pk}__listContacts"]
    listing = tools[1]
    assert listing["input_schema"] == {"type": "object", "properties": {"limit": {"type": "integer"}}}
    assert listing["requires_confirmation"] is False
    assert listing["connection"] == {
        "id": connection.pk, "name": "Main CRM", "connector_id": connection.connector_id, "connector_name": "CRM"
    }
    assert listing["method"] == "GET" and listing["tags"] == ["contacts"]
    assert listing["description"].startswith("List contacts")
    assert tools[0]["requires_confirmation"] is True
    assert tools[0]["input_schema"] == {"type": "object", "properties": {}}


def test_filters_keep_names_stable(setup, member, api_client, org, designer):
    connection, _get, _post, _delete = setup
    other = make_connection(connection.connector, designer, name="Second")
    connection_access_define(connection=other, level="company", actor=designer)
    client = api_client(member)
    everything = {t["name"] for t in client.get(TOOLS).json()}
    assert len(everything) == 3  # the new connection has the defaults: its DELETE is off
    by_connection = {t["name"] for t in client.get(TOOLS, {"connection": other.pk}).json()}
    assert by_connection == {f"c{other.pk}__listContacts"}
    by_tag = {t["name"] for t in client.get(TOOLS, {"tag": "CONTACTS"}).json()}
    assert by_tag == {f"c{connection.pk}__listContacts", f"c{other.pk}__listContacts"}
    by_query = {t["name"] for t in client.get(TOOLS, {"q": "second"}).json()}
    assert by_query == {f"c{other.pk}__listContacts"}
    assert {t["name"] for t in client.get(TOOLS, {"q": "note"}).json()} == {f"c{connection.pk}__deleteNote"}
    assert by_connection | by_tag | by_query <= everything


def test_openai_and_mcp_formats(setup, member, api_client):
    connection, _get, _post, _delete = setup
    client = api_client(member)
    openai = client.get(TOOLS, {"format": "openai"})
    assert openai.status_code == 200
    assert openai.json()[1] == {
        "type": "function",
        "function": {
            "name": f"c{connection.pk}__listContacts",
            "description": openai.json()[1]["function"]["description"],
            "parameters": {"type": "object", "properties": {"limit": {"type": "integer"}}},
        },
    }
    mcp = client.get(TOOLS, {"format": "mcp", "tag": "notes"})
    assert mcp.status_code == 200
    (tool,) = mcp.json()["tools"]
    assert tool["name"] == f"c{connection.pk}__deleteNote"
    assert tool["inputSchema"] == {"type": "object", "properties": {}}
    assert tool["annotations"]["readOnlyHint"] is False
    assert tool["annotations"]["destructiveHint"] is True
    assert tool["annotations"]["idempotentHint"] is True
    read = client.get(TOOLS, {"format": "mcp", "tag": "contacts"}).json()["tools"][0]["annotations"]
    assert read["readOnlyHint"] is True and read["destructiveHint"] is False
    assert client.get(TOOLS, {"format": "xml"}).status_code == 404


def test_tools_permission_matrix(setup, anon_client, api_client, outsider, org, platform_admin):
    assert anon_client.get(TOOLS).status_code == 401
    body = anon_client.get(TOOLS, {"format": "openai"})
    assert body.status_code == 401 and "message" in body.json()
    # Nobody sees tools that are not granted: other organisation, a superuser of no organisation.
    superuser = make_user(None, is_superuser=True, is_staff=True, is_platform_admin=True)
    for user in (outsider, superuser):
        assert api_client(user).get(TOOLS).json() == []
    # The platform administrator is a member of org: they get what the company group got.
    assert [t["method"] for t in api_client(platform_admin).get(TOOLS).json()] == ["DELETE", "GET"]


@pytest.mark.parametrize(
    "params",
    [{"connection": "abc"}, {"connection": "-1"}, {"tag": "x" * 201}, {"q": "q" * 201}, {"connection": "9" * 30}],
)
def test_tools_bad_filters(setup, member, api_client, params):
    response = api_client(member).get(TOOLS, params)
    assert response.status_code == 400
    assert set(response.json()["errors"]) <= {"connection", "tag", "q"}


def test_tools_hostile_query_is_just_text(setup, member, api_client):
    response = api_client(member).get(TOOLS, {"q": "'; DROP TABLE accesscontrol_methodright; --", "tag": "%"})
    assert response.status_code == 200 and response.json() == []
    assert MethodRight.objects.exists()


def _count_tools_queries(client, **params) -> int:
    with CaptureQueriesContext(db_connection) as ctx:
        assert client.get(TOOLS, params).status_code == 200
    return len(ctx.captured_queries)


def test_tools_query_count_does_not_grow(org, designer, member, api_client, django_assert_max_num_queries):
    client = api_client(member)
    client.get(TOOLS)  # the API key's last_used_at is written on first use
    counts = []
    for _ in range(2):
        for _ in range(10):
            connector = make_connector(org, operations=["GET", "GET", "POST", "GET"])
            connection_access_define(connection=make_connection(connector, designer), level="company", actor=designer)
        counts.append((_count_tools_queries(client), _count_tools_queries(client, format="openai")))
    assert counts[0] == counts[1]
    assert len(client.get(TOOLS).json()) == 60
    with django_assert_max_num_queries(4):
        client.get(TOOLS, {"format": "mcp"})


# --- connections/{id}/operations/ ----------------------------------------------------------------


def test_rights_permission_matrix(setup, anon_client, api_client, org, designer, member, outsider, platform_admin):
    connection, *_ = setup
    url = rights_url(connection.pk)
    body = {"changes": [{"operation": setup[2].pk, "principals": ["creator"]}]}
    stranger = make_user(org)  # same organisation, not granted: individuals would hide it
    private = make_connection(connection.connector, designer, name="Private")
    connection_access_define(connection=private, level="individuals", users=[designer], actor=designer)
    assert anon_client.get(url).status_code == 401
    assert anon_client.put(url, body, format="json").status_code == 401
    # Granted but neither creator nor platform administrator: sees the connection, may not edit.
    assert api_client(member).get(url).status_code == 403
    assert api_client(member).put(url, body, format="json").status_code == 403
    other_designer = make_user(org, is_designer=True)
    assert api_client(other_designer).put(url, body, format="json").status_code == 403
    # Hidden: not granted at all, other organisation, unknown id.
    assert api_client(stranger).get(rights_url(private.pk)).status_code == 404
    assert api_client(outsider).get(url).status_code == 404
    assert api_client(outsider).put(url, body, format="json").status_code == 404
    assert api_client(designer).get(rights_url(999999)).status_code == 404
    # Permitted: the creating designer and platform administrators.
    assert api_client(designer).get(url).status_code == 200
    assert api_client(platform_admin).get(rights_url(private.pk)).status_code == 200
    response = api_client(designer).put(url, body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["changed"] == 1


def test_another_organisations_administrator_cannot_see_or_change_method_rights(setup, api_client, other_org, member):
    """Issue finding: a platform administrator of B got 200 on A's rights document (A's connection,
    group names and usernames) and could switch confirmation off for A's users."""
    connection, _get, post, _delete = setup
    method_rights_update(connection=connection, actor=connection.created_by, changes=[
        {"operation": post.pk, "principals": [f"group:{connection.organisation.members_group_id}"],
         "requires_confirmation": True}])
    foreign_admin = make_user(other_org, is_platform_admin=True, is_designer=True)
    client = api_client(foreign_admin)
    response = client.get(rights_url(connection.pk))
    assert response.status_code == 404
    assert connection.name not in response.content.decode() and member.username not in response.content.decode()
    body = {"changes": [{"operation": post.pk, "requires_confirmation": False}]}
    assert client.put(rights_url(connection.pk), body, format="json").status_code == 404
    assert MethodRight.objects.get(connection=connection, operation=post).requires_confirmation is True


def test_rights_document_and_update(setup, api_client, designer, org, member):
    connection, _get, post, _delete = setup
    client = api_client(designer)
    doc = client.get(rights_url(connection.pk)).json()
    company = f"group:{org.members_group_id}"
    assert doc["access"]["level"] == "company"
    assert [p["key"] for p in doc["principals"]] == [company, f"user:{designer.pk}"]
    rows = {row["name"]: row for row in doc["operations"]}
    assert rows["listContacts"]["principals"] == [company, f"user:{designer.pk}"]
    assert rows["createContact"] == {**rows["createContact"], "principals": [], "requires_confirmation": True}
    response = client.put(
        rights_url(connection.pk),
        {
            "changes": [{"operation": post.pk, "principals": [company], "requires_confirmation": False}],
            "bulk": [{"method": "GET", "allow_principals": ["creator"]}],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    rows = {row["name"]: row for row in response.json()["operations"]}
    assert rows["createContact"]["principals"] == [company]
    assert rows["createContact"]["requires_confirmation"] is False
    assert rows["listContacts"]["principals"] == [f"user:{designer.pk}"]
    assert {t["method"] for t in api_client(member).get(TOOLS).json()} == {"POST", "DELETE"}
    only_get = client.get(rights_url(connection.pk), {"method": "get"}).json()["operations"]
    assert [r["name"] for r in only_get] == ["listContacts"]


def _perm_snapshot():
    return (
        sorted(MethodRight.objects.values_list("id", "requires_confirmation")),
        sorted(MethodRightGroupObjectPermission.objects.values_list("group_id", "content_object_id")),
        sorted(MethodRightUserObjectPermission.objects.values_list("user_id", "content_object_id")),
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "changes"),
        ([], "non_field_errors"),
        ("text", "non_field_errors"),
        ({"changes": "all"}, "changes"),
        ({"changes": [{"operation": "FOREIGN", "principals": ["creator"]}]}, "changes.0.operation"),
        ({"changes": [{"operation": "POST", "principals": ["user:1; drop"]}]}, "changes.0.principals"),
        ({"changes": [{"operation": "POST", "principals": ["creator"], "requires_confirmation": "no"}]},
         "changes.0.requires_confirmation"),
        ({"changes": [{"operation": "POST", "principals": ["x" * 10000]}]}, "changes.0.principals"),
        ({"bulk": [{"method": "BREW", "allow_principals": []}]}, "bulk.0.method"),
        ({"bulk": [{"tag": "contacts", "allow_principals": ["group:0"]}]}, "bulk.0.allow_principals"),
        ({"bulk": [{"tag": "contacts", "evil": True}]}, "bulk.0"),
        ({"bulk": "GET"}, "bulk"),
        ({"changes": [{"operation": "POST", "principals": ["creator"]}], "level": "individuals"}, "level"),
    ],
)
def test_rights_bad_input_changes_nothing(setup, api_client, designer, org, body, field):
    connection, _get, post, _delete = setup
    foreign = make_operation(make_connector(org))
    text = json.dumps(body).replace('"FOREIGN"', str(foreign.pk)).replace('"POST"', str(post.pk))
    before = _perm_snapshot()
    response = api_client(designer).put(rights_url(connection.pk), text, content_type="application/json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"], response.json()
    assert _perm_snapshot() == before


def test_rights_malformed_json(setup, api_client, designer):
    connection, *_ = setup
    response = api_client(designer).put(rights_url(connection.pk), "{not json", content_type="application/json")
    assert response.status_code == 400


def test_rights_get_query_count_does_not_grow(org, designer, api_client, django_assert_max_num_queries):
    connector = make_connector(org)
    connection = make_connection(connector, designer)
    members = [make_user(org) for _ in range(3)]
    connection_access_define(connection=connection, level="individuals", users=members, actor=designer)
    client = api_client(designer)
    client.get(rights_url(connection.pk))
    counts = []
    for n in (5, 40):
        for _ in range(n):
            make_operation(connector, method="GET")
        with CaptureQueriesContext(db_connection) as ctx:
            response = client.get(rights_url(connection.pk))
        counts.append(len(ctx.captured_queries))
        assert response.status_code == 200
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(10):
        client.get(rights_url(connection.pk))


def test_schema_describes_the_endpoints(anon_client):
    response = anon_client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert "/api/v1/tools/" in paths
    assert set(paths["/api/v1/connections/{id}/operations/"]) >= {"get", "put"}
    params = {p["name"] for p in paths["/api/v1/tools/"]["get"]["parameters"]}
    assert {"connection", "tag", "q", "format"} <= params
