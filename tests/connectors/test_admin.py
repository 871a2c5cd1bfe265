"""Connector admin: the OpenAPI add form, the connector page, schema re-import, the method list."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from connections.models import Connection
from connectors.models import AuthSchemeConfig, Connector, ConnectorVersion, Operation
from connectors.services import ACKNOWLEDGEMENT_TEXT, connector_create_from_openapi
from tests.connectors.conftest import HOSTILE_IDS, as_text, big_spec, hostile, petstore, petstore_v2
from tests.factories import make_user

pytestmark = pytest.mark.django_db

ADD = "/admin/connectors/connector/add/"


def counts():
    return (
        Connector.objects.count(),
        ConnectorVersion.objects.count(),
        Operation.objects.count(),
        AuthSchemeConfig.objects.count(),
    )


@pytest.fixture
def admin_client_for():
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def staff(org):
    return make_user(org, is_staff=True)


def form_data(org, **kwargs):
    data = {
        "organisation": str(org.pk),
        "name": "Pets",
        "description": "Pets.",
        "base_url": "https://pets.example.com",
        "documentation_url": "",
        "openapi_schema": as_text(petstore()),
        "acknowledged": "on",
    }
    data.update(kwargs)
    return {k: v for k, v in data.items() if v is not None}


def change_url(connector) -> str:
    return reverse("admin:connectors_connector_change", args=[connector.pk])


def big_connector(org, user, n, name="Big"):
    connector, _ = connector_create_from_openapi(
        organisation=org,
        name=name,
        base_url="https://x.example.com",
        schema_text=as_text(big_spec(n, tags=25)),
        acknowledged=True,
        created_by=user,
    )
    return connector


# --- Who sees it -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/connectors/connector/",
        ADD,
        "/admin/connectors/operation/",
        "/admin/connectors/integrationtype/",
        "/admin/connectors/connectorversion/",
    ],
)
def test_only_platform_administrators_reach_the_connector_admin(admin_client_for, staff, platform_admin, url):
    assert Client().get(url).status_code == 302  # to the login page
    response = admin_client_for(staff).get(url)  # the staff flag alone opens nothing
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    expected = 403 if url == "/admin/connectors/integrationtype/" else 200  # the operator's switch
    assert admin_client_for(platform_admin).get(url).status_code == expected


def test_other_staff_cannot_post_or_open_a_connector(admin_client_for, staff, connector, org):
    client = admin_client_for(staff)
    assert client.post(ADD, form_data(org, name="Sneaky")).status_code == 302  # to the admin login
    assert client.get(change_url(connector)).status_code == 302
    import_url = reverse("admin:connectors_connector_import_schema", args=[connector.pk])
    assert client.post(import_url, {"openapi_schema": as_text(petstore_v2())}).status_code == 302
    assert Connector.objects.count() == 1
    assert connector.versions.count() == 1


def test_staff_do_not_see_the_app_on_the_index(admin_client_for, staff, platform_admin):
    assert "/admin/connectors/" not in admin_client_for(staff).get("/admin/").content.decode()
    assert "/admin/connectors/" in admin_client_for(platform_admin).get("/admin/").content.decode()


# --- Add ---------------------------------------------------------------------------------------


def test_the_add_form_has_the_seed_fields_and_acknowledgement(admin_client_for, platform_admin):
    html = admin_client_for(platform_admin).get(ADD).content.decode()
    for text in [
        "Title",
        "API endpoint",
        "OpenAPI schema",
        "upload",
        ACKNOWLEDGEMENT_TEXT,
        'enctype="multipart/form-data"',
    ]:
        assert text in html


def test_add_with_a_pasted_schema(admin_client_for, platform_admin, org):
    response = admin_client_for(platform_admin).post(ADD, form_data(org), follow=True)
    connector = Connector.objects.get()
    assert response.redirect_chain[-1][0] == change_url(connector)
    assert connector.operations.count() == 4
    assert connector.acknowledged_by == platform_admin and connector.acknowledged_at
    assert "created with 4 methods" in response.content.decode()


def test_add_with_an_uploaded_yaml_file_shows_warnings(admin_client_for, platform_admin, org):
    text = """openapi: 3.0.3
info: {title: Y, version: "1"}
paths:
  /a:
    get:
      operationId: getA
      parameters:
        - {name: q, in: query}
      responses: {"200": {description: ok}}
  /b:
    get:
      operationId: getA
      responses: {"200": {description: ok}}
"""
    upload = SimpleUploadedFile("schema.yaml", text.encode(), content_type="application/yaml")
    response = admin_client_for(platform_admin).post(
        ADD, {**form_data(org, openapi_schema=""), "schema_file": upload}, follow=True
    )
    assert response.status_code == 200
    connector = Connector.objects.get()
    version = connector.current_version
    assert version.source_format == "yaml" and version.warnings
    html = response.content.decode()
    assert "warning" in html.lower()
    assert connector.operations.count() == 2


@pytest.mark.parametrize("name", HOSTILE_IDS)
def test_hostile_schemas_get_a_form_error_next_to_the_schema_and_nothing_saved(
    admin_client_for, platform_admin, org, name
):
    response = admin_client_for(platform_admin).post(ADD, form_data(org, openapi_schema=hostile(name)))
    if name == "fifty_megabytes":
        # Above the server's own limit: the plain 413 page (see the tests below).
        assert response.status_code == 413
        assert counts() == (0, 0, 0, 0)
        return
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors.get("openapi_schema"), form.errors
    assert "Traceback" not in response.content.decode()
    assert counts() == (0, 0, 0, 0)


def test_schema_errors_say_where(admin_client_for, platform_admin, org):
    response = admin_client_for(platform_admin).post(
        ADD, form_data(org, openapi_schema='{"openapi": "3.0.3",\n  "info": [')
    )
    message = " ".join(response.context["form"].errors["openapi_schema"])
    assert "line 2" in message and "column" in message
    response = admin_client_for(platform_admin).post(ADD, form_data(org, openapi_schema=hostile("remote_ref")))
    message = " ".join(response.context["form"].errors["openapi_schema"])
    assert "/paths/" in message and "evil.example.com" in message
    assert response.content.decode().count("errorlist") >= 1


def test_a_50_mb_upload_is_answered_413_and_saves_nothing(admin_client_for, platform_admin, org):
    """Above the server's limit (DATA_UPLOAD_MAX_MEMORY_SIZE): a plain 413 page, before the body is read."""
    upload = SimpleUploadedFile("big.json", hostile("fifty_megabytes").encode(), content_type="application/json")
    response = admin_client_for(platform_admin).post(ADD, {**form_data(org, openapi_schema=""), "schema_file": upload})
    assert response.status_code == 413
    assert "larger than this server accepts" in response.content.decode()
    assert counts() == (0, 0, 0, 0)


def test_a_schema_just_over_the_limit_is_a_form_error(admin_client_for, platform_admin, org, settings):
    """Within the server's limit but above the schema's: the one size check (the parser) says so
    next to the schema field."""
    settings.OPENAPI_MAX_SCHEMA_BYTES = 1000
    response = admin_client_for(platform_admin).post(ADD, form_data(org, openapi_schema=" " * 1001 + "{}"))
    assert response.status_code == 400
    assert "1,000 bytes accepted" in str(response.context["form"].errors["openapi_schema"])
    assert counts() == (0, 0, 0, 0)


def test_an_uploaded_schema_over_the_limit_is_a_form_error_too(admin_client_for, platform_admin, org, settings):
    settings.OPENAPI_MAX_SCHEMA_BYTES = 1000
    upload = SimpleUploadedFile("big.json", b" " * 1001 + b"{}", content_type="application/json")
    response = admin_client_for(platform_admin).post(ADD, {**form_data(org, openapi_schema=""), "schema_file": upload})
    assert response.status_code == 400
    assert "1,000 bytes accepted" in str(response.context["form"].errors["openapi_schema"])


def test_a_post_above_djangos_limit_is_a_plain_413_page_with_csrf_checks_in_force(platform_admin, org, settings):
    """No check is skipped for it (the former middleware skipped CSRF for such posts): the answer
    is a plain 413 page, and a post within the limit without a CSRF token is still refused."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5000
    client = Client(enforce_csrf_checks=True)
    client.force_login(platform_admin)
    response = client.post(ADD, form_data(org, openapi_schema="x" * 6000))
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert "At most 5,000 bytes are accepted; nothing was saved." in response.content.decode()
    assert client.post(ADD, form_data(org, openapi_schema="x")).status_code == 403
    assert counts() == (0, 0, 0, 0)


def test_a_body_too_large_without_a_length_is_answered_413_too(settings):
    """A body whose size Django finds out only by reading it reaches the 400 handler as
    RequestDataTooBig, which answers 413 like the middleware."""
    from django.core.exceptions import RequestDataTooBig
    from django.test import RequestFactory

    from integrations_platform.middleware import bad_request

    response = bad_request(RequestFactory().post(ADD), RequestDataTooBig("too big"))
    assert response.status_code == 413
    assert bad_request(RequestFactory().post(ADD), ValueError("other")).status_code == 400
    api = bad_request(RequestFactory().post("/api/v1/connectors/"), RequestDataTooBig("too big"))
    assert api.status_code == 413 and api["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "n" * 201),
        ("base_url", ""),
        ("base_url", "javascript:alert(1)"),
        ("base_url", "ftp://example.com"),
        ("documentation_url", "javascript:alert(1)"),
        ("description", "d" * 10_001),
        ("acknowledged", None),
        ("organisation", "999999"),
        ("organisation", "x"),
        ("openapi_schema", ""),
    ],
)
def test_bad_fields_are_form_errors_on_the_field(admin_client_for, platform_admin, org, field, value):
    response = admin_client_for(platform_admin).post(ADD, form_data(org, **{field: value}))
    assert response.status_code == 400
    assert field in response.context["form"].errors, response.context["form"].errors
    assert counts() == (0, 0, 0, 0)


def test_both_paste_and_file_is_refused(admin_client_for, platform_admin, org):
    upload = SimpleUploadedFile("schema.json", as_text(petstore()).encode())
    response = admin_client_for(platform_admin).post(ADD, {**form_data(org), "schema_file": upload})
    assert response.status_code == 400
    assert counts() == (0, 0, 0, 0)


def test_duplicate_name_is_a_form_error(admin_client_for, platform_admin, org, connector):
    response = admin_client_for(platform_admin).post(ADD, form_data(org, name=connector.name))
    assert response.status_code == 400
    assert "name" in response.context["form"].errors
    assert Connector.objects.count() == 1


# --- The connector page ------------------------------------------------------------------------


def test_the_connector_page_shows_methods_by_tag_versions_and_import_link(admin_client_for, platform_admin, connector):
    html = admin_client_for(platform_admin).get(change_url(connector)).content.decode()
    assert "Methods by tag" in html and "pets" in html and "admin" in html
    assert "Version history" in html and "v1" in html
    assert "Import a new schema version" in html
    assert f"connector__id__exact={connector.pk}" in html
    assert "api_key" in html  # auth scheme configs inline


def test_the_connector_page_query_count_does_not_grow_with_methods(
    admin_client_for, platform_admin, org, django_assert_max_num_queries
):
    small = big_connector(org, platform_admin, 10, name="Small")
    large = big_connector(org, platform_admin, 1200, name="Large")
    client = admin_client_for(platform_admin)
    client.get(change_url(small))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert client.get(change_url(small)).status_code == 200
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(change_url(large))
    assert response.status_code == 200
    assert "1200" in response.content.decode()


def test_saving_the_connector_page_updates_fields_variables_and_connections(
    admin_client_for, platform_admin, connector, org
):
    connection = Connection.objects.create(connector=connector, organisation=org, name="c", created_by=platform_admin)
    schemes = list(connector.auth_schemes.order_by("position"))
    data = {
        "name": "Pets renamed",
        "description": "Pets.",
        "base_url": "https://pets.example.com/v2",
        "documentation_url": "",
        "icon_url": "",
        "enabled": "on",
        "variables": json.dumps([{"name": "tenant", "value": "acme"}]),
        "auth_schemes-TOTAL_FORMS": str(len(schemes)),
        "auth_schemes-INITIAL_FORMS": str(len(schemes)),
        "auth_schemes-MIN_NUM_FORMS": "0",
        "auth_schemes-MAX_NUM_FORMS": "1000",
    }
    for i, scheme in enumerate(schemes):
        data.update(
            {
                f"auth_schemes-{i}-id": str(scheme.pk),
                f"auth_schemes-{i}-connector": str(connector.pk),
                f"auth_schemes-{i}-position": str(len(schemes) - i),
                f"auth_schemes-{i}-scheme_name": scheme.scheme_name,
                f"auth_schemes-{i}-kind": scheme.kind,
                f"auth_schemes-{i}-config": json.dumps(scheme.config),
                f"auth_schemes-{i}-description": scheme.description,
            }
        )
    response = admin_client_for(platform_admin).post(change_url(connector), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    connector.refresh_from_db()
    connection.refresh_from_db()
    assert connector.name == "Pets renamed" and connector.base_url == "https://pets.example.com/v2"
    assert connector.variables == connection.variables == [{"name": "tenant", "value": "acme"}]
    assert [s.scheme_name for s in connector.auth_schemes.order_by("position")] == ["bearer", "api_key"]

    data["base_url"] = "https://{tenant}.example.com"
    response = admin_client_for(platform_admin).post(change_url(connector), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    connector.refresh_from_db()
    assert connector.base_url == "https://{tenant}.example.com"

    data["base_url"] = "javascript:alert(1)"
    response = admin_client_for(platform_admin).post(change_url(connector), data)
    assert response.status_code == 200
    assert "base_url" in response.context["adminform"].form.errors
    connector.refresh_from_db()
    assert connector.base_url == "https://{tenant}.example.com"


# --- Import a new version ----------------------------------------------------------------------


def test_import_a_new_version_from_the_admin(admin_client_for, platform_admin, connector):
    url = reverse("admin:connectors_connector_import_schema", args=[connector.pk])
    client = admin_client_for(platform_admin)
    assert client.get(url).status_code == 200
    response = client.post(url, {"openapi_schema": as_text(petstore_v2())}, follow=True)
    html = response.content.decode()
    assert "Version 2 imported: 1 added, 1 removed, 1 changed" in html
    assert "PUT /pets/{petId}" in html and "DELETE /pets/{petId}" in html
    connector.refresh_from_db()
    assert connector.current_version.number == 2


@pytest.mark.parametrize("name", HOSTILE_IDS)
def test_hostile_reimports_are_form_errors(admin_client_for, platform_admin, connector, name):
    url = reverse("admin:connectors_connector_import_schema", args=[connector.pk])
    before = counts()
    response = admin_client_for(platform_admin).post(url, {"openapi_schema": hostile(name)})
    assert counts() == before
    if name == "fifty_megabytes":
        assert response.status_code == 413  # above the server's own limit
        return
    assert response.status_code == 400
    assert response.context["form"].errors.get("openapi_schema")


def test_import_for_a_missing_connector_redirects(admin_client_for, platform_admin):
    url = reverse("admin:connectors_connector_import_schema", args=[999999])
    assert admin_client_for(platform_admin).get(url).status_code == 302


# --- Lists -------------------------------------------------------------------------------------


def test_operation_list_filters_and_searches(admin_client_for, platform_admin, connector, other_connector):
    client = admin_client_for(platform_admin)
    base = f"/admin/connectors/operation/?connector__id__exact={connector.pk}"
    assert client.get(base).context["cl"].result_count == 4
    assert client.get(base + "&tag=admin").context["cl"].result_count == 1
    assert client.get(base + "&method=GET").context["cl"].result_count == 2
    assert client.get(base + "&q=createPet").context["cl"].result_count == 1
    # Without a filter: the methods of the organisation's connectors only, never another's.
    assert client.get("/admin/connectors/operation/").context["cl"].result_count == 4


def test_operation_list_query_count_does_not_grow_with_methods(
    admin_client_for, platform_admin, org, django_assert_max_num_queries
):
    small = big_connector(org, platform_admin, 10, name="Small")
    large = big_connector(org, platform_admin, 1500, name="Large")
    client = admin_client_for(platform_admin)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(f"/admin/connectors/operation/?connector__id__exact={small.pk}")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/admin/connectors/operation/?connector__id__exact={small.pk}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(f"/admin/connectors/operation/?connector__id__exact={large.pk}&tag=tag3")
    assert response.status_code == 200
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(f"/admin/connectors/operation/?connector__id__exact={large.pk}&p=3")
    assert response.status_code == 200


def test_connector_list_query_count(admin_client_for, platform_admin, org, django_assert_max_num_queries):
    for i in range(3):
        big_connector(org, platform_admin, 3, name=f"C{i}")
    client = admin_client_for(platform_admin)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get("/admin/connectors/connector/")
    with CaptureQueriesContext(connection) as few:
        client.get("/admin/connectors/connector/")
    for i in range(3, 15):
        big_connector(org, platform_admin, 3, name=f"C{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/admin/connectors/connector/").status_code == 200


def test_delete_from_the_admin(admin_client_for, platform_admin, connector):
    url = reverse("admin:connectors_connector_delete", args=[connector.pk])
    response = admin_client_for(platform_admin).post(url, {"post": "yes"})
    assert response.status_code == 302
    assert counts() == (0, 0, 0, 0)


def test_an_oversized_post_to_the_connector_page_saves_nothing(admin_client_for, platform_admin, connector, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5000
    response = admin_client_for(platform_admin).post(
        change_url(connector), {"name": "Renamed", "description": "d" * 6000}, follow=True
    )
    assert response.status_code == 413
    assert "larger than this server accepts" in response.content.decode()
    connector.refresh_from_db()
    assert connector.name == "Pet store"


def test_the_connector_page_uses_small_auth_scheme_boxes(admin_client_for, platform_admin, connector):
    from connectors.models import AuthSchemeConfig

    AuthSchemeConfig.objects.create(connector=connector, scheme_name="key", kind="api_key", config={"in": "header"})
    html = admin_client_for(platform_admin).get(change_url(connector)).content.decode()
    assert 'name="auth_schemes-0-config" cols="40" rows="2"' in html
    assert 'name="auth_schemes-0-description" cols="40" rows="2"' in html
    assert 'A JSON list, for example [{"name": "tenant"' in html
    assert "Default connection variables: [" not in html


def test_operation_list_filtered_by_a_connector_names_it_once(admin_client_for, platform_admin, connector):
    from connectors.admin import SUMMARY_SHOWN

    connector.operations.filter(method="GET").update(summary="A very long summary " * 20)
    client = admin_client_for(platform_admin)
    response = client.get(f"/admin/connectors/operation/?connector__id__exact={connector.pk}")
    assert response.context["title"] == f"Methods of {connector.name}"
    assert "connector" not in response.context["cl"].list_display
    assert response.context["cl"].list_display_links == ["method", "path", "name"]
    html = response.content.decode()
    assert "A very long summary " * 20 not in html
    assert ("A very long summary " * 20)[: SUMMARY_SHOWN - 1].rstrip() + "…" in html
    # Unfiltered, the connector column stays.
    assert "connector" in client.get("/admin/connectors/operation/").context["cl"].list_display
    # A hostile or unknown filter value is no error.
    assert client.get("/admin/connectors/operation/?connector__id__exact=999999").status_code in (200, 302)


def test_the_admin_index_title(admin_client_for, platform_admin):
    response = admin_client_for(platform_admin).get("/admin/")
    assert response.context["title"] == "Administration"
