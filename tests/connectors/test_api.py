"""Connector REST API: the permission matrix, create/update/import/list, hostile input, query counts."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from connections.models import Connection
from connectors.models import AuthSchemeConfig, Connector, ConnectorVersion, Operation
from connectors.services import connector_create_from_openapi
from tests.connectors.conftest import HOSTILE_IDS, as_text, big_spec, hostile, petstore, petstore_v2

pytestmark = pytest.mark.django_db

LIST = "/api/v1/connectors/"


def detail(connector) -> str:
    return f"/api/v1/connectors/{connector.pk}/"


def counts():
    return (
        Connector.objects.count(),
        ConnectorVersion.objects.count(),
        Operation.objects.count(),
        AuthSchemeConfig.objects.count(),
    )


def body(**kwargs) -> dict:
    values = {
        "name": "Pets API",
        "description": "Pets.",
        "base_url": "https://pets.example.com",
        "openapi_schema": as_text(petstore()),
        "acknowledged": True,
    }
    values.update(kwargs)
    return values


# --- Permission matrix -------------------------------------------------------------------------


def test_list_permissions(anon_client, api_client, connector, other_connector, member, outsider):
    assert anon_client.get(LIST).status_code == 401
    response = api_client(member).get(LIST)
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [connector.pk]
    assert [c["id"] for c in api_client(outsider).get(LIST).json()["results"]] == [other_connector.pk]


def test_create_permissions(anon_client, api_client, member, designer, platform_admin):
    assert anon_client.post(LIST, body(), format="json").status_code == 401
    assert api_client(member).post(LIST, body(), format="json").status_code == 403
    assert api_client(designer).post(LIST, body(), format="json").status_code == 403
    assert Connector.objects.count() == 0
    response = api_client(platform_admin).post(LIST, body(), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["organisation"] == platform_admin.organisation_id
    assert data["current_version"]["number"] == 1
    assert [s["scheme_name"] for s in data["auth_scheme_configs"]] == ["api_key", "bearer"]
    assert data["acknowledged_by"] == platform_admin.username


@pytest.mark.parametrize(
    ("method", "suffix", "payload"),
    [
        ("get", "", None),
        ("patch", "", {"description": "x"}),
        ("delete", "", None),
        ("post", "schema/", {"openapi_schema": as_text(petstore_v2())}),
        ("get", "operations/", None),
    ],
)
def test_detail_permission_matrix(
    anon_client, api_client, connector, member, outsider, other_platform_admin, platform_admin, method, suffix, payload
):
    url = detail(connector) + suffix
    read = method == "get"

    def call(client):
        return getattr(client, method)(url, payload, format="json") if payload else getattr(client, method)(url)

    assert call(anon_client).status_code == 401
    assert call(api_client(outsider)).status_code == 404
    assert call(api_client(other_platform_admin)).status_code == 404
    assert call(api_client(member)).status_code == (200 if read else 403)
    assert counts()[0] == 1
    assert call(api_client(platform_admin)).status_code in {200, 201, 204}


def test_a_missing_connector_is_404(api_client, platform_admin):
    assert api_client(platform_admin).get("/api/v1/connectors/999999/").status_code == 404
    assert api_client(platform_admin).patch("/api/v1/connectors/999999/", {}, format="json").status_code == 404


def test_put_is_not_offered(api_client, connector, platform_admin):
    assert api_client(platform_admin).put(detail(connector), body(), format="json").status_code == 405


# --- Create: bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_IDS)
def test_hostile_schemas_are_refused_and_nothing_is_saved(api_client, platform_admin, name):
    response = api_client(platform_admin).post(LIST, body(openapi_schema=hostile(name)), format="json")
    assert response.status_code in {400, 413}, response.status_code
    data = response.json()
    assert data["message"]
    if response.status_code == 400:
        assert list(data["errors"]) == ["openapi_schema"]
        assert "Traceback" not in str(data)
    assert counts() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "n" * 201),
        ("name", 12),
        ("name", None),
        ("description", "d" * 10_001),
        ("description", ["x"]),
        ("base_url", "javascript:alert(1)"),
        ("base_url", "ftp://example.com"),
        ("base_url", "http://"),
        ("base_url", {"url": "https://example.com"}),
        ("documentation_url", "javascript:alert(1)"),
        ("icon_url", "file:///etc/passwd"),
        ("connection_variables", "x=1"),
        ("connection_variables", [{"name": "bad name", "value": "x"}]),
        ("connection_variables", [{"name": "a", "value": 1}]),
        ("acknowledged", False),
        ("acknowledged", "maybe"),
        ("openapi_schema", 12),
        ("openapi_schema", {"openapi": "3.0.3"}),
        ("openapi_schema", ""),
        ("catalog", "slack"),
        ("colour", "red"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(api_client, platform_admin, field, value):
    response = api_client(platform_admin).post(LIST, body(**{field: value}), format="json")
    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert any(key.split(".")[0] == field or (field == "catalog" and key == "openapi_schema") for key in errors), errors
    assert counts() == (0, 0, 0, 0)


def test_missing_fields_are_named(api_client, platform_admin):
    response = api_client(platform_admin).post(LIST, {}, format="json")
    assert response.status_code == 400
    assert {"name", "acknowledged"} <= set(response.json()["errors"])


def test_a_body_that_is_not_an_object_is_refused(api_client, platform_admin):
    response = api_client(platform_admin).post(LIST, ["a"], format="json")
    assert response.status_code == 400


def test_catalog_without_a_schema_is_a_clear_400(api_client, platform_admin):
    data = body(catalog="slack", settings={})
    del data["openapi_schema"]
    response = api_client(platform_admin).post(LIST, data, format="json")
    assert response.status_code == 400
    assert "catalog" in response.json()["errors"]


def test_duplicate_name_is_refused(api_client, connector, platform_admin):
    response = api_client(platform_admin).post(LIST, body(name=connector.name), format="json")
    assert response.status_code == 400
    assert "name" in response.json()["errors"]
    assert counts()[0] == 1


def test_base_url_defaults_to_the_schemas_server(api_client, platform_admin):
    data = body()
    del data["base_url"]
    response = api_client(platform_admin).post(LIST, data, format="json")
    assert response.status_code == 201
    assert response.json()["base_url"] == "https://pets.example.com/v1"


def test_a_user_without_organisation_cannot_create(api_client):
    from tests.factories import make_user

    loner = make_user(None, is_platform_admin=True)
    assert api_client(loner).post(LIST, body(), format="json").status_code == 403


# --- PATCH -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        "id",
        "organisation",
        "protocol_type",
        "versions",
        "created_at",
        "updated_at",
        "current_version",
        "auth_scheme_configs",
        "integration_type",
    ],
)
def test_patch_refuses_immutable_fields_naming_them(api_client, connector, platform_admin, field):
    response = api_client(platform_admin).patch(detail(connector), {field: 1, "description": "x"}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    connector.refresh_from_db()
    assert connector.description == "Pets."


def test_patch_unknown_field(api_client, connector, platform_admin):
    response = api_client(platform_admin).patch(detail(connector), {"colour": "red"}, format="json")
    assert response.status_code == 400
    assert "colour" in response.json()["errors"]


def test_patch_updates_fields_reorders_schemes_and_replaces_variables(api_client, connector, platform_admin, org):
    connection = Connection.objects.create(connector=connector, organisation=org, name="c", created_by=platform_admin)
    ids = list(connector.auth_schemes.order_by("position").values_list("pk", flat=True))
    before = api_client(platform_admin).get(detail(connector)).json()["updated_at"]
    variables = [{"name": "tenant", "value": "acme"}]
    response = api_client(platform_admin).patch(
        detail(connector),
        {"name": "Renamed", "auth_scheme_config_ids": ids[::-1], "connection_variables": variables},
        format="json",
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["name"] == "Renamed"
    assert [s["id"] for s in data["auth_scheme_configs"]] == ids[::-1]
    assert data["connection_variables"] == variables
    assert data["updated_at"] > before
    connection.refresh_from_db()
    assert connection.variables == variables


@pytest.mark.parametrize(
    "payload",
    [
        {"base_url": "javascript:alert(1)"},
        {"name": ""},
        {"name": "x" * 201},
        {"enabled": "yes"},
        {"auth_scheme_config_ids": [1]},
        {"auth_scheme_config_ids": "1,2"},
        {"connection_variables": [{"name": "", "value": ""}]},
        {"connection_variables": {"a": "b"}},
    ],
)
def test_bad_patches_are_refused_and_change_nothing(api_client, connector, platform_admin, payload):
    response = api_client(platform_admin).patch(detail(connector), payload, format="json")
    assert response.status_code == 400
    field = next(iter(payload))
    assert any(key.split(".")[0] == field for key in response.json()["errors"])
    connector.refresh_from_db()
    assert connector.name == "Pet store" and connector.base_url == "https://pets.example.com/v1"


def test_delete(api_client, connector, platform_admin):
    assert api_client(platform_admin).delete(detail(connector)).status_code == 204
    assert counts() == (0, 0, 0, 0)


# --- Schema import -----------------------------------------------------------------------------


def test_schema_import_answers_the_differences(api_client, connector, platform_admin):
    response = api_client(platform_admin).post(
        detail(connector) + "schema/", {"openapi_schema": as_text(petstore_v2())}, format="json"
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["version"]["number"] == 2
    assert data["added"] == ["PUT /pets/{petId}"]
    assert data["removed"] == ["DELETE /pets/{petId}"]
    assert data["changed"] == ["GET /pets/{petId}"]
    assert isinstance(data["warnings"], list)


@pytest.mark.parametrize("name", HOSTILE_IDS)
def test_hostile_schema_imports_change_nothing(api_client, connector, platform_admin, name):
    before = counts()
    response = api_client(platform_admin).post(
        detail(connector) + "schema/", {"openapi_schema": hostile(name)}, format="json"
    )
    assert response.status_code in {400, 413}
    assert counts() == before


def test_schema_import_needs_the_schema(api_client, connector, platform_admin):
    response = api_client(platform_admin).post(detail(connector) + "schema/", {}, format="json")
    assert response.status_code == 400
    assert "openapi_schema" in response.json()["errors"]


# --- Operations --------------------------------------------------------------------------------


def test_operations_are_paginated_and_filtered(api_client, connector, member):
    client = api_client(member)
    data = client.get(detail(connector) + "operations/").json()
    assert data["count"] == 4
    assert {"name", "method", "path", "input_schema", "first_version"} <= set(data["results"][0])
    assert data["results"][0]["first_version"] == 1
    assert client.get(detail(connector) + "operations/?tag=admin").json()["count"] == 1
    assert client.get(detail(connector) + "operations/?method=get").json()["count"] == 2
    assert client.get(detail(connector) + "operations/?search=pet&method=POST").json()["count"] == 1
    bad = client.get(detail(connector) + "operations/?method=BREW")
    assert bad.status_code == 400 and "method" in bad.json()["errors"]


# --- Query counts ------------------------------------------------------------------------------


def _make(org, user, n, ops):
    for i in range(n):
        connector_create_from_openapi(
            organisation=org,
            name=f"C{i}",
            base_url="https://x.example.com",
            schema_text=as_text(big_spec(ops)),
            acknowledged=True,
            created_by=user,
        )


def test_list_query_count_does_not_grow_with_connectors(api_client, org, platform_admin, django_assert_max_num_queries):
    client = api_client(platform_admin)
    _make(org, platform_admin, 2, 3)
    client.get(LIST)
    with django_assert_max_num_queries(8) as few:
        assert client.get(LIST).status_code == 200
    _make(org, platform_admin, 0, 0)
    for i in range(2, 12):
        connector_create_from_openapi(
            organisation=org,
            name=f"C{i}",
            base_url="https://x.example.com",
            schema_text=as_text(big_spec(3)),
            acknowledged=True,
            created_by=platform_admin,
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(LIST).json()["count"] == 12


def test_operations_query_count_does_not_grow_with_methods(
    api_client, org, platform_admin, django_assert_max_num_queries
):
    connector, _ = connector_create_from_openapi(
        organisation=org,
        name="Big",
        base_url="https://x.example.com",
        schema_text=as_text(big_spec(1200)),
        acknowledged=True,
        created_by=platform_admin,
    )
    client = api_client(platform_admin)
    with django_assert_max_num_queries(8):
        data = client.get(detail(connector) + "operations/?limit=500").json()
    assert data["count"] == 1200 and len(data["results"]) == 500


# --- The platform's own schema and docs --------------------------------------------------------


def test_the_api_schema_is_public_and_valid(anon_client):
    response = anon_client.get("/api/v1/schema/")
    assert response.status_code == 200
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_the_docs_page_is_public_and_loads_only_local_assets(anon_client):
    for url in ("/api/v1/docs/", "/api/v1/redoc/"):
        response = anon_client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        sources = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', html)
        assert sources
        assert all(not s.startswith(("http://", "https://", "//")) for s in sources), sources
        assert "cdn.jsdelivr" not in html and "fonts.googleapis" not in html


def test_every_field_of_the_connector_api_is_described(anon_client):
    import yaml

    document = yaml.safe_load(anon_client.get("/api/v1/schema/").content)
    names = ["Connector", "ConnectorCreateRequest", "PatchedConnectorUpdateRequest", "Operation", "ConnectorVersion"]
    for name in names:
        schema = document["components"]["schemas"][name]
        undescribed = [p for p, v in schema["properties"].items() if "description" not in v and "allOf" not in v]
        assert not undescribed, (name, undescribed)
