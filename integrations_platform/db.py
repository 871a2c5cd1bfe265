"""Database faults: a dead connection is replaced, work that wrote nothing runs once more, and a
request caught in the middle of its writes answers 503 with ``Retry-After``, never 500.

Dead connections are mostly caught before use: ``CONN_HEALTH_CHECKS`` checks a kept connection
before the first query of each request and task, and with psycopg's pool ``DB_POOL_CHECKS`` (on by
default) checks each one as it leaves the pool. What remains is a connection that dies while a
request or a task uses it (a database restart, ``pg_terminate_backend``):

- :class:`DatabaseFaultMiddleware` (outermost) runs a request once more on a fresh connection if it
  failed with a connection error before sending any write statement, and otherwise answers 503 with
  ``Retry-After``;
- :func:`retry_once` does the same for a Celery task (which then fails, and the outbox or the lease
  recovery takes its row up again);
- :func:`retrying` repeats an idempotent write (a conditional UPDATE on the state it leaves) whose
  outcome a dead connection left unknown.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
import time

from django.core.signals import got_request_exception
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.http import HttpResponse

log = logging.getLogger(__name__)

CONNECTION_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 2
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "ALTER", "DROP", "TRUNCATE")
# A request body up to this size is kept in memory so that the request can run a second time.
_RETRY_BODY_MAX = 1024 * 1024


class _WriteWatch:
    """An execute wrapper that notes whether any write statement was sent."""

    def __init__(self):
        self.wrote = False

    def __call__(self, execute, sql, params, many, context):
        if not self.wrote and sql.lstrip()[:9].upper().startswith(_WRITES):
            self.wrote = True  # before sending: a write that failed may still have reached the server
        return execute(sql, params, many, context)


def reset_connections() -> None:
    """Close this thread's connections (a broken one goes back to the pool, which drops it)."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            with contextlib.suppress(Exception):
                conn.close()


def retry_once(function):
    """Run ``function`` once more on a fresh connection if it failed with a connection error before
    it sent any write statement."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        watch = _WriteWatch()
        try:
            with connections[DEFAULT_DB_ALIAS].execute_wrapper(watch):
                return function(*args, **kwargs)
        except CONNECTION_ERRORS as exc:
            if watch.wrote or connections[DEFAULT_DB_ALIAS].in_atomic_block:
                reset_connections()
                raise
            log.warning("%s lost its database connection before writing (%s); running it again.",
                        function.__qualname__, exc)
        reset_connections()
        return function(*args, **kwargs)

    return wrapper


def retrying(function, *, attempts: int = 3, pause: float = 0.5):
    """Call ``function()`` up to ``attempts`` times while it fails with a connection error; only for
    idempotent work (a second run after an unknown outcome must change nothing)."""
    for attempt in range(1, attempts + 1):
        try:
            return function()
        except CONNECTION_ERRORS as exc:
            reset_connections()
            if attempt == attempts or connections[DEFAULT_DB_ALIAS].in_atomic_block:
                raise
            log.warning("Database connection lost (%s); trying again.", exc)
            time.sleep(pause * attempt)
    return None


def unavailable_response(request) -> HttpResponse:
    if request.path.startswith("/api/") or "json" in request.META.get("HTTP_ACCEPT", ""):
        body = {
            "message": "The database connection was lost in the middle of this request; its changes were not saved."
            " Try again.",
            "errors": {},
        }
        response = HttpResponse(json.dumps(body), status=503, content_type="application/json")
    else:
        response = HttpResponse(
            "<h1>Service briefly unavailable</h1><p>The database connection was lost in the middle of this"
            " request; its changes were not saved. Try again.</p>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseFaultMiddleware:
    """Outermost middleware: see the module's docstring."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = str(request.META.get("CONTENT_LENGTH") or "0")
        size = int(length) if length.isdigit() else _RETRY_BODY_MAX + 1
        can_repeat = size <= _RETRY_BODY_MAX
        if can_repeat and size:
            with contextlib.suppress(Exception):
                request.body  # noqa: B018  read once, kept in memory: a second run reads it again
        for attempt in (1, 2):
            watch = _WriteWatch()
            with connections[DEFAULT_DB_ALIAS].execute_wrapper(watch):
                response = self.get_response(request)
            fault = request.__dict__.pop("_database_fault", None)
            if fault is None:
                return response
            reset_connections()
            if attempt == 1 and can_repeat and not watch.wrote:
                log.warning("%s %s lost its database connection before writing (%s); running it again.",
                            request.method, request.path, fault)
                continue
            log.warning("%s %s lost its database connection (%s); answered 503.", request.method, request.path, fault)
            return unavailable_response(request)
        return response  # not reached

    def process_exception(self, request, exception):
        if isinstance(exception, CONNECTION_ERRORS):
            request._database_fault = exception
            return unavailable_response(request)
        return None


def _note_fault(sender, request=None, **kwargs) -> None:
    """An exception that became a 500 anywhere inside the middleware: note a connection error."""
    exc = sys.exc_info()[1]
    if request is not None and isinstance(exc, CONNECTION_ERRORS):
        request._database_fault = exc


got_request_exception.connect(_note_fault, dispatch_uid="integrations_platform.db.note_fault")
