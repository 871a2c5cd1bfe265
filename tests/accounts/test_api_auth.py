"""Bearer authentication: API keys (hashed, revocable, last use recorded) and JWT id_tokens."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke

ME = "/api/v1/me/"


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.django_db
def test_anonymous_gets_401_with_a_bearer_challenge(anon_client):
    response = anon_client.get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert set(response.json()) == {"message", "errors"}


@pytest.mark.django_db
def test_api_key_is_stored_as_a_digest_and_authenticates(member):
    key, raw = api_key_create(user=member, name="script")
    stored = ApiKey.objects.get(pk=key.pk)
    assert raw not in (stored.digest, stored.prefix) and len(stored.digest) == 64
    assert raw.startswith(f"ipk_{stored.prefix}_") and len(raw) > 40
    response = bearer(raw).get(ME)
    assert response.status_code == 200
    assert response.json()["username"] == member.username
    assert response.json()["authenticated_by"] == "api_key"
    stored.refresh_from_db()
    assert stored.last_used_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "token",
    ["ipk_nothing_here", "ipk_", "ipk_abc_def", "x" * 5000, "not-a-jwt", "ipk_" + "a" * 300, "<script>"],
)
def test_wrong_tokens_get_401(member, token):
    api_key_create(user=member, name="script")
    response = bearer(token).get(ME)
    assert response.status_code == 401
    assert token not in response.content.decode()


@pytest.mark.django_db
def test_a_tampered_key_with_a_valid_prefix_is_refused(member):
    _, raw = api_key_create(user=member, name="script")
    tampered = raw[:-4] + ("aaaa" if not raw.endswith("aaaa") else "bbbb")
    assert bearer(tampered).get(ME).status_code == 401


@pytest.mark.django_db
def test_revoked_key_and_inactive_user_are_refused(member):
    key, raw = api_key_create(user=member, name="script")
    api_key_revoke(key=key)
    assert bearer(raw).get(ME).status_code == 401
    _, raw2 = api_key_create(user=member, name="second")
    member.is_active = False
    member.save()
    assert bearer(raw2).get(ME).status_code == 401


def test_two_tokens_after_bearer_are_refused(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer a b")
    assert client.get(ME).status_code == 401


@pytest.fixture
def idp(settings):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings.JWT_ISSUER = "https://idp.example"
    settings.JWT_AUDIENCE = "integrations"
    settings.JWT_PUBLIC_KEY = public_pem.decode()
    settings.JWT_JWKS_URL = ""
    settings.JWT_USER_CLAIM = "preferred_username"

    def issue(username, **overrides):
        claims = {
            "iss": "https://idp.example",
            "aud": "integrations",
            "sub": "abc",
            "exp": int(time.time()) + 300,
            "preferred_username": username,
            **overrides,
        }
        return jwt.encode(claims, private, algorithm="RS256")

    return issue


@pytest.mark.django_db
def test_jwt_id_token_from_the_identity_provider_authenticates(member, idp):
    response = bearer(idp(member.username)).get(ME)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "username": member.username,
        "organisation": member.organisation.slug,
        "is_platform_admin": False,
        "is_designer": False,
        "authenticated_by": "jwt",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://evil.example"},
        {"aud": "someone-else"},
        {"exp": int(time.time()) - 10},
        {"preferred_username": "nobody-here"},
        {"preferred_username": None},
    ],
)
def test_jwt_with_wrong_claims_is_refused(member, idp, overrides):
    assert bearer(idp(member.username, **overrides)).get(ME).status_code == 401


@pytest.mark.django_db
def test_jwt_signed_by_another_key_is_refused(member, idp):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(
        {
            "iss": "https://idp.example",
            "aud": "integrations",
            "sub": "x",
            "exp": int(time.time()) + 60,
            "preferred_username": member.username,
        },
        other,
        algorithm="RS256",
    )
    assert bearer(token).get(ME).status_code == 401


@pytest.mark.django_db
def test_jwt_with_none_algorithm_is_refused(member, idp):
    token = jwt.encode(
        {
            "iss": "https://idp.example",
            "aud": "integrations",
            "sub": "x",
            "exp": int(time.time()) + 60,
            "preferred_username": member.username,
        },
        None,
        algorithm="none",
    )
    assert bearer(token).get(ME).status_code == 401


@pytest.mark.django_db
def test_create_api_key_command_prints_the_key_once(member, capsys):
    from django.core.management import call_command

    call_command("create_api_key", member.username, "--name", "ci")
    out = capsys.readouterr().out.strip()
    assert bearer(out).get(ME).status_code == 200
    assert ApiKey.objects.filter(user=member, name="ci").count() == 1


@pytest.mark.django_db
def test_create_api_key_command_for_unknown_user_fails_cleanly():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="No user named"):
        call_command("create_api_key", "ghost")
