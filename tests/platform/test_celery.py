import time

import pytest

from accounts.models import Organisation
from integrations_platform.celery import app


@app.task(name="tests.rename_organisation")
def rename_organisation(organisation_id: int, name: str) -> None:
    Organisation.objects.filter(pk=organisation_id).update(name=name)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_task_sent_after_commit(celery_worker, org):
    rename_organisation.delay(org.pk, "Renamed by the worker")
    deadline = time.monotonic() + 30  # a guard against a hang, not a timing
    while time.monotonic() < deadline:
        org.refresh_from_db()
        if org.name == "Renamed by the worker":
            break
        time.sleep(0.05)
    assert org.name == "Renamed by the worker"
