"""Store a large real schema as a connector: parse, DB writes of create and re-import, separately.

    python bench/connector_store.py [FILE]     # default: var/specs/github.json (bench/fetch_specs.py)

Runs against a fresh SQLite database in a temporary folder (never the development database) and
prints methods, parse seconds, seconds of database writes for the creation, for a re-import of the
same file (nothing changes) and for a re-import after every operation changed, and the query count.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "var" / "specs" / "github.json"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run python bench/fetch_specs.py first, or give a file")
    temp = tempfile.mkdtemp(prefix="connector-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integrations_platform.settings")
    os.environ["SQLITE_PATH"] = str(Path(temp) / "bench.sqlite3")
    os.environ.setdefault("VAR_DIR", temp)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.services import organisation_get_or_create_default
    from connectors.services import connector_create_from_openapi, connector_import_schema, schema_parse

    call_command("migrate", verbosity=0)
    organisation = organisation_get_or_create_default()
    data = path.read_bytes()

    started = time.perf_counter()
    parsed = schema_parse(schema_text=data)
    parse_seconds = time.perf_counter() - started

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        connector, version = connector_create_from_openapi(
            organisation=organisation,
            name="Bench",
            base_url="https://api.example.com",
            schema_text=data,
            acknowledged=True,
            created_by=None,
            parsed=parsed,
        )
        create_seconds = time.perf_counter() - started

    started = time.perf_counter()
    connector_import_schema(connector=connector, schema_text=data, imported_by=None, parsed=parsed)
    same_seconds = time.perf_counter() - started

    document = json.loads(data) if data.lstrip()[:1] == b"{" else None
    changed_seconds = None
    if document is not None:
        for item in document.get("paths", {}).values():
            for operation in item.values() if isinstance(item, dict) else []:
                if isinstance(operation, dict) and "responses" in operation:
                    operation["summary"] = f"{operation.get('summary', '')} (changed)"
        changed = json.dumps(document)
        changed_parsed = schema_parse(schema_text=changed)
        started = time.perf_counter()
        last = connector_import_schema(
            connector=connector, schema_text=changed, imported_by=None, parsed=changed_parsed
        )
        changed_seconds = time.perf_counter() - started
        assert len(last.changed) == version.operation_count, (len(last.changed), version.operation_count)

    print(f"file: {path.name} ({len(data) / 1e6:.1f} MB), methods: {version.operation_count}")
    print(f"parse + validate: {parse_seconds:.2f} s")
    print(f"create (DB writes): {create_seconds:.2f} s in {len(queries.captured_queries)} queries")
    print(f"re-import, nothing changed (DB writes): {same_seconds:.2f} s")
    if changed_seconds is not None:
        print(f"re-import, every method changed (DB writes): {changed_seconds:.2f} s")


if __name__ == "__main__":
    main()
