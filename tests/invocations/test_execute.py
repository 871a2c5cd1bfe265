"""Execution through a real Celery worker against a real upstream on 127.0.0.1."""

import base64
import json

import pytest
from django.core import mail

from invocations import services
from invocations.models import Invocation, InvocationAttempt
from invocations.tasks import invocation_execute
from tests.invocations.conftest import add_credential, wait_final
from tests.invocations.upstream import Answer

URL = "/api/v1/invocations/"

pytestmark = pytest.mark.django_db(transaction=True)


def invoke(tool, user, arguments, **kw):
    return services.invocation_create(
        user=user, connection=tool.connection, operation=tool.operation, arguments=arguments, **kw
    )


def test_get_with_every_parameter_kind_through_the_api_with_wait(
    celery_worker, api_client, designer, make_tool, upstream
):
    tool = make_tool(
        method="GET",
        path="/paint/{color}/{label}/{matrix}",
        parameters=[
            {"name": "color", "in": "path", "style": "simple", "explode": False},
            {"name": "label", "in": "path", "style": "label", "explode": True},
            {"name": "matrix", "in": "path", "style": "matrix", "explode": False},
            {"name": "tags", "in": "query", "style": "form", "explode": True},
            {"name": "ids", "in": "query", "style": "pipeDelimited", "explode": False},
            {"name": "words", "in": "query", "style": "spaceDelimited", "explode": False},
            {"name": "filter", "in": "query", "style": "deepObject", "explode": True},
            {"name": "X-Ids", "in": "header", "style": "simple"},
            {"name": "session", "in": "cookie"},
        ],
    )
    upstream.answer(Answer(body={"painted": True}, headers={"X-Secret-Internal": "no", "ETag": '"v1"'}))
    arguments = {
        "color": "blue",
        "label": ["a", "b"],
        "matrix": {"R": 1},
        "tags": ["x", "y z"],
        "ids": [1, 2],
        "words": ["p", "q"],
        "filter": {"size": "L"},
        "X-Ids": [3, 4],
        "session": "s1",
    }
    response = api_client(designer).post(URL, tool.body(arguments, wait=30), format="json")
    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "succeeded", data
    hit = upstream.hits[0]
    assert (
        hit.path == ("/paint/blue/.a.b/;matrix=R,1?tags=x&tags=y%20z&ids=1%7C2&words=p%20q&filter%5Bsize%5D=L")
        or hit.path == "/paint/blue/.a.b/;matrix=R,1?tags=x&tags=y%20z&ids=1|2&words=p%20q&filter%5Bsize%5D=L"
    )
    assert hit.headers["X-Ids"] == "3,4"
    assert hit.headers["Cookie"] == "session=s1"
    assert data["result"]["status_code"] == 200
    assert data["result"]["body"] == {"painted": True}
    assert data["result"]["headers"]["ETag"] == '"v1"'
    assert "X-Secret-Internal" not in data["result"]["headers"]
    assert data["attempts"] == 1
    assert data["attempt_log"][0]["status_code"] == 200

    again = api_client(designer).get(f"{URL}{data['id']}/", {"wait": 5})
    assert again.json()["status"] == "succeeded"


def test_json_form_and_multipart_bodies(celery_worker, designer, make_tool, upstream):
    for content_type in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data"):
        tool = make_tool(method="POST", path="/things", request_body={"content_type": content_type, "required": True})
        invocation = wait_final(invoke(tool, designer, {"body": {"name": "n 1", "count": 2}}).pk)
        assert invocation.status == "failed" or invocation.status == "succeeded"
        hit = upstream.hits[-1]
        if content_type == "application/json":
            assert hit.json() == {"name": "n 1", "count": 2}
        elif content_type.startswith("application/x-www"):
            assert hit.body == b"name=n%201&count=2"
        else:
            assert hit.headers["Content-Type"].startswith("multipart/form-data; boundary=")
            assert b'name="name"' in hit.body and b"n 1" in hit.body
        assert invocation.status == "succeeded"


def test_credentials_are_applied_and_redacted_from_request_and_result(celery_worker, designer, make_tool, upstream):
    tool = make_tool(method="GET", path="/echo")
    add_credential(tool.connection, "http_basic", config={"username": "ann"}, secret={"password": "pa55-word!"})
    add_credential(
        tool.connection,
        "api_key",
        config={"in": "header", "name": "X-API-Key"},
        secret={"key": "key-123456"},
        position=1,
    )
    add_credential(tool.connection, "http_bearer", secret={"token": "tok-abcdef"}, position=2)
    basic = base64.b64encode(b"ann:pa55-word!").decode()
    upstream.answer(Answer(body={"seen": f"Basic {basic}", "key": "key-123456", "t": "tok-abcdef", "p": "pa55-word!"}))
    invocation = wait_final(invoke(tool, designer, {}).pk)
    assert invocation.status == "succeeded"
    hit = upstream.hits[0]
    assert hit.headers["X-API-Key"] == "key-123456"
    assert hit.headers["Authorization"] == "Bearer tok-abcdef"  # the last one applied wins the header
    stored = json.dumps([invocation.result, invocation.request_preview, invocation.error])
    for secret in ("pa55-word!", "key-123456", "tok-abcdef", basic):
        assert secret not in stored
    assert invocation.result["body"]["key"] == "[redacted]"


def test_retries_on_5xx_for_safe_methods(celery_worker, designer, make_tool, upstream):
    tool = make_tool(method="GET", path="/flaky")
    upstream.answer(Answer(status=503), Answer(status=502), Answer(body={"ok": 1}))
    invocation = wait_final(invoke(tool, designer, {}).pk)
    assert invocation.status == "succeeded"
    assert invocation.attempts == 3
    assert len(upstream.hits) == 3
    attempts = list(InvocationAttempt.objects.filter(invocation=invocation).values_list("status_code", flat=True))
    assert attempts == [503, 502, 200]


def test_429_honours_retry_after_and_long_delays_are_requeued(celery_worker, designer, make_tool, upstream, settings):
    settings.INVOCATION_RETRY_INLINE_MAX = 0.5
    tool = make_tool(method="GET", path="/limited")
    upstream.answer(Answer(status=429, headers={"Retry-After": "1"}), Answer(body={"ok": 1}))
    invocation = invoke(tool, designer, {})
    final = wait_final(invocation.pk)
    assert final.status == "succeeded"
    assert final.attempts == 2
    assert len(upstream.hits) == 2
    first, second = InvocationAttempt.objects.filter(invocation=final).order_by("number")
    assert (second.started_at - first.finished_at).total_seconds() >= 0.9


def test_retries_are_spent_then_the_connection_hears_of_it(celery_worker, designer, make_tool, upstream, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.OUTGOING_ALLOWED_ADDRESSES = [upstream.address]
    tool = make_tool(
        method="GET",
        path="/down",
        connection_kwargs={
            "retry_policy": {"max_attempts": 2, "base_delay": 0.01, "max_delay": 0.02},
            "error_notify_email": "ops@example.com",
            "error_notify_webhook_url": f"{upstream.url}/hook",
        },
    )
    upstream.answer(Answer(status=500, body="broken"), Answer(status=500, body="still broken"))
    invocation = wait_final(invoke(tool, designer, {}).pk)
    assert invocation.status == "failed"
    assert invocation.attempts == 2
    assert invocation.error["kind"] == "upstream_http"
    assert invocation.error["status"] == 500
    assert invocation.error["excerpt"] == "still broken"
    # The notification runs after commit in the worker; wait for the webhook's hit.
    for _ in range(200):
        if any(h.path == "/hook" for h in upstream.hits):
            break
        import time

        time.sleep(0.05)
    hook = next(h for h in upstream.hits if h.path == "/hook")
    assert hook.json()["invocation"] == str(invocation.pk)
    assert hook.json()["error"]["kind"] == "upstream_http"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ops@example.com"]


def test_post_is_not_retried_without_an_idempotency_key(celery_worker, designer, make_tool, upstream):
    tool = make_tool(method="POST", path="/pay", request_body={"content_type": "application/json"})
    upstream.answer(Answer(status=503), Answer(body={"ok": 1}))
    invocation = wait_final(invoke(tool, designer, {"body": {"a": 1}}).pk)
    assert invocation.status == "failed"
    assert len(upstream.hits) == 1
    assert "Idempotency-Key" not in upstream.hits[0].headers


def test_post_with_an_idempotency_key_is_retried_and_carries_it(celery_worker, designer, make_tool, upstream):
    tool = make_tool(method="POST", path="/pay", request_body={"content_type": "application/json"})
    upstream.answer(Answer(status=503), Answer(body={"ok": 1}))
    invocation = invoke(tool, designer, {"body": {"a": 1}}, idempotency_key="pay-1")
    final = wait_final(invocation.pk)
    assert final.status == "succeeded"
    assert [h.headers["Idempotency-Key"] for h in upstream.hits] == [str(invocation.pk)] * 2
    same = invoke(tool, designer, {"body": {"a": 1}}, idempotency_key="pay-1")
    assert same.pk == invocation.pk
    assert len(upstream.hits) == 2


def test_timeout(celery_worker, designer, make_tool, upstream):
    tool = make_tool(
        method="POST",
        path="/slow",
        connection_kwargs={"read_timeout": 0.3},
        request_body={"content_type": "text/plain"},
    )
    upstream.answer(Answer(delay=3))
    invocation = wait_final(invoke(tool, designer, {"body": "x"}).pk)
    assert invocation.status == "failed"
    assert invocation.error["kind"] == "timeout"
    assert len(upstream.hits) == 1


def test_response_cap(celery_worker, designer, make_tool, upstream, settings):
    settings.OUTGOING_MAX_RESPONSE_BYTES = 100
    tool = make_tool(method="GET", path="/big")
    upstream.answer(Answer(body="y" * 1000))
    invocation = wait_final(invoke(tool, designer, {}).pk)
    assert invocation.status == "succeeded"
    assert invocation.result["truncated"] is True
    assert invocation.result["body"] == "y" * 100


def test_blocked_address_is_an_error_kind(celery_worker, designer, make_tool, upstream, settings):
    tool = make_tool(method="GET", path="/x")
    settings.OUTGOING_ALLOWED_ADDRESSES = []
    invocation = wait_final(invoke(tool, designer, {}).pk)
    assert invocation.status == "failed"
    assert invocation.error["kind"] == "blocked_address"
    assert upstream.hits == []


def test_duplicate_delivery_calls_once(celery_worker, designer, make_tool, upstream):
    tool = make_tool(method="POST", path="/once", request_body={"content_type": "application/json"})
    invocation = invoke(tool, designer, {"body": {}})
    for _ in range(3):
        invocation_execute.delay(str(invocation.pk))
    final = wait_final(invocation.pk)
    assert final.status == "succeeded"
    # Direct runs too: the row is no longer queued.
    assert services.invocation_execute(invocation_id=invocation.pk) == "skipped"
    import time

    time.sleep(0.5)
    assert len(upstream.hits) == 1
    assert final.attempts == 1


def test_confirmed_invocation_runs(celery_worker, api_client, designer, make_tool, upstream):
    tool = make_tool(
        method="DELETE", path="/items/{id}", parameters=[{"name": "id", "in": "path"}], requires_confirmation=True
    )
    client = api_client(designer)
    data = client.post(URL, tool.body({"id": "9"}, wait=5), format="json").json()
    assert data["status"] == "awaiting_confirmation"
    assert upstream.hits == []
    client.post(f"{URL}{data['id']}/confirm/")
    final = client.get(f"{URL}{data['id']}/", {"wait": 30}).json()
    assert final["status"] == "succeeded"
    assert [(h.method, h.path) for h in upstream.hits] == [("DELETE", "/items/9")]


def test_switched_off_after_queueing(celery_worker, designer, make_tool, upstream):
    tool = make_tool(method="GET", path="/x")
    kind = tool.connector.integration_type
    invocation = Invocation.objects.create(
        user=designer,
        organisation=designer.organisation,
        connection=tool.connection,
        operation=tool.operation,
        status="queued",
        arguments={},
    )
    kind.enabled = False
    kind.save()
    invocation_execute.delay(str(invocation.pk))
    final = wait_final(invocation.pk)
    assert final.status == "failed"
    assert final.error["kind"] == "switched_off"
    assert upstream.hits == []
