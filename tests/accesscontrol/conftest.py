"""Fixtures of the access-control tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """The shared factories give every user a password; hashing it properly costs more than the
    rest of these tests together."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
