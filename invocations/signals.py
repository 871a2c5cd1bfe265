"""Telling a waiting API request that an invocation changed, and waiting for it.

The worker publishes on ``invocation:<id>`` in Redis (``REDIS_URL``, or the embedded server). Each
web process holds ONE pattern subscription (``invocation:*``) on a listener thread, started on
first use in that process, which wakes the waiting requests by id. A request therefore costs no
Redis round trip and no new connection to wait (a per-request ``pubsub()`` opens and, on close,
disconnects a fresh connection: connect, handshake and SUBSCRIBE on every call). While the listener
is not subscribed (Redis restarting), the waiting request reads the row's state with short sleeps
that grow from 10 ms to 200 ms.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time

from django.conf import settings

log = logging.getLogger(__name__)
_pool = None
_pool_lock = threading.Lock()
_listener: _Listener | None = None
PATTERN = "invocation:*"


def _url() -> str:
    return getattr(settings, "INVOCATION_SIGNAL_REDIS_URL", "") or settings.REDIS_URL


def _redis():
    global _pool
    import redis

    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():
            _pool = redis.ConnectionPool.from_url(
                _url(), max_connections=1000, socket_timeout=2, socket_connect_timeout=2
            )
    return redis.Redis(connection_pool=_pool)


def channel(invocation_id) -> str:
    return f"invocation:{invocation_id}"


def publish(invocation_id) -> None:
    client = _redis()
    # A lost signal only makes a waiter look again a little later.
    with contextlib.suppress(Exception):
        client.publish(channel(invocation_id), b"1")


class _Listener:
    """One subscription per process; wakes the events registered for a channel."""

    def __init__(self, url: str):
        self.url = url
        self.pid = os.getpid()
        self.ready = threading.Event()
        self._waiters: dict[str, set[threading.Event]] = {}
        self._lock = threading.Lock()
        self._lost = False
        self._thread = threading.Thread(target=self._run, name="invocation-signals", daemon=True)
        self._thread.start()

    def add(self, name: str, event: threading.Event) -> None:
        with self._lock:
            self._waiters.setdefault(name, set()).add(event)

    def remove(self, name: str, event: threading.Event) -> None:
        with self._lock:
            events = self._waiters.get(name)
            if events is not None:
                events.discard(event)
                if not events:
                    del self._waiters[name]

    def _wake_all(self) -> None:
        with self._lock:
            events = [e for group in self._waiters.values() for e in group]
        for event in events:
            event.set()

    def _run(self) -> None:
        import redis

        while True:
            pubsub = None
            try:
                # TCP keep-alive notices a vanished server; a Unix socket is closed by the kernel.
                options = {} if self.url.startswith("unix://") else {"socket_keepalive": True}
                client = redis.Redis.from_url(self.url, health_check_interval=30, **options)
                pubsub = client.pubsub()
                pubsub.psubscribe(PATTERN)
                for message in pubsub.listen():
                    kind = message.get("type")
                    if kind == "psubscribe":
                        self.ready.set()
                        self._lost = False
                    elif kind == "pmessage":
                        name = message["channel"]
                        name = name.decode() if isinstance(name, bytes) else name
                        with self._lock:
                            events = list(self._waiters.get(name, ()))
                        for event in events:
                            event.set()
            except Exception as exc:  # Redis went away: waiters read the row until we are back
                # Said once per outage, not twice a second while Redis is away.
                (log.debug if self._lost else log.warning)(
                    "Invocation signal listener lost Redis (%s); reconnecting.", type(exc).__name__
                )
                self._lost = True
            finally:
                self.ready.clear()
                self._wake_all()
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        pubsub.close()
            time.sleep(0.5)


def _get_listener() -> _Listener:
    global _listener
    with _pool_lock:
        if _listener is None or _listener.pid != os.getpid():  # a forked web worker starts its own
            _listener = _Listener(_url())
    return _listener


def wait_until(invocation_id, done, timeout: float) -> None:
    """Call ``done()`` (a fresh look at the row) until it is true or ``timeout`` seconds passed.

    ``done`` is called first at once, then after each signal for this invocation, and at least each
    second (a lost signal costs at most that).
    """
    deadline = time.monotonic() + timeout
    listener = _get_listener()
    if listener.ready.wait(min(timeout, 2.0)):
        name, event = channel(invocation_id), threading.Event()
        # Registered first, then looked: a change between the two is not missed.
        listener.add(name, event)
        try:
            while not done():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                event.wait(min(remaining, 1.0))
                event.clear()
            return
        finally:
            listener.remove(name, event)
    pause = 0.01
    while not done():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(pause, remaining))
        pause = min(pause * 1.5, 0.2)
