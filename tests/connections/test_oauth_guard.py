"""OAuth2 token requests go through the platform's guarded client, like every outgoing call.

Against the Authlib authorization server on 127.0.0.1 (``oauth_server.py``) and recording servers.
"""

import socket
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import pytest
import requests

from connections import oauth, services
from connections.models import Credential
from integrations_platform.errors import ApplicationError
from tests.connections.conftest import SECRETS
from tests.connections.oauth_server import OAuthTestServer
from tests.invocations.upstream import Answer, Upstream

REDIRECT = "http://testserver/admin/connections/credential/oauth/callback/"
pytestmark = pytest.mark.django_db


@pytest.fixture
def auth_server(monkeypatch, settings):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    settings.OUTGOING_ALLOWED_ADDRESSES = []
    with OAuthTestServer() as server:
        server.add_client(
            "platform-client", SECRETS["client_secret"], [REDIRECT],
            ["authorization_code", "refresh_token", "client_credentials"],
        )
        yield server


@pytest.fixture
def recorder():
    server = Upstream()
    yield server
    server.close()


@pytest.fixture
def connects(monkeypatch):
    """Every socket connect this process makes, recorded (and still made)."""
    seen = []
    real = socket.socket.connect

    def record(self, address):
        seen.append(address)
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", record)
    return seen


def _port(url: str) -> int:
    return urlsplit(url).port


def _client_credentials(org, admin, token_url):
    return services.credential_create(
        organisation=org, name="cc", kind="oauth2_client_credentials", created_by=admin,
        config={"client_id": "platform-client", "token_url": token_url},
        secret={"client_secret": SECRETS["client_secret"]},
    )


def _code_credential(org, admin, server):
    return services.credential_create(
        organisation=org, name="code", kind="oauth2_authorization_code", created_by=admin,
        config={"client_id": "platform-client", "authorize_url": server.url + "/authorize",
                "token_url": server.url + "/token"},
        secret={"client_secret": SECRETS["client_secret"]},
    )


def _authorize(credential, user):
    """The browser's part: the provider approves at once and redirects back with state and code."""
    url = oauth.oauth_authorization_start(credential=credential, user=user, redirect_uri=REDIRECT)
    answer = requests.get(url, allow_redirects=False, timeout=10)
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    return back["state"][0], back["code"][0]


def test_a_token_request_to_an_address_not_allow_listed_is_refused_before_any_packet(
    org, platform_admin, auth_server, connects, settings
):
    credential = _client_credentials(org, platform_admin, auth_server.url + "/token")
    with pytest.raises(oauth.TokenRefreshFailed) as info:
        oauth.credential_refresh_token(credential=credential)
    assert info.value.code == "oauth_refresh_unreachable"
    assert "not one the platform calls (loopback)" in info.value.message
    assert f"allow-list 127.0.0.1:{_port(auth_server.url)}" in info.value.message
    assert auth_server.token_request_count == 0
    assert [a for a in connects if a[1] == _port(auth_server.url)] == []
    assert SECRETS["client_secret"] not in info.value.message

    settings.OUTGOING_ALLOWED_ADDRESSES = [auth_server.address]
    fresh = oauth.credential_refresh_token(credential=credential)
    assert services.credential_tokens_read(fresh)["access_token"]
    assert auth_server.token_request_count == 1


def test_the_code_exchange_and_the_refresh_are_guarded_too(org, platform_admin, auth_server, connects, settings):
    credential = _code_credential(org, platform_admin, auth_server)
    state, code = _authorize(credential, platform_admin)
    before = len(connects)
    with pytest.raises(ApplicationError) as info:
        oauth.oauth_authorization_complete(user=platform_admin, state=state, code=code)
    assert info.value.code == "oauth_exchange_failed"
    assert "not one the platform calls" in info.value.message
    assert auth_server.token_request_count == 0
    assert connects[before:] == []

    settings.OUTGOING_ALLOWED_ADDRESSES = [auth_server.address]
    state, code = _authorize(credential, platform_admin)
    oauth.oauth_authorization_complete(user=platform_admin, state=state, code=code)
    assert auth_server.state.token_requests[-1]["grant_type"] == "authorization_code"

    settings.OUTGOING_ALLOWED_ADDRESSES = []
    with pytest.raises(oauth.TokenRefreshFailed) as info:
        oauth.credential_refresh_token(credential=credential, force=True)
    assert info.value.code == "oauth_refresh_unreachable"
    assert auth_server.token_request_count == 1
    credential.refresh_from_db()
    # Not called is not refused by the provider: the connection is not marked for re-authorisation.
    assert credential.token_refresh_claimed_until is None


def test_token_requests_ignore_proxy_settings_from_the_environment(
    org, platform_admin, auth_server, recorder, monkeypatch, settings
):
    settings.OUTGOING_ALLOWED_ADDRESSES = [auth_server.address, recorder.address]
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, recorder.url)
    credential = _client_credentials(org, platform_admin, auth_server.url + "/token")
    fresh = oauth.credential_refresh_token(credential=credential)
    assert services.credential_tokens_read(fresh)["access_token"]
    assert recorder.hits == []
    assert auth_server.token_request_count == 1


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_token_endpoint_that_redirects_to_another_origin_does_not_get_the_client_secret(
    code, method, org, platform_admin, auth_server, recorder, settings, monkeypatch
):
    """The token URL answers a redirect to another origin (the real authorization server, allow-listed):
    the platform follows no redirect of a token request, so nothing reaches the other origin."""
    monkeypatch.setattr(oauth.TokenSession, "__init__", _with_auth_method(method))
    settings.OUTGOING_ALLOWED_ADDRESSES = [auth_server.address, recorder.address, f"localhost:{recorder.port}"]
    recorder.default = Answer(status=code, headers={"Location": auth_server.url + "/token"})
    credential = _client_credentials(org, platform_admin, f"http://localhost:{recorder.port}/token")
    with pytest.raises(oauth.TokenRefreshFailed) as info:
        oauth.credential_refresh_token(credential=credential)
    assert info.value.code == "oauth_refresh_unreachable"
    assert f"redirect ({code})" in info.value.message
    assert auth_server.token_request_count == 0
    # The secret went to the token URL it was configured for, and only there.
    assert len(recorder.hits) == 1
    secret = SECRETS["client_secret"]
    hit = recorder.hits[0]
    if method == "client_secret_basic":
        assert hit.headers["Authorization"].startswith("Basic ")
    else:
        assert f"client_secret={quote_plus(secret)}" in hit.body.decode()
    assert secret not in info.value.message and quote(secret, safe="") not in info.value.message


def _with_auth_method(method):
    real = oauth.TokenSession.__init__

    def init(self, *args, **kwargs):
        kwargs["token_endpoint_auth_method"] = method
        real(self, *args, **kwargs)

    return init


def test_a_token_answer_larger_than_the_cap_is_an_error(org, platform_admin, recorder, settings):
    settings.OUTGOING_ALLOWED_ADDRESSES = [recorder.address]
    recorder.default = Answer(body={"access_token": "t", "token_type": "Bearer", "pad": "x" * (100 * 1024)})
    credential = _client_credentials(org, platform_admin, recorder.url + "/token")
    with pytest.raises(oauth.TokenRefreshFailed) as info:
        oauth.credential_refresh_token(credential=credential)
    assert info.value.code == "oauth_refresh_unreachable"
    assert f"more than {oauth.TOKEN_RESPONSE_MAX_BYTES} bytes" in info.value.message
    assert not Credential.objects.get(pk=credential.pk).tokens
