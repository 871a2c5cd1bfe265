"""The invocations API: permission matrix, bad input, confirmation, history. Nothing reaches the
upstream in these tests (tasks are sent after commit, and these tests never commit)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from invocations import adapters, services
from invocations.models import Invocation
from tests.factories import make_user

URL = "/api/v1/invocations/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def tool(make_tool):
    return make_tool(
        method="GET",
        path="/items/{id}",
        parameters=[
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}},
            {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
        ],
    )


@pytest.fixture
def post_tool(make_tool):
    return make_tool(
        method="POST",
        path="/orders",
        request_body={
            "content_type": "application/json",
            "required": True,
            "schema": {
                "type": "object",
                "required": ["items"],
                "properties": {
                    "items": {
                        "type": "array",
                        "items": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}},
                    }
                },
            },
        },
        requires_confirmation=True,
    )


def test_anonymous_gets_401(anon_client, tool):
    assert anon_client.get(URL).status_code == 401
    assert anon_client.post(URL, tool.body({"id": "1"}), format="json").status_code == 401


def test_permitted_caller_gets_a_queued_invocation(api_client, designer, tool, upstream):
    response = api_client(designer).post(URL, tool.body({"id": "a/b", "limit": 5}), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "queued"
    assert data["request"]["url"] == f"{upstream.url}/items/a%2Fb?limit=5"
    assert data["confirmation_url"] is None
    assert upstream.hits == []


def test_by_tool_name(api_client, designer, tool):
    name = adapters.tool_name_for(tool.connection, tool.operation)
    response = api_client(designer).post(URL, {"tool": name, "arguments": {"id": "1"}}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["tool"] == name


def test_member_without_the_method_right_gets_403(api_client, member, tool, upstream):
    response = api_client(member).post(URL, tool.body({"id": "1"}), format="json")
    assert response.status_code == 403
    assert Invocation.objects.count() == 0


def test_outsider_cannot_see_the_connection(api_client, outsider, tool):
    response = api_client(outsider).post(URL, tool.body({"id": "1"}), format="json")
    assert response.status_code == 400
    assert "connection" in response.json()["errors"]


def test_unknown_tool(api_client, designer, tool):
    response = api_client(designer).post(URL, {"tool": "nope__nothing", "arguments": {}}, format="json")
    assert response.status_code == 400
    assert "tool" in response.json()["errors"]


def test_someone_elses_invocation_is_404(api_client, designer, member, outsider, tool):
    invocation = services.invocation_create(
        user=designer, connection=tool.connection, operation=tool.operation, arguments={"id": "1"}
    )
    for user in (member, outsider):
        client = api_client(user)
        assert client.get(f"{URL}{invocation.pk}/").status_code == 404
        assert client.post(f"{URL}{invocation.pk}/confirm/").status_code == 404
        assert client.post(f"{URL}{invocation.pk}/reject/").status_code == 404
        assert client.get(URL).json()["results"] == []
    assert api_client(designer).get(f"{URL}{invocation.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("arguments", "path"),
    [
        ({}, "arguments.id"),
        ({"id": 5}, "arguments.id"),
        ({"id": "1", "limit": "ten"}, "arguments.limit"),
        ({"id": "1", "limit": 1000}, "arguments.limit"),
        ({"id": "1", "extra": 1}, "arguments.extra"),
        ({"id": "../admin"}, "arguments.id"),
        ({"id": "a%2Fb"}, "arguments.id"),
        ({"id": ".."}, "arguments.id"),
        ({"id": "1", "X-Trace": "a\r\nX-Admin: yes"}, "arguments.X-Trace"),
    ],
)
def test_bad_arguments_name_the_path_and_send_nothing(api_client, designer, tool, upstream, arguments, path):
    response = api_client(designer).post(URL, tool.body(arguments), format="json")
    assert response.status_code == 400, response.json()
    assert path in response.json()["errors"], response.json()
    assert Invocation.objects.count() == 0
    assert upstream.hits == []


def test_nested_body_paths_are_named(api_client, designer, post_tool):
    response = api_client(designer).post(
        URL, post_tool.body({"body": {"items": [{"id": 1}, {"id": "x"}]}}), format="json"
    )
    assert response.status_code == 400
    assert "arguments.body.items.1.id" in response.json()["errors"]
    response = api_client(designer).post(URL, post_tool.body({"body": {}}), format="json")
    assert "arguments.body.items" in response.json()["errors"]


def test_wrong_types_at_the_top(api_client, designer, tool):
    client = api_client(designer)
    assert client.post(URL, {"tool": 5, "arguments": []}, format="json").status_code == 400
    response = client.post(URL, {**tool.body(), "arguments": ["x"]}, format="json")
    assert response.status_code == 400 and "arguments" in response.json()["errors"]
    response = client.post(URL, {**tool.body({"id": "1"}), "wait": 500}, format="json")
    assert response.status_code == 400 and "wait" in response.json()["errors"]
    assert client.post(URL, {"arguments": {}}, format="json").status_code == 400
    assert client.get(f"{URL}not-a-uuid/").status_code == 404
    assert client.get(URL, {"status": "bogus"}).status_code == 400


def test_oversized_arguments(api_client, designer, tool, settings):
    settings.INVOCATION_MAX_ARGUMENT_BYTES = 1000
    response = api_client(designer).post(URL, tool.body({"id": "x" * 2000}), format="json")
    assert response.status_code == 400
    assert "arguments" in response.json()["errors"]


def test_switched_off_integration_type_is_refused(api_client, designer, tool):
    kind = tool.connector.integration_type
    kind.enabled = False
    kind.save()
    response = api_client(designer).post(URL, tool.body({"id": "1"}), format="json")
    assert response.status_code == 403
    assert "switched off" in response.json()["message"]
    assert response.json()["code"] == "integration_type_disabled"


def test_confirmation_flow(api_client, designer, post_tool, upstream, settings):
    settings.SITE_URL = "https://platform.example"
    client = api_client(designer)
    response = client.post(URL, post_tool.body({"body": {"items": [{"id": 1}]}}), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "awaiting_confirmation"
    assert data["confirmation_url"] == f"https://platform.example/confirmations/{data['id']}/"
    assert data["request"]["method"] == "POST"
    assert data["request"]["body"] == {"items": [{"id": 1}]}
    assert data["expires_at"]

    confirmed = client.post(f"{URL}{data['id']}/confirm/")
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "queued"
    again = client.post(f"{URL}{data['id']}/confirm/")
    assert again.status_code == 409
    assert "already decided" in again.json()["message"]
    assert client.post(f"{URL}{data['id']}/reject/").status_code == 409
    assert upstream.hits == []


def test_reject(api_client, designer, post_tool, upstream):
    client = api_client(designer)
    data = client.post(URL, post_tool.body({"body": {"items": []}}), format="json").json()
    response = client.post(f"{URL}{data['id']}/reject/")
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert client.post(f"{URL}{data['id']}/confirm/").status_code == 409
    assert upstream.hits == []


def test_confirming_someone_elses_in_the_same_organisation(api_client, designer, org, post_tool):
    colleague = make_user(org, is_designer=True)
    data = api_client(designer).post(URL, post_tool.body({"body": {"items": []}}), format="json").json()
    assert api_client(colleague).post(f"{URL}{data['id']}/confirm/").status_code == 404
    invocation = Invocation.objects.get(pk=data["id"])
    with pytest.raises(Exception, match="Only the person"):
        services.invocation_confirm(invocation=invocation, user=colleague)
    assert Invocation.objects.get(pk=data["id"]).status == "awaiting_confirmation"


def test_expired_cannot_be_confirmed(api_client, designer, post_tool, upstream):
    client = api_client(designer)
    data = client.post(URL, post_tool.body({"body": {"items": []}}), format="json").json()
    Invocation.objects.filter(pk=data["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(f"{URL}{data['id']}/confirm/")
    assert response.status_code == 409
    assert "expired" in response.json()["message"]
    assert services.invocations_expire() == 1
    assert client.get(f"{URL}{data['id']}/").json()["status"] == "expired"
    response = client.post(f"{URL}{data['id']}/confirm/")
    assert response.status_code == 409 and "expired" in response.json()["message"]
    assert upstream.hits == []


def test_expiry_uses_the_configured_timeout(api_client, designer, post_tool, settings):
    settings.INVOCATION_CONFIRMATION_TIMEOUT = 60
    data = api_client(designer).post(URL, post_tool.body({"body": {"items": []}}), format="json").json()
    invocation = Invocation.objects.get(pk=data["id"])
    assert 50 < (invocation.expires_at - invocation.created_at).total_seconds() <= 61
    assert services.invocations_expire(now=timezone.now() + timedelta(seconds=30)) == 0
    assert services.invocations_expire(now=timezone.now() + timedelta(seconds=61)) == 1


def test_idempotency_key_answers_the_same_invocation(api_client, designer, tool, member):
    client = api_client(designer)
    first = client.post(URL, tool.body({"id": "1"}, idempotency_key="k-1"), format="json").json()
    second = client.post(URL, tool.body({"id": "1"}, idempotency_key="k-1"), format="json").json()
    assert first["id"] == second["id"]
    assert Invocation.objects.count() == 1
    conflict = client.post(URL, tool.body({"id": "2"}, idempotency_key="k-1"), format="json")
    assert conflict.status_code == 409
    assert "idempotency_key" in conflict.json()["errors"]


def test_an_idempotency_key_reused_for_another_tool_is_a_conflict(api_client, designer, tool, make_tool):
    """Issue finding: the same key with another tool and the same arguments answered the first call."""
    other = make_tool(
        method="GET", path="/others/{id}",
        parameters=[{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
    )
    client = api_client(designer)
    first = client.post(URL, {"tool": f"c{tool.connection.pk}__{tool.operation.name}", "arguments": {"id": "1"},
                              "idempotency_key": "k-2"}, format="json")
    assert first.status_code == 201
    by_name = client.post(URL, {"tool": f"c{other.connection.pk}__{other.operation.name}", "arguments": {"id": "1"},
                                "idempotency_key": "k-2"}, format="json")
    assert by_name.status_code == 409
    assert "tool" in by_name.json()["errors"] and "arguments" not in by_name.json()["errors"]
    by_pair = client.post(URL, other.body({"id": "1"}, idempotency_key="k-2"), format="json")
    assert by_pair.status_code == 409
    assert {"connection", "operation"} <= set(by_pair.json()["errors"])
    # Another operation through the same connection is another call too.
    same_connection = client.post(
        URL, {"connection": tool.connection.pk, "operation": other.operation.name, "arguments": {"id": "1"},
              "idempotency_key": "k-2"}, format="json",
    )
    assert same_connection.status_code == 409 and "operation" in same_connection.json()["errors"]
    assert Invocation.objects.count() == 1
    # The same call by connection and operation is the same invocation.
    again = client.post(URL, tool.body({"id": "1"}, idempotency_key="k-2"), format="json")
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]


@pytest.mark.parametrize("depth", [65, 2_000, 20_000])
def test_deeply_nested_arguments_are_a_clear_400(api_client, designer, tool, depth):
    """Issue finding: arguments nested 20,000 deep gave a 500 (RecursionError)."""
    nested = "[" * depth + "]" * depth
    body = (
        f'{{"connection": {tool.connection.pk}, "operation": "{tool.operation.name}", '
        f'"arguments": {{"id": "1", "x": {nested}}}}}'
    )
    response = api_client(designer).post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert "nested more than 64 levels" in response.json()["message"]
    assert Invocation.objects.count() == 0


def test_deeply_nested_arguments_from_python_are_refused_too(designer, tool):
    from integrations_platform.errors import ApplicationError

    value = {}
    for _ in range(100):
        value = {"a": value}
    with pytest.raises(ApplicationError) as err:
        services.invocation_create(user=designer, connection=tool.connection, operation=tool.operation,
                                   arguments={"id": "1", "deep": value})
    assert "arguments" in err.value.field_errors
    assert Invocation.objects.count() == 0


def test_history_is_filterable_paginated_and_has_no_n_plus_one(
    api_client, designer, tool, post_tool, django_assert_max_num_queries
):
    for i in range(6):
        services.invocation_create(
            user=designer, connection=tool.connection, operation=tool.operation, arguments={"id": str(i)}
        )
    services.invocation_create(
        user=designer, connection=post_tool.connection, operation=post_tool.operation, arguments={"body": {"items": []}}
    )
    client = api_client(designer)
    with django_assert_max_num_queries(6):
        response = client.get(URL)
    assert response.status_code == 200
    assert response.json()["count"] == 7
    assert len(client.get(URL, {"limit": 2}).json()["results"]) == 2
    assert client.get(URL, {"status": "awaiting_confirmation"}).json()["count"] == 1
    assert client.get(URL, {"connection": tool.connection.pk}).json()["count"] == 6
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert client.get(URL, {"since": future}).json()["count"] == 0
    assert client.get(URL, {"until": future}).json()["count"] == 7


def test_secrets_are_redacted_from_the_preview(api_client, designer, make_tool):
    from tests.invocations.conftest import add_credential

    tool = make_tool(method="GET", path="/me")
    add_credential(tool.connection, "http_basic", config={"username": "ann"}, secret={"password": "pa55-word!"})
    add_credential(tool.connection, "api_key", config={"in": "query", "name": "key"}, secret={"key": "k3y/val+ue"})
    data = api_client(designer).post(URL, tool.body({}), format="json").json()
    text = str(data)
    assert "pa55-word!" not in text
    assert "k3y" not in text
    assert "YW5uOnBhNTUtd29yZCE=" not in text  # base64 of ann:pa55-word!
    assert data["request"]["headers"]["Authorization"] == "Basic [redacted]"
    assert data["request"]["url"].endswith("/me?key=[redacted]")
