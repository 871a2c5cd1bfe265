"""Reads and decisions of the Confirmations and History pages, through the invocations app's
selectors and services. Every read takes the asking user: another user's invocation is not found.

What a page shows of a call (request, result, error) was redacted when it was stored; the pages
redact it again with the connection's current secret forms (``secret_forms`` on the invocation,
also given to ``pretty_json``), so that a row stored before a fix, or text a page decodes, can never
show a secret."""

from __future__ import annotations

from django.http import Http404

from connections import secrets

FINAL_STATUSES = {"succeeded", "failed", "rejected", "expired", "cancelled"}
HISTORY_PAGE_SIZE = 50
AWAITING = "awaiting_confirmation"
# How long the "try it" page waits for a call without confirmation before showing its page.
TRY_WAIT_SECONDS = 5


def duration_ms(invocation) -> int | None:
    if invocation.started_at and invocation.finished_at:
        return round((invocation.finished_at - invocation.started_at).total_seconds() * 1000)
    return None


def pending_count(*, user) -> int:
    try:
        from invocations.selectors import invocation_list
    except ImportError:  # the invocations app not merged yet
        return 0
    return invocation_list(user=user, status=AWAITING).count()


def for_display(invocation, forms_by_connection: dict | None = None):
    """The invocation with what a page shows of it redacted again (in memory, never saved)."""
    cache = {} if forms_by_connection is None else forms_by_connection
    if invocation.connection_id not in cache:
        cache[invocation.connection_id] = secrets.connection_secret_forms(invocation.connection)
    forms = cache[invocation.connection_id]
    invocation.secret_forms = forms
    for name in ("request_preview", "result", "error"):
        setattr(invocation, name, secrets.redact(getattr(invocation, name), forms))
    return invocation


def confirmation_list(*, user):
    from invocations.selectors import invocation_list

    return invocation_list(user=user, status=AWAITING).select_related("connection__connector")


def confirmations_for_display(*, user) -> list:
    cache: dict = {}
    return [for_display(invocation, cache) for invocation in confirmation_list(user=user)]


def history_list(*, user, status=None, connection_id=None, since=None, until=None):
    from invocations.selectors import invocation_list

    return invocation_list(user=user, status=status, connection=connection_id, since=since, until=until).select_related(
        "connection__connector"
    )


def invocation_get(*, user, pk):
    """The user's own invocation, or None (another user's is not found)."""
    from invocations.selectors import invocation_get as get

    try:
        return for_display(get(user=user, invocation_id=pk))
    except Http404:
        return None


def invocation_wait(*, user, pk, seconds: float):
    from invocations.selectors import invocation_wait as wait

    return wait(user=user, invocation_id=pk, wait=seconds)


def confirm(*, user, invocation):
    from invocations.services import invocation_confirm

    return invocation_confirm(invocation=invocation, user=user)


def reject(*, user, invocation):
    from invocations.services import invocation_reject

    return invocation_reject(invocation=invocation, user=user)
