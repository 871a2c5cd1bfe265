"""Celery tasks of the audit trail: thin, the services hold the rules."""

from celery import shared_task

from audit import services


@shared_task(name="audit.purge_expired", ignore_result=True)
def audit_purge_expired() -> dict:
    return services.audit_entries_purge()
