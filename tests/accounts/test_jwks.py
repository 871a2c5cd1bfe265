"""The identity provider's JWKS is fetched through the platform's guarded client."""

import socket
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from rest_framework.test import APIClient

from integrations_platform import authentication
from tests.invocations.upstream import Answer, Upstream

ME = "/api/v1/me/"


@pytest.fixture
def idp(settings):
    server = Upstream()
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    server.default = Answer(body={"keys": [{**key, "kid": "k1", "use": "sig", "alg": "RS256"}]})
    settings.JWT_ISSUER = "https://idp.example"
    settings.JWT_AUDIENCE = "integrations"
    settings.JWT_PUBLIC_KEY = ""
    settings.JWT_JWKS_URL = server.url + "/jwks"
    settings.JWT_USER_CLAIM = "preferred_username"
    settings.OUTGOING_ALLOWED_ADDRESSES = []
    authentication._jwks_client.cache_clear()

    def issue(username):
        claims = {"iss": "https://idp.example", "aud": "integrations", "sub": "s", "exp": int(time.time()) + 300,
                  "preferred_username": username}
        return jwt.encode(claims, private, algorithm="RS256", headers={"kid": "k1"})

    server.issue = issue
    yield server
    authentication._jwks_client.cache_clear()
    server.close()


def _me(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(ME)


@pytest.mark.django_db
def test_a_jwks_url_not_allow_listed_is_not_fetched(member, idp, settings, monkeypatch):
    connects = []
    real = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", lambda s, a: (connects.append(a), real(s, a))[1])
    response = _me(idp.issue(member.username))
    assert response.status_code == 401
    assert idp.hits == []
    assert [a for a in connects if a[1] == idp.port] == []

    settings.OUTGOING_ALLOWED_ADDRESSES = [idp.address]
    response = _me(idp.issue(member.username))
    assert response.status_code == 200, response.content
    assert response.json()["authenticated_by"] == "jwt"
    assert [hit.path for hit in idp.hits] == ["/jwks"]


@pytest.mark.django_db
def test_the_jwks_fetch_ignores_proxies_and_redirects(member, idp, settings, monkeypatch):
    elsewhere = Upstream()
    try:
        settings.OUTGOING_ALLOWED_ADDRESSES = [idp.address, elsewhere.address]
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", elsewhere.url)
        monkeypatch.setenv("http_proxy", elsewhere.url)
        assert _me(idp.issue(member.username)).status_code == 200
        assert elsewhere.hits == []

        authentication._jwks_client.cache_clear()
        idp.default = Answer(status=302, headers={"Location": elsewhere.url + "/jwks"})
        assert _me(idp.issue(member.username)).status_code == 401
        assert elsewhere.hits == []
    finally:
        elsewhere.close()
