"""A worker process killed (SIGKILL) while the upstream holds its call, then the recovery check."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from invocations import services
from invocations.models import Invocation
from invocations.tasks import invocation_execute
from tests.invocations.conftest import wait_final
from tests.invocations.upstream import Answer
from tests.processes import child_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
QUEUE = "worker-lost-test"


def start_worker_process(upstream, **extra_env: str) -> subprocess.Popen:
    env = child_env(VAR_DIR=str(settings.VAR_DIR), OUTGOING_ALLOWED_ADDRESSES=upstream.address, **extra_env)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "integrations_platform",
            "worker",
            "-P",
            "threads",
            "-c",
            "2",
            "-Q",
            QUEUE,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_and_kill(upstream, invocation) -> None:
    hold = threading.Event()
    upstream.answer(Answer(hold=hold))
    worker = start_worker_process(upstream)
    try:
        invocation_execute.apply_async((str(invocation.pk),), queue=QUEUE)
        assert upstream.arrived.wait(60), "the worker process never made the call"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(30)
        hold.set()
    assert Invocation.objects.get(pk=invocation.pk).status == "running"


def queued(designer, tool, arguments, **kwargs) -> Invocation:
    return Invocation.objects.create(
        user=designer,
        organisation=designer.organisation,
        connection=tool.connection,
        operation=tool.operation,
        arguments=arguments,
        status="queued",
        queued_at=timezone.now(),
        **kwargs,
    )


def test_lost_repeatable_call_is_requeued_and_completes_once(celery_worker, designer, make_tool, upstream):
    tool = make_tool(method="GET", path="/report")
    invocation = queued(designer, tool, {}, repeatable=True)
    run_and_kill(upstream, invocation)

    assert services.invocations_recover_lost() == {"requeued": 0, "failed": 0}  # the lease still holds
    outcome = services.invocations_recover_lost(now=timezone.now() + timedelta(hours=1))
    assert outcome == {"requeued": 1, "failed": 0}
    final = wait_final(invocation.pk)
    assert final.status == "succeeded"
    assert len(upstream.hits) == 2
    time.sleep(0.3)
    assert Invocation.objects.get(pk=invocation.pk).status == "succeeded"
    assert list(final.attempt_rows.values_list("error_kind", flat=True)) == ["worker_lost", ""]


def test_lost_non_repeatable_call_fails_and_is_never_sent_again(celery_worker, designer, make_tool, upstream):
    tool = make_tool(method="POST", path="/pay", request_body={"content_type": "application/json"})
    invocation = queued(designer, tool, {"body": {"amount": 1}}, repeatable=False)
    run_and_kill(upstream, invocation)

    outcome = services.invocations_recover_lost(now=timezone.now() + timedelta(hours=1))
    assert outcome == {"requeued": 0, "failed": 1}
    final = Invocation.objects.get(pk=invocation.pk)
    assert final.status == "failed"
    assert final.error["kind"] == "worker_lost"
    time.sleep(0.5)
    assert len(upstream.hits) == 1


def test_a_queued_call_whose_message_was_lost_is_sent_again_and_runs_once(celery_worker, designer, make_tool, upstream):
    tool = make_tool(method="GET", path="/report")
    # A row saved as queued whose task message never reached a worker.
    invocation = queued(designer, tool, {}, repeatable=True)
    Invocation.objects.filter(pk=invocation.pk).update(queued_at=timezone.now() - timedelta(hours=1))
    assert services.invocations_dispatch() == 1
    final = wait_final(invocation.pk)
    assert final.status == "succeeded"
    assert len(upstream.hits) == 1
