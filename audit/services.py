from __future__ import annotations

import datetime as dt
from collections import Counter

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from audit.models import AuditEntry

PURGE_ACTION = "audit.purge"
PURGE_BATCH_SIZE = 5000


def audit_record(
    *,
    actor,
    action: str,
    obj: models.Model,
    changes: dict | None = None,
    organisation=None,
) -> AuditEntry:
    """Record an action. ``changes`` must never hold a secret value: name secret fields only."""
    if organisation is None:
        organisation = getattr(obj, "organisation", None)
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        organisation=organisation,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:300],
        changes=changes or {},
    )


def audit_entries_purge(*, now: dt.datetime | None = None, retention_days: int | None = None) -> dict:
    """Delete the entries older than the retention (``AUDIT_RETENTION_DAYS``; 0 keeps every entry),
    a batch per transaction, and record the purge itself: one ``audit.purge`` entry for each
    organisation that lost entries (its administrators see when and how many), and one of no
    organisation for the installation's own entries. Returns what was deleted."""
    days = settings.AUDIT_RETENTION_DAYS if retention_days is None else retention_days
    if not days:
        return {"deleted": 0, "before": None}
    before = (now or timezone.now()) - dt.timedelta(days=days)
    expired = AuditEntry.objects.filter(at__lt=before).order_by("id")
    deleted: Counter = Counter()
    while True:
        rows = list(expired.values_list("id", "organisation_id")[:PURGE_BATCH_SIZE])
        if not rows:
            break
        with transaction.atomic():
            AuditEntry.objects.filter(id__in=[pk for pk, _ in rows]).delete()
        deleted.update(organisation_id for _, organisation_id in rows)
    for organisation_id, count in sorted(deleted.items(), key=lambda item: item[0] or 0):
        AuditEntry.objects.create(
            actor=None,
            organisation_id=organisation_id,
            action=PURGE_ACTION,
            object_type=AuditEntry._meta.label_lower,
            object_id="",
            object_repr=f"{count} entries older than {days} days (before {before:%Y-%m-%d %H:%M} UTC)",
            changes={"deleted": count, "before": before.isoformat(), "retention_days": days},
        )
    return {"deleted": sum(deleted.values()), "before": before.isoformat()}
