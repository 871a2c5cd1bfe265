"""Sending work to the workers: at-least-once sending, exactly-once claiming.

A row that a worker must pick up (an invocation in ``queued``; later a process run) is saved in its
waiting state together with ``dispatch_at``, the time at which the dispatcher looks at it again,
in the same transaction. The task message (the row's id only) is sent after commit by
:func:`send_on_commit`; when the send fails (Redis down or restarting) the error is logged and the
request answers as usual: nothing is written after the send. The dispatcher, a beat task every
few seconds, calls :func:`redispatch`, which sends the task again for each row still waiting past
its ``dispatch_at`` and moves ``dispatch_at`` on by as long as the row has already waited (at least
``OUTBOX_DISPATCH_AFTER``, at most ``OUTBOX_DISPATCH_MAX_DELAY``), so a row that merely waits
behind a busy queue is not sent over and over. The worker claims a row with a conditional UPDATE on
its waiting state, so a second message for the same row finds nothing to claim and does nothing.

To use it for another model: give it a nullable ``dispatch_at`` and a ``*_at`` field saying since
when it waits, set ``dispatch_at = first_dispatch_at()`` where the row starts waiting, send with
:func:`send_on_commit`, clear ``dispatch_at`` in the claim, and call :func:`redispatch` from a
periodic task with a queryset of the rows that wait for a worker.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

log = logging.getLogger(__name__)


def dispatch_after() -> float:
    return float(getattr(settings, "OUTBOX_DISPATCH_AFTER", 5.0))


def first_dispatch_at(now: datetime | None = None) -> datetime:
    """When the dispatcher looks at a row that starts waiting ``now``."""
    return (now or timezone.now()) + timedelta(seconds=dispatch_after())


def send(task, args: tuple, **options) -> bool:
    """Send one task message; a broker failure is logged, not raised (the dispatcher sends it again)."""
    try:
        task.apply_async(args, **options)
    except Exception as exc:
        log.warning("Could not send %s%r (%s: %s); the dispatcher sends it again.", task.name, args,
                    type(exc).__name__, exc)
        return False
    return True


def send_on_commit(task, *args, **options) -> None:
    """Send the task once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: send(task, args, **options))


def redispatch(
    *, queryset: QuerySet, task, since_field: str, now: datetime | None = None, limit: int = 500
) -> int:
    """Send ``task(str(pk))`` again for each row of ``queryset`` (rows waiting for a worker) whose
    ``dispatch_at`` has passed, or which has none and has waited longer than ``OUTBOX_DISPATCH_AFTER``
    since ``since_field``. Answers how many messages were sent."""
    now = now or timezone.now()
    after = dispatch_after()
    longest = float(getattr(settings, "OUTBOX_DISPATCH_MAX_DELAY", 60.0))
    stale = {f"{since_field}__lte": now - timedelta(seconds=after)}
    due = Q(dispatch_at__lte=now) | Q(dispatch_at__isnull=True, **stale)
    sent = 0
    for pk, since in list(queryset.filter(due).order_by("dispatch_at").values_list("pk", since_field)[:limit]):
        waited = (now - since).total_seconds() if since else 0.0
        delay = min(max(after, waited), longest)
        # Conditional, so that two dispatchers running at once send a row once between them.
        if queryset.filter(due, pk=pk).update(dispatch_at=now + timedelta(seconds=delay)) and send(task, (str(pk),)):
            sent += 1
    return sent
