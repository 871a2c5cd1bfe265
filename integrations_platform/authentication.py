"""``Authorization: Bearer <token>``: an API key (external consumers) or a JWT id_token from the
configured identity provider (internal consumers)."""

from __future__ import annotations

import functools
import json
import time

import jwt
from django.conf import settings
from rest_framework import authentication, exceptions, throttling

from accounts.models import User
from accounts.services import API_KEY_PREFIX, api_key_authenticate
from integrations_platform import outgoing

JWKS_MAX_BYTES = 256 * 1024


class GuardedJWKClient(jwt.PyJWKClient):
    """PyJWT's JWKS client, fetching through the platform's guarded client (``outgoing.send``): the
    address guard (an identity provider on a private address must be allow-listed), no proxy from
    the environment, timeouts, no redirects, a size cap."""

    def fetch_data(self):
        try:
            answer = outgoing.send(
                method="GET",
                url=self.uri,
                headers={"Accept": "application/json", **self.headers},
                connect_timeout=self.timeout,
                read_timeout=self.timeout,
                max_bytes=JWKS_MAX_BYTES,
                max_redirects=0,
            )
        except outgoing.OutgoingError as exc:
            raise jwt.PyJWKClientConnectionError(f"The JWKS could not be fetched: {exc.message}") from None
        if answer.status != 200 or answer.truncated:
            raise jwt.PyJWKClientConnectionError(
                f"The JWKS endpoint answered {answer.status}" + (" with too much." if answer.truncated else ".")
            )
        try:
            data = json.loads(answer.body)
        except ValueError:
            raise jwt.PyJWKClientError("The JWKS endpoint did not return JSON.") from None
        if not isinstance(data, dict):
            raise jwt.PyJWKClientError("The JWKS endpoint did not return a JSON object.")
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(data)
        self._last_successful_fetch = time.monotonic()  # PyJWT's refresh cooldown
        return data


@functools.cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return GuardedJWKClient(url, cache_keys=True, timeout=5)


def _jwt_user(token: str) -> User:
    if not settings.JWT_ISSUER or not (settings.JWT_PUBLIC_KEY or settings.JWT_JWKS_URL):
        raise exceptions.AuthenticationFailed("Invalid API key.")
    try:
        if settings.JWT_JWKS_URL:
            key = _jwks_client(settings.JWT_JWKS_URL).get_signing_key_from_jwt(token).key
        else:
            key = settings.JWT_PUBLIC_KEY
        claims = jwt.decode(
            token,
            key=key,
            algorithms=settings.JWT_ALGORITHMS,
            issuer=settings.JWT_ISSUER,
            audience=settings.JWT_AUDIENCE or None,
            options={"require": ["exp", "iss", "sub"]},
        )
    except (jwt.PyJWTError, ValueError) as exc:
        raise exceptions.AuthenticationFailed(f"Invalid id_token: {exc.__class__.__name__}.") from None
    username = claims.get(settings.JWT_USER_CLAIM)
    if not isinstance(username, str) or not username:
        raise exceptions.AuthenticationFailed(f"The id_token has no {settings.JWT_USER_CLAIM} claim.")
    user = User.objects.select_related("organisation").filter(username=username, is_active=True).first()
    if user is None:
        raise exceptions.AuthenticationFailed("The id_token names no active user of this platform.")
    return user


class FailedTokenThrottle(throttling.SimpleRateThrottle):
    """DRF's rate throttle, counting failed Bearer tokens (API keys and id_tokens) per client
    address, in the shared cache (Redis), so that the count holds across web processes. Only
    failures count: :meth:`blocked` looks, :meth:`record_failure` adds one.

    A client over the rate gets 429 with ``Retry-After`` for every Bearer request, right or wrong,
    until the window has passed: a right key does not reveal itself by answering differently."""

    scope = "failed_token"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def _history(self, request) -> list[float]:
        self.key = self.get_cache_key(request, None)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return self.history

    def blocked(self, request) -> bool:
        if self.rate is None:
            return False
        return len(self._history(request)) >= self.num_requests

    def record_failure(self, request) -> None:
        if self.rate is None:
            return
        self._history(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)


class BearerAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != b"bearer":
            return None
        throttle = FailedTokenThrottle()
        if throttle.blocked(request):
            raise exceptions.Throttled(wait=throttle.wait(), detail="Too many failed tokens from this address.")
        try:
            return self._authenticate(header)
        except exceptions.AuthenticationFailed:
            throttle.record_failure(request)
            raise

    def _authenticate(self, header):
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Give one token after Bearer.")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not ASCII.") from None
        if token.startswith(f"{API_KEY_PREFIX}_"):
            user = api_key_authenticate(raw=token)
            if user is None:
                raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
            return user, "api_key"
        return _jwt_user(token), "jwt"

    def authenticate_header(self, request):
        return self.keyword
