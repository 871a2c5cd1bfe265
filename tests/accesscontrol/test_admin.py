"""The admin grid of a connection's method rights."""

from __future__ import annotations

import pytest
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accesscontrol.admin import connection_rights_url
from accesscontrol.models import MethodRight, MethodRightGroupObjectPermission, MethodRightUserObjectPermission
from accesscontrol.selectors import tool_list_for
from accesscontrol.services import connection_access_define
from tests.accesscontrol.factories import make_connection, make_connector, make_operation
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def grid(org, designer):
    connector = make_connector(org, operations=["GET", "POST", {"method": "DELETE", "tags": ["danger"]}])
    connection = make_connection(connector, designer, name="Grid")
    people = [make_user(org) for _ in range(3)]
    connection_access_define(connection=connection, level="individuals", users=people, actor=designer)
    return connection, people


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _snapshot():
    return (
        sorted(MethodRight.objects.values_list("id", "requires_confirmation")),
        sorted(MethodRightGroupObjectPermission.objects.values_list("group_id", "content_object_id")),
        sorted(MethodRightUserObjectPermission.objects.values_list("user_id", "content_object_id")),
    )


def test_grid_shows_grants_and_rights(grid, platform_admin, designer):
    connection, people = grid
    response = client_for(platform_admin).get(connection_rights_url(connection.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "individuals" in html and designer.username in html
    for person in people:
        assert person.username in html
    get = connection.connector.operations.get(method="GET")
    assert f'name="allow_{get.pk}" value="user:{people[0].pk}" aria-label="{people[0].username}" checked' in html
    assert html.count('type="checkbox" name="allow_') == 3 * 4  # 3 methods x (3 people + the creator)


def test_only_the_organisations_administrators_and_the_operator(grid, designer, member, org, other_org, anon_client):
    connection, _ = grid
    url = connection_rights_url(connection.pk)
    staff = make_user(org, is_staff=True)  # staff, but neither a platform administrator nor the operator
    foreign_admin = make_user(other_org, is_staff=True, is_platform_admin=True)
    for who in (staff, designer):
        assert client_for(who).get(url).status_code == 302  # to the admin login
    assert anon_client.get(url).status_code == 302
    assert client_for(foreign_admin).get(url).status_code == 404  # another organisation's: not there
    before = _snapshot()
    body = {"action": "bulk", "bulk_method": "POST", "bulk_mode": "off"}
    for who in (staff, foreign_admin):
        assert client_for(who).post(url, body).status_code in {302, 404}
    assert _snapshot() == before
    operator = make_user(other_org, is_staff=True, is_superuser=True)
    assert client_for(operator).get(url).status_code == 200


def test_unknown_connection_is_404(platform_admin):
    assert client_for(platform_admin).get(connection_rights_url(999999)).status_code == 404


def test_save_page_and_bulk(grid, platform_admin):
    connection, people = grid
    client = client_for(platform_admin)
    url = connection_rights_url(connection.pk)
    ops = {op.method: op for op in connection.connector.operations.all()}
    rows = [str(op.pk) for op in ops.values()]
    response = client.post(
        url,
        {
            "action": "save",
            "rows": rows,
            f"allow_{ops['GET'].pk}": [f"user:{people[0].pk}"],
            f"allow_{ops['POST'].pk}": [f"user:{people[1].pk}"],
            f"confirm_{ops['POST'].pk}": "on",
            f"confirm_{ops['DELETE'].pk}": "on",
        },
    )
    assert response.status_code == 302
    assert {t.method for t in tool_list_for(user=people[0])} == {"GET"}
    assert {(t.method, t.requires_confirmation) for t in tool_list_for(user=people[1])} == {("POST", True)}
    client.post(url, {"action": "bulk", "bulk_tag": "danger", "bulk_mode": "allow",
                      "bulk_principals": [f"user:{people[2].pk}"], "bulk_confirmation": "off"})
    assert {(t.method, t.requires_confirmation) for t in tool_list_for(user=people[2])} == {("DELETE", False)}


@pytest.mark.parametrize(
    "data",
    [
        {"action": "bulk", "bulk_method": "BREW", "bulk_mode": "off"},
        {"action": "bulk", "bulk_mode": "off"},
        {"action": "bulk", "bulk_method": "GET", "bulk_mode": "sideways"},
        {"action": "bulk", "bulk_method": "GET", "bulk_mode": "allow", "bulk_principals": ["group:0"]},
        {"action": "save", "rows": ["1; drop"]},
        {"action": "save"},
        {"action": "explode"},
    ],
)
def test_bad_posts_change_nothing(grid, platform_admin, data):
    connection, _ = grid
    before = _snapshot()
    client = client_for(platform_admin)
    response = client.post(connection_rights_url(connection.pk), data, follow=True)
    assert response.status_code == 200
    assert any(m.level_tag == "error" for m in response.context["messages"])
    assert _snapshot() == before


def test_save_with_a_foreign_principal_changes_nothing(grid, platform_admin, outsider):
    connection, _ = grid
    op = connection.connector.operations.get(method="POST")
    before = _snapshot()
    response = client_for(platform_admin).post(
        connection_rights_url(connection.pk),
        {"action": "save", "rows": [str(op.pk)], f"allow_{op.pk}": [f"user:{outsider.pk}"]},
        follow=True,
    )
    assert "Not granted" in response.content.decode()
    assert _snapshot() == before


def test_grid_query_count_does_not_grow(org, designer, platform_admin, django_assert_max_num_queries):
    connector = make_connector(org)
    connection = make_connection(connector, designer)
    people = [make_user(org) for _ in range(5)]
    connection_access_define(connection=connection, level="individuals", users=people, actor=designer)
    client = client_for(platform_admin)
    url = connection_rights_url(connection.pk)
    counts = []
    for n in (3, 60):
        for _ in range(n):
            make_operation(connector, method="GET")
        from accesscontrol.services import method_rights_sync

        method_rights_sync(connection=connection)
        with CaptureQueriesContext(db_connection) as ctx:
            response = client.get(url, {"per_page": 200})
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(12):
        client.get(url, {"method": "GET", "q": "thing", "page": 2, "per_page": 25})


def test_changelist_query_count(grid, platform_admin, django_assert_max_num_queries, org, designer):
    client = client_for(platform_admin)
    for _ in range(3):
        connection = make_connection(make_connector(org, operations=["GET"] * 5), designer)
        connection_access_define(connection=connection, level="company", actor=designer)
    with django_assert_max_num_queries(10):
        response = client.get("/admin/accesscontrol/methodright/")
    assert response.status_code == 200
    assert client_for(designer).get("/admin/accesscontrol/methodright/").status_code == 302


def test_grid_page_wording_and_buttons(grid, platform_admin, designer):
    connection, _people = grid
    html = client_for(platform_admin).get(connection_rights_url(connection.pk)).content.decode()
    assert "always keeps access to the connection" in html
    assert "method rights below apply to the creator like to anyone else" in html
    assert "Creator (always keeps access)" not in html
    assert '<input type="submit" value="Apply" class="default">' in html
    assert '<label for="id_bulk_principals">' in html and 'id="id_bulk_principals"' in html
