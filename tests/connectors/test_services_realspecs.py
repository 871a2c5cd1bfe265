"""Real public specifications stored as connectors: every method, auth schemes, stable re-import."""

import importlib.util
import shutil
from pathlib import Path

import pytest

from connectors.services import connector_create_from_openapi, connector_import_schema

pytestmark = [pytest.mark.realspecs, pytest.mark.django_db]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def specs():
    spec = importlib.util.spec_from_file_location("fetch_specs", ROOT / "bench" / "fetch_specs.py")
    fetch_specs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fetch_specs)
    if fetch_specs.missing() and shutil.which("npm") is None:
        pytest.skip("real specifications are not in var/specs/ and npm is not available to fetch them")
    return fetch_specs.fetch()


@pytest.mark.parametrize(
    "name",
    [
        "github.json",
        "stripe.json",
        "codat-accounting.json",
        "petstore-2.0.json",
        "petstore-2.0.yaml",
        "train-travel-3.1.yaml",
    ],
)
def test_real_specification_stored_and_reimported_without_changes(specs, org, platform_admin, name):
    text = (specs / name).read_bytes()
    connector, version = connector_create_from_openapi(
        organisation=org,
        name=name,
        base_url="https://api.example.com",
        schema_text=text,
        acknowledged=True,
        created_by=platform_admin,
    )
    assert connector.operations.count() == version.operation_count > 0
    assert len(version.added) == version.operation_count
    names = list(connector.operations.values_list("name", flat=True))
    assert len(set(names)) == len(names)
    ids = set(connector.operations.values_list("pk", flat=True))

    again = connector_import_schema(connector=connector, schema_text=text, imported_by=platform_admin)
    assert (again.added, again.removed, again.changed) == ([], [], [])
    assert set(connector.operations.values_list("pk", flat=True)) == ids
    assert connector.auth_schemes.count() == len({s.scheme_name for s in connector.auth_schemes.all()})
