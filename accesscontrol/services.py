"""Writes for grants and method-level rights, stored as django-guardian object permissions.

- :func:`connection_access_define`: a new connection's access group (level + selections), once.
- :func:`method_rights_sync`: a rights row, with defaults, for every operation of the connector
  that has none yet (after creation and after every schema import).
- :func:`method_rights_update` and :func:`method_rights_bulk`: method-level rights, any time.
- :func:`connector_schema_import`: a connector's schema re-imported, with the method rights kept
  in step in the same transaction (``connectors`` stores versions and knows nothing of rights).
- :func:`connector_catalog_create`: a connector from the catalog, for whom the policy allows it
  while its integration type is switched on.

Every change is recorded with ``audit_record`` (before and after).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accesscontrol import policy
from accesscontrol.models import (
    ConnectionGroupObjectPermission,
    ConnectionUserObjectPermission,
    MethodRight,
    MethodRightGroupObjectPermission,
    MethodRightUserObjectPermission,
)
from accesscontrol.selectors import (
    CALL_OPERATION,
    CREATOR,
    USE_CONNECTION,
    Principal,
    connection_access_get,
    connection_principals,
    method_right_principal_keys,
    operation_has_tag,
)
from accounts.models import Organisation, User
from accounts.services import organisation_ensure_company_group
from audit.services import audit_record
from connections.models import Connection
from connectors import services as connector_services
from connectors.models import Connector, ConnectorVersion, IntegrationType, Operation
from integrations_platform.errors import ApplicationError

LEVELS = ("company", "groups", "individuals")
LEVEL_FIELD = {"company": "organisations", "groups": "groups", "individuals": "users"}
# Read methods are open to every grantee by default, without confirmation; every other method is
# off until granted, and needs confirmation once granted.
DEFAULT_OPEN_METHODS = frozenset({"GET", "HEAD"})
HTTP_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE"})
WAY_OUT = "create another connection to the same connector with other restrictions"
ACCESS_IMMUTABLE_MESSAGE = (
    "A connection's access group (its level and selections) is defined once, at creation, and cannot change. "
    f"To give access to other people, {WAY_OUT}."
)
MAX_SELECTIONS = 1000
MAX_CHANGES = 20000


def _permission(codename: str, app_label: str) -> Permission:
    return Permission.objects.get(codename=codename, content_type__app_label=app_label)


def _ids(values, field: str, errors: dict) -> list[int]:
    """Instances or ids (ints or digit strings) as a list of distinct ids, in order."""
    if values is None:
        return []
    if isinstance(values, (str, bytes, int)) or not isinstance(values, Iterable):
        errors.setdefault(field, []).append("Give a list.")
        return []
    out: list[int] = []
    for value in values:
        pk = getattr(value, "pk", value)
        if isinstance(pk, bool) or not (
            isinstance(pk, int) or (isinstance(pk, str) and pk.isdigit() and len(pk) <= 18)
        ):
            errors.setdefault(field, []).append(f"Not an id: {str(pk)[:40]!r}.")
            continue
        pk = int(pk)
        if pk not in out:
            out.append(pk)
    if len(out) > MAX_SELECTIONS:
        errors.setdefault(field, []).append(f"At most {MAX_SELECTIONS} selections.")
    return out


def _access_defined(connection) -> bool:
    return (
        ConnectionUserObjectPermission.objects.filter(content_object_id=connection.pk).exists()
        or ConnectionGroupObjectPermission.objects.filter(content_object_id=connection.pk).exists()
    )


def _listing(ids: Iterable[int]) -> str:
    return ", ".join(str(i) for i in sorted(ids))


@transaction.atomic
def connection_access_define(
    *, connection, level: str | None, groups=(), users=(), organisations=(), actor=None
) -> None:
    """Define a new connection's access group, once, at creation.

    ``level`` is ``company`` (``organisations``: the connection's own, which is the default; never
    another, see :func:`accesscontrol.policy.may_grant_to_organisation`), ``groups`` (groups of the
    connection's organisation) or ``individuals`` (``users``, members of the connection's
    organisation): one level, at least one selection, never a mix. The creator always keeps
    access (an implicit principal). Every method of the connector gets its rights row with the
    defaults. Raises ``ApplicationError`` (400) naming the field; nothing is saved then.
    """
    # Two definitions racing for one connection: the second waits here, then sees the first.
    Connection.objects.select_for_update().filter(pk=connection.pk).values_list("pk", flat=True).first()
    if _access_defined(connection):
        raise ApplicationError(ACCESS_IMMUTABLE_MESSAGE, field_errors={"access": ACCESS_IMMUTABLE_MESSAGE},
                               code="access_immutable")
    errors: dict[str, list[str]] = {}
    if level in (None, ""):
        level = "company"
    if level not in LEVELS:
        raise ApplicationError(
            "Choose the access level: company, groups or individuals.",
            field_errors={"level": f"Must be one of: {', '.join(LEVELS)}."},
        )
    selected = {
        "organisations": _ids(organisations, "organisations", errors),
        "groups": _ids(groups, "groups", errors),
        "users": _ids(users, "users", errors),
    }
    wanted = LEVEL_FIELD[level]
    for field, ids in selected.items():
        if field != wanted and ids:
            errors.setdefault(field, []).append(
                f"The {level} level takes {wanted} only: access is granted on one level (company, groups or "
                f"individuals), never a mix. For other people or other functions, {WAY_OUT}."
            )
    if level == "company" and not selected["organisations"] and not errors:
        selected["organisations"] = [connection.organisation_id]
    if not selected[wanted] and wanted not in errors:
        errors[wanted] = [f"Choose at least one of the {wanted} for the {level} level."]
    if errors:
        raise ApplicationError("The access group is not valid.", field_errors=errors)

    organisation = connection.organisation
    principal_groups: list[Group] = []
    principal_users: list[int] = []
    if level == "company":
        ids = selected["organisations"]
        found = {o.pk: o for o in Organisation.objects.filter(pk__in=ids)}
        missing = set(ids) - set(found)
        if missing:
            errors["organisations"] = [f"Unknown organisations: {_listing(missing)}."]
        elif any(not policy.may_grant_to_organisation(actor, connection, i) for i in ids):
            errors["organisations"] = [
                f"A connection is granted at company level to its own organisation, {organisation}, only: "
                "nothing of one organisation is visible to another."
            ]
        else:
            principal_groups = [organisation_ensure_company_group(organisation=found[i]) for i in ids]
    elif level == "groups":
        ids = selected["groups"]
        found = {
            g.pk: g
            for g in Group.objects.filter(pk__in=ids, organisation_link__organisation_id=connection.organisation_id)
            .select_related("organisation_link")
        }
        missing = set(ids) - set(found)
        company = [g.pk for g in found.values() if g.organisation_link.is_company]
        if missing:
            errors["groups"] = [f"Unknown groups, or not groups of {organisation}: {_listing(missing)}."]
        elif company:
            errors["groups"] = [f"Group {_listing(company)} is the whole company: choose the company level instead."]
        else:
            principal_groups = [found[i] for i in ids]
    else:
        ids = selected["users"]
        found_ids = set(
            User.objects.filter(pk__in=ids, organisation_id=connection.organisation_id, is_active=True).values_list(
                "pk", flat=True
            )
        )
        missing = set(ids) - found_ids
        if missing:
            errors["users"] = [f"Unknown people, or not active members of {organisation}: {_listing(missing)}."]
        else:
            principal_users = ids
    if errors:
        raise ApplicationError("The access group is not valid.", field_errors=errors)

    use = _permission(USE_CONNECTION, "connections")
    ConnectionGroupObjectPermission.objects.bulk_create(
        [ConnectionGroupObjectPermission(group=g, permission=use, content_object=connection) for g in principal_groups]
    )
    user_rows = [
        ConnectionUserObjectPermission(user_id=uid, permission=use, content_object=connection, implicit=False)
        for uid in principal_users
    ]
    if connection.created_by_id not in principal_users:
        user_rows.append(
            ConnectionUserObjectPermission(
                user_id=connection.created_by_id, permission=use, content_object=connection, implicit=True
            )
        )
    ConnectionUserObjectPermission.objects.bulk_create(user_rows)
    Connection.objects.filter(pk=connection.pk).update(access_level=level)
    connection.access_level = level
    added = method_rights_sync(connection=connection, record=False)
    audit_record(
        actor=actor,
        action="connection.access_defined",
        obj=connection,
        changes={
            "before": None,
            "after": _access_for_audit(connection_access_get(connection=connection)),
            "method_rights_created": len(added),
        },
    )


def _access_for_audit(access: dict) -> dict:
    return {
        "level": access["level"],
        "organisations": [o["id"] for o in access["organisations"]],
        "groups": [g["id"] for g in access["groups"]],
        "users": [u["id"] for u in access["users"]],
        "creator": access["creator"]["id"],
    }


def connection_access_change(*, connection, actor=None, **_ignored) -> None:
    """Changing the access group after creation is refused, always, with the way out."""
    raise ApplicationError(ACCESS_IMMUTABLE_MESSAGE, field_errors={"access": ACCESS_IMMUTABLE_MESSAGE},
                           code="access_immutable")


# --- method-level rights ------------------------------------------------------------------------


def _grant_rows(*, rights: list[tuple[int, set[str]]], permission: Permission):
    group_rows, user_rows = [], []
    for mr_id, keys in rights:
        for key in keys:
            kind, pk = key.split(":", 1)
            if kind == "group":
                group_rows.append(
                    MethodRightGroupObjectPermission(group_id=int(pk), permission=permission, content_object_id=mr_id)
                )
            else:
                user_rows.append(
                    MethodRightUserObjectPermission(user_id=int(pk), permission=permission, content_object_id=mr_id)
                )
    MethodRightGroupObjectPermission.objects.bulk_create(group_rows, batch_size=2000)
    MethodRightUserObjectPermission.objects.bulk_create(user_rows, batch_size=2000)


@transaction.atomic
def method_rights_sync(*, connection, record: bool = True) -> list[int]:
    """Create the missing rights rows of the connection, one per operation of its connector, with
    the defaults: GET and HEAD open to every principal without confirmation, every other method
    off and needing confirmation. Idempotent; rows of existing operations are left as they are.
    Returns the ids of the operations that got a row."""
    # Serialise concurrent syncs of one connection (imports and creation running side by side).
    Connection.objects.select_for_update().filter(pk=connection.pk).values_list("pk", flat=True).first()
    existing = MethodRight.objects.filter(connection_id=connection.pk).values("operation_id")
    missing = list(
        Operation.objects.filter(connector_id=connection.connector_id)
        .exclude(pk__in=existing)
        .order_by("pk")
        .values_list("pk", "method")
    )
    if not missing:
        return []
    created = MethodRight.objects.bulk_create(
        [
            MethodRight(connection_id=connection.pk, operation_id=op_id, requires_confirmation=method not in
                        DEFAULT_OPEN_METHODS)
            for op_id, method in missing
        ],
        batch_size=2000,
    )
    if any(mr.pk is None for mr in created):  # backends that do not return ids from bulk inserts
        created = list(
            MethodRight.objects.filter(connection_id=connection.pk, operation_id__in=[m[0] for m in missing])
        )
    methods = dict(missing)
    keys = {p.key for p in connection_principals(connection=connection)}
    _grant_rows(
        rights=[(mr.pk, keys) for mr in created if methods[mr.operation_id] in DEFAULT_OPEN_METHODS],
        permission=_permission(CALL_OPERATION, "accesscontrol"),
    )
    if record:
        audit_record(
            actor=None,
            action="connection.method_rights_synced",
            obj=connection,
            changes={"added_operations": [op_id for op_id, _ in missing]},
        )
    return [op_id for op_id, _ in missing]


def method_rights_sync_connector(*, connector) -> int:
    """:func:`method_rights_sync` for every connection of the connector (after a schema import).
    Returns how many rights rows were created."""
    return sum(
        len(method_rights_sync(connection=c)) for c in Connection.objects.filter(connector_id=connector.pk)
    )


def connector_schema_import(*, connector, schema_text, actor, parsed=None) -> ConnectorVersion:
    """Import a new schema version (``connectors.services.connector_import_schema``) and keep the
    method rights in step, in one transaction: every connection gets a rights row, with the
    defaults, for each method the version added (a removed method's rights go with it). Answers the
    version, which says what was added, removed and changed. Who may re-import is the caller's to
    ask (``policy.may_write_connectors``)."""
    with transaction.atomic():
        version = connector_services.connector_import_schema(
            connector=connector, schema_text=schema_text, imported_by=actor, parsed=parsed
        )
        if version.added:
            method_rights_sync_connector(connector=connector)
    return version


def connector_catalog_create(*, actor, organisation, catalog, name, settings, description: str = "") -> Connector:
    """A connector from the catalog of standard services (``connectors.services.
    connector_create_from_catalog``), when the policy lets ``actor`` configure the organisation's
    integrations and the service's integration type is switched on for it."""
    if not policy.may_configure(actor, organisation):
        raise ApplicationError(
            "Only the organisation's platform administrators add integrations.",
            status_code=403,
            code="permission_denied",
        )
    integration_type = IntegrationType.objects.filter(pk=catalog).first() if isinstance(catalog, str) else None
    off = policy.integration_type_off_reason(integration_type, organisation) if integration_type else None
    if off:
        raise ApplicationError(off, field_errors={"catalog": ["Switched off."]}, code="integration_type_disabled")
    return connector_services.connector_create_from_catalog(
        organisation=organisation,
        catalog=catalog,
        name=name,
        settings=settings,
        created_by=actor,
        description=description,
    )


def _check_may_edit(*, actor, connection) -> None:
    if not (policy.is_operator(actor) or policy.may_edit_method_rights(actor, connection)):
        raise ApplicationError(
            "Only the organisation's platform administrators, and the designer who created the connection, may "
            "change its method-level rights.",
            status_code=403,
            code="permission_denied",
        )


def _resolve_principals(value, *, principals: dict[str, Principal], creator_key: str, field: str, errors: dict):
    """A list of principal keys ("group:3", "user:7", "creator") as a set of granted keys."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
        errors.setdefault(field, []).append('Give a list of principals such as "group:3", "user:7" or "creator".')
        return None
    keys: set[str] = set()
    unknown = []
    for item in value:
        item = getattr(item, "key", item)
        if item == CREATOR:
            item = creator_key
        if not isinstance(item, str) or item not in principals:
            unknown.append(str(item)[:40])
        else:
            keys.add(item)
    if unknown:
        errors.setdefault(field, []).append(
            f"Not granted on this connection: {', '.join(unknown[:20])}. Method rights go to the principals the "
            f"connection is granted to (and \"creator\"); for others, {WAY_OUT}."
        )
    return keys


def _bool(value, *, field: str, errors: dict):
    if value is None or isinstance(value, bool):
        return value
    errors.setdefault(field, []).append("Must be true or false.")
    return None


def _apply(*, connection, actor, targets: dict[int, tuple[set[str] | None, bool | None]], action: str, extra=None):
    """Apply ``{operation_id: (principal keys or None, requires_confirmation or None)}`` to the
    connection's rights rows (which exist), record what changed, return the number changed."""
    rows = {
        op_id: (mr_id, confirm)
        for op_id, mr_id, confirm in MethodRight.objects.filter(
            connection_id=connection.pk, operation_id__in=list(targets)
        ).values_list("operation_id", "id", "requires_confirmation")
    }
    current = method_right_principal_keys(method_right_ids=[mr_id for mr_id, _ in rows.values()])
    names = dict(Operation.objects.filter(pk__in=list(targets)).values_list("pk", "name"))
    grants: list[tuple[int, set[str]]] = []
    revokes: list[tuple[int, set[str]]] = []
    confirm_on, confirm_off = [], []
    changed = []
    for op_id, (keys, confirm) in targets.items():
        mr_id, was_confirm = rows[op_id]
        before = current[mr_id]
        after = before if keys is None else keys
        new_confirm = was_confirm if confirm is None else confirm
        if after == before and new_confirm == was_confirm:
            continue
        if after - before:
            grants.append((mr_id, after - before))
        if before - after:
            revokes.append((mr_id, before - after))
        if new_confirm != was_confirm:
            (confirm_on if new_confirm else confirm_off).append(mr_id)
        changed.append(
            {
                "operation": op_id,
                "name": names.get(op_id, ""),
                "before": {"principals": sorted(before), "requires_confirmation": was_confirm},
                "after": {"principals": sorted(after), "requires_confirmation": new_confirm},
            }
        )
    if not changed:
        return 0
    permission = _permission(CALL_OPERATION, "accesscontrol")
    _grant_rows(rights=grants, permission=permission)
    # One delete per principal, not per method: a bulk change of 1,000 methods stays a few queries.
    by_key: dict[str, list[int]] = {}
    for mr_id, keys in revokes:
        for key in keys:
            by_key.setdefault(key, []).append(mr_id)
    for key, mr_ids in by_key.items():
        kind, pk = key.split(":", 1)
        if kind == "group":
            model, field = MethodRightGroupObjectPermission, "group_id"
        else:
            model, field = MethodRightUserObjectPermission, "user_id"
        model.objects.filter(content_object_id__in=mr_ids, permission=permission, **{field: int(pk)}).delete()
    if confirm_on:
        MethodRight.objects.filter(pk__in=confirm_on).update(requires_confirmation=True)
    if confirm_off:
        MethodRight.objects.filter(pk__in=confirm_off).update(requires_confirmation=False)
    audit_record(actor=actor, action=action, obj=connection, changes={**(extra or {}), "operations": changed})
    return len(changed)


@transaction.atomic
def method_rights_update(*, connection, actor, changes: list[dict]) -> int:
    """Change method-level rights: ``changes`` is a list of ``{"operation": id, "principals":
    [keys] (optional: who may call it, a subset of the connection's principals; "creator" names
    the creator), "requires_confirmation": bool (optional)}``. All or nothing; errors name the
    item (``changes.3.principals``). Returns how many methods changed."""
    _check_may_edit(actor=actor, connection=connection)
    if not isinstance(changes, list) or not changes:
        raise ApplicationError("Give at least one change.", field_errors={"changes": "Give a non-empty list."})
    if len(changes) > MAX_CHANGES:
        raise ApplicationError("Too many changes.", field_errors={"changes": f"At most {MAX_CHANGES} items."})
    method_rights_sync(connection=connection)
    principals = {p.key: p for p in connection_principals(connection=connection)}
    creator_key = f"user:{connection.created_by_id}"
    operation_ids = set(
        Operation.objects.filter(connector_id=connection.connector_id).values_list("pk", flat=True)
    )
    errors: dict[str, list[str]] = {}
    targets: dict[int, tuple[set[str] | None, bool | None]] = {}
    for index, change in enumerate(changes):
        where = f"changes.{index}"
        if not isinstance(change, dict):
            errors[where] = ["Give an object with operation, principals and/or requires_confirmation."]
            continue
        unknown_fields = set(change) - {"operation", "principals", "requires_confirmation"}
        if unknown_fields:
            errors[where] = [f"Unknown fields: {', '.join(sorted(str(f)[:40] for f in unknown_fields))}."]
        op_id = getattr(change.get("operation"), "pk", change.get("operation"))
        if isinstance(op_id, bool) or not isinstance(op_id, int):
            errors[f"{where}.operation"] = ["Give the id of a method of this connection's connector."]
            continue
        if op_id not in operation_ids:
            errors[f"{where}.operation"] = [f"{op_id} is not a method of this connection's connector."]
            continue
        if op_id in targets:
            errors[f"{where}.operation"] = [f"Method {op_id} is given more than once."]
            continue
        keys = _resolve_principals(
            change.get("principals"), principals=principals, creator_key=creator_key,
            field=f"{where}.principals", errors=errors,
        )
        confirm = _bool(change.get("requires_confirmation"), field=f"{where}.requires_confirmation", errors=errors)
        if "principals" not in change and "requires_confirmation" not in change:
            errors[where] = ["Give principals and/or requires_confirmation."]
        targets[op_id] = (keys, confirm)
    if errors:
        raise ApplicationError("Some changes are not valid; nothing was changed.", field_errors=errors)
    return _apply(connection=connection, actor=actor, targets=targets, action="connection.method_rights_changed")


@transaction.atomic
def method_rights_bulk(
    *,
    connection,
    actor,
    method: str | None = None,
    tag: str | None = None,
    allow_principals=None,
    requires_confirmation: bool | None = None,
) -> int:
    """Set the rights of every method matching ``method`` (an HTTP method) and/or ``tag`` (all
    methods when neither is given): ``allow_principals`` becomes the list of who may call them
    (``[]`` switches them off), ``requires_confirmation`` their confirmation; None keeps it.
    Returns how many methods changed."""
    _check_may_edit(actor=actor, connection=connection)
    errors: dict[str, list[str]] = {}
    if method is not None and (not isinstance(method, str) or method.upper() not in HTTP_METHODS):
        errors["method"] = [f"Must be one of: {', '.join(sorted(HTTP_METHODS))}."]
    if tag is not None and (not isinstance(tag, str) or not tag or len(tag) > 200):
        errors["tag"] = ["Give a tag of at most 200 characters."]
    confirm = _bool(requires_confirmation, field="requires_confirmation", errors=errors)
    if allow_principals is None and requires_confirmation is None:
        errors["allow_principals"] = ["Give who may call the methods and/or whether they need confirmation."]
    principals = {p.key: p for p in connection_principals(connection=connection)}
    keys = _resolve_principals(
        allow_principals, principals=principals, creator_key=f"user:{connection.created_by_id}",
        field="allow_principals", errors=errors,
    )
    if errors:
        raise ApplicationError("The bulk change is not valid; nothing was changed.", field_errors=errors)
    method_rights_sync(connection=connection)
    operations = Operation.objects.filter(connector_id=connection.connector_id)
    if method:
        operations = operations.filter(method=method.upper())
    targets = {}
    for op_id, op_tag, tags in operations.values_list("pk", "tag", "tags"):
        if tag is not None and not operation_has_tag(tags=tags, primary_tag=op_tag, tag=tag):
            continue
        targets[op_id] = (set(keys) if keys is not None else None, confirm)
    if not targets:
        return 0
    return _apply(
        connection=connection,
        actor=actor,
        targets=targets,
        action="connection.method_rights_changed",
        extra={"bulk": {"method": method.upper() if method else None, "tag": tag}},
    )


@transaction.atomic
def method_rights_apply(*, connection, actor, changes=None, bulk=None) -> int:
    """Per-method ``changes`` (see :func:`method_rights_update`), then ``bulk`` changes in order
    (each the keyword arguments of :func:`method_rights_bulk`: ``method``, ``tag``,
    ``allow_principals``, ``requires_confirmation``), all or nothing. Errors of a bulk item are
    named ``bulk.<index>.<field>``. Returns how many method changes were made."""
    _check_may_edit(actor=actor, connection=connection)
    if not changes and not bulk:
        raise ApplicationError(
            "Give changes and/or bulk changes.", field_errors={"changes": "Give a non-empty list of changes."}
        )
    if bulk is not None and (not isinstance(bulk, list) or len(bulk) > 100):
        raise ApplicationError("Bulk changes are not valid.", field_errors={"bulk": "Give a list of at most 100."})
    count = method_rights_update(connection=connection, actor=actor, changes=changes) if changes else 0
    allowed = {"method", "tag", "allow_principals", "requires_confirmation"}
    for index, item in enumerate(bulk or ()):
        if not isinstance(item, dict) or set(item) - allowed:
            raise ApplicationError(
                "Bulk changes are not valid; nothing was changed.",
                field_errors={f"bulk.{index}": f"Give an object with only: {', '.join(sorted(allowed))}."},
            )
        try:
            count += method_rights_bulk(connection=connection, actor=actor, **item)
        except ApplicationError as exc:
            raise ApplicationError(
                "Bulk changes are not valid; nothing was changed.",
                field_errors={f"bulk.{index}.{field}": problems for field, problems in exc.field_errors.items()},
                status_code=exc.status_code,
            ) from None
    return count
