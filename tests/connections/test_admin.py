"""Admin pages: write-only credentials, connections, test button, OAuth Connect, catalog, switch.
The no-leak test collects every page, API answer, log line and audit entry of the flows and fails
if any known secret value (or its Basic-auth form) appears."""

import base64
import json
import logging
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client

from audit.models import AuditEntry
from connections import services
from connections.models import Connection, Credential
from connectors.models import IntegrationType
from tests.connections.conftest import SECRETS, credential_specs, make_connector, make_operation
from tests.connections.oauth_server import OAuthTestServer
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def forbidden_values() -> list[str]:
    basic = base64.b64encode(f"svc-user:{SECRETS['password']}".encode()).decode()
    return [*SECRETS.values(), basic]


def assert_clean(text: str, where: str = "") -> None:
    for value in forbidden_values():
        assert value not in text, f"secret leaked in {where}"


def test_admin_hidden_from_other_staff(org, designer):
    staff = make_user(org, is_staff=True)
    client = login(staff)
    for url in ("/admin/connections/connection/", "/admin/connections/credential/",
                "/admin/connections/connection/catalog/"):
        response = client.get(url)
        assert response.status_code in (302, 403)


def test_credential_admin_add_change_write_only(org, platform_admin):
    client = login(platform_admin)
    response = client.get("/admin/connections/credential/add/")
    assert response.status_code == 200
    response = client.post("/admin/connections/credential/add/", {
        "organisation": org.pk, "name": "Key", "kind": "api_key",
        "config_json": json.dumps({"in": "header", "name": "X-API-Key"}), "secret_key": SECRETS["api_key"],
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    credential = Credential.objects.get(name="Key")
    page = client.get(f"/admin/connections/credential/{credential.pk}/change/").content.decode()
    assert "Set, changed at" in page and platform_admin.username in page
    assert_clean(page, "credential change page")
    # Replace the secret; the value never comes back.
    response = client.post(f"/admin/connections/credential/{credential.pk}/change/", {
        "name": "Key", "config_json": json.dumps({"in": "header", "name": "X-API-Key"}),
        "secret_key": "replacement-secret-value",
    })
    assert response.status_code == 302
    credential.refresh_from_db()
    assert services.credential_secret_read(credential) == {"key": "replacement-secret-value"}
    page = client.get(f"/admin/connections/credential/{credential.pk}/change/").content.decode()
    assert "replacement-secret-value" not in page
    listing = client.get("/admin/connections/credential/").content.decode()
    assert "replacement-secret-value" not in listing


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "api_key", "config_json": "{not json", "secret_key": "x"}, "Not valid JSON"),
        ({"kind": "api_key", "config_json": json.dumps({"in": "header", "name": "X"})}, "required"),
        ({"kind": "http_basic", "config_json": "{}", "secret_password": SECRETS["password"]}, "username"),
        ({"kind": "http_bearer", "config_json": "{}", "secret_token": "t" * 9000}, "at most"),
    ],
)
def test_credential_admin_bad_input(org, platform_admin, data, message):
    client = login(platform_admin)
    response = client.post("/admin/connections/credential/add/", {"organisation": org.pk, "name": "Bad", **data})
    assert response.status_code == 200
    page = response.content.decode()
    assert message.lower() in page.lower()
    assert_clean(page, "form error page")
    assert "t" * 200 not in page
    assert not Credential.objects.exists()


def test_connection_admin_pages_and_test_button(org, platform_admin, echo_server, django_assert_max_num_queries):
    connector = make_connector(org, base_url=echo_server.url, variables=[{"name": "tenant", "value": "a"}])
    op = make_operation(connector, path="/health")
    connection = services.connection_create(
        connector=connector, organisation=org, name="Main", created_by=platform_admin,
        action_credentials=[{"create": s} for s in credential_specs()], test_operation=op.pk,
    )
    client = login(platform_admin)
    with django_assert_max_num_queries(20):
        listing = client.get("/admin/connections/connection/")
    assert listing.status_code == 200 and "Add integration" in listing.content.decode()
    page = client.get(f"/admin/connections/connection/{connection.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Test connection" in text and "Defined once, at creation" in text
    assert_clean(text, "connection change page")
    result = client.post(f"/admin/connections/connection/{connection.pk}/test/")
    assert result.status_code == 200
    text = result.content.decode()
    assert "[redacted]" in text and "OK" in text
    assert_clean(text, "test result page")
    assert echo_server.last["path"] == "/health"


def test_connection_admin_add_and_change(org, platform_admin):
    connector = make_connector(org, variables=[{"name": "tenant", "value": "a"}])
    client = login(platform_admin)
    assert client.get("/admin/connections/connection/add/").status_code == 200
    response = client.post("/admin/connections/connection/add/", {
        "connector": connector.pk, "name": "From admin", "access_level": "company",
        "variables_json": json.dumps([{"name": "tenant", "value": "b"}]),
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    connection = Connection.objects.get(name="From admin")
    assert connection.variables == [{"name": "tenant", "value": "b"}]
    assert AuditEntry.objects.filter(action="connection.create", object_id=str(connection.pk)).exists()
    # Duplicate name: a clear error, nothing saved.
    response = client.post("/admin/connections/connection/add/", {
        "connector": connector.pk, "name": "From admin", "access_level": "company",
    }, follow=True)
    assert "already exists" in response.content.decode()
    assert Connection.objects.count() == 1


def test_catalog_admin_flow(org, platform_admin, echo_server):
    client = login(platform_admin)
    page = client.get("/admin/connections/connection/catalog/").content.decode()
    for name in ("Slack", "Salesforce", "Jira", "Google Drive", "Custom webhook", "Custom OpenAPI"):
        assert name in page
    IntegrationType.objects.filter(pk="jira").update(enabled=False)
    page = client.get("/admin/connections/connection/catalog/").content.decode()
    assert "Jira" not in page
    assert client.get("/admin/connections/connection/catalog/jira/").status_code == 302
    response = client.post("/admin/connections/connection/catalog/slack/", {
        "organisation": org.pk, "name": "Our Slack", "connection_name": "Bot",
        "settings_api_base_url": echo_server.url + "/api", "secret_token": SECRETS["token"],
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    connection = Connection.objects.get(name="Bot")
    assert connection.connector.integration_type_id == "slack"
    assert connection.test_operation.name == "auth_test"
    # Bad settings: the field is named, nothing saved.
    response = client.post("/admin/connections/connection/catalog/salesforce/", {
        "organisation": org.pk, "name": "SF", "settings_instance_url": "not-a-url", "settings_api_version": "v60.0",
    })
    assert response.status_code == 200
    assert "absolute http" in response.content.decode()


def test_integration_type_switches_on_two_levels(org, platform_admin):
    """The operator switches a type for the installation; a platform administrator for their
    organisation only."""
    from connectors.models import IntegrationType, OrganisationIntegrationType
    from tests.factories import make_user

    client = login(platform_admin)
    assert client.get("/admin/connectors/integrationtype/").status_code == 403
    response = client.get("/admin/connectors/organisationintegrationtype/")
    assert response.status_code == 200
    rows = OrganisationIntegrationType.objects.filter(organisation=org)
    assert rows.count() == IntegrationType.objects.count()
    operator = login(make_user(org, is_superuser=True))
    assert operator.get("/admin/connectors/integrationtype/").status_code == 200


def test_no_secret_anywhere(org, platform_admin, designer, echo_server, api_client, caplog, monkeypatch, settings):
    """Known values through every flow: admin pages, API answers, logs, audit, test output, OAuth."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    outputs: list[tuple[str, str]] = []
    connector = make_connector(org, base_url=echo_server.url, variables=[{"name": "tenant", "value": "a"}])
    op = make_operation(connector, path="/echo")
    admin_api = api_client(platform_admin)
    response = admin_api.post(f"/api/v1/connectors/{connector.pk}/connections/", {
        "name": "All kinds", "action_credentials": [{"create": s} for s in credential_specs()],
        "test_operation": op.pk,
    }, format="json")
    assert response.status_code == 201
    outputs.append(("create answer", response.content.decode()))
    connection_id = response.json()["id"]
    for url in (f"/api/v1/connections/{connection_id}/", f"/api/v1/connectors/{connector.pk}/connections/",
                "/api/v1/credentials/"):
        outputs.append((url, admin_api.get(url).content.decode()))
    outputs.append(("test", admin_api.post(f"/api/v1/connections/{connection_id}/test/").content.decode()))
    # Errors that involve secret-bearing input.
    bad = admin_api.post("/api/v1/credentials/", {"name": "Bearer", "kind": "http_bearer",
                                                   "secret": {"token": SECRETS["token"]}}, format="json")
    outputs.append(("duplicate error", bad.content.decode()))
    bad = admin_api.post("/api/v1/credentials/", {"name": "Z", "kind": "api_key", "config": {"in": SECRETS["api_key"]},
                                                   "secret": {"key": SECRETS["api_key"]}}, format="json")
    outputs.append(("bad config error", bad.content.decode()))
    # OAuth: client secret and tokens.
    with OAuthTestServer() as server:
        settings.OUTGOING_ALLOWED_ADDRESSES = [*settings.OUTGOING_ALLOWED_ADDRESSES, server.address]
        redirect = "http://testserver/admin/connections/credential/oauth/callback/"
        server.add_client("cid", SECRETS["client_secret"], [redirect], ["authorization_code", "refresh_token"])
        credential = services.credential_create(
            organisation=org, name="OAuth", kind="oauth2_authorization_code", created_by=platform_admin,
            config={"client_id": "cid", "authorize_url": server.url + "/authorize", "token_url": server.url + "/token"},
            secret={"client_secret": SECRETS["client_secret"]},
        )
        client = login(platform_admin)
        start = client.get(f"/admin/connections/credential/{credential.pk}/oauth/connect/")
        assert start.status_code == 302
        provider = requests.get(start["Location"], allow_redirects=False, timeout=10)
        back = urlsplit(provider.headers["Location"])
        done = client.get(f"/admin/connections/credential/oauth/callback/?{back.query}", follow=True)
        outputs.append(("oauth callback", done.content.decode()))
        assert "connected" in done.content.decode()
        replay = client.get(f"/admin/connections/credential/oauth/callback/?{back.query}", follow=True)
        assert "already used" in replay.content.decode()
        outputs.append(("oauth replay", replay.content.decode()))
        credential.refresh_from_db()
        tokens = services.credential_tokens_read(credential)
        secret_values = [*forbidden_values(), tokens["access_token"], tokens["refresh_token"]]
        for url in (f"/admin/connections/credential/{credential.pk}/change/", "/admin/connections/credential/",
                    f"/admin/connections/connection/{connection_id}/change/", "/admin/connections/connection/",
                    "/admin/audit/auditentry/"):
            outputs.append((url, client.get(url).content.decode()))
        outputs.append(("admin test", client.post(f"/admin/connections/connection/{connection_id}/test/")
                        .content.decode()))
    outputs.append(("audit", json.dumps(list(AuditEntry.objects.values("action", "changes", "object_repr")),
                                        default=str)))
    # Log records of the stand-in provider (Authlib's authorization-server grants, which the platform
    # never runs) are the provider's own; every other record is the platform's or its client's.
    platform_logs = [
        f"{r.name} {r.getMessage()}" for r in caplog.records if not r.name.startswith("authlib.oauth2.rfc6749.grants")
    ]
    assert platform_logs
    outputs.append(("logs", "\n".join(platform_logs)))
    for where, text in outputs:
        for value in secret_values:
            assert value not in text, f"a secret value appears in {where}"


def test_credential_changelist_query_count(org, platform_admin, connector, django_assert_max_num_queries):
    for i in range(8):
        services.credential_create(organisation=org, created_by=platform_admin, name=f"k{i}", kind="http_bearer",
                                   secret={"token": f"tok-{i}"})
    client = login(platform_admin)
    with django_assert_max_num_queries(15):
        response = client.get("/admin/connections/credential/")
    assert response.status_code == 200
    assert "tok-" not in response.content.decode()


def test_usable_reason_for_disabled_connector(org, platform_admin, connector):
    from accesscontrol.policy import connection_unusable_reason

    connection = services.connection_create(connector=connector, organisation=org, name="u", created_by=platform_admin)
    assert connection_unusable_reason(connection) is None
    connector.enabled = False
    connector.save()
    connection.refresh_from_db()
    assert "disabled" in connection_unusable_reason(connection)[1]


def test_connection_change_page_shows_access_read_only_once(org, platform_admin, designer):
    connector = make_connector(org)
    connection = services.connection_create(
        connector=connector, organisation=org, name="Summary", created_by=platform_admin,
        action_credentials=[{"create": s} for s in credential_specs()[:1]],
        access_level="individuals", users=[designer],
    )
    client = login(platform_admin)
    response = client.get(f"/admin/connections/connection/{connection.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    # No disabled multiselects listing everybody: a summary of the chosen people, the help once.
    for name in ("access_level", "groups", "users", "organisations"):
        assert f'name="{name}"' not in html
    assert html.count("Defined once, at creation") == 1
    assert f"Individuals level: {designer.username} (and the creator, {platform_admin.username})" in html
    # The Test connection button is an object tool like History.
    assert 'class="object-tool">Test connection</button>' in html
    assert "historylink" in html and 'class="historylink" style="border:0' not in html
    # The credential row label is the credential's name and kind.
    credential = connection.credential_links.get().credential
    original = html.split('<td class="original">', 1)[1].split("</p>", 1)[0]
    assert original.split("<p>", 1)[1].strip() == str(credential)
    assert f"{connection} action #0" not in html
    assert 'A JSON list, for example [{"name": "tenant"' in html
    # Saving the page keeps access as defined.
    response = client.post(f"/admin/connections/connection/{connection.pk}/change/", {
        "name": "Summary renamed", "variables_json": "[]", "test_operation": "",
        "connect_timeout": "", "read_timeout": "", "error_notify_email": "", "error_notify_webhook_url": "",
        "credential_links-TOTAL_FORMS": "0", "credential_links-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    connection.refresh_from_db()
    assert connection.name == "Summary renamed" and connection.access_level == "individuals"


def test_the_test_result_breadcrumb_has_the_connections_level(org, platform_admin, echo_server):
    connector = make_connector(org, base_url=echo_server.url)
    connection = services.connection_create(
        connector=connector, organisation=org, name="Crumbs", created_by=platform_admin,
    )
    html = login(platform_admin).post(f"/admin/connections/connection/{connection.pk}/test/").content.decode()
    assert 'href="/admin/connections/connection/">Connections</a>' in html
    assert f'href="/admin/connections/connection/{connection.pk}/change/">' in html
