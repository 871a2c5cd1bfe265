"""Where invocations meet the access control and connection apps: one file to switch over.

Access: ``UserRights`` (direct calls) answers whether a user may call an operation through a
connection and whether the call needs confirmation, with the same selector that builds
``tools/`` (``accesscontrol.selectors.tool_callable_by`` / ``tool_resolve``) when that is there, and
with a minimal guardian check until then. A process passes its own rights object with the same
``check``/``resolve`` methods instead (DESIGN.md: a process runs under the rights of the process).

Credentials: ``apply_credentials`` and ``connection_secrets`` use
``connections.credentials`` when it is there, else a small fallback for API key, basic, bearer
and custom headers.
"""

from __future__ import annotations

import base64
import json
from typing import Protocol

from django.contrib.auth.models import Group

from accesscontrol.models import (
    ConnectionGroupObjectPermission,
    ConnectionUserObjectPermission,
    MethodRight,
    MethodRightGroupObjectPermission,
    MethodRightUserObjectPermission,
)
from connections.models import Connection
from connectors.models import Operation
from integrations_platform.errors import ApplicationError

try:  # pragma: no cover - depends on the merge state of the access control branch
    from accesscontrol import selectors as _access_selectors
except ImportError:  # pragma: no cover
    _access_selectors = None

try:  # pragma: no cover - depends on the merge state of the connections branch
    from connections import credentials as _credentials
except ImportError:  # pragma: no cover
    _credentials = None


class Rights(Protocol):
    def resolve(self, *, name: str) -> tuple[Connection, Operation, bool]: ...

    def check(self, *, connection: Connection, operation: Operation) -> bool: ...


def _unknown_tool() -> ApplicationError:
    return ApplicationError(
        "There is no tool of that name that you may call.", field_errors={"tool": "Unknown tool."}, code="unknown_tool"
    )


def _not_callable() -> ApplicationError:
    return ApplicationError(
        "You may not call this method through this connection.", status_code=403, code="permission"
    )


def tool_name_for(connection: Connection, operation: Operation) -> str:
    """Fallback tool name (the access control app's naming wins once merged)."""
    return f"c{connection.pk}__{operation.name}"[:64]


def _group_ids(user) -> list[int]:
    """The user's groups and the company group, read once per request (kept on the user object)."""
    cached = getattr(user, "_invocation_group_ids", None)
    if cached is None:
        cached = list(user.groups.values_list("pk", flat=True))
        if user.organisation_id and user.organisation.members_group_id:
            cached.append(user.organisation.members_group_id)
        user._invocation_group_ids = cached
    return cached


def _has_object_perm(user, codename: str, obj, user_model, group_model) -> bool:
    group_ids = _group_ids(user)
    return (
        user_model.objects.filter(user=user, permission__codename=codename, content_object=obj).exists()
        or group_model.objects.filter(
            group__in=Group.objects.filter(pk__in=group_ids), permission__codename=codename, content_object=obj
        ).exists()
    )


class UserRights:
    """The rights of a user calling directly (assistant, API, pages): grants only, never superuser."""

    def __init__(self, user):
        self.user = user

    def resolve(self, *, name: str) -> tuple[Connection, Operation, bool]:
        if _access_selectors is not None and hasattr(_access_selectors, "tool_resolve"):
            tool = _access_selectors.tool_resolve(user=self.user, name=name)
            return tool.connection, tool.operation, bool(tool.requires_confirmation)
        prefix, sep, op_name = name.partition("__")
        if not sep or not prefix.startswith("c") or not prefix[1:].isdigit():
            raise _unknown_tool()
        connection = Connection.objects.select_related("connector").filter(pk=int(prefix[1:])).first()
        operation = (
            Operation.objects.filter(connector_id=connection.connector_id, name=op_name).first() if connection else None
        )
        if connection is None or operation is None:
            raise _unknown_tool()
        try:
            return connection, operation, self.check(connection=connection, operation=operation)
        except ApplicationError as exc:
            raise _unknown_tool() from exc

    def check(self, *, connection: Connection, operation: Operation) -> bool:
        """Whether the call needs confirmation; ``ApplicationError`` (403) when not allowed."""
        if _access_selectors is not None and hasattr(_access_selectors, "tool_callable_by"):
            tool = _access_selectors.tool_callable_by(user=self.user, connection=connection, operation=operation)
            return bool(tool.requires_confirmation)
        if operation.connector_id != connection.connector_id:
            raise _not_callable()
        if not _has_object_perm(
            self.user, "use_connection", connection, ConnectionUserObjectPermission, ConnectionGroupObjectPermission
        ):
            raise _not_callable()
        right = MethodRight.objects.filter(connection=connection, operation=operation).first()
        if right is None or not _has_object_perm(
            self.user, "call_operation", right, MethodRightUserObjectPermission, MethodRightGroupObjectPermission
        ):
            raise _not_callable()
        return right.requires_confirmation

    def can_see_connection(self, connection: Connection) -> bool:
        return _has_object_perm(
            self.user, "use_connection", connection, ConnectionUserObjectPermission, ConnectionGroupObjectPermission
        )


def connection_unusable_reason(connection: Connection) -> str | None:
    """Why calls through this connection are refused now (switched-off type, disabled), or None."""
    if _credentials is not None and hasattr(_credentials, "connection_usable_reason"):
        return _credentials.connection_usable_reason(connection)
    connector = connection.connector
    if not connector.integration_type.enabled:
        return f"The integration type {connector.integration_type.name} is switched off."
    if not connector.enabled:
        return f"The connector {connector.name} is switched off."
    if connection.status != Connection.Status.ACTIVE:
        return connection.status_reason or "The connection needs re-authorisation."
    return None


def _secret_values(data) -> list[str]:
    out: list[str] = []
    if isinstance(data, dict):
        for value in data.values():
            out.extend(_secret_values(value))
    elif isinstance(data, list):
        for value in data:
            out.extend(_secret_values(value))
    elif isinstance(data, str) and data:
        out.append(data)
    return out


def _load(text: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {"value": text}
    return value if isinstance(value, dict) else {"value": value}


def connection_secrets(connection: Connection) -> list[str]:
    """Every secret value of the connection's credentials, with derived forms (Basic auth)."""
    if _credentials is not None and hasattr(_credentials, "connection_secrets"):
        return list(_credentials.connection_secrets(connection))
    return _secrets_of(connection.credential_links.select_related("credential"))


def _secrets_of(links) -> list[str]:
    values: list[str] = []
    for link in links:
        cred = link.credential
        secret = _load(cred.secret)
        values.extend(_secret_values(secret))
        values.extend(_secret_values(_load(cred.tokens)))
        if cred.kind == "http_basic":
            username = cred.config.get("username", "")
            password = secret.get("password", "")
            values.append(base64.b64encode(f"{username}:{password}".encode()).decode())
    return [v for v in values if len(v) >= 4]


def apply_credentials(*, connection: Connection, security, request) -> list[str]:
    """Put the connection's action credentials on the request; answers the secrets to redact."""
    if _credentials is not None and hasattr(_credentials, "apply_action_credentials"):
        return list(_credentials.apply_action_credentials(connection=connection, security=security, request=request))
    # One read of the links: the action ones go on the request, all of them give secrets to redact.
    all_links = list(connection.credential_links.select_related("credential").order_by("position", "pk"))
    links = [] if security == [] else [link for link in all_links if link.purpose == "action"]
    for link in links:
        cred = link.credential
        secret = _load(cred.secret)
        config = cred.config or {}
        if cred.kind == "api_key":
            value = config.get("prefix", "") + secret.get("api_key", secret.get("value", ""))
            where, name = config.get("in", "header"), config.get("name", "X-API-Key")
            if where == "query":
                request.add_query(name, value)
            elif where == "cookie":
                request.cookies[name] = value
            else:
                request.headers[name] = value
        elif cred.kind == "http_basic":
            raw = f"{config.get('username', '')}:{secret.get('password', '')}".encode()
            request.headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        elif cred.kind == "http_bearer":
            request.headers["Authorization"] = "Bearer " + secret.get("token", "")
        elif cred.kind == "custom_headers":
            for key, value in secret.items():
                request.headers[str(key)] = str(value)
    if _credentials is not None and hasattr(_credentials, "connection_secrets"):
        return connection_secrets(connection)
    return _secrets_of(all_links)


REDACTED = "[redacted]"


def redact(value, secrets: list[str]):
    """``value`` (str, bytes, dict or list) with every secret replaced, longest first."""
    if _credentials is not None and hasattr(_credentials, "redact"):
        return _credentials.redact(value, secrets)
    ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
    return _redact(value, ordered)


def _redact(value, ordered: list[str]):
    if not ordered:
        return value
    if isinstance(value, str):
        for secret in ordered:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, bytes):
        return _redact(value.decode("utf-8", "replace"), ordered).encode()
    if isinstance(value, dict):
        return {_redact(k, ordered): _redact(v, ordered) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, ordered) for v in value]
    return value
