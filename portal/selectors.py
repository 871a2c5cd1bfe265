"""Reads for the pages. They take the asking user and filter through the apps' own selectors and
guardian's permissions; no page reads a model without going through here or an app's selector."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import QuerySet

from accesscontrol import policy
from connections.models import Connection
from connectors.models import Connector

is_designer = policy.is_designer


def connector_list_for_new_connection(*, user) -> QuerySet[Connector]:
    """The enabled connectors of the user's organisation (of a switched-on integration type) that a
    designer may make a connection from."""
    if not is_designer(user):
        return Connector.objects.none()
    return (
        Connector.objects.filter(policy.usable_connectors_q(), organisation_id=user.organisation_id)
        .select_related("integration_type")
        .prefetch_related("auth_schemes")
        .only("id", "name", "description", "base_url", "variables", "integration_type__name", "organisation_id")
        .order_by("name")
    )


def connector_get_for_new_connection(*, user, pk) -> Connector | None:
    return connector_list_for_new_connection(user=user).filter(pk=pk).first()


@dataclass
class ConnectionRow:
    connection: Connection
    status: str  # active | needs_reauthorisation | off
    status_label: str
    principals: list[str] = field(default_factory=list)


def connection_list_for_designer(*, user) -> list[ConnectionRow]:
    """The connections the user may design with (granted to them, or created by them), in their
    organisation, with their status and who else may use them."""
    if not is_designer(user):
        return []
    connections = list(
        policy.with_switches(
            Connection.objects.filter(policy.design_connections_q(user))
            .select_related("connector", "connector__integration_type", "created_by")
            .order_by("connector__name", "name"),
            prefix="connector__",
        )
    )
    principals = _principals(connections)
    rows = []
    for connection in connections:
        unusable = policy.connection_unusable_reason(connection)
        if unusable is None:
            status, label = "active", "Enabled"
        elif unusable[0] == "needs_reauthorisation":
            status, label = "needs_reauthorisation", "Needs re-authorisation"
        else:
            status, label = "off", "Switched off"
        rows.append(ConnectionRow(connection, status, label, principals.get(connection.pk, [])))
    return rows


def _principals(connections: list[Connection]) -> dict[int, list[str]]:
    """Who may use each connection, as readable names (two queries for any number)."""
    from accesscontrol.models import ConnectionGroupObjectPermission, ConnectionUserObjectPermission

    ids = [c.pk for c in connections]
    result: dict[int, list[str]] = defaultdict(list)
    group_perms = (
        ConnectionGroupObjectPermission.objects.filter(
            content_object_id__in=ids, permission__codename="use_connection"
        )
        .select_related("group", "group__organisation_link__organisation")
        .order_by("group__name")
    )
    for perm in group_perms:
        link = getattr(perm.group, "organisation_link", None)
        if link is not None and link.is_company:
            result[perm.content_object_id].append(f"Everyone at {link.organisation.name}")
        else:
            name = perm.group.name.split(": ", 1)[-1]
            result[perm.content_object_id].append(f"Group {name}")
    user_perms = (
        ConnectionUserObjectPermission.objects.filter(content_object_id__in=ids, permission__codename="use_connection")
        .select_related("user")
        .order_by("user__username")
    )
    creators = {c.pk: c.created_by_id for c in connections}
    for perm in user_perms:
        if perm.implicit or perm.user_id == creators.get(perm.content_object_id):
            continue  # the creator, named once below
        result[perm.content_object_id].append(perm.user.get_full_name() or perm.user.username)
    for connection in connections:
        creator = connection.created_by
        if creator is not None:
            result[connection.pk].append(f"{creator.get_full_name() or creator.username} (creator)")
    return result


def organisation_groups_for(*, user) -> QuerySet[Group]:
    """The groups of the user's organisation that a connection can be restricted to."""
    if not policy.is_member(user):
        return Group.objects.none()
    return Group.objects.filter(
        organisation_link__organisation_id=user.organisation_id, organisation_link__is_company=False
    ).order_by("name")


def organisation_people_for(*, user):
    if not policy.is_member(user):
        return get_user_model().objects.none()
    return get_user_model().objects.filter(organisation_id=user.organisation_id, is_active=True).order_by("username")


def credential_list_for(*, user, kind: str | None = None):
    """The organisation's reusable credentials (metadata only) that a designer may reference."""
    from connections.models import Credential

    if not is_designer(user):
        return Credential.objects.none()
    qs = Credential.objects.filter(organisation_id=user.organisation_id).defer("secret", "tokens").order_by("name")
    return qs.filter(kind=kind) if kind else qs


def connection_list_usable_by(*, user) -> QuerySet[Connection]:
    """The connections granted to the user (for filters; the tools themselves come from the
    access control selector)."""
    return (
        Connection.objects.filter(policy.design_connections_q(user), policy.usable_connectors_q("connector__"))
        .select_related("connector")
        .order_by("connector__name", "name")
    )


def tool_connections_for(*, user) -> list[Connection]:
    return list(connection_list_usable_by(user=user))
