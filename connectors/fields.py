"""Fields a form asks for, as plain data, and how a value of each is checked.

Used by the catalog of standard services (their settings) and by the credential kinds of
``connections.kinds`` (their config and secret fields). Plain Python, no database. Error messages
name fields, never values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_CONFIG_LENGTH = 2000
MAX_SCOPES = 100
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}$")
VARIABLE_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
SCOPE_RE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,500}$")
# Characters never allowed in a header value (they would split or smuggle a header).
CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


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


def check_value(spec: FieldSpec, value, where: str, errors: dict) -> object:
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
    if CONTROL_RE.search(value):
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
    if any(c.isspace() for c in value) or CONTROL_RE.search(value):
        return "A URL cannot hold spaces or control characters."
    return None
