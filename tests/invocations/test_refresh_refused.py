"""A token refresh the provider refuses, with calls in flight: every call fails at once with the
reason (never left ``running``), and concurrent 401s send one token request, not one each.

The upstream is a real server on 127.0.0.1 that answers 401; the OAuth2 provider is the Authlib
authorization server of ``tests/connections/oauth_server.py``, refusing the refresh token."""

import datetime as dt
import threading
import time

import pytest
from django.db import connections as db_connections
from django.utils import timezone

from connections import services as connections
from connections.models import Connection
from integrations_platform.errors import ApplicationError
from invocations import services
from invocations.models import Invocation
from tests.connections.conftest import SECRETS
from tests.connections.oauth_server import OAuthTestServer
from tests.invocations.conftest import add_credential, wait_final
from tests.invocations.upstream import Answer

pytestmark = pytest.mark.django_db(transaction=True)

ACCESS_TOKEN = "at-STALE-0123456789"
REFRESH_TOKEN = "rt-REFUSED-9876543210"


@pytest.fixture
def auth_server(upstream, settings, monkeypatch):
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    with OAuthTestServer() as server:
        settings.OUTGOING_ALLOWED_ADDRESSES = [*settings.OUTGOING_ALLOWED_ADDRESSES, server.address]
        server.add_client("platform-client", SECRETS["client_secret"], [], ["authorization_code", "refresh_token"])
        server.state.refuse_refresh = True
        yield server


def connect_oauth(connection, server):
    """An authorization-code credential on the connection, connected earlier: its access token is
    what the upstream now refuses, its refresh token what the provider refuses."""
    credential = add_credential(
        connection, "oauth2_authorization_code",
        config={"client_id": "platform-client", "authorize_url": server.url + "/authorize",
                "token_url": server.url + "/token"},
        secret={"client_secret": SECRETS["client_secret"]},
    )
    connections.credential_tokens_store(
        credential=credential,
        tokens={"access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN, "token_type": "Bearer"},
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    return credential


def refresh_requests(server) -> list[dict]:
    return [r for r in server.state.token_requests if r.get("grant_type") == "refresh_token"]


def assert_failed_for_reauthorisation(invocation: Invocation) -> None:
    assert invocation.status == "failed", (invocation.status, invocation.error)
    assert invocation.error["kind"] == "needs_reauthorisation", invocation.error
    message = invocation.error["message"]
    assert message.startswith("The connection needs re-authorisation") and "invalid_grant" in message
    assert invocation.lease_until is None and invocation.finished_at is not None
    for value in (ACCESS_TOKEN, REFRESH_TOKEN, SECRETS["client_secret"]):
        assert value not in str(invocation.error) and value not in str(invocation.result)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_refused_refresh_fails_the_call_at_once(celery_worker, designer, make_tool, upstream, auth_server, method):
    tool = make_tool(method=method, path="/things")
    connect_oauth(tool.connection, auth_server)
    upstream.default = Answer(status=401, body={"error": "invalid_token"})

    invocation = services.invocation_create(
        user=designer, connection=tool.connection, operation=tool.operation, arguments={}
    )
    assert invocation.repeatable is (method == "GET")
    final = wait_final(invocation.pk)

    assert_failed_for_reauthorisation(final)
    # Sent once, refused before acting; the refresh was refused: nothing is sent again.
    assert len(upstream.hits) == 1 and final.attempts == 1
    assert [a.status_code for a in final.attempt_rows.all()] == [401]
    assert final.result["status_code"] == 401
    assert len(refresh_requests(auth_server)) == 1
    connection = Connection.objects.get(pk=tool.connection.pk)
    assert connection.status == Connection.Status.NEEDS_REAUTHORISATION
    # The lost-worker check has nothing to recover.
    recovered = services.invocations_recover_lost(now=timezone.now() + dt.timedelta(hours=1))
    assert recovered["requeued"] == recovered["failed"] == 0


def test_five_concurrent_401s_with_a_refused_refresh_send_one_token_request(designer, make_tool, upstream,
                                                                            auth_server):
    tool = make_tool(method="GET", path="/things")
    credential = connect_oauth(tool.connection, auth_server)
    # The upstream holds every call until all five arrived, then refuses each token: five workers
    # see a 401 for the same token version at once.
    hold = threading.Event()
    upstream.answer(*[Answer(status=401, body={"error": "invalid_token"}, hold=hold) for _ in range(5)])
    # The token endpoint is slow, so the other four are waiting on the first one's refresh.
    auth_server.state.token_delay = 0.3

    invocations = [
        services.invocation_create(user=designer, connection=tool.connection, operation=tool.operation, arguments={})
        for _ in range(5)
    ]
    errors = []

    def worker(pk):
        try:
            services.invocation_execute(invocation_id=pk, worker="test")
        except Exception as exc:  # recorded: the assertions below say what went wrong
            errors.append(exc)
        finally:
            db_connections.close_all()

    threads = [threading.Thread(target=worker, args=(i.pk,)) for i in invocations]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(upstream.hits) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    hold.set()
    for t in threads:
        t.join(timeout=60)
    # (A Celery worker of this test session, if one runs, may have taken some of the rows: wait
    # for every row, not only for the threads.)
    finals = [wait_final(invocation.pk) for invocation in invocations]

    assert len(refresh_requests(auth_server)) == 1, refresh_requests(auth_server)
    assert not errors, errors
    assert len(upstream.hits) == 5
    for final in finals:
        assert_failed_for_reauthorisation(final)
    credential.refresh_from_db()
    assert credential.token_refresh_claimed_until is None
    # Later calls are refused before anything is sent, and no token request is made for them.
    with pytest.raises(ApplicationError) as exc:
        services.invocation_create(user=designer, connection=tool.connection.pk, operation=tool.operation.name,
                                   arguments={})
    assert "re-authorisation" in exc.value.message
    assert len(refresh_requests(auth_server)) == 1
