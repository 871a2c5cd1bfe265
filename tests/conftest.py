"""Fixtures shared by every test module."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.services import api_key_create
from tests.factories import make_organisation, make_user


@pytest.fixture
def org(db):
    return make_organisation()


@pytest.fixture
def other_org(db):
    return make_organisation()


@pytest.fixture
def platform_admin(org):
    return make_user(org, is_platform_admin=True)


@pytest.fixture
def designer(org):
    return make_user(org, is_designer=True)


@pytest.fixture
def member(org):
    return make_user(org)


@pytest.fixture
def outsider(other_org):
    return make_user(other_org, is_designer=True)


def api_client_for(user) -> APIClient:
    """An API client that authenticates as ``user`` with a real API key."""
    client = APIClient()
    if user is not None:
        _, raw = api_key_create(user=user, name="test")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api_client():
    return api_client_for


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture(scope="session", autouse=True)
def embedded_redis():
    """Without REDIS_URL, the test session runs the platform's own Redis server (the one `make run`
    starts) on its socket under var/test/, and stops it at the end. Worker processes started by
    tests find it by the same VAR_DIR (``tests/processes.py``). With REDIS_URL: that Redis."""
    from django.conf import settings

    if not settings.EMBEDDED_REDIS:
        yield None
        return
    from integrations_platform.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(settings.VAR_DIR)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def celery_worker_session(django_db_setup, django_db_blocker, embedded_redis):
    """A real Celery worker consuming from the configured Redis (the embedded server by default,
    REDIS_URL when set), in threads of this process, against the file-based test database. Tests
    that use it need ``django_db(transaction=True)``, so that what they write is committed and
    visible to the worker."""
    from celery.contrib.testing.worker import start_worker

    from integrations_platform.celery import app

    app.conf.task_always_eager = False
    with django_db_blocker.unblock():
        app.control.purge()
        with start_worker(
            app, pool="threads", concurrency=4, perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"
        ) as worker:
            yield worker


@pytest.fixture
def celery_worker(celery_worker_session, transactional_db):
    return celery_worker_session


_TRANSACTIONAL_FIXTURES = {"transactional_db", "live_server", "celery_worker"}


@pytest.fixture(autouse=True)
def _integration_types_in_transactional_tests(request):
    """Transactional tests empty every table after they run, and with them the integration types
    that a data migration creates: put them back for each such test, as the migration would."""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    if not (transactional or _TRANSACTIONAL_FIXTURES & set(request.fixturenames)):
        return
    request.getfixturevalue("transactional_db")
    import importlib

    from connectors.models import IntegrationType

    types = importlib.import_module("connectors.migrations.0002_integration_types").TYPES
    for key, name, description, position in types:
        IntegrationType.objects.get_or_create(
            key=key, defaults={"name": name, "description": description, "position": position}
        )


@pytest.fixture(autouse=True)
def _fresh_schema_text_cache():
    """tools/ caches input schema texts by (operation id, version id). Ids are never reused in a
    running platform (PostgreSQL sequences, SQLite AUTOINCREMENT), but each test's rollback hands
    the same ids out again: start every test with an empty cache."""
    from accesscontrol import selectors

    selectors._SCHEMA_TEXTS.clear()


@pytest.fixture(autouse=True)
def _own_cache_namespace():
    """Throttle counts (failed logins, failed tokens) live in the cache: each test gets a namespace
    of its own (never a flush: in CI the cache shares its Redis with the broker)."""
    import uuid

    from django.conf import settings
    from django.test.utils import override_settings

    caches = {name: dict(config) for name, config in settings.CACHES.items()}
    for config in caches.values():
        config["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:12]}"
        if config["BACKEND"].endswith("LocMemCache"):
            config["LOCATION"] = config["KEY_PREFIX"]
    with override_settings(CACHES=caches):
        yield
