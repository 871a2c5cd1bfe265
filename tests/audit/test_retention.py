"""Retention: the periodic purge deletes entries older than AUDIT_RETENTION_DAYS, in batches, and
records itself in the trail, where each organisation's administrators see it."""

import datetime as dt

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from audit import services
from audit.models import AuditEntry
from audit.tasks import audit_purge_expired
from tests.audit.conftest import entries_of, make_entries

pytestmark = pytest.mark.django_db


def age(entries, days: int) -> None:
    AuditEntry.objects.filter(pk__in=[e.pk for e in entries]).update(at=timezone.now() - dt.timedelta(days=days))


def test_the_purge_deletes_what_is_older_than_the_retention_and_says_so(trail, org, other_org, settings,
                                                                        monkeypatch, api_client, platform_admin):
    settings.AUDIT_RETENTION_DAYS = 30
    monkeypatch.setattr(services, "PURGE_BATCH_SIZE", 2)
    credential = trail["credential"]
    make_entries(credential, 5, actor=platform_admin)
    ours = list(entries_of(org).order_by("id"))
    age(ours[:5], 31)  # five of ours expired
    age(ours[5:6], 29)  # one just inside
    age(list(entries_of(other_org)), 400)  # all of theirs
    theirs = entries_of(other_org).count()
    kept = [e.pk for e in ours[5:]]

    result = audit_purge_expired.run()

    assert result["deleted"] == 5 + theirs
    assert sorted(entries_of(org).exclude(action="audit.purge").values_list("pk", flat=True)) == kept
    assert not entries_of(other_org).exclude(action="audit.purge").exists()
    purge = entries_of(org).get(action="audit.purge")
    assert purge.actor is None and purge.changes["deleted"] == 5 and purge.changes["retention_days"] == 30
    assert entries_of(other_org).get(action="audit.purge").changes["deleted"] == theirs
    # The administrators read it like any entry.
    items = api_client(platform_admin).get("/api/v1/audit/", {"action": "audit.purge"}).json()["results"]
    assert len(items) == 1 and items[0]["object"]["type"] == "audit.auditentry"
    assert items[0]["object"]["admin_url"] is None and "older than 30 days" in items[0]["object"]["repr"]

    # Nothing more to delete: nothing more recorded.
    assert audit_purge_expired.run()["deleted"] == 0
    assert AuditEntry.objects.filter(action="audit.purge").count() == 2


def test_zero_keeps_everything(trail, settings):
    settings.AUDIT_RETENTION_DAYS = 0
    age(list(AuditEntry.objects.all()), 5000)
    before = AuditEntry.objects.count()
    assert services.audit_entries_purge() == {"deleted": 0, "before": None}
    assert AuditEntry.objects.count() == before


def test_the_command_and_the_schedule(trail, capsys):
    age(list(AuditEntry.objects.all()), 10)
    call_command("purge_audit_entries", "--days", "7")
    assert "Deleted" in capsys.readouterr().out
    assert AuditEntry.objects.exclude(action="audit.purge").count() == 0
    entry = settings.CELERY_BEAT_SCHEDULE["audit-purge-expired"]
    assert entry["task"] == audit_purge_expired.name == "audit.purge_expired"
