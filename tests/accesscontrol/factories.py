"""Small factories for connectors, operations and connections, straight through the ORM (the
connector and connection services live on other branches)."""

from __future__ import annotations

import itertools

from connections.models import Connection
from connectors.models import Connector, IntegrationType, Operation

_seq = itertools.count(1)


def make_integration_type(key: str | None = None, *, enabled: bool = True) -> IntegrationType:
    key = key or f"type-{next(_seq)}"
    integration_type, _ = IntegrationType.objects.get_or_create(key=key, defaults={"name": key, "enabled": enabled})
    return integration_type


def make_connector(organisation, *, integration_type=None, name: str | None = None, enabled: bool = True,
                   operations=()) -> Connector:
    connector = Connector.objects.create(
        organisation=organisation,
        integration_type=integration_type or make_integration_type(IntegrationType.CUSTOM_OPENAPI),
        name=name or f"Connector {next(_seq)}",
        base_url="https://api.example.com",
        enabled=enabled,
    )
    for spec in operations:
        make_operation(connector, **spec) if isinstance(spec, dict) else make_operation(connector, method=spec)
    return connector


def make_operation(connector, *, method: str = "GET", path: str | None = None, name: str | None = None,
                   tags=(), summary: str = "", description: str = "", input_schema=None) -> Operation:
    n = next(_seq)
    return Operation.objects.create(
        connector=connector,
        method=method,
        path=path or f"/things/{n}",
        name=name or f"{method.lower()}Thing{n}",
        tag=tags[0] if tags else "",
        tags=list(tags),
        summary=summary or f"{method} thing {n}",
        description=description,
        input_schema=input_schema
        if input_schema is not None
        else {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
    )


def make_connection(connector, created_by, *, name: str | None = None, organisation=None) -> Connection:
    return Connection.objects.create(
        connector=connector,
        organisation=organisation or connector.organisation,
        name=name or f"Connection {next(_seq)}",
        created_by=created_by,
    )
