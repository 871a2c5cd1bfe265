"""Connector services: create, import a new version, update, delete; and what they refuse."""

from __future__ import annotations

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from accesscontrol import policy
from accesscontrol.selectors import connector_list_visible_to
from audit.models import AuditEntry
from connections.models import Connection
from connectors.models import AuthSchemeConfig, Connector, ConnectorVersion, Operation
from connectors.selectors import operation_list, operation_tag_summary
from connectors.services import (
    connector_create_from_openapi,
    connector_delete,
    connector_import_schema,
    connector_update,
)
from integrations_platform.errors import ApplicationError
from tests.connectors.conftest import HOSTILE_IDS, as_text, big_spec, hostile, petstore, petstore_v2

pytestmark = pytest.mark.django_db


def counts():
    return (
        Connector.objects.count(),
        ConnectorVersion.objects.count(),
        Operation.objects.count(),
        AuthSchemeConfig.objects.count(),
    )


def create(org, user, **kwargs):
    values = {
        "organisation": org,
        "name": "Pets",
        "description": "",
        "base_url": "https://pets.example.com",
        "schema_text": as_text(petstore()),
        "acknowledged": True,
        "created_by": user,
    }
    values.update(kwargs)
    return connector_create_from_openapi(**values)


# --- Create ------------------------------------------------------------------------------------


def test_create_stores_version_operations_auth_schemes_acknowledgement_and_audit(org, platform_admin):
    connector, version = create(org, platform_admin, description="All the pets.")
    assert connector.current_version == version
    assert version.number == 1
    assert version.operation_count == 4
    assert sorted(version.added) == ["DELETE /pets/{petId}", "GET /pets", "GET /pets/{petId}", "POST /pets"]
    ops = {o.name: o for o in connector.operations.all()}
    assert set(ops) == {"listPets", "createPet", "showPetById", "deletePet"}
    assert ops["deletePet"].tag == "admin"
    assert ops["listPets"].method == "GET"
    assert ops["listPets"].first_version == version
    assert "petId" in ops["showPetById"].input_schema["properties"]
    schemes = list(connector.auth_schemes.order_by("position"))
    assert [(s.scheme_name, s.kind) for s in schemes] == [("api_key", "api_key"), ("bearer", "http_bearer")]
    assert connector.acknowledged_by == platform_admin and connector.acknowledged_at is not None
    assert connector.integration_type_id == "custom_openapi"
    assert AuditEntry.objects.filter(action="connector.create", object_id=str(connector.pk)).exists()


def test_create_takes_the_base_url_from_the_schema_when_none_is_given(org, platform_admin):
    connector, _ = create(org, platform_admin, base_url="")
    assert connector.base_url == "https://pets.example.com/v1"


def test_create_without_base_url_and_without_absolute_server_is_refused(org, platform_admin):
    document = petstore()
    document["servers"] = [{"url": "/relative"}]
    with pytest.raises(ApplicationError) as err:
        create(org, platform_admin, base_url="", schema_text=as_text(document))
    assert "base_url" in err.value.field_errors
    assert counts() == (0, 0, 0, 0)


def test_a_yaml_schema_is_imported(org, platform_admin):
    text = """
openapi: 3.0.3
info: {title: Y, version: "1"}
paths:
  /a:
    get:
      operationId: getA
      responses: {"200": {description: ok}}
"""
    connector, version = create(org, platform_admin, schema_text=text)
    assert version.source_format == "yaml"
    assert connector.operations.get().name == "getA"


@pytest.mark.parametrize("name", HOSTILE_IDS)
def test_hostile_schemas_are_refused_with_a_clear_error_and_nothing_saved(org, platform_admin, name):
    before = counts()
    with pytest.raises(ApplicationError) as err:
        create(org, platform_admin, schema_text=hostile(name))
    assert list(err.value.field_errors) == ["openapi_schema"]
    message = err.value.field_errors["openapi_schema"][0]
    assert message and "Traceback" not in message and len(message) < 2000
    assert counts() == before
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("base_url", "javascript:alert(1)"),
        ("base_url", "ftp://files.example.com"),
        ("base_url", "https://"),
        ("base_url", "not a url"),
        ("base_url", "https://example.com/" + "a" * 2100),
        ("base_url", 42),
        ("documentation_url", "javascript:alert(1)"),
        ("icon_url", "data:image/png;base64,AAAA"),
        ("name", ""),
        ("name", "   "),
        ("name", "n" * 201),
        ("name", None),
        ("name", ["a"]),
        ("description", "d" * 10_001),
        ("description", "nul\x00byte"),
        ("variables", "tenant=acme"),
        ("variables", [{"name": "1bad", "value": "x"}]),
        ("variables", [{"name": "a", "value": "x"}, {"name": "a", "value": "y"}]),
        ("variables", [{"name": "a", "value": 3}]),
        ("variables", [{"name": "a", "value": "x", "secret": "y"}]),
        ("acknowledged", False),
        ("acknowledged", "yes"),
        ("organisation", None),
    ],
)
def test_bad_connector_fields_are_refused_naming_the_field(org, platform_admin, field, value):
    with pytest.raises(ApplicationError) as err:
        create(org, platform_admin, **{field: value})
    assert any(key.split(".")[0] == field for key in err.value.field_errors), err.value.field_errors
    assert counts() == (0, 0, 0, 0)


def test_duplicate_name_is_refused_case_insensitively(org, platform_admin):
    create(org, platform_admin, name="Pets")
    before = counts()
    with pytest.raises(ApplicationError) as err:
        create(org, platform_admin, name="pets")
    assert "name" in err.value.field_errors
    assert counts() == before


def test_the_same_name_in_another_organisation_is_fine(org, other_org, platform_admin):
    create(org, platform_admin, name="Pets")
    create(other_org, platform_admin, name="Pets")
    assert Connector.objects.count() == 2


def test_base_url_may_hold_variable_placeholders(org, platform_admin):
    connector, _ = create(
        org,
        platform_admin,
        base_url="https://{tenant}.example.com/api",
        variables=[{"name": "tenant", "value": "acme"}],
    )
    assert connector.base_url == "https://{tenant}.example.com/api"


def test_many_methods_are_stored_in_a_few_queries(org, platform_admin):
    text = as_text(big_spec(900))
    with CaptureQueriesContext(db_connection) as queries:
        connector, _ = create(org, platform_admin, schema_text=text)
    assert connector.operations.count() == 900
    assert len(queries) < 30, len(queries)


# --- Import a new version ----------------------------------------------------------------------


def test_reimport_keeps_matched_operations_and_reports_the_differences(connector, platform_admin):
    before = {(o.method, o.path): o.pk for o in connector.operations.all()}
    updated_at = connector.updated_at
    version = connector_import_schema(
        connector=connector, schema_text=as_text(petstore_v2()), imported_by=platform_admin
    )
    connector.refresh_from_db()
    assert version.number == 2 and connector.current_version == version
    assert version.added == ["PUT /pets/{petId}"]
    assert version.removed == ["DELETE /pets/{petId}"]
    assert version.changed == ["GET /pets/{petId}"]
    after = {(o.method, o.path): o for o in connector.operations.all()}
    assert ("DELETE", "/pets/{petId}") not in after
    for key in [("GET", "/pets"), ("POST", "/pets"), ("GET", "/pets/{petId}")]:
        assert after[key].pk == before[key]
    assert after[("GET", "/pets/{petId}")].summary == "Show one pet, in detail"
    assert after[("GET", "/pets/{petId}")].updated_in_version == version
    assert after[("GET", "/pets")].updated_in_version.number == 1
    assert after[("PUT", "/pets/{petId}")].first_version == version
    assert [s.scheme_name for s in connector.auth_schemes.order_by("position")] == ["api_key", "bearer", "oauth"]
    assert connector.updated_at > updated_at
    assert AuditEntry.objects.filter(action="connector.import_schema").count() == 1


def test_reimport_swapping_names_keeps_them_unique(connector, platform_admin):
    document = petstore()
    paths = document["paths"]
    paths["/pets"]["get"]["operationId"], paths["/pets"]["post"]["operationId"] = "createPet", "listPets"
    version = connector_import_schema(connector=connector, schema_text=as_text(document), imported_by=platform_admin)
    assert sorted(version.changed) == ["GET /pets", "POST /pets"]
    names = dict(connector.operations.values_list("method", "name").filter(path="/pets"))
    assert names == {"GET": "createPet", "POST": "listPets"}


@pytest.mark.parametrize("name", HOSTILE_IDS)
def test_a_hostile_reimport_changes_nothing(connector, platform_admin, name):
    before = counts()
    with pytest.raises(ApplicationError):
        connector_import_schema(connector=connector, schema_text=hostile(name), imported_by=platform_admin)
    assert counts() == before
    connector.refresh_from_db()
    assert connector.current_version.number == 1


# --- Update ------------------------------------------------------------------------------------


def test_update_changes_only_the_given_fields_and_records_them(connector, platform_admin):
    connector_update(connector=connector, actor=platform_admin, description="New", enabled=False)
    connector.refresh_from_db()
    assert connector.description == "New" and connector.enabled is False and connector.name == "Pet store"
    entry = AuditEntry.objects.get(action="connector.update")
    assert entry.changes["description"] == {"before": "Pets.", "after": "New"}


@pytest.mark.parametrize(
    "field", ["id", "organisation", "protocol_type", "versions", "created_at", "updated_at", "current_version"]
)
def test_update_refuses_immutable_fields_by_name(connector, platform_admin, field):
    with pytest.raises(ApplicationError) as err:
        connector_update(connector=connector, actor=platform_admin, **{field: 1})
    assert list(err.value.field_errors) == [field]


def test_update_refuses_unknown_fields(connector, platform_admin):
    with pytest.raises(ApplicationError) as err:
        connector_update(connector=connector, actor=platform_admin, colour="red")
    assert "colour" in err.value.field_errors


def test_reorder_auth_schemes(connector, platform_admin):
    ids = list(connector.auth_schemes.order_by("position").values_list("pk", flat=True))
    updated_at = connector.updated_at
    connector_update(connector=connector, actor=platform_admin, auth_scheme_config_ids=ids[::-1])
    assert list(connector.auth_schemes.order_by("position").values_list("pk", flat=True)) == ids[::-1]
    connector.refresh_from_db()
    assert connector.updated_at > updated_at


@pytest.mark.parametrize("mangle", ["missing", "extra", "duplicate", "foreign", "not_a_list", "strings"])
def test_reorder_must_name_exactly_the_connectors_schemes(connector, other_connector, platform_admin, mangle):
    ids = list(connector.auth_schemes.values_list("pk", flat=True))
    foreign = other_connector.auth_schemes.first().pk
    value = {
        "missing": ids[:1],
        "extra": [*ids, 999_999],
        "duplicate": [ids[0], ids[0], *ids[1:]],
        "foreign": [ids[0], foreign],
        "not_a_list": ids[0],
        "strings": [str(i) for i in ids],
    }[mangle]
    positions = list(AuthSchemeConfig.objects.order_by("pk").values_list("position", flat=True))
    with pytest.raises(ApplicationError) as err:
        connector_update(connector=connector, actor=platform_admin, auth_scheme_config_ids=value)
    assert "auth_scheme_config_ids" in err.value.field_errors
    assert list(AuthSchemeConfig.objects.order_by("pk").values_list("position", flat=True)) == positions


def test_new_variables_replace_the_list_and_overwrite_every_connection(connector, platform_admin, org):
    first = Connection.objects.create(
        connector=connector,
        organisation=org,
        name="a",
        created_by=platform_admin,
        variables=[{"name": "x", "value": "1"}],
    )
    second = Connection.objects.create(connector=connector, organisation=org, name="b", created_by=platform_admin)
    new = [{"name": "tenant", "value": "acme"}]
    updated_at = connector.updated_at
    connector_update(connector=connector, actor=platform_admin, variables=new)
    connector.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert connector.variables == new and first.variables == new and second.variables == new
    assert connector.updated_at > updated_at


def test_a_bad_update_changes_nothing(connector, platform_admin):
    with pytest.raises(ApplicationError):
        connector_update(connector=connector, actor=platform_admin, description="fine", base_url="javascript:alert(1)")
    connector.refresh_from_db()
    assert connector.description == "Pets."


def test_rename_to_a_taken_name_is_refused(connector, org, platform_admin):
    create(org, platform_admin, name="Second")
    with pytest.raises(ApplicationError) as err:
        connector_update(connector=connector, actor=platform_admin, name="second")
    assert "name" in err.value.field_errors


def test_delete_removes_everything_and_records_it(connector, platform_admin):
    connector_delete(connector=connector, actor=platform_admin)
    assert counts() == (0, 0, 0, 0)
    assert AuditEntry.objects.filter(action="connector.delete").exists()


# --- Selectors ---------------------------------------------------------------------------------


def test_users_see_only_their_organisations_connectors(connector, other_connector, member, platform_admin, outsider):
    assert list(connector_list_visible_to(user=member)) == [connector]
    assert list(connector_list_visible_to(user=platform_admin)) == [connector]
    assert list(connector_list_visible_to(user=outsider)) == [other_connector]
    # In the admin too, a platform administrator manages their own organisation's connectors only.
    assert list(policy.admin_scope(platform_admin, Connector.objects.all())) == [connector]
    assert not policy.admin_scope(member, Connector.objects.all()).exists()


def test_switched_off_connectors_are_hidden_from_members_not_admins(connector, member, platform_admin):
    connector_update(connector=connector, actor=platform_admin, enabled=False)
    assert not connector_list_visible_to(user=member).exists()
    assert connector_list_visible_to(user=platform_admin).exists()


def test_operation_list_filters(connector):
    assert operation_list(connector=connector, tag="admin").get().name == "deletePet"
    assert {o.name for o in operation_list(connector=connector, method="get")} == {"listPets", "showPetById"}
    assert operation_list(connector=connector, search="create").get().name == "createPet"
    summary = {row["tag"]: row["count"] for row in operation_tag_summary(connector=connector)}
    assert summary == {"pets": 3, "admin": 1}
