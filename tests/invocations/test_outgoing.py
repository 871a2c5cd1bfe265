"""The guarded HTTP client against real servers on 127.0.0.1."""

import ipaddress
import socket

import pytest

from integrations_platform import outgoing
from integrations_platform.outgoing import BlockedAddressError, OutgoingError, address_blocked, send
from tests.invocations.upstream import Answer, Upstream


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
