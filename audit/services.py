from __future__ import annotations

from django.db import models

from audit.models import AuditEntry


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
