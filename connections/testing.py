""""Test connection": one harmless call, with every secret of the connection replaced in what it shows.

The HTTP call lives in :func:`_send` alone so that it can be switched to the platform's guarded
client (SSRF guard, allow-list) without touching the rest.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

from audit.services import audit_record
from connections.credentials import (
    OutgoingRequest,
    apply_action_credentials,
    connection_base_url,
    connection_secrets,
    redact,
)
from connections.models import Connection
from connections.selectors import connection_usable_reason
from integrations_platform.errors import ApplicationError

EXCERPT_CHARS = 500


def _target_url(connection: Connection) -> tuple[str, list | None]:
    base = connection_base_url(connection)
    operation = connection.test_operation
    if operation is None:
        return base, None
    return urljoin(base.rstrip("/") + "/", operation.path.lstrip("/")), operation.security


def _address_allowed(url: str) -> str | None:
    """A simple guard until the shared guarded client replaces :func:`_send`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Only http:// and https:// URLs can be called."
    port = parts.port or (443 if parts.scheme == "https" else 80)
    allowed = set(getattr(settings, "OUTGOING_ALLOWED_ADDRESSES", []) or [])
    if f"{parts.hostname}:{port}" in allowed:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return "The host name does not resolve."
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if f"{address}:{port}" in allowed:
            continue
        if not address.is_global:
            return "The address is not public and not allow-listed (OUTGOING_ALLOWED_ADDRESSES)."
    return None


def _send(request: OutgoingRequest, timeout) -> tuple[int, dict, bytes]:
    problem = _address_allowed(request.url)
    if problem:
        raise ApplicationError(problem, field_errors={"url": [problem]}, code="address_refused")
    cap = settings.OUTGOING_MAX_RESPONSE_BYTES
    with requests.Session() as session:
        session.trust_env = False
        response = session.request(**request.requests_kwargs(), timeout=timeout, allow_redirects=False, stream=True)
        try:
            body = b""
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > cap:
                    body = body[:cap]
                    break
        finally:
            response.close()
    return response.status_code, dict(response.headers), body


def connection_test(*, connection: Connection, actor) -> dict:
    """Make the connection's test call. Returns ``{"ok", "status", "elapsed_ms", "url", "excerpt",
    "error"}`` with every secret of the connection replaced."""
    secrets = connection_secrets(connection)
    reason = connection_usable_reason(connection)
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
    except requests.RequestException as exc:
        result["error"] = f"The call failed: {type(exc).__name__}."
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
