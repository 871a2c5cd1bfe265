"""Catalog services: each template imports, and its main methods are called against a STAND-IN
server on 127.0.0.1 (not the real service: the echo server records what arrives) whose recorded
requests are checked for the shape the real service documents."""

import base64
import datetime as dt
import hashlib
import hmac
import json
from urllib.parse import quote

import pytest
from django.utils import timezone

from accesscontrol.services import connector_catalog_create
from connections import services
from connectors.catalog import CATALOG
from connectors.models import IntegrationType
from integrations_platform.errors import ApplicationError
from tests.connections.conftest import prepare_call, send_call

pytestmark = pytest.mark.django_db


def call(connection, operation_name, *, path=None, query=(), json_body=None, raw=None, content_type=None):
    """The operation's request with these values, built and authenticated as the platform does it."""
    operation = connection.connector.operations.get(name=operation_name)
    url_path = operation.path
    for key, value in (path or {}).items():
        url_path = url_path.replace("{" + key + "}", quote(str(value), safe=""))
    headers = {}
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json; charset=utf-8"
    elif raw is not None:
        body = raw
        headers["Content-Type"] = content_type or "application/octet-stream"
    request, _forms = prepare_call(
        connection, method=operation.method, path=url_path, security=operation.security, query=query,
        headers=headers, body=body,
    )
    return send_call(request)


def _make(org, admin, key, settings, secret, config=None, name=None):
    connector = connector_catalog_create(
        actor=admin, organisation=org, catalog=key, name=name or CATALOG[key].name, settings=settings
    )
    connection = services.catalog_connection_create(
        connector=connector, name="Main", created_by=admin, config=config or {}, secret=secret
    )
    return connector, connection


def _connect_oauth(connection, admin):
    """Stand in for a completed Connect: store tokens as the provider would have issued them."""
    credential = connection.credential_links.get().credential
    services.credential_tokens_store(
        credential=credential, tokens={"access_token": "stand-in-access", "refresh_token": "stand-in-refresh",
                                       "token_type": "Bearer"},
        expires_at=timezone.now() + dt.timedelta(hours=1), actor=admin,
    )


@pytest.mark.parametrize(
    ("key", "settings", "operations", "scheme_kind"),
    [
        ("slack", {}, {"chat_postMessage", "conversations_list", "auth_test"}, "http_bearer"),
        ("salesforce", {"instance_url": "https://acme.my.salesforce.com", "api_version": "v60.0"},
         {"soql_query", "limits", "create_record", "get_record", "update_record"}, "oauth2_authorization_code"),
        ("jira", {"site_url": "https://acme.atlassian.net"},
         {"search_issues", "get_issue", "create_issue", "myself"}, "http_basic"),
        ("google_drive", {}, {"files_list", "files_get", "files_upload"}, "oauth2_authorization_code"),
        ("webhook", {"url": "https://hooks.example.com/in/abc", "method": "PUT"}, {"send"}, None),
    ],
)
def test_each_template_imports(org, platform_admin, key, settings, operations, scheme_kind):
    connector = connector_catalog_create(
        actor=platform_admin, organisation=org, catalog=key, name=key, settings=settings
    )
    assert connector.integration_type_id == key
    assert set(connector.operations.values_list("name", flat=True)) == operations
    kinds = list(connector.auth_schemes.values_list("kind", flat=True))
    assert kinds == ([scheme_kind] if scheme_kind else [])
    assert connector.service_settings.items() >= settings.items()
    if key == "salesforce":
        assert connector.base_url == "https://acme.my.salesforce.com/services/data/v60.0"
    if key == "jira":
        assert connector.base_url == "https://acme.atlassian.net/rest/api/3"
    if key == "webhook":
        assert connector.operations.get().method == "PUT" and connector.operations.get().path == "/in/abc"


@pytest.mark.parametrize(
    ("key", "settings", "field"),
    [
        ("nope", {}, "catalog"),
        ("salesforce", {"api_version": "v60.0"}, "settings.instance_url"),
        ("salesforce", {"instance_url": "https://a.my.salesforce.com", "api_version": "60"}, "settings.api_version"),
        ("jira", {"site_url": "javascript:alert(1)"}, "settings.site_url"),
        ("jira", {"site_url": "https://a.atlassian.net", "evil": "1"}, "settings"),
        ("webhook", {"url": "https://h.example.com/x", "method": "DELETE"}, "settings.method"),
        ("webhook", {"url": "https://h.example.com/x?token=abc"}, "settings.url"),
        ("google_drive", {"scopes": ["has space"]}, "settings.scopes"),
        ("slack", {"api_base_url": "x" * 3000}, "settings.api_base_url"),
    ],
)
def test_catalog_bad_settings(org, platform_admin, key, settings, field):
    from connectors.models import Connector

    with pytest.raises(ApplicationError) as exc:
        connector_catalog_create(
        actor=platform_admin, organisation=org, catalog=key, name="x", settings=settings
    )
    assert field in exc.value.field_errors
    assert not Connector.objects.exists()


def test_catalog_refused_when_switched_off_or_not_admin(org, platform_admin, designer):
    with pytest.raises(ApplicationError) as exc:
        connector_catalog_create(
        actor=designer, organisation=org, catalog="slack", name="s", settings={}
    )
    assert exc.value.status_code == 403
    IntegrationType.objects.filter(pk="slack").update(enabled=False)
    with pytest.raises(ApplicationError) as exc:
        connector_catalog_create(
        actor=platform_admin, organisation=org, catalog="slack", name="s", settings={}
    )
    assert "switched off" in exc.value.message


def test_slack_against_stand_in(org, platform_admin, echo_server):
    _, connection = _make(org, platform_admin, "slack", {"api_base_url": echo_server.url + "/api"},
                          {"token": "xoxb-stand-in-token"})
    response = call(connection, "chat_postMessage", json_body={"channel": "C0123", "text": "Hello"})
    assert response.status_code == 200
    got = echo_server.last
    # https://api.slack.com/methods/chat.postMessage: POST, bearer token, JSON body with channel.
    assert got["method"] == "POST" and got["path"] == "/api/chat.postMessage"
    assert got["headers"]["Authorization"] == "Bearer xoxb-stand-in-token"
    assert got["headers"]["Content-Type"].startswith("application/json")
    assert json.loads(got["body"]) == {"channel": "C0123", "text": "Hello"}
    call(connection, "conversations_list", query=[("types", "public_channel,private_channel"), ("limit", "100")])
    got = echo_server.last
    assert got["method"] == "GET" and got["path"] == "/api/conversations.list"
    assert ("types", "public_channel,private_channel") in got["query"]
    assert got["headers"]["Authorization"] == "Bearer xoxb-stand-in-token"


def test_salesforce_against_stand_in(org, platform_admin, echo_server):
    _, connection = _make(
        org, platform_admin, "salesforce", {"instance_url": echo_server.url, "api_version": "v60.0"},
        {"client_secret": "sf-secret"}, config={"client_id": "sf-client"},
    )
    credential = connection.credential_links.get().credential
    assert credential.config["token_url"] == "https://login.salesforce.com/services/oauth2/token"
    _connect_oauth(connection, platform_admin)
    call(connection, "soql_query", query=[("q", "SELECT Id, Name FROM Account LIMIT 5")])
    got = echo_server.last
    assert got["method"] == "GET" and got["path"] == "/services/data/v60.0/query"
    assert got["query"] == [("q", "SELECT Id, Name FROM Account LIMIT 5")]
    assert got["headers"]["Authorization"] == "Bearer stand-in-access"
    call(connection, "create_record", path={"sObjectType": "Account"}, json_body={"Name": "Acme"})
    assert (echo_server.last["method"], echo_server.last["path"]) == ("POST", "/services/data/v60.0/sobjects/Account")
    assert json.loads(echo_server.last["body"]) == {"Name": "Acme"}
    call(connection, "get_record", path={"sObjectType": "Account", "id": "001000000000001AAA"},
         query=[("fields", "Name")])
    assert echo_server.last["path"] == "/services/data/v60.0/sobjects/Account/001000000000001AAA"
    call(connection, "update_record", path={"sObjectType": "Account", "id": "001000000000001AAA"},
         json_body={"Name": "Acme 2"})
    assert echo_server.last["method"] == "PATCH"


def test_jira_against_stand_in(org, platform_admin, echo_server):
    _, connection = _make(org, platform_admin, "jira", {"site_url": echo_server.url},
                          {"password": "jira-api-token"}, config={"username": "me@example.com"})
    call(connection, "search_issues", query=[("jql", "project = ABC"), ("maxResults", "10")])
    got = echo_server.last
    basic = base64.b64encode(b"me@example.com:jira-api-token").decode()
    assert got["path"] == "/rest/api/3/search/jql" and ("jql", "project = ABC") in got["query"]
    assert got["headers"]["Authorization"] == f"Basic {basic}"
    call(connection, "get_issue", path={"issueIdOrKey": "ABC-1"})
    assert echo_server.last["path"] == "/rest/api/3/issue/ABC-1"
    body = {"fields": {"project": {"key": "ABC"}, "summary": "Broken", "issuetype": {"name": "Bug"}}}
    call(connection, "create_issue", json_body=body)
    assert (echo_server.last["method"], echo_server.last["path"]) == ("POST", "/rest/api/3/issue")
    assert json.loads(echo_server.last["body"])["fields"]["issuetype"] == {"name": "Bug"}


def test_google_drive_against_stand_in(org, platform_admin, echo_server):
    _, connection = _make(
        org, platform_admin, "google_drive",
        {"api_base_url": echo_server.url, "scopes": ["https://www.googleapis.com/auth/drive.readonly"]},
        {"client_secret": "g-secret"}, config={"client_id": "g-client"},
    )
    credential = connection.credential_links.get().credential
    assert credential.config["scopes"] == ["https://www.googleapis.com/auth/drive.readonly"]
    _connect_oauth(connection, platform_admin)
    call(connection, "files_list", query=[("q", "trashed = false"), ("pageSize", "10")])
    got = echo_server.last
    assert got["path"] == "/drive/v3/files" and got["headers"]["Authorization"] == "Bearer stand-in-access"
    call(connection, "files_get", path={"fileId": "1AbC"}, query=[("alt", "media")])
    assert echo_server.last["path"] == "/drive/v3/files/1AbC"
    call(connection, "files_upload", query=[("uploadType", "media")], raw=b"hello", content_type="text/plain")
    got = echo_server.last
    assert (got["method"], got["path"]) == ("POST", "/upload/drive/v3/files")
    assert ("uploadType", "media") in got["query"] and got["body"] == "hello"


def test_webhook_against_stand_in(org, platform_admin, echo_server):
    _, connection = _make(
        org, platform_admin, "webhook",
        {"url": echo_server.url + "/hooks/abc", "method": "POST", "signature_header": "X-Webhook-Signature"},
        {"signing_secret": "whsec-stand-in"},
    )
    payload = {"event": "order.created", "id": 7}
    call(connection, "send", json_body=payload)
    got = echo_server.last
    assert (got["method"], got["path"]) == ("POST", "/hooks/abc")
    expected = hmac.new(b"whsec-stand-in", got["body"].encode(), hashlib.sha256).hexdigest()
    assert got["headers"]["X-Webhook-Signature"] == f"sha256={expected}"
