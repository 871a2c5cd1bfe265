"""Reads of the audit trail: who may read which entries (the policy decides), the filters of the
list and the exports, and an object's history."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accesscontrol import policy
from audit.models import AuditEntry
from integrations_platform.errors import ApplicationError

FILTERS = ("actor", "object_type", "object_id", "action", "since", "until")
_LABEL_RE = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
WHEN_HELP = "An ISO 8601 date or date-time, such as 2025-01-31 or 2025-01-31T12:00:00Z."


def audit_entry_list_visible_to(*, user) -> QuerySet[AuditEntry]:
    """The entries ``user`` may read outside the admin: their organisation's, for its platform
    administrators; none for anyone else (the operator reads every organisation's in the admin)."""
    if not policy.may_read_audit(user):
        return AuditEntry.objects.none()
    return AuditEntry.objects.filter(organisation_id=user.organisation_id).select_related("actor", "organisation")


def audit_entry_list_in_admin(*, user) -> QuerySet[AuditEntry]:
    """The entries ``user`` reads in the admin: their organisation's for a platform administrator,
    every one for the operator (including those of no organisation: the installation's)."""
    return policy.admin_scope(user, AuditEntry.objects.select_related("actor", "organisation"))


def audit_entries_of(*, entries: QuerySet[AuditEntry], obj: models.Model) -> QuerySet[AuditEntry]:
    """The history of one object, newest first, within ``entries`` (already scoped to the reader)."""
    return entries.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))


@dataclass
class AuditFilters:
    actor: int | None = None
    object_type: str | None = None
    object_id: str | None = None
    actions: list[str] = field(default_factory=list)
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _when(value: str, *, end_of_day: bool) -> dt.datetime | None:
    value = value.strip()
    try:
        day = parse_date(value)
        if day is not None:
            # A date alone is the whole day: "until 2025-01-31" includes that day.
            when = dt.datetime.combine(day, dt.time.max if end_of_day else dt.time.min)
        else:
            when = parse_datetime(value)
            if when is None:
                return None
    except ValueError:  # well formed but not a real date (2025-02-30)
        return None
    if timezone.is_naive(when):
        when = timezone.make_aware(when, dt.UTC)
    return when


def audit_filters_clean(params: Mapping) -> AuditFilters:
    """The filters of a query string (``actor``, ``object_type``, ``object_id``, ``action`` (one or
    several), ``since``, ``until``), checked: a wrong one is a 400 naming it, never an empty list
    that looks like "nothing happened"."""
    errors: dict[str, list[str]] = {}
    filters = AuditFilters()

    def one(name: str) -> str | None:
        value = params.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    for name in FILTERS:
        values = params.getlist(name) if hasattr(params, "getlist") else [params.get(name)]
        if any(isinstance(v, str) and _CONTROL_RE.search(v) for v in values):
            errors[name] = ["Control characters are not allowed."]
    if errors:
        raise ApplicationError("The audit filters are not valid.", field_errors=errors)

    actor = one("actor")
    if actor is not None:
        if not actor.isdigit() or len(actor) > 18:
            errors["actor"] = ["A user id."]
        else:
            filters.actor = int(actor)
    object_type = one("object_type")
    if object_type is not None:
        object_type = object_type.lower()
        if not _LABEL_RE.match(object_type) or not _is_model(object_type):
            errors["object_type"] = ["An object type such as connections.credential (app label and model name)."]
        else:
            filters.object_type = object_type
    object_id = one("object_id")
    if object_id is not None:
        if len(object_id) > 64:
            errors["object_id"] = ["At most 64 characters."]
        elif object_type is None:
            errors["object_id"] = ["Give object_type with object_id: ids are per object type."]
        else:
            filters.object_id = object_id
    actions = params.getlist("action") if hasattr(params, "getlist") else [params.get("action")]
    for action in (a.strip() for a in actions if isinstance(a, str) and a.strip()):
        if len(action) > 64:
            errors["action"] = ["At most 64 characters."]
            break
        filters.actions.append(action)
    for name in ("since", "until"):
        value = one(name)
        if value is not None:
            when = _when(value, end_of_day=name == "until")
            if when is None:
                errors[name] = [WHEN_HELP]
            setattr(filters, name, when)
    if filters.since and filters.until and filters.since > filters.until:
        errors["until"] = ["Must not be before since."]
    if errors:
        raise ApplicationError("The audit filters are not valid.", field_errors=errors)
    return filters


def _is_model(label: str) -> bool:
    try:
        apps.get_model(label)
    except (LookupError, ValueError):
        return False
    return True


def audit_entries_filter(*, entries: QuerySet[AuditEntry], filters: AuditFilters) -> QuerySet[AuditEntry]:
    if filters.actor is not None:
        entries = entries.filter(actor_id=filters.actor)
    if filters.object_type:
        entries = entries.filter(object_type=filters.object_type)
    if filters.object_id:
        entries = entries.filter(object_id=filters.object_id)
    if filters.actions:
        entries = entries.filter(action__in=filters.actions)
    if filters.since:
        entries = entries.filter(at__gte=filters.since)
    if filters.until:
        entries = entries.filter(at__lte=filters.until)
    return entries
