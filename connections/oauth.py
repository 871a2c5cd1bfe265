"""OAuth2 for credentials: the authorization-code flow, client-credentials tokens, and refresh.

Token requests are made with Authlib's requests client, which sends them through the platform's
guarded client (``integrations_platform.outgoing``) like every other outgoing call: the address
guard and allow-list, no proxy from the environment, timeouts, no redirects followed (a token
endpoint that redirects is an error) and a cap on the answer. Refresh is locked so that two workers never
refresh the same token at once: a worker *claims* the refresh inside a short transaction (a row
lock with ``select_for_update`` on PostgreSQL; SQLite serialises write transactions) with a
conditional update on ``token_version``, sends the token request outside any transaction, and
writes the new tokens only if ``token_version`` is still the one it claimed. Others wait for the
version to move and use the new token.

A refresh the provider refuses is decided once: the refusal is written as the credential's token
state (the version moves, the refused tokens are replaced by the reason), so the
waiters read the decision instead of each sending the refused token again, and later callers hear
it without a request, until the credential is connected again or its client secret is saved again.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import secrets
import time
from urllib.parse import quote, urlsplit

from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from connections.kinds import Kind
from connections.models import Credential, OAuthState
from connections.services import (
    connections_mark_active,
    connections_mark_needs_reauthorisation,
    credential_secret_read,
    credential_tokens_read,
    credential_tokens_store,
)
from integrations_platform import outgoing
from integrations_platform.errors import ApplicationError

logger = logging.getLogger(__name__)

OAUTH_KINDS = (Kind.OAUTH2_AUTHORIZATION_CODE, Kind.OAUTH2_CLIENT_CREDENTIALS)


def _setting(name: str, default):
    return getattr(settings, name, default)


def refresh_margin() -> dt.timedelta:
    return dt.timedelta(seconds=_setting("OAUTH_REFRESH_MARGIN_SECONDS", 120))


STATE_LIFETIME = dt.timedelta(minutes=10)
CLAIM_LIFETIME = dt.timedelta(seconds=60)
# Kept with the tokens once the provider refused a token request: the reason, shown to every caller.
REFUSED = "refresh_refused"


class TokenRefreshFailed(ApplicationError):
    pass


def _timeout():
    return (settings.OUTGOING_CONNECT_TIMEOUT, settings.OUTGOING_READ_TIMEOUT)


# A token answer is a small JSON object; anything larger is not one.
TOKEN_RESPONSE_MAX_BYTES = 64 * 1024


class TokenSession(outgoing.RoutedSessionMixin, OAuth2Session):
    """Authlib's OAuth2 client, sending through ``outgoing.send``; follows no redirects."""

    outgoing_max_bytes = TOKEN_RESPONSE_MAX_BYTES
    outgoing_max_redirects = 0


def _session(credential: Credential, *, secrets: tuple[str, ...] = (), **kwargs) -> TokenSession:
    """``secrets``: what the token request carries besides the client secret (code, verifier,
    refresh token), so that no redirect could take it elsewhere."""
    config = credential.config or {}
    secret = credential_secret_read(credential)
    scopes = config.get("scopes") or []
    session = TokenSession(
        client_id=config.get("client_id"),
        client_secret=secret.get("client_secret"),
        scope=" ".join(scopes) if scopes else None,
        **kwargs,
    )
    session.outgoing_secrets = [v for v in (secret.get("client_secret"), *secrets) if isinstance(v, str) and v]
    return session


def _expires_at(token: dict) -> dt.datetime | None:
    expires_at = token.get("expires_at")
    if expires_at is None and token.get("expires_in") is not None:
        try:
            expires_at = time.time() + int(token["expires_in"])
        except (TypeError, ValueError):
            expires_at = None
    if expires_at is None:
        return None
    try:
        return dt.datetime.fromtimestamp(int(expires_at), tz=dt.UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _keep(token: dict, previous: dict | None = None) -> dict:
    kept = {k: token[k] for k in ("access_token", "refresh_token", "token_type", "scope", "id_token") if k in token}
    if "refresh_token" not in kept and previous and previous.get("refresh_token"):
        kept["refresh_token"] = previous["refresh_token"]
    if not isinstance(kept.get("access_token"), str) or not kept["access_token"]:
        raise OAuthError(error="invalid_token_response", description="no access_token in the token response")
    return kept


# --- authorization code -----------------------------------------------------------------------


def oauth_authorization_start(*, credential: Credential, user, redirect_uri: str) -> str:
    """Begin the flow: store a single-use state bound to ``user`` and ``credential``, and return
    the provider's authorize URL to send the user's browser to."""
    if credential.kind != Kind.OAUTH2_AUTHORIZATION_CODE:
        raise ApplicationError(
            "Only an OAuth2 authorization-code credential can be connected.",
            field_errors={"credential": ["Not an OAuth2 authorization-code credential."]},
        )
    state = secrets.token_urlsafe(32)
    verifier = generate_token(64)
    OAuthState.objects.create(
        state=state, credential=credential, user=user, redirect_uri=redirect_uri, code_verifier=verifier
    )
    session = _session(credential, redirect_uri=redirect_uri, code_challenge_method="S256")
    extra = {}
    if urlsplit(credential.config["authorize_url"]).hostname == "accounts.google.com":
        # Google issues a refresh token only when asked for offline access.
        extra = {"access_type": "offline", "prompt": "consent"}
    url, _ = session.create_authorization_url(
        credential.config["authorize_url"], state=state, code_verifier=verifier, **extra
    )
    audit_record(actor=user, action="credential.oauth_start", obj=credential, changes={"fields": []})
    return url


def oauth_authorization_complete(*, user, state: str | None, code: str | None, error: str | None = None) -> Credential:
    """The provider redirected back: check the state (exists, unused, fresh, same user), use it
    once, exchange the code for tokens and store them encrypted."""
    bad_state = ApplicationError(
        "This authorization response is not valid: its state is unknown, expired, already used or "
        "belongs to another user. Start again with Connect.",
        field_errors={"state": ["Unknown, expired, already used or not yours."]},
        code="oauth_state_invalid",
    )
    if not state or not isinstance(state, str) or len(state) > 100:
        raise bad_state
    record = OAuthState.objects.select_related("credential").filter(state=state).first()
    if record is None or record.user_id != getattr(user, "pk", None):
        raise bad_state
    now = timezone.now()
    # Single use: only the first callback flips used_at.
    if not OAuthState.objects.filter(pk=record.pk, used_at__isnull=True).update(used_at=now):
        raise bad_state
    if record.created_at < now - STATE_LIFETIME:
        raise bad_state
    credential = record.credential
    if error:
        raise ApplicationError(
            "The provider refused the authorization.",
            field_errors={"error": [str(error)[:200]]},
            code="oauth_denied",
        )
    if not code or not isinstance(code, str) or len(code) > 4096:
        raise ApplicationError("The provider sent no authorization code.", field_errors={"code": ["Missing."]})
    session = _session(credential, secrets=(code, record.code_verifier), redirect_uri=record.redirect_uri)
    try:
        token = session.fetch_token(
            credential.config["token_url"],
            grant_type="authorization_code",
            code=code,
            code_verifier=record.code_verifier,
            timeout=_timeout(),
        )
        kept = _keep(token)
    except outgoing.OutgoingError as exc:
        logger.warning("OAuth code exchange for credential %s not made: %s", credential.pk, exc.kind)
        raise ApplicationError(
            f"The token endpoint could not be reached: {exc.message}", code="oauth_exchange_failed"
        ) from None
    except (OAuthError, ValueError, OSError) as exc:
        reason = _describe(exc, session.outgoing_secrets)
        logger.warning("OAuth code exchange failed for credential %s: %s", credential.pk, reason)
        raise ApplicationError(
            f"The token endpoint refused the code: {reason}.", code="oauth_exchange_failed"
        ) from None
    return credential_tokens_store(credential=credential, tokens=kept, expires_at=_expires_at(token), actor=user)


def _describe(exc: Exception, secrets=()) -> str:
    """The provider's error code, for people to read. A provider may put anything there, a value it
    was sent included: every secret of the request is replaced."""
    if not isinstance(exc, OAuthError):
        return type(exc).__name__
    text = str(exc.error or "error")
    for value in sorted((v for v in secrets if isinstance(v, str) and v), key=len, reverse=True):
        text = text.replace(value, "[redacted]")
    return text[:100]


# --- refresh ----------------------------------------------------------------------------------


def _needs_refresh(credential: Credential) -> bool:
    if not credential.tokens:
        return True
    if credential.token_expires_at is None:
        return False
    return credential.token_expires_at <= timezone.now() + refresh_margin()


def _claim(credential_id: int, version: int) -> bool:
    now = timezone.now()
    with transaction.atomic():
        row = Credential.objects.select_for_update().filter(pk=credential_id).values(
            "token_version", "token_refresh_claimed_until"
        ).first()
        if row is None or row["token_version"] != version:
            return False
        return bool(
            Credential.objects.filter(pk=credential_id, token_version=version)
            .filter(Q(token_refresh_claimed_until__isnull=True) | Q(token_refresh_claimed_until__lt=now))
            .update(token_refresh_claimed_until=now + CLAIM_LIFETIME)
        )


def _request_token(credential: Credential) -> dict:
    """One token request: refresh_token grant, or a new client-credentials token."""
    token_url = credential.config["token_url"]
    if credential.kind == Kind.OAUTH2_CLIENT_CREDENTIALS:
        return _session(credential).fetch_token(token_url, grant_type="client_credentials", timeout=_timeout())
    previous = credential_tokens_read(credential)
    refresh_token = previous.get("refresh_token")
    if not refresh_token:
        raise OAuthError(error="no_refresh_token", description="no refresh token stored")
    session = _session(credential, secrets=(refresh_token,))
    return session.refresh_token(token_url, refresh_token=refresh_token, timeout=_timeout())


def credential_refresh_token(
    *, credential: Credential, force: bool = False, seen_version: int | None = None, wait_seconds: float = 30.0
) -> Credential:
    """Make sure ``credential`` holds a usable token and return it reloaded.

    Without ``force``, refresh only when there is no token or it expires within the margin. With
    ``force`` (after a 401), refresh unless the token already changed since ``seen_version``.
    Exactly one caller at a time sends the token request; the others wait for its result.
    A refresh the provider refuses marks the connections using the credential as needing
    re-authorisation and raises :class:`TokenRefreshFailed`, for the caller that sent it and for
    every caller after it (code ``oauth_refresh_failed``), without another token request.
    """
    if credential.kind not in OAUTH_KINDS:
        raise ApplicationError("Not an OAuth2 credential.", field_errors={"credential": ["Not OAuth2."]})
    deadline = time.monotonic() + wait_seconds
    while True:
        current = Credential.objects.select_related("organisation").get(pk=credential.pk)
        refused = _refusal(current)
        if refused:
            # Decided once, by whoever sent the refused request: every waiter, and every later
            # caller until the credential is connected again or its client secret changes.
            raise TokenRefreshFailed(refused, code="oauth_refresh_failed")
        if seen_version is not None and current.token_version != seen_version:
            return current
        if not force and not _needs_refresh(current):
            return current
        if current.kind == Kind.OAUTH2_AUTHORIZATION_CODE and not current.tokens:
            raise TokenRefreshFailed(
                "The OAuth2 credential is not connected yet: use Connect in the administration.",
                code="oauth_not_connected",
            )
        version = current.token_version
        if _claim(current.pk, version):
            break
        # Another worker is refreshing: wait for the version to move, then use its token.
        seen_version = version
        force = True
        if time.monotonic() > deadline:
            raise TokenRefreshFailed("Timed out waiting for another token refresh.", code="oauth_refresh_busy")
        time.sleep(0.05)
    return _refresh_claimed(current, version)


def _refusal(credential: Credential) -> str | None:
    """The provider's refusal of the credential's last token request, while it is the decision in
    force (stored with the tokens, see :func:`_refresh_refused`), or None."""
    if not credential.tokens:
        return None
    try:
        reason = credential_tokens_read(credential).get(REFUSED)
    except ApplicationError:
        return None  # does not decrypt: whoever uses the tokens next says so
    return reason if isinstance(reason, str) and reason else None


def _client_secret(credential: Credential) -> str | None:
    try:
        return credential_secret_read(credential).get("client_secret")
    except ApplicationError:
        return None


def _refresh_refused(credential: Credential, version: int, previous: dict, exc: OAuthError) -> TokenRefreshFailed:
    """Record the refusal as the credential's token state, in one commit with the connections it
    marks: the tokens are replaced by the reason, the version moves (waiters wake up and read the
    decision instead of asking again), the claim ends."""
    client_secret = _client_secret(credential)
    sent = [previous.get("access_token"), previous.get("refresh_token"), client_secret]
    if client_secret:  # as client_secret_basic sends it
        client_id = (credential.config or {}).get("client_id") or ""
        sent.append(base64.b64encode(f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()).decode())
    reason = f"Token refresh refused by the provider ({_describe(exc, sent)}) at {timezone.now():%Y-%m-%d %H:%M} UTC."
    with transaction.atomic():
        written = Credential.objects.filter(pk=credential.pk, token_version=version).update(
            tokens=json.dumps({REFUSED: reason}),
            token_version=version + 1,
            token_refresh_claimed_until=None,
            updated_at=timezone.now(),
        )
        if written:
            connections_mark_needs_reauthorisation(credential=credential, reason=reason)
            audit_record(
                actor=None, action="credential.refresh_failed", obj=credential,
                changes={"fields": ["tokens"], "reason": reason},
            )
    return TokenRefreshFailed(reason, code="oauth_refresh_failed")


def _refresh_claimed(credential: Credential, version: int) -> Credential:
    try:
        previous = credential_tokens_read(credential) if credential.tokens else {}
        token = _request_token(credential)
        kept = _keep(token, previous or None)
    except OAuthError as exc:
        raise _refresh_refused(credential, version, previous, exc) from None
    except outgoing.OutgoingError as exc:
        _release(credential.pk, version)
        # Not called (address refused, redirect) or no answer: the grant may still be good.
        raise TokenRefreshFailed(
            f"The token endpoint could not be reached: {exc.message}", code="oauth_refresh_unreachable"
        ) from None
    except (ValueError, OSError) as exc:
        _release(credential.pk, version)
        # Network trouble or a broken gateway: the grant may still be good, so no re-authorisation.
        raise TokenRefreshFailed(
            f"The token endpoint could not be reached ({type(exc).__name__}).", code="oauth_refresh_unreachable"
        ) from None
    except ApplicationError:
        # The stored secret or tokens do not decrypt: nothing was sent; the next caller may try.
        _release(credential.pk, version)
        raise
    written = Credential.objects.filter(pk=credential.pk, token_version=version).update(
        tokens=json.dumps(kept),
        token_expires_at=_expires_at(token),
        token_version=version + 1,
        token_refresh_claimed_until=None,
        updated_at=timezone.now(),
    )
    if written:
        connections_mark_active(credential=credential)
        logger.info("Credential %s: token refreshed", credential.pk)
    return Credential.objects.get(pk=credential.pk)


def _release(credential_id: int, version: int) -> None:
    Credential.objects.filter(pk=credential_id, token_version=version).update(token_refresh_claimed_until=None)


def credential_ensure_token(*, credential: Credential) -> Credential:
    """Used when applying credentials: a token that is missing or about to expire is refreshed; a
    refused one raises :class:`TokenRefreshFailed` with the reason."""
    if not _needs_refresh(credential) and not _refusal(credential):
        return credential
    return credential_refresh_token(credential=credential)


def credentials_refresh_after_unauthorised(*, request) -> bool:
    """After a 401: refresh the OAuth2 tokens the request used (once, even if several workers saw
    the same 401). Returns True when the call may be retried with a new token."""
    refreshed = False
    for credential_id, version in (request.token_versions or {}).items():
        credential = Credential.objects.filter(pk=credential_id).first()
        if credential is None:
            continue
        new = credential_refresh_token(credential=credential, force=True, seen_version=version)
        refreshed = refreshed or new.token_version != version
    return refreshed


def credentials_refresh_expiring(*, limit: int = 500) -> dict:
    """For the periodic task: refresh every OAuth2 token that expires within the margin."""
    soon = timezone.now() + refresh_margin()
    ids = list(
        Credential.objects.filter(kind__in=OAUTH_KINDS, token_expires_at__lte=soon)
        .values_list("pk", flat=True)[:limit]
    )
    result = {"checked": len(ids), "refreshed": 0, "failed": 0}
    for credential_id in ids:
        credential = Credential.objects.get(pk=credential_id)
        before = credential.token_version
        try:
            after = credential_refresh_token(credential=credential)
        except ApplicationError:
            result["failed"] += 1
            continue
        if after.token_version != before:
            result["refreshed"] += 1
    return result
