""""Test connection": one harmless call, with every secret of the connection replaced in what it shows.

The call goes through the platform's guarded client (``integrations_platform.outgoing``), as
invocations do: the same address guard, allow-list, timeouts and size cap.
"""

from __future__ import annotations

import time

from django.conf import settings

from accesscontrol import policy
from audit.services import audit_record
from connections import secrets
from connections.models import Connection
from connectors.openapi.request import HttpRequest, RequestBuildError, build_request
from integrations_platform import outgoing
from integrations_platform.errors import ApplicationError

EXCERPT_CHARS = 500


def _build(connection: Connection, call: secrets.CallSecrets) -> HttpRequest:
    """The test call: the test operation (a GET without required arguments), or the base URL."""
    connector, operation = connection.connector, connection.test_operation
    try:
        request = build_request(
            method="GET",
            path=operation.path if operation else "",
            base_url=connector.base_url,
            servers=operation.servers if operation else None,
            parameters=operation.parameters if operation else None,
            approved_origins=connector.approved_origins,
            variables=call.variables,
            header_templates=call.header_templates,
            arguments={},
        )
    except RequestBuildError as exc:
        problems = [p for values in exc.errors.values() for p in values]
        raise ApplicationError(
            "The test call cannot be made: " + "; ".join(problems) + ".", field_errors={"url": problems}
        ) from None
    request.set_header("Accept", "application/json, */*;q=0.5")
    return request


def _send(request: HttpRequest, timeout) -> tuple[int, dict, bytes]:
    """One call through the platform's guarded client (address guard, allow-list, size cap)."""
    try:
        response = outgoing.send(
            method=request.method,
            url=request.url,
            headers=request.all_headers(),
            body=request.body,
            connect_timeout=timeout[0],
            read_timeout=timeout[1],
            max_redirects=0,
        )
    except outgoing.OutgoingError as exc:
        raise ApplicationError(exc.message, field_errors={"url": [exc.message]}, code=exc.kind) from None
    return response.status, response.headers, response.body


def connection_test(*, connection: Connection, actor) -> dict:
    """Make the connection's test call. Returns ``{"ok", "status", "elapsed_ms", "url", "excerpt",
    "error"}`` with every secret of the connection replaced."""
    forms = secrets.connection_secret_forms(connection)
    unusable = policy.connection_unusable_reason(connection)
    reason = unusable[1] if unusable else None
    result = {"ok": False, "status": None, "elapsed_ms": None, "url": "", "excerpt": "", "error": ""}
    if reason:
        result["error"] = reason
        return result
    timeout = (
        connection.connect_timeout or settings.OUTGOING_CONNECT_TIMEOUT,
        connection.read_timeout or settings.OUTGOING_READ_TIMEOUT,
    )
    started = time.monotonic()
    request = None
    try:
        operation = connection.test_operation
        call = secrets.call_secrets(connection=connection, security=operation.security if operation else None)
        request = _build(connection, call)
        forms = secrets.credentials_apply(call=call, request=request)
        status, _headers, body = _send(request, timeout)
    except ApplicationError as exc:
        result["error"] = secrets.redact(exc.message, forms)
    else:
        result["status"] = status
        result["ok"] = 200 <= status < 400
        text = body.decode("utf-8", errors="replace")
        result["excerpt"] = secrets.redact(text, forms)[:EXCERPT_CHARS]
    result["elapsed_ms"] = round((time.monotonic() - started) * 1000)
    result["url"] = secrets.redact(request.url, forms) if request is not None else ""
    audit_record(
        actor=actor,
        action="connection.test",
        obj=connection,
        changes={"status": result["status"], "ok": result["ok"]},
    )
    return result
