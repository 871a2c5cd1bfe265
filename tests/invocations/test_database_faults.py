"""A database connection killed with ``pg_terminate_backend`` in the middle of a request or a task:
work that wrote nothing runs again on a fresh connection, a request caught mid-write answers 503
with Retry-After (never 500), and every request and task after it succeeds."""

from __future__ import annotations

import contextlib

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from invocations.models import Invocation
from invocations.tasks import invocation_execute
from tests.conftest import api_client_for
from tests.invocations.conftest import wait_final

pytestmark = [pytest.mark.django_db(transaction=True)]

URL = "/api/v1/invocations/"


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (pg_terminate_backend): runs in .ci/run's second pass, with DATABASE_URL")


def _terminate(pids) -> None:
    """pg_terminate_backend from a connection of its own, as an operator or a failover would."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])


@contextlib.contextmanager
def kill_connection_at(predicate):
    """Terminate this thread's backend just before the first statement for which ``predicate(sql)``."""
    done = []

    def wrapper(execute, sql, params, many, context):
        if not done and predicate(sql):
            done.append(sql)
            _terminate([context["connection"].connection.info.backend_pid])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield done


def client_for(user):
    client = api_client_for(user)
    client.raise_request_exception = False
    return client


def test_a_request_whose_connection_dies_before_it_writes_runs_again(designer, make_tool, upstream):
    make_tool(method="GET", path="/report")
    client = client_for(designer)
    client.get(URL)  # the API key's first use is written now, not in the request under test
    with kill_connection_at(lambda sql: sql.lstrip().upper().startswith("SELECT")) as killed:
        response = client.get(URL)
    assert killed, "the connection was not killed"
    assert response.status_code == 200, response.content


def test_a_request_caught_mid_write_answers_503_and_the_next_one_succeeds(
    celery_worker, designer, make_tool, upstream
):
    tool = make_tool(method="POST", path="/orders", request_body={"content_type": "application/json"})
    client = client_for(designer)
    with kill_connection_at(lambda sql: sql.startswith('INSERT INTO "invocations_invocation"')) as k:
        response = client.post(URL, tool.body({"body": {"n": 1}}), format="json")
    assert k, "the connection was not killed"
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "2"
    assert "not saved" in response.json()["message"]
    assert Invocation.objects.count() == 0  # the transaction died with its connection
    response = client.post(URL, tool.body({"body": {"n": 2}}), format="json")
    assert response.status_code == 201, response.content
    assert wait_final(response.json()["id"]).status == "succeeded"
    assert [hit.json()["n"] for hit in upstream.hits] == [2]


def test_a_task_whose_connection_dies_before_the_claim_runs_again(designer, make_tool, upstream):
    tool = make_tool(method="POST", path="/pay", request_body={"content_type": "application/json"})
    # A queued row whose message this test delivers itself (no other worker may take it first).
    invocation = Invocation.objects.create(
        user=designer, organisation=designer.organisation, connection=tool.connection, operation=tool.operation,
        arguments={"body": {"amount": 1}}, status="queued", queued_at=timezone.now(),
    )
    with kill_connection_at(lambda sql: sql.lstrip().upper().startswith("SELECT")) as killed:
        outcome = invocation_execute.apply((str(invocation.pk),)).get()  # in this thread, on this connection
    assert killed
    assert outcome == "succeeded"
    assert Invocation.objects.get(pk=invocation.pk).status == "succeeded"
    assert len(upstream.hits) == 1


def test_after_every_backend_of_the_test_database_is_terminated_requests_and_tasks_succeed(
    celery_worker, designer, make_tool, upstream
):
    tool = make_tool(method="GET", path="/report")
    client = client_for(designer)
    first = client.post(URL, tool.body(wait=10), format="json")
    assert first.json()["status"] == "succeeded"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        backends = [pid for (pid,) in cursor.fetchall()]
    _terminate(backends)  # this thread's connection (the web side's) among them
    codes = []
    for _ in range(5):
        response = client.post(URL, tool.body(wait=10), format="json")
        codes.append((response.status_code, response.json().get("status")))
    assert codes == [(201, "succeeded")] * 5, codes
    assert len(upstream.hits) == 6
