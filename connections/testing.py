""""Test connection": one harmless call, with every secret of the connection replaced in what it shows.

The call goes through the platform's guarded client (``integrations_platform.outgoing``), as
invocations do: the same address guard, allow-list, timeouts and size cap.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode, urljoin, urlsplit

from django.conf import settings

from accesscontrol import policy
from audit.services import audit_record
from connections.credentials import (
    OutgoingRequest,
    apply_action_credentials,
    connection_base_url,
    connection_secrets,
    redact,
)
from connections.models import Connection
from integrations_platform import outgoing
from integrations_platform.errors import ApplicationError

EXCERPT_CHARS = 500


def _target_url(connection: Connection) -> tuple[str, list | None]:
    base = connection_base_url(connection)
    operation = connection.test_operation
    if operation is None:
        return base, None
    return urljoin(base.rstrip("/") + "/", operation.path.lstrip("/")), operation.security


def _send(request: OutgoingRequest, timeout) -> tuple[int, dict, bytes]:
    """One call through the platform's guarded client (address guard, allow-list, size cap)."""
    url = request.url
    if request.query:
        url += ("&" if urlsplit(url).query else "?") + urlencode(request.query)
    headers = dict(request.headers)
    if request.cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in request.cookies.items())
    try:
        response = outgoing.send(
            method=request.method,
            url=url,
            headers=headers,
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
    secrets = connection_secrets(connection)
    unusable = policy.connection_unusable_reason(connection)
    reason = unusable[1] if unusable else None
    url, security = _target_url(connection)
    result = {"ok": False, "status": None, "elapsed_ms": None, "url": redact(url, secrets), "excerpt": "", "error": ""}
    if reason:
        result["error"] = reason
        return result
    request = OutgoingRequest(method="GET", url=url, headers={"Accept": "application/json, */*;q=0.5"})
    timeout = (
        connection.connect_timeout or settings.OUTGOING_CONNECT_TIMEOUT,
        connection.read_timeout or settings.OUTGOING_READ_TIMEOUT,
    )
    started = time.monotonic()
    try:
        secrets += apply_action_credentials(connection=connection, security=security, request=request)
        status, _headers, body = _send(request, timeout)
    except ApplicationError as exc:
        result["error"] = redact(exc.message, secrets)
    else:
        result["status"] = status
        result["ok"] = 200 <= status < 400
        text = body.decode("utf-8", errors="replace")
        result["excerpt"] = redact(text, secrets)[:EXCERPT_CHARS]
    result["elapsed_ms"] = round((time.monotonic() - started) * 1000)
    result["url"] = redact(request.url, secrets)
    audit_record(
        actor=actor,
        action="connection.test",
        obj=connection,
        changes={"status": result["status"], "ok": result["ok"]},
    )
    return result
