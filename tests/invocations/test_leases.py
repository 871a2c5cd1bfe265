"""A live worker renews the lease of its call in flight, so the recovery check leaves a long call
alone; a killed worker renews nothing (test_worker_lost.py)."""

import threading
import time

import pytest

from invocations import leases, services
from invocations.models import Invocation
from invocations.tasks import invocation_execute
from tests.invocations.conftest import wait_final
from tests.invocations.test_worker_lost import QUEUE, queued, start_worker_process
from tests.invocations.upstream import Answer


def test_a_skipped_second_message_leaves_the_claimers_lease_alone():
    claimed, skipped = threading.Event(), threading.Event()

    def claimer():
        with leases.hold("x"):
            leases.extend("x", hard_limit=60)
            claimed.set()
            skipped.wait(10)

    thread = threading.Thread(target=claimer)
    thread.start()
    assert claimed.wait(10)
    with leases.hold("x"):  # another thread of the same process: its message found nothing to claim
        pass
    assert "x" in leases._held
    skipped.set()
    thread.join(10)
    assert "x" not in leases._held


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_live_worker_renews_its_lease_past_the_lease_length(celery_worker, designer, make_tool, upstream, settings):
    tool = make_tool(method="POST", path="/pay", request_body={"content_type": "application/json"})
    invocation = queued(designer, tool, {"body": {"amount": 1}}, repeatable=False)
    hold = threading.Event()
    upstream.answer(Answer(hold=hold))
    worker = start_worker_process(upstream, INVOCATION_LEASE_SECONDS="2", INVOCATION_LEASE_RENEW_EVERY="0.3")
    try:
        invocation_execute.apply_async((str(invocation.pk),), queue=QUEUE)
        assert upstream.arrived.wait(60), "the worker process never made the call"
        first = Invocation.objects.get(pk=invocation.pk).lease_until
        deadline = time.monotonic() + 60
        while Invocation.objects.get(pk=invocation.pk).lease_until <= first:  # renewed by the live worker
            assert time.monotonic() < deadline, "the lease was never renewed"
            time.sleep(0.1)
        # Past the first lease's end, the call still holds a lease: recovery leaves it alone.
        while Invocation.objects.get(pk=invocation.pk).lease_until.timestamp() < first.timestamp() + 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert services.invocations_recover_lost() == {"requeued": 0, "failed": 0}
        hold.set()
        assert wait_final(invocation.pk).status == "succeeded"
        assert len(upstream.hits) == 1
    finally:
        hold.set()
        worker.kill()
        worker.wait(30)
