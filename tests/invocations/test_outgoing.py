"""The guarded HTTP client against real servers on 127.0.0.1."""

import ipaddress
import json
import re
import socket
from urllib.parse import quote, quote_plus

import pytest

from integrations_platform import outgoing
from integrations_platform.outgoing import BlockedAddressError, OutgoingError, address_blocked, send
from tests.invocations.upstream import Answer, Upstream


def lower_hex(text: str) -> str:
    """Percent-escapes in lower case (``%2f``), as some servers write them."""
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


@pytest.fixture
def upstream():
    server = Upstream()
    yield server
    server.close()


@pytest.fixture
def connects(monkeypatch):
    """Every socket connect this process makes, recorded (and still made)."""
    seen = []
    real = socket.socket.connect

    def record(self, address):
        seen.append(address)
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", record)
    return seen


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "169.254.1.1", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "::1", "fd00:ec2::254", "fc00::1", "fe80::1", "::ffff:127.0.0.1", "::",
    ],
)
def test_blocked_addresses(address):
    assert address_blocked(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert not address_blocked(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[fd00:ec2::254]/", "http://[::1]:80/"],
)
def test_a_refused_address_opens_no_connection(url, connects, settings):
    settings.OUTGOING_ALLOWED_ADDRESSES = []
    with pytest.raises(BlockedAddressError):
        send(method="GET", url=url)
    assert connects == []


def test_a_local_server_not_allow_listed_sees_nothing(upstream, connects, settings):
    settings.OUTGOING_ALLOWED_ADDRESSES = []
    with pytest.raises(BlockedAddressError) as info:
        send(method="GET", url=upstream.url + "/x")
    assert info.value.kind == "blocked_address"
    assert upstream.hits == []
    assert connects == []


def test_a_name_resolving_to_loopback_is_refused_on_another_port(upstream, connects, settings):
    settings.OUTGOING_ALLOWED_ADDRESSES = [f"localhost:{upstream.port + 1 if upstream.port < 65535 else 1}"]
    with pytest.raises(BlockedAddressError):
        send(method="GET", url=f"http://localhost:{upstream.port}/x")
    assert connects == []
    assert upstream.hits == []

    settings.OUTGOING_ALLOWED_ADDRESSES = [f"localhost:{upstream.port}"]
    response = send(method="GET", url=f"http://localhost:{upstream.port}/x")
    assert response.status == 200
    assert upstream.hits[0].headers["Host"] == f"localhost:{upstream.port}"


def test_the_connection_goes_to_the_checked_address(upstream, connects, settings, monkeypatch):
    """DNS rebinding: the socket connects to the address that was checked, never resolves twice."""
    settings.OUTGOING_ALLOWED_ADDRESSES = [f"api.test:{upstream.port}"]
    real = socket.getaddrinfo
    answers = []

    def fake(host, port, *args, **kwargs):
        if host == "api.test":
            answers.append(host)
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    response = send(method="GET", url=f"http://api.test:{upstream.port}/x")
    assert response.status == 200
    assert answers == ["api.test"]
    assert connects == [("127.0.0.1", upstream.port)]
    assert upstream.hits[0].headers["Host"] == f"api.test:{upstream.port}"


def test_redirect_to_a_blocked_address_is_refused(upstream, settings):
    settings.OUTGOING_ALLOWED_ADDRESSES = [upstream.address]
    upstream.answer(Answer(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}))
    with pytest.raises(BlockedAddressError):
        send(method="GET", url=upstream.url + "/start")
    assert len(upstream.hits) == 1


def test_redirects_are_followed_and_bounded(upstream, settings):
    settings.OUTGOING_ALLOWED_ADDRESSES = [upstream.address]
    upstream.answer(Answer(status=303, headers={"Location": "/next"}), Answer(body={"done": True}))
    response = send(method="POST", url=upstream.url + "/start", body=b"{}", headers={"Content-Type": "x/y"})
    assert response.status == 200
    assert [h.method for h in upstream.hits] == ["POST", "GET"]
    assert upstream.hits[1].path == "/next"

    upstream.default = Answer(status=302, headers={"Location": "/again"})
    with pytest.raises(OutgoingError, match="redirects"):
        send(method="GET", url=upstream.url + "/loop", max_redirects=3)


def test_response_cap_cuts_and_marks(upstream, settings):
    settings.OUTGOING_ALLOWED_ADDRESSES = [upstream.address]
    upstream.answer(Answer(body="x" * 5000))
    response = send(method="GET", url=upstream.url + "/big", max_bytes=1000)
    assert response.truncated is True
    assert response.body == b"x" * 1000


def test_read_timeout(upstream, settings):
    settings.OUTGOING_ALLOWED_ADDRESSES = [upstream.address]
    upstream.answer(Answer(delay=2))
    with pytest.raises(OutgoingError) as info:
        send(method="GET", url=upstream.url + "/slow", read_timeout=0.2)
    assert info.value.kind == "timeout"


def test_connection_refused_is_a_network_error(settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.OUTGOING_ALLOWED_ADDRESSES = [f"127.0.0.1:{port}"]
    with pytest.raises(OutgoingError) as info:
        send(method="GET", url=f"http://127.0.0.1:{port}/")
    assert info.value.kind == "network"


def test_other_schemes_are_refused():
    with pytest.raises(OutgoingError) as info:
        send(method="GET", url="file:///etc/passwd")
    assert info.value.kind == "validation"


def test_no_proxy_from_the_environment(upstream, settings, monkeypatch):
    settings.OUTGOING_ALLOWED_ADDRESSES = [upstream.address]
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    outgoing._local.__dict__.clear()
    assert send(method="GET", url=upstream.url + "/x").status == 200


# --- special-purpose addresses (IANA registries), on the Python the platform runs on -------------

SPECIAL_PURPOSE = [
    # (range, an address in it)
    ("0.0.0.0/8", "0.1.2.3"),
    ("10.0.0.0/8", "10.255.0.1"),
    ("100.64.0.0/10", "100.127.255.254"),
    ("127.0.0.0/8", "127.8.9.10"),
    ("169.254.0.0/16", "169.254.3.4"),
    ("172.16.0.0/12", "172.31.255.1"),
    ("192.0.0.0/24", "192.0.0.8"),
    ("192.0.0.0/24", "192.0.0.170"),
    ("192.0.2.0/24", "192.0.2.45"),
    ("192.88.99.0/24", "192.88.99.1"),
    ("192.168.0.0/16", "192.168.255.255"),
    ("198.18.0.0/15", "198.19.0.1"),
    ("198.51.100.0/24", "198.51.100.7"),
    ("203.0.113.0/24", "203.0.113.9"),
    ("224.0.0.0/4", "239.1.2.3"),
    ("240.0.0.0/4", "250.1.2.3"),
    ("255.255.255.255/32", "255.255.255.255"),
    ("::/128", "::"),
    ("::1/128", "::1"),
    ("::ffff:0:0/96", "::ffff:10.0.0.1"),
    ("64:ff9b::/96", "64:ff9b::a00:1"),
    ("64:ff9b:1::/48", "64:ff9b:1::808:808"),
    ("100::/64", "100::1"),
    ("2001::/23", "2001:2::1"),
    ("2001::/23", "2001:10::1"),
    ("2001:db8::/32", "2001:db8:1::1"),
    ("2002::/16", "2002:a00:1::1"),
    ("3fff::/20", "3fff:fff::1"),
    ("5f00::/16", "5f00::1"),
    ("fc00::/7", "fd12:3456::1"),
    ("fe80::/10", "fe80::1"),
    ("fec0::/10", "fec0::1"),
    ("ff00::/8", "ff02::1"),
]


@pytest.mark.parametrize(("network", "address"), SPECIAL_PURPOSE, ids=[f"{n}-{a}" for n, a in SPECIAL_PURPOSE])
def test_special_purpose_ranges_are_refused(network, address):
    ip = ipaddress.ip_address(address)
    assert ip in ipaddress.ip_network(network)
    assert address_blocked(ip)


@pytest.mark.parametrize(
    ("address", "embeds"),
    [
        ("2002:a9fe:a9fe::1", "169.254.169.254"),  # 6to4
        ("2002:c000:8::1", "192.0.0.8"),
        ("2002:7f00:1::", "127.0.0.1"),
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),  # NAT64, well-known prefix
        ("64:ff9b::c0a8:101", "192.168.1.1"),
        ("::ffff:169.254.169.254", "169.254.169.254"),  # IPv4-mapped
        ("::ffff:192.0.0.8", "192.0.0.8"),
        ("2001:0:7f00:1:8000:63bf:f7f7:fbfb", "127.0.0.1"),  # Teredo: the server ...
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.1"),  # ... and the client (stored inverted)
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"),
    ],
)
def test_transition_addresses_are_judged_by_the_ipv4_they_embed(address, embeds):
    assert ipaddress.ip_address(embeds) in outgoing.embedded_ipv4(ipaddress.ip_address(address))[1]
    assert address_blocked(ipaddress.ip_address(address))
    assert embeds in outgoing.address_refusal(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "2002:808:808::1",  # 6to4 of 8.8.8.8
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8 (an IPv6-only network reaching an IPv4 API)
        "::ffff:8.8.8.8",
        "2001:0:4136:e378:8000:63bf:f7f7:fbfb",  # Teredo: server 65.54.227.120, client 8.8.4.4
        "192.0.1.1",  # next to 192.0.0.0/24 and 192.0.2.0/24
        "192.88.98.1",
    ],
)
def test_transition_addresses_of_public_ipv4_and_neighbours_pass(address):
    assert not address_blocked(ipaddress.ip_address(address))


@pytest.fixture
def resolves_to(monkeypatch):
    """``resolves_to("name.test", "address")``: the name resolves to that address for this test."""
    names = {}
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in names:
            family = socket.AF_INET6 if ":" in names[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (names[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return names.__setitem__


@pytest.mark.parametrize("address", ["169.254.169.254", "2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe", "fd00:ec2::254",
                                     "::ffff:169.254.170.2", "100.100.100.200", "169.254.0.23"])
def test_metadata_addresses_are_never_called_and_never_offered_for_the_allow_list(
    address, resolves_to, connects, settings
):
    resolves_to("meta.test", address)
    shown = f"[{address}]" if ":" in address else address
    settings.OUTGOING_ALLOWED_ADDRESSES = ["meta.test:80", f"{shown}:80", f"{address}:80"]
    for url in ("http://meta.test/latest/meta-data/", f"http://{shown}/latest/meta-data/"):
        with pytest.raises(BlockedAddressError) as info:
            send(method="GET", url=url)
        assert "metadata" in info.value.message
        assert "allow-list" not in info.value.message
    assert connects == []


def test_other_refusals_name_the_reason_and_the_allow_list(resolves_to, settings):
    settings.OUTGOING_ALLOWED_ADDRESSES = []
    resolves_to("six.test", "2002:a00:1::1")
    with pytest.raises(BlockedAddressError) as info:
        send(method="GET", url="http://six.test:8080/")
    assert "6to4 address of 10.0.0.1, private" in info.value.message
    assert "allow-list six.test:8080" in info.value.message


def test_192_0_0_8_is_refused_when_a_name_resolves_to_it(resolves_to, connects, settings):
    settings.OUTGOING_ALLOWED_ADDRESSES = []
    resolves_to("dummy.test", "192.0.0.8")
    with pytest.raises(BlockedAddressError):
        send(method="GET", url="http://dummy.test/")
    assert connects == []


# --- redirects to another origin ---------------------------------------------------------------

SECRET = "s3cr3t/Val+ue=="


@pytest.fixture
def two(settings):
    """Two allow-listed servers: ``a`` (the upstream) and ``b`` (another origin), both recorded."""
    a, b = Upstream(), Upstream()
    settings.OUTGOING_ALLOWED_ADDRESSES = [a.address, b.address, f"localhost:{b.port}"]
    yield a, b
    a.close()
    b.close()


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/b?x=1", True),
        ("http://Example.com/a", "http://example.com:80/b", True),
        ("https://example.com/a", "https://example.com:443/b", True),
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:8001/a", False),
        ("http://127.0.0.1:8000/a", "http://localhost:8000/a", False),
        ("https://example.com/a", "http://example.com/a", False),
        ("http://example.com/a", "http://example.com:8080/a", False),
        ("http://example.com/a", "http://api.example.com/a", False),
    ],
)
def test_origins(one, other, same):
    assert (outgoing.origin(one) == outgoing.origin(other)) is same


def test_a_cross_origin_hop_drops_every_credential_header_and_keeps_the_rest(two):
    a, b = two
    a.answer(Answer(status=307, headers={"Location": f"http://localhost:{b.port}/next"}))
    headers = {
        "Authorization": "Basic dXNlcjpwYXNz",
        "Proxy-Authorization": "Basic cHJveHk6cGFzcw==",
        "Cookie": "sid=abc",
        "X-Api-Key": SECRET,
        "X-Prefixed": f"Token {SECRET}",
        "X-Encoded": lower_hex(quote(SECRET, safe="")),
        f"X-{SECRET[:6]}": "named by a secret",
        "Accept": "application/json",
        "X-Trace": "t-1",
    }
    response = send(method="GET", url=a.url + "/start", headers=headers, secrets=[SECRET, SECRET[:6]])
    assert response.status == 200
    assert response.redirects == [f"http://localhost:{b.port}/next"]
    assert a.hits[0].headers["X-Api-Key"] == SECRET
    received = b.hits[0].headers
    assert received["Accept"] == "application/json" and received["X-Trace"] == "t-1"
    for name in ("Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key", "X-Prefixed", "X-Encoded"):
        assert name not in received
    assert not any(SECRET[:6] in f"{k}{v}" for k, v in received.items())


def test_a_same_origin_hop_keeps_the_headers(two):
    a, _ = two
    a.answer(Answer(status=308, headers={"Location": f"{a.url}/next"}))
    headers = {"Authorization": "Bearer t", "Cookie": "sid=abc", "X-Api-Key": SECRET}
    send(method="GET", url=a.url + "/start", headers=headers, secrets=[SECRET])
    assert {k: a.hits[1].headers.get(k) for k in headers} == headers


@pytest.mark.parametrize(
    "location",
    [
        "/path/{secret}",
        "/x?k={secret}",
        "/x?k={quoted}",
        "/x?k={quoted_lower}",
        "/x?k={quoted_twice}",
        "/x?k={plus}",
        "/x#{secret}",
    ],
)
def test_a_hop_to_another_origin_with_a_secret_in_its_url_is_refused(two, location):
    a, b = two
    spelled = location.format(
        secret=SECRET,
        quoted=quote(SECRET, safe=""),
        quoted_lower=lower_hex(quote(SECRET, safe="")),
        quoted_twice=quote(quote(SECRET, safe=""), safe=""),
        plus=quote_plus(SECRET),
    )
    a.answer(Answer(status=302, headers={"Location": f"http://127.0.0.1:{b.port}{spelled}"}))
    with pytest.raises(OutgoingError) as info:
        send(method="GET", url=a.url + "/start", headers={"X-Api-Key": SECRET}, secrets=[SECRET])
    assert info.value.kind == "redirect_refused"
    assert SECRET not in info.value.message and quote(SECRET, safe="") not in info.value.message
    assert b.hits == []


def test_a_body_holding_a_secret_is_not_resent_to_another_origin(two):
    a, b = two
    body = json.dumps({"client_secret": SECRET}).encode()
    a.answer(Answer(status=307, headers={"Location": f"http://localhost:{b.port}/token"}))
    with pytest.raises(OutgoingError) as info:
        send(method="POST", url=a.url + "/token", body=body, headers={"Content-Type": "application/json"},
             secrets=[SECRET])
    assert info.value.kind == "redirect_refused"
    assert "body" in info.value.message
    assert b.hits == []

    # Form-encoded, 308: refused too.
    a.answer(Answer(status=308, headers={"Location": f"http://localhost:{b.port}/token"}))
    with pytest.raises(OutgoingError):
        send(method="PUT", url=a.url + "/t", body=f"s={quote_plus(SECRET)}".encode(), secrets=[SECRET])
    assert b.hits == []

    # 303 turns the call into a GET without the body: followed.
    a.answer(Answer(status=303, headers={"Location": f"http://localhost:{b.port}/done"}))
    assert send(method="POST", url=a.url + "/token", body=body, secrets=[SECRET]).status == 200
    assert b.hits[0].method == "GET" and b.hits[0].body == b""

    # A body without a secret goes on with a 307.
    a.answer(Answer(status=307, headers={"Location": f"http://localhost:{b.port}/plain"}))
    assert send(method="POST", url=a.url + "/p", body=b'{"n": 1}', secrets=[SECRET]).status == 200
    assert b.hits[1].body == b'{"n": 1}'


def test_once_another_origin_was_visited_the_credentials_stay_dropped(two):
    a, b = two
    a.answer(Answer(status=302, headers={"Location": f"{b.url}/bounce"}), Answer())
    b.answer(Answer(status=302, headers={"Location": f"{a.url}/back"}))
    send(method="GET", url=a.url + "/start", headers={"Authorization": "Bearer t"}, secrets=[])
    assert [h.path for h in a.hits] == ["/start", "/back"]
    assert "Authorization" not in a.hits[1].headers


def test_no_redirects_means_a_clear_refusal(two):
    a, b = two
    a.answer(Answer(status=302, headers={"Location": f"{b.url}/x"}))
    with pytest.raises(OutgoingError) as info:
        send(method="GET", url=a.url + "/start", max_redirects=0)
    assert info.value.kind == "redirect_refused"
    assert "302" in info.value.message
    assert b.hits == []


def test_a_redirect_to_another_scheme_is_refused_without_echoing_it(two):
    a, _ = two
    a.answer(Answer(status=302, headers={"Location": f"file:///etc/passwd?k={SECRET}"}))
    with pytest.raises(OutgoingError) as info:
        send(method="GET", url=a.url + "/start", secrets=[SECRET])
    assert info.value.kind == "redirect_refused"
    assert SECRET not in info.value.message


def test_a_redirect_to_an_address_that_is_not_allow_listed_reaches_nothing(two, settings, connects):
    a, b = two
    settings.OUTGOING_ALLOWED_ADDRESSES = [a.address]
    a.answer(Answer(status=307, headers={"Location": f"{b.url}/x"}))
    with pytest.raises(BlockedAddressError):
        send(method="GET", url=a.url + "/start")
    assert b.hits == []
    assert ("127.0.0.1", b.port) not in connects
