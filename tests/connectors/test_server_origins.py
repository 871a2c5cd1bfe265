"""The base-URL rule at save time: templates and values that would move a call are refused where
they are saved (connector and connection, API and admin), servers are classified at import, and
administrators approve other origins on the connector."""

from __future__ import annotations

import importlib
import json

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from audit.models import AuditEntry
from connections.services import connection_create
from connectors.models import Connector, Operation
from connectors.services import connector_create_from_openapi, connector_import_schema
from integrations_platform.errors import ApplicationError
from tests.connectors.conftest import as_text, op, spec

pytestmark = pytest.mark.django_db


def detail(connector) -> str:
    return f"/api/v1/connectors/{connector.pk}/"


def upload_spec(upload_origin="https://upload.pets.example.com") -> dict:
    document = spec(
        {
            "/pets": {"get": op("listPets")},
            "/pets/{id}/photo": {
                "servers": [{"url": upload_origin + "/v1"}],
                "put": op("uploadPhoto", parameters=[{"name": "id", "in": "path", "required": True}]),
            },
            "/pets/{id}": {
                "servers": [{"url": "https://pets.example.com/v1"}],
                "get": op("getPet", parameters=[{"name": "id", "in": "path", "required": True}]),
            },
        }
    )
    return document


@pytest.mark.parametrize(
    "base_url",
    [
        "{scheme}://api.example.com",
        "https://api.example.com:{port}",
        "https://{user}@api.example.com",
        "https://api-{tenant}.example.com",
        "https://api.example.com/items?tenant={tenant}",
    ],
)
def test_a_base_url_putting_a_variable_where_it_moves_the_call_is_refused(
    api_client, platform_admin, connector, base_url
):
    before = connector.base_url
    response = api_client(platform_admin).patch(detail(connector), {"base_url": base_url}, format="json")
    assert response.status_code == 400, response.content
    assert "base_url" in response.json()["errors"] or "base_url" in json.dumps(response.json())
    connector.refresh_from_db()
    assert connector.base_url == before
    create = api_client(platform_admin).post(
        "/api/v1/connectors/",
        {"name": "New", "base_url": base_url, "openapi_schema": as_text(upload_spec()), "acknowledged": True},
        format="json",
    )
    assert create.status_code == 400 and "base_url" in json.dumps(create.json())
    assert not Connector.objects.filter(name="New").exists()


def test_default_variable_values_must_fit_where_the_base_url_puts_them(api_client, platform_admin, connector):
    response = api_client(platform_admin).patch(
        detail(connector),
        {"base_url": "https://{tenant}.pets.example.com/{prefix}",
         "connection_variables": [{"name": "tenant", "value": "a.b"}, {"name": "prefix", "value": "v1"}]},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "connection_variables.0.value" in json.dumps(response.json())
    ok = api_client(platform_admin).patch(
        detail(connector),
        {"base_url": "https://{tenant}.pets.example.com/{prefix}",
         "connection_variables": [{"name": "tenant", "value": "acme"}, {"name": "prefix", "value": "v1"}]},
        format="json",
    )
    assert ok.status_code == 200, ok.content
    # Then a connection's own value is checked against the same template.
    connector.refresh_from_db()
    with pytest.raises(ApplicationError) as info:
        connection_create(
            connector=connector, organisation=connector.organisation, name="c", created_by=platform_admin,
            variables=[{"name": "prefix", "value": ".."}],
        )
    assert "variables[0].value" in info.value.field_errors


@pytest.mark.parametrize(
    "value",
    [
        "https://upload.example.com/path",
        "https://upload.example.com?x=1",
        "https://user@upload.example.com",
        "https://{region}.example.com",
        "javascript:alert(1)",
        "upload.example.com",
        "https://upload.example.com:99999",
        "",
        7,
    ],
)
def test_approved_origins_are_origins_only(api_client, platform_admin, connector, value):
    response = api_client(platform_admin).patch(detail(connector), {"approved_origins": [value]}, format="json")
    assert response.status_code == 400, response.content
    assert "approved_origins" in json.dumps(response.json())
    connector.refresh_from_db()
    assert connector.approved_origins == []


def test_approving_an_origin_is_normalised_audited_and_limited_to_administrators(
    api_client, platform_admin, designer, outsider, connector
):
    assert api_client(designer).patch(
        detail(connector), {"approved_origins": ["https://upload.pets.example.com"]}, format="json"
    ).status_code == 403
    assert api_client(outsider).patch(
        detail(connector), {"approved_origins": ["https://upload.pets.example.com"]}, format="json"
    ).status_code == 404
    response = api_client(platform_admin).patch(
        detail(connector),
        {"approved_origins": ["HTTPS://Upload.Pets.Example.com:443/", "https://upload.pets.example.com"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["approved_origins"] == ["https://upload.pets.example.com"]
    entry = AuditEntry.objects.filter(action="connector.update").latest("at")
    assert entry.changes["approved_origins"]["after"] == ["https://upload.pets.example.com"]


def test_the_import_classifies_servers_and_lists_other_origins(api_client, platform_admin, org):
    connector, version = connector_create_from_openapi(
        organisation=org, name="Uploads", base_url="https://sandbox.example.com/v1",
        schema_text=as_text(upload_spec()), acknowledged=True, created_by=platform_admin,
    )
    servers = {o.name: o.servers for o in connector.operations.all()}
    assert servers["getPet"] == [{"url": "https://pets.example.com/v1", "document_path": "/v1"}]
    assert servers["uploadPhoto"] == [
        {"url": "https://upload.pets.example.com/v1", "origin": "https://upload.pets.example.com"}
    ]
    assert servers["listPets"] == []
    warned = [w for w in version.warnings if "another origin" in w]
    assert len(warned) == 1
    assert "https://upload.pets.example.com" in warned[0] and "PUT /pets/{id}/photo" in warned[0]
    assert "refused until an administrator approves" in warned[0]

    connector.approved_origins = ["https://upload.pets.example.com"]
    connector.save()
    response = api_client(platform_admin).post(
        f"{detail(connector)}schema/", {"openapi_schema": as_text(upload_spec())}, format="json"
    )
    assert response.status_code == 201, response.content
    warned = [w for w in response.json()["warnings"] if "another origin" in w]
    assert len(warned) == 1 and "it is approved on this connector" in warned[0]


def test_approved_origins_on_the_admin_connector_page(platform_admin, connector):
    client = Client()
    client.force_login(platform_admin)
    url = reverse("admin:connectors_connector_change", args=[connector.pk])
    page = client.get(url).content.decode()
    assert "Approved server origins" in page and 'name="approved_origins"' in page
    assert "Every method calls the API endpoint." in page
    connector_with_upload, _ = connector_create_from_openapi(
        organisation=connector.organisation, name="Uploads", base_url="https://sandbox.example.com/v1",
        schema_text=as_text(upload_spec()), acknowledged=True, created_by=platform_admin,
    )
    page = client.get(reverse("admin:connectors_connector_change", args=[connector_with_upload.pk])).content.decode()
    assert "https://upload.pets.example.com: 1 method(s), refused until listed below" in page
    data = {
        "name": connector.name,
        "description": connector.description,
        "base_url": connector.base_url,
        "documentation_url": "",
        "icon_url": "",
        "enabled": "on",
        "variables": "[]",
        "approved_origins": json.dumps(["https://upload.pets.example.com"]),
        "auth_schemes-TOTAL_FORMS": "0",
        "auth_schemes-INITIAL_FORMS": "0",
        "auth_schemes-MIN_NUM_FORMS": "0",
        "auth_schemes-MAX_NUM_FORMS": "1000",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    connector.refresh_from_db()
    assert connector.approved_origins == ["https://upload.pets.example.com"]
    data["approved_origins"] = json.dumps(["https://upload.pets.example.com/a/path"])
    response = client.post(url, data)
    assert response.status_code == 200
    assert "approved_origins" in response.context["adminform"].form.errors
    connector.refresh_from_db()
    assert connector.approved_origins == ["https://upload.pets.example.com"]


def test_the_migration_classifies_servers_stored_as_plain_urls(platform_admin, org):
    connector, _ = connector_create_from_openapi(
        organisation=org, name="Old", base_url="https://sandbox.example.com/v1",
        schema_text=as_text(upload_spec()), acknowledged=True, created_by=platform_admin,
    )
    Operation.objects.filter(connector=connector, name="getPet").update(servers=["https://pets.example.com/v1"])
    Operation.objects.filter(connector=connector, name="uploadPhoto").update(
        servers=["https://upload.pets.example.com/v1"]
    )
    migration = importlib.import_module("connectors.migrations.0004_connector_approved_origins")
    migration.classify_servers(apps, None)
    servers = {o.name: o.servers for o in connector.operations.all()}
    assert servers["getPet"] == [{"url": "https://pets.example.com/v1", "document_path": "/v1"}]
    assert servers["uploadPhoto"][0]["origin"] == "https://upload.pets.example.com"


def test_a_reimport_keeps_operations_and_their_classified_servers(platform_admin, org):
    connector, _ = connector_create_from_openapi(
        organisation=org, name="Again", base_url="https://sandbox.example.com",
        schema_text=as_text(upload_spec()), acknowledged=True, created_by=platform_admin,
    )
    version = connector_import_schema(
        connector=connector, schema_text=as_text(upload_spec()), imported_by=platform_admin
    )
    assert (version.added, version.removed, version.changed) == ([], [], [])
