"""Re-encrypt every encrypted field under the newest key of FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.db import connection as db_connection
from django.db import transaction
from encrypted_model_fields.fields import EncryptedMixin


def encrypted_fields() -> list[tuple[type, list[str]]]:
    """Every (model, [column, ...]) holding encrypted values, across all installed apps."""
    found = []
    for model in apps.get_models():
        columns = [f.column for f in model._meta.concrete_fields if isinstance(f, EncryptedMixin)]
        if columns and model._meta.managed and not model._meta.proxy:
            found.append((model, columns))
    return found


def _keys() -> tuple[Fernet, MultiFernet]:
    keys = settings.FIELD_ENCRYPTION_KEY
    if isinstance(keys, str | bytes):
        keys = [keys]
    fernets = [Fernet(k) for k in keys]
    if not fernets:
        raise ValueError("FIELD_ENCRYPTION_KEY holds no key.")
    return fernets[0], MultiFernet(fernets)


def rotate_encryption_key(*, batch_size: int = 200, report: Callable[[str], None] | None = None) -> dict:
    """Re-encrypt values not already under the newest key. Per row, in batches, each batch in its
    own transaction; a row changed meanwhile is skipped (conditional update) and picked up by the
    next run. Returns counts: changed, already current, unreadable (no configured key decrypts)."""
    newest, all_keys = _keys()
    counts = {"changed": 0, "current": 0, "unreadable": 0}
    quote = db_connection.ops.quote_name
    for model, columns in encrypted_fields():
        table = quote(model._meta.db_table)
        pk = quote(model._meta.pk.column)
        last = None
        while True:
            select_cols = ", ".join([pk, *(quote(c) for c in columns)])
            with db_connection.cursor() as cursor:
                if last is None:
                    cursor.execute(f"SELECT {select_cols} FROM {table} ORDER BY {pk} LIMIT %s", [batch_size])  # noqa: S608
                else:
                    cursor.execute(
                        f"SELECT {select_cols} FROM {table} WHERE {pk} > %s ORDER BY {pk} LIMIT %s",  # noqa: S608
                        [last, batch_size],
                    )
                rows = cursor.fetchall()
            if not rows:
                break
            with transaction.atomic(), db_connection.cursor() as cursor:
                for row in rows:
                    row_pk, values = row[0], row[1:]
                    for column, value in zip(columns, values, strict=True):
                        if value is None or value == "":
                            continue
                        token = value.encode() if isinstance(value, str) else bytes(value)
                        try:
                            newest.decrypt(token)
                        except InvalidToken:
                            pass
                        else:
                            counts["current"] += 1
                            continue
                        try:
                            rotated = all_keys.rotate(token).decode()
                        except InvalidToken:
                            counts["unreadable"] += 1
                            continue
                        cursor.execute(
                            f"UPDATE {table} SET {quote(column)} = %s WHERE {pk} = %s AND {quote(column)} = %s",  # noqa: S608
                            [rotated, row_pk, value],
                        )
                        counts["changed"] += cursor.rowcount
            last = rows[-1][0]
            if report:
                report(f"{model._meta.label}: up to id {last}, {counts['changed']} changed so far")
    return counts
