"""Build an HTTP request from an operation and arguments: plain functions over plain data.

``build_request`` takes what ``connectors.models.Operation`` stores (method, path, parameters,
request body description, servers), the connector's base URL, the connection's variables and the
caller's arguments, and returns an ``HttpRequest``. It never touches the database or the network.
Every problem is collected into one ``RequestBuildError`` that maps an argument path
(``arguments.id``) to its problems, so a caller can answer 400 before anything is sent.

Values cannot break out of where they go: path values are percent-encoded whole (``/`` becomes
``%2F``) and ``.``/``..`` segments and already-encoded slashes or dots are refused; query values
are encoded whole too; header and cookie values with CR, LF or other control characters are
refused.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from connectors.openapi import styles

_VARIABLE = re.compile(r"\{([^{}]+)\}")
_ENCODED_BREAKOUT = re.compile(r"%(2f|5c|2e|00)", re.IGNORECASE)
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VARIABLE_CHARS = set("@#?\\ \t\r\n") | {chr(c) for c in range(32)} | {"\x7f"}


class RequestBuildError(ValueError):
    """The arguments cannot make a safe request. ``errors`` maps an argument path to problems."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))


@dataclass
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str | None = None

    def add_query(self, name: str, value: str) -> None:
        """Append one query parameter (credentials in the query string use this)."""
        sep = "&" if urlsplit(self.url).query else "?"
        fragmentless = self.url.split("#", 1)[0]
        self.url = f"{fragmentless}{sep}{quote(name, safe='')}={quote(value, safe='')}"

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def all_headers(self) -> dict[str, str]:
        """Headers as sent: with Content-Type and Cookie put in."""
        headers = dict(self.headers)
        if self.content_type and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = self.content_type
        if self.cookies:
            headers["Cookie"] = self.cookie_header()
        return headers


def variables_as_dict(variables) -> dict[str, str]:
    """Connection/connector variables, stored as ``[{"name", "value"}]``, as a dict."""
    if isinstance(variables, dict):
        return {str(k): str(v) for k, v in variables.items()}
    return {str(v["name"]): "" if v.get("value") is None else str(v["value"]) for v in variables or [] if "name" in v}


def substitute_variables(text: str, variables: dict[str, str], *, where: str, errors: dict) -> str:
    """Put ``{name}`` variables into a URL or header. A value cannot add a user, a fragment or a query."""

    def repl(match: re.Match) -> str:
        name = match.group(1)
        if name not in variables:
            errors.setdefault(where, []).append(f"the variable {{{name}}} has no value")
            return match.group(0)
        value = variables[name]
        if set(value) & _BAD_VARIABLE_CHARS:
            errors.setdefault(where, []).append(f"the variable {{{name}}} holds characters not allowed here")
            return ""
        return value

    return _VARIABLE.sub(repl, text)


def server_url(*, base_url: str, servers, variables: dict[str, str], errors: dict) -> str:
    """The operation's own server when the schema gives an absolute one, else the base URL."""
    url = base_url or ""
    defaults: dict[str, str] = {}
    for server in servers or []:
        candidate = server.get("url", "") if isinstance(server, dict) else str(server)
        if candidate.startswith(("http://", "https://")):
            url = candidate
            defaults = {
                k: str(v.get("default", "")) for k, v in (server.get("variables") or {}).items() if isinstance(v, dict)
            }
            break
        if candidate.startswith("/") and base_url:
            url = base_url.rstrip("/") + candidate
            break
    url = substitute_variables(url, {**defaults, **variables}, where="server", errors=errors)
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        errors.setdefault("server", []).append("the server URL must be an absolute http or https URL")
    if parts.username or parts.password:
        errors.setdefault("server", []).append("the server URL must not carry a user name or password")
    return url.split("#", 1)[0].rstrip("/")


def _check_path_value(raw, where: str, errors: dict) -> None:
    texts = raw if isinstance(raw, list) else list(raw.values()) if isinstance(raw, dict) else [raw]
    for item in texts:
        text = styles.scalar(item)
        if any(segment in {".", ".."} for segment in re.split(r"[/\\]", text)):
            errors.setdefault(where, []).append("'.' and '..' path segments are not allowed")
        if _ENCODED_BREAKOUT.search(text):
            errors.setdefault(where, []).append("encoded slashes, dots and NUL are not allowed in a path value")
        if any(ord(ch) < 32 for ch in text):
            errors.setdefault(where, []).append("control characters are not allowed in a path value")


def _content_kind(content_type: str) -> str:
    base = content_type.split(";", 1)[0].strip().lower()
    if base == "application/json" or base.endswith("+json"):
        return "json"
    if base == "application/x-www-form-urlencoded":
        return "form"
    if base.startswith("multipart/"):
        return "multipart"
    return "raw"


def _form_body(value, encoding: dict) -> bytes:
    if not isinstance(value, dict):
        raise styles.StyleError("a form body must be an object")
    pieces: list[str] = []
    for key, item in value.items():
        enc = encoding.get(key) or {}
        if enc.get("contentType") and isinstance(item, (dict, list)):
            pieces.append(f"{styles.encode(key)}={styles.encode(styles.scalar(item))}")
            continue
        pieces.extend(
            styles.serialize_query(
                key,
                item,
                style=enc.get("style", "form"),
                explode=enc.get("explode"),
                allow_reserved=bool(enc.get("allowReserved")),
            )
        )
    return "&".join(pieces).encode()


def _multipart_body(value, encoding: dict, boundary: str) -> bytes:
    if not isinstance(value, dict):
        raise styles.StyleError("a multipart body must be an object")
    out = bytearray()
    for key, item in value.items():
        enc = encoding.get(key) or {}
        items = item if isinstance(item, list) and not enc.get("contentType", "").endswith("json") else [item]
        for part in items:
            if isinstance(part, (dict, list)):
                data, ctype = json.dumps(part).encode(), enc.get("contentType") or "application/json"
            else:
                data, ctype = styles.scalar(part).encode(), enc.get("contentType") or "text/plain; charset=utf-8"
            safe_key = key.replace('"', "%22").replace("\r", "").replace("\n", "")
            disposition = f'form-data; name="{safe_key}"'
            if ctype.split(";")[0] == "application/octet-stream" or enc.get("filename"):
                disposition += f'; filename="{safe_key}"'
            out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {ctype}\r\n\r\n".encode()
            out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def build_body(value, request_body: dict) -> tuple[bytes, str]:
    """Serialize a request body; answers (bytes, Content-Type header value)."""
    content_type = request_body.get("content_type") or "application/json"
    encoding = request_body.get("encoding") or {}
    kind = _content_kind(content_type)
    if kind == "json":
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(), content_type
    if kind == "form":
        return _form_body(value, encoding), content_type
    if kind == "multipart":
        boundary = "----platform" + secrets.token_hex(12)
        return _multipart_body(value, encoding, boundary), f"multipart/form-data; boundary={boundary}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False).encode(), content_type
    return styles.scalar(value).encode(), content_type


def build_request(
    *,
    method: str,
    path: str,
    base_url: str,
    arguments: dict,
    parameters: list[dict] | None = None,
    request_body: dict | None = None,
    servers: list | None = None,
    variables=None,
) -> HttpRequest:
    """The HTTP request the operation makes with these arguments (no credentials yet)."""
    errors: dict[str, list[str]] = {}
    variables = variables_as_dict(variables)
    arguments = arguments or {}
    url = server_url(base_url=base_url, servers=servers, variables=variables, errors=errors)

    path_values: dict[str, str] = {}
    query: list[str] = []
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    for param in parameters or []:
        name = param["name"]
        location = param.get("in", "query")
        prop = param.get("property") or name
        where = f"arguments.{prop}"
        if prop not in arguments:
            if param.get("required") or location == "path":
                errors.setdefault(where, []).append("this argument is required")
            continue
        value = arguments[prop]
        if param.get("content_type"):
            value = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        explode = param.get("explode")
        try:
            if location == "path":
                _check_path_value(value, where, errors)
                path_values[name] = styles.serialize_path(
                    name, value, style=param.get("style") or "simple", explode=bool(explode)
                )
            elif location == "query":
                query.extend(
                    styles.serialize_query(
                        name,
                        value,
                        style=param.get("style") or "form",
                        explode=explode,
                        allow_reserved=bool(param.get("allow_reserved")),
                    )
                )
            elif location == "header":
                if not _HEADER_NAME.match(name):
                    errors.setdefault(where, []).append("the header name is not valid")
                    continue
                headers[name] = styles.serialize_header(value, explode=bool(explode))
            elif location == "cookie":
                cookies.update(styles.serialize_cookie(name, value, explode=True if explode is None else explode))
        except styles.StyleError as exc:
            errors.setdefault(where, []).append(str(exc))

    described = {p["name"] for p in parameters or [] if p.get("in") == "path"}

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name in path_values:
            return path_values[name]
        if name in described:
            return ""
        errors.setdefault("path", []).append(f"the path parameter {{{name}}} is not described")
        return ""

    full_path = _VARIABLE.sub(fill, path or "")
    if not full_path.startswith("/"):
        full_path = "/" + full_path
    url = url + full_path
    if query:
        url += ("&" if "?" in url else "?") + "&".join(query)

    body = content_type = None
    if request_body:
        prop = request_body.get("property") or "body"
        if prop in arguments:
            try:
                body, content_type = build_body(arguments[prop], request_body)
            except styles.StyleError as exc:
                errors.setdefault(f"arguments.{prop}", []).append(str(exc))
        elif request_body.get("required"):
            errors.setdefault(f"arguments.{prop}", []).append("this argument is required")

    if errors:
        raise RequestBuildError(errors)
    return HttpRequest(
        method=method.upper(), url=url, headers=headers, cookies=cookies, body=body, content_type=content_type
    )
