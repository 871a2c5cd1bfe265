"""Every credential kind applied to a real request against a local server that checks what arrives."""

import base64
import hashlib
import hmac
import json

import pytest
import requests

from connections import services
from connections.credentials import (
    REDACTED,
    CredentialsNotSatisfied,
    OutgoingRequest,
    apply_action_credentials,
    connection_secrets,
    redact,
    webhook_signature_verify,
)
from connectors.models import AuthSchemeConfig
from tests.connections.conftest import SECRETS, credential_specs, make_connector

pytestmark = pytest.mark.django_db

Kind = AuthSchemeConfig.Kind


def _send(request: OutgoingRequest) -> requests.Response:
    return requests.request(**request.requests_kwargs(), timeout=(5, 10), allow_redirects=False)


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
    request = OutgoingRequest("GET", echo_server.url + "/items")
    redactions = apply_action_credentials(connection=connection, security=None, request=request)
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
    request = OutgoingRequest("GET", echo_server.url + "/x")
    redactions = apply_action_credentials(connection=connection, security=None, request=request)
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
    request = OutgoingRequest("GET", echo_server.url + "/x")
    apply_action_credentials(connection=connection2, security=None, request=request)
    _send(request)
    assert echo_server.last["headers"]["Authorization"] == f"Bearer {SECRETS['token']}"


def test_webhook_signature_over_final_body(org, platform_admin, echo_server):
    connector = make_connector(org, base_url=echo_server.url)
    connection = _connection(org, platform_admin, connector, [_spec("Hook")], trigger=[])
    body = json.dumps({"event": "created"}).encode()
    request = OutgoingRequest("POST", echo_server.url + "/hook", headers={"Content-Type": "application/json"},
                              body=body)
    apply_action_credentials(connection=connection, security=None, request=request)
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
    connection = _connection(org, platform_admin, connector, [_spec("DB")])
    request = OutgoingRequest(
        "GET", echo_server.url + "/{tenant}/q?x={tenant}", headers={"X-DSN": "{dsn}", "X-Unknown": "{nope}"}
    )
    redactions = apply_action_credentials(connection=connection, security=None, request=request)
    _send(request)
    got = echo_server.last
    assert got["path"] == "/acme/q"
    assert got["query"] == [("x", "{tenant}")]  # query values come from arguments: not substituted
    assert got["headers"]["X-DSN"] == SECRETS["connection_string"]
    assert got["headers"]["X-Unknown"] == "{nope}"
    assert SECRETS["connection_string"] in redactions


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
    request = OutgoingRequest("GET", echo_server.url)
    apply_action_credentials(connection=connection, security=[{"OAuth": []}, {"ApiKeyAuth": []}], request=request)
    assert "Authorization" not in request.headers
    assert request.headers["X-API-Key"] == SECRETS["api_key"]
    assert request.headers["X-Tenant-Token"] == SECRETS["header_value"]
    # Both schemes of one alternative.
    request = OutgoingRequest("GET", echo_server.url)
    apply_action_credentials(connection=connection, security=[{"ApiKeyAuth": [], "BasicAuth": []}], request=request)
    assert request.headers["Authorization"].startswith("Basic ") and "X-API-Key" in request.headers
    # security: [] means none (custom headers still apply).
    request = OutgoingRequest("GET", echo_server.url)
    apply_action_credentials(connection=connection, security=[], request=request)
    assert set(request.headers) == {"X-Tenant-Token"}
    # Nothing satisfies: a clear error naming the requirement, no secret.
    with pytest.raises(CredentialsNotSatisfied) as exc:
        apply_action_credentials(connection=connection, security=[{"OAuth": ["read"]}], request=request)
    assert "OAuth" in exc.value.message


def test_connection_secrets_and_redact_cover_encoded_forms(org, platform_admin, connector):
    connection = _connection(
        org, platform_admin, connector, [_spec("Basic"), _spec("API key")], trigger=[_spec("Hook")]
    )
    secrets = connection_secrets(connection)
    basic = base64.b64encode(f"svc-user:{SECRETS['password']}".encode()).decode()
    for value in (SECRETS["password"], SECRETS["api_key"], SECRETS["signing_secret"], basic):
        assert value in secrets
    text = {"echo": [f"Authorization: Basic {basic}", SECRETS["api_key"].encode()], SECRETS["password"]: 1}
    cleaned = redact(text, secrets)
    dumped = repr(cleaned)
    assert REDACTED in dumped
    for value in (SECRETS["password"], SECRETS["api_key"], basic):
        assert value not in dumped
