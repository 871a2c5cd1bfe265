"""Key rotation: ciphertext at rest, re-encryption under the newest key, checked in fresh processes
(the encryption library reads FIELD_ENCRYPTION_KEY once, at import)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection as db

from connections import services
from tests.connections.conftest import SECRETS, credential_specs
from tests.processes import child_env

ROOT = Path(__file__).resolve().parents[2]

READ_ALL = """
import json, django
django.setup()
from connections.models import Credential
from connections.services import credential_secret_read, SecretUnreadable
out = {}
for c in Credential.objects.order_by("pk"):
    try:
        out[c.name] = credential_secret_read(c)
    except SecretUnreadable:
        out[c.name] = "UNREADABLE"
print(json.dumps(out))
"""


def _run(args, keys):
    env = child_env(FIELD_ENCRYPTION_KEY=",".join(keys))
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.django_db(transaction=True)
def test_rotation_reencrypts_under_newest_key_and_is_idempotent(org, platform_admin):
    for spec in credential_specs():
        services.credential_create(organisation=org, created_by=platform_admin, **spec)
    with db.cursor() as cursor:
        cursor.execute("SELECT secret FROM connections_credential")
        raw = [row[0] for row in cursor.fetchall()]
    assert all(value.startswith("gAAAAA") for value in raw)
    for value in SECRETS.values():
        assert not any(value in r for r in raw)

    old_keys = list(settings.FIELD_ENCRYPTION_KEY)
    new_key = Fernet.generate_key().decode()

    # With the new key alone, nothing reads yet (and the guard says so instead of using ciphertext).
    before = json.loads(_run(["-c", READ_ALL], [new_key]))
    assert set(before.values()) == {"UNREADABLE"}

    out = _run(["manage.py", "rotate_encryption_key", "--batch-size", "2"], [new_key, *old_keys])
    # secret and tokens of each credential (tokens "" is stored encrypted too).
    assert f"Re-encrypted {2 * len(credential_specs())} value(s)" in out
    again = _run(["manage.py", "rotate_encryption_key"], [new_key, *old_keys])
    assert "Re-encrypted 0 value(s)" in again

    after = json.loads(_run(["-c", READ_ALL], [new_key]))
    expected = {spec["name"]: spec["secret"] for spec in credential_specs()}
    assert after == expected
    assert after["Basic"] == {"password": SECRETS["password"]}
