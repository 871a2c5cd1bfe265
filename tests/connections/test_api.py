import base64
import json

import pytest

from audit.models import AuditEntry
from connections import services
from connections.models import Connection, Credential
from connectors.models import IntegrationType
from tests.connections.conftest import SECRETS, credential_specs, make_connector, make_operation
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _no_secret(response) -> None:
    text = response.content.decode()
    for value in SECRETS.values():
        assert value not in text
    basic = base64.b64encode(f"svc-user:{SECRETS['password']}".encode()).decode()
    assert basic not in text


@pytest.fixture
def connection(org, platform_admin, connector):
    return services.connection_create(
        connector=connector, organisation=org, name="Main", created_by=platform_admin,
        action_credentials=[{"create": credential_specs()[1]}, {"create": credential_specs()[0]}],
    )


def test_list_permission_matrix(org, platform_admin, member, outsider, connector, connection, api_client, anon_client,
                                django_assert_max_num_queries):
    url = f"/api/v1/connectors/{connector.pk}/connections/"
    assert anon_client.get(url).status_code == 401
    assert api_client(outsider).get(url).status_code == 404
    loner = make_user(org)
    loner.groups.clear()
    response = api_client(loner).get(url)
    assert response.status_code == 200 and response.json()["results"] == []
    for i in range(5):
        services.connection_create(connector=connector, organisation=org, name=f"extra {i}", created_by=platform_admin,
                                   action_credentials=[{"ref": Credential.objects.first().pk}])
    client = api_client(member)
    with django_assert_max_num_queries(12):
        response = client.get(url)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 6
    assert body["results"][0]["action_credentials"][0]["kind"] == "http_basic"
    _no_secret(response)


def test_create_with_inline_credentials_and_refs(org, platform_admin, designer, member, connector, api_client):
    url = f"/api/v1/connectors/{connector.pk}/connections/"
    existing = services.credential_create(organisation=org, created_by=platform_admin, **credential_specs()[2])
    payload = {
        "name": "New",
        "variables": [{"name": "tenant", "value": "globex"}],
        "action_credentials": [{"create": credential_specs()[1]}, {"ref": existing.pk}],
        "trigger_credentials": [{"create": credential_specs()[4]}],
    }
    assert api_client(member).post(url, payload, format="json").status_code == 403
    response = api_client(designer).post(url, payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [c["name"] for c in body["action_credentials"]] == ["Basic", "Bearer"]
    assert body["access"]["level"] == "company"
    _no_secret(response)
    # Duplicate name: a clear error, nothing saved (not even the inline credential).
    before = Credential.objects.count()
    payload2 = {**payload, "action_credentials": [{"create": {**credential_specs()[0]}}], "trigger_credentials": []}
    response = api_client(designer).post(url, payload2, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["errors"]
    assert Credential.objects.count() == before
    _no_secret(response)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": "x" * 300}, "name"),
        ({"name": "ok", "action_credentials": "nope"}, "action_credentials"),
        ({"name": "ok", "action_credentials": [{"ref": 999999}]}, "action_credentials[0].ref"),
        ({"name": "ok", "action_credentials": [{"ref": 1, "create": {}}]}, "action_credentials[0]"),
        ({"name": "ok", "action_credentials": [{"create": {"name": "n", "kind": "api_key", "config": {},
                                                            "secret": {"key": SECRETS["api_key"]}}}]},
         "action_credentials[0].create.config.name"),
        ({"name": "ok", "access_level": "everyone"}, "access_level"),
        ({"name": "ok", "variables": [{"name": "<script>", "value": "x"}]}, "variables[0].name"),
        ({"name": "ok", "error_notify_webhook_url": "file:///etc/passwd"}, "error_notify_webhook_url"),
    ],
)
def test_create_bad_input(org, platform_admin, connector, api_client, payload, field):
    response = api_client(platform_admin).post(
        f"/api/v1/connectors/{connector.pk}/connections/", payload, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert not Connection.objects.exists()
    assert not Credential.objects.exists()
    _no_secret(response)


def test_other_org_credential_reference_is_refused(org, other_org, platform_admin, connector, api_client):
    foreign_admin = make_user(other_org, is_platform_admin=True)
    foreign = services.credential_create(organisation=other_org, created_by=foreign_admin, **credential_specs()[2])
    response = api_client(platform_admin).post(
        f"/api/v1/connectors/{connector.pk}/connections/",
        {"name": "x", "action_credentials": [{"ref": foreign.pk}]}, format="json",
    )
    assert response.status_code == 400
    assert "action_credentials[0].ref" in response.json()["errors"]


def test_detail_permission_matrix(org, platform_admin, designer, member, outsider, connection, api_client,
                                  anon_client):
    url = f"/api/v1/connections/{connection.pk}/"
    assert anon_client.get(url).status_code == 401
    assert api_client(outsider).get(url).status_code == 404
    response = api_client(member).get(url)
    assert response.status_code == 200
    assert response.json()["access"]["level"] == "company"
    _no_secret(response)
    assert api_client(member).patch(url, {"name": "x"}, format="json").status_code == 403
    assert api_client(member).delete(url).status_code == 403
    assert api_client(outsider).patch(url, {"name": "x"}, format="json").status_code == 404
    # A designer who did not create it may use but not change it.
    assert api_client(designer).patch(url, {"name": "x"}, format="json").status_code == 403
    response = api_client(platform_admin).patch(url, {"name": "Renamed"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "Renamed"


@pytest.mark.parametrize(
    "payload",
    [{"access_level": "groups"}, {"groups": [1]}, {"users": [1]}, {"organisations": [1]}],
)
def test_access_group_cannot_change(platform_admin, connection, api_client, payload):
    response = api_client(platform_admin).patch(f"/api/v1/connections/{connection.pk}/", payload, format="json")
    assert response.status_code == 400
    assert "create another connection" in response.json()["message"]


@pytest.mark.parametrize("payload", [{"organisation": 5}, {"connector": 3}, {"id": 9}, {"bogus": 1}])
def test_immutable_and_unknown_fields_refused(platform_admin, connection, api_client, payload):
    response = api_client(platform_admin).patch(f"/api/v1/connections/{connection.pk}/", payload, format="json")
    assert response.status_code == 400
    assert next(iter(payload)) in response.json()["errors"]


def test_delete(platform_admin, connection, api_client):
    assert api_client(platform_admin).delete(f"/api/v1/connections/{connection.pk}/").status_code == 204
    assert not Connection.objects.exists()
    assert AuditEntry.objects.filter(action="connection.delete").exists()


def test_credentials_endpoint(org, platform_admin, designer, member, outsider, connection, api_client, anon_client,
                              django_assert_max_num_queries):
    url = "/api/v1/credentials/"
    assert anon_client.get(url).status_code == 401
    assert api_client(member).get(url).status_code == 403
    client = api_client(designer)
    with django_assert_max_num_queries(8):
        response = client.get(url)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert set(body["results"][0]) >= {"kind", "name", "config", "secret_set", "secret_changed_at", "secret_changed_by"}
    assert "secret" not in body["results"][0] and "tokens" not in body["results"][0]
    _no_secret(response)
    assert api_client(outsider).get(url).json()["count"] == 0
    credential_id = body["results"][0]["id"]
    assert api_client(outsider).get(f"{url}{credential_id}/").status_code == 404
    response = api_client(platform_admin).post(
        url, {"name": "New key", "kind": "http_bearer", "secret": {"token": SECRETS["token"]}}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["secret_set"] is True
    _no_secret(response)
    # Replace the secret: the answer says who and when, never the value.
    new_id = response.json()["id"]
    response = api_client(designer).patch(f"{url}{new_id}/", {"secret": {"token": "replacement-value"}}, format="json")
    assert response.status_code == 200
    assert response.json()["secret_changed_by"] == designer.username
    assert "replacement-value" not in response.content.decode()
    # In use: refused.
    response = api_client(platform_admin).delete(f"{url}{credential_id}/")
    assert response.status_code == 400
    assert api_client(platform_admin).delete(f"{url}{new_id}/").status_code == 204


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "x", "kind": "http_bearer"},
        {"name": "x", "kind": "<b>bad</b>", "secret": {}},
        {"name": "x", "kind": "http_bearer", "secret": {"token": "t" * 10000}},
        {"name": "x", "kind": "http_bearer", "secret": "plain string"},
        {"name": "", "kind": "http_bearer", "secret": {"token": "t"}},
    ],
)
def test_credentials_bad_input(platform_admin, api_client, payload):
    response = api_client(platform_admin).post("/api/v1/credentials/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]
    assert "t" * 100 not in response.content.decode()
    assert not Credential.objects.exists()


def test_test_endpoint_redacts_echoed_secrets(org, platform_admin, member, outsider, echo_server, api_client):
    connector = make_connector(org, name="Echoing", base_url=echo_server.url + "/base")
    op = make_operation(connector, path="/health")
    connection = services.connection_create(
        connector=connector, organisation=org, name="E", created_by=platform_admin,
        action_credentials=[{"create": credential_specs()[1]}, {"create": credential_specs()[5]}],
        test_operation=op.pk,
    )
    url = f"/api/v1/connections/{connection.pk}/test/"
    assert api_client(outsider).post(url).status_code == 404
    assert api_client(member).post(url).status_code == 403
    response = api_client(platform_admin).post(url)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["status"] == 200
    assert echo_server.last["path"] == "/base/health"
    assert "[redacted]" in body["excerpt"]
    assert echo_server.last["headers"]["X-Tenant-Token"] == SECRETS["header_value"]
    _no_secret(response)
    assert json.dumps(list(AuditEntry.objects.values_list("changes", flat=True))).find(SECRETS["password"]) == -1


def test_test_endpoint_refuses_non_http_and_private_addresses(org, platform_admin, api_client, settings):
    connector = make_connector(org, name="Private", base_url="http://127.0.0.1:1/x")
    connection = services.connection_create(connector=connector, organisation=org, name="P", created_by=platform_admin)
    response = api_client(platform_admin).post(f"/api/v1/connections/{connection.pk}/test/")
    assert response.status_code == 200
    assert response.json()["ok"] is False
    assert "allow-list" in response.json()["error"]


def test_switched_off_integration_type_hides_and_refuses(org, platform_admin, member, connection, api_client):
    IntegrationType.objects.filter(pk=IntegrationType.CUSTOM_OPENAPI).update(enabled=False)
    assert api_client(member).get(f"/api/v1/connections/{connection.pk}/").status_code == 404
    assert api_client(member).get(f"/api/v1/connectors/{connection.connector_id}/connections/").status_code == 404
    from accesscontrol.policy import connection_unusable_reason

    assert "switched off" in connection_unusable_reason(connection)[1]
    # Platform administrators still see it (to switch it back on), but a test call is refused.
    response = api_client(platform_admin).post(f"/api/v1/connections/{connection.pk}/test/")
    assert response.json()["ok"] is False and "switched off" in response.json()["error"]


def test_api_schema_describes_connection_endpoints(anon_client):
    response = anon_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    text = response.content.decode()
    for path in ("/api/v1/connectors/{connector_id}/connections/", "/api/v1/connections/{id}/",
                 "/api/v1/connections/{id}/test/", "/api/v1/credentials/"):
        assert path in text


def test_credential_patch_refuses_kind_change_and_unknown(org, platform_admin, api_client):
    credential = services.credential_create(organisation=org, created_by=platform_admin, **credential_specs()[2])
    response = api_client(platform_admin).patch(f"/api/v1/credentials/{credential.pk}/", {"kind": "http_basic"},
                                                format="json")
    assert response.status_code == 400 and "kind" in response.json()["errors"]


def test_query_api_key_not_in_debug_logs(org, platform_admin, echo_server, api_client, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    connector = make_connector(org, name="Q", base_url=echo_server.url)
    connection = services.connection_create(
        connector=connector, organisation=org, name="Q", created_by=platform_admin,
        action_credentials=[{"create": {"name": "qk", "kind": "api_key", "config": {"in": "query", "name": "key"},
                                        "secret": {"key": SECRETS["api_key"]}}}],
    )
    response = api_client(platform_admin).post(f"/api/v1/connections/{connection.pk}/test/")
    assert response.json()["ok"] is True
    assert ("key", SECRETS["api_key"]) in echo_server.last["query"]
    _no_secret(response)
    assert SECRETS["api_key"] not in caplog.text


@pytest.mark.parametrize("body", [[1, 2], "text", {"name": ["a"]}, {"name": "ok", "variables": {"tenant": {"x": 1}}},
                                  {"name": "ok", "action_credentials": [{"create": "string"}]},
                                  {"name": "ok", "action_credentials": [{"ref": True}]},
                                  {"name": "ok", "connect_timeout": -1}])
def test_hostile_bodies_never_500(platform_admin, connector, api_client, body):
    client = api_client(platform_admin)
    response = client.post(f"/api/v1/connectors/{connector.pk}/connections/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["message"]
    for url in ("/api/v1/credentials/",):
        assert client.post(url, body, format="json").status_code == 400
    assert not Connection.objects.exists()
