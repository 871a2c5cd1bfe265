"""No credential of a connection follows a redirect to another origin.

Real servers on 127.0.0.1: the connector's upstream answers a redirect to a second server, which is
allow-listed under both ``localhost:<port>`` and ``127.0.0.1:<port>`` (so the hop is made) and records
everything that reaches it. The invocation runs as a worker runs it.
"""

import base64
import json
import re
from urllib.parse import quote, quote_plus

import pytest

from invocations import services
from tests.invocations.conftest import add_credential
from tests.invocations.upstream import Answer, Upstream

pytestmark = pytest.mark.django_db

CODES = [301, 302, 303, 307, 308]

# kind name -> (credential kind, config, secret, the secret value)
CREDENTIALS = {
    "api_key_header": ("api_key", {"in": "header", "name": "X-API-Key"}, {"key": "hdr-K3y/+=1"}, "hdr-K3y/+=1"),
    "api_key_query": ("api_key", {"in": "query", "name": "api_key"}, {"key": "qry-K3y/+=2"}, "qry-K3y/+=2"),
    "api_key_cookie": ("api_key", {"in": "cookie", "name": "sid"}, {"key": "ck-K3y-3"}, "ck-K3y-3"),
    "custom_header": ("custom_headers", {}, {"headers": {"X-Tenant-Token": "cst-S3cret/+=4"}}, "cst-S3cret/+=4"),
    "basic": ("http_basic", {"username": "ann"}, {"password": "pa55/w+rd=5"}, "pa55/w+rd=5"),
    "bearer": ("http_bearer", {}, {"token": "tok-B3arer/+=6"}, "tok-B3arer/+=6"),
}


def lower_hex(text: str) -> str:
    """Percent-escapes in lower case (``%2f``), as some servers write them."""
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def forms(name: str) -> list[str]:
    """Every form the secret of ``name`` could take on the wire."""
    kind, config, _, value = CREDENTIALS[name]
    out = [value, quote(value, safe=""), quote_plus(value), lower_hex(quote(value, safe="")), json.dumps(value)[1:-1]]
    out.append(base64.b64encode(value.encode()).decode())
    if kind == "http_basic":
        pair = f"{config['username']}:{value}".encode()
        out += [base64.b64encode(pair).decode(), base64.urlsafe_b64encode(pair).decode()]
    return out


def wire(hit) -> str:
    return json.dumps([hit.method, hit.path, hit.headers, hit.body.decode("latin-1")])


@pytest.fixture
def other(upstream, settings):
    server = Upstream()
    settings.OUTGOING_ALLOWED_ADDRESSES = [
        upstream.address, f"127.0.0.1:{server.port}", f"localhost:{server.port}",
    ]
    yield server
    server.close()


def _tool(make_tool, name):
    tool = make_tool(method="GET", path="/start")
    kind, config, secret, _ = CREDENTIALS[name]
    add_credential(tool.connection, kind, config=config, secret=secret)
    return tool


def _run(tool, designer):
    invocation = services.invocation_create(
        user=designer, connection=tool.connection, operation=tool.operation, arguments={}
    )
    services.invocation_execute(invocation_id=invocation.pk)
    invocation.refresh_from_db()
    return invocation


@pytest.mark.parametrize("name", list(CREDENTIALS))
@pytest.mark.parametrize("target", ["localhost", "127.0.0.1"])
@pytest.mark.parametrize("code", CODES)
def test_no_credential_follows_a_redirect_to_another_origin(code, target, name, designer, make_tool, upstream, other):
    tool = _tool(make_tool, name)
    # The upstream moved: same path and query, on another origin (as servers redirect).
    start_query = f"api_key={quote(CREDENTIALS[name][3], safe='')}" if name == "api_key_query" else ""
    location = f"http://{target}:{other.port}/landed" + (f"?{start_query}" if start_query else "")
    upstream.answer(Answer(status=code, headers={"Location": location}))
    other.default = Answer(body={"landed": True})

    invocation = _run(tool, designer)

    # The credential was on the first request ...
    assert any(form in wire(upstream.hits[0]) for form in forms(name))
    if name == "api_key_query":
        # ... and the hop would have carried it in the query: refused, nothing reached the other origin.
        assert invocation.status == "failed"
        assert invocation.error["kind"] == "redirect_refused", invocation.error
        assert f"{target}:{other.port}" in invocation.error["message"]
        assert other.hits == []
    else:
        # ... and nothing of it reached the other origin, in any form.
        assert invocation.status == "succeeded", invocation.error
        assert len(other.hits) == 1
        received = wire(other.hits[0])
        assert [form for form in forms(name) if form in received] == []
    assert not any(form in json.dumps([invocation.error, invocation.result]) for form in forms(name))


@pytest.mark.parametrize("name", list(CREDENTIALS))
@pytest.mark.parametrize("absolute", [False, True])
def test_a_same_origin_redirect_keeps_the_credentials(absolute, name, designer, make_tool, upstream, other):
    tool = _tool(make_tool, name)
    query = f"?api_key={quote(CREDENTIALS[name][3], safe='')}" if name == "api_key_query" else ""
    location = (upstream.url if absolute else "") + "/moved" + query
    upstream.answer(Answer(status=302, headers={"Location": location}), Answer(body={"moved": True}))

    invocation = _run(tool, designer)

    assert invocation.status == "succeeded", invocation.error
    assert [hit.path.split("?")[0] for hit in upstream.hits] == ["/start", "/moved"]
    first, second = (wire(hit) for hit in upstream.hits)
    assert [form in first for form in forms(name)] == [form in second for form in forms(name)]
    assert any(form in second for form in forms(name))
    assert other.hits == []


def test_a_location_echoing_a_header_key_in_its_query_is_refused(designer, make_tool, upstream, other):
    tool = _tool(make_tool, "api_key_header")
    key = CREDENTIALS["api_key_header"][3]
    upstream.answer(Answer(status=302, headers={"Location": f"http://localhost:{other.port}/x?k={quote(key)}"}))

    invocation = _run(tool, designer)

    assert invocation.status == "failed"
    assert invocation.error["kind"] == "redirect_refused"
    assert other.hits == []
    assert key not in json.dumps(invocation.error)


def test_a_redirect_to_an_address_not_allow_listed_is_refused(designer, make_tool, upstream, other, settings):
    settings.OUTGOING_ALLOWED_ADDRESSES = [upstream.address]
    tool = _tool(make_tool, "api_key_header")
    upstream.answer(Answer(status=307, headers={"Location": f"{other.url}/x"}))

    invocation = _run(tool, designer)

    assert invocation.status == "failed"
    assert invocation.error["kind"] == "blocked_address"
    assert other.hits == []
