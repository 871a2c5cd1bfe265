"""The Celery app. Tasks take ids only; the database row is the truth, the broker only carries work."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integrations_platform.settings")

app = Celery("integrations_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
