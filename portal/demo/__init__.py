"""Demo data and the demo upstream service, for `make run` (never in production)."""

from __future__ import annotations

import os

from django.conf import settings

DEMO_UPSTREAM_PORT = int(os.environ.get("DEMO_UPSTREAM_PORT") or 8001)
DEMO_ORGANISATION = "Demo Company"
DEMO_ORGANISATION_SLUG = "demo"
DEMO_CONNECTOR = "Demo notes"
DEMO_CONNECTION = "Demo notes (company)"
# (role, username, password). Fixed passwords, for a demo on one's own machine only.
DEMO_USERS = (
    ("administrator", "admin", "demo-admin-pass"),
    ("designer", "designer", "demo-designer-pass"),
    ("end user", "user", "demo-user-pass"),
    ("operator", "operator", "demo-operator-pass"),
)


def demo_logins() -> list[tuple[str, str, str]]:
    """The demo logins to print, or nothing in production."""
    if getattr(settings, "PRODUCTION", False):
        return []
    return list(DEMO_USERS)
