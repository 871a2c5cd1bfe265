"""Writes for connections and their credentials.

Secrets are write-only: these functions take them, validate and store them encrypted, and never
put a value in an error, a log line or an audit entry (audit entries name fields only).
"""

from __future__ import annotations

import json
import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accesscontrol import policy
from audit.services import audit_record
from connections import kinds
from connections.models import Connection, ConnectionCredential, Credential
from connectors.catalog import catalog_service, credential_config_for
from connectors.openapi.request import url_template_places, variable_value_problem
from integrations_platform.errors import ApplicationError

logger = logging.getLogger(__name__)

MAX_VARIABLE_VALUE = 2000
MAX_VARIABLES = 100
MAX_CREDENTIALS_PER_LIST = 20
MAX_NAME = 200

# Settings of a connection that connection_create/connection_update accept besides the above.
SETTING_FIELDS = (
    "connect_timeout",
    "read_timeout",
    "retry_policy",
    "error_notify_email",
    "error_notify_webhook_url",
    "test_operation",
)
ACCESS_FIELDS = ("access_level", "groups", "users", "organisations")


class SecretUnreadable(ApplicationError):
    """The stored secret did not decrypt (a missing key in FIELD_ENCRYPTION_KEY)."""


# --- reading secrets (for the code that applies them; never for display) -----------------------


def _decode(value: str, what: str) -> dict:
    if not value:
        return {}
    # The encryption library returns the ciphertext itself when no key decrypts it: a Fernet
    # token is not JSON, so this refuses it instead of sending ciphertext as a password.
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SecretUnreadable(
            f"The credential's {what} cannot be decrypted: check FIELD_ENCRYPTION_KEY holds the key it was saved with.",
            code="secret_unreadable",
        )
    return data


def credential_secret_read(credential: Credential) -> dict:
    return _decode(credential.secret, "secret")


def credential_tokens_read(credential: Credential) -> dict:
    return _decode(credential.tokens, "tokens")


def _require_manager(user, organisation) -> None:
    if not policy.may_write_credentials(user, organisation):
        raise ApplicationError(
            "Only platform administrators and process designers of the organisation may do this.",
            status_code=403,
            code="permission_denied",
        )


def _require_connection_manager(user, connection) -> None:
    if not (policy.is_operator(user) or policy.may_manage_connection(user, connection)):
        raise ApplicationError(
            "Only the organisation's platform administrators and the connection's creator may change it.",
            status_code=403,
            code="permission_denied",
        )


def _full_clean(obj, exclude=None) -> None:
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ApplicationError("Invalid data.", field_errors=exc.message_dict) from None


def _check_name(name, field: str = "name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise ApplicationError("A name is required.", field_errors={field: ["This field is required."]})
    name = name.strip()
    if len(name) > MAX_NAME:
        raise ApplicationError("The name is too long.", field_errors={field: [f"At most {MAX_NAME} characters."]})
    return name


# --- credentials ------------------------------------------------------------------------------


def credential_create(
    *, organisation, name: str, kind: str, config: dict | None = None, secret: dict | None = None, created_by
) -> Credential:
    """Create an organisation's credential. OAuth2 authorization-code tokens come later (Connect)."""
    _require_manager(created_by, organisation)
    name = _check_name(name)
    clean_config, clean_secret = kinds.validate(kind, config, secret)
    if Credential.objects.filter(organisation=organisation, name=name).exists():
        raise ApplicationError(
            "A credential with this name already exists in the organisation.",
            field_errors={"name": ["A credential with this name already exists."]},
        )
    now = timezone.now()
    credential = Credential(
        organisation=organisation,
        name=name,
        kind=kind,
        config=clean_config,
        secret=json.dumps(clean_secret),
        created_by=created_by,
        secret_changed_at=now,
        secret_changed_by=created_by,
    )
    _full_clean(credential)
    try:
        with transaction.atomic():
            credential.save()
    except IntegrityError:
        raise ApplicationError(
            "A credential with this name already exists in the organisation.",
            field_errors={"name": ["A credential with this name already exists."]},
        ) from None
    audit_record(
        actor=created_by,
        action="credential.create",
        obj=credential,
        changes={"fields": ["name", "kind", *(f"config.{k}" for k in clean_config), "secret"]},
    )
    return credential


def _refuse_unreadable(credential: Credential) -> None:
    """Refuse to save a credential whose stored values do not decrypt under the configured keys.

    The encryption library hands back the ciphertext itself when no key of FIELD_ENCRYPTION_KEY
    opens a value; saving the row would encrypt that ciphertext again under the new key, and the
    value would be lost under every key. Deleting the credential stays possible."""
    unreadable = []
    for field, read in (("secret", credential_secret_read), ("tokens", credential_tokens_read)):
        try:
            read(credential)
        except SecretUnreadable:
            unreadable.append(field)
    if unreadable:
        raise ApplicationError(
            f"The credential's stored {' and '.join(unreadable)} cannot be decrypted with the keys in "
            "FIELD_ENCRYPTION_KEY, so nothing was changed: saving now would lose the value for good. "
            "Add the key it was saved with to FIELD_ENCRYPTION_KEY (behind the new one; then run "
            "rotate_encryption_key) and try again.",
            field_errors=dict.fromkeys(unreadable, "Cannot be decrypted with the configured keys."),
            status_code=409,
            code="secret_unreadable",
        )


def credential_update(
    *, credential: Credential, actor, name: str | None = None, config: dict | None = None, secret: dict | None = None
) -> Credential:
    """Change a credential. ``secret`` replaces the stored secret whole; None keeps it. Only the
    changed columns are written: an encrypted column no change touches keeps its ciphertext."""
    _require_manager(actor, credential.organisation)
    changed: list[str] = []
    with transaction.atomic():
        credential = Credential.objects.select_for_update().get(pk=credential.pk)
        _refuse_unreadable(credential)
        if name is not None:
            name = _check_name(name)
            if name != credential.name:
                if Credential.objects.filter(organisation_id=credential.organisation_id, name=name).exists():
                    raise ApplicationError(
                        "A credential with this name already exists in the organisation.",
                        field_errors={"name": ["A credential with this name already exists."]},
                    )
                credential.name = name
                changed.append("name")
        if config is not None or secret is not None:
            new_config = credential.config if config is None else config
            if credential.kind == kinds.Kind.CUSTOM_HEADERS and secret is None:
                new_config = {}
            clean_config, clean_secret = kinds.validate(credential.kind, new_config, secret, secret_required=False)
            if credential.kind == kinds.Kind.CUSTOM_HEADERS and secret is None:
                clean_config = credential.config
            changed += sorted(
                f"config.{k}" for k in set(clean_config) | set(credential.config)
                if clean_config.get(k) != credential.config.get(k)
            )
            credential.config = clean_config
            if clean_secret is not None:
                credential.secret = json.dumps(clean_secret)
                credential.secret_changed_at = timezone.now()
                credential.secret_changed_by = actor
                changed.append("secret")
                if credential.kind in (kinds.Kind.OAUTH2_AUTHORIZATION_CODE, kinds.Kind.OAUTH2_CLIENT_CREDENTIALS):
                    # A new client secret: the old tokens were issued to the old client.
                    credential.tokens = ""
                    credential.token_expires_at = None
                    credential.token_version += 1
                    changed.append("tokens")
        if not changed:
            return credential
        _full_clean(credential)
        columns = {"config" if f.startswith("config.") else f for f in changed}
        if "secret" in columns:
            columns |= {"secret_changed_at", "secret_changed_by"}
        if "tokens" in columns:
            columns |= {"token_expires_at", "token_version"}
        credential.save(update_fields=sorted({*columns, "updated_at"}))
        audit_record(actor=actor, action="credential.update", obj=credential, changes={"fields": changed})
    return credential


def credential_delete(*, credential: Credential, actor) -> None:
    _require_manager(actor, credential.organisation)
    in_use = list(
        ConnectionCredential.objects.filter(credential=credential)
        .select_related("connection")
        .values_list("connection__name", flat=True)[:5]
    )
    if in_use:
        raise ApplicationError(
            "The credential is used by connections; remove it from them first.",
            field_errors={"credential": [f"Used by: {', '.join(in_use)}."]},
            code="credential_in_use",
        )
    audit_record(actor=actor, action="credential.delete", obj=credential, changes={"fields": ["name", "kind"]})
    credential.delete()


def credential_tokens_store(*, credential: Credential, tokens: dict, expires_at, actor=None) -> Credential:
    """Store OAuth2 tokens after a flow (not a refresh: see ``oauth.credential_refresh_token``)."""
    with transaction.atomic():
        credential = Credential.objects.select_for_update().get(pk=credential.pk)
        _refuse_unreadable(credential)
        credential.tokens = json.dumps(tokens)
        credential.token_expires_at = expires_at
        credential.token_version += 1
        credential.token_refresh_claimed_until = None
        credential.save(update_fields=["tokens", "token_expires_at", "token_version", "token_refresh_claimed_until"])
        audit_record(actor=actor, action="credential.tokens", obj=credential, changes={"fields": ["tokens"]})
        connections_mark_active(credential=credential, actor=actor)
    return credential


# --- variables --------------------------------------------------------------------------------


def variables_clean(*, connector, variables) -> list[dict]:
    """The connector's variables with this connection's values. Names must be declared by the
    connector (its list is the list of every connection: seed 002); values are bounded strings."""
    defaults = [dict(v) for v in (connector.variables or []) if isinstance(v, dict) and "name" in v]
    if variables is None:
        return [{"name": v["name"], "value": str(v.get("value", ""))} for v in defaults]
    if isinstance(variables, dict):
        variables = [{"name": k, "value": v} for k, v in variables.items()]
    if not isinstance(variables, list):
        raise ApplicationError("Invalid variables.", field_errors={"variables": ["Give a list of {name, value}."]})
    if len(variables) > MAX_VARIABLES:
        raise ApplicationError("Too many variables.", field_errors={"variables": [f"At most {MAX_VARIABLES}."]})
    declared = {v["name"] for v in defaults}
    # Where the base URL puts each variable: a value may never move the call to another origin.
    places, _problems = url_template_places(connector.base_url or "")
    given: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for i, item in enumerate(variables):
        if not isinstance(item, dict) or set(item) - {"name", "value"} or "name" not in item:
            errors[f"variables[{i}]"] = ["Each variable is {name, value}."]
            continue
        name, value = item["name"], item.get("value", "")
        if not isinstance(name, str) or not kinds.VARIABLE_NAME_RE.match(name):
            errors[f"variables[{i}].name"] = ["Letters, digits and underscores, not starting with a digit, at most 64."]
            continue
        if name not in declared:
            errors[f"variables[{i}].name"] = [f"The connector declares no variable '{name}'."]
            continue
        if name in given:
            errors[f"variables[{i}].name"] = [f"'{name}' is given twice."]
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            errors[f"variables[{i}].value"] = ["Must be a string."]
            continue
        if len(value) > MAX_VARIABLE_VALUE:
            errors[f"variables[{i}].value"] = [f"At most {MAX_VARIABLE_VALUE} characters."]
            continue
        if kinds._CONTROL_RE.search(value):
            errors[f"variables[{i}].value"] = ["Control characters are not allowed."]
            continue
        unfit = next(
            (
                f"In the {place} of the connector's base URL, the value {reason}."
                for place in sorted(places.get(name, ()))
                if (reason := variable_value_problem(value, place))
            ),
            None,
        )
        if unfit:
            errors[f"variables[{i}].value"] = [unfit]
            continue
        given[name] = value
    if errors:
        raise ApplicationError("The variables are not valid.", field_errors=errors)
    return [{"name": v["name"], "value": given.get(v["name"], str(v.get("value", "")))} for v in defaults]


def connections_variables_overwrite(*, connector, actor=None) -> int:
    """Seed 002: the connector's variable list overwrites every connection's. Returns the count."""
    new = variables_clean(connector=connector, variables=None)
    count = 0
    for connection in Connection.objects.filter(connector=connector).select_related("connector", "organisation"):
        if connection.variables != new:
            connection.variables = new
            connection.save(update_fields=["variables", "updated_at"])
            audit_record(actor=actor, action="connection.update", obj=connection, changes={"fields": ["variables"]})
            count += 1
    return count


# --- connections ------------------------------------------------------------------------------


def _resolve_credentials(*, items, organisation, created_by, field: str) -> list[Credential]:
    if items is None:
        return []
    if not isinstance(items, list | tuple):
        raise ApplicationError("Invalid credentials.", field_errors={field: ["Give a list."]})
    if len(items) > MAX_CREDENTIALS_PER_LIST:
        raise ApplicationError(
            "Too many credentials.", field_errors={field: [f"At most {MAX_CREDENTIALS_PER_LIST}."]}
        )
    result: list[Credential] = []
    for i, item in enumerate(items):
        where = f"{field}[{i}]"
        if not isinstance(item, dict) or len(item) != 1 or not ({"ref", "create"} & set(item)):
            raise ApplicationError(
                "Invalid credential item.",
                field_errors={where: ["Give either {\"ref\": <credential id>} or {\"create\": {...}}."]},
            )
        if "ref" in item:
            ref = item["ref"]
            if isinstance(ref, bool) or not isinstance(ref, int | str) or not str(ref).isdigit():
                raise ApplicationError("Invalid credential reference.", field_errors={f"{where}.ref": ["Not an id."]})
            credential = Credential.objects.filter(pk=int(ref), organisation=organisation).first()
            if credential is None:
                raise ApplicationError(
                    "Credential not found.",
                    field_errors={f"{where}.ref": ["No credential with this id in the organisation."]},
                )
        else:
            spec = item["create"]
            if not isinstance(spec, dict):
                raise ApplicationError("Invalid credential.", field_errors={f"{where}.create": ["Must be an object."]})
            unknown = set(spec) - {"name", "kind", "config", "secret"}
            if unknown:
                raise ApplicationError(
                    "Invalid credential.",
                    field_errors={f"{where}.create": [f"Unknown field(s): {', '.join(sorted(map(str, unknown)))}."]},
                )
            try:
                credential = credential_create(
                    organisation=organisation,
                    name=spec.get("name"),
                    kind=spec.get("kind"),
                    config=spec.get("config"),
                    secret=spec.get("secret"),
                    created_by=created_by,
                )
            except ApplicationError as exc:
                raise ApplicationError(
                    exc.message,
                    field_errors={f"{where}.create.{k}": v for k, v in exc.field_errors.items()}
                    or {f"{where}.create": [exc.message]},
                    status_code=exc.status_code,
                ) from None
        if any(c.pk == credential.pk for c in result):
            raise ApplicationError(
                "A credential appears twice in the list.", field_errors={where: ["Already in this list."]}
            )
        result.append(credential)
    return result


def _set_links(connection: Connection, purpose: str, credentials: list[Credential]) -> None:
    ConnectionCredential.objects.filter(connection=connection, purpose=purpose).delete()
    ConnectionCredential.objects.bulk_create(
        [
            ConnectionCredential(connection=connection, credential=c, purpose=purpose, position=i)
            for i, c in enumerate(credentials)
        ]
    )


def _apply_settings(connection: Connection, settings: dict) -> list[str]:
    unknown = set(settings) - set(SETTING_FIELDS)
    if unknown:
        raise ApplicationError(
            "Unknown field(s).", field_errors={k: ["Unknown field."] for k in sorted(map(str, unknown))}
        )
    changed = []
    for key, value in settings.items():
        if key == "test_operation":
            value = _check_test_operation(connection.connector, value)
            if value != connection.test_operation:
                connection.test_operation = value
                changed.append(key)
            continue
        if key in ("connect_timeout", "read_timeout") and value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not (0 < value <= 300)
        ):
            raise ApplicationError("Invalid timeout.", field_errors={key: ["A number of seconds, 0 to 300."]})
        if key == "retry_policy" and not isinstance(value, dict):
            raise ApplicationError("Invalid retry policy.", field_errors={key: ["Must be an object."]})
        if key in ("error_notify_email", "error_notify_webhook_url") and value is None:
            value = ""
        if key == "error_notify_webhook_url" and value:
            problem = kinds.url_problem(value) if isinstance(value, str) else "Must be a string."
            if problem:
                raise ApplicationError("Invalid URL.", field_errors={key: [problem]})
        if getattr(connection, key) != value:
            setattr(connection, key, value)
            changed.append(key)
    return changed


def _check_test_operation(connector, operation):
    from connectors.models import Operation

    if operation in (None, ""):
        return None
    if not isinstance(operation, Operation):
        if isinstance(operation, bool) or not str(operation).isdigit():
            raise ApplicationError("Invalid test operation.", field_errors={"test_operation": ["Not an id."]})
        operation = Operation.objects.filter(pk=int(operation), connector=connector).first()
    if operation is None or operation.connector_id != connector.pk:
        raise ApplicationError(
            "Invalid test operation.", field_errors={"test_operation": ["Not an operation of this connector."]}
        )
    required = [p for p in (operation.parameters or []) if p.get("required") and p.get("in") != "header"]
    if operation.method != "GET" or required or (operation.request_body or {}).get("required"):
        raise ApplicationError(
            "Invalid test operation.",
            field_errors={"test_operation": ["Choose a GET operation without required parameters."]},
        )
    return operation


def connection_create(
    *,
    connector,
    organisation,
    name: str,
    created_by,
    variables=None,
    action_credentials=(),
    trigger_credentials=(),
    access_level: str = Connection.AccessLevel.COMPANY,
    groups=(),
    users=(),
    organisations=(),
    **settings,
) -> Connection:
    """Create a connection with its credential lists (references or new credentials) and its
    access group, all in one transaction: on any error nothing is saved."""
    from accesscontrol.services import connection_access_define

    _require_manager(created_by, organisation)
    if connector.organisation_id != organisation.pk:
        raise ApplicationError("Connector not found.", status_code=404, code="not_found")
    name = _check_name(name)
    if access_level not in Connection.AccessLevel.values:
        raise ApplicationError(
            "Invalid access level.",
            field_errors={"access_level": [f"Must be one of: {', '.join(Connection.AccessLevel.values)}."]},
        )
    with transaction.atomic():
        if Connection.objects.filter(connector=connector, name=name).exists():
            raise ApplicationError(
                "A connection with this name already exists for this connector.",
                field_errors={"name": ["A connection with this name already exists for this connector."]},
            )
        connection = Connection(
            connector=connector,
            organisation=organisation,
            name=name,
            created_by=created_by,
            variables=variables_clean(connector=connector, variables=variables),
            access_level=access_level,
        )
        changed_settings = _apply_settings(connection, settings)
        _full_clean(connection, exclude=["test_operation"])
        action = _resolve_credentials(
            items=action_credentials, organisation=organisation, created_by=created_by, field="action_credentials"
        )
        trigger = _resolve_credentials(
            items=trigger_credentials, organisation=organisation, created_by=created_by, field="trigger_credentials"
        )
        try:
            with transaction.atomic():
                connection.save()
        except IntegrityError:
            raise ApplicationError(
                "A connection with this name already exists for this connector.",
                field_errors={"name": ["A connection with this name already exists for this connector."]},
            ) from None
        _set_links(connection, ConnectionCredential.Purpose.ACTION, action)
        _set_links(connection, ConnectionCredential.Purpose.TRIGGER, trigger)
        connection_access_define(
            connection=connection,
            level=access_level,
            groups=groups or (),
            users=users or (),
            organisations=organisations or (),
            actor=created_by,
        )
        audit_record(
            actor=created_by,
            action="connection.create",
            obj=connection,
            changes={
                "fields": ["name", "variables", "access_level", *changed_settings],
                "action_credentials": [c.pk for c in action],
                "trigger_credentials": [c.pk for c in trigger],
            },
        )
    return connection


def connection_update(*, connection: Connection, actor, **fields) -> Connection:
    """Change name, variables, credential lists or call settings. The access group is fixed at
    creation: trying to change it is refused with a 400 that says what to do instead."""
    _require_connection_manager(actor, connection)
    access = [k for k in ACCESS_FIELDS if k in fields]
    if access:
        raise ApplicationError(
            "The access group of a connection is defined once, at creation. "
            "To give access to others, create another connection to the same connector.",
            field_errors={k: ["Cannot be changed after creation."] for k in access},
            code="access_immutable",
        )
    immutable = [k for k in ("connector", "organisation", "created_by", "id", "status") if k in fields]
    if immutable:
        raise ApplicationError(
            "These fields cannot be changed.", field_errors={k: ["Cannot be changed."] for k in immutable}
        )
    changed: list[str] = []
    with transaction.atomic():
        connection = Connection.objects.select_for_update().select_related("connector", "organisation").get(
            pk=connection.pk
        )
        if "name" in fields:
            name = _check_name(fields.pop("name"))
            if name != connection.name:
                if Connection.objects.filter(connector_id=connection.connector_id, name=name).exists():
                    raise ApplicationError(
                        "A connection with this name already exists for this connector.",
                        field_errors={"name": ["A connection with this name already exists for this connector."]},
                    )
                connection.name = name
                changed.append("name")
        if "variables" in fields:
            new = variables_clean(connector=connection.connector, variables=fields.pop("variables"))
            if new != connection.variables:
                connection.variables = new
                changed.append("variables")
        lists = {}
        for field, purpose in (
            ("action_credentials", ConnectionCredential.Purpose.ACTION),
            ("trigger_credentials", ConnectionCredential.Purpose.TRIGGER),
        ):
            if field in fields:
                lists[purpose] = _resolve_credentials(
                    items=fields.pop(field), organisation=connection.organisation, created_by=actor, field=field
                )
                changed.append(field)
        changed += _apply_settings(connection, fields)
        _full_clean(connection, exclude=["test_operation"])
        connection.save()
        for purpose, creds in lists.items():
            _set_links(connection, purpose, creds)
        if changed:
            audit_record(actor=actor, action="connection.update", obj=connection, changes={"fields": changed})
    return connection


def connection_delete(*, connection: Connection, actor) -> None:
    _require_connection_manager(actor, connection)
    with transaction.atomic():
        audit_record(actor=actor, action="connection.delete", obj=connection, changes={"fields": ["name"]})
        connection.delete()


def connections_mark_needs_reauthorisation(*, credential: Credential, reason: str) -> int:
    """A token refresh failed: every connection using the credential says so, with the reason."""
    ids = list(
        ConnectionCredential.objects.filter(credential=credential).values_list("connection_id", flat=True)
    )
    count = Connection.objects.filter(pk__in=ids).update(
        status=Connection.Status.NEEDS_REAUTHORISATION, status_reason=reason[:500], updated_at=timezone.now()
    )
    for connection in Connection.objects.filter(pk__in=ids).select_related("connector"):
        audit_record(actor=None, action="connection.needs_reauthorisation", obj=connection,
                     changes={"fields": ["status", "status_reason"]})
    logger.warning("Credential %s: %s connection(s) need re-authorisation", credential.pk, count)
    return count


def connections_mark_active(*, credential: Credential, actor=None) -> int:
    ids = list(
        ConnectionCredential.objects.filter(credential=credential).values_list("connection_id", flat=True)
    )
    return (
        Connection.objects.filter(pk__in=ids)
        .exclude(status=Connection.Status.ACTIVE)
        .update(status=Connection.Status.ACTIVE, status_reason="", updated_at=timezone.now())
    )


# --- catalog ----------------------------------------------------------------------------------


def catalog_connection_create(*, connector, name: str, created_by, config: dict | None, secret: dict | None,
                              access_level: str = "company", groups=(), users=(), organisations=()):
    """The first connection of a catalog connector, with the credential its service needs (one
    form in the admin: settings, then credentials). The credential ties to the schema's scheme.
    (The connector itself is made by ``accesscontrol.services.connector_catalog_create``.)"""
    service = catalog_service(connector.integration_type_id)
    given = {k: v for k, v in (config or {}).items() if k in {f.name for f in service.credential_config_fields}}
    credential_config = credential_config_for(service, connector.service_settings or {}, given)
    scheme = connector.auth_schemes.order_by("position").first()
    if scheme is not None and scheme.scheme_name:
        credential_config.setdefault("scheme_name", scheme.scheme_name)
    if service.credential_kind == kinds.Kind.WEBHOOK:
        credential_config.pop("scheme_name", None)
    test_operation = None
    if service.test_operation:
        test_operation = connector.operations.filter(name=service.test_operation).first()
    return connection_create(
        connector=connector, organisation=connector.organisation, name=name, created_by=created_by,
        action_credentials=[{"create": {"name": f"{connector.name} / {name}"[:200], "kind": service.credential_kind,
                                        "config": credential_config, "secret": secret or {}}}],
        access_level=access_level, groups=groups, users=users, organisations=organisations,
        test_operation=test_operation,
    )
