"""What each credential kind holds: its non-secret config fields and its secret fields.

One small declarative table, read by the services (validation), the admin and API forms (which
inputs to show) and the code that applies credentials to requests. Plain Python, no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Re-exported: what a field is and how a value is checked live with the connectors (the catalog
# of standard services uses them too).
from connectors.fields import CONTROL_RE, HEADER_NAME_RE, FieldSpec, check_value
from connectors.fields import MAX_CONFIG_LENGTH as MAX_CONFIG_LENGTH
from connectors.fields import MAX_SCOPES as MAX_SCOPES
from connectors.fields import SCOPE_RE as SCOPE_RE
from connectors.fields import VARIABLE_NAME_RE as VARIABLE_NAME_RE
from connectors.fields import url_problem as url_problem
from connectors.models import AuthSchemeConfig

Kind = AuthSchemeConfig.Kind

MAX_SECRET_LENGTH = 8192
MAX_CUSTOM_HEADERS = 50
_CONTROL_RE = CONTROL_RE
_check_value = check_value


@dataclass(frozen=True)
class KindSpec:
    kind: str
    config: tuple[FieldSpec, ...] = ()
    secret: tuple[FieldSpec, ...] = ()
    # Which security scheme kinds of a connector this kind can satisfy.
    satisfies: tuple[str, ...] = ()
    notes: str = ""
    extra: dict = field(default_factory=dict)


_SCHEME = FieldSpec(
    "scheme_name",
    "Security scheme",
    required=False,
    max_length=200,
    help_text="The name of the schema's security scheme this credential answers (optional).",
)
_SCOPES = FieldSpec("scopes", "Scopes", required=False, type="scopes", default=(), help_text="Space-separated.")

KINDS: dict[str, KindSpec] = {
    Kind.API_KEY: KindSpec(
        Kind.API_KEY,
        config=(
            FieldSpec("in", "Sent in", type="choice", choices=("header", "query", "cookie"), default="header"),
            FieldSpec("name", "Header, parameter or cookie name", max_length=200, type="header"),
            FieldSpec("prefix", "Prefix (such as Bearer)", required=False, max_length=50, default=""),
            _SCHEME,
        ),
        secret=(FieldSpec("key", "API key", max_length=MAX_SECRET_LENGTH),),
        satisfies=(Kind.API_KEY,),
    ),
    Kind.HTTP_BASIC: KindSpec(
        Kind.HTTP_BASIC,
        config=(FieldSpec("username", "Username", max_length=500), _SCHEME),
        secret=(FieldSpec("password", "Password", max_length=MAX_SECRET_LENGTH),),
        satisfies=(Kind.HTTP_BASIC,),
    ),
    Kind.HTTP_BEARER: KindSpec(
        Kind.HTTP_BEARER,
        config=(_SCHEME,),
        secret=(FieldSpec("token", "Token", max_length=MAX_SECRET_LENGTH),),
        satisfies=(Kind.HTTP_BEARER,),
    ),
    Kind.OAUTH2_AUTHORIZATION_CODE: KindSpec(
        Kind.OAUTH2_AUTHORIZATION_CODE,
        config=(
            FieldSpec("client_id", "Client ID", max_length=500),
            FieldSpec("authorize_url", "Authorize URL", type="url"),
            FieldSpec("token_url", "Token URL", type="url"),
            _SCOPES,
            _SCHEME,
        ),
        secret=(FieldSpec("client_secret", "Client secret", max_length=MAX_SECRET_LENGTH),),
        satisfies=(Kind.OAUTH2_AUTHORIZATION_CODE, Kind.OAUTH2_CLIENT_CREDENTIALS, Kind.HTTP_BEARER),
    ),
    Kind.OAUTH2_CLIENT_CREDENTIALS: KindSpec(
        Kind.OAUTH2_CLIENT_CREDENTIALS,
        config=(
            FieldSpec("client_id", "Client ID", max_length=500),
            FieldSpec("token_url", "Token URL", type="url"),
            _SCOPES,
            _SCHEME,
        ),
        secret=(FieldSpec("client_secret", "Client secret", max_length=MAX_SECRET_LENGTH),),
        satisfies=(Kind.OAUTH2_CLIENT_CREDENTIALS, Kind.OAUTH2_AUTHORIZATION_CODE, Kind.HTTP_BEARER),
    ),
    Kind.CONNECTION_STRING: KindSpec(
        Kind.CONNECTION_STRING,
        config=(
            FieldSpec(
                "variable",
                "Variable name",
                required=False,
                max_length=64,
                type="variable",
                default="connection_string",
                help_text="Usable as {name} in the base URL and headers.",
            ),
        ),
        secret=(FieldSpec("connection_string", "Connection string", max_length=MAX_SECRET_LENGTH),),
    ),
    Kind.WEBHOOK: KindSpec(
        Kind.WEBHOOK,
        config=(
            FieldSpec("url", "Webhook URL", required=False, type="url"),
            FieldSpec(
                "signature_header", "Signature header", required=False, max_length=200, type="header",
                default="X-Signature-256",
            ),
            FieldSpec("signature_prefix", "Signature prefix", required=False, max_length=50, default="sha256="),
        ),
        secret=(FieldSpec("signing_secret", "Signing secret", max_length=MAX_SECRET_LENGTH),),
        notes="HMAC-SHA256 of the body, hex, in the signature header.",
    ),
    Kind.CUSTOM_HEADERS: KindSpec(
        Kind.CUSTOM_HEADERS,
        # The header names are derived from the secret and stored in config (names are safe).
        config=(),
        secret=(),
        notes="Name → value pairs; the values are secret.",
    ),
}


def validate(kind: str, config, secret, *, secret_required: bool = True) -> tuple[dict, dict | None]:
    """Check ``config`` and ``secret`` for ``kind``; return the cleaned pair or raise.

    ``secret`` None means "keep the stored secret" (only when ``secret_required`` is False).
    Error messages name fields, never values.
    """
    from integrations_platform.errors import ApplicationError

    errors: dict[str, list[str]] = {}
    spec = KINDS.get(kind)
    if spec is None:
        raise ApplicationError(
            "Unknown credential kind.", field_errors={"kind": [f"Must be one of: {', '.join(KINDS)}."]}
        )
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ApplicationError("Invalid credential.", field_errors={"config": ["Must be an object."]})
    if secret is not None and not isinstance(secret, dict):
        raise ApplicationError("Invalid credential.", field_errors={"secret": ["Must be an object."]})

    known = {f.name for f in spec.config}
    if kind == Kind.CUSTOM_HEADERS:
        known = set()
    unknown = sorted(k for k in config if k not in known)
    if unknown:
        errors["config"] = [f"Unknown field(s): {', '.join(str(u)[:50] for u in unknown[:10])}."]
    clean_config = {}
    for f in spec.config:
        value = _check_value(f, config.get(f.name), "config", errors)
        if value not in (None, "", []):
            clean_config[f.name] = value

    clean_secret: dict | None = None
    if secret is None:
        if secret_required:
            errors["secret"] = ["This field is required."]
    elif kind == Kind.CUSTOM_HEADERS:
        headers, names = _validate_custom_headers(secret, errors)
        clean_secret = {"headers": headers}
        clean_config["header_names"] = names
    else:
        known_secret = {f.name for f in spec.secret}
        unknown = sorted(k for k in secret if k not in known_secret)
        if unknown:
            errors["secret"] = [f"Unknown field(s): {', '.join(str(u)[:50] for u in unknown[:10])}."]
        clean_secret = {}
        for f in spec.secret:
            value = _check_value(f, secret.get(f.name), "secret", errors)
            if value not in (None, ""):
                clean_secret[f.name] = value
    if errors:
        raise ApplicationError("The credential is not valid.", field_errors=errors)
    return clean_config, clean_secret


def _validate_custom_headers(secret: dict, errors: dict) -> tuple[dict, list[str]]:
    headers = secret.get("headers")
    if set(secret) - {"headers"}:
        errors["secret"] = ["Only 'headers' (an object of header name to value) is allowed."]
        return {}, []
    if not isinstance(headers, dict) or not headers:
        errors["secret.headers"] = ["Give at least one header as name → value."]
        return {}, []
    if len(headers) > MAX_CUSTOM_HEADERS:
        errors["secret.headers"] = [f"At most {MAX_CUSTOM_HEADERS} headers."]
        return {}, []
    clean = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not HEADER_NAME_RE.match(name):
            errors["secret.headers"] = ["A header name is not valid."]
            continue
        if not isinstance(value, str) or not value:
            errors[f"secret.headers.{name}"] = ["Must be a non-empty string."]
            continue
        if len(value) > MAX_SECRET_LENGTH:
            errors[f"secret.headers.{name}"] = [f"At most {MAX_SECRET_LENGTH} characters."]
            continue
        if _CONTROL_RE.search(value):
            errors[f"secret.headers.{name}"] = ["Control characters are not allowed."]
            continue
        clean[name] = value
    return clean, list(clean)
