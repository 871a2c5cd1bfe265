"""Reads for connectors. Access control lives here, so no view can forget it.

Decisions:
- In the API (and on the pages) a user sees only the connectors of their own organisation, never
  another's; platform administrators included. Members who are not platform administrators do
  not see connectors that are switched off (the connector's ``enabled`` flag or its integration
  type), as DESIGN.md asks: hidden from designers and assistants.
- Writes through the API are for platform administrators, on their own organisation's
  connectors (``connector_user_may_write``).
- In the Django admin, platform administrators operate the whole platform and see every
  organisation's connectors (``connector_list_for_admin``).
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from connectors.models import Connector, ConnectorVersion, Operation

HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")


def _is_platform_admin(user) -> bool:
    return bool(
        getattr(user, "is_authenticated", False) and user.is_active and getattr(user, "is_platform_admin", False)
    )


def connector_list_visible_to(*, user) -> QuerySet[Connector]:
    """The connectors ``user`` may see: their organisation's, switched-on ones unless admin."""
    if not getattr(user, "is_authenticated", False) or not user.organisation_id:
        return Connector.objects.none()
    qs = Connector.objects.filter(organisation_id=user.organisation_id)
    if not _is_platform_admin(user):
        qs = qs.filter(enabled=True, integration_type__enabled=True)
    return qs.select_related("organisation", "integration_type", "current_version").defer("current_version__document")


def connector_get_visible(*, user, pk) -> Connector | None:
    return connector_list_visible_to(user=user).filter(pk=pk).first()


def connector_user_may_write(*, user, connector: Connector | None = None) -> bool:
    """Platform administrators write their own organisation's connectors through the API."""
    if not _is_platform_admin(user) or not user.organisation_id:
        return False
    return connector is None or connector.organisation_id == user.organisation_id


def connector_list_for_admin(*, user) -> QuerySet[Connector]:
    """Every connector, for a platform administrator in the admin; nothing for anyone else."""
    if not _is_platform_admin(user):
        return Connector.objects.none()
    return Connector.objects.all()


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
