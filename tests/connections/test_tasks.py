"""The periodic token refresh, run by a real Celery worker."""

import datetime as dt
import time

import pytest
from django.conf import settings
from django.utils import timezone

from connections import services
from connections.models import Credential
from connections.tasks import refresh_expiring_tokens
from tests.connections.conftest import SECRETS
from tests.connections.oauth_server import OAuthTestServer


def test_beat_schedule_has_the_refresh_task():
    entry = settings.CELERY_BEAT_SCHEDULE["connections-refresh-expiring-tokens"]
    assert entry["task"] == refresh_expiring_tokens.name


@pytest.mark.django_db(transaction=True)
def test_worker_refreshes_expiring_tokens_once(org, platform_admin, celery_worker, monkeypatch, settings):
    with OAuthTestServer() as server:
        settings.OUTGOING_ALLOWED_ADDRESSES = [server.address]
        server.add_client("cc", SECRETS["client_secret"], [], ["client_credentials"])
        credential = services.credential_create(
            organisation=org, name="cc", kind="oauth2_client_credentials", created_by=platform_admin,
            config={"client_id": "cc", "token_url": server.url + "/token"},
            secret={"client_secret": SECRETS["client_secret"]},
        )
        services.credential_tokens_store(
            credential=credential, tokens={"access_token": "old"}, expires_at=timezone.now() + dt.timedelta(seconds=5)
        )
        version = Credential.objects.get(pk=credential.pk).token_version
        # Two runs at once (as two beat ticks on two workers could): one token request.
        refresh_expiring_tokens.delay()
        refresh_expiring_tokens.delay()
        deadline = time.monotonic() + 60
        while Credential.objects.get(pk=credential.pk).token_version == version:
            assert time.monotonic() < deadline, "the worker did not refresh the token"
            time.sleep(0.1)
        time.sleep(0.5)
        credential.refresh_from_db()
        assert credential.token_version == version + 1
        assert services.credential_tokens_read(credential)["access_token"] != "old"
        assert server.token_request_count == 1
