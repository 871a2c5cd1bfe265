"""Outgoing HTTP calls, guarded against server-side request forgery.

``send(...)`` is the one way the platform calls out: invocations, "Test connection", error
notification webhooks, OAuth2 token requests (Authlib's client sends through it, see
:class:`RoutedSessionMixin`) and the identity provider's JWKS. It

- resolves the host name itself and refuses every address that is not globally reachable
  (loopback, private, link-local, unique-local, shared/CGNAT, multicast, unspecified, reserved,
  documentation, benchmarking and the other IANA special-purpose ranges in
  :data:`SPECIAL_PURPOSE_RANGES`), unless ``host:port`` (the name as written in the URL, or the
  address) is in ``settings.OUTGOING_ALLOWED_ADDRESSES``; IPv6 transition addresses (IPv4-mapped,
  NAT64, 6to4, Teredo) are judged by the IPv4 addresses they embed; cloud metadata addresses
  (:data:`METADATA_ADDRESSES`, IPv4 link-local, or embedded in a transition address) are refused
  even when allow-listed; a name with any refused address is refused as a whole;
- decides inside the connection's ``_new_conn``, before a socket is opened, and then connects to
  exactly the address it checked (pinned: a second DNS answer cannot swap in another address),
  while the Host header, TLS SNI and certificate check keep the name;
- uses (connect, read) timeouts, an overall deadline for reading the body, and a size cap on the
  body (the rest is not read; the result says ``truncated``);
- follows redirects itself, a bounded number, each hop through the same guard. On a hop to another
  origin (scheme, host or port differ from the first request's) no credential travels: the
  Authorization, Proxy-Authorization and Cookie headers are dropped, and so is every header whose
  name or value holds one of the ``secrets`` the caller applied; a hop whose URL, or whose body it
  would re-send, holds one of them is refused (``redirect_refused``);
- ignores proxy settings from the environment and keeps no cookies between calls.
"""

from __future__ import annotations

import http
import ipaddress
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import unquote, unquote_plus, urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

REDIRECT_CODES = {301, 302, 303, 307, 308}
# Dropped on every hop to another origin, whatever they hold.
CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "cookie"}


class OutgoingError(Exception):
    """An outgoing call did not get an answer. ``kind`` is one of the error kinds of invocations."""

    kind = "network"

    def __init__(self, message: str, *, kind: str | None = None):
        super().__init__(message)
        self.message = message
        if kind:
            self.kind = kind


class BlockedAddressError(OutgoingError):
    kind = "blocked_address"


# Cloud metadata and host-agent services: never called, whatever the allow-list says.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, Azure, GCP, Oracle, OpenStack, DigitalOcean ...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer (a public-looking address)
        "fd00:ec2::254",  # AWS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
        "fd20:ce::254",  # GCP over IPv6
    )
)
# Every cloud puts its metadata service in IPv4 link-local space: all of it is never called.
METADATA_NETWORKS = (ipaddress.ip_network("169.254.0.0/16"),)

NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")

# What is not globally reachable, from the IANA special-purpose address registries (IPv4 and IPv6)
# plus multicast, IPv4-compatible/-translated and the deprecated site-local range. Checked from this
# table because Python's ``is_global`` differs between versions (on 3.11.7 it is True for 192.0.0.8,
# 192.88.99.0/24, 3fff::/20, fec0::/10 and every 6to4 address). A few registry entries that are
# globally reachable sit inside a listed block and stay refused with it (192.0.0.9 and 192.0.0.10 in
# 192.0.0.0/24; 2001:1::1, 2001:3::/32, 2001:4:112::/48 and 2001:20::/28 in 2001::/23): nothing an
# integration calls. The transition ranges (::ffff:0:0/96, 64:ff9b::/96, 2002::/16, 2001::/32) are
# reachable on purpose and are judged before this table (Teredo's /32 lies inside 2001::/23) by the
# IPv4 addresses they carry (:func:`embedded_ipv4`).
SPECIAL_PURPOSE_RANGES: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(network), name)
    for network, name in (
        ("0.0.0.0/8", "this network"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("255.255.255.255/32", "limited broadcast"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible (deprecated)"),
        ("::ffff:0:0:0/96", "IPv4-translated"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing (SRv6) SIDs"),
        ("fc00::/7", "unique-local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
    )
)


def embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[str, list[ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 transition address stands for, and the mechanism's name:
    IPv4-mapped (``::ffff:0:0/96``), NAT64 with the well-known prefix (``64:ff9b::/96``), 6to4
    (``2002::/16``) and Teredo (``2001::/32``: its server and its client). ``("", [])`` otherwise.
    These ranges are reachable on purpose; an address in them is judged by what it embeds."""
    if ip.version == 4:
        return "", []
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", [ip.ipv4_mapped]
    if ip in NAT64_WELL_KNOWN:
        return "NAT64", [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return "6to4", [ip.sixtofour]
    if ip.teredo is not None:
        return "Teredo", list(ip.teredo)
    return "", []


def metadata_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A cloud metadata address, itself or embedded in a transition address: never called."""
    if ip in METADATA_ADDRESSES or any(ip in net for net in METADATA_NETWORKS if net.version == ip.version):
        return True
    return any(metadata_address(inner) for inner in embedded_ipv4(ip)[1])


def address_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why the platform does not call ``ip`` unless allow-listed (a short phrase), or None."""
    if ip in METADATA_ADDRESSES or any(ip in net for net in METADATA_NETWORKS if net.version == ip.version):
        return "a cloud metadata address"
    mechanism, inner = embedded_ipv4(ip)
    if inner:
        for address in inner:
            reason = address_refusal(address)
            if reason:
                return f"a {mechanism} address of {address}, {reason}"
        return None
    for network, name in SPECIAL_PURPOSE_RANGES:
        if network.version == ip.version and ip in network:
            return name
    checks = (
        ("loopback", ip.is_loopback),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("not globally reachable", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def address_blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is one the platform never calls unless allow-listed."""
    return address_refusal(ip) is not None


def _allowed_entries() -> set[str]:
    return {entry.strip().lower() for entry in getattr(settings, "OUTGOING_ALLOWED_ADDRESSES", []) if entry.strip()}


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses of ``host`` that may be called, or ``BlockedAddressError``. No socket is opened."""
    host = host.strip("[]").rstrip(".").lower()
    allowed = _allowed_entries()
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        text = info[4][0].split("%", 1)[0]
        if text not in addresses:
            addresses.append(text)
    name_allowed = f"{host}:{port}" in allowed
    for text in addresses:
        ip = ipaddress.ip_address(text)
        reason = address_refusal(ip)
        if reason is None:
            continue
        if metadata_address(ip):
            raise BlockedAddressError(
                f"The address of {host} ({text}) is {reason}: the platform never calls it.",
            )
        shown = f"[{text}]" if ip.version == 6 else text
        if name_allowed or f"{shown}:{port}" in allowed or f"{text}:{port}" in allowed:
            continue
        raise BlockedAddressError(
            f"The address of {host} ({text}) is not one the platform calls ({reason}). If it is an "
            f"internal system the platform should reach, an administrator can allow-list {host}:{port} "
            "(OUTGOING_ALLOWED_ADDRESSES).",
        )
    if not addresses:
        raise OutgoingError(f"{host} has no address", kind="network")
    return addresses


class _GuardedConnectionMixin:
    def _new_conn(self) -> socket.socket:
        try:
            addresses = checked_addresses(self._dns_host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        last: OSError | None = None
        for address in addresses:
            try:
                return urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                ) from exc
            except OSError as exc:
                last = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}")


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }

    def proxy_manager_for(self, *args, **kwargs):  # pragma: no cover - proxies are never used
        raise OutgoingError("Outgoing calls do not go through proxies.", kind="network")


def new_session(pool_maxsize: int = 32) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.proxies = {}
    # Requests are prepared without the session's jar; refusing every cookie keeps the jar, which all
    # calls of a thread share, from collecting what upstreams set.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = GuardedAdapter(pool_connections=16, pool_maxsize=pool_maxsize, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = new_session()
    return session


@dataclass
class OutgoingResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    truncated: bool
    url: str
    elapsed_ms: float
    redirects: list[str] = field(default_factory=list)


def _read_capped(response: requests.Response, *, max_bytes: int, deadline: float) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    truncated = False
    for chunk in response.iter_content(chunk_size=65536):
        if not chunk:
            continue
        if size + len(chunk) > max_bytes:
            chunks.append(chunk[: max_bytes - size])
            truncated = True
            break
        chunks.append(chunk)
        size += len(chunk)
        if time.monotonic() > deadline:
            raise OutgoingError("The upstream sent its answer too slowly.", kind="timeout")
    return b"".join(chunks), truncated


# --- origins and secrets on redirects ---------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int]:
    """``(scheme, host, effective port)`` of an http(s) URL; ``ValueError`` for a bad port.

    Hosts compare as written, lower-cased: ``localhost`` and ``127.0.0.1`` are two origins, as are
    ``127.0.0.1:8000`` and ``127.0.0.1:8001``, and ``http://h`` and ``https://h``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port
    return scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme, 0)


def _shown_origin(value: tuple[str, str, int]) -> str:
    scheme, host, port = value
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + ("" if _DEFAULT_PORTS.get(scheme) == port else f":{port}")


def _readings(text: str) -> set[str]:
    """``text`` as written and as a receiver would decode it (percent- and form-decoded, twice)."""
    once, once_plus = unquote(text), unquote_plus(text)
    return {text, once, once_plus, unquote(once), unquote_plus(once_plus)}


def holds_secret(value: str | bytes | None, secrets: Sequence[str]) -> bool:
    """Whether ``value`` holds one of ``secrets``, as is or percent-/form-encoded (once or twice)."""
    if not value or not secrets:
        return False
    if isinstance(value, bytes):
        if any(secret.encode() in value for secret in secrets):
            return True
        value = value.decode("utf-8", "replace")
    readings = _readings(value)
    return any(secret in reading for secret in secrets for reading in readings)


def _without_credentials(headers: dict[str, str], secrets: Sequence[str]) -> dict[str, str]:
    return {
        name: value
        for name, value in headers.items()
        if name.lower() not in CREDENTIAL_HEADERS
        and not holds_secret(name, secrets)
        and not holds_secret(value, secrets)
    }


def send(
    *,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    max_bytes: int | None = None,
    max_redirects: int | None = None,
    secrets: Sequence[str] = (),
) -> OutgoingResponse:
    """Make one guarded call (following allowed redirects). Raises ``OutgoingError`` on no answer.

    ``secrets`` are the credential values the caller put on the request (with the encoded forms it
    used, such as base64 for Basic): on a redirect to another origin, headers holding them are
    dropped, and a hop that would carry them in its URL or body is refused (``redirect_refused``).
    With ``max_redirects=0`` a redirect answer is refused the same way.
    """
    connect_timeout = connect_timeout or settings.OUTGOING_CONNECT_TIMEOUT
    read_timeout = read_timeout or settings.OUTGOING_READ_TIMEOUT
    max_bytes = max_bytes if max_bytes is not None else settings.OUTGOING_MAX_RESPONSE_BYTES
    max_redirects = max_redirects if max_redirects is not None else getattr(settings, "OUTGOING_MAX_REDIRECTS", 5)
    secrets = [s for s in secrets if isinstance(s, str) and s]
    headers = dict(headers or {})
    session = _session()
    started = time.monotonic()
    deadline = started + connect_timeout + 2 * read_timeout
    redirects: list[str] = []
    first_origin: tuple[str, str, int] | None = None
    while True:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise OutgoingError(f"Only http and https URLs can be called, not {url[:200]!r}.", kind="validation")
        if first_origin is None:
            try:
                first_origin = origin(url)
            except ValueError:
                raise OutgoingError("The URL's port is not a number from 0 to 65535.", kind="validation") from None
        prepared = requests.Request(method=method, url=url, headers=headers, data=body).prepare()
        prepared.url = url  # exactly what the request builder encoded: no re-quoting
        try:
            response = session.send(
                prepared, timeout=(connect_timeout, read_timeout), allow_redirects=False, stream=True
            )
        except BlockedAddressError:
            raise
        except OutgoingError:
            raise
        except requests.exceptions.ConnectTimeout as exc:
            raise OutgoingError(f"Connecting to {parts.hostname} timed out.", kind="timeout") from exc
        except requests.exceptions.ReadTimeout as exc:
            raise OutgoingError(f"{parts.hostname} did not answer in time.", kind="timeout") from exc
        except requests.exceptions.SSLError as exc:
            raise OutgoingError(f"The TLS connection to {parts.hostname} failed.", kind="network") from exc
        except requests.exceptions.ConnectionError as exc:
            cause = exc.args[0] if exc.args else exc
            reason = getattr(cause, "reason", None)
            if isinstance(reason, NameResolutionError):
                raise OutgoingError(f"The name {parts.hostname} could not be resolved.", kind="network") from exc
            raise OutgoingError(f"Could not connect to {parts.hostname}.", kind="network") from exc
        except requests.exceptions.RequestException as exc:
            raise OutgoingError(f"The call to {parts.hostname} failed.", kind="network") from exc
        try:
            location = response.headers.get("Location")
            if response.status_code in REDIRECT_CODES and location:
                response.close()
                status = response.status_code
                if max_redirects == 0:
                    raise OutgoingError(
                        f"{parts.hostname} answered with a redirect ({status}); this call follows no redirects.",
                        kind="redirect_refused",
                    )
                if len(redirects) >= max_redirects:
                    raise OutgoingError(f"More than {max_redirects} redirects.", kind="network")
                target = urljoin(url, location)
                target_parts = urlsplit(target)
                try:
                    target_origin = origin(target)
                except ValueError:
                    target_origin = None
                if target_parts.scheme not in {"http", "https"} or not target_parts.hostname or not target_origin:
                    raise OutgoingError(
                        f"{parts.hostname} redirected ({status}) to something that is not an http or https URL.",
                        kind="redirect_refused",
                    )
                becomes_get = status == 303 or (status in {301, 302} and method == "POST")
                if becomes_get and method != "HEAD":
                    method, body = "GET", None
                    headers = {k: v for k, v in headers.items() if k.lower() not in {"content-type", "content-length"}}
                if target_origin != first_origin:
                    where = _shown_origin(target_origin)
                    if holds_secret(target, secrets):
                        raise OutgoingError(
                            f"{parts.hostname} redirected ({status}) to another origin ({where}) with a credential "
                            "of the connection in the URL; the redirect was not followed.",
                            kind="redirect_refused",
                        )
                    if holds_secret(body, secrets):
                        raise OutgoingError(
                            f"{parts.hostname} redirected ({status}) to another origin ({where}) that would receive "
                            "a credential of the connection in the request body; the redirect was not followed.",
                            kind="redirect_refused",
                        )
                    headers = _without_credentials(headers, secrets)
                url = target
                redirects.append(url)
                continue
            try:
                data, truncated = _read_capped(response, max_bytes=max_bytes, deadline=deadline)
            except requests.exceptions.ConnectionError as exc:
                if "Read timed out" in str(exc):
                    raise OutgoingError(f"{parts.hostname} did not answer in time.", kind="timeout") from exc
                raise OutgoingError(f"The connection to {parts.hostname} broke.", kind="network") from exc
            except requests.exceptions.RequestException as exc:
                raise OutgoingError(f"The connection to {parts.hostname} broke.", kind="network") from exc
            return OutgoingResponse(
                status=response.status_code,
                headers=dict(response.headers),
                body=data,
                truncated=truncated,
                url=url,
                elapsed_ms=(time.monotonic() - started) * 1000,
                redirects=redirects,
            )
        finally:
            response.close()


# --- libraries that bring their own requests.Session ------------------------------------------


class RoutedSessionMixin:
    """Mix into a ``requests.Session`` subclass (Authlib's ``OAuth2Session``) so that every request
    it makes goes through :func:`send`: the address guard, no proxies from the environment, the
    timeouts, the size cap (an answer over it is an error, not a cut body) and redirects as ``send``
    follows them (none by default).

    Set ``outgoing_secrets`` to the credential values the library puts on its requests.
    """

    outgoing_secrets: Sequence[str] = ()
    outgoing_max_bytes: int | None = None
    outgoing_max_redirects: int = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trust_env = False
        self.proxies = {}

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        timeout = kwargs.get("timeout")
        if isinstance(timeout, tuple):
            connect_timeout, read_timeout = timeout
        else:
            connect_timeout = read_timeout = timeout
        body = request.body.encode() if isinstance(request.body, str) else request.body
        max_bytes = self.outgoing_max_bytes or settings.OUTGOING_MAX_RESPONSE_BYTES
        answer = send(
            method=request.method or "GET",
            url=request.url or "",
            headers=dict(request.headers),
            body=body,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_bytes=max_bytes,
            max_redirects=self.outgoing_max_redirects,
            secrets=self.outgoing_secrets,
        )
        if answer.truncated:
            raise OutgoingError(
                f"{urlsplit(answer.url).hostname} answered with more than {max_bytes} bytes.", kind="network"
            )
        response = requests.Response()
        response.status_code = answer.status
        try:
            response.reason = http.HTTPStatus(answer.status).phrase
        except ValueError:
            response.reason = ""
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = answer.body
        response._content_consumed = True
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.url = answer.url
        response.request = request
        return response
