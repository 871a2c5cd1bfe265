"""A local OAuth2 authorization server for tests, built from Authlib's server components
(``authlib.oauth2.rfc6749.AuthorizationServer`` with its authorization-code, refresh-token and
client-credentials grants and PKCE), served over HTTP on 127.0.0.1 in a thread.

It also serves a protected resource at ``/resource`` that answers 200 for a current access token
and 401 otherwise, and counts token requests.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    JsonRequest,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge


class Client(ClientMixin):
    def __init__(self, client_id, client_secret, redirect_uris, grant_types):
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = redirect_uris
        self.grant_types = grant_types

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope):
        return scope or ""

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return client_secret == self.client_secret

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post", "none")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types


class AuthCode:
    def __init__(self, code, client_id, redirect_uri, scope, challenge, method):
        self.code = code
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.scope = scope
        self.code_challenge = challenge
        self.code_challenge_method = method

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


class Token:
    def __init__(self, data: dict, client_id: str):
        self.data = data
        self.client_id = client_id
        self.revoked = False

    def check_client(self, client):
        return client.client_id == self.client_id

    def get_scope(self):
        return self.data.get("scope", "")

    def get_expires_in(self):
        return self.data.get("expires_in", 0)

    def is_expired(self):
        return False

    def is_revoked(self):
        return self.revoked

    def get_user(self):
        return "alice"

    def get_client(self):
        return None


class _Payload(OAuth2Payload):
    def __init__(self, values: dict[str, list[str]]):
        self._values = values

    @property
    def data(self):
        return {k: v[0] for k, v in self._values.items()}

    @property
    def datalist(self):
        return defaultdict(list, self._values)


class _Request(OAuth2Request):
    def __init__(self, method, uri, headers, values, query, form):
        super().__init__(method=method, uri=uri, headers=headers)
        self.payload = _Payload(values)
        self._args = {k: v[0] for k, v in query.items()}
        self._form = {k: v[0] for k, v in form.items()}

    @property
    def args(self):
        return self._args

    @property
    def form(self):
        return self._form


class LocalAuthorizationServer(AuthorizationServer):
    def __init__(self, state):
        super().__init__()
        self.state = state
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda *a, **k: generate_token(40),
                refresh_token_generator=lambda *a, **k: generate_token(48),
                expires_generator=lambda client, grant_type: state.expires_in,
            ),
        )

    def query_client(self, client_id):
        return self.state.clients.get(client_id)

    def save_token(self, token, request):
        self.state.tokens[token["access_token"]] = Token(dict(token), request.client.client_id)
        if token.get("refresh_token"):
            self.state.refresh_tokens[token["refresh_token"]] = Token(dict(token), request.client.client_id)

    def create_oauth2_request(self, request):
        return request

    def create_json_request(self, request):
        return JsonRequest(request.method, request.uri, request.headers)

    def handle_response(self, status, body, headers):
        return status, body, headers

    def send_signal(self, name, *args, **kwargs):
        pass


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code, request):
        p = request.payload.data
        self.server.state.codes[code] = AuthCode(
            code, request.client.client_id, p.get("redirect_uri"), p.get("scope", ""),
            p.get("code_challenge"), p.get("code_challenge_method"),
        )

    def query_authorization_code(self, code, client):
        item = self.server.state.codes.get(code)
        if item and item.client_id == client.client_id:
            return item
        return None

    def delete_authorization_code(self, authorization_code):
        self.server.state.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return "alice"


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        if self.server.state.refuse_refresh:
            return None
        token = self.server.state.refresh_tokens.get(refresh_token)
        if token and not token.revoked:
            return token
        return None

    def authenticate_user(self, credential):
        return "alice"

    def revoke_old_credential(self, refresh_token):
        refresh_token.revoked = True
        self.server.state.tokens.pop(refresh_token.data.get("access_token"), None)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class _State:
    def __init__(self):
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthCode] = {}
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, Token] = {}
        self.token_requests: list[dict] = []
        self.resource_requests: list[str] = []
        self.refuse_refresh = False
        self.token_delay = 0.0
        self.expires_in = 3600
        self.lock = threading.Lock()


class OAuthTestServer:
    """Start with ``with OAuthTestServer() as server:``; ``server.url`` is its base URL."""

    def __init__(self):
        self.state = _State()
        self.server = LocalAuthorizationServer(self.state)
        self.server.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=True)])
        self.server.register_grant(RefreshTokenGrant)
        self.server.register_grant(ClientCredentialsGrant)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.address = f"127.0.0.1:{self.httpd.server_address[1]}"

    def add_client(self, client_id, client_secret, redirect_uris=(), grant_types=()):
        self.state.clients[client_id] = Client(client_id, client_secret, list(redirect_uris), list(grant_types))

    @property
    def token_request_count(self) -> int:
        return len(self.state.token_requests)

    def __enter__(self):
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _values(self):
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode()) if length else {}
                values = {k: list(v) for k, v in query.items()}
                for k, v in form.items():
                    values.setdefault(k, []).extend(v)
                self._query, self._form = query, form
                return parts, values

            def _send(self, status, body, headers):
                if isinstance(body, dict):
                    body = json.dumps(body)
                data = (body or "").encode()
                self.send_response(status)
                for k, v in headers or []:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                parts, values = self._values()
                if parts.path == "/authorize":
                    # Auto-consent: the resource owner "alice" approves at once.
                    request = _Request(
                        "GET", outer.url + self.path, dict(self.headers), values, self._query, self._form
                    )
                    status, body, headers = outer.server.create_authorization_response(request, grant_user="alice")
                    return self._send(status, body, headers)
                if parts.path == "/resource":
                    auth = self.headers.get("Authorization", "")
                    token = auth.removeprefix("Bearer ")
                    outer.state.resource_requests.append(token)
                    if auth.startswith("Bearer ") and token in outer.state.tokens:
                        return self._send(200, {"ok": True}, [("Content-Type", "application/json")])
                    return self._send(401, {"error": "invalid_token"}, [("Content-Type", "application/json")])
                return self._send(404, "", [])

            def do_POST(self):
                parts, values = self._values()
                if parts.path != "/token":
                    return self._send(404, "", [])
                with outer.state.lock:
                    outer.state.token_requests.append({k: v[0] for k, v in values.items()})
                if outer.state.token_delay:
                    time.sleep(outer.state.token_delay)
                request = _Request("POST", outer.url + self.path, dict(self.headers), values, self._query, self._form)
                status, body, headers = outer.server.create_token_response(request)
                return self._send(status, body, headers)

        return Handler
