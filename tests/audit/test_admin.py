"""The trail in the admin: read only, an organisation's administrators see its entries (the
operator every one), filters that name nobody of another organisation, links to the objects, and
every object's "History" page read from the trail."""

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from tests.audit.conftest import entries_of, make_entries
from tests.connections.conftest import SECRETS
from tests.connections.test_admin import login
from tests.factories import make_user

pytestmark = pytest.mark.django_db

LIST = "/admin/audit/auditentry/"


def test_the_list_is_the_organisations_and_names_nobody_else(trail, org, other_org, platform_admin):
    foreign_admin = trail["foreign_admin"]
    page = login(platform_admin).get(LIST)
    assert page.status_code == 200
    text = page.content.decode()
    assert "credential.update" in text and "Billing key" in text
    # Neither an entry nor a filter choice (actors, organisations) of the other organisation.
    assert "Foreign key" not in text and foreign_admin.username not in text and other_org.name not in text
    for value in SECRETS.values():
        assert value not in text
    # Each entry links to its object's admin page; export links keep the list's filters.
    credential = trail["credential"]
    assert f'href="/admin/connections/credential/{credential.pk}/change/"' in text
    filtered = login(platform_admin).get(LIST, {"action__exact": "credential.update"}).content.decode()
    assert "/admin/audit/auditentry/export/csv/?action__exact=credential.update" in filtered


def test_the_operator_sees_every_organisation(trail, org, other_org):
    operator = make_user(None, username="operator", is_superuser=True, is_staff=True)
    text = login(operator).get(LIST).content.decode()
    assert "Billing key" in text and "Foreign key" in text
    assert f"?organisation__id__exact={other_org.pk}" in text  # the organisation filter


def test_read_only(trail, org, platform_admin):
    client = login(platform_admin)
    entry = entries_of(org).filter(action="credential.update").get()
    page = client.get(f"{LIST}{entry.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "credential.update" in text and "Every entry of this object" in text
    assert 'name="_save"' not in text
    assert client.post(f"{LIST}{entry.pk}/change/", {"action": "forged"}).status_code == 403
    assert client.get(f"{LIST}add/").status_code == 403
    assert client.post(f"{LIST}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk, action="credential.update").exists()
    # Another organisation's entry is not there for them.
    foreign = AuditEntry.objects.filter(object_id=str(trail["foreign_credential"].pk)).first()
    assert client.get(f"{LIST}{foreign.pk}/change/").status_code == 302


def test_an_objects_history_page_reads_the_trail(trail, platform_admin, designer):
    client = login(platform_admin)
    credential, connection = trail["credential"], trail["connection"]
    text = client.get(f"/admin/connections/credential/{credential.pk}/history/").content.decode()
    assert "credential.create" in text and "credential.update" in text and "fields: secret" in text
    assert platform_admin.username in text
    assert f"/admin/audit/auditentry/?object_type=connections.credential&amp;object_id={credential.pk}" in text
    # Who changed a grant: the connection's history.
    text = client.get(f"/admin/connections/connection/{connection.pk}/history/").content.decode()
    assert "connection.method_rights_changed" in text and "connection.create" in text
    assert designer.username in text
    # Another organisation's object: as if missing.
    response = client.get(f"/admin/connections/credential/{trail['foreign_credential'].pk}/history/")
    assert response.status_code == 302


def test_query_counts_are_flat(trail, org, platform_admin, designer):
    client = login(platform_admin)
    credential = trail["credential"]

    def queries(url) -> int:
        client.get(url)
        with CaptureQueriesContext(db) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return len(captured)

    history = f"/admin/connections/credential/{credential.pk}/history/"
    few_list, few_history = queries(LIST), queries(history)
    make_entries(credential, 40, actor=platform_admin)
    make_entries(trail["connection"], 40, actor=designer, action="connection.update")
    assert queries(LIST) == few_list
    assert queries(history) == few_history
