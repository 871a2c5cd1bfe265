"""Demo data, made through the apps' services as an administrator would make it. Idempotent: what
exists is kept (passwords are set again, the connector's address follows the demo port)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction

from accounts.models import Organisation, User
from accounts.services import group_create, organisation_create, user_create
from portal.demo import (
    DEMO_CONNECTION,
    DEMO_CONNECTOR,
    DEMO_ORGANISATION,
    DEMO_ORGANISATION_SLUG,
    DEMO_USERS,
)
from portal.demo.upstream import DEFAULT_API_KEY, schema_text

DEMO_GROUP = "Support team"
DEMO_CREDENTIAL = "Demo notes API key"
DEMO_TEST_OPERATION = "listNotes"
def _user(organisation, username: str, password: str, role: str, log) -> User:
    user = User.objects.filter(username=username).first()
    flags = {
        "administrator": {"is_platform_admin": True, "is_staff": True, "is_designer": False},
        "designer": {"is_platform_admin": False, "is_staff": False, "is_designer": True},
        "end user": {"is_platform_admin": False, "is_staff": False, "is_designer": False},
        # The installation's operator: every organisation, in the admin only (no organisation).
        "operator": {"is_superuser": True, "is_staff": True},
    }[role]
    if user is None:
        user = user_create(
            username=username, organisation=None if role == "operator" else organisation, password=password,
            first_name=role.title(), **flags,
        )
        log(f"Created the {role} {username}.")
    else:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def load_demo(*, upstream_port: int, log=print) -> dict:
    from accesscontrol.services import method_rights_bulk
    from connections.models import Connection, Credential
    from connections.services import connection_create, connection_update
    from connectors.models import Connector
    from connectors.services import connector_create_from_openapi, connector_update

    if settings.PRODUCTION:
        raise RuntimeError("The demo data is not for production.")
    organisation = Organisation.objects.filter(slug=DEMO_ORGANISATION_SLUG).first()
    if organisation is None:
        organisation = organisation_create(name=DEMO_ORGANISATION, slug=DEMO_ORGANISATION_SLUG)
        log(f"Created the organisation {DEMO_ORGANISATION}.")
    users = {role: _user(organisation, username, password, role, log) for role, username, password in DEMO_USERS}
    admin, designer, end_user = users["administrator"], users["designer"], users["end user"]  # (and the operator)
    if not Group.objects.filter(name=f"{organisation.slug}: {DEMO_GROUP}").exists():
        group_create(organisation=organisation, name=DEMO_GROUP, members=[designer, end_user])
        log(f"Created the group {DEMO_GROUP}.")

    base_url = f"http://127.0.0.1:{upstream_port}"
    connector = Connector.objects.filter(organisation=organisation, name=DEMO_CONNECTOR).first()
    if connector is None:
        connector, _ = connector_create_from_openapi(
            organisation=organisation,
            name=DEMO_CONNECTOR,
            description="The demo notes service that make run starts on this machine.",
            base_url=base_url,
            schema_text=schema_text(base_url),
            acknowledged=True,
            created_by=admin,
        )
        log(f"Created the connector {DEMO_CONNECTOR} ({connector.operations.count()} methods) at {base_url}.")
    elif connector.base_url.rstrip("/") != base_url:
        connector = connector_update(connector=connector, actor=admin, base_url=base_url)
        log(f"Moved the connector {DEMO_CONNECTOR} to {base_url}.")

    connection = Connection.objects.filter(connector=connector, name=DEMO_CONNECTION).first()
    if connection is None:
        existing = Credential.objects.filter(organisation=organisation, name=DEMO_CREDENTIAL).first()
        credential = (
            {"ref": existing.pk}
            if existing
            else {
                "create": {
                    "name": DEMO_CREDENTIAL,
                    "kind": "api_key",
                    "config": {"in": "header", "name": "X-API-Key", "scheme_name": "apiKey"},
                    "secret": {"key": DEFAULT_API_KEY},
                }
            }
        )
        connection = connection_create(
            connector=connector,
            organisation=organisation,
            name=DEMO_CONNECTION,
            created_by=admin,
            action_credentials=[credential],
            access_level="company",
        )
        everyone = [f"group:{organisation.members_group_id}"]
        for method in ("POST", "DELETE"):
            method_rights_bulk(
                connection=connection, actor=admin, method=method, allow_principals=everyone,
                requires_confirmation=True,
            )
        log(f"Created the connection {DEMO_CONNECTION}: everyone at {organisation.name} may use it; "
            "POST and DELETE need the user's confirmation.")
    # "Test connection" calls this read method (the bare base URL answers 404 on the demo service).
    test_operation = connector.operations.filter(name=DEMO_TEST_OPERATION).first()
    if test_operation is not None and connection.test_operation_id != test_operation.pk:
        connection = connection_update(connection=connection, actor=admin, test_operation=test_operation)
        log(f"The connection {DEMO_CONNECTION} is tested with {DEMO_TEST_OPERATION}.")
    return {"organisation": organisation, "users": users, "connector": connector, "connection": connection}
