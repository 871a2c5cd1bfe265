"""Invocations: create, confirm, reject, execute, expire and recover.

Every change of state is a conditional UPDATE on the state it leaves
(``filter(pk=..., status=...).update(...)``), which holds on SQLite as on PostgreSQL: whoever
moves the row first wins, the other sees zero rows changed and stops. That is what makes a message
delivered twice, a confirmation sent twice, or the recovery of a worker that was only slow, harmless.

Retries: a short delay (at most ``INVOCATION_RETRY_INLINE_MAX`` seconds) is slept in the task,
with the lease moved forward; a longer one puts the row back to ``queued`` with
``next_attempt_at`` and sends the task again with a countdown, so no worker thread sleeps for long
while others wait.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import socket
import time
from datetime import timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from audit.services import audit_record
from connections.models import Connection
from connections.secrets import call_secrets, credentials_apply, redact, tokens_refresh_after_unauthorised
from connectors.models import Operation
from connectors.openapi.request import HttpRequest, RequestBuildError, build_request
from integrations_platform import db, jsondepth, outbox, outgoing
from integrations_platform.errors import ApplicationError
from invocations import adapters, leases, signals
from invocations.models import Invocation, InvocationAttempt

log = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
SAFE_RESPONSE_HEADERS = {
    "content-type", "content-length", "content-language", "date", "etag", "last-modified", "location",
    "retry-after", "cache-control", "link", "x-request-id", "request-id", "x-ratelimit-limit",
    "x-ratelimit-remaining", "x-ratelimit-reset", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset",
}
EXCERPT_CHARS = 500
S = Invocation.Status


def _setting(name: str, default):
    return getattr(settings, name, default)


def release_db_connection() -> None:
    """Give a pooled database connection back before a long wait (no-op without a pool)."""
    from django.db import connection

    if connection.settings_dict.get("OPTIONS", {}).get("pool") and not connection.in_atomic_block:
        connection.close()


# --- arguments ----------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def _path(parts) -> str:
    return ".".join(["arguments", *(str(p) for p in parts)])


def _pattern_known(schema: dict, name: str) -> bool:
    patterns = schema.get("patternProperties") or {}
    return any(re.search(pattern, name) for pattern in patterns if isinstance(pattern, str))


_SHOWN_CHARS = 40  # of a value quoted in a message; a message never echoes a long value in full
_SHOWN_CHOICES = 20
_KINDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}


def _shown(value) -> str:
    """A value as a message may quote it: JSON, cut short."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _kind_of(value) -> str:
    for name, kinds in (("null", type(None)), ("true or false", bool), ("text", str), ("a list", list),
                        ("an object", dict)):
        if isinstance(value, kinds):
            return name
    return "a number" if isinstance(value, int | float) else type(value).__name__


def _plural(count, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def argument_message(error) -> str:
    """What is wrong with a value, in words, for a person or an assistant reading the error: never a
    long value in full, never a cut-off sentence (jsonschema's messages start with the value)."""
    keyword, expected, value = error.validator, error.validator_value, error.instance
    if keyword == "maxLength":
        return f"Longer than {_plural(expected, 'character')} (it has {len(value)})."
    if keyword == "minLength":
        if expected == 1:
            return "Must not be empty."
        return f"Shorter than {_plural(expected, 'character')} (it has {len(value)})."
    if keyword == "maxItems":
        return f"More than {_plural(expected, 'item')} (it has {len(value)})."
    if keyword == "minItems":
        return "Must not be an empty list." if expected == 1 else f"Fewer than {_plural(expected, 'item')}."
    if keyword == "minProperties":
        return "Must not be empty." if expected == 1 else f"Fewer than {_plural(expected, 'field')}."
    if keyword == "maxProperties":
        return f"More than {_plural(expected, 'field')}."
    if keyword == "uniqueItems":
        return "The items must all be different."
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than",
                 "exclusiveMaximum": "less than"}[keyword]
        return f"Must be {words} {expected} (it is {_shown(value)})."
    if keyword == "multipleOf":
        return f"Must be a multiple of {expected}."
    if keyword in ("enum", "const"):
        choices = list(expected) if keyword == "enum" else [expected]
        listed = ", ".join(_shown(choice) for choice in choices[:_SHOWN_CHOICES])
        if len(choices) > _SHOWN_CHOICES:
            listed += f" (and {len(choices) - _SHOWN_CHOICES} more)"
        return f"Must be one of: {listed} (it is {_shown(value)})." if keyword == "enum" else f"Must be {listed}."
    if keyword == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        wanted = " or ".join(_KINDS.get(kind, str(kind)) for kind in kinds)
        return f"Must be {wanted}, not {_kind_of(value)}."
    if keyword == "pattern":
        shown = expected if len(expected) <= 80 else expected[:79] + "…"
        return f"Does not match the pattern {shown}."
    if keyword == "format":
        return f"Is not a valid {expected}."
    if keyword == "not":
        described = expected.get("description") if isinstance(expected, dict) else None
        if described:
            return f"Must not hold {described}."
        return "Is a value this argument must not have."
    if keyword in ("anyOf", "oneOf"):
        if keyword == "oneOf" and not error.context:
            return "Matches more than one of the allowed shapes; give one of them."
        return "Does not match any of the allowed shapes" + (
            f" (the closest: {argument_message(best_match(error.context))})" if error.context else "."
        )
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        return "Holds fields this object does not allow."
    # Anything else: jsonschema's sentence, with the value it quotes cut short.
    message = error.message
    quoted = repr(value)
    if len(quoted) > _SHOWN_CHARS and quoted in message:
        message = message.replace(quoted, _shown(value))
    return message if len(message) <= 300 else message[:299] + "…"


def arguments_validate(*, operation: Operation, arguments) -> None:
    """400 naming each wrong path (``arguments.body.items.0.id``) when the arguments do not fit."""
    if not isinstance(arguments, dict):
        raise ApplicationError("The arguments must be a JSON object.", field_errors={"arguments": "Must be an object."})
    max_depth = _setting("API_MAX_JSON_DEPTH", jsondepth.MAX_DEPTH)
    if jsondepth.depth_exceeds(arguments, max_depth):
        raise ApplicationError(
            f"The arguments are nested more than {max_depth} levels deep.",
            field_errors={"arguments": f"Nested too deeply: at most {max_depth} levels."},
        )
    size = len(json.dumps(arguments, separators=(",", ":")).encode())
    limit = _setting("INVOCATION_MAX_ARGUMENT_BYTES", 256 * 1024)
    if size > limit:
        raise ApplicationError(
            f"The arguments are {size} bytes; at most {limit} are accepted.",
            field_errors={"arguments": f"Too large: at most {limit} bytes."},
        )
    schema = operation.input_schema or {"type": "object"}
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors: dict[str, list[str]] = {}
    for error in validator.iter_errors(arguments):
        parts = list(error.absolute_path)
        if error.validator == "required":
            missing = [name for name in error.validator_value if name not in (error.instance or {})]
            for name in missing:
                errors.setdefault(_path([*parts, name]), []).append("This argument is required.")
            continue
        if error.validator in ("additionalProperties", "unevaluatedProperties") and isinstance(error.instance, dict):
            known = list(error.schema.get("properties") or {})
            extra = [k for k in error.instance if k not in known and not _pattern_known(error.schema, k)]
            hint = f" Known: {', '.join(known[:30])}{' …' if len(known) > 30 else ''}." if known else ""
            for name in extra:
                errors.setdefault(_path([*parts, name]), []).append(f"This argument is not known.{hint}")
            if extra:
                continue
        errors.setdefault(_path(parts), []).append(argument_message(error))
    if errors:
        raise ApplicationError("The arguments do not fit the method's input schema.", field_errors=errors)


# --- building the request -------------------------------------------------------------------------


def _idempotency_header(request: HttpRequest) -> str | None:
    for key in request.headers:
        if key.lower() == "idempotency-key":
            return key
    return None


def _build_message(errors: dict) -> str:
    """The headline of a refused build: where the call would go is the administrator's to fix."""
    for key in ("server", "base_url"):
        if errors.get(key):
            first = str(errors[key][0])
            return f"The call cannot be made: {first[:1].lower()}{first[1:]}."
    if any(key.startswith("headers.") for key in errors):
        return "The call cannot be made: a header of the connection's credentials is not valid."
    return "The arguments cannot make a safe request."


def request_build(*, invocation: Invocation) -> tuple[HttpRequest, list[str]]:
    """The request of an invocation with its credentials, and every secret form to redact (and to
    keep from following a redirect to another origin)."""
    operation, connection = invocation.operation, invocation.connection
    connector = connection.connector
    call = call_secrets(connection=connection, security=operation.security)
    try:
        request = build_request(
            method=operation.method,
            path=operation.path,
            base_url=connector.base_url,
            servers=operation.servers,
            approved_origins=connector.approved_origins,
            variables=call.variables,
            header_templates=call.header_templates,
            parameters=operation.parameters,
            request_body=operation.request_body,
            arguments=invocation.arguments,
        )
    except RequestBuildError as exc:
        errors = redact(exc.errors, call.forms)
        raise ApplicationError(redact(_build_message(errors), call.forms), field_errors=errors) from exc
    if invocation.idempotency_key and request.method not in SAFE_METHODS and not _idempotency_header(request):
        request.headers["Idempotency-Key"] = str(invocation.pk)
    return request, credentials_apply(call=call, request=request)


def _body_for_record(body: bytes | None, content_type: str | None, secrets: list[str], limit: int):
    if body is None:
        return None
    text = body[:limit].decode("utf-8", "replace")
    if content_type and "json" in content_type:
        try:
            return redact(json.loads(text), secrets)
        except ValueError:
            pass
    return redact(text, secrets, cut=len(body) > limit)


def request_preview(request: HttpRequest, secrets: list[str]) -> dict:
    parts = urlsplit(request.url)
    return redact(
        {
            "method": request.method,
            "url": request.url,
            "query": parts.query,
            "headers": request.all_headers(),
            "body": _body_for_record(request.body, request.content_type, secrets, 64 * 1024),
        },
        secrets,
    )


# --- creating, deciding ---------------------------------------------------------------------------


def _confirmation_url(invocation: Invocation) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/confirmations/{invocation.pk}/"


def confirmation_url(invocation: Invocation) -> str | None:
    return _confirmation_url(invocation) if invocation.status == S.AWAITING_CONFIRMATION else None


def _resolve(*, rights, tool, connection, operation) -> tuple[Connection, Operation, bool, str]:
    if tool:
        conn, op, needs = rights.resolve(name=tool)
        return conn, op, needs, tool
    errors = {}
    if connection is None:
        errors["connection"] = "Give a tool, or a connection and an operation."
    if operation is None:
        errors["operation"] = "Give a tool, or a connection and an operation."
    if errors:
        raise ApplicationError("Which tool to call is missing.", field_errors=errors)
    if not isinstance(connection, Connection):
        connection = Connection.objects.select_related("connector__integration_type").filter(pk=connection).first()
    if connection is None or (hasattr(rights, "can_see_connection") and not rights.can_see_connection(connection)):
        raise ApplicationError("There is no such connection that you may use.", field_errors={"connection": "Unknown."})
    if not isinstance(operation, Operation):
        lookup = Q(name=operation) if not str(operation).isdigit() else Q(pk=int(operation)) | Q(name=str(operation))
        operation = Operation.objects.filter(lookup, connector_id=connection.connector_id).first()
    if operation is None or operation.connector_id != connection.connector_id:
        raise ApplicationError(
            "The connection's connector has no such operation.", field_errors={"operation": "Unknown."}
        )
    needs = rights.check(connection=connection, operation=operation)
    return connection, operation, needs, adapters.tool_name_for(connection, operation)


def _call_differences(existing: Invocation, *, tool, connection, operation, arguments) -> list[str]:
    """What differs between a new request and the invocation first made with its idempotency key:
    the fields to name in the 409 (empty when it is the same call)."""
    differences = []
    if tool:
        if tool != existing.tool_name:
            differences.append("tool")
    else:
        connection_id = getattr(connection, "pk", connection)
        if str(connection_id) != str(existing.connection_id):
            differences.append("connection")
        op = getattr(operation, "pk", operation)
        if str(op) not in {str(existing.operation_id), existing.operation.name}:
            differences.append("operation")
    if existing.arguments != arguments:
        differences.append("arguments")
    return differences


@transaction.atomic
def invocation_create(
    *,
    user,
    arguments,
    tool: str | None = None,
    connection=None,
    operation=None,
    idempotency_key: str | None = None,
    via: str = Invocation.Via.DIRECT,
    rights=None,
) -> Invocation:
    """Check, validate, save as ``queued`` (task sent after commit) or ``awaiting_confirmation``.

    The same ``idempotency_key`` from the same user answers the invocation made first.
    ``rights`` defaults to the user's own grants; a process passes its own rights object.
    """
    max_depth = _setting("API_MAX_JSON_DEPTH", jsondepth.MAX_DEPTH)
    if isinstance(arguments, dict | list) and jsondepth.depth_exceeds(arguments, max_depth):
        raise ApplicationError(
            f"The arguments are nested more than {max_depth} levels deep.",
            field_errors={"arguments": f"Nested too deeply: at most {max_depth} levels."},
        )
    if idempotency_key is not None:
        idempotency_key = str(idempotency_key).strip()
        if not idempotency_key or len(idempotency_key) > 200:
            raise ApplicationError(
                "The idempotency key must be 1 to 200 characters.", field_errors={"idempotency_key": "1-200 chars."}
            )
        existing = (
            Invocation.objects.select_related("operation").filter(user=user, idempotency_key=idempotency_key).first()
        )
        if existing is not None:
            differences = _call_differences(
                existing, tool=tool, connection=connection, operation=operation, arguments=arguments
            )
            if differences:
                named = ", ".join(differences)
                raise ApplicationError(
                    f"This idempotency key was used for another call (its {named} differ).",
                    field_errors={
                        "idempotency_key": f"Already used for a call with another {named}.",
                        **dict.fromkeys(differences, "Differs from the call first made with this idempotency key."),
                    },
                    status_code=409,
                    code="idempotency_key_reused",
                )
            return existing
    rights = rights or adapters.UserRights(user)
    if not isinstance(arguments, dict):
        raise ApplicationError("The arguments must be a JSON object.", field_errors={"arguments": "Must be an object."})
    conn, op, needs_confirmation, tool_name = _resolve(
        rights=rights, tool=tool, connection=connection, operation=operation
    )
    reason = adapters.connection_unusable_reason(conn)
    if reason:
        raise ApplicationError(reason, status_code=409, code="switched_off")
    arguments_validate(operation=op, arguments=arguments)

    now = timezone.now()
    invocation = Invocation(
        user=user,
        organisation_id=user.organisation_id or conn.organisation_id,
        connection=conn,
        operation=op,
        tool_name=tool_name[:64],
        arguments=arguments,
        via=via,
        idempotency_key=idempotency_key,
        requires_confirmation=needs_confirmation,
        status=S.AWAITING_CONFIRMATION if needs_confirmation else S.QUEUED,
    )
    request, secrets = request_build(invocation=invocation)
    invocation.request_preview = request_preview(request, secrets)
    invocation.repeatable = request.method in SAFE_METHODS or bool(_idempotency_header(request))
    if needs_confirmation:
        invocation.expires_at = now + timedelta(seconds=settings.INVOCATION_CONFIRMATION_TIMEOUT)
    else:
        invocation.queued_at = now
        invocation.dispatch_at = outbox.first_dispatch_at(now)
    # The primary key is a fresh UUID and the one constraint (idempotency key per user) was looked up
    # above and is caught below as IntegrityError: no need for full_clean's extra uniqueness queries.
    invocation.full_clean(
        exclude=["user", "organisation", "connection", "operation"], validate_unique=False, validate_constraints=False
    )
    if idempotency_key is None:
        invocation.save(force_insert=True)
    else:
        try:
            with transaction.atomic():
                invocation.save(force_insert=True)
        except IntegrityError:
            # Another request with the same key won the race: answer it, or 409 if it was another call.
            existing = (
                Invocation.objects.select_related("operation")
                .filter(user=user, idempotency_key=idempotency_key)
                .first()
            )
            if existing is None:
                raise
            differences = _call_differences(
                existing, tool=tool, connection=connection, operation=operation, arguments=arguments
            )
            if differences:
                raise ApplicationError(
                    f"This idempotency key was used for another call (its {', '.join(differences)} differ).",
                    field_errors={"idempotency_key": "Already used for another call."},
                    status_code=409,
                    code="idempotency_key_reused",
                ) from None
            return existing
    organisation = user.organisation if user.organisation_id == invocation.organisation_id else None
    audit_record(
        actor=user,
        action="invocation.create",
        obj=invocation,
        changes={"tool": invocation.tool_name, "status": invocation.status, "via": via},
        organisation=organisation,
    )
    if invocation.status == S.QUEUED:
        _enqueue(invocation.pk)
    return invocation


def _enqueue(invocation_id, countdown: float | None = None) -> None:
    """Send the task after commit, through the outbox: a broker that is down is never the caller's
    error; the row's ``dispatch_at`` (set with its state) has the dispatcher send it again."""
    from invocations.tasks import invocation_execute

    options = {"countdown": countdown} if countdown else {}
    outbox.send_on_commit(invocation_execute, str(invocation_id), **options)


def _decision_error(invocation: Invocation) -> ApplicationError:
    overdue = invocation.expires_at is not None and invocation.expires_at <= timezone.now()
    if invocation.status == S.EXPIRED or (invocation.status == S.AWAITING_CONFIRMATION and overdue):
        return ApplicationError(
            "This invocation expired before it was confirmed; invoke the tool again.", status_code=409, code="expired"
        )
    return ApplicationError(
        f"This invocation was already decided (it is {invocation.get_status_display().lower()}).",
        status_code=409,
        code="already_decided",
    )


@transaction.atomic
def invocation_confirm(*, invocation: Invocation, user, rights=None) -> Invocation:
    """The end user says yes: ``awaiting_confirmation`` → ``queued``, once, before it expires."""
    if invocation.user_id != user.pk:
        raise ApplicationError("Only the person it was asked for can confirm it.", status_code=403)
    if invocation.via == Invocation.Via.DIRECT:
        (rights or adapters.UserRights(user)).check(connection=invocation.connection, operation=invocation.operation)
    now = timezone.now()
    changed = Invocation.objects.filter(
        pk=invocation.pk, user=user, status=S.AWAITING_CONFIRMATION, expires_at__gt=now
    ).update(
        status=S.QUEUED, decided_at=now, decided_by=user, queued_at=now, dispatch_at=outbox.first_dispatch_at(now)
    )
    invocation.refresh_from_db()
    if not changed:
        raise _decision_error(invocation)
    audit_record(actor=user, action="invocation.confirm", obj=invocation, changes={"status": invocation.status})
    _enqueue(invocation.pk)
    return invocation


@transaction.atomic
def invocation_reject(*, invocation: Invocation, user) -> Invocation:
    """The end user says no: ``awaiting_confirmation`` → ``rejected``; nothing is sent."""
    if invocation.user_id != user.pk:
        raise ApplicationError("Only the person it was asked for can reject it.", status_code=403)
    now = timezone.now()
    changed = Invocation.objects.filter(
        pk=invocation.pk, user=user, status=S.AWAITING_CONFIRMATION, expires_at__gt=now
    ).update(status=S.REJECTED, decided_at=now, decided_by=user, finished_at=now)
    invocation.refresh_from_db()
    if not changed:
        raise _decision_error(invocation)
    audit_record(actor=user, action="invocation.reject", obj=invocation, changes={"status": invocation.status})
    transaction.on_commit(lambda: signals.publish(invocation.pk))
    return invocation


def invocations_expire(*, now=None) -> int:
    """Unconfirmed invocations past their time become ``expired``. Answers how many."""
    now = now or timezone.now()
    ids = list(
        Invocation.objects.filter(status=S.AWAITING_CONFIRMATION, expires_at__lte=now).values_list("pk", flat=True)
    )
    count = 0
    for pk in ids:
        if Invocation.objects.filter(pk=pk, status=S.AWAITING_CONFIRMATION, expires_at__lte=now).update(
            status=S.EXPIRED,
            finished_at=now,
            error={"kind": "expired", "message": "Nobody confirmed the call in time; nothing was sent."},
        ):
            count += 1
            signals.publish(pk)
    return count


def invocations_dispatch(*, now=None) -> int:
    """The outbox's dispatcher: send the task again for each ``queued`` row that no worker claimed
    by its ``dispatch_at`` (its message was never sent, or Redis lost it). Answers how many."""
    from invocations.tasks import invocation_execute

    now = now or timezone.now()
    waiting = Invocation.objects.filter(status=S.QUEUED).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    return outbox.redispatch(queryset=waiting, task=invocation_execute, since_field="queued_at", now=now)


def invocations_recover_lost(*, now=None) -> dict:
    """``running`` rows whose lease ran out (their worker stopped renewing it: killed, OOM, deploy):
    re-queue the repeatable, fail the rest (worker lost)."""
    now = now or timezone.now()
    requeued = failed = 0
    lost = Invocation.objects.filter(status=S.RUNNING, lease_until__lt=now).values_list("pk", "repeatable")
    for pk, repeatable in list(lost):
        if repeatable:
            with transaction.atomic():
                if Invocation.objects.filter(pk=pk, status=S.RUNNING, lease_until__lt=now).update(
                    status=S.QUEUED,
                    lease_until=None,
                    worker="",
                    next_attempt_at=None,
                    queued_at=now,
                    dispatch_at=outbox.first_dispatch_at(now),
                ):
                    InvocationAttempt.objects.filter(invocation_id=pk, finished_at__isnull=True).update(
                        finished_at=now, error_kind="worker_lost"
                    )
                    requeued += 1
                    _enqueue(pk)
        else:
            error = {
                "kind": "worker_lost",
                "message": "The worker making this call stopped in the middle. The call is not safe to repeat, "
                "so it was not sent again; the upstream may or may not have received it.",
            }
            if Invocation.objects.filter(pk=pk, status=S.RUNNING, lease_until__lt=now).update(
                status=S.FAILED, finished_at=now, error=error, lease_until=None
            ):
                InvocationAttempt.objects.filter(invocation_id=pk, finished_at__isnull=True).update(
                    finished_at=now, error_kind="worker_lost"
                )
                failed += 1
                signals.publish(pk)
                _notify_later(pk)
    return {"requeued": requeued, "failed": failed}


# --- executing ------------------------------------------------------------------------------------


def _retry_policy(connection: Connection) -> dict:
    policy = {
        "max_attempts": _setting("INVOCATION_RETRY_MAX_ATTEMPTS", 3),
        "base_delay": _setting("INVOCATION_RETRY_BASE_DELAY", 0.5),
        "max_delay": _setting("INVOCATION_RETRY_MAX_DELAY", 30.0),
    }
    for key, value in (connection.retry_policy or {}).items():
        if key in policy and isinstance(value, (int, float)) and value >= 0:
            policy[key] = value
    policy["max_attempts"] = max(1, min(int(policy["max_attempts"]), 10))
    return policy


def _retry_after(headers: dict) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def retry_delay(*, attempt: int, policy: dict, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, at least Retry-After, within the policy's cap."""
    cap = float(policy["max_delay"])
    delay = min(cap, float(policy["base_delay"]) * (2 ** (attempt - 1)))
    delay = random.uniform(delay / 2, delay)
    if retry_after is not None:
        delay = max(delay, min(retry_after, _setting("INVOCATION_RETRY_AFTER_CAP", 60.0)))
    return delay


def _lease_seconds(connection: Connection) -> float:
    """The longest a live attempt can take: the hard limit of its lease's renewals."""
    connect = connection.connect_timeout or settings.OUTGOING_CONNECT_TIMEOUT
    read = connection.read_timeout or settings.OUTGOING_READ_TIMEOUT
    return connect + 2 * read + _setting("INVOCATION_LEASE_MARGIN", 30)


def _result(response: outgoing.OutgoingResponse, secrets: list[str], timings: dict) -> dict:
    headers = {k: v for k, v in response.headers.items() if k.lower() in SAFE_RESPONSE_HEADERS}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    body = None
    kind = "empty"
    if response.body:
        text = response.body.decode("utf-8", "replace")
        kind = "text"
        if "json" in content_type.lower() and not response.truncated:
            try:
                body, kind = json.loads(text), "json"
            except ValueError:
                body = text
        else:
            body = text
    record = redact(
        {
            "status_code": response.status,
            "headers": headers,
            "body": None,
            "body_kind": kind,
            "truncated": response.truncated,
            "url": response.url,
            "redirects": response.redirects,
            "timings": timings,
        },
        secrets,
    )
    # The body on its own: cut at the size limit, it may end in the middle of a secret.
    record["body"] = redact(body, secrets, cut=response.truncated)
    return record


def _excerpt(result: dict) -> str:
    """The start of the body as stored in ``result``: redacted whole before it is cut, so that a cut
    can never halve a secret, and redacted once."""
    body = result.get("body")
    if body is None:
        return ""
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return text[:EXCERPT_CHARS]


def _finish(invocation_id, *, status, attempt=None, **fields) -> bool:
    """The final state, with the last attempt's row (``(attempt, fields)``) in the same commit.
    Tried again on a lost database connection: the UPDATE is conditional on ``running``, so a
    second try after a commit whose answer was lost changes nothing."""

    def write() -> bool:
        now = timezone.now()
        with transaction.atomic():
            if attempt is not None:
                attempt[0].save(update_fields=attempt[1])
            changed = Invocation.objects.filter(pk=invocation_id, status=S.RUNNING).update(
                status=status, finished_at=now, lease_until=None, **fields
            )
            if changed:
                # Told once committed: a waiter woken earlier would still read the old state.
                transaction.on_commit(lambda: signals.publish(invocation_id))
        return bool(changed)

    return db.retrying(write)


def _credentials_failure(connection: Connection, exc: ApplicationError) -> dict:
    """The error of a call whose token could not be refreshed (or whose credentials could not be
    applied again after a refresh). A refused refresh has marked the connection as needing
    re-authorisation: the error says so in the policy's words, as any later call would hear."""
    if exc.code == "oauth_refresh_failed":
        connection.refresh_from_db(fields=["status", "status_reason"])
        message = adapters.connection_unusable_reason(connection) or exc.message
        return {"kind": "needs_reauthorisation", "message": message}
    return {"kind": exc.code or "credentials", "message": exc.message}


def invocation_execute(*, invocation_id, worker: str = "") -> str:
    """Run one queued invocation (the Celery task calls this). Answers what it did. While it runs,
    this process renews the row's lease (``leases.py``)."""
    with leases.hold(invocation_id):
        return _execute(invocation_id=invocation_id, worker=worker)


def _execute(*, invocation_id, worker: str) -> str:
    now = timezone.now()
    # One read for the row, its operation and its connection; one conditional UPDATE claims it, counts
    # the first attempt and sets started_at once (each round trip to the database is latency).
    invocation = (
        Invocation.objects.select_related("operation", "connection__connector__integration_type")
        .filter(pk=invocation_id)
        .first()
    )
    if invocation is None or invocation.status != S.QUEUED:
        return "skipped"
    connection = invocation.connection
    # Checked before claiming, so that the claim and the first attempt row share one commit (each
    # commit waits for the WAL flush, the largest fixed cost of a call on PostgreSQL).
    failure = None
    reason = adapters.connection_unusable_reason(connection)
    if reason:
        failure = {"kind": "switched_off", "message": reason}
    else:
        try:
            request, secrets = request_build(invocation=invocation)
        except ApplicationError as exc:
            failure = {"kind": "validation", "message": exc.message, "errors": exc.field_errors}
            if exc.code == "oauth_refresh_failed":
                failure = _credentials_failure(connection, exc)
    attempt_no = invocation.attempts
    with transaction.atomic():
        claimed = (
            Invocation.objects.filter(pk=invocation_id, status=S.QUEUED)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .update(
                status=S.RUNNING,
                lease_until=leases.lease_until(now),
                worker=(worker or socket.gethostname())[:200],
                next_attempt_at=None,
                dispatch_at=None,
                started_at=Coalesce(F("started_at"), Value(now)),
                attempts=F("attempts") + (0 if failure else 1),
            )
        )
        if not claimed:
            return "skipped"
        leases.extend(invocation_id, hard_limit=_lease_seconds(connection))
        first_attempt = None
        if failure is None:
            first_attempt = InvocationAttempt.objects.create(
                invocation_id=invocation_id, number=attempt_no + 1, started_at=timezone.now()
            )
    invocation.status = S.RUNNING
    if invocation.started_at is None:
        invocation.started_at = now
    if failure is not None:
        _finish(invocation_id, status=S.FAILED, error=failure)
        return "failed"

    policy = _retry_policy(connection)
    repeatable = request.method in SAFE_METHODS or bool(_idempotency_header(request))
    headers = request.all_headers()
    refreshed = False
    while True:
        attempt_no += 1
        if first_attempt is not None:
            attempt, first_attempt = first_attempt, None
            started = attempt.started_at
        else:
            started = timezone.now()
            with transaction.atomic():
                attempt = InvocationAttempt.objects.create(
                    invocation_id=invocation_id, number=attempt_no, started_at=started
                )
                Invocation.objects.filter(pk=invocation_id, status=S.RUNNING).update(
                    attempts=attempt_no, lease_until=leases.lease_until(started)
                )
            leases.extend(invocation_id, hard_limit=_lease_seconds(connection))
        t0 = time.monotonic()
        response = error = None
        release_db_connection()
        try:
            response = outgoing.send(
                method=request.method,
                url=request.url,
                headers=headers,
                body=request.body,
                connect_timeout=connection.connect_timeout,
                read_timeout=connection.read_timeout,
                secrets=secrets,
            )
        except outgoing.OutgoingError as exc:
            error = exc
        duration = (time.monotonic() - t0) * 1000
        attempt.finished_at = timezone.now()
        attempt.duration_ms = duration
        attempt.status_code = response.status if response else None
        attempt.error_kind = error.kind if error else ("upstream_http" if response.status >= 400 else "")
        attempt_fields = ["finished_at", "duration_ms", "status_code", "error_kind"]

        refresh_failure = None
        if response is not None and response.status == 401 and not refreshed:
            # The upstream refused the token before acting: refresh it (once, under a lock shared by
            # all workers) and send the call again with the new one. A refresh that fails ends the
            # call now, with the reason; it was sent once and is not sent again.
            try:
                retry = tokens_refresh_after_unauthorised(request)
                if retry:
                    retry_request, retry_secrets = request_build(invocation=invocation)
            except ApplicationError as exc:
                retry, refresh_failure = False, _credentials_failure(connection, exc)
            if retry:
                refreshed = True
                attempt.save(update_fields=attempt_fields)
                request, secrets = retry_request, retry_secrets
                headers = request.all_headers()
                continue
        retryable = (error is not None and error.kind in {"timeout", "network"}) or (
            response is not None and (response.status == 429 or response.status >= 500)
        )
        if retryable and repeatable and attempt_no < policy["max_attempts"]:
            delay = retry_delay(
                attempt=attempt_no, policy=policy, retry_after=_retry_after(response.headers) if response else None
            )
            if delay <= _setting("INVOCATION_RETRY_INLINE_MAX", 1.0):
                attempt.save(update_fields=attempt_fields)
                time.sleep(delay)
                continue
            with transaction.atomic():
                attempt.save(update_fields=attempt_fields)
                next_attempt_at = timezone.now() + timedelta(seconds=delay)
                if Invocation.objects.filter(pk=invocation_id, status=S.RUNNING).update(
                    status=S.QUEUED,
                    lease_until=None,
                    next_attempt_at=next_attempt_at,
                    dispatch_at=outbox.first_dispatch_at(next_attempt_at),
                ):
                    _enqueue(invocation_id, countdown=delay)
            return "retry_later"

        timings = {
            "queued_at": invocation.queued_at.isoformat() if invocation.queued_at else None,
            "started_at": invocation.started_at.isoformat(),
            "upstream_ms": round(duration, 2),
            "total_ms": round((timezone.now() - invocation.started_at).total_seconds() * 1000, 2),
        }
        if error is not None:
            message = error.message
            if retryable and not repeatable:
                message += " The call is not safe to repeat, so it was not retried."
            _finish(
                invocation_id,
                attempt=(attempt, attempt_fields),
                status=S.FAILED,
                error={"kind": error.kind, "message": redact(message, secrets)},
                result={"timings": timings},
            )
            if error.kind != "blocked_address":
                _notify_later(invocation_id)
            return "failed"
        result = _result(response, secrets, timings)
        if response.status >= 400:
            _finish(
                invocation_id,
                attempt=(attempt, attempt_fields),
                status=S.FAILED,
                result=result,
                error=refresh_failure
                or {
                    "kind": "upstream_http",
                    "message": f"The upstream answered {response.status}"
                    + (f" after {attempt_no} attempts." if attempt_no > 1 else "."),
                    "status": response.status,
                    "excerpt": _excerpt(result),
                },
            )
            _notify_later(invocation_id)
            return "failed"
        _finish(invocation_id, status=S.SUCCEEDED, result=result, attempt=(attempt, attempt_fields))
        return "succeeded"


# --- telling someone ------------------------------------------------------------------------------


def _notify_later(invocation_id) -> None:
    from invocations.tasks import invocation_notify_failure

    # Best effort: a notification lost with Redis is logged, the call's own state is already saved.
    outbox.send_on_commit(invocation_notify_failure, str(invocation_id))


def invocation_notify_failure(*, invocation_id) -> list[str]:
    """The connection's error notification: an e-mail and/or a webhook (through the guard)."""
    invocation = (
        Invocation.objects.select_related("connection__connector", "operation", "user")
        .filter(pk=invocation_id, status=S.FAILED)
        .first()
    )
    if invocation is None:
        return []
    connection = invocation.connection
    sent = []
    payload = {
        "event": "invocation.failed",
        "invocation": str(invocation.pk),
        "tool": invocation.tool_name,
        "connection": connection.pk,
        "connection_name": str(connection),
        "operation": f"{invocation.operation.method} {invocation.operation.path}",
        "user": invocation.user.get_username(),
        "attempts": invocation.attempts,
        "error": invocation.error,
    }
    if connection.error_notify_email:
        send_mail(
            subject=f"Call failed: {invocation.tool_name} through {connection}",
            message=json.dumps(payload, indent=2),
            from_email=None,
            recipient_list=[connection.error_notify_email],
            fail_silently=True,
        )
        sent.append("email")
    if connection.error_notify_webhook_url:
        try:
            outgoing.send(
                method="POST",
                url=connection.error_notify_webhook_url,
                headers={"Content-Type": "application/json"},
                body=json.dumps(payload).encode(),
                read_timeout=10,
            )
            sent.append("webhook")
        except outgoing.OutgoingError as exc:
            log.warning("Error notification webhook for connection %s failed: %s", connection.pk, exc.kind)
    return sent

