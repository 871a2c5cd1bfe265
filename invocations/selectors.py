"""Reads of invocations. Each user sees only the invocations made on their behalf."""

from __future__ import annotations

from django.conf import settings
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


def invocation_get(*, user, invocation_id) -> Invocation:
    """The user's own invocation, or 404 (someone else's is not there, as far as they know)."""
    invocation = (
        Invocation.objects.select_related("connection", "operation")
        .prefetch_related("attempt_rows")
        .filter(pk=invocation_id, user=user)
        .first()
    )
    if invocation is None:
        raise Http404
    return invocation


def invocation_wait(*, user, invocation_id, wait: float) -> Invocation:
    """The invocation once it is no longer queued or running, or after ``wait`` seconds."""
    wait = max(0.0, min(float(wait or 0), settings.INVOCATION_MAX_WAIT))
    if wait:

        def done() -> bool:
            status = Invocation.objects.filter(pk=invocation_id, user=user).values_list("status", flat=True).first()
            return status is None or status not in WAITING

        from invocations.services import release_db_connection

        release_db_connection()
        signals.wait_until(invocation_id, done, wait)
    return invocation_get(user=user, invocation_id=invocation_id)
