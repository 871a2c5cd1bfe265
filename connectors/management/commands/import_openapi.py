"""``python manage.py import_openapi FILE --name NAME --base-url URL [--organisation SLUG]``

Scripted import of an OpenAPI schema as a new custom connector, or with ``--new-version`` as a new
version of the existing connector of that name. Prints a progress line for each step and a summary
(methods, seconds, warnings). Any refusal (bad schema, missing or unreadable file, duplicate name,
unknown organisation) exits with status 1 and one line on stderr, never a traceback.

Like the admin and the API, a command is a way in from outside: a new version goes through the
access-control service that keeps method rights in step (``connector_schema_import``).

Running the command stands for the acknowledgement of the admin form: the operator who runs it
takes on the responsibilities of integrating the tool; it is recorded without a user.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accesscontrol.services import connector_schema_import
from accounts.models import Organisation
from accounts.services import organisation_get_or_create_default
from connectors.models import Connector
from connectors.services import connector_create_from_openapi, schema_parse
from integrations_platform.errors import ApplicationError


def _one_line(exc: ApplicationError) -> str:
    parts = [exc.message]
    for key, problems in exc.field_errors.items():
        parts += [f"{key}: {problem}" for problem in problems if problem not in exc.message]
    return " ".join(" ".join(parts).split())[:1000]


class Command(BaseCommand):
    help = "Import an OpenAPI schema (JSON or YAML file) as a custom connector."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path of the schema file (JSON or YAML).")
        parser.add_argument("--name", required=True, help="Name of the connector.")
        parser.add_argument("--base-url", default="", help="API endpoint; default: the schema's first server.")
        parser.add_argument("--description", default="")
        parser.add_argument("--organisation", default="", help="Slug of the owner organisation; default: 'default'.")
        parser.add_argument(
            "--new-version", action="store_true", help="Import as a new version of the existing connector NAME."
        )

    def handle(self, *args, **options):
        try:
            self._handle(options)
        except ApplicationError as exc:
            raise CommandError(_one_line(exc)) from None

    def _read(self, path: str) -> bytes:
        limit = settings.OPENAPI_MAX_SCHEMA_BYTES
        try:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except FileNotFoundError:
            raise CommandError(f"No such file: {path}") from None
        except IsADirectoryError:
            raise CommandError(f"Not a file: {path}") from None
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from None
        # One byte past the limit is enough: the size is checked where every schema is (schema_parse).
        return data

    def _organisation(self, slug: str) -> Organisation:
        if not slug:
            return organisation_get_or_create_default()
        organisation = Organisation.objects.filter(slug=slug).first()
        if organisation is None:
            raise CommandError(f"No organisation with the slug {slug!r}.")
        return organisation

    def _handle(self, options):
        started = time.monotonic()
        organisation = self._organisation(options["organisation"])
        data = self._read(options["file"])
        self.stdout.write(f"Parsing and validating {len(data):,} bytes…")
        parsed = schema_parse(schema_text=data)
        self.stdout.write(f"Storing {len(parsed.operations):,} methods ({time.monotonic() - started:.2f} s so far)…")
        if options["new_version"]:
            connector = Connector.objects.filter(organisation=organisation, name=options["name"]).first()
            if connector is None:
                raise CommandError(f"No connector named {options['name']!r} in {organisation.slug}.")
            version = connector_schema_import(connector=connector, schema_text=data, actor=None, parsed=parsed)
        else:
            connector, version = connector_create_from_openapi(
                organisation=organisation,
                name=options["name"],
                description=options["description"],
                base_url=options["base_url"],
                schema_text=data,
                acknowledged=True,
                created_by=None,
                parsed=parsed,
            )
        seconds = time.monotonic() - started
        for warning in version.warnings[:20]:
            self.stdout.write(f"warning: {warning}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {connector.name!r} (id {connector.pk}, version {version.number}, OpenAPI "
                f"{version.openapi_version}) in {organisation.slug}: {version.operation_count} methods, "
                f"+{len(version.added)} -{len(version.removed)} ~{len(version.changed)}, "
                f"{len(version.warnings)} warnings, {seconds:.2f} s."
            )
        )
