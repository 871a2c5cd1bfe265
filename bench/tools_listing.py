"""How fast is ``GET /api/v1/tools/``?

An organisation with 1,000 connections (100 connectors of 50 methods each, input schemas of about
1 KB). Two users, each in 5 groups: one is granted 200 connections (10,000 tools), the other 20
(1,000 tools), through their groups and individually; every method of a granted connection is
allowed to them. Prints p50 and p99 of the JSON and ``?format=openai`` answers, and the number of
SQL queries of one request, for both users in the same run.

    python bench/tools_listing.py                       # SQLite file under var/bench/
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_tools python bench/tools_listing.py

The database is built once and reused (``--rebuild`` starts again). Requests go through Django's
whole stack in process (middleware, API-key authentication, DRF), without a network hop.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))

CONNECTIONS = 1000
CONNECTORS = 100
METHODS = 50
GROUPS_PER_USER = 5


def configure(rebuild: bool) -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integrations_platform.settings")
    os.environ.setdefault("DJANGO_ENV", "development")
    os.environ["DEBUG"] = "false"
    if not os.environ.get("DATABASE_URL"):
        path = BASE / "var" / "bench" / "tools.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        if rebuild:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.environ["SQLITE_PATH"] = str(path)
        return f"SQLite {path.relative_to(BASE)}"
    _ensure_postgres_database(os.environ["DATABASE_URL"], drop=rebuild)
    return "PostgreSQL " + os.environ["DATABASE_URL"].rsplit("/", 1)[-1]


def _ensure_postgres_database(url: str, *, drop: bool) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if drop:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _schema(n: int) -> dict:
    """An input schema of about 1 KB."""
    properties = {
        f"field_{i}": {
            "type": "string",
            "description": f"Field {i} of method {n}: a value the external system expects here, as text.",
            "maxLength": 200,
        }
        for i in range(9)
    }
    return {"type": "object", "properties": properties, "required": ["field_0"], "additionalProperties": False}


def build() -> tuple:
    from django.db import transaction

    from accesscontrol.selectors import connection_principals
    from accesscontrol.services import connection_access_define, method_rights_bulk
    from accounts.models import Organisation, User
    from accounts.services import group_create, organisation_create, user_create
    from connections.models import Connection
    from connectors.models import Connector, ConnectorVersion, IntegrationType, Operation

    organisation = Organisation.objects.filter(slug="bench-tools").first()
    if organisation is not None:
        return User.objects.get(username="bench-200"), User.objects.get(username="bench-20")
    started = time.perf_counter()
    print("Building the data set (once)...", flush=True)
    with transaction.atomic():
        organisation = organisation_create(name="Bench tools", slug="bench-tools")
        designer = user_create(username="bench-designer", organisation=organisation, is_designer=True)
        u200 = user_create(username="bench-200", organisation=organisation)
        u20 = user_create(username="bench-20", organisation=organisation)
        others = [user_create(username=f"bench-other-{i}", organisation=organisation) for i in range(20)]
        groups200 = [group_create(organisation=organisation, name=f"a{i}", members=[u200, *others[:3]])
                     for i in range(GROUPS_PER_USER)]
        groups20 = [group_create(organisation=organisation, name=f"b{i}", members=[u20, *others[3:6]])
                    for i in range(GROUPS_PER_USER)]
        other_groups = [group_create(organisation=organisation, name=f"o{i}", members=others[i:i + 5])
                        for i in range(10)]
        integration_type, _ = IntegrationType.objects.get_or_create(
            key=IntegrationType.CUSTOM_OPENAPI, defaults={"name": "Custom OpenAPI"}
        )
        methods = ["GET"] * 30 + ["POST"] * 10 + ["PUT"] * 5 + ["DELETE"] * 5
        connectors = []
        for c in range(CONNECTORS):
            connector = Connector.objects.create(
                organisation=organisation, integration_type=integration_type, name=f"System {c}",
                base_url="https://api.example.com",
            )
            # As an import leaves it: a version, which the operations record as where they last changed.
            version = ConnectorVersion.objects.create(
                connector=connector, number=1, openapi_version="3.0.3", source_format="json", document={}
            )
            Operation.objects.bulk_create(
                Operation(
                    connector=connector, first_version=version, updated_in_version=version,
                    method=method, path=f"/resources{m}/{{id}}",
                    name=f"{method.lower()}Resource{m}",
                    tag=f"tag{m % 5}", tags=[f"tag{m % 5}"], summary=f"{method} resource {m} of system {c}",
                    description="Reads or changes one resource of the external system. " * 3,
                    input_schema=_schema(m),
                )
                for m, method in enumerate(methods)
            )
            connectors.append(connector)
    for i in range(CONNECTIONS):
        with transaction.atomic():
            connection = Connection.objects.create(
                connector=connectors[i % CONNECTORS], organisation=organisation, name=f"Connection {i}",
                created_by=designer,
            )
            if i < 150:
                access = {"level": "groups", "groups": [groups200[i % GROUPS_PER_USER], other_groups[i % 10]]}
            elif i < 200:
                access = {"level": "individuals", "users": [u200, others[i % 20]]}
            elif i < 215:
                access = {"level": "groups", "groups": [groups20[i % GROUPS_PER_USER]]}
            elif i < 220:
                access = {"level": "individuals", "users": [u20]}
            elif i % 2:
                access = {"level": "groups", "groups": [other_groups[i % 10]]}
            else:
                access = {"level": "individuals", "users": others[i % 20: i % 20 + 3]}
            connection_access_define(connection=connection, actor=designer, **access)
            keys = [p.key for p in connection_principals(connection=connection)]
            method_rights_bulk(connection=connection, actor=designer, allow_principals=keys)
        if i % 100 == 99:
            print(f"  {i + 1} connections", flush=True)
    # Fresh statistics, as autovacuum (PostgreSQL) or a periodic ANALYZE (SQLite) would give.
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"Built in {time.perf_counter() - started:.0f} s", flush=True)
    return u200, u20


def measure(client, params: dict, runs: int) -> tuple[float, float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get("/api/v1/tools/", params)  # warm up
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/api/v1/tools/", params)
    queries = len(ctx.captured_queries)
    assert response.status_code == 200, response.content[:500]
    size = len(response.content)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get("/api/v1/tools/", params)
        response.content  # noqa: B018
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p99 = timings[min(len(timings) - 1, round(0.99 * (len(timings) - 1)))]
    return statistics.median(timings), p99, queries, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    database = configure(args.rebuild)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from rest_framework.test import APIClient

    from accesscontrol.selectors import tool_list_for
    from accounts.services import api_key_create

    u200, u20 = build()
    print(f"\nGET /api/v1/tools/ on {database}, {args.runs} runs each")
    print(f"{'granted':>8} {'tools':>6} {'format':>7} {'p50 ms':>8} {'p99 ms':>8} {'queries':>8} {'KB':>7}")
    for user, granted in ((u20, 20), (u200, 200)):
        tools = len(tool_list_for(user=user))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(user=user, name='bench')[1]}")
        for label, params in (("json", {}), ("openai", {"format": "openai"})):
            p50, p99, queries, size = measure(client, params, args.runs)
            print(f"{granted:>8} {tools:>6} {label:>7} {p50:>8.1f} {p99:>8.1f} {queries:>8} {size / 1024:>7.0f}")
    for user, granted in ((u20, 20), (u200, 200)):
        started = time.perf_counter()
        for _ in range(10):
            tool_list_for(user=user)
        print(f"selector tool_list_for alone, {granted} connections: {(time.perf_counter() - started) * 100:.1f} ms")


if __name__ == "__main__":
    main()
