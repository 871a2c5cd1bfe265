"""Fixtures for the connections tests: connectors, credentials with known values, an echo server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from connectors.models import AuthSchemeConfig, Connector, IntegrationType, Operation

# Known secret values: the no-leak tests search every output for them.
SECRETS = {
    "api_key": "ak-SECRET-1f2e3d4c5b6a",
    "password": "pw-SECRET-9a8b7c6d",
    "token": "bt-SECRET-0011223344",
    "client_secret": "cs-SECRET-5566778899",
    "connection_string": "cstr-SECRET-postgres-pass",
    "signing_secret": "ws-SECRET-abcdefabcdef",
    "header_value": "hv-SECRET-777888999",
}


class EchoServer:
    """A real HTTP server on 127.0.0.1 that records what arrives and echoes it back as JSON
    (as many real upstreams echo headers: that is what redaction must survive)."""

    def __init__(self):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                record = {
                    "method": self.command,
                    "path": parts.path,
                    "query": parse_qsl(parts.query, keep_blank_values=True),
                    "headers": dict(self.headers.items()),
                    "body": body.decode("utf-8", "replace"),
                }
                outer.requests.append(record)
                status = 200
                if parts.path.startswith("/status/"):
                    status = int(parts.path.rsplit("/", 1)[1])
                data = json.dumps(record).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.address = f"127.0.0.1:{self.port}"

    @property
    def last(self) -> dict:
        return self.requests[-1]

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def echo_server(settings):
    with EchoServer() as server:
        settings.OUTGOING_ALLOWED_ADDRESSES = [*settings.OUTGOING_ALLOWED_ADDRESSES, server.address]
        yield server


def make_connector(
    organisation,
    *,
    name: str = "Echo",
    base_url: str = "http://127.0.0.1:9/api",
    variables=(),
    schemes=(),
    integration_type: str = IntegrationType.CUSTOM_OPENAPI,
    created_by=None,
) -> Connector:
    """A connector made directly (the connectors app's services are built elsewhere)."""
    connector = Connector.objects.create(
        organisation=organisation,
        integration_type_id=integration_type,
        name=name,
        base_url=base_url,
        variables=list(variables),
        created_by=created_by,
    )
    for i, (scheme_name, kind, config) in enumerate(schemes):
        AuthSchemeConfig.objects.create(
            connector=connector, position=i, scheme_name=scheme_name, kind=kind, config=config or {}
        )
    return connector


def make_operation(connector, *, method="GET", path="/ping", name=None, security=None, parameters=()):
    return Operation.objects.create(
        connector=connector,
        method=method,
        path=path,
        name=name or f"{method.lower()}_{path.strip('/').replace('/', '_') or 'root'}",
        security=security,
        parameters=list(parameters),
        input_schema={"type": "object"},
    )


@pytest.fixture
def connector(org, platform_admin):
    return make_connector(
        org,
        variables=[{"name": "tenant", "value": "acme"}, {"name": "region", "value": "eu"}],
        schemes=[
            ("ApiKeyAuth", AuthSchemeConfig.Kind.API_KEY, {"in": "header", "name": "X-API-Key"}),
            ("BasicAuth", AuthSchemeConfig.Kind.HTTP_BASIC, {}),
            ("BearerAuth", AuthSchemeConfig.Kind.HTTP_BEARER, {}),
        ],
        created_by=platform_admin,
    )


def credential_specs() -> list[dict]:
    """One inline credential of every kind except OAuth2 (those need a provider), known values."""
    return [
        {
            "name": "API key",
            "kind": "api_key",
            "config": {"in": "header", "name": "X-API-Key", "scheme_name": "ApiKeyAuth"},
            "secret": {"key": SECRETS["api_key"]},
        },
        {
            "name": "Basic",
            "kind": "http_basic",
            "config": {"username": "svc-user"},
            "secret": {"password": SECRETS["password"]},
        },
        {"name": "Bearer", "kind": "http_bearer", "config": {}, "secret": {"token": SECRETS["token"]}},
        {
            "name": "DB",
            "kind": "connection_string",
            "config": {"variable": "dsn"},
            "secret": {"connection_string": SECRETS["connection_string"]},
        },
        {
            "name": "Hook",
            "kind": "webhook",
            "config": {"signature_header": "X-Hub-Signature-256"},
            "secret": {"signing_secret": SECRETS["signing_secret"]},
        },
        {
            "name": "Extra headers",
            "kind": "custom_headers",
            "config": {},
            "secret": {"headers": {"X-Tenant-Token": SECRETS["header_value"]}},
        },
    ]


def prepare_call(connection, *, method="GET", path="", security=None, query=(), headers=None, body=None):
    """The request the platform makes for ``connection``, built as the invocation worker builds it
    (the request builder fills every variable in one pass; the secrets module applies credentials),
    answering (request, secret forms). ``query``, ``headers`` and ``body`` stand for arguments."""
    from connections import secrets
    from connectors.openapi.request import build_request

    call = secrets.call_secrets(connection=connection, security=security)
    request = build_request(
        method=method,
        path=path,
        servers=None,
        base_url=connection.connector.base_url,
        approved_origins=connection.connector.approved_origins,
        variables=call.variables,
        header_templates=call.header_templates,
        arguments={},
    )
    for name, value in query:
        request.add_query(name, value)
    for name, value in (headers or {}).items():
        request.headers.setdefault(name, value)
    request.body = body
    # Credentials go on last: a webhook signature covers the final body.
    return request, secrets.credentials_apply(call=call, request=request)


def send_call(request):
    """Send a prepared request straight to the local test server (no redirects followed)."""
    import requests

    return requests.request(
        request.method, request.url, headers=request.all_headers(), data=request.body, timeout=(5, 10),
        allow_redirects=False,
    )
