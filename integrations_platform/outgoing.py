"""Outgoing HTTP calls, guarded against server-side request forgery.

``send(...)`` is the one way the platform calls out. It

- resolves the host name itself and refuses loopback, private, link-local, unique-local, CGNAT,
  multicast, unspecified, reserved and cloud-metadata addresses, unless ``host:port`` (the name as
  written in the URL, or the address) is in ``settings.OUTGOING_ALLOWED_ADDRESSES``; a name with
  any refused address is refused as a whole;
- decides inside the connection's ``_new_conn``, before a socket is opened, and then connects to
  exactly the address it checked (pinned: a second DNS answer cannot swap in another address),
  while the Host header, TLS SNI and certificate check keep the name;
- uses (connect, read) timeouts, an overall deadline for reading the body, and a size cap on the
  body (the rest is not read; the result says ``truncated``);
- follows redirects itself, a bounded number, each hop checked the same way, and drops the
  Authorization and Cookie headers when a redirect leaves the original host;
- ignores proxy settings from the environment.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("169.254.170.2"),
    ipaddress.ip_address("100.100.100.200"),
    ipaddress.ip_address("fd00:ec2::254"),
}
_EXTRA_BLOCKED = [ipaddress.ip_network("100.64.0.0/10"), ipaddress.ip_network("64:ff9b::/96")]
REDIRECT_CODES = {301, 302, 303, 307, 308}


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


def address_blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is one the platform never calls unless allow-listed."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return address_blocked(ip.ipv4_mapped)
    if ip in METADATA_ADDRESSES:
        return True
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_reserved:
        return True
    if any(ip in net for net in _EXTRA_BLOCKED):
        return True
    return not ip.is_global


def _allowed_entries() -> set[str]:
    return {entry.strip().lower() for entry in getattr(settings, "OUTGOING_ALLOWED_ADDRESSES", []) if entry.strip()}


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses of ``host`` that may be called, or ``BlockedAddressError``. No socket is opened."""
    host = host.strip("[]").rstrip(".").lower()
    allowed = _allowed_entries()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise
    addresses: list[str] = []
    for info in infos:
        text = info[4][0].split("%", 1)[0]
        if text not in addresses:
            addresses.append(text)
    name_allowed = f"{host}:{port}" in allowed
    for text in addresses:
        ip = ipaddress.ip_address(text)
        shown = f"[{text}]" if ip.version == 6 else text
        listed = name_allowed or f"{shown}:{port}" in allowed or f"{text}:{port}" in allowed
        if address_blocked(ip) and not listed:
            raise BlockedAddressError(
                f"The address of {host} ({text}) is not one the platform may call (loopback, private, "
                f"link-local or metadata address). An administrator can allow-list {host}:{port}.",
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
) -> OutgoingResponse:
    """Make one guarded call (following allowed redirects). Raises ``OutgoingError`` on no answer."""
    connect_timeout = connect_timeout or settings.OUTGOING_CONNECT_TIMEOUT
    read_timeout = read_timeout or settings.OUTGOING_READ_TIMEOUT
    max_bytes = max_bytes if max_bytes is not None else settings.OUTGOING_MAX_RESPONSE_BYTES
    max_redirects = max_redirects if max_redirects is not None else getattr(settings, "OUTGOING_MAX_REDIRECTS", 5)
    headers = dict(headers or {})
    session = _session()
    started = time.monotonic()
    deadline = started + connect_timeout + 2 * read_timeout
    redirects: list[str] = []
    original_host = urlsplit(url).hostname
    while True:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise OutgoingError(f"Only http and https URLs can be called, not {url[:200]!r}.", kind="validation")
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
                if len(redirects) >= max_redirects:
                    raise OutgoingError(f"More than {max_redirects} redirects.", kind="network")
                url = urljoin(url, location)
                redirects.append(url)
                becomes_get = response.status_code == 303 or (response.status_code in {301, 302} and method == "POST")
                if becomes_get and method != "HEAD":
                    method, body = "GET", None
                    headers = {k: v for k, v in headers.items() if k.lower() not in {"content-type", "content-length"}}
                if urlsplit(url).hostname != original_host:
                    headers = {k: v for k, v in headers.items() if k.lower() not in {"authorization", "cookie"}}
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
