"""``manage.py import_openapi``: imports, progress and summary; refusals are one line, exit 1."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from connectors.models import Connector, ConnectorVersion, Operation
from tests.connectors.conftest import HOSTILE_IDS, as_text, big_spec, hostile, petstore, petstore_v2
from tests.processes import child_env

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def run(*args) -> str:
    out = StringIO()
    call_command("import_openapi", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def counts():
    return Connector.objects.count(), ConnectorVersion.objects.count(), Operation.objects.count()


@pytest.fixture
def schema_file(tmp_path):
    path = tmp_path / "pets.json"
    path.write_text(as_text(petstore()))
    return path


def test_import_into_the_default_organisation_with_progress_and_summary(schema_file):
    output = run(str(schema_file), "--name", "Pets", "--base-url", "https://pets.example.com")
    connector = Connector.objects.get()
    assert connector.organisation.slug == "default"
    assert connector.operations.count() == 4
    assert "Parsing" in output and "Storing 4 methods" in output
    assert "4 methods" in output and " s." in output and "warnings" in output


def test_import_into_a_named_organisation_and_a_new_version(schema_file, org, tmp_path):
    run(str(schema_file), "--name", "Pets", "--base-url", "https://pets.example.com", "--organisation", org.slug)
    second = tmp_path / "pets2.yaml"
    second.write_text(as_text(petstore_v2()))
    output = run(str(second), "--name", "Pets", "--organisation", org.slug, "--new-version")
    connector = Connector.objects.get(organisation=org)
    assert connector.current_version.number == 2
    assert "+1 -1 ~1" in output


def test_large_schema_summary(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(as_text(big_spec(1000)))
    output = run(str(path), "--name", "Big", "--base-url", "https://x.example.com")
    assert "Storing 1,000 methods" in output and "1000 methods" in output


@pytest.mark.parametrize("name", HOSTILE_IDS)
def test_bad_schemas_fail_with_one_line_and_save_nothing(tmp_path, name):
    path = tmp_path / "bad.txt"
    path.write_text(hostile(name))
    with pytest.raises(CommandError) as err:
        run(str(path), "--name", "Bad", "--base-url", "https://x.example.com")
    message = str(err.value)
    assert message and "\n" not in message and "Traceback" not in message
    assert counts() == (0, 0, 0)


def test_missing_file_duplicate_name_bad_url_and_unknown_organisation(schema_file, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run(str(tmp_path / "missing.json"), "--name", "X", "--base-url", "https://x.example.com")
    with pytest.raises(CommandError, match="Not a file"):
        run(str(tmp_path), "--name", "X", "--base-url", "https://x.example.com")
    with pytest.raises(CommandError, match="organisation"):
        run(str(schema_file), "--name", "X", "--base-url", "https://x.example.com", "--organisation", "nope")
    with pytest.raises(CommandError, match="base_url"):
        run(str(schema_file), "--name", "X", "--base-url", "javascript:alert(1)")
    run(str(schema_file), "--name", "X", "--base-url", "https://x.example.com")
    with pytest.raises(CommandError, match="already used"):
        run(str(schema_file), "--name", "X", "--base-url", "https://x.example.com")
    assert Connector.objects.count() == 1


def test_unreadable_file_and_a_directory(tmp_path):
    # /proc/self/mem is a file that even root cannot read from its start (a chmod 0 file root can).
    with pytest.raises(CommandError, match="Cannot read"):
        run("/proc/self/mem", "--name", "X", "--base-url", "https://x.example.com")
    with pytest.raises(CommandError, match="Not a file"):
        run(str(tmp_path), "--name", "X", "--base-url", "https://x.example.com")


@pytest.mark.django_db(transaction=True)
def test_the_real_command_line_exits_1_with_one_line_on_stderr(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"openapi": "3.0.3", "info": {')

    env = child_env()
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "import_openapi",
            str(path),
            "--name",
            "X",
            "--base-url",
            "https://x.example.com",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "line 1" in lines[0] and "Traceback" not in result.stderr
