"""A credential whose stored values do not decrypt under the configured keys is never saved again
(the API, the admin, token storing), and a save that changes no secret leaves its ciphertext as it
is. Key rotation skips such values, and once the right key is back nothing was lost.

``FIELD_ENCRYPTION_KEY`` is read once, at import, by the encryption library: the fixture swaps the
library's keys (and the setting the rotation reads) in this process, as a restart with another
environment would."""

import json

import pytest
from cryptography.fernet import Fernet, MultiFernet
from django.db import connection as db
from encrypted_model_fields import fields as encrypted_fields

from connections import services
from connections.models import Credential
from connections.rotation import rotate_encryption_key
from integrations_platform.errors import ApplicationError
from tests.connections.conftest import SECRETS
from tests.connections.test_admin import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(monkeypatch, settings):
    """``keys(k1, k2, ...)``: the keys the platform is configured with from now on, newest first."""

    def configure(*new_keys: str) -> None:
        monkeypatch.setattr(encrypted_fields, "CRYPTER", MultiFernet([Fernet(k) for k in new_keys]))
        settings.FIELD_ENCRYPTION_KEY = list(new_keys)

    return configure


def raw_columns(credential) -> tuple[str, str]:
    with db.cursor() as cursor:
        cursor.execute("SELECT secret, tokens FROM connections_credential WHERE id = %s", [credential.pk])
        return tuple(cursor.fetchone())


@pytest.fixture
def saved_under_old_key(org, platform_admin, keys, settings):
    """An API key credential saved under the current key; then the platform runs with a new key only."""
    old = list(settings.FIELD_ENCRYPTION_KEY)
    credential = services.credential_create(
        organisation=org, name="Key", kind="api_key", created_by=platform_admin,
        config={"in": "header", "name": "X-API-Key"}, secret={"key": SECRETS["api_key"]},
    )
    new = Fernet.generate_key().decode()
    keys(new)
    return credential, old, new


def test_a_save_that_changes_no_secret_leaves_its_ciphertext(org, platform_admin, api_client):
    credential = services.credential_create(
        organisation=org, name="Key", kind="api_key", created_by=platform_admin,
        config={"in": "header", "name": "X-API-Key"}, secret={"key": SECRETS["api_key"]},
    )
    before = raw_columns(credential)
    response = api_client(platform_admin).patch(
        f"/api/v1/credentials/{credential.pk}/", {"name": "Renamed", "config": {"in": "query", "name": "k"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    # Fernet ciphertext differs on every encryption: equal bytes mean the columns were not written.
    assert raw_columns(credential) == before
    credential.refresh_from_db()
    assert credential.name == "Renamed" and credential.config == {"in": "query", "name": "k"}
    assert services.credential_secret_read(credential) == {"key": SECRETS["api_key"]}


def test_api_refuses_to_save_a_credential_that_does_not_decrypt(saved_under_old_key, platform_admin, api_client,
                                                                 keys):
    credential, old, _ = saved_under_old_key
    before = raw_columns(credential)
    client = api_client(platform_admin)
    for body in ({"name": "x"}, {"config": {"in": "query", "name": "k"}}, {"secret": {"key": "new-value"}}):
        response = client.patch(f"/api/v1/credentials/{credential.pk}/", body, format="json")
        assert response.status_code == 409, response.content
        data = response.json()
        assert data["code"] == "secret_unreadable"
        assert "FIELD_ENCRYPTION_KEY" in data["message"] and "nothing was changed" in data["message"].lower()
        assert set(data["errors"]) == {"secret", "tokens"}
        assert before[0] not in response.content.decode()
    assert raw_columns(credential) == before
    assert Credential.objects.get(pk=credential.pk).name == "Key"
    # Reading metadata still works, and deleting (the way out when the key is truly lost) too.
    assert client.get(f"/api/v1/credentials/{credential.pk}/").status_code == 200
    # With the old key back, the value was never lost.
    keys(old[0])
    assert services.credential_secret_read(Credential.objects.get(pk=credential.pk)) == {"key": SECRETS["api_key"]}


def test_admin_refuses_to_save_a_credential_that_does_not_decrypt(saved_under_old_key, platform_admin, keys):
    credential, old, _ = saved_under_old_key
    before = raw_columns(credential)
    client = login(platform_admin)
    url = f"/admin/connections/credential/{credential.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"name": "x", "config_json": json.dumps({"in": "header", "name": "X-API-Key"})}, follow=True
    )
    page = response.content.decode()
    assert "cannot be decrypted" in page and "FIELD_ENCRYPTION_KEY" in page
    assert raw_columns(credential) == before
    assert Credential.objects.get(pk=credential.pk).name == "Key"
    keys(old[0])
    assert services.credential_secret_read(Credential.objects.get(pk=credential.pk)) == {"key": SECRETS["api_key"]}


def test_token_storing_refuses_too(org, platform_admin, keys, settings):
    credential = services.credential_create(
        organisation=org, name="OAuth", kind="oauth2_authorization_code", created_by=platform_admin,
        config={"client_id": "c", "authorize_url": "https://id.example/authorize",
                "token_url": "https://id.example/token"},
        secret={"client_secret": SECRETS["client_secret"]},
    )
    services.credential_tokens_store(credential=credential, tokens={"access_token": "a1"}, expires_at=None)
    before = raw_columns(credential)
    keys(Fernet.generate_key().decode())
    with pytest.raises(ApplicationError) as exc:
        services.credential_tokens_store(credential=credential, tokens={"access_token": "a2"}, expires_at=None)
    assert exc.value.code == "secret_unreadable"
    assert raw_columns(credential) == before


def test_rotation_leaves_what_it_cannot_decrypt_and_recovers_it_with_the_old_key(saved_under_old_key,
                                                                                 platform_admin, api_client, keys):
    credential, old, new = saved_under_old_key
    before = raw_columns(credential)
    # A refused save first (the mistake of the issue), then a rotation with the new key alone.
    assert api_client(platform_admin).patch(
        f"/api/v1/credentials/{credential.pk}/", {"name": "x"}, format="json"
    ).status_code == 409
    counts = rotate_encryption_key()
    assert counts["unreadable"] >= 2 and counts["changed"] == 0
    assert raw_columns(credential) == before
    # The operator adds the old key behind the new one: rotation re-encrypts, the value is intact.
    keys(new, *old)
    counts = rotate_encryption_key()
    assert counts["changed"] >= 2 and counts["unreadable"] == 0
    keys(new)
    fresh = Credential.objects.get(pk=credential.pk)
    assert services.credential_secret_read(fresh) == {"key": SECRETS["api_key"]}
    # And now saving works again.
    response = api_client(platform_admin).patch(f"/api/v1/credentials/{credential.pk}/", {"name": "x"},
                                                format="json")
    assert response.status_code == 200, response.content
