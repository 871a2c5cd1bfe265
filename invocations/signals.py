"""Telling a waiting API request that an invocation changed, and waiting for it.

With Redis (``REDIS_URL``) the worker publishes on ``invocation:<id>`` and the waiting request
sleeps on a subscription; without it (SQLite and the filesystem broker) the waiting request
reads the row's state with short sleeps that grow from 10 ms to 200 ms.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from django.conf import settings

log = logging.getLogger(__name__)
_pool = None
_pool_lock = threading.Lock()


def _redis():
    global _pool
    if not settings.REDIS_URL:
        return None
    import redis

    with _pool_lock:
        if _pool is None:
            _pool = redis.ConnectionPool.from_url(
                getattr(settings, "INVOCATION_SIGNAL_REDIS_URL", "") or settings.REDIS_URL, max_connections=1000
            )
    return redis.Redis(connection_pool=_pool)


def channel(invocation_id) -> str:
    return f"invocation:{invocation_id}"


def publish(invocation_id) -> None:
    client = _redis()
    if client is None:
        return
    # A lost signal only makes a waiter look again a little later.
    with contextlib.suppress(Exception):
        client.publish(channel(invocation_id), b"1")


def _done_and_release(done) -> bool:
    from invocations.services import release_db_connection

    result = done()
    release_db_connection()
    return result


def wait_until(invocation_id, done, timeout: float) -> None:
    """Call ``done()`` (a fresh look at the row) until it is true or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    client = _redis()
    if client is not None:
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(channel(invocation_id))
            # Subscribed first, then looked: a change between the two is not missed.
            while not _done_and_release(done):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                # Wake at least each second: a missed message costs at most that.
                pubsub.get_message(timeout=min(remaining, 1.0))
            return
        except Exception as exc:  # fall back to polling when Redis is unavailable
            log.warning("Waiting through Redis failed (%s); polling instead.", type(exc).__name__)
        finally:
            with contextlib.suppress(Exception):
                pubsub.close()
    pause = 0.01
    while not done():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(pause, remaining))
        pause = min(pause * 1.5, 0.2)
