"""What a newcomer met on `make run`: the demo's test call, switched-off tools, error pages, the
connection form's errors at once, small page details, the demo administrator's rights, logging."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from accesscontrol.tools import tool_name
from portal.demo.seed import load_demo
from tests.portal.conftest import client_for
from tests.portal.test_pages import SECRET, create_url
from tests.portal.test_pages import valid_post as post_data

pytestmark = pytest.mark.django_db


# --- 1. the demo connection's test call ---------------------------------------------------------


def test_demo_connection_is_tested_with_list_notes_and_the_test_succeeds(demo, demo_upstream):
    from connections.testing import connection_test

    connection = demo["connection"]
    connection.refresh_from_db()
    assert connection.test_operation.name == "listNotes"
    result = connection_test(connection=connection, actor=demo["users"]["administrator"])
    assert result["ok"] is True and result["status"] == 200, result


def test_load_demo_twice_keeps_one_connection_and_its_test_operation(demo, demo_upstream):
    from connections.models import Connection

    again = load_demo(upstream_port=demo_upstream.server_address[1], log=lambda *_: None)
    assert again["connection"].pk == demo["connection"].pk
    assert Connection.objects.filter(connector=demo["connector"]).count() == 1
    again["connection"].refresh_from_db()
    assert again["connection"].test_operation.name == "listNotes"


# --- 7. the demo administrator manages people and groups ----------------------------------------


def test_demo_admin_may_manage_people_and_groups_without_being_superuser(demo):
    """The policy lets a platform administrator manage their organisation's people and groups in
    the admin: no model permissions, no superuser flag."""
    admin = demo["users"]["administrator"]
    admin.refresh_from_db()
    assert not admin.is_superuser and not admin.user_permissions.exists()
    client = client_for(admin)
    for name in ("admin:accounts_user_changelist", "admin:accounts_user_add", "admin:auth_group_changelist",
                 "admin:auth_group_add"):
        assert client.get(reverse(name)).status_code == 200, name
    people = client.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert demo["users"]["designer"].username in people
    assert demo["users"]["operator"].username not in people  # the operator's account is not theirs
    # Not for the others.
    assert client_for(demo["users"]["designer"]).get(reverse("admin:accounts_user_changelist")).status_code == 302


# --- 2. switched-off connections on the Tools pages ---------------------------------------------


def _switch_off(demo):
    it = demo["connector"].integration_type
    it.enabled = False
    it.save()
    return it


def test_tools_page_lists_unavailable_connections_with_the_reason(user_client, demo, django_assert_max_num_queries):
    it = _switch_off(demo)
    with django_assert_max_num_queries(12):
        page = user_client.get(reverse("portal:tools"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "A designer or administrator can grant you a connection" not in text
    assert "Unavailable connections" in text and "Demo notes / Demo notes (company)" in text
    assert f"The integration type &#x27;{it.name}&#x27; is switched off" in text


def test_tools_page_unavailable_list_has_no_n_plus_1(user_client, demo, django_assert_num_queries):
    from connections.services import connection_create

    _switch_off(demo)
    user_client.get(reverse("portal:tools"))  # warm the session
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(db) as one:
        user_client.get(reverse("portal:tools"))
    for i in range(3):
        connection_create(
            connector=demo["connector"],
            organisation=demo["organisation"],
            name=f"More {i}",
            created_by=demo["users"]["administrator"],
            action_credentials=[],
            access_level="company",
        )
    with CaptureQueriesContext(db) as four:
        page = user_client.get(reverse("portal:tools"))
    assert page.content.decode().count("is switched off") == 4
    assert len(four.captured_queries) == len(one.captured_queries)


def test_tools_page_without_anything_unavailable_has_no_such_section(user_client, demo):
    assert "Unavailable connections" not in user_client.get(reverse("portal:tools")).content.decode()


def test_tool_of_a_switched_off_connection_says_why(user_client, demo):
    _switch_off(demo)
    page = user_client.get(reverse("portal:tool", args=[tool_name(demo["connection"].pk, "listNotes")]))
    text = page.content.decode()
    assert page.status_code == 403
    assert "This tool is unavailable: The integration type" in text and "is switched off" in text
    # The same for a POST (no call is made).
    post = user_client.post(reverse("portal:tool", args=[tool_name(demo["connection"].pk, "listNotes")]), {})
    assert post.status_code == 403


def test_tool_of_a_disabled_connector_says_why(user_client, demo):
    connector = demo["connector"]
    connector.enabled = False
    connector.save()
    page = user_client.get(reverse("portal:tool", args=[tool_name(demo["connection"].pk, "listNotes")]))
    assert page.status_code == 403
    assert "This tool is unavailable: The connector &#x27;Demo notes&#x27; is disabled." in page.content.decode()


def test_unknown_or_not_granted_tools_stay_404_when_switched_off(demo):
    from tests.factories import make_organisation, make_user

    _switch_off(demo)
    stranger = make_user(organisation=make_organisation())
    client = client_for(stranger)
    assert client.get(reverse("portal:tool", args=[tool_name(demo["connection"].pk, "listNotes")])).status_code == 404
    user = client_for(demo["users"]["end user"])
    assert user.get(reverse("portal:tool", args=[tool_name(demo["connection"].pk, "noSuchOp")])).status_code == 404
    assert user.get(reverse("portal:tool", args=["nonsense"])).status_code == 404


# --- 3. error pages -----------------------------------------------------------------------------


@pytest.fixture
def production_errors(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]


def test_403_page_is_styled_with_the_message(user_client, production_errors):
    page = user_client.get(reverse("portal:connections"))
    text = page.content.decode()
    assert page.status_code == 403
    assert "Only process designers design with connections." in text
    assert "site.css" in text and 'href="/tools/"' in text and "Sign out" in text


def test_404_page_is_styled(user_client, production_errors):
    page = user_client.get("/no/such/page/")
    text = page.content.decode()
    assert page.status_code == 404
    assert "Page not found" in text and "site.css" in text and 'href="/tools/"' in text
    assert "/no/such/page/" in text


def test_404_page_for_anonymous_visitors(client, production_errors):
    page = client.get("/no/such/page/")
    assert page.status_code == 404 and b"Page not found" in page.content and b"Sign out" not in page.content


def test_500_page_renders_without_context(production_errors):
    from django.template import loader

    text = loader.get_template("500.html").render()
    assert "Something went wrong" in text and "site.css" in text


# --- 4 and 5. creating a connection -------------------------------------------------------------


def test_create_form_and_message_say_which_methods_are_open(designer_client, demo):
    form = designer_client.get(create_url(demo)).content.decode()
    assert "read methods (GET, HEAD)" in form and "method rights grid" in form
    done = designer_client.post(create_url(demo), post_data(), follow=True).content.decode()
    assert "is ready" in done and "read methods (GET, HEAD) are open to everyone you chose" in done
    assert "method rights grid" in done and SECRET not in done


def test_create_form_shows_every_error_at_once(designer_client, demo):
    from connections.models import Connection, Credential

    before = Credential.objects.count()
    page = designer_client.post(create_url(demo), post_data(access_level="individuals", cred0_secret_key=""))
    text = page.content.decode()
    assert page.status_code == 400
    assert "Choose at least one person." in text
    assert 'id="id_cred0_secret_key_error"' in text
    assert not Connection.objects.filter(name="Team notes").exists() and Credential.objects.count() == before


def test_create_form_credential_errors_alone_are_on_their_field(designer_client, demo):
    page = designer_client.post(create_url(demo), post_data(cred0_secret_key="", cred0_config_in="nowhere"))
    text = page.content.decode()
    assert page.status_code == 400
    assert 'id="id_cred0_secret_key_error"' in text and 'id="id_cred0_config_in_error"' in text


def test_an_existing_credential_needs_no_key(designer_client, demo):
    from connections.models import Connection, Credential

    credential = Credential.objects.get(name="Demo notes API key")
    response = designer_client.post(create_url(demo), post_data(cred0_mode=f"ref:{credential.pk}", cred0_secret_key=""))
    assert response.status_code == 302 and Connection.objects.filter(name="Team notes").exists()


def test_who_may_use_names_the_creator_once(designer_client, demo):
    designer, end_user = demo["users"]["designer"], demo["users"]["end user"]
    response = designer_client.post(
        create_url(demo), post_data(access_level="individuals", users=[str(designer.pk), str(end_user.pk)])
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    from connections.models import Connection

    connection = Connection.objects.get(name="Team notes")
    page = designer_client.get(reverse("portal:connections")).content.decode()
    row = page.split(f'id="connection-{connection.pk}"', 1)[1].split("</tr>", 1)[0]
    name = designer.get_full_name() or designer.username
    assert row.count(name) == 1 and f"{name} (creator)" in row
    assert (end_user.get_full_name() or end_user.username) in row


# --- 6. small things ----------------------------------------------------------------------------


def test_required_legend_only_when_a_field_is_required(user_client, demo):
    without = user_client.get(reverse("portal:tool", args=[tool_name(demo["connection"].pk, "listNotes")]))
    assert "</span> required</p>" not in without.content.decode()
    with_required = user_client.get(reverse("portal:tool", args=[tool_name(demo["connection"].pk, "getNote")]))
    assert "</span> required</p>" in with_required.content.decode()


def test_pages_declare_an_empty_icon(user_client):
    assert b'<link rel="icon" href="data:,">' in user_client.get(reverse("portal:tools")).content


def test_connection_names_are_written_connector_slash_connection(user_client, demo):
    tools = user_client.get(reverse("portal:tools")).content.decode()
    tool = user_client.get(reverse("portal:tool", args=[tool_name(demo["connection"].pk, "listNotes")]))
    for text in (tools, tool.content.decode()):
        assert "Demo notes / Demo notes (company)" in text


def test_failed_call_shows_the_upstream_body_once(user_client, demo):
    pytest.importorskip("invocations.models")
    from invocations.models import Invocation

    body = '{"detail": "the-upstream-said-no"}'
    common = {
        "user": demo["users"]["end user"],
        "organisation": demo["organisation"],
        "connection": demo["connection"],
        "operation": demo["connector"].operations.get(name="listNotes"),
        "tool_name": tool_name(demo["connection"].pk, "listNotes"),
        "arguments": {},
        "status": "failed",
    }
    with_result = Invocation.objects.create(
        **common,
        error={"kind": "upstream_error", "message": "HTTP 418", "status": 418, "excerpt": body},
        result={"status_code": 418, "headers": {}, "body": body},
    )
    text = user_client.get(reverse("portal:invocation", args=[with_result.pk])).content.decode()
    assert text.count("the-upstream-said-no") == 1 and "Response excerpt" not in text
    excerpt_only = Invocation.objects.create(
        **common, error={"kind": "upstream_error", "message": "HTTP 418", "status": 418, "excerpt": body}
    )
    text = user_client.get(reverse("portal:invocation", args=[excerpt_only.pk])).content.decode()
    assert text.count("the-upstream-said-no") == 1 and "Response excerpt" in text


# --- 8. logging ---------------------------------------------------------------------------------


def test_django_logs_once_and_urllib3_stays_quiet():
    loggers = django_settings.LOGGING["loggers"]
    assert loggers["django"] == {"handlers": ["console"], "level": "INFO", "propagate": False}
    assert loggers["urllib3"] == {"level": "INFO"}
