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
def test_other_staff_do_not_enter_the_admin(client, org):
    """The staff flag alone opens nothing: the admin is for the operator and platform administrators."""
    staff = make_user(org, is_staff=True)
    assert client.login(username=staff.username, password=PASSWORD)
    for url in ("/admin/", "/admin/accounts/organisation/", "/admin/accounts/apikey/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url


@pytest.mark.django_db
def test_the_operator_manages_every_organisation(client, org, other_org):
    boss = make_user(org, is_superuser=True, is_staff=True)
    assert client.login(username=boss.username, password=PASSWORD)
    response = client.get("/admin/accounts/organisation/")
    assert response.status_code == 200
    assert org.name in response.content.decode() and other_org.name in response.content.decode()


@pytest.mark.django_db
def test_a_platform_administrator_sees_only_their_organisation(client, platform_admin, other_org):
    assert client.login(username=platform_admin.username, password=PASSWORD)
    html = client.get("/admin/accounts/organisation/").content.decode()
    assert platform_admin.organisation.name in html and other_org.name not in html
    assert client.get(f"/admin/accounts/organisation/{other_org.pk}/change/").status_code == 302  # "does not exist"


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
