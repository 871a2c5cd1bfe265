"""What each credential kind holds: its non-secret config fields and its secret fields.

One small declarative table, read by the services (validation), the admin and API forms (which
inputs to show) and the code that applies credentials to requests. Plain Python, no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from connectors.models import AuthSchemeConfig

Kind = AuthSchemeConfig.Kind

MAX_SECRET_LENGTH = 8192
MAX_CONFIG_LENGTH = 2000
MAX_CUSTOM_HEADERS = 50
MAX_SCOPES = 100
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}$")
VARIABLE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
SCOPE_RE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,500}$")
# Characters never allowed in a header value (they would split or smuggle a header).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    required: bool = True
    max_length: int = MAX_CONFIG_LENGTH
    # "text", "choice", "url", "header", "variable", "scopes" (list of strings)
    type: str = "text"
    choices: tuple[str, ...] = ()
    default: object = None
    help_text: str = ""


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


def _check_value(spec: FieldSpec, value, where: str, errors: dict) -> object:
    key = f"{where}.{spec.name}"
    if spec.type == "scopes":
        if value in (None, ""):
            return []
        if isinstance(value, str):
            value = value.split()
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            errors[key] = ["Give the scopes as a list of strings."]
            return None
        if len(value) > MAX_SCOPES:
            errors[key] = [f"At most {MAX_SCOPES} scopes."]
            return None
        bad = [v for v in value if not SCOPE_RE.match(v)]
        if bad:
            errors[key] = ["A scope holds printable characters without spaces or quotes, at most 500."]
            return None
        return list(value)
    if value is None or value == "":
        if spec.required:
            errors[key] = ["This field is required."]
            return None
        return spec.default if spec.default is not None else ""
    if not isinstance(value, str):
        errors[key] = ["Must be a string."]
        return None
    if len(value) > spec.max_length:
        errors[key] = [f"At most {spec.max_length} characters."]
        return None
    if spec.type == "choice" and value not in spec.choices:
        errors[key] = [f"Must be one of: {', '.join(spec.choices)}."]
        return None
    if spec.type == "url":
        problem = url_problem(value)
        if problem:
            errors[key] = [problem]
            return None
    if spec.type == "header" and not HEADER_NAME_RE.match(value):
        errors[key] = ["Not a valid header name."]
        return None
    if spec.type == "variable" and not VARIABLE_NAME_RE.match(value):
        errors[key] = ["Letters, digits and underscores, not starting with a digit, at most 64."]
        return None
    if _CONTROL_RE.search(value):
        errors[key] = ["Control characters are not allowed."]
        return None
    return value


def url_problem(value: str) -> str | None:
    """Why ``value`` is not an absolute http(s) URL, or None."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return "Not a valid URL."
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Give an absolute http:// or https:// URL."
    if any(c.isspace() for c in value) or _CONTROL_RE.search(value):
        return "A URL cannot hold spaces or control characters."
    return None


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
