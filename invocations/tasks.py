"""Celery tasks: thin, ids only; the services hold the rules. Each runs once more on a fresh database
connection if its connection died before it wrote anything (``integrations_platform/db.py``)."""

from celery import shared_task

from integrations_platform import db
from invocations import services


@shared_task(name="invocations.execute", acks_late=True, ignore_result=True)
def invocation_execute(invocation_id: str) -> str:
    from celery import current_task

    hostname = getattr(getattr(current_task, "request", None), "hostname", "") or ""
    return db.retry_once(services.invocation_execute)(invocation_id=invocation_id, worker=hostname)


@shared_task(name="invocations.notify_failure", ignore_result=True)
def invocation_notify_failure(invocation_id: str) -> list[str]:
    return db.retry_once(services.invocation_notify_failure)(invocation_id=invocation_id)


@shared_task(name="invocations.expire_unconfirmed", ignore_result=True)
def invocations_expire_unconfirmed() -> int:
    return db.retry_once(services.invocations_expire)()


@shared_task(name="invocations.recover_lost", ignore_result=True)
def invocations_recover_lost() -> dict:
    return db.retry_once(services.invocations_recover_lost)()


@shared_task(name="invocations.dispatch", ignore_result=True)
def invocations_dispatch() -> int:
    return db.retry_once(services.invocations_dispatch)()
