"""Reads filtered for the asking user: which connectors and connections they see, and which methods
they may call. The rules themselves are in :mod:`accesscontrol.policy`; this module turns them
into queries.

One function decides what a user may call: :func:`_callable_rows`. ``tools/`` lists its rows, and
the check made when a method is invoked (:func:`tool_callable_by`, :func:`tool_resolve`) runs the
same query for one row. A user may call an operation through a connection when

- the connector's integration type is switched on (by the operator, and for the connector's
  organisation), and the connector is enabled;
- the connection is of their organisation and granted to them: guardian's ``use_connection`` on it, to them or to one of
  their groups (company level is their organisation's company group);
- the method is allowed to them: guardian's ``call_operation`` on the connection's
  ``MethodRight`` for that operation, to them or to one of their groups.

Being a superuser or an administrator counts for nothing here: the queries read the direct
foreign-key permission tables only (never guardian's superuser shortcut, never global
permissions). A method without a ``MethodRight`` row (a new operation of a re-imported connector
before :func:`accesscontrol.services.method_rights_sync` ran) is not callable: missing means no.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast

from accesscontrol import policy
from accesscontrol.models import (
    ConnectionGroupObjectPermission,
    ConnectionUserObjectPermission,
    MethodRight,
    MethodRightGroupObjectPermission,
    MethodRightUserObjectPermission,
)
from accesscontrol.policy import CALL_OPERATION, USE_CONNECTION
from accesscontrol.tools import (
    Tool,
    parse_tool_name,
    tool_name,
    tool_name_is_truncated,
    tool_name_stem,
)
from connections.models import Connection
from connectors.models import Connector, Operation
from connectors.selectors import connector_list_of
from integrations_platform.errors import ApplicationError

CREATOR = "creator"


def _use_perm_filter() -> dict:
    return {"permission__codename": USE_CONNECTION, "permission__content_type__app_label": "connections"}


def _call_perm_filter() -> dict:
    return {"permission__codename": CALL_OPERATION, "permission__content_type__app_label": "accesscontrol"}


# --- connectors ---------------------------------------------------------------------------------


def connector_list_visible_to(*, user) -> QuerySet[Connector]:
    """The connectors ``user`` may see: their organisation's only, never another's (platform
    administrators and the operator included); switched-off ones (the connector's own flag, or its
    integration type on either level) only for the organisation's platform administrators."""
    if not policy.is_member(user):
        return Connector.objects.none()
    qs = connector_list_of(organisation_id=user.organisation_id)
    if not policy.may_see_switched_off(user):
        qs = qs.filter(policy.usable_connectors_q())
    return qs


def connector_get_visible(*, user, pk) -> Connector | None:
    return connector_list_visible_to(user=user).filter(pk=pk).first()


# --- connections --------------------------------------------------------------------------------


def connection_list_granted_to(*, user):
    """Connections of the user's organisation granted to them (``use_connection`` to them or their
    groups), whatever the switches. Superusers and administrators get only what was granted to them."""
    if not policy.is_member(user):
        return Connection.objects.none()
    return Connection.objects.filter(policy.granted_connections_q(user))


def connection_is_granted_to(*, user, connection) -> bool:
    connection_id = getattr(connection, "pk", connection)
    return connection_list_granted_to(user=user).filter(pk=connection_id).exists()


def connection_get_for_rights(*, user, connection_id) -> Connection:
    """The connection whose method rights the user asks for (:func:`policy.may_edit_method_rights`).

    404 when they may not see it (another organisation's, or neither theirs to manage, nor created
    by them, nor granted to them), 403 when they see it but may not edit its rights."""
    not_found = ApplicationError("Not found.", status_code=404, code="not_found")
    if not policy.is_member(user):
        raise not_found
    connection = (
        Connection.objects.select_related("connector", "organisation", "created_by")
        .filter(pk=connection_id, organisation_id=user.organisation_id)
        .first()
    )
    if connection is None:
        raise not_found
    if policy.may_edit_method_rights(user, connection):
        return connection
    if connection.created_by_id == user.pk or connection_is_granted_to(user=user, connection=connection):
        raise ApplicationError(
            "Only the organisation's platform administrators, and the designer who created the connection, may see "
            "and edit its method-level rights.",
            status_code=403,
            code="permission_denied",
        )
    raise not_found


# --- principals of a connection -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Principal:
    """Someone a connection is granted to: a group (a company group at company level) or a person."""

    kind: str  # "group" | "user"
    id: int
    name: str
    organisation_id: int | None = None
    organisation_name: str = ""
    is_company: bool = False
    is_creator: bool = False
    implicit: bool = False  # the creator's own access, not one of the chosen selections

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "organisation": {"id": self.organisation_id, "name": self.organisation_name}
            if self.organisation_id
            else None,
            "is_company": self.is_company,
            "is_creator": self.is_creator,
        }


def connection_principals(*, connection) -> list[Principal]:
    """Every principal the connection is granted to, groups first, creator included. Two queries."""
    groups = (
        ConnectionGroupObjectPermission.objects.filter(content_object_id=connection.pk, **_use_perm_filter())
        .order_by("group__name")
        .values_list(
            "group_id",
            "group__name",
            "group__organisation_link__organisation_id",
            "group__organisation_link__organisation__name",
            "group__organisation_link__is_company",
        )
    )
    users = (
        ConnectionUserObjectPermission.objects.filter(content_object_id=connection.pk, **_use_perm_filter())
        .order_by("user__username")
        .values_list("user_id", "user__username", "user__organisation_id", "user__organisation__name", "implicit")
    )
    principals = [
        Principal("group", gid, name, org_id, org_name or "", bool(is_company))
        for gid, name, org_id, org_name, is_company in groups
    ]
    principals += [
        Principal(
            "user", uid, username, org_id, org_name or "", False, uid == connection.created_by_id, bool(implicit)
        )
        for uid, username, org_id, org_name, implicit in users
    ]
    return principals


def connection_access_get(*, connection, principals: list[Principal] | None = None) -> dict:
    """The access group as defined at creation: level and selections, plus the creator.
    (``principals``: those of :func:`connection_principals`, if already read.)"""
    if principals is None:
        principals = connection_principals(connection=connection)
    chosen = [p for p in principals if not p.implicit]
    access = {
        "level": connection.access_level if principals else None,
        "organisations": [],
        "groups": [],
        "users": [],
        "creator": {"id": connection.created_by_id, "username": getattr(connection.created_by, "username", "")},
    }
    for p in chosen:
        if p.kind == "group" and p.is_company:
            access["organisations"].append({"id": p.organisation_id, "name": p.organisation_name})
        elif p.kind == "group":
            access["groups"].append({"id": p.id, "name": p.name})
        else:
            access["users"].append({"id": p.id, "username": p.name})
    return access


# --- method-level rights ------------------------------------------------------------------------


def method_right_principal_keys(*, method_right_ids) -> dict[int, set[str]]:
    """``{method_right_id: {"group:3", "user:7", ...}}`` for the given rights. Two queries."""
    result: dict[int, set[str]] = {mr_id: set() for mr_id in method_right_ids}
    if not result:
        return result
    ids = list(result)
    for mr_id, gid in MethodRightGroupObjectPermission.objects.filter(
        content_object_id__in=ids, **_call_perm_filter()
    ).values_list("content_object_id", "group_id"):
        result[mr_id].add(f"group:{gid}")
    for mr_id, uid in MethodRightUserObjectPermission.objects.filter(
        content_object_id__in=ids, **_call_perm_filter()
    ).values_list("content_object_id", "user_id"):
        result[mr_id].add(f"user:{uid}")
    return result


def operation_has_tag(*, tags, primary_tag: str, tag: str) -> bool:
    tag = tag.casefold()
    return primary_tag.casefold() == tag or any(isinstance(t, str) and t.casefold() == tag for t in tags or ())


def method_rights_rows(*, connection, method: str | None = None, tag: str | None = None, query: str | None = None):
    """The connection's methods with their rights row (None when missing), filtered. One query.

    Each row: ``{"operation": id, "name", "method", "path", "summary", "tags", "method_right": id or
    None, "requires_confirmation"}``.
    """
    operations = Operation.objects.filter(connector_id=connection.connector_id)
    if method:
        operations = operations.filter(method=method.upper())
    if tag:
        operations = operations.filter(Q(tag__iexact=tag) | Q(tags__icontains=tag))
    if query:
        operations = operations.filter(
            Q(name__icontains=query) | Q(path__icontains=query) | Q(summary__icontains=query)
        )
    rows = []
    rights = {
        op_id: (mr_id, confirm)
        for op_id, mr_id, confirm in MethodRight.objects.filter(connection_id=connection.pk).values_list(
            "operation_id", "id", "requires_confirmation"
        )
    }
    for op_id, name, op_method, path, summary, op_tag, tags in operations.order_by("tag", "path", "method").values_list(
        "id", "name", "method", "path", "summary", "tag", "tags"
    ):
        if tag and not operation_has_tag(tags=tags, primary_tag=op_tag, tag=tag):
            continue
        mr_id, confirm = rights.get(op_id, (None, op_method not in _READ))
        rows.append(
            {
                "operation": op_id,
                "name": name,
                "method": op_method,
                "path": path,
                "summary": summary,
                "tags": tags or ([op_tag] if op_tag else []),
                "method_right": mr_id,
                "requires_confirmation": confirm,
            }
        )
    return rows


_READ = frozenset({"GET", "HEAD"})


def method_rights_list(*, connection, method=None, tag=None, query=None) -> dict:
    """The rights document of a connection: its principals and, per method, who may call it and
    whether a call needs confirmation. Constant number of queries (five), whatever the number of
    methods and principals."""
    principals = connection_principals(connection=connection)
    rows = method_rights_rows(connection=connection, method=method, tag=tag, query=query)
    keys = method_right_principal_keys(method_right_ids=[r["method_right"] for r in rows if r["method_right"]])
    order = {p.key: i for i, p in enumerate(principals)}
    for row in rows:
        allowed = keys.get(row["method_right"], set())
        row["principals"] = sorted(allowed, key=lambda k: order.get(k, len(order)))
    return {
        "connection": {
            "id": connection.pk,
            "name": connection.name,
            "connector_id": connection.connector_id,
            "connector_name": connection.connector.name,
        },
        "access": connection_access_get(connection=connection, principals=principals),
        "principals": [p.as_dict() for p in principals],
        "operations": rows,
    }


# --- tools: the one function that decides -------------------------------------------------------

_TOOL_FIELDS = (
    "connection_id",
    "connection__name",
    "connection__connector_id",
    "connection__connector__name",
    "operation_id",
    "operation__name",
    "operation__method",
    "operation__path",
    "operation__summary",
    "operation__description",
    "operation__deprecated",
    "requires_confirmation",
    "id",
    "operation__updated_in_version_id",
    # Annotations last: Django selects them after the fields, whatever the order asked.
    "tags_text",
)
_VERSION_COLUMN = _TOOL_FIELDS.index("operation__updated_in_version_id")

# Input and output schema texts by (operation id, schema version that last changed it). An import
# that changes an operation gives it a new ``updated_in_version``, and ids are never reused
# (PostgreSQL sequences, SQLite AUTOINCREMENT), so an entry never goes stale; turning 10,000
# ``jsonb`` values into text costs PostgreSQL about 55 ms per ``tools/`` request, which this saves.
# Operations without a version (not made by an import) are always read afresh.
_SCHEMA_TEXTS: dict[tuple[int, int], tuple[str, str]] = {}
_SCHEMA_TEXTS_MAX = 200_000


def _schema_texts(keys: set[tuple[int, int | None]]) -> dict[tuple[int, int | None], tuple[str, str]]:
    """The (input, output) schema texts of each (operation id, version id): cached ones from
    memory, the rest in one query (none when every one is cached)."""
    found = {key: _SCHEMA_TEXTS[key] for key in keys if key in _SCHEMA_TEXTS}
    missing = {op_id for op_id, _version in keys - found.keys()}
    if missing:
        rows = (
            Operation.objects.filter(pk__in=missing)
            .annotate(
                schema_text=Cast("input_schema", TextField()), output_text=Cast("output_schema", TextField())
            )
            .values_list("pk", "updated_in_version_id", "schema_text", "output_text")
        )
        if len(_SCHEMA_TEXTS) > _SCHEMA_TEXTS_MAX:
            _SCHEMA_TEXTS.clear()
        for op_id, version_id, text, output in rows:
            found[(op_id, version_id)] = (text, output)
            if version_id is not None:
                _SCHEMA_TEXTS[(op_id, version_id)] = (text, output)
    return found


def _callable_rows(*, user, connection_ids=None, operation_ids=None, tag=None, query=None):
    """Values rows of every (connection, operation) the user may call now. One query."""
    rows = MethodRight.objects.filter(
        policy.allowed_rights_q(user),
        policy.granted_connections_q(user, prefix="connection__"),
        policy.usable_connectors_q("connection__connector__"),
        # A method no supported credential can call is never offered (its reason: _why_not).
        operation__unusable_reason="",
    )
    if connection_ids is not None:
        rows = rows.filter(connection_id__in=connection_ids)
    if operation_ids is not None:
        rows = rows.filter(operation_id__in=operation_ids)
    if tag:
        rows = rows.filter(Q(operation__tag__iexact=tag) | Q(operation__tags__icontains=tag))
    if query:
        rows = rows.filter(
            Q(operation__name__icontains=query)
            | Q(operation__summary__icontains=query)
            | Q(operation__description__icontains=query)
            | Q(operation__path__icontains=query)
            | Q(connection__name__icontains=query)
            | Q(connection__connector__name__icontains=query)
        )
    # JSON columns come back as text, to be spliced into responses unparsed (input schemas through
    # _schema_texts). No ORDER BY: the database would sort 10 MB of rows; Python sorts the keys
    # instead (see tool_list_for).
    return rows.annotate(tags_text=Cast("operation__tags", TextField())).order_by().values_list(*_TOOL_FIELDS)


def _tools(rows_query) -> list[Tool]:
    """Run the query and make tools of its rows, skipping the ORM's per-row conversions (the
    values are used as the database gives them: JSON as text, booleans as 0/1 on SQLite)."""
    query = rows_query.query
    if [*query.extra_select, *query.values_select, *query.annotation_select] != list(_TOOL_FIELDS):
        raise RuntimeError("The columns of the tools query do not match Tool's fields.")
    try:
        sql, params = query.sql_with_params()
    except EmptyResultSet:
        return []
    with connections[rows_query.db].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    op_column, version_column = _TOOL_FIELDS.index("operation_id"), _VERSION_COLUMN
    texts = _schema_texts({(row[op_column], row[version_column]) for row in rows})
    return [Tool(*row[:version_column], row[-1], *texts[(row[op_column], row[version_column])]) for row in rows]


def tool_list_for(*, user, connection_id=None, tag: str | None = None, query: str | None = None) -> list[Tool]:
    """Everything the user may call now, as tools. One query, whatever the number of tools."""
    rows = _callable_rows(
        user=user,
        connection_ids=None if connection_id is None else [connection_id],
        tag=tag,
        query=query,
    )
    tools = _tools(rows) if policy.is_member(user) else []
    if tag:
        # The query narrows by text; the tag must be one of the operation's tags exactly.
        folded = tag.casefold()
        tools = [t for t in tools if any(x.casefold() == folded for x in t.tags)]
    tools.sort(key=_tool_order)
    return tools


def _tool_order(tool: Tool):
    return (tool.connector_name, tool.connection_name, tool.connection_id, tool.operation_name)


def tool_callable_by(*, user, connection, operation) -> Tool:
    """The tool if the user may call ``operation`` through ``connection`` now; otherwise an
    ``ApplicationError`` whose ``code`` says why: ``not_granted`` (404: the connection is not
    theirs to use), ``unknown_operation`` (404), ``integration_type_disabled``,
    ``connector_disabled`` or ``method_not_allowed`` (403). Accepts instances or ids."""
    connection_id = getattr(connection, "pk", connection)
    operation_id = getattr(operation, "pk", operation)
    tools = (
        _tools(_callable_rows(user=user, connection_ids=[connection_id], operation_ids=[operation_id]))
        if policy.is_member(user)
        else []
    )
    if tools:
        return tools[0]
    raise _why_not(user=user, connection_id=connection_id, operation_id=operation_id)


def _why_not(*, user, connection_id, operation_id) -> ApplicationError:
    """Explains an empty answer of :func:`_callable_rows`; never decides anything itself."""
    connection = (
        Connection.objects.select_related("connector__integration_type").filter(pk=connection_id).first()
        if policy.is_member(user)
        else None
    )
    if connection is None or not connection_is_granted_to(user=user, connection=connection):
        return ApplicationError(
            "This connection does not exist or is not granted to you.", status_code=404, code="not_granted"
        )
    operation = Operation.objects.filter(pk=operation_id, connector_id=connection.connector_id).first()
    if operation is None:
        return ApplicationError(
            "The connection's connector has no such method.", status_code=404, code="unknown_operation"
        )
    unusable = policy.connector_unusable_reason(connection.connector)
    if unusable:
        code, message = unusable
        return ApplicationError(message, status_code=403, code=code)
    if operation.unusable_reason:
        return ApplicationError(
            f"{operation.method} {operation.path} cannot be called: {operation.unusable_reason}",
            status_code=403,
            code="method_unusable",
        )
    return ApplicationError(
        f"You may not call {operation.method} {operation.path} through this connection.",
        status_code=403,
        code="method_not_allowed",
    )


def tool_resolve(*, user, name: str) -> Tool:
    """The tool of this name, if the user may call it now (see :func:`tool_callable_by`); an
    unknown or malformed name answers ``unknown_tool`` (404)."""
    unknown = ApplicationError("No tool of this name is available to you.", status_code=404, code="unknown_tool")
    parsed = parse_tool_name(name)
    if parsed is None or not policy.is_member(user):
        raise unknown
    connection_id, rest = parsed
    connector_id = Connection.objects.filter(pk=connection_id).values_list("connector_id", flat=True).first()
    if connector_id is None:
        raise unknown
    candidates = Operation.objects.filter(connector_id=connector_id)
    if tool_name_is_truncated(name):
        candidates = candidates.filter(Q(name=rest) | Q(name__startswith=tool_name_stem(name)))
    else:
        candidates = candidates.filter(name=rest)
    for op_id, op_name in candidates.values_list("id", "name"):
        if tool_name(connection_id, op_name) == name:
            return tool_callable_by(user=user, connection=connection_id, operation=op_id)
    raise unknown
