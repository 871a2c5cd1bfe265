"""``GET /api/v1/audit/``: an organisation's platform administrators read its trail, filtered and
paginated, each entry linking to its object; nobody else reads it, nobody reads another's."""

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from audit.api.views import AuditPagination
from audit.models import AuditEntry
from invocations.models import Invocation
from tests.audit.conftest import entries_of, make_entries
from tests.connections.conftest import SECRETS
from tests.factories import make_user

pytestmark = pytest.mark.django_db

URL = "/api/v1/audit/"


def test_who_may_read(trail, api_client, anon_client, org, member, designer, platform_admin):
    operator = make_user(None, username="operator", is_superuser=True, is_staff=True)
    assert anon_client.get(URL).status_code == 401
    for person in (member, designer, operator):
        response = api_client(person).get(URL)
        assert response.status_code == 403, person
        assert "platform administrators" in response.json()["message"]
    response = api_client(platform_admin).get(URL)
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == entries_of(org).count() > 0
    assert {item["organisation"]["id"] for item in data["results"]} == {org.pk}
    # The other organisation's administrator sees theirs only.
    foreign = api_client(trail["foreign_admin"]).get(URL).json()
    assert foreign["count"] >= 1
    assert "Billing" not in str(foreign) and all(i["organisation"]["name"] != org.name for i in foreign["results"])


def test_entries_answer_who_changed_what_and_link_to_the_object(trail, api_client, platform_admin, designer):
    credential, connection = trail["credential"], trail["connection"]
    data = api_client(platform_admin).get(URL).json()
    text = str(data)
    for value in SECRETS.values():
        assert value not in text
    by_action = {item["action"]: item for item in data["results"]}
    update = by_action["credential.update"]
    assert update["actor"] == {"id": platform_admin.pk, "username": platform_admin.username}
    assert update["changes"] == {"fields": ["secret"]}
    assert update["object"] == {
        "type": "connections.credential",
        "id": str(credential.pk),
        "repr": str(credential),
        "api_url": f"/api/v1/credentials/{credential.pk}/",
        "admin_url": f"/admin/connections/credential/{credential.pk}/change/",
        "history_url": f"/api/v1/audit/?object_type=connections.credential&object_id={credential.pk}",
    }
    grant = by_action["connection.method_rights_changed"]
    assert grant["actor"]["username"] == platform_admin.username
    assert grant["object"]["api_url"] == f"/api/v1/connections/{connection.pk}/"
    assert grant["changes"]["operations"][0]["after"]["requires_confirmation"] is True
    assert by_action["connection.create"]["actor"]["username"] == designer.username
    # The history link answers the object's entries.
    history = api_client(platform_admin).get(update["object"]["history_url"]).json()
    assert {i["action"] for i in history["results"]} == {"credential.create", "credential.update"}


def test_an_invocation_links_to_its_admin_page(api_client, org, platform_admin):
    from audit.services import audit_record

    invocation = Invocation(organisation=org)
    invocation.pk = "6f1c1f9e-2a53-4a43-9c6b-1a5c3b0b9f10"
    audit_record(actor=platform_admin, action="invocation.create", obj=invocation, organisation=org)
    item = api_client(platform_admin).get(URL, {"object_type": "invocations.invocation"}).json()["results"][0]
    assert item["object"]["api_url"] is None  # the invocations API shows a call to its caller only
    assert item["object"]["admin_url"] == f"/admin/invocations/invocation/{invocation.pk}/change/"


def test_filters(trail, api_client, platform_admin, designer, org):
    client = api_client(platform_admin)
    credential = trail["credential"]

    def actions(**params):
        response = client.get(URL, params)
        assert response.status_code == 200, response.content
        return sorted(i["action"] for i in response.json()["results"])

    by_designer = client.get(URL, {"actor": designer.pk}).json()["results"]
    assert "connection.create" in {i["action"] for i in by_designer}
    assert {i["actor"]["id"] for i in by_designer} == {designer.pk}
    assert actions(object_type="connections.credential", object_id=credential.pk) == [
        "credential.create", "credential.update",
    ]
    assert actions(action=["credential.create", "credential.update"]) == ["credential.create", "credential.update"]
    # Time range: entries moved into the past are outside "since today", inside "until" that day.
    old = AuditEntry.objects.filter(organisation=org, action="credential.create")
    old.update(at="2024-03-01T10:00:00Z")
    assert "credential.create" not in actions(since="2024-03-02")
    assert actions(until="2024-03-01") == ["credential.create"]
    assert actions(since="2024-03-01T09:00:00Z", until="2024-03-01T11:00:00+00:00") == ["credential.create"]
    assert actions(since="2024-03-01T10:30:00Z", until="2024-03-01T11:00:00Z") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"actor": "alice"}, "actor"),
        ({"object_type": "nothing"}, "object_type"),
        ({"object_type": "connections.nosuchmodel"}, "object_type"),
        ({"object_id": "5"}, "object_id"),
        ({"object_type": "connections.credential", "object_id": "x" * 65}, "object_id"),
        ({"action": "a" * 65}, "action"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2025-02-30"}, "since"),
        ({"until": "2025-13-01T00:00:00Z"}, "until"),
        ({"since": "2025-02-01", "until": "2025-01-01"}, "until"),
        ({"action": "credential.update\x00"}, "action"),
        ({"object_type": "connections.credential", "object_id": "1\x00"}, "object_id"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(api_client, platform_admin, params, field):
    response = api_client(platform_admin).get(URL, params)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert "export" not in response.json()["message"]
    response = api_client(platform_admin).get(URL + "export/csv/", params)
    assert response.status_code == 400 and list(response.json()["errors"]) == [field]


def test_pagination(api_client, platform_admin, trail, monkeypatch):
    make_entries(trail["credential"], 7, actor=platform_admin)
    data = api_client(platform_admin).get(URL, {"limit": 3, "offset": 3}).json()
    assert len(data["results"]) == 3 and data["next"] and data["previous"]
    # A page has a ceiling (1,000): nobody reads a year of entries in one answer.
    monkeypatch.setattr(AuditPagination, "max_limit", 4)
    capped = api_client(platform_admin).get(URL, {"limit": 10**9}).json()
    assert len(capped["results"]) == 4 and "limit=4" in capped["next"]
    everything = api_client(platform_admin).get(URL, {"limit": 500}).json()["results"]
    assert [i["id"] for i in everything] == sorted((i["id"] for i in everything), reverse=True)


def test_query_count_is_flat_in_the_number_of_entries(api_client, platform_admin, trail, designer):
    client = api_client(platform_admin)

    def count_queries() -> int:
        with CaptureQueriesContext(db) as queries:
            response = client.get(URL, {"limit": 200})
        assert response.status_code == 200
        return len(queries), len(response.json()["results"])

    count_queries()  # the first request of a key also notes when it was last used
    few, shown = count_queries()
    make_entries(trail["credential"], 60, actor=platform_admin)
    make_entries(trail["connection"], 60, actor=designer, action="connection.update")
    many, shown_many = count_queries()
    assert shown_many == shown + 120
    assert many == few <= 5
