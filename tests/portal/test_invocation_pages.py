"""Confirmations and History with Django's test client: decisions, 404 for other people's calls,
CSRF, filters with wrong input. (The calls themselves run in tests/browser with a real worker.)"""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from tests.factories import make_user
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db
# The invocations app lands on its own branch; without it these pages have nothing to show.
pytest.importorskip("invocations.selectors", reason="the invocations app is not merged yet")

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def awaiting(demo):
    from accesscontrol.tools import tool_name
    from invocations.services import invocation_create

    return invocation_create(
        user=demo["users"]["end user"],
        tool=tool_name(demo["connection"].pk, "createNote"),
        arguments={"body": {"title": HOSTILE}},
    )


def test_confirmations_page_shows_the_preview_without_secrets(user_client, awaiting):
    assert awaiting.status == "awaiting_confirmation"
    page = user_client.get(reverse("portal:confirmations"))
    text = page.content.decode()
    assert page.status_code == 200
    assert f"#{str(awaiting.pk)[:8]}" in text and "Approve" in text and "Reject" in text
    assert "X-API-Key" in text and "demo-notes-key" not in text
    assert HOSTILE not in text and "&lt;script&gt;" in text
    assert '<meta http-equiv="refresh"' in text  # inside <noscript>: reloads without JavaScript
    state = user_client.get(reverse("portal:confirmations_state")).json()
    assert state["count"] == 1 and state["latest"] == str(awaiting.pk)


def test_nav_counts_what_waits(user_client, awaiting):
    text = user_client.get(reverse("portal:tools")).content.decode()
    assert 'aria-label="1 waiting"' in text


def test_approve_and_reject(user_client, awaiting, demo):
    from invocations.models import Invocation

    response = user_client.post(reverse("portal:invocation_confirm", args=[awaiting.pk]))
    assert response.status_code == 302
    assert Invocation.objects.get(pk=awaiting.pk).status == "queued"
    again = user_client.post(reverse("portal:invocation_reject", args=[awaiting.pk]), follow=True)
    assert again.status_code == 200 and Invocation.objects.get(pk=awaiting.pk).status == "queued"
    assert b"message-error" in again.content


def test_reject_then_detail_shows_it(user_client, awaiting):
    user_client.post(reverse("portal:invocation_reject", args=[awaiting.pk]), {"next": "detail"})
    page = user_client.get(reverse("portal:invocation", args=[awaiting.pk]))
    assert b"Rejected" in page.content
    confirmation_url = user_client.get(reverse("portal:confirmation", args=[awaiting.pk]))
    assert confirmation_url.status_code == 200


def test_other_users_invocation_is_404_everywhere(demo, awaiting):
    from invocations.models import Invocation

    for other in (demo["users"]["designer"], make_user(demo["organisation"])):
        client = client_for(other)
        for name in ("portal:invocation", "portal:confirmation"):
            assert client.get(reverse(name, args=[awaiting.pk])).status_code == 404
        for name in ("portal:invocation_confirm", "portal:invocation_reject"):
            assert client.post(reverse(name, args=[awaiting.pk])).status_code == 404
    assert Invocation.objects.get(pk=awaiting.pk).status == "awaiting_confirmation"
    owner = client_for(demo["users"]["end user"])
    assert owner.get(reverse("portal:invocation", args=[uuid.uuid4()])).status_code == 404


def test_decisions_need_post_and_csrf(demo, awaiting):
    from invocations.models import Invocation

    client = client_for(demo["users"]["end user"], enforce_csrf_checks=True)
    assert client.get(reverse("portal:invocation_confirm", args=[awaiting.pk])).status_code == 405
    forged = client.post(reverse("portal:invocation_confirm", args=[awaiting.pk]), {"csrfmiddlewaretoken": "x" * 64})
    assert forged.status_code == 403
    assert Invocation.objects.get(pk=awaiting.pk).status == "awaiting_confirmation"


def test_history_lists_and_filters(user_client, awaiting, demo, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        page = user_client.get(reverse("portal:history"))
    assert f"#{str(awaiting.pk)[:8]}".encode() in page.content
    none = user_client.get(reverse("portal:history"), {"status": "succeeded"})
    assert f"#{str(awaiting.pk)[:8]}".encode() not in none.content and b"No call matches" in none.content
    by_connection = user_client.get(reverse("portal:history"), {"connection": demo["connection"].pk})
    assert f"#{str(awaiting.pk)[:8]}".encode() in by_connection.content


@pytest.mark.parametrize(
    "query",
    [
        {"status": "exploded"},
        {"status": HOSTILE},
        {"connection": "abc"},
        {"connection": "99999999"},
        {"since": "yesterday"},
        {"since": "2030-01-02T00:00", "until": "2030-01-01T00:00"},
        {"since": "9" * 5000},
    ],
)
def test_history_wrong_filters_are_errors(user_client, awaiting, query):
    response = user_client.get(reverse("portal:history"), query)
    assert response.status_code == 400
    assert HOSTILE.encode() not in response.content
    assert b"errorlist" in response.content


def test_try_it_creates_an_invocation_waiting_for_confirmation(user_client, demo):
    from accesscontrol.tools import tool_name
    from invocations.models import Invocation

    url = reverse("portal:tool", args=[tool_name(demo["connection"].pk, "createNote")])
    response = user_client.post(url, {"a.body.title": "Hello", "a.body.tags": "a\nb", "a.body.priority": "high"})
    assert response.status_code == 302
    invocation = Invocation.objects.get()
    assert invocation.arguments == {"body": {"title": "Hello", "tags": ["a", "b"], "priority": "high"}}
    assert response["Location"] == reverse("portal:invocation", args=[invocation.pk])


def test_try_it_service_errors_land_on_fields(user_client, demo):
    from accesscontrol.tools import tool_name
    from invocations.models import Invocation

    url = reverse("portal:tool", args=[tool_name(demo["connection"].pk, "createNote")])
    response = user_client.post(url, {"a.body.title": "x" * 201})
    assert response.status_code == 400
    assert b"has-error" in response.content
    assert not Invocation.objects.exists()
