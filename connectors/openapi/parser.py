"""``parse_schema``: from pasted text to a description of the API, its operations and warnings."""

import re
from dataclasses import dataclass

from .errors import SchemaError, pointer_join
from .loader import load_text, normalize_yaml
from .operations import ParsedOperation, collect_operations, server_url
from .refs import lookup, scan_document
from .security import alternative_problem, unusable_reason
from .validation import validate_document

MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 200
MAX_ALIASES = 1000
MAX_OPERATIONS = 20000

_OPENAPI_3 = re.compile(r"^3\.(0|1)\.\d+(-.+)?$")


@dataclass
class ParsedSchema:
    openapi_version: str
    source_format: str
    document: dict
    title: str
    description: str
    servers: list[str]
    security_schemes: list[dict]
    operations: list[ParsedOperation]
    warnings: list[str]


def parse_schema(
    text: str | bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_aliases: int = MAX_ALIASES,
    max_operations: int = MAX_OPERATIONS,
) -> ParsedSchema:
    """Parse, check and resolve an OpenAPI 3.0/3.1 or Swagger 2.0 document given as JSON or YAML text.

    Raises SchemaError for what cannot be used; everything repaired or skipped is in ``warnings``.
    Reads no file and fetches nothing.
    """
    loaded = load_text(text, max_bytes=max_bytes, max_depth=max_depth, max_aliases=max_aliases)
    warnings = loaded.warnings
    document = loaded.document
    if loaded.source_format == "yaml":
        document = normalize_yaml(document, warnings)
    if type(document) is not dict:
        raise SchemaError(
            f"The schema must be an object (a mapping of fields such as openapi, info, paths), not {_kind(document)}.",
            pointer="",
        )
    version, dialect = _version(document, warnings)
    scan_document(document, warnings)
    warnings.extend(validate_document(document, dialect))
    operations = collect_operations(document, version=dialect, warnings=warnings, max_operations=max_operations)
    unsupported: dict[str, str] = {}
    security_schemes = _security_schemes(document, dialect, warnings, unsupported)
    _mark_unusable(operations, security_schemes, unsupported, warnings)
    info = document.get("info") if type(document.get("info")) is dict else {}
    return ParsedSchema(
        openapi_version=version,
        source_format=loaded.source_format,
        document=document,
        title=_text(info.get("title")),
        description=_text(info.get("description")),
        servers=_document_servers(document, dialect),
        security_schemes=security_schemes,
        operations=operations,
        warnings=warnings,
    )


def _text(value) -> str:
    return value if type(value) is str else ""


def _kind(value) -> str:
    if type(value) is list:
        return "a list"
    if value is None:
        return "empty"
    if type(value) is str:
        return "a single string"
    return f"a single {type(value).__name__} value"


def _version(document: dict, warnings: list[str]) -> tuple[str, str]:
    """The declared version and the dialect it is read as: "2.0", "3.0" or "3.1"."""
    if "openapi" in document:
        declared = document["openapi"]
        if type(declared) is float and declared in (3.0, 3.1):
            warnings.append(f"at /openapi: the version is a number ({declared}); read as the text '{declared}.0'")
            declared = f"{declared}.0"
            document["openapi"] = declared
        if type(declared) is str and _OPENAPI_3.match(declared):
            return declared, declared[:3]
        raise SchemaError(
            f"OpenAPI version {declared!r} is not supported: use Swagger 2.0, OpenAPI 3.0.x or 3.1.x.",
            pointer="/openapi",
        )
    if "swagger" in document:
        declared = document["swagger"]
        if declared == 2.0 and type(declared) is not bool and type(declared) is not str:
            warnings.append("at /swagger: the version is a number (2.0); read as the text '2.0'")
            declared = "2.0"
            document["swagger"] = declared
        if declared == "2.0":
            return "2.0", "2.0"
        raise SchemaError(
            f"Swagger version {declared!r} is not supported: use Swagger 2.0, OpenAPI 3.0.x or 3.1.x.",
            pointer="/swagger",
        )
    raise SchemaError(
        'The schema does not say its version: it needs an "openapi" field (3.0.x or 3.1.x) '
        'or "swagger": "2.0" at the top.',
        pointer="",
    )


def _document_servers(document: dict, dialect: str) -> list[str]:
    if dialect == "2.0":
        host = document.get("host")
        base_path = document.get("basePath") if type(document.get("basePath")) is str else ""
        if type(host) is not str or not host:
            return [base_path] if base_path and base_path != "/" else []
        schemes = (
            [s for s in document.get("schemes") or [] if s in ("https", "http")]
            if type(document.get("schemes")) is list
            else []
        )
        return [f"{scheme}://{host}{base_path}" for scheme in (schemes or ["https"])]
    servers = document.get("servers")
    if type(servers) is not list:
        return []
    return [server_url(s) for s in servers if type(s) is dict and type(s.get("url")) is str]


def _mark_unusable(operations, security_schemes, unsupported, warnings: list[str]) -> None:
    """Mark the methods no supported credential can call (``unusable_reason``), with one warning
    per distinct reason, and one per alternative that can never be met (two schemes in one header)."""
    by_name: dict[str, dict] = {}
    for entry in security_schemes:
        by_name.setdefault(entry["scheme_name"], entry)
    reasons: dict[str, list[str]] = {}
    conflicts: dict[str, list[str]] = {}
    for operation in operations:
        operation.unusable_reason = unusable_reason(operation.security, by_name, unsupported)
        key = f"{operation.method} {operation.path}"
        if operation.unusable_reason:
            reasons.setdefault(operation.unusable_reason, []).append(key)
        for alternative in operation.security or []:
            problem = alternative_problem(alternative, by_name, {}) if alternative else ""
            if "both need" in problem:
                conflicts.setdefault(problem, []).append(key)
    for problem, keys in conflicts.items():
        warnings.append(
            f"A security requirement can never be met: {problem}; it is refused for "
            f"{_count(keys)} ({_examples(keys)})."
        )
    for reason, keys in reasons.items():
        warnings.append(f"{_count(keys)} can never be called ({_examples(keys)}): {reason}")


def _count(keys: list[str]) -> str:
    return f"{len(keys)} method{'s' if len(keys) != 1 else ''}"


def _examples(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def _security_schemes(document: dict, dialect: str, warnings: list[str], unsupported: dict | None = None) -> list[dict]:
    if dialect == "2.0":
        schemes = document.get("securityDefinitions")
        base = ("securityDefinitions",)
    else:
        components = document.get("components") if type(document.get("components")) is dict else {}
        schemes = components.get("securitySchemes")
        base = ("components", "securitySchemes")
    if type(schemes) is not dict:
        return []
    result = []
    for name, scheme in schemes.items():
        where = pointer_join((*base, name))
        if type(scheme) is dict and type(scheme.get("$ref")) is str:
            try:
                scheme = lookup(document, scheme["$ref"])
            except (KeyError, IndexError):
                scheme = None
        if type(scheme) is not dict:
            warnings.append(f"at {where}: not a security scheme; skipped")
            if unsupported is not None:
                unsupported[name] = "is not a security scheme"
            continue
        before = len(warnings)
        entries = _scheme_entries(name, scheme, dialect, where, warnings)
        if not entries and unsupported is not None:
            said = "; ".join(w.split(": ", 1)[-1].removesuffix("; skipped") for w in warnings[before:])
            unsupported[name] = f"is not supported ({said})" if said else "is not supported"
        result.extend(entries)
    return result


def _entry(name: str, kind: str, config: dict, scheme: dict) -> dict:
    return {"scheme_name": name, "kind": kind, "config": config, "description": _text(scheme.get("description"))}


def _scopes(value) -> dict:
    return {str(k): _text(v) for k, v in value.items()} if type(value) is dict else {}


def _scheme_entries(name: str, scheme: dict, dialect: str, where: str, warnings: list[str]) -> list[dict]:
    kind = scheme.get("type")
    if kind == "apiKey":
        location = scheme.get("in")
        if location not in ("header", "query", "cookie") or type(scheme.get("name")) is not str:
            warnings.append(f"at {where}: an API key scheme needs 'in' (header, query or cookie) and 'name'; skipped")
            return []
        return [_entry(name, "api_key", {"in": location, "name": scheme["name"]}, scheme)]
    if kind == "basic" and dialect == "2.0":
        return [_entry(name, "http_basic", {}, scheme)]
    if kind == "http":
        http_scheme = _text(scheme.get("scheme")).lower()
        if http_scheme == "basic":
            return [_entry(name, "http_basic", {}, scheme)]
        if http_scheme == "bearer":
            config = {"prefix": "Bearer"}
            if type(scheme.get("bearerFormat")) is str:
                config["bearer_format"] = scheme["bearerFormat"]
            return [_entry(name, "http_bearer", config, scheme)]
        warnings.append(f"at {where}: HTTP authentication scheme {http_scheme!r} is not supported; skipped")
        return []
    if kind == "oauth2":
        if dialect == "2.0":
            flows = {}
            flow = scheme.get("flow")
            if flow == "accessCode":
                flows["authorizationCode"] = scheme
            elif flow == "application":
                flows["clientCredentials"] = scheme
            else:
                warnings.append(f"at {where}: OAuth2 flow {flow!r} is not supported; skipped")
        else:
            flows = scheme.get("flows") if type(scheme.get("flows")) is dict else {}
            for flow in flows:
                if flow not in ("authorizationCode", "clientCredentials"):
                    warnings.append(f"at {where}/flows: OAuth2 flow {flow!r} is not supported; skipped")
        entries = []
        code = flows.get("authorizationCode")
        if type(code) is dict:
            entries.append(
                _entry(
                    name,
                    "oauth2_authorization_code",
                    {
                        "authorize_url": _text(code.get("authorizationUrl")),
                        "token_url": _text(code.get("tokenUrl")),
                        "refresh_url": _text(code.get("refreshUrl")),
                        "scopes": _scopes(code.get("scopes")),
                    },
                    scheme,
                )
            )
        client = flows.get("clientCredentials")
        if type(client) is dict:
            entries.append(
                _entry(
                    name,
                    "oauth2_client_credentials",
                    {
                        "token_url": _text(client.get("tokenUrl")),
                        "refresh_url": _text(client.get("refreshUrl")),
                        "scopes": _scopes(client.get("scopes")),
                    },
                    scheme,
                )
            )
        return entries
    warnings.append(f"at {where}: security scheme type {kind!r} is not supported; skipped")
    return []
