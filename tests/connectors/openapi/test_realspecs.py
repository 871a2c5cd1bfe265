"""Real public specifications of different shapes, fetched once by bench/fetch_specs.py into var/specs/."""

import importlib.util
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml

from connectors.openapi import parse_schema

pytestmark = pytest.mark.realspecs

ROOT = Path(__file__).resolve().parents[3]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="session")
def specs():
    spec = importlib.util.spec_from_file_location("fetch_specs", ROOT / "bench" / "fetch_specs.py")
    fetch_specs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fetch_specs)
    if fetch_specs.missing() and shutil.which("npm") is None:
        pytest.skip("real specifications are not in var/specs/ and npm is not available to fetch them")
    return fetch_specs.fetch()


def count_methods(raw: dict) -> int:
    """Counted straight from the file, without the importer."""
    return sum(
        1 for path, item in raw["paths"].items() if not path.startswith("x-") for method in item if method in METHODS
    )


@pytest.mark.parametrize(
    ("name", "version", "source_format", "methods"),
    [
        ("github.json", "3.0.3", "json", 845),  # 3.0, thousands of $refs, 5.7 MB
        ("stripe.json", "3.0.0", "json", None),  # form bodies, basic + bearer
        ("codat-accounting.json", "3.1.0", "json", None),  # 3.1
        ("petstore-2.0.json", "2.0", "json", 20),  # Swagger 2.0: body, form and file parameters
        ("petstore-2.0.yaml", "2.0", "yaml", 20),
        ("train-travel-3.1.yaml", "3.1.0", "yaml", None),  # 3.1 YAML, OAuth2
    ],
)
def test_real_specification(specs, name, version, source_format, methods):
    path = specs / name
    text = path.read_bytes()
    raw = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    expected = count_methods(raw)
    if methods is not None:
        assert expected == methods
    result = parse_schema(text)
    assert result.openapi_version == version
    assert result.source_format == source_format
    assert len(result.operations) == expected
    assert {(o.method, o.path) for o in result.operations} == {
        (method.upper(), p) for p, item in raw["paths"].items() for method in item if method in METHODS
    }
    names = [o.name for o in result.operations]
    assert len(set(names)) == len(names)
    for operation in result.operations:
        jsonschema.Draft202012Validator.check_schema(operation.input_schema)
        json.dumps(operation.input_schema)
    json.dumps(result.document)


def test_github_input_schemas(specs):
    result = parse_schema((specs / "github.json").read_bytes())
    by_name = {o.name: o for o in result.operations}
    create = by_name["repos_create-for-authenticated-user"]
    assert create.method == "POST"
    assert create.request_body["content_type"] == "application/json"
    assert "name" in create.input_schema["properties"]["body"]["properties"]
    get_content = by_name["repos_get-content"]
    assert [p["name"] for p in get_content.parameters] == ["owner", "repo", "path", "ref"]
    assert get_content.input_schema["required"] == ["owner", "repo", "path"]
    assert result.servers == ["https://api.github.com"]
    assert not [w for w in result.warnings if "does not follow" in w]


def test_stripe_form_bodies_and_security(specs):
    result = parse_schema((specs / "stripe.json").read_bytes())
    assert {s["kind"] for s in result.security_schemes} == {"http_basic", "http_bearer"}
    posts = [o for o in result.operations if o.method == "POST" and o.request_body]
    assert posts
    assert {o.request_body["content_type"] for o in posts} >= {"application/x-www-form-urlencoded"}
    assert all(o.security for o in result.operations)


def test_petstore_swagger_form_and_file(specs):
    result = parse_schema((specs / "petstore-2.0.json").read_bytes())
    by_name = {o.name: o for o in result.operations}
    assert by_name["updatePetWithForm"].request_body["content_type"] == "application/x-www-form-urlencoded"
    upload = by_name["uploadFile"]
    assert upload.request_body["content_type"] == "multipart/form-data"
    assert upload.input_schema["properties"]["body"]["properties"]["file"] == {
        "type": "string",
        "format": "binary",
        "description": "file to upload",
    }
    assert {s["kind"] for s in result.security_schemes} == {"api_key"}  # petstore_auth is an implicit flow
    assert any("'implicit' is not supported" in w for w in result.warnings)
    raw = json.loads((specs / "petstore-2.0.json").read_text())
    assert result.servers == [f"{scheme}://petstore.swagger.io/v2" for scheme in raw["schemes"]]
