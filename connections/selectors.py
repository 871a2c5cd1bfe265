"""Reads for connections and credentials. Every list is filtered for the asking user here, by the
rules of :mod:`accesscontrol.policy`."""

from __future__ import annotations

from django.db.models import QuerySet

from accesscontrol import policy
from accesscontrol.selectors import connector_list_visible_to  # noqa: F401  (re-exported for the API)
from connections.models import Connection, Credential
from connectors.models import Connector


def connection_list_visible_to(*, user, connector: Connector | None = None) -> QuerySet[Connection]:
    """Connections of the user's organisation that they may see: all of them for its platform
    administrators; for everyone else those granted to them or created by them, of switched-on
    integration types (on both levels). Never because of superuser status."""
    if not policy.is_member(user):
        return Connection.objects.none()
    qs = Connection.objects.filter(organisation_id=user.organisation_id)
    if not policy.may_see_switched_off(user):
        qs = qs.filter(policy.design_connections_q(user)).filter(policy.switched_on_q("connector__"))
    if connector is not None:
        qs = qs.filter(connector=connector)
    return qs.select_related("connector", "connector__integration_type", "organisation", "created_by")


def credential_list_visible_to(*, user) -> QuerySet[Credential]:
    """The organisation's credentials (metadata only is ever shown) for those who manage them."""
    if not policy.may_manage_connections(user):
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
    from accesscontrol.selectors import connection_access_get

    return connection_access_get(connection=connection)
