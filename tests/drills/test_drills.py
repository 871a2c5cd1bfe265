"""Fault drills against the real stack (gunicorn, Celery worker processes and beat, the embedded
Redis, the test database, a counting upstream on 127.0.0.1): a worker killed with SIGKILL, Redis
killed and started again, PostgreSQL backends terminated, each in the middle of a load of creates.

Each drill counts: every invocation reaches a final state, no POST (not repeatable) reaches the
upstream twice, every succeeded call reached it, and no client saw a 500 (a 503 with Retry-After is
the answer for a request caught mid-write, and the clients try those again). The recovery figures
are short here (``FAST_RECOVERY``) and the guards generous; ``bench/drills.py`` measures the
recovery times with the default figures.
"""

import threading
import time

import pytest
from django.db import connection

from invocations.models import InvocationAttempt
from tests.drills.stack import FAST_RECOVERY, Load, as_json, outcome, terminate_database_backends, wait_all_final

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

GUARD = 120  # seconds: a hang fails the drill instead of the suite


def wait_for(predicate, timeout: float = GUARD, *, detail=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"the drill's load never got going\n{detail()}"
        time.sleep(0.05)


def run(load: Load, *, total: int, clients: int) -> threading.Thread:
    thread = threading.Thread(target=load.run, kwargs={"total": total, "clients": clients}, daemon=True)
    thread.start()
    return thread


def check(load, upstream, stack, *, allow_503: bool) -> dict:
    seconds = wait_all_final(load, GUARD)
    result = outcome(load, upstream)
    report = as_json(result) + f"\nfinal after {seconds:.1f} s\n" + stack.logs()
    assert result["errors"] == [], report
    assert result["not_final"] == 0, report
    assert result["posts_sent_twice"] == [], report
    assert result["succeeded_without_a_call"] == [], report
    assert 500 not in result["answers"], report
    assert set(result["answers"]) <= ({201, 503} if allow_503 else {201}), report
    return result


def test_a_worker_killed_mid_load(drill, counting_upstream):
    make, args = drill
    stack = make(extra_env=FAST_RECOVERY).start(workers=1, concurrency=8)
    load = Load(stack.base_url, **args)
    thread = run(load, total=60, clients=6)
    wait_for(lambda: counting_upstream.total() >= 10)
    stack.kill("worker1")  # calls in flight at the upstream, more prefetched
    stack.start_worker(concurrency=8)  # its supervisor starts it again
    thread.join(GUARD)
    result = check(load, counting_upstream, stack, allow_503=False)
    assert result["created"] == 60
    # The drill did catch calls in the middle: their attempts were closed as "worker lost".
    assert InvocationAttempt.objects.filter(error_kind="worker_lost").exists()


def test_redis_killed_and_started_again_mid_load(drill, counting_upstream):
    make, args = drill
    stack = make(extra_env=FAST_RECOVERY).start(workers=2, concurrency=8)
    load = Load(stack.base_url, **args)
    thread = run(load, total=60, clients=6)
    wait_for(lambda: counting_upstream.total() >= 10)
    stack.redis.kill()  # SIGKILL: everything it held (queued messages) is gone
    created_before = len(load.created)
    wait_for(lambda: len(load.created) >= created_before + 5)  # creates go on while Redis is away
    stack.redis.start()
    thread.join(GUARD)
    result = check(load, counting_upstream, stack, allow_503=False)
    assert result["created"] == 60


def test_postgresql_backends_terminated_mid_load(drill, counting_upstream):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (pg_terminate_backend): runs in .ci/run's second pass, with DATABASE_URL")
    make, args = drill
    # With psycopg's pool, as in production: checked connections replace the killed ones.
    stack = make(extra_env={**FAST_RECOVERY, "DB_POOL_MAX_SIZE": "4"}).start(workers=2, concurrency=8)
    load = Load(stack.base_url, **args)
    thread = run(load, total=60, clients=6)
    killed = 0
    for round_ in range(1, 4):
        wait_for(
            lambda n=round_: counting_upstream.total() >= 8 * n,
            detail=lambda: as_json(outcome(load, counting_upstream)) + stack.logs(),
        )
        killed += terminate_database_backends()
    thread.join(GUARD)
    result = check(load, counting_upstream, stack, allow_503=True)
    assert killed > 0
    assert result["created"] == 60
