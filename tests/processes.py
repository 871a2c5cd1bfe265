"""Environment for a child process (a worker, a command) that must use this test run's database."""

from __future__ import annotations

import os

from django.conf import settings as django_settings
from django.db import connection


def child_env(**extra: str) -> dict[str, str]:
    """``os.environ`` with the database pointed at the test database, whichever engine runs, and
    Redis at this run's Redis (the embedded server's socket, or REDIS_URL)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "integrations_platform.settings", "DJANGO_ENV": "test"}
    env["REDIS_URL"] = django_settings.REDIS_URL
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(settings["NAME"])
    else:
        user = settings.get("USER") or ""
        password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        env["DATABASE_URL"] = (
            f"postgres://{auth}{settings.get('HOST') or '127.0.0.1'}:{settings.get('PORT') or 5432}/{settings['NAME']}"
        )
    env.update(extra)
    return env
