"""Reads of invocations. Each user sees only the invocations made on their behalf."""

from __future__ import annotations

from django.conf import settings
from django.db.models import prefetch_related_objects
from django.http import Http404

from invocations import signals
from invocations.models import Invocation

WAITING = {Invocation.Status.QUEUED, Invocation.Status.RUNNING}


def invocation_list(*, user, status: str | None = None, connection=None, since=None, until=None):
    qs = Invocation.objects.filter(user=user).select_related("connection", "operation")
    if status:
        qs = qs.filter(status=status)
    if connection:
        qs = qs.filter(connection_id=connection)
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-created_at", "-pk")


def _one(*, user, invocation_id):
    return Invocation.objects.select_related("connection", "operation").filter(pk=invocation_id, user=user)


def invocation_get(*, user, invocation_id) -> Invocation:
    """The user's own invocation, or 404 (someone else's is not there, as far as they know)."""
    invocation = _one(user=user, invocation_id=invocation_id).prefetch_related("attempt_rows").first()
    if invocation is None:
        raise Http404
    return invocation


def invocation_wait(*, user, invocation_id, wait: float) -> Invocation:
    """The invocation once it is no longer queued or running, or after ``wait`` seconds.

    Each look reads the whole row; the last one, when final, is the answer (no second read). While
    it waits, the request holds no pooled database connection.
    """
    from invocations.services import release_db_connection

    wait = max(0.0, min(float(wait or 0), settings.INVOCATION_MAX_WAIT))
    if not wait:
        return invocation_get(user=user, invocation_id=invocation_id)
    seen: dict = {}

    def done() -> bool:
        invocation = _one(user=user, invocation_id=invocation_id).first()
        if invocation is None or invocation.status not in WAITING:
            seen["final"] = invocation
            return True
        release_db_connection()
        return False

    signals.wait_until(invocation_id, done, wait)
    if "final" not in seen:  # timed out: answer the state as it is now
        return invocation_get(user=user, invocation_id=invocation_id)
    invocation = seen["final"]
    if invocation is None:
        raise Http404
    prefetch_related_objects([invocation], "attempt_rows")
    return invocation
