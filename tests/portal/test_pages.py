"""Pages with Django's test client: access, forms with missing, wrong, oversized and hostile input,
CSRF, and secrets that never come back."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from connections.models import Connection, Credential
from tests.factories import PASSWORD, make_organisation, make_user
from tests.portal.conftest import client_for

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SECRET = "s3cret-value-that-must-never-show-9f8e7d"

PAGES = ["portal:home", "portal:connections", "portal:tools", "portal:confirmations", "portal:history"]


@pytest.mark.parametrize("name", PAGES)
def test_pages_need_login(name, db):
    response = Client().get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_login_page_and_wrong_password(demo):
    client = Client()
    page = client.get(reverse("login"))
    assert page.status_code == 200 and b'name="csrfmiddlewaretoken"' in page.content
    assert b'<label for="id_username">' in page.content
    wrong = client.post(reverse("login"), {"username": "user", "password": "wrong"})
    assert wrong.status_code == 200 and b"error-summary" in wrong.content
    hostile = client.post(reverse("login"), {"username": HOSTILE, "password": "x"})
    assert HOSTILE.encode() not in hostile.content and b"&lt;script&gt;" in hostile.content
    ok = client.post(reverse("login"), {"username": "user", "password": "demo-user-pass"})
    assert ok.status_code == 302


def test_login_with_forged_csrf_token_is_refused(demo):
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("login"))
    response = client.post(
        reverse("login"), {"username": "user", "password": "demo-user-pass", "csrfmiddlewaretoken": "forged" * 8}
    )
    assert response.status_code == 403


def test_sign_out_is_a_post_form(user_client):
    page = user_client.get(reverse("portal:tools"))
    assert b'action="/accounts/logout/"' in page.content
    assert user_client.post(reverse("logout")).status_code == 302
    assert user_client.get(reverse("portal:tools")).status_code == 302


def test_admin_link_only_for_platform_admins(user_client, admin_client_demo, designer_client):
    assert b'href="/admin/"' not in user_client.get(reverse("portal:tools")).content
    assert b'href="/admin/"' not in designer_client.get(reverse("portal:tools")).content
    assert b'href="/admin/"' in admin_client_demo.get(reverse("portal:tools")).content


def test_home_sends_designers_to_connections_and_others_to_tools(user_client, designer_client):
    assert designer_client.get(reverse("portal:home"))["Location"] == reverse("portal:connections")
    assert user_client.get(reverse("portal:home"))["Location"] == reverse("portal:tools")


# --- My connections ---------------------------------------------------------------------------


def test_connections_page_shows_status_and_who_may_use(designer_client, demo):
    page = designer_client.get(reverse("portal:connections"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Demo notes (company)" in text and "Enabled" in text
    assert "Everyone at Demo Company" in text and "(creator)" in text
    assert "New connection to Demo notes" in text


def test_connections_page_is_for_designers(user_client):
    assert user_client.get(reverse("portal:connections")).status_code == 403


def test_switched_off_connector_shows_as_switched_off(designer_client, demo):
    it = demo["connector"].integration_type
    it.enabled = False
    it.save()
    text = designer_client.get(reverse("portal:connections")).content.decode()
    assert "Switched off" in text and "New connection to" not in text


def test_connection_list_query_count(designer_client, demo, django_assert_max_num_queries):
    with django_assert_max_num_queries(15):
        designer_client.get(reverse("portal:connections"))


def create_url(demo):
    return reverse("portal:connection_create", args=[demo["connector"].pk])


def valid_post(**extra):
    data = {
        "name": "Team notes",
        "access_level": "company",
        "cred0_mode": "new",
        "cred0_name": "",
        "cred0_config_in": "header",
        "cred0_config_name": "X-API-Key",
        "cred0_config_prefix": "",
        "cred0_config_scheme_name": "apiKey",
        "cred0_secret_key": SECRET,
    }
    data.update(extra)
    return data


def test_create_connection_form_renders_with_labels(designer_client, demo):
    page = designer_client.get(create_url(demo))
    text = page.content.decode()
    assert page.status_code == 200 and "csrfmiddlewaretoken" in text
    assert '<label for="id_name">' in text and '<label for="id_cred0_secret_key">' in text
    assert 'type="password"' in text


def test_create_connection_with_a_credential_never_shows_the_secret(designer_client, demo):
    response = designer_client.post(create_url(demo), valid_post(), follow=True)
    assert response.status_code == 200
    assert SECRET.encode() not in response.content
    connection = Connection.objects.get(name="Team notes")
    assert connection.created_by == demo["users"]["designer"]
    assert b"Team notes" in response.content
    credential = connection.credential_links.get().credential
    assert SECRET not in credential.config.values()
    # And not on any page the designer can open afterwards.
    for url in (reverse("portal:connections"), create_url(demo), reverse("portal:tools")):
        assert SECRET.encode() not in designer_client.get(url).content


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"name": "Demo notes (company)"}, "name", "already exists"),
        ({"access_level": "everyone"}, "access_level", "Select a valid choice"),
        ({"access_level": "groups"}, "groups", "Choose at least one group."),
        ({"access_level": "individuals"}, "users", "Choose at least one person."),
        ({"users": ["999999"], "access_level": "individuals"}, "users", "Select a valid choice"),
        ({"cred0_secret_key": ""}, "cred0_secret_key", "required"),
        ({"cred0_secret_key": "k" * 9000}, "cred0_secret_key", "at most 8192 characters"),
        ({"cred0_config_name": "bad header\r\nX: y"}, "cred0_config_name", "Not a valid header name"),
        ({"cred0_mode": "ref:999999"}, "cred0_mode", "Select a valid choice"),
    ],
)
def test_create_connection_bad_input(designer_client, demo, changes, field, message):
    before = (Connection.objects.count(), Credential.objects.count())
    response = designer_client.post(create_url(demo), valid_post(**changes))
    assert response.status_code == 400
    form = response.context["form"]
    assert message.lower() in " ".join(form.errors.get(field, [])).lower(), form.errors
    assert (Connection.objects.count(), Credential.objects.count()) == before
    assert SECRET.encode() not in response.content


def test_create_connection_hostile_text_is_escaped(designer_client, demo):
    response = designer_client.post(
        create_url(demo), valid_post(name=HOSTILE, cred0_name=HOSTILE, cred0_config_prefix=HOSTILE), follow=True
    )
    assert HOSTILE.encode() not in response.content
    page = designer_client.get(reverse("portal:connections"))
    assert HOSTILE.encode() not in page.content
    if Connection.objects.filter(name=HOSTILE).exists():
        assert b"&lt;script&gt;" in page.content


def test_create_connection_for_groups_of_my_organisation(designer_client, demo):
    from django.contrib.auth.models import Group

    group = Group.objects.get(name="demo: Support team")
    response = designer_client.post(
        create_url(demo), valid_post(name="Support notes", access_level="groups", groups=[str(group.pk)])
    )
    assert response.status_code == 302
    page = designer_client.get(reverse("portal:connections")).content.decode()
    assert "Group Support team" in page


def test_create_connection_with_forged_csrf_is_refused(demo):
    client = client_for(demo["users"]["designer"], enforce_csrf_checks=True)
    client.get(create_url(demo))
    response = client.post(create_url(demo), valid_post(csrfmiddlewaretoken="forged" * 8))
    assert response.status_code == 403
    assert not Connection.objects.filter(name="Team notes").exists()


def test_create_connection_for_another_organisations_connector_is_404(demo):
    other = make_organisation()
    outsider = make_user(other, is_designer=True)
    client = client_for(outsider)
    assert client.get(create_url(demo)).status_code == 404
    assert client.post(create_url(demo), valid_post()).status_code == 404


def test_end_user_cannot_create_connections(user_client, demo):
    assert user_client.post(create_url(demo), valid_post()).status_code == 403
    assert not Connection.objects.filter(name="Team notes").exists()


# --- Tools --------------------------------------------------------------------------------------


def test_tools_page_groups_by_connection_and_tag(user_client, demo):
    page = user_client.get(reverse("portal:tools"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Demo notes (company)" in text
    assert "List notes" in text and "Create a note" in text and "needs your confirmation" in text
    assert "<h3>notes</h3>" in text and "<h3>diagnostics</h3>" in text


def test_tools_search(user_client, demo):
    text = user_client.get(reverse("portal:tools"), {"q": "delete"}).content.decode()
    assert "Delete a note" in text and "List notes" not in text
    hostile = user_client.get(reverse("portal:tools"), {"q": HOSTILE})
    assert hostile.status_code == 200 and HOSTILE.encode() not in hostile.content
    too_long = user_client.get(reverse("portal:tools"), {"q": "x" * 500})
    assert too_long.status_code == 400
    wrong = user_client.get(reverse("portal:tools"), {"connection": "abc"})
    assert wrong.status_code == 400


def test_tools_query_count(user_client, demo, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        user_client.get(reverse("portal:tools"))


def tool_url(demo, operation_name):
    from accesscontrol.tools import tool_name

    return reverse("portal:tool", args=[tool_name(demo["connection"].pk, operation_name)])


def test_try_it_form_follows_the_input_schema(user_client, demo):
    text = user_client.get(tool_url(demo, "createNote")).content.decode()
    assert 'name="a.body.title"' in text and "A short title." in text
    assert '<select name="a.body.priority"' in text
    assert 'name="a.body.tags"' in text and "One value a line." in text
    assert "<legend>author" in text
    assert "required-mark" in text


def test_unknown_or_foreign_tool_is_404(user_client, demo):
    assert user_client.get(reverse("portal:tool", args=["c999999__listNotes"])).status_code == 404
    assert user_client.get(reverse("portal:tool", args=["not a tool"])).status_code == 404
    outsider = client_for(make_user(make_organisation()))
    assert outsider.get(tool_url(demo, "listNotes")).status_code == 404


def test_try_it_wrong_values_are_errors_on_their_fields(user_client, demo):
    response = user_client.post(tool_url(demo, "getNote"), {"a.noteId": "seven"})
    assert response.status_code == 400
    assert b"Enter a whole number." in response.content and b'value="seven"' in response.content
    missing = user_client.post(tool_url(demo, "getNote"), {})
    assert missing.status_code == 400 and b"This field is required." in missing.content
    oversized = user_client.post(tool_url(demo, "listNotes"), {"a.q": "x" * 70_000})
    assert oversized.status_code == 400 and b"Too long" in oversized.content


def test_try_it_hostile_values_are_escaped(user_client, demo):
    response = user_client.post(tool_url(demo, "getNote"), {"a.noteId": HOSTILE})
    assert response.status_code == 400 and HOSTILE.encode() not in response.content


def test_try_it_with_forged_csrf_is_refused(demo):
    client = client_for(demo["users"]["end user"], enforce_csrf_checks=True)
    response = client.post(tool_url(demo, "listNotes"), {"csrfmiddlewaretoken": "forged" * 8})
    assert response.status_code == 403


def test_login_with_real_password(demo):
    client = Client()
    assert client.login(username=demo["users"]["designer"].username, password="demo-designer-pass")
    assert PASSWORD  # factories' users log in the same way
