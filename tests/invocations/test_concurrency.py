"""Concurrent decisions and creates through the API, with the real worker: no 5xx, exactly one outcome.

On SQLite (the default, and ``DATABASE_URL=sqlite:///path``, which the last test runs in a child
test session) the web threads and the worker share one file: this is where "database is locked"
turned into 500s.
"""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection, connections

from invocations.models import Invocation
from tests.conftest import api_client_for
from tests.invocations.conftest import wait_final

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

URL = "/api/v1/invocations/"
ROOT = Path(__file__).resolve().parents[2]


def together(count: int, call) -> list:
    """``call(i)`` from ``count`` threads released at once; answers the results in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i):
        try:
            barrier.wait(30)
            results[i] = call(i)
        except Exception as exc:  # the test asserts on it
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def client(user):
    c = api_client_for(user)
    c.raise_request_exception = False  # a server error is an answer to count, not an exception here
    return c


def test_six_concurrent_decisions_on_one_call_have_one_outcome(celery_worker, designer, make_tool, upstream):
    tool = make_tool(method="POST", path="/pay", request_body={"content_type": "application/json"},
                     requires_confirmation=True)
    created = client(designer).post(URL, tool.body({"body": {"amount": 1}}), format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    clients = [client(designer) for _ in range(6)]

    def decide(i):
        verb = "confirm" if i % 2 == 0 else "reject"
        return clients[i].post(f"{URL}{pk}/{verb}/").status_code

    codes = together(6, decide)
    assert all(isinstance(c, int) for c in codes), codes
    assert sorted(codes) == [200, 409, 409, 409, 409, 409], codes
    final = wait_final(pk)
    assert final.status in {"succeeded", "rejected"}
    assert len(upstream.hits) == (1 if final.status == "succeeded" else 0)


def test_concurrent_creates_all_answer_201_and_each_runs_once(celery_worker, designer, make_tool, upstream):
    tool = make_tool(method="POST", path="/orders", request_body={"content_type": "application/json"})
    clients = [client(designer) for _ in range(8)]

    def create(i):
        # Half of them share one idempotency key: those make one call between them.
        extra = {"idempotency_key": "shared"} if i % 2 == 0 else {}
        response = clients[i].post(URL, tool.body({"body": {"n": 0 if i % 2 == 0 else i}}, **extra), format="json")
        return response.status_code, response.json().get("id") if response.status_code < 500 else None

    results = together(8, create)
    assert all(isinstance(r, tuple) for r in results), results
    assert [code for code, _ in results] == [201] * 8, results
    ids = {pk for _, pk in results}
    assert len(ids) == 5  # four without a key, one shared
    for pk in ids:
        assert wait_final(pk).status == "succeeded"
    assert Invocation.objects.count() == 5
    assert sorted(hit.json()["n"] for hit in upstream.hits) == [0, 1, 3, 5, 7]


@pytest.mark.skipif(os.environ.get("DATABASE_URL", "").startswith("sqlite"), reason="this is the child session")
def test_the_same_with_database_url_sqlite(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: runs the tests above with DATABASE_URL=sqlite:///path")
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_ENV"}}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "VAR_DIR": str(tmp_path / "var")})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", __file__, "-k", "not database_url"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout
