"""Which of a connection's credentials a call uses, and webhook signatures.

Which action credentials a call uses (DESIGN.md, Credential): where the operation declares
security requirements, the first alternative the connection's action credentials satisfy
(``[]`` means none); where it declares none (``None``), every action credential, in order.
Custom headers and webhook signing always apply; connection strings are variables.

A credential answers a security scheme of the connector when its ``config["scheme_name"]`` names
that scheme, or, when it names none, when its kind fits the scheme's kind
(:data:`connections.kinds.KINDS` ``satisfies``: an OAuth2 credential fits an OAuth2 or bearer
scheme, an API key an API key scheme, ...).

Reading secrets, applying them to a request and redacting them: ``connections.secrets``.
"""

from __future__ import annotations

import hashlib
import hmac

from connections import kinds
from connections.kinds import Kind
from connections.models import Connection, ConnectionCredential, Credential
from connections.services import credential_secret_read
from integrations_platform.errors import ApplicationError

ALWAYS_APPLIED = (Kind.CUSTOM_HEADERS, Kind.WEBHOOK)


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


# --- webhook signatures -----------------------------------------------------------------------


def webhook_signature(secret: str, body: bytes | None) -> str:
    return hmac.new(secret.encode(), body or b"", hashlib.sha256).hexdigest()


def webhook_signature_verify(*, credential: Credential, body: bytes | None, header_value: str) -> bool:
    """For inbound triggers: does ``header_value`` sign ``body`` with this webhook's secret?"""
    secret = credential_secret_read(credential).get("signing_secret", "")
    prefix = credential.config.get("signature_prefix", "sha256=")
    expected = prefix + webhook_signature(secret, body)
    return bool(secret) and hmac.compare_digest(expected.encode(), (header_value or "").encode())
