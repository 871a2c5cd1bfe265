"""The navigation shows each person the ways the access-control policy opens to them."""

import pytest
from django.test import Client

from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("flags", "designer_link", "admin_link"),
    [
        ({}, False, False),
        ({"is_staff": True}, False, False),  # the staff flag alone opens nothing
        ({"is_designer": True}, True, False),
        ({"is_platform_admin": True}, False, True),
        ({"is_superuser": True}, False, True),  # the operator
    ],
)
def test_navigation_follows_the_policy(org, flags, designer_link, admin_link):
    client = Client()
    client.force_login(make_user(org, **flags))
    html = client.get("/tools/").content.decode()
    assert ('href="/connections/"' in html) is designer_link
    assert ('href="/admin/"' in html) is admin_link
