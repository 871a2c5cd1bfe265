"""Reads for connectors: plain queries over one connector. Who may see which connector is decided
by the access-control policy (``accesscontrol.selectors.connector_list_visible_to``), not here, so
that this app depends on no other."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from connectors.models import Connector, ConnectorVersion, Operation

HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")


def connector_list_of(*, organisation_id) -> QuerySet[Connector]:
    """The connectors of one organisation, with what their pages show (not the stored documents)."""
    return (
        Connector.objects.filter(organisation_id=organisation_id)
        .select_related("organisation", "integration_type", "current_version")
        .defer("current_version__document")
    )


def operation_list(
    *, connector: Connector, search: str | None = None, tag: str | None = None, method: str | None = None
) -> QuerySet[Operation]:
    """The operations of the connector's current version, filtered; ordered by tag, path, method."""
    qs = Operation.objects.filter(connector=connector)
    if search:
        search = search.strip()[:200]
        qs = qs.filter(
            Q(name__icontains=search)
            | Q(path__icontains=search)
            | Q(summary__icontains=search)
            | Q(tag__icontains=search)
        )
    if tag is not None and tag != "":
        qs = qs.filter(tag=tag)
    if method:
        qs = qs.filter(method=method.strip().upper())
    return qs.order_by("tag", "path", "method")


def operation_tag_summary(*, connector: Connector) -> list[dict]:
    """``[{"tag": ..., "count": ..., "methods": {"GET": n, ...}}]`` in one query."""
    rows = (
        Operation.objects.filter(connector=connector)
        .values("tag", "method")
        .annotate(count=Count("id"))
        .order_by("tag", "method")
    )
    summary: dict[str, dict] = {}
    for row in rows:
        entry = summary.setdefault(row["tag"], {"tag": row["tag"], "count": 0, "methods": {}})
        entry["count"] += row["count"]
        entry["methods"][row["method"]] = row["count"]
    return list(summary.values())


def connector_version_list(*, connector: Connector) -> QuerySet[ConnectorVersion]:
    """Versions newest first, without the (possibly large) stored document."""
    return (
        ConnectorVersion.objects.filter(connector=connector)
        .select_related("created_by")
        .defer("document")
        .order_by("-number")
    )


def connector_server_origins(*, connector: Connector) -> list[dict]:
    """The origins other than the base URL's that the connector's methods name as their server,
    with how many methods use each and whether an administrator approved it."""
    from connectors.openapi.request import origin, used_server

    counts: dict[str, int] = {}
    for servers in Operation.objects.filter(connector=connector).exclude(servers=[]).values_list("servers", flat=True):
        entry = used_server(servers)
        if entry is not None and entry.get("origin"):
            counts[entry["origin"]] = counts.get(entry["origin"], 0) + 1
    approved = {origin(o) for o in connector.approved_origins or []}
    return [{"origin": o, "methods": n, "approved": o in approved} for o, n in sorted(counts.items())]
