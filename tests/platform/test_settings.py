"""Settings come from the environment; production refuses to start without its secrets."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run_settings(env_extra: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DJANGO_ENV"}}
    env.update({"VAR_DIR": str(tmp_path / "var"), **env_extra})
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','integrations_platform.settings');"
        "django.setup(); from django.conf import settings;"
        "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL.split(':')[0],"
        " len(settings.FIELD_ENCRYPTION_KEY))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_production_refuses_to_start_without_secrets(tmp_path):
    result = _run_settings({"DJANGO_ENV": "production", "DATABASE_URL": "postgres://x@127.0.0.1/x"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "FIELD_ENCRYPTION_KEY" in result.stderr
    assert not (tmp_path / "var" / "dev-secrets.json").exists()


def test_production_starts_with_secrets_from_the_environment(tmp_path):
    from cryptography.fernet import Fernet

    keys = f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"
    result = _run_settings(
        {
            "DJANGO_ENV": "production",
            "SECRET_KEY": "x" * 50,
            "FIELD_ENCRYPTION_KEY": keys,
            "ALLOWED_HOSTS": "a.example",
        },
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "2"
    assert not (tmp_path / "var" / "dev-secrets.json").exists()


def test_development_defaults_are_sqlite_and_the_embedded_redis(tmp_path):
    env = {"DJANGO_ENV": "development"}
    result = _run_settings({**env, "DATABASE_URL": "", "REDIS_URL": ""}, tmp_path)
    assert result.returncode == 0, result.stderr
    engine, broker, nkeys = result.stdout.split()
    assert engine == "django.db.backends.sqlite3" and broker == "redis+socket" and nkeys == "1"
    secrets_file = tmp_path / "var" / "dev-secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    first = json.loads(secrets_file.read_text())
    # Generated once: a second start reads the same values.
    assert _run_settings({**env, "DATABASE_URL": "", "REDIS_URL": ""}, tmp_path).returncode == 0
    assert json.loads(secrets_file.read_text()) == first


def test_database_and_redis_urls_switch_to_the_real_services(tmp_path):
    result = _run_settings(
        {
            "DJANGO_ENV": "development",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
        },
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    engine, broker, _ = result.stdout.split()
    assert engine == "django.db.backends.postgresql" and broker == "redis"


def test_request_size_limit_sits_above_the_schema_limit(settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE > settings.OPENAPI_MAX_SCHEMA_BYTES
