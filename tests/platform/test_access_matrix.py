"""Every URL of the API, the pages and the admin, called by every role on objects of both
organisations, checked against ONE table of expected answers.

Roles: anonymous; a user, a designer and a platform administrator of organisation Alpha, and the
same of organisation Bravo; the operator (a superuser of no organisation). Every object exists in
both organisations; each role calls each URL on Alpha's objects and on Bravo's, so a role meets
its own organisation's objects ("own") and another's ("foreign"). Writes run inside a savepoint
that is rolled back, so every call sees the same world.

Besides the status code, no answer to a person of one organisation may contain the name of
anything of the other (every name carries the organisation's marker), and no answer contains a
credential's secret.

A URL pattern without a row in :data:`TABLE` fails the test: a new endpoint gets its row (and so
its decision) before it lands.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accesscontrol.services import method_rights_update
from accounts.services import api_key_create, group_create
from audit.models import AuditEntry
from connections.models import Credential
from connections.services import connection_create, credential_create
from connectors.models import IntegrationType, OrganisationIntegrationType
from connectors.services import connector_create_from_openapi, organisation_integration_types_ensure
from invocations.services import invocation_create
from tests.connectors.conftest import as_text, petstore
from tests.factories import make_organisation, make_user

pytestmark = pytest.mark.django_db

MARKERS = {"alpha": "zqalpha", "bravo": "zqbravo"}
SECRET = "zq-secret-value-0f1e2d3c"
ORG_ROLES = ("user", "designer", "admin")
ROLES = ("anon", *(f"{r}@{o}" for o in MARKERS for r in ORG_ROLES), "operator")


# --- the world -------------------------------------------------------------------------------------


@dataclass
class Side:
    """One organisation's people and objects."""

    key: str
    organisation: object = None
    people: dict = field(default_factory=dict)
    connector: object = None
    connection: object = None
    credential: object = None  # in use by the connection
    spare_credential: object = None  # in use by nothing: may be deleted
    operation_get: object = None
    operation_post: object = None
    invocation: object = None
    group: object = None
    api_key: object = None
    version: object = None
    method_right: object = None
    switch: object = None
    audit_entry: object = None

    def ids(self) -> dict:
        return {
            "organisation": self.organisation.pk,
            "connector": self.connector.pk,
            "connection": self.connection.pk,
            "credential": self.credential.pk,
            "spare_credential": self.spare_credential.pk,
            "operation": self.operation_get.pk,
            "invocation": str(self.invocation.pk),
            "group": self.group.pk,
            "user": self.people["user"].pk,
            "api_key": self.api_key.pk,
            "version": self.version.pk,
            "method_right": self.method_right.pk,
            "switch": self.switch.pk,
            "audit_entry": self.audit_entry.pk,
            "tool": f"c{self.connection.pk}__{self.operation_get.name}",
        }


def _side(key: str) -> Side:
    m = MARKERS[key]
    side = Side(key)
    side.organisation = make_organisation(name=f"{m} Company")
    for role in ORG_ROLES:
        side.people[role] = make_user(
            side.organisation,
            username=f"{m}-{role}",
            is_designer=role == "designer",
            is_platform_admin=role == "admin",
        )
    admin, designer, user = side.people["admin"], side.people["designer"], side.people["user"]
    # A base URL nobody may call (a refused address): a test call is refused before any packet.
    side.connector, side.version = connector_create_from_openapi(
        organisation=side.organisation, name=f"{m} pets", base_url="http://127.0.0.1:9/v1",
        schema_text=as_text(petstore()), acknowledged=True, created_by=admin,
    )
    side.credential = credential_create(
        organisation=side.organisation, name=f"{m} key", kind="api_key",
        config={"in": "header", "name": "X-API-Key"}, secret={"key": SECRET}, created_by=admin,
    )
    side.spare_credential = credential_create(
        organisation=side.organisation, name=f"{m} spare", kind="http_bearer", config={},
        secret={"token": SECRET + "-spare"}, created_by=admin,
    )
    side.connection = connection_create(
        connector=side.connector, organisation=side.organisation, name=f"{m} connection", created_by=designer,
        action_credentials=[{"ref": side.credential.pk}],
    )
    side.operation_get = side.connector.operations.get(name="listPets")
    side.operation_post = side.connector.operations.get(name="createPet")
    method_rights_update(
        connection=side.connection, actor=admin,
        changes=[{"operation": side.operation_post.pk, "principals": [f"group:{side.organisation.members_group_id}"],
                  "requires_confirmation": True}],
    )
    side.method_right = side.connection.method_rights.get(operation=side.operation_post)
    side.invocation = invocation_create(
        user=user, tool=f"c{side.connection.pk}__{side.operation_post.name}", arguments={}
    )
    assert side.invocation.status == "awaiting_confirmation"
    side.group = group_create(organisation=side.organisation, name=f"{m} team", members=[user])
    side.api_key, _ = api_key_create(user=user, name=f"{m} laptop")
    organisation_integration_types_ensure(organisation=side.organisation)
    side.switch = OrganisationIntegrationType.objects.get(
        organisation=side.organisation, integration_type_id=IntegrationType.CUSTOM_OPENAPI
    )
    side.audit_entry = AuditEntry.objects.get(
        organisation=side.organisation, action="credential.create", object_id=str(side.credential.pk)
    )
    return side


@pytest.fixture
def world():
    sides = {key: _side(key) for key in MARKERS}
    operator = make_user(None, username="the-operator", is_superuser=True, is_staff=True)
    clients = {"anon": (Client(), None)}
    for key, side in sides.items():
        for role, person in side.people.items():
            client = Client()
            client.force_login(person)
            _, raw = api_key_create(user=person, name="matrix")
            clients[f"{role}@{key}"] = (client, raw)
    client = Client()
    client.force_login(operator)
    _, raw = api_key_create(user=operator, name="matrix")
    clients["operator"] = (client, raw)
    return sides, clients


# --- the table ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One URL called one way. ``expect`` maps a role kind to a status: ``anon`` and ``operator``
    to one status, ``user``/``designer``/``admin`` to ``(own, foreign)`` or one status for both.
    ``kind`` picks the client: ``api`` calls with the role's API key, anything else with its session."""

    name: str
    path: str  # format string over the ids of the side the object belongs to
    method: str
    expect: dict
    body: dict | None = None
    kind: str = "page"


def R(name, path, method="GET", *, body=None, kind="page", anon=302, user, designer=None, admin=None, operator):
    designer = user if designer is None else designer
    admin = designer if admin is None else admin
    expect = {"anon": anon, "user": user, "designer": designer, "admin": admin, "operator": operator}
    return Row(name, path, method, expect, body, kind)


def API(name, path, method="GET", *, body=None, anon=401, **kw):
    return R(name, path, method, body=body, kind="api", anon=anon, **kw)


NOT_FOUND = (404, 404)
MANAGED = (200, 404)
LOGIN = 302  # to the login page (anonymous; and people who may not enter the admin)

API_ROWS = [
    API("api:me", "/api/v1/me/", user=200, operator=200),
    API("api:schema", "/api/v1/schema/", anon=200, user=200, operator=200),
    API("api:docs", "/api/v1/docs/", anon=200, user=200, operator=200),
    API("api:redoc", "/api/v1/redoc/", anon=200, user=200, operator=200),
    API("api:connector-list", "/api/v1/connectors/", user=200, operator=200),
    API("api:connector-list", "/api/v1/connectors/", "POST", body={}, user=403, admin=400, operator=403),
    API("api:connector-detail", "/api/v1/connectors/{connector}/", user=MANAGED, operator=404),
    API("api:connector-detail", "/api/v1/connectors/{connector}/", "PATCH", body={},
        user=(403, 404), admin=MANAGED, operator=404),
    API("api:connector-detail", "/api/v1/connectors/{connector}/", "DELETE",
        user=(403, 404), admin=(204, 404), operator=404),
    # PUT is not offered (PATCH is the update): refused before any object is looked at.
    API("api:connector-detail", "/api/v1/connectors/{connector}/", "PUT", body={}, user=405, operator=405),
    API("api:connector-import-schema", "/api/v1/connectors/{connector}/schema/", "POST", body={},
        user=(403, 404), admin=(400, 404), operator=404),
    API("api:connector-operations", "/api/v1/connectors/{connector}/operations/", user=MANAGED, operator=404),
    API("api:connector-connections", "/api/v1/connectors/{connector}/connections/", user=MANAGED, operator=404),
    API("api:connector-connections", "/api/v1/connectors/{connector}/connections/", "POST", body={},
        user=(403, 404), designer=(400, 404), operator=404),
    API("api:connection-detail", "/api/v1/connections/{connection}/", user=MANAGED, operator=404),
    API("api:connection-detail", "/api/v1/connections/{connection}/", "PATCH", body={},
        user=(403, 404), designer=MANAGED, operator=404),
    API("api:connection-detail", "/api/v1/connections/{connection}/", "DELETE",
        user=(403, 404), designer=(204, 404), operator=404),
    API("api:connection-test", "/api/v1/connections/{connection}/test/", "POST",
        user=(403, 404), designer=MANAGED, operator=404),
    API("api:connection-operations", "/api/v1/connections/{connection}/operations/",
        user=(403, 404), designer=MANAGED, operator=404),
    API("api:connection-operations", "/api/v1/connections/{connection}/operations/", "PUT",
        body={"changes": [{"operation": "{operation}", "requires_confirmation": True}]},
        user=(403, 404), designer=MANAGED, operator=404),
    API("api:credential-list", "/api/v1/credentials/", user=403, designer=200, operator=403),
    API("api:credential-list", "/api/v1/credentials/", "POST", body={}, user=403, designer=400, operator=403),
    API("api:credential-detail", "/api/v1/credentials/{credential}/", user=403, designer=MANAGED, operator=403),
    API("api:credential-detail", "/api/v1/credentials/{credential}/", "PATCH", body={"name": "{marker} renamed"},
        user=403, designer=MANAGED, operator=403),
    API("api:credential-detail", "/api/v1/credentials/{spare_credential}/", "DELETE",
        user=403, designer=(204, 404), operator=403),
    API("api:tools", "/api/v1/tools/", user=200, operator=200),
    API("api:invocation-list", "/api/v1/invocations/", user=200, operator=200),
    API("api:invocation-list", "/api/v1/invocations/", "POST", body={"tool": "{tool}", "arguments": {}},
        user=(201, 400), operator=400),
    API("api:invocation-detail", "/api/v1/invocations/{invocation}/", user=MANAGED, designer=NOT_FOUND,
        operator=404),
    API("api:invocation-confirm", "/api/v1/invocations/{invocation}/confirm/", "POST",
        user=MANAGED, designer=NOT_FOUND, operator=404),
    API("api:invocation-reject", "/api/v1/invocations/{invocation}/reject/", "POST",
        user=MANAGED, designer=NOT_FOUND, operator=404),
    # The organisation's audit trail: its platform administrators (the operator reads it in the admin).
    API("api:audit-list", "/api/v1/audit/", user=403, admin=200, operator=403),
    API("api:audit-export", "/api/v1/audit/export/csv/", user=403, admin=200, operator=403),
]

PAGE_ROWS = [
    R("login", "/accounts/login/", anon=200, user=200, operator=200),
    R("logout", "/accounts/logout/", "POST", anon=302, user=302, operator=302),
    R("portal:home", "/", user=302, operator=302),
    # The designer's pages; platform administrators configure in the admin.
    R("portal:connections", "/connections/", user=403, designer=200, admin=403, operator=403),
    R("portal:connection_create", "/connections/new/{connector}/", user=403, designer=MANAGED, admin=403,
      operator=403),
    R("portal:tools", "/tools/", user=200, operator=200),
    R("portal:tool", "/tools/{tool}/", user=MANAGED, operator=404),
    R("portal:confirmations", "/confirmations/", user=200, operator=200),
    R("portal:confirmations_state", "/confirmations/state.json", user=200, operator=200),
    R("portal:confirmation", "/confirmations/{invocation}/", user=MANAGED, designer=NOT_FOUND, operator=404),
    R("portal:history", "/history/", user=200, operator=200),
    R("portal:invocation", "/history/{invocation}/", user=MANAGED, designer=NOT_FOUND, operator=404),
    R("portal:invocation_confirm", "/history/{invocation}/confirm/", "POST",
      user=(302, 404), designer=NOT_FOUND, operator=404),
    R("portal:invocation_reject", "/history/{invocation}/reject/", "POST",
      user=(302, 404), designer=NOT_FOUND, operator=404),
]


def _admin_model_rows(app_model: str, object_key: str | None, *, view=True, add=True, change=True, delete=True,
                      operator_add=None, operator_delete=None, scoped=True) -> list[Row]:
    """The five views Django's admin gives every model, for a model a platform administrator may
    ``view``/``add``/``change``/``delete`` in their own organisation (the operator everywhere).
    Another organisation's object answers as if missing: a redirect to the admin index (302)."""
    app, model = app_model.split(".")
    base = f"/admin/{app}/{model}/"
    name = f"admin:{app}_{model}"
    operator_add = add if operator_add is None else operator_add
    operator_delete = delete if operator_delete is None else operator_delete

    def org(allowed: bool):
        if not allowed:
            return 403
        return (200, 302) if scoped else 200

    rows = [
        R(f"{name}_changelist", base, user=LOGIN, admin=200 if view else 403, operator=200),
        R(f"{name}_add", base + "add/", user=LOGIN, admin=200 if add else 403, operator=200 if operator_add else 403),
    ]
    if object_key:
        path = base + "{" + object_key + "}/"
        rows += [
            R(f"{name}_change", path + "change/", user=LOGIN, admin=org(view), operator=200),
            R(f"{name}_history", path + "history/", user=LOGIN, admin=org(view), operator=200),
            R(f"{name}_delete", path + "delete/", user=LOGIN, admin=org(delete),
              operator=200 if operator_delete else 403),
            R(f"admin:{app}/{model}/<object_id>/", path, user=LOGIN, admin=302, operator=302),
        ]
    return rows


ADMIN_ROWS = [
    R("admin:index", "/admin/", user=LOGIN, admin=200, operator=200),
    R("admin:login", "/admin/login/", anon=200, user=200, admin=302, operator=302),
    R("admin:logout", "/admin/logout/", "POST", anon=302, user=302, operator=302),
    R("admin:password_change", "/admin/password_change/", user=LOGIN, admin=200, operator=200),
    R("admin:password_change_done", "/admin/password_change/done/", user=LOGIN, admin=200, operator=200),
    R("admin:autocomplete", "/admin/autocomplete/", user=LOGIN, admin=403, operator=403),
    R("admin:jsi18n", "/admin/jsi18n/", user=LOGIN, admin=200, operator=200),
    R("admin:view_on_site", "/admin/r/1/{connector}/", user=LOGIN, admin=404, operator=404),
    R("admin:app_list", "/admin/connectors/", user=LOGIN, admin=200, operator=200),
    R("admin:?", "/admin/no-such-page/", user=LOGIN, admin=404, operator=404),
    *_admin_model_rows(
        "accounts.organisation", "organisation", add=False, change=False, delete=False,
        operator_add=True, operator_delete=True,
    ),
    *_admin_model_rows("accounts.user", "user"),
    R("admin:auth_user_password_change", "/admin/accounts/user/{user}/password/", user=LOGIN,
      admin=(200, 404), operator=200),
    *_admin_model_rows("auth.group", "group"),
    *_admin_model_rows("accounts.apikey", "api_key", change=False),
    *_admin_model_rows("connectors.connector", "connector"),
    R("admin:connectors_connector_import_schema", "/admin/connectors/connector/{connector}/import-schema/",
      user=LOGIN, admin=(200, 302), operator=200),
    *_admin_model_rows("connectors.operation", "operation", add=False, change=False, delete=False),
    # The installation's switches are the operator's alone.
    R("admin:connectors_integrationtype_changelist", "/admin/connectors/integrationtype/",
      user=LOGIN, admin=403, operator=200),
    R("admin:connectors_integrationtype_add", "/admin/connectors/integrationtype/add/",
      user=LOGIN, admin=403, operator=403),
    R("admin:connectors_integrationtype_change", "/admin/connectors/integrationtype/custom_openapi/change/",
      user=LOGIN, admin=403, operator=200),
    # (Looked up before the permission check: not there for them, as for another organisation's object.)
    R("admin:connectors_integrationtype_history", "/admin/connectors/integrationtype/custom_openapi/history/",
      user=LOGIN, admin=302, operator=200),
    R("admin:connectors_integrationtype_delete", "/admin/connectors/integrationtype/custom_openapi/delete/",
      user=LOGIN, admin=403, operator=403),
    R("admin:connectors/integrationtype/<object_id>/", "/admin/connectors/integrationtype/custom_openapi/",
      user=LOGIN, admin=302, operator=302),
    *_admin_model_rows("connectors.organisationintegrationtype", "switch", add=False, delete=False),
    *_admin_model_rows("connectors.connectorversion", "version", add=False, change=False, delete=False),
    *[row for row in _admin_model_rows("connections.credential", "credential") if not row.name.endswith("_delete")],
    # A credential a connection uses cannot be deleted; one nothing uses can.
    R("admin:connections_credential_delete", "/admin/connections/credential/{credential}/delete/",
      user=LOGIN, admin=(403, 302), operator=403),
    R("admin:connections_credential_delete", "/admin/connections/credential/{spare_credential}/delete/",
      user=LOGIN, admin=(200, 302), operator=200),
    R("admin:connections_credential_oauth_connect", "/admin/connections/credential/{credential}/oauth/connect/",
      user=LOGIN, admin=(302, 404), operator=302),
    R("admin:connections_credential_oauth_callback", "/admin/connections/credential/oauth/callback/",
      user=LOGIN, admin=302, operator=302),
    *_admin_model_rows("connections.connection", "connection"),
    R("admin:connections_connection_test", "/admin/connections/connection/{connection}/test/", "POST",
      user=LOGIN, admin=MANAGED, operator=200),
    R("admin:connections_catalog", "/admin/connections/connection/catalog/", user=LOGIN, admin=200, operator=200),
    R("admin:connections_catalog_add", "/admin/connections/connection/catalog/slack/",
      user=LOGIN, admin=200, operator=200),
    *_admin_model_rows("accesscontrol.methodright", "method_right", add=False, change=False, delete=False),
    R("admin:accesscontrol_connection_rights", "/admin/accesscontrol/methodright/connection/{connection}/",
      user=LOGIN, admin=MANAGED, operator=200),
    *_admin_model_rows("invocations.invocation", "invocation", add=False, change=False, delete=False),
    # The audit trail: read only, for everyone; exported as the list is filtered.
    *_admin_model_rows("audit.auditentry", "audit_entry", add=False, change=False, delete=False),
    R("admin:audit_auditentry_export", "/admin/audit/auditentry/export/csv/", user=LOGIN, admin=200, operator=200),
    # django-axes's records of logins (usernames and addresses of every organisation): the operator's.
    *[
        row
        for model in ("accessattempt", "accesslog", "accessfailurelog")
        for row in (
            R(f"admin:axes_{model}_changelist", f"/admin/axes/{model}/", user=LOGIN, admin=403, operator=200),
            R(f"admin:axes_{model}_add", f"/admin/axes/{model}/add/", user=LOGIN, admin=403, operator=403),
            R(f"admin:axes_{model}_change", f"/admin/axes/{model}/999999/change/", user=LOGIN, admin=403,
              operator=302),
            R(f"admin:axes_{model}_history", f"/admin/axes/{model}/999999/history/", user=LOGIN, admin=302,
              operator=302),
            R(f"admin:axes_{model}_delete", f"/admin/axes/{model}/999999/delete/", user=LOGIN, admin=403,
              operator=302),
            R(f"admin:axes/{model}/<object_id>/", f"/admin/axes/{model}/999999/", user=LOGIN, admin=302,
              operator=302),
        )
    ],
]

TABLE = API_ROWS + PAGE_ROWS + ADMIN_ROWS


# --- every URL has a row --------------------------------------------------------------------------


def _url_names(patterns=None, namespace="", prefix=""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _url_names(pattern.url_patterns, inner, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            if pattern.name:
                yield namespace + pattern.name
            else:  # the admin's unnamed object redirect, and its catch-all
                route = (prefix + str(pattern.pattern)).replace("<path:object_id>/", "<object_id>/")
                yield f"{namespace}{route.removeprefix('admin/')}" if "<object_id>" in route else f"{namespace}?"


def test_every_url_has_a_row_in_the_table():
    names = set(_url_names())
    covered = {row.name for row in TABLE}
    missing = sorted(names - covered)
    assert not missing, f"URL patterns without a row in the access matrix: {missing}"
    stale = sorted(covered - names)
    assert not stale, f"Rows for URL patterns that no longer exist: {stale}"


# --- running it -----------------------------------------------------------------------------------


def _expected(row: Row, role: str, own: bool) -> int:
    kind = role.split("@")[0]
    value = row.expect[kind]
    if isinstance(value, tuple):
        return value[0] if own else value[1]
    return value


def _fill(value, ids: dict):
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
            return ids[value[1:-1]]
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def _call(clients, role, row: Row, ids: dict):
    session, raw = clients[role]
    path = row.path.format(**ids)
    kwargs = {}
    client = Client()
    if row.kind == "api":
        if raw and role != "anon":
            kwargs["HTTP_AUTHORIZATION"] = f"Bearer {raw}"
    else:
        # A copy of the role's session cookie: a logout in one row cannot log the role out of the next.
        client.cookies = copy.deepcopy(session.cookies)
    body = _fill(row.body, ids) if row.body is not None else None
    with transaction.atomic():
        if row.method == "GET":
            response = client.get(path, **kwargs)
        elif row.kind == "api":
            response = client.generic(
                row.method, path, json.dumps(body or {}), content_type="application/json", **kwargs
            )
        else:
            response = client.generic(row.method, path, "", content_type="application/x-www-form-urlencoded")
        transaction.set_rollback(True)
    return response


def _run(world, rows) -> list[str]:
    sides, clients = world
    problems = []
    for row in rows:
        owners = [None] if "{" not in row.path and not row.body else list(sides)
        for owner in owners:
            ids = {**sides[owner or "alpha"].ids(), "marker": MARKERS[owner or "alpha"]}
            for role in ROLES:
                own = owner is None or role.endswith(f"@{owner}")
                expected = _expected(row, role, own)
                response = _call(clients, role, row, ids)
                where = f"{row.method} {row.path.format(**ids)} as {role}"
                if response.status_code != expected:
                    problems.append(f"{where}: {response.status_code}, expected {expected}")
                content = b"".join(response.streaming_content) if response.streaming else response.content
                text = content.decode("utf-8", "replace")
                if SECRET in text:
                    problems.append(f"{where}: the answer holds a credential's secret")
                if "@" in role:
                    foreign_marker = next(m for k, m in MARKERS.items() if not role.endswith(f"@{k}"))
                    if foreign_marker in text:
                        problems.append(f"{where}: the answer names something of the other organisation")
    return problems


def test_api_matrix(world):
    problems = _run(world, API_ROWS)
    assert not problems, "\n".join(problems)


def test_pages_matrix(world):
    problems = _run(world, PAGE_ROWS)
    assert not problems, "\n".join(problems)


def test_admin_matrix(world):
    problems = _run(world, ADMIN_ROWS)
    assert not problems, "\n".join(problems)


def test_the_world_is_what_the_table_assumes(world):
    """The rows above rely on these facts; if one changes, the table must be read again."""
    sides, _ = world
    for side in sides.values():
        assert side.connection.created_by == side.people["designer"]
        assert side.invocation.user == side.people["user"]
        assert Credential.objects.get(pk=side.spare_credential.pk).connection_links.count() == 0
