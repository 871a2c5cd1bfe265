"""Fixtures for the audit trail: entries made by the real services, in two organisations."""

from __future__ import annotations

import pytest

from accesscontrol.services import method_rights_update
from audit.models import AuditEntry
from audit.services import audit_record
from connections import services as connections
from tests.connections.conftest import SECRETS, make_connector, make_operation
from tests.factories import make_user


def make_entries(obj, n: int, *, actor=None, action: str = "credential.update") -> None:
    """``n`` more entries about ``obj`` (as the services write them)."""
    for _ in range(n):
        audit_record(actor=actor, action=action, obj=obj, changes={"fields": ["name"]})


@pytest.fixture
def trail(org, other_org, platform_admin, designer):
    """What an organisation's day leaves in the trail: a credential created and changed, a
    connection with its access defined, a grant changed; and the same in another organisation."""
    credential = connections.credential_create(
        organisation=org, name="Billing key", kind="api_key", created_by=platform_admin,
        config={"in": "header", "name": "X-API-Key"}, secret={"key": SECRETS["api_key"]},
    )
    connections.credential_update(credential=credential, actor=platform_admin, secret={"key": SECRETS["token"]})
    connector = make_connector(org, name="Billing")
    operation = make_operation(connector, method="POST", path="/invoices", name="createInvoice")
    connection = connections.connection_create(
        connector=connector, organisation=org, name="Billing", created_by=designer,
        action_credentials=[{"ref": credential.pk}],
    )
    method_rights_update(
        connection=connection, actor=platform_admin,
        changes=[{"operation": operation.pk, "principals": [f"group:{org.members_group_id}"],
                  "requires_confirmation": True}],
    )
    foreign_admin = make_user(other_org, username="foreign-admin", is_platform_admin=True)
    foreign = connections.credential_create(
        organisation=other_org, name="Foreign key", kind="http_bearer", created_by=foreign_admin,
        config={}, secret={"token": SECRETS["password"]},
    )
    return {
        "credential": credential, "connection": connection, "operation": operation,
        "foreign_admin": foreign_admin, "foreign_credential": foreign,
    }


def entries_of(organisation):
    return AuditEntry.objects.filter(organisation=organisation)
