"""Escaped secrets are never shown in clear: a real upstream on 127.0.0.1 echoes the secret of each
kind of credential (header and query API keys, custom headers, Basic, bearer) in the shapes a
reader would decode, through a real Celery worker, and nothing stored, answered by the API, logged
or rendered on a page holds the secret in any of its forms."""

from __future__ import annotations

import html
import json
import logging

import pytest
from django.test import Client

from audit.models import AuditEntry
from invocations.models import Invocation, InvocationAttempt
from tests.invocations.conftest import add_credential
from tests.invocations.upstream import Answer
from tests.secret_shapes import leaks as find_leaks
from tests.secret_shapes import shapes

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/invocations/"
USERNAME = "svc-user"
# Characters that JSON, URLs and HTML each escape, a non-ASCII one, and a length that pads base64.
SECRET = 'SK-live_9f/q+r=s&t"u<v>é-w'

KINDS = {
    "header_api_key": ("api_key", {"in": "header", "name": "X-API-Key"}, {"key": SECRET}),
    "query_api_key": ("api_key", {"in": "query", "name": "api_key"}, {"key": SECRET}),
    "custom_headers": ("custom_headers", {}, {"headers": {"X-Tenant-Token": SECRET}}),
    "basic": ("http_basic", {"username": USERNAME}, {"password": SECRET}),
    "bearer": ("http_bearer", {}, {"token": SECRET}),
}


def json_text_body(secret: str) -> str:
    """JSON answered as text/plain, its strings holding the secret escaped in every shape."""
    parts = ", ".join(f'"{name}": "{value}"' for name, value in shapes(secret).items() if "html" not in name)
    return "{" + parts + "}"


def html_error_page(secret: str) -> str:
    rows = "".join(f"<li>{name}: {value}</li>" for name, value in shapes(secret).items())
    return f"<html><body><h1>Bad request</h1><ul>{rows}</ul><pre>{html.escape(secret)}</pre></body></html>"


def leaks(text: str, secret: str) -> list[str]:
    return find_leaks(text, secret, USERNAME)


def decoded(text: str) -> str:
    """The text as a reader sees it: HTML references and JSON strings decoded, as a page does."""
    text = html.unescape(text)
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


def _tool(make_tool, kind):
    tool = make_tool(method="GET", path="/echo")
    credential_kind, config, secret = KINDS[kind]
    add_credential(tool.connection, credential_kind, config=config, secret=secret)
    return tool


def _assert_nothing_shows_the_secret(invocation_id, designer, api_client, caplog):
    invocation = Invocation.objects.get(pk=invocation_id)
    stored = json.dumps(
        [invocation.result, invocation.error, invocation.request_preview, invocation.arguments], ensure_ascii=False
    )
    attempts = json.dumps(list(InvocationAttempt.objects.filter(invocation=invocation).values("error_kind")))
    audit = json.dumps(list(AuditEntry.objects.values("changes", "object_repr")), ensure_ascii=False, default=str)
    answered = api_client(designer).get(f"{URL}{invocation_id}/")
    assert answered.status_code == 200
    client = Client()
    client.force_login(designer)
    page = client.get(f"/history/{invocation_id}/")
    assert page.status_code == 200
    logged = "\n".join(record.getMessage() for record in caplog.records)
    found = {
        "stored": leaks(stored, SECRET),
        "attempts": leaks(attempts, SECRET),
        "audit": leaks(audit, SECRET),
        "api": leaks(answered.content.decode(), SECRET) + leaks(decoded(answered.content.decode()), SECRET),
        "page": leaks(page.content.decode(), SECRET) + leaks(html.unescape(page.content.decode()), SECRET),
        "log": leaks(logged, SECRET),
    }
    assert not any(found.values()), found
    return invocation


@pytest.mark.parametrize("kind", list(KINDS))
def test_json_as_text_with_escaped_secrets_is_redacted_everywhere(
    kind, celery_worker, api_client, designer, make_tool, upstream, caplog
):
    caplog.set_level(logging.DEBUG)
    tool = _tool(make_tool, kind)
    location = f"https://elsewhere.example/cb?k={shapes(SECRET)['percent_every_byte']}"
    upstream.answer(Answer(body=json_text_body(SECRET), headers={"Location": location, "Content-Type": "text/plain"}))
    response = api_client(designer).post(URL, tool.body({}, wait=30), format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "succeeded", response.json()
    assert not leaks(response.content.decode(), SECRET)
    invocation = _assert_nothing_shows_the_secret(response.json()["id"], designer, api_client, caplog)
    assert invocation.result["body_kind"] == "text"
    assert "[redacted]" in invocation.result["body"]
    assert invocation.result["headers"]["Location"].startswith("https://elsewhere.example/cb?k=")


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_html_error_page_echoing_the_secret_is_redacted_everywhere(
    kind, celery_worker, api_client, designer, make_tool, upstream, caplog
):
    caplog.set_level(logging.DEBUG)
    tool = _tool(make_tool, kind)
    upstream.answer(Answer(status=400, body=html_error_page(SECRET), headers={"Content-Type": "text/html"}))
    response = api_client(designer).post(URL, tool.body({}, wait=30), format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "failed", response.json()
    invocation = _assert_nothing_shows_the_secret(response.json()["id"], designer, api_client, caplog)
    assert invocation.error["kind"] == "upstream_http"
    assert "[redacted]" in invocation.error["excerpt"]


def test_a_json_answer_holding_escaped_json_is_redacted_before_the_page_decodes_it(
    celery_worker, api_client, designer, make_tool, upstream, caplog
):
    """application/json whose string values are themselves JSON text with \\u-escaped secrets (the
    stored body is decoded once by the worker and once more by the page's pretty_json)."""
    tool = _tool(make_tool, "bearer")
    inner = json_text_body(SECRET)
    upstream.answer(Answer(body={"echo": inner, "nested": [{"again": json.dumps(inner)}]}))
    response = api_client(designer).post(URL, tool.body({}, wait=30), format="json")
    assert response.json()["status"] == "succeeded", response.json()
    _assert_nothing_shows_the_secret(response.json()["id"], designer, api_client, caplog)


def test_a_body_cut_at_the_size_limit_does_not_keep_half_a_secret(
    celery_worker, api_client, designer, make_tool, upstream, settings
):
    tool = _tool(make_tool, "header_api_key")
    prefix = "x" * 1000
    settings.OUTGOING_MAX_RESPONSE_BYTES = len(prefix) + 12
    upstream.answer(Answer(body=prefix + SECRET + " and more", headers={"Content-Type": "text/plain"}))
    response = api_client(designer).post(URL, tool.body({}, wait=30), format="json")
    data = response.json()
    assert data["status"] == "succeeded", data
    assert data["result"]["truncated"] is True
    assert SECRET[:12] not in json.dumps(data, ensure_ascii=False)
    assert data["result"]["body"].endswith("[redacted]")


def test_a_credential_a_header_cannot_carry_is_a_clear_error(celery_worker, api_client, designer, make_tool, upstream):
    tool = make_tool(method="GET", path="/echo")
    add_credential(tool.connection, "http_bearer", secret={"token": "tök中en-secret"})
    response = api_client(designer).post(URL, tool.body({}, wait=30), format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert "Authorization" in json.dumps(body) and "中" not in json.dumps(body, ensure_ascii=False)
    assert upstream.hits == []
