"""Where invocations meet the access control app: whose rights a call runs under.

Access: ``UserRights`` (direct calls) answers whether a user may call an operation through a
connection and whether the call needs confirmation, with the same selector that builds ``tools/``
(``accesscontrol.selectors.tool_callable_by`` / ``tool_resolve``). A process will pass its own rights
object with the same ``check``/``resolve`` methods instead (DESIGN.md: a process runs under the
rights of the process).

Credentials (reading, applying, redacting) are ``connections.secrets``'s, not this module's.
"""

from __future__ import annotations

from typing import Protocol

from accesscontrol import policy
from accesscontrol import selectors as access
from accesscontrol.tools import tool_name
from connections.models import Connection
from connectors.models import Operation
from integrations_platform.errors import ApplicationError


class Rights(Protocol):
    def resolve(self, *, name: str) -> tuple[Connection, Operation, bool]: ...

    def check(self, *, connection: Connection, operation: Operation) -> bool: ...


def tool_name_for(connection: Connection, operation: Operation) -> str:
    return tool_name(connection.pk, operation.name)


def _as_field_error(exc: ApplicationError, field: str) -> ApplicationError:
    """An unknown tool is a mistake in the request: 400 naming the field, as other bad input."""
    if exc.status_code == 404:
        return ApplicationError(exc.message, field_errors={field: exc.message}, code=exc.code)
    return exc


class UserRights:
    """The rights of a user calling directly (assistant, API, pages): grants only, never superuser."""

    def __init__(self, user):
        self.user = user

    def resolve(self, *, name: str) -> tuple[Connection, Operation, bool]:
        try:
            tool = access.tool_resolve(user=self.user, name=name)
        except ApplicationError as exc:
            raise _as_field_error(exc, "tool") from None
        connection = Connection.objects.select_related("connector__integration_type").get(pk=tool.connection_id)
        operation = Operation.objects.get(pk=tool.operation_id)
        return connection, operation, bool(tool.requires_confirmation)

    def check(self, *, connection: Connection, operation: Operation) -> bool:
        """Whether the call needs confirmation; ``ApplicationError`` when not allowed."""
        try:
            tool = access.tool_callable_by(user=self.user, connection=connection, operation=operation)
        except ApplicationError as exc:
            raise _as_field_error(exc, "connection" if exc.code == "not_granted" else "operation") from None
        return bool(tool.requires_confirmation)

    def can_see_connection(self, connection: Connection) -> bool:
        return access.connection_is_granted_to(user=self.user, connection=connection)


def connection_unusable_reason(connection: Connection) -> str | None:
    """Why calls through this connection are refused now (switched-off type, disabled), or None."""
    found = policy.connection_unusable_reason(connection)
    return found[1] if found else None
