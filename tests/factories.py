"""Factories for the objects every test needs. They go through the services, as real use does."""

from __future__ import annotations

import itertools

from accounts.models import Organisation, User
from accounts.services import organisation_create, user_create

_seq = itertools.count(1)

PASSWORD = "correct-horse-battery-staple-7"


def make_organisation(name: str | None = None) -> Organisation:
    n = next(_seq)
    return organisation_create(name=name or f"Organisation {n}", slug=f"org-{n}" if name is None else "")


def make_user(organisation: Organisation | None, username: str | None = None, **kwargs) -> User:
    n = next(_seq)
    return user_create(username=username or f"user{n}", organisation=organisation, password=PASSWORD, **kwargs)
