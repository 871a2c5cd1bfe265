"""Reads and decisions of the Confirmations and History pages, through the invocations app's
selectors and services. Every read takes the asking user: another user's invocation is not found."""

from __future__ import annotations

FINAL_STATUSES = {"succeeded", "failed", "rejected", "expired", "cancelled"}
HISTORY_PAGE_SIZE = 50


def pending_count(*, user) -> int:
    try:
        from invocations.selectors import invocation_list_awaiting_confirmation
    except ImportError:  # the invocations app not merged yet
        return 0
    return invocation_list_awaiting_confirmation(user=user).count()


def confirmation_list(*, user):
    from invocations.selectors import invocation_list_awaiting_confirmation

    return invocation_list_awaiting_confirmation(user=user)


def history_list(*, user, status=None, connection_id=None, since=None, until=None):
    from invocations.selectors import invocation_list_for

    return invocation_list_for(user=user, status=status, connection_id=connection_id, since=since, until=until)


def invocation_get(*, user, pk: int):
    """The user's own invocation, or None (another user's is not found)."""
    from invocations.selectors import invocation_get_for

    return invocation_get_for(user=user, pk=pk)


def confirm(*, user, invocation):
    from invocations.services import invocation_confirm

    return invocation_confirm(invocation=invocation, user=user)


def reject(*, user, invocation):
    from invocations.services import invocation_reject

    return invocation_reject(invocation=invocation, user=user)
