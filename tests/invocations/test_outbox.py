"""The outbox: a create or a confirmation while Redis cannot be reached answers as usual (the row is
saved, queued), and the dispatcher sends the task once Redis is back; a second message is harmless."""

import contextlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations_platform import outbox
from integrations_platform.celery import app
from invocations import services
from invocations.models import Invocation
from tests.conftest import api_client_for
from tests.invocations.conftest import wait_final

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/invocations/"


@contextlib.contextmanager
def broker_unreachable():
    """Tasks sent from this process go to an address where nothing listens (port 1 refuses at once):
    a real failed connection, as when Redis is down. Workers keep their own connection."""
    saved = app.conf.broker_write_url, app._pool, app.amqp._producer_pool
    app.conf.broker_write_url = "redis://127.0.0.1:1/0"
    app._pool = app.amqp._producer_pool = None
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            app.pool.force_close_all()
        app.conf.broker_write_url, app._pool, app.amqp._producer_pool = saved


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def test_create_while_redis_is_down_answers_201_queued_and_the_dispatcher_sends_it(
    celery_worker, designer, make_tool, upstream
):
    tool = make_tool(method="POST", path="/orders", request_body={"content_type": "application/json"})
    client = api_client_for(designer)
    client.raise_request_exception = False
    with broker_unreachable(), CaptureQueriesContext(connection) as queries:
        response = client.post(URL, tool.body({"body": {"n": 1}}), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "queued"
    invocation = Invocation.objects.get(pk=response.json()["id"])
    assert invocation.status == "queued" and invocation.dispatch_at is not None
    # Nothing is written after the send (the row, its audit entry, the API key's use: then reads).
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].split()[0] in {"INSERT", "UPDATE", "DELETE"}]
    assert len(writes) <= 3, writes
    assert upstream.hits == []

    assert services.invocations_dispatch() == 0  # not yet due: a worker may still be about to take it
    assert services.invocations_dispatch(now=later(6)) == 1
    assert wait_final(invocation.pk).status == "succeeded"
    assert len(upstream.hits) == 1
    assert services.invocations_dispatch(now=later(600)) == 0  # claimed and done: nothing to send


def test_confirmation_while_redis_is_down_is_sent_by_the_dispatcher(celery_worker, designer, make_tool, upstream):
    tool = make_tool(method="GET", path="/report", requires_confirmation=True)
    client = api_client_for(designer)
    client.raise_request_exception = False
    created = client.post(URL, tool.body(), format="json")
    assert created.json()["status"] == "awaiting_confirmation"
    with broker_unreachable():
        confirmed = client.post(f"{URL}{created.json()['id']}/confirm/")
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["status"] == "queued"
    assert services.invocations_dispatch(now=later(6)) == 1
    assert wait_final(created.json()["id"]).status == "succeeded"
    assert len(upstream.hits) == 1


class Sent:
    """Stands in for the task in this one test: it only records what the dispatcher would send, so
    that no worker of the session takes the row while its timing is looked at."""

    name = "recorder"

    def __init__(self):
        self.args = []

    def apply_async(self, args, **options):
        self.args.append(args)


def test_a_row_waiting_behind_a_busy_queue_is_sent_again_less_and_less_often(designer, make_tool):
    tool = make_tool(method="GET", path="/report")
    invocation = Invocation.objects.create(
        user=designer, organisation=designer.organisation, connection=tool.connection, operation=tool.operation,
        status="queued", queued_at=timezone.now(),
    )
    invocation.refresh_from_db()
    start, task = invocation.queued_at, Sent()
    waiting = Invocation.objects.filter(status="queued")

    def dispatch(seconds):
        before = len(task.args)
        outbox.redispatch(queryset=waiting, task=task, since_field="queued_at", now=start + timedelta(seconds=seconds))
        return len(task.args) - before

    assert dispatch(4) == 0  # no dispatch_at yet: due 5 s after it was queued
    assert dispatch(6) == 1
    assert dispatch(8) == 0
    assert dispatch(13) == 1  # 6 s after the last send (as long as it had waited)
    assert dispatch(20) == 0  # now it waits 13 s
    assert dispatch(27) == 1
    assert dispatch(200) == 1
    assert dispatch(250) == 0  # never more than a minute apart
    assert dispatch(261) == 1
    assert task.args == [(str(invocation.pk),)] * 5


def test_two_messages_for_one_row_make_one_call(celery_worker, designer, make_tool, upstream):
    tool = make_tool(method="POST", path="/pay", request_body={"content_type": "application/json"})
    invocation = services.invocation_create(user=designer, connection=tool.connection, operation=tool.operation,
                                            arguments={"body": {"amount": 1}})
    assert services.invocations_dispatch(now=later(6)) == 1  # a second message beside the first
    assert wait_final(invocation.pk).status == "succeeded"
    assert len(upstream.hits) == 1


def test_the_defaults_recover_a_lost_worker_within_a_minute(settings):
    assert settings.INVOCATION_LEASE_RENEW_EVERY * 2 <= settings.INVOCATION_LEASE_SECONDS
    assert settings.INVOCATION_LEASE_SECONDS + settings.INVOCATION_RECOVER_EVERY <= 60
    assert settings.OUTBOX_DISPATCH_AFTER + settings.INVOCATION_DISPATCH_EVERY <= 10
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["invocations-dispatch"]["schedule"] == settings.INVOCATION_DISPATCH_EVERY
    assert schedule["invocations-recover-lost"]["schedule"] == settings.INVOCATION_RECOVER_EVERY
