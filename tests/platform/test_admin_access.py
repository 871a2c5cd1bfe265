"""Only platform administrators reach integration configuration in the admin."""

import re

import pytest

from tests.factories import PASSWORD, make_user


@pytest.mark.django_db
def test_platform_admin_sees_integration_configuration(client, platform_admin):
    assert client.login(username=platform_admin.username, password=PASSWORD)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert b"/admin/accounts/organisation/" in response.content
    assert client.get("/admin/accounts/organisation/").status_code == 200


@pytest.mark.django_db
def test_other_staff_do_not_see_it(client, org):
    staff = make_user(org, is_staff=True)
    assert client.login(username=staff.username, password=PASSWORD)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert b"/admin/accounts/organisation/" not in response.content
    assert client.get("/admin/accounts/organisation/").status_code == 403
    assert client.get("/admin/accounts/apikey/").status_code == 403


@pytest.mark.django_db
def test_a_superuser_without_the_platform_role_does_not_see_it(client, org):
    boss = make_user(org, is_superuser=True, is_staff=True)
    assert client.login(username=boss.username, password=PASSWORD)
    assert client.get("/admin/accounts/organisation/").status_code == 403


def test_schema_and_docs_are_public_and_work_offline(client, db):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"openapi" in schema.content
    for page in ("/api/v1/docs/", "/api/v1/redoc/"):
        response = client.get(page)
        assert response.status_code == 200
        html = response.content.decode()
        # Everything the page loads comes from this server: no CDN, no web fonts from outside.
        urls = re.findall(r'(?:src|href)="([^"]*)"', html)
        assert urls, html
        assert all(url.startswith("/") for url in urls), urls
        assert "https://" not in html and "//fonts." not in html
        for url in urls:
            assert client.get(url).status_code == 200, url
