"""Exports of the trail, CSV and JSON lines, from the API and the admin: streamed in batches (a
year of entries never sits in memory), scoped and filtered like the list, safe to open in a
spreadsheet."""

import csv
import io
import json

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from audit import export
from audit.models import AuditEntry
from connections import services as connections
from tests.audit.conftest import entries_of, make_entries
from tests.connections.conftest import SECRETS
from tests.connections.test_admin import login
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def content(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def test_api_csv_is_the_organisations_entries_filtered(trail, api_client, platform_admin, org):
    response = api_client(platform_admin).get("/api/v1/audit/export/csv/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    text = content(response)
    for value in SECRETS.values():
        assert value not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["id"]) for r in rows] == list(entries_of(org).order_by("-id").values_list("id", flat=True))
    assert {r["organisation"] for r in rows} == {org.name}
    update = next(r for r in rows if r["action"] == "credential.update")
    assert update["actor"] == platform_admin.username and json.loads(update["changes"]) == {"fields": ["secret"]}
    assert update["object_type"] == "connections.credential" and update["object_id"] == str(trail["credential"].pk)

    filtered = api_client(platform_admin).get("/api/v1/audit/export/csv/", {"action": "credential.update"})
    assert [r["action"] for r in csv.DictReader(io.StringIO(content(filtered)))] == ["credential.update"]


def test_api_json_lines_have_the_lists_shape(trail, api_client, platform_admin):
    client = api_client(platform_admin)
    response = client.get("/api/v1/audit/export/jsonl/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    text = content(response)
    for value in SECRETS.values():
        assert value not in text
    lines = [json.loads(line) for line in text.splitlines()]
    listed = client.get("/api/v1/audit/", {"limit": 500}).json()["results"]
    assert lines == listed


def test_unknown_format_and_who_may_export(api_client, platform_admin, designer, anon_client):
    assert api_client(platform_admin).get("/api/v1/audit/export/xml/").status_code == 404
    assert api_client(designer).get("/api/v1/audit/export/csv/").status_code == 403
    assert anon_client.get("/api/v1/audit/export/csv/").status_code == 401


def test_streamed_in_batches(trail, api_client, platform_admin, org, monkeypatch):
    monkeypatch.setattr(export, "BATCH_SIZE", 10)
    make_entries(trail["credential"], 45, actor=platform_admin)
    total = entries_of(org).count()
    client = api_client(platform_admin)
    client.get("/api/v1/audit/")  # the key's first use is noted once
    with CaptureQueriesContext(db) as before_reading:
        response = client.get("/api/v1/audit/export/jsonl/")
    chunks = iter(response.streaming_content)
    with CaptureQueriesContext(db) as first_chunk:
        first = next(chunks)
    with CaptureQueriesContext(db) as the_rest:
        rest = list(chunks)
    # Nothing is read before the download starts, then one query per batch (and one that finds
    # the end): memory holds one batch at a time.
    assert not any("audit_auditentry" in q["sql"] for q in before_reading.captured_queries)
    assert len(first_chunk) == 1 and len(first.decode().splitlines()) == 10
    batches = -(-total // 10)
    assert len(the_rest) == batches
    assert sum(len(c.decode().splitlines()) for c in [first, *rest]) == total


def test_csv_cells_that_look_like_formulas_are_text(org, platform_admin, api_client):
    credential = connections.credential_create(
        organisation=org, name='=HYPERLINK("http://evil.example","x")', kind="http_bearer",
        created_by=platform_admin, config={}, secret={"token": SECRETS["token"]},
    )
    rows = list(csv.DictReader(io.StringIO(content(api_client(platform_admin).get("/api/v1/audit/export/csv/")))))
    (row,) = [r for r in rows if r["object_id"] == str(credential.pk)]
    assert row["object_repr"].startswith("'=HYPERLINK")


def test_admin_exports_follow_the_lists_filters_and_scope(trail, org, other_org, platform_admin):
    operator = make_user(None, username="operator", is_superuser=True, is_staff=True)
    client = login(platform_admin)
    rows = list(csv.DictReader(io.StringIO(content(client.get("/admin/audit/auditentry/export/csv/")))))
    assert {r["organisation_id"] for r in rows} == {str(org.pk)}
    response = client.get("/admin/audit/auditentry/export/jsonl/", {"action__exact": "credential.update"})
    assert [json.loads(line)["action"] for line in content(response).splitlines()] == ["credential.update"]
    # The operator exports every organisation's entries.
    rows = list(csv.DictReader(io.StringIO(content(login(operator).get("/admin/audit/auditentry/export/csv/")))))
    assert {r["organisation_id"] for r in rows} >= {str(org.pk), str(other_org.pk)}
    assert len(rows) == AuditEntry.objects.count()
    # A designer does not enter the admin at all; an unknown format is not a page.
    assert login(make_user(org, is_designer=True)).get("/admin/audit/auditentry/export/csv/").status_code == 302
    assert client.get("/admin/audit/auditentry/export/pdf/").status_code == 404
    # A filter the list does not know sends back to the list, as the list itself does.
    response = client.get("/admin/audit/auditentry/export/csv/", {"no_such_field": "1"})
    assert response.status_code == 302 and response["Location"].endswith("?e=1")
