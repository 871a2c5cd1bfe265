"""Property: whatever the secret and however a real upstream echoes it, nothing stored, answered by
the API, logged or rendered on a page holds any listed form of it (``tests.secret_shapes``: raw;
JSON-escaped with \\u for every character and for non-ASCII only; json.dumps's own; percent-encoded
once and twice; form-encoded; base64 of user:password and of the secret).

Hypothesis makes the secrets (ASCII and not, with characters JSON, URLs and HTML escape) and the
answers: status, content type, a body of the secret in many shapes (JSON escaped or not, text,
form bodies, HTML error pages), echo headers and a same-origin ``Location``. The worker code runs
in this process (``invocation_execute``, what the Celery task calls) against a real server on
127.0.0.1. Derandomized and bounded, so it runs the same way in CI, in seconds."""

from __future__ import annotations

import base64
import html
import json
import logging
from urllib.parse import quote, quote_plus

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.models import AuditEntry
from connections.secrets import REDACTED
from invocations import services
from invocations.models import Invocation, InvocationAttempt
from tests.invocations.conftest import add_credential
from tests.invocations.upstream import Answer
from tests.secret_shapes import leaks, shapes

pytestmark = pytest.mark.django_db

USERNAME = "svc-user"
# Characters that JSON, URLs, form bodies and HTML escape, and some that are not ASCII.
SPECIAL = '"\\/&<>%+=?#;:@ \'!*()[]~-_.,$'
NON_ASCII = "éüßø中文€😀\u2028"
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

# Kinds of credential, and whether their secret travels in a header (Latin-1 only).
KINDS = {
    "query_api_key": (False, lambda s: ("api_key", {"in": "query", "name": "api_key"}, {"key": s})),
    "basic": (False, lambda s: ("http_basic", {"username": USERNAME}, {"password": s})),
    "header_api_key": (True, lambda s: ("api_key", {"in": "header", "name": "X-API-Key"}, {"key": s})),
    "bearer": (True, lambda s: ("http_bearer", {}, {"token": s})),
    "custom_headers": (True, lambda s: ("custom_headers", {}, {"headers": {"X-Tenant-Token": s}})),
}


@st.composite
def secrets(draw):
    kind = draw(st.sampled_from(sorted(KINDS)))
    in_header = KINDS[kind][0]
    alphabet = ALNUM + SPECIAL + ("" if in_header else NON_ASCII)
    if in_header:
        alphabet += "éüßø"  # Latin-1, so still sendable in a header
    if kind == "custom_headers":
        alphabet = alphabet.replace("{", "").replace("}", "")
    middle = draw(st.text(alphabet=alphabet, min_size=2, max_size=24))
    # Real secrets are random: a random-looking start and end keep the forms from matching page text.
    head = draw(st.text(alphabet=ALNUM, min_size=3, max_size=6))
    secret = f"{head}{middle}Q9"
    return kind, secret


def shape_pieces(secret: str) -> dict[str, str]:
    pieces = dict(shapes(secret, USERNAME))
    pieces.update(
        {
            "raw": secret,
            "json_object": json.dumps({"echo": secret}),
            "json_object_utf8": json.dumps({"echo": secret}, ensure_ascii=False),
            "json_in_json": json.dumps(json.dumps({"echo": secret})),
            "form_body": f"a=1&token={quote_plus(secret)}&b=2",
            "query_string": f"?api_key={quote(secret, safe='')}&x=1",
            "html_page": f"<h1>Error</h1><p>Bad key: {html.escape(secret)}</p>",
            "html_numeric": "".join(f"&#x{ord(c):x};" for c in secret),
            "basic_header": "Basic " + base64.b64encode(f"{USERNAME}:{secret}".encode()).decode(),
        }
    )
    return pieces


@st.composite
def answers(draw, secret: str):
    pieces = shape_pieces(secret)
    names = draw(st.lists(st.sampled_from(sorted(pieces)), min_size=1, max_size=6))
    glue = draw(st.sampled_from(["", " ", "\n", "&", '"', "<br>", ","]))
    body = glue.join(pieces[name] for name in names)
    content_type = draw(
        st.sampled_from(
            ["text/plain", "application/json", "text/html", "application/x-www-form-urlencoded", "text/csv"]
        )
    )
    if content_type == "application/json" and draw(st.booleans()):
        body = json.dumps({"echo": body, "items": [body]}, ensure_ascii=draw(st.booleans()))
    status = draw(st.sampled_from([200, 201, 302, 400, 403, 404, 422, 500]))
    ascii_pieces = sorted(n for n, v in pieces.items() if v.isascii() and "\n" not in v and "\r" not in v)
    headers = {"Content-Type": content_type}
    for header in draw(st.lists(st.sampled_from(["X-Request-Id", "Link", "X-Echo", "ETag"]), max_size=2)):
        headers[header] = pieces[draw(st.sampled_from(ascii_pieces))]
    if status == 302 or draw(st.booleans()):
        headers["Location"] = "/next?k=" + pieces[draw(st.sampled_from(["percent_every_byte", "form_encoded"]))]
    return status, headers, body


def _texts(invocation_id, api, page_client, caplog) -> dict[str, str]:
    invocation = Invocation.objects.get(pk=invocation_id)
    stored = json.dumps(
        [invocation.result, invocation.error, invocation.request_preview], ensure_ascii=False, default=str
    )
    attempts = json.dumps(list(InvocationAttempt.objects.filter(invocation=invocation).values("error_kind")))
    audit = json.dumps(list(AuditEntry.objects.values("changes", "object_repr")), ensure_ascii=False, default=str)
    answered = api.get(f"/api/v1/invocations/{invocation_id}/")
    assert answered.status_code == 200
    page = page_client.get(f"/history/{invocation_id}/")
    assert page.status_code == 200
    rendered = page.content.decode()
    return {
        "stored": stored + attempts + audit,
        "answered": answered.content.decode() + json.dumps(answered.json(), ensure_ascii=False),
        "rendered": rendered + html.unescape(rendered),
        "logged": "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records),
    }


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_form_of_a_secret_is_stored_answered_logged_or_rendered(
    data, designer, make_tool, upstream, api_client, caplog
):
    kind, secret = data.draw(secrets(), label="secret")
    status, headers, body = data.draw(answers(secret), label="answer")
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    tool = make_tool(method="GET", path="/echo")
    credential_kind, config, secret_fields = KINDS[kind][1](secret)
    add_credential(tool.connection, credential_kind, config=config, secret=secret_fields)
    upstream.script.clear()
    upstream.answer(Answer(status=status, body=body, headers=headers))
    # Retries and redirects get the same echo with a 200.
    upstream.default = Answer(body=body, headers={k: v for k, v in headers.items() if k != "Location"})

    invocation = services.invocation_create(
        user=designer, connection=tool.connection, operation=tool.operation, arguments={}
    )
    services.invocation_execute(invocation_id=invocation.pk)
    invocation.refresh_from_db()
    assert invocation.status in {"succeeded", "failed"}, invocation.status
    assert upstream.hits, "the call reached the upstream"

    page_client = Client()
    page_client.force_login(designer)
    found = {
        where: leaks(text, secret, USERNAME)
        for where, text in _texts(invocation.pk, api_client(designer), page_client, caplog).items()
    }
    assert not any(found.values()), found
    if invocation.result.get("body"):
        assert REDACTED in json.dumps(invocation.result, ensure_ascii=False)
