"""Who may do what: one function per question, decided here and nowhere else.

Every view, admin class, page, service and task asks this module. The roles (DESIGN.md,
"Organisation"):

- a **person**: an authenticated, active user;
- a **member** of an organisation: a person whose ``organisation`` is it;
- a **platform administrator**: a member with ``is_platform_admin``; they configure their own
  organisation's integrations and nothing else;
- a **process designer**: a member with ``is_designer``; they create connections for their
  organisation and design with the connections granted to them;
- the **operator**: an active superuser; they manage every organisation, in the Django admin only.

Being an administrator, a designer or the operator never by itself lets anyone call a tool: calls
follow grants only (:func:`granted_connections_q`, :func:`allowed_rights_q`), read from guardian's
direct foreign-key permission tables, never from its superuser shortcut or global permissions.

Integration types are switched on and off on two levels: by the operator for the installation
(``IntegrationType.enabled``) and by an organisation's platform administrators for their
organisation (``OrganisationIntegrationType``), within what the operator allows.
:func:`connection_unusable_reason` gives the one wording of why calls through a connection are
refused.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef, Q, QuerySet

USE_CONNECTION = "use_connection"
CALL_OPERATION = "call_operation"


# --- roles ----------------------------------------------------------------------------------------


def is_person(user) -> bool:
    """An authenticated, active user with a row (not the anonymous user)."""
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active and user.pk)


def is_operator(user) -> bool:
    """The operator of the whole installation: an active superuser (the admin only)."""
    return bool(is_person(user) and user.is_superuser)


def organisation_id_of(obj) -> int | None:
    """The id of the organisation that owns ``obj`` (an organisation, an id, or a model with an
    ``organisation_id``, or a connector/connection reached through one)."""
    if obj is None:
        return None
    if isinstance(obj, int) and not isinstance(obj, bool):
        return obj
    if obj.__class__.__name__ == "Organisation":
        return obj.pk
    return getattr(obj, "organisation_id", None)


def is_member(user, organisation=None) -> bool:
    """A person of an organisation (of ``organisation``, when given)."""
    if not is_person(user) or not user.organisation_id:
        return False
    return organisation is None or user.organisation_id == organisation_id_of(organisation)


def is_platform_admin(user, organisation=None) -> bool:
    """A platform administrator of their organisation (of ``organisation``, when given)."""
    return bool(is_member(user, organisation) and user.is_platform_admin)


def is_designer(user, organisation=None) -> bool:
    """A process designer of their organisation (of ``organisation``, when given)."""
    return bool(is_member(user, organisation) and user.is_designer)


def may_manage_connections(user, organisation=None) -> bool:
    """Create connections and reusable credentials: platform administrators and process designers,
    in their own organisation."""
    return is_platform_admin(user, organisation) or is_designer(user, organisation)


def may_configure(user, organisation) -> bool:
    """Configure an organisation's integrations through the services (connectors, switches,
    connections, credentials): its platform administrators, and the operator (who reaches the
    services through the admin only; the API and the pages never treat them specially)."""
    return is_operator(user) or is_platform_admin(user, organisation)


def may_write_credentials(user, organisation) -> bool:
    """Create and change connections and reusable credentials of an organisation through the
    services: its platform administrators and designers, and the operator (admin only)."""
    return is_operator(user) or may_manage_connections(user, organisation)


# --- connectors ----------------------------------------------------------------------------------


def may_write_connectors(user, organisation=None) -> bool:
    """Create, change, delete connectors and import schemas: the organisation's platform
    administrators."""
    return is_platform_admin(user, organisation)


def may_see_switched_off(user, organisation=None) -> bool:
    """Switched-off connectors and integration types are hidden from everyone but the
    organisation's platform administrators."""
    return is_platform_admin(user, organisation)


# --- connections ---------------------------------------------------------------------------------


def may_manage_connection(user, connection) -> bool:
    """Change, delete and test a connection: platform administrators of its organisation, and its
    creator while they are a designer of that organisation."""
    if is_platform_admin(user, connection):
        return True
    return bool(is_designer(user, connection) and connection.created_by_id == user.pk)


def may_edit_method_rights(user, connection) -> bool:
    """See and change a connection's method-level rights: the same people who manage it."""
    return may_manage_connection(user, connection)


def may_grant_to_organisation(user, connection, organisation_id: int) -> bool:
    """A connection is granted at company level to its own organisation only: nothing of one
    organisation is visible to another."""
    return organisation_id == connection.organisation_id


# --- grants: the querysets that decide who may use and call ---------------------------------------


def _group_ids(user):
    return Group.objects.filter(user=user.pk).values("id")


def granted_connections_q(user, prefix: str = "") -> Q:
    """Connections granted to ``user``: ``use_connection`` to them or to one of their groups (company
    level is their organisation's company group), in their own organisation. ``prefix`` is the
    lookup path to the connection (``"connection__"`` from a method right)."""
    from accesscontrol.models import ConnectionGroupObjectPermission, ConnectionUserObjectPermission

    if not is_member(user):
        return Q(pk__in=[])
    perm = {"permission__codename": USE_CONNECTION, "permission__content_type__app_label": "connections"}
    by_user = ConnectionUserObjectPermission.objects.filter(user_id=user.pk, **perm)
    by_group = ConnectionGroupObjectPermission.objects.filter(group_id__in=_group_ids(user), **perm)
    return Q(**{f"{prefix}organisation_id": user.organisation_id}) & (
        Q(**{f"{prefix}id__in": by_user.values("content_object_id")})
        | Q(**{f"{prefix}id__in": by_group.values("content_object_id")})
    )


def allowed_rights_q(user) -> Q:
    """Method rights that allow ``user`` to call: ``call_operation`` to them or their groups."""
    from accesscontrol.models import MethodRightGroupObjectPermission, MethodRightUserObjectPermission

    if not is_member(user):
        return Q(pk__in=[])
    perm = {"permission__codename": CALL_OPERATION, "permission__content_type__app_label": "accesscontrol"}
    by_user = MethodRightUserObjectPermission.objects.filter(user_id=user.pk, **perm)
    by_group = MethodRightGroupObjectPermission.objects.filter(group_id__in=_group_ids(user), **perm)
    return Q(id__in=by_user.values("content_object_id")) | Q(id__in=by_group.values("content_object_id"))


def design_connections_q(user, prefix: str = "") -> Q:
    """Connections a person may design with: granted to them, or created by them, in their
    organisation."""
    if not is_member(user):
        return Q(pk__in=[])
    return granted_connections_q(user, prefix) | Q(
        **{f"{prefix}organisation_id": user.organisation_id, f"{prefix}created_by_id": user.pk}
    )


# --- integration types: two levels --------------------------------------------------------------


def _organisation_switch_off(organisation_ref, type_ref):
    from connectors.models import OrganisationIntegrationType

    return OrganisationIntegrationType.objects.filter(
        organisation_id=organisation_ref, integration_type_id=type_ref, enabled=False
    )


def switched_on_q(prefix: str = "") -> Q:
    """Connectors (at ``prefix``, e.g. ``"connection__connector__"``) whose integration type is on
    for the installation and for the connector's organisation."""
    return Q(**{f"{prefix}integration_type__enabled": True}) & ~Q(
        Exists(_organisation_switch_off(OuterRef(f"{prefix}organisation_id"), OuterRef(f"{prefix}integration_type_id")))
    )


def usable_connectors_q(prefix: str = "") -> Q:
    """Connectors that are enabled and switched on (both levels)."""
    return Q(**{f"{prefix}enabled": True}) & switched_on_q(prefix)


def organisation_switched_off_keys(organisation) -> set[str]:
    """The integration types the organisation's platform administrators switched off. One query."""
    return set(
        _organisation_switch_off(organisation_id_of(organisation), OuterRef("pk")).model.objects.filter(
            organisation_id=organisation_id_of(organisation), enabled=False
        ).values_list("integration_type_id", flat=True)
    )


def with_switches(queryset: QuerySet, prefix: str = "") -> QuerySet:
    """``queryset`` (of connectors, or of rows reaching one at ``prefix``) annotated with
    ``organisation_switched_off``, so that :func:`connection_unusable_reason` needs no query per row."""
    return queryset.annotate(
        organisation_switched_off=Exists(
            _organisation_switch_off(OuterRef(f"{prefix}organisation_id"), OuterRef(f"{prefix}integration_type_id"))
        )
    )


def integration_type_off_reason(integration_type, organisation, *, organisation_switched_off=None) -> str | None:
    """Why connectors of this type are switched off for the organisation, or None when on.
    ``organisation_switched_off``: the organisation's switch when already read (see :func:`with_switches`)."""
    if not integration_type.enabled:
        return f"The integration type '{integration_type.name}' is switched off for this installation by its operator."
    if organisation_switched_off is None:
        organisation_switched_off = _organisation_switch_off(
            organisation_id_of(organisation), integration_type.pk
        ).exists()
    if organisation_switched_off:
        return (
            f"The integration type '{integration_type.name}' is switched off for this organisation by its "
            "platform administrators."
        )
    return None


def connector_unusable_reason(connector, *, organisation_switched_off=None) -> tuple[str, str] | None:
    """``(code, message)`` when calls through any connection of the connector are refused."""
    if organisation_switched_off is None:
        organisation_switched_off = getattr(connector, "organisation_switched_off", None)
    reason = integration_type_off_reason(
        connector.integration_type, connector.organisation_id, organisation_switched_off=organisation_switched_off
    )
    if reason:
        return "integration_type_disabled", reason
    if not connector.enabled:
        return "connector_disabled", f"The connector '{connector.name}' is disabled."
    return None


def connection_unusable_reason(connection) -> tuple[str, str] | None:
    """``(code, message)`` when calls through the connection are refused now, else None. The one
    wording of "why not", used by ``tools/``, the call check, the pages and the worker. A connection
    read through :func:`with_switches` (``prefix="connector__"``) costs no query."""
    found = connector_unusable_reason(
        connection.connector, organisation_switched_off=getattr(connection, "organisation_switched_off", None)
    )
    if found:
        return found
    from connections.models import Connection

    if connection.status == Connection.Status.NEEDS_REAUTHORISATION:
        return (
            "needs_reauthorisation",
            "The connection needs re-authorisation: " + (connection.status_reason or "its credentials expired."),
        )
    return None


# --- the audit trail ------------------------------------------------------------------------------


def may_read_audit(user, organisation=None) -> bool:
    """Read an organisation's audit trail (who did what, when) through the API: its platform
    administrators. In the admin, :func:`admin_scope` gives them their organisation's entries and
    the operator every organisation's."""
    return is_platform_admin(user, organisation)


# --- the Django admin -----------------------------------------------------------------------------


def may_enter_admin(user) -> bool:
    """The Django admin is for the operator and the platform administrators."""
    return is_operator(user) or is_platform_admin(user)


def admin_scope(user, queryset: QuerySet, organisation_field: str | None = "organisation") -> QuerySet:
    """What of ``queryset`` the user manages in the admin: everything for the operator, their own
    organisation's rows for a platform administrator (``organisation_field`` is the lookup to the
    owning organisation; ``None`` for models only the operator manages), nothing for anyone else."""
    if is_operator(user):
        return queryset
    if organisation_field is None or not is_platform_admin(user):
        return queryset.none()
    return queryset.filter(**{organisation_field: user.organisation_id})


def admin_may_manage(user, obj=None, organisation_field: str | None = "organisation") -> bool:
    """Whether the user manages ``obj`` (or the model, when ``obj`` is None) in the admin."""
    if is_operator(user):
        return True
    if organisation_field is None or not is_platform_admin(user):
        return False
    if obj is None:
        return True
    *path, last = organisation_field.split("__")
    owner = obj
    for part in path:
        owner = getattr(owner, part, None)  # a missing one-to-one raises an AttributeError subclass
        if owner is None:
            return False
    owner_id = owner.pk if last in {"pk", "id"} else getattr(owner, f"{last}_id", None)
    return owner_id is not None and owner_id == user.organisation_id


__all__ = [
    "CALL_OPERATION",
    "USE_CONNECTION",
    "admin_may_manage",
    "admin_scope",
    "allowed_rights_q",
    "connection_unusable_reason",
    "connector_unusable_reason",
    "design_connections_q",
    "granted_connections_q",
    "integration_type_off_reason",
    "is_designer",
    "is_member",
    "is_operator",
    "is_person",
    "is_platform_admin",
    "may_configure",
    "may_edit_method_rights",
    "may_enter_admin",
    "may_grant_to_organisation",
    "may_manage_connection",
    "may_manage_connections",
    "may_read_audit",
    "may_see_switched_off",
    "may_write_connectors",
    "may_write_credentials",
    "organisation_id_of",
    "organisation_switched_off_keys",
    "switched_on_q",
    "usable_connectors_q",
    "with_switches",
]
