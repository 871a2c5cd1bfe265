"""Leases of running invocations, renewed while their worker lives.

A worker claims a call with a lease of ``INVOCATION_LEASE_SECONDS`` (30 s). One thread in each
worker process renews the leases of the calls that process has in flight every
``INVOCATION_LEASE_RENEW_EVERY`` (10 s), up to the call's hard limit (connect + 2 × read timeout +
``INVOCATION_LEASE_MARGIN`` from its last attempt's start, the longest a live call can take). A
killed worker renews nothing: its leases run out at most 30 s after the kill, and the recovery
check, every ``INVOCATION_RECOVER_EVERY`` (10 s), re-queues its repeatable calls and fails the
others within 40 s of the kill.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

log = logging.getLogger(__name__)

_lock = threading.Lock()
# invocation id -> (monotonic hard limit, the thread that claimed it)
_held: dict[str, tuple[float, int]] = {}
_thread: threading.Thread | None = None
_thread_pid: int | None = None


def lease_seconds() -> float:
    return float(getattr(settings, "INVOCATION_LEASE_SECONDS", 30))


def lease_until(now=None):
    return (now or timezone.now()) + timedelta(seconds=lease_seconds())


@contextlib.contextmanager
def hold(invocation_id):
    """While the block runs, renew the lease this thread :func:`extend`-ed for ``invocation_id``
    (after claiming it); stop when it ends. A second message for the same call, skipped in another
    thread of the same process, leaves the claimer's lease alone."""
    key = str(invocation_id)
    try:
        yield
    finally:
        with _lock:
            if key in _held and _held[key][1] == threading.get_ident():
                del _held[key]


def extend(invocation_id, *, hard_limit: float) -> None:
    """This thread claimed the call, or starts a new attempt: renew its lease for ``hard_limit`` seconds."""
    _ensure_thread()
    with _lock:
        _held[str(invocation_id)] = (time.monotonic() + hard_limit, threading.get_ident())


def renew_once() -> int:
    """Move the lease of every call in flight in this process forward. Answers how many rows moved."""
    from invocations.models import Invocation

    now = time.monotonic()
    with _lock:
        ids = [key for key, (limit, _) in _held.items() if limit > now]
    if not ids:
        return 0
    try:
        return Invocation.objects.filter(pk__in=ids, status=Invocation.Status.RUNNING).update(
            lease_until=lease_until()
        )
    finally:
        with contextlib.suppress(Exception):
            connection.close()


def _run() -> None:
    every = float(getattr(settings, "INVOCATION_LEASE_RENEW_EVERY", 10))
    while True:
        time.sleep(every)
        try:
            renew_once()
        except Exception as exc:  # the database is away: try again at the next tick
            log.warning("Could not renew invocation leases (%s: %s).", type(exc).__name__, exc)


def _ensure_thread() -> None:
    global _thread, _thread_pid
    with _lock:
        if _thread is not None and _thread_pid == os.getpid() and _thread.is_alive():
            return
        _thread_pid = os.getpid()
        _thread = threading.Thread(target=_run, name="invocation-leases", daemon=True)
        _thread.start()
