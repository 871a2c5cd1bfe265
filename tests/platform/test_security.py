"""Protections of the front door: failed logins and failed API keys are throttled (in the shared
cache), and production sends HSTS, a Content-Security-Policy and redirects plain HTTP."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.services import api_key_create
from tests.factories import PASSWORD, make_user

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


# --- logins (django-axes) ----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_failed_logins_lock_the_account_from_that_address(url, org):
    """Issue finding: 25 wrong passwords in a row all went through to the password check."""
    person = make_user(org, is_platform_admin=True)
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(url, {"username": person.username, "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    assert client.post(url, {"username": person.username, "password": "wrong"}).status_code == 429  # the limit
    locked = client.post(url, {"username": person.username, "password": PASSWORD})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another address, or another person from this address, is not locked out.
    elsewhere = Client(REMOTE_ADDR="203.0.113.8")
    assert elsewhere.post(url, {"username": person.username, "password": PASSWORD}).status_code == 302
    other = make_user(org, is_platform_admin=True)
    assert client.post(url, {"username": other.username, "password": PASSWORD}).status_code == 302


def test_a_successful_login_resets_the_count(org):
    person = make_user(org)
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/accounts/login/", {"username": person.username, "password": "wrong"})
    assert client.post("/accounts/login/", {"username": person.username, "password": PASSWORD}).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/accounts/login/", {"username": person.username, "password": "wrong"})
    assert client.post("/accounts/login/", {"username": person.username, "password": PASSWORD}).status_code == 302


# --- API keys (DRF's throttle) ------------------------------------------------------------------


def _limit() -> int:
    return int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["failed_token"].split("/")[0])


def test_failed_api_keys_are_throttled_per_address(org):
    """Issue finding: 25 wrong API keys in a row were all checked."""
    person = make_user(org)
    _, good = api_key_create(user=person, name="k")
    client = Client(REMOTE_ADDR="198.51.100.4")
    for n in range(_limit()):
        response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer ipk_{n:012x}_wrong")
        assert response.status_code == 401
    blocked = client.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer ipk_000000000000_wrong")
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    assert "Too many failed tokens" in blocked.json()["message"]
    # While throttled, a right key answers the same: it does not reveal itself.
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {good}").status_code == 429
    # Another address is not throttled; requests without a token are not counted or blocked.
    assert Client(REMOTE_ADDR="198.51.100.5").get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {good}").status_code == 200
    assert client.get("/api/v1/schema/").status_code == 200


def test_successful_keys_are_not_counted(org):
    person = make_user(org)
    _, good = api_key_create(user=person, name="k")
    client = Client(REMOTE_ADDR="198.51.100.6")
    for _ in range(_limit() * 2):
        assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {good}").status_code == 200


def test_throttle_counts_are_shared_across_processes(org, tmp_path):
    """The counts live in the shared cache (Redis), not in one process's memory: failures made by
    another process block this one."""
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")  # the embedded one, or REDIS_URL's
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    script = textwrap.dedent(
        f"""
        import os, django
        os.environ["DJANGO_SETTINGS_MODULE"] = "integrations_platform.settings"
        django.setup()
        from django.conf import settings
        settings.CACHES["default"]["KEY_PREFIX"] = {prefix!r}  # this test's namespace, before first use
        from rest_framework.test import APIRequestFactory
        from integrations_platform.authentication import FailedTokenThrottle
        from rest_framework.request import Request
        request = Request(APIRequestFactory().get("/", REMOTE_ADDR="192.0.2.77"))
        for _ in range({_limit()}):
            FailedTokenThrottle().record_failure(request)
        print("recorded")
        """
    )
    from tests.processes import child_env

    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=child_env(), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "recorded" in result.stdout, result.stderr
    response = Client(REMOTE_ADDR="192.0.2.77").get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer ipk_x_y")
    assert response.status_code == 429


# --- production mode ----------------------------------------------------------------------------


def _production(code: str, tmp_path, **extra) -> subprocess.CompletedProcess:
    from cryptography.fernet import Fernet

    # (The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never has it.)
    unset = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update({
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "platform.example",
        "SQLITE_PATH": str(tmp_path / "prod.sqlite3"),
        "VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "",
        **extra,
    })
    script = (
        "import os, django; os.environ['DJANGO_SETTINGS_MODULE']='integrations_platform.settings'; django.setup()\n"
        + textwrap.dedent(code)
    )
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_redis_outage_fails_no_request_because_of_the_throttles(org, settings):
    """The throttle counts live in Redis; Redis away, logins and API keys still work (the counts
    start again), and nothing answers 500."""
    person = make_user(org)
    _, good = api_key_create(user=person, name="k")
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:9/0",
                    "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}
    }
    client = Client(REMOTE_ADDR="192.0.2.80")
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {good}").status_code == 200
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer ipk_000000000000_bad").status_code == 401
    assert client.post("/accounts/login/", {"username": person.username, "password": "wrong"}).status_code == 200
    assert client.post("/accounts/login/", {"username": person.username, "password": PASSWORD}).status_code == 302


def test_production_sends_hsts_csp_and_redirects_plain_http(tmp_path):
    result = _production(
        """
        from django.test import Client
        from django.test.utils import setup_test_environment
        setup_test_environment()
        from django.conf import settings
        settings.ALLOWED_HOSTS = ["platform.example"]
        client = Client(HTTP_HOST="platform.example")
        plain = client.get("/api/v1/schema/")
        print("plain", plain.status_code, plain.get("Location"))
        secure = client.get("/api/v1/schema/", secure=True)
        print("hsts", secure.get("Strict-Transport-Security"))
        page = client.get("/accounts/login/", secure=True)
        print("csp", page.get("Content-Security-Policy"))
        print("nosniff", page.get("X-Content-Type-Options"), "frame", page.get("X-Frame-Options"))
        print("cookie-secure", settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    status, location = lines["plain"].split(" ", 1)
    assert status == "301" and location == "https://platform.example/api/v1/schema/"
    assert "max-age=31536000" in lines["hsts"] and "includeSubDomains" in lines["hsts"]
    csp = lines["csp"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
    assert "unsafe-eval" not in csp
    assert lines["nosniff"] == "nosniff frame DENY"
    assert lines["cookie-secure"] == "True True"


def test_production_passes_djangos_deployment_checks(tmp_path):
    result = _production(
        """
        from django.core.management import call_command
        call_command("check", "--deploy", "--fail-level", "WARNING")
        print("deploy checks passed")
        """,
        tmp_path,
    )
    assert result.returncode == 0 and "deploy checks passed" in result.stdout, result.stderr + result.stdout


def test_every_mode_sends_a_content_security_policy(client, org):
    """Scripts only from this server: no page of the platform carries an inline script without the
    request's nonce (the policy would stop it in the browser)."""
    import re

    person = make_user(org, is_designer=True, is_platform_admin=True)
    client.force_login(person)
    for url in ("/accounts/login/", "/tools/", "/connections/", "/history/", "/confirmations/", "/admin/",
                "/admin/connections/connection/add/", "/api/v1/docs/", "/api/v1/redoc/"):
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, url
        for tag in re.findall(r"<script\b[^>]*>", response.content.decode()):
            inline = "src=" not in tag and 'type="application/json"' not in tag
            assert not inline or "nonce=" in tag, (url, tag)
