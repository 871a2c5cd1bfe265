"""OAuth2 flows against an authorization server the test runs on 127.0.0.1 (Authlib server side)."""

import base64
import datetime as dt
import json
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db import connections as db_connections
from django.utils import timezone

from connections import oauth, services
from connections.models import Connection, Credential
from integrations_platform.errors import ApplicationError
from tests.connections.conftest import SECRETS, make_connector, prepare_call, send_call
from tests.connections.oauth_server import OAuthTestServer
from tests.factories import make_user

REDIRECT = "http://testserver/admin/connections/credential/oauth/callback/"


@pytest.fixture
def auth_server(monkeypatch, settings):
    # The server side of Authlib insists on https unless told it is a test.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    with OAuthTestServer() as server:
        # Token requests go through the address guard: the server on 127.0.0.1 is allow-listed.
        settings.OUTGOING_ALLOWED_ADDRESSES = [*settings.OUTGOING_ALLOWED_ADDRESSES, server.address]
        server.add_client(
            "platform-client", SECRETS["client_secret"], [REDIRECT],
            ["authorization_code", "refresh_token", "client_credentials"],
        )
        yield server


def _code_credential(org, admin, server, name="oauth"):
    return services.credential_create(
        organisation=org, name=name, kind="oauth2_authorization_code", created_by=admin,
        config={"client_id": "platform-client", "authorize_url": server.url + "/authorize",
                "token_url": server.url + "/token", "scopes": ["read", "write"]},
        secret={"client_secret": SECRETS["client_secret"]},
    )


def _connect(credential, user, server) -> str:
    url = oauth.oauth_authorization_start(credential=credential, user=user, redirect_uri=REDIRECT)
    assert url.startswith(server.url + "/authorize?")
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["scope"] == ["read write"]
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    return back["state"][0], back["code"][0]


def _connection_with(org, admin, credential, name="c"):
    connector = make_connector(org, name=f"OAuth {name}", base_url="http://127.0.0.1:9")
    return services.connection_create(
        connector=connector, organisation=org, name=name, created_by=admin,
        action_credentials=[{"ref": credential.pk}],
    )


def _call(server, connection):
    connection.connector.base_url = server.url
    request, _forms = prepare_call(connection, path="/resource")
    return request, send_call(request)


@pytest.mark.django_db
def test_authorization_code_flow_then_calls(org, platform_admin, auth_server):
    credential = _code_credential(org, platform_admin, auth_server)
    connection = _connection_with(org, platform_admin, credential)
    state, code = _connect(credential, platform_admin, auth_server)
    oauth.oauth_authorization_complete(user=platform_admin, state=state, code=code)
    credential.refresh_from_db()
    tokens = services.credential_tokens_read(credential)
    assert tokens["access_token"] and tokens["refresh_token"]
    assert credential.token_expires_at > timezone.now()
    assert auth_server.state.token_requests[-1]["grant_type"] == "authorization_code"
    _, response = _call(auth_server, connection)
    assert response.status_code == 200


@pytest.mark.django_db
def test_wrong_replayed_and_foreign_state_are_refused(org, platform_admin, auth_server):
    credential = _code_credential(org, platform_admin, auth_server)
    state, code = _connect(credential, platform_admin, auth_server)
    other = make_user(org, is_platform_admin=True)
    for user, bad_state in ((platform_admin, "made-up"), (platform_admin, None), (other, state)):
        with pytest.raises(ApplicationError) as exc:
            oauth.oauth_authorization_complete(user=user, state=bad_state, code=code)
        assert exc.value.code == "oauth_state_invalid"
    oauth.oauth_authorization_complete(user=platform_admin, state=state, code=code)
    with pytest.raises(ApplicationError) as exc:
        oauth.oauth_authorization_complete(user=platform_admin, state=state, code=code)
    assert exc.value.code == "oauth_state_invalid"
    assert SECRETS["client_secret"] not in exc.value.message


@pytest.mark.django_db
def test_provider_refusing_the_code_is_a_clear_error(org, platform_admin, auth_server):
    credential = _code_credential(org, platform_admin, auth_server)
    state, _ = _connect(credential, platform_admin, auth_server)
    with pytest.raises(ApplicationError) as exc:
        oauth.oauth_authorization_complete(user=platform_admin, state=state, code="forged-code")
    assert exc.value.code == "oauth_exchange_failed"
    assert "invalid_grant" in exc.value.message
    credential.refresh_from_db()
    assert not credential.tokens


@pytest.mark.django_db
def test_client_credentials_fetched_once_and_reused(org, platform_admin, auth_server):
    credential = services.credential_create(
        organisation=org, name="cc", kind="oauth2_client_credentials", created_by=platform_admin,
        config={"client_id": "platform-client", "token_url": auth_server.url + "/token"},
        secret={"client_secret": SECRETS["client_secret"]},
    )
    connection = _connection_with(org, platform_admin, credential)
    _, first = _call(auth_server, connection)
    _, second = _call(auth_server, connection)
    assert first.status_code == second.status_code == 200
    assert [r["grant_type"] for r in auth_server.state.token_requests] == ["client_credentials"]


@pytest.mark.django_db
def test_refresh_before_expiry_and_after_401(org, platform_admin, auth_server):
    credential = _code_credential(org, platform_admin, auth_server)
    connection = _connection_with(org, platform_admin, credential)
    state, code = _connect(credential, platform_admin, auth_server)
    oauth.oauth_authorization_complete(user=platform_admin, state=state, code=code)
    # About to expire (inside the margin): refreshed before the call.
    Credential.objects.filter(pk=credential.pk).update(token_expires_at=timezone.now() + dt.timedelta(seconds=30))
    _, response = _call(auth_server, connection)
    assert response.status_code == 200
    assert auth_server.state.token_requests[-1]["grant_type"] == "refresh_token"
    count = auth_server.token_request_count
    # The provider revokes the access token: 401, refresh once, retry succeeds.
    auth_server.state.tokens.clear()
    request, response = _call(auth_server, connection)
    assert response.status_code == 401
    assert oauth.credentials_refresh_after_unauthorised(request=request) is True
    # A second worker that saw the same 401 retries with the new token without refreshing again.
    assert oauth.credentials_refresh_after_unauthorised(request=request) is True
    assert auth_server.token_request_count == count + 1
    _, response = _call(auth_server, connection)
    assert response.status_code == 200


@pytest.mark.django_db
def test_failed_refresh_marks_connections_visibly(org, platform_admin, auth_server):
    credential = _code_credential(org, platform_admin, auth_server)
    connection = _connection_with(org, platform_admin, credential)
    state, code = _connect(credential, platform_admin, auth_server)
    oauth.oauth_authorization_complete(user=platform_admin, state=state, code=code)
    auth_server.state.refuse_refresh = True
    with pytest.raises(oauth.TokenRefreshFailed) as exc:
        oauth.credential_refresh_token(credential=credential, force=True)
    assert "invalid_grant" in exc.value.message
    connection.refresh_from_db()
    assert connection.status == Connection.Status.NEEDS_REAUTHORISATION
    assert "invalid_grant" in connection.status_reason
    from accesscontrol.policy import connection_unusable_reason

    assert "re-authorisation" in connection_unusable_reason(connection)[1]
    # Connecting again clears it.
    auth_server.state.refuse_refresh = False
    state, code = _connect(credential, platform_admin, auth_server)
    oauth.oauth_authorization_complete(user=platform_admin, state=state, code=code)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_send_one_token_request(org, platform_admin, auth_server):
    credential = _code_credential(org, platform_admin, auth_server)
    _connection_with(org, platform_admin, credential)
    state, code = _connect(credential, platform_admin, auth_server)
    oauth.oauth_authorization_complete(user=platform_admin, state=state, code=code)
    credential.refresh_from_db()
    seen = credential.token_version
    before = auth_server.token_request_count
    # The token endpoint is slow, so both workers are inside the refresh at the same time.
    auth_server.state.token_delay = 0.5
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            fresh = oauth.credential_refresh_token(credential=credential, force=True, seen_version=seen)
            results.append(services.credential_tokens_read(fresh)["access_token"])
        except Exception as exc:
            errors.append(exc)
        finally:
            db_connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert auth_server.token_request_count == before + 1
    assert len(results) == 2 and results[0] == results[1]
    credential.refresh_from_db()
    assert credential.token_version == seen + 1


@pytest.mark.django_db
def test_an_invocation_refreshes_a_revoked_token_after_a_401_and_succeeds(org, platform_admin, auth_server, settings):
    from invocations import services as invocations
    from tests.connections.conftest import make_operation

    host_port = auth_server.url.split("//", 1)[1]
    settings.OUTGOING_ALLOWED_ADDRESSES = [host_port]
    credential = _code_credential(org, platform_admin, auth_server)
    connector = make_connector(org, name="OAuth resource", base_url=auth_server.url)
    make_operation(connector, method="GET", path="/resource", name="resource")
    connection = services.connection_create(
        connector=connector, organisation=org, name="r", created_by=platform_admin,
        action_credentials=[{"ref": credential.pk}],
    )
    state, code = _connect(credential, platform_admin, auth_server)
    oauth.oauth_authorization_complete(user=platform_admin, state=state, code=code)
    count = auth_server.token_request_count
    auth_server.state.tokens.clear()  # the provider revokes the access token

    invocation = invocations.invocation_create(
        user=platform_admin, connection=connection.pk, operation="resource", arguments={}
    )
    invocations.invocation_execute(invocation_id=invocation.pk)
    invocation.refresh_from_db()
    assert invocation.status == "succeeded", invocation.error
    assert invocation.result["status_code"] == 200
    assert [a.status_code for a in invocation.attempt_rows.order_by("number")] == [401, 200]
    assert auth_server.token_request_count == count + 1
    assert auth_server.state.token_requests[-1]["grant_type"] == "refresh_token"


@pytest.mark.django_db
def test_a_refused_refresh_is_decided_once_until_connected_again(org, platform_admin, auth_server):
    credential = _code_credential(org, platform_admin, auth_server)
    connection = _connection_with(org, platform_admin, credential)
    state, code = _connect(credential, platform_admin, auth_server)
    oauth.oauth_authorization_complete(user=platform_admin, state=state, code=code)
    credential.refresh_from_db()
    seen = credential.token_version
    auth_server.state.refuse_refresh = True
    before = auth_server.token_request_count
    with pytest.raises(oauth.TokenRefreshFailed) as first:
        oauth.credential_refresh_token(credential=credential, force=True, seen_version=seen)
    # Every later caller hears the same decision without asking the provider again: one that saw
    # the old token (a waiter), one forcing a refresh, the periodic refresh.
    Credential.objects.filter(pk=credential.pk).update(token_expires_at=timezone.now())
    for kwargs in ({"seen_version": seen, "force": True}, {"force": True}, {}):
        with pytest.raises(oauth.TokenRefreshFailed) as again:
            oauth.credential_refresh_token(credential=credential, **kwargs)
        assert again.value.message == first.value.message and again.value.code == "oauth_refresh_failed"
    assert oauth.credentials_refresh_expiring() == {"checked": 1, "refreshed": 0, "failed": 1}
    assert auth_server.token_request_count == before + 1
    credential.refresh_from_db()
    assert credential.token_refresh_claimed_until is None
    tokens = services.credential_tokens_read(credential)
    assert tokens == {oauth.REFUSED: first.value.message}
    from audit.models import AuditEntry

    assert AuditEntry.objects.filter(action="credential.refresh_failed", object_id=str(credential.pk)).count() == 1
    # Connecting again is a new decision: refreshes work again.
    auth_server.state.refuse_refresh = False
    state, code = _connect(credential, platform_admin, auth_server)
    oauth.oauth_authorization_complete(user=platform_admin, state=state, code=code)
    fresh = oauth.credential_refresh_token(credential=credential, force=True)
    assert fresh.token_version > credential.token_version
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE


@pytest.mark.django_db
def test_a_refused_client_credentials_token_holds_until_the_secret_is_saved_again(org, platform_admin, auth_server):
    credential = services.credential_create(
        organisation=org, name="cc", kind="oauth2_client_credentials", created_by=platform_admin,
        config={"client_id": "platform-client", "token_url": auth_server.url + "/token"},
        secret={"client_secret": "not-the-registered-secret"},
    )
    for _ in range(2):
        with pytest.raises(oauth.TokenRefreshFailed) as exc:
            oauth.credential_ensure_token(credential=Credential.objects.get(pk=credential.pk))
        assert "invalid_client" in exc.value.message
    assert auth_server.token_request_count == 1
    services.credential_update(credential=credential, actor=platform_admin,
                               secret={"client_secret": SECRETS["client_secret"]})
    token = oauth.credential_ensure_token(credential=Credential.objects.get(pk=credential.pk))
    assert services.credential_tokens_read(token)["access_token"]
    assert auth_server.token_request_count == 2


class _EchoingTokenEndpoint:
    """A token endpoint that refuses every request and puts what it was sent in its error code."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
                sent = " ".join(v[0] for k, v in form.items() if k in ("refresh_token", "client_secret", "code"))
                body = json.dumps({"error": f"bad {sent} {self.headers.get('Authorization', '')}"}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.django_db
def test_a_provider_echoing_the_refresh_token_in_its_error_leaks_it_nowhere(org, platform_admin, settings):
    from audit.models import AuditEntry

    endpoint = _EchoingTokenEndpoint()
    try:
        settings.OUTGOING_ALLOWED_ADDRESSES = [endpoint.address]
        credential = services.credential_create(
            organisation=org, name="echo", kind="oauth2_authorization_code", created_by=platform_admin,
            config={"client_id": "platform-client", "authorize_url": f"http://{endpoint.address}/authorize",
                    "token_url": f"http://{endpoint.address}/token"},
            secret={"client_secret": SECRETS["client_secret"]},
        )
        connection = _connection_with(org, platform_admin, credential)
        services.credential_tokens_store(
            credential=credential, tokens={"access_token": "at-ECHO-1234567890", "refresh_token": "rt-ECHO-0987654321"},
            expires_at=None,
        )
        with pytest.raises(oauth.TokenRefreshFailed) as exc:
            oauth.credential_refresh_token(credential=credential, force=True)
    finally:
        endpoint.close()
    connection.refresh_from_db()
    seen = [exc.value.message, connection.status_reason,
            *(str(e.changes) + e.object_repr for e in AuditEntry.objects.all())]
    assert "[redacted]" in exc.value.message
    basic = base64.b64encode(f"platform-client:{SECRETS['client_secret']}".encode()).decode()
    for value in ("rt-ECHO-0987654321", "at-ECHO-1234567890", SECRETS["client_secret"], basic):
        assert not any(value in text for text in seen), value
