"""Applying a connection's credentials to an outgoing request, and keeping them out of records.

The invocation worker builds an :class:`OutgoingRequest` for an operation, then calls
:func:`apply_action_credentials`, sends it, and passes everything it stores through
:func:`redact` with the secrets that call returned (or :func:`connection_secrets`).

Which action credentials a call uses (DESIGN.md, Credential): where the operation declares
security requirements, the first alternative the connection's action credentials satisfy
(``[]`` means none); where it declares none (``None``), every action credential, in order.
Custom headers and webhook signing always apply; connection strings are variables.

A credential answers a security scheme of the connector when its ``config["scheme_name"]`` names
that scheme, or, when it names none, when its kind fits the scheme's kind
(:data:`connections.kinds.KINDS` ``satisfies``: an OAuth2 credential fits an OAuth2 or bearer
scheme, an API key an API key scheme, ...).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

from connections import kinds
from connections.kinds import Kind
from connections.models import Connection, ConnectionCredential, Credential
from connections.services import credential_secret_read, credential_tokens_read
from integrations_platform.errors import ApplicationError

REDACTED = "[redacted]"
_VARIABLE_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,63})\}")
ALWAYS_APPLIED = (Kind.CUSTOM_HEADERS, Kind.WEBHOOK)


@dataclass
class OutgoingRequest:
    """A request about to be sent. Mutable: credentials are applied in place."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    query: list[tuple[str, str]] = field(default_factory=list)
    cookies: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # Credential id -> the token version used, so a 401 can refresh exactly the token it saw.
    token_versions: dict[int, int] = field(default_factory=dict)

    def requests_kwargs(self) -> dict:
        """Keyword arguments for ``requests.request``/``Session.request``."""
        return {
            "method": self.method,
            "url": self.url,
            "headers": dict(self.headers),
            "params": list(self.query),
            "cookies": dict(self.cookies),
            "data": self.body,
        }


class CredentialsNotSatisfied(ApplicationError):
    """The operation needs a security scheme the connection has no credential for."""


def action_credentials(connection: Connection) -> list[Credential]:
    links = ConnectionCredential.objects.filter(
        connection=connection, purpose=ConnectionCredential.Purpose.ACTION
    ).select_related("credential").order_by("position", "id")
    return [link.credential for link in links]


def trigger_credentials(connection: Connection) -> list[Credential]:
    links = ConnectionCredential.objects.filter(
        connection=connection, purpose=ConnectionCredential.Purpose.TRIGGER
    ).select_related("credential").order_by("position", "id")
    return [link.credential for link in links]


# --- variables --------------------------------------------------------------------------------


def connection_variables(connection: Connection, credentials: list[Credential] | None = None) -> dict[str, str]:
    """The values ``{name}`` stands for: the connection's variables, then its connection strings."""
    values = {v["name"]: str(v.get("value", "")) for v in (connection.variables or []) if isinstance(v, dict)}
    for credential in credentials if credentials is not None else action_credentials(connection):
        if credential.kind == Kind.CONNECTION_STRING:
            name = credential.config.get("variable") or "connection_string"
            values[name] = credential_secret_read(credential).get("connection_string", "")
    return values


def substitute_variables(text: str, variables: dict[str, str]) -> str:
    """Replace ``{name}`` with its value; unknown names stay as they are."""
    if "{" not in text:
        return text
    return _VARIABLE_RE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def connection_base_url(connection: Connection) -> str:
    return substitute_variables(connection.connector.base_url, connection_variables(connection))


def _substitute_request(request: OutgoingRequest, variables: dict[str, str]) -> None:
    # Only scheme, host and path of the URL: query values come from call arguments.
    parts = urlsplit(request.url)
    prefix = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    new_prefix = substitute_variables(prefix, variables)
    if new_prefix != prefix:
        request.url = urlunsplit((*urlsplit(new_prefix)[:3], parts.query, parts.fragment))
    for name, value in list(request.headers.items()):
        request.headers[name] = substitute_variables(value, variables)


# --- choosing credentials ---------------------------------------------------------------------


def _scheme_kinds(connection: Connection) -> dict[str, str]:
    return {s.scheme_name: s.kind for s in connection.connector.auth_schemes.all() if s.scheme_name}


def _answers(credential: Credential, scheme: str, scheme_kind: str | None) -> bool:
    named = credential.config.get("scheme_name")
    if named:
        return named == scheme
    if scheme_kind is None:
        return False
    return scheme_kind in kinds.KINDS[credential.kind].satisfies


def select_action_credentials(
    connection: Connection, security: list[dict] | None, credentials: list[Credential] | None = None
) -> list[Credential]:
    """The action credentials a call with these security requirements uses, in list order."""
    credentials = action_credentials(connection) if credentials is None else credentials
    always = [c for c in credentials if c.kind in ALWAYS_APPLIED]
    if security is None:
        return [c for c in credentials if c.kind != Kind.CONNECTION_STRING]
    if not security:
        return always
    schemes = _scheme_kinds(connection)
    candidates = [c for c in credentials if c.kind not in ALWAYS_APPLIED and c.kind != Kind.CONNECTION_STRING]
    for alternative in security:
        if not isinstance(alternative, dict):
            continue
        chosen: list[Credential] = []
        for scheme in alternative:
            match = next(
                (c for c in candidates if c not in chosen and _answers(c, scheme, schemes.get(scheme))), None
            )
            if match is None:
                break
            chosen.append(match)
        else:
            picked = {c.pk for c in chosen} | {c.pk for c in always}
            return [c for c in credentials if c.pk in picked]
    wanted = " or ".join(" + ".join(alt) or "none" for alt in security if isinstance(alt, dict))
    raise CredentialsNotSatisfied(
        f"The connection has no action credential for this method's security requirements ({wanted[:300]}).",
        code="credentials_not_satisfied",
    )


# --- applying ---------------------------------------------------------------------------------


def _basic_forms(username: str, password: str) -> list[str]:
    raw = f"{username}:{password}".encode()
    return [base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]


def webhook_signature(secret: str, body: bytes | None) -> str:
    return hmac.new(secret.encode(), body or b"", hashlib.sha256).hexdigest()


def webhook_signature_verify(*, credential: Credential, body: bytes | None, header_value: str) -> bool:
    """For inbound triggers: does ``header_value`` sign ``body`` with this webhook's secret?"""
    secret = credential_secret_read(credential).get("signing_secret", "")
    prefix = credential.config.get("signature_prefix", "sha256=")
    expected = prefix + webhook_signature(secret, body)
    return bool(secret) and hmac.compare_digest(expected.encode(), (header_value or "").encode())


def _apply_one(credential: Credential, request: OutgoingRequest) -> list[str]:
    config = credential.config or {}
    kind = credential.kind
    if kind in (Kind.OAUTH2_AUTHORIZATION_CODE, Kind.OAUTH2_CLIENT_CREDENTIALS):
        from connections.oauth import credential_ensure_token

        credential = credential_ensure_token(credential=credential)
        tokens = credential_tokens_read(credential)
        access = tokens.get("access_token", "")
        request.headers["Authorization"] = f"{tokens.get('token_type_header') or 'Bearer'} {access}"
        request.token_versions[credential.pk] = credential.token_version
        return [access, tokens.get("refresh_token", "")]
    secret = credential_secret_read(credential)
    if kind == Kind.API_KEY:
        key = secret.get("key", "")
        prefix = config.get("prefix", "")
        value = f"{prefix} {key}" if prefix else key
        where = config.get("in", "header")
        if where == "query":
            request.query.append((config["name"], value))
        elif where == "cookie":
            request.cookies[config["name"]] = value
        else:
            request.headers[config["name"]] = value
        return [key]
    if kind == Kind.HTTP_BASIC:
        username, password = config.get("username", ""), secret.get("password", "")
        forms = _basic_forms(username, password)
        request.headers["Authorization"] = f"Basic {forms[0]}"
        return [password, *forms]
    if kind == Kind.HTTP_BEARER:
        token = secret.get("token", "")
        request.headers["Authorization"] = f"Bearer {token}"
        return [token]
    if kind == Kind.CUSTOM_HEADERS:
        headers = secret.get("headers", {})
        request.headers.update(headers)
        return list(headers.values())
    if kind == Kind.WEBHOOK:
        signing = secret.get("signing_secret", "")
        header = config.get("signature_header") or "X-Signature-256"
        request.headers[header] = config.get("signature_prefix", "sha256=") + webhook_signature(signing, request.body)
        return [signing]
    if kind == Kind.CONNECTION_STRING:
        return [secret.get("connection_string", "")]
    return []


def apply_action_credentials(
    *, connection: Connection, security: list[dict] | None, request: OutgoingRequest
) -> list[str]:
    """Apply the credentials this call uses to ``request`` (in place); return the secret strings
    to redact from anything stored or shown about the call (tokens, keys, Basic forms, ...).

    Raises :class:`CredentialsNotSatisfied` (an ``ApplicationError``) when no alternative of
    ``security`` is satisfied, and ``SecretUnreadable`` when a secret does not decrypt. An OAuth2
    token about to expire is refreshed first; after a 401, call
    ``connections.oauth.credentials_refresh_after_unauthorised(request=request)`` and apply again.
    """
    credentials = action_credentials(connection)
    variables = connection_variables(connection, credentials)
    _substitute_request(request, variables)
    secrets: list[str] = []
    for credential in credentials:
        if credential.kind == Kind.CONNECTION_STRING:
            secrets += _apply_one(credential, request)
    # Webhook signatures cover the final body, so they go last.
    chosen = select_action_credentials(connection, security, credentials)
    for credential in sorted(chosen, key=lambda c: c.kind == Kind.WEBHOOK):
        secrets += _apply_one(credential, request)
    return _with_encoded_forms(secrets)


# --- redaction --------------------------------------------------------------------------------


def _with_encoded_forms(values) -> list[str]:
    out: list[str] = []
    for value in values:
        if not value or not isinstance(value, str):
            continue
        for form in (value, quote(value, safe=""), quote_plus(value)):
            if form not in out:
                out.append(form)
    return out


def credential_secrets(credential: Credential) -> list[str]:
    """Every secret string of one credential, with its encoded forms."""
    values: list[str] = []
    try:
        secret = credential_secret_read(credential)
        tokens = credential_tokens_read(credential)
    except ApplicationError:
        # Unreadable ciphertext is not a secret in clear; still redact the raw stored text.
        return [v for v in (credential.secret, credential.tokens) if v]
    for key, value in secret.items():
        if key == "headers" and isinstance(value, dict):
            values += [v for v in value.values() if isinstance(v, str)]
        elif isinstance(value, str):
            values.append(value)
    if credential.kind == Kind.HTTP_BASIC:
        values += _basic_forms(credential.config.get("username", ""), secret.get("password", ""))
    for key in ("access_token", "refresh_token", "id_token"):
        if isinstance(tokens.get(key), str):
            values.append(tokens[key])
    return _with_encoded_forms(values)


def connection_secrets(connection: Connection) -> list[str]:
    """Every secret of the connection (action and trigger credentials), for redaction."""
    links = ConnectionCredential.objects.filter(connection=connection).select_related("credential")
    values: list[str] = []
    for link in links:
        for value in credential_secrets(link.credential):
            if value not in values:
                values.append(value)
    return values


def redact(value, secrets):
    """``value`` (text, bytes, or nested dicts and lists of them) with every secret replaced."""
    ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not ordered:
        return value
    return _redact(value, ordered)


def _redact(value, ordered):
    if isinstance(value, str):
        for secret in ordered:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, bytes):
        for secret in ordered:
            encoded = secret.encode()
            if encoded in value:
                value = value.replace(encoded, REDACTED.encode())
        return value
    if isinstance(value, dict):
        return {_redact(k, ordered): _redact(v, ordered) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v, ordered) for v in value)
    return value
