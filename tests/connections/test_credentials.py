"""Every credential kind applied to a real request against a local server that checks what arrives."""

import base64
import hashlib
import hmac
import json

import pytest

from connections import services
from connections.credentials import CredentialsNotSatisfied, webhook_signature_verify
from connections.secrets import REDACTED, connection_secret_forms, redact
from connectors.models import AuthSchemeConfig
from connectors.openapi.request import RequestBuildError
from tests.connections.conftest import SECRETS, credential_specs, make_connector, prepare_call
from tests.connections.conftest import send_call as _send

pytestmark = pytest.mark.django_db

Kind = AuthSchemeConfig.Kind


def _connection(org, admin, connector, action=(), trigger=(), name="c"):
    return services.connection_create(
        connector=connector, organisation=org, name=name, created_by=admin,
        action_credentials=[{"create": s} for s in action], trigger_credentials=[{"create": s} for s in trigger],
    )


def _spec(name):
    return next(s for s in credential_specs() if s["name"] == name)


@pytest.mark.parametrize("where", ["header", "query", "cookie"])
def test_api_key_in_header_query_cookie(org, platform_admin, echo_server, where):
    connector = make_connector(org, base_url=echo_server.url)
    spec = {"name": "k", "kind": "api_key", "config": {"in": where, "name": "api_key", "prefix": "Token"},
            "secret": {"key": SECRETS["api_key"]}}
    connection = _connection(org, platform_admin, connector, [spec])
    request, redactions = prepare_call(connection, path="/items")
    _send(request)
    got = echo_server.last
    value = f"Token {SECRETS['api_key']}"
    if where == "header":
        assert got["headers"]["api_key"] == value
    elif where == "query":
        assert ("api_key", value) in got["query"]
    else:
        assert got["headers"]["Cookie"] == f'api_key="{value}"' or got["headers"]["Cookie"] == f"api_key={value}"
    assert SECRETS["api_key"] in redactions


def test_basic_bearer_custom_headers_in_order(org, platform_admin, echo_server):
    connector = make_connector(org, base_url=echo_server.url)
    connection = _connection(
        org, platform_admin, connector, [_spec("Basic"), _spec("API key"), _spec("Extra headers")]
    )
    request, redactions = prepare_call(connection, path="/x")
    _send(request)
    headers = echo_server.last["headers"]
    expected = base64.b64encode(f"svc-user:{SECRETS['password']}".encode()).decode()
    assert headers["Authorization"] == f"Basic {expected}"
    assert headers["X-API-Key"] == SECRETS["api_key"]
    assert headers["X-Tenant-Token"] == SECRETS["header_value"]
    assert expected in redactions and SECRETS["password"] in redactions
    # Order: a later credential writing the same header wins.
    from connections.models import Credential

    basic = Credential.objects.get(name="Basic")
    connection2 = services.connection_create(
        connector=connector, organisation=org, name="c2", created_by=platform_admin,
        action_credentials=[{"ref": basic.pk}, {"create": _spec("Bearer")}],
    )
    request, _ = prepare_call(connection2, path="/x")
    _send(request)
    assert echo_server.last["headers"]["Authorization"] == f"Bearer {SECRETS['token']}"


def test_webhook_signature_over_final_body(org, platform_admin, echo_server):
    connector = make_connector(org, base_url=echo_server.url)
    connection = _connection(org, platform_admin, connector, [_spec("Hook")], trigger=[])
    body = json.dumps({"event": "created"}).encode()
    request, _ = prepare_call(
        connection, method="POST", path="/hook", headers={"Content-Type": "application/json"}, body=body
    )
    _send(request)
    got = echo_server.last
    expected = hmac.new(SECRETS["signing_secret"].encode(), got["body"].encode(), hashlib.sha256).hexdigest()
    assert got["headers"]["X-Hub-Signature-256"] == f"sha256={expected}"
    credential = connection.credential_links.get().credential
    assert webhook_signature_verify(credential=credential, body=body, header_value=f"sha256={expected}")
    assert not webhook_signature_verify(credential=credential, body=b"tampered", header_value=f"sha256={expected}")


def test_connection_string_and_variables_substituted(org, platform_admin, echo_server):
    connector = make_connector(
        org, base_url=echo_server.url + "/{tenant}", variables=[{"name": "tenant", "value": "acme"}]
    )
    headers = {"name": "Headers", "kind": "custom_headers", "config": {},
               "secret": {"headers": {"X-DSN": "{dsn}", "X-Tenant": "t-{tenant}"}}}
    connection = _connection(org, platform_admin, connector, [_spec("DB"), headers])
    request, redactions = prepare_call(connection, path="/q", query=[("x", "{tenant}")])
    _send(request)
    got = echo_server.last
    assert got["path"] == "/acme/q"
    assert got["query"] == [("x", "{tenant}")]  # query values come from arguments: not substituted
    assert got["headers"]["X-DSN"] == SECRETS["connection_string"]
    assert got["headers"]["X-Tenant"] == "t-acme"
    assert SECRETS["connection_string"] in redactions


def test_one_set_of_rules_for_variables_in_headers(org, platform_admin, echo_server):
    """A custom header naming an unknown variable, or a value with a line break, is refused by the
    same rules as the URL (there is one substitution, in the request builder)."""
    connector = make_connector(
        org, base_url=echo_server.url, variables=[{"name": "tenant", "value": "acme"}]
    )
    unknown = {"name": "H1", "kind": "custom_headers", "config": {}, "secret": {"headers": {"X-A": "{nope}"}}}
    connection = _connection(org, platform_admin, connector, [unknown])
    with pytest.raises(RequestBuildError) as info:
        prepare_call(connection, path="/q")
    assert info.value.errors == {"headers.X-A": ["a variable the header names has no value"]}
    templated = {"name": "H2", "kind": "custom_headers", "config": {}, "secret": {"headers": {"X-T": "{tenant}"}}}
    connection2 = _connection(org, platform_admin, connector, [templated], name="c2")
    connection2.variables = [{"name": "tenant", "value": "acme\r\nX-Injected: 1"}]
    with pytest.raises(RequestBuildError) as info:
        prepare_call(connection2, path="/q")
    assert "line breaks" in info.value.errors["headers.X-T"][0]
    assert echo_server.requests == []


def test_security_requirements_choose_first_satisfied_alternative(org, platform_admin, echo_server):
    connector = make_connector(
        org, base_url=echo_server.url,
        schemes=[
            ("OAuth", Kind.OAUTH2_AUTHORIZATION_CODE, {}),
            ("ApiKeyAuth", Kind.API_KEY, {"in": "header", "name": "X-API-Key"}),
            ("BasicAuth", Kind.HTTP_BASIC, {}),
        ],
    )
    connection = _connection(
        org, platform_admin, connector, [_spec("Basic"), _spec("API key"), _spec("Extra headers")]
    )
    # OAuth alternative unsatisfied -> ApiKeyAuth alone; custom headers always apply.
    request, _ = prepare_call(connection, security=[{"OAuth": []}, {"ApiKeyAuth": []}])
    assert "Authorization" not in request.headers
    assert request.headers["X-API-Key"] == SECRETS["api_key"]
    assert request.headers["X-Tenant-Token"] == SECRETS["header_value"]
    # Both schemes of one alternative.
    request, _ = prepare_call(connection, security=[{"ApiKeyAuth": [], "BasicAuth": []}])
    assert request.headers["Authorization"].startswith("Basic ") and "X-API-Key" in request.headers
    # security: [] means none (custom headers still apply).
    request, _ = prepare_call(connection, security=[])
    assert set(request.headers) == {"X-Tenant-Token"}
    # Nothing satisfies: a clear error naming the requirement, no secret.
    with pytest.raises(CredentialsNotSatisfied) as exc:
        prepare_call(connection, security=[{"OAuth": ["read"]}])
    assert "OAuth" in exc.value.message


def test_connection_secrets_and_redact_cover_encoded_forms(org, platform_admin, connector):
    connection = _connection(
        org, platform_admin, connector, [_spec("Basic"), _spec("API key")], trigger=[_spec("Hook")]
    )
    secrets = connection_secret_forms(connection)
    basic = base64.b64encode(f"svc-user:{SECRETS['password']}".encode()).decode()
    for value in (SECRETS["password"], SECRETS["api_key"], SECRETS["signing_secret"], basic):
        assert value in secrets
    text = {"echo": [f"Authorization: Basic {basic}", SECRETS["api_key"].encode()], SECRETS["password"]: 1}
    cleaned = redact(text, secrets)
    dumped = repr(cleaned)
    assert REDACTED in dumped
    for value in (SECRETS["password"], SECRETS["api_key"], basic):
        assert value not in dumped
