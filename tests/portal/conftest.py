"""Fixtures of the page tests: the demo data, made through the services, and a demo upstream."""

from __future__ import annotations

import threading

import pytest
from django.test import Client

from portal.demo.seed import load_demo
from portal.demo.upstream import make_server


@pytest.fixture
def demo_upstream():
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def demo(db, demo_upstream, settings):
    port = demo_upstream.server_address[1]
    settings.OUTGOING_ALLOWED_ADDRESSES = [f"127.0.0.1:{port}", f"localhost:{port}"]
    return load_demo(upstream_port=port, log=lambda *_: None)


def client_for(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def designer_client(demo):
    return client_for(demo["users"]["designer"])


@pytest.fixture
def user_client(demo):
    return client_for(demo["users"]["end user"])


@pytest.fixture
def admin_client_demo(demo):
    return client_for(demo["users"]["administrator"])


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The demo sets three passwords per test; the default hasher takes a good part of a second each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
