"""One shape of an audit entry (the API's items, the JSON lines), and the exports: CSV and JSON
lines, streamed in batches read by id, so that a year of entries never sits in memory and no
database cursor stays open between batches."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from audit import links
from audit.models import AuditEntry

BATCH_SIZE = 1000
CSV_COLUMNS = [
    "id", "at", "organisation_id", "organisation", "actor_id", "actor", "action",
    "object_type", "object_id", "object_repr", "changes",
]
FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "jsonl": ("application/x-ndjson; charset=utf-8", "jsonl"),
}


def entry_data(entry: AuditEntry) -> dict:
    """An entry as the API and the JSON lines show it; ``actor`` and ``organisation`` must be
    selected with it (``select_related``), or each costs a query."""
    actor, organisation = entry.actor, entry.organisation
    return {
        "id": entry.pk,
        "at": entry.at.isoformat(),
        "organisation": {"id": organisation.pk, "name": organisation.name} if organisation else None,
        "actor": {"id": actor.pk, "username": actor.get_username()} if actor else None,
        "action": entry.action,
        "object": {
            "type": entry.object_type,
            "id": entry.object_id,
            "repr": entry.object_repr,
            "api_url": links.api_url(entry),
            "admin_url": links.admin_url(entry),
            "history_url": links.history_url(entry),
        },
        "changes": entry.changes,
    }


def changes_summary(changes: dict, limit: int = 200) -> str:
    """``changes`` in one line for a list (``fields: name, secret; operations: [...]``)."""
    parts = []
    for key, value in (changes or {}).items():
        if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
            text = ", ".join(map(str, value))
        elif value is None or isinstance(value, str | int | float | bool):
            text = str(value)
        else:
            text = json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, separators=(", ", ": "))
        parts.append(f"{key}: {text}")
    summary = "; ".join(parts)
    return summary if len(summary) <= limit else summary[: limit - 1] + "…"


def in_batches(entries: QuerySet[AuditEntry], batch_size: int | None = None) -> Iterator[list[AuditEntry]]:
    """``entries``, newest first, ``batch_size`` at a time: one query per batch (keyset on id)."""
    batch_size = batch_size or BATCH_SIZE
    entries = entries.select_related("actor", "organisation").order_by("-id")
    last = None
    while True:
        batch = list((entries if last is None else entries.filter(id__lt=last))[:batch_size])
        if not batch:
            return
        yield batch
        last = batch[-1].pk


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text: a value chosen by someone (a name) that starts
    like a formula gets a leading apostrophe (OWASP's advice against CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_row(entry: AuditEntry) -> list[str]:
    actor, organisation = entry.actor, entry.organisation
    return [
        _cell(entry.pk),
        _cell(entry.at.isoformat()),
        _cell(entry.organisation_id),
        _cell(organisation.name if organisation else ""),
        _cell(entry.actor_id),
        _cell(actor.get_username() if actor else ""),
        _cell(entry.action),
        _cell(entry.object_type),
        _cell(entry.object_id),
        _cell(entry.object_repr),
        _cell(json.dumps(entry.changes, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))),
    ]


class _Line:
    """What csv.writer writes to: hands each line back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def csv_lines(batches: Iterable[list[AuditEntry]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_COLUMNS)
    for batch in batches:
        yield "".join(writer.writerow(_csv_row(entry)) for entry in batch)


def json_lines(batches: Iterable[list[AuditEntry]]) -> Iterator[str]:
    for batch in batches:
        yield "".join(json.dumps(entry_data(entry), cls=DjangoJSONEncoder) + "\n" for entry in batch)


def export_response(entries: QuerySet[AuditEntry], fmt: str) -> StreamingHttpResponse:
    """The streamed download of ``entries`` (already scoped and filtered) as ``csv`` or ``jsonl``."""
    content_type, extension = FORMATS[fmt]
    lines = csv_lines if fmt == "csv" else json_lines
    filename = f"audit-{timezone.now():%Y%m%d-%H%M%S}.{extension}"
    return StreamingHttpResponse(
        lines(in_batches(entries)),
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
