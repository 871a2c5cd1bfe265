"""Where an audit entry's object is: its API address (for the objects a platform administrator
reads through the API), its admin page, and its history. Built from the entry alone: no query."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlencode

from django.apps import apps
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from audit.models import AuditEntry

# object type -> the API's detail URL name, for the types whose detail the audit's readers may open.
API_DETAIL = {
    "connectors.connector": "api:connector-detail",
    "connections.connection": "api:connection-detail",
    "connections.credential": "api:credential-detail",
}


@lru_cache(maxsize=128)
def _admin_change_name(object_type: str) -> str | None:
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return None
    if not admin.site.is_registered(model):
        return None
    return f"admin:{model._meta.app_label}_{model._meta.model_name}_change"


def _reverse(name: str | None, object_id: str) -> str | None:
    if not name or not object_id:
        return None
    try:
        return reverse(name, args=[object_id])
    except NoReverseMatch:  # an id the URL pattern does not take
        return None


def admin_url(entry: AuditEntry) -> str | None:
    """The object's admin page (a deleted object's page says it no longer exists)."""
    return _reverse(_admin_change_name(entry.object_type), entry.object_id)


def api_url(entry: AuditEntry) -> str | None:
    return _reverse(API_DETAIL.get(entry.object_type), entry.object_id)


def history_url(entry: AuditEntry) -> str | None:
    """The API list of the object's entries."""
    if not entry.object_id:
        return None
    query = urlencode({"object_type": entry.object_type, "object_id": entry.object_id})
    return f"{reverse('api:audit-list')}?{query}"


def admin_history_url(object_type: str, object_id: str) -> str:
    """The admin's list of an object's entries."""
    query = urlencode({"object_type": object_type, "object_id": object_id})
    return f"{reverse('admin:audit_auditentry_changelist')}?{query}"
