"""Writes for connectors: create from an OpenAPI schema, import a new schema version, update, delete.

Every write runs in one transaction: a bad schema or a bad field saves nothing. Errors are
``ApplicationError`` with ``field_errors`` named as the API names its fields (``name``,
``base_url``, ``openapi_schema``, ``connection_variables`` ...); forms map them onto their fields.

Decisions:
- The base URL must be http(s) with a host. ``{name}`` placeholders (connection variables) are
  allowed in it. When none is given on create, the schema's first absolute http(s) server is used;
  the admin form still requires it (the administrator states the endpoint).
- Operations are matched by method + path across imports and keep their row (and so the rights
  set on them); removed operations are deleted with their rights.
- ``updated_at`` of the connector moves whenever a child changes (version, auth schemes,
  variables), as the REST contract says.
- Connectors own their whole creation: a pasted schema, a catalog service and a re-import all
  store their version through one function (``_schema_version_store``), each with one audit
  entry. This app imports neither ``connections`` nor ``accesscontrol``: who may create or
  re-import, and keeping method rights in step with what a re-import changed, are the layer
  above's (``accesscontrol.services``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from connectors.catalog import base_url_for, catalog_service, schema_document_for, settings_clean
from connectors.models import (
    AuthSchemeConfig,
    Connector,
    ConnectorVersion,
    IntegrationType,
    Operation,
    OrganisationIntegrationType,
)
from connectors.openapi import SchemaEmpty, SchemaError, SchemaTooLarge, parse_schema
from connectors.openapi.request import origin, server_entries, url_template_places, used_server, variable_value_problem
from integrations_platform.errors import ApplicationError

NAME_MAX = 200
DESCRIPTION_MAX = 10_000
URL_MAX = 2000
VARIABLES_MAX = 100
VARIABLE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
VARIABLE_VALUE_MAX = 2000
ORIGINS_MAX = 50
_PLACEHOLDER_RE = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]{0,63}\}")
_http_url = URLValidator(schemes=["http", "https"])

ACKNOWLEDGEMENT_TEXT = (
    "I have reviewed and understood the requirements and responsibilities for creating and integrating a tool, "
    "including ensuring appropriate data access permissions."
)

# PATCH: what may change, and what is refused by name.
CONNECTOR_UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "base_url",
        "documentation_url",
        "icon_url",
        "enabled",
        "variables",
        "approved_origins",
        "auth_scheme_config_ids",
    }
)
CONNECTOR_IMMUTABLE_FIELDS = frozenset(
    {
        "id",
        "pk",
        "organisation",
        "protocol_type",
        "integration_type",
        "versions",
        "current_version",
        "operations",
        "created_at",
        "updated_at",
        "created_by",
        "acknowledged_by",
        "acknowledged_at",
        "connections",
        "service_settings",
    }
)

# Fields of an operation compared across imports to tell "changed" from "unchanged".
_OPERATION_FIELDS = (
    "name",
    "tag",
    "tags",
    "summary",
    "description",
    "deprecated",
    "input_schema",
    "parameters",
    "request_body",
    "security",
    "servers",
    "output_schema",
    "unusable_reason",
)
_BULK_BATCH = 500
# bulk_update writes one CASE per field over the batch, which costs batch² on SQLite: keep it small.
_BULK_UPDATE_BATCH = 100


# --- Validation helpers ------------------------------------------------------------------------


def validate_http_url(value: Any, *, field_name: str, required: bool) -> str:
    """An http(s) URL with a host, at most 2,000 characters; ``{name}`` placeholders allowed."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ApplicationError(f"{field_name} must be text.", field_errors={field_name: "Must be a string."})
    value = value.strip()
    if not value:
        if required:
            raise ApplicationError(f"{field_name} is required.", field_errors={field_name: "This field is required."})
        return ""
    if len(value) > URL_MAX:
        raise ApplicationError(
            f"{field_name} is too long.", field_errors={field_name: f"At most {URL_MAX} characters."}
        )
    probe = _PLACEHOLDER_RE.sub("placeholder", value)
    try:
        _http_url(probe)
    except ValidationError:
        raise ApplicationError(
            f"{field_name} is not a valid URL.",
            field_errors={field_name: "Give an http:// or https:// URL with a host name."},
        ) from None
    return value


def validate_base_url(value: Any, *, required: bool, field_name: str = "base_url") -> str:
    """The API endpoint: an http(s) URL whose ``{name}`` variables stand only where DESIGN.md allows
    (one whole label of the host, or the path; never the scheme, port, user info or query)."""
    value = validate_http_url(value, field_name=field_name, required=required)
    _places, problems = url_template_places(value)
    if not problems and urlsplit(_PLACEHOLDER_RE.sub("placeholder", value)).username is not None:
        problems = ["the URL cannot carry a user name or password"]
    if problems:
        raise ApplicationError(
            f"{field_name} puts a variable where it could move the call.",
            field_errors={field_name: "; ".join(problems).capitalize() + "."},
        )
    return value


def validate_variables_fit(*, base_url: str, variables, field_name: str = "variables") -> None:
    """Each default value fits where the base URL puts its variable (a host label, a path segment)."""
    places, _problems = url_template_places(base_url or "")
    for index, item in enumerate(variables or []):
        for place in sorted(places.get(item.get("name"), ())):
            reason = variable_value_problem(str(item.get("value", "")), place)
            if reason and item.get("value", "") != "":
                raise ApplicationError(
                    f"The variable {item['name']!r} does not fit where the base URL puts it.",
                    field_errors={
                        f"{field_name}.{index}.value": f"In the {place} of the base URL, the value {reason}."
                    },
                )


def validate_origins(value: Any, *, field_name: str = "approved_origins") -> list[str]:
    """Approved server origins: ``scheme://host[:port]`` each, http or https, no path, no variable."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApplicationError(
            "approved_origins must be a list.", field_errors={field_name: "Give a list of origins such as https://upload.example.com."}
        )
    if len(value) > ORIGINS_MAX:
        raise ApplicationError("Too many approved origins.", field_errors={field_name: f"At most {ORIGINS_MAX}."})
    out: list[str] = []
    for index, item in enumerate(value):
        key = f"{field_name}.{index}"
        if not isinstance(item, str) or not item.strip():
            raise ApplicationError("Each approved origin is text.", field_errors={key: "Must be a non-empty string."})
        text = item.strip()
        parts = urlsplit(text)
        problem = None
        if len(text) > URL_MAX:
            problem = f"At most {URL_MAX} characters."
        elif "{" in text or "}" in text:
            problem = "An approved origin cannot hold variables."
        elif parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
            problem = "Give scheme://host[:port], for example https://upload.example.com."
        elif parts.username is not None or parts.path not in ("", "/") or parts.query or parts.fragment:
            problem = "Only scheme, host and port: no path, query, fragment or user name."
        else:
            try:
                parts.port  # noqa: B018 (reading it checks it)
            except ValueError:
                problem = "The port is not a number from 0 to 65535."
        if problem:
            raise ApplicationError("Invalid approved origin.", field_errors={key: problem})
        normalised = origin(text)
        if normalised not in out:
            out.append(normalised)
    return out


def validate_text(value: Any, *, field_name: str, max_length: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ApplicationError(f"{field_name} must be text.", field_errors={field_name: "Must be a string."})
    value = value.strip()
    if required and not value:
        raise ApplicationError(f"{field_name} is required.", field_errors={field_name: "This field is required."})
    if len(value) > max_length:
        raise ApplicationError(
            f"{field_name} is too long.",
            field_errors={field_name: f"At most {max_length} characters (this has {len(value)})."},
        )
    if "\x00" in value:
        raise ApplicationError(
            f"{field_name} contains a NUL character.", field_errors={field_name: "NUL characters are not allowed."}
        )
    return value


def validate_variables(value: Any, *, field_name: str = "variables") -> list[dict[str, str]]:
    """``[{"name": ..., "value": ...}]``: names usable as ``{name}``, unique, values text."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApplicationError(
            "Connection variables must be a list.",
            field_errors={field_name: 'Give a list of {"name": ..., "value": ...} objects.'},
        )
    if len(value) > VARIABLES_MAX:
        raise ApplicationError(
            "Too many connection variables.", field_errors={field_name: f"At most {VARIABLES_MAX} variables."}
        )
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        key = f"{field_name}.{index}"
        if not isinstance(item, dict):
            raise ApplicationError(
                "Each connection variable must be an object.", field_errors={key: 'Give {"name": ..., "value": ...}.'}
            )
        unknown = sorted(set(item) - {"name", "value"})
        if unknown:
            raise ApplicationError(
                "Unknown keys in a connection variable.", field_errors={key: f"Unknown keys: {', '.join(unknown)}."}
            )
        name = item.get("name")
        if not isinstance(name, str) or not VARIABLE_NAME_RE.match(name):
            raise ApplicationError(
                "Invalid connection variable name.",
                field_errors={
                    f"{key}.name": "Letters, digits and _ only, not starting with a digit, at most 64 characters."
                },
            )
        if name in seen:
            raise ApplicationError(
                "Connection variable names must be unique.", field_errors={f"{key}.name": f"{name!r} is repeated."}
            )
        seen.add(name)
        val = item.get("value", "")
        if val is None:
            val = ""
        if not isinstance(val, str):
            raise ApplicationError(
                "Connection variable values must be text.", field_errors={f"{key}.value": "Must be a string."}
            )
        if len(val) > VARIABLE_VALUE_MAX:
            raise ApplicationError(
                "Connection variable value too long.",
                field_errors={f"{key}.value": f"At most {VARIABLE_VALUE_MAX} characters."},
            )
        out.append({"name": name, "value": val})
    return out


def _name_taken(*, organisation, name: str, exclude_pk: int | None = None) -> bool:
    qs = Connector.objects.filter(organisation=organisation, name__iexact=name)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def _refuse_taken_name(*, organisation, name: str, exclude_pk: int | None = None) -> None:
    if _name_taken(organisation=organisation, name=name, exclude_pk=exclude_pk):
        raise ApplicationError(
            "A connector with this name exists in the organisation.",
            field_errors={"name": f"{name!r} is already used by another connector of this organisation."},
        )


# --- Schema parsing ----------------------------------------------------------------------------


def schema_parse(*, schema_text: str | bytes, field_name: str = "openapi_schema"):
    """Parse and validate a schema with the limits from settings; never fetches anything.

    The one place the size limit (``OPENAPI_MAX_SCHEMA_BYTES``) is checked, whoever gives the
    schema (admin form, API, command, catalog): the parser refuses text above it before reading it.
    A post larger than the server takes at all (``DATA_UPLOAD_MAX_MEMORY_SIZE``) never gets here: it
    is answered 413 first (``integrations_platform.middleware``).

    Raises ``ApplicationError`` naming ``field_name``, with where (pointer or line/column) and a
    plain message; ``code`` is ``invalid_schema`` (``schema_too_large`` for the size limit).
    """
    give = ApplicationError(
        "Give an OpenAPI schema.", field_errors={field_name: "Paste the schema (JSON or YAML) or upload a file."}
    )
    if schema_text is None:
        raise give
    if not isinstance(schema_text, (str, bytes)):
        raise ApplicationError("The schema must be text.", field_errors={field_name: "Must be a string."})
    limit = settings.OPENAPI_MAX_SCHEMA_BYTES
    try:
        return parse_schema(
            schema_text,
            max_bytes=limit,
            max_depth=settings.OPENAPI_MAX_DEPTH,
            max_aliases=settings.OPENAPI_MAX_YAML_ALIASES,
            max_operations=settings.OPENAPI_MAX_OPERATIONS,
        )
    except SchemaEmpty:
        raise give from None
    except SchemaTooLarge:
        raise ApplicationError(
            "The schema is too large.",
            field_errors={field_name: f"The schema is larger than the {limit:,} bytes accepted."},
            code="schema_too_large",
        ) from None
    except SchemaError as exc:
        raise ApplicationError(
            f"The schema cannot be imported: {exc}", field_errors={field_name: str(exc)}, code="invalid_schema"
        ) from None
    except RecursionError:
        raise ApplicationError(
            "The schema is nested too deeply.",
            field_errors={field_name: "The schema is nested too deeply to import."},
            code="invalid_schema",
        ) from None


def _schema_size(schema_text: str | bytes) -> int:
    return len(schema_text) if isinstance(schema_text, bytes) else len(schema_text.encode("utf-8", "replace"))


def _default_base_url(parsed) -> str:
    for server in getattr(parsed, "servers", None) or []:
        if isinstance(server, str) and server.lower().startswith(("http://", "https://")):
            return server.rstrip("/")
    return ""


# --- Building rows from a parsed schema --------------------------------------------------------


@dataclass
class _Rows:
    operations: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _operation_values(parsed_operation, document_servers=()) -> dict:
    tags = [str(t) for t in (parsed_operation.tags or [])]
    return {
        "name": parsed_operation.name,
        "tag": (tags[0] if tags else "")[:200],
        "tags": tags,
        "summary": (parsed_operation.summary or "")[:1000],
        "description": parsed_operation.description or "",
        "deprecated": bool(parsed_operation.deprecated),
        "input_schema": parsed_operation.input_schema or {},
        "output_schema": getattr(parsed_operation, "output_schema", None) or {},
        "parameters": parsed_operation.parameters or [],
        "request_body": parsed_operation.request_body,
        "security": parsed_operation.security,
        "servers": server_entries(parsed_operation.servers or [], document_servers),
        "unusable_reason": getattr(parsed_operation, "unusable_reason", "") or "",
    }


def _rows_from(parsed, *, approved_origins=()) -> _Rows:
    rows = _Rows(warnings=list(parsed.warnings or []))
    document_servers = [s for s in getattr(parsed, "servers", None) or [] if isinstance(s, str)]
    foreign: dict[str, list[str]] = {}
    for op in parsed.operations:
        method = (op.method or "").upper()
        if len(op.path) > 2000 or len(method) > 10:
            rows.warnings.append(f"{method} {op.path[:80]}…: path longer than 2,000 characters, skipped.")
            continue
        values = _operation_values(op, document_servers)
        rows.operations.append({"method": method, "path": op.path, **values})
        used = used_server(values["servers"])
        if used is not None and "origin" in used:
            foreign.setdefault(used["origin"], []).append(_key(method, op.path))
    approved = {origin(o) for o in approved_origins}
    for server_origin, methods in foreign.items():
        example = ", ".join(methods[:3]) + (f" and {len(methods) - 3} more" if len(methods) > 3 else "")
        state = (
            "it is approved on this connector"
            if server_origin in approved
            else "their calls are refused until an administrator approves this origin on the connector "
            "(Approved server origins)"
        )
        rows.warnings.append(
            f"Server on another origin than the document's: {server_origin[:200]}, used by "
            f"{len(methods)} method{'s' if len(methods) != 1 else ''} ({example[:300]}); {state}."
        )
    if not rows.operations:
        raise ApplicationError(
            "The schema has no operations to import.",
            field_errors={"openapi_schema": "No method under paths: nothing to import."},
            code="invalid_schema",
        )
    return rows


def _auth_schemes_from(parsed, *, existing_names: set[str], start_position: int) -> tuple[list, list[str]]:
    kinds = set(AuthSchemeConfig.Kind.values)
    configs, warnings = [], []
    position = start_position
    for scheme in parsed.security_schemes or []:
        name = str(scheme.get("scheme_name") or "")[:200]
        kind = scheme.get("kind")
        if name in existing_names:
            continue
        if kind not in kinds:
            warnings.append(f"Security scheme {name!r}: kind {kind!r} is not supported, skipped.")
            continue
        existing_names.add(name)
        configs.append(
            AuthSchemeConfig(
                scheme_name=name,
                kind=kind,
                config=scheme.get("config") or {},
                description=str(scheme.get("description") or "")[:DESCRIPTION_MAX],
                position=position,
            )
        )
        position += 1
    return configs, warnings


def _key(method: str, path: str) -> str:
    return f"{method} {path}"


# --- Storing a schema version: the one function for create, re-import and catalog ---------------


def _schema_version_store(
    *, connector: Connector, parsed, rows: _Rows, schema_size: int, actor, new: bool
) -> tuple[ConnectorVersion, list[AuthSchemeConfig]]:
    """Store ``parsed`` as the connector's next version, in the caller's transaction: its auth
    scheme configs (the schemes not there yet), the version row with what it added, removed and
    changed (lists of "METHOD path"), and its operations. Operations are matched by method + path
    and keep their row (and so the rights set on them); fields are updated; removed ones are
    deleted. ``new``: the connector was just made, so there is nothing to compare with (no query).
    Answers the version and the auth scheme configs it added."""
    if new:
        last, existing, auth_existing, start = 0, {}, set(), 0
    else:
        last = connector.versions.order_by("-number").values_list("number", flat=True).first() or 0
        existing = {
            (op.method, op.path): op
            for op in Operation.objects.filter(connector=connector).only(
                "id", "connector_id", "method", "path", *_OPERATION_FIELDS
            )
        }
        auth_existing = set(connector.auth_schemes.values_list("scheme_name", flat=True))
        start = (connector.auth_schemes.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    incoming = {(r["method"], r["path"]): r for r in rows.operations}
    added = [_key(*k) for k in incoming if k not in existing]
    removed = [_key(*k) for k in existing if k not in incoming]
    # (operation, {field: new value}) for the operations kept whose definition changed.
    changed_ops: list[tuple[Operation, dict]] = []
    for k, row in incoming.items():
        op = existing.get(k)
        if op is not None:
            diff = {f: row[f] for f in _OPERATION_FIELDS if getattr(op, f) != row[f]}
            if diff:
                changed_ops.append((op, diff))

    auth_configs, auth_warnings = _auth_schemes_from(parsed, existing_names=auth_existing, start_position=start)
    for config in auth_configs:
        config.connector = connector
    AuthSchemeConfig.objects.bulk_create(auth_configs)

    version = ConnectorVersion(
        connector=connector,
        number=last + 1,
        openapi_version=str(parsed.openapi_version or "")[:20],
        source_format=str(parsed.source_format or "")[:8],
        source_size=schema_size,
        document=parsed.document,
        title=str(parsed.title or "")[:500],
        warnings=rows.warnings + auth_warnings,
        added=added,
        removed=removed,
        changed=[_key(op.method, op.path) for op, _ in changed_ops],
        operation_count=len(rows.operations),
        created_by=actor,
    )
    version.save()
    removed_ids = [existing[k].pk for k in existing if k not in incoming]
    if removed_ids:
        Operation.objects.filter(pk__in=removed_ids).delete()
    # Names stay unique at every step: changed names go through a temporary unique name first.
    renamed = [op for op, diff in changed_ops if "name" in diff]
    if renamed:
        for op in renamed:
            op.name = f"~{op.pk}"[:64]
        Operation.objects.bulk_update(renamed, ["name"], batch_size=_BULK_UPDATE_BATCH)
    # One small UPDATE per changed operation, of the changed fields only: on SQLite and
    # PostgreSQL this beats bulk_update's CASE expressions, which grow with batch × fields.
    for op, diff in changed_ops:
        Operation.objects.filter(pk=op.pk).update(**diff, updated_in_version=version)
    Operation.objects.bulk_create(
        [
            Operation(connector=connector, first_version=version, updated_in_version=version, **incoming[k])
            for k in incoming
            if k not in existing
        ],
        batch_size=_BULK_BATCH,
    )
    connector.current_version = version
    connector.save(update_fields=["current_version", "updated_at"])
    return version, auth_configs


# --- Create ------------------------------------------------------------------------------------


def _connector_create(
    *,
    organisation,
    integration_type: str,
    name: str,
    description: str,
    base_url: str,
    schema_text: str | bytes,
    parsed,
    created_by,
    documentation_url: str = "",
    icon_url: str = "",
    variables: list | None = None,
    service_settings: dict | None = None,
    audit: dict | None = None,
) -> tuple[Connector, ConnectorVersion]:
    """The connector row and its first version, in one transaction, with one audit entry."""
    rows = _rows_from(parsed)
    now = timezone.now()
    actor = created_by if getattr(created_by, "pk", None) else None
    try:
        with transaction.atomic():
            connector = Connector(
                organisation=organisation,
                integration_type_id=integration_type,
                name=name,
                description=description,
                base_url=base_url,
                documentation_url=documentation_url,
                icon_url=icon_url,
                variables=variables or [],
                service_settings=service_settings or {},
                acknowledged_by=actor,
                acknowledged_at=now,
                created_by=actor,
            )
            connector.full_clean(exclude=["base_url", "documentation_url", "icon_url", "current_version"])
            connector.save()
            version, auth_configs = _schema_version_store(
                connector=connector,
                parsed=parsed,
                rows=rows,
                schema_size=_schema_size(schema_text),
                actor=actor,
                new=True,
            )
            audit_record(
                actor=actor,
                action="connector.create",
                obj=connector,
                changes={
                    "name": name,
                    "base_url": base_url,
                    "version": 1,
                    "operations": len(rows.operations),
                    "auth_schemes": [c.scheme_name for c in auth_configs],
                    "acknowledged": True,
                    **(audit or {}),
                },
            )
    except IntegrityError:
        # Two creations racing for one name: the constraint is the last word.
        raise ApplicationError(
            "A connector with this name exists in the organisation.",
            field_errors={"name": f"{name!r} is already used by another connector of this organisation."},
        ) from None
    return connector, version


def connector_create_from_openapi(
    *,
    organisation,
    name: str,
    description: str = "",
    base_url: str = "",
    schema_text: str | bytes,
    acknowledged: bool,
    created_by,
    documentation_url: str = "",
    icon_url: str = "",
    variables: list | None = None,
    parsed=None,
) -> tuple[Connector, ConnectorVersion]:
    """A custom connector from a pasted OpenAPI schema: version 1, its operations, and auth scheme
    configs prefilled from the schema's security schemes. Nothing is saved when anything is wrong.

    ``base_url`` empty: the schema's first absolute http(s) server is used, else an error.
    ``parsed``: the result of ``schema_parse(schema_text=...)`` when the caller already has it.
    """
    if organisation is None:
        raise ApplicationError(
            "The connector needs an organisation.", field_errors={"organisation": "This field is required."}
        )
    name = validate_text(name, field_name="name", max_length=NAME_MAX, required=True)
    description = validate_text(description, field_name="description", max_length=DESCRIPTION_MAX, required=False)
    base_url = validate_base_url(base_url, required=False)
    documentation_url = validate_http_url(documentation_url, field_name="documentation_url", required=False)
    icon_url = validate_http_url(icon_url, field_name="icon_url", required=False)
    variables = validate_variables(variables)
    if acknowledged is not True:
        raise ApplicationError(
            "The acknowledgement is required.",
            field_errors={"acknowledged": f"Confirm: {ACKNOWLEDGEMENT_TEXT}"},
        )
    _refuse_taken_name(organisation=organisation, name=name)
    if parsed is None:
        parsed = schema_parse(schema_text=schema_text)
    if not base_url:
        base_url = _default_base_url(parsed)
        if not base_url:
            raise ApplicationError(
                "Give the API endpoint.",
                field_errors={"base_url": "The schema declares no absolute http(s) server; give the base URL."},
            )
        base_url = validate_base_url(base_url, required=True)
    validate_variables_fit(base_url=base_url, variables=variables, field_name="variables")
    return _connector_create(
        organisation=organisation,
        integration_type=IntegrationType.CUSTOM_OPENAPI,
        name=name,
        description=description,
        base_url=base_url,
        schema_text=schema_text,
        parsed=parsed,
        created_by=created_by,
        documentation_url=documentation_url,
        icon_url=icon_url,
        variables=variables,
    )


def connector_create_from_catalog(
    *, organisation, catalog: str, name: str, settings: dict | None, created_by, description: str = ""
) -> Connector:
    """A connector from the built-in catalog of standard services (``connectors.catalog``): the
    service's OpenAPI document, adjusted to the settings, through the same import as a pasted one;
    ``integration_type`` is the catalog key, ``service_settings`` the checked settings, the base URL
    follows from them. One transaction, one audit entry. Nothing is saved on any error.

    Who may, and whether the integration type is switched on, is the caller's question
    (``accesscontrol.services.connector_catalog_create`` asks the access-control policy)."""
    if organisation is None:
        raise ApplicationError(
            "The connector needs an organisation.", field_errors={"organisation": "This field is required."}
        )
    service = catalog_service(catalog)
    if not IntegrationType.objects.filter(pk=service.key).exists():
        raise ApplicationError(
            f"The integration type '{service.name}' is not installed.",
            field_errors={"catalog": "Not installed."},
            code="integration_type_disabled",
        )
    name = validate_text(name, field_name="name", max_length=NAME_MAX, required=True)
    description = validate_text(description, field_name="description", max_length=DESCRIPTION_MAX, required=False)
    clean = settings_clean(service, settings)
    _refuse_taken_name(organisation=organisation, name=name)
    text = schema_document_for(service, clean)
    connector, _version = _connector_create(
        organisation=organisation,
        integration_type=service.key,
        name=name,
        description=description or service.description,
        base_url=base_url_for(service, clean),
        schema_text=text,
        parsed=schema_parse(schema_text=text),
        created_by=created_by,
        documentation_url=service.documentation_url,
        service_settings=clean,
        audit={"catalog": service.key, "settings": sorted(clean)},
    )
    return connector


# --- Import a new version ----------------------------------------------------------------------


def connector_import_schema(
    *, connector: Connector, schema_text: str | bytes, imported_by, parsed=None
) -> ConnectorVersion:
    """Import a schema again: a new version, stored by the same function as the first
    (``_schema_version_store``). Answers the version, which says what changed (``added``,
    ``removed``, ``changed``: lists of "METHOD path").

    Rights on methods are not this app's: the layer above keeps them in step with what changed
    (``accesscontrol.services.connector_schema_import``, which whoever re-imports calls)."""
    if parsed is None:
        parsed = schema_parse(schema_text=schema_text)
    rows = _rows_from(parsed, approved_origins=connector.approved_origins or [])
    actor = imported_by if getattr(imported_by, "pk", None) else None
    with transaction.atomic():
        connector = Connector.objects.select_for_update().get(pk=connector.pk)
        version, auth_configs = _schema_version_store(
            connector=connector, parsed=parsed, rows=rows, schema_size=_schema_size(schema_text), actor=actor, new=False
        )
        audit_record(
            actor=actor,
            action="connector.import_schema",
            obj=connector,
            changes={
                "version": version.number,
                "added": len(version.added),
                "removed": len(version.removed),
                "changed": len(version.changed),
                "auth_schemes_added": [c.scheme_name for c in auth_configs],
            },
        )
    return version


# --- Update and delete -------------------------------------------------------------------------


def connector_validate_update(*, connector: Connector, fields: dict) -> dict:
    """Check a PATCH without saving; returns the cleaned values. Used by forms to show errors."""
    unknown = sorted(set(fields) - CONNECTOR_UPDATABLE_FIELDS - CONNECTOR_IMMUTABLE_FIELDS)
    if unknown:
        raise ApplicationError("Unknown fields.", field_errors=dict.fromkeys(unknown, "Unknown field."))
    immutable = sorted(set(fields) & CONNECTOR_IMMUTABLE_FIELDS)
    if immutable:
        raise ApplicationError(
            f"These fields cannot be changed: {', '.join(immutable)}.",
            field_errors=dict.fromkeys(immutable, "This field cannot be changed."),
        )
    cleaned: dict[str, Any] = {}
    if "name" in fields:
        cleaned["name"] = validate_text(fields["name"], field_name="name", max_length=NAME_MAX, required=True)
        _refuse_taken_name(organisation=connector.organisation_id, name=cleaned["name"], exclude_pk=connector.pk)
    if "description" in fields:
        cleaned["description"] = validate_text(
            fields["description"], field_name="description", max_length=DESCRIPTION_MAX, required=False
        )
    if "base_url" in fields:
        cleaned["base_url"] = validate_base_url(fields["base_url"], required=True)
    for name in ("documentation_url", "icon_url"):
        if name in fields:
            cleaned[name] = validate_http_url(fields[name], field_name=name, required=False)
    if "enabled" in fields:
        if not isinstance(fields["enabled"], bool):
            raise ApplicationError("enabled must be true or false.", field_errors={"enabled": "Must be a boolean."})
        cleaned["enabled"] = fields["enabled"]
    if "variables" in fields:
        cleaned["variables"] = validate_variables(fields["variables"])
    if "base_url" in cleaned or "variables" in cleaned:
        validate_variables_fit(
            base_url=cleaned.get("base_url", connector.base_url),
            variables=cleaned.get("variables", connector.variables),
            field_name="base_url" if "base_url" in cleaned and "variables" not in cleaned else "variables",
        )
    if "approved_origins" in fields:
        cleaned["approved_origins"] = validate_origins(fields["approved_origins"])
    if "auth_scheme_config_ids" in fields:
        ids = fields["auth_scheme_config_ids"]
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise ApplicationError(
                "auth_scheme_config_ids must be a list of ids.",
                field_errors={"auth_scheme_config_ids": "Give a list of integer ids."},
            )
        current = set(connector.auth_schemes.values_list("pk", flat=True))
        if len(ids) != len(set(ids)) or set(ids) != current:
            raise ApplicationError(
                "auth_scheme_config_ids must list each of the connector's auth scheme configs once.",
                field_errors={
                    "auth_scheme_config_ids": (
                        f"Give exactly these ids, in the new order: {sorted(current)}."
                        if current
                        else "The connector has no auth scheme configs: give []."
                    )
                },
            )
        cleaned["auth_scheme_config_ids"] = ids
    return cleaned


def connector_update(*, connector: Connector, actor, **fields) -> Connector:
    """PATCH semantics: only the given fields change. Immutable fields are refused by name.

    ``auth_scheme_config_ids`` reorders the auth scheme configs (exactly the connector's ids).
    ``variables`` replaces the default connection variables and overwrites ``variables`` on every
    connection of the connector. ``updated_at`` moves with any change, children included.
    """
    cleaned = connector_validate_update(connector=connector, fields=fields)
    changes: dict[str, Any] = {}
    try:
        with transaction.atomic():
            connector = Connector.objects.select_for_update().get(pk=connector.pk)
            update_fields: list[str] = []
            for name in (
                "name",
                "description",
                "base_url",
                "documentation_url",
                "icon_url",
                "enabled",
                "variables",
                "approved_origins",
            ):
                if name in cleaned and getattr(connector, name) != cleaned[name]:
                    changes[name] = {"before": getattr(connector, name), "after": cleaned[name]}
                    setattr(connector, name, cleaned[name])
                    update_fields.append(name)
            if "auth_scheme_config_ids" in cleaned:
                configs = {c.pk: c for c in connector.auth_schemes.all()}
                before = [c.pk for c in sorted(configs.values(), key=lambda c: (c.position, c.pk))]
                if before != cleaned["auth_scheme_config_ids"]:
                    for position, pk in enumerate(cleaned["auth_scheme_config_ids"]):
                        configs[pk].position = position
                    AuthSchemeConfig.objects.bulk_update(list(configs.values()), ["position"])
                    changes["auth_scheme_config_ids"] = {"before": before, "after": cleaned["auth_scheme_config_ids"]}
            if "variables" in cleaned:
                # Seed 002: the new list overwrites the variables of every connection, even unchanged.
                count = connector.connections.update(variables=cleaned["variables"], updated_at=timezone.now())
                if count:
                    changes.setdefault("variables", {"before": connector.variables, "after": cleaned["variables"]})
                    changes["connections_updated"] = count
            if changes:
                connector.full_clean(exclude=["base_url", "documentation_url", "icon_url", "current_version"])
                connector.save(update_fields=[*update_fields, "updated_at"])
                audit_record(actor=actor, action="connector.update", obj=connector, changes=changes)
    except IntegrityError:
        raise ApplicationError(
            "A connector with this name exists in the organisation.",
            field_errors={"name": "Already used by another connector of this organisation."},
        ) from None
    except ValidationError as exc:
        raise ApplicationError(
            "Invalid connector.",
            field_errors=getattr(exc, "message_dict", {"non_field_errors": exc.messages}),
        ) from None
    return connector


def connector_touch(*, connector: Connector, actor=None, reason: str = "") -> datetime:
    """A child changed (say, an auth scheme edited in the admin): move ``updated_at``."""
    now = timezone.now()
    Connector.objects.filter(pk=connector.pk).update(updated_at=now)
    connector.updated_at = now
    if reason:
        audit_record(actor=actor, action="connector.update", obj=connector, changes={"children": reason})
    return now


def connector_delete(*, connector: Connector, actor) -> None:
    """Delete the connector with its versions, operations, auth schemes and connections."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="connector.delete",
            obj=connector,
            changes={"name": connector.name, "connections_deleted": connector.connections.count()},
        )
        connector.delete()


# --- integration type switches (two levels) -----------------------------------------------------
# Who may switch is decided by the callers (the admin asks the access-control policy: the operator
# for the installation, an organisation's platform administrators for their organisation).


@transaction.atomic
def integration_type_set_enabled(*, integration_type: IntegrationType, enabled: bool, actor) -> IntegrationType:
    """The operator's switch of an integration type, for the whole installation."""
    before = IntegrationType.objects.filter(pk=integration_type.pk).values_list("enabled", flat=True).first()
    IntegrationType.objects.filter(pk=integration_type.pk).update(enabled=bool(enabled))
    integration_type.enabled = bool(enabled)
    if before != integration_type.enabled:
        audit_record(
            actor=actor, action="integration_type.switched", obj=integration_type, organisation=None,
            changes={"level": "installation", "before": before, "after": integration_type.enabled},
        )
    return integration_type


def organisation_integration_types_ensure(*, organisation) -> int:
    """A switch row (on) for every integration type the organisation has none for; answers how
    many were made. No row already means on: the rows only give the admin something to switch."""
    have = OrganisationIntegrationType.objects.filter(organisation=organisation).values("integration_type_id")
    missing = IntegrationType.objects.exclude(pk__in=have).values_list("pk", flat=True)
    rows = [OrganisationIntegrationType(organisation=organisation, integration_type_id=key) for key in missing]
    OrganisationIntegrationType.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


@transaction.atomic
def organisation_integration_type_set(
    *, organisation, integration_type: IntegrationType, enabled: bool, actor
) -> OrganisationIntegrationType:
    """An organisation's own switch of an integration type (within the operator's)."""
    row, _ = OrganisationIntegrationType.objects.select_for_update().get_or_create(
        organisation=organisation, integration_type=integration_type
    )
    before = row.enabled
    row.enabled = bool(enabled)
    row.changed_by = actor if getattr(actor, "pk", None) else None
    row.save()
    if before != row.enabled:
        audit_record(
            actor=actor, action="integration_type.switched", obj=integration_type, organisation=organisation,
            changes={"level": "organisation", "before": before, "after": row.enabled},
        )
    return row
