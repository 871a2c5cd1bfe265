"""Playwright (sync API) driving Debian's Chromium headless against pytest-django's live server.

Never ``playwright install``: the browser is the system's ``/usr/bin/chromium``. When it is
missing, these tests (and only these) are skipped with a reason.

Playwright's sync API keeps an event loop running in the test's thread, and Django refuses ORM
calls from a thread with a running loop (``SynchronousOnlyOperation``). The pages are served by
the live server's own thread; the test thread prepares data and checks rows between browser
steps, never concurrently with them, so the check is switched off for this test process.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"No Chromium at {CHROMIUM}: install Debian's chromium package to run the browser tests.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


def _watch_policy(page, refused: list[str]) -> None:
    """Collect what the Content-Security-Policy stopped: a page of the platform must need nothing
    it refuses (an inline script without the nonce, a script or style from elsewhere)."""

    def on_console(message):
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(f"{page.url}: {message.text}")

    page.on("console", on_console)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    refused: list[str] = []
    _watch_policy(page, refused)
    yield page
    context.close()
    assert not refused, "The Content-Security-Policy refused:\n" + "\n".join(refused)


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    refused: list[str] = []
    _watch_policy(page, refused)
    yield page
    context.close()
    assert not refused, "The Content-Security-Policy refused:\n" + "\n".join(refused)


@pytest.fixture
def shot():
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def demo_upstream():
    from portal.demo.upstream import make_server

    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def live_demo(transactional_db, live_server, demo_upstream, settings):
    from connectors.models import IntegrationType
    from portal.demo.seed import load_demo

    # Transactional tests flush the tables, the rows of data migrations too.
    IntegrationType.objects.get_or_create(
        key=IntegrationType.CUSTOM_OPENAPI, defaults={"name": "Custom OpenAPI", "enabled": True}
    )
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    port = demo_upstream.server_address[1]
    settings.OUTGOING_ALLOWED_ADDRESSES = [f"127.0.0.1:{port}", f"localhost:{port}"]
    settings.INVOCATION_RETRY_BASE_DELAY = 0.05
    data = load_demo(upstream_port=port, log=lambda *_: None)
    data["url"] = live_server.url
    return data


@pytest.fixture
def invocations_app():
    pytest.importorskip("invocations.selectors", reason="the invocations app is not merged yet")


def login(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
