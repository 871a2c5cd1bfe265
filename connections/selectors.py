"""Reads for connections and credentials. Every list is filtered for the asking user here."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from guardian.shortcuts import get_objects_for_user

from connections.models import Connection, Credential
from connectors.models import Connector, IntegrationType


def _is_platform_admin(user) -> bool:
    return bool(getattr(user, "is_active", False) and getattr(user, "is_platform_admin", False))


def user_may_manage(user) -> bool:
    """Platform administrators and process designers create connections and credentials."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and (getattr(user, "is_platform_admin", False) or getattr(user, "is_designer", False))
    )


def integration_type_is_enabled(key: str) -> bool:
    return IntegrationType.objects.filter(pk=key, enabled=True).exists()


def connection_usable_reason(connection: Connection) -> str | None:
    """Why calls through ``connection`` are refused right now, or None when they may go ahead.

    The invocation worker calls this before every call (and stores the reason as the error)."""
    connector = connection.connector
    integration_type = connector.integration_type
    if not integration_type.enabled:
        return f"The integration type '{integration_type.name}' is switched off by the platform administrators."
    if not connector.enabled:
        return f"The connector '{connector.name}' is disabled."
    if connection.status == Connection.Status.NEEDS_REAUTHORISATION:
        return "The connection needs re-authorisation: " + (connection.status_reason or "its credentials expired.")
    return None


def connector_list_visible_to(*, user) -> QuerySet[Connector]:
    """Connectors of the user's organisation; switched-off integration types only for platform admins."""
    if not getattr(user, "is_authenticated", False) or not user.organisation_id:
        return Connector.objects.none()
    qs = Connector.objects.filter(organisation_id=user.organisation_id)
    if not _is_platform_admin(user):
        qs = qs.filter(integration_type__enabled=True)
    return qs


def connection_list_visible_to(*, user, connector: Connector | None = None) -> QuerySet[Connection]:
    """Connections of the user's organisation the user may use (guardian grants, never because
    of superuser status) plus the ones they created; platform administrators see all of their
    organisation's. Connections of switched-off integration types are hidden from everyone but
    platform administrators."""
    if not getattr(user, "is_authenticated", False) or not user.is_active or not user.organisation_id:
        return Connection.objects.none()
    qs = Connection.objects.filter(organisation_id=user.organisation_id)
    if not _is_platform_admin(user):
        usable = get_objects_for_user(
            user, "connections.use_connection", klass=Connection, accept_global_perms=False, with_superuser=False
        )
        qs = qs.filter(Q(pk__in=usable.values("pk")) | Q(created_by=user))
        qs = qs.filter(connector__integration_type__enabled=True)
    if connector is not None:
        qs = qs.filter(connector=connector)
    return qs.select_related("connector", "connector__integration_type", "organisation", "created_by")


def connection_may_manage(*, user, connection: Connection) -> bool:
    """Change, delete and test: platform administrators of its organisation, and its creator if a designer."""
    if not user_may_manage(user) or user.organisation_id != connection.organisation_id:
        return False
    return _is_platform_admin(user) or connection.created_by_id == user.pk


def credential_list_visible_to(*, user) -> QuerySet[Credential]:
    """The organisation's credentials (metadata only is ever shown) for those who manage them."""
    if not user_may_manage(user) or not user.organisation_id:
        return Credential.objects.none()
    return Credential.objects.filter(organisation_id=user.organisation_id).select_related(
        "created_by", "secret_changed_by"
    )


def credential_state(credential: Credential) -> dict:
    """What may be shown about a credential's secret: whether it is set, when and by whom it changed."""
    changed_by = credential.secret_changed_by
    return {
        "secret_set": bool(credential.secret_changed_at),
        "secret_changed_at": credential.secret_changed_at,
        "secret_changed_by": changed_by.get_username() if changed_by else None,
        "connected": bool(credential.tokens) if credential.kind.startswith("oauth2") else None,
        "token_expires_at": credential.token_expires_at,
    }


def connection_access_read(connection: Connection) -> dict:
    """The access group (level and selections) as defined at creation: readable, never changeable."""
    try:
        from accesscontrol.selectors import connection_access_get
    except ImportError:  # the access-control app's selectors are not merged yet
        connection_access_get = None
    if connection_access_get is not None:
        return connection_access_get(connection=connection)
    from accesscontrol.models import ConnectionGroupObjectPermission, ConnectionUserObjectPermission

    access = {"level": connection.access_level, "organisations": [], "groups": [], "users": []}
    group_rows = ConnectionGroupObjectPermission.objects.filter(
        content_object=connection, permission__codename="use_connection"
    ).select_related("group", "group__company_of")
    for row in group_rows:
        company = getattr(row.group, "company_of", None)
        if company is not None:
            access["organisations"].append({"id": company.pk, "name": company.name})
        else:
            access["groups"].append({"id": row.group_id, "name": row.group.name})
    for row in ConnectionUserObjectPermission.objects.filter(
        content_object=connection, permission__codename="use_connection"
    ).select_related("user"):
        access["users"].append({"id": row.user_id, "username": row.user.username})
    return access
