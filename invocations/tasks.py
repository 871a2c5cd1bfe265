"""Celery tasks: thin, ids only; the services hold the rules."""

from celery import shared_task

from invocations import services


@shared_task(name="invocations.execute", acks_late=True, ignore_result=True)
def invocation_execute(invocation_id: str) -> str:
    from celery import current_task

    hostname = getattr(getattr(current_task, "request", None), "hostname", "") or ""
    return services.invocation_execute(invocation_id=invocation_id, worker=hostname)


@shared_task(name="invocations.notify_failure", ignore_result=True)
def invocation_notify_failure(invocation_id: str) -> list[str]:
    return services.invocation_notify_failure(invocation_id=invocation_id)


@shared_task(name="invocations.expire_unconfirmed", ignore_result=True)
def invocations_expire_unconfirmed() -> int:
    return services.invocations_expire()


@shared_task(name="invocations.recover_lost", ignore_result=True)
def invocations_recover_lost() -> dict:
    return services.invocations_recover_lost()
