"""Connectors own their whole creation: pasted schema, catalog and re-import store a version through
one function; the domain layer imports neither connections nor accesscontrol; the layer above keeps
method rights in step; one size limit, checked in one place."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accesscontrol.models import MethodRight
from accesscontrol.services import connector_catalog_create, connector_schema_import
from audit.models import AuditEntry
from connections.services import connection_create
from connectors import services
from connectors.models import Connector
from integrations_platform.errors import ApplicationError
from tests.conftest import api_client_for

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = [
    "connectors/models.py", "connectors/services.py", "connectors/selectors.py", "connectors/fields.py",
    "connectors/catalog/__init__.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "connectors/openapi").glob("*.py")),
]


@pytest.mark.parametrize("path", DOMAIN)
def test_the_domain_layer_of_connectors_imports_neither_connections_nor_accesscontrol(path):
    tree = ast.parse((ROOT / path).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert not {name for name in imported if name.split(".")[0] in {"connections", "accesscontrol"}}


def schema(paths: dict) -> str:
    return json.dumps({"openapi": "3.0.3", "info": {"title": "T", "version": "1"}, "paths": paths})


GET = {"responses": {"200": {"description": "ok"}}}


@pytest.mark.django_db
def test_a_catalog_connector_is_made_whole_with_one_audit_entry(org, platform_admin):
    connector = connector_catalog_create(actor=platform_admin, organisation=org, catalog="slack", name="Slack",
                                         settings={})
    assert connector.integration_type_id == "slack" and connector.current_version.number == 1
    entries = AuditEntry.objects.filter(object_id=str(connector.pk))
    assert list(entries.values_list("action", flat=True)) == ["connector.create"]
    assert entries.get().changes["catalog"] == "slack"


@pytest.mark.django_db
def test_a_catalog_service_that_is_not_installed_saves_nothing(org, platform_admin):
    from connectors.models import IntegrationType

    IntegrationType.objects.filter(pk="jira").delete()
    with pytest.raises(ApplicationError) as info:
        services.connector_create_from_catalog(
            organisation=org, catalog="jira", name="J", settings={"site_url": "https://a.atlassian.net"},
            created_by=platform_admin,
        )
    assert "not installed" in info.value.message
    assert not Connector.objects.exists()


@pytest.mark.django_db
def test_a_reimport_keeps_method_rights_in_step_through_the_access_control_service(org, platform_admin):
    connector, _ = services.connector_create_from_openapi(
        organisation=org, name="Items", base_url="https://items.example", schema_text=schema({"/a": {"get": GET}}),
        acknowledged=True, created_by=platform_admin,
    )
    connection = connection_create(connector=connector, organisation=org, name="main", created_by=platform_admin)
    assert MethodRight.objects.filter(connection=connection).count() == 1
    # The connectors service alone stores the version and says what changed; it knows no rights.
    version = services.connector_import_schema(
        connector=connector, schema_text=schema({"/a": {"get": GET}, "/b": {"get": GET}}), imported_by=platform_admin
    )
    assert version.added == ["GET /b"]
    assert MethodRight.objects.filter(connection=connection).count() == 1
    # Whoever re-imports calls the access-control service, which keeps the rights in step.
    version = connector_schema_import(
        connector=connector, schema_text=schema({"/a": {"get": GET}, "/b": {"get": GET}, "/c": {"get": GET}}),
        actor=platform_admin,
    )
    assert (version.added, version.removed) == (["GET /c"], [])
    assert MethodRight.objects.filter(connection=connection).count() == 3
    version = connector_schema_import(
        connector=connector, schema_text=schema({"/c": {"get": GET}}), actor=platform_admin
    )
    assert sorted(version.removed) == ["GET /a", "GET /b"]
    assert MethodRight.objects.filter(connection=connection).count() == 1


@pytest.mark.django_db
def test_the_api_reimport_keeps_rights_in_step_too(org, platform_admin):
    connector, _ = services.connector_create_from_openapi(
        organisation=org, name="Items", base_url="https://items.example", schema_text=schema({"/a": {"get": GET}}),
        acknowledged=True, created_by=platform_admin,
    )
    connection = connection_create(connector=connector, organisation=org, name="main", created_by=platform_admin)
    response = api_client_for(platform_admin).post(
        f"/api/v1/connectors/{connector.pk}/schema/",
        {"openapi_schema": schema({"/a": {"get": GET}, "/b": {"get": GET}})}, format="json",
    )
    assert response.status_code == 201 and response.json()["added"] == ["GET /b"]
    assert MethodRight.objects.filter(connection=connection).count() == 2


@pytest.mark.django_db
def test_one_size_limit_with_one_message_for_every_way_in(org, platform_admin, settings, tmp_path):
    settings.OPENAPI_MAX_SCHEMA_BYTES = 2000
    text = schema({"/a": {"get": {**GET, "description": "d" * 3000}}})
    expected = "The schema is larger than the 2,000 bytes accepted."
    with pytest.raises(ApplicationError) as info:
        services.schema_parse(schema_text=text)
    assert info.value.field_errors == {"openapi_schema": [expected]} and info.value.code == "schema_too_large"
    response = api_client_for(platform_admin).post(
        "/api/v1/connectors/", {"name": "Big", "openapi_schema": text, "acknowledged": True}, format="json"
    )
    assert response.status_code == 400 and response.json()["errors"] == {"openapi_schema": [expected]}
    path = tmp_path / "big.json"
    path.write_text(text)
    with pytest.raises(CommandError) as command:
        call_command("import_openapi", str(path), "--name", "Big", "--base-url", "https://big.example",
                     "--organisation", org.slug)
    assert expected in str(command.value)
    assert not Connector.objects.exists()


@pytest.mark.django_db
def test_an_api_body_above_the_servers_limit_is_a_json_413(platform_admin, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5000
    response = api_client_for(platform_admin).post(
        "/api/v1/connectors/", {"name": "Big", "openapi_schema": "x" * 6000, "acknowledged": True}, format="json"
    )
    assert response.status_code == 413
    assert response.json()["message"] == "The request body is larger than this server accepts."
