"""Fixtures for invocations: a real upstream on 127.0.0.1 (allow-listed), connectors, tools."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import pytest
from guardian.shortcuts import assign_perm

from accesscontrol.models import MethodRight
from accesscontrol.services import connection_access_define
from connections.models import Connection, ConnectionCredential, Credential
from connectors.models import Connector, IntegrationType, Operation
from invocations.models import Invocation
from tests.invocations.upstream import Upstream

_seq = itertools.count(1)


@pytest.fixture
def upstream(settings):
    server = Upstream()
    settings.OUTGOING_ALLOWED_ADDRESSES = [server.address]
    settings.INVOCATION_RETRY_BASE_DELAY = 0.01
    settings.INVOCATION_RETRY_MAX_DELAY = 0.05
    yield server
    server.close()


def make_connector(org, base_url: str, **kwargs) -> Connector:
    kind, _ = IntegrationType.objects.get_or_create(
        key=IntegrationType.CUSTOM_OPENAPI, defaults={"name": "Custom OpenAPI", "enabled": True}
    )
    return Connector.objects.create(
        organisation=org, integration_type=kind, name=f"API {next(_seq)}", base_url=base_url, **kwargs
    )


def make_connection(connector, created_by, **kwargs) -> Connection:
    connection = Connection.objects.create(
        connector=connector,
        organisation=connector.organisation,
        name=f"Connection {next(_seq)}",
        created_by=created_by,
        **kwargs,
    )
    connection_access_define(connection=connection, level="company")
    return connection


def make_operation(connector, *, method="GET", path="/items", parameters=(), request_body=None, schema=None, **kw):
    properties = {}
    required = []
    for p in parameters:
        properties[p.get("property") or p["name"]] = p.pop("schema", {})
        if p.get("required") or p.get("in") == "path":
            required.append(p.get("property") or p["name"])
    if request_body:
        properties["body"] = request_body.pop("schema", {})
        if request_body.get("required"):
            required.append("body")
    input_schema = schema or {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    return Operation.objects.create(
        connector=connector,
        method=method,
        path=path,
        name=kw.pop("name", f"op{next(_seq)}"),
        input_schema=input_schema,
        parameters=list(parameters),
        request_body=request_body,
        **kw,
    )


def grant(connection, operation, who, *, requires_confirmation=False) -> MethodRight:
    right, _ = MethodRight.objects.get_or_create(
        connection=connection, operation=operation, defaults={"requires_confirmation": requires_confirmation}
    )
    assign_perm("accesscontrol.call_operation", who, right)
    return right


def add_credential(connection, kind: str, *, config=None, secret=None, position=0) -> Credential:
    """A credential made and checked by the connections service, linked as an action credential."""
    from connections.services import credential_create

    credential = credential_create(
        organisation=connection.organisation,
        name=f"Credential {next(_seq)}",
        kind=kind,
        config=config or {},
        secret=secret or {},
        created_by=connection.created_by,
    )
    ConnectionCredential.objects.create(
        connection=connection, credential=credential, purpose="action", position=position
    )
    return credential


@dataclass
class Tool:
    connector: Connector
    connection: Connection
    operation: Operation

    def body(self, arguments=None, **extra) -> dict:
        return {
            "connection": self.connection.pk,
            "operation": self.operation.name,
            "arguments": arguments or {},
            **extra,
        }


@pytest.fixture
def make_tool(org, designer, upstream):
    def factory(*, user=None, requires_confirmation=False, connector=None, connection_kwargs=None, **op_kwargs):
        connector = connector or make_connector(org, upstream.url)
        connection = make_connection(connector, designer, **(connection_kwargs or {}))
        operation = make_operation(connector, **op_kwargs)
        grant(connection, operation, user or designer, requires_confirmation=requires_confirmation)
        return Tool(connector, connection, operation)

    return factory


def wait_final(invocation_id, timeout: float = 30) -> Invocation:
    """Read the row until it leaves queued/running (a guard against a hang, not a timing)."""
    deadline = time.monotonic() + timeout
    while True:
        invocation = Invocation.objects.get(pk=invocation_id)
        if invocation.status not in {"queued", "running"} or time.monotonic() > deadline:
            return invocation
        time.sleep(0.05)
