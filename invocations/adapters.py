"""Where invocations meet the access control and connection apps.

Access: ``UserRights`` (direct calls) answers whether a user may call an operation through a
connection and whether the call needs confirmation, with the same selector that builds ``tools/``
(``accesscontrol.selectors.tool_callable_by`` / ``tool_resolve``). A process will pass its own rights
object with the same ``check``/``resolve`` methods instead (DESIGN.md: a process runs under the
rights of the process).

Credentials: ``connections.credentials`` applies the connection's action credentials to the
request and names the secrets to redact; ``connections.oauth`` refreshes a token after a 401.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import quote

from accesscontrol import policy
from accesscontrol import selectors as access
from accesscontrol.tools import tool_name
from connections import credentials, oauth
from connections.models import Connection
from connectors.models import Operation
from integrations_platform.errors import ApplicationError

REDACTED = "[redacted]"


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


def connection_secrets(connection: Connection) -> list[str]:
    """Every secret value of the connection's credentials, with derived forms (Basic auth)."""
    return list(credentials.connection_secrets(connection))


def apply_credentials(*, connection: Connection, security, request) -> list[str]:
    """Put the connection's action credentials on ``request`` (the request builder's
    ``HttpRequest``); answers every secret of the connection, to redact."""
    outgoing = credentials.OutgoingRequest(
        method=request.method, url=request.url, headers=request.headers, cookies=request.cookies, body=request.body
    )
    used = credentials.apply_action_credentials(connection=connection, security=security, request=outgoing)
    request.url = outgoing.url
    for name, value in outgoing.query:
        request.add_query(name, value)
    # Kept for a refresh after a 401: which token versions this request carried.
    request.token_versions = dict(outgoing.token_versions)
    return sorted({*used, *connection_secrets(connection)}, key=len, reverse=True)


def refresh_after_unauthorised(request) -> bool:
    """After a 401: refresh the OAuth2 tokens the request used; True when a retry may succeed."""
    if not getattr(request, "token_versions", None):
        return False
    return oauth.credentials_refresh_after_unauthorised(request=request)


def redact(value, secrets: list[str]):
    """``value`` (str, bytes, dict or list) with every secret replaced, longest first."""
    return credentials.redact(value, [*secrets, *(quote(s, safe="") for s in secrets if s)])
