"""The base URL fixes the origin of every call (DESIGN.md, "Rules that hold everywhere"): through the
API and a real worker, against real upstreams on 127.0.0.1, with an administrator's credential."""

from __future__ import annotations

import json

import pytest

from accesscontrol.models import MethodRight
from connections.models import Connection, ConnectionCredential
from connections.services import credential_create
from connectors.models import Connector
from tests.invocations.conftest import grant, make_connection, make_connector, make_operation
from tests.invocations.upstream import Answer, Upstream

URL = "/api/v1/invocations/"
ADMIN_KEY = "admin-key-7c1f0e9d8b"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def second_upstream(settings, upstream):
    """Another origin (same host, another port)."""
    server = Upstream()
    settings.OUTGOING_ALLOWED_ADDRESSES = [upstream.address, server.address]
    yield server
    server.close()


def _admin_credential(org, platform_admin):
    return credential_create(
        organisation=org, name="Administrator's key", kind="api_key",
        config={"in": "header", "name": "X-API-Key"}, secret={"key": ADMIN_KEY}, created_by=platform_admin,
    )


def test_a_connection_variable_cannot_move_the_call_to_another_host(
    celery_worker, api_client, org, platform_admin, designer, upstream
):
    """The outside review's attack: base URL http://{tenant}.example:8080, and a designer's connection
    referencing the administrator's credential with tenant = "127.0.0.1:<port>/"."""
    connector = make_connector(org, "http://{tenant}.example:8080", variables=[{"name": "tenant", "value": "acme"}])
    operation = make_operation(connector, path="/items")
    credential = _admin_credential(org, platform_admin)
    hostile = f"127.0.0.1:{upstream.port}/"

    response = api_client(designer).post(
        f"/api/v1/connectors/{connector.pk}/connections/",
        {"name": "mine", "variables": [{"name": "tenant", "value": hostile}],
         "action_credentials": [{"ref": credential.pk}]},
        format="json",
    )
    assert response.status_code == 400, response.content
    problem = json.dumps(response.json())
    assert "variables[0].value" in problem and "one DNS label" in problem
    assert not Connection.objects.filter(name="mine").exists()

    # A value that got in another way (stored before the rule, or the base URL changed since) is
    # refused when the call is made, before anything is sent.
    connection = make_connection(connector, designer, variables=[{"name": "tenant", "value": hostile}])
    ConnectionCredential.objects.create(connection=connection, credential=credential, purpose="action")
    grant(connection, operation, designer)
    response = api_client(designer).post(
        URL, {"connection": connection.pk, "operation": operation.name, "arguments": {}, "wait": 5}, format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert "{tenant}" in json.dumps(body) and "one DNS label" in json.dumps(body)
    assert ADMIN_KEY not in response.content.decode()
    assert upstream.hits == []


def _twilio_like(media_origin: str) -> str:
    """Like twilio's API: the production server at the top and again on every path; and one method
    on a separate media host."""
    servers = [{"url": "https://api.twilio.com"}]
    account = {"name": "AccountSid", "in": "path", "required": True, "schema": {"type": "string"}}
    return json.dumps(
        {
            "openapi": "3.0.1",
            "info": {"title": "Twilio-like", "version": "1"},
            "servers": servers,
            "components": {"securitySchemes": {"accountSid_authToken": {"type": "http", "scheme": "basic"}}},
            "security": [{"accountSid_authToken": []}],
            "paths": {
                "/2010-04-01/Accounts/{AccountSid}/Messages.json": {
                    "servers": servers,
                    "parameters": [account],
                    "get": {"operationId": "ListMessage", "responses": {"200": {"description": "ok"}}},
                    "post": {
                        "operationId": "CreateMessage",
                        "requestBody": {
                            "content": {
                                "application/x-www-form-urlencoded": {
                                    "schema": {"type": "object", "properties": {"To": {"type": "string"}}}
                                }
                            }
                        },
                        "responses": {"201": {"description": "created"}},
                    },
                },
                "/2010-04-01/Accounts.json": {
                    "servers": servers,
                    "get": {"operationId": "ListAccount", "responses": {"200": {"description": "ok"}}},
                },
                "/v1/Media": {
                    "servers": [{"url": media_origin + "/media"}],
                    "post": {"operationId": "CreateMedia", "responses": {"201": {"description": "created"}}},
                },
            },
        }
    )


def _invoke(client, connection, name, arguments):
    return client.post(
        URL, {"connection": connection.pk, "operation": name, "arguments": arguments, "wait": 30}, format="json"
    )


def test_servers_on_every_path_are_mapped_onto_a_sandbox_and_another_origin_waits_for_approval(
    celery_worker, api_client, org, platform_admin, designer, upstream, second_upstream
):
    admin = api_client(platform_admin)
    sandbox = upstream.url + "/sandbox"
    response = admin.post(
        "/api/v1/connectors/",
        {"name": "Twilio sandbox", "base_url": sandbox, "openapi_schema": _twilio_like(second_upstream.url),
         "acknowledged": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    connector_id = response.json()["id"]
    connector = Connector.objects.get(pk=connector_id)

    connection = make_connection(connector, platform_admin)
    credential = credential_create(
        organisation=org, name="Auth token", kind="http_basic", config={"username": "AC1"},
        secret={"password": "auth-token-123"}, created_by=platform_admin,
    )
    ConnectionCredential.objects.create(connection=connection, credential=credential, purpose="action")
    for operation in connector.operations.all():
        grant(connection, operation, designer)
    MethodRight.objects.filter(connection=connection).update(requires_confirmation=False)
    client = api_client(designer)

    upstream.answer(Answer(body={"messages": []}), Answer(status=201, body={"sid": "SM1"}))
    listed = _invoke(client, connection, "ListMessage", {"AccountSid": "AC1"})
    assert listed.status_code == 201 and listed.json()["status"] == "succeeded", listed.content
    created = _invoke(client, connection, "CreateMessage", {"AccountSid": "AC1", "body": {"To": "+100"}})
    assert created.json()["status"] == "succeeded", created.content
    assert [hit.path for hit in upstream.hits] == [
        "/sandbox/2010-04-01/Accounts/AC1/Messages.json",
        "/sandbox/2010-04-01/Accounts/AC1/Messages.json",
    ]
    assert upstream.hits[0].headers["Authorization"].startswith("Basic ")

    # The import listed the other origin, and only that one, as a warning.
    warnings = " ".join(connector.current_version.warnings)
    assert second_upstream.url in warnings and "POST /v1/Media" in warnings
    assert "api.twilio.com" not in warnings  # the document's own origin needs no approval

    # The media host is another origin: refused, with where to approve it, and nothing sent.
    assert admin.get(f"/api/v1/connectors/{connector_id}/").json()["approved_origins"] == []
    refused = _invoke(client, connection, "CreateMedia", {})
    assert refused.status_code == 400, refused.content
    message = json.dumps(refused.json())
    assert second_upstream.url in message and "Approved server origins" in message
    assert second_upstream.hits == []

    # A designer cannot approve it; an administrator can.
    assert client.patch(
        f"/api/v1/connectors/{connector_id}/", {"approved_origins": [second_upstream.url]}, format="json"
    ).status_code in (403, 404)
    approved = admin.patch(
        f"/api/v1/connectors/{connector_id}/", {"approved_origins": [second_upstream.url.upper() + "/"]}, format="json"
    )
    assert approved.status_code == 200, approved.content
    assert approved.json()["approved_origins"] == [second_upstream.url]

    second_upstream.answer(Answer(status=201, body={"sid": "ME1"}))
    media = _invoke(client, connection, "CreateMedia", {})
    assert media.json()["status"] == "succeeded", media.content
    assert [hit.path for hit in second_upstream.hits] == ["/media/v1/Media"]
    assert len(upstream.hits) == 2
